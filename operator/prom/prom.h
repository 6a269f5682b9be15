#ifndef FORESIGHT_PROM_PROM_H
#define FORESIGHT_PROM_PROM_H

/*
 * The client of the Prometheus HTTP API (/api/v1/query, /api/v1/query_range),
 * over libcurl: where the operator reads load.
 *
 * Its promise is that an outage never reads as zero load. A query that must
 * yield one number answers with a classified sample: a finite value, or
 * precisely why there is none (no series, NaN, a stale sample, several
 * series). Transport, HTTP and API failures are `enum fs_rc` errors carrying
 * Prometheus's own errorType and message (a PromQL syntax error says where).
 * Nothing ever turns into 0.
 *
 *	struct prom_client_opts opts;
 *	prom_client_opts_init(&opts);
 *	opts.url = "http://prometheus.monitoring:9090";
 *	struct prom_client *c;
 *	if (prom_client_new(&c, &opts, &err) != FS_OK) ...
 *
 *	struct prom_sample s;
 *	if (prom_query(&s, c, "sum(rate(http_requests_total[2m]))", 0, &err) != FS_OK)
 *		... Prometheus unreachable or the query failed: err.msg says which
 *	else if (s.status != PROM_VALUE)
 *		... no usable number: prom_sample_describe() says why
 *	else
 *		use(s.value);
 *
 *	struct prom_series h;
 *	if (prom_query_range(&h, c, q, now - 7 * 86400, now, 60, &err) == FS_OK) {
 *		... h.t[k], h.v[k] for k < h.n (NaN where a step had no sample)
 *		prom_series_release(&h);
 *	}
 *	prom_client_free(c);
 *
 * Threads: a client may be used by several threads at once. Each request
 * borrows a curl handle from a small pool (connections are reused) and a slot
 * of `max_inflight`; a request that finds every slot taken waits for one, and
 * the wait is counted in the stats.
 *
 * Requests are POSTs with a form body (PromQL of any length), each with a
 * timeout that is also sent to Prometheus so it stops evaluating when the
 * client gives up. Failed requests are not retried: the caller's fallback
 * policy decides what a failure means and when to try again. Messages name
 * the Prometheus URL (without user info) and the query, never credentials.
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/result.h"

struct prom_client;

struct prom_client_opts {
	const char *url;          /* http(s)://host:port[/prefix]; required */
	const char *bearer_token; /* sent as "Authorization: Bearer ..."; NULL for none */
	const char *username;     /* basic auth, with password; not with a bearer token */
	const char *password;
	const char *ca_pem; /* certificate authorities trusted for https, PEM; NULL: system's */
	size_t ca_pem_len;
	bool insecure_skip_verify;  /* https without verifying the server's certificate */
	const char *const *headers; /* extra "Name: value" lines, NULL-terminated; may be NULL */
	long timeout_ms;            /* a whole request; default 15 000 */
	long connect_timeout_ms;    /* TCP + TLS handshake; default min(5 000, timeout_ms) */
	size_t max_body;            /* response body cap; default 32 MiB */
	unsigned max_inflight;      /* concurrent requests (--prometheus-max-inflight); default 8 */
	double stale_after;         /* seconds a sample may be older than the evaluation time
	                             * before it is PROM_STALE; default 300 */
	size_t max_points;          /* cap on the points of a range query; default 1 000 000 */
	const char *user_agent;     /* default "foresight/<version>" */
	const atomic_bool *stop;    /* when set, waits and transfers end with FS_ECANCELED */
};

/* Fills `opts` with the defaults (and no URL). */
void prom_client_opts_init(struct prom_client_opts *opts);

/*
 * Creates a client. Everything in `opts` is copied: the caller keeps its
 * strings. FS_EINVAL for a URL that is not http(s)://host..., a header line
 * that is not "Name: value" or holds a line break, or a bearer token together
 * with basic auth (or with an Authorization header). Free with
 * prom_client_free.
 */
enum fs_rc prom_client_new(struct prom_client **out, const struct prom_client_opts *opts,
                           struct fs_err *err);

/* Closes connections and frees the client (credentials are wiped). NULL is a no-op. */
void prom_client_free(struct prom_client *c);

/* The client's URL as shown in messages, user info removed (owned by the client). */
const char *prom_client_url(const struct prom_client *c);

/* How an instant query's answer reads as one number. */
enum prom_status {
	PROM_VALUE, /* one finite number, fresh */
	PROM_EMPTY, /* no series: nothing matched, or the data is older than Prometheus's
	             * lookback (5 minutes by default) — an outage, never zero */
	PROM_NAN,   /* the number is NaN or ±Inf (0/0, a division by a zero rate) */
	PROM_STALE, /* the sample is older than stale_after at the evaluation time */
	PROM_MULTI, /* several series: the query must be fixed to return one */
};

#define PROM_LABELS_MAX 256

struct prom_sample {
	enum prom_status status;
	double value;     /* the number; NaN for PROM_EMPTY and PROM_MULTI */
	double timestamp; /* unix seconds of the sample; 0 for PROM_EMPTY and PROM_MULTI */
	double at;        /* unix seconds the query was evaluated at */
	size_t series;    /* series in the answer: 0, 1, or the count for PROM_MULTI */
	char labels[PROM_LABELS_MAX]; /* the (first) series, as name{k="v"}; cut with "..." */
};

/*
 * Evaluates `promql` at `at` (unix seconds; 0: now) and classifies the answer
 * into *out (see enum prom_status). The answer may be a scalar, a vector, or a
 * matrix (a range selector such as `load[10m]`), whose newest sample counts:
 * Prometheus stamps vector samples with the evaluation time, so only a matrix
 * shows how old the newest raw sample really is.
 *
 * Returns FS_OK for every classified answer, PROM_MULTI included (its
 * prom_sample_describe() sentence is the error to show the user). Fails with
 * FS_ECONNECT, FS_ETLS, FS_ETIMEOUT, FS_ECANCELED for transport failures;
 * FS_EINVAL for Prometheus's bad_data (a syntax error, with its position) or
 * an answer that is not a number (a string); FS_EAUTH for 401/403;
 * FS_ENOTFOUND for 404 (no API at that URL); FS_EHTTP for other API errors;
 * FS_EPARSE for an answer that is not the API's JSON; FS_ETOOLARGE past
 * max_body. *out is untouched on failure.
 */
enum fs_rc prom_query(struct prom_sample *out, struct prom_client *c, const char *promql, double at,
                      struct fs_err *err);

/* A stable lower-case name of a status ("value", "empty", "nan", "stale", "multi"). */
const char *prom_status_name(enum prom_status status);

/*
 * Writes a sentence about `s` for conditions, events and logs, e.g. "the query
 * returned 3 series (first web{pod=\"a\"}); it must return one: aggregate it,
 * e.g. with sum(...)". Returns `buf`.
 */
const char *prom_sample_describe(char *buf, size_t size, const struct prom_sample *s);

/* A range query's answer on the step grid. */
struct prom_series {
	enum prom_status status;      /* PROM_VALUE, or PROM_EMPTY when no step had a series */
	double start, step;           /* t[k] = start + k * step, in unix seconds */
	size_t n;                     /* grid points; 0 for PROM_EMPTY */
	double *t, *v;                /* n each; v[k] is NaN where the step had no sample or a
	                               * NaN/±Inf value; NULL for PROM_EMPTY */
	size_t n_nan;                 /* how many v[k] are NaN */
	unsigned chunks;              /* requests the range was split into */
	char labels[PROM_LABELS_MAX]; /* the series */
	unsigned long long identity;  /* the series' labels hashed, to match it across chunks */
};

/*
 * Evaluates `promql` over [start, end] every `step` seconds (times in unix
 * seconds, to the millisecond), for a query that yields one series. The grid
 * is start + k * step up to end; a step without a sample is NaN, so gaps are
 * explicit. Prometheus refuses more than 11,000 points a series, so a longer
 * range is split into chunks of at most that many steps, queried one after
 * the other and placed on the grid (a point answered twice fills its slot
 * once). Zero series over the whole range is PROM_EMPTY; more than one series
 * (in a chunk, or different ones in different chunks) fails with FS_EINVAL
 * naming the count. FS_ETOOLARGE when the grid has more than max_points
 * points (nothing is requested); FS_EINVAL for a bad range or step; other
 * failures as for prom_query. On success *out owns the arrays: free them with
 * prom_series_release. *out is untouched on failure.
 */
enum fs_rc prom_query_range(struct prom_series *out, struct prom_client *c, const char *promql,
                            double start, double end, double step, struct fs_err *err);

/* Frees the arrays of a series and empties it. */
void prom_series_release(struct prom_series *s);

/*
 * Checks that `promql` parses, for the InvalidSpec condition: FS_OK when it
 * does; FS_EINVAL with Prometheus's bad_data message (position included) when
 * it does not — the spec's fault. Any other failure (Prometheus down, an
 * authentication error) is returned as it is, and is not the spec's fault.
 * Uses /api/v1/format_query, which evaluates nothing; a server without it
 * (404) gets an instant query instead.
 */
enum fs_rc prom_check_query(struct prom_client *c, const char *promql, struct fs_err *err);

/* Counters of what the client did, for /metrics and tests. */
struct prom_client_stats {
	unsigned long queries;  /* prom_query, prom_query_range and prom_check_query calls */
	unsigned long requests; /* HTTP requests sent (a range query may need several) */
	unsigned long errors;   /* calls that failed */
	unsigned long waits;    /* requests that waited for a max_inflight slot */
	unsigned inflight;      /* requests running now */
};
void prom_client_stats(struct prom_client_stats *out, struct prom_client *c);

#endif
