/* dns/updserve.h — serving UPDATE on the DNS sockets: checks a request
 * (dns/update.h), answers at once when the check decides, else submits it
 * (dns/server.h submit_update) and answers from the `done` callback. UDP
 * requests go through the retransmission cache (dns/updcache.h). Private
 * to dns/server.c, dns/udp.c and dns/tcp.c.
 *
 * Threads: any number of UDP workers and the TCP thread call in at once;
 * `done` runs on the submitter's thread (the Raft thread). Ownership: an
 * in-flight request owns a copy of what its reply needs (peer address,
 * reply-source control message, TSIG state), freed after its reply. */
#ifndef DNS_UPDSERVE_H
#define DNS_UPDSERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/server.h"

typedef struct updserve updserve_t;

/* NULL when opts->submit_update is NULL (UPDATE stays NOTIMP) or no memory
 * (*failed set then). */
updserve_t *updserve_new(const dns_server_opts_t *opts, bool *failed);
/* Stops taking new UPDATEs (answered SERVFAIL) and waits up to wait_ms
 * for the ones in flight. Returns true when none is left. */
bool updserve_drain(updserve_t *u, unsigned wait_ms);
/* Frees (after updserve_drain returned true; else it leaks on purpose:
 * a late `done` must find its state). */
void updserve_free(updserve_t *u, bool drained);

/* Requests checked from now on use keys and acl (dns_server_set_auth).
 * The previous ones are not freed: requests in flight still point into
 * them. -1 on allocation failure (nothing changes). */
int updserve_set_auth(updserve_t *u, const tsig_keystore_t *keys, const acl_t *acl);

/* UDP: handles one UPDATE datagram from peer received on fd; the reply
 * leaves with sendmsg on fd, with the control message `control`
 * (control_len octets, reply source address; may be 0). */
void updserve_udp(updserve_t *u, int fd, const uint8_t *pkt, size_t len,
                  const struct sockaddr *peer, socklen_t peer_len,
                  const void *control, size_t control_len);

/* TCP: the reply (without its length prefix) goes to deliver(arg, conn,
 * gen, resp, len), now (on the calling thread) or later (any thread);
 * deliver runs exactly once per call, with len 0 when nothing is sent. */
typedef void (*updserve_deliver_fn)(void *arg, unsigned conn, uint64_t gen,
                                    const uint8_t *resp, size_t len);
void updserve_tcp(updserve_t *u, updserve_deliver_fn deliver, void *arg, unsigned conn,
                  uint64_t gen, const uint8_t *pkt, size_t len, const struct sockaddr *peer);

#endif
