/*
 * Unit tests of the controller work queue (operator/kube/workqueue).
 *
 * The machine running them may be slow and busy: tests assert order and
 * state, and about time only lower bounds (a key never comes out before its
 * time) and generous upper ones. cmocka asserts run on the main thread only;
 * helper threads record what they saw for the main thread to check.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "kube/workqueue.h"

#define MS           1000000ull /* nanoseconds */
#define PATIENCE_MS  30000      /* how long a test waits for what must happen */
#define MANY_KEYS    3000
#define POOL_KEYS    200
#define POOL_WORKERS 4

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Waits until *v reaches `target`, PATIENCE_MS at most. */
static bool wait_for(atomic_int *v, int target)
{
	for (int waited = 0; waited < PATIENCE_MS; waited += 5) {
		if (atomic_load(v) >= target)
			return true;
		sleep_ms(5);
	}
	return atomic_load(v) >= target;
}

/* Waits until `n` keys are ready, PATIENCE_MS at most. */
static bool wait_len(struct wq *q, size_t n)
{
	for (int waited = 0; waited < PATIENCE_MS; waited += 5) {
		if (wq_len(q) >= n)
			return true;
		sleep_ms(5);
	}
	return wq_len(q) >= n;
}

static struct wq *make(uint32_t base_delay_ms, uint32_t max_delay_ms, size_t max_items)
{
	struct wq_opts opts;
	struct wq *q = NULL;

	wq_opts_init(&opts);
	if (base_delay_ms)
		opts.base_delay_ms = base_delay_ms;
	if (max_delay_ms)
		opts.max_delay_ms = max_delay_ms;
	if (max_items)
		opts.max_items = max_items;
	assert_int_equal(wq_new(&q, &opts, NULL), FS_OK);
	assert_non_null(q);
	return q;
}

/* Takes the next key, checks it is `want`, and ends its processing. */
static void expect_get(struct wq *q, const char *want)
{
	char *key = NULL;

	assert_true(wq_get(q, &key));
	assert_string_equal(key, want);
	wq_done(q, key);
	free(key);
}

/* A thread blocked in wq_get, and what it saw when it returned. */
struct getter {
	pthread_t thread;
	struct wq *q;
	char *key;
	bool ok;
	atomic_int returned;
	atomic_int *before; /* when set: its value at the moment wq_get returned */
	int before_seen;
};

static void *getter_main(void *arg)
{
	struct getter *g = arg;

	g->ok = wq_get(g->q, &g->key);
	if (g->before)
		g->before_seen = atomic_load(g->before);
	atomic_store(&g->returned, 1);
	return NULL;
}

static void getter_start(struct getter *g, struct wq *q, atomic_int *before)
{
	memset(g, 0, sizeof(*g));
	g->q = q;
	g->before = before;
	assert_int_equal(pthread_create(&g->thread, NULL, getter_main, g), 0);
}

static void opts_and_key_rules(void **state)
{
	struct wq_opts opts;
	struct fs_err err;
	char key[WQ_KEY_MAX + 2];
	struct wq *q;

	(void)state;
	wq_opts_init(&opts);
	assert_int_equal(opts.base_delay_ms, 5);
	assert_int_equal(opts.max_delay_ms, 300000);
	assert_int_equal(opts.max_items, 100000);
	wq_free(NULL);
	assert_int_equal(wq_new(&q, NULL, &err), FS_OK);
	assert_int_equal(wq_add(q, "", &err), FS_EINVAL);
	assert_int_equal(wq_add(q, NULL, &err), FS_EINVAL);
	memset(key, 'k', sizeof(key));
	key[WQ_KEY_MAX + 1] = '\0';
	assert_int_equal(wq_add(q, key, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "512 bytes"));
	assert_int_equal(wq_add_after(q, key, 10, NULL), FS_EINVAL);
	assert_int_equal(wq_add_rate_limited(q, key, NULL), FS_EINVAL);
	assert_int_equal(wq_failures(q, key), 0);
	key[WQ_KEY_MAX] = '\0';
	assert_int_equal(wq_add(q, key, &err), FS_OK);
	expect_get(q, key);
	wq_free(q);
}

static void queued_keys_are_deduplicated(void **state)
{
	struct wq *q = make(0, 0, 0);

	(void)state;
	assert_int_equal(wq_add(q, "ns/a", NULL), FS_OK);
	assert_int_equal(wq_add(q, "ns/b", NULL), FS_OK);
	assert_int_equal(wq_add(q, "ns/a", NULL), FS_OK);
	assert_int_equal(wq_add_after(q, "ns/b", 0, NULL), FS_OK);
	assert_int_equal(wq_len(q), 2);
	expect_get(q, "ns/a"); /* first in, first out */
	expect_get(q, "ns/b");
	assert_int_equal(wq_len(q), 0);
	wq_done(q, "ns/a"); /* not processing any more: a no-op */
	assert_int_equal(wq_len(q), 0);
	wq_free(q);
}

static void key_added_while_processing_waits_for_done(void **state)
{
	struct wq *q = make(0, 0, 0);
	atomic_int done_called = 0;
	struct getter g;
	char *key = NULL;

	(void)state;
	assert_int_equal(wq_add(q, "ns/a", NULL), FS_OK);
	assert_true(wq_get(q, &key));
	assert_string_equal(key, "ns/a");
	assert_int_equal(wq_add(q, "ns/a", NULL), FS_OK);
	assert_int_equal(wq_add(q, "ns/a", NULL), FS_OK);
	assert_int_equal(wq_len(q), 0); /* dirty, not ready */

	getter_start(&g, q, &done_called);
	sleep_ms(100); /* a chance for the other getter to take it wrongly */
	assert_int_equal(atomic_load(&g.returned), 0);
	atomic_store(&done_called, 1);
	wq_done(q, key);
	free(key);
	assert_true(wait_for(&g.returned, 1));
	assert_int_equal(pthread_join(g.thread, NULL), 0);
	assert_true(g.ok);
	assert_int_equal(g.before_seen, 1); /* handed out only after wq_done */
	assert_string_equal(g.key, "ns/a");
	assert_int_equal(wq_len(q), 0); /* re-queued once, for both adds */
	wq_done(q, g.key);
	free(g.key);
	assert_int_equal(wq_len(q), 0);
	wq_free(q);
}

static void add_after_waits_for_its_time(void **state)
{
	struct wq *q = make(0, 0, 0);
	uint64_t start, waited;
	char *key = NULL;

	(void)state;
	start = now_ns();
	assert_int_equal(wq_add_after(q, "ns/later", 400, NULL), FS_OK);
	assert_int_equal(wq_len(q), 0);
	assert_true(wq_get(q, &key));
	waited = now_ns() - start;
	assert_string_equal(key, "ns/later");
	assert_true(waited >= 400 * MS);
	assert_true(waited < PATIENCE_MS * MS);
	wq_done(q, key);
	free(key);

	/* wq_len counts a key whose time has come. */
	assert_int_equal(wq_add_after(q, "ns/soon", 20, NULL), FS_OK);
	sleep_ms(50);
	assert_int_equal(wq_len(q), 1);
	expect_get(q, "ns/soon");
	wq_free(q);
}

static void earlier_delayed_add_wins(void **state)
{
	struct wq *q = make(0, 0, 0);

	(void)state;
	assert_int_equal(wq_add_after(q, "ns/a", 120000, NULL), FS_OK);
	assert_int_equal(wq_add_after(q, "ns/a", 50, NULL), FS_OK);
	assert_true(wait_len(q, 1));
	expect_get(q, "ns/a");
	assert_int_equal(wq_add_after(q, "ns/b", 50, NULL), FS_OK);
	assert_int_equal(wq_add_after(q, "ns/b", 120000, NULL), FS_OK);
	assert_true(wait_len(q, 1));
	expect_get(q, "ns/b");
	assert_int_equal(wq_len(q), 0);
	wq_free(q);
}

static void delayed_keys_reach_blocked_getters(void **state)
{
	struct wq *q = make(0, 0, 0);
	struct getter g[2];

	(void)state;
	getter_start(&g[0], q, NULL);
	getter_start(&g[1], q, NULL);
	sleep_ms(50); /* both likely blocked with nothing to wait for */
	assert_int_equal(wq_add_after(q, "ns/x", 50, NULL), FS_OK);
	assert_int_equal(wq_add_after(q, "ns/y", 300, NULL), FS_OK);
	/* The getter that takes x must hand the watch of y's time to the other. */
	assert_true(wait_for(&g[0].returned, 1));
	assert_true(wait_for(&g[1].returned, 1));
	for (int i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(g[i].thread, NULL), 0);
		assert_true(g[i].ok);
	}
	assert_string_not_equal(g[0].key, g[1].key);
	for (int i = 0; i < 2; i++) {
		wq_done(q, g[i].key);
		free(g[i].key);
	}
	wq_free(q);
}

/* The bounds of one key's due time, from clocks read around its adds. */
struct due {
	uint64_t lo, hi;
};

static void many_delayed_keys_come_out_in_due_order(void **state)
{
	static struct due due[MANY_KEYS];
	static bool seen[MANY_KEYS];
	struct wq *q = make(0, 0, 0);
	unsigned seed = 42;
	char key[32], *got;
	int prev = -1, idx;

	(void)state;
	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < MANY_KEYS; i++) {
		uint32_t d1 = 1 + (uint32_t)rand_r(&seed) % 400;
		uint32_t d2 = 1 + (uint32_t)rand_r(&seed) % 400;
		uint64_t d = (d1 < d2 ? d1 : d2) * MS;

		snprintf(key, sizeof(key), "ns/k%d", i);
		due[i].lo = now_ns() + d;
		assert_int_equal(wq_add_after(q, key, d1, NULL), FS_OK);
		assert_int_equal(wq_add_after(q, key, d2, NULL), FS_OK);
		due[i].hi = now_ns() + d;
	}
	for (int n = 0; n < MANY_KEYS; n++) {
		assert_true(wq_get(q, &got));
		assert_int_equal(sscanf(got, "ns/k%d", &idx), 1);
		assert_true(idx >= 0 && idx < MANY_KEYS);
		assert_false(seen[idx]);
		seen[idx] = true;
		/* Never out of order: no key comes after one surely due later. */
		if (prev >= 0)
			assert_true(due[prev].lo <= due[idx].hi);
		prev = idx;
		wq_done(q, got);
		free(got);
	}
	assert_int_equal(wq_len(q), 0);
	wq_free(q);
}

static void rate_limited_delays_grow_and_forget_resets(void **state)
{
	struct wq *q = make(20, 100000, 0);
	uint64_t start;
	char *key = NULL;

	(void)state;
	/* Each call counts a failure; the key keeps its earliest (first) time. */
	for (int i = 0; i < 5; i++)
		assert_int_equal(wq_add_rate_limited(q, "ns/a", NULL), FS_OK);
	assert_int_equal(wq_failures(q, "ns/a"), 5);
	expect_get(q, "ns/a");

	/* a now waits 20 ms * 2^5 (320..640 ms), b 20 ms (10..20): b first. */
	start = now_ns();
	assert_int_equal(wq_add_rate_limited(q, "ns/a", NULL), FS_OK);
	assert_int_equal(wq_add_rate_limited(q, "ns/b", NULL), FS_OK);
	assert_int_equal(wq_failures(q, "ns/a"), 6);
	assert_int_equal(wq_failures(q, "ns/b"), 1);
	expect_get(q, "ns/b");
	assert_true(wq_get(q, &key));
	assert_string_equal(key, "ns/a");
	assert_true(now_ns() - start >= 320 * MS);
	wq_done(q, key);
	free(key);

	/* Forgotten, a is back to the shortest delay: before a key due in 300 ms. */
	wq_forget(q, "ns/a");
	wq_forget(q, "ns/b");
	assert_int_equal(wq_failures(q, "ns/a"), 0);
	assert_int_equal(wq_failures(q, "ns/b"), 0);
	assert_int_equal(wq_add_after(q, "ns/c", 300, NULL), FS_OK);
	assert_int_equal(wq_add_rate_limited(q, "ns/a", NULL), FS_OK);
	expect_get(q, "ns/a");
	expect_get(q, "ns/c");
	wq_forget(q, "ns/a");
	wq_free(q);
}

static void rate_limited_delay_is_capped(void **state)
{
	struct wq *q = make(10, 40, 0);

	(void)state;
	for (int i = 0; i < 40; i++)
		assert_int_equal(wq_add_rate_limited(q, "ns/k", NULL), FS_OK);
	assert_int_equal(wq_failures(q, "ns/k"), 40);
	expect_get(q, "ns/k");
	/* 10 ms * 2^40 capped at 40 ms: well before a key due in 500 ms. */
	assert_int_equal(wq_add_after(q, "ns/z", 500, NULL), FS_OK);
	assert_int_equal(wq_add_rate_limited(q, "ns/k", NULL), FS_OK);
	expect_get(q, "ns/k");
	expect_get(q, "ns/z");
	assert_int_equal(wq_failures(q, "ns/k"), 41);
	wq_free(q); /* frees the record kept for the failures */
}

static void max_items_caps_distinct_keys(void **state)
{
	struct wq *q = make(0, 0, 3);
	struct fs_err err;
	char *key = NULL;

	(void)state;
	assert_int_equal(wq_add(q, "ns/a", &err), FS_OK);
	assert_int_equal(wq_add(q, "ns/b", &err), FS_OK);
	assert_int_equal(wq_add_after(q, "ns/c", 100000, &err), FS_OK);
	assert_int_equal(wq_add(q, "ns/d", &err), FS_ETOOLARGE);
	assert_non_null(strstr(err.msg, "3 keys"));
	assert_int_equal(wq_add_after(q, "ns/d", 10, NULL), FS_ETOOLARGE);
	assert_int_equal(wq_add_rate_limited(q, "ns/d", NULL), FS_ETOOLARGE);
	assert_int_equal(wq_failures(q, "ns/d"), 0);      /* a refused call counts nothing */
	assert_int_equal(wq_add(q, "ns/a", &err), FS_OK); /* held already */
	assert_int_equal(wq_add(q, "ns/c", &err), FS_OK);

	/* A key being processed still counts. */
	assert_true(wq_get(q, &key));
	assert_string_equal(key, "ns/a");
	assert_int_equal(wq_add(q, "ns/d", NULL), FS_ETOOLARGE);
	wq_done(q, key);
	free(key);
	assert_int_equal(wq_add(q, "ns/d", &err), FS_OK);
	assert_int_equal(wq_len(q), 3);
	wq_free(q);
}

static void shutdown_wakes_a_blocked_getter(void **state)
{
	struct wq *q = make(0, 0, 0);
	struct getter g;

	(void)state;
	getter_start(&g, q, NULL);
	sleep_ms(50); /* likely blocked by now; returning false is right either way */
	wq_shutdown(q);
	assert_true(wait_for(&g.returned, 1));
	assert_int_equal(pthread_join(g.thread, NULL), 0);
	assert_false(g.ok);
	assert_null(g.key);
	wq_free(q);
}

static void shutdown_drops_keys_and_refuses_adds(void **state)
{
	struct wq *q = make(0, 0, 0);
	struct fs_err err;
	char *key = NULL, *after = NULL;

	(void)state;
	assert_int_equal(wq_add(q, "ns/busy", NULL), FS_OK);
	assert_true(wq_get(q, &key));
	assert_int_equal(wq_add(q, "ns/busy", NULL), FS_OK); /* dirty */
	assert_int_equal(wq_add(q, "ns/a", NULL), FS_OK);
	assert_int_equal(wq_add_after(q, "ns/b", 100000, NULL), FS_OK);
	assert_int_equal(wq_add_rate_limited(q, "ns/c", NULL), FS_OK);
	wq_shutdown(q);
	wq_shutdown(q);
	assert_int_equal(wq_len(q), 0);
	assert_false(wq_get(q, &after));
	assert_null(after);
	assert_int_equal(wq_add(q, "ns/a", &err), FS_ECANCELED);
	assert_int_equal(wq_add_after(q, "ns/a", 1, NULL), FS_ECANCELED);
	assert_int_equal(wq_add_rate_limited(q, "ns/a", NULL), FS_ECANCELED);
	assert_int_equal(wq_failures(q, "ns/c"), 1);
	wq_done(q, key); /* not queued again */
	free(key);
	assert_int_equal(wq_len(q), 0);
	assert_false(wq_get(q, &after));
	wq_free(q);
}

/* What the pool's handler saw, per key "ns/k<i>". */
struct pool_ctx {
	struct wq *q;
	atomic_int calls[POOL_KEYS];
	atomic_int busy[POOL_KEYS];
	atomic_int overlaps; /* a key handled by two workers at once */
	atomic_int successes;
	atomic_int bad_keys;
};

static bool fails_once(int i)
{
	return i % 3 == 0;
}

static bool re_added_while_processing(int i)
{
	return i % 5 == 1 && !fails_once(i);
}

static enum fs_rc pool_handler(void *arg, const char *key)
{
	struct pool_ctx *ctx = arg;
	enum fs_rc rc = FS_OK;
	int i, call;

	if (sscanf(key, "ns/k%d", &i) != 1 || i < 0 || i >= POOL_KEYS) {
		atomic_fetch_add(&ctx->bad_keys, 1);
		return FS_OK;
	}
	if (atomic_exchange(&ctx->busy[i], 1))
		atomic_fetch_add(&ctx->overlaps, 1);
	call = atomic_fetch_add(&ctx->calls[i], 1) + 1;
	if (call == 1 && fails_once(i))
		rc = FS_ECONFLICT;
	if (call == 1 && re_added_while_processing(i)) {
		wq_add(ctx->q, key, NULL);
		wq_add(ctx->q, key, NULL);
	}
	sleep_ms(1); /* widen the window for an overlap to show */
	atomic_store(&ctx->busy[i], 0);
	if (rc == FS_OK && (call > 1 || !re_added_while_processing(i)))
		atomic_fetch_add(&ctx->successes, 1);
	return rc;
}

static void workers_retry_failing_keys_until_success(void **state)
{
	static struct pool_ctx ctx;
	struct wq *q = make(1, 20, 0);
	struct fs_err err;
	char key[32];

	(void)state;
	memset(&ctx, 0, sizeof(ctx));
	ctx.q = q;
	assert_int_equal(wq_start_workers(q, POOL_WORKERS, pool_handler, &ctx, &err), FS_OK);
	for (int i = 0; i < POOL_KEYS; i++) {
		snprintf(key, sizeof(key), "ns/k%d", i);
		assert_int_equal(wq_add(q, key, &err), FS_OK);
	}
	assert_true(wait_for(&ctx.successes, POOL_KEYS));
	wq_stop_workers(q);
	assert_int_equal(atomic_load(&ctx.overlaps), 0);
	assert_int_equal(atomic_load(&ctx.bad_keys), 0);
	for (int i = 0; i < POOL_KEYS; i++) {
		int want = fails_once(i) || re_added_while_processing(i) ? 2 : 1;

		snprintf(key, sizeof(key), "ns/k%d", i);
		assert_int_equal(atomic_load(&ctx.calls[i]), want);
		assert_int_equal(wq_failures(q, key), 0); /* forgotten after success */
	}
	wq_stop_workers(q); /* a second stop is a no-op */
	wq_free(q);
}

struct slow_ctx {
	atomic_int entered;
	atomic_int finished;
	atomic_int calls;
};

static enum fs_rc slow_handler(void *arg, const char *key)
{
	struct slow_ctx *ctx = arg;

	(void)key;
	atomic_fetch_add(&ctx->calls, 1);
	atomic_store(&ctx->entered, 1);
	sleep_ms(200);
	atomic_store(&ctx->finished, 1);
	return FS_OK;
}

static void stop_workers_waits_for_the_handler_in_flight(void **state)
{
	struct slow_ctx ctx;
	struct wq *q = make(0, 0, 0);

	(void)state;
	memset(&ctx, 0, sizeof(ctx));
	assert_int_equal(wq_start_workers(q, 1, slow_handler, &ctx, NULL), FS_OK);
	assert_int_equal(wq_add(q, "ns/slow", NULL), FS_OK);
	assert_true(wait_for(&ctx.entered, 1));
	assert_int_equal(wq_add(q, "ns/next", NULL), FS_OK);
	wq_stop_workers(q);
	assert_int_equal(atomic_load(&ctx.finished), 1);
	assert_int_equal(atomic_load(&ctx.calls), 1); /* ns/next was not handed out */
	assert_int_equal(wq_add(q, "ns/next", NULL), FS_ECANCELED);
	wq_free(q);
}

static enum fs_rc quick_handler(void *arg, const char *key)
{
	(void)key;
	atomic_fetch_add((atomic_int *)arg, 1);
	return FS_OK;
}

static void pool_rules_and_free_while_running(void **state)
{
	struct wq *q = make(0, 0, 0);
	atomic_int calls = 0;
	struct fs_err err;

	(void)state;
	assert_int_equal(wq_start_workers(q, 0, quick_handler, &calls, &err), FS_EINVAL);
	assert_int_equal(wq_start_workers(q, 2, NULL, &calls, &err), FS_EINVAL);
	assert_int_equal(wq_start_workers(q, 2, quick_handler, &calls, &err), FS_OK);
	assert_int_equal(wq_start_workers(q, 2, quick_handler, &calls, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "already running"));
	assert_int_equal(wq_add(q, "ns/a", NULL), FS_OK);
	assert_int_equal(wq_add(q, "ns/b", NULL), FS_OK);
	assert_true(wait_for(&calls, 2));
	wq_free(q); /* stops and joins the workers itself */

	q = make(0, 0, 0);
	wq_shutdown(q);
	assert_int_equal(wq_start_workers(q, 1, quick_handler, &calls, &err), FS_ECANCELED);
	wq_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(opts_and_key_rules),
	    cmocka_unit_test(queued_keys_are_deduplicated),
	    cmocka_unit_test(key_added_while_processing_waits_for_done),
	    cmocka_unit_test(add_after_waits_for_its_time),
	    cmocka_unit_test(earlier_delayed_add_wins),
	    cmocka_unit_test(delayed_keys_reach_blocked_getters),
	    cmocka_unit_test(many_delayed_keys_come_out_in_due_order),
	    cmocka_unit_test(rate_limited_delays_grow_and_forget_resets),
	    cmocka_unit_test(rate_limited_delay_is_capped),
	    cmocka_unit_test(max_items_caps_distinct_keys),
	    cmocka_unit_test(shutdown_wakes_a_blocked_getter),
	    cmocka_unit_test(shutdown_drops_keys_and_refuses_adds),
	    cmocka_unit_test(workers_retry_failing_keys_until_success),
	    cmocka_unit_test(stop_workers_waits_for_the_handler_in_flight),
	    cmocka_unit_test(pool_rules_and_free_while_running),
	};

	/* The pool logs each retry at warn; keep the test output readable. */
	log_setup(LOG_ERROR, LOG_TEXT);
	/* A wait that never ends is a failure too, not a hung build. */
	alarm(300);
	return cmocka_run_group_tests_name("workqueue", tests, NULL, NULL);
}
