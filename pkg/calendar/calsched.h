/* Calendar rules on a schedule: which cron slots fire, and when.
 *
 * docs/api.md "Calendar rules on a schedule"; the precise semantics are in
 * docs/calendar.md. A slot is a matching wall-clock time T on a local date D
 * in the schedule's zone. Its landing day L is:
 *   days: BusinessDays     L = D when D is a business day; otherwise
 *                          Skip: none, NextBusinessDay: the first business
 *                          day after D, PreviousBusinessDay: the last before.
 *   days: NonBusinessDays  L = D when D is covered and not a business day.
 * businessDayOfMonth, when given, must hold for L. A landing slot fires at T
 * on L under the pattern's DST rules (cron_local_to_fire); when L == D those
 * are the pattern's own instants. The schedule fires at the SET of these
 * instants: slots that land on the same instant fire once, and
 * calsched_next returns the smallest element strictly after `after` — also
 * a shifted slot whose own natural time was before `after`.
 *
 * Fail closed: a slot whose date, landing day, or month rank the calendar
 * does not cover never fires. calsched_next reports the first such slot
 * after `after` with -ENODATA when it would come before the next fire, so
 * the controller can set CalendarReady=False and the CLI can stop; calling
 * again with after = that slot continues past it.
 *
 * Ownership: rules are plain values (no allocation). Expression, zone and
 * calendar are borrowed for the duration of a call.
 */
#ifndef TAKT_CALENDAR_CALSCHED_H
#define TAKT_CALENDAR_CALSCHED_H

#include <stddef.h>
#include <stdint.h>

struct calendar;
struct cron_expr;
struct tz;
struct cJSON;

enum calsched_days { CALSCHED_BUSINESS_DAYS = 0, CALSCHED_NON_BUSINESS_DAYS };
enum calsched_shift {
	CALSCHED_SKIP = 0,
	CALSCHED_NEXT_BUSINESS_DAY,
	CALSCHED_PREVIOUS_BUSINESS_DAY,
};

/* |n| of businessDayOfMonth: a month has at most 31 business days (a
 * calendar may have no weekend). */
#define CALSCHED_MAX_NTH  31
#define CALSCHED_MAX_BDOM 16

struct calsched_rules {
	enum calsched_days days;
	enum calsched_shift shift;
	int nbdom; /* 0: any business day */
	/* |n| <= CALSCHED_MAX_NTH: a byte each. Every schedule with a calendar
	 * holds these (48 bytes less than ints, at 10,000 schedules). */
	int8_t bdom[CALSCHED_MAX_BDOM];
};

/* BusinessDays, Skip, no businessDayOfMonth. */
void calsched_rules_init(struct calsched_rules *r);

/* The spec's `calendar` object of a BatchSchedule ({name, days,
 * businessDayOfMonth, onNonBusinessDay}; `name` is the caller's). Missing
 * fields take their defaults. Returns 0, or -EINVAL with e.g.
 *   calendar.onNonBusinessDay: "Later" is not one of Skip NextBusinessDay
 *   PreviousBusinessDay */
int calsched_rules_from_json(const struct cJSON *calendar, struct calsched_rules *r, char *err,
			     size_t errlen);

/* For the CLI's flags; the words are the API's, exactly (case matters, as in
 * the CRD). Return 0, or -EINVAL with a message. */
int calsched_parse_days(const char *s, enum calsched_days *out, char *err, size_t errlen);
int calsched_parse_shift(const char *s, enum calsched_shift *out, char *err, size_t errlen);
/* "1,-1": a comma list of nonzero integers with |n| <= CALSCHED_MAX_NTH. */
int calsched_parse_bdom_list(const char *s, struct calsched_rules *r, char *err, size_t errlen);

/* The combination checks: businessDayOfMonth values, NextBusinessDay /
 * PreviousBusinessDay / businessDayOfMonth only with BusinessDays, and (when
 * `e` is not NULL) no shifting of `@every` slots, which are not wall-clock
 * times. Returns 0 or -EINVAL with a message. */
int calsched_validate(const struct calsched_rules *r, const struct cron_expr *e, char *err,
		      size_t errlen);

struct calsched_result {
	/* 0: the fire instant (Unix seconds).
	 * -ENODATA: the natural instant of the slot that cannot be placed. */
	int64_t at;
	/* 0: the landing day L (the business date of the run; for
	 * NonBusinessDays and without a calendar, the slot's local date).
	 * -ENODATA: the slot's local date D. */
	int64_t date;
	/* -ENODATA only: the first day the decision needs that the calendar
	 * does not cover. */
	int64_t missing_day;
};

/* The first fire instant strictly after `after` of pattern `e` in zone `z`
 * (NULL: UTC) under calendar `cal` and rules `r`. `cal` NULL means no
 * calendar: every slot fires (r is then ignored). Returns
 *   0        *res holds the fire;
 *   -ENODATA *res holds the first slot after `after` that cannot be placed
 *            because the calendar does not cover what it needs;
 *   -ENOENT  the pattern never fires again (cron_next's bound);
 *   -EINVAL  rules that calsched_validate refuses;
 *   -ERANGE  `after` is outside what cron handles.
 * Cost: a few cron and calendar lookups per candidate day; days that cannot
 * fire are passed over by the calendar, not slot by slot. */
int calsched_next(const struct cron_expr *e, const struct tz *z, const struct calendar *cal,
		  const struct calsched_rules *r, int64_t after, struct calsched_result *res);

/* One line for a -ENODATA result, for conditions, Events and the CLI:
 *   the slot at 2027-01-01T00:00:00Z (local date 2027-01-01) needs
 *   2027-01-01, outside the calendar's coverage 2026-01-01..2026-12-31
 * Returns the length written (truncated to n - 1), as snprintf. */
int calsched_format_nodata(const struct calsched_result *res, const struct calendar *cal, char *out,
			   size_t n);

/* Whether the schedule fires at instant t: 1 (and *date, when not NULL, the
 * landing day), 0, or a negative code as for calsched_next. */
int calsched_fires_at(const struct cron_expr *e, const struct tz *z, const struct calendar *cal,
		      const struct calsched_rules *r, int64_t t, int64_t *date);

#endif
