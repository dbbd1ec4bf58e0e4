/* tests/unit/raft_test_net.h — a tiny in-process network of Raft cores for
 * the scenario unit tests (test_raft_*.c include raft_test_net.c directly,
 * because the Makefile builds each test from one source file).
 *
 * Each node follows the ready/advance contract of raft/core/raft.h exactly: it
 * keeps a "durable" copy (hard state, snapshot, entries) that a crash
 * preserves, and a toy state machine (count and hash of applied NORMAL
 * entries). Messages are deep-copied into one FIFO queue and delivered in
 * order, except across cut links or to/from crashed nodes. Every step is
 * followed by raft_check_invariants.
 */
#ifndef TESTS_UNIT_RAFT_TEST_NET_H
#define TESTS_UNIT_RAFT_TEST_NET_H

#include "raft/core/raft.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_MAX_NODES 8   /* ids 1..NET_MAX_NODES */
#define NET_TRACKED 1024  /* indexes whose applied term is remembered */

typedef struct net_node {
    raft_t *r;            /* NULL while crashed or never started */
    raft_options_t opts;
    /* durable state (survives a crash) */
    raft_hard_state_t hs;
    raft_snapshot_t snap; /* data owned (malloc) */
    raft_entry_t *log;    /* entries after snap.index, data owned */
    size_t n_log, cap_log;
    /* toy state machine */
    uint64_t sm_count, sm_hash;
    raft_index_t sm_applied;
    /* read states received, in order */
    raft_read_state_t reads[64];
    size_t n_reads;
} net_node_t;

typedef struct net {
    net_node_t nodes[NET_MAX_NODES + 1];
    uint32_t n;                        /* nodes 1..n exist */
    bool cut[NET_MAX_NODES + 1][NET_MAX_NODES + 1]; /* drop from -> to */
    raft_msg_t *queue;
    size_t q_head, q_len, q_cap;
    size_t delivered, dropped;
    size_t append_rejects[NET_MAX_NODES + 1];  /* by the rejecting node */
    /* State Machine Safety, checked as entries are applied: the term of
     * the entry first applied at each index by any node, and whether a
     * node ever applied a different one at the same index. */
    raft_term_t applied_term[NET_TRACKED];
    bool sms_violated;
} net_t;

/* A cluster of n founding voters 1..n with default options (election 10
 * ticks, heartbeat 1, pre-vote and check-quorum on); adjust with
 * net_set_option before net_start. */
void net_init(net_t *net, uint32_t n);
void net_start(net_t *net);
void net_free(net_t *net);

/* Node id joins later: empty bootstrap, learns the config from the leader. */
void net_start_joiner(net_t *net, raft_id_t id);

/* Runs ready/advance on a node until it has nothing more to report. */
void net_flush(net_t *net, raft_id_t id);
void net_flush_all(net_t *net);
/* Delivers queued messages (and new ones they cause) until the queue is
 * empty or max deliveries happened. Returns deliveries. */
size_t net_deliver(net_t *net, size_t max);
void net_tick(net_t *net, raft_id_t id);
/* Ticks every live node once and delivers everything. */
void net_tick_all(net_t *net);
/* Ticks `id` alone until it starts campaigning, then delivers. Returns
 * whether it ended up leader. */
bool net_elect(net_t *net, raft_id_t id);
/* Ticks everyone (with delivery) up to max rounds until a leader exists. */
raft_id_t net_wait_leader(net_t *net, uint32_t max_rounds);
/* The live leader with the highest term, 0 if none. */
raft_id_t net_leader(const net_t *net);

void net_isolate(net_t *net, raft_id_t id);
/* Cuts every link between the group (bitmask of ids) and the rest. */
void net_partition(net_t *net, uint32_t group_mask);
void net_heal(net_t *net);
/* Drops every queued message. */
void net_drop_queue(net_t *net);

void net_crash(net_t *net, raft_id_t id);
void net_restart(net_t *net, raft_id_t id);

int net_propose(net_t *net, raft_id_t id, const char *text, raft_index_t *index);
/* Takes a snapshot of node id's state machine at its applied index. */
int net_compact(net_t *net, raft_id_t id);

/* Same entries (index and term) from first to last index of both logs
 * where both still hold them, and the same last index. */
bool net_logs_equal(const net_t *net, raft_id_t a, raft_id_t b);

/* ---- hand-driven cores (no network) -------------------------------------------
 * One core stepped by the test itself, for tests that check one rule at a
 * time (test_raft_paper.c, test_raft_figure2.c). */

/* A core of voters 1..n_voters restarted from a persisted log whose entry
 * i+1 has term terms[i], with hard state (term, vote 0, commit). */
raft_t *make_core(raft_id_t id, uint32_t n_voters, const raft_term_t *terms,
                  size_t n, raft_term_t term, raft_index_t commit,
                  raft_bug_t bugs);
/* The same from options the caller prepared (id, bootstrap, pre_vote...). */
raft_t *make_core_opts(const raft_options_t *o, const raft_term_t *terms,
                       size_t n, raft_term_t term, raft_index_t commit);
/* Runs ready/advance until nothing is left; counts messages of a type. */
size_t drain(raft_t *r, raft_msg_type_t type);
/* Steps m into r (m.to set to r), expecting success and sound invariants. */
void step(raft_t *r, raft_msg_t m);
/* Makes r leader by feeding it (pre-)vote grants from `from`. */
void win_election(raft_t *r, const raft_id_t *from, size_t n);
/* A successful AppendEntries reply from `from` matching up to index. */
void append_ok(raft_t *r, raft_id_t from, raft_index_t index);

#endif
