/* Unit tests of Kubernetes time parsing and formatting (operator/kube/time). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "kube/time.h"

static void micro_time_round_trips(void **state)
{
	char s[KUBE_TIME_LEN];
	int64_t us;

	(void)state;
	assert_int_equal(kube_time_parse(&us, "2026-11-22T11:04:00.000000Z", NULL), FS_OK);
	assert_int_equal(us, INT64_C(1795345440000000));
	kube_time_format(s, us + 123456);
	assert_string_equal(s, "2026-11-22T11:04:00.123456Z");
	assert_int_equal(kube_time_parse(&us, s, NULL), FS_OK);
	assert_int_equal(us, INT64_C(1795345440123456));
	kube_time_format(s, 0);
	assert_string_equal(s, "1970-01-01T00:00:00.000000Z");
}

static void micro_time_accepts_rfc3339_variants(void **state)
{
	int64_t us;

	(void)state;
	assert_int_equal(kube_time_parse(&us, "2026-11-22T11:04:00Z", NULL), FS_OK);
	assert_int_equal(us, INT64_C(1795345440000000));
	assert_int_equal(kube_time_parse(&us, "2026-11-22T11:04:00.5Z", NULL), FS_OK);
	assert_int_equal(us, INT64_C(1795345440500000));
	assert_int_equal(kube_time_parse(&us, "2026-11-22T11:04:00.123456789Z", NULL), FS_OK);
	assert_int_equal(us, INT64_C(1795345440123456));
	assert_int_equal(kube_time_parse(&us, "2026-11-22T12:04:00.000000+01:00", NULL), FS_OK);
	assert_int_equal(us, INT64_C(1795345440000000));
	assert_int_equal(kube_time_parse(&us, "2026-11-22T10:34:00-00:30", NULL), FS_OK);
	assert_int_equal(us, INT64_C(1795345440000000));
}

static void micro_time_refuses_garbage(void **state)
{
	static const char *const bad[] = {
	    "",
	    "2026-11-22",
	    "2026-11-22 11:04:00Z",
	    "2026-13-22T11:04:00Z",
	    "2026-11-22T11:04:00",
	    "2026-11-22T11:04:00.Z",
	    "2026-11-22T11:04:00.0000000000Z",
	    "2026-11-22T11:04:00Zjunk",
	    "2026-11-22T11:04:00+0100",
	    " 2026-11-22T11:04:00Z",
	};
	struct fs_err err;
	int64_t us = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(kube_time_parse(&us, bad[i], &err), FS_EPARSE);
		assert_non_null(strstr(err.msg, "MicroTime"));
	}
	assert_int_equal(us, 42);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(micro_time_round_trips),
	    cmocka_unit_test(micro_time_accepts_rfc3339_variants),
	    cmocka_unit_test(micro_time_refuses_garbage),
	};

	return cmocka_run_group_tests_name("kube_time", tests, NULL, NULL);
}
