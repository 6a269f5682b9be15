/*
 * bench-forecast: times the forecasting engine's fit on one series.
 *
 *	bench-forecast FILE SEASON [MODEL [REPS]]
 *
 * FILE holds one value per line (`nan` for a missing bucket, `#` starts a
 * comment line), as tests/fixtures/forecast/series/ does. SEASON is a
 * number of buckets, 0 or `auto`; MODEL a name fc_model_parse takes
 * (default HoltWinters); REPS the number of fits timed (default 20). Prints
 * one line of key=value pairs: the fastest and the median wall-clock fit, and
 * what the fit found. hack/bench-forecast runs it beside statsmodels.
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "forecast/forecast.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double *load(size_t *n, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0, len = 0, size = 1024;
	double *y = malloc(size * sizeof(*y));

	if (!f || !y) {
		fprintf(stderr, "bench-forecast: cannot read %s\n", path);
		exit(2);
	}
	while (getline(&line, &cap, f) > 0) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (len == size) {
			size *= 2;
			y = realloc(y, size * sizeof(*y));
			if (!y)
				exit(2);
		}
		y[len++] = strtod(line, NULL);
	}
	free(line);
	fclose(f);
	*n = len;
	return y;
}

int main(int argc, char **argv)
{
	struct fc_spec spec;
	struct fc_state *st = NULL;
	struct fs_err err;
	const struct fc_info *info;
	double *y, *times;
	size_t n, reps = 20, i;

	if (argc < 3) {
		fprintf(stderr, "usage: bench-forecast FILE SEASON [MODEL [REPS]]\n");
		return 2;
	}
	y = load(&n, argv[1]);
	fc_spec_init(&spec);
	spec.model = FC_HW_ADD;
	spec.season = strcmp(argv[2], "auto") == 0 ? FC_SEASON_AUTO : strtoul(argv[2], NULL, 10);
	if (argc > 3 && !fc_model_parse(&spec.model, argv[3])) {
		fprintf(stderr, "bench-forecast: unknown model %s\n", argv[3]);
		return 2;
	}
	if (argc > 4)
		reps = strtoul(argv[4], NULL, 10);
	if (reps < 1)
		reps = 1;
	times = malloc(reps * sizeof(*times));
	if (!times)
		return 2;
	for (i = 0; i < reps; i++) {
		double t0;

		fc_free(st);
		st = NULL;
		t0 = now();
		if (fc_fit(&st, y, n, &spec, &err) != FS_OK) {
			fprintf(stderr, "bench-forecast: %s\n", err.msg);
			return 1;
		}
		times[i] = now() - t0;
	}
	qsort(times, reps, sizeof(*times), cmp_double);
	info = fc_info(st);
	printf("n=%zu season=%zu model=%s ready=%d fit_ms_min=%.3f fit_ms_median=%.3f sse=%.10g "
	       "alpha=%.6g beta=%.6g gamma=%.6g phi=%.6g mape=%.4f state_bytes=%zu\n",
	       n, info->season, fc_model_name(info->model), info->ready, times[0] * 1e3,
	       times[reps / 2] * 1e3, info->sse, info->params.alpha, info->params.beta,
	       info->params.gamma, info->params.phi, info->mape, fc_state_size(st));
	fc_free(st);
	free(times);
	free(y);
	return 0;
}
