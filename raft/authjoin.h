/* raft/authjoin.h — the joining side of "join over the authenticated
 * channel" (issue #12): on a blocking socket to a member's Raft port, the
 * dialer's cluster-key handshake (raft/peerauth.h), one sealed JOIN_REQ
 * frame with our name and address, and the member's sealed JOIN_RESP. The
 * member runs the same membership change as the admin `raft join`. */
#ifndef RAFT_AUTHJOIN_H
#define RAFT_AUTHJOIN_H

#include <stdbool.h>
#include <stddef.h>

#include "raft/codec.h"
#include "raft/peerauth.h"

/* Asks the member at the other end of fd (connected, blocking) to add
 * `self` (id, name, address). True when it answered SUCCESS; otherwise
 * answer says why (the member's reason, or the handshake's). Each read
 * waits at most timeout_ms. Does not close fd. */
bool authjoin_exchange(int fd, const peerauth_ring_t *ring, const raft_hello_t *self,
                       unsigned timeout_ms, char *answer, size_t cap);

#endif
