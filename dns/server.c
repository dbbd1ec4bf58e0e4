/* dns/server.c — binds the DNS sockets and runs the UDP workers and the TCP
 * thread (see server.h); dns/udp.c and dns/tcp.c hold the loops.
 *
 * Port 0 ("any free port", for tests): the first UDP socket lets the kernel
 * choose, the other UDP sockets and the TCP socket join that port. The TCP
 * port may already be taken by someone else; then the whole set is bound
 * again on a new port, a few times.
 *
 * Shutdown: one eventfd, written once, wakes every thread (they poll it but
 * never read it, so it stays readable for all of them); an atomic flag stops
 * UDP workers that are busy and never reach poll().
 *
 * SIGHUP (dns_server_set_auth): the keys and ACL of transfers and signed
 * queries are an xfr_auth_t published with a release store; the threads
 * load it with acquire once per request (dns/xfr.h xfr_ctx_current).
 * Versions are only added, never freed before dns_server_stop (the
 * keystores and ACLs they point to live until exit, main.c), so a thread
 * may keep using the one it loaded: no RCU grace period is needed. */
#include "dns/server.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"
#include "dns/tcp.h"
#include "dns/stats.h"
#include "dns/udp.h"
#include "dns/updserve.h"
#include "dns/xfr.h"

#define BIND_ATTEMPTS 8
#define MAX_WORKERS 1024
#define UPDATE_DRAIN_MS 10000

struct dns_server {
    int stop_fd;
    atomic_bool stop;
    uint16_t port;
    unsigned worker_count;
    udp_worker_t **workers;
    tcp_server_t *tcp;
    rrl_t *rrl; /* NULL when off; shared by the UDP workers */
    updserve_t *upd; /* NULL: UPDATE is NOTIMP */
    const atomic_bool *answering; /* opts.answering */
    dns_stats_t *stats; /* a slot per UDP worker, then the TCP thread's */
    unsigned stats_slots;
    bool counting;      /* opts->count: the threads get their slots */
    bool xfr_on;
    xfr_ctx_t xfr;   /* zone transfers (dns/xfr.h) when xfr_on; xfr.live is: */
    _Atomic(xfr_auth_t *) xfr_auth; /* newest first, all kept until stop */
};

/* Sockets bound but not yet handed to threads. */
typedef struct bound_set {
    int *udp;
    unsigned udp_count;
    int tcp;
    uint16_t port;
} bound_set_t;

static void close_bound(bound_set_t *b)
{
    for (unsigned i = 0; i < b->udp_count; i++)
        close(b->udp[i]);
    b->udp_count = 0;
    if (b->tcp >= 0)
        close(b->tcp);
    b->tcp = -1;
}

static int bind_once(const addr_spec_t *spec, unsigned workers, bound_set_t *b,
                     char err[DNS_SERVER_ERR_MAX])
{
    b->tcp = -1;
    b->udp_count = 0;
    b->port = spec->port;
    for (unsigned i = 0; i < workers; i++) {
        int fd = addr_bind_socket(spec, SOCK_DGRAM, true, b->port, err);
        if (fd < 0)
            goto fail;
        b->udp[b->udp_count++] = fd;
        if (b->port == 0)
            b->port = addr_local_port(fd);
    }
    b->tcp = addr_bind_socket(spec, SOCK_STREAM, false, b->port, err);
    if (b->tcp < 0)
        goto fail;
    if (listen(b->tcp, SOMAXCONN) != 0) {
        snprintf(err, DNS_SERVER_ERR_MAX, "listen: %s", strerror(errno));
        goto fail;
    }
    return 0;
fail:
    close_bound(b);
    return -1;
}

static int bind_all(const addr_spec_t *spec, unsigned workers, bound_set_t *b,
                    char err[DNS_SERVER_ERR_MAX])
{
    int attempts = spec->port == 0 ? BIND_ATTEMPTS : 1;
    for (int i = 0; i < attempts; i++)
        if (bind_once(spec, workers, b, err) == 0)
            return 0;
    return -1;
}

static unsigned default_workers(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (unsigned)n;
}

/* Every auth version (the threads are gone, or never started). */
static void free_xfr_auth(dns_server_t *s)
{
    for (xfr_auth_t *a = atomic_load(&s->xfr_auth), *older; a != NULL; a = older) {
        older = a->older;
        free(a);
    }
}

static void signal_stop(dns_server_t *s)
{
    atomic_store(&s->stop, true);
    uint64_t one = 1;
    ssize_t ignored = write(s->stop_fd, &one, sizeof one);
    (void)ignored;
}

/* Thread i's counters, or NULL when the server counts nothing. */
static dns_stats_slot_t *counter_slot(dns_server_t *s, unsigned i)
{
    return s->counting ? dns_stats_slot(s->stats, i) : NULL;
}

/* Hands the sockets to threads; on failure the sockets not yet handed over
 * are closed and the threads already started are stopped by the caller. */
static int start_threads(dns_server_t *s, bound_set_t *b, zonedb_handle_t *db,
                         const addr_spec_t *spec, tcp_limits_t limits)
{
    for (unsigned i = 0; i < b->udp_count; i++) {
        int fd = b->udp[i];
        b->udp[i] = -1;
        s->workers[i] = udp_worker_start(fd, s->stop_fd, &s->stop, db, s->rrl, s->upd,
                                         s->answering, s->xfr_on ? &s->xfr : NULL, spec->any, i,
                                         counter_slot(s, i));
        if (s->workers[i] == NULL) {
            for (unsigned j = i + 1; j < b->udp_count; j++)
                close(b->udp[j]);
            close(b->tcp);
            return -1;
        }
        s->worker_count = i + 1;
    }
    s->tcp = tcp_server_start(b->tcp, s->stop_fd, db, limits, s->upd, s->answering,
                              s->xfr_on ? &s->xfr : NULL, counter_slot(s, s->stats_slots - 1));
    return s->tcp == NULL ? -1 : 0;
}

dns_server_t *dns_server_start(const dns_server_opts_t *opts, zonedb_handle_t *db,
                               char err[DNS_SERVER_ERR_MAX])
{
    addr_spec_t spec;
    if (addr_spec_parse(opts->addr, &spec, err) != 0)
        return NULL;
    unsigned workers = opts->workers ? opts->workers : default_workers();
    if (workers > MAX_WORKERS)
        workers = MAX_WORKERS;
    tcp_limits_t limits = {
        .max_conns = opts->tcp_max_conns ? opts->tcp_max_conns : DNS_SERVER_TCP_MAX_CONNS,
        .idle_ms = opts->tcp_idle_ms ? opts->tcp_idle_ms : DNS_SERVER_TCP_IDLE_MS,
        .message_ms = opts->tcp_message_ms ? opts->tcp_message_ms : DNS_SERVER_TCP_MESSAGE_MS,
        .buffer_max = opts->tcp_buffer_max ? opts->tcp_buffer_max : DNS_SERVER_TCP_BUFFER_MAX,
    };

    dns_server_t *s = calloc(1, sizeof *s);
    int *udp_fds = calloc(workers, sizeof *udp_fds);
    if (s == NULL || udp_fds == NULL || (s->workers = calloc(workers, sizeof *s->workers)) == NULL ||
        (s->stats = dns_stats_new(workers + 1)) == NULL) {
        snprintf(err, DNS_SERVER_ERR_MAX, "out of memory");
        goto fail_alloc;
    }
    s->stats_slots = workers + 1;
    s->counting = opts->count;
    bool upd_failed = false;
    s->answering = opts->answering;
    if ((s->upd = updserve_new(opts, &upd_failed)) == NULL && upd_failed) {
        snprintf(err, DNS_SERVER_ERR_MAX, "out of memory (UPDATE state)");
        goto fail_alloc;
    }
    s->xfr_on = opts->xfr;
    xfr_auth_t *first = calloc(1, sizeof *first);
    if (first == NULL) {
        snprintf(err, DNS_SERVER_ERR_MAX, "out of memory");
        goto fail_alloc;
    }
    *first = (xfr_auth_t){ .keys = opts->tsig_keys, .acl = opts->acl };
    atomic_init(&s->xfr_auth, first);
    s->xfr = (xfr_ctx_t){ .keys = opts->tsig_keys, .acl = opts->acl,
                          .journal_diff = opts->journal_diff, .journal_arg = opts->journal_arg,
                          .live = &s->xfr_auth };
    if (opts->rrl.rate > 0 && (s->rrl = rrl_new(&opts->rrl)) == NULL) {
        snprintf(err, DNS_SERVER_ERR_MAX, "out of memory (rate-limit table)");
        goto fail_alloc;
    }
    s->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (s->stop_fd < 0) {
        snprintf(err, DNS_SERVER_ERR_MAX, "eventfd: %s", strerror(errno));
        goto fail_alloc;
    }
    bound_set_t bound = { .udp = udp_fds, .tcp = -1 };
    if (bind_all(&spec, workers, &bound, err) != 0)
        goto fail_fd;
    s->port = bound.port;
    if (start_threads(s, &bound, db, &spec, limits) != 0) {
        snprintf(err, DNS_SERVER_ERR_MAX, "cannot start DNS threads");
        free(udp_fds);
        dns_server_stop(s);
        return NULL;
    }
    free(udp_fds);
    log_info("dns", "serving DNS on %s (port %u, UDP+TCP, %u UDP workers)", opts->addr,
             (unsigned)s->port, workers);
    if (s->rrl != NULL)
        log_info("dns", "UDP response rate limit: %u/s per /%u or /%u and response, slip %u",
                 opts->rrl.rate, opts->rrl.ipv4_prefix ? opts->rrl.ipv4_prefix : RRL_IPV4_PREFIX_DEFAULT,
                 opts->rrl.ipv6_prefix ? opts->rrl.ipv6_prefix : RRL_IPV6_PREFIX_DEFAULT,
                 opts->rrl.slip);
    return s;

fail_fd:
    close(s->stop_fd);
fail_alloc:
    free(udp_fds);
    if (s != NULL) {
        free(s->workers);
        rrl_free(s->rrl);
        updserve_free(s->upd, true);
        dns_stats_free(s->stats);
        free_xfr_auth(s);
    }
    free(s);
    return NULL;
}

uint16_t dns_server_port(const dns_server_t *s) { return s->port; }
unsigned dns_server_workers(const dns_server_t *s) { return s->worker_count; }
void dns_server_write_metrics(const dns_server_t *s, bytebuf_t *b) { dns_stats_write(s->stats, b); }

/* Publishes a (keys and ACL) for transfers and signed queries: filled, then stored with
 * release, so a thread that loads it with acquire (xfr_ctx_current) sees it
 * whole. Old versions stay until dns_server_stop: a request in flight may
 * still use one, and SIGHUPs are few. */
static void publish_xfr_auth(dns_server_t *s, xfr_auth_t *a)
{
    a->older = atomic_load_explicit(&s->xfr_auth, memory_order_relaxed); /* one writer */
    atomic_store_explicit(&s->xfr_auth, a, memory_order_release);
}

int dns_server_set_auth(dns_server_t *s, const tsig_keystore_t *keys, const acl_t *acl)
{
    xfr_auth_t *a = calloc(1, sizeof *a);
    if (a == NULL)
        return -1;
    *a = (xfr_auth_t){ .keys = keys, .acl = acl };
    if (s->upd != NULL && updserve_set_auth(s->upd, keys, acl) != 0) {
        free(a);
        return -1;
    }
    publish_xfr_auth(s, a);
    return 0;
}

void dns_server_stop(dns_server_t *s)
{
    if (s == NULL)
        return;
    /* UPDATE replies in flight need the sockets and the TCP thread. */
    bool drained = updserve_drain(s->upd, UPDATE_DRAIN_MS);
    signal_stop(s);
    for (unsigned i = 0; i < s->worker_count; i++)
        udp_worker_join(s->workers[i]);
    tcp_server_join(s->tcp);
    close(s->stop_fd);
    rrl_free(s->rrl);
    updserve_free(s->upd, drained);
    dns_stats_free(s->stats);
    free_xfr_auth(s);
    free(s->workers);
    free(s);
}
