/* Unit tests of the leader election core (operator/kube/leader), with injected times. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "kube/leader.h"

#define ME    "me_1"
#define OTHER "other_2"

static struct leader_config defaults(void)
{
	struct leader_config cfg;

	leader_config_init(&cfg);
	cfg.namespace = "kube-system";
	cfg.name = "foresight";
	return cfg;
}

static struct leader_record held_by(const char *holder, int duration_s)
{
	struct leader_record r;

	memset(&r, 0, sizeof(r));
	snprintf(r.holder, sizeof(r.holder), "%s", holder);
	r.lease_duration_s = duration_s;
	r.acquire_us = 1000000;
	r.renew_us = 2000000;
	r.transitions = 3;
	return r;
}

static void config_defaults_are_client_gos(void **state)
{
	struct leader_config cfg = defaults();

	(void)state;
	assert_int_equal(cfg.lease_duration_s, 15);
	assert_int_equal(cfg.renew_deadline_ms, 10000);
	assert_int_equal(cfg.retry_period_ms, 2000);
	assert_null(cfg.identity);
	assert_int_equal(leader_config_check(&cfg, NULL), FS_OK);
}

static void config_check_refuses_bad_settings(void **state)
{
	struct leader_config cfg = defaults();
	struct fs_err err;
	char long_id[LEADER_IDENTITY_MAX + 1];

	(void)state;
	cfg.renew_deadline_ms = 15000;
	assert_int_equal(leader_config_check(&cfg, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "lease duration"));

	cfg = defaults();
	cfg.retry_period_ms = 10000;
	assert_int_equal(leader_config_check(&cfg, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "renew deadline"));

	cfg = defaults();
	cfg.retry_period_ms = 0;
	assert_int_equal(leader_config_check(&cfg, &err), FS_EINVAL);

	cfg = defaults();
	cfg.namespace = "Not_A_Label";
	assert_int_equal(leader_config_check(&cfg, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "namespace"));

	cfg = defaults();
	cfg.name = "-leading-dash";
	assert_int_equal(leader_config_check(&cfg, &err), FS_EINVAL);
	cfg.name = NULL;
	assert_int_equal(leader_config_check(&cfg, &err), FS_EINVAL);

	cfg = defaults();
	memset(long_id, 'x', sizeof(long_id) - 1);
	long_id[sizeof(long_id) - 1] = '\0';
	cfg.identity = long_id;
	assert_int_equal(leader_config_check(&cfg, &err), FS_EINVAL);
	cfg.identity = "";
	assert_int_equal(leader_config_check(&cfg, &err), FS_EINVAL);
	cfg.identity = "pod-a_42";
	cfg.name = "foresight.leader";
	assert_int_equal(leader_config_check(&cfg, &err), FS_OK);
}

static void nothing_observed_means_acquire(void **state)
{
	struct leader_state st = {0};

	(void)state;
	assert_int_equal(leader_decide(&st, ME, 0), LEADER_ACQUIRE);
}

static void another_holder_waits_until_expiry_on_the_local_clock(void **state)
{
	struct leader_state st = {0};
	struct leader_record r = held_by(OTHER, 15);

	(void)state;
	/* The remote renewTime is far in the past: it must not count. */
	r.renew_us = 1;
	leader_observe(&st, &r, 100000);
	assert_int_equal(leader_decide(&st, ME, 100000), LEADER_WAIT);
	assert_int_equal(leader_decide(&st, ME, 114999), LEADER_WAIT);
	assert_int_equal(leader_decide(&st, ME, 115000), LEADER_ACQUIRE);
}

static void a_renewal_seen_moves_the_expiry(void **state)
{
	struct leader_state st = {0};
	struct leader_record r = held_by(OTHER, 15);

	(void)state;
	leader_observe(&st, &r, 0);
	/* The same content read again does not reset the clock... */
	leader_observe(&st, &r, 10000);
	assert_int_equal(st.observed_at_ms, 0);
	assert_int_equal(leader_decide(&st, ME, 15000), LEADER_ACQUIRE);
	/* ...a renewal does. */
	r.renew_us += 2000000;
	leader_observe(&st, &r, 14000);
	assert_int_equal(st.observed_at_ms, 14000);
	assert_int_equal(leader_decide(&st, ME, 15000), LEADER_WAIT);
	assert_int_equal(leader_decide(&st, ME, 29000), LEADER_ACQUIRE);
}

static void a_released_lease_is_taken_at_once(void **state)
{
	struct leader_state st = {0};
	struct leader_record old = held_by(OTHER, 15), released;

	(void)state;
	leader_record_released(&released, &old, 5000000);
	assert_string_equal(released.holder, "");
	assert_int_equal(released.lease_duration_s, 1);
	assert_int_equal(released.renew_us, 5000000);
	assert_int_equal(released.acquire_us, 5000000);
	assert_int_equal(released.transitions, 3);
	leader_observe(&st, &released, 50000);
	assert_int_equal(leader_decide(&st, ME, 50000), LEADER_ACQUIRE);
}

static void own_lease_is_renewed(void **state)
{
	struct leader_state st = {0};
	struct leader_record r = held_by(ME, 15);

	(void)state;
	leader_observe(&st, &r, 0);
	assert_int_equal(leader_decide(&st, ME, 1000), LEADER_RENEW);
	/* Even past its expiry: nobody else took it. */
	assert_int_equal(leader_decide(&st, ME, 60000), LEADER_RENEW);
}

static void next_record_counts_transitions(void **state)
{
	struct leader_record old = held_by(OTHER, 15), next;

	(void)state;
	leader_record_next(&next, NULL, LEADER_ACQUIRE, ME, 15, 7000000);
	assert_string_equal(next.holder, ME);
	assert_int_equal(next.transitions, 0);
	assert_int_equal(next.acquire_us, 7000000);
	assert_int_equal(next.renew_us, 7000000);
	assert_int_equal(next.lease_duration_s, 15);

	leader_record_next(&next, &old, LEADER_ACQUIRE, ME, 15, 7000000);
	assert_int_equal(next.transitions, 4);
	assert_int_equal(next.acquire_us, 7000000);

	old = held_by(ME, 15);
	leader_record_next(&next, &old, LEADER_RENEW, ME, 20, 9000000);
	assert_int_equal(next.transitions, 3);
	assert_int_equal(next.acquire_us, 1000000);
	assert_int_equal(next.renew_us, 9000000);
	assert_int_equal(next.lease_duration_s, 20);
}

static void a_write_starts_leading_once(void **state)
{
	struct leader_config cfg = defaults();
	struct leader_state st = {0};

	(void)state;
	assert_int_equal(leader_after_attempt(&st, LEADER_WROTE, 1000, &cfg), LEADER_STARTED);
	assert_true(st.leading);
	assert_int_equal(st.renewed_at_ms, 1000);
	assert_int_equal(leader_after_attempt(&st, LEADER_WROTE, 3000, &cfg), LEADER_UNCHANGED);
	assert_int_equal(st.renewed_at_ms, 3000);
}

static void failures_step_down_at_the_renew_deadline(void **state)
{
	struct leader_config cfg = defaults();
	struct leader_state st = {0};

	(void)state;
	leader_after_attempt(&st, LEADER_WROTE, 0, &cfg);
	assert_int_equal(leader_after_attempt(&st, LEADER_FAILED, 2000, &cfg), LEADER_UNCHANGED);
	assert_int_equal(leader_after_attempt(&st, LEADER_FAILED, 9999, &cfg), LEADER_UNCHANGED);
	assert_true(st.leading);
	assert_int_equal(leader_after_attempt(&st, LEADER_FAILED, 10000, &cfg), LEADER_STOPPED);
	assert_false(st.leading);
	/* A candidate's failures change nothing. */
	assert_int_equal(leader_after_attempt(&st, LEADER_FAILED, 12000, &cfg), LEADER_UNCHANGED);
}

static void another_holder_ends_leadership_at_once(void **state)
{
	struct leader_config cfg = defaults();
	struct leader_state st = {0};

	(void)state;
	leader_after_attempt(&st, LEADER_WROTE, 0, &cfg);
	assert_int_equal(leader_after_attempt(&st, LEADER_HELD_ELSEWHERE, 2000, &cfg),
	                 LEADER_STOPPED);
	assert_int_equal(leader_after_attempt(&st, LEADER_HELD_ELSEWHERE, 4000, &cfg),
	                 LEADER_UNCHANGED);
}

static void attempts_fit_the_renew_deadline(void **state)
{
	struct leader_config cfg = defaults();
	struct leader_state st = {0};

	(void)state;
	assert_int_equal(leader_attempt_timeout_ms(&st, 5000, &cfg), 10000);
	leader_after_attempt(&st, LEADER_WROTE, 1000, &cfg);
	assert_int_equal(leader_attempt_timeout_ms(&st, 3000, &cfg), 8000);
	assert_int_equal(leader_attempt_timeout_ms(&st, 11000, &cfg), 0);
	assert_int_equal(leader_attempt_timeout_ms(&st, 20000, &cfg), 0);
}

static void leader_waits_a_period_cut_by_its_deadline(void **state)
{
	struct leader_config cfg = defaults();
	struct leader_state st = {0};

	(void)state;
	leader_after_attempt(&st, LEADER_WROTE, 0, &cfg);
	assert_int_equal(leader_wait_ms(&st, ME, 0, &cfg, 0.9), 2000);
	assert_int_equal(leader_wait_ms(&st, ME, 9000, &cfg, 0.0), 1000);
	assert_int_equal(leader_wait_ms(&st, ME, 12000, &cfg, 0.0), 0);
}

/* A 409 is someone else's write of the Lease: read again soon, a few times, then as usual. */
static void conflicts_are_retried_soon_a_few_times(void **state)
{
	struct leader_config cfg = defaults();
	struct leader_state st = {0};
	long w;

	(void)state;
	leader_after_attempt(&st, LEADER_WROTE, 0, &cfg);
	/* A conflicted renewal counts as a failed one for the deadline. */
	assert_int_equal(leader_after_attempt(&st, LEADER_CONFLICTED, 2000, &cfg),
	                 LEADER_UNCHANGED);
	assert_int_equal(leader_after_attempt(&st, LEADER_CONFLICTED, 10000, &cfg), LEADER_STOPPED);
	assert_int_equal(leader_conflict_wait_ms(2000, 0, 0.5), 2000);
	for (unsigned n = 1; n <= LEADER_CONFLICT_RETRIES; n++) {
		w = leader_conflict_wait_ms(2000, n, 0.0);
		assert_int_equal(w, LEADER_CONFLICT_PAUSE_MS);
		w = leader_conflict_wait_ms(2000, n, 0.999);
		assert_true(w >= LEADER_CONFLICT_PAUSE_MS && w < 2 * LEADER_CONFLICT_PAUSE_MS);
	}
	assert_int_equal(leader_conflict_wait_ms(2000, LEADER_CONFLICT_RETRIES + 1, 0.0), 2000);
	/* Never later than the deadline allows. */
	assert_int_equal(leader_conflict_wait_ms(20, 1, 0.9), 20);
	assert_int_equal(leader_conflict_wait_ms(0, 1, 0.0), 0);
}

static void candidate_jitters_down_and_wakes_at_expiry(void **state)
{
	struct leader_config cfg = defaults();
	struct leader_state st = {0};
	struct leader_record r = held_by(OTHER, 15);
	long w;

	(void)state;
	assert_int_equal(leader_wait_ms(&st, ME, 0, &cfg, 0.0), 1000);
	w = leader_wait_ms(&st, ME, 0, &cfg, 0.999);
	assert_true(w >= 900 && w < 1000);

	leader_observe(&st, &r, 0);
	assert_int_equal(leader_wait_ms(&st, ME, 1000, &cfg, 0.0), 1000);
	/* 300 ms before the lease runs out, the next look is at the expiry. */
	assert_int_equal(leader_wait_ms(&st, ME, 14700, &cfg, 0.0), 300);
	assert_int_equal(leader_wait_ms(&st, ME, 15000, &cfg, 0.0), 1000);
}

/*
 * Plays a whole schedule: a leader renews every 2 s from time 0 until it
 * dies at `death`; a candidate first looks at `start`. Returns when the
 * candidate takes over, after checking the last renewal had expired by then.
 */
static int64_t takeover_time(int64_t start, int64_t death)
{
	struct leader_config cfg = defaults();
	struct leader_state cand = {0};
	struct leader_record r = held_by(OTHER, 15);
	int64_t now = start, renewed = -1;
	double jitter = 0;

	for (;;) {
		/* The leader's latest renewal by `now`. */
		int64_t last = (now < death ? now : death - 1) / 2000 * 2000;

		if (last != renewed) {
			renewed = last;
			r.renew_us = renewed * 1000;
		}
		leader_observe(&cand, &r, now);
		if (leader_decide(&cand, ME, now) == LEADER_ACQUIRE)
			break;
		jitter = jitter > 0.8 ? 0 : jitter + 0.37;
		now += leader_wait_ms(&cand, ME, now, &cfg, jitter);
	}
	assert_true(now - renewed >= 15000);
	return now;
}

/* Whatever the phases, a takeover comes within lease duration + half a period of a death. */
static void takeover_after_a_death_is_bounded(void **state)
{
	(void)state;
	for (int64_t start = 0; start < 2000; start += 131) {
		for (int64_t death = 20000; death < 22000; death += 97)
			assert_true(takeover_time(start, death) - death <= 16000);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(config_defaults_are_client_gos),
	    cmocka_unit_test(config_check_refuses_bad_settings),
	    cmocka_unit_test(nothing_observed_means_acquire),
	    cmocka_unit_test(another_holder_waits_until_expiry_on_the_local_clock),
	    cmocka_unit_test(a_renewal_seen_moves_the_expiry),
	    cmocka_unit_test(a_released_lease_is_taken_at_once),
	    cmocka_unit_test(own_lease_is_renewed),
	    cmocka_unit_test(next_record_counts_transitions),
	    cmocka_unit_test(a_write_starts_leading_once),
	    cmocka_unit_test(failures_step_down_at_the_renew_deadline),
	    cmocka_unit_test(another_holder_ends_leadership_at_once),
	    cmocka_unit_test(attempts_fit_the_renew_deadline),
	    cmocka_unit_test(leader_waits_a_period_cut_by_its_deadline),
	    cmocka_unit_test(conflicts_are_retried_soon_a_few_times),
	    cmocka_unit_test(candidate_jitters_down_and_wakes_at_expiry),
	    cmocka_unit_test(takeover_after_a_death_is_bounded),
	};

	return cmocka_run_group_tests_name("leader", tests, NULL, NULL);
}
