#ifndef FORESIGHT_BASE_HASH_H
#define FORESIGHT_BASE_HASH_H

/*
 * FNV-1a, 64 bits: a cheap hash to tell a text from the last one, or to
 * spread keys that come from the API server over buckets. Not for keys an
 * adversary chooses. Hashes chain: start from HASH_SEED and pass each
 * result on, so several fields hash as one.
 *
 *	uint64_t h = hash_str(HASH_SEED, namespace);
 *	h = hash_byte(h, '/');
 *	h = hash_str(h, name);
 */

#include <stddef.h>
#include <stdint.h>

#define HASH_SEED  14695981039346656037ULL
#define HASH_PRIME 1099511628211ULL

/* One byte into `h`. */
static inline uint64_t hash_byte(uint64_t h, unsigned char byte)
{
	return (h ^ byte) * HASH_PRIME;
}

/* The `len` bytes at `data` into `h`. */
uint64_t hash_mem(uint64_t h, const void *data, size_t len);

/* The string `s` (without its NUL) into `h`. */
uint64_t hash_str(uint64_t h, const char *s);

#endif
