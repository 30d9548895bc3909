/* Leveled key=value logging to stderr.
 *
 *   LOG_INFO("job created", "obj=%s/%s slot=%s", ns, name, when);
 * prints
 *   ts=2026-11-22T07:00:00.123Z level=info msg="job created" obj=ns/name slot=...
 * The level is checked before the arguments are evaluated, so debug logging
 * on the firing path costs one comparison when it is off.
 *
 * Values are escaped (names, messages and errors come from the API, and a
 * calendar or schedule name must not be able to write a line of its own):
 * a %s or %c value has its control characters written as \n, \r, \t or
 * \xHH; inside quotes written by the format (key="%s") a quote and a
 * backslash are escaped too; an unquoted value holding a space, a quote,
 * an '=' or a backslash is quoted. The message is escaped likewise.
 * Numbers are printed as printf prints them.
 * The log state is process-global by design (one stderr); it holds no memory.
 */
#ifndef TAKT_BASE_LOG_H
#define TAKT_BASE_LOG_H

#include <stdio.h>

enum log_level { LOG_LEVEL_ERROR = 0, LOG_LEVEL_WARN, LOG_LEVEL_INFO, LOG_LEVEL_DEBUG };

extern enum log_level log_level_current;

/* Parses "error|warn|info|debug"; returns 0, or -1 for anything else. */
int log_set_level(const char *name);
/* Where lines go: stderr (NULL), or a stream a test reads. */
void log_set_stream(FILE *f);
void log_emit(enum log_level lvl, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 3, 4)));

#define LOG_AT(lvl, msg, ...)                                                                      \
	do {                                                                                       \
		if ((lvl) <= log_level_current)                                                    \
			log_emit((lvl), (msg), __VA_ARGS__);                                       \
	} while (0)
#define LOG_ERROR(msg, ...) LOG_AT(LOG_LEVEL_ERROR, msg, __VA_ARGS__)
#define LOG_WARN(msg, ...)  LOG_AT(LOG_LEVEL_WARN, msg, __VA_ARGS__)
#define LOG_INFO(msg, ...)  LOG_AT(LOG_LEVEL_INFO, msg, __VA_ARGS__)
#define LOG_DEBUG(msg, ...) LOG_AT(LOG_LEVEL_DEBUG, msg, __VA_ARGS__)

#endif
