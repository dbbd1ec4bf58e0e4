/* raft/transport_int.h — what transport.c (outgoing connections, sending,
 * life cycle) and transport_in.c (incoming connections: hellos, the
 * handshake, frames) share: the limits, the byte queue, the peer and
 * connection records and struct transport. Private to raft/transport*.c. */
#ifndef RAFT_TRANSPORT_INT_H
#define RAFT_TRANSPORT_INT_H

#include "raft/transport.h"

#include "common/bytebuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum {
    BACKOFF_MIN_MS = 50,
    BACKOFF_MAX_MS = 1000,
    READ_CHUNK = 64 * 1024,
    HELLO_MAX = PEERAUTH_HELLO_MAX,
    HANDSHAKE_TIMEOUT_MS = 5000,
    AUTH_LOG_INTERVAL_MS = 1000,
    AUTH_LOG_BURST = 5,
    /* Before the hello is done, read in small steps: a hello (or a
     * handshake message) is short, and a stranger gets no big buffer. */
    INTRO_READ = 512,
    /* An incoming connection holds at most one whole frame plus one read;
     * under a key, one whole record (a largest frame in a record: 20 bytes
     * more) plus one read. An unverified record is never buffered beyond. */
    IN_CONN_MAX = PEERAUTH_RECORD_OVERHEAD + PEERAUTH_RECORD_MAX + READ_CHUNK,
    /* An emptied buffer bigger than this is given back (smaller ones are
     * kept: a busy peer's batches would otherwise regrow it every time). */
    IN_KEEP_MAX = 16 * READ_CHUNK,
    /* Warnings about incoming connections: at most LOG_BURST per window. */
    LOG_WINDOW_MS = 10000,
    LOG_BURST = 10,
};

/* ---- byte queue: common/bytebuf.h ------------------------------------------ */

/* ---- state ------------------------------------------------------------------ */

typedef enum { PEER_IDLE, PEER_CONNECTING, PEER_AUTHENTICATING, PEER_CONNECTED } peer_state_t;

typedef struct peer {
    transport_t *t;
    raft_id_t id;
    char addr[RAFT_ADDR_MAX];
    int fd;
    peer_state_t state;
    uint8_t hello[HELLO_MAX];
    size_t hello_len, hello_sent;
    bytebuf_t queue;
    uint32_t backoff_ms;
    uint64_t retry_at_ms;
    bool warned;       /* logged the current outage already */
    bool want_out;     /* polled for EPOLLOUT: the socket took not all */
    char last_why[160]; /* the outage reason logged last */
    /* cluster key: the handshake in progress, then the session */
    peerauth_hs_t *hs;
    peerauth_session_t *session;
    /* With a session: the record being filled at the queue's end (its
     * header and frames; sealed when flushed), in bytes; 0: none. */
    size_t open_len;
    uint8_t reply[PEERAUTH_REFUSE_MAX];
    size_t reply_len;
    uint64_t hs_deadline_ms;
} peer_t;

typedef enum { IN_DETECT, IN_HELLO, IN_AUTH_HELLO, IN_AUTH_PROOF, IN_FRAMES } in_state_t;

typedef struct incoming {
    transport_t *t;
    int fd;
    in_state_t state;
    raft_hello_t hello;
    bytebuf_t buf;
    uint64_t seq;            /* accept order: larger is newer */
    uint64_t accepted_ms;    /* the hello is due TRANSPORT_HELLO_MS after */
    uint64_t frame_start_ms; /* 0: no frame in progress */
    uint64_t step_ms;        /* start of the frame's current progress window */
    size_t step_bytes;       /* bytes received in that window */
    size_t slot;
    uint32_t gen;                /* with slot: the transport_reply_t */
    peerauth_hs_t *hs;           /* IN_AUTH_*: the handshake */
    peerauth_session_t *session; /* IN_FRAMES with a key */
} incoming_t;

struct transport {
    loop_t *loop;
    int listen_fd;
    uint16_t port;
    raft_hello_t self;
    transport_callbacks_t cb;
    peer_t *peers[2 * RAFT_MAX_MEMBERS];
    size_t n_peers;
    incoming_t *in[TRANSPORT_MAX_INCOMING];
    size_t in_bytes;         /* read-buffer capacity of all incoming */
    uint64_t in_seq;
    uint64_t log_window_ms;  /* rate limit of warnings about incoming */
    unsigned log_lines;
    uint64_t log_suppressed;
    raft_codec_scratch_t scratch;
    bool corked;       /* queue sends until transport_flush */
    uint64_t rng;
    const peerauth_ring_t *ring; /* NULL: no cluster key (protocol v1) */
    uint32_t next_gen;
    uint64_t auth_log_ms;        /* rate limit for handshake/MAC failures: */
    unsigned auth_log_count;     /* lines in the window from auth_log_ms */
    uint64_t auth_log_suppressed;
};

/* transport_in.c */
void transport_incoming_close(incoming_t *c, bool close_fd);
bool transport_incoming_write(incoming_t *c, const uint8_t *data, size_t len);
void transport_incoming_check_deadlines(incoming_t *c, uint64_t now);
void transport_on_listen_event(void *ctx, int fd, uint32_t events);

#endif
