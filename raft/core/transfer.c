/* raft/core/transfer.c — leadership transfer (thesis §3.10), used for graceful
 * shutdown and to move leadership off a node being removed.
 *
 * Thesis §3.10: "1. The prior leader stops accepting new client requests.
 * 2. The prior leader fully updates the target server's log to match its
 * own [...] 3. The prior leader sends a TimeoutNow request to the target
 * server. This request has the same effect as the target server's election
 * timer firing." The target's vote requests carry `transfer`, so voters set
 * aside the leader lease (they did just hear from the old leader), and it
 * skips the pre-vote. "If the transfer does not complete within an
 * election timeout, the prior leader aborts the transfer and resumes
 * accepting client requests" (replication_leader_tick).
 */
#include "raft/core/raft_int.h"


static raft_id_t transfer_pick_target(const raft_t *r)
{
    raft_id_t best = 0;
    raft_index_t best_match = 0;
    for (uint32_t i = 0; i < r->n_peers; i++) {
        const raft_peer_t *p = &r->peers[i];
        if (!p->voter || p->id == r->id)
            continue;
        if (best == 0 || p->match > best_match) {
            best = p->id;
            best_match = p->match;
        }
    }
    return best;
}

static void transfer_send_timeout_now(raft_t *r, raft_id_t to)
{
    raft_msg_t m = { .type = RAFT_MSG_TIMEOUT_NOW, .to = to, .term = r->term };
    out_send(r, &m);
}

int raft_transfer_leadership(raft_t *r, raft_id_t to)
{
    if (r->rd.valid)
        return RAFT_EINVAL;  /* a batch is open: see raft.h */
    if (r->role != RAFT_LEADER)
        return RAFT_ENOTLEADER;
    if (to == 0)
        to = transfer_pick_target(r);
    if (to == 0 || to == r->id || !membership_is_voter(r, to))
        return RAFT_EINVAL;
    raft_peer_t *p = progress_find(r, to);
    if (!p)
        return RAFT_EINVAL;
    r->transfer_to = to;
    /* The abort timer is the leader's election timer (thesis §3.10). */
    r->election_elapsed = 0;
    core_trace(r, RAFT_TRACE_DEBUG, "node %llu transfers leadership to %llu",
              (unsigned long long)r->id, (unsigned long long)to);
    if (p->match == log_last_index(&r->log))
        transfer_send_timeout_now(r, to);
    else
        replication_send_append(r, p, true);
    return 0;
}

/* Step 3, once the target's log matches ours. */
void transfer_maybe_send_timeout_now(raft_t *r, raft_peer_t *p)
{
    if (r->transfer_to == p->id && p->match == log_last_index(&r->log))
        transfer_send_timeout_now(r, p->id);
}

void transfer_abort(raft_t *r)
{
    r->transfer_to = 0;
}

/* The target: behave as if the election timer fired, but without the
 * pre-vote, which the lease would make fail (thesis §3.10, §9.6). */
void transfer_recv_timeout_now(raft_t *r, const raft_msg_t *m)
{
    (void)m;
    if (r->role == RAFT_LEADER || !membership_is_voter(r, r->id))
        return;
    core_trace(r, RAFT_TRACE_DEBUG, "node %llu: TimeoutNow from %llu, campaigns",
              (unsigned long long)r->id, (unsigned long long)m->from);
    election_start(r, false, true);
}
