#include "base/jsonblock.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "base/banned.h"

/* Two passes over the tree: one to size the block, one to fill it. Both
 * recurse on depth only (siblings are a loop), bounded by
 * JSON_FREEZE_MAX_DEPTH, so a programmatically built deep tree is refused
 * instead of overflowing the stack. */

struct sizing {
	size_t nodes;
	size_t bytes; /* strings, with their NULs */
};

static bool add_str(size_t *bytes, const char *s)
{
	size_t n = strlen(s) + 1;
	if (n > SIZE_MAX - *bytes)
		return false;
	*bytes += n;
	return true;
}

/* A key the block must hold: one that is not a const literal. */
static bool own_key(const cJSON *n)
{
	return n->string && !(n->type & cJSON_StringIsConst);
}

static bool measure(const cJSON *n, int depth, struct sizing *z)
{
	if (depth > JSON_FREEZE_MAX_DEPTH)
		return false;
	z->nodes++;
	if (n->valuestring && !add_str(&z->bytes, n->valuestring))
		return false;
	if (own_key(n) && !add_str(&z->bytes, n->string))
		return false;
	for (const cJSON *c = n->child; c; c = c->next)
		if (!measure(c, depth + 1, z))
			return false;
	return true;
}

/* The block's size, 0 when the tree is refused. Nodes come first: the block
 * (malloc-aligned) starts with an array of cJSON, so each node is aligned as
 * cJSON requires (8 bytes, its pointers and double). */
static size_t block_size(const cJSON *tree, struct sizing *z)
{
	z->nodes = z->bytes = 0;
	if (!tree || !measure(tree, 0, z))
		return 0;
	if (z->nodes > (SIZE_MAX - z->bytes) / sizeof(cJSON))
		return 0;
	return z->nodes * sizeof(cJSON) + z->bytes;
}

size_t json_frozen_size(const cJSON *tree)
{
	struct sizing z;
	return block_size(tree, &z);
}

struct fill {
	cJSON *node; /* the next free node */
	char *str;   /* the next free string byte */
};

static char *put_str(struct fill *f, const char *s)
{
	size_t n = strlen(s) + 1;
	char *d = f->str;
	memcpy(d, s, n);
	f->str += n;
	return d;
}

static cJSON *copy(const cJSON *src, struct fill *f)
{
	cJSON *d = f->node++;
	memset(d, 0, sizeof(*d));
	/* Never a reference: the copy owns (well, its block owns) everything
	 * it points at, but the literal keys. */
	d->type = src->type & ~cJSON_IsReference;
	d->valueint = src->valueint;
	d->valuedouble = src->valuedouble;
	if (src->valuestring)
		d->valuestring = put_str(f, src->valuestring);
	if (own_key(src)) {
		d->string = put_str(f, src->string);
		/* A key in the block is not const: cJSON_Duplicate would share
		 * its pointer, and the duplicate would outlive the block. */
		d->type &= ~cJSON_StringIsConst;
	} else if (src->string) {
		d->string = src->string; /* a literal: stays const, shared */
	} else {
		d->type &= ~cJSON_StringIsConst;
	}
	cJSON *last = NULL;
	for (const cJSON *c = src->child; c; c = c->next) {
		cJSON *k = copy(c, f);
		if (last) {
			last->next = k;
			k->prev = last;
		} else {
			d->child = k;
		}
		last = k;
	}
	/* cJSON's convention: the first child's prev is the last child. */
	if (d->child)
		d->child->prev = last;
	return d;
}

cJSON *json_freeze(const cJSON *tree)
{
	struct sizing z;
	size_t size = block_size(tree, &z);
	if (size == 0)
		return NULL;
	/* cJSON's allocator, as for every other cJSON allocation (and what
	 * cJSON_InitHooks redirects). */
	void *block = cJSON_malloc(size);
	if (!block)
		return NULL;
	struct fill f = {.node = block, .str = (char *)block + z.nodes * sizeof(cJSON)};
	return copy(tree, &f);
}

void json_frozen_free(cJSON *frozen)
{
	if (frozen)
		cJSON_free(frozen);
}
