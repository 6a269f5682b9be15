#include "base/str.h"

#include <stdarg.h>
#include <stdio.h>

void str_fmt(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;

	if (size == 0)
		return;
	va_start(ap, fmt);
	if (vsnprintf(dst, size, fmt, ap) < 0)
		dst[0] = '\0';
	va_end(ap);
}
