#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/banned.h"

enum log_level log_level_current = LOG_LEVEL_INFO;

int log_set_level(const char *name)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	for (unsigned i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strcmp(name, names[i]) == 0) {
			log_level_current = (enum log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_emit(enum log_level lvl, const char *msg, const char *kvfmt, ...)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};
	struct timespec ts;
	struct tm tm;
	char when[32];
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);

	/* One fprintf per piece under one stream lock: lines never interleave. */
	flockfile(stderr);
	fprintf(stderr, "ts=%s.%03ldZ level=%s msg=\"%s\"", when, ts.tv_nsec / 1000000L, names[lvl],
		msg);
	if (kvfmt && *kvfmt) {
		va_list ap;
		va_start(ap, kvfmt);
		fputc(' ', stderr);
		vfprintf(stderr, kvfmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
	funlockfile(stderr);
}
