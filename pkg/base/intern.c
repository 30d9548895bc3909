#include "base/intern.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"
#include "base/xalloc.h"
#include "base/banned.h"

struct istr {
	size_t refs;
	char text[]; /* what intern hands out: the entry is found from it */
};

static struct hmap *table; /* text -> struct istr; NULL when empty */

static struct istr *entry_of(const char *s)
{
	return (struct istr *)(void *)((char *)(uintptr_t)s - offsetof(struct istr, text));
}

const char *intern(const char *s)
{
	if (!s)
		return NULL;
	if (!table)
		table = hmap_new_borrowed(); /* the key is the entry's text */
	struct istr *e = hmap_get(table, s);
	if (!e) {
		size_t n = strlen(s) + 1;
		e = xmalloc(sizeof(*e) + n);
		e->refs = 0;
		memcpy(e->text, s, n);
		hmap_put(table, e->text, e);
	}
	e->refs++;
	return e->text;
}

void intern_drop(const char *s)
{
	if (!s)
		return;
	struct istr *e = entry_of(s);
	if (--e->refs)
		return;
	hmap_del(table, e->text);
	free(e);
	if (hmap_len(table) == 0) {
		hmap_free(table, NULL);
		table = NULL;
	}
}

size_t intern_len(void)
{
	return table ? hmap_len(table) : 0;
}
