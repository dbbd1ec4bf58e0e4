/* tests/unit/test_dns_wire.c — the DNS message codec (dns/wire.c): names
 * with compression pointers, hostile packets, query parsing with EDNS, and
 * the response builder's compression, limits and rollback. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "dns/wire.h"

/* A packet under construction: header then whatever the test appends. */
typedef struct pkt {
    uint8_t b[1024];
    size_t n;
} pkt_t;

static void add(pkt_t *p, const void *bytes, size_t len)
{
    assert_true(p->n + len <= sizeof p->b);
    if (len)
        memcpy(p->b + p->n, bytes, len);
    p->n += len;
}

static void add16(pkt_t *p, uint16_t v)
{
    uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    add(p, b, 2);
}

static void header(pkt_t *p, uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar)
{
    p->n = 0;
    add16(p, 0xbeef);
    add16(p, flags);
    add16(p, qd);
    add16(p, an);
    add16(p, ns);
    add16(p, ar);
}

static void question(pkt_t *p, const char *wire_name, size_t len, uint16_t type)
{
    add(p, wire_name, len);
    add16(p, type);
    add16(p, DNS_CLASS_IN);
}

#define EXAMPLE "\7example\3com"
#define Q_EXAMPLE(p) question(p, EXAMPLE, sizeof EXAMPLE, DNS_TYPE_A)

static void opt(pkt_t *p, uint16_t payload, uint8_t version, bool do_bit, const void *rdata, uint16_t rdlen)
{
    add(p, "", 1);
    add16(p, DNS_TYPE_OPT);
    add16(p, payload);
    uint8_t ttl[4] = { 0, version, do_bit ? 0x80 : 0, 0 };
    add(p, ttl, 4);
    add16(p, rdlen);
    add(p, rdata, rdlen);
}

/* ---- names ------------------------------------------------------------ */

static int read_at(const pkt_t *p, size_t pos, size_t *end, uint8_t out[NAME_MAX_WIRE])
{
    *end = pos;
    return dns_read_name(p->b, p->n, end, out);
}

static void test_name_plain_and_compressed(void **state)
{
    (void)state;
    pkt_t p;
    header(&p, 0, 0, 0, 0, 0);
    add(&p, "\3www" EXAMPLE, 17);         /* at 12 */
    add(&p, "\4mail\xc0\x10", 7);         /* at 29: mail + pointer to example.com */
    add(&p, "\xc0\x1d", 2);               /* at 36: pointer to a pointer */
    uint8_t out[NAME_MAX_WIRE];
    size_t end;
    assert_int_equal(read_at(&p, 12, &end, out), 17);
    assert_memory_equal(out, "\3www" EXAMPLE, 17);
    assert_int_equal(end, 29);
    assert_int_equal(read_at(&p, 29, &end, out), 18);
    assert_memory_equal(out, "\4mail" EXAMPLE, 18);
    assert_int_equal(end, 36); /* after the pointer, not after the target */
    assert_int_equal(read_at(&p, 36, &end, out), 18);
    assert_int_equal(end, 38);
    /* letter case is kept */
    header(&p, 0, 0, 0, 0, 0);
    add(&p, "\3WwW\0", 5);
    assert_int_equal(read_at(&p, 12, &end, out), 5);
    assert_memory_equal(out, "\3WwW", 5);
}

static void test_name_hostile(void **state)
{
    (void)state;
    pkt_t p;
    uint8_t out[NAME_MAX_WIRE];
    size_t end;

    header(&p, 0, 0, 0, 0, 0);
    add(&p, "\xc0\x0e\0\0", 4); /* forward pointer */
    assert_int_equal(read_at(&p, 12, &end, out), -1);

    header(&p, 0, 0, 0, 0, 0);
    add(&p, "\xc0\x0c", 2); /* pointer to itself */
    assert_int_equal(read_at(&p, 12, &end, out), -1);

    header(&p, 0, 0, 0, 0, 0);
    add(&p, "\xc0\x02", 2); /* into the header */
    assert_int_equal(read_at(&p, 12, &end, out), -1);

    /* a loop through a label: "\1a" then a pointer back to it */
    header(&p, 0, 0, 0, 0, 0);
    add(&p, "\1a\xc0\x0c", 4);
    assert_int_equal(read_at(&p, 12, &end, out), -1);

    header(&p, 0, 0, 0, 0, 0);
    add(&p, "\3ww", 3); /* truncated label */
    assert_int_equal(read_at(&p, 12, &end, out), -1);

    header(&p, 0, 0, 0, 0, 0);
    add(&p, "\3www", 4); /* no root label */
    assert_int_equal(read_at(&p, 12, &end, out), -1);

    header(&p, 0, 0, 0, 0, 0);
    add(&p, "\xc0", 1); /* half a pointer */
    assert_int_equal(read_at(&p, 12, &end, out), -1);

    header(&p, 0, 0, 0, 0, 0);
    add(&p, "\x41" "a\0", 3); /* 0x40 label type */
    assert_int_equal(read_at(&p, 12, &end, out), -1);
    header(&p, 0, 0, 0, 0, 0);
    add(&p, "\x81" "a\0", 3); /* 0x80 label type */
    assert_int_equal(read_at(&p, 12, &end, out), -1);

    /* a 64-octet label */
    header(&p, 0, 0, 0, 0, 0);
    uint8_t big[66] = { 64 };
    memset(big + 1, 'a', 64);
    add(&p, big, 66);
    assert_int_equal(read_at(&p, 12, &end, out), -1);

    /* too long: 5 labels of 51 octets are 260 octets before the root */
    header(&p, 0, 0, 0, 0, 0);
    uint8_t lab[52] = { 51 };
    memset(lab + 1, 'b', 51);
    for (int i = 0; i < 5; i++)
        add(&p, lab, 52); /* 260 octets before the root */
    add(&p, "", 1);
    assert_int_equal(read_at(&p, 12, &end, out), -1);
    /* exactly 255 is fine: 4 x 63-octet labels + 2 + root = 255 */
    header(&p, 0, 0, 0, 0, 0);
    uint8_t l63[64] = { 63 };
    memset(l63 + 1, 'c', 63);
    for (int i = 0; i < 3; i++)
        add(&p, l63, 64);
    uint8_t l61[62] = { 61 };
    memset(l61 + 1, 'd', 61);
    add(&p, l61, 62);
    add(&p, "", 1);
    assert_int_equal(read_at(&p, 12, &end, out), 255);
    /* ... and one more octet through a pointer is not */
    header(&p, 0, 0, 0, 0, 0);
    for (int i = 0; i < 3; i++)
        add(&p, l63, 64);
    add(&p, l61, 62);
    add(&p, "", 1);
    add(&p, "\1x\xc0\x0c", 4);
    assert_int_equal(read_at(&p, 12 + 255, &end, out), -1);
}

/* ---- parsing queries -------------------------------------------------- */

static void test_parse_simple_query(void **state)
{
    (void)state;
    pkt_t p;
    header(&p, DNS_FLAG_RD, 1, 0, 0, 0);
    question(&p, "\3WwW" EXAMPLE, 17, DNS_TYPE_MX);
    dns_query_t q;
    assert_int_equal(dns_parse_query(p.b, p.n, &q), DNS_PARSE_OK);
    assert_int_equal(q.id, 0xbeef);
    assert_int_equal(q.flags, DNS_FLAG_RD);
    assert_int_equal(q.qname_len, 17);
    assert_memory_equal(q.qname, "\3WwW" EXAMPLE, 17);
    assert_int_equal(q.qtype, DNS_TYPE_MX);
    assert_int_equal(q.qclass, DNS_CLASS_IN);
    assert_false(q.has_edns);
}

static void test_parse_drops(void **state)
{
    (void)state;
    pkt_t p;
    dns_query_t q;
    header(&p, 0, 1, 0, 0, 0);
    assert_int_equal(dns_parse_query(p.b, 11, &q), DNS_PARSE_DROP);
    assert_int_equal(dns_parse_query(p.b, 0, &q), DNS_PARSE_DROP);
    header(&p, DNS_FLAG_QR, 1, 0, 0, 0);
    Q_EXAMPLE(&p);
    assert_int_equal(dns_parse_query(p.b, p.n, &q), DNS_PARSE_DROP);
}

static void expect_formerr(const pkt_t *p, bool question_kept)
{
    dns_query_t q;
    assert_int_equal(dns_parse_query(p->b, p->n, &q), DNS_PARSE_FORMERR);
    assert_int_equal(q.id, 0xbeef);
    assert_int_equal(q.qname_len > 0, question_kept);
}

static void test_parse_formerr(void **state)
{
    (void)state;
    pkt_t p;
    header(&p, 0, 0, 0, 0, 0); /* no question */
    expect_formerr(&p, false);
    header(&p, 0, 2, 0, 0, 0); /* two questions */
    Q_EXAMPLE(&p);
    Q_EXAMPLE(&p);
    expect_formerr(&p, false);
    header(&p, 0, 1, 0, 0, 0); /* question cut short */
    Q_EXAMPLE(&p);
    p.n -= 1;
    expect_formerr(&p, false);
    header(&p, 0, 1, 0, 0, 0); /* forward pointer in the qname */
    question(&p, "\xc0\x20", 2, DNS_TYPE_A);
    expect_formerr(&p, false);
    header(&p, 0, 1, 0, 0, 0); /* trailing garbage */
    Q_EXAMPLE(&p);
    add(&p, "\0", 1);
    expect_formerr(&p, true);
    header(&p, 0, 1, 0, 0, 1); /* ARCOUNT says 1, nothing there */
    Q_EXAMPLE(&p);
    expect_formerr(&p, true);
    header(&p, 0, 1, 1, 0, 0); /* an answer RR whose rdata runs out */
    Q_EXAMPLE(&p);
    add(&p, "\xc0\x0c\0\1\0\1\0\0\0\0\0\4\1\2", 14);
    expect_formerr(&p, true);
    header(&p, 0, 1, 0, 0, 2); /* two OPTs */
    Q_EXAMPLE(&p);
    opt(&p, 1232, 0, false, NULL, 0);
    opt(&p, 1232, 0, false, NULL, 0);
    expect_formerr(&p, true);
    header(&p, 0, 1, 1, 0, 0); /* OPT in the answer section */
    Q_EXAMPLE(&p);
    opt(&p, 1232, 0, false, NULL, 0);
    expect_formerr(&p, true);
    header(&p, 0, 1, 0, 0, 1); /* an option longer than the rdata */
    Q_EXAMPLE(&p);
    opt(&p, 1232, 0, false, "\0\3\0\5ab", 6);
    expect_formerr(&p, true);
    header(&p, 0, 1, 0, 0, 1); /* half an option header */
    Q_EXAMPLE(&p);
    opt(&p, 1232, 0, false, "\0\3", 2);
    expect_formerr(&p, true);
}

static void test_parse_formerr_keeps_edns_when_only_qdcount_is_wrong(void **state)
{
    (void)state;
    pkt_t p;
    header(&p, 0, 0, 0, 0, 1);
    opt(&p, 4096, 0, true, NULL, 0);
    dns_query_t q;
    assert_int_equal(dns_parse_query(p.b, p.n, &q), DNS_PARSE_FORMERR);
    assert_true(q.has_edns);
    header(&p, 0, 1, 0, 0, 2); /* structurally broken: no OPT echoed */
    Q_EXAMPLE(&p);
    opt(&p, 1232, 0, false, NULL, 0);
    opt(&p, 1232, 0, false, NULL, 0);
    assert_int_equal(dns_parse_query(p.b, p.n, &q), DNS_PARSE_FORMERR);
    assert_false(q.has_edns);
}

static void test_parse_edns_and_other_sections(void **state)
{
    (void)state;
    pkt_t p;
    header(&p, 0, 1, 1, 1, 2);
    Q_EXAMPLE(&p);
    /* an answer and an authority RR (ignored, but walked) */
    add(&p, "\xc0\x0c\0\1\0\1\0\0\0\0\0\4\1\2\3\4", 16);
    add(&p, "\xc0\x0c\0\1\0\1\0\0\0\0\0\4\1\2\3\4", 16);
    add(&p, "\1x\xc0\x0c\0\1\0\1\0\0\0\0\0\0", 14); /* additional A, empty */
    opt(&p, 4096, 0, true, "\0\12\0\2ab", 6); /* a cookie-shaped option */
    dns_query_t q;
    assert_int_equal(dns_parse_query(p.b, p.n, &q), DNS_PARSE_OK);
    assert_true(q.has_edns);
    assert_int_equal(q.edns_payload, 4096);
    assert_int_equal(q.edns_version, 0);
    assert_true(q.edns_do);

    header(&p, 0, 1, 0, 0, 1);
    Q_EXAMPLE(&p);
    opt(&p, 100, 1, false, NULL, 0);
    assert_int_equal(dns_parse_query(p.b, p.n, &q), DNS_PARSE_OK);
    assert_int_equal(q.edns_version, 1);
    assert_int_equal(q.edns_payload, 100);
    assert_false(q.edns_do);
}

/* ---- building --------------------------------------------------------- */

static const uint8_t QNAME[] = "\3WWW" EXAMPLE;

/* Regression (found by fuzz_dns_wire): a name whose suffix repeats one of
 * its own labels ("x.x.") must not be compressed against the part of itself
 * already written, which would point into bytes not yet written. Also with
 * a buffer holding an earlier response's bytes. */
static void test_builder_never_points_into_the_name_being_written(void **state)
{
    (void)state;
    for (int dirty = 0; dirty < 2; dirty++) {
        uint8_t buf[512];
        memset(buf, dirty ? 0x01 : 0, sizeof buf);
        dns_builder_t b;
        dns_builder_init(&b, buf, sizeof buf, 1, DNS_FLAG_QR);
        assert_int_equal(dns_builder_rr(&b, DNS_SECTION_ANSWER, (const uint8_t *)"\1x\1x", 1, 1, 0,
                                        (const uint8_t *)"\1\2\3\4", 4), 0);
        assert_memory_equal(buf + 12, "\1x\1x\0", 5);
        size_t pos = 12;
        uint8_t name[NAME_MAX_WIRE];
        assert_true(dns_read_name(buf, b.len, &pos, name) > 0);
        assert_memory_equal(name, "\1x\1x\0", 5);
    }
}

static void test_builder_compresses_owner_and_rdata(void **state)
{
    (void)state;
    uint8_t buf[512];
    dns_builder_t b;
    dns_builder_init(&b, buf, sizeof buf, 0x1234, DNS_FLAG_QR | DNS_FLAG_AA);
    assert_int_equal(dns_builder_question(&b, QNAME, DNS_TYPE_MX, DNS_CLASS_IN), 0);
    assert_int_equal(b.len, 12 + 17 + 4);
    /* owner in another case: still a pointer to the question (offset 12) */
    static const uint8_t mx[] = "\0\12\4mail\7EXAMPLE\3com";
    assert_int_equal(dns_builder_rr(&b, DNS_SECTION_ANSWER, (const uint8_t *)"\3www" EXAMPLE,
                                    DNS_TYPE_MX, DNS_CLASS_IN, 300, mx, sizeof mx), 0);
    const uint8_t *rr = buf + 33;
    assert_memory_equal(rr, "\xc0\x0c\0\x0f\0\1\0\0\1\x2c", 10);
    /* rdlength: 2 (pref) + "\4mail" (5) + pointer (2) = 9 */
    assert_memory_equal(rr + 10, "\0\x09\0\x0a\4mail\xc0\x10", 11);
    size_t mail_at = 33 + 14;
    /* SRV: never compressed, even when a suffix is known */
    static const uint8_t srv[] = "\0\0\0\5\x13\xc4\4mail\7example\3com";
    assert_int_equal(dns_builder_rr(&b, DNS_SECTION_ANSWER, (const uint8_t *)"\4mail" EXAMPLE,
                                    DNS_TYPE_SRV, DNS_CLASS_IN, 1, srv, sizeof srv), 0);
    const uint8_t *rr2 = buf + 33 + 21;
    uint8_t ptr[2] = { 0xc0, (uint8_t)mail_at };
    assert_memory_equal(rr2, ptr, 2); /* the owner points at "mail..." in the MX */
    assert_int_equal(rr2[10] << 8 | rr2[11], sizeof srv);
    assert_memory_equal(rr2 + 12, srv, sizeof srv);
    /* SOA: both names compressed, then 20 octets */
    static const uint8_t soa[] = "\3ns1\7example\3com\0\4host\7example\3com\0"
                                 "\0\0\0\1\0\0\0\2\0\0\0\3\0\0\0\4\0\0\0\5";
    size_t before = b.len;
    assert_int_equal(dns_builder_rr(&b, DNS_SECTION_AUTHORITY, (const uint8_t *)EXAMPLE,
                                    DNS_TYPE_SOA, DNS_CLASS_IN, 1, soa, sizeof soa - 1), 0);
    /* owner (2) + fixed (10) + ns1+ptr (6) + host+ptr (7) + 20 */
    assert_int_equal(b.len - before, 2 + 10 + 6 + 7 + 20);
    assert_int_equal(dns_builder_finish(&b), b.len);
    assert_memory_equal(buf, "\x12\x34\x84\0\0\1\0\2\0\1\0\0", 12);

    /* the compressed message reads back to the original names */
    size_t pos = before + 12;
    uint8_t out[NAME_MAX_WIRE];
    assert_int_equal(dns_read_name(buf, b.len, &pos, out), 17);
    assert_memory_equal(out, "\3ns1\7example\3com", 17);
    assert_int_equal(dns_read_name(buf, b.len, &pos, out), 18);
    assert_memory_equal(out, "\4host\7example\3com", 18);
}

static void test_builder_limit_and_rollback(void **state)
{
    (void)state;
    uint8_t buf[512];
    dns_builder_t b;
    /* room for header + question + exactly one A record (2+10+4) */
    dns_builder_init(&b, buf, 12 + 17 + 4 + 16, 1, DNS_FLAG_QR);
    assert_int_equal(dns_builder_question(&b, QNAME, DNS_TYPE_A, DNS_CLASS_IN), 0);
    dns_builder_mark_t m = dns_builder_mark(&b);
    assert_int_equal(dns_builder_rr(&b, DNS_SECTION_ANSWER, QNAME, DNS_TYPE_A, 1, 1, (const uint8_t *)"\1\2\3\4", 4), 0);
    assert_int_equal(b.len, b.limit);
    size_t full = b.len;
    assert_int_equal(dns_builder_rr(&b, DNS_SECTION_ANSWER, QNAME, DNS_TYPE_A, 1, 1, (const uint8_t *)"\1\2\3\5", 4), -1);
    assert_int_equal(b.len, full);
    assert_int_equal(b.count[DNS_SECTION_ANSWER], 1);
    assert_int_equal(dns_builder_opt(&b, 1232, 0, false), -1);
    dns_builder_rollback(&b, &m);
    assert_int_equal(b.count[DNS_SECTION_ANSWER], 0);
    assert_int_equal(b.len, 33);
    /* the limit can be raised to make room for the OPT */
    dns_builder_set_limit(&b, b.len + 11);
    assert_int_equal(dns_builder_opt(&b, 1232, 1, true), 0);
    assert_memory_equal(buf + 33, "\0\0\x29\x04\xd0\1\0\x80\0\0\0", 11);
    assert_int_equal(dns_builder_finish(&b), 44);
    assert_int_equal(buf[11], 1); /* ARCOUNT */
    /* a question that does not fit leaves nothing behind */
    dns_builder_init(&b, buf, 20, 1, DNS_FLAG_QR);
    assert_int_equal(dns_builder_question(&b, QNAME, DNS_TYPE_A, DNS_CLASS_IN), -1);
    assert_int_equal(b.len, 12);
    assert_int_equal(dns_builder_finish(&b), 12);
    assert_int_equal(buf[5], 0);
}

static void test_builder_rejects_malformed_rdata_names(void **state)
{
    (void)state;
    uint8_t buf[512];
    dns_builder_t b;
    dns_builder_init(&b, buf, sizeof buf, 1, DNS_FLAG_QR);
    assert_int_equal(dns_builder_question(&b, QNAME, DNS_TYPE_NS, DNS_CLASS_IN), 0);
    size_t len = b.len;
    /* an NS name running past its rdata */
    assert_int_equal(dns_builder_rr(&b, DNS_SECTION_ANSWER, QNAME, DNS_TYPE_NS, 1, 1, (const uint8_t *)"\5ab", 3), -1);
    assert_int_equal(b.len, len);
    assert_int_equal(b.count[DNS_SECTION_ANSWER], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_name_plain_and_compressed),
        cmocka_unit_test(test_name_hostile),
        cmocka_unit_test(test_parse_simple_query),
        cmocka_unit_test(test_parse_drops),
        cmocka_unit_test(test_parse_formerr),
        cmocka_unit_test(test_parse_formerr_keeps_edns_when_only_qdcount_is_wrong),
        cmocka_unit_test(test_parse_edns_and_other_sections),
        cmocka_unit_test(test_builder_compresses_owner_and_rdata),
        cmocka_unit_test(test_builder_never_points_into_the_name_being_written),
        cmocka_unit_test(test_builder_limit_and_rollback),
        cmocka_unit_test(test_builder_rejects_malformed_rdata_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
