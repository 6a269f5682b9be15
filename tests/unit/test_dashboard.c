/*
 * Unit tests of the dashboard's snapshot store (operator/dashboard): rings
 * stay within their caps and still cover the window, snapshots are
 * immutable and agree with the messages a client applies after them, and
 * every message is well-formed JSON, also under a concurrent reader.
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dashboard/dashboard.h"

static struct dash_sample sample(double t, double load, int current, int desired)
{
	static const struct dash_condition conds[] = {
	    {"Ready", true, "Evaluated", "the scaler is evaluated every interval"},
	    {"ScalingLimited", false, "DesiredWithinRange", "the desired count was not limited"},
	};

	return (struct dash_sample){
	    .t = t,
	    .target = "Deployment/web",
	    .mode = "Auto",
	    .decided = true,
	    .metric = "rps",
	    .target_per_replica = 100,
	    .load = load,
	    .forecast = load * 1.1,
	    .upper = load * 1.3,
	    .lower = load * 0.9,
	    .lead_time = 30,
	    .current = current,
	    .desired = desired,
	    .proposed = desired,
	    .min = 1,
	    .max = 10,
	    .scaled = desired != current,
	    .limited_by = "None",
	    .reason = "load 250 rps needs 3 replicas",
	    .conditions = conds,
	    .n_conditions = 2,
	};
}

/* The message parsed; fails the test when it is not one JSON object. */
static json_object *parse(const struct dash_msg *m)
{
	enum json_tokener_error jerr;
	json_object *o = json_tokener_parse_verbose(m->data, &jerr);

	if (!o || !json_object_is_type(o, json_type_object))
		fail_msg("not a JSON object (%s): %.200s", json_tokener_error_desc(jerr), m->data);
	assert_int_equal(strlen(m->data), m->len);
	return o;
}

static json_object *get(json_object *o, const char *k)
{
	json_object *v = NULL;

	if (!json_object_object_get_ex(o, k, &v))
		fail_msg("no \"%s\" in %s", k, json_object_to_json_string(o));
	return v;
}

/* The scaler `key` of a "state" message. */
static json_object *state_scaler(json_object *state, const char *key)
{
	json_object *list = get(state, "scalers");

	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *s = json_object_array_get_idx(list, i);

		if (strcmp(json_object_get_string(get(s, "key")), key) == 0)
			return s;
	}
	return NULL;
}

static json_object *snapshot_json(struct dash *d)
{
	struct dash_msg *m = dash_snapshot(d);
	json_object *o;

	assert_non_null(m);
	o = parse(m);
	assert_string_equal(json_object_get_string(get(o, "type")), "state");
	assert_int_equal(json_object_get_int64(get(o, "seq")), m->seq);
	dash_msg_unref(m);
	return o;
}

static json_object *latest_json(struct dash *d);

/* A ring of `points`: 16 is its first allocation, 100 is reached by doubling it. */
static void ring_stays_capped_and_thins_out(size_t points)
{
	struct dash_opts o;
	struct dash *d;
	json_object *st, *s, *pts;
	double first, last, prev;
	size_t n;

	dash_opts_init(&o);
	o.points = points;
	o.window_s = 600; /* thinned while a full ring covers less than 300 s */
	assert_int_equal(dash_new(&d, &o, NULL), FS_OK);
	dash_reader(d, true); /* as a WebSocket client */
	for (int i = 0; i < 5000; i++) {
		struct dash_sample smp = sample(1000 + 2.0 * i, i, 2, 2);

		assert_int_equal(dash_publish(d, "shop/web", &smp, NULL), FS_OK);
		if (i % 97 == 0 || i == 4999) {
			st = latest_json(d);
			s = state_scaler(st, "shop/web");
			assert_non_null(s);
			pts = get(s, "points");
			n = json_object_array_length(pts);
			assert_true(n >= 1 && n <= points);
			/* Oldest first, the newest point is the last sample. */
			prev = -1;
			for (size_t k = 0; k < n; k++) {
				double t = json_object_get_double(json_object_array_get_idx(
				    json_object_array_get_idx(pts, k), 0));

				assert_true(t > prev);
				prev = t;
			}
			assert_true(prev == 1000 + 2.0 * i);
			json_object_put(st);
		}
	}
	st = latest_json(d);
	s = state_scaler(st, "shop/web");
	pts = get(s, "points");
	n = json_object_array_length(pts);
	first =
	    json_object_get_double(json_object_array_get_idx(json_object_array_get_idx(pts, 0), 0));
	last = json_object_get_double(
	    json_object_array_get_idx(json_object_array_get_idx(pts, n - 1), 0));
	/* The points cover at least half the window, not as many samples of 2 s. */
	assert_true(last - first >= 300 - 2 * json_object_get_double(get(s, "spacing")));
	assert_true(last - first <= 600 + 2 * json_object_get_double(get(s, "spacing")));
	assert_true(json_object_get_double(get(s, "spacing")) > 2);
	json_object_put(st);
	dash_free(d);
}

static void rings_stay_capped_and_thin_out_to_cover_the_window(void **state)
{
	(void)state;
	ring_stays_capped_and_thins_out(16);
	ring_stays_capped_and_thins_out(100);
}

static void samples_that_cover_the_window_drop_the_oldest(void **state)
{
	/* 8 fits the first allocation; 40 is reached by doubling it (16, 32, 40). */
	static const int caps[] = {8, 40};

	(void)state;
	for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		struct dash_opts o;
		struct dash *d;
		json_object *st, *pts;
		int cap = caps[c];

		dash_opts_init(&o);
		o.points = (size_t)cap;
		o.window_s = 60; /* samples 30 s apart cover more than half of it: never thinned */
		assert_int_equal(dash_new(&d, &o, NULL), FS_OK);
		dash_reader(d, true); /* as a WebSocket client */
		for (int i = 0; i < cap + 12; i++) {
			struct dash_sample smp = sample(30.0 * i, i, 1, 1);

			assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK);
		}
		st = latest_json(d);
		pts = get(state_scaler(st, "a/x"), "points");
		assert_int_equal(json_object_array_length(pts), cap);
		for (int k = 0; k < cap; k++) {
			json_object *p = json_object_array_get_idx(pts, (size_t)k);

			assert_true(json_object_get_double(json_object_array_get_idx(p, 0)) ==
			            30.0 * (12 + k));
			assert_int_equal(json_object_get_int(json_object_array_get_idx(p, 1)),
			                 12 + k);
		}
		json_object_put(st);
		dash_free(d);
	}
}

static void scale_events_are_recorded_capped_and_dry_runs_say_would(void **state)
{
	struct dash_opts o;
	struct dash *d;
	struct dash_sample smp;
	json_object *st, *evs, *e;

	(void)state;
	dash_opts_init(&o);
	o.events = 20; /* more than the ring's first allocation: it grows, then drops the oldest */
	assert_int_equal(dash_new(&d, &o, NULL), FS_OK);
	dash_reader(d, true); /* as a WebSocket client */
	for (int i = 0; i < 30; i++) {
		smp = sample(100.0 + 10 * i, 100, 1 + i, 2 + i); /* scaled each time */
		assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK);
	}
	st = latest_json(d);
	evs = get(state_scaler(st, "a/x"), "events");
	assert_int_equal(json_object_array_length(evs), 20);
	e = json_object_array_get_idx(evs, 0);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(e, 1)), 11);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(e, 2)), 12);
	e = json_object_array_get_idx(evs, 19);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(e, 1)), 30);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(e, 2)), 31);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(e, 3)), 1);
	json_object_put(st);

	/* --dry-run: nothing scales; the wish is an event once, not at every evaluation. */
	for (int i = 0; i < 5; i++) {
		smp = sample(300.0 + 10 * i, 600, 2, 6);
		smp.scaled = false;
		smp.dry_run = true;
		assert_int_equal(dash_publish(d, "b/y", &smp, NULL), FS_OK);
	}
	st = latest_json(d);
	evs = get(state_scaler(st, "b/y"), "events");
	assert_int_equal(json_object_array_length(evs), 1);
	e = json_object_array_get_idx(evs, 0);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(e, 1)), 2);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(e, 2)), 6);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(e, 3)), 0);
	/* The capacity drawn is what the target has: 2 replicas x 100. */
	assert_int_equal(
	    json_object_get_int(json_object_array_get_idx(
	        json_object_array_get_idx(get(state_scaler(st, "b/y"), "points"), 0), 6)),
	    200);
	json_object_put(st);
	dash_free(d);
}

static void snapshots_are_immutable_and_cached(void **state)
{
	struct dash *d;
	struct dash_sample smp = sample(10, 100, 1, 1);
	struct dash_msg *m1, *m2, *m3;
	char *copy;

	(void)state;
	assert_int_equal(dash_new(&d, NULL, NULL), FS_OK);
	dash_reader(d, true); /* as a WebSocket client */
	assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK);
	m1 = dash_snapshot(d);
	assert_non_null(m1);
	copy = strdup(m1->data);
	m2 = dash_snapshot(d);
	assert_ptr_equal(m1, m2); /* nothing changed: the same message */
	dash_msg_unref(m2);
	/* A few messages later, clients that connect share it and catch up. */
	smp = sample(11, 100, 1, 1);
	assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK);
	m2 = dash_snapshot(d);
	assert_ptr_equal(m1, m2);
	dash_msg_unref(m2);
	for (int i = 1; i < 50; i++) {
		smp = sample(10 + 2.0 * i, 100 + i, 1, 1);
		assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK);
	}
	m3 = dash_snapshot(d);
	assert_ptr_not_equal(m1, m3); /* more than DASH_SNAPSHOT_STALE_MAX behind: rendered anew */
	assert_true(m3->seq == m1->seq + 50);
	assert_string_equal(m1->data, copy); /* the reader's copy did not move */
	dash_free(d);                        /* messages outlive the store */
	assert_string_equal(m1->data, copy);
	json_object_put(parse(m3));
	dash_msg_unref(m1);
	dash_msg_unref(m3);
	free(copy);
}

/* --- a client, as the page is: a state, then every message after it ------------ */

struct client {
	json_object *scalers; /* key -> SCALER */
	json_object *budgets; /* key -> BUDGET */
	uint64_t seq;
	size_t points_cap, events_cap;
};

static void client_start(struct client *c, json_object *st)
{
	json_object *list = get(st, "scalers"), *caps = get(st, "caps");

	json_object_put(c->scalers);
	json_object_put(c->budgets);
	c->scalers = json_object_new_object();
	c->budgets = json_object_new_object();
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *s = json_object_array_get_idx(list, i);

		json_object_object_add(c->scalers, json_object_get_string(get(s, "key")),
		                       json_object_get(s));
	}
	list = get(st, "budgets");
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *b = json_object_array_get_idx(list, i);

		json_object_object_add(c->budgets, json_object_get_string(get(b, "key")),
		                       json_object_get(b));
	}
	c->seq = (uint64_t)json_object_get_int64(get(st, "seq"));
	c->points_cap = (size_t)json_object_get_int64(get(caps, "points"));
	c->events_cap = (size_t)json_object_get_int64(get(caps, "events"));
}

static void push_capped(json_object *arr, json_object *v, size_t cap)
{
	json_object_array_add(arr, json_object_get(v));
	if (json_object_array_length(arr) > cap)
		json_object_array_del_idx(arr, 0, json_object_array_length(arr) - cap);
}

static void client_apply(struct client *c, json_object *m)
{
	const char *type = json_object_get_string(get(m, "type"));
	uint64_t seq = (uint64_t)json_object_get_int64(get(m, "seq"));

	assert_true(seq == c->seq + 1); /* nothing skipped, nothing twice */
	c->seq = seq;
	if (strcmp(type, "scaler") == 0) {
		json_object *s = get(m, "scaler");

		json_object_object_add(c->scalers, json_object_get_string(get(s, "key")),
		                       json_object_get(s));
	} else if (strcmp(type, "sample") == 0) {
		json_object *s = get(c->scalers, json_object_get_string(get(m, "key"))), *ev;
		json_object *pts = get(s, "points"), *p = get(m, "point");

		json_object_object_add(s, "status", json_object_get(get(m, "status")));
		if (p) {
			if (json_object_get_boolean(get(m, "replace")))
				json_object_array_del_idx(pts, json_object_array_length(pts) - 1,
				                          1);
			push_capped(pts, p, c->points_cap);
		}
		if (json_object_object_get_ex(m, "event", &ev))
			push_capped(get(s, "events"), ev, c->events_cap);
	} else if (strcmp(type, "forget") == 0) {
		json_object_object_del(c->scalers, json_object_get_string(get(m, "key")));
	} else if (strcmp(type, "budget") == 0) {
		json_object *b = get(m, "budget");

		json_object_object_add(c->budgets, json_object_get_string(get(b, "key")),
		                       json_object_get(b));
	} else if (strcmp(type, "forgetBudget") == 0) {
		json_object_object_del(c->budgets, json_object_get_string(get(m, "key")));
	} else {
		fail_msg("unknown message type %s", type);
	}
}

/* Catches up with every message after c->seq; false when the store had moved past them. */
static bool client_catch_up(struct client *c, struct dash *d)
{
	struct dash_msg *msgs[8];
	size_t n;
	bool gap;

	do {
		n = dash_updates(msgs, 8, &gap, d, c->seq);
		if (gap)
			return false;
		for (size_t i = 0; i < n; i++) {
			json_object *m = parse(msgs[i]);

			client_apply(c, m);
			json_object_put(m);
			dash_msg_unref(msgs[i]);
		}
	} while (n > 0);
	return true;
}

/*
 * The store's state now, as a "state" message would say it: a snapshot
 * (perhaps a few messages old) and the messages after it, applied.
 */
static json_object *latest_json(struct dash *d)
{
	struct client c = {0};
	json_object *st = snapshot_json(d), *scalers = json_object_new_array();
	json_object *budgets = json_object_new_array();

	client_start(&c, st);
	assert_true(client_catch_up(&c, d));
	json_object_object_foreach(c.scalers, key, v)
	{
		(void)key;
		json_object_array_add(scalers, json_object_get(v));
	}
	json_object_object_foreach(c.budgets, bkey, b)
	{
		(void)bkey;
		json_object_array_add(budgets, json_object_get(b));
	}
	json_object_object_add(st, "seq", json_object_new_int64((int64_t)c.seq));
	json_object_object_add(st, "scalers", scalers);
	json_object_object_add(st, "budgets", budgets);
	json_object_put(c.scalers);
	json_object_put(c.budgets);
	return st;
}

static bool same(json_object *a, json_object *b)
{
	return strcmp(json_object_to_json_string(a), json_object_to_json_string(b)) == 0;
}

/*
 * What the client holds is what a new client has after a snapshot (up to
 * DASH_SNAPSHOT_STALE_MAX messages old) and the messages after it.
 */
static void assert_client_agrees(struct client *c, struct dash *d)
{
	struct client fresh = {0};
	json_object *st = snapshot_json(d);
	uint64_t seq = (uint64_t)json_object_get_int64(get(st, "seq"));

	assert_true(seq <= c->seq && c->seq - seq <= DASH_SNAPSHOT_STALE_MAX);
	client_start(&fresh, st);
	json_object_put(st);
	assert_true(client_catch_up(&fresh, d));
	assert_true(fresh.seq == c->seq);
	json_object_object_foreach(fresh.scalers, key, s)
	{
		json_object *mine = get(c->scalers, key);

		if (!same(get(mine, "points"), get(s, "points")) ||
		    !same(get(mine, "events"), get(s, "events")) ||
		    !same(get(mine, "status"), get(s, "status")))
			fail_msg("%s: the client has %s, a fresh one %s", key,
			         json_object_to_json_string(mine), json_object_to_json_string(s));
	}
	assert_int_equal(json_object_object_length(fresh.scalers),
	                 json_object_object_length(c->scalers));
	json_object_object_foreach(fresh.budgets, bkey, b)
	{
		assert_true(same(get(c->budgets, bkey), b));
	}
	assert_int_equal(json_object_object_length(fresh.budgets),
	                 json_object_object_length(c->budgets));
	json_object_put(fresh.scalers);
	json_object_put(fresh.budgets);
}

static void a_snapshot_and_the_messages_after_it_agree(void **state)
{
	struct dash_opts o;
	struct dash *d;
	struct client c = {0};
	json_object *st;

	(void)state;
	dash_opts_init(&o);
	o.points = 10;
	o.events = 3;
	o.window_s = 400;
	assert_int_equal(dash_new(&d, &o, NULL), FS_OK);
	dash_reader(d, true); /* as a WebSocket client */
	st = latest_json(d);
	client_start(&c, st);
	json_object_put(st);
	for (int i = 0; i < 400; i++) {
		char key[32];
		struct dash_sample smp;
		struct dash_budget b = {true, NULL, 100,     40.0 + i % 3,        40,     30,
		                        2,    0,    "False", "NoSaturationQuery", "False"};

		snprintf(key, sizeof(key), "ns/s%d", i % 3);
		/* Irregular times: some replace the newest point, some thin the ring. */
		smp = sample(1000 + 1.3 * i + (i % 7 == 0 ? 0.2 : 0), (i * 37) % 500, 1 + i % 4,
		             1 + (i + 1) % 4);
		smp.decided = i % 11 != 0;
		assert_int_equal(dash_publish(d, key, &smp, NULL), FS_OK);
		assert_int_equal(dash_publish_budget(d, "ns/db", &b, NULL), FS_OK);
		if (i == 200)
			dash_forget(d, "ns/s1");
		if (i == 300)
			dash_forget_budget(d, "ns/db");
		if (i % 13 == 0) {
			assert_true(client_catch_up(&c, d));
			assert_client_agrees(&c, d);
		}
	}
	assert_true(client_catch_up(&c, d));
	assert_client_agrees(&c, d);
	json_object_put(c.scalers);
	json_object_put(c.budgets);
	dash_free(d);
}

static void a_client_left_behind_sees_a_gap(void **state)
{
	struct dash_opts o;
	struct dash *d;
	struct dash_msg *msgs[4];
	bool gap;

	(void)state;
	dash_opts_init(&o);
	o.updates = 4;
	assert_int_equal(dash_new(&d, &o, NULL), FS_OK);
	dash_reader(d, true); /* as a WebSocket client */
	for (int i = 0; i < 10; i++) {
		struct dash_sample smp = sample(10.0 * i, 1, 1, 1);

		assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK);
	}
	assert_int_equal(dash_seq(d), 10);
	assert_int_equal(dash_updates(msgs, 4, &gap, d, 2), 0);
	assert_true(gap);
	assert_int_equal(dash_updates(msgs, 4, &gap, d, 7), 3);
	assert_false(gap);
	assert_true(msgs[0]->seq == 8 && msgs[2]->seq == 10);
	for (int i = 0; i < 3; i++)
		dash_msg_unref(msgs[i]);
	assert_int_equal(dash_updates(msgs, 4, &gap, d, 10), 0);
	assert_false(gap);
	dash_free(d);
}

static void without_readers_no_update_is_kept(void **state)
{
	struct dash *d;
	struct dash_msg *msgs[4], *snap;
	struct dash_sample smp = sample(10.0, 2, 2, 2);
	bool gap;

	(void)state;
	assert_int_equal(dash_new(&d, NULL, NULL), FS_OK);
	assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK);
	smp = sample(20.0, 3, 3, 3);
	assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK);
	/* The changes are counted, not kept: a reader from before them has a gap. */
	assert_int_equal(dash_seq(d), 2);
	assert_int_equal(dash_updates(msgs, 4, &gap, d, 0), 0);
	assert_true(gap);
	/* A reader that joins starts from a snapshot that has them all. */
	dash_reader(d, true);
	snap = dash_snapshot(d);
	assert_non_null(snap);
	assert_true(snap->seq == 2);
	assert_non_null(strstr(snap->data, "\"a/x\""));
	smp = sample(30.0, 4, 4, 4);
	assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK);
	assert_int_equal(dash_updates(msgs, 4, &gap, d, snap->seq), 1);
	assert_false(gap);
	assert_true(msgs[0]->seq == 3);
	dash_msg_unref(msgs[0]);
	dash_msg_unref(snap);
	/* When the last reader leaves, what was kept goes. */
	dash_reader(d, false);
	smp = sample(40.0, 5, 5, 5);
	assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK);
	assert_int_equal(dash_updates(msgs, 4, &gap, d, 2), 0);
	assert_true(gap);
	dash_free(d);
}

static void json_is_well_formed_whatever_the_strings(void **state)
{
	struct dash *d;
	/* Quotes, backslashes, control characters, and UTF-8 cut mid-character. */
	static const char reason[] = "a \"quoted\" \\ path\nnew line\t\x01 \xe2\x89\xa5 3 \xe2\x89";
	struct dash_condition cond = {"Ready", false, "Bad\"Reason", "\xff\xfe broken"};
	struct dash_sample smp = sample(5, NAN, 1, 1);
	struct dash_budget b = {
	    false, "spec.capacity: \"x\"", NAN, INFINITY, 0, 0, 0, 0, NULL, NULL, NULL};
	json_object *st, *s, *status, *pt;

	(void)state;
	smp.reason = reason;
	smp.conditions = &cond;
	smp.n_conditions = 1;
	smp.forecast = smp.upper = smp.lower = NAN;
	smp.limited_by = NULL;
	assert_int_equal(dash_new(&d, NULL, NULL), FS_OK);
	dash_reader(d, true); /* as a WebSocket client */
	assert_int_equal(dash_publish(d, "weird/na\"me", &smp, NULL), FS_OK);
	assert_int_equal(dash_publish_budget(d, "weird/b", &b, NULL), FS_OK);
	st = latest_json(d);
	s = state_scaler(st, "weird/na\"me");
	assert_non_null(s);
	assert_string_equal(json_object_get_string(get(s, "namespace")), "weird");
	assert_string_equal(json_object_get_string(get(s, "name")), "na\"me");
	status = get(s, "status");
	assert_string_equal(json_object_get_string(get(status, "reason")),
	                    "a \"quoted\" \\ path\nnew line\t\x01 \xe2\x89\xa5 3 "
	                    "\xef\xbf\xbd\xef\xbf\xbd"); /* one U+FFFD a byte */
	assert_string_equal(json_object_get_string(get(status, "limitedBy")), "");
	assert_true(json_object_is_type(get(status, "load"), json_type_null));
	pt = json_object_array_get_idx(get(s, "points"), 0);
	assert_true(json_object_is_type(json_object_array_get_idx(pt, 1), json_type_null));
	assert_string_equal(
	    json_object_get_string(
	        get(json_object_array_get_idx(get(status, "conditions"), 0), "message")),
	    "\xef\xbf\xbd\xef\xbf\xbd broken");
	assert_true(json_object_is_type(
	    get(json_object_array_get_idx(get(st, "budgets"), 0), "requested"), json_type_null));
	json_object_put(st);
	dash_free(d);
}

static void caps_on_scalers_and_unchanged_budgets(void **state)
{
	struct dash_opts o;
	struct dash *d;
	struct dash_sample smp = sample(1, 1, 1, 1);
	struct dash_budget b = {true, NULL, 100, 10, 10, 10, 1, 0, "False", "x", "False"};
	struct fs_err err;
	uint64_t seq;

	(void)state;
	dash_opts_init(&o);
	o.scalers = 2;
	o.budgets = 1;
	assert_int_equal(dash_new(&d, &o, NULL), FS_OK);
	dash_reader(d, true); /* as a WebSocket client */
	assert_int_equal(dash_publish(d, "a/1", &smp, NULL), FS_OK);
	assert_int_equal(dash_publish(d, "a/2", &smp, NULL), FS_OK);
	assert_int_equal(dash_publish(d, "a/3", &smp, &err), FS_ETOOLARGE);
	assert_non_null(strstr(err.msg, "2 scalers"));
	assert_int_equal(dash_publish(d, "a/1", &smp, NULL), FS_OK); /* known ones go on */
	assert_int_equal(dash_publish_budget(d, "a/db", &b, NULL), FS_OK);
	seq = dash_seq(d);
	assert_int_equal(dash_publish_budget(d, "a/db", &b, NULL), FS_OK);
	assert_true(dash_seq(d) == seq); /* unchanged: no message */
	b.used = 20;
	assert_int_equal(dash_publish_budget(d, "a/db", &b, NULL), FS_OK);
	assert_true(dash_seq(d) == seq + 1);
	assert_int_equal(dash_publish_budget(d, "a/other", &b, NULL), FS_ETOOLARGE);
	dash_forget(d, "a/2");
	assert_int_equal(dash_publish(d, "a/3", &smp, NULL), FS_OK);
	dash_free(d);
}

/* A packed chart value: within 2^-10 of `want`, and of the 6 digits it is written with. */
static void assert_near(json_object *v, double want)
{
	double got = json_object_get_double(v);

	if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
		fail_msg("%s for %.9g", json_object_to_json_string(v), want);
	if (!(fabs(got - want) <= fabs(want) * (1.0 / 1024 + 1e-5)))
		fail_msg("%.9g for %.9g", got, want);
}

static void chart_points_are_compact_but_within_a_tenth_of_a_percent(void **state)
{
	/* Across the range (0.9 and 1.3 times them too); binary16's 65504 and past it. */
	static const double loads[] = {2e-7,   3.3e-5, 0.1,   0.5, 1,     7.77, 100, 123.456,
	                               1023.5, 65504,  65537, 1e6, 2.5e9, 1e11, 8e11};
	const size_t n = sizeof(loads) / sizeof(loads[0]);
	struct dash_opts o;
	struct dash *d;
	struct dash_sample smp;
	json_object *st, *pts, *p;

	(void)state;
	dash_opts_init(&o);
	o.points = 64;
	assert_int_equal(dash_new(&d, &o, NULL), FS_OK);
	dash_reader(d, true); /* as a WebSocket client */
	for (size_t k = 0; k < n; k++) {
		smp = sample(1000 + 10.0 * (double)k + 0.123, loads[k], 2, 2);
		assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK);
	}
	/* Not known, infinite, past the range, below it, signed, many replicas. */
	smp = sample(1000 + 10.0 * (double)n, NAN, 70000, 70000);
	smp.forecast = INFINITY;
	smp.upper = 1e15;
	smp.lower = -1e-12; /* 0, not minus zero: that is "not known" */
	smp.lead_time = 45;
	assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK);
	smp = sample(1010 + 10.0 * (double)n, -0.0, 1, 1);
	smp.forecast = -INFINITY;
	smp.upper = 1e-9; /* below the smallest normal value: in steps of 2.3e-10 */
	smp.lower = -1234.5;
	assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK);

	st = latest_json(d);
	pts = get(state_scaler(st, "a/x"), "points");
	assert_int_equal(json_object_array_length(pts), n + 2);
	for (size_t k = 0; k < n; k++) {
		p = json_object_array_get_idx(pts, k);
		/* Hundredths of a second. */
		assert_true(json_object_get_double(json_object_array_get_idx(p, 0)) ==
		            1000 + 10.0 * (double)k + 0.12);
		assert_near(json_object_array_get_idx(p, 1), loads[k]);
		assert_near(json_object_array_get_idx(p, 2), loads[k] * 1.1);
		assert_near(json_object_array_get_idx(p, 3), loads[k] * 1.3);
		assert_near(json_object_array_get_idx(p, 4), loads[k] * 0.9);
		assert_true(json_object_get_double(json_object_array_get_idx(p, 5)) == 30);
		assert_true(json_object_get_double(json_object_array_get_idx(p, 6)) == 200);
		assert_int_equal(json_object_get_int(json_object_array_get_idx(p, 7)), 2);
		assert_int_equal(json_object_get_int(json_object_array_get_idx(p, 8)), 2);
	}
	p = json_object_array_get_idx(pts, n);
	assert_true(json_object_is_type(json_object_array_get_idx(p, 1), json_type_null));
	assert_true(json_object_is_type(json_object_array_get_idx(p, 2), json_type_null));
	assert_near(json_object_array_get_idx(p, 3), ldexp(1023, 30)); /* the largest, 1.1e12 */
	assert_true(json_object_is_type(json_object_array_get_idx(p, 4), json_type_int));
	assert_true(json_object_get_double(json_object_array_get_idx(p, 4)) == 0);
	assert_true(json_object_get_double(json_object_array_get_idx(p, 5)) == 45);
	assert_near(json_object_array_get_idx(p, 6), 7e6);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(p, 7)), 65535);
	assert_int_equal(json_object_get_int(json_object_array_get_idx(p, 8)), 65535);
	p = json_object_array_get_idx(pts, n + 1);
	assert_true(json_object_is_type(json_object_array_get_idx(p, 1), json_type_int));
	assert_true(json_object_get_double(json_object_array_get_idx(p, 1)) == 0);
	assert_true(json_object_is_type(json_object_array_get_idx(p, 2), json_type_null));
	assert_true(fabs(json_object_get_double(json_object_array_get_idx(p, 3)) - 1e-9) <=
	            ldexp(1, -33));
	assert_near(json_object_array_get_idx(p, 4), -1234.5);
	/* The status has the numbers as published. */
	assert_true(json_object_get_double(get(get(state_scaler(st, "a/x"), "status"), "lower")) ==
	            -1234.5);
	json_object_put(st);
	dash_free(d);
}

/* The type of the last message. */
static void assert_last_message(struct dash *d, const char *type)
{
	struct dash_msg *m;
	json_object *o;
	bool gap;

	assert_int_equal(dash_updates(&m, 1, &gap, d, dash_seq(d) - 1), 1);
	o = parse(m);
	assert_string_equal(json_object_get_string(get(o, "type")), type);
	json_object_put(o);
	dash_msg_unref(m);
}

/* The times of scaler a/x's points are `want` (n of them), to the hundredth of a second. */
static void assert_point_times(struct dash *d, const double *want, size_t n)
{
	json_object *st = latest_json(d), *pts = get(state_scaler(st, "a/x"), "points");

	assert_int_equal(json_object_array_length(pts), n);
	for (size_t k = 0; k < n; k++) {
		double t = json_object_get_double(
		    json_object_array_get_idx(json_object_array_get_idx(pts, k), 0));

		if (t != want[k])
			fail_msg("point %zu at %.2f, not %.2f", k, t, want[k]);
	}
	json_object_put(st);
}

static void point_times_outlast_their_32_bits(void **state)
{
	static const double kept[] = {2.1e7 + 10.25, 2.1e7 + 20, 2.1e7 + 30, 2.2e7};
	static const double anew[] = {4.7e7}, back[] = {1000, 1010.5};
	struct dash_opts o;
	struct dash *d;
	struct client c = {0};
	struct dash_sample smp;
	json_object *st;

	(void)state;
	dash_opts_init(&o);
	o.points = 4;
	o.window_s = 10; /* a full ring drops its oldest point */
	assert_int_equal(dash_new(&d, &o, NULL), FS_OK);
	dash_reader(d, true); /* as a WebSocket client */
	smp = sample(0.5, 1, 1, 1);
	assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK);
	for (int i = 0; i < 4; i++) {
		smp = sample(i ? 2.1e7 + 10 * i : 2.1e7, 1, 1, 1);
		smp.t += i == 1 ? 0.25 : 0;
		assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK);
	}
	/* 2^31 hundredths of a second after the first point: its time no longer fits. */
	smp = sample(2.2e7, 1, 1, 1);
	assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK);
	assert_last_message(d, "sample");
	/* The first snapshot, rendered from the store: the points kept are as they were. */
	assert_point_times(d, kept, 4);
	st = latest_json(d);
	client_start(&c, st);
	json_object_put(st);

	/* 289 days later: no point kept is within reach of the new one. */
	smp = sample(4.7e7, 1, 1, 1);
	assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK);
	assert_last_message(d, "scaler");
	assert_point_times(d, anew, 1);
	/* A clock set back by years. */
	smp = sample(1000, 1, 1, 1);
	assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK);
	assert_last_message(d, "scaler");
	smp = sample(1010.5, 1, 1, 1);
	assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK);
	assert_last_message(d, "sample");
	assert_point_times(d, back, 2);
	assert_true(client_catch_up(&c, d));
	assert_client_agrees(&c, d);
	json_object_put(c.scalers);
	json_object_put(c.budgets);
	dash_free(d);
}

/* The length of string `k` of `o`. */
static size_t len_of(json_object *o, const char *k)
{
	return strlen(json_object_get_string(get(o, k)));
}

static void status_strings_are_cut_and_the_longest_status_fits(void **state)
{
	/* Every byte a 6-byte escape: the longest a status can be. */
	static char s[600];
	struct dash_condition conds[DASH_CONDITIONS_MAX + 1];
	struct dash_sample smp = sample(1, 1, 1, 1);
	struct dash *d;
	json_object *st, *status, *list;

	(void)state;
	memset(s, '\x01', sizeof(s) - 1);
	for (size_t i = 0; i < DASH_CONDITIONS_MAX + 1; i++)
		conds[i] = (struct dash_condition){s, true, s, s};
	smp.target = smp.mode = smp.metric = smp.limited_by = smp.reason = s;
	smp.conditions = conds;
	smp.n_conditions = DASH_CONDITIONS_MAX + 1;
	assert_int_equal(dash_new(&d, NULL, NULL), FS_OK);
	dash_reader(d, true);                                        /* as a WebSocket client */
	assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK); /* "scaler" */
	smp.t = 2;
	assert_int_equal(dash_publish(d, "a/x", &smp, NULL), FS_OK); /* "sample" */
	st = latest_json(d); /* no message was lost: the client sees no gap */
	status = get(state_scaler(st, "a/x"), "status");
	assert_int_equal(len_of(status, "target"), 299);
	assert_int_equal(len_of(status, "mode"), 15);
	assert_int_equal(len_of(status, "metric"), 63);
	assert_int_equal(len_of(status, "limitedBy"), 23);
	assert_int_equal(len_of(status, "reason"), 511);
	list = get(status, "conditions");
	assert_int_equal(json_object_array_length(list), DASH_CONDITIONS_MAX);
	for (size_t i = 0; i < DASH_CONDITIONS_MAX; i++) {
		json_object *cond = json_object_array_get_idx(list, i);

		assert_int_equal(len_of(cond, "type"), 23);
		assert_int_equal(len_of(cond, "reason"), 63);
		assert_int_equal(len_of(cond, "message"), 255);
	}
	json_object_put(st);
	dash_free(d);
}

static void count(void *ctx)
{
	(*(int *)ctx)++;
}

static void subscribers_hear_of_every_change(void **state)
{
	struct dash *d;
	struct dash_sample smp = sample(1, 1, 1, 1);
	int calls = 0;

	(void)state;
	assert_int_equal(dash_new(&d, NULL, NULL), FS_OK);
	dash_reader(d, true); /* as a WebSocket client */
	dash_subscribe(d, count, &calls);
	assert_int_equal(dash_publish(d, "a/1", &smp, NULL), FS_OK);
	dash_forget(d, "a/1");
	dash_forget(d, "a/1"); /* unknown: no change */
	assert_int_equal(calls, 2);
	dash_subscribe(d, NULL, NULL);
	assert_int_equal(dash_publish(d, "a/1", &smp, NULL), FS_OK);
	assert_int_equal(calls, 2);
	dash_free(d);
}

/* --- a publisher and a reader at once ------------------------------------------ */

struct race {
	struct dash *d;
	atomic_bool done;
};

static void *publisher(void *arg)
{
	struct race *r = arg;

	for (int i = 0; i < 3000; i++) {
		char key[32];
		struct dash_sample smp = sample(1.0 * i, i % 300, 1, 1 + i % 2);

		snprintf(key, sizeof(key), "ns/s%d", i % 5);
		dash_publish(r->d, key, &smp, NULL);
	}
	atomic_store(&r->done, true);
	return NULL;
}

static void a_reader_keeps_up_with_a_publisher(void **state)
{
	struct dash_opts o;
	struct race r = {0};
	struct client c = {0};
	pthread_t th;
	int restarts = 0;
	json_object *st;

	(void)state;
	dash_opts_init(&o);
	o.points = 32;
	o.window_s = 200;
	assert_int_equal(dash_new(&r.d, &o, NULL), FS_OK);
	dash_reader(r.d, true); /* as a WebSocket client */
	st = snapshot_json(r.d);
	client_start(&c, st);
	json_object_put(st);
	assert_int_equal(pthread_create(&th, NULL, publisher, &r), 0);
	while (!atomic_load(&r.done)) {
		if (!client_catch_up(&c, r.d)) {
			st = snapshot_json(r.d);
			client_start(&c, st);
			json_object_put(st);
			restarts++;
		}
	}
	pthread_join(th, NULL);
	/* Left behind by the last burst (a slow machine, valgrind): start over, as a page does. */
	if (!client_catch_up(&c, r.d)) {
		st = snapshot_json(r.d);
		client_start(&c, st);
		json_object_put(st);
		restarts++;
	}
	assert_client_agrees(&c, r.d);
	print_message("restarts from a snapshot: %d\n", restarts);
	json_object_put(c.scalers);
	json_object_put(c.budgets);
	dash_free(r.d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(rings_stay_capped_and_thin_out_to_cover_the_window),
	    cmocka_unit_test(samples_that_cover_the_window_drop_the_oldest),
	    cmocka_unit_test(scale_events_are_recorded_capped_and_dry_runs_say_would),
	    cmocka_unit_test(snapshots_are_immutable_and_cached),
	    cmocka_unit_test(a_snapshot_and_the_messages_after_it_agree),
	    cmocka_unit_test(a_client_left_behind_sees_a_gap),
	    cmocka_unit_test(without_readers_no_update_is_kept),
	    cmocka_unit_test(json_is_well_formed_whatever_the_strings),
	    cmocka_unit_test(caps_on_scalers_and_unchanged_budgets),
	    cmocka_unit_test(chart_points_are_compact_but_within_a_tenth_of_a_percent),
	    cmocka_unit_test(point_times_outlast_their_32_bits),
	    cmocka_unit_test(status_strings_are_cut_and_the_longest_status_fits),
	    cmocka_unit_test(subscribers_hear_of_every_change),
	    cmocka_unit_test(a_reader_keeps_up_with_a_publisher),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
