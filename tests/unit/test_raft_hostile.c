/* tests/unit/test_raft_hostile.c — no message can break the Raft core
 * (issue #12 item 3): forged or impossible terms, indexes, entries and
 * snapshots stepped straight into cores of the in-process test network
 * (the codec refuses the same frames on the wire: test_raft_codec.c).
 *
 * Each test reproduces an attack that worked before the checks existed:
 * a heartbeat with term 2^64-1 that left the cluster leaderless for good,
 * a forged heartbeat that made a follower apply an entry the cluster never
 * committed, a second "leader" in a term, a snapshot with no configuration
 * that wiped a follower, a persisted term past the limit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "raft_test_net.c"

static void start_with_leader(net_t *net, raft_id_t leader)
{
    net_start(net);
    assert_true(net_elect(net, leader));
    net_tick_all(net);
}

/* Steps a forged message into node `to` and queues whatever it answers. */
static int forge(net_t *net, raft_id_t to, const raft_msg_t *m)
{
    int rc = raft_step(net->nodes[to].r, m);
    assert_null(raft_check_invariants(net->nodes[to].r));
    net_flush(net, to);
    return rc;
}

static void tick_rounds(net_t *net, int rounds)
{
    for (int i = 0; i < rounds; i++)
        net_tick_all(net);
}

/* Cuts the leader off until another node leads (in a later term), heals,
 * and returns the new leader: gives tests a term >= 2 and entries of an
 * older term. */
static raft_id_t change_leader(net_t *net)
{
    raft_id_t old = net_leader(net);
    net_isolate(net, old);
    raft_id_t now = 0;
    for (int i = 0; i < 100 && (now == 0 || now == old); i++) {
        net_tick_all(net);
        now = net_leader(net);
    }
    assert_true(now != 0 && now != old);
    net_heal(net);
    tick_rounds(net, 5);
    assert_int_equal(net_leader(net), now);
    return now;
}

static raft_id_t a_follower(raft_id_t leader)
{
    return leader == 2 ? 3 : 2;
}

/* ---- terms at the limit ------------------------------------------------------ */

/* The attack of issue #12: one heartbeat "from the leader" with term
 * 2^64-1. Before, every node adopted it and the next pre-vote term wrapped
 * to 0, so no election could ever succeed. Now it is dropped, and so is
 * anything at or above 2^63. */
static void test_heartbeat_with_huge_term_dropped(void **state)
{
    (void)state;
    net_t net;
    net_init(&net, 3);
    start_with_leader(&net, 1);
    raft_term_t term = raft_term(net.nodes[2].r);
    raft_term_t huge[] = { UINT64_MAX, UINT64_MAX - 1, RAFT_TERM_LIMIT };
    for (size_t i = 0; i < sizeof huge / sizeof huge[0]; i++) {
        raft_msg_t hb = { .type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 2, .term = huge[i],
                          .u.heartbeat = { .commit = 1 } };
        assert_int_equal(forge(&net, 2, &hb), RAFT_EINVAL);
        assert_int_equal(raft_term(net.nodes[2].r), term);
    }
    net_deliver(&net, 1000);
    tick_rounds(&net, 5);
    assert_int_equal(net_leader(&net), 1);
    assert_int_equal(raft_term(net.nodes[1].r), term);
    raft_index_t idx;
    assert_int_equal(net_propose(&net, 1, "still works", &idx), 0);
    tick_rounds(&net, 3);
    for (raft_id_t id = 1; id <= 3; id++)
        assert_true(raft_commit(net.nodes[id].r) >= idx);
    net_free(&net);
}

/* The largest legal term, 2^63 - 1, is adopted (a forged one cannot be
 * told from a real one without authentication), but nobody then campaigns
 * into 2^63 or wraps to 0: the cluster stays at that term, leaderless,
 * and says so, rather than corrupt every term comparison. */
static void test_term_at_limit_never_wraps(void **state)
{
    (void)state;
    net_t net;
    net_init(&net, 3);
    start_with_leader(&net, 1);
    raft_msg_t hb = { .type = RAFT_MSG_HEARTBEAT, .from = 1, .to = 2,
                      .term = RAFT_TERM_LIMIT - 1 };
    assert_int_equal(forge(&net, 2, &hb), 0);
    assert_int_equal(raft_term(net.nodes[2].r), RAFT_TERM_LIMIT - 1);
    net_deliver(&net, 1000);  /* its reply deposes the real leader */
    tick_rounds(&net, 200);
    for (raft_id_t id = 1; id <= 3; id++) {
        assert_int_equal(raft_term(net.nodes[id].r), RAFT_TERM_LIMIT - 1);
        assert_int_not_equal(raft_role(net.nodes[id].r), RAFT_LEADER);
        assert_int_not_equal(raft_role(net.nodes[id].r), RAFT_CANDIDATE);
    }
    net_free(&net);
}

/* A term at or above the limit on disk is corruption, like any other
 * inconsistency raft_new finds (before: accepted, and the node's next
 * campaign wrapped the term). */
static void test_persisted_term_at_limit_is_corrupt(void **state)
{
    (void)state;
    raft_options_t o;
    raft_options_init(&o);
    o.id = 1;
    o.bootstrap.n_voters = 1;
    o.bootstrap.voters[0] = 1;
    raft_term_t bad[] = { RAFT_TERM_LIMIT, UINT64_MAX };
    for (size_t i = 0; i < 2; i++) {
        raft_persisted_t p = { .hard_state = { .term = bad[i] } };
        int err = 0;
        assert_null(raft_new(&o, &p, &err));
        assert_int_equal(err, RAFT_ECORRUPT);
        raft_entry_t e = { .term = bad[i], .index = 1, .type = RAFT_ENTRY_NOOP };
        p = (raft_persisted_t){ .hard_state = { .term = bad[i] }, .entries = &e, .n_entries = 1 };
        assert_null(raft_new(&o, &p, &err));
        assert_int_equal(err, RAFT_ECORRUPT);
    }
    raft_persisted_t ok = { .hard_state = { .term = RAFT_TERM_LIMIT - 1 } };
    int err = -1;
    raft_t *r = raft_new(&o, &ok, &err);
    assert_non_null(r);
    /* A single voter at the last term cannot start an election either. */
    for (int i = 0; i < 100; i++)
        raft_tick(r);
    assert_int_equal(raft_term(r), RAFT_TERM_LIMIT - 1);
    assert_int_equal(raft_role(r), RAFT_FOLLOWER);
    raft_free(r);
}

/* ---- AppendEntries that no leader could send --------------------------------- */

static raft_msg_t append_after_last(const raft_t *f, raft_id_t from, raft_term_t term,
                                    raft_entry_t *e, size_t n)
{
    raft_msg_t m = { .type = RAFT_MSG_APPEND, .from = from, .to = raft_id(f), .term = term };
    m.u.append.prev_index = raft_last_index(f);
    m.u.append.prev_term = raft_log_term(f, raft_last_index(f));
    m.u.append.commit = raft_commit(f);
    m.u.append.entries = e;
    m.u.append.n_entries = n;
    for (size_t i = 0; i < n; i++)
        e[i].index = m.u.append.prev_index + 1 + i;
    return m;
}

/* Entry terms above the message term, going down, or of term 0; prev_term
 * above the term; indexes running past 2^63: all refused as a whole
 * (Figure 2, §5.3), the log untouched. */
static void test_impossible_appends_refused(void **state)
{
    (void)state;
    net_t net;
    net_init(&net, 3);
    start_with_leader(&net, 1);
    raft_id_t l = change_leader(&net), fid = a_follower(l);
    raft_t *f = net.nodes[fid].r;
    raft_term_t t = raft_term(f);
    assert_true(t >= 2);
    raft_index_t last = raft_last_index(f), commit = raft_commit(f);
    raft_entry_t e[2] = { { .term = t, .type = RAFT_ENTRY_NORMAL },
                          { .term = t, .type = RAFT_ENTRY_NORMAL } };

    e[1].term = t + 1; /* above the leader's own term */
    raft_msg_t m = append_after_last(f, l, t, e, 2);
    assert_int_equal(forge(&net, fid, &m), RAFT_EINVAL);
    e[1].term = t - 1; /* going down */
    e[0].term = t;
    m = append_after_last(f, l, t, e, 2);
    assert_int_equal(forge(&net, fid, &m), RAFT_EINVAL);
    e[0].term = t - 1; /* below prev_term, the last entry's (t: the no-op) */
    e[1].term = t;
    m = append_after_last(f, l, t, e, 2);
    assert_int_equal(forge(&net, fid, &m), RAFT_EINVAL);
    e[0].term = e[1].term = 0;
    m = append_after_last(f, l, t, e, 2);
    assert_int_equal(forge(&net, fid, &m), RAFT_EINVAL);
    e[0].term = e[1].term = t;
    m = append_after_last(f, l, t, e, 2);
    m.u.append.prev_term = t + 5;
    assert_int_equal(forge(&net, fid, &m), RAFT_EINVAL);
    m = append_after_last(f, l, t, e, 2);
    m.u.append.commit = RAFT_INDEX_LIMIT;
    assert_int_equal(forge(&net, fid, &m), RAFT_EINVAL);
    /* Entries whose indexes would run past the limit. */
    m = append_after_last(f, l, t, e, 2);
    m.u.append.prev_index = RAFT_INDEX_LIMIT - 2;
    e[0].index = RAFT_INDEX_LIMIT - 1;
    e[1].index = RAFT_INDEX_LIMIT;
    assert_int_equal(forge(&net, fid, &m), RAFT_EINVAL);
    m.u.append.prev_index = UINT64_MAX;
    e[0].index = 0;
    e[1].index = 1;
    assert_int_equal(forge(&net, fid, &m), RAFT_EINVAL);

    assert_int_equal(raft_last_index(f), last);
    assert_int_equal(raft_commit(f), commit);
    assert_int_equal(raft_term(f), t);
    net_free(&net);
}

/* Figure 3 Election Safety: one leader per term. A follower that follows
 * node 1 in term t refuses AppendEntries "from the leader" 3 in the same
 * term; before, it appended them, and their index and term then passed
 * for the real leader's entries (Log Matching). */
static void test_second_leader_in_a_term_ignored(void **state)
{
    (void)state;
    net_t net;
    net_init(&net, 3);
    start_with_leader(&net, 1);
    raft_t *f = net.nodes[2].r;
    assert_int_equal(raft_leader(f), 1);
    raft_index_t last = raft_last_index(f);
    raft_entry_t e = { .term = raft_term(f), .type = RAFT_ENTRY_NORMAL,
                       .data = (const uint8_t *)"evil", .len = 4 };
    raft_msg_t m = append_after_last(f, 3, raft_term(f), &e, 1);
    assert_int_equal(forge(&net, 2, &m), 0);
    assert_int_equal(raft_last_index(f), last);
    assert_int_equal(raft_leader(f), 1);
    raft_msg_t hb = { .type = RAFT_MSG_HEARTBEAT, .from = 3, .to = 2, .term = raft_term(f) };
    assert_int_equal(forge(&net, 2, &hb), 0);
    assert_int_equal(raft_leader(f), 1);
    net_drop_queue(&net);
    net_free(&net);
}

/* "A forged AppendEntries made one node skip a committed entry": node 2
 * holds an entry of a deposed leader that the cluster never committed
 * (index k, term t); the new leader 3 committed other entries at k. A
 * forged heartbeat "from 3" with commit k used to make node 2 commit and
 * apply its stale entry (min(commit, last index) trusted a message with no
 * log check), and the real leader's later appends were then answered
 * "match up to commit", hiding the divergence for good. Now a heartbeat
 * commits only through entries of the current term, and the cluster
 * converges. */
static void test_forged_heartbeat_cannot_commit_a_stale_tail(void **state)
{
    (void)state;
    net_t net;
    net_init(&net, 5);
    start_with_leader(&net, 1);
    /* Leader 1 reaches only node 2, and never hears its acks. */
    for (raft_id_t o = 3; o <= 5; o++)
        net.cut[1][o] = net.cut[o][1] = true;
    net.cut[2][1] = true;
    raft_index_t k;
    assert_int_equal(net_propose(&net, 1, "stale", &k), 0);
    net_deliver(&net, 1000);
    raft_t *f = net.nodes[2].r;
    assert_int_equal(raft_last_index(f), k);
    raft_index_t f_commit = raft_commit(f);
    assert_true(f_commit < k);
    /* 3, 4 and 5 elect 3, which commits its own entries from index k on. */
    net_heal(&net);
    net_isolate(&net, 1);
    net_isolate(&net, 2);
    raft_id_t l = 0;
    for (int i = 0; i < 100 && (l == 0 || l == 1); i++) {
        net_tick_all(&net);
        l = net_leader(&net);
    }
    assert_true(l >= 3);
    raft_index_t real;
    assert_int_equal(net_propose(&net, l, "real", &real), 0);
    tick_rounds(&net, 3);
    assert_true(raft_commit(net.nodes[l].r) >= real);
    assert_int_not_equal(raft_log_term(net.nodes[l].r, k), raft_log_term(f, k));
    /* The forgery: the new leader's term and id, a commit covering k. */
    raft_msg_t hb = { .type = RAFT_MSG_HEARTBEAT, .from = l, .to = 2,
                      .term = raft_term(net.nodes[l].r), .u.heartbeat = { .commit = k } };
    assert_int_equal(forge(&net, 2, &hb), 0);
    assert_int_equal(raft_commit(f), f_commit);
    assert_false(net.sms_violated);
    /* Healed, node 2 takes the real entries and applies them. */
    net_heal(&net);
    tick_rounds(&net, 20);
    assert_false(net.sms_violated);
    assert_true(net_logs_equal(&net, l, 2));
    assert_true(raft_commit(f) >= real);
    net_free(&net);
}

/* An append below our commit index must agree with what we committed; if
 * it does not, the message or our commit is forged, and acknowledging
 * "match up to commit" (as before) would hide a divergence for good. */
static void test_append_disagreeing_with_committed_entries_refused(void **state)
{
    (void)state;
    net_t net;
    net_init(&net, 3);
    start_with_leader(&net, 1);
    for (int i = 0; i < 3; i++)
        assert_int_equal(net_propose(&net, 1, "x", NULL), 0);
    tick_rounds(&net, 3);
    raft_id_t l = change_leader(&net), fid = a_follower(l);
    raft_t *f = net.nodes[fid].r;
    raft_index_t c = raft_commit(f);
    raft_term_t t = raft_term(f);
    assert_true(c >= 5);
    assert_true(raft_log_term(f, 3) < t);
    /* Index 3 is committed with an older term; the "leader" claims its
     * own term there. */
    raft_entry_t e = { .term = t, .index = 3, .type = RAFT_ENTRY_NORMAL,
                       .data = (const uint8_t *)"evil", .len = 4 };
    raft_msg_t m = { .type = RAFT_MSG_APPEND, .from = l, .to = fid, .term = t };
    m.u.append.prev_index = 2;
    m.u.append.prev_term = raft_log_term(f, 2);
    m.u.append.commit = c;
    m.u.append.entries = &e;
    m.u.append.n_entries = 1;
    assert_int_equal(raft_step(f, &m), 0);
    raft_ready_t rd;
    raft_ready(f, &rd);
    for (size_t i = 0; i < rd.n_msgs; i++)
        assert_false(rd.msgs[i].type == RAFT_MSG_APPEND_RESP && rd.msgs[i].u.append_resp.success);
    raft_advance(f, &rd);
    assert_int_equal(raft_commit(f), c);
    assert_int_not_equal(raft_log_term(f, 3), e.term);
    net_free(&net);
}

/* ---- InstallSnapshot ---------------------------------------------------------- */

/* A snapshot chunk with no voters, index 0, a term above the message's,
 * or an index past the limit: refused before it replaces anything (before,
 * an empty configuration passed and the follower's log was wiped). */
static void test_impossible_snapshots_refused(void **state)
{
    (void)state;
    net_t net;
    net_init(&net, 3);
    start_with_leader(&net, 1);
    raft_t *f = net.nodes[2].r;
    raft_term_t t = raft_term(f);
    raft_index_t last = raft_last_index(f), commit = raft_commit(f);
    raft_msg_t m = { .type = RAFT_MSG_SNAPSHOT, .from = 1, .to = 2, .term = t };
    raft_snapshot_chunk_t *c = &m.u.snapshot;
    c->index = commit + 50;
    c->term = t;
    c->total_len = 1;
    c->len = 1;
    c->data = (const uint8_t *)"x";
    c->last = true;
    assert_int_equal(forge(&net, 2, &m), RAFT_EINVAL); /* no voters */
    c->members.n_voters = 1;
    c->members.voters[0] = 1;
    c->term = t + 1;
    assert_int_equal(forge(&net, 2, &m), RAFT_EINVAL);
    c->term = t;
    c->index = RAFT_INDEX_LIMIT;
    assert_int_equal(forge(&net, 2, &m), RAFT_EINVAL);
    c->index = 0;
    assert_int_equal(forge(&net, 2, &m), RAFT_EINVAL);
    assert_int_equal(raft_snapshot(f)->index, 0);
    assert_int_equal(raft_last_index(f), last);
    assert_int_equal(raft_commit(f), commit);
    net_drop_queue(&net);
    net_free(&net);
}

static int check_calls;
static bool check_accepts;
static const char *content_check(void *ctx, const raft_snapshot_t *s)
{
    (void)ctx;
    (void)s;
    check_calls++;
    return check_accepts ? NULL : "test says no";
}

/* §7: a snapshot whose content the state machine refuses leaves the
 * follower's log and state as they were; once it accepts, it installs. */
static void test_snapshot_content_check_before_install(void **state)
{
    (void)state;
    net_t net;
    net_init(&net, 3);
    net.nodes[3].opts.snapshot_check = content_check;
    check_calls = 0;
    check_accepts = false;
    start_with_leader(&net, 1);
    net_isolate(&net, 3);
    for (int i = 0; i < 5; i++)
        assert_int_equal(net_propose(&net, 1, "v", NULL), 0);
    tick_rounds(&net, 3);
    assert_int_equal(net_compact(&net, 1), 0);
    raft_t *f = net.nodes[3].r;
    raft_index_t last = raft_last_index(f), commit = raft_commit(f);
    net_heal(&net);
    tick_rounds(&net, 10);
    assert_true(check_calls > 0);
    assert_int_equal(raft_snapshot(f)->index, 0);
    assert_int_equal(raft_last_index(f), last);
    assert_int_equal(raft_commit(f), commit);
    check_accepts = true;
    tick_rounds(&net, 10);
    assert_int_equal(raft_snapshot(f)->index, raft_snapshot(net.nodes[1].r)->index);
    assert_true(net_logs_equal(&net, 1, 3));
    net_free(&net);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heartbeat_with_huge_term_dropped),
        cmocka_unit_test(test_term_at_limit_never_wraps),
        cmocka_unit_test(test_persisted_term_at_limit_is_corrupt),
        cmocka_unit_test(test_impossible_appends_refused),
        cmocka_unit_test(test_second_leader_in_a_term_ignored),
        cmocka_unit_test(test_forged_heartbeat_cannot_commit_a_stale_tail),
        cmocka_unit_test(test_append_disagreeing_with_committed_entries_refused),
        cmocka_unit_test(test_impossible_snapshots_refused),
        cmocka_unit_test(test_snapshot_content_check_before_install),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
