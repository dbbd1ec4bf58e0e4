/* tests/fuzz/fuzz_dns_answer.c — libFuzzer target for the query parser and
 * the answer engine (dns_parse_query, dns_answer) on a zone with every
 * construct the engine handles (wildcards, cuts with glue, CNAME chains and
 * loops, empty non-terminals, a large RRset).
 *
 * Besides "no crash, no sanitizer report", every response must be a
 * well-formed message within the size limit: QR set, the query's ID, a
 * question identical to the query's when the query parsed, and sections
 * whose counts match the octets exactly (names read back with the strict
 * parser, so our compression pointers must all point backwards). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/answer.h"
#include "dns/wire.h"
#include "zone/db.h"
#include "zone/zone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ZONE[] =
    "$ORIGIN example.com.\n$TTL 3600\n"
    "@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n"
    "@ NS ns1\n@ MX 10 mail\n@ A 192.0.2.1\n"
    "ns1 A 192.0.2.53\nns1 AAAA 2001:db8::53\nmail A 192.0.2.25\n"
    "www CNAME web\nweb A 192.0.2.80\nloop1 CNAME loop2\nloop2 CNAME loop1\n"
    "out CNAME www.example.net.\ndangling CNAME nothere\n"
    "*.wild A 192.0.2.99\n*.wild MX 1 mail\nsub.wild TXT \"x\"\na.b.c.ent A 192.0.2.7\n"
    "deleg NS ns.deleg\nns.deleg A 192.0.2.100\n*.cw CNAME web\n"
    "srv SRV 0 5 5060 mail\n"
    "big TXT \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"\n"
    "big TXT \"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"\n"
    "big TXT \"cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc\"\n"
    "big TXT \"dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd\"\n"
    "big TXT \"eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee\"\n";

static zonedb_t *db;

static void check(int cond)
{
    if (!cond)
        abort();
}

static void load(void)
{
    uint8_t origin[NAME_MAX_WIRE];
    const char *e;
    check(name_from_text("example.com.", 12, NULL, origin, &e) > 0);
    char err[ZONE_ERR_MAX];
    zone_t *z = zone_parse_text(ZONE, sizeof ZONE - 1, "fuzz", origin, err);
    check(z != NULL);
    zonedb_index_t *zi = zonedb_index_build(z, err);
    check(zi != NULL);
    zone_free(z);
    zonedb_t *empty = zonedb_new();
    db = zonedb_with_zone(empty, zi);
    zonedb_free(empty);
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Walks the whole response; aborts on anything out of place. */
static void check_response(const uint8_t *q, size_t qlen, const uint8_t *r, size_t len, size_t limit)
{
    check(len >= DNS_HEADER_LEN && len <= limit);
    check(rd16(r) == rd16(q));
    check(r[2] & 0x80);
    dns_query_t parsed;
    (void)dns_parse_query(q, qlen, &parsed); /* fills the question even on FORMERR */
    size_t pos = DNS_HEADER_LEN;
    uint8_t name[NAME_MAX_WIRE];
    if (rd16(r + 4) == 1) {
        int n = dns_read_name(r, len, &pos, name);
        check(n > 0 && pos + 4 <= len);
        check(parsed.qname_len == (size_t)n && memcmp(name, parsed.qname, (size_t)n) == 0);
        pos += 4;
    } else {
        check(rd16(r + 4) == 0);
        /* a parsed question is left out only when it cannot fit */
        check(parsed.qname_len == 0 || limit < DNS_HEADER_LEN + parsed.qname_len + 4);
    }
    size_t rrs = (size_t)rd16(r + 6) + rd16(r + 8) + rd16(r + 10);
    for (size_t i = 0; i < rrs; i++) {
        check(dns_read_name(r, len, &pos, name) > 0);
        check(pos + 10 <= len);
        size_t rdlen = rd16(r + pos + 8);
        pos += 10 + rdlen;
        check(pos <= len);
    }
    check(pos == len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t resp[DNS_TCP_MAX];
    if (!db)
        load();
    size_t len = dns_answer(db, data, size, resp, 512, false);
    if (len)
        check_response(data, size, resp, len, 512);
    len = dns_answer(db, data, size, resp, DNS_EDNS_PAYLOAD, false);
    if (len)
        check_response(data, size, resp, len, DNS_EDNS_PAYLOAD);
    len = dns_answer(db, data, size, resp, sizeof resp, true);
    if (len)
        check_response(data, size, resp, len, sizeof resp);
    /* any buffer size, tiny ones included, bounds the response */
    size_t cap = size ? DNS_HEADER_LEN + (size_t)data[size - 1] * 5 : DNS_HEADER_LEN;
    len = dns_answer(db, data, size, resp, cap, true);
    if (len)
        check_response(data, size, resp, len, cap);
    return 0;
}
