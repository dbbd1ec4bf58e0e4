/* dns/xfr.h — zone transfers out: AXFR (RFC 5936) and IXFR (RFC 1995),
 * the request check and the message stream. Private to dns/ (tcp.c,
 * udp.c, and the unit tests and fuzz target).
 *
 * A transfer is a cursor over one immutable zone version: it holds a
 * reference to one zone index (zone/db.h), taken once under the RCU read
 * lock, and, for an incremental answer, one condensed difference copied
 * from the journal (zone/journal.h). Each xfr_cursor_next call builds the
 * next message, so a transfer never needs more than one message of memory
 * and the TCP thread produces a message only when the socket took the
 * last ones: a 1,000,000-record zone streams to a slow secondary while
 * the thread serves everyone else. UPDATEs that publish new versions
 * meanwhile do not touch the version being sent.
 *
 * Streams (RFC 5936 §2.2, RFC 1995 §4):
 *   AXFR, and IXFR answered in full:  SOA, every other RR, SOA
 *   IXFR, difference:                 new SOA, old SOA, removed RRs,
 *                                     new SOA, added RRs, new SOA
 *   IXFR, the client is up to date:   the SOA alone
 * Messages are up to XFR_MESSAGE_MAX octets (or the limit given), names
 * compressed (a hashed index: dns/wire.h dns_compress_index_t), the
 * question in the first message only; when the request was signed every
 * message carries a TSIG whose MAC chains to the previous one (RFC 8945
 * §5.3.1, dns/tsig.h tsig_stream_*).
 *
 * Request checks, in order (xfr_check):
 *   not a query, QR=1, runt            not a transfer: the caller goes on
 *   qtype neither AXFR nor IXFR        not a transfer
 *   QDCOUNT != 1, sections do not      FORMERR, unsigned
 *   parse, IXFR without an SOA in
 *   the authority section
 *   TSIG misplaced or malformed        FORMERR, unsigned (RFC 8945 §5.2)
 *   TSIG BADKEY/BADSIG/BADTIME/...     NOTAUTH, signed as §5.3.2 says
 *   class not IN                       REFUSED
 *   no ACL rule `transfer`             REFUSED (RFC 5936 §6: the policy is
 *                                      the server's; none: refuse)
 *   zone not served (exact origin)     NOTAUTH (RFC 5936 §2.2.1)
 * Every error response to a signed request is signed. */
#ifndef DNS_XFR_H
#define DNS_XFR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/server.h"
#include "dns/tsig.h"
#include "zone/db.h"
#include "zone/update.h"

/* The transfer services a server offers (copied from dns_server_opts_t). */
/* The size a transfer message is filled to (RFC 5936 §2.2 allows up to
 * 65535). 16 KiB, as Knot: every name in it can be a compression target
 * (pointers reach 16 KiB), and a client parses one message while the next
 * is built; measured with kdig, 64 KiB messages made a 100,000-record AXFR
 * ~30% slower (docs/performance.md). */
#define XFR_MESSAGE_MAX 16384

/* One version of the keys and `transfer` rules, published by
 * dns_server_set_auth (SIGHUP). Versions are never freed while the server
 * runs (main.c keeps the keystores and ACLs until exit, dns/server.c these
 * structs until dns_server_stop), so a reader that loaded one may use it as
 * long as it likes: no RCU or reference count is needed. */
typedef struct xfr_auth {
    const tsig_keystore_t *keys;
    const acl_t *acl;
    struct xfr_auth *older;
} xfr_auth_t;

typedef struct xfr_ctx {
    const tsig_keystore_t *keys;
    const acl_t *acl;
    dns_journal_diff_fn journal_diff; /* NULL: IXFR is always answered in full */
    void *journal_arg;
    /* NULL: keys and acl above are used as they are (unit tests). Else the
     * current version, stored with release by the SIGHUP thread and loaded
     * with acquire once per request (xfr_ctx_current). */
    _Atomic(xfr_auth_t *) *live;
} xfr_ctx_t;

/* ctx with keys and acl taken from the current version (ctx->live), read
 * once: a request is checked and answered with one version throughout, and
 * a transfer keeps the key it started with (its cursor copies the verified
 * request; RFC 8945 §5.3.1 chains every message's MAC to that key). */
xfr_ctx_t xfr_ctx_current(const xfr_ctx_t *ctx);

typedef struct xfr_req {
    uint16_t id;
    uint16_t flags;             /* as received */
    uint8_t qname[NAME_MAX_WIRE];
    uint16_t qtype, qclass;
    bool have_question;
    uint32_t ixfr_serial;       /* IXFR: the client's serial */
    tsig_request_t tsig;
} xfr_req_t;

typedef enum xfr_verdict {
    XFR_NOT_XFR = 0, /* not a transfer request: answer it as a query */
    XFR_DROP,        /* send nothing */
    XFR_REPLY,       /* send one error response (xfr_error_response) */
    XFR_SERVE,       /* start a cursor */
} xfr_verdict_t;

/* Whether pkt asks for a transfer (a query with QDCOUNT 1 whose qtype is
 * AXFR or IXFR); cheap, for the servers' fast path. */
bool xfr_is_request(const uint8_t *pkt, size_t len);

/* Checks a request (see the top) from peer (may be NULL) at time now. On
 * XFR_REPLY *rcode is the error to answer with. The served-zone check is
 * xfr_start's (it needs the database). */
xfr_verdict_t xfr_check(const xfr_ctx_t *ctx, const uint8_t *pkt, size_t len,
                        const struct sockaddr *peer, uint64_t now, xfr_req_t *req, int *rcode);

/* An error response to req: header, the question when it parsed, the
 * rcode, signed when the request was. Returns its length, 0 if cap is too
 * small. */
size_t xfr_error_response(const xfr_req_t *req, int rcode, uint8_t *buf, size_t cap,
                          uint64_t now);

typedef struct xfr_cursor xfr_cursor_t;

/* What a cursor sends. */
typedef enum xfr_kind {
    XFR_KIND_FULL = 0, /* SOA, the zone, SOA (AXFR, or IXFR in full) */
    XFR_KIND_DIFF,     /* an IXFR difference (takes over *diff) */
    XFR_KIND_SOA,      /* the SOA alone (IXFR: up to date, or UDP too small) */
} xfr_kind_t;

/* A cursor over zi (a reference is taken) for req (copied). diff is used
 * only with XFR_KIND_DIFF and is taken over (emptied). NULL when out of
 * memory (diff is then freed). */
xfr_cursor_t *xfr_cursor_new(const xfr_req_t *req, const zonedb_index_t *zi, xfr_kind_t kind,
                             zone_changeset_t *diff);
/* Builds the next message into buf (at most cap octets, cap >= 512) at time
 * now. Returns its length, 0 when the stream is over (or an RR cannot fit
 * in an empty message: the caller closes the connection). */
size_t xfr_cursor_next(xfr_cursor_t *c, uint8_t *buf, size_t cap, uint64_t now);
bool xfr_cursor_done(const xfr_cursor_t *c);
unsigned xfr_cursor_messages(const xfr_cursor_t *c);
void xfr_cursor_free(xfr_cursor_t *c); /* NULL is fine */
/* Logs a finished transfer (kind, zone, serial, peer, messages). */
void xfr_cursor_log_done(const xfr_cursor_t *c, const struct sockaddr *peer);

/* Checks the request, finds the zone in the current database version, and
 * picks what to send: for IXFR the SOA alone when the client's serial is
 * not older than ours (RFC 1982), the journal's difference when there is
 * one, else the whole zone. Returns the cursor, or NULL with the response
 * to send in resp and *resp_len (0: nothing to send, or not a transfer:
 * *not_xfr then says so). Takes the RCU read lock itself: call it outside
 * one. */
xfr_cursor_t *xfr_start(const xfr_ctx_t *ctx, zonedb_handle_t *db, const uint8_t *pkt,
                        size_t len, const struct sockaddr *peer, uint64_t now, uint8_t *resp,
                        size_t cap, size_t *resp_len, bool *not_xfr);

/* IXFR over UDP (RFC 1995 §2): the whole answer when it fits in one
 * message of `cap` octets, else the SOA alone (the client then asks over
 * TCP). AXFR over UDP is not a transfer here (the query answer, NOTIMP,
 * stays). Returns the length to send (0: nothing), *not_xfr when pkt is
 * not an IXFR request. */
size_t xfr_udp_answer(const xfr_ctx_t *ctx, zonedb_handle_t *db, const uint8_t *pkt, size_t len,
                      const struct sockaddr *peer, uint64_t now, uint8_t *resp, size_t cap,
                      bool *not_xfr);

#endif
