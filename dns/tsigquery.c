/* dns/tsigquery.c — signed queries (see tsigquery.h). */
#include "dns/tsigquery.h"

#include <string.h>

#include "dns/answer.h"
#include "dns/wire.h"

#define QUERY_MAX 65535

bool dns_maybe_signed(const uint8_t *query, size_t len)
{
    return len >= DNS_HEADER_LEN && (query[10] | query[11]) != 0 && !(query[2] & 0x80);
}

/* FORMERR or NOTAUTH without looking further: the header, the rcode, and
 * the TSIG that §5.3.2 asks for (none for FORMERR). */
static size_t tsig_error(const tsig_request_t *req, const uint8_t *query, int rcode,
                         uint8_t *resp, size_t cap, uint64_t now)
{
    size_t space = tsig_space(req);
    if (cap < DNS_HEADER_LEN + space)
        return 0;
    uint16_t flags = (uint16_t)(((query[2] << 8) | query[3]) & (0x7800u | DNS_FLAG_RD));
    dns_builder_t b;
    dns_builder_init(&b, resp, cap - space, (uint16_t)((query[0] << 8) | query[1]),
                     (uint16_t)(flags | DNS_FLAG_QR | rcode));
    size_t len = dns_builder_finish(&b);
    return tsig_sign_response(req, resp, &len, cap, now) == 0 ? len : 0;
}

size_t dns_signed_answer(const tsig_keystore_t *keys, const zonedb_t *db, const uint8_t *query,
                         size_t len, uint8_t *resp, size_t cap, bool tcp, uint64_t now,
                         bool *handled)
{
    tsig_request_t req;
    *handled = true;
    switch (tsig_verify_request(keys, query, len, now, &req)) {
    case TSIG_UNSIGNED:
        *handled = false;
        return 0;
    case TSIG_FORMERR:
        return tsig_error(&req, query, DNS_RCODE_FORMERR, resp, cap, now);
    case TSIG_NOTAUTH:
        return tsig_error(&req, query, 9 /* NOTAUTH */, resp, cap, now);
    case TSIG_VALID:
        break;
    }
    static _Thread_local uint8_t unsigned_query[QUERY_MAX];
    size_t ulen = req.unsigned_len;
    if (ulen < DNS_HEADER_LEN || ulen > sizeof unsigned_query)
        return 0;
    memcpy(unsigned_query, query, ulen);
    uint16_t ar = (uint16_t)(((query[10] << 8) | query[11]) - 1);
    unsigned_query[10] = (uint8_t)(ar >> 8);
    unsigned_query[11] = (uint8_t)ar;
    size_t space = tsig_space(&req);
    if (cap < 512 + space)
        return 0;
    size_t rlen = dns_answer(db, unsigned_query, ulen, resp, cap - space, tcp);
    if (rlen == 0 || tsig_sign_response(&req, resp, &rlen, cap, now) != 0)
        return 0;
    return rlen;
}
