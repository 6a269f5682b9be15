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
#define RING_MIN      16  /* a ring's first allocation, in items; it doubles up to its cap */
#define DELTA_MAX     (64u << 10)
/* Rendered sizes, generously, for the cap of a whole state. */
#define POINT_JSON_MAX  160
#define EVENT_JSON_MAX  64
#define STATUS_JSON_MAX (32u << 10) /* each byte of its strings may be a 6-byte escape */
#define SCALER_JSON_MAX (STATUS_JSON_MAX + (16u << 10))
#define BUDGET_JSON_MAX 2048

/* The bytes of each string a status keeps, at most: a scaler's memory is bounded. */
#define TARGET_MAX       299
#define MODE_MAX         15
#define METRIC_MAX       63
#define LIMITED_BY_MAX   23
#define REASON_MAX       511
#define COND_TYPE_MAX    23
#define COND_REASON_MAX  63
#define COND_MESSAGE_MAX 255

/*
 * A chart value in 16 bits: a sign, a 6-bit exponent and a 9-bit mantissa
 * (IEEE binary16's 5 and 10 would stop at 65504, too little for a load in
 * bytes). Within 2^-10 (0.1 %) of the value from 1.2e-7 to 1.1e12 in
 * magnitude; below, in steps of 2.3e-10 (down to 0); above, the largest.
 * Minus zero, which a chart does not need, is NaN: not known.
 */
#define V_MANT    9
#define V_EMIN    (-22) /* frexp's exponent of the smallest normal value, 2^-23 */
#define V_SIGN    0x8000u
#define V_NAN     V_SIGN
#define V_LARGEST 0x7fffu

/*
 * A chart point in 20 bytes (it took 40 with floats), as precise as a chart
 * needs: its time in centiseconds after the scaler's base, its values
 * packed (pack()), its replica counts up to 65535.
 */
struct point {
	int32_t t;
	uint16_t load, forecast, upper, lower, lead, capacity;
	uint16_t replicas, desired;
};

struct event {
	double t;
	int32_t from, to;
	bool applied;
};

/*
 * A ring of items of one size. Allocated as it fills, doubling from
 * RING_MIN up to its cap, so that a young or a slow scaler holds the points
 * it has, not opts.points.
 */
struct ring {
	void *items;
	size_t alloc, start, n;
};

struct scaler {
	char *status;    /* its "status" object, rendered: it is only ever sent */
	int64_t base;    /* centiseconds since the epoch that its points' times count from */
	double spacing;  /* the newest point is replaced until it is this far from the one before */
	struct ring pts; /* of opts.points struct point (a snapshot's copy: n, from 0) */
	struct ring evs; /* of opts.events struct event */
	int last_would;  /* the dry run's last "would scale" target recorded; 0 none */
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
	size_t readers;        /* dash_reader: with none, updates are neither rendered nor kept */
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

/* The length of the valid UTF-8 sequence at `s` (of `left` bytes), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s, size_t left)
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
	if (n > left)
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
 * A JSON string of at most `max` bytes of `s` (NULL is ""). Invalid UTF-8
 * (a message cut short mid-character) becomes U+FFFD: a browser closes a
 * WebSocket whose text is not UTF-8.
 */
static void put_strn(struct out *o, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t left = strnlen((const char *)p, max);

	put(o, "\"");
	while (left && o->rc == FS_OK) {
		const unsigned char *run = p;
		size_t n;

		while (left && *p >= 0x20 && *p != '"' && *p != '\\' && (n = utf8_len(p, left)) > 0)
			p += n, left -= n;
		if (p > run)
			o->rc = buf_append(&o->b, run, (size_t)(p - run), NULL);
		if (!left)
			break;
		if (*p == '"')
			put(o, "\\\"");
		else if (*p == '\\')
			put(o, "\\\\");
		else if (*p < 0x20)
			putf(o, "\\u%04x", *p);
		else
			put(o, "\\ufffd");
		p++, left--;
	}
	put(o, "\"");
}

static void put_str(struct out *o, const char *s)
{
	put_strn(o, s, SIZE_MAX);
}

static void put_bool(struct out *o, bool v)
{
	put(o, v ? "true" : "false");
}

/* A sample's "status" object; its strings cut as the *_MAX above say. */
static void put_status(struct out *o, const struct dash_sample *s)
{
	size_t n_cond =
	    s->n_conditions < DASH_CONDITIONS_MAX ? s->n_conditions : DASH_CONDITIONS_MAX;

	putf(o, "{\"t\":%.3f,\"decided\":", s->t);
	put_bool(o, s->decided);
	put(o, ",\"dryRun\":");
	put_bool(o, s->dry_run);
	put(o, ",\"target\":");
	put_strn(o, s->target, TARGET_MAX);
	put(o, ",\"mode\":");
	put_strn(o, s->mode, MODE_MAX);
	put(o, ",\"metric\":");
	put_strn(o, s->metric, METRIC_MAX);
	put(o, ",\"targetPerReplica\":");
	put_num(o, s->target_per_replica);
	put(o, ",\"load\":");
	put_num(o, s->load);
	put(o, ",\"forecast\":");
	put_num(o, s->forecast);
	put(o, ",\"upper\":");
	put_num(o, s->upper);
	put(o, ",\"lower\":");
	put_num(o, s->lower);
	put(o, ",\"leadTime\":");
	put_num(o, s->lead_time);
	putf(o, ",\"current\":%d,\"desired\":%d,\"proposed\":%d,\"min\":%d,\"max\":%d", s->current,
	     s->desired, s->proposed, s->min, s->max);
	put(o, ",\"limitedBy\":");
	put_strn(o, s->limited_by, LIMITED_BY_MAX);
	put(o, ",\"reason\":");
	put_strn(o, s->reason, REASON_MAX);
	put(o, ",\"conditions\":[");
	for (size_t i = 0; i < n_cond; i++) {
		const struct dash_condition *c = &s->conditions[i];

		put(o, i ? ",{\"type\":" : "{\"type\":");
		put_strn(o, c->type, COND_TYPE_MAX);
		put(o, ",\"status\":");
		put_bool(o, c->status);
		put(o, ",\"reason\":");
		put_strn(o, c->reason, COND_REASON_MAX);
		put(o, ",\"message\":");
		put_strn(o, c->message, COND_MESSAGE_MAX);
		put(o, "}");
	}
	put(o, "]}");
}

/* `v` packed (V_* above). */
static uint16_t pack(double v)
{
	double a = fabs(v);
	long code;
	int e;

	if (!isfinite(v))
		return V_NAN;
	frexp(a, &e); /* a = f 2^e, f in [0.5, 1): the mantissa is a's bits 2^(e-2) .. 2^(e-10) */
	if (a == 0 || e < V_EMIN)
		e = V_EMIN;
	/* Rounding up to the next power of two carries into the exponent, as it should. */
	code = (long)(e - V_EMIN) * (1L << V_MANT) + lround(ldexp(a, V_MANT + 1 - e));
	if (code > (long)V_LARGEST)
		code = V_LARGEST;
	return (uint16_t)(v < 0 && code ? V_SIGN | (unsigned)code : (unsigned)code);
}

static double unpack(uint16_t c)
{
	unsigned exp = (c & ~V_SIGN) >> V_MANT, mant = c & ((1u << V_MANT) - 1);
	double a;

	if (c == V_NAN)
		return NAN;
	/* Exponent 0: below the smallest normal value, at its scale, without its leading bit. */
	if (exp)
		a = ldexp((1u << V_MANT) + mant, (int)exp - 1 + V_EMIN - V_MANT - 1);
	else
		a = ldexp(mant, V_EMIN - V_MANT - 1);
	return c & V_SIGN ? -a : a;
}

/* A replica count in 16 bits: more than 65535 is 65535. */
static uint16_t count16(int v)
{
	return v < 0 ? 0 : v > UINT16_MAX ? UINT16_MAX : (uint16_t)v;
}

/* Unix seconds as centiseconds, clamped (NaN too) so that differences of them cannot overflow. */
static int64_t centis(double t)
{
	return llround(fmax(-1e12, fmin(t, 1e12)) * 100);
}

static void put_point(struct out *o, int64_t base, const struct point *p)
{
	putf(o, "[%.2f,", (double)(base + p->t) / 100);
	put_num(o, unpack(p->load));
	put(o, ",");
	put_num(o, unpack(p->forecast));
	put(o, ",");
	put_num(o, unpack(p->upper));
	put(o, ",");
	put_num(o, unpack(p->lower));
	put(o, ",");
	put_num(o, unpack(p->lead));
	put(o, ",");
	put_num(o, unpack(p->capacity));
	putf(o, ",%d,%d]", p->replicas, p->desired);
}

static void put_event(struct out *o, const struct event *e)
{
	putf(o, "[%.3f,%d,%d,%d]", e->t, (int)e->from, (int)e->to, e->applied ? 1 : 0);
}

static void *ring_at(const struct ring *r, size_t size, size_t i)
{
	return (char *)r->items + (r->start + i) % r->alloc * size;
}

/*
 * The ring's items, oldest first, in a new array of room for `room` (at
 * least r->n) items; NULL when out of memory.
 */
static void *ring_linear(const struct ring *r, size_t size, size_t room)
{
	char *to = malloc((room ? room : 1) * size);
	size_t head = r->n < r->alloc - r->start ? r->n : r->alloc - r->start;

	if (to && r->n) {
		memcpy(to, (char *)r->items + r->start * size, head * size);
		memcpy(to + head * size, r->items, (r->n - head) * size);
	}
	return to;
}

/*
 * Makes room for one more item in ring `r` of at most `cap` items: a full
 * one below its cap doubles. FS_ENOMEM leaves it as it was.
 */
static enum fs_rc ring_reserve(struct ring *r, size_t size, size_t cap)
{
	size_t alloc = r->alloc ? 2 * r->alloc : RING_MIN;
	void *items;

	if (r->n < r->alloc || r->alloc >= cap)
		return FS_OK;
	if (alloc > cap)
		alloc = cap;
	items = ring_linear(r, size, alloc);
	if (!items)
		return FS_ENOMEM;
	free(r->items);
	r->items = items;
	r->alloc = alloc;
	r->start = 0;
	return FS_OK;
}

static struct point *point_at(const struct scaler *s, size_t i)
{
	return ring_at(&s->pts, sizeof(struct point), i);
}

static struct event *event_at(const struct scaler *s, size_t i)
{
	return ring_at(&s->evs, sizeof(struct event), i);
}

/* Seconds from point `a` to point `b`. */
static double span_s(const struct point *a, const struct point *b)
{
	return (double)((int64_t)b->t - a->t) / 100;
}

/* "shop/web": its namespace and name, as two JSON fields after the key. */
static void put_key(struct out *o, const char *key)
{
	const char *slash = strchr(key, '/');

	put(o, "\"key\":");
	put_str(o, key);
	put(o, ",\"namespace\":");
	put_strn(o, key, slash ? (size_t)(slash - key) : 0);
	put(o, ",\"name\":");
	put_str(o, slash ? slash + 1 : key);
}

static void put_scaler(struct out *o, const char *key, const struct scaler *s)
{
	put(o, "{");
	put_key(o, key);
	put(o, ",\"spacing\":");
	put_num(o, s->spacing);
	put(o, ",\"status\":");
	put(o, s->status);
	put(o, ",\"points\":[");
	for (size_t i = 0; i < s->pts.n; i++) {
		if (i)
			put(o, ",");
		put_point(o, s->base, point_at(s, i));
	}
	put(o, "],\"events\":[");
	for (size_t i = 0; i < s->evs.n; i++) {
		if (i)
			put(o, ",");
		put_event(o, event_at(s, i));
	}
	put(o, "]}");
}

/* --- the store ------------------------------------------------------------------ */

/* Frees what the scaler holds, not the scaler itself. */
static void scaler_release(struct scaler *s)
{
	free(s->status);
	free(s->pts.items);
	free(s->evs.items);
}

static void scaler_free(void *p)
{
	if (p) {
		scaler_release(p);
		free(p);
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

void dash_reader(struct dash *d, bool joins)
{
	pthread_mutex_lock(&d->mu);
	if (joins)
		d->readers++;
	else if (d->readers)
		d->readers--;
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

/* Empties the ring: a reader after what it held sees a gap. Under mu. */
static void ring_clear_locked(struct dash *d)
{
	for (size_t i = 0; i < d->ring_n; i++)
		dash_msg_unref(d->ring[(d->ring_start + i) % d->o.updates]);
	d->ring_n = 0;
}

/*
 * Whether a change is rendered as an update message: only while a reader
 * pulls them. Otherwise the change only takes the next sequence number,
 * and the ring is emptied: a reader that joins starts from a snapshot,
 * which has the change. Under mu.
 */
static bool update_wanted_locked(struct dash *d)
{
	if (d->readers)
		return true;
	d->seq++;
	ring_clear_locked(d);
	return false;
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
		ring_clear_locked(d);
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

/* Sample `s`'s "status" object, in an allocation of its size; NULL when out of memory. */
static char *status_json(const struct dash_sample *s)
{
	struct out o = {.rc = FS_OK};
	char *json, *fit;

	buf_init(&o.b, STATUS_JSON_MAX);
	put_status(&o, s);
	json = o.rc == FS_OK ? buf_detach(&o.b) : NULL;
	buf_release(&o.b);
	if (!json)
		return NULL;
	fit = realloc(json, strlen(json) + 1); /* the buffer grew by doubling: its slack back */
	return fit ? fit : json;
}

/* POINT_REWRITTEN: more than the newest point changed; the whole scaler is sent. */
enum { POINT_ADDED, POINT_REPLACED, POINT_REWRITTEN };

/* Whether the next point replaces the newest: that is closer than `spacing` to the one before. */
static bool replaces(const struct scaler *s)
{
	return s->pts.n >= 2 &&
	       span_s(point_at(s, s->pts.n - 2), point_at(s, s->pts.n - 1)) < s->spacing;
}

/*
 * Point times are centiseconds after s->base in 32 bits: 248 days either
 * way. A point further away (a scaler shown for months, a clock that
 * jumped) moves the base to it; when a point kept is then out of reach,
 * the ring starts anew. Returns whether it did.
 */
static bool rebase(struct scaler *s, int64_t cs)
{
	int64_t shift = s->base - cs;
	bool reach = true;

	if (cs - s->base >= INT32_MIN && cs - s->base <= INT32_MAX)
		return false;
	for (size_t i = 0; i < s->pts.n && reach; i++)
		reach = point_at(s, i)->t + shift >= INT32_MIN &&
		        point_at(s, i)->t + shift <= INT32_MAX;
	s->base = cs;
	if (!reach) {
		s->pts.start = s->pts.n = 0;
		return true;
	}
	for (size_t i = 0; i < s->pts.n; i++)
		point_at(s, i)->t = (int32_t)(point_at(s, i)->t + shift);
	return false;
}

/*
 * Adds sample `smp`'s point (room reserved): replaces the newest while it
 * is closer than `spacing` to the one before it; in a full ring, drops
 * every other point while the ring covers less than half the window, else
 * the oldest.
 */
static int add_point(const struct dash *d, struct scaler *s, const struct dash_sample *smp)
{
	int replicas = smp->scaled ? smp->desired : smp->current;
	int64_t cs = centis(smp->t);
	size_t cap = d->o.points;
	int how = POINT_ADDED;
	struct point p;

	if (rebase(s, cs))
		how = POINT_REWRITTEN;
	p = (struct point){
	    .t = (int32_t)(cs - s->base),
	    .load = pack(smp->load),
	    .forecast = pack(smp->forecast),
	    .upper = pack(smp->upper),
	    .lower = pack(smp->lower),
	    .lead = pack(smp->lead_time),
	    .capacity = pack(replicas * smp->target_per_replica),
	    .replicas = count16(replicas),
	    .desired = count16(smp->desired),
	};

	if (replaces(s)) {
		*point_at(s, s->pts.n - 1) = p;
		return POINT_REPLACED;
	}
	if (s->pts.n == cap) {
		double covered = span_s(point_at(s, 0), point_at(s, cap - 1));

		if (covered < d->o.window_s / 2) {
			size_t kept = cap / 2;

			/* Keep the newest and every other one before it; reads run ahead of writes.
			 */
			for (size_t k = 0; k < kept; k++)
				*point_at(s, k) = *point_at(s, cap - 2 * (kept - k) + 1);
			s->pts.n = kept;
			s->spacing = fmax(2 * s->spacing, covered / (double)(kept - 1));
			how = POINT_REWRITTEN;
		} else {
			s->pts.start = (s->pts.start + 1) % s->pts.alloc;
			s->pts.n--;
		}
	}
	*point_at(s, s->pts.n++) = p;
	return how;
}

/* Adds an event (room reserved), dropping the oldest from a full ring. */
static void add_event(const struct dash *d, struct scaler *s, const struct event *e)
{
	if (s->evs.n == d->o.events) {
		s->evs.start = (s->evs.start + 1) % s->evs.alloc;
		s->evs.n--;
	}
	*event_at(s, s->evs.n++) = *e;
}

/*
 * The scale a decided sample shows, if any: made, or (dry run) newly
 * wanted. *would: the scaler's last_would after it.
 */
static bool sample_event(struct event *e, int *would, const struct scaler *s,
                         const struct dash_sample *smp)
{
	bool dry = smp->dry_run || (smp->mode && strcmp(smp->mode, "DryRun") == 0);

	*would = 0;
	if (smp->scaled && smp->desired != smp->current) {
		*e = (struct event){smp->t, smp->current, smp->desired, true};
		return true;
	}
	if (!dry || smp->proposed == smp->current)
		return false;
	*would = smp->proposed;
	if (smp->proposed == s->last_would)
		return false;
	*e = (struct event){smp->t, smp->current, smp->proposed, false};
	return true;
}

/* Whether `key` is new and the store shows its cap of scalers already; d->mu held. */
static bool full_locked(struct dash *d, const char *key, struct fs_err *err)
{
	if (strmap_get(&d->scalers, key) || d->scalers.len < d->o.scalers)
		return false;
	fs_fail(err, FS_ETOOLARGE, "dashboard: %zu scalers shown already", d->o.scalers);
	return true;
}

enum fs_rc dash_publish(struct dash *d, const char *key, const struct dash_sample *smp,
                        struct fs_err *err)
{
	struct scaler *s, *made = NULL;
	struct event e = {0};
	struct out o;
	char *status;
	bool full, fresh, has_event = false;
	int how = POINT_ADDED, would = 0;
	enum fs_rc rc = FS_OK;

	if (strlen(key) >= DASH_KEY_MAX)
		return fs_fail(err, FS_EINVAL, "dashboard: key %.64s...: too long", key);
	/* A scaler past the cap is not rendered only to be turned away (checked again below). */
	pthread_mutex_lock(&d->mu);
	full = full_locked(d, key, err);
	pthread_mutex_unlock(&d->mu);
	if (full)
		return FS_ETOOLARGE;
	/* Rendered outside the lock: it is the sample's alone. */
	status = status_json(smp);
	if (!status)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	pthread_mutex_lock(&d->mu);
	if (full_locked(d, key, err)) {
		rc = FS_ETOOLARGE;
		goto out;
	}
	s = strmap_get(&d->scalers, key);
	fresh = !s;
	if (fresh) {
		s = made = calloc(1, sizeof(*s));
		if (!s) {
			rc = fs_fail(err, FS_ENOMEM, "out of memory");
			goto out;
		}
		s->base = centis(smp->t);
		s->spacing = MIN_SPACING_S;
	}
	/* Whatever may fail comes first: the store is unchanged then. */
	if (smp->decided) {
		has_event = sample_event(&e, &would, s, smp);
		if ((!replaces(s) &&
		     ring_reserve(&s->pts, sizeof(struct point), d->o.points) != FS_OK) ||
		    (has_event &&
		     ring_reserve(&s->evs, sizeof(struct event), d->o.events) != FS_OK)) {
			rc = fs_fail(err, FS_ENOMEM, "out of memory");
			goto out;
		}
	}
	if (made && strmap_put(&d->scalers, key, made, NULL, NULL) != FS_OK) {
		rc = fs_fail(err, FS_ENOMEM, "out of memory");
		goto out;
	}
	made = NULL;
	free(s->status);
	s->status = status;
	status = NULL;
	if (smp->decided) {
		how = add_point(d, s, smp);
		s->last_would = would;
		if (has_event)
			add_event(d, s, &e);
	}
	if (!update_wanted_locked(d))
		goto out;
	if (fresh || how == POINT_REWRITTEN) {
		size_t max =
		    SCALER_JSON_MAX + d->o.points * POINT_JSON_MAX + d->o.events * EVENT_JSON_MAX;

		begin_locked(&o, d, "scaler", max);
		put(&o, ",\"scaler\":");
		put_scaler(&o, key, s);
	} else {
		begin_locked(&o, d, "sample", DELTA_MAX);
		put(&o, ",\"key\":");
		put_str(&o, key);
		put(&o, ",\"status\":");
		put(&o, s->status);
		put(&o, ",\"point\":");
		if (smp->decided)
			put_point(&o, s->base, point_at(s, s->pts.n - 1));
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
	scaler_free(made);
	free(status);
	return rc;
}

void dash_forget(struct dash *d, const char *key)
{
	struct scaler *s;
	struct out o;

	pthread_mutex_lock(&d->mu);
	s = strmap_remove(&d->scalers, key);
	if (s && update_wanted_locked(d)) {
		begin_locked(&o, d, "forget", DELTA_MAX);
		put(&o, ",\"key\":");
		put_str(&o, key);
		put(&o, "}");
		push_locked(d, &o);
	}
	scaler_free(s);
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
	if (!update_wanted_locked(d))
		goto out;
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
	if (b && update_wanted_locked(d)) {
		begin_locked(&o, d, "forgetBudget", DELTA_MAX);
		put(&o, ",\"key\":");
		put_str(&o, key);
		put(&o, "}");
		push_locked(d, &o);
	}
	budget_free(b);
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

/* A scaler as a snapshot renders it: its key, its status and its rings (linear), copied. */
struct shown {
	char *key;
	struct scaler s;
};

/* What a snapshot renders, copied under the lock so that rendering is not. */
struct copy {
	size_t n_scalers, n_budgets;
	struct shown *scalers;
	struct budget *budgets; /* each with its own json */
	bool failed;
};

static void shown_release(struct shown *sh)
{
	free(sh->key);
	scaler_release(&sh->s);
}

static void copy_scaler(void *ctx, const char *key, void *value)
{
	struct copy *c = ctx;
	const struct scaler *s = value;
	struct shown *to = &c->scalers[c->n_scalers];

	to->key = strdup(key);
	to->s = *s;
	to->s.status = strdup(s->status);
	to->s.pts = (struct ring){ring_linear(&s->pts, sizeof(struct point), s->pts.n), s->pts.n, 0,
	                          s->pts.n};
	to->s.evs = (struct ring){ring_linear(&s->evs, sizeof(struct event), s->evs.n), s->evs.n, 0,
	                          s->evs.n};
	if (!to->key || !to->s.status || !to->s.pts.items || !to->s.evs.items) {
		shown_release(to);
		c->failed = true;
		return;
	}
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

static int cmp_shown(const void *a, const void *b)
{
	return strcmp(((const struct shown *)a)->key, ((const struct shown *)b)->key);
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

	qsort(c.scalers, c.n_scalers, sizeof(*c.scalers), cmp_shown);
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
		put_scaler(&o, c.scalers[i].key, &c.scalers[i].s);
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
	for (size_t i = 0; c.scalers && i < c.n_scalers; i++)
		shown_release(&c.scalers[i]);
	for (size_t i = 0; c.budgets && i < c.n_budgets; i++)
		free(c.budgets[i].json);
	free(c.scalers);
	free(c.budgets);
	return m;
}
