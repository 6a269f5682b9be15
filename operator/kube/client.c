#include "kube/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <limits.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "net/curlpool.h"
#include "base/backoff.h"
#include "base/ratelimit.h"
#include "base/version.h"
#include "kube/cert.h"
#include "kube/exec.h"
#include "base/clock.h"
#include "base/jsontext.h"
#include "base/str.h"

#define DEFAULT_TIMEOUT_MS         30000
#define DEFAULT_CONNECT_TIMEOUT_MS 10000
#define DEFAULT_MAX_BODY           (64u << 20)
#define DEFAULT_MAX_LINE           (16u << 20)
#define TOKEN_FILE_MAX             (64u << 10)
#define TOKEN_REREAD_SECONDS       60
#define RETRY_AFTER_MAX_SECONDS    30
#define DEFAULT_QPS                20.0
#define DEFAULT_BURST              30
#define DEFAULT_MAX_RETRIES        5

/*
 * The credentials of a moment. Requests hold a reference while they run, so
 * a refresh (token file re-read, exec plugin re-run) can swap in new ones
 * without pulling memory from under a request in flight.
 */
struct creds {
	int refs; /* guarded by the client's mutex */
	char *token;
	struct curl_blob cert, key;
	time_t expires_at; /* exec credentials: 0 never */
	time_t made_at;
	bool cert_dated; /* the client certificate's validity could be read */
	int64_t cert_not_before, cert_not_after;
	bool stale; /* the server refused it (401): renew before the next use */
};

struct kube_client {
	pthread_mutex_t mu; /* guards the pool, the credentials and the rate limiter */
	struct curl_pool pool;

	char *server;
	char *source;
	char *user_agent;
	long timeout_ms;
	long connect_timeout_ms;
	size_t max_body;
	unsigned max_retries;
	const atomic_bool *stop;
	struct ratelimit limiter;
	/*
	 * Until when (monotonic seconds) the server asked this client to wait,
	 * with a Retry-After on any request: every request waits, not only the
	 * one that was told, as the server asked the client.
	 */
	double quiet_until;
	struct backoff retry_backoff; /* each call copies it, with its own jitter */

	bool insecure;
	struct curl_blob ca;
	char *username, *password;
	char *token_file;
	struct kube_config *exec_cfg; /* the exec plugin and the cluster info it may need */
	struct creds *creds;

	atomic_ulong n_requests, n_retries, n_throttled, n_exec;
	struct request_kind {
		const char *verb; /* static */
		long code;
		unsigned long count;
	} kinds[KUBE_REQUEST_KINDS];
	size_t n_kinds; /* guarded by mu */
};

void kube_client_opts_init(struct kube_client_opts *opts)
{
	opts->timeout_ms = DEFAULT_TIMEOUT_MS;
	opts->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	opts->max_body = DEFAULT_MAX_BODY;
	opts->user_agent = NULL;
	opts->qps = DEFAULT_QPS;
	opts->burst = DEFAULT_BURST;
	opts->max_retries = DEFAULT_MAX_RETRIES;
	opts->stop = NULL;
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

static void creds_free(struct creds *cr)
{
	if (!cr)
		return;
	wipe_free(cr->token);
	blob_free(&cr->cert, false);
	blob_free(&cr->key, true);
	free(cr);
}

/* Drops a reference taken by creds_get. */
static void creds_put(struct kube_client *c, struct creds *cr)
{
	bool last;

	if (!cr)
		return;
	pthread_mutex_lock(&c->mu);
	last = --cr->refs == 0;
	pthread_mutex_unlock(&c->mu);
	if (last)
		creds_free(cr);
}

/* Makes `cr` current (the client's reference); the caller holds the mutex. */
static void creds_install(struct kube_client *c, struct creds *cr)
{
	struct creds *old = c->creds;

	cr->refs = 1;
	c->creds = cr;
	if (old && --old->refs == 0)
		creds_free(old);
}

static struct creds *creds_new(const char *token, const char *cert, size_t cert_len,
                               const char *key, size_t key_len)
{
	struct creds *cr = calloc(1, sizeof(*cr));

	if (!cr)
		return NULL;
	cr->made_at = time(NULL);
	if ((token && !(cr->token = strdup(token))) || !blob_copy(&cr->cert, cert, cert_len) ||
	    !blob_copy(&cr->key, key, key_len)) {
		creds_free(cr);
		return NULL;
	}
	if (cert && cert_len > 0)
		cr->cert_dated = kube_cert_validity(&cr->cert_not_before, &cr->cert_not_after, cert,
		                                    cert_len) == FS_OK;
	return cr;
}

/*
 * After a 401: when the client certificate is outside its validity, says so
 * at the end of the message (the server only says Unauthorized).
 */
static void cert_hint(struct fs_err *err, const struct kube_client *c, const struct creds *cr)
{
	time_t now = time(NULL), t;
	const char *what;
	char when[32];
	struct tm tm;
	size_t n;

	if (!err || !cr || !cr->cert_dated)
		return;
	if ((int64_t)now > cr->cert_not_after) {
		what = "expired at";
		t = (time_t)cr->cert_not_after;
	} else if ((int64_t)now < cr->cert_not_before) {
		what = "is not valid before (is this machine's clock right?)";
		t = (time_t)cr->cert_not_before;
	} else {
		return;
	}
	if (!gmtime_r(&t, &tm) || strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return;
	n = strlen(err->msg);
	snprintf(err->msg + n, sizeof(err->msg) - n, " (the client certificate of %s %s %s)",
	         c->source, what, when);
}

void kube_client_free(struct kube_client *c)
{
	if (!c)
		return;
	curl_pool_release(&c->pool);
	pthread_mutex_destroy(&c->mu);
	free(c->server);
	free(c->source);
	free(c->user_agent);
	blob_free(&c->ca, false);
	free(c->username);
	wipe_free(c->password);
	free(c->token_file);
	kube_config_free(c->exec_cfg);
	creds_free(c->creds);
	free(c);
}

/* A copy of what an exec plugin needs: the plugin itself and the cluster info. */
static struct kube_config *exec_config_copy(const struct kube_config *cfg, bool *ok)
{
	struct kube_config *copy = calloc(1, sizeof(*copy));
	struct kube_exec *x = calloc(1, sizeof(*x));
	size_t n;

	if (!copy || !x) {
		free(copy);
		free(x);
		*ok = false;
		return NULL;
	}
	copy->exec = x;
	copy->server = str_dup_opt(cfg->server, ok);
	copy->tls_server_name = str_dup_opt(cfg->tls_server_name, ok);
	copy->insecure = cfg->insecure;
	if (cfg->ca_pem) {
		copy->ca_pem = malloc(cfg->ca_pem_len + 1);
		if (copy->ca_pem) {
			memcpy(copy->ca_pem, cfg->ca_pem, cfg->ca_pem_len);
			copy->ca_pem[cfg->ca_pem_len] = '\0';
			copy->ca_pem_len = cfg->ca_pem_len;
		} else {
			*ok = false;
		}
	}
	x->api_version = str_dup_opt(cfg->exec->api_version, ok);
	x->command = str_dup_opt(cfg->exec->command, ok);
	x->install_hint = str_dup_opt(cfg->exec->install_hint, ok);
	x->provide_cluster_info = cfg->exec->provide_cluster_info;
	for (int pass = 0; pass < 2; pass++) {
		char **src = pass == 0 ? cfg->exec->args : cfg->exec->env;
		char ***dst = pass == 0 ? &x->args : &x->env;

		for (n = 0; src && src[n]; n++)
			;
		*dst = calloc(n + 1, sizeof(char *));
		if (!*dst) {
			*ok = false;
			continue;
		}
		for (size_t i = 0; i < n; i++)
			(*dst)[i] = str_dup_opt(src[i], ok);
	}
	return copy;
}

enum fs_rc kube_client_new(struct kube_client **out, const struct kube_config *cfg,
                           const struct kube_client_opts *opts, struct fs_err *err)
{
	struct kube_client_opts defaults;
	struct kube_client *c;
	double now;
	bool ok = true;

	if (!opts) {
		kube_client_opts_init(&defaults);
		opts = &defaults;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	pthread_mutex_init(&c->mu, NULL);
	curl_pool_init(&c->pool);
	c->server = str_dup_opt(cfg->server, &ok);
	c->source = str_dup_opt(cfg->source ? cfg->source : cfg->server, &ok);
	if (opts->user_agent)
		c->user_agent = str_dup_opt(opts->user_agent, &ok);
	else if (asprintf(&c->user_agent, "foresight/%s", FORESIGHT_VERSION) < 0)
		ok = false;
	c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	c->connect_timeout_ms =
	    opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	c->max_body = opts->max_body > 0 ? opts->max_body : DEFAULT_MAX_BODY;
	c->max_retries = opts->max_retries;
	c->stop = opts->stop;
	now = clock_mono_s();
	ratelimit_init(&c->limiter, opts->qps, opts->burst, now);
	/* The fractional clock seeds the jitter: replicas started together still differ. */
	backoff_init(&c->retry_backoff, 200, 10000,
	             (uint64_t)((now - (double)(int64_t)now) * 1e9) ^ (uint64_t)getpid());
	c->insecure = cfg->insecure;
	ok = ok && blob_copy(&c->ca, cfg->ca_pem, cfg->ca_pem_len);
	c->username = str_dup_opt(cfg->username, &ok);
	c->password = str_dup_opt(cfg->password, &ok);
	c->token_file = str_dup_opt(cfg->token_file, &ok);
	if (cfg->exec)
		c->exec_cfg = exec_config_copy(cfg, &ok);
	if (ok) {
		struct creds *cr = creds_new(cfg->token, cfg->cert_pem, cfg->cert_pem_len,
		                             cfg->key_pem, cfg->key_pem_len);

		if (cr)
			creds_install(c, cr);
		else
			ok = false;
	}
	if (!ok || !c->server || !c->user_agent) {
		kube_client_free(c);
		return fs_fail(err, FS_ENOMEM, "out of memory creating the API client");
	}
	*out = c;
	return FS_OK;
}

enum fs_rc kube_connect(struct kube_config **cfg, struct kube_client **client,
                        const struct kube_config_opts *copts, const struct kube_client_opts *kopts,
                        struct fs_err *err)
{
	enum fs_rc rc;

	*cfg = NULL;
	*client = NULL;
	rc = kube_config_auto(cfg, copts, err);
	if (rc == FS_OK)
		rc = kube_client_new(client, *cfg, kopts, err);
	if (rc != FS_OK) {
		kube_config_free(*cfg);
		*cfg = NULL;
	}
	return rc;
}

const char *kube_client_server(const struct kube_client *c)
{
	return c->server;
}

double kube_client_qps(const struct kube_client *c)
{
	return c->limiter.qps; /* set once, at kube_client_new */
}

/* Re-reads the token file into new credentials; the caller holds the mutex. */
static enum fs_rc refresh_token_file(struct kube_client *c, struct fs_err *err)
{
	FILE *f = fopen(c->token_file, "rb");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	struct creds *cr;

	if (!f)
		return fs_fail(err, FS_EAUTH, "token file %s: %s", c->token_file, strerror(errno));
	n = getline(&line, &cap, f);
	fclose(f);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (n <= 0 || (size_t)n >= TOKEN_FILE_MAX) {
		wipe_free(line);
		return fs_fail(err, FS_EAUTH, "token file %s is empty or too large", c->token_file);
	}
	cr = creds_new(line, c->creds->cert.data, c->creds->cert.len, c->creds->key.data,
	               c->creds->key.len);
	wipe_free(line);
	if (!cr)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	creds_install(c, cr);
	return FS_OK;
}

/* Runs the exec plugin into new credentials; the caller holds the mutex. */
static enum fs_rc refresh_exec(struct kube_client *c, struct fs_err *err)
{
	struct kube_exec_cred got;
	struct creds *cr;
	enum fs_rc rc;

	atomic_fetch_add(&c->n_exec, 1);
	rc = kube_exec_run(&got, c->exec_cfg->exec, c->exec_cfg, err);
	if (rc != FS_OK)
		return rc;
	cr = creds_new(got.token, got.cert_pem, got.cert_pem_len, got.key_pem, got.key_pem_len);
	if (cr)
		cr->expires_at = got.expires_at;
	kube_exec_cred_release(&got);
	if (!cr)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	creds_install(c, cr);
	return FS_OK;
}

/*
 * The credentials to use now, refreshed when due: an exec credential once it
 * expired or after a 401, a token file once a minute. Returns a
 * reference the caller drops with creds_put; NULL on failure.
 */
static struct creds *creds_get(struct kube_client *c, struct fs_err *err)
{
	time_t now = time(NULL);
	struct creds *cr = NULL;
	enum fs_rc rc = FS_OK;

	pthread_mutex_lock(&c->mu);
	if (c->exec_cfg) {
		bool empty = !c->creds->token && !c->creds->cert.data;
		/* As client-go: renewed once expired; a 401 just before renews it too. */
		bool expiring = c->creds->expires_at && now >= c->creds->expires_at;

		if (empty || expiring || c->creds->stale)
			rc = refresh_exec(c, err);
	} else if (c->token_file && (!c->creds->token || c->creds->stale ||
	                             now - c->creds->made_at >= TOKEN_REREAD_SECONDS)) {
		rc = refresh_token_file(c, err);
		/* Keep using the last good token while the file is being rotated. */
		if (rc != FS_OK && c->creds->token)
			rc = FS_OK;
	}
	if (rc == FS_OK) {
		cr = c->creds;
		cr->refs++;
	}
	pthread_mutex_unlock(&c->mu);
	return cr;
}

/* Marks credentials the server refused, so the next request renews them. */
static bool creds_refusable(struct kube_client *c, struct creds *used)
{
	bool renewable;

	pthread_mutex_lock(&c->mu);
	renewable = (c->exec_cfg || c->token_file) && c->creds == used;
	if (renewable)
		used->stale = true;
	pthread_mutex_unlock(&c->mu);
	return renewable;
}

/*
 * libcurl asks OpenSSL to free a connection's 16 KB read buffer whenever it
 * is drained and to allocate it again at the next record: at every watch
 * event and response. Kept instead (a few connections: HTTP/2 shares one),
 * that was 3% of the CPU at 1,000 scalers.
 */
static CURLcode keep_tls_buffers(CURL *h, void *ssl_ctx, void *arg)
{
	(void)h;
	(void)arg;
	SSL_CTX_clear_mode(ssl_ctx, SSL_MODE_RELEASE_BUFFERS);
	return CURLE_OK;
}

/* Applies the per-client options to a fresh or reset handle. */
static void setup_handle(struct kube_client *c, CURL *h, const struct creds *cr, const char *url,
                         long timeout_ms, char *errbuf)
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
	curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, keep_tls_buffers);
	if (c->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	} else {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
	}
	if (c->ca.data)
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &c->ca);
	if (cr->cert.data) {
		curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &cr->cert);
		curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
		curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &cr->key);
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
	json_object *status = jsontext_parse_str(body);
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
static enum fs_rc build_headers(struct request_headers *h, const struct creds *cr,
                                const char *content_type, bool has_body, bool streaming,
                                struct fs_err *err)
{
	h->list = NULL;
	h->ok = true;
	add_header(h, streaming ? "Accept: application/json" : "Accept: application/json, */*");
	if (has_body) {
		char line[128];

		snprintf(line, sizeof(line), "Content-Type: %s",
		         content_type ? content_type : "application/json");
		add_header(h, line);
	}
	if (cr->token) {
		char *line = NULL;

		if (asprintf(&line, "Authorization: Bearer %s", cr->token) < 0)
			h->ok = false;
		else
			add_header(h, line);
		wipe_free(line);
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

/* Sleeps `ms`, waking early when the client is stopped; false if stopped. */
static bool nap(struct kube_client *c, long ms)
{
	while (ms > 0) {
		long slice = ms < 50 ? ms : 50;
		struct timespec ts = {slice / 1000, (slice % 1000) * 1000000L};

		if (c->stop && atomic_load(c->stop))
			return false;
		nanosleep(&ts, NULL);
		ms -= slice;
	}
	return !(c->stop && atomic_load(c->stop));
}

/*
 * Waits out a Retry-After the server gave, then for the client-side rate
 * limiter; false if stopped meanwhile.
 */
static bool throttle(struct kube_client *c)
{
	double wait, now = clock_mono_s();

	pthread_mutex_lock(&c->mu);
	wait = c->quiet_until - now;
	pthread_mutex_unlock(&c->mu);
	if (wait > 0 && !nap(c, (long)(wait * 1000.0) + 1))
		return false;
	pthread_mutex_lock(&c->mu);
	wait = ratelimit_reserve(&c->limiter, clock_mono_s());
	pthread_mutex_unlock(&c->mu);
	if (wait <= 0)
		return true;
	atomic_fetch_add(&c->n_throttled, 1);
	return nap(c, (long)(wait * 1000.0) + 1);
}

/*
 * After /api/VERSION or /apis/GROUP/VERSION (and namespaces/NS), one segment
 * is a collection; more name an object or its subresource.
 */
const char *kube_request_verb(const char *method, const char *path)
{
	static const char *const verbs[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};
	const char *q = strchr(path, '?');
	size_t len = q ? (size_t)(q - path) : strlen(path);
	size_t n = 0, skip;

	if (strcmp(method, "GET") == 0) {
		for (size_t i = 0; i < len; i++)
			n += path[i] == '/' && i + 1 < len && path[i + 1] != '/';
		skip = strncmp(path, "/apis/", 6) == 0 ? 3 : strncmp(path, "/api/", 5) == 0 ? 2 : n;
		if (n > skip + 2 && strstr(path, "/namespaces/") &&
		    (size_t)(strstr(path, "/namespaces/") - path) < len)
			skip += 2;
		return n == skip + 1 ? "LIST" : "GET";
	}
	for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
		if (strcmp(method, verbs[i]) == 0)
			return verbs[i];
	}
	return "other";
}

static void count_request(struct kube_client *c, const char *verb, long code)
{
	size_t i;

	pthread_mutex_lock(&c->mu);
	for (i = 0; i < c->n_kinds; i++) {
		if (c->kinds[i].code == code && strcmp(c->kinds[i].verb, verb) == 0)
			break;
	}
	if (i == c->n_kinds) {
		/* The last slot is kept for the pairs that do not fit. */
		if (c->n_kinds >= KUBE_REQUEST_KINDS - 1) {
			verb = "other";
			code = 0;
			for (i = 0; i < c->n_kinds; i++) {
				if (c->kinds[i].code == 0 && strcmp(c->kinds[i].verb, "other") == 0)
					break;
			}
		}
		if (i == c->n_kinds && c->n_kinds < KUBE_REQUEST_KINDS)
			c->kinds[c->n_kinds++] = (struct request_kind){verb, code, 0};
	}
	c->kinds[i].count++;
	pthread_mutex_unlock(&c->mu);
}

/* One attempt of a request; *retry_after is the server's Retry-After in seconds, or 0. */
static enum fs_rc perform_once(struct kube_response *resp, struct kube_client *c,
                               const struct kube_request *req, const char *url, const char *what,
                               struct creds *cr, CURLcode *code, long *retry_after,
                               struct fs_err *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct request_headers headers = {NULL, true};
	struct curl_sink sink = {&resp->body, false};
	curl_off_t after = 0;
	CURL *h;
	enum fs_rc rc;

	*code = CURLE_OK;
	*retry_after = 0;
	resp->status = 0;
	buf_reset(&resp->body);
	h = curl_pool_get(&c->pool);
	if (!h)
		return fs_fail(err, FS_ENOMEM, "%s: cannot create a curl handle", what);
	rc = build_headers(&headers, cr, req->content_type, req->body != NULL, false, err);
	if (rc != FS_OK)
		goto out;
	setup_handle(c, h, cr, url, req->timeout_ms > 0 ? req->timeout_ms : c->timeout_ms, errbuf);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.list);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_sink_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	if (strcmp(req->method, "GET") != 0)
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
	if (req->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
	}
	atomic_fetch_add(&c->n_requests, 1);
	*code = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
	count_request(c, kube_request_verb(req->method, req->path), resp->status);
	if (curl_easy_getinfo(h, CURLINFO_RETRY_AFTER, &after) == CURLE_OK && after > 0) {
		double until;

		*retry_after =
		    after > RETRY_AFTER_MAX_SECONDS ? RETRY_AFTER_MAX_SECONDS : (long)after;
		until = clock_mono_s() + (double)*retry_after;
		pthread_mutex_lock(&c->mu);
		if (until > c->quiet_until)
			c->quiet_until = until;
		pthread_mutex_unlock(&c->mu);
	}
	if (sink.overflow)
		rc = fs_fail(err, FS_ETOOLARGE, "%s: response larger than %zu bytes", what,
		             c->max_body);
	else if (*code != CURLE_OK)
		rc = transport_error(err, c, *code, errbuf, what);
	else if (resp->status < 200 || resp->status > 299)
		rc = kube_status_error(err, resp->status, resp->body.data, what);
out:
	free_headers(&headers);
	curl_pool_put(&c->pool, h);
	return rc;
}

bool kube_should_retry(const char *method, const char *content_type, int curl_code, long status)
{
	bool idempotent =
	    strcmp(method, "POST") != 0 && !(content_type && strstr(content_type, "json-patch"));

	switch ((CURLcode)curl_code) {
	case CURLE_OK:
		break;
	case CURLE_COULDNT_CONNECT:
		return true; /* nothing was sent */
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_GOT_NOTHING:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
		return idempotent;
	default:
		return false;
	}
	if (status == 429)
		return true; /* the server did not do it */
	return status >= 500 && status <= 599 && idempotent;
}

enum fs_rc kube_do(struct kube_response *resp, struct kube_client *c,
                   const struct kube_request *req, struct fs_err *err)
{
	char what[256];
	char *url = NULL;
	struct backoff bo;
	bool renewed_auth = false;
	enum fs_rc rc;

	snprintf(what, sizeof(what), "%s %s", req->method, req->path);
	resp->body.max = c->max_body;
	if (asprintf(&url, "%s%s", c->server, req->path) < 0)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	pthread_mutex_lock(&c->mu);
	bo = c->retry_backoff;
	c->retry_backoff.rng += 0x9e3779b97f4a7c15ull; /* a different jitter for each call */
	pthread_mutex_unlock(&c->mu);

	for (unsigned attempt = 0;; attempt++) {
		struct creds *cr;
		CURLcode code;
		long retry_after;
		long delay;

		if (!throttle(c)) {
			rc = fs_fail(err, FS_ECANCELED, "%s: canceled", what);
			break;
		}
		cr = creds_get(c, err);
		if (!cr) {
			rc = err ? err->rc : FS_EAUTH;
			fs_wrap(err, rc, "%s: credentials from %s", what, c->source);
			break;
		}
		rc = perform_once(resp, c, req, url, what, cr, &code, &retry_after, err);
		if (rc == FS_OK) {
			creds_put(c, cr);
			break;
		}
		if (resp->status == 401)
			cert_hint(err, c, cr);
		/* Refused credentials that can be renewed get one fresh try at once. */
		if (resp->status == 401 && !renewed_auth && creds_refusable(c, cr)) {
			creds_put(c, cr);
			renewed_auth = true;
			continue;
		}
		creds_put(c, cr);
		if (attempt >= c->max_retries ||
		    !kube_should_retry(req->method, req->content_type, (int)code, resp->status))
			break;
		delay = retry_after > 0 ? retry_after * 1000 : (long)backoff_next(&bo);
		atomic_fetch_add(&c->n_retries, 1);
		if (!nap(c, delay)) {
			rc = fs_fail(err, FS_ECANCELED, "%s: canceled", what);
			break;
		}
	}
	free(url);
	return rc;
}

static enum fs_rc parse_json(json_object **out, const struct buf *body, const char *what,
                             struct fs_err *err)
{
	json_object *v;
	enum json_tokener_error jerr;
	enum fs_rc rc;

	if (!body->data || body->len == 0)
		return fs_fail(err, FS_EPARSE, "%s: empty response", what);
	rc = jsontext_parse(&v, NULL, &jerr, body->data, body->len);
	if (rc == FS_ENOMEM)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	if (rc != FS_OK || !v)
		return fs_fail(err, FS_EPARSE, "%s: invalid JSON in response: %s", what,
		               rc == FS_OK ? "null" : json_tokener_error_desc(jerr));
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
		req.body = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
		                                                    JSON_C_TO_STRING_NOSLASHESCAPE);
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

enum fs_rc kube_watch_event_decode(json_object **event, const char **type, json_object **object,
                                   const char *text, size_t len, const char *what,
                                   struct fs_err *err)
{
	enum json_tokener_error jerr;
	json_object *ev, *t, *o;
	size_t end;

	*event = NULL;
	*type = NULL;
	*object = NULL;
	while (len > 0 && (text[len - 1] == '\r' || text[len - 1] == ' '))
		len--;
	if (len == 0)
		return FS_OK;
	if (len > INT_MAX)
		return fs_fail(err, FS_ETOOLARGE, "%s: a watch event of %zu bytes", what, len);
	if (jsontext_parse(&ev, &end, &jerr, text, len) == FS_ENOMEM)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	/* One complete value and nothing after it. */
	if (!ev || end != len || !json_object_object_get_ex(ev, "type", &t) ||
	    !json_object_is_type(t, json_type_string) ||
	    !json_object_object_get_ex(ev, "object", &o) ||
	    !json_object_is_type(o, json_type_object)) {
		json_object_put(ev);
		return fs_fail(err, FS_EPARSE, "%s: malformed watch event", what);
	}
	*event = ev;
	*type = json_object_get_string(t);
	*object = o;
	return FS_OK;
}

/* Dispatches one complete line; returns false to end the stream. */
static bool watch_line(struct watch_state *w, const char *text, size_t len)
{
	json_object *event, *object;
	const char *type_s;
	bool go_on = true;

	w->event_rc = kube_watch_event_decode(&event, &type_s, &object, text, len, w->what, w->err);
	if (w->event_rc != FS_OK)
		return false;
	if (!event)
		return true;
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
	struct creds *cr = NULL;
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
	if (!throttle(c)) {
		rc = fs_fail(err, FS_ECANCELED, "%s: canceled", what);
		goto out;
	}
	cr = creds_get(c, err);
	if (!cr) {
		rc = err ? err->rc : FS_EAUTH;
		fs_wrap(err, rc, "%s: credentials from %s", what, c->source);
		goto out;
	}
	h = curl_pool_get(&c->pool);
	if (!h) {
		rc = fs_fail(err, FS_ENOMEM, "%s: cannot create a curl handle", what);
		goto out;
	}
	w.h = h;
	rc = build_headers(&headers, cr, NULL, false, true, err);
	if (rc != FS_OK)
		goto out;
	setup_handle(c, h, cr, url, opts ? opts->timeout_ms : 0, errbuf);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers.list);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_watch_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &w);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_watch_progress);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &w);
	/*
	 * A quiet watch is normal (no change, and a 1.20 apiserver sends its
	 * bookmark only near the end), so no low-speed limit: TCP keepalive
	 * finds a dead peer, and opts->timeout_ms bounds the whole stream.
	 */
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 10L);
	atomic_fetch_add(&c->n_requests, 1);
	code = curl_easy_perform(h);
	if (w.http_status == 0)
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &w.http_status);
	count_request(c, "WATCH", w.http_status);
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
		if (w.http_status == 401) {
			cert_hint(err, c, cr);
			creds_refusable(c, cr);
		}
	} else {
		if (w.line.len > 0)
			watch_line(&w, w.line.data, w.line.len);
		rc = w.event_rc;
	}
out:
	free_headers(&headers);
	if (h)
		curl_pool_put(&c->pool, h);
	creds_put(c, cr);
	buf_release(&w.line);
	free(url);
	return rc;
}

enum fs_rc kube_retry_on_conflict(struct kube_client *c, unsigned attempts, kube_conflict_fn fn,
                                  void *ctx, struct fs_err *err)
{
	struct backoff bo;
	enum fs_rc rc = FS_OK;

	/* client-go's DefaultRetry: about 10 ms between attempts, with jitter. */
	backoff_init(&bo, 10, 20, (uint64_t)(uintptr_t)ctx ^ (uint64_t)time(NULL));
	for (unsigned i = 0; i < (attempts ? attempts : 1); i++) {
		rc = fn(ctx, c, err);
		if (rc != FS_ECONFLICT)
			return rc;
		if (!nap(c, (long)backoff_next(&bo)))
			return fs_fail(err, FS_ECANCELED, "canceled while retrying a conflict");
	}
	return fs_wrap(err, rc, "still conflicting after %u attempts", attempts);
}

enum fs_rc kube_list(char **rv, unsigned *pages, struct kube_client *c, const char *path,
                     unsigned limit, kube_item_fn fn, void *ctx, struct fs_err *err)
{
	char *cont = NULL, *page_path = NULL, *list_rv = NULL;
	unsigned n_pages = 0, restarts = 0;
	enum fs_rc rc = FS_OK;

	do {
		json_object *list = NULL, *items, *meta, *v;
		bool stopped = false;

		free(page_path);
		if (asprintf(&page_path, "%s%climit=%u%s%s", path, strchr(path, '?') ? '&' : '?',
		             limit ? limit : 500, cont ? "&continue=" : "", cont ? cont : "") < 0) {
			page_path = NULL;
			rc = fs_fail(err, FS_ENOMEM, "out of memory");
			break;
		}
		rc = kube_get(&list, c, page_path, err);
		n_pages++;
		if (rc == FS_EGONE && cont && restarts++ < 3) {
			/* The continue token expired mid-list: the list starts over. */
			free(cont);
			cont = NULL;
			continue;
		}
		if (rc != FS_OK)
			break;
		if (json_object_object_get_ex(list, "items", &items)) {
			size_t n = json_object_array_length(items);

			for (size_t i = 0; i < n && !stopped; i++)
				stopped = !fn(ctx, json_object_array_get_idx(items, i));
		}
		free(cont);
		cont = NULL;
		if (json_object_object_get_ex(list, "metadata", &meta)) {
			if (json_object_object_get_ex(meta, "continue", &v) &&
			    json_object_get_string_len(v) > 0)
				cont = strdup(json_object_get_string(v));
			if (json_object_object_get_ex(meta, "resourceVersion", &v)) {
				free(list_rv);
				list_rv = strdup(json_object_get_string(v));
			}
		}
		json_object_put(list);
		if (stopped)
			break;
	} while (cont);
	if (rc == FS_OK && !list_rv)
		rc = fs_fail(err, FS_EPARSE, "LIST %s: the answer has no resourceVersion", path);
	if (rc == FS_OK) {
		*rv = list_rv;
		list_rv = NULL;
		if (pages)
			*pages = n_pages;
	}
	free(list_rv);
	free(cont);
	free(page_path);
	return rc;
}

void kube_client_stats(struct kube_client_stats *out, struct kube_client *c)
{
	out->requests = atomic_load(&c->n_requests);
	out->retries = atomic_load(&c->n_retries);
	out->throttled = atomic_load(&c->n_throttled);
	out->exec_calls = atomic_load(&c->n_exec);
}

void kube_client_requests(struct kube_client *c,
                          void (*fn)(void *ctx, const char *verb, long code, unsigned long count),
                          void *ctx)
{
	struct request_kind copy[KUBE_REQUEST_KINDS];
	size_t n;

	pthread_mutex_lock(&c->mu);
	n = c->n_kinds;
	memcpy(copy, c->kinds, n * sizeof(copy[0]));
	pthread_mutex_unlock(&c->mu);
	for (size_t i = 0; i < n; i++)
		fn(ctx, copy[i].verb, copy[i].code, copy[i].count);
}
