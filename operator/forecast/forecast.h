#ifndef FORESIGHT_FORECAST_FORECAST_H
#define FORESIGHT_FORECAST_FORECAST_H

/*
 * The forecasting engine: fits a time-series model to a load history,
 * forecasts it with prediction intervals, and keeps the model current one
 * observation at a time. Pure code: no I/O, no clock, no global state; the
 * operator and `foresight backtest` share it.
 *
 * A series is an array of evenly spaced buckets (one value per step, e.g. the
 * requests of one minute). NaN (or any non-finite value) marks a missing
 * bucket: Prometheus range queries have holes, and a caller fills a gap with
 * NaN by timestamp rather than closing it up. The engine works on the values
 * divided by a power of two near their median size (exact, and safe for
 * loads of any size); a value over 1e9 times that size counts as that much.
 *
 * Models (enum fc_model): simple exponential smoothing, Holt's linear trend
 * (optionally damped), Holt-Winters with additive or multiplicative
 * seasonality (optionally damped), seasonal naive, a linear regression
 * trend, and FC_AUTO, which fits every model that applies and keeps the one
 * with the smallest error on recent history. Smoothing parameters are fitted
 * by minimising the one-step-ahead squared error with a bounded
 * quasi-Newton optimiser (exact gradients), from a grid of starting points
 * and a starting state taken from a classical decomposition of the first
 * seasons (up to twenty), whose level and trend are then fitted too;
 * nothing needs hand-tuning. The season is given or detected
 * (fc_detect_season).
 *
 * Life of a model, as the operator runs it:
 *
 *	struct fc_spec spec;
 *	struct fc_state *st;
 *	double point[3], lower[3], upper[3];
 *
 *	fc_spec_init(&spec);            // Auto model, detected season, q 0.9
 *	spec.season = 1440;              // 1d at 1m; or leave FC_SEASON_AUTO
 *	spec.horizon_max = 3;            // lead time in steps
 *	if (fc_fit(&st, history, n, &spec, &err) != FS_OK)   // bad spec, ENOMEM
 *		...;
 *	free(history);                   // the state keeps O(season), not the history
 *	...
 *	fc_update(st, latest);           // every step: O(1), allocates nothing
 *	if (fc_forecast(point, lower, upper, st, 3, &err) != FS_OK)
 *		// not ready: err.msg (= fc_info(st)->reason) says why
 *	if (fc_refit_due(st))            // schedule a refit on fresh history
 *		...;
 *	fc_free(st);
 *
 * A fit on too short a history (fewer than two seasons, fewer than
 * FC_MIN_POINTS observations) succeeds with a state that is not ready and
 * says why; it never makes a forecast up. Outputs are never NaN and never
 * negative: a forecast is a load.
 *
 * Prediction intervals: each state keeps, for a grid of horizons (1, 2, 3,
 * 4, 6, 8, 12, 16, 24, ... up to horizon_max), the errors of its last
 * FC_RESID_WINDOW or so h-step forecasts, each made before its outcome was
 * seen, measured against the forecast's size raised to 0, 1/2 or 1 (the fit
 * picks the power whose bounds come out narrowest at equal coverage on its
 * recent errors: additive noise, Poisson-like counts, or proportional
 * errors). The bounds at quantile q are the empirical q and 1-q quantiles of
 * those errors, interpolated between grid horizons: the upper bound covers
 * about q of the outcomes, whatever their distribution, and follows the
 * series as it changes. The window is long (2048) because the quantiles that
 * matter for capacity are the high ones, which a short window gets wrong:
 * one spike would widen the bounds for the whole window. The errors are
 * kept as a histogram over a logarithmic scale that reads a quantile back
 * within 2.5%; it is halved each time it holds FC_RESID_WINDOW errors, so
 * the latest half window counts fully and older errors fade, half as much
 * each half window.
 *
 * Memory of a fitted state: about 1 KB + 8 * season + 568 bytes per grid
 * horizon + 8 bytes per step of the grid horizons together, whatever the
 * history's length (fc_state_size() tells the exact figure). A season of
 * 1440 (a day at one minute): 14.0 KB with horizon_max 3 (grid 1 2 3),
 * 20.6 KB with horizon_max 60 (12 grid horizons); a season of 288: 5.0 KB
 * with horizon_max 3. A fit needs O(history) memory while it runs and frees
 * it before returning.
 *
 * States are independent: different states may be used from different
 * threads at once; one state needs external locking.
 */

#include <stdbool.h>
#include <stddef.h>

#include "base/result.h"

enum fc_model {
	FC_AUTO,           /* fit every model that applies, keep the best (rolling origin) */
	FC_NONE,           /* forecasting off: the state is never ready */
	FC_SES,            /* simple exponential smoothing: level only */
	FC_HOLT,           /* Holt: level and linear trend */
	FC_HOLT_DAMPED,    /* Holt with a damped trend */
	FC_HW_ADD,         /* Holt-Winters, additive season (with trend) */
	FC_HW_ADD_DAMPED,  /* Holt-Winters, additive season, damped trend */
	FC_HW_MUL,         /* Holt-Winters, multiplicative season (with trend) */
	FC_HW_MUL_DAMPED,  /* Holt-Winters, multiplicative season, damped trend */
	FC_SEASONAL_NAIVE, /* the value one season ago */
	FC_LINEAR,         /* least-squares line, recent points weighted more */
};

#define FC_MODEL_COUNT 11

/* spec.season: detect the season from the data (see fc_detect_season). */
#define FC_SEASON_AUTO ((size_t)-1)

/* Residuals kept per grid horizon to calibrate the intervals. */
#define FC_RESID_WINDOW 2048

/* Fewest observed (non-NaN) buckets a fit needs. */
#define FC_MIN_POINTS 20

/* Largest horizon_max accepted. */
#define FC_HORIZON_LIMIT 10080

#define FC_TEXT_MAX 192

/*
 * Smoothing parameters, as fitted (fc_info) or as imposed (spec.params).
 * The exponential-smoothing models use statsmodels' and Hyndman's
 * component form:
 *	level   l = alpha*(y - s) + (1-alpha)*(l + phi*b)      (y/s when multiplicative)
 *	trend   b = beta*(l - l_prev) + (1-beta)*phi*b
 *	season  s = gamma*(y - l_prev - phi*b_prev) + (1-gamma)*s   (y/(...) when mult.)
 *	forecast(h) = l + (phi + ... + phi^h)*b + s   (times s when multiplicative)
 * Fitted values lie in 0 < alpha < 1, 0 <= beta <= 1, 0 <= gamma <= 1-alpha,
 * 0.8 <= phi <= 0.98. Unused parameters are 0 (phi 1 when not damped).
 * FC_LINEAR uses alpha alone: the weight of a point shrinks by (1-alpha) per
 * step, so 1/alpha is the regression's effective window in steps.
 */
struct fc_params {
	double alpha;
	double beta;
	double gamma;
	double phi;
};

/* What to fit. Start from fc_spec_init and change what differs. */
struct fc_spec {
	enum fc_model model; /* default FC_AUTO */
	size_t season;       /* buckets per season; 0 for none; default FC_SEASON_AUTO */
	size_t max_season;   /* the longest season detection considers; 0: a third of the history */
	double quantile;     /* the upper bound's quantile, 0.5 <= q < 1; default 0.9 */
	size_t horizon_max;  /* the most steps fc_forecast will be asked for; default 1 */
	size_t refit_every;  /* updates after which fc_refit_due says yes; 0: one season (or 288) */
	/*
	 * NULL (the default) fits the parameters. Otherwise these are used as
	 * they are (not with FC_AUTO): for tests, comparisons and reproducing
	 * a run. Borrowed for the call.
	 */
	const struct fc_params *params;
};

/* One model FC_AUTO evaluated, with its error on the held-out recent history. */
struct fc_candidate {
	enum fc_model model;
	double mae;  /* mean absolute error of its forecasts (data units) */
	double mape; /* mean absolute percentage error, as a fraction (0.12 = 12%) */
};

/*
 * What a fit found and how the model has done since. Owned by the state
 * (fc_info); fc_update changes the "since the fit" fields.
 */
struct fc_info {
	bool ready;               /* fc_forecast works */
	char reason[FC_TEXT_MAX]; /* why not ready; "" when ready */
	char note[FC_TEXT_MAX];   /* a fallback taken while ready (e.g. multiplicative
	                             season on data with zeros); "" when none */
	enum fc_model requested;  /* spec.model */
	enum fc_model model;      /* the model fitted (FC_AUTO's choice) */
	size_t season;            /* the season given or detected, 0 when none; the model
	                             uses it when it is a seasonal one */
	bool season_detected;     /* the season came from fc_detect_season */
	double season_strength;   /* detection's score of that season, 0..1 (0 if given) */
	struct fc_params params;  /* fitted (or imposed) parameters */
	double quantile;          /* of the bounds */
	size_t horizon_max;

	size_t points;   /* buckets of history, gaps included */
	size_t observed; /* of them, not NaN */
	size_t train;    /* leading buckets the parameters were fitted on */
	size_t holdout;  /* trailing buckets the candidates were scored on
	                    (points - train) */
	double sse;      /* in-sample sum of squared one-step errors over the
	                    observed buckets, data units */
	double mape_in;  /* in-sample one-step MAPE (fraction) */
	double mape;     /* MAPE of the forecasts of the holdout, out of sample,
	                    averaged over the grid horizons (fraction); in sample
	                    over the whole history when holdout is 0. Errors are
	                    relative to max(|y|, 10% of the mean level), so idle
	                    buckets do not swamp it */
	double mae;      /* their mean absolute error, data units */
	struct fc_candidate candidates[FC_MODEL_COUNT]; /* the models evaluated, best first
	                                                   (FC_AUTO takes a simpler one when
	                                                   within 0.5%) */
	size_t n_candidates;

	size_t updates;             /* fc_update calls since the fit */
	double recent_mape;         /* exponentially weighted MAPE of the forecasts since,
	                               over about FC_RESID_WINDOW steps; starts at mape */
	double recent_relative_mae; /* the one-step forecasts' mean absolute error over the
	                               naive forecast's (the last value seen), weighted
	                               as recent_mape: below 1 the model beats what a
	                               reactive scaler relies on; NaN when not known */
};

struct fc_state;

/* Sets a spec to the defaults: FC_AUTO, FC_SEASON_AUTO, quantile 0.9, horizon 1. */
void fc_spec_init(struct fc_spec *spec);

/*
 * Fits a model to y[0..n) (NaN marks a missing bucket) and hands back a
 * state the caller frees with fc_free. The state holds only the model
 * (level, trend, one value per season slot, error rings): y may be freed
 * after the call.
 *
 * The last fifth of the history (what two seasons of training leave, if
 * less) is held out: each candidate model is fitted on the rest and scored
 * on its h-step forecasts of the holdout (mae, mape), which picks FC_AUTO's
 * model. The chosen model then takes its starting state from the whole
 * history, keeping its parameters, and runs through all of it: the state is
 * at the end of y, its error rings hold the last h-step errors.
 *
 * FS_OK also when the history is too short or empty: the state is then not
 * ready and fc_info(st)->reason says why. FS_EINVAL for a bad spec (the
 * message names the field), FS_ENOMEM.
 */
enum fs_rc fc_fit(struct fc_state **out, const double *y, size_t n, const struct fc_spec *spec,
                  struct fs_err *err);

/* Frees a state. NULL is a no-op. */
void fc_free(struct fc_state *st);

/*
 * Feeds the next bucket's value (NaN or non-finite: a missing bucket, the
 * model carries on with its own forecast). O(1): a few dozen operations per
 * grid horizon, independent of the history and the season; allocates
 * nothing. A state that is not ready only counts the update.
 */
void fc_update(struct fc_state *st, double y);

/*
 * Forecasts the next h buckets (1 <= h <= spec.horizon_max): point[i] and,
 * when not NULL, lower[i] and upper[i] for step i+1, at the spec's quantile
 * (upper) and its complement (lower). 0 <= lower <= point <= upper, never
 * NaN. FS_EINVAL when the state is not ready (its reason in err) or h is out
 * of range; the arrays are then untouched.
 */
enum fs_rc fc_forecast(double *point, double *lower, double *upper, const struct fc_state *st,
                       size_t h, struct fs_err *err);

/*
 * Changes the quantile of the bounds fc_forecast gives (0.5 <= q < 1; other
 * values are ignored). The model is untouched: the bounds come from the same
 * error rings whatever the quantile, so `foresight backtest` sweeps the
 * quantile on one run instead of one run per quantile.
 */
void fc_set_quantile(struct fc_state *st, double q);

/* The fit's findings and the state's record since. Owned by the state. */
const struct fc_info *fc_info(const struct fc_state *st);

/*
 * True when the caller should refit on fresh history: spec.refit_every
 * updates have passed since the fit, or the state is not ready (more
 * history may have arrived since).
 */
bool fc_refit_due(const struct fc_state *st);

/*
 * Brings this state's refit `share` (0 to 1) of its period nearer. A caller
 * that fits many states at once (a restart) gives each its own share, so
 * their refits, one period apart each, do not all come due together.
 */
void fc_spread_refit(struct fc_state *st, double share);

/* Bytes the state holds (the struct and its arrays). */
size_t fc_state_size(const struct fc_state *st);

/*
 * Detects the season of y[0..n) (NaN allowed): the period, in buckets, of
 * the strongest repeating pattern at most max_season long (0: no limit) and
 * seen at least three times, or 0 when nothing repeats clearly. Candidates
 * come from the autocorrelation's peaks and their divisors; each is scored
 * by how well the average pattern of the odd cycles predicts the even ones
 * and back (after removing a moving-average trend), which a trend or a
 * random walk does not fool. The shortest period scoring near the best wins
 * (a daily pattern over a weekly one only when the week adds little), and
 * near-ties go to periods made of the factors 2, 3, 5 and 7, as real
 * seasons counted in buckets are. `strength` (may be NULL) gets the score,
 * 0..1: the share of the detrended variance the pattern explains out of
 * sample; below 0.2 counts as no season. FS_ENOMEM only.
 */
enum fs_rc fc_detect_season(size_t *season, double *strength, const double *y, size_t n,
                            size_t max_season, struct fs_err *err);

/*
 * The one-step-ahead fitted values of a smoothing model run with the given
 * parameters over y[0..n): fitted[t] forecasts y[t] from y[0..t-1] (NaN in
 * y: the model carries on with its forecast). `init` gives the state before
 * y[0] (statsmodels' initial_level, initial_trend, initial_seasonal); NULL
 * uses the engine's own initialisation from y. Raw model output in data
 * units, not clamped: for comparing with other implementations and for
 * plots. Models: FC_SES .. FC_HW_MUL_DAMPED and FC_SEASONAL_NAIVE (params
 * unused). FS_EINVAL for other models or a season the model cannot use,
 * FS_ENOMEM.
 */
struct fc_init {
	double level;
	double trend;           /* ignored without a trend */
	const double *seasonal; /* `season` values, for y[0..season); ignored without a season */
};

enum fs_rc fc_smooth(double *fitted, const double *y, size_t n, enum fc_model model, size_t season,
                     const struct fc_params *params, const struct fc_init *init,
                     struct fs_err *err);

/*
 * The model's name, as the ForecastScaler spec and status spell it:
 * "Auto", "None", "SimpleExponentialSmoothing", "Holt", "HoltDamped",
 * "HoltWinters" (additive), "HoltWintersDamped",
 * "HoltWintersMultiplicative", "HoltWintersMultiplicativeDamped",
 * "SeasonalNaive", "LinearTrend". Static storage.
 */
const char *fc_model_name(enum fc_model model);

/* Parses a name fc_model_name returns, in any case. False for anything else. */
bool fc_model_parse(enum fc_model *out, const char *name);

#endif
