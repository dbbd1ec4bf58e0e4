/* tests/unit/test_raft_figure2.c — one test per sentence of the Raft
 * paper's Figure 2 ("In Search of an Understandable Consensus Algorithm",
 * Ongaro & Ousterhout 2014), then one per thesis extension the core
 * implements that has no test of its own elsewhere, then the deliberate
 * deviations from Figure 2 that docs/raft.md lists.
 *
 * Each test quotes its sentence and says "Reference: §x". It drives one
 * core through the public API (raft/raft.h) by hand (make_core, step,
 * drain... in raft_test_net.c), or a small in-process network where the
 * rule is about crashes. A sentence has exactly one home: where the paper's
 * scenario tests (test_raft_paper.c) or the thesis tests
 * (test_raft_thesis.c) already check a sentence one-for-one, the table at
 * the end of this file points there instead of repeating it.
 *
 * Each test was checked to fail with its rule broken: a RAFT_BUG_* switch
 * where one exists (those tests run both ways here), and in every case the
 * temporary edit of the core named in its comment ("Broken by: ..."): with
 * the edit, that test fails (2026-12-07, 33 edits, one at a time).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "raft_test_net.c"

/* ---- helpers ------------------------------------------------------------------- */

/* Carries out r's batches and returns how many messages of `type` went to
 * `to` (0: anyone); the first one is copied into *out (entry pointers
 * cleared: they die with the batch). */
static size_t take(raft_t *r, raft_msg_type_t type, raft_id_t to,
                   raft_msg_t *out)
{
    size_t n = 0;
    while (raft_has_ready(r)) {
        raft_ready_t rd;
        raft_ready(r, &rd);
        for (size_t i = 0; i < rd.n_msgs; i++) {
            const raft_msg_t *m = &rd.msgs[i];
            if (m->type != type || (to && m->to != to))
                continue;
            if (n++ == 0 && out) {
                *out = *m;
                if (type == RAFT_MSG_APPEND)
                    out->u.append.entries = NULL;
            }
        }
        raft_advance(r, &rd);
        assert_null(raft_check_invariants(r));
    }
    return n;
}

/* Options for node id of voters 1..n. */
static raft_options_t opts_for(raft_id_t id, uint32_t n, bool pre_vote,
                               bool check_quorum)
{
    raft_options_t o;
    raft_options_init(&o);
    o.id = id;
    o.seed = id;
    o.pre_vote = pre_vote;
    o.check_quorum = check_quorum;
    for (raft_id_t v = 1; v <= n; v++)
        o.bootstrap.voters[o.bootstrap.n_voters++] = v;
    return o;
}

static raft_msg_t vote_req(raft_id_t from, raft_term_t term,
                           raft_index_t last_index, raft_term_t last_term)
{
    return (raft_msg_t){ .type = RAFT_MSG_VOTE, .from = from, .term = term,
                         .u.vote = { .last_index = last_index,
                                     .last_term = last_term } };
}

static raft_msg_t append_req(raft_id_t from, raft_term_t term,
                             raft_index_t prev_index, raft_term_t prev_term,
                             const raft_entry_t *e, size_t n,
                             raft_index_t commit)
{
    return (raft_msg_t){ .type = RAFT_MSG_APPEND, .from = from, .term = term,
                         .u.append = { .prev_index = prev_index,
                                       .prev_term = prev_term,
                                       .entries = e, .n_entries = n,
                                       .commit = commit } };
}

/* Entries first..first+n-1, all of one term. */
static void entries(raft_entry_t *e, raft_index_t first, size_t n,
                    raft_term_t term)
{
    for (size_t i = 0; i < n; i++)
        e[i] = (raft_entry_t){ .term = term, .index = first + i,
                               .type = RAFT_ENTRY_NORMAL };
}

/* Ticks r until it leaves the follower role (at most 2 timeouts). */
static void tick_until_campaign(raft_t *r)
{
    for (int i = 0; i < 40 && raft_role(r) == RAFT_FOLLOWER; i++)
        raft_tick(r);
    assert_int_not_equal(raft_role(r), RAFT_FOLLOWER);
}

/* ==== RequestVote RPC, receiver implementation ==================================== */

/* "1. Reply false if term < currentTerm (§5.1)."
 * Reference: Figure 2, §5.1. The reply carries currentTerm, so a candidate
 * that is behind learns it (ignoring it silently deadlocked elections in
 * the simulation, seed 658). Pre-votes are answered the same way.
 * Broken by: core_handle_lower_term sending nothing for RAFT_MSG_VOTE. */
static void test_lower_term_vote_request_is_answered_with_our_term(void **state)
{
    (void)state;
    net_t net;
    net_init(&net, 3);
    net_start(&net);
    raft_t *r = net.nodes[1].r;
    raft_msg_t up = { .type = RAFT_MSG_VOTE, .from = 2, .to = 1, .term = 5,
                      .u.vote = { .last_index = 100, .last_term = 4 } };
    assert_int_equal(raft_step(r, &up), 0);
    assert_int_equal(raft_term(r), 5);
    net_flush(&net, 1);
    net_drop_queue(&net);
    for (int prevote = 0; prevote < 2; prevote++) {
        /* last_term <= term: a candidate's log holds no entry of a term
         * it has not reached (raft_msg_check drops such a request). */
        raft_msg_t behind = { .type = RAFT_MSG_VOTE, .from = 3, .to = 1, .term = 3,
                              .u.vote = { .prevote = prevote, .last_index = 100, .last_term = 3 } };
        assert_int_equal(raft_step(r, &behind), 0);
        raft_ready_t rd;
        raft_ready(r, &rd);
        bool answered = false;
        for (size_t i = 0; i < rd.n_msgs; i++)
            if (rd.msgs[i].type == RAFT_MSG_VOTE_RESP && rd.msgs[i].to == 3) {
                assert_int_equal(rd.msgs[i].term, 5);
                assert_false(rd.msgs[i].u.vote_resp.granted);
                assert_int_equal(rd.msgs[i].u.vote_resp.prevote, prevote);
                answered = true;
            }
        assert_true(answered);
        raft_advance(r, &rd);
        assert_int_equal(raft_term(r), 5);
    }
    net_free(&net);
}

/* "2. If votedFor is null or candidateId, and candidate's log is at least
 * as up-to-date as receiver's log, grant vote (§5.2, §5.4)."
 * Reference: Figure 2, §5.2. The vote-free half: a vote is granted when
 * votedFor is null, and granted again to the same candidate (a duplicate
 * or retried request).
 * Broken by: election_recv_vote granting only when r->vote == 0. */
static void test_rv2_grants_when_vote_null_or_same_candidate(void **state)
{
    (void)state;
    const raft_term_t log[] = { 1, 1 };
    raft_t *r = make_core(1, 3, log, 2, 1, 0, RAFT_BUG_NONE);
    raft_msg_t resp;
    for (int round = 0; round < 2; round++) {
        step(r, vote_req(2, 2, 2, 1));
        assert_int_equal(take(r, RAFT_MSG_VOTE_RESP, 2, &resp), 1);
        assert_true(resp.u.vote_resp.granted);
        assert_int_equal(resp.term, 2);
        assert_int_equal(raft_vote(r), 2);
    }
    raft_free(r);
}

/* The same sentence, the other way: votedFor is another candidate, so no
 * second vote in the term ("each server will vote for at most one
 * candidate in a given term, on a first-come-first-served basis", §5.2).
 * Reference: Figure 2, §5.2.
 * Broken by: election_recv_vote ignoring r->vote for a real vote. */
static void test_rv2_refuses_second_candidate_in_term(void **state)
{
    (void)state;
    raft_t *r = make_core(1, 3, NULL, 0, 1, 0, RAFT_BUG_NONE);
    step(r, vote_req(2, 2, 0, 0));
    drain(r, RAFT_MSG_VOTE_RESP);
    step(r, vote_req(3, 2, 9, 1));  /* even with a longer log */
    raft_msg_t resp;
    assert_int_equal(take(r, RAFT_MSG_VOTE_RESP, 3, &resp), 1);
    assert_false(resp.u.vote_resp.granted);
    assert_int_equal(raft_vote(r), 2);
    raft_free(r);
}

/* Whether a voter with log terms {1, 1, 2} grants a candidate of term 3
 * whose log ends at (last_index, last_term). */
static bool rv2_grants(raft_bug_t bugs, raft_index_t last_index,
                       raft_term_t last_term)
{
    const raft_term_t log[] = { 1, 1, 2 };
    raft_t *r = make_core(1, 3, log, 3, 2, 0, bugs);
    step(r, vote_req(2, 3, last_index, last_term));
    raft_msg_t resp;
    assert_int_equal(take(r, RAFT_MSG_VOTE_RESP, 2, &resp), 1);
    raft_free(r);
    return resp.u.vote_resp.granted;
}

/* The up-to-date half, as §5.4.1 defines it: "If the logs have last
 * entries with different terms, then the log with the later term is more
 * up-to-date. If the logs end with the same term, then whichever log is
 * longer is more up-to-date."
 * Reference: Figure 2, §5.4.1. Broken by: RAFT_BUG_VOTE_ANY_LOG (below). */
static void test_rv2_refuses_candidate_with_older_log(void **state)
{
    (void)state;
    assert_false(rv2_grants(RAFT_BUG_NONE, 9, 1));  /* longer, older term */
    assert_false(rv2_grants(RAFT_BUG_NONE, 2, 2));  /* same term, shorter */
    assert_true(rv2_grants(RAFT_BUG_NONE, 3, 2));   /* the same log */
    assert_true(rv2_grants(RAFT_BUG_NONE, 1, 3));   /* later term, shorter */
}

static void test_rv2_bug_switch_votes_for_older_log(void **state)
{
    (void)state;
    assert_true(rv2_grants(RAFT_BUG_VOTE_ANY_LOG, 9, 1));
    assert_true(rv2_grants(RAFT_BUG_VOTE_ANY_LOG, 2, 2));
}

/* ==== AppendEntries RPC, receiver implementation ================================== */

/* "1. Reply false if term < currentTerm (§5.1)."
 * Reference: Figure 2, §5.1. Nothing of a stale leader's append is kept,
 * and the reply carries our term so the stale leader steps down. (With
 * PreVote and CheckQuorum both off the append is dropped silently: see
 * test_deviation_stale_append_silent_without_prevote_and_checkquorum.)
 * Broken by: core_handle_lower_term telling nothing (tell = false). */
static void test_ae1_stale_leader_rejected_with_our_term(void **state)
{
    (void)state;
    raft_t *f = make_core(1, 3, NULL, 0, 5, 0, RAFT_BUG_NONE);
    raft_entry_t e[1];
    entries(e, 1, 1, 3);
    step(f, append_req(2, 3, 0, 0, e, 1, 0));
    raft_msg_t resp;
    assert_int_equal(take(f, RAFT_MSG_APPEND_RESP, 2, &resp), 1);
    assert_false(resp.u.append_resp.success);
    assert_int_equal(resp.term, 5);
    assert_int_equal(raft_last_index(f), 0);
    assert_int_equal(raft_term(f), 5);
    assert_int_equal(raft_leader(f), 0);
    raft_free(f);
}

/* A follower with log terms {1, 1, 2} in term 3 gets one entry of term 3
 * after (prev_index, prev_term) from the leader of term 3. */
static raft_msg_t ae2_follower(raft_bug_t bugs, raft_index_t prev_index,
                               raft_term_t prev_term, raft_index_t *last)
{
    const raft_term_t log[] = { 1, 1, 2 };
    raft_t *f = make_core(1, 3, log, 3, 3, 0, bugs);
    raft_entry_t e[1];
    entries(e, prev_index + 1, 1, 3);
    step(f, append_req(2, 3, prev_index, prev_term, e, 1, 0));
    raft_msg_t resp;
    assert_int_equal(take(f, RAFT_MSG_APPEND_RESP, 2, &resp), 1);
    *last = raft_last_index(f);
    raft_free(f);
    return resp;
}

/* "2. Reply false if log doesn't contain an entry at prevLogIndex whose
 * term matches prevLogTerm (§5.3)."
 * Reference: Figure 2, §5.3 (the consistency check behind Log Matching).
 * Broken by: RAFT_BUG_SKIP_LOG_MATCH (below; it skips the term half). */
static void test_ae2_rejects_without_matching_prev_entry(void **state)
{
    (void)state;
    raft_index_t last;
    raft_msg_t resp = ae2_follower(RAFT_BUG_NONE, 5, 2, &last);  /* no entry */
    assert_false(resp.u.append_resp.success);
    assert_int_equal(resp.u.append_resp.index, 5);
    assert_int_equal(last, 3);
    resp = ae2_follower(RAFT_BUG_NONE, 3, 3, &last);  /* other term */
    assert_false(resp.u.append_resp.success);
    assert_int_equal(resp.u.append_resp.index, 3);
    assert_int_equal(last, 3);
    resp = ae2_follower(RAFT_BUG_NONE, 3, 2, &last);  /* matches */
    assert_true(resp.u.append_resp.success);
    assert_int_equal(resp.u.append_resp.index, 4);
    assert_int_equal(last, 4);
}

static void test_ae2_bug_switch_accepts_mismatched_prev(void **state)
{
    (void)state;
    raft_index_t last;
    raft_msg_t resp = ae2_follower(RAFT_BUG_SKIP_LOG_MATCH, 3, 3, &last);
    assert_true(resp.u.append_resp.success);
    assert_int_equal(last, 4);
}

/* "3. If an existing entry conflicts with a new one (same index but
 * different terms), delete the existing entry and all that follow it
 * (§5.3)."
 * Reference: Figure 2, §5.3. The truncation reaches the durable log too
 * (rd.truncate_from).
 * Broken by: replication_store_entries skipping log_truncate. */
static void test_ae3_conflict_deletes_entry_and_all_that_follow(void **state)
{
    (void)state;
    const raft_term_t log[] = { 1, 1, 2, 2, 2 };
    raft_t *f = make_core(1, 3, log, 5, 2, 1, RAFT_BUG_NONE);
    raft_entry_t e[1];
    entries(e, 3, 1, 3);
    step(f, append_req(2, 3, 2, 1, e, 1, 1));
    assert_int_equal(raft_last_index(f), 3);
    assert_int_equal(raft_log_term(f, 3), 3);
    raft_ready_t rd;
    raft_ready(f, &rd);
    assert_int_equal(rd.truncate_from, 3);
    assert_int_equal(rd.n_entries, 1);
    assert_int_equal(rd.entries[0].term, 3);
    raft_advance(f, &rd);
    raft_free(f);
}

/* "4. Append any new entries not already in the log."
 * Reference: Figure 2, §5.3. Entries already there are neither rewritten
 * nor persisted again.
 * Broken by: replication_store_entries without its "already there" skip
 * (the batch then truncates and rewrites 2-3). */
static void test_ae4_appends_only_entries_not_already_in_log(void **state)
{
    (void)state;
    const raft_term_t log[] = { 1, 1, 1 };
    raft_t *f = make_core(1, 3, log, 3, 1, 0, RAFT_BUG_NONE);
    raft_entry_t e[3];
    entries(e, 2, 3, 1);
    step(f, append_req(2, 1, 1, 1, e, 3, 0));
    raft_ready_t rd;
    raft_ready(f, &rd);
    assert_int_equal(rd.truncate_from, 0);
    assert_int_equal(rd.n_entries, 1);
    assert_int_equal(rd.entries[0].index, 4);
    raft_advance(f, &rd);
    assert_int_equal(raft_last_index(f), 4);
    raft_free(f);
}

/* The same rule, read carefully: an append that arrives late and shorter
 * (the leader's earlier message, overtaken by a later one) is not a
 * conflict. Truncating after its last entry would drop entries the leader
 * may already count as replicated here. The reply vouches only for what
 * this message checked ("index of last new entry"), not for the whole log.
 * Reference: Figure 2 rules 3-4, §5.3; "no truncation on a stale shorter
 * append" (issue #13).
 * Broken by: replication_recv_append calling log_truncate(r, last_new + 1)
 * after storing. */
static void test_ae4_stale_shorter_append_does_not_truncate(void **state)
{
    (void)state;
    const raft_term_t log[] = { 1, 1, 1, 1 };
    raft_t *f = make_core(1, 3, log, 4, 1, 0, RAFT_BUG_NONE);
    raft_entry_t e[2];
    entries(e, 1, 2, 1);
    step(f, append_req(2, 1, 0, 0, e, 2, 0));
    assert_int_equal(raft_last_index(f), 4);
    raft_ready_t rd;
    raft_ready(f, &rd);
    assert_int_equal(rd.truncate_from, 0);
    assert_int_equal(rd.n_entries, 0);
    assert_int_equal(rd.n_msgs, 1);
    assert_true(rd.msgs[0].u.append_resp.success);
    assert_int_equal(rd.msgs[0].u.append_resp.index, 2);
    raft_advance(f, &rd);
    raft_free(f);
}

/* "5. If leaderCommit > commitIndex, set commitIndex = min(leaderCommit,
 * index of last new entry)."
 * Reference: Figure 2, §5.3. The follower's log runs past the append, but
 * its entries after the last new one are unchecked (a deposed leader's,
 * perhaps): they must not commit on the leader's word.
 * Broken by: replication_recv_append setting commit = leaderCommit capped
 * only by the last index. */
static void test_ae5_commit_is_min_of_leader_commit_and_last_new(void **state)
{
    (void)state;
    const raft_term_t log[] = { 1, 1, 1, 1, 1 };
    raft_t *f = make_core(1, 3, log, 5, 2, 0, RAFT_BUG_NONE);
    raft_entry_t e[2];
    entries(e, 1, 2, 1);
    step(f, append_req(2, 2, 0, 0, e, 2, 4));
    assert_int_equal(raft_commit(f), 2);   /* not 4 */
    drain(f, RAFT_MSG_APPEND_RESP);
    entries(e, 3, 2, 1);
    step(f, append_req(2, 2, 2, 1, e, 2, 3));
    assert_int_equal(raft_commit(f), 3);   /* not 4 */
    drain(f, RAFT_MSG_APPEND_RESP);
    step(f, append_req(2, 2, 4, 1, NULL, 0, 1));
    assert_int_equal(raft_commit(f), 3);   /* leaderCommit < commitIndex */
    drain(f, RAFT_MSG_APPEND_RESP);
    raft_free(f);
}

/* ==== Rules for Servers: all servers ============================================== */

/* "If commitIndex > lastApplied: increment lastApplied, apply
 * log[lastApplied] to state machine (§5.3)."
 * Reference: Figure 2, §5.3. The core hands the entries out in order in
 * rd.committed, once each, and only up to commitIndex.
 * Broken by: raft_ready handing out (applied, last index] instead. */
static void test_all_apply_committed_entries_in_order(void **state)
{
    (void)state;
    raft_t *f = make_core(1, 3, NULL, 0, 1, 0, RAFT_BUG_NONE);
    raft_entry_t e[3];
    entries(e, 1, 3, 1);
    step(f, append_req(2, 1, 0, 0, e, 3, 2));
    raft_ready_t rd;
    raft_ready(f, &rd);
    assert_int_equal(rd.n_committed, 2);
    assert_int_equal(rd.committed[0].index, 1);
    assert_int_equal(rd.committed[1].index, 2);
    raft_advance(f, &rd);
    assert_int_equal(raft_applied(f), 2);
    step(f, (raft_msg_t){ .type = RAFT_MSG_HEARTBEAT, .from = 2, .term = 1,
                          .u.heartbeat = { .commit = 3 } });
    raft_ready(f, &rd);
    assert_int_equal(rd.n_committed, 1);
    assert_int_equal(rd.committed[0].index, 3);
    raft_advance(f, &rd);
    assert_int_equal(raft_applied(f), 3);
    assert_false(raft_has_ready(f));
    raft_free(f);
}

/* "If RPC request or response contains term T > currentTerm: set
 * currentTerm = T, convert to follower (§5.1)."
 * Reference: Figure 2, §5.1. A leader hearing a later term in a request
 * (AppendEntries) or in any response steps down and forgets its vote.
 * Broken by: core_handle_higher_term returning without convert_to_follower
 * for responses. */
static void test_all_higher_term_converts_to_follower(void **state)
{
    (void)state;
    const raft_msg_type_t types[] = { RAFT_MSG_APPEND, RAFT_MSG_APPEND_RESP,
                                      RAFT_MSG_HEARTBEAT_RESP,
                                      RAFT_MSG_VOTE_RESP,
                                      RAFT_MSG_SNAPSHOT_RESP };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        raft_t *l = make_core(1, 3, NULL, 0, 0, 0, RAFT_BUG_NONE);
        const raft_id_t voters[] = { 2 };
        win_election(l, voters, 1);
        raft_msg_t m = { .type = types[i], .from = 3, .term = 7 };
        step(l, m);
        assert_int_equal(raft_role(l), RAFT_FOLLOWER);
        assert_int_equal(raft_term(l), 7);
        assert_int_equal(raft_vote(l), 0);
        assert_int_equal(raft_leader(l), types[i] == RAFT_MSG_APPEND ? 3 : 0);
        drain(l, RAFT_MSG_APPEND_RESP);
        raft_free(l);
    }
}

/* ==== Rules for Servers: followers ================================================ */

/* "Respond to RPCs from candidates and leaders."
 * Reference: Figure 2, §5.1-§5.2. Every RequestVote, AppendEntries and
 * heartbeat gets its answer.
 * Broken by: election_recv_vote not sending a refusal (out_send only when
 * granted). */
static void test_follower_responds_to_candidates_and_leaders(void **state)
{
    (void)state;
    raft_t *f = make_core(1, 3, NULL, 0, 1, 0, RAFT_BUG_NONE);
    step(f, vote_req(2, 1, 0, 0));
    assert_int_equal(take(f, RAFT_MSG_VOTE_RESP, 2, NULL), 1);
    step(f, vote_req(3, 1, 0, 0));  /* refused, but answered */
    assert_int_equal(take(f, RAFT_MSG_VOTE_RESP, 3, NULL), 1);
    raft_entry_t e[1];
    entries(e, 1, 1, 1);
    step(f, append_req(2, 1, 0, 0, e, 1, 0));
    assert_int_equal(take(f, RAFT_MSG_APPEND_RESP, 2, NULL), 1);
    step(f, (raft_msg_t){ .type = RAFT_MSG_HEARTBEAT, .from = 2, .term = 1 });
    assert_int_equal(take(f, RAFT_MSG_HEARTBEAT_RESP, 2, NULL), 1);
    raft_free(f);
}

/* "If election timeout elapses without receiving AppendEntries RPC from
 * current leader or granting vote to candidate: convert to candidate."
 * Reference: Figure 2, §5.2. While the leader's appends keep arriving
 * within the timeout the follower never campaigns; once they stop, it
 * does within [T, 2T) ticks (§5.2's randomised timeout).
 * Broken by: replication_recv_append not resetting election_elapsed. */
static void test_follower_election_timeout_converts_to_candidate(void **state)
{
    (void)state;
    raft_options_t o = opts_for(1, 3, false, false);
    raft_t *f = make_core_opts(&o, NULL, 0, 1, 0);
    for (int round = 0; round < 20; round++) {
        for (uint32_t t = 0; t + 1 < o.election_ticks; t++)
            raft_tick(f);
        step(f, append_req(2, 1, 0, 0, NULL, 0, 0));
        drain(f, RAFT_MSG_APPEND_RESP);
        assert_int_equal(raft_role(f), RAFT_FOLLOWER);
    }
    uint32_t ticks = 0;
    while (raft_role(f) == RAFT_FOLLOWER && ticks < 2 * o.election_ticks) {
        raft_tick(f);
        ticks++;
    }
    assert_int_equal(raft_role(f), RAFT_CANDIDATE);
    assert_true(ticks >= o.election_ticks);
    assert_int_equal(raft_term(f), 2);
    drain(f, RAFT_MSG_VOTE);
    raft_free(f);
}

/* ==== Rules for Servers: candidates =============================================== */

/* "On conversion to candidate, start election: Increment currentTerm; Vote
 * for self; Reset election timer; Send RequestVote RPCs to all other
 * servers."
 * Reference: Figure 2, §5.2. The new term and the self-vote are in the
 * batch's hard state, persisted before the requests leave.
 * Broken by: convert_to_candidate not setting r->vote = r->id. */
static void test_candidate_starts_election(void **state)
{
    (void)state;
    raft_options_t o = opts_for(1, 3, false, true);
    const raft_term_t log[] = { 1, 1 };
    raft_t *c = make_core_opts(&o, log, 2, 1, 0);
    tick_until_campaign(c);
    assert_int_equal(raft_role(c), RAFT_CANDIDATE);
    assert_int_equal(raft_term(c), 2);
    assert_int_equal(raft_vote(c), 1);
    raft_ready_t rd;
    raft_ready(c, &rd);
    assert_true(rd.hard_state_changed);
    assert_int_equal(rd.hard_state.term, 2);
    assert_int_equal(rd.hard_state.vote, 1);
    uint32_t asked = 0;
    for (size_t i = 0; i < rd.n_msgs; i++) {
        const raft_msg_t *m = &rd.msgs[i];
        assert_int_equal(m->type, RAFT_MSG_VOTE);
        assert_int_equal(m->term, 2);
        assert_false(m->u.vote.prevote);
        assert_int_equal(m->u.vote.last_index, 2);
        assert_int_equal(m->u.vote.last_term, 1);
        asked |= 1u << m->to;
    }
    assert_int_equal(asked, (1u << 2) | (1u << 3));
    raft_advance(c, &rd);
    /* The timer was reset: a full minimum timeout passes in this term. */
    for (uint32_t t = 0; t + 1 < o.election_ticks; t++)
        raft_tick(c);
    assert_int_equal(raft_term(c), 2);
    raft_free(c);
}

/* "If votes received from majority of servers: become leader."
 * Reference: Figure 2, §5.2. Of five, the candidate's own vote and one
 * grant are not enough, a repeated grant from the same voter counts once,
 * a second voter makes three.
 * Broken by: election_check_result counting one grant more than it got. */
static void test_candidate_majority_becomes_leader(void **state)
{
    (void)state;
    raft_options_t o = opts_for(1, 5, false, true);
    raft_t *c = make_core_opts(&o, NULL, 0, 0, 0);
    tick_until_campaign(c);
    drain(c, RAFT_MSG_VOTE);
    raft_msg_t grant = { .type = RAFT_MSG_VOTE_RESP, .from = 2,
                         .term = raft_term(c),
                         .u.vote_resp = { .granted = true } };
    step(c, grant);
    step(c, grant);
    assert_int_equal(raft_role(c), RAFT_CANDIDATE);
    grant.from = 3;
    step(c, grant);
    assert_int_equal(raft_role(c), RAFT_LEADER);
    assert_int_equal(raft_leader(c), 1);
    drain(c, RAFT_MSG_APPEND);
    raft_free(c);
}

/* "If AppendEntries RPC received from new leader: convert to follower."
 * Reference: Figure 2, §5.2 ("If the leader's term ... is at least as
 * large as the candidate's current term, then the candidate recognizes the
 * leader as legitimate and returns to follower state"). Same for a
 * pre-candidate (thesis §9.6), whose term has not moved.
 * Broken by: core_accept_leader not calling convert_to_follower. */
static void test_candidate_append_from_new_leader_converts_to_follower(void **state)
{
    (void)state;
    for (int pre_vote = 0; pre_vote < 2; pre_vote++) {
        raft_options_t o = opts_for(1, 3, pre_vote, true);
        raft_t *c = make_core_opts(&o, NULL, 0, 1, 0);
        tick_until_campaign(c);
        drain(c, RAFT_MSG_VOTE);
        assert_int_equal(raft_role(c),
                         pre_vote ? RAFT_PRECANDIDATE : RAFT_CANDIDATE);
        raft_term_t term = raft_term(c);
        step(c, append_req(2, term, 0, 0, NULL, 0, 0));
        assert_int_equal(raft_role(c), RAFT_FOLLOWER);
        assert_int_equal(raft_leader(c), 2);
        assert_int_equal(raft_term(c), term);
        assert_int_equal(take(c, RAFT_MSG_APPEND_RESP, 2, NULL), 1);
        raft_free(c);
    }
}

/* "If election timeout elapses: start new election."
 * Reference: Figure 2, §5.2 (a split vote ends this way).
 * Broken by: election_tick returning early for a candidate. */
static void test_candidate_timeout_starts_new_election(void **state)
{
    (void)state;
    raft_options_t o = opts_for(1, 3, false, true);
    raft_t *c = make_core_opts(&o, NULL, 0, 0, 0);
    tick_until_campaign(c);
    drain(c, RAFT_MSG_VOTE);
    assert_int_equal(raft_term(c), 1);
    for (uint32_t t = 0; t < 2 * o.election_ticks && raft_term(c) == 1; t++)
        raft_tick(c);
    assert_int_equal(raft_role(c), RAFT_CANDIDATE);
    assert_int_equal(raft_term(c), 2);
    assert_int_equal(raft_vote(c), 1);
    assert_int_equal(drain(c, RAFT_MSG_VOTE), 2);
    raft_free(c);
}

/* ==== Rules for Servers: leaders ================================================== */

/* "Upon election: send initial empty AppendEntries RPCs (heartbeat) to each
 * server; repeat during idle periods to prevent election timeouts (§5.2)."
 * Reference: Figure 2, §5.2. Ours are not empty: the first one carries the
 * new term's no-op (§5.4.2, thesis §6.4), and the idle ones are their own
 * message type (docs/raft.md, "Deviations from Figure 2").
 * Broken by: replication_leader_tick not calling
 * replication_broadcast_heartbeat. */
static void test_leader_announces_itself_then_heartbeats_when_idle(void **state)
{
    (void)state;
    raft_options_t o = opts_for(1, 3, false, false);
    raft_t *l = make_core_opts(&o, NULL, 0, 0, 0);
    tick_until_campaign(l);
    drain(l, RAFT_MSG_VOTE);
    step(l, (raft_msg_t){ .type = RAFT_MSG_VOTE_RESP, .from = 2,
                          .term = raft_term(l),
                          .u.vote_resp = { .granted = true } });
    assert_int_equal(raft_role(l), RAFT_LEADER);
    raft_ready_t rd;
    raft_ready(l, &rd);
    uint32_t told = 0;
    for (size_t i = 0; i < rd.n_msgs; i++) {
        assert_int_equal(rd.msgs[i].type, RAFT_MSG_APPEND);
        assert_int_equal(rd.msgs[i].u.append.n_entries, 1);
        assert_int_equal(rd.msgs[i].u.append.entries[0].type, RAFT_ENTRY_NOOP);
        told |= 1u << rd.msgs[i].to;
    }
    assert_int_equal(told, (1u << 2) | (1u << 3));
    raft_advance(l, &rd);
    for (uint32_t t = 0; t < 5 * o.election_ticks; t++) {
        raft_tick(l);
        assert_int_equal(take(l, RAFT_MSG_HEARTBEAT, 0, NULL),
                         t % o.heartbeat_ticks == o.heartbeat_ticks - 1 ? 2 : 0);
    }
    assert_int_equal(raft_role(l), RAFT_LEADER);
    raft_free(l);
}

/* "If command received from client: append entry to local log, respond
 * after entry applied to state machine (§5.3)."
 * Reference: Figure 2, §5.3. The entry joins the log in the leader's term
 * at once; it reaches the state machine (rd.committed, where the runtime
 * answers the client) only after a majority holds it.
 * Broken by: raft_propose committing the entry at once. */
static void test_leader_appends_command_applies_after_commit(void **state)
{
    (void)state;
    raft_t *l = make_core(1, 3, NULL, 0, 0, 0, RAFT_BUG_NONE);
    const raft_id_t voters[] = { 2 };
    win_election(l, voters, 1);
    append_ok(l, 2, 1);
    drain(l, RAFT_MSG_APPEND);
    raft_index_t idx;
    assert_int_equal(raft_propose(l, "x", 1, &idx), 0);
    assert_int_equal(idx, 2);
    assert_int_equal(raft_log_term(l, 2), raft_term(l));
    raft_ready_t rd;
    raft_ready(l, &rd);
    assert_int_equal(rd.n_entries, 1);
    assert_int_equal(rd.entries[0].index, 2);
    for (size_t i = 0; i < rd.n_committed; i++)
        assert_true(rd.committed[i].index < 2);
    raft_advance(l, &rd);
    assert_int_equal(raft_applied(l), 1);
    step(l, (raft_msg_t){ .type = RAFT_MSG_APPEND_RESP, .from = 2,
                          .term = raft_term(l),
                          .u.append_resp = { .success = true, .index = 2 } });
    raft_ready(l, &rd);
    assert_int_equal(rd.n_committed, 1);
    assert_int_equal(rd.committed[0].index, 2);
    assert_memory_equal(rd.committed[0].data, "x", 1);
    raft_advance(l, &rd);
    raft_free(l);
}

/* "If last log index >= nextIndex for a follower: send AppendEntries RPC
 * with log entries starting at nextIndex. If successful: update nextIndex
 * and matchIndex for follower (§5.3)."
 * Reference: Figure 2, §5.3.
 * Broken by: replication_recv_append_resp skipping progress_maybe_update. */
static void test_leader_sends_from_next_index_and_updates_on_success(void **state)
{
    (void)state;
    raft_t *l = make_core(1, 3, NULL, 0, 0, 0, RAFT_BUG_NONE);
    const raft_id_t voters[] = { 2 };
    win_election(l, voters, 1);
    raft_progress_t p;
    assert_int_equal(raft_progress(l, 2, &p), 0);
    assert_int_equal(p.match, 0);
    step(l, (raft_msg_t){ .type = RAFT_MSG_APPEND_RESP, .from = 2,
                          .term = raft_term(l),
                          .u.append_resp = { .success = true, .index = 1 } });
    drain(l, RAFT_MSG_APPEND);
    assert_int_equal(raft_progress(l, 2, &p), 0);
    assert_int_equal(p.match, 1);
    assert_int_equal(p.next, 2);
    assert_int_equal(raft_propose(l, "a", 1, NULL), 0);
    raft_msg_t m;
    assert_int_equal(take(l, RAFT_MSG_APPEND, 2, &m), 1);
    assert_int_equal(m.u.append.prev_index, 1);
    assert_int_equal(m.u.append.prev_term, raft_term(l));
    assert_int_equal(m.u.append.n_entries, 1);  /* entry 2 = nextIndex */
    raft_free(l);
}

/* "If AppendEntries fails because of log inconsistency: decrement
 * nextIndex and retry (§5.3)."
 * Reference: Figure 2, §5.3, with the end of §5.3's optimisation: the
 * rejection's hint (the follower's last index of a term <= prevLogTerm)
 * lets nextIndex skip several entries in one round trip.
 * Broken by: replication_recv_append_resp ignoring a rejection. */
static void test_leader_decrements_next_index_and_retries(void **state)
{
    (void)state;
    const raft_term_t log[] = { 1, 1, 1, 1 };
    raft_t *l = make_core(1, 3, log, 4, 1, 0, RAFT_BUG_NONE);
    const raft_id_t voters[] = { 2 };
    win_election(l, voters, 1);
    raft_progress_t p;
    assert_int_equal(raft_progress(l, 3, &p), 0);
    assert_int_equal(p.next, 5);
    /* Follower 3 holds only entries 1-2. */
    step(l, (raft_msg_t){ .type = RAFT_MSG_APPEND_RESP, .from = 3,
                          .term = raft_term(l),
                          .u.append_resp = { .success = false, .index = 4,
                                             .hint_index = 2,
                                             .hint_term = 1 } });
    raft_msg_t m;
    assert_int_equal(take(l, RAFT_MSG_APPEND, 3, &m), 1);
    assert_int_equal(m.u.append.prev_index, 2);
    assert_int_equal(m.u.append.prev_term, 1);
    assert_int_equal(raft_progress(l, 3, &p), 0);
    assert_true(p.next <= 3);
    raft_free(l);
}

/* "If there exists an N such that N > commitIndex, a majority of
 * matchIndex[i] >= N, and log[N].term == currentTerm: set commitIndex = N
 * (§5.3, §5.4)."
 * Reference: Figure 2, §5.3. The majority half: of five, the leader and
 * one follower are not enough, a second follower is. (The term half,
 * §5.4.2 and Figure 8, is test_figure8_no_commit_by_counting_old_term in
 * test_raft_paper.c, with RAFT_BUG_COMMIT_OLD_TERM.)
 * Broken by: progress_quorum_match taking the (quorum - 1)-th match. */
static void test_leader_commits_on_majority_match(void **state)
{
    (void)state;
    raft_t *l = make_core(1, 5, NULL, 0, 0, 0, RAFT_BUG_NONE);
    const raft_id_t voters[] = { 2, 3 };
    win_election(l, voters, 2);
    append_ok(l, 2, 1);
    assert_int_equal(raft_commit(l), 0);
    append_ok(l, 3, 1);
    assert_int_equal(raft_commit(l), 1);
    raft_free(l);
}

/* ==== Persistent state: "Updated on stable storage before responding to RPCs" ==== */

/* Figure 2, "Persistent state on all servers: (Updated on stable storage
 * before responding to RPCs) currentTerm, votedFor, log[]".
 * Reference: Figure 2, §5.1 (and raft.h's Ready contract, steps 1-4). A
 * vote grant leaves in the same batch as the term and vote to persist; an
 * append acknowledgement in the same batch as the entries it vouches for,
 * and the runtime sends rd.msgs only after persisting that batch.
 * Broken by: out_hard_state leaving the vote out, as RAFT_BUG_FORGET_VOTE
 * does. */
static void test_persist_grant_and_ack_travel_with_their_state(void **state)
{
    (void)state;
    raft_t *f = make_core(1, 3, NULL, 0, 1, 0, RAFT_BUG_NONE);
    step(f, vote_req(2, 2, 0, 0));
    raft_ready_t rd;
    raft_ready(f, &rd);
    assert_true(rd.hard_state_changed);
    assert_int_equal(rd.hard_state.term, 2);
    assert_int_equal(rd.hard_state.vote, 2);
    assert_int_equal(rd.n_msgs, 1);
    assert_true(rd.msgs[0].u.vote_resp.granted);
    raft_advance(f, &rd);
    raft_entry_t e[2];
    entries(e, 1, 2, 2);
    step(f, append_req(2, 2, 0, 0, e, 2, 0));
    raft_ready(f, &rd);
    assert_int_equal(rd.n_entries, 2);
    assert_int_equal(rd.n_msgs, 1);
    assert_int_equal(rd.msgs[0].u.append_resp.index, 2);
    raft_advance(f, &rd);
    raft_free(f);
}

/* A vote is persisted before the grant is sent; after a crash the node
 * still refuses a second candidate in the same term. The broken variant
 * (c) forgets it and votes twice.
 * Reference: Figure 2 persistent state ("votedFor"), §5.2 "each server will
 * vote for at most one candidate in a given term". Broken by:
 * RAFT_BUG_FORGET_VOTE (test_vote_bug_switch_votes_twice). */
static void run_vote_survives_crash(raft_bug_t bugs, bool want_second_grant)
{
    net_t net;
    net_init(&net, 3);
    net.nodes[2].opts.bugs = bugs;
    net.nodes[2].opts.check_quorum = false;
    net_start(&net);
    raft_msg_t vote = { .type = RAFT_MSG_VOTE, .from = 1, .to = 2, .term = 5,
                        .u.vote = { .last_index = 0, .last_term = 0 } };
    assert_int_equal(raft_step(net.nodes[2].r, &vote), 0);
    net_flush(&net, 2);
    assert_int_equal(raft_vote(net.nodes[2].r), 1);
    net_crash(&net, 2);
    net_restart(&net, 2);
    assert_int_equal(raft_term(net.nodes[2].r), 5);
    vote.from = 3;
    assert_int_equal(raft_step(net.nodes[2].r, &vote), 0);
    assert_int_equal(raft_vote(net.nodes[2].r) == 3, want_second_grant);
    net_drop_queue(&net);
    net_free(&net);
}

static void test_vote_persisted_across_crash(void **state)
{
    (void)state;
    run_vote_survives_crash(RAFT_BUG_NONE, false);
}

static void test_vote_bug_switch_votes_twice(void **state)
{
    (void)state;
    run_vote_survives_crash(RAFT_BUG_FORGET_VOTE, true);
}

/* Figure 2 "respond after updating stable storage", within one batch: a
 * follower acknowledges entries 1-2 to the leader of term 7, then (before
 * anything is persisted) the leader of term 8 overwrites them. The batch
 * must not carry the term-7 acknowledgement: once it is durable, the
 * entries it vouches for are gone.
 * Reference: Figure 2 persistent state, §5.3 (sim: Durable State, 2 seeds
 * in 16,000). Broken by: log_truncate without its out_retract_acks. */
static void test_ack_withdrawn_when_batch_truncates_its_entries(void **state)
{
    (void)state;
    raft_t *f = make_core(1, 3, NULL, 0, 7, 0, RAFT_BUG_NONE);
    raft_entry_t old[2] = { { .term = 7, .index = 1, .type = RAFT_ENTRY_NORMAL },
                            { .term = 7, .index = 2, .type = RAFT_ENTRY_NORMAL } };
    raft_msg_t a = { .type = RAFT_MSG_APPEND, .from = 2, .to = 1, .term = 7,
                     .u.append = { .entries = old, .n_entries = 2 } };
    assert_int_equal(raft_step(f, &a), 0);
    raft_entry_t newer = { .term = 8, .index = 1, .type = RAFT_ENTRY_NORMAL };
    raft_msg_t b = { .type = RAFT_MSG_APPEND, .from = 3, .to = 1, .term = 8,
                     .u.append = { .entries = &newer, .n_entries = 1 } };
    assert_int_equal(raft_step(f, &b), 0);
    raft_ready_t rd;
    raft_ready(f, &rd);
    assert_int_equal(rd.n_entries, 1);
    assert_int_equal(rd.entries[0].term, 8);
    size_t acks = 0;
    for (size_t i = 0; i < rd.n_msgs; i++) {
        const raft_msg_t *m = &rd.msgs[i];
        if (m->type != RAFT_MSG_APPEND_RESP || !m->u.append_resp.success)
            continue;
        assert_int_equal(m->to, 3);  /* only the true one, to term 8 */
        assert_int_equal(m->u.append_resp.index, 1);
        acks++;
    }
    assert_int_equal(acks, 1);
    raft_advance(f, &rd);
    raft_free(f);
}

/* ==== Thesis extensions without a test of their own elsewhere ===================== */

/* Thesis §10.2.1: "the leader can write to its disk in parallel with
 * replicating to the followers ... the leader may commit an entry before
 * it has been written to its own disk" only if a majority of *others*
 * hold it; ours counts the leader's own log only once durable.
 * Reference: thesis §10.2.1; raft.h "The leader counts its own log ...
 * only for entries acknowledged through raft_advance".
 * Broken by: raft_propose counting the leader's own copy as matched at
 * once (progress_maybe_update on self with the last index). */
static void test_leader_counts_own_entry_only_once_durable(void **state)
{
    (void)state;
    raft_t *l = make_core(1, 3, NULL, 0, 0, 0, RAFT_BUG_NONE);
    const raft_id_t voters[] = { 2 };
    win_election(l, voters, 1);
    append_ok(l, 2, 1);
    assert_int_equal(raft_commit(l), 1);
    assert_int_equal(raft_propose(l, "x", 1, NULL), 0);
    step(l, (raft_msg_t){ .type = RAFT_MSG_APPEND_RESP, .from = 2,
                          .term = raft_term(l),
                          .u.append_resp = { .success = true, .index = 2 } });
    assert_int_equal(raft_commit(l), 1);  /* 2 of 3 hold it, 1 durably */
    drain(l, RAFT_MSG_APPEND);
    assert_int_equal(raft_commit(l), 2);
    raft_free(l);
}

/* Thesis §9.6: "a server ... only grants a pre-vote if ... it has not
 * received an AppendEntries from a current leader within the election
 * timeout" (shown here with CheckQuorum off, so that it is the pre-vote
 * rule that refuses, not the lease of §4.2.3). A refused pre-vote moves
 * no term.
 * Reference: thesis §9.6.
 * Broken by: election_recv_vote granting pre-votes without the
 * !election_in_lease(r) condition. */
static void test_prevote_refused_while_leader_heard(void **state)
{
    (void)state;
    raft_options_t o = opts_for(1, 3, true, false);
    raft_t *f = make_core_opts(&o, NULL, 0, 1, 0);
    step(f, (raft_msg_t){ .type = RAFT_MSG_HEARTBEAT, .from = 2, .term = 1 });
    drain(f, RAFT_MSG_HEARTBEAT_RESP);
    raft_msg_t pv = vote_req(3, 2, 0, 0);
    pv.u.vote.prevote = true;
    step(f, pv);
    raft_msg_t resp;
    assert_int_equal(take(f, RAFT_MSG_VOTE_RESP, 3, &resp), 1);
    assert_false(resp.u.vote_resp.granted);
    assert_int_equal(raft_term(f), 1);
    /* Once the leader has been silent for an election timeout: granted. */
    for (uint32_t t = 0; t < o.election_ticks; t++)
        raft_tick(f);
    drain(f, RAFT_MSG_VOTE);
    step(f, pv);
    assert_int_equal(take(f, RAFT_MSG_VOTE_RESP, 3, &resp), 1);
    assert_true(resp.u.vote_resp.granted);
    assert_int_equal(raft_term(f), 1);
    assert_int_equal(raft_vote(f), 0);
    raft_free(f);
}

/* Thesis §3.10: "the prior leader sends a TimeoutNow request to the target
 * server. This request has the same effect as the target server's election
 * timer firing: the target server starts a new election (incrementing its
 * term and becoming a candidate)". It skips the pre-vote (its straw poll
 * would fail: everyone still hears the leader), and voters grant it
 * despite their lease.
 * Reference: thesis §3.10, §9.6.
 * Broken by: transfer_recv_timeout_now calling election_start with
 * pre_vote = r->o.pre_vote. */
static void test_timeout_now_campaigns_at_once_past_leases(void **state)
{
    (void)state;
    const raft_term_t log[] = { 1 };
    raft_t *t = make_core(2, 3, log, 1, 1, 0, RAFT_BUG_NONE);
    raft_t *v = make_core(3, 3, log, 1, 1, 0, RAFT_BUG_NONE);
    raft_msg_t hb = { .type = RAFT_MSG_HEARTBEAT, .from = 1, .term = 1 };
    step(t, hb);
    step(v, hb);
    drain(t, RAFT_MSG_HEARTBEAT_RESP);
    drain(v, RAFT_MSG_HEARTBEAT_RESP);
    step(t, (raft_msg_t){ .type = RAFT_MSG_TIMEOUT_NOW, .from = 1, .term = 1 });
    assert_int_equal(raft_role(t), RAFT_CANDIDATE);
    assert_int_equal(raft_term(t), 2);
    raft_msg_t req;
    assert_int_equal(take(t, RAFT_MSG_VOTE, 3, &req), 1);
    assert_false(req.u.vote.prevote);
    assert_true(req.u.vote.transfer);
    step(v, req);
    raft_msg_t resp;
    assert_int_equal(take(v, RAFT_MSG_VOTE_RESP, 2, &resp), 1);
    assert_true(resp.u.vote_resp.granted);
    assert_int_equal(raft_vote(v), 2);
    raft_free(t);
    raft_free(v);
}

/* Thesis §4.1: "a server always uses the latest configuration in its log,
 * regardless of whether the entry is committed", and falls back to the
 * previous one when a conflict truncates it.
 * Reference: thesis §4.1.
 * Broken by: replication_store_entries without membership_apply_entry (or
 * without membership_recompute after log_truncate). */
static void test_config_in_effect_once_appended(void **state)
{
    (void)state;
    raft_t *l = make_core(1, 3, NULL, 0, 0, 0, RAFT_BUG_NONE);
    const raft_id_t voters[] = { 2 };
    win_election(l, voters, 1);
    raft_index_t idx;
    assert_int_equal(raft_add_learner(l, 4, NULL, 0, &idx), 0);
    assert_int_equal(idx, 2);
    raft_term_t lt = raft_term(l);
    raft_entry_t e[2] = { *raft_log_entry(l, 1), *raft_log_entry(l, 2) };
    raft_t *f = make_core(2, 3, NULL, 0, lt, 0, RAFT_BUG_NONE);
    step(f, append_req(1, lt, 0, 0, e, 2, 0));
    assert_int_equal(raft_commit(f), 0);
    assert_true(raft_members_is_learner(raft_members(f), 4));
    assert_int_equal(raft_members_index(f), 2);
    drain(f, RAFT_MSG_APPEND_RESP);
    /* A leader of the next term never had it: truncated, and gone. */
    raft_entry_t other[1];
    entries(other, 2, 1, lt + 1);
    step(f, append_req(3, lt + 1, 1, lt, other, 1, 0));
    assert_false(raft_members_is_learner(raft_members(f), 4));
    assert_int_equal(raft_members(f)->n_voters, 3);
    drain(f, RAFT_MSG_APPEND_RESP);
    raft_free(f);
    raft_free(l);
}

/* ==== Deliberate deviations from Figure 2 (docs/raft.md) ========================== */

/* Figure 2 says "Reply false if term < currentTerm" to every AppendEntries.
 * With PreVote and CheckQuorum both off, ours drops a lower-term append or
 * heartbeat silently: the stale leader learns the term from the next
 * RequestVote or AppendEntries it receives or from a vote rejection, as in
 * the paper's §5.1 ("If a server receives a request with a stale term
 * number, it rejects the request"; the rejection's term is what matters,
 * and a stale leader, unable to commit, is harmless, §5.4).
 * Reference: Figure 2 AppendEntries rule 1, core_handle_lower_term.
 * Broken by (i.e. made to follow Figure 2 literally): tell = true. */
static void test_deviation_stale_append_silent_without_prevote_and_checkquorum(void **state)
{
    (void)state;
    raft_options_t o = opts_for(1, 3, false, false);
    raft_t *f = make_core_opts(&o, NULL, 0, 5, 0);
    step(f, append_req(2, 3, 0, 0, NULL, 0, 0));
    step(f, (raft_msg_t){ .type = RAFT_MSG_HEARTBEAT, .from = 2, .term = 3 });
    assert_false(raft_has_ready(f));
    assert_int_equal(raft_term(f), 5);
    raft_free(f);
}

/* Figure 2 grants a vote when "votedFor is null or candidateId". Ours also
 * requires that the voter knows no leader in this term (r->leader == 0):
 * a follower of the term's leader never votes for a second candidate of
 * the same term, even if it had not voted (it learned the leader from an
 * append). Such a candidate cannot be needed: the term already has its
 * leader (Election Safety), so refusing only removes a way to be wrong.
 * Reference: Figure 2 RequestVote rule 2, election_recv_vote.
 * Broken by: dropping "&& r->leader == 0". */
static void test_deviation_no_vote_while_following_this_terms_leader(void **state)
{
    (void)state;
    raft_options_t o = opts_for(1, 3, false, false);
    raft_t *f = make_core_opts(&o, NULL, 0, 2, 0);
    step(f, append_req(2, 2, 0, 0, NULL, 0, 0));
    drain(f, RAFT_MSG_APPEND_RESP);
    assert_int_equal(raft_vote(f), 0);
    step(f, vote_req(3, 2, 5, 2));
    raft_msg_t resp;
    assert_int_equal(take(f, RAFT_MSG_VOTE_RESP, 3, &resp), 1);
    assert_false(resp.u.vote_resp.granted);
    assert_int_equal(raft_vote(f), 0);
    raft_free(f);
}

/* The commit shortcut in replication_recv_append: an append whose
 * prevLogIndex is below our commitIndex is not run through rules 2-5. It is
 * answered "success, matching up to commitIndex" (after checking that it
 * agrees with our committed entries), and nothing is stored. Safe because
 * committed entries are in every later leader's log (Leader Completeness),
 * so the leader's log matches ours up to commitIndex; it saves rewriting
 * the overlap, and avoids answering a delayed append with an index that
 * undersells our match.
 * Reference: Figure 2 AppendEntries rules 2-5, §5.4.
 * Broken by: removing the shortcut (the reply then says index 2). */
static void test_deviation_append_below_commit_answered_with_commit(void **state)
{
    (void)state;
    const raft_term_t log[] = { 1, 1, 1 };
    raft_t *f = make_core(1, 3, log, 3, 1, 3, RAFT_BUG_NONE);
    raft_entry_t e[1];
    entries(e, 2, 1, 1);
    step(f, append_req(2, 1, 1, 1, e, 1, 3));
    raft_ready_t rd;
    raft_ready(f, &rd);
    assert_int_equal(rd.n_entries, 0);
    assert_int_equal(rd.n_msgs, 1);
    assert_true(rd.msgs[0].u.append_resp.success);
    assert_int_equal(rd.msgs[0].u.append_resp.index, 3);
    raft_advance(f, &rd);
    raft_free(f);
}

/* ==== Where the other sentences live =================================================
 * One home per sentence; these are checked one-for-one elsewhere:
 *
 *   Figure 2 Leaders, "log[N].term == currentTerm" (§5.4.2, Figure 8)
 *       test_raft_paper.c  test_figure8_no_commit_by_counting_old_term,
 *                          test_figure8_bug_switch_commits_old_term
 *   §5.2 split votes resolved by randomised timeouts
 *       test_raft_paper.c  test_split_vote_then_new_election
 *   §5.3 log repair (Figure 7), conflict hint
 *       test_raft_paper.c  test_figure7_follower_logs_repaired
 *   thesis §9.6 PreVote: no term or vote change, grants never counted
 *       test_raft_thesis.c test_prevote_changes_no_term_or_vote,
 *                          test_prevote_prevents_disruptive_rejoin
 *   thesis §6.2 CheckQuorum step-down
 *       test_raft_thesis.c test_checkquorum_leader_steps_down
 *   thesis §4.2.3 leases against disruptive servers
 *       test_raft_thesis.c test_checkquorum_lease_ignores_vote_requests,
 *                          test_removed_node_unaware_does_not_disrupt
 *   thesis §3.10 transfer: no proposals meanwhile, abort after a timeout
 *       test_raft_thesis.c test_leadership_transfer,
 *                          test_leadership_transfer_aborts
 *   thesis §6.4 ReadIndex (term commit first, heartbeat round, followers)
 *       test_raft_thesis.c test_readindex_* (5 tests, one with
 *                          RAFT_BUG_READ_NO_QUORUM)
 *   thesis §4.1-§4.2 one change at a time, learners, promotion, removing
 *   the leader; the pending self-removal campaign rule (ours)
 *       test_raft_thesis.c test_membership_add_learner_promote_remove_leader,
 *                          test_membership_promote_requires_catch_up,
 *                          test_pending_self_removals_do_not_deadlock
 *   heartbeats as their own message type: commit bounded
 *       test_raft_hostile.c test_forged_heartbeat_cannot_commit_a_stale_tail
 *   §7 / Figure 13 InstallSnapshot
 *       test_raft_paper.c  test_snapshot_sent_to_lagging_follower
 */

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* RequestVote receiver */
        cmocka_unit_test(test_lower_term_vote_request_is_answered_with_our_term),
        cmocka_unit_test(test_rv2_grants_when_vote_null_or_same_candidate),
        cmocka_unit_test(test_rv2_refuses_second_candidate_in_term),
        cmocka_unit_test(test_rv2_refuses_candidate_with_older_log),
        cmocka_unit_test(test_rv2_bug_switch_votes_for_older_log),
        /* AppendEntries receiver */
        cmocka_unit_test(test_ae1_stale_leader_rejected_with_our_term),
        cmocka_unit_test(test_ae2_rejects_without_matching_prev_entry),
        cmocka_unit_test(test_ae2_bug_switch_accepts_mismatched_prev),
        cmocka_unit_test(test_ae3_conflict_deletes_entry_and_all_that_follow),
        cmocka_unit_test(test_ae4_appends_only_entries_not_already_in_log),
        cmocka_unit_test(test_ae4_stale_shorter_append_does_not_truncate),
        cmocka_unit_test(test_ae5_commit_is_min_of_leader_commit_and_last_new),
        /* Rules for Servers */
        cmocka_unit_test(test_all_apply_committed_entries_in_order),
        cmocka_unit_test(test_all_higher_term_converts_to_follower),
        cmocka_unit_test(test_follower_responds_to_candidates_and_leaders),
        cmocka_unit_test(test_follower_election_timeout_converts_to_candidate),
        cmocka_unit_test(test_candidate_starts_election),
        cmocka_unit_test(test_candidate_majority_becomes_leader),
        cmocka_unit_test(test_candidate_append_from_new_leader_converts_to_follower),
        cmocka_unit_test(test_candidate_timeout_starts_new_election),
        cmocka_unit_test(test_leader_announces_itself_then_heartbeats_when_idle),
        cmocka_unit_test(test_leader_appends_command_applies_after_commit),
        cmocka_unit_test(test_leader_sends_from_next_index_and_updates_on_success),
        cmocka_unit_test(test_leader_decrements_next_index_and_retries),
        cmocka_unit_test(test_leader_commits_on_majority_match),
        /* Persistent state */
        cmocka_unit_test(test_persist_grant_and_ack_travel_with_their_state),
        cmocka_unit_test(test_vote_persisted_across_crash),
        cmocka_unit_test(test_vote_bug_switch_votes_twice),
        cmocka_unit_test(test_ack_withdrawn_when_batch_truncates_its_entries),
        /* Thesis extensions */
        cmocka_unit_test(test_leader_counts_own_entry_only_once_durable),
        cmocka_unit_test(test_prevote_refused_while_leader_heard),
        cmocka_unit_test(test_timeout_now_campaigns_at_once_past_leases),
        cmocka_unit_test(test_config_in_effect_once_appended),
        /* Deviations */
        cmocka_unit_test(test_deviation_stale_append_silent_without_prevote_and_checkquorum),
        cmocka_unit_test(test_deviation_no_vote_while_following_this_terms_leader),
        cmocka_unit_test(test_deviation_append_below_commit_answered_with_commit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
