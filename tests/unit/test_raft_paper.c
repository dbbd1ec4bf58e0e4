/* tests/unit/test_raft_paper.c — the scenarios of the Raft paper, run on
 * the core (raft/): elections (§5.2) and split votes, Figure 7's follower
 * logs repaired by a new leader, Figure 8's commit rule, a leader cut off
 * in a minority, a stale leader's proposals discarded, and a lagging
 * follower brought up to date with a chunked snapshot (§7). One test per
 * sentence of Figure 2 itself is in test_raft_figure2.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "raft_test_net.c"

/* ---- §5.2 elections ----------------------------------------------------------- */

static void test_election_one_leader_per_term(void **state)
{
    (void)state;
    net_t net;
    net_init(&net, 3);
    net_start(&net);
    raft_id_t l = net_wait_leader(&net, 100);
    assert_true(l != 0);
    /* Everyone agrees on the leader and term; the no-op commits (§5.4.2). */
    for (int i = 0; i < 5; i++)
        net_tick_all(&net);
    for (raft_id_t id = 1; id <= 3; id++) {
        assert_int_equal(raft_leader(net.nodes[id].r), l);
        assert_int_equal(raft_term(net.nodes[id].r), raft_term(net.nodes[l].r));
        assert_int_equal(raft_commit(net.nodes[id].r), 1);
        assert_int_equal(raft_log_entry(net.nodes[id].r, 1)->type,
                         RAFT_ENTRY_NOOP);
    }
    net_free(&net);
}

/* §5.2: "if many followers become candidates at the same time, votes could
 * be split so that no candidate obtains a majority", then randomized
 * timeouts resolve it in a later term. */
static void test_split_vote_then_new_election(void **state)
{
    (void)state;
    net_t net;
    net_init(&net, 4);
    for (raft_id_t id = 1; id <= 4; id++)
        net.nodes[id].opts.pre_vote = false;
    net_start(&net);
    /* 1 and 3 campaign at once; 2 hears only 1, 4 hears only 3. */
    net_partition(&net, (1u << 1) | (1u << 2));
    while (raft_role(net.nodes[1].r) == RAFT_FOLLOWER)
        net_tick(&net, 1);
    while (raft_role(net.nodes[3].r) == RAFT_FOLLOWER)
        net_tick(&net, 3);
    net_deliver(&net, 1000);
    raft_term_t split_term = raft_term(net.nodes[1].r);
    assert_int_equal(split_term, raft_term(net.nodes[3].r));
    assert_int_equal(raft_role(net.nodes[1].r), RAFT_CANDIDATE);
    assert_int_equal(raft_role(net.nodes[3].r), RAFT_CANDIDATE);
    assert_int_equal(net_leader(&net), 0);  /* 2 votes of 4: no majority */
    net_heal(&net);
    raft_id_t l = net_wait_leader(&net, 200);
    assert_true(l != 0);
    assert_true(raft_term(net.nodes[l].r) > split_term);
    net_free(&net);
}

/* ---- §5.3 Figure 7 -------------------------------------------------------------- */

/* Figure 7: the leader of term 8 (top line) and followers (a)-(f). Each
 * follower ends with exactly the leader's log: (a),(b) missing entries,
 * (c),(d) extra uncommitted entries, (e),(f) both. */
static void test_figure7_follower_logs_repaired(void **state)
{
    (void)state;
    static const raft_term_t logs[7][12] = {
        { 1, 1, 1, 4, 4, 5, 5, 6, 6, 6 },        /* leader */
        { 1, 1, 1, 4, 4, 5, 5, 6, 6 },           /* (a) */
        { 1, 1, 1, 4 },                          /* (b) */
        { 1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6 },     /* (c) */
        { 1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7 },  /* (d) */
        { 1, 1, 1, 4, 4, 4, 4 },                 /* (e) */
        { 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3 },     /* (f) */
    };
    static const size_t lens[7] = { 10, 9, 4, 11, 12, 7, 11 };
    net_t net;
    net_init(&net, 7);
    for (raft_id_t id = 1; id <= 7; id++) {
        net_node_t *nd = &net.nodes[id];
        nd->hs.term = 7;
        nd->log = calloc(16, sizeof(*nd->log));
        nd->cap_log = 16;
        for (size_t i = 0; i < lens[id - 1]; i++)
            nd->log[nd->n_log++] = (raft_entry_t){
                .term = logs[id - 1][i], .index = i + 1,
                .type = RAFT_ENTRY_NORMAL };
    }
    net_start(&net);
    /* Node 1 wins term 8 with (a), (b), (e), (f): its log is at least as
     * up-to-date as theirs, not as (c)'s or (d)'s (§5.4.1). */
    assert_true(net_elect(&net, 1));
    assert_int_equal(raft_term(net.nodes[1].r), 8);
    for (int i = 0; i < 10; i++)
        net_tick_all(&net);
    for (raft_id_t id = 2; id <= 7; id++) {
        if (!net_logs_equal(&net, 1, id))
            fail_msg("follower %c not repaired", (char)('a' + id - 2));
        /* The durable copy followed the truncations too. */
        assert_int_equal(net.nodes[id].n_log, 11);
        assert_int_equal(net.nodes[id].log[10].term, 8);
        assert_int_equal(raft_commit(net.nodes[id].r), 11);
        /* §5.3's optimisation: one rejection carries enough of a hint to
         * skip every conflicting term at once ((f) would otherwise need
         * seven round trips). */
        assert_true(net.append_rejects[id] <= 1);
    }
    assert_int_equal(net.append_rejects[7], 1);
    net_free(&net);
}

/* ---- §5.4.2 Figure 8 ------------------------------------------------------------- */

/* Figure 8 (c): S1 leads term 4 and has replicated its term-2 entry at
 * index 2 to S2 and S3, a majority of five. It must not count that as
 * committed, because (d) S5 (last entry index 2, term 3) can still win
 * votes from S2, S3, S4 and overwrite it. Only (e) replicating an entry of
 * term 4 commits index 2 as well. */
static void run_figure8(raft_bug_t bugs, raft_index_t want_commit_c)
{
    const raft_term_t s1_log[] = { 1, 2 };
    raft_t *s1 = make_core(1, 5, s1_log, 2, 3, 1, bugs);
    const raft_id_t voters[] = { 2, 3 };
    win_election(s1, voters, 2);
    assert_int_equal(raft_term(s1), 4);
    assert_int_equal(raft_last_index(s1), 3);  /* the term-4 no-op */
    append_ok(s1, 2, 2);
    append_ok(s1, 3, 2);
    assert_int_equal(raft_commit(s1), want_commit_c);

    /* (d) is possible: S3 (log 1,2 with index 2 of term 2) votes for S5. */
    raft_t *s3 = make_core(3, 5, s1_log, 2, 4, 1, RAFT_BUG_NONE);
    step(s3, (raft_msg_t){ .type = RAFT_MSG_VOTE, .from = 5, .term = 5,
                           .u.vote = { .last_index = 2, .last_term = 3 } });
    assert_int_equal(raft_vote(s3), 5);

    /* (e): an entry of term 4 on a majority commits everything before. */
    append_ok(s1, 2, 3);
    append_ok(s1, 3, 3);
    assert_int_equal(raft_commit(s1), 3);
    raft_free(s1);
    raft_free(s3);
}

static void test_figure8_no_commit_by_counting_old_term(void **state)
{
    (void)state;
    run_figure8(RAFT_BUG_NONE, 1);
}

/* The deliberately broken variant does what Figure 8 warns against. */
static void test_figure8_bug_switch_commits_old_term(void **state)
{
    (void)state;
    run_figure8(RAFT_BUG_COMMIT_OLD_TERM, 2);
}

/* Delivers queued messages one at a time until done(net) holds or the
 * queue runs dry; returns done(net). */
static bool deliver_until(net_t *net, bool (*done)(const net_t *))
{
    for (int i = 0; i < 10000 && !done(net); i++)
        if (net_deliver(net, 1) == 0)
            break;
    return done(net);
}

static bool s5_leads(const net_t *net)
{
    return raft_role(net->nodes[5].r) == RAFT_LEADER;
}

static bool s1_leads(const net_t *net)
{
    return raft_role(net->nodes[1].r) == RAFT_LEADER;
}

/* S1 committed index 2, or S3 and S4 both acknowledged it. */
static bool s1_commit_window(const net_t *net)
{
    raft_t *s1 = net->nodes[1].r;
    if (raft_commit(s1) >= 2)
        return true;
    raft_progress_t p3, p4;
    return raft_progress(s1, 3, &p3) == 0 && raft_progress(s1, 4, &p4) == 0 &&
           p3.match >= 2 && p4.match >= 2;
}

/* Ticks node id alone (delivering after each tick) until it leads. */
static bool campaign_until_leader(net_t *net, raft_id_t id)
{
    for (int i = 0; i < 200 && raft_role(net->nodes[id].r) != RAFT_LEADER; i++) {
        net_tick(net, id);
        net_deliver(net, 100000);
    }
    return raft_role(net->nodes[id].r) == RAFT_LEADER;
}

/* Figure 8 played out on five nodes, (a) to (d), with one entry per
 * AppendEntries so the leader of (c) can be caught between replicating
 * its old entry and its own. Returns whether two nodes ever applied
 * different entries at the same index (State Machine Safety). */
static bool run_figure8_network(raft_bug_t bugs)
{
    net_t net;
    net_init(&net, 5);
    for (raft_id_t id = 1; id <= 5; id++) {
        net.nodes[id].opts.max_entries_per_msg = 1;
        net.nodes[id].opts.pre_vote = false;     /* the paper's election */
        net.nodes[id].opts.check_quorum = false;
        net.nodes[id].opts.bugs = bugs;
    }
    net_start(&net);
    /* (a) S1 leads and replicates index 2 only to S2. */
    assert_true(net_elect(&net, 1));
    net_tick_all(&net);
    net_partition(&net, (1u << 1) | (1u << 2));
    assert_int_equal(net_propose(&net, 1, "x", NULL), 0);
    net_deliver(&net, 1000);
    assert_int_equal(raft_last_index(net.nodes[2].r), 2);
    /* (b) S1 crashes; S5 is elected by S3, S4 (and itself) and appends its
     * own entry at index 2, then crashes before sending it. */
    net_crash(&net, 1);
    net_heal(&net);
    net_isolate(&net, 2);
    while (raft_role(net.nodes[5].r) == RAFT_FOLLOWER)
        net_tick(&net, 5);
    assert_true(deliver_until(&net, s5_leads));
    net_drop_queue(&net);
    assert_int_equal(raft_last_index(net.nodes[5].r), 2);
    raft_term_t t5 = raft_term(net.nodes[5].r);
    assert_int_equal(raft_log_term(net.nodes[5].r, 2), t5);
    net_crash(&net, 5);
    /* (c) S1 restarts, is elected by S3 and S4, and gets its term-1 entry
     * onto S3 and S4: a majority (S1, S3, S4), not yet with its own. */
    net_restart(&net, 1);
    for (int i = 0; i < 200 && !s1_leads(&net); i++) {
        net_tick(&net, 1);
        deliver_until(&net, s1_leads);
    }
    assert_true(s1_leads(&net));
    assert_true(deliver_until(&net, s1_commit_window));
    net_drop_queue(&net);
    net_crash(&net, 1);
    /* (d) S5 restarts and, with votes from S2, S3, S4, overwrites index 2.
     * Safe only if S1 did not commit (and apply) it in (c). */
    net_heal(&net);
    net_restart(&net, 5);
    assert_true(campaign_until_leader(&net, 5));
    for (int i = 0; i < 5; i++)
        net_tick_all(&net);
    assert_int_equal(raft_log_term(net.nodes[3].r, 2), t5);
    assert_true(raft_commit(net.nodes[3].r) >= 2);
    bool violated = net.sms_violated;
    net_free(&net);
    return violated;
}

static void test_figure8_network_old_entry_never_applied(void **state)
{
    (void)state;
    assert_false(run_figure8_network(RAFT_BUG_NONE));
}

/* Teeth: with commit-by-counting, S1 applies index 2 in (c) and S5
 * overwrites it in (d): two state machines disagree. */
static void test_figure8_network_bug_breaks_state_machine_safety(void **state)
{
    (void)state;
    assert_true(run_figure8_network(RAFT_BUG_COMMIT_OLD_TERM));
}

/* ---- partitions ----------------------------------------------------------------- */

/* A leader cut off with a minority cannot commit (a majority never
 * acknowledges), while the majority elects a new leader and commits; once
 * healed, the old leader's uncommitted entry is discarded (§5.3, §5.4). */
static void run_minority_leader(bool check_quorum)
{
    net_t net;
    net_init(&net, 5);
    for (raft_id_t id = 1; id <= 5; id++)
        net.nodes[id].opts.check_quorum = check_quorum;
    net_start(&net);
    assert_true(net_elect(&net, 1));
    net_tick_all(&net);
    raft_index_t base = raft_commit(net.nodes[1].r);
    net_partition(&net, (1u << 1) | (1u << 2));
    raft_index_t stale_idx;
    assert_int_equal(net_propose(&net, 1, "stale", &stale_idx), 0);
    raft_term_t stale_term = raft_term(net.nodes[1].r);
    for (int i = 0; i < 40; i++)
        net_tick_all(&net);
    assert_int_equal(raft_commit(net.nodes[1].r), base);
    assert_int_equal(net.nodes[1].sm_count, 0);
    /* With CheckQuorum the cut-off leader steps down by itself. */
    if (check_quorum)
        assert_int_not_equal(raft_role(net.nodes[1].r), RAFT_LEADER);
    /* The majority side elected a leader of a later term and commits. */
    raft_id_t l2 = 0;
    for (raft_id_t id = 3; id <= 5; id++)
        if (raft_role(net.nodes[id].r) == RAFT_LEADER)
            l2 = id;
    assert_true(l2 != 0);
    assert_int_equal(net_propose(&net, l2, "fresh", NULL), 0);
    for (int i = 0; i < 5; i++)
        net_tick_all(&net);
    assert_true(raft_commit(net.nodes[l2].r) >= stale_idx);

    net_heal(&net);
    for (int i = 0; i < 20; i++)
        net_tick_all(&net);
    /* The stale leader's entry is gone everywhere. */
    for (raft_id_t id = 1; id <= 5; id++) {
        assert_true(net_logs_equal(&net, id, l2));
        assert_int_not_equal(raft_log_term(net.nodes[id].r, stale_idx),
                             stale_term);
        assert_int_equal(net.nodes[id].sm_count, 1);  /* "fresh" only */
        assert_int_equal(net.nodes[id].sm_hash, net.nodes[l2].sm_hash);
    }
    assert_int_not_equal(raft_role(net.nodes[1].r), RAFT_LEADER);
    net_free(&net);
}

static void test_leader_in_minority_cannot_commit(void **state)
{
    (void)state;
    run_minority_leader(true);
}

/* Without CheckQuorum the old leader keeps believing it leads until it
 * hears the new term; its proposals are still never applied. */
static void test_stale_leader_proposals_discarded(void **state)
{
    (void)state;
    run_minority_leader(false);
}

/* ---- §7 snapshots ------------------------------------------------------------------ */

/* A follower down while the leader compacted its log cannot be repaired
 * with AppendEntries: it gets the snapshot in chunks, then the rest. */
static void test_snapshot_sent_to_lagging_follower(void **state)
{
    (void)state;
    net_t net;
    net_init(&net, 3);
    for (raft_id_t id = 1; id <= 3; id++)
        net.nodes[id].opts.snapshot_chunk_bytes = 5;  /* 16 bytes: 4 chunks */
    net_start(&net);
    assert_true(net_elect(&net, 1));
    net_crash(&net, 3);
    char buf[32];
    for (int i = 0; i < 30; i++) {
        snprintf(buf, sizeof(buf), "entry %d", i);
        assert_int_equal(net_propose(&net, 1, buf, NULL), 0);
        net_deliver(&net, 1000);
    }
    net_tick_all(&net);
    assert_int_equal(net.nodes[1].sm_count, 30);
    assert_int_equal(net_compact(&net, 1), 0);
    assert_int_equal(net_compact(&net, 2), 0);
    raft_index_t snap = raft_snapshot(net.nodes[1].r)->index;
    assert_true(snap >= 31);
    assert_int_equal(raft_first_index(net.nodes[1].r), snap + 1);
    assert_int_equal(net_propose(&net, 1, "after", NULL), 0);

    net_restart(&net, 3);
    size_t before = net.delivered;
    for (int i = 0; i < 10; i++)
        net_tick_all(&net);
    assert_true(net.delivered > before);
    net_node_t *f = &net.nodes[3];
    assert_int_equal(f->snap.index, snap);
    assert_int_equal(raft_snapshot(f->r)->index, snap);
    assert_true(net_logs_equal(&net, 1, 3));
    assert_int_equal(f->sm_count, 31);
    assert_int_equal(f->sm_hash, net.nodes[1].sm_hash);
    assert_int_equal(raft_commit(f->r), raft_commit(net.nodes[1].r));

    /* And it survives a restart from what it persisted. */
    net_crash(&net, 3);
    net_restart(&net, 3);
    for (int i = 0; i < 5; i++)
        net_tick_all(&net);
    assert_int_equal(net.nodes[3].sm_hash, net.nodes[1].sm_hash);
    net_free(&net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_election_one_leader_per_term),
        cmocka_unit_test(test_split_vote_then_new_election),
        cmocka_unit_test(test_figure7_follower_logs_repaired),
        cmocka_unit_test(test_figure8_no_commit_by_counting_old_term),
        cmocka_unit_test(test_figure8_bug_switch_commits_old_term),
        cmocka_unit_test(test_figure8_network_old_entry_never_applied),
        cmocka_unit_test(test_figure8_network_bug_breaks_state_machine_safety),
        cmocka_unit_test(test_leader_in_minority_cannot_commit),
        cmocka_unit_test(test_stale_leader_proposals_discarded),
        cmocka_unit_test(test_snapshot_sent_to_lagging_follower),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
