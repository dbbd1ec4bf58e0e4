/* common/promtext.c — the Prometheus text exposition format writer (see
 * promtext.h). */
#include "common/promtext.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_str(bytebuf_t *b, const char *s)
{
    bytebuf_put(b, s, strlen(s));
}

static void put_fmt(bytebuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put_fmt(bytebuf_t *b, const char *fmt, ...)
{
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        bytebuf_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

int promtext_label(char *labels, size_t cap, const char *name, const char *value)
{
    size_t len = strnlen(labels, cap);
    size_t at = len;
    if (at >= cap)
        return -1;
    char *out = labels;
#define PUT(ch)                                                                                   \
    do {                                                                                          \
        if (at + 1 >= cap) {                                                                      \
            labels[len] = '\0';                                                                   \
            return -1;                                                                            \
        }                                                                                         \
        out[at++] = (ch);                                                                         \
    } while (0)
    if (len > 0)
        PUT(',');
    for (const char *p = name; *p; p++)
        PUT(*p);
    PUT('=');
    PUT('"');
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"') {
            PUT('\\');
            PUT(*p);
        } else if (*p == '\n') {
            PUT('\\');
            PUT('n');
        } else {
            PUT(*p);
        }
    }
    PUT('"');
#undef PUT
    out[at] = '\0';
    return 0;
}

static const char *type_name(enum promtext_type t)
{
    switch (t) {
    case PROM_COUNTER: return "counter";
    case PROM_GAUGE: return "gauge";
    case PROM_HISTOGRAM: return "histogram";
    }
    return "untyped";
}

void promtext_family(bytebuf_t *b, const char *name, const char *help, enum promtext_type type)
{
    put_str(b, "# HELP ");
    put_str(b, name);
    bytebuf_put_u8(b, ' ');
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            put_str(b, "\\\\");
        else if (*p == '\n')
            put_str(b, "\\n");
        else
            bytebuf_put_u8(b, (uint8_t)*p);
    }
    put_str(b, "\n# TYPE ");
    put_str(b, name);
    bytebuf_put_u8(b, ' ');
    put_str(b, type_name(type));
    bytebuf_put_u8(b, '\n');
}

static void put_series(bytebuf_t *b, const char *name, const char *labels)
{
    put_str(b, name);
    if (labels && *labels) {
        bytebuf_put_u8(b, '{');
        put_str(b, labels);
        bytebuf_put_u8(b, '}');
    }
    bytebuf_put_u8(b, ' ');
}

void promtext_sample_u64(bytebuf_t *b, const char *name, const char *labels, uint64_t value)
{
    put_series(b, name, labels);
    put_fmt(b, "%llu\n", (unsigned long long)value);
}

void promtext_sample_i64(bytebuf_t *b, const char *name, const char *labels, int64_t value)
{
    put_series(b, name, labels);
    put_fmt(b, "%lld\n", (long long)value);
}

/* The shortest of %.15g and %.17g that reads back as v (0.1, not
 * 0.10000000000000001), or Go's ParseFloat spellings, which Prometheus
 * reads: +Inf, -Inf, NaN. */
static void format_f64(char out[40], double v)
{
    if (isnan(v)) {
        snprintf(out, 40, "NaN");
    } else if (isinf(v)) {
        snprintf(out, 40, "%s", v > 0 ? "+Inf" : "-Inf");
    } else {
        snprintf(out, 40, "%.15g", v);
        if (strtod(out, NULL) != v)
            snprintf(out, 40, "%.17g", v);
    }
}

static void put_f64(bytebuf_t *b, double v)
{
    char tmp[40];
    format_f64(tmp, v);
    put_str(b, tmp);
}

void promtext_sample_f64(bytebuf_t *b, const char *name, const char *labels, double value)
{
    put_series(b, name, labels);
    put_f64(b, value);
    bytebuf_put_u8(b, '\n');
}

/* name_bucket{labels,le="bound"} cumulative */
static void put_bucket(bytebuf_t *b, const char *name, const char *labels, const char *le,
                       uint64_t cumulative)
{
    put_str(b, name);
    put_str(b, "_bucket{");
    if (labels && *labels) {
        put_str(b, labels);
        bytebuf_put_u8(b, ',');
    }
    put_str(b, "le=\"");
    put_str(b, le);
    put_fmt(b, "\"} %llu\n", (unsigned long long)cumulative);
}

static void put_suffixed(bytebuf_t *b, const char *name, const char *suffix, const char *labels)
{
    put_str(b, name);
    put_str(b, suffix);
    if (labels && *labels) {
        bytebuf_put_u8(b, '{');
        put_str(b, labels);
        bytebuf_put_u8(b, '}');
    }
    bytebuf_put_u8(b, ' ');
}

void promtext_histogram(bytebuf_t *b, const char *name, const char *labels, const double *bounds,
                        const uint64_t *counts, size_t n, double sum)
{
    uint64_t cumulative = 0;
    for (size_t i = 0; i < n; i++) {
        char le[40];
        format_f64(le, bounds[i]);
        cumulative += counts[i];
        put_bucket(b, name, labels, le, cumulative);
    }
    cumulative += counts[n];
    put_bucket(b, name, labels, "+Inf", cumulative);
    put_suffixed(b, name, "_sum", labels);
    put_f64(b, sum);
    bytebuf_put_u8(b, '\n');
    put_suffixed(b, name, "_count", labels);
    put_fmt(b, "%llu\n", (unsigned long long)cumulative);
}

/* ---- duration histograms -------------------------------------------------- */

void prom_duration_observe(prom_duration_hist_t *h, uint64_t ns)
{
    uint64_t bound_ns = 1000000; /* 1 ms */
    unsigned i = 0;
    while (i < PROM_DURATION_BOUNDS && ns > bound_ns) {
        bound_ns *= 2;
        i++;
    }
    prom_add(&h->counts[i], 1);
    prom_add(&h->sum_ns, ns);
}

void promtext_duration_hist(bytebuf_t *b, const char *name, const char *labels,
                            const prom_duration_hist_t *h)
{
    double bounds[PROM_DURATION_BOUNDS];
    uint64_t counts[PROM_DURATION_BOUNDS + 1];
    double bound = 0.001;
    for (unsigned i = 0; i < PROM_DURATION_BOUNDS; i++, bound *= 2)
        bounds[i] = bound;
    for (unsigned i = 0; i <= PROM_DURATION_BOUNDS; i++)
        counts[i] = prom_get(&h->counts[i]);
    promtext_histogram(b, name, labels, bounds, counts, PROM_DURATION_BOUNDS,
                       (double)prom_get(&h->sum_ns) / 1e9);
}
