/* Unit tests of exec credential parsing and times (operator/kube/exec). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "kube/exec.h"

#define V1 "client.authentication.k8s.io/v1"

static void parses_a_token_with_expiry(void **state)
{
	struct kube_exec_cred c;
	const char *doc =
	    "{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\","
	    "\"status\":{\"token\":\"abc\",\"expirationTimestamp\":\"2026-11-22T11:04:00Z\"}}";

	(void)state;
	assert_int_equal(kube_exec_parse(&c, doc, V1, NULL), FS_OK);
	assert_string_equal(c.token, "abc");
	assert_int_equal(c.expires_at, 1795345440);
	assert_null(c.cert_pem);
	kube_exec_cred_release(&c);
	assert_null(c.token);
}

static void parses_a_client_certificate(void **state)
{
	struct kube_exec_cred c;
	const char *doc = "{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":{"
	                  "\"clientCertificateData\":\"CERT\",\"clientKeyData\":\"KEY\"}}";

	(void)state;
	assert_int_equal(kube_exec_parse(&c, doc, V1, NULL), FS_OK);
	assert_string_equal(c.cert_pem, "CERT");
	assert_string_equal(c.key_pem, "KEY");
	assert_int_equal(c.expires_at, 0);
	kube_exec_cred_release(&c);
}

static void rejects_bad_documents_without_echoing_them(void **state)
{
	struct kube_exec_cred c;
	struct fs_err err;
	const char *cases[][2] = {
	    {"not json", "not a JSON"},
	    {"{\"apiVersion\":\"" V1 "\",\"kind\":\"Other\",\"status\":{\"token\":\"s3cr3t\"}}",
	     "expected ExecCredential"},
	    {"{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\","
	     "\"status\":{\"token\":\"s3cr3t\"}}",
	     "asks for " V1},
	    {"{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\"}", "no status"},
	    {"{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":{}}",
	     "neither a token"},
	    {"{\"apiVersion\":\"" V1 "\",\"kind\":\"ExecCredential\",\"status\":{"
	     "\"clientCertificateData\":\"s3cr3t\"}}",
	     "without clientKeyData"},
	    {"{\"apiVersion\":\"" V1
	     "\",\"kind\":\"ExecCredential\",\"status\":{\"token\":\"s3cr3t\","
	     "\"expirationTimestamp\":\"tomorrow\"}}",
	     "status.expirationTimestamp"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(kube_exec_parse(&c, cases[i][0], V1, &err), FS_EPARSE);
		if (!strstr(err.msg, cases[i][1]))
			fail_msg("case %zu: \"%s\" lacks \"%s\"", i, err.msg, cases[i][1]);
		assert_null(strstr(err.msg, "s3cr3t"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parses_a_token_with_expiry),
	    cmocka_unit_test(parses_a_client_certificate),
	    cmocka_unit_test(rejects_bad_documents_without_echoing_them),
	};

	return cmocka_run_group_tests_name("kube_exec", tests, NULL, NULL);
}
