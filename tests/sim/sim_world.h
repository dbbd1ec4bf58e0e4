/* tests/sim/sim_world.h — the state of one run, shared by the modules that
 * drive it (sim_node.c: cores, disks and Ready batches; sim_client.c:
 * clients; sim_faults.c: the scenario's faults; sim_run.c: the step loop and
 * the report). Internal to the simulation. */
#ifndef SIM_WORLD_H
#define SIM_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/core/raft.h"
#include "tests/sim/sim_check.h"
#include "tests/sim/sim_net.h"
#include "tests/sim/sim_rng.h"
#include "tests/sim/sim_run.h"
#include "tests/sim/sim_scenario.h"
#include "tests/sim/sim_sm.h"
#include "tests/sim/sim_trace.h"

#define SIM_CLIENTS 3
#define SIM_ELECTION_TICKS 10
#define SIM_HEARTBEAT_TICKS 2

/* One entry on the simulated disk, with the chained hash of the log prefix
 * ending at it (see sim_check.c). data is owned by the disk. */
struct sim_disk_entry {
    raft_entry_t e;
    uint64_t chain;
};

/* What survives a crash: exactly what Ready batches asked to persist and the
 * node finished persisting, plus snapshots the node took itself. */
struct sim_disk {
    raft_hard_state_t hs;
    raft_snapshot_t snap;          /* snap.data owned (snap_data) */
    uint8_t *snap_data;
    uint64_t base_chain;           /* chain at snap.index */
    struct sim_disk_entry *ents;   /* snap.index+1 .. snap.index+n */
    size_t n, cap;
};

struct sim_pending_read {
    uint64_t ctx;
    raft_index_t index;
};

struct sim_node {
    int slot;
    raft_id_t id;                  /* slot + 1 */
    bool up;
    raft_t *r;                     /* NULL while down */
    uint32_t incarnation;
    struct sim_disk disk;
    struct sim_sm sm;              /* volatile: rebuilt from disk on restart */
    /* A Ready batch being persisted: between raft_ready and raft_advance no
     * input may reach the core, so packets wait in the inbox and ticks are
     * counted. A crash now loses the batch. */
    bool busy;
    uint64_t busy_until;
    raft_ready_t rd;
    bool sent_early;               /* leader's appends already left (§10.2.1) */
    size_t applied_early;          /* rd.committed[0..this) applied before the fsync */
    uint32_t deferred_ticks;
    raft_msg_t **inbox;
    size_t inbox_len, inbox_cap;
    uint64_t restart_at;
    uint64_t kill_at;              /* scheduled crash of a new leader, 0 none */
    /* Leader Append-Only bookkeeping, sampled at each raft_ready. */
    raft_term_t ready_leader_term;
    raft_index_t ready_last_index;
    /* Leader Completeness: indices below this were checked for this term. */
    raft_term_t checked_leader_term;
    uint64_t checked_from;
    raft_index_t snapshot_at;      /* index of the last snapshot it took */
    struct sim_pending_read reads[64];
    size_t n_reads;
    /* For trace notes on role changes. */
    raft_role_t last_role;
    raft_term_t last_term;
};

enum sim_client_state { SIM_CLIENT_IDLE, SIM_CLIENT_WRITING, SIM_CLIENT_READING };

struct sim_client {
    uint32_t id;                   /* 1..SIM_CLIENTS */
    enum sim_client_state state;
    struct sim_cmd cmd;            /* the write in progress */
    int node;                      /* slot it was last submitted to, -1 none */
    bool submitted;
    uint64_t deadline;             /* retry / give-up tick */
    int leader_hint;               /* slot, -1 unknown */
    uint64_t acked_seq, acked_index;
    uint64_t attempts;
    uint64_t read_ctx, read_floor;
    int read_node;
};

struct sim_world {
    const struct sim_options *opt;
    struct sim_scenario sc;        /* copy: the quiet phase turns faults off */
    struct sim_rng rng;
    struct sim_rng garbage_rng;    /* sim_garbage.c's own stream */
    struct sim_net net;
    struct sim_trace trace;
    struct sim_check chk;
    struct sim_node nodes[SIM_MAX_NODES];
    int n;
    struct sim_client clients[SIM_CLIENTS];
    uint64_t now;
    uint64_t quiet_from;           /* first tick of the quiet phase */
    bool quiet;
    uint64_t leader_seen_in_quiet; /* tick a leader was first seen, 0 none */
    uint64_t heal_at;              /* partition ends; 0: none active */
    uint64_t next_ctx;
    uint32_t snapshot_every;
    raft_options_t base_opts;      /* per-run core options, id/seed set per node */
    struct sim_stats stats;
};

/* sim_node.c */
void sim_node_init(struct sim_world *w, struct sim_node *nd, int slot);
void sim_node_destroy(struct sim_node *nd);
bool sim_node_start(struct sim_world *w, struct sim_node *nd);
void sim_node_crash(struct sim_world *w, struct sim_node *nd);
/* Delivers a packet (takes ownership of m). */
void sim_node_receive(struct sim_world *w, struct sim_node *nd, int from, raft_msg_t *m);
void sim_node_tick(struct sim_world *w, struct sim_node *nd);
/* Finishes a due disk write, then drains Ready batches until idle or busy. */
void sim_node_process(struct sim_world *w, struct sim_node *nd);
/* True if inputs may be given to the core right now. */
bool sim_node_ready_for_input(const struct sim_node *nd);
void sim_node_maybe_snapshot(struct sim_world *w, struct sim_node *nd);
void sim_msg_view(const raft_msg_t *m, struct sim_msg_view *v);
void sim_msg_free(void *payload);
void *sim_msg_clone(const void *payload);
/* The node leading now (live, role leader, accepts input), or NULL. */
struct sim_node *sim_find_leader(struct sim_world *w);

/* sim_client.c */
void sim_clients_init(struct sim_world *w);
void sim_clients_step(struct sim_world *w);
/* A node applied a client command (res from sim_sm_apply). */
void sim_clients_on_apply(struct sim_world *w, struct sim_node *nd,
                          const struct sim_apply_result *res);
/* A node serves a read (the check has been made). */
void sim_clients_on_read(struct sim_world *w, struct sim_node *nd, uint64_t ctx);
/* Client's pending read started when acked index was this; false if unknown. */
bool sim_clients_read_floor(struct sim_world *w, uint64_t ctx, uint64_t *floor);
bool sim_clients_all_done(const struct sim_world *w);

/* sim_garbage.c */
void sim_garbage_step(struct sim_world *w);

/* sim_faults.c */
void sim_faults_step(struct sim_world *w);
void sim_faults_quiet(struct sim_world *w);

#endif
