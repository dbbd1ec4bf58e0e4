/* dns/tsigquery.h — ordinary queries signed with TSIG (RFC 8945 §5.2,
 * §5.3): a secondary asks for the SOA with its transfer key before it
 * asks for IXFR, and rejects an unsigned answer. The query is verified,
 * answered by dns_answer without its TSIG RR, and the answer signed; a
 * bad signature is answered NOTAUTH (signed as §5.3.2 says), a misplaced
 * TSIG FORMERR. Private to dns/ (udp.c, tcp.c). Pure: no I/O, no locks. */
#ifndef DNS_TSIGQUERY_H
#define DNS_TSIGQUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dns/tsig.h"
#include "zone/db.h"

/* Whether the query may carry a TSIG RR (a query with ARCOUNT > 0): the
 * cheap test before dns_signed_answer, which parses the whole message. */
bool dns_maybe_signed(const uint8_t *query, size_t len);

/* Answers a signed query from db (the caller holds the RCU read lock) into
 * resp (cap octets). *handled false: the query carries no TSIG, answer it
 * as usual (nothing written). Returns the response length (0: send
 * nothing). */
size_t dns_signed_answer(const tsig_keystore_t *keys, const zonedb_t *db, const uint8_t *query,
                         size_t len, uint8_t *resp, size_t cap, bool tcp, uint64_t now,
                         bool *handled);

#endif
