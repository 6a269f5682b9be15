#ifndef FORESIGHT_BASE_DURATION_H
#define FORESIGHT_BASE_DURATION_H

/*
 * Durations as Kubernetes and Prometheus users write them: a sequence of
 * number+unit pairs, "30s", "1m30s", "1.5h", "7d", "2w", units ms, s, m, h,
 * d (24 h) and w (7 d). A bare "0" is zero.
 *
 *	double s;
 *	if (dur_parse(&s, "1h30m", &err) == FS_OK) ...   // s == 5400
 */

#include <stddef.h>

#include "base/result.h"

/* Parses `text` into seconds. FS_EINVAL with the offending text otherwise. */
enum fs_rc dur_parse(double *seconds, const char *text, struct fs_err *err);

/*
 * Writes `seconds` in the shortest exact form ("90s" -> "1m30s", 86400 ->
 * "1d"; sub-second parts as ms) into `out` (at least 32 bytes advised).
 */
void dur_format(char *out, size_t size, double seconds);

#endif
