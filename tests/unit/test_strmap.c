/* Unit tests of the string hash map (operator/base/strmap). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/strmap.h"

static void count_entries(void *ctx, const char *key, void *value)
{
	(void)key;
	(void)value;
	(*(size_t *)ctx)++;
}

static void puts_gets_replaces_and_removes(void **state)
{
	struct strmap m;
	void *old = (void *)1;
	int a = 1, b = 2;

	(void)state;
	strmap_init(&m);
	assert_null(strmap_get(&m, "x"));
	assert_int_equal(strmap_put(&m, "ns/a", &a, &old, NULL), FS_OK);
	assert_null(old);
	assert_ptr_equal(strmap_get(&m, "ns/a"), &a);
	assert_int_equal(strmap_put(&m, "ns/a", &b, &old, NULL), FS_OK);
	assert_ptr_equal(old, &a);
	assert_ptr_equal(strmap_get(&m, "ns/a"), &b);
	assert_int_equal(m.len, 1);
	assert_ptr_equal(strmap_remove(&m, "ns/a"), &b);
	assert_null(strmap_remove(&m, "ns/a"));
	assert_int_equal(m.len, 0);
	strmap_release(&m, NULL);
}

static void grows_to_many_keys(void **state)
{
	struct strmap m;
	char key[32];
	size_t seen = 0;

	(void)state;
	strmap_init(&m);
	for (int i = 0; i < 5000; i++) {
		int *v = malloc(sizeof(*v));

		*v = i;
		snprintf(key, sizeof(key), "ns/obj-%d", i);
		assert_int_equal(strmap_put(&m, key, v, NULL, NULL), FS_OK);
	}
	assert_int_equal(m.len, 5000);
	for (int i = 0; i < 5000; i += 7) {
		snprintf(key, sizeof(key), "ns/obj-%d", i);
		assert_int_equal(*(int *)strmap_get(&m, key), i);
	}
	strmap_foreach(&m, count_entries, &seen);
	assert_int_equal(seen, 5000);
	strmap_release(&m, free);
	assert_int_equal(m.len, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(puts_gets_replaces_and_removes),
	    cmocka_unit_test(grows_to_many_keys),
	};

	return cmocka_run_group_tests_name("strmap", tests, NULL, NULL);
}
