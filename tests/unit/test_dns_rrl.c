/* tests/unit/test_dns_rrl.c — response rate limiting (dns/rrl.c) alone,
 * with a fixed clock and seed: the rate per bucket, the slip (0, 1, N),
 * sources grouped by prefix (IPv4 /24, IPv6 /56, other lengths, IPv4-mapped
 * IPv6 as IPv4), the response classes as separate buckets (name and type
 * for answers; the zone for NXDOMAIN and NODATA; one for errors), the
 * refill after a second, a two-slot table shared by many keys, several
 * threads on one bucket (also run under ThreadSanitizer), and
 * rrl_truncate. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "dns/answer.h"
#include "dns/rrl.h"
#include "dns/wire.h"
#include "zone/db.h"
#include "zone/zone.h"

static const char ZONE_TEXT[] =
    "$ORIGIN foo.com.\n$TTL 3600\n"
    "@ SOA dns.foo.com. admin.foo.com. 1 3600 600 604800 1800\n"
    "@ NS dns.foo.com.\n"
    "@ 60 A 1.2.3.4\n"
    "www 60 A 1.2.3.5\n"
    "mail 60 MX 10 foo.com.\n";

static zonedb_handle_t *db;

/* A real response from the answer engine for (name, type). */
static size_t response(uint8_t *resp, const char *name, uint16_t qtype)
{
    uint8_t q[512];
    size_t n = 0;
    memcpy(q, "\x12\x34\0\0\0\1\0\0\0\0\0\0", 12);
    n = 12;
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t len = dot ? (size_t)(dot - name) : strlen(name);
        q[n++] = (uint8_t)len;
        memcpy(q + n, name, len);
        n += len;
        name += len + (dot ? 1 : 0);
    }
    q[n++] = 0;
    q[n++] = (uint8_t)(qtype >> 8);
    q[n++] = (uint8_t)qtype;
    q[n++] = 0;
    q[n++] = 1;
    zonedb_read_lock();
    size_t len = dns_answer(zonedb_current(db), q, n, resp, 512, false);
    zonedb_read_unlock();
    assert_true(len >= 12);
    return len;
}

static struct sockaddr_storage v4(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    sin->sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, text, &sin->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage v6(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    sin6->sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
    return ss;
}

static rrl_t *new_rrl(unsigned rate, unsigned slip)
{
    rrl_config_t cfg = { .rate = rate, .slip = slip, .seed = 42 };
    rrl_t *r = rrl_new(&cfg);
    assert_non_null(r);
    return r;
}

/* Sends `n` copies of one response; counts what RRL said. */
typedef struct tally { int send, drop, slip; } tally_t;

static tally_t burst(rrl_t *r, const struct sockaddr_storage *src, const uint8_t *resp, size_t len,
                     uint32_t now, int n, unsigned *limited)
{
    tally_t t = { 0 };
    for (int i = 0; i < n; i++) {
        rrl_action_t a = rrl_check(r, (const struct sockaddr *)src, resp, len, now, limited);
        if (a == RRL_SEND)
            t.send++;
        else if (a == RRL_DROP)
            t.drop++;
        else
            t.slip++;
    }
    return t;
}

static void test_rate_then_limited(void **state)
{
    (void)state;
    rrl_t *r = new_rrl(10, 0);
    uint8_t resp[512];
    size_t len = response(resp, "foo.com", DNS_TYPE_A);
    struct sockaddr_storage src = v4("192.0.2.1");
    unsigned limited = 0;
    tally_t t = burst(r, &src, resp, len, 100, 25, &limited);
    assert_int_equal(t.send, 10);
    assert_int_equal(t.drop, 15);
    assert_int_equal(t.slip, 0); /* slip 0: every limited response dropped */
    assert_int_equal(limited, 15);
    rrl_free(r);
}

static void test_slip(void **state)
{
    (void)state;
    uint8_t resp[512];
    size_t len = response(resp, "foo.com", DNS_TYPE_A);
    struct sockaddr_storage src = v4("192.0.2.1");
    unsigned limited = 0;
    rrl_t *r = new_rrl(4, 1); /* every limited response truncated */
    tally_t t = burst(r, &src, resp, len, 7, 10, &limited);
    assert_int_equal(t.send, 4);
    assert_int_equal(t.slip, 6);
    assert_int_equal(t.drop, 0);
    rrl_free(r);
    r = new_rrl(4, 3); /* every third */
    limited = 0;
    t = burst(r, &src, resp, len, 7, 4 + 9, &limited);
    assert_int_equal(t.send, 4);
    assert_int_equal(t.slip, 3);
    assert_int_equal(t.drop, 6);
    rrl_free(r);
}

static void test_refill_after_a_second(void **state)
{
    (void)state;
    rrl_t *r = new_rrl(5, 0);
    uint8_t resp[512];
    size_t len = response(resp, "foo.com", DNS_TYPE_A);
    struct sockaddr_storage src = v4("198.51.100.7");
    unsigned limited = 0;
    assert_int_equal(burst(r, &src, resp, len, 1000, 8, &limited).send, 5);
    /* Same second: still empty. */
    assert_int_equal(burst(r, &src, resp, len, 1000, 3, &limited).send, 0);
    /* One second later: `rate` more, no more than that. */
    assert_int_equal(burst(r, &src, resp, len, 1001, 8, &limited).send, 5);
    /* A long pause fills the bucket to `rate`, not beyond. */
    assert_int_equal(burst(r, &src, resp, len, 1100, 20, &limited).send, 5);
    /* The 16-bit second wraps: still one second apart. */
    assert_int_equal(burst(r, &src, resp, len, 65535, 20, &limited).send, 5);
    assert_int_equal(burst(r, &src, resp, len, 65536, 20, &limited).send, 5);
    rrl_free(r);
}

static void test_ipv4_prefix_grouping(void **state)
{
    (void)state;
    rrl_t *r = new_rrl(3, 0);
    uint8_t resp[512];
    size_t len = response(resp, "foo.com", DNS_TYPE_A);
    unsigned limited = 0;
    struct sockaddr_storage a = v4("203.0.113.1"), b = v4("203.0.113.250"),
                            other = v4("203.0.114.1");
    assert_int_equal(burst(r, &a, resp, len, 5, 2, &limited).send, 2);
    /* Same /24: shares the bucket (one token left). */
    assert_int_equal(burst(r, &b, resp, len, 5, 5, &limited).send, 1);
    /* Next /24: its own. */
    assert_int_equal(burst(r, &other, resp, len, 5, 5, &limited).send, 3);
    /* An IPv4-mapped IPv6 source (dual-stack socket) is the same IPv4 /24. */
    struct sockaddr_storage mapped = v6("::ffff:203.0.113.9");
    assert_int_equal(burst(r, &mapped, resp, len, 5, 5, &limited).send, 0);
    rrl_free(r);

    rrl_config_t cfg = { .rate = 3, .ipv4_prefix = 32, .seed = 1 };
    r = rrl_new(&cfg);
    assert_int_equal(burst(r, &a, resp, len, 5, 5, &limited).send, 3);
    assert_int_equal(burst(r, &b, resp, len, 5, 5, &limited).send, 3); /* /32: apart */
    rrl_free(r);
}

static void test_ipv6_prefix_grouping(void **state)
{
    (void)state;
    rrl_t *r = new_rrl(3, 0);
    uint8_t resp[512];
    size_t len = response(resp, "foo.com", DNS_TYPE_A);
    unsigned limited = 0;
    struct sockaddr_storage a = v6("2001:db8:1:2300::1"), b = v6("2001:db8:1:23ff:ffff::9"),
                            other = v6("2001:db8:1:2400::1");
    assert_int_equal(burst(r, &a, resp, len, 5, 2, &limited).send, 2);
    assert_int_equal(burst(r, &b, resp, len, 5, 5, &limited).send, 1); /* same /56 */
    assert_int_equal(burst(r, &other, resp, len, 5, 5, &limited).send, 3); /* next /56 */
    rrl_free(r);

    rrl_config_t cfg = { .rate = 3, .ipv6_prefix = 64, .seed = 1 };
    r = rrl_new(&cfg);
    assert_int_equal(burst(r, &a, resp, len, 5, 5, &limited).send, 3);
    assert_int_equal(burst(r, &b, resp, len, 5, 5, &limited).send, 3); /* /64: apart */
    rrl_free(r);
}

static void test_response_classes(void **state)
{
    (void)state;
    rrl_t *r = new_rrl(2, 0);
    struct sockaddr_storage src = v4("192.0.2.1");
    unsigned limited = 0;
    uint8_t a[512], www[512], mx[512], nx1[512], nx2[512], nodata1[512], nodata2[512],
        refused1[512], refused2[512];
    size_t la = response(a, "foo.com", DNS_TYPE_A);
    size_t lwww = response(www, "www.foo.com", DNS_TYPE_A);
    size_t lmx = response(mx, "mail.foo.com", DNS_TYPE_MX);
    size_t lnx1 = response(nx1, "nope1.foo.com", DNS_TYPE_A);
    size_t lnx2 = response(nx2, "nope2.foo.com", DNS_TYPE_A);
    size_t lnd1 = response(nodata1, "www.foo.com", DNS_TYPE_TXT);
    size_t lnd2 = response(nodata2, "mail.foo.com", DNS_TYPE_AAAA);
    size_t lr1 = response(refused1, "example.org", DNS_TYPE_A);
    size_t lr2 = response(refused2, "other.net", DNS_TYPE_A);
    assert_int_equal(nx1[3] & 0xf, DNS_RCODE_NXDOMAIN);
    assert_int_equal(nodata1[3] & 0xf, DNS_RCODE_NOERROR);
    assert_int_equal(refused1[3] & 0xf, DNS_RCODE_REFUSED);
    /* Answers: one bucket per name and type; letter case does not matter. */
    assert_int_equal(burst(r, &src, a, la, 9, 5, &limited).send, 2);
    assert_int_equal(burst(r, &src, www, lwww, 9, 5, &limited).send, 2);
    assert_int_equal(burst(r, &src, mx, lmx, 9, 5, &limited).send, 2);
    size_t lupper = response(a, "FOO.com", DNS_TYPE_A);
    assert_int_equal(burst(r, &src, a, lupper, 9, 5, &limited).send, 0);
    /* NXDOMAIN for random names in one zone: one bucket (the zone). */
    assert_int_equal(burst(r, &src, nx1, lnx1, 9, 1, &limited).send, 1);
    assert_int_equal(burst(r, &src, nx2, lnx2, 9, 5, &limited).send, 1);
    /* NODATA likewise, apart from NXDOMAIN. */
    assert_int_equal(burst(r, &src, nodata1, lnd1, 9, 1, &limited).send, 1);
    assert_int_equal(burst(r, &src, nodata2, lnd2, 9, 5, &limited).send, 1);
    /* Errors: one bucket whatever the name. */
    assert_int_equal(burst(r, &src, refused1, lr1, 9, 1, &limited).send, 1);
    assert_int_equal(burst(r, &src, refused2, lr2, 9, 5, &limited).send, 1);
    /* A header-only or garbage response is an error, and no crash. */
    uint8_t junk[12] = { 0x12, 0x34, 0x80, 0x01, 0, 1, 0, 5, 0, 5, 0, 5 };
    assert_int_equal(burst(r, &src, junk, sizeof junk, 9, 5, &limited).send, 0);
    junk[3] = 0; /* NOERROR, claims answers and a question it does not have */
    burst(r, &src, junk, sizeof junk, 9, 5, &limited);
    junk[3] = 3;
    burst(r, &src, junk, 5, 9, 5, &limited);
    rrl_free(r);
}

/* Two slots for everything: keys collide all the time. A key is never
 * counted against another's bucket by mistake (each new key takes over a
 * slot and starts full), and the rate still holds for a key that keeps
 * its slot. */
static void test_table_collisions(void **state)
{
    (void)state;
    rrl_config_t cfg = { .rate = 3, .table_size = 2, .seed = 7 };
    rrl_t *r = rrl_new(&cfg);
    uint8_t resp[512];
    size_t len = response(resp, "foo.com", DNS_TYPE_A);
    unsigned limited = 0;
    struct sockaddr_storage a = v4("10.0.1.1"), b = v4("10.0.2.1");
    /* Two keys fit the pair side by side. */
    assert_int_equal(burst(r, &a, resp, len, 50, 5, &limited).send, 3);
    assert_int_equal(burst(r, &b, resp, len, 51, 5, &limited).send, 3);
    assert_int_equal(burst(r, &a, resp, len, 51, 1, &limited).send, 1); /* refilled, kept */
    assert_int_equal(burst(r, &a, resp, len, 51, 5, &limited).send, 2);
    /* Many more sources: each starts with a full bucket, none limited
     * by another's count. */
    for (int i = 0; i < 200; i++) {
        char text[32];
        snprintf(text, sizeof text, "10.1.%d.1", i);
        struct sockaddr_storage s = v4(text);
        assert_int_equal(burst(r, &s, resp, len, 52, 1, &limited).send, 1);
    }
    /* The default table and limits on the config. */
    rrl_free(r);
    rrl_config_t big = { .rate = 5000000, .slip = 1000, .table_size = 0 };
    r = rrl_new(&big);
    assert_non_null(r);
    assert_int_equal(burst(r, &a, resp, len, 1, 1000, &limited).send, 1000);
    rrl_free(r);
}

typedef struct hammer {
    rrl_t *r;
    const uint8_t *resp;
    size_t len;
    atomic_int sent;
} hammer_t;

static void *hammer_bucket(void *arg)
{
    hammer_t *h = arg;
    struct sockaddr_storage src = v4("192.0.2.77");
    unsigned limited = 0;
    int sent = 0;
    for (int i = 0; i < 20000; i++)
        sent += rrl_check(h->r, (const struct sockaddr *)&src, h->resp, h->len, 77, &limited) ==
                RRL_SEND;
    atomic_fetch_add(&h->sent, sent);
    return NULL;
}

/* The UDP workers share the table: four threads on one bucket in one
 * second send `rate` responses between them (a compare-and-swap that keeps
 * losing lets a response through rather than spin, so a few more at most). */
static void test_threads_share_a_bucket(void **state)
{
    (void)state;
    uint8_t resp[512];
    hammer_t h = { .r = new_rrl(500, 0), .resp = resp };
    h.len = response(resp, "foo.com", DNS_TYPE_A);
    pthread_t th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer_bucket, &h), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    int sent = atomic_load(&h.sent);
    if (sent < 500 || sent > 550)
        fail_msg("4 threads sent %d responses from a bucket of 500", sent);
    rrl_free(h.r);
}

static void test_truncate(void **state)
{
    (void)state;
    uint8_t resp[512];
    size_t len = response(resp, "www.foo.com", DNS_TYPE_A);
    assert_true(len > 12 + 13 + 4);
    size_t cut = rrl_truncate(resp, len);
    assert_int_equal(cut, 12 + 13 + 4); /* header + question (www.foo.com, type, class) */
    assert_true(resp[2] & 0x02);        /* TC */
    assert_true(resp[2] & 0x80);        /* still a response */
    assert_int_equal(resp[4] << 8 | resp[5], 1);
    for (int i = 6; i < 12; i++)
        assert_int_equal(resp[i], 0);
    assert_int_equal(resp[0] << 8 | resp[1], 0x1234);
    /* No question (or a broken one): the header alone. */
    uint8_t bad[20] = { 1, 2, 0x80, 0, 0, 1, 0, 1, 0, 0, 0, 0, 60 };
    assert_int_equal(rrl_truncate(bad, sizeof bad), 12);
    assert_int_equal(bad[5], 0);
    assert_int_equal(rrl_truncate(bad, 5), 5);
}

static int setup(void **state)
{
    (void)state;
    char err[ZONE_ERR_MAX];
    zone_t *zone = zone_parse_text(ZONE_TEXT, strlen(ZONE_TEXT), "test", NULL, err);
    assert_non_null(zone);
    zonedb_index_t *zi = zonedb_index_build(zone, err);
    zone_free(zone);
    assert_non_null(zi);
    db = zonedb_handle_new();
    assert_int_equal(zonedb_handle_put_zone(db, zi), 0);
    zonedb_reader_register();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    zonedb_reader_unregister();
    zonedb_handle_free(db);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rate_then_limited),
        cmocka_unit_test(test_slip),
        cmocka_unit_test(test_refill_after_a_second),
        cmocka_unit_test(test_ipv4_prefix_grouping),
        cmocka_unit_test(test_ipv6_prefix_grouping),
        cmocka_unit_test(test_response_classes),
        cmocka_unit_test(test_table_collisions),
        cmocka_unit_test(test_threads_share_a_bucket),
        cmocka_unit_test(test_truncate),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
