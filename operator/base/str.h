#ifndef FORESIGHT_BASE_STR_H
#define FORESIGHT_BASE_STR_H

/* Small string helpers for fixed-size fields (reasons, messages, labels). */

#include <stddef.h>

/*
 * printf into `dst` (of `size` bytes), cut short when it does not fit and
 * always terminated: for messages where a truncated tail is acceptable and
 * a missing one is not worth an error.
 */
void str_fmt(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
