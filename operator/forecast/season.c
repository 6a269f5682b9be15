/* Season detection: autocorrelation peaks, scored out of sample. */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "forecast/internal.h"

#define MIN_STRENGTH 0.2  /* below: no season */
#define NEAR_BEST    0.05 /* a shorter period this close to the best wins */
#define NEAR_TIE     0.03 /* a 2-3-5-7 period this close to its neighbourhood's best wins */
#define TOP_PEAKS    10
#define DIVISORS     6

/* In-place radix-2 FFT of re + i*im, N a power of two. */
static void fft(double *re, double *im, size_t N)
{
	size_t i, j, len, k;

	for (i = 1, j = 0; i < N; i++) {
		size_t bit = N >> 1;

		for (; j & bit; bit >>= 1)
			j ^= bit;
		j ^= bit;
		if (i < j) {
			double tr = re[i], ti = im[i];

			re[i] = re[j];
			im[i] = im[j];
			re[j] = tr;
			im[j] = ti;
		}
	}
	for (len = 2; len <= N; len <<= 1) {
		double ang = -2 * M_PI / (double)len, wr = cos(ang), wi = sin(ang);

		for (i = 0; i < N; i += len) {
			double cr = 1, ci = 0;

			for (k = 0; k < len / 2; k++) {
				size_t a = i + k, b = i + k + len / 2;
				double xr = re[b] * cr - im[b] * ci, xi = re[b] * ci + im[b] * cr,
				       nr;

				re[b] = re[a] - xr;
				im[b] = im[a] - xi;
				re[a] += xr;
				im[a] += xi;
				nr = cr * wr - ci * wi;
				ci = cr * wi + ci * wr;
				cr = nr;
			}
		}
	}
}

/* r[k], k < n: the autocorrelation of x after removing its least-squares line,
 * each lag averaged over its n-k pairs. re and im are scratch of N >= 2n. */
static void autocorrelation(double *r, const double *x, size_t n, double *re, double *im, size_t N)
{
	double st = 0, sx = 0, stt = 0, stx = 0, a, b, den, c0;
	size_t t;

	for (t = 0; t < n; t++) {
		st += (double)t;
		sx += x[t];
		stt += (double)t * (double)t;
		stx += (double)t * x[t];
	}
	den = (double)n * stt - st * st;
	b = den > 0 ? ((double)n * stx - st * sx) / den : 0;
	a = (sx - b * st) / (double)n;
	for (t = 0; t < N; t++) {
		re[t] = t < n ? x[t] - a - b * (double)t : 0;
		im[t] = 0;
	}
	fft(re, im, N);
	for (t = 0; t < N; t++) {
		re[t] = re[t] * re[t] + im[t] * im[t];
		im[t] = 0;
	}
	/* The power spectrum is real and even: its forward transform is N times the inverse. */
	fft(re, im, N);
	c0 = re[0] / (double)n;
	for (t = 0; t < n; t++)
		r[t] = c0 > 0 ? re[t] / (double)(n - t) / c0 : 0;
}

struct detector {
	const double *x;  /* the series, gaps filled */
	const double *cs; /* cs[i] = x[0] + ... + x[i-1] */
	size_t n, pmax;
	double *score; /* score[p], NaN until computed */
	double *sum;   /* 4 * (pmax + 1) scratch: sums and counts per half and slot */
};

/*
 * How well the mean pattern of the even cycles predicts the odd ones and
 * back, as a share of the variance left after a centred moving average of
 * one period: about the share of variance a season of p explains out of
 * sample. Noise, trends and random walks score near or below zero.
 */
static double strength(struct detector *d, size_t p)
{
	const double *x = d->x, *cs = d->cs;
	size_t n = d->n, h = p / 2, t, i, slot, half;
	double *sum = d->sum, *cnt = d->sum + 2 * p, num = 0, den = 0;

	if (!isnan(d->score[p]))
		return d->score[p];
	for (i = 0; i < 2 * p; i++)
		sum[i] = cnt[i] = 0;
	/* Pass 0 sums each slot's deviations from the trend, per half (even and
	 * odd cycles); pass 1 predicts each deviation by the other half's mean. */
	for (int pass = 0; pass < 2; pass++) {
		for (t = h, slot = h, half = 0; t + h < n; t++) {
			double trend, dev;

			if (p % 2 == 0)
				trend = (cs[t + h] - cs[t - h + 1] + 0.5 * (x[t - h] + x[t + h])) /
				        (double)p;
			else
				trend = (cs[t + h + 1] - cs[t - h]) / (double)p;
			dev = x[t] - trend;
			if (pass == 0) {
				sum[half * p + slot] += dev;
				cnt[half * p + slot] += 1;
			} else {
				size_t other = (1 - half) * p + slot;
				double pred = cnt[other] > 0 ? sum[other] / cnt[other] : 0;

				num += (dev - pred) * (dev - pred);
				den += dev * dev;
			}
			if (++slot == p) {
				slot = 0;
				half ^= 1;
			}
		}
	}
	d->score[p] = den > 0 ? 1 - num / den : 0;
	return d->score[p];
}

/* Made of the factors 2, 3, 5 and 7 only. */
static bool smooth_number(size_t q)
{
	static const size_t f[] = {2, 3, 5, 7};

	for (size_t i = 0; i < 4; i++)
		while (q % f[i] == 0)
			q /= f[i];
	return q == 1;
}

/* Autocorrelation at multiples of p minus at the half-way lags: large for a
 * period, small for its multiples (whose half-way lags are periods too). */
static double half_score(const double *r, size_t n, size_t p)
{
	double s = 0;
	size_t k, used = 0;

	for (k = 1; k <= 3 && (k == 1 || k * p <= n / 2); k++) {
		s += r[k * p] - r[(2 * k - 1) * p / 2];
		used++;
	}
	return s / (double)used;
}

/* Inserts lag k into the top list (best first by key) when it belongs there. */
static void top_insert(size_t *top, double *key, size_t *len, size_t k, double v)
{
	size_t i;

	if (*len == TOP_PEAKS && v <= key[TOP_PEAKS - 1])
		return;
	i = *len < TOP_PEAKS ? (*len)++ : TOP_PEAKS - 1;
	for (; i > 0 && key[i - 1] < v; i--) {
		top[i] = top[i - 1];
		key[i] = key[i - 1];
	}
	top[i] = k;
	key[i] = v;
}

static size_t choose(struct detector *d, const double *r, double *best_out)
{
	size_t top_a[TOP_PEAKS], top_h[TOP_PEAKS], na = 0, nh = 0, k, j, q, p0 = 0, pb, w, lo, hi,
	                                           dist;
	double key_a[TOP_PEAKS], key_h[TOP_PEAKS], best = -INFINITY;

	for (k = 2; k <= d->pmax; k++)
		if (r[k] > 0 && r[k] >= r[k - 1] && r[k] >= r[k + 1]) {
			top_insert(top_a, key_a, &na, k, r[k]);
			top_insert(top_h, key_h, &nh, k, half_score(r, d->n, k));
		}
	/* Each peak and its divisors (the true period may peak lower than its multiples). */
	for (int list = 0; list < 2; list++) {
		size_t *top = list ? top_h : top_a, len = list ? nh : na;

		for (k = 0; k < len; k++)
			for (j = 1; j <= DIVISORS; j++) {
				size_t c = (top[k] + j / 2) / j;

				for (q = c > 2 ? c - 1 : 2; q <= c + 1 && q <= d->pmax; q++)
					best = fmax(best, strength(d, q));
			}
	}
	*best_out = best > -INFINITY ? best : 0;
	if (!(best >= MIN_STRENGTH))
		return 0;
	for (q = 2; q <= d->pmax; q++)
		if (!isnan(d->score[q]) && d->score[q] >= best - NEAR_BEST) {
			p0 = q;
			break;
		}
	/* Peaks are broad: settle on the best period near p0, then on a round one. */
	w = p0 / 50 > 1 ? p0 / 50 : 1;
	lo = p0 > w + 2 ? p0 - w : 2;
	hi = p0 + w < d->pmax ? p0 + w : d->pmax;
	pb = p0;
	for (q = lo; q <= hi; q++)
		if (strength(d, q) > d->score[pb])
			pb = q;
	p0 = pb;
	dist = SIZE_MAX;
	for (q = lo; q <= hi; q++) {
		size_t dq = q > p0 ? q - p0 : p0 - q;

		if (smooth_number(q) && d->score[q] >= d->score[p0] - NEAR_TIE && dq < dist) {
			pb = q;
			dist = dq;
		}
	}
	*best_out = d->score[pb];
	return pb;
}

enum fs_rc fc_detect_season(size_t *season, double *strength_out, const double *y, size_t n,
                            size_t max_season, struct fs_err *err)
{
	struct detector d = {0};
	double *x = NULL, *cs = NULL, *r = NULL, *re = NULL, *im = NULL, best = 0;
	size_t N = 1, t, p = 0;
	enum fs_rc rc = FS_OK;

	d.pmax = n / 3;
	if (max_season && max_season < d.pmax)
		d.pmax = max_season;
	if (d.pmax < 2)
		goto done;
	while (N < 2 * n)
		N <<= 1;
	x = malloc(n * sizeof(*x));
	cs = malloc((n + 1) * sizeof(*cs));
	r = malloc(n * sizeof(*r));
	re = malloc(2 * N * sizeof(*re));
	d.score = malloc((d.pmax + 2) * sizeof(*d.score));
	d.sum = malloc(4 * (d.pmax + 1) * sizeof(*d.sum));
	if (!x || !cs || !r || !re || !d.score || !d.sum) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory detecting the season of %zu points", n);
		goto out;
	}
	im = re + N;
	fc_fill_gaps(x, n, y, n);
	cs[0] = 0;
	for (t = 0; t < n; t++)
		cs[t + 1] = cs[t] + x[t];
	for (t = 0; t < d.pmax + 2; t++)
		d.score[t] = NAN;
	d.x = x;
	d.cs = cs;
	d.n = n;
	autocorrelation(r, x, n, re, im, N);
	p = choose(&d, r, &best);
done:
	*season = p;
	if (strength_out)
		*strength_out = fmax(0.0, best);
out:
	free(x);
	free(cs);
	free(r);
	free(re);
	free(d.score);
	free(d.sum);
	return rc;
}
