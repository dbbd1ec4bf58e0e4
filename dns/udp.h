/* dns/udp.h — one UDP worker thread: a socket of its own (SO_REUSEPORT
 * spreads datagrams over the workers), batches of queries in with recvmmsg,
 * answers out with sendmmsg. Private to dns/server.c. */
#ifndef DNS_UDP_H
#define DNS_UDP_H

#include <stdatomic.h>
#include <stdbool.h>

#include "dns/rrl.h"
#include "dns/updserve.h"
#include "dns/xfr.h"
#include "zone/db.h"

typedef struct udp_worker udp_worker_t;

/* Starts a thread serving `fd` (bound, non-blocking; the worker takes it
 * over and closes it). It stops when `stop_fd` (an eventfd) becomes
 * readable or *stop is set. `echo_pktinfo`: the socket listens on every
 * address, so each reply must leave from the address the query came to
 * (IP_PKTINFO / IPV6_PKTINFO). `rrl`: the shared rate-limiting table, or
 * NULL for none (it must outlive the worker). `upd`: UPDATE handling, or
 * NULL (UPDATE is then NOTIMP). `xfr`: IXFR over UDP (must outlive the
 * worker), or NULL (NOTIMP). Returns NULL (fd closed) on failure. */
udp_worker_t *udp_worker_start(int fd, int stop_fd, const atomic_bool *stop,
                               zonedb_handle_t *db, rrl_t *rrl, updserve_t *upd,
                               const xfr_ctx_t *xfr, bool echo_pktinfo, unsigned index);
/* Waits for the thread (after stop was signalled), closes, frees. */
void udp_worker_join(udp_worker_t *w);

#endif
