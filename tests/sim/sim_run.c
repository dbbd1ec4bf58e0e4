/* tests/sim/sim_run.c — one run: build the cluster, drive it tick by tick,
 * check after every tick, check liveness in the quiet phase, and on failure
 * print the seed, the property, the cluster's state, the trace tail and the
 * command that replays it. Ownership: everything allocated for a run lives
 * in its struct sim_world and is freed before sim_run returns. */
#include "tests/sim/sim_world.h"

#include <stdlib.h>
#include <string.h>

/* A leader must exist within this many ticks of the quiet phase starting
 * (restarts, pre-vote and an election or two fit well inside). */
#define LIVENESS_LEADER_TICKS (30 * SIM_ELECTION_TICKS)
/* Chance per tick that a node's clock skips a tick (clock drift). */
#define CLOCK_SKIP_PPM 20000

static const struct {
    raft_bug_t bug;
    const char *name;
} bug_names[] = {
    { RAFT_BUG_COMMIT_OLD_TERM, "commit-old-term" },
    { RAFT_BUG_VOTE_ANY_LOG, "vote-any-log" },
    { RAFT_BUG_FORGET_VOTE, "forget-vote" },
    { RAFT_BUG_READ_NO_QUORUM, "read-no-quorum" },
    { RAFT_BUG_PREVOTE_IS_VOTE, "prevote-is-vote" },
    { RAFT_BUG_SKIP_LOG_MATCH, "skip-log-match" },
};

const char *sim_bug_name(raft_bug_t bug)
{
    for (size_t i = 0; i < sizeof bug_names / sizeof bug_names[0]; i++)
        if (bug_names[i].bug == bug)
            return bug_names[i].name;
    return NULL;
}

raft_bug_t sim_bug_parse(const char *name)
{
    for (size_t i = 0; i < sizeof bug_names / sizeof bug_names[0]; i++)
        if (strcmp(bug_names[i].name, name) == 0)
            return bug_names[i].bug;
    return RAFT_BUG_NONE;
}

void sim_print_replay(FILE *out, const struct sim_options *o)
{
    fprintf(out, "build/tests/raft-sim --seed %llu --nodes %d --steps %llu --scenario %s",
            (unsigned long long)o->seed, o->nodes, (unsigned long long)o->steps,
            sim_scenarios[o->scenario].name);
    for (size_t i = 0; i < sizeof bug_names / sizeof bug_names[0]; i++)
        if (o->bugs & bug_names[i].bug)
            fprintf(out, " --bug %s", bug_names[i].name);
    fputc('\n', out);
}

/* ---- setup and teardown -------------------------------------------------- */

static void setup_core_options(struct sim_world *w)
{
    raft_options_t *o = &w->base_opts;
    raft_options_init(o);
    o->bootstrap.n_voters = (uint32_t)w->n;
    for (int i = 0; i < w->n; i++)
        o->bootstrap.voters[i] = (raft_id_t)i + 1;
    o->election_ticks = SIM_ELECTION_TICKS;
    o->heartbeat_ticks = SIM_HEARTBEAT_TICKS;
    /* Vary the knobs per seed: batching, pipelining and chunking each have
     * their own corner cases (one entry per message, one message in flight,
     * a snapshot in many chunks). */
    static const uint32_t batch[] = { 1, 4, 64 };
    static const uint32_t window[] = { 1, 4, 16 };
    o->max_entries_per_msg = batch[sim_rng_below(&w->rng, 3)];
    if (w->sc.max_entries_per_msg)
        o->max_entries_per_msg = w->sc.max_entries_per_msg;
    /* PreVote and CheckQuorum are on in production; turning them off now
     * and then keeps the plain §5.2 election paths covered too. */
    o->pre_vote = !w->sc.plain_elections && !sim_rng_chance(&w->rng, 150000);
    o->check_quorum = !w->sc.plain_elections && !sim_rng_chance(&w->rng, 150000);
    o->max_inflight = window[sim_rng_below(&w->rng, 3)];
    o->snapshot_chunk_bytes = sim_rng_chance(&w->rng, 500000) ? 64 : 4096;
    o->bugs = w->opt->bugs;
}

/* --columns: each node's state after the tick of an echoed line, e.g.
 * "L t3 v1 c7     | F t3 v1 c7     | down           | ": role (Follower,
 * Pre-candidate, Candidate, Leader), term, vote, commit index. */
static void state_columns(void *ctx, char *buf, size_t len)
{
    const struct sim_world *w = ctx;
    size_t at = 0;
    buf[0] = '\0';
    for (int i = 0; i < w->n && at < len; i++) {
        const struct sim_node *nd = &w->nodes[i];
        char c[48] = "down";
        if (nd->up && nd->r)
            snprintf(c, sizeof c, "%c t%llu v%llu c%llu", "FPCL"[raft_role(nd->r)],
                     (unsigned long long)raft_term(nd->r),
                     (unsigned long long)raft_vote(nd->r),
                     (unsigned long long)raft_commit(nd->r));
        int k = snprintf(buf + at, len - at, "%-15s| ", c);
        if (k < 0)
            break;
        at += (size_t)k;
    }
}

static void world_init(struct sim_world *w, const struct sim_options *o)
{
    memset(w, 0, sizeof *w);
    w->opt = o;
    w->sc = sim_scenarios[o->scenario];
    w->n = o->nodes;
    sim_rng_seed(&w->rng, o->seed);
    sim_rng_seed(&w->garbage_rng, o->seed ^ 0x6a7ba6e5a5a5a5a5ull);
    sim_net_init(&w->net, w->n, &w->rng, sim_msg_free, sim_msg_clone);
    w->net.faults = (struct sim_net_faults){ w->sc.drop_ppm, w->sc.dup_ppm, w->sc.delay_min,
                                             w->sc.delay_max };
    sim_trace_init(&w->trace, o->echo, o->out);
    w->trace.hide = o->hide;
    w->trace.node = o->only_node;
    if (o->columns) {
        w->trace.columns = state_columns;
        w->trace.columns_ctx = w;
    }
    sim_check_init(&w->chk);
    uint64_t quiet_len = o->steps >= 2000 ? (o->steps / 10 > 1000 ? o->steps / 10 : 1000)
                                          : o->steps / 2;
    w->quiet_from = o->steps - quiet_len + 1;
    if (w->sc.snapshot_every)
        w->snapshot_every = sim_rng_range(&w->rng, w->sc.snapshot_every / 2 + 1,
                                          w->sc.snapshot_every * 3 / 2);
    setup_core_options(w);
    sim_clients_init(w);
    for (int i = 0; i < w->n; i++)
        sim_node_init(w, &w->nodes[i], i);
}

static void world_free(struct sim_world *w)
{
    for (int i = 0; i < w->n; i++)
        sim_node_destroy(&w->nodes[i]);
    sim_net_destroy(&w->net);
    sim_check_free(&w->chk);
}

/* ---- one tick ------------------------------------------------------------ */

static void deliver_due_packets(struct sim_world *w)
{
    struct sim_packet p;
    while (!w->chk.failed && sim_net_pop_due(&w->net, w->now, &p)) {
        if (!sim_net_link_up(&w->net, p.from, p.to)) {
            struct sim_msg_view v;
            sim_msg_view(p.payload, &v);
            sim_trace_message(&w->trace, w->now, SIM_EV_DELIVER, p.from, p.to, &v,
                              "lost: link cut", 0);
            sim_msg_free(p.payload);
            continue;
        }
        sim_node_receive(w, &w->nodes[p.to], p.from, p.payload);
    }
}

static void tick_clocks(struct sim_world *w)
{
    for (int i = 0; i < w->n; i++)
        if (!sim_rng_chance(&w->rng, CLOCK_SKIP_PPM))
            sim_node_tick(w, &w->nodes[i]);
}

static void note_role_change(struct sim_world *w, struct sim_node *nd)
{
    raft_role_t role = raft_role(nd->r);
    raft_term_t term = raft_term(nd->r);
    if (role == nd->last_role && term == nd->last_term)
        return;
    /* The core itself reports role changes (raft_options.trace). */
    if (role == RAFT_LEADER && (role != nd->last_role || term != nd->last_term)) {
        w->stats.leaders++;
        /* Figure 8 needs leaders that die right after their election, with
         * their first entries on only some followers. */
        if (!w->quiet && w->sc.leader_kill_ppm && sim_rng_chance(&w->rng, w->sc.leader_kill_ppm))
            nd->kill_at = w->now + sim_rng_range(&w->rng, 1, 20);
    }
    nd->last_role = role;
    nd->last_term = term;
    if (term > w->stats.max_term)
        w->stats.max_term = term;
}

static void check_node(struct sim_world *w, struct sim_node *nd)
{
    const char *broken = raft_check_invariants(nd->r);
    if (broken) {
        sim_check_fail(&w->chk, "Core invariant", "n%d: %s", nd->slot + 1, broken);
        return;
    }
    note_role_change(w, nd);
    if (raft_role(nd->r) != RAFT_LEADER)
        return;
    raft_term_t term = raft_term(nd->r);
    sim_check_leader(&w->chk, nd->slot, term);
    if (nd->checked_leader_term != term) {
        nd->checked_leader_term = term;
        nd->checked_from = 1;
    }
    /* Leader Completeness, incrementally: each newly committed index is
     * checked against every leader of a later term once. */
    sim_check_leader_log(&w->chk, nd->slot, nd->r, nd->checked_from);
    nd->checked_from = w->chk.max_committed + 1;
}

static bool leader_is_voter(const struct sim_node *nd)
{
    return raft_members_is_voter(raft_members(nd->r), nd->id);
}

static void check_liveness(struct sim_world *w)
{
    if (!w->quiet)
        return;
    if (!w->leader_seen_in_quiet) {
        struct sim_node *l = sim_find_leader(w);
        if (l && leader_is_voter(l))
            w->leader_seen_in_quiet = w->now;
        else if (w->now >= w->quiet_from + LIVENESS_LEADER_TICKS)
            sim_check_fail(&w->chk, "Liveness",
                           "no leader %d ticks after the faults healed (tick %llu)",
                           LIVENESS_LEADER_TICKS, (unsigned long long)w->quiet_from);
    }
}

static void step_once(struct sim_world *w)
{
    if (w->now == w->quiet_from)
        sim_faults_quiet(w);
    sim_faults_step(w);
    if (w->chk.failed)
        return;
    sim_clients_step(w);
    deliver_due_packets(w);
    sim_garbage_step(w);
    tick_clocks(w);
    for (int i = 0; i < w->n && !w->chk.failed; i++)
        sim_node_process(w, &w->nodes[i]);
    for (int i = 0; i < w->n && !w->chk.failed; i++) {
        struct sim_node *nd = &w->nodes[i];
        if (!nd->up)
            continue;
        check_node(w, nd);
        sim_node_maybe_snapshot(w, nd);
    }
    check_liveness(w);
}

/* ---- the end of a run ---------------------------------------------------- */

/* Every write a client saw succeed is in the state machine of every member
 * of the final configuration, and nothing a client was waiting for is left. */
static void check_final(struct sim_world *w)
{
    if (!sim_clients_all_done(w)) {
        for (int i = 0; i < SIM_CLIENTS; i++) {
            const struct sim_client *c = &w->clients[i];
            if (c->state == SIM_CLIENT_WRITING) {
                sim_check_fail(&w->chk, "Liveness",
                               "client %u's write seq=%llu never committed (%llu attempts) "
                               "in the %llu quiet ticks",
                               c->id, (unsigned long long)c->cmd.seq,
                               (unsigned long long)c->attempts,
                               (unsigned long long)(w->opt->steps - w->quiet_from + 1));
                return;
            }
        }
    }
    struct sim_node *l = sim_find_leader(w);
    if (!l) {
        sim_check_fail(&w->chk, "Liveness", "no leader at the end of the quiet phase");
        return;
    }
    const raft_members_t *m = raft_members(l->r);
    for (int i = 0; i < w->n; i++) {
        struct sim_node *nd = &w->nodes[i];
        if (!raft_members_is_voter(m, nd->id) && !raft_members_is_learner(m, nd->id))
            continue;
        if (nd->sm.applied < w->chk.acked_max_index) {
            sim_check_fail(&w->chk, "Liveness",
                           "n%d (a member) never caught up in the quiet phase: applied %llu, "
                           "a write was acknowledged at %llu",
                           nd->slot + 1, (unsigned long long)nd->sm.applied,
                           (unsigned long long)w->chk.acked_max_index);
            return;
        }
        for (int c = 0; c < SIM_CLIENTS; c++) {
            const struct sim_client *cl = &w->clients[c];
            if (nd->sm.sessions[cl->id].last_seq >= cl->acked_seq)
                continue;
            sim_check_fail(&w->chk, "Acknowledged Write Lost",
                           "client %u's write seq=%llu (acknowledged at index %llu) is not in "
                           "n%d's state machine at the end (it applied up to %llu)",
                           cl->id, (unsigned long long)cl->acked_seq,
                           (unsigned long long)cl->acked_index, nd->slot + 1,
                           (unsigned long long)nd->sm.applied);
            return;
        }
    }
}

static void print_cluster(struct sim_world *w, FILE *out)
{
    for (int i = 0; i < w->n; i++) {
        struct sim_node *nd = &w->nodes[i];
        if (!nd->up) {
            fprintf(out, "  n%d: DOWN (durable term=%llu vote=%llu, log %llu..%llu)\n", i + 1,
                    (unsigned long long)nd->disk.hs.term, (unsigned long long)nd->disk.hs.vote,
                    (unsigned long long)nd->disk.snap.index,
                    (unsigned long long)(nd->disk.snap.index + nd->disk.n));
            continue;
        }
        fprintf(out,
                "  n%d: %-12s term=%llu vote=%llu leader=%llu commit=%llu applied=%llu "
                "log=%llu..%llu%s\n",
                i + 1, raft_role_name(raft_role(nd->r)), (unsigned long long)raft_term(nd->r),
                (unsigned long long)raft_vote(nd->r), (unsigned long long)raft_leader(nd->r),
                (unsigned long long)raft_commit(nd->r), (unsigned long long)nd->sm.applied,
                (unsigned long long)raft_first_index(nd->r),
                (unsigned long long)raft_last_index(nd->r), nd->busy ? " (persisting)" : "");
    }
}

static void report_failure(struct sim_world *w, const struct sim_options *o)
{
    FILE *out = o->out;
    fprintf(out, "\nraft-sim: FAILED seed=%llu scenario=%s nodes=%d at tick %llu",
            (unsigned long long)o->seed, sim_scenarios[o->scenario].name, o->nodes,
            (unsigned long long)w->now);
    if (o->bugs)
        fprintf(out, " (deliberately broken core)");
    fprintf(out, "\n  property: %s\n  detail:   %s\n", w->chk.property, w->chk.detail);
    fprintf(out, "  cluster:\n");
    print_cluster(w, out);
    if (o->report_trace && !o->echo) {
        fprintf(out, "  last %d trace lines:\n", SIM_TRACE_KEEP);
        sim_trace_dump(&w->trace, out, SIM_TRACE_KEEP);
    }
    fprintf(out, "  replay: ");
    sim_print_replay(out, o);
}

bool sim_run(const struct sim_options *o, struct sim_result *res)
{
    struct sim_world *w = calloc(1, sizeof *w);
    if (!w) {
        fprintf(stderr, "raft-sim: out of memory\n");
        abort();
    }
    world_init(w, o);
    sim_trace_note(&w->trace, 0, -1, "run seed=%llu scenario=%s nodes=%d steps=%llu quiet from %llu",
                   (unsigned long long)o->seed, w->sc.name, w->n, (unsigned long long)o->steps,
                   (unsigned long long)w->quiet_from);
    sim_trace_note(&w->trace, 0, -1,
                   "core options: pre_vote=%d check_quorum=%d max_entries_per_msg=%u "
                   "max_inflight=%u snapshot_chunk_bytes=%zu snapshot every ~%u applied",
                   w->base_opts.pre_vote, w->base_opts.check_quorum,
                   w->base_opts.max_entries_per_msg, w->base_opts.max_inflight,
                   w->base_opts.snapshot_chunk_bytes, w->snapshot_every);
    for (int i = 0; i < w->n && !w->chk.failed; i++)
        sim_node_start(w, &w->nodes[i]);
    for (w->now = 1; w->now <= o->steps && !w->chk.failed; w->now++) {
        step_once(w);
        if (w->chk.failed)
            break;
    }
    if (!w->chk.failed) {
        w->now = o->steps;
        check_final(w);
    }
    memset(res, 0, sizeof *res);
    res->ok = !w->chk.failed;
    res->fail_tick = w->now;
    memcpy(res->property, w->chk.property, sizeof res->property);
    memcpy(res->detail, w->chk.detail, sizeof res->detail);
    res->stats = w->stats;
    if (!res->ok)
        report_failure(w, o);
    world_free(w);
    free(w);
    return res->ok;
}
