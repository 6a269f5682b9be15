#ifndef FORESIGHT_BASE_STR_H
#define FORESIGHT_BASE_STR_H

/* Small string helpers for fixed-size fields (reasons, messages, labels). */

#include <stdbool.h>
#include <stddef.h>

/*
 * printf into `dst` (of `size` bytes), cut short when it does not fit and
 * always terminated: for messages where a truncated tail is acceptable and
 * a missing one is not worth an error.
 */
void str_fmt(char *dst, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/*
 * A copy of `s` (the caller frees it), NULL for NULL. When out of memory it
 * returns NULL and clears *ok, so a constructor can copy many fields and
 * check once.
 */
char *str_dup_opt(const char *s, bool *ok);

#endif
