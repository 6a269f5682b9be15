#include "kube/informer.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/backoff.h"
#include "base/hash.h"
#include "base/log.h"
#include "base/strmap.h"
#include "base/clock.h"
#include "base/jsontext.h"
#include "base/str.h"

#define DEFAULT_PAGE_SIZE   500
#define DEFAULT_MAX_OBJECTS 100000
#define DEFAULT_MAX_EVENT   (16u << 20)
#define BACKOFF_INITIAL_MS  200
#define BACKOFF_MAX_MS      5000
#define WATCH_MIN_SECONDS   300 /* each watch asks for 300-600 s, as client-go */
#define KEY_MAX             512

struct entry {
	char *rv;
	char *json;
	uint64_t stamp; /* of its uid and generation (kube_informer_stamp) */
};

struct kube_informer {
	struct kube_client *client;
	char *path, *label_selector, *field_selector, *name;
	char **keep; /* NULL: whole objects; else the n_keep paths cached */
	size_t n_keep;
	bool stop_when_denied;
	unsigned page_size, resync_seconds;
	size_t max_objects, max_event_bytes;
	struct kube_informer_handlers handlers;

	pthread_mutex_t mu; /* guards cache, synced, failing, stats */
	pthread_cond_t changed;
	struct strmap cache;
	bool synced;
	char failing[256]; /* why the last LIST or WATCH failed; "" since one succeeded */
	bool denied;       /* a LIST or WATCH was answered 401/403 and stop_when_denied ended it */
	struct kube_informer_stats stats;

	pthread_mutex_t handler_mu; /* one handler call at a time */
	atomic_bool stop;
	pthread_t watch_thread, resync_thread;
	bool watch_running, resync_running;
	char *rv; /* the last resourceVersion seen; watch thread only */
	struct backoff backoff;
};

void kube_informer_opts_init(struct kube_informer_opts *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->page_size = DEFAULT_PAGE_SIZE;
	opts->max_objects = DEFAULT_MAX_OBJECTS;
	opts->max_event_bytes = DEFAULT_MAX_EVENT;
}

static void entry_free(void *p)
{
	struct entry *e = p;

	if (!e)
		return;
	free(e->rv);
	free(e->json);
	free(e);
}

static const char *meta_str(json_object *obj, const char *key)
{
	json_object *meta, *v;

	if (!json_object_object_get_ex(obj, "metadata", &meta) ||
	    !json_object_object_get_ex(meta, key, &v))
		return NULL;
	return json_object_get_string(v);
}

enum fs_rc kube_object_key(char *out, size_t size, json_object *obj, struct fs_err *err)
{
	const char *ns = meta_str(obj, "namespace");
	const char *name = meta_str(obj, "name");
	int n;

	if (!name || !name[0])
		return fs_fail(err, FS_EINVAL, "object without metadata.name");
	n = ns && ns[0] ? snprintf(out, size, "%s/%s", ns, name) : snprintf(out, size, "%s", name);
	if (n < 0 || (size_t)n >= size)
		return fs_fail(err, FS_EINVAL, "object key longer than %zu bytes", size - 1);
	return FS_OK;
}

/* Copies obj's value at the dotted `path` into `into`, making the objects on the way. */
static void keep_path(json_object *into, json_object *obj, const char *path)
{
	char part[128];
	const char *dot = strchr(path, '.');
	size_t len = dot ? (size_t)(dot - path) : strlen(path);
	json_object *v, *sub;

	if (len >= sizeof(part) || !json_object_is_type(obj, json_type_object))
		return;
	memcpy(part, path, len);
	part[len] = '\0';
	if (!json_object_object_get_ex(obj, part, &v))
		return;
	if (!dot) {
		json_object_object_add(into, part, json_object_get(v));
		return;
	}
	if (!json_object_object_get_ex(into, part, &sub)) {
		sub = json_object_new_object();
		if (!sub || json_object_object_add(into, part, sub) != 0) {
			json_object_put(sub);
			return;
		}
	}
	keep_path(sub, v, dot + 1);
}

/* Of obj, only what the informer keeps: metadata's identity and `keep`. NULL on OOM. */
static json_object *pruned(const struct kube_informer *inf, json_object *obj)
{
	/* Not apiVersion and kind: a LIST's items have none. */
	static const char *const identity[] = {"metadata.name",       "metadata.namespace",
	                                       "metadata.uid",        "metadata.resourceVersion",
	                                       "metadata.generation", "metadata.deletionTimestamp"};
	json_object *out = json_object_new_object();

	if (!out)
		return NULL;
	for (size_t i = 0; i < sizeof(identity) / sizeof(identity[0]); i++)
		keep_path(out, obj, identity[i]);
	for (size_t i = 0; i < inf->n_keep; i++)
		keep_path(out, obj, inf->keep[i]);
	return out;
}

/* A hash of the object's uid and metadata.generation. */
static uint64_t stamp_of(json_object *obj)
{
	const char *uid = meta_str(obj, "uid");
	char text[96];
	json_object *meta, *g;
	int64_t generation = json_object_object_get_ex(obj, "metadata", &meta) &&
	                             json_object_object_get_ex(meta, "generation", &g)
	                         ? json_object_get_int64(g)
	                         : 0;

	snprintf(text, sizeof(text), "%.64s/%" PRId64, uid ? uid : "", generation);
	return hash_str(HASH_SEED, text);
}

/*
 * The cache form of an object, compact JSON without what nothing here reads
 * and what is often most of an object: managedFields, and kubectl apply's
 * copy of the whole object in an annotation; with `keep`, only those paths.
 * NULL on OOM.
 */
static struct entry *entry_of(const struct kube_informer *inf, json_object *obj)
{
	struct entry *e = calloc(1, sizeof(*e));
	json_object *meta, *notes, *small = NULL;
	const char *rv = meta_str(obj, "resourceVersion");

	if (!e)
		return NULL;
	if (inf->keep && !(obj = small = pruned(inf, obj))) {
		free(e);
		return NULL;
	}
	if (json_object_object_get_ex(obj, "metadata", &meta)) {
		json_object_object_del(meta, "managedFields");
		if (json_object_object_get_ex(meta, "annotations", &notes) &&
		    json_object_is_type(notes, json_type_object)) {
			json_object_object_del(notes,
			                       "kubectl.kubernetes.io/last-applied-configuration");
			if (json_object_object_length(notes) == 0)
				json_object_object_del(meta, "annotations");
		}
	}
	e->stamp = stamp_of(obj);
	e->rv = strdup(rv ? rv : "");
	e->json = strdup(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
	                                                         JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(small);
	if (!e->rv || !e->json) {
		entry_free(e);
		return NULL;
	}
	return e;
}

enum fs_rc kube_informer_new(struct kube_informer **out, struct kube_client *client,
                             const struct kube_informer_opts *opts,
                             const struct kube_informer_handlers *handlers, struct fs_err *err)
{
	struct kube_informer *inf;
	pthread_condattr_t attr;
	bool ok = true;

	if (!opts->path || opts->path[0] != '/' || strchr(opts->path, '?'))
		return fs_fail(err, FS_EINVAL,
		               "informer: path must be a collection path without query");
	inf = calloc(1, sizeof(*inf));
	if (!inf)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	inf->client = client;
	inf->path = str_dup_opt(opts->path, &ok);
	inf->label_selector = str_dup_opt(opts->label_selector, &ok);
	inf->field_selector = str_dup_opt(opts->field_selector, &ok);
	inf->name = str_dup_opt(opts->name ? opts->name : opts->path, &ok);
	if (opts->keep) {
		size_t n = 0;

		while (opts->keep[n])
			n++;
		inf->keep = calloc(n + 1, sizeof(*inf->keep));
		ok = ok && inf->keep;
		for (size_t i = 0; inf->keep && i < n; i++)
			inf->keep[i] = str_dup_opt(opts->keep[i], &ok);
		inf->n_keep = inf->keep ? n : 0;
	}
	inf->stop_when_denied = opts->stop_when_denied;
	inf->page_size = opts->page_size ? opts->page_size : DEFAULT_PAGE_SIZE;
	inf->resync_seconds = opts->resync_seconds;
	inf->max_objects = opts->max_objects ? opts->max_objects : DEFAULT_MAX_OBJECTS;
	inf->max_event_bytes = opts->max_event_bytes ? opts->max_event_bytes : DEFAULT_MAX_EVENT;
	if (handlers)
		inf->handlers = *handlers;
	pthread_mutex_init(&inf->mu, NULL);
	pthread_mutex_init(&inf->handler_mu, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&inf->changed, &attr);
	pthread_condattr_destroy(&attr);
	strmap_init(&inf->cache);
	backoff_init(&inf->backoff, BACKOFF_INITIAL_MS, BACKOFF_MAX_MS,
	             (uint64_t)(uintptr_t)inf ^ (uint64_t)time(NULL));
	if (!ok) {
		kube_informer_free(inf);
		return fs_fail(err, FS_ENOMEM, "out of memory");
	}
	*out = inf;
	return FS_OK;
}

/* Percent-encodes a query value. The caller frees the result; NULL on OOM. */
static char *query_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(strlen(s) * 3 + 1), *o = out;

	if (!out)
		return NULL;
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' || *p == '~') {
			*o++ = (char)*p;
		} else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

/* path?selectors, with `extra` parameters appended ("watch=1&..."); NULL on OOM. */
static char *request_path(const struct kube_informer *inf, const char *extra)
{
	char *label = inf->label_selector ? query_escape(inf->label_selector) : NULL;
	char *field = inf->field_selector ? query_escape(inf->field_selector) : NULL;
	char *path = NULL;

	if ((!inf->label_selector || label) && (!inf->field_selector || field) &&
	    asprintf(&path, "%s?%s%s%s%s%s%s%s", inf->path, label ? "labelSelector=" : "",
	             label ? label : "", label && field ? "&" : "", field ? "fieldSelector=" : "",
	             field ? field : "", (label || field) && extra[0] ? "&" : "", extra) < 0)
		path = NULL;
	free(label);
	free(field);
	if (path) {
		/* Tidy "?&" and a trailing '?' left by absent parts. */
		char *q = strchr(path, '?');

		if (q[1] == '&')
			memmove(q + 1, q + 2, strlen(q + 2) + 1);
		if (q[1] == '\0')
			*q = '\0';
	}
	return path;
}

static json_object *parse_entry(const struct entry *e)
{
	return e ? jsontext_parse_str(e->json) : NULL;
}

/* Runs a handler call with the handler lock held; objects are borrowed. */
static void call_add(struct kube_informer *inf, json_object *obj)
{
	if (!inf->handlers.on_add || !obj)
		return;
	pthread_mutex_lock(&inf->handler_mu);
	inf->handlers.on_add(inf->handlers.ctx, obj);
	pthread_mutex_unlock(&inf->handler_mu);
}

static void call_update(struct kube_informer *inf, json_object *old_obj, json_object *new_obj)
{
	if (!inf->handlers.on_update || !old_obj || !new_obj)
		return;
	pthread_mutex_lock(&inf->handler_mu);
	inf->handlers.on_update(inf->handlers.ctx, old_obj, new_obj);
	pthread_mutex_unlock(&inf->handler_mu);
}

static void call_delete(struct kube_informer *inf, json_object *obj)
{
	if (!inf->handlers.on_delete || !obj)
		return;
	pthread_mutex_lock(&inf->handler_mu);
	inf->handlers.on_delete(inf->handlers.ctx, obj);
	pthread_mutex_unlock(&inf->handler_mu);
}

struct list_fill {
	struct kube_informer *inf;
	struct strmap fresh;
	bool oom;
	unsigned long dropped;
};

static bool fill_item(void *ctx, json_object *item)
{
	struct list_fill *f = ctx;
	char key[KEY_MAX];
	struct entry *e;
	void *old = NULL;

	if (kube_object_key(key, sizeof(key), item, NULL) != FS_OK)
		return true;
	if (f->fresh.len >= f->inf->max_objects) {
		f->dropped++;
		return true;
	}
	e = entry_of(f->inf, item);
	if (!e || strmap_put(&f->fresh, key, e, &old, NULL) != FS_OK) {
		entry_free(e);
		f->oom = true;
		return false;
	}
	entry_free(old);
	return true;
}

struct diff_ctx {
	struct kube_informer *inf;
	struct strmap *old_cache;
};

/* Reports each object of the new list that is new or changed, and drops it from the old map. */
static void diff_new(void *ctx, const char *key, void *value)
{
	struct diff_ctx *d = ctx;
	struct entry *fresh = value;
	struct entry *old = strmap_remove(d->old_cache, key);
	json_object *new_obj = parse_entry(fresh);

	if (!old) {
		call_add(d->inf, new_obj);
	} else if (strcmp(old->rv, fresh->rv) != 0) {
		json_object *old_obj = parse_entry(old);

		call_update(d->inf, old_obj, new_obj);
		json_object_put(old_obj);
	}
	json_object_put(new_obj);
	entry_free(old);
}

/* What is left in the old map was deleted while we were not watching. */
static void diff_gone(void *ctx, const char *key, void *value)
{
	struct diff_ctx *d = ctx;
	json_object *obj = parse_entry(value);

	(void)key;
	call_delete(d->inf, obj);
	json_object_put(obj);
}

/* LISTs everything, swaps the cache, and tells the handlers what changed since the last one. */
static enum fs_rc relist(struct kube_informer *inf, struct fs_err *err)
{
	struct list_fill fill = {.inf = inf};
	struct strmap old_cache;
	struct diff_ctx diff = {.inf = inf, .old_cache = &old_cache};
	char *path = request_path(inf, "");
	char *rv = NULL;
	enum fs_rc rc;

	if (!path)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	strmap_init(&fill.fresh);
	rc = kube_list(&rv, NULL, inf->client, path, inf->page_size, fill_item, &fill, err);
	free(path);
	if (rc == FS_OK && fill.oom)
		rc = fs_fail(err, FS_ENOMEM, "out of memory filling the cache of %s", inf->name);
	if (rc != FS_OK) {
		strmap_release(&fill.fresh, entry_free);
		free(rv);
		return rc;
	}
	if (fill.dropped)
		log_error("informer %s: %lu objects over the cap of %zu were not cached", inf->name,
		          fill.dropped, inf->max_objects);

	pthread_mutex_lock(&inf->mu);
	old_cache = inf->cache;
	inf->cache = fill.fresh;
	/* The handlers learn the difference below; the new cache is complete already. */
	pthread_mutex_unlock(&inf->mu);

	/* Only this thread writes the cache, so reading it here without the lock is safe. */
	strmap_foreach(&inf->cache, diff_new, &diff);
	strmap_foreach(&old_cache, diff_gone, &diff);
	strmap_release(&old_cache, entry_free);

	pthread_mutex_lock(&inf->mu);
	inf->stats.lists++;
	inf->stats.dropped += fill.dropped;
	inf->synced = true;
	inf->failing[0] = '\0';
	pthread_cond_broadcast(&inf->changed);
	pthread_mutex_unlock(&inf->mu);
	free(inf->rv);
	inf->rv = rv;
	return FS_OK;
}

static bool on_watch_event(void *ctx, const char *type, json_object *obj)
{
	struct kube_informer *inf = ctx;
	const char *rv = meta_str(obj, "resourceVersion");
	char key[KEY_MAX];
	struct entry *e = NULL;
	void *old = NULL;
	bool deleted = strcmp(type, "DELETED") == 0;

	if (rv && rv[0]) {
		char *copy = strdup(rv);

		if (copy) {
			free(inf->rv);
			inf->rv = copy;
		}
	}
	/* A BOOKMARK carries only a resourceVersion; never read it as state. */
	if (strcmp(type, "BOOKMARK") == 0 || kube_object_key(key, sizeof(key), obj, NULL) != FS_OK)
		return !atomic_load(&inf->stop);
	if (!deleted) {
		e = entry_of(inf, obj);
		if (!e) {
			log_error("informer %s: out of memory caching %s", inf->name, key);
			return !atomic_load(&inf->stop);
		}
	}
	pthread_mutex_lock(&inf->mu);
	inf->stats.events++;
	if (deleted) {
		old = strmap_remove(&inf->cache, key);
	} else if (!strmap_get(&inf->cache, key) && inf->cache.len >= inf->max_objects) {
		inf->stats.dropped++;
		entry_free(e);
		e = NULL;
	} else if (strmap_put(&inf->cache, key, e, &old, NULL) != FS_OK) {
		entry_free(e);
		e = NULL;
	}
	pthread_mutex_unlock(&inf->mu);

	if (deleted) {
		call_delete(inf, obj);
	} else if (e && !old) {
		call_add(inf, obj);
	} else if (e && strcmp(((struct entry *)old)->rv, e->rv) != 0) {
		json_object *old_obj = parse_entry(old);

		call_update(inf, old_obj, obj);
		json_object_put(old_obj);
	}
	entry_free(old);
	return !atomic_load(&inf->stop);
}

/* Sleeps until `ms` pass or the informer stops; false when stopping. */
static bool wait_or_stop(struct kube_informer *inf, long ms)
{
	struct timespec until;

	clock_deadline(&until, ms);
	pthread_mutex_lock(&inf->mu);
	while (!atomic_load(&inf->stop) &&
	       pthread_cond_timedwait(&inf->changed, &inf->mu, &until) == 0)
		;
	pthread_mutex_unlock(&inf->mu);
	return !atomic_load(&inf->stop);
}

/* Records why the informer is failing; the caller holds inf->mu. */
static void set_failing(struct kube_informer *inf, const char *what, const struct fs_err *err)
{
	snprintf(inf->failing, sizeof(inf->failing), "%s failed: %.200s", what, err->msg);
}

static void failed(struct kube_informer *inf, const char *what, const struct fs_err *err)
{
	long delay = (long)backoff_next(&inf->backoff);

	pthread_mutex_lock(&inf->mu);
	inf->stats.failures++;
	set_failing(inf, what, err);
	pthread_mutex_unlock(&inf->mu);
	log_warn("informer %s: %s failed (retrying in %ld ms): %s", inf->name, what, delay,
	         err->msg);
	wait_or_stop(inf, delay);
}

/* With stop_when_denied, a 401/403 ends the watch thread: true when it must. */
static bool gives_up(struct kube_informer *inf, const char *what, const struct fs_err *err)
{
	if (err->rc != FS_EAUTH || !inf->stop_when_denied)
		return false;
	pthread_mutex_lock(&inf->mu);
	set_failing(inf, what, err);
	inf->denied = true;
	pthread_cond_broadcast(&inf->changed);
	pthread_mutex_unlock(&inf->mu);
	log_warn("informer %s: %s denied; not retrying: %s", inf->name, what, err->msg);
	return true;
}

static void *watch_loop(void *arg)
{
	struct kube_informer *inf = arg;
	struct fs_err err;
	bool need_list = true;

	while (!atomic_load(&inf->stop)) {
		struct kube_watch_opts wopts = {.max_line = inf->max_event_bytes,
		                                .stop = &inf->stop};
		unsigned timeout_s = WATCH_MIN_SECONDS + (unsigned)(rand() % WATCH_MIN_SECONDS);
		char extra[160];
		char *path;
		enum fs_rc rc;

		if (need_list) {
			if (relist(inf, &err) != FS_OK) {
				if (gives_up(inf, "LIST", &err))
					break;
				if (err.rc != FS_ECANCELED)
					failed(inf, "LIST", &err);
				continue;
			}
			need_list = false;
		}
		snprintf(extra, sizeof(extra),
		         "watch=1&allowWatchBookmarks=true&timeoutSeconds=%u&resourceVersion=%s",
		         timeout_s, inf->rv);
		path = request_path(inf, extra);
		if (!path) {
			fs_fail(&err, FS_ENOMEM, "out of memory");
			failed(inf, "WATCH", &err);
			continue;
		}
		wopts.timeout_ms = (long)(timeout_s + 60) * 1000L;
		pthread_mutex_lock(&inf->mu);
		inf->stats.watches++;
		pthread_mutex_unlock(&inf->mu);
		rc = kube_watch(inf->client, path, &wopts, on_watch_event, inf, &err);
		free(path);
		switch (rc) {
		case FS_OK:
			backoff_reset(&inf->backoff);
			break;
		case FS_ECANCELED:
			break;
		case FS_EGONE:
			/* Too old to resume: LIST again and diff, so nothing is lost. */
			log_info("informer %s: resourceVersion %s is gone; listing again",
			         inf->name, inf->rv);
			pthread_mutex_lock(&inf->mu);
			inf->stats.relists_gone++;
			pthread_mutex_unlock(&inf->mu);
			need_list = true;
			break;
		default:
			if (gives_up(inf, "WATCH", &err))
				return NULL;
			/*
			 * LIST again once it answers, as client-go's reflector: that is
			 * what proves the apiserver back (an idle watch says nothing),
			 * and the diff loses nothing.
			 */
			failed(inf, "WATCH", &err);
			need_list = true;
		}
	}
	return NULL;
}

struct snapshot_item {
	char *key, *rv, *json;
};

struct snapshot {
	struct snapshot_item *items;
	size_t n;
	bool oom;
};

static void snapshot_add(void *ctx, const char *key, void *value)
{
	struct snapshot *s = ctx;
	struct entry *e = value;
	struct snapshot_item *it = &s->items[s->n];

	it->key = strdup(key);
	it->rv = strdup(e->rv);
	it->json = strdup(e->json);
	if (!it->key || !it->rv || !it->json) {
		free(it->key);
		free(it->rv);
		free(it->json);
		s->oom = true;
		return;
	}
	s->n++;
}

/* A copy of the cache taken under the lock; release with snapshot_free. */
static void snapshot_take(struct snapshot *s, struct kube_informer *inf)
{
	pthread_mutex_lock(&inf->mu);
	s->n = 0;
	s->oom = false;
	s->items = calloc(inf->cache.len + 1, sizeof(*s->items));
	if (s->items)
		strmap_foreach(&inf->cache, snapshot_add, s);
	pthread_mutex_unlock(&inf->mu);
}

static void snapshot_free(struct snapshot *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->items[i].key);
		free(s->items[i].rv);
		free(s->items[i].json);
	}
	free(s->items);
}

static void *resync_loop(void *arg)
{
	struct kube_informer *inf = arg;

	while (wait_or_stop(inf, (long)inf->resync_seconds * 1000L)) {
		struct snapshot s;

		if (!kube_informer_synced(inf))
			continue;
		snapshot_take(&s, inf);
		for (size_t i = 0; i < s.n && !atomic_load(&inf->stop); i++) {
			json_object *obj = jsontext_parse_str(s.items[i].json);

			call_update(inf, obj, obj);
			json_object_put(obj);
		}
		snapshot_free(&s);
		pthread_mutex_lock(&inf->mu);
		inf->stats.resyncs++;
		pthread_mutex_unlock(&inf->mu);
	}
	return NULL;
}

enum fs_rc kube_informer_start(struct kube_informer *inf, struct fs_err *err)
{
	if (inf->watch_running)
		return FS_OK;
	atomic_store(&inf->stop, false);
	if (pthread_create(&inf->watch_thread, NULL, watch_loop, inf) != 0)
		return fs_fail(err, FS_ENOMEM, "informer %s: cannot start a thread", inf->name);
	inf->watch_running = true;
	if (inf->resync_seconds) {
		if (pthread_create(&inf->resync_thread, NULL, resync_loop, inf) != 0) {
			kube_informer_stop(inf);
			return fs_fail(err, FS_ENOMEM, "informer %s: cannot start a thread",
			               inf->name);
		}
		inf->resync_running = true;
	}
	return FS_OK;
}

bool kube_informer_synced(struct kube_informer *inf)
{
	bool synced;

	pthread_mutex_lock(&inf->mu);
	synced = inf->synced;
	pthread_mutex_unlock(&inf->mu);
	return synced;
}

bool kube_informer_healthy(struct kube_informer *inf, char *why, size_t why_size)
{
	bool healthy;

	pthread_mutex_lock(&inf->mu);
	healthy = inf->synced && !inf->failing[0];
	if (!healthy && why_size)
		snprintf(why, why_size, "informer %s: %s", inf->name,
		         inf->failing[0] ? inf->failing : "the first LIST has not completed");
	pthread_mutex_unlock(&inf->mu);
	return healthy;
}

bool kube_informer_denied(struct kube_informer *inf)
{
	bool denied;

	pthread_mutex_lock(&inf->mu);
	denied = inf->denied;
	pthread_mutex_unlock(&inf->mu);
	return denied;
}

bool kube_informer_wait_synced(struct kube_informer *inf, long timeout_ms)
{
	struct timespec until;
	bool synced;

	clock_deadline(&until, timeout_ms);
	pthread_mutex_lock(&inf->mu);
	while (!inf->synced && !inf->denied && !atomic_load(&inf->stop) &&
	       pthread_cond_timedwait(&inf->changed, &inf->mu, &until) == 0)
		;
	synced = inf->synced;
	pthread_mutex_unlock(&inf->mu);
	return synced;
}

void kube_informer_stop(struct kube_informer *inf)
{
	pthread_mutex_lock(&inf->mu);
	atomic_store(&inf->stop, true);
	pthread_cond_broadcast(&inf->changed);
	pthread_mutex_unlock(&inf->mu);
	if (inf->watch_running)
		pthread_join(inf->watch_thread, NULL);
	if (inf->resync_running)
		pthread_join(inf->resync_thread, NULL);
	inf->watch_running = false;
	inf->resync_running = false;
}

void kube_informer_free(struct kube_informer *inf)
{
	if (!inf)
		return;
	kube_informer_stop(inf);
	strmap_release(&inf->cache, entry_free);
	pthread_mutex_destroy(&inf->mu);
	pthread_mutex_destroy(&inf->handler_mu);
	pthread_cond_destroy(&inf->changed);
	free(inf->path);
	free(inf->label_selector);
	free(inf->field_selector);
	free(inf->name);
	for (size_t i = 0; i < inf->n_keep; i++)
		free(inf->keep[i]);
	free(inf->keep);
	free(inf->rv);
	free(inf);
}

json_object *kube_informer_get(struct kube_informer *inf, const char *key)
{
	json_object *obj;

	pthread_mutex_lock(&inf->mu);
	obj = parse_entry(strmap_get(&inf->cache, key));
	pthread_mutex_unlock(&inf->mu);
	return obj;
}

bool kube_informer_stamp(uint64_t *stamp, char *rv, size_t rv_size, struct kube_informer *inf,
                         const char *key)
{
	const struct entry *e;

	pthread_mutex_lock(&inf->mu);
	e = strmap_get(&inf->cache, key);
	if (e) {
		*stamp = e->stamp;
		str_fmt(rv, rv_size, "%s", e->rv);
	}
	pthread_mutex_unlock(&inf->mu);
	return e != NULL;
}

size_t kube_informer_foreach(struct kube_informer *inf,
                             void (*fn)(void *ctx, const char *key, const char *rv,
                                        const char *json),
                             void *ctx)
{
	struct snapshot s;
	size_t n;

	snapshot_take(&s, inf);
	for (size_t i = 0; i < s.n; i++)
		fn(ctx, s.items[i].key, s.items[i].rv, s.items[i].json);
	n = s.n;
	snapshot_free(&s);
	return n;
}

size_t kube_informer_len(struct kube_informer *inf)
{
	size_t n;

	pthread_mutex_lock(&inf->mu);
	n = inf->cache.len;
	pthread_mutex_unlock(&inf->mu);
	return n;
}

void kube_informer_stats(struct kube_informer_stats *out, struct kube_informer *inf)
{
	pthread_mutex_lock(&inf->mu);
	*out = inf->stats;
	pthread_mutex_unlock(&inf->mu);
}
