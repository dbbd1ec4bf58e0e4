/* tests/unit/test_raft_trace.c — the core's trace events (raft.h
 * raft_options.trace, raft/core/trace.c): every decision reports its
 * reason with the numbers behind it (RequestVote receiver rule 2 and
 * §5.4.1, the thesis §9.6 lease, AppendEntries receiver rule 2), commits
 * are reported as they advance, role changes name their cause, and
 * raft_trace_format gives the words raft-sim and the daemon print.
 * Linked with libraftcore.a alone. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "raft/core/raft.h"

#define MAX_EVENTS 64

/* Everything the core reported, with its text. */
static struct {
    raft_trace_event_t e[MAX_EVENTS];
    char text[MAX_EVENTS][256];
    size_t n;
} seen;

static void record(void *ctx, const raft_trace_event_t *e)
{
    (void)ctx;
    assert_true(seen.n < MAX_EVENTS);
    seen.e[seen.n] = *e;
    raft_trace_format(e, NULL, NULL, seen.text[seen.n], sizeof seen.text[0]);
    seen.n++;
}

/* The last event of a kind, or fails. */
static const raft_trace_event_t *last(raft_trace_kind_t kind, const char **text)
{
    for (size_t i = seen.n; i-- > 0;)
        if (seen.e[i].kind == kind) {
            if (text)
                *text = seen.text[i];
            return &seen.e[i];
        }
    fail_msg("no %s event", raft_trace_kind_name(kind));
    return NULL;
}

/* Node `id` of 3 voters, restarted with log terms[] in term `term`. */
static raft_t *core(raft_id_t id, const raft_term_t *terms, size_t n, raft_term_t term)
{
    raft_options_t o;
    raft_options_init(&o);
    o.id = id;
    o.seed = id;
    o.trace = record;
    for (raft_id_t v = 1; v <= 3; v++)
        o.bootstrap.voters[o.bootstrap.n_voters++] = v;
    raft_entry_t e[8];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++)
        e[i] = (raft_entry_t){ .term = terms[i], .index = i + 1, .type = RAFT_ENTRY_NORMAL };
    raft_persisted_t p = { .hard_state = { .term = term }, .entries = e, .n_entries = n };
    raft_t *r = raft_new(&o, &p, NULL);
    assert_non_null(r);
    seen.n = 0;
    return r;
}

static void step(raft_t *r, raft_msg_t m)
{
    m.to = raft_id(r);
    assert_int_equal(raft_step(r, &m), 0);
}

static raft_msg_t vote(raft_id_t from, raft_term_t term, raft_index_t li, raft_term_t lt,
                       bool prevote)
{
    return (raft_msg_t){ .type = RAFT_MSG_VOTE, .from = from, .term = term,
                         .u.vote = { .last_index = li, .last_term = lt, .prevote = prevote } };
}

static raft_msg_t append(raft_id_t from, raft_term_t term, raft_index_t prev_index,
                         raft_term_t prev_term, raft_index_t commit)
{
    return (raft_msg_t){ .type = RAFT_MSG_APPEND, .from = from, .term = term,
                         .u.append = { .prev_index = prev_index, .prev_term = prev_term,
                                       .commit = commit } };
}

/* §5.4.1: "the voter denies its vote if its own log is more up-to-date
 * than that of the candidate" — the event carries both last entries. */
static void test_vote_denied_log_behind(void **state)
{
    (void)state;
    const raft_term_t terms[] = { 1, 2, 3 };
    raft_t *r = core(1, terms, 3, 3);
    step(r, vote(2, 4, 2, 2, false));
    const char *text;
    const raft_trace_event_t *e = last(RAFT_TRACE_VOTE, &text);
    assert_false(e->granted);
    assert_int_equal(e->reason, RAFT_WHY_LOG_BEHIND);
    assert_int_equal(e->peer, 2);
    assert_int_equal(e->index, 2);
    assert_int_equal(e->log_term, 2);
    assert_int_equal(e->our_index, 3);
    assert_int_equal(e->our_term, 3);
    assert_string_equal(text, "denies vote to n2 for term 4: its log (2,2) is behind ours (3,3)");
    raft_free(r);
}

/* Figure 2 RequestVote rule 2: "If votedFor is null or candidateId" —
 * a second candidate of the same term hears whom we voted for. */
static void test_vote_denied_already_voted(void **state)
{
    (void)state;
    raft_t *r = core(1, NULL, 0, 1);
    step(r, vote(2, 2, 0, 0, false));
    const char *text;
    const raft_trace_event_t *e = last(RAFT_TRACE_VOTE, &text);
    assert_true(e->granted);
    assert_string_equal(text, "grants vote to n2 for term 2: its log (0,0) is at least as up "
                              "to date as ours (0,0)");
    step(r, vote(3, 2, 5, 2, false));
    e = last(RAFT_TRACE_VOTE, &text);
    assert_false(e->granted);
    assert_int_equal(e->reason, RAFT_WHY_VOTED);
    assert_int_equal(e->other, 2);
    assert_string_equal(text, "denies vote to n3 for term 2: already voted for n2");
    raft_free(r);
}

/* Thesis §9.6: a server that hears from a leader denies pre-votes. */
static void test_prevote_denied_leader_heard(void **state)
{
    (void)state;
    raft_t *r = core(1, NULL, 0, 1);
    step(r, append(2, 1, 0, 0, 0));
    step(r, vote(3, 2, 9, 1, true));
    const char *text;
    const raft_trace_event_t *e = last(RAFT_TRACE_VOTE, &text);
    assert_false(e->granted);
    assert_true(e->prevote);
    assert_int_equal(e->reason, RAFT_WHY_LEASE);
    assert_int_equal(e->other, 2);
    assert_string_equal(text, "denies pre-vote to n3 for term 2: leader n2 heard within the "
                              "election timeout");
    raft_free(r);
}

/* Figure 2 AppendEntries rule 2: "Reply false if log doesn't contain an
 * entry at prevLogIndex whose term matches prevLogTerm" — two ways. */
static void test_append_rejected_conflict_and_missing(void **state)
{
    (void)state;
    const raft_term_t terms[] = { 1, 1, 2 };
    raft_t *r = core(1, terms, 3, 3);
    step(r, append(2, 3, 3, 3, 0));
    const char *text;
    const raft_trace_event_t *e = last(RAFT_TRACE_APPEND_REJECT, &text);
    assert_int_equal(e->reason, RAFT_WHY_CONFLICT);
    assert_int_equal(e->index, 3);
    assert_int_equal(e->our_term, 2);
    assert_string_equal(text, "rejects append from n2: conflict at index 3 (term 3 there, 2 here)");
    step(r, append(2, 3, 5, 3, 0));
    e = last(RAFT_TRACE_APPEND_REJECT, &text);
    assert_int_equal(e->reason, RAFT_WHY_MISSING);
    assert_int_equal(e->our_index, 3);
    assert_string_equal(text, "rejects append from n2: missing entries (prev (5,3), our log ends "
                              "at 3)");
    raft_free(r);
}

/* Figure 2 AppendEntries rule 5: "set commitIndex = min(leaderCommit,
 * index of last new entry)" — and say so. */
static void test_commit_advanced(void **state)
{
    (void)state;
    const raft_term_t terms[] = { 1, 1, 1 };
    raft_t *r = core(1, terms, 3, 1);
    step(r, append(2, 1, 3, 1, 2));
    const char *text;
    const raft_trace_event_t *e = last(RAFT_TRACE_COMMIT, &text);
    assert_int_equal(e->index, 2);
    assert_string_equal(text, "commit advanced to 2");
    size_t before = seen.n;
    step(r, append(2, 1, 3, 1, 2));  /* nothing new: no event */
    for (size_t i = before; i < seen.n; i++)
        assert_int_not_equal(seen.e[i].kind, RAFT_TRACE_COMMIT);
    raft_free(r);
}

/* Role changes name their cause, and come before the messages they cause
 * (those are only handed out by raft_ready, after the event). */
static void test_election_roles_in_order(void **state)
{
    (void)state;
    raft_t *r = core(1, NULL, 0, 0);
    while (raft_role(r) == RAFT_FOLLOWER)
        raft_tick(r);
    const raft_trace_event_t *e = last(RAFT_TRACE_ROLE, NULL);
    assert_int_equal(e->role, RAFT_PRECANDIDATE);
    assert_int_equal(e->reason, RAFT_WHY_TIMEOUT);
    assert_true(raft_has_ready(r));  /* the PreVotes are still to go out */
    raft_ready_t rd;
    raft_ready(r, &rd);
    raft_advance(r, &rd);
    step(r, (raft_msg_t){ .type = RAFT_MSG_VOTE_RESP, .from = 2, .term = 1,
                          .u.vote_resp = { .prevote = true, .granted = true } });
    const char *text;
    e = last(RAFT_TRACE_ROLE, &text);
    assert_int_equal(e->role, RAFT_CANDIDATE);
    assert_int_equal(e->reason, RAFT_WHY_PREVOTE_WON);
    assert_string_equal(text, "becomes candidate in term 1 (a majority granted its pre-vote; "
                              "last entry (0,0))");
    raft_ready(r, &rd);
    raft_advance(r, &rd);
    step(r, (raft_msg_t){ .type = RAFT_MSG_VOTE_RESP, .from = 3, .term = 1,
                          .u.vote_resp = { .granted = true } });
    e = last(RAFT_TRACE_ROLE, &text);
    assert_int_equal(e->role, RAFT_LEADER);
    assert_int_equal(e->reason, RAFT_WHY_WON);
    assert_string_equal(text, "becomes leader in term 1 (votes from a majority; last entry (0,0))");
    raft_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vote_denied_log_behind),
        cmocka_unit_test(test_vote_denied_already_voted),
        cmocka_unit_test(test_prevote_denied_leader_heard),
        cmocka_unit_test(test_append_rejected_conflict_and_missing),
        cmocka_unit_test(test_commit_advanced),
        cmocka_unit_test(test_election_roles_in_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
