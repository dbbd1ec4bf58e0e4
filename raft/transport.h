/* raft/transport.h — peer connections over TCP for the Raft thread.
 *
 * Each node dials one outgoing connection to every peer and sends all its
 * messages to that peer on it; what a peer sends us arrives on the
 * connection the peer dialed. So a connection carries traffic one way only,
 * both sides are symmetric, and a reconnect never races with the other
 * side's. With a cluster key the acceptor also writes, but only its
 * handshake CHALLENGE (or a REFUSE) and answers to join requests. The listener on -raft.addr also receives people: a connection
 * whose first byte is not the peer magic (codec.h) is handed over, with the
 * bytes already read, to the admin side.
 *
 * Outgoing connections reconnect with exponential back-off and jitter
 * (50 ms doubling to 1 s, and at once when the peer calls us). Each peer's send queue is bounded
 * (TRANSPORT_QUEUE_MAX bytes): when a slow or dead peer lets it fill up,
 * further messages are dropped, which Raft tolerates (it retransmits), so a
 * peer cannot make us grow memory without limit.
 *
 * Incoming connections are bounded (docs/security.md, "Raft port"): a
 * connection must finish its hello within TRANSPORT_HELLO_MS of the accept
 * (before its first byte too); a frame that has begun must bring
 * TRANSPORT_FRAME_STEP_BYTES (or its rest) every TRANSPORT_FRAME_STEP_MS and
 * end within TRANSPORT_FRAME_MS; read buffers grow only as bytes arrive, up
 * to one frame per connection and TRANSPORT_IN_BYTES_MAX across all of
 * them; at most TRANSPORT_MAX_UNINTRODUCED connections may be without a
 * hello (the oldest goes when another arrives) and TRANSPORT_MAX_INCOMING in
 * all; one connection per peer id (a new hello replaces the old one).
 *
 * Runs entirely on the loop's thread; nothing here is thread-safe. */
#ifndef RAFT_TRANSPORT_H
#define RAFT_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/codec.h"
#include "common/loop.h"
#include "raft/peerauth.h"

#define TRANSPORT_QUEUE_MAX (64u << 20)
#define TRANSPORT_MAX_INCOMING 256
#define TRANSPORT_MAX_UNINTRODUCED 64
#define TRANSPORT_HELLO_MS 5000
#define TRANSPORT_FRAME_STEP_MS 5000
#define TRANSPORT_FRAME_STEP_BYTES (64u << 10)
#define TRANSPORT_FRAME_MS 60000
#define TRANSPORT_IN_BYTES_MAX (32u << 20)

typedef struct transport transport_t;

/* Names an incoming authenticated connection for a later answer (slot and
 * generation): stays safe to use after that connection has closed. */
typedef uint64_t transport_reply_t;

typedef struct transport_callbacks {
    void *ctx;
    /* A Raft message from a peer; m and what it points to are valid only
     * during the call. */
    void (*on_message)(void *ctx, const raft_msg_t *m);
    /* A runtime frame (first body byte >= RAFT_FRAME_APP_MIN) from `from`. */
    void (*on_app_frame)(void *ctx, raft_id_t from, const uint8_t *body, size_t len);
    /* A peer introduced itself (on each new incoming connection). Returns
     * false to refuse it (e.g. an id that is not a member): the connection
     * is then closed. */
    bool (*on_hello)(void *ctx, const raft_hello_t *h);
    /* A person connected: the callee now owns fd (already removed from the
     * loop, non-blocking) and gets the n bytes read so far. */
    void (*on_text_conn)(void *ctx, int fd, const uint8_t *first, size_t n);
    /* A RAFT_FRAME_JOIN_REQ frame on an authenticated connection from
     * `from` (its proven hello); answer with transport_reply. */
    void (*on_join)(void *ctx, const raft_hello_t *from, transport_reply_t reply,
                    const uint8_t *body, size_t len);
} transport_callbacks_t;

/* Listens on `listen_spec` (":8300", "127.0.0.1:8300"...). `self` is sent
 * in every hello; an empty self->addr is filled per connection with the
 * local address of that connection and the listening port. Returns NULL
 * with err set on failure. */
transport_t *transport_new(loop_t *loop, const char *listen_spec, const raft_hello_t *self,
                           const transport_callbacks_t *cb, char *err, size_t err_len);
void transport_free(transport_t *t);
/* With a key ring (before the loop runs; the ring must outlive t), every
 * connection opens with the cluster-key handshake (raft/peerauth.h) and
 * every frame is sealed and verified; peers without the key are refused
 * both ways. Without one the wire is protocol version 1, as always. */
void transport_set_key_ring(transport_t *t, const peerauth_ring_t *ring);
/* Sends one sealed runtime frame back on the incoming connection `reply`
 * names (acceptor to dialer); -1 if it is gone or the socket is full. */
int transport_reply(transport_t *t, transport_reply_t reply, const uint8_t *body, size_t len);
/* The port actually listened on (useful with port 0). */
uint16_t transport_port(const transport_t *t);

/* Sets or changes where peer `id` is reached (a dial spec: "host:port", or
 * ":port" for this host). */
void transport_set_peer(transport_t *t, raft_id_t id, const char *addr);
/* Address last set for id, or NULL. */
const char *transport_peer_addr(const transport_t *t, raft_id_t id);

/* Queues m for m->to; returns 0, or -1 if dropped (unknown peer, or its
 * queue is full). */
int transport_send(transport_t *t, const raft_msg_t *m);
/* Queues a runtime frame (body[0] >= RAFT_FRAME_APP_MIN) for `to`. */
int transport_send_app(transport_t *t, raft_id_t to, const uint8_t *body, size_t len);
/* Corked, sends only queue frames, and transport_flush writes each peer's
 * queue with one send: a leader proposing 30 entries in one loop iteration
 * emits 30 AppendEntries per follower (one per proposal) and a follower
 * answers each, so sending frame by frame cost a syscall per frame on both
 * sides. Uncorked (the default), every send goes out at once. */
void transport_cork(transport_t *t, bool corked);
void transport_flush(transport_t *t);
/* Retries connections whose back-off expired; call on every tick. */
void transport_tick(transport_t *t);

/* Forgets every peer that is neither a voter nor a learner in m. */
void transport_retain_peers(transport_t *t, const raft_members_t *m);
/* Number of peers we dial, and of incoming connections (for tests and
 * status). */
size_t transport_peer_count(const transport_t *t);
size_t transport_incoming_count(const transport_t *t);
/* Read-buffer bytes held by all incoming connections together. */
size_t transport_incoming_bytes(const transport_t *t);

#endif
