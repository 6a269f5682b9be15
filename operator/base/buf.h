#ifndef FORESIGHT_BASE_BUF_H
#define FORESIGHT_BASE_BUF_H

/*
 * A growable byte buffer with a hard cap, for response bodies, watch lines
 * and anything else read from outside: an append that would take the buffer
 * over its cap fails with FS_ETOOLARGE instead of growing without bound.
 *
 * The data is always NUL-terminated (the terminator is not counted in len),
 * so a buffer of text can be handed to string functions directly.
 *
 *	struct buf b;
 *	buf_init(&b, 1 << 20);
 *	if (buf_append(&b, chunk, n, &err) != FS_OK) ...
 *	json_tokener_parse(b.data);
 *	buf_release(&b);
 */

#include <stddef.h>

#include "base/result.h"

struct buf {
	char *data; /* NUL-terminated; NULL until the first append */
	size_t len; /* bytes held, without the terminator */
	size_t cap; /* bytes allocated */
	size_t max; /* the most len may ever be */
};

/* Sets up an empty buffer that may hold at most `max` bytes. Allocates nothing. */
void buf_init(struct buf *b, size_t max);

/* Frees the data and leaves the buffer empty with the same cap. */
void buf_release(struct buf *b);

/* Empties the buffer, keeping its allocation. */
void buf_reset(struct buf *b);

/* Appends `n` bytes. FS_ETOOLARGE past the cap, FS_ENOMEM when out of memory. */
enum fs_rc buf_append(struct buf *b, const void *data, size_t n, struct fs_err *err);

/* Appends a NUL-terminated string. */
enum fs_rc buf_puts(struct buf *b, const char *s, struct fs_err *err);

/* Appends printf-style formatted text. */
enum fs_rc buf_printf(struct buf *b, struct fs_err *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Removes the first `n` bytes (n <= len), keeping the rest. */
void buf_consume(struct buf *b, size_t n);

/*
 * Hands the data to the caller, who must free() it, and leaves the buffer
 * empty. Returns an empty allocated string for a buffer never appended to;
 * NULL only when out of memory.
 */
char *buf_detach(struct buf *b);

#endif
