/* libFuzzer target for the business-day table's CSV parser
 * (pkg/calendar/calendar.c).
 *
 * The input is the table. Parsing must either fail with a bounded,
 * printable message or build a calendar whose queries agree with each
 * other: next/previous business day against the per-day answers, the n-th
 * business day of a month against its rank. Any disagreement aborts.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "calendar/calendar.h"
#include "tz/civil.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_message(const char *err, size_t cap)
{
	size_t n = strnlen(err, cap);
	if (n == 0 || n == cap)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] >= 0x7f)
			abort();
}

/* Shared with fuzz_calendar_spec.c in spirit: a built table is coherent. */
static void check_calendar(const struct calendar *c)
{
	int64_t first = calendar_first_day(c), last = calendar_last_day(c);
	if (first > last || last - first + 1 > CALENDAR_MAX_DAYS ||
	    calendar_day_count(c) != (uint32_t)(last - first + 1) ||
	    calendar_business_day_count(c) > calendar_day_count(c))
		abort();
	if (calendar_is_business_day(c, first - 1) != -ENODATA ||
	    calendar_is_business_day(c, last + 1) != -ENODATA)
		abort();
	/* The first and last 200 days: enough to cross months and words. */
	for (int64_t d = first; d <= last; d++) {
		if (d == first + 200 && last - 200 > d)
			d = last - 200;
		int b = calendar_is_business_day(c, d);
		if (b != 0 && b != 1)
			abort();
		int64_t nb;
		if (calendar_next_business_day(c, d, &nb) == 0) {
			if (nb <= d || calendar_is_business_day(c, nb) != 1)
				abort();
			for (int64_t k = d + 1; k < nb && k < d + 70; k++)
				if (calendar_is_business_day(c, k) != 0)
					abort();
		}
		int64_t pb;
		if (calendar_prev_business_day(c, d, &pb) == 0 &&
		    (pb >= d || calendar_is_business_day(c, pb) != 1))
			abort();
		int y, m, dd;
		civil_ymd_from_days(d, &y, &m, &dd);
		int count = calendar_business_days_in_month(c, y, m);
		if (dd != 1 || count < 0)
			continue;
		for (int k = 1; k <= count; k++) {
			int64_t a, z;
			if (calendar_nth_business_day(c, y, m, k, &a) != 0 ||
			    calendar_nth_business_day(c, y, m, k - count - 1, &z) != 0 || a != z ||
			    calendar_is_nth_business_day(c, a, k) != 1 ||
			    calendar_is_nth_business_day(c, a, k - count - 1) != 1)
				abort();
		}
		int64_t none;
		if (calendar_nth_business_day(c, y, m, count + 1, &none) != -ENOENT)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct calendar_builder b;
	char err[256];
	calendar_builder_init(&b);
	int rc =
	    calendar_builder_add_csv(&b, "table.csv", (const char *)data, size, err, sizeof(err));
	if (rc < 0) {
		check_message(err, sizeof(err));
	} else {
		struct calendar *c;
		rc = calendar_builder_build(&b, &c, err, sizeof(err));
		if (rc == 0) {
			check_calendar(c);
			calendar_free(c);
		} else {
			check_message(err, sizeof(err));
		}
	}
	calendar_builder_release(&b);
	return 0;
}
