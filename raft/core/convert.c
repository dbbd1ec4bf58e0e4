/* raft/core/convert.c — role changes (Figure 4's state diagram, plus the
 * pre-candidate of thesis §9.6).
 *
 * Each conversion resets exactly the state the new role must not inherit:
 * a new term forgets the vote (Figure 2: votedFor is per term), every role
 * starts a fresh randomized election timer (§5.2), a new leader starts with
 * fresh progress and appends a no-op (§5.4.2, thesis §6.4).
 */
#include "raft/core/raft_int.h"

#include <assert.h>

/* §5.2: "election timeouts are chosen randomly from a fixed interval" —
 * here [election_ticks, 2 * election_ticks). */
void convert_reset_election_timer(raft_t *r)
{
    r->election_elapsed = 0;
    r->heartbeat_elapsed = 0;
    r->randomized_timeout = r->o.election_ticks +
        (uint32_t)(core_random(r) % r->o.election_ticks);
}

static void convert_set_term(raft_t *r, raft_term_t term)
{
    if (term != r->term) {
        /* Figure 2: votedFor is "candidateId that received vote in current
         * term": a new term starts without one. */
        r->term = term;
        r->vote = 0;
        if (term > r->max_term_seen)
            r->max_term_seen = term;
    }
}

static void convert_leave_leadership(raft_t *r)
{
    if (r->role == RAFT_LEADER) {
        readindex_drop_pending(r);
        transfer_abort(r);
    }
}

/* Figure 2 "All Servers": "If RPC request or response contains term T >
 * currentTerm: set currentTerm = T, convert to follower". Also used when a
 * candidate learns of a legitimate leader in its own term (§5.2). */
void convert_to_follower(raft_t *r, raft_term_t term, raft_id_t leader)
{
    convert_leave_leadership(r);
    convert_set_term(r, term);
    r->role = RAFT_FOLLOWER;
    r->leader = leader;
    convert_reset_election_timer(r);
}

/* Thesis §9.6: a pre-candidate asks whether it could win before disturbing
 * anyone: its term and vote stay as they are. */
void convert_to_precandidate(raft_t *r)
{
    convert_leave_leadership(r);
    r->role = RAFT_PRECANDIDATE;
    r->leader = 0;
    convert_reset_election_timer(r);
}

/* Figure 2 "Candidates": "increment currentTerm, vote for self, reset
 * election timer". */
void convert_to_candidate(raft_t *r)
{
    convert_leave_leadership(r);
    assert(r->term + 1 < RAFT_TERM_LIMIT); /* election_start checked */
    convert_set_term(r, r->term + 1);
    r->vote = r->id;
    r->role = RAFT_CANDIDATE;
    r->leader = 0;
    convert_reset_election_timer(r);
}

/* Figure 2 "Leaders": reinitialize nextIndex/matchIndex; §5.4.2 / thesis
 * §6.4: append a no-op of the new term so that earlier entries (and the
 * ReadIndex precondition) can commit without waiting for a client. */
void convert_to_leader(raft_t *r)
{
    /* Only a candidate that won its election becomes leader (§5.2). */
    assert(r->role == RAFT_CANDIDATE && r->vote == r->id);
    r->role = RAFT_LEADER;
    r->leader = r->id;
    r->transfer_to = 0;
    convert_reset_election_timer(r);
    progress_reset_all(r);
    for (uint32_t i = 0; i < r->n_peers; i++)
        r->peers[i].recent_active = true;
    /* Thesis §4.1: a leader does not know whether a configuration entry in
     * its log from an earlier term committed; refuse a new change until
     * everything up to here has (etcd's pendingConfIndex). */
    r->pending_conf_index = log_last_index(&r->log);
    if (log_append_copy(&r->log, r->term, RAFT_ENTRY_NOOP, NULL, 0) != 0)
        core_trace(r, RAFT_TRACE_WARN, "node %llu: no memory for the no-op entry",
                 (unsigned long long)r->id);
    core_trace(r, RAFT_TRACE_DEBUG, "node %llu became leader in term %llu",
              (unsigned long long)r->id, (unsigned long long)r->term);
    replication_broadcast_append(r);
    /* A single-voter cluster commits as soon as the no-op is durable;
     * nothing to do here (raft_advance counts the leader's own log). */
}
