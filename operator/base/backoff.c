#include "base/backoff.h"

void backoff_init(struct backoff *b, uint32_t initial_ms, uint32_t max_ms, uint64_t seed)
{
	b->initial_ms = initial_ms ? initial_ms : 1;
	b->max_ms = max_ms < b->initial_ms ? b->initial_ms : max_ms;
	b->attempt = 0;
	b->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
}

uint32_t backoff_nominal(const struct backoff *b, uint32_t attempt)
{
	uint64_t d = b->initial_ms;

	for (uint32_t i = 0; i < attempt && d < b->max_ms; i++)
		d *= 2;
	return d > b->max_ms ? b->max_ms : (uint32_t)d;
}

static uint64_t next_random(struct backoff *b)
{
	uint64_t x = b->rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	b->rng = x;
	return x;
}

uint32_t backoff_next(struct backoff *b)
{
	uint32_t d = backoff_nominal(b, b->attempt);
	uint32_t half = d / 2;

	if (b->attempt < UINT32_MAX)
		b->attempt++;
	return half + (uint32_t)(next_random(b) % ((uint64_t)(d - half) + 1));
}

void backoff_reset(struct backoff *b)
{
	b->attempt = 0;
}
