/* raft/core/replication.c — log replication (§5.3), the commit rule (§5.4.2),
 * heartbeats (§5.2) and InstallSnapshot (§7, Figure 13, thesis §5.2).
 *
 * Leader side: decide what to send each member from its progress (probe one
 * message at a time, pipeline up to max_inflight, batch up to
 * max_entries_per_msg / max_bytes_per_msg, switch to chunked snapshots when
 * the entries are gone), react to replies, advance the commit index.
 * Follower side: the AppendEntries and InstallSnapshot receiver rules.
 */
#include "raft/core/raft_int.h"


#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* ---- leader: sending ------------------------------------------------------ */

static void replication_send_snapshot_chunk(raft_t *r, raft_peer_t *p)
{
    const raft_snapshot_t *s = &r->snap;
    if (p->snap_index != s->index)
        progress_become_snapshot(p, s->index);  /* a newer one: restart */
    uint64_t off = p->snap_acked;
    if (off > s->len)
        off = 0;
    size_t len = s->len - (size_t)off;
    if (len > r->o.snapshot_chunk_bytes)
        len = r->o.snapshot_chunk_bytes;
    raft_msg_t m = { .type = RAFT_MSG_SNAPSHOT, .to = p->id, .term = r->term };
    raft_snapshot_chunk_t *c = &m.u.snapshot;
    c->index = s->index;
    c->term = s->term;
    c->members = s->members;
    c->total_len = s->len;
    c->offset = off;
    c->data = len ? s->data + off : NULL;
    c->len = len;
    c->last = off + len == s->len;
    out_send(r, &m);
}

/* §7: "the leader must occasionally send snapshots to followers that lag
 * behind" — when the entries they need were compacted. */
static void replication_start_snapshot(raft_t *r, raft_peer_t *p)
{
    if (r->snap.index == 0)
        return;  /* nothing compacted: cannot happen, but stay safe */
    progress_become_snapshot(p, r->snap.index);
    trace_snapshot(r, p->id, r->snap.index, r->snap.term);
    replication_send_snapshot_chunk(r, p);
}

/* How many entries from `from` fit one message (batching). At least one,
 * so an entry larger than max_bytes_per_msg still gets through. */
static size_t replication_batch(const raft_t *r, raft_index_t from)
{
    raft_index_t last = rlog_last_index(&r->log);
    size_t n = 0, bytes = 0;
    while (from + n <= last && n < r->o.max_entries_per_msg) {
        const raft_entry_t *e = rlog_get(&r->log, from + n);
        if (n > 0 && bytes + e->len > r->o.max_bytes_per_msg)
            break;
        bytes += e->len;
        n++;
    }
    return n;
}

/* Figure 2 "Leaders": "If last log index >= nextIndex for a follower: send
 * AppendEntries RPC with log entries starting at nextIndex". With
 * send_if_empty, an entry-less append still goes out (to carry a new commit
 * index or to probe). */
void replication_send_append(raft_t *r, raft_peer_t *p, bool send_if_empty)
{
    if (p->id == r->id || progress_is_paused(r, p))
        return;
    raft_index_t prev = p->next - 1;
    raft_term_t prev_term = rlog_term(&r->log, prev);
    if (prev < r->log.snap_index || (prev_term == 0 && prev > 0)) {
        replication_start_snapshot(r, p);
        return;
    }
    size_t n = replication_batch(r, p->next);
    if (n == 0 && !send_if_empty)
        return;
    raft_msg_t m = { .type = RAFT_MSG_APPEND, .to = p->id, .term = r->term };
    m.u.append.prev_index = prev;
    m.u.append.prev_term = prev_term;
    m.u.append.commit = r->commit;
    out_send_append(r, &m, p->next, n);
    if (p->state == RAFT_PROGRESS_REPLICATE) {
        /* Pipelining: assume it will succeed and move on. */
        if (n > 0) {
            p->next = prev + n + 1;
            progress_inflight_add(p, prev + n);
        }
    } else {
        p->probe_sent = true;
    }
}

void replication_broadcast_append(raft_t *r)
{
    for (uint32_t i = 0; i < r->n_peers; i++)
        replication_send_append(r, &r->peers[i], true);
}

/* §5.2: "Leaders send periodic heartbeats (AppendEntries RPCs that carry no
 * log entries) to all followers in order to maintain their authority". They
 * carry the commit index only as far as the follower is known to match,
 * since a heartbeat skips the Log Matching check, and the current ReadIndex
 * round (thesis §6.4). */
void replication_broadcast_heartbeat(raft_t *r)
{
    for (uint32_t i = 0; i < r->n_peers; i++) {
        raft_peer_t *p = &r->peers[i];
        if (p->id == r->id)
            continue;
        raft_msg_t m = { .type = RAFT_MSG_HEARTBEAT, .to = p->id,
                         .term = r->term };
        m.u.heartbeat.commit = p->match < r->commit ? p->match : r->commit;
        m.u.heartbeat.read_seq = r->read_seq;
        out_send(r, &m);
    }
}

/* ---- leader: commit ---------------------------------------------------------- */

/* Figure 2 "Leaders": "If there exists an N such that N > commitIndex, a
 * majority of matchIndex[i] >= N, and log[N].term == currentTerm: set
 * commitIndex = N". The term condition is §5.4.2 (Figure 8): an entry of an
 * earlier term is never committed by counting replicas, only indirectly. */
bool replication_maybe_commit(raft_t *r)
{
    if (r->role != RAFT_LEADER)
        return false;
    raft_index_t n = progress_quorum_match(r);
    if (n <= r->commit)
        return false;
    if (rlog_term(&r->log, n) != r->term &&
        !(r->o.bugs & RAFT_BUG_COMMIT_OLD_TERM))
        return false;
    assert(n <= rlog_last_index(&r->log)); /* a quorum stores entries <= n */
    core_set_commit(r, n);
    membership_on_commit(r);
    if (r->role == RAFT_LEADER)
        readindex_check_quorum(r);
    return true;
}

/* ---- leader: replies --------------------------------------------------------- */

static void replication_send_more(raft_t *r, raft_peer_t *p)
{
    /* Keep the pipeline full: several batches per reply when the window
     * allows (bounded by max_inflight). */
    raft_index_t last = rlog_last_index(&r->log);
    while (p->next <= last && !progress_is_paused(r, p)) {
        raft_index_t before = p->next;
        replication_send_append(r, p, false);
        if (p->next == before)
            break;
    }
}

void replication_recv_append_resp(raft_t *r, const raft_msg_t *m)
{
    if (r->role != RAFT_LEADER)
        return;
    raft_peer_t *p = progress_find(r, m->from);
    if (!p || p->id == r->id)
        return;
    p->recent_active = true;
    p->append_answered = true;
    const raft_append_resp_t *a = &m->u.append_resp;
    if (!a->success) {
        /* §5.3 with the conflict hint: jump to the last index where our
         * log could still agree with the follower's. */
        raft_index_t hint = a->hint_index;
        if (a->hint_term > 0)
            hint = rlog_find_conflict_by_term(&r->log, a->hint_index,
                                              a->hint_term);
        if (progress_maybe_decr_to(p, a->index, hint)) {
            if (p->state == RAFT_PROGRESS_REPLICATE)
                progress_become_probe(p);
            replication_send_append(r, p, true);
        }
        return;
    }
    if (a->index > rlog_last_index(&r->log))
        return;  /* hostile or from another term's log: ignore */
    bool updated = progress_maybe_update(p, a->index);
    progress_inflight_free_to(p, a->index);
    /* A probe answered at exactly the known match also ends probing. */
    bool probe_done = p->state == RAFT_PROGRESS_PROBE && p->match == a->index;
    if (updated || probe_done) {
        if (p->state == RAFT_PROGRESS_PROBE)
            progress_become_replicate(p);
        else if (p->state == RAFT_PROGRESS_SNAPSHOT &&
                 p->match >= p->snap_index)
            progress_become_probe(p);
        if (replication_maybe_commit(r))
            replication_broadcast_append(r);
        if (r->role != RAFT_LEADER)
            return;
        transfer_maybe_send_timeout_now(r, p);
    }
    replication_send_more(r, p);
}

void replication_recv_heartbeat_resp(raft_t *r, const raft_msg_t *m)
{
    if (r->role != RAFT_LEADER)
        return;
    raft_peer_t *p = progress_find(r, m->from);
    if (!p || p->id == r->id)
        return;
    p->recent_active = true;
    /* A probe that got lost is retried once per heartbeat. A pipeline
     * whose appends all went unanswered for a whole heartbeat round lost
     * messages: fall back to probing from the last known match. */
    p->probe_sent = false;
    if (p->state == RAFT_PROGRESS_REPLICATE && p->infl_count > 0 &&
        !p->append_answered)
        progress_become_probe(p);
    p->append_answered = false;
    if (m->u.heartbeat_resp.read_seq > p->read_seq_acked &&
        m->u.heartbeat_resp.read_seq <= r->read_seq)
        p->read_seq_acked = m->u.heartbeat_resp.read_seq;
    if (p->state == RAFT_PROGRESS_SNAPSHOT)
        replication_send_snapshot_chunk(r, p);  /* retransmit */
    else if (p->match < rlog_last_index(&r->log))
        replication_send_append(r, p, p->state == RAFT_PROGRESS_PROBE);
    readindex_check_quorum(r);
}

void replication_recv_snapshot_resp(raft_t *r, const raft_msg_t *m)
{
    if (r->role != RAFT_LEADER)
        return;
    raft_peer_t *p = progress_find(r, m->from);
    if (!p || p->id == r->id)
        return;
    p->recent_active = true;
    const raft_snapshot_resp_t *s = &m->u.snapshot_resp;
    if (p->state != RAFT_PROGRESS_SNAPSHOT || s->index != p->snap_index)
        return;
    if (s->done) {
        if (s->match_index <= rlog_last_index(&r->log))
            progress_maybe_update(p, s->match_index);
        progress_become_probe(p);
        if (replication_maybe_commit(r))
            replication_broadcast_append(r);
        else
            replication_send_append(r, p, true);
        return;
    }
    if (s->next_offset == p->snap_acked && s->next_offset != 0)
        return;  /* duplicate reply: the heartbeat will retransmit */
    /* If our snapshot changed since, start the new one from scratch. */
    if (r->snap.index != p->snap_index) {
        progress_become_snapshot(p, r->snap.index);
    } else {
        p->snap_acked = s->next_offset <= r->snap.len ? s->next_offset : 0;
    }
    replication_send_snapshot_chunk(r, p);
}

void replication_leader_tick(raft_t *r)
{
    r->heartbeat_elapsed++;
    r->election_elapsed++;
    if (r->election_elapsed >= r->o.election_ticks) {
        r->election_elapsed = 0;
        /* Thesis §6.2 CheckQuorum: "a leader steps down if an election
         * timeout elapses without a successful round of heartbeats to a
         * majority of its cluster". */
        if (r->o.check_quorum && !progress_quorum_active(r)) {
            convert_to_follower(r, r->term, 0, RAFT_WHY_NO_QUORUM, 0);
            return;
        }
        for (uint32_t i = 0; i < r->n_peers; i++)
            r->peers[i].recent_active = r->peers[i].id == r->id;
        /* Thesis §3.10: abort a transfer that did not finish within an
         * election timeout, and accept proposals again. */
        if (r->transfer_to)
            transfer_abort(r);
    }
    if (r->heartbeat_elapsed >= r->o.heartbeat_ticks) {
        r->heartbeat_elapsed = 0;
        replication_broadcast_heartbeat(r);
    }
}

/* ---- follower: AppendEntries ------------------------------------------------- */

static void replication_reply_append(raft_t *r, raft_id_t to, bool success,
                                     raft_index_t index, raft_index_t hint,
                                     raft_term_t hint_term)
{
    raft_msg_t resp = { .type = RAFT_MSG_APPEND_RESP, .to = to,
                        .term = r->term };
    resp.u.append_resp.success = success;
    resp.u.append_resp.index = index;
    resp.u.append_resp.hint_index = hint;
    resp.u.append_resp.hint_term = hint_term;
    out_send(r, &resp);
}

/* Appends the entries not already present, truncating at the first
 * conflict (Figure 2 AppendEntries receiver rules 3 and 4). Returns false
 * if memory ran out (the follower then answers nothing; the leader will
 * retry). */
static bool replication_store_entries(raft_t *r, const raft_append_t *a)
{
    for (size_t i = 0; i < a->n_entries; i++) {
        const raft_entry_t *e = &a->entries[i];
        raft_index_t idx = a->prev_index + 1 + i;
        raft_term_t have = rlog_term(&r->log, idx);
        if (idx <= rlog_last_index(&r->log) && have == e->term)
            continue;  /* rule 4: "Append any new entries not already in
                          the log" — this one is already there */
        if (idx <= rlog_last_index(&r->log)) {
            /* Rule 3. A committed entry can never conflict (Figure 3 Log
             * Matching, Leader Completeness, State Machine Safety): an
             * append asking to truncate at or below commitIndex is forged
             * or comes from a broken leader. Refuse it whole and say so;
             * never comply. */
            if (idx <= r->commit) {
                trace_text(r, RAFT_TRACE_ERROR, "append from %llu in term %llu "
                          "would truncate committed entry %llu (term %llu, "
                          "commit %llu) with one of term %llu: refused",
                          (unsigned long long)r->leader,
                          (unsigned long long)r->term,
                          (unsigned long long)idx, (unsigned long long)have,
                          (unsigned long long)r->commit,
                          (unsigned long long)e->term);
                return false;
            }
            rlog_truncate(r, idx);
            membership_recompute(r);
        }
        if (rlog_append_copy(&r->log, e->term, e->type, e->data, e->len) != 0)
            return false;
        membership_apply_entry(r, rlog_get(&r->log, idx));
    }
    return true;
}

/* An append whose prev_index is below our commit index: the part of it we
 * hold committed must agree with our log (Figure 3 Leader Completeness: a
 * committed entry is in every later leader's log). If it does not, either
 * the message or our commit index is forged (e.g. a forged heartbeat made
 * us commit entries no leader committed): answering "match up to commit"
 * would hide the divergence for good, so refuse loudly and answer nothing.
 * Returns true if it agrees. */
static bool replication_committed_prefix_agrees(raft_t *r, const raft_append_t *a)
{
    raft_index_t lo = r->log.snap_index, hi = r->commit;
    const char *what = NULL;
    raft_index_t at = a->prev_index;
    raft_term_t ours = 0, theirs = a->prev_term;
    if (at >= lo && at <= hi && rlog_term(&r->log, at) != a->prev_term) {
        what = "prev entry";
        ours = rlog_term(&r->log, at);
    }
    for (size_t i = 0; !what && i < a->n_entries; i++) {
        at = a->entries[i].index;
        if (at < lo || at > hi)
            continue;
        if (rlog_term(&r->log, at) != a->entries[i].term) {
            what = "entry";
            ours = rlog_term(&r->log, at);
            theirs = a->entries[i].term;
        }
    }
    if (!what)
        return true;
    trace_text(r, RAFT_TRACE_ERROR, "append from %llu in term %llu disagrees with committed %s %llu "
              "(term %llu here, %llu in the message, commit %llu): refused; the leader's message "
              "or this node's commit index is forged", (unsigned long long)r->leader, (unsigned long long)r->term, what,
              (unsigned long long)at, (unsigned long long)ours, (unsigned long long)theirs,
              (unsigned long long)r->commit);
    return false;
}

/* Figure 2 AppendEntries receiver (rule 1, term < currentTerm, is raft_step's
 * job, and so are the arguments' shape: raft_msg_check in validate.c; the
 * sender is the leader of our term from here on). */
void replication_recv_append(raft_t *r, const raft_msg_t *m)
{
    const raft_append_t *a = &m->u.append;
    r->leader = m->from;
    r->election_elapsed = 0;
    /* Already committed here: those entries match the leader's for sure
     * (Leader Completeness), provided the message agrees with them. */
    if (a->prev_index < r->commit) {
        if (replication_committed_prefix_agrees(r, a))
            replication_reply_append(r, m->from, true, r->commit, 0, 0);
        return;
    }
    /* Rule 2: "Reply false if log doesn't contain an entry at prevLogIndex
     * whose term matches prevLogTerm". */
    bool matches = rlog_term(&r->log, a->prev_index) == a->prev_term &&
                   a->prev_index <= rlog_last_index(&r->log);
    if (!matches && (r->o.bugs & RAFT_BUG_SKIP_LOG_MATCH) &&
        a->prev_index <= rlog_last_index(&r->log))
        matches = true;
    if (!matches) {
        raft_index_t last = rlog_last_index(&r->log);
        if (a->prev_index > last)
            trace_append_reject(r, m, RAFT_WHY_MISSING, last, rlog_last_term(&r->log));
        else
            trace_append_reject(r, m, RAFT_WHY_CONFLICT, a->prev_index,
                                rlog_term(&r->log, a->prev_index));
        raft_index_t hint = a->prev_index < rlog_last_index(&r->log)
                                ? a->prev_index : rlog_last_index(&r->log);
        hint = rlog_find_conflict_by_term(&r->log, hint, a->prev_term);
        replication_reply_append(r, m->from, false, a->prev_index, hint,
                                 rlog_term(&r->log, hint));
        return;
    }
    if (!replication_store_entries(r, a))
        return;
    raft_index_t last_new = a->prev_index + a->n_entries;
    /* Rule 5: "If leaderCommit > commitIndex, set commitIndex =
     * min(leaderCommit, index of last new entry)". */
    if (a->commit > r->commit) {
        raft_index_t c = a->commit < last_new ? a->commit : last_new;
        if (c > r->commit)
            core_set_commit(r, c);
    }
    replication_reply_append(r, m->from, true, last_new, 0, 0);
}

/* How far a heartbeat may move our commit index. A heartbeat skips the Log
 * Matching check (§5.3), so its commit proves nothing about our log; only
 * entries of the current term are known to be the current leader's (they
 * can only come from it, and reached us through that check; §5.4.2 a
 * leader commits through an entry of its own term). If our log does not end
 * in the current term, our tail may be a deposed leader's uncommitted
 * entries, which an honest leader would overwrite: the commit then waits
 * for an AppendEntries, which proves the match. */
static raft_index_t replication_heartbeat_commit_bound(const raft_t *r)
{
    if (rlog_last_term(&r->log) != r->term)
        return r->commit;
    return rlog_last_index(&r->log);
}

void replication_recv_heartbeat(raft_t *r, const raft_msg_t *m)
{
    r->leader = m->from;
    r->election_elapsed = 0;
    raft_index_t c = m->u.heartbeat.commit;
    raft_index_t bound = replication_heartbeat_commit_bound(r);
    if (c > bound)
        c = bound;
    if (c > r->commit)
        core_set_commit(r, c);
    raft_msg_t resp = { .type = RAFT_MSG_HEARTBEAT_RESP, .to = m->from,
                        .term = r->term };
    resp.u.heartbeat_resp.read_seq = m->u.heartbeat.read_seq;
    out_send(r, &resp);
}

/* ---- follower: InstallSnapshot ------------------------------------------------ */

static void replication_reply_snapshot(raft_t *r, raft_id_t to,
                                       raft_index_t index, uint64_t next,
                                       bool done, raft_index_t match)
{
    raft_msg_t resp = { .type = RAFT_MSG_SNAPSHOT_RESP, .to = to,
                        .term = r->term };
    resp.u.snapshot_resp.index = index;
    resp.u.snapshot_resp.next_offset = next;
    resp.u.snapshot_resp.done = done;
    resp.u.snapshot_resp.match_index = match;
    out_send(r, &resp);
}

static void replication_inbound_reset(raft_t *r)
{
    r->inbound.from = 0;
    r->inbound.leader_term = 0;
    r->inbound.index = 0;
    r->inbound.term = 0;
    r->inbound.total = 0;
    r->inbound.have = 0;
}

/* The state machine's verdict on the reassembled bytes (raft_options_t
 * snapshot_check), asked before Figure 13 step 7 discards anything. */
static const char *replication_snapshot_content_error(raft_t *r)
{
    if (!r->o.snapshot_check)
        return NULL;
    raft_snapshot_t s = { .index = r->inbound.index, .term = r->inbound.term,
                          .members = r->inbound.members,
                          .data = r->inbound.buf,
                          .len = (size_t)r->inbound.total };
    return r->o.snapshot_check(r->o.snapshot_check_ctx, &s);
}

/* Figure 13 step 6-8, once every chunk is here. Returns false if the
 * snapshot was refused (nothing changed). */
static bool replication_install_snapshot(raft_t *r)
{
    raft_index_t idx = r->inbound.index;
    raft_term_t term = r->inbound.term;
    if (rlog_term(&r->log, idx) == term && idx <= rlog_last_index(&r->log)) {
        /* Step 6: "If existing log entry has same index and term as
         * snapshot's last included entry, retain log entries following it
         * and reply": the entries up to idx are ours already and match. */
        if (idx > r->commit)
            core_set_commit(r, idx);
        replication_inbound_reset(r);
        return true;
    }
    /* §7: the snapshot replaces the whole state; a bad one must leave the
     * old log, state and files in place (checked before step 7). */
    const char *why = replication_snapshot_content_error(r);
    if (why) {
        trace_text(r, RAFT_TRACE_ERROR, "snapshot %llu/%llu from %llu refused, "
                  "log and state kept: %s", (unsigned long long)idx, (unsigned long long)term,
                  (unsigned long long)r->inbound.from, why);
        replication_inbound_reset(r);
        return false;
    }
    /* Step 7-8: discard the log, adopt the snapshot (and its
     * configuration), have the runtime restore the state machine. The
     * reassembly buffer becomes the snapshot: no copy. */
    out_garbage(r, r->snap_buf);
    r->snap_buf = r->inbound.buf;
    r->snap.index = idx;
    r->snap.term = term;
    r->snap.members = r->inbound.members;
    r->snap.data = r->snap_buf;
    r->snap.len = (size_t)r->inbound.total;
    r->inbound.buf = NULL;
    r->inbound.cap = 0;
    rlog_reset(r, idx, term);
    raft_index_t old_commit = r->commit;
    r->commit = idx;
    r->snap_to_install = true;
    membership_recompute(r);
    replication_inbound_reset(r);
    trace_snapshot(r, 0, idx, term);
    if (idx > old_commit)
        trace_commit(r);
    return true;
}

/* Room for `need` bytes. Grown as chunks arrive (doubling, capped at the
 * snapshot's total), never to a size a chunk merely claims: a forged first
 * chunk announcing an exabyte snapshot costs nothing. */
static bool replication_inbound_reserve(raft_t *r, size_t need)
{
    if (need <= r->inbound.cap)
        return true;
    size_t want = r->inbound.cap * 2;
    if (want < need)
        want = need;
    if (want > r->inbound.total)
        want = need > r->inbound.total ? need : (size_t)r->inbound.total;
    uint8_t *b = realloc(r->inbound.buf, want ? want : 1);
    if (!b)
        return false;
    r->inbound.buf = b;
    r->inbound.cap = want;
    return true;
}

void replication_recv_snapshot(raft_t *r, const raft_msg_t *m)
{
    const raft_snapshot_chunk_t *c = &m->u.snapshot;
    r->leader = m->from;
    r->election_elapsed = 0;
    /* raft_step's raft_msg_check (validate.c) has checked the Figure 13
     * arguments; what is left is whether the snapshot fits in memory. */
    if (c->total_len > SIZE_MAX / 2)
        return;
    /* Nothing to learn from a snapshot we are already past. */
    if (c->index <= r->commit) {
        replication_reply_snapshot(r, m->from, c->index, c->total_len, true,
                                   r->commit);
        return;
    }
    /* Another leader may encode the same snapshot differently: only
     * chunks from one sender in one term are put together. */
    bool same = r->inbound.index == c->index && r->inbound.term == c->term &&
                r->inbound.total == c->total_len &&
                r->inbound.from == m->from && r->inbound.leader_term == m->term;
    if (!same) {
        if (c->offset != 0) {
            /* Lost the beginning (e.g. restarted): ask from byte 0. */
            replication_reply_snapshot(r, m->from, c->index, 0, false, 0);
            return;
        }
        replication_inbound_reset(r);
        r->inbound.from = m->from;
        r->inbound.leader_term = m->term;
        r->inbound.index = c->index;
        r->inbound.term = c->term;
        r->inbound.members = c->members;
        r->inbound.total = c->total_len;
    }
    if (c->offset == r->inbound.have && c->len > 0) {
        if (!replication_inbound_reserve(r, (size_t)(r->inbound.have + c->len)))
            return;
        memcpy(r->inbound.buf + r->inbound.have, c->data, c->len);
        r->inbound.have += c->len;
    }
    if (r->inbound.have == r->inbound.total) {
        if (!replication_inbound_reserve(r, (size_t)r->inbound.total))
            return;
        if (!replication_install_snapshot(r))
            return;  /* refused: say nothing, the leader retransmits */
        replication_reply_snapshot(r, m->from, c->index, c->total_len, true,
                                   c->index);
        return;
    }
    replication_reply_snapshot(r, m->from, c->index, r->inbound.have, false,
                               0);
}
