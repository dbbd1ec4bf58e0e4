/* dns/tcp.c — DNS over TCP (RFC 7766, RFC 7828 in spirit), see tcp.h.
 *
 * One thread, one epoll set, level-triggered. Each connection has an input
 * buffer (bytes read, not yet answered) and an output buffer (answers not
 * yet written). Every message is framed by a two-byte length (RFC 1035
 * §4.2.2); a client may pipeline several queries, which are answered in the
 * order they came. The limits that keep one client, or many slow ones, from
 * hurting others (RFC 7766 §6.2.3, docs/security.md "DNS TCP"):
 *
 *  - at most `max_conns` connections. When all are taken, a new one is not
 *    refused: one is closed to make room, as Knot and NSD do: the oldest of
 *    those that never had an answer, else the one whose last answer is
 *    oldest. Clients that hold a socket without asking cannot lock real
 *    clients out, and a flood of new connections pushes out itself first;
 *  - every connection has one deadline, measured from what it owes us:
 *      idle      no message in progress, nothing to write: `idle_ms` from
 *                accept (before the first byte) or from the last answer;
 *      message   from a message's first byte (its length) to its last:
 *                `message_ms`, so a client that trickles a byte at a time
 *                is closed however regularly it trickles;
 *      write     answers waiting for a client that does not read: `idle_ms`
 *                from the last byte the socket took;
 *  - one read takes at most READ_CHUNK bytes, so a fast sender cannot keep
 *    the thread from other connections;
 *  - bytes buffered: per connection at most one frame plus one chunk of
 *    input (IN_CAP_MAX) and OUT_HIGH plus one answer of output (past
 *    OUT_HIGH we stop reading its queries: back-pressure); across all
 *    connections at most `buffer_max` bytes of buffers, unfinished frames
 *    included. A connection whose buffer would pass that total is closed;
 *    buffers shrink back once drained.
 *
 * UPDATE (dns/updserve.h): its reply comes later, from any thread, as a
 * queued item (slot, generation, bytes) and a write to `wake_fd`; the
 * thread appends it to the connection only if the slot still holds the
 * same connection (same generation). A connection waiting for UPDATE
 * replies has no idle deadline (the submitter always answers, within the
 * UPDATE timeout) and stays open after the client half-closes.
 *
 * Zone transfers (dns/xfr.h): an AXFR/IXFR request gives the connection a
 * cursor; the thread builds the next message only while the connection's
 * output is below OUT_HIGH, and a connection with a cursor waits for
 * EPOLLOUT, so a transfer moves as fast as its client reads, holds at
 * most OUT_HIGH plus one message of memory, and every other connection is
 * served between its messages. Queries pipelined behind a transfer are
 * answered after it, in order (RFC 7766 §6.2.1.1 allows either).
 *
 * Ownership: the thread owns every connection (the `conns` slot array) and
 * its buffers; tcp_server_join frees them all, and the reply queue. */
#include "dns/tcp.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "dns/answer.h"
#include "dns/update.h"
#include "dns/tsigquery.h"
#include "dns/xfr.h"

#define READ_CHUNK 16384
#define FRAME_MAX (2 + 65535)
#define IN_CAP_MAX (FRAME_MAX + READ_CHUNK)
#define IN_CAP_START 1024
#define OUT_CAP_START 4096
#define OUT_KEEP (16 * 1024) /* a drained output buffer larger than this is freed */
#define OUT_HIGH (128 * 1024)
#define EPOLL_BATCH 64
#define SWEEP_MS 100
#define WARN_EVERY_MS 10000

typedef struct tcp_conn {
    int fd;
    unsigned slot;        /* index in tcp_server.conns */
    uint32_t interest;    /* events registered with epoll */
    bool peer_closed;     /* read returned 0: answer what is left, then close */
    bool answered;        /* at least one query answered */
    uint64_t served_ms;   /* accept, or the last query answered */
    uint64_t message_ms;  /* first byte of the message in `in` (when in_len > 0) */
    uint64_t wrote_ms;    /* last write progress, or when output became pending */
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_off, out_len, out_cap; /* pending bytes are out[out_off, out_len) */
    uint64_t gen;         /* unique per connection: late UPDATE replies check it */
    unsigned awaiting;    /* UPDATEs submitted, reply not yet queued to us */
    struct sockaddr_storage peer; /* for the UPDATE ACL */
    xfr_cursor_t *xfr;    /* a transfer being sent, or NULL */
} tcp_conn_t;

/* An UPDATE reply on its way to the TCP thread. */
typedef struct tcp_reply {
    struct tcp_reply *next;
    unsigned slot;
    uint64_t gen;
    size_t len;           /* 0: no reply (the request was dropped) */
    uint8_t data[];
} tcp_reply_t;

struct tcp_server {
    pthread_t thread;
    int listen_fd, stop_fd, epoll_fd;
    bool listen_paused;   /* out of file descriptors: retry at the next sweep */
    zonedb_handle_t *db;
    updserve_t *upd;      /* NULL: UPDATE is NOTIMP */
    const atomic_bool *answering; /* NULL, or false: SERVFAIL (dns_answer_unavailable) */
    dns_stats_slot_t *counters; /* this thread's counters (dns/stats.h), or NULL */
    bool xfr_on;          /* false: transfers are NOTIMP (dns_answer) */
    xfr_ctx_t xfr;
    int wake_fd;          /* eventfd: UPDATE replies queued */
    pthread_mutex_t reply_mu;
    tcp_reply_t *replies, **replies_tail; /* under reply_mu */
    uint64_t next_gen;
    tcp_limits_t limits;
    tcp_conn_t **conns;   /* limits.max_conns slots, NULL when free */
    unsigned conn_count;
    size_t buffered;      /* in_cap + out_cap over every connection */
    uint64_t warned_ms;   /* last "buffer cap reached" warning */
    struct {              /* counted by the thread, logged at the stop */
        unsigned long accepted, evicted, closed_idle, closed_message_deadline,
            closed_buffer_cap;
    } stats;
    uint8_t answer[DNS_TCP_MAX + 2]; /* scratch: one framed answer */
};

/* epoll user data for the two non-connection descriptors. */
static char listen_tag, stop_tag, wake_tag;

static void conn_close(tcp_server_t *t, tcp_conn_t *c)
{
    close(c->fd); /* also removes it from the epoll set */
    t->conns[c->slot] = NULL;
    t->conn_count--;
    t->buffered -= c->in_cap + c->out_cap;
    free(c->in);
    free(c->out);
    xfr_cursor_free(c->xfr);
    free(c);
}

static size_t pending_out(const tcp_conn_t *c) { return c->out_len - c->out_off; }
static bool backpressured(const tcp_conn_t *c) { return pending_out(c) >= OUT_HIGH; }

/* Whether the total of every connection's buffers may change from `old_cap`
 * to `new_cap` bytes for one of them; warns (rarely) when it may not. */
static bool buffer_budget_allows(tcp_server_t *t, size_t old_cap, size_t new_cap)
{
    if (new_cap <= old_cap || t->buffered - old_cap + new_cap <= t->limits.buffer_max)
        return true;
    t->stats.closed_buffer_cap++;
    uint64_t now = clock_now_ms();
    if (t->warned_ms == 0 || now - t->warned_ms >= WARN_EVERY_MS) {
        log_warn("dns", "tcp: %zu bytes buffered over %u connections (cap %zu): closing the "
                 "connection that asked for more", t->buffered, t->conn_count,
                 t->limits.buffer_max);
        t->warned_ms = now;
    }
    return false;
}

/* realloc within the budget; *buf and *cap change only on success. */
static bool resize_buffer(tcp_server_t *t, uint8_t **buf, size_t *cap, size_t new_cap)
{
    if (!buffer_budget_allows(t, *cap, new_cap))
        return false;
    uint8_t *grown = realloc(*buf, new_cap);
    if (grown == NULL)
        return false;
    t->buffered = t->buffered - *cap + new_cap;
    *buf = grown;
    *cap = new_cap;
    return true;
}

/* Registers what the connection waits for now. Returns false (and closes
 * it) when it waits for nothing: the peer is gone and all is written. */
static bool conn_update_interest(tcp_server_t *t, tcp_conn_t *c)
{
    uint32_t want = 0;
    if (!c->peer_closed && !backpressured(c))
        want |= EPOLLIN;
    if (pending_out(c) > 0 || c->xfr != NULL)
        want |= EPOLLOUT;
    if (want == 0 && c->awaiting == 0) {
        conn_close(t, c);
        return false;
    }
    if (want != c->interest) {
        struct epoll_event ev = { .events = want, .data.ptr = c };
        if (epoll_ctl(t->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) != 0) {
            conn_close(t, c);
            return false;
        }
        c->interest = want;
    }
    return true;
}

static bool out_reserve(tcp_server_t *t, tcp_conn_t *c, size_t more)
{
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    if (c->out_len + more <= c->out_cap)
        return true;
    if (c->out_off > 0) { /* compact before growing */
        memmove(c->out, c->out + c->out_off, pending_out(c));
        c->out_len -= c->out_off;
        c->out_off = 0;
        if (c->out_len + more <= c->out_cap)
            return true;
    }
    size_t cap = c->out_cap ? c->out_cap : OUT_CAP_START;
    while (cap < c->out_len + more)
        cap *= 2;
    return resize_buffer(t, &c->out, &c->out_cap, cap);
}

/* updserve_deliver_fn: queues an UPDATE reply for the TCP thread (any
 * thread, the TCP thread included) and wakes it. */
static void tcp_deliver(void *arg, unsigned slot, uint64_t gen, const uint8_t *resp, size_t len)
{
    tcp_server_t *t = arg;
    tcp_reply_t *r = malloc(sizeof *r + len);
    if (r == NULL) {
        log_warn("dns", "tcp: out of memory: an UPDATE reply is lost");
        len = 0; /* still tell the connection it is answered, if we can */
        if ((r = malloc(sizeof *r)) == NULL)
            return; /* the connection ends by eviction or the client's close */
    }
    *r = (tcp_reply_t){ .slot = slot, .gen = gen, .len = len };
    if (len > 0)
        memcpy(r->data, resp, len);
    pthread_mutex_lock(&t->reply_mu);
    *t->replies_tail = r;
    t->replies_tail = &r->next;
    pthread_mutex_unlock(&t->reply_mu);
    uint64_t one = 1;
    ssize_t ignored = write(t->wake_fd, &one, sizeof one);
    (void)ignored;
}

/* Queues one framed message of len octets already in t->answer + 2.
 * False: no room (close). */
static bool queue_answer(tcp_server_t *t, tcp_conn_t *c, size_t len)
{
    c->served_ms = clock_now_ms();
    c->answered = true;
    t->answer[0] = (uint8_t)(len >> 8);
    t->answer[1] = (uint8_t)len;
    if (!out_reserve(t, c, len + 2))
        return false;
    if (pending_out(c) == 0)
        c->wrote_ms = clock_now_ms(); /* the write deadline starts now */
    memcpy(c->out + c->out_len, t->answer, len + 2);
    c->out_len += len + 2;
    return true;
}

/* Builds transfer messages until the output is back-pressured or the
 * transfer ends. False: close (no memory, or a message could not be
 * built: the client sees the stream cut, RFC 5936 §2.2 lets it retry). */
static bool xfr_pump(tcp_server_t *t, tcp_conn_t *c)
{
    while (c->xfr != NULL && !backpressured(c)) {
        size_t len = xfr_cursor_next(c->xfr, t->answer + 2, DNS_TCP_MAX, (uint64_t)time(NULL));
        if (len == 0 && !xfr_cursor_done(c->xfr))
            return false;
        if (len > 0 && !queue_answer(t, c, len))
            return false;
        if (xfr_cursor_done(c->xfr)) {
            xfr_cursor_log_done(c->xfr, (const struct sockaddr *)&c->peer);
            xfr_cursor_free(c->xfr);
            c->xfr = NULL;
        }
    }
    return true;
}

/* A transfer request: starts its cursor, or queues the error answer.
 * *handled false: not a transfer, answer it as a query. */
static bool xfr_begin(tcp_server_t *t, tcp_conn_t *c, const uint8_t *query, size_t qlen,
                      bool *handled)
{
    size_t len = 0;
    bool not_xfr = false;
    xfr_ctx_t xfr = xfr_ctx_current(&t->xfr); /* read once (SIGHUP may swap keys) */
    c->xfr = xfr_start(&xfr, t->db, query, qlen, (const struct sockaddr *)&c->peer,
                       (uint64_t)time(NULL), t->answer + 2, DNS_TCP_MAX, &len, &not_xfr);
    *handled = !not_xfr;
    if (c->xfr != NULL || len == 0)
        return true;
    return queue_answer(t, c, len);
}

/* Answers one query and queues the framed answer. False: close (no memory,
 * or the buffer cap across connections). */
static bool answer_one(tcp_server_t *t, tcp_conn_t *c, const uint8_t *query, size_t qlen)
{
    /* A node not ready (or past its stale limit) answers SERVFAIL, never
     * REFUSED, and neither applies UPDATEs nor transfers (kv/readiness.h). */
    bool serving = t->answering == NULL || atomic_load_explicit(t->answering, memory_order_acquire);
    if (serving && t->upd != NULL && dns_is_update(query, qlen)) {
        dns_stats_update(t->counters, DNS_STATS_TCP);
        c->awaiting++; /* the reply comes through tcp_deliver, exactly once */
        updserve_tcp(t->upd, tcp_deliver, t, c->slot, c->gen, query, qlen,
                     (const struct sockaddr *)&c->peer);
        return true;
    }
    bool handled = false;
    if (serving && t->xfr_on && xfr_is_request(query, qlen)) {
        bool ok = xfr_begin(t, c, query, qlen, &handled);
        if (handled)
            return ok;
    }
    bool signed_query = false; /* TSIG on a query (dns/tsigquery.h) */
    size_t len = 0;
    int qtype = -1;
    zonedb_read_lock();
    if (!serving)
        len = dns_answer_unavailable(query, qlen, t->answer + 2, DNS_TCP_MAX, true);
    else if (t->xfr_on && dns_maybe_signed(query, qlen))
        len = dns_signed_answer(xfr_ctx_current(&t->xfr).keys, zonedb_current(t->db), query,
                                qlen, t->answer + 2, DNS_TCP_MAX, true, (uint64_t)time(NULL),
                                &signed_query);
    if (serving && !signed_query)
        len = dns_answer_qtype(zonedb_current(t->db), query, qlen, t->answer + 2, DNS_TCP_MAX,
                               true, &qtype);
    zonedb_read_unlock();
    if (len == 0) {
        dns_stats_drop(t->counters, DNS_STATS_TCP, DNS_DROP_MALFORMED);
        return true; /* not a query we answer (e.g. a response, a runt): not served */
    }
    dns_stats_response(t->counters, DNS_STATS_TCP, qtype, t->answer + 2, len);
    return queue_answer(t, c, len);
}

static bool has_complete_frame(const tcp_conn_t *c)
{
    return c->in_len >= 2 && c->in_len - 2 >= (((size_t)c->in[0] << 8) | c->in[1]);
}

/* Answers every complete frame in the input buffer, in order, until the
 * output is back-pressured. False: close. */
static bool answer_frames(tcp_server_t *t, tcp_conn_t *c)
{
    if (!xfr_pump(t, c))
        return false;
    size_t pos = 0;
    while (!backpressured(c) && c->xfr == NULL && c->in_len - pos >= 2) {
        size_t flen = ((size_t)c->in[pos] << 8) | c->in[pos + 1];
        if (c->in_len - pos - 2 < flen)
            break;
        if (!answer_one(t, c, c->in + pos + 2, flen) || !xfr_pump(t, c))
            return false;
        pos += 2 + flen;
    }
    if (pos == 0)
        return true;
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    if (c->in_len > 0)
        c->message_ms = clock_now_ms(); /* the rest came with the last read */
    return true;
}

/* Gives back what a drained connection no longer needs. */
static void shrink_buffers(tcp_server_t *t, tcp_conn_t *c)
{
    if (pending_out(c) == 0 && c->out_cap > OUT_KEEP) {
        free(c->out);
        t->buffered -= c->out_cap;
        c->out = NULL;
        c->out_cap = c->out_off = c->out_len = 0;
    }
    if (c->in_len == 0 && c->in_cap > IN_CAP_START)
        resize_buffer(t, &c->in, &c->in_cap, IN_CAP_START);
}

/* Writes as much pending output as the socket takes. False: close it. */
static bool conn_flush(tcp_conn_t *c)
{
    while (pending_out(c) > 0) {
        ssize_t n = send(c->fd, c->out + c->out_off, pending_out(c), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->out_off += (size_t)n;
            c->wrote_ms = clock_now_ms();
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
        }
    }
    c->out_off = c->out_len = 0;
    return true;
}

/* Makes room for one read. The buffer grows (doubling, up to a full frame
 * plus one chunk) only when it is full, so a connection that sends small
 * queries keeps its small buffer. */
static bool in_reserve(tcp_server_t *t, tcp_conn_t *c)
{
    if (c->in_len < c->in_cap)
        return true;
    if (c->in_cap >= IN_CAP_MAX)
        return false;
    size_t cap = c->in_cap * 2 > IN_CAP_MAX ? IN_CAP_MAX : c->in_cap * 2;
    return resize_buffer(t, &c->in, &c->in_cap, cap);
}

/* Reads one chunk. False: close (error, no memory, or the buffer cap). */
static bool conn_read(tcp_server_t *t, tcp_conn_t *c)
{
    if (!in_reserve(t, c))
        return false;
    size_t room = c->in_cap - c->in_len;
    ssize_t n = recv(c->fd, c->in + c->in_len, room < READ_CHUNK ? room : READ_CHUNK, MSG_DONTWAIT);
    if (n > 0) {
        if (c->in_len == 0)
            c->message_ms = clock_now_ms(); /* a new message starts */
        c->in_len += (size_t)n;
        return true;
    }
    if (n == 0) {
        c->peer_closed = true;
        return true;
    }
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
}

static void conn_event(tcp_server_t *t, tcp_conn_t *c, uint32_t events)
{
    if (events & EPOLLERR) {
        conn_close(t, c);
        return;
    }
    if ((events & (EPOLLIN | EPOLLHUP)) && (c->interest & EPOLLIN) && !conn_read(t, c)) {
        conn_close(t, c);
        return;
    }
    /* Answer, write, and answer again what back-pressure held back. On
     * leaving, either the client is back-pressured (no reading) or no
     * complete frame is buffered, so a read always finds room. */
    for (;;) {
        if (!answer_frames(t, c) || !conn_flush(c)) {
            conn_close(t, c);
            return;
        }
        if (backpressured(c) || c->xfr != NULL || !has_complete_frame(c))
            break; /* a transfer goes on when the socket is writable */
    }
    if (c->peer_closed && pending_out(c) == 0 && c->awaiting == 0 && c->xfr == NULL) {
        conn_close(t, c); /* whatever is left is an incomplete frame */
        return;
    }
    shrink_buffers(t, c);
    conn_update_interest(t, c);
}

/* When the connection must be closed unless it makes the progress it owes
 * (see the top of this file). */
static uint64_t conn_deadline(const tcp_server_t *t, const tcp_conn_t *c)
{
    if (pending_out(c) > 0 || c->xfr != NULL)
        return c->wrote_ms + t->limits.idle_ms;
    if (c->in_len > 0)
        return c->message_ms + t->limits.message_ms;
    if (c->awaiting > 0)
        return UINT64_MAX; /* the UPDATE's reply is owed by us, not the client */
    return c->served_ms + t->limits.idle_ms;
}

static int free_slot(const tcp_server_t *t)
{
    for (unsigned i = 0; i < t->limits.max_conns; i++)
        if (t->conns[i] == NULL)
            return (int)i;
    return -1;
}

/* Which of two connections to close first when all slots are taken: one
 * that never had a query answered (oldest first), then the one whose last
 * answer is oldest. So a flood of connections that ask nothing mostly
 * pushes itself out, not the clients that are being served. */
static bool evict_before(const tcp_conn_t *a, const tcp_conn_t *b)
{
    if (a->answered != b->answered)
        return !a->answered;
    return a->served_ms < b->served_ms;
}

/* All slots taken: closes the connection served least recently and
 * returns its slot. */
static int evict_least_recently_served(tcp_server_t *t)
{
    tcp_conn_t *victim = NULL;
    for (unsigned i = 0; i < t->limits.max_conns; i++) {
        tcp_conn_t *c = t->conns[i];
        if (c != NULL && (victim == NULL || evict_before(c, victim)))
            victim = c;
    }
    if (victim == NULL)
        return -1;
    int slot = (int)victim->slot;
    log_debug("dns", "tcp: %u connections open: closing the one served least recently",
              t->conn_count);
    t->stats.evicted++;
    conn_close(t, victim);
    return slot;
}

static void conn_add(tcp_server_t *t, int fd, const struct sockaddr_storage *peer)
{
    int slot = free_slot(t);
    if (slot < 0)
        slot = evict_least_recently_served(t);
    tcp_conn_t *c = slot < 0 ? NULL : calloc(1, sizeof *c);
    uint8_t *in = NULL;
    if (c != NULL && buffer_budget_allows(t, 0, IN_CAP_START))
        in = malloc(IN_CAP_START);
    if (in == NULL) {
        log_debug("dns", "tcp: no room for a new connection (%u open), closed", t->conn_count);
        free(c);
        close(fd);
        return;
    }
    uint64_t now = clock_now_ms();
    *c = (tcp_conn_t){ .fd = fd, .slot = (unsigned)slot, .interest = EPOLLIN, .served_ms = now,
                       .message_ms = now, .wrote_ms = now, .in = in, .in_cap = IN_CAP_START,
                       .gen = ++t->next_gen, .peer = *peer };
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    if (epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        free(in);
        free(c);
        close(fd);
        return;
    }
    t->conns[slot] = c;
    t->conn_count++;
    t->buffered += IN_CAP_START;
    t->stats.accepted++;
}

static void pause_listen(tcp_server_t *t, bool pause)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &listen_tag };
    if (epoll_ctl(t->epoll_fd, pause ? EPOLL_CTL_DEL : EPOLL_CTL_ADD, t->listen_fd, &ev) == 0)
        t->listen_paused = pause;
}

static void accept_all(tcp_server_t *t)
{
    for (;;) {
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof peer;
        int fd = accept4(t->listen_fd, (struct sockaddr *)&peer, &peer_len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            conn_add(t, fd, &peer);
            continue;
        }
        if (errno == EINTR || errno == ECONNABORTED)
            continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
            /* Level-triggered: the listener would wake us at once again. */
            log_warn("dns", "tcp: accept: %s; pausing new connections", strerror(errno));
            pause_listen(t, true);
        }
        return;
    }
}

static void sweep_deadlines(tcp_server_t *t)
{
    uint64_t now = clock_now_ms();
    for (unsigned i = 0; i < t->limits.max_conns; i++) {
        tcp_conn_t *c = t->conns[i];
        if (c != NULL && now >= conn_deadline(t, c)) {
            if (c->in_len > 0 && pending_out(c) == 0)
                t->stats.closed_message_deadline++;
            else
                t->stats.closed_idle++;
            conn_close(t, c);
        }
    }
    if (t->listen_paused)
        pause_listen(t, false);
}

/* Appends one UPDATE reply to its connection, if that is still open. */
static void put_reply(tcp_server_t *t, const tcp_reply_t *r)
{
    tcp_conn_t *c = r->slot < t->limits.max_conns ? t->conns[r->slot] : NULL;
    if (c == NULL || c->gen != r->gen)
        return; /* the connection is gone: so is the reply */
    if (c->awaiting > 0)
        c->awaiting--;
    if (r->len > 0) {
        if (!out_reserve(t, c, r->len + 2)) {
            conn_close(t, c);
            return;
        }
        if (pending_out(c) == 0)
            c->wrote_ms = clock_now_ms();
        c->out[c->out_len] = (uint8_t)(r->len >> 8);
        c->out[c->out_len + 1] = (uint8_t)r->len;
        memcpy(c->out + c->out_len + 2, r->data, r->len);
        c->out_len += r->len + 2;
        c->served_ms = clock_now_ms();
        c->answered = true;
    }
    if (!conn_flush(c) || (c->peer_closed && pending_out(c) == 0 && c->awaiting == 0 && c->xfr == NULL)) {
        conn_close(t, c);
        return;
    }
    conn_update_interest(t, c);
}

/* The wake eventfd fired: every queued UPDATE reply goes to its connection. */
static void take_replies(tcp_server_t *t)
{
    uint64_t n;
    ssize_t ignored = read(t->wake_fd, &n, sizeof n);
    (void)ignored;
    pthread_mutex_lock(&t->reply_mu);
    tcp_reply_t *list = t->replies;
    t->replies = NULL;
    t->replies_tail = &t->replies;
    pthread_mutex_unlock(&t->reply_mu);
    while (list != NULL) {
        tcp_reply_t *next = list->next;
        put_reply(t, list);
        free(list);
        list = next;
    }
}

static void *tcp_main(void *arg)
{
    tcp_server_t *t = arg;
    zonedb_reader_register();
    struct epoll_event events[EPOLL_BATCH];
    uint64_t next_sweep = clock_now_ms() + SWEEP_MS;
    bool stop = false;
    while (!stop) {
        int n = epoll_wait(t->epoll_fd, events, EPOLL_BATCH, SWEEP_MS);
        if (n < 0 && errno != EINTR) {
            log_error("dns", "tcp: epoll_wait: %s", strerror(errno));
            break;
        }
        for (int i = 0; i < n; i++) {
            void *tag = events[i].data.ptr;
            if (tag == &stop_tag)
                stop = true;
            else if (tag == &wake_tag)
                take_replies(t);
            else if (tag == &listen_tag)
                accept_all(t);
            else
                conn_event(t, tag, events[i].events);
        }
        if (clock_now_ms() >= next_sweep) {
            sweep_deadlines(t);
            next_sweep = clock_now_ms() + SWEEP_MS;
        }
    }
    zonedb_reader_unregister();
    return NULL;
}

static int epoll_add_tag(int epoll_fd, int fd, void *tag)
{
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = tag };
    return epoll_ctl(epoll_fd, EPOLL_CTL_ADD, fd, &ev);
}

tcp_server_t *tcp_server_start(int listen_fd, int stop_fd, zonedb_handle_t *db,
                               tcp_limits_t limits, updserve_t *upd, const atomic_bool *answering,
                               const xfr_ctx_t *xfr, dns_stats_slot_t *stats)
{
    tcp_server_t *t = calloc(1, sizeof *t);
    tcp_conn_t **conns = calloc(limits.max_conns ? limits.max_conns : 1, sizeof *conns);
    int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    int wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (t == NULL || conns == NULL || epoll_fd < 0 || wake_fd < 0 ||
        epoll_add_tag(epoll_fd, listen_fd, &listen_tag) != 0 ||
        epoll_add_tag(epoll_fd, stop_fd, &stop_tag) != 0 ||
        epoll_add_tag(epoll_fd, wake_fd, &wake_tag) != 0) {
        log_error("dns", "tcp: cannot set up: %s", strerror(errno));
        goto fail;
    }
    t->listen_fd = listen_fd;
    t->stop_fd = stop_fd;
    t->epoll_fd = epoll_fd;
    t->db = db;
    t->upd = upd;
    t->answering = answering;
    t->counters = stats;
    t->xfr_on = xfr != NULL;
    if (xfr != NULL)
        t->xfr = *xfr;
    t->wake_fd = wake_fd;
    pthread_mutex_init(&t->reply_mu, NULL);
    t->replies_tail = &t->replies;
    t->limits = limits;
    t->conns = conns;
    int rc = pthread_create(&t->thread, NULL, tcp_main, t);
    if (rc == 0)
        return t;
    log_error("dns", "tcp: cannot start thread: %s", strerror(rc));
    pthread_mutex_destroy(&t->reply_mu);
fail:
    if (epoll_fd >= 0)
        close(epoll_fd);
    if (wake_fd >= 0)
        close(wake_fd);
    close(listen_fd);
    free(conns);
    free(t);
    return NULL;
}

void tcp_server_join(tcp_server_t *t)
{
    if (t == NULL)
        return;
    pthread_join(t->thread, NULL);
    for (unsigned i = 0; i < t->limits.max_conns; i++)
        if (t->conns[i] != NULL)
            conn_close(t, t->conns[i]);
    if (t->stats.evicted || t->stats.closed_message_deadline || t->stats.closed_buffer_cap)
        log_info("dns", "tcp: %lu connections; closed: %lu to make room, %lu idle, %lu past the "
                 "message deadline, %lu at the buffer cap", t->stats.accepted, t->stats.evicted,
                 t->stats.closed_idle, t->stats.closed_message_deadline,
                 t->stats.closed_buffer_cap);
    close(t->epoll_fd);
    close(t->listen_fd);
    close(t->wake_fd);
    while (t->replies != NULL) {
        tcp_reply_t *next = t->replies->next;
        free(t->replies);
        t->replies = next;
    }
    pthread_mutex_destroy(&t->reply_mu);
    free(t->conns);
    free(t);
}
