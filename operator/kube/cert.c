#include "kube/cert.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base64.h"

#define PEM_BEGIN "-----BEGIN CERTIFICATE-----"
#define PEM_END   "-----END CERTIFICATE-----"

#define TAG_SEQUENCE    0x30
#define TAG_INTEGER     0x02
#define TAG_VERSION     0xA0 /* [0] EXPLICIT */
#define TAG_UTC_TIME    0x17
#define TAG_GENERALIZED 0x18

/* A span of DER still to read. */
struct der {
	const unsigned char *p;
	size_t n;
};

/* Takes the next TLV off `in` (single-byte tags, definite lengths, as DER has). */
static bool der_next(struct der *in, unsigned char *tag, struct der *value)
{
	size_t len, head = 2;

	if (in->n < 2)
		return false;
	*tag = in->p[0];
	len = in->p[1];
	if (len & 0x80) {
		size_t k = len & 0x7f;

		if (k == 0 || k > 4 || in->n < 2 + k)
			return false;
		len = 0;
		for (size_t i = 0; i < k; i++)
			len = len << 8 | in->p[2 + i];
		head = 2 + k;
	}
	if (len > in->n - head)
		return false;
	value->p = in->p + head;
	value->n = len;
	in->p += head + len;
	in->n -= head + len;
	return true;
}

static bool digits(const unsigned char *p, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return false;
		v = v * 10 + (p[i] - '0');
	}
	*out = v;
	return true;
}

/* UTCTime YYMMDDHHMMSSZ (years 1950-2049) or GeneralizedTime YYYYMMDDHHMMSSZ. */
static bool der_time(int64_t *out, unsigned char tag, const struct der *v)
{
	struct tm tm;
	const unsigned char *p = v->p;
	int year, mon, day, hour, min, sec;
	size_t ylen = tag == TAG_UTC_TIME ? 2 : 4;
	time_t t;

	if ((tag != TAG_UTC_TIME && tag != TAG_GENERALIZED) || v->n != ylen + 11 ||
	    p[v->n - 1] != 'Z')
		return false;
	if (!digits(p, ylen, &year) || !digits(p + ylen, 2, &mon) ||
	    !digits(p + ylen + 2, 2, &day) || !digits(p + ylen + 4, 2, &hour) ||
	    !digits(p + ylen + 6, 2, &min) || !digits(p + ylen + 8, 2, &sec))
		return false;
	if (tag == TAG_UTC_TIME)
		year += year < 50 ? 2000 : 1900;
	if (mon < 1 || mon > 12 || day < 1 || day > 31 || hour > 23 || min > 59 || sec > 60)
		return false;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return false;
	*out = (int64_t)t;
	return true;
}

/* Certificate -> tbsCertificate -> [version], serial, signature, issuer, validity. */
static bool der_validity(int64_t *not_before, int64_t *not_after, struct der in)
{
	struct der cert, tbs, v, validity;
	unsigned char tag;

	if (!der_next(&in, &tag, &cert) || tag != TAG_SEQUENCE)
		return false;
	if (!der_next(&cert, &tag, &tbs) || tag != TAG_SEQUENCE)
		return false;
	if (!der_next(&tbs, &tag, &v))
		return false;
	if (tag == TAG_VERSION && !der_next(&tbs, &tag, &v))
		return false;
	if (tag != TAG_INTEGER) /* the serial number */
		return false;
	if (!der_next(&tbs, &tag, &v) || tag != TAG_SEQUENCE) /* the signature algorithm */
		return false;
	if (!der_next(&tbs, &tag, &v) || tag != TAG_SEQUENCE) /* the issuer */
		return false;
	if (!der_next(&tbs, &tag, &validity) || tag != TAG_SEQUENCE)
		return false;
	if (!der_next(&validity, &tag, &v) || !der_time(not_before, tag, &v))
		return false;
	return der_next(&validity, &tag, &v) && der_time(not_after, tag, &v);
}

enum fs_rc kube_cert_validity(int64_t *not_before, int64_t *not_after, const char *pem, size_t len)
{
	const char *begin, *end;
	char *b64 = NULL, *der = NULL;
	size_t der_len;
	int64_t nb, na;
	bool ok;

	begin = pem ? memmem(pem, len, PEM_BEGIN, strlen(PEM_BEGIN)) : NULL;
	if (!begin)
		return FS_EPARSE;
	begin += strlen(PEM_BEGIN);
	end = memmem(begin, len - (size_t)(begin - pem), PEM_END, strlen(PEM_END));
	if (!end)
		return FS_EPARSE;
	b64 = strndup(begin, (size_t)(end - begin));
	if (!b64)
		return FS_ENOMEM;
	ok = b64_decode(&der, &der_len, b64, NULL) == FS_OK &&
	     der_validity(&nb, &na, (struct der){(const unsigned char *)der, der_len});
	free(b64);
	free(der);
	if (!ok)
		return FS_EPARSE;
	*not_before = nb;
	*not_after = na;
	return FS_OK;
}
