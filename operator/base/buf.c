#include "base/buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_init(struct buf *b, size_t max)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
	b->max = max;
}

void buf_release(struct buf *b)
{
	free(b->data);
	buf_init(b, b->max);
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

static enum fs_rc grow(struct buf *b, size_t extra, struct fs_err *err)
{
	size_t need, cap;
	char *data;

	if (extra > b->max - b->len)
		return fs_fail(err, FS_ETOOLARGE, "more than %zu bytes", b->max);
	need = b->len + extra + 1;
	if (need <= b->cap)
		return FS_OK;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	if (cap > b->max + 1)
		cap = b->max + 1;
	data = realloc(b->data, cap);
	if (!data)
		return fs_fail(err, FS_ENOMEM, "out of memory growing a buffer to %zu bytes", cap);
	b->data = data;
	b->cap = cap;
	return FS_OK;
}

enum fs_rc buf_append(struct buf *b, const void *data, size_t n, struct fs_err *err)
{
	enum fs_rc rc = grow(b, n, err);

	if (rc != FS_OK)
		return rc;
	if (n)
		memcpy(b->data + b->len, data, n);
	b->len += n;
	b->data[b->len] = '\0';
	return FS_OK;
}

enum fs_rc buf_puts(struct buf *b, const char *s, struct fs_err *err)
{
	return buf_append(b, s, strlen(s), err);
}

enum fs_rc buf_printf(struct buf *b, struct fs_err *err, const char *fmt, ...)
{
	va_list ap;
	int n;
	enum fs_rc rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return fs_fail(err, FS_EINVAL, "bad format string");
	rc = grow(b, (size_t)n, err);
	if (rc != FS_OK)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return FS_OK;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		buf_reset(b);
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
	b->data[b->len] = '\0';
}

char *buf_detach(struct buf *b)
{
	char *data = b->data;

	if (!data)
		data = calloc(1, 1);
	buf_init(b, b->max);
	return data;
}
