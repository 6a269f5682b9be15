/*
 * Unit tests of the Prometheus client's pure half (operator/prom/wire) and of
 * what the client decides before any request (operator/prom/prom): request
 * bodies and headers, answer parsing, classification, chunk planning and
 * stitching. The end-to-end tests (tests/e2e/test_prom.sh) run it against a
 * real Prometheus.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom/prom.h"
#include "prom/wire.h"

/* --- request construction ------------------------------------------------ */

static void form_is_percent_encoded(void **state)
{
	struct fs_err err;
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(prom_form_add(&b, "query", "sum(rate(x{a=\"b c\"}[5m])) & 1+1=2", &err),
	                 FS_OK);
	assert_int_equal(prom_form_add(&b, "time", "1700000000.250", &err), FS_OK);
	assert_string_equal(b.data, "query=sum%28rate%28x%7Ba%3D%22b%20c%22%7D%5B5m%5D%29%29%20%26"
	                            "%201%2B1%3D2&time=1700000000.250");
	/* Bytes above 0x7f and line breaks (multi-line PromQL) are encoded too. */
	buf_reset(&b);
	assert_int_equal(prom_form_add(&b, "q", "a\n\xc3\xbc~-._", &err), FS_OK);
	assert_string_equal(b.data, "q=a%0A%C3%BC~-._");
	/* The body's cap holds. */
	buf_release(&b);
	buf_init(&b, 7);
	assert_int_equal(prom_form_add(&b, "query", "up", &err), FS_ETOOLARGE);
	buf_release(&b);
}

static size_t count_lines(const struct curl_slist *l)
{
	size_t n = 0;

	for (; l; l = l->next)
		n++;
	return n;
}

static void headers_carry_token_and_extras(void **state)
{
	const char *extra[] = {"X-Scope-OrgID: tenant-a", "Cookie:a=b", NULL};
	struct curl_slist *h = NULL;
	const struct curl_slist *l;
	struct fs_err err;

	(void)state;
	assert_int_equal(prom_build_headers(&h, "tok-123", extra, &err), FS_OK);
	assert_int_equal(count_lines(h), 5);
	l = h;
	assert_string_equal(l->data, "Accept: application/json");
	l = l->next;
	assert_string_equal(l->data, "Content-Type: application/x-www-form-urlencoded");
	l = l->next;
	assert_string_equal(l->data, "Authorization: Bearer tok-123");
	l = l->next;
	assert_string_equal(l->data, "X-Scope-OrgID: tenant-a");
	l = l->next;
	assert_string_equal(l->data, "Cookie:a=b");
	assert_null(l->next);
	prom_headers_free(h);

	/* Without a token or extras: only the two fixed lines. */
	assert_int_equal(prom_build_headers(&h, NULL, NULL, &err), FS_OK);
	assert_int_equal(count_lines(h), 2);
	prom_headers_free(h);
	prom_headers_free(NULL);
}

static void bad_headers_are_refused_without_their_value(void **state)
{
	const char *no_colon[] = {"X-Ok: 1", "secret-value-without-colon", NULL};
	const char *crlf[] = {"X-A: b\r\nX-Injected: 1", NULL};
	const char *space[] = {"X A: b", NULL};
	const char *empty[] = {": value", NULL};
	const char *semicolon[] = {"X-Empty;", NULL};
	const char *auth[] = {"authorization: Basic c2VjcmV0", NULL};
	struct curl_slist *h = NULL;
	struct fs_err err;

	(void)state;
	assert_int_equal(prom_build_headers(&h, NULL, no_colon, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "header 2"));
	assert_null(strstr(err.msg, "secret"));
	assert_int_equal(prom_build_headers(&h, NULL, crlf, &err), FS_EINVAL);
	assert_null(strstr(err.msg, "Injected"));
	assert_int_equal(prom_build_headers(&h, NULL, space, &err), FS_EINVAL);
	assert_int_equal(prom_build_headers(&h, NULL, empty, &err), FS_EINVAL);
	assert_int_equal(prom_build_headers(&h, NULL, semicolon, &err), FS_EINVAL);
	/* An Authorization header is fine alone, not next to a bearer token. */
	assert_int_equal(prom_build_headers(&h, NULL, auth, &err), FS_OK);
	prom_headers_free(h);
	assert_int_equal(prom_build_headers(&h, "tok", auth, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "Authorization"));
	assert_null(strstr(err.msg, "c2VjcmV0"));
	assert_int_equal(prom_build_headers(&h, "tok\nX-Evil: 1", NULL, &err), FS_EINVAL);
	assert_null(strstr(err.msg, "Evil"));
}

/* --- values and labels ---------------------------------------------------- */

static void values_parse_as_prometheus_writes_them(void **state)
{
	double v;

	(void)state;
	assert_true(prom_parse_value(&v, "1.5"));
	assert_true(v == 1.5);
	assert_true(prom_parse_value(&v, "1e+06"));
	assert_true(v == 1e6);
	assert_true(prom_parse_value(&v, "-0.25"));
	assert_true(v == -0.25);
	assert_true(prom_parse_value(&v, "NaN"));
	assert_true(isnan(v));
	assert_true(prom_parse_value(&v, "+Inf"));
	assert_true(isinf(v) && v > 0);
	assert_true(prom_parse_value(&v, "-Inf"));
	assert_true(isinf(v) && v < 0);
	v = 7;
	assert_false(prom_parse_value(&v, ""));
	assert_false(prom_parse_value(&v, " 1"));
	assert_false(prom_parse_value(&v, "1x"));
	assert_false(prom_parse_value(&v, "abc"));
	assert_false(prom_parse_value(&v, NULL));
	assert_true(v == 7);
}

static void labels_format_like_promql(void **state)
{
	json_object *m = json_tokener_parse(
	    "{\"__name__\":\"http_requests_total\",\"job\":\"web\",\"path\":\"/a\\\"b\\\\c\\nd\"}");
	json_object *anon = json_tokener_parse("{\"pod\":\"a\"}");
	json_object *name_only = json_tokener_parse("{\"__name__\":\"up\"}");
	json_object *none = json_tokener_parse("{}");
	char buf[PROM_LABELS_MAX], tiny[20];

	(void)state;
	assert_string_equal(prom_format_labels(buf, sizeof(buf), m),
	                    "http_requests_total{job=\"web\", path=\"/a\\\"b\\\\c\\nd\"}");
	assert_string_equal(prom_format_labels(buf, sizeof(buf), anon), "{pod=\"a\"}");
	assert_string_equal(prom_format_labels(buf, sizeof(buf), name_only), "up");
	assert_string_equal(prom_format_labels(buf, sizeof(buf), none), "{}");
	assert_string_equal(prom_format_labels(buf, sizeof(buf), NULL), "{}");
	/* Cut visibly, never overflowed. */
	prom_format_labels(tiny, sizeof(tiny), m);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
	assert_string_equal(tiny + strlen(tiny) - 3, "...");
	assert_memory_equal(tiny, "http_requests_to", 16);
	json_object_put(m);
	json_object_put(anon);
	json_object_put(name_only);
	json_object_put(none);
}

/* --- API answers ------------------------------------------------------------ */

static enum fs_rc response(long status, const char *body, struct fs_err *err)
{
	json_object *root = NULL, *data = NULL;
	enum fs_rc rc = prom_parse_response(&root, &data, status, body, strlen(body), err);

	if (rc == FS_OK)
		assert_non_null(data);
	json_object_put(root);
	return rc;
}

static void api_errors_keep_prometheus_words(void **state)
{
	struct fs_err err;

	(void)state;
	assert_int_equal(
	    response(200,
	             "{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":[]}}",
	             &err),
	    FS_OK);
	assert_int_equal(
	    response(400,
	             "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"invalid "
	             "parameter \\\"query\\\": 1:15: parse error: unclosed left "
	             "parenthesis\"}",
	             &err),
	    FS_EINVAL);
	assert_int_equal(err.http_status, 400);
	assert_string_equal(err.msg, "bad_data: invalid parameter \"query\": 1:15: parse error: "
	                             "unclosed left parenthesis");
	assert_int_equal(
	    response(422,
	             "{\"status\":\"error\",\"errorType\":\"execution\",\"error\":\"found "
	             "duplicate series\"}",
	             &err),
	    FS_EHTTP);
	assert_string_equal(err.msg, "execution: found duplicate series");
	assert_int_equal(
	    response(503,
	             "{\"status\":\"error\",\"errorType\":\"timeout\",\"error\":\"query "
	             "timed out in expression evaluation\"}",
	             &err),
	    FS_ETIMEOUT);
	assert_int_equal(response(401, "Unauthorized\n", &err), FS_EAUTH);
	assert_string_equal(err.msg, "HTTP 401: Unauthorized");
	assert_int_equal(err.http_status, 401);
	assert_int_equal(response(403, "", &err), FS_EAUTH);
	assert_string_equal(err.msg, "HTTP 403");
	assert_int_equal(response(404, "404 page not found\n", &err), FS_ENOTFOUND);
	assert_non_null(strstr(err.msg, "no Prometheus API at this URL"));
	assert_int_equal(response(502, "<html>\r\n<body>Bad\tGateway</body></html>", &err),
	                 FS_EHTTP);
	assert_string_equal(err.msg, "HTTP 502: <html>  <body>Bad Gateway</body></html>");
	assert_int_equal(response(200, "<html>hello</html>", &err), FS_EPARSE);
	assert_non_null(strstr(err.msg, "not an answer of the Prometheus API"));
	assert_int_equal(response(200, "{\"status\":\"success\"}", &err), FS_EPARSE);
	assert_int_equal(response(200, "{\"status\":\"success\",\"data\":", &err), FS_EPARSE);
	assert_non_null(
	    strstr(err.msg, "\": the JSON ends before it is complete (a truncated answer)"));
	assert_int_equal(response(200, "<html>hello</html>", &err), FS_EPARSE);
	assert_null(strstr(err.msg, "truncated"));
	/* A long error body is quoted only in part. */
	{
		char big[4096];

		memset(big, 'x', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		assert_int_equal(response(500, big, &err), FS_EHTTP);
		assert_true(strlen(err.msg) < 260);
	}
}

static enum fs_rc instant(struct prom_sample *s, const char *body, double at, struct fs_err *err)
{
	return prom_parse_instant(s, 200, body, strlen(body), at, 300, err);
}

#define VEC(result) \
	"{\"status\":\"success\",\"data\":{\"resultType\":\"vector\",\"result\":" result "}}"
#define MAT(result) \
	"{\"status\":\"success\",\"data\":{\"resultType\":\"matrix\",\"result\":" result "}}"
#define SCALAR(pair) \
	"{\"status\":\"success\",\"data\":{\"resultType\":\"scalar\",\"result\":" pair "}}"

static void instant_answers_are_classified(void **state)
{
	struct prom_sample s;
	struct fs_err err;
	char why[512];

	(void)state;
	/* One series with a finite value. */
	assert_int_equal(instant(&s,
	                         VEC("[{\"metric\":{\"job\":\"t\"},\"value\":[1000,\"12.5\"]}]"),
	                         1000, &err),
	                 FS_OK);
	assert_int_equal(s.status, PROM_VALUE);
	assert_true(s.value == 12.5);
	assert_true(s.timestamp == 1000);
	assert_int_equal(s.series, 1);
	assert_string_equal(s.labels, "{job=\"t\"}");
	/* A scalar. */
	assert_int_equal(instant(&s, SCALAR("[1000.5,\"3\"]"), 1000.5, &err), FS_OK);
	assert_int_equal(s.status, PROM_VALUE);
	assert_true(s.value == 3);
	assert_string_equal(s.labels, "");
	/* Zero is a value, not an absence. */
	assert_int_equal(instant(&s, VEC("[{\"metric\":{},\"value\":[1000,\"0\"]}]"), 1000, &err),
	                 FS_OK);
	assert_int_equal(s.status, PROM_VALUE);
	assert_true(s.value == 0);
	/* No series is empty, never 0. */
	assert_int_equal(instant(&s, VEC("[]"), 1000, &err), FS_OK);
	assert_int_equal(s.status, PROM_EMPTY);
	assert_true(isnan(s.value));
	assert_int_equal(s.series, 0);
	assert_non_null(strstr(prom_sample_describe(why, sizeof(why), &s), "no series"));
	/* NaN and infinities. */
	assert_int_equal(instant(&s, VEC("[{\"metric\":{},\"value\":[1000,\"NaN\"]}]"), 1000, &err),
	                 FS_OK);
	assert_int_equal(s.status, PROM_NAN);
	assert_true(isnan(s.value));
	assert_int_equal(instant(&s, SCALAR("[1000,\"+Inf\"]"), 1000, &err), FS_OK);
	assert_int_equal(s.status, PROM_NAN);
	assert_true(isinf(s.value));
	assert_int_equal(instant(&s, SCALAR("[1000,\"-Inf\"]"), 1000, &err), FS_OK);
	assert_int_equal(s.status, PROM_NAN);
	/* Several series: the count and the first one's labels. */
	assert_int_equal(
	    instant(&s,
	            VEC("[{\"metric\":{\"__name__\":\"load\",\"pod\":\"a\"},\"value\":"
	                "[1000,\"1\"]},{\"metric\":{\"pod\":\"b\"},\"value\":[1000,\"2\"]},"
	                "{\"metric\":{\"pod\":\"c\"},\"value\":[1000,\"3\"]}]"),
	            1000, &err),
	    FS_OK);
	assert_int_equal(s.status, PROM_MULTI);
	assert_int_equal(s.series, 3);
	assert_true(isnan(s.value));
	assert_string_equal(s.labels, "load{pod=\"a\"}");
	prom_sample_describe(why, sizeof(why), &s);
	assert_non_null(strstr(why, "3 series"));
	assert_non_null(strstr(why, "load{pod=\"a\"}"));
	assert_string_equal(prom_status_name(s.status), "multi");
}

static void staleness_is_judged_on_raw_sample_times(void **state)
{
	struct prom_sample s;
	struct fs_err err;
	char why[512];

	(void)state;
	/* A matrix: the newest raw sample counts, with its own timestamp. */
	assert_int_equal(instant(&s,
	                         MAT("[{\"metric\":{\"job\":\"t\"},\"values\":[[1000,\"1\"],[1060,"
	                             "\"2\"]]}]"),
	                         1060 + 299, &err),
	                 FS_OK);
	assert_int_equal(s.status, PROM_VALUE);
	assert_true(s.value == 2);
	assert_true(s.timestamp == 1060);
	/* Exactly at the limit is still fresh; past it is stale, value kept. */
	assert_int_equal(
	    instant(&s, MAT("[{\"metric\":{},\"values\":[[1060,\"2\"]]}]"), 1360, &err), FS_OK);
	assert_int_equal(s.status, PROM_VALUE);
	assert_int_equal(
	    instant(&s, MAT("[{\"metric\":{},\"values\":[[1060,\"2\"]]}]"), 1661, &err), FS_OK);
	assert_int_equal(s.status, PROM_STALE);
	assert_true(s.value == 2);
	assert_true(s.timestamp == 1060);
	assert_non_null(strstr(prom_sample_describe(why, sizeof(why), &s), "601 s old"));
	/* An old NaN is stale first: the data stopped, whatever it said. */
	assert_int_equal(instant(&s, VEC("[{\"metric\":{},\"value\":[1000,\"NaN\"]}]"), 2000, &err),
	                 FS_OK);
	assert_int_equal(s.status, PROM_STALE);
	/* A vector stamped with the evaluation time is fresh. */
	assert_int_equal(instant(&s, VEC("[{\"metric\":{},\"value\":[2000,\"4\"]}]"), 2000, &err),
	                 FS_OK);
	assert_int_equal(s.status, PROM_VALUE);
	/* A matrix with several series or none. */
	assert_int_equal(
	    instant(&s,
	            MAT("[{\"metric\":{\"a\":\"1\"},\"values\":[[1,\"1\"]]},{\"metric\":"
	                "{\"a\":\"2\"},\"values\":[[1,\"1\"]]}]"),
	            1, &err),
	    FS_OK);
	assert_int_equal(s.status, PROM_MULTI);
	assert_int_equal(instant(&s, MAT("[{\"metric\":{},\"values\":[]}]"), 1, &err), FS_OK);
	assert_int_equal(s.status, PROM_EMPTY);
	assert_int_equal(instant(&s, MAT("[]"), 1, &err), FS_OK);
	assert_int_equal(s.status, PROM_EMPTY);
}

static void answers_that_are_not_numbers_fail(void **state)
{
	struct prom_sample s = {.status = PROM_VALUE, .value = 42};
	struct fs_err err;

	(void)state;
	assert_int_equal(instant(&s,
	                         "{\"status\":\"success\",\"data\":{\"resultType\":\"string\","
	                         "\"result\":[1,\"a\"]}}",
	                         1, &err),
	                 FS_EINVAL);
	assert_non_null(strstr(err.msg, "string"));
	assert_int_equal(
	    instant(&s, VEC("[{\"metric\":{},\"histogram\":[1,{\"count\":\"1\"}]}]"), 1, &err),
	    FS_EINVAL);
	assert_non_null(strstr(err.msg, "histogram"));
	assert_int_equal(instant(&s, VEC("[{\"metric\":{},\"value\":[1,2]}]"), 1, &err), FS_EPARSE);
	assert_int_equal(instant(&s, VEC("[{\"metric\":{},\"value\":[1,\"x\"]}]"), 1, &err),
	                 FS_EPARSE);
	assert_int_equal(instant(&s, VEC("[{\"metric\":{},\"value\":[1]}]"), 1, &err), FS_EPARSE);
	assert_int_equal(instant(&s, VEC("[{\"metric\":{}}]"), 1, &err), FS_EPARSE);
	assert_int_equal(instant(&s,
	                         "{\"status\":\"success\",\"data\":{\"resultType\":\"other\","
	                         "\"result\":[]}}",
	                         1, &err),
	                 FS_EPARSE);
	assert_int_equal(instant(&s, "{\"status\":\"success\",\"data\":{}}", 1, &err), FS_EPARSE);
	/* Failures leave the sample as it was. */
	assert_int_equal(s.status, PROM_VALUE);
	assert_true(s.value == 42);
}

/* --- chunk planning ----------------------------------------------------------- */

static void grid_counts_points(void **state)
{
	(void)state;
	assert_int_equal(prom_grid_points(0, 0, 1000), 1);
	assert_int_equal(prom_grid_points(0, 60000, 1000), 61);
	assert_int_equal(prom_grid_points(0, 60999, 1000), 61); /* the grid stops before end */
	assert_int_equal(prom_grid_points(10, 0, 1000), 0);
	assert_int_equal(prom_grid_points(0, 10, 0), 0);
	assert_int_equal(prom_grid_points(0, 10, -5), 0);
	assert_int_equal(prom_grid_points(-5000, 5000, 1000), 11);
}

/* Checks a plan: consecutive chunks covering every grid point once. */
static void check_plan(int64_t start, int64_t end, int64_t step, size_t per)
{
	size_t total = prom_grid_points(start, end, step);
	size_t n = prom_plan_chunks(NULL, 0, start, end, step, per);
	struct prom_chunk *ch = calloc(n ? n : 1, sizeof(*ch));
	size_t next = 0;

	assert_non_null(ch);
	assert_int_equal(prom_plan_chunks(ch, n, start, end, step, per), n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(ch[i].first, next);
		assert_true(ch[i].points >= 1 && ch[i].points <= (per ? per : 1));
		assert_true(ch[i].start_ms == start + (int64_t)ch[i].first * step);
		assert_true(ch[i].end_ms == ch[i].start_ms + (int64_t)(ch[i].points - 1) * step);
		assert_true(ch[i].end_ms <= end);
		/* What Prometheus checks: (end - start) / step must not exceed 11,000. */
		assert_true((ch[i].end_ms - ch[i].start_ms) / step < PROM_CHUNK_POINTS);
		next += ch[i].points;
	}
	assert_int_equal(next, total);
	free(ch);
}

static void chunks_cover_the_grid_once(void **state)
{
	struct prom_chunk ch[3];
	int64_t day = 86400000;

	(void)state;
	/* 11,000 points fit one request; one more needs a second. */
	assert_int_equal(prom_plan_chunks(NULL, 0, 0, 10999 * 1000LL, 1000, PROM_CHUNK_POINTS), 1);
	assert_int_equal(prom_plan_chunks(ch, 3, 0, 11000 * 1000LL, 1000, PROM_CHUNK_POINTS), 2);
	assert_int_equal(ch[0].first, 0);
	assert_int_equal(ch[0].points, 11000);
	assert_true(ch[0].start_ms == 0 && ch[0].end_ms == 10999000);
	assert_int_equal(ch[1].first, 11000);
	assert_int_equal(ch[1].points, 1);
	assert_true(ch[1].start_ms == 11000000 && ch[1].end_ms == 11000000);
	/* Nothing to plan for an empty grid; a short cap still reports the need. */
	assert_int_equal(prom_plan_chunks(ch, 3, 10, 0, 1000, PROM_CHUNK_POINTS), 0);
	assert_int_equal(prom_plan_chunks(ch, 1, 0, 7 * day, 10000, PROM_CHUNK_POINTS), 6);
	assert_int_equal(ch[0].points, 11000);
	/* 7 days at 1 minute: 10,081 points, one request. */
	assert_int_equal(prom_plan_chunks(NULL, 0, 0, 7 * day, 60000, PROM_CHUNK_POINTS), 1);
	/* A million points: 91 requests. */
	assert_int_equal(prom_plan_chunks(NULL, 0, 0, 999999LL * 1000, 1000, PROM_CHUNK_POINTS),
	                 91);
	check_plan(0, 11000 * 1000LL, 1000, PROM_CHUNK_POINTS);
	check_plan(1700000000123LL, 1700000000123LL + 2 * day, 10000, PROM_CHUNK_POINTS);
	check_plan(1700000000000LL, 1700000000000LL + 2 * day + 777, 15000, PROM_CHUNK_POINTS);
	check_plan(-3 * day, 3 * day, 7000, PROM_CHUNK_POINTS);
	check_plan(0, 100, 1, 7);
	check_plan(0, 100, 1, 0);
	check_plan(5, 5, 1000, PROM_CHUNK_POINTS);
	for (int64_t i = 1; i < 200; i++)
		check_plan(i * 37, i * 37 + i * i * 991, 1 + i % 13, (size_t)(1 + i % 17));
}

/* --- range answers ------------------------------------------------------------- */

static enum fs_rc add(struct prom_series *s, const char *body, struct fs_err *err)
{
	return prom_series_add_chunk(s, 200, body, strlen(body), err);
}

static void chunks_stitch_onto_the_grid(void **state)
{
	struct prom_series s;
	struct fs_err err;

	(void)state;
	/* A grid of 8 points from t=100 s every 10 s, answered in two chunks. */
	assert_int_equal(prom_series_grid(&s, 100000, 10000, 8, &err), FS_OK);
	assert_int_equal(s.status, PROM_EMPTY);
	assert_true(s.t[0] == 100 && s.t[7] == 170);
	assert_true(s.start == 100 && s.step == 10);
	assert_int_equal(add(&s,
	                     MAT("[{\"metric\":{\"job\":\"t\"},\"values\":[[100,\"1\"],[110,\"2\"],"
	                         "[130,\"NaN\"]]}]"),
	                     &err),
	                 FS_OK);
	/* The second chunk repeats the boundary point 130 and has a gap at 150. */
	assert_int_equal(add(&s,
	                     MAT("[{\"metric\":{\"job\":\"t\"},\"values\":[[130,\"4\"],[140,\"5\"],"
	                         "[160,\"+Inf\"],[170.0004,\"8\"],[180,\"9\"],[50,\"0\"]]}]"),
	                     &err),
	                 FS_OK);
	prom_series_finish(&s);
	assert_int_equal(s.status, PROM_VALUE);
	assert_int_equal(s.n, 8);
	assert_string_equal(s.labels, "{job=\"t\"}");
	assert_true(s.v[0] == 1 && s.v[1] == 2);
	assert_true(isnan(s.v[2]));                /* no sample at 120 */
	assert_true(s.v[3] == 4);                  /* answered twice, one slot */
	assert_true(s.v[4] == 5 && isnan(s.v[5])); /* gap at 150 */
	assert_true(isnan(s.v[6]));                /* +Inf is not a number to forecast */
	assert_true(s.v[7] == 8);                  /* off by a fraction: nearest slot */
	assert_int_equal(s.n_nan, 3);
	prom_series_release(&s);
	assert_null(s.t);
	assert_null(s.v);
	assert_int_equal(s.n, 0);
	prom_series_release(&s);
}

static void range_series_must_be_one(void **state)
{
	struct prom_series s;
	struct fs_err err;

	(void)state;
	/* An empty first chunk, then the series: it started during the range. */
	assert_int_equal(prom_series_grid(&s, 0, 1000, 4, &err), FS_OK);
	assert_int_equal(add(&s, MAT("[]"), &err), FS_OK);
	assert_int_equal(add(&s, MAT("[{\"metric\":{\"a\":\"1\"},\"values\":[[3,\"3\"]]}]"), &err),
	                 FS_OK);
	/* A different series later on is a second series. */
	assert_int_equal(add(&s, MAT("[{\"metric\":{\"a\":\"2\"},\"values\":[[2,\"2\"]]}]"), &err),
	                 FS_EINVAL);
	assert_non_null(strstr(err.msg, "2 series"));
	assert_non_null(strstr(err.msg, "{a=\"1\"}, then {a=\"2\"}"));
	prom_series_release(&s);

	assert_int_equal(prom_series_grid(&s, 0, 1000, 4, &err), FS_OK);
	assert_int_equal(
	    add(&s,
	        MAT("[{\"metric\":{\"pod\":\"a\"},\"values\":[]},{\"metric\":{\"pod\":"
	            "\"b\"},\"values\":[]},{\"metric\":{\"pod\":\"c\"},\"values\":[]}]"),
	        &err),
	    FS_EINVAL);
	assert_non_null(strstr(err.msg, "3 series (first {pod=\"a\"})"));
	/* Not a matrix, or an API error. */
	assert_int_equal(add(&s, VEC("[]"), &err), FS_EPARSE);
	assert_int_equal(
	    prom_series_add_chunk(
	        &s, 400,
	        "{\"status\":\"error\",\"errorType\":\"bad_data\",\"error\":\"exceeded maximum "
	        "resolution of 11,000 points per timeseries\"}",
	        120, &err),
	    FS_EINVAL);
	assert_non_null(strstr(err.msg, "11,000"));
	assert_int_equal(add(&s, MAT("[{\"metric\":{},\"values\":[[1,1]]}]"), &err), FS_EPARSE);
	prom_series_release(&s);

	/* No series in any chunk: empty, and nothing is kept. */
	assert_int_equal(prom_series_grid(&s, 0, 1000, 4, &err), FS_OK);
	assert_int_equal(add(&s, MAT("[]"), &err), FS_OK);
	assert_int_equal(add(&s, MAT("[]"), &err), FS_OK);
	prom_series_finish(&s);
	assert_int_equal(s.status, PROM_EMPTY);
	assert_int_equal(s.n, 0);
	assert_null(s.t);
	assert_null(s.v);
	prom_series_release(&s);
}

/* --- the client before any request ----------------------------------------------- */

static enum fs_rc new_client(struct prom_client **c, const char *url, struct fs_err *err)
{
	struct prom_client_opts o;

	prom_client_opts_init(&o);
	o.url = url;
	return prom_client_new(c, &o, err);
}

static void client_options_are_checked(void **state)
{
	const char *bad_headers[] = {"nope", NULL};
	struct prom_client_opts o;
	struct prom_client *c = NULL;
	struct fs_err err;

	(void)state;
	assert_int_equal(new_client(&c, NULL, &err), FS_EINVAL);
	assert_int_equal(new_client(&c, "", &err), FS_EINVAL);
	assert_int_equal(new_client(&c, "prometheus:9090", &err), FS_EINVAL);
	assert_int_equal(new_client(&c, "ftp://prometheus:9090", &err), FS_EINVAL);
	assert_int_equal(new_client(&c, "http://", &err), FS_EINVAL);
	assert_int_equal(new_client(&c, "http:///api", &err), FS_EINVAL);
	assert_int_equal(new_client(&c, "http://user:pw@/x", &err), FS_EINVAL);
	assert_null(strstr(err.msg, "pw"));
	assert_int_equal(new_client(&c, "http://p:9090/?x=1", &err), FS_EINVAL);
	assert_int_equal(new_client(&c, "http://p:9090/#top", &err), FS_EINVAL);
	assert_null(c);

	prom_client_opts_init(&o);
	o.url = "http://p:9090";
	o.bearer_token = "t";
	o.username = "u";
	o.password = "p";
	assert_int_equal(prom_client_new(&c, &o, &err), FS_EINVAL);
	o.bearer_token = NULL;
	o.password = NULL;
	assert_int_equal(prom_client_new(&c, &o, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "username and a password"));
	o.username = NULL;
	o.headers = bad_headers;
	assert_int_equal(prom_client_new(&c, &o, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "Prometheus http://p:9090: header 1"));
	assert_null(c);
	prom_client_free(NULL);
}

static void client_url_hides_user_info(void **state)
{
	struct prom_client *c = NULL;
	struct fs_err err;

	(void)state;
	assert_int_equal(new_client(&c, "https://admin:s3cret@prom.example:9090/prefix//", &err),
	                 FS_OK);
	assert_string_equal(prom_client_url(c), "https://prom.example:9090/prefix");
	prom_client_free(c);
	assert_int_equal(new_client(&c, "http://u:p@ss@prom:9090", &err), FS_OK);
	assert_string_equal(prom_client_url(c), "http://prom:9090");
	prom_client_free(c);
	assert_int_equal(new_client(&c, "HTTP://p:9090", &err), FS_OK);
	assert_string_equal(prom_client_url(c), "HTTP://p:9090");
	prom_client_free(c);
}

static void range_arguments_are_checked_before_any_request(void **state)
{
	struct prom_client_opts o;
	struct prom_client_stats st;
	struct prom_client *c;
	struct prom_series s = {.n = 77};
	struct fs_err err;

	(void)state;
	prom_client_opts_init(&o);
	/* Port 9 (discard) is not listened on: a request would fail, none must be made. */
	o.url = "http://127.0.0.1:9";
	o.max_points = 1000;
	assert_int_equal(prom_client_new(&c, &o, &err), FS_OK);
	assert_int_equal(prom_query_range(&s, c, "up", 100, 50, 10, &err), FS_EINVAL);
	assert_int_equal(prom_query_range(&s, c, "up", 0, 100, 0, &err), FS_EINVAL);
	assert_int_equal(prom_query_range(&s, c, "up", 0, 100, 0.0001, &err), FS_EINVAL);
	assert_int_equal(prom_query_range(&s, c, "up", NAN, 100, 1, &err), FS_EINVAL);
	assert_int_equal(prom_query_range(&s, c, "up", 0, INFINITY, 1, &err), FS_EINVAL);
	assert_int_equal(prom_query_range(&s, c, "up", 0, 1000, 1, &err), FS_ETOOLARGE);
	assert_non_null(strstr(err.msg, "1001 points are more than the cap of 1000"));
	assert_non_null(strstr(err.msg, "Prometheus http://127.0.0.1:9: range query \"up\""));
	assert_int_equal(s.n, 77);
	prom_client_stats(&st, c);
	assert_int_equal(st.queries, 6);
	assert_int_equal(st.errors, 6);
	assert_int_equal(st.requests, 0);
	assert_int_equal(st.waits, 0);
	assert_int_equal(st.inflight, 0);
	prom_client_free(c);
}

static void a_stopped_client_sends_nothing(void **state)
{
	struct prom_client_opts o;
	struct prom_client_stats st;
	struct prom_client *c;
	struct prom_sample s = {.status = PROM_VALUE, .value = 5};
	struct fs_err err;
	atomic_bool stop = true;

	(void)state;
	prom_client_opts_init(&o);
	o.url = "http://127.0.0.1:9";
	o.stop = &stop;
	assert_int_equal(prom_client_new(&c, &o, &err), FS_OK);
	assert_int_equal(prom_query(&s, c, "up", 0, &err), FS_ECANCELED);
	assert_string_equal(err.msg, "Prometheus http://127.0.0.1:9: query \"up\": canceled");
	assert_int_equal(prom_check_query(c, "up", &err), FS_ECANCELED);
	assert_int_equal(s.status, PROM_VALUE);
	assert_true(s.value == 5);
	prom_client_stats(&st, c);
	assert_int_equal(st.requests, 0);
	assert_int_equal(st.errors, 2);
	assert_int_equal(st.inflight, 0);
	prom_client_free(c);
}

static void descriptions_name_the_problem(void **state)
{
	struct prom_sample s = {.status = PROM_VALUE, .value = 2.5, .series = 1};
	char why[512], tiny[8];

	(void)state;
	assert_string_equal(prom_sample_describe(why, sizeof(why), &s), "value 2.5");
	s.status = PROM_NAN;
	s.value = NAN;
	assert_non_null(strstr(prom_sample_describe(why, sizeof(why), &s), "not a number"));
	prom_sample_describe(tiny, sizeof(tiny), &s);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
	assert_string_equal(prom_status_name(PROM_VALUE), "value");
	assert_string_equal(prom_status_name(PROM_EMPTY), "empty");
	assert_string_equal(prom_status_name(PROM_NAN), "nan");
	assert_string_equal(prom_status_name(PROM_STALE), "stale");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(form_is_percent_encoded),
	    cmocka_unit_test(headers_carry_token_and_extras),
	    cmocka_unit_test(bad_headers_are_refused_without_their_value),
	    cmocka_unit_test(values_parse_as_prometheus_writes_them),
	    cmocka_unit_test(labels_format_like_promql),
	    cmocka_unit_test(api_errors_keep_prometheus_words),
	    cmocka_unit_test(instant_answers_are_classified),
	    cmocka_unit_test(staleness_is_judged_on_raw_sample_times),
	    cmocka_unit_test(answers_that_are_not_numbers_fail),
	    cmocka_unit_test(grid_counts_points),
	    cmocka_unit_test(chunks_cover_the_grid_once),
	    cmocka_unit_test(chunks_stitch_onto_the_grid),
	    cmocka_unit_test(range_series_must_be_one),
	    cmocka_unit_test(client_options_are_checked),
	    cmocka_unit_test(client_url_hides_user_info),
	    cmocka_unit_test(range_arguments_are_checked_before_any_request),
	    cmocka_unit_test(a_stopped_client_sends_nothing),
	    cmocka_unit_test(descriptions_name_the_problem),
	};

	return cmocka_run_group_tests_name("prom", tests, NULL, NULL);
}
