#include "base/hash.h"

uint64_t hash_mem(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++)
		h = hash_byte(h, p[i]);
	return h;
}

uint64_t hash_str(uint64_t h, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		h = hash_byte(h, *p);
	return h;
}
