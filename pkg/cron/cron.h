/* Cron grammar and next-fire computation (pure: no I/O, no clock, no globals).
 *
 * The grammar is the one in docs/api.md "Schedule grammar" (details and the
 * choices it leaves open are in docs/cron.md): 5 fields `min hour dom month
 * dow` or 6 fields `sec min hour dom month dow`; `*`, `?`, numbers, ranges,
 * steps, lists, names; dom `L`, `nW`, `LW`; dow `d#n`, `dL`; the dom/dow OR
 * rule; macros @yearly @annually @monthly @weekly @daily @midnight @hourly and
 * `@every D`.
 *
 * Time: a pattern is matched against the wall clock of a zone (pkg/tz). The
 * daylight-saving rules:
 *   - fixed-time pattern (sec, min and hour each one single number, or a
 *     macro other than @every and @hourly): a local time skipped by a spring-forward gap
 *     fires once at the gap's end (the transition instant); a local time that
 *     occurs twice fires once, at its first occurrence;
 *   - any other pattern: no fire inside a gap; both occurrences of a repeated
 *     local time fire.
 * `@every D` ignores the zone: its slots are the multiples of D seconds since
 * 1970-01-01T00:00:00Z.
 *
 * Ownership: cron_parse returns an expression owned by the caller, freed by
 * cron_free. A parsed expression is immutable: it may be shared and queried
 * concurrently. The zone is borrowed for the duration of each call only.
 */
#ifndef TAKT_CRON_CRON_H
#define TAKT_CRON_CRON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cron_expr;
struct tz;

/* Parses `text` (leading/trailing blanks allowed; fields separated by runs of
 * spaces or tabs). Returns 0 and *out, or -EINVAL with one line in err naming
 * the field, the value and the reason, e.g.
 *   "minute: 60 is out of range 0-59"
 *   "expected 5 or 6 fields, got 4"
 *   "day-of-week: 6#6: occurrence \"6\" is out of range 1-5"
 *   "unknown macro \"@fortnightly\" (expected @yearly, ...)"
 *   "schedule can never fire: day-of-month 30 never occurs in month 2"
 * Field names in messages: second, minute, hour, day-of-month, month,
 * day-of-week. Patterns that can never fire are refused here (exactly: every
 * month length and weekday of the 1st is tried). `text` and `out` must not
 * be NULL; `err` may be NULL when errlen is 0. */
int cron_parse(const char *text, struct cron_expr **out, char *err, size_t errlen);
void cron_free(struct cron_expr *e);

/* The first fire instant (Unix seconds, UTC) strictly after `after`, in zone
 * `z` (NULL means UTC). Returns 0 and *next, or -ENOENT when the pattern does
 * not fire again within the search bound (400 years after `after`, a whole
 * Gregorian cycle, so a pattern that fires at all is found — the rarest, like
 * MON#5 in February, recur within 40 years — and not past 9999-12-31), or
 * -ERANGE when `after` is outside years 1..9999. Cost is bounded: typically
 * 50-300 ns; an interval pattern that fires once in decades walks two offset
 * spans per year of a DST zone (a few µs). */
int cron_next(const struct cron_expr *e, const struct tz *z, int64_t after, int64_t *next);

/* True when sec, min and hour each hold one value written without `*` or a
 * step (as croner's "single-value" rule), or for a macro other than @every
 * and @hourly (api.md: @hourly is the interval pattern 0 0 * * * *): such
 * patterns fire once per matching local time across DST. */
bool cron_is_fixed_time(const struct cron_expr *e);

/* True for `@every D`, with D in seconds in *period (when not NULL). */
bool cron_is_every(const struct cron_expr *e, int64_t *period);

/* True when the local date `days` (days since 1970-01-01, civil.h) matches
 * the pattern's day-of-month, month and day-of-week fields (with L, W, #, the
 * OR rule). Always true for @every. */
bool cron_matches_date(const struct cron_expr *e, int64_t days);

/* For the calendar rules ("fire at local time T on local date D instead"):
 * the fire instants that the pattern's DST rules give for the wall-clock
 * reading `local` (local seconds, civil.h) in zone `z` (NULL means UTC).
 * Writes 0, 1 or 2 instants to utc[0..*n-1], ascending:
 *   unique local time -> 1;
 *   in a gap          -> fixed-time: 1 (the gap's end); otherwise 0;
 *   in an overlap     -> fixed-time: 1 (the first occurrence); otherwise 2.
 * Does not check that `local` matches the pattern. Returns 0; for @every
 * returns -EINVAL (its slots do not depend on local time). */
int cron_local_to_fire(const struct cron_expr *e, const struct tz *z, int64_t local, int64_t utc[2],
		       int *n);

#endif
