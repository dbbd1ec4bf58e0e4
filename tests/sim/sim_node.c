/* tests/sim/sim_node.c — one simulated server: a core, its disk, its state
 * machine, and the Ready/advance loop that ties them together.
 *
 * The Ready batch is carried out in the order raft.h demands (persist the
 * snapshot, the log, the hard state; only then send; then apply; then serve
 * reads; then advance). Persisting may take simulated time: the batch is held
 * until the disk "returns", and a crash meanwhile loses it. Every write to
 * the disk is also where the log-level properties are checked (Leader
 * Append-Only, Log Matching, durable votes); every apply is where State
 * Machine Safety is checked. Ownership: the node owns its core, its disk
 * bytes and the messages waiting in its inbox. */
#include "tests/sim/sim_world.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "raft-sim: out of memory\n");
        abort();
    }
    return p;
}

static uint8_t *copy_bytes(const uint8_t *data, size_t len)
{
    if (len == 0)
        return NULL;
    uint8_t *p = xmalloc(len);
    memcpy(p, data, len);
    return p;
}

/* ---- messages as network payloads -------------------------------------- */

void sim_msg_free(void *payload)
{
    raft_msg_t *m = payload;
    raft_msg_free(m);
    free(m);
}

void *sim_msg_clone(const void *payload)
{
    raft_msg_t *m = xmalloc(sizeof *m);
    if (raft_msg_clone(payload, m) != RAFT_OK) {
        fprintf(stderr, "raft-sim: raft_msg_clone failed\n");
        abort();
    }
    return m;
}

/* The paper's names for the RPCs, so a trace reads next to Figure 2. */
static const char *msg_name(raft_msg_type_t t)
{
    switch (t) {
    case RAFT_MSG_APPEND: return "AppendEntries";
    case RAFT_MSG_APPEND_RESP: return "AppendEntriesResp";
    case RAFT_MSG_HEARTBEAT: return "Heartbeat";
    case RAFT_MSG_HEARTBEAT_RESP: return "HeartbeatResp";
    case RAFT_MSG_VOTE: return "RequestVote";
    case RAFT_MSG_VOTE_RESP: return "RequestVoteResp";
    case RAFT_MSG_SNAPSHOT: return "InstallSnapshot";
    case RAFT_MSG_SNAPSHOT_RESP: return "InstallSnapshotResp";
    case RAFT_MSG_TIMEOUT_NOW: return "TimeoutNow";
    case RAFT_MSG_READ_INDEX: return "ReadIndex";
    case RAFT_MSG_READ_INDEX_RESP: return "ReadIndexResp";
    }
    return raft_msg_type_name(t);
}

void sim_msg_view(const raft_msg_t *m, struct sim_msg_view *v)
{
    memset(v, 0, sizeof *v);
    v->type = msg_name(m->type);
    v->term = m->term;
    switch (m->type) {
    case RAFT_MSG_APPEND:
        v->shape = SIM_SHAPE_APPEND;
        v->index = m->u.append.prev_index;
        v->log_term = m->u.append.prev_term;
        v->n = (uint32_t)m->u.append.n_entries;
        v->commit = m->u.append.commit;
        break;
    case RAFT_MSG_APPEND_RESP:
        v->shape = SIM_SHAPE_APPEND_RESP;
        v->reject = !m->u.append_resp.success;
        v->index = m->u.append_resp.index;
        v->commit = m->u.append_resp.hint_index;
        v->log_term = m->u.append_resp.hint_term;
        break;
    case RAFT_MSG_HEARTBEAT:
        v->shape = SIM_SHAPE_HEARTBEAT;
        v->commit = m->u.heartbeat.commit;
        v->extra = m->u.heartbeat.read_seq;
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        v->shape = SIM_SHAPE_HEARTBEAT_RESP;
        v->extra = m->u.heartbeat_resp.read_seq;
        break;
    case RAFT_MSG_VOTE:
        v->shape = SIM_SHAPE_VOTE;
        v->type = m->u.vote.prevote ? "PreVote" : "RequestVote";
        v->index = m->u.vote.last_index;
        v->log_term = m->u.vote.last_term;
        v->extra = m->u.vote.transfer;
        break;
    case RAFT_MSG_VOTE_RESP:
        v->shape = SIM_SHAPE_VOTE_RESP;
        v->type = m->u.vote_resp.prevote ? "PreVoteResp" : "RequestVoteResp";
        v->reject = !m->u.vote_resp.granted;
        break;
    case RAFT_MSG_SNAPSHOT:
        v->shape = SIM_SHAPE_SNAPSHOT;
        v->index = m->u.snapshot.index;
        v->log_term = m->u.snapshot.term;
        v->commit = m->u.snapshot.offset;
        v->n = (uint32_t)m->u.snapshot.len;
        v->extra = m->u.snapshot.last;
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        v->shape = SIM_SHAPE_SNAPSHOT_RESP;
        v->reject = !m->u.snapshot_resp.done;
        v->index = m->u.snapshot_resp.index;
        v->commit = m->u.snapshot_resp.next_offset;
        v->extra = m->u.snapshot_resp.match_index;
        break;
    case RAFT_MSG_READ_INDEX:
        v->shape = SIM_SHAPE_READ_INDEX;
        v->extra = m->u.read_index.ctx;
        break;
    case RAFT_MSG_READ_INDEX_RESP:
        v->shape = SIM_SHAPE_READ_INDEX_RESP;
        v->extra = m->u.read_index_resp.ctx;
        v->index = m->u.read_index_resp.index;
        v->reject = !m->u.read_index_resp.ok;
        break;
    default:
        v->shape = SIM_SHAPE_PLAIN;
        break;
    }
    if (!v->type)
        v->type = "?";
}

/* ---- the disk ------------------------------------------------------------ */

static raft_index_t disk_last_index(const struct sim_disk *d)
{
    return d->snap.index + d->n;
}

static uint64_t disk_chain_at(const struct sim_disk *d, raft_index_t index)
{
    if (index == d->snap.index)
        return d->base_chain;
    return d->ents[index - d->snap.index - 1].chain;
}

static void disk_truncate(struct sim_disk *d, raft_index_t from)
{
    while (d->n > 0 && disk_last_index(d) >= from) {
        d->n--;
        free((void *)d->ents[d->n].e.data);
    }
}

static void disk_free_entries(struct sim_disk *d)
{
    disk_truncate(d, 0);
    free(d->ents);
    d->ents = NULL;
    d->n = d->cap = 0;
}

static void disk_append(struct sim_disk *d, const raft_entry_t *e, uint64_t chain)
{
    if (d->n == d->cap) {
        d->cap = d->cap ? d->cap * 2 : 256;
        struct sim_disk_entry *p = realloc(d->ents, d->cap * sizeof *p);
        if (!p) {
            fprintf(stderr, "raft-sim: out of memory on the disk\n");
            abort();
        }
        d->ents = p;
    }
    struct sim_disk_entry *de = &d->ents[d->n++];
    de->e = *e;
    de->e.data = copy_bytes(e->data, e->len);
    de->chain = chain;
}

static void disk_set_snapshot(struct sim_disk *d, const raft_snapshot_t *s, const uint8_t *data,
                              size_t len, uint64_t chain)
{
    free(d->snap_data);
    d->snap_data = copy_bytes(data, len);
    d->snap = *s;
    d->snap.data = d->snap_data;
    d->snap.len = len;
    d->base_chain = chain;
}

/* Drops durable entries up to and including index (after a snapshot there). */
static void disk_compact(struct sim_disk *d, raft_index_t old_base, raft_index_t index)
{
    size_t drop = index - old_base;
    if (drop > d->n)
        drop = d->n;
    for (size_t i = 0; i < drop; i++)
        free((void *)d->ents[i].e.data);
    memmove(d->ents, d->ents + drop, (d->n - drop) * sizeof *d->ents);
    d->n -= drop;
}

/* ---- lifecycle ----------------------------------------------------------- */

void sim_node_init(struct sim_world *w, struct sim_node *nd, int slot)
{
    (void)w;
    memset(nd, 0, sizeof *nd);
    nd->slot = slot;
    nd->id = (raft_id_t)slot + 1;
}

static void drop_inbox(struct sim_node *nd)
{
    for (size_t i = 0; i < nd->inbox_len; i++)
        sim_msg_free(nd->inbox[i]);
    nd->inbox_len = 0;
}

void sim_node_destroy(struct sim_node *nd)
{
    if (nd->r)
        raft_free(nd->r);
    nd->r = NULL;
    drop_inbox(nd);
    free(nd->inbox);
    nd->inbox = NULL;
    disk_free_entries(&nd->disk);
    free(nd->disk.snap_data);
    nd->disk.snap_data = NULL;
}

/* The core reports its decisions into the run's trace, at the moment it
 * makes them (before the messages they cause leave in the Ready batch). */
static void node_core_trace(void *ctx, const raft_trace_event_t *e)
{
    struct sim_world *w = ctx;
    sim_trace_core(&w->trace, w->now, e);
}

bool sim_node_start(struct sim_world *w, struct sim_node *nd)
{
    raft_options_t o = w->base_opts;
    o.id = nd->id;
    o.trace = node_core_trace;
    o.trace_ctx = w;
    o.seed = sim_hash_mix(w->opt->seed, ((uint64_t)nd->slot << 32) | nd->incarnation);
    raft_entry_t *ents = xmalloc(nd->disk.n * sizeof *ents);
    for (size_t i = 0; i < nd->disk.n; i++)
        ents[i] = nd->disk.ents[i].e;
    raft_persisted_t p = {
        .hard_state = nd->disk.hs,
        .snapshot = nd->disk.snap,
        .entries = ents,
        .n_entries = nd->disk.n,
    };
    int err = 0;
    nd->r = raft_new(&o, &p, &err);
    free(ents);
    if (!nd->r) {
        sim_check_fail(&w->chk, "Restart", "n%d cannot restart from its durable state: %s",
                       nd->slot + 1, raft_strerror(err));
        return false;
    }
    sim_sm_reset(&nd->sm);
    if (nd->disk.snap.index > 0 &&
        !sim_sm_restore(&nd->sm, nd->disk.snap.data, nd->disk.snap.len)) {
        sim_check_fail(&w->chk, "Restart", "n%d's durable snapshot does not decode", nd->slot + 1);
        return false;
    }
    nd->up = true;
    nd->busy = false;
    nd->deferred_ticks = 0;
    nd->n_reads = 0;
    nd->ready_leader_term = 0;
    nd->checked_leader_term = 0;
    nd->snapshot_at = nd->disk.snap.index;
    nd->last_role = RAFT_FOLLOWER;
    nd->last_term = raft_term(nd->r);
    nd->incarnation++;
    return true;
}

void sim_node_crash(struct sim_world *w, struct sim_node *nd)
{
    sim_trace_note(&w->trace, w->now, nd->slot, "CRASH%s (term %llu, durable last index %llu)",
                   nd->busy ? ", losing the batch being persisted" : "",
                   (unsigned long long)raft_term(nd->r),
                   (unsigned long long)disk_last_index(&nd->disk));
    raft_free(nd->r);
    nd->r = NULL;
    nd->up = false;
    nd->busy = false;
    nd->applied_early = 0;
    nd->kill_at = 0;
    drop_inbox(nd);
    nd->n_reads = 0;
    w->stats.crashes++;
}

bool sim_node_ready_for_input(const struct sim_node *nd)
{
    return nd->up && !nd->busy;
}

/* ---- inputs -------------------------------------------------------------- */

static void step_message(struct sim_world *w, struct sim_node *nd, raft_msg_t *m)
{
    int rc = raft_step(nd->r, m);
    if (rc == RAFT_ENOMEM)
        sim_check_fail(&w->chk, "Core error", "n%d: raft_step: %s", nd->slot + 1,
                       raft_strerror(rc));
    sim_msg_free(m);
}

void sim_node_receive(struct sim_world *w, struct sim_node *nd, int from, raft_msg_t *m)
{
    struct sim_msg_view v;
    if (!nd->up) {
        sim_msg_view(m, &v);
        sim_trace_message(&w->trace, w->now, SIM_EV_DELIVER, from, nd->slot, &v,
                          "lost: node down", 0);
        sim_msg_free(m);
        return;
    }
    sim_msg_view(m, &v);
    if (nd->busy) {
        sim_trace_message(&w->trace, w->now, SIM_EV_DELIVER, from, nd->slot, &v,
                          "queued: disk busy", 0);
        if (nd->inbox_len == nd->inbox_cap) {
            nd->inbox_cap = nd->inbox_cap ? nd->inbox_cap * 2 : 32;
            raft_msg_t **p = realloc(nd->inbox, nd->inbox_cap * sizeof *p);
            if (!p) {
                fprintf(stderr, "raft-sim: out of memory\n");
                abort();
            }
            nd->inbox = p;
        }
        nd->inbox[nd->inbox_len++] = m;
        return;
    }
    sim_trace_message(&w->trace, w->now, SIM_EV_DELIVER, from, nd->slot, &v, "delivered", 0);
    step_message(w, nd, m);
}

void sim_node_tick(struct sim_world *w, struct sim_node *nd)
{
    (void)w;
    if (!nd->up)
        return;
    if (nd->busy)
        nd->deferred_ticks++;
    else
        raft_tick(nd->r);
}

/* Inputs that waited for the disk, in arrival order, then the missed ticks. */
static void drain_waiting_inputs(struct sim_world *w, struct sim_node *nd)
{
    size_t n = nd->inbox_len;
    nd->inbox_len = 0;
    for (size_t i = 0; i < n; i++) {
        if (w->chk.failed)
            sim_msg_free(nd->inbox[i]);
        else
            step_message(w, nd, nd->inbox[i]);
    }
    for (; nd->deferred_ticks > 0; nd->deferred_ticks--)
        raft_tick(nd->r);
}

/* ---- carrying out a Ready batch ----------------------------------------- */

static void persist_snapshot(struct sim_world *w, struct sim_node *nd, const raft_snapshot_t *s)
{
    uint64_t chain;
    if (!sim_check_committed_chain(&w->chk, s->index, &chain)) {
        sim_check_fail(&w->chk, "State Machine Safety",
                       "n%d is told to install a snapshot at %llu, beyond anything applied",
                       nd->slot + 1, (unsigned long long)s->index);
        return;
    }
    disk_free_entries(&nd->disk);
    disk_set_snapshot(&nd->disk, s, s->data, s->len, chain);
    if (!sim_sm_restore(&nd->sm, s->data, s->len)) {
        sim_check_fail(&w->chk, "Snapshot", "n%d received a snapshot that does not decode",
                       nd->slot + 1);
        return;
    }
    if (nd->sm.applied != s->index)
        sim_check_fail(&w->chk, "Snapshot", "n%d: snapshot at %llu holds state of index %llu",
                       nd->slot + 1, (unsigned long long)s->index,
                       (unsigned long long)nd->sm.applied);
    sim_check_restored(&w->chk, nd->slot, s->index, nd->sm.hash);
    nd->snapshot_at = s->index;
    w->stats.snapshots_installed++;
    sim_trace_note(&w->trace, w->now, nd->slot, "installs snapshot at (%llu,%llu)",
                   (unsigned long long)s->index, (unsigned long long)s->term);
}

static void persist_entries(struct sim_world *w, struct sim_node *nd, const raft_ready_t *rd)
{
    struct sim_disk *d = &nd->disk;
    if (rd->truncate_from) {
        if (rd->truncate_from <= d->snap.index)
            sim_check_fail(&w->chk, "Log Matching",
                           "n%d truncates from %llu, inside its snapshot (%llu)", nd->slot + 1,
                           (unsigned long long)rd->truncate_from,
                           (unsigned long long)d->snap.index);
        disk_truncate(d, rd->truncate_from);
    }
    for (size_t i = 0; i < rd->n_entries && !w->chk.failed; i++) {
        const raft_entry_t *e = &rd->entries[i];
        raft_index_t last = disk_last_index(d);
        if (e->index != last + 1) {
            sim_check_fail(&w->chk, "Log Matching",
                           "n%d asked to persist entry %llu after durable last index %llu",
                           nd->slot + 1, (unsigned long long)e->index, (unsigned long long)last);
            return;
        }
        uint64_t chain = sim_chain(disk_chain_at(d, last), e->term, sim_entry_hash(e));
        sim_check_log_entry(&w->chk, nd->slot, e->index, e->term, chain);
        disk_append(d, e, chain);
    }
}

/* Figure 2: currentTerm only grows and votedFor is set at most once per term;
 * a durable vote that changes within a term means a node could vote twice. */
static void persist_hard_state(struct sim_world *w, struct sim_node *nd, const raft_hard_state_t *hs)
{
    raft_hard_state_t *old = &nd->disk.hs;
    if (hs->term < old->term)
        sim_check_fail(&w->chk, "Durable State", "n%d persists term %llu after term %llu",
                       nd->slot + 1, (unsigned long long)hs->term, (unsigned long long)old->term);
    else if (hs->term == old->term && old->vote != 0 && hs->vote != old->vote)
        sim_check_fail(&w->chk, "Durable State",
                       "n%d changes its durable vote in term %llu from n%llu to n%llu",
                       nd->slot + 1, (unsigned long long)hs->term,
                       (unsigned long long)old->vote, (unsigned long long)hs->vote);
    *old = *hs;
}

/* Figure 2: "respond to RPCs ... after updating stable storage". A granted
 * vote must already be on this node's disk (or a later term, which makes
 * the old vote moot), and an append acknowledged up to
 * an index must have every entry up to it on disk, or a crash right after
 * sending would let the node vote twice or a leader count a lost entry. */
static void check_durable_before_send(struct sim_world *w, struct sim_node *nd,
                                      const raft_msg_t *m)
{
    const struct sim_disk *d = &nd->disk;
    if (m->type == RAFT_MSG_VOTE_RESP && m->u.vote_resp.granted && !m->u.vote_resp.prevote &&
        (d->hs.term < m->term || (d->hs.term == m->term && d->hs.vote != m->to)))
        sim_check_fail(&w->chk, "Durable State",
                       "n%d grants its vote to n%llu in term %llu, but its disk says term %llu "
                       "vote %llu",
                       nd->slot + 1, (unsigned long long)m->to, (unsigned long long)m->term,
                       (unsigned long long)d->hs.term, (unsigned long long)d->hs.vote);
    else if (m->type == RAFT_MSG_APPEND_RESP && m->u.append_resp.success &&
             m->u.append_resp.index > disk_last_index(d))
        sim_check_fail(&w->chk, "Durable State",
                       "n%d acknowledges entries up to %llu, but its disk ends at %llu",
                       nd->slot + 1, (unsigned long long)m->u.append_resp.index,
                       (unsigned long long)disk_last_index(d));
}

static bool is_leader_replication(const raft_msg_t *m)
{
    return m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT;
}

/* early: send only the leader's AppendEntries/Heartbeats (before its disk
 * write ends, thesis §10.2.1); otherwise send everything not sent early. */
static void send_messages(struct sim_world *w, struct sim_node *nd, const raft_ready_t *rd,
                          bool early)
{
    static const char *const outcome[] = {
        [SIM_SENT] = "sent", [SIM_SENT_TWICE] = "sent, duplicated",
        [SIM_DROPPED] = "dropped", [SIM_CUT] = "dropped: link cut",
    };
    static const char *const outcome_early[] = {
        [SIM_SENT] = "sent before own fsync", [SIM_SENT_TWICE] = "sent before own fsync, duplicated",
        [SIM_DROPPED] = "dropped", [SIM_CUT] = "dropped: link cut",
    };
    for (size_t i = 0; i < rd->n_msgs; i++) {
        const raft_msg_t *m = &rd->msgs[i];
        if ((early || nd->sent_early) && is_leader_replication(m) != early)
            continue;
        if (m->to == 0 || m->to > (raft_id_t)w->n || m->to == nd->id) {
            sim_check_fail(&w->chk, "Core error", "n%d sends a message to unknown node %llu",
                           nd->slot + 1, (unsigned long long)m->to);
            return;
        }
        check_durable_before_send(w, nd, m);
        /* A voter that crashes right after voting and is back at once is
         * what a vote that never reached the disk would betray. */
        if (m->type == RAFT_MSG_VOTE_RESP && m->u.vote_resp.granted && !m->u.vote_resp.prevote &&
            w->sc.vote_bounce_ppm && !nd->kill_at && !w->quiet &&
            sim_rng_chance(&w->rng, w->sc.vote_bounce_ppm))
            nd->kill_at = w->now + 1;
        struct sim_msg_view v;
        sim_msg_view(m, &v);
        uint32_t delay;
        int to = (int)m->to - 1;
        enum sim_send_outcome oc =
            sim_net_send(&w->net, w->now, nd->slot, to, m, &delay);
        sim_trace_message(&w->trace, w->now, SIM_EV_SEND, nd->slot, to, &v,
                          early ? outcome_early[oc] : outcome[oc], delay);
        w->stats.messages++;
    }
}

/* Applies rd->committed[from..to); `when` annotates the trace line. */
static void apply_committed(struct sim_world *w, struct sim_node *nd, const raft_ready_t *rd,
                            size_t from, size_t to, const char *when)
{
    if (from >= to)
        return;
    raft_term_t term = raft_term(nd->r);
    for (size_t i = from; i < to && !w->chk.failed; i++) {
        const raft_entry_t *e = &rd->committed[i];
        if (e->index != nd->sm.applied + 1) {
            sim_check_fail(&w->chk, "State Machine Safety",
                           "n%d applies index %llu right after %llu", nd->slot + 1,
                           (unsigned long long)e->index, (unsigned long long)nd->sm.applied);
            return;
        }
        struct sim_apply_result res =
            sim_sm_apply(&nd->sm, e->index, e->type == RAFT_ENTRY_NORMAL, e->data, e->len);
        sim_check_apply(&w->chk, nd->slot, e->index, e->term, sim_entry_hash(e), nd->sm.hash,
                        term);
        if (res.is_cmd)
            sim_clients_on_apply(w, nd, &res);
    }
    if (nd->sm.applied > w->stats.committed)
        w->stats.committed = nd->sm.applied;
    sim_trace_note(&w->trace, w->now, nd->slot, "applies %llu..%llu%s",
                   (unsigned long long)rd->committed[from].index,
                   (unsigned long long)rd->committed[to - 1].index, when);
}

static void queue_reads(struct sim_world *w, struct sim_node *nd, const raft_ready_t *rd)
{
    for (size_t i = 0; i < rd->n_reads; i++) {
        /* A duplicated ReadIndexResp can make the core answer a ctx twice;
         * the runtime must tolerate that, so the simulation does too. */
        bool again = false;
        for (size_t k = 0; k < nd->n_reads; k++)
            again |= nd->reads[k].ctx == rd->reads[i].ctx;
        if (again) {
            sim_trace_note(&w->trace, w->now, nd->slot, "read ctx=%llu answered twice",
                           (unsigned long long)rd->reads[i].ctx);
            continue;
        }
        /* Answers to reads the clients gave up on pile up only while this
         * node cannot apply; forget the oldest rather than grow forever. */
        if (nd->n_reads == sizeof nd->reads / sizeof nd->reads[0]) {
            memmove(nd->reads, nd->reads + 1, (nd->n_reads - 1) * sizeof nd->reads[0]);
            nd->n_reads--;
        }
        nd->reads[nd->n_reads++] =
            (struct sim_pending_read){ rd->reads[i].ctx, rd->reads[i].index };
    }
}

/* Thesis §6.4 step 4: serve once the state machine has reached the index. */
static void serve_reads(struct sim_world *w, struct sim_node *nd)
{
    size_t kept = 0;
    for (size_t i = 0; i < nd->n_reads; i++) {
        struct sim_pending_read *rq = &nd->reads[i];
        if (nd->sm.applied < rq->index) {
            nd->reads[kept++] = *rq;
            continue;
        }
        uint64_t floor;
        if (sim_clients_read_floor(w, rq->ctx, &floor)) {
            sim_check_read(&w->chk, nd->slot, rq->ctx, floor, nd->sm.applied, rq->index);
            sim_trace_note(&w->trace, w->now, nd->slot,
                           "serves read ctx=%llu at applied %llu (read index %llu, floor %llu)",
                           (unsigned long long)rq->ctx, (unsigned long long)nd->sm.applied,
                           (unsigned long long)rq->index, (unsigned long long)floor);
            sim_clients_on_read(w, nd, rq->ctx);
        }
    }
    nd->n_reads = kept;
}

static void finish_batch(struct sim_world *w, struct sim_node *nd)
{
    raft_ready_t *rd = &nd->rd;
    if (rd->snapshot)
        persist_snapshot(w, nd, rd->snapshot);
    persist_entries(w, nd, rd);
    if (rd->hard_state_changed)
        persist_hard_state(w, nd, &rd->hard_state);
    if (w->chk.failed)
        return;
    send_messages(w, nd, rd, false);
    nd->sent_early = false;
    apply_committed(w, nd, rd, nd->applied_early, rd->n_committed, "");
    nd->applied_early = 0;
    queue_reads(w, nd, rd);
    raft_advance(nd->r, rd);
    nd->busy = false;
    serve_reads(w, nd);
}

/* Leader Append-Only (Figure 3): a node that was leader of term T when it
 * produced its previous batch and still leads T now never removes entries. */
static void check_append_only(struct sim_world *w, struct sim_node *nd, const raft_ready_t *rd)
{
    raft_term_t lead = raft_role(nd->r) == RAFT_LEADER ? raft_term(nd->r) : 0;
    if (lead != 0) {
        sim_check_leader(&w->chk, nd->slot, lead);
        if (lead == nd->ready_leader_term) {
            if (rd->snapshot ||
                (rd->truncate_from && rd->truncate_from <= nd->ready_last_index) ||
                (rd->n_entries && rd->entries[0].index <= nd->ready_last_index))
                sim_check_fail(&w->chk, "Leader Append-Only",
                               "n%d, leader of term %llu, rewrites its log from index %llu "
                               "(it had %llu entries)",
                               nd->slot + 1, (unsigned long long)lead,
                               (unsigned long long)(rd->truncate_from ? rd->truncate_from
                                                    : rd->n_entries ? rd->entries[0].index
                                                                    : 0),
                               (unsigned long long)nd->ready_last_index);
        }
    }
    nd->ready_leader_term = lead;
    nd->ready_last_index = raft_last_index(nd->r);
}

/* raft.h: a leader whose term and vote are already durable may let its
 * AppendEntries and Heartbeats leave before its own disk write ends. */
static bool may_send_early(const struct sim_node *nd, const raft_ready_t *rd)
{
    return rd->role == RAFT_LEADER &&
           (!rd->hard_state_changed || (rd->hard_state.term == nd->disk.hs.term &&
                                        rd->hard_state.vote == nd->disk.hs.vote));
}

/* How many of rd->committed were made durable by earlier batches: those
 * below everything this batch writes (none if it installs a snapshot). The
 * runtime (raft/node.c) applies them before this batch's fsync. */
static size_t committed_before_batch(const raft_ready_t *rd)
{
    if (rd->snapshot)
        return 0;
    raft_index_t limit = UINT64_MAX;
    if (rd->n_entries)
        limit = rd->entries[0].index;
    if (rd->truncate_from && rd->truncate_from < limit)
        limit = rd->truncate_from;
    size_t n = 0;
    while (n < rd->n_committed && rd->committed[n].index < limit)
        n++;
    return n;
}

static bool batch_writes_disk(const raft_ready_t *rd)
{
    return rd->snapshot || rd->truncate_from || rd->n_entries || rd->hard_state_changed;
}

void sim_node_process(struct sim_world *w, struct sim_node *nd)
{
    if (!nd->up)
        return;
    if (nd->busy) {
        if (nd->busy_until > w->now)
            return;
        finish_batch(w, nd);
        if (w->chk.failed)
            return;
        drain_waiting_inputs(w, nd);
    }
    while (!w->chk.failed && raft_has_ready(nd->r)) {
        raft_ready(nd->r, &nd->rd);
        check_append_only(w, nd, &nd->rd);
        uint32_t delay = 0;
        if (w->sc.disk_ticks_max && batch_writes_disk(&nd->rd))
            delay = sim_rng_below(&w->rng, w->sc.disk_ticks_max + 1);
        nd->busy = true;
        nd->sent_early = false;
        if (delay > 0) {
            nd->busy_until = w->now + delay;
            if (may_send_early(nd, &nd->rd) && sim_rng_chance(&w->rng, 500000)) {
                send_messages(w, nd, &nd->rd, true);
                nd->sent_early = true;
            }
            nd->applied_early = committed_before_batch(&nd->rd);
            apply_committed(w, nd, &nd->rd, 0, nd->applied_early, " (durable before, applied before this batch's fsync)");
            return;
        }
        finish_batch(w, nd);
    }
}

/* The state machine snapshots itself every so often (§7); the core drops its
 * log up to there, and the disk keeps the snapshot and the entries after it. */
void sim_node_maybe_snapshot(struct sim_world *w, struct sim_node *nd)
{
    if (!sim_node_ready_for_input(nd) || w->snapshot_every == 0 ||
        nd->sm.applied < nd->snapshot_at + w->snapshot_every)
        return;
    raft_index_t index = nd->sm.applied;
    if (index > disk_last_index(&nd->disk) || index < nd->disk.snap.index) {
        sim_check_fail(&w->chk, "Core error",
                       "n%d applied index %llu, outside its durable log (%llu..%llu)",
                       nd->slot + 1, (unsigned long long)index,
                       (unsigned long long)nd->disk.snap.index,
                       (unsigned long long)disk_last_index(&nd->disk));
        return;
    }
    uint8_t image[SIM_SNAPSHOT_BYTES];
    sim_sm_snapshot(&nd->sm, image);
    int rc = raft_compact(nd->r, index, image, sizeof image);
    if (rc != RAFT_OK) {
        sim_check_fail(&w->chk, "Core error", "n%d: raft_compact(%llu): %s", nd->slot + 1,
                       (unsigned long long)index, raft_strerror(rc));
        return;
    }
    const raft_snapshot_t *s = raft_snapshot(nd->r);
    if (s->index != index) {
        sim_check_fail(&w->chk, "Core error", "n%d: compacted at %llu but snapshot is at %llu",
                       nd->slot + 1, (unsigned long long)index, (unsigned long long)s->index);
        return;
    }
    raft_index_t old_base = nd->disk.snap.index;
    uint64_t chain = disk_chain_at(&nd->disk, index);
    disk_set_snapshot(&nd->disk, s, image, sizeof image, chain);
    disk_compact(&nd->disk, old_base, index);
    nd->snapshot_at = index;
    w->stats.snapshots_taken++;
    sim_trace_note(&w->trace, w->now, nd->slot, "takes snapshot at (%llu,%llu), log compacted",
                   (unsigned long long)index, (unsigned long long)s->term);
}

struct sim_node *sim_find_leader(struct sim_world *w)
{
    struct sim_node *best = NULL;
    for (int i = 0; i < w->n; i++) {
        struct sim_node *nd = &w->nodes[i];
        if (sim_node_ready_for_input(nd) && raft_role(nd->r) == RAFT_LEADER &&
            (!best || raft_term(nd->r) > raft_term(best->r)))
            best = nd;
    }
    return best;
}
