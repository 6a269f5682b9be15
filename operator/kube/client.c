#include "kube/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/version.h"

#define DEFAULT_TIMEOUT_MS         30000
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define DEFAULT_MAX_BODY           (64u << 20)
#define DEFAULT_MAX_LINE           (16u << 20)
#define POOL_MAX                   8
#define TOKEN_FILE_MAX             (64u << 10)
#define TOKEN_REREAD_SECONDS       60

struct kube_client {
	pthread_mutex_t mu; /* guards the pool and the token cache */
	CURL *pool[POOL_MAX];
	size_t pooled;

	char *server;
	char *source;
	char *user_agent;
	long timeout_ms;
	long connect_timeout_ms;
	size_t max_body;

	bool insecure;
	struct curl_blob ca, cert, key;
	char *username, *password;
	char *token; /* static token, or the last read from token_file */
	char *token_file;
	time_t token_read_at;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void kube_client_opts_init(struct kube_client_opts *opts)
{
	opts->timeout_ms = DEFAULT_TIMEOUT_MS;
	opts->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	opts->max_body = DEFAULT_MAX_BODY;
	opts->user_agent = NULL;
}

void kube_response_init(struct kube_response *resp)
{
	resp->status = 0;
	buf_init(&resp->body, DEFAULT_MAX_BODY);
}

void kube_response_release(struct kube_response *resp)
{
	buf_release(&resp->body);
	resp->status = 0;
}

static void wipe_free(char *s)
{
	if (!s)
		return;
	memset(s, 0, strlen(s));
	free(s);
}

static void blob_free(struct curl_blob *b, bool secret)
{
	if (b->data && secret)
		memset(b->data, 0, b->len);
	free(b->data);
	b->data = NULL;
	b->len = 0;
}

static bool blob_copy(struct curl_blob *dst, const char *src, size_t len)
{
	dst->data = NULL;
	dst->len = 0;
	dst->flags = CURL_BLOB_NOCOPY;
	if (!src)
		return true;
	dst->data = malloc(len);
	if (!dst->data)
		return false;
	memcpy(dst->data, src, len);
	dst->len = len;
	return true;
}

void kube_client_free(struct kube_client *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->pooled; i++)
		curl_easy_cleanup(c->pool[i]);
	pthread_mutex_destroy(&c->mu);
	free(c->server);
	free(c->source);
	free(c->user_agent);
	blob_free(&c->ca, false);
	blob_free(&c->cert, false);
	blob_free(&c->key, true);
	free(c->username);
	wipe_free(c->password);
	wipe_free(c->token);
	free(c->token_file);
	free(c);
}

static char *dup_or_null(const char *s, bool *ok)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*ok = false;
	return d;
}

enum fs_rc kube_client_new(struct kube_client **out, const struct kube_config *cfg,
                           const struct kube_client_opts *opts, struct fs_err *err)
{
	struct kube_client_opts defaults;
	struct kube_client *c;
	bool ok = true;

	if (!opts) {
		kube_client_opts_init(&defaults);
		opts = &defaults;
	}
	if (cfg->exec)
		return fs_fail(err, FS_EINVAL, "%s: exec credential plugins are not supported",
		               cfg->source ? cfg->source : "kubeconfig");
	pthread_once(&curl_once, curl_init_once);
	c = calloc(1, sizeof(*c));
	if (!c)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	pthread_mutex_init(&c->mu, NULL);
	c->server = dup_or_null(cfg->server, &ok);
	c->source = dup_or_null(cfg->source ? cfg->source : cfg->server, &ok);
	if (opts->user_agent)
		c->user_agent = dup_or_null(opts->user_agent, &ok);
	else if (asprintf(&c->user_agent, "foresight/%s", FORESIGHT_VERSION) < 0)
		ok = false;
	c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	c->connect_timeout_ms =
	    opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	c->max_body = opts->max_body > 0 ? opts->max_body : DEFAULT_MAX_BODY;
	c->insecure = cfg->insecure;
	ok = ok && blob_copy(&c->ca, cfg->ca_pem, cfg->ca_pem_len) &&
	     blob_copy(&c->cert, cfg->cert_pem, cfg->cert_pem_len) &&
	     blob_copy(&c->key, cfg->key_pem, cfg->key_pem_len);
	c->username = dup_or_null(cfg->username, &ok);
	c->password = dup_or_null(cfg->password, &ok);
	c->token = dup_or_null(cfg->token, &ok);
	c->token_file = dup_or_null(cfg->token_file, &ok);
	if (!ok || !c->server || !c->user_agent) {
		kube_client_free(c);
		return fs_fail(err, FS_ENOMEM, "out of memory creating the API client");
	}
	*out = c;
	return FS_OK;
}

const char *kube_client_server(const struct kube_client *c)
{
	return c->server;
}

static CURL *handle_get(struct kube_client *c)
{
	CURL *h = NULL;

	pthread_mutex_lock(&c->mu);
	if (c->pooled > 0)
		h = c->pool[--c->pooled];
	pthread_mutex_unlock(&c->mu);
	if (!h)
		h = curl_easy_init();
	return h;
}

static void handle_put(struct kube_client *c, CURL *h)
{
	pthread_mutex_lock(&c->mu);
	if (c->pooled < POOL_MAX) {
		c->pool[c->pooled++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&c->mu);
	if (h)
		curl_easy_cleanup(h);
}

/*
 * The bearer token to send, re-reading a token file at most once a minute
 * (service account tokens rotate). Returns a copy the caller wipes and frees,
 * or NULL with *rc FS_OK when there is no token.
 */
static char *current_token(struct kube_client *c, enum fs_rc *rc, struct fs_err *err)
{
	char *copy = NULL;
	time_t now = time(NULL);

	*rc = FS_OK;
	pthread_mutex_lock(&c->mu);
	if (c->token_file && (!c->token || now - c->token_read_at >= TOKEN_REREAD_SECONDS)) {
		FILE *f = fopen(c->token_file, "rb");
		char *line = NULL;
		size_t cap = 0;
		ssize_t n;

		if (!f) {
			/* Keep using the last good token while the file is being rotated. */
			if (!c->token)
				*rc = fs_fail(err, FS_EAUTH, "token file %s: %s", c->token_file,
				              strerror(errno));
		} else {
			n = getline(&line, &cap, f);
			fclose(f);
			while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
				line[--n] = '\0';
			if (n > 0 && (size_t)n < TOKEN_FILE_MAX) {
				wipe_free(c->token);
				c->token = line;
				line = NULL;
				c->token_read_at = now;
			} else if (!c->token) {
				*rc =
				    fs_fail(err, FS_EAUTH, "token file %s is empty", c->token_file);
			}
			wipe_free(line);
		}
	}
	if (*rc == FS_OK && c->token) {
		copy = strdup(c->token);
		if (!copy)
			*rc = fs_fail(err, FS_ENOMEM, "out of memory");
	}
	pthread_mutex_unlock(&c->mu);
	return copy;
}

struct sink {
	struct buf *body;
	bool overflow;
};

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
	struct sink *s = userp;
	size_t n = size * nmemb;

	if (buf_append(s->body, data, n, NULL) != FS_OK) {
		s->overflow = true;
		return 0;
	}
	return n;
}

/* Applies the per-client options to a fresh or reset handle. */
static void setup_handle(struct kube_client *c, CURL *h, const char *url, long timeout_ms,
                         char *errbuf)
{
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	}
	if (c->ca.data)
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &c->ca);
	if (c->cert.data) {
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &c->cert);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &c->key);
		curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
	}
	if (c->username && c->password) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, c->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
	}
}

/* Maps a transport failure to an error that says what to check. */
static enum fs_rc transport_error(struct fs_err *err, struct kube_client *c, CURLcode code,
                                  const char *errbuf, const char *what)
{
	const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(code);

	switch (code) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return fs_fail(err, FS_ECONNECT, "%s: cannot reach the API server %s (from %s): %s",
		               what, c->server, c->source, detail);
	case CURLE_OPERATION_TIMEDOUT:
		return fs_fail(err, FS_ETIMEOUT, "%s: the API server %s did not answer in time: %s",
		               what, c->server, detail);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		return fs_fail(err, FS_ETLS,
		               "%s: the API server %s is not trusted: its certificate does not "
		               "verify against the certificate authority of %s (%s)",
		               what, c->server, c->source, detail);
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_USE_SSL_FAILED:
		return fs_fail(err, FS_ETLS, "%s: TLS with %s failed (credentials from %s): %s",
		               what, c->server, c->source, detail);
	case CURLE_ABORTED_BY_CALLBACK:
		return fs_fail(err, FS_ECANCELED, "%s: canceled", what);
	default:
		return fs_fail(err, FS_ECONNECT, "%s: request to %s failed: %s", what, c->server,
		               detail);
	}
}

enum fs_rc kube_status_error(struct fs_err *err, long http_status, const char *body,
                             const char *what)
{
	json_object *status = body ? json_tokener_parse(body) : NULL;
	json_object *v;
	const char *reason = "", *message = NULL;
	enum fs_rc rc;

	if (status && json_object_object_get_ex(status, "reason", &v))
		reason = json_object_get_string(v);
	if (status && json_object_object_get_ex(status, "message", &v))
		message = json_object_get_string(v);
	switch (http_status) {
	case 401:
	case 403:
		rc = FS_EAUTH;
		break;
	case 404:
		rc = FS_ENOTFOUND;
		break;
	case 409:
		rc = FS_ECONFLICT;
		break;
	case 410:
		rc = FS_EGONE;
		break;
	default:
		rc = FS_EHTTP;
	}
	if (message)
		fs_fail(err, rc, "%s: %ld %s: %s", what, http_status, reason, message);
	else
		fs_fail(err, rc, "%s: HTTP %ld%s%.200s", what, http_status,
		        body && body[0] ? ": " : "", body ? body : "");
	if (err)
		err->http_status = (int)http_status;
	json_object_put(status);
	return rc;
}

struct request_headers {
	struct curl_slist *list;
	bool ok;
};

static void add_header(struct request_headers *h, const char *line)
{
	struct curl_slist *l = curl_slist_append(h->list, line);

	if (!l)
		h->ok = false;
	else
		h->list = l;
}

/* Builds the header list of a request; the Authorization line is wiped on free. */
static enum fs_rc build_headers(struct request_headers *h, struct kube_client *c,
                                const char *content_type, bool has_body, bool streaming,
                                struct fs_err *err)
{
	enum fs_rc rc;
	char *token = current_token(c, &rc, err);

	h->list = NULL;
	h->ok = true;
	if (rc != FS_OK)
		return rc;
	add_header(h, streaming ? "Accept: application/json" : "Accept: application/json, */*");
	if (has_body) {
		char line[128];

		snprintf(line, sizeof(line), "Content-Type: %s",
		         content_type ? content_type : "application/json");
		add_header(h, line);
	}
	if (token) {
		char *line = NULL;

		if (asprintf(&line, "Authorization: Bearer %s", token) < 0)
			h->ok = false;
		else
			add_header(h, line);
		wipe_free(line);
		wipe_free(token);
	}
	if (!h->ok)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	return FS_OK;
}

static void free_headers(struct request_headers *h)
{
	for (struct curl_slist *l = h->list; l; l = l->next) {
		if (strncmp(l->data, "Authorization:", 14) == 0)
			memset(l->data, 0, strlen(l->data));
	}
	curl_slist_free_all(h->list);
	h->list = NULL;
}

enum fs_rc kube_do(struct kube_response *resp, struct kube_client *c,
                   const struct kube_request *req, struct fs_err *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	char what[256];
	char *url = NULL;
	struct request_headers headers = {NULL, true};
	struct sink sink = {&resp->body, false};
	CURL *h = NULL;
	CURLcode code;
	enum fs_rc rc;

	snprintf(what, sizeof(what), "%s %s", req->method, req->path);
	resp->status = 0;
	resp->body.max = c->max_body;
	buf_reset(&resp->body);
	if (asprintf(&url, "%s%s", c->server, req->path) < 0) {
		url = NULL;
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto out;
	}
	h = handle_get(c);
	if (!h) {
		rc = fs_fail(err, FS_ENOMEM, "%s: cannot create a curl handle", what);
		goto out;
	}
	rc = build_headers(&headers, c, req->content_type, req->body != NULL, false, err);
	if (rc != FS_OK)
		goto out;
	setup_handle(c, h, url, req->timeout_ms > 0 ? req->timeout_ms : c->timeout_ms, errbuf);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.list);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	if (strcmp(req->method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
	}
	code = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	if (sink.overflow) {
		rc = fs_fail(err, FS_ETOOLARGE, "%s: response larger than %zu bytes", what,
		             c->max_body);
		goto out;
	}
	if (code != CURLE_OK) {
		rc = transport_error(err, c, code, errbuf, what);
		goto out;
	}
	if (resp->status < 200 || resp->status > 299) {
		rc = kube_status_error(err, resp->status, resp->body.data, what);
		goto out;
	}
	rc = FS_OK;
out:
	free_headers(&headers);
	if (h)
		handle_put(c, h);
	free(url);
	return rc;
}

static enum fs_rc parse_json(json_object **out, const struct buf *body, const char *what,
                             struct fs_err *err)
{
	json_tokener *tok;
	json_object *v;
	enum json_tokener_error jerr;

	if (!body->data || body->len == 0)
		return fs_fail(err, FS_EPARSE, "%s: empty response", what);
	tok = json_tokener_new();
	if (!tok)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	v = json_tokener_parse_ex(tok, body->data, (int)body->len);
	jerr = json_tokener_get_error(tok);
	json_tokener_free(tok);
	if (!v || jerr != json_tokener_success) {
		json_object_put(v);
		return fs_fail(err, FS_EPARSE, "%s: invalid JSON in response: %s", what,
		               json_tokener_error_desc(jerr));
	}
	*out = v;
	return FS_OK;
}

enum fs_rc kube_get(json_object **out, struct kube_client *c, const char *path, struct fs_err *err)
{
	return kube_send(out, c, "GET", path, NULL, NULL, err);
}

enum fs_rc kube_send(json_object **out, struct kube_client *c, const char *method, const char *path,
                     const char *content_type, json_object *body, struct fs_err *err)
{
	struct kube_request req = {.method = method, .path = path, .content_type = content_type};
	struct kube_response resp;
	char what[256];
	enum fs_rc rc;

	if (body) {
		req.body = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
		if (!req.body)
			return fs_fail(err, FS_ENOMEM, "out of memory serialising a request");
		req.body_len = strlen(req.body);
	}
	kube_response_init(&resp);
	rc = kube_do(&resp, c, &req, err);
	if (rc == FS_OK && out) {
		snprintf(what, sizeof(what), "%s %s", method, path);
		rc = parse_json(out, &resp.body, what, err);
	}
	kube_response_release(&resp);
	return rc;
}

struct watch_state {
	struct buf line;
	kube_watch_fn fn;
	void *ctx;
	const atomic_bool *stop;
	bool overflow;
	bool ended_by_fn;
	enum fs_rc event_rc; /* an ERROR event or a bad line */
	struct fs_err *err;
	const char *what;
	long http_status;
	CURL *h;
};

/* Dispatches one complete line; returns false to end the stream. */
static bool watch_line(struct watch_state *w, const char *text, size_t len)
{
	json_tokener *tok;
	json_object *event, *type, *object;
	const char *type_s;
	bool go_on = true;

	while (len > 0 && (text[len - 1] == '\r' || text[len - 1] == ' '))
		len--;
	if (len == 0)
		return true;
	tok = json_tokener_new();
	if (!tok) {
		w->event_rc = fs_fail(w->err, FS_ENOMEM, "out of memory");
		return false;
	}
	event = json_tokener_parse_ex(tok, text, (int)len);
	if (!event || json_tokener_get_error(tok) != json_tokener_success ||
	    !json_object_object_get_ex(event, "type", &type) ||
	    !json_object_object_get_ex(event, "object", &object)) {
		json_tokener_free(tok);
		json_object_put(event);
		w->event_rc = fs_fail(w->err, FS_EPARSE, "%s: malformed watch event", w->what);
		return false;
	}
	json_tokener_free(tok);
	type_s = json_object_get_string(type);
	if (strcmp(type_s, "ERROR") == 0) {
		json_object *code;
		long status = 500;

		if (json_object_object_get_ex(object, "code", &code))
			status = json_object_get_int(code);
		w->event_rc =
		    kube_status_error(w->err, status, json_object_to_json_string(object), w->what);
		go_on = false;
	} else if (!w->fn(w->ctx, type_s, object)) {
		w->ended_by_fn = true;
		go_on = false;
	}
	json_object_put(event);
	return go_on;
}

static size_t on_watch_data(char *data, size_t size, size_t nmemb, void *userp)
{
	struct watch_state *w = userp;
	size_t n = size * nmemb;
	size_t start = 0;

	if (w->http_status == 0)
		curl_easy_getinfo(w->h, CURLINFO_RESPONSE_CODE, &w->http_status);
	if (w->http_status != 200) {
		/* An error status: collect the Status body like any response. */
		if (buf_append(&w->line, data, n, NULL) != FS_OK)
			w->overflow = true;
		return w->overflow ? 0 : n;
	}
	for (size_t i = 0; i < n; i++) {
		if (data[i] != '\n')
			continue;
		if (w->line.len > 0) {
			if (buf_append(&w->line, data + start, i - start, NULL) != FS_OK) {
				w->overflow = true;
				return 0;
			}
			if (!watch_line(w, w->line.data, w->line.len))
				return 0;
			buf_reset(&w->line);
		} else if (!watch_line(w, data + start, i - start)) {
			return 0;
		}
		start = i + 1;
	}
	if (start < n && buf_append(&w->line, data + start, n - start, NULL) != FS_OK) {
		w->overflow = true;
		return 0;
	}
	return n;
}

static int on_watch_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                             curl_off_t ulnow)
{
	const struct watch_state *w = userp;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return w->stop && atomic_load(w->stop) ? 1 : 0;
}

enum fs_rc kube_watch(struct kube_client *c, const char *path, const struct kube_watch_opts *opts,
                      kube_watch_fn fn, void *ctx, struct fs_err *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	char what[256];
	char *url = NULL;
	struct request_headers headers = {NULL, true};
	struct watch_state w = {.fn = fn, .ctx = ctx, .err = err, .event_rc = FS_OK};
	CURL *h = NULL;
	CURLcode code;
	enum fs_rc rc;

	snprintf(what, sizeof(what), "WATCH %s", path);
	w.what = what;
	w.stop = opts ? opts->stop : NULL;
	buf_init(&w.line, opts && opts->max_line ? opts->max_line : DEFAULT_MAX_LINE);
	if (asprintf(&url, "%s%s", c->server, path) < 0) {
		url = NULL;
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto out;
	}
	h = handle_get(c);
	if (!h) {
		rc = fs_fail(err, FS_ENOMEM, "%s: cannot create a curl handle", what);
		goto out;
	}
	w.h = h;
	rc = build_headers(&headers, c, NULL, false, true, err);
	if (rc != FS_OK)
		goto out;
	setup_handle(c, h, url, opts ? opts->timeout_ms : 0, errbuf);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.list);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_watch_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &w);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_watch_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &w);
	/* A dead peer must not hold a watch forever: no byte for 90 s ends it. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 90L);
	code = curl_easy_perform(h);
	if (w.http_status == 0)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &w.http_status);
	if (w.overflow) {
		rc = fs_fail(err, FS_ETOOLARGE, "%s: an event larger than %zu bytes", what,
		             w.line.max);
	} else if (w.event_rc != FS_OK) {
		rc = w.event_rc;
	} else if (w.ended_by_fn) {
		rc = FS_OK;
	} else if (code != CURLE_OK) {
		rc = transport_error(err, c, code, errbuf, what);
	} else if (w.http_status != 200) {
		rc = kube_status_error(err, w.http_status, w.line.data, what);
	} else {
		if (w.line.len > 0)
			watch_line(&w, w.line.data, w.line.len);
		rc = w.event_rc;
	}
out:
	free_headers(&headers);
	if (h)
		handle_put(c, h);
	buf_release(&w.line);
	free(url);
	return rc;
}
