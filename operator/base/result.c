#include "base/result.h"

#include <stdio.h>
#include <string.h>

const char *fs_rc_name(enum fs_rc rc)
{
	switch (rc) {
	case FS_OK:
		return "OK";
	case FS_ENOMEM:
		return "ENOMEM";
	case FS_EINVAL:
		return "EINVAL";
	case FS_EIO:
		return "EIO";
	case FS_EPARSE:
		return "EPARSE";
	case FS_ECONNECT:
		return "ECONNECT";
	case FS_ETLS:
		return "ETLS";
	case FS_ETIMEOUT:
		return "ETIMEOUT";
	case FS_EHTTP:
		return "EHTTP";
	case FS_EAUTH:
		return "EAUTH";
	case FS_ENOTFOUND:
		return "ENOTFOUND";
	case FS_ECONFLICT:
		return "ECONFLICT";
	case FS_EGONE:
		return "EGONE";
	case FS_ETOOLARGE:
		return "ETOOLARGE";
	case FS_ECANCELED:
		return "ECANCELED";
	}
	return "EUNKNOWN";
}

enum fs_rc fs_vfail(struct fs_err *err, enum fs_rc rc, const char *fmt, va_list ap)
{
	if (!err)
		return rc;
	err->rc = rc;
	err->http_status = 0;
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	return rc;
}

enum fs_rc fs_fail(struct fs_err *err, enum fs_rc rc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fs_vfail(err, rc, fmt, ap);
	va_end(ap);
	return rc;
}

enum fs_rc fs_wrap(struct fs_err *err, enum fs_rc rc, const char *fmt, ...)
{
	char prefix[FS_ERR_MSG_MAX];
	size_t plen, olen;
	va_list ap;
	int n;

	if (!err)
		return rc;
	va_start(ap, fmt);
	n = vsnprintf(prefix, sizeof(prefix) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return rc;
	plen = strlen(prefix);
	memcpy(prefix + plen, ": ", 3);
	plen += 2;
	/* The context always fits; the old message is cut short when both do not. */
	olen = strnlen(err->msg, sizeof(err->msg) - 1);
	if (plen + olen > sizeof(err->msg) - 1)
		olen = sizeof(err->msg) - 1 - plen;
	memmove(err->msg + plen, err->msg, olen);
	memcpy(err->msg, prefix, plen);
	err->msg[plen + olen] = '\0';
	return rc;
}

void fs_err_clear(struct fs_err *err)
{
	if (!err)
		return;
	err->rc = FS_OK;
	err->http_status = 0;
	err->msg[0] = '\0';
}
