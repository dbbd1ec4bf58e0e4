/* raft/core/progress.c — the leader's view of each member (Figure 2 "Volatile
 * state on leaders": nextIndex[], matchIndex[]) and the flow control around
 * it, in the shape etcd's raft uses:
 *
 *   PROBE      we do not know where the follower's log matches ours: send
 *              one AppendEntries, wait for its answer (or the next
 *              heartbeat), back off on rejection (§5.3);
 *   REPLICATE  the logs match up to `match`: stream entries optimistically,
 *              at most max_inflight messages outstanding (pipelining);
 *   SNAPSHOT   the entries it needs are compacted away: send the snapshot
 *              in chunks (§7), then probe again.
 *
 * The table holds one slot per member of the configuration in effect,
 * including the leader itself (its match is its durable last index).
 */
#include "raft/core/raft_int.h"

#include <assert.h>
#include <string.h>

raft_peer_t *progress_find(raft_t *r, raft_id_t id)
{
    for (uint32_t i = 0; i < r->n_peers; i++)
        if (r->peers[i].id == id)
            return &r->peers[i];
    return NULL;
}

const raft_peer_t *progress_find_const(const raft_t *r, raft_id_t id)
{
    return progress_find((raft_t *)r, id);
}

static void progress_init_peer(raft_t *r, raft_peer_t *p, raft_id_t id,
                               bool voter)
{
    memset(p, 0, sizeof(*p));
    p->id = id;
    p->voter = voter;
    /* Figure 2: "nextIndex: initialized to leader last log index + 1",
     * "matchIndex: initialized to 0". */
    p->next = log_last_index(&r->log) + 1;
    p->match = 0;
    p->state = RAFT_PROGRESS_PROBE;
    if (id == r->id)
        p->match = r->log.stable;
}

/* Rebuilds the table for the configuration in effect, keeping the progress
 * of members that stay (a configuration change must not make the leader
 * forget what it knows about them). */
void progress_rebuild(raft_t *r)
{
    raft_peer_t old[RAFT_MAX_MEMBERS];
    uint32_t n_old = r->n_peers;
    memcpy(old, r->peers, sizeof(old));
    r->n_peers = 0;
    const raft_members_t *m = &r->members;
    for (int pass = 0; pass < 2; pass++) {
        uint32_t n = pass == 0 ? m->n_voters : m->n_learners;
        const raft_id_t *ids = pass == 0 ? m->voters : m->learners;
        for (uint32_t i = 0; i < n && r->n_peers < RAFT_MAX_MEMBERS; i++) {
            raft_peer_t *p = &r->peers[r->n_peers++];
            const raft_peer_t *prev = NULL;
            for (uint32_t j = 0; j < n_old; j++)
                if (old[j].id == ids[i])
                    prev = &old[j];
            if (prev)
                *p = *prev;
            else
                progress_init_peer(r, p, ids[i], pass == 0);
            p->voter = pass == 0;
        }
    }
}

/* Called when a node becomes leader (or candidate, to reset the tally). */
void progress_reset_all(raft_t *r)
{
    r->n_peers = 0;
    progress_rebuild(r);
    for (uint32_t i = 0; i < r->n_peers; i++)
        progress_init_peer(r, &r->peers[i], r->peers[i].id, r->peers[i].voter);
}

void progress_become_probe(raft_peer_t *p)
{
    /* After a snapshot, continue right after it; otherwise right after what
     * is known to match. */
    if (p->state == RAFT_PROGRESS_SNAPSHOT) {
        raft_index_t after = p->match > p->snap_index ? p->match : p->snap_index;
        p->next = after + 1;
    } else {
        p->next = p->match + 1;
    }
    p->state = RAFT_PROGRESS_PROBE;
    p->probe_sent = false;
    p->infl_start = p->infl_count = 0;
    p->snap_index = 0;
}

void progress_become_replicate(raft_peer_t *p)
{
    p->state = RAFT_PROGRESS_REPLICATE;
    p->next = p->match + 1;
    p->probe_sent = false;
    p->infl_start = p->infl_count = 0;
}

void progress_become_snapshot(raft_peer_t *p, raft_index_t snap_index)
{
    p->state = RAFT_PROGRESS_SNAPSHOT;
    p->snap_index = snap_index;
    p->snap_acked = 0;
    p->probe_sent = false;
    p->infl_start = p->infl_count = 0;
}

/* A successful AppendEntries reply for `index`: "update nextIndex and
 * matchIndex for follower" (Figure 2). Returns whether match moved. Replies
 * can arrive late or twice; match never goes backwards. */
bool progress_maybe_update(raft_peer_t *p, raft_index_t index)
{
    bool updated = false;
    if (p->match < index) {
        p->match = index;
        updated = true;
        p->probe_sent = false;
    }
    if (p->next < index + 1)
        p->next = index + 1;
    assert(p->match < p->next);   /* Figure 2: matchIndex < nextIndex */
    return updated;
}

/* A rejection of the append whose prev_index was `rejected`: "decrement
 * nextIndex and retry" (Figure 2), jumping straight past the conflicting
 * terms with the follower's hint (§5.3). Returns false for a stale reply
 * that must be ignored. */
bool progress_maybe_decr_to(raft_peer_t *p, raft_index_t rejected,
                            raft_index_t match_hint)
{
    if (p->state == RAFT_PROGRESS_REPLICATE) {
        /* Stale if it rejects something at or below what already matched. */
        if (rejected <= p->match)
            return false;
        p->next = p->match + 1;
        return true;
    }
    /* PROBE: only the reply to the probe in flight (prev = next - 1). */
    if (p->next == 0 || p->next - 1 != rejected)
        return false;
    raft_index_t next = rejected < match_hint + 1 ? rejected : match_hint + 1;
    if (next <= p->match)
        next = p->match + 1;
    p->next = next ? next : 1;
    p->probe_sent = false;
    return true;
}

bool progress_is_paused(const raft_t *r, const raft_peer_t *p)
{
    switch (p->state) {
    case RAFT_PROGRESS_PROBE:
        return p->probe_sent;
    case RAFT_PROGRESS_REPLICATE:
        return p->infl_count >= r->o.max_inflight;
    case RAFT_PROGRESS_SNAPSHOT:
        return true;
    }
    return true;
}

void progress_inflight_add(raft_peer_t *p, raft_index_t last)
{
    if (p->infl_count >= RAFT_MAX_INFLIGHT)
        return;
    uint32_t slot = (p->infl_start + p->infl_count) % RAFT_MAX_INFLIGHT;
    p->infl[slot] = last;
    p->infl_count++;
}

/* Every message whose last entry is <= index has been delivered. */
void progress_inflight_free_to(raft_peer_t *p, raft_index_t index)
{
    while (p->infl_count > 0 && p->infl[p->infl_start] <= index) {
        p->infl_start = (p->infl_start + 1) % RAFT_MAX_INFLIGHT;
        p->infl_count--;
    }
}

/* CheckQuorum (thesis §6.2): did a majority of voters (the leader counting
 * itself if it is one) talk to us during the last election timeout? */
bool progress_quorum_active(const raft_t *r)
{
    uint32_t active = 0;
    for (uint32_t i = 0; i < r->n_peers; i++) {
        const raft_peer_t *p = &r->peers[i];
        if (p->voter && (p->id == r->id || p->recent_active))
            active++;
    }
    return active >= election_quorum(r);
}

/* The highest index replicated on a majority of voters: the quorum-th
 * largest match (Figure 2 "a majority of matchIndex[i] >= N"). Returns 0
 * without voters. Learners never count (thesis §4.2.1). */
raft_index_t progress_quorum_match(const raft_t *r)
{
    raft_index_t m[RAFT_MAX_MEMBERS];
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->n_peers; i++)
        if (r->peers[i].voter)
            m[n++] = r->peers[i].match;
    if (n == 0)
        return 0;
    /* Insertion sort, descending: n <= 16. */
    for (uint32_t i = 1; i < n; i++) {
        raft_index_t v = m[i];
        uint32_t j = i;
        while (j > 0 && m[j - 1] < v) {
            m[j] = m[j - 1];
            j--;
        }
        m[j] = v;
    }
    return m[election_quorum(r) - 1];
}
