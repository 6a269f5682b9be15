#ifndef FORESIGHT_BASE_CLOCK_H
#define FORESIGHT_BASE_CLOCK_H

/*
 * Clocks. Durations and deadlines use the monotonic clock (it never jumps);
 * times that leave the process (status fields, Prometheus queries) use the
 * wall clock.
 */

#include <time.h>

/* Seconds on the monotonic clock (any origin). */
double clock_mono_s(void);

/* Seconds since the Unix epoch. */
double clock_unix_s(void);

/*
 * The CLOCK_MONOTONIC time `ms` from now, for pthread_cond_timedwait on a
 * condition variable whose clock attribute is CLOCK_MONOTONIC.
 */
void clock_deadline(struct timespec *out, long ms);

#endif
