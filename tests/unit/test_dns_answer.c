/* tests/unit/test_dns_answer.c — the answer engine (dns/answer.c), one test
 * per rule of docs/dns-answers.md. Zones come from the zone-file parser;
 * queries are built byte by byte; responses are decoded here with
 * dns_read_name and checked section by section. The expected results were
 * checked against Knot DNS 3.2 on the same zones. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "dns/answer.h"
#include "dns/wire.h"
#include "zone/db.h"
#include "zone/zone.h"

static const char EXAMPLE_ZONE[] =
    "$ORIGIN example.com.\n"
    "$TTL 3600\n"
    "@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
    "@ NS ns1\n"
    "@ NS ns2.other.net.\n"
    "@ A 192.0.2.1\n"
    "@ MX 10 mail\n"
    "@ MX 20 mail2.other.net.\n"
    "ns1 A 192.0.2.53\n"
    "ns1 AAAA 2001:db8::53\n"
    "mail A 192.0.2.25\n"
    "www CNAME web\n"
    "web A 192.0.2.80\n"
    "chain1 CNAME chain2\n"
    "chain2 CNAME chain3\n"
    "chain3 A 192.0.2.3\n"
    "loop1 CNAME loop2\n"
    "loop2 CNAME loop1\n"
    "out CNAME www.other.net.\n"
    "dangling CNAME nothere\n"
    "*.wild A 192.0.2.99\n"
    "sub.wild A 192.0.2.98\n"
    "a.b.c.ent A 192.0.2.7\n"
    "deleg NS ns.deleg\n"
    "deleg NS ns.other.net.\n"
    "ns.deleg A 192.0.2.100\n"
    "ns.deleg AAAA 2001:db8::100\n"
    "*.cw CNAME web\n"
    "mxwild MX 1 foo.wild\n"
    "srv SRV 0 5 5060 sip\n"
    "sip A 192.0.2.60\n"
    "big TXT \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n"
    "big TXT \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"\n"
    "big TXT \"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\"\n"
    "big TXT \"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\"\n"
    "big TXT \"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\"\n"
    "big TXT \"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"\n"
    "big A 192.0.2.9\n"
    "child NS ns1.child\n"
    "ns1.child A 192.0.2.200\n"
    "tochild CNAME x.child\n"
    "bigdeleg NS nameserver-number-1.bigdeleg\nnameserver-number-1.bigdeleg A 192.0.2.1\nnameserver-number-1.bigdeleg AAAA 2001:db8::1\n"
    "bigdeleg NS nameserver-number-2.bigdeleg\nnameserver-number-2.bigdeleg A 192.0.2.2\nnameserver-number-2.bigdeleg AAAA 2001:db8::2\n"
    "bigdeleg NS nameserver-number-3.bigdeleg\nnameserver-number-3.bigdeleg A 192.0.2.3\nnameserver-number-3.bigdeleg AAAA 2001:db8::3\n"
    "bigdeleg NS nameserver-number-4.bigdeleg\nnameserver-number-4.bigdeleg A 192.0.2.4\nnameserver-number-4.bigdeleg AAAA 2001:db8::4\n"
    "bigdeleg NS nameserver-number-5.bigdeleg\nnameserver-number-5.bigdeleg A 192.0.2.5\nnameserver-number-5.bigdeleg AAAA 2001:db8::5\n"
    "bigdeleg NS nameserver-number-6.bigdeleg\nnameserver-number-6.bigdeleg A 192.0.2.6\nnameserver-number-6.bigdeleg AAAA 2001:db8::6\n"
    "bigdeleg NS nameserver-number-7.bigdeleg\nnameserver-number-7.bigdeleg A 192.0.2.7\nnameserver-number-7.bigdeleg AAAA 2001:db8::7\n"
    "bigdeleg NS nameserver-number-8.bigdeleg\nnameserver-number-8.bigdeleg A 192.0.2.8\nnameserver-number-8.bigdeleg AAAA 2001:db8::8\n"
    "bigdeleg NS nameserver-number-9.bigdeleg\nnameserver-number-9.bigdeleg A 192.0.2.9\nnameserver-number-9.bigdeleg AAAA 2001:db8::9\n"
    "bigdeleg NS nameserver-number-10.bigdeleg\nnameserver-number-10.bigdeleg A 192.0.2.10\nnameserver-number-10.bigdeleg AAAA 2001:db8::10\n"
    "bigdeleg NS nameserver-number-11.bigdeleg\nnameserver-number-11.bigdeleg A 192.0.2.11\nnameserver-number-11.bigdeleg AAAA 2001:db8::11\n"
    "bigdeleg NS nameserver-number-12.bigdeleg\nnameserver-number-12.bigdeleg A 192.0.2.12\nnameserver-number-12.bigdeleg AAAA 2001:db8::12\n"
    "oobdeleg NS nameserver-number-1.ns-hosting-provider.example.net.\n"
    "oobdeleg NS nameserver-number-2.ns-hosting-provider.example.net.\n"
    "oobdeleg NS nameserver-number-3.ns-hosting-provider.example.net.\n"
    "oobdeleg NS nameserver-number-4.ns-hosting-provider.example.net.\n"
    "oobdeleg NS nameserver-number-5.ns-hosting-provider.example.net.\n"
    "oobdeleg NS nameserver-number-6.ns-hosting-provider.example.net.\n"
    "oobdeleg NS nameserver-number-7.ns-hosting-provider.example.net.\n"
    "oobdeleg NS nameserver-number-8.ns-hosting-provider.example.net.\n"
    "oobdeleg NS nameserver-number-9.ns-hosting-provider.example.net.\n"
    "oobdeleg NS nameserver-number-10.ns-hosting-provider.example.net.\n"
    "oobdeleg NS nameserver-number-11.ns-hosting-provider.example.net.\n"
    "oobdeleg NS nameserver-number-12.ns-hosting-provider.example.net.\n"
    "c1 CNAME c2\nc2 CNAME c3\nc3 CNAME c4\nc4 CNAME c5\nc5 CNAME c6\nc6 CNAME c7\nc7 A 192.0.2.7\n"
    "d1 CNAME d2\nd2 CNAME d3\nd3 CNAME d4\nd4 CNAME d5\nd5 CNAME d6\n"
    "many MX 1 m01\nmany MX 2 m02\nmany MX 3 m03\nmany MX 4 m04\nmany MX 5 m05\n"
    "many MX 6 m06\nmany MX 7 m07\nmany MX 8 m08\nmany MX 9 m09\nmany MX 10 m10\n"
    "many MX 11 m11\nmany MX 12 m12\nmany MX 13 m13\nmany MX 14 m14\nmany MX 15 m15\n"
    "many MX 16 m16\nmany MX 17 m17\nmany MX 18 m18\nmany MX 19 m19\nmany MX 20 m20\n"
    "m01 A 10.0.0.1\nm02 A 10.0.0.2\nm03 A 10.0.0.3\nm04 A 10.0.0.4\nm05 A 10.0.0.5\n"
    "m06 A 10.0.0.6\nm07 A 10.0.0.7\nm08 A 10.0.0.8\nm09 A 10.0.0.9\nm10 A 10.0.0.10\n"
    "m11 A 10.0.0.11\nm12 A 10.0.0.12\nm13 A 10.0.0.13\nm14 A 10.0.0.14\nm15 A 10.0.0.15\n"
    "m16 A 10.0.0.16\nm17 A 10.0.0.17\nm18 A 10.0.0.18\nm19 A 10.0.0.19\nm20 A 10.0.0.20\n";

static const char CHILD_ZONE[] =
    "$TTL 600\n"
    "@ SOA ns1 host 5 1 1 1 60\n"
    "@ NS ns1\n"
    "ns1 A 192.0.2.201\n"
    "x A 192.0.2.202\n";

static zonedb_t *db;

static zonedb_index_t *index_text(const char *text, const char *origin_text)
{
    uint8_t origin[NAME_MAX_WIRE];
    const char *e;
    assert_true(name_from_text(origin_text, strlen(origin_text), NULL, origin, &e) > 0);
    char err[ZONE_ERR_MAX] = "";
    zone_t *z = zone_parse_text(text, strlen(text), origin_text, origin, err);
    if (!z)
        fail_msg("%s", err);
    zonedb_index_t *zi = zonedb_index_build(z, err);
    zone_free(z);
    assert_non_null(zi);
    return zi;
}

static int setup(void **state)
{
    (void)state;
    zonedb_t *v0 = zonedb_new();
    zonedb_t *v1 = zonedb_with_zone(v0, index_text(EXAMPLE_ZONE, "example.com."));
    db = zonedb_with_zone(v1, index_text(CHILD_ZONE, "child.example.com."));
    zonedb_free(v0);
    zonedb_free(v1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    zonedb_free(db);
    return 0;
}

/* ---- queries ---------------------------------------------------------- */

typedef struct qopts {
    uint16_t flags;      /* header flags; RD is not implied */
    uint16_t qclass;     /* 0 = IN */
    bool edns;
    uint16_t payload;
    uint8_t version;
    bool do_bit;
    bool tcp;
    size_t cap;          /* 0 = 65535 */
} qopts_t;

static size_t make_query(uint8_t *out, const char *name, uint16_t type, const qopts_t *o)
{
    uint8_t qname[NAME_MAX_WIRE];
    const char *e;
    int n = name_from_text(name, strlen(name), NULL, qname, &e);
    assert_true(n > 0);
    size_t len = 0;
    uint8_t hdr[12] = { 0xab, 0xcd, (uint8_t)(o->flags >> 8), (uint8_t)o->flags, 0, 1, 0, 0, 0, 0, 0, o->edns ? 1 : 0 };
    memcpy(out, hdr, 12);
    len = 12;
    memcpy(out + len, qname, (size_t)n);
    len += (size_t)n;
    uint16_t qclass = o->qclass ? o->qclass : DNS_CLASS_IN;
    uint8_t tail[4] = { (uint8_t)(type >> 8), (uint8_t)type, (uint8_t)(qclass >> 8), (uint8_t)qclass };
    memcpy(out + len, tail, 4);
    len += 4;
    if (o->edns) {
        uint8_t optrr[11] = { 0, 0, 41, (uint8_t)(o->payload >> 8), (uint8_t)o->payload, 0, o->version,
                              o->do_bit ? 0x80 : 0, 0, 0, 0 };
        memcpy(out + len, optrr, 11);
        len += 11;
    }
    return len;
}

/* ---- decoded responses ------------------------------------------------ */

typedef struct rr {
    char owner[NAME_MAX_TEXT];
    uint16_t type;
    uint16_t rclass;
    uint32_t ttl;
    char data[128]; /* A: dotted quad; name types: the target; else "" */
} rr_t;

typedef struct resp {
    size_t len;
    uint8_t raw[65535];
    uint16_t id, flags, qd;
    uint8_t qname[NAME_MAX_WIRE];
    uint16_t qtype, qclass;
    size_t count[3];
    rr_t rr[3][64];
    bool has_opt;
    uint16_t opt_payload;
    uint8_t opt_ext_rcode;
    bool opt_do;
} resp_t;

static resp_t R; /* big: static, one response at a time */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void decode_rr(size_t *pos, rr_t *rr)
{
    uint8_t name[NAME_MAX_WIRE];
    assert_true(dns_read_name(R.raw, R.len, pos, name) > 0);
    name_to_lower(name, name);
    name_to_text(name, rr->owner, sizeof rr->owner);
    assert_true(*pos + 10 <= R.len);
    const uint8_t *f = R.raw + *pos;
    rr->type = rd16(f);
    rr->rclass = rd16(f + 2);
    rr->ttl = (uint32_t)rd16(f + 4) << 16 | rd16(f + 6);
    uint16_t rdlen = rd16(f + 8);
    *pos += 10;
    assert_true(*pos + rdlen <= R.len);
    rr->data[0] = 0;
    size_t p = *pos;
    if (rr->type == DNS_TYPE_A && rdlen == 4)
        snprintf(rr->data, sizeof rr->data, "%u.%u.%u.%u", R.raw[p], R.raw[p + 1], R.raw[p + 2], R.raw[p + 3]);
    if (rr->type == DNS_TYPE_MX)
        p += 2;
    if (rr->type == DNS_TYPE_SRV)
        p += 6;
    if (rr->type == DNS_TYPE_CNAME || rr->type == DNS_TYPE_NS || rr->type == DNS_TYPE_MX ||
        rr->type == DNS_TYPE_SRV || rr->type == DNS_TYPE_SOA) {
        assert_true(dns_read_name(R.raw, R.len, &p, name) > 0);
        name_to_lower(name, name);
        name_to_text(name, rr->data, sizeof rr->data);
    }
    *pos += rdlen;
}

/* Runs the query through dns_answer and decodes the result into R.
 * Returns the response length (0: nothing sent). */
static size_t ask(const char *name, uint16_t type, const qopts_t *o)
{
    static const qopts_t none;
    if (!o)
        o = &none;
    uint8_t q[512];
    size_t qlen = make_query(q, name, type, o);
    memset(&R, 0, sizeof R);
    R.len = dns_answer(db, q, qlen, R.raw, o->cap ? o->cap : sizeof R.raw, o->tcp);
    if (R.len == 0)
        return 0;
    assert_true(R.len >= 12);
    R.id = rd16(R.raw);
    R.flags = rd16(R.raw + 2);
    R.qd = rd16(R.raw + 4);
    size_t pos = 12;
    if (R.qd == 1) {
        assert_true(dns_read_name(R.raw, R.len, &pos, R.qname) > 0);
        R.qtype = rd16(R.raw + pos);
        R.qclass = rd16(R.raw + pos + 2);
        pos += 4;
    }
    for (int s = 0; s < 3; s++) {
        size_t n = rd16(R.raw + 6 + 2 * s);
        for (size_t i = 0; i < n; i++) {
            rr_t rr;
            decode_rr(&pos, &rr);
            if (rr.type == DNS_TYPE_OPT) {
                assert_int_equal(s, DNS_SECTION_ADDITIONAL);
                R.has_opt = true;
                R.opt_payload = rr.rclass;
                R.opt_ext_rcode = (uint8_t)(rr.ttl >> 24);
                R.opt_do = (rr.ttl & 0x8000) != 0;
                continue;
            }
            assert_true(R.count[s] < 64);
            R.rr[s][R.count[s]++] = rr;
        }
    }
    assert_int_equal(pos, R.len); /* nothing unaccounted for */
    assert_int_equal(R.id, 0xabcd);
    return R.len;
}

static void expect_header(uint8_t rcode, bool aa, size_t an, size_t ns, size_t ar)
{
    assert_true(R.flags & DNS_FLAG_QR);
    assert_int_equal(DNS_RCODE(R.flags), rcode);
    assert_int_equal((R.flags & DNS_FLAG_AA) != 0, aa);
    assert_int_equal(R.count[DNS_SECTION_ANSWER], an);
    assert_int_equal(R.count[DNS_SECTION_AUTHORITY], ns);
    assert_int_equal(R.count[DNS_SECTION_ADDITIONAL], ar);
}

static void expect_rr(int section, size_t i, const char *owner, uint16_t type, uint32_t ttl, const char *data)
{
    const rr_t *rr = &R.rr[section][i];
    assert_string_equal(rr->owner, owner);
    assert_int_equal(rr->type, type);
    assert_int_equal(rr->rclass, DNS_CLASS_IN);
    assert_int_equal(rr->ttl, ttl);
    if (data)
        assert_string_equal(rr->data, data);
}

static void expect_soa(void)
{
    /* RFC 2308 §3: TTL = min(SOA TTL 3600, MINIMUM 300) */
    expect_rr(DNS_SECTION_AUTHORITY, 0, "example.com.", DNS_TYPE_SOA, 300, "ns1.example.com.");
}

/* ---- positive answers ------------------------------------------------- */

static void test_exact_match(void **state)
{
    (void)state;
    ask("example.com.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 1, 0, 0);
    expect_rr(0, 0, "example.com.", DNS_TYPE_A, 3600, "192.0.2.1");
    assert_int_equal(R.qtype, DNS_TYPE_A);
    assert_int_equal(R.qclass, DNS_CLASS_IN);
    assert_false(R.has_opt);
}

static void test_question_and_owner_keep_client_case(void **state)
{
    (void)state;
    ask("ExAmPlE.CoM.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 1, 0, 0);
    assert_memory_equal(R.qname, "\7ExAmPlE\3CoM", 13);
    /* the answer owner is a pointer to the question as the client wrote it */
    assert_memory_equal(R.raw + 12 + 13 + 4, "\xc0\x0c", 2);
}

static void test_flags_copied_and_cleared(void **state)
{
    (void)state;
    qopts_t o = { .flags = DNS_FLAG_RD | DNS_FLAG_CD | DNS_FLAG_AD | DNS_FLAG_TC | 0x0040 };
    ask("example.com.", DNS_TYPE_A, &o);
    assert_int_equal(R.flags, DNS_FLAG_QR | DNS_FLAG_AA | DNS_FLAG_RD);
    ask("example.com.", DNS_TYPE_A, NULL);
    assert_int_equal(R.flags, DNS_FLAG_QR | DNS_FLAG_AA);
}

static void test_mx_and_ns_get_additional_glue(void **state)
{
    (void)state;
    ask("example.com.", DNS_TYPE_MX, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 2, 0, 1);
    expect_rr(0, 0, "example.com.", DNS_TYPE_MX, 3600, "mail.example.com.");
    expect_rr(0, 1, "example.com.", DNS_TYPE_MX, 3600, "mail2.other.net.");
    expect_rr(2, 0, "mail.example.com.", DNS_TYPE_A, 3600, "192.0.2.25");
    ask("example.com.", DNS_TYPE_NS, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 2, 0, 2);
    expect_rr(2, 0, "ns1.example.com.", DNS_TYPE_A, 3600, "192.0.2.53");
    expect_rr(2, 1, "ns1.example.com.", DNS_TYPE_AAAA, 3600, NULL);
    /* a target matched by a wildcard gets synthesised records, as in Knot */
    ask("mxwild.example.com.", DNS_TYPE_MX, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 1, 0, 1);
    expect_rr(2, 0, "foo.wild.example.com.", DNS_TYPE_A, 3600, "192.0.2.99");
}

static void test_srv_target_not_compressed_but_glued(void **state)
{
    (void)state;
    ask("srv.example.com.", DNS_TYPE_SRV, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 1, 0, 1);
    expect_rr(0, 0, "srv.example.com.", DNS_TYPE_SRV, 3600, "sip.example.com.");
    expect_rr(2, 0, "sip.example.com.", DNS_TYPE_A, 3600, "192.0.2.60");
    /* the whole target sits in the rdata: "\3sip\7example\3com\0" */
    const uint8_t target[] = "\3sip\7example\3com";
    assert_non_null(memmem(R.raw, R.len, target, sizeof target));
}

/* ---- CNAME ------------------------------------------------------------ */

static void test_cname_chain(void **state)
{
    (void)state;
    ask("chain1.example.com.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 3, 0, 0);
    expect_rr(0, 0, "chain1.example.com.", DNS_TYPE_CNAME, 3600, "chain2.example.com.");
    expect_rr(0, 1, "chain2.example.com.", DNS_TYPE_CNAME, 3600, "chain3.example.com.");
    expect_rr(0, 2, "chain3.example.com.", DNS_TYPE_A, 3600, "192.0.2.3");
    /* asking for the CNAME itself does not follow it */
    ask("chain1.example.com.", DNS_TYPE_CNAME, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 1, 0, 0);
}

static void test_cname_loop_stops(void **state)
{
    (void)state;
    ask("loop1.example.com.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 2, 0, 0);
    expect_rr(0, 0, "loop1.example.com.", DNS_TYPE_CNAME, 3600, "loop2.example.com.");
    expect_rr(0, 1, "loop2.example.com.", DNS_TYPE_CNAME, 3600, "loop1.example.com.");
}

static void test_cname_chain_limit(void **state)
{
    (void)state;
    /* c1..c6 are CNAMEs: five are answered, the sixth is left out */
    ask("c1.example.com.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 5, 0, 0);
    expect_rr(0, 4, "c5.example.com.", DNS_TYPE_CNAME, 3600, "c6.example.com.");
    /* five CNAMEs, and the name the fifth points to is still answered */
    ask("c2.example.com.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 6, 0, 0);
    expect_rr(0, 5, "c7.example.com.", DNS_TYPE_A, 3600, "192.0.2.7");
    /* ... even when it does not exist */
    ask("d1.example.com.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_NXDOMAIN, true, 5, 1, 0);
    expect_soa();
}

static void test_cname_out_of_zone_and_dangling(void **state)
{
    (void)state;
    ask("out.example.com.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 1, 0, 0);
    /* RFC 6604: the rcode is that of the last name, here NXDOMAIN */
    ask("dangling.example.com.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_NXDOMAIN, true, 1, 1, 0);
    expect_rr(0, 0, "dangling.example.com.", DNS_TYPE_CNAME, 3600, "nothere.example.com.");
    expect_soa();
}

static void test_cname_into_a_delegation(void **state)
{
    (void)state;
    /* the target is below child's cut in this zone: a referral is added,
     * and AA stays (the CNAME is ours) — Knot DNS does the same */
    ask("tochild.example.com.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 1, 1, 1);
    expect_rr(1, 0, "child.example.com.", DNS_TYPE_NS, 3600, "ns1.child.example.com.");
    expect_rr(2, 0, "ns1.child.example.com.", DNS_TYPE_A, 3600, "192.0.2.200");
}

/* ---- wildcards -------------------------------------------------------- */

static void test_wildcard_synthesis(void **state)
{
    (void)state;
    ask("X.wild.example.com.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 1, 0, 0);
    expect_rr(0, 0, "x.wild.example.com.", DNS_TYPE_A, 3600, "192.0.2.99");
    assert_memory_equal(R.raw + R.len - 16, "\xc0\x0c", 2); /* owner = qname */
    ask("a.b.wild.example.com.", DNS_TYPE_A, NULL); /* several labels */
    expect_header(DNS_RCODE_NOERROR, true, 1, 0, 0);
    ask("x.wild.example.com.", DNS_TYPE_MX, NULL); /* wildcard NODATA */
    expect_header(DNS_RCODE_NOERROR, true, 0, 1, 0);
    expect_soa();
    ask("sub.wild.example.com.", DNS_TYPE_A, NULL); /* an existing name wins */
    expect_rr(0, 0, "sub.wild.example.com.", DNS_TYPE_A, 3600, "192.0.2.98");
    /* below an existing node the wildcard does not apply (RFC 4592 §2.2) */
    ask("y.sub.wild.example.com.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_NXDOMAIN, true, 0, 1, 0);
    ask("*.wild.example.com.", DNS_TYPE_A, NULL); /* the wildcard itself */
    expect_rr(0, 0, "*.wild.example.com.", DNS_TYPE_A, 3600, "192.0.2.99");
}

static void test_wildcard_cname(void **state)
{
    (void)state;
    ask("q.cw.example.com.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 2, 0, 0);
    expect_rr(0, 0, "q.cw.example.com.", DNS_TYPE_CNAME, 3600, "web.example.com.");
    expect_rr(0, 1, "web.example.com.", DNS_TYPE_A, 3600, "192.0.2.80");
}

/* ---- negative answers ------------------------------------------------- */

static void test_nxdomain_and_nodata(void **state)
{
    (void)state;
    ask("nx.example.com.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_NXDOMAIN, true, 0, 1, 0);
    expect_soa();
    ask("a.b.nx.example.com.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_NXDOMAIN, true, 0, 1, 0);
    ask("web.example.com.", DNS_TYPE_AAAA, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 0, 1, 0);
    expect_soa();
}

static void test_empty_non_terminal_is_nodata(void **state)
{
    (void)state;
    ask("c.ent.example.com.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 0, 1, 0);
    expect_soa();
    ask("ent.example.com.", DNS_TYPE_ANY, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 0, 1, 0);
}

/* ---- delegations ------------------------------------------------------ */

static void test_referral(void **state)
{
    (void)state;
    const char *names[] = { "deleg.example.com.", "x.y.deleg.example.com.", "ns.deleg.example.com." };
    for (size_t i = 0; i < 3; i++) {
        ask(names[i], DNS_TYPE_A, NULL);
        expect_header(DNS_RCODE_NOERROR, false, 0, 2, 2);
        expect_rr(1, 0, "deleg.example.com.", DNS_TYPE_NS, 3600, "ns.deleg.example.com.");
        expect_rr(1, 1, "deleg.example.com.", DNS_TYPE_NS, 3600, "ns.other.net.");
        expect_rr(2, 0, "ns.deleg.example.com.", DNS_TYPE_A, 3600, "192.0.2.100");
        expect_rr(2, 1, "ns.deleg.example.com.", DNS_TYPE_AAAA, 3600, NULL);
    }
    ask("deleg.example.com.", DNS_TYPE_NS, NULL); /* NS at a cut: referral too */
    expect_header(DNS_RCODE_NOERROR, false, 0, 2, 2);
    ask("deleg.example.com.", DNS_TYPE_ANY, NULL);
    expect_header(DNS_RCODE_NOERROR, false, 0, 2, 2);
}

static void test_ds_is_answered_by_the_parent(void **state)
{
    (void)state;
    ask("deleg.example.com.", DNS_TYPE_DS, NULL); /* no DS: authoritative NODATA */
    expect_header(DNS_RCODE_NOERROR, true, 0, 1, 0);
    expect_soa();
    ask("child.example.com.", DNS_TYPE_DS, NULL); /* both sides served: parent */
    expect_header(DNS_RCODE_NOERROR, true, 0, 1, 0);
    expect_soa();
    ask("example.com.", DNS_TYPE_DS, NULL); /* no parent served: the zone itself */
    expect_header(DNS_RCODE_NOERROR, true, 0, 1, 0);
    expect_soa();
    ask("x.deleg.example.com.", DNS_TYPE_DS, NULL); /* below the cut: referral */
    expect_header(DNS_RCODE_NOERROR, false, 0, 2, 2);
}

static void test_most_specific_zone_and_refused(void **state)
{
    (void)state;
    ask("x.child.example.com.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 1, 0, 0);
    expect_rr(0, 0, "x.child.example.com.", DNS_TYPE_A, 600, "192.0.2.202");
    ask("nx.child.example.com.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_NXDOMAIN, true, 0, 1, 0);
    expect_rr(1, 0, "child.example.com.", DNS_TYPE_SOA, 60, NULL);
    ask("www.example.org.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_REFUSED, false, 0, 0, 0);
    assert_int_equal(R.qd, 1);
    ask("com.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_REFUSED, false, 0, 0, 0);
    ask(".", DNS_TYPE_NS, NULL);
    expect_header(DNS_RCODE_REFUSED, false, 0, 0, 0);
}

/* ---- ANY and other qtypes --------------------------------------------- */

static void test_any_answers_one_rrset(void **state)
{
    (void)state;
    ask("example.com.", DNS_TYPE_ANY, NULL); /* A, NS, SOA, MX: the lowest type */
    expect_header(DNS_RCODE_NOERROR, true, 1, 0, 0);
    expect_rr(0, 0, "example.com.", DNS_TYPE_A, 3600, "192.0.2.1");
    ask("www.example.com.", DNS_TYPE_ANY, NULL); /* the CNAME, not followed */
    expect_header(DNS_RCODE_NOERROR, true, 1, 0, 0);
    expect_rr(0, 0, "www.example.com.", DNS_TYPE_CNAME, 3600, "web.example.com.");
    ask("nx.example.com.", DNS_TYPE_ANY, NULL);
    expect_header(DNS_RCODE_NXDOMAIN, true, 0, 1, 0);
}

static void test_meta_and_transfer_types(void **state)
{
    (void)state;
    ask("example.com.", DNS_TYPE_AXFR, NULL);
    expect_header(DNS_RCODE_NOTIMP, false, 0, 0, 0);
    qopts_t tcp = { .tcp = true };
    ask("example.com.", DNS_TYPE_AXFR, &tcp);
    expect_header(DNS_RCODE_NOTIMP, false, 0, 0, 0);
    ask("example.com.", DNS_TYPE_IXFR, NULL);
    expect_header(DNS_RCODE_NOTIMP, false, 0, 0, 0);
    ask("example.com.", 0, NULL);
    expect_header(DNS_RCODE_NOTIMP, false, 0, 0, 0);
    ask("example.com.", DNS_TYPE_MAILA, NULL); /* ordinary lookup, as Knot */
    expect_header(DNS_RCODE_NOERROR, true, 0, 1, 0);
    ask("example.com.", 65400, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 0, 1, 0);
}

/* ---- errors ----------------------------------------------------------- */

static void test_classes_and_opcodes(void **state)
{
    (void)state;
    qopts_t o = { .qclass = DNS_CLASS_CH };
    ask("example.com.", DNS_TYPE_A, &o);
    expect_header(DNS_RCODE_REFUSED, false, 0, 0, 0);
    assert_int_equal(R.qclass, DNS_CLASS_CH);
    o.qclass = DNS_CLASS_ANY;
    ask("example.com.", DNS_TYPE_A, &o);
    expect_header(DNS_RCODE_REFUSED, false, 0, 0, 0);
    qopts_t notify = { .flags = 4 << 11 };
    ask("example.com.", DNS_TYPE_SOA, &notify);
    expect_header(DNS_RCODE_NOTIMP, false, 0, 0, 0);
    assert_int_equal(DNS_OPCODE(R.flags), 4);
    assert_int_equal(R.qd, 1);
}

static size_t answer_raw(const uint8_t *q, size_t len)
{
    memset(&R, 0, sizeof R);
    R.len = dns_answer(db, q, len, R.raw, sizeof R.raw, false);
    if (R.len >= 12) {
        R.flags = rd16(R.raw + 2);
        R.qd = rd16(R.raw + 4);
    }
    return R.len;
}

static void test_malformed_queries(void **state)
{
    (void)state;
    uint8_t q[512];
    qopts_t none = { 0 };
    size_t len = make_query(q, "example.com.", DNS_TYPE_A, &none);
    assert_int_equal(answer_raw(q, 11), 0); /* shorter than a header */
    q[2] |= 0x80;                            /* a response */
    assert_int_equal(answer_raw(q, len), 0);
    q[2] &= 0x7f;
    q[len] = 0; /* trailing octet: FORMERR, question echoed */
    assert_int_equal(answer_raw(q, len + 1), 29);
    assert_int_equal(DNS_RCODE(R.flags), DNS_RCODE_FORMERR);
    assert_int_equal(R.qd, 1);
    q[5] = 0; /* QDCOUNT 0 */
    assert_int_equal(answer_raw(q, 12), 12);
    assert_int_equal(DNS_RCODE(R.flags), DNS_RCODE_FORMERR);
    assert_memory_equal(R.raw, "\xab\xcd", 2);
    q[5] = 2; /* QDCOUNT 2 */
    assert_int_equal(answer_raw(q, len), 12);
    assert_int_equal(DNS_RCODE(R.flags), DNS_RCODE_FORMERR);
    assert_int_equal(R.qd, 0);
    q[5] = 1;
    q[12] = 0xc0; /* qname: forward pointer */
    q[13] = 0x30;
    assert_int_equal(answer_raw(q, len), 12);
    assert_int_equal(DNS_RCODE(R.flags), DNS_RCODE_FORMERR);
    /* with a null database every served name is refused */
    len = make_query(q, "example.com.", DNS_TYPE_A, &none);
    memset(&R, 0, sizeof R);
    R.len = dns_answer(NULL, q, len, R.raw, sizeof R.raw, false);
    assert_int_equal(DNS_RCODE(rd16(R.raw + 2)), DNS_RCODE_REFUSED);
    /* a buffer too small for a header: nothing */
    assert_int_equal(dns_answer(db, q, len, R.raw, 11, false), 0);
}

/* A node not ready (kv/readiness.h): SERVFAIL with the question, for a
 * served zone too, whatever the opcode; FORMERR and silence unchanged. */
static void test_unavailable_is_servfail_never_refused(void **state)
{
    (void)state;
    uint8_t q[512], resp[512];
    qopts_t edns = { .edns = true, .payload = 1232 };
    size_t len = make_query(q, "www.example.com.", DNS_TYPE_A, &edns);
    size_t n = dns_answer_unavailable(q, len, resp, sizeof resp, false);
    assert_true(n > 12);
    assert_int_equal(DNS_RCODE(rd16(resp + 2)), DNS_RCODE_SERVFAIL);
    assert_int_equal(rd16(resp + 4), 1);  /* the question */
    assert_int_equal(rd16(resp + 6), 0);  /* no answer */
    assert_int_equal(rd16(resp + 10), 1); /* the OPT */
    assert_false(rd16(resp + 2) & DNS_FLAG_AA);
    q[2] = (uint8_t)((q[2] & 0x87) | (5 << 3)); /* an UPDATE */
    n = dns_answer_unavailable(q, len, resp, sizeof resp, false);
    assert_int_equal(DNS_RCODE(rd16(resp + 2)), DNS_RCODE_SERVFAIL);
    q[2] |= 0x80; /* a response: nothing */
    assert_int_equal(dns_answer_unavailable(q, len, resp, sizeof resp, false), 0);
    qopts_t none = { 0 };
    len = make_query(q, "example.com.", DNS_TYPE_A, &none);
    q[len] = 0; /* trailing octet: still FORMERR */
    n = dns_answer_unavailable(q, len + 1, resp, sizeof resp, true);
    assert_int_equal(DNS_RCODE(rd16(resp + 2)), DNS_RCODE_FORMERR);
    assert_int_equal(dns_answer_unavailable(q, 11, resp, sizeof resp, false), 0);
}

/* ---- EDNS and sizes --------------------------------------------------- */

static void test_edns_echo_and_badvers(void **state)
{
    (void)state;
    qopts_t o = { .edns = true, .payload = 4096, .do_bit = true };
    ask("example.com.", DNS_TYPE_A, &o);
    expect_header(DNS_RCODE_NOERROR, true, 1, 0, 0);
    assert_true(R.has_opt);
    assert_int_equal(R.opt_payload, DNS_EDNS_PAYLOAD);
    assert_true(R.opt_do);
    assert_int_equal(R.opt_ext_rcode, 0);
    o.do_bit = false;
    o.version = 1;
    ask("example.com.", DNS_TYPE_A, &o);
    expect_header(0, false, 0, 0, 0); /* BADVERS = 16: low bits 0 ... */
    assert_int_equal(R.opt_ext_rcode, 1); /* ... high bits in the OPT */
    assert_false(R.opt_do);
    assert_int_equal(R.qd, 1);
    o.version = 0;
    ask("www.example.org.", DNS_TYPE_A, &o); /* errors carry the OPT too */
    expect_header(DNS_RCODE_REFUSED, false, 0, 0, 0);
    assert_true(R.has_opt);
}

static void test_truncation(void **state)
{
    (void)state;
    /* six 101-octet TXT strings do not fit in 512 octets: TC, no partial set */
    ask("big.example.com.", DNS_TYPE_TXT, NULL);
    expect_header(DNS_RCODE_NOERROR, true, 0, 0, 0);
    assert_true(R.flags & DNS_FLAG_TC);
    qopts_t small = { .edns = true, .payload = 100 }; /* below 512: 512 */
    ask("big.example.com.", DNS_TYPE_TXT, &small);
    assert_true(R.flags & DNS_FLAG_TC);
    assert_true(R.has_opt);
    assert_true(R.len <= 512);
    qopts_t large = { .edns = true, .payload = 4096 }; /* capped at 1232 */
    ask("big.example.com.", DNS_TYPE_TXT, &large);
    assert_false(R.flags & DNS_FLAG_TC);
    expect_header(DNS_RCODE_NOERROR, true, 6, 0, 0);
    qopts_t tcp = { .tcp = true };
    ask("big.example.com.", DNS_TYPE_TXT, &tcp);
    assert_false(R.flags & DNS_FLAG_TC);
    expect_header(DNS_RCODE_NOERROR, true, 6, 0, 0);
    /* the caller's buffer bounds the response too */
    qopts_t tight = { .tcp = true, .cap = 100 };
    assert_true(ask("big.example.com.", DNS_TYPE_TXT, &tight) <= 100);
    assert_true(R.flags & DNS_FLAG_TC);
    for (size_t cap = 12; cap < 60; cap++) { /* even with EDNS, even tiny */
        qopts_t t = { .edns = true, .payload = 4096, .cap = cap };
        assert_true(ask("big.example.com.", DNS_TYPE_TXT, &t) <= cap);
    }
}

static void test_additional_dropped_without_tc(void **state)
{
    (void)state;
    /* 20 MX fit in 512 octets, their 20 A records do not all fit: the
     * additional section is cut without setting TC (RFC 2181 §9) */
    ask("many.example.com.", DNS_TYPE_MX, NULL);
    assert_false(R.flags & DNS_FLAG_TC);
    assert_int_equal(R.count[DNS_SECTION_ANSWER], 20);
    assert_true(R.count[DNS_SECTION_ADDITIONAL] > 0);
    assert_true(R.count[DNS_SECTION_ADDITIONAL] < 20);
    assert_true(R.len <= 512);
    qopts_t tcp = { .tcp = true };
    ask("many.example.com.", DNS_TYPE_MX, &tcp);
    assert_int_equal(R.count[DNS_SECTION_ADDITIONAL], 20);
}

static void test_referral_glue_that_does_not_fit_truncates(void **state)
{
    (void)state;
    /* 12 NS fit in 512 octets; their glue (below the cut) does not: TC,
     * with the glue that fit (RFC 9471; Knot DNS does the same) */
    ask("bigdeleg.example.com.", DNS_TYPE_A, NULL);
    assert_true(R.flags & DNS_FLAG_TC);
    assert_int_equal(R.count[DNS_SECTION_AUTHORITY], 12);
    assert_true(R.count[DNS_SECTION_ADDITIONAL] > 0);
    assert_true(R.count[DNS_SECTION_ADDITIONAL] < 24);
    qopts_t tcp = { .tcp = true };
    ask("bigdeleg.example.com.", DNS_TYPE_A, &tcp);
    assert_false(R.flags & DNS_FLAG_TC);
    assert_int_equal(R.count[DNS_SECTION_ADDITIONAL], 24);
    /* out-of-zone name servers need no glue: no TC */
    ask("x.oobdeleg.example.com.", DNS_TYPE_A, NULL);
    expect_header(DNS_RCODE_NOERROR, false, 0, 12, 0);
    assert_false(R.flags & DNS_FLAG_TC);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_match),
        cmocka_unit_test(test_question_and_owner_keep_client_case),
        cmocka_unit_test(test_flags_copied_and_cleared),
        cmocka_unit_test(test_mx_and_ns_get_additional_glue),
        cmocka_unit_test(test_srv_target_not_compressed_but_glued),
        cmocka_unit_test(test_cname_chain),
        cmocka_unit_test(test_cname_loop_stops),
        cmocka_unit_test(test_cname_chain_limit),
        cmocka_unit_test(test_cname_out_of_zone_and_dangling),
        cmocka_unit_test(test_cname_into_a_delegation),
        cmocka_unit_test(test_wildcard_synthesis),
        cmocka_unit_test(test_wildcard_cname),
        cmocka_unit_test(test_nxdomain_and_nodata),
        cmocka_unit_test(test_empty_non_terminal_is_nodata),
        cmocka_unit_test(test_referral),
        cmocka_unit_test(test_ds_is_answered_by_the_parent),
        cmocka_unit_test(test_most_specific_zone_and_refused),
        cmocka_unit_test(test_any_answers_one_rrset),
        cmocka_unit_test(test_meta_and_transfer_types),
        cmocka_unit_test(test_classes_and_opcodes),
        cmocka_unit_test(test_malformed_queries),
        cmocka_unit_test(test_edns_echo_and_badvers),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_additional_dropped_without_tc),
        cmocka_unit_test(test_referral_glue_that_does_not_fit_truncates),
        cmocka_unit_test(test_unavailable_is_servfail_never_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
