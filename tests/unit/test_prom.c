/* Unit tests for pkg/metrics/prom: the text exposition format, byte for
 * byte (escaping, integers, histograms cumulative with +Inf, _sum, _count). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "metrics/prom.h"

static void test_family_and_samples(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, BUF_UNLIMITED);
	prom_family(&b, "takt_x_total", "counter", "Runs, by \\ result.\nSecond line.");
	prom_sample(&b, "takt_x_total", NULL, 3);
	prom_sample(&b, "takt_x_total",
		    (const char *[]){"namespace", "a\"b", "schedule", "c\\d\ne", NULL}, 0.25);
	assert_string_equal(buf_str(&b),
			    "# HELP takt_x_total Runs, by \\\\ result.\\nSecond line.\n"
			    "# TYPE takt_x_total counter\n"
			    "takt_x_total 3\n"
			    "takt_x_total{namespace=\"a\\\"b\",schedule=\"c\\\\d\\ne\"} 0.25\n");
	buf_release(&b);
}

static void test_histogram(void **state)
{
	(void)state;
	static const double bounds[] = {0.001, 0.01, 1};
	struct prom_histogram h;
	prom_histogram_init(&h, bounds, 3);
	prom_histogram_observe(&h, 0.0005);
	prom_histogram_observe(&h, 0.001); /* le is inclusive */
	prom_histogram_observe(&h, 0.5);
	prom_histogram_observe(&h, 7);
	struct buf b;
	buf_init(&b, BUF_UNLIMITED);
	prom_histogram_write(&b, "takt_lag_seconds", (const char *[]){"k", "v", NULL}, &h);
	assert_string_equal(buf_str(&b), "takt_lag_seconds_bucket{k=\"v\",le=\"0.001\"} 2\n"
					 "takt_lag_seconds_bucket{k=\"v\",le=\"0.01\"} 2\n"
					 "takt_lag_seconds_bucket{k=\"v\",le=\"1\"} 3\n"
					 "takt_lag_seconds_bucket{k=\"v\",le=\"+Inf\"} 4\n"
					 "takt_lag_seconds_sum{k=\"v\"} 7.5015\n"
					 "takt_lag_seconds_count{k=\"v\"} 4\n");
	buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_family_and_samples),
	    cmocka_unit_test(test_histogram),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
