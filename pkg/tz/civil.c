#include "tz/civil.h"

#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "base/banned.h"

#define SECS_PER_DAY 86400
/* 1970-01-01 counted from 0000-03-01, the origin of the era arithmetic. */
#define EPOCH_SHIFT  719468
#define DAYS_PER_ERA 146097

/* The widest day range whose year still fits an int, with room so that no
 * intermediate step of the era arithmetic can overflow. Beyond it years
 * saturate (there is no meaningful calendar there anyway). */
#define DAYS_LIMIT ((int64_t)INT_MAX * 366)

int64_t civil_floor_div(int64_t a, int64_t b)
{
	if (b == -1)
		return a == INT64_MIN ? INT64_MAX : -a;
	int64_t q = a / b;
	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

static int64_t floor_mod(int64_t a, int64_t b)
{
	int64_t r = a % b;
	return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r;
}

bool civil_is_leap(int year)
{
	return (year % 4 == 0) && (year % 100 != 0 || year % 400 == 0);
}

int civil_days_in_month(int year, int month)
{
	static const unsigned char len[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (month < 1 || month > 12)
		return 0;
	if (month == 2 && civil_is_leap(year))
		return 29;
	return len[month - 1];
}

/* Months outside 1-12 and days outside the month roll over into the
 * neighbouring months/years, so callers can step fields without normalising
 * first (e.g. day 0 is the last day of the previous month). */
int64_t civil_days_from_ymd(int year, int month, int day)
{
	int64_t y = year;
	int64_t m = month;
	if (m < 1 || m > 12) {
		y += civil_floor_div(m - 1, 12);
		m = floor_mod(m - 1, 12) + 1;
	}
	/* Years start in March so that the leap day is the last day of a year. */
	y -= m <= 2;
	int64_t era = civil_floor_div(y, 400);
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + (int64_t)day - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * DAYS_PER_ERA + doe - EPOCH_SHIFT;
}

void civil_ymd_from_days(int64_t days, int *year, int *month, int *day)
{
	if (days > DAYS_LIMIT)
		days = DAYS_LIMIT;
	if (days < -DAYS_LIMIT)
		days = -DAYS_LIMIT;
	int64_t z = days + EPOCH_SHIFT;
	int64_t era = civil_floor_div(z, DAYS_PER_ERA);
	int64_t doe = z - era * DAYS_PER_ERA;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t y = yoe + era * 400;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;
	int64_t d = doy - (153 * mp + 2) / 5 + 1;
	int64_t m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	if (y > INT_MAX)
		y = INT_MAX;
	if (y < INT_MIN)
		y = INT_MIN;
	*year = (int)y;
	*month = (int)m;
	*day = (int)d;
}

int civil_weekday(int64_t days)
{
	/* Day 0 was a Thursday. Reduce first so days + 4 cannot overflow. */
	return (int)floor_mod(days % 7 + 4, 7);
}

int64_t civil_to_seconds(const struct civil_time *t)
{
	int64_t days = civil_days_from_ymd(t->year, t->month, t->day);
	return days * SECS_PER_DAY + (int64_t)t->hour * 3600 + (int64_t)t->min * 60 + t->sec;
}

void civil_from_seconds(int64_t secs, struct civil_time *t)
{
	int64_t days = civil_floor_div(secs, SECS_PER_DAY);
	int64_t rem = secs - days * SECS_PER_DAY;
	civil_ymd_from_days(days, &t->year, &t->month, &t->day);
	t->hour = (int)(rem / 3600);
	t->min = (int)(rem / 60 % 60);
	t->sec = (int)(rem % 60);
}

static void put_digits(char *p, int v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
}

int rfc3339_format(int64_t unix_ms, bool with_ms, char *out, size_t n)
{
	size_t len = with_ms ? 24 : 20;
	if (!out || n < len + 1)
		return -1;
	int64_t secs = civil_floor_div(unix_ms, 1000);
	int ms = (int)(unix_ms - secs * 1000);
	struct civil_time t;
	civil_from_seconds(secs, &t);
	/* RFC 3339 has exactly four year digits and no sign. */
	if (t.year < 0 || t.year > 9999)
		return -1;
	char *p = out;
	put_digits(p, t.year, 4);
	p[4] = '-';
	put_digits(p + 5, t.month, 2);
	p[7] = '-';
	put_digits(p + 8, t.day, 2);
	p[10] = 'T';
	put_digits(p + 11, t.hour, 2);
	p[13] = ':';
	put_digits(p + 14, t.min, 2);
	p[16] = ':';
	put_digits(p + 17, t.sec, 2);
	p += 19;
	if (with_ms) {
		*p++ = '.';
		put_digits(p, ms, 3);
		p += 3;
	}
	*p++ = 'Z';
	*p = '\0';
	return (int)len;
}

/* Exactly `width` ASCII digits; returns the value or -1. */
static int get_digits(const char *s, int width)
{
	int v = 0;
	for (int i = 0; i < width; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* "YYYY-MM-DD" at s (which has at least 10 readable bytes or a NUL before). */
static int parse_ymd(const char *s, int *y, int *m, int *d)
{
	*y = get_digits(s, 4);
	if (*y < 0 || s[4] != '-')
		return -1;
	*m = get_digits(s + 5, 2);
	if (*m < 1 || *m > 12 || s[7] != '-')
		return -1;
	*d = get_digits(s + 8, 2);
	if (*d < 1 || *d > civil_days_in_month(*y, *m))
		return -1;
	return 0;
}

int rfc3339_parse(const char *s, int64_t *unix_ms)
{
	if (!s)
		return -1;
	/* The fixed-width prefix is checked character by character; a short
	 * string fails at its NUL, so nothing is read past it. */
	int y, mo, d;
	if (parse_ymd(s, &y, &mo, &d) < 0)
		return -1;
	if (s[10] != 'T' && s[10] != 't')
		return -1;
	int h = get_digits(s + 11, 2);
	if (h < 0 || h > 23 || s[13] != ':')
		return -1;
	int mi = get_digits(s + 14, 2);
	if (mi < 0 || mi > 59 || s[16] != ':')
		return -1;
	int se = get_digits(s + 17, 2);
	if (se < 0 || se > 59)
		return -1;
	const char *p = s + 19;
	int ms = 0;
	if (*p == '.') {
		p++;
		int ndig = 0;
		while (*p >= '0' && *p <= '9') {
			if (ndig < 3)
				ms = ms * 10 + (*p - '0');
			ndig++;
			p++;
		}
		if (ndig == 0)
			return -1;
		for (int i = ndig; i < 3; i++)
			ms *= 10;
	}
	int off = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p == '-' ? -1 : 1;
		int oh = get_digits(p + 1, 2);
		if (oh < 0 || oh > 23 || p[3] != ':')
			return -1;
		int om = get_digits(p + 4, 2);
		if (om < 0 || om > 59)
			return -1;
		off = sign * (oh * 3600 + om * 60);
		p += 6;
	} else {
		return -1;
	}
	if (*p != '\0')
		return -1;
	struct civil_time t = {y, mo, d, h, mi, se};
	*unix_ms = (civil_to_seconds(&t) - off) * 1000 + ms;
	return 0;
}

int civil_parse_date(const char *s, size_t len, int64_t *days)
{
	if (!s || len != 10 || memchr(s, '\0', len))
		return -1;
	int y, m, d;
	if (parse_ymd(s, &y, &m, &d) < 0)
		return -1;
	*days = civil_days_from_ymd(y, m, d);
	return 0;
}

int civil_format_date(int64_t days, char *out, size_t n)
{
	if (!out || n < 11)
		return -1;
	int y, m, d;
	civil_ymd_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999)
		return -1;
	put_digits(out, y, 4);
	out[4] = '-';
	put_digits(out + 5, m, 2);
	out[7] = '-';
	put_digits(out + 8, d, 2);
	out[10] = '\0';
	return 10;
}
