/* raft/core/out.c — the output batch: what raft_ready hands out and raft_advance
 * acknowledges (the contract is in raft.h).
 *
 * Owns the outgoing message queue, the pool of entry structs that outgoing
 * AppendEntries point into, the read states, and the garbage list (entry
 * data and snapshot buffers that left the log while a queued message may
 * still reference them). All of these arrays are reused from batch to batch,
 * so a core in steady state allocates nothing here.
 */
#include "raft/core/raft_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#define OUT_NO_POOL ((size_t)-1)

static int out_grow(void **arr, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t ncap = *cap ? *cap : 16;
    while (ncap < need)
        ncap *= 2;
    void *a = realloc(*arr, ncap * elem);
    if (!a)
        return RAFT_ENOMEM;
    *arr = a;
    *cap = ncap;
    return 0;
}

static raft_msg_t *out_slot(raft_t *r)
{
    size_t cap = r->cap_out;
    if (out_grow((void **)&r->out, &cap, r->n_out + 1, sizeof(*r->out)) != 0)
        return NULL;
    if (cap != r->cap_out) {
        size_t *off = realloc(r->out_pool_off, cap * sizeof(*off));
        if (!off)
            return NULL;  /* out grew, its capacity is simply not used */
        r->out_pool_off = off;
        r->cap_out = cap;
    }
    return &r->out[r->n_out];
}

void out_send(raft_t *r, raft_msg_t *m)
{
    assert(m->to != 0 && m->to != r->id);   /* never to self or nobody */
    m->from = r->id;
    raft_msg_t *slot = out_slot(r);
    if (!slot)
        return;  /* like a lost message: Raft retries */
    *slot = *m;
    r->out_pool_off[r->n_out] = OUT_NO_POOL;
    r->n_out++;
}

void out_send_append(raft_t *r, raft_msg_t *m, raft_index_t lo, size_t n)
{
    size_t off = r->n_pool;
    if (out_grow((void **)&r->pool, &r->cap_pool, r->n_pool + n,
                 sizeof(*r->pool)) != 0)
        return;
    for (size_t i = 0; i < n; i++)
        r->pool[off + i] = *log_get(&r->log, lo + i);
    m->from = r->id;
    raft_msg_t *slot = out_slot(r);
    if (!slot)
        return;
    r->n_pool += n;
    m->u.append.entries = NULL;
    m->u.append.n_entries = n;
    *slot = *m;
    r->out_pool_off[r->n_out] = n ? off : OUT_NO_POOL;
    r->n_out++;
}

void out_retract_acks(raft_t *r, raft_index_t from)
{
    size_t kept = 0;
    for (size_t i = 0; i < r->n_out; i++) {
        const raft_msg_t *m = &r->out[i];
        if (m->type == RAFT_MSG_APPEND_RESP && m->u.append_resp.success &&
            m->u.append_resp.index >= from)
            continue;
        r->out[kept] = r->out[i];
        r->out_pool_off[kept] = r->out_pool_off[i];
        kept++;
    }
    r->n_out = kept;
}

/* If the list cannot grow the pointer is leaked rather than freed early: a
 * leak under memory exhaustion beats a use-after-free. */
void out_garbage(raft_t *r, void *p)
{
    if (!p)
        return;
    if (out_grow((void **)&r->garbage, &r->cap_garbage, r->n_garbage + 1,
                 sizeof(*r->garbage)) != 0)
        return;
    r->garbage[r->n_garbage++] = p;
}

static void out_collect_garbage(raft_t *r)
{
    for (size_t i = 0; i < r->n_garbage; i++)
        free(r->garbage[i]);
    r->n_garbage = 0;
}

void out_destroy(raft_t *r)
{
    out_collect_garbage(r);
    free(r->garbage);
    free(r->out);
    free(r->out_pool_off);
    free(r->pool);
    free(r->reads_pending);
    free(r->reads_ready);
}

/* The hard state as it must be persisted. With the deliberate bug (c) the
 * vote is left out, so a restarted node forgets whom it voted for. */
raft_hard_state_t out_hard_state(const raft_t *r)
{
    raft_hard_state_t hs = { .term = r->term, .vote = r->vote,
                             .commit = r->commit };
    if (r->o.bugs & RAFT_BUG_FORGET_VOTE)
        hs.vote = 0;
    return hs;
}

static bool out_hs_equal(const raft_hard_state_t *a, const raft_hard_state_t *b)
{
    return a->term == b->term && a->vote == b->vote && a->commit == b->commit;
}

/* First index to hand to the state machine: after the snapshot being
 * installed, else after what was applied. */
static raft_index_t out_apply_from(const raft_t *r)
{
    raft_index_t from = r->applied + 1;
    if (r->snap_to_install && r->snap.index + 1 > from)
        from = r->snap.index + 1;
    return from;
}

bool raft_has_ready(const raft_t *r)
{
    raft_hard_state_t hs = out_hard_state(r);
    return !out_hs_equal(&hs, &r->hs_reported) || r->snap_to_install ||
           r->log.truncated_from != 0 ||
           log_last_index(&r->log) > r->log.stable || r->n_out > 0 ||
           r->commit >= out_apply_from(r) || r->n_reads_ready > 0;
}

void raft_ready(raft_t *r, raft_ready_t *rd)
{
    memset(rd, 0, sizeof(*rd));
    rd->hard_state = out_hard_state(r);
    rd->hard_state_changed = !out_hs_equal(&rd->hard_state, &r->hs_reported);
    rd->snapshot = r->snap_to_install ? &r->snap : NULL;
    rd->truncate_from = r->log.truncated_from;

    raft_index_t last = log_last_index(&r->log);
    if (last > r->log.stable) {
        rd->entries = log_get(&r->log, r->log.stable + 1);
        rd->n_entries = (size_t)(last - r->log.stable);
    }

    for (size_t i = 0; i < r->n_out; i++) {
        raft_msg_t *m = &r->out[i];
        if (m->type == RAFT_MSG_APPEND)
            m->u.append.entries = r->out_pool_off[i] == OUT_NO_POOL
                                      ? NULL : r->pool + r->out_pool_off[i];
    }
    rd->msgs = r->n_out ? r->out : NULL;
    rd->n_msgs = r->n_out;

    raft_index_t from = out_apply_from(r);
    if (r->commit >= from) {
        rd->committed = log_get(&r->log, from);
        rd->n_committed = rd->committed ? (size_t)(r->commit - from + 1) : 0;
    }
    rd->reads = r->n_reads_ready ? r->reads_ready : NULL;
    rd->n_reads = r->n_reads_ready;
    rd->role = r->role;
    rd->leader = r->leader;

    r->rd.valid = true;
    r->rd.last_entry = rd->n_entries ? last : 0;
    r->rd.applied_to = rd->n_committed ? r->commit
                                       : (rd->snapshot ? r->snap.index : 0);
    r->rd.hs = rd->hard_state;
    r->rd.snapshot = rd->snapshot != NULL;
}

/* The batch is durable, sent and applied. The leader now counts its own
 * log towards the commit quorum (it is durable), which may commit more. */
void raft_advance(raft_t *r, const raft_ready_t *rd)
{
    (void)rd;
    if (!r->rd.valid)
        return;
    r->rd.valid = false;
    if (r->rd.snapshot) {
        r->snap_to_install = false;
        if (r->applied < r->snap.index)
            r->applied = r->snap.index;
    }
    if (r->rd.last_entry > r->log.stable &&
        r->rd.last_entry <= log_last_index(&r->log))
        r->log.stable = r->rd.last_entry;
    r->log.truncated_from = 0;
    if (r->rd.applied_to > r->applied)
        r->applied = r->rd.applied_to;
    r->hs_reported = r->rd.hs;
    r->n_out = 0;
    r->n_pool = 0;
    r->n_reads_ready = 0;
    out_collect_garbage(r);

    if (r->role == RAFT_LEADER) {
        raft_peer_t *self = progress_find(r, r->id);
        if (self) {
            progress_maybe_update(self, r->log.stable);
            if (replication_maybe_commit(r))
                replication_broadcast_append(r);
        }
    }
}
