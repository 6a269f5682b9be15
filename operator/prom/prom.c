#include "prom/prom.h"

#include <curl/curl.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "net/curlpool.h"
#include "base/buf.h"
#include "base/version.h"
#include "prom/wire.h"

#define DEFAULT_TIMEOUT_MS         15000
#define DEFAULT_CONNECT_TIMEOUT_MS 5000
#define DEFAULT_MAX_BODY           (32u << 20)
#define DEFAULT_MAX_INFLIGHT       8
#define DEFAULT_STALE_AFTER        300.0
#define DEFAULT_MAX_POINTS         1000000
#define FORM_MAX                   (4u << 20) /* a form body: the PromQL and a few numbers */
#define QUERY_SHOWN_MAX            120        /* characters of PromQL quoted in a message */
#define TIME_LIMIT_S               1e12       /* |unix seconds| accepted, far beyond any data */
#define STOP_POLL_MS               100
#define LARGE_POINTS               100 /* a range query this long is asked gzipped (see post) */

struct prom_client {
	pthread_mutex_t mu; /* guards the pool and the in-flight count */
	pthread_cond_t slot_freed;
	struct curl_pool pool;
	unsigned inflight, max_inflight;

	char *base;  /* the URL requests go to, without a trailing '/' */
	char *shown; /* the URL for messages: without user info */
	char *user_agent;
	char *username, *password;
	struct curl_blob ca;
	bool insecure;
	struct curl_slist *headers; /* built once, only read by requests */
	long timeout_ms, connect_timeout_ms;
	size_t max_body, max_points;
	double stale_after;
	const atomic_bool *stop;

	atomic_ulong n_queries, n_requests, n_errors, n_waits;
};

void prom_client_opts_init(struct prom_client_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->timeout_ms = DEFAULT_TIMEOUT_MS;
	opts->connect_timeout_ms = DEFAULT_CONNECT_TIMEOUT_MS;
	opts->max_body = DEFAULT_MAX_BODY;
	opts->max_inflight = DEFAULT_MAX_INFLIGHT;
	opts->stale_after = DEFAULT_STALE_AFTER;
	opts->max_points = DEFAULT_MAX_POINTS;
}

static void wipe_free(char *s)
{
	if (!s)
		return;
	memset(s, 0, strlen(s));
	free(s);
}

void prom_client_free(struct prom_client *c)
{
	if (!c)
		return;
	curl_pool_release(&c->pool);
	pthread_cond_destroy(&c->slot_freed);
	pthread_mutex_destroy(&c->mu);
	wipe_free(c->base); /* may hold user info */
	free(c->shown);
	free(c->user_agent);
	free(c->username);
	wipe_free(c->password);
	free(c->ca.data);
	prom_headers_free(c->headers);
	free(c);
}

/*
 * Checks the URL and derives the two forms the client keeps: where requests
 * go (trailing '/' removed) and what messages show (user info removed, as it
 * may hold a password).
 */
static enum fs_rc parse_url(char **base, char **shown, const char *url, struct fs_err *err)
{
	const char *authority, *auth_end, *at, *host;
	size_t len = strlen(url);

	if (strncasecmp(url, "http://", 7) == 0)
		authority = url + 7;
	else if (strncasecmp(url, "https://", 8) == 0)
		authority = url + 8;
	else
		return fs_fail(err, FS_EINVAL,
		               "the Prometheus URL must start with http:// or https://");
	auth_end = authority + strcspn(authority, "/");
	at = memrchr(authority, '@', (size_t)(auth_end - authority)); /* passwords may hold an @ */
	if (auth_end == authority || (at && at + 1 == auth_end))
		return fs_fail(err, FS_EINVAL, "the Prometheus URL has no host");
	if (strpbrk(url, "?# \t\r\n"))
		return fs_fail(err, FS_EINVAL,
		               "the Prometheus URL must not hold a query, a fragment or spaces");
	while (len > 0 && url[len - 1] == '/')
		len--;
	host = at ? at + 1 : authority;
	*shown = NULL;
	*base = strndup(url, len);
	if (*base && asprintf(shown, "%.*s%.*s", (int)(authority - url), url,
	                      (int)(len - (size_t)(host - url)), host) < 0)
		*shown = NULL;
	if (!*base || !*shown) {
		wipe_free(*base);
		return fs_fail(err, FS_ENOMEM, "out of memory");
	}
	return FS_OK;
}

enum fs_rc prom_client_new(struct prom_client **out, const struct prom_client_opts *opts,
                           struct fs_err *err)
{
	struct prom_client *c;
	enum fs_rc rc;

	if (!opts || !opts->url || !opts->url[0])
		return fs_fail(err, FS_EINVAL, "no Prometheus URL");
	if (opts->bearer_token && (opts->username || opts->password))
		return fs_fail(err, FS_EINVAL,
		               "Prometheus: set a bearer token or basic auth, not both");
	if (!opts->username != !opts->password)
		return fs_fail(err, FS_EINVAL,
		               "Prometheus basic auth needs a username and a password");
	c = calloc(1, sizeof(*c));
	if (!c)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	pthread_mutex_init(&c->mu, NULL);
	curl_pool_init(&c->pool);
	pthread_cond_init(&c->slot_freed, NULL);
	rc = parse_url(&c->base, &c->shown, opts->url, err);
	if (rc != FS_OK)
		goto out;
	rc = prom_build_headers(&c->headers, opts->bearer_token, opts->headers, err);
	if (rc != FS_OK) {
		fs_wrap(err, rc, "Prometheus %s", c->shown);
		goto out;
	}
	c->timeout_ms = opts->timeout_ms > 0 ? opts->timeout_ms : DEFAULT_TIMEOUT_MS;
	c->connect_timeout_ms =
	    opts->connect_timeout_ms > 0 ? opts->connect_timeout_ms : DEFAULT_CONNECT_TIMEOUT_MS;
	if (c->connect_timeout_ms > c->timeout_ms)
		c->connect_timeout_ms = c->timeout_ms;
	c->max_body = opts->max_body > 0 ? opts->max_body : DEFAULT_MAX_BODY;
	c->max_inflight = opts->max_inflight > 0 ? opts->max_inflight : DEFAULT_MAX_INFLIGHT;
	c->stale_after = opts->stale_after > 0 ? opts->stale_after : DEFAULT_STALE_AFTER;
	c->max_points = opts->max_points > 0 ? opts->max_points : DEFAULT_MAX_POINTS;
	c->insecure = opts->insecure_skip_verify;
	c->stop = opts->stop;
	if (opts->user_agent)
		c->user_agent = strdup(opts->user_agent);
	else if (asprintf(&c->user_agent, "foresight/%s", FORESIGHT_VERSION) < 0)
		c->user_agent = NULL;
	if (opts->username) {
		c->username = strdup(opts->username);
		c->password = strdup(opts->password);
	}
	if (opts->ca_pem && opts->ca_pem_len > 0) {
		c->ca.data = malloc(opts->ca_pem_len);
		if (c->ca.data) {
			memcpy(c->ca.data, opts->ca_pem, opts->ca_pem_len);
			c->ca.len = opts->ca_pem_len;
			c->ca.flags = CURL_BLOB_NOCOPY;
		}
	}
	if (!c->user_agent || (opts->username && (!c->username || !c->password)) ||
	    (opts->ca_pem && opts->ca_pem_len > 0 && !c->ca.data))
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
out:
	if (rc != FS_OK) {
		prom_client_free(c);
		return rc;
	}
	*out = c;
	return FS_OK;
}

const char *prom_client_url(const struct prom_client *c)
{
	return c->shown;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool stopped(const struct prom_client *c)
{
	return c->stop && atomic_load(c->stop);
}

/* Takes one of the max_inflight slots, waiting for one when all are taken. */
static enum fs_rc slot_take(struct prom_client *c, struct fs_err *err)
{
	bool waited = false, took = false;

	pthread_mutex_lock(&c->mu);
	while (c->inflight >= c->max_inflight && !stopped(c)) {
		waited = true;
		if (c->stop) {
			/* Wake up now and then to notice a shutdown. */
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += STOP_POLL_MS * 1000000L;
			until.tv_sec += until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			pthread_cond_timedwait(&c->slot_freed, &c->mu, &until);
		} else {
			pthread_cond_wait(&c->slot_freed, &c->mu);
		}
	}
	if (!stopped(c)) {
		c->inflight++;
		took = true;
	}
	pthread_mutex_unlock(&c->mu);
	if (waited)
		atomic_fetch_add(&c->n_waits, 1);
	return took ? FS_OK : fs_fail(err, FS_ECANCELED, "canceled");
}

static void slot_give(struct prom_client *c)
{
	pthread_mutex_lock(&c->mu);
	c->inflight--;
	pthread_cond_signal(&c->slot_freed);
	pthread_mutex_unlock(&c->mu);
}

static int on_progress(void *userp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                       curl_off_t ulnow)
{
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return stopped(userp) ? 1 : 0;
}

/* Maps a transport failure to an error that says what to check. */
static enum fs_rc transport_error(struct fs_err *err, const struct prom_client *c, CURLcode code,
                                  const char *errbuf)
{
	const char *detail = errbuf[0] ? errbuf : curl_easy_strerror(code);

	switch (code) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return fs_fail(err, FS_ECONNECT, "cannot reach Prometheus: %s", detail);
	case CURLE_OPERATION_TIMEDOUT:
		return fs_fail(err, FS_ETIMEOUT, "no answer within %ld ms: %s", c->timeout_ms,
		               detail);
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CACERT_BADFILE:
		return fs_fail(err, FS_ETLS,
		               "the server's certificate is not trusted (give its certificate "
		               "authority, or skip verification): %s",
		               detail);
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_USE_SSL_FAILED:
		return fs_fail(err, FS_ETLS, "TLS failed: %s", detail);
	case CURLE_ABORTED_BY_CALLBACK:
		return fs_fail(err, FS_ECANCELED, "canceled");
	default:
		return fs_fail(err, FS_ECONNECT, "request failed: %s", detail);
	}
}

/*
 * POSTs `form` to `endpoint` and collects the answer: FS_OK whenever an HTTP
 * answer arrived (its status is *status, judged by the caller), an error
 * when none did.
 */
/*
 * Asks for a gzipped answer only when `large`: for the few hundred bytes of
 * an instant query, inflating costs more than it saves (zlib's 40 KB of
 * state, allocated and freed at every answer).
 */
static enum fs_rc post(long *status, struct buf *body, struct prom_client *c, const char *endpoint,
                       const struct buf *form, bool large, struct fs_err *err)
{
	char errbuf[CURL_ERROR_SIZE] = "";
	struct curl_sink sink = {body, false};
	char *url = NULL;
	CURL *h = NULL;
	CURLcode code;
	enum fs_rc rc;

	*status = 0;
	buf_reset(body);
	if (asprintf(&url, "%s%s", c->base, endpoint) < 0)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	rc = slot_take(c, err);
	if (rc != FS_OK)
		goto out;
	h = curl_pool_get(&c->pool);
	if (!h) {
		rc = fs_fail(err, FS_ENOMEM, "cannot create a curl handle");
		slot_give(c);
		goto out;
	}
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "https,http");
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	if (large)
		curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, c->headers);
	curl_easy_setopt(h, CURLOPT_POST, 1L);
	curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form->len);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, form->data);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_sink_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->insecure ? 0L : 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->insecure ? 0L : 2L);
	if (c->ca.data)
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &c->ca);
	if (c->username) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, c->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
	}
	if (c->stop) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
	}
	atomic_fetch_add(&c->n_requests, 1);
	code = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status);
	slot_give(c);
	if (sink.overflow)
		rc = fs_fail(err, FS_ETOOLARGE, "the answer is larger than %zu bytes", c->max_body);
	else if (code != CURLE_OK)
		rc = transport_error(err, c, code, errbuf);
	curl_pool_put(&c->pool, h);
out:
	free(url);
	return rc;
}

/* `kind "promql"` for messages, the PromQL on one line and cut when long. */
static void describe_query(char *out, size_t size, const char *kind, const char *promql)
{
	char shown[QUERY_SHOWN_MAX + 4];
	size_t n = 0;

	for (; promql[n] && n < QUERY_SHOWN_MAX; n++)
		shown[n] = (unsigned char)promql[n] < 0x20 ? ' ' : promql[n];
	memcpy(shown + n, promql[n] ? "..." : "", promql[n] ? 4 : 1);
	if (snprintf(out, size, "%s \"%s\"", kind, shown) < 0)
		out[0] = '\0';
}

/* Appends `key=<seconds with milliseconds>` to a form. */
static enum fs_rc form_seconds(struct buf *form, const char *key, double seconds,
                               struct fs_err *err)
{
	char num[64];
	int n = snprintf(num, sizeof(num), "%.3f", seconds);

	if (n < 0 || (size_t)n >= sizeof(num))
		return fs_fail(err, FS_EINVAL, "%s %g is out of range", key, seconds);
	return prom_form_add(form, key, num, err);
}

/* The query and the timeout, which lets Prometheus stop when the client gives up. */
static enum fs_rc form_start(struct buf *form, const struct prom_client *c, const char *promql,
                             struct fs_err *err)
{
	enum fs_rc rc = prom_form_add(form, "query", promql, err);

	if (rc == FS_OK)
		rc = form_seconds(form, "timeout", (double)c->timeout_ms / 1000.0, err);
	return rc;
}

/* Counts a call's outcome and puts the client and the query in front of a failure. */
static enum fs_rc finish_call(struct prom_client *c, enum fs_rc rc, const char *what,
                              struct fs_err *err)
{
	if (rc == FS_OK)
		return rc;
	atomic_fetch_add(&c->n_errors, 1);
	return fs_wrap(err, rc, "Prometheus %s: %s", c->shown, what);
}

enum fs_rc prom_query(struct prom_sample *out, struct prom_client *c, const char *promql, double at,
                      struct fs_err *err)
{
	char what[QUERY_SHOWN_MAX + 32];
	struct prom_sample s;
	struct buf form, body;
	long status;
	enum fs_rc rc;

	atomic_fetch_add(&c->n_queries, 1);
	describe_query(what, sizeof(what), "query", promql);
	if (at <= 0)
		at = now_s();
	buf_init(&form, FORM_MAX);
	buf_init(&body, c->max_body);
	rc = form_start(&form, c, promql, err);
	if (rc == FS_OK)
		rc = form_seconds(&form, "time", at, err);
	if (rc == FS_OK)
		rc = post(&status, &body, c, "/api/v1/query", &form, false, err);
	if (rc == FS_OK)
		rc = prom_parse_instant(&s, status, body.data, body.len, at, c->stale_after, err);
	if (rc == FS_OK)
		*out = s;
	buf_release(&form);
	buf_release(&body);
	return finish_call(c, rc, what, err);
}

const char *prom_status_name(enum prom_status status)
{
	switch (status) {
	case PROM_VALUE:
		return "value";
	case PROM_EMPTY:
		return "empty";
	case PROM_NAN:
		return "nan";
	case PROM_STALE:
		return "stale";
	case PROM_MULTI:
		return "multi";
	}
	return "unknown";
}

const char *prom_sample_describe(char *buf, size_t size, const struct prom_sample *s)
{
	int n = -1;

	if (size == 0)
		return buf;
	switch (s->status) {
	case PROM_VALUE:
		n = snprintf(buf, size, "value %g", s->value);
		break;
	case PROM_EMPTY:
		n = snprintf(buf, size,
		             "the query returned no series: nothing matched, or the data is "
		             "older than Prometheus's lookback");
		break;
	case PROM_NAN:
		n = snprintf(buf, size, "the query returned %g%s%s, not a number", s->value,
		             s->labels[0] ? " for " : "", s->labels);
		break;
	case PROM_STALE:
		n = snprintf(buf, size,
		             "the newest sample%s%s is %.0f s old at the evaluation time: the data "
		             "stopped arriving",
		             s->labels[0] ? " of " : "", s->labels, s->at - s->timestamp);
		break;
	case PROM_MULTI:
		n = snprintf(buf, size,
		             "the query returned %zu series (first %s); it must return one: "
		             "aggregate it, e.g. with sum(...)",
		             s->series, s->labels);
		break;
	}
	if (n < 0)
		buf[0] = '\0';
	return buf;
}

enum fs_rc prom_query_range(struct prom_series *out, struct prom_client *c, const char *promql,
                            double start, double end, double step, struct fs_err *err)
{
	char what[QUERY_SHOWN_MAX + 32];
	struct prom_chunk *chunks = NULL;
	struct prom_series s = {0};
	struct buf form, body;
	int64_t start_ms, end_ms, step_ms;
	size_t points, n_chunks = 0;
	enum fs_rc rc = FS_OK;

	atomic_fetch_add(&c->n_queries, 1);
	describe_query(what, sizeof(what), "range query", promql);
	buf_init(&form, FORM_MAX);
	buf_init(&body, c->max_body);
	if (!isfinite(start) || !isfinite(end) || !isfinite(step) || fabs(start) > TIME_LIMIT_S ||
	    fabs(end) > TIME_LIMIT_S || step > TIME_LIMIT_S) {
		rc = fs_fail(err, FS_EINVAL, "start, end and step must be finite unix seconds");
		goto out;
	}
	start_ms = llround(start * 1000.0);
	end_ms = llround(end * 1000.0);
	step_ms = llround(step * 1000.0);
	if (step_ms <= 0 || end_ms < start_ms) {
		rc = fs_fail(err, FS_EINVAL,
		             "the range must have end >= start and a step of at least 1 ms "
		             "(start %.3f, end %.3f, step %g)",
		             start, end, step);
		goto out;
	}
	points = prom_grid_points(start_ms, end_ms, step_ms);
	if (points > c->max_points) {
		rc = fs_fail(err, FS_ETOOLARGE,
		             "%zu points are more than the cap of %zu: use a larger step or a "
		             "shorter range",
		             points, c->max_points);
		goto out;
	}
	n_chunks = prom_plan_chunks(NULL, 0, start_ms, end_ms, step_ms, PROM_CHUNK_POINTS);
	chunks = calloc(n_chunks, sizeof(*chunks));
	if (!chunks) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto out;
	}
	prom_plan_chunks(chunks, n_chunks, start_ms, end_ms, step_ms, PROM_CHUNK_POINTS);
	rc = prom_series_grid(&s, start_ms, step_ms, points, err);
	for (size_t i = 0; i < n_chunks && rc == FS_OK; i++) {
		long status;

		buf_reset(&form);
		rc = form_start(&form, c, promql, err);
		if (rc == FS_OK)
			rc = form_seconds(&form, "start", (double)chunks[i].start_ms / 1000.0, err);
		if (rc == FS_OK)
			rc = form_seconds(&form, "end", (double)chunks[i].end_ms / 1000.0, err);
		if (rc == FS_OK)
			rc = form_seconds(&form, "step", (double)step_ms / 1000.0, err);
		if (rc == FS_OK)
			rc = post(&status, &body, c, "/api/v1/query_range", &form,
			          prom_grid_points(chunks[i].start_ms, chunks[i].end_ms, step_ms) >=
			              LARGE_POINTS,
			          err);
		if (rc == FS_OK)
			rc = prom_series_add_chunk(&s, status, body.data, body.len, err);
		s.chunks++;
		if (rc != FS_OK && n_chunks > 1)
			fs_wrap(err, rc, "chunk %zu of %zu (%.3f to %.3f)", i + 1, n_chunks,
			        (double)chunks[i].start_ms / 1000.0,
			        (double)chunks[i].end_ms / 1000.0);
	}
	if (rc == FS_OK) {
		prom_series_finish(&s);
		*out = s;
	} else {
		prom_series_release(&s);
	}
out:
	free(chunks);
	buf_release(&form);
	buf_release(&body);
	return finish_call(c, rc, what, err);
}

enum fs_rc prom_check_query(struct prom_client *c, const char *promql, struct fs_err *err)
{
	char what[QUERY_SHOWN_MAX + 32];
	json_object *root = NULL, *data;
	struct buf form, body;
	long status;
	enum fs_rc rc;

	atomic_fetch_add(&c->n_queries, 1);
	describe_query(what, sizeof(what), "query", promql);
	buf_init(&form, FORM_MAX);
	buf_init(&body, c->max_body);
	rc = form_start(&form, c, promql, err);
	if (rc == FS_OK)
		rc = post(&status, &body, c, "/api/v1/format_query", &form, false, err);
	if (rc == FS_OK && status == 404) {
		/* Older Prometheus and other servers of the API: evaluate it instead. */
		rc = form_seconds(&form, "time", now_s(), err);
		if (rc == FS_OK)
			rc = post(&status, &body, c, "/api/v1/query", &form, false, err);
	}
	if (rc == FS_OK)
		rc = prom_parse_response(&root, &data, status, body.data, body.len, err);
	json_object_put(root);
	buf_release(&form);
	buf_release(&body);
	return finish_call(c, rc, what, err);
}

void prom_client_stats(struct prom_client_stats *out, struct prom_client *c)
{
	out->queries = atomic_load(&c->n_queries);
	out->requests = atomic_load(&c->n_requests);
	out->errors = atomic_load(&c->n_errors);
	out->waits = atomic_load(&c->n_waits);
	pthread_mutex_lock(&c->mu);
	out->inflight = c->inflight;
	pthread_mutex_unlock(&c->mu);
}
