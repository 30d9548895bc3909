/* Frozen cJSON trees: a read-only deep copy of a tree laid out in ONE
 * allocation, for objects a cache holds for a long time (the BatchSchedule
 * store holds 10,000 of them). A projected schedule is ~10 cJSON nodes and
 * ~6 strings, ~16 malloc chunks with 8-16 bytes of header and rounding each,
 * scattered across the heap by the start-up burst; frozen it is one chunk.
 *
 * Layout: every node first (pre-order, 8-byte aligned), then every string the
 * copy owns: the valuestrings and the member keys. A key marked
 * cJSON_StringIsConst (the projection points those at string literals, see
 * controller/project.c keep_only) keeps pointing at its literal and stays
 * const; every other key is copied into the block and is NOT marked const:
 * cJSON_Duplicate shares a const key's pointer, and a duplicate must outlive
 * the block. cJSON_IsReference is never set. Numbers keep valueint and
 * valuedouble exactly. The first child's prev points at the last child, as
 * cJSON's own trees do.
 *
 * Ownership: json_freeze borrows `tree` (it neither keeps nor frees it) and
 * returns a new frozen tree, the caller's, released with json_frozen_free
 * (one free through cJSON's allocator, cJSON_free). A frozen tree is
 * READ-ONLY: cJSON_Delete, cJSON_Add*, cJSON_Detach*, cJSON_Replace*,
 * cJSON_Delete*From*, cJSON_SetValuestring and cJSON_SetNumber* on it or on
 * any node inside it are forbidden (its nodes and strings are not separate
 * allocations). Reading it, printing it, comparing it, lending a node with
 * cJSON_AddItemReferenceTo* and cJSON_Duplicate are fine; a duplicate is an
 * ordinary tree, independent of the block.
 */
#ifndef TAKT_BASE_JSONBLOCK_H
#define TAKT_BASE_JSONBLOCK_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Deepest tree json_freeze copies (cJSON's own parser stops at 1000). */
#define JSON_FREEZE_MAX_DEPTH 1000

/* The frozen copy, or NULL: for NULL in, when memory runs out, or for a tree
 * deeper than JSON_FREEZE_MAX_DEPTH or too large to size (the caller keeps
 * the original then). Only the tree's root is copied, not its siblings. */
cJSON *json_freeze(const cJSON *tree);

/* Releases a tree json_freeze returned; NULL is a no-op. */
void json_frozen_free(cJSON *frozen);

/* The bytes json_freeze would allocate for tree (0 for NULL or a tree it
 * refuses): for tests and measurements. */
size_t json_frozen_size(const cJSON *tree);

#endif
