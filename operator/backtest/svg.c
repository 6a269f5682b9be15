/* The backtest's plot: load, forecast band and each policy's capacity, as one SVG. */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backtest/backtest.h"
#include "base/buf.h"
#include "base/str.h"

#define WIDTH   1200
#define HEIGHT  520
#define LEFT    80
#define RIGHT   180
#define TOP     40
#define BOTTOM  50
#define PLOT_W  (WIDTH - LEFT - RIGHT)
#define PLOT_H  (HEIGHT - TOP - BOTTOM)
#define COLUMNS PLOT_W /* one column per horizontal pixel at most */

static const char *const policy_color[BT_POLICY_COUNT] = {"#999999", "#d62728", "#2ca02c",
                                                          "#1f77b4"};

struct frame {
	size_t m;     /* scored buckets */
	size_t cols;  /* columns drawn */
	double top;   /* the y axis' top, load units */
	double x_per; /* pixels per column */
	size_t per;   /* buckets per column */
};

static double px_x(const struct frame *f, size_t col)
{
	return LEFT + ((double)col + 0.5) * f->x_per;
}

static double px_y(const struct frame *f, double v)
{
	return TOP + PLOT_H - (v / f->top) * PLOT_H;
}

/* The column's maximum of v[k*stride] (NaN when every bucket is missing). */
static double column_max(const struct frame *f, size_t col, const double *v, size_t stride)
{
	double best = NAN;

	for (size_t k = col * f->per; k < (col + 1) * f->per && k < f->m; k++)
		if (isfinite(v[k * stride]) && !(v[k * stride] <= best))
			best = v[k * stride];
	return best;
}

static double column_min(const struct frame *f, size_t col, const double *v)
{
	double best = NAN;

	for (size_t k = col * f->per; k < (col + 1) * f->per && k < f->m; k++)
		if (isfinite(v[k]) && !(v[k] >= best))
			best = v[k];
	return best;
}

/* A polyline through the columns' values; a missing column breaks the line. */
static enum fs_rc polyline(struct buf *out, const struct frame *f, const double *col_v,
                           const char *attrs, struct fs_err *err)
{
	bool open = false;
	enum fs_rc rc = FS_OK;

	for (size_t c = 0; c < f->cols && rc == FS_OK; c++) {
		if (!isfinite(col_v[c])) {
			if (open)
				rc = buf_puts(out, "\"/>\n", err);
			open = false;
			continue;
		}
		if (!open)
			rc = buf_printf(out, err, "<polyline %s points=\"", attrs);
		if (rc == FS_OK)
			rc = buf_printf(out, err, "%.1f,%.1f ", px_x(f, c), px_y(f, col_v[c]));
		open = true;
	}
	if (rc == FS_OK && open)
		rc = buf_puts(out, "\"/>\n", err);
	return rc;
}

/* A round axis top: 1, 2 or 5 times a power of ten, at least `v`. */
static double nice_top(double v)
{
	double p, steps[] = {1, 2, 5, 10};

	if (!(v > 0))
		return 1;
	p = pow(10, floor(log10(v)));
	for (size_t i = 0; i < 4; i++)
		if (steps[i] * p >= v)
			return steps[i] * p;
	return 10 * p;
}

enum fs_rc bt_svg(struct buf *out, const struct bt_result *r, const double *y, double t0,
                  double step, double capacity, const char *title, struct fs_err *err)
{
	struct frame f;
	double *cv = NULL, *hi = NULL, *lo = NULL, *cap = NULL, peak = 0;
	const double *ys = y + r->warmup;
	char when[32];
	enum fs_rc rc;

	memset(&f, 0, sizeof(f));
	f.m = r->n - r->warmup;
	f.per = (f.m + COLUMNS - 1) / COLUMNS;
	f.cols = (f.m + f.per - 1) / f.per;
	f.x_per = (double)PLOT_W / (double)f.cols;
	cv = malloc(f.cols * sizeof(double));
	hi = malloc(f.cols * sizeof(double));
	lo = malloc(f.cols * sizeof(double));
	cap = malloc(f.m * sizeof(double));
	if (!cv || !hi || !lo || !cap) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory for the plot");
		goto out;
	}
	for (size_t k = 0; k < f.m; k++) {
		if (isfinite(ys[k]))
			peak = fmax(peak, ys[k]);
		if (isfinite(r->upper[k]))
			peak = fmax(peak, r->upper[k]);
		for (size_t p = 0; p < BT_POLICY_COUNT; p++)
			peak = fmax(peak, r->replicas[p][k] * capacity);
	}
	f.top = nice_top(peak * 1.05);
	rc = buf_printf(out, err,
	                "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
	                "viewBox=\"0 0 %d %d\" font-family=\"sans-serif\" font-size=\"12\">\n"
	                "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
	                "<text x=\"%d\" y=\"24\" font-size=\"15\">",
	                WIDTH, HEIGHT, WIDTH, HEIGHT, LEFT);
	if (rc != FS_OK)
		goto out;
	/* The title is the user's text: escape what XML would read as markup. */
	for (const char *c = title; *c && rc == FS_OK; c++)
		rc = *c == '<'   ? buf_puts(out, "&lt;", err)
		     : *c == '>' ? buf_puts(out, "&gt;", err)
		     : *c == '&' ? buf_puts(out, "&amp;", err)
		                 : buf_append(out, c, 1, err);
	if (rc == FS_OK)
		rc = buf_puts(out, "</text>\n", err);
	/* Grid and y labels: five bands. */
	for (int i = 0; i <= 5 && rc == FS_OK; i++) {
		double v = f.top * i / 5, yy = px_y(&f, v);

		rc = buf_printf(
		    out, err,
		    "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>"
		    "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
		    LEFT, LEFT + PLOT_W, yy, yy, LEFT - 6, yy + 4, v);
	}
	/* Date labels: six along the x axis. */
	for (int i = 0; i <= 5 && rc == FS_OK; i++) {
		size_t k = (f.m - 1) * (size_t)i / 5;
		double xx = LEFT + PLOT_W * (double)k / (double)(f.m > 1 ? f.m - 1 : 1);

		bt_format_time(when, sizeof(when), t0 + (double)(r->warmup + k) * step);
		when[16] = '\0'; /* minutes are enough on an axis */
		rc = buf_printf(out, err,
		                "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text>\n", xx,
		                TOP + PLOT_H + 20, when);
	}
	if (rc != FS_OK)
		goto out;
	/* The forecast band: upper edge forward, lower edge back. */
	for (size_t c = 0; c < f.cols; c++) {
		hi[c] = column_max(&f, c, r->upper, 1);
		lo[c] = column_min(&f, c, r->lower);
	}
	rc =
	    buf_puts(out, "<path fill=\"#2ca02c\" fill-opacity=\"0.18\" stroke=\"none\" d=\"", err);
	for (size_t c = 0, first = 1; c < f.cols && rc == FS_OK; c++) {
		if (!isfinite(hi[c]) || !isfinite(lo[c]))
			continue;
		rc = buf_printf(out, err, "%s%.1f,%.1f ", first ? "M" : "L", px_x(&f, c),
		                px_y(&f, hi[c]));
		first = 0;
	}
	for (size_t c = f.cols; c-- > 0 && rc == FS_OK;) {
		if (!isfinite(hi[c]) || !isfinite(lo[c]))
			continue;
		rc = buf_printf(out, err, "L%.1f,%.1f ", px_x(&f, c), px_y(&f, lo[c]));
	}
	if (rc == FS_OK)
		rc = buf_puts(out, "Z\"/>\n", err);
	/* Each policy's capacity, then the load on top. */
	for (size_t p = 0; p < BT_POLICY_COUNT && rc == FS_OK; p++) {
		char attrs[160];

		for (size_t k = 0; k < f.m; k++)
			cap[k] = r->replicas[p][k] * capacity;
		for (size_t c = 0; c < f.cols; c++)
			cv[c] = column_max(&f, c, cap, 1);
		str_fmt(attrs, sizeof(attrs), "fill=\"none\" stroke=\"%s\" stroke-width=\"1.2\"%s",
		        policy_color[p], p == BT_ORACLE ? " stroke-dasharray=\"3,3\"" : "");
		rc = polyline(out, &f, cv, attrs, err);
	}
	for (size_t c = 0; c < f.cols; c++)
		cv[c] = column_max(&f, c, ys, 1);
	if (rc == FS_OK)
		rc = polyline(out, &f, cv, "fill=\"none\" stroke=\"black\" stroke-width=\"1.4\"",
		              err);
	/* Axes and the legend. */
	if (rc == FS_OK)
		rc = buf_printf(out, err,
		                "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
		                "stroke=\"#333\"/>\n"
		                "<text x=\"16\" y=\"%d\" transform=\"rotate(-90 16 %d)\" "
		                "text-anchor=\"middle\">load per bucket</text>\n",
		                LEFT, TOP, PLOT_W, PLOT_H, TOP + PLOT_H / 2, TOP + PLOT_H / 2);
	{
		static const char *const extra[] = {"load", "forecast band"};
		static const char *const extra_color[] = {"black", "#2ca02c"};
		int ly = TOP + 10;

		for (size_t i = 0; i < 2 && rc == FS_OK; i++, ly += 22)
			rc = buf_printf(out, err,
			                "<rect x=\"%d\" y=\"%d\" width=\"18\" height=\"%d\" "
			                "fill=\"%s\"%s/><text x=\"%d\" y=\"%d\">%s</text>\n",
			                LEFT + PLOT_W + 14, ly, i ? 10 : 3, extra_color[i],
			                i ? " fill-opacity=\"0.3\"" : "", LEFT + PLOT_W + 38,
			                ly + 9, extra[i]);
		for (size_t p = 0; p < BT_POLICY_COUNT && rc == FS_OK; p++, ly += 22)
			rc = buf_printf(out, err,
			                "<rect x=\"%d\" y=\"%d\" width=\"18\" height=\"3\" "
			                "fill=\"%s\"/><text x=\"%d\" y=\"%d\">%s capacity</text>\n",
			                LEFT + PLOT_W + 14, ly, policy_color[p], LEFT + PLOT_W + 38,
			                ly + 9, bt_policy_name(p));
	}
	if (rc == FS_OK)
		rc = buf_puts(out, "</svg>\n", err);
out:
	free(cv);
	free(hi);
	free(lo);
	free(cap);
	return rc;
}
