/* Unit tests of the backtest simulation (operator/backtest): traces, policies, figures, plots. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backtest/backtest.h"
#include "base/buf.h"

static enum fs_rc parse(struct bt_trace *tr, const char *text, struct fs_err *err)
{
	return bt_csv_parse(tr, "t.csv", text, strlen(text), err);
}

static void csv_reads_rows_onto_a_grid(void **state)
{
	struct bt_trace tr;

	(void)state;
	assert_int_equal(parse(&tr,
	                       "timestamp,value\r\n2014-07-01 00:00:00,10\r\n\r\n"
	                       "2014-07-01 00:30:00,20.5\r\n2014-07-01 01:00:00,0\r\n",
	                       NULL),
	                 FS_OK);
	assert_int_equal(tr.n, 3);
	assert_true(tr.step == 1800);
	assert_true(tr.t0 == 1404172800); /* 2014-07-01T00:00:00Z */
	assert_true(tr.v[0] == 10 && tr.v[1] == 20.5 && tr.v[2] == 0);
	assert_int_equal(tr.n_gaps, 0);
	bt_trace_release(&tr);
	/* No header, unix seconds, ISO 8601 with T and Z, quoted fields. */
	assert_int_equal(parse(&tr, "100,1\n\"160\",\"2\"\n", NULL), FS_OK);
	assert_int_equal(tr.n, 2);
	assert_true(tr.step == 60);
	bt_trace_release(&tr);
	assert_int_equal(parse(&tr, "t,v\n2015-01-01T00:00:00Z,1\n2015-01-01T00:05:00Z,2\n", NULL),
	                 FS_OK);
	assert_true(tr.step == 300);
	bt_trace_release(&tr);
}

static void csv_reports_gaps_with_their_line(void **state)
{
	struct bt_trace tr;

	(void)state;
	assert_int_equal(parse(&tr,
	                       "timestamp,value\n2014-04-10 00:04:00,1\n2014-04-10 00:09:00,2\n"
	                       "2014-04-10 00:19:00,3\n2014-04-10 00:24:00,\n"
	                       "2014-04-10 00:39:00,5\n",
	                       NULL),
	                 FS_OK);
	assert_int_equal(tr.n, 8);
	assert_int_equal(tr.n_gaps, 2);
	assert_int_equal(tr.n_gaps_total, 2);
	assert_int_equal(tr.gaps[0].line, 4);
	assert_int_equal(tr.gaps[0].missing, 1);
	assert_int_equal(tr.gaps[1].line, 6);
	assert_int_equal(tr.gaps[1].missing, 2);
	assert_true(isnan(tr.v[2]) && isnan(tr.v[4]) && isnan(tr.v[5]) && isnan(tr.v[6]));
	assert_int_equal(tr.n_missing, 4); /* three gap buckets and one empty value */
	assert_true(tr.v[7] == 5);
	bt_trace_release(&tr);
}

static void csv_rejects_bad_input_naming_the_line(void **state)
{
	static const struct {
		const char *text, *says;
	} cases[] = {
	    {"", "t.csv:1: no rows"},
	    {"timestamp,value\n", "t.csv:1: no rows"},
	    {"timestamp,value\n2014-07-01 00:00:00,1\n", "t.csv:2: only one row"},
	    {"timestamp,value\n2014-07-01 00:00:00,1\n2014-07-01 00:30:00\n",
	     "t.csv:3: expected two fields"},
	    {"timestamp,value\n2014-07-01 00:00:00,1\n2014-07-01 00:30:00,1,2\n",
	     "t.csv:3: expected two fields"},
	    {"timestamp,value\n2014-07-01 00:00:00,1\n2014-13-01 00:30:00,1\n",
	     "t.csv:3: timestamp \"2014-13-01 00:30:00\""},
	    {"timestamp,value\n2014-07-01 00:00:00,1\n2014-07-01 00:30:00,abc\n",
	     "t.csv:3: value \"abc\""},
	    {"timestamp,value\n2014-07-01 00:00:00,1\n2014-07-01 00:30:00,-4\n",
	     "t.csv:3: value \"-4\""},
	    {"timestamp,value\n2014-07-01 00:30:00,1\n2014-07-01 00:00:00,1\n",
	     "t.csv:3: timestamp 2014-07-01 00:00:00 is not after line 2's"},
	    {"timestamp,value\n2014-07-01 00:00:00,1\n2014-07-01 00:00:00,1\n",
	     "t.csv:3: timestamp 2014-07-01 00:00:00 is not after line 2's"},
	    {"timestamp,value\n2014-07-01 00:00:00,1\n2014-07-01 00:30:00,1\n"
	     "2014-07-01 01:00:00,1\n2014-07-01 01:20:00,1\n",
	     "t.csv:5: timestamp 1200 s after the row before is not a whole number of steps "
	     "of 1800 s"},
	};
	struct bt_trace tr;
	struct fs_err err;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse(&tr, cases[i].text, &err), FS_EINVAL);
		if (!strstr(err.msg, cases[i].says))
			fail_msg("case %zu: \"%s\" does not say \"%s\"", i, err.msg, cases[i].says);
		assert_null(tr.v);
	}
}

static void times_format_and_parse_back(void **state)
{
	char s[32];
	double t;

	(void)state;
	bt_format_time(s, sizeof(s), 1424986973);
	assert_string_equal(s, "2015-02-26 21:42:53");
	assert_true(bt_parse_time(&t, s) && t == 1424986973);
	bt_format_time(s, sizeof(s), 951782400); /* a leap day */
	assert_string_equal(s, "2000-02-29 00:00:00");
	assert_false(bt_parse_time(&t, "2001-02-30 00:00:00"));
	assert_false(bt_parse_time(&t, "2001-02-03 24:00:00"));
	assert_false(bt_parse_time(&t, "yesterday"));
	assert_false(bt_parse_time(&t, ""));
}

static void grid_traces_list_runs_of_missing_points(void **state)
{
	const double v[] = {1, NAN, NAN, 4, -1, 6};
	struct bt_trace tr;

	(void)state;
	assert_int_equal(bt_trace_from_grid(&tr, 1000, 60, v, 6, NULL), FS_OK);
	assert_int_equal(tr.n, 6);
	assert_int_equal(tr.n_missing, 3); /* a negative load is not a load */
	assert_int_equal(tr.n_gaps, 2);
	assert_int_equal(tr.gaps[0].line, 4);
	assert_int_equal(tr.gaps[0].missing, 2);
	assert_true(tr.gaps[0].after == 1000);
	bt_trace_release(&tr);
}

/* A daily pattern of `season` buckets over `days` days, with a little noise. */
static double *daily(size_t season, size_t days, unsigned seed)
{
	double *y = malloc(season * days * sizeof(double));

	srand(seed);
	for (size_t t = 0; t < season * days; t++)
		y[t] = 1000 + 800 * sin(2 * 3.141592653589793 * (double)t / (double)season) +
		       40 * ((double)rand() / RAND_MAX - 0.5);
	return y;
}

static void oracle_and_reactive_follow_their_formulas(void **state)
{
	const double y[] = {10, 25, 5, 40, 12, 12, 0, 33, 7, 19};
	struct bt_config cfg;
	struct bt_result r;

	(void)state;
	bt_config_init(&cfg);
	cfg.capacity = 10;
	cfg.model = FC_NONE;
	cfg.season = 0;
	cfg.warmup = 2;
	cfg.utilization = 0.5;
	cfg.stabilization = 2;
	assert_int_equal(bt_run(&r, y, 10, 60, &cfg, NULL), FS_OK);
	assert_int_equal(r.warmup, 2);
	for (size_t k = 0; k < 8; k++) {
		int oracle = (int)ceil(y[k + 2] / 10), rec_now, rec_before, want;

		assert_int_equal(r.replicas[BT_ORACLE][k], oracle < 1 ? 1 : oracle);
		/* ceil(y[t-1] / 5), the larger of it and the one before, floor 1. */
		rec_now = (int)ceil(y[k + 1] / 5);
		rec_before = (int)ceil(y[k] / 5);
		want = rec_now > rec_before ? rec_now : rec_before;
		assert_int_equal(r.replicas[BT_REACTIVE][k], want < 1 ? 1 : want);
		/* No model: the forecast policy provisions for the last load. */
		want = (int)ceil(y[k + 1] / 10);
		assert_int_equal(r.replicas[BT_FORECAST][k], want < 1 ? 1 : want);
	}
	assert_int_equal(r.not_ready, 8);
	assert_true(r.fig[BT_ORACLE].under_pct == 0);
	assert_true(r.fig[BT_ORACLE].cost_ratio == 1);
	assert_false(r.fig[BT_REACTIVE].has_forecast);
	bt_result_release(&r);
}

static void figures_count_short_buckets_and_cost(void **state)
{
	/* Lead 1, no model: the forecast policy serves y[t] with ceil(y[t-1] / C). */
	const double y[] = {0, 10, 30, 10, 10};
	struct bt_config cfg;
	struct bt_result r;

	(void)state;
	bt_config_init(&cfg);
	cfg.capacity = 10;
	cfg.model = FC_NONE;
	cfg.season = 0;
	cfg.warmup = 1;
	assert_int_equal(bt_run(&r, y, 5, 60, &cfg, NULL), FS_OK);
	/* forecast: 1 (from 0, floor 1), 1, 3, 1 against oracle 1, 3, 1, 1. */
	assert_int_equal(r.replicas[BT_FORECAST][1], 1);
	assert_int_equal(r.replicas[BT_FORECAST][2], 3);
	assert_true(r.fig[BT_FORECAST].under_pct == 25); /* bucket 2 short */
	assert_true(fabs(r.fig[BT_FORECAST].unserved_pct - 100.0 * 20 / 60) < 1e-9);
	assert_true(r.fig[BT_FORECAST].cost_ratio == 1); /* 6 / 6 */
	bt_result_release(&r);
}

static void missing_buckets_are_not_scored(void **state)
{
	double *y = daily(48, 20, 3);
	struct bt_config cfg;
	struct bt_result r;

	(void)state;
	y[48 * 16 + 5] = NAN;
	y[48 * 17 + 9] = NAN;
	bt_config_init(&cfg);
	cfg.capacity = 100;
	cfg.season = 48;
	assert_int_equal(bt_run(&r, y, 48 * 20, 1800, &cfg, NULL), FS_OK);
	assert_int_equal(r.warmup, 48 * 20 / 3);
	assert_int_equal(r.scored, 48 * 20 - r.warmup - 2);
	for (size_t p = 0; p < BT_POLICY_COUNT; p++)
		assert_true(isfinite(r.fig[p].cost_ratio));
	bt_result_release(&r);
	free(y);
}

static void forecasting_beats_reacting_on_a_daily_cycle(void **state)
{
	double *y = daily(48, 30, 4);
	struct bt_config cfg;
	struct bt_result r;
	struct bt_frontier_point fp[BT_POLICY_COUNT], strict[BT_POLICY_COUNT];

	(void)state;
	bt_config_init(&cfg);
	cfg.capacity = 100;
	cfg.season = 48;
	assert_int_equal(bt_run(&r, y, 48 * 30, 1800, &cfg, NULL), FS_OK);
	assert_int_equal(r.warmup, 48 * 30 / 3); /* a third: less than 14 seasons */
	assert_int_equal(r.season, 48);
	assert_int_equal(r.not_ready, 0);
	assert_true(r.fig[BT_FORECAST].mape < 0.05);
	/* Calibrated: the 0.9 bound covers about 90% of the buckets. */
	assert_true(fabs(r.fig[BT_FORECAST].coverage - 0.9) < 0.06);
	bt_result_release(&r);

	assert_int_equal(bt_frontier(fp, y, 48 * 30, 1800, &cfg, 2, NULL), FS_OK);
	assert_true(fp[BT_ORACLE].met && fp[BT_ORACLE].cost_ratio == 1);
	for (size_t p = 0; p < BT_POLICY_COUNT; p++) {
		assert_true(fp[p].met);
		assert_true(fp[p].under_pct <= 2);
	}
	assert_true(fp[BT_FORESIGHT].cost_ratio < fp[BT_REACTIVE].cost_ratio);
	assert_true(fp[BT_FORECAST].cost_ratio < fp[BT_REACTIVE].cost_ratio);
	/* A stricter SLO never costs less. */
	assert_int_equal(bt_frontier(strict, y, 48 * 30, 1800, &cfg, 0.5, NULL), FS_OK);
	for (size_t p = 1; p < BT_POLICY_COUNT; p++)
		if (strict[p].met)
			assert_true(strict[p].cost_ratio >= fp[p].cost_ratio);
	free(y);
}

static void a_longer_lead_decides_earlier(void **state)
{
	double *y = daily(48, 20, 5);
	struct bt_config cfg;
	struct bt_result one, three;

	(void)state;
	bt_config_init(&cfg);
	cfg.capacity = 100;
	cfg.season = 48;
	cfg.model = FC_HW_ADD;
	cfg.warmup = 10 * 48;
	assert_int_equal(bt_run(&one, y, 48 * 20, 1800, &cfg, NULL), FS_OK);
	cfg.lead = 3;
	assert_int_equal(bt_run(&three, y, 48 * 20, 1800, &cfg, NULL), FS_OK);
	/* Reactive with lead 3 serves y[t] with y[t-3]: more often short on the rise. */
	assert_true(three.fig[BT_REACTIVE].under_pct > one.fig[BT_REACTIVE].under_pct);
	/* The forecaster looks 3 buckets ahead and stays close. */
	assert_true(three.fig[BT_FORECAST].mape < 0.08);
	bt_result_release(&one);
	bt_result_release(&three);
	free(y);
}

static void bad_configs_name_the_option(void **state)
{
	double *y = daily(48, 10, 6);
	struct bt_config cfg;
	struct bt_result r;
	struct fs_err err;

	(void)state;
	bt_config_init(&cfg);
	assert_int_equal(bt_run(&r, y, 480, 1800, &cfg, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "--capacity-per-replica"));
	cfg.capacity = 100;
	cfg.warmup = 480;
	assert_int_equal(bt_run(&r, y, 480, 1800, &cfg, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "--warmup 480"));
	cfg.warmup = 0;
	cfg.lead = 0;
	assert_int_equal(bt_run(&r, y, 480, 1800, &cfg, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "--lead 0"));
	cfg.lead = 1;
	cfg.quantile = 1;
	assert_int_equal(bt_run(&r, y, 480, 1800, &cfg, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "--quantile"));
	cfg.quantile = 0.9;
	assert_int_equal(bt_run(&r, y, 0, 1800, &cfg, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "empty"));
	free(y);
}

static void the_plot_is_a_whole_svg(void **state)
{
	double *y = daily(48, 20, 7);
	struct bt_config cfg;
	struct bt_result r;
	struct buf b;

	(void)state;
	bt_config_init(&cfg);
	cfg.capacity = 100;
	cfg.season = 48;
	assert_int_equal(bt_run(&r, y, 48 * 20, 1800, &cfg, NULL), FS_OK);
	buf_init(&b, 1 << 24);
	assert_int_equal(bt_svg(&b, &r, y, 1404172800, 1800, 100, "a <b> & c", NULL), FS_OK);
	assert_true(b.len > 1000);
	assert_memory_equal(b.data, "<svg ", 5);
	assert_non_null(strstr(b.data, "</svg>\n"));
	assert_non_null(strstr(b.data, "a &lt;b&gt; &amp; c"));
	assert_non_null(strstr(b.data, "foresight capacity"));
	assert_non_null(strstr(b.data, "forecast band"));
	assert_non_null(strstr(b.data, "2014-07-"));
	assert_null(strstr(b.data, "nan"));
	buf_release(&b);
	bt_result_release(&r);
	free(y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(csv_reads_rows_onto_a_grid),
	    cmocka_unit_test(csv_reports_gaps_with_their_line),
	    cmocka_unit_test(csv_rejects_bad_input_naming_the_line),
	    cmocka_unit_test(times_format_and_parse_back),
	    cmocka_unit_test(grid_traces_list_runs_of_missing_points),
	    cmocka_unit_test(oracle_and_reactive_follow_their_formulas),
	    cmocka_unit_test(figures_count_short_buckets_and_cost),
	    cmocka_unit_test(missing_buckets_are_not_scored),
	    cmocka_unit_test(forecasting_beats_reacting_on_a_daily_cycle),
	    cmocka_unit_test(a_longer_lead_decides_earlier),
	    cmocka_unit_test(bad_configs_name_the_option),
	    cmocka_unit_test(the_plot_is_a_whole_svg),
	};

	return cmocka_run_group_tests_name("backtest", tests, NULL, NULL);
}
