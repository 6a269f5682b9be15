#ifndef FORESIGHT_KUBE_WORKQUEUE_H
#define FORESIGHT_KUBE_WORKQUEUE_H

/*
 * The controller's work queue, in the manner of client-go's rate-limited
 * work queue: informers add the keys ("namespace/name") of objects that
 * changed, and a bounded pool of workers reconciles them.
 *
 * It guarantees what a reconciler relies on:
 *  - a key is held once: adding a key already waiting does nothing;
 *  - a key is never processed by two workers at once: a key added while it
 *    is being processed is marked dirty and queued again only at wq_done;
 *  - a key can wait for a time (wq_add_after, for periodic re-evaluation)
 *    or for its own exponential backoff (wq_add_rate_limited, for retries);
 *    a key waiting twice keeps the earlier time;
 *  - the number of distinct keys held (ready, waiting or processing) is
 *    capped, so a flood of events cannot grow memory without bound.
 *
 * Every function is safe to call from any thread. Keys are copied in.
 *
 *	struct wq *q;
 *	if (wq_new(&q, NULL, &err) != FS_OK) ...
 *	wq_start_workers(q, 4, reconcile, ctx, &err);  // reconcile(ctx, "ns/name")
 *	wq_add(q, "default/web", &err);                // from the informer
 *	...
 *	wq_stop_workers(q);                            // waits for handlers in flight
 *	wq_free(q);
 *
 * Or by hand, with the same loop the workers run:
 *
 *	char *key;
 *	while (wq_get(q, &key)) {
 *		if (reconcile(ctx, key) == FS_OK)
 *			wq_forget(q, key);
 *		else
 *			wq_add_rate_limited(q, key, NULL);
 *		wq_done(q, key);
 *		free(key);
 *	}
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/result.h"

#define WQ_KEY_MAX 512 /* the longest key accepted, in bytes */

struct wq;

struct wq_opts {
	uint32_t base_delay_ms; /* per-key backoff start; default 5 */
	uint32_t max_delay_ms;  /* per-key backoff cap; default 300 000 (5 min) */
	size_t max_items;       /* cap on distinct keys held; default 100 000 */
};

/*
 * What a worker runs for each key. FS_OK forgets the key's failures; any
 * other code re-queues the key after its backoff. The handler logs its own
 * error details: the pool logs only the key and the code.
 */
typedef enum fs_rc (*wq_handler)(void *ctx, const char *key);

/* Fills `opts` with the defaults. */
void wq_opts_init(struct wq_opts *opts);

/*
 * Creates an empty queue. `opts` may be NULL for the defaults; a zero field
 * takes its default. Free with wq_free.
 */
enum fs_rc wq_new(struct wq **out, const struct wq_opts *opts, struct fs_err *err);

/*
 * Stops the workers if they still run (as wq_stop_workers) and frees the
 * queue and every key in it. Callers of wq_get on their own threads must
 * have returned first. NULL is a no-op.
 */
void wq_free(struct wq *q);

/*
 * Queues `key` now, unless it is already queued; a key being processed is
 * queued again at its wq_done. FS_EINVAL for an empty key or one longer than
 * WQ_KEY_MAX, FS_ETOOLARGE when the queue already holds max_items other
 * keys, FS_ECANCELED after wq_shutdown.
 */
enum fs_rc wq_add(struct wq *q, const char *key, struct fs_err *err);

/*
 * Queues `key` once `delay_ms` has passed (0: now, as wq_add). A key already
 * waiting keeps the earlier of its two times. Errors as wq_add.
 */
enum fs_rc wq_add_after(struct wq *q, const char *key, uint32_t delay_ms, struct fs_err *err);

/*
 * Counts a failure of `key` and queues it after its backoff delay:
 * base_delay * 2^failures (failures before this call), capped at
 * max_delay, jittered within [d/2, d] (see base/backoff.h). Errors as
 * wq_add; a refused call counts no failure.
 */
enum fs_rc wq_add_rate_limited(struct wq *q, const char *key, struct fs_err *err);

/*
 * Resets the failures of `key`, after it was processed successfully. A key
 * with failures keeps a small record in the queue until forgotten.
 */
void wq_forget(struct wq *q, const char *key);

/* How many failures of `key` were counted since it was last forgotten. */
uint32_t wq_failures(struct wq *q, const char *key);

/*
 * Waits until a key is ready and hands it out, marked as processing: the
 * caller owns *key, must free() it, and must call wq_done for it. Returns
 * false, with *key untouched, once the queue is shut down.
 */
bool wq_get(struct wq *q, char **key);

/* Ends the processing of `key`; queues it again if it was added meanwhile. */
void wq_done(struct wq *q, const char *key);

/*
 * Stops the queue: adds fail with FS_ECANCELED, keys ready or waiting are
 * dropped, and every wq_get (blocked or later) returns false. Keys being
 * processed are unaffected until their wq_done. Idempotent.
 */
void wq_shutdown(struct wq *q);

/* How many keys are ready now (not waiting for a time, not processing). */
size_t wq_len(struct wq *q);

/*
 * Starts `n` worker threads that loop: take a key, run fn(ctx, key), forget
 * it on FS_OK or re-queue it rate-limited otherwise (logged at warn), done.
 * One pool per queue: FS_EINVAL if one already runs, FS_ECANCELED after
 * wq_shutdown. On failure no worker is left running.
 */
enum fs_rc wq_start_workers(struct wq *q, unsigned n, wq_handler fn, void *ctx, struct fs_err *err);

/*
 * Shuts the queue down (as wq_shutdown), lets handlers in flight finish and
 * joins every worker. Call it from one thread, not from a handler. A no-op
 * when no pool runs.
 */
void wq_stop_workers(struct wq *q);

#endif
