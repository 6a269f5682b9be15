#include "kube/events.h"

#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/hash.h"
#include "base/log.h"
#include "base/ratelimit.h"
#include "kube/time.h"

#define DEFAULT_CONTROLLER "foresight.dev/operator"
#define DEFAULT_QUEUE_CAP  1000
#define DEFAULT_CACHE_CAP  4096
#define DEFAULT_TIMEOUT_MS 10000
#define EVENT_NAME_MAX     253
#define EVENTS_PATH        "/apis/events.k8s.io/v1/namespaces/%s/events"

/* ---- The pure core ---- */

/* A regarding object's spam-filter bucket. */
struct bucket {
	char *regarding;
	struct ratelimit rl;
	double last_used;
};

struct events_cache {
	size_t cap;
	struct events_series **series; /* n of cap used */
	size_t n;
	struct bucket *buckets; /* nbuckets of cap used */
	size_t nbuckets;
};

/* `s` and a separator into `h`, so that ("ab", "c") and ("a", "bc") differ. */
static uint64_t hash_field(uint64_t h, const char *s)
{
	return hash_byte(hash_str(h, s), 0xff);
}

static uint64_t key_hash(const struct events_key *k)
{
	uint64_t h = HASH_SEED;

	h = hash_field(h, k->regarding);
	h = hash_field(h, k->reason);
	h = hash_field(h, k->action);
	h = hash_field(h, k->type);
	return hash_field(h, k->note);
}

static bool key_equal(const struct events_key *a, const struct events_key *b)
{
	return strcmp(a->regarding, b->regarding) == 0 && strcmp(a->reason, b->reason) == 0 &&
	       strcmp(a->action, b->action) == 0 && strcmp(a->type, b->type) == 0 &&
	       strcmp(a->note, b->note) == 0;
}

void events_series_free(struct events_series *s)
{
	if (!s)
		return;
	free((char *)s->key.regarding);
	free((char *)s->key.reason);
	free((char *)s->key.action);
	free((char *)s->key.type);
	free((char *)s->key.note);
	free(s->event_namespace);
	free(s->event_name);
	free(s);
}

static struct events_series *series_new(const struct events_key *key, uint64_t hash, double now,
                                        int64_t wall_us)
{
	struct events_series *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->key.regarding = strdup(key->regarding);
	s->key.reason = strdup(key->reason);
	s->key.action = strdup(key->action);
	s->key.type = strdup(key->type);
	s->key.note = strdup(key->note);
	if (!s->key.regarding || !s->key.reason || !s->key.action || !s->key.type || !s->key.note) {
		events_series_free(s);
		return NULL;
	}
	s->hash = hash;
	s->count = 1;
	s->last_seen = now;
	s->last_seen_wall_us = wall_us;
	return s;
}

enum fs_rc events_cache_new(struct events_cache **out, size_t cap, struct fs_err *err)
{
	struct events_cache *c;

	if (cap < 1)
		return fs_fail(err, FS_EINVAL, "events: the cache needs room for one series");
	c = calloc(1, sizeof(*c));
	if (!c)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	c->cap = cap;
	c->series = calloc(cap, sizeof(*c->series));
	c->buckets = calloc(cap, sizeof(*c->buckets));
	if (!c->series || !c->buckets) {
		events_cache_free(c);
		return fs_fail(err, FS_ENOMEM, "out of memory");
	}
	*out = c;
	return FS_OK;
}

void events_cache_free(struct events_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		events_series_free(c->series[i]);
	for (size_t i = 0; i < c->nbuckets; i++)
		free(c->buckets[i].regarding);
	free(c->series);
	free(c->buckets);
	free(c);
}

size_t events_cache_len(const struct events_cache *c)
{
	return c->n;
}

static struct bucket *find_bucket(struct events_cache *c, const char *regarding)
{
	for (size_t i = 0; i < c->nbuckets; i++) {
		if (strcmp(c->buckets[i].regarding, regarding) == 0)
			return &c->buckets[i];
	}
	return NULL;
}

/* Adds a full bucket for `regarding` (taking the string), evicting the least recently used. */
static struct bucket *add_bucket(struct events_cache *c, char *regarding, double now)
{
	struct bucket *b;

	if (c->nbuckets < c->cap) {
		b = &c->buckets[c->nbuckets++];
	} else {
		b = &c->buckets[0];
		for (size_t i = 1; i < c->nbuckets; i++) {
			if (c->buckets[i].last_used < b->last_used)
				b = &c->buckets[i];
		}
		free(b->regarding);
	}
	b->regarding = regarding;
	ratelimit_init(&b->rl, EVENTS_REFILL_QPS, EVENTS_BURST, now);
	return b;
}

/* Takes a token when one is there; a refused try leaves the bucket as it was. */
static bool take_token(struct bucket *b, double now)
{
	struct ratelimit trial = b->rl;

	b->last_used = now;
	if (ratelimit_reserve(&trial, now) > 0)
		return false;
	b->rl = trial;
	return true;
}

enum fs_rc events_cache_observe(struct events_observation *out, struct events_cache *c,
                                const struct events_key *key, double now, int64_t wall_us,
                                struct fs_err *err)
{
	uint64_t hash = key_hash(key);
	struct events_observation o = {EVENTS_NEW, NULL, NULL};
	struct events_series *fresh;
	struct bucket *b;
	char *regarding = NULL;
	size_t slot = c->n, i;

	for (i = 0; i < c->n; i++) {
		if (c->series[i]->hash == hash && key_equal(&c->series[i]->key, key))
			break;
	}
	if (i < c->n && now - c->series[i]->last_seen <= EVENTS_SERIES_WINDOW_S) {
		struct events_series *s = c->series[i];

		s->count++;
		s->last_seen = now;
		s->last_seen_wall_us = wall_us;
		o.verdict = EVENTS_REPEAT;
		o.series = s;
		*out = o;
		return FS_OK;
	}

	/* Allocate first, so that running out of memory changes nothing. */
	b = find_bucket(c, key->regarding);
	if (!b && !(regarding = strdup(key->regarding)))
		return fs_fail(err, FS_ENOMEM, "out of memory");
	fresh = series_new(key, hash, now, wall_us);
	if (!fresh) {
		free(regarding);
		return fs_fail(err, FS_ENOMEM, "out of memory");
	}
	if (!b)
		b = add_bucket(c, regarding, now);
	if (!take_token(b, now)) {
		events_series_free(fresh);
		o.verdict = EVENTS_THROTTLED;
		*out = o;
		return FS_OK;
	}

	if (i < c->n) {
		slot = i; /* the stale series of this key makes way */
	} else if (c->n == c->cap) {
		slot = 0;
		for (size_t j = 1; j < c->n; j++) {
			if (c->series[j]->last_seen < c->series[slot]->last_seen)
				slot = j;
		}
	}
	if (slot < c->n)
		o.evicted = c->series[slot];
	else
		c->n++;
	c->series[slot] = fresh;
	o.series = fresh;
	*out = o;
	return FS_OK;
}

static bool pending(const struct events_series *s)
{
	return s->event_name && s->count > s->written;
}

struct events_series *events_cache_due(struct events_cache *c, double now, bool all)
{
	for (size_t i = 0; i < c->n; i++) {
		struct events_series *s = c->series[i];

		if (pending(s) && (all || now - s->last_write >= EVENTS_FLUSH_PERIOD_S))
			return s;
	}
	return NULL;
}

double events_cache_next_due(const struct events_cache *c)
{
	double next = INFINITY;

	for (size_t i = 0; i < c->n; i++) {
		const struct events_series *s = c->series[i];

		if (pending(s) && s->last_write + EVENTS_FLUSH_PERIOD_S < next)
			next = s->last_write + EVENTS_FLUSH_PERIOD_S;
	}
	return next;
}

void events_cache_remove(struct events_cache *c, struct events_series *s)
{
	for (size_t i = 0; i < c->n; i++) {
		if (c->series[i] == s) {
			c->series[i] = c->series[--c->n];
			events_series_free(s);
			return;
		}
	}
}

void events_event_name(char *out, size_t size, const char *object_name, int64_t wall_ns)
{
	char suffix[24];
	int keep;

	snprintf(suffix, sizeof(suffix), ".%" PRIx64, (uint64_t)wall_ns);
	keep = (int)strnlen(object_name, EVENT_NAME_MAX - strlen(suffix));
	/* A cut name must still end a DNS label with an alphanumeric. */
	while (keep > 0 && (object_name[keep - 1] == '-' || object_name[keep - 1] == '.'))
		keep--;
	snprintf(out, size, "%.*s%s", keep, object_name, suffix);
}

size_t events_utf8_prefix(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n <= max)
		return n;
	/* s[max] is the first byte left out: back up to the start of its character. */
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* ---- The recorder ---- */

/* One emitted event, copied for the thread. */
struct item {
	char api_version[256];
	char kind[EVENTS_FIELD_MAX + 1];
	char namespace[64];
	char name[254];
	char uid[64];
	char resource_version[64];
	char reason[EVENTS_FIELD_MAX + 1];
	char action[EVENTS_FIELD_MAX + 1];
	char note[EVENTS_NOTE_MAX + 2]; /* one byte over, to see where a long note is cut */
	enum events_type type;
	double mono;     /* monotonic seconds */
	int64_t wall_us; /* eventTime */
};

struct events {
	struct kube_client *client; /* borrowed */
	struct events_config cfg;   /* the strings point at the copies below */
	char *controller;
	char *instance;
	struct events_cache *cache; /* the thread's */
	pthread_mutex_t mu;
	pthread_cond_t wake; /* on CLOCK_MONOTONIC */
	struct item **queue; /* a ring of cfg.queue_cap */
	size_t qhead, qlen;  /* guarded by mu */
	atomic_bool closing;
	bool abandon; /* the thread's: closing and the API server does not answer */
	bool running; /* the thread was started and not yet joined */
	pthread_t thread;
	atomic_uint_fast64_t dropped;
	atomic_uint_fast64_t writes;
};

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *type_name(enum events_type type)
{
	return type == EVENTS_WARNING ? "Warning" : "Normal";
}

static void drop(struct events *ev)
{
	atomic_fetch_add(&ev->dropped, 1);
}

static void add_string(json_object *obj, const char *key, const char *value)
{
	if (value[0])
		json_object_object_add(obj, key, json_object_new_string(value));
}

static bool transport_failure(enum fs_rc rc)
{
	return rc == FS_ECONNECT || rc == FS_ETIMEOUT || rc == FS_ETLS;
}

static enum fs_rc write_api(struct events *ev, const char *method, const char *path,
                            const char *content_type, json_object *body, struct fs_err *err)
{
	struct kube_request req = {
	    .method = method,
	    .path = path,
	    .content_type = content_type,
	    .timeout_ms = ev->cfg.timeout_ms,
	};
	struct kube_response resp;
	enum fs_rc rc;

	req.body = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
	if (!req.body)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	req.body_len = strlen(req.body);
	kube_response_init(&resp);
	atomic_fetch_add(&ev->writes, 1);
	rc = kube_do(&resp, ev->client, &req, err);
	kube_response_release(&resp);
	if (transport_failure(rc) && atomic_load(&ev->closing)) {
		ev->abandon = true;
		log_warn("events: %s; dropping the events still to write", err->msg);
	}
	return rc;
}

/* Creates the Event of a NEW series. */
static enum fs_rc create_event(struct events *ev, const struct item *it, struct events_series *s,
                               struct fs_err *err)
{
	const char *ns = it->namespace[0] ? it->namespace : "default";
	char name[EVENT_NAME_MAX + 1], when[28], path[128];
	json_object *event = json_object_new_object();
	json_object *meta = json_object_new_object();
	json_object *regarding = json_object_new_object();
	enum fs_rc rc;

	if (!event || !meta || !regarding) {
		json_object_put(meta);
		json_object_put(regarding);
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto out;
	}
	events_event_name(name, sizeof(name), it->name, wall_ns());
	kube_time_format(when, it->wall_us);
	json_object_object_add(meta, "name", json_object_new_string(name));
	json_object_object_add(meta, "namespace", json_object_new_string(ns));
	add_string(regarding, "apiVersion", it->api_version);
	add_string(regarding, "kind", it->kind);
	add_string(regarding, "namespace", it->namespace);
	add_string(regarding, "name", it->name);
	add_string(regarding, "uid", it->uid);
	add_string(regarding, "resourceVersion", it->resource_version);
	json_object_object_add(event, "apiVersion", json_object_new_string("events.k8s.io/v1"));
	json_object_object_add(event, "kind", json_object_new_string("Event"));
	json_object_object_add(event, "metadata", meta);
	json_object_object_add(event, "eventTime", json_object_new_string(when));
	json_object_object_add(event, "reportingController",
	                       json_object_new_string(ev->controller));
	json_object_object_add(event, "reportingInstance", json_object_new_string(ev->instance));
	json_object_object_add(event, "action", json_object_new_string(it->action));
	json_object_object_add(event, "reason", json_object_new_string(it->reason));
	json_object_object_add(event, "type", json_object_new_string(type_name(it->type)));
	add_string(event, "note", it->note);
	json_object_object_add(event, "regarding", regarding);
	snprintf(path, sizeof(path), EVENTS_PATH, ns);
	rc = write_api(ev, "POST", path, NULL, event, err);
	if (rc != FS_OK)
		goto out;
	s->event_namespace = strdup(ns);
	s->event_name = strdup(name);
	if (!s->event_namespace || !s->event_name) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto out;
	}
	s->written = s->count;
	s->last_write = mono_s();
out:
	json_object_put(event);
	return rc;
}

/* Writes a series' count into its Event. */
static enum fs_rc update_series(struct events *ev, struct events_series *s, struct fs_err *err)
{
	char when[28], path[512];
	json_object *patch = json_object_new_object();
	json_object *series = json_object_new_object();
	enum fs_rc rc;

	if (!patch || !series) {
		json_object_put(series);
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto out;
	}
	kube_time_format(when, s->last_seen_wall_us);
	json_object_object_add(series, "count", json_object_new_int64(s->count));
	json_object_object_add(series, "lastObservedTime", json_object_new_string(when));
	json_object_object_add(patch, "series", series);
	snprintf(path, sizeof(path), EVENTS_PATH "/%s", s->event_namespace, s->event_name);
	rc = write_api(ev, "PATCH", path, "application/merge-patch+json", patch, err);
	if (rc == FS_OK) {
		s->written = s->count;
		s->last_write = mono_s();
	}
out:
	json_object_put(patch);
	return rc;
}

/* Writes every series that is due; one that cannot be written is forgotten. */
static void flush_due(struct events *ev, bool all)
{
	struct events_series *s;
	struct fs_err err;

	while ((s = events_cache_due(ev->cache, mono_s(), all))) {
		if (ev->abandon) {
			events_cache_remove(ev->cache, s);
			continue;
		}
		if (update_series(ev, s, &err) != FS_OK) {
			log_warn("events: updating the series of event %s/%s: %s",
			         s->event_namespace, s->event_name, err.msg);
			events_cache_remove(ev->cache, s);
		}
	}
}

static void handle(struct events *ev, const struct item *it)
{
	char regarding[512];
	struct events_key key = {regarding, it->reason, it->action, type_name(it->type), it->note};
	struct events_observation o;
	struct fs_err err;

	if (ev->cfg.dry_run) {
		log_info("event (dry run): %s %s %s/%s%s%s: %s: %s", type_name(it->type),
		         it->reason, it->kind, it->namespace, it->namespace[0] ? "/" : "", it->name,
		         it->action, it->note);
		return;
	}
	if (ev->abandon) {
		drop(ev);
		return;
	}
	if (it->uid[0])
		snprintf(regarding, sizeof(regarding), "%s", it->uid);
	else
		snprintf(regarding, sizeof(regarding), "%s/%s/%s", it->kind, it->namespace,
		         it->name);
	if (events_cache_observe(&o, ev->cache, &key, it->mono, it->wall_us, &err) != FS_OK) {
		log_warn("events: %s", err.msg);
		drop(ev);
		return;
	}
	if (o.evicted) {
		if (pending(o.evicted) && !ev->abandon &&
		    update_series(ev, o.evicted, &err) != FS_OK)
			log_warn("events: updating the series of event %s/%s: %s",
			         o.evicted->event_namespace, o.evicted->event_name, err.msg);
		events_series_free(o.evicted);
	}
	switch (o.verdict) {
	case EVENTS_THROTTLED:
		log_debug("events: %s %s/%s: too many events about this object, dropped",
		          it->reason, it->namespace, it->name);
		drop(ev);
		break;
	case EVENTS_REPEAT:
		break; /* its count is written when the series falls due */
	case EVENTS_NEW:
		if (ev->abandon || create_event(ev, it, o.series, &err) != FS_OK) {
			if (!ev->abandon)
				log_warn("events: %s about %s %s/%s: %s", it->reason, it->kind,
				         it->namespace, it->name, err.msg);
			events_cache_remove(ev->cache, o.series);
			drop(ev);
		}
		break;
	}
}

/* Waits for an item or the next due series; returns the item, or NULL. */
static struct item *next_item(struct events *ev, bool *closing)
{
	struct item *it = NULL;
	double due;

	pthread_mutex_lock(&ev->mu);
	if (ev->qlen == 0 && !atomic_load(&ev->closing)) {
		due = events_cache_next_due(ev->cache);
		if (isinf(due)) {
			pthread_cond_wait(&ev->wake, &ev->mu);
		} else {
			struct timespec until;
			double whole = floor(due);

			until.tv_sec = (time_t)whole;
			until.tv_nsec = (long)((due - whole) * 1e9);
			pthread_cond_timedwait(&ev->wake, &ev->mu, &until);
		}
	}
	if (ev->qlen > 0) {
		it = ev->queue[ev->qhead];
		ev->qhead = (ev->qhead + 1) % ev->cfg.queue_cap;
		ev->qlen--;
	}
	*closing = atomic_load(&ev->closing);
	pthread_mutex_unlock(&ev->mu);
	return it;
}

static void *writer_main(void *arg)
{
	struct events *ev = arg;
	struct item *it;
	bool closing;

	for (;;) {
		flush_due(ev, false);
		it = next_item(ev, &closing);
		if (it) {
			handle(ev, it);
			free(it);
		} else if (closing) {
			break;
		}
	}
	flush_due(ev, true);
	return NULL;
}

void events_config_init(struct events_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->reporting_controller = DEFAULT_CONTROLLER;
	cfg->queue_cap = DEFAULT_QUEUE_CAP;
	cfg->cache_cap = DEFAULT_CACHE_CAP;
	cfg->timeout_ms = DEFAULT_TIMEOUT_MS;
}

enum fs_rc events_new(struct events **out, struct kube_client *client,
                      const struct events_config *cfg, struct fs_err *err)
{
	const char *controller =
	    cfg->reporting_controller ? cfg->reporting_controller : DEFAULT_CONTROLLER;
	pthread_condattr_t cattr;
	struct events *ev;
	enum fs_rc rc = FS_OK;
	char host[64];

	if (!client && !cfg->dry_run)
		return fs_fail(err, FS_EINVAL, "events: no API client to write with");
	if (!controller[0] || strlen(controller) > EVENTS_FIELD_MAX)
		return fs_fail(err, FS_EINVAL,
		               "events: the reporting controller needs 1 to %d bytes",
		               EVENTS_FIELD_MAX);
	if (cfg->reporting_instance &&
	    (!cfg->reporting_instance[0] || strlen(cfg->reporting_instance) > EVENTS_FIELD_MAX))
		return fs_fail(err, FS_EINVAL, "events: the reporting instance needs 1 to %d bytes",
		               EVENTS_FIELD_MAX);
	if (cfg->queue_cap < 1 || cfg->cache_cap < 1 || cfg->timeout_ms <= 0)
		return fs_fail(err, FS_EINVAL,
		               "events: the queue, the cache and the timeout must be positive");
	ev = calloc(1, sizeof(*ev));
	if (!ev)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	pthread_mutex_init(&ev->mu, NULL);
	pthread_condattr_init(&cattr);
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&ev->wake, &cattr);
	pthread_condattr_destroy(&cattr);
	ev->client = client;
	ev->cfg = *cfg;
	ev->controller = strdup(controller);
	if (cfg->reporting_instance) {
		ev->instance = strdup(cfg->reporting_instance);
	} else {
		if (gethostname(host, sizeof(host)) != 0)
			snprintf(host, sizeof(host), "unknown");
		host[sizeof(host) - 1] = '\0';
		if (asprintf(&ev->instance, "%s_%ld", host, (long)getpid()) < 0)
			ev->instance = NULL;
	}
	ev->queue = calloc(cfg->queue_cap, sizeof(*ev->queue));
	if (!ev->controller || !ev->instance || !ev->queue) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto out;
	}
	ev->cfg.reporting_controller = ev->controller;
	ev->cfg.reporting_instance = ev->instance;
	rc = events_cache_new(&ev->cache, cfg->cache_cap, err);
	if (rc != FS_OK)
		goto out;
	if (pthread_create(&ev->thread, NULL, writer_main, ev) != 0) {
		rc = fs_fail(err, FS_ENOMEM, "events: cannot start a thread");
		goto out;
	}
	ev->running = true;
	*out = ev;
out:
	if (rc != FS_OK)
		events_free(ev);
	return rc;
}

/* Copies `src` into `dst`; false when it does not fit, or is missing and `required`. */
static bool copy_field(char *dst, size_t size, const char *src, bool required)
{
	size_t n = src ? strnlen(src, size) : 0;

	if (n == size || (required && n == 0))
		return false;
	memcpy(dst, src ? src : "", n);
	dst[n] = '\0';
	return true;
}

void events_emit(struct events *ev, const struct events_ref *ref, enum events_type type,
                 const char *reason, const char *action, const char *fmt, ...)
{
	struct item *it = calloc(1, sizeof(*it));
	struct timespec ts;
	va_list ap;
	int n;

	if (!it) {
		drop(ev);
		return;
	}
	va_start(ap, fmt);
	n = vsnprintf(it->note, sizeof(it->note), fmt, ap);
	va_end(ap);
	it->note[events_utf8_prefix(it->note, EVENTS_NOTE_MAX)] = '\0';
	if (n < 0 ||
	    !copy_field(it->api_version, sizeof(it->api_version), ref->api_version, true) ||
	    !copy_field(it->kind, sizeof(it->kind), ref->kind, true) ||
	    !copy_field(it->namespace, sizeof(it->namespace), ref->namespace, false) ||
	    !copy_field(it->name, sizeof(it->name), ref->name, true) ||
	    !copy_field(it->uid, sizeof(it->uid), ref->uid, false) ||
	    !copy_field(it->resource_version, sizeof(it->resource_version), ref->resource_version,
	                false) ||
	    !copy_field(it->reason, sizeof(it->reason), reason, true) ||
	    !copy_field(it->action, sizeof(it->action), action, true)) {
		log_warn("events: dropping a malformed event (reason \"%.40s\" about %.40s %.80s)",
		         reason ? reason : "", ref->kind ? ref->kind : "",
		         ref->name ? ref->name : "");
		free(it);
		drop(ev);
		return;
	}
	it->type = type;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	it->mono = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	it->wall_us = wall_ns() / 1000;

	pthread_mutex_lock(&ev->mu);
	if (atomic_load(&ev->closing) || ev->qlen == ev->cfg.queue_cap) {
		pthread_mutex_unlock(&ev->mu);
		log_debug("events: %s about %s/%s dropped: %s", it->reason, it->namespace, it->name,
		          atomic_load(&ev->closing) ? "the recorder is closed"
		                                    : "the queue is full");
		free(it);
		drop(ev);
		return;
	}
	ev->queue[(ev->qhead + ev->qlen) % ev->cfg.queue_cap] = it;
	ev->qlen++;
	pthread_cond_signal(&ev->wake);
	pthread_mutex_unlock(&ev->mu);
}

uint64_t events_dropped(const struct events *ev)
{
	return atomic_load(&ev->dropped);
}

uint64_t events_writes(const struct events *ev)
{
	return atomic_load(&ev->writes);
}

void events_close(struct events *ev)
{
	pthread_mutex_lock(&ev->mu);
	atomic_store(&ev->closing, true);
	pthread_cond_signal(&ev->wake);
	pthread_mutex_unlock(&ev->mu);
	if (ev->running) {
		pthread_join(ev->thread, NULL);
		ev->running = false;
	}
}

void events_free(struct events *ev)
{
	if (!ev)
		return;
	events_close(ev);
	for (size_t i = 0; i < ev->qlen; i++)
		free(ev->queue[(ev->qhead + i) % ev->cfg.queue_cap]);
	events_cache_free(ev->cache);
	pthread_cond_destroy(&ev->wake);
	pthread_mutex_destroy(&ev->mu);
	free(ev->queue);
	free(ev->controller);
	free(ev->instance);
	free(ev);
}
