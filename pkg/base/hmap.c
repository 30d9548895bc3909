#include "base/hmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "base/banned.h"

struct slot {
	char *key; /* NULL: empty */
	void *val;
	uint64_t hash;
};

struct hmap {
	struct slot *slots;
	size_t cap; /* a power of two, or 0 */
	size_t len;
	bool borrowed; /* hmap_new_borrowed: keys are the caller's */
};

/* FNV-1a: keys are short object names; no adversary picks them to collide
 * within one namespace's quota, and the load factor bounds probe lengths. */
uint64_t hmap_hash_str(const char *s)
{
	uint64_t h = 1469598103934665603ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

struct hmap *hmap_new(void)
{
	return xcalloc(1, sizeof(struct hmap));
}

struct hmap *hmap_new_borrowed(void)
{
	struct hmap *m = hmap_new();
	m->borrowed = true;
	return m;
}

void hmap_free(struct hmap *m, void (*free_val)(void *val))
{
	if (!m)
		return;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->slots[i].key)
			continue;
		if (!m->borrowed)
			free(m->slots[i].key);
		if (free_val)
			free_val(m->slots[i].val);
	}
	free(m->slots);
	free(m);
}

static size_t find(const struct hmap *m, const char *key, uint64_t h, bool *found)
{
	size_t mask = m->cap - 1;
	size_t i = (size_t)h & mask;
	for (;;) {
		const struct slot *s = &m->slots[i];
		if (!s->key) {
			*found = false;
			return i;
		}
		if (s->hash == h && strcmp(s->key, key) == 0) {
			*found = true;
			return i;
		}
		i = (i + 1) & mask;
	}
}

static void grow(struct hmap *m)
{
	size_t ncap = m->cap ? m->cap * 2 : 16;
	struct slot *old = m->slots;
	size_t ocap = m->cap;
	m->slots = xcalloc(ncap, sizeof(*m->slots));
	m->cap = ncap;
	for (size_t i = 0; i < ocap; i++) {
		if (!old[i].key)
			continue;
		size_t j = (size_t)old[i].hash & (ncap - 1);
		while (m->slots[j].key)
			j = (j + 1) & (ncap - 1);
		m->slots[j] = old[i];
	}
	free(old);
}

void *hmap_get(const struct hmap *m, const char *key)
{
	if (m->len == 0)
		return NULL;
	bool found;
	size_t i = find(m, key, hmap_hash_str(key), &found);
	return found ? m->slots[i].val : NULL;
}

void *hmap_put(struct hmap *m, const char *key, void *val)
{
	BUG_ON(!val);
	if ((m->len + 1) * 4 > m->cap * 3)
		grow(m);
	uint64_t h = hmap_hash_str(key);
	bool found;
	size_t i = find(m, key, h, &found);
	if (found) {
		void *prev = m->slots[i].val;
		m->slots[i].val = val;
		/* The old key may go with the value it replaced. */
		if (m->borrowed)
			m->slots[i].key = (char *)(uintptr_t)key;
		return prev;
	}
	m->slots[i].key = m->borrowed ? (char *)(uintptr_t)key : xstrdup(key);
	m->slots[i].val = val;
	m->slots[i].hash = h;
	m->len++;
	return NULL;
}

void *hmap_del(struct hmap *m, const char *key)
{
	if (m->len == 0)
		return NULL;
	bool found;
	size_t i = find(m, key, hmap_hash_str(key), &found);
	if (!found)
		return NULL;
	void *val = m->slots[i].val;
	if (!m->borrowed)
		free(m->slots[i].key);
	m->len--;
	/* Backward shift: pull later members of the probe run into the hole
	 * when their home slot is not between the hole and themselves. */
	size_t mask = m->cap - 1;
	size_t hole = i;
	size_t j = i;
	for (;;) {
		j = (j + 1) & mask;
		struct slot *s = &m->slots[j];
		if (!s->key)
			break;
		size_t home = (size_t)s->hash & mask;
		bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
		if (stays)
			continue;
		m->slots[hole] = *s;
		hole = j;
	}
	m->slots[hole].key = NULL;
	m->slots[hole].val = NULL;
	return val;
}

size_t hmap_len(const struct hmap *m)
{
	return m->len;
}

bool hmap_next(const struct hmap *m, size_t *pos, const char **key, void **val)
{
	for (size_t i = *pos; i < m->cap; i++) {
		if (!m->slots[i].key)
			continue;
		if (key)
			*key = m->slots[i].key;
		if (val)
			*val = m->slots[i].val;
		*pos = i + 1;
		return true;
	}
	*pos = m->cap;
	return false;
}
