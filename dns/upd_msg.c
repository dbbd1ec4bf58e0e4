/* dns/upd_msg.c — bounds-checked parsing of RFC 2136 UPDATE messages into a
 * zone_update_t (dns/upd_msg.h). Records are first copied into a growable
 * arena at offsets, and their pointers fixed once the arena stops moving. */
#include "dns/upd_msg.h"

#include <stdlib.h>
#include <string.h>

#include "dns/wire.h"
#include "zone/rrtype.h"

typedef struct arena {
    uint8_t *data;
    size_t len, cap;
    bool failed;
} arena_t;

/* Appends n bytes; returns their offset (or SIZE_MAX on failure). */
static size_t arena_put(arena_t *a, const void *p, size_t n)
{
    if (a->failed)
        return SIZE_MAX;
    if (a->len + n > a->cap) {
        size_t cap = a->cap ? a->cap : 1024;
        while (cap < a->len + n)
            cap *= 2;
        uint8_t *d = realloc(a->data, cap);
        if (!d) {
            a->failed = true;
            return SIZE_MAX;
        }
        a->data = d;
        a->cap = cap;
    }
    size_t at = a->len;
    memcpy(a->data + at, p, n);
    a->len += n;
    return at;
}

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

/* Decompresses the rdata at msg[pos..pos+rdlen) into out (at most
 * RDATA_MAX); returns its length or -1. Names may point backwards anywhere
 * in the message but must end inside the rdata. */
static int rdata_decompress(const uint8_t *msg, size_t pos, uint16_t type, uint16_t rdlen,
                            uint8_t *out)
{
    size_t end = pos + rdlen, n = 0;
    size_t prefix = type == RR_TYPE_MX ? 2 : 0;
    int names = type == RR_TYPE_SOA ? 2
              : (type == RR_TYPE_NS || type == RR_TYPE_CNAME || type == RR_TYPE_PTR ||
                 type == RR_TYPE_MX) ? 1 : 0;
    if (names == 0 || rdlen == 0) {
        memcpy(out, msg + pos, rdlen);
        return rdlen;
    }
    if (pos + prefix > end)
        return -1;
    memcpy(out, msg + pos, prefix);
    n = prefix;
    pos += prefix;
    for (int k = 0; k < names; k++) {
        uint8_t name[NAME_MAX_WIRE];
        int nl = dns_read_name(msg, end, &pos, name);
        if (nl < 0)
            return -1;
        memcpy(out + n, name, (size_t)nl);
        n += (size_t)nl;
    }
    if (end - pos + n > RDATA_MAX)
        return -1;
    memcpy(out + n, msg + pos, end - pos); /* SOA numbers, MX nothing */
    n += end - pos;
    return (int)n;
}

/* A record as offsets into the arena until the arena is final. */
typedef struct rec {
    size_t owner_off, rdata_off;
    uint16_t type, rclass, rdlen;
    uint32_t ttl;
} rec_t;

static int read_record(const uint8_t *msg, size_t len, size_t *pos, arena_t *a, rec_t *r,
                       uint8_t *scratch)
{
    uint8_t owner[NAME_MAX_WIRE];
    int nl = dns_read_name(msg, len, pos, owner);
    if (nl < 0 || *pos + 10 > len)
        return -1;
    const uint8_t *f = msg + *pos;
    r->type = rd16(f);
    r->rclass = rd16(f + 2);
    r->ttl = (uint32_t)rd16(f + 4) << 16 | rd16(f + 6);
    uint16_t rdlen = rd16(f + 8);
    *pos += 10;
    if (*pos + rdlen > len)
        return -1;
    int dl = rdata_decompress(msg, *pos, r->type, rdlen, scratch);
    if (dl < 0)
        return -1;
    *pos += rdlen;
    r->rdlen = (uint16_t)dl;
    r->owner_off = arena_put(a, owner, (size_t)nl);
    r->rdata_off = arena_put(a, scratch, (size_t)dl);
    return a->failed ? -1 : 0;
}

static int read_section(const uint8_t *msg, size_t len, size_t *pos, uint16_t count,
                        arena_t *a, rec_t **out, uint8_t *scratch)
{
    *out = calloc(count ? count : 1, sizeof **out);
    if (!*out)
        return -1;
    for (uint16_t i = 0; i < count; i++)
        if (read_record(msg, len, pos, a, &(*out)[i], scratch) < 0)
            return -1;
    return 0;
}

static zone_rr_t *fix_records(const rec_t *recs, size_t n, const arena_t *a)
{
    zone_rr_t *v = calloc(n ? n : 1, sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        v[i].owner = a->data + recs[i].owner_off;
        v[i].rdata = a->data + recs[i].rdata_off;
        v[i].type = recs[i].type;
        v[i].rclass = recs[i].rclass;
        v[i].ttl = recs[i].ttl;
        v[i].rdlen = recs[i].rdlen;
    }
    return v;
}

static int fail(zone_update_t *u, const char **why, const char *reason, int rc)
{
    zone_update_free(u);
    if (why)
        *why = reason;
    return rc;
}

int dns_update_parse(const uint8_t *msg, size_t len, zone_update_t *u, const char **why)
{
    memset(u, 0, sizeof *u);
    if (len < DNS_HEADER_LEN)
        return fail(u, why, "shorter than a header", ZU_FORMERR);
    uint16_t flags = rd16(msg + 2);
    if (DNS_OPCODE(flags) != DNS_OPCODE_UPDATE)
        return fail(u, why, "not an UPDATE", ZU_NOTIMP);
    if (flags & DNS_FLAG_QR)
        return fail(u, why, "a response, not a request", ZU_FORMERR);
    uint16_t zocount = rd16(msg + 4), prcount = rd16(msg + 6), upcount = rd16(msg + 8);
    if (zocount != 1) /* §3.1.1 */
        return fail(u, why, "zone section must hold exactly one entry", ZU_FORMERR);
    size_t pos = DNS_HEADER_LEN;
    if (dns_read_name(msg, len, &pos, u->zname) < 0 || pos + 4 > len)
        return fail(u, why, "bad zone section", ZU_FORMERR);
    if (rd16(msg + pos) != RR_TYPE_SOA)
        return fail(u, why, "zone section type is not SOA", ZU_FORMERR);
    u->zclass = rd16(msg + pos + 2);
    pos += 4;
    arena_t a = { 0 };
    rec_t *pre = NULL, *upd = NULL;
    uint8_t *scratch = malloc(RDATA_MAX + 2 * NAME_MAX_WIRE);
    int rc = scratch && read_section(msg, len, &pos, prcount, &a, &pre, scratch) == 0 &&
                     read_section(msg, len, &pos, upcount, &a, &upd, scratch) == 0
                 ? 0 : -1;
    free(scratch);
    if (rc == 0) {
        u->prereq = fix_records(pre, prcount, &a);
        u->update = fix_records(upd, upcount, &a);
        u->nprereq = prcount;
        u->nupdate = upcount;
        u->arena = a.data;
        a.data = NULL;
        if (!u->prereq || !u->update)
            rc = -1;
    }
    free(pre);
    free(upd);
    free(a.data);
    if (rc < 0)
        return fail(u, why, "malformed prerequisite or update section", ZU_FORMERR);
    return ZU_NOERROR;
}
