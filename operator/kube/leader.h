#ifndef FORESIGHT_KUBE_LEADER_H
#define FORESIGHT_KUBE_LEADER_H

/*
 * Leader election over a coordination.k8s.io/v1 Lease, as client-go's
 * leaderelection: of the replicas that run an elector on the same Lease,
 * one leads at a time and the others stand by.
 *
 * A background thread reads the Lease. It creates the Lease when there is
 * none, and takes it over (a PUT carrying the resourceVersion it read, so
 * that of two candidates only one wins) when it is free (holderIdentity "")
 * or expired. Expiry is judged on this process's monotonic clock: a lease
 * is expired leaseDurationSeconds after this process first saw its current
 * content, never from the renewTime it carries, because the clocks of two
 * machines differ. The leader renews every retry period and steps down when
 * no renewal succeeded within the renew deadline or when the Lease names
 * another holder.
 *
 * A candidate reads the Lease twice per retry period: how late it sees the
 * last renewal of a leader that died is what a takeover waits beyond the
 * lease duration. With the defaults (15 s, 10 s, 2 s) a successor leads at
 * most about 16 s after a leader dies (client-go: up to 19.4 s), and within
 * a second of a leader releasing the Lease (leader_release, on SIGTERM).
 *
 *	struct leader_config lc;
 *	leader_config_init(&lc);
 *	lc.namespace = "foresight-system";
 *	lc.name = "foresight";
 *	lc.on_started_leading = start_reconciling;
 *	lc.on_stopped_leading = stop_reconciling;
 *	lc.ctx = op;
 *	if (leader_new(&le, kube_cfg, &lc, &err) != FS_OK) ...
 *	... on SIGTERM:
 *	if (leader_release(le, &err) != FS_OK)
 *		log_warn("%s", err.msg);
 *	leader_free(le);
 *
 * The elector talks through a client of its own (one attempt per request,
 * no client-side rate limit) so that renewals are neither queued behind the
 * operator's other calls nor retried past the renew deadline.
 *
 * The rest of the header is the pure core the thread is built from: what to
 * do given the Lease last read, the local clock and the configuration. It
 * does no I/O and is what the unit tests drive.
 */

#include <stdbool.h>
#include <stdint.h>

#include "base/result.h"
#include "kube/config.h"

#define LEADER_IDENTITY_MAX 256 /* bytes of a holder identity, with the NUL */

struct leader_config {
	const char *namespace;  /* the Lease's namespace; required */
	const char *name;       /* the Lease's name; required */
	const char *identity;   /* this replica's holderIdentity; NULL: "<hostname>_<pid>" */
	int lease_duration_s;   /* how long a lease is good for; default 15 */
	long renew_deadline_ms; /* a leader unable to renew this long steps down; default 10 000 */
	long retry_period_ms;   /* between attempts; default 2 000 */
	/*
	 * Called on the elector's thread when this replica becomes the leader
	 * and when it stops being it (lost, released or freed), once each in
	 * turn. They must return quickly (set a flag, signal the main loop)
	 * and must not call leader_release or leader_free. Either may be NULL.
	 */
	void (*on_started_leading)(void *ctx);
	void (*on_stopped_leading)(void *ctx);
	void *ctx;
};

struct leader;

/* Fills `cfg` with the defaults and no Lease, identity or callbacks. */
void leader_config_init(struct leader_config *cfg);

/*
 * Checks a configuration: namespace and name are DNS names, the identity
 * fits LEADER_IDENTITY_MAX, and lease duration > renew deadline > retry
 * period > 0. FS_EINVAL says which rule is broken.
 */
enum fs_rc leader_config_check(const struct leader_config *cfg, struct fs_err *err);

/*
 * Checks `cfg` (copied: the caller keeps its strings), makes a client for
 * `kube_cfg` (also copied) and starts the elector thread. The callbacks may
 * run before leader_new returns. Free with leader_free.
 */
enum fs_rc leader_new(struct leader **out, const struct kube_config *kube_cfg,
                      const struct leader_config *cfg, struct fs_err *err);

/* True while this replica leads. Safe from any thread. */
bool leader_is_leader(const struct leader *le);

/* This replica's identity (owned by `le`). */
const char *leader_identity(const struct leader *le);

/*
 * Stops the elector (waiting for a request in flight, bounded by the renew
 * deadline) and, when leading, writes the Lease as released (holder "",
 * leaseDurationSeconds 1, renewTime now) so that a successor takes over at
 * once, then calls on_stopped_leading. FS_OK also when not leading; an
 * error when the Lease could not be written (it then expires as usual).
 * Later calls do nothing.
 */
enum fs_rc leader_release(struct leader *le, struct fs_err *err);

/*
 * Stops the elector without releasing the Lease (calling on_stopped_leading
 * when it was leading) and frees it. NULL is a no-op.
 */
void leader_free(struct leader *le);

/* ---- The pure core ---- */

/* A Lease's spec. Times are wall-clock microseconds since the epoch; 0 is unset. */
struct leader_record {
	char holder[LEADER_IDENTITY_MAX]; /* holderIdentity; "" when free */
	int lease_duration_s;
	int64_t acquire_us;
	int64_t renew_us;
	int transitions; /* leaseTransitions */
};

/* What the elector knows, on this process's monotonic clock (milliseconds). */
struct leader_state {
	bool leading;
	int64_t renewed_at_ms; /* the last successful write of the Lease */
	bool observed_valid;   /* a record was read or written */
	struct leader_record observed;
	int64_t observed_at_ms; /* when `observed` was first seen with its content */
};

enum leader_decision {
	LEADER_WAIT,    /* another holder's lease is still good */
	LEADER_ACQUIRE, /* the lease is free or expired (or absent): take it */
	LEADER_RENEW,   /* this identity holds it: renew */
};

/* How one attempt went. */
enum leader_outcome {
	LEADER_WROTE,          /* the Lease now names this identity */
	LEADER_HELD_ELSEWHERE, /* another holder's lease is good */
	LEADER_FAILED,         /* the API call failed */
	LEADER_CONFLICTED,     /* the write met a 409: the Lease changed since it was read */
};

/*
 * Quick retries after a 409, in a row, before the elector waits a retry
 * period again: enough to outlast a writer that changes the Lease many
 * times a second (each attempt then has perhaps one chance in four), few
 * enough to stop a candidate's loop; a leader's attempts end at its renew
 * deadline anyway.
 */
#define LEADER_CONFLICT_RETRIES 100
/* The pause before a quick retry: this, up to twice this with jitter. */
#define LEADER_CONFLICT_PAUSE_MS 50

enum leader_transition { LEADER_UNCHANGED, LEADER_STARTED, LEADER_STOPPED };

/*
 * Records a read (or a write) of the Lease at `now_ms`. The observation time
 * moves only when the content changed: it is when the holder last renewed,
 * as far as this process can tell.
 */
void leader_observe(struct leader_state *st, const struct leader_record *rec, int64_t now_ms);

/*
 * RENEW when `identity` holds the observed lease; ACQUIRE when nothing was
 * observed, the holder is "" or observed_at + duration <= now; else WAIT.
 */
enum leader_decision leader_decide(const struct leader_state *st, const char *identity,
                                   int64_t now_ms);

/*
 * The record to write for ACQUIRE or RENEW at `now_us`: renewTime now; a
 * renewal keeps acquireTime and leaseTransitions, a takeover sets
 * acquireTime now and counts a transition. `old` NULL: a new Lease (0
 * transitions).
 */
void leader_record_next(struct leader_record *out, const struct leader_record *old,
                        enum leader_decision d, const char *identity, int lease_duration_s,
                        int64_t now_us);

/* The record that releases `old` at `now_us`, as client-go's ReleaseOnCancel. */
void leader_record_released(struct leader_record *out, const struct leader_record *old,
                            int64_t now_us);

/*
 * Updates the state after an attempt that began at `started_ms` and says
 * whether leadership began or ended. WROTE starts it and counts as a
 * renewal at `started_ms` (the write landed no earlier: a slow answer never
 * pushes the deadline later than others see it); HELD_ELSEWHERE ends it at
 * once; FAILED and CONFLICTED end it once the renew deadline has passed since the last
 * renewal (an attempt still running at the deadline times out then, and the
 * next one, with no time left, ends it).
 */
enum leader_transition leader_after_attempt(struct leader_state *st, enum leader_outcome outcome,
                                            int64_t started_ms, const struct leader_config *cfg);

/*
 * How long to sleep after an attempt that ended CONFLICTED, the
 * `conflicts`-th in a row (from 1): another writer changed the Lease between
 * the read and the write (a candidate, or anyone annotating or labelling
 * it). Up to LEADER_CONFLICT_RETRIES in a row the elector reads again
 * after a short pause (LEADER_CONFLICT_PAUSE_MS, stretched by `jitter` in
 * [0, 1) up to twice that); past them, or when `wait_ms` (what
 * leader_wait_ms says) is shorter, `wait_ms`. A leader that waited a whole
 * retry period after every 409 would lose its Lease to a busy writer of
 * the Lease's metadata within the renew deadline.
 */
long leader_conflict_wait_ms(long wait_ms, unsigned conflicts, double jitter);

/*
 * How long the next attempt may take: for a leader, the time left before
 * its renew deadline (0: passed, step down without trying); otherwise the
 * renew deadline.
 */
long leader_attempt_timeout_ms(const struct leader_state *st, int64_t now_ms,
                               const struct leader_config *cfg);

/*
 * How long to sleep before the next attempt. A leader: the retry period,
 * cut short by its renew deadline. A candidate: half the retry period,
 * shortened by up to 10% (`jitter` in [0, 1)) so that candidates spread out
 * without ever looking later than that; cut short to wake when the
 * observed lease expires.
 */
long leader_wait_ms(const struct leader_state *st, const char *identity, int64_t now_ms,
                    const struct leader_config *cfg, double jitter);

#endif
