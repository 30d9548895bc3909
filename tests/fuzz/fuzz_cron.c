/* libFuzzer target for pkg/cron: the input is schedule text. When it parses,
 * the expression is queried from instants derived from the input in three
 * zones (UTC, New York, Lord Howe's half-hour DST) and must keep its
 * promises: each instant is strictly after the previous one, and the error
 * path leaves no expression and names a reason. Bounded: at most 256 bytes
 * of text and 8 instants per zone. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cron/cron.h"
#include "tz/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t mix(uint64_t h)
{
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	return h;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tz *zones[3];
	static bool loaded;
	if (!loaded) {
		char e[256];
		/* zones[0] stays NULL: UTC through the NULL zone. */
		if (tz_load("America/New_York", &zones[1], e, sizeof(e)) ||
		    tz_load("Australia/Lord_Howe", &zones[2], e, sizeof(e)))
			abort();
		loaded = true;
	}
	if (size > 256)
		return 0;
	char text[257];
	memcpy(text, data, size);
	text[size] = '\0';

	struct cron_expr *e = (struct cron_expr *)text;
	char err[256];
	err[0] = '\0';
	if (cron_parse(text, &e, err, sizeof(err))) {
		if (e != NULL || err[0] == '\0')
			abort();
		return 0;
	}
	if (!e)
		abort();
	uint64_t h = 1469598103934665603u;
	for (size_t i = 0; i < size; i++)
		h = (h ^ data[i]) * 1099511628211u;
	for (int zi = 0; zi < 3; zi++) {
		/* Years 1900-2100, and now and then the ends of the range. */
		h = mix(h + (uint64_t)zi);
		int64_t t = -2208988800 + (int64_t)(h % UINT64_C(6311433600));
		if ((h >> 60) == 0)
			t = INT64_C(253402300799) - (int64_t)((h >> 20) % 100000);
		else if ((h >> 60) == 1)
			t = INT64_C(-62135596800) + (int64_t)((h >> 20) % 100000);
		for (int k = 0; k < 8; k++) {
			int64_t next;
			int rc = cron_next(e, zones[zi], t, &next);
			if (rc == -ENOENT)
				break;
			if (rc != 0 || next <= t)
				abort();
			t = next;
		}
		int64_t utc[2];
		int n;
		if (cron_local_to_fire(e, zones[zi], t, utc, &n) == 0 && (n < 0 || n > 2))
			abort();
		(void)cron_matches_date(e, t / 86400);
	}
	cron_free(e);
	return 0;
}
