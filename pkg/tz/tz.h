/* Time zones from the system's TZif files (pure after loading).
 *
 * tz_load reads $TZDIR/<name> (default /usr/share/zoneinfo), TZif v1-v3,
 * including the POSIX TZ footer rule for instants past the last transition.
 * "UTC" (and "Etc/UTC") always work, also without tzdata.
 * Never uses setenv("TZ"), localtime or any global state: every query is a
 * function of the loaded, immutable `struct tz`.
 *
 * Ownership: tz_load returns a zone owned by the caller, freed by tz_free.
 * A loaded zone is immutable and may be shared by many schedules: tz_load
 * itself shares it, handing out the zone already loaded from the same file
 * (same name, device, inode, size and mtime) with a reference count that
 * tz_free drops. So tz_load and tz_free keep a process-wide cache and must
 * be called from one thread (takt's loop thread); queries need no lock.
 * Every query also accepts z == NULL, meaning UTC.
 *
 * Queries are total: any int64 instant or reading is accepted, results
 * saturate at the ends of the int64 range. Past the last transition of the
 * file the footer rule applies for ever (2100, 9999, ...).
 */
#ifndef TAKT_TZ_TZ_H
#define TAKT_TZ_TZ_H

#include <stddef.h>
#include <stdint.h>

struct tz;

/* Returns 0, or -1 with a one-line reason in err (e.g.
 * "unknown time zone \"Mars/Base\"", "invalid time zone name ..."
 * "corrupt TZif file ..."). Names are IANA names; "..", absolute paths and
 * other path tricks are refused. */
int tz_load(const char *name, struct tz **out, char *err, size_t errlen);
void tz_free(struct tz *z);
const char *tz_name(const struct tz *z);

/* As tz_load, from a TZif image in memory (tests, fuzzing, embedded data).
 * `data` is only read during the call; `name` is copied and only used for
 * tz_name and messages. Anything that is not a well-formed TZif v1-v4 file
 * (with a valid footer rule) is refused with "corrupt TZif file ...".
 * Leap-second ("right/") files are refused. */
int tz_load_from_memory(const char *name, const void *data, size_t len, struct tz **out, char *err,
			size_t errlen);

/* Offset from UTC (seconds east) in force at the UTC instant. */
int32_t tz_offset_at(const struct tz *z, int64_t utc);
/* The wall-clock reading at a UTC instant, as local seconds (civil.h). */
int64_t tz_utc_to_local(const struct tz *z, int64_t utc);

/* How a wall-clock reading maps back to UTC.
 *   TZ_UNIQUE:  one instant, utc[0].
 *   TZ_OVERLAP: two instants (fall-back), utc[0] < utc[1].
 *   TZ_GAP:     none (spring-forward); gap_end is the first UTC instant after
 *               the gap, i.e. the transition instant itself (utc[0] holds it
 *               too). E.g. New York 2026-03-08 02:30 -> gap_end 07:00Z,
 *               which reads 03:00 local. */
enum tz_kind { TZ_UNIQUE = 1, TZ_OVERLAP = 2, TZ_GAP = 0 };
struct tz_mapping {
	enum tz_kind kind;
	int64_t utc[2];
	int64_t gap_end;
};
void tz_local_to_utc(const struct tz *z, int64_t local, struct tz_mapping *out);

/* The first UTC instant strictly after `utc` at which the offset changes, or
 * INT64_MAX when there is none. Lets iterators skip whole stable spans.
 * Changes of abbreviation or of the DST flag alone are not transitions. */
int64_t tz_next_transition(const struct tz *z, int64_t utc);

#endif
