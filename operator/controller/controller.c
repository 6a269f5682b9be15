#include "controller/controller.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alerts/alerts.h"
#include "base/base64.h"
#include "base/clock.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/str.h"
#include "base/strmap.h"
#include "budget/budget.h"
#include "dashboard/dashboard.h"
#include "controller/figures.h"
#include "controller/leadtime.h"
#include "controller/spec.h"
#include "forecast/forecast.h"
#include "kube/informer.h"
#include "kube/time.h"
#include "kube/workqueue.h"
#include "prom/prom.h"
#include "scaling/scaling.h"

#define GROUP_PATH        "/apis/autoscaling.foresight.dev/v1alpha1"
#define KEY_MAX           512
#define PATH_LEN          1024
#define HORIZON_EXTRA     1    /* one more step than the lead time: the grid lags `now` */
#define REFIT_MAX_AGE_S   3600 /* a model is refitted at least hourly */
#define NOT_READY_REFIT_S 300  /* and one short of history every five minutes */
#define FRESH_SLACK_S     1.0  /* an evaluation this late after a bucket still reads both at once */
#define FRESH_MAX_DUE     64   /* more buckets due (a catch-up) are read apart from the value */
#define RETRY_INVALID_MS  60000 /* an invalid spec is looked at again after a minute */
#define N_CONDITIONS      8
#define SECRET_MAX        (64u << 10)
#define SECRET_REREAD_S   300  /* Secrets rotate: re-read them this often */
#define ROLLOUT_POLL_MS   1000 /* a scale-up's readiness is looked at this often */
/* Work queue keys of ConcurrencyBudgets; a scaler's key ("ns/name") never holds a ':'. */
#define BUDGET_KEY_PREFIX    "budget:"
#define BUDGET_PERIOD_MIN_MS 1000  /* a budget is evaluated as often as its quickest member, */
#define BUDGET_PERIOD_MAX_MS 30000 /* but not more often than every second, and at least this */
#define SATURATION_STALE_S   60    /* a saturation reading older than this is not trusted */
/* PrometheusRules (monitoring.coreos.com/v1), the scalers' alert rules. */
#define RULES_GROUP_PATH        "/apis/monitoring.coreos.com/v1"
#define RULES_CRD_ABSENT_S      10  /* a missing CRD is looked for again this often, */
#define RULES_CRD_PRESENT_S     300 /* one that is there confirmed this often */
#define RULES_REAPPLY_S         600 /* unchanged rules applied again: in case a watch event was lost */
#define RULES_INFORMER_RESYNC_S 300

static const char *const condition_types[N_CONDITIONS] = {
    "Ready",         "AbleToScale",    "ScalingActive", "ScalingLimited",
    "ForecastReady", "FallbackActive", "Throttled",     "AlertsReady",
};

struct condition {
	bool set;
	bool status;
	const char *reason; /* a string literal: reasons are fixed words */
	char *message;      /* on the heap: most are short, and a scaler has eight */
	double since;       /* lastTransitionTime, unix seconds */
};

struct metric_state {
	struct fc_state *fc;
	double fitted_at;      /* unix seconds of the last fit; 0 none */
	double refit_by;       /* unix seconds when it is refitted whatever the model says */
	double fed_until;      /* unix seconds of the last bucket the model has seen */
	int64_t fresh_refused; /* spec generation + 1 whose query a range query refused; 0 none */
	/* What the last evaluation saw, for status and /metrics. */
	bool has_value;
	double value;
	bool has_forecast;
	double forecast, upper, lower, mape;
	/* What the status last written says of them (NAN: nothing), for figures_off. */
	double written_value, written_forecast;
	char model[32];
	char season[32];
};

/* What /metrics shows of one of a scaler's metrics. */
struct metric_view {
	char name[64];
	bool has_value, has_forecast;
	double value, forecast, upper, mape, target_per_replica;
};

/* What /metrics shows of a scaler, published at the end of each evaluation. */
struct scaler_view {
	bool valid;
	int current, desired, recommended, min, max;
	size_t n_metrics;
	struct metric_view *metrics; /* n_metrics of them, the scaler's */
	bool fallback;
	bool ready, metrics_unavailable, throttled;
	char limited_by[24];
};

/* A Prometheus histogram: cumulative buckets, as the text format prints them. */
#define HIST_BUCKETS 10

struct histogram {
	unsigned long buckets[HIST_BUCKETS], count;
	double sum;
};

/*
 * Prometheus clients shared by the scalers and budgets that reach the same
 * Prometheus the same way, so a Prometheus has one connection pool and one
 * --prometheus-max-inflight, however many scalers read it. A share is keyed
 * by every option's bytes (URL, credentials, CA, headers), compared whole,
 * and wiped when its last user lets go.
 */
struct prom_pool {
	pthread_mutex_t mu; /* guards list, refs, retired */
	struct prom_share *list;
	struct prom_client_stats retired; /* of the clients since freed, for /metrics */
};

struct prom_share {
	struct prom_share *next;
	struct prom_pool *pool;
	char *key;
	size_t key_len;
	struct prom_client *client;
	unsigned refs;
};

#define RECENT_SCALES        8    /* scale events a scaler's status keeps (recentScales) */
#define STATUS_REFRESH_SHARE 0.25 /* figures' refreshes take at most this share of --kube-qps */

/* Why a status was written (foresight_status_writes_total{cause}); see write_status. */
enum status_cause {
	STATUS_FIRST,    /* the first since the operator started, or the scaler appeared */
	STATUS_DECISION, /* the decision changed */
	STATUS_FIGURES,  /* only the figures, refreshed (--status-refresh) */
	STATUS_RESTORED, /* the object is not as the last write left it: another writer */
	STATUS_CAUSES
};
static const char *const status_cause_names[STATUS_CAUSES] = {"first", "decision", "figures",
                                                              "restored"};

struct recent_scale {
	double at; /* unix seconds */
	int from, to;
};

/* The kinds whose targets are watched rather than read with a GET (see targets). */
#define N_TARGET_KINDS 3
static const char *const target_kinds[N_TARGET_KINDS] = {"deployments", "statefulsets",
                                                         "replicasets"};
#define TARGET_GROUP_PATH "/apis/apps/v1"
/*
 * After its own scale, a scaler trusts the cache of its target only once
 * the cache holds that write or a later one (or, from a server whose
 * resourceVersions are not integers, this long after it): until then it
 * GETs, so it never scales twice from a cache that is a moment behind.
 */
#define EXPECT_TTL_S 30

struct scaler {
	const char *key, *namespace, *name; /* in ids */
	/*
	 * Its spec as last parsed, and the stamp of the object it was parsed
	 * from (kube_informer_stamp; 0: none kept). Parsed again only when the
	 * stamp changes: the status writes between leave it as it is. The
	 * worker evaluating the scaler is the only one to touch them.
	 */
	struct ctrl_spec spec;
	uint64_t spec_stamp;
	int64_t spec_generation; /* of the spec the models were fitted for */
	struct scale_history hist;
	struct metric_state *m; /* one per metric of the spec (size_metrics) */
	size_t n_m;
	struct prom_share *prom; /* its Prometheus client, shared with the same others */
	int64_t prom_generation;
	double prom_made_at; /* monotonic seconds */
	struct condition cond[N_CONDITIONS];
	/*
	 * The status last written, to write only changes: hashes (not the
	 * kilobytes of JSON) of it (hash_json) and its decision_hash, and
	 * text_hashes of the object's resourceVersion before the write and
	 * of the one the write gave it.
	 */
	uint64_t status_hash, decision_hash; /* 0: none written */
	uint64_t status_rv, written_rv;      /* written_rv 0: the write gave none */
	double status_written_at;            /* monotonic seconds */
	char last_scale_time[32];

	/*
	 * Its last scale events, oldest first, as status.recentScales: a
	 * restarted operator or a new leader seeds the rate policies from them
	 * (once, `seeded`), so no step is repeated inside a policy's period.
	 */
	struct recent_scale recent[RECENT_SCALES];
	size_t n_recent;
	bool seeded;
	bool was_fallback;
	uint64_t invalid_reported; /* text_hash of the InvalidSpec message an Event was sent for */
	unsigned long scale_events, query_errors;

	/*
	 * The last scale-up until its pods are ready: what leadTime auto learns
	 * from, and what a budget counts as "scaling up". Watched only when the
	 * spec needs it (leadTime auto, or a budget); between
	 * full evaluations (full_due, monotonic seconds) the key comes back
	 * every ROLLOUT_POLL_MS for one GET of the target, so the sample is not
	 * an interval too long. `rollout` is guarded by the controller's mu.
	 */
	bool watch_rollouts;
	bool lead_auto; /* spec.forecast.leadTime is auto: the samples are used */
	struct lead_learner lead;
	struct lead_rollout rollout;
	char *target_path; /* the target object (its /scale path without /scale); NULL before */
	int target_kind;   /* its index in target_kinds when watched; -1: read with a GET */
	char *expect_rv;   /* a watched target's resourceVersion after our last scale; NULL: none */
	double expect_until; /* monotonic seconds */
	double full_due;

	/*
	 * Its part in a ConcurrencyBudget, as of its last evaluation; the plans
	 * of the other members read it, so it is guarded by the controller's mu.
	 * `held` is what its target has, or is being scaled to: a scale-up is
	 * counted from the moment it is decided, before the PATCH.
	 */
	enum { MEMBER_UNSEEN, MEMBER_INVALID, MEMBER_KNOWN } member;
	char *budget_key; /* "namespace/budget"; "" in none (NULL before its first spec) */
	double units_per_replica, weight, interval;
	int min_replicas, requested, held, allocated;
	double waiting_since;       /* unix seconds it began asking for more than it holds */
	uint64_t throttle_reported; /* text_hash of the Throttled message an Event was sent for */

	/*
	 * Its PrometheusRule: a hash of the JSON last applied (not the JSON:
	 * bytes per scaler, not kilobytes), whether it is applied and kept
	 * (`rules_active`), and whether the rules informer saw someone else
	 * change it (`rules_drift`); those two are guarded by the controller's mu.
	 */
	uint64_t rules_hash;
	bool rules_active;
	int64_t rules_generation; /* of the spec last rendered */
	double rules_applied_at;  /* monotonic seconds */
	bool rules_drift;
	bool rules_removed; /* alerts disabled, and no rule of ours is left */

	pthread_mutex_t view_mu; /* guards view and the counters for /metrics */
	struct scaler_view view;
	char ids[]; /* key, namespace and name, each NUL-terminated */
};

struct ctrl {
	struct ctrl_opts opts;
	char *namespace;
	char *prometheus_url;
	struct kube_informer
	    *informers[CTRL_NAMESPACES_MAX];    /* one per namespace, or one for all */
	char *informer_ns[CTRL_NAMESPACES_MAX]; /* NULL: every namespace */
	size_t n_informers;
	struct strmap manifests; /* namespace/name -> json_object (opts.manifests) */
	struct prom_pool proms;
	struct wq *queue;
	bool workers_running;

	pthread_mutex_t mu; /* guards scalers, kinds, budgets, membership */
	struct strmap scalers;
	struct strmap kinds; /* "apiVersion/Kind" -> "resources path prefix" */

	/* ConcurrencyBudgets: an informer per scaler informer, their state by key. */
	struct kube_informer *budget_informers[CTRL_NAMESPACES_MAX];
	struct strmap budgets;    /* "ns/name" -> struct budget_state */
	struct strmap membership; /* scaler key -> "ns/budget", from the scalers' informers */

	pthread_mutex_t refit_mu;
	pthread_cond_t refit_cv;
	unsigned refits_running;

	/*
	 * Whether the PrometheusRule CRD is served (asked again after
	 * RULES_CRD_*_S), and the informers of the rules the operator made:
	 * an edit or deletion by someone else queues their scaler. Under rules_mu.
	 */
	pthread_mutex_t rules_mu;
	enum rules_crd_state { RULES_CRD_UNKNOWN, RULES_CRD_PRESENT, RULES_CRD_ABSENT } rules_crd;
	double rules_crd_checked; /* monotonic seconds */
	char rules_crd_error[256];
	struct kube_informer *rules_informers[CTRL_NAMESPACES_MAX];
	bool rules_watching;

	/*
	 * Watches of the apps/v1 kinds scalers target, per watched namespace,
	 * each started when the first scaler needs it: an evaluation reads its
	 * target's replicas from the cache instead of GETting /scale. Under
	 * targets_mu; the informers themselves are thread-safe.
	 */
	pthread_mutex_t targets_mu;
	struct kube_informer *targets[N_TARGET_KINDS][CTRL_NAMESPACES_MAX];
	bool targets_denied[N_TARGET_KINDS][CTRL_NAMESPACES_MAX]; /* not allowed: GET only */

	/*
	 * How long evaluations take, and how late they end: from when one was
	 * due (its interval, or the event that queued it) to its last write.
	 */
	pthread_mutex_t stats_mu;
	unsigned long reconcile_errors;
	unsigned long status_writes[STATUS_CAUSES]; /* PATCHes sent, by cause */
	struct histogram durations, lags;
};

static const double duration_buckets[HIST_BUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1,
                                                      0.25,  0.5,  1,     2.5,  5};
static const double lag_buckets[HIST_BUCKETS] = {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};

static void hist_observe(struct histogram *h, const double *bounds, double v)
{
	h->count++;
	h->sum += v;
	for (size_t i = 0; i < HIST_BUCKETS; i++) {
		if (v <= bounds[i])
			h->buckets[i]++;
	}
}

void ctrl_opts_init(struct ctrl_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->workers = 4;
	opts->prometheus_max_inflight = 8;
	opts->max_concurrent_refits = 2;
}

static void rfc3339(char *out, size_t size, double t)
{
	time_t s = (time_t)t;
	struct tm tm;

	gmtime_r(&s, &tm);
	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* --- shared Prometheus clients ---------------------------------------------- */

/* Adds b's counters to a; `inflight` is a level, not a count, and is left out. */
static void prom_stats_add(struct prom_client_stats *a, const struct prom_client_stats *b)
{
	a->queries += b->queries;
	a->requests += b->requests;
	a->errors += b->errors;
	a->waits += b->waits;
}

static enum fs_rc key_field(struct buf *k, const void *data, size_t len, struct fs_err *err)
{
	enum fs_rc rc = buf_append(k, &len, sizeof(len), err);

	return rc == FS_OK && len ? buf_append(k, data, len, err) : rc;
}

static enum fs_rc key_string(struct buf *k, const char *s, struct fs_err *err)
{
	return key_field(k, s ? s : "", s ? strlen(s) + 1 : 0, err);
}

/* Every option that makes a client what it is, each with its length first. */
static enum fs_rc prom_key(struct buf *k, const struct prom_client_opts *po, struct fs_err *err)
{
	enum fs_rc rc = key_string(k, po->url, err);

	if (rc == FS_OK)
		rc = key_string(k, po->bearer_token, err);
	if (rc == FS_OK)
		rc = key_string(k, po->username, err);
	if (rc == FS_OK)
		rc = key_string(k, po->password, err);
	if (rc == FS_OK)
		rc = key_field(k, po->ca_pem, po->ca_pem ? po->ca_pem_len : 0, err);
	if (rc == FS_OK)
		rc = key_field(k, &po->insecure_skip_verify, sizeof(po->insecure_skip_verify), err);
	for (size_t i = 0; rc == FS_OK && po->headers && po->headers[i]; i++)
		rc = key_string(k, po->headers[i], err);
	return rc;
}

/*
 * The pool's client for `po` (made when none is shared yet), with a
 * reference the caller gives back with prom_share_put.
 */
static enum fs_rc prom_share_get(struct prom_share **out, struct prom_pool *pool,
                                 const struct prom_client_opts *po, struct fs_err *err)
{
	struct prom_share *sh = NULL;
	struct buf key;
	enum fs_rc rc;

	*out = NULL;
	buf_init(&key, 1u << 20);
	rc = prom_key(&key, po, err);
	if (rc != FS_OK)
		goto out;
	pthread_mutex_lock(&pool->mu);
	for (sh = pool->list; sh; sh = sh->next) {
		if (sh->key_len == key.len && memcmp(sh->key, key.data, key.len) == 0)
			break;
	}
	if (sh) {
		sh->refs++;
	} else if (!(sh = calloc(1, sizeof(*sh))) || !(sh->key = malloc(key.len ? key.len : 1))) {
		free(sh);
		sh = NULL;
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
	} else if ((rc = prom_client_new(&sh->client, po, err)) != FS_OK) {
		free(sh->key);
		free(sh);
		sh = NULL;
	} else {
		memcpy(sh->key, key.data, key.len);
		sh->key_len = key.len;
		sh->pool = pool;
		sh->refs = 1;
		sh->next = pool->list;
		pool->list = sh;
	}
	pthread_mutex_unlock(&pool->mu);
	*out = sh;
out:
	if (key.data)
		memset(key.data, 0, key.len);
	buf_release(&key);
	return rc;
}

/* Gives a reference back; the last one frees the client. NULL is a no-op. */
static void prom_share_put(struct prom_share *sh)
{
	struct prom_pool *pool;
	struct prom_share **p;
	struct prom_client_stats last;

	if (!sh)
		return;
	pool = sh->pool;
	pthread_mutex_lock(&pool->mu);
	if (--sh->refs > 0) {
		pthread_mutex_unlock(&pool->mu);
		return;
	}
	for (p = &pool->list; *p != sh; p = &(*p)->next)
		;
	*p = sh->next;
	prom_client_stats(&last, sh->client);
	prom_stats_add(&pool->retired, &last);
	pthread_mutex_unlock(&pool->mu);
	prom_client_free(sh->client);
	memset(sh->key, 0, sh->key_len);
	free(sh->key);
	free(sh);
}

/* The counters of every client the pool has had. */
static void prom_pool_stats(struct prom_client_stats *out, struct prom_pool *pool)
{
	pthread_mutex_lock(&pool->mu);
	*out = pool->retired;
	for (struct prom_share *sh = pool->list; sh; sh = sh->next) {
		struct prom_client_stats now;

		prom_client_stats(&now, sh->client);
		prom_stats_add(out, &now);
	}
	pthread_mutex_unlock(&pool->mu);
}

/* --- scalers ---------------------------------------------------------------- */

/*
 * `text` into `h` (base/hash.h: enough to tell a rendering or a message from
 * the last one); with `shape`, each run of digits counts as one
 * '#': "needs 6 replicas" hashes as "needs # replicas".
 */
static uint64_t hash_text(uint64_t h, const char *text, bool shape)
{
	for (const char *p = text; *p; p++) {
		bool digit = *p >= '0' && *p <= '9';

		if (shape && digit && p > text && p[-1] >= '0' && p[-1] <= '9')
			continue;
		h = hash_byte(h, (unsigned char)(shape && digit ? '#' : *p));
	}
	return h;
}

static uint64_t text_hash(const char *text)
{
	return hash_str(HASH_SEED, text);
}

/*
 * Sets *slot to a copy of text unless it holds that already. Out of memory,
 * it keeps what it held and says false.
 */
static bool set_text(char **slot, const char *text)
{
	char *copy;

	if (*slot && strcmp(*slot, text) == 0)
		return true;
	if (!(copy = strdup(text)))
		return false;
	free(*slot);
	*slot = copy;
	return true;
}

static void scaler_free(void *p)
{
	struct scaler *s = p;

	if (!s)
		return;
	for (size_t i = 0; i < s->n_m; i++)
		fc_free(s->m[i].fc);
	free(s->m);
	free(s->view.metrics);
	for (size_t i = 0; i < N_CONDITIONS; i++)
		free(s->cond[i].message);
	free(s->target_path);
	free(s->expect_rv);
	free(s->budget_key);
	ctrl_spec_release(&s->spec);
	scale_history_release(&s->hist);
	prom_share_put(s->prom);
	pthread_mutex_destroy(&s->view_mu);
	free(s);
}

/* The scaler of `key`, created on first use. */
static struct scaler *scaler_get(struct ctrl *c, const char *key)
{
	struct scaler *s;
	size_t len = strlen(key);

	pthread_mutex_lock(&c->mu);
	s = strmap_get(&c->scalers, key);
	/* "ns/name" twice: as the key, then as "ns" and "name" (none: no namespace). */
	if (!s && (s = calloc(1, sizeof(*s) + 2 * (len + 1) + 1))) {
		char *ids = s->ids, *slash;

		memcpy(ids, key, len + 1);
		s->key = ids;
		ids += len + 1;
		memcpy(ids, key, len + 1);
		slash = strchr(ids, '/');
		if (slash) {
			*slash = '\0';
			s->namespace = ids;
			s->name = slash + 1;
		} else {
			s->namespace = ids + len + 1; /* the "" after it */
			s->name = ids;
		}
		s->target_kind = -1;
		scale_history_init(&s->hist);
		pthread_mutex_init(&s->view_mu, NULL);
		if (strmap_put(&c->scalers, key, s, NULL, NULL) != FS_OK) {
			scaler_free(s);
			s = NULL;
		}
	}
	pthread_mutex_unlock(&c->mu);
	return s;
}

static void scaler_forget(struct ctrl *c, const char *key)
{
	struct scaler *s;

	pthread_mutex_lock(&c->mu);
	s = strmap_remove(&c->scalers, key);
	pthread_mutex_unlock(&c->mu);
	if (s && c->opts.dash)
		dash_forget(c->opts.dash, key);
	scaler_free(s);
}

/* --- informer handlers: every change queues the key -------------------------- */

static void note_membership(struct ctrl *c, json_object *obj, bool deleted);
static void queue_budget(struct ctrl *c, const char *budget_key);

static void enqueue_obj(struct ctrl *c, json_object *obj)
{
	char key[KEY_MAX];
	struct fs_err err;

	if (!c->queue || kube_object_key(key, sizeof(key), obj, NULL) != FS_OK)
		return;
	if (wq_add(c->queue, key, &err) != FS_OK && err.rc != FS_ECANCELED)
		log_warn("queueing %s: %s", key, err.msg);
}

static void on_add(void *ctx, json_object *obj)
{
	note_membership(ctx, obj, false);
	enqueue_obj(ctx, obj);
}

static int64_t generation_of(json_object *obj)
{
	json_object *meta, *g;

	if (json_object_object_get_ex(obj, "metadata", &meta) &&
	    json_object_object_get_ex(meta, "generation", &g))
		return json_object_get_int64(g);
	return 0;
}

static void on_update(void *ctx, json_object *old_obj, json_object *new_obj)
{
	note_membership(ctx, new_obj, false);
	/* Status writes (ours) change no generation: only spec changes evaluate at once. */
	if (generation_of(old_obj) != generation_of(new_obj))
		enqueue_obj(ctx, new_obj);
}

static void on_delete(void *ctx, json_object *obj)
{
	note_membership(ctx, obj, true);
	enqueue_obj(ctx, obj);
}

/* A ConcurrencyBudget changed: its key, with the budget prefix. */
static void queue_budget_obj(struct ctrl *c, json_object *obj)
{
	char key[KEY_MAX];

	if (kube_object_key(key, sizeof(key), obj, NULL) == FS_OK)
		queue_budget(c, key);
}

static void on_budget_add(void *ctx, json_object *obj)
{
	queue_budget_obj(ctx, obj);
}

static void on_budget_update(void *ctx, json_object *old_obj, json_object *new_obj)
{
	if (generation_of(old_obj) != generation_of(new_obj))
		queue_budget_obj(ctx, new_obj);
}

static void on_budget_delete(void *ctx, json_object *obj)
{
	queue_budget_obj(ctx, obj);
}

/* --- conditions and status --------------------------------------------------- */

/* `reason` is a string literal: the condition keeps the pointer. */
static void set_condition(struct scaler *s, int i, bool status, const char *reason,
                          const char *message, double now)
{
	struct condition *c = &s->cond[i];

	if (!c->set || c->status != status)
		c->since = now;
	c->set = true;
	c->status = status;
	c->reason = reason;
	if (!set_text(&c->message, message ? message : ""))
		log_warn("%s: %s condition: out of memory for its message", s->key,
		         condition_types[i]);
}

enum { C_READY, C_ABLE, C_ACTIVE, C_LIMITED, C_FORECAST, C_FALLBACK, C_THROTTLED, C_ALERTS };

/*
 * Adds `v` under `key`, a string literal, to an object being built with
 * unique keys: json-c neither copies the key nor looks for it first.
 */
static void put_new(json_object *o, const char *key, json_object *v)
{
	json_object_object_add_ex(o, key, v,
	                          JSON_C_OBJECT_ADD_KEY_IS_NEW | JSON_C_OBJECT_KEY_IS_CONSTANT);
}

static json_object *conditions_json(const struct scaler *s, int64_t generation)
{
	json_object *list = json_object_new_array();

	for (int i = 0; i < N_CONDITIONS; i++) {
		const struct condition *c = &s->cond[i];
		char since[32];
		json_object *o;

		if (!c->set)
			continue;
		rfc3339(since, sizeof(since), c->since);
		o = json_object_new_object();
		put_new(o, "type", json_object_new_string(condition_types[i]));
		put_new(o, "status", json_object_new_string(c->status ? "True" : "False"));
		put_new(o, "reason", json_object_new_string(c->reason));
		put_new(o, "message", json_object_new_string(c->message));
		put_new(o, "lastTransitionTime", json_object_new_string(since));
		put_new(o, "observedGeneration", json_object_new_int64(generation));
		json_object_array_add(list, o);
	}
	return list;
}

/* A JSON number that stays valid JSON: non-finite values are left out by callers. */
static json_object *num(double v)
{
	return json_object_new_double(round(v * 1000.0) / 1000.0);
}

/* The 8 bytes of `bits` into `h`, least significant first. */
static uint64_t hash_bits(uint64_t h, uint64_t bits)
{
	for (int i = 0; i < 8; i++, bits >>= 8)
		h = hash_byte(h, (unsigned char)(bits & 0xff));
	return h;
}

/* `v` (any JSON) into `h`: its type, keys and values, in order. */
static uint64_t hash_json(uint64_t h, json_object *v)
{
	enum json_type t = json_object_get_type(v);
	double d;
	uint64_t bits;

	h = hash_bits(h, (uint64_t)t);
	switch (t) {
	case json_type_null:
		break;
	case json_type_boolean:
	case json_type_int:
		h = hash_bits(h, (uint64_t)json_object_get_int64(v));
		break;
	case json_type_double:
		d = json_object_get_double(v);
		memcpy(&bits, &d, sizeof(bits));
		h = hash_bits(h, bits);
		break;
	case json_type_string:
		h = hash_text(h, json_object_get_string(v), false);
		break;
	case json_type_array:
		for (size_t i = 0, n = json_object_array_length(v); i < n; i++)
			h = hash_json(h, json_object_array_get_idx(v, i));
		break;
	case json_type_object: {
		json_object_object_foreach(v, key, val)
		{
			h = hash_text(h, key, false);
			h = hash_json(h, val);
		}
		break;
	}
	}
	return h;
}

/*
 * The members of the object `obj` into `h`, leaving out the keys in `skip`
 * (NULL-terminated, or NULL), and hashing the string of the key `shaped`,
 * when it is `reason`, by its words only (hash_text's shape).
 */
static uint64_t hash_members(uint64_t h, json_object *obj, const char *const *skip,
                             const char *shaped, const char *reason)
{
	json_object_object_foreach(obj, key, val)
	{
		bool left_out = false;

		for (size_t k = 0; skip && skip[k] && !left_out; k++)
			left_out = strcmp(key, skip[k]) == 0;
		if (left_out)
			continue;
		h = hash_text(h, key, false);
		if (shaped && reason && strcmp(key, shaped) == 0 &&
		    json_object_is_type(val, json_type_string) &&
		    strcmp(json_object_get_string(val), reason) == 0)
			h = hash_text(h, reason, true);
		else
			h = hash_json(h, val);
	}
	return h;
}

/*
 * A hash of `status` without the figures that move with every sample: the
 * metrics' values and forecasts, and the numbers of the decision's reason
 * and of the condition messages that repeat it (their words stay: "no
 * data, so it holds" is another decision than "needs"). It changes only
 * when the decision does. Walks the status: no copy.
 */
static uint64_t decision_hash(json_object *status)
{
	static const char *const moving[] = {"value", "forecast", "upper", "mape", NULL};
	uint64_t h = HASH_SEED;
	const char *reason = NULL;
	json_object *dec = NULL, *v;

	if (json_object_object_get_ex(status, "decision", &dec) &&
	    json_object_object_get_ex(dec, "reason", &v))
		reason = json_object_get_string(v);
	json_object_object_foreach(status, key, val)
	{
		bool metrics = strcmp(key, "metrics") == 0,
		     conditions = strcmp(key, "conditions") == 0;

		h = hash_text(h, key, false);
		if (val == dec && reason) {
			h = hash_members(h, val, NULL, "reason", reason);
		} else if ((metrics || conditions) && json_object_is_type(val, json_type_array)) {
			for (size_t i = 0, n = json_object_array_length(val); i < n; i++) {
				json_object *item = json_object_array_get_idx(val, i);

				if (!json_object_is_type(item, json_type_object))
					h = hash_json(h, item);
				else if (metrics)
					h = hash_members(h, item, moving, NULL, NULL);
				else
					h = hash_members(h, item, NULL, "message", reason);
			}
		} else {
			h = hash_json(h, val);
		}
	}
	return h;
}

static const char *resource_version(json_object *obj)
{
	json_object *meta, *rv;

	return json_object_object_get_ex(obj, "metadata", &meta) &&
	               json_object_object_get_ex(meta, "resourceVersion", &rv)
	           ? json_object_get_string(rv)
	           : "";
}

/*
 * How long an unchanged decision's figures wait to be written again:
 * never (INFINITY) unless --status-refresh asks for it; then that long, or
 * longer when the scalers' refreshes would take more than
 * STATUS_REFRESH_SHARE of --kube-qps (at 20 a second and 5m, past 1,500
 * scalers), so that changed decisions keep the rest of it.
 */
static double status_refresh_s(struct ctrl *c)
{
	double qps, n;

	if (c->opts.status_refresh <= 0)
		return INFINITY;
	qps = c->opts.kube ? kube_client_qps(c->opts.kube) : 0;
	if (qps <= 0)
		return c->opts.status_refresh;
	pthread_mutex_lock(&c->mu);
	n = (double)c->scalers.len;
	pthread_mutex_unlock(&c->mu);
	return fmax(c->opts.status_refresh, n / (qps * STATUS_REFRESH_SHARE));
}

/* Whether a metric's value or forecast is off what the status last written says. */
static bool figures_moved(const struct scaler *s)
{
	for (size_t i = 0; i < s->n_m; i++) {
		const struct metric_state *m = &s->m[i];

		if (figures_off(m->written_value, m->has_value ? m->value : NAN) ||
		    figures_off(m->written_forecast, m->has_forecast ? m->forecast : NAN))
			return true;
	}
	return false;
}

/*
 * Writes `status` (consumed) with a merge patch on /status, except when it
 * is what was last written and the object, at resourceVersion `object_rv`,
 * is as that write found it (the cache has not caught up yet) or left it; or when
 * the object is as that write left it and only the moving figures changed,
 * which are written with the next changed decision, or, with
 * --status-refresh, after status_refresh_s once a value or forecast is off
 * what the status says (figures_off: by 5%). So an unchanged decision costs
 * no request, and another writer's edit is undone at the next evaluation.
 * The cache does not hold the status to compare with (see add_informers): a
 * restarted operator writes each status once. Each write sent is counted by
 * its status_cause. In --dry-run only logs it. Call without c->mu.
 */
static enum fs_rc write_status(struct ctrl *c, struct scaler *s, const char *object_rv,
                               json_object *status, struct fs_err *err)
{
	json_object *patch = json_object_new_object(), *written = NULL;
	char path[PATH_LEN];
	uint64_t hash, decision = 0, rv = text_hash(object_rv);
	enum fs_rc rc = FS_OK;

	json_object_object_add(patch, "status", status);
	/* Hashed where it lies: it is rendered as text only when it is sent. */
	hash = hash_json(HASH_SEED, status);
	if (s->status_hash == hash && (s->status_rv == rv || s->written_rv == rv))
		goto out;
	if (s->status_hash && s->written_rv == rv &&
	    (clock_mono_s() - s->status_written_at < status_refresh_s(c) || !figures_moved(s)) &&
	    (decision = decision_hash(status)) == s->decision_hash)
		goto out;
	if (!decision)
		decision = decision_hash(status);
	if (c->opts.dry_run) {
		log_debug("dry-run: %s status would be %s", s->key,
		          json_object_to_json_string_ext(
		              patch, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	} else {
		enum status_cause cause = !s->status_hash                ? STATUS_FIRST
		                          : decision != s->decision_hash ? STATUS_DECISION
		                          : s->written_rv == rv          ? STATUS_FIGURES
		                                                         : STATUS_RESTORED;

		pthread_mutex_lock(&c->stats_mu);
		c->status_writes[cause]++;
		pthread_mutex_unlock(&c->stats_mu);
		str_fmt(path, sizeof(path), GROUP_PATH "/namespaces/%s/forecastscalers/%s/status",
		        s->namespace, s->name);
		rc = kube_send(&written, c->opts.kube, "PATCH", path,
		               "application/merge-patch+json", patch, err);
		if (rc == FS_ENOTFOUND)
			rc = FS_OK; /* deleted meanwhile */
	}
	if (rc == FS_OK) {
		s->status_hash = hash;
		s->decision_hash = decision;
		s->status_rv = rv;
		s->written_rv = written ? text_hash(resource_version(written)) : 0;
		s->status_written_at = clock_mono_s();
		for (size_t i = 0; i < s->n_m; i++) {
			struct metric_state *m = &s->m[i];

			m->written_value = m->has_value ? m->value : NAN;
			m->written_forecast = m->has_forecast ? m->forecast : NAN;
		}
	}
out:
	json_object_put(written);
	json_object_put(patch);
	return rc;
}

static void emit(struct ctrl *c, struct scaler *s, const char *uid, enum events_type type,
                 const char *reason, const char *action, const char *message)
{
	struct events_ref ref = {
	    .api_version = "autoscaling.foresight.dev/v1alpha1",
	    .kind = "ForecastScaler",
	    .namespace = s->namespace,
	    .name = s->name,
	    .uid = uid,
	};

	if (c->opts.dry_run || !c->opts.events) {
		log_info("%s: event %s %s: %s", s->key,
		         type == EVENTS_WARNING ? "Warning" : "Normal", reason, message);
		return;
	}
	events_emit(c->opts.events, &ref, type, reason, action, "%s", message);
}

/* --- the target's /scale ------------------------------------------------------ */

/*
 * The collection path of the target's kind ("/apis/apps/v1/namespaces/ns/
 * deployments"), from API discovery (cached): any kind with a /scale
 * subresource works, not only Deployments. `kind` is the kind's index in
 * target_kinds when it is one that is watched, else -1.
 */
static enum fs_rc scale_path(char *out, size_t size, int *kind, struct ctrl *c,
                             const struct ctrl_spec *sp, struct fs_err *err)
{
	char cache_key[256], disc[300];
	const char *prefix = strchr(sp->target_api_version, '/') ? "/apis" : "/api";
	char *plural = NULL;
	json_object *list = NULL, *resources;
	enum fs_rc rc;

	str_fmt(cache_key, sizeof(cache_key), "%s/%s", sp->target_api_version, sp->target_kind);
	pthread_mutex_lock(&c->mu);
	plural = strmap_get(&c->kinds, cache_key);
	if (plural)
		plural = strdup(plural);
	pthread_mutex_unlock(&c->mu);
	if (!plural) {
		str_fmt(disc, sizeof(disc), "%s/%s", prefix, sp->target_api_version);
		rc = kube_get(&list, c->opts.kube, disc, err);
		if (rc == FS_ENOTFOUND)
			return fs_fail(err, FS_EINVAL,
			               "spec.targetRef.apiVersion: the cluster serves no %s",
			               sp->target_api_version);
		if (rc != FS_OK)
			return rc;
		if (json_object_object_get_ex(list, "resources", &resources)) {
			size_t n = json_object_array_length(resources);
			const char *found = NULL;

			for (size_t i = 0; i < n && !plural; i++) {
				json_object *r = json_object_array_get_idx(resources, i), *v;

				if (json_object_object_get_ex(r, "kind", &v) &&
				    strcmp(json_object_get_string(v), sp->target_kind) == 0 &&
				    json_object_object_get_ex(r, "name", &v) &&
				    !strchr(json_object_get_string(v), '/'))
					found = json_object_get_string(v);
				if (found) {
					char sub[200];

					/* The kind must have a /scale subresource. */
					str_fmt(sub, sizeof(sub), "%s/scale", found);
					for (size_t j = 0; j < n; j++) {
						json_object *r2 =
						    json_object_array_get_idx(resources, j);

						if (json_object_object_get_ex(r2, "name", &v) &&
						    strcmp(json_object_get_string(v), sub) == 0)
							plural = strdup(found);
					}
					if (!plural)
						break;
				}
			}
		}
		json_object_put(list);
		if (!plural)
			return fs_fail(
			    err, FS_EINVAL,
			    "spec.targetRef.kind: %s has no kind %s with a /scale subresource",
			    sp->target_api_version, sp->target_kind);
		pthread_mutex_lock(&c->mu);
		if (!strmap_get(&c->kinds, cache_key)) {
			char *copy = strdup(plural);

			if (copy && strmap_put(&c->kinds, cache_key, copy, NULL, NULL) != FS_OK)
				free(copy);
		}
		pthread_mutex_unlock(&c->mu);
	}
	str_fmt(out, size, "%s/%s/namespaces/%s/%s/%s/scale", prefix, sp->target_api_version,
	        sp->namespace, plural, sp->target_name);
	*kind = -1;
	if (strcmp(sp->target_api_version, "apps/v1") == 0)
		for (int k = 0; k < N_TARGET_KINDS; k++)
			if (strcmp(plural, target_kinds[k]) == 0)
				*kind = k;
	free(plural);
	return FS_OK;
}

/* --- scale-ups until ready ----------------------------------------------------- */

static int int_at(json_object *obj, const char *a, const char *b, int dflt)
{
	json_object *v;

	if (!json_object_object_get_ex(obj, a, &v) || !json_object_object_get_ex(v, b, &v))
		return dflt;
	return json_object_get_int(v);
}

/*
 * The watch of `kind` (an index of target_kinds) for namespace `ns`,
 * started on first use; NULL when none covers it or it cannot start (the
 * caller GETs: a cluster that does not let us list the kind still works).
 */
static struct kube_informer *target_informer(struct ctrl *c, size_t kind, const char *ns)
{
	static const char *const keep[] = {"spec.replicas", "status.replicas",
	                                   "status.readyReplicas", NULL};
	struct kube_informer **slot = NULL, *inf;
	struct kube_informer_opts io;
	char path[PATH_LEN], name[64];
	struct fs_err err;

	for (size_t i = 0; i < c->n_informers && !slot; i++)
		if (!c->informer_ns[i] || strcmp(c->informer_ns[i], ns) == 0)
			slot = &c->targets[kind][i];
	if (!slot)
		return NULL;
	pthread_mutex_lock(&c->targets_mu);
	if (c->targets_denied[kind][slot - c->targets[kind]]) {
		pthread_mutex_unlock(&c->targets_mu);
		return NULL;
	}
	if (!*slot) {
		size_t i = (size_t)(slot - c->targets[kind]);

		kube_informer_opts_init(&io);
		if (c->informer_ns[i])
			str_fmt(path, sizeof(path), TARGET_GROUP_PATH "/namespaces/%s/%s",
			        c->informer_ns[i], target_kinds[kind]);
		else
			str_fmt(path, sizeof(path), TARGET_GROUP_PATH "/%s", target_kinds[kind]);
		str_fmt(name, sizeof(name), "targets %s", target_kinds[kind]);
		io.path = path;
		io.name = name;
		io.keep = keep;
		io.stop_when_denied = true;
		if (kube_informer_new(slot, c->opts.kube, &io, NULL, &err) != FS_OK ||
		    kube_informer_start(*slot, &err) != FS_OK) {
			log_warn("watching %s: %s; their scale is read with a GET",
			         target_kinds[kind], err.msg);
			kube_informer_free(*slot);
			*slot = NULL;
		}
	}
	inf = *slot;
	/*
	 * Not allowed to list or watch the kind (RBAC without list/watch): the
	 * informer stopped asking, and the scalers GET. Not freed: another
	 * worker may be reading it.
	 */
	if (inf && kube_informer_denied(inf)) {
		c->targets_denied[kind][slot - c->targets[kind]] = true;
		log_warn("not allowed to list and watch %s%s%s: their scale is read with a GET at "
		         "every evaluation (the chart's RBAC allows it)",
		         target_kinds[kind], ns[0] ? " in " : "", ns);
		inf = NULL;
	}
	pthread_mutex_unlock(&c->targets_mu);
	return inf;
}

/*
 * Whether resourceVersion `rv` is `than` or later. Kubernetes 1.35 made
 * them comparable, as integers, between objects of one resource; a server
 * whose versions are not integers only tells equal ones.
 */
static bool rv_at_least(const char *rv, const char *than)
{
	size_t a = strspn(rv, "0123456789"), b = strspn(than, "0123456789");

	if (!rv[a] && !than[b] && a && b)
		return a != b ? a > b : strcmp(rv, than) >= 0;
	return strcmp(rv, than) == 0;
}

/*
 * The target object at `path` (its /scale path without /scale, in the
 * scaler's namespace) from the watch of `kind` (see scale_path), the
 * caller's (json_object_put); NULL when the GET must answer instead: a kind
 * not watched, a cache not synced or failing, an object it does not hold
 * (yet), or one that does not show this scaler's last scale yet (see
 * EXPECT_TTL_S).
 */
static json_object *cached_target(struct ctrl *c, struct scaler *s, int kind, const char *path)
{
	char key[KEY_MAX];
	struct kube_informer *inf;
	json_object *obj, *meta, *rv;

	if (kind < 0 || !(inf = target_informer(c, (size_t)kind, s->namespace)) ||
	    !kube_informer_healthy(inf, NULL, 0))
		return NULL;
	str_fmt(key, sizeof(key), "%s/%s", s->namespace, strrchr(path, '/') + 1);
	if (!(obj = kube_informer_get(inf, key)))
		return NULL;
	if (s->expect_rv) {
		bool seen = json_object_object_get_ex(obj, "metadata", &meta) &&
		            json_object_object_get_ex(meta, "resourceVersion", &rv) &&
		            rv_at_least(json_object_get_string(rv), s->expect_rv);

		if (!seen && clock_mono_s() < s->expect_until) {
			json_object_put(obj);
			return NULL;
		}
		free(s->expect_rv);
		s->expect_rv = NULL;
	}
	return obj;
}

/*
 * The target's desired and ready replicas, from the target object: /scale
 * has no ready count. Deployments, StatefulSets and ReplicaSets leave
 * status.readyReplicas out while it is 0; another kind without the field
 * counts what its status.replicas says it has.
 */
static enum fs_rc target_readiness(int *spec_replicas, int *ready, struct ctrl *c, struct scaler *s,
                                   const char *path, struct fs_err *err)
{
	json_object *obj = cached_target(c, s, s->target_kind, path);
	enum fs_rc rc = obj ? FS_OK : kube_get(&obj, c->opts.kube, path, err);

	if (rc != FS_OK)
		return rc;
	*spec_replicas = int_at(obj, "spec", "replicas", 0);
	*ready = int_at(obj, "status", "readyReplicas", -1);
	if (*ready < 0)
		*ready = strncmp(path, "/apis/apps/", 11) == 0
		             ? 0
		             : int_at(obj, "status", "replicas", 0);
	json_object_put(obj);
	return FS_OK;
}

/*
 * Advances the watched scale-up with what the target shows now. Returns
 * true when it ended.
 */
static bool watch_rollout(struct ctrl *c, struct scaler *s, double now)
{
	int spec_replicas, ready;
	struct fs_err err;
	enum lead_outcome o;

	pthread_mutex_lock(&c->mu);
	o = s->rollout.active ? LEAD_PENDING : LEAD_IDLE;
	pthread_mutex_unlock(&c->mu);
	if (o == LEAD_IDLE || !s->target_path)
		return false;
	if (target_readiness(&spec_replicas, &ready, c, s, s->target_path, &err) != FS_OK) {
		log_debug("%s: reading the target's ready replicas: %s", s->key, err.msg);
		return false;
	}
	pthread_mutex_lock(&c->mu);
	o = lead_rollout_check(&s->rollout, &s->lead, now, spec_replicas, ready);
	pthread_mutex_unlock(&c->mu);
	switch (o) {
	case LEAD_READY:
		if (s->lead_auto)
			log_info(
			    "%s: %d replicas ready %.1fs after the scale-up; learned lead time "
			    "%.0fs",
			    s->key, ready, s->lead.last, lead_seconds(&s->lead));
		else
			log_info("%s: %d replicas ready %.1fs after the scale-up", s->key, ready,
			         s->lead.last);
		return true;
	case LEAD_UNDONE:
		log_info("%s: the target was scaled to %d before the scale-up was ready", s->key,
		         spec_replicas);
		return true;
	case LEAD_TIMED_OUT:
		log_warn("%s: %d of %d replicas ready %.0fs after the scale-up; no longer waiting",
		         s->key, ready, spec_replicas, LEAD_MAX_S);
		return true;
	default:
		return false;
	}
}

/* Starts or ends the watch after a scale from `from` to `to`. */
static void rollout_scaled(struct ctrl *c, struct scaler *s, double now, int from, int to)
{
	pthread_mutex_lock(&c->mu);
	if (s->watch_rollouts)
		lead_rollout_start(&s->rollout, now, from, to);
	else
		s->rollout.active = false;
	pthread_mutex_unlock(&c->mu);
}

/*
 * The delay until `s` is looked at again: its next full evaluation, or
 * sooner while a scale-up is watched. Never 0 (that drops the key).
 */
/*
 * Milliseconds to the scaler's next evaluation, on a grid of `interval`
 * seconds shifted by an offset of its own, from its key (as Prometheus
 * spreads its scrapes): scalers created, restarted or held up together
 * (by --kube-qps at a start with 1,000 of them) would otherwise keep
 * evaluating together, each an interval after the end of the last. One
 * off its grid (the first, or one a change queued) waits at least half an
 * interval for the next.
 */
/* Where within each interval the scaler `key` is evaluated: spread by its name. */
static double eval_offset(const char *key, double interval)
{
	return (double)(text_hash(key) % 1000000) / 1000000.0 * interval;
}

static long next_on_grid_ms(const char *key, double interval, double now)
{
	double offset = eval_offset(key, interval);
	double next = offset + ceil((now - offset) / interval) * interval;

	if (next - now < interval / 2)
		next += interval;
	return (long)ceil((next - now) * 1000.0);
}

static long next_look_ms(struct ctrl *c, struct scaler *s)
{
	double due = (s->full_due - clock_mono_s()) * 1000.0;
	long ms = due < 1 ? 1 : (long)due;
	bool watching;

	pthread_mutex_lock(&c->mu);
	watching = s->rollout.active;
	pthread_mutex_unlock(&c->mu);
	return watching && ms > ROLLOUT_POLL_MS ? ROLLOUT_POLL_MS : ms;
}

/* --- Prometheus ------------------------------------------------------------- */

/* The value of key `ref.key` of Secret `ref.name` in `ns`; the caller wipes and frees it. */
static enum fs_rc read_secret(char **out, size_t *len, struct ctrl *c, const char *ns,
                              const struct ctrl_secret_ref *ref, const char *field,
                              struct fs_err *err)
{
	char path[PATH_LEN];
	json_object *secret = NULL, *data, *v;
	enum fs_rc rc;

	str_fmt(path, sizeof(path), "/api/v1/namespaces/%s/secrets/%s", ns, ref->name);
	rc = kube_get(&secret, c->opts.kube, path, err);
	if (rc != FS_OK)
		return fs_wrap(err, rc, "%s: Secret %s", field, ref->name);
	if (!json_object_object_get_ex(secret, "data", &data) ||
	    !json_object_object_get_ex(data, ref->key, &v)) {
		json_object_put(secret);
		return fs_fail(err, FS_EINVAL, "%s: Secret %s has no key %s", field, ref->name,
		               ref->key);
	}
	rc = b64_decode(out, len, json_object_get_string(v), err);
	json_object_put(secret);
	if (rc == FS_OK && *len > SECRET_MAX)
		rc = fs_fail(err, FS_EINVAL, "%s: Secret %s key %s is larger than %u bytes", field,
		             ref->name, ref->key, SECRET_MAX);
	return rc;
}

static void wipe_free(char *s, size_t len)
{
	if (s)
		memset(s, 0, len);
	free(s);
}

/* The scaler's Prometheus client, made again when the spec changed. */
static enum fs_rc scaler_prom(struct ctrl *c, struct scaler *s, const struct ctrl_spec *sp,
                              struct fs_err *err)
{
	struct prom_client_opts po;
	char *token = NULL, *user = NULL, *password = NULL, *ca = NULL;
	size_t token_len = 0, user_len = 0, password_len = 0, ca_len = 0;
	const char *headers[CTRL_HEADERS_MAX + 1];
	char header_lines[CTRL_HEADERS_MAX][512];
	struct prom_share *fresh;
	enum fs_rc rc = FS_OK;

	/* Secrets rotate: their values are read again every few minutes. */
	if (s->prom && s->prom_generation == sp->generation &&
	    clock_mono_s() - s->prom_made_at < SECRET_REREAD_S)
		return FS_OK;
	prom_client_opts_init(&po);
	po.url = sp->prom_url ? sp->prom_url : c->prometheus_url;
	if (!po.url)
		return fs_fail(
		    err, FS_EINVAL,
		    "spec.prometheus.url: not set, and the operator has no --prometheus-url");
	po.max_inflight = c->opts.prometheus_max_inflight;
	po.stop = c->opts.stop;
	if (sp->prom_bearer.name)
		rc = read_secret(&token, &token_len, c, sp->namespace, &sp->prom_bearer,
		                 "spec.prometheus.bearerTokenSecretRef", err);
	if (rc == FS_OK && sp->prom_user.name)
		rc = read_secret(&user, &user_len, c, sp->namespace, &sp->prom_user,
		                 "spec.prometheus.basicAuth.username", err);
	if (rc == FS_OK && sp->prom_password.name)
		rc = read_secret(&password, &password_len, c, sp->namespace, &sp->prom_password,
		                 "spec.prometheus.basicAuth.password", err);
	if (rc == FS_OK && sp->prom_ca.name)
		rc = read_secret(&ca, &ca_len, c, sp->namespace, &sp->prom_ca,
		                 "spec.prometheus.tls.caSecretRef", err);
	if (rc != FS_OK)
		goto out;
	po.bearer_token = token;
	po.username = user;
	po.password = password;
	po.ca_pem = ca;
	po.ca_pem_len = ca_len;
	po.insecure_skip_verify = sp->prom_insecure;
	for (size_t i = 0; i < sp->n_prom_headers; i++) {
		str_fmt(header_lines[i], sizeof(header_lines[i]), "%s: %s", sp->prom_headers[i].key,
		        sp->prom_headers[i].value);
		headers[i] = header_lines[i];
	}
	headers[sp->n_prom_headers] = NULL;
	po.headers = headers;
	rc = prom_share_get(&fresh, &c->proms, &po, err);
	if (rc == FS_OK) {
		/* After the get: a client shared with the same options stays. */
		prom_share_put(s->prom);
		s->prom = fresh;
		s->prom_generation = sp->generation;
		s->prom_made_at = clock_mono_s();
	}
out:
	wipe_free(token, token_len);
	wipe_free(user, user_len);
	wipe_free(password, password_len);
	wipe_free(ca, ca_len);
	return rc;
}

/* --- forecasting ---------------------------------------------------------------- */

static void refit_slot_take(struct ctrl *c)
{
	pthread_mutex_lock(&c->refit_mu);
	while (c->refits_running >= c->opts.max_concurrent_refits)
		pthread_cond_wait(&c->refit_cv, &c->refit_mu);
	c->refits_running++;
	pthread_mutex_unlock(&c->refit_mu);
}

static void refit_slot_give(struct ctrl *c)
{
	pthread_mutex_lock(&c->refit_mu);
	c->refits_running--;
	pthread_cond_signal(&c->refit_cv);
	pthread_mutex_unlock(&c->refit_mu);
}

static size_t horizon_steps(const struct ctrl_spec *sp)
{
	size_t h = (size_t)ceil(sp->scale.lead_time / sp->step);

	return (h ? h : 1) + HORIZON_EXTRA;
}

/*
 * The last bucket of a metric's model at or before `t`. Buckets lie at the
 * scaler's evaluation offset plus multiples of the step, not at multiples
 * of the step: when the interval is a multiple of the step, or the step of
 * the interval, evaluations fall on buckets, and one range query ending at
 * the evaluation gives both the new buckets and the current value
 * (fresh_query).
 */
static double bucket_floor(const struct scaler *s, const struct ctrl_spec *sp, double t)
{
	double phase = fmod(eval_offset(s->key, sp->interval), sp->step);

	return phase + floor((t - phase) / sp->step) * sp->step;
}

/* Fits the metric's model on the whole history window. */
static enum fs_rc refit(struct ctrl *c, struct scaler *s, size_t i, const struct ctrl_spec *sp,
                        double now, struct fs_err *err)
{
	struct metric_state *m = &s->m[i];
	struct prom_series series;
	struct fc_spec fs;
	struct fc_state *st = NULL;
	double end = bucket_floor(s, sp, now);
	enum fs_rc rc;

	memset(&series, 0, sizeof(series));
	refit_slot_take(c);
	rc = prom_query_range(&series, s->prom->client, sp->metrics[i].query, end - sp->history,
	                      end, sp->step, err);
	if (rc == FS_OK) {
		fc_spec_init(&fs);
		fs.model = sp->model;
		fs.season =
		    sp->season < 0 ? FC_SEASON_AUTO : (size_t)llround(sp->season / sp->step);
		fs.quantile = sp->quantile;
		fs.horizon_max = horizon_steps(sp);
		rc = fc_fit(&st, series.v, series.n, &fs, err);
	}
	refit_slot_give(c);
	if (rc == FS_OK) {
		/*
		 * Scalers created or found together (a restart) would all refit
		 * together, once a period: the first refit of each comes up to
		 * half a period early (and so for the hourly refit), by its name,
		 * and the later ones a period apart.
		 */
		double share = m->fc ? 0 : (double)(text_hash(s->key) % 1000) / 2000.0;

		fc_spread_refit(st, share);
		m->refit_by = now + REFIT_MAX_AGE_S * (1 - share);
		fc_free(m->fc);
		m->fc = st;
		m->fitted_at = now;
		m->fed_until = series.n ? series.t[series.n - 1] : end;
		log_info("%s: metric %s: fitted %s on %zu buckets (%s)", s->key,
		         sp->metrics[i].name, fc_model_name(fc_info(st)->model), series.n,
		         fc_info(st)->ready ? "ready" : fc_info(st)->reason);
	}
	prom_series_release(&series);
	return rc;
}

/*
 * Feeds the model the buckets after the last it saw, up to `end`, from
 * `series`, whose points are read `shift` seconds after their bucket: a
 * point without a sample, and a bucket the series does not reach, is a
 * gap. O(1) per bucket.
 */
static void feed_series(struct metric_state *m, const struct prom_series *series, double shift,
                        double step, double end)
{
	for (size_t k = 0; k < series->n; k++) {
		double bucket = series->t[k] - shift;

		if (bucket < m->fed_until + step / 2 || bucket > end + step / 2)
			continue;
		for (; m->fed_until + step * 1.5 < bucket; m->fed_until += step)
			fc_update(m->fc, NAN);
		fc_update(m->fc, series->v[k]);
		m->fed_until = bucket;
	}
	while (m->fed_until + step < end + step / 2) {
		fc_update(m->fc, NAN);
		m->fed_until += step;
	}
	/* Times read back from the answer are to the millisecond: back on the grid. */
	if (fabs(m->fed_until - end) < step / 2)
		m->fed_until = end;
}

/* Feeds the buckets that arrived since the last evaluation: O(1) per bucket. */
static enum fs_rc feed(struct scaler *s, size_t i, const struct ctrl_spec *sp, double now,
                       struct fs_err *err)
{
	struct metric_state *m = &s->m[i];
	struct prom_series series;
	double end = bucket_floor(s, sp, now);
	enum fs_rc rc;

	if (end < m->fed_until + sp->step / 2)
		return FS_OK;
	memset(&series, 0, sizeof(series));
	rc = prom_query_range(&series, s->prom->client, sp->metrics[i].query,
	                      m->fed_until + sp->step, end, sp->step, err);
	if (rc != FS_OK)
		return rc;
	feed_series(m, &series, 0, sp->step, end);
	prom_series_release(&series);
	return FS_OK;
}

/* The forecast steps an evaluation reads: the lead time's, at most 64. */
static size_t forecast_steps(const struct ctrl_spec *sp)
{
	size_t h = horizon_steps(sp);

	return h > 64 ? 64 : h;
}

/*
 * Whether the metric's model is fitted again at this evaluation rather
 * than fed. A model not ready for want of history is refitted only every
 * few minutes: each refit reads the whole history window from Prometheus.
 */
static bool refit_due(const struct scaler *s, const struct metric_state *m,
                      const struct ctrl_spec *sp, double now)
{
	return !m->fc || s->spec_generation != sp->generation || now > m->refit_by ||
	       fc_info(m->fc)->horizon_max < forecast_steps(sp) ||
	       (fc_refit_due(m->fc) &&
	        (fc_info(m->fc)->ready || now - m->fitted_at >= NOT_READY_REFIT_S));
}

/*
 * One range query for both of an evaluation's reads of a metric, when it
 * falls on the metric's buckets (FRESH_SLACK_S after one at most) and
 * buckets are due: over the due buckets, ending at the evaluation, so its
 * points are the buckets (each read at most the slack late) and its last
 * the current value. Half the queries of an evaluation, when the interval
 * is a multiple of the step or the step of the interval.
 */
struct fresh {
	bool refit;                /* the model is fitted again instead (refit_due) */
	double bucket;             /* the last bucket at or before the evaluation */
	bool tried;                /* the query was made */
	enum fs_rc rc;             /* and its result */
	struct fs_err err;         /* when rc is not FS_OK */
	struct prom_series series; /* when rc is FS_OK: the due buckets */
	bool have_sample;          /* `sample` is the current value */
	struct prom_sample sample;
};

static void fresh_query(struct fresh *f, struct scaler *s, size_t i, const struct ctrl_spec *sp,
                        double now)
{
	struct metric_state *m = &s->m[i];
	/* In whole milliseconds, as Prometheus is asked: exactly `due` points. */
	long long end_ms = llround(now * 1000.0), step_ms = llround(sp->step * 1000.0);
	long long due;
	const double *last;

	memset(f, 0, sizeof(*f));
	if (sp->model == FC_NONE)
		return;
	f->refit = refit_due(s, m, sp, now);
	f->bucket = bucket_floor(s, sp, now);
	due = m->fc ? llround((f->bucket - m->fed_until) / sp->step) : 0;
	if (f->refit || due < 1 || due > FRESH_MAX_DUE || now - f->bucket > FRESH_SLACK_S ||
	    m->fresh_refused == sp->generation + 1)
		return;
	f->tried = true;
	f->rc = prom_query_range(&f->series, s->prom->client, sp->metrics[i].query,
	                         (double)(end_ms - (due - 1) * step_ms) / 1000.0,
	                         (double)end_ms / 1000.0, sp->step, &f->err);
	/* Refused (a range vector, several series): the two usual queries say why. */
	if (f->rc == FS_EINVAL)
		m->fresh_refused = sp->generation + 1;
	if (f->rc != FS_OK)
		return;
	f->sample.at = (double)end_ms / 1000.0;
	f->sample.timestamp = f->sample.at;
	if (f->series.status == PROM_EMPTY) {
		f->sample.status = PROM_EMPTY;
		f->sample.value = NAN;
		f->have_sample = true;
		return;
	}
	/* NaN is no sample or a NaN or infinite value: the instant query tells which. */
	last = f->series.n ? &f->series.v[f->series.n - 1] : NULL;
	if (last && isfinite(*last)) {
		f->sample.status = PROM_VALUE;
		f->sample.value = *last;
		f->sample.series = 1;
		f->have_sample = true;
	}
}

/* The fresh query was made and Prometheus did not answer: no second query. */
static bool fresh_failed(const struct fresh *f)
{
	return f->tried && f->rc != FS_OK && f->rc != FS_EINVAL;
}

/*
 * Brings the metric's model up to date (from `fresh` when it holds the due
 * buckets) and fills `fc` with its upper bounds over the lead time
 * (`points` has horizon_steps entries). A failure leaves the forecast not
 * ready with the reason; it never fails the evaluation.
 */
static void forecast_metric(struct ctrl *c, struct scaler *s, size_t i, const struct ctrl_spec *sp,
                            double now, const struct fresh *fresh, struct scale_forecast *fc,
                            struct scale_point *points, char *why, size_t why_size)
{
	struct metric_state *m = &s->m[i];
	size_t h = forecast_steps(sp);
	double point[64], lower[64], upper[64];
	const struct fc_info *info;
	struct fs_err err;
	enum fs_rc rc = FS_OK;

	memset(fc, 0, sizeof(*fc));
	fc->error = NAN;
	if (fresh->refit) {
		rc = refit(c, s, i, sp, now, &err);
	} else if (fresh->tried && fresh->rc == FS_OK) {
		feed_series(m, &fresh->series, now - fresh->bucket, sp->step, fresh->bucket);
	} else if (fresh_failed(fresh)) {
		rc = fresh->rc;
		err = fresh->err;
	} else {
		rc = feed(s, i, sp, now, &err);
	}
	if (rc != FS_OK || !m->fc) {
		str_fmt(why, why_size, "the history query failed: %s", err.msg);
		fc->not_ready = why;
		return;
	}
	info = fc_info(m->fc);
	str_fmt(m->model, sizeof(m->model), "%s", fc_model_name(info->model));
	if (info->season)
		str_fmt(m->season, sizeof(m->season), "%zu steps%s", info->season,
		        info->season_detected ? " (detected)" : "");
	else
		str_fmt(m->season, sizeof(m->season), "none");
	if (fc_forecast(point, lower, upper, m->fc, h, &err) != FS_OK) {
		str_fmt(why, why_size, "%s", err.msg);
		fc->not_ready = why;
		m->has_forecast = false;
		return;
	}
	for (size_t k = 0; k < h; k++) {
		points[k].t = m->fed_until + (double)(k + 1) * sp->step;
		points[k].v = upper[k];
	}
	fc->ready = true;
	fc->error = info->recent_mape;
	fc->relative_error = info->recent_relative_mae;
	fc->upper = points;
	fc->n_upper = h;
	/* The status shows the forecast one lead time ahead. */
	{
		size_t at = (size_t)ceil((now + sp->scale.lead_time - m->fed_until) / sp->step);

		if (at < 1)
			at = 1;
		if (at > h)
			at = h;
		m->forecast = point[at - 1];
		m->upper = upper[at - 1];
		m->lower = lower[at - 1];
	}
	m->mape = info->recent_mape;
	m->has_forecast = true;
}

/* --- alert rules (PrometheusRules) ---------------------------------------------- */

static json_object *informer_get(struct ctrl *c, const char *key);

/* Records what was applied (`text`), or that nothing is (NULL). */
static void set_rules_applied(struct ctrl *c, struct scaler *s, const char *text)
{
	s->rules_hash = text ? text_hash(text) : 0;
	pthread_mutex_lock(&c->mu);
	s->rules_active = text != NULL;
	pthread_mutex_unlock(&c->mu);
}

/* Whether the live rule `obj` still holds everything of `want` (what we apply). */
static bool rules_match(json_object *obj, json_object *want)
{
	json_object *a, *b, *labels, *refs;

	if (!json_object_object_get_ex(want, "spec", &a) ||
	    !json_object_object_get_ex(obj, "spec", &b) || !json_object_equal(a, b))
		return false;
	json_object_object_get_ex(obj, "metadata", &b);
	json_object_object_get_ex(want, "metadata", &a);
	if (json_object_object_get_ex(a, "labels", &labels)) {
		json_object *live = NULL, *v;

		json_object_object_get_ex(b, "labels", &live);
		json_object_object_foreach(labels, k, want_v)
		{
			if (!json_object_object_get_ex(live, k, &v) ||
			    !json_object_equal(v, want_v))
				return false;
		}
	}
	if (json_object_object_get_ex(a, "ownerReferences", &refs)) {
		const char *uid = json_object_get_string(
		    json_object_object_get(json_object_array_get_idx(refs, 0), "uid"));
		json_object *live = NULL;
		bool found = false;

		json_object_object_get_ex(b, "ownerReferences", &live);
		for (size_t i = 0; i < json_object_array_length(live) && !found; i++)
			found = strcmp(json_object_get_string(json_object_object_get(
			                   json_object_array_get_idx(live, i), "uid")),
			               uid) == 0;
		if (!found)
			return false;
	}
	return true;
}

/*
 * Whether the live rule `obj` still holds what the operator applies for
 * scaler `key`: rendered again from the scaler in the cache (rule events
 * are rare; keeping every rendering would cost kilobytes per scaler).
 */
static bool rules_current(struct ctrl *c, const char *key, json_object *obj)
{
	json_object *scaler = informer_get(c, key), *want = NULL;
	struct ctrl_spec sp;
	struct fs_err err;
	bool match = false;

	if (scaler && ctrl_spec_parse(&sp, scaler, &err) == FS_OK) {
		if (alerts_render(&want, &sp, &err) == FS_OK)
			match = rules_match(obj, want);
		ctrl_spec_release(&sp);
	}
	json_object_put(want);
	json_object_put(scaler);
	return match;
}

/*
 * A rule the operator made changed or went away: when someone else did it
 * (it no longer holds what was applied), its scaler is queued to apply it
 * again. Our own writes compare equal and queue nothing.
 */
static void rules_changed(struct ctrl *c, json_object *obj, bool deleted)
{
	json_object *meta, *refs = NULL, *v;
	const char *ns = NULL, *owner = NULL;
	char key[KEY_MAX];
	struct scaler *s;
	bool active;

	if (!json_object_object_get_ex(obj, "metadata", &meta))
		return;
	if (json_object_object_get_ex(meta, "namespace", &v))
		ns = json_object_get_string(v);
	json_object_object_get_ex(meta, "ownerReferences", &refs);
	for (size_t i = 0; i < json_object_array_length(refs); i++) {
		json_object *ref = json_object_array_get_idx(refs, i);

		if (json_object_object_get_ex(ref, "kind", &v) &&
		    strcmp(json_object_get_string(v), "ForecastScaler") == 0 &&
		    json_object_object_get_ex(ref, "name", &v))
			owner = json_object_get_string(v);
	}
	/* An ownerReference removed by hand: the name still says whose it is. */
	if (!owner && json_object_object_get_ex(meta, "name", &v)) {
		const char *name = json_object_get_string(v);
		size_t n = strlen(name), sfx = strlen(ALERTS_NAME_SUFFIX);

		if (n > sfx && strcmp(name + n - sfx, ALERTS_NAME_SUFFIX) == 0) {
			str_fmt(key, sizeof(key), "%s/%.*s", ns ? ns : "", (int)(n - sfx), name);
			owner = "";
		}
	}
	if (!ns || !owner || !c->queue)
		return;
	if (owner[0])
		str_fmt(key, sizeof(key), "%s/%s", ns, owner);
	pthread_mutex_lock(&c->mu);
	s = strmap_get(&c->scalers, key);
	active = s && s->rules_active;
	pthread_mutex_unlock(&c->mu);
	if (!active || (!deleted && rules_current(c, key, obj)))
		return;
	pthread_mutex_lock(&c->mu);
	if ((s = strmap_get(&c->scalers, key)))
		s->rules_drift = true;
	pthread_mutex_unlock(&c->mu);
	log_info("%s: its PrometheusRule was %s by someone else; applying the operator's again",
	         key, deleted ? "deleted (or unlabelled)" : "changed");
	wq_add(c->queue, key, NULL);
}

static void on_rules_add(void *ctx, json_object *obj)
{
	rules_changed(ctx, obj, false);
}

static void on_rules_update(void *ctx, json_object *old_obj, json_object *new_obj)
{
	(void)old_obj;
	rules_changed(ctx, new_obj, false);
}

static void on_rules_delete(void *ctx, json_object *obj)
{
	rules_changed(ctx, obj, true);
}

/* Stops the rules informers. Under rules_mu. */
static void rules_unwatch_locked(struct ctrl *c)
{
	for (size_t i = 0; i < c->n_informers; i++) {
		kube_informer_free(c->rules_informers[i]);
		c->rules_informers[i] = NULL;
	}
	c->rules_watching = false;
}

/* Starts an informer of our PrometheusRules per watched namespace. Under rules_mu. */
static void rules_watch_locked(struct ctrl *c)
{
	struct kube_informer_handlers h = {on_rules_add, on_rules_update, on_rules_delete, c};
	struct kube_informer_opts io;
	char path[PATH_LEN];
	struct fs_err err;

	kube_informer_opts_init(&io);
	io.path = path;
	io.name = "prometheusrules";
	io.label_selector = ALERTS_LABEL_MANAGED_BY "=" ALERTS_MANAGER;
	io.resync_seconds = RULES_INFORMER_RESYNC_S;
	for (size_t i = 0; i < c->n_informers; i++) {
		if (c->informer_ns[i])
			str_fmt(path, sizeof(path),
			        RULES_GROUP_PATH "/namespaces/%s/prometheusrules",
			        c->informer_ns[i]);
		else
			str_fmt(path, sizeof(path), RULES_GROUP_PATH "/prometheusrules");
		if (kube_informer_new(&c->rules_informers[i], c->opts.kube, &io, &h, &err) !=
		        FS_OK ||
		    kube_informer_start(c->rules_informers[i], &err) != FS_OK) {
			/* Hand edits are then undone by the periodic re-apply only. */
			log_warn("watching PrometheusRules: %s", err.msg);
			rules_unwatch_locked(c);
			return;
		}
	}
	c->rules_watching = true;
}

/*
 * Whether the cluster serves PrometheusRules, from API discovery, cached:
 * a CRD installed later is found within RULES_CRD_ABSENT_S, without a
 * restart. The rules informers start with the first "present" (when the
 * workers run) and stop when it goes away. `why` gets the discovery error.
 */
static enum rules_crd_state rules_crd(struct ctrl *c, char *why, size_t size)
{
	double now = clock_mono_s();
	enum rules_crd_state state;

	pthread_mutex_lock(&c->rules_mu);
	if (c->rules_crd == RULES_CRD_UNKNOWN ||
	    now - c->rules_crd_checked >=
	        (c->rules_crd == RULES_CRD_PRESENT ? RULES_CRD_PRESENT_S : RULES_CRD_ABSENT_S)) {
		json_object *list = NULL, *resources, *v;
		struct fs_err err;
		enum fs_rc rc = kube_get(&list, c->opts.kube, RULES_GROUP_PATH, &err);
		enum rules_crd_state was = c->rules_crd;

		c->rules_crd_checked = now;
		c->rules_crd_error[0] = '\0';
		if (rc == FS_OK) {
			c->rules_crd = RULES_CRD_ABSENT;
			json_object_object_get_ex(list, "resources", &resources);
			for (size_t i = 0; i < json_object_array_length(resources); i++) {
				if (json_object_object_get_ex(
				        json_object_array_get_idx(resources, i), "name", &v) &&
				    strcmp(json_object_get_string(v), "prometheusrules") == 0)
					c->rules_crd = RULES_CRD_PRESENT;
			}
		} else if (rc == FS_ENOTFOUND) {
			c->rules_crd = RULES_CRD_ABSENT;
		} else {
			/* Keep what was known; unknown until discovery answers. */
			str_fmt(c->rules_crd_error, sizeof(c->rules_crd_error),
			        "API discovery of " RULES_GROUP_PATH ": %s", err.msg);
			log_warn("%s", c->rules_crd_error);
		}
		json_object_put(list);
		if (c->rules_crd != was && c->rules_crd != RULES_CRD_UNKNOWN)
			log_info("the PrometheusRule CRD is %s",
			         c->rules_crd == RULES_CRD_PRESENT
			             ? "installed: scalers get their alert rules"
			             : "not installed: no alert rules until it is");
	}
	if (c->rules_crd == RULES_CRD_PRESENT && !c->rules_watching && c->workers_running)
		rules_watch_locked(c);
	else if (c->rules_crd == RULES_CRD_ABSENT && c->rules_watching)
		rules_unwatch_locked(c);
	state = c->rules_crd;
	str_fmt(why, size, "%s", c->rules_crd_error);
	pthread_mutex_unlock(&c->rules_mu);
	return state;
}

/* Discovery is asked again at the next look (an apply found no such resource). */
static void rules_crd_forget(struct ctrl *c)
{
	pthread_mutex_lock(&c->rules_mu);
	c->rules_crd = RULES_CRD_UNKNOWN;
	pthread_mutex_unlock(&c->rules_mu);
}

/* Sets AlertsReady; a change of reason is logged, and a failure is an Event. */
static void rules_condition(struct ctrl *c, struct scaler *s, const struct ctrl_spec *sp, bool ok,
                            const char *reason, const char *msg, double now)
{
	const struct condition *was = &s->cond[C_ALERTS];
	bool changed = !was->set || strcmp(was->reason, reason) != 0;

	if (changed)
		log_info("%s: AlertsReady=%s %s: %s", s->key, ok ? "True" : "False", reason, msg);
	if (changed && strstr(reason, "Failed"))
		emit(c, s, sp->uid, EVENTS_WARNING, reason, "AlertRules", msg);
	set_condition(s, C_ALERTS, ok, reason, msg, now);
}

/* The uid of `obj` when its controller is the scaler with `uid`, else NULL (borrowed). */
static const char *owned_uid(json_object *obj, const char *uid)
{
	json_object *meta, *refs, *v;

	if (!uid || !json_object_object_get_ex(obj, "metadata", &meta) ||
	    !json_object_object_get_ex(meta, "ownerReferences", &refs))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(refs); i++) {
		json_object *ref = json_object_array_get_idx(refs, i);

		if (json_object_object_get_ex(ref, "uid", &v) &&
		    strcmp(json_object_get_string(v), uid) == 0 &&
		    json_object_object_get_ex(ref, "controller", &v) && json_object_get_boolean(v))
			return json_object_object_get_ex(meta, "uid", &v)
			           ? json_object_get_string(v)
			           : NULL;
	}
	return NULL;
}

/* Deletes the scaler's PrometheusRule when it is ours (its controller is this scaler). */
static enum fs_rc remove_rules(struct ctrl *c, const struct ctrl_spec *sp, const char *name,
                               struct fs_err *err)
{
	char path[PATH_LEN], why[256];
	json_object *live = NULL, *opts = NULL, *pre;
	const char *uid;
	enum fs_rc rc;

	if (c->opts.dry_run)
		return FS_OK;
	switch (rules_crd(c, why, sizeof(why))) {
	case RULES_CRD_ABSENT:
		return FS_OK;
	case RULES_CRD_UNKNOWN:
		return fs_fail(err, FS_EIO, "%s", why);
	default:
		break;
	}
	str_fmt(path, sizeof(path), RULES_GROUP_PATH "/namespaces/%s/prometheusrules/%s",
	        sp->namespace, name);
	rc = kube_get(&live, c->opts.kube, path, err);
	if (rc == FS_ENOTFOUND)
		return FS_OK;
	if (rc != FS_OK)
		return rc;
	uid = owned_uid(live, sp->uid);
	if (!uid) {
		log_info("%s/%s: PrometheusRule %s is not this scaler's: left alone", sp->namespace,
		         sp->name, name);
		goto out;
	}
	/* The uid precondition: never a rule someone made anew since the GET. */
	opts = json_object_new_object();
	pre = json_object_new_object();
	json_object_object_add(opts, "kind", json_object_new_string("DeleteOptions"));
	json_object_object_add(opts, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(pre, "uid", json_object_new_string(uid));
	json_object_object_add(opts, "preconditions", pre);
	rc = kube_send(NULL, c->opts.kube, "DELETE", path, NULL, opts, err);
	if (rc == FS_ENOTFOUND || rc == FS_ECONFLICT)
		rc = FS_OK; /* gone already, or someone else's now */
	else if (rc == FS_OK)
		log_info("%s/%s: alerts disabled: PrometheusRule %s deleted", sp->namespace,
		         sp->name, name);
out:
	json_object_put(opts);
	json_object_put(live);
	return rc;
}

/*
 * Keeps the scaler's PrometheusRule as its spec says. Enabled: applied
 * (server-side apply, field manager "foresight", forced, so the operator's
 * version wins over hand edits) when the rendered rules differ from what was
 * applied, when someone else changed them, and every RULES_REAPPLY_S.
 * Disabled: deleted. Sets AlertsReady; never fails the evaluation: scaling
 * goes on whatever happens to the rules.
 */
static void reconcile_rules(struct ctrl *c, struct scaler *s, const struct ctrl_spec *sp,
                            double now)
{
	char name[ALERTS_NAME_MAX + 1], path[PATH_LEN + ALERTS_NAME_MAX], msg[700], why[256];
	json_object *rule = NULL;
	const char *text;
	struct fs_err err;
	bool drift, same;
	enum fs_rc rc;

	if (alerts_rule_name(name, sizeof(name), sp->name, &err) != FS_OK) {
		rules_condition(c, s, sp, false, "RenderFailed", err.msg, now);
		return;
	}
	if (!sp->alerts_enabled) {
		set_rules_applied(c, s, NULL);
		if (!s->rules_removed) {
			if (remove_rules(c, sp, name, &err) != FS_OK) {
				str_fmt(msg, sizeof(msg), "deleting PrometheusRule %s: %s", name,
				        err.msg);
				rules_condition(c, s, sp, false, "DeleteFailed", msg, now);
				return;
			}
			s->rules_removed = true;
		}
		rules_condition(c, s, sp, false, "AlertsDisabled",
		                "spec.alerts.enabled is false: the scaler has no PrometheusRule",
		                now);
		return;
	}
	s->rules_removed = false;
	switch (rules_crd(c, why, sizeof(why))) {
	case RULES_CRD_ABSENT:
		set_rules_applied(c, s, NULL);
		rules_condition(
		    c, s, sp, false, "CRDNotInstalled",
		    "the PrometheusRule CRD (monitoring.coreos.com/v1) is not installed: "
		    "no alert rules until it is; scaling goes on",
		    now);
		return;
	case RULES_CRD_UNKNOWN:
		rules_condition(c, s, sp, false, "DiscoveryFailed", why, now);
		return;
	default:
		break;
	}
	pthread_mutex_lock(&c->mu);
	drift = s->rules_drift;
	s->rules_drift = false;
	pthread_mutex_unlock(&c->mu);
	if (!drift && s->rules_active && s->rules_generation == sp->generation &&
	    clock_mono_s() - s->rules_applied_at < RULES_REAPPLY_S)
		return;
	if (alerts_render(&rule, sp, &err) != FS_OK) {
		rules_condition(c, s, sp, false, "RenderFailed", err.msg, now);
		return;
	}
	text = json_object_to_json_string_ext(rule, JSON_C_TO_STRING_PLAIN |
	                                                JSON_C_TO_STRING_NOSLASHESCAPE);
	same = s->rules_active && s->rules_hash == text_hash(text);
	s->rules_generation = sp->generation;
	/* A spec change that leaves the rules as they were (interval, say) costs no write. */
	if (same && !drift && clock_mono_s() - s->rules_applied_at < RULES_REAPPLY_S)
		goto out;
	str_fmt(msg, sizeof(msg), "PrometheusRule %s holds %zu alert rules", name,
	        alerts_count(rule));
	if (c->opts.dry_run) {
		log_info("dry-run: %s: would apply %s", s->key, msg);
		set_rules_applied(c, s, text);
		s->rules_applied_at = clock_mono_s();
		goto out;
	}
	/* Recorded first: the watch event of this very write is compared, not ignored. */
	set_rules_applied(c, s, text);
	str_fmt(path, sizeof(path),
	        RULES_GROUP_PATH "/namespaces/%s/prometheusrules/%s?fieldManager=" ALERTS_MANAGER
	                         "&force=true",
	        sp->namespace, name);
	rc = kube_send(NULL, c->opts.kube, "PATCH", path, "application/apply-patch+yaml", rule,
	               &err);
	if (rc == FS_OK) {
		s->rules_applied_at = clock_mono_s();
		rules_condition(c, s, sp, true, "RulesApplied", msg, now);
		goto out;
	}
	set_rules_applied(c, s, NULL);
	if (rc == FS_ENOTFOUND) {
		/* The CRD went away (or the namespace is going): ask discovery again. */
		rules_crd_forget(c);
		if (rules_crd(c, why, sizeof(why)) == RULES_CRD_ABSENT) {
			rules_condition(c, s, sp, false, "CRDNotInstalled",
			                "the PrometheusRule CRD (monitoring.coreos.com/v1) is not "
			                "installed: no alert rules until it is; scaling goes on",
			                now);
			goto out;
		}
	}
	str_fmt(msg, sizeof(msg), "applying PrometheusRule %s: %s", name, err.msg);
	rules_condition(c, s, sp, false, "ApplyFailed", msg, now);
out:
	json_object_put(rule);
}

/* --- one evaluation ------------------------------------------------------------- */

struct evaluation {
	struct ctrl_spec spec; /* the scaler's (a shallow copy): freed with the scaler */
	bool spec_ok;
	int current;
	bool have_scale;
	struct scale_decision d;
	bool decided;
	bool scaled;
	char error[512];
};

/*
 * The scaler's metrics into `metrics` (values, forecasts) for the replica
 * math. Returns FS_EINVAL, naming the metric, when Prometheus refuses a query as
 * malformed: that is the spec's fault, not an outage to fall back from.
 */
static enum fs_rc evaluate_metrics(struct ctrl *c, struct scaler *s, const struct ctrl_spec *sp,
                                   double now, struct scale_metric *metrics,
                                   struct scale_forecast *fcs, struct scale_point (*points)[64],
                                   char (*errors)[256], char (*why)[256], struct fs_err *invalid)
{
	for (size_t i = 0; i < sp->n_metrics; i++) {
		struct scale_metric *mt = &metrics[i];
		struct metric_state *m = &s->m[i];
		struct prom_sample sample;
		struct fresh fresh;
		struct fs_err err;
		enum fs_rc rc;

		memset(mt, 0, sizeof(*mt));
		mt->name = sp->metrics[i].name;
		mt->target_per_replica = sp->metrics[i].target_per_replica;
		mt->on_empty = sp->metrics[i].on_empty;
		m->has_value = false;
		fresh_query(&fresh, s, i, sp, now);
		if (fresh.have_sample) {
			sample = fresh.sample;
			rc = FS_OK;
		} else if (fresh_failed(&fresh)) {
			rc = fresh.rc;
			err = fresh.err;
		} else {
			rc = prom_query(&sample, s->prom->client, sp->metrics[i].query, now, &err);
		}
		if (rc != FS_OK) {
			if (err.rc == FS_EINVAL) {
				prom_series_release(&fresh.series);
				return fs_fail(invalid, FS_EINVAL, "spec.metrics[%zu].query: %s", i,
				               err.msg);
			}
			str_fmt(errors[i], sizeof(errors[i]), "query failed: %s", err.msg);
			mt->sample = SCALE_SAMPLE_ERROR;
			mt->error = errors[i];
			pthread_mutex_lock(&s->view_mu);
			s->query_errors++;
			pthread_mutex_unlock(&s->view_mu);
		} else {
			switch (sample.status) {
			case PROM_VALUE:
				mt->sample = SCALE_SAMPLE_OK;
				mt->observed = sample.value;
				m->has_value = true;
				m->value = sample.value;
				break;
			case PROM_EMPTY:
				mt->sample = SCALE_SAMPLE_EMPTY;
				break;
			case PROM_NAN:
				str_fmt(errors[i], sizeof(errors[i]), "the query returned %s",
				        isnan(sample.value) ? "NaN"
				        : sample.value > 0  ? "+Inf"
				                            : "-Inf");
				mt->sample = SCALE_SAMPLE_ERROR;
				mt->error = errors[i];
				break;
			case PROM_STALE:
				str_fmt(errors[i], sizeof(errors[i]),
				        "the latest sample is stale (%.0fs old)",
				        sample.at - sample.timestamp);
				mt->sample = SCALE_SAMPLE_ERROR;
				mt->error = errors[i];
				break;
			case PROM_MULTI:
				str_fmt(errors[i], sizeof(errors[i]),
				        "the query returned %zu series; it must return one",
				        sample.series);
				mt->sample = SCALE_SAMPLE_ERROR;
				mt->error = errors[i];
				break;
			}
		}
		if (sp->model != FC_NONE) {
			forecast_metric(c, s, i, sp, now, &fresh, &fcs[i], points[i], why[i],
			                sizeof(why[i]));
			mt->forecast = &fcs[i];
		} else {
			m->has_forecast = false;
		}
		prom_series_release(&fresh.series);
	}
	return FS_OK;
}

/* What the forecast provisions ahead for, and where that figure comes from. */
static json_object *lead_time_json(const struct scaler *s, const struct ctrl_spec *sp)
{
	json_object *o = json_object_new_object();
	const char *source = "Spec";

	if (sp->lead_time_auto)
		source = s->lead.total ? "Learned" : "Default";
	put_new(o, "seconds", num(sp->scale.lead_time));
	put_new(o, "source", json_object_new_string(source));
	if (sp->lead_time_auto) {
		put_new(o, "samples", json_object_new_int64((int64_t)s->lead.total));
		if (s->lead.total)
			put_new(o, "lastObservedSeconds", num(s->lead.last));
	}
	return o;
}

static json_object *status_json(const struct scaler *s, const struct evaluation *ev)
{
	json_object *st = json_object_new_object();
	const struct scale_decision *d = &ev->d;

	put_new(st, "observedGeneration", json_object_new_int64(ev->spec.generation));
	if (ev->have_scale)
		put_new(st, "currentReplicas", json_object_new_int(ev->current));
	if (ev->decided) {
		json_object *dec = json_object_new_object();
		json_object *ms = json_object_new_array();

		put_new(st, "desiredReplicas", json_object_new_int(d->desired));
		put_new(dec, "reactiveReplicas", json_object_new_int(d->reactive));
		put_new(dec, "forecastReplicas", json_object_new_int(d->forecast));
		put_new(dec, "recommendedReplicas", json_object_new_int(d->recommended));
		put_new(dec, "limitedBy", json_object_new_string(scale_limit_name(d->limited_by)));
		put_new(dec, "reason", json_object_new_string(d->reason));
		put_new(st, "decision", dec);
		for (size_t i = 0; i < ev->spec.n_metrics && i < s->n_m; i++) {
			const struct metric_state *m = &s->m[i];
			json_object *o = json_object_new_object();

			put_new(o, "name", json_object_new_string(ev->spec.metrics[i].name));
			if (m->has_value && isfinite(m->value))
				put_new(o, "value", num(m->value));
			if (m->has_forecast) {
				put_new(o, "forecast", num(m->forecast));
				put_new(o, "upper", num(m->upper));
				if (isfinite(m->mape))
					put_new(o, "mape", num(m->mape));
			}
			if (m->fc) {
				char when[32];

				put_new(o, "model", json_object_new_string(m->model));
				put_new(o, "season", json_object_new_string(m->season));
				rfc3339(when, sizeof(when), m->fitted_at);
				put_new(o, "fittedAt", json_object_new_string(when));
			}
			json_object_array_add(ms, o);
		}
		put_new(st, "metrics", ms);
	}
	if (s->last_scale_time[0])
		put_new(st, "lastScaleTime", json_object_new_string(s->last_scale_time));
	if (s->n_recent) {
		json_object *list = json_object_new_array();

		for (size_t i = 0; i < s->n_recent; i++) {
			json_object *o = json_object_new_object();
			char when[KUBE_TIME_LEN];

			kube_time_format(when, (int64_t)(s->recent[i].at * 1e6));
			put_new(o, "time", json_object_new_string(when));
			put_new(o, "from", json_object_new_int(s->recent[i].from));
			put_new(o, "to", json_object_new_int(s->recent[i].to));
			json_object_array_add(list, o);
		}
		put_new(st, "recentScales", list);
	}
	if (ev->spec_ok)
		put_new(st, "leadTime", lead_time_json(s, &ev->spec));
	put_new(st, "conditions", conditions_json(s, ev->spec.generation));
	return st;
}

/*
 * One metric state per metric of a valid spec: a scaler holds what its spec
 * asks for, not room for CTRL_METRICS_MAX. The models of metrics past a
 * smaller count are freed. False when out of memory to grow (nothing
 * changed); shrinking always succeeds.
 */
static bool size_metrics(struct scaler *s, size_t n)
{
	struct metric_state *m;

	if (n <= s->n_m) {
		for (size_t i = n; i < s->n_m; i++)
			fc_free(s->m[i].fc);
		if (n == 0) {
			free(s->m);
			s->m = NULL;
		} else if (n < s->n_m && (m = realloc(s->m, n * sizeof(*m)))) {
			s->m = m; /* a shrink realloc refused keeps the larger block */
		}
		s->n_m = n;
		return true;
	}
	if (!(m = realloc(s->m, n * sizeof(*m))))
		return false;
	memset(m + s->n_m, 0, (n - s->n_m) * sizeof(*m));
	for (size_t i = s->n_m; i < n; i++)
		m[i].written_value = m[i].written_forecast = NAN;
	s->m = m;
	s->n_m = n;
	return true;
}

static void publish_view(struct scaler *s, const struct evaluation *ev)
{
	struct scaler_view v;
	struct metric_view *mv;

	memset(&v, 0, sizeof(v));
	v.valid = ev->spec_ok && ev->decided;
	v.current = ev->current;
	v.desired = ev->d.desired;
	v.recommended = ev->d.recommended;
	v.min = ev->spec.scale.min_replicas;
	v.max = ev->spec.scale.max_replicas;
	v.fallback = ev->d.fallback_active;
	v.ready = s->cond[C_READY].set && s->cond[C_READY].status;
	v.metrics_unavailable = ev->d.metrics_failed;
	v.throttled = s->cond[C_THROTTLED].set && s->cond[C_THROTTLED].status;
	str_fmt(v.limited_by, sizeof(v.limited_by), "%s", scale_limit_name(ev->d.limited_by));
	v.n_metrics = ev->spec_ok ? ev->spec.n_metrics : 0;
	pthread_mutex_lock(&s->view_mu);
	v.metrics = s->view.metrics;
	if (v.n_metrics != s->view.n_metrics) {
		/* Never 0 bytes: realloc(p, 0) may free p and return NULL. */
		mv = realloc(v.metrics, (v.n_metrics ? v.n_metrics : 1) * sizeof(*mv));
		if (mv)
			v.metrics = mv;
		else if (v.n_metrics > s->view.n_metrics)
			v.n_metrics = s->view.n_metrics; /* out of memory: what fits */
	}
	for (size_t i = 0; i < v.n_metrics && i < s->n_m; i++) {
		mv = &v.metrics[i];
		str_fmt(mv->name, sizeof(mv->name), "%s", ev->spec.metrics[i].name);
		mv->has_value = s->m[i].has_value;
		mv->value = s->m[i].value;
		mv->has_forecast = s->m[i].has_forecast;
		mv->forecast = s->m[i].forecast;
		mv->upper = s->m[i].upper;
		mv->mape = s->m[i].mape;
		mv->target_per_replica = ev->spec.metrics[i].target_per_replica;
	}
	s->view = v;
	pthread_mutex_unlock(&s->view_mu);
}

/* The evaluation for the dashboard (operator/dashboard): its first metric, its conditions. */
static void publish_dash(struct ctrl *c, const struct scaler *s, const struct evaluation *ev)
{
	static const char *const modes[] = {"Auto", "DryRun", "Paused"};
	const struct metric_state *m = ev->spec.n_metrics && s->n_m ? &s->m[0] : NULL;
	struct dash_condition conds[N_CONDITIONS];
	struct dash_sample d;
	char target[300];
	size_t n = 0;
	struct fs_err err;

	if (!c->opts.dash)
		return;
	for (size_t i = 0; i < N_CONDITIONS; i++) {
		if (s->cond[i].set)
			conds[n++] = (struct dash_condition){condition_types[i], s->cond[i].status,
			                                     s->cond[i].reason, s->cond[i].message};
	}
	str_fmt(target, sizeof(target), "%s/%s", ev->spec.target_kind ? ev->spec.target_kind : "-",
	        ev->spec.target_name ? ev->spec.target_name : "-");
	d = (struct dash_sample){
	    .t = clock_unix_s(),
	    .target = target,
	    .mode = modes[ev->spec.scale.mode <= SCALE_MODE_PAUSED ? ev->spec.scale.mode : 0],
	    .dry_run = c->opts.dry_run,
	    .decided = ev->decided,
	    .metric = ev->spec.n_metrics ? ev->spec.metrics[0].name : NULL,
	    .target_per_replica = ev->spec.n_metrics ? ev->spec.metrics[0].target_per_replica : 0,
	    .load = m && m->has_value ? m->value : NAN,
	    .forecast = m && m->has_forecast ? m->forecast : NAN,
	    .upper = m && m->has_forecast ? m->upper : NAN,
	    .lower = m && m->has_forecast ? m->lower : NAN,
	    .lead_time = ev->spec.scale.lead_time,
	    .current = ev->current,
	    .desired = ev->decided ? ev->d.desired : ev->current,
	    .proposed = ev->decided ? ev->d.proposed : ev->current,
	    .min = ev->spec.scale.min_replicas,
	    .max = ev->spec.scale.max_replicas,
	    .scaled = ev->scaled,
	    .limited_by = ev->decided ? scale_limit_name(ev->d.limited_by) : NULL,
	    .reason = ev->decided ? ev->d.reason : ev->error,
	    .conditions = conds,
	    .n_conditions = n,
	};
	if (dash_publish(c->opts.dash, s->key, &d, &err) != FS_OK)
		log_debug("%s: %s", s->key, err.msg);
}

static void remember_scale(struct scaler *s, double at, int from, int to)
{
	if (s->n_recent == RECENT_SCALES) {
		memmove(s->recent, s->recent + 1, (RECENT_SCALES - 1) * sizeof(s->recent[0]));
		s->n_recent--;
	}
	s->recent[s->n_recent++] = (struct recent_scale){.at = at, .from = from, .to = to};
}

static bool replica_count(int *out, json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0 || json_object_get_int64(v) > INT32_MAX)
		return false;
	*out = (int)json_object_get_int64(v);
	return true;
}

/*
 * Once per scaler: what an earlier operator process (a crash, a new
 * leader) wrote in its status, the scale events for the rate policies and
 * lastScaleTime. Events that do not parse or lie in the future are left out.
 */
static void seed_from_status(struct scaler *s, json_object *obj, double now)
{
	json_object *st, *list, *v;

	s->seeded = true;
	if (!json_object_object_get_ex(obj, "status", &st))
		return;
	if (json_object_object_get_ex(st, "lastScaleTime", &v) &&
	    json_object_is_type(v, json_type_string))
		str_fmt(s->last_scale_time, sizeof(s->last_scale_time), "%s",
		        json_object_get_string(v));
	if (!json_object_object_get_ex(st, "recentScales", &list) ||
	    !json_object_is_type(list, json_type_array))
		return;
	for (size_t i = 0, n = json_object_array_length(list); i < n; i++) {
		json_object *e = json_object_array_get_idx(list, i);
		int64_t us;
		int from, to;

		if (!json_object_object_get_ex(e, "time", &v) ||
		    kube_time_parse(&us, json_object_get_string(v), NULL) != FS_OK ||
		    (double)us / 1e6 > now || !replica_count(&from, e, "from") ||
		    !replica_count(&to, e, "to"))
			continue;
		scale_history_record_scale(&s->hist, (double)us / 1e6, from, to, NULL);
		remember_scale(s, (double)us / 1e6, from, to);
	}
	if (s->n_recent)
		log_info("%s: %zu scale event%s taken from its status for the rate policies",
		         s->key, s->n_recent, s->n_recent == 1 ? "" : "s");
}

/* Sets the scale; records it for the rate policies and tells the world. */
static enum fs_rc apply_scale(struct ctrl *c, struct scaler *s, struct evaluation *ev,
                              const char *path, const char *uid, double now, struct fs_err *err)
{
	json_object *patch = json_tokener_parse("{\"spec\":{}}"), *spec, *scale = NULL, *v;
	char msg[512];
	enum fs_rc rc;

	json_object_object_get_ex(patch, "spec", &spec);
	json_object_object_add(spec, "replicas", json_object_new_int(ev->d.desired));
	rc = kube_send(&scale, c->opts.kube, "PATCH", path, "application/merge-patch+json", patch,
	               err);
	json_object_put(patch);
	if (rc != FS_OK)
		return rc;
	/* The Scale's resourceVersion is its target's: the cache must show this one. */
	free(s->expect_rv);
	s->expect_rv = s->target_kind >= 0 && json_object_object_get_ex(scale, "metadata", &v) &&
	                       json_object_object_get_ex(v, "resourceVersion", &v)
	                   ? strdup(json_object_get_string(v))
	                   : NULL;
	s->expect_until = clock_mono_s() + EXPECT_TTL_S;
	json_object_put(scale);
	scale_history_record_scale(&s->hist, now, ev->current, ev->d.desired, NULL);
	remember_scale(s, now, ev->current, ev->d.desired);
	rollout_scaled(c, s, now, ev->current, ev->d.desired);
	rfc3339(s->last_scale_time, sizeof(s->last_scale_time), now);
	str_fmt(msg, sizeof(msg), "Scaled %s/%s from %d to %d: %s", ev->spec.target_kind,
	        ev->spec.target_name, ev->current, ev->d.desired, ev->d.reason);
	emit(c, s, uid, EVENTS_NORMAL, ev->d.desired > ev->current ? "ScaledUp" : "ScaledDown",
	     "Scale", msg);
	log_info("%s: %s", s->key, msg);
	pthread_mutex_lock(&s->view_mu);
	s->scale_events++;
	pthread_mutex_unlock(&s->view_mu);
	ev->scaled = true;
	return FS_OK;
}

static const char *uid_of(json_object *obj)
{
	json_object *meta, *v;

	if (json_object_object_get_ex(obj, "metadata", &meta) &&
	    json_object_object_get_ex(meta, "uid", &v))
		return json_object_get_string(v);
	return NULL;
}

/* --- ConcurrencyBudgets ------------------------------------------------------ */

/* A condition that may also be Unknown (a budget's Saturated). */
struct tri_condition {
	const char *status; /* "True", "False", "Unknown"; NULL: not set */
	char reason[64];
	char message[512];
	char since[32];
};

enum { B_SATURATED, B_OVERCOMMITTED, N_BUDGET_CONDITIONS };

static const char *const budget_condition_types[N_BUDGET_CONDITIONS] = {"Saturated",
                                                                        "Overcommitted"};

/*
 * A ConcurrencyBudget as the controller keeps it. Everything but the
 * Prometheus client (the budget's own evaluation only) and the written
 * status (write_mu) is guarded by the controller's mu. Workers hold a
 * reference while they write its status, so a deleted budget lives until
 * the last one is done.
 */
struct budget_state {
	char key[KEY_MAX];
	char namespace[254];
	char name[254];
	int refs;

	bool valid; /* the spec parsed; `invalid` says why not */
	char invalid[512];
	char uid[64];
	int64_t generation;
	double capacity;
	int max_concurrent;
	bool has_query;
	enum budget_saturation saturation;
	char saturation_msg[400];
	double saturation_at; /* monotonic seconds of the reading; 0 none yet */
	struct tri_condition cond[N_BUDGET_CONDITIONS];
	unsigned long seq; /* of the last status snapshot taken */

	/* For /metrics. */
	double requested_units, allocated_units, used_units;
	size_t n_members;

	struct prom_share *prom; /* the budget's own evaluation only */
	char prom_url[512];

	pthread_mutex_t write_mu;
	unsigned long written_seq;
	char *last_status;
};

static void budget_unref(struct ctrl *c, struct budget_state *b)
{
	bool last;

	if (!b)
		return;
	pthread_mutex_lock(&c->mu);
	last = --b->refs == 0;
	pthread_mutex_unlock(&c->mu);
	if (!last)
		return;
	prom_share_put(b->prom);
	free(b->last_status);
	pthread_mutex_destroy(&b->write_mu);
	free(b);
}

/* The map's reference, for strmap_release at the end. */
static void budget_drop(void *p)
{
	struct budget_state *b = p;

	if (b && --b->refs == 0) {
		prom_share_put(b->prom);
		free(b->last_status);
		pthread_mutex_destroy(&b->write_mu);
		free(b);
	}
}

/* Budget `key`, created on first use, with a reference for the caller. Under mu. */
static struct budget_state *budget_get_locked(struct ctrl *c, const char *key)
{
	struct budget_state *b = strmap_get(&c->budgets, key);
	const char *slash;

	if (!b && (b = calloc(1, sizeof(*b)))) {
		slash = strchr(key, '/');
		str_fmt(b->key, sizeof(b->key), "%s", key);
		str_fmt(b->namespace, sizeof(b->namespace), "%.*s", slash ? (int)(slash - key) : 0,
		        key);
		str_fmt(b->name, sizeof(b->name), "%s", slash ? slash + 1 : key);
		pthread_mutex_init(&b->write_mu, NULL);
		b->refs = 1;
		if (strmap_put(&c->budgets, key, b, NULL, NULL) != FS_OK) {
			pthread_mutex_destroy(&b->write_mu);
			free(b);
			return NULL;
		}
	}
	if (b)
		b->refs++;
	return b;
}

static void set_tri(struct tri_condition *t, const char *status, const char *reason,
                    const char *message, double now)
{
	if (!t->status || strcmp(t->status, status) != 0)
		rfc3339(t->since, sizeof(t->since), now);
	t->status = status;
	str_fmt(t->reason, sizeof(t->reason), "%s", reason);
	str_fmt(t->message, sizeof(t->message), "%s", message);
}

static void emit_budget(struct ctrl *c, const struct budget_state *b, enum events_type type,
                        const char *reason, const char *message)
{
	struct events_ref ref = {
	    .api_version = "autoscaling.foresight.dev/v1alpha1",
	    .kind = "ConcurrencyBudget",
	    .namespace = b->namespace,
	    .name = b->name,
	    .uid = b->uid[0] ? b->uid : NULL,
	};

	if (c->opts.dry_run || !c->opts.events) {
		log_info("budget %s: event %s %s: %s", b->key,
		         type == EVENTS_WARNING ? "Warning" : "Normal", reason, message);
		return;
	}
	events_emit(c->opts.events, &ref, type, reason, "Allocate", "%s", message);
}

/* The members of one budget, as its plan sees them: one snapshot, under mu. */
struct members {
	size_t n;
	struct budget_member m[BUDGET_MEMBERS_MAX];
	struct scaler *s[BUDGET_MEMBERS_MAX];
	struct budget_grant g[BUDGET_MEMBERS_MAX];
	struct budget_totals totals;
	char unseen[254]; /* a member not evaluated yet (the first by name); "" none */
	bool too_many;
	const char *budget_key;
	struct ctrl *c;
};

static void collect_member(void *ctx, const char *key, void *value)
{
	struct members *ms = ctx;
	struct scaler *s;
	size_t at;

	if (strcmp(value, ms->budget_key) != 0)
		return;
	s = strmap_get(&ms->c->scalers, key);
	if (s && s->member == MEMBER_INVALID)
		return; /* its spec is invalid: it is not a member until that is fixed */
	if (!s || s->member != MEMBER_KNOWN || strcmp(s->budget_key, ms->budget_key) != 0) {
		const char *name = strchr(key, '/') ? strchr(key, '/') + 1 : key;

		if (!ms->unseen[0] || strcmp(name, ms->unseen) < 0)
			str_fmt(ms->unseen, sizeof(ms->unseen), "%s", name);
		return;
	}
	if (ms->n == BUDGET_MEMBERS_MAX) {
		ms->too_many = true;
		return;
	}
	/* Kept sorted by name, so the status lists members in a stable order. */
	for (at = ms->n; at > 0 && strcmp(ms->s[at - 1]->name, s->name) > 0; at--) {
		ms->s[at] = ms->s[at - 1];
		ms->m[at] = ms->m[at - 1];
	}
	ms->s[at] = s;
	ms->m[at] = (struct budget_member){
	    .name = s->name,
	    .units_per_replica = s->units_per_replica,
	    .weight = s->weight,
	    .min_replicas = s->min_replicas,
	    .requested = s->requested,
	    .current = s->held,
	    .scaling_up = s->rollout.active,
	    .waiting_since = s->waiting_since,
	};
	ms->n++;
}

/* The saturation the plan goes by: an old or missing reading is not "not saturated". */
static enum budget_saturation saturation_now(const struct budget_state *b)
{
	if (!b->has_query)
		return BUDGET_NOT_SATURATED;
	if (!b->saturation_at || clock_mono_s() - b->saturation_at > SATURATION_STALE_S)
		return BUDGET_SATURATION_UNKNOWN;
	return b->saturation;
}

/* Collects budget `b`'s members and plans for all of them. Under mu. */
static enum fs_rc plan_members(struct members *ms, struct ctrl *c, const struct budget_state *b,
                               struct fs_err *err)
{
	struct budget_params p = {b->capacity, b->max_concurrent, saturation_now(b)};

	memset(ms, 0, sizeof(*ms));
	ms->c = c;
	ms->budget_key = b->key;
	strmap_foreach(&c->membership, collect_member, ms);
	if (ms->too_many)
		return fs_fail(err, FS_EINVAL, "budget %s has more than %d members", b->name,
		               BUDGET_MEMBERS_MAX);
	return budget_plan(ms->g, &ms->totals, &p, ms->m, ms->n, err);
}

enum { NOTE_OVERCOMMITTED = 1, NOTE_FITS = 2 };

/*
 * The budget's status from a plan, as a merge patch, with its sequence
 * number; notes the Overcommitted transitions for Events. Under mu.
 */
static json_object *budget_status_locked(struct budget_state *b, const struct members *ms,
                                         bool planned, double now, unsigned long *seq, int *notes)
{
	json_object *patch = json_object_new_object(), *st = json_object_new_object();
	json_object *list = json_object_new_array(), *conds = json_object_new_array();
	char msg[512];

	json_object_object_add(st, "observedGeneration", json_object_new_int64(b->generation));
	json_object_object_add(st, "capacity", num(b->capacity));
	if (planned) {
		const struct budget_totals *t = &ms->totals;
		bool was = b->cond[B_OVERCOMMITTED].status &&
		           strcmp(b->cond[B_OVERCOMMITTED].status, "True") == 0;

		json_object_object_add(st, "requestedUnits", num(t->requested_units));
		json_object_object_add(st, "allocatedUnits", num(t->allocated_units));
		json_object_object_add(st, "usedUnits", num(t->used_units));
		json_object_object_add(st, "scalingUp", json_object_new_int(t->scaling_up));
		b->requested_units = t->requested_units;
		b->allocated_units = t->allocated_units;
		b->used_units = t->used_units;
		if (t->overcommitted) {
			str_fmt(
			    msg, sizeof(msg),
			    "the members' minReplicas need %g units, more than the capacity %g: "
			    "the minimums are kept, and no member gets more",
			    t->min_units, b->capacity);
			set_tri(&b->cond[B_OVERCOMMITTED], "True", "MinimumsAboveCapacity", msg,
			        now);
			if (!was)
				*notes |= NOTE_OVERCOMMITTED;
		} else {
			str_fmt(
			    msg, sizeof(msg),
			    "the members' minReplicas need %g of the %g units; the rest is shared",
			    t->min_units, b->capacity);
			set_tri(&b->cond[B_OVERCOMMITTED], "False", "MinimumsFit", msg, now);
			if (was)
				*notes |= NOTE_FITS;
		}
	}
	for (size_t i = 0; planned && i < ms->n; i++) {
		const struct budget_member *m = &ms->m[i];
		const struct budget_grant *g = &ms->g[i];
		json_object *o = json_object_new_object();
		enum budget_limit l = g->target < m->requested ? g->limit : BUDGET_LIMIT_NONE;

		json_object_object_add(o, "name", json_object_new_string(m->name));
		json_object_object_add(o, "requestedReplicas", json_object_new_int(m->requested));
		json_object_object_add(o, "allocatedReplicas", json_object_new_int(g->allocated));
		json_object_object_add(o, "currentReplicas", json_object_new_int(m->current));
		json_object_object_add(o, "units", num((double)m->current * m->units_per_replica));
		json_object_object_add(o, "weight", num(m->weight));
		json_object_object_add(o, "scalingUp", json_object_new_boolean(m->scaling_up));
		json_object_object_add(o, "limitedBy",
		                       json_object_new_string(ms->unseen[0] &&
		                                                      g->target > m->current &&
		                                                      l == BUDGET_LIMIT_NONE
		                                                  ? "MembersUnknown"
		                                                  : budget_limit_name(l)));
		json_object_array_add(list, o);
	}
	b->n_members = planned ? ms->n : 0;
	json_object_object_add(st, "memberCount", json_object_new_int(planned ? (int)ms->n : 0));
	json_object_object_add(st, "members", list);
	for (int i = 0; i < N_BUDGET_CONDITIONS; i++) {
		const struct tri_condition *t = &b->cond[i];
		json_object *o;

		if (!t->status)
			continue;
		o = json_object_new_object();
		json_object_object_add(o, "type",
		                       json_object_new_string(budget_condition_types[i]));
		json_object_object_add(o, "status", json_object_new_string(t->status));
		json_object_object_add(o, "reason", json_object_new_string(t->reason));
		json_object_object_add(o, "message", json_object_new_string(t->message));
		json_object_object_add(o, "lastTransitionTime", json_object_new_string(t->since));
		json_object_object_add(o, "observedGeneration",
		                       json_object_new_int64(b->generation));
		json_object_array_add(conds, o);
	}
	json_object_object_add(st, "conditions", conds);
	json_object_object_add(patch, "status", st);
	*seq = ++b->seq;
	return patch;
}

/*
 * Writes a status snapshot (consumed) with a merge patch on /status, unless
 * a newer one was written already or nothing changed; --dry-run only logs.
 */
static void write_budget_status(struct ctrl *c, struct budget_state *b, json_object *patch,
                                unsigned long seq)
{
	const char *text = json_object_to_json_string_ext(
	    patch, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	char path[PATH_LEN];
	struct fs_err err;
	enum fs_rc rc = FS_OK;

	pthread_mutex_lock(&b->write_mu);
	if (seq <= b->written_seq || (b->last_status && strcmp(b->last_status, text) == 0))
		goto out;
	if (c->opts.dry_run) {
		log_debug("dry-run: budget %s status would be %s", b->key, text);
	} else {
		str_fmt(path, sizeof(path),
		        GROUP_PATH "/namespaces/%s/concurrencybudgets/%s/status", b->namespace,
		        b->name);
		rc = kube_send(NULL, c->opts.kube, "PATCH", path, "application/merge-patch+json",
		               patch, &err);
		if (rc == FS_ENOTFOUND)
			rc = FS_OK; /* deleted meanwhile */
		if (rc != FS_OK)
			log_warn("budget %s: writing status: %s", b->key, err.msg);
	}
	if (rc == FS_OK) {
		free(b->last_status);
		b->last_status = strdup(text);
		b->written_seq = seq;
	}
out:
	pthread_mutex_unlock(&b->write_mu);
	json_object_put(patch);
}

static void budget_notes(struct ctrl *c, const struct budget_state *b, int notes)
{
	if (notes & NOTE_OVERCOMMITTED)
		emit_budget(c, b, EVENTS_WARNING, "Overcommitted",
		            b->cond[B_OVERCOMMITTED].message);
	if (notes & NOTE_FITS)
		emit_budget(c, b, EVENTS_NORMAL, "MinimumsFit", b->cond[B_OVERCOMMITTED].message);
}

struct poke {
	struct ctrl *c;
	const char *budget_key;
	const char *except;
};

static void poke_member(void *ctx, const char *key, void *value)
{
	struct poke *p = ctx;

	if (strcmp(value, p->budget_key) == 0 && (!p->except || strcmp(key, p->except) != 0))
		wq_add(p->c->queue, key, NULL);
}

/*
 * Queues the members of budget `budget_key` (but `except`) now: what some
 * of them wait for (units, a turn, the end of a saturation) came free.
 */
static void poke_members(struct ctrl *c, const char *budget_key, const char *except)
{
	struct poke p = {c, budget_key, except};

	if (!c->queue || !budget_key || !budget_key[0])
		return;
	pthread_mutex_lock(&c->mu);
	strmap_foreach(&c->membership, poke_member, &p);
	pthread_mutex_unlock(&c->mu);
}

static void queue_budget(struct ctrl *c, const char *budget_key)
{
	char key[KEY_MAX + sizeof(BUDGET_KEY_PREFIX)];

	if (!c->queue || !budget_key || !budget_key[0])
		return;
	str_fmt(key, sizeof(key), BUDGET_KEY_PREFIX "%s", budget_key);
	wq_add(c->queue, key, NULL);
}

/* Keeps the membership index (scaler -> budget) in step with a scaler object. */
static void note_membership(struct ctrl *c, json_object *obj, bool deleted)
{
	char key[KEY_MAX], now_in[KEY_MAX] = "", was_in[KEY_MAX] = "";
	json_object *v;
	const char *ns = NULL, *budget = NULL;
	char *old, *copy;

	if (kube_object_key(key, sizeof(key), obj, NULL) != FS_OK)
		return;
	if (json_object_object_get_ex(obj, "metadata", &v) &&
	    json_object_object_get_ex(v, "namespace", &v))
		ns = json_object_get_string(v);
	if (json_object_object_get_ex(obj, "spec", &v) &&
	    json_object_object_get_ex(v, "budget", &v) &&
	    json_object_object_get_ex(v, "name", &v) && json_object_is_type(v, json_type_string))
		budget = json_object_get_string(v);
	if (!deleted && ns && budget && budget[0])
		str_fmt(now_in, sizeof(now_in), "%s/%s", ns, budget);
	pthread_mutex_lock(&c->mu);
	old = strmap_get(&c->membership, key);
	if (old)
		str_fmt(was_in, sizeof(was_in), "%s", old);
	if (strcmp(was_in, now_in) != 0) {
		free(strmap_remove(&c->membership, key));
		copy = now_in[0] ? strdup(now_in) : NULL;
		if (copy && strmap_put(&c->membership, key, copy, NULL, NULL) != FS_OK)
			free(copy);
	}
	pthread_mutex_unlock(&c->mu);
	if (strcmp(was_in, now_in) != 0) {
		queue_budget(c, was_in);
		queue_budget(c, now_in);
	}
}

/*
 * The index, in c->informers and c->budget_informers, of the informers that
 * watch the namespace of `key` ("namespace/name"); c->n_informers: none do.
 */
static size_t informer_slot(const struct ctrl *c, const char *key)
{
	const char *slash = strchr(key, '/');
	size_t ns_len = slash ? (size_t)(slash - key) : 0, i;

	for (i = 0; i < c->n_informers; i++) {
		const char *ns = c->informer_ns[i];

		if (!ns || (strlen(ns) == ns_len && strncmp(ns, key, ns_len) == 0))
			break;
	}
	return i;
}

/* The cached budget `key` from the informer of its namespace (the caller's reference). */
static json_object *budget_informer_get(struct ctrl *c, const char *key)
{
	size_t i = informer_slot(c, key);

	return i < c->n_informers ? kube_informer_get(c->budget_informers[i], key) : NULL;
}

/* Reads the saturation query into `sat` and `msg`. The budget's own worker only. */
static enum budget_saturation read_saturation(struct ctrl *c, struct budget_state *b,
                                              const struct ctrl_budget_spec *bs, char *msg,
                                              size_t size)
{
	const char *url = bs->prom_url ? bs->prom_url : c->prometheus_url;
	struct prom_sample sample;
	struct fs_err err;

	if (!url) {
		str_fmt(msg, size,
		        "spec.prometheus.url is not set and the operator has no --prometheus-url");
		return BUDGET_SATURATION_UNKNOWN;
	}
	if (!b->prom || strcmp(b->prom_url, url) != 0) {
		struct prom_client_opts po;
		struct prom_share *fresh;

		prom_client_opts_init(&po);
		po.url = url;
		po.max_inflight = c->opts.prometheus_max_inflight;
		po.stop = c->opts.stop;
		if (prom_share_get(&fresh, &c->proms, &po, &err) != FS_OK) {
			str_fmt(msg, size, "the saturationQuery's Prometheus: %s", err.msg);
			return BUDGET_SATURATION_UNKNOWN;
		}
		prom_share_put(b->prom);
		b->prom = fresh;
		str_fmt(b->prom_url, sizeof(b->prom_url), "%s", url);
	}
	if (prom_query(&sample, b->prom->client, bs->saturation_query, 0, &err) != FS_OK) {
		str_fmt(msg, size, "the saturationQuery failed: %s", err.msg);
		return BUDGET_SATURATION_UNKNOWN;
	}
	switch (sample.status) {
	case PROM_VALUE:
		str_fmt(msg, size, "the saturationQuery returned %g", sample.value);
		return sample.value > 0 ? BUDGET_SATURATED : BUDGET_NOT_SATURATED;
	case PROM_EMPTY:
		/* A comparison that holds for no series ("x > 0.9") answers nothing: not saturated.
		 */
		str_fmt(msg, size, "the saturationQuery returned no series");
		return BUDGET_NOT_SATURATED;
	case PROM_NAN:
		str_fmt(msg, size, "the saturationQuery returned NaN");
		break;
	case PROM_STALE:
		str_fmt(msg, size, "the saturationQuery's latest sample is stale (%.0fs old)",
		        sample.at - sample.timestamp);
		break;
	case PROM_MULTI:
		str_fmt(msg, size, "the saturationQuery returned %zu series; it must return one",
		        sample.series);
		break;
	}
	return BUDGET_SATURATION_UNKNOWN;
}

struct period {
	struct ctrl *c;
	const char *budget_key;
	double seconds;
};

static void member_period(void *ctx, const char *key, void *value)
{
	struct period *p = ctx;
	struct scaler *s;

	if (strcmp(value, p->budget_key) != 0 || !(s = strmap_get(&p->c->scalers, key)))
		return;
	if (s->interval > 0 && (p->seconds <= 0 || s->interval < p->seconds))
		p->seconds = s->interval;
}

/* A budget's summary for the dashboard (operator/dashboard). Under mu. */
static void publish_budget_dash(struct ctrl *c, const struct budget_state *b,
                                const struct members *ms, bool planned)
{
	struct dash_budget d = {
	    .valid = b->valid,
	    .invalid = b->invalid,
	    .capacity = b->capacity,
	    .requested = planned ? ms->totals.requested_units : NAN,
	    .allocated = planned ? ms->totals.allocated_units : NAN,
	    .used = planned ? ms->totals.used_units : NAN,
	    .members = planned ? (int)ms->n : 0,
	    .scaling_up = planned ? ms->totals.scaling_up : 0,
	    .saturated = b->cond[B_SATURATED].status,
	    .saturated_why = b->cond[B_SATURATED].reason,
	    .overcommitted = b->cond[B_OVERCOMMITTED].status,
	};
	struct fs_err err;

	if (c->opts.dash && dash_publish_budget(c->opts.dash, b->key, &d, &err) != FS_OK)
		log_debug("budget %s: %s", b->key, err.msg);
}

/*
 * Evaluates one ConcurrencyBudget: reads its saturation query and writes its
 * status from a plan of all its members. Returns the delay until the next
 * evaluation in ms (0: drop the key).
 */
static long budget_evaluate(struct ctrl *c, const char *key)
{
	json_object *obj = budget_informer_get(c, key), *patch;
	struct ctrl_budget_spec bs;
	struct budget_state *b;
	struct members *ms;
	struct period per = {c, key, 0};
	enum budget_saturation sat = BUDGET_NOT_SATURATED, was;
	char msg[400] = "", cond_msg[512];
	struct fs_err err;
	double now = clock_unix_s();
	bool valid, planned, changed;
	unsigned long seq;
	int notes = 0;

	if (!obj) {
		pthread_mutex_lock(&c->mu);
		b = strmap_remove(&c->budgets, key);
		pthread_mutex_unlock(&c->mu);
		if (b && c->opts.dash)
			dash_forget_budget(c->opts.dash, key);
		if (b) {
			log_info("budget %s: deleted; its members hold their scale-ups", key);
			budget_unref(c, b);
			poke_members(c, key, NULL);
		}
		return 0;
	}
	pthread_mutex_lock(&c->mu);
	b = budget_get_locked(c, key);
	pthread_mutex_unlock(&c->mu);
	ms = calloc(1, sizeof(*ms));
	if (!b || !ms) {
		json_object_put(obj);
		budget_unref(c, b);
		free(ms);
		return BUDGET_PERIOD_MIN_MS;
	}
	valid = ctrl_budget_spec_parse(&bs, obj, &err) == FS_OK;
	json_object_put(obj);
	if (valid && bs.saturation_query)
		sat = read_saturation(c, b, &bs, msg, sizeof(msg));

	pthread_mutex_lock(&c->mu);
	changed = b->valid != valid || (valid && b->generation != bs.generation);
	was = saturation_now(b);
	b->valid = valid;
	if (!valid) {
		str_fmt(b->invalid, sizeof(b->invalid), "%s", err.msg);
		set_tri(&b->cond[B_SATURATED], "Unknown", "InvalidSpec", err.msg, now);
	} else {
		str_fmt(b->uid, sizeof(b->uid), "%s", bs.uid ? bs.uid : "");
		b->generation = bs.generation;
		b->capacity = bs.capacity;
		b->max_concurrent = bs.max_concurrent_scale_ups;
		b->has_query = bs.saturation_query != NULL;
		b->saturation = sat;
		b->saturation_at = clock_mono_s();
		str_fmt(b->saturation_msg, sizeof(b->saturation_msg), "%s", msg);
		if (!b->has_query)
			set_tri(&b->cond[B_SATURATED], "False", "NoSaturationQuery",
			        "the budget has no saturationQuery", now);
		else if (sat == BUDGET_SATURATED) {
			str_fmt(cond_msg, sizeof(cond_msg), "%s (above 0): no member scales up",
			        msg);
			set_tri(&b->cond[B_SATURATED], "True", "SaturationQueryAboveZero", cond_msg,
			        now);
		} else if (sat == BUDGET_NOT_SATURATED)
			set_tri(&b->cond[B_SATURATED], "False", "SaturationQueryNotAboveZero", msg,
			        now);
		else {
			str_fmt(cond_msg, sizeof(cond_msg),
			        "%s; no member scales up until it answers", msg);
			set_tri(&b->cond[B_SATURATED], "Unknown", "SaturationQueryFailed", cond_msg,
			        now);
		}
	}
	planned = valid && plan_members(ms, c, b, &err) == FS_OK;
	if (valid && !planned)
		log_warn("budget %s: %s", key, err.msg);
	patch = budget_status_locked(b, ms, planned, now, &seq, &notes);
	publish_budget_dash(c, b, ms, planned);
	strmap_foreach(&c->membership, member_period, &per);
	pthread_mutex_unlock(&c->mu);

	write_budget_status(c, b, patch, seq);
	budget_notes(c, b, notes);
	if (valid && b->has_query && sat != was) {
		if (sat == BUDGET_SATURATED)
			emit_budget(c, b, EVENTS_WARNING, "Saturated",
			            b->cond[B_SATURATED].message);
		else if (sat == BUDGET_NOT_SATURATED && was != BUDGET_NOT_SATURATED)
			emit_budget(c, b, EVENTS_NORMAL, "SaturationEnded", msg);
		else if (sat == BUDGET_SATURATION_UNKNOWN)
			emit_budget(c, b, EVENTS_WARNING, "SaturationQueryFailed", msg);
	}
	/* Members held back by what just changed go again now. */
	if (changed || (sat == BUDGET_NOT_SATURATED && was != BUDGET_NOT_SATURATED))
		poke_members(c, key, NULL);
	if (valid)
		ctrl_budget_spec_release(&bs);
	budget_unref(c, b);
	free(ms);
	{
		long ms_next =
		    per.seconds > 0 ? (long)(per.seconds * 1000.0) : BUDGET_PERIOD_MAX_MS;

		if (ms_next < BUDGET_PERIOD_MIN_MS)
			ms_next = BUDGET_PERIOD_MIN_MS;
		return ms_next > BUDGET_PERIOD_MAX_MS ? BUDGET_PERIOD_MAX_MS : ms_next;
	}
}

/* The decision's reason again after the budget changed `step`, as scale_evaluate words it. */
static void budget_reason(struct scale_decision *d, const char *step)
{
	char mode[SCALE_REASON_MAX / 4] = "";

	str_fmt(d->step, sizeof(d->step), "%s", step);
	if (d->mode == SCALE_MODE_DRY_RUN)
		str_fmt(mode, sizeof(mode), "; dry run, would scale from %d to %d", d->current,
		        d->proposed);
	else if (d->mode == SCALE_MODE_PAUSED)
		str_fmt(mode, sizeof(mode), "; paused at %d (would scale to %d)", d->current,
		        d->proposed);
	str_fmt(d->reason, sizeof(d->reason), "%s; %s%s", d->basis, d->step, mode);
}

/*
 * Cuts the decision to `target` replicas when the budget allows fewer than
 * it proposes: a scale-up capped (scale_apply_budget), or a give-back below
 * what it holds. Returns true when the budget bit.
 */
static bool budget_cut(struct scale_decision *d, int target, const char *budget)
{
	char step[SCALE_REASON_MAX / 2];
	int wanted = d->proposed;

	/* Paused changes nothing anyway; its reason stays "paused". */
	if (target >= d->proposed || d->mode == SCALE_MODE_PAUSED)
		return false;
	if (d->proposed > d->current && target >= d->current) {
		scale_apply_budget(d, target);
		str_fmt(step, sizeof(step), "scale-up to %d capped at %d by budget %.60s", wanted,
		        d->proposed, budget);
	} else {
		str_fmt(step, sizeof(step),
		        "giving %d replicas back to budget %.60s: %d is its fair share",
		        d->current - target, budget, target);
		d->proposed = target;
		d->clamped_by = SCALE_LIMIT_BUDGET;
		d->desired = target;
		d->limited_by = SCALE_LIMIT_BUDGET;
		if (d->mode != SCALE_MODE_AUTO) {
			d->desired = d->current;
			d->limited_by = d->mode == SCALE_MODE_DRY_RUN ? SCALE_LIMIT_DRY_RUN
			                                              : SCALE_LIMIT_PAUSED;
		}
	}
	budget_reason(d, step);
	return true;
}

/* The Throttled message: what it wanted, what it may have, and why. */
static void throttle_message(char *out, size_t size, const struct members *ms, size_t i,
                             const struct budget_state *b, int wanted, int current)
{
	const struct budget_grant *g = &ms->g[i];
	const struct budget_totals *t = &ms->totals;
	char head[96];

	str_fmt(head, sizeof(head), "wants %d replicas, has %d, may have %d", wanted, current,
	        g->target);
	switch (g->limit) {
	case BUDGET_LIMIT_SATURATED:
	case BUDGET_LIMIT_UNKNOWN:
		str_fmt(out, size, "%s: budget %s: %s; no member scales up", head, b->name,
		        b->saturation_msg[0] ? b->saturation_msg
		                             : "the saturationQuery is not read");
		break;
	case BUDGET_LIMIT_TURN:
		str_fmt(out, size,
		        "%s: budget %s lets %d members scale up at once and %d are; it waits its "
		        "turn",
		        head, b->name, b->max_concurrent, t->scaling_up);
		break;
	case BUDGET_LIMIT_RELEASE:
		str_fmt(out, size,
		        "%s: budget %s: its fair share is %d, but the members hold %g of the %g "
		        "units; it grows as those above their shares give units back",
		        head, b->name, g->allocated, t->used_units, b->capacity);
		break;
	default:
		str_fmt(out, size,
		        "%s: budget %s: its fair share is %d replicas (%g units); the %zu members "
		        "ask for %g of the %g units",
		        head, b->name, g->allocated,
		        (double)g->allocated * ms->m[i].units_per_replica, ms->n,
		        t->requested_units, b->capacity);
	}
}

/*
 * Puts a member's decision through its budget: a plan of every member from
 * one snapshot, under mu, so two members never both take the last units;
 * this member's part is applied to ev->d and its scale-up counted at once.
 * Fills `throttle` (the Throttled message, "" when the budget did not bite)
 * and `limit` (its reason).
 */
static void budget_decide(struct ctrl *c, struct scaler *s, struct evaluation *ev, double now,
                          char *throttle, size_t size, const char **limit)
{
	json_object *cached = budget_informer_get(c, s->budget_key);
	bool exists = cached != NULL;
	struct scale_decision *d = &ev->d;
	struct budget_state *b = NULL;
	struct members *ms = calloc(1, sizeof(*ms));
	json_object *patch = NULL;
	struct fs_err err;
	unsigned long seq = 0;
	int floor_n =
	    ev->current > ev->spec.scale.min_replicas ? ev->current : ev->spec.scale.min_replicas;
	int wanted = d->proposed, notes = 0;
	size_t i;

	json_object_put(cached);
	throttle[0] = '\0';
	*limit = "WithinBudget";
	pthread_mutex_lock(&c->mu);
	s->requested = d->mode == SCALE_MODE_PAUSED ? ev->current : d->proposed;
	s->held = ev->current;
	if (s->requested <= s->held)
		s->waiting_since = 0;
	else if (!s->waiting_since)
		s->waiting_since = now;
	b = strmap_get(&c->budgets, s->budget_key);
	if (!ms || !b || !b->valid) {
		/* No budget to go by: hold scale-ups (minReplicas aside), never scale-downs. */
		if (budget_cut(d, floor_n, ev->spec.budget_name)) {
			if (!ms)
				str_fmt(throttle, size, "out of memory planning budget %s",
				        ev->spec.budget_name);
			else if (!b && exists)
				str_fmt(throttle, size,
				        "budget %s is not evaluated yet; no scale-up until it is",
				        ev->spec.budget_name);
			else if (!b)
				str_fmt(throttle, size,
				        "spec.budget.name: there is no ConcurrencyBudget %s in "
				        "namespace "
				        "%s; no scale-up until it exists",
				        ev->spec.budget_name, s->namespace);
			else
				str_fmt(throttle, size, "budget %s is invalid: %s; no scale-up",
				        b->name, b->invalid);
			*limit = b ? "BudgetInvalid" : exists ? "BudgetPending" : "BudgetNotFound";
		}
		if (!b && exists)
			queue_budget(c, s->budget_key);
		s->held = d->desired > ev->current ? d->desired : ev->current;
		pthread_mutex_unlock(&c->mu);
		free(ms);
		return;
	}
	b->refs++;
	if (plan_members(ms, c, b, &err) != FS_OK) {
		if (budget_cut(d, floor_n, b->name)) {
			str_fmt(throttle, size, "budget %s: %s; no scale-up", b->name, err.msg);
			*limit = "BudgetInvalid";
		}
		s->held = d->desired > ev->current ? d->desired : ev->current;
		pthread_mutex_unlock(&c->mu);
		budget_unref(c, b);
		free(ms);
		return;
	}
	for (i = 0; i < ms->n && ms->s[i] != s; i++)
		;
	if (i < ms->n) {
		struct budget_grant *g = &ms->g[i];

		/* A member not evaluated yet may hold any number of units: nobody grows. */
		if (ms->unseen[0] && g->target > floor_n) {
			g->target = floor_n;
			if (budget_cut(d, floor_n, b->name)) {
				str_fmt(
				    throttle, size,
				    "wants %d replicas, has %d: budget %s: member %s has not been "
				    "evaluated yet; no scale-up until every member's count is "
				    "known",
				    wanted, ev->current, b->name, ms->unseen);
				*limit = "MembersUnknown";
			}
		} else if (budget_cut(d, g->target, b->name)) {
			throttle_message(throttle, size, ms, i, b, wanted, ev->current);
			*limit = budget_limit_name(
			    g->limit == BUDGET_LIMIT_NONE ? BUDGET_LIMIT_SHARE : g->limit);
		}
		s->allocated = g->allocated;
		/* Counted at once: the next plan sees it scaling up and its units taken. */
		if (d->desired > ev->current) {
			if (s->watch_rollouts)
				lead_rollout_start(&s->rollout, now, ev->current, d->desired);
			s->waiting_since = 0;
			ms->m[i].current = d->desired;
			ms->m[i].scaling_up = true;
		}
		s->held = d->desired > ev->current ? d->desired : ev->current;
	} else if (budget_cut(d, floor_n, b->name)) {
		/* Not among the members yet (the index lags its spec): no scale-up this time. */
		str_fmt(throttle, size, "budget %s does not list it as a member yet; no scale-up",
		        b->name);
		*limit = "MembersUnknown";
		s->held = ev->current;
	}
	patch = budget_status_locked(b, ms, true, now, &seq, &notes);
	publish_budget_dash(c, b, ms, true);
	pthread_mutex_unlock(&c->mu);
	write_budget_status(c, b, patch, seq);
	budget_notes(c, b, notes);
	budget_unref(c, b);
	free(ms);
}

/* The ForecastScaler informer whose namespace holds `key`; NULL: none does. */
static struct kube_informer *scaler_informer(struct ctrl *c, const char *key)
{
	size_t i = informer_slot(c, key);

	return i < c->n_informers ? c->informers[i] : NULL;
}

/*
 * The ForecastScaler `key` ("namespace/name"): its manifest (--once with
 * files), else the cached object from the informer of its namespace. The
 * caller owns the reference; NULL: there is none.
 */
static json_object *informer_get(struct ctrl *c, const char *key)
{
	json_object *manifest = strmap_get(&c->manifests, key);
	struct kube_informer *inf;

	if (manifest)
		return json_object_get(manifest);
	inf = scaler_informer(c, key);
	return inf ? kube_informer_get(inf, key) : NULL;
}

/*
 * Whether the ForecastScaler `key` is there, read without parsing it: its
 * stamp (kube_informer_stamp) and resourceVersion. A manifest (--once with
 * files) has the stamp 0, so it is parsed every time; it is in *obj then
 * (the caller's), else *obj is NULL.
 */
static bool scaler_stamp(uint64_t *stamp, char *rv, size_t rv_size, json_object **obj,
                         struct ctrl *c, const char *key)
{
	json_object *manifest = strmap_get(&c->manifests, key);
	struct kube_informer *inf;

	*obj = NULL;
	*stamp = 0;
	if (manifest) {
		*obj = json_object_get(manifest);
		str_fmt(rv, rv_size, "%s", resource_version(manifest));
		return true;
	}
	inf = scaler_informer(c, key);
	return inf && kube_informer_stamp(stamp, rv, rv_size, inf, key);
}

/* The scaler `key` is gone: it is forgotten, and its budget's units are free for the others. */
static void scaler_gone(struct ctrl *c, const char *key)
{
	char budget_key[KEY_MAX] = "";
	struct scaler *s;

	pthread_mutex_lock(&c->mu);
	s = strmap_get(&c->scalers, key);
	if (s)
		str_fmt(budget_key, sizeof(budget_key), "%s", s->budget_key);
	pthread_mutex_unlock(&c->mu);
	scaler_forget(c, key);
	poke_members(c, budget_key, NULL);
}

/*
 * Evaluates one scaler. `ev` receives what happened (for --once). Returns
 * the delay until the next evaluation in ms (0: drop the key).
 */
static long evaluate(struct ctrl *c, const char *key, struct evaluation *ev, struct fs_err *err)
{
	json_object *obj;
	uint64_t stamp;
	char rv[64];
	struct scale_metric metrics[CTRL_METRICS_MAX];
	struct scale_forecast fcs[CTRL_METRICS_MAX];
	struct scale_point points[CTRL_METRICS_MAX][64];
	char errors[CTRL_METRICS_MAX][256], why[CTRL_METRICS_MAX][256];
	char path[PATH_LEN], target[PATH_LEN], msg[600];
	int kind = -1;
	struct scaler *s;
	json_object *scale = NULL, *v;
	double now = clock_unix_s();
	long next_ms;
	enum fs_rc rc;

	memset(ev, 0, sizeof(*ev));
	if (!scaler_stamp(&stamp, rv, sizeof(rv), &obj, c, key)) {
		scaler_gone(c, key);
		return 0;
	}
	s = scaler_get(c, key);
	if (!s) {
		json_object_put(obj);
		fs_fail(err, FS_ENOMEM, "out of memory");
		return -1;
	}
	/* Between full evaluations of an unchanged spec, only the scale-up's readiness. */
	if (s->rollout.active && clock_mono_s() < s->full_due && stamp && stamp == s->spec_stamp) {
		/* Its scale-up is ready: a budget's next member may take its turn. */
		if (watch_rollout(c, s, now))
			poke_members(c, s->budget_key, key);
		return next_look_ms(c, s);
	}
	if (!stamp || stamp != s->spec_stamp) {
		if (!obj && !(obj = informer_get(c, key))) {
			scaler_gone(c, key); /* deleted since its stamp was read */
			return 0;
		}
		if (!s->seeded)
			seed_from_status(s, obj, now);
		ctrl_spec_release(&s->spec);
		s->spec_stamp = 0;
		if (ctrl_spec_parse(&s->spec, obj, err) != FS_OK) {
			/* Only this scaler stops; it is looked at again when its spec changes. */
			pthread_mutex_lock(&c->mu);
			s->member = MEMBER_INVALID;
			pthread_mutex_unlock(&c->mu);
			str_fmt(ev->error, sizeof(ev->error), "%s", err->msg);
			ev->spec.generation = generation_of(obj);
			set_condition(s, C_READY, false, "InvalidSpec", err->msg, now);
			if (s->invalid_reported != text_hash(err->msg)) {
				emit(c, s, uid_of(obj), EVENTS_WARNING, "InvalidSpec", "Validate",
				     err->msg);
				s->invalid_reported = text_hash(err->msg);
			}
			rc = write_status(c, s, rv, status_json(s, ev), err);
			publish_view(s, ev);
			publish_dash(c, s, ev);
			json_object_put(obj);
			return rc == FS_OK ? RETRY_INVALID_MS : -1;
		}
		s->spec_stamp = stamp;
		json_object_put(obj);
	}
	/* A shallow copy: the scaler keeps the spec, and frees it. */
	ev->spec = s->spec;
	ev->spec_ok = true;
	if (!size_metrics(s, ev->spec.n_metrics)) {
		fs_fail(err, FS_ENOMEM, "out of memory");
		return -1;
	}
	s->invalid_reported = 0;
	/* Before the target: the rules watch a scaler whose target is missing too. */
	reconcile_rules(c, s, &ev->spec, now);
	next_ms = next_on_grid_ms(s->key, ev->spec.interval, clock_unix_s());
	pthread_mutex_lock(&c->mu);
	str_fmt(msg, sizeof(msg), "%s%s%s", ev->spec.budget_name ? s->namespace : "",
	        ev->spec.budget_name ? "/" : "", ev->spec.budget_name ? ev->spec.budget_name : "");
	if (!set_text(&s->budget_key, msg)) {
		pthread_mutex_unlock(&c->mu);
		fs_fail(err, FS_ENOMEM, "out of memory");
		return -1;
	}
	s->units_per_replica = ev->spec.budget_units_per_replica;
	s->weight = ev->spec.budget_weight;
	s->min_replicas = ev->spec.scale.min_replicas;
	s->interval = ev->spec.interval;
	pthread_mutex_unlock(&c->mu);

	rc = scale_path(path, sizeof(path), &kind, c, &ev->spec, err);
	if (rc == FS_OK) {
		/* The target, "/scale" off: its watch says what a GET of /scale would. */
		str_fmt(target, sizeof(target), "%.*s", (int)(strlen(path) - 6), path);
		if (!(scale = cached_target(c, s, kind, target)))
			rc = kube_get(&scale, c->opts.kube, path, err);
	}
	if (rc != FS_OK) {
		bool invalid = rc == FS_EINVAL;

		/*
		 * A budget counts a missing target as holding nothing and a target
		 * it cannot scale as no member; after other errors it goes by what
		 * it last saw.
		 */
		pthread_mutex_lock(&c->mu);
		if (invalid) {
			s->member = MEMBER_INVALID;
		} else if (rc == FS_ENOTFOUND) {
			s->member = MEMBER_KNOWN;
			s->held = s->requested = 0;
		}
		pthread_mutex_unlock(&c->mu);
		str_fmt(ev->error, sizeof(ev->error), "%s", err->msg);
		set_condition(s, C_READY, false, invalid ? "InvalidSpec" : "TargetNotFound",
		              err->msg, now);
		set_condition(s, C_ABLE, false, "FailedGetScale", err->msg, now);
		if (s->invalid_reported != text_hash(err->msg)) {
			log_warn("%s: reading the target's scale: %s", s->key, err->msg);
			emit(c, s, ev->spec.uid, EVENTS_WARNING, "FailedGetScale", "GetScale",
			     err->msg);
			s->invalid_reported = text_hash(err->msg);
		}
		write_status(c, s, rv, status_json(s, ev), NULL);
		publish_view(s, ev);
		publish_dash(c, s, ev);
		return invalid ? RETRY_INVALID_MS : next_ms;
	}
	ev->have_scale = true;
	ev->current = json_object_object_get_ex(scale, "spec", &v) &&
	                      json_object_object_get_ex(v, "replicas", &v)
	                  ? json_object_get_int(v)
	                  : 0;
	json_object_put(scale);
	if (!set_text(&s->target_path, target)) {
		fs_fail(err, FS_ENOMEM, "out of memory");
		return -1;
	}
	s->target_kind = kind;
	s->watch_rollouts = ev->spec.lead_time_auto || ev->spec.budget_name;
	s->lead_auto = ev->spec.lead_time_auto;
	if (!s->watch_rollouts)
		rollout_scaled(c, s, now, 0, 0);
	if (watch_rollout(c, s, now))
		poke_members(c, s->budget_key, key);
	pthread_mutex_lock(&c->mu);
	if (s->member != MEMBER_KNOWN)
		s->requested = ev->current;
	s->member = MEMBER_KNOWN;
	s->held = ev->current;
	pthread_mutex_unlock(&c->mu);
	if (ev->spec.lead_time_auto)
		ev->spec.scale.lead_time = lead_seconds(&s->lead);

	rc = scaler_prom(c, s, &ev->spec, err);
	if (rc != FS_OK) {
		str_fmt(ev->error, sizeof(ev->error), "%s", err->msg);
		set_condition(s, C_READY, false,
		              rc == FS_EINVAL ? "InvalidSpec" : "PrometheusError", err->msg, now);
		write_status(c, s, rv, status_json(s, ev), NULL);
		publish_view(s, ev);
		publish_dash(c, s, ev);
		return next_ms;
	}
	if (evaluate_metrics(c, s, &ev->spec, now, metrics, fcs, points, errors, why, err) !=
	    FS_OK) {
		str_fmt(ev->error, sizeof(ev->error), "%s", err->msg);
		set_condition(s, C_READY, false, "InvalidSpec", err->msg, now);
		if (s->invalid_reported != text_hash(err->msg)) {
			emit(c, s, ev->spec.uid, EVENTS_WARNING, "InvalidSpec", "Validate",
			     err->msg);
			s->invalid_reported = text_hash(err->msg);
		}
		write_status(c, s, rv, status_json(s, ev), NULL);
		publish_view(s, ev);
		publish_dash(c, s, ev);
		return RETRY_INVALID_MS;
	}
	s->spec_generation = ev->spec.generation;
	rc = scale_evaluate(&ev->d, &s->hist, &ev->spec.scale, metrics, ev->spec.n_metrics,
	                    ev->current, now, err);
	if (rc != FS_OK) {
		str_fmt(ev->error, sizeof(ev->error), "%s", err->msg);
		set_condition(s, C_READY, false, "InvalidSpec", err->msg, now);
		write_status(c, s, rv, status_json(s, ev), NULL);
		publish_view(s, ev);
		publish_dash(c, s, ev);
		return RETRY_INVALID_MS;
	}
	ev->decided = true;

	if (ev->spec.budget_name) {
		char throttle[512];
		const char *limit;

		budget_decide(c, s, ev, now, throttle, sizeof(throttle), &limit);
		if (throttle[0]) {
			set_condition(s, C_THROTTLED, true, limit, throttle, now);
			if (s->throttle_reported != text_hash(throttle)) {
				log_info("%s: throttled: %s", s->key, throttle);
				emit(c, s, ev->spec.uid, EVENTS_NORMAL, "Throttled", "Budget",
				     throttle);
			}
		} else {
			str_fmt(msg, sizeof(msg), "budget %s: it may have all it asks for (%d)",
			        ev->spec.budget_name, ev->d.proposed);
			set_condition(s, C_THROTTLED, false, limit, msg, now);
		}
		s->throttle_reported = throttle[0] ? text_hash(throttle) : 0;
	} else if (s->cond[C_THROTTLED].set) {
		set_condition(s, C_THROTTLED, false, "NoBudget", "the scaler is in no budget", now);
	}

	set_condition(s, C_READY, true, "Evaluated", "the scaler is evaluated every interval", now);
	if (ev->d.desired != ev->current && !c->opts.dry_run) {
		rc = apply_scale(c, s, ev, path, ev->spec.uid, now, err);
		if (rc != FS_OK) {
			str_fmt(msg, sizeof(msg), "scaling %s from %d to %d failed: %s",
			        ev->spec.target_name, ev->current, ev->d.desired, err->msg);
			set_condition(s, C_ABLE, false, "FailedUpdateScale", msg, now);
			log_warn("%s: %s", s->key, msg);
			emit(c, s, ev->spec.uid, EVENTS_WARNING, "FailedRescale", "Scale", msg);
			next_ms = next_ms < 5000 ? next_ms : 5000;
		} else {
			set_condition(s, C_ABLE, true, "SucceededRescale", ev->d.reason, now);
		}
	} else {
		if (c->opts.dry_run && ev->d.desired != ev->current)
			log_info("dry-run: %s would scale %s from %d to %d: %s", s->key,
			         ev->spec.target_name, ev->current, ev->d.desired, ev->d.reason);
		set_condition(s, C_ABLE, true, "SucceededGetScale",
		              "the target's /scale can be read", now);
	}
	if (ev->spec.budget_name) {
		bool freed;

		/* What the budget counted for it is what its target really has now. */
		pthread_mutex_lock(&c->mu);
		if (!ev->scaled && s->rollout.active && s->rollout.since == now)
			s->rollout.active = false;
		s->held = ev->scaled ? ev->d.desired : ev->current;
		freed = ev->scaled && ev->d.desired < ev->current;
		pthread_mutex_unlock(&c->mu);
		if (freed)
			poke_members(c, s->budget_key, key);
	}
	if (ev->d.metrics_failed) {
		/* The first failure in full: the decision's reason is a short sentence. */
		const char *cause = ev->d.reason;

		for (size_t i = 0; i < ev->spec.n_metrics; i++) {
			if (metrics[i].sample == SCALE_SAMPLE_ERROR && metrics[i].error) {
				str_fmt(msg, sizeof(msg), "metric %s: %s", metrics[i].name,
				        metrics[i].error);
				cause = msg;
				break;
			}
		}
		set_condition(s, C_ACTIVE, false, "FailedGetMetrics", cause, now);
	} else
		set_condition(s, C_ACTIVE, true, "ValidMetricFound", ev->d.reason, now);
	{
		enum scale_limit l = ev->d.clamped_by;
		bool limited = l == SCALE_LIMIT_MIN_REPLICAS || l == SCALE_LIMIT_MAX_REPLICAS ||
		               l == SCALE_LIMIT_BEHAVIOR || l == SCALE_LIMIT_BUDGET;

		set_condition(s, C_LIMITED, limited,
		              limited ? scale_limit_name(l) : "DesiredWithinRange",
		              limited ? ev->d.reason : "the desired count was not limited", now);
	}
	if (ev->spec.model == FC_NONE)
		set_condition(s, C_FORECAST, false, "ForecastDisabled",
		              "spec.forecast.model is None", now);
	else
		set_condition(s, C_FORECAST, ev->d.forecast_ready,
		              ev->d.forecast_ready ? "ForecastReady" : "ForecastNotReady",
		              ev->d.forecast_ready ? "every metric's forecast is usable"
		                                   : ev->d.forecast_reason,
		              now);
	set_condition(s, C_FALLBACK, ev->d.fallback_active,
	              ev->d.fallback_active ? "MetricsUnavailable" : "MetricsAvailable",
	              ev->d.fallback_active ? ev->d.reason : "the metrics answer", now);
	if (ev->d.fallback_active && !s->was_fallback)
		emit(c, s, ev->spec.uid, EVENTS_WARNING, "FallbackActive", "Fallback",
		     ev->d.reason);
	if (!ev->d.fallback_active && s->was_fallback)
		emit(c, s, ev->spec.uid, EVENTS_NORMAL, "FallbackEnded", "Fallback",
		     "the metrics answer again; normal scaling resumes");
	s->was_fallback = ev->d.fallback_active;

	if (write_status(c, s, rv, status_json(s, ev), err) != FS_OK)
		log_warn("%s: writing status: %s", s->key, err->msg);
	publish_view(s, ev);
	publish_dash(c, s, ev);
	s->full_due = clock_mono_s() + (double)next_ms / 1000.0;
	return next_look_ms(c, s);
}

/*
 * Records an evaluation that began at `t0` and ended at `end` (monotonic
 * seconds); `due`, when it is earlier, is when it should have begun (an
 * interval's end), and its lag counts from there.
 */
static void record_evaluation(struct ctrl *c, double t0, double end, double due, bool full,
                              bool failed)
{
	pthread_mutex_lock(&c->stats_mu);
	c->reconcile_errors += failed;
	hist_observe(&c->durations, duration_buckets, end - t0);
	if (full)
		hist_observe(&c->lags, lag_buckets, end - (due > 0 && due < t0 ? due : t0));
	pthread_mutex_unlock(&c->stats_mu);
}

static enum fs_rc reconcile(void *ctx, const char *key)
{
	struct ctrl *c = ctx;
	struct evaluation ev;
	struct scaler *s;
	struct fs_err err;
	double t0, due;
	long next;

	if (strncmp(key, BUDGET_KEY_PREFIX, strlen(BUDGET_KEY_PREFIX)) == 0) {
		next = budget_evaluate(c, key + strlen(BUDGET_KEY_PREFIX));
		if (next > 0 && wq_add_after(c->queue, key, (uint32_t)next, &err) != FS_OK &&
		    err.rc != FS_ECANCELED)
			log_warn("requeueing %s: %s", key, err.msg);
		return FS_OK;
	}
	/*
	 * On the stack, not the heap: an allocation this size after json-c's
	 * many small ones sends glibc's malloc to consolidate its free lists.
	 */
	memset(&ev, 0, sizeof(ev));
	pthread_mutex_lock(&c->mu);
	s = strmap_get(&c->scalers, key);
	/* This worker's alone: the queue hands a key to one worker at a time. */
	due = s ? s->full_due : 0;
	pthread_mutex_unlock(&c->mu);
	t0 = clock_mono_s();
	next = evaluate(c, key, &ev, &err);
	/* A look at a scale-up's readiness between intervals is no evaluation. */
	record_evaluation(c, t0, clock_mono_s(), due, ev.decided || ev.error[0], next < 0);
	if (next < 0) {
		log_warn("%s: %s", key, err.msg);
		return err.rc ? err.rc : FS_EIO;
	}
	if (next > 0 && wq_add_after(c->queue, key, (uint32_t)next, &err) != FS_OK &&
	    err.rc != FS_ECANCELED)
		log_warn("requeueing %s: %s", key, err.msg);
	return FS_OK;
}

/* --- lifecycle ------------------------------------------------------------------ */

/* The informers of ForecastScalers and ConcurrencyBudgets in `ns` (NULL: all). */
static enum fs_rc add_informers(struct ctrl *c, char *ns, struct fs_err *err)
{
	static const char *const scaler_keep[] = {"spec", "status.lastScaleTime",
	                                          "status.recentScales", NULL};
	struct kube_informer_handlers h = {on_add, on_update, on_delete, c};
	struct kube_informer_handlers hb = {on_budget_add, on_budget_update, on_budget_delete, c};
	struct kube_informer_opts io;
	char path[PATH_LEN];
	size_t i = c->n_informers;
	enum fs_rc rc;

	if (i == CTRL_NAMESPACES_MAX)
		return fs_fail(err, FS_EINVAL, "--namespace: at most %d namespaces",
		               CTRL_NAMESPACES_MAX);
	kube_informer_opts_init(&io);
	io.path = path;
	io.name = "forecastscalers";
	/*
	 * Of the status, only what seed_from_status reads: the rest is
	 * rewritten by every evaluation, and is most of the object (kilobytes
	 * a scaler, parsed again at each evaluation).
	 */
	io.keep = scaler_keep;
	if (ns)
		str_fmt(path, sizeof(path), GROUP_PATH "/namespaces/%s/forecastscalers", ns);
	else
		str_fmt(path, sizeof(path), GROUP_PATH "/forecastscalers");
	rc = kube_informer_new(&c->informers[i], c->opts.kube, &io, &h, err);
	if (rc != FS_OK)
		return rc;
	c->informer_ns[i] = ns;
	c->n_informers++;
	io.name = "concurrencybudgets";
	io.keep = NULL;
	if (ns)
		str_fmt(path, sizeof(path), GROUP_PATH "/namespaces/%s/concurrencybudgets", ns);
	else
		str_fmt(path, sizeof(path), GROUP_PATH "/concurrencybudgets");
	return kube_informer_new(&c->budget_informers[i], c->opts.kube, &io, &hb, err);
}

enum fs_rc ctrl_new(struct ctrl **out, const struct ctrl_opts *opts, struct fs_err *err)
{
	struct ctrl *c = calloc(1, sizeof(*c));
	struct wq_opts qo;
	enum fs_rc rc;

	if (!c)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	c->opts = *opts;
	if (!c->opts.workers)
		c->opts.workers = 4;
	if (!c->opts.max_concurrent_refits)
		c->opts.max_concurrent_refits = 2;
	pthread_mutex_init(&c->mu, NULL);
	pthread_mutex_init(&c->proms.mu, NULL);
	pthread_mutex_init(&c->refit_mu, NULL);
	pthread_cond_init(&c->refit_cv, NULL);
	pthread_mutex_init(&c->stats_mu, NULL);
	pthread_mutex_init(&c->rules_mu, NULL);
	pthread_mutex_init(&c->targets_mu, NULL);
	strmap_init(&c->scalers);
	strmap_init(&c->kinds);
	strmap_init(&c->budgets);
	strmap_init(&c->membership);
	strmap_init(&c->manifests);
	c->opts.manifests = NULL;
	for (size_t i = 0; i < opts->n_manifests; i++) {
		char key[KEY_MAX];
		void *old = NULL;

		rc = kube_object_key(key, sizeof(key), opts->manifests[i], err);
		if (rc == FS_OK)
			rc = strmap_put(&c->manifests, key, opts->manifests[i], &old, err);
		if (rc != FS_OK)
			goto fail;
		json_object_get(opts->manifests[i]);
		json_object_put(old); /* the same scaler twice: the last one counts */
	}
	c->namespace = opts->namespace ? strdup(opts->namespace) : NULL;
	c->prometheus_url = opts->prometheus_url ? strdup(opts->prometheus_url) : NULL;
	wq_opts_init(&qo);
	rc = wq_new(&c->queue, &qo, err);
	if (rc != FS_OK)
		goto fail;
	if (!c->namespace || !c->namespace[0]) {
		rc = add_informers(c, NULL, err);
		if (rc != FS_OK)
			goto fail;
	} else {
		char *list = c->namespace, *save = NULL;

		for (char *ns = strtok_r(list, ",", &save); ns; ns = strtok_r(NULL, ",", &save)) {
			rc = add_informers(c, ns, err);
			if (rc != FS_OK)
				goto fail;
		}
		if (!c->n_informers) {
			rc = fs_fail(err, FS_EINVAL, "--namespace: no namespace named");
			goto fail;
		}
	}
	*out = c;
	return FS_OK;
fail:
	ctrl_free(c);
	return rc;
}

enum fs_rc ctrl_start(struct ctrl *c, struct fs_err *err)
{
	for (size_t i = 0; i < c->n_informers; i++) {
		enum fs_rc rc = kube_informer_start(c->informers[i], err);

		if (rc == FS_OK)
			rc = kube_informer_start(c->budget_informers[i], err);
		if (rc != FS_OK)
			return rc;
	}
	return FS_OK;
}

bool ctrl_ready(struct ctrl *c, char *why, size_t why_size)
{
	for (size_t i = 0; i < c->n_informers; i++) {
		if (!kube_informer_healthy(c->informers[i], why, why_size) ||
		    !kube_informer_healthy(c->budget_informers[i], why, why_size))
			return false;
	}
	return true;
}

bool ctrl_wait_synced(struct ctrl *c, long timeout_ms)
{
	double deadline = clock_mono_s() + (double)timeout_ms / 1000.0;

	for (size_t i = 0; i < c->n_informers; i++) {
		long left = (long)((deadline - clock_mono_s()) * 1000.0);

		if (!kube_informer_wait_synced(c->informers[i], left > 0 ? left : 0))
			return false;
		left = (long)((deadline - clock_mono_s()) * 1000.0);
		if (!kube_informer_wait_synced(c->budget_informers[i], left > 0 ? left : 0))
			return false;
	}
	return true;
}

/* Every cached scaler of every informer, as kube_informer_foreach. */
static void informers_foreach(struct ctrl *c,
                              void (*fn)(void *ctx, const char *key, const char *rv,
                                         const char *json),
                              void *ctx)
{
	for (size_t i = 0; i < c->n_informers; i++)
		kube_informer_foreach(c->informers[i], fn, ctx);
}

static void queue_budget_key(void *ctx, const char *key, const char *rv, const char *json)
{
	(void)rv;
	(void)json;
	queue_budget(ctx, key);
}

static void queue_key(void *ctx, const char *key, const char *rv, const char *json)
{
	struct ctrl *c = ctx;

	(void)rv;
	(void)json;
	wq_add(c->queue, key, NULL);
}

enum fs_rc ctrl_start_workers(struct ctrl *c, struct fs_err *err)
{
	enum fs_rc rc;

	if (c->workers_running)
		return FS_OK;
	rc = wq_start_workers(c->queue, c->opts.workers, reconcile, c, err);
	if (rc != FS_OK)
		return rc;
	c->workers_running = true;
	for (size_t i = 0; i < c->n_informers; i++)
		kube_informer_foreach(c->budget_informers[i], queue_budget_key, c);
	informers_foreach(c, queue_key, c);
	return FS_OK;
}

struct once_keys {
	char **keys;
	size_t n;
};

static void collect_key(void *ctx, const char *key, const char *rv, const char *json)
{
	struct once_keys *k = ctx;
	char **grown = realloc(k->keys, (k->n + 1) * sizeof(*k->keys));

	(void)rv;
	(void)json;
	if (!grown)
		return;
	k->keys = grown;
	k->keys[k->n] = strdup(key);
	if (k->keys[k->n])
		k->n++;
}

static void collect_manifest_key(void *ctx, const char *key, void *value)
{
	(void)value;
	collect_key(ctx, key, NULL, NULL);
}

static void manifest_put(void *obj)
{
	json_object_put(obj);
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int ctrl_once(struct ctrl *c, FILE *out)
{
	struct once_keys k = {NULL, 0}, bk = {NULL, 0};
	int failed = 0;

	/* Budgets first: their members' plans read their saturation. */
	for (size_t i = 0; i < c->n_informers; i++)
		kube_informer_foreach(c->budget_informers[i], collect_key, &bk);
	for (size_t i = 0; i < bk.n; i++) {
		budget_evaluate(c, bk.keys[i]);
		free(bk.keys[i]);
	}
	free(bk.keys);
	if (c->manifests.len)
		strmap_foreach(&c->manifests, collect_manifest_key, &k);
	else
		informers_foreach(c, collect_key, &k);
	qsort(k.keys, k.n, sizeof(*k.keys), cmp_keys);
	fprintf(out, "%-40s %-24s %7s %7s %8s %8s %11s %-12s %s\n", "SCALER", "TARGET", "CURRENT",
	        "DESIRED", "REACTIVE", "FORECAST", "RECOMMENDED", "LIMITED-BY", "REASON");
	for (size_t i = 0; i < k.n; i++) {
		struct evaluation *ev = calloc(1, sizeof(*ev));
		struct fs_err err;
		long next;

		if (!ev)
			break;
		next = evaluate(c, k.keys[i], ev, &err);
		if (ev->decided) {
			fprintf(out, "%-40s %-24s %7d %7d %8d %8d %11d %-12s %s\n", k.keys[i],
			        ev->spec.target_name, ev->current, ev->d.desired, ev->d.reactive,
			        ev->d.forecast, ev->d.recommended,
			        scale_limit_name(ev->d.limited_by), ev->d.reason);
		} else {
			fprintf(out, "%-40s %-24s %7s %7s %8s %8s %11s %-12s %s\n", k.keys[i],
			        ev->spec.target_name ? ev->spec.target_name : "-", "-", "-", "-",
			        "-", "-", "-", next < 0 ? err.msg : ev->error);
			failed++;
		}
		free(ev);
		free(k.keys[i]);
	}
	free(k.keys);
	return failed;
}

void ctrl_free(struct ctrl *c)
{
	if (!c)
		return;
	if (c->queue) {
		wq_stop_workers(c->queue);
		wq_shutdown(c->queue);
	}
	for (size_t i = 0; i < c->n_informers; i++) {
		kube_informer_free(c->informers[i]);
		kube_informer_free(c->budget_informers[i]);
		kube_informer_free(c->rules_informers[i]);
		for (size_t k = 0; k < N_TARGET_KINDS; k++)
			kube_informer_free(c->targets[k][i]);
	}
	wq_free(c->queue);
	strmap_release(&c->scalers, scaler_free);
	strmap_release(&c->kinds, free);
	strmap_release(&c->budgets, budget_drop);
	strmap_release(&c->manifests, manifest_put);
	strmap_release(&c->membership, free);
	/* Every scaler and budget gave its client back above. */
	pthread_mutex_destroy(&c->proms.mu);
	pthread_mutex_destroy(&c->mu);
	pthread_mutex_destroy(&c->refit_mu);
	pthread_cond_destroy(&c->refit_cv);
	pthread_mutex_destroy(&c->stats_mu);
	pthread_mutex_destroy(&c->rules_mu);
	pthread_mutex_destroy(&c->targets_mu);
	free(c->namespace);
	free(c->prometheus_url);
	free(c);
}

/* --- /metrics --------------------------------------------------------------------- */

struct render {
	struct buf *out;
	enum fs_rc rc;
	struct fs_err *err;
	int pass;
};

#define APPEND(r, ...)                                                         \
	do {                                                                   \
		if ((r)->rc == FS_OK)                                          \
			(r)->rc = buf_printf((r)->out, (r)->err, __VA_ARGS__); \
	} while (0)

/* Label values escaped as the text format wants (\\, \", \n). */
static void escape_label(char *out, size_t size, const char *s)
{
	size_t o = 0;

	for (; *s && o + 2 < size; s++) {
		if (*s == '\\' || *s == '"') {
			out[o++] = '\\';
			out[o++] = *s;
		} else if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else {
			out[o++] = *s;
		}
	}
	out[o] = '\0';
}

static const struct {
	const char *name;
	const char *help;
	const char *type;
} scaler_series[] = {
    {"foresight_scaler_current_replicas", "Replicas of the target when last evaluated.", "gauge"},
    {"foresight_scaler_desired_replicas", "Replicas the scaler wants.", "gauge"},
    {"foresight_scaler_recommended_replicas", "Replicas the metrics need, before any clamp.",
     "gauge"},
    {"foresight_scaler_min_replicas", "spec.minReplicas.", "gauge"},
    {"foresight_scaler_max_replicas", "spec.maxReplicas.", "gauge"},
    {"foresight_scaler_fallback_active", "1 while the fallback applies.", "gauge"},
    {"foresight_scaler_scale_events_total", "Scale changes made.", "counter"},
    {"foresight_scaler_query_errors_total", "Prometheus queries that failed.", "counter"},
    {"foresight_scaler_metric_value", "The metric's observed value.", "gauge"},
    {"foresight_scaler_metric_forecast", "The metric's forecast one lead time ahead.", "gauge"},
    {"foresight_scaler_metric_forecast_upper",
     "The upper bound of the forecast at the spec's quantile.", "gauge"},
    {"foresight_scaler_metric_forecast_error", "The forecast's recent error (MAPE, fraction).",
     "gauge"},
    {"foresight_scaler_ready", "1 while the scaler is evaluated (Ready=True).", "gauge"},
    {"foresight_scaler_metrics_unavailable",
     "1 while the last evaluation could not read a metric (ScalingActive=False).", "gauge"},
    {"foresight_scaler_throttled", "1 while its ConcurrencyBudget holds it back (Throttled=True).",
     "gauge"},
    {"foresight_scaler_metric_target_per_replica", "The metric's spec targetPerReplica.", "gauge"},
};

static void render_scaler(void *ctx, const char *key, void *value)
{
	struct render *r = ctx;
	struct scaler *s = value;
	struct scaler_view v;
	unsigned long events, errors;
	char ns[600], name[600], labels[1400];

	(void)key;
	/* Held to the end: publish_view resizes v.metrics under it. */
	pthread_mutex_lock(&s->view_mu);
	v = s->view;
	events = s->scale_events;
	errors = s->query_errors;
	escape_label(ns, sizeof(ns), s->namespace);
	escape_label(name, sizeof(name), s->name);
	str_fmt(labels, sizeof(labels), "namespace=\"%s\",name=\"%s\"", ns, name);
	switch (r->pass) {
	case 0:
		if (v.valid)
			APPEND(r, "%s{%s} %d\n", scaler_series[0].name, labels, v.current);
		break;
	case 1:
		if (v.valid)
			APPEND(r, "%s{%s} %d\n", scaler_series[1].name, labels, v.desired);
		break;
	case 2:
		if (v.valid)
			APPEND(r, "%s{%s} %d\n", scaler_series[2].name, labels, v.recommended);
		break;
	case 3:
		if (v.valid)
			APPEND(r, "%s{%s} %d\n", scaler_series[3].name, labels, v.min);
		break;
	case 4:
		if (v.valid)
			APPEND(r, "%s{%s} %d\n", scaler_series[4].name, labels, v.max);
		break;
	case 5:
		APPEND(r, "%s{%s} %d\n", scaler_series[5].name, labels, v.fallback ? 1 : 0);
		break;
	case 6:
		APPEND(r, "%s{%s} %lu\n", scaler_series[6].name, labels, events);
		break;
	case 7:
		APPEND(r, "%s{%s} %lu\n", scaler_series[7].name, labels, errors);
		break;
	case 12:
		APPEND(r, "%s{%s} %d\n", scaler_series[12].name, labels, v.ready ? 1 : 0);
		break;
	case 13:
		if (v.valid)
			APPEND(r, "%s{%s} %d\n", scaler_series[13].name, labels,
			       v.metrics_unavailable ? 1 : 0);
		break;
	case 14:
		APPEND(r, "%s{%s} %d\n", scaler_series[14].name, labels, v.throttled ? 1 : 0);
		break;
	default:
		for (size_t i = 0; i < v.n_metrics; i++) {
			char metric[200];
			double x;
			bool have;

			escape_label(metric, sizeof(metric), v.metrics[i].name);
			switch (r->pass) {
			case 8:
				have = v.metrics[i].has_value;
				x = v.metrics[i].value;
				break;
			case 9:
				have = v.metrics[i].has_forecast;
				x = v.metrics[i].forecast;
				break;
			case 10:
				have = v.metrics[i].has_forecast;
				x = v.metrics[i].upper;
				break;
			case 11:
				have = v.metrics[i].has_forecast && isfinite(v.metrics[i].mape);
				x = v.metrics[i].mape;
				break;
			default:
				have = true;
				x = v.metrics[i].target_per_replica;
				break;
			}
			if (have && isfinite(x))
				APPEND(r, "%s{%s,metric=\"%s\"} %.17g\n",
				       scaler_series[r->pass].name, labels, metric, x);
		}
	}
	pthread_mutex_unlock(&s->view_mu);
}

static const struct {
	const char *name;
	const char *help;
} budget_series[] = {
    {"foresight_budget_capacity_units", "spec.capacity of the ConcurrencyBudget."},
    {"foresight_budget_requested_units", "What the budget's members ask for together."},
    {"foresight_budget_allocated_units", "The members' fair shares together."},
    {"foresight_budget_used_units", "What the members' targets hold together."},
    {"foresight_budget_members", "Members of the budget."},
    {"foresight_budget_saturated", "1 while the saturationQuery returns a value above 0."},
    {"foresight_budget_saturation_unknown",
     "1 while the saturationQuery fails (no member scales up)."},
    {"foresight_budget_overcommitted", "1 while the members' minimums exceed the capacity."},
};

/* Under mu (strmap_foreach of the budgets). */
static void render_budget(void *ctx, const char *key, void *value)
{
	struct render *r = ctx;
	const struct budget_state *b = value;
	char ns[600], name[600];
	enum budget_saturation sat = saturation_now(b);
	double v = 0;

	(void)key;
	if (!b->valid)
		return;
	escape_label(ns, sizeof(ns), b->namespace);
	escape_label(name, sizeof(name), b->name);
	switch (r->pass) {
	case 0:
		v = b->capacity;
		break;
	case 1:
		v = b->requested_units;
		break;
	case 2:
		v = b->allocated_units;
		break;
	case 3:
		v = b->used_units;
		break;
	case 4:
		v = (double)b->n_members;
		break;
	case 5:
		v = sat == BUDGET_SATURATED;
		break;
	case 6:
		v = sat == BUDGET_SATURATION_UNKNOWN;
		break;
	default:
		v = b->cond[B_OVERCOMMITTED].status &&
		    strcmp(b->cond[B_OVERCOMMITTED].status, "True") == 0;
	}
	APPEND(r, "%s{namespace=\"%s\",name=\"%s\"} %.17g\n", budget_series[r->pass].name, ns, name,
	       v);
}

static void render_histogram(struct render *r, const char *name, const char *help,
                             const double *bounds, const struct histogram *h)
{
	APPEND(r, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (size_t i = 0; i < HIST_BUCKETS; i++)
		APPEND(r, "%s_bucket{le=\"%g\"} %lu\n", name, bounds[i], h->buckets[i]);
	APPEND(r, "%s_bucket{le=\"+Inf\"} %lu\n", name, h->count);
	APPEND(r, "%s_sum %.6f\n", name, h->sum);
	APPEND(r, "%s_count %lu\n", name, h->count);
}

enum fs_rc ctrl_render_metrics(struct ctrl *c, struct buf *out, struct fs_err *err)
{
	struct render r = {out, FS_OK, err, 0};
	struct kube_informer_stats is, total;
	size_t cached = 0;
	struct histogram durations, lags;
	unsigned long status_writes[STATUS_CAUSES];
	unsigned long errors;

	for (r.pass = 0; r.pass < (int)(sizeof(scaler_series) / sizeof(scaler_series[0]));
	     r.pass++) {
		APPEND(&r, "# HELP %s %s\n# TYPE %s %s\n", scaler_series[r.pass].name,
		       scaler_series[r.pass].help, scaler_series[r.pass].name,
		       scaler_series[r.pass].type);
		pthread_mutex_lock(&c->mu);
		strmap_foreach(&c->scalers, render_scaler, &r);
		pthread_mutex_unlock(&c->mu);
	}
	for (r.pass = 0; r.pass < (int)(sizeof(budget_series) / sizeof(budget_series[0]));
	     r.pass++) {
		APPEND(&r, "# HELP %s %s\n# TYPE %s gauge\n", budget_series[r.pass].name,
		       budget_series[r.pass].help, budget_series[r.pass].name);
		pthread_mutex_lock(&c->mu);
		strmap_foreach(&c->budgets, render_budget, &r);
		pthread_mutex_unlock(&c->mu);
	}
	pthread_mutex_lock(&c->stats_mu);
	durations = c->durations;
	lags = c->lags;
	errors = c->reconcile_errors;
	memcpy(status_writes, c->status_writes, sizeof(status_writes));
	pthread_mutex_unlock(&c->stats_mu);
	render_histogram(&r, "foresight_reconcile_duration_seconds",
	                 "Time one evaluation of a scaler took.", duration_buckets, &durations);
	render_histogram(&r, "foresight_evaluation_lag_seconds",
	                 "From when an evaluation was due (its interval's end, or the change "
	                 "that queued it) to its last write.",
	                 lag_buckets, &lags);
	APPEND(&r,
	       "# HELP foresight_reconcile_errors_total Evaluations that failed and were retried.\n"
	       "# TYPE foresight_reconcile_errors_total counter\n"
	       "foresight_reconcile_errors_total %lu\n",
	       errors);
	APPEND(&r, "# HELP foresight_status_writes_total ForecastScaler status writes, by what "
	           "made them: the first, a changed decision, figures alone (--status-refresh), "
	           "or the object changed by another writer (restored).\n"
	           "# TYPE foresight_status_writes_total counter\n");
	for (size_t i = 0; i < STATUS_CAUSES; i++)
		APPEND(&r, "foresight_status_writes_total{cause=\"%s\"} %lu\n",
		       status_cause_names[i], status_writes[i]);
	memset(&total, 0, sizeof(total));
	for (size_t i = 0; i < c->n_informers; i++) {
		kube_informer_stats(&is, c->informers[i]);
		total.relists_gone += is.relists_gone;
		total.lists += is.lists;
		cached += kube_informer_len(c->informers[i]);
	}
	APPEND(&r,
	       "# HELP foresight_informer_relists_total LISTs of ForecastScalers, by cause.\n"
	       "# TYPE foresight_informer_relists_total counter\n"
	       "foresight_informer_relists_total{cause=\"gone\"} %lu\n"
	       "foresight_informer_relists_total{cause=\"all\"} %lu\n"
	       "# HELP foresight_scalers ForecastScalers in the cache.\n"
	       "# TYPE foresight_scalers gauge\n"
	       "foresight_scalers %zu\n",
	       total.relists_gone, total.lists, cached);
	{
		struct prom_client_stats ps;

		prom_pool_stats(&ps, &c->proms);
		APPEND(
		    &r,
		    "# HELP foresight_prometheus_queries_total Prometheus queries the scalers "
		    "and budgets made.\n"
		    "# TYPE foresight_prometheus_queries_total counter\n"
		    "foresight_prometheus_queries_total %lu\n"
		    "# HELP foresight_prometheus_requests_total HTTP requests those queries took.\n"
		    "# TYPE foresight_prometheus_requests_total counter\n"
		    "foresight_prometheus_requests_total %lu\n"
		    "# HELP foresight_prometheus_errors_total Prometheus queries that failed.\n"
		    "# TYPE foresight_prometheus_errors_total counter\n"
		    "foresight_prometheus_errors_total %lu\n"
		    "# HELP foresight_prometheus_throttled_total Requests that waited for a "
		    "--prometheus-max-inflight slot.\n"
		    "# TYPE foresight_prometheus_throttled_total counter\n"
		    "foresight_prometheus_throttled_total %lu\n"
		    "# HELP foresight_workqueue_depth Scalers due for evaluation and waiting for a "
		    "worker (--max-concurrent-reconciles).\n"
		    "# TYPE foresight_workqueue_depth gauge\n"
		    "foresight_workqueue_depth %zu\n",
		    ps.queries, ps.requests, ps.errors, ps.waits, wq_len(c->queue));
	}
	return r.rc;
}
