#ifndef FORESIGHT_BASE_RATELIMIT_H
#define FORESIGHT_BASE_RATELIMIT_H

/*
 * A token bucket: on average `qps` events a second, with bursts of up to
 * `burst`, as client-go's client-side limiter (--kube-qps / --kube-burst).
 * Pure: the caller passes the time and sleeps for the returned wait, so the
 * arithmetic is tested without a clock. Not locked: a shared bucket needs the
 * caller's mutex.
 */

struct ratelimit {
	double qps;    /* tokens added per second; <= 0 means unlimited */
	double burst;  /* bucket size, at least 1 */
	double tokens; /* may go negative: reservations already promised */
	double last;   /* time of the last update, seconds */
};

/* A full bucket at time `now` (seconds, any monotonic origin). */
void ratelimit_init(struct ratelimit *rl, double qps, int burst, double now);

/*
 * Takes one token at `now` and returns how many seconds the caller must wait
 * before acting (0 when a token was there). Reservations queue fairly: each
 * caller waits behind the ones before it.
 */
double ratelimit_reserve(struct ratelimit *rl, double now);

#endif
