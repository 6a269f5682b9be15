#ifndef FORESIGHT_BUDGET_BUDGET_H
#define FORESIGHT_BUDGET_BUDGET_H

/*
 * ConcurrencyBudget allocation: how many replicas each member of a budget
 * may have, given what each one asks for. Pure: values in, values out; no
 * clock, no I/O, no allocation. The controller calls it with one snapshot
 * of every member, so two members can never both take the last units.
 *
 * budget_allocate computes each member's share:
 *  1. every member's minReplicas first (its minimum is its floor, even when
 *     the minimums together exceed the capacity: the budget is then
 *     overcommitted and nobody gets more);
 *  2. the rest by weighted max-min fairness over what members ask for
 *     (water-filling): replica by replica, the member with the lowest level
 *     — units held / weight — among those still asking takes the next
 *     replica, ties going to the smaller name. A member whose next replica
 *     does not fit in what is left is done, and the others go on, so units
 *     are not wasted while someone can still use them. Nobody gets more
 *     than it asks for.
 * The result depends on the members, not on their order in the array.
 * It takes O(n^2 log) time, not O(replicas): a bisection on the level hands
 * out the replicas in bulk and the replica-by-replica rule only settles
 * the ties.
 *
 * budget_plan turns the shares into what each member may do now, from what
 * it holds:
 *  - a member above its share gives the difference back while another one
 *    is below its own (unless the budget is saturated: then nobody could
 *    use the units), and whenever the members together hold more than the
 *    capacity (it was lowered, or they were scaled by hand). These are the
 *    only scale-downs a budget makes; without them the first member to ask
 *    would keep more than its share for as long as its load lasts;
 *  - a member that asks for less than it holds goes down: scale-downs are
 *    never held back;
 *  - a member below its share scales up to it, as far as the units not
 *    held by anyone allow (units still held by a member above its share
 *    come free only once it has given them back), oldest request first;
 *  - at most max_concurrent_scale_ups members are scaling up at once (a
 *    member is scaling up from its scale-up until its new pods are ready);
 *    the others wait their turn, oldest request first;
 *  - while the budget is saturated, or its saturation is unknown (the
 *    query failed), nobody scales up.
 * A member's minReplicas is never held back by any of these.
 *
 *	struct budget_member m[2] = {
 *	    {.name = "api", .units_per_replica = 20, .weight = 1, .min_replicas = 1,
 *	     .requested = 12, .current = 4, .waiting_since = t0},
 *	    {.name = "jobs", .units_per_replica = 10, .weight = 2, .requested = 30, .current = 30},
 *	};
 *	struct budget_params p = {.capacity = 400, .max_concurrent_scale_ups = 1};
 *	struct budget_grant g[2];
 *	struct budget_totals t;
 *	if (budget_plan(g, &t, &p, m, 2, &err) != FS_OK)
 *		... err.msg names the bad member field
 *	g[0].target: the count api may go to now; g[0].limit: why not more
 */

#include <stdbool.h>
#include <stddef.h>

#include "base/result.h"

/* Members of one budget. */
#define BUDGET_MEMBERS_MAX 256
/* Largest capacity, in units. */
#define BUDGET_CAPACITY_MAX 1e15
/* Bounds of unitsPerReplica and weight: levels then stay far within a double's range. */
#define BUDGET_UNITS_PER_REPLICA_MIN 1e-6
#define BUDGET_UNITS_PER_REPLICA_MAX 1e9
#define BUDGET_WEIGHT_MIN            1e-6
#define BUDGET_WEIGHT_MAX            1e6
/* Largest replica count of a member (requests, minimums, holdings). */
#define BUDGET_REPLICAS_MAX (1 << 30)

struct budget_member {
	const char *name;         /* unique within the budget; breaks ties */
	double units_per_replica; /* BUDGET_UNITS_PER_REPLICA_MIN..MAX */
	double weight;    /* BUDGET_WEIGHT_MIN..MAX: weight 2 gets twice the units of weight 1 */
	int min_replicas; /* >= 0: allocated first, whatever the capacity */
	int requested;    /* >= 0: what its scaler proposes before the budget; below
	                     min_replicas it counts as min_replicas */
	/* Read by budget_plan only: */
	int current;          /* >= 0: replicas it holds (or is being scaled to) now */
	bool scaling_up;      /* its last scale-up's new pods are not all ready yet */
	double waiting_since; /* when it began asking for more than it holds (any clock;
	                         the earliest goes first) */
};

enum budget_saturation {
	BUDGET_NOT_SATURATED,
	BUDGET_SATURATED,          /* the saturation query returned a value above 0 */
	BUDGET_SATURATION_UNKNOWN, /* the query failed: treated as saturated, never as not */
};

struct budget_params {
	double capacity;              /* units, 0..BUDGET_CAPACITY_MAX */
	int max_concurrent_scale_ups; /* members scaling up at once; 0: no limit */
	enum budget_saturation saturation;
};

/* Why a member may not have all it asks for; the first that applies. */
enum budget_limit {
	BUDGET_LIMIT_NONE,      /* it may have all it asks for */
	BUDGET_LIMIT_SATURATED, /* no scale-up while the budget is saturated */
	BUDGET_LIMIT_UNKNOWN,   /* no scale-up while the saturation query fails */
	BUDGET_LIMIT_TURN,      /* max_concurrent_scale_ups others are scaling up */
	BUDGET_LIMIT_RELEASE,   /* its share is held by members still above theirs */
	BUDGET_LIMIT_SHARE,     /* its fair share is less than it asks for */
};

struct budget_grant {
	int allocated; /* its fair share: min_replicas <= allocated <= its request */
	int target;    /* the count it may have now; below `current` it gives back */
	enum budget_limit limit;
	bool starts; /* the plan starts a scale-up of it (it takes a concurrency slot) */
};

struct budget_totals {
	double min_units;       /* the minimums together */
	double requested_units; /* what the members ask for together (minimums included) */
	double allocated_units; /* the shares together */
	double used_units;      /* what the members hold now together */
	bool overcommitted;     /* the minimums alone exceed the capacity */
	int scaling_up;         /* members scaling up, those the plan starts included */
};

/*
 * Fills allocated[i] with member i's share of `capacity` (see above) and
 * `totals` (NULL: not wanted; scaling_up and used_units are left 0).
 * FS_EINVAL names the first bad member or value: "members[2] (api):
 * unitsPerReplica must be 1e-06..1e+09, not 0".
 */
enum fs_rc budget_allocate(int *allocated, struct budget_totals *totals, double capacity,
                           const struct budget_member *members, size_t n, struct fs_err *err);

/*
 * Fills grants[i] with what member i may do now (see above) and `totals`
 * (NULL: not wanted). Errors as budget_allocate, and for bad params.
 */
enum fs_rc budget_plan(struct budget_grant *grants, struct budget_totals *totals,
                       const struct budget_params *params, const struct budget_member *members,
                       size_t n, struct fs_err *err);

/* The status name of a limit ("None", "Saturated", ... "Share"); static storage. */
const char *budget_limit_name(enum budget_limit limit);

#endif
