/* Unit tests of operator/kube/cert: a certificate's validity from its PEM. */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "kube/cert.h"

/*
 * A client certificate made by `openssl ca -startdate 20200101000000Z
 * -enddate 20510102030405Z`: notBefore is a UTCTime, notAfter (past 2049) a
 * GeneralizedTime.
 */
static const char cert_pem[] = "-----BEGIN CERTIFICATE-----\n"
                               "MIICjjCCAXagAwIBAgICEAEwDQYJKoZIhvcNAQELBQAwHDEaMBgGA1UEAwwRZm9y\n"
                               "ZXNpZ2h0LXRlc3QtY2EwIBcNMjAwMTAxMDAwMDAwWhgPMjA1MTAxMDIwMzA0MDVa\n"
                               "MBQxEjAQBgNVBAMMCXVuaXQtdGVzdDCBnzANBgkqhkiG9w0BAQEFAAOBjQAwgYkC\n"
                               "gYEAwGk2KyyHCW+TZBBCPT6OsFu30e9b/trrUbaw6iICDdlVU9agjLp94st/YicZ\n"
                               "31Blx+jjczww9ab4MubAsE5cwFb15KTLl7ibXK+8n7QbXt/PqUuEwo1w6PivzkTs\n"
                               "KyPfLZn8JK0nCElXnCG26vLaQTEJeFkp+BcVZZyKgRHtamUCAwEAAaNkMGIwEwYD\n"
                               "VR0lBAwwCgYIKwYBBQUHAwIwCwYDVR0PBAQDAgWgMB0GA1UdDgQWBBSF3xBpwbnR\n"
                               "5gti1a9NvdaC0Brz9zAfBgNVHSMEGDAWgBTF+MEMLshawZ9iYsC+MnCMCY9SKzAN\n"
                               "BgkqhkiG9w0BAQsFAAOCAQEApH1rtf+zW1Rk4N4yiQz6jem33Ctaf9rwT4ZZ1oU9\n"
                               "qs31nkLggGtfxcpyWECYRbQt56xamr4VBNj8TRkor8u9YZHTyqTiZdj5Wov2TLXQ\n"
                               "8UCWJIBjHHi07oQGXreP+pQSXx1sV+LGm3v4JS6uDembXqx7k+AH5qzc6Vvt4eDe\n"
                               "wHZByALbT1CE+kBuI4UmNgbVX3N/2dPJ+naKX1Dbi5dg1zB+J5kHcS31kYUG0eE5\n"
                               "Wpghy3NksoS3N4SyVlLXN5hycP9MmeZ6o8KS8Ug9egfnCpqo+u6XXJiXQnEcGRvN\n"
                               "9ryyySQDlFV0Y2jgJ34CDnf6XtbZSRhijJGXDQz9u1MB+w==\n"
                               "-----END CERTIFICATE-----\n";

/* A PEM block around base64 text. */
#define PEM(b64) "-----BEGIN CERTIFICATE-----\n" b64 "\n-----END CERTIFICATE-----\n"

#define NB_2020_01_01          1577836800LL
#define NA_2051_01_02_03_04_05 2556241445LL

static void reads_utc_and_generalized_times(void **state)
{
	int64_t nb = 0, na = 0;

	(void)state;
	assert_int_equal(kube_cert_validity(&nb, &na, cert_pem, strlen(cert_pem)), FS_OK);
	assert_int_equal(nb, NB_2020_01_01);
	assert_int_equal(na, NA_2051_01_02_03_04_05);
}

static void the_first_certificate_of_a_bundle_counts(void **state)
{
	char bundle[8192];
	int64_t nb = 0, na = 0;

	(void)state;
	/* Text before it (a key, comments) is skipped; a second one is ignored. */
	strcpy(bundle, "# issued for tests\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE "
	               "KEY-----\n");
	strcat(bundle, cert_pem);
	strcat(bundle, "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n");
	/* Not NUL-terminated where the length ends. */
	assert_int_equal(kube_cert_validity(&nb, &na, bundle, strlen(bundle) - 1), FS_OK);
	assert_int_equal(na, NA_2051_01_02_03_04_05);
}

static void what_is_not_a_certificate_is_refused(void **state)
{
	int64_t nb = 7, na = 7;
	char cut[4096];
	size_t half;

	(void)state;
	assert_int_equal(kube_cert_validity(&nb, &na, NULL, 0), FS_EPARSE);
	assert_int_equal(kube_cert_validity(&nb, &na, "cert", 4), FS_EPARSE);
	assert_int_equal(kube_cert_validity(&nb, &na, cert_pem, 40), FS_EPARSE);
	assert_int_equal(kube_cert_validity(&nb, &na, PEM("!!!"), strlen(PEM("!!!"))), FS_EPARSE);
	/* An empty SEQUENCE, then one whose length runs past the end. */
	assert_int_equal(kube_cert_validity(&nb, &na, PEM("MAA="), strlen(PEM("MAA="))), FS_EPARSE);
	assert_int_equal(kube_cert_validity(&nb, &na, PEM("MIQAAAAB"), strlen(PEM("MIQAAAAB"))),
	                 FS_EPARSE);
	/* The DER cut in the middle (the base64 of its first half). */
	half = strlen(cert_pem) / 2;
	half -= half % 4;
	memcpy(cut, cert_pem, half);
	strcpy(cut + half, "\n-----END CERTIFICATE-----\n");
	assert_int_equal(kube_cert_validity(&nb, &na, cut, strlen(cut)), FS_EPARSE);
	assert_int_equal(nb, 7);
	assert_int_equal(na, 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(reads_utc_and_generalized_times),
	    cmocka_unit_test(the_first_certificate_of_a_bundle_counts),
	    cmocka_unit_test(what_is_not_a_certificate_is_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
