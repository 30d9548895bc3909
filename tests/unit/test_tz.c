/* Unit tests for pkg/tz: zones from the system's tzdata checked against glibc
 * (setenv("TZ") + localtime_r, an independent implementation), the DST
 * transitions the cron engine depends on, local-to-UTC mapping, footer rules
 * past 2037, and hostile names and files. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <ftw.h>
#include <sys/stat.h>
#include <cmocka.h>
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

#include "tz/civil.h"
#include "tz/tz.h"

/* The TZDIR the suite started with; tests that point TZDIR elsewhere put
 * it back in their teardown. */
static char *orig_tzdir;

static void restore_tzdir(void)
{
	if (orig_tzdir)
		setenv("TZDIR", orig_tzdir, 1);
	else
		unsetenv("TZDIR");
}

static int tzdir_teardown(void **state)
{
	restore_tzdir();
	return 0;
}

/* A temporary zone tree, removed by tmp_teardown. */
static char tmp_root[64];

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	return remove(path);
}

/* Runs also when the test failed: no temporary zone tree is left behind and
 * the next test sees the original TZDIR. */
static int tmp_teardown(void **state)
{
	if (tmp_root[0] != '\0') {
		nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
		tmp_root[0] = '\0';
	}
	restore_tzdir();
	return 0;
}

/* Under valgrind (some 50x slower) the sweeps sample more sparsely and the
 * every-zone sweeps take every 8th zone: the code paths and leak checks are
 * the same, the data is covered by the native run. */
static int valgrind_factor(int f)
{
	return RUNNING_ON_VALGRIND || getenv("VALGRIND") ? f : 1;
}

static int zone_stride(void)
{
	return valgrind_factor(8);
}

static const char *const zones[] = {
    "America/New_York",	   "Europe/Berlin",   "Australia/Sydney",
    "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Kathmandu",
    "Asia/Seoul",	   "Europe/London",   "America/Sao_Paulo",
};
#define NZONES (sizeof(zones) / sizeof(zones[0]))

static struct tz *load(const char *name)
{
	struct tz *z = NULL;
	char err[256] = "";
	int rc = tz_load(name, &z, err, sizeof(err));
	if (rc != 0)
		fail_msg("tz_load(%s): %s", name, err);
	assert_non_null(z);
	return z;
}

static int64_t utc_of(int y, int mo, int d, int h, int mi, int s)
{
	struct civil_time t = {y, mo, d, h, mi, s};
	return civil_to_seconds(&t);
}

/* glibc's view, for the zone selected with use_glibc_zone. */
static void use_glibc_zone(const char *tzspec)
{
	assert_int_equal(setenv("TZ", tzspec, 1), 0);
	tzset();
}

static long glibc_off(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	assert_non_null(localtime_r(&tt, &tm));
	return tm.tm_gmtoff;
}

static void check_against_glibc(const struct tz *z, int64_t from, int64_t to, int64_t step)
{
	step *= valgrind_factor(8);
	for (int64_t t = from; t < to; t += step) {
		long want = glibc_off(t);
		int32_t got = tz_offset_at(z, t);
		if (got != want)
			fail_msg("%s at %lld: offset %d, glibc %ld", tz_name(z), (long long)t, got,
				 want);
		assert_int_equal(tz_utc_to_local(z, t), t + want);
	}
}

/* Every offset change glibc shows in [from, to), found by hourly scanning and
 * bisection, must be exactly the next tz_next_transition, and vice versa. */
static void check_transitions_against_glibc(const struct tz *z, int64_t from, int64_t to)
{
	int64_t t = from;
	long cur = glibc_off(t);
	while (t < to) {
		/* No zone here has two changes within two hours. */
		int64_t step = 1800 * valgrind_factor(4);
		int64_t u = t + step;
		long o = glibc_off(u);
		if (o == cur) {
			if (tz_next_transition(z, t) <= u)
				fail_msg(
				    "%s: tz_next_transition(%lld) = %lld, glibc sees no change "
				    "up to %lld",
				    tz_name(z), (long long)t, (long long)tz_next_transition(z, t),
				    (long long)u);
			t = u;
			continue;
		}
		int64_t lo = t, hi = u; /* off(lo) == cur, off(hi) != cur */
		while (hi - lo > 1) {
			int64_t mid = lo + (hi - lo) / 2;
			if (glibc_off(mid) == cur)
				lo = mid;
			else
				hi = mid;
		}
		int64_t next = tz_next_transition(z, t);
		if (next != hi)
			fail_msg(
			    "%s: glibc changes offset at %lld, tz_next_transition(%lld) = %lld",
			    tz_name(z), (long long)hi, (long long)t, (long long)next);
		assert_int_equal(tz_offset_at(z, hi - 1), cur);
		assert_int_equal(tz_offset_at(z, hi), glibc_off(hi));
		cur = glibc_off(hi);
		t = hi;
	}
}

static void test_zones_match_glibc_1970_2037(void **state)
{
	for (size_t i = 0; i < NZONES; i++) {
		struct tz *z = load(zones[i]);
		char spec[128];
		snprintf(spec, sizeof(spec), ":%s", zones[i]);
		use_glibc_zone(spec);
		/* A step of 2h17m13s walks through every hour and minute phase. */
		check_against_glibc(z, 0, utc_of(2038, 1, 1, 0, 0, 0), 8233);
		tz_free(z);
	}
}

static void test_zone_transitions_match_glibc(void **state)
{
	for (size_t i = 0; i < NZONES; i++) {
		struct tz *z = load(zones[i]);
		char spec[128];
		snprintf(spec, sizeof(spec), ":%s", zones[i]);
		use_glibc_zone(spec);
		check_transitions_against_glibc(z, utc_of(1970, 1, 1, 0, 0, 0),
						utc_of(2045, 1, 1, 0, 0, 0));
		tz_free(z);
	}
}

/* Past 2037 the fat tzdata files have no transitions: the footer rule. */
static void test_zones_match_glibc_far_future(void **state)
{
	for (size_t i = 0; i < NZONES; i++) {
		struct tz *z = load(zones[i]);
		char spec[128];
		snprintf(spec, sizeof(spec), ":%s", zones[i]);
		use_glibc_zone(spec);
		check_against_glibc(z, utc_of(2037, 1, 1, 0, 0, 0), utc_of(2500, 1, 1, 0, 0, 0),
				    86400 * 3 + 3607);
		check_transitions_against_glibc(z, utc_of(2099, 1, 1, 0, 0, 0),
						utc_of(2102, 1, 1, 0, 0, 0));
		/* Beyond the expanded 400-year cycle, reduced by whole cycles. */
		check_transitions_against_glibc(z, utc_of(2799, 1, 1, 0, 0, 0),
						utc_of(2801, 1, 1, 0, 0, 0));
		check_against_glibc(z, utc_of(9990, 1, 1, 0, 0, 0), utc_of(9999, 1, 1, 0, 0, 0),
				    86400 * 5 + 3607);
		tz_free(z);
	}
}

static void test_new_york_2026(void **state)
{
	struct tz *z = load("America/New_York");
	struct tz_mapping m;
	int64_t spring = utc_of(2026, 3, 8, 7, 0, 0); /* 02:00 EST -> 03:00 EDT */
	int64_t fall = utc_of(2026, 11, 1, 6, 0, 0);  /* 02:00 EDT -> 01:00 EST */

	assert_int_equal(tz_offset_at(z, spring - 1), -5 * 3600);
	assert_int_equal(tz_offset_at(z, spring), -4 * 3600);
	assert_int_equal(tz_next_transition(z, utc_of(2026, 1, 1, 0, 0, 0)), spring);
	assert_int_equal(tz_next_transition(z, spring - 1), spring);
	assert_int_equal(tz_next_transition(z, spring), fall);
	assert_int_equal(tz_utc_to_local(z, spring - 1), utc_of(2026, 3, 8, 1, 59, 59));
	assert_int_equal(tz_utc_to_local(z, spring), utc_of(2026, 3, 8, 3, 0, 0));

	tz_local_to_utc(z, utc_of(2026, 3, 8, 2, 30, 0), &m);
	assert_int_equal(m.kind, TZ_GAP);
	assert_int_equal(m.gap_end, spring);
	tz_local_to_utc(z, utc_of(2026, 3, 8, 2, 0, 0), &m);
	assert_int_equal(m.kind, TZ_GAP);
	assert_int_equal(m.gap_end, spring);
	tz_local_to_utc(z, utc_of(2026, 3, 8, 2, 59, 59), &m);
	assert_int_equal(m.kind, TZ_GAP);
	tz_local_to_utc(z, utc_of(2026, 3, 8, 1, 59, 59), &m);
	assert_int_equal(m.kind, TZ_UNIQUE);
	assert_int_equal(m.utc[0], spring - 1);
	tz_local_to_utc(z, utc_of(2026, 3, 8, 3, 0, 0), &m);
	assert_int_equal(m.kind, TZ_UNIQUE);
	assert_int_equal(m.utc[0], spring);

	tz_local_to_utc(z, utc_of(2026, 11, 1, 1, 30, 0), &m);
	assert_int_equal(m.kind, TZ_OVERLAP);
	assert_int_equal(m.utc[0], utc_of(2026, 11, 1, 5, 30, 0));
	assert_int_equal(m.utc[1], utc_of(2026, 11, 1, 6, 30, 0));
	tz_local_to_utc(z, utc_of(2026, 11, 1, 1, 0, 0), &m);
	assert_int_equal(m.kind, TZ_OVERLAP);
	assert_int_equal(m.utc[0], utc_of(2026, 11, 1, 5, 0, 0));
	assert_int_equal(m.utc[1], fall);
	tz_local_to_utc(z, utc_of(2026, 11, 1, 0, 59, 59), &m);
	assert_int_equal(m.kind, TZ_UNIQUE);
	assert_int_equal(m.utc[0], utc_of(2026, 11, 1, 4, 59, 59));
	tz_local_to_utc(z, utc_of(2026, 11, 1, 2, 0, 0), &m);
	assert_int_equal(m.kind, TZ_UNIQUE);
	assert_int_equal(m.utc[0], utc_of(2026, 11, 1, 7, 0, 0));
	tz_local_to_utc(z, utc_of(2026, 7, 4, 12, 0, 0), &m);
	assert_int_equal(m.kind, TZ_UNIQUE);
	assert_int_equal(m.utc[0], utc_of(2026, 7, 4, 16, 0, 0));
	tz_free(z);
}

static void test_lord_howe_half_hour_dst(void **state)
{
	struct tz *z = load("Australia/Lord_Howe");
	struct tz_mapping m;
	/* 2026-10-04 02:00 +10:30 -> 02:30 +11. */
	int64_t spring = utc_of(2026, 10, 3, 15, 30, 0);
	assert_int_equal(tz_offset_at(z, spring - 1), 10 * 3600 + 1800);
	assert_int_equal(tz_offset_at(z, spring), 11 * 3600);
	tz_local_to_utc(z, utc_of(2026, 10, 4, 2, 15, 0), &m);
	assert_int_equal(m.kind, TZ_GAP);
	assert_int_equal(m.gap_end, spring);
	tz_local_to_utc(z, utc_of(2026, 10, 4, 2, 30, 0), &m);
	assert_int_equal(m.kind, TZ_UNIQUE);
	assert_int_equal(m.utc[0], spring);
	/* 2026-04-05 02:00 +11 -> 01:30 +10:30: 01:30-02:00 twice. */
	int64_t fall = utc_of(2026, 4, 4, 15, 0, 0);
	assert_int_equal(tz_next_transition(z, utc_of(2026, 1, 1, 0, 0, 0)), fall);
	tz_local_to_utc(z, utc_of(2026, 4, 5, 1, 45, 0), &m);
	assert_int_equal(m.kind, TZ_OVERLAP);
	assert_int_equal(m.utc[0], utc_of(2026, 4, 4, 14, 45, 0));
	assert_int_equal(m.utc[1], utc_of(2026, 4, 4, 15, 15, 0));
	tz_local_to_utc(z, utc_of(2026, 4, 5, 1, 29, 59), &m);
	assert_int_equal(m.kind, TZ_UNIQUE);
	tz_local_to_utc(z, utc_of(2026, 4, 5, 2, 0, 0), &m);
	assert_int_equal(m.kind, TZ_UNIQUE);
	assert_int_equal(m.utc[0], utc_of(2026, 4, 4, 15, 30, 0));
	tz_free(z);
}

static void test_chatham_and_kathmandu(void **state)
{
	struct tz *z = load("Pacific/Chatham");
	struct tz_mapping m;
	/* 2026-09-27 02:45 +12:45 -> 03:45 +13:45. */
	int64_t spring = utc_of(2026, 9, 26, 14, 0, 0);
	assert_int_equal(tz_offset_at(z, spring - 1), 12 * 3600 + 2700);
	assert_int_equal(tz_offset_at(z, spring), 13 * 3600 + 2700);
	tz_local_to_utc(z, utc_of(2026, 9, 27, 3, 0, 0), &m);
	assert_int_equal(m.kind, TZ_GAP);
	assert_int_equal(m.gap_end, spring);
	/* 2026-04-05 03:45 +13:45 -> 02:45 +12:45. */
	tz_local_to_utc(z, utc_of(2026, 4, 5, 3, 0, 0), &m);
	assert_int_equal(m.kind, TZ_OVERLAP);
	assert_int_equal(m.utc[0], utc_of(2026, 4, 4, 13, 15, 0));
	assert_int_equal(m.utc[1], utc_of(2026, 4, 4, 14, 15, 0));
	tz_free(z);

	z = load("Asia/Kathmandu");
	assert_int_equal(tz_offset_at(z, utc_of(2026, 6, 1, 0, 0, 0)), 5 * 3600 + 2700);
	/* 1986: +05:30 -> +05:45, a 15-minute gap and a changed standard offset. */
	int64_t t = tz_next_transition(z, utc_of(1985, 1, 1, 0, 0, 0));
	assert_int_equal(t, utc_of(1985, 12, 31, 18, 30, 0));
	assert_int_equal(tz_next_transition(z, t), INT64_MAX);
	tz_local_to_utc(z, utc_of(1986, 1, 1, 0, 10, 0), &m);
	assert_int_equal(m.kind, TZ_GAP);
	assert_int_equal(m.gap_end, t);
	tz_free(z);
}

/* Offsets that changed for good (Seoul, Sao Paulo dropped DST in 2019). */
static void test_standard_offset_changes(void **state)
{
	struct tz *z = load("America/Sao_Paulo");
	assert_int_equal(tz_offset_at(z, utc_of(2026, 1, 15, 0, 0, 0)), -3 * 3600);
	assert_int_equal(tz_offset_at(z, utc_of(2100, 1, 15, 0, 0, 0)), -3 * 3600);
	assert_int_equal(tz_offset_at(z, utc_of(2018, 1, 15, 0, 0, 0)), -2 * 3600);
	assert_int_equal(tz_next_transition(z, utc_of(2020, 1, 1, 0, 0, 0)), INT64_MAX);
	tz_free(z);
	z = load("Asia/Seoul");
	assert_int_equal(tz_offset_at(z, utc_of(2026, 1, 15, 0, 0, 0)), 9 * 3600);
	assert_int_equal(tz_offset_at(z, utc_of(1988, 6, 15, 0, 0, 0)), 10 * 3600);
	assert_int_equal(tz_next_transition(z, utc_of(1989, 1, 1, 0, 0, 0)), INT64_MAX);
	struct tz_mapping m;
	tz_local_to_utc(z, utc_of(2026, 3, 8, 2, 30, 0), &m);
	assert_int_equal(m.kind, TZ_UNIQUE);
	assert_int_equal(m.utc[0], utc_of(2026, 3, 7, 17, 30, 0));
	tz_free(z);
}

static void test_year_2100_from_footer(void **state)
{
	struct tz *z = load("America/New_York");
	/* 2100-03-14 (second Sunday of March) 02:00 EST. */
	int64_t spring = utc_of(2100, 3, 14, 7, 0, 0);
	assert_int_equal(tz_next_transition(z, utc_of(2100, 1, 1, 0, 0, 0)), spring);
	assert_int_equal(tz_offset_at(z, spring), -4 * 3600);
	struct tz_mapping m;
	tz_local_to_utc(z, utc_of(2100, 3, 14, 2, 30, 0), &m);
	assert_int_equal(m.kind, TZ_GAP);
	assert_int_equal(m.gap_end, spring);
	tz_local_to_utc(z, utc_of(2100, 11, 7, 1, 30, 0), &m);
	assert_int_equal(m.kind, TZ_OVERLAP);
	assert_int_equal(m.utc[0], utc_of(2100, 11, 7, 5, 30, 0));
	tz_free(z);

	z = load("Europe/Berlin");
	/* Last Sunday of March 2100 is the 28th; 01:00 UTC. */
	assert_int_equal(tz_next_transition(z, utc_of(2100, 1, 1, 0, 0, 0)),
			 utc_of(2100, 3, 28, 1, 0, 0));
	tz_free(z);
}

/* Every solution u of u + off(u) == L satisfies u = L - o for an offset o the
 * zone uses, so trying each such o is a brute-force reference. */
static void check_local_to_utc(const struct tz *z, int64_t local, const int32_t *offs, int noffs)
{
	int64_t sols[8];
	int n = 0;
	for (int k = 0; k < noffs; k++) {
		int64_t u = local - offs[k];
		if (tz_utc_to_local(z, u) == local) {
			int dup = 0;
			for (int j = 0; j < n; j++)
				dup |= sols[j] == u;
			if (!dup && n < 8)
				sols[n++] = u;
		}
	}
	for (int a = 0; a < n; a++) /* sort */
		for (int b = a + 1; b < n; b++)
			if (sols[b] < sols[a]) {
				int64_t x = sols[a];
				sols[a] = sols[b];
				sols[b] = x;
			}
	struct tz_mapping m;
	tz_local_to_utc(z, local, &m);
	if (n == 0) {
		if (m.kind != TZ_GAP)
			fail_msg("%s local %lld: expected a gap, got kind %d", tz_name(z),
				 (long long)local, m.kind);
		/* gap_end is a transition whose local time jumps over `local`. */
		int64_t g = m.gap_end;
		assert_true(tz_utc_to_local(z, g - 1) < local);
		assert_true(tz_utc_to_local(z, g) > local);
		assert_true(tz_next_transition(z, g - 1) == g);
	} else if (n == 1) {
		if (m.kind != TZ_UNIQUE || m.utc[0] != sols[0])
			fail_msg("%s local %lld: expected unique %lld, got kind %d %lld",
				 tz_name(z), (long long)local, (long long)sols[0], m.kind,
				 (long long)m.utc[0]);
	} else {
		assert_int_equal(m.kind, TZ_OVERLAP);
		assert_int_equal(m.utc[0], sols[0]);
		assert_int_equal(m.utc[1], sols[n - 1]);
	}
}

static int zone_offsets(const struct tz *z, int32_t *offs, int max)
{
	int n = 0;
	int64_t t = INT64_MIN;
	for (;;) {
		int32_t o = tz_offset_at(z, t);
		int dup = 0;
		for (int j = 0; j < n; j++)
			dup |= offs[j] == o;
		if (!dup && n < max)
			offs[n++] = o;
		int64_t nt = tz_next_transition(z, t);
		if (nt == INT64_MAX || nt > utc_of(2500, 1, 1, 0, 0, 0))
			break;
		t = nt;
	}
	return n;
}

static void test_local_to_utc_brute_force(void **state)
{
	for (size_t i = 0; i < NZONES; i++) {
		struct tz *z = load(zones[i]);
		int32_t offs[64];
		int noffs = zone_offsets(z, offs, 64);
		assert_true(noffs >= 1);
		for (int64_t l = utc_of(1900, 1, 1, 0, 0, 0); l < utc_of(2200, 1, 1, 0, 0, 0);
		     l += (86400 * 7 + 4093) * valgrind_factor(8))
			check_local_to_utc(z, l, offs, noffs);
		/* Densely around every transition from 1970 to 2110. */
		for (int64_t t = tz_next_transition(z, 0); t < utc_of(2110, 1, 1, 0, 0, 0);
		     t = tz_next_transition(z, t)) {
			int64_t lb = tz_utc_to_local(z, t - 1), la = tz_utc_to_local(z, t);
			int64_t from = (lb < la ? lb : la) - 120, to = (lb > la ? lb : la) + 120;
			for (int64_t l = from; l <= to; l += 60)
				check_local_to_utc(z, l, offs, noffs);
			check_local_to_utc(z, lb, offs, noffs);
			check_local_to_utc(z, la, offs, noffs);
			check_local_to_utc(z, la - 1, offs, noffs);
			check_local_to_utc(z, lb + 1, offs, noffs);
		}
		tz_free(z);
	}
}

/* Every zone Debian ships, against glibc: offsets sampled 1901..2200, the
 * offsets on both sides of every transition, and local_to_utc around every
 * transition 1970..2040 against the brute-force reference. */
static long all_zones_checked;

static long zones_seen;

static int check_system_zone(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	const char *root = "/usr/share/zoneinfo/";
	if (flag != FTW_F || strncmp(path, root, strlen(root)) != 0)
		return 0;
	const char *name = path + strlen(root);
	if (strncmp(name, "posix/", 6) == 0 || strncmp(name, "right/", 6) == 0)
		return 0;
	if (zones_seen++ % zone_stride() != 0)
		return 0;
	struct tz *z = NULL;
	char err[256];
	if (tz_load(name, &z, err, sizeof(err)) != 0) {
		/* Only the tables that live next to the zones may fail. */
		if (strstr(err, "not a TZif file") == NULL && strstr(err, "leap-second") == NULL)
			fail_msg("%s: %s", name, err);
		return 0;
	}
	char spec[300];
	snprintf(spec, sizeof(spec), ":%s", name);
	use_glibc_zone(spec);
	check_against_glibc(z, -2145916800, 7258118400, 86400 * 9 + 3607);
	int32_t offs[64];
	int noffs = zone_offsets(z, offs, 64);
	for (int64_t t = tz_next_transition(z, -2145916800); t < 7258118400;
	     t = tz_next_transition(z, t)) {
		if (tz_offset_at(z, t - 1) != glibc_off(t - 1) ||
		    tz_offset_at(z, t) != glibc_off(t))
			fail_msg("%s: transition at %lld differs from glibc", name, (long long)t);
		if (t < 0 || t > 2208988800)
			continue;
		int64_t lb = tz_utc_to_local(z, t - 1), la = tz_utc_to_local(z, t);
		int64_t mid = lb + (la - lb) / 2;
		int64_t ls[] = {lb, lb + 1, la - 1, la, mid, mid + 1, lb - 3600, la + 3600};
		for (size_t k = 0; k < sizeof(ls) / sizeof(ls[0]); k++)
			check_local_to_utc(z, ls[k], offs, noffs);
	}
	tz_free(z);
	all_zones_checked++;
	return 0;
}

static void test_all_system_zones(void **state)
{
	all_zones_checked = 0;
	zones_seen = 0;
	assert_int_equal(nftw("/usr/share/zoneinfo", check_system_zone, 16, FTW_PHYS), 0);
	/* Debian's tzdata has about 450 zone files (plus links). */
	assert_true(all_zones_checked * zone_stride() > 300);
}

/* "Slim" TZif files (zic -b slim, as Alpine and distroless images ship) stop
 * listing transitions in 2007 for New York and leave the rest to the footer
 * rule. Every zone is compiled slim from Debian's tzdata.zi and compared with
 * glibc reading the same slim files. Skipped without zic. */
static long slim_checked;

static int check_slim_zone(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
	if (flag != FTW_F)
		return 0;
	const char *name = path + strlen(tmp_root) + 1;
	if (zones_seen++ % zone_stride() != 0)
		return 0;
	struct tz *z = NULL;
	char err[256];
	if (tz_load(name, &z, err, sizeof(err)) != 0)
		fail_msg("slim %s: %s", name, err);
	use_glibc_zone(path); /* glibc reads an absolute path as a file */
	check_against_glibc(z, -2145916800, 7258118400, 86400 * 11 + 3607);
	for (int64_t t = tz_next_transition(z, 0); t < 4102444800; t = tz_next_transition(z, t))
		if (tz_offset_at(z, t - 1) != glibc_off(t - 1) ||
		    tz_offset_at(z, t) != glibc_off(t))
			fail_msg("slim %s: transition at %lld differs from glibc", name,
				 (long long)t);
	tz_free(z);
	slim_checked++;
	return 0;
}

static void test_slim_zones_match_glibc(void **state)
{
	if (access("/usr/sbin/zic", X_OK) != 0 ||
	    access("/usr/share/zoneinfo/tzdata.zi", R_OK) != 0)
		skip();
	snprintf(tmp_root, sizeof(tmp_root), "/tmp/takt-slim-XXXXXX");
	assert_non_null(mkdtemp(tmp_root));
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "/usr/sbin/zic -b slim -d %s /usr/share/zoneinfo/tzdata.zi",
		 tmp_root);
	assert_int_equal(system(cmd), 0);
	setenv("TZDIR", tmp_root, 1);
	slim_checked = 0;
	zones_seen = 0;
	assert_int_equal(nftw(tmp_root, check_slim_zone, 16, FTW_PHYS), 0);
	assert_true(slim_checked * zone_stride() > 300);
}

static void test_utc_builtin(void **state)
{
	/* No tzdata at all: UTC must still load. */
	assert_int_equal(setenv("TZDIR", "/nonexistent-tzdir", 1), 0);
	const char *names[] = {"UTC", "Etc/UTC"};
	for (int i = 0; i < 2; i++) {
		struct tz *z = load(names[i]);
		assert_string_equal(tz_name(z), names[i]);
		assert_int_equal(tz_offset_at(z, 1234567890), 0);
		assert_int_equal(tz_utc_to_local(z, 1234567890), 1234567890);
		assert_int_equal(tz_next_transition(z, 0), INT64_MAX);
		struct tz_mapping m;
		tz_local_to_utc(z, 42, &m);
		assert_int_equal(m.kind, TZ_UNIQUE);
		assert_int_equal(m.utc[0], 42);
		tz_free(z);
	}
	struct tz *z = NULL;
	char err[256];
	assert_int_equal(tz_load("Europe/Berlin", &z, err, sizeof(err)), -1);
	assert_null(z);
	assert_string_equal(err, "unknown time zone \"Europe/Berlin\"");
	restore_tzdir();
	/* NULL is UTC for every query. */
	assert_string_equal(tz_name(NULL), "UTC");
	assert_int_equal(tz_offset_at(NULL, 5), 0);
	assert_int_equal(tz_next_transition(NULL, 5), INT64_MAX);
}

static void test_bad_names(void **state)
{
	struct {
		const char *name;
		const char *err;
	} cases[] = {
	    {"Mars/Base", "unknown time zone \"Mars/Base\""},
	    {"America/Nowhere", "unknown time zone \"America/Nowhere\""},
	    {"America", "unknown time zone \"America\""}, /* a directory */
	    {"", "invalid time zone name \"\": empty"},
	    {"../../etc/passwd", NULL},
	    {"/etc/passwd", NULL},
	    {"America/../../../etc/passwd", NULL},
	    {"America//New_York", NULL},
	    {"America/New_York/", NULL},
	    {"./UTC", NULL},
	    {"America/New York", NULL},
	    {"America/New_York\n", NULL},
	    {"Europe/Berlin;rm -rf", NULL},
	    {"..", NULL},
	    {"-rf", NULL},
	    {"Am\xc3\xa9rica/X", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct tz *z = (struct tz *)1;
		char err[256] = "";
		assert_int_equal(tz_load(cases[i].name, &z, err, sizeof(err)), -1);
		assert_null(z);
		if (cases[i].err)
			assert_string_equal(err, cases[i].err);
		else if (strncmp(err, "invalid time zone name \"", 24) != 0)
			fail_msg("%s: %s", cases[i].name, err);
		/* The message never carries control characters. */
		for (const char *p = err; *p; p++)
			assert_true((unsigned char)*p >= 0x20 && (unsigned char)*p < 0x7f);
	}
	char longname[400];
	memset(longname, 'A', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	struct tz *z = NULL;
	char err[64];
	assert_int_equal(tz_load(longname, &z, err, sizeof(err)), -1);
	assert_true(strlen(err) < sizeof(err));
	assert_int_equal(tz_load(NULL, &z, err, sizeof(err)), -1);
	/* err may be omitted. */
	assert_int_equal(tz_load("Mars/Base", &z, NULL, 0), -1);
	/* Not TZif files that live in the zoneinfo directory. */
	if (access("/usr/share/zoneinfo/zone.tab", R_OK) == 0) {
		char e2[256];
		assert_int_equal(tz_load("zone.tab", &z, e2, sizeof(e2)), -1);
		assert_non_null(strstr(e2, "zone.tab"));
	}
}

static unsigned char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	unsigned char *buf = malloc(1 << 16);
	assert_non_null(buf);
	*len = fread(buf, 1, 1 << 16, f);
	fclose(f);
	return buf;
}

static void test_tzdir_honoured(void **state)
{
	snprintf(tmp_root, sizeof(tmp_root), "/tmp/takt-tzdir-XXXXXX");
	assert_non_null(mkdtemp(tmp_root));
	char sub[128], path[160];
	snprintf(sub, sizeof(sub), "%s/Test", tmp_root);
	assert_int_equal(mkdir(sub, 0700), 0);
	snprintf(path, sizeof(path), "%s/Zone", sub);
	size_t len;
	unsigned char *data = read_all("/usr/share/zoneinfo/Asia/Kathmandu", &len);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	fclose(f);
	free(data);

	setenv("TZDIR", tmp_root, 1);
	struct tz *z = load("Test/Zone");
	assert_string_equal(tz_name(z), "Test/Zone");
	assert_int_equal(tz_offset_at(z, utc_of(2026, 1, 1, 0, 0, 0)), 5 * 3600 + 2700);
	tz_free(z);
	z = NULL;
	char err[256];
	assert_int_equal(tz_load("America/New_York", &z, err, sizeof(err)), -1);
	assert_string_equal(err, "unknown time zone \"America/New_York\"");
}

static void test_truncated_and_corrupt_files(void **state)
{
	size_t len;
	unsigned char *data = read_all("/usr/share/zoneinfo/America/New_York", &len);
	struct tz *z = NULL;
	char err[256];
	assert_int_equal(tz_load_from_memory("NY", data, len, &z, err, sizeof(err)), 0);
	assert_string_equal(tz_name(z), "NY");
	assert_int_equal(tz_offset_at(z, utc_of(2026, 7, 1, 0, 0, 0)), -4 * 3600);
	tz_free(z);

	/* Every proper prefix is refused (the footer's final newline is last). */
	for (size_t n = 0; n < len; n++) {
		z = (struct tz *)1;
		err[0] = '\0';
		unsigned char *copy = malloc(n ? n : 1); /* exact size: ASan sees overreads */
		memcpy(copy, data, n);
		if (tz_load_from_memory("NY", copy, n, &z, err, sizeof(err)) != -1)
			fail_msg("prefix of %zu bytes accepted", n);
		assert_null(z);
		assert_non_null(strstr(err, "corrupt TZif file for time zone \"NY\""));
		free(copy);
	}

	/* Flipped bytes: refused or loaded, never a crash; what loads answers. */
	srand(12345);
	unsigned char *copy = malloc(len);
	for (int iter = 0; iter < 3000; iter++) {
		memcpy(copy, data, len);
		int flips = 1 + rand() % 4;
		for (int k = 0; k < flips; k++)
			copy[rand() % len] ^= (unsigned char)(1 + rand() % 255);
		if (tz_load_from_memory("NY", copy, len, &z, err, sizeof(err)) == 0) {
			struct tz_mapping m;
			for (int64_t t = -4000000000LL; t < 8000000000LL; t += 99999937) {
				(void)tz_offset_at(z, t);
				tz_local_to_utc(z, t, &m);
				(void)tz_next_transition(z, t);
			}
			tz_free(z);
		} else {
			assert_null(z);
			assert_true(strlen(err) > 0);
		}
	}
	free(copy);

	/* Specific corruptions. */
	copy = malloc(len);
	memcpy(copy, data, len);
	copy[0] = 'X';
	assert_int_equal(tz_load_from_memory("NY", copy, len, &z, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a TZif file"));
	memcpy(copy, data, len);
	copy[len - 2] = '!'; /* footer rule "...M11.1.!" */
	assert_int_equal(tz_load_from_memory("NY", copy, len, &z, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "footer"));
	free(copy);
	assert_int_equal(tz_load_from_memory("x", NULL, 0, &z, err, sizeof(err)), -1);
	free(data);
}

/* ---- synthetic TZif images: footer rules against glibc's POSIX TZ ---- */

struct img {
	unsigned char b[4096];
	size_t n;
};

static void put32(struct img *im, uint32_t v)
{
	im->b[im->n++] = (unsigned char)(v >> 24);
	im->b[im->n++] = (unsigned char)(v >> 16);
	im->b[im->n++] = (unsigned char)(v >> 8);
	im->b[im->n++] = (unsigned char)v;
}

static void put_hdr(struct img *im, char version, uint32_t timecnt, uint32_t typecnt)
{
	memcpy(im->b + im->n, "TZif", 4);
	im->n += 4;
	im->b[im->n++] = (unsigned char)version;
	memset(im->b + im->n, 0, 15);
	im->n += 15;
	put32(im, 0);	    /* isutcnt */
	put32(im, 0);	    /* isstdcnt */
	put32(im, 0);	    /* leapcnt */
	put32(im, timecnt); /* timecnt */
	put32(im, typecnt); /* typecnt */
	put32(im, 4);	    /* charcnt */
}

/* A zone with transitions at times[i] to type idx[i], types with offsets
 * offs, and a footer (NULL: version 1, no footer). */
static void make_tzif(struct img *im, const int64_t *times, const unsigned char *idx, int nt,
		      const int32_t *offs, int ntypes, const char *footer)
{
	im->n = 0;
	char version = footer ? '2' : 0;
	for (int pass = 0; pass < (footer ? 2 : 1); pass++) {
		int wide = pass == 1;
		put_hdr(im, version, (uint32_t)nt, (uint32_t)ntypes);
		for (int i = 0; i < nt; i++) {
			if (wide)
				put32(im, (uint32_t)((uint64_t)times[i] >> 32));
			put32(im, (uint32_t)times[i]);
		}
		for (int i = 0; i < nt; i++)
			im->b[im->n++] = idx[i];
		for (int i = 0; i < ntypes; i++) {
			put32(im, (uint32_t)offs[i]);
			im->b[im->n++] = 0;
			im->b[im->n++] = 0;
		}
		memcpy(im->b + im->n, "ABC", 4);
		im->n += 4;
	}
	if (footer) {
		im->b[im->n++] = '\n';
		memcpy(im->b + im->n, footer, strlen(footer));
		im->n += strlen(footer);
		im->b[im->n++] = '\n';
	}
}

static void test_footer_rules_match_glibc(void **state)
{
	const char *rules[] = {
	    "EST5EDT,M3.2.0,M11.1.0",
	    "<+1030>-10:30<+11>-11,M10.1.0,M4.1.0",
	    "<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45",
	    "CET-1CEST,M3.5.0,M10.5.0/3",
	    "GMT0BST,M3.5.0/1,M10.5.0",
	    "IST-2IDT,M3.4.4/26,M10.5.0",      /* Israel: over 24h */
	    "<-02>2<-01>,M3.5.0/-1,M10.5.0/0", /* Greenland: negative */
	    "<-03>3<-02>,M3.5.0/-2,M10.5.0/-1",
	    "XXX3YYY,J60/2,J300/2",		  /* Jn: no Feb 29 */
	    "XXX-5YYY-6:30,59/1:30,300/23:59:59", /* n: zero-based, counts Feb 29 */
	    "NZST-12NZDT,M9.5.0,M4.1.0/3",
	    "<+0545>-5:45",
	    "AAA+3:15:30BBB+2,M1.1.0/100,M12.5.6/-100",
	};
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		struct img im;
		int32_t off0 = 0;
		make_tzif(&im, NULL, NULL, 0, &off0, 1, rules[i]);
		struct tz *z = NULL;
		char err[256];
		if (tz_load_from_memory(rules[i], im.b, im.n, &z, err, sizeof(err)) != 0)
			fail_msg("%s: %s", rules[i], err);
		use_glibc_zone(rules[i]);
		check_against_glibc(z, utc_of(1990, 1, 1, 0, 0, 0), utc_of(2060, 1, 1, 0, 0, 0),
				    3 * 3600 + 1799);
		check_against_glibc(z, utc_of(2390, 1, 1, 0, 0, 0), utc_of(2420, 1, 1, 0, 0, 0),
				    5 * 3600 + 1799);
		check_transitions_against_glibc(z, utc_of(2026, 1, 1, 0, 0, 0),
						utc_of(2030, 1, 1, 0, 0, 0));
		check_transitions_against_glibc(z, utc_of(2096, 1, 1, 0, 0, 0),
						utc_of(2104, 1, 1, 0, 0, 0));
		/* No transitions in the file: the rule governs the past too (glibc
		 * only applies TZ rules from 1970 on, so checked by hand). */
		if (i == 0) {
			assert_int_equal(tz_next_transition(z, utc_of(1900, 1, 1, 0, 0, 0)),
					 utc_of(1900, 3, 11, 7, 0, 0));
			assert_int_equal(tz_offset_at(z, utc_of(1066, 7, 1, 0, 0, 0)), -4 * 3600);
			assert_int_equal(tz_offset_at(z, utc_of(-3000, 12, 1, 0, 0, 0)), -5 * 3600);
		}
		tz_free(z);
	}
}

/* RFC 8536's idiom for DST all year. glibc evaluates it per year and shows
 * standard time for a few hours around New Year; tzcode and RFC 8536 say
 * DST throughout, as here. */
static void test_footer_all_year_dst(void **state)
{
	struct img im;
	int32_t off0 = -5 * 3600;
	make_tzif(&im, NULL, NULL, 0, &off0, 1, "EST5EDT,0/0,J365/25");
	struct tz *z = NULL;
	char err[256];
	assert_int_equal(tz_load_from_memory("dst", im.b, im.n, &z, err, sizeof(err)), 0);
	assert_int_equal(tz_next_transition(z, 0), INT64_MAX);
	for (int y = 1600; y < 2900; y += 7) {
		assert_int_equal(tz_offset_at(z, utc_of(y, 1, 1, 4, 0, 0)), -4 * 3600);
		assert_int_equal(tz_offset_at(z, utc_of(y, 1, 1, 3, 59, 59)), -4 * 3600);
		assert_int_equal(tz_offset_at(z, utc_of(y, 7, 1, 0, 0, 0)), -4 * 3600);
	}
	tz_free(z);

	/* DST without a rule: the US rules, as tzcode assumes (glibc reads its
	 * posixrules file instead, so no glibc comparison). */
	make_tzif(&im, NULL, NULL, 0, &off0, 1, "EST5EDT");
	assert_int_equal(tz_load_from_memory("us", im.b, im.n, &z, err, sizeof(err)), 0);
	assert_int_equal(tz_next_transition(z, utc_of(2026, 1, 1, 0, 0, 0)),
			 utc_of(2026, 3, 8, 7, 0, 0));
	assert_int_equal(tz_next_transition(z, utc_of(2026, 3, 8, 7, 0, 0)),
			 utc_of(2026, 11, 1, 6, 0, 0));
	tz_free(z);
}

static void test_footer_after_transitions_and_v1(void **state)
{
	/* Fixed +1 until 2030, then New York's rules. */
	int64_t times[] = {utc_of(2000, 1, 1, 0, 0, 0), utc_of(2030, 6, 1, 0, 0, 0)};
	unsigned char idx[] = {0, 1};
	int32_t offs[] = {3600, -4 * 3600};
	struct img im;
	make_tzif(&im, times, idx, 2, offs, 2, "EST5EDT,M3.2.0,M11.1.0");
	struct tz *z = NULL;
	char err[256];
	assert_int_equal(tz_load_from_memory("t", im.b, im.n, &z, err, sizeof(err)), 0);
	assert_int_equal(tz_offset_at(z, times[0] - 1), 3600);
	assert_int_equal(tz_offset_at(z, times[1] - 1), 3600);
	assert_int_equal(tz_offset_at(z, times[1]), -4 * 3600);
	assert_int_equal(tz_next_transition(z, times[1]), utc_of(2030, 11, 3, 6, 0, 0));
	assert_int_equal(tz_offset_at(z, utc_of(2031, 1, 1, 0, 0, 0)), -5 * 3600);
	assert_int_equal(tz_offset_at(z, utc_of(3031, 7, 1, 0, 0, 0)), -4 * 3600);
	tz_free(z);

	/* Version 1: 32-bit times, no footer: the last type holds for ever. */
	make_tzif(&im, times, idx, 2, offs, 2, NULL);
	assert_int_equal(tz_load_from_memory("v1", im.b, im.n, &z, err, sizeof(err)), 0);
	assert_int_equal(tz_offset_at(z, 0), 3600);
	assert_int_equal(tz_offset_at(z, utc_of(2100, 1, 1, 0, 0, 0)), -4 * 3600);
	assert_int_equal(tz_next_transition(z, times[1]), INT64_MAX);
	tz_free(z);

	/* Bad footers and bad fields are refused. */
	const char *bad[] = {"",
			     "E",
			     "EST",
			     "EST5EDT,M3.2.0",
			     "EST5EDT,M13.2.0,M11.1.0",
			     "EST5EDT,M3.6.0,M11.1.0",
			     "EST5EDT,M3.2.7,M11.1.0",
			     "EST25",
			     "EST5EDT,J0,J100",
			     "EST5EDT,366,1",
			     "EST5EDT,M3.2.0/168,M11.1.0",
			     "<EST5",
			     "EST5EDT,M3.2.0,M11.1.0x",
			     "EST5\x01"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		make_tzif(&im, times, idx, 2, offs, 2, bad[i]);
		z = (struct tz *)1;
		int rc = tz_load_from_memory("bad", im.b, im.n, &z, err, sizeof(err));
		if (bad[i][0] == '\0') {
			/* An empty footer is legal: no rule. */
			assert_int_equal(rc, 0);
			tz_free(z);
			continue;
		}
		if (rc != -1)
			fail_msg("footer \"%s\" accepted", bad[i]);
		assert_null(z);
	}

	/* Transitions out of order, a type index out of range, a wild offset. */
	int64_t rev[] = {times[1], times[0]};
	make_tzif(&im, rev, idx, 2, offs, 2, "");
	assert_int_equal(tz_load_from_memory("t", im.b, im.n, &z, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "ascending"));
	unsigned char bidx[] = {0, 2};
	make_tzif(&im, times, bidx, 2, offs, 2, "");
	assert_int_equal(tz_load_from_memory("t", im.b, im.n, &z, err, sizeof(err)), -1);
	int32_t woffs[] = {3600, 100000};
	make_tzif(&im, times, idx, 2, woffs, 2, "");
	assert_int_equal(tz_load_from_memory("t", im.b, im.n, &z, err, sizeof(err)), -1);
}

/* Queries are total: the int64 extremes neither overflow nor trap. */
static void test_extremes(void **state)
{
	for (size_t i = 0; i < NZONES; i++) {
		struct tz *z = load(zones[i]);
		int64_t xs[] = {INT64_MIN, INT64_MIN + 1, INT64_MAX - 1,
				INT64_MAX, INT64_MIN / 2, INT64_MAX / 2};
		for (size_t k = 0; k < sizeof(xs) / sizeof(xs[0]); k++) {
			int32_t o = tz_offset_at(z, xs[k]);
			assert_true(o > -86400 && o < 86400);
			(void)tz_utc_to_local(z, xs[k]);
			struct tz_mapping m;
			tz_local_to_utc(z, xs[k], &m);
			assert_true(m.kind == TZ_UNIQUE || m.kind == TZ_GAP ||
				    m.kind == TZ_OVERLAP);
			assert_true(tz_next_transition(z, xs[k]) > xs[k] || xs[k] == INT64_MAX);
		}
		assert_int_equal(tz_next_transition(z, INT64_MAX), INT64_MAX);
		tz_free(z);
	}
}

/* tz_load shares a zone loaded from the same file: one copy for every
 * schedule in it, freed with the last holder (valgrind: no leak). */
static void test_tz_load_shares_zones(void **state)
{
	(void)state;
	struct tz *a, *b, *c;
	char err[256];
	assert_int_equal(tz_load("Asia/Seoul", &a, err, sizeof(err)), 0);
	assert_int_equal(tz_load("Asia/Seoul", &b, err, sizeof(err)), 0);
	assert_int_equal(tz_load("America/New_York", &c, err, sizeof(err)), 0);
	assert_ptr_equal(a, b);
	assert_ptr_not_equal(a, c);
	tz_free(a);
	/* Still held by b. */
	assert_string_equal(tz_name(b), "Asia/Seoul");
	assert_int_equal(tz_offset_at(b, 0), 9 * 3600);
	tz_free(b);
	tz_free(c);
	/* Loaded again after the last holder freed it. */
	assert_int_equal(tz_load("Asia/Seoul", &a, err, sizeof(err)), 0);
	assert_int_equal(tz_offset_at(a, 0), 9 * 3600);
	tz_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_zones_match_glibc_1970_2037),
	    cmocka_unit_test(test_tz_load_shares_zones),
	    cmocka_unit_test(test_zone_transitions_match_glibc),
	    cmocka_unit_test(test_zones_match_glibc_far_future),
	    cmocka_unit_test(test_new_york_2026),
	    cmocka_unit_test(test_lord_howe_half_hour_dst),
	    cmocka_unit_test(test_chatham_and_kathmandu),
	    cmocka_unit_test(test_standard_offset_changes),
	    cmocka_unit_test(test_year_2100_from_footer),
	    cmocka_unit_test(test_local_to_utc_brute_force),
	    cmocka_unit_test(test_all_system_zones),
	    cmocka_unit_test_teardown(test_slim_zones_match_glibc, tmp_teardown),
	    cmocka_unit_test_teardown(test_utc_builtin, tzdir_teardown),
	    cmocka_unit_test(test_bad_names),
	    cmocka_unit_test_teardown(test_tzdir_honoured, tmp_teardown),
	    cmocka_unit_test(test_truncated_and_corrupt_files),
	    cmocka_unit_test(test_footer_rules_match_glibc),
	    cmocka_unit_test(test_footer_all_year_dst),
	    cmocka_unit_test(test_footer_after_transitions_and_v1),
	    cmocka_unit_test(test_extremes),
	};
	const char *tzdir = getenv("TZDIR");
	orig_tzdir = tzdir ? strdup(tzdir) : NULL;
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	free(orig_tzdir);
	return rc;
}
