/* raft/core/invariants.c — cheap self-checks after every step (in the spirit of
 * LogCabin's RaftConsensusInvariants): properties of one node that must
 * hold whatever the network did. Cross-node properties (Election Safety,
 * Log Matching, State Machine Safety) are the simulation's job.
 *
 * Cost: O(members + a few log entries), so tests run it after every call.
 */
#include "raft/core/raft_int.h"

/* How many trailing entries to re-check for index/term order: the recent
 * ones are where bugs show; the rest were checked when they were recent. */
#define INVARIANT_LOG_TAIL 16

static const char *invariants_log(const raft_t *r)
{
    const raft_log_t *l = &r->log;
    raft_index_t last = log_last_index(l);
    if (l->stable > last)
        return "stable index beyond last index";
    if (r->commit > last)
        return "commit index beyond last index";
    if (r->applied > r->commit)
        return "applied index beyond commit index";
    if (r->snap.index != l->snap_index)
        return "snapshot index differs from log offset";
    if (l->snap_index > r->commit)
        return "snapshot covers uncommitted entries";
    if (log_last_term(l) > r->term)
        return "log has an entry from a future term";
    size_t from = l->n > INVARIANT_LOG_TAIL ? l->n - INVARIANT_LOG_TAIL : 0;
    for (size_t i = from; i < l->n; i++) {
        if (l->e[i].index != l->snap_index + 1 + i)
            return "log indexes not consecutive";
        raft_term_t prev = i ? l->e[i - 1].term : l->snap_term;
        if (l->e[i].term < prev)
            return "log terms decrease";
    }
    return NULL;
}

static const char *invariants_role(const raft_t *r)
{
    if (r->term < r->max_term_seen)
        return "term went backwards";
    switch (r->role) {
    case RAFT_LEADER:
        if (r->leader != r->id)
            return "leader does not know it leads";
        /* Figure 2: a candidate votes for itself; a leader was one. */
        if (r->vote != r->id)
            return "leader did not vote for itself";
        if (log_last_term(&r->log) != r->term)
            return "leader's log lacks an entry of its term";
        break;
    case RAFT_CANDIDATE:
        if (r->vote != r->id)
            return "candidate did not vote for itself";
        /* fall through */
    case RAFT_PRECANDIDATE:
        if (r->leader != 0)
            return "candidate knows a leader";
        /* election_may_campaign: voters, and a server whose own removal
         * is pending (thesis §4.2.2). */
        if (!membership_is_voter(r, r->id) &&
            !membership_self_removal_pending(r))
            return "non-voter campaigns";
        break;
    case RAFT_FOLLOWER:
        if (r->leader == r->id)
            return "follower believes it leads";
        break;
    }
    return NULL;
}

static const char *invariants_progress(const raft_t *r)
{
    if (r->role != RAFT_LEADER)
        return NULL;
    raft_index_t last = log_last_index(&r->log);
    for (uint32_t i = 0; i < r->n_peers; i++) {
        const raft_peer_t *p = &r->peers[i];
        if (p->match > last)
            return "follower matches beyond the leader's log";
        if (p->state != RAFT_PROGRESS_SNAPSHOT && p->next <= p->match)
            return "next index not after match index";
        if (p->infl_count > r->o.max_inflight)
            return "in-flight window overflow";
    }
    return NULL;
}

const char *raft_check_invariants(const raft_t *r)
{
    const char *why = invariants_log(r);
    if (!why)
        why = invariants_role(r);
    if (!why)
        why = invariants_progress(r);
    return why;
}
