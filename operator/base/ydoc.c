#include "base/ydoc.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"

enum fs_rc ydoc_parse(struct ydoc *doc, const char *name, const char *text, size_t len,
                      struct fs_err *err)
{
	yaml_parser_t parser;
	enum fs_rc rc = FS_OK;

	memset(doc, 0, sizeof(*doc));
	doc->name = strdup(name);
	if (!doc->name)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	if (!yaml_parser_initialize(&parser))
		return fs_fail(err, FS_ENOMEM, "out of memory starting the YAML parser");
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc->doc)) {
		rc = fs_fail(err, FS_EPARSE, "%s:%zu:%zu: %s%s%s", name,
		             parser.problem_mark.line + 1, parser.problem_mark.column + 1,
		             parser.problem ? parser.problem : "invalid YAML",
		             parser.context ? " " : "", parser.context ? parser.context : "");
		goto out;
	}
	doc->loaded = true;
out:
	yaml_parser_delete(&parser);
	return rc;
}

enum fs_rc ydoc_load_file(struct ydoc *doc, const char *path, size_t max, struct fs_err *err)
{
	struct buf b;
	char chunk[8192];
	size_t n;
	FILE *f;
	enum fs_rc rc = FS_OK;

	memset(doc, 0, sizeof(*doc));
	buf_init(&b, max);
	f = fopen(path, "rb");
	if (!f)
		return fs_fail(err, FS_EIO, "%s: %s", path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		rc = buf_append(&b, chunk, n, err);
		if (rc != FS_OK) {
			fs_wrap(err, rc, "%s", path);
			goto out;
		}
	}
	if (ferror(f)) {
		rc = fs_fail(err, FS_EIO, "%s: read error", path);
		goto out;
	}
	rc = ydoc_parse(doc, path, b.data ? b.data : "", b.len, err);
out:
	fclose(f);
	buf_release(&b);
	return rc;
}

void ydoc_release(struct ydoc *doc)
{
	if (doc->loaded)
		yaml_document_delete(&doc->doc);
	free(doc->name);
	memset(doc, 0, sizeof(*doc));
}

yaml_node_t *ydoc_root(struct ydoc *doc)
{
	return doc->loaded ? yaml_document_get_root_node(&doc->doc) : NULL;
}

yaml_node_t *ydoc_get(struct ydoc *doc, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *k = ydoc_str(yaml_document_get_node(&doc->doc, p->key));

		if (k && strcmp(k, key) == 0)
			return yaml_document_get_node(&doc->doc, p->value);
	}
	return NULL;
}

const char *ydoc_str(yaml_node_t *node)
{
	if (!node || node->type != YAML_SCALAR_NODE)
		return NULL;
	/* An embedded NUL would silently cut the value short: refuse it. */
	if (strlen((const char *)node->data.scalar.value) != node->data.scalar.length)
		return NULL;
	return (const char *)node->data.scalar.value;
}

size_t ydoc_seq_len(yaml_node_t *node)
{
	if (!node || node->type != YAML_SEQUENCE_NODE)
		return 0;
	return (size_t)(node->data.sequence.items.top - node->data.sequence.items.start);
}

yaml_node_t *ydoc_seq_at(struct ydoc *doc, yaml_node_t *seq, size_t i)
{
	if (i >= ydoc_seq_len(seq))
		return NULL;
	return yaml_document_get_node(&doc->doc, seq->data.sequence.items.start[i]);
}

int ydoc_line(yaml_node_t *node)
{
	return node ? (int)node->start_mark.line + 1 : 0;
}

bool ydoc_bool(bool *out, yaml_node_t *node)
{
	static const char *const yes[] = {"true", "yes", "on"};
	static const char *const no[] = {"false", "no", "off"};
	const char *s = ydoc_str(node);

	if (!s)
		return false;
	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return true;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return true;
		}
	}
	return false;
}

bool ydoc_is_null(yaml_node_t *node)
{
	const char *s;

	if (!node)
		return true;
	if (node->type != YAML_SCALAR_NODE || node->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	s = ydoc_str(node);
	return s && (s[0] == '\0' || strcmp(s, "~") == 0 || strcasecmp(s, "null") == 0);
}

/* Whether a plain scalar is YAML's null (json-c's null is a NULL object). */
static bool plain_null(const char *v)
{
	return *v == '\0' || strcmp(v, "~") == 0 || strcasecmp(v, "null") == 0;
}

/* A plain scalar as JSON: integer, float, boolean, or else a string. */
static json_object *plain_scalar(const char *v)
{
	char *end;
	long long i;
	double d;

	if (strcmp(v, "true") == 0 || strcmp(v, "True") == 0 || strcmp(v, "TRUE") == 0)
		return json_object_new_boolean(1);
	if (strcmp(v, "false") == 0 || strcmp(v, "False") == 0 || strcmp(v, "FALSE") == 0)
		return json_object_new_boolean(0);
	if (isdigit((unsigned char)*v) ||
	    ((*v == '-' || *v == '+') && isdigit((unsigned char)v[1]))) {
		errno = 0;
		i = strtoll(v, &end, 10);
		if (*end == '\0' && errno == 0)
			return json_object_new_int64(i);
		errno = 0;
		d = strtod(v, &end);
		if (*end == '\0' && errno == 0 && isfinite(d) && !strchr(v, 'x') && !strchr(v, 'X'))
			return json_object_new_double(d);
	}
	return json_object_new_string(v);
}

enum fs_rc ydoc_to_json(struct json_object **out, struct ydoc *doc, yaml_node_t *node,
                        struct fs_err *err)
{
	json_object *o = NULL;
	enum fs_rc rc = FS_OK;

	*out = NULL;
	if (!node)
		return FS_OK;
	if (node->type == YAML_SCALAR_NODE) {
		const char *v = (const char *)node->data.scalar.value;
		bool plain = node->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;

		if (plain && plain_null(v))
			return FS_OK;
		o = plain ? plain_scalar(v) : json_object_new_string(v);
	} else if (node->type == YAML_SEQUENCE_NODE) {
		o = json_object_new_array();
		for (yaml_node_item_t *it = node->data.sequence.items.start;
		     o && it < node->data.sequence.items.top; it++) {
			json_object *item;

			rc = ydoc_to_json(&item, doc, yaml_document_get_node(&doc->doc, *it), err);
			if (rc != FS_OK)
				goto out;
			json_object_array_add(o, item);
		}
	} else if (node->type == YAML_MAPPING_NODE) {
		o = json_object_new_object();
		for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
		     o && p < node->data.mapping.pairs.top; p++) {
			yaml_node_t *key = yaml_document_get_node(&doc->doc, p->key);
			const char *k = ydoc_str(key);
			json_object *value;

			if (!k) {
				rc =
				    fs_fail(err, FS_EINVAL, "%s:%d: a mapping key must be a string",
				            doc->name, ydoc_line(key));
				goto out;
			}
			rc = ydoc_to_json(&value, doc, yaml_document_get_node(&doc->doc, p->value),
			                  err);
			if (rc != FS_OK)
				goto out;
			json_object_object_add(o, k, value);
		}
	}
	if (!o) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory converting %s to JSON", doc->name);
		goto out;
	}
	*out = o;
	o = NULL;
out:
	json_object_put(o);
	return rc;
}

yaml_node_t *ydoc_find_path(struct ydoc *doc, yaml_node_t *root, const char *path)
{
	yaml_node_t *at = root;
	const char *p = path;

	while (at && *p) {
		char key[128];
		size_t n = strcspn(p, ".[");
		yaml_node_t *next;

		if (n >= sizeof(key))
			break;
		memcpy(key, p, n);
		key[n] = '\0';
		p += n;
		next = n ? ydoc_get(doc, at, key) : at;
		if (!next)
			break;
		at = next;
		while (*p == '[') {
			char *end;
			unsigned long i = strtoul(p + 1, &end, 10);

			if (*end != ']' || !(next = ydoc_seq_at(doc, at, i)))
				return at;
			at = next;
			p = end + 1;
		}
		if (*p == '.')
			p++;
	}
	return at;
}
