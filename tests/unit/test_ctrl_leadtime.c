/* Unit tests of the learned lead time (operator/controller/leadtime). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>

#include "controller/leadtime.h"

static void default_until_measured(void **state)
{
	struct lead_learner l;

	(void)state;
	lead_init(&l);
	assert_float_equal(lead_seconds(&l), LEAD_DEFAULT_S, 0);
	lead_observe(&l, NAN);
	assert_float_equal(lead_seconds(&l), LEAD_DEFAULT_S, 0);
	assert_int_equal(l.total, 0);
	lead_observe(&l, 12.5);
	assert_float_equal(lead_seconds(&l), 12.5, 0);
	assert_float_equal(l.last, 12.5, 0);
}

/* The largest of the last few samples: a slow start counts until it ages out. */
static void max_of_recent_samples(void **state)
{
	struct lead_learner l;

	(void)state;
	lead_init(&l);
	lead_observe(&l, 30);
	lead_observe(&l, 90);
	lead_observe(&l, 40);
	assert_float_equal(lead_seconds(&l), 90, 0);
	for (int i = 0; i < LEAD_SAMPLES - 2; i++) {
		lead_observe(&l, 20);
		assert_float_equal(lead_seconds(&l), 90, 0);
	}
	lead_observe(&l, 20); /* the 90 s sample drops out */
	assert_float_equal(lead_seconds(&l), 40, 0);
	assert_int_equal(l.total, LEAD_SAMPLES + 2);
}

static void samples_are_bounded(void **state)
{
	struct lead_learner l;

	(void)state;
	lead_init(&l);
	lead_observe(&l, 0.01);
	assert_float_equal(lead_seconds(&l), LEAD_MIN_S, 0);
	lead_observe(&l, 1e9);
	assert_float_equal(lead_seconds(&l), LEAD_MAX_S, 0);
}

static void rollout_measures_scale_up_to_ready(void **state)
{
	struct lead_learner l;
	struct lead_rollout r = {0};

	(void)state;
	lead_init(&l);
	assert_int_equal(lead_rollout_check(&r, &l, 100, 3, 3), LEAD_IDLE);
	lead_rollout_start(&r, 100, 2, 5);
	assert_true(r.active);
	assert_int_equal(lead_rollout_check(&r, &l, 101, 5, 2), LEAD_PENDING);
	assert_int_equal(lead_rollout_check(&r, &l, 104, 5, 4), LEAD_PENDING);
	assert_int_equal(lead_rollout_check(&r, &l, 107, 5, 5), LEAD_READY);
	assert_false(r.active);
	assert_float_equal(l.last, 7, 1e-9);
	assert_float_equal(lead_seconds(&l), 7, 1e-9);
	/* Done: later checks take no sample. */
	assert_int_equal(lead_rollout_check(&r, &l, 200, 5, 5), LEAD_IDLE);
	assert_int_equal(l.total, 1);
}

/* A second scale-up before the first is ready restarts the clock: its pods come last. */
static void further_scale_up_restarts_the_watch(void **state)
{
	struct lead_learner l;
	struct lead_rollout r = {0};

	(void)state;
	lead_init(&l);
	lead_rollout_start(&r, 100, 2, 5);
	lead_rollout_start(&r, 110, 5, 8);
	assert_int_equal(lead_rollout_check(&r, &l, 112, 8, 5), LEAD_PENDING);
	assert_int_equal(lead_rollout_check(&r, &l, 114, 8, 8), LEAD_READY);
	assert_float_equal(l.last, 4, 1e-9);
}

static void undone_or_stuck_rollouts_take_no_sample(void **state)
{
	struct lead_learner l;
	struct lead_rollout r = {0};

	(void)state;
	lead_init(&l);
	/* Scaled down by the operator meanwhile. */
	lead_rollout_start(&r, 100, 2, 5);
	lead_rollout_start(&r, 105, 5, 3);
	assert_false(r.active);
	/* Scaled down by someone else: the target no longer asks for the count. */
	lead_rollout_start(&r, 200, 2, 6);
	assert_int_equal(lead_rollout_check(&r, &l, 201, 4, 4), LEAD_UNDONE);
	assert_false(r.active);
	/* Pods that never become ready. */
	lead_rollout_start(&r, 300, 1, 2);
	assert_int_equal(lead_rollout_check(&r, &l, 300 + LEAD_MAX_S, 2, 1), LEAD_PENDING);
	assert_int_equal(lead_rollout_check(&r, &l, 301 + LEAD_MAX_S, 2, 1), LEAD_TIMED_OUT);
	assert_false(r.active);
	assert_int_equal(l.total, 0);
	assert_float_equal(lead_seconds(&l), LEAD_DEFAULT_S, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(default_until_measured),
	    cmocka_unit_test(max_of_recent_samples),
	    cmocka_unit_test(samples_are_bounded),
	    cmocka_unit_test(rollout_measures_scale_up_to_ready),
	    cmocka_unit_test(further_scale_up_restarts_the_watch),
	    cmocka_unit_test(undone_or_stuck_rollouts_take_no_sample),
	};

	return cmocka_run_group_tests_name("ctrl_leadtime", tests, NULL, NULL);
}
