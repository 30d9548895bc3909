/* A small hash map from C strings to pointers: open addressing, linear
 * probing, deletion by backward shift (no tombstones), grown at 3/4 load.
 *
 * Ownership: hmap_new returns a map the caller frees with hmap_free. The map
 * owns a copy of every key (hmap_new_borrowed: see there); values are borrowed pointers the map
 * never touches, except that hmap_free(m, free_val) calls free_val on each one. Values must not be
 * NULL: hmap_get returning NULL means "absent". Keys and values returned are borrowed until the
 * entry is removed or replaced.
 *
 * Iteration: hmap_next walks the slots in storage order (unspecified). The
 * map must not be changed during a walk — collect the keys first, then edit.
 */
#ifndef TAKT_BASE_HMAP_H
#define TAKT_BASE_HMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct hmap;

struct hmap *hmap_new(void);
/* A map that keeps the caller's key pointers instead of copies: each key
 * must stay valid and unchanged while its entry is in the map (the key
 * usually lives in the value; hmap_put with an equal key takes the new
 * pointer). At 10,000 schedules a copy of each key is ~32 bytes with
 * malloc's header, in each map that holds them (issue 15). */
struct hmap *hmap_new_borrowed(void);
void hmap_free(struct hmap *m, void (*free_val)(void *val));

/* The 64-bit hash the map uses for a key (FNV-1a), for callers that keep
 * a string's hash instead of the string. */
uint64_t hmap_hash_str(const char *s);
void *hmap_get(const struct hmap *m, const char *key);
/* Inserts or replaces. Returns the value it replaced (the caller's again), or
 * NULL when the key was new. */
void *hmap_put(struct hmap *m, const char *key, void *val);
/* Removes the key; returns its value (the caller's again) or NULL. */
void *hmap_del(struct hmap *m, const char *key);
size_t hmap_len(const struct hmap *m);

/* Start with *pos = 0; returns false at the end. key/val may be NULL. */
bool hmap_next(const struct hmap *m, size_t *pos, const char **key, void **val);

#endif
