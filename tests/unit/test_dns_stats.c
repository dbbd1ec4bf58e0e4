/* tests/unit/test_dns_stats.c — the DNS server's per-thread counters
 * (dns/stats.c): a response is counted by its query's QTYPE (named, or
 * "other"), its RCODE, TC and size bucket; slots are summed at scrape; each slot sits
 * on cache lines of its own; drops by reason. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/stats.h"

/* A response header + question "www.example." with the given type. */
static size_t make_response(uint8_t *p, uint16_t qtype, uint8_t rcode, bool tc, size_t pad)
{
    static const uint8_t q[] = { 3, 'w', 'w', 'w', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0 };
    memset(p, 0, 12 + sizeof q + 4 + pad);
    p[2] = (uint8_t)(0x84 | (tc ? 0x02 : 0));
    p[3] = rcode;
    p[5] = 1; /* QDCOUNT */
    memcpy(p + 12, q, sizeof q);
    p[12 + sizeof q] = (uint8_t)(qtype >> 8);
    p[13 + sizeof q] = (uint8_t)qtype;
    p[15 + sizeof q] = 1; /* IN */
    return 12 + sizeof q + 4 + pad;
}

static char *scrape(dns_stats_t *s)
{
    bytebuf_t b = { 0 };
    dns_stats_write(s, &b);
    bytebuf_put_u8(&b, 0);
    assert_false(b.failed);
    size_t len;
    return (char *)bytebuf_take(&b, &len);
}

static void expect_line(const char *text, const char *line)
{
    char want[256];
    snprintf(want, sizeof want, "\n%s\n", line);
    if (strstr(text, want) == NULL)
        fail_msg("missing line: %s", line);
}

static void test_counts_type_rcode_tc_size_across_slots(void **state)
{
    (void)state;
    dns_stats_t *s = dns_stats_new(3);
    assert_non_null(s);
    uint8_t r[600];
    size_t len = make_response(r, 28, 0, false, 0); /* AAAA NOERROR, 29 bytes */
    dns_stats_response(dns_stats_slot(s, 0), DNS_STATS_UDP, 28, r, len);
    dns_stats_response(dns_stats_slot(s, 1), DNS_STATS_UDP, 28, r, len);
    len = make_response(r, 99, 3, true, 500); /* type 99 NXDOMAIN TC, 529 bytes */
    dns_stats_response(dns_stats_slot(s, 2), DNS_STATS_TCP, 99, r, len);
    dns_stats_drop(dns_stats_slot(s, 1), DNS_STATS_UDP, DNS_DROP_MALFORMED);
    dns_stats_drop(dns_stats_slot(s, 0), DNS_STATS_UDP, DNS_DROP_RRL);
    char *t = scrape(s);
    expect_line(t, "dnsraft_dns_requests_total{proto=\"udp\",type=\"AAAA\"} 2");
    expect_line(t, "dnsraft_dns_requests_total{proto=\"udp\",type=\"A\"} 0");
    expect_line(t, "dnsraft_dns_requests_total{proto=\"tcp\",type=\"other\"} 1");
    expect_line(t, "dnsraft_dns_responses_total{proto=\"udp\",rcode=\"NOERROR\"} 2");
    expect_line(t, "dnsraft_dns_responses_total{proto=\"tcp\",rcode=\"NXDOMAIN\"} 1");
    expect_line(t, "dnsraft_dns_truncated_total{proto=\"tcp\"} 1");
    expect_line(t, "dnsraft_dns_truncated_total{proto=\"udp\"} 0");
    expect_line(t, "dnsraft_dns_response_size_bytes_bucket{proto=\"udp\",le=\"0\"} 0");
    expect_line(t, "dnsraft_dns_response_size_bytes_bucket{proto=\"udp\",le=\"100\"} 2");
    expect_line(t, "dnsraft_dns_response_size_bytes_bucket{proto=\"udp\",le=\"+Inf\"} 2");
    expect_line(t, "dnsraft_dns_response_size_bytes_sum{proto=\"udp\"} 58");
    expect_line(t, "dnsraft_dns_response_size_bytes_bucket{proto=\"tcp\",le=\"511\"} 0");
    expect_line(t, "dnsraft_dns_response_size_bytes_bucket{proto=\"tcp\",le=\"1023\"} 1");
    expect_line(t, "dnsraft_dns_response_size_bytes_count{proto=\"tcp\"} 1");
    expect_line(t, "dnsraft_dns_dropped_total{proto=\"udp\",reason=\"malformed\"} 1");
    expect_line(t, "dnsraft_dns_dropped_total{proto=\"udp\",reason=\"rrl\"} 1");
    free(t);
    dns_stats_free(s);
}

static void test_types_by_name_and_other(void **state)
{
    (void)state;
    dns_stats_t *s = dns_stats_new(1);
    uint8_t r[64];
    size_t len = make_response(r, 1, 1, false, 0);
    dns_stats_slot_t *slot = dns_stats_slot(s, 0);
    dns_stats_response(slot, DNS_STATS_UDP, -1, r, len); /* the question did not parse */
    dns_stats_response(slot, DNS_STATS_UDP, 0, r, len);
    dns_stats_response(slot, DNS_STATS_UDP, 256, r, len);
    dns_stats_response(slot, DNS_STATS_UDP, 65535, r, len);
    dns_stats_response(slot, DNS_STATS_UDP, 257, r, len);
    dns_stats_response(slot, DNS_STATS_UDP, 255, r, len);
    dns_stats_response(slot, DNS_STATS_UDP, 1, r, 11); /* not even a header: not counted */
    dns_stats_response(NULL, DNS_STATS_UDP, 1, r, len); /* metrics off */
    char *t = scrape(s);
    expect_line(t, "dnsraft_dns_requests_total{proto=\"udp\",type=\"other\"} 4");
    expect_line(t, "dnsraft_dns_requests_total{proto=\"udp\",type=\"CAA\"} 1");
    expect_line(t, "dnsraft_dns_requests_total{proto=\"udp\",type=\"ANY\"} 1");
    expect_line(t, "dnsraft_dns_requests_total{proto=\"udp\",type=\"A\"} 0");
    expect_line(t, "dnsraft_dns_responses_total{proto=\"udp\",rcode=\"FORMERR\"} 6");
    free(t);
    dns_stats_free(s);
}

/* No two threads' counters share a cache line. */
static void test_slots_on_their_own_cache_lines(void **state)
{
    (void)state;
    assert_int_equal(sizeof(dns_stats_slot_t) % 64, 0);
    dns_stats_t *s = dns_stats_new(4);
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal((uintptr_t)dns_stats_slot(s, i) % 64, 0);
    dns_stats_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_type_rcode_tc_size_across_slots),
        cmocka_unit_test(test_types_by_name_and_other),
        cmocka_unit_test(test_slots_on_their_own_cache_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
