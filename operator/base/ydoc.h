#ifndef FORESIGHT_BASE_YDOC_H
#define FORESIGHT_BASE_YDOC_H

/*
 * A loaded YAML document (libyaml's node tree) with the lookups the code
 * needs and the line numbers that error messages need: every node knows the
 * line it started on, so a bad field is reported as `file:line: field`.
 *
 *	struct ydoc doc;
 *	if (ydoc_load_file(&doc, path, 1 << 20, &err) != FS_OK) ...
 *	yaml_node_t *server = ydoc_get(&doc, cluster, "server");
 *	const char *s = ydoc_str(server);   // NULL unless a scalar
 *	ydoc_release(&doc);
 */

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "base/result.h"

struct ydoc {
	yaml_document_t doc;
	bool loaded; /* false for an empty stream: root is then NULL */
	char *name;  /* the file name (or a label) used in messages */
};

/*
 * Parses the first document of `text` (`len` bytes). `name` labels messages
 * (a path or "<stdin>"). Syntax errors are FS_EPARSE with name:line:column.
 * Release with ydoc_release, also after a failure.
 */
enum fs_rc ydoc_parse(struct ydoc *doc, const char *name, const char *text, size_t len,
                      struct fs_err *err);

/* Reads `path` (at most `max` bytes, else FS_ETOOLARGE) and parses it. */
enum fs_rc ydoc_load_file(struct ydoc *doc, const char *path, size_t max, struct fs_err *err);

void ydoc_release(struct ydoc *doc);

/* The root node, or NULL for an empty document. */
yaml_node_t *ydoc_root(struct ydoc *doc);

/* The value of `key` in a mapping node; NULL when absent or `map` is no mapping. */
yaml_node_t *ydoc_get(struct ydoc *doc, yaml_node_t *map, const char *key);

/* The text of a scalar node (NUL-terminated, owned by the document); NULL otherwise. */
const char *ydoc_str(yaml_node_t *node);

/* The number of items of a sequence node (0 for anything else). */
size_t ydoc_seq_len(yaml_node_t *node);

/* Item `i` of a sequence node, NULL when out of range. */
yaml_node_t *ydoc_seq_at(struct ydoc *doc, yaml_node_t *seq, size_t i);

/* The 1-based line a node starts on (0 for NULL). */
int ydoc_line(yaml_node_t *node);

/*
 * Parses a YAML boolean scalar (true/false, yes/no, on/off in any case).
 * Returns false when the node is not one, leaving *out untouched.
 */
bool ydoc_bool(bool *out, yaml_node_t *node);

/* True for a null node (`~`, `null`, empty) or NULL. */
bool ydoc_is_null(yaml_node_t *node);

/*
 * Converts the subtree at `node` into JSON (json-c), as Kubernetes reads a
 * YAML manifest: plain scalars that read as integers, floats, booleans
 * (true/false) or null become those; quoted scalars and everything else are
 * strings. Mapping keys must be scalars. *out gets a new object the caller
 * puts with json_object_put (NULL for a null node: json-c's null). FS_EINVAL
 * names the line of a non-scalar key; FS_ENOMEM.
 */
struct json_object;
enum fs_rc ydoc_to_json(struct json_object **out, struct ydoc *doc, yaml_node_t *node,
                        struct fs_err *err);

/*
 * The node a field path names, as error messages spell it:
 * "spec.metrics[1].query" from `root`. When the path runs out early, the
 * deepest node found (so a missing field points at its parent). Never NULL
 * when root is not NULL.
 */
yaml_node_t *ydoc_find_path(struct ydoc *doc, yaml_node_t *root, const char *path);

#endif
