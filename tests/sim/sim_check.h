/* tests/sim/sim_check.h — the safety properties, checked as the run goes.
 *
 * The checker keeps the run's history that no single node has: who led each
 * term, the chained hash of every (index, term) any node ever persisted, the
 * entry and state-machine hash first applied at each index, and the newest
 * write a client was told had succeeded. Each hook is called by the cluster
 * at the moment something relevant happens and costs O(1) (except a new
 * leader, checked against everything committed so far). The first violation
 * is recorded with the property's name; the run stops there.
 *
 * Properties (Raft paper Figure 3, plus the client-visible ones):
 *   Election Safety, Leader Append-Only, Log Matching, Leader Completeness,
 *   State Machine Safety, Acknowledged Writes Survive, Linearizable Reads. */
#ifndef SIM_CHECK_H
#define SIM_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/core/raft.h"

struct sim_committed {
    uint64_t term;        /* term of the entry */
    uint64_t data_hash;   /* hash of type + data */
    uint64_t chain;       /* hash of the whole log prefix up to here */
    uint64_t sm_hash;     /* state-machine hash after applying it */
    uint64_t commit_term; /* upper bound of the term it was committed in */
};

struct sim_log_key {
    uint64_t index, term, chain;
};

struct sim_check {
    int8_t *leader_of_term;        /* slot + 1 of the leader, 0 none */
    size_t terms_cap;
    struct sim_log_key *log_table; /* open addressing on (index, term) */
    size_t log_cap, log_len;
    struct sim_committed *committed; /* [index], index 0 unused */
    size_t committed_cap;
    uint64_t max_committed;        /* highest index applied anywhere */
    uint64_t acked_max_index;      /* newest index a client saw succeed */
    bool failed;
    char property[48];
    char detail[400];
};

void sim_check_init(struct sim_check *c);
void sim_check_free(struct sim_check *c);
void sim_check_fail(struct sim_check *c, const char *property, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Hash of an entry's identity-free content (type and bytes). */
uint64_t sim_entry_hash(const raft_entry_t *e);
/* Chained hash of a log prefix ending with entry (term, data_hash). */
uint64_t sim_chain(uint64_t prev_chain, uint64_t term, uint64_t data_hash);

/* Election Safety: slot was seen leading term. */
void sim_check_leader(struct sim_check *c, int slot, uint64_t term);
/* Log Matching: slot persisted an entry whose prefix hashes to chain. */
void sim_check_log_entry(struct sim_check *c, int slot, uint64_t index, uint64_t term,
                         uint64_t chain);
/* State Machine Safety: slot applied entry (index, term, data_hash) reaching
 * sm_hash; node_term is its current term (bounds the commit term). */
void sim_check_apply(struct sim_check *c, int slot, uint64_t index, uint64_t term,
                     uint64_t data_hash, uint64_t sm_hash, uint64_t node_term);
/* A snapshot restored at index must hold the state every replica reached. */
void sim_check_restored(struct sim_check *c, int slot, uint64_t index, uint64_t sm_hash);
/* Chain hash of the committed prefix ending at index; false if unknown. */
bool sim_check_committed_chain(const struct sim_check *c, uint64_t index, uint64_t *chain);
/* Leader Completeness: r (slot) leads term; every entry committed in an
 * earlier term must be in its log. from_index: check only indices >= it. */
void sim_check_leader_log(struct sim_check *c, int slot, const raft_t *r, uint64_t from_index);
/* A client was told its write at index succeeded. */
void sim_check_acked(struct sim_check *c, uint64_t index);
/* Linearizable reads: a read that started when acked_max_index was floor is
 * served by slot from a state machine that applied `applied`. */
void sim_check_read(struct sim_check *c, int slot, uint64_t ctx, uint64_t floor,
                    uint64_t applied, uint64_t read_index);

#endif
