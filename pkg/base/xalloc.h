/* Allocation that never returns NULL.
 *
 * Out of memory is not an input error the controller can recover from: one
 * wrapper aborts with a message, so no caller carries an OOM branch.
 * Ownership: every pointer returned is owned by the caller and freed with
 * free().
 */
#ifndef TAKT_BASE_XALLOC_H
#define TAKT_BASE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Grows *p (an array of elem-sized items with capacity *cap) to hold at least
 * `need` items, doubling; used by every growable array. */
void xgrow(void **p, size_t *cap, size_t need, size_t elem);

#define XGROW(arr, cap, need) xgrow((void **)&(arr), &(cap), (need), sizeof(*(arr)))

/* Programmer errors: assert with file and line, also in release builds. */
#define BUG_ON(cond)                                                                               \
	do {                                                                                       \
		if (cond)                                                                          \
			takt_bug(__FILE__, __LINE__, #cond);                                       \
	} while (0)
_Noreturn void takt_bug(const char *file, int line, const char *what);

#endif
