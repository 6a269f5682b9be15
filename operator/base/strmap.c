#include "base/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "base/hash.h"

static size_t hash_key(const char *key)
{
	return (size_t)hash_str(HASH_SEED, key);
}

void strmap_init(struct strmap *m)
{
	m->buckets = NULL;
	m->nbuckets = 0;
	m->len = 0;
}

void strmap_release(struct strmap *m, void (*free_value)(void *))
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct strmap_entry *e = m->buckets[i];

		while (e) {
			struct strmap_entry *next = e->next;

			if (free_value)
				free_value(e->value);
			free(e);
			e = next;
		}
	}
	free(m->buckets);
	strmap_init(m);
}

static struct strmap_entry **find(const struct strmap *m, const char *key, size_t hash)
{
	struct strmap_entry **slot;

	if (!m->nbuckets)
		return NULL;
	for (slot = &m->buckets[hash & (m->nbuckets - 1)]; *slot; slot = &(*slot)->next) {
		if ((*slot)->hash == hash && strcmp((*slot)->key, key) == 0)
			return slot;
	}
	return NULL;
}

void *strmap_get(const struct strmap *m, const char *key)
{
	struct strmap_entry **slot = find(m, key, hash_key(key));

	return slot ? (*slot)->value : NULL;
}

static bool grow(struct strmap *m)
{
	size_t n = m->nbuckets ? m->nbuckets * 2 : 16;
	struct strmap_entry **b = calloc(n, sizeof(*b));

	if (!b)
		return false;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct strmap_entry *e = m->buckets[i];

		while (e) {
			struct strmap_entry *next = e->next;
			size_t j = e->hash & (n - 1);

			e->next = b[j];
			b[j] = e;
			e = next;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = n;
	return true;
}

enum fs_rc strmap_put(struct strmap *m, const char *key, void *value, void **old,
                      struct fs_err *err)
{
	size_t hash = hash_key(key), klen;
	struct strmap_entry **slot = find(m, key, hash);
	struct strmap_entry *e;

	if (slot) {
		if (old)
			*old = (*slot)->value;
		(*slot)->value = value;
		return FS_OK;
	}
	if (m->len + 1 > m->nbuckets * 3 / 4 && !grow(m))
		return fs_fail(err, FS_ENOMEM, "out of memory growing a map");
	klen = strlen(key);
	e = malloc(sizeof(*e) + klen + 1);
	if (!e)
		return fs_fail(err, FS_ENOMEM, "out of memory");
	memcpy(e->key, key, klen + 1);
	e->hash = hash;
	e->value = value;
	e->next = m->buckets[hash & (m->nbuckets - 1)];
	m->buckets[hash & (m->nbuckets - 1)] = e;
	m->len++;
	if (old)
		*old = NULL;
	return FS_OK;
}

void *strmap_remove(struct strmap *m, const char *key)
{
	struct strmap_entry **slot = find(m, key, hash_key(key));
	struct strmap_entry *e;
	void *value;

	if (!slot)
		return NULL;
	e = *slot;
	*slot = e->next;
	value = e->value;
	free(e);
	m->len--;
	return value;
}

void strmap_foreach(const struct strmap *m, void (*fn)(void *ctx, const char *key, void *value),
                    void *ctx)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		for (struct strmap_entry *e = m->buckets[i]; e; e = e->next)
			fn(ctx, e->key, e->value);
	}
}
