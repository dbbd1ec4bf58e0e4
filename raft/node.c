/* raft/node.c — the Raft thread: drives the core (raft.h) with ticks,
 * messages and requests, carries out its Ready batches (node_disk.c for
 * the disk, transport.c for peers), applies committed entries to the state
 * machine, and answers the threads waiting on requests (node.h).
 *
 * Requests. Another thread fills a request_t, pushes it on the hand-off
 * list n->incoming (common/handoff.h) under n->mu, which orders it with the
 * stop, and wakes the loop (one eventfd write per burst: only the request
 * that finds the list empty wakes it). The Raft thread starts it (node_req_start): a
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
 * is processed once per loop iteration (node_after_batch), so every proposal and
 * append that arrived together shares one fsync.
 *
 * The runtime is three files sharing raft/node_int.h: this one (life cycle,
 * events, status), node_requests.c (requests, forwarding, joins) and
 * node_ready.c (the Ready batch, applying, snapshots). */
#include "raft/node_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/crc32c.h"
#include "common/storage_io.h"


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
    case NODE_ENOSPC: return "storage full";
    }
    return "unknown";
}

raft_id_t node_id_from_name(const char *name) { return addrbook_id_of(name); }

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
            node_send_cluster_frame(n, m->from, true);
        return;
    }
    note_heard(n, m->from);
    raft_step(n->r, m);
    node_health_note_message(n, m);
}

/* What a hello may teach (issue #12): only about a member of the current
 * configuration (or the leader we follow, node_peers_to_keep), or about anyone
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
    raft_members_t keep = node_peers_to_keep(n);
    if (keep.n_voters > 0 && !node_members_has(&keep, h->id)) {
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
    if (node_learn_address(n, h->id, h->name, h->addr))
        log_debug("raft", "peer %s is at %s", h->name, h->addr);
    transport_set_peer(n->tr, h->id, h->addr);
    node_identity_peer_reset(&n->ident, h->id); /* a new connection: ask again */
    node_send_cluster_frame(n, h->id, true);
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
        node_req_start(n, q);
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


/* The founder proposes the cluster id once, and every node tells the
 * members its cluster id now and then (node_identity.h). */
static void announce_cluster(node_t *n)
{
    if (node_identity_frames_due(&n->ident, loop_now_ms())) {
        const raft_members_t *m = raft_members(n->r);
        for (uint32_t i = 0; i < m->n_voters + m->n_learners; i++) {
            raft_id_t id = i < m->n_voters ? m->voters[i] : m->learners[i - m->n_voters];
            if (id != n->id)
                node_send_cluster_frame(n, id, false);
        }
    }
    uint8_t entry[CLUSTER_ENTRY_LEN];
    if (!node_identity_should_announce(&n->ident, loop_now_ms(), entry))
        return;
    if (node_submit_proposal(n, entry, sizeof entry, (unsigned)n->o.election_ms * 10, cluster_announced,
                        n) != NODE_OK)
        node_identity_announced(&n->ident, false, loop_now_ms());
}

static void on_tick(void *ctx)
{
    node_t *n = ctx;
    transport_tick(n->tr);
    node_retry_full_storage(n);
    if (n->failed)
        return;
    raft_tick(n->r);
    announce_cluster(n);
    promote_caught_up_learners(n);
    retry_waiting(n);
    node_pending_sweep(n, sweep_expired);
    node_health_report(n);
    node_health_save_commit_hint(n, false);
}

static void on_wake(void *ctx)
{
    node_t *n = ctx;
    node_drain_incoming(n);
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

void node_fill_status(node_t *n, node_status_info_t *s)
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

/* Names servers in trace lines as the operator did (-id); Raft thread. */
static const char *node_trace_name(void *ctx, raft_id_t id)
{
    const node_t *n = ctx;
    if (id == n->id)
        return n->name;
    const addrbook_entry_t *e = addrbook_get(&n->book, id);
    return e && e->name[0] ? e->name : NULL;
}

static enum log_level node_trace_level(raft_trace_kind_t kind)
{
    switch (kind) {
    case RAFT_TRACE_WARN: return LOG_WARN;
    case RAFT_TRACE_ERROR: return LOG_ERROR;
    case RAFT_TRACE_ROLE:
    case RAFT_TRACE_SNAPSHOT:
    case RAFT_TRACE_TRANSFER: return LOG_DEBUG;
    default: return LOG_TRACE;  /* votes, rejected appends, commits */
    }
}

/* The core's trace events (raft_options.trace) become log lines under
 * module "raft": "<name> <event>", the event in raft-sim's words
 * (raft_trace_format). -log.level trace shows every decision; debug only
 * role changes, snapshots and transfers, as before. */
static void node_trace_to_log(void *ctx, const raft_trace_event_t *e)
{
    const node_t *n = ctx;
    enum log_level level = node_trace_level(e->kind);
    if (level < log_get_level())
        return;
    char line[400];
    raft_trace_format(e, node_trace_name, ctx, line, sizeof line);
    log_msg(level, "raft", "%s %s", n->name, line);
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
    ro.snapshot_check = node_check_snapshot;
    ro.snapshot_check_ctx = n;
    ro.trace = node_trace_to_log;
    ro.trace_ctx = n;
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
    if (s->index && node_restore_fsm(n, s->data, s->len) != 0) {
        snprintf(err, err_len, "%s: the snapshot at index %llu cannot be restored "
                 "(corrupt data dir?)", n->data_dir, (unsigned long long)s->index);
        return -1;
    }
    bool conflict;
    for (size_t i = 0; i < n->disk.rec.n_entries; i++) {
        if (n->disk.rec.entries[i].type == RAFT_ENTRY_CONFIG)
            node_learn_config(n, &n->disk.rec.entries[i]);
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
    loop_set_after_batch(n->loop, node_after_batch);
    if (node_disk_open(&n->disk, n->data_dir, err, err_len) != 0 ||
        node_identity_open(&n->ident, n->data_dir, n->name, n->disk.fresh,
                           is_founder(n) || (n->disk.fresh && n->o.bootstrap), err, err_len) != 0)
        goto fail;
    raft_hello_t self = { .id = n->id };
    snprintf(self.name, sizeof self.name, "%s", n->name);
    snprintf(self.addr, sizeof self.addr, "%s", opts->advertise ? opts->advertise : "");
    transport_callbacks_t cb = { n, on_message, node_on_app_frame, on_hello, on_text_conn, node_on_join };
    n->tr = transport_new(n->loop, n->listen, &self, &cb, err, err_len);
    if (!n->tr)
        goto fail;
    if (opts->cluster_key)
        transport_set_key_ring(n->tr, opts->cluster_key);
    /* Frames queue up during a loop iteration and leave with one send per
     * peer at the flush points (node_process_one_ready, node_after_batch). */
    transport_cork(n->tr, true);
    if (opts->advertise)
        snprintf(n->advertise, sizeof n->advertise, "%s", opts->advertise);
    else
        snprintf(n->advertise, sizeof n->advertise, "127.0.0.1:%u", transport_port(n->tr));
    addrbook_set(&n->book, n->id, n->name, n->advertise);
    node_load_address_book(n);
    if (learn_recovered(n, err, err_len) != 0) {
        node_disk_free_recovered(&n->disk);
        goto fail;
    }
    n->was_empty = n->disk.fresh;
    n->r = make_core(n, err, err_len);
    node_disk_free_recovered(&n->disk);
    if (!n->r)
        goto fail;
    node_health_start(n);
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
uint64_t node_leader_term(node_t *n) { return atomic_load(&n->leader_term); }
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
    if (graceful)
        node_health_save_commit_hint(n, true); /* the next start replays it all */
    /* The thread is gone: answer whatever is left, so threads blocked in
     * requests return at once (NODE_ESHUTDOWN). */
    while (n->pending) {
        request_t *q = n->pending;
        n->pending = q->next;
        node_req_finish(n, q, NODE_ESHUTDOWN);
    }
    node_drain_incoming(n);
    node_deliver_finished(n);
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
    node_drain_incoming(n);
    node_deliver_finished(n);
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
