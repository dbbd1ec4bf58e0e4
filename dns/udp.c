/* dns/udp.c — a UDP worker thread (see udp.h).
 *
 * The loop reads with recvmmsg(MSG_DONTWAIT): under load every call returns
 * a batch and no other system call is made; only when the socket is empty
 * does the worker sleep in poll() on the socket and the stop eventfd, which
 * is also how shutdown wakes it. Each batch is answered inside one RCU
 * read-side section (zonedb_read_lock), so a zone swap never waits on a
 * worker for longer than one batch, and a worker never waits on a writer.
 *
 * With response rate limiting on (dns/rrl.h, a table shared by every
 * worker), each response is counted before it is sent: one within the rate
 * goes as it is, a limited one is dropped or, every slip-th, sent
 * truncated. TCP is never limited.
 *
 * Ownership: the worker owns its socket and its buffers (one allocation,
 * freed by udp_worker_join); the RRL table is the server's. */
#include "dns/udp.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "dns/answer.h"
#include "dns/rrl.h"
#include "dns/update.h"
#include "dns/tsigquery.h"
#include "dns/xfr.h"

#define UDP_BATCH 32
/* Larger queries are not DNS queries we serve; they arrive truncated
 * (MSG_TRUNC) and are dropped. */
#define UDP_QUERY_MAX 4096
#define UDP_RESP_MAX DNS_EDNS_PAYLOAD
#define CONTROL_SPACE (CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo)))

/* Everything one batch needs, allocated once per worker. */
typedef struct udp_slot {
    uint8_t query[UDP_QUERY_MAX];
    uint8_t resp[UDP_RESP_MAX];
    struct sockaddr_storage peer;
    struct iovec qiov, riov;
    struct { _Alignas(struct cmsghdr) uint8_t buf[CONTROL_SPACE]; } rx_control, tx_control;
} udp_slot_t;

struct udp_worker {
    pthread_t thread;
    int fd, stop_fd;
    const atomic_bool *stop;
    zonedb_handle_t *db;
    rrl_t *rrl;           /* NULL: no rate limiting */
    updserve_t *upd;      /* NULL: UPDATE is NOTIMP (dns_answer) */
    const atomic_bool *answering; /* NULL, or false: SERVFAIL (dns_answer_unavailable) */
    const xfr_ctx_t *xfr; /* NULL: IXFR is NOTIMP (dns_answer) */
    unsigned rrl_limited; /* limited responses so far (for the slip) */
    dns_stats_slot_t *stats; /* this worker's counters (dns/stats.h), or NULL */
    bool echo_pktinfo;
    unsigned index;
    udp_slot_t slots[UDP_BATCH];
    struct mmsghdr rx[UDP_BATCH];
    struct mmsghdr tx[UDP_BATCH];
};

static void prepare_receive(udp_worker_t *w)
{
    for (int i = 0; i < UDP_BATCH; i++) {
        udp_slot_t *s = &w->slots[i];
        s->qiov = (struct iovec){ s->query, sizeof s->query };
        w->rx[i].msg_hdr = (struct msghdr){
            .msg_name = &s->peer, .msg_namelen = sizeof s->peer,
            .msg_iov = &s->qiov, .msg_iovlen = 1,
            .msg_control = w->echo_pktinfo ? s->rx_control.buf : NULL,
            .msg_controllen = w->echo_pktinfo ? sizeof s->rx_control.buf : 0,
        };
    }
}

/* Builds the control message that makes the reply leave from the address
 * the query was sent to. Returns its length (0: let the kernel choose). */
static size_t reply_source(const struct msghdr *rx, udp_slot_t *s)
{
    struct in_pktinfo *v4 = NULL;
    struct in6_pktinfo *v6 = NULL;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(rx); c != NULL; c = CMSG_NXTHDR((struct msghdr *)rx, c)) {
        if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
            v4 = (struct in_pktinfo *)CMSG_DATA(c);
        else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
            v6 = (struct in6_pktinfo *)CMSG_DATA(c);
    }
    struct msghdr tx = { .msg_control = s->tx_control.buf, .msg_controllen = sizeof s->tx_control.buf };
    struct cmsghdr *c = CMSG_FIRSTHDR(&tx);
    memset(s->tx_control.buf, 0, sizeof s->tx_control.buf);
    /* On a dual-stack socket an IPv4 query may carry both; IP_PKTINFO is
     * the one the IPv4 send path understands. */
    if (v4 != NULL) {
        struct in_pktinfo info = { .ipi_ifindex = 0, .ipi_spec_dst = v4->ipi_addr };
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof info);
        memcpy(CMSG_DATA(c), &info, sizeof info);
        return CMSG_SPACE(sizeof info);
    }
    if (v6 != NULL) {
        struct in6_pktinfo info = *v6; /* keep ifindex: link-local sources need it */
        c->cmsg_level = IPPROTO_IPV6;
        c->cmsg_type = IPV6_PKTINFO;
        c->cmsg_len = CMSG_LEN(sizeof info);
        memcpy(CMSG_DATA(c), &info, sizeof info);
        return CMSG_SPACE(sizeof info);
    }
    return 0;
}

/* With RRL on: the length to send of the response in s (0: drop it). */
static size_t rate_limit(udp_worker_t *w, udp_slot_t *s, size_t len, uint32_t now)
{
    switch (rrl_check(w->rrl, (const struct sockaddr *)&s->peer, s->resp, len, now,
                      &w->rrl_limited)) {
    case RRL_SEND:
        return len;
    case RRL_SLIP:
        dns_stats_slip(w->stats);
        return rrl_truncate(s->resp, len);
    case RRL_DROP:
    default:
        dns_stats_drop(w->stats, DNS_STATS_UDP, DNS_DROP_RRL);
        return 0;
    }
}

/* Answers received[0..n) into w->tx; returns how many replies to send. */
/* The answer to one query of a serving node: IXFR over UDP (RFC 1995 §2,
 * dns/xfr.h), a TSIG-signed query (dns/tsigquery.h), or the ordinary
 * answer, whose QTYPE goes to *qtype for the counters. */
static size_t answer_one(udp_worker_t *w, const zonedb_t *db, udp_slot_t *s, size_t qlen,
                         int *qtype)
{
    size_t len = 0;
    bool not_xfr = true, signed_query = false;
    if (w->xfr != NULL && (xfr_is_request(s->query, qlen) || dns_maybe_signed(s->query, qlen))) {
        /* the keys and ACL of now, read once (SIGHUP may swap them) */
        xfr_ctx_t xfr = xfr_ctx_current(w->xfr);
        len = xfr_udp_answer(&xfr, w->db, s->query, qlen, (const struct sockaddr *)&s->peer,
                             (uint64_t)time(NULL), s->resp, sizeof s->resp, &not_xfr);
        if (not_xfr && dns_maybe_signed(s->query, qlen))
            len = dns_signed_answer(xfr.keys, db, s->query, qlen, s->resp, sizeof s->resp,
                                    false, (uint64_t)time(NULL), &signed_query);
    }
    if (not_xfr && !signed_query)
        len = dns_answer_qtype(db, s->query, qlen, s->resp, sizeof s->resp, false, qtype);
    return len;
}

static int answer_batch(udp_worker_t *w, int n)
{
    int out = 0;
    uint32_t now = w->rrl != NULL ? rrl_now() : 0;
    /* One acquire load per batch: a node not ready (or past its stale
     * limit) answers SERVFAIL, never REFUSED (kv/readiness.h). */
    bool serving = w->answering == NULL || atomic_load_explicit(w->answering, memory_order_acquire);
    zonedb_read_lock();
    const zonedb_t *db = zonedb_current(w->db);
    for (int i = 0; i < n; i++) {
        struct msghdr *rx = &w->rx[i].msg_hdr;
        udp_slot_t *s = &w->slots[i];
        if (rx->msg_flags & MSG_TRUNC) {
            dns_stats_drop(w->stats, DNS_STATS_UDP, DNS_DROP_OVERSIZE);
            continue;
        }
        if (serving && w->upd != NULL && dns_is_update(s->query, w->rx[i].msg_len)) {
            dns_stats_update(w->stats, DNS_STATS_UDP);
            /* Answered later, from the submitter's `done` (dns/updserve.h). */
            size_t control = w->echo_pktinfo ? reply_source(rx, s) : 0;
            updserve_udp(w->upd, w->fd, s->query, w->rx[i].msg_len,
                         (const struct sockaddr *)&s->peer, rx->msg_namelen,
                         s->tx_control.buf, control);
            continue;
        }
        int qtype = -1;
        size_t len = serving ? answer_one(w, db, s, w->rx[i].msg_len, &qtype)
                             : dns_answer_unavailable(s->query, w->rx[i].msg_len, s->resp,
                                                      sizeof s->resp, false);
        if (len == 0) {
            dns_stats_drop(w->stats, DNS_STATS_UDP, DNS_DROP_MALFORMED);
            continue;
        }
        if (w->rrl != NULL && (len = rate_limit(w, s, len, now)) == 0)
            continue;
        dns_stats_response(w->stats, DNS_STATS_UDP, qtype, s->resp, len);
        s->riov = (struct iovec){ s->resp, len };
        size_t control = w->echo_pktinfo ? reply_source(rx, s) : 0;
        w->tx[out].msg_hdr = (struct msghdr){
            .msg_name = &s->peer, .msg_namelen = rx->msg_namelen,
            .msg_iov = &s->riov, .msg_iovlen = 1,
            .msg_control = control ? s->tx_control.buf : NULL, .msg_controllen = control,
        };
        out++;
    }
    zonedb_read_unlock();
    return out;
}

/* sendmmsg stops at the first datagram that fails; skip it and go on. */
static void send_batch(udp_worker_t *w, int count)
{
    int sent = 0;
    while (sent < count) {
        int n = sendmmsg(w->fd, w->tx + sent, (unsigned)(count - sent), MSG_DONTWAIT);
        if (n > 0) {
            sent += n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else {
            log_debug("dns", "udp worker %u: reply dropped: %s", w->index,
                      n < 0 ? strerror(errno) : "not sent");
            dns_stats_drop(w->stats, DNS_STATS_UDP, DNS_DROP_SEND);
            sent++;
        }
    }
}

/* Sleeps until a datagram or the stop signal arrives; false means stop. */
static bool wait_readable(udp_worker_t *w)
{
    struct pollfd pfd[2] = { { .fd = w->fd, .events = POLLIN }, { .fd = w->stop_fd, .events = POLLIN } };
    int rc = poll(pfd, 2, -1);
    if (rc < 0 && errno != EINTR) {
        log_error("dns", "udp worker %u: poll: %s", w->index, strerror(errno));
        return false;
    }
    return !(pfd[1].revents & POLLIN) && !atomic_load(w->stop);
}

static void *udp_worker_main(void *arg)
{
    udp_worker_t *w = arg;
    zonedb_reader_register();
    while (!atomic_load(w->stop)) {
        prepare_receive(w);
        int n = recvmmsg(w->fd, w->rx, UDP_BATCH, MSG_DONTWAIT, NULL);
        if (n > 0) {
            send_batch(w, answer_batch(w, n));
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_readable(w))
                break;
        } else if (n < 0 && errno != EINTR) {
            /* e.g. ECONNREFUSED left by an ICMP error: not fatal. */
            log_debug("dns", "udp worker %u: recvmmsg: %s", w->index, strerror(errno));
        }
    }
    zonedb_reader_unregister();
    return NULL;
}

static int enable_pktinfo(int fd)
{
    int one = 1;
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) != 0)
        return -1;
    if (ss.ss_family == AF_INET6 &&
        setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) != 0)
        return -1;
    return 0;
}

udp_worker_t *udp_worker_start(int fd, int stop_fd, const atomic_bool *stop,
                               zonedb_handle_t *db, rrl_t *rrl, updserve_t *upd,
                               const atomic_bool *answering, const xfr_ctx_t *xfr,
                               bool echo_pktinfo, unsigned index, dns_stats_slot_t *stats)
{
    udp_worker_t *w = calloc(1, sizeof *w);
    if (w == NULL) {
        close(fd);
        return NULL;
    }
    *w = (udp_worker_t){ .fd = fd, .stop_fd = stop_fd, .stop = stop, .db = db, .rrl = rrl,
                         .upd = upd, .answering = answering, .xfr = xfr, .echo_pktinfo = echo_pktinfo,
                         .index = index, .stats = stats };
    if (echo_pktinfo && enable_pktinfo(fd) != 0) {
        log_error("dns", "udp worker %u: cannot enable packet info: %s", index, strerror(errno));
        close(fd);
        free(w);
        return NULL;
    }
    int rc = pthread_create(&w->thread, NULL, udp_worker_main, w);
    if (rc != 0) {
        log_error("dns", "udp worker %u: cannot start thread: %s", index, strerror(rc));
        close(fd);
        free(w);
        return NULL;
    }
    return w;
}

void udp_worker_join(udp_worker_t *w)
{
    if (w == NULL)
        return;
    pthread_join(w->thread, NULL);
    close(w->fd);
    free(w);
}
