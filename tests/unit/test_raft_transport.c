/* tests/unit/test_raft_transport.c — peer connections over real loopback
 * TCP: messages arrive with the sender's hello, people are told apart from
 * peers, hostile frames close the connection, and a peer that goes away and
 * comes back gets the messages sent after it returns; and the Raft port's
 * bounds: refused hellos, the hello and frame deadlines, one connection per
 * peer id, buffers grown as bytes arrive and capped across connections, and
 * the cap on connections without a hello; with a cluster key, one sealed
 * record per flush, and records verified whole before any frame is
 * delivered (the test plays the other side with raft/peerauth.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "raft/transport.h"

typedef struct harness {
    loop_t *loop;
    int ticks, max_ticks;
    /* what arrived */
    int n_msgs;
    raft_msg_t last;
    raft_hello_t hello;
    int text_fd;
    char text[64];
    int n_app;
    uint8_t app[16];
    bool (*done)(struct harness *);
    bool refuse_hellos;     /* on_hello answers false */
    int n_hellos;
    transport_t *tick_tr;   /* gets transport_tick on every tick */
} harness_t;

static void on_tick(void *ctx)
{
    harness_t *h = ctx;
    if (h->tick_tr)
        transport_tick(h->tick_tr);
    if (++h->ticks >= h->max_ticks || (h->done && h->done(h)))
        loop_stop(h->loop);
}

static void on_message(void *ctx, const raft_msg_t *m)
{
    harness_t *h = ctx;
    h->n_msgs++;
    h->last = *m;
}

static bool on_hello(void *ctx, const raft_hello_t *hello)
{
    harness_t *h = ctx;
    h->hello = *hello;
    h->n_hellos++;
    return !h->refuse_hellos;
}

static void on_text(void *ctx, int fd, const uint8_t *first, size_t n)
{
    harness_t *h = ctx;
    h->text_fd = fd;
    memcpy(h->text, first, n < sizeof h->text - 1 ? n : sizeof h->text - 1);
}

static void on_app(void *ctx, raft_id_t from, const uint8_t *body, size_t len)
{
    harness_t *h = ctx;
    (void)from;
    h->n_app++;
    memcpy(h->app, body, len < sizeof h->app ? len : sizeof h->app);
}

static transport_t *make(harness_t *h, raft_id_t id, const char *name, const char *spec)
{
    raft_hello_t self = { .id = id };
    snprintf(self.name, sizeof self.name, "%s", name);
    transport_callbacks_t cb = { h, on_message, on_app, on_hello, on_text, NULL };
    char err[256];
    transport_t *t = transport_new(h->loop, spec, &self, &cb, err, sizeof err);
    assert_non_null(t);
    return t;
}

static void run_until(harness_t *h, bool (*done)(harness_t *))
{
    h->ticks = 0;
    h->max_ticks = 300; /* 3 s at 10 ms */
    h->done = done;
    loop_run(h->loop);
    assert_true(done(h));
}

static bool got_msg(harness_t *h) { return h->n_msgs > 0; }
static bool got_two_msgs(harness_t *h) { return h->n_msgs > 1; }
static bool got_text(harness_t *h) { return h->text_fd >= 0; }
static bool got_app(harness_t *h) { return h->n_app > 0; }

static raft_msg_t vote_msg(void)
{
    raft_msg_t m = { .type = RAFT_MSG_VOTE, .from = 1, .to = 2, .term = 9 };
    m.u.vote.last_index = 77;
    m.u.vote.last_term = 8;
    return m;
}

/* A loop with two transports on loopback: a (id 1, "id0") knows b (id 2,
 * "id1") as its peer. */
static void make_pair(harness_t *h, transport_t **a, transport_t **b)
{
    h->loop = loop_new(10, on_tick, NULL, h);
    *a = make(h, 1, "id0", "127.0.0.1:0");
    *b = make(h, 2, "id1", "127.0.0.1:0");
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", transport_port(*b));
    transport_set_peer(*a, 2, addr);
}

static void test_message_arrives_with_hello(void **state)
{
    (void)state;
    harness_t h = { .text_fd = -1 };
    transport_t *a, *b;
    make_pair(&h, &a, &b);
    assert_int_equal(transport_send(a, &(raft_msg_t){ .type = RAFT_MSG_TIMEOUT_NOW, .from = 1, .to = 9 }), -1);
    raft_msg_t m = vote_msg();
    assert_int_equal(transport_send(a, &m), 0);
    run_until(&h, got_msg);
    assert_int_equal(h.last.type, RAFT_MSG_VOTE);
    assert_int_equal(h.last.u.vote.last_index, 77);
    assert_int_equal(h.hello.id, 1);
    assert_string_equal(h.hello.name, "id0");
    char expect[64];
    snprintf(expect, sizeof expect, "127.0.0.1:%u", transport_port(a));
    assert_string_equal(h.hello.addr, expect);

    uint8_t app[3] = { RAFT_FRAME_APP_MIN, 'h', 'i' };
    assert_int_equal(transport_send_app(a, 2, app, sizeof app), 0);
    run_until(&h, got_app);
    assert_memory_equal(h.app, app, sizeof app);

    transport_free(a);
    transport_free(b);
    loop_free(h.loop);
}

static bool got_three_msgs(harness_t *h) { return h->n_msgs >= 3; }

/* Corked, frames wait in the queue until transport_flush, and then all of
 * them arrive (one send for the lot); uncorked, each leaves at once. */
static void test_corked_frames_leave_at_flush(void **state)
{
    (void)state;
    harness_t h = { .text_fd = -1 };
    transport_t *a, *b;
    make_pair(&h, &a, &b);
    raft_msg_t m = vote_msg();
    assert_int_equal(transport_send(a, &m), 0); /* connects, hello, first frame */
    run_until(&h, got_msg);

    transport_cork(a, true);
    for (int i = 0; i < 3; i++) {
        m.term = 10 + (uint64_t)i;
        assert_int_equal(transport_send(a, &m), 0);
    }
    h.n_msgs = 0;
    h.ticks = 0;
    h.max_ticks = 20; /* 200 ms: nothing may arrive while corked */
    h.done = NULL;
    loop_run(h.loop);
    assert_int_equal(h.n_msgs, 0);

    transport_flush(a);
    run_until(&h, got_three_msgs);
    assert_int_equal(h.n_msgs, 3);
    assert_int_equal(h.last.term, 12); /* in order */

    transport_cork(a, false);
    m.term = 20;
    h.n_msgs = 0;
    assert_int_equal(transport_send(a, &m), 0);
    run_until(&h, got_msg);
    assert_int_equal(h.last.term, 20);

    transport_free(a);
    transport_free(b);
    loop_free(h.loop);
}

static int dial(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port) };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static void test_person_is_handed_to_admin(void **state)
{
    (void)state;
    harness_t h = { .text_fd = -1 };
    h.loop = loop_new(10, on_tick, NULL, &h);
    transport_t *b = make(&h, 2, "id1", "127.0.0.1:0");
    int fd = dial(transport_port(b));
    assert_int_equal(write(fd, "kv ping\n", 8), 8);
    run_until(&h, got_text);
    assert_string_equal(h.text, "kv ping\n");
    /* The admin side owns the socket now: it can answer on it. */
    assert_int_equal(write(h.text_fd, "PONG\n", 5), 5);
    char buf[8] = { 0 };
    assert_int_equal(read(fd, buf, 5), 5);
    assert_string_equal(buf, "PONG\n");
    close(h.text_fd);
    close(fd);
    transport_free(b);
    loop_free(h.loop);
}

/* After a good hello, a frame claiming more than RAFT_FRAME_MAX bytes, a
 * bad message type, or a spoofed sender closes the connection. */
static void hostile_case(const uint8_t *frame, size_t len)
{
    harness_t h = { .text_fd = -1 };
    h.loop = loop_new(10, on_tick, NULL, &h);
    transport_t *b = make(&h, 2, "id1", "127.0.0.1:0");
    int fd = dial(transport_port(b));
    uint8_t hello[RAFT_HELLO_LEN + 16];
    raft_hello_t me = { .id = 1, .name = "x", .addr = "127.0.0.1:1" };
    size_t n = raft_codec_hello(hello, &me);
    assert_int_equal(write(fd, hello, n), (ssize_t)n);
    assert_int_equal(write(fd, frame, len), (ssize_t)len);
    h.ticks = 0;
    h.max_ticks = 20;
    h.done = NULL;
    loop_run(h.loop);
    char buf[8];
    assert_int_equal(read(fd, buf, sizeof buf), 0); /* closed by the server */
    assert_int_equal(h.n_msgs, 0);
    close(fd);
    transport_free(b);
    loop_free(h.loop);
}

static void test_hostile_frames_close_the_connection(void **state)
{
    (void)state;
    const uint8_t oversize[4] = { 0xff, 0xff, 0xff, 0x7f };
    hostile_case(oversize, sizeof oversize);
    uint8_t bad_type[4 + 25] = { 25, 0, 0, 0, 60 };
    bad_type[5] = 1;
    bad_type[13] = 2;
    hostile_case(bad_type, sizeof bad_type);
    raft_msg_t spoof = { .type = RAFT_MSG_TIMEOUT_NOW, .from = 3, .to = 2, .term = 1 };
    uint8_t buf[64];
    raft_codec_encode(&spoof, buf);
    hostile_case(buf, raft_codec_frame_size(&spoof));
}

static void test_reconnects_after_peer_restart(void **state)
{
    (void)state;
    harness_t h = { .text_fd = -1 };
    h.loop = loop_new(10, on_tick, NULL, &h);
    transport_t *a = make(&h, 1, "id0", "127.0.0.1:0");
    transport_t *b = make(&h, 2, "id1", "127.0.0.1:0");
    uint16_t port = transport_port(b);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", port);
    transport_set_peer(a, 2, addr);
    raft_msg_t m = vote_msg();
    transport_send(a, &m);
    run_until(&h, got_msg);

    transport_free(b); /* the peer dies */
    h.ticks = 0;
    h.max_ticks = 10;
    h.done = NULL;
    transport_send(a, &m); /* lost, or noticed as a broken connection */
    loop_run(h.loop);

    char spec[64];
    snprintf(spec, sizeof spec, "127.0.0.1:%u", port);
    b = make(&h, 2, "id1", spec); /* ... and comes back on the same port */
    for (int i = 0; i < 100 && h.n_msgs < 2; i++) {
        transport_send(a, &m);
        h.ticks = 0;
        h.max_ticks = 5;
        h.done = got_two_msgs;
        loop_run(h.loop);
        transport_tick(a);
    }
    assert_true(h.n_msgs >= 2);
    transport_free(a);
    transport_free(b);
    loop_free(h.loop);
}

/* ---- the Raft port's bounds ---------------------------------------------- */

static void run_ticks(harness_t *h, int ticks)
{
    h->ticks = 0;
    h->max_ticks = ticks;
    h->done = NULL;
    loop_run(h->loop);
}

/* True once the server closed fd (EOF or reset); never blocks. */
static bool closed_by_server(int fd)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, 0) <= 0)
        return false;
    char c;
    ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN);
}

static void send_hello_as(int fd, raft_id_t id, const char *name)
{
    uint8_t hello[RAFT_HELLO_LEN + 64];
    raft_hello_t me = { .id = id, .addr = "127.0.0.1:1" };
    snprintf(me.name, sizeof me.name, "%s", name);
    size_t n = raft_codec_hello(hello, &me);
    assert_int_equal(write(fd, hello, n), (ssize_t)n);
}

static void test_refused_hello_closes_the_connection(void **state)
{
    (void)state;
    harness_t h = { .text_fd = -1, .refuse_hellos = true };
    h.loop = loop_new(10, on_tick, NULL, &h);
    transport_t *b = make(&h, 2, "id1", "127.0.0.1:0");
    int fd = dial(transport_port(b));
    send_hello_as(fd, 7, "stranger");
    run_ticks(&h, 20);
    assert_int_equal(h.n_hellos, 1);
    assert_true(closed_by_server(fd));
    assert_int_equal(transport_incoming_count(b), 0);
    close(fd);
    transport_free(b);
    loop_free(h.loop);
}

static int g_silent = -1, g_stalled = -1;
static bool both_closed(harness_t *h)
{
    (void)h;
    return closed_by_server(g_silent) && closed_by_server(g_stalled);
}

/* A socket that says nothing, and one that stops in the middle of a frame,
 * are closed after TRANSPORT_HELLO_MS and TRANSPORT_FRAME_STEP_MS, not
 * before. */
static void test_silent_and_stalled_connections_are_closed(void **state)
{
    (void)state;
    harness_t h = { .text_fd = -1 };
    h.loop = loop_new(10, on_tick, NULL, &h);
    transport_t *b = make(&h, 2, "id1", "127.0.0.1:0");
    h.tick_tr = b;
    g_silent = dial(transport_port(b));
    g_stalled = dial(transport_port(b));
    send_hello_as(g_stalled, 1, "x");
    const uint8_t part[6] = { 45, 0, 0, 0, RAFT_MSG_HEARTBEAT, 1 };
    assert_int_equal(write(g_stalled, part, sizeof part), (ssize_t)sizeof part);
    uint64_t t0 = loop_now_ms();
    run_ticks(&h, (TRANSPORT_HELLO_MS - 1000) / 10);
    assert_false(closed_by_server(g_silent));
    assert_false(closed_by_server(g_stalled));
    h.ticks = 0;
    h.max_ticks = 300;
    h.done = both_closed;
    loop_run(h.loop);
    assert_true(both_closed(&h));
    uint64_t took = loop_now_ms() - t0;
    assert_true(took >= TRANSPORT_HELLO_MS && took < TRANSPORT_HELLO_MS + 2000);
    assert_int_equal(transport_incoming_count(b), 0);
    close(g_silent);
    close(g_stalled);
    transport_free(b);
    loop_free(h.loop);
}

static void test_new_hello_replaces_the_same_id(void **state)
{
    (void)state;
    harness_t h = { .text_fd = -1 };
    h.loop = loop_new(10, on_tick, NULL, &h);
    transport_t *b = make(&h, 2, "id1", "127.0.0.1:0");
    int first = dial(transport_port(b));
    send_hello_as(first, 1, "x");
    run_ticks(&h, 10);
    int second = dial(transport_port(b));
    send_hello_as(second, 1, "x");
    run_ticks(&h, 10);
    assert_true(closed_by_server(first));
    assert_false(closed_by_server(second));
    assert_int_equal(transport_incoming_count(b), 1);
    close(first);
    close(second);
    transport_free(b);
    loop_free(h.loop);
}

/* A frame announcing 8 MiB takes memory only for the bytes that came. */
static void test_buffer_grows_as_bytes_arrive(void **state)
{
    (void)state;
    harness_t h = { .text_fd = -1 };
    h.loop = loop_new(10, on_tick, NULL, &h);
    transport_t *b = make(&h, 2, "id1", "127.0.0.1:0");
    int fd = dial(transport_port(b));
    send_hello_as(fd, 1, "x");
    uint8_t start[104] = { 0, 0, 0x80, 0, RAFT_MSG_APPEND };
    assert_int_equal(write(fd, start, sizeof start), (ssize_t)sizeof start);
    run_ticks(&h, 10);
    assert_false(closed_by_server(fd));
    assert_true(transport_incoming_bytes(b) > 0);
    assert_true(transport_incoming_bytes(b) <= 256 * 1024);
    close(fd);
    run_ticks(&h, 5);
    assert_int_equal(transport_incoming_bytes(b), 0);
    transport_free(b);
    loop_free(h.loop);
}

/* Five peers each sending 8 MiB of an unfinished frame: all buffers
 * together stay within TRANSPORT_IN_BYTES_MAX, by closing the largest. */
static void test_buffers_capped_across_connections(void **state)
{
    (void)state;
    enum { N = 5 };
    harness_t h = { .text_fd = -1 };
    h.loop = loop_new(10, on_tick, NULL, &h);
    transport_t *b = make(&h, 2, "id1", "127.0.0.1:0");
    int fds[N];
    size_t sent[N] = { 0 };
    const size_t total = RAFT_FRAME_HEADER + RAFT_FRAME_MAX - 1;
    uint8_t *data = calloc(1, total);
    assert_non_null(data);
    data[2] = 0x80; /* body length 8 MiB */
    data[4] = RAFT_MSG_APPEND;
    for (int i = 0; i < N; i++) {
        fds[i] = dial(transport_port(b));
        char name[16];
        snprintf(name, sizeof name, "p%d", i);
        send_hello_as(fds[i], 10 + (raft_id_t)i, name);
        fcntl(fds[i], F_SETFL, O_NONBLOCK);
    }
    for (int round = 0; round < 2000; round++) {
        bool busy = false;
        for (int i = 0; i < N; i++) {
            if (fds[i] < 0 || sent[i] == total)
                continue;
            ssize_t n = send(fds[i], data + sent[i], total - sent[i], MSG_NOSIGNAL);
            if (n > 0)
                sent[i] += (size_t)n;
            else if (n < 0 && errno != EAGAIN) {
                close(fds[i]);
                fds[i] = -1;
                continue;
            }
            busy = busy || sent[i] < total;
        }
        run_ticks(&h, 1);
        assert_true(transport_incoming_bytes(b) <= TRANSPORT_IN_BYTES_MAX);
        if (!busy)
            break;
    }
    run_ticks(&h, 10);
    assert_true(transport_incoming_bytes(b) <= TRANSPORT_IN_BYTES_MAX);
    assert_true(transport_incoming_count(b) < N);
    for (int i = 0; i < N; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    free(data);
    transport_free(b);
    loop_free(h.loop);
}

/* Past TRANSPORT_MAX_UNINTRODUCED connections without a hello, the oldest
 * goes for the newest, and one that says hello is not counted. */
static void test_oldest_unintroduced_closed_when_full(void **state)
{
    (void)state;
    enum { N = TRANSPORT_MAX_UNINTRODUCED + 1 };
    harness_t h = { .text_fd = -1 };
    h.loop = loop_new(10, on_tick, NULL, &h);
    transport_t *b = make(&h, 2, "id1", "127.0.0.1:0");
    int peer = dial(transport_port(b));
    send_hello_as(peer, 1, "x");
    run_ticks(&h, 5);
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = dial(transport_port(b));
        run_ticks(&h, 1);
    }
    run_ticks(&h, 5);
    assert_true(closed_by_server(fds[0]));
    assert_false(closed_by_server(fds[N - 1]));
    assert_false(closed_by_server(peer));
    assert_int_equal(transport_incoming_count(b), TRANSPORT_MAX_UNINTRODUCED + 1);
    for (int i = 0; i < N; i++)
        close(fds[i]);
    close(peer);
    transport_free(b);
    loop_free(h.loop);
}

/* ---- with a cluster key ---- */

static const char key_a[] = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n";
static const char key_b[] = "oKGio6SlpqeoqaqrrK2ur7CxsrO0tba3uLm6u7y9vr8=\n";

static peerauth_ring_t ring_of(const char *text)
{
    peerauth_ring_t r;
    char err[128];
    assert_int_equal(peerauth_ring_parse(&r, text, strlen(text), "k", err, sizeof err), 0);
    return r;
}

static void test_keyed_messages_arrive_authenticated(void **state)
{
    (void)state;
    harness_t h = { .text_fd = -1 };
    transport_t *a, *b;
    make_pair(&h, &a, &b);
    peerauth_ring_t ring = ring_of(key_a);
    transport_set_key_ring(a, &ring);
    transport_set_key_ring(b, &ring);
    raft_msg_t m = vote_msg();
    assert_int_equal(transport_send(a, &m), 0); /* queued before the handshake */
    assert_int_equal(transport_send(a, &m), 0);
    run_until(&h, got_two_msgs);
    assert_int_equal(h.last.u.vote.last_index, 77);
    assert_true(h.hello.authenticated);
    assert_string_equal(h.hello.name, "id0");
    uint8_t app[3] = { RAFT_FRAME_APP_MIN, 'h', 'i' }; /* sealed at enqueue */
    assert_int_equal(transport_send_app(a, 2, app, sizeof app), 0);
    run_until(&h, got_app);
    assert_memory_equal(h.app, app, sizeof app);
    transport_free(a);
    transport_free(b);
    loop_free(h.loop);
}

static bool stopped_after_2s(harness_t *h) { return h->ticks >= 200; }

/* The dialer keyed as `da`, the acceptor as `ba` (NULL: no key): nothing
 * is delivered. */
static void expect_refused(const char *da, const char *ba)
{
    harness_t h = { .text_fd = -1 };
    transport_t *a, *b;
    make_pair(&h, &a, &b);
    peerauth_ring_t ra, rb;
    if (da) {
        ra = ring_of(da);
        transport_set_key_ring(a, &ra);
    }
    if (ba) {
        rb = ring_of(ba);
        transport_set_key_ring(b, &rb);
    }
    raft_msg_t m = vote_msg();
    assert_int_equal(transport_send(a, &m), 0);
    run_until(&h, stopped_after_2s);
    assert_int_equal(h.n_msgs, 0);
    assert_int_equal(h.hello.id, 0);
    transport_free(a);
    transport_free(b);
    loop_free(h.loop);
}

static void test_keyed_and_unkeyed_refuse_each_other(void **state)
{
    (void)state;
    expect_refused(key_a, NULL);
    expect_refused(NULL, key_a);
    expect_refused(key_a, key_b);
}

/* ---- records under a key: the test plays the other side with peerauth.h ---- */

/* Reads what has arrived on fd into buf (up to cap) while the loop runs,
 * until `want` bytes are there or `ticks` ticks passed; returns the count. */
static size_t read_while_ticking(harness_t *h, int fd, uint8_t *buf, size_t cap, size_t want,
                                 int ticks)
{
    size_t got = 0;
    for (int i = 0; i < ticks && got < want; i++) {
        run_ticks(h, 1);
        ssize_t n;
        while (got < cap && (n = recv(fd, buf + got, cap - got, MSG_DONTWAIT)) > 0)
            got += (size_t)n;
    }
    return got;
}

/* Splits a stream of records (opened with s) into frames; returns the
 * number of records, or -1 if one does not open or is cut short. */
static int count_records(peerauth_session_t *s, const uint8_t *in, size_t n, int *frames)
{
    int records = 0;
    *frames = 0;
    while (n > 0) {
        const char *why = NULL;
        long size = peerauth_record_size(in, n, &why);
        if (size <= 0 || (size_t)size > n ||
            !peerauth_open(s, in, (size_t)size - PEERAUTH_RECORD_OVERHEAD))
            return -1;
        size_t at = 0, len;
        const uint8_t *body;
        while (peerauth_record_next(in + PEERAUTH_RECORD_HEADER,
                                    (size_t)size - PEERAUTH_RECORD_OVERHEAD, &at, &body, &len,
                                    &why) == 1)
            ++*frames;
        records++;
        in += size;
        n -= (size_t)size;
    }
    return records;
}

static const raft_hello_t tester_acceptor = { .id = 2, .name = "id1" };

/* Transport a dials a socket of the test, which answers as the keyed
 * acceptor; returns the accepted fd and the acceptor's session. */
static int accept_keyed(harness_t *h, int lfd, const peerauth_ring_t *ring,
                        peerauth_session_t **session)
{
    int fd = -1;
    for (int i = 0; i < 100 && fd < 0; i++) {
        run_ticks(h, 1);
        fd = accept(lfd, NULL, NULL);
    }
    assert_true(fd >= 0);
    uint8_t hello[PEERAUTH_HELLO_MAX], ch[PEERAUTH_CHALLENGE_MAX], proof[PEERAUTH_PROOF_LEN];
    size_t hl = 0;
    const char *why = NULL;
    int want = 0;
    for (int i = 0; i < 100 && (want <= 0 || hl < (size_t)want); i++) {
        hl += read_while_ticking(h, fd, hello + hl, sizeof hello - hl, 1, 1);
        want = peerauth_hello_len(hello, hl, &why);
        assert_true(want >= 0);
    }
    peerauth_hs_t hs;
    int cl = peerauth_acceptor_challenge(&hs, ring, &tester_acceptor, hello, hl, ch, &why);
    assert_true(cl > 0);
    assert_int_equal(write(fd, ch, (size_t)cl), cl);
    assert_int_equal(read_while_ticking(h, fd, proof, sizeof proof, sizeof proof, 200),
                     sizeof proof);
    *session = peerauth_acceptor_finish(&hs, proof, &why);
    assert_non_null(*session);
    return fd;
}

/* Under a key, everything one flush sends shares one sealed record (one
 * MAC), the frames queued during the handshake too; uncorked, each frame
 * is a record of its own. */
static void test_keyed_flush_sends_one_record(void **state)
{
    (void)state;
    harness_t h = { .text_fd = -1 };
    h.loop = loop_new(10, on_tick, NULL, &h);
    transport_t *a = make(&h, 1, "id0", "127.0.0.1:0");
    peerauth_ring_t ring = ring_of(key_a);
    transport_set_key_ring(a, &ring);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(lfd, 4), 0);
    getsockname(lfd, (struct sockaddr *)&sa, &sl);
    char addr[64];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", ntohs(sa.sin_port));
    transport_set_peer(a, 2, addr);

    transport_cork(a, true);
    raft_msg_t m = vote_msg();
    for (int i = 0; i < 30; i++)
        assert_int_equal(transport_send(a, &m), 0);
    transport_flush(a);
    peerauth_session_t *s;
    int fd = accept_keyed(&h, lfd, &ring, &s);
    size_t one = (size_t)raft_codec_frame_size(&m);
    static uint8_t buf[1 << 16];
    size_t n = read_while_ticking(&h, fd, buf, sizeof buf, PEERAUTH_RECORD_OVERHEAD + 30 * one, 100);
    int frames;
    assert_int_equal(count_records(s, buf, n, &frames), 1); /* queued during the handshake */
    assert_int_equal(frames, 30);

    for (int i = 0; i < 30; i++)
        assert_int_equal(transport_send(a, &m), 0);
    transport_flush(a);
    n = read_while_ticking(&h, fd, buf, sizeof buf, PEERAUTH_RECORD_OVERHEAD + 30 * one, 100);
    assert_int_equal(count_records(s, buf, n, &frames), 1); /* one corked flush */
    assert_int_equal(frames, 30);

    transport_cork(a, false);
    for (int i = 0; i < 3; i++)
        assert_int_equal(transport_send(a, &m), 0);
    n = read_while_ticking(&h, fd, buf, sizeof buf, 3 * (PEERAUTH_RECORD_OVERHEAD + one), 100);
    assert_int_equal(count_records(s, buf, n, &frames), 3);
    assert_int_equal(frames, 3);

    peerauth_session_free(s);
    close(fd);
    close(lfd);
    transport_free(a);
    loop_free(h.loop);
}

/* The test dials transport b as keyed member "id0" (id 1); returns the fd
 * and the dialer's session. */
static int dial_keyed(harness_t *h, transport_t *b, const peerauth_ring_t *ring,
                      peerauth_session_t **session)
{
    static const raft_hello_t me = { .id = 1, .name = "id0", .addr = "127.0.0.1:1" };
    int fd = dial(transport_port(b));
    peerauth_hs_t hs;
    uint8_t hello[PEERAUTH_HELLO_MAX], ch[PEERAUTH_CHALLENGE_MAX], proof[PEERAUTH_PROOF_LEN];
    size_t hl = peerauth_dialer_hello(&hs, ring, &me, hello);
    assert_int_equal(write(fd, hello, hl), (ssize_t)hl);
    const char *why = NULL;
    size_t got = 0;
    int want = 0;
    for (int i = 0; i < 200 && (want <= 0 || got < (size_t)want); i++) {
        got += read_while_ticking(h, fd, ch + got, sizeof ch - got, 1, 1);
        want = peerauth_reply_len(ch, got, &why);
        assert_true(want >= 0);
    }
    *session = peerauth_dialer_finish(&hs, ch, got, 2, proof, &why);
    assert_non_null(*session);
    assert_int_equal(write(fd, proof, sizeof proof), (ssize_t)sizeof proof);
    return fd;
}

/* A record of n vote frames from id0 to id1, sealed with s; returns its size. */
static size_t vote_record(peerauth_session_t *s, int n, uint8_t *out)
{
    raft_msg_t m = vote_msg();
    size_t at = PEERAUTH_RECORD_HEADER;
    for (int i = 0; i < n; i++) {
        raft_codec_encode(&m, out + at);
        at += raft_codec_frame_size(&m);
    }
    size_t payload = at - PEERAUTH_RECORD_HEADER;
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(payload >> (8 * i));
    peerauth_seal(s, out, payload);
    return at + PEERAUTH_TAG_LEN;
}

static bool closed_while_ticking(harness_t *h, int fd)
{
    for (int i = 0; i < 100; i++) {
        run_ticks(h, 1);
        if (closed_by_server(fd))
            return true;
    }
    return false;
}

/* The acceptor verifies a whole record before it delivers any of its
 * frames: a bad tag, frames that do not fill the record, a record cut
 * short, or one announced past PEERAUTH_RECORD_MAX deliver nothing and
 * (but for the one cut short, which waits for its deadline) close the
 * connection. */
static void test_keyed_record_verified_whole(void **state)
{
    (void)state;
    harness_t h = { .text_fd = -1 };
    h.loop = loop_new(10, on_tick, NULL, &h);
    transport_t *b = make(&h, 2, "id1", "127.0.0.1:0");
    peerauth_ring_t ring = ring_of(key_a);
    transport_set_key_ring(b, &ring);
    peerauth_session_t *s;
    uint8_t rec[1024];

    int fd = dial_keyed(&h, b, &ring, &s);
    size_t n = vote_record(s, 3, rec);
    assert_int_equal(write(fd, rec, n), (ssize_t)n);
    run_until(&h, got_three_msgs);
    assert_int_equal(h.n_msgs, 3);
    assert_true(h.hello.authenticated);
    /* the next record's last tag byte altered: none of its frames */
    n = vote_record(s, 2, rec);
    rec[n - 1] ^= 1;
    assert_int_equal(write(fd, rec, n), (ssize_t)n);
    assert_true(closed_while_ticking(&h, fd));
    assert_int_equal(h.n_msgs, 3);
    close(fd);
    peerauth_session_free(s);

    /* a good MAC over a frame that claims a byte more than its record has */
    fd = dial_keyed(&h, b, &ring, &s);
    raft_msg_t m = vote_msg();
    size_t frame = raft_codec_frame_size(&m);
    raft_codec_encode(&m, rec + PEERAUTH_RECORD_HEADER);
    rec[PEERAUTH_RECORD_HEADER] += 1;
    for (int i = 0; i < 4; i++)
        rec[i] = (uint8_t)(frame >> (8 * i));
    peerauth_seal(s, rec, frame);
    n = frame + PEERAUTH_RECORD_OVERHEAD;
    h.n_msgs = 0;
    assert_int_equal(write(fd, rec, n), (ssize_t)n);
    assert_true(closed_while_ticking(&h, fd));
    assert_int_equal(h.n_msgs, 0);
    close(fd);
    peerauth_session_free(s);

    /* cut short: everything but the tag's last byte, then silence */
    fd = dial_keyed(&h, b, &ring, &s);
    n = vote_record(s, 2, rec);
    assert_int_equal(write(fd, rec, n - 1), (ssize_t)(n - 1));
    run_ticks(&h, 20);
    assert_int_equal(h.n_msgs, 0);
    close(fd);
    peerauth_session_free(s);

    /* a record announced one byte past the limit: closed before a byte
     * of it is buffered */
    fd = dial_keyed(&h, b, &ring, &s);
    uint32_t big = PEERAUTH_RECORD_MAX + 1;
    uint8_t head[4] = { (uint8_t)big, (uint8_t)(big >> 8), (uint8_t)(big >> 16), (uint8_t)(big >> 24) };
    assert_int_equal(write(fd, head, 4), 4);
    assert_true(closed_while_ticking(&h, fd));
    assert_int_equal(transport_incoming_bytes(b), 0);
    close(fd);
    peerauth_session_free(s);

    transport_free(b);
    loop_free(h.loop);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_message_arrives_with_hello),
        cmocka_unit_test(test_corked_frames_leave_at_flush),
        cmocka_unit_test(test_person_is_handed_to_admin),
        cmocka_unit_test(test_hostile_frames_close_the_connection),
        cmocka_unit_test(test_reconnects_after_peer_restart),
        cmocka_unit_test(test_refused_hello_closes_the_connection),
        cmocka_unit_test(test_silent_and_stalled_connections_are_closed),
        cmocka_unit_test(test_new_hello_replaces_the_same_id),
        cmocka_unit_test(test_buffer_grows_as_bytes_arrive),
        cmocka_unit_test(test_buffers_capped_across_connections),
        cmocka_unit_test(test_oldest_unintroduced_closed_when_full),
        cmocka_unit_test(test_keyed_messages_arrive_authenticated),
        cmocka_unit_test(test_keyed_and_unkeyed_refuse_each_other),
        cmocka_unit_test(test_keyed_flush_sends_one_record),
        cmocka_unit_test(test_keyed_record_verified_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
