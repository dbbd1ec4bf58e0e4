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
 * while its queue holds plain frames, which are sealed into records behind
 * the PROOF when the session exists. After that, frames are queued into an
 * open record at the queue's end (its header reserved, peer_t.open_len),
 * and peer_flush seals it just before writing: every frame of one corked
 * flush shares one record and one MAC (raft/peerauth.h). Every record in
 * is verified whole before any of its frames is decoded
 * (incoming_open_record).
 *
 * Incoming connections are in transport_in.c; both files share
 * raft/transport_int.h. */
#include "raft/transport_int.h"
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


static uint32_t jitter_rand(transport_t *t)
{
    t->rng ^= t->rng << 13;
    t->rng ^= t->rng >> 7;
    t->rng ^= t->rng << 17;
    return (uint32_t)t->rng;
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
    p->open_len = 0;
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

/* Seals the open record (header, frames) at the queue's end: writes its
 * length and appends its tag, for which queue_room left space. */
static void peer_seal_open(peer_t *p)
{
    if (!p->session || p->open_len == 0)
        return;
    uint8_t *record = bytebuf_tail(&p->queue) - p->open_len;
    size_t payload = p->open_len - PEERAUTH_RECORD_HEADER;
    put_le32(record, (uint32_t)payload);
    peerauth_seal(p->session, record, payload);
    p->queue.len += PEERAUTH_TAG_LEN;
    p->open_len = 0;
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
    peer_seal_open(p);
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

/* Room for a frame of `size` bytes at the end of p's queue (the limit is
 * the caller's). With a session the frame goes into the open record: one
 * is opened (its header reserved) if there is none, and the open one is
 * sealed first if the frame would take it past PEERAUTH_RECORD_MAX. Room
 * for the record's header and tag is always reserved with the frame, so
 * peer_seal_open never allocates. NULL if memory is short. */
static uint8_t *queue_room(peer_t *p, size_t size)
{
    if (p->session && p->open_len &&
        p->open_len - PEERAUTH_RECORD_HEADER + size > PEERAUTH_RECORD_MAX)
        peer_seal_open(p);
    if (!bytebuf_reserve(&p->queue, size + (p->session ? PEERAUTH_RECORD_OVERHEAD : 0)))
        return NULL;
    if (p->session && p->open_len == 0) {
        p->queue.len += PEERAUTH_RECORD_HEADER; /* its length is written when sealed */
        p->open_len = PEERAUTH_RECORD_HEADER;
    }
    return bytebuf_tail(&p->queue);
}

/* Adds the frame (`size` bytes) written where queue_room pointed. */
static void queue_commit(peer_t *p, size_t size)
{
    p->queue.len += size;
    if (p->session)
        p->open_len += size;
}

/* The plain frames queued during the handshake, sealed in order behind the
 * PROOF (the first bytes the acceptor reads after its CHALLENGE), in as
 * few records as PEERAUTH_RECORD_MAX allows. */
static bool peer_seal_queue(peer_t *p, const uint8_t proof[PEERAUTH_PROOF_LEN])
{
    bytebuf_t plain = p->queue;
    memset(&p->queue, 0, sizeof p->queue);
    p->open_len = 0;
    bool ok = bytebuf_reserve(&p->queue, PEERAUTH_PROOF_LEN + plain.len + PEERAUTH_RECORD_OVERHEAD);
    if (ok) {
        memcpy(bytebuf_tail(&p->queue), proof, PEERAUTH_PROOF_LEN);
        p->queue.len = PEERAUTH_PROOF_LEN;
    }
    for (size_t at = 0; ok && at + RAFT_FRAME_HEADER <= plain.len;) {
        const uint8_t *frame = bytebuf_head(&plain) + at;
        size_t size = RAFT_FRAME_HEADER + get_le32(frame);
        uint8_t *room = queue_room(p, size);
        ok = room != NULL;
        if (ok) {
            memcpy(room, frame, size);
            queue_commit(p, size);
        }
        at += size;
    }
    bytebuf_free(&plain);
    peer_seal_open(p);
    return ok;
}

/* Dialer: reads the CHALLENGE (or a REFUSE); when it is whole, checks it,
 * queues the PROOF and the frames sealed into records, and starts sending. */
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

/* Room for a frame of `size` bytes at the end of the queue of peer `to`,
 * within TRANSPORT_QUEUE_MAX (counting a record's overhead per frame under
 * a key, so the frames queued during a handshake fit once sealed). */
static uint8_t *queue_reserve(transport_t *t, raft_id_t to, size_t size, peer_t **out)
{
    peer_t *p = find_peer(t, to);
    size_t counted = size + (t->ring ? PEERAUTH_RECORD_OVERHEAD : 0);
    if (!p || p->queue.len + counted > TRANSPORT_QUEUE_MAX)
        return NULL;
    uint8_t *room = queue_room(p, size);
    if (room)
        *out = p;
    return room;
}

int transport_send(transport_t *t, const raft_msg_t *m)
{
    size_t size = raft_codec_frame_size(m);
    peer_t *p;
    uint8_t *at = queue_reserve(t, m->to, size, &p);
    if (!at)
        return -1;
    raft_codec_encode(m, at);
    queue_commit(p, size);
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
    queue_commit(p, RAFT_FRAME_HEADER + len);
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
            transport_incoming_check_deadlines(t->in[i], now);
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
    uint8_t *record = malloc(PEERAUTH_RECORD_OVERHEAD + RAFT_FRAME_HEADER + len);
    if (!record)
        return -1;
    size_t n = peerauth_seal_one(c->session, record, body, len);
    bool ok = transport_incoming_write(c, record, n);
    free(record);
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
        loop_add(loop, t->listen_fd, EPOLLIN, transport_on_listen_event, t) != 0) {
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
            transport_incoming_close(t->in[i], true);
    raft_codec_scratch_free(&t->scratch);
    free(t);
}
