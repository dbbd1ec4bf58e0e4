/* kv/dnsupdate.c — UPDATE from the DNS server to the Raft log and back
 * (see dnsupdate.h). One proposal per UPDATE: retried with the same bytes
 * only when the node says it was certainly not applied (no leader yet,
 * leadership lost before commit); never after NODE_EMAYBE or a timeout,
 * since an UPDATE carries no client session to make a second copy a no-op. */
#include "kv/dnsupdate.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "dns/wire.h"
#include "kv/command.h"
#include "kv/result.h"

struct kv_dnsupdate {
    pthread_rwlock_t lock; /* node may change only while no one proposes */
    node_t *node;
};

typedef struct upd_call {
    kv_dnsupdate_t *u;
    dns_update_done_fn done;
    void *ctx;
    uint64_t deadline_ms;
    size_t len;
    uint8_t cmd[];
} upd_call_t;

kv_dnsupdate_t *kv_dnsupdate_new(void)
{
    kv_dnsupdate_t *u = calloc(1, sizeof *u);
    if (u != NULL)
        pthread_rwlock_init(&u->lock, NULL);
    return u;
}

void kv_dnsupdate_free(kv_dnsupdate_t *u)
{
    if (u == NULL)
        return;
    pthread_rwlock_destroy(&u->lock);
    free(u);
}

void kv_dnsupdate_attach(kv_dnsupdate_t *u, node_t *node)
{
    pthread_rwlock_wrlock(&u->lock);
    u->node = node;
    pthread_rwlock_unlock(&u->lock);
}

void kv_dnsupdate_detach(kv_dnsupdate_t *u) { kv_dnsupdate_attach(u, NULL); }

static void attempt_done(void *arg, node_status_t st, uint8_t *reply, size_t reply_len);

/* Proposes call's command; NODE_OK when attempt_done will run. */
static node_status_t attempt(upd_call_t *call)
{
    uint64_t now = clock_now_ms();
    if (now >= call->deadline_ms)
        return NODE_ETIMEOUT;
    node_status_t st = NODE_ESHUTDOWN;
    pthread_rwlock_rdlock(&call->u->lock);
    if (call->u->node != NULL)
        st = node_propose_async(call->u->node, call->cmd, call->len,
                                (unsigned)(call->deadline_ms - now), attempt_done, call);
    pthread_rwlock_unlock(&call->u->lock);
    return st;
}

static void finish(upd_call_t *call, int rcode)
{
    call->done(call->ctx, rcode);
    free(call);
}

/* On the Raft thread: the entry applied on this node (NODE_OK), or not. */
static void attempt_done(void *arg, node_status_t st, uint8_t *reply, size_t reply_len)
{
    upd_call_t *call = arg;
    if (st == NODE_OK) {
        int rcode = kv_result_update_rcode(reply, reply_len);
        free(reply);
        finish(call, rcode < 0 ? DNS_RCODE_SERVFAIL : rcode);
        return;
    }
    free(reply);
    /* Not applied for sure: the same bytes may go again (the node parks a
     * request while no leader is known). */
    if ((st == NODE_ENOLEADER || st == NODE_ELOST) && attempt(call) == NODE_OK)
        return;
    log_debug("kv", "UPDATE not committed: %s", node_status_text(st));
    finish(call, DNS_RCODE_SERVFAIL);
}

int kv_dnsupdate_submit(void *arg, const uint8_t *msg, size_t len, const uint8_t *key_name_wire,
                        uint64_t timeout_ms, dns_update_done_fn done, void *ctx)
{
    kv_dnsupdate_t *u = arg;
    if (len > KV_UPDATE_MSG_MAX)
        return -1;
    size_t cap = KV_UPDATE_CMD_MAX - KV_UPDATE_MSG_MAX + len;
    upd_call_t *call = malloc(sizeof *call + cap);
    if (call == NULL)
        return -1;
    int n = kv_cmd_encode_update(msg, len, key_name_wire, call->cmd, cap);
    if (n < 0) {
        free(call);
        return -1;
    }
    call->u = u;
    call->done = done;
    call->ctx = ctx;
    call->len = (size_t)n;
    call->deadline_ms = clock_now_ms() + (timeout_ms ? timeout_ms : DNS_SERVER_UPDATE_TIMEOUT_MS);
    if (attempt(call) != NODE_OK) {
        free(call);
        return -1;
    }
    return 0;
}
