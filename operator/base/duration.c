#include "base/duration.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct unit {
	const char *name;
	double seconds;
};

/* "ms" before "m" so the longer unit wins. */
static const struct unit units[] = {
    {"ms", 0.001}, {"s", 1}, {"m", 60}, {"h", 3600}, {"d", 86400}, {"w", 604800},
};

enum fs_rc dur_parse(double *seconds, const char *text, struct fs_err *err)
{
	const char *p = text;
	double total = 0;

	if (!text || !text[0])
		return fs_fail(err, FS_EINVAL, "empty duration");
	if (strcmp(text, "0") == 0) {
		*seconds = 0;
		return FS_OK;
	}
	while (*p) {
		char *end;
		double n;
		size_t i;

		if (*p < '0' || *p > '9')
			goto bad;
		n = strtod(p, &end);
		if (end == p || !isfinite(n))
			goto bad;
		p = end;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t len = strlen(units[i].name);

			if (strncmp(p, units[i].name, len) == 0) {
				total += n * units[i].seconds;
				p += len;
				break;
			}
		}
		if (i == sizeof(units) / sizeof(units[0]))
			goto bad;
	}
	*seconds = total;
	return FS_OK;
bad:
	return fs_fail(
	    err, FS_EINVAL,
	    "invalid duration \"%.64s\": expected number+unit pairs like 30s, 5m, 1h30m, "
	    "7d (units ms, s, m, h, d, w)",
	    text);
}

void dur_format(char *out, size_t size, double seconds)
{
	long long ms = llround(seconds * 1000.0);
	size_t used = 0;

	if (size == 0)
		return;
	out[0] = '\0';
	if (ms <= 0) {
		snprintf(out, size, "0s");
		return;
	}
	for (size_t i = sizeof(units) / sizeof(units[0]); i-- > 0;) {
		long long unit_ms = llround(units[i].seconds * 1000.0);
		long long n = ms / unit_ms;
		int w;

		if (n == 0)
			continue;
		w = snprintf(out + used, size - used, "%lld%s", n, units[i].name);
		if (w < 0 || (size_t)w >= size - used)
			return;
		used += (size_t)w;
		ms -= n * unit_ms;
	}
}
