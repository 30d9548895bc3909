/* Manifests for the offline commands (`kubectl takt next`): YAML files read
 * into cJSON documents, the BatchSchedule they hold, and a BusinessCalendar
 * built from them with its table, as the controller would build it.
 *
 * Ownership: the document array from manifest_load is the caller's
 * (cJSON_Delete); manifest_find returns a document borrowed from it. The
 * calendar from manifest_calendar is the caller's (calendar_free). Inputs are
 * borrowed. Messages are one line, without the program's prefix. */
#ifndef TAKT_CMD_KUBECTL_TAKT_MANIFEST_H
#define TAKT_CMD_KUBECTL_TAKT_MANIFEST_H

#include <stddef.h>

#include <cjson/cJSON.h>

struct calendar;

/* Manifests and tables are small; a file larger than this is refused
 * unread (a ConfigMap holds at most 1 MiB). */
#define MANIFEST_FILE_MAX (8u * 1024 * 1024)

/* Reads the whole file (NUL-terminated, at most MANIFEST_FILE_MAX bytes).
 * Returns 0 with *text (the caller frees it) and *len, or a negative code:
 *   cannot read table.csv: No such file or directory
 *   big.yaml is 9000000 bytes; at most 8388608 */
int manifest_read_file(const char *path, char **text, size_t *len, char *err, size_t errlen);

/* Reads a file and parses every YAML (or JSON) document in it into a cJSON
 * array. Returns 0 and *docs, or a negative code:
 *   line 3, column 5: mapping values are not allowed in this context */
int manifest_load(const char *path, cJSON **docs, char *err, size_t errlen);

/* The document of that kind (exact `kind`) and metadata.name (NULL: the
 * only one of that kind). Returns it, or NULL and:
 *   no BusinessCalendar in it
 *   no BusinessCalendar named "krx" in it (it holds "krx-table")
 *   2 BusinessCalendars in it ("a", "b") */
const cJSON *manifest_find(const cJSON *docs, const char *kind, const char *name, char *err,
			   size_t errlen);

/* Builds the BusinessCalendar `name` (NULL: the only one) of `docs`. Its
 * table, when the spec has a source.configMapRef: `table` when not NULL
 * (the --calendar-table file: a CSV, or a manifest holding the ConfigMap),
 * else the ConfigMap of that namespace and name among `docs`. A table given
 * to a calendar without a source is used as given (docs/calendar.md).
 * Returns 0 and *out, or -EINVAL with the reason, e.g.
 *   BusinessCalendar "krx": table.csv row 7: "2026-02-30" is not a valid date */
int manifest_calendar(const cJSON *docs, const char *name, const char *table, size_t tablelen,
		      struct calendar **out, char *err, size_t errlen);

#endif
