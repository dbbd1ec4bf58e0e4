/* tests/sim/sim_scenario.c — the table of fault mixes. Each row stresses one
 * family of faults hard while keeping the others mild, and "chaos" turns
 * everything on at once; the rates were tuned so that every run still makes
 * progress between faults (a run that never elects a leader proves little). */
#include "tests/sim/sim_scenario.h"

#include <string.h>

#define ALL_PARTITIONS (SIM_PART_SYMMETRIC | SIM_PART_ONE_WAY | SIM_PART_LEADER | SIM_PART_BRIDGE)

const struct sim_scenario sim_scenarios[] = {
    { .name = "calm", .what = "small delays, rare loss; the happy path under load",
      .drop_ppm = 2000, .delay_min = 0, .delay_max = 2, .disk_ticks_max = 1,
      .snapshot_every = 200, .propose_ppm = 150000, .read_ppm = 60000 },
    { .name = "lossy", .what = "heavy loss, duplication and reordering",
      .drop_ppm = 150000, .dup_ppm = 80000, .delay_min = 0, .delay_max = 8,
      .disk_ticks_max = 2, .snapshot_every = 150, .propose_ppm = 100000, .read_ppm = 50000 },
    { .name = "partition", .what = "symmetric partitions that come and go",
      .drop_ppm = 10000, .delay_max = 3, .partition_ppm = 8000,
      .partition_kinds = SIM_PART_SYMMETRIC, .partition_ticks_max = 300,
      .disk_ticks_max = 1, .snapshot_every = 150, .propose_ppm = 100000, .read_ppm = 50000 },
    { .name = "one-way", .what = "asymmetric partitions: links cut in one direction",
      .drop_ppm = 10000, .delay_max = 3, .partition_ppm = 8000,
      .partition_kinds = SIM_PART_ONE_WAY, .partition_ticks_max = 300,
      .disk_ticks_max = 1, .snapshot_every = 150, .propose_ppm = 100000, .read_ppm = 50000 },
    { .name = "leader-isolated", .what = "the current leader cut off again and again",
      .drop_ppm = 10000, .delay_max = 3, .partition_ppm = 10000,
      .partition_kinds = SIM_PART_LEADER, .partition_ticks_max = 200,
      .disk_ticks_max = 1, .snapshot_every = 150, .propose_ppm = 120000, .read_ppm = 60000 },
    { .name = "bridge", .what = "two halves joined only through one node",
      .drop_ppm = 10000, .delay_max = 3, .partition_ppm = 8000,
      .partition_kinds = SIM_PART_BRIDGE, .partition_ticks_max = 400,
      .disk_ticks_max = 1, .snapshot_every = 150, .propose_ppm = 100000, .read_ppm = 50000 },
    { .name = "crash", .what = "crashes losing unsynced writes, slow disks, restarts",
      .drop_ppm = 10000, .delay_max = 3, .crash_ppm = 8000, .down_ticks_max = 200,
      .disk_ticks_max = 4, .snapshot_every = 100, .propose_ppm = 120000, .read_ppm = 50000 },
    { .name = "membership", .what = "remove a node, add it back as learner, promote",
      .drop_ppm = 10000, .delay_max = 3, .crash_ppm = 2000, .down_ticks_max = 100,
      .disk_ticks_max = 2, .conf_ppm = 10000, .snapshot_every = 120,
      .propose_ppm = 100000, .read_ppm = 50000 },
    { .name = "snapshot", .what = "frequent snapshots; long outages force InstallSnapshot",
      .drop_ppm = 20000, .delay_max = 3, .crash_ppm = 4000, .down_ticks_max = 600,
      .disk_ticks_max = 2, .snapshot_every = 25, .propose_ppm = 200000, .read_ppm = 40000 },
    { .name = "transfer", .what = "leadership transfers while clients write and read",
      .drop_ppm = 10000, .delay_max = 3, .disk_ticks_max = 1, .transfer_ppm = 10000,
      .crash_ppm = 1000, .down_ticks_max = 100, .snapshot_every = 150,
      .propose_ppm = 120000, .read_ppm = 60000 },
    { .name = "figure8", .what = "leaders crash and return quickly while logs diverge (paper Figure 8)",
      .drop_ppm = 50000, .delay_min = 0, .delay_max = 4, .crash_ppm = 5000, .down_ticks_max = 60,
      .leader_kill_ppm = 800000, .disk_ticks_max = 2, .snapshot_every = 200,
      .max_entries_per_msg = 1,
      .propose_ppm = 300000, .read_ppm = 20000 },
    { .name = "election", .what = "split votes; voters crash right after voting and restart at once",
      .drop_ppm = 30000, .delay_min = 0, .delay_max = 6, .crash_ppm = 5000, .down_ticks_max = 4,
      .partition_ppm = 10000, .partition_kinds = SIM_PART_LEADER, .partition_ticks_max = 40,
      .vote_bounce_ppm = 300000, .leader_kill_ppm = 300000, .plain_elections = true,
      .disk_ticks_max = 2, .snapshot_every = 200, .propose_ppm = 100000, .read_ppm = 30000 },
    { .name = "chaos", .what = "every fault at once",
      .drop_ppm = 50000, .dup_ppm = 30000, .delay_min = 0, .delay_max = 6,
      .partition_ppm = 5000, .partition_kinds = ALL_PARTITIONS, .partition_ticks_max = 300,
      .crash_ppm = 4000, .down_ticks_max = 300, .leader_kill_ppm = 50000,
      .disk_ticks_max = 3, .conf_ppm = 5000,
      .transfer_ppm = 4000, .snapshot_every = 60, .propose_ppm = 120000, .read_ppm = 50000 },
};

const int sim_scenario_count = (int)(sizeof sim_scenarios / sizeof sim_scenarios[0]);

int sim_scenario_find(const char *name)
{
    for (int i = 0; i < sim_scenario_count; i++)
        if (strcmp(sim_scenarios[i].name, name) == 0)
            return i;
    return -1;
}
