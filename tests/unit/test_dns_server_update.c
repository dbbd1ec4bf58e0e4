/* tests/unit/test_dns_server_update.c — UPDATE through the DNS server's
 * sockets (dns/server.c, dns/udp.c, dns/tcp.c, dns/updserve.c) with a fake
 * submit_update that records each call and answers when the test says,
 * from another thread (as the Raft thread does):
 *  - UDP: nothing is sent before `done`; the reply then has the rcode, the
 *    ID and the zone echoed; the submitted bytes are the request's;
 *  - UDP retransmission: dropped while in flight, then the first rcode
 *    again, submitted once;
 *  - TCP: a query pipelined behind an UPDATE is answered at once; the
 *    UPDATE's reply comes on `done`, also after the client half-closed;
 *  - TCP: a connection closed before `done`: the late reply goes nowhere,
 *    and a new connection (same slot) never gets it;
 *  - REFUSED at once when the ACL says no (no submit); SERVFAIL when
 *    submit fails; NOTIMP without submit_update;
 *  - dns_server_stop waits for an UPDATE in flight and its reply leaves. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "dns/acl.h"
#include "dns/server.h"
#include "dns/update.h"
#include "dns/wire.h"
#include "zone/db.h"

#define MAX_CALLS 16

/* The fake submitter: every call is recorded; answer() runs `done`. */
typedef struct call {
    dns_update_done_fn done;
    void *ctx;
    size_t len;
    uint8_t msg[512];
} call_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static call_t calls[MAX_CALLS];
static int ncalls, answered;
static bool submit_fails;

static int fake_submit(void *arg, const uint8_t *msg, size_t len, const uint8_t *key,
                       uint64_t timeout_ms, dns_update_done_fn done, void *ctx)
{
    (void)arg;
    (void)key;
    assert_true(timeout_ms > 0);
    if (submit_fails)
        return -1;
    pthread_mutex_lock(&mu);
    assert_true(ncalls < MAX_CALLS && len <= sizeof calls[0].msg);
    calls[ncalls] = (call_t){ .done = done, .ctx = ctx, .len = len };
    memcpy(calls[ncalls].msg, msg, len);
    ncalls++;
    pthread_mutex_unlock(&mu);
    return 0;
}

static int call_count(void)
{
    pthread_mutex_lock(&mu);
    int n = ncalls;
    pthread_mutex_unlock(&mu);
    return n;
}

static void wait_calls(int n)
{
    for (int i = 0; i < 300 && call_count() < n; i++)
        usleep(10000);
    assert_int_equal(call_count(), n);
}

typedef struct answer_arg {
    int index;
    int rcode;
    unsigned delay_ms;
} answer_arg_t;

static void *answer_thread(void *p)
{
    answer_arg_t *a = p;
    usleep(a->delay_ms * 1000);
    pthread_mutex_lock(&mu);
    call_t c = calls[a->index];
    answered++;
    pthread_mutex_unlock(&mu);
    c.done(c.ctx, a->rcode);
    return NULL;
}

/* Runs done(index, rcode) on another thread after delay_ms; returns it. */
static pthread_t answer_later(int index, int rcode, unsigned delay_ms)
{
    static answer_arg_t args[MAX_CALLS];
    args[index] = (answer_arg_t){ index, rcode, delay_ms };
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, answer_thread, &args[index]), 0);
    return t;
}

static void answer_now(int index, int rcode)
{
    pthread_join(answer_later(index, rcode, 0), NULL);
}

typedef struct fixture {
    zonedb_handle_t *db;
    acl_t *acl;
    dns_server_t *server;
    uint16_t port;
} fixture_t;

static void start(fixture_t *f, bool with_submit)
{
    pthread_mutex_lock(&mu);
    ncalls = answered = 0;
    submit_fails = false;
    pthread_mutex_unlock(&mu);
    f->db = zonedb_handle_new();
    f->acl = acl_new();
    char aerr[ACL_ERR_MAX];
    const char *zones[] = { "foo.com." };
    assert_int_equal(acl_add_rule(f->acl, zones, 1, ACL_UPDATE, NULL, "127.0.0.0/8", NULL, aerr), 0);
    dns_server_opts_t opts = { .addr = "127.0.0.1:0", .workers = 2, .tcp_max_conns = 1,
                               .acl = f->acl, .submit_update = with_submit ? fake_submit : NULL,
                               .update_timeout_ms = 1000 };
    char err[DNS_SERVER_ERR_MAX];
    f->server = dns_server_start(&opts, f->db, err);
    if (f->server == NULL)
        fail_msg("start: %s", err);
    f->port = dns_server_port(f->server);
}

static void stop(fixture_t *f)
{
    dns_server_stop(f->server);
    acl_free(f->acl);
    zonedb_handle_free(f->db);
}

/* An UPDATE of zone (wire) adding one A record. */
static size_t build_update(uint8_t *m, uint16_t id, const char *zone)
{
    memset(m, 0, 12);
    m[0] = (uint8_t)(id >> 8);
    m[1] = (uint8_t)id;
    m[2] = DNS_OPCODE_UPDATE << 3;
    m[5] = 1;
    m[9] = 1;
    size_t n = 12, zl = strlen(zone) + 1;
    memcpy(m + n, zone, zl);
    n += zl;
    memcpy(m + n, "\0\6\0\1", 4);
    n += 4;
    memcpy(m + n, "\3www\3foo\3com\0\0\1\0\1\0\0\0\x3c\0\4\xc0\0\2\1", 27);
    return n + 27;
}

static int sock(int type, uint16_t port)
{
    int fd = socket(AF_INET, type, 0);
    assert_true(fd >= 0);
    struct timeval tv = { .tv_sec = 3 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
                               .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof sin), 0);
    return fd;
}

static bool readable_within(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    return poll(&p, 1, ms) > 0;
}

static void check_reply(const uint8_t *r, size_t n, uint16_t id, int rcode)
{
    assert_true(n >= 12 + 9 + 4);
    assert_int_equal(r[0] << 8 | r[1], id);
    assert_int_equal(r[2], 0x80 | (DNS_OPCODE_UPDATE << 3));
    assert_int_equal(r[3] & 0xf, rcode);
    assert_int_equal(r[5], 1);
    assert_memory_equal(r + 12, "\3foo\3com\0\0\6\0\1", 13);
}

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

static size_t read_frame(int fd, uint8_t *buf)
{
    uint8_t len[2];
    if (!read_exact(fd, len, 2))
        return 0;
    size_t n = (size_t)(len[0] << 8 | len[1]);
    return read_exact(fd, buf, n) ? n : 0;
}

static void send_frame(int fd, const uint8_t *m, size_t n)
{
    uint8_t f[600];
    f[0] = (uint8_t)(n >> 8);
    f[1] = (uint8_t)n;
    memcpy(f + 2, m, n);
    assert_int_equal(send(fd, f, n + 2, 0), (ssize_t)(n + 2));
}

static void test_udp_reply_after_done(void **state)
{
    (void)state;
    fixture_t f;
    start(&f, true);
    uint8_t m[512], r[512];
    size_t n = build_update(m, 0x1234, "\3foo\3com");
    int fd = sock(SOCK_DGRAM, f.port);
    assert_int_equal(send(fd, m, n, 0), (ssize_t)n);
    wait_calls(1);
    assert_int_equal(calls[0].len, n);
    assert_memory_equal(calls[0].msg, m, n);
    assert_false(readable_within(fd, 100)); /* nothing before done */
    answer_now(0, DNS_RCODE_YXRRSET);
    ssize_t got = recv(fd, r, sizeof r, 0);
    check_reply(r, (size_t)got, 0x1234, DNS_RCODE_YXRRSET);
    close(fd);
    stop(&f);
}

static void test_udp_retransmission(void **state)
{
    (void)state;
    fixture_t f;
    start(&f, true);
    uint8_t m[512], r[512];
    size_t n = build_update(m, 7, "\3foo\3com");
    int fd = sock(SOCK_DGRAM, f.port);
    assert_int_equal(send(fd, m, n, 0), (ssize_t)n);
    wait_calls(1);
    assert_int_equal(send(fd, m, n, 0), (ssize_t)n); /* while in flight: dropped */
    usleep(100000);
    assert_int_equal(call_count(), 1);
    assert_false(readable_within(fd, 50));
    answer_now(0, DNS_RCODE_NOERROR);
    check_reply(r, (size_t)recv(fd, r, sizeof r, 0), 7, DNS_RCODE_NOERROR);
    assert_int_equal(send(fd, m, n, 0), (ssize_t)n); /* answered: the first rcode */
    check_reply(r, (size_t)recv(fd, r, sizeof r, 0), 7, DNS_RCODE_NOERROR);
    assert_int_equal(call_count(), 1);
    m[n - 1] ^= 1; /* other content: a new request */
    assert_int_equal(send(fd, m, n, 0), (ssize_t)n);
    wait_calls(2);
    answer_now(1, DNS_RCODE_NXRRSET);
    check_reply(r, (size_t)recv(fd, r, sizeof r, 0), 7, DNS_RCODE_NXRRSET);
    close(fd);
    stop(&f);
}

static void test_tcp_pipelined_and_half_close(void **state)
{
    (void)state;
    fixture_t f;
    start(&f, true);
    uint8_t m[512], r[512];
    size_t n = build_update(m, 0x55, "\3foo\3com");
    int fd = sock(SOCK_STREAM, f.port);
    send_frame(fd, m, n);
    uint8_t q[64];
    memcpy(q, "\0\x66\0\0\0\1\0\0\0\0\0\0\3www\3foo\3com\0\0\1\0\1", 29);
    send_frame(fd, q, 29);
    size_t got = read_frame(fd, r); /* the query first: no wait for the update */
    assert_true(got >= 12);
    assert_int_equal(r[1], 0x66);
    wait_calls(1);
    shutdown(fd, SHUT_WR); /* the client is done sending, still reading */
    usleep(50000);
    answer_now(0, DNS_RCODE_NOERROR);
    got = read_frame(fd, r);
    check_reply(r, got, 0x55, DNS_RCODE_NOERROR);
    assert_int_equal(recv(fd, r, 1, 0), 0); /* then closed */
    close(fd);
    stop(&f);
}

static void test_tcp_connection_gone(void **state)
{
    (void)state;
    fixture_t f;
    start(&f, true); /* one TCP slot: the next connection takes the same one */
    uint8_t m[512], r[512];
    size_t n = build_update(m, 0x77, "\3foo\3com");
    int fd = sock(SOCK_STREAM, f.port);
    send_frame(fd, m, n);
    wait_calls(1);
    close(fd);
    usleep(50000);
    int fd2 = sock(SOCK_STREAM, f.port);
    usleep(50000);
    answer_now(0, DNS_RCODE_NOERROR); /* for the old connection: dropped */
    assert_false(readable_within(fd2, 150));
    n = build_update(m, 0x78, "\3foo\3com");
    send_frame(fd2, m, n);
    wait_calls(2);
    answer_now(1, DNS_RCODE_REFUSED);
    check_reply(r, read_frame(fd2, r), 0x78, DNS_RCODE_REFUSED);
    close(fd2);
    stop(&f);
}

static void test_immediate_answers(void **state)
{
    (void)state;
    fixture_t f;
    start(&f, true);
    uint8_t m[512], r[512];
    int fd = sock(SOCK_DGRAM, f.port);
    size_t n = build_update(m, 1, "\3bar\3com"); /* no rule for bar.com */
    assert_int_equal(send(fd, m, n, 0), (ssize_t)n);
    ssize_t got = recv(fd, r, sizeof r, 0);
    assert_true(got > 12);
    assert_int_equal(r[3] & 0xf, DNS_RCODE_REFUSED);
    assert_int_equal(call_count(), 0);
    submit_fails = true;
    n = build_update(m, 2, "\3foo\3com");
    assert_int_equal(send(fd, m, n, 0), (ssize_t)n);
    check_reply(r, (size_t)recv(fd, r, sizeof r, 0), 2, DNS_RCODE_SERVFAIL);
    close(fd);
    stop(&f);
    start(&f, false); /* no submit_update: UPDATE is not served */
    fd = sock(SOCK_DGRAM, f.port);
    assert_int_equal(send(fd, m, n, 0), (ssize_t)n);
    got = recv(fd, r, sizeof r, 0);
    assert_true(got >= 12);
    assert_int_equal(r[3] & 0xf, DNS_RCODE_NOTIMP);
    close(fd);
    stop(&f);
}

static void test_stop_waits_for_updates_in_flight(void **state)
{
    (void)state;
    fixture_t f;
    start(&f, true);
    uint8_t m[512], r[512];
    size_t n = build_update(m, 9, "\3foo\3com");
    int fd = sock(SOCK_DGRAM, f.port);
    assert_int_equal(send(fd, m, n, 0), (ssize_t)n);
    wait_calls(1);
    pthread_t t = answer_later(0, DNS_RCODE_SERVFAIL, 300);
    stop(&f); /* returns only after done ran: the reply left first */
    check_reply(r, (size_t)recv(fd, r, sizeof r, 0), 9, DNS_RCODE_SERVFAIL);
    pthread_join(t, NULL);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_reply_after_done),
        cmocka_unit_test(test_udp_retransmission),
        cmocka_unit_test(test_tcp_pipelined_and_half_close),
        cmocka_unit_test(test_tcp_connection_gone),
        cmocka_unit_test(test_immediate_answers),
        cmocka_unit_test(test_stop_waits_for_updates_in_flight),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
