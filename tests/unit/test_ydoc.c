/* Unit tests of YAML documents (operator/base/ydoc). */

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

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

static void ydoc_converts_to_json_as_kubernetes_reads_yaml(void **state)
{
	const char *text = "spec:\n  minReplicas: 2\n  quantile: 0.95\n  name: \"007\"\n"
	                   "  plain: 1m\n  on: true\n  off: false\n  none: ~\n"
	                   "  list: [1, two, 3.5]\n  hex: 0x10\n  big: -12\n";
	struct ydoc doc;
	json_object *o, *spec, *v;

	(void)state;
	assert_int_equal(ydoc_parse(&doc, "m.yaml", text, strlen(text), NULL), FS_OK);
	assert_int_equal(ydoc_to_json(&o, &doc, ydoc_root(&doc), NULL), FS_OK);
	assert_true(json_object_object_get_ex(o, "spec", &spec));
	assert_true(json_object_object_get_ex(spec, "minReplicas", &v));
	assert_true(json_object_is_type(v, json_type_int));
	assert_int_equal(json_object_get_int(v), 2);
	assert_true(json_object_object_get_ex(spec, "quantile", &v));
	assert_true(json_object_is_type(v, json_type_double));
	assert_true(json_object_get_double(v) == 0.95);
	assert_true(json_object_object_get_ex(spec, "name", &v));
	assert_string_equal(json_object_get_string(v), "007"); /* quoted: a string */
	assert_true(json_object_object_get_ex(spec, "plain", &v));
	assert_string_equal(json_object_get_string(v), "1m");
	assert_true(json_object_object_get_ex(spec, "on", &v));
	assert_true(json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(spec, "off", &v));
	assert_true(json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v));
	assert_true(json_object_object_get_ex(spec, "none", &v));
	assert_null(v);
	assert_true(json_object_object_get_ex(spec, "list", &v));
	assert_int_equal(json_object_array_length(v), 3);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(v, 1)), "two");
	assert_true(json_object_object_get_ex(spec, "hex", &v));
	assert_string_equal(json_object_get_string(v), "0x10");
	assert_true(json_object_object_get_ex(spec, "big", &v));
	assert_int_equal(json_object_get_int(v), -12);
	json_object_put(o);
	ydoc_release(&doc);
}

static void ydoc_finds_the_line_of_a_field_path(void **state)
{
	const char *text = "kind: X\nspec:\n  metrics:\n  - name: a\n    query: up\n"
	                   "  - name: b\n    query: down\n  minReplicas: 3\n";
	struct ydoc doc;
	yaml_node_t *root;

	(void)state;
	assert_int_equal(ydoc_parse(&doc, "m.yaml", text, strlen(text), NULL), FS_OK);
	root = ydoc_root(&doc);
	assert_int_equal(ydoc_line(ydoc_find_path(&doc, root, "spec.metrics[1].query")), 7);
	assert_int_equal(ydoc_line(ydoc_find_path(&doc, root, "spec.minReplicas")), 8);
	/* A missing field points at the deepest part that exists. */
	assert_int_equal(ydoc_line(ydoc_find_path(&doc, root, "spec.metrics[1].target")), 6);
	assert_int_equal(ydoc_line(ydoc_find_path(&doc, root, "spec.metrics[7].query")), 4);
	assert_int_equal(ydoc_line(ydoc_find_path(&doc, root, "spec.maxReplicas")), 3);
	ydoc_release(&doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(ydoc_reads_nodes_with_lines),
	    cmocka_unit_test(ydoc_reports_syntax_errors_with_position),
	    cmocka_unit_test(ydoc_converts_to_json_as_kubernetes_reads_yaml),
	    cmocka_unit_test(ydoc_finds_the_line_of_a_field_path),
	};

	return cmocka_run_group_tests_name("ydoc", tests, NULL, NULL);
}
