/* `foresight backtest`: replay a load trace through the operator's forecaster and replica math. */

#include <errno.h>
#include <getopt.h>
#include <json-c/json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backtest/backtest.h"
#include "base/buf.h"
#include "base/duration.h"
#include "base/str.h"
#include "base/ydoc.h"
#include "cli/cli.h"
#include "controller/spec.h"
#include "prom/prom.h"

#define CSV_MAX  (512u << 20) /* a trace file */
#define SPEC_MAX (1u << 20)   /* a manifest */
#define SVG_MAX  (64u << 20)

static const char usage_text[] =
    "Usage: foresight backtest [options] FILE.csv\n"
    "       foresight backtest [options] --prometheus URL --query Q --start T --end T "
    "--step D\n"
    "\n"
    "Replays a load trace through the operator's forecaster and replica math and\n"
    "reports, per policy (oracle, reactive, forecast, foresight), how often the\n"
    "service would have been short and what it would have cost.\n"
    "\n"
    "Trace:\n"
    "  FILE.csv                  rows timestamp,value after a header line\n"
    "  --prometheus URL          read a range query instead, with\n"
    "  --query Q --start T --end T --step D   (T: YYYY-MM-DD HH:MM:SS UTC, unix\n"
    "                            seconds, now or now-DURATION; D: a duration)\n"
    "Simulation:\n"
    "  --capacity-per-replica C  load one replica carries (the targetPerReplica)\n"
    "  --season S                season as a duration (1d), auto, or 0 for none\n"
    "                            (default auto)\n"
    "  --lead L                  buckets between a decision and the bucket it serves (1)\n"
    "  --warmup W                buckets only fitted on (min(a third, 14 seasons))\n"
    "  --quantile Q              upper quantile provisioned for (0.9)\n"
    "  --utilization U           the reactive policy's target utilisation (0.7)\n"
    "  --min-replicas N          every policy's floor (1)\n"
    "  --model NAME              Auto, HoltWinters, HoltWintersDamped, Holt, ... (Auto)\n"
    "  --spec FILE.yaml          min/max, behavior, fallback and forecast settings from a\n"
    "                            ForecastScaler manifest (flags given override it)\n"
    "Output:\n"
    "  --frontier SLO            also sweep each policy's headroom and print the cheapest\n"
    "                            cost_ratio with under_pct <= SLO (a percentage)\n"
    "  --csv FILE                per bucket and policy: policy,t,timestamp,y,replicas,\n"
    "                            forecast,upper\n"
    "  --svg FILE                a plot: load, forecast band, each policy's capacity\n"
    "\n"
    "Exit status: 0 done, 1 a failure (Prometheus, writing a file), 2 bad input.\n";

struct opts {
	const char *file;
	const char *prom_url, *query, *start, *end, *step;
	const char *spec_file;
	const char *csv, *svg;
	const char *season;
	const char *model;
	bool have_capacity, have_lead, have_quantile, have_min;
	double frontier; /* < 0: none */
	struct bt_config cfg;
};

/* Prints "foresight backtest: ..." and returns the exit status for it. */
#define fail(status, ...) cli_fail("backtest", (status), __VA_ARGS__)

static bool parse_number(double *out, const char *s)
{
	char *end;

	*out = strtod(s, &end);
	return *s && *end == '\0' && isfinite(*out);
}

static bool parse_count(size_t *out, const char *s, size_t max)
{
	double v;

	if (!parse_number(&v, s) || v < 0 || v > (double)max || v != floor(v))
		return false;
	*out = (size_t)v;
	return true;
}

/* A time flag: an absolute time, or now / now-DURATION. */
static bool parse_when(double *out, const char *s, double now)
{
	struct fs_err err;
	double back;

	if (strcmp(s, "now") == 0) {
		*out = now;
		return true;
	}
	if (strncmp(s, "now-", 4) == 0) {
		if (dur_parse(&back, s + 4, &err) != FS_OK)
			return false;
		*out = now - back;
		return true;
	}
	return bt_parse_time(out, s);
}

static int parse_args(struct opts *o, int argc, char **argv)
{
	enum {
		O_PROM = 256,
		O_QUERY,
		O_START,
		O_END,
		O_STEP,
		O_CAP,
		O_SEASON,
		O_LEAD,
		O_WARMUP,
		O_QUANTILE,
		O_UTIL,
		O_MIN,
		O_MODEL,
		O_SPEC,
		O_FRONTIER,
		O_CSV,
		O_SVG,
	};
	static const struct option longopts[] = {
	    {"prometheus", required_argument, NULL, O_PROM},
	    {"query", required_argument, NULL, O_QUERY},
	    {"start", required_argument, NULL, O_START},
	    {"end", required_argument, NULL, O_END},
	    {"step", required_argument, NULL, O_STEP},
	    {"capacity-per-replica", required_argument, NULL, O_CAP},
	    {"season", required_argument, NULL, O_SEASON},
	    {"lead", required_argument, NULL, O_LEAD},
	    {"warmup", required_argument, NULL, O_WARMUP},
	    {"quantile", required_argument, NULL, O_QUANTILE},
	    {"utilization", required_argument, NULL, O_UTIL},
	    {"min-replicas", required_argument, NULL, O_MIN},
	    {"model", required_argument, NULL, O_MODEL},
	    {"spec", required_argument, NULL, O_SPEC},
	    {"frontier", required_argument, NULL, O_FRONTIER},
	    {"csv", required_argument, NULL, O_CSV},
	    {"svg", required_argument, NULL, O_SVG},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	size_t count;
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case O_PROM:
			o->prom_url = optarg;
			break;
		case O_QUERY:
			o->query = optarg;
			break;
		case O_START:
			o->start = optarg;
			break;
		case O_END:
			o->end = optarg;
			break;
		case O_STEP:
			o->step = optarg;
			break;
		case O_CAP:
			if (!parse_number(&o->cfg.capacity, optarg) || !(o->cfg.capacity > 0))
				return fail(2, "--capacity-per-replica %s: must be a number > 0",
				            optarg);
			o->have_capacity = true;
			break;
		case O_SEASON:
			o->season = optarg;
			break;
		case O_LEAD:
			if (!parse_count(&o->cfg.lead, optarg, 1000) || o->cfg.lead < 1)
				return fail(2,
				            "--lead %s: must be a whole number of buckets, 1..1000",
				            optarg);
			o->have_lead = true;
			break;
		case O_WARMUP:
			if (!parse_count(&o->cfg.warmup, optarg, BT_TRACE_MAX) || o->cfg.warmup < 1)
				return fail(2,
				            "--warmup %s: must be a whole number of buckets >= 1",
				            optarg);
			break;
		case O_QUANTILE:
			if (!parse_number(&o->cfg.quantile, optarg) ||
			    !(o->cfg.quantile >= 0.5 && o->cfg.quantile < 1))
				return fail(2, "--quantile %s: must be at least 0.5 and below 1",
				            optarg);
			o->have_quantile = true;
			break;
		case O_UTIL:
			if (!parse_number(&o->cfg.utilization, optarg) ||
			    !(o->cfg.utilization > 0 && o->cfg.utilization <= 1))
				return fail(2, "--utilization %s: must be in (0, 1]", optarg);
			break;
		case O_MIN:
			if (!parse_count(&count, optarg, SCALE_REPLICAS_MAX))
				return fail(2, "--min-replicas %s: must be a whole number >= 0",
				            optarg);
			o->cfg.min_replicas = (int)count;
			o->have_min = true;
			break;
		case O_MODEL:
			o->model = optarg;
			break;
		case O_SPEC:
			o->spec_file = optarg;
			break;
		case O_FRONTIER:
			if (!parse_number(&o->frontier, optarg) ||
			    !(o->frontier >= 0 && o->frontier <= 100))
				return fail(2, "--frontier %s: must be a percentage 0..100",
				            optarg);
			break;
		case O_CSV:
			o->csv = optarg;
			break;
		case O_SVG:
			o->svg = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			if (optopt)
				return fail(2, "unknown or incomplete option -%c (see --help)",
				            optopt);
			return fail(2, "unknown or incomplete option %s (see --help)",
			            argv[optind - 1]);
		}
	}
	if (optind < argc)
		o->file = argv[optind++];
	if (optind < argc)
		return fail(2, "unexpected argument %s: give one trace file", argv[optind]);
	if (!o->file == !o->prom_url)
		return fail(2, "give a CSV file or --prometheus URL (see --help)");
	if (o->prom_url && (!o->query || !o->start || !o->end || !o->step))
		return fail(2, "--prometheus needs --query, --start, --end and --step");
	if (!o->prom_url && (o->query || o->start || o->end || o->step))
		return fail(2, "--query, --start, --end and --step go with --prometheus");
	return -1;
}

/* "file:line: " for the spec field an error message starts with. */
static void spec_where(char *out, size_t size, struct ydoc *doc, yaml_node_t *root, const char *msg)
{
	char path[160];
	size_t n = strcspn(msg, ": ");

	if (n >= sizeof(path))
		n = sizeof(path) - 1;
	memcpy(path, msg, n);
	path[n] = '\0';
	str_fmt(out, size, "%s:%d", doc->name, ydoc_line(ydoc_find_path(doc, root, path)));
}

/*
 * Takes the scaler's settings from a ForecastScaler manifest, checked by the
 * operator's own parser; flags given on the command line win.
 */
static int apply_spec(struct opts *o, double step)
{
	struct ydoc doc;
	struct ctrl_spec spec;
	struct fs_err err;
	json_object *obj = NULL, *meta = NULL;
	char where[600];
	int status = -1;

	memset(&spec, 0, sizeof(spec));
	if (ydoc_load_file(&doc, o->spec_file, SPEC_MAX, &err) != FS_OK) {
		status = fail(2, "--spec: %s", err.msg);
		goto out;
	}
	if (!ydoc_root(&doc)) {
		status = fail(2, "%s:1: the file holds no manifest", o->spec_file);
		goto out;
	}
	if (ydoc_to_json(&obj, &doc, ydoc_root(&doc), &err) != FS_OK) {
		status = fail(2, "%s", err.msg);
		goto out;
	}
	if (!json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, "spec", NULL)) {
		status = fail(2, "%s:%d: not a ForecastScaler manifest: no spec", o->spec_file,
		              ydoc_line(ydoc_root(&doc)));
		goto out;
	}
	/* A manifest for `kubectl apply` may leave the namespace (and even the name) out. */
	if (!json_object_object_get_ex(obj, "metadata", &meta) ||
	    !json_object_is_type(meta, json_type_object)) {
		meta = json_object_new_object();
		json_object_object_add(obj, "metadata", meta);
	}
	if (meta && !json_object_object_get_ex(meta, "namespace", NULL))
		json_object_object_add(meta, "namespace", json_object_new_string("default"));
	if (meta && !json_object_object_get_ex(meta, "name", NULL))
		json_object_object_add(meta, "name", json_object_new_string("backtest"));
	if (ctrl_spec_parse(&spec, obj, &err) != FS_OK) {
		spec_where(where, sizeof(where), &doc, ydoc_root(&doc), err.msg);
		status = fail(2, "%s: %s", where, err.msg);
		goto out;
	}
	o->cfg.scale = spec.scale;
	o->cfg.model = spec.model;
	o->cfg.on_empty = spec.metrics[0].on_empty;
	if (!o->have_min)
		o->cfg.min_replicas = spec.scale.min_replicas;
	if (!o->have_capacity) {
		o->cfg.capacity = spec.metrics[0].target_per_replica;
		o->have_capacity = true;
	}
	if (!o->have_quantile)
		o->cfg.quantile = spec.quantile;
	if (!o->have_lead && spec.scale.lead_time > 0)
		o->cfg.lead = (size_t)ceil(spec.scale.lead_time / step - 1e-9);
	if (!o->season) {
		if (spec.season < 0)
			o->cfg.season = FC_SEASON_AUTO;
		else
			o->cfg.season = (size_t)llround(spec.season / step);
	}
	o->cfg.history = (size_t)llround(spec.history / step);
out:
	json_object_put(obj);
	ctrl_spec_release(&spec);
	ydoc_release(&doc);
	return status;
}

static int read_csv(struct bt_trace *tr, const char *path)
{
	struct buf b;
	struct fs_err err;
	char chunk[65536];
	size_t got;
	FILE *f = fopen(path, "rb");
	int status = -1;

	if (!f)
		return fail(2, "%s: cannot open: %s", path, strerror(errno));
	buf_init(&b, CSV_MAX);
	while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (buf_append(&b, chunk, got, &err) != FS_OK) {
			status = fail(2, "%s: %s", path, err.msg);
			goto out;
		}
	}
	if (ferror(f)) {
		status = fail(1, "%s: read error: %s", path, strerror(errno));
		goto out;
	}
	if (bt_csv_parse(tr, path, b.data ? b.data : "", b.len, &err) != FS_OK)
		status = fail(2, "%s", err.msg);
out:
	fclose(f);
	buf_release(&b);
	return status;
}

static int read_prometheus(struct bt_trace *tr, const struct opts *o)
{
	struct prom_client_opts po;
	struct prom_client *c = NULL;
	struct prom_series s;
	struct fs_err err;
	double start, end, step, now = (double)time(NULL);
	size_t first = 0, last;
	int status = -1;

	memset(&s, 0, sizeof(s));
	if (!parse_when(&start, o->start, now))
		return fail(2, "--start %s: expected YYYY-MM-DD HH:MM:SS, unix seconds or now-DUR",
		            o->start);
	if (!parse_when(&end, o->end, now))
		return fail(2, "--end %s: expected YYYY-MM-DD HH:MM:SS, unix seconds or now-DUR",
		            o->end);
	if (dur_parse(&step, o->step, &err) != FS_OK || !(step > 0))
		return fail(2, "--step %s: expected a duration such as 5m", o->step);
	if (!(end > start))
		return fail(2, "--end must be after --start");
	prom_client_opts_init(&po);
	po.url = o->prom_url;
	po.timeout_ms = 60000;
	po.max_points = BT_TRACE_MAX;
	if (prom_client_new(&c, &po, &err) != FS_OK)
		return fail(2, "--prometheus: %s", err.msg);
	if (prom_query_range(&s, c, o->query, start, end, step, &err) != FS_OK) {
		status = fail(err.rc == FS_EINVAL ? 2 : 1, "%s", err.msg);
		goto out;
	}
	if (s.status != PROM_VALUE || s.n == 0) {
		status = fail(1, "--query %s: no data between --start and --end", o->query);
		goto out;
	}
	/* The range may start before the series did, or end after it stopped. */
	while (first < s.n && !isfinite(s.v[first]))
		first++;
	last = s.n;
	while (last > first && !isfinite(s.v[last - 1]))
		last--;
	if (bt_trace_from_grid(tr, s.t[first], s.step, s.v + first, last - first, &err) != FS_OK)
		status = fail(2, "--query %s: %s", o->query, err.msg);
	else
		fprintf(stderr,
		        "foresight backtest: read %zu points of %s from %s in %u request%s\n",
		        last - first, s.labels[0] ? s.labels : "the query", prom_client_url(c),
		        s.chunks, s.chunks == 1 ? "" : "s");
out:
	prom_series_release(&s);
	prom_client_free(c);
	return status;
}

static void report_gaps(const struct bt_trace *tr, const char *source)
{
	char when[32], len[32];

	for (size_t i = 0; i < tr->n_gaps; i++) {
		bt_format_time(when, sizeof(when), tr->gaps[i].after);
		dur_format(len, sizeof(len), (double)tr->gaps[i].missing * tr->step);
		fprintf(stderr,
		        "foresight backtest: %s:%zu: gap: %zu bucket%s (%s) missing after %s\n",
		        source, tr->gaps[i].line, tr->gaps[i].missing,
		        tr->gaps[i].missing == 1 ? "" : "s", len, when);
	}
	if (tr->n_gaps_total > tr->n_gaps)
		fprintf(stderr, "foresight backtest: %s: %zu more gaps\n", source,
		        tr->n_gaps_total - tr->n_gaps);
}

static void print_cell(double v, int width, int prec)
{
	if (isfinite(v))
		printf(" %*.*f", width, prec, v);
	else
		printf(" %*s", width, "-");
}

static void print_report(const struct opts *o, const struct bt_trace *tr, const struct bt_result *r,
                         const char *source)
{
	char a[32], b[32], step[32], season[48];

	bt_format_time(a, sizeof(a), tr->t0);
	bt_format_time(b, sizeof(b), tr->t0 + (double)(tr->n - 1) * tr->step);
	dur_format(step, sizeof(step), tr->step);
	if (r->season) {
		char d[32];

		dur_format(d, sizeof(d), (double)r->season * tr->step);
		str_fmt(season, sizeof(season), "%zu buckets (%s%s)", r->season, d,
		        r->season_detected ? ", detected" : "");
	} else {
		str_fmt(season, sizeof(season), "none");
	}
	printf("trace      %s: %zu buckets of %s, %s .. %s UTC, %zu missing\n", source, tr->n, step,
	       a, b, tr->n_missing);
	printf("model      %s at the last of %zu fits, season %s, holdout MAPE %.1f%%, state %zu "
	       "bytes\n",
	       fc_model_name(r->model), r->refits + 1, season, 100 * r->model_mape, r->state_bytes);
	printf("simulation capacity %g per replica, lead %zu, warm-up %zu buckets, %zu scored, "
	       "quantile %g, utilization %g, min replicas %d\n",
	       o->cfg.capacity, o->cfg.lead, r->warmup, r->scored, o->cfg.quantile,
	       o->cfg.utilization, o->cfg.min_replicas);
	if (r->not_ready)
		printf(
		    "note       %zu decisions had no ready forecast: forecast used the last load\n",
		    r->not_ready);
	printf("\n%-10s %10s %13s %11s %8s %9s\n", "policy", "under_pct", "unserved_pct",
	       "cost_ratio", "mape", "coverage");
	for (size_t p = 0; p < BT_POLICY_COUNT; p++) {
		const struct bt_figures *f = &r->fig[p];

		printf("%-10s", bt_policy_name((enum bt_policy)p));
		print_cell(f->under_pct, 10, 2);
		print_cell(f->unserved_pct, 13, 3);
		print_cell(f->cost_ratio, 11, 3);
		print_cell(f->has_forecast ? 100 * f->mape : NAN, 7, 1);
		printf(f->has_forecast ? "%%" : " ");
		print_cell(f->has_forecast ? f->coverage : NAN, 8, 3);
		printf("\n");
	}
}

static void print_frontier(const struct bt_frontier_point *fp, double slo)
{
	static const char *const knob[BT_POLICY_COUNT] = {"-", "utilization", "quantile",
	                                                  "quantile"};

	printf("\nfrontier: the cheapest setting with under_pct <= %g%%\n", slo);
	printf("%-10s %-18s %11s %10s\n", "policy", "knob", "cost_ratio", "under_pct");
	for (size_t p = 0; p < BT_POLICY_COUNT; p++) {
		char k[32];

		if (!fp[p].met) {
			printf("%-10s %-18s %11s %10s\n", bt_policy_name((enum bt_policy)p), "-",
			       "cannot", "meet it");
			continue;
		}
		if (p == BT_ORACLE)
			str_fmt(k, sizeof(k), "-");
		else
			str_fmt(k, sizeof(k), "%s %g", knob[p], fp[p].knob);
		printf("%-10s %-18s %11.3f %10.2f\n", bt_policy_name((enum bt_policy)p), k,
		       fp[p].cost_ratio, fp[p].under_pct);
	}
}

static int write_csv(const char *path, const struct bt_trace *tr, const struct bt_result *r)
{
	FILE *f = fopen(path, "w");
	char when[32];

	if (!f)
		return fail(1, "--csv %s: %s", path, strerror(errno));
	fputs("policy,t,timestamp,y,replicas,forecast,upper\n", f);
	for (size_t p = 0; p < BT_POLICY_COUNT; p++) {
		bool fc = p == BT_FORECAST || p == BT_FORESIGHT;

		for (size_t k = 0; k + r->warmup < r->n; k++) {
			size_t t = r->warmup + k;
			double y = tr->v[t];

			bt_format_time(when, sizeof(when), tr->t0 + (double)t * tr->step);
			fprintf(f, "%s,%zu,%s,", bt_policy_name((enum bt_policy)p), t, when);
			if (isfinite(y))
				fprintf(f, "%.17g", y);
			fprintf(f, ",%d,", r->replicas[p][k]);
			if (fc && isfinite(r->point[k]))
				fprintf(f, "%.6f,%.6f", r->point[k], r->upper[k]);
			else
				fputc(',', f);
			fputc('\n', f);
		}
	}
	if (fclose(f) != 0)
		return fail(1, "--csv %s: write failed: %s", path, strerror(errno));
	return -1;
}

static int write_svg(const char *path, const struct bt_trace *tr, const struct bt_result *r,
                     double capacity, const char *source)
{
	struct buf b;
	struct fs_err err;
	char title[256];
	FILE *f;
	int status = -1;

	str_fmt(title, sizeof(title), "foresight backtest: %s (capacity %g per replica)", source,
	        capacity);
	buf_init(&b, SVG_MAX);
	if (bt_svg(&b, r, tr->v, tr->t0, tr->step, capacity, title, &err) != FS_OK) {
		status = fail(1, "--svg %s: %s", path, err.msg);
		goto out;
	}
	f = fopen(path, "w");
	if (!f) {
		status = fail(1, "--svg %s: %s", path, strerror(errno));
		goto out;
	}
	if (fwrite(b.data, 1, b.len, f) != b.len || fclose(f) != 0)
		status = fail(1, "--svg %s: write failed: %s", path, strerror(errno));
out:
	buf_release(&b);
	return status;
}

int cli_backtest(int argc, char **argv)
{
	struct opts o;
	struct bt_trace tr;
	struct bt_result r;
	struct bt_frontier_point fp[BT_POLICY_COUNT];
	struct fs_err err;
	const char *source;
	int status;

	memset(&o, 0, sizeof(o));
	memset(&tr, 0, sizeof(tr));
	memset(&r, 0, sizeof(r));
	bt_config_init(&o.cfg);
	o.frontier = -1;
	status = parse_args(&o, argc, argv);
	if (status >= 0)
		return status;
	if (o.model && !fc_model_parse(&o.cfg.model, o.model))
		return fail(2,
		            "--model %s: unknown model (Auto, HoltWinters, HoltWintersDamped, "
		            "HoltWintersMultiplicative, HoltWintersMultiplicativeDamped, Holt, "
		            "HoltDamped, SimpleExponentialSmoothing, SeasonalNaive, LinearTrend, "
		            "None)",
		            o.model);
	source = o.file ? o.file : o.query;
	status = o.file ? read_csv(&tr, o.file) : read_prometheus(&tr, &o);
	if (status >= 0)
		goto out;
	report_gaps(&tr, source);
	if (o.spec_file) {
		enum fc_model model = o.cfg.model;

		status = apply_spec(&o, tr.step);
		if (status >= 0)
			goto out;
		if (o.model)
			o.cfg.model = model;
	}
	if (!o.have_capacity) {
		status = fail(2, "--capacity-per-replica is required (or --spec with a metric's "
		                 "targetPerReplica)");
		goto out;
	}
	if (o.season && strcmp(o.season, "auto") == 0) {
		o.cfg.season = FC_SEASON_AUTO;
	} else if (o.season) {
		double s;

		if (dur_parse(&s, o.season, &err) != FS_OK) {
			status =
			    fail(2, "--season %s: expected a duration (1d), auto or 0", o.season);
			goto out;
		}
		o.cfg.season = (size_t)llround(s / tr.step);
		if (s > 0 &&
		    (o.cfg.season < 2 || fabs((double)o.cfg.season * tr.step - s) > 1e-6 * s)) {
			status = fail(
			    2, "--season %s: not a whole number (>= 2) of the trace's %g s buckets",
			    o.season, tr.step);
			goto out;
		}
	}
	if (bt_run(&r, tr.v, tr.n, tr.step, &o.cfg, &err) != FS_OK) {
		status = fail(err.rc == FS_EINVAL ? 2 : 1, "%s", err.msg);
		goto out;
	}
	print_report(&o, &tr, &r, source);
	if (o.frontier >= 0) {
		if (bt_frontier(fp, tr.v, tr.n, tr.step, &o.cfg, o.frontier, &err) != FS_OK) {
			status = fail(err.rc == FS_EINVAL ? 2 : 1, "%s", err.msg);
			goto out;
		}
		print_frontier(fp, o.frontier);
	}
	fflush(stdout);
	if (o.csv && (status = write_csv(o.csv, &tr, &r)) >= 0)
		goto out;
	if (o.svg && (status = write_svg(o.svg, &tr, &r, o.cfg.capacity, source)) >= 0)
		goto out;
	status = 0;
out:
	bt_result_release(&r);
	bt_trace_release(&tr);
	return status;
}
