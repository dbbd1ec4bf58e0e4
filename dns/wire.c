/* dns/wire.c — DNS message parsing and building (API in dns/wire.h).
 *
 * Parsing follows NSD's order of checks: header, then the question, then
 * every remaining RR walked structurally (owner, fixed fields, rdata length
 * within the packet) so that the section counts are proven to match the
 * packet, and the OPT RR is found and validated on the way. Nothing in the
 * answer or authority sections of a query is used.
 *
 * The builder remembers where each written name (and each of its suffixes)
 * starts, up to DNS_COMPRESS_MAX positions, and reuses them as compression
 * pointers. Pointers can only address the first 16 KiB (14 bits), so names
 * written later than that are not remembered. */
#include "dns/wire.h"

#include <string.h>

#include "zone/rrtype.h"

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static uint8_t ascii_lower(uint8_t c)
{
    return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* ---- names ------------------------------------------------------------ */

int dns_read_name(const uint8_t *pkt, size_t len, size_t *pos, uint8_t out[NAME_MAX_WIRE])
{
    size_t p = *pos;
    size_t end = 0;      /* where the name ends in the packet, once known */
    bool jumped = false;
    size_t n = 0;
    for (;;) {
        if (p >= len)
            return -1;
        uint8_t l = pkt[p];
        if ((l & 0xc0) == 0xc0) {
            if (p + 1 >= len)
                return -1;
            size_t target = ((size_t)(l & 0x3f) << 8) | pkt[p + 1];
            /* Strictly backwards and never into the header. A cycle of
             * pointers alone is impossible (each jump lowers p); a cycle
             * through labels grows the name and hits the 255 limit. */
            if (target >= p || target < DNS_HEADER_LEN)
                return -1;
            if (!jumped)
                end = p + 2;
            jumped = true;
            p = target;
            continue;
        }
        if (l & 0xc0)
            return -1; /* 0x40 and 0x80 label types are reserved/obsolete */
        if (n + 1u + l > NAME_MAX_WIRE)
            return -1;
        if (p + 1u + l > len)
            return -1;
        memcpy(out + n, pkt + p, 1u + l);
        n += 1u + l;
        p += 1u + l;
        if (l == 0)
            break;
    }
    *pos = jumped ? end : p;
    return (int)n;
}

/* Skips one RR after the question; records the OPT RR when it is one.
 * Returns 0, or -1 when the RR is malformed or the OPT is misplaced. */
static int skip_rr(const uint8_t *pkt, size_t len, size_t *pos, bool additional, dns_query_t *q)
{
    uint8_t owner[NAME_MAX_WIRE];
    if (dns_read_name(pkt, len, pos, owner) < 0)
        return -1;
    if (*pos + 10 > len)
        return -1;
    const uint8_t *f = pkt + *pos;
    uint16_t type = get16(f), rclass = get16(f + 2), rdlen = get16(f + 8);
    *pos += 10;
    if (*pos + rdlen > len)
        return -1;
    if (type == DNS_TYPE_OPT) {
        /* RFC 6891 §6.1.1: one OPT, in the additional section. The owner
         * should be the root; like Knot DNS we do not insist on it. */
        if (!additional || q->has_edns)
            return -1;
        /* Options must tile the rdata exactly. */
        size_t o = 0;
        while (o < rdlen) {
            if (o + 4 > rdlen)
                return -1;
            size_t olen = get16(pkt + *pos + o + 2);
            if (o + 4 + olen > rdlen)
                return -1;
            o += 4 + olen;
        }
        q->has_edns = true;
        q->edns_payload = rclass;
        q->edns_version = f[5];
        q->edns_do = (f[6] & 0x80) != 0;
    }
    *pos += rdlen;
    return 0;
}

/* Parses the question at DNS_HEADER_LEN into q; returns the position after
 * it, or 0 when it is malformed. */
static size_t parse_question(const uint8_t *pkt, size_t len, dns_query_t *q)
{
    size_t pos = DNS_HEADER_LEN;
    int n = dns_read_name(pkt, len, &pos, q->qname);
    if (n < 0 || pos + 4 > len)
        return 0;
    q->qname_len = (size_t)n;
    q->qtype = get16(pkt + pos);
    q->qclass = get16(pkt + pos + 2);
    return pos + 4;
}

dns_parse_status_t dns_parse_query(const uint8_t *pkt, size_t len, dns_query_t *q)
{
    memset(q, 0, sizeof *q);
    if (len < DNS_HEADER_LEN)
        return DNS_PARSE_DROP;
    q->id = get16(pkt);
    q->flags = get16(pkt + 2);
    if (q->flags & DNS_FLAG_QR)
        return DNS_PARSE_DROP;
    q->qdcount = get16(pkt + 4);
    size_t rr_total = (size_t)get16(pkt + 6) + get16(pkt + 8) + get16(pkt + 10);
    size_t additional_from = (size_t)get16(pkt + 6) + get16(pkt + 8);
    if (q->qdcount > 1)
        return DNS_PARSE_FORMERR;
    size_t pos = DNS_HEADER_LEN;
    if (q->qdcount == 1) {
        pos = parse_question(pkt, len, q);
        if (pos == 0) {
            memset(q->qname, 0, sizeof q->qname);
            q->qname_len = 0;
            q->qtype = q->qclass = 0;
            return DNS_PARSE_FORMERR;
        }
    }
    for (size_t i = 0; i < rr_total; i++) {
        if (skip_rr(pkt, len, &pos, i >= additional_from, q) != 0) {
            q->has_edns = false; /* a broken packet gets no OPT back */
            return DNS_PARSE_FORMERR;
        }
    }
    if (pos != len) {
        q->has_edns = false; /* trailing octets: the counts lie */
        return DNS_PARSE_FORMERR;
    }
    /* A packet that parsed but asks nothing is FORMERR too; it keeps its
     * OPT, as Knot DNS does. */
    return q->qdcount == 1 ? DNS_PARSE_OK : DNS_PARSE_FORMERR;
}

/* ---- building: low-level writes --------------------------------------- */

static bool room(const dns_builder_t *b, size_t n)
{
    return b->len + n <= b->limit;
}

void dns_builder_init(dns_builder_t *b, uint8_t *buf, size_t limit, uint16_t id, uint16_t flags)
{
    memset(b, 0, sizeof *b);
    b->buf = buf;
    b->limit = limit;
    memset(buf, 0, DNS_HEADER_LEN);
    put16(buf, id);
    put16(buf + 2, flags);
    b->len = DNS_HEADER_LEN;
}

void dns_builder_use_index(dns_builder_t *b, dns_compress_index_t *index)
{
    memset(index->slot, 0, sizeof index->slot);
    b->index = index;
    b->ncomp = 0;
}

void dns_builder_set_flags(dns_builder_t *b, uint16_t flags)
{
    put16(b->buf + 2, flags);
}

void dns_builder_set_limit(dns_builder_t *b, size_t limit)
{
    b->limit = limit < b->len ? b->len : limit;
}

dns_builder_mark_t dns_builder_mark(const dns_builder_t *b)
{
    dns_builder_mark_t m = { .len = b->len, .ncomp = b->ncomp };
    memcpy(m.count, b->count, sizeof m.count);
    return m;
}

void dns_builder_rollback(dns_builder_t *b, const dns_builder_mark_t *m)
{
    b->len = m->len;
    b->ncomp = m->ncomp;
    memcpy(b->count, m->count, sizeof b->count);
}

size_t dns_builder_finish(dns_builder_t *b)
{
    put16(b->buf + 6, b->count[DNS_SECTION_ANSWER]);
    put16(b->buf + 8, b->count[DNS_SECTION_AUTHORITY]);
    put16(b->buf + 10, b->count[DNS_SECTION_ADDITIONAL]);
    return b->len;
}

/* ---- building: compression -------------------------------------------- */

/* True when the name written at `off` in our own output (pointers in it
 * are ours, hence valid and backwards) equals `name`, ignoring case. */
static bool name_at_equals(const uint8_t *buf, size_t off, const uint8_t *name)
{
    size_t i = 0;
    for (;;) {
        uint8_t l = buf[off];
        if ((l & 0xc0) == 0xc0) {
            off = ((size_t)(l & 0x3f) << 8) | buf[off + 1];
            continue;
        }
        if (l != name[i])
            return false;
        if (l == 0)
            return true;
        for (size_t j = 1; j <= l; j++) {
            if (ascii_lower(buf[off + j]) != ascii_lower(name[i + j]))
                return false;
        }
        off += 1u + l;
        i += 1u + l;
    }
}

/* Looks among the first `known` remembered names only: positions remembered
 * while writing the current name point at labels whose continuation is not
 * written yet, and matching them would make a pointer into the name itself. */
/* The index slot of a name (FNV-1a over its lowercased octets). */
static size_t index_slot(const uint8_t *name)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; name[i] != 0; i += 1u + name[i])
        for (size_t j = i; j <= i + name[i]; j++)
            h = (h ^ ascii_lower(name[j])) * 16777619u;
    return h & (DNS_COMPRESS_INDEX_SLOTS - 1);
}

/* Only names numbered below `known` count: the others were remembered
 * while writing the current name, or dropped by a rollback. */
static int find_indexed(const dns_builder_t *b, size_t known, const uint8_t *suffix)
{
    unsigned k = b->index->slot[index_slot(suffix)];
    if (k == 0 || k - 1 >= known)
        return -1;
    uint16_t off = b->index->offs[k - 1];
    return name_at_equals(b->buf, off, suffix) ? off : -1;
}

static int find_compressed(const dns_builder_t *b, size_t known, const uint8_t *suffix)
{
    if (b->index != NULL)
        return find_indexed(b, known, suffix);
    for (size_t k = 0; k < known; k++) {
        if (name_at_equals(b->buf, b->comp[k], suffix))
            return b->comp[k];
    }
    return -1;
}

static void remember(dns_builder_t *b, size_t off, const uint8_t *suffix)
{
    if (off >= 0x4000)
        return;
    if (b->index != NULL) {
        if (b->ncomp < DNS_COMPRESS_INDEX_MAX) {
            b->index->offs[b->ncomp] = (uint16_t)off;
            b->index->slot[index_slot(suffix)] = (uint16_t)(b->ncomp + 1);
            b->ncomp++;
        }
        return;
    }
    if (b->ncomp < DNS_COMPRESS_MAX)
        b->comp[b->ncomp++] = (uint16_t)off;
}

/* Writes `name` (uncompressed wire form) at b->len, compressed when
 * `compress`; remembers its label positions for later names when
 * `remember_it`. Returns 0, or -1 when out of room (b->len unchanged; some
 * remembered positions may then point past len and are dropped by the
 * caller's rollback). */
static int put_name(dns_builder_t *b, const uint8_t *name, bool compress, bool remember_it)
{
    size_t start = b->len;
    size_t known = b->ncomp; /* complete names written before this one */
    size_t i = 0;
    while (name[i] != 0) {
        int ptr = compress ? find_compressed(b, known, name + i) : -1;
        if (ptr >= 0) {
            if (!room(b, 2)) {
                b->len = start;
                return -1;
            }
            put16(b->buf + b->len, (uint16_t)(0xc000 | ptr));
            b->len += 2;
            return 0;
        }
        size_t l = name[i];
        if (!room(b, 1 + l)) {
            b->len = start;
            return -1;
        }
        if (remember_it)
            remember(b, b->len, name + i);
        memcpy(b->buf + b->len, name + i, 1 + l);
        b->len += 1 + l;
        i += 1 + l;
    }
    if (!room(b, 1)) {
        b->len = start;
        return -1;
    }
    b->buf[b->len++] = 0;
    return 0;
}

/* ---- building: question and RRs --------------------------------------- */

int dns_builder_question(dns_builder_t *b, const uint8_t *qname, uint16_t qtype, uint16_t qclass)
{
    dns_builder_mark_t m = dns_builder_mark(b);
    /* The question is written as received (never compressed) so the client
     * sees its own letter case; later names may point into it. */
    if (put_name(b, qname, false, true) != 0 || !room(b, 4)) {
        dns_builder_rollback(b, &m);
        return -1;
    }
    put16(b->buf + b->len, qtype);
    put16(b->buf + b->len + 2, qclass);
    b->len += 4;
    put16(b->buf + 4, 1);
    return 0;
}

/* Length of the uncompressed name at rdata[off], or 0 when it does not fit
 * inside rdlen (zone data is validated, but we never trust a length). */
static size_t rdata_name_len(const uint8_t *rdata, size_t rdlen, size_t off)
{
    size_t i = off;
    while (i < rdlen) {
        uint8_t l = rdata[i];
        if (l & 0xc0)
            return 0;
        if (l == 0)
            return i + 1 - off <= NAME_MAX_WIRE ? i + 1 - off : 0;
        i += 1u + l;
    }
    return 0;
}

/* Writes rdata, compressing the names inside it for the RFC 1035 types. */
static int put_rdata(dns_builder_t *b, uint16_t type, const uint8_t *rdata, uint16_t rdlen)
{
    size_t offs[2];
    int names = rrtype_names_compressible(type) ? rrtype_rdata_names(type, rdata, rdlen, offs) : 0;
    size_t done = 0;
    for (int k = 0; k < names; k++) {
        size_t nlen = rdata_name_len(rdata, rdlen, offs[k]);
        if (nlen == 0 || offs[k] < done)
            return -1;
        size_t gap = offs[k] - done;
        if (!room(b, gap))
            return -1;
        memcpy(b->buf + b->len, rdata + done, gap);
        b->len += gap;
        if (put_name(b, rdata + offs[k], true, true) != 0)
            return -1;
        done = offs[k] + nlen;
    }
    if (rdlen == done)
        return 0;
    if (!room(b, rdlen - done))
        return -1;
    memcpy(b->buf + b->len, rdata + done, rdlen - done);
    b->len += rdlen - done;
    return 0;
}

int dns_builder_rr(dns_builder_t *b, enum dns_section section, const uint8_t *owner,
                   uint16_t type, uint16_t rclass, uint32_t ttl,
                   const uint8_t *rdata, uint16_t rdlen)
{
    dns_builder_mark_t m = dns_builder_mark(b);
    if (put_name(b, owner, true, true) != 0 || !room(b, 10))
        goto fail;
    uint8_t *fixed = b->buf + b->len;
    put16(fixed, type);
    put16(fixed + 2, rclass);
    put32(fixed + 4, ttl);
    b->len += 10;
    size_t rd_start = b->len;
    if (put_rdata(b, type, rdata, rdlen) != 0)
        goto fail;
    put16(fixed + 8, (uint16_t)(b->len - rd_start));
    b->count[section]++;
    return 0;
fail:
    dns_builder_rollback(b, &m);
    return -1;
}

int dns_builder_opt(dns_builder_t *b, uint16_t payload, uint8_t ext_rcode_hi, bool do_bit)
{
    if (!room(b, 11))
        return -1;
    uint8_t *p = b->buf + b->len;
    p[0] = 0; /* owner: the root */
    put16(p + 1, DNS_TYPE_OPT);
    put16(p + 3, payload);
    p[5] = ext_rcode_hi;
    p[6] = 0; /* version 0 */
    p[7] = do_bit ? 0x80 : 0;
    p[8] = 0;
    put16(p + 9, 0); /* no options */
    b->len += 11;
    b->count[DNS_SECTION_ADDITIONAL]++;
    return 0;
}
