/* tests/sim/sim_script_world.c — the world of a scripted scenario
 * (raft-sim --script): building the cluster, carrying out Ready batches,
 * delivering or dropping the messages in flight, ticking chosen clocks, and
 * which trace events a transcript shows. The commands (sim_script.c) call
 * these; nothing here moves unless a command asks. */
#include "tests/sim/sim_script_int.h"

#include <stdlib.h>
#include <string.h>

/* stabilize gives up after this many delivery rounds (a livelock). */
#define STABILIZE_ROUNDS 1000

static const struct sim_scenario script_scenario = {
    .name = "script",
    .what = "raft-sim --script: only what the script does",
};

/* ---- what a command prints ------------------------------------------------ */

static bool is_heartbeat(const struct sim_trace_event *e)
{
    return e->kind != SIM_EV_NOTE && (e->msg.shape == SIM_SHAPE_HEARTBEAT ||
                                      e->msg.shape == SIM_SHAPE_HEARTBEAT_RESP);
}

/* The trace sink: which events a script shows. Every message is shown once,
 * when it is sent; a delivery is shown only when the message did not
 * simply arrive (lost to a cut link or a down node). Lines are formatted by
 * sim_trace_print, the one place the trace format lives. */
static void script_event(void *ctx, const struct sim_trace_event *e)
{
    struct script *s = ctx;
    if (!s->out || (is_heartbeat(e) && !s->heartbeats))
        return;
    if (e->kind == SIM_EV_DELIVER && strcmp(e->outcome, "delivered") == 0)
        return;
    sim_trace_print(e, s->out);
}

/* ---- the world ------------------------------------------------------------ */

void script_world_free(struct script *s)
{
    struct sim_world *w = s->w;
    if (!w)
        return;
    for (int i = 0; i < w->n; i++)
        sim_node_destroy(&w->nodes[i]);
    sim_net_destroy(&w->net);
    sim_check_free(&w->chk);
    free(w);
    s->w = NULL;
}

bool script_node_start(struct script *s, struct sim_node *nd, int voters)
{
    struct sim_world *w = s->w;
    raft_members_t keep = w->base_opts.bootstrap;
    /* A node outside the founding voters starts empty and learns the
     * configuration from a leader once added (thesis §4.2.1). */
    if (nd->slot >= voters)
        memset(&w->base_opts.bootstrap, 0, sizeof w->base_opts.bootstrap);
    bool ok = sim_node_start(w, nd);
    w->base_opts.bootstrap = keep;
    s->commit[nd->slot] = ok ? raft_commit(nd->r) : 0;
    return ok;
}

/* Role changes are printed when seen, which is before the messages they
 * cause leave (those wait for the next Ready batch). */
static void note_role(struct script *s, struct sim_node *nd)
{
    struct sim_world *w = s->w;
    raft_role_t role = raft_role(nd->r);
    raft_term_t term = raft_term(nd->r);
    if (role != nd->last_role || (role == RAFT_CANDIDATE && term != nd->last_term))
        sim_trace_note(&w->trace, w->now, nd->slot, "becomes %s in term %llu (last index %llu)",
                       raft_role_name(role), (unsigned long long)term,
                       (unsigned long long)raft_last_index(nd->r));
    nd->last_role = role;
    nd->last_term = term;
}

static void note_commit(struct script *s, struct sim_node *nd)
{
    raft_index_t c = raft_commit(nd->r);
    if (c != s->commit[nd->slot])
        sim_trace_note(&s->w->trace, s->w->now, nd->slot, "commit advanced to %llu",
                       (unsigned long long)c);
    s->commit[nd->slot] = c;
}

/* What sim_run.c checks after every step: the core's invariants, Election
 * Safety and Leader Completeness. */
static void check_node(struct script *s, struct sim_node *nd)
{
    struct sim_world *w = s->w;
    const char *broken = raft_check_invariants(nd->r);
    if (broken) {
        sim_check_fail(&w->chk, "Core invariant", "n%d: %s", nd->slot + 1, broken);
        return;
    }
    if (raft_role(nd->r) != RAFT_LEADER)
        return;
    sim_check_leader(&w->chk, nd->slot, raft_term(nd->r));
    sim_check_leader_log(&w->chk, nd->slot, nd->r, 1);
}

/* Carries out every node's Ready batches (persist, send, apply, advance). */
void script_process_all(struct script *s)
{
    struct sim_world *w = s->w;
    for (int i = 0; i < w->n && !w->chk.failed; i++) {
        struct sim_node *nd = &w->nodes[i];
        if (!nd->up)
            continue;
        note_role(s, nd);
        note_commit(s, nd);
        sim_node_process(w, nd);
        if (w->chk.failed || !nd->up)
            continue;
        note_role(s, nd);
        note_commit(s, nd);
        check_node(s, nd);
    }
}

static bool any_ready(const struct sim_world *w)
{
    for (int i = 0; i < w->n; i++)
        if (w->nodes[i].up && raft_has_ready(w->nodes[i].r))
            return true;
    return false;
}

static bool filter_match(const struct msg_filter *f, const struct sim_packet *p)
{
    return (f->from < 0 || f->from == p->from) && (f->to < 0 || f->to == p->to);
}

/* Takes every message in flight now; those matching f are delivered
 * (deliver) or dropped (!deliver), the others go back. Returns how many
 * matched. Messages sent meanwhile wait for the next round. */
size_t script_deliver_round(struct script *s, const struct msg_filter *f, bool deliver)
{
    struct sim_world *w = s->w;
    size_t n = sim_net_in_flight(&w->net), matched = 0;
    if (n == 0)
        return 0;
    struct sim_packet *all = malloc(n * sizeof *all);
    if (!all) {
        fprintf(stderr, "raft-sim: out of memory\n");
        abort();
    }
    size_t got = 0;
    while (got < n && sim_net_pop_due(&w->net, UINT64_MAX, &all[got]))
        got++;
    for (size_t i = 0; i < got; i++) {
        struct sim_packet *p = &all[i];
        if (!filter_match(f, p) || w->chk.failed) {
            sim_net_requeue(&w->net, p);
            continue;
        }
        matched++;
        struct sim_msg_view v;
        sim_msg_view(p->payload, &v);
        if (!deliver) {
            sim_trace_message(&w->trace, w->now, SIM_EV_DELIVER, p->from, p->to, &v,
                              "dropped by the script", 0);
            sim_msg_free(p->payload);
        } else if (!sim_net_link_up(&w->net, p->from, p->to)) {
            sim_trace_message(&w->trace, w->now, SIM_EV_DELIVER, p->from, p->to, &v,
                              "lost: link cut", 0);
            sim_msg_free(p->payload);
        } else {
            sim_node_receive(w, &w->nodes[p->to], p->from, p->payload);
        }
    }
    free(all);
    script_process_all(s);
    return matched;
}

/* Delivers until no message is in flight and no core has work left. */
void script_stabilize(struct script *s)
{
    struct sim_world *w = s->w;
    struct msg_filter any = { -1, -1 };
    script_process_all(s);
    for (int round = 0; round < STABILIZE_ROUNDS && !w->chk.failed; round++) {
        if (sim_net_in_flight(&w->net) == 0 && !any_ready(w))
            return;
        script_deliver_round(s, &any, true);
    }
    if (!w->chk.failed)
        fprintf(s->out, "stabilize: still busy after %d rounds\n", STABILIZE_ROUNDS);
}

/* One tick of the clock for the given nodes (mask of slots). */
void script_tick_nodes(struct script *s, unsigned mask)
{
    struct sim_world *w = s->w;
    w->now++;
    for (int i = 0; i < w->n; i++)
        if (mask & (1u << i))
            sim_node_tick(w, &w->nodes[i]);
    script_process_all(s);
}

/* A new cluster as `start` describes it (any previous one is freed).
 * False if a server cannot start (a check failure says why). */
bool script_world_create(struct script *s, const struct script_setup *set)
{
    script_world_free(s);
    struct sim_world *w = calloc(1, sizeof *w);
    if (!w) {
        fprintf(stderr, "raft-sim: out of memory\n");
        abort();
    }
    s->w = w;
    s->opt = (struct sim_options){ .seed = set->seed, .nodes = (int)set->nodes,
                                   .steps = UINT64_MAX, .bugs = s->bugs, .out = stdout };
    w->opt = &s->opt;
    w->sc = script_scenario;
    w->n = (int)set->nodes;
    sim_rng_seed(&w->rng, set->seed);
    sim_rng_seed(&w->garbage_rng, set->seed);
    sim_net_init(&w->net, w->n, &w->rng, sim_msg_free, sim_msg_clone);
    w->net.fifo = true;
    sim_trace_init(&w->trace, false, NULL);
    w->trace.sink = script_event;
    w->trace.sink_ctx = s;
    sim_check_init(&w->chk);
    sim_clients_init(w);
    raft_options_t *o = &w->base_opts;
    raft_options_init(o);
    o->bootstrap.n_voters = (uint32_t)set->voters;
    for (uint64_t i = 0; i < set->voters; i++)
        o->bootstrap.voters[i] = (raft_id_t)i + 1;
    o->election_ticks = SIM_ELECTION_TICKS;
    o->heartbeat_ticks = SIM_HEARTBEAT_TICKS;
    o->max_entries_per_msg = (uint32_t)set->batch;
    o->max_inflight = (uint32_t)set->inflight;
    o->pre_vote = set->prevote;
    o->check_quorum = set->checkquorum;
    o->snapshot_chunk_bytes = 4096;
    o->bugs = s->bugs;
    for (int i = 0; i < w->n; i++) {
        sim_node_init(w, &w->nodes[i], i);
        if (!script_node_start(s, &w->nodes[i], (int)set->voters))
            return false;
    }
    return true;
}
