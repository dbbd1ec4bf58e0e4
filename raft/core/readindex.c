/* raft/core/readindex.c — linearizable reads without writing the log (thesis
 * §6.4 "Processing read-only queries more efficiently").
 *
 * Thesis §6.4, the leader:
 *   1. "If the leader has not yet marked an entry from its current term
 *      committed, it waits until it has done so" (the no-op of §6.4);
 *   2. "saves its current commit index in a local variable readIndex";
 *   3. "sends a new round of heartbeats, and waits for their
 *      acknowledgments from a majority of the cluster";
 *   4. the state machine may answer once it has applied up to readIndex.
 * Each request is tagged with a heartbeat round number (read_seq); a follower
 * echoes the round in its heartbeat reply, so one round confirms every read
 * queued before it. The index handed out is the commit index when the round
 * is confirmed, which is at least the one of step 2 and still safe: the
 * confirmation shows no newer leader existed when the request arrived.
 * Followers forward the request to the leader and relay the index back
 * (thesis §6.4 "followers ... could also help").
 */
#include "raft/core/raft_int.h"

#include <stdlib.h>

static int readindex_grow(void **arr, size_t *cap, size_t n, size_t elem)
{
    if (n < *cap)
        return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *a = realloc(*arr, ncap * elem);
    if (!a)
        return RAFT_ENOMEM;
    *arr = a;
    *cap = ncap;
    return 0;
}

int readindex_push_ready(raft_t *r, uint64_t ctx, raft_index_t index)
{
    if (readindex_grow((void **)&r->reads_ready, &r->cap_reads_ready,
                       r->n_reads_ready, sizeof(*r->reads_ready)) != 0)
        return RAFT_ENOMEM;
    r->reads_ready[r->n_reads_ready].ctx = ctx;
    r->reads_ready[r->n_reads_ready].index = index;
    r->n_reads_ready++;
    return 0;
}

static void readindex_release(raft_t *r, const raft_pending_read_t *p,
                              raft_index_t index)
{
    if (p->from == r->id) {
        readindex_push_ready(r, p->ctx, index);
        return;
    }
    raft_msg_t m = { .type = RAFT_MSG_READ_INDEX_RESP, .to = p->from,
                     .term = r->term };
    m.u.read_index_resp.ctx = p->ctx;
    m.u.read_index_resp.index = index;
    m.u.read_index_resp.ok = true;
    out_send(r, &m);
}

/* How far the heartbeat rounds are confirmed: the largest round a majority
 * of voters acknowledged (the leader confirms every round itself). */
static uint64_t readindex_confirmed_seq(const raft_t *r)
{
    uint64_t acked[RAFT_MAX_MEMBERS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->n_peers; i++) {
        const raft_peer_t *p = &r->peers[i];
        if (!p->voter)
            continue;
        acked[n++] = p->id == r->id ? r->read_seq : p->read_seq_acked;
    }
    if (n == 0)
        return 0;
    for (uint32_t i = 1; i < n; i++) {
        uint64_t v = acked[i];
        uint32_t j = i;
        while (j > 0 && acked[j - 1] < v) {
            acked[j] = acked[j - 1];
            j--;
        }
        acked[j] = v;
    }
    return acked[election_quorum(r) - 1];
}

/* Releases every queued read whose round a majority confirmed, provided the
 * leader has committed an entry of its term (step 1). */
void readindex_check_quorum(raft_t *r)
{
    if (r->role != RAFT_LEADER || r->n_reads_pending == 0)
        return;
    if (log_term(&r->log, r->commit) != r->term)
        return;
    uint64_t confirmed = readindex_confirmed_seq(r);
    size_t kept = 0;
    for (size_t i = 0; i < r->n_reads_pending; i++) {
        raft_pending_read_t p = r->reads_pending[i];
        if (p.seq <= confirmed)
            readindex_release(r, &p, r->commit);
        else
            r->reads_pending[kept++] = p;
    }
    r->n_reads_pending = kept;
}

static int readindex_leader_enqueue(raft_t *r, uint64_t ctx, raft_id_t from)
{
    if (r->o.bugs & RAFT_BUG_READ_NO_QUORUM) {
        raft_pending_read_t p = { .ctx = ctx, .from = from };
        readindex_release(r, &p, r->commit);
        return 0;
    }
    if (readindex_grow((void **)&r->reads_pending, &r->cap_reads_pending,
                       r->n_reads_pending, sizeof(*r->reads_pending)) != 0)
        return RAFT_ENOMEM;
    /* Step 3: a new heartbeat round confirms this request. */
    r->read_seq++;
    raft_pending_read_t *p = &r->reads_pending[r->n_reads_pending++];
    p->ctx = ctx;
    p->from = from;
    p->seq = r->read_seq;
    replication_broadcast_heartbeat(r);
    readindex_check_quorum(r);  /* a single-voter cluster needs no round */
    return 0;
}

int raft_read_index(raft_t *r, uint64_t ctx)
{
    if (r->rd.valid)
        return RAFT_EINVAL;  /* a batch is open: see raft.h */
    if (r->role == RAFT_LEADER)
        return readindex_leader_enqueue(r, ctx, r->id);
    if (r->leader == 0)
        return RAFT_ENOLEADER;
    raft_msg_t m = { .type = RAFT_MSG_READ_INDEX, .to = r->leader,
                     .term = r->term };
    m.u.read_index.ctx = ctx;
    out_send(r, &m);
    return 0;
}

/* A follower's forwarded request. A node that is not the leader says so
 * (ok = false) so the follower's caller can retry elsewhere at once. */
void readindex_recv_request(raft_t *r, const raft_msg_t *m)
{
    if (r->role == RAFT_LEADER &&
        readindex_leader_enqueue(r, m->u.read_index.ctx, m->from) == 0)
        return;
    raft_msg_t resp = { .type = RAFT_MSG_READ_INDEX_RESP, .to = m->from,
                        .term = r->term };
    resp.u.read_index_resp.ctx = m->u.read_index.ctx;
    resp.u.read_index_resp.ok = false;
    out_send(r, &resp);
}

void readindex_recv_response(raft_t *r, const raft_msg_t *m)
{
    if (!m->u.read_index_resp.ok)
        return;
    /* The follower serves the read once it has applied up to the leader's
     * index; its own commit index catches up through replication. */
    readindex_push_ready(r, m->u.read_index_resp.ctx,
                         m->u.read_index_resp.index);
}

/* A leader stepping down forgets its queued reads: the callers time out
 * and retry (the new leader may not even have the same commit index). */
void readindex_drop_pending(raft_t *r)
{
    r->n_reads_pending = 0;
}
