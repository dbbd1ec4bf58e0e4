/* raft/transport_in.c — incoming peer connections: accept, the hello (or
 * hand a person to the admin side), the acceptor's side of the cluster-key
 * handshake, reading and verifying frames, and the deadlines and byte caps
 * that bound what a stranger can hold (see the top of transport.c). */
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

void transport_incoming_close(incoming_t *c, bool close_fd)
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
bool transport_incoming_write(incoming_t *c, const uint8_t *data, size_t len)
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
    (void)transport_incoming_write(c, msg, n);
    /* Closing with unread bytes would send a reset that can overtake the
     * REFUSE: send FIN after it and drop what the dialer already sent. */
    shutdown(c->fd, SHUT_WR);
    uint8_t junk[4096];
    for (int i = 0; i < 16 && read(c->fd, junk, sizeof junk) > 0; i++)
        ;
    auth_warn(c->t, "refusing peer connection from %s%s%s%s: %s",
              c->hello.name[0] ? c->hello.name : "an unnamed peer", c->hello.addr[0] ? " (" : "",
              c->hello.addr, c->hello.addr[0] ? ")" : "", why);
    transport_incoming_close(c, true);
}

static void incoming_reject(incoming_t *c, const char *why)
{
    if (incoming_log_allowed(c->t))
        log_warn("raft", "closing peer connection from %s (%s): %s",
                 c->hello.name[0] ? c->hello.name : "unknown",
                 c->hello.addr[0] ? c->hello.addr : "no hello yet", why);
    transport_incoming_close(c, true);
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
            transport_incoming_close(o, true);
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
void transport_incoming_check_deadlines(incoming_t *c, uint64_t now)
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
    transport_incoming_close(c, false);
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
    if (!transport_incoming_write(c, challenge, (size_t)n)) {
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
        transport_incoming_close(c, true);
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
    if (c->t->ring && version == PEERAUTH_VERSION_PER_FRAME) {
        incoming_refuse(c, "the peer speaks keyed protocol v2 (an older dns-raft, one MAC per "
                           "frame) and this node v3 (sealed records): upgrade every member");
        return -1;
    }
    if (c->t->ring && version != PEERAUTH_VERSION) {
        incoming_refuse(c, "this node requires the cluster key and the peer has none "
                           "(unauthenticated protocol v1 hello)");
        return -1;
    }
    if (!c->t->ring && (version == PEERAUTH_VERSION || version == PEERAUTH_VERSION_PER_FRAME)) {
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

/* Under a key the unit that arrives is a record: its header says its
 * payload's length, and the tag follows. */
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

static void incoming_auth_close(incoming_t *c, const char *why)
{
    auth_warn(c->t, "closing peer connection from %s (%s): %s", c->hello.name, c->hello.addr,
              why);
    transport_incoming_close(c, true);
}

/* Under a key: checks the tag of the record at the head of the buffer
 * (record = payload length | payload | tag) and that its frames fill the
 * payload exactly, before any of them is looked at; false, after closing
 * the connection, if not. */
static bool incoming_open_record(incoming_t *c, size_t payload_len)
{
    const uint8_t *record = bytebuf_head(&c->buf);
    const char *why = NULL;
    if (!peerauth_open(c->session, record, payload_len)) {
        incoming_auth_close(c, "bad MAC (a record altered, truncated, replayed, reordered, "
                               "spliced or forged)");
        return false;
    }
    if (!peerauth_record_valid(record + PEERAUTH_RECORD_HEADER, payload_len, &why)) {
        incoming_auth_close(c, why);
        return false;
    }
    return true;
}

/* Under a key: processes every complete record in the buffer, each
 * verified whole and then its frames delivered in order; false if closed.
 * A record's memory is taken as it arrives, never more than one record
 * (PEERAUTH_RECORD_MAX) and one read (IN_CONN_MAX). */
static bool incoming_read_records(incoming_t *c)
{
    const char *why = NULL;
    long size;
    while ((size = peerauth_record_size(bytebuf_head(&c->buf), c->buf.len, &why)) > 0) {
        if (c->buf.len < (size_t)size)
            return true;
        size_t payload_len = (size_t)size - PEERAUTH_RECORD_OVERHEAD;
        if (!incoming_open_record(c, payload_len))
            return false;
        const uint8_t *payload = bytebuf_head(&c->buf) + PEERAUTH_RECORD_HEADER, *body;
        size_t at = 0, len;
        while (peerauth_record_next(payload, payload_len, &at, &body, &len, &why) == 1)
            if (!incoming_deliver(c, body, len))
                return false;
        bytebuf_consume(&c->buf, (size_t)size);
        c->frame_start_ms = 0;
    }
    if (size < 0) {
        incoming_reject(c, why);
        return false;
    }
    return true;
}

/* Processes every complete frame in the buffer; false if closed. */
static bool incoming_read_frames(incoming_t *c)
{
    if (c->session)
        return incoming_read_records(c);
    while (c->buf.len >= RAFT_FRAME_HEADER) {
        uint32_t body_len = get_le32(bytebuf_head(&c->buf));
        if (body_len == 0 || body_len > RAFT_FRAME_MAX) {
            incoming_reject(c, body_len ? "frame larger than the limit" : "empty frame");
            return false;
        }
        size_t frame_len = RAFT_FRAME_HEADER + (size_t)body_len;
        /* The body's memory is taken as it arrives, not when announced. */
        if (c->buf.len < frame_len)
            return true;
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
            log_warn("raft", "peer %s closed the connection in the middle of a %s",
                     c->hello.name, c->session ? "record" : "frame");
        else if (c->state == IN_AUTH_PROOF)
            auth_warn(c->t, "peer %s (%s) closed the connection during the handshake: "
                      "does it have our cluster key?", c->hello.name, c->hello.addr);
        transport_incoming_close(c, true);
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

void transport_on_listen_event(void *ctx, int fd, uint32_t events)
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

