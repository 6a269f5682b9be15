#include "prom/wire.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/hash.h"
#include "base/jsontext.h"

#define BODY_SHOWN_MAX 200 /* bytes of a non-API error body quoted in a message */

enum fs_rc prom_form_add(struct buf *form, const char *key, const char *value, struct fs_err *err)
{
	static const char hex[] = "0123456789ABCDEF";
	enum fs_rc rc = FS_OK;

	if (form->len > 0)
		rc = buf_append(form, "&", 1, err);
	for (int part = 0; part < 2 && rc == FS_OK; part++) {
		const unsigned char *p = (const unsigned char *)(part == 0 ? key : value);

		if (part == 1)
			rc = buf_append(form, "=", 1, err);
		for (; *p && rc == FS_OK; p++) {
			char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};

			if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~')
				rc = buf_append(form, p, 1, err);
			else
				rc = buf_append(form, esc, sizeof(esc), err);
		}
	}
	return rc;
}

static void wipe_free(char *s)
{
	if (!s)
		return;
	memset(s, 0, strlen(s));
	free(s);
}

void prom_headers_free(struct curl_slist *list)
{
	for (struct curl_slist *l = list; l; l = l->next) {
		if (strncasecmp(l->data, "Authorization:", 14) == 0)
			memset(l->data, 0, strlen(l->data));
	}
	curl_slist_free_all(list);
}

/* RFC 9110 token characters, what a header name is made of. */
static bool is_tchar(unsigned char ch)
{
	return isalnum(ch) || (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static bool append_line(struct curl_slist **list, const char *line)
{
	struct curl_slist *l = curl_slist_append(*list, line);

	if (!l)
		return false;
	*list = l;
	return true;
}

enum fs_rc prom_build_headers(struct curl_slist **out, const char *bearer_token,
                              const char *const *extra, struct fs_err *err)
{
	struct curl_slist *list = NULL;
	enum fs_rc rc = FS_OK;

	if (!append_line(&list, "Accept: application/json") ||
	    !append_line(&list, "Content-Type: application/x-www-form-urlencoded")) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto out;
	}
	if (bearer_token) {
		char *line = NULL;
		bool ok;

		if (strpbrk(bearer_token, "\r\n")) {
			rc = fs_fail(err, FS_EINVAL, "the bearer token holds a line break");
			goto out;
		}
		if (asprintf(&line, "Authorization: Bearer %s", bearer_token) < 0) {
			rc = fs_fail(err, FS_ENOMEM, "out of memory");
			goto out;
		}
		ok = append_line(&list, line);
		wipe_free(line);
		if (!ok) {
			rc = fs_fail(err, FS_ENOMEM, "out of memory");
			goto out;
		}
	}
	for (size_t i = 0; extra && extra[i]; i++) {
		const char *line = extra[i];
		size_t name_len = 0;

		while (is_tchar((unsigned char)line[name_len]))
			name_len++;
		if (name_len == 0 || line[name_len] != ':' || strpbrk(line, "\r\n")) {
			rc = fs_fail(err, FS_EINVAL,
			             "header %zu is not \"Name: value\" on one line", i + 1);
			goto out;
		}
		if (bearer_token && name_len == 13 && strncasecmp(line, "Authorization", 13) == 0) {
			rc = fs_fail(err, FS_EINVAL,
			             "header %zu sets Authorization, which the bearer token sets",
			             i + 1);
			goto out;
		}
		if (!append_line(&list, line)) {
			rc = fs_fail(err, FS_ENOMEM, "out of memory");
			goto out;
		}
	}
out:
	if (rc == FS_OK)
		*out = list;
	else
		prom_headers_free(list);
	return rc;
}

bool prom_parse_value(double *out, const char *s)
{
	char *end;
	double v;

	if (!s || !*s || isspace((unsigned char)*s))
		return false;
	v = strtod(s, &end);
	if (*end != '\0')
		return false;
	*out = v;
	return true;
}

/* Appends to a fixed buffer, remembering whether anything was cut. */
struct text {
	char *buf;
	size_t size, len;
	bool cut;
};

static void text_put(struct text *t, const char *s, size_t n)
{
	if (t->cut)
		return;
	if (n >= t->size - t->len) {
		n = t->size - t->len - 1;
		t->cut = true;
	}
	memcpy(t->buf + t->len, s, n);
	t->len += n;
	t->buf[t->len] = '\0';
}

static void text_quoted(struct text *t, const char *s)
{
	text_put(t, "\"", 1);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\') {
			char esc[2] = {'\\', *s};
			text_put(t, esc, 2);
		} else if (*s == '\n') {
			text_put(t, "\\n", 2);
		} else {
			text_put(t, s, 1);
		}
	}
	text_put(t, "\"", 1);
}

const char *prom_format_labels(char *buf, size_t size, json_object *metric)
{
	struct text t = {buf, size, 0, false};
	json_object *name = NULL;
	bool first = true, any = false;

	if (size == 0)
		return buf;
	buf[0] = '\0';
	if (size < 4)
		return buf;
	/* Keep room for "..." so a cut is visible. */
	t.size = size - 3;
	if (metric && json_object_is_type(metric, json_type_object) &&
	    json_object_object_get_ex(metric, "__name__", &name))
		text_put(&t, json_object_get_string(name), strlen(json_object_get_string(name)));
	if (metric && json_object_is_type(metric, json_type_object)) {
		json_object_object_foreach(metric, key, val)
		{
			if (strcmp(key, "__name__") == 0)
				continue;
			text_put(&t, first ? "{" : ", ", first ? 1 : 2);
			text_put(&t, key, strlen(key));
			text_put(&t, "=", 1);
			text_quoted(&t, json_object_get_string(val));
			first = false;
			any = true;
		}
	}
	if (any)
		text_put(&t, "}", 1);
	else if (!name)
		text_put(&t, "{}", 2);
	if (t.cut) {
		t.size = size;
		t.cut = false;
		text_put(&t, "...", 3);
	}
	return buf;
}

static const char *get_string(json_object *obj, const char *key)
{
	json_object *v;

	if (!obj || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

/* The start of a body that is not API JSON, on one line, for a message. */
static void body_excerpt(char *out, size_t size, const char *body, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; body && i < len && n + 1 < size; i++)
		out[n++] = (unsigned char)body[i] < 0x20 ? ' ' : body[i];
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

static enum fs_rc rc_for_http(long http_status)
{
	if (http_status == 401 || http_status == 403)
		return FS_EAUTH;
	if (http_status == 404)
		return FS_ENOTFOUND;
	return FS_EHTTP;
}

enum fs_rc prom_parse_response(json_object **root, json_object **data, long http_status,
                               const char *body, size_t len, struct fs_err *err)
{
	char excerpt[BODY_SHOWN_MAX + 1];
	enum json_tokener_error jerr = json_tokener_success;
	json_object *r = NULL, *d = NULL;
	const char *status, *type, *text;
	bool cut_short;
	enum fs_rc rc;

	if (body && len > 0 && jsontext_parse(&r, NULL, &jerr, body, len) == FS_ENOMEM)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	/* Valid so far but unfinished: the answer was cut short. */
	cut_short = !r && jerr == json_tokener_continue;
	status = get_string(r, "status");
	if (status && strcmp(status, "success") == 0 && http_status >= 200 && http_status <= 299 &&
	    json_object_object_get_ex(r, "data", &d)) {
		*root = r;
		*data = d;
		return FS_OK;
	}
	type = get_string(r, "errorType");
	text = get_string(r, "error");
	if (status && strcmp(status, "error") == 0 && (type || text)) {
		if (type && strcmp(type, "bad_data") == 0)
			rc = FS_EINVAL;
		else if (type && strcmp(type, "timeout") == 0)
			rc = FS_ETIMEOUT;
		else if (type && strcmp(type, "not_found") == 0)
			rc = FS_ENOTFOUND;
		else
			rc = rc_for_http(http_status);
		fs_fail(err, rc, "%s: %s", type ? type : "error", text ? text : "(no message)");
	} else if (http_status < 200 || http_status > 299) {
		rc = rc_for_http(http_status);
		body_excerpt(excerpt, sizeof(excerpt), body, len);
		fs_fail(err, rc, "HTTP %ld%s%s%s", http_status,
		        http_status == 404 ? " (no Prometheus API at this URL: check its path)"
		                           : "",
		        excerpt[0] ? ": " : "", excerpt);
	} else {
		rc = FS_EPARSE;
		body_excerpt(excerpt, sizeof(excerpt), body, len);
		/* The cause last: a message cut to fit a reason keeps its end. */
		fs_fail(err, rc, "not an answer of the Prometheus API (HTTP %ld): \"%s\"%s",
		        http_status, excerpt,
		        cut_short ? ": the JSON ends before it is complete (a truncated answer)"
		                  : "");
	}
	if (err)
		err->http_status = (int)http_status;
	json_object_put(r);
	return rc;
}

/* Reads a [time, "value"] pair. */
static enum fs_rc parse_point(double *ts, double *value, json_object *pair, struct fs_err *err)
{
	json_object *t, *v;

	if (!pair || !json_object_is_type(pair, json_type_array) ||
	    json_object_array_length(pair) != 2)
		return fs_fail(err, FS_EPARSE, "a sample is not [time, \"value\"]");
	t = json_object_array_get_idx(pair, 0);
	v = json_object_array_get_idx(pair, 1);
	if (!(json_object_is_type(t, json_type_double) || json_object_is_type(t, json_type_int)) ||
	    !json_object_is_type(v, json_type_string) ||
	    !prom_parse_value(value, json_object_get_string(v)))
		return fs_fail(err, FS_EPARSE, "a sample is not [time, \"value\"]: %.80s",
		               json_object_to_json_string(pair));
	*ts = json_object_get_double(t);
	return FS_OK;
}

/* Reads the result's type and result array or pair. */
static enum fs_rc result_of(const char **type, json_object **result, json_object *data,
                            struct fs_err *err)
{
	*type = get_string(data, "resultType");
	if (!*type || !json_object_object_get_ex(data, "result", result) ||
	    !json_object_is_type(*result, json_type_array))
		return fs_fail(err, FS_EPARSE, "the answer has no resultType and result");
	return FS_OK;
}

enum fs_rc prom_classify_instant(struct prom_sample *out, json_object *data, double at,
                                 double stale_after, struct fs_err *err)
{
	struct prom_sample s = {.status = PROM_EMPTY, .value = NAN, .at = at};
	json_object *result, *pair = NULL, *elem, *metric = NULL, *values;
	const char *type;
	enum fs_rc rc;

	rc = result_of(&type, &result, data, err);
	if (rc != FS_OK)
		return rc;
	if (strcmp(type, "string") == 0)
		return fs_fail(err, FS_EINVAL, "the query returns a string, not a number");
	if (strcmp(type, "scalar") == 0) {
		pair = result;
		s.series = 1;
	} else if (strcmp(type, "vector") == 0 || strcmp(type, "matrix") == 0) {
		bool matrix = type[0] == 'm';

		s.series = json_object_array_length(result);
		if (s.series == 0)
			goto done;
		elem = json_object_array_get_idx(result, 0);
		json_object_object_get_ex(elem, "metric", &metric);
		prom_format_labels(s.labels, sizeof(s.labels), metric);
		if (s.series > 1) {
			s.status = PROM_MULTI;
			goto done;
		}
		if (!matrix && !json_object_object_get_ex(elem, "value", &pair)) {
			if (json_object_object_get_ex(elem, "histogram", &pair))
				return fs_fail(
				    err, FS_EINVAL,
				    "the query returns a native histogram, not a number");
			return fs_fail(err, FS_EPARSE, "a vector sample has no value");
		}
		if (matrix) {
			size_t n;

			if (!json_object_object_get_ex(elem, "values", &values)) {
				if (json_object_object_get_ex(elem, "histograms", &values))
					return fs_fail(
					    err, FS_EINVAL,
					    "the query returns native histograms, not numbers");
				return fs_fail(err, FS_EPARSE, "a matrix series has no values");
			}
			n = json_object_is_type(values, json_type_array)
			        ? json_object_array_length(values)
			        : 0;
			if (n == 0) {
				s.series = 0;
				goto done;
			}
			/* The newest raw sample, with its own timestamp. */
			pair = json_object_array_get_idx(values, n - 1);
		}
	} else {
		return fs_fail(err, FS_EPARSE, "unknown resultType \"%.40s\"", type);
	}
	rc = parse_point(&s.timestamp, &s.value, pair, err);
	if (rc != FS_OK)
		return rc;
	if (at - s.timestamp > stale_after)
		s.status = PROM_STALE;
	else if (!isfinite(s.value))
		s.status = PROM_NAN;
	else
		s.status = PROM_VALUE;
done:
	*out = s;
	return FS_OK;
}

enum fs_rc prom_parse_instant(struct prom_sample *out, long http_status, const char *body,
                              size_t len, double at, double stale_after, struct fs_err *err)
{
	json_object *root, *data;
	enum fs_rc rc;

	rc = prom_parse_response(&root, &data, http_status, body, len, err);
	if (rc != FS_OK)
		return rc;
	rc = prom_classify_instant(out, data, at, stale_after, err);
	json_object_put(root);
	return rc;
}

size_t prom_grid_points(int64_t start_ms, int64_t end_ms, int64_t step_ms)
{
	if (step_ms <= 0 || end_ms < start_ms)
		return 0;
	return (size_t)((end_ms - start_ms) / step_ms) + 1;
}

size_t prom_plan_chunks(struct prom_chunk *out, size_t cap, int64_t start_ms, int64_t end_ms,
                        int64_t step_ms, size_t per_chunk)
{
	size_t total = prom_grid_points(start_ms, end_ms, step_ms);
	size_t per = per_chunk ? per_chunk : 1;
	size_t n = total / per + (total % per != 0);

	for (size_t i = 0; i < n && i < cap; i++) {
		size_t first = i * per;
		size_t points = total - first < per ? total - first : per;

		out[i].first = first;
		out[i].points = points;
		out[i].start_ms = start_ms + (int64_t)first * step_ms;
		out[i].end_ms = out[i].start_ms + (int64_t)(points - 1) * step_ms;
	}
	return n;
}

enum fs_rc prom_series_grid(struct prom_series *s, int64_t start_ms, int64_t step_ms, size_t n,
                            struct fs_err *err)
{
	memset(s, 0, sizeof(*s));
	s->status = PROM_EMPTY;
	s->start = (double)start_ms / 1000.0;
	s->step = (double)step_ms / 1000.0;
	s->t = calloc(n ? n : 1, sizeof(*s->t));
	s->v = calloc(n ? n : 1, sizeof(*s->v));
	if (!s->t || !s->v) {
		prom_series_release(s);
		return fs_fail(err, FS_ENOMEM, "out of memory for %zu points", n);
	}
	s->n = n;
	for (size_t k = 0; k < n; k++) {
		s->t[k] = (double)(start_ms + (int64_t)k * step_ms) / 1000.0;
		s->v[k] = NAN;
	}
	return FS_OK;
}

/* A hash of the labels as Prometheus serialised them (it sorts them). */
static uint64_t labels_identity(json_object *metric)
{
	const char *s =
	    metric ? json_object_to_json_string_ext(metric, JSON_C_TO_STRING_PLAIN) : "";

	return hash_str(HASH_SEED, s ? s : "");
}

enum fs_rc prom_series_add_chunk(struct prom_series *s, long http_status, const char *body,
                                 size_t len, struct fs_err *err)
{
	char labels[PROM_LABELS_MAX];
	json_object *root, *data, *result, *elem, *metric = NULL, *values;
	int64_t start_ms = llround(s->start * 1000.0), step_ms = llround(s->step * 1000.0);
	uint64_t identity;
	const char *type;
	size_t n_series, n_points;
	enum fs_rc rc;

	rc = prom_parse_response(&root, &data, http_status, body, len, err);
	if (rc != FS_OK)
		return rc;
	rc = result_of(&type, &result, data, err);
	if (rc != FS_OK)
		goto out;
	if (strcmp(type, "matrix") != 0) {
		rc = fs_fail(err, FS_EPARSE, "a range answer is a %.40s, not a matrix", type);
		goto out;
	}
	n_series = json_object_array_length(result);
	if (n_series == 0)
		goto out;
	elem = json_object_array_get_idx(result, 0);
	json_object_object_get_ex(elem, "metric", &metric);
	prom_format_labels(labels, sizeof(labels), metric);
	if (n_series > 1) {
		rc = fs_fail(err, FS_EINVAL,
		             "the query returned %zu series (first %s); it must return one: "
		             "aggregate it, e.g. with sum(...)",
		             n_series, labels);
		goto out;
	}
	identity = labels_identity(metric);
	if (s->status == PROM_VALUE && identity != s->identity) {
		rc = fs_fail(err, FS_EINVAL,
		             "the query returned 2 series over the range (%s, then %s); it must "
		             "return one: aggregate it, e.g. with sum(...)",
		             s->labels, labels);
		goto out;
	}
	if (!json_object_object_get_ex(elem, "values", &values) ||
	    !json_object_is_type(values, json_type_array)) {
		rc = fs_fail(err, FS_EPARSE, "a matrix series has no values");
		goto out;
	}
	n_points = json_object_array_length(values);
	for (size_t i = 0; i < n_points; i++) {
		double ts, value, k;

		rc = parse_point(&ts, &value, json_object_array_get_idx(values, i), err);
		if (rc != FS_OK)
			goto out;
		/*
		 * The nearest grid slot; a server that aligns steps its own way still
		 * lands. In doubles: a wild timestamp must not overflow an integer.
		 */
		k = round((ts * 1000.0 - (double)start_ms) / (double)step_ms);
		if (!(k >= 0 && k < (double)s->n))
			continue;
		s->v[(size_t)k] = isfinite(value) ? value : NAN;
	}
	if (s->status != PROM_VALUE) {
		s->status = PROM_VALUE;
		s->identity = identity;
		memcpy(s->labels, labels, sizeof(labels));
	}
out:
	json_object_put(root);
	return rc;
}

void prom_series_finish(struct prom_series *s)
{
	s->n_nan = 0;
	if (s->status == PROM_EMPTY) {
		free(s->t);
		free(s->v);
		s->t = s->v = NULL;
		s->n = 0;
		return;
	}
	for (size_t k = 0; k < s->n; k++)
		s->n_nan += isnan(s->v[k]) ? 1 : 0;
}

void prom_series_release(struct prom_series *s)
{
	free(s->t);
	free(s->v);
	s->t = s->v = NULL;
	s->n = 0;
	s->n_nan = 0;
}
