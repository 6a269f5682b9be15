/* Unit tests of base64 (operator/base/base64). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"

static void base64_round_trips(void **state)
{
	const char *cases[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
	const char *encoded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *enc = b64_encode(cases[i], strlen(cases[i]));
		char *dec;
		size_t len;

		assert_string_equal(enc, encoded[i]);
		assert_int_equal(b64_decode(&dec, &len, enc, NULL), FS_OK);
		assert_int_equal(len, strlen(cases[i]));
		assert_memory_equal(dec, cases[i], len);
		free(enc);
		free(dec);
	}
}

static void base64_rejects_garbage(void **state)
{
	char *out = NULL;
	size_t len;
	struct fs_err err;

	(void)state;
	assert_int_equal(b64_decode(&out, &len, "Zm9v\nYmFy\n", &err), FS_OK);
	assert_string_equal(out, "foobar");
	free(out);
	assert_int_equal(b64_decode(&out, &len, "Zm9*", &err), FS_EPARSE);
	assert_non_null(strstr(err.msg, "offset 3"));
	assert_int_equal(b64_decode(&out, &len, "Zg=x", &err), FS_EPARSE);
	assert_int_equal(b64_decode(&out, &len, "Z", &err), FS_EPARSE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(base64_round_trips),
	    cmocka_unit_test(base64_rejects_garbage),
	};

	return cmocka_run_group_tests_name("base64", tests, NULL, NULL);
}
