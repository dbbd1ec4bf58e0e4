/* tests/sim/sim_garbage.c — a Byzantine peer that only says impossible
 * things (issue #12: no frame can break Raft).
 *
 * Each tick, with GARBAGE_PPM chance, a message no honest peer could send
 * is stepped straight into a random live core that accepts input, posing as
 * another member: a term at or above 2^63 (the forged heartbeat with term
 * 2^64-1 that once left a cluster leaderless for good), indexes past the
 * limit, entries of a term above the message's or going down, a snapshot
 * without voters, replies with impossible indexes. The core must refuse it
 * (RAFT_EINVAL) and change nothing: term, vote, role, leader, commit and
 * last index stay as they were ("Hostile input" otherwise).
 *
 * The garbage is drawn from its own generator, seeded from the run's seed,
 * and a refused message changes no state, so a run with the peer is the
 * same run as without it. Well-formed forgeries (a plausible leader of a
 * higher term) are out of scope: only authentication stops those. */
#include "tests/sim/sim_world.h"

#define GARBAGE_PPM 20000
#define GARBAGE_KINDS 9

struct core_view {
    raft_term_t term;
    raft_id_t vote, leader;
    raft_role_t role;
    raft_index_t commit, last;
};

static struct core_view view_of(const raft_t *r)
{
    return (struct core_view){ raft_term(r), raft_vote(r), raft_leader(r), raft_role(r),
                               raft_commit(r), raft_last_index(r) };
}

static bool same_view(const struct core_view *a, const struct core_view *b)
{
    return a->term == b->term && a->vote == b->vote && a->leader == b->leader &&
           a->role == b->role && a->commit == b->commit && a->last == b->last;
}

static raft_term_t huge_term(struct sim_rng *g)
{
    return sim_rng_chance(g, 500000) ? UINT64_MAX
                                     : RAFT_TERM_LIMIT + sim_rng_below(g, 1000);
}

/* Fills m with garbage of the given kind for core r; entries points to two
 * caller-owned entries. */
static void make_garbage(struct sim_rng *g, int kind, const raft_t *r, raft_msg_t *m,
                         raft_entry_t *entries)
{
    raft_term_t t = raft_term(r) ? raft_term(r) : 1;
    raft_index_t last = raft_last_index(r);
    switch (kind) {
    case 0: /* the heartbeat of issue #12 */
        m->type = RAFT_MSG_HEARTBEAT;
        m->term = huge_term(g);
        m->u.heartbeat.commit = raft_commit(r);
        break;
    case 1: /* a vote or pre-vote asking for a term past the limit */
        m->type = RAFT_MSG_VOTE;
        m->term = huge_term(g);
        m->u.vote.prevote = sim_rng_chance(g, 500000);
        m->u.vote.last_index = last + 100;
        m->u.vote.last_term = t;
        break;
    case 2: /* an entry of a term above the message's */
    case 3: /* entry terms going down (below prev_term) */
        m->type = RAFT_MSG_APPEND;
        m->term = t;
        m->u.append.prev_index = last;
        m->u.append.prev_term = raft_log_term(r, last);
        m->u.append.commit = last + 2;
        entries[0] = (raft_entry_t){ .term = t, .index = last + 1, .type = RAFT_ENTRY_NOOP };
        entries[1] = (raft_entry_t){ .term = kind == 2 ? t + 1 : t - 1, .index = last + 2,
                                     .type = RAFT_ENTRY_NOOP };
        m->u.append.entries = entries;
        m->u.append.n_entries = 2;
        break;
    case 4: /* indexes that would wrap */
        m->type = RAFT_MSG_APPEND;
        m->term = t;
        m->u.append.prev_index = UINT64_MAX - sim_rng_below(g, 2);
        m->u.append.prev_term = t;
        entries[0] = (raft_entry_t){ .term = t, .index = m->u.append.prev_index + 1,
                                     .type = RAFT_ENTRY_NOOP };
        m->u.append.entries = entries;
        m->u.append.n_entries = 1;
        break;
    case 5: /* a snapshot that would wipe the node: no voters */
        m->type = RAFT_MSG_SNAPSHOT;
        m->term = t;
        m->u.snapshot.index = raft_commit(r) + 10;
        m->u.snapshot.term = t;
        m->u.snapshot.members.n_learners = 1;
        m->u.snapshot.members.learners[0] = m->from;
        m->u.snapshot.total_len = 1;
        m->u.snapshot.data = (const uint8_t *)"x";
        m->u.snapshot.len = 1;
        m->u.snapshot.last = true;
        break;
    case 6: /* a snapshot of a term above the message's */
        m->type = RAFT_MSG_SNAPSHOT;
        m->term = t;
        m->u.snapshot.index = raft_commit(r) + 10;
        m->u.snapshot.term = t + 1 + sim_rng_below(g, 5);
        m->u.snapshot.members = *raft_members(r);
        m->u.snapshot.total_len = 1;
        m->u.snapshot.data = (const uint8_t *)"x";
        m->u.snapshot.len = 1;
        m->u.snapshot.last = true;
        break;
    case 7: /* a success reply claiming an index past the limit */
        m->type = RAFT_MSG_APPEND_RESP;
        m->term = t;
        m->u.append_resp.success = true;
        m->u.append_resp.index = RAFT_INDEX_LIMIT + sim_rng_below(g, 1000);
        break;
    default: /* a heartbeat committing past the limit */
        m->type = RAFT_MSG_HEARTBEAT;
        m->term = t;
        m->u.heartbeat.commit = UINT64_MAX - sim_rng_below(g, 1000);
        break;
    }
}

static raft_id_t other_member(struct sim_rng *g, const struct sim_world *w, int slot)
{
    int other = (slot + 1 + (int)sim_rng_below(g, (uint32_t)w->n - 1)) % w->n;
    return (raft_id_t)other + 1;
}

void sim_garbage_step(struct sim_world *w)
{
    struct sim_rng *g = &w->garbage_rng;
    if (!sim_rng_chance(g, GARBAGE_PPM))
        return;
    int slot = (int)sim_rng_below(g, (uint32_t)w->n);
    int kind = (int)sim_rng_below(g, GARBAGE_KINDS);
    struct sim_node *nd = &w->nodes[slot];
    if (!sim_node_ready_for_input(nd))
        return;
    raft_msg_t m = { .from = other_member(g, w, slot), .to = nd->id };
    raft_entry_t entries[2];
    make_garbage(g, kind, nd->r, &m, entries);
    struct core_view before = view_of(nd->r);
    int rc = raft_step(nd->r, &m);
    struct core_view after = view_of(nd->r);
    w->stats.garbage++;
    if (rc != RAFT_EINVAL || !same_view(&before, &after)) {
        char line[160];
        sim_check_fail(&w->chk, "Hostile input",
                       "n%d took an impossible message (kind %d, rc %d): %s; term %llu -> %llu, "
                       "commit %llu -> %llu, last %llu -> %llu",
                       slot + 1, kind, rc, raft_msg_format(&m, line, sizeof line),
                       (unsigned long long)before.term, (unsigned long long)after.term,
                       (unsigned long long)before.commit, (unsigned long long)after.commit,
                       (unsigned long long)before.last, (unsigned long long)after.last);
    }
}
