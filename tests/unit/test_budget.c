/*
 * Unit tests of ConcurrencyBudget allocation (operator/budget): worked
 * examples, then properties checked on thousands of random budgets drawn
 * from a seeded generator (the same cases on every run).
 */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/str.h"
#include "budget/budget.h"

#define CASES   5000
#define MAXN    24
#define TOL     1e-6
#define NAMELEN 16

/* xorshift64*: small, seeded, the same sequence everywhere. */
static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static int rnd(int lo, int hi) /* [lo, hi] */
{
	return lo + (int)(rng() % (uint64_t)(hi - lo + 1));
}

struct bcase {
	size_t n;
	char names[MAXN][NAMELEN];
	struct budget_member m[MAXN];
	struct budget_params p;
};

static double pick(const double *v, size_t n)
{
	return v[rng() % n];
}

/* A random budget: a few members, sizes that make it contended about half the time. */
static void random_case(struct bcase *c)
{
	static const double uprs[] = {1, 2, 5, 10, 20, 0.5, 3.3, 7, 100, 0.25};
	static const double weights[] = {1, 1, 1, 2, 3, 0.5, 1.5, 10};
	double want = 0;

	memset(c, 0, sizeof(*c));
	c->n = (size_t)(rng() % 8 == 0 ? rnd(1, MAXN) : rnd(1, 6));
	for (size_t i = 0; i < c->n; i++) {
		struct budget_member *m = &c->m[i];

		str_fmt(c->names[i], NAMELEN, "m%02d-%d", (int)i, rnd(0, 99));
		m->name = c->names[i];
		m->units_per_replica = rng() % 5 == 0 ? (double)rnd(1, 999) / 37.0 : pick(uprs, 10);
		m->weight = rng() % 5 == 0 ? (double)rnd(1, 400) / 100.0 : pick(weights, 8);
		m->min_replicas = rng() % 3 == 0 ? 0 : rnd(0, 4);
		m->requested = rnd(0, 40);
		m->current = rnd(0, 40);
		m->scaling_up = rng() % 4 == 0;
		m->waiting_since = (double)rnd(0, 20);
		want += (double)m->requested * m->units_per_replica;
	}
	c->p.capacity = (double)rnd(0, (int)(want * 1.3) + 1);
	if (rng() % 7 == 0)
		c->p.capacity = (double)rnd(0, 20); /* often overcommitted */
	c->p.max_concurrent_scale_ups = rng() % 2 ? 0 : rnd(1, 3);
	c->p.saturation = rng() % 6 == 0 ? (enum budget_saturation)rnd(1, 2) : BUDGET_NOT_SATURATED;
}

static int req(const struct budget_member *m)
{
	return m->requested > m->min_replicas ? m->requested : m->min_replicas;
}

static double level(const struct budget_member *m, int a)
{
	return (double)a * m->units_per_replica / m->weight;
}

/*
 * The allocation rule written the slow, obvious way: one replica at a time
 * to the lowest level (ties: smaller name) among those still asking whose
 * next replica fits.
 */
static void reference_allocate(int *a, const struct budget_member *m, size_t n, double capacity)
{
	double left = capacity;
	bool done[MAXN];

	for (size_t i = 0; i < n; i++) {
		a[i] = m[i].min_replicas;
		left -= (double)a[i] * m[i].units_per_replica;
		done[i] = a[i] >= req(&m[i]);
	}
	if (left < 0)
		return;
	for (;;) {
		size_t best = n;

		/* Recounted each time, with the allocator's slack against rounding. */
		left = capacity + 1e-12 * (capacity > 1 ? capacity : 1);
		for (size_t i = 0; i < n; i++)
			left -= (double)a[i] * m[i].units_per_replica;

		for (size_t i = 0; i < n; i++) {
			if (done[i])
				continue;
			if (best == n || level(&m[i], a[i]) < level(&m[best], a[best]) ||
			    (level(&m[i], a[i]) == level(&m[best], a[best]) &&
			     strcmp(m[i].name, m[best].name) < 0))
				best = i;
		}
		if (best == n)
			return;
		if (m[best].units_per_replica > left) {
			done[best] = true;
			continue;
		}
		a[best]++;
		if (a[best] >= req(&m[best]))
			done[best] = true;
	}
}

static void check_allocation(const struct bcase *c, const int *a, const struct budget_totals *t)
{
	double min_units = 0, units = 0;

	for (size_t i = 0; i < c->n; i++) {
		min_units += (double)c->m[i].min_replicas * c->m[i].units_per_replica;
		units += (double)a[i] * c->m[i].units_per_replica;
		/* Minimums met, nobody above its request. */
		assert_true(a[i] >= c->m[i].min_replicas);
		assert_true(a[i] <= req(&c->m[i]));
	}
	assert_true(t->overcommitted == (min_units > c->p.capacity));
	assert_float_equal(t->allocated_units, units, TOL);
	if (min_units > c->p.capacity) {
		/* Overcommitted: the minimums, and nothing more. */
		for (size_t i = 0; i < c->n; i++)
			assert_int_equal(a[i], c->m[i].min_replicas);
		return;
	}
	/* Within the capacity. */
	assert_true(units <= c->p.capacity + TOL);
	for (size_t i = 0; i < c->n; i++) {
		if (a[i] >= req(&c->m[i]))
			continue;
		/* Nothing wasted: i's next replica does not fit in what is left. */
		assert_true(c->m[i].units_per_replica > c->p.capacity - units - TOL);
		/*
		 * Weighted max-min fairness: no member j above its minimum took a
		 * replica from a level above i's while i could have used it (a
		 * replica of j is at least one of i whenever upr_i <= upr_j).
		 */
		for (size_t j = 0; j < c->n; j++) {
			if (j == i || a[j] <= c->m[j].min_replicas ||
			    c->m[i].units_per_replica > c->m[j].units_per_replica)
				continue;
			if (level(&c->m[j], a[j] - 1) > level(&c->m[i], a[i]) + TOL)
				fail_msg(
				    "case unfair: %s at %d (level %g) below %s at %d (level before "
				    "its last %g)",
				    c->m[i].name, a[i], level(&c->m[i], a[i]), c->m[j].name, a[j],
				    level(&c->m[j], a[j] - 1));
		}
	}
}

/* Prints a case that failed, to reproduce it by hand. */
static void dump(const struct bcase *c)
{
	fprintf(stderr, "capacity %.17g, maxConcurrentScaleUps %d, saturation %d\n", c->p.capacity,
	        c->p.max_concurrent_scale_ups, (int)c->p.saturation);
	for (size_t i = 0; i < c->n; i++)
		fprintf(stderr,
		        "  %s: unitsPerReplica %.17g weight %.17g min %d requested %d current %d "
		        "scalingUp %d waitingSince %g\n",
		        c->m[i].name, c->m[i].units_per_replica, c->m[i].weight,
		        c->m[i].min_replicas, c->m[i].requested, c->m[i].current,
		        c->m[i].scaling_up, c->m[i].waiting_since);
}

static void shuffle(struct bcase *c)
{
	for (size_t i = c->n; i > 1; i--) {
		size_t j = (size_t)(rng() % i);
		struct budget_member t = c->m[i - 1];

		c->m[i - 1] = c->m[j];
		c->m[j] = t;
	}
}

static int find(const struct bcase *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++) {
		if (strcmp(c->m[i].name, name) == 0)
			return (int)i;
	}
	fail_msg("no member %s", name);
	return -1;
}

static void allocation_properties_hold_on_random_budgets(void **state)
{
	(void)state;
	rng_state = 0x5eed0001;
	for (int k = 0; k < CASES; k++) {
		struct bcase c, d;
		int a[MAXN], b[MAXN], ref[MAXN];
		struct budget_totals t, u;
		struct fs_err err;

		random_case(&c);
		if (budget_allocate(a, &t, c.p.capacity, c.m, c.n, &err) != FS_OK)
			fail_msg("case %d: %s", k, err.msg);
		check_allocation(&c, a, &t);
		/* The fast rule is the obvious rule. */
		reference_allocate(ref, c.m, c.n, c.p.capacity);
		for (size_t i = 0; i < c.n; i++) {
			if (a[i] != ref[i])
				dump(&c);
			if (a[i] != ref[i])
				fail_msg("case %d: %s gets %d, the replica-by-replica rule %d", k,
				         c.m[i].name, a[i], ref[i]);
		}
		/* Deterministic, and the same whatever the members' order. */
		d = c;
		for (size_t i = 0; i < d.n; i++)
			d.m[i].name = d.names[i];
		shuffle(&d);
		assert_int_equal(budget_allocate(b, &u, d.p.capacity, d.m, d.n, NULL), FS_OK);
		for (size_t i = 0; i < c.n; i++)
			assert_int_equal(a[i], b[find(&d, c.m[i].name)]);
		assert_float_equal(t.allocated_units, u.allocated_units, TOL);
	}
}

static void check_plan(const struct bcase *c, const struct budget_grant *g,
                       const struct budget_totals *t)
{
	double used = 0, extra = 0, added = 0;
	int scaling = 0, started = 0;
	bool short_somewhere = false;

	for (size_t i = 0; i < c->n; i++) {
		const struct budget_member *m = &c->m[i];
		int floor_n = m->current > m->min_replicas ? m->current : m->min_replicas;

		used += (double)m->current * m->units_per_replica;
		extra += (double)(floor_n - m->current) * m->units_per_replica;
		if (g[i].target > floor_n)
			added += (double)(g[i].target - floor_n) * m->units_per_replica;
		scaling += m->scaling_up;
		if (m->current < g[i].allocated)
			short_somewhere = true;
		/* Bounds: the minimum always, never above the request. */
		assert_true(g[i].target >= m->min_replicas);
		assert_true(g[i].target <= req(m));
		/* Scale-downs go through. */
		if (m->requested < m->current)
			assert_true(g[i].target <= req(m));
		/* A scale-up goes to the share at most. */
		if (g[i].target > m->current)
			assert_true(g[i].target <= g[i].allocated ||
			            g[i].target == m->min_replicas);
		/* Nobody scales up (past its minimum) while saturated or unknown. */
		if (c->p.saturation != BUDGET_NOT_SATURATED)
			assert_true(g[i].target <= floor_n);
		/* The limit is named exactly when the member gets less than it asks. */
		assert_true((g[i].limit != BUDGET_LIMIT_NONE) == (g[i].target < req(m)));
		assert_true(g[i].starts == (g[i].target > m->current && !m->scaling_up));
		if (g[i].starts && g[i].target > floor_n)
			started++;
	}
	/* Scale-ups take only the units nobody holds: the sum never passes the capacity. */
	{
		double room = c->p.capacity - used - extra;

		if (added > (room > 0 ? room : 0) + TOL) {
			dump(c);
			fail_msg("scale-ups add %g units; %g were free", added, room);
		}
	}
	assert_float_equal(t->used_units, used, TOL);
	/* At most maxConcurrentScaleUps at once. */
	if (c->p.max_concurrent_scale_ups > 0) {
		int slots = c->p.max_concurrent_scale_ups - scaling;

		assert_true(started <= (slots > 0 ? slots : 0));
	}
	for (size_t i = 0; i < c->n; i++) {
		const struct budget_member *m = &c->m[i];
		int own = req(m) < m->current ? req(m) : m->current;

		/*
		 * Giving back: only to its share, only when someone short can grow
		 * or the members hold more than the capacity.
		 */
		if (g[i].target < own) {
			assert_int_equal(g[i].target, g[i].allocated);
			assert_true((short_somewhere && c->p.saturation == BUDGET_NOT_SATURATED) ||
			            used > c->p.capacity);
		}
		/* Turns: whoever starts asked before whoever waits. */
		if (g[i].limit != BUDGET_LIMIT_TURN)
			continue;
		for (size_t j = 0; j < c->n; j++) {
			const struct budget_member *o = &c->m[j];

			if (!g[j].starts || g[j].target <= o->min_replicas)
				continue;
			assert_true(
			    o->waiting_since < m->waiting_since ||
			    (o->waiting_since == m->waiting_since && strcmp(o->name, m->name) < 0));
		}
	}
}

static void plan_properties_hold_on_random_budgets(void **state)
{
	(void)state;
	rng_state = 0x5eed0002;
	for (int k = 0; k < CASES; k++) {
		struct bcase c, d;
		struct budget_grant g[MAXN], h[MAXN];
		struct budget_totals t, u;
		int a[MAXN];
		struct fs_err err;

		random_case(&c);
		if (budget_plan(g, &t, &c.p, c.m, c.n, &err) != FS_OK)
			fail_msg("case %d: %s", k, err.msg);
		assert_int_equal(budget_allocate(a, NULL, c.p.capacity, c.m, c.n, NULL), FS_OK);
		for (size_t i = 0; i < c.n; i++)
			assert_int_equal(g[i].allocated, a[i]);
		check_plan(&c, g, &t);
		d = c;
		for (size_t i = 0; i < d.n; i++)
			d.m[i].name = d.names[i];
		shuffle(&d);
		assert_int_equal(budget_plan(h, &u, &d.p, d.m, d.n, NULL), FS_OK);
		for (size_t i = 0; i < c.n; i++) {
			const struct budget_grant *x = &h[find(&d, c.m[i].name)];

			assert_int_equal(g[i].target, x->target);
			assert_int_equal(g[i].limit, x->limit);
			assert_int_equal(g[i].starts, x->starts);
		}
		assert_int_equal(t.scaling_up, u.scaling_up);
	}
}

/*
 * Members that do what the plan says reach their shares: give-backs first,
 * then the freed units; with a concurrency limit, one turn after another.
 */
static void members_converge_to_their_shares(void **state)
{
	(void)state;
	rng_state = 0x5eed0003;
	for (int k = 0; k < CASES / 5; k++) {
		struct bcase c;
		struct budget_grant g[MAXN];
		int rounds = 0;
		bool settled = false;

		random_case(&c);
		c.p.saturation = BUDGET_NOT_SATURATED;
		for (size_t i = 0; i < c.n; i++)
			c.m[i].scaling_up = false;
		while (!settled && rounds++ < (int)c.n + 3) {
			assert_int_equal(budget_plan(g, NULL, &c.p, c.m, c.n, NULL), FS_OK);
			settled = true;
			for (size_t i = 0; i < c.n; i++) {
				if (g[i].target != c.m[i].current)
					settled = false;
				c.m[i].current =
				    g[i].target; /* its new pods are ready by the next round */
			}
		}
		if (!settled)
			fail_msg("case %d: not settled after %d rounds", k, rounds);
		/*
		 * Settled: everyone has its share at least; more only when nobody is
		 * short and the members hold no more than the capacity together.
		 */
		{
			double used = 0, min_units = 0;
			bool above = false;

			for (size_t i = 0; i < c.n; i++) {
				used += (double)c.m[i].current * c.m[i].units_per_replica;
				min_units += (double)c.m[i].min_replicas * c.m[i].units_per_replica;
				if (c.m[i].current < g[i].allocated) {
					dump(&c);
					fail_msg("case %d: %s settled at %d, below its share %d", k,
					         c.m[i].name, c.m[i].current, g[i].allocated);
				}
				above |= c.m[i].current > g[i].allocated;
			}
			if (above)
				assert_true(used <= c.p.capacity + TOL || min_units > c.p.capacity);
			if (min_units <= c.p.capacity)
				assert_true(used <= c.p.capacity + TOL);
		}
	}
}

static void worked_examples(void **state)
{
	struct budget_member m[3] = {
	    {.name = "a", .units_per_replica = 10, .weight = 1, .requested = 5},
	    {.name = "b", .units_per_replica = 10, .weight = 1, .requested = 5},
	    {.name = "c", .units_per_replica = 10, .weight = 1, .requested = 5},
	};
	struct budget_totals t;
	int a[3];

	(void)state;
	/* 10 replicas for three equal members asking 5 each: 4 3 3, the tie by name. */
	assert_int_equal(budget_allocate(a, &t, 100, m, 3, NULL), FS_OK);
	assert_int_equal(a[0], 4);
	assert_int_equal(a[1], 3);
	assert_int_equal(a[2], 3);
	assert_float_equal(t.requested_units, 150, 0);
	assert_float_equal(t.allocated_units, 100, 0);
	/* Weights 1 1 2, all asking 30 of 40: 10 10 20. */
	for (int i = 0; i < 3; i++) {
		m[i].units_per_replica = 1;
		m[i].requested = 30;
	}
	m[2].weight = 2;
	assert_int_equal(budget_allocate(a, NULL, 40, m, 3, NULL), FS_OK);
	assert_int_equal(a[0], 10);
	assert_int_equal(a[1], 10);
	assert_int_equal(a[2], 20);
	/* One asks little: the others share what it leaves. */
	m[0].requested = 4;
	assert_int_equal(budget_allocate(a, NULL, 40, m, 3, NULL), FS_OK);
	assert_int_equal(a[0], 4);
	assert_int_equal(a[1], 12);
	assert_int_equal(a[2], 24);
	/* Minimums above the capacity: kept, and nothing more. */
	m[0].min_replicas = 30;
	m[1].min_replicas = 20;
	assert_int_equal(budget_allocate(a, &t, 40, m, 3, NULL), FS_OK);
	assert_true(t.overcommitted);
	assert_int_equal(a[0], 30);
	assert_int_equal(a[1], 20);
	assert_int_equal(a[2], 0);
}

/* A large replica does not fit the rest; small ones still use it. */
static void leftover_goes_to_those_who_fit(void **state)
{
	struct budget_member m[2] = {
	    {.name = "big", .units_per_replica = 100, .weight = 1, .requested = 10},
	    {.name = "small", .units_per_replica = 1, .weight = 1, .requested = 60},
	};
	int a[2];

	(void)state;
	assert_int_equal(budget_allocate(a, NULL, 150, m, 2, NULL), FS_OK);
	assert_int_equal(a[0], 1);
	assert_int_equal(a[1], 50);
}

/* Large numbers take bulk steps, not one per replica. */
static void large_budgets_are_fast(void **state)
{
	struct budget_member m[3] = {
	    {.name = "a", .units_per_replica = 0.001, .weight = 1, .requested = 1 << 30},
	    {.name = "b", .units_per_replica = 0.003, .weight = 2, .requested = 1 << 30},
	    {.name = "c", .units_per_replica = 1, .weight = 1, .requested = 1000},
	};
	struct budget_totals t;
	int a[3];

	(void)state;
	assert_int_equal(budget_allocate(a, &t, 1e6, m, 3, NULL), FS_OK);
	assert_true(t.allocated_units <= 1e6 + 1e-6);
	assert_true(1e6 - t.allocated_units < 0.001 + 1e-6);
	assert_int_equal(a[2], 1000);
	/* a and b at the same level: a/1 * 0.001 == b/2 * 0.003. */
	assert_true(fabs((double)a[0] * 0.001 - (double)a[1] * 0.0015) <= 0.003);
}

static void the_plan_in_a_story(void **state)
{
	/* Capacity 30 replicas of 10 units; api got in first and holds 20. */
	struct budget_member m[3] = {
	    {.name = "api",
	     .units_per_replica = 10,
	     .weight = 1,
	     .min_replicas = 1,
	     .requested = 20,
	     .current = 20},
	    {.name = "jobs",
	     .units_per_replica = 10,
	     .weight = 1,
	     .min_replicas = 1,
	     .requested = 20,
	     .current = 5,
	     .waiting_since = 10},
	    {.name = "web",
	     .units_per_replica = 10,
	     .weight = 1,
	     .min_replicas = 1,
	     .requested = 20,
	     .current = 5,
	     .waiting_since = 5},
	};
	struct budget_params p = {.capacity = 300, .max_concurrent_scale_ups = 1};
	struct budget_grant g[3];
	struct budget_totals t;

	(void)state;
	assert_int_equal(budget_plan(g, &t, &p, m, 3, NULL), FS_OK);
	/* Shares 10 each; api gives 10 back; the units are all held meanwhile. */
	assert_int_equal(g[0].allocated, 10);
	assert_int_equal(g[0].target, 10);
	assert_int_equal(g[0].limit, BUDGET_LIMIT_SHARE);
	assert_int_equal(g[2].target, 5); /* web asked first: its turn, no units yet */
	assert_int_equal(g[2].limit, BUDGET_LIMIT_RELEASE);
	assert_int_equal(g[1].target, 5);
	assert_float_equal(t.used_units, 300, 0);
	/* api has given back: web goes first, jobs waits its turn. */
	m[0].current = 10;
	assert_int_equal(budget_plan(g, &t, &p, m, 3, NULL), FS_OK);
	assert_int_equal(g[2].target, 10);
	assert_true(g[2].starts);
	assert_int_equal(g[1].target, 5);
	assert_int_equal(g[1].limit, BUDGET_LIMIT_TURN);
	assert_int_equal(t.scaling_up, 1);
	/* web is scaling up: jobs still waits; then web is ready, and jobs goes. */
	m[2].current = 10;
	m[2].scaling_up = true;
	assert_int_equal(budget_plan(g, NULL, &p, m, 3, NULL), FS_OK);
	assert_int_equal(g[1].limit, BUDGET_LIMIT_TURN);
	m[2].scaling_up = false;
	assert_int_equal(budget_plan(g, NULL, &p, m, 3, NULL), FS_OK);
	assert_int_equal(g[1].target, 10);
	/* Saturated: nobody scales up, and scale-downs go through. */
	m[1].current = 10;
	m[1].requested = 2;
	p.saturation = BUDGET_SATURATED;
	assert_int_equal(budget_plan(g, NULL, &p, m, 3, NULL), FS_OK);
	assert_int_equal(g[0].allocated, 14);
	assert_int_equal(g[0].target, 10);
	assert_int_equal(g[0].limit, BUDGET_LIMIT_SATURATED);
	assert_int_equal(g[1].target, 2);
	assert_int_equal(g[2].target, 10);
	/* The capacity lowered below what they hold: all come down to their shares. */
	p.capacity = 150;
	assert_int_equal(budget_plan(g, NULL, &p, m, 3, NULL), FS_OK);
	assert_int_equal(g[0].target, 7);
	assert_int_equal(g[1].target, 2);
	assert_int_equal(g[2].target, 6);
	p.capacity = 300;
	p.saturation = BUDGET_SATURATION_UNKNOWN;
	m[2].current = 1;
	assert_int_equal(budget_plan(g, NULL, &p, m, 3, NULL), FS_OK);
	assert_int_equal(g[2].target, 1);
	assert_int_equal(g[2].limit, BUDGET_LIMIT_UNKNOWN);
	assert_string_equal(budget_limit_name(g[2].limit), "SaturationUnknown");
}

static void bad_input_is_named(void **state)
{
	struct budget_member m[2] = {
	    {.name = "a", .units_per_replica = 1, .weight = 1},
	    {.name = "b", .units_per_replica = 0, .weight = 1},
	};
	struct budget_params p = {.capacity = 10};
	struct budget_grant g[2];
	struct fs_err err;
	int a[2];

	(void)state;
	assert_int_equal(budget_allocate(a, NULL, 10, m, 2, &err), FS_EINVAL);
	assert_string_equal(err.msg, "members[1] (b): unitsPerReplica must be 1e-06..1e+09, not 0");
	m[1].units_per_replica = 1;
	m[1].weight = NAN;
	assert_int_equal(budget_plan(g, NULL, &p, m, 2, &err), FS_EINVAL);
	assert_string_equal(err.msg, "members[1] (b): weight must be 1e-06..1e+06, not nan");
	m[1].weight = 1;
	m[1].name = "a";
	assert_int_equal(budget_allocate(a, NULL, 10, m, 2, &err), FS_EINVAL);
	assert_string_equal(err.msg, "members[1] (a): two members have that name");
	m[1].name = "b";
	m[1].requested = -1;
	assert_int_equal(budget_allocate(a, NULL, 10, m, 2, &err), FS_EINVAL);
	assert_string_equal(err.msg,
	                    "members[1] (b): requested replicas must be 0..1073741824, not -1");
	m[1].requested = 0;
	assert_int_equal(budget_allocate(a, NULL, -1, m, 2, &err), FS_EINVAL);
	assert_string_equal(err.msg, "capacity must be 0..1e+15 units, not -1");
	p.max_concurrent_scale_ups = -2;
	assert_int_equal(budget_plan(g, NULL, &p, m, 2, &err), FS_EINVAL);
	assert_string_equal(err.msg, "maxConcurrentScaleUps must be 0 or more, not -2");
	/* No members: nothing to do. */
	assert_int_equal(budget_allocate(a, NULL, 10, m, 0, &err), FS_OK);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(worked_examples),
	    cmocka_unit_test(leftover_goes_to_those_who_fit),
	    cmocka_unit_test(large_budgets_are_fast),
	    cmocka_unit_test(the_plan_in_a_story),
	    cmocka_unit_test(bad_input_is_named),
	    cmocka_unit_test(allocation_properties_hold_on_random_budgets),
	    cmocka_unit_test(plan_properties_hold_on_random_budgets),
	    cmocka_unit_test(members_converge_to_their_shares),
	};

	return cmocka_run_group_tests_name("budget", tests, NULL, NULL);
}
