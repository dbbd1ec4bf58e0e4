/* tests/sim/sim_run.h — one simulated run: a cluster of cores driven for a
 * number of steps under one scenario, from one seed.
 *
 * A step is one tick of simulated time: faults and clients act, every packet
 * due is delivered, every live core ticks, every core's Ready batch is carried
 * out (persist -> send -> apply -> advance, with a simulated disk latency),
 * and then every safety property is checked. The last part of the run is a
 * quiet phase (network healed, nodes restarted, no new faults) in which
 * liveness is checked. The same options always give the same run. */
#ifndef SIM_RUN_H
#define SIM_RUN_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "raft/core/raft.h"

struct sim_options {
    uint64_t seed;
    int nodes;           /* 3 or 5 */
    uint64_t steps;      /* ticks, quiet phase included */
    int scenario;        /* index into sim_scenarios */
    raft_bug_t bugs;     /* deliberately broken core variant; 0 = correct */
    bool echo;           /* print every trace line as it happens */
    bool report_trace;   /* on failure, print the last trace lines */
    FILE *out;           /* where reports go */
};

struct sim_stats {
    uint64_t leaders;          /* distinct (term, leader) pairs seen */
    uint64_t max_term;
    uint64_t committed;        /* highest index applied anywhere */
    uint64_t writes_acked, reads_served;
    uint64_t crashes, partitions, conf_changes, transfers;
    uint64_t snapshots_taken, snapshots_installed;
    uint64_t messages;
    uint64_t garbage;          /* impossible messages refused (sim_garbage.c) */
};

struct sim_result {
    bool ok;
    uint64_t fail_tick;
    char property[48];
    char detail[400];
    struct sim_stats stats;
};

/* Runs once; fills res. Prints a failure report to o->out when it fails. */
bool sim_run(const struct sim_options *o, struct sim_result *res);
/* Prints the command line that replays o. */
void sim_print_replay(FILE *out, const struct sim_options *o);
/* Name of a single bug bit for --bug, or NULL. */
const char *sim_bug_name(raft_bug_t bug);
/* Bug bit by name, 0 if unknown. */
raft_bug_t sim_bug_parse(const char *name);

#endif
