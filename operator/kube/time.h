#ifndef FORESIGHT_KUBE_TIME_H
#define FORESIGHT_KUBE_TIME_H

/*
 * Kubernetes times: MicroTime ("2026-11-22T11:04:00.000000Z", as Lease and
 * Event fields carry) and RFC 3339 Time in general (fractions optional, Z or
 * a +hh:mm offset), as microseconds since the epoch.
 *
 *	char when[KUBE_TIME_LEN];
 *	kube_time_format(when, now_us);
 *	int64_t us;
 *	if (kube_time_parse(&us, "2026-11-22T11:04:00Z", &err) != FS_OK) ...
 */

#include <stdint.h>

#include "base/result.h"

#define KUBE_TIME_LEN 28 /* bytes of "2026-11-22T11:04:00.000000Z", with the NUL */

/*
 * Parses an RFC 3339 time (up to 9 fraction digits, Z or a ±hh:mm offset)
 * into microseconds since the epoch. FS_EPARSE when malformed.
 */
enum fs_rc kube_time_parse(int64_t *out_us, const char *s, struct fs_err *err);

/* Formats microseconds since the epoch as a MicroTime into `out`. */
void kube_time_format(char out[KUBE_TIME_LEN], int64_t us);

#endif
