/* dns/notify_msg.h — the NOTIFY messages a primary sends and the
 * responses it reads (RFC 1996).
 *
 * The request (§3.7): opcode NOTIFY, AA set, one question (zone, SOA, IN)
 * and, as §3.7 allows, the zone's current SOA in the answer section so the
 * secondary learns the new serial without asking. A TSIG RR, when the
 * target has a key, is appended by the caller (dns/tsig.h).
 *
 * The response (§4.4) is hostile input: it is accepted as a NOTIFY
 * response only with QR=1, opcode NOTIFY, at most one question which,
 * when present, must be a well-formed name followed by a type and class
 * (the caller compares the name with the zone). Nothing else is read here;
 * the TSIG check walks the whole message separately. */
#ifndef DNS_NOTIFY_MSG_H
#define DNS_NOTIFY_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zone/name.h"

#ifndef DNS_OPCODE_NOTIFY
#define DNS_OPCODE_NOTIFY 4
#endif
#define NOTIFY_MSG_MAX 1024 /* request with SOA and TSIG: a SOA is <= 2*255+20 */

/* Builds the request into buf: returns its length, or 0 when it does not
 * fit. The SOA rdata comes from our own zone database (zone wire form). */
size_t notify_msg_build(uint8_t *buf, size_t cap, uint16_t id, const uint8_t *zone,
                        uint32_t soa_ttl, const uint8_t *soa_rdata, uint16_t soa_len);

typedef struct notify_response {
    uint16_t id;
    unsigned rcode;              /* the header's 4 bits */
    bool has_question;
    uint8_t zone[NAME_MAX_WIRE]; /* the question's name, when has_question */
    uint16_t qtype, qclass;
} notify_response_t;

/* Parses msg[0..len). Returns true and fills *r for a NOTIFY response;
 * false (with a static reason in *why) otherwise. */
bool notify_msg_parse_response(const uint8_t *msg, size_t len, notify_response_t *r,
                               const char **why);

#endif
