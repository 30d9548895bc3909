/* Interned strings: one shared, reference-counted copy of each distinct
 * text, for the values thousands of objects repeat. At 10,000 schedules a
 * private copy of the namespace, the time zone and the schedule's text is
 * ~100 bytes each with malloc's headers (issue 15), and a bank's schedules
 * share a handful of namespaces and zones and a few hundred schedule texts.
 *
 * Ownership: intern() returns a copy shared by every holder of an equal text
 * and gives the caller one reference, dropped with intern_drop(). The text
 * is read-only and lives until its last reference is dropped; pass
 * intern_drop only what intern returned. The table is process-wide and not
 * thread-safe: takt's loop thread only (as pkg/tz's zone cache). It frees
 * itself when its last text goes, so a process that drops every reference
 * holds nothing.
 */
#ifndef TAKT_BASE_INTERN_H
#define TAKT_BASE_INTERN_H

#include <stddef.h>

/* NULL for NULL. Never fails (xalloc). */
const char *intern(const char *s);
/* Drops one reference; NULL does nothing. */
void intern_drop(const char *s);
/* Distinct texts held (tests). */
size_t intern_len(void);

#endif
