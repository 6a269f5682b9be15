/* The models' recursions, their starting state and their squared error. */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/internal.h"

bool fc_model_is_es(enum fc_model model)
{
	return model >= FC_SES && model <= FC_HW_MUL_DAMPED;
}

bool fc_model_is_seasonal(enum fc_model model)
{
	return (model >= FC_HW_ADD && model <= FC_HW_MUL_DAMPED) || model == FC_SEASONAL_NAIVE;
}

void fc_core_setup(struct fc_core *c, enum fc_model model, size_t m, double *s)
{
	memset(c, 0, sizeof(*c));
	c->model = model;
	c->trend = model != FC_SES && fc_model_is_es(model);
	c->damped =
	    model == FC_HOLT_DAMPED || model == FC_HW_ADD_DAMPED || model == FC_HW_MUL_DAMPED;
	if (model == FC_HW_ADD || model == FC_HW_ADD_DAMPED)
		c->seas = FC_SEAS_ADD;
	else if (model == FC_HW_MUL || model == FC_HW_MUL_DAMPED)
		c->seas = FC_SEAS_MUL;
	else
		c->seas = FC_SEAS_NONE;
	c->m = fc_model_is_seasonal(model) ? m : 0;
	c->s = c->m ? s : NULL;
	c->p.phi = 1.0;
}

double fc_phi_sum(double phi, size_t h)
{
	if (phi == 1.0)
		return (double)h;
	return phi * (1.0 - pow(phi, (double)h)) / (1.0 - phi);
}

void fc_fill_gaps(double *x, size_t len, const double *y, size_t n)
{
	size_t prev = n, next = 0, i;

	for (i = 0; i < len; i++) {
		if (isfinite(y[i])) {
			x[i] = y[i];
			prev = i;
			continue;
		}
		if (next <= i)
			for (next = i + 1; next < n && !isfinite(y[next]); next++)
				;
		if (prev == n && next == n)
			x[i] = 0.0;
		else if (prev == n)
			x[i] = y[next];
		else if (next == n)
			x[i] = y[prev];
		else
			x[i] = y[prev] +
			       (y[next] - y[prev]) * (double)(i - prev) / (double)(next - prev);
	}
}

/* Least-squares line a + b*t through (t, v[t]) for the t where v[t] is not NaN. */
static void fit_line(double *a, double *b, const double *v, size_t len)
{
	double st = 0, sv = 0, stt = 0, stv = 0, k = 0, den;
	size_t t;

	for (t = 0; t < len; t++) {
		if (isnan(v[t]))
			continue;
		st += (double)t;
		sv += v[t];
		stt += (double)t * (double)t;
		stv += (double)t * v[t];
		k += 1;
	}
	den = k * stt - st * st;
	*b = k > 1 && den > 0 ? (k * stv - st * sv) / den : 0.0;
	*a = k > 0 ? (sv - *b * st) / k : 0.0;
}

static void initialise_plain(struct fc_core *c, double *ybar, const double *y, size_t n)
{
	double a, b, sum = 0, sabs = 0;
	size_t t, k = 0, len = 0;

	/* A line through the first ten observations, at their places in time. */
	for (t = 0; t < n && k < 10; t++)
		if (!isnan(y[t])) {
			sum += y[t];
			sabs += fabs(y[t]);
			len = t + 1;
			k++;
		}
	fit_line(&a, &b, y, len);
	*ybar = k ? sabs / (double)k : 0.0;
	if (c->trend) {
		c->l = a - b; /* the level one step before y[0] */
		c->b = b;
	} else {
		c->l = k ? sum / (double)k : 0.0;
	}
}

/* Classical decomposition of the first seasons (see internal.h). */
static enum fs_rc initialise_seasonal(struct fc_core *c, double *ybar, const double *y, size_t n,
                                      struct fs_err *err)
{
	size_t m = c->m, cycles = n / m, len, h, t, j;
	double *x = NULL, *sum = NULL, *cnt, a, b, mean, total = 0;
	bool mul = c->seas == FC_SEAS_MUL;
	enum fs_rc rc = FS_OK;

	if (cycles > 20)
		cycles = 20;
	len = cycles * m;
	x = malloc(len * sizeof(*x));
	sum = calloc(2 * m, sizeof(*sum));
	if (!x || !sum) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory initialising a season of %zu", m);
		goto out;
	}
	cnt = sum + m;
	fc_fill_gaps(x, len, y, n);
	for (t = 0; t < len; t++)
		total += fabs(x[t]);
	*ybar = total / (double)len;

	/* Centred moving average over one season (2 x m when m is even). */
	h = m / 2;
	{
		double run = 0;

		for (t = 0; t < m; t++)
			run += x[t];
		/* run = x[t-h .. t-h+m-1] for the current t */
		for (t = h; t + h < len; t++) {
			double trend;

			if (m % 2 == 0) {
				trend = (run - 0.5 * x[t - h] + 0.5 * x[t + h]) / (double)m;
			} else {
				trend = run / (double)m;
			}
			if (mul) {
				if (trend > FC_TINY) {
					sum[t % m] += x[t] / trend;
					cnt[t % m] += 1;
				}
			} else {
				sum[t % m] += x[t] - trend;
				cnt[t % m] += 1;
			}
			if (t - h + m < len)
				run += x[t - h + m] - x[t - h];
		}
	}
	mean = 0;
	for (j = 0; j < m; j++) {
		c->s[j] = cnt[j] > 0 ? sum[j] / cnt[j] : (mul ? 1.0 : 0.0);
		mean += c->s[j];
	}
	mean /= (double)m;
	for (j = 0; j < m; j++) {
		if (mul)
			c->s[j] = mean > FC_TINY ? fmax(c->s[j] / mean, FC_FACTOR_MIN) : 1.0;
		else
			c->s[j] -= mean;
	}

	/* Level and trend: a line through the deseasonalised values. */
	for (t = 0; t < len; t++)
		x[t] = mul ? x[t] / c->s[t % m] : x[t] - c->s[t % m];
	fit_line(&a, &b, x, len);
	if (c->model == FC_SEASONAL_NAIVE) {
		/* The season "before" y[0]: the line one season back plus the pattern. */
		for (j = 0; j < m; j++)
			c->s[j] += a + b * ((double)j - (double)m);
	} else {
		c->l = a - b;
		c->b = b;
	}
out:
	free(x);
	free(sum);
	return rc;
}

enum fs_rc fc_core_initialise(struct fc_core *c, double *ybar, const double *y, size_t n,
                              struct fs_err *err)
{
	c->slot = 0;
	c->l = c->b = 0;
	c->w0 = c->w1 = c->w2 = c->wy = c->wxy = 0;
	if (c->m)
		return initialise_seasonal(c, ybar, y, n, err);
	initialise_plain(c, ybar, y, n);
	return FS_OK;
}

static double linear_forecast(const struct fc_core *c, double h)
{
	double det, slope;

	if (c->w0 <= 0)
		return NAN;
	det = c->w0 * c->w2 - c->w1 * c->w1;
	if (!(det > 1e-12 * c->w0 * c->w2))
		return c->wy / c->w0;
	slope = (c->w0 * c->wxy - c->w1 * c->wy) / det;
	return (c->wy - slope * c->w1) / c->w0 + slope * h;
}

/* The seasonal slot h >= 1 steps ahead, without a division for h <= m. */
static size_t slot_ahead(const struct fc_core *c, size_t h)
{
	size_t i = c->slot + h - 1;

	if (i < c->m)
		return i;
	return i - c->m < c->m ? i - c->m : i % c->m;
}

double fc_core_forecast(const struct fc_core *c, size_t h, double phisum)
{
	double base;

	switch (c->model) {
	case FC_SEASONAL_NAIVE:
		return c->s[slot_ahead(c, h)];
	case FC_LINEAR:
		return linear_forecast(c, (double)h);
	default:
		break;
	}
	base = c->trend ? c->l + phisum * c->b : c->l;
	switch (c->seas) {
	case FC_SEAS_ADD:
		return base + c->s[slot_ahead(c, h)];
	case FC_SEAS_MUL:
		return base * c->s[slot_ahead(c, h)];
	case FC_SEAS_NONE:
		break;
	}
	return base;
}

static void linear_step(struct fc_core *c, double y)
{
	double lambda = 1.0 - c->p.alpha;

	/* Every point ages by one step (x -> x-1), then weighs lambda times less. */
	c->w2 = lambda * (c->w2 - 2 * c->w1 + c->w0);
	c->w1 = lambda * (c->w1 - c->w0);
	c->wxy = lambda * (c->wxy - c->wy);
	c->w0 *= lambda;
	c->wy *= lambda;
	if (!isnan(y)) {
		c->w0 += 1;
		c->wy += y;
	}
}

void fc_core_step(struct fc_core *c, double y)
{
	double a = c->p.alpha, beta = c->p.beta, g = c->p.gamma;
	double phi = c->damped ? c->p.phi : 1.0;
	double b = c->trend ? c->b : 0.0, l = c->l, T, s, ln;

	if (c->model == FC_SEASONAL_NAIVE) {
		if (!isnan(y))
			c->s[c->slot] = y;
		c->slot = c->slot + 1 == c->m ? 0 : c->slot + 1;
		return;
	}
	if (c->model == FC_LINEAR) {
		linear_step(c, y);
		return;
	}
	T = l + phi * b;
	if (isnan(y)) {
		/* The forecast stands in for the missing value: nothing to correct. */
		c->l = T;
		c->b = phi * b;
	} else if (c->seas == FC_SEAS_MUL) {
		/* A load is not negative; a ratio to a level+trend that fell to zero
		 * or below says nothing about the season, which then stays as it
		 * was (statsmodels divides anyway and can turn factors negative). */
		double yp = y > 0 ? y : 0.0;

		s = c->s[c->slot];
		ln = a * yp / s + (1 - a) * T;
		if (T > FC_TINY) {
			double sn = g * yp / T + (1 - g) * s;

			c->s[c->slot] = sn > FC_FACTOR_MIN ? sn : FC_FACTOR_MIN;
		}
		c->b = beta * (ln - l) + (1 - beta) * phi * b;
		c->l = ln;
	} else {
		s = c->seas == FC_SEAS_ADD ? c->s[c->slot] : 0.0;
		ln = a * (y - s) + (1 - a) * T;
		if (c->seas == FC_SEAS_ADD)
			c->s[c->slot] = g * (y - T) + (1 - g) * s;
		c->b = beta * (ln - l) + (1 - beta) * phi * b;
		c->l = ln;
	}
	if (!c->trend)
		c->b = 0;
	if (c->m)
		c->slot = c->slot + 1 == c->m ? 0 : c->slot + 1;
}

bool fc_core_finite(const struct fc_core *c)
{
	size_t last = c->slot ? c->slot - 1 : (c->m ? c->m - 1 : 0);

	if (c->m && !isfinite(c->s[last]))
		return false;
	if (c->model == FC_LINEAR)
		return isfinite(c->w0 + c->w1 + c->w2 + c->wy + c->wxy);
	return isfinite(c->l) && isfinite(c->b);
}

double fc_core_sse(size_t *count, const struct fc_core *c, const double *y, size_t n,
                   double *s_scratch)
{
	struct fc_core run = *c;
	double sse = 0, f, e, phisum = c->damped ? c->p.phi : 1.0;
	size_t t, k = 0;

	if (c->m) {
		memcpy(s_scratch, c->s, c->m * sizeof(*s_scratch));
		run.s = s_scratch;
	}
	for (t = 0; t < n; t++) {
		if (!isnan(y[t])) {
			f = fc_core_forecast(&run, 1, phisum);
			if (!isnan(f)) {
				e = y[t] - f;
				sse += e * e;
				k++;
			}
		}
		fc_core_step(&run, y[t]);
	}
	*count = k;
	return sse;
}

/* The multiplicative recursion of fc_core_step, for its squared error. */
static double multiplicative_value(size_t *count, const struct fc_core *c, const double *y,
                                   size_t n, double *s)
{
	const double a = c->p.alpha, be = c->p.beta, g = c->p.gamma;
	const double phi = c->damped ? c->p.phi : 1.0;
	const size_t m = c->m;
	double l = c->l, b = c->trend ? c->b : 0.0, sse = 0;
	size_t t, j = c->slot, cnt = 0;

	memcpy(s, c->s, m * sizeof(*s));
	for (t = 0; t < n; t++) {
		double yt = y[t], sj = s[j], T = l + phi * b, ln, e, yp;

		if (isnan(yt)) {
			l = T;
			b *= phi;
		} else {
			e = yt - T * sj;
			sse += e * e;
			cnt++;
			yp = yt > 0 ? yt : 0.0;
			ln = a * yp / sj + (1 - a) * T;
			if (T > FC_TINY) {
				double sn = g * yp / T + (1 - g) * sj;

				s[j] = sn > FC_FACTOR_MIN ? sn : FC_FACTOR_MIN;
			}
			b = c->trend ? be * (ln - l) + (1 - be) * phi * b : 0.0;
			l = ln;
		}
		if (++j == m)
			j = 0;
	}
	*count = cnt;
	return sse;
}

/*
 * multiplicative_value with the derivatives by the model's np parameters
 * carried along (forward-mode): for parameter i, ia[i], ib[i], ig[i] and
 * ip[i] are 1 when it is alpha, beta, gamma or phi. Each slot of `ring`
 * holds its seasonal factor and its np derivatives.
 */
static inline double multiplicative_kernel(double *G, size_t *count, const size_t np,
                                           const double *ia, const double *ib, const double *ig,
                                           const double *ip, const struct fc_core *c,
                                           const double *y, size_t n, double *ring)
{
	const double a = c->p.alpha, be = c->trend ? c->p.beta : 0.0, g = c->p.gamma;
	const double phi = c->damped ? c->p.phi : 1.0;
	const size_t m = c->m, w = np + 1;
	double l = c->l, b = c->trend ? c->b : 0.0, sse = 0;
	double dl[FC_OPT_MAX] = {0}, db[FC_OPT_MAX] = {0}, acc[FC_OPT_MAX] = {0};
	size_t t, j = c->slot, cnt = 0, i;

	for (t = 0; t < m; t++) {
		ring[w * t] = c->s[t];
		for (i = 0; i < np; i++)
			ring[w * t + 1 + i] = 0;
	}
	for (t = 0; t < n; t++) {
		double yt = y[t], *sj = ring + w * j, *ds = sj + 1, s = sj[0], T = l + phi * b;
		double dT[FC_OPT_MAX], e, yp, ys, yT, ln, sn;
		bool learn = T > FC_TINY;

		for (i = 0; i < np; i++)
			dT[i] = dl[i] + phi * db[i] + ip[i] * b;
		if (isnan(yt)) {
			for (i = 0; i < np; i++) {
				dl[i] = dT[i];
				db[i] = phi * db[i] + ip[i] * b;
			}
			l = T;
			b *= phi;
		} else {
			e = yt - T * s;
			sse += e * e;
			cnt++;
			yp = yt > 0 ? yt : 0.0;
			ys = yp / s;
			yT = learn ? yp / T : 0.0;
			ln = a * ys + (1 - a) * T;
			sn = learn ? g * yT + (1 - g) * s : s;
			for (i = 0; i < np; i++) {
				double dln, dsn;

				acc[i] -= e * (dT[i] * s + T * ds[i]);
				dln = -a * ys / s * ds[i] + (1 - a) * dT[i] + ia[i] * (ys - T);
				dsn = learn
				          ? -g * yT / T * dT[i] + (1 - g) * ds[i] + ig[i] * (yT - s)
				          : ds[i];
				db[i] = c->trend ? be * (dln - dl[i]) +
				                       (1 - be) * (phi * db[i] + ip[i] * b) +
				                       ib[i] * (ln - l - phi * b)
				                 : 0.0;
				dl[i] = dln;
				ds[i] = sn > FC_FACTOR_MIN ? dsn : 0.0;
			}
			b = c->trend ? be * (ln - l) + (1 - be) * phi * b : 0.0;
			l = ln;
			sj[0] = sn > FC_FACTOR_MIN ? sn : FC_FACTOR_MIN;
		}
		if (++j == m)
			j = 0;
	}
	for (i = 0; i < np; i++)
		G[i] = 2 * acc[i];
	*count = cnt;
	return sse;
}

#define MUL_KERNEL(np)                                                                          \
	static double multiplicative_kernel##np(                                                \
	    double *G, size_t *count, const double *ia, const double *ib, const double *ig,     \
	    const double *ip, const struct fc_core *c, const double *y, size_t n, double *ring) \
	{                                                                                       \
		return multiplicative_kernel(G, count, np, ia, ib, ig, ip, c, y, n, ring);      \
	}
MUL_KERNEL(2)
MUL_KERNEL(3)
MUL_KERNEL(4)

/* The derivatives of multiplicative_value by (alpha, beta, gamma, phi). */
static double multiplicative_grad(double grad[4], size_t *count, const struct fc_core *c,
                                  const double *y, size_t n, double *ring)
{
	double ia[FC_OPT_MAX] = {0}, ib[FC_OPT_MAX] = {0}, ig[FC_OPT_MAX] = {0};
	double ip[FC_OPT_MAX] = {0}, G[FC_OPT_MAX], sse;
	int which[FC_OPT_MAX];
	size_t np = 0, i;

	which[np] = 0, ia[np++] = 1;
	if (c->trend)
		which[np] = 1, ib[np++] = 1;
	which[np] = 2, ig[np++] = 1;
	if (c->damped && c->trend)
		which[np] = 3, ip[np++] = 1;
	if (np == 2)
		sse = multiplicative_kernel2(G, count, ia, ib, ig, ip, c, y, n, ring);
	else if (np == 3)
		sse = multiplicative_kernel3(G, count, ia, ib, ig, ip, c, y, n, ring);
	else
		sse = multiplicative_kernel4(G, count, ia, ib, ig, ip, c, y, n, ring);
	grad[0] = grad[1] = grad[2] = grad[3] = 0;
	for (i = 0; i < np; i++)
		grad[which[i]] = G[i];
	return sse;
}

/*
 * Additive models, and those without a season, in error-correction form,
 * tracking T = l + phi*b (the next forecast before its season):
 *	e = y - T - s,  T' = T + phi^2 b + k e  (k = alpha (1 + phi beta)),
 *	b' = phi b + alpha beta e,  s' = s + gamma e
 * is fc_core_step's recursion rearranged: half the chain of dependent
 * operations from one step to the next, which is what bounds a pass's
 * speed. Without a season one slot stays 0; without a trend b stays 0.
 */
static double additive_value(size_t *count, const struct fc_core *c, const double *y, size_t n,
                             double *s)
{
	const double phi = c->damped ? c->p.phi : 1.0, phi2 = phi * phi;
	const double ab = c->trend ? c->p.alpha * c->p.beta : 0.0;
	const double k = c->p.alpha + phi * ab, g = c->m ? c->p.gamma : 0.0;
	const size_t m = c->m ? c->m : 1;
	double b = c->trend ? c->b : 0.0, T = c->l + phi * b, sse = 0;
	size_t t, j = c->m ? c->slot : 0, cnt = 0;

	if (c->m)
		memcpy(s, c->s, m * sizeof(*s));
	else
		s[0] = 0;
	for (t = 0; t < n; t++) {
		double yt = y[t], sj = s[j], e;

		if (isnan(yt)) {
			T += phi2 * b;
			b *= phi;
		} else {
			e = yt - T - sj;
			sse += e * e;
			cnt++;
			T += phi2 * b + k * e;
			b = phi * b + ab * e;
			s[j] = sj + g * e;
		}
		if (++j == m)
			j = 0;
	}
	*count = cnt;
	return sse;
}

/*
 * additive_value with the derivatives by the model's np parameters carried
 * along: for parameter i, dk[i] and dab[i] are the derivatives of k and of
 * alpha*beta, pT[i] b and pB[i] b what phi adds directly to T and b, and
 * eg[i] e what gamma adds to the season. Each slot of `ring` holds its
 * seasonal value and its np derivatives. Inlined with a constant np, the
 * per-parameter loops unroll.
 */
static inline double additive_kernel(double *G, size_t *count, const size_t np, const double *dk,
                                     const double *dab, const double *pT, const double *pB,
                                     const double *eg, const struct fc_core *c, const double *y,
                                     size_t n, double *ring)
{
	const double phi = c->damped ? c->p.phi : 1.0, phi2 = phi * phi;
	const double ab = c->trend ? c->p.alpha * c->p.beta : 0.0;
	const double k = c->p.alpha + phi * ab, g = c->m ? c->p.gamma : 0.0;
	const size_t m = c->m ? c->m : 1, w = np + 1;
	double b = c->trend ? c->b : 0.0, T = c->l + phi * b, sse = 0;
	double dT[FC_OPT_MAX] = {0}, db[FC_OPT_MAX] = {0}, acc[FC_OPT_MAX] = {0};
	size_t t, j = c->m ? c->slot : 0, cnt = 0, i;

	for (t = 0; t < m; t++) {
		ring[w * t] = c->m ? c->s[t] : 0.0;
		for (i = 0; i < np; i++)
			ring[w * t + 1 + i] = 0;
	}
	for (t = 0; t < n; t++) {
		double yt = y[t], *sj = ring + w * j, *ds = sj + 1, e;

		if (isnan(yt)) {
			for (i = 0; i < np; i++) {
				dT[i] += phi2 * db[i] + pT[i] * b;
				db[i] = phi * db[i] + pB[i] * b;
			}
			T += phi2 * b;
			b *= phi;
		} else {
			e = yt - T - sj[0];
			sse += e * e;
			cnt++;
			for (i = 0; i < np; i++) {
				double de = -(dT[i] + ds[i]);

				acc[i] += e * de;
				dT[i] += phi2 * db[i] + k * de + e * dk[i] + pT[i] * b;
				db[i] = phi * db[i] + ab * de + e * dab[i] + pB[i] * b;
				ds[i] += g * de + e * eg[i];
			}
			T += phi2 * b + k * e;
			b = phi * b + ab * e;
			sj[0] += g * e;
		}
		if (++j == m)
			j = 0;
	}
	for (i = 0; i < np; i++)
		G[i] = 2 * acc[i];
	*count = cnt;
	return sse;
}

#define KERNEL(np)                                                                               \
	static double additive_kernel##np(double *G, size_t *count, const double *dk,            \
	                                  const double *dab, const double *pT, const double *pB, \
	                                  const double *eg, const struct fc_core *c,             \
	                                  const double *y, size_t n, double *ring)               \
	{                                                                                        \
		return additive_kernel(G, count, np, dk, dab, pT, pB, eg, c, y, n, ring);        \
	}
KERNEL(1)
KERNEL(2)
KERNEL(3)
KERNEL(4)

/* The derivatives of additive_value by (alpha, beta, gamma, phi); those a
 * model lacks are 0. */
static double additive_grad(double grad[4], size_t *count, const struct fc_core *c, const double *y,
                            size_t n, double *ring)
{
	const bool trend = c->trend, damped = c->damped && trend;
	const double a = c->p.alpha, be = trend ? c->p.beta : 0.0;
	const double phi = damped ? c->p.phi : 1.0, ab = a * be;
	double dk[FC_OPT_MAX], dab[FC_OPT_MAX], pT[FC_OPT_MAX], pB[FC_OPT_MAX], eg[FC_OPT_MAX];
	double G[FC_OPT_MAX], sse = 0;
	int which[FC_OPT_MAX];
	size_t np = 0, i;

	/* k = alpha (1 + phi beta), ab = alpha beta; phi adds 2 phi b to T', b to b'. */
	which[np] = 0, dk[np] = 1 + phi * be, dab[np] = be, pT[np] = pB[np] = eg[np] = 0, np++;
	if (trend)
		which[np] = 1, dk[np] = phi * a, dab[np] = a, pT[np] = pB[np] = eg[np] = 0, np++;
	if (c->m)
		which[np] = 2, dk[np] = dab[np] = pT[np] = pB[np] = 0, eg[np] = 1, np++;
	if (damped)
		which[np] = 3, dk[np] = ab, dab[np] = 0, pT[np] = 2 * phi, pB[np] = 1, eg[np] = 0,
		np++;
	switch (np) {
	case 1:
		sse = additive_kernel1(G, count, dk, dab, pT, pB, eg, c, y, n, ring);
		break;
	case 2:
		sse = additive_kernel2(G, count, dk, dab, pT, pB, eg, c, y, n, ring);
		break;
	case 3:
		sse = additive_kernel3(G, count, dk, dab, pT, pB, eg, c, y, n, ring);
		break;
	default:
		sse = additive_kernel4(G, count, dk, dab, pT, pB, eg, c, y, n, ring);
		break;
	}
	grad[0] = grad[1] = grad[2] = grad[3] = 0;
	for (i = 0; i < np; i++)
		grad[which[i]] = G[i];
	return sse;
}

double fc_es_sse(double grad[4], size_t *count, const struct fc_core *c, const double *y, size_t n,
                 double *ring)
{
	if (c->seas == FC_SEAS_MUL)
		return grad ? multiplicative_grad(grad, count, c, y, n, ring)
		            : multiplicative_value(count, c, y, n, ring);
	if (grad)
		return additive_grad(grad, count, c, y, n, ring);
	return additive_value(count, c, y, n, ring);
}

void fc_es_sse4(double sse[4], const struct fc_core *c, const struct fc_params *p, const double *y,
                size_t n, double *ring)
{
	double T[4], b[4], k[4], ab[4], g[4], phi[4], phi2[4], acc[4] = {0, 0, 0, 0};
	const size_t m = c->m ? c->m : 1;
	size_t t, j = c->m ? c->slot : 0, r, i, cnt = 0;

	if (c->seas == FC_SEAS_MUL) {
		for (r = 0; r < 4; r++) {
			struct fc_core one = *c;

			one.p = p[r];
			sse[r] = multiplicative_value(&cnt, &one, y, n, ring);
		}
		return;
	}
	for (r = 0; r < 4; r++) {
		phi[r] = c->damped ? p[r].phi : 1.0;
		phi2[r] = phi[r] * phi[r];
		ab[r] = c->trend ? p[r].alpha * p[r].beta : 0.0;
		k[r] = p[r].alpha + phi[r] * ab[r];
		g[r] = c->m ? p[r].gamma : 0.0;
		b[r] = c->trend ? c->b : 0.0;
		T[r] = c->l + phi[r] * b[r];
	}
	for (i = 0; i < m; i++)
		for (r = 0; r < 4; r++)
			ring[4 * i + r] = c->m ? c->s[i] : 0.0;
	for (t = 0; t < n; t++) {
		double yt = y[t], *sj = ring + 4 * j;

		if (isnan(yt)) {
			for (r = 0; r < 4; r++) {
				T[r] += phi2[r] * b[r];
				b[r] *= phi[r];
			}
		} else {
			for (r = 0; r < 4; r++) {
				double e = yt - T[r] - sj[r];

				acc[r] += e * e;
				T[r] += phi2[r] * b[r] + k[r] * e;
				b[r] = phi[r] * b[r] + ab[r] * e;
				sj[r] += g[r] * e;
			}
		}
		if (++j == m)
			j = 0;
	}
	memcpy(sse, acc, sizeof(acc));
}

double fc_es_refine_start(struct fc_core *c, const double *y, size_t n, double *ring)
{
	const double a = c->p.alpha, be = c->p.beta, g = c->p.gamma;
	const double phi = c->damped ? c->p.phi : 1.0;
	const bool trend = c->trend, mul = c->seas == FC_SEAS_MUL,
	           seasonal = c->seas != FC_SEAS_NONE;
	const size_t m = seasonal ? c->m : 1;
	double l = c->l, b = trend ? c->b : 0.0, sse = 0;
	double dl[2] = {1, 0}, db[2] = {0, trend ? 1 : 0}, jj[3] = {0, 0, 0}, je[2] = {0, 0}, det;
	size_t t, j = seasonal ? c->slot : 0, i;

	for (i = 0; i < m; i++) {
		ring[3 * i] = seasonal ? c->s[i] : (mul ? 1.0 : 0.0);
		ring[3 * i + 1] = ring[3 * i + 2] = 0;
	}
	for (t = 0; t < n; t++) {
		double *sj = ring + 3 * j, s = sj[0], *ds = sj + 1, yv = y[t];
		double T = l + phi * b, dT[2], de[2], dln[2], dsn[2], ln, sn, e;

		for (i = 0; i < 2; i++)
			dT[i] = dl[i] + phi * db[i];
		if (isnan(yv)) {
			for (i = 0; i < 2; i++) {
				dl[i] = dT[i];
				db[i] *= phi;
			}
			l = T;
			b *= phi;
		} else {
			if (mul) {
				double yp = yv > 0 ? yv : 0.0;
				bool learn = T > FC_TINY;

				e = yv - T * s;
				ln = a * yp / s + (1 - a) * T;
				sn = learn ? fmax(g * yp / T + (1 - g) * s, FC_FACTOR_MIN) : s;
				for (i = 0; i < 2; i++) {
					de[i] = -(dT[i] * s + T * ds[i]);
					dln[i] = -a * yp / (s * s) * ds[i] + (1 - a) * dT[i];
					dsn[i] = learn ? -g * yp / (T * T) * dT[i] + (1 - g) * ds[i]
					               : ds[i];
				}
			} else {
				e = yv - T - s;
				ln = a * (yv - s) + (1 - a) * T;
				sn = g * (yv - T) + (1 - g) * s;
				for (i = 0; i < 2; i++) {
					de[i] = -(dT[i] + ds[i]);
					dln[i] = -a * ds[i] + (1 - a) * dT[i];
					dsn[i] = -g * dT[i] + (1 - g) * ds[i];
				}
			}
			sse += e * e;
			/* Gauss-Newton: e(start + d) ~ e + de . d */
			jj[0] += de[0] * de[0];
			jj[1] += de[0] * de[1];
			jj[2] += de[1] * de[1];
			je[0] += de[0] * e;
			je[1] += de[1] * e;
			for (i = 0; i < 2; i++) {
				db[i] =
				    trend ? be * (dln[i] - dl[i]) + (1 - be) * phi * db[i] : 0.0;
				dl[i] = dln[i];
				if (seasonal)
					ds[i] = dsn[i];
			}
			b = trend ? be * (ln - l) + (1 - be) * phi * b : 0.0;
			l = ln;
			if (seasonal)
				sj[0] = sn;
		}
		if (++j == m)
			j = 0;
	}
	/* Solve (J'J) d = -J'e for the level (and trend) before y[0]. */
	if (!trend) {
		if (jj[0] > 0)
			c->l -= je[0] / jj[0];
		return sse;
	}
	det = jj[0] * jj[2] - jj[1] * jj[1];
	if (det > 1e-12 * jj[0] * jj[2]) {
		c->l -= (jj[2] * je[0] - jj[1] * je[1]) / det;
		c->b -= (jj[0] * je[1] - jj[1] * je[0]) / det;
	}
	return sse;
}
