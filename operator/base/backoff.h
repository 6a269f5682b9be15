#ifndef FORESIGHT_BASE_BACKOFF_H
#define FORESIGHT_BASE_BACKOFF_H

/*
 * Capped exponential backoff with jitter, for retrying requests, watches and
 * failed reconciles. Pure: it computes delays and sleeps nowhere.
 *
 * The n-th delay (n from 0) is d = min(max, initial * 2^n), drawn uniformly
 * from [d/2, d] ("equal jitter"), so retries of many clients spread out
 * while a delay never drops below half its nominal value.
 *
 *	struct backoff b;
 *	backoff_init(&b, 200, 30000, seed);
 *	while (try() != FS_OK)
 *		sleep_ms(backoff_next(&b));
 */

#include <stdint.h>

struct backoff {
	uint32_t initial_ms;
	uint32_t max_ms;
	uint32_t attempt; /* delays handed out since the last reset */
	uint64_t rng;     /* xorshift state */
};

/* Sets up a backoff; `seed` 0 picks a fixed non-zero seed. */
void backoff_init(struct backoff *b, uint32_t initial_ms, uint32_t max_ms, uint64_t seed);

/* The next delay in milliseconds, and counts the attempt. */
uint32_t backoff_next(struct backoff *b);

/* The nominal (unjittered) delay of attempt `attempt`: min(max, initial * 2^attempt). */
uint32_t backoff_nominal(const struct backoff *b, uint32_t attempt);

/* Starts again from the initial delay (after a success). */
void backoff_reset(struct backoff *b);

#endif
