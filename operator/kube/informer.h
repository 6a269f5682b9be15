#ifndef FORESIGHT_KUBE_INFORMER_H
#define FORESIGHT_KUBE_INFORMER_H

/*
 * An informer keeps an in-memory copy of one kind of object (one collection,
 * optionally narrowed by label and field selectors) in step with the API
 * server, and tells the caller what changed, as client-go's reflector +
 * store + shared informer do:
 *
 *  - LIST page by page, then WATCH from the list's resourceVersion with
 *    bookmarks, resuming from the last resourceVersion seen;
 *  - on 410 Gone (an HTTP status or an ERROR event) LIST again and diff
 *    against the cache, so no add, update or delete is lost;
 *  - on any other failure, reconnect after a capped exponential backoff
 *    (200 ms to 5 s) — never a tight loop against a sick server;
 *  - every `resync_seconds`, on_update(obj, obj) for every cached object, so
 *    the caller re-evaluates periodically even when nothing changes.
 *
 * The cache holds each object as compact JSON text with metadata.managedFields
 * and the kubectl.kubernetes.io/last-applied-configuration annotation
 * stripped (they are large and of no use to a controller), keyed by
 * "namespace/name" ("name" for cluster-scoped kinds), and at most
 * `max_objects` of them.
 *
 *	struct kube_informer_opts o;
 *	kube_informer_opts_init(&o);
 *	o.path = "/apis/autoscaling.foresight.dev/v1alpha1/forecastscalers";
 *	struct kube_informer_handlers h = {.on_add = enqueue, .on_update = ..., .ctx = q};
 *	kube_informer_new(&inf, client, &o, &h, &err);
 *	kube_informer_start(inf, &err);
 *	kube_informer_wait_synced(inf, 30000);
 *	...
 *	kube_informer_free(inf);   // stops and joins its threads
 *
 * Handlers run on the informer's threads (the watch thread, and the resync
 * thread for resyncs), one call at a time, and must not block for long: the
 * usual handler enqueues the object's key on a work queue. Objects passed to
 * them are borrowed for the call.
 */

#include <json-c/json.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/result.h"
#include "kube/client.h"

struct kube_informer;

struct kube_informer_handlers {
	void (*on_add)(void *ctx, json_object *obj);
	void (*on_update)(void *ctx, json_object *old_obj, json_object *new_obj);
	void (*on_delete)(void *ctx, json_object *last_known);
	void *ctx;
};

struct kube_informer_opts {
	const char *path;           /* the collection, e.g. /api/v1/namespaces/ns/configmaps */
	const char *label_selector; /* NULL: all */
	const char *field_selector; /* NULL: all */
	unsigned page_size;         /* LIST page size; default 500 */
	unsigned resync_seconds;    /* 0: no resync */
	size_t max_objects;         /* cache cap; default 100 000 */
	size_t max_event_bytes;     /* cap on one watch event; default 16 MiB */
	const char *name;           /* for logs; default the path */
	/*
	 * NULL: objects are cached whole (but see above). Else a NULL-terminated
	 * list of dotted paths ("spec.replicas"): only those are cached, with
	 * metadata's name, namespace, uid, resourceVersion, generation and
	 * deletionTimestamp; a cache of many large objects of
	 * which a few fields are read stays small. Handlers still get whole objects.
	 */
	const char *const *keep;
	/*
	 * A LIST or WATCH answered 401 or 403 ends the informer instead of
	 * retrying (kube_informer_denied): for a cache the caller can do
	 * without, when its RBAC does not allow it.
	 */
	bool stop_when_denied;
};

void kube_informer_opts_init(struct kube_informer_opts *opts);

/*
 * Creates a stopped informer on `client` (borrowed: it must outlive the
 * informer). Copies `opts` and `handlers`.
 */
enum fs_rc kube_informer_new(struct kube_informer **out, struct kube_client *client,
                             const struct kube_informer_opts *opts,
                             const struct kube_informer_handlers *handlers, struct fs_err *err);

/* Starts the list+watch thread (and the resync thread when asked for). */
enum fs_rc kube_informer_start(struct kube_informer *inf, struct fs_err *err);

/* Waits until the first LIST has filled the cache; false on timeout or stop. */
bool kube_informer_wait_synced(struct kube_informer *inf, long timeout_ms);

/* True once the first LIST has filled the cache. */
bool kube_informer_synced(struct kube_informer *inf);

/*
 * True when the cache is synced and its last LIST or WATCH did not fail:
 * false from a failure until a LIST succeeds again. When false, says why
 * in `why` ("informer NAME: WATCH failed: ...").
 */
bool kube_informer_healthy(struct kube_informer *inf, char *why, size_t why_size);

/* True once stop_when_denied ended the informer: its cache is no longer kept. */
bool kube_informer_denied(struct kube_informer *inf);

/* Stops the threads and waits for them (in-flight handlers finish). */
void kube_informer_stop(struct kube_informer *inf);

/* Stops if running and frees everything. NULL is a no-op. */
void kube_informer_free(struct kube_informer *inf);

/* A parsed copy of the cached object `key`, the caller's (json_object_put); NULL if absent. */
json_object *kube_informer_get(struct kube_informer *inf, const char *key);

/*
 * What the cached object `key` is, read without parsing it: into *stamp a
 * value that changes whenever its metadata.uid or metadata.generation does
 * (its spec changed, or it was deleted and made again; a write of its
 * status changes neither), and its resourceVersion into `rv` (cut to
 * `rv_size`). False, and nothing written, when the cache has no `key`.
 */
bool kube_informer_stamp(uint64_t *stamp, char *rv, size_t rv_size, struct kube_informer *inf,
                         const char *key);

/*
 * Calls `fn` with the key, resourceVersion and JSON text of every cached
 * object, on a snapshot taken under the lock (so `fn` may call back into
 * the informer). Returns the number of objects.
 */
size_t kube_informer_foreach(struct kube_informer *inf,
                             void (*fn)(void *ctx, const char *key, const char *rv,
                                        const char *json),
                             void *ctx);

/* The number of cached objects. */
size_t kube_informer_len(struct kube_informer *inf);

struct kube_informer_stats {
	unsigned long lists;        /* complete LISTs (the first included) */
	unsigned long relists_gone; /* LISTs forced by 410 Gone */
	unsigned long watches;      /* WATCH requests started */
	unsigned long failures;     /* LIST or WATCH failures that led to a backoff */
	unsigned long events;       /* watch events applied (bookmarks excluded) */
	unsigned long resyncs;      /* resync rounds */
	unsigned long dropped;      /* objects not cached because of max_objects */
};

void kube_informer_stats(struct kube_informer_stats *out, struct kube_informer *inf);

/* The cache key of an object: "namespace/name", or "name" when it has no namespace. */
enum fs_rc kube_object_key(char *out, size_t size, json_object *obj, struct fs_err *err);

#endif
