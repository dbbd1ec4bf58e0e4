/* dns/server.h — the DNS network server: UDP worker threads and a TCP
 * thread on one address, answering from the zone database's current
 * version (dns_answer under the RCU read lock; see zone/db.h).
 *
 * UDP: one socket per worker with SO_REUSEPORT, so the kernel spreads
 * queries over the workers with no shared queue; recvmmsg/sendmmsg batches.
 * Response rate limiting (dns/rrl.h), when on, applies to UDP only.
 * TCP: RFC 7766 framing, pipelining, idle and per-message deadlines, a
 * connection limit (the least recently served connection makes room for a
 * new one) and a cap on buffered bytes, served by one epoll thread
 * (dns/tcp.c).
 *
 * UPDATE (RFC 2136, opcode 5; dns/update.h, dns/updserve.c): when
 * submit_update is set, an UPDATE is checked here (TSIG, ACL) and handed to
 * submit_update; the reply goes out when `done` runs, from whatever thread
 * runs it (UDP: sendmsg on the worker's socket to the saved peer; TCP:
 * queued to the TCP thread, which drops it if the connection is gone).
 * Without submit_update an UPDATE is answered NOTIMP like any opcode we do
 * not serve.
 *
 * Ownership: the server owns its threads, sockets and buffers; the zonedb
 * handle stays the caller's and must outlive the server. */
#ifndef DNS_SERVER_H
#define DNS_SERVER_H

#include <stdatomic.h>
#include <stdint.h>

#include "common/addr.h"
#include "common/bytebuf.h"
#include "dns/acl.h"
#include "dns/rrl.h"
#include "dns/tsig.h"
#include "zone/db.h"

#define DNS_SERVER_ERR_MAX ADDR_ERR_MAX
#define DNS_SERVER_TCP_MAX_CONNS 256
#define DNS_SERVER_TCP_IDLE_MS 10000
#define DNS_SERVER_TCP_MESSAGE_MS 2000
#define DNS_SERVER_TCP_BUFFER_MAX (32u * 1024 * 1024)
#define DNS_SERVER_UPDATE_TIMEOUT_MS 5000

/* The outcome of a submitted UPDATE: the RFC 2136 rcode to answer with
 * (SERVFAIL when it was not committed in time). Runs exactly once, on any
 * thread; it must not block. */
typedef void (*dns_update_done_fn)(void *ctx, int rcode);
/* Proposes one UPDATE: msg is the message as received without its TSIG RR
 * (ARCOUNT adjusted), key_name_wire the verified TSIG key's name or NULL.
 * Returns 0 when `done` will run (after the update is applied on this
 * node, or timeout_ms passed), -1 when not (done never runs: SERVFAIL). */
typedef int (*dns_submit_update_fn)(void *arg, const uint8_t *msg, size_t len,
                                    const uint8_t *key_name_wire, uint64_t timeout_ms,
                                    dns_update_done_fn done, void *ctx);

/* Zone transfers (dns/xfr.h): IXFR asks the journal for the condensed
 * difference of zone `origin` (wire name) from `serial` to its newest
 * version: returns a zone_journal_result (zone/journal.h), with *out filled
 * (the caller frees it) on ZJ_DIFF. Any thread, any number at once; it
 * must not block for long (it copies from the journal under a read lock).
 * kv/xfrjournal.h implements it over the replicated journal. */
struct zone_changeset;
typedef int (*dns_journal_diff_fn)(void *arg, const uint8_t *origin, uint32_t serial,
                                   struct zone_changeset *out);

typedef struct dns_server dns_server_t;

typedef struct dns_server_opts {
    const char *addr;       /* "HOST:PORT" as in common/addr.h; port 0 = any free */
    unsigned workers;       /* UDP worker threads; 0 = one per online CPU */
    unsigned tcp_max_conns; /* 0 = DNS_SERVER_TCP_MAX_CONNS */
    unsigned tcp_idle_ms;   /* 0 = DNS_SERVER_TCP_IDLE_MS */
    unsigned tcp_message_ms; /* 0 = DNS_SERVER_TCP_MESSAGE_MS */
    size_t tcp_buffer_max;  /* bytes across connections; 0 = DNS_SERVER_TCP_BUFFER_MAX */
    rrl_config_t rrl;       /* rrl.rate 0 = no response rate limiting */
    /* TSIG keys (-tsig.keyfile), or NULL. UPDATEs are verified with them.
     * The caller owns the store; it must outlive the server. */
    const tsig_keystore_t *tsig_keys;
    /* UPDATE: the ACL (NULL: nothing allowed: REFUSED), the callback that
     * proposes (NULL: UPDATE is NOTIMP) and how long an UPDATE may take
     * before it is answered SERVFAIL (0: DNS_SERVER_UPDATE_TIMEOUT_MS).
     * The ACL and submit_arg must outlive the server, and every `done` must
     * have run before dns_server_stop returns (it waits for them a while). */
    const acl_t *acl;
    dns_submit_update_fn submit_update;
    void *submit_arg;
    unsigned update_timeout_ms;
    /* Readiness (kv/readiness.h): while *answering is false, every query
     * (UPDATE too) is answered SERVFAIL, never REFUSED, without looking at
     * the zones. NULL: always answering (tests). Read with one atomic load
     * per UDP batch or TCP message; must outlive the server. */
    const atomic_bool *answering;
    /* Keep the per-thread counters dns_server_write_metrics reports
     * (dns/stats.h); false: none are kept (they read 0). */
    bool count;
    /* AXFR/IXFR over TCP (IXFR over UDP too) when xfr is true, allowed by
     * the ACL action `transfer` (and TSIG keys); journal_diff (may be NULL:
     * IXFR is answered in full) serves IXFR differences. false: transfers
     * are NOTIMP, as before. journal_arg must outlive the server. */
    bool xfr;
    dns_journal_diff_fn journal_diff;
    void *journal_arg;
} dns_server_opts_t;

/* Binds UDP and TCP on opts->addr and starts serving. Returns NULL with a
 * message in err when an address cannot be parsed or bound. */
dns_server_t *dns_server_start(const dns_server_opts_t *opts, zonedb_handle_t *db,
                               char err[DNS_SERVER_ERR_MAX]);
/* The port actually bound (useful when the spec said port 0). */
uint16_t dns_server_port(const dns_server_t *s);
unsigned dns_server_workers(const dns_server_t *s);
/* Appends the server's counters (dnsraft_dns_*, dns/stats.h) in the
 * Prometheus text format (zeros unless opts.count). Any thread, while the
 * server runs. */
void dns_server_write_metrics(const dns_server_t *s, bytebuf_t *b);
/* Stops every thread, closes every socket and frees the server. */
void dns_server_stop(dns_server_t *s);
/* Replaces the TSIG keys and the ACL that UPDATEs, zone transfers and
 * TSIG-signed queries are checked with (a SIGHUP reload), for requests that
 * arrive from now on. The caller keeps every version it ever passed (here
 * or in opts) alive until dns_server_stop returns: an UPDATE in flight
 * signs its answer with the key it was verified with, and a transfer
 * already streaming keeps signing with its key. Safe while the server
 * threads run (one caller at a time); 0, or -1 on allocation failure (the
 * old ones stay). */
int dns_server_set_auth(dns_server_t *s, const tsig_keystore_t *keys, const acl_t *acl);

#endif
