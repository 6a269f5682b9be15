/*
 * Unit tests of the replica math (operator/scaling). The HPA parity cases
 * are worked by hand from upstream horizontal.go; each says how.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "scaling/scaling.h"

#define assert_has(s, sub)                                           \
	do {                                                         \
		if (!strstr((s), (sub)))                             \
			fail_msg("\"%s\" lacks \"%s\"", (s), (sub)); \
	} while (0)

static struct scale_spec spec_of(int min, int max)
{
	struct scale_spec s;

	memset(&s, 0, sizeof(s));
	s.min_replicas = min;
	s.max_replicas = max;
	s.mode = SCALE_MODE_AUTO;
	scale_behavior_defaults(&s.behavior);
	s.fallback.failure_threshold = 3;
	s.fallback.action = SCALE_FALLBACK_HOLD;
	s.lead_time = 180;
	s.max_error = 0.3;
	return s;
}

static struct scale_metric metric(const char *name, double target, double observed)
{
	struct scale_metric m;

	memset(&m, 0, sizeof(m));
	m.name = name;
	m.target_per_replica = target;
	m.on_empty = SCALE_EMPTY_HOLD;
	m.sample = SCALE_SAMPLE_OK;
	m.observed = observed;
	return m;
}

static struct scale_metric rps(double observed)
{
	return metric("rps", 100, observed);
}

static struct scale_metric failing(const char *error)
{
	struct scale_metric m = rps(0);

	m.sample = SCALE_SAMPLE_ERROR;
	m.error = error;
	return m;
}

static struct scale_decision eval_n(struct scale_history *h, const struct scale_spec *s,
                                    const struct scale_metric *m, size_t n, int current, double now)
{
	struct scale_decision d;
	struct fs_err err;

	memset(&err, 0, sizeof(err));
	if (scale_evaluate(&d, h, s, m, n, current, now, &err) != FS_OK)
		fail_msg("scale_evaluate: %s", err.msg);
	return d;
}

static struct scale_decision eval(struct scale_history *h, const struct scale_spec *s, double load,
                                  int current, double now)
{
	struct scale_metric m = rps(load);

	return eval_n(h, s, &m, 1, current, now);
}

/* As the reconcile loop: evaluate, scale, record the scale. */
static struct scale_decision step(struct scale_history *h, const struct scale_spec *s, double load,
                                  int *current, double now)
{
	struct scale_decision d = eval(h, s, load, *current, now);

	if (d.desired != *current) {
		assert_int_equal(scale_history_record_scale(h, now, *current, d.desired, NULL),
		                 FS_OK);
		*current = d.desired;
	}
	return d;
}

/* ---- defaults and validation ------------------------------------------ */

static void defaults_are_the_hpa_defaults(void **state)
{
	struct scale_behavior b;

	(void)state;
	scale_behavior_defaults(&b);
	assert_int_equal(b.up.stabilization_window_seconds, 0);
	assert_int_equal(b.up.select, SCALE_SELECT_MAX);
	assert_int_equal(b.up.n_policies, 2);
	assert_int_equal(b.up.policies[0].type, SCALE_POLICY_PERCENT);
	assert_int_equal(b.up.policies[0].value, 100);
	assert_int_equal(b.up.policies[0].period_seconds, 15);
	assert_int_equal(b.up.policies[1].type, SCALE_POLICY_PODS);
	assert_int_equal(b.up.policies[1].value, 4);
	assert_int_equal(b.up.policies[1].period_seconds, 15);
	/* Not the HPA's 0.1: the forecast's quantile is the headroom asked for. */
	assert_true(b.up.tolerance == 0);
	assert_int_equal(b.down.stabilization_window_seconds, 300);
	assert_int_equal(b.down.select, SCALE_SELECT_MAX);
	assert_int_equal(b.down.n_policies, 1);
	assert_int_equal(b.down.policies[0].type, SCALE_POLICY_PERCENT);
	assert_int_equal(b.down.policies[0].value, 100);
	assert_int_equal(b.down.policies[0].period_seconds, 15);
	assert_true(b.down.tolerance == 0.1);
	assert_int_equal(scale_behavior_validate(&b, NULL), FS_OK);
}

static void expect_behavior_error(const struct scale_behavior *b, const char *msg)
{
	struct fs_err err;

	assert_int_equal(scale_behavior_validate(b, &err), FS_EINVAL);
	assert_int_equal(err.rc, FS_EINVAL);
	assert_string_equal(err.msg, msg);
}

static void validation_names_the_bad_field(void **state)
{
	struct scale_behavior b, good;

	(void)state;
	scale_behavior_defaults(&good);
	b = good;
	b.up.policies[1].period_seconds = 0;
	expect_behavior_error(&b,
	                      "behavior.scaleUp.policies[1].periodSeconds: must be 1..1800, not 0");
	b.up.policies[1].period_seconds = 1801;
	expect_behavior_error(
	    &b, "behavior.scaleUp.policies[1].periodSeconds: must be 1..1800, not 1801");
	b.up.policies[1].period_seconds = 1800; /* the bounds themselves are fine */
	b.down.policies[0].period_seconds = 1;
	assert_int_equal(scale_behavior_validate(&b, NULL), FS_OK);

	b = good;
	b.down.policies[0].value = 0;
	expect_behavior_error(&b, "behavior.scaleDown.policies[0].value: must be > 0, not 0");
	b = good;
	b.down.policies[0].type = (enum scale_policy_type)7;
	expect_behavior_error(&b, "behavior.scaleDown.policies[0].type: must be Pods or Percent");
	b = good;
	b.down.stabilization_window_seconds = -1;
	expect_behavior_error(
	    &b, "behavior.scaleDown.stabilizationWindowSeconds: must be 0..3600, not -1");
	b.down.stabilization_window_seconds = 3601;
	expect_behavior_error(
	    &b, "behavior.scaleDown.stabilizationWindowSeconds: must be 0..3600, not 3601");
	b.down.stabilization_window_seconds = 3600;
	assert_int_equal(scale_behavior_validate(&b, NULL), FS_OK);
	b = good;
	b.up.n_policies = 0;
	expect_behavior_error(&b, "behavior.scaleUp.policies: must list 1..8 policies, not 0");
	b.up.n_policies = SCALE_POLICIES_MAX + 1;
	expect_behavior_error(&b, "behavior.scaleUp.policies: must list 1..8 policies, not 9");
	b = good;
	b.up.select = (enum scale_select)9;
	expect_behavior_error(&b, "behavior.scaleUp.selectPolicy: must be Max, Min or Disabled");
	b = good;
	b.down.tolerance = -0.1;
	expect_behavior_error(&b, "behavior.scaleDown.tolerance: must be a number >= 0");
	b.down.tolerance = NAN;
	expect_behavior_error(&b, "behavior.scaleDown.tolerance: must be a number >= 0");
	b.down.tolerance = INFINITY;
	expect_behavior_error(&b, "behavior.scaleDown.tolerance: must be a number >= 0");
}

static void expect_spec_error(const struct scale_spec *s, const char *msg)
{
	struct fs_err err;

	assert_int_equal(scale_spec_validate(s, &err), FS_EINVAL);
	assert_string_equal(err.msg, msg);
}

static void spec_validation_covers_every_field(void **state)
{
	struct scale_spec good = spec_of(2, 50), s;

	(void)state;
	assert_int_equal(scale_spec_validate(&good, NULL), FS_OK);
	s = good;
	s.max_replicas = 0;
	expect_spec_error(&s, "maxReplicas: must be 1..1073741823, not 0");
	s.max_replicas = SCALE_REPLICAS_MAX + 1;
	expect_spec_error(&s, "maxReplicas: must be 1..1073741823, not 1073741824");
	s = good;
	s.min_replicas = 51;
	expect_spec_error(&s, "minReplicas: must be 0..maxReplicas (50), not 51");
	s.min_replicas = -1;
	expect_spec_error(&s, "minReplicas: must be 0..maxReplicas (50), not -1");
	s = good;
	s.mode = (enum scale_mode)5;
	expect_spec_error(&s, "mode: must be Auto, DryRun or Paused");
	s = good;
	s.fallback.failure_threshold = 0;
	expect_spec_error(&s, "fallback.failureThreshold: must be >= 1, not 0");
	s = good;
	s.fallback.action = (enum scale_fallback_action)3;
	expect_spec_error(&s, "fallback.action: must be Hold or Replicas");
	s = good;
	s.fallback.action = SCALE_FALLBACK_REPLICAS;
	s.fallback.replicas = -2;
	expect_spec_error(&s, "fallback.replicas: must be 0..1073741823, not -2");
	s.fallback.replicas = SCALE_REPLICAS_MAX + 1;
	expect_spec_error(&s, "fallback.replicas: must be 0..1073741823, not 1073741824");
	s.fallback.action = SCALE_FALLBACK_HOLD; /* replicas only matters for Replicas */
	assert_int_equal(scale_spec_validate(&s, NULL), FS_OK);
	s = good;
	s.lead_time = NAN;
	expect_spec_error(&s, "forecast.leadTime: must be a duration >= 0");
	s.lead_time = -1;
	expect_spec_error(&s, "forecast.leadTime: must be a duration >= 0");
	s.lead_time = INFINITY;
	expect_spec_error(&s, "forecast.leadTime: must be a duration >= 0");
	s = good;
	s.max_error = -0.5;
	expect_spec_error(&s, "forecast.maxError: must be a number >= 0");
	s.max_error = INFINITY;
	expect_spec_error(&s, "forecast.maxError: must be a number >= 0");
	s = good;
	s.behavior.up.policies[0].value = -3;
	expect_spec_error(&s, "behavior.scaleUp.policies[0].value: must be > 0, not -3");
}

static void expect_eval_error(const struct scale_spec *s, const struct scale_metric *m, size_t n,
                              int current, double now, const char *msg)
{
	struct scale_history h;
	struct scale_decision d, before;
	struct fs_err err;

	scale_history_init(&h);
	memset(&d, 0x5a, sizeof(d));
	before = d;
	assert_int_equal(scale_evaluate(&d, &h, s, m, n, current, now, &err), FS_EINVAL);
	assert_string_equal(err.msg, msg);
	assert_memory_equal(&d, &before, sizeof(d)); /* nothing half-applied */
	assert_false(h.started);
	assert_int_equal(h.recs.len, 0);
	scale_history_release(&h);
}

static void evaluate_rejects_bad_input_and_changes_nothing(void **state)
{
	struct scale_spec s = spec_of(1, 10), bad = s;
	struct scale_metric m = rps(100);
	struct scale_forecast f = {.ready = true, .error = 0.1, .upper = NULL, .n_upper = 3};

	(void)state;
	expect_eval_error(&s, &m, 0, 1, 0, "metrics: must list at least one metric");
	expect_eval_error(&s, NULL, 1, 1, 0, "metrics: must list at least one metric");
	expect_eval_error(&s, &m, 1, -1, 0, "current replicas: must be >= 0, not -1");
	expect_eval_error(&s, &m, 1, 1, NAN, "evaluation time: must be a finite number");
	expect_eval_error(&s, &m, 1, 1, INFINITY, "evaluation time: must be a finite number");
	bad.max_replicas = 0;
	expect_eval_error(&bad, &m, 1, 1, 0, "maxReplicas: must be 1..1073741823, not 0");
	m.target_per_replica = 0;
	expect_eval_error(&s, &m, 1, 1, 0, "metrics[0].targetPerReplica: must be a number > 0");
	m.target_per_replica = NAN;
	expect_eval_error(&s, &m, 1, 1, 0, "metrics[0].targetPerReplica: must be a number > 0");
	m.target_per_replica = INFINITY;
	expect_eval_error(&s, &m, 1, 1, 0, "metrics[0].targetPerReplica: must be a number > 0");
	m = rps(100);
	m.name = NULL;
	expect_eval_error(&s, &m, 1, 1, 0, "metrics[0].name: must be set");
	m.name = "";
	expect_eval_error(&s, &m, 1, 1, 0, "metrics[0].name: must be set");
	m = rps(100);
	m.on_empty = (enum scale_on_empty)4;
	expect_eval_error(&s, &m, 1, 1, 0, "metrics[0].onEmpty: must be Hold, Zero or Error");
	m = rps(100);
	m.sample = (enum scale_sample)4;
	expect_eval_error(&s, &m, 1, 1, 0, "metrics[0]: unknown sample state 4");
	m = rps(100);
	m.forecast = &f;
	expect_eval_error(&s, &m, 1, 1, 0, "metrics[0]: forecast claims 3 points but has none");
}

/* ---- recommendations -------------------------------------------------- */

static void reactive_is_the_ceiling_of_load_over_target(void **state)
{
	struct scale_spec s = spec_of(1, 50);
	struct scale_history h;
	struct scale_decision d;

	(void)state;
	scale_history_init(&h);
	d = eval(&h, &s, 1250, 10, 0);
	assert_int_equal(d.current, 10);
	assert_int_equal(d.reactive, 13);
	assert_int_equal(d.forecast, 0);
	assert_int_equal(d.recommended, 13);
	assert_int_equal(d.proposed, 13);
	assert_int_equal(d.desired, 13);
	assert_int_equal(d.limited_by, SCALE_LIMIT_NONE);
	assert_int_equal(d.driver, 0);
	assert_false(d.forecast_used);
	assert_false(d.metrics_failed);
	assert_false(d.capped);
	assert_string_equal(d.reason,
	                    "observed 1,250 rps needs 13 replicas; scaling from 10 to 13");
	/* 1201 still needs 13; fractional loads print with three digits. */
	d = eval(&h, &s, 1201, 13, 1);
	assert_int_equal(d.reactive, 13);
	assert_string_equal(d.reason, "observed 1,201 rps needs 13 replicas; keeping 13");
	scale_history_release(&h);
	scale_history_init(&h);
	{
		struct scale_metric m = metric("queue", 0.5, 1.25);

		d = eval_n(&h, &s, &m, 1, 3, 0);
		assert_int_equal(d.reactive, 3);
		assert_string_equal(d.reason, "observed 1.25 queue needs 3 replicas; keeping 3");
	}
	scale_history_release(&h);
}

static void forecast_within_lead_time_raises_the_recommendation(void **state)
{
	struct scale_spec s = spec_of(1, 50);
	struct scale_history h;
	struct scale_decision d;
	const double now = 1000;
	const struct scale_point up[] = {
	    {now, 9999},       /* now itself is not ahead */
	    {now + 60, 900},   /* inside (now, now + 3m] */
	    {now + 180, 1250}, /* the peak, at the edge */
	    {now + 240, 5000}, /* beyond the lead time */
	};
	struct scale_forecast f = {.ready = true, .error = 0.12, .upper = up, .n_upper = 4};
	struct scale_metric m = rps(500);

	(void)state;
	m.forecast = &f;
	scale_history_init(&h);
	d = eval_n(&h, &s, &m, 1, 3, now);
	assert_int_equal(d.reactive, 5);
	assert_int_equal(d.forecast, 13);
	assert_int_equal(d.recommended, 13);
	assert_true(d.forecast_used);
	assert_true(d.forecast_ready);
	assert_string_equal(d.forecast_reason, "every forecast is ready and within maxError");
	/* From 3: Percent 100 allows 6, Pods 4 allows 7; Max picks Pods. */
	assert_int_equal(d.desired, 7);
	assert_int_equal(d.limited_by, SCALE_LIMIT_BEHAVIOR);
	assert_string_equal(d.reason, "forecast 1,250 rps in 3m needs 13 replicas; scale-up rate "
	                              "limited to 7 by policy Pods 4/15s");
	scale_history_release(&h);
}

static void forecast_vetoes_a_scale_down_when_load_returns(void **state)
{
	struct scale_spec s = spec_of(1, 50);
	struct scale_history h;
	struct scale_decision d;
	struct scale_point up[] = {{60, 300}, {150, 950}, {170, 400}};
	struct scale_forecast f = {.ready = true, .error = 0.1, .upper = up, .n_upper = 3};
	struct scale_metric m = rps(200);

	(void)state;
	/* No stabilisation, so only the forecast stands between 10 and 2. */
	s.behavior.down.stabilization_window_seconds = 0;
	m.forecast = &f;
	scale_history_init(&h);
	d = eval_n(&h, &s, &m, 1, 10, 0);
	assert_int_equal(d.reactive, 2);
	assert_int_equal(d.forecast, 10);
	assert_int_equal(d.desired, 10);
	assert_int_equal(d.limited_by, SCALE_LIMIT_NONE);
	assert_string_equal(d.reason, "forecast 950 rps in 2m30s needs 10 replicas; keeping 10");
	scale_history_release(&h);

	/* The same peak after the lead time does not hold the replicas. */
	up[1].t = 600;
	up[2].t = 600;
	scale_history_init(&h);
	d = eval_n(&h, &s, &m, 1, 10, 0);
	assert_int_equal(d.forecast, 3);
	assert_int_equal(d.desired, 3);
	assert_has(d.reason, "forecast 300 rps in 1m needs 3 replicas");
	scale_history_release(&h);
}

static struct scale_decision eval_forecast(const struct scale_forecast *f, double load)
{
	struct scale_spec s = spec_of(1, 50);
	struct scale_history h;
	struct scale_decision d;
	struct scale_metric m = rps(load);

	m.forecast = f;
	scale_history_init(&h);
	d = eval_n(&h, &s, &m, 1, 5, 0);
	scale_history_release(&h);
	return d;
}

static void unusable_forecast_leaves_reactive_with_a_reason(void **state)
{
	const struct scale_point up[] = {{60, 5000}};
	struct scale_forecast f = {.ready = false,
	                           .not_ready = "history 1d is shorter than two seasons (2d)",
	                           .error = 0.1,
	                           .upper = up,
	                           .n_upper = 1};
	struct scale_decision d;

	(void)state;
	d = eval_forecast(&f, 500);
	assert_false(d.forecast_used);
	assert_false(d.forecast_ready);
	assert_int_equal(d.forecast, 0);
	assert_int_equal(d.recommended, 5);
	assert_int_equal(d.desired, 5);
	assert_string_equal(d.forecast_reason, "forecast for rps left out: history 1d is shorter "
	                                       "than two seasons (2d)");
	assert_string_equal(d.reason, "observed 500 rps needs 5 replicas; keeping 5");

	f.not_ready = NULL;
	d = eval_forecast(&f, 500);
	assert_string_equal(d.forecast_reason, "forecast for rps left out: the model is not ready");

	f.ready = true;
	f.error = 0.42;
	d = eval_forecast(&f, 500);
	assert_false(d.forecast_used);
	assert_int_equal(d.desired, 5);
	assert_string_equal(d.forecast_reason,
	                    "forecast for rps left out: its recent error 42% exceeds maxError 30%");

	f.error = NAN;
	d = eval_forecast(&f, 500);
	assert_false(d.forecast_used);
	assert_string_equal(d.forecast_reason,
	                    "forecast for rps left out: its recent error is not known yet");

	f.error = 0.3; /* at maxError is still good */
	d = eval_forecast(&f, 500);
	assert_true(d.forecast_used);
	assert_int_equal(d.forecast, 50);
}

static void forecast_points_must_be_ahead_and_finite(void **state)
{
	struct scale_point up[] = {{-60, 900}, {0, 900}, {181, 900}};
	struct scale_forecast f = {.ready = true, .error = 0.1, .upper = up, .n_upper = 3};
	struct scale_decision d;

	(void)state;
	d = eval_forecast(&f, 500);
	assert_false(d.forecast_used);
	assert_string_equal(d.forecast_reason,
	                    "forecast for rps left out: it has no point within the leadTime (3m)");
	f.n_upper = 0;
	d = eval_forecast(&f, 500);
	assert_false(d.forecast_used);

	up[1].t = 30;
	up[1].v = NAN;
	f.n_upper = 3;
	d = eval_forecast(&f, 500);
	assert_false(d.forecast_used);
	assert_string_equal(d.forecast_reason,
	                    "forecast for rps left out: its upper bound is not a finite number");
	up[1].v = INFINITY;
	d = eval_forecast(&f, 500);
	assert_false(d.forecast_used);

	/* A negative upper bound (a trend below zero) reads as no load. */
	up[1].v = -250;
	d = eval_forecast(&f, 500);
	assert_true(d.forecast_used);
	assert_int_equal(d.forecast, 0);
	assert_int_equal(d.recommended, 5);
}

static void without_forecasts_the_condition_says_so(void **state)
{
	struct scale_decision d = eval_forecast(NULL, 500);

	(void)state;
	assert_false(d.forecast_used);
	assert_false(d.forecast_ready);
	assert_string_equal(d.forecast_reason, "no metric has a forecast (model None)");
}

static void the_largest_metric_drives(void **state)
{
	struct scale_spec s = spec_of(1, 50);
	struct scale_history h;
	struct scale_decision d;
	const struct scale_point up[] = {{60, 1400}};
	struct scale_forecast ok = {.ready = true, .error = 0.1, .upper = up, .n_upper = 1};
	struct scale_forecast late = {.ready = false, .not_ready = "fitting"};
	struct scale_metric m[2] = {rps(1250), metric("cpu", 0.25, 4.0)};

	(void)state;
	scale_history_init(&h);
	d = eval_n(&h, &s, m, 2, 16, 0);
	assert_int_equal(d.reactive, 16);
	assert_int_equal(d.recommended, 16);
	assert_int_equal(d.driver, 1);
	assert_string_equal(d.reason, "observed 4 cpu needs 16 replicas; keeping 16");

	/* A forecast on one metric counts for ForecastReady only where there is one. */
	m[0].forecast = &ok;
	d = eval_n(&h, &s, m, 2, 16, 15);
	assert_true(d.forecast_used);
	assert_true(d.forecast_ready);
	assert_int_equal(d.forecast, 14);
	assert_int_equal(d.driver, 1);
	m[1].forecast = &late;
	d = eval_n(&h, &s, m, 2, 16, 30);
	assert_true(d.forecast_used);
	assert_false(d.forecast_ready);
	assert_string_equal(d.forecast_reason, "forecast for cpu left out: fitting");
	m[0].forecast = &late; /* the first unusable one is told */
	d = eval_n(&h, &s, m, 2, 16, 40);
	assert_false(d.forecast_used);
	assert_string_equal(d.forecast_reason, "forecast for rps left out: fitting");
	/* On a tie the first metric drives. */
	m[0] = rps(1600);
	m[1] = metric("cpu", 0.25, 4.0);
	d = eval_n(&h, &s, m, 2, 16, 45);
	assert_int_equal(d.driver, 0);
	assert_string_equal(d.reason, "observed 1,600 rps needs 16 replicas; keeping 16");
	scale_history_release(&h);
}

static void huge_inputs_are_capped_and_reported(void **state)
{
	struct scale_spec s = spec_of(1, SCALE_REPLICAS_MAX);
	struct scale_history h;
	struct scale_decision d;
	struct scale_metric m = metric("rps", 1e-300, 1e10);

	(void)state;
	scale_history_init(&h);
	d = eval(&h, &s, 1e300, SCALE_REPLICAS_MAX - 1, 0);
	assert_true(d.capped);
	assert_int_equal(d.reactive, SCALE_REPLICAS_MAX);
	assert_int_equal(d.recommended, SCALE_REPLICAS_MAX);
	assert_int_equal(d.desired, SCALE_REPLICAS_MAX);
	assert_string_equal(d.reason, "observed 1e+300 rps needs 1,073,741,823 replicas (capped); "
	                              "scaling from 1073741822 to 1073741823");
	/* The quotient itself overflows to infinity. */
	d = eval_n(&h, &s, &m, 1, SCALE_REPLICAS_MAX, 15);
	assert_true(d.capped);
	assert_int_equal(d.desired, SCALE_REPLICAS_MAX);
	d = eval(&h, &s, DBL_MAX, 10, 30);
	assert_true(d.capped);
	assert_int_equal(d.reactive, SCALE_REPLICAS_MAX);
	/* From 10, the rate policies allow 20. */
	assert_int_equal(d.desired, 20);
	scale_history_release(&h);

	/* A forecast beyond every bound. */
	{
		const struct scale_point up[] = {{60, 1e300}};
		struct scale_forecast f = {.ready = true, .error = 0, .upper = up, .n_upper = 1};
		struct scale_metric fm = rps(100);

		fm.forecast = &f;
		d = eval_n(&h, &s, &fm, 1, 20, 45);
		assert_true(d.capped);
		assert_int_equal(d.forecast, SCALE_REPLICAS_MAX);
		assert_has(d.reason,
		           "forecast 1e+300 rps in 15s needs 1,073,741,823 replicas (capped)");
	}
	scale_history_release(&h);
	scale_history_init(&h);

	/* A target above every bound, with a small maxReplicas. */
	s = spec_of(1, 50);
	scale_history_init(&h);
	d = eval(&h, &s, 1e300, 40, 0);
	assert_int_equal(d.desired, 50);
	assert_int_equal(d.limited_by, SCALE_LIMIT_MAX_REPLICAS);
	scale_history_release(&h);
}

static void bad_values_fail_the_metric(void **state)
{
	struct scale_spec s = spec_of(1, 50);
	struct scale_history h;
	struct scale_decision d;

	(void)state;
	scale_history_init(&h);
	d = eval(&h, &s, NAN, 5, 0);
	assert_true(d.metrics_failed);
	assert_int_equal(d.failures, 1);
	assert_int_equal(d.desired, 5);
	assert_int_equal(d.driver, -1);
	assert_string_equal(d.reason, "metric rps returned an unusable value nan (failure 1 of 3 "
	                              "before fallback); holding 5");
	d = eval(&h, &s, -5, 5, 15);
	assert_int_equal(d.failures, 2);
	assert_has(d.reason, "metric rps returned an unusable value -5 (failure 2 of 3");
	d = eval(&h, &s, INFINITY, 5, 30);
	assert_int_equal(d.failures, 3);
	assert_true(d.fallback_active);
	assert_has(d.reason, "unusable value inf (3 failures in a row); fallback holds 5");
	d = eval(&h, &s, -INFINITY, 5, 45);
	assert_int_equal(d.failures, 4);
	d = eval(&h, &s, -2500, 5, 60);
	assert_has(d.reason, "metric rps returned an unusable value -2,500 (5 failures");
	scale_history_release(&h);

	/* With several failures the first is told; the evaluation counts once. */
	{
		struct scale_metric m[2] = {failing("timeout"), failing("refused")};

		m[1].name = "cpu";
		scale_history_init(&h);
		d = eval_n(&h, &s, m, 2, 5, 0);
		assert_int_equal(d.failures, 1);
		assert_string_equal(d.reason, "metric rps failed: timeout (failure 1 of 3 before "
		                              "fallback); holding 5");
		scale_history_release(&h);
	}
}

static void empty_results_follow_on_empty(void **state)
{
	struct scale_spec s = spec_of(1, 50);
	struct scale_history h;
	struct scale_decision d;
	struct scale_metric m = rps(12345); /* ignored: the result was empty */
	const struct scale_point up[] = {{60, 1500}};
	struct scale_forecast f = {.ready = true, .error = 0.1, .upper = up, .n_upper = 1};

	(void)state;
	m.sample = SCALE_SAMPLE_EMPTY;
	m.on_empty = SCALE_EMPTY_HOLD;
	scale_history_init(&h);
	d = eval_n(&h, &s, &m, 1, 7, 0);
	assert_false(d.metrics_failed);
	assert_int_equal(d.reactive, 7);
	assert_int_equal(d.recommended, 7);
	assert_int_equal(d.desired, 7);
	assert_int_equal(d.limited_by, SCALE_LIMIT_NONE);
	assert_string_equal(d.reason, "metric rps returned no data, so it holds 7 replicas "
	                              "(onEmpty: Hold); keeping 7");
	/* A held metric still lets its forecast scale up. */
	m.forecast = &f;
	d = eval_n(&h, &s, &m, 1, 7, 15);
	assert_int_equal(d.recommended, 15);
	assert_int_equal(d.desired, 14);
	assert_has(d.reason, "forecast 1,500 rps in 45s needs 15 replicas");
	scale_history_release(&h);

	/* Zero: no load, down to minReplicas (no window in the way). */
	s.behavior.down.stabilization_window_seconds = 0;
	m.forecast = NULL;
	m.on_empty = SCALE_EMPTY_ZERO;
	scale_history_init(&h);
	d = eval_n(&h, &s, &m, 1, 7, 0);
	assert_false(d.metrics_failed);
	assert_int_equal(d.reactive, 0);
	assert_int_equal(d.desired, 1);
	assert_int_equal(d.limited_by, SCALE_LIMIT_MIN_REPLICAS);
	assert_string_equal(d.reason, "observed 0 rps needs 0 replicas; held at minReplicas 1");

	/* Error: a failure that counts toward the fallback. */
	m.on_empty = SCALE_EMPTY_ERROR;
	d = eval_n(&h, &s, &m, 1, 7, 15);
	assert_true(d.metrics_failed);
	assert_int_equal(d.failures, 1);
	assert_int_equal(d.desired, 7);
	assert_string_equal(d.reason, "metric rps returned no data (onEmpty: Error) (failure 1 of "
	                              "3 before fallback); holding 7");
	scale_history_release(&h);
}

/* ---- tolerance -------------------------------------------------------- */

static struct scale_decision eval_fresh(const struct scale_spec *s, double load, int current)
{
	struct scale_history h;
	struct scale_decision d;

	scale_history_init(&h);
	d = eval(&h, s, load, current, 0);
	scale_history_release(&h);
	return d;
}

static void tolerance_holds_small_changes_both_ways(void **state)
{
	struct scale_spec s = spec_of(1, 50);
	struct scale_decision d;

	(void)state;
	s.behavior.down.stabilization_window_seconds = 0;
	s.behavior.up.tolerance = 0.1; /* the HPA's */
	/* Usage ratio 1.05: needs 11, but within 10% of 10. */
	d = eval_fresh(&s, 1050, 10);
	assert_int_equal(d.recommended, 11);
	assert_int_equal(d.desired, 10);
	assert_int_equal(d.limited_by, SCALE_LIMIT_TOLERANCE);
	assert_string_equal(d.reason, "observed 1,050 rps needs 11 replicas; rps usage ratio 1.05 "
	                              "is within the scale-up tolerance 0.1, keeping 10");
	/* The bounds are inclusive, as upstream's isWithin. */
	d = eval_fresh(&s, 1100, 10);
	assert_int_equal(d.desired, 10);
	assert_int_equal(d.limited_by, SCALE_LIMIT_TOLERANCE);
	d = eval_fresh(&s, 1101, 10);
	assert_int_equal(d.desired, 12);
	assert_int_equal(d.limited_by, SCALE_LIMIT_NONE);
	d = eval_fresh(&s, 900, 10);
	assert_int_equal(d.recommended, 9);
	assert_int_equal(d.desired, 10);
	assert_int_equal(d.limited_by, SCALE_LIMIT_TOLERANCE);
	assert_has(d.reason,
	           "rps usage ratio 0.90 is within the scale-down tolerance 0.1, keeping 10");
	d = eval_fresh(&s, 899, 10);
	assert_int_equal(d.desired, 9);
	/* Within tolerance but needing the current count anyway: nothing bit. */
	d = eval_fresh(&s, 950, 10);
	assert_int_equal(d.desired, 10);
	assert_int_equal(d.limited_by, SCALE_LIMIT_NONE);

	/* Per direction. */
	s.behavior.up.tolerance = 0.5;
	s.behavior.down.tolerance = 0;
	d = eval_fresh(&s, 1400, 10);
	assert_int_equal(d.desired, 10);
	assert_int_equal(d.limited_by, SCALE_LIMIT_TOLERANCE);
	assert_has(d.reason, "within the scale-up tolerance 0.5");
	d = eval_fresh(&s, 1501, 10);
	assert_int_equal(d.desired, 16);
	d = eval_fresh(&s, 999, 10);
	assert_int_equal(d.desired, 10); /* needs ceil(9.99) = 10 */
	d = eval_fresh(&s, 899, 10);
	assert_int_equal(d.desired, 9);
}

static void tolerance_measures_the_forecast_load(void **state)
{
	struct scale_spec s = spec_of(1, 50);
	struct scale_history h;
	struct scale_decision d;
	const struct scale_point up[] = {{60, 1080}};
	struct scale_forecast f = {.ready = true, .error = 0.1, .upper = up, .n_upper = 1};
	struct scale_metric m = rps(1000);

	(void)state;
	m.forecast = &f;
	s.behavior.up.tolerance = 0.1;
	scale_history_init(&h);
	d = eval_n(&h, &s, &m, 1, 10, 0);
	assert_int_equal(d.forecast, 11);
	assert_int_equal(d.recommended, 11);
	assert_int_equal(d.desired, 10);
	assert_int_equal(d.limited_by, SCALE_LIMIT_TOLERANCE);
	assert_has(d.reason, "rps usage ratio 1.08");
	scale_history_release(&h);
	/* By default no scale-up tolerance eats into the quantile's headroom. */
	s.behavior.up.tolerance = 0;
	scale_history_init(&h);
	d = eval_n(&h, &s, &m, 1, 10, 0);
	assert_int_equal(d.desired, 11);
	assert_int_equal(d.limited_by, SCALE_LIMIT_NONE);
	scale_history_release(&h);
}

static void tolerance_applies_per_metric(void **state)
{
	struct scale_spec s = spec_of(1, 50);
	struct scale_history h;
	struct scale_decision d;
	struct scale_metric m[2] = {metric("cpu", 1, 3), rps(930)};

	(void)state;
	s.behavior.down.stabilization_window_seconds = 0;
	s.behavior.up.tolerance = 0.1;
	/* cpu alone would go to 3; rps is within tolerance and proposes 10. */
	scale_history_init(&h);
	d = eval_n(&h, &s, m, 2, 10, 0);
	assert_int_equal(d.recommended, 10);
	assert_int_equal(d.driver, 1);
	assert_int_equal(d.desired, 10);
	assert_int_equal(d.limited_by, SCALE_LIMIT_NONE);
	m[1].observed = 900;
	d = eval_n(&h, &s, m, 2, 10, 15);
	assert_int_equal(d.recommended, 9);
	assert_int_equal(d.desired, 10);
	assert_int_equal(d.limited_by, SCALE_LIMIT_TOLERANCE);
	assert_has(d.reason, "rps usage ratio 0.90");
	/* Both kept by tolerance: the reason tells of the one that needed most. */
	m[0] = metric("cpu", 1, 9);
	m[1] = rps(1050);
	d = eval_n(&h, &s, m, 2, 10, 30);
	assert_int_equal(d.recommended, 11);
	assert_int_equal(d.desired, 10);
	assert_int_equal(d.limited_by, SCALE_LIMIT_TOLERANCE);
	assert_has(d.reason, "rps usage ratio 1.05 is within the scale-up tolerance");
	scale_history_release(&h);
}

/* ---- behaviour: HPA parity --------------------------------------------- */

static void default_scale_up_from_one(void **state)
{
	struct scale_spec s = spec_of(1, 100);
	struct scale_history h;
	struct scale_decision d;
	int current = 1;

	(void)state;
	scale_history_init(&h);
	/* From 1: Percent 100 allows 2, Pods 4 allows 5, Max takes 5. */
	d = step(&h, &s, 10000, &current, 0);
	assert_int_equal(d.recommended, 100);
	assert_int_equal(current, 5);
	assert_int_equal(d.limited_by, SCALE_LIMIT_BEHAVIOR);
	assert_string_equal(d.reason, "observed 10,000 rps needs 100 replicas; scale-up rate "
	                              "limited to 5 by policy Pods 4/15s");
	/* Within the same 15 s period the 4 added count: still 5. */
	d = step(&h, &s, 10000, &current, 5);
	assert_int_equal(current, 5);
	assert_int_equal(d.limited_by, SCALE_LIMIT_BEHAVIOR);
	d = step(&h, &s, 10000, &current, 14.9);
	assert_int_equal(current, 5);
	/* A period later, from 5: Percent 10 beats Pods 9; and so on, doubling. */
	d = step(&h, &s, 10000, &current, 15);
	assert_int_equal(current, 10);
	assert_has(d.reason, "scale-up rate limited to 10 by policy Percent 100/15s");
	step(&h, &s, 10000, &current, 30);
	assert_int_equal(current, 20);
	step(&h, &s, 10000, &current, 45);
	assert_int_equal(current, 40);
	step(&h, &s, 10000, &current, 60);
	assert_int_equal(current, 80);
	/* 160 allowed, 100 needed, maxReplicas 100: the bound names it. */
	d = step(&h, &s, 20000, &current, 75);
	assert_int_equal(current, 100);
	assert_int_equal(d.limited_by, SCALE_LIMIT_MAX_REPLICAS);
	assert_string_equal(d.reason, "observed 20,000 rps needs 200 replicas; capped at "
	                              "maxReplicas 100");
	scale_history_release(&h);
}

static void scale_down_waits_for_the_window_then_follows_its_max(void **state)
{
	struct scale_spec s = spec_of(1, 20);
	struct scale_history h;
	struct scale_decision d;
	int current = 10;

	(void)state;
	scale_history_init(&h);
	for (int t = 0; t < 300; t += 15) {
		/* The count found at t=0 (10) is in the 300 s window until t=300. */
		d = step(&h, &s, t == 120 ? 600 : 200, &current, t);
		assert_int_equal(d.recommended, t == 120 ? 6 : 2);
		assert_int_equal(current, 10);
		assert_int_equal(d.limited_by, SCALE_LIMIT_BEHAVIOR);
	}
	assert_string_equal(d.reason,
	                    "observed 200 rps needs 2 replicas; scale-down held at 10 by "
	                    "the 300s stabilization window (highest recent recommendation)");
	/* At 300 the window is (0, 300]: its highest is the 6 of t=120. */
	d = step(&h, &s, 200, &current, 300);
	assert_int_equal(current, 6);
	assert_int_equal(d.limited_by, SCALE_LIMIT_BEHAVIOR);
	assert_has(d.reason, "scale-down held at 6 by the 300s stabilization window");
	for (int t = 315; t < 420; t += 15) {
		step(&h, &s, 200, &current, t);
		assert_int_equal(current, 6);
	}
	/* At 420 the 6 has left the window. */
	d = step(&h, &s, 200, &current, 420);
	assert_int_equal(current, 2);
	assert_int_equal(d.limited_by, SCALE_LIMIT_NONE);
	assert_string_equal(d.reason, "observed 200 rps needs 2 replicas; scaling from 6 to 2");
	scale_history_release(&h);
}

static void stabilization_damps_flapping(void **state)
{
	struct scale_spec s = spec_of(1, 20);
	struct scale_history h;
	struct scale_decision d;
	int current = 5;

	(void)state;
	s.behavior.up.stabilization_window_seconds = 60;
	s.behavior.down.stabilization_window_seconds = 60;
	scale_history_init(&h);
	/* 10, 3, 10, 3, then 10 for good: held at 5 until the 3s leave the up window. */
	for (int t = 0; t <= 90; t += 15) {
		d = step(&h, &s, (t == 15 || t == 45) ? 300 : 1000, &current, t);
		assert_int_equal(current, 5);
		assert_int_equal(d.limited_by, SCALE_LIMIT_BEHAVIOR);
	}
	assert_string_equal(d.reason,
	                    "observed 1,000 rps needs 10 replicas; scale-up held at 5 by "
	                    "the 60s stabilization window (lowest recent recommendation)");
	d = step(&h, &s, 300, &current, 45.5);
	assert_int_equal(current, 5);
	assert_has(d.reason, "scale-down held at 5 by the 60s stabilization window");
	scale_history_release(&h);

	/* The same input without the 3 at 45.5: at 105, (45, 105] holds only 10s. */
	current = 5;
	scale_history_init(&h);
	for (int t = 0; t <= 90; t += 15)
		step(&h, &s, (t == 15 || t == 45) ? 300 : 1000, &current, t);
	d = step(&h, &s, 1000, &current, 105);
	assert_int_equal(current, 10);
	assert_int_equal(d.limited_by, SCALE_LIMIT_NONE);
	scale_history_release(&h);
}

static void select_policy_min_and_disabled(void **state)
{
	struct scale_spec s = spec_of(1, 100);
	struct scale_decision d;

	(void)state;
	s.behavior.up.select = SCALE_SELECT_MIN;
	d = eval_fresh(&s, 10000, 1);
	assert_int_equal(d.desired, 2);
	assert_has(d.reason, "scale-up rate limited to 2 by policy Percent 100/15s");
	s.behavior.up.select = SCALE_SELECT_DISABLED;
	d = eval_fresh(&s, 10000, 1);
	assert_int_equal(d.desired, 1);
	assert_int_equal(d.limited_by, SCALE_LIMIT_BEHAVIOR);
	assert_has(d.reason, "; scale-up disabled by selectPolicy Disabled");

	s = spec_of(1, 100);
	s.behavior.down.stabilization_window_seconds = 0;
	s.behavior.down.n_policies = 2;
	s.behavior.down.policies[0] = (struct scale_policy){SCALE_POLICY_PERCENT, 50, 60};
	s.behavior.down.policies[1] = (struct scale_policy){SCALE_POLICY_PODS, 1, 60};
	/* Scaling down, Max takes the biggest change: Percent to 5 over Pods to 9. */
	d = eval_fresh(&s, 100, 10);
	assert_int_equal(d.desired, 5);
	assert_has(d.reason, "scale-down rate limited to 5 by policy Percent 50/60s");
	s.behavior.down.select = SCALE_SELECT_MIN;
	d = eval_fresh(&s, 100, 10);
	assert_int_equal(d.desired, 9);
	assert_has(d.reason, "scale-down rate limited to 9 by policy Pods 1/60s");
	s.behavior.down.select = SCALE_SELECT_DISABLED;
	d = eval_fresh(&s, 100, 10);
	assert_int_equal(d.desired, 10);
	assert_int_equal(d.limited_by, SCALE_LIMIT_BEHAVIOR);
	assert_has(d.reason, "scale-down disabled by selectPolicy Disabled");
}

static void percent_policies_round_as_upstream(void **state)
{
	struct scale_spec s = spec_of(1, 100);
	struct scale_decision d;

	(void)state;
	s.behavior.up.n_policies = 1;
	s.behavior.up.policies[0] = (struct scale_policy){SCALE_POLICY_PERCENT, 10, 60};
	/* Up rounds up: ceil(3 * 1.1) = 4; and 50 * 1.1 is 55.00000000000001 in doubles: 56. */
	d = eval_fresh(&s, 9000, 3);
	assert_int_equal(d.desired, 4);
	d = eval_fresh(&s, 9000, 50);
	assert_int_equal(d.desired, 56);
	/* Down truncates: 7 * 0.5 = 3.5 gives 3; 15 * 0.2 is 2.999999999999999: 2. */
	s.behavior.down.stabilization_window_seconds = 0;
	s.behavior.down.policies[0] = (struct scale_policy){SCALE_POLICY_PERCENT, 50, 15};
	d = eval_fresh(&s, 0, 7);
	assert_int_equal(d.desired, 3);
	assert_int_equal(d.limited_by, SCALE_LIMIT_BEHAVIOR);
	s.behavior.down.policies[0].value = 80;
	d = eval_fresh(&s, 0, 15);
	assert_int_equal(d.desired, 2);
	/* A Percent above 100 may take it to minReplicas at once. */
	s.behavior.down.policies[0].value = 300;
	d = eval_fresh(&s, 0, 7);
	assert_int_equal(d.desired, 1);
	assert_int_equal(d.limited_by, SCALE_LIMIT_MIN_REPLICAS);
}

static void rate_counts_scale_events_of_both_directions(void **state)
{
	struct scale_spec s = spec_of(1, 100);
	struct scale_history h;
	struct scale_decision d;

	(void)state;
	s.behavior.up.n_policies = 1;
	s.behavior.up.policies[0] = (struct scale_policy){SCALE_POLICY_PODS, 4, 60};
	/* Scaled down 10 -> 6 at 0: the period started at 10, so up to 14 at 30. */
	scale_history_init(&h);
	assert_int_equal(scale_history_record_scale(&h, 0, 10, 6, NULL), FS_OK);
	d = eval(&h, &s, 2000, 6, 30);
	assert_int_equal(d.desired, 14);
	assert_int_equal(d.limited_by, SCALE_LIMIT_BEHAVIOR);
	/* At 60 the event is out of the period: from 6, up to 10. */
	d = eval(&h, &s, 2000, 6, 60);
	assert_int_equal(d.desired, 10);
	scale_history_release(&h);

	/* Scaled up 5 -> 15 by hand at 0: past the policy already, so no scale-up. */
	scale_history_init(&h);
	assert_int_equal(scale_history_record_scale(&h, 0, 5, 15, NULL), FS_OK);
	d = eval(&h, &s, 3000, 15, 30);
	assert_int_equal(d.desired, 15);
	assert_int_equal(d.limited_by, SCALE_LIMIT_BEHAVIOR);
	assert_has(d.reason, "scale-up rate limited to 15 by policy Pods 4/60s");
	scale_history_release(&h);

	/* Down the same way: 10 -> 5 at 0 uses up Percent 50/60s until 60. */
	s = spec_of(1, 100);
	s.behavior.down.stabilization_window_seconds = 0;
	s.behavior.down.policies[0] = (struct scale_policy){SCALE_POLICY_PERCENT, 50, 60};
	scale_history_init(&h);
	d = eval(&h, &s, 100, 10, 0);
	assert_int_equal(d.desired, 5);
	assert_int_equal(scale_history_record_scale(&h, 0, 10, 5, NULL), FS_OK);
	d = eval(&h, &s, 100, 5, 30);
	assert_int_equal(d.desired, 5);
	assert_int_equal(d.limited_by, SCALE_LIMIT_BEHAVIOR);
	assert_has(d.reason, "scale-down rate limited to 5 by policy Percent 50/60s");
	d = eval(&h, &s, 100, 5, 60);
	assert_int_equal(d.desired, 2);
	scale_history_release(&h);

	/* Scaled down 10 -> 3 by hand: past the policy already, so no scale-down. */
	scale_history_init(&h);
	assert_int_equal(scale_history_record_scale(&h, 0, 10, 3, NULL), FS_OK);
	d = eval(&h, &s, 100, 3, 30);
	assert_int_equal(d.desired, 3);
	assert_int_equal(d.limited_by, SCALE_LIMIT_BEHAVIOR);
	assert_has(d.reason, "scale-down rate limited to 3 by policy Percent 50/60s");
	scale_history_release(&h);
}

/* ---- bounds ----------------------------------------------------------- */

static void min_and_max_clamp_with_hpa_names(void **state)
{
	struct scale_spec s = spec_of(3, 10);
	struct scale_decision d;

	(void)state;
	/* Rate allows 16, max 10: MaxReplicas. */
	d = eval_fresh(&s, 5000, 8);
	assert_int_equal(d.desired, 10);
	assert_int_equal(d.limited_by, SCALE_LIMIT_MAX_REPLICAS);
	/* Rate allows exactly max (5 -> 10): the bound names it, as TooManyReplicas. */
	d = eval_fresh(&s, 5000, 5);
	assert_int_equal(d.desired, 10);
	assert_int_equal(d.limited_by, SCALE_LIMIT_MAX_REPLICAS);
	/* Rate allows 8 below max: Behavior. */
	d = eval_fresh(&s, 5000, 4);
	assert_int_equal(d.desired, 8);
	assert_int_equal(d.limited_by, SCALE_LIMIT_BEHAVIOR);

	s.behavior.down.stabilization_window_seconds = 0;
	d = eval_fresh(&s, 0, 4);
	assert_int_equal(d.desired, 3);
	assert_int_equal(d.limited_by, SCALE_LIMIT_MIN_REPLICAS);
	assert_has(d.reason, "; held at minReplicas 3");
	s.behavior.down.policies[0] = (struct scale_policy){SCALE_POLICY_PODS, 1, 15};
	d = eval_fresh(&s, 0, 10);
	assert_int_equal(d.desired, 9);
	assert_int_equal(d.limited_by, SCALE_LIMIT_BEHAVIOR);
	/* Rate allows exactly min (4 -> 3): the bound names it, as TooFewReplicas. */
	d = eval_fresh(&s, 0, 4);
	assert_int_equal(d.desired, 3);
	assert_int_equal(d.limited_by, SCALE_LIMIT_MIN_REPLICAS);
}

static void a_target_out_of_bounds_comes_back_at_once(void **state)
{
	struct scale_spec s = spec_of(3, 50);
	struct scale_history h;
	struct scale_decision d;

	(void)state;
	scale_history_init(&h);
	/* 60 -> 50 with no rate limit and no window, as the HPA. */
	d = eval(&h, &s, 6000, 60, 0);
	assert_int_equal(d.recommended, 60);
	assert_int_equal(d.desired, 50);
	assert_int_equal(d.limited_by, SCALE_LIMIT_MAX_REPLICAS);
	assert_string_equal(d.reason, "observed 6,000 rps needs 60 replicas; current 60 is above "
	                              "maxReplicas 50, scaling to 50");
	assert_int_equal(h.recs.len, 1); /* the count found; no recommendation */
	d = eval(&h, &s, 6000, 1, 15);
	assert_int_equal(d.desired, 3);
	assert_int_equal(d.limited_by, SCALE_LIMIT_MIN_REPLICAS);
	assert_has(d.reason, "; current 1 is below minReplicas 3, scaling to 3");
	scale_history_release(&h);
}

static void a_target_at_zero_is_left_alone(void **state)
{
	struct scale_spec s = spec_of(1, 50);
	struct scale_decision d;

	(void)state;
	d = eval_fresh(&s, 900, 0);
	assert_int_equal(d.desired, 0);
	assert_int_equal(d.limited_by, SCALE_LIMIT_NONE);
	assert_string_equal(d.reason, "observed 900 rps needs 9 replicas; the target is scaled to "
	                              "0, so autoscaling is off until it is scaled up");
	/* With minReplicas 0 it scales from zero (no tolerance: no usage ratio at 0). */
	s.min_replicas = 0;
	d = eval_fresh(&s, 250, 0);
	assert_int_equal(d.desired, 3);
	assert_string_equal(d.reason, "observed 250 rps needs 3 replicas; scaling from 0 to 3");
	d = eval_fresh(&s, 0, 0);
	assert_int_equal(d.desired, 0);
}

/* ---- mode ------------------------------------------------------------- */

static void dry_run_computes_records_and_keeps(void **state)
{
	struct scale_spec s = spec_of(1, 50);
	struct scale_history h;
	struct scale_decision d;

	(void)state;
	s.mode = SCALE_MODE_DRY_RUN;
	scale_history_init(&h);
	d = eval(&h, &s, 1300, 3, 0);
	assert_int_equal(d.recommended, 13);
	assert_int_equal(d.proposed, 7);
	assert_int_equal(d.desired, 3);
	assert_int_equal(d.limited_by, SCALE_LIMIT_DRY_RUN);
	assert_int_equal(d.clamped_by, SCALE_LIMIT_BEHAVIOR);
	assert_string_equal(d.reason,
	                    "observed 1,300 rps needs 13 replicas; scale-up rate limited "
	                    "to 7 by policy Pods 4/15s; dry run, would scale from 3 to 7");
	assert_true(h.started);
	assert_int_equal(h.recs.len, 2);
	d = eval(&h, &s, 300, 3, 15);
	assert_int_equal(d.limited_by, SCALE_LIMIT_DRY_RUN);
	assert_int_equal(d.clamped_by, SCALE_LIMIT_NONE);
	assert_string_equal(d.reason, "observed 300 rps needs 3 replicas; dry run, would keep 3");
	d = eval(&h, &s, 600, 3, 30);
	assert_string_equal(d.reason,
	                    "observed 600 rps needs 6 replicas; dry run, would scale from 3 to 6");
	/* Failures count in a dry run, as they would for real. */
	{
		struct scale_metric m = failing("timeout");

		d = eval_n(&h, &s, &m, 1, 3, 45);
		assert_int_equal(d.failures, 1);
		assert_int_equal(h.failures, 1);
		assert_int_equal(d.limited_by, SCALE_LIMIT_DRY_RUN);
	}
	scale_history_release(&h);
}

static void paused_computes_and_touches_nothing(void **state)
{
	struct scale_spec s = spec_of(1, 50);
	struct scale_history h;
	struct scale_decision d;
	struct scale_metric m = failing("timeout");

	(void)state;
	s.mode = SCALE_MODE_PAUSED;
	scale_history_init(&h);
	d = eval(&h, &s, 1300, 3, 0);
	assert_int_equal(d.proposed, 7);
	assert_int_equal(d.desired, 3);
	assert_int_equal(d.limited_by, SCALE_LIMIT_PAUSED);
	assert_has(d.reason, "Pods 4/15s; paused at 3 (would scale to 7)");
	d = eval(&h, &s, 300, 3, 15);
	assert_string_equal(d.reason, "observed 300 rps needs 3 replicas; paused at 3");
	d = eval_n(&h, &s, &m, 1, 3, 30);
	assert_int_equal(d.failures, 1);
	assert_false(h.started);
	assert_int_equal(h.recs.len, 0);
	assert_int_equal(h.failures, 0);
	/* Paused leaves even an out-of-bounds count alone. */
	d = eval(&h, &s, 300, 80, 45);
	assert_int_equal(d.proposed, 50);
	assert_int_equal(d.desired, 80);
	assert_int_equal(d.limited_by, SCALE_LIMIT_PAUSED);
	scale_history_release(&h);
}

/* ---- failures and fallback -------------------------------------------- */

static void fallback_hold_after_the_threshold(void **state)
{
	struct scale_spec s = spec_of(1, 50);
	struct scale_history h;
	struct scale_decision d;
	struct scale_metric m = failing("connection refused");

	(void)state;
	scale_history_init(&h);
	d = eval_n(&h, &s, &m, 1, 5, 0);
	assert_true(d.metrics_failed);
	assert_false(d.fallback_active);
	assert_int_equal(d.failures, 1);
	assert_int_equal(d.recommended, 5);
	assert_int_equal(d.desired, 5);
	assert_int_equal(d.limited_by, SCALE_LIMIT_NONE);
	assert_string_equal(d.reason,
	                    "metric rps failed: connection refused (failure 1 of 3 before "
	                    "fallback); holding 5");
	d = eval_n(&h, &s, &m, 1, 5, 15);
	assert_false(d.fallback_active);
	assert_int_equal(d.failures, 2);
	d = eval_n(&h, &s, &m, 1, 5, 30);
	assert_true(d.fallback_active);
	assert_int_equal(d.failures, 3);
	assert_int_equal(d.desired, 5);
	assert_string_equal(d.reason,
	                    "metric rps failed: connection refused (3 failures in a row); "
	                    "fallback holds 5");
	m.error = NULL;
	d = eval_n(&h, &s, &m, 1, 5, 45);
	assert_true(d.fallback_active);
	assert_has(d.reason, "metric rps failed: query error (4 failures in a row)");
	/* The count saturates rather than overflow. */
	h.failures = INT_MAX;
	d = eval_n(&h, &s, &m, 1, 5, 50);
	assert_int_equal(d.failures, INT_MAX);
	/* One good evaluation ends it. */
	d = eval(&h, &s, 500, 5, 60);
	assert_false(d.metrics_failed);
	assert_false(d.fallback_active);
	assert_int_equal(d.failures, 0);
	assert_int_equal(h.failures, 0);
	scale_history_release(&h);
}

static void fallback_replicas_clamped_to_bounds(void **state)
{
	struct scale_spec s = spec_of(2, 50);
	struct scale_history h;
	struct scale_decision d;
	struct scale_metric m = failing("timeout");

	(void)state;
	s.fallback = (struct scale_fallback){2, SCALE_FALLBACK_REPLICAS, 20};
	scale_history_init(&h);
	d = eval_n(&h, &s, &m, 1, 4, 0);
	assert_int_equal(d.desired, 4);
	assert_false(d.fallback_active);
	/* At the threshold, straight to 20: no rate policy for a declared outage count. */
	d = eval_n(&h, &s, &m, 1, 4, 15);
	assert_true(d.fallback_active);
	assert_int_equal(d.recommended, 20);
	assert_int_equal(d.desired, 20);
	assert_int_equal(d.limited_by, SCALE_LIMIT_NONE);
	assert_string_equal(d.reason, "metric rps failed: timeout (2 failures in a row); fallback "
	                              "to 20");
	s.fallback.replicas = 80;
	d = eval_n(&h, &s, &m, 1, 4, 30);
	assert_int_equal(d.recommended, 80);
	assert_int_equal(d.desired, 50);
	assert_int_equal(d.limited_by, SCALE_LIMIT_MAX_REPLICAS);
	assert_has(d.reason, "; fallback to 80, capped at maxReplicas 50");
	s.fallback.replicas = 0;
	d = eval_n(&h, &s, &m, 1, 4, 45);
	assert_int_equal(d.desired, 2);
	assert_int_equal(d.limited_by, SCALE_LIMIT_MIN_REPLICAS);
	assert_has(d.reason, "; fallback to 0, raised to minReplicas 2");
	/* Before the threshold a count outside the bounds still comes back. */
	scale_history_release(&h);
	scale_history_init(&h);
	d = eval_n(&h, &s, &m, 1, 70, 0);
	assert_int_equal(d.desired, 50);
	assert_int_equal(d.limited_by, SCALE_LIMIT_MAX_REPLICAS);
	assert_has(d.reason, "; holding 70, capped at maxReplicas 50");
	scale_history_release(&h);
}

static void partial_failures_block_scale_down_only(void **state)
{
	struct scale_spec s = spec_of(1, 50);
	struct scale_history h;
	struct scale_decision d;
	struct scale_metric m[2] = {failing("timeout"), metric("cpu", 1, 2)};

	(void)state;
	s.behavior.down.stabilization_window_seconds = 0;
	scale_history_init(&h);
	d = eval_n(&h, &s, m, 2, 10, 0);
	assert_true(d.metrics_failed);
	assert_int_equal(d.failures, 1);
	assert_int_equal(d.desired, 10);
	assert_int_equal(d.reactive, 2);
	assert_string_equal(d.reason,
	                    "metric rps failed: timeout, others would scale down (failure "
	                    "1 of 3 before fallback); holding 10");
	/* The good metric asks for more: scale up on it. */
	m[1].observed = 14;
	d = eval_n(&h, &s, m, 2, 10, 15);
	assert_false(d.metrics_failed);
	assert_int_equal(d.failures, 0);
	assert_int_equal(d.driver, 1);
	assert_int_equal(d.desired, 14);
	scale_history_release(&h);
}

/* ---- budget ----------------------------------------------------------- */

static void budget_caps_scale_ups_only(void **state)
{
	struct scale_spec s = spec_of(1, 50);
	struct scale_decision d, before;

	(void)state;
	d = eval_fresh(&s, 700, 3);
	assert_int_equal(d.desired, 7);
	before = d;
	scale_apply_budget(&d, 10);
	assert_memory_equal(&d, &before, sizeof(d));
	scale_apply_budget(&d, 7);
	assert_memory_equal(&d, &before, sizeof(d));
	scale_apply_budget(&d, 5);
	assert_int_equal(d.desired, 5);
	assert_int_equal(d.proposed, 5);
	assert_int_equal(d.limited_by, SCALE_LIMIT_BUDGET);
	assert_string_equal(d.reason, "observed 700 rps needs 7 replicas; scale-up capped at 5 by "
	                              "the concurrency budget");
	/* Never below the current count. */
	d = before;
	scale_apply_budget(&d, 1);
	assert_int_equal(d.desired, 3);
	assert_int_equal(d.limited_by, SCALE_LIMIT_BUDGET);
	d = before;
	scale_apply_budget(&d, -4);
	assert_int_equal(d.desired, 3);

	/* Scale-downs and steady counts pass untouched. */
	s.behavior.down.stabilization_window_seconds = 0;
	d = eval_fresh(&s, 200, 8);
	assert_int_equal(d.desired, 2);
	before = d;
	scale_apply_budget(&d, 0);
	assert_memory_equal(&d, &before, sizeof(d));

	/* In a dry run the budget shapes what would happen. */
	s.mode = SCALE_MODE_DRY_RUN;
	d = eval_fresh(&s, 700, 3);
	scale_apply_budget(&d, 5);
	assert_int_equal(d.desired, 3);
	assert_int_equal(d.proposed, 5);
	assert_int_equal(d.limited_by, SCALE_LIMIT_DRY_RUN);
	assert_int_equal(d.clamped_by, SCALE_LIMIT_BUDGET);
	assert_string_equal(d.reason, "observed 700 rps needs 7 replicas; scale-up capped at 5 by "
	                              "the concurrency budget; dry run, would scale from 3 to 5");
}

/* ---- history ---------------------------------------------------------- */

static void history_is_bounded_and_pruned(void **state)
{
	struct scale_spec s = spec_of(1, 50);
	struct scale_history h;
	struct fs_err err;

	(void)state;
	s.behavior.down.stabilization_window_seconds = SCALE_WINDOW_MAX;
	scale_history_init(&h);
	assert_null(h.recs.v);
	for (int t = 0; t < 3000; t++)
		eval(&h, &s, 500, 5, t);
	assert_int_equal(h.recs.len, SCALE_HISTORY_CAP);
	assert_int_equal(h.recs.alloc, SCALE_HISTORY_CAP);
	for (int t = 0; t < 2000; t++)
		assert_int_equal(scale_history_record_scale(&h, t, 5 + t % 2, 6 - t % 2, &err),
		                 FS_OK);
	assert_int_equal(h.events.len, SCALE_HISTORY_CAP);
	/* The newest survive: the last event, 6 -> 5 at t=1999, is there. */
	assert_int_equal(h.events.v[(h.events.start + h.events.len - 1) % h.events.alloc].n, -1);
	/* Entries older than every window and period go. */
	s.behavior.down.stabilization_window_seconds = 0;
	eval(&h, &s, 500, 5, 5000);
	assert_int_equal(h.events.len, 0);
	assert_int_equal(h.recs.len, 1);
	scale_history_release(&h);
	assert_null(h.recs.v);
	assert_int_equal(h.recs.len, 0);
	assert_false(h.started);

	/* Windows of 0: only the latest recommendation is ever kept. */
	s.behavior.down.stabilization_window_seconds = 0;
	scale_history_init(&h);
	for (int t = 0; t < 100; t++)
		eval(&h, &s, 500, 5, t);
	assert_int_equal(h.recs.len, 1);
	assert_true(h.recs.alloc <= 16);
	scale_history_release(&h);
}

static void history_record_scale_checks_its_input(void **state)
{
	struct scale_history h;
	struct fs_err err;

	(void)state;
	scale_history_init(&h);
	assert_int_equal(scale_history_record_scale(&h, 0, 3, 3, &err), FS_OK);
	assert_int_equal(h.events.len, 0);
	assert_null(h.events.v);
	assert_int_equal(scale_history_record_scale(&h, NAN, 3, 4, &err), FS_EINVAL);
	assert_string_equal(err.msg, "scale event: time must be a finite number");
	assert_int_equal(scale_history_record_scale(&h, 0, -1, 4, &err), FS_EINVAL);
	assert_string_equal(err.msg, "scale event: replica counts must be >= 0, not -1 -> 4");
	assert_int_equal(scale_history_record_scale(&h, 0, 4, -1, &err), FS_EINVAL);
	assert_int_equal(h.events.len, 0);
	scale_history_release(&h);
}

static void long_reasons_are_cut_not_overflowed(void **state)
{
	char name[200], want[SCALE_REASON_MAX];
	struct scale_spec s = spec_of(1, 50);
	struct scale_history h;
	struct scale_decision d;
	struct scale_metric m;

	(void)state;
	memset(name, 'x', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	m = metric(name, 100, 1300);
	s.mode = SCALE_MODE_DRY_RUN;
	scale_history_init(&h);
	d = eval_n(&h, &s, &m, 1, 3, 0);
	assert_int_equal(d.desired, 3);
	assert_int_equal(d.proposed, 7);
	/* The name is cut to 48 characters; the numbers all stay. */
	memcpy(want, "observed 1,300 ", 15);
	memset(want + 15, 'x', 48);
	strcpy(want + 63, " needs 13 replicas; scale-up rate limited to 7 by policy Pods 4/15s; "
	                  "dry run, would scale from 3 to 7");
	assert_string_equal(d.reason, want);
	m = failing("a very long error message, as curl can give, repeated until it no longer "
	            "fits in the reason a status can carry, and then some more words after that");
	m.name = name;
	d = eval_n(&h, &s, &m, 1, 3, 15);
	assert_int_equal(strlen(d.basis), sizeof(d.basis) - 1);
	/* Cut in the middle: where it failed and why both stay, and the count. */
	assert_true(strncmp(d.reason, "metric xxxxxxxxxx", 17) == 0);
	assert_has(d.reason, "x...");
	assert_has(d.reason, "and then some more words after that (failure 1 of 3 before "
	                     "fallback); holding 3; dry run, would keep 3");
	scale_history_release(&h);
}

/* A failure too long for the reason keeps its cause, and no UTF-8 sequence is split. */
static void a_long_failure_keeps_its_cause(void **state)
{
	char error[400];
	struct scale_spec s = spec_of(1, 50);
	struct scale_history h;
	struct scale_decision d;
	struct scale_metric m;
	size_t n = 0;

	(void)state;
	n += (size_t)snprintf(error, sizeof(error), "query failed: Prometheus https://");
	while (n < 200) {
		memcpy(error + n, "\xc3\xa9", 2); /* an e with an acute accent, two bytes */
		n += 2;
	}
	snprintf(error + n, sizeof(error) - n,
	         ": query \"sum(rate(x[2m]))\": HTTP 500: upstream down");
	m = failing(error);
	s.fallback.failure_threshold = 1;
	scale_history_init(&h);
	d = eval_n(&h, &s, &m, 1, 3, 0);
	assert_true(d.fallback_active);
	assert_has(d.reason, "metric rps failed: query failed");
	assert_has(d.reason, "...");
	assert_has(d.reason, ": HTTP 500: upstream down (1 failure in a row); fallback holds 3");
	for (const char *p = d.reason; *p; p++) {
		if (*p == '\xc3')
			assert_int_equal(p[1], '\xa9');
		if (*p == '\xa9')
			assert_true(p > d.reason && p[-1] == '\xc3');
	}
	scale_history_release(&h);
}

static void limit_names_are_the_status_names(void **state)
{
	(void)state;
	assert_string_equal(scale_limit_name(SCALE_LIMIT_NONE), "None");
	assert_string_equal(scale_limit_name(SCALE_LIMIT_MIN_REPLICAS), "MinReplicas");
	assert_string_equal(scale_limit_name(SCALE_LIMIT_MAX_REPLICAS), "MaxReplicas");
	assert_string_equal(scale_limit_name(SCALE_LIMIT_BEHAVIOR), "Behavior");
	assert_string_equal(scale_limit_name(SCALE_LIMIT_BUDGET), "Budget");
	assert_string_equal(scale_limit_name(SCALE_LIMIT_TOLERANCE), "Tolerance");
	assert_string_equal(scale_limit_name(SCALE_LIMIT_DRY_RUN), "DryRun");
	assert_string_equal(scale_limit_name(SCALE_LIMIT_PAUSED), "Paused");
	assert_string_equal(scale_limit_name((enum scale_limit)99), "Unknown");
}

static void reasons_print_durations_for_people(void **state)
{
	struct scale_point up[] = {{45, 2000}};
	struct scale_forecast f = {.ready = true, .error = 0.1, .upper = up, .n_upper = 1};
	struct scale_spec s = spec_of(1, 50);
	struct scale_history h;
	struct scale_decision d;
	struct scale_metric m = rps(100);
	const struct {
		double at;
		const char *says;
	} cases[] = {
	    {45, "in 45s"},   {120, "in 2m "},    {150, "in 2m30s"},
	    {3600, "in 1h "}, {5400, "in 1h30m"},
	};

	(void)state;
	m.forecast = &f;
	s.lead_time = 7200;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		up[0].t = cases[i].at;
		scale_history_init(&h);
		d = eval_n(&h, &s, &m, 1, 20, 0);
		assert_has(d.reason, cases[i].says);
		scale_history_release(&h);
	}
	s.lead_time = 1e13;
	up[0].t = -1;
	scale_history_init(&h);
	d = eval_n(&h, &s, &m, 1, 20, 0);
	assert_string_equal(
	    d.forecast_reason,
	    "forecast for rps left out: it has no point within the leadTime (1e+13s)");
	scale_history_release(&h);
	s.lead_time = 0;
	up[0].t = 45;
	scale_history_init(&h);
	d = eval_n(&h, &s, &m, 1, 20, 0);
	assert_string_equal(d.forecast_reason,
	                    "forecast for rps left out: it has no point within the leadTime (0s)");
	scale_history_release(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(defaults_are_the_hpa_defaults),
	    cmocka_unit_test(validation_names_the_bad_field),
	    cmocka_unit_test(spec_validation_covers_every_field),
	    cmocka_unit_test(evaluate_rejects_bad_input_and_changes_nothing),
	    cmocka_unit_test(reactive_is_the_ceiling_of_load_over_target),
	    cmocka_unit_test(forecast_within_lead_time_raises_the_recommendation),
	    cmocka_unit_test(forecast_vetoes_a_scale_down_when_load_returns),
	    cmocka_unit_test(unusable_forecast_leaves_reactive_with_a_reason),
	    cmocka_unit_test(forecast_points_must_be_ahead_and_finite),
	    cmocka_unit_test(without_forecasts_the_condition_says_so),
	    cmocka_unit_test(the_largest_metric_drives),
	    cmocka_unit_test(huge_inputs_are_capped_and_reported),
	    cmocka_unit_test(bad_values_fail_the_metric),
	    cmocka_unit_test(empty_results_follow_on_empty),
	    cmocka_unit_test(tolerance_holds_small_changes_both_ways),
	    cmocka_unit_test(tolerance_measures_the_forecast_load),
	    cmocka_unit_test(tolerance_applies_per_metric),
	    cmocka_unit_test(default_scale_up_from_one),
	    cmocka_unit_test(scale_down_waits_for_the_window_then_follows_its_max),
	    cmocka_unit_test(stabilization_damps_flapping),
	    cmocka_unit_test(select_policy_min_and_disabled),
	    cmocka_unit_test(percent_policies_round_as_upstream),
	    cmocka_unit_test(rate_counts_scale_events_of_both_directions),
	    cmocka_unit_test(min_and_max_clamp_with_hpa_names),
	    cmocka_unit_test(a_target_out_of_bounds_comes_back_at_once),
	    cmocka_unit_test(a_target_at_zero_is_left_alone),
	    cmocka_unit_test(dry_run_computes_records_and_keeps),
	    cmocka_unit_test(paused_computes_and_touches_nothing),
	    cmocka_unit_test(fallback_hold_after_the_threshold),
	    cmocka_unit_test(fallback_replicas_clamped_to_bounds),
	    cmocka_unit_test(partial_failures_block_scale_down_only),
	    cmocka_unit_test(budget_caps_scale_ups_only),
	    cmocka_unit_test(history_is_bounded_and_pruned),
	    cmocka_unit_test(history_record_scale_checks_its_input),
	    cmocka_unit_test(long_reasons_are_cut_not_overflowed),
	    cmocka_unit_test(a_long_failure_keeps_its_cause),
	    cmocka_unit_test(limit_names_are_the_status_names),
	    cmocka_unit_test(reasons_print_durations_for_people),
	};

	return cmocka_run_group_tests_name("scaling", tests, NULL, NULL);
}
