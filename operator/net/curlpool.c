#include "net/curlpool.h"

static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void curl_pool_init(struct curl_pool *pool)
{
	pthread_once(&global_once, global_init);
	pthread_mutex_init(&pool->mu, NULL);
	pool->n_idle = 0;
}

void curl_pool_release(struct curl_pool *pool)
{
	for (size_t i = 0; i < pool->n_idle; i++)
		curl_easy_cleanup(pool->idle[i]);
	pool->n_idle = 0;
	pthread_mutex_destroy(&pool->mu);
}

CURL *curl_pool_get(struct curl_pool *pool)
{
	CURL *h = NULL;

	pthread_mutex_lock(&pool->mu);
	if (pool->n_idle > 0)
		h = pool->idle[--pool->n_idle];
	pthread_mutex_unlock(&pool->mu);
	return h ? h : curl_easy_init();
}

void curl_pool_put(struct curl_pool *pool, CURL *h)
{
	if (!h)
		return;
	pthread_mutex_lock(&pool->mu);
	if (pool->n_idle < CURL_POOL_MAX) {
		pool->idle[pool->n_idle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&pool->mu);
	if (h)
		curl_easy_cleanup(h);
}

size_t curl_sink_write(char *data, size_t size, size_t nmemb, void *sink)
{
	struct curl_sink *s = sink;
	size_t n = size * nmemb;

	if (buf_append(s->body, data, n, NULL) != FS_OK) {
		s->overflow = true;
		return 0;
	}
	return n;
}
