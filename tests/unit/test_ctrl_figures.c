/* Unit tests of when a status's figures are off (operator/controller/figures). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "controller/figures.h"

static void within_the_tolerance_is_not_off(void **state)
{
	(void)state;
	assert_false(figures_off(200.0, 200.0));
	assert_false(figures_off(200.0, 209.0)); /* 4.3% of 209 */
	assert_false(figures_off(200.0, 191.0)); /* 4.5% of 200 */
	assert_false(figures_off(-100.0, -104.0));
}

static void past_the_tolerance_is_off(void **state)
{
	(void)state;
	assert_true(figures_off(200.0, 211.0));
	assert_true(figures_off(200.0, 189.0));
	assert_true(figures_off(0.0, 5.0));
	assert_true(figures_off(-100.0, 100.0));
}

static void below_the_rounding_is_not_off(void **state)
{
	(void)state;
	/* Relative change of 100%, but the status shows both as 0 or 0.001. */
	assert_false(figures_off(0.0, 0.0004));
	assert_false(figures_off(0.0005, 0.001));
	assert_true(figures_off(0.0, 0.002));
}

static void a_figure_that_appears_or_goes_is_off(void **state)
{
	(void)state;
	assert_true(figures_off(NAN, 0.0));
	assert_true(figures_off(150.0, NAN));
	assert_false(figures_off(NAN, NAN));
}

static void a_slow_drift_is_off_once_it_adds_up(void **state)
{
	double written = 100.0, live = 100.0;
	int steps = 0;

	(void)state;
	/* 1% a step: off at the sixth step (106 against 100), not before. */
	while (!figures_off(written, live)) {
		live *= 1.01;
		steps++;
	}
	assert_int_equal(steps, 6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(within_the_tolerance_is_not_off),
	    cmocka_unit_test(past_the_tolerance_is_off),
	    cmocka_unit_test(below_the_rounding_is_not_off),
	    cmocka_unit_test(a_figure_that_appears_or_goes_is_off),
	    cmocka_unit_test(a_slow_drift_is_off_once_it_adds_up),
	};
	return cmocka_run_group_tests_name("ctrl_figures", tests, NULL, NULL);
}
