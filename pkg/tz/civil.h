/* Civil (proleptic Gregorian) calendar arithmetic and RFC 3339, pure.
 *
 * Days are counted from 1970-01-01 (day 0), seconds from the Unix epoch.
 * A "local seconds" value is a wall-clock reading encoded as if it were UTC
 * (civil_to_seconds of the local fields): it is what cron matches against.
 * Nothing here allocates, reads the clock or touches global state.
 *
 * civil_days_from_ymd and civil_to_seconds accept fields outside their
 * ranges and roll them over (month 13 is January of the next year, day 0 the
 * last day of the previous month, hour 25 01:00 the next day), so callers can
 * step fields without normalising. Years are proleptic Gregorian with a year
 * 0 (= 1 BC); any int year works, days beyond them saturate.
 */
#ifndef TAKT_TZ_CIVIL_H
#define TAKT_TZ_CIVIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct civil_time {
	int year;  /* e.g. 2026 */
	int month; /* 1-12 */
	int day;   /* 1-31 */
	int hour;  /* 0-23 */
	int min;   /* 0-59 */
	int sec;   /* 0-59 */
};

int64_t civil_days_from_ymd(int year, int month, int day);
void civil_ymd_from_days(int64_t days, int *year, int *month, int *day);
/* 0 = Sunday ... 6 = Saturday. */
int civil_weekday(int64_t days);
bool civil_is_leap(int year);
int civil_days_in_month(int year, int month);
int64_t civil_to_seconds(const struct civil_time *t);
void civil_from_seconds(int64_t secs, struct civil_time *t);
/* Floor division helpers (the C operators truncate toward zero). */
int64_t civil_floor_div(int64_t a, int64_t b);

/* "2026-03-08T07:00:00Z", or with_ms "2026-03-08T07:00:00.000Z", in UTC.
 * Returns the length written, or -1 when `n` is too small (needs 25), or
 * when the year is outside 0000-9999 (RFC 3339 has four year digits). */
int rfc3339_format(int64_t unix_ms, bool with_ms, char *out, size_t n);
/* Parses RFC 3339 with 'Z' or a ±hh:mm offset, optional fraction (truncated
 * to ms). Returns 0, or -1 for anything malformed (no partial result).
 * Accepts 'T'/'t' and 'Z'/'z' as RFC 3339 does; refuses a space separator,
 * leap second 60, hour 24, impossible dates, and anything after the zone. */
int rfc3339_parse(const char *s, int64_t *unix_ms);
/* "YYYY-MM-DD" strictly (a real date); returns 0 and the day number, or -1. */
int civil_parse_date(const char *s, size_t len, int64_t *days);
/* Writes "YYYY-MM-DD" (needs 11 bytes); returns 10 or -1. */
int civil_format_date(int64_t days, char *out, size_t n);

#endif
