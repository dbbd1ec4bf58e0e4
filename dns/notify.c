/* dns/notify.c — the notifier thread (dns/notify.h): looks at the
 * leadership and the zones every tick, sends what the scheduler
 * (dns/notify_sched.c) says is due, and reads the responses.
 *
 * One unconnected UDP socket per address family in use, on an ephemeral
 * port, so a response's source address and port can be checked against
 * the target's (RFC 1996 §4.4 matches a response by id; we also insist on
 * where it came from, as a spoofer off the path cannot easily forge it). */
#include "dns/notify.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "dns/notify_msg.h"
#include "dns/wire.h"

#define SOA_MAX 600  /* two names of <= 255 octets and 20 octets */
#define RECV_BATCH 64

/* What the thread last read of a zone. */
typedef struct zone_view {
    bool present;
    uint32_t serial, ttl;
    uint16_t soa_len;
    uint8_t soa[SOA_MAX];
} zone_view_t;

/* The request MACs of a slot's last two transmissions (to verify a signed
 * response, RFC 8945 §5.3: the response MAC covers the request MAC). */
typedef struct sent_mac {
    uint16_t id, len;
    uint8_t mac[TSIG_MAC_MAX];
} sent_mac_t;

/* At most NOTIFY_LOG_BURST lines a minute about ignored responses. */
typedef struct log_budget {
    uint64_t window_ms;
    unsigned lines;
    uint64_t suppressed;
} log_budget_t;

struct notify {
    notify_opts_t o;
    const notify_conf_t *conf;
    notify_sched_t *sched;
    zone_view_t *views;      /* per zone */
    sent_mac_t (*macs)[2];   /* per slot (zone-major, like the scheduler) */
    size_t *first_slot;      /* per zone */
    int fd4, fd6;
    pthread_t thread;
    atomic_bool stop;
    pthread_mutex_t mu;      /* guards counters */
    notify_counters_t counters;
    log_budget_t budget;
    uint64_t epoch;
};

static uint16_t random_id(void *arg)
{
    (void)arg;
    uint16_t id = 0;
    if (getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id)
        id = (uint16_t)(clock_now_ms() * 40503u);
    return id;
}

static void hostile(notify_t *n, const char *from, const char *why)
{
    uint64_t now = clock_now_ms();
    notify_sched_count_ignored(n->sched);
    if (now - n->budget.window_ms >= 60000) {
        if (n->budget.suppressed)
            log_warn("notify", "%llu more NOTIFY responses ignored in the last minute",
                     (unsigned long long)n->budget.suppressed);
        n->budget = (log_budget_t){ .window_ms = now };
    }
    if (n->budget.lines++ < NOTIFY_LOG_BURST)
        log_warn("notify", "response from %s ignored: %s", from, why);
    else
        n->budget.suppressed++;
}

/* ---- reading the zones ------------------------------------------------- */

static void read_zone(const zonedb_t *db, const uint8_t *name, zone_view_t *v)
{
    const zonedb_index_t *zi = zonedb_get_zone(db, name);
    const zonedb_rrset_t *soa = zi ? zonedb_node_rrset(zonedb_index_apex(zi), DNS_TYPE_SOA) : NULL;
    const uint8_t *rd;
    uint16_t rdlen;
    size_t pos = 0;
    v->present = false;
    if (soa == NULL || !zonedb_rrset_next(soa, &pos, &rd, &rdlen) || rdlen > SOA_MAX)
        return;
    v->present = true;
    v->serial = zonedb_index_serial(zi);
    v->ttl = soa->ttl;
    v->soa_len = rdlen;
    memcpy(v->soa, rd, rdlen);
}

static void look_at_zones(notify_t *n, uint64_t now)
{
    zonedb_read_lock();
    const zonedb_t *db = zonedb_current(n->o.db);
    for (size_t z = 0; z < n->conf->n_zones; z++)
        read_zone(db, n->conf->zones[z].name, &n->views[z]);
    zonedb_read_unlock();
    for (size_t z = 0; z < n->conf->n_zones; z++)
        if (n->views[z].present)
            notify_sched_zone_serial(n->sched, z, n->views[z].serial, now);
}

/* ---- sending ------------------------------------------------------------ */

static void send_one(notify_t *n, const notify_send_t *s)
{
    const notify_zone_t *z = &n->conf->zones[s->zone];
    const notify_target_t *t = &z->targets[s->target];
    const zone_view_t *v = &n->views[s->zone];
    uint8_t buf[NOTIFY_MSG_MAX];
    size_t len = notify_msg_build(buf, sizeof buf, s->id, z->name, v->ttl, v->soa, v->soa_len);
    sent_mac_t *m = n->macs[n->first_slot[s->zone] + s->target];
    m[1] = m[0];
    m[0] = (sent_mac_t){ .id = s->id };
    if (len == 0 || (t->key && tsig_sign_request(t->key, buf, &len, sizeof buf,
                                                 (uint64_t)time(NULL), TSIG_FUDGE_DEFAULT,
                                                 m[0].mac, &m[0].len) != 0)) {
        log_error("notify", "zone %s: cannot build the NOTIFY", z->text);
        return;
    }
    int fd = t->addr.ss_family == AF_INET6 ? n->fd6 : n->fd4;
    if (sendto(fd, buf, len, 0, (const struct sockaddr *)&t->addr, t->addr_len) < 0)
        log_debug("notify", "zone %s: send to %s: %s", z->text, t->text, strerror(errno));
    if (s->attempt == 1) /* one line per NOTIFY, as Knot logs them */
        log_info("notify", "zone %s serial %u: NOTIFY to %s (id %u)", z->text, s->serial,
                  t->text, s->id);
    else
        log_info("notify", "zone %s serial %u: NOTIFY to %s again, try %u (id %u)", z->text,
                 s->serial, t->text, s->attempt, s->id);
}

static void send_due(notify_t *n, uint64_t now)
{
    notify_counters_t before = notify_sched_counters(n->sched);
    notify_send_t s;
    while (notify_sched_take_due(n->sched, now, &s))
        send_one(n, &s);
    notify_counters_t after = notify_sched_counters(n->sched);
    if (after.given_up != before.given_up)
        log_warn("notify", "%llu NOTIFY(s) given up unanswered after %u retransmissions",
                 (unsigned long long)(after.given_up - before.given_up),
                 n->o.retries ? n->o.retries : NOTIFY_RETRIES_DEFAULT);
}

/* ---- receiving ---------------------------------------------------------- */

static bool same_endpoint(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

/* RFC 8945 §5.3: the response to a signed request must be signed with the
 * same key, its MAC covering the request's. */
static bool response_authentic(const notify_target_t *t, const sent_mac_t *m,
                               const uint8_t *msg, size_t len)
{
    if (t->key == NULL)
        return true;
    tsig_stream_t st;
    if (tsig_stream_start_receiver(&st, t->key, m->mac, m->len) != 0)
        return false;
    bool was_signed = false;
    enum tsig_error e = tsig_stream_verify(&st, msg, len, (uint64_t)time(NULL), &was_signed);
    tsig_stream_end(&st);
    return e == TSIG_NOERROR && was_signed;
}

static void log_ack(notify_t *n, const notify_zone_t *z, const notify_target_t *t,
                    const notify_response_t *r, enum notify_ack_result a)
{
    if (r->rcode != DNS_RCODE_NOERROR)
        log_warn("notify", "zone %s: %s answered the NOTIFY with rcode %u: not retrying",
                 z->text, t->text, r->rcode);
    else
        log_debug("notify", "zone %s: %s acknowledged (id %u)%s", z->text, t->text, r->id,
                  a == NOTIFY_ACK_NEWER ? ", a newer serial goes now" : "");
    (void)n;
}

/* Finds the slot this response answers and acknowledges it. */
static void handle_response(notify_t *n, const struct sockaddr_storage *from, const char *from_text,
                            const uint8_t *msg, size_t len, uint64_t now)
{
    notify_response_t r;
    const char *why = NULL;
    if (!notify_msg_parse_response(msg, len, &r, &why)) {
        hostile(n, from_text, why);
        return;
    }
    bool known_source = false;
    for (size_t zi = 0; zi < n->conf->n_zones; zi++) {
        const notify_zone_t *z = &n->conf->zones[zi];
        for (size_t ti = 0; ti < z->n_targets; ti++) {
            const notify_target_t *t = &z->targets[ti];
            if (!same_endpoint(&t->addr, from))
                continue;
            known_source = true;
            if ((r.has_question && !name_equal(r.zone, z->name)) ||
                !notify_sched_outstanding(n->sched, zi, ti, r.id))
                continue;
            const sent_mac_t *m = n->macs[n->first_slot[zi] + ti];
            const sent_mac_t *mine = m[0].id == r.id ? &m[0] : &m[1];
            if (!response_authentic(t, mine, msg, len)) {
                hostile(n, from_text, "TSIG missing or not valid");
                return;
            }
            log_ack(n, z, t, &r, notify_sched_ack(n->sched, zi, ti, r.id, r.rcode, now));
            return;
        }
    }
    hostile(n, from_text, known_source ? "no NOTIFY outstanding with that id and zone"
                                       : "not from a target's address and port");
}

static void endpoint_text(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const void *)ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        snprintf(out, cap, "%s:%u", ip, ntohs(a->sin_port));
    } else {
        const struct sockaddr_in6 *a = (const void *)ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        snprintf(out, cap, "[%s]:%u", ip, ntohs(a->sin6_port));
    }
}

static void receive_all(notify_t *n, int fd, uint64_t now)
{
    for (int i = 0; fd >= 0 && i < RECV_BATCH; i++) {
        uint8_t buf[65536];
        struct sockaddr_storage from;
        socklen_t flen = sizeof from;
        ssize_t got = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
        if (got < 0)
            return;
        if (n->epoch == 0)
            continue; /* not the leader: nothing is outstanding */
        char text[INET6_ADDRSTRLEN + 16];
        endpoint_text(&from, text, sizeof text);
        handle_response(n, &from, text, buf, (size_t)got, now);
    }
}

/* ---- the thread --------------------------------------------------------- */

static void publish_counters(notify_t *n)
{
    pthread_mutex_lock(&n->mu);
    n->counters = notify_sched_counters(n->sched);
    pthread_mutex_unlock(&n->mu);
}

static void follow_leadership(notify_t *n, uint64_t now)
{
    uint64_t epoch = n->o.leader_epoch(n->o.leader_arg);
    if (epoch == n->epoch)
        return;
    if (epoch != 0)
        log_info("notify", "leading: notifying %zu target(s) of %zu zone(s) with their current "
                 "serials", notify_conf_target_count(n->conf), n->conf->n_zones);
    else
        log_info("notify", "not leading any more: NOTIFYs are the new leader's to send");
    n->epoch = epoch;
    notify_sched_set_epoch(n->sched, epoch, now);
}

static void *notify_thread(void *arg)
{
    notify_t *n = arg;
    zonedb_reader_register();
    unsigned tick = n->o.tick_ms ? n->o.tick_ms : 10;
    while (!atomic_load(&n->stop)) {
        uint64_t now = clock_now_ms();
        /* Zones first: a new leader then announces the serials it has. */
        look_at_zones(n, now);
        follow_leadership(n, now);
        send_due(n, now);
        publish_counters(n);
        uint64_t next = notify_sched_next_due(n->sched);
        uint64_t wait = next > now ? next - now : 0;
        struct pollfd p[2] = { { .fd = n->fd4, .events = POLLIN }, { .fd = n->fd6, .events = POLLIN } };
        poll(p, 2, (int)(wait < tick ? wait : tick));
        now = clock_now_ms();
        receive_all(n, n->fd4, now);
        receive_all(n, n->fd6, now);
    }
    publish_counters(n);
    zonedb_reader_unregister();
    return NULL;
}

/* A UDP socket on an ephemeral port, bound to source_host when that is an
 * address of this family (so secondaries see NOTIFY come from the address
 * they know as the primary's). */
static int open_socket(int family, const char *source_host, char err[NOTIFY_ERR_MAX])
{
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, NOTIFY_ERR_MAX, "UDP socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_storage ss = { 0 };
    socklen_t len = 0;
    if (source_host && source_host[0]) {
        if (family == AF_INET && inet_pton(AF_INET, source_host,
                                           &((struct sockaddr_in *)&ss)->sin_addr) == 1)
            len = sizeof(struct sockaddr_in);
        if (family == AF_INET6 && inet_pton(AF_INET6, source_host,
                                            &((struct sockaddr_in6 *)&ss)->sin6_addr) == 1)
            len = sizeof(struct sockaddr_in6);
    }
    ss.ss_family = (sa_family_t)family;
    if (len && bind(fd, (struct sockaddr *)&ss, len) != 0) {
        snprintf(err, NOTIFY_ERR_MAX, "UDP socket on %s: %s", source_host, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static bool uses_family(const notify_conf_t *c, int family)
{
    for (size_t z = 0; z < c->n_zones; z++)
        for (size_t t = 0; t < c->zones[z].n_targets; t++)
            if (c->zones[z].targets[t].addr.ss_family == family)
                return true;
    return false;
}

static void free_notifier(notify_t *n)
{
    if (n->fd4 >= 0)
        close(n->fd4);
    if (n->fd6 >= 0)
        close(n->fd6);
    notify_sched_free(n->sched);
    free(n->views);
    free(n->macs);
    free(n->first_slot);
    pthread_mutex_destroy(&n->mu);
    free(n);
}

notify_t *notify_start(const notify_opts_t *o, char err[NOTIFY_ERR_MAX])
{
    notify_t *n = calloc(1, sizeof *n);
    if (n == NULL) {
        snprintf(err, NOTIFY_ERR_MAX, "out of memory");
        return NULL;
    }
    n->o = *o;
    n->conf = o->conf;
    n->fd4 = n->fd6 = -1;
    pthread_mutex_init(&n->mu, NULL);
    size_t nz = n->conf->n_zones, slots = notify_conf_target_count(n->conf);
    size_t *counts = calloc(nz + 1, sizeof *counts);
    n->first_slot = calloc(nz + 1, sizeof *n->first_slot);
    n->views = calloc(nz + 1, sizeof *n->views);
    n->macs = calloc(slots + 1, sizeof *n->macs);
    for (size_t z = 0, at = 0; counts && n->first_slot && z < nz; z++) {
        counts[z] = n->conf->zones[z].n_targets;
        n->first_slot[z] = at;
        at += counts[z];
    }
    notify_sched_opts_t so = { .retry_ms = o->retry_ms, .retry_max_ms = o->retry_max_ms,
                               .retries = o->retries, .new_id = random_id };
    if (counts && n->first_slot && n->views && n->macs)
        n->sched = notify_sched_new(counts, nz, &so);
    free(counts);
    if (n->sched == NULL) {
        snprintf(err, NOTIFY_ERR_MAX, "out of memory");
        free_notifier(n);
        return NULL;
    }
    if ((uses_family(n->conf, AF_INET) && (n->fd4 = open_socket(AF_INET, o->source_host, err)) < 0) ||
        (uses_family(n->conf, AF_INET6) && (n->fd6 = open_socket(AF_INET6, o->source_host, err)) < 0)) {
        free_notifier(n);
        return NULL;
    }
    if (pthread_create(&n->thread, NULL, notify_thread, n) != 0) {
        snprintf(err, NOTIFY_ERR_MAX, "cannot start the notifier thread");
        free_notifier(n);
        return NULL;
    }
    return n;
}

void notify_stop(notify_t *n)
{
    if (n == NULL)
        return;
    atomic_store(&n->stop, true);
    pthread_join(n->thread, NULL);
    free_notifier(n);
}

notify_counters_t notify_counters(notify_t *n)
{
    pthread_mutex_lock(&n->mu);
    notify_counters_t c = n->counters;
    pthread_mutex_unlock(&n->mu);
    return c;
}
