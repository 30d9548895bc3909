/* The Prometheus text exposition format (version 0.0.4), written by hand:
 * no maintained C client exists (prometheus-client-c is unmaintained since
 * 2020 and not in Debian), and what takt needs is small: families with HELP
 * and TYPE, samples with escaped label values, and histograms with fixed
 * buckets. The owner renders its metrics on each scrape from its own state
 * (a collector, not a registry: nothing is kept twice).
 *
 *   prom_family(b, "takt_runs_total", "counter", "Runs started, by result.");
 *   prom_sample(b, "takt_runs_total", (const char *[]){"result", "failed", NULL}, 3);
 *
 * Names must match [a-zA-Z_:][a-zA-Z0-9_:]* (the caller's constants);
 * label values are escaped (\\, \", \n). Ownership: everything is appended
 * to the caller's buffer; struct prom_histogram is the caller's.
 */
#ifndef TAKT_METRICS_PROM_H
#define TAKT_METRICS_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define PROM_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

void prom_family(struct buf *b, const char *name, const char *type, const char *help);
/* labels: NULL, or name/value pairs ending with NULL. */
void prom_sample(struct buf *b, const char *name, const char *const *labels, double value);

/* A histogram with fixed upper bounds (seconds, ascending; +Inf added). */
#define PROM_MAX_BUCKETS 24
struct prom_histogram {
	size_t n;
	double bounds[PROM_MAX_BUCKETS];
	uint64_t counts[PROM_MAX_BUCKETS]; /* per bucket, not cumulative */
	uint64_t count;			   /* all observations (+Inf) */
	double sum;
};
void prom_histogram_init(struct prom_histogram *h, const double *bounds, size_t n);
void prom_histogram_observe(struct prom_histogram *h, double v);
/* The _bucket (cumulative, with le), _sum and _count samples; labels as
 * prom_sample (le is added). The family line is the caller's. */
void prom_histogram_write(struct buf *b, const char *name, const char *const *labels,
			  const struct prom_histogram *h);

#endif
