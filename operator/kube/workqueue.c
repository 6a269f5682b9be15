#include "kube/workqueue.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/backoff.h"
#include "base/hash.h"
#include "base/log.h"

#define DEFAULT_BASE_DELAY_MS 5
#define DEFAULT_MAX_DELAY_MS  300000
#define DEFAULT_MAX_ITEMS     100000
#define MIN_BUCKETS           64
#define MIN_HEAP              64
#define NOT_WAITING           SIZE_MAX
#define NOMEM_PAUSE_NS        100000000ull /* before retrying a failed key copy in wq_get */

/*
 * One record per key that is held (ready, waiting for a time or processing)
 * or that has failures to remember. A record is in the ready list at most
 * once and in the heap at most once, so both stay O(keys).
 */
struct item {
	struct item *chain;      /* next in the hash bucket */
	struct item *next_ready; /* next in the ready list */
	uint64_t hash;
	uint64_t due_ns;   /* while waiting: the monotonic time it becomes ready */
	size_t heap_idx;   /* position in the heap, NOT_WAITING when not waiting */
	struct backoff bo; /* bo.attempt is the failure count */
	bool queued;       /* in the ready list */
	bool processing;   /* handed out by wq_get, wq_done not called yet */
	bool dirty;        /* added while processing: queued again at wq_done */
	size_t len;
	char key[];
};

struct wq {
	pthread_mutex_t mu;     /* guards everything below but the pool fields */
	pthread_cond_t cond;    /* getters wait here, timed on CLOCK_MONOTONIC */
	unsigned timed_waiters; /* getters waiting for the earliest due time */

	uint32_t base_delay_ms;
	uint32_t max_delay_ms;
	size_t max_items;
	uint64_t seed;

	struct item **buckets;
	size_t nbuckets; /* a power of two */
	size_t records;
	size_t held; /* records ready, waiting or processing: what max_items caps */

	struct item *ready_head, *ready_tail;
	size_t ready_len;

	struct item **heap; /* min-heap of waiting records by due_ns */
	size_t heap_len, heap_cap;

	bool shut;
	bool pool_stop; /* sends workers home without shutting down (failed start) */

	/* The pool: touched only by the thread that starts and stops it. */
	pthread_t *threads;
	unsigned nthreads;
	wq_handler fn;
	void *ctx;
};

void wq_opts_init(struct wq_opts *opts)
{
	opts->base_delay_ms = DEFAULT_BASE_DELAY_MS;
	opts->max_delay_ms = DEFAULT_MAX_DELAY_MS;
	opts->max_items = DEFAULT_MAX_ITEMS;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct timespec to_timespec(uint64_t ns)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ns / 1000000000ull);
	ts.tv_nsec = (long)(ns % 1000000000ull);
	return ts;
}

static uint64_t hash_key(const char *key, size_t len)
{
	return hash_mem(HASH_SEED, key, len);
}

/* The length of a valid key, or 0 for NULL, empty or too long. */
static size_t key_len(const char *key)
{
	size_t len = key ? strnlen(key, WQ_KEY_MAX + 1) : 0;

	return len > WQ_KEY_MAX ? 0 : len;
}

static struct item *find(const struct wq *q, const char *key, size_t len, uint64_t hash)
{
	for (struct item *it = q->buckets[hash & (q->nbuckets - 1)]; it; it = it->chain)
		if (it->hash == hash && it->len == len && memcmp(it->key, key, len) == 0)
			return it;
	return NULL;
}

static struct item *lookup(const struct wq *q, const char *key)
{
	size_t len = key_len(key);

	return len ? find(q, key, len, hash_key(key, len)) : NULL;
}

/* Doubles the buckets once records outnumber them; without memory, chains just get longer. */
static void maybe_grow(struct wq *q)
{
	size_t n = q->nbuckets * 2;
	struct item **b;

	if (q->records <= q->nbuckets || n > SIZE_MAX / sizeof(*b))
		return;
	b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < q->nbuckets; i++) {
		struct item *next;

		for (struct item *it = q->buckets[i]; it; it = next) {
			next = it->chain;
			it->chain = b[it->hash & (n - 1)];
			b[it->hash & (n - 1)] = it;
		}
	}
	free(q->buckets);
	q->buckets = b;
	q->nbuckets = n;
}

static bool is_held(const struct item *it)
{
	return it->queued || it->processing || it->heap_idx != NOT_WAITING;
}

/*
 * Accounts for a change of state of `it` (held before: `was_held`), and
 * frees the record once it has nothing left to remember.
 */
static void settle(struct wq *q, struct item *it, bool was_held)
{
	bool held = is_held(it);
	struct item **p;

	if (held && !was_held)
		q->held++;
	else if (!held && was_held)
		q->held--;
	if (held || it->bo.attempt != 0)
		return;
	p = &q->buckets[it->hash & (q->nbuckets - 1)];
	while (*p != it)
		p = &(*p)->chain;
	*p = it->chain;
	q->records--;
	free(it);
}

static void heap_set(struct wq *q, size_t i, struct item *it)
{
	q->heap[i] = it;
	it->heap_idx = i;
}

static void sift_up(struct wq *q, size_t i)
{
	struct item *it = q->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (q->heap[parent]->due_ns <= it->due_ns)
			break;
		heap_set(q, i, q->heap[parent]);
		i = parent;
	}
	heap_set(q, i, it);
}

static void sift_down(struct wq *q, size_t i)
{
	struct item *it = q->heap[i];

	for (;;) {
		size_t child = 2 * i + 1;

		if (child >= q->heap_len)
			break;
		if (child + 1 < q->heap_len && q->heap[child + 1]->due_ns < q->heap[child]->due_ns)
			child++;
		if (it->due_ns <= q->heap[child]->due_ns)
			break;
		heap_set(q, i, q->heap[child]);
		i = child;
	}
	heap_set(q, i, it);
}

static struct item *heap_pop(struct wq *q)
{
	struct item *top = q->heap[0];

	q->heap_len--;
	if (q->heap_len > 0) {
		q->heap[0] = q->heap[q->heap_len];
		sift_down(q, 0);
	}
	top->heap_idx = NOT_WAITING;
	return top;
}

/* Makes room for one more waiting record, so a delayed add cannot fail half-way. */
static enum fs_rc heap_reserve(struct wq *q, struct fs_err *err)
{
	size_t cap = q->heap_cap ? q->heap_cap * 2 : MIN_HEAP;
	struct item **h;

	if (q->heap_len < q->heap_cap)
		return FS_OK;
	if (cap > SIZE_MAX / sizeof(*h))
		return fs_fail(err, FS_ENOMEM, "workqueue: delay heap too large");
	h = realloc(q->heap, cap * sizeof(*h));
	if (!h)
		return fs_fail(err, FS_ENOMEM, "workqueue: out of memory growing the delay heap");
	q->heap = h;
	q->heap_cap = cap;
	return FS_OK;
}

static void ready_push(struct wq *q, struct item *it)
{
	it->next_ready = NULL;
	it->queued = true;
	if (q->ready_tail)
		q->ready_tail->next_ready = it;
	else
		q->ready_head = it;
	q->ready_tail = it;
	q->ready_len++;
	pthread_cond_signal(&q->cond);
}

static struct item *ready_pop(struct wq *q)
{
	struct item *it = q->ready_head;

	q->ready_head = it->next_ready;
	if (!q->ready_head)
		q->ready_tail = NULL;
	it->next_ready = NULL;
	it->queued = false;
	q->ready_len--;
	return it;
}

/* Makes `it` ready, or marks it dirty while it is processed (wq_done queues it then). */
static void enqueue(struct wq *q, struct item *it)
{
	if (it->queued)
		return;
	if (it->processing) {
		it->dirty = true;
		return;
	}
	ready_push(q, it);
}

/* Makes `it` wait until `due`, keeping an earlier time it already waits for. */
static void schedule(struct wq *q, struct item *it, uint64_t due)
{
	if (it->heap_idx == NOT_WAITING) {
		it->due_ns = due;
		heap_set(q, q->heap_len++, it);
	} else if (due < it->due_ns) {
		it->due_ns = due;
	} else {
		return;
	}
	sift_up(q, it->heap_idx);
	/* A new earliest time: some getter must wait for it instead of a later one. */
	if (it->heap_idx == 0)
		pthread_cond_signal(&q->cond);
}

/* Moves the records whose time has come to the ready list, in due order. */
static void promote_due(struct wq *q)
{
	uint64_t now;

	if (q->heap_len == 0)
		return;
	now = now_ns();
	while (q->heap_len > 0 && q->heap[0]->due_ns <= now)
		enqueue(q, heap_pop(q));
}

/* Finds or creates the record of `key` for an add, applying the key rules and the cap. */
static enum fs_rc admit(struct item **out, struct wq *q, const char *key, struct fs_err *err)
{
	size_t len = key_len(key);
	uint64_t hash;
	struct item *it;
	size_t slot;

	if (len == 0)
		return fs_fail(err, FS_EINVAL, "workqueue: a key must have 1 to %d bytes",
		               WQ_KEY_MAX);
	if (q->shut)
		return fs_fail(err, FS_ECANCELED, "workqueue: shut down, %s not added", key);
	hash = hash_key(key, len);
	it = find(q, key, len, hash);
	if ((!it || !is_held(it)) && q->held >= q->max_items)
		return fs_fail(err, FS_ETOOLARGE, "workqueue: already holds %zu keys, %s not added",
		               q->max_items, key);
	if (!it) {
		it = calloc(1, sizeof(*it) + len + 1);
		if (!it)
			return fs_fail(err, FS_ENOMEM, "workqueue: out of memory adding %s", key);
		memcpy(it->key, key, len);
		it->len = len;
		it->hash = hash;
		it->heap_idx = NOT_WAITING;
		/* Seeded per key so retries of keys that failed together spread out. */
		backoff_init(&it->bo, q->base_delay_ms, q->max_delay_ms, hash ^ q->seed);
		slot = hash & (q->nbuckets - 1);
		it->chain = q->buckets[slot];
		q->buckets[slot] = it;
		q->records++;
		maybe_grow(q);
	}
	*out = it;
	return FS_OK;
}

enum fs_rc wq_new(struct wq **out, const struct wq_opts *opts, struct fs_err *err)
{
	struct wq_opts defaults;
	pthread_condattr_t attr;
	struct wq *q;
	int e;

	if (!opts) {
		wq_opts_init(&defaults);
		opts = &defaults;
	}
	q = calloc(1, sizeof(*q));
	if (!q)
		return fs_fail(err, FS_ENOMEM, "workqueue: out of memory");
	q->buckets = calloc(MIN_BUCKETS, sizeof(*q->buckets));
	if (!q->buckets) {
		free(q);
		return fs_fail(err, FS_ENOMEM, "workqueue: out of memory");
	}
	e = pthread_condattr_init(&attr);
	if (e == 0) {
		/* Due times are monotonic: a wall-clock step must not fire or stall them. */
		e = pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		if (e == 0)
			e = pthread_cond_init(&q->cond, &attr);
		pthread_condattr_destroy(&attr);
	}
	if (e != 0) {
		free(q->buckets);
		free(q);
		return fs_fail(err, FS_ENOMEM, "workqueue: cannot create a condition variable: %s",
		               strerror(e));
	}
	pthread_mutex_init(&q->mu, NULL);
	q->nbuckets = MIN_BUCKETS;
	q->base_delay_ms = opts->base_delay_ms ? opts->base_delay_ms : DEFAULT_BASE_DELAY_MS;
	q->max_delay_ms = opts->max_delay_ms ? opts->max_delay_ms : DEFAULT_MAX_DELAY_MS;
	q->max_items = opts->max_items ? opts->max_items : DEFAULT_MAX_ITEMS;
	q->seed = now_ns() ^ (uint64_t)(uintptr_t)q;
	*out = q;
	return FS_OK;
}

void wq_free(struct wq *q)
{
	struct item *next;

	if (!q)
		return;
	wq_stop_workers(q);
	for (size_t i = 0; i < q->nbuckets; i++) {
		for (struct item *it = q->buckets[i]; it; it = next) {
			next = it->chain;
			free(it);
		}
	}
	free(q->buckets);
	free(q->heap);
	pthread_cond_destroy(&q->cond);
	pthread_mutex_destroy(&q->mu);
	free(q);
}

enum fs_rc wq_add(struct wq *q, const char *key, struct fs_err *err)
{
	struct item *it;
	enum fs_rc rc;
	bool was_held;

	pthread_mutex_lock(&q->mu);
	rc = admit(&it, q, key, err);
	if (rc != FS_OK)
		goto out;
	was_held = is_held(it);
	enqueue(q, it);
	settle(q, it, was_held);
out:
	pthread_mutex_unlock(&q->mu);
	return rc;
}

/* Adds `key` to wait `delay_ms`, or its own backoff delay when `rate_limited`. */
static enum fs_rc add_delayed(struct wq *q, const char *key, uint32_t delay_ms, bool rate_limited,
                              struct fs_err *err)
{
	struct item *it;
	enum fs_rc rc;
	bool was_held;

	pthread_mutex_lock(&q->mu);
	rc = heap_reserve(q, err);
	if (rc != FS_OK)
		goto out;
	rc = admit(&it, q, key, err);
	if (rc != FS_OK)
		goto out;
	was_held = is_held(it);
	if (rate_limited)
		delay_ms = backoff_next(&it->bo);
	if (delay_ms == 0)
		enqueue(q, it);
	else
		schedule(q, it, now_ns() + (uint64_t)delay_ms * 1000000ull);
	settle(q, it, was_held);
out:
	pthread_mutex_unlock(&q->mu);
	return rc;
}

enum fs_rc wq_add_after(struct wq *q, const char *key, uint32_t delay_ms, struct fs_err *err)
{
	return add_delayed(q, key, delay_ms, false, err);
}

enum fs_rc wq_add_rate_limited(struct wq *q, const char *key, struct fs_err *err)
{
	return add_delayed(q, key, 0, true, err);
}

void wq_forget(struct wq *q, const char *key)
{
	struct item *it;

	pthread_mutex_lock(&q->mu);
	it = lookup(q, key);
	if (it) {
		backoff_reset(&it->bo);
		settle(q, it, is_held(it));
	}
	pthread_mutex_unlock(&q->mu);
}

uint32_t wq_failures(struct wq *q, const char *key)
{
	const struct item *it;
	uint32_t n;

	pthread_mutex_lock(&q->mu);
	it = lookup(q, key);
	n = it ? it->bo.attempt : 0;
	pthread_mutex_unlock(&q->mu);
	return n;
}

/*
 * Waits, holding q->mu, for a ready key and hands out a copy. False once the
 * queue is shut down or, for a `worker`, once its pool is told to stop.
 */
static bool take(struct wq *q, char **key, bool worker)
{
	struct timespec ts;
	struct item *it;
	char *copy;

	for (;;) {
		if (q->shut || (worker && q->pool_stop))
			return false;
		promote_due(q);
		if (q->ready_head) {
			copy = malloc(q->ready_head->len + 1);
			if (copy)
				break;
			/* The key stays queued; shutdown still wakes this wait. */
			log_error("workqueue: out of memory handing out a key, retrying");
			ts = to_timespec(now_ns() + NOMEM_PAUSE_NS);
			pthread_cond_timedwait(&q->cond, &q->mu, &ts);
		} else if (q->heap_len > 0) {
			ts = to_timespec(q->heap[0]->due_ns);
			q->timed_waiters++;
			pthread_cond_timedwait(&q->cond, &q->mu, &ts);
			q->timed_waiters--;
		} else {
			pthread_cond_wait(&q->cond, &q->mu);
		}
	}
	it = ready_pop(q);
	it->processing = true;
	memcpy(copy, it->key, it->len + 1);
	/*
	 * Wake another getter for keys still ready, or to watch the earliest
	 * due time when this getter was the one watching it.
	 */
	if (q->ready_head || (q->heap_len > 0 && q->timed_waiters == 0))
		pthread_cond_signal(&q->cond);
	*key = copy;
	return true;
}

bool wq_get(struct wq *q, char **key)
{
	bool ok;

	pthread_mutex_lock(&q->mu);
	ok = take(q, key, false);
	pthread_mutex_unlock(&q->mu);
	return ok;
}

void wq_done(struct wq *q, const char *key)
{
	struct item *it;

	pthread_mutex_lock(&q->mu);
	it = lookup(q, key);
	if (it && it->processing) {
		it->processing = false;
		if (it->dirty && !q->shut)
			ready_push(q, it);
		it->dirty = false;
		settle(q, it, true);
	}
	pthread_mutex_unlock(&q->mu);
}

void wq_shutdown(struct wq *q)
{
	pthread_mutex_lock(&q->mu);
	if (!q->shut) {
		q->shut = true;
		while (q->ready_head)
			settle(q, ready_pop(q), true);
		/* Cleared in place: order no longer matters, and settle may free a record. */
		for (size_t i = 0; i < q->heap_len; i++) {
			q->heap[i]->heap_idx = NOT_WAITING;
			settle(q, q->heap[i], true);
		}
		q->heap_len = 0;
		pthread_cond_broadcast(&q->cond);
	}
	pthread_mutex_unlock(&q->mu);
}

size_t wq_len(struct wq *q)
{
	size_t n;

	pthread_mutex_lock(&q->mu);
	promote_due(q);
	n = q->ready_len;
	pthread_mutex_unlock(&q->mu);
	return n;
}

static void *worker_main(void *arg)
{
	struct wq *q = arg;
	struct fs_err err;
	enum fs_rc rc;
	char *key;
	bool ok;

	for (;;) {
		pthread_mutex_lock(&q->mu);
		ok = take(q, &key, true);
		pthread_mutex_unlock(&q->mu);
		if (!ok)
			break;
		rc = q->fn(q->ctx, key);
		if (rc == FS_OK)
			wq_forget(q, key);
		else if (wq_add_rate_limited(q, key, &err) == FS_OK)
			log_warn("workqueue: %s: %s, retry %u after backoff", key, fs_rc_name(rc),
			         wq_failures(q, key));
		else
			log_warn("workqueue: %s: %s, not retried: %s", key, fs_rc_name(rc),
			         err.msg);
		wq_done(q, key);
		free(key);
	}
	return NULL;
}

static void join_workers(pthread_t *threads, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
}

enum fs_rc wq_start_workers(struct wq *q, unsigned n, wq_handler fn, void *ctx, struct fs_err *err)
{
	pthread_t *threads = NULL;
	unsigned started = 0;
	enum fs_rc rc;
	bool shut;
	int e;

	if (n == 0 || !fn)
		return fs_fail(err, FS_EINVAL, "workqueue: a pool needs a handler and a worker");
	if (q->threads)
		return fs_fail(err, FS_EINVAL, "workqueue: workers already running");
	pthread_mutex_lock(&q->mu);
	shut = q->shut;
	pthread_mutex_unlock(&q->mu);
	if (shut)
		return fs_fail(err, FS_ECANCELED, "workqueue: shut down, no workers started");
	threads = calloc(n, sizeof(*threads));
	if (!threads)
		return fs_fail(err, FS_ENOMEM, "workqueue: out of memory starting %u workers", n);
	q->fn = fn;
	q->ctx = ctx;
	for (; started < n; started++) {
		e = pthread_create(&threads[started], NULL, worker_main, q);
		if (e != 0) {
			rc = fs_fail(err, FS_ENOMEM, "workqueue: starting worker %u of %u: %s",
			             started + 1, n, strerror(e));
			goto out;
		}
	}
	q->threads = threads;
	q->nthreads = n;
	threads = NULL;
	rc = FS_OK;
out:
	if (threads) {
		/* Send the workers already started home, leaving the queue as it was. */
		pthread_mutex_lock(&q->mu);
		q->pool_stop = true;
		pthread_cond_broadcast(&q->cond);
		pthread_mutex_unlock(&q->mu);
		join_workers(threads, started);
		pthread_mutex_lock(&q->mu);
		q->pool_stop = false;
		pthread_mutex_unlock(&q->mu);
		free(threads);
	}
	return rc;
}

void wq_stop_workers(struct wq *q)
{
	if (!q->threads)
		return;
	wq_shutdown(q);
	join_workers(q->threads, q->nthreads);
	free(q->threads);
	q->threads = NULL;
	q->nthreads = 0;
}
