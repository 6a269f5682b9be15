/* Unit tests of JSON parsing with a kept tokener (operator/base/jsontext). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/jsontext.h"

static int64_t field(json_object *o, const char *key)
{
	json_object *v;

	assert_true(json_object_object_get_ex(o, key, &v));
	return json_object_get_int64(v);
}

/* The kept tokener starts clean each time: a failed parse leaves nothing behind. */
static void parses_again_after_a_failure(void **state)
{
	enum json_tokener_error jerr;
	json_object *v;
	size_t end;

	(void)state;
	assert_int_equal(jsontext_parse(&v, &end, &jerr, "{\"a\":1", 6), FS_EPARSE);
	assert_null(v);
	assert_int_equal(jerr, json_tokener_continue);
	assert_int_equal(jsontext_parse(&v, NULL, &jerr, "{\"a\":]", 6), FS_EPARSE);
	assert_null(v);
	assert_int_not_equal(jerr, json_tokener_success);
	assert_int_not_equal(jerr, json_tokener_continue);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(jsontext_parse(&v, &end, &jerr, "{\"b\":2}", 7), FS_OK);
		assert_non_null(v);
		assert_int_equal(jerr, json_tokener_success);
		assert_int_equal(end, 7);
		assert_int_equal(field(v, "b"), 2);
		json_object_put(v);
	}
}

static void says_where_the_value_ends(void **state)
{
	enum json_tokener_error jerr;
	const char *text = "{\"c\":3}{\"d\":4}";
	json_object *v;
	size_t end;

	(void)state;
	/* Not NUL-terminated where it stops: only `len` bytes are read. */
	assert_int_equal(jsontext_parse(&v, &end, &jerr, text, strlen(text)), FS_OK);
	assert_non_null(v);
	assert_int_equal(end, 7);
	assert_int_equal(field(v, "c"), 3);
	json_object_put(v);
	assert_int_equal(jsontext_parse(&v, &end, &jerr, text + 7, 7), FS_OK);
	assert_non_null(v);
	assert_int_equal(field(v, "d"), 4);
	json_object_put(v);
}

static void parses_strings_as_json_c_does(void **state)
{
	enum json_tokener_error jerr;
	json_object *v;

	(void)state;
	/* JSON null parses, to no object (the terminator ends the literal). */
	assert_int_equal(jsontext_parse(&v, NULL, &jerr, "null", 5), FS_OK);
	assert_null(v);
	assert_null(jsontext_parse_str(NULL));
	assert_null(jsontext_parse_str("{"));
	v = jsontext_parse_str("42");
	assert_non_null(v);
	assert_int_equal(json_object_get_int64(v), 42);
	json_object_put(v);
}

/* A text over the cap is parsed, and its tokener (with its grown buffer) not kept. */
static void parses_text_over_the_kept_cap(void **state)
{
	size_t n = JSONTEXT_KEEP_MAX * 2;
	char *text = malloc(n + 16);
	json_object *v;

	(void)state;
	assert_non_null(text);
	strcpy(text, "{\"s\":\"");
	memset(text + 6, 'x', n);
	strcpy(text + 6 + n, "\"}");
	v = jsontext_parse_str(text);
	assert_non_null(v);
	json_object_put(v);
	free(text);
	v = jsontext_parse_str("{\"e\":5}");
	assert_non_null(v);
	assert_int_equal(field(v, "e"), 5);
	json_object_put(v);
}

/* Each thread has its own tokener, freed when it ends (valgrind sees no leak). */
static void *parse_many(void *arg)
{
	long sum = 0;

	(void)arg;
	for (int i = 0; i < 1000; i++) {
		char text[32];
		json_object *v;

		snprintf(text, sizeof(text), "{\"i\":%d}", i);
		v = jsontext_parse_str(text);
		if (v)
			sum += (long)field(v, "i");
		json_object_put(v);
	}
	return (void *)sum;
}

static void threads_parse_side_by_side(void **state)
{
	pthread_t t[4];
	void *sum;

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, parse_many, NULL), 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &sum), 0);
		assert_int_equal((long)sum, 999L * 1000 / 2);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parses_again_after_a_failure),
	    cmocka_unit_test(says_where_the_value_ends),
	    cmocka_unit_test(parses_strings_as_json_c_does),
	    cmocka_unit_test(parses_text_over_the_kept_cap),
	    cmocka_unit_test(threads_parse_side_by_side),
	};

	return cmocka_run_group_tests_name("jsontext", tests, NULL, NULL);
}
