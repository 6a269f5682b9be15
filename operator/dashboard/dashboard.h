#ifndef FORESIGHT_DASHBOARD_DASHBOARD_H
#define FORESIGHT_DASHBOARD_DASHBOARD_H

/*
 * The dashboard's snapshot store: what the control loop publishes after
 * each evaluation, kept for the last hours, and handed to the HTTP thread
 * as immutable JSON messages. No I/O; one short lock of its own, so the
 * HTTP thread never waits for the controller and the controller never
 * waits for a browser.
 *
 * Per scaler it keeps the latest status (mode, replicas, limitedBy, the
 * decision's sentence, the conditions), rendered, and a ring of at most
 * `points` chart points: the first metric's observed load, its forecast one
 * lead time ahead with the band, and the capacity the replicas provide. The
 * rings are allocated as they fill (doubling), so a young scaler or one
 * evaluated rarely holds the points it has, not `points`. A point is kept
 * in 20 bytes, as precise as a chart needs (below). Until
 * the ring is full every evaluation is a point; when it fills before it
 * covers `window_s`, every other point is dropped and the spacing between
 * points doubles (up to window_s / points), so a scaler evaluated every 2 s
 * shows its last hours, not its last 24 minutes. The newest point is
 * replaced, not appended, until it is `spacing` after the one before it:
 * the chart stays live between points. Scale events (and, in a dry run,
 * the scales it would make) go to a ring of `events` per scaler. Budgets
 * are kept as a summary each.
 *
 * Every change is a message with a sequence number, kept in a ring of the
 * last `updates`; dash_snapshot renders the whole state (cached until the
 * next change). A client starts from a snapshot and then applies every
 * message with a larger sequence number (dash_updates); when the ring has
 * moved past it (`gap`), it starts again from a snapshot.
 *
 * The messages (JSON, one object each; a point is the array
 * [t, load, forecast, upper, lower, leadTime, capacity, replicas, desired],
 * an event [t, from, to, applied] with applied 0 for a dry run's "would
 * scale"; numbers that are not known, or infinite, are null. A point's t is
 * in hundredths of a second; its load, forecast, upper, lower, leadTime and
 * capacity are within 0.1 % (2^-10) of the value from 1.2e-7 to 1.1e12 in
 * magnitude (smaller ones in steps of 2.3e-10, larger ones as 1.1e12); its
 * replicas and desired are at most 65535 (the status has the numbers as published):
 *   {"type":"state","seq":N,"caps":{"points","events","windowSeconds"},
 *    "scalers":[SCALER...],"budgets":[BUDGET...]}
 *   {"type":"scaler","seq":N,"scaler":SCALER}   a new scaler, its points thinned or
 *                                               restarted (a point 248 days from one kept)
 *   {"type":"sample","seq":N,"key":K,"status":{...},"point":P,"replace":B[,"event":E]}
 *   {"type":"forget","seq":N,"key":K}
 *   {"type":"budget","seq":N,"budget":BUDGET}
 *   {"type":"forgetBudget","seq":N,"key":K}
 * with SCALER = {"key","namespace","name","spacing","status":{...},"points":[P...],
 * "events":[E...]}.
 *
 *	struct dash *d;
 *	dash_new(&d, NULL, &err);                      // default caps
 *	dash_subscribe(d, wake, srv);                  // called after every change
 *	... the control loop, after each evaluation:
 *	dash_publish(d, "shop/web", &sample, NULL);
 *	... the HTTP thread:
 *	struct dash_msg *m = dash_snapshot(d);         // NULL when out of memory
 *	send(m->data, m->len); seq = m->seq; dash_msg_unref(m);
 *	n = dash_updates(msgs, 16, &gap, d, seq);      // after `seq`, oldest first
 */

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/result.h"

#define DASH_KEY_MAX 512 /* "namespace/name" */
/*
 * dash_snapshot may answer with a state up to this many messages old (the
 * reader catches up with dash_updates): clients that connect together share
 * one rendering instead of holding one each.
 */
#define DASH_SNAPSHOT_STALE_MAX 32
#define DASH_CONDITIONS_MAX     12

struct dash;

struct dash_opts {
	size_t points;   /* chart points per scaler; default 720 */
	double window_s; /* what the points should cover; default 6 h */
	size_t events;   /* scale events per scaler; default 64 */
	size_t scalers;  /* scalers kept; past it new ones are refused; default 256 */
	size_t budgets;  /* budgets kept; default 64 */
	size_t updates;  /* messages kept for clients catching up (while any is there); 1024 */
};

void dash_opts_init(struct dash_opts *opts);

/* A condition of a scaler, borrowed for the call. */
struct dash_condition {
	const char *type; /* "Ready" */
	bool status;
	const char *reason;
	const char *message;
};

/* One evaluation of one scaler. Strings are borrowed for the call; NULL is "". */
struct dash_sample {
	double t;           /* unix seconds */
	const char *target; /* "Deployment/web" */
	const char *mode;   /* "Auto", "DryRun", "Paused" */
	bool dry_run;       /* --dry-run: nothing is written, whatever the mode */
	bool decided;       /* the replica math ran; if not, `reason` says what failed */
	const char *metric; /* the first metric's name */
	double target_per_replica;
	double load;                   /* the first metric's observed value; NaN none */
	double forecast, upper, lower; /* one lead time ahead; NaN none */
	double lead_time;              /* seconds */
	int current;                   /* replicas the target had */
	int desired;                   /* replicas set (or kept) */
	int proposed;                  /* what Auto would set (DryRun: the "would scale") */
	int min, max;
	bool scaled; /* the target was scaled from current to desired now */
	const char *limited_by;
	const char *reason;
	const struct dash_condition *conditions;
	size_t n_conditions; /* at most DASH_CONDITIONS_MAX are kept */
};

/* A ConcurrencyBudget's summary. Strings are borrowed for the call. */
struct dash_budget {
	bool valid;
	const char *invalid; /* why not valid */
	double capacity, requested, allocated, used;
	int members, scaling_up;
	const char *saturated;     /* "True", "False", "Unknown"; NULL: not known */
	const char *saturated_why; /* the condition's reason */
	const char *overcommitted; /* "True", "False"; NULL: not known */
};

/* An immutable message, shared by reference between the store and its readers. */
struct dash_msg {
	atomic_uint refs;
	uint64_t seq;
	size_t len;
	const char *data; /* JSON, NUL-terminated */
};

/* `opts` NULL: the defaults. */
enum fs_rc dash_new(struct dash **out, const struct dash_opts *opts, struct fs_err *err);

/* Frees the store; messages still referenced live on until unreferenced. NULL: no-op. */
void dash_free(struct dash *d);

/*
 * Called with `ctx` after every change, under the store's lock: it must be
 * quick and must not call into the store (lws_cancel_service is). One
 * subscriber; NULL unsubscribes (and waits for a call in progress).
 */
void dash_subscribe(struct dash *d, void (*notify)(void *ctx), void *ctx);

/*
 * Records an evaluation of scaler `key` ("namespace/name"). FS_ETOOLARGE for
 * a new scaler past opts.scalers, FS_ENOMEM; the store is unchanged then.
 */
enum fs_rc dash_publish(struct dash *d, const char *key, const struct dash_sample *s,
                        struct fs_err *err);

/* Removes scaler `key` (deleted). Unknown keys are ignored. */
void dash_forget(struct dash *d, const char *key);

/* Records budget `key`'s summary; nothing is sent when it did not change. */
enum fs_rc dash_publish_budget(struct dash *d, const char *key, const struct dash_budget *b,
                               struct fs_err *err);

void dash_forget_budget(struct dash *d, const char *key);

/*
 * A reader (a client that pulls dash_updates) joins or leaves. While none
 * is there, changes are neither rendered as update messages nor kept: the
 * store holds its state, and a reader that joins starts from a snapshot.
 * Join before taking that snapshot, so no change falls between the two.
 */
void dash_reader(struct dash *d, bool joins);

/* The sequence number of the last change (0: none yet). */
uint64_t dash_seq(struct dash *d);

/*
 * The whole state as a "state" message, a reference for the caller; NULL:
 * out of memory. It may be up to DASH_SNAPSHOT_STALE_MAX messages old; the
 * ones after it are still kept for dash_updates.
 */
struct dash_msg *dash_snapshot(struct dash *d);

/*
 * Up to `max` references to the messages after sequence number `after`,
 * oldest first, into `out`; returns how many. *gap is set when some of
 * them are no longer kept: the reader must start again from a snapshot.
 */
size_t dash_updates(struct dash_msg **out, size_t max, bool *gap, struct dash *d, uint64_t after);

struct dash_msg *dash_msg_ref(struct dash_msg *m);

/* Drops a reference; the last one frees the message. NULL: no-op. */
void dash_msg_unref(struct dash_msg *m);

#endif
