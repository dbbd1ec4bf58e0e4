/* raft/node_requests.c — requests on the node: submitted by other
 * threads (node_propose, node_read_barrier, membership, transfer, status),
 * started on the Raft thread, forwarded by a follower to its leader, and
 * completed through callbacks. See the contract at the top of node.c.
 */
#include "raft/node_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/bytes.h"
#include "common/crc32c.h"
#include "common/storage_io.h"

/* ---- completing requests ---------------------------------------------------------- */

static void request_free(request_t *q)
{
    free(q->data);
    free(q->result);
    free(q);
}

/* FWD_RESP: type | fwd id u64 | status u8 | applied index u64 | result */
static void send_forward_response(node_t *n, const request_t *q)
{
    size_t len = 1 + 8 + 1 + 8 + q->result_len;
    uint8_t *b = malloc(len);
    if (!b)
        return;
    b[0] = FRAME_FWD_RESP;
    put_le64(b + 1, q->fwd_id);
    b[9] = (uint8_t)q->status;
    put_le64(b + 10, q->index);
    if (q->result_len)
        memcpy(b + 18, q->result, q->result_len);
    transport_send_app(n->tr, q->origin, b, len);
    free(b);
}

/* Ends a request the Raft thread holds (it must already be unlinked): a
 * forwarded one is answered to its follower now; a local one waits on
 * n->finished for deliver_finished. */
void node_req_finish(node_t *n, request_t *q, node_status_t status)
{
    q->status = status;
    q->wait = WAIT_NONE;
    if (q->kind == REQ_PROPOSE && !q->origin)
        prom_add(status == NODE_OK ? &n->metrics.proposals_committed
                                   : &n->metrics.proposals_failed, 1);
    if (q->origin) {
        send_forward_response(n, q);
        request_free(q);
        return;
    }
    q->next = NULL;
    *n->finished_tail = q;
    n->finished_tail = &q->next;
}

/* Runs the callbacks of every finished request, in the order they finished.
 * Called where the Raft thread is about to block or sleep, so callers get
 * a batch's answers together. The result bytes go to the callback. */
void node_deliver_finished(node_t *n)
{
    if (n->o.fsm.publish) /* also with no one waiting here: followers serve too */
        n->o.fsm.publish(n->o.fsm.ctx); /* what they were told is visible */
    request_t *q = n->finished;
    n->finished = NULL;
    n->finished_tail = &n->finished;
    while (q) {
        request_t *next = q->next;
        uint8_t *result = q->result;
        q->result = NULL;
        q->done(q->done_arg, q->status, result, result ? q->result_len : 0);
        request_free(q);
        q = next;
    }
}

static void pending_add(node_t *n, request_t *q)
{
    q->next = n->pending;
    n->pending = q;
}

/* Finishes every pending request for which done(n, q) picks a status. */
void node_pending_sweep(node_t *n, bool (*done)(node_t *, request_t *, node_status_t *))
{
    request_t **pp = &n->pending;
    while (*pp) {
        request_t *q = *pp;
        node_status_t st;
        if (done(n, q, &st)) {
            *pp = q->next;
            node_req_finish(n, q, st);
        } else {
            pp = &q->next;
        }
    }
}

/* ---- starting requests on the Raft thread ---------------------------------------------- */

static node_status_t status_of(int raft_err)
{
    switch (raft_err) {
    case RAFT_OK: return NODE_OK;
    case RAFT_ENOTLEADER: case RAFT_ENOLEADER: return NODE_ENOLEADER;
    case RAFT_EBUSY: case RAFT_ENOTCAUGHTUP: return NODE_EBUSY;
    case RAFT_ETOOBIG: return NODE_ETOOBIG;
    case RAFT_EFULL: case RAFT_EINVAL: return NODE_EINVAL;
    default: return NODE_EIO;
    }
}

bool node_is_peer_member(const node_t *n, raft_id_t id)
{
    const raft_members_t *m = raft_members(n->r);
    return raft_members_is_voter(m, id) || raft_members_is_learner(m, id);
}

static int leader_add(node_t *n, request_t *q)
{
    raft_id_t id = addrbook_id_of(q->name);
    const addrbook_entry_t *e = addrbook_get(&n->book, id);
    if (node_is_peer_member(n, id)) {
        if (e && strcmp(e->addr, q->addr) != 0 && e->addr[0])
            return RAFT_EINVAL; /* same name, other address: remove it first */
        return 1;               /* already a member: nothing to do */
    }
    char ctx[ADDRBOOK_NAME_MAX + ADDRBOOK_ADDR_MAX + 1];
    int len = snprintf(ctx, sizeof ctx, "%s %s", q->name, q->addr);
    return raft_add_learner(n->r, id, ctx, (size_t)len, &q->index);
}

static raft_id_t transfer_target(const char *name)
{
    return name[0] ? addrbook_id_of(name) : 0;
}

/* As leader: returns a raft error, or 1 when done with nothing to wait for. */
static int start_as_leader(node_t *n, request_t *q)
{
    switch (q->kind) {
    case REQ_PROPOSE:
        return raft_propose(n->r, q->data, q->len, &q->index);
    case REQ_ADD:
        return leader_add(n, q);
    case REQ_REMOVE: {
        raft_id_t id = addrbook_id_of(q->name);
        if (!node_is_peer_member(n, id))
            return 1;
        return raft_remove(n->r, id, &q->index);
    }
    case REQ_TRANSFER:
        return raft_transfer_leadership(n->r, transfer_target(q->name));
    default:
        return RAFT_EINVAL;
    }
}

/* FWD_REQ: type | fwd id u64 | kind u8 | timeout ms u32 | payload
 * payload: the proposal, or "name" / "name address" for membership. */
static bool forward_to_leader(node_t *n, request_t *q)
{
    raft_id_t leader = raft_leader(n->r);
    if (!leader || leader == n->id || !transport_peer_addr(n->tr, leader))
        return false;
    size_t plen = q->kind == REQ_PROPOSE ? q->len : strlen(q->name) + 1 + strlen(q->addr);
    uint8_t *b = malloc(14 + plen);
    if (!b)
        return false;
    q->fwd_id = ++n->next_ctx;
    q->fwd_to = leader;
    b[0] = FRAME_FWD_REQ;
    put_le64(b + 1, q->fwd_id);
    b[9] = (uint8_t)q->kind;
    uint64_t now = loop_now_ms();
    uint32_t left = q->deadline_ms > now ? (uint32_t)(q->deadline_ms - now) : 1;
    b[10] = (uint8_t)left;
    b[11] = (uint8_t)(left >> 8);
    b[12] = (uint8_t)(left >> 16);
    b[13] = (uint8_t)(left >> 24);
    if (q->kind == REQ_PROPOSE) {
        memcpy(b + 14, q->data, q->len);
    } else {
        size_t nl = strlen(q->name);
        memcpy(b + 14, q->name, nl);
        b[14 + nl] = ' ';
        memcpy(b + 15 + nl, q->addr, strlen(q->addr));
    }
    int rc = transport_send_app(n->tr, leader, b, 14 + plen);
    free(b);
    return rc == 0;
}

void node_req_start(node_t *n, request_t *q)
{
    if (n->failed) {
        node_req_finish(n, q, node_failed_status(n));
        return;
    }
    if (q->kind == REQ_READ) {
        q->ctx = ++n->next_ctx;
        int rc = raft_read_index(n->r, q->ctx);
        q->wait = rc == RAFT_OK ? WAIT_READ : WAIT_RETRY;
        pending_add(n, q);
        return;
    }
    if (raft_role(n->r) == RAFT_LEADER) {
        int rc = start_as_leader(n, q);
        if (rc == 1) {
            node_req_finish(n, q, NODE_OK);
        } else if (rc == RAFT_OK) {
            q->term = raft_term(n->r);
            q->wait = q->kind == REQ_TRANSFER ? WAIT_TRANSFER : WAIT_COMMIT;
            pending_add(n, q);
        } else if (rc == RAFT_EBUSY || rc == RAFT_ENOTLEADER) {
            q->wait = WAIT_RETRY;
            pending_add(n, q);
        } else {
            node_req_finish(n, q, status_of(rc));
        }
        return;
    }
    if (q->kind == REQ_TRANSFER && q->origin == 0 && !q->name[0]) {
        node_req_finish(n, q, NODE_OK); /* not leading: nothing to hand over */
        return;
    }
    if (q->origin) {
        /* A forwarded request reached a node that no longer leads: no
         * second hop; the follower retries with the new leader. */
        node_req_finish(n, q, NODE_ENOLEADER);
        return;
    }
    q->wait = forward_to_leader(n, q) ? WAIT_FORWARD : WAIT_RETRY;
    pending_add(n, q);
}


void node_drain_incoming(node_t *n)
{
    /* Oldest first, so proposals keep their arrival order. */
    handoff_link_t *l = handoff_take_all(&n->incoming);
    while (l) {
        request_t *q = (request_t *)((char *)l - offsetof(request_t, link));
        l = l->next;
        q->link.next = NULL;
        if (q->kind == REQ_PROPOSE)
            prom_add(&n->metrics.proposals_taken, 1);
        if (!n->thread_started) {
            node_req_finish(n, q, NODE_ESHUTDOWN);
        } else if (q->kind == REQ_STATUS) {
            node_fill_status(n, q->info);
            node_req_finish(n, q, NODE_OK);
        } else {
            node_req_start(n, q);
        }
    }
}

/* ---- forwarded requests ---------------------------------------------------------- */

static void on_forward_request(node_t *n, raft_id_t from, const uint8_t *b, size_t len)
{
    if (len < 14 || b[9] < REQ_PROPOSE || b[9] > REQ_TRANSFER || b[9] == REQ_READ)
        return;
    request_t *q = calloc(1, sizeof *q);
    if (!q)
        return;
    q->origin = from;
    q->fwd_id = get_le64(b + 1);
    q->kind = (req_kind_t)b[9];
    uint32_t timeout = (uint32_t)b[10] | (uint32_t)b[11] << 8 | (uint32_t)b[12] << 16 |
                       (uint32_t)b[13] << 24;
    if (timeout > MAX_FORWARD_TIMEOUT_MS)
        timeout = MAX_FORWARD_TIMEOUT_MS;
    q->deadline_ms = loop_now_ms() + timeout;
    const uint8_t *p = b + 14;
    size_t plen = len - 14;
    if (q->kind == REQ_PROPOSE) {
        q->data = malloc(plen ? plen : 1);
        if (!q->data) {
            free(q);
            return;
        }
        memcpy(q->data, p, plen);
        q->len = plen;
        if (!node_identity_forward_ok(&n->ident, q->data, q->len)) {
            q->status = NODE_EINVAL;
            send_forward_response(n, q);
            request_free(q);
            return;
        }
    } else {
        const uint8_t *sp = memchr(p, ' ', plen);
        size_t nl = sp ? (size_t)(sp - p) : plen;
        size_t al = sp ? plen - nl - 1 : 0;
        if (nl >= sizeof q->name || al >= sizeof q->addr) {
            q->status = NODE_EINVAL;
            send_forward_response(n, q);
            free(q);
            return;
        }
        memcpy(q->name, p, nl);
        if (al)
            memcpy(q->addr, sp + 1, al);
    }
    node_req_start(n, q);
}

static void on_forward_response(node_t *n, const uint8_t *b, size_t len)
{
    if (len < 18)
        return;
    uint64_t fwd_id = get_le64(b + 1);
    node_status_t st = (node_status_t)b[9];
    raft_index_t index = get_le64(b + 10);
    for (request_t **pp = &n->pending; *pp; pp = &(*pp)->next) {
        request_t *q = *pp;
        if (q->wait != WAIT_FORWARD || q->fwd_id != fwd_id)
            continue;
        if (st == NODE_ENOLEADER) {
            q->wait = WAIT_RETRY; /* the leader moved on: try the new one */
            return;
        }
        free(q->result);
        q->result = NULL;
        q->result_len = len - 18;
        if (q->result_len) {
            q->result = malloc(q->result_len);
            if (q->result)
                memcpy(q->result, b + 18, q->result_len);
            else
                q->result_len = 0;
        }
        if (st == NODE_OK && index > raft_applied(n->r)) {
            q->index = index; /* read-your-writes: wait until applied here too */
            q->wait = WAIT_APPLIED;
            return;
        }
        *pp = q->next;
        node_req_finish(n, q, st);
        return;
    }
}

void node_send_cluster_frame(node_t *n, raft_id_t to, bool ask)
{
    uint8_t b[CLUSTER_FRAME_LEN];
    transport_send_app(n->tr, to, b, node_identity_frame(&n->ident, FRAME_CLUSTER, ask, b));
}


static void on_cluster_frame(node_t *n, raft_id_t from, const uint8_t *body, size_t len)
{
    bool answer = false;
    node_identity_on_frame(&n->ident, from, node_name_of(n, from), body, len, loop_now_ms(), &answer);
    if (answer)
        node_send_cluster_frame(n, from, false);
}

void node_on_app_frame(void *ctx, raft_id_t from, const uint8_t *body, size_t len)
{
    node_t *n = ctx;
    if (n->failed)
        return;
    if (body[0] == FRAME_FWD_REQ)
        on_forward_request(n, from, body, len);
    else if (body[0] == FRAME_FWD_RESP)
        on_forward_response(n, body, len);
    else if (body[0] == FRAME_CLUSTER)
        on_cluster_frame(n, from, body, len);
}

/* ---- joining over an authenticated connection (issue #12) ------------------------------- */

/* JOIN_REQ: type | name length u8 | name | address. The name must be the
 * one the handshake proved. JOIN_RESP: type | status u8 | text. The same
 * membership change as the admin `raft join` (node_add_server): a learner
 * first, promoted once caught up (thesis §4.2.1), forwarded to the leader
 * from a follower. The reply handle outlives the connection (transport.h). */
typedef struct join_reply {
    node_t *n;
    transport_reply_t reply;
} join_reply_t;

static void send_join_response(node_t *n, transport_reply_t reply, node_status_t st)
{
    const char *text = st == NODE_OK ? "SUCCESS"
                       : st == NODE_EINVAL ? "invalid join, or that id is a member with another "
                                             "address (raft leave it first)"
                                           : node_status_text(st);
    uint8_t b[2 + 200];
    size_t tl = strnlen(text, sizeof b - 2);
    b[0] = RAFT_FRAME_JOIN_RESP;
    b[1] = (uint8_t)st;
    memcpy(b + 2, text, tl);
    transport_reply(n->tr, reply, b, 2 + tl);
}

static void join_done(void *arg, node_status_t st, uint8_t *result, size_t len)
{
    join_reply_t *j = arg;
    (void)len;
    free(result);
    send_join_response(j->n, j->reply, st);
    free(j);
}

static bool join_field_ok(const uint8_t *p, size_t n, size_t cap)
{
    if (n == 0 || n >= cap)
        return false;
    for (size_t i = 0; i < n; i++)
        if (p[i] <= 0x20 || p[i] >= 0x7f)
            return false;
    return true;
}

void node_on_join(void *ctx, const raft_hello_t *from, transport_reply_t reply,
                  const uint8_t *b, size_t len)
{
    node_t *n = ctx;
    size_t nl = len >= 2 ? b[1] : 0;
    const uint8_t *name = b + 2, *addr = b + 2 + nl;
    size_t al = len >= 2 + nl ? len - 2 - nl : 0;
    if (!join_field_ok(name, nl, ADDRBOOK_NAME_MAX) || !join_field_ok(addr, al, ADDRBOOK_ADDR_MAX) ||
        strlen(from->name) != nl || memcmp(from->name, name, nl) != 0) {
        log_warn("raft", "join request from %s: malformed, or not the name it proved", from->name);
        send_join_response(n, reply, NODE_EINVAL);
        return;
    }
    request_t *q = calloc(1, sizeof *q);
    join_reply_t *j = malloc(sizeof *j);
    if (!q || !j || n->failed) {
        free(q);
        free(j);
        send_join_response(n, reply, n->failed ? node_failed_status(n) : NODE_ESHUTDOWN);
        return;
    }
    *j = (join_reply_t){ n, reply };
    q->kind = REQ_ADD;
    memcpy(q->name, name, nl);
    memcpy(q->addr, addr, al);
    q->deadline_ms = loop_now_ms() + JOIN_TIMEOUT_MS;
    q->done = join_done;
    q->done_arg = j;
    log_info("raft", "%s asks to join from %s (authenticated)", q->name, q->addr);
    node_req_start(n, q);
}

/* ---- requests from other threads ------------------------------------------------------------ */

static request_t *request_new(req_kind_t kind, unsigned timeout_ms, node_done_fn done, void *arg)
{
    request_t *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->kind = kind;
    q->deadline_ms = loop_now_ms() + timeout_ms;
    q->done = done;
    q->done_arg = arg;
    return q;
}

/* Queues q for the Raft thread (which from then on owns it and answers it
 * through its callback), or frees it and returns NODE_ESHUTDOWN. */
static node_status_t submit(node_t *n, request_t *q)
{
    pthread_mutex_lock(&n->mu);
    if (n->stopping) {
        pthread_mutex_unlock(&n->mu);
        request_free(q);
        return NODE_ESHUTDOWN;
    }
    /* Only the request that finds the queue empty wakes the loop: the Raft
     * thread drains the whole queue on that wake-up, so under load one
     * eventfd write serves a burst of proposals instead of one each. */
    bool first = handoff_push(&n->incoming, &q->link);
    pthread_mutex_unlock(&n->mu);
    if (first)
        loop_wake(n->loop);
    return NODE_OK;
}

node_status_t node_submit_proposal(node_t *n, const void *data, size_t len, unsigned timeout_ms,
                                   node_done_fn done, void *arg)
{
    request_t *q = request_new(REQ_PROPOSE, timeout_ms, done, arg);
    if (!q || !(q->data = malloc(len ? len : 1))) {
        free(q);
        return NODE_EIO;
    }
    memcpy(q->data, data, len);
    q->len = len;
    return submit(n, q);
}

node_status_t node_propose_async(node_t *n, const void *data, size_t len, unsigned timeout_ms,
                                 node_done_fn done, void *arg)
{
    /* Cluster entries are the node's own (identity.h): no caller may forge one. */
    if (cluster_entry_marked(data, len))
        return NODE_EINVAL;
    return node_submit_proposal(n, data, len, timeout_ms, done, arg);
}

node_status_t node_read_barrier_async(node_t *n, unsigned timeout_ms, node_done_fn done, void *arg)
{
    request_t *q = request_new(REQ_READ, timeout_ms, done, arg);
    return q ? submit(n, q) : NODE_EIO;
}

/* ---- the blocking calls: an asynchronous request and a waiter ---------------------------- */

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int refs;                  /* the calling thread and the callback */
    bool done;
    node_status_t status;
    uint8_t *result;
    size_t result_len;
    node_status_info_t info;   /* node_status fills this */
} waiter_t;

static waiter_t *waiter_new(void)
{
    waiter_t *w = calloc(1, sizeof *w);
    if (!w)
        return NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cond, NULL);
    w->refs = 2;
    return w;
}

static void waiter_unref(waiter_t *w)
{
    pthread_mutex_lock(&w->mu);
    bool last = --w->refs == 0;
    pthread_mutex_unlock(&w->mu);
    if (!last)
        return;
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cond);
    free(w->result);
    free(w);
}

static void waiter_done(void *arg, node_status_t status, uint8_t *result, size_t result_len)
{
    waiter_t *w = arg;
    pthread_mutex_lock(&w->mu);
    w->done = true;
    w->status = status;
    w->result = result;
    w->result_len = result_len;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mu);
    waiter_unref(w);
}

/* Submits q (whose callback is waiter_done(w)) and waits for its answer, a
 * little past its deadline: the Raft thread answers every request by then,
 * and node_shutdown answers all of them at once. */
static node_status_t submit_and_wait(node_t *n, request_t *q, waiter_t *w, uint8_t **result,
                                     size_t *result_len)
{
    if (result)
        *result = NULL;
    if (result_len)
        *result_len = 0;
    uint64_t wait_ms = q->deadline_ms - loop_now_ms() + 2000;
    node_status_t st = submit(n, q);
    if (st != NODE_OK) {
        waiter_unref(w); /* the callback's reference: it will never run */
        waiter_unref(w);
        return st;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(wait_ms / 1000);
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&w->mu);
    while (!w->done)
        if (pthread_cond_timedwait(&w->cond, &w->mu, &until) == ETIMEDOUT)
            break;
    st = w->done ? w->status : NODE_ETIMEOUT;
    if (w->done && result && w->result) {
        *result = w->result;
        if (result_len)
            *result_len = w->result_len;
        w->result = NULL;
    }
    pthread_mutex_unlock(&w->mu);
    waiter_unref(w);
    return st;
}

/* A request of `kind` answered to a new waiter; NULL when out of memory. */
static request_t *waited_request(req_kind_t kind, unsigned timeout_ms, waiter_t **w)
{
    *w = waiter_new();
    request_t *q = *w ? request_new(kind, timeout_ms, waiter_done, *w) : NULL;
    if (!q && *w) {
        (*w)->refs = 1;
        waiter_unref(*w);
    }
    return q;
}

node_status_t node_propose(node_t *n, const void *data, size_t len, unsigned timeout_ms,
                           uint8_t **result, size_t *result_len)
{
    if (cluster_entry_marked(data, len))
        return NODE_EINVAL; /* the node's own entries (identity.h) */
    waiter_t *w;
    request_t *q = waited_request(REQ_PROPOSE, timeout_ms, &w);
    if (!q)
        return NODE_EIO;
    if (!(q->data = malloc(len ? len : 1))) {
        request_free(q);
        w->refs = 1;
        waiter_unref(w);
        return NODE_EIO;
    }
    memcpy(q->data, data, len);
    q->len = len;
    return submit_and_wait(n, q, w, result, result_len);
}

node_status_t node_read_barrier(node_t *n, unsigned timeout_ms)
{
    waiter_t *w;
    request_t *q = waited_request(REQ_READ, timeout_ms, &w);
    return q ? submit_and_wait(n, q, w, NULL, NULL) : NODE_EIO;
}

static node_status_t named_request(node_t *n, req_kind_t kind, const char *name, const char *addr,
                                   unsigned timeout_ms)
{
    if ((name && strlen(name) >= ADDRBOOK_NAME_MAX) || (addr && strlen(addr) >= ADDRBOOK_ADDR_MAX))
        return NODE_EINVAL;
    waiter_t *w;
    request_t *q = waited_request(kind, timeout_ms, &w);
    if (!q)
        return NODE_EIO;
    snprintf(q->name, sizeof q->name, "%s", name ? name : "");
    snprintf(q->addr, sizeof q->addr, "%s", addr ? addr : "");
    return submit_and_wait(n, q, w, NULL, NULL);
}

node_status_t node_add_server(node_t *n, const char *name, const char *addr, unsigned timeout_ms)
{
    if (!name || !name[0] || !addr || !addr[0] || strchr(name, ' ') || strchr(addr, ' '))
        return NODE_EINVAL;
    return named_request(n, REQ_ADD, name, addr, timeout_ms);
}

node_status_t node_remove_server(node_t *n, const char *name, unsigned timeout_ms)
{
    if (!name || !name[0])
        return NODE_EINVAL;
    return named_request(n, REQ_REMOVE, name, NULL, timeout_ms);
}

node_status_t node_transfer(node_t *n, const char *name, unsigned timeout_ms)
{
    return named_request(n, REQ_TRANSFER, name, NULL, timeout_ms);
}

node_status_t node_status(node_t *n, node_status_info_t *out)
{
    waiter_t *w;
    request_t *q = waited_request(REQ_STATUS, 2000, &w);
    if (!q)
        return NODE_EIO;
    /* Filled into the waiter, which outlives a caller that gave up. */
    q->info = &w->info;
    pthread_mutex_lock(&w->mu);
    w->refs++; /* ours, to copy the info out after submit_and_wait */
    pthread_mutex_unlock(&w->mu);
    node_status_t st = submit_and_wait(n, q, w, NULL, NULL);
    if (st == NODE_OK) {
        pthread_mutex_lock(&w->mu);
        *out = w->info;
        pthread_mutex_unlock(&w->mu);
    }
    waiter_unref(w);
    return st;
}

