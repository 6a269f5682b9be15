#include "budget/budget.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A member's level with `a` replicas: the units it holds per unit of weight. */
static double level_of(const struct budget_member *m, int a)
{
	return (double)a * m->units_per_replica / m->weight;
}

static int request_of(const struct budget_member *m)
{
	return m->requested > m->min_replicas ? m->requested : m->min_replicas;
}

static int by_name(const void *a, const void *b)
{
	const struct budget_member *x = *(const struct budget_member *const *)a;
	const struct budget_member *y = *(const struct budget_member *const *)b;

	return strcmp(x->name, y->name);
}

/* Earliest request first; the name breaks ties. */
static int by_turn(const void *a, const void *b)
{
	const struct budget_member *x = *(const struct budget_member *const *)a;
	const struct budget_member *y = *(const struct budget_member *const *)b;

	if (x->waiting_since != y->waiting_since)
		return x->waiting_since < y->waiting_since ? -1 : 1;
	return strcmp(x->name, y->name);
}

static enum fs_rc check_count(int v, const char *what, size_t i, const char *name,
                              struct fs_err *err)
{
	if (v < 0 || v > BUDGET_REPLICAS_MAX)
		return fs_fail(err, FS_EINVAL, "members[%zu] (%.64s): %s must be 0..%d, not %d", i,
		               name, what, BUDGET_REPLICAS_MAX, v);
	return FS_OK;
}

/* Checks the members and fills `ord` with them sorted by name. */
static enum fs_rc check_members(const struct budget_member **ord, const struct budget_member *m,
                                size_t n, struct fs_err *err)
{
	enum fs_rc rc = FS_OK;

	if (n > BUDGET_MEMBERS_MAX)
		return fs_fail(err, FS_EINVAL, "a budget has at most %d members, not %zu",
		               BUDGET_MEMBERS_MAX, n);
	for (size_t i = 0; i < n && rc == FS_OK; i++) {
		const struct budget_member *x = &m[i];

		if (!x->name)
			return fs_fail(err, FS_EINVAL, "members[%zu]: the name is missing", i);
		if (!(x->units_per_replica >= BUDGET_UNITS_PER_REPLICA_MIN &&
		      x->units_per_replica <= BUDGET_UNITS_PER_REPLICA_MAX))
			return fs_fail(
			    err, FS_EINVAL,
			    "members[%zu] (%.64s): unitsPerReplica must be %g..%g, not %g", i,
			    x->name, BUDGET_UNITS_PER_REPLICA_MIN, BUDGET_UNITS_PER_REPLICA_MAX,
			    x->units_per_replica);
		if (!(x->weight >= BUDGET_WEIGHT_MIN && x->weight <= BUDGET_WEIGHT_MAX))
			return fs_fail(err, FS_EINVAL,
			               "members[%zu] (%.64s): weight must be %g..%g, not %g", i,
			               x->name, BUDGET_WEIGHT_MIN, BUDGET_WEIGHT_MAX, x->weight);
		rc = check_count(x->min_replicas, "minReplicas", i, x->name, err);
		if (rc == FS_OK)
			rc = check_count(x->requested, "requested replicas", i, x->name, err);
		if (rc == FS_OK)
			rc = check_count(x->current, "current replicas", i, x->name, err);
		ord[i] = x;
	}
	if (rc != FS_OK)
		return rc;
	qsort(ord, n, sizeof(*ord), by_name);
	for (size_t k = 1; k < n; k++) {
		if (strcmp(ord[k - 1]->name, ord[k]->name) == 0)
			return fs_fail(err, FS_EINVAL,
			               "members[%zu] (%.64s): two members have that name",
			               (size_t)(ord[k] - m), ord[k]->name);
	}
	return FS_OK;
}

static enum fs_rc check_capacity(double capacity, struct fs_err *err)
{
	if (!isfinite(capacity) || capacity < 0 || capacity > BUDGET_CAPACITY_MAX)
		return fs_fail(err, FS_EINVAL, "capacity must be 0..%g units, not %g",
		               BUDGET_CAPACITY_MAX, capacity);
	return FS_OK;
}

/*
 * The replicas a member holds, starting from `start`, once every replica
 * handed out below level `l` is handed out: the smallest count in
 * [start, r] whose level is at least `l`. The division gives it to within
 * one; the loops make it agree exactly with level_of.
 */
static int filled(const struct budget_member *m, int start, int r, double l)
{
	double guess = ceil(l * m->weight / m->units_per_replica);
	int a;

	if (!(guess > start))
		a = start;
	else if (guess >= r)
		a = r;
	else
		a = (int)guess;
	while (a > start && level_of(m, a - 1) >= l)
		a--;
	while (a < r && level_of(m, a) < l)
		a++;
	return a;
}

struct fill {
	const struct budget_member **ord; /* by name */
	size_t n;
	int a[BUDGET_MEMBERS_MAX];     /* replicas so far */
	int r[BUDGET_MEMBERS_MAX];     /* what each asks for (at least its minimum) */
	bool done[BUDGET_MEMBERS_MAX]; /* has all it asks for, or its next replica does not fit */
	double capacity;
	double left; /* units not handed out, plus the rounding slack */
};

/*
 * What is left is worked out again from the counts after each step, and
 * given a slack of 1e-12 of the capacity (rounding makes 1e-14 at most):
 * units added up in another order must not decide whether a replica of
 * 3.3 units fits ten times into 33.
 */
static void update_left(struct fill *f)
{
	double units = 0;

	for (size_t k = 0; k < f->n; k++)
		units += (double)f->a[k] * f->ord[k]->units_per_replica;
	f->left = f->capacity - units + 1e-12 * (f->capacity > 1 ? f->capacity : 1);
}

/* Units it takes to bring every member still asking up to level `l`. */
static double cost_at(const struct fill *f, double l)
{
	double units = 0;

	for (size_t k = 0; k < f->n; k++) {
		if (!f->done[k])
			units += (double)(filled(f->ord[k], f->a[k], f->r[k], l) - f->a[k]) *
			         f->ord[k]->units_per_replica;
	}
	return units;
}

static void grant_to(struct fill *f, size_t k, int a)
{
	f->a[k] = a;
	if (a >= f->r[k])
		f->done[k] = true;
}

/*
 * Water-filling. The replica-by-replica rule hands out replicas in order of
 * (level before the replica, name), skipping for good a member whose next
 * replica does not fit. Every replica below the highest level `lo` at which
 * all of them fit together is handed out by that rule without a skip, so a
 * bisection on the level hands them out at once; then the rule runs
 * replica by replica across the edge until one member does not fit (at
 * most one replica per member lies within the bisection's last interval),
 * and the bisection starts again among the others.
 */
static void water_fill(struct fill *f)
{
	for (;;) {
		double lo = 0, hi = 0, all = 0;
		size_t asking = 0;

		for (size_t k = 0; k < f->n; k++) {
			if (f->done[k])
				continue;
			asking++;
			all += (double)(f->r[k] - f->a[k]) * f->ord[k]->units_per_replica;
			if (level_of(f->ord[k], f->r[k]) > hi)
				hi = level_of(f->ord[k], f->r[k]);
		}
		if (!asking)
			return;
		if (all <= f->left) {
			for (size_t k = 0; k < f->n; k++) {
				if (!f->done[k])
					grant_to(f, k, f->r[k]);
			}
			update_left(f);
			return;
		}
		/*
		 * Levels of one member differ by at least 1 part in BUDGET_REPLICAS_MAX:
		 * 1e-12 leaves at most one replica per member in [lo, hi). 200 halvings
		 * cover every level the bounds allow.
		 */
		for (int it = 0; it < 200 && hi - lo > 1e-12 * hi; it++) {
			double mid = lo + (hi - lo) / 2;

			if (cost_at(f, mid) <= f->left)
				lo = mid;
			else
				hi = mid;
		}
		for (size_t k = 0; k < f->n; k++) {
			if (!f->done[k])
				grant_to(f, k, filled(f->ord[k], f->a[k], f->r[k], lo));
		}
		update_left(f);
		for (size_t step = 0; step <= f->n; step++) {
			size_t best = f->n;

			for (size_t k = 0; k < f->n; k++) {
				if (!f->done[k] &&
				    (best == f->n || level_of(f->ord[k], f->a[k]) <
				                         level_of(f->ord[best], f->a[best])))
					best = k;
			}
			if (best == f->n)
				return;
			if (f->ord[best]->units_per_replica > f->left) {
				f->done[best] = true;
				break;
			}
			grant_to(f, best, f->a[best] + 1);
			update_left(f);
		}
	}
}

static void totals_of(struct budget_totals *t, const struct fill *f, double capacity)
{
	memset(t, 0, sizeof(*t));
	for (size_t k = 0; k < f->n; k++) {
		const struct budget_member *m = f->ord[k];

		t->min_units += (double)m->min_replicas * m->units_per_replica;
		t->requested_units += (double)f->r[k] * m->units_per_replica;
		t->allocated_units += (double)f->a[k] * m->units_per_replica;
	}
	t->overcommitted = t->min_units > capacity;
}

/* The shares, in the order of f->ord (by name). */
static void allocate_sorted(struct fill *f, double capacity)
{
	double min_units = 0;

	f->capacity = capacity;
	for (size_t k = 0; k < f->n; k++) {
		f->a[k] = f->ord[k]->min_replicas;
		f->r[k] = request_of(f->ord[k]);
		f->done[k] = f->a[k] >= f->r[k];
		min_units += (double)f->a[k] * f->ord[k]->units_per_replica;
	}
	if (min_units > capacity)
		return; /* overcommitted: the minimums, and nothing more */
	update_left(f);
	water_fill(f);
}

enum fs_rc budget_allocate(int *allocated, struct budget_totals *totals, double capacity,
                           const struct budget_member *members, size_t n, struct fs_err *err)
{
	const struct budget_member *ord[BUDGET_MEMBERS_MAX];
	struct fill f;
	enum fs_rc rc = check_capacity(capacity, err);

	if (rc == FS_OK)
		rc = check_members(ord, members, n, err);
	if (rc != FS_OK)
		return rc;
	memset(&f, 0, sizeof(f));
	f.ord = ord;
	f.n = n;
	allocate_sorted(&f, capacity);
	for (size_t k = 0; k < n; k++)
		allocated[ord[k] - members] = f.a[k];
	if (totals)
		totals_of(totals, &f, capacity);
	return FS_OK;
}

static int floor_of(const struct budget_member *m)
{
	return m->current > m->min_replicas ? m->current : m->min_replicas;
}

/*
 * A scale-up of `m` to at most its share, in turn order, from `free_units`
 * (the units nobody holds once every member is at its minimum).
 */
static void plan_scale_up(struct budget_grant *g, const struct budget_member *m,
                          const struct budget_params *p, double *free_units, int *active)
{
	int floor_n = floor_of(m);
	int want = g->allocated;

	g->target = floor_n;
	if (p->saturation == BUDGET_SATURATED) {
		g->limit = BUDGET_LIMIT_SATURATED;
	} else if (p->saturation == BUDGET_SATURATION_UNKNOWN) {
		g->limit = BUDGET_LIMIT_UNKNOWN;
	} else if (p->max_concurrent_scale_ups > 0 && !m->scaling_up &&
	           *active >= p->max_concurrent_scale_ups) {
		g->limit = BUDGET_LIMIT_TURN;
	} else {
		double room = *free_units > 0 ? floor(*free_units / m->units_per_replica) : 0;

		if (room > (double)(want - floor_n))
			room = (double)(want - floor_n);
		if (room > 0)
			g->target = floor_n + (int)room;
		*free_units -= (double)(g->target - floor_n) * m->units_per_replica;
		if (g->target < want)
			g->limit = BUDGET_LIMIT_RELEASE;
		else
			g->limit = want < request_of(m) ? BUDGET_LIMIT_SHARE : BUDGET_LIMIT_NONE;
	}
	if (g->target >= request_of(m))
		g->limit = BUDGET_LIMIT_NONE;
	g->starts = g->target > m->current && !m->scaling_up;
	if (g->starts)
		(*active)++;
}

enum fs_rc budget_plan(struct budget_grant *grants, struct budget_totals *totals,
                       const struct budget_params *params, const struct budget_member *members,
                       size_t n, struct fs_err *err)
{
	const struct budget_member *ord[BUDGET_MEMBERS_MAX];
	const struct budget_member *turns[BUDGET_MEMBERS_MAX];
	struct fill f;
	size_t n_turns = 0;
	double used = 0, free_units;
	bool someone_short = false, give_back;
	int active = 0;
	enum fs_rc rc = check_capacity(params->capacity, err);

	if (rc == FS_OK && params->max_concurrent_scale_ups < 0)
		rc = fs_fail(err, FS_EINVAL, "maxConcurrentScaleUps must be 0 or more, not %d",
		             params->max_concurrent_scale_ups);
	if (rc == FS_OK && params->saturation != BUDGET_NOT_SATURATED &&
	    params->saturation != BUDGET_SATURATED &&
	    params->saturation != BUDGET_SATURATION_UNKNOWN)
		rc = fs_fail(err, FS_EINVAL, "saturation: unknown value %d",
		             (int)params->saturation);
	if (rc == FS_OK)
		rc = check_members(ord, members, n, err);
	if (rc != FS_OK)
		return rc;
	memset(&f, 0, sizeof(f));
	f.ord = ord;
	f.n = n;
	allocate_sorted(&f, params->capacity);
	for (size_t k = 0; k < n; k++) {
		const struct budget_member *m = ord[k];
		struct budget_grant *g = &grants[m - members];

		memset(g, 0, sizeof(*g));
		g->allocated = f.a[k];
		used += (double)m->current * m->units_per_replica;
		active += m->scaling_up;
		if (m->current < g->allocated)
			someone_short = true;
	}
	free_units = params->capacity - used;
	give_back = (someone_short && params->saturation == BUDGET_NOT_SATURATED) ||
	            used > params->capacity;
	for (size_t k = 0; k < n; k++) {
		const struct budget_member *m = ord[k];
		struct budget_grant *g = &grants[m - members];
		int r = request_of(m);

		if (m->current < g->allocated) {
			/* The minimum is never held back, even past the capacity. */
			free_units -= (double)(floor_of(m) - m->current) * m->units_per_replica;
			turns[n_turns++] = m;
			continue;
		}
		if (m->current > g->allocated && give_back)
			g->target = g->allocated;
		else
			g->target = r < m->current ? r : m->current;
		g->limit = g->target < r ? BUDGET_LIMIT_SHARE : BUDGET_LIMIT_NONE;
	}
	qsort(turns, n_turns, sizeof(*turns), by_turn);
	for (size_t k = 0; k < n_turns; k++)
		plan_scale_up(&grants[turns[k] - members], turns[k], params, &free_units, &active);
	if (totals) {
		totals_of(totals, &f, params->capacity);
		totals->used_units = used;
		totals->scaling_up = active;
	}
	return FS_OK;
}

const char *budget_limit_name(enum budget_limit limit)
{
	switch (limit) {
	case BUDGET_LIMIT_NONE:
		return "None";
	case BUDGET_LIMIT_SATURATED:
		return "Saturated";
	case BUDGET_LIMIT_UNKNOWN:
		return "SaturationUnknown";
	case BUDGET_LIMIT_TURN:
		return "WaitingTurn";
	case BUDGET_LIMIT_RELEASE:
		return "UnitsHeld";
	case BUDGET_LIMIT_SHARE:
		return "FairShare";
	}
	return "Unknown";
}
