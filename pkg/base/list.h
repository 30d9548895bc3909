/* An intrusive doubly linked list (a circular list with a sentinel head):
 * the node lives inside the listed struct, so linking and unlinking
 * allocate nothing and an element unlinks itself without knowing its list.
 * The controller and the kill path keep their requests in flight in one,
 * so that freeing the owner cancels them all.
 *
 *   struct op { struct list_node link; ... };
 *   struct list_node ops;          list_init(&ops);
 *   list_add(&ops, &o->link);      list_del(&o->link);
 *   while (!list_empty(&ops)) { struct op *o = LIST_ENTRY(ops.next, struct op, link); ... }
 *
 * Ownership: the list owns nothing; the elements are the caller's. A node
 * is linked in at most one list at a time. Not thread-safe.
 */
#ifndef TAKT_BASE_LIST_H
#define TAKT_BASE_LIST_H

#include <stdbool.h>
#include <stddef.h>

struct list_node {
	struct list_node *prev, *next;
};

#define LIST_ENTRY(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

static inline void list_init(struct list_node *head)
{
	head->prev = head->next = head;
}

static inline bool list_empty(const struct list_node *head)
{
	return head->next == head;
}

/* Links n first in the list. */
static inline void list_add(struct list_node *head, struct list_node *n)
{
	n->next = head->next;
	n->prev = head;
	head->next->prev = n;
	head->next = n;
}

/* Unlinks n from whatever list holds it; n is then unlinked (self-linked),
 * and deleting it again does nothing. */
static inline void list_del(struct list_node *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->prev = n->next = n;
}

#endif
