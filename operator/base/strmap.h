#ifndef FORESIGHT_BASE_STRMAP_H
#define FORESIGHT_BASE_STRMAP_H

/*
 * A hash map from strings to pointers (chained, grows by doubling), for
 * caches keyed by "namespace/name". The map copies keys; values are the
 * caller's, and `strmap_release` hands each to a free function if one is
 * given. Not locked: callers that share one guard it themselves.
 *
 *	struct strmap m;
 *	strmap_init(&m);
 *	strmap_put(&m, "ns/web", obj, &old);   // old: the value replaced, or NULL
 *	void *v = strmap_get(&m, "ns/web");
 *	strmap_release(&m, free);
 */

#include <stdbool.h>
#include <stddef.h>

#include "base/result.h"

struct strmap_entry {
	struct strmap_entry *next;
	size_t hash;
	void *value;
	char key[]; /* NUL-terminated copy */
};

struct strmap {
	struct strmap_entry **buckets;
	size_t nbuckets;
	size_t len;
};

void strmap_init(struct strmap *m);

/* Frees the map's entries, calling `free_value` (may be NULL) on each value. */
void strmap_release(struct strmap *m, void (*free_value)(void *));

/* The value of `key`, or NULL. */
void *strmap_get(const struct strmap *m, const char *key);

/*
 * Sets `key` to `value`. *old (when `old` is not NULL) gets the value it
 * replaced, or NULL; that value is the caller's again. FS_ENOMEM leaves the
 * map unchanged.
 */
enum fs_rc strmap_put(struct strmap *m, const char *key, void *value, void **old,
                      struct fs_err *err);

/* Removes `key`; returns its value (the caller's again) or NULL if absent. */
void *strmap_remove(struct strmap *m, const char *key);

/* Calls `fn` for each entry in no particular order; fn must not change the map. */
void strmap_foreach(const struct strmap *m, void (*fn)(void *ctx, const char *key, void *value),
                    void *ctx);

#endif
