/* tests/fuzz/fuzz_dns_wire.c — libFuzzer target for the DNS message format
 * on its own (dns/wire.h): the name reader and query parser on hostile
 * packets, and the response builder's name compression driven by hostile
 * names and rdata. fuzz_dns_answer covers the parser only as the front of
 * the answer path, with responses built from a fixed zone; this target
 * checks round trips that one cannot.
 *
 * Input: cut at the first "|B|"; the part before is a packet, the part
 * after (if any) a program for the builder.
 *
 * Properties checked besides "no crash, no sanitizer report":
 *  - dns_read_name, tried at every offset of the packet, returns a valid
 *    uncompressed name (labels <= 63, total <= 255, the length it says) and
 *    moves past the name without leaving the packet;
 *  - a query that parses OK, rebuilt with the builder (question, and the
 *    OPT when it has EDNS version 0), parses again to the same fields;
 *  - any sequence of RRs, marks, rollbacks and limit changes gives a
 *    message within the limit whose counts match its octets exactly and
 *    whose every RR reads back (compression pointers followed) to the
 *    owner, type, class, TTL and rdata that went in — names compared
 *    case-insensitively, since compression may reuse an earlier spelling. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/wire.h"
#include "zone/name.h"
#include "zone/rrtype.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define POOL_MAX 16
#define RR_MAX 64
#define MARKS_MAX 8
#define MSG_MAX 4096

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}

/* ---- names found in the packet ---- */

typedef struct pool {
    uint8_t names[POOL_MAX][NAME_MAX_WIRE];
    size_t n;
} pool_t;

FUZZ_NO_COVERAGE static void pool_add(pool_t *p, const uint8_t *name)
{
    if (p->n < POOL_MAX)
        memcpy(p->names[p->n++], name, name_wire_len(name));
}

FUZZ_NO_COVERAGE static void check_name(const uint8_t *name, int n)
{
    fuzz_check(n > 0 && n <= NAME_MAX_WIRE);
    int i = 0;
    while (name[i] != 0) {
        fuzz_check(name[i] <= LABEL_MAX);
        i += 1 + name[i];
        fuzz_check(i < n);
    }
    fuzz_check(i + 1 == n && name_wire_len(name) == (size_t)n);
}

FUZZ_NO_COVERAGE static void read_every_name(const uint8_t *pkt, size_t len, pool_t *pool)
{
    size_t limit = len < 512 ? len : 512;
    for (size_t start = 0; start < limit; start++) {
        size_t pos = start;
        uint8_t name[NAME_MAX_WIRE];
        int n = dns_read_name(pkt, len, &pos, name);
        if (n < 0)
            continue;
        check_name(name, n);
        fuzz_check(pos > start && pos <= len);
        pool_add(pool, name);
    }
}

/* ---- query parse -> build -> parse ---- */

static void query_round_trip(const uint8_t *pkt, size_t len)
{
    dns_query_t q, again;
    if (dns_parse_query(pkt, len, &q) != DNS_PARSE_OK)
        return;
    fuzz_check(q.qdcount == 1);
    check_name(q.qname, (int)q.qname_len);
    static uint8_t buf[MSG_MAX];
    dns_builder_t b;
    dns_builder_init(&b, buf, sizeof buf, q.id, q.flags);
    fuzz_check(dns_builder_question(&b, q.qname, q.qtype, q.qclass) == 0);
    bool opt = q.has_edns && q.edns_version == 0;
    if (opt)
        fuzz_check(dns_builder_opt(&b, q.edns_payload, 0, q.edns_do) == 0);
    size_t n = dns_builder_finish(&b);
    fuzz_check(dns_parse_query(buf, n, &again) == DNS_PARSE_OK);
    fuzz_check(again.id == q.id && again.flags == q.flags && again.qdcount == 1);
    fuzz_check(again.qname_len == q.qname_len && memcmp(again.qname, q.qname, q.qname_len) == 0);
    fuzz_check(again.qtype == q.qtype && again.qclass == q.qclass);
    fuzz_check(again.has_edns == opt);
    if (opt)
        fuzz_check(again.edns_payload == q.edns_payload && again.edns_do == q.edns_do &&
                   again.edns_version == 0);
}

/* ---- builder program ---- */

typedef struct prog {
    const uint8_t *p;
    size_t left;
} prog_t;

FUZZ_NO_COVERAGE static uint8_t take(prog_t *g)
{
    if (!g->left)
        return 0;
    g->left--;
    return *g->p++;
}

typedef struct rr {
    enum dns_section section;
    const uint8_t *owner; /* into the pool */
    uint16_t type;
    uint32_t ttl;
    uint8_t rdata[600];
    uint16_t rdlen;
} rr_t;

static const uint16_t TYPES[] = {
    DNS_TYPE_A, DNS_TYPE_NS, DNS_TYPE_CNAME, DNS_TYPE_SOA, DNS_TYPE_PTR, DNS_TYPE_MX,
    DNS_TYPE_TXT, DNS_TYPE_AAAA, DNS_TYPE_SRV, 99, 65280,
};

FUZZ_NO_COVERAGE static void rd_bytes(rr_t *r, prog_t *g, size_t n)
{
    for (size_t i = 0; i < n && r->rdlen < sizeof r->rdata; i++)
        r->rdata[r->rdlen++] = take(g);
}

static void rd_name(rr_t *r, const pool_t *pool, prog_t *g)
{
    const uint8_t *name = pool->names[take(g) % pool->n];
    size_t n = name_wire_len(name);
    memcpy(r->rdata + r->rdlen, name, n);
    r->rdlen = (uint16_t)(r->rdlen + n);
}

/* Rdata for the type: well-formed from pool names and program bytes, or
 * (selector bit 7) raw bytes that may be malformed. */
static void make_rdata(rr_t *r, uint8_t sel, const pool_t *pool, prog_t *g)
{
    r->rdlen = 0;
    if (sel & 0x80) {
        rd_bytes(r, g, take(g));
        return;
    }
    switch (r->type) {
    case DNS_TYPE_A: rd_bytes(r, g, 4); break;
    case DNS_TYPE_AAAA: rd_bytes(r, g, 16); break;
    case DNS_TYPE_NS: case DNS_TYPE_CNAME: case DNS_TYPE_PTR: rd_name(r, pool, g); break;
    case DNS_TYPE_MX: rd_bytes(r, g, 2); rd_name(r, pool, g); break;
    case DNS_TYPE_SRV: rd_bytes(r, g, 6); rd_name(r, pool, g); break;
    case DNS_TYPE_SOA: rd_name(r, pool, g); rd_name(r, pool, g); rd_bytes(r, g, 20); break;
    default: rd_bytes(r, g, take(g) % 64); break;
    }
}

/* Checks one RR of the finished message at *pos against what went in. */
FUZZ_NO_COVERAGE static void check_rr(const uint8_t *msg, size_t len, size_t *pos, const rr_t *r)
{
    uint8_t name[NAME_MAX_WIRE];
    int n = dns_read_name(msg, len, pos, name);
    check_name(name, n);
    fuzz_check(name_equal(name, r->owner));
    fuzz_check(*pos + 10 <= len);
    const uint8_t *f = msg + *pos;
    fuzz_check(rd16(f) == r->type && rd16(f + 2) == DNS_CLASS_IN && rd32(f + 4) == r->ttl);
    size_t rdlen = rd16(f + 8), start = *pos + 10, end = start + rdlen;
    fuzz_check(end <= len);
    size_t offs[2], done = 0, at = start;
    int names = rrtype_names_compressible(r->type)
                    ? rrtype_rdata_names(r->type, r->rdata, r->rdlen, offs) : 0;
    for (int k = 0; k < names; k++) {
        size_t gap = offs[k] - done;
        fuzz_check(at + gap <= end && memcmp(msg + at, r->rdata + done, gap) == 0);
        at += gap;
        n = dns_read_name(msg, end, &at, name);
        check_name(name, n);
        fuzz_check(name_equal(name, r->rdata + offs[k]));
        done = offs[k] + name_wire_len(r->rdata + offs[k]);
    }
    fuzz_check(end - at == (size_t)r->rdlen - done);
    fuzz_check(memcmp(msg + at, r->rdata + done, end - at) == 0);
    *pos = end;
}

FUZZ_NO_COVERAGE static void check_message(const uint8_t *msg, size_t len, const rr_t *rrs, size_t nrr)
{
    size_t count[3] = { 0, 0, 0 };
    for (size_t i = 0; i < nrr; i++)
        count[rrs[i].section]++;
    fuzz_check(len >= DNS_HEADER_LEN && rd16(msg + 4) == 0);
    fuzz_check(rd16(msg + 6) == count[0] && rd16(msg + 8) == count[1] &&
               rd16(msg + 10) == count[2]);
    size_t pos = DNS_HEADER_LEN;
    for (size_t i = 0; i < nrr; i++)
        check_rr(msg, len, &pos, &rrs[i]);
    fuzz_check(pos == len);
}

static void run_builder(prog_t *g, pool_t *pool)
{
    static uint8_t buf[MSG_MAX];
    static rr_t rrs[RR_MAX];
    size_t nrr = 0, nmarks = 0;
    dns_builder_mark_t marks[MARKS_MAX];
    size_t mark_rr[MARKS_MAX];
    size_t limit = DNS_HEADER_LEN + (size_t)take(g) * 16;
    dns_builder_t b;
    dns_builder_init(&b, buf, limit, 0x1234, DNS_FLAG_QR);
    enum dns_section section = DNS_SECTION_ANSWER;
    while (g->left) {
        uint8_t op = take(g);
        switch (op % 5) {
        case 0:
        case 1: {
            if (nrr == RR_MAX)
                break;
            rr_t *r = &rrs[nrr];
            uint8_t sel = take(g);
            if ((enum dns_section)(take(g) % 3) > section)
                section++; /* sections are filled in order */
            r->section = section;
            r->owner = pool->names[take(g) % pool->n];
            r->type = TYPES[(sel & 0x7f) % (sizeof TYPES / sizeof TYPES[0])];
            r->ttl = (uint32_t)take(g) << 8 | take(g);
            make_rdata(r, sel, pool, g);
            size_t before = b.len;
            if (dns_builder_rr(&b, section, r->owner, r->type, DNS_CLASS_IN, r->ttl, r->rdata,
                               r->rdlen) == 0)
                nrr++;
            else
                fuzz_check(b.len == before);
            break;
        }
        case 2:
            if (nmarks < MARKS_MAX) {
                mark_rr[nmarks] = nrr;
                marks[nmarks++] = dns_builder_mark(&b);
            }
            break;
        case 3:
            if (nmarks) {
                nmarks--;
                dns_builder_rollback(&b, &marks[nmarks]);
                nrr = mark_rr[nmarks];
                section = nrr ? rrs[nrr - 1].section : DNS_SECTION_ANSWER;
            }
            break;
        case 4:
            dns_builder_set_limit(&b, DNS_HEADER_LEN + (size_t)take(g) * 16);
            break;
        }
        fuzz_check(b.len <= b.limit && b.limit <= sizeof buf);
    }
    size_t len = dns_builder_finish(&b);
    fuzz_check(len == b.len && len <= b.limit);
    check_message(buf, len, rrs, nrr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_part_t parts[2];
    size_t n = fuzz_split(data, size, "|B|", parts, 2);
    pool_t pool = { .n = 0 };
    static const uint8_t root[1] = { 0 };
    static const uint8_t www[] = "\3www\7example\3com";
    pool_add(&pool, root);
    pool_add(&pool, www);
    pool_add(&pool, www + 4);
    read_every_name(parts[0].data, parts[0].len, &pool);
    query_round_trip(parts[0].data, parts[0].len);
    if (n == 2) {
        prog_t g = { parts[1].data, parts[1].len };
        run_builder(&g, &pool);
    }
    return 0;
}
