#include "kube/leader.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/jsontext.h"
#include "base/log.h"
#include "kube/client.h"
#include "kube/time.h"
#include "base/clock.h"

#define DEFAULT_LEASE_DURATION_S  15
#define DEFAULT_RENEW_DEADLINE_MS 10000
#define DEFAULT_RETRY_PERIOD_MS   2000
#define CANDIDATE_JITTER          0.1
#define LEASE_BODY_MAX            (1u << 20) /* a Lease is a few hundred bytes */
#define LEASES_PATH               "/apis/coordination.k8s.io/v1/namespaces/%s/leases"

struct leader {
	struct kube_client *client;
	struct leader_config cfg; /* namespace, name and identity point at the copies below */
	char *namespace;
	char *name;
	char identity[LEADER_IDENTITY_MAX];
	char *collection_path;  /* .../leases */
	char *lease_path;       /* .../leases/NAME */
	struct leader_state st; /* the elector thread's until it is joined */
	atomic_bool leading;
	pthread_mutex_t mu;
	pthread_cond_t wake; /* on CLOCK_MONOTONIC */
	bool stopping;       /* guarded by mu */
	bool running;        /* the thread was started and not yet joined */
	bool released;
	pthread_t thread;
	uint64_t rng; /* xorshift state for the candidate's jitter */
};

/* ---- The pure core ---- */

void leader_config_init(struct leader_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->lease_duration_s = DEFAULT_LEASE_DURATION_S;
	cfg->renew_deadline_ms = DEFAULT_RENEW_DEADLINE_MS;
	cfg->retry_period_ms = DEFAULT_RETRY_PERIOD_MS;
}

/* An RFC 1123 name of lowercase alphanumerics and '-' (and '.' when `dots`). */
static bool dns_name_ok(const char *s, size_t max, bool dots)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');

		if (!alnum && !(ch == '-' || (dots && ch == '.')))
			return false;
		if (!alnum && (i == 0 || i == n - 1))
			return false;
	}
	return true;
}

enum fs_rc leader_config_check(const struct leader_config *cfg, struct fs_err *err)
{
	if (!dns_name_ok(cfg->namespace, 63, false))
		return fs_fail(err, FS_EINVAL,
		               "leader election: namespace \"%s\" is not a DNS label",
		               cfg->namespace ? cfg->namespace : "");
	if (!dns_name_ok(cfg->name, 253, true))
		return fs_fail(err, FS_EINVAL,
		               "leader election: lease name \"%s\" is not a DNS name",
		               cfg->name ? cfg->name : "");
	if (cfg->identity &&
	    (cfg->identity[0] == '\0' || strlen(cfg->identity) >= LEADER_IDENTITY_MAX))
		return fs_fail(err, FS_EINVAL,
		               "leader election: the identity must have 1 to %d bytes",
		               LEADER_IDENTITY_MAX - 1);
	if (cfg->retry_period_ms <= 0)
		return fs_fail(err, FS_EINVAL,
		               "leader election: the retry period must be positive");
	if (cfg->renew_deadline_ms <= cfg->retry_period_ms)
		return fs_fail(err, FS_EINVAL,
		               "leader election: the renew deadline (%ld ms) must exceed the retry "
		               "period (%ld ms)",
		               cfg->renew_deadline_ms, cfg->retry_period_ms);
	if ((long)cfg->lease_duration_s * 1000 <= cfg->renew_deadline_ms)
		return fs_fail(err, FS_EINVAL,
		               "leader election: the lease duration (%d s) must exceed the renew "
		               "deadline (%ld ms)",
		               cfg->lease_duration_s, cfg->renew_deadline_ms);
	return FS_OK;
}

static bool record_equal(const struct leader_record *a, const struct leader_record *b)
{
	return strcmp(a->holder, b->holder) == 0 && a->lease_duration_s == b->lease_duration_s &&
	       a->acquire_us == b->acquire_us && a->renew_us == b->renew_us &&
	       a->transitions == b->transitions;
}

void leader_observe(struct leader_state *st, const struct leader_record *rec, int64_t now_ms)
{
	if (st->observed_valid && record_equal(&st->observed, rec))
		return;
	st->observed = *rec;
	st->observed_at_ms = now_ms;
	st->observed_valid = true;
}

/* When the observed lease runs out on the local clock. */
static int64_t observed_expiry_ms(const struct leader_state *st)
{
	return st->observed_at_ms + (int64_t)st->observed.lease_duration_s * 1000;
}

enum leader_decision leader_decide(const struct leader_state *st, const char *identity,
                                   int64_t now_ms)
{
	if (!st->observed_valid || st->observed.holder[0] == '\0')
		return LEADER_ACQUIRE;
	if (strcmp(st->observed.holder, identity) == 0)
		return LEADER_RENEW;
	return observed_expiry_ms(st) <= now_ms ? LEADER_ACQUIRE : LEADER_WAIT;
}

void leader_record_next(struct leader_record *out, const struct leader_record *old,
                        enum leader_decision d, const char *identity, int lease_duration_s,
                        int64_t now_us)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->holder, sizeof(out->holder), "%s", identity);
	out->lease_duration_s = lease_duration_s;
	out->renew_us = now_us;
	out->acquire_us = now_us;
	if (!old)
		return;
	if (d == LEADER_RENEW) {
		out->acquire_us = old->acquire_us;
		out->transitions = old->transitions;
	} else {
		out->transitions = old->transitions + 1;
	}
}

void leader_record_released(struct leader_record *out, const struct leader_record *old,
                            int64_t now_us)
{
	memset(out, 0, sizeof(*out));
	out->lease_duration_s = 1;
	out->acquire_us = now_us;
	out->renew_us = now_us;
	out->transitions = old->transitions;
}

enum leader_transition leader_after_attempt(struct leader_state *st, enum leader_outcome outcome,
                                            int64_t started_ms, const struct leader_config *cfg)
{
	switch (outcome) {
	case LEADER_WROTE:
		st->renewed_at_ms = started_ms;
		if (st->leading)
			return LEADER_UNCHANGED;
		st->leading = true;
		return LEADER_STARTED;
	case LEADER_HELD_ELSEWHERE:
		break;
	case LEADER_FAILED:
	case LEADER_CONFLICTED:
		if (st->leading && started_ms - st->renewed_at_ms < cfg->renew_deadline_ms)
			return LEADER_UNCHANGED;
		break;
	}
	if (!st->leading)
		return LEADER_UNCHANGED;
	st->leading = false;
	return LEADER_STOPPED;
}

long leader_attempt_timeout_ms(const struct leader_state *st, int64_t now_ms,
                               const struct leader_config *cfg)
{
	int64_t left;

	if (!st->leading)
		return cfg->renew_deadline_ms;
	left = st->renewed_at_ms + cfg->renew_deadline_ms - now_ms;
	return left > 0 ? (long)left : 0;
}

long leader_conflict_wait_ms(long wait_ms, unsigned conflicts, double jitter)
{
	long pause;

	if (conflicts == 0 || conflicts > LEADER_CONFLICT_RETRIES)
		return wait_ms;
	if (jitter < 0 || !(jitter < 1))
		jitter = 0;
	pause = LEADER_CONFLICT_PAUSE_MS + (long)(LEADER_CONFLICT_PAUSE_MS * jitter);
	return pause < wait_ms ? pause : wait_ms;
}

long leader_wait_ms(const struct leader_state *st, const char *identity, int64_t now_ms,
                    const struct leader_config *cfg, double jitter)
{
	int64_t wait, until;

	if (st->leading) {
		until = st->renewed_at_ms + cfg->renew_deadline_ms - now_ms;
		wait = cfg->retry_period_ms < until ? cfg->retry_period_ms : until;
		return wait > 0 ? (long)wait : 0;
	}
	wait = (int64_t)((double)cfg->retry_period_ms / 2 * (1.0 - CANDIDATE_JITTER * jitter));
	if (leader_decide(st, identity, now_ms) == LEADER_WAIT) {
		until = observed_expiry_ms(st) - now_ms;
		if (until < wait)
			wait = until;
	}
	return wait > 0 ? (long)wait : 0;
}

/* ---- I/O: the Lease over the API server ---- */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static json_object *spec_json(const struct leader_record *r)
{
	char acquire[KUBE_TIME_LEN], renew[KUBE_TIME_LEN];
	json_object *spec = json_object_new_object();

	if (!spec)
		return NULL;
	kube_time_format(acquire, r->acquire_us);
	kube_time_format(renew, r->renew_us);
	json_object_object_add(spec, "holderIdentity", json_object_new_string(r->holder));
	json_object_object_add(spec, "leaseDurationSeconds",
	                       json_object_new_int(r->lease_duration_s));
	json_object_object_add(spec, "acquireTime", json_object_new_string(acquire));
	json_object_object_add(spec, "renewTime", json_object_new_string(renew));
	json_object_object_add(spec, "leaseTransitions", json_object_new_int(r->transitions));
	return spec;
}

/* Reads a Lease's spec; absent fields are zero, as client-go reads them. */
static enum fs_rc record_from_json(struct leader_record *out, json_object *lease,
                                   struct fs_err *err)
{
	struct leader_record r;
	json_object *spec, *v;

	memset(&r, 0, sizeof(r));
	if (json_object_object_get_ex(lease, "spec", &spec)) {
		if (json_object_object_get_ex(spec, "holderIdentity", &v) && v)
			snprintf(r.holder, sizeof(r.holder), "%s", json_object_get_string(v));
		if (json_object_object_get_ex(spec, "leaseDurationSeconds", &v))
			r.lease_duration_s = json_object_get_int(v);
		if (json_object_object_get_ex(spec, "leaseTransitions", &v))
			r.transitions = json_object_get_int(v);
		if (json_object_object_get_ex(spec, "acquireTime", &v) && v &&
		    kube_time_parse(&r.acquire_us, json_object_get_string(v), err) != FS_OK)
			return fs_wrap(err, FS_EPARSE, "lease acquireTime");
		if (json_object_object_get_ex(spec, "renewTime", &v) && v &&
		    kube_time_parse(&r.renew_us, json_object_get_string(v), err) != FS_OK)
			return fs_wrap(err, FS_EPARSE, "lease renewTime");
	}
	*out = r;
	return FS_OK;
}

/* One request with its own timeout; *out (when not NULL) is the parsed answer, the caller's. */
static enum fs_rc request(json_object **out, struct leader *le, const char *method,
                          const char *path, json_object *body, long timeout_ms, struct fs_err *err)
{
	struct kube_request req = {.method = method, .path = path, .timeout_ms = timeout_ms};
	struct kube_response resp;
	json_object *v;
	enum fs_rc rc;

	if (timeout_ms <= 0)
		return fs_fail(err, FS_ETIMEOUT, "%s %s: no time left before the renew deadline",
		               method, path);
	if (body) {
		req.body = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
		if (!req.body)
			return fs_fail(err, FS_ENOMEM, "out of memory");
		req.body_len = strlen(req.body);
	}
	kube_response_init(&resp);
	rc = kube_do(&resp, le->client, &req, err);
	if (rc == FS_OK && out) {
		v = jsontext_parse_str(resp.body.data);
		if (v)
			*out = v;
		else
			rc = fs_fail(err, FS_EPARSE, "%s %s: invalid JSON in response", method,
			             path);
	}
	kube_response_release(&resp);
	return rc;
}

/* Creates the Lease naming this identity. */
static enum fs_rc create_lease(struct leader *le, long timeout_ms, struct fs_err *err)
{
	struct leader_record rec;
	json_object *lease = json_object_new_object();
	json_object *meta = json_object_new_object();
	json_object *spec;
	enum fs_rc rc;

	leader_record_next(&rec, NULL, LEADER_ACQUIRE, le->identity, le->cfg.lease_duration_s,
	                   wall_us());
	spec = spec_json(&rec);
	if (!lease || !meta || !spec) {
		json_object_put(meta);
		json_object_put(spec);
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto out;
	}
	json_object_object_add(meta, "name", json_object_new_string(le->name));
	json_object_object_add(meta, "namespace", json_object_new_string(le->namespace));
	json_object_object_add(lease, "apiVersion",
	                       json_object_new_string("coordination.k8s.io/v1"));
	json_object_object_add(lease, "kind", json_object_new_string("Lease"));
	json_object_object_add(lease, "metadata", meta);
	json_object_object_add(lease, "spec", spec);
	rc = request(NULL, le, "POST", le->collection_path, lease, timeout_ms, err);
	if (rc == FS_OK)
		leader_observe(&le->st, &rec, mono_ms());
out:
	json_object_put(lease);
	return rc;
}

/*
 * Reads the Lease and, when the decision allows, writes it naming this
 * identity. The whole attempt fits in `timeout_ms`.
 */
static enum leader_outcome attempt(struct leader *le, long timeout_ms)
{
	int64_t deadline = mono_ms() + timeout_ms;
	enum leader_outcome outcome = LEADER_FAILED;
	struct leader_record rec, next;
	json_object *lease = NULL, *spec;
	enum leader_decision d;
	struct fs_err err;
	enum fs_rc rc;

	rc = request(&lease, le, "GET", le->lease_path, NULL, timeout_ms, &err);
	if (rc == FS_ENOTFOUND) {
		rc = create_lease(le, (long)(deadline - mono_ms()), &err);
		goto out;
	}
	if (rc != FS_OK)
		goto out;
	rc = record_from_json(&rec, lease, &err);
	if (rc != FS_OK)
		goto out;
	leader_observe(&le->st, &rec, mono_ms());
	d = leader_decide(&le->st, le->identity, mono_ms());
	if (d == LEADER_WAIT) {
		outcome = LEADER_HELD_ELSEWHERE;
		goto out;
	}
	leader_record_next(&next, &rec, d, le->identity, le->cfg.lease_duration_s, wall_us());
	spec = spec_json(&next);
	if (!spec) {
		rc = fs_fail(&err, FS_ENOMEM, "out of memory");
		goto out;
	}
	/* The object read carries its resourceVersion: a concurrent writer makes this a 409. */
	json_object_object_add(lease, "spec", spec);
	rc = request(NULL, le, "PUT", le->lease_path, lease, (long)(deadline - mono_ms()), &err);
	if (rc == FS_OK)
		leader_observe(&le->st, &next, mono_ms());
out:
	if (rc == FS_OK && outcome != LEADER_HELD_ELSEWHERE) {
		outcome = LEADER_WROTE;
	} else if (rc == FS_ECONFLICT) {
		outcome = LEADER_CONFLICTED;
		log_debug("leader election: lease %s/%s changed meanwhile: %s", le->namespace,
		          le->name, err.msg);
	} else if (rc != FS_OK) {
		log_warn("leader election: lease %s/%s: %s", le->namespace, le->name, err.msg);
	}
	json_object_put(lease);
	return outcome;
}

static void announce(struct leader *le, enum leader_transition t)
{
	if (t == LEADER_STARTED) {
		atomic_store(&le->leading, true);
		log_info("leader election: %s leads (lease %s/%s)", le->identity, le->namespace,
		         le->name);
		if (le->cfg.on_started_leading)
			le->cfg.on_started_leading(le->cfg.ctx);
	} else if (t == LEADER_STOPPED) {
		atomic_store(&le->leading, false);
		log_info("leader election: %s stopped leading (lease %s/%s)", le->identity,
		         le->namespace, le->name);
		if (le->cfg.on_stopped_leading)
			le->cfg.on_stopped_leading(le->cfg.ctx);
	}
}

static double next_jitter(struct leader *le)
{
	le->rng ^= le->rng << 13;
	le->rng ^= le->rng >> 7;
	le->rng ^= le->rng << 17;
	return (double)(le->rng >> 11) / (double)(1ull << 53);
}

/* Sleeps `ms` unless asked to stop; false when stopping. */
static bool nap(struct leader *le, long ms)
{
	struct timespec until;
	bool stopping;

	clock_deadline(&until, ms);
	pthread_mutex_lock(&le->mu);
	while (!le->stopping && pthread_cond_timedwait(&le->wake, &le->mu, &until) == 0)
		;
	stopping = le->stopping;
	pthread_mutex_unlock(&le->mu);
	return !stopping;
}

static void *elector_main(void *arg)
{
	struct leader *le = arg;
	unsigned conflicts = 0;
	long wait_ms;

	do {
		int64_t started = mono_ms();
		long timeout = leader_attempt_timeout_ms(&le->st, started, &le->cfg);
		enum leader_outcome outcome = timeout > 0 ? attempt(le, timeout) : LEADER_FAILED;

		announce(le, leader_after_attempt(&le->st, outcome, started, &le->cfg));
		wait_ms =
		    leader_wait_ms(&le->st, le->identity, mono_ms(), &le->cfg, next_jitter(le));
		/* A 409 is another writer's change: read again soon, not a period later. */
		conflicts = outcome == LEADER_CONFLICTED ? conflicts + 1 : 0;
		wait_ms = leader_conflict_wait_ms(wait_ms, conflicts, next_jitter(le));
	} while (nap(le, wait_ms));
	return NULL;
}

static void stop_thread(struct leader *le)
{
	if (!le->running)
		return;
	pthread_mutex_lock(&le->mu);
	le->stopping = true;
	pthread_cond_signal(&le->wake);
	pthread_mutex_unlock(&le->mu);
	pthread_join(le->thread, NULL);
	le->running = false;
}

enum fs_rc leader_new(struct leader **out, const struct kube_config *kube_cfg,
                      const struct leader_config *cfg, struct fs_err *err)
{
	struct kube_client_opts copts;
	pthread_condattr_t cattr;
	struct leader *le;
	enum fs_rc rc;
	char host[128];

	rc = leader_config_check(cfg, err);
	if (rc != FS_OK)
		return rc;
	le = calloc(1, sizeof(*le));
	if (!le)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	pthread_mutex_init(&le->mu, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&le->wake, &cattr);
	pthread_condattr_destroy(&cattr);
	le->cfg = *cfg;
	if (cfg->identity) {
		snprintf(le->identity, sizeof(le->identity), "%s", cfg->identity);
	} else {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "unknown");
		host[sizeof(host) - 1] = '\0';
		snprintf(le->identity, sizeof(le->identity), "%s_%ld", host, (long)getpid());
	}
	le->namespace = strdup(cfg->namespace);
	le->name = strdup(cfg->name);
	if (!le->namespace || !le->name ||
	    asprintf(&le->collection_path, LEASES_PATH, cfg->namespace) < 0 ||
	    asprintf(&le->lease_path, LEASES_PATH "/%s", cfg->namespace, cfg->name) < 0) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto out;
	}
	le->cfg.namespace = le->namespace;
	le->cfg.name = le->name;
	le->cfg.identity = le->identity;
	le->rng = ((uint64_t)wall_us() ^ ((uint64_t)getpid() << 32)) | 1;

	kube_client_opts_init(&copts);
	copts.max_retries = 0; /* the elector retries on its own schedule, within its deadline */
	copts.qps = 0;         /* one request a period: never queue behind a rate limit */
	copts.max_body = LEASE_BODY_MAX;
	rc = kube_client_new(&le->client, kube_cfg, &copts, err);
	if (rc != FS_OK) {
		fs_wrap(err, rc, "leader election");
		goto out;
	}
	if (pthread_create(&le->thread, NULL, elector_main, le) != 0) {
		rc = fs_fail(err, FS_ENOMEM, "leader election: cannot start a thread");
		goto out;
	}
	le->running = true;
	*out = le;
out:
	if (rc != FS_OK)
		leader_free(le);
	return rc;
}

bool leader_is_leader(const struct leader *le)
{
	return atomic_load(&le->leading);
}

const char *leader_identity(const struct leader *le)
{
	return le->identity;
}

/* Writes the Lease as released when it still names this identity. */
static enum fs_rc release_lease(struct leader *le, struct fs_err *err)
{
	int64_t deadline = mono_ms() + le->cfg.renew_deadline_ms;
	struct leader_record rec, released;
	json_object *lease = NULL, *spec;
	enum fs_rc rc;

	rc = request(&lease, le, "GET", le->lease_path, NULL, le->cfg.renew_deadline_ms, err);
	if (rc != FS_OK)
		goto out;
	rc = record_from_json(&rec, lease, err);
	if (rc != FS_OK || strcmp(rec.holder, le->identity) != 0)
		goto out;
	leader_record_released(&released, &rec, wall_us());
	spec = spec_json(&released);
	if (!spec) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto out;
	}
	json_object_object_add(lease, "spec", spec);
	rc = request(NULL, le, "PUT", le->lease_path, lease, (long)(deadline - mono_ms()), err);
	if (rc == FS_OK)
		log_info("leader election: %s released lease %s/%s", le->identity, le->namespace,
		         le->name);
out:
	json_object_put(lease);
	if (rc != FS_OK)
		fs_wrap(err, rc, "leader election: releasing lease %s/%s", le->namespace, le->name);
	return rc;
}

enum fs_rc leader_release(struct leader *le, struct fs_err *err)
{
	enum fs_rc rc = FS_OK;

	stop_thread(le);
	if (le->released)
		return FS_OK;
	le->released = true;
	if (le->st.leading) {
		rc = release_lease(le, err);
		le->st.leading = false;
		announce(le, LEADER_STOPPED);
	}
	return rc;
}

void leader_free(struct leader *le)
{
	if (!le)
		return;
	stop_thread(le);
	if (le->st.leading) {
		le->st.leading = false;
		announce(le, LEADER_STOPPED);
	}
	kube_client_free(le->client);
	pthread_cond_destroy(&le->wake);
	pthread_mutex_destroy(&le->mu);
	free(le->namespace);
	free(le->name);
	free(le->collection_path);
	free(le->lease_path);
	free(le);
}
