/*
 * Unit tests of the event recorder (operator/kube/events): aggregation and
 * spam filtering with injected times, Event names, and the recorder in
 * dry-run mode.
 */

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

#include "base/log.h"
#include "kube/events.h"

static struct events_key key_of(const char *regarding, const char *reason, const char *note)
{
	struct events_key k = {regarding, reason, "Scale", "Normal", note};

	return k;
}

static struct events_cache *cache_of(size_t cap)
{
	struct events_cache *c = NULL;

	assert_int_equal(events_cache_new(&c, cap, NULL), FS_OK);
	return c;
}

/* Marks a NEW series as created at `now`, as the recorder does after its POST. */
static void created(struct events_series *s, double now)
{
	s->event_namespace = strdup("ns");
	s->event_name = strdup("web.1");
	assert_non_null(s->event_name);
	s->written = s->count;
	s->last_write = now;
}

static void repeats_join_one_series(void **state)
{
	struct events_cache *c = cache_of(16);
	struct events_key k = key_of("uid-1", "ScaledUp", "from 1 to 3");
	struct events_observation o;

	(void)state;
	assert_int_equal(events_cache_observe(&o, c, &k, 100.0, 1000, NULL), FS_OK);
	assert_int_equal(o.verdict, EVENTS_NEW);
	assert_non_null(o.series);
	assert_null(o.evicted);
	assert_int_equal(o.series->count, 1);
	assert_int_equal(o.series->written, 0);
	assert_null(o.series->event_name);
	created(o.series, 100.0);
	for (int i = 0; i < 99; i++) {
		assert_int_equal(events_cache_observe(&o, c, &k, 101.0 + i, 2000 + i, NULL), FS_OK);
		assert_int_equal(o.verdict, EVENTS_REPEAT);
	}
	assert_int_equal(o.series->count, 100);
	assert_int_equal(o.series->last_seen_wall_us, 2098);
	assert_int_equal(events_cache_len(c), 1);
	events_cache_free(c);
}

static void any_key_field_makes_another_series(void **state)
{
	struct events_cache *c = cache_of(16);
	struct events_key base = key_of("uid-1", "ScaledUp", "n");
	struct events_key others[5] = {base, base, base, base, base};
	struct events_observation o;

	(void)state;
	others[0].regarding = "uid-2";
	others[1].reason = "ScaledDown";
	others[2].action = "Hold";
	others[3].type = "Warning";
	others[4].note = "m";
	assert_int_equal(events_cache_observe(&o, c, &base, 0, 0, NULL), FS_OK);
	for (size_t i = 0; i < 5; i++) {
		assert_int_equal(events_cache_observe(&o, c, &others[i], 1, 0, NULL), FS_OK);
		assert_int_equal(o.verdict, EVENTS_NEW);
	}
	/* Field boundaries count: "ab"+"c" is not "a"+"bc". */
	others[0] = key_of("uid-1", "ab", "c");
	others[1] = key_of("uid-1", "a", "bc");
	assert_int_equal(events_cache_observe(&o, c, &others[0], 2, 0, NULL), FS_OK);
	assert_int_equal(events_cache_observe(&o, c, &others[1], 2, 0, NULL), FS_OK);
	assert_int_equal(o.verdict, EVENTS_NEW);
	assert_int_equal(events_cache_len(c), 8);
	events_cache_free(c);
}

static void a_repeat_after_six_minutes_starts_anew(void **state)
{
	struct events_cache *c = cache_of(16);
	struct events_key k = key_of("uid-1", "ScaledUp", "n");
	struct events_observation o;
	struct events_series *first;

	(void)state;
	assert_int_equal(events_cache_observe(&o, c, &k, 0, 0, NULL), FS_OK);
	first = o.series;
	created(first, 0);
	assert_int_equal(events_cache_observe(&o, c, &k, 300, 0, NULL), FS_OK);
	assert_int_equal(o.verdict, EVENTS_REPEAT);
	/* The window runs from the last occurrence. */
	assert_int_equal(events_cache_observe(&o, c, &k, 660, 0, NULL), FS_OK);
	assert_int_equal(o.verdict, EVENTS_REPEAT);
	assert_int_equal(events_cache_observe(&o, c, &k, 1020.5, 0, NULL), FS_OK);
	assert_int_equal(o.verdict, EVENTS_NEW);
	assert_ptr_equal(o.evicted, first);
	assert_int_equal(o.evicted->count, 3);
	assert_int_equal(o.series->count, 1);
	assert_int_equal(events_cache_len(c), 1);
	events_series_free(o.evicted);
	events_cache_free(c);
}

static void counts_fall_due_every_thirty_seconds(void **state)
{
	struct events_cache *c = cache_of(16);
	struct events_key k = key_of("uid-1", "ScaledUp", "n");
	struct events_observation o;
	struct events_series *s;

	(void)state;
	assert_true(isinf(events_cache_next_due(c)));
	assert_int_equal(events_cache_observe(&o, c, &k, 10, 0, NULL), FS_OK);
	s = o.series;
	/* Not created yet: nothing to update. */
	assert_null(events_cache_due(c, 1000, true));
	created(s, 10);
	assert_true(isinf(events_cache_next_due(c)));
	assert_null(events_cache_due(c, 100, true)); /* nothing pending */

	assert_int_equal(events_cache_observe(&o, c, &k, 11, 0, NULL), FS_OK);
	assert_true(events_cache_next_due(c) == 40.0);
	assert_null(events_cache_due(c, 39.9, false));
	assert_ptr_equal(events_cache_due(c, 39.9, true), s); /* at shutdown, at once */
	assert_ptr_equal(events_cache_due(c, 40.0, false), s);
	s->written = s->count;
	s->last_write = 40.0;
	assert_null(events_cache_due(c, 80.0, false));

	assert_int_equal(events_cache_observe(&o, c, &k, 45, 0, NULL), FS_OK);
	assert_null(events_cache_due(c, 69.0, false));
	assert_ptr_equal(events_cache_due(c, 70.0, false), s);
	events_cache_remove(c, s);
	assert_int_equal(events_cache_len(c), 0);
	assert_null(events_cache_due(c, 100.0, true));
	events_cache_free(c);
}

static void spam_filter_allows_a_burst_per_object(void **state)
{
	struct events_cache *c = cache_of(64);
	struct events_observation o;
	struct events_key k;
	char note[32];
	int i;

	(void)state;
	for (i = 0; i < 25; i++) {
		snprintf(note, sizeof(note), "note %d", i);
		k = key_of("uid-1", "ScaledUp", note);
		assert_int_equal(events_cache_observe(&o, c, &k, 0, 0, NULL), FS_OK);
		assert_int_equal(o.verdict, EVENTS_NEW);
		created(o.series, 0);
	}
	k = key_of("uid-1", "ScaledUp", "one too many");
	assert_int_equal(events_cache_observe(&o, c, &k, 1, 0, NULL), FS_OK);
	assert_int_equal(o.verdict, EVENTS_THROTTLED);
	assert_null(o.series);
	assert_int_equal(events_cache_len(c), 25);
	/* Repeats of existing series take no token. */
	k = key_of("uid-1", "ScaledUp", "note 3");
	assert_int_equal(events_cache_observe(&o, c, &k, 2, 0, NULL), FS_OK);
	assert_int_equal(o.verdict, EVENTS_REPEAT);
	/* Another object has its own bucket. */
	k = key_of("uid-2", "ScaledUp", "one too many");
	assert_int_equal(events_cache_observe(&o, c, &k, 2, 0, NULL), FS_OK);
	assert_int_equal(o.verdict, EVENTS_NEW);
	/* One token comes back every 5 minutes. */
	k = key_of("uid-1", "ScaledUp", "one too many");
	assert_int_equal(events_cache_observe(&o, c, &k, 299, 0, NULL), FS_OK);
	assert_int_equal(o.verdict, EVENTS_THROTTLED);
	assert_int_equal(events_cache_observe(&o, c, &k, 301, 0, NULL), FS_OK);
	assert_int_equal(o.verdict, EVENTS_NEW);
	k = key_of("uid-1", "ScaledUp", "and another");
	assert_int_equal(events_cache_observe(&o, c, &k, 302, 0, NULL), FS_OK);
	assert_int_equal(o.verdict, EVENTS_THROTTLED);
	events_cache_free(c);
}

static void a_full_cache_evicts_the_oldest(void **state)
{
	struct events_cache *c = cache_of(2);
	struct events_key a = key_of("uid-a", "R", "n");
	struct events_key b = key_of("uid-b", "R", "n");
	struct events_key d = key_of("uid-d", "R", "n");
	struct events_observation o;
	struct events_series *sa;

	(void)state;
	assert_int_equal(events_cache_observe(&o, c, &a, 1, 0, NULL), FS_OK);
	sa = o.series;
	assert_int_equal(events_cache_observe(&o, c, &b, 2, 0, NULL), FS_OK);
	assert_int_equal(events_cache_observe(&o, c, &b, 3, 0, NULL), FS_OK);
	assert_int_equal(events_cache_observe(&o, c, &d, 4, 0, NULL), FS_OK);
	assert_int_equal(o.verdict, EVENTS_NEW);
	assert_ptr_equal(o.evicted, sa);
	assert_int_equal(events_cache_len(c), 2);
	events_series_free(o.evicted);
	/* b is still there; a is new again. */
	assert_int_equal(events_cache_observe(&o, c, &b, 5, 0, NULL), FS_OK);
	assert_int_equal(o.verdict, EVENTS_REPEAT);
	assert_int_equal(o.series->count, 3);
	assert_int_equal(events_cache_observe(&o, c, &a, 6, 0, NULL), FS_OK);
	assert_int_equal(o.verdict, EVENTS_NEW);
	assert_non_null(o.evicted);
	assert_string_equal(o.evicted->key.regarding, "uid-d");
	events_series_free(o.evicted);
	events_cache_free(c);
	assert_int_equal(events_cache_new(&c, 0, NULL), FS_EINVAL);
}

static void event_names_follow_client_go(void **state)
{
	char name[256], object[300];

	(void)state;
	events_event_name(name, sizeof(name), "web", INT64_C(0x1a2b3c4d5e6f7081));
	assert_string_equal(name, "web.1a2b3c4d5e6f7081");
	memset(object, 'a', 253);
	object[253] = '\0';
	object[235] = '-';
	events_event_name(name, sizeof(name), object, INT64_C(0x1a2b3c4d5e6f7081));
	assert_true(strlen(name) <= 253);
	/* The cut fell after the '-': it is dropped, a label ends alphanumeric. */
	assert_int_equal(strlen(name), 235 + 17);
	assert_string_equal(name + 235, ".1a2b3c4d5e6f7081");
}

static void notes_are_cut_on_a_character(void **state)
{
	(void)state;
	assert_int_equal(events_utf8_prefix("hello", 10), 5);
	assert_int_equal(events_utf8_prefix("hello", 5), 5);
	assert_int_equal(events_utf8_prefix("hello", 3), 3);
	/* "h\xc3\xa9llo": cutting at 2 would split the é. */
	assert_int_equal(events_utf8_prefix("h\xc3\xa9llo", 2), 1);
	assert_int_equal(events_utf8_prefix("h\xc3\xa9llo", 3), 3);
	/* A 4-byte character. */
	assert_int_equal(events_utf8_prefix("\xf0\x9f\x98\x80x", 3), 0);
	assert_int_equal(events_utf8_prefix("\xf0\x9f\x98\x80x", 4), 4);
}

static void config_is_checked(void **state)
{
	struct events_config cfg;
	struct events *ev = NULL;
	struct fs_err err;
	char long_name[200];

	(void)state;
	events_config_init(&cfg);
	assert_string_equal(cfg.reporting_controller, "foresight.dev/operator");
	assert_int_equal(cfg.queue_cap, 1000);
	assert_int_equal(cfg.cache_cap, 4096);
	assert_false(cfg.dry_run);
	assert_int_equal(events_new(&ev, NULL, &cfg, &err), FS_EINVAL);
	assert_non_null(strstr(err.msg, "client"));
	cfg.dry_run = true;
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	cfg.reporting_instance = long_name;
	assert_int_equal(events_new(&ev, NULL, &cfg, &err), FS_EINVAL);
	cfg.reporting_instance = NULL;
	cfg.queue_cap = 0;
	assert_int_equal(events_new(&ev, NULL, &cfg, &err), FS_EINVAL);
	assert_null(ev);
}

static void dry_run_writes_nothing_and_counts_drops(void **state)
{
	struct events_ref ref = {.api_version = "v1",
	                         .kind = "ConfigMap",
	                         .namespace = "ns",
	                         .name = "cm",
	                         .uid = "u-1"};
	struct events_ref nameless = ref;
	struct events_config cfg;
	struct events *ev = NULL;
	char long_reason[200];

	(void)state;
	events_config_init(&cfg);
	cfg.dry_run = true;
	cfg.reporting_instance = "unit-test";
	assert_int_equal(events_new(&ev, NULL, &cfg, NULL), FS_OK);
	for (int i = 0; i < 5; i++)
		events_emit(ev, &ref, EVENTS_WARNING, "Failed", "Scale", "attempt %d", i);
	assert_int_equal(events_dropped(ev), 0);
	/* Malformed: no name, no reason, a reason over the cap. */
	nameless.name = NULL;
	events_emit(ev, &nameless, EVENTS_NORMAL, "R", "A", "x");
	events_emit(ev, &ref, EVENTS_NORMAL, "", "A", "x");
	memset(long_reason, 'R', sizeof(long_reason) - 1);
	long_reason[sizeof(long_reason) - 1] = '\0';
	events_emit(ev, &ref, EVENTS_NORMAL, long_reason, "A", "x");
	assert_int_equal(events_dropped(ev), 3);
	events_close(ev);
	events_emit(ev, &ref, EVENTS_NORMAL, "Late", "Scale", "after close");
	assert_int_equal(events_dropped(ev), 4);
	assert_int_equal(events_writes(ev), 0);
	events_close(ev);
	events_free(ev);
	events_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(repeats_join_one_series),
	    cmocka_unit_test(any_key_field_makes_another_series),
	    cmocka_unit_test(a_repeat_after_six_minutes_starts_anew),
	    cmocka_unit_test(counts_fall_due_every_thirty_seconds),
	    cmocka_unit_test(spam_filter_allows_a_burst_per_object),
	    cmocka_unit_test(a_full_cache_evicts_the_oldest),
	    cmocka_unit_test(event_names_follow_client_go),
	    cmocka_unit_test(notes_are_cut_on_a_character),
	    cmocka_unit_test(config_is_checked),
	    cmocka_unit_test(dry_run_writes_nothing_and_counts_drops),
	};

	log_setup(LOG_WARN, LOG_TEXT);
	return cmocka_run_group_tests_name("events", tests, NULL, NULL);
}
