/* Unit tests of duration parsing and formatting (operator/base/duration). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/duration.h"

static void parses_units_and_sequences(void **state)
{
	struct {
		const char *text;
		double seconds;
	} cases[] = {
	    {"0", 0},          {"30s", 30},       {"5m", 300},    {"1h30m", 5400},
	    {"7d", 604800},    {"2w", 1209600},   {"1.5h", 5400}, {"250ms", 0.25},
	    {"1m500ms", 60.5}, {"1d12h", 129600}, {"90s", 90},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		double s = -1;

		assert_int_equal(dur_parse(&s, cases[i].text, NULL), FS_OK);
		assert_float_equal(s, cases[i].seconds, 1e-9);
	}
}

static void rejects_what_is_not_a_duration(void **state)
{
	const char *bad[] = {"", "5", "m", "5 minutes", "-5s", "5x", "1h-", "auto", "1e400s"};
	struct fs_err err;
	double s = 42;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(dur_parse(&s, bad[i], &err), FS_EINVAL);
		assert_float_equal(s, 42, 0);
	}
	assert_non_null(strstr(err.msg, "invalid duration \"1e400s\""));
}

static void formats_shortest_form(void **state)
{
	char out[32];

	(void)state;
	dur_format(out, sizeof(out), 90);
	assert_string_equal(out, "1m30s");
	dur_format(out, sizeof(out), 86400);
	assert_string_equal(out, "1d");
	dur_format(out, sizeof(out), 0.25);
	assert_string_equal(out, "250ms");
	dur_format(out, sizeof(out), 0);
	assert_string_equal(out, "0s");
	dur_format(out, sizeof(out), 694861);
	assert_string_equal(out, "1w1d1h1m1s");
	dur_format(out, 4, 694861); /* truncated, still terminated */
	assert_true(strlen(out) < 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parses_units_and_sequences),
	    cmocka_unit_test(rejects_what_is_not_a_duration),
	    cmocka_unit_test(formats_shortest_form),
	};

	return cmocka_run_group_tests_name("duration", tests, NULL, NULL);
}
