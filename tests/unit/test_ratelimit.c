/* Unit tests of the token bucket (operator/base/ratelimit), with a virtual clock. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/ratelimit.h"

static void a_burst_passes_then_requests_wait(void **state)
{
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, 20, 30, 100.0);
	for (int i = 0; i < 30; i++)
		assert_true(ratelimit_reserve(&rl, 100.0) == 0.0);
	/* The 31st waits one token's time (1/20 s); the next waits behind it. */
	assert_float_equal(ratelimit_reserve(&rl, 100.0), 0.05, 1e-9);
	assert_float_equal(ratelimit_reserve(&rl, 100.0), 0.10, 1e-9);
}

static void tokens_refill_at_qps_up_to_burst(void **state)
{
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, 10, 5, 0.0);
	for (int i = 0; i < 5; i++)
		ratelimit_reserve(&rl, 0.0);
	/* 0.3 s later three tokens are back. */
	for (int i = 0; i < 3; i++)
		assert_true(ratelimit_reserve(&rl, 0.3) == 0.0);
	assert_true(ratelimit_reserve(&rl, 0.3) > 0.0);
	/* A long idle time refills to the burst, no more. */
	for (int i = 0; i < 5; i++)
		assert_true(ratelimit_reserve(&rl, 1000.0) == 0.0);
	assert_true(ratelimit_reserve(&rl, 1000.0) > 0.0);
}

static void sustained_rate_is_qps(void **state)
{
	struct ratelimit rl;
	double t = 0, waited_until = 0;

	(void)state;
	ratelimit_init(&rl, 20, 1, 0.0);
	/* 200 back-to-back requests take 199 / 20 s once the one-token burst is spent. */
	for (int i = 0; i < 200; i++)
		waited_until = t + ratelimit_reserve(&rl, t);
	assert_float_equal(waited_until, 199.0 / 20.0, 1e-6);
}

static void zero_qps_means_unlimited(void **state)
{
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, 0, 0, 0.0);
	for (int i = 0; i < 1000; i++)
		assert_true(ratelimit_reserve(&rl, 0.0) == 0.0);
}

static void time_going_backwards_is_ignored(void **state)
{
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, 1, 1, 50.0);
	assert_true(ratelimit_reserve(&rl, 50.0) == 0.0);
	assert_float_equal(ratelimit_reserve(&rl, 10.0), 1.0, 1e-9);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(a_burst_passes_then_requests_wait),
	    cmocka_unit_test(tokens_refill_at_qps_up_to_burst),
	    cmocka_unit_test(sustained_rate_is_qps),
	    cmocka_unit_test(zero_qps_means_unlimited),
	    cmocka_unit_test(time_going_backwards_is_ignored),
	};

	return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
