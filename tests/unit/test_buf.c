/* Unit tests of bounded buffers (operator/base/buf). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

static void buf_appends_and_terminates(void **state)
{
	struct buf b;
	struct fs_err err;

	(void)state;
	buf_init(&b, 64);
	assert_int_equal(buf_puts(&b, "hello", &err), FS_OK);
	assert_int_equal(buf_printf(&b, &err, " %s %d", "world", 42), FS_OK);
	assert_string_equal(b.data, "hello world 42");
	assert_int_equal(b.len, 14);
	buf_consume(&b, 6);
	assert_string_equal(b.data, "world 42");
	buf_release(&b);
	assert_null(b.data);
}

static void buf_refuses_to_pass_its_cap(void **state)
{
	struct buf b;
	struct fs_err err;
	char big[100];

	(void)state;
	memset(big, 'x', sizeof(big));
	buf_init(&b, 10);
	assert_int_equal(buf_append(&b, big, 10, &err), FS_OK);
	assert_int_equal(buf_append(&b, big, 1, &err), FS_ETOOLARGE);
	assert_non_null(strstr(err.msg, "10 bytes"));
	assert_int_equal(b.len, 10); /* nothing half-appended */
	assert_int_equal(buf_printf(&b, &err, "%s", "y"), FS_ETOOLARGE);
	buf_release(&b);
}

static void buf_detach_hands_over(void **state)
{
	struct buf b;
	char *s;

	(void)state;
	buf_init(&b, 16);
	s = buf_detach(&b);
	assert_string_equal(s, "");
	free(s);
	buf_puts(&b, "abc", NULL);
	s = buf_detach(&b);
	assert_string_equal(s, "abc");
	assert_null(b.data);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(buf_appends_and_terminates),
	    cmocka_unit_test(buf_refuses_to_pass_its_cap),
	    cmocka_unit_test(buf_detach_hands_over),
	};

	return cmocka_run_group_tests_name("buf", tests, NULL, NULL);
}
