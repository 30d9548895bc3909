/* BusinessCalendars as the controller sees them: watched, loaded with
 * pkg/calendar (the spec plus the CSV table of the ConfigMap it names), their
 * status written, and handed to the planner by name.
 *
 * A reflector follows the (cluster-scoped) BusinessCalendars; one more
 * follows the ConfigMaps of each namespace a calendar's source points into,
 * started when a calendar first names that namespace. Whenever what a
 * calendar is built from changes (its resourceVersion, or its ConfigMap's),
 * it is rebuilt, its status is written (observedGeneration, validFrom,
 * validUntil, businessDays, sourceResourceVersion, the Ready condition) and
 * `changed` is called with its name, so the owner re-plans the schedules
 * that use it. A calendar deleted is reported the same way.
 *
 * A rebuilt calendar that decides every day as before (calendar_equal, same
 * zone) is not reported: its status is still written (a new
 * sourceResourceVersion), but nothing needs re-planning.
 *
 * Status writes go through the controller's write path (writes.h): one in
 * flight per calendar, the newest waiting.
 *
 * Ownership: calendars_new borrows the loop and the write path (which must
 * outlive it) and copies the transport (its reflectors'). calendars_lookup returns pointers
 * borrowed from the cache: the calendar is valid until the next loop turn (a rebuild frees the old
 * one); the zone until calendars_free (zones are loaded once per name and
 * kept, so a plan that keeps its zone across turns never dangles).
 * calendars_free cancels every watch and forgets its status writes (they
 * finish calling nothing; writes_free cancels them) and calls nothing.
 * Loop thread only.
 */
#ifndef TAKT_CONTROLLER_CALENDARS_H
#define TAKT_CONTROLLER_CALENDARS_H

#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "controller/planner.h"

struct loop;
struct kube_transport;
struct writes;
struct calendars;

/* A calendar was rebuilt or deleted; also called after a relist (name NULL:
 * any calendar may have changed). */
typedef void calendars_changed_fn(void *ud, const char *name);

struct calendars *calendars_new(struct loop *l, const struct kube_transport *tr, struct writes *w,
				calendars_changed_fn *changed, void *ud);
void calendars_free(struct calendars *cs);
void calendars_start(struct calendars *cs);
/* The calendars and the ConfigMaps they name have been listed. */
bool calendars_synced(const struct calendars *cs);
/* How many calendars are known, and how many of them are loaded. */
size_t calendars_count(const struct calendars *cs, size_t *ready);

struct calendar_view {
	enum plan_calendar_state state;
	const struct calendar *calendar; /* OK only */
	const struct tz *zone;		 /* OK only: the calendar's zone */
	const char *error;		 /* INVALID only */
};
void calendars_lookup(struct calendars *cs, const char *name, struct calendar_view *out);

/* ---- The pure parts, exposed for tests -------------------------------------- */

/* One BusinessCalendar built from its object and the ConfigMap its source
 * names. The caller's struct: calendars_built_release frees cal and zone. */
struct calendars_built {
	enum plan_calendar_state state; /* OK or INVALID */
	struct calendar *cal;		/* OK only */
	struct tz *zone;		/* OK only: tz_load of the calendar's timeZone */
	char error[512];		/* INVALID only: one line for conditions */
	char source_rv[64];		/* the ConfigMap's resourceVersion, "" if none */
};

/* Builds `obj` (a BusinessCalendar as served) with `cm`, the ConfigMap of
 * its spec.source.configMapRef (NULL when it does not exist; ignored when
 * the spec has no source). Never falls back to anything older: a broken
 * table is INVALID, with messages such as
 *   spec.source.configMapRef: ConfigMap calendars/krx-table not found
 *   spec.source.configMapRef: ConfigMap calendars/krx-table has no key "table.csv"
 *   table.csv row 7: "2026-02-30" is not a valid date
 *   spec.timeZone: unknown time zone "Mars/Base"
 * The only I/O is tz_load (the zone database). */
void calendars_build(const cJSON *obj, const cJSON *cm, struct calendars_built *out);
void calendars_built_release(struct calendars_built *b);

/* The status `obj` should have after `b` (a new tree, the caller's):
 * observedGeneration, validFrom/validUntil/businessDays (null unless OK),
 * sourceResourceVersion, and the Ready condition (reason Loaded or Invalid,
 * the error as message) whose lastTransitionTime is kept from obj's status
 * while its status does not change, else now_ms. */
cJSON *calendars_status_json(const struct calendars_built *b, const cJSON *obj, int64_t now_ms);
/* Whether `cur` (obj's status, may be NULL) already holds every field of
 * `want`, a null in `want` meaning absent: then nothing is written. */
bool calendars_status_is(const cJSON *cur, const cJSON *want);

#endif
