/*
 * The HPA's behaviour (autoscaling/v2 `behavior`), ported from upstream
 * pkg/controller/podautoscaler/horizontal.go: defaults, validation, the
 * history it keeps, stabilisation windows and rate policies.
 */

#include "scaling/behavior.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING_FIRST_ALLOC 16

/* Doubling from the first allocation lands exactly on the cap. */
_Static_assert(SCALE_HISTORY_CAP % RING_FIRST_ALLOC == 0 &&
                   ((SCALE_HISTORY_CAP / RING_FIRST_ALLOC) &
                    (SCALE_HISTORY_CAP / RING_FIRST_ALLOC - 1)) == 0,
               "SCALE_HISTORY_CAP must be RING_FIRST_ALLOC times a power of two");

void scale_say(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(dst, size, fmt, ap);
	va_end(ap);
}

/* ---- history rings ---------------------------------------------------- */

static void ring_init(struct scale_ring *r)
{
	r->v = NULL;
	r->start = 0;
	r->len = 0;
	r->alloc = 0;
}

static void ring_release(struct scale_ring *r)
{
	free(r->v);
	ring_init(r);
}

static const struct scale_stamp *ring_at(const struct scale_ring *r, size_t i)
{
	return &r->v[(r->start + i) % r->alloc];
}

/*
 * Room for `n` (at most RING_FIRST_ALLOC) more pushes: free slots, or a full
 * ring at the cap, which drops its oldest. One doubling always suffices.
 */
static enum fs_rc ring_reserve(struct scale_ring *r, size_t n, struct fs_err *err)
{
	struct scale_stamp *v;
	size_t alloc;

	if (r->len + n <= r->alloc || r->alloc == SCALE_HISTORY_CAP)
		return FS_OK;
	alloc = r->alloc ? r->alloc * 2 : RING_FIRST_ALLOC;
	v = malloc(alloc * sizeof(*v));
	if (!v)
		return fs_fail(err, FS_ENOMEM, "scaling history: out of memory for %zu entries",
		               alloc);
	for (size_t i = 0; i < r->len; i++)
		v[i] = *ring_at(r, i);
	free(r->v);
	r->v = v;
	r->start = 0;
	r->alloc = alloc;
	return FS_OK;
}

/* Needs a reservation: never allocates. */
static void ring_push(struct scale_ring *r, double t, int n)
{
	struct scale_stamp s = {.t = t, .n = n};

	if (r->len < r->alloc) {
		r->v[(r->start + r->len) % r->alloc] = s;
		r->len++;
		return;
	}
	r->v[r->start] = s;
	r->start = (r->start + 1) % r->alloc;
}

/* Drops the oldest entries stamped at or before `cutoff` (entries arrive in time order). */
static void ring_prune(struct scale_ring *r, double cutoff)
{
	while (r->len > 0 && ring_at(r, 0)->t <= cutoff) {
		r->start = (r->start + 1) % r->alloc;
		r->len--;
	}
}

void scale_history_init(struct scale_history *h)
{
	ring_init(&h->recs);
	ring_init(&h->events);
	h->failures = 0;
	h->started = false;
}

void scale_history_release(struct scale_history *h)
{
	ring_release(&h->recs);
	ring_release(&h->events);
	scale_history_init(h);
}

enum fs_rc scale_history_record_scale(struct scale_history *h, double now, int from, int to,
                                      struct fs_err *err)
{
	enum fs_rc rc;

	if (!isfinite(now))
		return fs_fail(err, FS_EINVAL, "scale event: time must be a finite number");
	if (from < 0 || to < 0)
		return fs_fail(err, FS_EINVAL,
		               "scale event: replica counts must be >= 0, not %d -> %d", from, to);
	if (from == to)
		return FS_OK;
	rc = ring_reserve(&h->events, 1, err);
	if (rc != FS_OK)
		return rc;
	ring_push(&h->events, now, to - from);
	return FS_OK;
}

enum fs_rc scale_history_reserve(struct scale_history *h, struct fs_err *err)
{
	/* The first count seen and one recommendation. */
	return ring_reserve(&h->recs, 2, err);
}

static int longest_period(const struct scale_rules *r)
{
	int longest = 0;

	for (int i = 0; i < r->n_policies; i++)
		if (r->policies[i].period_seconds > longest)
			longest = r->policies[i].period_seconds;
	return longest;
}

static int max_int(int a, int b)
{
	return a > b ? a : b;
}

void scale_history_commit(struct scale_history *h, const struct scale_behavior *b, double now,
                          int current, const int *recommendation, int failures)
{
	int window =
	    max_int(b->up.stabilization_window_seconds, b->down.stabilization_window_seconds);

	ring_prune(&h->recs, now - window);
	if (!h->started) {
		ring_push(&h->recs, now, current);
		h->started = true;
	}
	if (recommendation)
		ring_push(&h->recs, now, *recommendation);
	ring_prune(&h->events, now - max_int(longest_period(&b->up), longest_period(&b->down)));
	h->failures = failures;
}

/* ---- defaults and validation ------------------------------------------ */

void scale_behavior_defaults(struct scale_behavior *b)
{
	memset(b, 0, sizeof(*b));
	b->up.stabilization_window_seconds = 0;
	b->up.select = SCALE_SELECT_MAX;
	b->up.tolerance = 0;
	b->up.n_policies = 2;
	b->up.policies[0] = (struct scale_policy){SCALE_POLICY_PERCENT, 100, 15};
	b->up.policies[1] = (struct scale_policy){SCALE_POLICY_PODS, 4, 15};
	b->down.stabilization_window_seconds = 300;
	b->down.select = SCALE_SELECT_MAX;
	b->down.tolerance = 0.1;
	b->down.n_policies = 1;
	b->down.policies[0] = (struct scale_policy){SCALE_POLICY_PERCENT, 100, 15};
}

static enum fs_rc validate_rules(const struct scale_rules *r, const char *path, struct fs_err *err)
{
	if (r->stabilization_window_seconds < 0 ||
	    r->stabilization_window_seconds > SCALE_WINDOW_MAX)
		return fs_fail(err, FS_EINVAL,
		               "%s.stabilizationWindowSeconds: must be 0..%d, not %d", path,
		               SCALE_WINDOW_MAX, r->stabilization_window_seconds);
	if (r->select != SCALE_SELECT_MAX && r->select != SCALE_SELECT_MIN &&
	    r->select != SCALE_SELECT_DISABLED)
		return fs_fail(err, FS_EINVAL, "%s.selectPolicy: must be Max, Min or Disabled",
		               path);
	if (!(r->tolerance >= 0) || !isfinite(r->tolerance))
		return fs_fail(err, FS_EINVAL, "%s.tolerance: must be a number >= 0", path);
	if (r->n_policies < 1 || r->n_policies > SCALE_POLICIES_MAX)
		return fs_fail(err, FS_EINVAL, "%s.policies: must list 1..%d policies, not %d",
		               path, SCALE_POLICIES_MAX, r->n_policies);
	for (int i = 0; i < r->n_policies; i++) {
		const struct scale_policy *p = &r->policies[i];

		if (p->type != SCALE_POLICY_PODS && p->type != SCALE_POLICY_PERCENT)
			return fs_fail(err, FS_EINVAL,
			               "%s.policies[%d].type: must be Pods or Percent", path, i);
		if (p->value <= 0)
			return fs_fail(err, FS_EINVAL, "%s.policies[%d].value: must be > 0, not %d",
			               path, i, p->value);
		if (p->period_seconds < 1 || p->period_seconds > SCALE_PERIOD_MAX)
			return fs_fail(err, FS_EINVAL,
			               "%s.policies[%d].periodSeconds: must be 1..%d, not %d", path,
			               i, SCALE_PERIOD_MAX, p->period_seconds);
	}
	return FS_OK;
}

enum fs_rc scale_behavior_validate(const struct scale_behavior *b, struct fs_err *err)
{
	enum fs_rc rc = validate_rules(&b->up, "behavior.scaleUp", err);

	if (rc != FS_OK)
		return rc;
	return validate_rules(&b->down, "behavior.scaleDown", err);
}

/* ---- stabilisation ---------------------------------------------------- */

int scale_stabilize(const struct scale_history *h, const struct scale_behavior *b, int current,
                    int desired, double now, char *why, size_t why_size)
{
	double up_cutoff = now - b->up.stabilization_window_seconds;
	double down_cutoff = now - b->down.stabilization_window_seconds;
	int up = desired, down = desired, result = current;
	size_t n = h->recs.len;

	/* Index n stands for the count found at the first evaluation, not yet recorded. */
	for (size_t i = 0; i < n + !h->started; i++) {
		struct scale_stamp s = {.t = now, .n = current};

		if (i < n)
			s = *ring_at(&h->recs, i);
		/* upstream: rec.timestamp.After(cutoff), so the window is (now - w, now] */
		if (s.t > up_cutoff && s.n < up)
			up = s.n;
		if (s.t > down_cutoff && s.n > down)
			down = s.n;
	}
	if (result < up)
		result = up;
	if (result > down)
		result = down;
	if (result != desired) {
		if (desired >= current)
			scale_say(
			    why, why_size,
			    "scale-up held at %d by the %ds stabilization window (lowest recent "
			    "recommendation)",
			    result, b->up.stabilization_window_seconds);
		else
			scale_say(
			    why, why_size,
			    "scale-down held at %d by the %ds stabilization window (highest recent "
			    "recommendation)",
			    result, b->down.stabilization_window_seconds);
	}
	return result;
}

/* ---- rate policies ---------------------------------------------------- */

/* getReplicasChangePerPeriod over both directions: the net change within (now - period, now]. */
static long long change_in_period(const struct scale_history *h, int period, double now)
{
	double cutoff = now - period;
	long long sum = 0;

	for (size_t i = 0; i < h->events.len; i++) {
		const struct scale_stamp *s = ring_at(&h->events, i);

		if (s->t > cutoff)
			sum += s->n;
	}
	return sum;
}

static const char *policy_type_name(enum scale_policy_type t)
{
	return t == SCALE_POLICY_PODS ? "Pods" : "Percent";
}

/*
 * calculateScaleUpLimitWithScalingRules / calculateScaleDownLimitWithBehaviors:
 * the furthest each policy lets the count go from where its period started,
 * then the policy selectPolicy picks. `*chosen` is that policy's index, or -1
 * when the direction is disabled. The arithmetic is upstream's, in doubles
 * and 64-bit integers so huge values cannot overflow.
 */
static long long policy_limit(const struct scale_history *h, const struct scale_rules *r, bool up,
                              int current, double now, int *chosen)
{
	long long result = 0;
	/* Scaling up, Max means the largest count; scaling down, the smallest. */
	bool want_larger = (r->select == SCALE_SELECT_MAX) == up;

	*chosen = -1;
	if (r->select == SCALE_SELECT_DISABLED)
		return current;
	for (int i = 0; i < r->n_policies; i++) {
		const struct scale_policy *p = &r->policies[i];
		long long start = current - change_in_period(h, p->period_seconds, now);
		long long proposed;

		if (p->type == SCALE_POLICY_PODS)
			proposed = up ? start + p->value : start - p->value;
		else if (up)
			/* Rounded up, or a small count could never grow (upstream's comment). */
			proposed = (long long)ceil((double)start * (1 + (double)p->value / 100));
		else
			proposed = (long long)((double)start * (1 - (double)p->value / 100));
		if (*chosen < 0 || (want_larger ? proposed > result : proposed < result)) {
			result = proposed;
			*chosen = i;
		}
	}
	return result;
}

static void say_rate(char *why, size_t why_size, const struct scale_rules *r, bool up, int chosen,
                     int result)
{
	const char *dir = up ? "scale-up" : "scale-down";

	if (chosen < 0) {
		scale_say(why, why_size, "%s disabled by selectPolicy Disabled", dir);
		return;
	}
	scale_say(why, why_size, "%s rate limited to %d by policy %s %d/%ds", dir, result,
	          policy_type_name(r->policies[chosen].type), r->policies[chosen].value,
	          r->policies[chosen].period_seconds);
}

int scale_rate_limit(const struct scale_history *h, const struct scale_behavior *b, int min,
                     int max, int current, int desired, double now, enum scale_limit *limit,
                     char *why, size_t why_size)
{
	long long rate;
	int chosen;

	*limit = SCALE_LIMIT_NONE;
	if (desired > current) {
		int allowed = max;

		rate = policy_limit(h, &b->up, true, current, now, &chosen);
		/* Events in the period may already exceed the policy: no further scale-up. */
		if (rate < current)
			rate = current;
		if (desired <= allowed && desired <= rate)
			return desired;
		if (allowed > rate) {
			allowed = (int)rate;
			*limit = SCALE_LIMIT_BEHAVIOR;
			say_rate(why, why_size, &b->up, true, chosen, allowed);
		} else {
			*limit = SCALE_LIMIT_MAX_REPLICAS;
			scale_say(why, why_size, "capped at maxReplicas %d", max);
		}
		return allowed;
	}
	if (desired < current) {
		int allowed = min;

		rate = policy_limit(h, &b->down, false, current, now, &chosen);
		if (rate > current)
			rate = current;
		if (desired >= allowed && desired >= rate)
			return desired;
		if (allowed < rate) {
			allowed = (int)rate;
			*limit = SCALE_LIMIT_BEHAVIOR;
			say_rate(why, why_size, &b->down, false, chosen, allowed);
		} else {
			*limit = SCALE_LIMIT_MIN_REPLICAS;
			scale_say(why, why_size, "held at minReplicas %d", min);
		}
		return allowed;
	}
	return desired;
}
