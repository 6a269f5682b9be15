/* Unit tests of the forecasting engine (operator/forecast) on generated series. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/forecast.h"

/* A reproducible generator: xorshift64*, and normals by Box-Muller. */
struct rng {
	uint64_t s;
};

static double uniform(struct rng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return (double)((r->s * 2685821657736338717ULL) >> 11) / 9007199254740992.0;
}

static double normal(struct rng *r)
{
	double u = uniform(r), v = uniform(r);

	return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * v);
}

/* level + slope*t + amp*pattern(t mod m) (times it when mul) + N(0, noise). */
static double *seasonal(size_t n, size_t m, double level, double slope, double amp, double noise,
                        bool mul, uint64_t seed)
{
	struct rng r = {seed};
	double *y = malloc(n * sizeof(*y));
	size_t t;

	assert_non_null(y);
	for (t = 0; t < n; t++) {
		double ph = m ? 2 * M_PI * (double)(t % m) / (double)m : 0;
		double pat = m ? sin(ph) + 0.4 * sin(2 * ph + 1) : 0;
		double base = level + slope * (double)t;

		y[t] = (mul ? base * (1 + amp * pat) : base + amp * pat) + noise * normal(&r);
	}
	return y;
}

static struct fc_state *fit(const double *y, size_t n, enum fc_model model, size_t season,
                            size_t horizon)
{
	struct fc_spec spec;
	struct fc_state *st = NULL;
	struct fs_err err;

	fc_spec_init(&spec);
	spec.model = model;
	spec.season = season;
	spec.horizon_max = horizon;
	assert_int_equal(fc_fit(&st, y, n, &spec, &err), FS_OK);
	assert_non_null(st);
	return st;
}

/* Forecasts h steps and checks the outputs are loads: finite, >= 0, ordered. */
static void forecast_checked(double *point, double *lower, double *upper, const struct fc_state *st,
                             size_t h)
{
	struct fs_err err;
	size_t i;

	assert_int_equal(fc_forecast(point, lower, upper, st, h, &err), FS_OK);
	for (i = 0; i < h; i++) {
		assert_true(isfinite(point[i]) && isfinite(lower[i]) && isfinite(upper[i]));
		assert_true(lower[i] >= 0);
		assert_true(lower[i] <= point[i] && point[i] <= upper[i]);
	}
}

static void model_names_round_trip(void **state)
{
	static const char *const spec_names[] = {"Auto", "HoltWinters", "LinearTrend",
	                                         "SeasonalNaive", "None"};
	enum fc_model m;
	unsigned i;

	(void)state;
	for (i = 0; i < FC_MODEL_COUNT; i++) {
		assert_true(fc_model_parse(&m, fc_model_name((enum fc_model)i)));
		assert_int_equal(m, i);
	}
	for (i = 0; i < 5; i++)
		assert_true(fc_model_parse(&m, spec_names[i]));
	assert_true(fc_model_parse(&m, "holtwinters"));
	assert_int_equal(m, FC_HW_ADD);
	assert_true(fc_model_parse(&m, "None"));
	assert_int_equal(m, FC_NONE);
	assert_false(fc_model_parse(&m, "Prophet"));
	assert_false(fc_model_parse(&m, ""));
	assert_false(fc_model_parse(&m, NULL));
	assert_string_equal(fc_model_name((enum fc_model)99), "Unknown");
}

static void bad_specs_are_refused(void **state)
{
	double *y = seasonal(200, 0, 10, 0, 0, 1, false, 1);
	struct fc_params p = {0.5, 0.1, 0.1, 0.9};
	struct fc_state *st = (struct fc_state *)&p; /* must stay untouched */
	struct fc_spec spec;
	struct fs_err err;

	(void)state;
	fc_spec_init(&spec);
	assert_int_equal(spec.model, FC_AUTO);
	assert_int_equal(spec.season, FC_SEASON_AUTO);
	spec.quantile = 1.0;
	assert_int_equal(fc_fit(&st, y, 200, &spec, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "quantile"));
	spec.quantile = 0.9;
	spec.horizon_max = 0;
	assert_int_equal(fc_fit(&st, y, 200, &spec, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "horizon"));
	spec.horizon_max = 1;
	spec.season = 1;
	assert_int_equal(fc_fit(&st, y, 200, &spec, &err), FS_EINVAL);
	spec.season = 0;
	spec.model = FC_HW_ADD;
	assert_int_equal(fc_fit(&st, y, 200, &spec, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "needs a season"));
	spec.model = FC_AUTO;
	spec.params = &p;
	assert_int_equal(fc_fit(&st, y, 200, &spec, &err), FS_EINVAL);
	spec.model = FC_HOLT;
	p.alpha = 1.5;
	assert_int_equal(fc_fit(&st, y, 200, &spec, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "out of range"));
	spec.params = NULL;
	assert_int_equal(fc_fit(&st, NULL, 200, &spec, &err), FS_EINVAL);
	assert_int_equal(fc_fit(&st, y, 200, NULL, &err), FS_EINVAL);
	assert_ptr_equal(st, (struct fc_state *)&p);
	free(y);
}

static void ses_follows_a_level_shift(void **state)
{
	double y[400], point[5], lower[5], upper[5];
	struct rng r = {7};
	struct fc_state *st;
	const struct fc_info *info;
	size_t t;

	(void)state;
	for (t = 0; t < 400; t++)
		y[t] = (t < 300 ? 50 : 80) + normal(&r);
	st = fit(y, 400, FC_SES, 0, 5);
	info = fc_info(st);
	assert_true(info->ready);
	assert_int_equal(info->model, FC_SES);
	assert_true(info->params.alpha > 0 && info->params.alpha < 1);
	forecast_checked(point, lower, upper, st, 5);
	/* Flat forecasts at the new level. */
	assert_true(fabs(point[0] - 80) < 2 && point[4] == point[0]);
	fc_free(st);
}

/* Data drawn from the model itself: the fit finds the parameters back. */
static void ses_fit_recovers_its_parameter(void **state)
{
	double y[3000], level = 100;
	struct rng r = {11};
	struct fc_state *st;
	size_t t;

	(void)state;
	for (t = 0; t < 3000; t++) {
		double e = normal(&r);

		y[t] = level + e;
		level += 0.3 * e;
	}
	st = fit(y, 3000, FC_SES, 0, 1);
	assert_true(fabs(fc_info(st)->params.alpha - 0.3) < 0.05);
	fc_free(st);
}

static void holt_extends_a_trend_and_damping_flattens_it(void **state)
{
	double *y = seasonal(600, 0, 100, 2, 0, 1, false, 3), p[20], lo[20], up[20], pd[20];
	struct fc_state *st, *sd;

	(void)state;
	st = fit(y, 600, FC_HOLT, 0, 20);
	sd = fit(y, 600, FC_HOLT_DAMPED, 0, 20);
	forecast_checked(p, lo, up, st, 20);
	forecast_checked(pd, lo, up, sd, 20);
	/* y[599 + h] = 100 + 2 (599 + h) */
	assert_true(fabs(p[19] - (100 + 2 * 619)) < 10);
	assert_true(fabs(p[0] - (100 + 2 * 600)) < 5);
	assert_true(pd[19] < p[19]);
	assert_true(fc_info(sd)->params.phi >= 0.8 && fc_info(sd)->params.phi <= 0.98);
	assert_int_equal(fc_info(st)->params.phi, 1);
	fc_free(st);
	fc_free(sd);
	free(y);
}

static double mape(const double *f, const double *y, size_t n)
{
	double s = 0;
	size_t i;

	for (i = 0; i < n; i++)
		s += fabs(f[i] - y[i]) / fabs(y[i]);
	return s / (double)n;
}

static void holt_winters_additive_forecasts_the_pattern(void **state)
{
	double *y = seasonal(24 * 60, 24, 200, 0.05, 40, 3, false, 5);
	double p[24], lo[24], up[24];
	struct fc_state *st;
	const struct fc_info *info;

	(void)state;
	/* Fit on 58 seasons, forecast the 59th and 60th's first day against the truth. */
	st = fit(y, 24 * 59, FC_HW_ADD, 24, 24);
	info = fc_info(st);
	assert_true(info->ready);
	assert_int_equal(info->model, FC_HW_ADD);
	assert_int_equal(info->season, 24);
	assert_false(info->season_detected);
	assert_true(info->params.gamma <= 1 - info->params.alpha);
	forecast_checked(p, lo, up, st, 24);
	assert_true(mape(p, y + 24 * 59, 24) < 0.03);
	assert_true(info->mape < 0.05 && info->mape_in < 0.05);
	assert_true(info->holdout > 0 && info->train + info->holdout == 24 * 59);
	fc_free(st);
	free(y);
}

static void holt_winters_multiplicative_forecasts_the_pattern(void **state)
{
	double *y = seasonal(24 * 60, 24, 100, 0.2, 0.5, 1, true, 6);
	double p[24], lo[24], up[24], pa[24];
	struct fc_state *st, *sa;

	(void)state;
	st = fit(y, 24 * 59, FC_HW_MUL, 24, 24);
	sa = fit(y, 24 * 59, FC_HW_MUL_DAMPED, 24, 24);
	assert_int_equal(fc_info(st)->model, FC_HW_MUL);
	assert_string_equal(fc_info(st)->note, "");
	forecast_checked(p, lo, up, st, 24);
	forecast_checked(pa, lo, up, sa, 24);
	assert_true(mape(p, y + 24 * 59, 24) < 0.03);
	assert_true(mape(pa, y + 24 * 59, 24) < 0.03);
	fc_free(st);
	fc_free(sa);
	free(y);
}

static void seasonal_naive_repeats_the_last_season(void **state)
{
	double y[7 * 12], p[14], lo[14], up[14];
	struct fc_state *st;
	size_t t;

	(void)state;
	for (t = 0; t < 7 * 12; t++)
		y[t] = (double)(t % 7) * 10 + (double)(t / 7); /* the pattern grows by 1 a season */
	st = fit(y, 7 * 12, FC_SEASONAL_NAIVE, 7, 14);
	forecast_checked(p, lo, up, st, 14);
	for (t = 0; t < 14; t++)
		assert_true(fabs(p[t] - y[7 * 11 + t % 7]) < 1e-9);
	fc_free(st);
}

static void linear_trend_extends_a_line(void **state)
{
	double y[300], p[10], lo[10], up[10];
	struct rng r = {9};
	struct fc_state *st;
	size_t t;

	(void)state;
	for (t = 0; t < 300; t++)
		y[t] = 5 + 0.5 * (double)t + 0.1 * normal(&r);
	st = fit(y, 300, FC_LINEAR, 0, 10);
	assert_int_equal(fc_info(st)->model, FC_LINEAR);
	assert_true(fc_info(st)->params.alpha > 0 && fc_info(st)->params.alpha <= 0.5);
	forecast_checked(p, lo, up, st, 10);
	for (t = 0; t < 10; t++)
		assert_true(fabs(p[t] - (5 + 0.5 * (double)(300 + t))) < 1);
	fc_free(st);
}

static void auto_prefers_a_seasonal_model_on_seasonal_data(void **state)
{
	double *y = seasonal(24 * 40, 24, 300, 0, 80, 5, false, 12);
	struct fc_state *st = fit(y, 24 * 40, FC_AUTO, FC_SEASON_AUTO, 4);
	const struct fc_info *info = fc_info(st);
	size_t i;

	(void)state;
	assert_true(info->ready);
	assert_int_equal(info->requested, FC_AUTO);
	assert_int_equal(info->season, 24);
	assert_true(info->season_detected && info->season_strength > 0.5);
	assert_true(info->model == FC_HW_ADD || info->model == FC_HW_ADD_DAMPED ||
	            info->model == FC_HW_MUL || info->model == FC_HW_MUL_DAMPED);
	/* Every applicable model was tried and is reported, best first. */
	assert_int_equal(info->n_candidates, 9);
	for (i = 1; i < info->n_candidates; i++)
		assert_true(info->candidates[i - 1].mae <= info->candidates[i].mae);
	assert_true(info->mape < 0.05);
	fc_free(st);
	free(y);
}

static void auto_prefers_a_simple_model_on_noise(void **state)
{
	double *y = seasonal(2000, 0, 50, 0, 0, 2, false, 13);
	struct fc_state *st = fit(y, 2000, FC_AUTO, FC_SEASON_AUTO, 1);
	const struct fc_info *info = fc_info(st);

	(void)state;
	assert_int_equal(info->season, 0);
	assert_int_equal(info->n_candidates, 4);
	assert_true(info->model == FC_SES || info->model == FC_HOLT ||
	            info->model == FC_HOLT_DAMPED || info->model == FC_LINEAR);
	fc_free(st);
	free(y);
}

static void season_detection_finds_the_period(void **state)
{
	static const size_t periods[] = {7, 12, 24, 96, 288};
	struct fs_err err;
	double strength;
	size_t season, i;

	(void)state;
	for (i = 0; i < sizeof(periods) / sizeof(periods[0]); i++) {
		size_t m = periods[i], n = m < 50 ? 50 * m : 8 * m;
		double *y = seasonal(n, m, 500, 0.01, 30, 10, false, 20 + i);

		/* Gaps do not hide it. */
		y[n / 2] = y[n / 3] = NAN;
		assert_int_equal(fc_detect_season(&season, &strength, y, n, 0, &err), FS_OK);
		assert_int_equal(season, m);
		assert_true(strength > 0.5 && strength <= 1);
		/* A longest season below the period: it is not reported. */
		assert_int_equal(fc_detect_season(&season, NULL, y, n, m - 1, &err), FS_OK);
		assert_true(season != m);
		free(y);
	}
}

static void season_detection_is_not_fooled(void **state)
{
	double *noise = seasonal(5000, 0, 10, 0, 0, 1, false, 30), walk[5000], flat[500];
	struct rng r = {31};
	struct fs_err err;
	double strength, level = 0;
	size_t season, t, k;

	(void)state;
	assert_int_equal(fc_detect_season(&season, &strength, noise, 5000, 0, &err), FS_OK);
	assert_int_equal(season, 0);
	assert_true(strength < 0.2);
	for (k = 0; k < 3; k++) {
		for (t = 0; t < 5000; t++)
			walk[t] = level += normal(&r);
		assert_int_equal(fc_detect_season(&season, NULL, walk, 5000, 0, &err), FS_OK);
		assert_int_equal(season, 0);
	}
	for (t = 0; t < 500; t++)
		flat[t] = 42;
	assert_int_equal(fc_detect_season(&season, &strength, flat, 500, 0, &err), FS_OK);
	assert_int_equal(season, 0);
	assert_int_equal(fc_detect_season(&season, &strength, flat, 5, 0, &err), FS_OK);
	assert_int_equal(season, 0);
	assert_int_equal(fc_detect_season(&season, &strength, NULL, 0, 0, &err), FS_OK);
	assert_int_equal(season, 0);
	free(noise);
}

/*
 * Rolls a model over a noisy seasonal series as the operator does: each step
 * forecasts h ahead, then takes the value in; a refit on the last 40 seasons
 * when one is due. The upper bound at q must cover about q of the outcomes,
 * and the lower bound (at 1-q) leave about 1-q below it.
 */
static void coverage(double q, size_t h, double *up_cover, double *lo_cover)
{
	size_t n = 24 * 200, window = 24 * 40, t, k = 0, up_in = 0, lo_in = 0;
	double *y = seasonal(n, 24, 100, 0.01, 30, 6, false, 40 + (uint64_t)(q * 100));
	double *upper = calloc(n + h, sizeof(double)), *lower = calloc(n + h, sizeof(double));
	struct fc_spec spec;
	struct fc_state *st = NULL;
	struct fs_err err;

	assert_non_null(upper);
	assert_non_null(lower);
	fc_spec_init(&spec);
	spec.model = FC_HW_ADD;
	spec.season = 24;
	spec.quantile = q;
	spec.horizon_max = h;
	for (t = window; t < n; t++) {
		double p[8], lo[8], up[8];

		if (!st || fc_refit_due(st)) {
			fc_free(st);
			assert_int_equal(fc_fit(&st, y + t - window, window, &spec, &err), FS_OK);
		}
		forecast_checked(p, lo, up, st, h);
		upper[t + h - 1] = up[h - 1];
		lower[t + h - 1] = lo[h - 1];
		fc_update(st, y[t]);
	}
	for (t = window + h; t < n; t++, k++) {
		up_in += y[t] <= upper[t];
		lo_in += y[t] >= lower[t];
	}
	*up_cover = (double)up_in / (double)k;
	*lo_cover = (double)lo_in / (double)k;
	fc_free(st);
	free(upper);
	free(lower);
	free(y);
}

static void intervals_cover_the_quantile(void **state)
{
	static const double qs[] = {0.6, 0.8, 0.9, 0.95};
	double up, lo;
	size_t i;

	(void)state;
	for (i = 0; i < 4; i++) {
		coverage(qs[i], 1, &up, &lo);
		assert_true(fabs(up - qs[i]) < 0.03);
		assert_true(fabs(lo - qs[i]) < 0.03);
	}
	/* Between grid horizons (1 2 3 4 6 8 ...) too. */
	coverage(0.9, 5, &up, &lo);
	assert_true(fabs(up - 0.9) < 0.03);
	assert_true(fabs(lo - 0.9) < 0.03);
}

/*
 * The errors behind the bounds fade: after a window and a half of quieter
 * data, the errors of the noisy past weigh about 6% (halved at each half
 * window), so the bound follows the quieter series.
 */
static void intervals_narrow_when_the_noise_falls(void **state)
{
	double *noisy = seasonal(3000, 0, 1000, 0, 0, 50, false, 7);
	double *quiet = seasonal(FC_RESID_WINDOW * 3 / 2, 0, 1000, 0, 0, 5, false, 8);
	struct fc_state *st = fit(noisy, 3000, FC_SES, 0, 1);
	double p, lo, up, before;

	(void)state;
	forecast_checked(&p, &lo, &up, st, 1);
	before = up - p;
	assert_true(before > 50);
	for (size_t t = 0; t < FC_RESID_WINDOW * 3 / 2; t++)
		fc_update(st, quiet[t]);
	forecast_checked(&p, &lo, &up, st, 1);
	print_message("upper bound over the forecast: %.1f noisy, %.1f quiet\n", before, up - p);
	assert_true(up - p < 0.3 * before);
	assert_true(up - p > 5);
	fc_free(st);
	free(noisy);
	free(quiet);
}

static void intervals_widen_with_the_horizon(void **state)
{
	double y[3000], p[60], lo[60], up[60], level = 1000;
	struct rng r = {50};
	struct fc_state *st;
	size_t t;

	(void)state;
	/* A random walk: the further ahead, the less is known. */
	for (t = 0; t < 3000; t++)
		y[t] = level += normal(&r);
	st = fit(y, 3000, FC_SES, 0, 60);
	forecast_checked(p, lo, up, st, 60);
	assert_true(up[59] - lo[59] > 3 * (up[0] - lo[0]));
	assert_true(up[23] - lo[23] > up[3] - lo[3]);
	fc_free(st);
}

/* Fixed parameters: a fit then updates is the fit on the longer history. */
static void update_equals_a_fit_on_the_longer_history(void **state)
{
	static const enum fc_model models[] = {FC_SES,           FC_HOLT,           FC_HOLT_DAMPED,
	                                       FC_HW_ADD,        FC_HW_ADD_DAMPED,  FC_HW_MUL,
	                                       FC_HW_MUL_DAMPED, FC_SEASONAL_NAIVE, FC_LINEAR};
	size_t n = 24 * 30, extra = 24 * 3, i, t;
	double *y = seasonal(n + extra, 24, 100, 0.1, 0.3, 2, true, 60);
	struct fc_params p = {0.3, 0.1, 0.2, 0.9};
	struct fc_spec spec;
	struct fs_err err;

	(void)state;
	y[n + 5] = NAN; /* a gap among the updates */
	fc_spec_init(&spec);
	spec.season = 24;
	spec.horizon_max = 24;
	spec.params = &p;
	for (i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
		struct fc_state *a, *b;
		double pa[24], la[24], ua[24], pb[24], lb[24], ub[24];

		spec.model = models[i];
		assert_int_equal(fc_fit(&a, y, n, &spec, &err), FS_OK);
		for (t = n; t < n + extra; t++)
			fc_update(a, y[t]);
		assert_int_equal(fc_fit(&b, y, n + extra, &spec, &err), FS_OK);
		forecast_checked(pa, la, ua, a, 24);
		forecast_checked(pb, lb, ub, b, 24);
		for (t = 0; t < 24; t++) {
			assert_true(fabs(pa[t] - pb[t]) <= 1e-9 * fabs(pb[t]));
			assert_true(fabs(ua[t] - ub[t]) <= 1e-6 * fabs(ub[t]));
			assert_true(fabs(la[t] - lb[t]) <= 1e-6 * fabs(lb[t]));
		}
		assert_int_equal(fc_info(a)->updates, extra);
		assert_int_equal(fc_info(b)->updates, 0);
		fc_free(a);
		fc_free(b);
	}
	free(y);
}

/* The state keeps the model, not the history: its size does not grow with it. */
static void state_size_is_bounded_by_the_season(void **state)
{
	double *y = seasonal(24 * 300, 24, 100, 0, 20, 2, false, 70);
	struct fc_state *small = fit(y, 24 * 3, FC_HW_ADD, 24, 3);
	struct fc_state *large = fit(y, 24 * 300, FC_HW_ADD, 24, 3);
	struct fc_state *hw1440;
	double *day = seasonal(1440 * 3, 1440, 100, 0, 20, 2, false, 71);

	(void)state;
	assert_int_equal(fc_state_size(small), fc_state_size(large));
	hw1440 = fit(day, 1440 * 3, FC_HW_ADD, 1440, 3);
	assert_true(fc_info(hw1440)->ready);
	/* A season of 1440 and a lead of 3 steps: 1440 doubles and 3 histograms of errors. */
	print_message("season 1440, horizon 3: %zu bytes\n", fc_state_size(hw1440));
	assert_true(fc_state_size(hw1440) < 15 * 1024);
	assert_true(fc_state_size(hw1440) >= 1440 * sizeof(double));
	fc_free(small);
	fc_free(large);
	fc_free(hw1440);
	free(y);
	free(day);
}

/* How many updates with `y` until `st` says a refit is due (at most 1000). */
static size_t updates_until_refit_due(struct fc_state *st, const double *y)
{
	size_t t = 0;

	while (!fc_refit_due(st) && t < 1000)
		fc_update(st, y[t++ % 24]);
	return t;
}

static void refit_comes_due_after_a_season(void **state)
{
	double *y = seasonal(24 * 10, 24, 100, 0, 20, 2, false, 80);
	struct fc_state *st = fit(y, 24 * 10, FC_HW_ADD, 24, 1);

	(void)state;
	assert_int_equal(updates_until_refit_due(st, y), 24);
	fc_free(st);
	/* Spread by a quarter: due 6 updates sooner; a share out of (0, 1) changes nothing. */
	st = fit(y, 24 * 10, FC_HW_ADD, 24, 1);
	fc_spread_refit(st, 0.25);
	fc_spread_refit(st, 1.5);
	fc_spread_refit(st, -1);
	assert_int_equal(updates_until_refit_due(st, y), 18);
	fc_free(st);
	free(y);
}

static void gaps_and_nan_are_carried_over(void **state)
{
	size_t n = 24 * 40, t;
	double *y = seasonal(n, 24, 100, 0, 20, 2, false, 90), p[3], lo[3], up[3], p2[3];
	struct fc_state *st;

	(void)state;
	/* Every 17th bucket missing, a gap of three hours, and a value marked infinite. */
	for (t = 0; t < n; t += 17)
		y[t] = NAN;
	for (t = 500; t < 503; t++)
		y[t] = NAN;
	y[700] = INFINITY;
	st = fit(y, n, FC_AUTO, FC_SEASON_AUTO, 3);
	assert_true(fc_info(st)->ready);
	assert_int_equal(fc_info(st)->season, 24);
	assert_true(fc_info(st)->observed < n);
	forecast_checked(p, lo, up, st, 3);
	/* A missing value moves the model on by its own forecast: the next
	 * one-step forecast is the previous two-step one. */
	fc_update(st, NAN);
	forecast_checked(p2, lo, up, st, 2);
	assert_true(fabs(p2[0] - p[1]) <= 1e-9 * p[1]);
	fc_update(st, -INFINITY);
	forecast_checked(p2, lo, up, st, 1);
	assert_true(fabs(p2[0] - p[2]) <= 1e-9 * p[2]);
	fc_free(st);
	free(y);
}

static void multiplicative_falls_back_on_zeros(void **state)
{
	size_t n = 24 * 30, t;
	double *y = seasonal(n, 24, 20, 0, 25, 1, false, 100), p[24], lo[24], up[24];
	struct fc_state *st, *sa;

	(void)state;
	for (t = 0; t < n; t++)
		if (y[t] < 0)
			y[t] = 0; /* idle at night: zeros */
	st = fit(y, n, FC_HW_MUL, 24, 24);
	assert_true(fc_info(st)->ready);
	assert_int_equal(fc_info(st)->requested, FC_HW_MUL);
	assert_int_equal(fc_info(st)->model, FC_HW_ADD);
	assert_non_null(strstr(fc_info(st)->note, "positive"));
	forecast_checked(p, lo, up, st, 24);
	sa = fit(y, n, FC_AUTO, 24, 1);
	for (t = 0; t < fc_info(sa)->n_candidates; t++)
		assert_true(fc_info(sa)->candidates[t].model != FC_HW_MUL &&
		            fc_info(sa)->candidates[t].model != FC_HW_MUL_DAMPED);
	fc_free(st);
	fc_free(sa);
	free(y);
}

static void multiplicative_survives_zeros_in_updates(void **state)
{
	size_t n = 24 * 30, t;
	double *y = seasonal(n, 24, 100, 0, 0.5, 1, true, 110), p[24], lo[24], up[24];
	struct fc_state *st = fit(y, n, FC_HW_MUL, 24, 24);

	(void)state;
	assert_int_equal(fc_info(st)->model, FC_HW_MUL);
	for (t = 0; t < 24 * 20; t++)
		fc_update(st, t % 3 ? 0 : -5);
	forecast_checked(p, lo, up, st, 24);
	for (t = 0; t < 24 * 2; t++)
		fc_update(st, 100);
	forecast_checked(p, lo, up, st, 24);
	fc_free(st);
	free(y);
}

static void a_constant_series_forecasts_itself(void **state)
{
	static const enum fc_model models[] = {
	    FC_AUTO, FC_SES, FC_HOLT, FC_HW_ADD, FC_HW_MUL, FC_SEASONAL_NAIVE, FC_LINEAR};
	double y[24 * 5], p[4], lo[4], up[4];
	size_t i, t, v;

	(void)state;
	for (v = 0; v < 2; v++) {
		for (t = 0; t < 24 * 5; t++)
			y[t] = v ? 250 : 0;
		for (i = 0; i < sizeof(models) / sizeof(models[0]); i++) {
			struct fc_state *st = fit(y, 24 * 5, models[i], 24, 4);

			assert_true(fc_info(st)->ready);
			forecast_checked(p, lo, up, st, 4);
			for (t = 0; t < 4; t++) {
				assert_true(fabs(p[t] - y[0]) <= 1e-12 * y[0]);
				assert_true(p[t] - lo[t] <= 1e-12 * y[0] &&
				            up[t] - p[t] <= 1e-12 * y[0]);
			}
			fc_free(st);
		}
	}
}

static void short_history_is_not_ready(void **state)
{
	double *y = seasonal(24 * 3, 24, 100, 0, 20, 2, false, 120), p[1], lo[1], up[1];
	double nan_only[50];
	struct fc_state *st;
	struct fs_err err;
	size_t t;

	(void)state;
	p[0] = -1;
	st = fit(y, 24 + 10, FC_HW_ADD, 24, 1);
	assert_false(fc_info(st)->ready);
	assert_non_null(strstr(fc_info(st)->reason, "two seasons"));
	assert_int_equal(fc_forecast(p, lo, up, st, 1, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "two seasons"));
	assert_true(p[0] == -1); /* nothing made up */
	fc_update(st, 5);
	assert_true(fc_refit_due(st));
	fc_free(st);
	/* Auto with a given season waits for two seasons too. */
	st = fit(y, 40, FC_AUTO, 24, 1);
	assert_false(fc_info(st)->ready);
	fc_free(st);
	/* A short history without a season is enough for a simple model. */
	st = fit(y, FC_MIN_POINTS, FC_SES, 0, 2);
	assert_true(fc_info(st)->ready);
	assert_int_equal(fc_forecast(p, lo, up, st, 1, &err), FS_OK);
	fc_free(st);
	/* Too few observations for any model. */
	st = fit(y, 10, FC_SES, 0, 1);
	assert_false(fc_info(st)->ready);
	assert_non_null(strstr(fc_info(st)->reason, "observed"));
	fc_free(st);
	for (t = 0; t < 50; t++)
		nan_only[t] = NAN;
	st = fit(nan_only, 50, FC_AUTO, FC_SEASON_AUTO, 1);
	assert_false(fc_info(st)->ready);
	fc_free(st);
	st = fit(NULL, 0, FC_AUTO, FC_SEASON_AUTO, 1);
	assert_false(fc_info(st)->ready);
	fc_free(st);
	/* A seasonal model and no season found. */
	free(y);
	y = seasonal(24 * 3, 0, 100, 0, 0, 2, false, 121);
	st = fit(y, 24 * 3, FC_HW_ADD, FC_SEASON_AUTO, 1);
	assert_false(fc_info(st)->ready);
	assert_non_null(strstr(fc_info(st)->reason, "season"));
	fc_free(st);
	/* A horizon the history cannot calibrate. */
	st = fit(y, 24 * 2, FC_HW_ADD, 24, 40);
	assert_false(fc_info(st)->ready);
	assert_non_null(strstr(fc_info(st)->reason, "bounds need"));
	fc_free(st);
	free(y);
}

static void model_none_is_never_ready(void **state)
{
	double *y = seasonal(500, 0, 10, 0, 0, 1, false, 130), p[1];
	struct fc_state *st = fit(y, 500, FC_NONE, FC_SEASON_AUTO, 1);
	struct fs_err err;

	(void)state;
	assert_false(fc_info(st)->ready);
	assert_non_null(strstr(fc_info(st)->reason, "off"));
	assert_int_equal(fc_forecast(p, NULL, NULL, st, 1, &err), FS_EINVAL);
	fc_free(st);
	free(y);
}

static void horizons_out_of_range_are_refused(void **state)
{
	double *y = seasonal(500, 0, 10, 0, 0, 1, false, 140), p[4];
	struct fc_state *st = fit(y, 500, FC_SES, 0, 3);
	struct fs_err err;

	(void)state;
	assert_int_equal(fc_forecast(p, NULL, NULL, st, 0, &err), FS_EINVAL);
	assert_int_equal(fc_forecast(p, NULL, NULL, st, 4, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "1 to 3"));
	assert_int_equal(fc_forecast(p, NULL, NULL, st, 3, &err), FS_OK);
	fc_free(st);
	free(y);
}

static void huge_values_stay_finite(void **state)
{
	size_t n = 24 * 20, t;
	double *y = seasonal(n, 24, 1, 0, 0.3, 0.01, false, 150), p[24], lo[24], up[24];
	double *spiky = seasonal(n, 24, 100, 0, 20, 2, false, 151);
	struct fc_state *st;

	(void)state;
	for (t = 0; t < n; t++)
		y[t] *= 1e300;
	st = fit(y, n, FC_AUTO, 24, 24);
	assert_true(fc_info(st)->ready);
	forecast_checked(p, lo, up, st, 24);
	assert_true(p[0] > 1e299 && p[0] < 2e300);
	fc_update(st, DBL_MAX);
	forecast_checked(p, lo, up, st, 24);
	fc_free(st);
	/* One absurd value among ordinary ones. */
	spiky[n / 2] = 1e300;
	spiky[n / 3] = -1e300;
	st = fit(spiky, n, FC_AUTO, 24, 24);
	assert_true(fc_info(st)->ready);
	forecast_checked(p, lo, up, st, 24);
	fc_update(st, 1e308);
	if (fc_info(st)->ready)
		forecast_checked(p, lo, up, st, 24);
	fc_free(st);
	/* Tiny values scale like any others. */
	for (t = 0; t < n; t++)
		y[t] = 1e-300 * (1 + 0.3 * sin((double)(t % 24)));
	st = fit(y, n, FC_HW_ADD, 24, 24);
	forecast_checked(p, lo, up, st, 24);
	assert_true(p[0] > 0 && p[0] < 2e-300);
	fc_free(st);
	free(y);
	free(spiky);
}

static void a_falling_trend_never_forecasts_below_zero(void **state)
{
	double *y = seasonal(400, 0, 400, -1, 0, 1, false, 160), p[60], lo[60], up[60];
	struct fc_state *st = fit(y, 400, FC_HOLT, 0, 60);

	(void)state;
	forecast_checked(p, lo, up, st, 60);
	assert_true(p[59] == 0 && lo[59] == 0);
	fc_free(st);
	free(y);
}

static void smooth_runs_the_recursion_from_a_known_state(void **state)
{
	/* Worked by hand: forecast l + b + s; l' = a (y - s) + (1-a)(l + b);
	 * b' = beta (l' - l) + (1-beta) b; s' = g (y - l - b) + (1-g) s; a gap
	 * moves l to l + b and keeps b and s. */
	static const double want[5] = {10, 13, 11.4, 13.96, 12.88};
	double y[5] = {10, 12, 11, NAN, 13}, f[5], s[2] = {-1, 1};
	struct fc_params p = {0.5, 0.2, 0.1, 1};
	struct fc_init init = {10, 1, s};
	struct fs_err err;
	size_t t;

	(void)state;
	assert_int_equal(fc_smooth(f, y, 5, FC_HW_ADD, 2, &p, &init, &err), FS_OK);
	for (t = 0; t < 5; t++)
		assert_true(fabs(f[t] - want[t]) < 1e-12);
	assert_int_equal(fc_smooth(f, y, 5, FC_AUTO, 2, &p, &init, &err), FS_EINVAL);
	assert_int_equal(fc_smooth(f, y, 5, FC_HW_ADD, 0, &p, &init, &err), FS_EINVAL);
	assert_int_equal(fc_smooth(f, y, 5, FC_HW_ADD, 2, NULL, &init, &err), FS_EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(model_names_round_trip),
	    cmocka_unit_test(bad_specs_are_refused),
	    cmocka_unit_test(ses_follows_a_level_shift),
	    cmocka_unit_test(ses_fit_recovers_its_parameter),
	    cmocka_unit_test(holt_extends_a_trend_and_damping_flattens_it),
	    cmocka_unit_test(holt_winters_additive_forecasts_the_pattern),
	    cmocka_unit_test(holt_winters_multiplicative_forecasts_the_pattern),
	    cmocka_unit_test(seasonal_naive_repeats_the_last_season),
	    cmocka_unit_test(linear_trend_extends_a_line),
	    cmocka_unit_test(auto_prefers_a_seasonal_model_on_seasonal_data),
	    cmocka_unit_test(auto_prefers_a_simple_model_on_noise),
	    cmocka_unit_test(season_detection_finds_the_period),
	    cmocka_unit_test(season_detection_is_not_fooled),
	    cmocka_unit_test(intervals_cover_the_quantile),
	    cmocka_unit_test(intervals_narrow_when_the_noise_falls),
	    cmocka_unit_test(intervals_widen_with_the_horizon),
	    cmocka_unit_test(update_equals_a_fit_on_the_longer_history),
	    cmocka_unit_test(state_size_is_bounded_by_the_season),
	    cmocka_unit_test(refit_comes_due_after_a_season),
	    cmocka_unit_test(gaps_and_nan_are_carried_over),
	    cmocka_unit_test(multiplicative_falls_back_on_zeros),
	    cmocka_unit_test(multiplicative_survives_zeros_in_updates),
	    cmocka_unit_test(a_constant_series_forecasts_itself),
	    cmocka_unit_test(short_history_is_not_ready),
	    cmocka_unit_test(model_none_is_never_ready),
	    cmocka_unit_test(horizons_out_of_range_are_refused),
	    cmocka_unit_test(huge_values_stay_finite),
	    cmocka_unit_test(a_falling_trend_never_forecasts_below_zero),
	    cmocka_unit_test(smooth_runs_the_recursion_from_a_known_state),
	};

	return cmocka_run_group_tests_name("forecast", tests, NULL, NULL);
}
