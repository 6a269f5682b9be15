/* Fitting, model choice, updates, forecasts and intervals (see forecast.h). */

#include "forecast/forecast.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "forecast/internal.h"

#define GRID_MAX      32     /* grid horizons: 1, 2, 3, 4, 6, 8, ... 8192, horizon_max */
#define MIN_RESID     10     /* errors a grid horizon needs before its bounds mean anything */
#define Y_CAP         1e9    /* |y| is cut to this many times the typical level */
#define FLOOR_SHARE   0.1    /* errors are relative to max(|value|, 10% of the mean level) */
#define FLOOR_MIN     1e-9   /* ... and never to less than this (scaled units) */
#define HOLDOUT_PARTS 5      /* the last fifth of the history is held out */
#define AUTO_MARGIN   0.005  /* FC_AUTO takes a more complex model when 0.5% better */
#define MAX_ITER      100    /* optimiser iterations */
#define DEFAULT_REFIT 288    /* updates between refits without a season */
#define ALPHA_LO      1e-4   /* smoothing parameters stay off 0 and 1: a model that */
#define ALPHA_HI      0.9999 /* never or always forgets is a different model */
#define PHI_LO        0.8
#define PHI_HI        0.98

/*
 * The errors of a grid horizon, over err_unit() of their forecast and
 * companded (see compand), as a histogram of their codes: each error adds
 * ERR_WEIGHT to its code, and when the weights reach FC_RESID_WINDOW
 * errors' worth all are halved. So the latest FC_RESID_WINDOW / 2 errors
 * count fully, those before them half, and so on: a window of about
 * FC_RESID_WINDOW errors in 510 bytes, where a ring of them took 2,048,
 * and quantiles read by one pass over the codes.
 */
#define ERR_CODES  127
#define ERR_WEIGHT 16 /* an error's weight: a halved one fades out over 4 halvings */

/* One grid horizon: its forecasts waiting for their outcome, and its errors. */
struct horizon {
	size_t h;
	double phisum; /* fc_phi_sum(phi, h) */
	double *pend;  /* h forecasts; pend[pos] is the one for the next value */
	size_t pos;
	uint16_t hist[2 * ERR_CODES + 1]; /* weight of each error code, -ERR_CODES first */
	uint32_t weight;                  /* of hist, in all */
	size_t count;                     /* errors seen, up to FC_RESID_WINDOW */
	size_t epos;                      /* during a fit: where the next raw error goes */
};

struct fc_state {
	struct fc_info info;
	struct fc_core core;
	double scale;     /* data = scaled value * scale; a power of two, so scaling is exact */
	double ybar;      /* running mean |y| (scaled): sets the floor of relative errors */
	double err_power; /* errors scale with max(|forecast|, floor)^err_power: 0, 1/2 or 1 */
	float *fit_raw;   /* during a fit's pass, per ring: W raw errors (scaled units), then
	                     the W forecasts they were made by */
	double last_y;    /* the last value seen (scaled; NaN before any): the naive forecast */
	double mae1, mae_naive; /* recent one-step absolute errors: model, naive (scaled) */
	size_t refit_every;
	size_t t; /* steps taken since the starting state */
	size_t k; /* grid horizons */
	struct horizon *hz;
	size_t bytes;
};

/* What a fit's pass over the history adds up. */
struct tally {
	size_t from; /* first step counted as out of sample */
	double sse, ape_in;
	size_t n_in;
	double ae, ape;
	size_t n_out;
	double ae1, ae_naive; /* one-step absolute errors: the model's and the naive's */
	size_t n_naive;
};

static const char *const names[FC_MODEL_COUNT] = {
    [FC_AUTO] = "Auto",
    [FC_NONE] = "None",
    [FC_SES] = "SimpleExponentialSmoothing",
    [FC_HOLT] = "Holt",
    [FC_HOLT_DAMPED] = "HoltDamped",
    [FC_HW_ADD] = "HoltWinters",
    [FC_HW_ADD_DAMPED] = "HoltWintersDamped",
    [FC_HW_MUL] = "HoltWintersMultiplicative",
    [FC_HW_MUL_DAMPED] = "HoltWintersMultiplicativeDamped",
    [FC_SEASONAL_NAIVE] = "SeasonalNaive",
    [FC_LINEAR] = "LinearTrend",
};

const char *fc_model_name(enum fc_model model)
{
	if ((unsigned)model >= FC_MODEL_COUNT)
		return "Unknown";
	return names[model];
}

bool fc_model_parse(enum fc_model *out, const char *name)
{
	for (unsigned i = 0; name && i < FC_MODEL_COUNT; i++)
		if (strcasecmp(name, names[i]) == 0) {
			*out = (enum fc_model)i;
			return true;
		}
	return false;
}

void fc_spec_init(struct fc_spec *spec)
{
	memset(spec, 0, sizeof(*spec));
	spec->model = FC_AUTO;
	spec->season = FC_SEASON_AUTO;
	spec->quantile = 0.9;
	spec->horizon_max = 1;
}

/* The k-th smallest of v[0..n) (v is reordered). */
static double select_kth(double *v, size_t n, size_t k)
{
	size_t lo = 0, hi = n - 1;

	while (lo < hi) {
		double pivot = v[lo + (hi - lo) / 2];
		size_t i = lo, j = hi;

		while (i <= j) {
			while (v[i] < pivot)
				i++;
			while (v[j] > pivot)
				j--;
			if (i <= j) {
				double tmp = v[i];

				v[i] = v[j];
				v[j] = tmp;
				i++;
				if (j == 0)
					break;
				j--;
			}
		}
		if (k <= j)
			hi = j;
		else if (k >= i)
			lo = i;
		else
			break;
	}
	return v[k];
}

/* 1, 2, 3, 4, 6, 8, 12, ... up to and including hmax. Returns the count. */
static size_t grid(size_t *h, size_t hmax)
{
	size_t k = 0, p;

	for (p = 1; p <= hmax && k < GRID_MAX - 1; p *= 2) {
		h[k++] = p;
		if (p >= 2 && p + p / 2 <= hmax && k < GRID_MAX - 1)
			h[k++] = p + p / 2;
	}
	if (h[k - 1] != hmax)
		h[k++] = hmax;
	return k;
}

static struct fc_state *state_new(enum fc_model model, size_t m, size_t hmax)
{
	size_t hs[GRID_MAX], k = hmax ? grid(hs, hmax) : 0, npend = 0, i, bytes;
	struct fc_state *st;
	double *d;

	for (i = 0; i < k; i++)
		npend += hs[i];
	/* One block: the state, its horizons and their errors, the season, the waiting forecasts.
	 */
	bytes = sizeof(*st) + k * sizeof(struct horizon) + (m + npend) * sizeof(double);
	st = calloc(1, bytes);
	if (!st)
		return NULL;
	st->bytes = bytes;
	st->k = k;
	st->hz = (struct horizon *)(st + 1);
	d = (double *)(st->hz + k);
	fc_core_setup(&st->core, model, m, d);
	d += m;
	for (i = 0; i < k; i++) {
		size_t j;

		st->hz[i].h = hs[i];
		st->hz[i].pend = d;
		for (j = 0; j < hs[i]; j++)
			d[j] = NAN;
		d += hs[i];
	}
	st->err_power = 1;
	st->last_y = NAN;
	st->info.model = model;
	st->info.season = st->core.m;
	return st;
}

void fc_free(struct fc_state *st)
{
	if (st)
		free(st->fit_raw);
	free(st);
}

size_t fc_state_size(const struct fc_state *st)
{
	return st->bytes;
}

const struct fc_info *fc_info(const struct fc_state *st)
{
	return &st->info;
}

bool fc_refit_due(const struct fc_state *st)
{
	return !st->info.ready || st->info.updates >= st->refit_every;
}

void fc_spread_refit(struct fc_state *st, double share)
{
	if (share > 0 && share < 1)
		st->refit_every -= (size_t)(share * (double)st->refit_every);
}

static void not_ready(struct fc_state *st, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void not_ready(struct fc_state *st, const char *fmt, ...)
{
	va_list ap;

	st->info.ready = false;
	va_start(ap, fmt);
	vsnprintf(st->info.reason, sizeof(st->info.reason), fmt, ap);
	va_end(ap);
}

static double floor_of(const struct fc_state *st)
{
	return fmax(FLOOR_SHARE * st->ybar, FLOOR_MIN);
}

/*
 * An error's code: an error over its unit as a sign and 127 steps of a
 * logarithmic scale, |x| = ERR_A (e^(code / ERR_PER_E) - 1): each step
 * about 5% above the one before (so a quantile read back is within 2.5% of
 * its size), steps of 0.0014 near 0, and ERR_MAX at the top (a forecast off
 * by 16 times its own size is past every quantile a bound uses).
 */
#define ERR_MAX   16.0
#define ERR_PER_E 20.0
#define ERR_A     (ERR_MAX / expm1(ERR_CODES / ERR_PER_E))

static int compand(double x)
{
	double c = round(ERR_PER_E * log1p(fabs(x) / ERR_A));

	if (isnan(c))
		return 0;
	if (c > ERR_CODES)
		c = ERR_CODES;
	return (int)(x < 0 ? -c : c);
}

/* Counts error x (over its unit) in hz's histogram, halving it when full. */
static void add_error(struct horizon *hz, double x)
{
	if (hz->weight + ERR_WEIGHT > (uint32_t)FC_RESID_WINDOW * ERR_WEIGHT) {
		hz->weight = 0;
		for (size_t j = 0; j < 2 * ERR_CODES + 1; j++) {
			hz->hist[j] /= 2;
			hz->weight += hz->hist[j];
		}
	}
	hz->hist[compand(x) + ERR_CODES] += ERR_WEIGHT;
	hz->weight += ERR_WEIGHT;
}

static double expand(int code)
{
	double a = ERR_A * expm1(abs(code) / ERR_PER_E);

	return code < 0 ? -a : a;
}

/* The size an error of forecast f is measured against (see choose_err_power). */
static double err_unit(double f, double least, double power)
{
	double a = fmax(fabs(f), least);

	return power == 1 ? a : power == 0 ? 1 : sqrt(a);
}

/*
 * Takes in the next value (scaled, NaN when missing): scores the forecasts
 * made for it at each grid horizon, steps the model, and makes the next
 * forecasts. The fit's pass and fc_update share it, so a state fitted on a
 * history and updated with more values is the state fitted on the longer
 * history with the same parameters.
 */
static void observe(struct fc_state *st, double y, struct tally *tl)
{
	double least = floor_of(st), ape_sum = 0, inv_y = 0;
	size_t i, n_ape = 0;
	bool seen = !isnan(y);

	if (seen)
		inv_y = 1 / (fabs(y) > least ? fabs(y) : least);
	for (i = 0; i < st->k; i++) {
		struct horizon *hz = &st->hz[i];
		double f = hz->pend[hz->pos], e, ape;

		if (!seen || isnan(f))
			continue;
		e = y - f;
		ape = fabs(e) * inv_y;
		if (st->fit_raw) {
			float *raw = st->fit_raw + 2 * i * FC_RESID_WINDOW;

			raw[hz->epos] = (float)e;
			raw[FC_RESID_WINDOW + hz->epos] = (float)f;
			hz->epos = hz->epos + 1 == FC_RESID_WINDOW ? 0 : hz->epos + 1;
		} else {
			add_error(hz, e / err_unit(f, least, st->err_power));
		}
		if (hz->count < FC_RESID_WINDOW)
			hz->count++;
		ape_sum += ape;
		n_ape++;
		if (!tl)
			continue;
		if (i == 0) {
			tl->sse += e * e;
			tl->ape_in += ape;
			tl->n_in++;
		}
		if (st->t >= tl->from) {
			tl->ae += fabs(e);
			tl->ape += ape;
			tl->n_out++;
		}
	}
	fc_core_step(&st->core, y);
	if (seen)
		st->ybar += (fabs(y) - st->ybar) / FC_RESID_WINDOW;
	for (i = 0; i < st->k; i++) {
		struct horizon *hz = &st->hz[i];

		hz->pend[hz->pos] = fc_core_forecast(&st->core, hz->h, hz->phisum);
		hz->pos = hz->pos + 1 == hz->h ? 0 : hz->pos + 1;
	}
	if (seen && !isnan(st->last_y) && st->k > 0 && !isnan(st->hz[0].pend[st->hz[0].pos])) {
		double naive = fabs(y - st->last_y), own = fabs(y - st->hz[0].pend[st->hz[0].pos]);

		st->mae1 += (own - st->mae1) / FC_RESID_WINDOW;
		st->mae_naive += (naive - st->mae_naive) / FC_RESID_WINDOW;
		st->info.recent_relative_mae = st->mae_naive > 0 ? st->mae1 / st->mae_naive : NAN;
		if (tl && st->t >= tl->from) {
			tl->ae1 += own;
			tl->ae_naive += naive;
			tl->n_naive++;
		}
	}
	if (seen)
		st->last_y = y;
	st->t++;
	if (n_ape)
		st->info.recent_mape +=
		    (ape_sum / (double)n_ape - st->info.recent_mape) / FC_RESID_WINDOW;
	if (!fc_core_finite(&st->core))
		not_ready(st, "the model overflowed on an extreme value; refit");
}

void fc_update(struct fc_state *st, double y)
{
	st->info.updates++;
	if (!st->info.ready)
		return;
	if (isfinite(y))
		y = fmin(Y_CAP, fmax(-Y_CAP, y / st->scale));
	else
		y = NAN;
	observe(st, y, NULL);
}

/*
 * Of c values in order, the index of the q quantile: the ceil(q (c+1))-th
 * smallest, so the next value stays below it with chance >= q. The 1-q
 * quantile is the (c - 1 - that)-th.
 */
static size_t quantile_index(size_t c, double q)
{
	size_t k = (size_t)ceil(q * (double)(c + 1));

	return k > c ? c - 1 : k - 1;
}

/* Of v[0..c): the q and 1-q quantiles (lo may be NULL). Reorders v. */
static void quantiles_of(double *lo, double *hi, double *v, size_t c, double q)
{
	size_t khi = quantile_index(c, q);

	*hi = select_kth(v, c, khi);
	if (lo)
		*lo = select_kth(v, c, c - 1 - khi);
}

/*
 * The bounds' quantiles of horizon i's relative errors: lo at 1-q, hi at q.
 * The codes keep the errors' order, so the histogram finds them: the
 * quantile_index of the errors' weight over ERR_WEIGHT (their count, until
 * the first halving).
 */
static void error_quantiles(double *lo, double *hi, const struct fc_state *st, size_t i)
{
	const struct horizon *hz = &st->hz[i];
	double c = (double)hz->weight / ERR_WEIGHT, khi, klo, seen = 0;
	bool lo_found = false;

	/* quantile_index over a count that halving leaves fractional. */
	khi = fmin(ceil(st->info.quantile * (c + 1)), c);
	klo = c + 1 - khi;
	for (int code = -ERR_CODES; code <= ERR_CODES; code++) {
		seen += (double)hz->hist[code + ERR_CODES] / ERR_WEIGHT;
		if (!lo_found && seen >= klo) {
			*lo = expand(code);
			lo_found = true;
		}
		if (seen >= khi) {
			*hi = expand(code);
			return;
		}
	}
}

/*
 * Picks how errors scale with the forecast: not at all (additive noise, as
 * in counts that stay busy at night), with its square root (Poisson-like),
 * or in proportion (multiplicative). The choice is the one whose bounds,
 * calibrated on the same recent one-step errors, are narrowest on average
 * over a few quantiles: equal coverage for less capacity.
 */
static void choose_err_power(struct fc_state *st)
{
	static const double powers[] = {1, 0.5, 0}, qs[] = {0.8, 0.9, 0.95, 0.99};
	const struct horizon *hz = &st->hz[0];
	const float *raw = st->fit_raw, *fv = raw + FC_RESID_WINDOW;
	double least = floor_of(st), width[3][4], best = INFINITY, v[FC_RESID_WINDOW];

	if (st->k == 0 || hz->count < MIN_RESID)
		return;
	for (size_t p = 0; p < 3; p++) {
		double mean = 0;

		for (size_t j = 0; j < hz->count; j++)
			mean += err_unit(fv[j], least, powers[p]);
		mean /= (double)hz->count;
		for (size_t k = 0; k < 4; k++) {
			double hi;

			for (size_t j = 0; j < hz->count; j++)
				v[j] = raw[j] / err_unit(fv[j], least, powers[p]);
			quantiles_of(NULL, &hi, v, hz->count, qs[k]);
			width[p][k] = hi * mean;
		}
	}
	for (size_t p = 0; p < 3; p++) {
		double score = 0;

		for (size_t k = 0; k < 4; k++)
			score += width[0][k] > 0 ? width[p][k] / width[0][k] : 1;
		/* A simpler scale must win clearly: proportional errors are the default. */
		if (score < best - 0.02 * (p > 0)) {
			best = score;
			st->err_power = powers[p];
		}
	}
}

static double to_load(const struct fc_state *st, double v)
{
	v *= st->scale;
	if (!(v > 0))
		return 0;
	return v > DBL_MAX ? DBL_MAX : v;
}

void fc_set_quantile(struct fc_state *st, double q)
{
	if (q >= 0.5 && q < 1)
		st->info.quantile = q;
}

enum fs_rc fc_forecast(double *point, double *lower, double *upper, const struct fc_state *st,
                       size_t h, struct fs_err *err)
{
	double qlo[GRID_MAX], qhi[GRID_MAX], least = floor_of(st);
	double phi = st->core.damped ? st->core.p.phi : 1.0, phisum = 0, phipow = 1;
	size_t i = 0, j, k = 0;

	if (!st->info.ready)
		return fs_fail(err, FS_EINVAL, "forecast not ready: %s", st->info.reason);
	if (h < 1 || h > st->info.horizon_max)
		return fs_fail(err, FS_EINVAL,
		               "forecast of %zu steps: the state was fitted for 1 to %zu", h,
		               st->info.horizon_max);
	if (lower || upper)
		for (k = 0; k < st->k && (k == 0 || st->hz[k - 1].h < h); k++)
			error_quantiles(&qlo[k], &qhi[k], st, k);
	for (j = 1; j <= h; j++) {
		double f, d, lo, hi, w;

		phipow *= phi;
		phisum += phipow;
		f = fc_core_forecast(&st->core, j, phisum);
		point[j - 1] = to_load(st, f);
		if (!lower && !upper)
			continue;
		/* Bounds between grid horizons: straight lines between their quantiles. */
		while (i + 1 < k && st->hz[i + 1].h <= j)
			i++;
		w = i + 1 < k ? (double)(j - st->hz[i].h) / (double)(st->hz[i + 1].h - st->hz[i].h)
		              : 0;
		d = err_unit(f, least, st->err_power);
		lo = f + ((1 - w) * qlo[i] + w * (i + 1 < k ? qlo[i + 1] : 0)) * d;
		hi = f + ((1 - w) * qhi[i] + w * (i + 1 < k ? qhi[i + 1] : 0)) * d;
		if (lower)
			lower[j - 1] = to_load(st, fmin(lo, f));
		if (upper)
			upper[j - 1] = to_load(st, fmax(hi, f));
	}
	return FS_OK;
}

/* The history in scaled units, with what a fit needs to know about it. */
struct series {
	double *y; /* scaled; NaN for missing */
	size_t n;
	size_t observed;
	size_t nonpositive; /* observed values <= 0 */
	double scale;
};

static enum fs_rc series_load(struct series *s, const double *y, size_t n, struct fs_err *err)
{
	size_t t, k = 0;
	double typical = 0;
	int e;

	memset(s, 0, sizeof(*s));
	s->n = n;
	s->scale = 1;
	s->y = malloc((n ? n : 1) * sizeof(*s->y));
	if (!s->y)
		return fs_fail(err, FS_ENOMEM, "out of memory copying %zu points", n);
	for (t = 0; t < n; t++)
		if (isfinite(y[t])) {
			s->y[k++] = fabs(y[t]);
			typical += fabs(y[t]);
		}
	/* The median size (the mean when most values are 0): robust to a few huge values. */
	if (k) {
		typical /= (double)k;
		double med = select_kth(s->y, k, k / 2);

		if (med > 0)
			typical = med;
	}
	if (typical > 0 && isfinite(typical)) {
		frexp(typical, &e);
		s->scale = ldexp(1.0, e);
	}
	for (t = 0; t < n; t++) {
		if (!isfinite(y[t])) {
			s->y[t] = NAN;
			continue;
		}
		s->y[t] = fmin(Y_CAP, fmax(-Y_CAP, y[t] / s->scale));
		s->observed++;
		if (y[t] <= 0)
			s->nonpositive++;
	}
	return FS_OK;
}

/* Fitting the smoothing parameters: the objective over the unit box. */
struct es_fit {
	struct fc_core c; /* starting state; the parameters are set per evaluation */
	const double *y;
	size_t n;
	double *ring;
	int which[FC_OPT_MAX]; /* box dimension -> 0 alpha, 1 beta, 2 gamma, 3 phi */
	size_t k;
};

static void es_params(struct fc_params *p, const struct es_fit *ef, const double *u)
{
	double v[4] = {0, 0, 0, 0};

	for (size_t i = 0; i < ef->k; i++)
		v[ef->which[i]] = u[i];
	p->alpha = ALPHA_LO + v[0] * (ALPHA_HI - ALPHA_LO);
	p->beta = ef->c.trend ? v[1] : 0;
	p->gamma = ef->c.seas != FC_SEAS_NONE ? v[2] * (1 - p->alpha) : 0;
	p->phi = ef->c.damped ? PHI_LO + v[3] * (PHI_HI - PHI_LO) : 1;
}

static double es_objective(double *grad, const double *u, void *ctx)
{
	struct es_fit *ef = ctx;
	double g[4], sse, dpar[4], v2 = 0;
	size_t count, i;

	es_params(&ef->c.p, ef, u);
	sse = fc_es_sse(grad ? g : NULL, &count, &ef->c, ef->y, ef->n, ef->ring);
	if (!count)
		count = 1;
	if (!grad)
		return sse / (double)count;
	for (i = 0; i < ef->k; i++)
		if (ef->which[i] == 2)
			v2 = u[i];
	/* The chain rule through the box's mapping (gamma's range shrinks with alpha). */
	dpar[0] = (g[0] - g[2] * v2) * (ALPHA_HI - ALPHA_LO);
	dpar[1] = g[1];
	dpar[2] = g[2] * (1 - ef->c.p.alpha);
	dpar[3] = g[3] * (PHI_HI - PHI_LO);
	for (i = 0; i < ef->k; i++)
		grad[i] = dpar[ef->which[i]] / (double)count;
	return sse / (double)count;
}

/*
 * Moves the starting level and trend of a smoothing model to where its
 * squared one-step error over y[0..n) is least for the parameters it has
 * (Gauss-Newton: one step does it for additive models).
 */
static void settle_start(struct fc_core *c, const double *y, size_t n, double *ring)
{
	for (int r = 0; r < 2; r++) {
		struct fc_core moved = *c;
		size_t count;
		double before = fc_es_refine_start(&moved, y, n, ring);
		double after = fc_es_sse(NULL, &count, &moved, y, n, ring);

		if (!(after < before))
			break;
		c->l = moved.l;
		c->b = moved.b;
		if (after > before * (1 - 1e-3))
			break;
	}
}

static void fit_es(struct fc_core *c, const double *y, size_t n, double *ring)
{
	/* Starting points: a grid over the box, since the error surface can have
	 * more than one basin (a slow level with a fast trend, or the reverse). */
	static const double ga[] = {0.05, 0.2, 0.5, 0.9}, gb[] = {0.01, 0.3}, gg[] = {0.05, 0.3};
	struct es_fit ef = {.c = *c, .y = y, .n = n, .ring = ring};
	double u[4][FC_OPT_MAX], best[FC_OPT_MAX] = {0}, fbest = INFINITY, f[4];
	double curv[FC_OPT_MAX * FC_OPT_MAX] = {0};
	struct fc_params p[4];
	size_t nb = c->trend ? 2 : 1, ng = c->seas != FC_SEAS_NONE ? 2 : 1, i, r, nobs = 0;

	ef.which[ef.k++] = 0;
	if (c->trend)
		ef.which[ef.k++] = 1;
	if (c->seas != FC_SEAS_NONE)
		ef.which[ef.k++] = 2;
	if (c->damped)
		ef.which[ef.k++] = 3;
	for (i = 0; i < n; i++)
		nobs += !isnan(y[i]);
	if (!nobs)
		nobs = 1;
	for (i = 0; i < 4 * nb * ng; i += 4) {
		for (r = 0; r < 4; r++) {
			size_t d = 0, q = i + r; /* 4 * nb * ng is a multiple of 4 */

			u[r][d++] = ga[q / (nb * ng)];
			if (c->trend)
				u[r][d++] = gb[q / ng % nb];
			if (c->seas != FC_SEAS_NONE)
				u[r][d++] = gg[q % ng];
			if (c->damped)
				u[r][d++] = 0.5;
			es_params(&p[r], &ef, u[r]);
		}
		fc_es_sse4(f, &ef.c, p, y, n, ring);
		for (r = 0; r < 4; r++)
			if (f[r] / (double)nobs < fbest) {
				fbest = f[r] / (double)nobs;
				memcpy(best, u[r], sizeof(best));
			}
	}
	/* The starting level and trend suit the best starting point, then the
	 * parameters are fitted, then the start and the parameters again while
	 * that pays. */
	for (r = 0; r < 3; r++) {
		struct fc_core moved = ef.c;
		size_t count;
		double f0;

		es_params(&moved.p, &ef, best);
		fc_es_refine_start(&moved, y, n, ring);
		f0 = fc_es_sse(NULL, &count, &moved, y, n, ring) / (double)(count ? count : 1);
		if (f0 < fbest) {
			ef.c.l = moved.l;
			ef.c.b = moved.b;
		}
		if (r > 0 && !(f0 < fbest * (1 - 1e-3)))
			break;
		fbest = fc_minimize(best, ef.k, es_objective, &ef, MAX_ITER, curv);
	}
	c->l = ef.c.l;
	c->b = ef.c.b;
	es_params(&c->p, &ef, best);
}

/* FC_LINEAR's forgetting rate, on a log scale between 0.5 and 1/n. */
struct lin_fit {
	struct fc_core c;
	const double *y;
	size_t n;
	double lo, hi; /* log of the rate's range */
};

static double lin_value(struct lin_fit *lf, double u)
{
	size_t count;
	double sse;

	lf->c.p.alpha = exp(lf->lo + u * (lf->hi - lf->lo));
	sse = fc_core_sse(&count, &lf->c, lf->y, lf->n, NULL);
	return sse / (double)(count ? count : 1);
}

static double lin_objective(double *grad, const double *u, void *ctx)
{
	struct lin_fit *lf = ctx;
	double step = 1e-4, a = fmax(0, u[0] - step), b = fmin(1, u[0] + step);

	if (grad)
		grad[0] = (lin_value(lf, b) - lin_value(lf, a)) / (b - a);
	return lin_value(lf, u[0]);
}

static void fit_linear(struct fc_core *c, const double *y, size_t n)
{
	struct lin_fit lf = {
	    .c = *c, .y = y, .n = n, .lo = log(1.0 / (double)(n > 2 ? n : 2)), .hi = log(0.5)};
	double u, best = 0, f, fbest = INFINITY;

	for (u = 0; u <= 1.0; u += 0.25) {
		f = lin_value(&lf, u);
		if (f < fbest) {
			fbest = f;
			best = u;
		}
	}
	fc_minimize(&best, 1, lin_objective, &lf, MAX_ITER, NULL);
	c->p.alpha = exp(lf.lo + best * (lf.hi - lf.lo));
}

static bool params_valid(const struct fc_params *p, enum fc_model model)
{
	if (!(p->alpha > 0 && p->alpha <= 1))
		return false;
	if (model == FC_LINEAR)
		return p->alpha < 1;
	if (!(p->beta >= 0 && p->beta <= 1 && p->gamma >= 0 && p->gamma <= 1))
		return false;
	return !(model == FC_HOLT_DAMPED || model == FC_HW_ADD_DAMPED ||
	         model == FC_HW_MUL_DAMPED) ||
	       (p->phi > 0 && p->phi <= 1);
}

/*
 * Fits one model: the starting state from y[0..train) and the parameters on
 * it (unless the spec gives them; `fitted`, when not NULL, gives parameters
 * found before, and only the start is settled), then a pass over the whole
 * history that scores the buckets from train on and fills the interval
 * rings. *out gets a state, ready or not.
 */
static enum fs_rc fit_one(struct fc_state **out, enum fc_model model, size_t m,
                          const struct series *s, size_t train, const struct fc_spec *spec,
                          const struct fc_params *fitted, double *ring, struct fs_err *err)
{
	struct fc_state *st = state_new(model, m, spec->horizon_max);
	struct tally tl = {.from = train < s->n ? train : 0};
	enum fs_rc rc;
	size_t i, t, skip;

	if (st)
		st->fit_raw = malloc((st->k ? st->k : 1) * 2 * FC_RESID_WINDOW * sizeof(float));
	if (!st || !st->fit_raw) {
		fc_free(st);
		return fs_fail(err, FS_ENOMEM, "out of memory for a %s state",
		               fc_model_name(model));
	}
	rc = fc_core_initialise(&st->core, &st->ybar, s->y, train, err);
	if (rc != FS_OK) {
		fc_free(st);
		return rc;
	}
	if (spec->params) {
		st->core.p = *spec->params;
		if (!st->core.damped)
			st->core.p.phi = 1;
	} else if (fitted) {
		st->core.p = *fitted;
		if (fc_model_is_es(model))
			settle_start(&st->core, s->y, train, ring);
	} else if (fc_model_is_es(model)) {
		fit_es(&st->core, s->y, train, ring);
	} else if (model == FC_LINEAR) {
		fit_linear(&st->core, s->y, train);
	}
	st->info.params = st->core.p;
	if (model == FC_SEASONAL_NAIVE || model == FC_LINEAR)
		st->info.params.phi = 0;
	if (model == FC_LINEAR)
		st->info.params.beta = st->info.params.gamma = 0;
	/* Scoring only the holdout, the model runs plain up to a horizon before it. */
	skip = train < s->n && train > spec->horizon_max ? train - spec->horizon_max : 0;
	for (t = 0; t < skip; t++) {
		fc_core_step(&st->core, s->y[t]);
		if (!isnan(s->y[t]))
			st->ybar += (fabs(s->y[t]) - st->ybar) / FC_RESID_WINDOW;
	}
	st->t = skip;
	for (i = 0; i < st->k; i++) {
		struct horizon *hz = &st->hz[i];

		hz->phisum = fc_phi_sum(st->core.damped ? st->core.p.phi : 1.0, hz->h);
		/* The state's forecast h steps on, for y[t+h-1]. */
		hz->pend[hz->h - 1] = fc_core_forecast(&st->core, hz->h, hz->phisum);
	}
	st->info.ready = true;
	for (t = skip; t < s->n && st->info.ready; t++)
		observe(st, s->y[t], &tl);
	if (st->info.ready)
		choose_err_power(st);
	/* From here on the horizons keep errors over their forecast's unit. */
	for (i = 0; i < st->k; i++) {
		const float *raw = st->fit_raw + 2 * i * FC_RESID_WINDOW;

		for (t = 0; t < st->hz[i].count; t++)
			add_error(&st->hz[i], raw[t] / err_unit(raw[FC_RESID_WINDOW + t],
			                                        floor_of(st), st->err_power));
	}
	free(st->fit_raw);
	st->fit_raw = NULL;
	st->info.train = train;
	st->info.holdout = s->n - train;
	st->info.sse = tl.sse * s->scale * s->scale;
	st->info.mape_in = tl.n_in ? tl.ape_in / (double)tl.n_in : 0;
	st->info.mae = tl.n_out ? tl.ae / (double)tl.n_out * s->scale : 0;
	st->info.mape = tl.n_out ? tl.ape / (double)tl.n_out : 0;
	st->info.recent_mape = st->info.mape;
	st->mae1 = tl.n_naive ? tl.ae1 / (double)tl.n_naive : 0;
	st->mae_naive = tl.n_naive ? tl.ae_naive / (double)tl.n_naive : 0;
	st->info.recent_relative_mae = st->mae_naive > 0 ? st->mae1 / st->mae_naive : NAN;
	/* A state that runs through the whole history is one to forecast from. */
	for (i = 0; train == s->n && i < st->k && st->info.ready; i++)
		if (st->hz[i].count < MIN_RESID)
			not_ready(st,
			          "%zu errors of %zu-step forecasts in %zu buckets; bounds need %d",
			          st->hz[i].count, st->hz[i].h, s->n, MIN_RESID);
	*out = st;
	return FS_OK;
}

static enum fs_rc check_spec(const struct fc_spec *spec, const double *y, size_t n,
                             struct fs_err *err)
{
	if (!spec)
		return fs_fail(err, FS_EINVAL, "forecast spec missing");
	if ((unsigned)spec->model >= FC_MODEL_COUNT)
		return fs_fail(err, FS_EINVAL, "forecast model %d unknown", (int)spec->model);
	if (!(spec->quantile >= 0.5 && spec->quantile < 1))
		return fs_fail(err, FS_EINVAL,
		               "forecast quantile %g: must be at least 0.5 and below 1",
		               spec->quantile);
	if (spec->horizon_max < 1 || spec->horizon_max > FC_HORIZON_LIMIT)
		return fs_fail(err, FS_EINVAL, "forecast horizon %zu: must be 1 to %d steps",
		               spec->horizon_max, FC_HORIZON_LIMIT);
	if (spec->season == 1)
		return fs_fail(err, FS_EINVAL,
		               "forecast season 1: a season is 2 buckets or more "
		               "(0 for none)");
	if (spec->season == 0 && fc_model_is_seasonal(spec->model))
		return fs_fail(err, FS_EINVAL, "forecast model %s needs a season (season is 0)",
		               fc_model_name(spec->model));
	if (spec->params && (spec->model == FC_AUTO || spec->model == FC_NONE))
		return fs_fail(err, FS_EINVAL,
		               "forecast parameters given for model %s: they need a "
		               "fixed model",
		               fc_model_name(spec->model));
	if (spec->params && !params_valid(spec->params, spec->model))
		return fs_fail(err, FS_EINVAL,
		               "forecast parameters out of range for %s (alpha %g, "
		               "beta %g, gamma %g, phi %g)",
		               fc_model_name(spec->model), spec->params->alpha, spec->params->beta,
		               spec->params->gamma, spec->params->phi);
	if (n && !y)
		return fs_fail(err, FS_EINVAL, "forecast history of %zu points missing", n);
	return FS_OK;
}

/* The candidates a spec asks for, simplest first (FC_AUTO keeps the first of equals). */
static size_t candidates(enum fc_model *list, enum fc_model model, size_t m, const struct series *s)
{
	static const enum fc_model plain[] = {FC_SES, FC_HOLT, FC_HOLT_DAMPED, FC_LINEAR};
	static const enum fc_model seasonal[] = {FC_SEASONAL_NAIVE, FC_HW_ADD, FC_HW_ADD_DAMPED,
	                                         FC_HW_MUL, FC_HW_MUL_DAMPED};
	size_t k = 0, i;

	if (model != FC_AUTO) {
		/* Multiplicative seasons cannot take zeros: the additive form stands in. */
		if (model == FC_HW_MUL && s->nonpositive)
			model = FC_HW_ADD;
		else if (model == FC_HW_MUL_DAMPED && s->nonpositive)
			model = FC_HW_ADD_DAMPED;
		list[k++] = model;
		return k;
	}
	for (i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		list[k++] = plain[i];
	for (i = 0; m && i < sizeof(seasonal) / sizeof(seasonal[0]); i++)
		if (!s->nonpositive ||
		    (seasonal[i] != FC_HW_MUL && seasonal[i] != FC_HW_MUL_DAMPED))
			list[k++] = seasonal[i];
	return k;
}

static void record(struct fc_info *info, const struct fc_info *cand)
{
	size_t i = info->n_candidates++;

	for (; i > 0 && info->candidates[i - 1].mae > cand->mae; i--)
		info->candidates[i] = info->candidates[i - 1];
	info->candidates[i].model = cand->model;
	info->candidates[i].mae = cand->mae;
	info->candidates[i].mape = cand->mape;
}

enum fs_rc fc_fit(struct fc_state **out, const double *y, size_t n, const struct fc_spec *spec,
                  struct fs_err *err)
{
	struct series s = {0};
	struct fc_state *best = NULL, *cand = NULL, *fail = NULL;
	struct fc_info found = {0};
	enum fc_model list[FC_MODEL_COUNT];
	double *ring = NULL, strength = 0;
	size_t m = 0, train, nlist, i;
	bool detected = false;
	enum fs_rc rc;

	rc = check_spec(spec, y, n, err);
	if (rc != FS_OK)
		return rc;
	rc = series_load(&s, y, n, err);
	if (rc != FS_OK)
		goto out;
	if (spec->model != FC_AUTO && !fc_model_is_seasonal(spec->model))
		m = 0;
	else if (spec->season != FC_SEASON_AUTO)
		m = spec->season;
	else if (s.observed >= FC_MIN_POINTS && spec->model != FC_NONE) {
		rc = fc_detect_season(&m, &strength, s.y, n, spec->max_season, err);
		if (rc != FS_OK)
			goto out;
		detected = true;
	}
	found.requested = spec->model;
	found.model = spec->model;
	found.season = m;
	found.season_detected = detected;
	found.season_strength = strength;
	found.quantile = spec->quantile;
	found.horizon_max = spec->horizon_max;
	found.points = n;
	found.observed = s.observed;

	best = state_new(spec->model, 0, 0);
	if (!best) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory for a forecast state");
		goto out;
	}
	best->info = found;
	if (spec->model == FC_NONE) {
		not_ready(best, "forecasting is off (model None)");
		goto done;
	}
	if (s.observed < FC_MIN_POINTS) {
		not_ready(best, "%zu of %zu buckets observed; a fit needs %d", s.observed, n,
		          FC_MIN_POINTS);
		goto done;
	}
	if (fc_model_is_seasonal(spec->model) && m == 0) {
		not_ready(best, "%s needs a season and none was detected (strength %.2f)",
		          fc_model_name(spec->model), strength);
		goto done;
	}
	if (m && m > n / 2) {
		not_ready(best, "%zu buckets of history are fewer than two seasons (2 x %zu)", n,
		          m);
		goto done;
	}

	train = n - n / HOLDOUT_PARTS;
	if (train < 2 * m)
		train = 2 * m;
	ring = malloc(5 * (m ? m : 1) * sizeof(*ring));
	if (!ring) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory fitting a season of %zu", m);
		goto out;
	}
	nlist = candidates(list, spec->model, m, &s);
	fc_free(best);
	best = NULL;
	for (i = 0; i < nlist; i++) {
		rc = fit_one(&cand, list[i], m, &s, train, spec, NULL, ring, err);
		if (rc != FS_OK)
			goto out;
		cand->info.requested = spec->model;
		if (!cand->info.ready) {
			fc_free(fail);
			fail = cand;
		} else {
			record(&found, &cand->info);
			if (!best ||
			    cand->info.mae < best->info.mae * (1 - AUTO_MARGIN) - 1e-9 * s.scale) {
				fc_free(best);
				best = cand;
			} else {
				fc_free(cand);
			}
		}
		cand = NULL;
	}
	if (!best) {
		/* No candidate is ready: the last one's reason stands. */
		best = fail;
		fail = NULL;
	}
	if (!best) {
		rc = fs_fail(err, FS_EINVAL, "forecast model %s: nothing to fit",
		             fc_model_name(spec->model));
		goto out;
	}
	if (best->info.ready && train < n) {
		/* The choice is made on the holdout; the model then starts from all of
		 * the history (parameters stay: a fifth more data barely moves them). */
		rc =
		    fit_one(&cand, best->info.model, m, &s, n, spec, &best->info.params, ring, err);
		if (rc != FS_OK)
			goto out;
		cand->info.train = best->info.train;
		cand->info.holdout = best->info.holdout;
		cand->info.mae = best->info.mae;
		cand->info.mape = cand->info.recent_mape = best->info.mape;
		fc_free(best);
		best = cand;
		cand = NULL;
	}
	best->info.requested = spec->model;
	best->info.season = m;
	best->info.season_detected = detected;
	best->info.season_strength = strength;
	best->info.quantile = spec->quantile;
	best->info.horizon_max = spec->horizon_max;
	best->info.points = n;
	best->info.observed = s.observed;
	memcpy(best->info.candidates, found.candidates, sizeof(found.candidates));
	best->info.n_candidates = found.n_candidates;
	if (best->info.model != spec->model && spec->model != FC_AUTO)
		snprintf(best->info.note, sizeof(best->info.note),
		         "%s needs positive data (%zu values are 0 or less): fitted %s",
		         fc_model_name(spec->model), s.nonpositive,
		         fc_model_name(best->info.model));
done:
	best->scale = s.scale;
	best->refit_every = spec->refit_every
	                        ? spec->refit_every
	                        : (best->info.season ? best->info.season : DEFAULT_REFIT);
	*out = best;
	best = NULL;
out:
	fc_free(best);
	fc_free(cand);
	fc_free(fail);
	free(ring);
	free(s.y);
	return rc;
}

enum fs_rc fc_smooth(double *fitted, const double *y, size_t n, enum fc_model model, size_t season,
                     const struct fc_params *params, const struct fc_init *init, struct fs_err *err)
{
	struct fc_core c;
	double *s = NULL, *clean = NULL, ybar, phisum;
	size_t m = fc_model_is_seasonal(model) ? season : 0, t;
	enum fs_rc rc = FS_OK;

	if (!fc_model_is_es(model) && model != FC_SEASONAL_NAIVE)
		return fs_fail(err, FS_EINVAL, "smoothing model %s: not a smoothing model",
		               fc_model_name(model));
	if (fc_model_is_seasonal(model) && (season < 2 || (!init && season > n / 2)))
		return fs_fail(err, FS_EINVAL, "smoothing model %s: season %zu with %zu points",
		               fc_model_name(model), season, n);
	if (fc_model_is_es(model) && (!params || !params_valid(params, model)))
		return fs_fail(err, FS_EINVAL,
		               "smoothing model %s: parameters missing or out of range",
		               fc_model_name(model));
	if (init && m && !init->seasonal)
		return fs_fail(err, FS_EINVAL,
		               "smoothing model %s: initial seasonal values missing",
		               fc_model_name(model));
	s = malloc((m ? m : 1) * sizeof(*s));
	clean = malloc((n ? n : 1) * sizeof(*clean));
	if (!s || !clean) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory smoothing %zu points", n);
		goto out;
	}
	for (t = 0; t < n; t++)
		clean[t] = isfinite(y[t]) ? y[t] : NAN;
	fc_core_setup(&c, model, m, s);
	if (params)
		c.p = *params;
	if (!c.damped)
		c.p.phi = 1;
	if (init) {
		c.l = init->level;
		c.b = c.trend ? init->trend : 0;
		if (m)
			memcpy(s, init->seasonal, m * sizeof(*s));
	} else {
		rc = fc_core_initialise(&c, &ybar, clean, n, err);
		if (rc != FS_OK)
			goto out;
	}
	phisum = c.damped ? c.p.phi : 1.0;
	for (t = 0; t < n; t++) {
		fitted[t] = fc_core_forecast(&c, 1, phisum);
		fc_core_step(&c, clean[t]);
	}
out:
	free(s);
	free(clean);
	return rc;
}
