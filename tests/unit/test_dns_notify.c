/* tests/unit/test_dns_notify.c — the notifier thread (dns/notify.c) end to
 * end on loopback, with a fake leadership callback and a receiver socket
 * in the test: nothing is sent while the node does not lead; a new leader
 * notifies with the zone's serial, the SOA in the answer section; the
 * answer ends the retransmissions; a zone published with a new serial is
 * notified; an answer from another port is ignored and counted; the
 * counters (sent, acked, ignored) can be read from another thread. Also
 * run under ThreadSanitizer. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/clock.h"
#include "dns/notify.h"
#include "dns/notify_msg.h"
#include "dns/wire.h"
#include "zone/db.h"
#include "zone/zone.h"

static _Atomic uint64_t epoch;
static uint64_t fake_epoch(void *arg)
{
    (void)arg;
    return atomic_load(&epoch);
}

static int receiver(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &len);
    *port = ntohs(a.sin_port);
    return fd;
}

static void publish(zonedb_handle_t *h, unsigned serial)
{
    char text[256];
    snprintf(text, sizeof text,
             "@ 3600 SOA ns1 host %u 3600 600 604800 60\n@ 3600 NS ns1\nns1 60 A 192.0.2.1\n",
             serial);
    char err[ZONE_ERR_MAX] = "";
    zone_t *z = zone_parse_text(text, strlen(text), "t", (const uint8_t *)"\7example\3com", err);
    assert_non_null(z);
    zonedb_index_t *zi = zonedb_index_build(z, err);
    zone_free(z);
    assert_non_null(zi);
    assert_int_equal(zonedb_handle_put_zone(h, zi), 0);
}

/* Waits up to ms for a NOTIFY; returns its length (0: none). */
static size_t recv_notify(int fd, uint8_t *buf, size_t cap, struct sockaddr_in *from, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    if (poll(&p, 1, ms) <= 0)
        return 0;
    socklen_t flen = sizeof *from;
    ssize_t n = recvfrom(fd, buf, cap, 0, (struct sockaddr *)from, &flen);
    return n > 0 ? (size_t)n : 0;
}

/* The serial of the SOA in the answer section (RFC 1996 §3.7). */
static uint32_t answer_serial(const uint8_t *m, size_t len)
{
    assert_true(len > 20);
    assert_int_equal(DNS_OPCODE((uint16_t)(m[2] << 8 | m[3])), DNS_OPCODE_NOTIFY);
    assert_int_equal(m[7], 1); /* ANCOUNT */
    const uint8_t *s = m + len - 20;
    return (uint32_t)s[0] << 24 | (uint32_t)s[1] << 16 | (uint32_t)s[2] << 8 | s[3];
}

static void answer(int fd, uint8_t *m, size_t len, const struct sockaddr_in *to)
{
    m[2] |= 0x80; /* QR */
    sendto(fd, m, len, 0, (const struct sockaddr *)to, sizeof *to);
}

static void test_notifier_end_to_end(void **state)
{
    (void)state;
    zonedb_handle_t *h = zonedb_handle_new();
    publish(h, 5);
    uint16_t port;
    int fd = receiver(&port);
    char target[32];
    snprintf(target, sizeof target, "127.0.0.1:%u", port);
    notify_conf_t conf = { 0 };
    char err[NOTIFY_ERR_MAX];
    const char *zones[] = { "example.com." };
    const char *targets[] = { target };
    assert_int_equal(notify_conf_add_rule(&conf, zones, 1, targets, 1, NULL, NULL, err), 0);
    atomic_store(&epoch, 0);
    notify_opts_t o = { .conf = &conf, .db = h, .leader_epoch = fake_epoch, .retry_ms = 300,
                        .retries = 2, .tick_ms = 5, .source_host = "127.0.0.1" };
    notify_t *n = notify_start(&o, err);
    assert_non_null(n);
    uint8_t buf[1024];
    struct sockaddr_in from;
    assert_int_equal(recv_notify(fd, buf, sizeof buf, &from, 200), 0); /* not leading */

    atomic_store(&epoch, 7);
    size_t len = recv_notify(fd, buf, sizeof buf, &from, 2000);
    assert_true(len > 0);
    assert_int_equal(answer_serial(buf, len), 5);
    assert_int_equal(from.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    /* An answer from another port: ignored, so it comes again. */
    uint16_t other_port;
    int other = receiver(&other_port);
    answer(other, buf, len, &from);
    len = recv_notify(fd, buf, sizeof buf, &from, 2000);
    assert_true(len > 0);
    assert_int_equal(answer_serial(buf, len), 5);
    answer(fd, buf, len, &from);
    /* Acknowledged: no third transmission (it would be due 600 ms after the second). */
    assert_int_equal(recv_notify(fd, buf, sizeof buf, &from, 1000), 0);

    publish(h, 6);
    len = recv_notify(fd, buf, sizeof buf, &from, 2000);
    assert_true(len > 0);
    assert_int_equal(answer_serial(buf, len), 6);
    answer(fd, buf, len, &from);
    uint64_t deadline = clock_now_ms() + 2000;
    notify_counters_t c;
    do {
        c = notify_counters(n);
        clock_sleep_ms(5);
    } while (c.acked < 2 && clock_now_ms() < deadline);
    assert_int_equal(c.acked, 2);
    assert_int_equal(c.sent, 3);
    assert_int_equal(c.retried, 1);
    assert_int_equal(c.ignored, 1);
    notify_stop(n);
    close(other);
    close(fd);
    notify_conf_free(&conf);
    zonedb_handle_free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_notifier_end_to_end),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
