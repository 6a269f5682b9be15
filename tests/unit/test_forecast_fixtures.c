/*
 * The forecasting engine (operator/forecast) against statsmodels 0.13.5, on
 * the real traces in tests/fixtures/forecast/ (written by
 * hack/forecast-fixtures.py; read from the repository root):
 *  - with fixed parameters and statsmodels' initial state, the one-step
 *    fitted values equal statsmodels' to 1e-6 relative;
 *  - with fitted parameters, the in-sample sum of squared one-step errors is
 *    at most 1.05 times what statsmodels' own fit reaches.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "forecast/forecast.h"

#define DIR_FIXTURES "tests/fixtures/forecast"

struct series {
	double *y;
	size_t n;
};

/* Reads series/NAME.txt: one value per line, `nan` for a missing bucket. */
static void series_load(struct series *s, const char *name)
{
	char path[512], *line = NULL;
	size_t cap = 0, size = 1024;
	FILE *f;

	snprintf(path, sizeof(path), DIR_FIXTURES "/series/%s.txt", name);
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s (tests run from the repository root)", path);
	s->n = 0;
	s->y = malloc(size * sizeof(double));
	assert_non_null(s->y);
	while (getline(&line, &cap, f) > 0) {
		if (line[0] == '#')
			continue;
		if (s->n == size) {
			size *= 2;
			s->y = realloc(s->y, size * sizeof(double));
			assert_non_null(s->y);
		}
		s->y[s->n++] = strtod(line, NULL);
	}
	free(line);
	fclose(f);
	assert_true(s->n > 0);
}

/* Compares one fixed/ file: fc_smooth from statsmodels' start and parameters. */
static double fixed_case(const char *file)
{
	char path[512], *line = NULL, series[128] = "", model[128] = "";
	size_t cap = 0, season = 0, checked = 0, cap_s = 0, t;
	double level = 0, trend = 0, *seasonal = NULL, *fitted = NULL, worst = 0;
	struct fc_params p = {0, 0, 0, 1};
	struct series s = {0};
	struct fc_init init;
	struct fs_err err;
	enum fc_model m;
	FILE *f;

	snprintf(path, sizeof(path), DIR_FIXTURES "/fixed/%s", file);
	f = fopen(path, "r");
	assert_non_null(f);
	while (getline(&line, &cap, f) > 0) {
		char *rest;

		if (line[0] == '#')
			continue;
		rest = strchr(line, ' ');
		assert_non_null(rest);
		*rest++ = '\0';
		if (strcmp(line, "series") == 0) {
			sscanf(rest, "%127s", series);
		} else if (strcmp(line, "model") == 0) {
			sscanf(rest, "%127s", model);
			assert_true(fc_model_parse(&m, model));
		} else if (strcmp(line, "season") == 0) {
			season = strtoul(rest, NULL, 10);
		} else if (strcmp(line, "alpha") == 0) {
			p.alpha = strtod(rest, NULL);
		} else if (strcmp(line, "beta") == 0) {
			p.beta = strtod(rest, NULL);
		} else if (strcmp(line, "gamma") == 0) {
			p.gamma = strtod(rest, NULL);
		} else if (strcmp(line, "phi") == 0) {
			p.phi = strtod(rest, NULL);
		} else if (strcmp(line, "level") == 0) {
			level = strtod(rest, NULL);
		} else if (strcmp(line, "trend") == 0) {
			trend = strtod(rest, NULL);
		} else if (strcmp(line, "seasonal") == 0) {
			seasonal = malloc((season ? season : 1) * sizeof(double));
			assert_non_null(seasonal);
			for (cap_s = 0; cap_s < season; cap_s++)
				seasonal[cap_s] = strtod(rest, &rest);
		} else if (strcmp(line, "fitted") == 0) {
			double want, rel;

			if (!fitted) {
				/* The header is read: run the model once. */
				series_load(&s, series);
				fitted = malloc(s.n * sizeof(double));
				assert_non_null(fitted);
				init.level = level;
				init.trend = trend;
				init.seasonal = seasonal;
				assert_int_equal(
				    fc_smooth(fitted, s.y, s.n, m, season, &p, &init, &err), FS_OK);
			}
			t = strtoul(rest, &rest, 10);
			want = strtod(rest, NULL);
			assert_true(t < s.n);
			rel = fabs(fitted[t] - want) / fmax(fabs(want), 1e-300);
			if (rel > worst)
				worst = rel;
			checked++;
		}
	}
	assert_true(checked > 20);
	assert_int_equal(cap_s, season);
	print_message("    %-52s %4zu values, worst relative difference %.2g\n", file, checked,
	              worst);
	free(line);
	free(seasonal);
	free(fitted);
	free(s.y);
	fclose(f);
	return worst;
}

static void fixed_parameters_match_statsmodels(void **state)
{
	DIR *d = opendir(DIR_FIXTURES "/fixed");
	struct dirent *e;
	size_t files = 0;

	(void)state;
	assert_non_null(d);
	while ((e = readdir(d))) {
		if (!strstr(e->d_name, ".txt"))
			continue;
		assert_true(fixed_case(e->d_name) <= 1e-6);
		files++;
	}
	closedir(d);
	/* Every trace without gaps, every smoothing model that its data allows. */
	assert_int_equal(files, 17);
}

static void fitted_error_is_within_5pct_of_statsmodels(void **state)
{
	FILE *f = fopen(DIR_FIXTURES "/fitted.txt", "r");
	char *line = NULL, name[128], model[128];
	size_t cap = 0, season, cases = 0;
	double sse, worst = 0;

	(void)state;
	assert_non_null(f);
	while (getline(&line, &cap, f) > 0) {
		struct series s;
		struct fc_spec spec;
		struct fc_state *st;
		struct fs_err err;
		double ratio;

		if (line[0] == '#')
			continue;
		assert_int_equal(sscanf(line, "%127s %127s %zu %lf", name, model, &season, &sse),
		                 4);
		series_load(&s, name);
		fc_spec_init(&spec);
		assert_true(fc_model_parse(&spec.model, model));
		spec.season = season;
		assert_int_equal(fc_fit(&st, s.y, s.n, &spec, &err), FS_OK);
		assert_true(fc_info(st)->ready);
		assert_int_equal(fc_info(st)->model, spec.model);
		ratio = fc_info(st)->sse / sse;
		print_message("    %-26s %-32s SSE ours/statsmodels %.4f\n", name, model, ratio);
		assert_true(ratio <= 1.05);
		if (ratio > worst)
			worst = ratio;
		cases++;
		fc_free(st);
		free(s.y);
	}
	free(line);
	fclose(f);
	assert_int_equal(cases, 24);
	print_message("    worst ratio %.4f over %zu fits\n", worst, cases);
}

static void seasons_of_the_traces(void **state)
{
	struct series s;
	struct fs_err err;
	double strength;
	size_t season;

	(void)state;
	/* Taxi rides repeat weekly (336 half hours), over a daily pattern. */
	series_load(&s, "nyc_taxi");
	assert_int_equal(fc_detect_season(&season, &strength, s.y, s.n, 0, &err), FS_OK);
	assert_int_equal(season, 336);
	assert_int_equal(fc_detect_season(&season, &strength, s.y, s.n, 100, &err), FS_OK);
	assert_int_equal(season, 48);
	free(s.y);
	/* Tweets: a day of 288 five-minute buckets, weakly. */
	series_load(&s, "Twitter_volume_AMZN");
	assert_int_equal(fc_detect_season(&season, &strength, s.y, s.n, 0, &err), FS_OK);
	assert_int_equal(season, 288);
	assert_true(strength > 0.2 && strength < 0.5);
	free(s.y);
	/* The ELB counts repeat too weakly to count, gaps and all. */
	series_load(&s, "elb_request_count_8c0756");
	assert_int_equal(fc_detect_season(&season, &strength, s.y, s.n, 0, &err), FS_OK);
	assert_int_equal(season, 0);
	free(s.y);
}

static void auto_on_the_traces(void **state)
{
	static const char *const names[] = {"nyc_taxi", "Twitter_volume_AMZN",
	                                    "Twitter_volume_GOOG", "elb_request_count_8c0756"};
	size_t i, h;

	(void)state;
	for (i = 0; i < 4; i++) {
		struct series s;
		struct fc_spec spec;
		struct fc_state *st;
		struct fs_err err;
		const struct fc_info *info;
		double p[6], lo[6], up[6];

		series_load(&s, names[i]);
		fc_spec_init(&spec);
		spec.horizon_max = 6;
		assert_int_equal(fc_fit(&st, s.y, s.n, &spec, &err), FS_OK);
		info = fc_info(st);
		assert_true(info->ready);
		assert_true(info->n_candidates >= 4);
		assert_true(info->mape > 0 && isfinite(info->mape));
		assert_int_equal(fc_forecast(p, lo, up, st, 6, &err), FS_OK);
		for (h = 0; h < 6; h++)
			assert_true(lo[h] >= 0 && lo[h] <= p[h] && p[h] <= up[h] &&
			            isfinite(up[h]));
		print_message("    %-26s season %4zu%s -> %-32s MAPE %.3f\n", names[i],
		              info->season, info->season_detected ? " (detected)" : "",
		              fc_model_name(info->model), info->mape);
		fc_free(st);
		free(s.y);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(fixed_parameters_match_statsmodels),
	    cmocka_unit_test(fitted_error_is_within_5pct_of_statsmodels),
	    cmocka_unit_test(seasons_of_the_traces),
	    cmocka_unit_test(auto_on_the_traces),
	};

	return cmocka_run_group_tests_name("forecast_fixtures", tests, NULL, NULL);
}
