/* The backtest's simulation: the forecaster run, the four policies, their figures. */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backtest/backtest.h"

/* The quantiles a frontier sweeps: fine where the SLOs people use land. */
static const double sweep_q[] = {
    0.5,   0.52,  0.54,  0.56,  0.58, 0.6,   0.62,  0.64,  0.66,  0.68,  0.7,   0.72,  0.74,  0.76,
    0.78,  0.8,   0.82,  0.84,  0.86, 0.88,  0.9,   0.905, 0.91,  0.915, 0.92,  0.925, 0.93,  0.935,
    0.94,  0.945, 0.95,  0.955, 0.96, 0.965, 0.97,  0.975, 0.98,  0.981, 0.982, 0.983, 0.984, 0.985,
    0.986, 0.987, 0.988, 0.989, 0.99, 0.991, 0.992, 0.993, 0.994, 0.995, 0.996, 0.997, 0.998, 0.999,
};
#define SWEEP_Q_COUNT (sizeof(sweep_q) / sizeof(sweep_q[0]))

/* The mape denominator's floor: a load of one unit. */
#define MAPE_EPS 1.0

const char *bt_policy_name(enum bt_policy p)
{
	static const char *const names[BT_POLICY_COUNT] = {"oracle", "reactive", "forecast",
	                                                   "foresight"};

	return p < BT_POLICY_COUNT ? names[p] : "?";
}

void bt_config_init(struct bt_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->lead = 1;
	cfg->quantile = 0.9;
	cfg->utilization = 0.7;
	cfg->min_replicas = 1;
	cfg->model = FC_AUTO;
	cfg->season = FC_SEASON_AUTO;
	cfg->on_empty = SCALE_EMPTY_HOLD;
	cfg->scale.min_replicas = 1;
	cfg->scale.max_replicas = SCALE_REPLICAS_MAX;
	cfg->scale.mode = SCALE_MODE_AUTO;
	cfg->scale.fallback.failure_threshold = 3;
	cfg->scale.fallback.action = SCALE_FALLBACK_HOLD;
	cfg->scale.max_error = 0.3;
	scale_behavior_defaults(&cfg->scale.behavior);
}

/* Replicas for `load` at `per` each, at least `floor`; a missing load gives -1. */
static int need(double load, double per, int floor)
{
	double r;

	if (!isfinite(load))
		return -1;
	r = ceil(load / per - 1e-9);
	if (r > SCALE_REPLICAS_MAX)
		r = SCALE_REPLICAS_MAX;
	return r < floor ? floor : (int)r;
}

/* The warm-up and the checks every entry point shares. */
static enum fs_rc check(size_t *warmup, const double *y, size_t n, double step,
                        const struct bt_config *cfg, struct fs_err *err)
{
	size_t w = cfg->warmup;

	if (!y || n == 0)
		return fs_fail(err, FS_EINVAL, "the trace is empty");
	if (!(step > 0) || !isfinite(step))
		return fs_fail(err, FS_EINVAL, "step %g: must be a positive number of seconds",
		               step);
	if (!(cfg->capacity > 0) || !isfinite(cfg->capacity))
		return fs_fail(err, FS_EINVAL, "--capacity-per-replica: must be a number > 0");
	if (cfg->lead < 1 || cfg->lead > 1000)
		return fs_fail(err, FS_EINVAL, "--lead %zu: must be 1..1000 buckets", cfg->lead);
	if (!(cfg->quantile >= 0.5 && cfg->quantile < 1))
		return fs_fail(err, FS_EINVAL, "--quantile %g: must be at least 0.5 and below 1",
		               cfg->quantile);
	if (!(cfg->utilization > 0 && cfg->utilization <= 1))
		return fs_fail(err, FS_EINVAL, "--utilization %g: must be in (0, 1]",
		               cfg->utilization);
	if (cfg->min_replicas < 0 || cfg->min_replicas > cfg->scale.max_replicas)
		return fs_fail(err, FS_EINVAL, "--min-replicas %d: must be 0..%d",
		               cfg->min_replicas, cfg->scale.max_replicas);
	if (w == 0) {
		size_t season = cfg->season == FC_SEASON_AUTO ? 0 : cfg->season;

		w = n / 3;
		if (season && season <= SIZE_MAX / 14 && 14 * season < w)
			w = 14 * season;
	}
	if (w < cfg->lead || w >= n)
		return fs_fail(err, FS_EINVAL,
		               "--warmup %zu: must be at least the lead (%zu) and leave buckets "
		               "to score in a trace of %zu",
		               w, cfg->lead, n);
	*warmup = w;
	return FS_OK;
}

/*
 * The forecaster over the scored buckets: for scored bucket k (bucket
 * warmup + k), the forecast made at decision d = warmup + k - lead, with one
 * upper bound per quantile at the lead (`upper`) and the largest over
 * horizons 1..lead (`peak`, what the operator provisions for).
 */
struct fc_run {
	size_t m;         /* scored buckets */
	size_t nq;        /* quantiles */
	const double *q;  /* nq */
	double *point;    /* m; NaN when not ready */
	double *lower;    /* m, at the config's quantile */
	double *upper;    /* m * nq, [k * nq + j] */
	double *peak;     /* m * nq */
	double *error;    /* m: the recent MAPE at the decision */
	double *relative; /* m: its error relative to the naive forecast's then */
	size_t not_ready;
	size_t refits;
	enum fc_model model;
	size_t season;
	bool season_detected;
	double model_mape;
	size_t state_bytes;
};

static void fc_run_release(struct fc_run *f)
{
	free(f->point);
	free(f->lower);
	free(f->upper);
	free(f->peak);
	free(f->error);
	free(f->relative);
	memset(f, 0, sizeof(*f));
}

static enum fs_rc fit_window(struct fc_state **st, const double *y, size_t end, size_t history,
                             const struct bt_config *cfg, struct fs_err *err)
{
	struct fc_spec spec;
	size_t from = end > history ? end - history : 0;

	fc_spec_init(&spec);
	spec.model = cfg->model;
	spec.season = cfg->season;
	spec.quantile = cfg->quantile;
	spec.horizon_max = cfg->lead;
	return fc_fit(st, y + from, end - from, &spec, err);
}

static void note_fit(struct fc_run *f, const struct fc_state *st)
{
	const struct fc_info *info = fc_info(st);
	size_t bytes = fc_state_size(st);

	f->model = info->model;
	f->season = info->season;
	f->season_detected = info->season_detected;
	f->model_mape = info->mape;
	if (bytes > f->state_bytes)
		f->state_bytes = bytes;
}

static enum fs_rc forecaster_run(struct fc_run *f, const double *y, size_t n, size_t warmup,
                                 const struct bt_config *cfg, const double *qs, size_t nq,
                                 struct fs_err *err)
{
	size_t lead = cfg->lead, m = n - warmup;
	size_t history = cfg->history ? cfg->history : warmup;
	size_t since_fit = 0, slow_refit;
	double *pt = NULL, *lo = NULL, *up = NULL;
	struct fc_state *st = NULL;
	enum fs_rc rc;

	memset(f, 0, sizeof(*f));
	f->m = m;
	f->nq = nq;
	f->q = qs;
	f->point = malloc(m * sizeof(double));
	f->lower = malloc(m * sizeof(double));
	f->upper = malloc(m * nq * sizeof(double));
	f->peak = malloc(m * nq * sizeof(double));
	f->error = malloc(m * sizeof(double));
	f->relative = malloc(m * sizeof(double));
	pt = malloc(lead * sizeof(double));
	lo = malloc(lead * sizeof(double));
	up = malloc(lead * sizeof(double));
	if (!f->point || !f->lower || !f->upper || !f->peak || !f->error || !f->relative || !pt ||
	    !lo || !up) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory for forecasts of %zu buckets", m);
		goto out;
	}
	/* The first decision sees buckets 0 .. warmup - lead. */
	rc = fit_window(&st, y, warmup - lead + 1, history, cfg, err);
	if (rc != FS_OK)
		goto out;
	note_fit(f, st);
	slow_refit = fc_info(st)->season ? fc_info(st)->season : 288;
	for (size_t k = 0; k < m; k++) {
		size_t d = warmup + k - lead; /* the decision's last bucket */
		const struct fc_info *info = fc_info(st);

		/* A state not ready for want of history is refitted only once a season. */
		if (k > 0 && fc_refit_due(st) && (info->ready || since_fit >= slow_refit)) {
			struct fc_state *next = NULL;

			rc = fit_window(&next, y, d + 1, history, cfg, err);
			if (rc != FS_OK)
				goto out;
			fc_free(st);
			st = next;
			note_fit(f, st);
			f->refits++;
			since_fit = 0;
			info = fc_info(st);
		}
		f->error[k] = info->recent_mape;
		f->relative[k] = info->recent_relative_mae;
		fc_set_quantile(st, cfg->quantile);
		if (fc_forecast(pt, lo, up, st, lead, err) != FS_OK) {
			f->point[k] = f->lower[k] = NAN;
			for (size_t j = 0; j < nq; j++)
				f->upper[k * nq + j] = f->peak[k * nq + j] = NAN;
			f->not_ready++;
		} else {
			f->point[k] = pt[lead - 1];
			f->lower[k] = lo[lead - 1];
			for (size_t j = 0; j < nq; j++) {
				double peak = 0;

				fc_set_quantile(st, qs[j]);
				fc_forecast(pt, NULL, up, st, lead, err);
				for (size_t h = 0; h < lead; h++)
					peak = fmax(peak, up[h]);
				f->upper[k * nq + j] = up[lead - 1];
				f->peak[k * nq + j] = peak;
			}
		}
		fc_update(st, y[d + 1]);
		since_fit++;
	}
	fs_err_clear(err);
out:
	fc_free(st);
	free(pt);
	free(lo);
	free(up);
	if (rc != FS_OK)
		fc_run_release(f);
	return rc;
}

/* Fills the oracle's replicas: ceil(y[t] / C); a missing bucket repeats the last count. */
static void oracle_replicas(int *rep, const double *y, size_t warmup, size_t m,
                            const struct bt_config *cfg)
{
	int last = cfg->min_replicas;

	for (size_t k = 0; k < m; k++) {
		int r = need(y[warmup + k], cfg->capacity, cfg->min_replicas);

		rep[k] = last = r < 0 ? last : r;
	}
}

/*
 * The HPA's answer: ceil(y[t-L] / (C u)), the largest of the last `window`
 * recommendations (scale-down stabilisation); a missing bucket holds the
 * last recommendation.
 */
static void reactive_replicas(int *rep, const double *y, size_t warmup, size_t m, size_t window,
                              double u, const struct bt_config *cfg)
{
	size_t first = warmup - cfg->lead; /* decision of scored bucket 0 */
	size_t from = first >= window - 1 ? first - (window - 1) : 0;
	int last = cfg->min_replicas;
	int ring[64];
	int *recs = window <= 64 ? ring : malloc(window * sizeof(int));

	if (!recs) /* a window too long to allocate stabilises over what fits */
		recs = ring, window = 64;
	for (size_t i = 0; i < window; i++)
		recs[i] = -1;
	for (size_t d = from; d < first + m; d++) {
		int r = need(y[d], cfg->capacity * u, cfg->min_replicas);
		int best;

		last = r < 0 ? last : r;
		recs[d % window] = last;
		if (d < first)
			continue;
		best = last;
		for (size_t i = 0; i < window; i++)
			if (recs[i] > best)
				best = recs[i];
		rep[d - first] = best;
	}
	if (recs != ring)
		free(recs);
}

/* The forecaster alone: ceil(upper / C); without a forecast, the last load's need. */
static void forecast_replicas(int *rep, const double *y, size_t warmup, size_t m,
                              const struct fc_run *f, size_t qi, const struct bt_config *cfg)
{
	int last = need(y[warmup - cfg->lead], cfg->capacity, cfg->min_replicas);

	if (last < 0)
		last = cfg->min_replicas;
	for (size_t k = 0; k < m; k++) {
		double u = f->upper[k * f->nq + qi];
		int r = need(isfinite(u) ? u : y[warmup + k - cfg->lead], cfg->capacity,
		             cfg->min_replicas);

		rep[k] = last = r < 0 ? last : r;
	}
}

/* What the operator does: scale_evaluate once per bucket with the scaler spec. */
static enum fs_rc foresight_replicas(int *rep, const double *y, size_t warmup, size_t m,
                                     double step, const struct fc_run *f, size_t qi,
                                     const struct bt_config *cfg, struct fs_err *err)
{
	struct scale_spec spec = cfg->scale;
	struct scale_history h;
	struct scale_decision dec;
	struct scale_metric metric;
	struct scale_forecast fc;
	struct scale_point peak;
	size_t first = warmup - cfg->lead;
	int current = need(y[first], cfg->capacity, cfg->min_replicas);
	enum fs_rc rc = FS_OK;

	spec.mode = SCALE_MODE_AUTO;
	spec.min_replicas = cfg->min_replicas;
	spec.lead_time = (double)cfg->lead * step;
	if (current < 0)
		current = cfg->min_replicas;
	if (current > spec.max_replicas)
		current = spec.max_replicas;
	scale_history_init(&h);
	for (size_t k = 0; k < m; k++) {
		size_t d = first + k;
		double now = (double)d * step, top = f->peak[k * f->nq + qi];

		memset(&metric, 0, sizeof(metric));
		memset(&fc, 0, sizeof(fc));
		metric.name = "load";
		metric.target_per_replica = cfg->capacity;
		metric.on_empty = cfg->on_empty;
		metric.sample = isfinite(y[d]) ? SCALE_SAMPLE_OK : SCALE_SAMPLE_EMPTY;
		metric.observed = y[d];
		fc.ready = isfinite(top);
		fc.error = f->error[k];
		fc.relative_error = f->relative[k];
		peak.t = now + spec.lead_time;
		peak.v = top;
		fc.upper = &peak;
		fc.n_upper = fc.ready ? 1 : 0;
		metric.forecast = cfg->model == FC_NONE ? NULL : &fc;
		rc = scale_evaluate(&dec, &h, &spec, &metric, 1, current, now, err);
		if (rc != FS_OK)
			goto out;
		if (dec.desired != current) {
			rc = scale_history_record_scale(&h, now, current, dec.desired, err);
			if (rc != FS_OK)
				goto out;
			current = dec.desired;
		}
		rep[k] = current;
	}
out:
	scale_history_release(&h);
	return rc;
}

/* A policy's figures; `upper`/`point`/`lower` NULL for policies without a forecast. */
static void figures(struct bt_figures *fig, const int *rep, const int *oracle, const double *y,
                    size_t warmup, size_t m, double capacity, const double *point,
                    const double *upper, size_t ustride)
{
	double sum_y = 0, short_y = 0, sum_r = 0, sum_o = 0, ape = 0;
	size_t scored = 0, under = 0, fc_n = 0, covered = 0;

	memset(fig, 0, sizeof(*fig));
	for (size_t k = 0; k < m; k++) {
		double v = y[warmup + k], have = (double)rep[k] * capacity;

		if (!isfinite(v))
			continue;
		scored++;
		sum_y += v;
		sum_r += rep[k];
		sum_o += oracle[k];
		if (have < v) {
			under++;
			short_y += v - have;
		}
		if (point && isfinite(point[k])) {
			fc_n++;
			ape += fabs(v - point[k]) / fmax(v, MAPE_EPS);
			covered += v <= upper[k * ustride];
		}
	}
	fig->under_pct = scored ? 100.0 * (double)under / (double)scored : 0;
	fig->unserved_pct = sum_y > 0 ? 100.0 * short_y / sum_y : 0;
	fig->cost_ratio = sum_o > 0 ? sum_r / sum_o : (sum_r > 0 ? INFINITY : 1);
	fig->has_forecast = point != NULL;
	fig->mape = fc_n ? ape / (double)fc_n : NAN;
	fig->coverage = fc_n ? (double)covered / (double)fc_n : NAN;
}

static size_t stabilization_buckets(const struct bt_config *cfg, double step)
{
	size_t w = cfg->stabilization;

	if (w == 0)
		w = (size_t)floor(300.0 / step + 1e-9);
	return w < 1 ? 1 : w;
}

void bt_result_release(struct bt_result *r)
{
	if (!r)
		return;
	for (size_t p = 0; p < BT_POLICY_COUNT; p++)
		free(r->replicas[p]);
	free(r->point);
	free(r->lower);
	free(r->upper);
	memset(r, 0, sizeof(*r));
}

enum fs_rc bt_run(struct bt_result *out, const double *y, size_t n, double step,
                  const struct bt_config *cfg, struct fs_err *err)
{
	struct bt_result r;
	struct fc_run f;
	size_t warmup, m;
	enum fs_rc rc;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	memset(&f, 0, sizeof(f));
	rc = check(&warmup, y, n, step, cfg, err);
	if (rc != FS_OK)
		return rc;
	m = n - warmup;
	r.n = n;
	r.warmup = warmup;
	for (size_t p = 0; p < BT_POLICY_COUNT; p++) {
		r.replicas[p] = malloc(m * sizeof(int));
		if (!r.replicas[p]) {
			rc = fs_fail(err, FS_ENOMEM, "out of memory for %zu buckets", m);
			goto out;
		}
	}
	rc = forecaster_run(&f, y, n, warmup, cfg, &cfg->quantile, 1, err);
	if (rc != FS_OK)
		goto out;
	oracle_replicas(r.replicas[BT_ORACLE], y, warmup, m, cfg);
	reactive_replicas(r.replicas[BT_REACTIVE], y, warmup, m, stabilization_buckets(cfg, step),
	                  cfg->utilization, cfg);
	forecast_replicas(r.replicas[BT_FORECAST], y, warmup, m, &f, 0, cfg);
	rc = foresight_replicas(r.replicas[BT_FORESIGHT], y, warmup, m, step, &f, 0, cfg, err);
	if (rc != FS_OK)
		goto out;
	for (size_t p = 0; p < BT_POLICY_COUNT; p++) {
		bool fc = p == BT_FORECAST || p == BT_FORESIGHT;

		figures(&r.fig[p], r.replicas[p], r.replicas[BT_ORACLE], y, warmup, m,
		        cfg->capacity, fc ? f.point : NULL, fc ? f.upper : NULL, 1);
	}
	for (size_t k = 0; k < m; k++)
		r.scored += isfinite(y[warmup + k]);
	r.not_ready = f.not_ready;
	r.refits = f.refits;
	r.model = f.model;
	r.season = f.season;
	r.season_detected = f.season_detected;
	r.model_mape = f.model_mape;
	r.state_bytes = f.state_bytes;
	r.point = f.point;
	r.lower = f.lower;
	r.upper = f.upper;
	f.point = f.lower = f.upper = NULL;
	*out = r;
	memset(&r, 0, sizeof(r));
out:
	fc_run_release(&f);
	bt_result_release(&r);
	return rc;
}

/* Keeps `fig` in `best` when it meets the SLO more cheaply. */
static void consider(struct bt_frontier_point *best, const struct bt_figures *fig, double knob,
                     double slo)
{
	if (fig->under_pct > slo + 1e-9)
		return;
	if (best->met && fig->cost_ratio >= best->cost_ratio)
		return;
	best->met = true;
	best->knob = knob;
	best->cost_ratio = fig->cost_ratio;
	best->under_pct = fig->under_pct;
}

enum fs_rc bt_frontier(struct bt_frontier_point out[BT_POLICY_COUNT], const double *y, size_t n,
                       double step, const struct bt_config *cfg, double slo, struct fs_err *err)
{
	struct fc_run f;
	struct bt_figures fig;
	size_t warmup, m, window;
	int *oracle = NULL, *rep = NULL;
	enum fs_rc rc;

	memset(out, 0, BT_POLICY_COUNT * sizeof(*out));
	memset(&f, 0, sizeof(f));
	if (!(slo >= 0 && slo <= 100))
		return fs_fail(err, FS_EINVAL, "--frontier %g: must be a percentage 0..100", slo);
	rc = check(&warmup, y, n, step, cfg, err);
	if (rc != FS_OK)
		return rc;
	m = n - warmup;
	window = stabilization_buckets(cfg, step);
	oracle = malloc(m * sizeof(int));
	rep = malloc(m * sizeof(int));
	if (!oracle || !rep) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory for %zu buckets", m);
		goto out;
	}
	oracle_replicas(oracle, y, warmup, m, cfg);
	figures(&fig, oracle, oracle, y, warmup, m, cfg->capacity, NULL, NULL, 1);
	consider(&out[BT_ORACLE], &fig, 0, slo);
	for (int i = 1000; i >= 50; i--) {
		double u = i / 1000.0;

		reactive_replicas(rep, y, warmup, m, window, u, cfg);
		figures(&fig, rep, oracle, y, warmup, m, cfg->capacity, NULL, NULL, 1);
		consider(&out[BT_REACTIVE], &fig, u, slo);
	}
	rc = forecaster_run(&f, y, n, warmup, cfg, sweep_q, SWEEP_Q_COUNT, err);
	if (rc != FS_OK)
		goto out;
	for (size_t j = 0; j < SWEEP_Q_COUNT; j++) {
		forecast_replicas(rep, y, warmup, m, &f, j, cfg);
		figures(&fig, rep, oracle, y, warmup, m, cfg->capacity, NULL, NULL, 1);
		consider(&out[BT_FORECAST], &fig, sweep_q[j], slo);
		rc = foresight_replicas(rep, y, warmup, m, step, &f, j, cfg, err);
		if (rc != FS_OK)
			goto out;
		figures(&fig, rep, oracle, y, warmup, m, cfg->capacity, NULL, NULL, 1);
		consider(&out[BT_FORESIGHT], &fig, sweep_q[j], slo);
	}
out:
	fc_run_release(&f);
	free(oracle);
	free(rep);
	return rc;
}
