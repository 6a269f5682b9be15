#ifndef FORESIGHT_NET_CURLPOOL_H
#define FORESIGHT_NET_CURLPOOL_H

/*
 * The libcurl plumbing the API server and Prometheus clients share: a small
 * pool of easy handles, so that calls from several threads each get a handle
 * and TLS connections are reused across calls, and a response sink that
 * stops a transfer when the body would pass its cap.
 *
 *	struct curl_pool pool;
 *	curl_pool_init(&pool);
 *	CURL *h = curl_pool_get(&pool);          // NULL when out of memory
 *	struct curl_sink sink = {&body, false};
 *	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, curl_sink_write);
 *	curl_easy_setopt(h, CURLOPT_WRITEDATA, &sink);
 *	... perform; sink.overflow says the cap cut it ...
 *	curl_pool_put(&pool, h);
 *	curl_pool_release(&pool);
 */

#include <curl/curl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

#define CURL_POOL_MAX 8

struct curl_pool {
	pthread_mutex_t mu;
	CURL *idle[CURL_POOL_MAX];
	size_t n_idle;
};

/* Sets up an empty pool; also makes sure curl_global_init ran (once, thread-safely). */
void curl_pool_init(struct curl_pool *pool);

/* Closes the idle handles (and their connections). */
void curl_pool_release(struct curl_pool *pool);

/* An idle handle, or a new one; the caller returns it with curl_pool_put. NULL on OOM. */
CURL *curl_pool_get(struct curl_pool *pool);

/* Returns a handle: kept for reuse, or closed when the pool is full. */
void curl_pool_put(struct curl_pool *pool, CURL *h);

/* Where a transfer's body goes: appended to `body` up to its cap. */
struct curl_sink {
	struct buf *body;
	bool overflow; /* set when the body passed the cap; the transfer was stopped */
};

/* A CURLOPT_WRITEFUNCTION for a struct curl_sink passed as CURLOPT_WRITEDATA. */
size_t curl_sink_write(char *data, size_t size, size_t nmemb, void *sink);

#endif
