/* Unit tests of capped exponential backoff with jitter (operator/base/backoff). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/backoff.h"

static void nominal_delays_double_up_to_the_cap(void **state)
{
	struct backoff b;

	(void)state;
	backoff_init(&b, 200, 5000, 42);
	assert_int_equal(backoff_nominal(&b, 0), 200);
	assert_int_equal(backoff_nominal(&b, 1), 400);
	assert_int_equal(backoff_nominal(&b, 4), 3200);
	assert_int_equal(backoff_nominal(&b, 5), 5000);
	assert_int_equal(backoff_nominal(&b, 1000), 5000); /* no overflow */
}

static void jitter_stays_within_half_to_full(void **state)
{
	struct backoff b;

	(void)state;
	backoff_init(&b, 100, 100000, 7);
	for (uint32_t attempt = 0; attempt < 40; attempt++) {
		uint32_t nominal = backoff_nominal(&b, attempt);
		uint32_t d = backoff_next(&b);

		assert_true(d >= nominal / 2);
		assert_true(d <= nominal);
	}
}

static void jitter_spreads_clients_apart(void **state)
{
	struct backoff a, b;
	int same = 0;

	(void)state;
	backoff_init(&a, 1000, 60000, 1);
	backoff_init(&b, 1000, 60000, 2);
	for (int i = 0; i < 10; i++)
		same += backoff_next(&a) == backoff_next(&b);
	assert_true(same < 3);
}

static void reset_starts_over(void **state)
{
	struct backoff b;

	(void)state;
	backoff_init(&b, 10, 1000, 3);
	for (int i = 0; i < 8; i++)
		backoff_next(&b);
	assert_true(backoff_next(&b) >= 500);
	backoff_reset(&b);
	assert_true(backoff_next(&b) <= 10);
}

static void degenerate_bounds_are_fixed_up(void **state)
{
	struct backoff b;

	(void)state;
	backoff_init(&b, 0, 0, 0);
	assert_int_equal(backoff_nominal(&b, 3), 1);
	assert_true(backoff_next(&b) <= 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(nominal_delays_double_up_to_the_cap),
	    cmocka_unit_test(jitter_stays_within_half_to_full),
	    cmocka_unit_test(jitter_spreads_clients_apart),
	    cmocka_unit_test(reset_starts_over),
	    cmocka_unit_test(degenerate_bounds_are_fixed_up),
	};

	return cmocka_run_group_tests_name("backoff", tests, NULL, NULL);
}
