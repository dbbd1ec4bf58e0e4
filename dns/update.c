/* dns/update.c — checks received UPDATE messages and builds their
 * responses (see update.h). Every read is bounds-checked: the input is
 * whatever arrived on the DNS port. */
#include "dns/update.h"

#include <string.h>

#include "dns/wire.h"

static uint16_t get16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

bool dns_is_update(const uint8_t *pkt, size_t len)
{
    return len >= DNS_HEADER_LEN && DNS_OPCODE(get16(pkt + 2)) == DNS_OPCODE_UPDATE;
}

/* Skips one RR (owner, type, class, TTL, rdata) at *pos. */
static bool skip_rr(const uint8_t *pkt, size_t end, size_t *pos)
{
    uint8_t name[NAME_MAX_WIRE];
    if (dns_read_name(pkt, end, pos, name) < 0 || end - *pos < 10)
        return false;
    size_t rdlen = get16(pkt + *pos + 8);
    *pos += 10;
    if (end - *pos < rdlen)
        return false;
    *pos += rdlen;
    return true;
}

/* RFC 2136 §3.1.1: exactly one zone RR, of type SOA; then the
 * prerequisite, update and additional sections (without the TSIG RR) must
 * be well-formed RRs that end exactly at `end`. Fills the zone fields of
 * req as soon as the zone parses (for the echo). Returns the rcode. */
static int parse_sections(const uint8_t *pkt, size_t end, dns_update_req_t *req, bool signed_req)
{
    uint16_t zocount = get16(pkt + 4), prcount = get16(pkt + 6), upcount = get16(pkt + 8);
    uint16_t adcount = get16(pkt + 10);
    if (zocount != 1)
        return DNS_RCODE_FORMERR;
    size_t pos = DNS_HEADER_LEN;
    if (dns_read_name(pkt, end, &pos, req->zone) < 0 || end - pos < 4)
        return DNS_RCODE_FORMERR;
    uint16_t ztype = get16(pkt + pos);
    req->zclass = get16(pkt + pos + 2);
    req->have_zone = true;
    pos += 4;
    if (ztype != DNS_TYPE_SOA)
        return DNS_RCODE_FORMERR;
    if (signed_req && adcount == 0)
        return DNS_RCODE_FORMERR; /* cannot happen: the TSIG RR is counted */
    uint32_t rrs = (uint32_t)prcount + upcount + adcount - (signed_req ? 1 : 0);
    for (uint32_t i = 0; i < rrs; i++)
        if (!skip_rr(pkt, end, &pos))
            return DNS_RCODE_FORMERR;
    if (pos != end)
        return DNS_RCODE_FORMERR;
    if (req->zclass != DNS_CLASS_IN)
        return DNS_RCODE_NOTAUTH; /* §3.1.2: we serve class IN only */
    return DNS_RCODE_NOERROR;
}

static dns_update_verdict_t reply(dns_update_req_t *req, int rcode)
{
    req->rcode = rcode;
    return DNS_UPDATE_REPLY;
}

dns_update_verdict_t dns_update_check(const tsig_keystore_t *keys, const acl_t *acl,
                                      const uint8_t *pkt, size_t len,
                                      const struct sockaddr *peer, uint64_t now,
                                      dns_update_req_t *req)
{
    memset(req, 0, sizeof *req);
    if (len < DNS_HEADER_LEN || len > DNS_UPDATE_MAX)
        return DNS_UPDATE_DROP;
    req->id = get16(pkt);
    req->flags = get16(pkt + 2);
    if (req->flags & DNS_FLAG_QR)
        return DNS_UPDATE_DROP; /* a response: never answer one */
    if (keys != NULL)
        tsig_verify_request(keys, pkt, len, now, &req->tsig);
    else
        req->tsig.status = TSIG_UNSIGNED; /* no keys: a TSIG RR is walked as data */
    bool signed_req = req->tsig.status != TSIG_UNSIGNED;
    size_t end = signed_req ? req->tsig.unsigned_len : len;
    if (req->tsig.status == TSIG_FORMERR) {
        req->tsig.status = TSIG_UNSIGNED; /* answered unsigned */
        parse_sections(pkt, len, req, false);
        return reply(req, DNS_RCODE_FORMERR);
    }
    int rcode = parse_sections(pkt, end, req, signed_req);
    if (req->tsig.status == TSIG_NOTAUTH)
        return reply(req, TSIG_RCODE_NOTAUTH);
    if (rcode != DNS_RCODE_NOERROR)
        return reply(req, rcode);
    if (!acl_allows(acl, ACL_UPDATE, req->zone, dns_update_key_name(req), peer))
        return reply(req, DNS_RCODE_REFUSED);
    return DNS_UPDATE_SUBMIT;
}

const uint8_t *dns_update_key_name(const dns_update_req_t *req)
{
    return req->tsig.status == TSIG_VALID && req->tsig.key != NULL ? req->tsig.key->name : NULL;
}

size_t dns_update_unsigned(const dns_update_req_t *req, const uint8_t *pkt, size_t len,
                           uint8_t *out, size_t cap)
{
    bool signed_req = req->tsig.status != TSIG_UNSIGNED;
    size_t n = signed_req ? req->tsig.unsigned_len : len;
    if (n < DNS_HEADER_LEN || n > len || n > cap)
        return 0;
    memcpy(out, pkt, n);
    if (signed_req) {
        uint16_t ar = get16(out + 10);
        if (ar == 0)
            return 0;
        ar--;
        out[10] = (uint8_t)(ar >> 8);
        out[11] = (uint8_t)ar;
    }
    return n;
}

size_t dns_update_response(const dns_update_req_t *req, int rcode, uint8_t *resp, size_t cap,
                           uint64_t now)
{
    size_t space = tsig_space(&req->tsig);
    if (cap < DNS_HEADER_LEN + space)
        return 0;
    uint16_t flags = (uint16_t)(DNS_FLAG_QR | (DNS_OPCODE_UPDATE << 11) | (rcode & 0xf));
    dns_builder_t b;
    dns_builder_init(&b, resp, cap - space, req->id, flags);
    if (req->have_zone && dns_builder_question(&b, req->zone, DNS_TYPE_SOA, req->zclass) != 0)
        return 0;
    size_t len = dns_builder_finish(&b);
    if (tsig_sign_response(&req->tsig, resp, &len, cap, now) != 0)
        return 0;
    return len;
}
