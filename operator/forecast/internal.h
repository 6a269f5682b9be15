#ifndef FORESIGHT_FORECAST_INTERNAL_H
#define FORESIGHT_FORECAST_INTERNAL_H

/*
 * What the engine's files share: the smoothing recursions (smooth.c) and the
 * bounded optimiser (optim.c). Not an API: callers use forecast.h.
 *
 * The recursions run in the fit's scaled units (data divided by a power of
 * two, see forecast.c), so they see values near 1 whatever the load's size.
 */

#include <stdbool.h>
#include <stddef.h>

#include "base/result.h"
#include "forecast/forecast.h"

enum fc_seasonality { FC_SEAS_NONE, FC_SEAS_ADD, FC_SEAS_MUL };

/* Divisors are kept at least this far from zero in multiplicative models. */
#define FC_TINY 1e-9

/* The smallest seasonal factor of a multiplicative model: a slot that had no
 * load for many seasons would otherwise turn its next load into a huge level. */
#define FC_FACTOR_MIN 1e-3

/* One model's running state: what fc_core_step updates. */
struct fc_core {
	enum fc_model model;
	bool trend, damped;
	enum fc_seasonality seas;
	size_t m;    /* season, 0 for none */
	size_t slot; /* s[slot] is the seasonal value of the next observation */
	struct fc_params p;
	double l, b; /* level and trend of the smoothing models */
	double *s;   /* m values (not owned): seasonal terms, or the seasonal naive's last season */
	/* FC_LINEAR: weighted sums over past points, x = 0 for the newest, -1 before... */
	double w0, w1, w2, wy, wxy;
};

/*
 * x[0..len) from y (len <= n) with the missing (non-finite) values filled:
 * straight lines between the observed neighbours, searched in all of
 * y[0..n); before the first or after the last observation, the nearest one;
 * 0 when nothing is observed.
 */
void fc_fill_gaps(double *x, size_t len, const double *y, size_t n);

/* True for the exponential-smoothing models (FC_SES .. FC_HW_MUL_DAMPED). */
bool fc_model_is_es(enum fc_model model);

/* True for the models that need a season. */
bool fc_model_is_seasonal(enum fc_model model);

/* Sets the shape of a core for `model` with season m and seasonal storage s (m values). */
void fc_core_setup(struct fc_core *c, enum fc_model model, size_t m, double *s);

/*
 * Sets the core's starting state from the start of y[0..n) (NaN allowed, at
 * least one value observed; two seasons for seasonal models): for seasonal
 * models a classical decomposition of the first seasons (at most twenty):
 * a centred moving average is the trend, the mean detrended value of each
 * slot the season, and a least-squares line through the deseasonalised
 * values the level and trend; otherwise a line through the first ten
 * observations. Sets *ybar to the mean |y| of the values used. FS_ENOMEM.
 */
enum fs_rc fc_core_initialise(struct fc_core *c, double *ybar, const double *y, size_t n,
                              struct fs_err *err);

/* phi + phi^2 + ... + phi^h: how much trend an h-step forecast adds. */
double fc_phi_sum(double phi, size_t h);

/*
 * The forecast h >= 1 steps ahead; phisum = fc_phi_sum(phi, h) (h when not
 * damped), passed in so the update path needs no pow(). NaN when the model
 * has seen nothing it could forecast from (FC_LINEAR before its first point).
 */
double fc_core_forecast(const struct fc_core *c, size_t h, double phisum);

/* Takes in the next observation y (NaN: missing, the state moves on by its forecast). */
void fc_core_step(struct fc_core *c, double y);

/* True when the level, trend, sums and the last-touched seasonal value are finite. */
bool fc_core_finite(const struct fc_core *c);

/*
 * The sum of squared one-step errors of an exponential-smoothing model run
 * over y[0..n) from the starting state in c (not changed), and, when grad
 * is not NULL, its derivatives by alpha, beta, gamma and phi (forward-mode,
 * exact). `ring` is scratch for 5*m doubles. *count gets the number of
 * errors summed (the observed values).
 */
double fc_es_sse(double grad[4], size_t *count, const struct fc_core *c, const double *y, size_t n,
                 double *ring);

/*
 * fc_es_sse's sum (no gradient) for four parameter sets at once: the four
 * recursions run interleaved, so their chains of dependent operations
 * overlap and the four cost little more than one. `ring` is scratch for
 * 5*m doubles.
 */
void fc_es_sse4(double sse[4], const struct fc_core *c, const struct fc_params *p, const double *y,
                size_t n, double *ring);

/*
 * The same sum for any model by running fc_core_step on a copy of c whose
 * seasonal storage is `s_scratch` (m doubles). Slower; for FC_LINEAR.
 */
double fc_core_sse(size_t *count, const struct fc_core *c, const double *y, size_t n,
                   double *s_scratch);

/*
 * One Gauss-Newton step on the starting level and trend of an
 * exponential-smoothing model for its parameters as they are: moves c->l
 * and c->b to where the squared one-step error over y[0..n) is least (in
 * one step for additive models, whose errors are linear in them). With
 * little smoothing the start weighs on the whole history, and a heuristic
 * start then costs error. Returns the squared error before the step. `ring`
 * is scratch for 3*m doubles.
 */
double fc_es_refine_start(struct fc_core *c, const double *y, size_t n, double *ring);

#define FC_OPT_MAX 4

/* An objective on [0,1]^k: returns f(u) and, when grad is not NULL, its gradient. */
typedef double (*fc_objective)(double *grad, const double *u, void *ctx);

/*
 * Minimises fn over the box [0,1]^k (k <= FC_OPT_MAX) from u, which gets the
 * minimiser: a projected quasi-Newton method (BFGS on the variables not held
 * at a bound, Armijo backtracking along the projected path). Stops when the
 * projected gradient, the relative decrease or the step gets negligible, or
 * after max_iter iterations. `curv` (may be NULL) holds FC_OPT_MAX^2 doubles
 * of curvature model: a run leaves its model there and the next one starts
 * from it (all 0 before the first). Returns f at u.
 */
double fc_minimize(double *u, size_t k, fc_objective fn, void *ctx, unsigned max_iter,
                   double *curv);

#endif
