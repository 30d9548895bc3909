/* Business-day calendars: an immutable table of which days are business days.
 *
 * The semantics are docs/api.md "BusinessCalendar"; every choice the API
 * leaves open is written down in docs/calendar.md. In short: a calendar
 * covers the days [first, last] (at most CALENDAR_MAX_DAYS of them); a
 * covered day is a business day when it is listed as one (extraBusinessDays,
 * a CSV row with a true flag) or it is neither a weekend day nor listed as a
 * non-business day (holidays, a CSV row with a false flag). A day listed both
 * ways makes the calendar invalid. Days outside the coverage are unknown, and
 * every query says so with -ENODATA instead of guessing (fail closed).
 *
 * Days are civil day numbers (pkg/tz/civil.h: days since 1970-01-01), local
 * dates in the calendar's zone; this module never converts instants.
 *
 * Ownership: a builder is the caller's struct (usually on the stack):
 * calendar_builder_init allocates nothing, calendar_builder_release frees
 * what it gathered. calendar_builder_build returns a new calendar owned by
 * the caller, freed by calendar_free; the builder stays usable. A built
 * calendar is immutable: it may be shared by any number of schedules and
 * queried concurrently. Strings returned by queries are borrowed from it.
 *
 * Queries are O(1) (a bit test, a popcount) except next/previous business
 * day, which scan 64 days per step.
 */
#ifndef TAKT_CALENDAR_CALENDAR_H
#define TAKT_CALENDAR_CALENDAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct calendar;
struct cJSON;

/* 100 years: bounds the table (about 4.6 KiB of bits plus 29 KiB of month
 * masks) whatever a spec or a table claims. */
#define CALENDAR_MAX_DAYS 36525
/* A ConfigMap holds at most 1 MiB; twice that is refused unread. */
#define CALENDAR_CSV_MAX (2u * 1024 * 1024)
/* Weekday bits: bit d is weekday d, 0 = Sunday ... 6 = Saturday. */
#define CALENDAR_WEEKEND_DEFAULT ((1u << 0) | (1u << 6))

/* Gathers the listings; fields are private to calendar.c. */
struct calendar_builder {
	char *zone;
	unsigned weekend_mask;
	bool has_from, has_until;
	int64_t from, until;
	struct calendar_listing *list;
	size_t nlist, caplist;
	size_t nholidays, nextra;
	char **sources; /* CSV source names, for messages */
	size_t nsources, capsources;
};

void calendar_builder_init(struct calendar_builder *b);
void calendar_builder_release(struct calendar_builder *b);

/* The calendar's IANA zone name, copied; NULL clears it. Only stored: the
 * caller loads the zone (pkg/tz). Returns 0, or -EINVAL for "" or a name of
 * more than 255 bytes. */
int calendar_builder_set_zone(struct calendar_builder *b, const char *zone, char *err,
			      size_t errlen);
/* Weekday bit set (CALENDAR_WEEKEND_DEFAULT unless set); 0 means no weekend. */
void calendar_builder_set_weekend(struct calendar_builder *b, unsigned mask);
void calendar_builder_set_valid_from(struct calendar_builder *b, int64_t day);
void calendar_builder_set_valid_until(struct calendar_builder *b, int64_t day);
/* Listings from the spec; messages name them holidays[i] and
 * extraBusinessDays[i] in the order they were added. */
void calendar_builder_add_holiday(struct calendar_builder *b, int64_t day);
void calendar_builder_add_extra_business_day(struct calendar_builder *b, int64_t day);
/* Parses a CSV table (docs/calendar.md "Table format") and adds its rows.
 * `name` (e.g. "table.csv", may be NULL) prefixes every message:
 *   table.csv row 7: "2026-02-30" is not a valid date
 *   table.csv row 3: flag "maybe" is not one of Y N 1 0 true false
 * Rows are the line numbers where records start, counting every line.
 * Returns 0, or -EINVAL (-EFBIG when len > CALENDAR_CSV_MAX) leaving the
 * builder as it was. */
int calendar_builder_add_csv(struct calendar_builder *b, const char *name, const char *text,
			     size_t len, char *err, size_t errlen);
/* Checks and builds. Returns 0 and *out, or -EINVAL with e.g.
 *   validFrom 2027-01-01 is after validUntil 2026-12-31
 *   validFrom is required when no table gives the coverage
 *   coverage 1900-01-01..2100-12-31 is 73414 days; at most 36525 (100 years)
 *   2026-05-05 is listed both as a holiday and as a business day
 *     (holidays[3], table.csv row 127)
 */
int calendar_builder_build(const struct calendar_builder *b, struct calendar **out, char *err,
			   size_t errlen);

/* Parses a BusinessCalendar `spec` (as served by the API, cJSON) and builds
 * it. `csv` is the table the spec's source points at, already fetched by the
 * caller (NULL when none); a spec with a source but no csv is an error, a csv
 * without a source in the spec is used as given. Messages name the field:
 *   holidays[2]: "2026-13-01" is not a valid date
 *   weekendDays[0]: "SATURDAY" is not one of SUN MON TUE WED THU FRI SAT */
int calendar_from_spec_json(const struct cJSON *spec, const char *csv, size_t csvlen,
			    struct calendar **out, char *err, size_t errlen);

/* spec.source.configMapRef, borrowed from `spec`. */
struct calendar_source_ref {
	const char *namespace_;
	const char *name;
	const char *key; /* "table.csv" when not given */
};
/* Returns 1 and *ref when the spec has a source, 0 when it has none, or
 * -EINVAL with a message when the source is malformed. */
int calendar_spec_source(const struct cJSON *spec, struct calendar_source_ref *ref, char *err,
			 size_t errlen);

void calendar_free(struct calendar *c);

/* Same zone, coverage, weekend and business days: a reloaded table that
 * changed nothing need not re-plan the schedules that use it. */
bool calendar_equal(const struct calendar *a, const struct calendar *b);

/* The zone name, or NULL when the spec named none. */
const char *calendar_zone(const struct calendar *c);
unsigned calendar_weekend_mask(const struct calendar *c);
int64_t calendar_first_day(const struct calendar *c);
int64_t calendar_last_day(const struct calendar *c);
bool calendar_covers(const struct calendar *c, int64_t day);
/* Covered days and business days among them (for status). */
uint32_t calendar_day_count(const struct calendar *c);
uint32_t calendar_business_day_count(const struct calendar *c);

/* Returns 1 (business day), 0 (covered, not a business day) or -ENODATA (not
 * covered). Test the result with == 1: a negative value is not "yes". */
int calendar_is_business_day(const struct calendar *c, int64_t day);

/* The first business day strictly after / before `day`. Returns 0 and *out,
 * or -ENODATA when the answer lies beyond the coverage (or `day` is so far
 * outside it that the days in between are unknown). */
int calendar_next_business_day(const struct calendar *c, int64_t day, int64_t *out);
int calendar_prev_business_day(const struct calendar *c, int64_t day, int64_t *out);

/* The n-th business day of a month, counted from its start (n > 0: 1 is the
 * first) or its end (n < 0: -1 is the last). Returns 0 and *out; -ENOENT when
 * the month has fewer than |n| business days; -ENODATA when the days that
 * decide it are not all covered; -EINVAL for n == 0 or a bad month. */
int calendar_nth_business_day(const struct calendar *c, int year, int month, int n, int64_t *out);
/* Whether `day` is the n-th business day of its month (as above). Returns
 * 1, 0, or -ENODATA when the days that decide it are not all covered; n == 0
 * is never. */
int calendar_is_nth_business_day(const struct calendar *c, int64_t day, int n);
/* Business days in a month, or -ENODATA unless the whole month is covered. */
int calendar_business_days_in_month(const struct calendar *c, int year, int month);

#endif
