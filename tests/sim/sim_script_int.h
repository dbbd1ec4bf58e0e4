/* tests/sim/sim_script_int.h — shared between the two halves of raft-sim
 * --script: sim_script.c (the command language and the transcript) and
 * sim_script_world.c (the simulated cluster the commands drive). Internal
 * to the simulation. */
#ifndef SIM_SCRIPT_INT_H
#define SIM_SCRIPT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tests/sim/sim_world.h"

struct script {
    struct sim_world *w;           /* NULL until `start` */
    struct sim_options opt;
    raft_bug_t bugs;
    FILE *out;                     /* the running command's output */
    bool heartbeats;               /* show Heartbeat(Resp) lines */
    bool expect_failed;
    bool stopped;                  /* a safety check fired: run nothing more */
    uint64_t seq;                  /* last proposal's sequence number */
    raft_index_t commit[SIM_MAX_NODES];
};

/* What `start` asks for. */
struct script_setup {
    uint64_t nodes, voters, batch, inflight, seed;
    bool prevote, checkquorum;
};

/* Filter on messages in flight: from / to slot, -1 for any. */
struct msg_filter {
    int from, to;
};

bool script_world_create(struct script *s, const struct script_setup *set);
void script_world_free(struct script *s);
/* Starts (or restarts) nd from its disk; slots from `voters` on start with
 * no bootstrap configuration. */
bool script_node_start(struct script *s, struct sim_node *nd, int voters);
/* Carries out every live node's Ready batches. */
void script_process_all(struct script *s);
/* One delivery (or drop) round over the messages in flight matching f;
 * returns how many matched. */
size_t script_deliver_round(struct script *s, const struct msg_filter *f, bool deliver);
/* Delivers until nothing is in flight and no core has work left. */
void script_stabilize(struct script *s);
/* One tick of the clocks of the nodes in mask (bit = slot). */
void script_tick_nodes(struct script *s, unsigned mask);

#endif
