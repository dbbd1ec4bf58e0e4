/* tests/unit/test_metrics_httpd.c — the HTTP endpoint (metrics/httpd.c)
 * over a real socket: GET /metrics with every source and the process_*
 * families, /health, /ready 200 and 503 with a one-line reason (a reason
 * with a newline is cut), stale_seconds, 404 for other paths, 405 with
 * Allow for other methods, HEAD without a body, and request headers
 * beyond the per-connection memory refused rather than served. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/promtext.h"
#include "metrics/httpd.h"

static int ready_answer = 1;

static int fake_ready(void *arg, char *reason, size_t cap)
{
    (void)arg;
    if (!ready_answer)
        snprintf(reason, cap, "zone file a.zone: replicating\nsecond line");
    return ready_answer;
}

static double fake_stale(void *arg)
{
    (void)arg;
    return 2.5;
}

static int fake_source(void *arg, bytebuf_t *b)
{
    promtext_family(b, "test_things_total", "Things.", PROM_COUNTER);
    promtext_sample_u64(b, "test_things_total", NULL, *(uint64_t *)arg);
    return 0;
}

/* Sends raw request bytes, returns the whole response (malloc'd). */
static char *exchange(uint16_t port, const char *request, size_t len)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = { .tv_sec = 5 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    size_t sent = 0;
    while (sent < len) {
        ssize_t n = send(fd, request + sent, len - sent, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may close early on a request it refuses */
        sent += (size_t)n;
    }
    size_t cap = 1 << 16, got = 0;
    char *out = malloc(cap + 1);
    ssize_t n;
    while (got < cap && (n = recv(fd, out + got, cap - got, 0)) > 0)
        got += (size_t)n;
    out[got] = '\0';
    close(fd);
    return out;
}

static char *get(uint16_t port, const char *method, const char *path)
{
    char req[256];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                     method, path);
    return exchange(port, req, (size_t)n);
}

static int status_of(const char *resp)
{
    int code = 0;
    sscanf(resp, "HTTP/1.%*d %d", &code);
    return code;
}

static const char *body_of(const char *resp)
{
    const char *b = strstr(resp, "\r\n\r\n");
    return b ? b + 4 : "";
}

typedef struct fixture {
    metrics_server_t *m;
    uint16_t port;
    uint64_t things;
} fixture_t;

static void start(fixture_t *f)
{
    f->things = 7;
    metrics_opts_t o = { .addr = "127.0.0.1:0", .n_sources = 1,
                         .ready = fake_ready, .stale_seconds = fake_stale };
    o.sources[0].write = fake_source;
    o.sources[0].arg = &f->things;
    char err[METRICS_ERR_MAX];
    f->m = metrics_start(&o, err);
    if (f->m == NULL)
        fail_msg("metrics_start: %s", err);
    f->port = metrics_port(f->m);
    assert_true(f->port != 0);
}

static void test_metrics_health_ready(void **state)
{
    (void)state;
    fixture_t f;
    start(&f);
    char *r = get(f.port, "GET", "/metrics");
    assert_int_equal(status_of(r), 200);
    assert_non_null(strstr(r, "Content-Type: text/plain; version=0.0.4"));
    assert_non_null(strstr(body_of(r), "\ntest_things_total 7\n"));
    assert_non_null(strstr(body_of(r), "\ndnsraft_ready 1\n"));
    assert_non_null(strstr(body_of(r), "\ndnsraft_stale_seconds 2.5\n"));
    assert_non_null(strstr(body_of(r), "\nprocess_open_fds "));
    free(r);
    r = get(f.port, "GET", "/health");
    assert_int_equal(status_of(r), 200);
    assert_string_equal(body_of(r), "ok\n");
    free(r);
    r = get(f.port, "GET", "/ready");
    assert_int_equal(status_of(r), 200);
    assert_string_equal(body_of(r), "ready stale_seconds=2.500\n");
    free(r);
    ready_answer = 0;
    r = get(f.port, "GET", "/ready");
    assert_int_equal(status_of(r), 503);
    assert_string_equal(body_of(r), "not ready: zone file a.zone: replicating stale_seconds=2.500\n");
    free(r);
    r = get(f.port, "GET", "/metrics");
    assert_non_null(strstr(body_of(r), "\ndnsraft_ready 0\n"));
    free(r);
    ready_answer = 1;
    metrics_stop(f.m);
}

static void test_other_paths_and_methods(void **state)
{
    (void)state;
    fixture_t f;
    start(&f);
    static const char *const paths[] = { "/", "/metric", "/metrics/x", "/HEALTH", "/readyz" };
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        char *r = get(f.port, "GET", paths[i]);
        assert_int_equal(status_of(r), 404);
        free(r);
    }
    static const char *const methods[] = { "POST", "PUT", "DELETE", "OPTIONS", "TRACE" };
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        char *r = get(f.port, methods[i], "/metrics");
        assert_int_equal(status_of(r), 405);
        assert_non_null(strstr(r, "Allow: GET, HEAD"));
        free(r);
    }
    char *r = get(f.port, "HEAD", "/metrics");
    assert_int_equal(status_of(r), 200);
    assert_string_equal(body_of(r), "");
    free(r);
    metrics_stop(f.m);
}

/* Headers beyond the connection's memory pool are refused, never served. */
static void test_huge_headers_refused(void **state)
{
    (void)state;
    fixture_t f;
    start(&f);
    size_t big = 4 * METRICS_CONN_MEMORY;
    char *req = malloc(big + 256);
    int n = snprintf(req, 256, "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ");
    memset(req + n, 'a', big);
    memcpy(req + n + big, "\r\n\r\n", 4);
    char *r = exchange(f.port, req, (size_t)n + big + 4);
    int code = status_of(r);
    assert_true(code == 0 || code == 413 || code == 431); /* closed or refused */
    free(r);
    free(req);
    r = get(f.port, "GET", "/health"); /* still serving */
    assert_int_equal(status_of(r), 200);
    free(r);
    metrics_stop(f.m);
}

static void test_bad_address(void **state)
{
    (void)state;
    metrics_opts_t o = { .addr = "127.0.0.1:notaport" };
    char err[METRICS_ERR_MAX];
    assert_null(metrics_start(&o, err));
    assert_true(strlen(err) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_health_ready),
        cmocka_unit_test(test_other_paths_and_methods),
        cmocka_unit_test(test_huge_headers_refused),
        cmocka_unit_test(test_bad_address),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
