#ifndef FORESIGHT_CONTROLLER_LEADTIME_H
#define FORESIGHT_CONTROLLER_LEADTIME_H

/*
 * `forecast.leadTime: auto`: the lead time learned from the target itself,
 * as the time from a scale-up until the target reports all the new
 * replicas ready. Pure: the caller passes the clock and what it read from
 * the target; no I/O.
 *
 * A rollout is one scale-up being watched: it starts when the operator
 * scales the target up, and ends when the target's ready replicas reach the
 * new count (a sample: the time it took), when the target is scaled below
 * that count meanwhile (no sample: the scale-up was undone), or after
 * LEAD_MAX_S (no sample: pods that never become ready say nothing about
 * start time, and the target no longer counts as scaling up). A further
 * scale-up while one is watched restarts the watch from that moment: its
 * pods are the last to become ready.
 *
 * The learned lead time is the largest of the last LEAD_SAMPLES samples:
 * provisioning must cover the slow starts, and a slow start drops out
 * after a few faster ones. Until a first sample it is LEAD_DEFAULT_S.
 *
 *	struct lead_learner l;
 *	struct lead_rollout r;
 *	lead_init(&l);
 *	lead_rollout_start(&r, now, 2, 5);       // scaled from 2 to 5
 *	...each poll:
 *	if (lead_rollout_check(&r, &l, now, spec_replicas, ready) == LEAD_READY)
 *		log("took %gs", l.last);
 *	lead_seconds(&l);                         // what to provision ahead for
 */

#include <stdbool.h>
#include <stddef.h>

/* Samples kept; the lead time is the largest of them. */
#define LEAD_SAMPLES 5
/* The lead time until a first scale-up was measured: a typical pod start. */
#define LEAD_DEFAULT_S 60.0
/* Samples are kept within [LEAD_MIN_S, LEAD_MAX_S]; a rollout is given up after LEAD_MAX_S. */
#define LEAD_MIN_S 1.0
#define LEAD_MAX_S 600.0

struct lead_learner {
	double samples[LEAD_SAMPLES]; /* ring of the last samples, seconds */
	size_t n;                     /* samples held, <= LEAD_SAMPLES */
	size_t next;                  /* where the next sample goes */
	unsigned long total;          /* samples ever taken */
	double last;                  /* the latest sample; 0 before the first */
};

struct lead_rollout {
	bool active;
	double since; /* when the scale-up was made, seconds */
	int want;     /* the replica count it waits to see ready */
};

enum lead_outcome {
	LEAD_IDLE,      /* no rollout is watched */
	LEAD_PENDING,   /* still waiting for the new replicas */
	LEAD_READY,     /* they are ready; a sample was taken */
	LEAD_UNDONE,    /* the target was scaled below the count waited for */
	LEAD_TIMED_OUT, /* not ready after LEAD_MAX_S */
};

/* An empty learner (a zeroed lead_rollout is an idle one). */
void lead_init(struct lead_learner *l);

/* Adds a sample of `seconds` (cut into [LEAD_MIN_S, LEAD_MAX_S]); NaN is ignored. */
void lead_observe(struct lead_learner *l, double seconds);

/* The learned lead time: the largest recent sample, LEAD_DEFAULT_S before any. */
double lead_seconds(const struct lead_learner *l);

/*
 * Records a scale from `from` to `to` at `now`: a scale-up (re)starts the
 * watch; a scale-down ends any watch without a sample.
 */
void lead_rollout_start(struct lead_rollout *r, double now, int from, int to);

/*
 * Advances the watch with what the target shows at `now`: its desired
 * replicas (`spec_replicas`) and its ready ones. A READY outcome added a
 * sample to `l`; every outcome but PENDING leaves the rollout inactive.
 */
enum lead_outcome lead_rollout_check(struct lead_rollout *r, struct lead_learner *l, double now,
                                     int spec_replicas, int ready_replicas);

#endif
