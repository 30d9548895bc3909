/* libFuzzer target for BusinessCalendar specs and schedule rules
 * (pkg/calendar/calendar.c, calsched.c).
 *
 * The input is JSON, optionally followed by a NUL byte and a CSV table. The
 * JSON is the spec; its "rules" member, if any, is read as a schedule's
 * calendar rules. Errors must be bounded printable messages; a built
 * calendar must be coherent (fuzz_calendar_common.h, shared with
 * fuzz_calendar_csv.c); the schedule's fires, walked from the coverage
 * start, must be strictly increasing and each must be confirmed by
 * calsched_fires_at.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "calendar/calendar.h"
#include "calendar/calsched.h"
#include "cron/cron.h"
#include "fuzz_calendar_common.h"
#include "tz/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk_schedule(const struct calendar *c, const cJSON *spec)
{
	struct calsched_rules r;
	char err[256];
	if (calsched_rules_from_json(cJSON_GetObjectItemCaseSensitive(spec, "rules"), &r, err,
				     sizeof(err)) < 0) {
		check_message(err, sizeof(err));
		return;
	}
	static const char *const patterns[] = {"0 9 * * *", "30 2 * * SAT", "0 0 18 L * *"};
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(spec, "pattern");
	const char *text = patterns[cJSON_IsNumber(p) ? (unsigned)p->valueint % 3 : 0];
	struct cron_expr *e;
	if (cron_parse(text, &e, err, sizeof(err)) < 0)
		abort();
	/* Zones with daylight saving make shifted slots land in gaps and
	 * repeated hours; loaded once, kept for the process. */
	static struct tz *zones[2];
	static const char *const names[2] = {"America/New_York", "Asia/Seoul"};
	const cJSON *zi = cJSON_GetObjectItemCaseSensitive(spec, "zone");
	const struct tz *z = NULL;
	if (cJSON_IsNumber(zi) && zi->valueint > 0) {
		unsigned i = (unsigned)zi->valueint % 2;
		if (!zones[i] && tz_load(names[i], &zones[i], err, sizeof(err)) < 0)
			abort();
		z = zones[i];
	}
	int64_t after = (calendar_first_day(c) - 3) * 86400;
	for (int i = 0; i < 40; i++) {
		struct calsched_result res;
		int rc = calsched_next(e, z, c, &r, after, &res);
		if (rc != 0 && rc != -ENODATA && rc != -ENOENT && rc != -ERANGE)
			abort();
		if (rc == -ENOENT || rc == -ERANGE)
			break;
		if (res.at <= after)
			abort();
		if (rc == 0) {
			int64_t date;
			if (calsched_fires_at(e, z, c, &r, res.at, &date) != 1 || date != res.date)
				abort();
			if (r.days == CALSCHED_BUSINESS_DAYS &&
			    calendar_is_business_day(c, res.date) != 1)
				abort();
		}
		after = res.at;
	}
	cron_free(e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t jlen = nul ? (size_t)(nul - data) : size;
	cJSON *spec = cJSON_ParseWithLength((const char *)data, jlen);
	if (!spec)
		return 0;
	const char *csv = nul ? (const char *)nul + 1 : NULL;
	size_t csvlen = nul ? size - jlen - 1 : 0;
	struct calendar *c = NULL;
	char err[256];
	if (calendar_from_spec_json(spec, csv, csvlen, &c, err, sizeof(err)) == 0) {
		check_calendar(c);
		walk_schedule(c, spec);
		calendar_free(c);
	} else {
		check_message(err, sizeof(err));
	}
	cJSON_Delete(spec);
	return 0;
}
