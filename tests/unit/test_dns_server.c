/* tests/unit/test_dns_server.c — the DNS network server (dns/server.c,
 * dns/udp.c, dns/tcp.c) over real loopback sockets: UDP batches, replies
 * from the address queried on a wildcard socket, TCP framing, pipelining,
 * split frames, half-close, idle timeout, the message deadline (a client
 * that trickles a byte at a time), the connection limit (the least recently
 * served connection makes room), the cap on buffered bytes, UDP response
 * rate limiting, zone swaps while queries run, start-up errors and clean
 * stops (ASan/LSan). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "dns/acl.h"
#include "dns/server.h"
#include "dns/tsig.h"
#include "zone/db.h"
#include "zone/zone.h"

static const char ZONE_TEXT[] =
    "$ORIGIN foo.com.\n$TTL 3600\n"
    "@ SOA dns.foo.com. admin.foo.com. 1 3600 600 604800 1800\n"
    "@ NS dns.foo.com.\n"
    "@ 60 A 1.2.3.4\n"
    "www CNAME foo.com.\n";

/* 127.0.0.2 is a loopback address too, but the kernel's own choice of
 * source address towards 127.0.0.1 (the client) would be 127.0.0.1. */
static uint32_t ipv4_target = INADDR_LOOPBACK;

typedef struct fixture {
    zonedb_handle_t *db;
    dns_server_t *server;
    uint16_t port;
} fixture_t;

static zonedb_index_t *seed_zone(const char *text)
{
    char err[ZONE_ERR_MAX];
    zone_t *zone = zone_parse_text(text, strlen(text), "test", NULL, err);
    if (zone == NULL)
        fail_msg("zone: %s", err);
    zonedb_index_t *zi = zonedb_index_build(zone, err);
    zone_free(zone);
    assert_non_null(zi);
    return zi;
}

static void fixture_start_opts(fixture_t *f, const dns_server_opts_t *opts)
{
    ipv4_target = INADDR_LOOPBACK;
    f->db = zonedb_handle_new();
    assert_int_equal(zonedb_handle_put_zone(f->db, seed_zone(ZONE_TEXT)), 0);
    char err[DNS_SERVER_ERR_MAX];
    f->server = dns_server_start(opts, f->db, err);
    if (f->server == NULL)
        fail_msg("start: %s", err);
    f->port = dns_server_port(f->server);
    assert_true(f->port != 0);
}

static void fixture_start(fixture_t *f, const char *addr, unsigned workers, unsigned max_conns,
                          unsigned idle_ms)
{
    dns_server_opts_t opts = { .addr = addr, .workers = workers, .tcp_max_conns = max_conns,
                               .tcp_idle_ms = idle_ms, .count = true };
    fixture_start_opts(f, &opts);
}

static void fixture_stop(fixture_t *f)
{
    dns_server_stop(f->server);
    zonedb_handle_free(f->db);
}

/* A query for `name` (dotted, no trailing dot) type A, class IN. */
static size_t build_query(uint8_t *buf, uint16_t id, const char *name)
{
    size_t n = 0;
    buf[n++] = (uint8_t)(id >> 8);
    buf[n++] = (uint8_t)id;
    memcpy(buf + n, "\0\0\0\1\0\0\0\0\0\0", 10);
    n += 10;
    while (*name) {
        const char *dot = strchr(name, '.');
        size_t len = dot ? (size_t)(dot - name) : strlen(name);
        buf[n++] = (uint8_t)len;
        memcpy(buf + n, name, len);
        n += len;
        name += len + (dot ? 1 : 0);
    }
    buf[n++] = 0;
    memcpy(buf + n, "\0\1\0\1", 4);
    return n + 4;
}

static uint16_t resp_id(const uint8_t *r) { return (uint16_t)(r[0] << 8 | r[1]); }

/* The value of `series` (name{labels}) in the server's metrics; -1 if absent. */
static long long metric(dns_server_t *s, const char *series)
{
    bytebuf_t b = { 0 };
    dns_server_write_metrics(s, &b);
    bytebuf_put_u8(&b, 0);
    assert_false(b.failed);
    char want[256];
    snprintf(want, sizeof want, "\n%s ", series);
    const char *at = strstr((const char *)bytebuf_head(&b), want);
    long long v = at ? strtoll(at + strlen(want), NULL, 10) : -1;
    bytebuf_free(&b);
    return v;
}
static int resp_rcode(const uint8_t *r) { return r[3] & 0xf; }
static bool resp_is_answer(const uint8_t *r) { return (r[2] & 0x80) != 0; }
static bool resp_aa(const uint8_t *r) { return (r[2] & 0x04) != 0; }

static int connect_to(int family, uint16_t port, int type)
{
    int fd = socket(family, type, 0);
    assert_true(fd >= 0);
    struct timeval tv = { .tv_sec = 3 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons(port);
        sin->sin_addr.s_addr = htonl(ipv4_target);
        len = sizeof *sin;
    } else {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons(port);
        sin6->sin6_addr = in6addr_loopback;
        len = sizeof *sin6;
    }
    if (connect(fd, (struct sockaddr *)&ss, len) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Reads exactly n bytes (TCP); false on EOF, error or timeout. */
static bool read_exact(int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = recv(fd, buf + got, n - got, 0);
        if (r <= 0)
            return false;
        got += (size_t)r;
    }
    return true;
}

/* Reads one framed response; returns its length, 0 on EOF/timeout. */
static size_t read_frame(int fd, uint8_t *buf, size_t cap)
{
    uint8_t len[2];
    if (!read_exact(fd, len, 2))
        return 0;
    size_t n = (size_t)(len[0] << 8 | len[1]);
    assert_true(n <= cap);
    return read_exact(fd, buf, n) ? n : 0;
}

static size_t frame_query(uint8_t *buf, uint16_t id, const char *name)
{
    size_t n = build_query(buf + 2, id, name);
    buf[0] = (uint8_t)(n >> 8);
    buf[1] = (uint8_t)n;
    return n + 2;
}

/* True when the peer closes (FIN, or a reset) within `ms`. */
static bool closed_within(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, ms) <= 0)
        return false;
    uint8_t b;
    ssize_t n = recv(fd, &b, 1, MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void test_udp_answers_every_query(void **state)
{
    (void)state;
    fixture_t f;
    fixture_start(&f, "127.0.0.1:0", 2, 0, 0);
    assert_int_equal(dns_server_workers(f.server), 2);
    int fd = connect_to(AF_INET, f.port, SOCK_DGRAM);
    enum { N = 64 };
    uint8_t q[512], r[2048];
    for (uint16_t id = 1; id <= N; id++) {
        size_t n = build_query(q, id, id % 2 ? "foo.com" : "example.org");
        assert_int_equal(send(fd, q, n, 0), (ssize_t)n);
    }
    bool seen[N + 1] = { false };
    for (int i = 0; i < N; i++) {
        ssize_t n = recv(fd, r, sizeof r, 0);
        assert_true(n >= 12);
        uint16_t id = resp_id(r);
        assert_true(id >= 1 && id <= N && !seen[id]);
        seen[id] = true;
        assert_true(resp_is_answer(r));
        if (id % 2) {
            assert_int_equal(resp_rcode(r), 0);
            assert_true(resp_aa(r));
        } else {
            assert_int_equal(resp_rcode(r), 5); /* REFUSED: not our zone */
        }
    }
    /* A response (QR=1) and a runt are ignored, the next query answered. */
    size_t n = build_query(q, 999, "foo.com");
    q[2] |= 0x80;
    send(fd, q, n, 0);
    send(fd, q, 5, 0);
    n = build_query(q, 1000, "foo.com");
    send(fd, q, n, 0);
    assert_true(recv(fd, r, sizeof r, 0) >= 12);
    assert_int_equal(resp_id(r), 1000);
    /* Counted by the workers before each reply left (dns/stats.h). */
    assert_int_equal(metric(f.server, "dnsraft_dns_requests_total{proto=\"udp\",type=\"A\"}"), N + 1);
    assert_int_equal(metric(f.server, "dnsraft_dns_responses_total{proto=\"udp\",rcode=\"NOERROR\"}"),
                     N / 2 + 1);
    assert_int_equal(metric(f.server, "dnsraft_dns_responses_total{proto=\"udp\",rcode=\"REFUSED\"}"),
                     N / 2);
    assert_int_equal(metric(f.server, "dnsraft_dns_dropped_total{proto=\"udp\",reason=\"malformed\"}"), 2);
    assert_int_equal(metric(f.server, "dnsraft_dns_response_size_bytes_count{proto=\"udp\"}"), N + 1);
    assert_int_equal(metric(f.server, "dnsraft_dns_requests_total{proto=\"tcp\",type=\"A\"}"), 0);
    close(fd);
    fixture_stop(&f);
}

/* The readiness flag (opts.answering, kv/readiness.h): while false, UDP
 * and TCP answer SERVFAIL for a served zone (never REFUSED, no AA); once
 * true, the zone's answer. */
static void test_not_answering_is_servfail(void **state)
{
    (void)state;
    static atomic_bool answering;
    atomic_store(&answering, false);
    fixture_t f;
    dns_server_opts_t opts = { .addr = "127.0.0.1:0", .workers = 1, .answering = &answering };
    fixture_start_opts(&f, &opts);
    int u = connect_to(AF_INET, f.port, SOCK_DGRAM);
    int t = connect_to(AF_INET, f.port, SOCK_STREAM);
    assert_true(u >= 0 && t >= 0);
    uint8_t q[512], r[2048];
    for (int round = 0; round < 2; round++) {
        size_t n = build_query(q, (uint16_t)(10 + round), "foo.com");
        assert_int_equal(send(u, q, n, 0), (ssize_t)n);
        assert_true(recv(u, r, sizeof r, 0) >= 12);
        assert_int_equal(resp_id(r), 10 + round);
        assert_int_equal(resp_rcode(r), round == 0 ? 2 : 0); /* SERVFAIL, then NOERROR */
        assert_true(resp_aa(r) == (round == 1));
        n = frame_query(q, (uint16_t)(20 + round), "foo.com");
        assert_int_equal(send(t, q, n, 0), (ssize_t)n);
        assert_true(read_frame(t, r, sizeof r) >= 12);
        assert_int_equal(resp_id(r), 20 + round);
        assert_int_equal(resp_rcode(r), round == 0 ? 2 : 0);
        atomic_store(&answering, true);
    }
    close(u);
    close(t);
    fixture_stop(&f);
}

/* A connected UDP socket accepts datagrams only from the address it sent
 * to, so an answer arriving proves it left from the address queried. */
static void check_wildcard_reply(int family, uint16_t port)
{
    int fd = connect_to(family, port, SOCK_DGRAM);
    if (fd < 0 && family == AF_INET6)
        return; /* no IPv6 loopback here */
    assert_true(fd >= 0);
    uint8_t q[512], r[2048];
    size_t n = build_query(q, 42, "www.foo.com");
    assert_int_equal(send(fd, q, n, 0), (ssize_t)n);
    assert_true(recv(fd, r, sizeof r, 0) >= 12);
    assert_int_equal(resp_id(r), 42);
    close(fd);
}

static void test_wildcard_address_replies_from_queried_address(void **state)
{
    (void)state;
    fixture_t f;
    fixture_start(&f, ":0", 1, 0, 0);
    check_wildcard_reply(AF_INET, f.port);
    check_wildcard_reply(AF_INET6, f.port);
    ipv4_target = INADDR_LOOPBACK + 1;
    check_wildcard_reply(AF_INET, f.port);
    ipv4_target = INADDR_LOOPBACK;
    int tcp = connect_to(AF_INET, f.port, SOCK_STREAM);
    assert_true(tcp >= 0);
    close(tcp);
    fixture_stop(&f);
}

/* "localhost" resolves to 127.0.0.1 first (as Go does), "[::1]" is IPv6. */
static void test_named_and_ipv6_addresses(void **state)
{
    (void)state;
    fixture_t f;
    fixture_start(&f, "localhost:0", 1, 0, 0);
    check_wildcard_reply(AF_INET, f.port);
    fixture_stop(&f);

    zonedb_handle_t *db = zonedb_handle_new();
    dns_server_opts_t opts = { .addr = "[::1]:0", .workers = 1 };
    char err[DNS_SERVER_ERR_MAX];
    dns_server_t *s = dns_server_start(&opts, db, err);
    if (s != NULL) { /* else: no IPv6 loopback on this host */
        int fd = connect_to(AF_INET6, dns_server_port(s), SOCK_DGRAM);
        uint8_t q[512], r[2048];
        size_t n = build_query(q, 5, "foo.com");
        assert_int_equal(send(fd, q, n, 0), (ssize_t)n);
        assert_true(recv(fd, r, sizeof r, 0) >= 12);
        assert_int_equal(resp_rcode(r), 5); /* empty database: REFUSED */
        close(fd);
        dns_server_stop(s);
    }
    zonedb_handle_free(db);
}

static void test_tcp_pipelined_answers_in_order(void **state)
{
    (void)state;
    fixture_t f;
    fixture_start(&f, "127.0.0.1:0", 1, 0, 0);
    int fd = connect_to(AF_INET, f.port, SOCK_STREAM);
    enum { N = 200 };
    static uint8_t all[N * 64];
    size_t len = 0;
    for (uint16_t id = 0; id < N; id++)
        len += frame_query(all + len, id, id % 3 ? "foo.com" : "nope.foo.com");
    assert_int_equal(send(fd, all, len, 0), (ssize_t)len);
    uint8_t r[65535];
    for (uint16_t id = 0; id < N; id++) {
        size_t n = read_frame(fd, r, sizeof r);
        assert_true(n >= 12);
        assert_int_equal(resp_id(r), id);
        assert_int_equal(resp_rcode(r), id % 3 ? 0 : 3);
    }
    close(fd);
    fixture_stop(&f);
}

static void test_tcp_frame_split_byte_by_byte_and_half_close(void **state)
{
    (void)state;
    fixture_t f;
    fixture_start(&f, "127.0.0.1:0", 1, 0, 0);
    int fd = connect_to(AF_INET, f.port, SOCK_STREAM);
    uint8_t q[512], r[65535];
    size_t len = frame_query(q, 7, "foo.com");
    for (size_t i = 0; i < len; i++) {
        assert_int_equal(send(fd, q + i, 1, 0), 1);
        usleep(2000);
    }
    assert_true(read_frame(fd, r, sizeof r) >= 12);
    assert_int_equal(resp_id(r), 7);
    /* Two more, then half-close: both answered, then the server closes. */
    len = frame_query(q, 8, "foo.com");
    len += frame_query(q + len, 9, "www.foo.com");
    assert_int_equal(send(fd, q, len, 0), (ssize_t)len);
    shutdown(fd, SHUT_WR);
    assert_true(read_frame(fd, r, sizeof r) >= 12);
    assert_int_equal(resp_id(r), 8);
    assert_true(read_frame(fd, r, sizeof r) >= 12);
    assert_int_equal(resp_id(r), 9);
    assert_true(closed_within(fd, 2000));
    close(fd);
    fixture_stop(&f);
}

typedef struct sender {
    int fd;
    const uint8_t *buf;
    size_t len;
} sender_t;

static void *send_all(void *arg)
{
    sender_t *s = arg;
    size_t off = 0;
    while (off < s->len) {
        ssize_t n = send(s->fd, s->buf + off, s->len - off, 0);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    return NULL;
}

/* A client that sends thousands of queries and reads nothing for a while
 * fills the server's output limit; reading resumes every answer, in order. */
static void test_tcp_slow_reader_gets_every_answer_in_order(void **state)
{
    (void)state;
    fixture_t f;
    fixture_start(&f, "127.0.0.1:0", 1, 0, 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    struct timeval tv = { .tv_sec = 5 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(f.port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    enum { N = 60000 };
    static uint8_t all[N * 32];
    size_t len = 0;
    for (unsigned i = 0; i < N; i++)
        len += frame_query(all + len, (uint16_t)i, "www.foo.com");
    sender_t s = { .fd = fd, .buf = all, .len = len };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, send_all, &s), 0);
    usleep(300000);
    uint8_t r[65535];
    for (unsigned i = 0; i < N; i++) {
        size_t n = read_frame(fd, r, sizeof r);
        if (n < 12)
            fail_msg("answer %u missing", i);
        assert_int_equal(resp_id(r), (uint16_t)i);
    }
    pthread_join(th, NULL);
    close(fd);
    fixture_stop(&f);
}

static void test_tcp_junk_frames_skipped(void **state)
{
    (void)state;
    fixture_t f;
    fixture_start(&f, "127.0.0.1:0", 1, 0, 0);
    int fd = connect_to(AF_INET, f.port, SOCK_STREAM);
    uint8_t q[512], r[65535];
    size_t len = 0;
    q[len++] = 0; q[len++] = 0;                       /* empty frame */
    q[len++] = 0; q[len++] = 3; memcpy(q + len, "abc", 3); len += 3; /* runt */
    len += frame_query(q + len, 77, "foo.com");
    assert_int_equal(send(fd, q, len, 0), (ssize_t)len);
    assert_true(read_frame(fd, r, sizeof r) >= 12);
    assert_int_equal(resp_id(r), 77);
    close(fd);
    fixture_stop(&f);
}

static void test_tcp_idle_timeout(void **state)
{
    (void)state;
    fixture_t f;
    fixture_start(&f, "127.0.0.1:0", 1, 0, 300);
    int idle = connect_to(AF_INET, f.port, SOCK_STREAM);
    int partial = connect_to(AF_INET, f.port, SOCK_STREAM);
    assert_int_equal(send(partial, "\0\40abc", 5, 0), 5); /* a frame never finished */
    assert_true(closed_within(idle, 3000));
    assert_true(closed_within(partial, 3000));
    close(idle);
    close(partial);
    fixture_stop(&f);
}

/* A query on fd, answered (true) within the receive timeout. */
static bool tcp_answered(int fd, uint16_t id)
{
    uint8_t q[512], r[65535];
    size_t len = frame_query(q, id, "foo.com");
    if (send(fd, q, len, MSG_NOSIGNAL) != (ssize_t)len)
        return false;
    return read_frame(fd, r, sizeof r) >= 12 && resp_id(r) == id;
}

/* When every slot is taken, a new connection is served and the connection
 * served least recently is closed to make room (not the newcomer). */
static void test_tcp_full_closes_least_recently_served(void **state)
{
    (void)state;
    fixture_t f;
    fixture_start(&f, "127.0.0.1:0", 1, 2, 0);
    int a = connect_to(AF_INET, f.port, SOCK_STREAM);
    int b = connect_to(AF_INET, f.port, SOCK_STREAM);
    assert_true(tcp_answered(a, 1));
    usleep(20000);
    assert_true(tcp_answered(b, 2));
    usleep(20000);
    int c = connect_to(AF_INET, f.port, SOCK_STREAM);
    assert_true(tcp_answered(c, 3));
    assert_true(closed_within(a, 2000)); /* a was served before b */
    usleep(20000);
    assert_true(tcp_answered(b, 4)); /* now c is the least recently served */
    int silent = connect_to(AF_INET, f.port, SOCK_STREAM);
    assert_true(closed_within(c, 2000));
    /* A connection that never asks goes before those being served, even
     * though it came later. */
    int d = connect_to(AF_INET, f.port, SOCK_STREAM);
    assert_true(tcp_answered(d, 5));
    assert_true(closed_within(silent, 2000));
    assert_true(tcp_answered(b, 6));
    close(a);
    close(b);
    close(c);
    close(d);
    close(silent);
    fixture_stop(&f);
}

/* The attack of issue #12: more clients than slots, each trickling a byte
 * now and then so that no idle timer ever fires. A real client must still
 * get in and be answered, and every trickler is closed at its message
 * deadline however regularly it trickles. */
static void test_tcp_tricklers_cannot_hold_the_slots(void **state)
{
    (void)state;
    dns_server_opts_t opts = { .addr = "127.0.0.1:0", .workers = 1, .tcp_max_conns = 8,
                               .tcp_idle_ms = 5000, .tcp_message_ms = 400 };
    fixture_t f;
    fixture_start_opts(&f, &opts);
    enum { N = 12 };
    int tr[N];
    for (int i = 0; i < N; i++)
        tr[i] = connect_to(AF_INET, f.port, SOCK_STREAM);
    int real = connect_to(AF_INET, f.port, SOCK_STREAM);
    assert_true(tcp_answered(real, 9)); /* one trickler made room */
    close(real);
    /* Each trickler sends a byte every 100 ms: under the idle timeout,
     * never a whole message. All are closed within ~400 ms of their first
     * byte (plus the 100 ms sweep). */
    bool closed[N] = { false };
    for (int step = 0; step < 15; step++) {
        for (int i = 0; i < N; i++)
            if (!closed[i] && send(tr[i], "\0", 1, MSG_NOSIGNAL) != 1)
                closed[i] = true;
        usleep(100000);
    }
    for (int i = 0; i < N; i++) {
        assert_true(closed[i] || closed_within(tr[i], 500));
        close(tr[i]);
    }
    fixture_stop(&f);
}

/* Unfinished frames count against the cap on bytes buffered across all
 * connections: the connection whose buffer would pass it is closed, and a
 * new client is still served. */
static void test_tcp_buffer_cap_across_connections(void **state)
{
    (void)state;
    dns_server_opts_t opts = { .addr = "127.0.0.1:0", .workers = 1,
                               .tcp_buffer_max = 48 * 1024 };
    fixture_t f;
    fixture_start_opts(&f, &opts);
    static uint8_t big[30002];
    big[0] = 0xea; /* a 60,000-octet frame, half of it sent */
    big[1] = 0x60;
    int a = connect_to(AF_INET, f.port, SOCK_STREAM);
    assert_int_equal(send(a, big, sizeof big, 0), (ssize_t)sizeof big);
    usleep(100000);
    int b = connect_to(AF_INET, f.port, SOCK_STREAM);
    send(b, big, sizeof big, MSG_NOSIGNAL);
    assert_true(closed_within(b, 2000)); /* 32 KiB + 32 KiB > 48 KiB */
    assert_false(closed_within(a, 100));
    int c = connect_to(AF_INET, f.port, SOCK_STREAM);
    assert_true(tcp_answered(c, 11));
    close(a);
    close(b);
    close(c);
    fixture_stop(&f);
}

/* UDP with response rate limiting: past `rate` answers a second for one
 * source and response, the rest are dropped except every slip-th, sent
 * truncated with TC=1 and no records. Another response class is counted
 * on its own, and TCP is never limited. */
static void test_udp_rate_limit(void **state)
{
    (void)state;
    dns_server_opts_t opts = { .addr = "127.0.0.1:0", .workers = 1,
                               .rrl = { .rate = 5, .slip = 2 }, .count = true };
    fixture_t f;
    fixture_start_opts(&f, &opts);
    int fd = connect_to(AF_INET, f.port, SOCK_DGRAM);
    struct timeval tv = { .tv_usec = 300000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    uint8_t q[512], r[2048];
    for (uint16_t id = 1; id <= 20; id++) {
        size_t n = build_query(q, id, "foo.com");
        assert_int_equal(send(fd, q, n, 0), (ssize_t)n);
    }
    size_t n = build_query(q, 100, "www.foo.com"); /* another name: its own bucket */
    assert_int_equal(send(fd, q, n, 0), (ssize_t)n);
    int full = 0, truncated = 0, other = 0;
    ssize_t m;
    while ((m = recv(fd, r, sizeof r, 0)) >= 12) {
        if (resp_id(r) == 100) {
            other++;
        } else if (r[2] & 0x02) { /* TC */
            truncated++;
            assert_int_equal(r[7] | r[9] | r[11], 0); /* no records */
        } else {
            full++;
        }
    }
    /* The second may turn during the burst: at most two buckets' worth. */
    assert_true(full >= 5 && full <= 10);
    assert_true(truncated >= 5 && truncated <= 8); /* half of the 10-15 limited */
    assert_int_equal(other, 1);
    assert_int_equal(metric(f.server, "dnsraft_dns_rrl_slipped_total"), truncated);
    assert_int_equal(metric(f.server, "dnsraft_dns_dropped_total{proto=\"udp\",reason=\"rrl\"}"),
                     20 - full - truncated);
    assert_int_equal(metric(f.server, "dnsraft_dns_truncated_total{proto=\"udp\"}"), truncated);
    close(fd);
    int tcp = connect_to(AF_INET, f.port, SOCK_STREAM);
    for (uint16_t id = 0; id < 20; id++)
        assert_true(tcp_answered(tcp, id));
    close(tcp);
    assert_int_equal(metric(f.server, "dnsraft_dns_requests_total{proto=\"tcp\",type=\"A\"}"), 20);
    fixture_stop(&f);
}

typedef struct load_ctx {
    uint16_t port;
    atomic_bool done;
    atomic_int answered, failed;
} load_ctx_t;

static void *udp_load(void *arg)
{
    load_ctx_t *ctx = arg;
    int fd = connect_to(AF_INET, ctx->port, SOCK_DGRAM);
    uint8_t q[512], r[2048];
    for (uint16_t id = 0; !atomic_load(&ctx->done); id++) {
        size_t n = build_query(q, id, "foo.com");
        send(fd, q, n, 0);
        ssize_t m = recv(fd, r, sizeof r, 0);
        if (m >= 12 && resp_id(r) == id && resp_rcode(r) == 0)
            atomic_fetch_add(&ctx->answered, 1);
        else
            atomic_fetch_add(&ctx->failed, 1);
    }
    close(fd);
    return NULL;
}

static void test_zone_swaps_while_serving(void **state)
{
    (void)state;
    fixture_t f;
    fixture_start(&f, "127.0.0.1:0", 2, 0, 0);
    load_ctx_t ctx = { .port = f.port };
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, udp_load, &ctx), 0);
    long long last = 0;
    for (int i = 0; i < 30; i++) {
        assert_int_equal(zonedb_handle_put_zone(f.db, seed_zone(ZONE_TEXT)), 0);
        /* A scrape while the workers count (make tsan: no data race). */
        long long now = metric(f.server, "dnsraft_dns_requests_total{proto=\"udp\",type=\"A\"}");
        assert_true(now >= last); /* counters never go back */
        last = now;
        usleep(5000);
    }
    atomic_store(&ctx.done, true);
    pthread_join(th, NULL);
    assert_true(atomic_load(&ctx.answered) > 0);
    assert_int_equal(atomic_load(&ctx.failed), 0);
    assert_int_equal(metric(f.server, "dnsraft_dns_requests_total{proto=\"udp\",type=\"A\"}"),
                     atomic_load(&ctx.answered));
    fixture_stop(&f);
}

/* A query for foo.com A with a TSIG RR (RFC 8945 §4.2) from key k1. (the
 * MAC is zeros: the answer is NOTAUTH, BADKEY or BADSIG, but the server
 * looks the key up in the keystore of the moment). */
static size_t build_signed_query(uint8_t *buf, uint16_t id)
{
    size_t n = build_query(buf, id, "foo.com");
    buf[11] = 1; /* ARCOUNT */
    static const uint8_t tsig[] = {
        2, 'k', '1', 0, 0, 250, 0, 255, 0, 0, 0, 0, /* k1. TSIG ANY TTL 0 */
        0, 61,                                       /* RDLENGTH */
        11, 'h', 'm', 'a', 'c', '-', 's', 'h', 'a', '2', '5', '6', 0,
        0, 0, 0, 0, 0, 1, 1, 44,                     /* time, fudge 300 */
        0, 32, [68] = 0,                             /* MAC: 32 zeros */
        0, 0, 0, 0, 0, 0,                            /* original id, error, other len */
    };
    memcpy(buf + n, tsig, sizeof tsig);
    buf[n + sizeof tsig - 6] = (uint8_t)(id >> 8);
    buf[n + sizeof tsig - 5] = (uint8_t)id;
    return n + sizeof tsig;
}

static void *udp_signed_load(void *arg)
{
    load_ctx_t *ctx = arg;
    int fd = connect_to(AF_INET, ctx->port, SOCK_DGRAM);
    uint8_t q[512], r[2048];
    for (uint16_t id = 0; !atomic_load(&ctx->done); id++) {
        size_t n = build_signed_query(q, id);
        send(fd, q, n, 0);
        ssize_t m = recv(fd, r, sizeof r, 0);
        if (m >= 12 && resp_id(r) == id && resp_rcode(r) == 9) /* NOTAUTH */
            atomic_fetch_add(&ctx->answered, 1);
        else
            atomic_fetch_add(&ctx->failed, 1);
    }
    close(fd);
    return NULL;
}

/* Version i of the keys and ACL: key k1 and a transfer rule for it when i
 * is even, nothing when odd. */
static void make_auth(int i, tsig_keystore_t **keys, acl_t **acl)
{
    static const char text[] = "key \"k1\" {\n\talgorithm hmac-sha256;\n"
                               "\tsecret \"MTIzNDU2Nzg5MDEyMzQ1Njc4OTAxMjM0NTY3ODkwMTI=\";\n};\n";
    const char *zones[] = { "*" };
    char err[TSIG_ERR_MAX > ACL_ERR_MAX ? TSIG_ERR_MAX : ACL_ERR_MAX];
    assert_non_null(*keys = tsig_keystore_new());
    assert_non_null(*acl = acl_new());
    if (i % 2 != 0)
        return;
    assert_int_equal(tsig_keystore_load_text(*keys, text, strlen(text), "k", err), 0);
    assert_int_equal(acl_add_rule(*acl, zones, 1, ACL_TRANSFER, "k1", NULL, *keys, err), 0);
}

/* SIGHUP's dns_server_set_auth while UDP workers check signed queries with
 * the keys (make tsan: the new keystore is seen whole, no data race). */
static void test_auth_swaps_while_serving(void **state)
{
    (void)state;
    enum { SWAPS = 20 };
    tsig_keystore_t *keys[SWAPS + 1];
    acl_t *acls[SWAPS + 1];
    fixture_t f;
    make_auth(0, &keys[SWAPS], &acls[SWAPS]);
    dns_server_opts_t opts = { .addr = "127.0.0.1:0", .workers = 2, .xfr = true,
                               .tsig_keys = keys[SWAPS], .acl = acls[SWAPS] };
    fixture_start_opts(&f, &opts);
    load_ctx_t plain = { .port = f.port }, sig = { .port = f.port };
    pthread_t th[2];
    assert_int_equal(pthread_create(&th[0], NULL, udp_load, &plain), 0);
    assert_int_equal(pthread_create(&th[1], NULL, udp_signed_load, &sig), 0);
    for (int i = 0; i < SWAPS; i++) {
        make_auth(i, &keys[i], &acls[i]); /* made while the workers run, as SIGHUP does */
        assert_int_equal(dns_server_set_auth(f.server, keys[i], acls[i]), 0);
        usleep(5000);
    }
    atomic_store(&plain.done, true);
    atomic_store(&sig.done, true);
    pthread_join(th[0], NULL);
    pthread_join(th[1], NULL);
    assert_true(atomic_load(&plain.answered) > 0 && atomic_load(&sig.answered) > 0);
    assert_int_equal(atomic_load(&plain.failed), 0);
    assert_int_equal(atomic_load(&sig.failed), 0);
    fixture_stop(&f);
    for (int i = 0; i <= SWAPS; i++) {
        acl_free(acls[i]);
        tsig_keystore_free(keys[i]);
    }
}

static void test_start_errors(void **state)
{
    (void)state;
    fixture_t f;
    fixture_start(&f, "127.0.0.1:0", 1, 0, 0);
    char addr[64], err[DNS_SERVER_ERR_MAX];
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)f.port);
    dns_server_opts_t opts = { .addr = addr, .workers = 1 };
    /* UDP joins the port (SO_REUSEPORT) but TCP is taken: refused. */
    assert_null(dns_server_start(&opts, f.db, err));
    assert_non_null(strstr(err, "Address already in use"));
    opts.addr = "no port";
    assert_null(dns_server_start(&opts, f.db, err));
    assert_non_null(strstr(err, "missing port"));
    fixture_stop(&f);
}

int main(void)
{
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_answers_every_query),
        cmocka_unit_test(test_wildcard_address_replies_from_queried_address),
        cmocka_unit_test(test_named_and_ipv6_addresses),
        cmocka_unit_test(test_tcp_pipelined_answers_in_order),
        cmocka_unit_test(test_tcp_frame_split_byte_by_byte_and_half_close),
        cmocka_unit_test(test_tcp_slow_reader_gets_every_answer_in_order),
        cmocka_unit_test(test_tcp_junk_frames_skipped),
        cmocka_unit_test(test_tcp_idle_timeout),
        cmocka_unit_test(test_tcp_full_closes_least_recently_served),
        cmocka_unit_test(test_tcp_tricklers_cannot_hold_the_slots),
        cmocka_unit_test(test_tcp_buffer_cap_across_connections),
        cmocka_unit_test(test_udp_rate_limit),
        cmocka_unit_test(test_not_answering_is_servfail),
        cmocka_unit_test(test_zone_swaps_while_serving),
        cmocka_unit_test(test_auth_swaps_while_serving),
        cmocka_unit_test(test_start_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
