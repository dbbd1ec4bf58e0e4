/* dns/updserve.c — UPDATE on the DNS sockets (see updserve.h): check,
 * submit, answer from `done`, and the UDP retransmission cache. */
#include "dns/updserve.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "dns/update.h"
#include "dns/updcache.h"
#include "dns/wire.h"

#define RESP_MAX 1024 /* header + zone + TSIG (a 255-octet key name, SHA-512) */
#define CONTROL_MAX 64

/* The keys and ACL requests are checked with; replaced whole by
 * updserve_set_auth (SIGHUP), older ones kept until updserve_free. */
typedef struct upd_auth {
    const tsig_keystore_t *keys;
    const acl_t *acl;
    struct upd_auth *older;
} upd_auth_t;

struct updserve {
    _Atomic(upd_auth_t *) auth;
    dns_submit_update_fn submit;
    void *submit_arg;
    unsigned timeout_ms;
    updcache_t *cache;
    atomic_uint pending;
    atomic_bool closing;
};

typedef struct upd_op {
    updserve_t *u;
    dns_update_req_t req;
    bool tcp;
    bool cached;                 /* UDP: the cache holds key as in flight */
    updcache_key_t key;
    /* UDP */
    int fd;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    uint8_t control[CONTROL_MAX];
    size_t control_len;
    /* TCP */
    updserve_deliver_fn deliver;
    void *deliver_arg;
    unsigned conn;
    uint64_t gen;
} upd_op_t;

updserve_t *updserve_new(const dns_server_opts_t *opts, bool *failed)
{
    *failed = false;
    if (opts->submit_update == NULL)
        return NULL;
    updserve_t *u = calloc(1, sizeof *u);
    if (u == NULL || (u->cache = updcache_new(0, 0)) == NULL) {
        free(u);
        *failed = true;
        return NULL;
    }
    upd_auth_t *a = calloc(1, sizeof *a);
    if (a == NULL) {
        updcache_free(u->cache);
        free(u);
        *failed = true;
        return NULL;
    }
    a->keys = opts->tsig_keys;
    a->acl = opts->acl;
    atomic_init(&u->auth, a);
    u->submit = opts->submit_update;
    u->submit_arg = opts->submit_arg;
    u->timeout_ms = opts->update_timeout_ms ? opts->update_timeout_ms : DNS_SERVER_UPDATE_TIMEOUT_MS;
    return u;
}

bool updserve_drain(updserve_t *u, unsigned wait_ms)
{
    if (u == NULL)
        return true;
    atomic_store(&u->closing, true);
    uint64_t deadline = clock_now_ms() + wait_ms;
    while (atomic_load(&u->pending) > 0 && clock_now_ms() < deadline)
        clock_sleep_ms(5);
    unsigned left = atomic_load(&u->pending);
    if (left > 0)
        log_error("dns", "%u UPDATEs still unanswered at shutdown", left);
    return left == 0;
}

void updserve_free(updserve_t *u, bool drained)
{
    if (u == NULL || !drained)
        return;
    updcache_free(u->cache);
    for (upd_auth_t *a = atomic_load(&u->auth), *older; a != NULL; a = older) {
        older = a->older;
        free(a);
    }
    free(u);
}

int updserve_set_auth(updserve_t *u, const tsig_keystore_t *keys, const acl_t *acl)
{
    upd_auth_t *a = calloc(1, sizeof *a);
    if (a == NULL)
        return -1;
    a->keys = keys;
    a->acl = acl;
    a->older = atomic_load(&u->auth); /* one writer (the signal thread) */
    atomic_store(&u->auth, a);
    return 0;
}

/* Sends the response to op's request with rcode, over op's transport. */
static void op_reply(const upd_op_t *op, int rcode)
{
    uint8_t resp[RESP_MAX];
    size_t len = dns_update_response(&op->req, rcode, resp, sizeof resp, (uint64_t)time(NULL));
    if (op->tcp) {
        op->deliver(op->deliver_arg, op->conn, op->gen, resp, len); /* even len 0 */
        return;
    }
    if (len == 0)
        return;
    struct iovec iov = { resp, len };
    struct msghdr m = {
        .msg_name = (void *)&op->peer, .msg_namelen = op->peer_len,
        .msg_iov = &iov, .msg_iovlen = 1,
        .msg_control = op->control_len ? (void *)op->control : NULL,
        .msg_controllen = op->control_len,
    };
    if (sendmsg(op->fd, &m, MSG_DONTWAIT) < 0)
        log_debug("dns", "UPDATE reply dropped: %s", strerror(errno));
}

/* The submitter's answer (any thread). */
static void op_done(void *ctx, int rcode)
{
    upd_op_t *op = ctx;
    updserve_t *u = op->u;
    if (rcode < 0 || rcode > 15)
        rcode = DNS_RCODE_SERVFAIL;
    if (op->cached)
        updcache_done(u->cache, &op->key, rcode, clock_now_ms());
    op_reply(op, rcode);
    free(op);
    atomic_fetch_sub(&u->pending, 1);
}

/* Proposes op's message; answers SERVFAIL when it cannot be submitted. */
static void op_submit(upd_op_t *op, const uint8_t *pkt, size_t len)
{
    updserve_t *u = op->u;
    uint8_t *msg = malloc(len);
    size_t mlen = msg ? dns_update_unsigned(&op->req, pkt, len, msg, len) : 0;
    atomic_fetch_add(&u->pending, 1);
    int rc = -1;
    if (mlen > 0 && !atomic_load(&u->closing))
        rc = u->submit(u->submit_arg, msg, mlen, dns_update_key_name(&op->req), u->timeout_ms,
                       op_done, op);
    free(msg); /* the submitter copies what it keeps */
    if (rc != 0)
        op_done(op, DNS_RCODE_SERVFAIL);
}

/* Checks the request into op->req; true when it is to be submitted (else
 * it was answered or dropped, and op is freed). */
static bool op_check(upd_op_t *op, const uint8_t *pkt, size_t len, const struct sockaddr *peer)
{
    const upd_auth_t *a = atomic_load(&op->u->auth);
    switch (dns_update_check(a->keys, a->acl, pkt, len, peer, (uint64_t)time(NULL), &op->req)) {
    case DNS_UPDATE_SUBMIT:
        return true;
    case DNS_UPDATE_REPLY:
        op_reply(op, op->req.rcode);
        break;
    case DNS_UPDATE_DROP:
    default:
        if (op->tcp) /* deliver runs once per TCP request, even for none */
            op->deliver(op->deliver_arg, op->conn, op->gen, NULL, 0);
        break;
    }
    free(op);
    return false;
}

void updserve_udp(updserve_t *u, int fd, const uint8_t *pkt, size_t len,
                  const struct sockaddr *peer, socklen_t peer_len,
                  const void *control, size_t control_len)
{
    upd_op_t *op = calloc(1, sizeof *op);
    if (op == NULL || peer_len > sizeof op->peer || control_len > sizeof op->control) {
        free(op);
        return;
    }
    op->u = u;
    op->fd = fd;
    memcpy(&op->peer, peer, peer_len);
    op->peer_len = peer_len;
    memcpy(op->control, control, control_len);
    op->control_len = control_len;
    if (!op_check(op, pkt, len, peer))
        return;
    updcache_key(peer, peer_len, pkt, len, &op->key);
    int rcode = 0;
    switch (updcache_begin(u->cache, &op->key, clock_now_ms(), &rcode)) {
    case UPDCACHE_DONE: /* a retransmission: the first result, not applied again */
        op_reply(op, rcode);
        free(op);
        return;
    case UPDCACHE_INFLIGHT: /* the first is not answered yet: the client asks again */
        free(op);
        return;
    case UPDCACHE_NEW:
    default:
        op->cached = true;
        op_submit(op, pkt, len);
    }
}

void updserve_tcp(updserve_t *u, updserve_deliver_fn deliver, void *arg, unsigned conn,
                  uint64_t gen, const uint8_t *pkt, size_t len, const struct sockaddr *peer)
{
    upd_op_t *op = calloc(1, sizeof *op);
    if (op == NULL) {
        deliver(arg, conn, gen, NULL, 0);
        return;
    }
    *op = (upd_op_t){ .u = u, .tcp = true, .deliver = deliver, .deliver_arg = arg,
                      .conn = conn, .gen = gen };
    if (op_check(op, pkt, len, peer))
        op_submit(op, pkt, len);
}
