/* The Prometheus text format; see prom.h. */
#include "metrics/prom.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/banned.h"

void prom_family(struct buf *b, const char *name, const char *type, const char *help)
{
	/* HELP escapes only \ and newline. */
	buf_addf(b, "# HELP %s ", name);
	for (const char *p = help; *p; p++) {
		if (*p == '\\')
			buf_addf(b, "\\\\");
		else if (*p == '\n')
			buf_addf(b, "\\n");
		else
			buf_add(b, p, 1);
	}
	buf_addf(b, "\n# TYPE %s %s\n", name, type);
}

static void label_value(struct buf *b, const char *v)
{
	for (const char *p = v ? v : ""; *p; p++) {
		if (*p == '\\')
			buf_addf(b, "\\\\");
		else if (*p == '"')
			buf_addf(b, "\\\"");
		else if (*p == '\n')
			buf_addf(b, "\\n");
		else
			buf_add(b, p, 1);
	}
}

static void labels_write(struct buf *b, const char *const *labels, const char *le)
{
	bool any = (labels && labels[0]) || le;
	if (!any)
		return;
	buf_addf(b, "{");
	const char *sep = "";
	for (size_t i = 0; labels && labels[i] && labels[i + 1]; i += 2) {
		buf_addf(b, "%s%s=\"", sep, labels[i]);
		label_value(b, labels[i + 1]);
		buf_addf(b, "\"");
		sep = ",";
	}
	if (le)
		buf_addf(b, "%sle=\"%s\"", sep, le);
	buf_addf(b, "}");
}

static void value_write(struct buf *b, double v)
{
	if (isnan(v))
		buf_addf(b, " NaN\n");
	else if (isinf(v))
		buf_addf(b, " %s\n", v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 9007199254740992.0)
		buf_addf(b, " %.0f\n", v);
	else
		buf_addf(b, " %.9g\n", v);
}

void prom_sample(struct buf *b, const char *name, const char *const *labels, double value)
{
	buf_addf(b, "%s", name);
	labels_write(b, labels, NULL);
	value_write(b, value);
}

void prom_histogram_init(struct prom_histogram *h, const double *bounds, size_t n)
{
	memset(h, 0, sizeof(*h));
	h->n = n < PROM_MAX_BUCKETS ? n : PROM_MAX_BUCKETS;
	memcpy(h->bounds, bounds, h->n * sizeof(*bounds));
}

void prom_histogram_observe(struct prom_histogram *h, double v)
{
	h->count++;
	h->sum += v;
	for (size_t i = 0; i < h->n; i++)
		if (v <= h->bounds[i]) {
			h->counts[i]++;
			return;
		}
}

void prom_histogram_write(struct buf *b, const char *name, const char *const *labels,
			  const struct prom_histogram *h)
{
	uint64_t cum = 0;
	char le[32];
	for (size_t i = 0; i < h->n; i++) {
		cum += h->counts[i];
		snprintf(le, sizeof(le), "%g", h->bounds[i]);
		buf_addf(b, "%s_bucket", name);
		labels_write(b, labels, le);
		value_write(b, (double)cum);
	}
	buf_addf(b, "%s_bucket", name);
	labels_write(b, labels, "+Inf");
	value_write(b, (double)h->count);
	buf_addf(b, "%s_sum", name);
	labels_write(b, labels, NULL);
	value_write(b, h->sum);
	buf_addf(b, "%s_count", name);
	labels_write(b, labels, NULL);
	value_write(b, (double)h->count);
}
