/* dns/answer.h — the authoritative answer engine: one query packet in, one
 * response packet out, computed from one immutable zone database version.
 *
 * Pure function of (db, query bytes, transport): no I/O, no locks, no
 * allocation, safe to call from many threads at once on the same db. The
 * rules it follows (RFC 1034 §4.3.2, RFC 2308, RFC 4592, RFC 6604, RFC 6891,
 * RFC 8482) and each deliberate choice are in docs/dns-answers.md. */
#ifndef DNS_ANSWER_H
#define DNS_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zone/db.h"

/* Largest response we build over TCP (the two-byte length prefix is not
 * included). Over UDP the limit is 512 octets without EDNS, else the
 * client's advertised size (at least 512) capped by DNS_EDNS_PAYLOAD. */
#define DNS_TCP_MAX 65535
#define DNS_EDNS_PAYLOAD 1232 /* the UDP payload size we advertise and accept */

/* Answers `query` (qlen octets, without any TCP length prefix) from `db`
 * into `resp` (cap octets; give at least 512 for UDP, DNS_TCP_MAX for TCP).
 * Returns the response length, or 0 when nothing must be sent: the packet is
 * shorter than a DNS header, or it is itself a response (QR=1), or `cap` is
 * too small for even a header. `db` may be NULL (nothing served: REFUSED).
 * The caller must hold the RCU read lock that keeps `db` alive. */
size_t dns_answer(const zonedb_t *db, const uint8_t *query, size_t qlen,
                  uint8_t *resp, size_t cap, bool tcp);
/* dns_answer that also tells the query's QTYPE (-1 when the question did
 * not parse), which the server counts (dns/stats.h) without parsing the
 * question again. */
size_t dns_answer_qtype(const zonedb_t *db, const uint8_t *query, size_t qlen,
                        uint8_t *resp, size_t cap, bool tcp, int *qtype);

/* The answer of a server that cannot answer from its zones yet (not ready,
 * or past its stale limit; kv/readiness.h): SERVFAIL with the question (and
 * an OPT when the query had one) to every message dns_answer would answer,
 * whatever its opcode; FORMERR still for a malformed one; 0 (nothing) where
 * dns_answer sends nothing. Never REFUSED: that would call this server
 * lame for zones it is about to serve. */
size_t dns_answer_unavailable(const uint8_t *query, size_t qlen, uint8_t *resp, size_t cap,
                              bool tcp);

#endif
