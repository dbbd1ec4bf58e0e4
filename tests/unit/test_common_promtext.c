/* tests/unit/test_common_promtext.c — the Prometheus text format writer
 * (common/promtext.c): label values escaped as the format requires (\\,
 * \", \n), HELP escaped, histogram buckets cumulative and ending in
 * le="+Inf" equal to _count, _sum in base units, float spellings, and the
 * single-writer duration histogram's bucketing. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "common/promtext.h"

/* The buffer's text, NUL-terminated (the buffer keeps it). */
static const char *text(bytebuf_t *b)
{
    bytebuf_put_u8(b, 0);
    b->len--;
    return (const char *)bytebuf_head(b);
}

static void test_label_escaping(void **state)
{
    (void)state;
    char l[128] = "";
    assert_int_equal(promtext_label(l, sizeof l, "zone", "a\"b\\c\nd"), 0);
    assert_string_equal(l, "zone=\"a\\\"b\\\\c\\nd\"");
    assert_int_equal(promtext_label(l, sizeof l, "proto", "udp"), 0);
    assert_string_equal(l, "zone=\"a\\\"b\\\\c\\nd\",proto=\"udp\"");
}

static void test_label_too_long_leaves_labels_alone(void **state)
{
    (void)state;
    char l[16] = "";
    assert_int_equal(promtext_label(l, sizeof l, "a", "b"), 0);
    assert_int_equal(promtext_label(l, sizeof l, "name", "a long value"), -1);
    assert_string_equal(l, "a=\"b\"");
    /* Escapes count: 7 quotes need 14 bytes. */
    char m[16] = "";
    assert_int_equal(promtext_label(m, sizeof m, "z", "\"\"\"\"\"\"\""), -1);
    assert_string_equal(m, "");
}

static void test_family_and_samples(void **state)
{
    (void)state;
    bytebuf_t b = { 0 };
    promtext_family(&b, "x_total", "Line one\\two\nthree.", PROM_COUNTER);
    promtext_sample_u64(&b, "x_total", NULL, 18446744073709551615ull);
    promtext_sample_i64(&b, "x_total", "", -3);
    promtext_sample_f64(&b, "x_total", "k=\"v\"", 0.1);
    promtext_sample_f64(&b, "x_total", NULL, INFINITY);
    promtext_sample_f64(&b, "x_total", NULL, -INFINITY);
    promtext_sample_f64(&b, "x_total", NULL, NAN);
    assert_false(b.failed);
    assert_string_equal(text(&b), "# HELP x_total Line one\\\\two\\nthree.\n"
                                  "# TYPE x_total counter\n"
                                  "x_total 18446744073709551615\n"
                                  "x_total -3\n"
                                  "x_total{k=\"v\"} 0.1\n"
                                  "x_total +Inf\n"
                                  "x_total -Inf\n"
                                  "x_total NaN\n");
    bytebuf_free(&b);
}

static void test_histogram_cumulative_with_inf(void **state)
{
    (void)state;
    bytebuf_t b = { 0 };
    const double bounds[3] = { 0.5, 1, 2.5 };
    const uint64_t counts[4] = { 1, 0, 3, 2 }; /* per bucket; 2 above 2.5 */
    promtext_histogram(&b, "h_seconds", "p=\"udp\"", bounds, counts, 3, 12.25);
    assert_string_equal(text(&b), "h_seconds_bucket{p=\"udp\",le=\"0.5\"} 1\n"
                                  "h_seconds_bucket{p=\"udp\",le=\"1\"} 1\n"
                                  "h_seconds_bucket{p=\"udp\",le=\"2.5\"} 4\n"
                                  "h_seconds_bucket{p=\"udp\",le=\"+Inf\"} 6\n"
                                  "h_seconds_sum{p=\"udp\"} 12.25\n"
                                  "h_seconds_count{p=\"udp\"} 6\n");
    bytebuf_free(&b);
}

static void test_histogram_without_labels(void **state)
{
    (void)state;
    bytebuf_t b = { 0 };
    const double bounds[1] = { 0 };
    const uint64_t counts[2] = { 0, 0 };
    promtext_histogram(&b, "h", NULL, bounds, counts, 1, 0);
    assert_string_equal(text(&b), "h_bucket{le=\"0\"} 0\nh_bucket{le=\"+Inf\"} 0\n"
                                  "h_sum 0\nh_count 0\n");
    bytebuf_free(&b);
}

static void test_duration_hist_buckets(void **state)
{
    (void)state;
    prom_duration_hist_t h;
    memset(&h, 0, sizeof h);
    prom_duration_observe(&h, 1000000);       /* exactly 1 ms: le="0.001" */
    prom_duration_observe(&h, 1000001);       /* just above: le="0.002" */
    prom_duration_observe(&h, 3000000);       /* le="0.004" */
    prom_duration_observe(&h, 9000000000ull); /* above 8.192 s: +Inf only */
    bytebuf_t b = { 0 };
    promtext_duration_hist(&b, "d_seconds", NULL, &h);
    const char *t = text(&b);
    assert_non_null(strstr(t, "d_seconds_bucket{le=\"0.001\"} 1\n"));
    assert_non_null(strstr(t, "d_seconds_bucket{le=\"0.002\"} 2\n"));
    assert_non_null(strstr(t, "d_seconds_bucket{le=\"0.004\"} 3\n"));
    assert_non_null(strstr(t, "d_seconds_bucket{le=\"8.192\"} 3\n"));
    assert_non_null(strstr(t, "d_seconds_bucket{le=\"+Inf\"} 4\n"));
    assert_non_null(strstr(t, "d_seconds_sum 9.005000001\n"));
    assert_non_null(strstr(t, "d_seconds_count 4\n"));
    bytebuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_label_too_long_leaves_labels_alone),
        cmocka_unit_test(test_family_and_samples),
        cmocka_unit_test(test_histogram_cumulative_with_inf),
        cmocka_unit_test(test_histogram_without_labels),
        cmocka_unit_test(test_duration_hist_buckets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
