#ifndef FORESIGHT_BASE_BASE64_H
#define FORESIGHT_BASE_BASE64_H

/* Standard base64 (RFC 4648, with padding), as kubeconfig *-data fields use. */

#include <stddef.h>

#include "base/result.h"

/*
 * Decodes `in` (whitespace ignored, padding optional). On success *out is a
 * new NUL-terminated allocation the caller frees, *out_len its length.
 * FS_EPARSE names the offset of the first bad character.
 */
enum fs_rc b64_decode(char **out, size_t *out_len, const char *in, struct fs_err *err);

/* Encodes `len` bytes; returns a new NUL-terminated string the caller frees, NULL on OOM. */
char *b64_encode(const void *data, size_t len);

#endif
