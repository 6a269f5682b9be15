#include "dashboard/dashboard.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/str.h"
#include "base/strmap.h"

#define MIN_SPACING_S 1.0 /* evaluations closer than this share a point */
#define DELTA_MAX     (64u << 10)
/* Rendered sizes, generously, for the cap of a whole state. */
#define POINT_JSON_MAX  160
#define EVENT_JSON_MAX  64
#define SCALER_JSON_MAX (16u << 10)
#define BUDGET_JSON_MAX 2048

/* A chart point; floats, since 7 digits are plenty for a chart (half the memory). */
struct point {
	double t;
	float load, forecast, upper, lower, lead, capacity;
	int32_t replicas, desired;
};

struct event {
	double t;
	int32_t from, to;
	bool applied;
};

struct cond {
	char type[24];
	bool status;
	char reason[64];
	char message[256];
};

struct status {
	double t;
	bool decided, dry_run;
	char target[300], mode[16], metric[64], limited_by[24], reason[512];
	double tpr, load, forecast, upper, lower, lead;
	int current, desired, proposed, min, max;
	size_t n_cond;
	struct cond cond[DASH_CONDITIONS_MAX];
};

struct scaler {
	char key[DASH_KEY_MAX];
	struct status st;
	double spacing; /* the newest point is replaced until it is this far from the one before */
	size_t cap, start, n; /* ring of opts.points (a snapshot's copy: n, from 0) */
	struct point *pts;
	size_t ev_cap, ev_start, ev_n; /* ring of opts.events */
	struct event *evs;
	int last_would; /* the dry run's last "would scale" target recorded; 0 none */
};

struct budget {
	char key[DASH_KEY_MAX];
	char *json; /* its BUDGET object, rendered */
};

struct dash {
	struct dash_opts o;
	pthread_mutex_t mu; /* guards everything below */
	struct strmap scalers;
	struct strmap budgets;
	uint64_t seq;
	struct dash_msg **ring; /* the last opts.updates messages, consecutive seqs */
	size_t ring_start, ring_n;
	struct dash_msg *snap; /* the last state rendered; current while snap->seq == seq */
	void (*notify)(void *ctx);
	void *notify_ctx;
};

void dash_opts_init(struct dash_opts *opts)
{
	opts->points = 720;
	opts->window_s = 6 * 3600;
	opts->events = 64;
	opts->scalers = 256;
	opts->budgets = 64;
	opts->updates = 1024;
}

/* --- messages ------------------------------------------------------------------- */

struct dash_msg *dash_msg_ref(struct dash_msg *m)
{
	if (m)
		atomic_fetch_add(&m->refs, 1);
	return m;
}

void dash_msg_unref(struct dash_msg *m)
{
	if (m && atomic_fetch_sub(&m->refs, 1) == 1) {
		free((char *)m->data);
		free(m);
	}
}

/* A message of the text in `b` (taken), or NULL when out of memory. */
static struct dash_msg *msg_new(struct buf *b, uint64_t seq)
{
	struct dash_msg *m = malloc(sizeof(*m));
	size_t len = b->len;
	char *data;

	if (!m) {
		buf_release(b);
		return NULL;
	}
	data = buf_detach(b);
	if (!data) {
		free(m);
		return NULL;
	}
	atomic_init(&m->refs, 1);
	m->seq = seq;
	m->len = len;
	m->data = data;
	return m;
}

/* --- JSON ----------------------------------------------------------------------- */

/* A JSON writer that remembers its first failure, so renderers need not check each step. */
struct out {
	struct buf b;
	enum fs_rc rc;
};

static void put(struct out *o, const char *s)
{
	if (o->rc == FS_OK)
		o->rc = buf_puts(&o->b, s, NULL);
}

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void putf(struct out *o, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	put(o, tmp);
}

static void put_num(struct out *o, double v)
{
	if (isfinite(v))
		putf(o, "%.6g", v);
	else
		put(o, "null");
}

/* The length of the valid UTF-8 sequence at `s`, or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1fu;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0fu;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07u;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3fu);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/*
 * A JSON string. Invalid UTF-8 (a message cut short mid-character) becomes
 * U+FFFD: a browser closes a WebSocket whose text is not UTF-8.
 */
static void put_str(struct out *o, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	put(o, "\"");
	while (*p && o->rc == FS_OK) {
		const unsigned char *run = p;
		size_t n;

		while (*p >= 0x20 && *p != '"' && *p != '\\' && (n = utf8_len(p)) > 0)
			p += n;
		if (p > run)
			o->rc = buf_append(&o->b, run, (size_t)(p - run), NULL);
		if (!*p)
			break;
		if (*p == '"')
			put(o, "\\\"");
		else if (*p == '\\')
			put(o, "\\\\");
		else if (*p < 0x20)
			putf(o, "\\u%04x", *p);
		else
			put(o, "\\ufffd");
		p++;
	}
	put(o, "\"");
}

static void put_bool(struct out *o, bool v)
{
	put(o, v ? "true" : "false");
}

static void put_status(struct out *o, const struct status *st)
{
	putf(o, "{\"t\":%.3f,\"decided\":", st->t);
	put_bool(o, st->decided);
	put(o, ",\"dryRun\":");
	put_bool(o, st->dry_run);
	put(o, ",\"target\":");
	put_str(o, st->target);
	put(o, ",\"mode\":");
	put_str(o, st->mode);
	put(o, ",\"metric\":");
	put_str(o, st->metric);
	put(o, ",\"targetPerReplica\":");
	put_num(o, st->tpr);
	put(o, ",\"load\":");
	put_num(o, st->load);
	put(o, ",\"forecast\":");
	put_num(o, st->forecast);
	put(o, ",\"upper\":");
	put_num(o, st->upper);
	put(o, ",\"lower\":");
	put_num(o, st->lower);
	put(o, ",\"leadTime\":");
	put_num(o, st->lead);
	putf(o, ",\"current\":%d,\"desired\":%d,\"proposed\":%d,\"min\":%d,\"max\":%d", st->current,
	     st->desired, st->proposed, st->min, st->max);
	put(o, ",\"limitedBy\":");
	put_str(o, st->limited_by);
	put(o, ",\"reason\":");
	put_str(o, st->reason);
	put(o, ",\"conditions\":[");
	for (size_t i = 0; i < st->n_cond; i++) {
		put(o, i ? ",{\"type\":" : "{\"type\":");
		put_str(o, st->cond[i].type);
		put(o, ",\"status\":");
		put_bool(o, st->cond[i].status);
		put(o, ",\"reason\":");
		put_str(o, st->cond[i].reason);
		put(o, ",\"message\":");
		put_str(o, st->cond[i].message);
		put(o, "}");
	}
	put(o, "]}");
}

static void put_point(struct out *o, const struct point *p)
{
	putf(o, "[%.3f,", p->t);
	put_num(o, p->load);
	put(o, ",");
	put_num(o, p->forecast);
	put(o, ",");
	put_num(o, p->upper);
	put(o, ",");
	put_num(o, p->lower);
	put(o, ",");
	put_num(o, p->lead);
	put(o, ",");
	put_num(o, p->capacity);
	putf(o, ",%d,%d]", (int)p->replicas, (int)p->desired);
}

static void put_event(struct out *o, const struct event *e)
{
	putf(o, "[%.3f,%d,%d,%d]", e->t, (int)e->from, (int)e->to, e->applied ? 1 : 0);
}

static struct point *point_at(const struct scaler *s, size_t i)
{
	return &s->pts[(s->start + i) % s->cap];
}

static struct event *event_at(const struct scaler *s, size_t i)
{
	return &s->evs[(s->ev_start + i) % s->ev_cap];
}

/* "shop/web": its namespace and name, as two JSON fields after the key. */
static void put_key(struct out *o, const char *key)
{
	const char *slash = strchr(key, '/');
	char ns[DASH_KEY_MAX];

	str_fmt(ns, sizeof(ns), "%.*s", slash ? (int)(slash - key) : 0, key);
	put(o, "\"key\":");
	put_str(o, key);
	put(o, ",\"namespace\":");
	put_str(o, ns);
	put(o, ",\"name\":");
	put_str(o, slash ? slash + 1 : key);
}

static void put_scaler(struct out *o, const struct scaler *s)
{
	put(o, "{");
	put_key(o, s->key);
	put(o, ",\"spacing\":");
	put_num(o, s->spacing);
	put(o, ",\"status\":");
	put_status(o, &s->st);
	put(o, ",\"points\":[");
	for (size_t i = 0; i < s->n; i++) {
		if (i)
			put(o, ",");
		put_point(o, point_at(s, i));
	}
	put(o, "],\"events\":[");
	for (size_t i = 0; i < s->ev_n; i++) {
		if (i)
			put(o, ",");
		put_event(o, event_at(s, i));
	}
	put(o, "]}");
}

/* --- the store ------------------------------------------------------------------ */

static void scaler_free(void *p)
{
	struct scaler *s = p;

	if (s) {
		free(s->pts);
		free(s->evs);
		free(s);
	}
}

static void budget_free(void *p)
{
	struct budget *b = p;

	if (b) {
		free(b->json);
		free(b);
	}
}

enum fs_rc dash_new(struct dash **out, const struct dash_opts *opts, struct fs_err *err)
{
	struct dash *d = calloc(1, sizeof(*d));

	if (!d)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	if (opts)
		d->o = *opts;
	else
		dash_opts_init(&d->o);
	if (d->o.points < 4 || d->o.events < 1 || d->o.scalers < 1 || d->o.budgets < 1 ||
	    d->o.updates < 1 || !(d->o.window_s > 0)) {
		free(d);
		return fs_fail(err, FS_EINVAL,
		               "dashboard: every cap must be positive (points >= 4)");
	}
	d->ring = calloc(d->o.updates, sizeof(*d->ring));
	if (!d->ring) {
		free(d);
		return fs_fail(err, FS_ENOMEM, "out of memory");
	}
	pthread_mutex_init(&d->mu, NULL);
	strmap_init(&d->scalers);
	strmap_init(&d->budgets);
	*out = d;
	return FS_OK;
}

void dash_free(struct dash *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->ring_n; i++)
		dash_msg_unref(d->ring[(d->ring_start + i) % d->o.updates]);
	free(d->ring);
	dash_msg_unref(d->snap);
	strmap_release(&d->scalers, scaler_free);
	strmap_release(&d->budgets, budget_free);
	pthread_mutex_destroy(&d->mu);
	free(d);
}

void dash_subscribe(struct dash *d, void (*notify)(void *ctx), void *ctx)
{
	pthread_mutex_lock(&d->mu);
	d->notify = notify;
	d->notify_ctx = ctx;
	pthread_mutex_unlock(&d->mu);
}

uint64_t dash_seq(struct dash *d)
{
	uint64_t seq;

	pthread_mutex_lock(&d->mu);
	seq = d->seq;
	pthread_mutex_unlock(&d->mu);
	return seq;
}

/*
 * Sends the message rendered in `o` (its "seq" is d->seq + 1) to the ring.
 * A message that could not be rendered is lost: the ring is emptied, so
 * readers see a gap and start again from a snapshot. Under mu.
 */
static void push_locked(struct dash *d, struct out *o)
{
	struct dash_msg *m = o->rc == FS_OK ? msg_new(&o->b, d->seq + 1) : NULL;

	buf_release(&o->b);
	d->seq++;
	if (!m) {
		for (size_t i = 0; i < d->ring_n; i++)
			dash_msg_unref(d->ring[(d->ring_start + i) % d->o.updates]);
		d->ring_n = 0;
	} else if (d->ring_n == d->o.updates) {
		dash_msg_unref(d->ring[d->ring_start]);
		d->ring[d->ring_start] = m;
		d->ring_start = (d->ring_start + 1) % d->o.updates;
	} else {
		d->ring[(d->ring_start + d->ring_n++) % d->o.updates] = m;
	}
	if (d->notify)
		d->notify(d->notify_ctx);
}

/* Starts a message of `type` with the next sequence number. Under mu. */
static void begin_locked(struct out *o, const struct dash *d, const char *type, size_t max)
{
	buf_init(&o->b, max);
	o->rc = FS_OK;
	put(o, "{\"type\":");
	put_str(o, type);
	putf(o, ",\"seq\":%llu", (unsigned long long)(d->seq + 1));
}

static float fl(double v)
{
	return isfinite(v) ? (float)v : NAN;
}

static void set_status(struct status *st, const struct dash_sample *s)
{
	memset(st, 0, sizeof(*st));
	st->t = s->t;
	st->decided = s->decided;
	st->dry_run = s->dry_run;
	str_fmt(st->target, sizeof(st->target), "%s", s->target ? s->target : "");
	str_fmt(st->mode, sizeof(st->mode), "%s", s->mode ? s->mode : "");
	str_fmt(st->metric, sizeof(st->metric), "%s", s->metric ? s->metric : "");
	str_fmt(st->limited_by, sizeof(st->limited_by), "%s", s->limited_by ? s->limited_by : "");
	str_fmt(st->reason, sizeof(st->reason), "%s", s->reason ? s->reason : "");
	st->tpr = s->target_per_replica;
	st->load = s->load;
	st->forecast = s->forecast;
	st->upper = s->upper;
	st->lower = s->lower;
	st->lead = s->lead_time;
	st->current = s->current;
	st->desired = s->desired;
	st->proposed = s->proposed;
	st->min = s->min;
	st->max = s->max;
	st->n_cond = s->n_conditions < DASH_CONDITIONS_MAX ? s->n_conditions : DASH_CONDITIONS_MAX;
	for (size_t i = 0; i < st->n_cond; i++) {
		const struct dash_condition *c = &s->conditions[i];

		str_fmt(st->cond[i].type, sizeof(st->cond[i].type), "%s", c->type ? c->type : "");
		st->cond[i].status = c->status;
		str_fmt(st->cond[i].reason, sizeof(st->cond[i].reason), "%s",
		        c->reason ? c->reason : "");
		str_fmt(st->cond[i].message, sizeof(st->cond[i].message), "%s",
		        c->message ? c->message : "");
	}
}

enum { POINT_ADDED, POINT_REPLACED, POINT_THINNED };

/*
 * Adds a point: replaces the newest while it is closer than `spacing` to
 * the one before it; in a full ring, drops every other point while the
 * ring covers less than half the window, else the oldest.
 */
static int add_point(const struct dash *d, struct scaler *s, const struct point *p)
{
	size_t cap = s->cap;
	int how = POINT_ADDED;

	if (s->n >= 2 && point_at(s, s->n - 1)->t - point_at(s, s->n - 2)->t < s->spacing) {
		*point_at(s, s->n - 1) = *p;
		return POINT_REPLACED;
	}
	if (s->n == cap) {
		double covered = point_at(s, cap - 1)->t - point_at(s, 0)->t;

		if (covered < d->o.window_s / 2) {
			size_t kept = cap / 2;

			/* Keep the newest and every other one before it; reads run ahead of writes.
			 */
			for (size_t k = 0; k < kept; k++)
				*point_at(s, k) = *point_at(s, cap - 2 * (kept - k) + 1);
			s->n = kept;
			s->spacing = fmax(2 * s->spacing, covered / (double)(kept - 1));
			how = POINT_THINNED;
		} else {
			s->start = (s->start + 1) % cap;
			s->n--;
		}
	}
	*point_at(s, s->n++) = *p;
	return how;
}

static void add_event(struct scaler *s, const struct event *e)
{
	if (s->ev_n == s->ev_cap) {
		s->ev_start = (s->ev_start + 1) % s->ev_cap;
		s->ev_n--;
	}
	*event_at(s, s->ev_n++) = *e;
}

/* The scale this sample shows, if any: made, or (dry run) newly wanted. */
static bool sample_event(struct event *e, struct scaler *s, const struct dash_sample *smp)
{
	bool dry = smp->dry_run || (smp->mode && strcmp(smp->mode, "DryRun") == 0);

	if (smp->scaled && smp->desired != smp->current) {
		*e = (struct event){smp->t, smp->current, smp->desired, true};
		s->last_would = 0;
		return true;
	}
	if (!smp->decided || !dry || smp->proposed == smp->current) {
		if (smp->decided)
			s->last_would = 0;
		return false;
	}
	if (smp->proposed == s->last_would)
		return false;
	s->last_would = smp->proposed;
	*e = (struct event){smp->t, smp->current, smp->proposed, false};
	return true;
}

enum fs_rc dash_publish(struct dash *d, const char *key, const struct dash_sample *smp,
                        struct fs_err *err)
{
	struct scaler *s;
	struct point p = {0};
	struct event e = {0};
	struct out o;
	bool fresh = false, has_event = false;
	int how = POINT_ADDED;
	enum fs_rc rc = FS_OK;

	if (strlen(key) >= DASH_KEY_MAX)
		return fs_fail(err, FS_EINVAL, "dashboard: key %.64s...: too long", key);
	pthread_mutex_lock(&d->mu);
	s = strmap_get(&d->scalers, key);
	if (!s) {
		if (d->scalers.len >= d->o.scalers) {
			rc = fs_fail(err, FS_ETOOLARGE, "dashboard: %zu scalers shown already",
			             d->o.scalers);
			goto out;
		}
		s = calloc(1, sizeof(*s));
		if (s) {
			s->pts = calloc(d->o.points, sizeof(*s->pts));
			s->evs = calloc(d->o.events, sizeof(*s->evs));
		}
		if (!s || !s->pts || !s->evs ||
		    strmap_put(&d->scalers, key, s, NULL, NULL) != FS_OK) {
			scaler_free(s);
			rc = fs_fail(err, FS_ENOMEM, "out of memory");
			goto out;
		}
		str_fmt(s->key, sizeof(s->key), "%s", key);
		s->cap = d->o.points;
		s->ev_cap = d->o.events;
		s->spacing = MIN_SPACING_S;
		fresh = true;
	}
	set_status(&s->st, smp);
	if (smp->decided) {
		int replicas = smp->scaled ? smp->desired : smp->current;

		p = (struct point){
		    .t = smp->t,
		    .load = fl(smp->load),
		    .forecast = fl(smp->forecast),
		    .upper = fl(smp->upper),
		    .lower = fl(smp->lower),
		    .lead = fl(smp->lead_time),
		    .capacity = fl(replicas * smp->target_per_replica),
		    .replicas = replicas,
		    .desired = smp->desired,
		};
		how = add_point(d, s, &p);
		has_event = sample_event(&e, s, smp);
		if (has_event)
			add_event(s, &e);
	}
	if (fresh || how == POINT_THINNED) {
		size_t max =
		    SCALER_JSON_MAX + d->o.points * POINT_JSON_MAX + d->o.events * EVENT_JSON_MAX;

		begin_locked(&o, d, "scaler", max);
		put(&o, ",\"scaler\":");
		put_scaler(&o, s);
	} else {
		begin_locked(&o, d, "sample", DELTA_MAX);
		put(&o, ",\"key\":");
		put_str(&o, key);
		put(&o, ",\"status\":");
		put_status(&o, &s->st);
		put(&o, ",\"point\":");
		if (smp->decided)
			put_point(&o, &p);
		else
			put(&o, "null");
		put(&o, ",\"replace\":");
		put_bool(&o, how == POINT_REPLACED);
		if (has_event) {
			put(&o, ",\"event\":");
			put_event(&o, &e);
		}
	}
	put(&o, "}");
	push_locked(d, &o);
out:
	pthread_mutex_unlock(&d->mu);
	return rc;
}

void dash_forget(struct dash *d, const char *key)
{
	struct scaler *s;
	struct out o;

	pthread_mutex_lock(&d->mu);
	s = strmap_remove(&d->scalers, key);
	if (s) {
		begin_locked(&o, d, "forget", DELTA_MAX);
		put(&o, ",\"key\":");
		put_str(&o, key);
		put(&o, "}");
		push_locked(d, &o);
		scaler_free(s);
	}
	pthread_mutex_unlock(&d->mu);
}

static void put_budget(struct out *o, const char *key, const struct dash_budget *b)
{
	put(o, "{");
	put_key(o, key);
	put(o, ",\"valid\":");
	put_bool(o, b->valid);
	put(o, ",\"invalid\":");
	put_str(o, b->valid ? "" : b->invalid);
	put(o, ",\"capacity\":");
	put_num(o, b->capacity);
	put(o, ",\"requested\":");
	put_num(o, b->requested);
	put(o, ",\"allocated\":");
	put_num(o, b->allocated);
	put(o, ",\"used\":");
	put_num(o, b->used);
	putf(o, ",\"members\":%d,\"scalingUp\":%d,\"saturated\":", b->members, b->scaling_up);
	put_str(o, b->saturated);
	put(o, ",\"saturatedReason\":");
	put_str(o, b->saturated_why);
	put(o, ",\"overcommitted\":");
	put_str(o, b->overcommitted);
	put(o, "}");
}

enum fs_rc dash_publish_budget(struct dash *d, const char *key, const struct dash_budget *b,
                               struct fs_err *err)
{
	struct budget *nb = NULL, *old;
	struct out o = {.rc = FS_OK};
	enum fs_rc rc = FS_OK;
	char *json;

	if (strlen(key) >= DASH_KEY_MAX)
		return fs_fail(err, FS_EINVAL, "dashboard: key %.64s...: too long", key);
	/* Rendered outside the lock: it is compared with what the store has. */
	buf_init(&o.b, BUDGET_JSON_MAX);
	put_budget(&o, key, b);
	json = o.rc == FS_OK ? buf_detach(&o.b) : NULL;
	buf_release(&o.b);
	if (!json)
		return fs_fail(err, o.rc == FS_OK ? FS_ENOMEM : o.rc, "dashboard: budget %s: %s",
		               key, o.rc == FS_ETOOLARGE ? "too large" : "out of memory");
	pthread_mutex_lock(&d->mu);
	old = strmap_get(&d->budgets, key);
	if (old && strcmp(old->json, json) == 0) {
		free(json);
		goto out;
	}
	if (!old) {
		if (d->budgets.len >= d->o.budgets) {
			free(json);
			rc = fs_fail(err, FS_ETOOLARGE, "dashboard: %zu budgets shown already",
			             d->o.budgets);
			goto out;
		}
		nb = calloc(1, sizeof(*nb));
		if (!nb || strmap_put(&d->budgets, key, nb, NULL, NULL) != FS_OK) {
			free(nb);
			free(json);
			rc = fs_fail(err, FS_ENOMEM, "out of memory");
			goto out;
		}
		str_fmt(nb->key, sizeof(nb->key), "%s", key);
		old = nb;
	}
	free(old->json);
	old->json = json;
	begin_locked(&o, d, "budget", BUDGET_JSON_MAX + 64);
	put(&o, ",\"budget\":");
	put(&o, json);
	put(&o, "}");
	push_locked(d, &o);
out:
	pthread_mutex_unlock(&d->mu);
	return rc;
}

void dash_forget_budget(struct dash *d, const char *key)
{
	struct budget *b;
	struct out o;

	pthread_mutex_lock(&d->mu);
	b = strmap_remove(&d->budgets, key);
	if (b) {
		begin_locked(&o, d, "forgetBudget", DELTA_MAX);
		put(&o, ",\"key\":");
		put_str(&o, key);
		put(&o, "}");
		push_locked(d, &o);
		budget_free(b);
	}
	pthread_mutex_unlock(&d->mu);
}

size_t dash_updates(struct dash_msg **out, size_t max, bool *gap, struct dash *d, uint64_t after)
{
	size_t n = 0;
	uint64_t oldest;

	*gap = false;
	pthread_mutex_lock(&d->mu);
	if (after >= d->seq)
		goto out;
	oldest = d->ring_n ? d->ring[d->ring_start]->seq : d->seq + 1;
	if (after + 1 < oldest) {
		*gap = true;
		goto out;
	}
	for (size_t i = (size_t)(after + 1 - oldest); i < d->ring_n && n < max; i++)
		out[n++] = dash_msg_ref(d->ring[(d->ring_start + i) % d->o.updates]);
out:
	pthread_mutex_unlock(&d->mu);
	return n;
}

/* --- snapshots ------------------------------------------------------------------ */

/* What a snapshot renders, copied under the lock so that rendering is not. */
struct copy {
	size_t n_scalers, n_budgets;
	struct scaler *scalers; /* each with its own linear pts and evs */
	struct budget *budgets; /* each with its own json */
	bool failed;
};

static void copy_scaler(void *ctx, const char *key, void *value)
{
	struct copy *c = ctx;
	struct scaler *s = value, *to = &c->scalers[c->n_scalers];

	(void)key;
	*to = *s;
	to->pts = malloc((s->n ? s->n : 1) * sizeof(*to->pts));
	to->evs = malloc((s->ev_n ? s->ev_n : 1) * sizeof(*to->evs));
	if (!to->pts || !to->evs) {
		free(to->pts);
		free(to->evs);
		c->failed = true;
		return;
	}
	for (size_t i = 0; i < s->n; i++)
		to->pts[i] = *point_at(s, i);
	for (size_t i = 0; i < s->ev_n; i++)
		to->evs[i] = *event_at(s, i);
	to->start = to->ev_start = 0;
	to->cap = s->n ? s->n : 1;
	to->ev_cap = s->ev_n ? s->ev_n : 1;
	c->n_scalers++;
}

static void copy_budget(void *ctx, const char *key, void *value)
{
	struct copy *c = ctx;
	struct budget *b = value, *to = &c->budgets[c->n_budgets];

	(void)key;
	*to = *b;
	to->json = strdup(b->json);
	if (!to->json) {
		c->failed = true;
		return;
	}
	c->n_budgets++;
}

static int cmp_scaler(const void *a, const void *b)
{
	return strcmp(((const struct scaler *)a)->key, ((const struct scaler *)b)->key);
}

static int cmp_budget(const void *a, const void *b)
{
	return strcmp(((const struct budget *)a)->key, ((const struct budget *)b)->key);
}

struct dash_msg *dash_snapshot(struct dash *d)
{
	struct copy c = {0};
	struct dash_msg *m = NULL;
	struct out o = {.rc = FS_OK};
	uint64_t seq;

	pthread_mutex_lock(&d->mu);
	if (d->snap && (d->snap->seq == d->seq ||
	                (d->seq - d->snap->seq <= DASH_SNAPSHOT_STALE_MAX && d->ring_n &&
	                 d->ring[d->ring_start]->seq <= d->snap->seq + 1))) {
		m = dash_msg_ref(d->snap);
		pthread_mutex_unlock(&d->mu);
		return m;
	}
	seq = d->seq;
	c.scalers = calloc(d->scalers.len + 1, sizeof(*c.scalers));
	c.budgets = calloc(d->budgets.len + 1, sizeof(*c.budgets));
	if (c.scalers && c.budgets) {
		strmap_foreach(&d->scalers, copy_scaler, &c);
		strmap_foreach(&d->budgets, copy_budget, &c);
	} else {
		c.failed = true;
	}
	pthread_mutex_unlock(&d->mu);
	if (c.failed)
		goto out;

	qsort(c.scalers, c.n_scalers, sizeof(*c.scalers), cmp_scaler);
	qsort(c.budgets, c.n_budgets, sizeof(*c.budgets), cmp_budget);
	buf_init(&o.b, 4096 +
	                   c.n_scalers * (SCALER_JSON_MAX + d->o.points * POINT_JSON_MAX +
	                                  d->o.events * EVENT_JSON_MAX) +
	                   c.n_budgets * (BUDGET_JSON_MAX + 2));
	put(&o, "{\"type\":\"state\"");
	putf(&o, ",\"seq\":%llu", (unsigned long long)seq);
	putf(&o, ",\"caps\":{\"points\":%zu,\"events\":%zu,\"windowSeconds\":", d->o.points,
	     d->o.events);
	put_num(&o, d->o.window_s);
	put(&o, "},\"scalers\":[");
	for (size_t i = 0; i < c.n_scalers; i++) {
		if (i)
			put(&o, ",");
		put_scaler(&o, &c.scalers[i]);
	}
	put(&o, "],\"budgets\":[");
	for (size_t i = 0; i < c.n_budgets; i++) {
		if (i)
			put(&o, ",");
		put(&o, c.budgets[i].json);
	}
	put(&o, "]}");
	m = o.rc == FS_OK ? msg_new(&o.b, seq) : NULL;
	buf_release(&o.b);
	if (m) {
		pthread_mutex_lock(&d->mu);
		if (!d->snap || d->snap->seq < seq) {
			dash_msg_unref(d->snap);
			d->snap = dash_msg_ref(m);
		}
		pthread_mutex_unlock(&d->mu);
	}
out:
	for (size_t i = 0; c.scalers && i < c.n_scalers; i++) {
		free(c.scalers[i].pts);
		free(c.scalers[i].evs);
	}
	for (size_t i = 0; c.budgets && i < c.n_budgets; i++)
		free(c.budgets[i].json);
	free(c.scalers);
	free(c.budgets);
	return m;
}
