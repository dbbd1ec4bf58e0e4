/* raft/transport.c — peer TCP connections for the Raft thread (see
 * transport.h for the model: one outgoing connection per peer, incoming
 * connections only read, people handed to the admin side), and the bounds
 * that keep anyone who can reach the Raft port from holding its memory,
 * its connection slots or the log (deadlines, byte caps, connection caps).
 *
 * Buffers: an outgoing peer owns a queue of encoded frames (bytes
 * [start, start+len) of a growable array); an incoming connection owns a
 * read buffer that grows only as bytes arrive, to one frame at most
 * (RAFT_FRAME_MAX, plus its tag with a key), and counts against
 * TRANSPORT_IN_BYTES_MAX for all incoming connections together. Frames are
 * decoded in place: the entries handed to the Raft core point into the read
 * buffer and are copied by the core.
 *
 * Cluster key (transport_set_key_ring): an incoming connection runs the
 * acceptor's side of the handshake (IN_AUTH_HELLO, IN_AUTH_PROOF) before
 * any frame; an outgoing one waits in PEER_AUTHENTICATING for the CHALLENGE
 * while its queue holds plain frames, which are sealed all at once behind
 * the PROOF when the session exists, and at enqueue time after that. Every
 * frame in is verified before it is decoded (incoming_open_frame). */
#include "raft/transport.h"
#include "common/bytes.h"

#include <errno.h>
#include <stdarg.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/log.h"

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
    /* An incoming connection holds at most one whole frame (with its tag,
     * under a key) plus one read. */
    IN_CONN_MAX = RAFT_FRAME_HEADER + RAFT_FRAME_MAX + PEERAUTH_TAG_LEN + READ_CHUNK,
    /* An emptied buffer bigger than this is given back (smaller ones are
     * kept: a busy peer's batches would otherwise regrow it every time). */
    IN_KEEP_MAX = 16 * READ_CHUNK,
    /* Warnings about incoming connections: at most LOG_BURST per window. */
    LOG_WINDOW_MS = 10000,
    LOG_BURST = 10,
};

/* ---- byte queue ------------------------------------------------------------ */

typedef struct bytebuf {
    uint8_t *data;
    size_t start, len, cap;
} bytebuf_t;

static bool bytebuf_reserve(bytebuf_t *b, size_t extra)
{
    if (b->start > 0 && b->start + b->len + extra > b->cap) {
        memmove(b->data, b->data + b->start, b->len);
        b->start = 0;
    }
    if (b->len + extra <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra)
        cap *= 2;
    uint8_t *d = realloc(b->data, cap);
    if (!d)
        return false;
    b->data = d;
    b->cap = cap;
    return true;
}

static uint8_t *bytebuf_tail(bytebuf_t *b) { return b->data + b->start + b->len; }
static uint8_t *bytebuf_head(bytebuf_t *b) { return b->data + b->start; }

static void bytebuf_consume(bytebuf_t *b, size_t n)
{
    b->start += n;
    b->len -= n;
    if (b->len == 0)
        b->start = 0;
}

static void bytebuf_free(bytebuf_t *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

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

static uint32_t jitter_rand(transport_t *t)
{
    t->rng ^= t->rng << 13;
    t->rng ^= t->rng >> 7;
    t->rng ^= t->rng << 17;
    return (uint32_t)t->rng;
}

/* ---- incoming connections -------------------------------------------------- */

/* Anyone can make us warn about their connections, so such warnings are
 * rate limited: at most LOG_BURST per LOG_WINDOW_MS, then one line saying
 * how many were left out. */
static bool incoming_log_allowed(transport_t *t)
{
    uint64_t now = loop_now_ms();
    if (now - t->log_window_ms >= LOG_WINDOW_MS) {
        if (t->log_suppressed)
            log_warn("raft", "%llu more warnings about Raft-port connections were suppressed",
                     (unsigned long long)t->log_suppressed);
        t->log_window_ms = now;
        t->log_lines = 0;
        t->log_suppressed = 0;
    }
    if (t->log_lines < LOG_BURST) {
        t->log_lines++;
        return true;
    }
    t->log_suppressed++;
    return false;
}

static void incoming_close(incoming_t *c, bool close_fd)
{
    transport_t *t = c->t;
    loop_remove(t->loop, c->fd);
    if (close_fd)
        close(c->fd);
    for (size_t i = 0; i < TRANSPORT_MAX_INCOMING; i++)
        if (t->in[i] == c)
            t->in[i] = NULL;
    t->in_bytes -= c->buf.cap;
    bytebuf_free(&c->buf);
    free(c->hs);
    peerauth_session_free(c->session);
    free(c);
}

/* Handshake and MAC failures are what an attacker can cause at will: at
 * most AUTH_LOG_BURST lines a second, then a count of the ones not logged. */
static void auth_warn(transport_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void auth_warn(transport_t *t, const char *fmt, ...)
{
    uint64_t now = loop_now_ms();
    if (now - t->auth_log_ms >= AUTH_LOG_INTERVAL_MS) {
        if (t->auth_log_suppressed)
            log_warn("raft", "%llu more handshake or MAC failures not logged",
                     (unsigned long long)t->auth_log_suppressed);
        t->auth_log_ms = now;
        t->auth_log_count = 0;
        t->auth_log_suppressed = 0;
    }
    if (t->auth_log_count >= AUTH_LOG_BURST) {
        t->auth_log_suppressed++;
        return;
    }
    t->auth_log_count++;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_warn("raft", "%s", line);
}

/* Writes a small handshake message or reply on an incoming connection, all
 * at once or not at all (the socket is fresh or nearly idle). */
static bool incoming_write(incoming_t *c, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        data += n;
        len -= (size_t)n;
    }
    return true;
}

/* Closes a connection whose handshake failed, telling the dialer why
 * first (REFUSE is not authenticated: the dialer only logs it). */
static void incoming_refuse(incoming_t *c, const char *why)
{
    uint8_t msg[PEERAUTH_REFUSE_MAX];
    size_t n = peerauth_refusal(msg, why);
    (void)incoming_write(c, msg, n);
    /* Closing with unread bytes would send a reset that can overtake the
     * REFUSE: send FIN after it and drop what the dialer already sent. */
    shutdown(c->fd, SHUT_WR);
    uint8_t junk[4096];
    for (int i = 0; i < 16 && read(c->fd, junk, sizeof junk) > 0; i++)
        ;
    auth_warn(c->t, "refusing peer connection from %s%s%s%s: %s",
              c->hello.name[0] ? c->hello.name : "an unnamed peer", c->hello.addr[0] ? " (" : "",
              c->hello.addr, c->hello.addr[0] ? ")" : "", why);
    incoming_close(c, true);
}

static void incoming_reject(incoming_t *c, const char *why)
{
    if (incoming_log_allowed(c->t))
        log_warn("raft", "closing peer connection from %s (%s): %s",
                 c->hello.name[0] ? c->hello.name : "unknown",
                 c->hello.addr[0] ? c->hello.addr : "no hello yet", why);
    incoming_close(c, true);
}

static bool incoming_introduced(const incoming_t *c) { return c->state == IN_FRAMES; }

/* The connection that gives memory back first when all incoming buffers
 * together would pass TRANSPORT_IN_BYTES_MAX: the largest one (counting
 * `extra` more for c) among those not authenticated, the newest among
 * equals. NULL if only authenticated connections hold memory. */
static incoming_t *incoming_victim(transport_t *t, incoming_t *c, size_t extra)
{
    incoming_t *v = NULL;
    size_t v_size = 0;
    for (size_t i = 0; i < TRANSPORT_MAX_INCOMING; i++) {
        incoming_t *o = t->in[i];
        if (!o || o->hello.authenticated)
            continue;
        size_t size = o->buf.cap + (o == c ? extra : 0);
        if (!v || size > v_size || (size == v_size && o->seq > v->seq)) {
            v = o;
            v_size = size;
        }
    }
    return v;
}

/* Makes room for c to hold `extra` more bytes; false if c was closed. */
static bool incoming_make_room(incoming_t *c, size_t extra)
{
    transport_t *t = c->t;
    while (t->in_bytes + extra > TRANSPORT_IN_BYTES_MAX) {
        incoming_t *v = incoming_victim(t, c, extra);
        if (!v)
            return true; /* authenticated peers only: one each, bounded */
        incoming_reject(v, "peer connections together buffer too much: closing the largest "
                           "unauthenticated one");
        if (v == c)
            return false;
    }
    return true;
}

/* Room for `extra` more bytes in c's read buffer, grown only for bytes
 * about to be read and never beyond IN_CONN_MAX; false if c was closed. */
static bool incoming_reserve(incoming_t *c, size_t extra)
{
    bytebuf_t *b = &c->buf;
    if (b->start > 0 && b->start + b->len + extra > b->cap) {
        memmove(b->data, b->data + b->start, b->len);
        b->start = 0;
    }
    if (b->len + extra <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra)
        cap *= 2;
    if (cap > IN_CONN_MAX)
        cap = IN_CONN_MAX;
    if (!incoming_make_room(c, cap - b->cap))
        return false;
    uint8_t *d = realloc(b->data, cap);
    if (!d) {
        incoming_reject(c, "out of memory");
        return false;
    }
    c->t->in_bytes += cap - b->cap;
    b->data = d;
    b->cap = cap;
    return true;
}

/* How much to read next: little before the hello, and never more than
 * one frame plus a read chunk in the buffer. */
static size_t incoming_read_size(const incoming_t *c)
{
    size_t want = incoming_introduced(c) ? READ_CHUNK : INTRO_READ;
    size_t room = IN_CONN_MAX - c->buf.len;
    return want < room ? want : room;
}

/* An emptied large buffer is freed, so a peer that once sent a big frame
 * does not keep its memory. */
static void incoming_shrink(incoming_t *c)
{
    if (c->buf.len == 0 && c->buf.cap > IN_KEEP_MAX) {
        c->t->in_bytes -= c->buf.cap;
        bytebuf_free(&c->buf);
    }
}

/* Keeps one incoming connection per peer id: an older one from the same id
 * is closed (its peer redialed, or someone else claims its id). */
static void incoming_replace_older(incoming_t *c)
{
    transport_t *t = c->t;
    for (size_t i = 0; i < TRANSPORT_MAX_INCOMING; i++) {
        incoming_t *o = t->in[i];
        if (o && o != c && incoming_introduced(o) && o->hello.id == c->hello.id) {
            if (incoming_log_allowed(t))
                log_info("raft", "a new connection from peer %s replaces the previous one",
                         c->hello.name);
            incoming_close(o, true);
        }
    }
}

/* Bytes still missing from the frame at the head of the buffer. */
static size_t incoming_frame_missing(const incoming_t *c);

/* Tracks the frame in progress after n bytes arrived: a frame starts with
 * its first byte and ends when it is consumed (frame_start_ms back to 0). */
static void incoming_note_progress(incoming_t *c, size_t n)
{
    if (!incoming_introduced(c) || c->buf.len == 0) {
        c->frame_start_ms = 0;
        return;
    }
    uint64_t now = loop_now_ms();
    if (c->frame_start_ms == 0) {
        c->frame_start_ms = c->step_ms = now ? now : 1;
        c->step_bytes = 0;
        return;
    }
    c->step_bytes += n;
}

/* Deadlines of one incoming connection (checked every tick): the hello
 * within TRANSPORT_HELLO_MS of the accept, and a frame in progress must
 * bring TRANSPORT_FRAME_STEP_BYTES (or its rest) every
 * TRANSPORT_FRAME_STEP_MS and end within TRANSPORT_FRAME_MS. */
static void incoming_check_deadlines(incoming_t *c, uint64_t now)
{
    if (!incoming_introduced(c)) {
        if (now - c->accepted_ms >= TRANSPORT_HELLO_MS)
            incoming_reject(c, c->buf.len || c->state != IN_DETECT
                                   ? "no complete hello in time"
                                   : "said nothing in time");
        return;
    }
    if (c->frame_start_ms == 0)
        return;
    if (now - c->frame_start_ms >= TRANSPORT_FRAME_MS) {
        incoming_reject(c, "frame not complete in time");
        return;
    }
    if (now - c->step_ms < TRANSPORT_FRAME_STEP_MS)
        return;
    size_t missing = incoming_frame_missing(c);
    size_t due = missing < TRANSPORT_FRAME_STEP_BYTES ? missing : TRANSPORT_FRAME_STEP_BYTES;
    if (c->step_bytes < due) {
        incoming_reject(c, "frame arriving too slowly");
        return;
    }
    c->step_ms = now;
    c->step_bytes = 0;
}

/* A person typed on the Raft port: hand the socket to the admin side. */
static void incoming_hand_to_text(incoming_t *c)
{
    transport_t *t = c->t;
    int fd = c->fd;
    uint8_t first[READ_CHUNK];
    size_t n = c->buf.len < sizeof first ? c->buf.len : sizeof first;
    memcpy(first, bytebuf_head(&c->buf), n);
    incoming_close(c, false);
    if (t->cb.on_text_conn)
        t->cb.on_text_conn(t->cb.ctx, fd, first, n);
    else
        close(fd);
}

/* Acceptor: the dialer's HELLO in, CHALLENGE out. 1: sent; 0: need more
 * bytes; -1: connection closed. */
static int incoming_auth_hello(incoming_t *c)
{
    const char *why = NULL;
    int want = peerauth_hello_len(bytebuf_head(&c->buf), c->buf.len, &why);
    if (want < 0) {
        incoming_refuse(c, why);
        return -1;
    }
    if (want == 0 || c->buf.len < (size_t)want)
        return 0;
    uint8_t challenge[PEERAUTH_CHALLENGE_MAX];
    c->hs = calloc(1, sizeof *c->hs);
    int n = c->hs ? peerauth_acceptor_challenge(c->hs, c->t->ring, &c->t->self,
                                                bytebuf_head(&c->buf), (size_t)want,
                                                challenge, &why)
                  : (why = "out of memory", -1);
    if (c->hs)
        c->hello = c->hs->peer; /* unproven yet: for log lines only */
    if (n < 0) {
        incoming_refuse(c, why);
        return -1;
    }
    bytebuf_consume(&c->buf, (size_t)want);
    if (!incoming_write(c, challenge, (size_t)n)) {
        incoming_reject(c, "cannot write the handshake challenge");
        return -1;
    }
    c->state = IN_AUTH_PROOF;
    return 1;
}

/* Acceptor: the dialer's PROOF. 1: authenticated; 0: need more; -1: closed. */
static int incoming_auth_proof(incoming_t *c)
{
    if (c->buf.len < PEERAUTH_PROOF_LEN)
        return 0;
    const char *why = NULL;
    c->session = peerauth_acceptor_finish(c->hs, bytebuf_head(&c->buf), &why);
    if (!c->session) {
        auth_warn(c->t, "closing peer connection from %s (%s): %s", c->hello.name,
                  c->hello.addr, why);
        incoming_close(c, true);
        return -1;
    }
    bytebuf_consume(&c->buf, PEERAUTH_PROOF_LEN);
    c->hello = c->hs->peer;
    c->hello.authenticated = true;
    free(c->hs);
    c->hs = NULL;
    c->state = IN_FRAMES;
    if (c->t->cb.on_hello)
        c->t->cb.on_hello(c->t->cb.ctx, &c->hello);
    return 1;
}

/* 1: hello parsed; 0: need more bytes; -1: connection closed. */
static int incoming_read_hello(incoming_t *c)
{
    const char *why = NULL;
    if (c->buf.len < RAFT_HELLO_LEN)
        return 0;
    uint8_t version = bytebuf_head(&c->buf)[4];
    int v1_rest = raft_codec_hello_rest(bytebuf_head(&c->buf), &why);
    if (c->t->ring && v1_rest >= 0 && c->buf.len >= RAFT_HELLO_LEN + (size_t)v1_rest)
        /* who it claims to be, for the log line only */
        (void)raft_codec_parse_hello(bytebuf_head(&c->buf), RAFT_HELLO_LEN + (size_t)v1_rest,
                                     &c->hello, &why);
    if (c->t->ring && version != PEERAUTH_VERSION) {
        incoming_refuse(c, "this node requires the cluster key and the peer has none "
                           "(unauthenticated protocol v1 hello)");
        return -1;
    }
    if (!c->t->ring && version == PEERAUTH_VERSION) {
        incoming_refuse(c, "the peer uses a cluster key and this node has none "
                           "(start it with -cluster.key.file)");
        return -1;
    }
    if (c->t->ring) {
        c->state = IN_AUTH_HELLO;
        return incoming_auth_hello(c);
    }
    int rest = raft_codec_hello_rest(bytebuf_head(&c->buf), &why);
    if (rest < 0) {
        incoming_reject(c, why);
        return -1;
    }
    size_t total = RAFT_HELLO_LEN + (size_t)rest;
    if (c->buf.len < total)
        return 0;
    if (raft_codec_parse_hello(bytebuf_head(&c->buf), total, &c->hello, &why) != 0) {
        incoming_reject(c, why);
        return -1;
    }
    bytebuf_consume(&c->buf, total);
    if (c->t->cb.on_hello && !c->t->cb.on_hello(c->t->cb.ctx, &c->hello)) {
        incoming_reject(c, "hello refused: not a member of the configuration, or an id "
                           "that is not its name's");
        return -1;
    }
    c->state = IN_FRAMES;
    incoming_replace_older(c);
    return 1;
}

static size_t incoming_frame_missing(const incoming_t *c)
{
    bytebuf_t *b = (bytebuf_t *)&c->buf;
    if (b->len < RAFT_FRAME_HEADER)
        return RAFT_FRAME_HEADER - b->len;
    size_t tag = c->session ? PEERAUTH_TAG_LEN : 0;
    size_t total = RAFT_FRAME_HEADER + (size_t)get_le32(bytebuf_head(b)) + tag;
    return total > b->len ? total - b->len : 0;
}

/* Delivers one frame body; false if the connection was closed. */
static bool incoming_deliver(incoming_t *c, const uint8_t *body, size_t len)
{
    transport_t *t = c->t;
    if (body[0] == RAFT_FRAME_JOIN_REQ && c->session) {
        if (t->cb.on_join)
            t->cb.on_join(t->cb.ctx, &c->hello, (uint64_t)c->gen << 16 | c->slot, body, len);
        return true;
    }
    if (body[0] >= RAFT_FRAME_APP_MIN) {
        if (t->cb.on_app_frame)
            t->cb.on_app_frame(t->cb.ctx, c->hello.id, body, len);
        return true;
    }
    raft_msg_t m;
    const char *why = NULL;
    if (raft_codec_decode(body, len, &m, &t->scratch, &why) != 0) {
        incoming_reject(c, why);
        return false;
    }
    if (m.from != c->hello.id || m.to != t->self.id) {
        incoming_reject(c, "message sender or receiver does not match the connection");
        return false;
    }
    if (t->cb.on_message)
        t->cb.on_message(t->cb.ctx, &m);
    return true;
}

/* With a session, checks the frame's tag (the frame is length | body |
 * tag); false, after closing the connection, if it does not match. */
static bool incoming_open_frame(incoming_t *c, uint32_t body_len)
{
    if (!c->session || peerauth_open(c->session, bytebuf_head(&c->buf), body_len))
        return true;
    auth_warn(c->t, "closing peer connection from %s (%s): bad MAC (a frame altered, "
              "replayed, reordered or forged)", c->hello.name, c->hello.addr);
    incoming_close(c, true);
    return false;
}

/* Processes every complete frame in the buffer; false if closed. */
static bool incoming_read_frames(incoming_t *c)
{
    size_t tag = c->session ? PEERAUTH_TAG_LEN : 0;
    while (c->buf.len >= RAFT_FRAME_HEADER) {
        uint32_t body_len = get_le32(bytebuf_head(&c->buf));
        if (body_len == 0 || body_len > RAFT_FRAME_MAX) {
            incoming_reject(c, body_len ? "frame larger than the limit" : "empty frame");
            return false;
        }
        size_t frame_len = RAFT_FRAME_HEADER + (size_t)body_len + tag;
        /* The body's memory is taken as it arrives, not when announced. */
        if (c->buf.len < frame_len)
            return true;
        if (!incoming_open_frame(c, body_len))
            return false;
        if (!incoming_deliver(c, bytebuf_head(&c->buf) + RAFT_FRAME_HEADER, body_len))
            return false;
        bytebuf_consume(&c->buf, frame_len);
        c->frame_start_ms = 0;
    }
    return true;
}

/* Runs the connection's state machine over what has been read; false if
 * the connection is gone (closed or handed over). */
static bool incoming_process(incoming_t *c)
{
    if (c->state == IN_DETECT && c->buf.len > 0) {
        if (bytebuf_head(&c->buf)[0] != (uint8_t)RAFT_WIRE_MAGIC[0]) {
            incoming_hand_to_text(c);
            return false;
        }
        c->state = IN_HELLO;
    }
    if (c->state == IN_HELLO) {
        int r = incoming_read_hello(c);
        if (r <= 0)
            return r == 0;
    }
    if (c->state == IN_AUTH_HELLO) {
        int r = incoming_auth_hello(c);
        if (r <= 0)
            return r == 0;
    }
    if (c->state == IN_AUTH_PROOF) {
        int r = incoming_auth_proof(c);
        if (r <= 0)
            return r == 0;
    }
    if (c->state == IN_FRAMES)
        return incoming_read_frames(c);
    return true;
}

static void on_incoming_event(void *ctx, int fd, uint32_t events)
{
    incoming_t *c = ctx;
    (void)fd;
    (void)events;
    for (;;) {
        size_t want = incoming_read_size(c);
        if (!incoming_reserve(c, want))
            return;
        ssize_t n = read(c->fd, bytebuf_tail(&c->buf), want);
        if (n > 0) {
            c->buf.len += (size_t)n;
            if (!incoming_process(c))
                return;
            incoming_note_progress(c, (size_t)n);
            incoming_shrink(c);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n < 0 && errno == EINTR)
            continue;
        if (c->state == IN_FRAMES && c->buf.len > 0 && incoming_log_allowed(c->t))
            log_warn("raft", "peer %s closed the connection in the middle of a frame",
                     c->hello.name);
        else if (c->state == IN_AUTH_PROOF)
            auth_warn(c->t, "peer %s (%s) closed the connection during the handshake: "
                      "does it have our cluster key?", c->hello.name, c->hello.addr);
        incoming_close(c, true);
        return;
    }
}

/* The oldest connection that has not finished its hello, or NULL. */
static incoming_t *oldest_unintroduced(const transport_t *t, size_t *count)
{
    incoming_t *oldest = NULL;
    *count = 0;
    for (size_t i = 0; i < TRANSPORT_MAX_INCOMING; i++) {
        incoming_t *o = t->in[i];
        if (!o || incoming_introduced(o))
            continue;
        ++*count;
        if (!oldest || o->seq < oldest->seq)
            oldest = o;
    }
    return oldest;
}

/* A free slot for a new connection, or TRANSPORT_MAX_INCOMING. When the
 * connections without a hello reach TRANSPORT_MAX_UNINTRODUCED, or all
 * slots are taken, the oldest of them is closed for the new one (as Knot
 * and NSD close their oldest idle TCP client): a burst of idle sockets
 * cannot keep peers and people out for longer than it keeps coming. */
static size_t incoming_free_slot(transport_t *t)
{
    size_t unintroduced, used = 0, slot = TRANSPORT_MAX_INCOMING;
    incoming_t *oldest = oldest_unintroduced(t, &unintroduced);
    for (size_t i = 0; i < TRANSPORT_MAX_INCOMING; i++) {
        if (t->in[i])
            used++;
        else if (slot == TRANSPORT_MAX_INCOMING)
            slot = i;
    }
    if (oldest && (unintroduced >= TRANSPORT_MAX_UNINTRODUCED || used == TRANSPORT_MAX_INCOMING)) {
        incoming_reject(oldest, "too many connections without a hello: closing the oldest");
        return incoming_free_slot(t);
    }
    return slot;
}

static void accept_one(transport_t *t, int fd)
{
    size_t slot = incoming_free_slot(t);
    incoming_t *c = slot < TRANSPORT_MAX_INCOMING ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        if (incoming_log_allowed(t))
            log_warn("raft", "refusing a connection on the Raft port: %d connections, all "
                             "introduced", TRANSPORT_MAX_INCOMING);
        close(fd);
        return;
    }
    c->t = t;
    c->fd = fd;
    c->seq = ++t->in_seq;
    c->accepted_ms = loop_now_ms();
    c->slot = slot;
    c->gen = ++t->next_gen;
    if (loop_add(t->loop, fd, EPOLLIN | EPOLLRDHUP, on_incoming_event, c) != 0) {
        close(fd);
        free(c);
        return;
    }
    t->in[slot] = c;
}

static void on_listen_event(void *ctx, int fd, uint32_t events)
{
    transport_t *t = ctx;
    (void)events;
    for (;;) {
        int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return; /* EAGAIN, or EMFILE: try again on the next event */
        }
        int one = 1;
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        accept_one(t, c);
    }
}

/* ---- outgoing connections --------------------------------------------------- */

static peer_t *find_peer(const transport_t *t, raft_id_t id)
{
    for (size_t i = 0; i < t->n_peers; i++)
        if (t->peers[i]->id == id)
            return t->peers[i];
    return NULL;
}

static void peer_forget_session(peer_t *p)
{
    free(p->hs);
    p->hs = NULL;
    peerauth_session_free(p->session);
    p->session = NULL;
    p->reply_len = 0;
}

static void peer_disconnect(transport_t *t, peer_t *p, const char *why)
{
    if (p->fd >= 0) {
        loop_remove(t->loop, p->fd);
        close(p->fd);
        p->fd = -1;
    }
    /* Once per outage, and again when the reason changes (e.g. a peer
     * that was down comes back but refuses our key). */
    if (!p->warned || strcmp(p->last_why, why) != 0)
        log_warn("raft", "peer at %s unreachable: %s (retrying)", p->addr, why);
    snprintf(p->last_why, sizeof p->last_why, "%s", why);
    p->warned = true;
    peer_forget_session(p);
    p->want_out = false;
    p->state = PEER_IDLE;
    /* A partly written frame cannot be resumed on a new connection; Raft
     * retransmits whatever was lost. */
    p->queue.start = p->queue.len = 0;
    p->backoff_ms = p->backoff_ms ? p->backoff_ms * 2 : BACKOFF_MIN_MS;
    if (p->backoff_ms > BACKOFF_MAX_MS)
        p->backoff_ms = BACKOFF_MAX_MS;
    uint32_t jitter = jitter_rand(t) % p->backoff_ms; /* wait in [b/2, 3b/2) */
    p->retry_at_ms = loop_now_ms() + p->backoff_ms / 2 + jitter;
}

/* Only on a change: an epoll_ctl per flush would cost a syscall per frame. */
static void peer_want_write(transport_t *t, peer_t *p, bool want)
{
    if (p->want_out == want)
        return;
    if (loop_modify(t->loop, p->fd, EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0)) == 0)
        p->want_out = want;
}

static void peer_flush(transport_t *t, peer_t *p)
{
    while (p->hello_sent < p->hello_len) {
        ssize_t n = write(p->fd, p->hello + p->hello_sent, p->hello_len - p->hello_sent);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            peer_want_write(t, p, true);
            return;
        }
        if (n <= 0) {
            peer_disconnect(t, p, strerror(errno));
            return;
        }
        p->hello_sent += (size_t)n;
    }
    if (p->state != PEER_CONNECTED) { /* the handshake is not done */
        peer_want_write(t, p, false);
        return;
    }
    while (p->queue.len > 0) {
        ssize_t n = send(p->fd, bytebuf_head(&p->queue), p->queue.len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            peer_want_write(t, p, true);
            return;
        }
        if (n <= 0) {
            peer_disconnect(t, p, strerror(errno));
            return;
        }
        bytebuf_consume(&p->queue, (size_t)n);
    }
    peer_want_write(t, p, false);
}

/* Our address as this connection's peer sees it, plus our listening port. */
static void fill_advertised_addr(transport_t *t, int fd, raft_hello_t *h)
{
    if (!h->addr[0])
        addr_local_endpoint(fd, t->port, h->addr, sizeof h->addr);
}

static void peer_connected(transport_t *t, peer_t *p)
{
    int one = 1;
    setsockopt(p->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    raft_hello_t h = t->self;
    fill_advertised_addr(t, p->fd, &h);
    p->hello_sent = 0;
    if (t->ring) {
        p->hs = calloc(1, sizeof *p->hs);
        p->hello_len = p->hs ? peerauth_dialer_hello(p->hs, t->ring, &h, p->hello) : 0;
        if (p->hello_len == 0) {
            peer_disconnect(t, p, "cannot start the handshake (out of memory or randomness)");
            return;
        }
        p->state = PEER_AUTHENTICATING;
        p->hs_deadline_ms = loop_now_ms() + HANDSHAKE_TIMEOUT_MS;
        peer_flush(t, p);
        return;
    }
    p->hello_len = raft_codec_hello(p->hello, &h);
    p->state = PEER_CONNECTED;
    p->backoff_ms = 0;
    if (p->warned)
        log_info("raft", "peer at %s reachable again", p->addr);
    p->warned = false;
    peer_flush(t, p);
}

/* The plain frames queued during the handshake, sealed in order behind the
 * PROOF: the first bytes the acceptor reads after its CHALLENGE. */
static bool peer_seal_queue(peer_t *p, const uint8_t proof[PEERAUTH_PROOF_LEN])
{
    bytebuf_t sealed = { 0 };
    size_t frames = 0;
    for (size_t at = 0; at + RAFT_FRAME_HEADER <= p->queue.len; frames++)
        at += RAFT_FRAME_HEADER + get_le32(bytebuf_head(&p->queue) + at);
    if (!bytebuf_reserve(&sealed, PEERAUTH_PROOF_LEN + p->queue.len + frames * PEERAUTH_TAG_LEN))
        return false;
    memcpy(bytebuf_tail(&sealed), proof, PEERAUTH_PROOF_LEN);
    sealed.len = PEERAUTH_PROOF_LEN;
    for (size_t at = 0; at + RAFT_FRAME_HEADER <= p->queue.len;) {
        const uint8_t *frame = bytebuf_head(&p->queue) + at;
        size_t body = get_le32(frame);
        memcpy(bytebuf_tail(&sealed), frame, RAFT_FRAME_HEADER + body);
        peerauth_seal(p->session, bytebuf_tail(&sealed), body);
        sealed.len += RAFT_FRAME_HEADER + body + PEERAUTH_TAG_LEN;
        at += RAFT_FRAME_HEADER + body;
    }
    bytebuf_free(&p->queue);
    p->queue = sealed;
    return true;
}

/* Dialer: reads the CHALLENGE (or a REFUSE); when it is whole, checks it,
 * queues the PROOF and the sealed frames, and starts sending. */
static void peer_read_challenge(transport_t *t, peer_t *p)
{
    const char *why = NULL;
    for (;;) {
        int want = peerauth_reply_len(p->reply, p->reply_len, &why);
        if (want < 0) {
            peer_disconnect(t, p, why);
            return;
        }
        if (want > 0 && p->reply_len >= (size_t)want)
            break;
        /* reply_len says 0 until the fixed part it needs is there */
        size_t need = want > 0 ? (size_t)want
                      : p->reply_len < PEERAUTH_REFUSE_FIXED ? PEERAUTH_REFUSE_FIXED
                                                             : RAFT_HELLO_LEN;
        ssize_t n = read(p->fd, p->reply + p->reply_len, need - p->reply_len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n <= 0) {
            peer_disconnect(t, p, n == 0 ? "closed during the handshake: does it have the "
                                           "cluster key?"
                                         : strerror(errno));
            return;
        }
        p->reply_len += (size_t)n;
    }
    uint8_t proof[PEERAUTH_PROOF_LEN];
    p->session = peerauth_dialer_finish(p->hs, p->reply, p->reply_len, p->id, proof, &why);
    if (!p->session) {
        char line[400];
        snprintf(line, sizeof line, "handshake failed: %s", why);
        peer_disconnect(t, p, line);
        return;
    }
    free(p->hs);
    p->hs = NULL;
    if (!peer_seal_queue(p, proof)) {
        peer_disconnect(t, p, "out of memory");
        return;
    }
    p->state = PEER_CONNECTED;
    p->backoff_ms = 0;
    if (p->warned)
        log_info("raft", "peer at %s reachable again (authenticated)", p->addr);
    p->warned = false;
    peer_flush(t, p);
}

/* Data on an outgoing connection where the acceptor has nothing to say:
 * the connection's end, or a REFUSE telling us why it ends. */
static void peer_read_unexpected(transport_t *t, peer_t *p)
{
    uint8_t junk[PEERAUTH_REFUSE_MAX];
    ssize_t n = read(p->fd, junk, sizeof junk);
    if (n > 0 && !p->session) {
        const char *why = NULL;
        int want = peerauth_reply_len(junk, (size_t)n, &why);
        if (want > 0 && junk[5] == PEERAUTH_KIND_REFUSE && (size_t)want <= (size_t)n) {
            char line[400];
            snprintf(line, sizeof line, "refused by the peer: %.*s",
                     (int)(want - PEERAUTH_REFUSE_FIXED), (const char *)junk + PEERAUTH_REFUSE_FIXED);
            for (char *q = line; *q; q++)
                if ((unsigned char)*q < 0x20 || (unsigned char)*q >= 0x7f)
                    *q = '?';
            peer_disconnect(t, p, line);
            return;
        }
    }
    if (n > 0 && p->session) {
        peer_disconnect(t, p, "unexpected data from the acceptor");
        return;
    }
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
        peer_disconnect(t, p, n == 0 ? "connection closed" : strerror(errno));
}

static void on_peer_event(void *ctx, int fd, uint32_t events)
{
    peer_t *p = ctx;
    transport_t *t = p->t;
    (void)fd;
    if (p->state == PEER_CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(p->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            peer_disconnect(t, p, strerror(err));
            return;
        }
        if (events & EPOLLOUT)
            peer_connected(t, p);
        return;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) {
        if (p->state == PEER_AUTHENTICATING)
            peer_read_challenge(t, p);
        else
            peer_read_unexpected(t, p);
        if (p->state == PEER_IDLE)
            return;
    }
    if (events & EPOLLOUT)
        peer_flush(t, p);
}

static void peer_connect(transport_t *t, peer_t *p)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (addr_resolve_dial(p->addr, &ss, &len) != 0) {
        peer_disconnect(t, p, "cannot resolve address");
        return;
    }
    p->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (p->fd < 0) {
        peer_disconnect(t, p, strerror(errno));
        return;
    }
    if (connect(p->fd, (struct sockaddr *)&ss, len) != 0 && errno != EINPROGRESS) {
        peer_disconnect(t, p, strerror(errno));
        return;
    }
    p->state = PEER_CONNECTING;
    p->want_out = true; /* registered for EPOLLOUT: the connect's end */
    if (loop_add(t->loop, p->fd, EPOLLOUT | EPOLLRDHUP, on_peer_event, p) != 0) {
        close(p->fd);
        p->fd = -1;
        peer_disconnect(t, p, "event loop registration failed");
    }
}

static void peer_kick(transport_t *t, peer_t *p)
{
    if (p->state == PEER_CONNECTED) {
        /* Corked: the caller flushes once for everything it queued. While
         * EPOLLOUT is armed, on_peer_event sends when the socket drains. */
        if (!t->corked && !p->want_out)
            peer_flush(t, p);
    } else if (p->state == PEER_IDLE && p->queue.len > 0 && loop_now_ms() >= p->retry_at_ms)
        peer_connect(t, p);
}

void transport_cork(transport_t *t, bool corked) { t->corked = corked; }

void transport_flush(transport_t *t)
{
    for (size_t i = 0; i < t->n_peers; i++) {
        peer_t *p = t->peers[i];
        if (p->state == PEER_CONNECTED && p->queue.len > 0 && !p->want_out)
            peer_flush(t, p);
    }
}

static peer_t *peer_new(transport_t *t, raft_id_t id, const char *addr)
{
    peer_t *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->t = t;
    p->id = id;
    p->fd = -1;
    snprintf(p->addr, sizeof p->addr, "%s", addr);
    return p;
}

static void peer_free(transport_t *t, peer_t *p)
{
    if (p->fd >= 0) {
        loop_remove(t->loop, p->fd);
        close(p->fd);
    }
    bytebuf_free(&p->queue);
    peer_forget_session(p);
    free(p);
}

void transport_set_peer(transport_t *t, raft_id_t id, const char *addr)
{
    if (id == t->self.id || !addr || !addr[0])
        return;
    peer_t *p = find_peer(t, id);
    if (p) {
        if (strcmp(p->addr, addr) == 0) {
            /* Told again (e.g. the peer just said hello): if we are backing
             * off from it, it is evidently back, so call it now. */
            if (p->state == PEER_IDLE)
                p->retry_at_ms = 0;
            return;
        }
        log_info("raft", "peer %llu moves from %s to %s", (unsigned long long)id, p->addr, addr);
        snprintf(p->addr, sizeof p->addr, "%s", addr);
        if (p->fd >= 0)
            peer_disconnect(t, p, "address changed");
        p->backoff_ms = 0;
        p->retry_at_ms = 0;
        return;
    }
    if (t->n_peers == sizeof t->peers / sizeof t->peers[0])
        return;
    p = peer_new(t, id, addr);
    if (p)
        t->peers[t->n_peers++] = p;
}

const char *transport_peer_addr(const transport_t *t, raft_id_t id)
{
    const peer_t *p = find_peer(t, id);
    return p ? p->addr : NULL;
}

/* Room for a frame of `size` bytes (and its tag, when sealed) at the end of
 * the queue of peer `to`. */
static uint8_t *queue_reserve(transport_t *t, raft_id_t to, size_t size, peer_t **out)
{
    peer_t *p = find_peer(t, to);
    size += PEERAUTH_TAG_LEN;
    if (!p || p->queue.len + size > TRANSPORT_QUEUE_MAX || !bytebuf_reserve(&p->queue, size))
        return NULL;
    *out = p;
    return bytebuf_tail(&p->queue);
}

/* Adds the frame written at the queue's tail, sealing it when the
 * connection has a session (before that, peer_seal_queue seals it). */
static void queue_commit(peer_t *p, size_t body_len)
{
    size_t size = RAFT_FRAME_HEADER + body_len;
    if (p->session) {
        peerauth_seal(p->session, bytebuf_tail(&p->queue), body_len);
        size += PEERAUTH_TAG_LEN;
    }
    p->queue.len += size;
}

int transport_send(transport_t *t, const raft_msg_t *m)
{
    size_t size = raft_codec_frame_size(m);
    peer_t *p;
    uint8_t *at = queue_reserve(t, m->to, size, &p);
    if (!at)
        return -1;
    raft_codec_encode(m, at);
    queue_commit(p, size - RAFT_FRAME_HEADER);
    peer_kick(t, p);
    return 0;
}

int transport_send_app(transport_t *t, raft_id_t to, const uint8_t *body, size_t len)
{
    if (len == 0 || len > RAFT_FRAME_MAX || body[0] < RAFT_FRAME_APP_MIN)
        return -1;
    peer_t *p;
    uint8_t *at = queue_reserve(t, to, RAFT_FRAME_HEADER + len, &p);
    if (!at)
        return -1;
    at[0] = (uint8_t)len;
    at[1] = (uint8_t)(len >> 8);
    at[2] = (uint8_t)(len >> 16);
    at[3] = (uint8_t)(len >> 24);
    memcpy(at + RAFT_FRAME_HEADER, body, len);
    queue_commit(p, len);
    peer_kick(t, p);
    return 0;
}

void transport_tick(transport_t *t)
{
    uint64_t now = loop_now_ms();
    for (size_t i = 0; i < t->n_peers; i++) {
        peer_t *p = t->peers[i];
        if (p->state == PEER_IDLE)
            peer_kick(t, p);
        else if (p->state == PEER_AUTHENTICATING && now >= p->hs_deadline_ms)
            peer_disconnect(t, p, "no handshake reply within 5 s");
    }
    for (size_t i = 0; i < TRANSPORT_MAX_INCOMING; i++)
        if (t->in[i])
            incoming_check_deadlines(t->in[i], now);
}

void transport_retain_peers(transport_t *t, const raft_members_t *m)
{
    for (size_t i = 0; i < t->n_peers;) {
        raft_id_t id = t->peers[i]->id;
        if (raft_members_is_voter(m, id) || raft_members_is_learner(m, id)) {
            i++;
            continue;
        }
        log_info("raft", "peer %llu (%s) is no longer a member: not calling it any more",
                 (unsigned long long)t->peers[i]->id, t->peers[i]->addr);
        peer_free(t, t->peers[i]);
        t->peers[i] = t->peers[--t->n_peers];
    }
}

size_t transport_peer_count(const transport_t *t) { return t->n_peers; }

size_t transport_incoming_bytes(const transport_t *t) { return t->in_bytes; }

size_t transport_incoming_count(const transport_t *t)
{
    size_t n = 0;
    for (size_t i = 0; i < TRANSPORT_MAX_INCOMING; i++)
        n += t->in[i] != NULL;
    return n;
}

void transport_set_key_ring(transport_t *t, const peerauth_ring_t *ring) { t->ring = ring; }

int transport_reply(transport_t *t, transport_reply_t reply, const uint8_t *body, size_t len)
{
    size_t slot = (size_t)(reply & 0xffff);
    incoming_t *c = slot < TRANSPORT_MAX_INCOMING ? t->in[slot] : NULL;
    if (!c || c->gen != (uint32_t)(reply >> 16) || !c->session || len == 0 ||
        len > RAFT_FRAME_MAX)
        return -1;
    uint8_t *frame = malloc(RAFT_FRAME_HEADER + len + PEERAUTH_TAG_LEN);
    if (!frame)
        return -1;
    for (int i = 0; i < 4; i++)
        frame[i] = (uint8_t)(len >> (8 * i));
    memcpy(frame + RAFT_FRAME_HEADER, body, len);
    peerauth_seal(c->session, frame, len);
    bool ok = incoming_write(c, frame, RAFT_FRAME_HEADER + len + PEERAUTH_TAG_LEN);
    free(frame);
    return ok ? 0 : -1;
}

uint16_t transport_port(const transport_t *t) { return t->port; }

/* ---- life cycle --------------------------------------------------------------- */

transport_t *transport_new(loop_t *loop, const char *listen_spec, const raft_hello_t *self,
                           const transport_callbacks_t *cb, char *err, size_t err_len)
{
    addr_spec_t spec;
    char aerr[ADDR_ERR_MAX];
    if (addr_spec_parse(listen_spec, &spec, aerr) != 0) {
        snprintf(err, err_len, "%s", aerr);
        return NULL;
    }
    transport_t *t = calloc(1, sizeof *t);
    if (!t) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    t->loop = loop;
    t->self = *self;
    t->cb = *cb;
    t->rng = (uint64_t)loop_now_ms() * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid() ^ self->id;
    if (t->rng == 0)
        t->rng = 1;
    t->listen_fd = addr_bind_socket(&spec, SOCK_STREAM, false, 0, aerr);
    if (t->listen_fd < 0) {
        snprintf(err, err_len, "%s", aerr);
        free(t);
        return NULL;
    }
    if (listen(t->listen_fd, 128) != 0 ||
        loop_add(loop, t->listen_fd, EPOLLIN, on_listen_event, t) != 0) {
        snprintf(err, err_len, "listen on %s: %s", listen_spec, strerror(errno));
        close(t->listen_fd);
        free(t);
        return NULL;
    }
    t->port = addr_local_port(t->listen_fd);
    return t;
}

void transport_free(transport_t *t)
{
    if (!t)
        return;
    loop_remove(t->loop, t->listen_fd);
    close(t->listen_fd);
    for (size_t i = 0; i < t->n_peers; i++)
        peer_free(t, t->peers[i]);
    for (size_t i = 0; i < TRANSPORT_MAX_INCOMING; i++)
        if (t->in[i])
            incoming_close(t->in[i], true);
    raft_codec_scratch_free(&t->scratch);
    free(t);
}
