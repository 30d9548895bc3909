/* libFuzzer target for the business-day table's CSV parser
 * (pkg/calendar/calendar.c).
 *
 * The input is the table. Parsing must either fail with a bounded,
 * printable message or build a calendar whose queries agree with each
 * other: next/previous business day against the per-day answers, the n-th
 * business day of a month against its rank (fuzz_calendar_common.h, shared
 * with fuzz_calendar_spec.c). Any disagreement aborts.
 */
#include <stddef.h>
#include <stdint.h>

#include "calendar/calendar.h"
#include "fuzz_calendar_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
