#ifndef FORESIGHT_PROM_WIRE_H
#define FORESIGHT_PROM_WIRE_H

/*
 * The pure half of the Prometheus client: what goes on the wire and what
 * comes back, without any I/O, so the unit tests drive it with fixed text.
 * prom.c sends the requests; these functions build their bodies and headers,
 * plan the chunks of a long range, and turn answers into classified samples
 * and series.
 *
 *	struct buf form;
 *	buf_init(&form, 1 << 20);
 *	prom_form_add(&form, "query", promql, &err);      // query=sum%28x%29
 *	...POST it, then:
 *	prom_parse_instant(&sample, http_status, body, len, at, 300, &err);
 *
 *	size_t n = prom_plan_chunks(NULL, 0, start_ms, end_ms, step_ms, PROM_CHUNK_POINTS);
 *	... for each chunk: POST it, then prom_series_add_chunk(&series, status, body, len, &err);
 *	prom_series_finish(&series);
 */

#include <curl/curl.h>
#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/result.h"
#include "prom/prom.h"

/* Prometheus refuses a range query of more than 11,000 points per series. */
#define PROM_CHUNK_POINTS 11000

/*
 * Appends `key=value` to an application/x-www-form-urlencoded body, with '&'
 * before it when the body is not empty; every byte but ALPHA, DIGIT and
 * "-._~" is percent-encoded.
 */
enum fs_rc prom_form_add(struct buf *form, const char *key, const char *value, struct fs_err *err);

/*
 * Builds the header lines every request carries: Accept, the form's
 * Content-Type, "Authorization: Bearer <token>" when `bearer_token` is set,
 * then the `extra` lines ("Name: value", NULL-terminated; may be NULL).
 * FS_EINVAL, naming the line by number (never its value, which may be a
 * secret), for a line without a valid name and ':', with a line break, or an
 * Authorization line next to a bearer token. *out is the caller's: free it
 * with prom_headers_free.
 */
enum fs_rc prom_build_headers(struct curl_slist **out, const char *bearer_token,
                              const char *const *extra, struct fs_err *err);

/* Frees a header list, wiping any Authorization line first. NULL is a no-op. */
void prom_headers_free(struct curl_slist *list);

/*
 * Parses a sample value as Prometheus writes it ("1.5", "1e+06", "NaN",
 * "+Inf", "-Inf"). False for anything else.
 */
bool prom_parse_value(double *out, const char *s);

/*
 * Writes a series' labels (`metric`, a JSON object; may be NULL) as
 * name{k="v",...} with quotes, backslashes and line breaks escaped, cut with
 * "..." when it does not fit. Returns `buf`.
 */
const char *prom_format_labels(char *buf, size_t size, json_object *metric);

/*
 * Turns an API answer into its `data` member: FS_OK when the HTTP status is
 * 2xx and the body is {"status":"success","data":...}. Otherwise the error,
 * with err->http_status set: Prometheus's errorType and error text when the
 * body has them (bad_data is FS_EINVAL, timeout FS_ETIMEOUT, not_found and
 * HTTP 404 FS_ENOTFOUND, 401/403 FS_EAUTH, the rest FS_EHTTP), the start of
 * the body otherwise; FS_EPARSE for a 2xx body that is not the API's JSON.
 * *root is the caller's (json_object_put); *data is borrowed from it.
 */
enum fs_rc prom_parse_response(json_object **root, json_object **data, long http_status,
                               const char *body, size_t len, struct fs_err *err);

/*
 * Classifies an instant query's `data` (see prom_query in prom.h) evaluated at
 * `at`, a sample older than `stale_after` seconds being PROM_STALE.
 */
enum fs_rc prom_classify_instant(struct prom_sample *out, json_object *data, double at,
                                 double stale_after, struct fs_err *err);

/* prom_parse_response then prom_classify_instant. */
enum fs_rc prom_parse_instant(struct prom_sample *out, long http_status, const char *body,
                              size_t len, double at, double stale_after, struct fs_err *err);

/* One request of a chunked range query, on the grid start_ms + k * step_ms. */
struct prom_chunk {
	int64_t start_ms, end_ms; /* the chunk's first and last grid points */
	size_t first;             /* grid index of start_ms */
	size_t points;            /* grid points in the chunk, at most the planned size */
};

/* Grid points in [start_ms, end_ms] every step_ms: 0 when end < start or step <= 0. */
size_t prom_grid_points(int64_t start_ms, int64_t end_ms, int64_t step_ms);

/*
 * Splits the grid of [start_ms, end_ms] every step_ms into consecutive chunks
 * of at most `per_chunk` points (per_chunk 0 counts as 1), which cover each
 * grid point exactly once. Writes at most `cap` chunks to `out` (which may be
 * NULL when cap is 0) and returns how many the grid needs.
 */
size_t prom_plan_chunks(struct prom_chunk *out, size_t cap, int64_t start_ms, int64_t end_ms,
                        int64_t step_ms, size_t per_chunk);

/*
 * Sets up `s` for a range answer of `n` points from start_ms every step_ms:
 * t filled in, v all NaN, no series seen yet. Release with prom_series_release.
 */
enum fs_rc prom_series_grid(struct prom_series *s, int64_t start_ms, int64_t step_ms, size_t n,
                            struct fs_err *err);

/*
 * Places one chunk's answer on the grid of `s`: each point goes to the slot of
 * the nearest grid time (points outside the grid are dropped; a point
 * answered twice fills its slot once), non-finite values as NaN. FS_EINVAL
 * when the chunk has more than one series or a series other than an earlier
 * chunk's; FS_EPARSE for an answer that is not a matrix; the API's errors as
 * prom_parse_response.
 */
enum fs_rc prom_series_add_chunk(struct prom_series *s, long http_status, const char *body,
                                 size_t len, struct fs_err *err);

/*
 * Ends a range answer: counts the NaN points, and when no chunk had a series
 * marks it PROM_EMPTY and frees the grid.
 */
void prom_series_finish(struct prom_series *s);

#endif
