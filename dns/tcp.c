/* dns/tcp.c — DNS over TCP (RFC 7766, RFC 7828 in spirit), see tcp.h.
 *
 * One thread, one epoll set, level-triggered. Each connection has an input
 * buffer (bytes read, not yet answered) and an output buffer (answers not
 * yet written). Every message is framed by a two-byte length (RFC 1035
 * §4.2.2); a client may pipeline several queries, which are answered in the
 * order they came. The limits that keep one client from hurting others:
 *
 *  - at most `max_conns` connections; a further one is accepted and closed
 *    at once, which tells the client to go elsewhere sooner than a full
 *    accept backlog would;
 *  - one read takes at most READ_CHUNK bytes, so a fast sender cannot keep
 *    the thread from other connections;
 *  - when OUT_HIGH bytes of answers are waiting for a client that does not
 *    read, we stop reading its queries (back-pressure) until it catches up;
 *  - a connection that makes no progress for `idle_ms` is closed, whether
 *    it is silent, sends a frame a byte at a time, or never reads.
 *
 * Ownership: the thread owns every connection (the `conns` slot array) and
 * its buffers; tcp_server_join frees them all. */
#include "dns/tcp.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "dns/answer.h"

#define READ_CHUNK 16384
#define FRAME_MAX (2 + 65535)
#define IN_CAP_MAX (FRAME_MAX + READ_CHUNK)
#define IN_CAP_START 1024
#define OUT_HIGH (128 * 1024)
#define EPOLL_BATCH 64
#define SWEEP_MS 500

typedef struct tcp_conn {
    int fd;
    unsigned slot;        /* index in tcp_server.conns */
    uint32_t interest;    /* events registered with epoll */
    bool peer_closed;     /* read returned 0: answer what is left, then close */
    uint64_t last_progress_ms;
    uint8_t *in;
    size_t in_len, in_cap;
    uint8_t *out;
    size_t out_off, out_len, out_cap; /* pending bytes are out[out_off, out_len) */
} tcp_conn_t;

struct tcp_server {
    pthread_t thread;
    int listen_fd, stop_fd, epoll_fd;
    bool listen_paused;   /* out of file descriptors: retry at the next sweep */
    zonedb_handle_t *db;
    tcp_limits_t limits;
    tcp_conn_t **conns;   /* limits.max_conns slots, NULL when free */
    unsigned conn_count;
    uint8_t answer[DNS_TCP_MAX + 2]; /* scratch: one framed answer */
};

/* epoll user data for the two non-connection descriptors. */
static char listen_tag, stop_tag;

static void conn_close(tcp_server_t *t, tcp_conn_t *c)
{
    close(c->fd); /* also removes it from the epoll set */
    t->conns[c->slot] = NULL;
    t->conn_count--;
    free(c->in);
    free(c->out);
    free(c);
}

static size_t pending_out(const tcp_conn_t *c) { return c->out_len - c->out_off; }
static bool backpressured(const tcp_conn_t *c) { return pending_out(c) >= OUT_HIGH; }

/* Registers what the connection waits for now. Returns false (and closes
 * it) when it waits for nothing: the peer is gone and all is written. */
static bool conn_update_interest(tcp_server_t *t, tcp_conn_t *c)
{
    uint32_t want = 0;
    if (!c->peer_closed && !backpressured(c))
        want |= EPOLLIN;
    if (pending_out(c) > 0)
        want |= EPOLLOUT;
    if (want == 0) {
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

static bool out_reserve(tcp_conn_t *c, size_t more)
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
    size_t cap = c->out_cap ? c->out_cap : 4096;
    while (cap < c->out_len + more)
        cap *= 2;
    uint8_t *grown = realloc(c->out, cap);
    if (grown == NULL)
        return false;
    c->out = grown;
    c->out_cap = cap;
    return true;
}

/* Answers one query and queues the framed answer. False on no memory. */
static bool answer_one(tcp_server_t *t, tcp_conn_t *c, const uint8_t *query, size_t qlen)
{
    zonedb_read_lock();
    size_t len = dns_answer(zonedb_current(t->db), query, qlen, t->answer + 2, DNS_TCP_MAX, true);
    zonedb_read_unlock();
    if (len == 0)
        return true; /* not a query we answer (e.g. a response) */
    t->answer[0] = (uint8_t)(len >> 8);
    t->answer[1] = (uint8_t)len;
    if (!out_reserve(c, len + 2))
        return false;
    memcpy(c->out + c->out_len, t->answer, len + 2);
    c->out_len += len + 2;
    return true;
}

static bool has_complete_frame(const tcp_conn_t *c)
{
    return c->in_len >= 2 && c->in_len - 2 >= (((size_t)c->in[0] << 8) | c->in[1]);
}

/* Answers every complete frame in the input buffer, in order, until the
 * output is back-pressured. False on no memory. */
static bool answer_frames(tcp_server_t *t, tcp_conn_t *c)
{
    size_t pos = 0;
    while (!backpressured(c) && c->in_len - pos >= 2) {
        size_t flen = ((size_t)c->in[pos] << 8) | c->in[pos + 1];
        if (c->in_len - pos - 2 < flen)
            break;
        if (!answer_one(t, c, c->in + pos + 2, flen))
            return false;
        pos += 2 + flen;
    }
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    return true;
}

/* Writes as much pending output as the socket takes. False: close it. */
static bool conn_flush(tcp_conn_t *c)
{
    while (pending_out(c) > 0) {
        ssize_t n = send(c->fd, c->out + c->out_off, pending_out(c), MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            c->out_off += (size_t)n;
            c->last_progress_ms = clock_now_ms();
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
        }
    }
    c->out_off = c->out_len = 0;
    return true;
}

/* Makes room for one read; the buffer grows only as far as a full frame
 * plus one chunk needs. */
static bool in_reserve(tcp_conn_t *c)
{
    if (c->in_cap - c->in_len >= READ_CHUNK || c->in_cap == IN_CAP_MAX)
        return c->in_len < c->in_cap;
    size_t cap = c->in_cap * 2;
    while (cap - c->in_len < READ_CHUNK && cap < IN_CAP_MAX)
        cap *= 2;
    if (cap > IN_CAP_MAX)
        cap = IN_CAP_MAX;
    uint8_t *grown = realloc(c->in, cap);
    if (grown == NULL)
        return false;
    c->in = grown;
    c->in_cap = cap;
    return true;
}

/* Reads one chunk. False: close (error, or no memory). */
static bool conn_read(tcp_conn_t *c)
{
    if (!in_reserve(c))
        return false;
    size_t room = c->in_cap - c->in_len;
    ssize_t n = recv(c->fd, c->in + c->in_len, room < READ_CHUNK ? room : READ_CHUNK, MSG_DONTWAIT);
    if (n > 0) {
        c->in_len += (size_t)n;
        c->last_progress_ms = clock_now_ms();
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
    if ((events & (EPOLLIN | EPOLLHUP)) && (c->interest & EPOLLIN) && !conn_read(c)) {
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
        if (backpressured(c) || !has_complete_frame(c))
            break;
    }
    if (c->peer_closed && pending_out(c) == 0) {
        conn_close(t, c); /* whatever is left is an incomplete frame */
        return;
    }
    conn_update_interest(t, c);
}

static int free_slot(const tcp_server_t *t)
{
    for (unsigned i = 0; i < t->limits.max_conns; i++)
        if (t->conns[i] == NULL)
            return (int)i;
    return -1;
}

static void conn_add(tcp_server_t *t, int fd)
{
    int slot = free_slot(t);
    tcp_conn_t *c = slot < 0 ? NULL : calloc(1, sizeof *c);
    uint8_t *in = c == NULL ? NULL : malloc(IN_CAP_START);
    if (in == NULL) {
        if (slot >= 0)
            log_warn("dns", "tcp: out of memory, connection dropped");
        else
            log_debug("dns", "tcp: %u connections open, new one closed", t->conn_count);
        free(c);
        close(fd);
        return;
    }
    *c = (tcp_conn_t){ .fd = fd, .slot = (unsigned)slot, .interest = EPOLLIN,
                       .last_progress_ms = clock_now_ms(), .in = in, .in_cap = IN_CAP_START };
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };
    if (epoll_ctl(t->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        free(in);
        free(c);
        close(fd);
        return;
    }
    t->conns[slot] = c;
    t->conn_count++;
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
        int fd = accept4(t->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd >= 0) {
            conn_add(t, fd);
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

static void sweep_idle(tcp_server_t *t)
{
    uint64_t now = clock_now_ms();
    for (unsigned i = 0; i < t->limits.max_conns; i++) {
        tcp_conn_t *c = t->conns[i];
        if (c != NULL && now - c->last_progress_ms >= t->limits.idle_ms)
            conn_close(t, c);
    }
    if (t->listen_paused)
        pause_listen(t, false);
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
            else if (tag == &listen_tag)
                accept_all(t);
            else
                conn_event(t, tag, events[i].events);
        }
        if (clock_now_ms() >= next_sweep) {
            sweep_idle(t);
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
                               tcp_limits_t limits)
{
    tcp_server_t *t = calloc(1, sizeof *t);
    tcp_conn_t **conns = calloc(limits.max_conns ? limits.max_conns : 1, sizeof *conns);
    int epoll_fd = epoll_create1(EPOLL_CLOEXEC);
    if (t == NULL || conns == NULL || epoll_fd < 0 || epoll_add_tag(epoll_fd, listen_fd, &listen_tag) != 0 ||
        epoll_add_tag(epoll_fd, stop_fd, &stop_tag) != 0) {
        log_error("dns", "tcp: cannot set up: %s", strerror(errno));
        goto fail;
    }
    t->listen_fd = listen_fd;
    t->stop_fd = stop_fd;
    t->epoll_fd = epoll_fd;
    t->db = db;
    t->limits = limits;
    t->conns = conns;
    int rc = pthread_create(&t->thread, NULL, tcp_main, t);
    if (rc == 0)
        return t;
    log_error("dns", "tcp: cannot start thread: %s", strerror(rc));
fail:
    if (epoll_fd >= 0)
        close(epoll_fd);
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
    close(t->epoll_fd);
    close(t->listen_fd);
    free(t->conns);
    free(t);
}
