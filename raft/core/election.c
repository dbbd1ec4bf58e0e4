/* raft/core/election.c — leader election (§5.2, §5.4.1) with PreVote (thesis
 * §9.6) and the leader lease that CheckQuorum makes possible (thesis §6.2,
 * §4.2.3 "disruptive servers").
 *
 * Owns: the follower/candidate election timer, starting (pre-)campaigns,
 * answering RequestVote, and counting replies. Lessons built in: a pre-vote
 * changes neither term nor vote, and pre-vote replies are never counted as
 * votes (canonical/raft issue 196); a TimeoutNow campaign skips the pre-vote
 * and overrides leases (thesis §3.10).
 */
#include "raft/core/raft_int.h"


uint32_t election_quorum(const raft_t *r)
{
    return r->members.n_voters / 2 + 1;
}

/* True while this node believes a leader is alive: it heard from one (or is
 * one) within the minimum election timeout. Thesis §4.2.3: "if a server
 * receives a RequestVote request within the minimum election timeout of
 * hearing from a current leader, it does not update its term or grant its
 * vote". */
bool election_in_lease(const raft_t *r)
{
    return r->leader != 0 && r->election_elapsed < r->o.election_ticks;
}

/* Who may campaign. Voters of the latest configuration in the log do;
 * learners and removed servers stay quiet (thesis §4.2.1, §4.2.3). One
 * exception, from thesis §4.2.2: a server whose own removal is in its log
 * but uncommitted is still part of that change. A leader outside C_new
 * leads until C_new commits; if CheckQuorum deposes it first, its log may
 * be the only one that can win, and refusing to campaign can leave the
 * cluster leaderless for good (sim seed 11219: two servers with pending
 * self-removals, each refusing). Such a server campaigns counting only
 * C_new's voters, never itself, and steps down once C_new commits
 * (membership_on_commit). Election Safety is unchanged: it still needs a
 * majority of a configuration that overlaps every other one in play. */
static bool election_may_campaign(const raft_t *r)
{
    return membership_is_voter(r, r->id) || membership_self_removal_pending(r);
}

/* Figure 2 "Followers": "If election timeout elapses without receiving
 * AppendEntries from current leader or granting vote to candidate: convert
 * to candidate" — if this server may campaign at all. One that may not (a
 * learner, or a voter only in a configuration its log has not reached yet)
 * still counts the silence: it no longer knows a leader. Restarting its
 * timer while keeping the leader would renew the lease of §4.2.3 ("within
 * the minimum election timeout of hearing from a current leader") with no
 * word from any leader, and the server would ignore most (pre-)votes for
 * good. Sim seed 228864: n3, promoted in the leaders' logs but a learner in
 * its own, was the vote both candidates needed and answered one in three. */
void election_tick(raft_t *r)
{
    r->election_elapsed++;
    if (r->election_elapsed < r->randomized_timeout)
        return;
    if (!election_may_campaign(r)) {
        r->leader = 0;
        convert_reset_election_timer(r);
        return;
    }
    election_start(r, r->o.pre_vote, false, RAFT_WHY_TIMEOUT, 0);
}

static void election_send_requests(raft_t *r, bool pre_vote, bool transfer)
{
    for (uint32_t i = 0; i < r->members.n_voters; i++) {
        raft_id_t to = r->members.voters[i];
        if (to == r->id)
            continue;
        raft_msg_t m = { .type = RAFT_MSG_VOTE, .to = to };
        /* A pre-vote advertises the term it would campaign in, without
         * taking it (thesis §9.6). */
        m.term = pre_vote ? r->term + 1 : r->term;
        m.u.vote.prevote = pre_vote;
        m.u.vote.transfer = transfer;
        m.u.vote.last_index = rlog_last_index(&r->log);
        m.u.vote.last_term = rlog_last_term(&r->log);
        out_send(r, &m);
    }
}

static uint32_t election_tally(const raft_t *r, int8_t want)
{
    uint32_t n = 0;
    for (uint32_t i = 0; i < r->n_peers; i++)
        if (r->peers[i].voter && r->peers[i].vote == want)
            n++;
    return n;
}

static void election_record(raft_t *r, raft_id_t from, bool granted)
{
    raft_peer_t *p = progress_find(r, from);
    if (p && p->vote == 0)
        p->vote = granted ? 1 : -1;
}

/* Pre-candidate won its straw poll: now the real election (§5.2). With the
 * deliberate bug, the straw poll itself makes a leader. */
static void election_won(raft_t *r)
{
    if (r->role == RAFT_PRECANDIDATE) {
        if (r->o.bugs & RAFT_BUG_PREVOTE_IS_VOTE) {
            convert_to_candidate(r, RAFT_WHY_PREVOTE_WON, 0);
            convert_to_leader(r);
            return;
        }
        election_start(r, false, false, RAFT_WHY_PREVOTE_WON, 0);
        return;
    }
    convert_to_leader(r);
}

static void election_check_result(raft_t *r)
{
    uint32_t q = election_quorum(r);
    if (election_tally(r, 1) >= q)
        election_won(r);
    else if (election_tally(r, -1) >= q)
        /* §5.2: lost (or the pre-vote showed we cannot win): back to
         * follower in the same term and wait for a leader or a timeout. */
        convert_to_follower(r, r->term, 0, RAFT_WHY_LOST, 0);
}

/* Starts a pre-vote (thesis §9.6) or a real election (§5.2). Both use
 * term + 1 (Figure 2 "Candidates: increment currentTerm"), which must stay
 * below RAFT_TERM_LIMIT: at the limit the node refuses to campaign rather
 * than wrap to term 0, where no vote could ever be won (raft.h). */
void election_start(raft_t *r, bool pre_vote, bool transfer, raft_trace_reason_t why,
                    raft_id_t from)
{
    if (!election_may_campaign(r))
        return;
    if (r->term + 1 >= RAFT_TERM_LIMIT) {
        if (!r->term_limit_logged)
            trace_text(r, RAFT_TRACE_ERROR, "term %llu is at the limit 2^63 - 1: cannot campaign "
                       "(a forged or corrupt term); the cluster needs operator repair",
                       (unsigned long long)r->term);
        r->term_limit_logged = true;
        convert_reset_election_timer(r);
        return;
    }
    if (pre_vote)
        convert_to_precandidate(r, why, from);
    else
        convert_to_candidate(r, why, from);
    /* Tally: reuse the progress table for votes, self votes for itself. */
    progress_reset_all(r);
    election_record(r, r->id, true);
    election_send_requests(r, pre_vote, transfer);
    election_check_result(r);  /* a single-voter cluster wins at once */
}

/* Figure 2 RequestVote receiver, after raft_step handled the term:
 *   1. "Reply false if term < currentTerm" (done by raft_step);
 *   2. "If votedFor is null or candidateId, and candidate's log is at least
 *      as up-to-date as receiver's log, grant vote". */
/* Why this server may not vote for m's sender regardless of logs, or
 * RAFT_WHY_NONE; *other gets whom it voted for or follows. */
static raft_trace_reason_t election_vote_barrier(const raft_t *r, const raft_msg_t *m,
                                                 raft_id_t *other)
{
    const raft_vote_t *v = &m->u.vote;
    if (v->prevote) {
        /* A pre-vote is only a question about the future term: any node may
         * say yes, but not while it still hears from a leader (thesis §9.6)
         * unless the leader itself asked for the election (transfer). */
        *other = r->leader;
        if (m->term <= r->term)
            return RAFT_WHY_STALE_TERM;
        return v->transfer || !election_in_lease(r) ? RAFT_WHY_NONE : RAFT_WHY_LEASE;
    }
    if (r->vote != 0 && r->vote != m->from) {
        *other = r->vote;
        return RAFT_WHY_VOTED;
    }
    /* The `leader == 0` condition: see docs/raft.md, deviations. */
    *other = r->leader;
    return r->vote == 0 && r->leader != 0 ? RAFT_WHY_HAS_LEADER : RAFT_WHY_NONE;
}

void election_recv_vote(raft_t *r, const raft_msg_t *m)
{
    const raft_vote_t *v = &m->u.vote;
    raft_id_t other = 0;
    raft_trace_reason_t why = election_vote_barrier(r, m, &other);
    bool up_to_date = (r->o.bugs & RAFT_BUG_VOTE_ANY_LOG) ||
        rlog_is_up_to_date(&r->log, v->last_index, v->last_term);
    if (why == RAFT_WHY_NONE && !up_to_date)
        why = RAFT_WHY_LOG_BEHIND;  /* §5.4.1 election restriction */
    bool grant = why == RAFT_WHY_NONE;
    trace_vote(r, m, grant, why, other);

    raft_msg_t resp = { .type = RAFT_MSG_VOTE_RESP, .to = m->from };
    /* A granted pre-vote answers in the candidate's future term so the
     * reply is not mistaken for a stale one; a rejection carries our term
     * so a lagging candidate catches up. */
    resp.term = grant ? m->term : r->term;
    resp.u.vote_resp.prevote = v->prevote;
    resp.u.vote_resp.granted = grant;
    if (grant && !v->prevote) {
        r->vote = m->from;
        /* Figure 2: granting a vote resets the election timer. */
        r->election_elapsed = 0;
    }
    out_send(r, &resp);
}

/* Counts a reply. Real votes only count in a real election, pre-votes only
 * in a pre-vote (canonical/raft issue 196). */
void election_recv_vote_resp(raft_t *r, const raft_msg_t *m)
{
    const raft_vote_resp_t *v = &m->u.vote_resp;
    if (r->role == RAFT_PRECANDIDATE) {
        if (!v->prevote)
            return;
        /* Granted pre-votes come back with our future term; rejections
         * with the voter's (equal or, already handled, higher) term. */
        if (v->granted && m->term != r->term + 1)
            return;
    } else if (r->role == RAFT_CANDIDATE) {
        if (v->prevote || m->term != r->term)
            return;
    } else {
        return;
    }
    election_record(r, m->from, v->granted);
    election_check_result(r);
}
