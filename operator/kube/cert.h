#ifndef FORESIGHT_KUBE_CERT_H
#define FORESIGHT_KUBE_CERT_H

/*
 * When a client certificate is valid, read from the certificate itself, so
 * that a 401 can say "the client certificate expired at ..." instead of a
 * bare Unauthorized. No TLS library: the first certificate of a PEM bundle
 * is decoded and its DER walked down to tbsCertificate.validity (RFC 5280,
 * 4.1: UTCTime or GeneralizedTime, both in UTC).
 */

#include <stddef.h>
#include <stdint.h>

#include "base/result.h"

/*
 * The validity of the first "CERTIFICATE" block of `pem` (`len` bytes, not
 * necessarily NUL-terminated), in unix seconds. FS_EPARSE when there is no
 * such block or it does not read as a certificate; the outputs are then
 * untouched.
 */
enum fs_rc kube_cert_validity(int64_t *not_before, int64_t *not_after, const char *pem, size_t len);

#endif
