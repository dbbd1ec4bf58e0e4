/* raft/core/core.c — the core's entry points: creation and restart, raft_step's
 * dispatch on terms and message types, raft_tick, raft_propose,
 * raft_compact, and read-only introspection.
 *
 * raft_step applies the rules every server follows before looking at what a
 * message says (Figure 2 "All Servers": a higher term makes us a follower;
 * a lower term is stale), with the two exceptions of thesis §9.6 / §4.2.3:
 * pre-votes do not move terms, and a node that hears from a live leader
 * ignores vote requests (leader lease) unless they come from a leadership
 * transfer. Then it hands the message to the module that owns it.
 */
#include "raft/core/raft_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* splitmix64 (Steele, Lea, Flood 2014): tiny, seedable, good enough to
 * spread election timeouts; the same seed gives the same run. */
uint64_t core_random(raft_t *r)
{
    uint64_t z = (r->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void core_trace(const raft_t *r, raft_trace_kind_t kind, const char *fmt, ...)
{
    if (!r->o.trace)
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    r->o.trace(r->o.trace_ctx, kind, line);
}

const char *raft_strerror(int err)
{
    switch (err) {
    case RAFT_OK: return "ok";
    case RAFT_ENOTLEADER: return "not the leader";
    case RAFT_ENOLEADER: return "no known leader";
    case RAFT_EBUSY: return "busy (config change or leadership transfer pending)";
    case RAFT_EINVAL: return "invalid argument";
    case RAFT_ENOMEM: return "out of memory";
    case RAFT_ENOTCAUGHTUP: return "learner not caught up";
    case RAFT_EFULL: return "too many members";
    case RAFT_ECORRUPT: return "persisted state inconsistent";
    case RAFT_ETOOBIG: return "entry too large";
    }
    return "unknown error";
}

const char *raft_role_name(raft_role_t role)
{
    switch (role) {
    case RAFT_FOLLOWER: return "follower";
    case RAFT_PRECANDIDATE: return "pre-candidate";
    case RAFT_CANDIDATE: return "candidate";
    case RAFT_LEADER: return "leader";
    }
    return "?";
}

const char *raft_progress_state_name(raft_progress_state_t s)
{
    switch (s) {
    case RAFT_PROGRESS_PROBE: return "probe";
    case RAFT_PROGRESS_REPLICATE: return "replicate";
    case RAFT_PROGRESS_SNAPSHOT: return "snapshot";
    }
    return "?";
}

void raft_options_init(raft_options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->election_ticks = 10;
    o->heartbeat_ticks = 1;
    o->seed = 1;
    o->pre_vote = true;
    o->check_quorum = true;
    o->max_entries_per_msg = 64;
    o->max_bytes_per_msg = 1u << 20;
    o->max_inflight = 16;
    o->snapshot_chunk_bytes = 64u << 10;
    o->max_entry_bytes = 1u << 20;
}

static bool core_options_valid(const raft_options_t *o)
{
    return o->id != 0 && o->election_ticks >= 2 && o->heartbeat_ticks >= 1 &&
           o->heartbeat_ticks < o->election_ticks &&
           o->max_entries_per_msg >= 1 && o->max_bytes_per_msg >= 1 &&
           o->max_inflight >= 1 && o->max_inflight <= RAFT_MAX_INFLIGHT &&
           o->snapshot_chunk_bytes >= 1 && members_valid(&o->bootstrap);
}

/* ---- restart --------------------------------------------------------------- */

static int core_load_snapshot(raft_t *r, const raft_snapshot_t *s)
{
    if (s->index == 0)
        return 0;
    if (s->term == 0 || s->term >= RAFT_TERM_LIMIT || s->index >= RAFT_INDEX_LIMIT ||
        !members_valid(&s->members) || (s->len && !s->data))
        return RAFT_ECORRUPT;
    r->snap_buf = malloc(s->len ? s->len : 1);
    if (!r->snap_buf)
        return RAFT_ENOMEM;
    if (s->len)
        memcpy(r->snap_buf, s->data, s->len);
    r->snap = *s;
    r->snap.data = r->snap_buf;
    r->log.snap_index = s->index;
    r->log.snap_term = s->term;
    r->log.stable = s->index;
    r->commit = r->applied = s->index;
    return 0;
}

static int core_load_entries(raft_t *r, const raft_entry_t *e, size_t n)
{
    if (n && !e)
        return RAFT_ECORRUPT;
    for (size_t i = 0; i < n; i++) {
        if (e[i].index != log_last_index(&r->log) + 1 || e[i].index >= RAFT_INDEX_LIMIT ||
            e[i].term < log_last_term(&r->log) || e[i].term == 0 ||
            e[i].term >= RAFT_TERM_LIMIT ||
            (e[i].len && !e[i].data) || e[i].type < RAFT_ENTRY_NORMAL ||
            e[i].type > RAFT_ENTRY_CONFIG)
            return RAFT_ECORRUPT;
        int rc = log_append_copy(&r->log, e[i].term, e[i].type, e[i].data,
                                 e[i].len);
        if (rc != 0)
            return rc;
    }
    r->log.stable = log_last_index(&r->log);
    return 0;
}

/* A term at or above RAFT_TERM_LIMIT on disk is corruption (or the
 * persisted result of a forged message from before the limit existed):
 * starting from it, the next candidate term would wrap (raft.h). */
static int core_load_hard_state(raft_t *r, const raft_hard_state_t *hs)
{
    if (hs->term >= RAFT_TERM_LIMIT) {
        core_trace(r, RAFT_TRACE_ERROR, "node %llu: persisted term %llu is at or above the limit 2^63: "
                  "corrupt or forged", (unsigned long long)r->id,
                  (unsigned long long)hs->term);
        return RAFT_ECORRUPT;
    }
    if (hs->term < log_last_term(&r->log) ||
        hs->commit > log_last_index(&r->log))
        return RAFT_ECORRUPT;
    r->term = r->max_term_seen = hs->term;
    r->vote = hs->vote;
    if (hs->commit > r->commit)
        r->commit = hs->commit;
    r->hs_reported = *hs;
    r->hs_reported.commit = r->commit;
    return 0;
}

static int core_load(raft_t *r, const raft_persisted_t *p)
{
    int rc = core_load_snapshot(r, &p->snapshot);
    if (rc == 0)
        rc = core_load_entries(r, p->entries, p->n_entries);
    if (rc == 0)
        rc = core_load_hard_state(r, &p->hard_state);
    return rc;
}

raft_t *raft_new(const raft_options_t *opts, const raft_persisted_t *p,
                 int *err)
{
    int rc = RAFT_EINVAL;
    raft_t *r = NULL;
    if (!opts || !core_options_valid(opts))
        goto fail;
    rc = RAFT_ENOMEM;
    r = calloc(1, sizeof(*r));
    if (!r)
        goto fail;
    r->o = *opts;
    r->id = opts->id;
    r->rng = opts->seed ^ (opts->id * 0x9e3779b97f4a7c15ULL);
    log_init(&r->log);
    if (p) {
        rc = core_load(r, p);
        if (rc != 0)
            goto fail;
    }
    r->role = RAFT_FOLLOWER;
    membership_recompute(r);
    convert_reset_election_timer(r);
    if (err)
        *err = 0;
    return r;
fail:
    if (r)
        raft_free(r);
    if (err)
        *err = rc;
    return NULL;
}

void raft_free(raft_t *r)
{
    if (!r)
        return;
    log_destroy(r);
    out_destroy(r);
    free(r->snap_buf);
    free(r->inbound.buf);
    free(r);
}

/* ---- raft_step --------------------------------------------------------------- */

static bool core_is_leader_msg(raft_msg_type_t t)
{
    return t == RAFT_MSG_APPEND || t == RAFT_MSG_HEARTBEAT ||
           t == RAFT_MSG_SNAPSHOT;
}

/* Figure 2 "All Servers: If RPC request or response contains term T >
 * currentTerm: set currentTerm = T, convert to follower", except where
 * thesis §9.6 / §4.2.3 say otherwise. Returns false to drop the message. */
static bool core_handle_higher_term(raft_t *r, const raft_msg_t *m)
{
    if (m->type == RAFT_MSG_VOTE) {
        /* Thesis §4.2.3: while a leader is known alive, a vote request
         * (e.g. from a removed or partitioned server) is ignored — unless
         * the leader itself asked for it with TimeoutNow. */
        if (r->o.check_quorum && !m->u.vote.transfer && election_in_lease(r))
            return false;
        if (m->u.vote.prevote)
            return true;  /* thesis §9.6: a pre-vote moves no term */
    }
    if (m->type == RAFT_MSG_VOTE_RESP && m->u.vote_resp.prevote &&
        m->u.vote_resp.granted)
        return true;      /* our own future term, echoed back */
    convert_to_follower(r, m->term, core_is_leader_msg(m->type) ? m->from : 0);
    return true;
}

/* Figure 2 rule 1 of both RPCs: "Reply false if term < currentTerm". With
 * PreVote or CheckQuorum on, a stale leader would otherwise never learn it
 * is stale (we reject its vote requests... and it never asks), so tell it
 * our term; and always tell a (pre-)candidate behind us. */
static void core_handle_lower_term(raft_t *r, const raft_msg_t *m)
{
    bool tell = r->o.check_quorum || r->o.pre_vote;
    if (tell && (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT)) {
        raft_msg_t resp = { .type = RAFT_MSG_APPEND_RESP, .to = m->from,
                            .term = r->term };
        out_send(r, &resp);
    } else if (m->type == RAFT_MSG_VOTE) {
        /* Figure 2, RequestVote rule 1 (and the same for a pre-vote): a
         * rejection carrying our term, so a candidate that is behind adopts
         * it. Staying silent can deadlock elections: a candidate below us
         * whose vote we would need never learns our term (sim seed 658). */
        raft_msg_t resp = { .type = RAFT_MSG_VOTE_RESP, .to = m->from,
                            .term = r->term };
        resp.u.vote_resp.prevote = m->u.vote.prevote;
        resp.u.vote_resp.granted = false;
        out_send(r, &resp);
    }
}

/* A message from the leader of our own term. A (pre-)candidate that gets
 * one has lost: §5.2 "If the AppendEntries RPC is from a leader whose term
 * is at least as large as the candidate's current term, then the candidate
 * recognizes the leader as legitimate and returns to follower state". */
static bool core_accept_leader(raft_t *r, const raft_msg_t *m)
{
    /* Two leaders in one term would break Election Safety (Figure 3: "at
     * most one leader can be elected in a given term"); a second one, seen
     * as leader or by a follower that already follows another, can only be
     * a forged or corrupted message. Obeying it would let its entries of
     * our term pass for the real leader's (Log Matching trusts index and
     * term). */
    if (r->role == RAFT_LEADER ||
        (r->role == RAFT_FOLLOWER && r->leader != 0 && r->leader != m->from)) {
        core_trace(r, RAFT_TRACE_WARN, "node %llu: %s from %llu, a second leader in term "
                 "%llu (leader %llu), ignored", (unsigned long long)r->id,
                 raft_msg_type_name(m->type), (unsigned long long)m->from,
                 (unsigned long long)r->term, (unsigned long long)r->leader);
        return false;
    }
    if (r->role != RAFT_FOLLOWER)
        convert_to_follower(r, r->term, m->from);
    return true;
}

static void core_dispatch(raft_t *r, const raft_msg_t *m)
{
    switch (m->type) {
    case RAFT_MSG_APPEND:
        if (core_accept_leader(r, m))
            replication_recv_append(r, m);
        break;
    case RAFT_MSG_HEARTBEAT:
        if (core_accept_leader(r, m))
            replication_recv_heartbeat(r, m);
        break;
    case RAFT_MSG_SNAPSHOT:
        if (core_accept_leader(r, m))
            replication_recv_snapshot(r, m);
        break;
    case RAFT_MSG_APPEND_RESP:
        replication_recv_append_resp(r, m);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        replication_recv_heartbeat_resp(r, m);
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        replication_recv_snapshot_resp(r, m);
        break;
    case RAFT_MSG_VOTE:
        election_recv_vote(r, m);
        break;
    case RAFT_MSG_VOTE_RESP:
        election_recv_vote_resp(r, m);
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        transfer_recv_timeout_now(r, m);
        break;
    case RAFT_MSG_READ_INDEX:
        readindex_recv_request(r, m);
        break;
    case RAFT_MSG_READ_INDEX_RESP:
        readindex_recv_response(r, m);
        break;
    }
}

int raft_step(raft_t *r, const raft_msg_t *m)
{
    if (!r || !m || r->rd.valid)
        return RAFT_EINVAL;
    if (m->from == 0 || m->from == r->id || m->to != r->id ||
        m->type < RAFT_MSG_APPEND || m->type > RAFT_MSG_READ_INDEX_RESP)
        return RAFT_EINVAL;
    /* Defence in depth: the codec already refuses these, but the core is
     * also stepped directly (simulation, tests) and must never adopt a term
     * it could not add 1 to (raft.h RAFT_TERM_LIMIT). */
    const char *why = raft_msg_check(m);
    if (why) {
        core_trace(r, RAFT_TRACE_WARN, "node %llu: %s from %llu in term %llu dropped: %s",
                 (unsigned long long)r->id, raft_msg_type_name(m->type),
                 (unsigned long long)m->from, (unsigned long long)m->term, why);
        return RAFT_EINVAL;
    }
    if (m->term > r->term) {
        if (!core_handle_higher_term(r, m))
            return 0;
    } else if (m->term < r->term) {
        core_handle_lower_term(r, m);
        return 0;
    }
    core_dispatch(r, m);
    return 0;
}

void raft_tick(raft_t *r)
{
    if (r->rd.valid)
        return;
    if (r->role == RAFT_LEADER)
        replication_leader_tick(r);
    else
        election_tick(r);
}

/* ---- proposals and compaction ---------------------------------------------- */

/* Figure 2 "Leaders": "If command received from client: append entry to
 * local log, respond after entry applied to state machine". */
int raft_propose(raft_t *r, const void *data, size_t len, raft_index_t *index)
{
    if (r->rd.valid)
        return RAFT_EINVAL;
    if (r->role != RAFT_LEADER)
        return RAFT_ENOTLEADER;
    if (r->transfer_to)
        return RAFT_EBUSY;  /* thesis §3.10 step 1 */
    if (len > r->o.max_entry_bytes)
        return RAFT_ETOOBIG;
    if (len && !data)
        return RAFT_EINVAL;
    int rc = log_append_copy(&r->log, r->term, RAFT_ENTRY_NORMAL, data, len);
    if (rc != 0)
        return rc;
    if (index)
        *index = log_last_index(&r->log);
    for (uint32_t i = 0; i < r->n_peers; i++)
        replication_send_append(r, &r->peers[i], false);
    return 0;
}

/* The configuration in effect at `index`: the last config entry at or
 * before it, else the one of the previous snapshot (or the bootstrap). */
static raft_members_t core_members_at(const raft_t *r, raft_index_t index)
{
    for (raft_index_t i = index; i > r->log.snap_index; i--) {
        const raft_entry_t *e = log_get(&r->log, i);
        raft_members_t m;
        if (e->type == RAFT_ENTRY_CONFIG &&
            raft_config_decode(e->data, e->len, &m, NULL, NULL) == 0)
            return m;
    }
    return r->snap.index ? r->snap.members : r->o.bootstrap;
}

/* §7: "Each server takes snapshots independently, covering just the
 * committed entries in its log". */
int raft_compact(raft_t *r, raft_index_t index, const void *data, size_t len)
{
    if (r->rd.valid || index <= r->log.snap_index || index > r->applied ||
        (len && !data))
        return RAFT_EINVAL;
    /* §7: "the snapshot also includes the latest configuration as of the
     * last included index". A node that joined knows none before its first
     * configuration entry (its bootstrap is empty); a snapshot there would
     * carry no voters, which followers refuse (raft_msg_check). Wait until
     * applied passes a configuration entry. */
    raft_members_t members = core_members_at(r, index);
    if (members.n_voters == 0)
        return RAFT_EINVAL;
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy)
        return RAFT_ENOMEM;
    if (len)
        memcpy(copy, data, len);
    raft_snapshot_t s = { .index = index, .term = log_term(&r->log, index),
                          .members = members,
                          .data = copy, .len = len };
    out_garbage(r, r->snap_buf);
    r->snap_buf = copy;
    r->snap = s;
    log_compact(r, index);
    return 0;
}

/* ---- introspection ------------------------------------------------------------ */

raft_id_t raft_id(const raft_t *r) { return r->id; }
raft_role_t raft_role(const raft_t *r) { return r->role; }
raft_term_t raft_term(const raft_t *r) { return r->term; }
raft_id_t raft_vote(const raft_t *r) { return r->vote; }
raft_id_t raft_leader(const raft_t *r) { return r->leader; }
raft_index_t raft_commit(const raft_t *r) { return r->commit; }
raft_index_t raft_applied(const raft_t *r) { return r->applied; }
raft_index_t raft_first_index(const raft_t *r) { return r->log.snap_index + 1; }
raft_index_t raft_last_index(const raft_t *r) { return log_last_index(&r->log); }
const raft_snapshot_t *raft_snapshot(const raft_t *r) { return &r->snap; }
const raft_members_t *raft_members(const raft_t *r) { return &r->members; }
raft_index_t raft_members_index(const raft_t *r) { return r->members_index; }
raft_id_t raft_transfer_target(const raft_t *r) { return r->transfer_to; }

raft_term_t raft_log_term(const raft_t *r, raft_index_t index)
{
    return log_term(&r->log, index);
}

const raft_entry_t *raft_log_entry(const raft_t *r, raft_index_t index)
{
    return log_get(&r->log, index);
}

int raft_progress(const raft_t *r, raft_id_t id, raft_progress_t *out)
{
    if (r->role != RAFT_LEADER)
        return RAFT_ENOTLEADER;
    const raft_peer_t *p = progress_find_const(r, id);
    if (!p)
        return RAFT_EINVAL;
    out->id = p->id;
    out->voter = p->voter;
    out->match = p->match;
    out->next = p->next;
    out->state = p->state;
    out->inflight = p->infl_count;
    out->recent_active = p->id == r->id || p->recent_active;
    out->caught_up = p->match >= r->commit;
    out->snapshot_index = p->snap_index;
    return 0;
}
