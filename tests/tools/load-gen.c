/*
 * load-gen: a scrape target for the tests' and the demo's Prometheus.
 *
 * Gauges from files, re-read on every scrape:
 *
 *   load-gen --listen 127.0.0.1:PORT --dir DIR
 *
 * Every file DIR/NAME holding a number becomes a series
 * `NAME{source="load-gen"} NUMBER` on /metrics (a file that does not hold a
 * number is skipped), so a test changes the load with `echo 250 > DIR/rps`.
 *
 * A trace replayed faster than real time:
 *
 *   load-gen --replay FILE --speed N --metric NAME [--scale K]
 *            [--offset B] [--history-buckets H]
 *            [--backfill OUT [--backfill-labels LABELS] [--backfill-interval S]]
 *            [--listen 127.0.0.1:PORT]
 *
 * FILE is `timestamp,value` lines after a header line, timestamps as
 * "YYYY-MM-DD HH:MM:SS" (UTC) or Unix seconds, strictly increasing (the
 * traces in shared/traces). The bucket spacing is the smallest step between
 * two rows; a step over 1.5 spacings is a gap. Wall-clock time runs through
 * the trace N times faster: the replay starts (at the moment load-gen starts)
 * at bucket B + H and serves `NAME{source="load-gen"} value*K` on /metrics,
 * interpolated linearly between buckets so that a rise is smooth; inside a gap
 * it serves no sample of NAME (a missing bucket is not a zero). Past the
 * trace's end it starts over from its first row. It also serves
 * `load_gen_trace_timestamp_seconds`, the trace time being replayed.
 *
 * --backfill OUT writes the H buckets before the replay start (from bucket B)
 * as OpenMetrics text for `promtool tsdb create-blocks-from openmetrics`,
 * mapped onto the past at the compressed spacing and ending at the replay's
 * start: one sample every S seconds (default 1), the same values a scrape
 * would have seen. LABELS (`job="load",instance="127.0.0.1:9000"`) are added
 * to those samples so that they join the series Prometheus scrapes after
 * them. The file is written whole (to OUT.tmp, then renamed) before /metrics
 * answers; without --listen load-gen exits once it is written.
 *
 * It uses the operator's own HTTP server module.
 */

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "http/server.h"

#define TRACE_MAX_ROWS  2000000
#define TRACE_LINE_MAX  1024
#define LABELS_MAX      512
#define BACKFILL_MAX    5000000 /* samples in one backfill file */
#define GAP_FACTOR      1.5
#define TRACE_TS_METRIC "load_gen_trace_timestamp_seconds"

static atomic_bool stop;

static void on_signal(int sig)
{
	(void)sig;
	atomic_store(&stop, true);
}

static bool metric_name(const char *s)
{
	if (!s[0] || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	}
	return true;
}

static enum fs_rc serve_dir(void *ctx, struct buf *body, const char **type, int *status,
                            struct fs_err *err)
{
	const char *dir = ctx;
	DIR *d = opendir(dir);
	struct dirent *e;
	enum fs_rc rc = FS_OK;

	(void)status;
	*type = "text/plain; version=0.0.4";
	if (!d)
		return fs_fail(err, FS_EIO, "%s: cannot open", dir);
	while (rc == FS_OK && (e = readdir(d))) {
		char path[4096], text[64];
		double v;
		char *end;
		FILE *f;

		if (!metric_name(e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(text, sizeof(text), f)) {
			v = strtod(text, &end);
			if (end != text && isfinite(v))
				rc = buf_printf(body, err,
				                "# TYPE %s gauge\n%s{source=\"load-gen\"} %.17g\n",
				                e->d_name, e->d_name, v);
		}
		fclose(f);
	}
	closedir(d);
	return rc;
}

/* --- the trace -------------------------------------------------------------------- */

struct trace {
	const char *file;
	double *t; /* Unix seconds, strictly increasing */
	double *v;
	size_t n;
	double spacing; /* the smallest step between two rows */
	size_t gaps;    /* steps over GAP_FACTOR spacings */
};

struct replay {
	struct trace tr;
	const char *metric;
	double speed;   /* trace seconds per wall-clock second */
	double scale;   /* multiplies every value */
	double t0_wall; /* the wall-clock time the replay starts at */
	double t0_tr;   /* the trace time it starts at */
};

static void trace_release(struct trace *tr)
{
	free(tr->t);
	free(tr->v);
	tr->t = tr->v = NULL;
	tr->n = 0;
}

/* "YYYY-MM-DD HH:MM:SS" (or with a T, an optional Z) as UTC, or Unix seconds. */
static bool parse_time(double *out, const char *s)
{
	int y, mo, d, h, mi, sec, used = -1;
	struct tm tm;
	char *end;
	double v;

	if (sscanf(s, "%4d-%2d-%2d%*1[ T]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &used) == 6 &&
	    used > 0) {
		if (s[used] == 'Z')
			used++;
		if (s[used] || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
		    sec > 60 || h < 0 || mi < 0 || sec < 0)
			return false;
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = y - 1900;
		tm.tm_mon = mo - 1;
		tm.tm_mday = d;
		tm.tm_hour = h;
		tm.tm_min = mi;
		tm.tm_sec = sec;
		*out = (double)timegm(&tm);
		return true;
	}
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(v) || v < 0)
		return false;
	*out = v;
	return true;
}

static void format_time(char *out, size_t size, double t)
{
	time_t tt = (time_t)floor(t);
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(out, size, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(out, size, "%.0f", t);
}

/* Splits "TS,VALUE" (in place) and parses both fields. */
static bool parse_row(double *t, double *v, char *line)
{
	char *comma = strchr(line, ',');
	char *end;

	if (!comma)
		return false;
	*comma = '\0';
	if (!parse_time(t, line))
		return false;
	errno = 0;
	*v = strtod(comma + 1, &end);
	while (*end == ' ')
		end++;
	return end != comma + 1 && !*end && !errno && isfinite(*v);
}

static enum fs_rc trace_push(struct trace *tr, size_t *cap, double t, double v, size_t lineno,
                             struct fs_err *err)
{
	if (tr->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 1024;
		double *nt, *nv;

		if (ncap > TRACE_MAX_ROWS)
			ncap = TRACE_MAX_ROWS;
		if (tr->n >= ncap)
			return fs_fail(err, FS_ETOOLARGE, "%s:%zu: more than %d rows", tr->file,
			               lineno, TRACE_MAX_ROWS);
		nt = realloc(tr->t, ncap * sizeof(*nt));
		if (!nt)
			return fs_fail(err, FS_ENOMEM, "%s:%zu: out of memory", tr->file, lineno);
		tr->t = nt;
		nv = realloc(tr->v, ncap * sizeof(*nv));
		if (!nv)
			return fs_fail(err, FS_ENOMEM, "%s:%zu: out of memory", tr->file, lineno);
		tr->v = nv;
		*cap = ncap;
	}
	if (tr->n && t <= tr->t[tr->n - 1])
		return fs_fail(err, FS_EPARSE,
		               "%s:%zu: timestamp does not increase (the previous row's is not "
		               "earlier)",
		               tr->file, lineno);
	tr->t[tr->n] = t;
	tr->v[tr->n] = v;
	tr->n++;
	return FS_OK;
}

static enum fs_rc trace_load(struct trace *tr, const char *file, struct fs_err *err)
{
	char line[TRACE_LINE_MAX], row[TRACE_LINE_MAX];
	size_t lineno = 0, cap = 0;
	enum fs_rc rc = FS_OK;
	FILE *f;

	memset(tr, 0, sizeof(*tr));
	tr->file = file;
	f = fopen(file, "r");
	if (!f)
		return fs_fail(err, FS_EIO, "%s: cannot open: %s", file, strerror(errno));
	while (rc == FS_OK && fgets(line, sizeof(line), f)) {
		double t, v;

		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			rc = fs_fail(err, FS_ETOOLARGE, "%s:%zu: line longer than %d bytes", file,
			             lineno, TRACE_LINE_MAX - 2);
			break;
		}
		line[strcspn(line, "\r\n")] = '\0';
		if (!line[0])
			continue;
		memcpy(row, line, sizeof(row));
		if (!parse_row(&t, &v, row)) {
			if (lineno == 1)
				continue; /* the header */
			rc =
			    fs_fail(err, FS_EPARSE,
			            "%s:%zu: not a \"timestamp,value\" row (\"%.60s\"); timestamps "
			            "are YYYY-MM-DD HH:MM:SS or Unix seconds",
			            file, lineno, line);
			break;
		}
		rc = trace_push(tr, &cap, t, v, lineno, err);
	}
	if (rc == FS_OK && ferror(f))
		rc = fs_fail(err, FS_EIO, "%s:%zu: read error", file, lineno);
	fclose(f);
	if (rc == FS_OK && tr->n < 2)
		rc = fs_fail(err, FS_EINVAL, "%s:%zu: a trace needs at least two rows, it has %zu",
		             file, lineno, tr->n);
	if (rc != FS_OK) {
		trace_release(tr);
		return rc;
	}
	tr->spacing = INFINITY;
	for (size_t i = 1; i < tr->n; i++)
		if (tr->t[i] - tr->t[i - 1] < tr->spacing)
			tr->spacing = tr->t[i] - tr->t[i - 1];
	for (size_t i = 1; i < tr->n; i++)
		if (tr->t[i] - tr->t[i - 1] > GAP_FACTOR * tr->spacing)
			tr->gaps++;
	return FS_OK;
}

/* Trace time `tt` brought into the trace: past its last bucket it starts over. */
static double trace_wrap(const struct trace *tr, double tt)
{
	double span = tr->t[tr->n - 1] + tr->spacing - tr->t[0];
	double off = fmod(tt - tr->t[0], span);

	return tr->t[0] + (off < 0 ? off + span : off);
}

/*
 * The trace's value at trace time `tt` (wrapped into the trace): linear
 * between two rows one spacing apart; false inside a gap.
 */
static bool trace_at(double *out, const struct trace *tr, double tt)
{
	size_t lo = 0, hi = tr->n;
	double step, w;

	tt = trace_wrap(tr, tt);
	while (hi - lo > 1) { /* the last row at or before tt */
		size_t mid = lo + (hi - lo) / 2;

		if (tr->t[mid] <= tt)
			lo = mid;
		else
			hi = mid;
	}
	if (lo + 1 == tr->n) {
		*out = tr->v[lo]; /* the last bucket holds until the trace starts over */
		return true;
	}
	step = tr->t[lo + 1] - tr->t[lo];
	if (step > GAP_FACTOR * tr->spacing) {
		if (tt - tr->t[lo] >= tr->spacing)
			return false;
		*out = tr->v[lo];
		return true;
	}
	w = (tt - tr->t[lo]) / step;
	*out = tr->v[lo] + w * (tr->v[lo + 1] - tr->v[lo]);
	return true;
}

/* The trace time replayed at wall-clock time `wall`. */
static double replay_trace_time(const struct replay *r, double wall)
{
	return r->t0_tr + (wall - r->t0_wall) * r->speed;
}

static bool replay_value(double *out, const struct replay *r, double wall)
{
	double v;

	if (!trace_at(&v, &r->tr, replay_trace_time(r, wall)))
		return false;
	*out = v * r->scale;
	return true;
}

static enum fs_rc serve_replay(void *ctx, struct buf *body, const char **type, int *status,
                               struct fs_err *err)
{
	const struct replay *r = ctx;
	double now = clock_unix_s(), v;
	enum fs_rc rc = FS_OK;

	(void)status;
	*type = "text/plain; version=0.0.4";
	if (replay_value(&v, r, now))
		rc = buf_printf(body, err, "# TYPE %s gauge\n%s{source=\"load-gen\"} %.17g\n",
		                r->metric, r->metric, v);
	if (rc == FS_OK)
		rc = buf_printf(body, err,
		                "# HELP " TRACE_TS_METRIC " The trace time being replayed.\n"
		                "# TYPE " TRACE_TS_METRIC " gauge\n" TRACE_TS_METRIC
		                "{source=\"load-gen\"} %.3f\n",
		                trace_wrap(&r->tr, replay_trace_time(r, now)));
	return rc;
}

/* `name="value"` pairs separated by commas, values without quotes, backslashes or newlines. */
static bool labels_ok(const char *s)
{
	if (strlen(s) >= LABELS_MAX)
		return false;
	while (*s) {
		const char *name = s;

		while (isalnum((unsigned char)*s) || *s == '_')
			s++;
		if (s == name || isdigit((unsigned char)*name) || s[0] != '=' || s[1] != '"')
			return false;
		s += 2;
		while (*s && *s != '"' && *s != '\\' && *s != '\n')
			s++;
		if (*s != '"')
			return false;
		s++;
		if (*s == ',' && s[1])
			s++;
		else if (*s)
			return false;
	}
	return true;
}

/*
 * Writes the `history` trace seconds before the replay start as OpenMetrics
 * text, one sample every `interval` wall-clock seconds, the last one at the
 * replay start.
 */
static enum fs_rc write_backfill(size_t *written, const struct replay *r, const char *out,
                                 double history, double interval, const char *labels,
                                 struct fs_err *err)
{
	char tmp[4096];
	double from = r->t0_wall - history / r->speed;
	size_t count, n = 0;
	enum fs_rc rc = FS_OK;
	FILE *f;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", out) >= sizeof(tmp))
		return fs_fail(err, FS_EINVAL, "%s: path too long", out);
	count = (size_t)floor((r->t0_wall - from) / interval) + 1;
	if (count > BACKFILL_MAX)
		return fs_fail(err, FS_ETOOLARGE,
		               "%s: %zu samples are more than %d; raise --backfill-interval", out,
		               count, BACKFILL_MAX);
	f = fopen(tmp, "w");
	if (!f)
		return fs_fail(err, FS_EIO, "%s: cannot create: %s", tmp, strerror(errno));
	fprintf(f, "# HELP %s Replayed from %s.\n# TYPE %s gauge\n", r->metric, r->tr.file,
	        r->metric);
	for (size_t k = 0; k < count; k++) {
		/* Counted back from the start, so that the last sample is at the start. */
		double wall = r->t0_wall - (double)(count - 1 - k) * interval, v;

		if (!replay_value(&v, r, wall))
			continue;
		fprintf(f, "%s{source=\"load-gen\"%s%s} %.10g %.3f\n", r->metric,
		        labels[0] ? "," : "", labels, v, wall);
		n++;
	}
	fputs("# EOF\n", f);
	if (ferror(f))
		rc = fs_fail(err, FS_EIO, "%s: write error: %s", tmp, strerror(errno));
	if (fclose(f) != 0 && rc == FS_OK)
		rc = fs_fail(err, FS_EIO, "%s: write error: %s", tmp, strerror(errno));
	if (rc == FS_OK && rename(tmp, out) != 0)
		rc = fs_fail(err, FS_EIO, "%s: cannot rename to %s: %s", tmp, out, strerror(errno));
	if (rc != FS_OK)
		unlink(tmp);
	else
		*written = n;
	return rc;
}

/* --- main ------------------------------------------------------------------------- */

static const char usage[] =
    "Usage: load-gen --listen ADDR:PORT --dir DIR\n"
    "       load-gen --replay FILE --speed N --metric NAME [--scale K] [--offset B]\n"
    "                [--history-buckets H] [--backfill OUT [--backfill-labels LABELS]\n"
    "                [--backfill-interval S]] [--listen ADDR:PORT]\n";

static bool parse_number(double *out, const char *s, const char *flag, double min)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (end == s || *end || errno || !isfinite(*out) || *out < min) {
		fprintf(stderr, "load-gen: %s: \"%s\" is not a number >= %g\n", flag, s, min);
		return false;
	}
	return true;
}

struct opts {
	const char *listen, *dir, *replay, *metric, *backfill, *labels;
	double speed, scale, offset, history, interval;
};

static int parse_args(struct opts *o, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"dir", required_argument, NULL, 'd'},
	    {"replay", required_argument, NULL, 'r'},
	    {"speed", required_argument, NULL, 's'},
	    {"metric", required_argument, NULL, 'm'},
	    {"scale", required_argument, NULL, 'k'},
	    {"offset", required_argument, NULL, 'o'},
	    {"history-buckets", required_argument, NULL, 'H'},
	    {"backfill", required_argument, NULL, 'b'},
	    {"backfill-labels", required_argument, NULL, 'L'},
	    {"backfill-interval", required_argument, NULL, 'i'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	int opt;
	bool ok = true;

	memset(o, 0, sizeof(*o));
	o->scale = 1;
	o->interval = 1;
	o->labels = "";
	while (ok && (opt = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			o->listen = optarg;
			break;
		case 'd':
			o->dir = optarg;
			break;
		case 'r':
			o->replay = optarg;
			break;
		case 's':
			ok = parse_number(&o->speed, optarg, "--speed", 1e-9);
			break;
		case 'm':
			o->metric = optarg;
			break;
		case 'k':
			ok = parse_number(&o->scale, optarg, "--scale", 0);
			break;
		case 'o':
			ok = parse_number(&o->offset, optarg, "--offset", 0);
			break;
		case 'H':
			ok = parse_number(&o->history, optarg, "--history-buckets", 0);
			break;
		case 'b':
			o->backfill = optarg;
			break;
		case 'L':
			o->labels = optarg;
			break;
		case 'i':
			ok = parse_number(&o->interval, optarg, "--backfill-interval", 0.001);
			break;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			return 2;
		}
	}
	if (!ok)
		return 2;
	if (optind < argc) {
		fprintf(stderr, "load-gen: unexpected argument \"%s\"\n%s", argv[optind], usage);
		return 2;
	}
	if (o->dir && o->replay) {
		fprintf(stderr, "load-gen: --dir and --replay exclude each other\n%s", usage);
		return 2;
	}
	if (o->dir ? !o->listen : !o->replay) {
		fputs(usage, stderr);
		return 2;
	}
	if (o->replay) {
		if (!o->metric || !metric_name(o->metric) || o->speed <= 0) {
			fprintf(stderr,
			        "load-gen: --replay needs --speed N (> 0) and --metric NAME "
			        "(letters, digits, _)\n");
			return 2;
		}
		if (!o->listen && !o->backfill) {
			fprintf(stderr, "load-gen: --replay needs --listen, --backfill or both\n");
			return 2;
		}
		if (!labels_ok(o->labels)) {
			fprintf(stderr,
			        "load-gen: --backfill-labels: \"%s\" is not name=\"value\" pairs "
			        "separated by commas\n",
			        o->labels);
			return 2;
		}
	}
	return -1;
}

int main(int argc, char **argv)
{
	struct opts o;
	struct replay r;
	struct http_server *srv = NULL;
	struct http_route route = {"/metrics", serve_dir, NULL};
	struct sigaction sa;
	struct fs_err err;
	int status = parse_args(&o, argc, argv);

	if (status >= 0)
		return status;
	memset(&r, 0, sizeof(r));
	if (o.replay) {
		char start[32];
		double first_bucket = floor(o.offset) + floor(o.history);

		if (trace_load(&r.tr, o.replay, &err) != FS_OK) {
			log_error("load-gen: %s", err.msg);
			return 1;
		}
		if (first_bucket >= (double)r.tr.n) {
			log_error(
			    "load-gen: %s: --offset %.0f + --history-buckets %.0f is past its "
			    "%zu rows",
			    o.replay, floor(o.offset), floor(o.history), r.tr.n);
			trace_release(&r.tr);
			return 2;
		}
		r.metric = o.metric;
		r.speed = o.speed;
		r.scale = o.scale;
		r.t0_wall = clock_unix_s();
		r.t0_tr = r.tr.t[0] + first_bucket * r.tr.spacing;
		format_time(start, sizeof(start), r.t0_tr);
		log_info(
		    "load-gen: replaying %s (%zu rows, a bucket every %.0f s, %zu gaps) %g times "
		    "faster: a bucket every %.3g s; %s from %s at %.3f",
		    o.replay, r.tr.n, r.tr.spacing, r.tr.gaps, r.speed, r.tr.spacing / r.speed,
		    o.metric, start, r.t0_wall);
		route.fn = serve_replay;
		route.ctx = &r;
	} else {
		route.ctx = (void *)o.dir;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (o.listen) {
		struct http_server_opts so = {.listen = o.listen, .routes = &route, .nroutes = 1};

		if (http_server_new(&srv, &so, &err) != FS_OK) {
			log_error("load-gen: %s", err.msg);
			trace_release(&r.tr);
			return 1;
		}
	}
	if (o.backfill) {
		size_t n = 0;

		if (write_backfill(&n, &r, o.backfill, floor(o.history) * r.tr.spacing, o.interval,
		                   o.labels, &err) != FS_OK) {
			log_error("load-gen: %s", err.msg);
			http_server_free(srv);
			trace_release(&r.tr);
			return 1;
		}
		log_info(
		    "load-gen: wrote %zu samples of %.0f buckets of history to %s (%.0f s back)", n,
		    floor(o.history), o.backfill, floor(o.history) * r.tr.spacing / r.speed);
	}
	if (srv && http_server_start(srv, &err) != FS_OK) {
		log_error("load-gen: %s", err.msg);
		http_server_free(srv);
		trace_release(&r.tr);
		return 1;
	}
	while (srv && !atomic_load(&stop))
		usleep(100 * 1000);
	http_server_free(srv);
	trace_release(&r.tr);
	return 0;
}
