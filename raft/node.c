/* raft/node.c — the Raft thread: drives the core (raft.h) with ticks,
 * messages and requests, carries out its Ready batches (node_disk.c for
 * the disk, transport.c for peers), applies committed entries to the state
 * machine, and answers the threads waiting on requests (node.h).
 *
 * Requests. Another thread fills a request_t, queues it under n->mu and
 * wakes the loop (one eventfd write per burst: only the request that finds
 * the queue empty wakes it). The Raft thread starts it (req_start): a
 * proposal becomes a log entry whose (index, term) the request then waits
 * for among committed entries; a read becomes a ReadIndex context; a
 * membership change a config entry. A follower sends proposals and
 * membership changes to the leader as a forwarded request (FWD_REQ frame)
 * and finishes when the leader's FWD_RESP arrives and its own state machine
 * has applied that index, so a client that wrote through a follower reads
 * its write there.
 *
 * Completion is a callback (node_done_fn), never a blocked thread: a
 * finished request goes on n->finished, and deliver_finished calls the
 * callbacks back to back at the points where the Raft thread is about to
 * block (before an fsync, at the end of a loop iteration). So the requests
 * of one batch reach their caller together, which lets an event-loop caller
 * (kv/adminserver.c) be woken once per batch instead of once per request.
 * The blocking calls (node_propose...) are thin wrappers: a waiter with a
 * condition variable, shared by the caller and the callback (refs = 2,
 * whoever lets go last frees it), so a caller that times out never leaves
 * the callback a dangling pointer.
 *
 * Group commit: messages and requests only feed the core; the Ready batch
 * is processed once per loop iteration (after_batch), so every proposal and
 * append that arrived together shares one fsync. */
#include "raft/node.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "raft/addrbook.h"
#include "raft/crc32c.h"
#include "raft/storage_io.h"
#include "raft/loop.h"
#include "raft/node_disk.h"
#include "raft/node_identity.h"
#include "raft/transport.h"

enum {
    FRAME_FWD_REQ = RAFT_FRAME_APP_MIN,
    FRAME_FWD_RESP,
    FRAME_CLUSTER,   /* node_identity.h */
    MAX_FORWARD_TIMEOUT_MS = 60000,
    JOIN_TIMEOUT_MS = 10000,
};

typedef enum req_kind { REQ_PROPOSE = 1, REQ_READ, REQ_ADD, REQ_REMOVE, REQ_TRANSFER, REQ_STATUS } req_kind_t;

typedef enum req_wait {
    WAIT_NONE,
    WAIT_RETRY,    /* no usable leader yet: start again on the next tick */
    WAIT_COMMIT,   /* for the entry (index, term) to be applied */
    WAIT_READ,     /* for the read state with our ctx */
    WAIT_APPLIED,  /* for applied >= index */
    WAIT_FORWARD,  /* for the leader's FWD_RESP */
    WAIT_TRANSFER, /* for another node to lead */
} req_wait_t;

typedef struct request {
    req_kind_t kind;
    uint8_t *data;
    size_t len;
    char name[ADDRBOOK_NAME_MAX];
    char addr[ADDRBOOK_ADDR_MAX];
    uint64_t deadline_ms;
    raft_id_t origin;         /* nonzero: forwarded by that follower */
    uint64_t fwd_id;          /* its id there, or ours when we forward */
    raft_id_t fwd_to;         /* the leader we forwarded it to (WAIT_FORWARD) */
    /* completion: done(done_arg, ...) runs once, from deliver_finished */
    node_done_fn done;
    void *done_arg;
    node_status_t status;
    uint8_t *result;          /* the state machine's reply, handed to done */
    size_t result_len;
    node_status_info_t *info; /* REQ_STATUS: filled on the Raft thread */
    /* Raft thread only */
    req_wait_t wait;
    raft_index_t index;
    raft_term_t term;
    uint64_t ctx;
    struct request *next;
} request_t;

struct node {
    node_options_t o;
    char name[ADDRBOOK_NAME_MAX];
    char listen[ADDRBOOK_ADDR_MAX];
    char advertise[ADDRBOOK_ADDR_MAX];
    char data_dir[512];
    raft_id_t id;
    raft_t *r;
    node_disk_t disk;
    node_identity_t ident;    /* whose data dir this is (node_identity.h) */
    loop_t *loop;
    transport_t *tr;
    addrbook_t book;
    pthread_t thread;
    bool thread_started;
    bool failed;              /* storage failed: the node stopped taking part */
    bool was_empty;           /* nothing on disk at start */
    bool book_dirty;          /* address book changed since last saved */
    /* shared with other threads */
    pthread_mutex_t mu;
    request_t *incoming;
    bool stopping;
    /* Raft thread only */
    request_t *pending;
    request_t *finished, **finished_tail; /* answered, callbacks not yet run */
    uint64_t next_ctx;
    uint64_t last_heard[ADDRBOOK_MAX];
    raft_id_t heard_id[ADDRBOOK_MAX];
    uint64_t start_ms;
    /* what pending_sweep callbacks look at (Raft thread only) */
    const raft_entry_t *sweep_entry;
    uint8_t *sweep_result;
    size_t sweep_result_len;
    raft_index_t sweep_applied;
    uint64_t bytes_since_snapshot; /* log bytes applied since the last one */
    /* last role and leader logged */
    raft_role_t logged_role;
    raft_id_t logged_leader;
    raft_term_t logged_term;
};

const char *node_status_text(node_status_t s)
{
    switch (s) {
    case NODE_OK: return "ok";
    case NODE_ENOLEADER: return "no leader";
    case NODE_ETIMEOUT: return "timeout (the request may still take effect)";
    case NODE_ELOST: return "leadership changed before the request committed; not applied";
    case NODE_ESHUTDOWN: return "shutting down";
    case NODE_ETOOBIG: return "request too large";
    case NODE_EBUSY: return "a membership change or leadership transfer is in progress";
    case NODE_EINVAL: return "invalid request";
    case NODE_EIO: return "storage failure: this node refuses writes";
    case NODE_EMAYBE: return "the leader changed while the request was in flight; it may still take effect";
    }
    return "unknown";
}

raft_id_t node_id_from_name(const char *name) { return addrbook_id_of(name); }

/* ---- completing requests ---------------------------------------------------------- */

static void request_free(request_t *q)
{
    free(q->data);
    free(q->result);
    free(q);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* FWD_RESP: type | fwd id u64 | status u8 | applied index u64 | result */
static void send_forward_response(node_t *n, const request_t *q)
{
    size_t len = 1 + 8 + 1 + 8 + q->result_len;
    uint8_t *b = malloc(len);
    if (!b)
        return;
    b[0] = FRAME_FWD_RESP;
    put_u64(b + 1, q->fwd_id);
    b[9] = (uint8_t)q->status;
    put_u64(b + 10, q->index);
    if (q->result_len)
        memcpy(b + 18, q->result, q->result_len);
    transport_send_app(n->tr, q->origin, b, len);
    free(b);
}

/* Ends a request the Raft thread holds (it must already be unlinked): a
 * forwarded one is answered to its follower now; a local one waits on
 * n->finished for deliver_finished. */
static void req_finish(node_t *n, request_t *q, node_status_t status)
{
    q->status = status;
    q->wait = WAIT_NONE;
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
static void deliver_finished(node_t *n)
{
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
static void pending_sweep(node_t *n, bool (*done)(node_t *, request_t *, node_status_t *))
{
    request_t **pp = &n->pending;
    while (*pp) {
        request_t *q = *pp;
        node_status_t st;
        if (done(n, q, &st)) {
            *pp = q->next;
            req_finish(n, q, st);
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

static bool member(const node_t *n, raft_id_t id)
{
    const raft_members_t *m = raft_members(n->r);
    return raft_members_is_voter(m, id) || raft_members_is_learner(m, id);
}

static int leader_add(node_t *n, request_t *q)
{
    raft_id_t id = addrbook_id_of(q->name);
    const addrbook_entry_t *e = addrbook_get(&n->book, id);
    if (member(n, id)) {
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
        if (!member(n, id))
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
    put_u64(b + 1, q->fwd_id);
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

static void req_start(node_t *n, request_t *q)
{
    if (n->failed) {
        req_finish(n, q, NODE_EIO);
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
            req_finish(n, q, NODE_OK);
        } else if (rc == RAFT_OK) {
            q->term = raft_term(n->r);
            q->wait = q->kind == REQ_TRANSFER ? WAIT_TRANSFER : WAIT_COMMIT;
            pending_add(n, q);
        } else if (rc == RAFT_EBUSY || rc == RAFT_ENOTLEADER) {
            q->wait = WAIT_RETRY;
            pending_add(n, q);
        } else {
            req_finish(n, q, status_of(rc));
        }
        return;
    }
    if (q->kind == REQ_TRANSFER && q->origin == 0 && !q->name[0]) {
        req_finish(n, q, NODE_OK); /* not leading: nothing to hand over */
        return;
    }
    if (q->origin) {
        /* A forwarded request reached a node that no longer leads: no
         * second hop; the follower retries with the new leader. */
        req_finish(n, q, NODE_ENOLEADER);
        return;
    }
    q->wait = forward_to_leader(n, q) ? WAIT_FORWARD : WAIT_RETRY;
    pending_add(n, q);
}

static void fill_status(node_t *n, node_status_info_t *s);

static void drain_incoming(node_t *n)
{
    pthread_mutex_lock(&n->mu);
    request_t *q = n->incoming;
    n->incoming = NULL;
    pthread_mutex_unlock(&n->mu);
    /* The queue is LIFO; restore arrival order so proposals keep theirs. */
    request_t *rev = NULL;
    while (q) {
        request_t *next = q->next;
        q->next = rev;
        rev = q;
        q = next;
    }
    for (q = rev; q;) {
        request_t *next = q->next;
        q->next = NULL;
        if (!n->thread_started) {
            req_finish(n, q, NODE_ESHUTDOWN);
        } else if (q->kind == REQ_STATUS) {
            fill_status(n, q->info);
            req_finish(n, q, NODE_OK);
        } else {
            req_start(n, q);
        }
        q = next;
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
    q->fwd_id = get_u64(b + 1);
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
    req_start(n, q);
}

static void on_forward_response(node_t *n, const uint8_t *b, size_t len)
{
    if (len < 18)
        return;
    uint64_t fwd_id = get_u64(b + 1);
    node_status_t st = (node_status_t)b[9];
    raft_index_t index = get_u64(b + 10);
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
        req_finish(n, q, st);
        return;
    }
}

static void send_cluster_frame(node_t *n, raft_id_t to, bool ask)
{
    uint8_t b[CLUSTER_FRAME_LEN];
    transport_send_app(n->tr, to, b, node_identity_frame(&n->ident, FRAME_CLUSTER, ask, b));
}

static const char *name_of(const node_t *n, raft_id_t id);

static void on_cluster_frame(node_t *n, raft_id_t from, const uint8_t *body, size_t len)
{
    bool answer = false;
    node_identity_on_frame(&n->ident, from, name_of(n, from), body, len, loop_now_ms(), &answer);
    if (answer)
        send_cluster_frame(n, from, false);
}

static void on_app_frame(void *ctx, raft_id_t from, const uint8_t *body, size_t len)
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

static void on_join(void *ctx, const raft_hello_t *from, transport_reply_t reply,
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
        send_join_response(n, reply, n->failed ? NODE_EIO : NODE_ESHUTDOWN);
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
    req_start(n, q);
}

/* ---- applying --------------------------------------------------------------------- */


static bool sweep_committed_entry(node_t *n, request_t *q, node_status_t *st)
{
    if (q->wait != WAIT_COMMIT || q->index != n->sweep_entry->index)
        return false;
    if (q->term != n->sweep_entry->term) {
        *st = NODE_ELOST; /* another leader's entry took that index (§5.3) */
        return true;
    }
    if (n->sweep_result) {
        q->result = n->sweep_result;
        q->result_len = n->sweep_result_len;
        n->sweep_result = NULL;
    }
    *st = NODE_OK;
    return true;
}

static bool sweep_applied(node_t *n, request_t *q, node_status_t *st)
{
    if (q->wait == WAIT_APPLIED && q->index <= n->sweep_applied) {
        *st = NODE_OK;
        return true;
    }
    /* An entry we waited for was replaced by an installed snapshot: it may
     * or may not be in it. */
    if (q->wait == WAIT_COMMIT && q->index <= n->sweep_applied) {
        *st = NODE_ETIMEOUT;
        return true;
    }
    return false;
}

static void apply_entry(node_t *n, const raft_entry_t *e)
{
    n->bytes_since_snapshot += e->len;
    n->sweep_result = NULL;
    n->sweep_result_len = 0;
    bool conflict = false;
    bool cluster_entry = node_identity_apply(&n->ident, e, &conflict);
    if (conflict)
        log_error("raft", "entry %llu names another cluster than this data dir's; not applied",
                  (unsigned long long)e->index);
    if (e->type == RAFT_ENTRY_NORMAL && n->o.fsm.apply && !cluster_entry)
        n->o.fsm.apply(n->o.fsm.ctx, e->index, e->data, e->len, &n->sweep_result, &n->sweep_result_len);
    n->sweep_entry = e;
    pending_sweep(n, sweep_committed_entry);
    free(n->sweep_result);
    n->sweep_result = NULL;
}

/* Records where a member is; true if that changed what we knew. */
static bool learn_address(node_t *n, raft_id_t id, const char *name, const char *addr)
{
    if (addrbook_set(&n->book, id, name, addr) <= 0)
        return false;
    n->book_dirty = true;
    return true;
}

/* The address book is also kept in DIR/peers (CRC32C | encoding), because
 * some addresses are learnt only from hellos: the founding node's, which no
 * configuration entry names. A restarted node then knows whom to call even
 * before anyone calls it. It is a cache: a damaged file is ignored. */
static void save_address_book(node_t *n)
{
    uint8_t *buf = malloc(4 + addrbook_encoded_max());
    if (!buf)
        return;
    size_t len = addrbook_encode(&n->book, buf + 4);
    storage_put_le32(buf, crc32c(0, buf + 4, len));
    struct storage_error se = { 0 };
    if (storage_write_file_atomic(n->data_dir, "peers", buf, 4 + len, &se) == 0)
        n->book_dirty = false;
    else
        log_warn("raft", "cannot save the peer addresses: %s", se.msg);
    free(buf);
}

static void load_address_book(node_t *n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/peers", n->data_dir);
    uint8_t *buf = NULL;
    size_t len = 0;
    struct storage_error se = { 0 };
    if (storage_read_file(path, 4 + addrbook_encoded_max(), &buf, &len, &se) != 0)
        return;
    addrbook_t book;
    if (len < 4 || storage_get_le32(buf) != crc32c(0, buf + 4, len - 4) ||
        addrbook_decode(&book, buf + 4, len - 4) != (long)(len - 4)) {
        log_warn("raft", "%s is damaged; ignoring it (addresses are learnt again)", path);
    } else {
        for (size_t i = 0; i < book.n; i++)
            if (book.e[i].id != n->id)
                learn_address(n, book.e[i].id, book.e[i].name, book.e[i].addr);
    }
    free(buf);
}

static void learn_config(node_t *n, const raft_entry_t *e)
{
    raft_members_t m;
    const uint8_t *ctx;
    size_t ctx_len;
    char name[ADDRBOOK_NAME_MAX], addr[ADDRBOOK_ADDR_MAX];
    if (raft_config_decode(e->data, e->len, &m, &ctx, &ctx_len) != 0)
        return;
    if (ctx_len && addrbook_parse_ctx(ctx, ctx_len, name, addr) == 0) {
        raft_id_t id = addrbook_id_of(name);
        learn_address(n, id, name, addr);
        transport_set_peer(n->tr, id, addr);
    }
}

static bool is_member(const raft_members_t *m, raft_id_t id)
{
    return raft_members_is_voter(m, id) || raft_members_is_learner(m, id);
}

/* Whom this node talks to: the members of its latest configuration, and
 * the leader it follows even once that leader is out of it (thesis §4.2.2:
 * a leader that removes itself manages the cluster until the change
 * commits, so its followers must still answer it). */
static raft_members_t peers_to_keep(const node_t *n)
{
    raft_members_t keep = *raft_members(n->r);
    raft_id_t leader = raft_leader(n->r);
    if (leader && !is_member(&keep, leader) && keep.n_learners < RAFT_MAX_MEMBERS)
        keep.learners[keep.n_learners++] = leader;
    return keep;
}

/* The peer table is sized by the configuration (thesis §4.1: a server uses
 * the latest configuration in its log): once this node knows one, whoever
 * left it is no longer called nor remembered. A node that knows none yet (a
 * joiner waiting for its first entries) keeps what hellos told it. */
static void forget_non_members(node_t *n)
{
    raft_members_t keep = peers_to_keep(n);
    if (keep.n_voters == 0)
        return;
    size_t before = n->book.n;
    addrbook_retain(&n->book, &keep, n->id);
    if (n->book.n != before)
        n->book_dirty = true;
    transport_retain_peers(n->tr, &keep);
}

static void connect_members(node_t *n)
{
    const raft_members_t *m = raft_members(n->r);
    forget_non_members(n);
    for (int pass = 0; pass < 2; pass++) {
        uint32_t cnt = pass ? m->n_learners : m->n_voters;
        const raft_id_t *ids = pass ? m->learners : m->voters;
        for (uint32_t i = 0; i < cnt; i++) {
            const addrbook_entry_t *e = addrbook_get(&n->book, ids[i]);
            if (e && ids[i] != n->id)
                transport_set_peer(n->tr, ids[i], e->addr);
        }
    }
}

static int restore_fsm(node_t *n, const uint8_t *data, size_t len);

/* ---- the Ready batch (raft.h contract) ----------------------------------------------- */

static void fail_node(node_t *n, const char *what)
{
    log_error("raft", "%s: this node stops taking part in Raft (DNS keeps serving the last "
              "applied state); fix the disk and restart it", what);
    n->failed = true;
    request_t *q;
    while ((q = n->pending)) {
        n->pending = q->next;
        req_finish(n, q, NODE_EIO);
    }
}

static void serve_reads(node_t *n, const raft_ready_t *rd)
{
    for (size_t i = 0; i < rd->n_reads; i++)
        for (request_t *q = n->pending; q; q = q->next)
            if (q->wait == WAIT_READ && q->ctx == rd->reads[i].ctx) {
                q->wait = WAIT_APPLIED; /* thesis §6.4 step 4: wait to apply readIndex */
                q->index = rd->reads[i].index;
            }
}

static bool is_replication(const raft_msg_t *m)
{
    return m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT;
}

/* Sends the batch's replication messages (replication = true) or all the
 * others. */
static void send_messages(node_t *n, const raft_ready_t *rd, bool replication)
{
    for (size_t i = 0; i < rd->n_msgs; i++)
        if (is_replication(&rd->msgs[i]) == replication)
            transport_send(n->tr, &rd->msgs[i]);
}

static const char *name_of(const node_t *n, raft_id_t id)
{
    const addrbook_entry_t *e = addrbook_get(&n->book, id);
    return e && e->name[0] ? e->name : "?";
}

/* One line whenever this node's view of the leadership changes. */
static void log_role_change(node_t *n, const raft_ready_t *rd)
{
    raft_term_t term = raft_term(n->r);
    if (rd->role == n->logged_role && rd->leader == n->logged_leader)
        return;
    if (rd->role == RAFT_LEADER)
        log_info("raft", "%s is the leader of term %llu", n->name, (unsigned long long)term);
    else if (rd->leader && rd->leader != n->logged_leader)
        log_info("raft", "following %s in term %llu", name_of(n, rd->leader),
                 (unsigned long long)term);
    else if (rd->role == RAFT_CANDIDATE && n->logged_role != RAFT_CANDIDATE)
        log_info("raft", "no leader heard: campaigning in term %llu", (unsigned long long)term);
    n->logged_role = rd->role;
    n->logged_leader = rd->leader;
    n->logged_term = term;
}

/* A request forwarded to a leader that is no longer the leader (it died or
 * was deposed) would otherwise wait for a FWD_RESP that never comes, until
 * its deadline (seconds). Hand it back at once as "no leader": the entry may
 * or may not have been appended there, and the caller retries the same
 * bytes, which its session dedup applies at most once (kv/cluster.c). */
static bool sweep_lost_forward(node_t *n, request_t *q, node_status_t *st)
{
    raft_id_t leader = raft_leader(n->r);
    if (q->wait != WAIT_FORWARD || q->fwd_to == leader)
        return false;
    /* A forwarded transfer moves the leadership on purpose: while the
     * target campaigns (no leader known) keep waiting; once it leads, the
     * transfer is done even if the old leader's answer never arrives. */
    if (q->kind == REQ_TRANSFER) {
        if (!leader)
            return false;
        if (!q->name[0] || leader == addrbook_id_of(q->name)) {
            *st = NODE_OK;
            return true;
        }
    }
    *st = NODE_EMAYBE;
    return true;
}

/* How many of rd's committed entries precede everything this batch writes
 * (new entries, a truncation, a snapshot): those are durable here already,
 * from batches persisted before, and committed, so applying them does not
 * have to wait for this batch's fsync. A follower may learn a commit index
 * that covers entries of this very batch; those wait. */
static size_t committed_before_batch(const raft_ready_t *rd)
{
    if (rd->snapshot)
        return 0;
    raft_index_t first_written = 0;
    if (rd->n_entries)
        first_written = rd->entries[0].index;
    if (rd->truncate_from && (!first_written || rd->truncate_from < first_written))
        first_written = rd->truncate_from;
    size_t k = 0;
    while (k < rd->n_committed && (!first_written || rd->committed[k].index < first_written))
        k++;
    return k;
}

static void process_one_ready(node_t *n)
{
    raft_ready_t rd;
    raft_ready(n->r, &rd);
    if (rd.leader != n->logged_leader)
        pending_sweep(n, sweep_lost_forward);
    log_role_change(n, &rd);
    /* Thesis §10.2.1: a leader may send AppendEntries before its own disk
     * write finishes, because it counts itself towards a commit only once
     * its entries are durable (raft_advance). The term and vote they carry
     * must be durable already, so this holds only when neither changed. */
    bool early = rd.role == RAFT_LEADER && (!rd.hard_state_changed ||
                 (rd.hard_state.term == n->disk.saved.term &&
                  rd.hard_state.vote == n->disk.saved.vote));
    if (early) {
        send_messages(n, &rd, true);
        transport_flush(n->tr); /* on their way while we sync */
    }
    /* Committed entries already in the durable log are applied (and their
     * clients answered) before this batch's fsync, not after it: otherwise
     * every commit waits for one more disk sync, the one for entries that
     * arrived meanwhile, and commit latency doubles under load. */
    size_t applied_early = committed_before_batch(&rd);
    for (size_t i = 0; i < applied_early; i++)
        apply_entry(n, &rd.committed[i]);
    if (applied_early) {
        n->sweep_applied = rd.committed[applied_early - 1].index;
        pending_sweep(n, sweep_applied);
    }
    deliver_finished(n); /* answer them before the fsync below blocks us */
    char why[STORAGE_ERROR_MAX];
    if (node_identity_check(&n->ident, &rd, why, sizeof why) != 0) {
        fail_node(n, why); /* nothing of it written */
        return;
    }
    struct storage_error se = { 0 };
    if (node_disk_persist(&n->disk, &rd, &se) != 0) {
        fail_node(n, se.msg);
        return;
    }
    if (rd.snapshot && restore_fsm(n, rd.snapshot->data, rd.snapshot->len) != 0) {
        fail_node(n, "cannot restore the state machine from the leader's snapshot");
        return;
    }
    if (rd.snapshot)
        log_info("raft", "installed the leader's snapshot at index %llu term %llu (%zu bytes)",
                 (unsigned long long)rd.snapshot->index, (unsigned long long)rd.snapshot->term,
                 rd.snapshot->len);
    for (size_t i = 0; i < rd.n_entries; i++)
        if (rd.entries[i].type == RAFT_ENTRY_CONFIG)
            learn_config(n, &rd.entries[i]);
    /* Only now that everything above is durable may the other messages
     * leave (Figure 2: respond after updating stable storage). */
    send_messages(n, &rd, early ? false : true);
    if (!early)
        send_messages(n, &rd, false);
    transport_flush(n->tr);
    for (size_t i = applied_early; i < rd.n_committed; i++)
        apply_entry(n, &rd.committed[i]);
    serve_reads(n, &rd);
    raft_advance(n->r, &rd);
    n->sweep_applied = raft_applied(n->r);
    pending_sweep(n, sweep_applied);
}

/* Growable buffer behind the snapshot writer. */
typedef struct membuf_writer {
    raft_snap_writer_t w;
    uint8_t *data;
    size_t len, cap;
} membuf_writer_t;

static int membuf_write(raft_snap_writer_t *w, const void *data, size_t len)
{
    membuf_writer_t *m = (membuf_writer_t *)w;
    if (m->len + len > m->cap) {
        size_t cap = m->cap ? m->cap : 4096;
        while (cap < m->len + len)
            cap *= 2;
        uint8_t *d = realloc(m->data, cap);
        if (!d)
            return -1;
        m->data = d;
        m->cap = cap;
    }
    memcpy(m->data + m->len, data, len);
    m->len += len;
    return 0;
}

typedef struct membuf_reader {
    raft_snap_reader_t r;
    const uint8_t *data;
    size_t len, off;
} membuf_reader_t;

static long membuf_read(raft_snap_reader_t *r, void *buf, size_t cap)
{
    membuf_reader_t *m = (membuf_reader_t *)r;
    size_t n = m->len - m->off < cap ? m->len - m->off : cap;
    memcpy(buf, m->data + m->off, n);
    m->off += n;
    return (long)n;
}

static int restore_fsm(node_t *n, const uint8_t *data, size_t len)
{
    addrbook_t book;
    const uint8_t *fsm;
    size_t fsm_len;
    bool has_cluster = false;
    uint8_t cluster[CLUSTER_ID_LEN];
    if (node_envelope_split_cluster(data, len, &book, &fsm, &fsm_len, &has_cluster, cluster) != 0)
        return -1;
    if (node_identity_restore(&n->ident, has_cluster, cluster) != 0) {
        log_error("raft", "the snapshot belongs to another cluster than this data dir's");
        return -1;
    }
    for (size_t i = 0; i < book.n; i++) {
        learn_address(n, book.e[i].id, book.e[i].name, book.e[i].addr);
        transport_set_peer(n->tr, book.e[i].id, book.e[i].addr);
    }
    if (!n->o.fsm.restore)
        return 0;
    membuf_reader_t r = { { membuf_read }, fsm, fsm_len, 0 };
    return n->o.fsm.restore(n->o.fsm.ctx, &r.r);
}

/* raft_options_t.snapshot_check: a leader's snapshot must decode whole (the
 * address book envelope, then the state machine's bytes) before the core
 * lets it replace the log; restore_fsm later cannot fail on its content. */
static const char *check_snapshot(void *ctx, const raft_snapshot_t *s)
{
    node_t *n = ctx;
    addrbook_t book;
    const uint8_t *fsm;
    size_t fsm_len;
    if (node_envelope_split(s->data, s->len, &book, &fsm, &fsm_len) != 0)
        return "the address book envelope does not decode";
    if (!n->o.fsm.check)
        return NULL;
    membuf_reader_t r = { { membuf_read }, fsm, fsm_len, 0 };
    if (n->o.fsm.check(n->o.fsm.ctx, s->index, &r.r) != 0)
        return "the state machine cannot restore from it";
    return NULL;
}

/* §7: once enough entries are applied, snapshot the state machine and let
 * the core and the disk forget the log before it. */
static void maybe_snapshot(node_t *n)
{
    raft_index_t applied = raft_applied(n->r);
    if (!n->o.fsm.snapshot || applied <= raft_snapshot(n->r)->index)
        return;
    if (applied < raft_snapshot(n->r)->index + n->o.snapshot_every &&
        n->bytes_since_snapshot < n->o.snapshot_bytes)
        return;
    membuf_writer_t w = { { membuf_write }, NULL, 0, 0 };
    uint8_t book[8192 + CLUSTER_TRAILER_LEN];
    size_t blen = addrbook_encode(&n->book, book);
    if (n->ident.replicated) {
        cluster_trailer_encode(n->ident.file.cluster, book + blen);
        blen += CLUSTER_TRAILER_LEN;
    }
    uint8_t hdr[4] = { (uint8_t)blen, (uint8_t)(blen >> 8), (uint8_t)(blen >> 16),
                       (uint8_t)(blen >> 24) };
    if (membuf_write(&w.w, hdr, 4) != 0 || membuf_write(&w.w, book, blen) != 0 ||
        n->o.fsm.snapshot(n->o.fsm.ctx, &w.w) != 0) {
        log_warn("raft", "state machine snapshot failed; will retry later");
        free(w.data);
        return;
    }
    if (raft_compact(n->r, applied, w.data, w.len) == 0) {
        n->bytes_since_snapshot = 0;
        struct storage_error se = { 0 };
        if (node_disk_save_snapshot(&n->disk, raft_snapshot(n->r), &se) != 0)
            log_warn("raft", "writing snapshot at %llu failed: %s (the log is kept)",
                     (unsigned long long)applied, se.msg);
        else
            log_info("raft", "snapshot at index %llu (%zu bytes)", (unsigned long long)applied,
                     w.len);
    }
    free(w.data);
}

static void after_batch(void *ctx)
{
    node_t *n = ctx;
    while (!n->failed && raft_has_ready(n->r))
        process_one_ready(n);
    deliver_finished(n);
    if (!n->failed) {
        connect_members(n);
        maybe_snapshot(n);
        if (n->book_dirty)
            save_address_book(n);
    }
    transport_flush(n->tr); /* what the events queued (forwarded requests...) */
}

/* ---- events ------------------------------------------------------------------------- */

static void note_heard(node_t *n, raft_id_t id)
{
    size_t free_slot = ADDRBOOK_MAX;
    for (size_t i = 0; i < ADDRBOOK_MAX; i++) {
        if (n->heard_id[i] == id) {
            n->last_heard[i] = loop_now_ms();
            return;
        }
        if (!n->heard_id[i] && free_slot == ADDRBOOK_MAX)
            free_slot = i;
    }
    if (free_slot < ADDRBOOK_MAX) {
        n->heard_id[free_slot] = id;
        n->last_heard[free_slot] = loop_now_ms();
    }
}

static void on_message(void *ctx, const raft_msg_t *m)
{
    node_t *n = ctx;
    if (n->failed)
        return;
    bool ask = false;
    if (!node_identity_admit(&n->ident, m->from, loop_now_ms(), &ask)) {
        if (ask)
            send_cluster_frame(n, m->from, true);
        return;
    }
    note_heard(n, m->from);
    raft_step(n->r, m);
}

/* What a hello may teach (issue #12): only about a member of the current
 * configuration (or the leader we follow, peers_to_keep), or about anyone
 * while this node knows no configuration yet (a joiner learns the
 * founder's address so, which no configuration entry names). It may fill
 * in an unknown address; changing a known one needs an authenticated
 * hello, or anyone could redirect a member's traffic. False refuses the
 * connection. */
static bool on_hello(void *ctx, const raft_hello_t *h)
{
    node_t *n = ctx;
    if (h->id != addrbook_id_of(h->name) || h->id == n->id) {
        log_debug("raft", "peer %s at %s sent %s; refused", h->name, h->addr,
                  h->id == n->id ? "our own id" : "an id that is not its name's");
        return false;
    }
    raft_members_t keep = peers_to_keep(n);
    if (keep.n_voters > 0 && !is_member(&keep, h->id)) {
        /* A key holder that is not a member (yet): a joiner, whose JOIN_REQ
         * comes on this connection and is answered on it. It may stay
         * connected but gets no peer-table or address-book entry. */
        if (h->authenticated)
            return true;
        log_debug("raft", "hello from %s at %s, not a member; refused", h->name, h->addr);
        return false;
    }
    const addrbook_entry_t *e = addrbook_get(&n->book, h->id);
    if (e && e->addr[0] && strcmp(e->addr, h->addr) != 0 && !h->authenticated) {
        log_debug("raft", "unauthenticated hello from %s says %s, known at %s; address kept",
                  h->name, h->addr, e->addr);
        return true;
    }
    if (learn_address(n, h->id, h->name, h->addr))
        log_debug("raft", "peer %s is at %s", h->name, h->addr);
    transport_set_peer(n->tr, h->id, h->addr);
    node_identity_peer_reset(&n->ident, h->id); /* a new connection: ask again */
    send_cluster_frame(n, h->id, true);
    return true;
}

static void on_text_conn(void *ctx, int fd, const uint8_t *first, size_t len)
{
    node_t *n = ctx;
    if (n->o.on_text_conn)
        n->o.on_text_conn(n->o.text_ctx, fd, first, len);
    else
        close(fd);
}

static bool sweep_expired(node_t *n, request_t *q, node_status_t *st)
{
    uint64_t now = loop_now_ms();
    if (q->wait == WAIT_TRANSFER) {
        raft_id_t leader = raft_leader(n->r);
        if (leader && leader != n->id) {
            *st = NODE_OK;
            return true;
        }
    }
    if (now < q->deadline_ms)
        return false;
    *st = q->wait == WAIT_RETRY && !raft_leader(n->r) ? NODE_ENOLEADER : NODE_ETIMEOUT;
    return true;
}

static void retry_waiting(node_t *n)
{
    request_t *retry = NULL;
    for (request_t **pp = &n->pending; *pp;) {
        request_t *q = *pp;
        if (q->wait == WAIT_RETRY) {
            *pp = q->next;
            q->next = retry;
            retry = q;
        } else {
            pp = &q->next;
        }
    }
    while (retry) {
        request_t *q = retry;
        retry = q->next;
        q->next = NULL;
        req_start(n, q);
    }
}

/* Thesis §4.2.1: a learner becomes a voter only once it has caught up, so
 * adding it never leaves the cluster waiting on a node that is far behind. */
static void promote_caught_up_learners(node_t *n)
{
    if (raft_role(n->r) != RAFT_LEADER)
        return;
    const raft_members_t *m = raft_members(n->r);
    for (uint32_t i = 0; i < m->n_learners; i++) {
        raft_progress_t p;
        if (raft_progress(n->r, m->learners[i], &p) == 0 && p.caught_up) {
            const addrbook_entry_t *e = addrbook_get(&n->book, m->learners[i]);
            if (raft_promote(n->r, m->learners[i], NULL) == 0)
                log_info("raft", "promoting %s to voter (caught up at %llu)",
                         e ? e->name : "?", (unsigned long long)p.match);
            return; /* one change at a time (thesis §4.1) */
        }
    }
}

static void cluster_announced(void *arg, node_status_t status, uint8_t *result, size_t result_len)
{
    node_t *n = arg;
    (void)result_len;
    free(result);
    node_identity_announced(&n->ident, status == NODE_OK, loop_now_ms());
}

static node_status_t submit_proposal(node_t *n, const void *data, size_t len, unsigned timeout_ms,
                                     node_done_fn done, void *arg);

/* The founder proposes the cluster id once, and every node tells the
 * members its cluster id now and then (node_identity.h). */
static void announce_cluster(node_t *n)
{
    if (node_identity_frames_due(&n->ident, loop_now_ms())) {
        const raft_members_t *m = raft_members(n->r);
        for (uint32_t i = 0; i < m->n_voters + m->n_learners; i++) {
            raft_id_t id = i < m->n_voters ? m->voters[i] : m->learners[i - m->n_voters];
            if (id != n->id)
                send_cluster_frame(n, id, false);
        }
    }
    uint8_t entry[CLUSTER_ENTRY_LEN];
    if (!node_identity_should_announce(&n->ident, loop_now_ms(), entry))
        return;
    if (submit_proposal(n, entry, sizeof entry, (unsigned)n->o.election_ms * 10, cluster_announced,
                        n) != NODE_OK)
        node_identity_announced(&n->ident, false, loop_now_ms());
}

static void on_tick(void *ctx)
{
    node_t *n = ctx;
    transport_tick(n->tr);
    if (n->failed)
        return;
    raft_tick(n->r);
    announce_cluster(n);
    promote_caught_up_learners(n);
    retry_waiting(n);
    pending_sweep(n, sweep_expired);
}

static void on_wake(void *ctx)
{
    node_t *n = ctx;
    drain_incoming(n);
    pthread_mutex_lock(&n->mu);
    bool stop = n->stopping;
    pthread_mutex_unlock(&n->mu);
    if (stop)
        loop_stop(n->loop);
}

static void *raft_thread(void *arg)
{
    node_t *n = arg;
    int rc = loop_run(n->loop);
    if (rc != 0)
        log_error("raft", "event loop failed: %s", strerror(-rc));
    return NULL;
}

/* ---- status ---------------------------------------------------------------------------- */

static int64_t last_contact(const node_t *n, raft_id_t id)
{
    for (size_t i = 0; i < ADDRBOOK_MAX; i++)
        if (n->heard_id[i] == id)
            return (int64_t)(loop_now_ms() - n->last_heard[i]);
    return -1;
}

static void add_peer_status(node_t *n, node_status_info_t *s, raft_id_t id, bool voter)
{
    if (s->n_peers >= sizeof s->peers / sizeof s->peers[0])
        return;
    node_peer_status_t *p = &s->peers[s->n_peers++];
    memset(p, 0, sizeof *p);
    const addrbook_entry_t *e = addrbook_get(&n->book, id);
    p->id = id;
    p->voter = voter;
    p->self = id == n->id;
    snprintf(p->name, sizeof p->name, "%s", e ? e->name : "?");
    snprintf(p->addr, sizeof p->addr, "%s", p->self ? n->advertise : e ? e->addr : "?");
    raft_progress_t pr;
    if (p->self) {
        p->match = raft_last_index(n->r);
        p->last_contact_ms = 0;
    } else {
        p->match = raft_progress(n->r, id, &pr) == 0 ? pr.match : 0;
        p->last_contact_ms = last_contact(n, id);
    }
}

static void fill_status(node_t *n, node_status_info_t *s)
{
    memset(s, 0, sizeof *s);
    s->role = raft_role(n->r);
    s->term = raft_term(n->r);
    s->commit = raft_commit(n->r);
    s->applied = raft_applied(n->r);
    s->last_index = raft_last_index(n->r);
    s->snapshot_index = raft_snapshot(n->r)->index;
    node_identity_cluster_text(&n->ident, s->cluster_id);
    raft_id_t leader = raft_leader(n->r);
    const addrbook_entry_t *e = leader ? addrbook_get(&n->book, leader) : NULL;
    if (leader == n->id) {
        snprintf(s->leader_name, sizeof s->leader_name, "%s", n->name);
        snprintf(s->leader_addr, sizeof s->leader_addr, "%s", n->advertise);
    } else if (e) {
        snprintf(s->leader_name, sizeof s->leader_name, "%s", e->name);
        snprintf(s->leader_addr, sizeof s->leader_addr, "%s", e->addr);
    }
    const raft_members_t *m = raft_members(n->r);
    for (uint32_t i = 0; i < m->n_voters; i++)
        add_peer_status(n, s, m->voters[i], true);
    for (uint32_t i = 0; i < m->n_learners; i++)
        add_peer_status(n, s, m->learners[i], false);
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
    bool first = n->incoming == NULL;
    q->next = n->incoming;
    n->incoming = q;
    pthread_mutex_unlock(&n->mu);
    if (first)
        loop_wake(n->loop);
    return NODE_OK;
}

static node_status_t submit_proposal(node_t *n, const void *data, size_t len, unsigned timeout_ms,
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
    return submit_proposal(n, data, len, timeout_ms, done, arg);
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

/* ---- life cycle ------------------------------------------------------------------------------ */

static void set_defaults(node_options_t *o)
{
    if (!o->tick_ms)
        o->tick_ms = 10;
    if (!o->heartbeat_ms)
        o->heartbeat_ms = 50;
    if (!o->election_ms)
        o->election_ms = 150;
    /* etcd 3.4's default --snapshot-count: a snapshot serialises the whole
     * state machine on the Raft thread (tens of ms with a big zone), so it
     * should be rare; snapshot_bytes bounds the log in memory meanwhile. */
    if (!o->snapshot_every)
        o->snapshot_every = 100000;
    if (!o->snapshot_bytes)
        o->snapshot_bytes = 64u << 20;
}

/* DIR/founded marks the node that founded its cluster (see make_core). */
static int mark_founder(node_t *n, char *err, size_t err_len)
{
    struct storage_error se = { 0 };
    static const char text[] = "this node founded its cluster\n";
    if (storage_write_file_atomic(n->data_dir, "founded", text, sizeof text - 1, &se) != 0) {
        snprintf(err, err_len, "%s", se.msg);
        return -1;
    }
    return 0;
}

static bool is_founder(const node_t *n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/founded", n->data_dir);
    return access(path, F_OK) == 0;
}

static raft_t *make_core(node_t *n, char *err, size_t err_len)
{
    raft_options_t ro;
    raft_options_init(&ro);
    ro.id = n->id;
    ro.heartbeat_ticks = n->o.heartbeat_ms / n->o.tick_ms ? n->o.heartbeat_ms / n->o.tick_ms : 1;
    ro.election_ticks = n->o.election_ms / n->o.tick_ms;
    if (ro.election_ticks <= ro.heartbeat_ticks)
        ro.election_ticks = ro.heartbeat_ticks * 3;
    ro.seed = n->id ^ ((uint64_t)time(NULL) << 20) ^ (uint64_t)getpid();
    ro.bugs = n->o.bugs;
    ro.snapshot_check = check_snapshot;
    ro.snapshot_check_ctx = n;
    if (n->disk.fresh && n->o.bootstrap && mark_founder(n, err, err_len) != 0)
        return NULL;
    /* The founding configuration {self} is in no log entry, so a founder
     * passes it on every start; the core uses it only while the log and
     * snapshot hold no configuration (raft.h). A node that joined never
     * does: it learns its configuration from the leader. */
    if (is_founder(n)) {
        ro.bootstrap.n_voters = 1;
        ro.bootstrap.voters[0] = n->id;
        if (n->disk.fresh)
            log_info("raft", "empty data dir: founding a one-node cluster as %s", n->name);
    }
    int rerr = 0;
    raft_t *r = raft_new(&ro, &n->disk.rec, &rerr);
    if (!r)
        snprintf(err, err_len, "%s: cannot start Raft from the data on disk: %s", n->data_dir,
                 raft_strerror(rerr));
    return r;
}

/* A snapshot on disk that cannot be restored is corruption: starting with
 * an empty state at its index would serve (and, as leader, replicate)
 * nothing as if it were everything, so the node refuses to start. */
static int learn_recovered(node_t *n, char *err, size_t err_len)
{
    const raft_snapshot_t *s = &n->disk.rec.snapshot;
    if (s->index && restore_fsm(n, s->data, s->len) != 0) {
        snprintf(err, err_len, "%s: the snapshot at index %llu cannot be restored "
                 "(corrupt data dir?)", n->data_dir, (unsigned long long)s->index);
        return -1;
    }
    bool conflict;
    for (size_t i = 0; i < n->disk.rec.n_entries; i++) {
        if (n->disk.rec.entries[i].type == RAFT_ENTRY_CONFIG)
            learn_config(n, &n->disk.rec.entries[i]);
        node_identity_apply(&n->ident, &n->disk.rec.entries[i], &conflict);
    }
    return 0;
}

node_t *node_start(const node_options_t *opts, char *err, size_t err_len)
{
    node_t *n = calloc(1, sizeof *n);
    if (!n) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    n->o = *opts;
    set_defaults(&n->o);
    snprintf(n->name, sizeof n->name, "%s", opts->name);
    snprintf(n->listen, sizeof n->listen, "%s", opts->listen);
    snprintf(n->data_dir, sizeof n->data_dir, "%s", opts->data_dir);
    n->id = addrbook_id_of(n->name);
    n->start_ms = loop_now_ms();
    pthread_mutex_init(&n->mu, NULL);
    n->finished_tail = &n->finished;
    n->loop = loop_new(n->o.tick_ms, on_tick, on_wake, n);
    if (!n->loop) {
        snprintf(err, err_len, "cannot create the event loop");
        goto fail;
    }
    loop_set_after_batch(n->loop, after_batch);
    if (node_disk_open(&n->disk, n->data_dir, err, err_len) != 0 ||
        node_identity_open(&n->ident, n->data_dir, n->name, n->disk.fresh,
                           is_founder(n) || (n->disk.fresh && n->o.bootstrap), err, err_len) != 0)
        goto fail;
    raft_hello_t self = { .id = n->id };
    snprintf(self.name, sizeof self.name, "%s", n->name);
    snprintf(self.addr, sizeof self.addr, "%s", opts->advertise ? opts->advertise : "");
    transport_callbacks_t cb = { n, on_message, on_app_frame, on_hello, on_text_conn, on_join };
    n->tr = transport_new(n->loop, n->listen, &self, &cb, err, err_len);
    if (!n->tr)
        goto fail;
    if (opts->cluster_key)
        transport_set_key_ring(n->tr, opts->cluster_key);
    /* Frames queue up during a loop iteration and leave with one send per
     * peer at the flush points (process_one_ready, after_batch). */
    transport_cork(n->tr, true);
    if (opts->advertise)
        snprintf(n->advertise, sizeof n->advertise, "%s", opts->advertise);
    else
        snprintf(n->advertise, sizeof n->advertise, "127.0.0.1:%u", transport_port(n->tr));
    addrbook_set(&n->book, n->id, n->name, n->advertise);
    load_address_book(n);
    if (learn_recovered(n, err, err_len) != 0) {
        node_disk_free_recovered(&n->disk);
        goto fail;
    }
    n->was_empty = n->disk.fresh;
    n->r = make_core(n, err, err_len);
    node_disk_free_recovered(&n->disk);
    if (!n->r)
        goto fail;
    /* Set before the thread runs: it reads the flag (drain_incoming). */
    n->thread_started = true;
    if (pthread_create(&n->thread, NULL, raft_thread, n) != 0) {
        n->thread_started = false;
        snprintf(err, err_len, "cannot start the Raft thread");
        goto fail;
    }
    return n;
fail:
    node_stop(n);
    return NULL;
}

static void hand_over_leadership(node_t *n)
{
    node_status_info_t s;
    if (node_status(n, &s) != NODE_OK || s.role != RAFT_LEADER)
        return;
    size_t voters = 0;
    for (size_t i = 0; i < s.n_peers; i++)
        voters += s.peers[i].voter;
    if (voters < 2)
        return;
    node_status_t st = node_transfer(n, NULL, (unsigned)n->o.election_ms * 4);
    log_info("raft", "leadership transfer before shutdown: %s", node_status_text(st));
}

const char *node_address(const node_t *n) { return n->advertise; }
bool node_was_empty(const node_t *n) { return n->was_empty; }

static void shutdown_node(node_t *n, bool graceful)
{
    if (!n || !n->thread_started)
        return;
    if (graceful)
        hand_over_leadership(n);
    pthread_mutex_lock(&n->mu);
    n->stopping = true;
    pthread_mutex_unlock(&n->mu);
    loop_stop(n->loop);
    pthread_join(n->thread, NULL);
    n->thread_started = false;
    /* The thread is gone: answer whatever is left, so threads blocked in
     * requests return at once (NODE_ESHUTDOWN). */
    while (n->pending) {
        request_t *q = n->pending;
        n->pending = q->next;
        req_finish(n, q, NODE_ESHUTDOWN);
    }
    drain_incoming(n);
    deliver_finished(n);
}

void node_shutdown(node_t *n) { shutdown_node(n, true); }

void node_free(node_t *n)
{
    if (!n)
        return;
    shutdown_node(n, false);
    pthread_mutex_lock(&n->mu);
    n->stopping = true;
    pthread_mutex_unlock(&n->mu);
    drain_incoming(n);
    deliver_finished(n);
    transport_free(n->tr);
    raft_free(n->r);
    node_disk_close(&n->disk);
    loop_free(n->loop);
    pthread_mutex_destroy(&n->mu);
    free(n);
}

void node_stop(node_t *n)
{
    node_shutdown(n);
    node_free(n);
}

void node_kill(node_t *n)
{
    shutdown_node(n, false);
    node_free(n);
}
