/* tests/sim/sim_scenario.h — named fault mixes.
 *
 * A scenario says how hostile a run is: the network's loss, duplication and
 * delay, how often partitions of each shape start, how often nodes crash,
 * how slow the disk is, how often membership changes, leadership transfers
 * and snapshots happen. A multi-seed run picks the scenario from the seed
 * (seed mod count) so any window of seeds covers every mix. Probabilities are
 * per tick, in parts per million. */
#ifndef SIM_SCENARIO_H
#define SIM_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>

enum sim_partition_kind {
    SIM_PART_SYMMETRIC = 1 << 0,  /* random split, both directions cut */
    SIM_PART_ONE_WAY   = 1 << 1,  /* a few directed links cut */
    SIM_PART_LEADER    = 1 << 2,  /* the current leader cut off from everyone */
    SIM_PART_BRIDGE    = 1 << 3,  /* two halves that only one node links */
};

struct sim_scenario {
    const char *name;
    const char *what;              /* one line for --help and the docs */
    uint32_t drop_ppm, dup_ppm;    /* per message */
    uint32_t delay_min, delay_max; /* ticks per message */
    uint32_t partition_ppm;        /* chance per tick a partition starts */
    unsigned partition_kinds;      /* mask of enum sim_partition_kind */
    uint32_t partition_ticks_max;  /* a partition heals after 1..this ticks */
    uint32_t crash_ppm;            /* chance per tick one node crashes */
    uint32_t down_ticks_max;       /* a crashed node restarts after 1..this */
    uint32_t vote_bounce_ppm;      /* chance a node crashes right after granting a vote */
    uint32_t leader_kill_ppm;      /* chance a new leader crashes 1..20 ticks in */
    uint32_t disk_ticks_max;       /* a persist completes after 0..this ticks */
    uint32_t conf_ppm;             /* chance per tick of a membership step */
    uint32_t transfer_ppm;         /* chance per tick of a leadership transfer */
    uint32_t snapshot_every;       /* applied entries between snapshots; 0 never */
    uint32_t max_entries_per_msg;  /* force this batching (0: drawn per seed) */
    bool plain_elections;          /* PreVote and CheckQuorum off (else drawn) */
    uint32_t propose_ppm;          /* chance per tick per client of a new write */
    uint32_t read_ppm;             /* chance per tick per client of a read */
};

extern const struct sim_scenario sim_scenarios[];
extern const int sim_scenario_count;

/* Index of the scenario called name, or -1. */
int sim_scenario_find(const char *name);

#endif
