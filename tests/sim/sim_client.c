/* tests/sim/sim_client.c — clients that write and read through any node.
 *
 * Each client has at most one operation outstanding. A write carries the
 * client's id and next sequence number (thesis §6.3); it is submitted to the
 * node the client believes leads (or a random one), redirected on
 * RAFT_ENOTLEADER, and resubmitted with the SAME sequence number after a
 * timeout, so a write whose first attempt did commit must be deduplicated by
 * the state machine. It is acknowledged when the node it was last submitted
 * to applies it. A read is a ReadIndex request at a random node (a follower
 * forwards it); the acknowledged-write floor is noted when it starts, and the
 * checker compares it with the state the read is served from. A read that
 * times out is abandoned (the core promises no answer if a message is lost). */
#include "tests/sim/sim_world.h"

#define WRITE_TIMEOUT 40
#define READ_TIMEOUT 40
#define REDIRECT_DELAY 2

void sim_clients_init(struct sim_world *w)
{
    for (int i = 0; i < SIM_CLIENTS; i++) {
        struct sim_client *c = &w->clients[i];
        *c = (struct sim_client){ .id = (uint32_t)i + 1, .node = -1, .leader_hint = -1,
                                  .read_node = -1 };
    }
}

static int pick_node(struct sim_world *w, struct sim_client *c)
{
    if (c->leader_hint >= 0 && !sim_rng_chance(&w->rng, 100000))
        return c->leader_hint;
    return (int)sim_rng_below(&w->rng, (uint32_t)w->n);
}

static void submit_write(struct sim_world *w, struct sim_client *c)
{
    int slot = pick_node(w, c);
    struct sim_node *nd = &w->nodes[slot];
    c->attempts++;
    if (!sim_node_ready_for_input(nd)) {
        c->leader_hint = -1;
        c->deadline = w->now + REDIRECT_DELAY;
        return;
    }
    uint8_t data[SIM_CMD_BYTES];
    sim_cmd_encode(&c->cmd, data);
    raft_index_t index = 0;
    int rc = raft_propose(nd->r, data, sizeof data, &index);
    if (rc == RAFT_OK) {
        c->node = slot;
        c->submitted = true;
        c->leader_hint = slot;
        c->deadline = w->now + WRITE_TIMEOUT + sim_rng_below(&w->rng, WRITE_TIMEOUT);
        sim_trace_note(&w->trace, w->now, slot,
                       "client %u proposes seq=%llu key=%u value=%llu at index %llu (try %llu)",
                       c->id, (unsigned long long)c->cmd.seq, c->cmd.key,
                       (unsigned long long)c->cmd.value, (unsigned long long)index,
                       (unsigned long long)c->attempts);
        return;
    }
    raft_id_t hint = rc == RAFT_ENOTLEADER ? raft_leader(nd->r) : 0;
    c->leader_hint = hint >= 1 && hint <= (raft_id_t)w->n ? (int)hint - 1 : -1;
    c->deadline = w->now + REDIRECT_DELAY;
}

static void start_write(struct sim_world *w, struct sim_client *c)
{
    c->state = SIM_CLIENT_WRITING;
    c->cmd.client = c->id;
    c->cmd.seq = c->acked_seq + 1;
    c->cmd.key = (uint8_t)sim_rng_below(&w->rng, SIM_KEYS);
    c->cmd.value = sim_rng_next(&w->rng) >> 16;
    c->submitted = false;
    c->node = -1;
    c->attempts = 0;
    submit_write(w, c);
}

static void start_read(struct sim_world *w, struct sim_client *c)
{
    int slot = (int)sim_rng_below(&w->rng, (uint32_t)w->n);
    struct sim_node *nd = &w->nodes[slot];
    if (!sim_node_ready_for_input(nd))
        return;
    uint64_t ctx = ++w->next_ctx;
    if (raft_read_index(nd->r, ctx) != RAFT_OK)
        return;
    c->state = SIM_CLIENT_READING;
    c->read_ctx = ctx;
    c->read_node = slot;
    c->read_floor = w->chk.acked_max_index;
    c->deadline = w->now + READ_TIMEOUT;
    sim_trace_note(&w->trace, w->now, slot, "client %u asks read ctx=%llu (floor %llu)", c->id,
                   (unsigned long long)ctx, (unsigned long long)c->read_floor);
}

void sim_clients_step(struct sim_world *w)
{
    for (int i = 0; i < SIM_CLIENTS; i++) {
        struct sim_client *c = &w->clients[i];
        switch (c->state) {
        case SIM_CLIENT_IDLE:
            if (w->quiet)
                break; /* the quiet phase only finishes what is pending */
            if (sim_rng_chance(&w->rng, w->sc.propose_ppm))
                start_write(w, c);
            else if (sim_rng_chance(&w->rng, w->sc.read_ppm))
                start_read(w, c);
            break;
        case SIM_CLIENT_WRITING:
            if (w->now >= c->deadline)
                submit_write(w, c);
            break;
        case SIM_CLIENT_READING:
            if (w->now >= c->deadline)
                c->state = SIM_CLIENT_IDLE;
            break;
        }
    }
}

void sim_clients_on_apply(struct sim_world *w, struct sim_node *nd,
                          const struct sim_apply_result *res)
{
    if (res->cmd.client < 1 || res->cmd.client > SIM_CLIENTS)
        return;
    struct sim_client *c = &w->clients[res->cmd.client - 1];
    if (c->state != SIM_CLIENT_WRITING || !c->submitted ||
        c->node != nd->slot || res->cmd.seq != c->cmd.seq)
        return;
    if (res->effective_index == 0) {
        sim_check_fail(&w->chk, "At-Most-Once", "n%d lost track of client %u seq %llu",
                       nd->slot + 1, c->id, (unsigned long long)c->cmd.seq);
        return;
    }
    c->acked_seq = c->cmd.seq;
    c->acked_index = res->effective_index;
    c->state = SIM_CLIENT_IDLE;
    sim_check_acked(&w->chk, res->effective_index);
    w->stats.writes_acked++;
    sim_trace_note(&w->trace, w->now, nd->slot, "client %u acknowledged seq=%llu at index %llu%s",
                   c->id, (unsigned long long)c->cmd.seq,
                   (unsigned long long)res->effective_index,
                   res->duplicate ? " (retry deduplicated)" : "");
}

bool sim_clients_read_floor(struct sim_world *w, uint64_t ctx, uint64_t *floor)
{
    for (int i = 0; i < SIM_CLIENTS; i++) {
        struct sim_client *c = &w->clients[i];
        /* An abandoned read is still checked if its answer comes late: the
         * client would have been given a stale value had it waited. */
        if (c->read_ctx == ctx) {
            *floor = c->read_floor;
            return true;
        }
    }
    return false;
}

void sim_clients_on_read(struct sim_world *w, struct sim_node *nd, uint64_t ctx)
{
    (void)nd;
    for (int i = 0; i < SIM_CLIENTS; i++) {
        struct sim_client *c = &w->clients[i];
        if (c->state == SIM_CLIENT_READING && c->read_ctx == ctx) {
            c->state = SIM_CLIENT_IDLE;
            w->stats.reads_served++;
        }
    }
}

bool sim_clients_all_done(const struct sim_world *w)
{
    for (int i = 0; i < SIM_CLIENTS; i++)
        if (w->clients[i].state == SIM_CLIENT_WRITING)
            return false;
    return true;
}
