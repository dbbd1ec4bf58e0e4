/* dns/xfr.c — the transfer message stream (see xfr.h): a cursor over one
 * zone version or one condensed difference that builds one message per
 * call.
 *
 * The stream is a short list of segments (the apex SOA, the zone's other
 * RRs, a difference's removed or added RRs); the cursor keeps the segment
 * and the position inside it, peeks the next RR, and advances only once
 * the RR is in the message, so an RR that does not fit starts the next
 * message. */
#include "dns/xfr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "dns/answer.h"
#include "dns/wire.h"

enum seg {
    SEG_APEX_SOA,   /* the zone's SOA */
    SEG_ZONE_BODY,  /* every RR of the zone but the SOA */
    SEG_NEW_SOA,    /* the difference's new SOA (added[0]) */
    SEG_REMOVED,    /* removed[0..] (the old SOA first) */
    SEG_ADDED,      /* added[0..] (the new SOA first) */
};

#define SEGS_MAX 5

struct xfr_cursor {
    xfr_req_t req;
    tsig_stream_t ts;
    bool sign;
    zonedb_index_t *zi;
    zone_changeset_t diff;
    enum seg segs[SEGS_MAX];
    unsigned nseg, seg;
    /* position in the segment */
    size_t node, rrset, rdpos, item;
    unsigned messages;
    dns_compress_index_t cidx; /* name compression for ~2000 names a message */
};

/* One RR to write (rdata in zone wire form). */
typedef struct out_rr {
    const uint8_t *owner;
    uint16_t type, rclass;
    uint32_t ttl;
    const uint8_t *rdata;
    uint16_t rdlen;
} out_rr_t;

static void set_segments(xfr_cursor_t *c, xfr_kind_t kind)
{
    static const enum seg full[] = { SEG_APEX_SOA, SEG_ZONE_BODY, SEG_APEX_SOA };
    static const enum seg diff[] = { SEG_NEW_SOA, SEG_REMOVED, SEG_ADDED, SEG_NEW_SOA };
    static const enum seg soa[] = { SEG_APEX_SOA };
    const enum seg *v = kind == XFR_KIND_FULL ? full : kind == XFR_KIND_DIFF ? diff : soa;
    c->nseg = kind == XFR_KIND_FULL ? 3 : kind == XFR_KIND_DIFF ? 4 : 1;
    memcpy(c->segs, v, c->nseg * sizeof *v);
}

xfr_cursor_t *xfr_cursor_new(const xfr_req_t *req, const zonedb_index_t *zi, xfr_kind_t kind,
                             zone_changeset_t *diff)
{
    xfr_cursor_t *c = calloc(1, sizeof *c);
    if (c == NULL) {
        if (kind == XFR_KIND_DIFF)
            zone_changeset_free(diff);
        return NULL;
    }
    c->req = *req;
    c->zi = zonedb_index_ref((zonedb_index_t *)zi);
    if (kind == XFR_KIND_DIFF) {
        c->diff = *diff;
        memset(diff, 0, sizeof *diff);
    }
    set_segments(c, kind);
    c->sign = req->tsig.status == TSIG_VALID && tsig_stream_start_sender(&c->ts, &c->req.tsig) == 0;
    return c;
}

void xfr_cursor_free(xfr_cursor_t *c)
{
    if (c == NULL)
        return;
    zonedb_index_unref(c->zi);
    zone_changeset_free(&c->diff);
    tsig_stream_end(&c->ts);
    free(c);
}

bool xfr_cursor_done(const xfr_cursor_t *c) { return c->seg >= c->nseg; }
unsigned xfr_cursor_messages(const xfr_cursor_t *c) { return c->messages; }

static void next_segment(xfr_cursor_t *c)
{
    c->seg++;
    c->node = c->rrset = c->rdpos = c->item = 0;
}

static bool apex_soa(const xfr_cursor_t *c, out_rr_t *rr)
{
    const zonedb_node_t *apex = zonedb_index_apex(c->zi);
    const zonedb_rrset_t *set = apex ? zonedb_node_rrset(apex, DNS_TYPE_SOA) : NULL;
    size_t pos = 0;
    if (set == NULL || !zonedb_rrset_next(set, &pos, &rr->rdata, &rr->rdlen))
        return false;
    *rr = (out_rr_t){ .owner = zonedb_node_name(apex), .type = DNS_TYPE_SOA, .rclass = DNS_CLASS_IN,
                      .ttl = set->ttl, .rdata = rr->rdata, .rdlen = rr->rdlen };
    return true;
}

/* The zone body RR at the cursor, moving past empty non-terminals, ends
 * of RRsets and the SOA. False at the end of the zone. */
static bool body_rr(xfr_cursor_t *c, out_rr_t *rr)
{
    const zonedb_node_t *n;
    /* The overlay's nodes, then the base's it does not replace (zone/db.h). */
    while ((n = zonedb_index_walk(c->zi, &c->node)) != NULL) {
        if (c->rrset < zonedb_node_rrset_count(n)) {
            const zonedb_rrset_t *set = zonedb_node_rrset_at(n, c->rrset);
            size_t pos = c->rdpos;
            if (!(set->type == DNS_TYPE_SOA && (zonedb_node_flags(n) & ZONEDB_NODE_APEX)) &&
                zonedb_rrset_next(set, &pos, &rr->rdata, &rr->rdlen)) {
                rr->owner = zonedb_node_name(n);
                rr->type = set->type;
                rr->rclass = DNS_CLASS_IN;
                rr->ttl = set->ttl;
                return true;
            }
            c->rrset++;
            c->rdpos = 0;
            continue;
        }
        c->node++;
        c->rrset = c->rdpos = 0;
    }
    return false;
}

static void body_advance(xfr_cursor_t *c)
{
    const zonedb_node_t *n = zonedb_index_node_at(c->zi, c->node);
    const zonedb_rrset_t *set = zonedb_node_rrset_at(n, c->rrset);
    const uint8_t *rd;
    uint16_t rdlen;
    (void)zonedb_rrset_next(set, &c->rdpos, &rd, &rdlen);
}

static void from_zone_rr(const zone_rr_t *z, out_rr_t *rr)
{
    *rr = (out_rr_t){ .owner = z->owner, .type = z->type, .rclass = z->rclass, .ttl = z->ttl,
                      .rdata = z->rdata, .rdlen = z->rdlen };
}

/* The RR at the cursor; false when the stream is over. */
static bool peek(xfr_cursor_t *c, out_rr_t *rr)
{
    while (c->seg < c->nseg) {
        switch (c->segs[c->seg]) {
        case SEG_APEX_SOA:
            if (c->item == 0 && apex_soa(c, rr))
                return true;
            break;
        case SEG_ZONE_BODY:
            if (body_rr(c, rr))
                return true;
            break;
        case SEG_NEW_SOA:
            if (c->item == 0 && c->diff.nadded > 0) {
                from_zone_rr(&c->diff.added[0], rr);
                return true;
            }
            break;
        case SEG_REMOVED:
            if (c->item < c->diff.nremoved) {
                from_zone_rr(&c->diff.removed[c->item], rr);
                return true;
            }
            break;
        case SEG_ADDED:
            if (c->item < c->diff.nadded) {
                from_zone_rr(&c->diff.added[c->item], rr);
                return true;
            }
            break;
        }
        next_segment(c);
    }
    return false;
}

static void advance(xfr_cursor_t *c)
{
    if (c->segs[c->seg] == SEG_ZONE_BODY)
        body_advance(c);
    else
        c->item++;
}

size_t xfr_cursor_next(xfr_cursor_t *c, uint8_t *buf, size_t cap, uint64_t now)
{
    out_rr_t rr;
    if (!peek(c, &rr))
        return 0;
    size_t space = c->sign ? tsig_space(&c->req.tsig) : 0;
    if (cap > XFR_MESSAGE_MAX)
        cap = XFR_MESSAGE_MAX;
    if (cap < DNS_HEADER_LEN + space + NAME_MAX_WIRE + 4)
        return 0;
    uint16_t flags = (uint16_t)(DNS_FLAG_QR | DNS_FLAG_AA | (c->req.flags & DNS_FLAG_RD));
    dns_builder_t b;
    dns_builder_init(&b, buf, cap - space, c->req.id, flags);
    dns_builder_use_index(&b, &c->cidx);
    if (c->messages == 0 &&
        dns_builder_question(&b, c->req.qname, c->req.qtype, c->req.qclass) != 0)
        return 0;
    unsigned n = 0;
    do {
        if (dns_builder_rr(&b, DNS_SECTION_ANSWER, rr.owner, rr.type, rr.rclass, rr.ttl, rr.rdata,
                           rr.rdlen) != 0)
            break;
        advance(c);
        n++;
    } while (peek(c, &rr));
    if (n == 0)
        return 0; /* one RR larger than a message: cannot happen with valid zones */
    size_t len = dns_builder_finish(&b);
    if (c->sign && tsig_stream_sign(&c->ts, buf, &len, cap, now) != 0)
        return 0;
    c->messages++;
    return len;
}

void xfr_cursor_log_done(const xfr_cursor_t *c, const struct sockaddr *peer)
{
    char zone[NAME_MAX_TEXT], from[INET6_ADDRSTRLEN] = "?";
    name_to_text(c->req.qname, zone, sizeof zone);
    if (peer && peer->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)peer)->sin_addr, from, sizeof from);
    else if (peer && peer->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)peer)->sin6_addr, from, sizeof from);
    const char *what = c->req.qtype == DNS_TYPE_AXFR ? "AXFR"
                       : c->nseg == 4                 ? "IXFR (difference)"
                       : c->nseg == 1                 ? "IXFR (up to date)"
                                                      : "IXFR (full zone)";
    log_info("dns", "transfer %s %s serial %u to %s: %u messages%s", what, zone,
             c->nseg == 4 ? c->diff.serial_to : zonedb_index_serial(c->zi), from, c->messages,
             c->sign ? ", TSIG" : "");
}
