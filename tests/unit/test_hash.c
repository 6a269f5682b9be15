/* Unit tests of hash (operator/base/hash). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/hash.h"

/* The published FNV-1a 64-bit test vectors. */
static void hash_matches_fnv1a(void **state)
{
	(void)state;
	assert_true(hash_str(HASH_SEED, "") == 0xcbf29ce484222325ULL);
	assert_true(hash_str(HASH_SEED, "a") == 0xaf63dc4c8601ec8cULL);
	assert_true(hash_str(HASH_SEED, "foobar") == 0x85944171f73967e8ULL);
	assert_true(hash_mem(HASH_SEED, "foobar", 6) == 0x85944171f73967e8ULL);
}

/* Chained, the parts hash as the whole; a NUL counts in hash_mem only. */
static void hash_chains(void **state)
{
	uint64_t h;

	(void)state;
	h = hash_str(HASH_SEED, "foo");
	h = hash_byte(h, 'b');
	assert_true(hash_mem(h, "ar", 2) == hash_str(HASH_SEED, "foobar"));
	assert_true(hash_mem(HASH_SEED, "a\0b", 3) != hash_str(HASH_SEED, "ab"));
	assert_true(hash_mem(HASH_SEED, "a", 0) == HASH_SEED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(hash_matches_fnv1a),
	    cmocka_unit_test(hash_chains),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
