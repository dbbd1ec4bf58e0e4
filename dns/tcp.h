/* dns/tcp.h — the DNS-over-TCP thread (RFC 7766): one epoll loop serving
 * every connection with non-blocking sockets. Private to dns/server.c. */
#ifndef DNS_TCP_H
#define DNS_TCP_H

#include <stddef.h>

#include "dns/updserve.h"
#include "dns/xfr.h"
#include "zone/db.h"

typedef struct tcp_server tcp_server_t;

/* Every field must be set (dns/server.c fills in the defaults). */
typedef struct tcp_limits {
    unsigned max_conns;  /* open connections; when full, the one served least
                            recently is closed to make room for a new one */
    unsigned idle_ms;    /* no message in progress and nothing to write (from
                            accept or the last answer), or answers that the
                            client does not read: closed after this long */
    unsigned message_ms; /* a message's first byte to its last */
    size_t buffer_max;   /* bytes of buffers across all connections */
} tcp_limits_t;

/* Starts the thread on `listen_fd` (listening, non-blocking; taken over and
 * closed by tcp_server_join). It stops when `stop_fd` (an eventfd) becomes
 * readable. `upd`: UPDATE handling, or NULL (UPDATE is then NOTIMP).
 * `xfr`: zone transfers (copied), or NULL (AXFR/IXFR are then NOTIMP).
 * Returns NULL on failure (listen_fd is then closed). */
tcp_server_t *tcp_server_start(int listen_fd, int stop_fd, zonedb_handle_t *db,
                               tcp_limits_t limits, updserve_t *upd, const xfr_ctx_t *xfr);
/* Waits for the thread (after stop was signalled), closes every
 * connection and the listening socket, frees. */
void tcp_server_join(tcp_server_t *t);

#endif
