#ifndef FORESIGHT_BASE_RESULT_H
#define FORESIGHT_BASE_RESULT_H

/*
 * One result type for every fallible call, in the manner of curl's CURLcode:
 * a function returns an `enum fs_rc` and, when it fails, fills the caller's
 * `struct fs_err` with a sentence that says what failed and where.
 *
 * Conventions across the code base:
 *  - out-parameters come first, the `struct fs_err *err` comes last;
 *  - `err` may be NULL when the caller only wants the code;
 *  - on failure, out-parameters are left untouched (nothing half-applied).
 *
 *	enum fs_rc rc = kube_config_load(&cfg, &opts, &err);
 *	if (rc != FS_OK)
 *		log_error("%s", err.msg);
 */

#include <stdarg.h>

enum fs_rc {
	FS_OK = 0,
	FS_ENOMEM,    /* allocation failed */
	FS_EINVAL,    /* bad input: a file, flag or field is wrong */
	FS_EIO,       /* reading or writing a local file failed */
	FS_EPARSE,    /* a document (JSON, YAML, text) could not be parsed */
	FS_ECONNECT,  /* could not reach a server (refused, DNS, unreachable) */
	FS_ETLS,      /* TLS failed: certificate not trusted, bad key */
	FS_ETIMEOUT,  /* a network call or wait ran out of time */
	FS_EHTTP,     /* the server answered with an error status */
	FS_EAUTH,     /* 401/403, or credentials could not be obtained */
	FS_ENOTFOUND, /* 404 or a named thing that does not exist */
	FS_ECONFLICT, /* 409: the object changed or already exists */
	FS_EGONE,     /* 410: a resourceVersion is too old */
	FS_ETOOLARGE, /* a body or line went over its cap */
	FS_ECANCELED, /* stopped on request (shutdown) */
};

#define FS_ERR_MSG_MAX 512

struct fs_err {
	enum fs_rc rc;
	int http_status;          /* the HTTP status when one was received, else 0 */
	char msg[FS_ERR_MSG_MAX]; /* what failed, for people; never holds secrets */
};

/* A short stable name for a code ("ENOMEM", "ETIMEOUT"); static storage. */
const char *fs_rc_name(enum fs_rc rc);

/*
 * Records a failure in `err` (when not NULL) and returns `rc`, so a call site
 * reads `return fs_fail(err, FS_EINVAL, "%s:%d: unknown key %s", ...)`.
 */
enum fs_rc fs_fail(struct fs_err *err, enum fs_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like fs_fail with a va_list. */
enum fs_rc fs_vfail(struct fs_err *err, enum fs_rc rc, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));

/*
 * Puts `prefix: ` in front of the message already in `err` (when not NULL),
 * to add context as an error travels up ("kubeconfig /x: user admin: ...").
 * Returns `rc`, the code being passed up, so a call site reads
 * `return fs_wrap(err, rc, "context %s", name)`.
 */
enum fs_rc fs_wrap(struct fs_err *err, enum fs_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears `err` to FS_OK with an empty message. NULL is a no-op. */
void fs_err_clear(struct fs_err *err);

#endif
