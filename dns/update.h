/* dns/update.h — the DNS side of RFC 2136 UPDATE: checks a received UPDATE
 * (header and zone section §3.1, TSIG per RFC 8945 §5.2, the ACL) and
 * builds the responses (§3.8). Pure: no I/O, no locks; the caller owns the
 * buffers. Applying the update (prerequisites §3.2, update section §3.4)
 * is the replicated state machine's job (kv/), reached through the
 * server's submit_update callback (dns/server.h).
 *
 * Order of the checks, each answered as shown:
 *   runt or QR=1                             nothing is sent
 *   TSIG misplaced/malformed                 FORMERR, unsigned (RFC 8945 §5.2)
 *   TSIG BADKEY/BADSIG/BADTIME/BADTRUNC      NOTAUTH with the TSIG error,
 *                                            signed as §5.3.2 says
 *   ZOCOUNT != 1, zone RR not SOA, the four  FORMERR (RFC 2136 §3.1.1),
 *   sections do not walk to the end         signed when the request was
 *   zone class not IN                        NOTAUTH (§3.1.2: not our zone)
 *   no ACL rule allows it                    REFUSED (§3.3; RFC 2136 leaves
 *                                            the policy to the server)
 *   otherwise                                submit the message without its
 *                                            TSIG RR, with the key's name
 * Every response to a signed request is signed (RFC 8945 §5.3). */
#ifndef DNS_UPDATE_H
#define DNS_UPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/acl.h"
#include "dns/tsig.h"
#include "zone/name.h"

#ifndef DNS_OPCODE_UPDATE /* also in dns/upd_msg.h (the state machine's parser) */
#define DNS_OPCODE_UPDATE 5
#endif
/* RFC 2136 §2.2 rcodes beyond those of dns/wire.h. */
#define DNS_RCODE_YXDOMAIN 6
#define DNS_RCODE_YXRRSET 7
#define DNS_RCODE_NXRRSET 8
#define DNS_RCODE_NOTAUTH 9
#define DNS_RCODE_NOTZONE 10
/* The largest UPDATE we accept (over TCP; UDP is limited by the socket). */
#define DNS_UPDATE_MAX 65535

/* What the check decided. */
typedef enum dns_update_verdict {
    DNS_UPDATE_DROP = 0, /* send nothing */
    DNS_UPDATE_REPLY,    /* send the response now: rcode is set */
    DNS_UPDATE_SUBMIT,   /* propose the message (dns_update_unsigned) */
} dns_update_verdict_t;

/* Everything needed to answer later, after the message itself is gone. */
typedef struct dns_update_req {
    uint16_t id;
    uint16_t flags;            /* as received */
    bool have_zone;            /* the zone section parsed (echoed in responses) */
    uint8_t zone[NAME_MAX_WIRE];
    uint16_t zclass;
    int rcode;                 /* with DNS_UPDATE_REPLY */
    tsig_request_t tsig;       /* status TSIG_UNSIGNED when not signed */
} dns_update_req_t;

/* Whether pkt looks like an UPDATE request (a header with opcode 5). */
bool dns_is_update(const uint8_t *pkt, size_t len);

/* Checks an UPDATE (see the top of this file) from `peer` at time `now`
 * (seconds since the epoch) against keys (may be NULL: no keys) and acl
 * (NULL: nothing allowed). Fills req. */
dns_update_verdict_t dns_update_check(const tsig_keystore_t *keys, const acl_t *acl,
                                      const uint8_t *pkt, size_t len,
                                      const struct sockaddr *peer, uint64_t now,
                                      dns_update_req_t *req);

/* The message to propose: pkt without its TSIG RR (ARCOUNT one less), into
 * out (cap octets). Returns its length, 0 when it does not fit. */
size_t dns_update_unsigned(const dns_update_req_t *req, const uint8_t *pkt, size_t len,
                           uint8_t *out, size_t cap);
/* The verified key's name (wire form) to put in the command, or NULL. */
const uint8_t *dns_update_key_name(const dns_update_req_t *req);

/* Builds the response (RFC 2136 §3.8: same ID and opcode, QR set, the
 * zone section echoed when it parsed, the other sections empty) with
 * `rcode`, signed as the request requires, into resp (cap octets; at
 * least 512). Returns its length, 0 when it does not fit. */
size_t dns_update_response(const dns_update_req_t *req, int rcode, uint8_t *resp, size_t cap,
                           uint64_t now);

#endif
