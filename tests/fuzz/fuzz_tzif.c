/* libFuzzer target for the pkg/tz parsers: TZif images, the POSIX TZ footer
 * rule, RFC 3339 and dates.
 *
 * The first byte modulo 3 chooses what the rest is (so the text seeds in
 * corpus/tzif start with an ASCII '1' or '2'):
 *   0: a whole TZif image;
 *   1: a footer rule, wrapped in a minimal TZif v2 image (so the rule parser
 *      and the 400-year expansion are reached without the fuzzer having to
 *      build a valid header first);
 *   2: an RFC 3339 timestamp and a YYYY-MM-DD date.
 * A zone that loads is queried at many instants and must keep its promises:
 * local_to_utc answers map back to the reading, OVERLAP instants ascend, a
 * gap's end is a transition that jumps over the reading, next_transition
 * moves forward. Any broken promise aborts.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tz/civil.h"
#include "tz/tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_zone(const struct tz *z)
{
	static const int64_t probes[] = {
	    INT64_MIN,
	    INT64_MIN + 1,
	    -(INT64_C(1) << 59),
	    -2208988800,
	    -1,
	    0,
	    1,
	    1000000000,
	    1772953200,
	    1793512800,
	    2147483647,
	    4102444800,
	    9999999999LL,
	    253402300799,
	    INT64_C(1) << 40,
	    INT64_MAX - 1,
	    INT64_MAX,
	};
	for (size_t i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		int64_t t = probes[i];
		int32_t off = tz_offset_at(z, t);
		if (off < -89999 || off > 93599)
			abort();
		int64_t next = tz_next_transition(z, t);
		if (next <= t && t != INT64_MAX)
			abort();
		if (next != INT64_MAX && next - 1 > t && tz_offset_at(z, next - 1) != off)
			abort(); /* the offset changed before the "next" transition */

		/* The reading at t and a few around it map back. */
		int64_t local = tz_utc_to_local(z, t);
		for (int64_t d = -7200; d <= 7200; d += 1800) {
			if ((d > 0 && local > INT64_MAX - d) || (d < 0 && local < INT64_MIN - d))
				continue;
			int64_t l = local + d;
			struct tz_mapping m;
			tz_local_to_utc(z, l, &m);
			/* Near the ends of the range results saturate: no promise. */
			if (l < INT64_MIN / 2 || l > INT64_MAX / 2)
				continue;
			switch (m.kind) {
			case TZ_UNIQUE:
				if (tz_utc_to_local(z, m.utc[0]) != l)
					abort();
				break;
			case TZ_OVERLAP:
				if (m.utc[0] >= m.utc[1] || tz_utc_to_local(z, m.utc[0]) != l ||
				    tz_utc_to_local(z, m.utc[1]) != l)
					abort();
				break;
			case TZ_GAP:
				if (tz_utc_to_local(z, m.gap_end) <= l ||
				    tz_utc_to_local(z, m.gap_end - 1) >= l)
					abort();
				break;
			default:
				abort();
			}
		}
	}
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* header(44) + one type (6) + "UTC\0", twice, then "\n<rule>\n". */
static size_t wrap_rule(const uint8_t *rule, size_t n, uint8_t *out)
{
	size_t k = 0;
	for (int pass = 0; pass < 2; pass++) {
		memset(out + k, 0, 54);
		memcpy(out + k, "TZif2", 5);
		put32(out + k + 36, 1); /* typecnt */
		put32(out + k + 40, 4); /* charcnt */
		memcpy(out + k + 50, "UTC", 4);
		k += 54;
	}
	out[k++] = '\n';
	memcpy(out + k, rule, n);
	k += n;
	out[k++] = '\n';
	return k;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0] % 3;
	data++;
	size--;
	struct tz *z = NULL;
	char err[128];
	if (mode == 0) {
		if (tz_load_from_memory("fuzz", data, size, &z, err, sizeof(err)) == 0) {
			check_zone(z);
			tz_free(z);
		} else if (z != NULL || err[0] == '\0') {
			abort();
		}
	} else if (mode == 1) {
		if (size > 256)
			return 0;
		uint8_t img[2 * 54 + 2 + 256];
		size_t n = wrap_rule(data, size, img);
		if (tz_load_from_memory("rule", img, n, &z, err, sizeof(err)) == 0) {
			check_zone(z);
			tz_free(z);
		}
	} else {
		if (size > 64)
			return 0;
		char s[65];
		memcpy(s, data, size);
		s[size] = '\0';
		int64_t ms;
		if (rfc3339_parse(s, &ms) == 0) {
			/* What parses formats and parses back to the same instant
			 * (the offset is gone, the instant is not). */
			char b[32];
			if (rfc3339_format(ms, true, b, sizeof(b)) == 24) {
				int64_t back;
				if (rfc3339_parse(b, &back) != 0 || back != ms)
					abort();
			}
		}
		int64_t days;
		if (civil_parse_date(s, size, &days) == 0) {
			char b[11];
			if (civil_format_date(days, b, sizeof(b)) != 10 || memcmp(b, s, 10) != 0)
				abort();
		}
	}
	return 0;
}
