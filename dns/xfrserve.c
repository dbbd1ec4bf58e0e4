/* dns/xfrserve.c — transfer requests (see xfr.h): the checks, the error
 * responses, choosing what a cursor sends, and IXFR over UDP. */
#include "dns/xfr.h"

#include <string.h>

#include "dns/answer.h"
#include "dns/update.h"
#include "dns/wire.h"
#include "zone/journal.h"

#define UDP_PLAIN_MAX 512 /* RFC 1035 §4.2.1 */
#define SOA_FIXED 20      /* serial refresh retry expire minimum */

static uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static uint32_t be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static bool is_xfr_type(uint16_t t) { return t == DNS_TYPE_AXFR || t == DNS_TYPE_IXFR; }

xfr_ctx_t xfr_ctx_current(const xfr_ctx_t *ctx)
{
    xfr_ctx_t now = *ctx;
    if (ctx->live != NULL) {
        const xfr_auth_t *a = atomic_load_explicit(ctx->live, memory_order_acquire);
        now.keys = a->keys;
        now.acl = a->acl;
    }
    return now;
}

/* The QTYPE of a one-question query, or 0 when pkt is not one. */
static uint16_t request_qtype(const uint8_t *pkt, size_t len)
{
    if (len < DNS_HEADER_LEN + 5 || (be16(pkt + 2) & DNS_FLAG_QR) ||
        DNS_OPCODE(be16(pkt + 2)) != DNS_OPCODE_QUERY || be16(pkt + 4) != 1)
        return 0;
    size_t pos = DNS_HEADER_LEN;
    uint8_t name[NAME_MAX_WIRE];
    if (dns_read_name(pkt, len, &pos, name) < 0 || len - pos < 4)
        return 0;
    return be16(pkt + pos);
}

bool xfr_is_request(const uint8_t *pkt, size_t len)
{
    return is_xfr_type(request_qtype(pkt, len));
}

/* Skips one RR at *pos; its type and rdata offset/length out. -1 when it
 * runs past the packet. */
static int skip_rr(const uint8_t *pkt, size_t len, size_t *pos, uint16_t *type, size_t *rd,
                   uint16_t *rdlen)
{
    uint8_t name[NAME_MAX_WIRE];
    if (dns_read_name(pkt, len, pos, name) < 0 || len - *pos < 10)
        return -1;
    *type = be16(pkt + *pos);
    *rdlen = be16(pkt + *pos + 8);
    *pos += 10;
    if (len - *pos < *rdlen)
        return -1;
    *rd = *pos;
    *pos += *rdlen;
    return 0;
}

/* RFC 1995 §3: the client's SOA in the authority section; its serial. */
static int read_ixfr_serial(const uint8_t *pkt, size_t len, size_t pos, uint32_t *serial)
{
    uint16_t an = be16(pkt + 6), ns = be16(pkt + 8), type, rdlen;
    size_t rd;
    for (unsigned i = 0; i < an; i++)
        if (skip_rr(pkt, len, &pos, &type, &rd, &rdlen) != 0)
            return -1;
    if (ns < 1 || skip_rr(pkt, len, &pos, &type, &rd, &rdlen) != 0 || type != DNS_TYPE_SOA)
        return -1;
    size_t p = rd, end = rd + rdlen;
    uint8_t name[NAME_MAX_WIRE];
    if (dns_read_name(pkt, end, &p, name) < 0 || dns_read_name(pkt, end, &p, name) < 0 ||
        end - p != SOA_FIXED)
        return -1;
    *serial = be32(pkt + p);
    return 0;
}

/* Parses the header and question into req; -1 when they do not parse. */
static int read_question(const uint8_t *pkt, size_t len, xfr_req_t *req, size_t *pos)
{
    *pos = DNS_HEADER_LEN;
    if (be16(pkt + 4) != 1 || dns_read_name(pkt, len, pos, req->qname) < 0 || len - *pos < 4)
        return -1;
    req->qtype = be16(pkt + *pos);
    req->qclass = be16(pkt + *pos + 2);
    *pos += 4;
    req->have_question = true;
    return 0;
}

xfr_verdict_t xfr_check(const xfr_ctx_t *ctx, const uint8_t *pkt, size_t len,
                        const struct sockaddr *peer, uint64_t now, xfr_req_t *req, int *rcode)
{
    memset(req, 0, sizeof *req);
    if (!xfr_is_request(pkt, len))
        return XFR_NOT_XFR;
    req->id = be16(pkt);
    req->flags = be16(pkt + 2);
    size_t pos;
    *rcode = DNS_RCODE_FORMERR;
    if (read_question(pkt, len, req, &pos) != 0)
        return XFR_REPLY;
    /* TSIG first: a bad signature is answered NOTAUTH whatever else is
     * wrong, a misplaced one FORMERR (RFC 8945 §5.2). */
    switch (tsig_verify_request(ctx->keys, pkt, len, now, &req->tsig)) {
    case TSIG_FORMERR:
        return XFR_REPLY;
    case TSIG_NOTAUTH:
        *rcode = DNS_RCODE_NOTAUTH;
        return XFR_REPLY;
    default:
        break;
    }
    if (req->qtype == DNS_TYPE_IXFR && read_ixfr_serial(pkt, len, pos, &req->ixfr_serial) != 0)
        return XFR_REPLY; /* FORMERR */
    *rcode = DNS_RCODE_REFUSED;
    if (req->qclass != DNS_CLASS_IN)
        return XFR_REPLY;
    const uint8_t *key = req->tsig.status == TSIG_VALID ? req->tsig.key->name : NULL;
    if (!acl_allows(ctx->acl, ACL_TRANSFER, req->qname, key, peer))
        return XFR_REPLY;
    *rcode = DNS_RCODE_NOERROR;
    return XFR_SERVE;
}

size_t xfr_error_response(const xfr_req_t *req, int rcode, uint8_t *buf, size_t cap,
                          uint64_t now)
{
    size_t space = tsig_space(&req->tsig);
    if (cap < DNS_HEADER_LEN + space)
        return 0;
    uint16_t flags = (uint16_t)(DNS_FLAG_QR | (req->flags & (DNS_FLAG_RD | 0x7800u)) |
                                (rcode & 0xf));
    dns_builder_t b;
    dns_builder_init(&b, buf, cap - space, req->id, flags);
    if (req->have_question)
        (void)dns_builder_question(&b, req->qname, req->qtype, req->qclass);
    size_t len = dns_builder_finish(&b);
    if (tsig_sign_response(&req->tsig, buf, &len, cap, now) != 0)
        return 0;
    return len;
}

/* What to send for req from zone zi (IXFR: RFC 1995 §4). */
static xfr_kind_t choose_kind(const xfr_ctx_t *ctx, const xfr_req_t *req,
                              const zonedb_index_t *zi, zone_changeset_t *diff)
{
    if (req->qtype != DNS_TYPE_IXFR)
        return XFR_KIND_FULL;
    if (zone_serial_compare(req->ixfr_serial, zonedb_index_serial(zi)) >= 0)
        return XFR_KIND_SOA;
    if (ctx->journal_diff == NULL)
        return XFR_KIND_FULL;
    switch (ctx->journal_diff(ctx->journal_arg, zonedb_index_origin(zi), req->ixfr_serial, diff)) {
    case ZJ_DIFF:
        return XFR_KIND_DIFF;
    case ZJ_UPTODATE:
        return XFR_KIND_SOA;
    default:
        zone_changeset_free(diff);
        return XFR_KIND_FULL;
    }
}

/* The served zone whose origin is req's qname, referenced; NULL if none. */
static zonedb_index_t *zone_ref(zonedb_handle_t *db, const uint8_t *origin)
{
    zonedb_read_lock();
    const zonedb_index_t *zi = zonedb_get_zone(zonedb_current(db), origin);
    zonedb_index_t *ref = zi ? zonedb_index_ref((zonedb_index_t *)zi) : NULL;
    zonedb_read_unlock();
    return ref;
}

xfr_cursor_t *xfr_start(const xfr_ctx_t *ctx, zonedb_handle_t *db, const uint8_t *pkt,
                        size_t len, const struct sockaddr *peer, uint64_t now, uint8_t *resp,
                        size_t cap, size_t *resp_len, bool *not_xfr)
{
    xfr_req_t req;
    int rcode = 0;
    *resp_len = 0;
    *not_xfr = false;
    switch (xfr_check(ctx, pkt, len, peer, now, &req, &rcode)) {
    case XFR_NOT_XFR:
        *not_xfr = true;
        return NULL;
    case XFR_DROP:
        return NULL;
    case XFR_REPLY:
        *resp_len = xfr_error_response(&req, rcode, resp, cap, now);
        return NULL;
    case XFR_SERVE:
        break;
    }
    zonedb_index_t *zi = zone_ref(db, req.qname);
    if (zi == NULL) {
        *resp_len = xfr_error_response(&req, DNS_RCODE_NOTAUTH, resp, cap, now);
        return NULL;
    }
    zone_changeset_t diff = { 0 };
    xfr_kind_t kind = choose_kind(ctx, &req, zi, &diff);
    xfr_cursor_t *c = xfr_cursor_new(&req, zi, kind, &diff);
    zonedb_index_unref(zi);
    if (c == NULL)
        *resp_len = xfr_error_response(&req, DNS_RCODE_SERVFAIL, resp, cap, now);
    return c;
}

/* The requestor's UDP payload size (RFC 6891 §6.2.5), or 512. */
static size_t udp_limit(const uint8_t *pkt, size_t len, size_t cap)
{
    size_t pos = DNS_HEADER_LEN, rd;
    uint16_t type, rdlen, counts = 0;
    uint8_t name[NAME_MAX_WIRE];
    size_t limit = UDP_PLAIN_MAX;
    if (dns_read_name(pkt, len, &pos, name) < 0 || len - pos < 4)
        return limit;
    pos += 4;
    for (int s = 0; s < 3; s++)
        counts += be16(pkt + 6 + 2 * s);
    for (unsigned i = 0; i < counts; i++) {
        size_t at = pos;
        if (skip_rr(pkt, len, &pos, &type, &rd, &rdlen) != 0)
            break;
        if (type == DNS_TYPE_OPT && pkt[at] == 0) {
            size_t p = be16(pkt + at + 3);
            limit = p < UDP_PLAIN_MAX ? UDP_PLAIN_MAX : p > DNS_EDNS_PAYLOAD ? DNS_EDNS_PAYLOAD : p;
        }
    }
    return limit < cap ? limit : cap;
}

size_t xfr_udp_answer(const xfr_ctx_t *ctx, zonedb_handle_t *db, const uint8_t *pkt, size_t len,
                      const struct sockaddr *peer, uint64_t now, uint8_t *resp, size_t cap,
                      bool *not_xfr)
{
    if (request_qtype(pkt, len) != DNS_TYPE_IXFR) {
        *not_xfr = true; /* not a transfer, or AXFR over UDP: the query answer (NOTIMP) stays */
        return 0;
    }
    size_t limit = udp_limit(pkt, len, cap), rlen = 0;
    xfr_cursor_t *c = xfr_start(ctx, db, pkt, len, peer, now, resp, limit, &rlen, not_xfr);
    if (c == NULL)
        return rlen;
    rlen = xfr_cursor_next(c, resp, limit, now);
    if (rlen == 0 || !xfr_cursor_done(c)) {
        /* RFC 1995 §2: it does not fit: the SOA alone. */
        xfr_req_t req;
        int rcode;
        (void)xfr_check(ctx, pkt, len, peer, now, &req, &rcode);
        zonedb_index_t *zi = zone_ref(db, req.qname);
        xfr_cursor_free(c);
        c = zi ? xfr_cursor_new(&req, zi, XFR_KIND_SOA, NULL) : NULL;
        zonedb_index_unref(zi);
        rlen = c ? xfr_cursor_next(c, resp, limit, now) : 0;
    }
    xfr_cursor_free(c);
    return rlen;
}
