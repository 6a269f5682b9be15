#ifndef FORESIGHT_BASE_JSONTEXT_H
#define FORESIGHT_BASE_JSONTEXT_H

/*
 * Parsing JSON text with a tokener kept by each thread for its next parse.
 *
 * json-c's json_tokener_parse() makes and frees a tokener per call, and a
 * tokener's stack is a kilobyte: a request glibc serves by first merging
 * every free small chunk (malloc_consolidate). At thousands of small parses
 * a second (cached objects, Prometheus answers, watch events) that was the
 * largest single cost of the operator's CPU. A kept tokener costs nothing
 * per parse.
 *
 *	enum json_tokener_error jerr;
 *	json_object *v;
 *	switch (jsontext_parse(&v, NULL, &jerr, body, len)) {
 *	case FS_OK: ... json_object_put(v); break;
 *	case FS_EPARSE: ... json_tokener_error_desc(jerr) ...
 *	}
 *
 * A thread's tokener is freed when the thread exits; one that parsed more
 * than JSONTEXT_KEEP_MAX bytes is freed at once, so what a thread keeps
 * stays small whatever it once parsed.
 */

#include <json-c/json.h>
#include <stddef.h>

#include "base/result.h"

#define JSONTEXT_KEEP_MAX (64 * 1024)

/*
 * Parses the first JSON value in the `len` bytes of `text` (which need not
 * be NUL-terminated) into `*out`, the caller's (json_object_put; NULL for
 * JSON null). When `end` is not NULL it receives how many bytes the value
 * took: trailing text is not read, so a caller that wants nothing after
 * the value compares it with `len`. FS_EPARSE with the reason in `*error`
 * when the text is not JSON (json_tokener_continue: it ends before the
 * value does), FS_ENOMEM when out of memory; `*out` is NULL then. Sets no
 * message: the caller knows what it was parsing.
 */
enum fs_rc jsontext_parse(json_object **out, size_t *end, enum json_tokener_error *error,
                          const char *text, size_t len);

/* As json_tokener_parse: the JSON value a NUL-terminated string begins with, or NULL. */
json_object *jsontext_parse_str(const char *text);

#endif
