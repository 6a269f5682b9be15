/* Unit tests of the result type (operator/base/result). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/result.h"

static void errors_carry_context(void **state)
{
	struct fs_err err;

	(void)state;
	assert_int_equal(fs_fail(&err, FS_EINVAL, "field %s", "x"), FS_EINVAL);
	assert_int_equal(fs_wrap(&err, FS_EINVAL, "file %d", 3), FS_EINVAL);
	assert_string_equal(err.msg, "file 3: field x");
	assert_string_equal(fs_rc_name(FS_EGONE), "EGONE");
	assert_int_equal(fs_fail(NULL, FS_EIO, "ignored"), FS_EIO);
	/* A long message is cut, never overflowed, and keeps the new context. */
	memset(err.msg, 'a', sizeof(err.msg) - 1);
	err.msg[sizeof(err.msg) - 1] = '\0';
	fs_wrap(&err, FS_EINVAL, "ctx");
	assert_int_equal(strlen(err.msg), sizeof(err.msg) - 1);
	assert_memory_equal(err.msg, "ctx: aaa", 8);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(errors_carry_context),
	};

	return cmocka_run_group_tests_name("result", tests, NULL, NULL);
}
