#include "controller/leadtime.h"

#include <math.h>
#include <string.h>

void lead_init(struct lead_learner *l)
{
	memset(l, 0, sizeof(*l));
}

void lead_observe(struct lead_learner *l, double seconds)
{
	if (isnan(seconds))
		return;
	if (seconds < LEAD_MIN_S)
		seconds = LEAD_MIN_S;
	if (seconds > LEAD_MAX_S)
		seconds = LEAD_MAX_S;
	l->samples[l->next] = seconds;
	l->next = (l->next + 1) % LEAD_SAMPLES;
	if (l->n < LEAD_SAMPLES)
		l->n++;
	l->total++;
	l->last = seconds;
}

double lead_seconds(const struct lead_learner *l)
{
	double most = 0;

	if (!l->n)
		return LEAD_DEFAULT_S;
	for (size_t i = 0; i < l->n; i++) {
		if (l->samples[i] > most)
			most = l->samples[i];
	}
	return most;
}

void lead_rollout_start(struct lead_rollout *r, double now, int from, int to)
{
	if (to <= from) {
		r->active = false;
		return;
	}
	r->active = true;
	r->since = now;
	r->want = to;
}

enum lead_outcome lead_rollout_check(struct lead_rollout *r, struct lead_learner *l, double now,
                                     int spec_replicas, int ready_replicas)
{
	if (!r->active)
		return LEAD_IDLE;
	if (spec_replicas < r->want) {
		r->active = false;
		return LEAD_UNDONE;
	}
	if (ready_replicas >= r->want) {
		r->active = false;
		lead_observe(l, now - r->since);
		return LEAD_READY;
	}
	if (now - r->since > LEAD_MAX_S) {
		r->active = false;
		return LEAD_TIMED_OUT;
	}
	return LEAD_PENDING;
}
