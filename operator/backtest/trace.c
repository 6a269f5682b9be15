/* Load traces: CSV files and evenly spaced samples, onto one grid with the gaps marked. */

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "backtest/backtest.h"
#include "base/str.h"

/* A row as read: its timestamp, value (NaN: missing) and line. */
struct row {
	double t;
	double v;
	size_t line;
};

void bt_trace_release(struct bt_trace *tr)
{
	if (!tr)
		return;
	free(tr->v);
	memset(tr, 0, sizeof(*tr));
}

void bt_format_time(char *out, size_t size, double t)
{
	time_t s = (time_t)floor(t);
	struct tm tm;

	if (!gmtime_r(&s, &tm) || !strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm))
		str_fmt(out, size, "%.0f", t);
}

static bool digits(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* `YYYY-MM-DD HH:MM:SS` (or T, optional Z) in UTC, or unix seconds. */
bool bt_parse_time(double *out, const char *s)
{
	static const unsigned mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, sec;
	size_t len = strlen(s);
	char *end;

	if (len == 19 || (len == 20 && s[19] == 'Z')) {
		if (!digits(s, 4, &y) || s[4] != '-' || !digits(s + 5, 2, &mo) || s[7] != '-' ||
		    !digits(s + 8, 2, &d) || (s[10] != ' ' && s[10] != 'T') ||
		    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) ||
		    s[16] != ':' || !digits(s + 17, 2, &sec))
			return false;
		if (mo < 1 || mo > 12 || d < 1 || (unsigned)d > mdays[mo - 1] || h > 23 ||
		    mi > 59 || sec > 60)
			return false;
		{
			struct tm tm = {.tm_year = y - 1900,
			                .tm_mon = mo - 1,
			                .tm_mday = d,
			                .tm_hour = h,
			                .tm_min = mi,
			                .tm_sec = sec};

			*out = (double)timegm(&tm);
		}
		return true;
	}
	errno = 0;
	*out = strtod(s, &end);
	return len > 0 && *end == '\0' && errno == 0 && isfinite(*out) &&
	       isdigit((unsigned char)*s);
}

/* A load: a number >= 0; empty or NaN is a missing bucket. */
static bool parse_value(double *out, const char *s)
{
	char *end;

	if (*s == '\0' || strcasecmp(s, "nan") == 0) {
		*out = NAN;
		return true;
	}
	errno = 0;
	*out = strtod(s, &end);
	return *end == '\0' && errno == 0 && isfinite(*out) && *out >= 0;
}

/* Trims blanks and one pair of double quotes, in place. */
static char *field(char *s)
{
	size_t n;

	while (*s == ' ' || *s == '\t')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r'))
		s[--n] = '\0';
	if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
		s[n - 1] = '\0';
		s++;
	}
	return s;
}

/* Whether a line's first field is a timestamp (else the line is a header). */
static bool first_is_time(const char *line)
{
	char buf[64];
	size_t n = strcspn(line, ",");
	double t;

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, line, n);
	buf[n] = '\0';
	return bt_parse_time(&t, field(buf));
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/*
 * The step: the most common interval between rows (the smaller on a tie), so
 * that a row off the grid is the one reported, not its neighbours.
 */
static enum fs_rc common_step(double *step, const char *name, const struct row *rows, size_t n,
                              struct fs_err *err)
{
	double *d = malloc((n - 1) * sizeof(double));
	size_t best = 0, run = 0;

	if (!d)
		return fs_fail(err, FS_ENOMEM, "%s: out of memory", name);
	for (size_t i = 1; i < n; i++)
		d[i - 1] = rows[i].t - rows[i - 1].t;
	qsort(d, n - 1, sizeof(double), cmp_double);
	for (size_t i = 0; i < n - 1; i++) {
		run = i > 0 && d[i] == d[i - 1] ? run + 1 : 1;
		if (run > best) {
			best = run;
			*step = d[i];
		}
	}
	free(d);
	return FS_OK;
}

/* Lays rows with a known step onto the grid, marking the gaps. */
static enum fs_rc lay_out(struct bt_trace *out, const char *name, const struct row *rows, size_t n,
                          double step, struct fs_err *err)
{
	struct bt_trace tr;
	size_t total = 1, k = 0;

	memset(&tr, 0, sizeof(tr));
	for (size_t i = 1; i < n; i++) {
		double steps = (rows[i].t - rows[i - 1].t) / step;
		double whole = round(steps);

		if (fabs(steps - whole) > 0.01 || whole < 1)
			return fs_fail(
			    err, FS_EINVAL,
			    "%s:%zu: timestamp %.0f s after the row before is not a whole "
			    "number of steps of %g s",
			    name, rows[i].line, rows[i].t - rows[i - 1].t, step);
		if (whole > (double)BT_TRACE_MAX || total + (size_t)whole > BT_TRACE_MAX)
			return fs_fail(err, FS_EINVAL,
			               "%s:%zu: the trace spans more than %d buckets", name,
			               rows[i].line, BT_TRACE_MAX);
		total += (size_t)whole;
	}
	tr.v = malloc(total * sizeof(double));
	if (!tr.v)
		return fs_fail(err, FS_ENOMEM, "%s: out of memory for %zu buckets", name, total);
	tr.t0 = rows[0].t;
	tr.step = step;
	tr.n = total;
	for (size_t i = 0; i < n; i++) {
		if (i > 0) {
			size_t missing = (size_t)round((rows[i].t - rows[i - 1].t) / step) - 1;

			if (missing) {
				if (tr.n_gaps < BT_GAPS_MAX)
					tr.gaps[tr.n_gaps++] =
					    (struct bt_gap){.line = rows[i].line,
					                    .missing = missing,
					                    .after = rows[i - 1].t};
				tr.n_gaps_total++;
			}
			for (size_t j = 0; j < missing; j++)
				tr.v[k++] = NAN;
		}
		tr.v[k++] = rows[i].v;
	}
	for (k = 0; k < tr.n; k++)
		tr.n_missing += !isfinite(tr.v[k]);
	*out = tr;
	return FS_OK;
}

enum fs_rc bt_csv_parse(struct bt_trace *out, const char *name, const char *text, size_t len,
                        struct fs_err *err)
{
	char *copy = NULL, *line, *next;
	struct row *rows = NULL;
	size_t n = 0, alloc = 0, lineno = 0;
	double step = 0;
	bool header = false;
	enum fs_rc rc = FS_OK;

	memset(out, 0, sizeof(*out));
	copy = malloc(len + 1);
	if (!copy)
		return fs_fail(err, FS_ENOMEM, "%s: out of memory", name);
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (strlen(copy) != len) {
		rc = fs_fail(err, FS_EINVAL, "%s: holds a NUL byte: not a CSV text file", name);
		goto out;
	}
	for (line = copy; line; line = next) {
		char *comma, *ts, *val;
		struct row r = {0};

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		else if (*line == '\0')
			break; /* the text ended with its last line's newline */
		lineno++;
		if (line[strspn(line, " \t\r")] == '\0')
			continue;
		comma = strchr(line, ',');
		if (!header && n == 0 && !first_is_time(line)) {
			header = true; /* any first line that is not itself a row */
			continue;
		}
		if (!comma || strchr(comma + 1, ',')) {
			rc = fs_fail(err, FS_EINVAL, "%s:%zu: expected two fields timestamp,value",
			             name, lineno);
			goto out;
		}
		*comma = '\0';
		ts = field(line);
		val = field(comma + 1);
		r.line = lineno;
		if (!bt_parse_time(&r.t, ts)) {
			rc = fs_fail(err, FS_EINVAL,
			             "%s:%zu: timestamp \"%.40s\": expected YYYY-MM-DD HH:MM:SS "
			             "(UTC) or unix seconds",
			             name, lineno, ts);
			goto out;
		}
		if (!parse_value(&r.v, val)) {
			rc = fs_fail(
			    err, FS_EINVAL,
			    "%s:%zu: value \"%.40s\": expected a number >= 0 (or empty, NaN: "
			    "missing)",
			    name, lineno, val);
			goto out;
		}
		if (n > 0) {
			if (r.t <= rows[n - 1].t) {
				rc = fs_fail(err, FS_EINVAL,
				             "%s:%zu: timestamp %s is not after line %zu's", name,
				             lineno, ts, rows[n - 1].line);
				goto out;
			}
		}
		if (n == alloc) {
			size_t grow = alloc ? alloc * 2 : 1024;
			struct row *p;

			if (grow > BT_TRACE_MAX) {
				rc = fs_fail(err, FS_EINVAL, "%s:%zu: more than %d rows", name,
				             lineno, BT_TRACE_MAX);
				goto out;
			}
			p = realloc(rows, grow * sizeof(*rows));
			if (!p) {
				rc = fs_fail(err, FS_ENOMEM, "%s: out of memory at line %zu", name,
				             lineno);
				goto out;
			}
			rows = p;
			alloc = grow;
		}
		rows[n++] = r;
	}
	if (n < 2) {
		rc = fs_fail(err, FS_EINVAL, "%s:%zu: %s: a trace needs at least two rows", name,
		             lineno ? lineno : 1, n ? "only one row" : "no rows");
		goto out;
	}
	rc = common_step(&step, name, rows, n, err);
	if (rc == FS_OK)
		rc = lay_out(out, name, rows, n, step, err);
out:
	free(rows);
	free(copy);
	return rc;
}

enum fs_rc bt_trace_from_grid(struct bt_trace *out, double t0, double step, const double *v,
                              size_t n, struct fs_err *err)
{
	struct bt_trace tr;
	size_t run = 0;

	memset(out, 0, sizeof(*out));
	memset(&tr, 0, sizeof(tr));
	if (n == 0)
		return fs_fail(err, FS_EINVAL, "the series is empty");
	if (n > BT_TRACE_MAX)
		return fs_fail(err, FS_EINVAL, "the series has %zu points, more than %d", n,
		               BT_TRACE_MAX);
	tr.v = malloc(n * sizeof(double));
	if (!tr.v)
		return fs_fail(err, FS_ENOMEM, "out of memory for %zu points", n);
	tr.t0 = t0;
	tr.step = step;
	tr.n = n;
	for (size_t k = 0; k < n; k++) {
		tr.v[k] = isfinite(v[k]) && v[k] >= 0 ? v[k] : NAN;
		if (!isfinite(tr.v[k])) {
			tr.n_missing++;
			run++;
			continue;
		}
		if (run && k > run) {
			if (tr.n_gaps < BT_GAPS_MAX)
				tr.gaps[tr.n_gaps++] =
				    (struct bt_gap){.line = k + 1,
				                    .missing = run,
				                    .after = t0 + (double)(k - run - 1) * step};
			tr.n_gaps_total++;
		}
		run = 0;
	}
	*out = tr;
	return FS_OK;
}
