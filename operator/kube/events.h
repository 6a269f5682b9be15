#ifndef FORESIGHT_KUBE_EVENTS_H
#define FORESIGHT_KUBE_EVENTS_H

/*
 * An event recorder: events.k8s.io/v1 Events about the objects the operator
 * acts on, as client-go's tools/events, so that `kubectl describe` and
 * `kubectl get events` say what the operator did and why.
 *
 * events_emit never blocks: it copies the event into a bounded queue served
 * by a background thread, and drops (and counts) it when the queue is full.
 * The thread:
 *  - aggregates: a repeat of an event (same regarding object, reason,
 *    action, type and note) within 6 minutes of the previous one creates no
 *    new Event but counts into the existing one's `series`. The count is
 *    written at most once per 30 s per series, and whatever is still
 *    unwritten at events_close;
 *  - limits: each regarding object has a token bucket of 25 new Events,
 *    refilled by one every 5 minutes, as client-go's spam filter; what it
 *    refuses is dropped and counted (repeats take no token: their writes
 *    are already bounded by the 30 s rule);
 *  - in dry-run mode logs each event at info level and writes nothing.
 * Memory is bounded: queue_cap events waiting, cache_cap series and as
 * many buckets, the oldest evicted first.
 *
 *	struct events_config ec;
 *	events_config_init(&ec);
 *	ec.reporting_instance = leader_identity(le);
 *	if (events_new(&ev, client, &ec, &err) != FS_OK) ...
 *	struct events_ref ref = {.api_version = "apps/v1", .kind = "Deployment",
 *	                         .namespace = ns, .name = name, .uid = uid};
 *	events_emit(ev, &ref, EVENTS_NORMAL, "ScaledUp", "Scale",
 *	            "scaled from %d to %d replicas", from, to);
 *	...
 *	events_free(ev); // writes the counts still pending, stops the thread
 *
 * The rest of the header is the pure core the thread is built from: the
 * series cache and the per-object buckets, driven with explicit times.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/result.h"
#include "kube/client.h"

#define EVENTS_NOTE_MAX        1024  /* bytes of a note; longer ones are cut */
#define EVENTS_FIELD_MAX       128   /* bytes of a reason, action or reporting field */
#define EVENTS_SERIES_WINDOW_S 360.0 /* a repeat within this of the previous joins its series */
#define EVENTS_FLUSH_PERIOD_S  30.0  /* at most one series update per series per this */
#define EVENTS_BURST           25    /* new Events per regarding object at once */
#define EVENTS_REFILL_QPS      (1.0 / 300.0) /* then one per 5 minutes */

/* The object an event is about (Event.regarding). Strings are copied by events_emit. */
struct events_ref {
	const char *api_version;      /* "apps/v1"; required */
	const char *kind;             /* "Deployment"; required */
	const char *namespace;        /* NULL or "" for a cluster-scoped object */
	const char *name;             /* required */
	const char *uid;              /* may be NULL */
	const char *resource_version; /* may be NULL */
};

enum events_type { EVENTS_NORMAL, EVENTS_WARNING };

struct events_config {
	const char *reporting_controller; /* default "foresight.dev/operator" */
	const char *reporting_instance;   /* default "<hostname>_<pid>" */
	bool dry_run;                     /* log each event at info level, write nothing */
	size_t queue_cap;                 /* events waiting for the thread; default 1000 */
	size_t cache_cap;                 /* series (and buckets) remembered; default 4096 */
	long timeout_ms;                  /* each API write; default 10 000 */
};

struct events;

/* Fills `cfg` with the defaults. */
void events_config_init(struct events_config *cfg);

/*
 * Checks `cfg` (copied), and starts the recorder's thread writing through
 * `client` (borrowed: it must outlive the recorder; NULL only in dry-run
 * mode). FS_EINVAL for a bad configuration. Free with events_free.
 */
enum fs_rc events_new(struct events **out, struct kube_client *client,
                      const struct events_config *cfg, struct fs_err *err);

/*
 * Records an event about `regarding`: `reason` (UpperCamelCase, why) and
 * `action` (what was done) of at most EVENTS_FIELD_MAX bytes, and a note
 * formatted from `fmt` (cut to EVENTS_NOTE_MAX bytes on a character
 * boundary). Never blocks; an event that cannot be queued, is malformed or
 * comes after events_close is dropped and counted. Safe from any thread.
 */
void events_emit(struct events *ev, const struct events_ref *regarding, enum events_type type,
                 const char *reason, const char *action, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));

/* Events dropped so far: queue full, rate-limited, malformed, or emitted after closing. */
uint64_t events_dropped(const struct events *ev);

/* API writes made so far: Event creations and series updates, failed ones included. */
uint64_t events_writes(const struct events *ev);

/*
 * Writes what is queued and the series counts still pending, then stops
 * the thread; later emits are dropped. When the API server stops answering
 * meanwhile, the rest is dropped rather than waited for. The counters stay
 * readable. Later calls do nothing.
 */
void events_close(struct events *ev);

/* events_close, then frees the recorder. NULL is a no-op. */
void events_free(struct events *ev);

/* ---- The pure core ---- */

/* What makes two events the same series. */
struct events_key {
	const char *regarding; /* the object's uid, or "kind/namespace/name" without one */
	const char *reason;
	const char *action;
	const char *type; /* "Normal" or "Warning" */
	const char *note;
};

/* One series: an Event and its repeats. Times are monotonic seconds. */
struct events_series {
	struct events_key key; /* owned copies */
	uint64_t hash;
	char *event_namespace; /* the Event written for it; NULL until created */
	char *event_name;
	long count;   /* occurrences, the first included */
	long written; /* the count the API server has */
	double last_seen;
	double last_write;
	int64_t last_seen_wall_us; /* series.lastObservedTime */
};

struct events_cache;

enum events_verdict {
	EVENTS_NEW,       /* the first of a series: create an Event for it */
	EVENTS_REPEAT,    /* counted into a live series */
	EVENTS_THROTTLED, /* a new Event the object's bucket refuses: drop it */
};

struct events_observation {
	enum events_verdict verdict;
	struct events_series *series; /* NEW, REPEAT: the series, owned by the cache */
	/*
	 * A series pushed out of the cache (the oldest when it is full, or a
	 * stale one of the same key), or NULL: the caller's, to write when
	 * pending and to free with events_series_free.
	 */
	struct events_series *evicted;
};

/* A cache of at most `cap` series and `cap` buckets (cap >= 1). */
enum fs_rc events_cache_new(struct events_cache **out, size_t cap, struct fs_err *err);

/* Frees the cache and its series. NULL is a no-op. */
void events_cache_free(struct events_cache *cache);

/* Series held. */
size_t events_cache_len(const struct events_cache *cache);

/*
 * Counts one occurrence of `key` at `now` (and `wall_us`, the wall clock).
 * A NEW series starts with count 1, written 0 and no Event name: once the
 * Event is created, set its name and `written`, else events_cache_remove it.
 * FS_ENOMEM leaves the cache as it was.
 */
enum fs_rc events_cache_observe(struct events_observation *out, struct events_cache *cache,
                                const struct events_key *key, double now, int64_t wall_us,
                                struct fs_err *err);

/*
 * A series whose Event exists, with a count the API server lacks and a last
 * write at least EVENTS_FLUSH_PERIOD_S before `now` (`all`: any such series,
 * at shutdown), or NULL. Writing it, the caller sets `written` and
 * `last_write`, or removes it.
 */
struct events_series *events_cache_due(struct events_cache *cache, double now, bool all);

/* When the next pending series falls due; INFINITY when none is pending. */
double events_cache_next_due(const struct events_cache *cache);

/* Takes `series` out of the cache and frees it. */
void events_cache_remove(struct events_cache *cache, struct events_series *series);

/* Frees a series handed out as evicted. NULL is a no-op. */
void events_series_free(struct events_series *series);

/*
 * The Event's name for an object: "<name>.<wall_ns in hex>", as client-go,
 * with the object's name cut so that the whole stays within 253 bytes.
 * `out` holds at least 254 bytes.
 */
void events_event_name(char *out, size_t size, const char *object_name, int64_t wall_ns);

/* The longest prefix of `s` within `max` bytes that does not split a UTF-8 character. */
size_t events_utf8_prefix(const char *s, size_t max);

#endif
