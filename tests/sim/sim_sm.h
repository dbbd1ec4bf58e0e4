/* tests/sim/sim_sm.h — the simulation's replicated state machine.
 *
 * A tiny key-value register file (SIM_KEYS keys holding 64-bit values) with
 * client sessions (thesis §6.3): every write carries (client id, sequence
 * number) and is applied at most once; a retried write that was already
 * applied returns the index where it first took effect. The state also keeps
 * a rolling hash of everything applied so that two replicas can be compared
 * in O(1) at the same applied index. Snapshots are a flat byte image. */
#ifndef SIM_SM_H
#define SIM_SM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIM_KEYS 8
#define SIM_MAX_CLIENTS 8
#define SIM_CMD_BYTES 22

struct sim_cmd {
    uint32_t client;   /* 1..SIM_MAX_CLIENTS */
    uint64_t seq;      /* 1, 2, 3... per client */
    uint8_t key;       /* < SIM_KEYS */
    uint64_t value;
};

struct sim_session {
    uint64_t last_seq;     /* highest seq applied for this client */
    uint64_t last_index;   /* log index where last_seq took effect */
};

struct sim_sm {
    uint64_t applied;      /* last log index applied (or restored) */
    uint64_t hash;         /* rolling hash of every effective change */
    uint64_t kv[SIM_KEYS];
    struct sim_session sessions[SIM_MAX_CLIENTS + 1]; /* [0] unused */
};

/* What applying one entry did. */
struct sim_apply_result {
    bool is_cmd;              /* a client write (else NOOP/CONFIG/foreign) */
    bool duplicate;           /* already applied earlier: skipped */
    struct sim_cmd cmd;
    uint64_t effective_index; /* where cmd took effect */
};

#define SIM_SNAPSHOT_BYTES (8 + 8 + 8 + 8 * SIM_KEYS + 16 * (SIM_MAX_CLIENTS + 1))

void sim_cmd_encode(const struct sim_cmd *c, uint8_t out[SIM_CMD_BYTES]);
/* False if data is not a well-formed command. */
bool sim_cmd_decode(const uint8_t *data, size_t len, struct sim_cmd *out);

void sim_sm_reset(struct sim_sm *sm);
/* Applies the entry at index (NORMAL data, or is_data=false for NOOP and
 * CONFIG entries which only advance applied). */
struct sim_apply_result sim_sm_apply(struct sim_sm *sm, uint64_t index, bool is_data,
                                     const uint8_t *data, size_t len);
void sim_sm_snapshot(const struct sim_sm *sm, uint8_t out[SIM_SNAPSHOT_BYTES]);
/* False (sm untouched) if the bytes are not a snapshot of this machine. */
bool sim_sm_restore(struct sim_sm *sm, const uint8_t *data, size_t len);

uint64_t sim_hash_bytes(const uint8_t *data, size_t len, uint64_t seed);
uint64_t sim_hash_mix(uint64_t a, uint64_t b);

#endif
