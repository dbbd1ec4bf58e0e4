/* tests/unit/test_kv_adminserver.c — the admin event loop (kv/adminserver.c)
 * with a stand-in exec over socketpairs: replies in order whether a call is
 * answered inside exec, later by another thread (as the Raft thread's
 * callback does) or by a worker (admin_call_spawn); one call at a time per
 * connection; the first bytes handed over by the transport; a client that
 * closes its side (also with an unterminated last line); the linger close;
 * an over-long line; many pipelined commands; the connection limit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <pthread.h>
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
 *   ping        -> PONG, inside exec
 *   async MS    -> ASYNC MS, from a thread of the test's own after MS ms
 *   slow MS     -> SLOW MS, from admin_call_spawn's worker after MS ms
 *   anything    -> ERROR unknown */

typedef struct fake {
    pthread_mutex_t mu;
    int in_flight, max_in_flight, execs;
} fake_t;

typedef struct later {
    fake_t *f;
    admin_call_t *call;
    unsigned ms;
    char word[8];
} later_t;

static void finish(fake_t *f, admin_call_t *call, const char *text)
{
    pthread_mutex_lock(&f->mu);
    f->in_flight--;
    pthread_mutex_unlock(&f->mu);
    admin_call_write(call, text, strlen(text));
    admin_call_end(call);
}

static void answer_later(void *arg, admin_call_t *call)
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

static void fake_exec(void *ctx, admin_client_t *client, const char *line, size_t len,
                      admin_call_t *call)
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
    if (strcmp(cmd, "ping") == 0) {
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

/* Reads until `want` bytes or EOF or 5 s; returns the bytes read
 * (NUL-terminated, malloc'd) and sets *eof. */
static char *read_reply(int fd, size_t want, bool *eof)
{
    char *buf = calloc(1, want + 1);
    size_t got = 0;
    *eof = false;
    struct timeval tv = { 5, 0 };
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
    assert_string_equal(got, "ERROR too many admin connections\n");
    assert_true(eof);
    free(got);
    close(extra);
    /* The ones taken are served. */
    send_text(fds[ADMIN_MAX_CONNS - 1], "ping\n", 5);
    expect_reply(fds[ADMIN_MAX_CONNS - 1], "PONG\n");
    for (int i = 0; i < ADMIN_MAX_CONNS; i++)
        close(fds[i]);
}

int main(void)
{
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replies_in_order_one_call_at_a_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_bytes_and_unterminated_last_line, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_connection_closes_after_the_linger_time, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_over_long_line_then_more_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_pipelined_commands, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connections_beyond_the_limit_are_refused, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
