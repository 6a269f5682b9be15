/* A projected quasi-Newton minimiser for a few parameters in the unit box. */

#include <math.h>
#include <string.h>

#include "forecast/internal.h"

static void clip(double *out, const double *u, const double *d, double t, size_t k)
{
	size_t i;

	for (i = 0; i < k; i++)
		out[i] = fmin(1.0, fmax(0.0, u[i] + t * d[i]));
}

static void identity(double *H, size_t k, double scale)
{
	size_t i;

	memset(H, 0, FC_OPT_MAX * FC_OPT_MAX * sizeof(*H));
	for (i = 0; i < k; i++)
		H[i * FC_OPT_MAX + i] = scale;
}

/* The BFGS update of the inverse Hessian H with step s and gradient change y. */
static void bfgs(double *H, const double *s, const double *y, double sy, size_t k)
{
	double Hy[FC_OPT_MAX], yHy = 0, rho = 1.0 / sy;
	size_t i, j;

	for (i = 0; i < k; i++) {
		Hy[i] = 0;
		for (j = 0; j < k; j++)
			Hy[i] += H[i * FC_OPT_MAX + j] * y[j];
		yHy += y[i] * Hy[i];
	}
	for (i = 0; i < k; i++)
		for (j = 0; j < k; j++)
			H[i * FC_OPT_MAX + j] +=
			    rho * ((1 + rho * yHy) * s[i] * s[j] - Hy[i] * s[j] - s[i] * Hy[j]);
}

double fc_minimize(double *u, size_t k, fc_objective fn, void *ctx, unsigned max_iter, double *curv)
{
	double H[FC_OPT_MAX * FC_OPT_MAX], g[FC_OPT_MAX], gn[FC_OPT_MAX], un[FC_OPT_MAX];
	double d[FC_OPT_MAX], s[FC_OPT_MAX], y[FC_OPT_MAX], f, fnew = 0, scale = 1;
	bool freev[FC_OPT_MAX], was[FC_OPT_MAX], fresh = true;
	unsigned it, ls, calm = 0;
	size_t i, j;

	f = fn(g, u, ctx);
	for (i = 0; i < k; i++)
		was[i] = true;
	identity(H, k, 1.0);
	if (curv && curv[0] > 0) {
		/* A warm start: the curvature model of an earlier run nearby. */
		memcpy(H, curv, sizeof(H));
		scale = curv[0];
		fresh = false;
	}
	for (it = 0; it < max_iter; it++) {
		double pg = 0, gd = 0, dmax = 0, t = 1.0, sy = 0, yy = 0, ss = 0;
		bool changed = false;

		/* Variables at a bound with the gradient pushing outwards stay put;
		 * the curvature model covers the others only. */
		for (i = 0; i < k; i++) {
			freev[i] = !((u[i] <= 0 && g[i] > 0) || (u[i] >= 1 && g[i] < 0));
			if (freev[i])
				pg = fmax(pg, fabs(g[i]));
			changed |= freev[i] != was[i];
			was[i] = freev[i];
		}
		if (pg <= 1e-8 * fabs(f) || pg == 0)
			break;
		if (changed && !fresh)
			identity(H, k, scale);
		for (i = 0; i < k; i++) {
			d[i] = 0;
			if (!freev[i])
				continue;
			for (j = 0; j < k; j++)
				if (freev[j])
					d[i] -= H[i * FC_OPT_MAX + j] * g[j];
			gd += g[i] * d[i];
		}
		if (!(gd < 0)) {
			/* Not a descent direction: start the curvature model over. */
			identity(H, k, scale);
			for (i = 0; i < k; i++)
				d[i] = freev[i] ? -scale * g[i] : 0;
		}
		if (fresh) {
			/* Without curvature yet, a first step of at most 0.1 in the box. */
			for (i = 0; i < k; i++)
				dmax = fmax(dmax, fabs(d[i]));
			if (dmax > 0.1)
				for (i = 0; i < k; i++)
					d[i] *= 0.1 / dmax;
		}
		for (ls = 0; ls < 30; ls++) {
			double decrease = 0, move = 0;

			clip(un, u, d, t, k);
			for (i = 0; i < k; i++) {
				decrease += g[i] * (un[i] - u[i]);
				move = fmax(move, fabs(un[i] - u[i]));
			}
			/* Steps below the rounding of f: there is nothing left to gain. */
			if (move < 1e-8) {
				ls = 30;
				break;
			}
			fnew = fn(gn, un, ctx);
			if (fnew <= f + 1e-4 * decrease)
				break;
			t *= 0.3;
		}
		if (ls == 30)
			break;
		for (i = 0; i < k; i++) {
			s[i] = un[i] - u[i];
			y[i] = freev[i] ? gn[i] - g[i] : 0;
			sy += s[i] * y[i];
			yy += y[i] * y[i];
			ss += s[i] * s[i];
		}
		if (sy > 1e-10 * sqrt(ss * yy)) {
			if (fresh)
				identity(H, k, sy / yy);
			scale = sy / yy;
			bfgs(H, s, y, sy, k);
			fresh = false;
		}
		calm = f - fnew <= 1e-9 * fabs(f) ? calm + 1 : 0;
		memcpy(u, un, k * sizeof(*u));
		memcpy(g, gn, k * sizeof(*g));
		f = fnew;
		if (calm >= 2)
			break;
	}
	if (curv && !fresh)
		memcpy(curv, H, sizeof(H));
	return f;
}
