/* Unit tests of YAML documents (operator/base/ydoc). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/ydoc.h"

static void ydoc_reads_nodes_with_lines(void **state)
{
	const char *text = "a: 1\nlist:\n  - x\n  - y\nflag: Yes\nempty:\n";
	struct ydoc doc;
	yaml_node_t *root, *list;
	bool b = false;

	(void)state;
	assert_int_equal(ydoc_parse(&doc, "t.yaml", text, strlen(text), NULL), FS_OK);
	root = ydoc_root(&doc);
	assert_string_equal(ydoc_str(ydoc_get(&doc, root, "a")), "1");
	list = ydoc_get(&doc, root, "list");
	assert_int_equal(ydoc_seq_len(list), 2);
	assert_string_equal(ydoc_str(ydoc_seq_at(&doc, list, 1)), "y");
	assert_int_equal(ydoc_line(ydoc_seq_at(&doc, list, 1)), 4);
	assert_true(ydoc_bool(&b, ydoc_get(&doc, root, "flag")));
	assert_true(b);
	assert_true(ydoc_is_null(ydoc_get(&doc, root, "empty")));
	assert_true(ydoc_is_null(ydoc_get(&doc, root, "missing")));
	assert_null(ydoc_str(list));
	ydoc_release(&doc);
}

static void ydoc_reports_syntax_errors_with_position(void **state)
{
	const char *text = "a: 1\nb: [unclosed\n";
	struct ydoc doc;
	struct fs_err err;

	(void)state;
	assert_int_equal(ydoc_parse(&doc, "bad.yaml", text, strlen(text), &err), FS_EPARSE);
	assert_non_null(strstr(err.msg, "bad.yaml:3:"));
	ydoc_release(&doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ydoc_reads_nodes_with_lines),
	    cmocka_unit_test(ydoc_reports_syntax_errors_with_position),
	};

	return cmocka_run_group_tests_name("ydoc", tests, NULL, NULL);
}
