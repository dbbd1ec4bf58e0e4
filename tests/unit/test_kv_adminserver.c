/* tests/unit/test_kv_adminserver.c — the admin event loop (kv/adminserver.c)
 * with a stand-in exec over socketpairs: replies in order whether a call is
 * answered inside exec, later by another thread (as the Raft thread's
 * callback does) or by a worker (admin_call_spawn); one call at a time per
 * connection; the first bytes handed over by the transport; a client that
 * closes its side (also with an unterminated last line); the linger close;
 * an over-long line; many pipelined commands; the connection limit.
 * Issue #12: `auth TOKEN` first when the server has a token (only ping
 * before it; anything else, or a wrong token, is "ERROR unauthorized" and
 * a close, with nothing after it answered); a line trickled a byte at a
 * time is closed at ADMIN_LINE_MS while a call in flight is not; a client
 * that never reads its replies stops being read (bounded memory); the
 * own listener (-admin.addr) serves and refuses beyond the limit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "kv/adminserver.h"
#include "common/clock.h"

/* ---- the stand-in exec ------------------------------------------------------------------
 *   ping        -> PONG, inside exec (also "kv ping", which a server with
 *                  a token lets through before auth)
 *   async MS    -> ASYNC MS, from a thread of the test's own after MS ms
 *   slow MS     -> SLOW MS, from admin_call_spawn's worker after MS ms
 *   anything    -> ERROR unknown */

typedef struct fake {
    pthread_mutex_t mu;
    int in_flight, max_in_flight, execs;
} fake_t;

typedef struct later {
    fake_t *f;
    admin_server_call_t *call;
    unsigned ms;
    char word[8];
} later_t;

static void finish(fake_t *f, admin_server_call_t *call, const char *text)
{
    pthread_mutex_lock(&f->mu);
    f->in_flight--;
    pthread_mutex_unlock(&f->mu);
    admin_call_write(call, text, strlen(text));
    admin_call_end(call);
}

static void answer_later(void *arg, admin_server_call_t *call)
{
    later_t *l = arg;
    clock_sleep_ms(l->ms);
    char text[32];
    snprintf(text, sizeof text, "%s %u\n", l->word, l->ms);
    finish(l->f, call, text);
    free(l);
}

static void *own_thread(void *arg)
{
    later_t *l = arg;
    answer_later(l, l->call);
    return NULL;
}

static void fake_exec(void *ctx, admin_server_client_t *client, const char *line, size_t len,
                      admin_server_call_t *call)
{
    fake_t *f = ctx;
    (void)client;
    pthread_mutex_lock(&f->mu);
    f->execs++;
    if (++f->in_flight > f->max_in_flight)
        f->max_in_flight = f->in_flight;
    pthread_mutex_unlock(&f->mu);
    char cmd[64] = "";
    memcpy(cmd, line, len < sizeof cmd - 1 ? len : sizeof cmd - 1);
    unsigned ms = 0;
    if (strcmp(cmd, "ping") == 0 || strcmp(cmd, "kv ping") == 0) {
        finish(f, call, "PONG\n");
    } else if (sscanf(cmd, "async %u", &ms) == 1 || sscanf(cmd, "slow %u", &ms) == 1) {
        later_t *l = calloc(1, sizeof *l);
        *l = (later_t){ f, call, ms, "" };
        snprintf(l->word, sizeof l->word, "%s", cmd[0] == 'a' ? "ASYNC" : "SLOW");
        if (cmd[0] == 'a') {
            pthread_t th;
            assert_int_equal(pthread_create(&th, NULL, own_thread, l), 0);
            pthread_detach(th);
        } else {
            assert_int_equal(admin_call_spawn(call, answer_later, l), 0);
        }
    } else {
        finish(f, call, "ERROR unknown\n");
    }
}

/* ---- helpers ------------------------------------------------------------------------------- */

typedef struct fixture {
    fake_t f;
    admin_server_t *s;
} fixture_t;

static int setup(void **state)
{
    fixture_t *x = calloc(1, sizeof *x);
    pthread_mutex_init(&x->f.mu, NULL);
    x->s = admin_server_new(fake_exec, &x->f);
    assert_non_null(x->s);
    admin_server_open(x->s);
    *state = x;
    return 0;
}

#define TOKEN "unit-test-token-0123456789"

static int setup_with_token(void **state)
{
    fixture_t *x = calloc(1, sizeof *x);
    pthread_mutex_init(&x->f.mu, NULL);
    x->s = admin_server_new(fake_exec, &x->f);
    assert_non_null(x->s);
    char err[ADMIN_AUTH_ERR_MAX];
    adminauth_token_t *t = admin_token_from_text(TOKEN, strlen(TOKEN), err);
    assert_non_null(t);
    admin_server_set_token(x->s, t);
    admin_server_open(x->s);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *x = *state;
    clock_sleep_ms(50); /* let any late "async" answer land before the server goes */
    admin_server_free(x->s);
    pthread_mutex_destroy(&x->f.mu);
    free(x);
    return 0;
}

/* A client socket whose other end the server took (with `first` already
 * read, as the transport hands it over). */
static int connect_client(admin_server_t *s, const char *first)
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    fcntl(sv[1], F_SETFL, fcntl(sv[1], F_GETFL) | O_NONBLOCK);
    admin_server_take(s, sv[1], (const uint8_t *)first, strlen(first));
    return sv[0];
}

static void send_text(int fd, const char *text, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, text, len);
        assert_true(n > 0);
        text += n;
        len -= (size_t)n;
    }
}

/* Reads until `want` bytes or EOF or 10 s; returns the bytes read
 * (NUL-terminated, malloc'd) and sets *eof. */
static char *read_reply(int fd, size_t want, bool *eof)
{
    char *buf = calloc(1, want + 1);
    size_t got = 0;
    *eof = false;
    struct timeval tv = { 10, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    while (got < want) {
        ssize_t n = read(fd, buf + got, want - got);
        if (n == 0)
            *eof = true;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    return buf;
}

static void expect_reply(int fd, const char *want)
{
    bool eof;
    char *got = read_reply(fd, strlen(want), &eof);
    assert_string_equal(got, want);
    free(got);
}

/* True if the server closes the connection (EOF) within ms. */
static bool closes_within(int fd, unsigned ms)
{
    struct timeval tv = { ms / 1000, (long)(ms % 1000) * 1000 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char c;
    return read(fd, &c, 1) == 0;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void test_replies_in_order_one_call_at_a_time(void **state)
{
    fixture_t *x = *state;
    int fd = connect_client(x->s, "");
    const char *req = "async 30\nping\nslow 20\nasync 1\nbogus\nping\n";
    send_text(fd, req, strlen(req));
    expect_reply(fd, "ASYNC 30\nPONG\nSLOW 20\nASYNC 1\nERROR unknown\nPONG\n");
    pthread_mutex_lock(&x->f.mu);
    assert_int_equal(x->f.max_in_flight, 1);
    assert_int_equal(x->f.execs, 6);
    pthread_mutex_unlock(&x->f.mu);
    close(fd);
}

static void test_first_bytes_and_unterminated_last_line(void **state)
{
    fixture_t *x = *state;
    /* The transport read "ping\nasy" before handing the socket over. */
    int fd = connect_client(x->s, "ping\nasy");
    send_text(fd, "nc 5\nping", 9); /* no LF after the last command */
    shutdown(fd, SHUT_WR);
    bool eof;
    char *got = read_reply(fd, 64, &eof);
    assert_string_equal(got, "PONG\nASYNC 5\nPONG\n");
    assert_true(eof);
    free(got);
    close(fd);
}

static void test_idle_connection_closes_after_the_linger_time(void **state)
{
    fixture_t *x = *state;
    int fd = connect_client(x->s, "");
    send_text(fd, "ping\n", 5);
    expect_reply(fd, "PONG\n");
    uint64_t t0 = clock_now_ms();
    assert_true(closes_within(fd, 3000));
    uint64_t took = clock_now_ms() - t0;
    if (took < ADMIN_LINGER_MS - 50 || took > ADMIN_LINGER_MS + 700)
        fail_msg("closed %llu ms after the reply (linger %d ms)", (unsigned long long)took,
                 ADMIN_LINGER_MS);
    close(fd);

    /* No timer while a call is out: a reply later than the linger time
     * still arrives. */
    fd = connect_client(x->s, "");
    send_text(fd, "async 500\n", 10);
    expect_reply(fd, "ASYNC 500\n");
    close(fd);
}

static void test_over_long_line_then_more_commands(void **state)
{
    fixture_t *x = *state;
    int fd = connect_client(x->s, "");
    size_t n = 70 * 1024;
    char *big = malloc(n + 16);
    memset(big, 'x', n);
    memcpy(big + n, "\nping\n", 6);
    send_text(fd, big, n + 6);
    free(big);
    expect_reply(fd, "ERROR line too long\nPONG\n");
    close(fd);
}

static void test_many_pipelined_commands(void **state)
{
    fixture_t *x = *state;
    enum { COUNT = 6000 }; /* 30 KB: more than one read, more than the stash */
    int fd = connect_client(x->s, "ping\n");
    char *req = malloc(COUNT * 5);
    for (int i = 0; i < COUNT - 1; i++)
        memcpy(req + 5 * i, i % 100 == 7 ? "pong\n" : "ping\n", 5);
    send_text(fd, req, 5 * (COUNT - 1));
    free(req);
    size_t want = 0;
    char *expect = malloc(COUNT * 16);
    for (int i = 0; i < COUNT; i++) {
        const char *r = i > 0 && (i - 1) % 100 == 7 ? "ERROR unknown\n" : "PONG\n";
        memcpy(expect + want, r, strlen(r));
        want += strlen(r);
    }
    expect[want] = '\0';
    bool eof;
    char *got = read_reply(fd, want, &eof);
    assert_string_equal(got, expect);
    free(got);
    free(expect);
    close(fd);
}

static void test_connections_beyond_the_limit_are_refused(void **state)
{
    fixture_t *x = *state;
    int fds[ADMIN_MAX_CONNS];
    for (int i = 0; i < ADMIN_MAX_CONNS; i++)
        fds[i] = connect_client(x->s, "");
    int extra = connect_client(x->s, "ping\n");
    bool eof;
    char *got = read_reply(extra, 64, &eof);
    assert_string_equal(got, "ERROR too many connections\n");
    assert_true(eof);
    free(got);
    close(extra);
    /* The ones taken are served. */
    send_text(fds[ADMIN_MAX_CONNS - 1], "ping\n", 5);
    expect_reply(fds[ADMIN_MAX_CONNS - 1], "PONG\n");
    for (int i = 0; i < ADMIN_MAX_CONNS; i++)
        close(fds[i]);
}

/* Everything the server sends until it closes (or 10 s pass). */
static char *read_to_eof(int fd, bool *eof)
{
    return read_reply(fd, 4096, eof);
}

static void test_token_required_before_other_commands(void **state)
{
    fixture_t *x = *state;
    /* ping before auth; then a command: denied and closed, and the ping
     * pipelined after it is not answered. */
    int fd = connect_client(x->s, "");
    send_text(fd, "kv ping\nbogus\nping\n", 19);
    bool eof;
    char *got = read_to_eof(fd, &eof);
    assert_string_equal(got, "PONG\nERROR unauthorized\n");
    assert_true(eof);
    free(got);
    close(fd);

    /* A wrong token, a token with extra words, a bare auth. */
    static const char *const wrong[] = {
        "auth nope\nping\n", "auth " TOKEN "x\nping\n", "auth " TOKEN " " TOKEN "\n",
        "auth\n", "auth " "unit-test-token-012345678\n", /* a prefix */
    };
    for (size_t i = 0; i < sizeof wrong / sizeof wrong[0]; i++) {
        fd = connect_client(x->s, wrong[i]);
        got = read_to_eof(fd, &eof);
        if (strcmp(got, "ERROR unauthorized\n") != 0 || !eof)
            fail_msg("case %zu: got \"%s\" eof %d", i, got, eof);
        free(got);
        close(fd);
    }
    pthread_mutex_lock(&x->f.mu);
    assert_int_equal(x->f.execs, 1); /* only the first ping reached exec */
    pthread_mutex_unlock(&x->f.mu);

    /* The right token, then commands as usual (CRLF tolerated). */
    fd = connect_client(x->s, "auth " TOKEN "\r\n");
    const char *more = "bogus\nping\nauth " TOKEN "\nasync 5\n";
    send_text(fd, more, strlen(more));
    expect_reply(fd, "SUCCESS\nERROR unknown\nPONG\nSUCCESS\nASYNC 5\n");
    close(fd);

    /* An over-long line before auth is denied too. */
    fd = connect_client(x->s, "");
    size_t n = 70 * 1024;
    char *big = malloc(n + 1);
    memset(big, 'x', n);
    big[n] = '\n';
    send_text(fd, big, n + 1);
    free(big);
    got = read_to_eof(fd, &eof);
    assert_string_equal(got, "ERROR unauthorized\n");
    assert_true(eof);
    free(got);
    close(fd);
}

static void test_no_token_no_auth_command(void **state)
{
    fixture_t *x = *state;
    int fd = connect_client(x->s, "auth whatever\nping\n");
    expect_reply(fd, "ERROR unknown\nPONG\n"); /* exec saw it: the seed's answer */
    close(fd);
}

static void test_trickled_line_is_closed(void **state)
{
    fixture_t *x = *state;
    int fd = connect_client(x->s, "");
    uint64_t t0 = clock_now_ms();
    const char *slow = "pingpingpingpingpingping";
    bool closed = false;
    for (size_t i = 0; i < strlen(slow) && !closed; i++) {
        if (write(fd, slow + i, 1) != 1)
            break;
        closed = closes_within(fd, 400); /* a byte every 400 ms, never an LF */
    }
    uint64_t took = clock_now_ms() - t0;
    assert_true(closed);
    if (took < ADMIN_LINE_MS - 100 || took > ADMIN_LINE_MS + 1000)
        fail_msg("closed after %llu ms, want about %d", (unsigned long long)took, ADMIN_LINE_MS);
    close(fd);
}

static void test_call_in_flight_outlives_the_line_deadline(void **state)
{
    fixture_t *x = *state;
    /* A command that takes longer than every deadline, with half a line
     * behind it: the reply arrives, then the half line gets its own time. */
    int fd = connect_client(x->s, "async 5600\npi");
    expect_reply(fd, "ASYNC 5600\n");
    send_text(fd, "ng\n", 3);
    expect_reply(fd, "PONG\n");
    close(fd);
}

static void test_client_that_never_reads_is_not_read(void **state)
{
    fixture_t *x = *state;
    int fd = connect_client(x->s, "");
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    enum { TOTAL = 5 * 800000 }; /* 4 MB of pings, whole lines */
    char *req = malloc(TOTAL);
    for (size_t i = 0; i < TOTAL; i += 5)
        memcpy(req + i, "ping\n", 5);
    size_t sent = 0;
    uint64_t until = clock_now_ms() + 2000;
    while (sent < TOTAL && clock_now_ms() < until) {
        ssize_t n = write(fd, req + sent, TOTAL - sent);
        if (n > 0)
            sent += (size_t)n;
        else if (errno == EAGAIN)
            clock_sleep_ms(20);
        else
            fail_msg("write after %zu bytes: %s", sent, strerror(errno));
    }
    free(req);
    clock_sleep_ms(200);
    pthread_mutex_lock(&x->f.mu);
    int execs = x->f.execs;
    pthread_mutex_unlock(&x->f.mu);
    /* The server stopped: it answered what fits in the socket and its
     * high mark, not the megabytes sent. */
    if (sent == TOTAL || execs * 5 > (int)sent || execs > 200000)
        fail_msg("sent %zu bytes, %d commands executed", sent, execs);
    close(fd);
}

static int listen_port;

static int dial_listener(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)listen_port) };
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static int setup_listener(void **state)
{
    fixture_t *x = calloc(1, sizeof *x);
    pthread_mutex_init(&x->f.mu, NULL);
    x->s = admin_server_new(fake_exec, &x->f);
    assert_non_null(x->s);
    char err[256];
    listen_port = admin_server_listen(x->s, "127.0.0.1:0", err, sizeof err);
    if (listen_port <= 0)
        fail_msg("listen: %s", err);
    admin_server_open(x->s);
    *state = x;
    return 0;
}

static void test_own_listener_serves_and_limits(void **state)
{
    (void)state;
    int fd = dial_listener();
    send_text(fd, "ping\nasync 1\n", 13);
    expect_reply(fd, "PONG\nASYNC 1\n");
    close(fd);
    clock_sleep_ms(ADMIN_LINGER_MS + 200); /* that one is closed by now */
    int fds[ADMIN_MAX_CONNS];
    for (int i = 0; i < ADMIN_MAX_CONNS; i++)
        fds[i] = dial_listener();
    clock_sleep_ms(200);
    int extra = dial_listener();
    send_text(extra, "ping\n", 5);
    bool eof;
    char *got = read_to_eof(extra, &eof);
    assert_string_equal(got, "ERROR too many connections\n");
    assert_true(eof);
    free(got);
    close(extra);
    send_text(fds[0], "ping\n", 5);
    expect_reply(fds[0], "PONG\n");
    for (int i = 0; i < ADMIN_MAX_CONNS; i++)
        close(fds[i]);
    /* Freed slots serve again. */
    clock_sleep_ms(100);
    fd = dial_listener();
    send_text(fd, "ping\n", 5);
    expect_reply(fd, "PONG\n");
    close(fd);
}

int main(void)
{
    log_set_level(LOG_WARN);
    signal(SIGPIPE, SIG_IGN); /* a closed socket is an error to report, not a death */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replies_in_order_one_call_at_a_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_bytes_and_unterminated_last_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_connection_closes_after_the_linger_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_over_long_line_then_more_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_pipelined_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connections_beyond_the_limit_are_refused, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_token_required_before_other_commands,
                                        setup_with_token, teardown),
        cmocka_unit_test_setup_teardown(test_no_token_no_auth_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trickled_line_is_closed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_call_in_flight_outlives_the_line_deadline, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_client_that_never_reads_is_not_read, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_own_listener_serves_and_limits, setup_listener,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
