/* common/promtext.h — writes the Prometheus text exposition format
 * (version 0.0.4, https://prometheus.io/docs/instrumenting/exposition_formats/)
 * into a growable buffer: a family's # HELP and # TYPE lines, samples with
 * escaped label values, and histograms (cumulative _bucket lines ending in
 * le="+Inf", then _sum and _count).
 *
 * Pure formatting: no I/O, no locks; the caller gathers the numbers. An
 * allocation failure is remembered in the buffer (bytebuf_t.failed) and
 * every later write is a no-op, so callers check once at the end.
 *
 * Labels are given as one string of `name="value"` pairs built with
 * promtext_label(), which escapes the value (\\, \" and \n, as the format
 * requires); label names are the caller's constants. */
#ifndef COMMON_PROMTEXT_H
#define COMMON_PROMTEXT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bytebuf.h"

enum promtext_type { PROM_COUNTER, PROM_GAUGE, PROM_HISTOGRAM };

/* Appends `name="escaped value"` to labels (cap bytes, NUL-terminated),
 * with a comma first when labels is not empty. Returns 0, or -1 when it
 * does not fit (labels is then left as it was). */
int promtext_label(char *labels, size_t cap, const char *name, const char *value);

/* # HELP name help \n # TYPE name type. help is escaped (\\ and \n). */
void promtext_family(bytebuf_t *b, const char *name, const char *help, enum promtext_type type);
/* name{labels} value \n (no braces when labels is NULL or ""). */
void promtext_sample_u64(bytebuf_t *b, const char *name, const char *labels, uint64_t value);
void promtext_sample_i64(bytebuf_t *b, const char *name, const char *labels, int64_t value);
void promtext_sample_f64(bytebuf_t *b, const char *name, const char *labels, double value);

/* One histogram series: n upper bounds in increasing order with the count
 * of observations in each bucket alone (counts[i]: bound[i-1] < v <=
 * bound[i]; counts[n]: above the last bound). Written cumulative, with
 * le="+Inf" equal to _count. sum is in the metric's base unit. */
void promtext_histogram(bytebuf_t *b, const char *name, const char *labels, const double *bounds,
                        const uint64_t *counts, size_t n, double sum);

/* ---- single-writer counters and histograms ------------------------------
 * For figures one thread updates and a scrape reads from another: the
 * writer does a relaxed load and store (no locked instruction), readers a
 * relaxed load. Never two writers on one of these. */
typedef _Atomic uint64_t prom_counter_t;

static inline void prom_add(prom_counter_t *c, uint64_t n)
{
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
                          memory_order_relaxed);
}
static inline uint64_t prom_get(const prom_counter_t *c)
{
    return atomic_load_explicit((prom_counter_t *)c, memory_order_relaxed);
}

/* A duration histogram with etcd's buckets for disk latencies
 * (exponential from 1 ms, doubling, 14 bounds: 1 ms .. 8.192 s). */
enum { PROM_DURATION_BOUNDS = 14 };
typedef struct prom_duration_hist {
    prom_counter_t counts[PROM_DURATION_BOUNDS + 1];
    prom_counter_t sum_ns;
} prom_duration_hist_t;

void prom_duration_observe(prom_duration_hist_t *h, uint64_t ns);
/* Writes h as histogram `name` in seconds (family lines not included). */
void promtext_duration_hist(bytebuf_t *b, const char *name, const char *labels,
                            const prom_duration_hist_t *h);

#endif
