#include "kube/time.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Reads exactly `n` decimal digits. */
static bool digits(int *out, const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

enum fs_rc kube_time_parse(int64_t *out_us, const char *s, struct fs_err *err)
{
	struct tm tm;
	int year, mon, day, hour, min, sec, oh, om;
	int64_t frac_us = 0, scale = 100000, offset_s = 0;
	const char *p = s;
	time_t t;

	if (strlen(s) < 20 || !digits(&year, p, 4) || p[4] != '-' || !digits(&mon, p + 5, 2) ||
	    p[7] != '-' || !digits(&day, p + 8, 2) || (p[10] != 'T' && p[10] != 't') ||
	    !digits(&hour, p + 11, 2) || p[13] != ':' || !digits(&min, p + 14, 2) || p[16] != ':' ||
	    !digits(&sec, p + 17, 2))
		goto bad;
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
		goto bad;
	p += 19;
	if (*p == '.') {
		int n = 0;

		for (p++; *p >= '0' && *p <= '9'; p++, n++) {
			frac_us += (*p - '0') * scale; /* digits past the sixth add 0 */
			scale /= 10;
		}
		if (n < 1 || n > 9)
			goto bad;
	}
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		offset_s = 0;
	} else if ((*p == '+' || *p == '-') && digits(&oh, p + 1, 2) && p[3] == ':' &&
	           digits(&om, p + 4, 2) && p[6] == '\0' && oh < 24 && om < 60) {
		offset_s = (*p == '-' ? -1 : 1) * (int64_t)(oh * 3600 + om * 60);
	} else {
		goto bad;
	}
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*out_us = ((int64_t)t - offset_s) * 1000000 + frac_us;
	return FS_OK;
bad:
	return fs_fail(err, FS_EPARSE, "not a MicroTime: \"%.40s\"", s);
}

void kube_time_format(char out[KUBE_TIME_LEN], int64_t us)
{
	time_t t = (time_t)(us / 1000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 20, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + 19, KUBE_TIME_LEN - 19, ".%06uZ", (unsigned)((uint64_t)us % 1000000u));
}
