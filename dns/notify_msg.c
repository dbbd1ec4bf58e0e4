/* dns/notify_msg.c — NOTIFY requests built, responses parsed
 * (dns/notify_msg.h). */
#include "dns/notify_msg.h"

#include "dns/wire.h"

size_t notify_msg_build(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *zone,
                        uint32_t soa_ttl, const uint8_t *soa_rdata, uint16_t soa_len)
{
    if (cap < DNS_HEADER_LEN)
        return 0;
    dns_builder_t b;
    dns_builder_init(&b, buf, cap, id, (uint16_t)(DNS_OPCODE_NOTIFY << 11) | DNS_FLAG_AA);
    if (dns_builder_question(&b, zone, DNS_TYPE_SOA, DNS_CLASS_IN) != 0)
        return 0;
    /* §3.7: "the answer section may contain the SOA", so secondaries see
     * the new serial at once. */
    if (dns_builder_rr(&b, DNS_SECTION_ANSWER, zone, DNS_TYPE_SOA, DNS_CLASS_IN, soa_ttl,
                       soa_rdata, soa_len) != 0)
        return 0;
    return dns_builder_finish(&b);
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

bool notify_msg_parse_response(const uint8_t *msg, size_t len, notify_response_t *r,
                               const char **why)
{
    *r = (notify_response_t){ 0 };
    if (len < DNS_HEADER_LEN) {
        *why = "shorter than a header";
        return false;
    }
    uint16_t flags = get16(msg + 2);
    uint16_t qdcount = get16(msg + 4);
    r->id = get16(msg);
    r->rcode = DNS_RCODE(flags);
    if (!(flags & DNS_FLAG_QR)) {
        *why = "not a response (QR=0)";
        return false;
    }
    if (DNS_OPCODE(flags) != DNS_OPCODE_NOTIFY) {
        *why = "not opcode NOTIFY";
        return false;
    }
    if (qdcount > 1) {
        *why = "more than one question";
        return false;
    }
    if (qdcount == 0)
        return true; /* some servers answer errors without the question */
    size_t pos = DNS_HEADER_LEN;
    if (dns_read_name(msg, len, &pos, r->zone) < 0 || len - pos < 4) {
        *why = "malformed question";
        return false;
    }
    r->qtype = get16(msg + pos);
    r->qclass = get16(msg + pos + 2);
    r->has_question = true;
    return true;
}
