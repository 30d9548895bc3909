/* The checks fuzz_calendar_csv.c and fuzz_calendar_spec.c share: whatever
 * the input, an error is a bounded printable message and a built calendar
 * answers its queries consistently. Any violation aborts (libFuzzer reports
 * it as a crash). Header-only (static inline) because the Makefile builds
 * each tests/fuzz/fuzz_*.c as one translation unit with the library. */
#ifndef TAKT_TESTS_FUZZ_CALENDAR_COMMON_H
#define TAKT_TESTS_FUZZ_CALENDAR_COMMON_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "calendar/calendar.h"
#include "tz/civil.h"

/* err: a NUL-terminated message in a buffer of cap bytes. */
static inline void check_message(const char *err, size_t cap)
{
	size_t n = strnlen(err, cap);
	if (n == 0 || n == cap)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] >= 0x7f)
			abort();
}

/* A built table is coherent: next/previous business day agree with the
 * per-day answers, the n-th business day of a month with its rank. */
static inline void check_calendar(const struct calendar *c)
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

#endif
