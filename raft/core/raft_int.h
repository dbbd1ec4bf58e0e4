/* raft/core/raft_int.h — the core's private state, shared by the raft/ modules.
 *
 * Not part of the public API: only the .c files of raft/ include it. Each module owns a
 * slice of struct raft and exposes a few functions here, prefixed with its
 * name (log*, progress*, election*, replication*, membership*, readindex*,
 * transfer*, convert*, out*):
 *
 *   log.c          in-memory log: entries after the snapshot, stable mark
 *   progress.c     leader's per-member progress and in-flight window
 *   convert.c      role changes (follower, pre-candidate, candidate, leader)
 *   election.c     timeouts, (pre-)vote requests and replies
 *   replication.c  AppendEntries, heartbeats, InstallSnapshot, commit rule
 *   membership.c   configurations, config entries, one-at-a-time changes
 *   readindex.c    linearizable reads (thesis §6.4)
 *   transfer.c     leadership transfer (thesis §3.10)
 *   out.c          the output batch: messages, ready/advance, deferred frees
 *   core.c         creation, raft_step dispatch on terms, tick, propose,
 *                  compaction, introspection
 *   msg.c          message copy/free/format for transports and traces
 *   invariants.c   raft_check_invariants
 */
#ifndef RAFT_RAFT_INT_H
#define RAFT_RAFT_INT_H

#include "raft/core/raft.h"

/* ---- log.c --------------------------------------------------------------- */
/* Entries (snap_index, snap_index + n]. Each entry's data is malloc'd and
 * owned by the log; entries leaving the log (truncation, compaction) hand
 * their data to the garbage list, freed at raft_advance, because messages of
 * the current batch may still point at it. */
typedef struct raft_log {
    raft_entry_t *e;
    size_t n, cap;
    raft_index_t snap_index;
    raft_term_t snap_term;
    raft_index_t stable;          /* last index the runtime made durable */
    raft_index_t truncated_from;  /* lowest durable index dropped by a
                                     conflict since the last advance; 0 none */
} raft_log_t;

/* ---- progress.c ---------------------------------------------------------- */
typedef struct raft_peer {
    raft_id_t id;
    bool voter;
    raft_index_t match, next;
    raft_progress_state_t state;
    bool probe_sent;              /* PROBE: one append outstanding */
    raft_index_t infl[RAFT_MAX_INFLIGHT]; /* REPLICATE: last index per msg */
    uint32_t infl_start, infl_count;
    bool recent_active;
    bool append_answered;         /* an append reply since the last
                                     heartbeat reply (stall detection) */
    uint64_t read_seq_acked;      /* highest ReadIndex round it confirmed */
    raft_index_t snap_index;      /* SNAPSHOT: which one */
    uint64_t snap_acked;          /* SNAPSHOT: bytes the follower holds */
    int8_t vote;                  /* campaign tally: 0 none, 1 yes, -1 no */
} raft_peer_t;

/* ---- readindex.c --------------------------------------------------------- */
typedef struct raft_pending_read {
    uint64_t ctx;
    raft_id_t from;               /* r->id for a local request */
    uint64_t seq;                 /* heartbeat round that must confirm it */
} raft_pending_read_t;

/* ---- the core ------------------------------------------------------------ */
struct raft {
    raft_options_t o;
    raft_id_t id;

    /* Figure 2 persistent state (+ commit, see raft_hard_state_t). */
    raft_term_t term;
    raft_id_t vote;
    raft_log_t log;

    /* Figure 2 volatile state. */
    raft_index_t commit;
    raft_index_t applied;         /* handed out and acknowledged */

    raft_role_t role;
    raft_id_t leader;
    raft_term_t max_term_seen;    /* for the term-monotonic invariant */
    bool term_limit_logged;       /* said once that term + 1 hit the limit */

    /* Timers (ticks). */
    uint32_t election_elapsed;
    uint32_t heartbeat_elapsed;
    uint32_t randomized_timeout;
    uint64_t rng;

    /* Configuration in effect and the entry that set it (0: bootstrap or
     * snapshot). */
    raft_members_t members;
    raft_index_t members_index;

    /* Latest snapshot (owned: snap_buf). */
    raft_snapshot_t snap;
    uint8_t *snap_buf;
    bool snap_to_install;         /* received: report in the next ready */

    /* Follower side of InstallSnapshot: chunks being reassembled. */
    struct {
        raft_id_t from;           /* leader sending it, and in which term: */
        raft_term_t leader_term;  /* two leaders' bytes are never mixed */
        raft_index_t index;
        raft_term_t term;
        raft_members_t members;
        uint8_t *buf;
        uint64_t total, have;
        size_t cap;
    } inbound;

    /* Leader state. */
    raft_peer_t peers[RAFT_MAX_MEMBERS];  /* one per member, self included */
    uint32_t n_peers;
    raft_index_t pending_conf_index;      /* no new change until committed */
    raft_id_t transfer_to;

    /* ReadIndex. */
    raft_pending_read_t *reads_pending;
    size_t n_reads_pending, cap_reads_pending;
    uint64_t read_seq;                    /* last heartbeat round issued */
    raft_read_state_t *reads_ready;
    size_t n_reads_ready, cap_reads_ready;

    /* Output batch (out.c). Append messages hold their entries as an offset
     * into pool while the batch grows (pool may move); raft_ready turns the
     * offsets into pointers. */
    raft_msg_t *out;
    size_t *out_pool_off;
    size_t n_out, cap_out;
    raft_entry_t *pool;
    size_t n_pool, cap_pool;
    void **garbage;
    size_t n_garbage, cap_garbage;
    raft_hard_state_t hs_reported;        /* last hard state handed out */
    /* What the batch handed out by raft_ready covered, for raft_advance. */
    struct {
        bool valid;
        raft_index_t last_entry;          /* 0: no entries */
        raft_index_t applied_to;
        raft_hard_state_t hs;
        bool snapshot;
    } rd;
};

/* log.c */
void log_init(raft_log_t *l);
void log_destroy(raft_t *r);
raft_index_t log_last_index(const raft_log_t *l);
raft_term_t log_last_term(const raft_log_t *l);
raft_term_t log_term(const raft_log_t *l, raft_index_t i);
const raft_entry_t *log_get(const raft_log_t *l, raft_index_t i);
/* Appends one entry at last_index + 1, taking ownership of data (malloc'd or
 * NULL). Returns RAFT_ENOMEM (data then still the caller's). */
int log_append_owned(raft_log_t *l, raft_term_t term, raft_entry_type_t type,
                     uint8_t *data, size_t len);
/* Copies data. */
int log_append_copy(raft_log_t *l, raft_term_t term, raft_entry_type_t type,
                    const void *data, size_t len);
/* Drops entries >= from (from > snap_index). */
void log_truncate(raft_t *r, raft_index_t from);
/* Drops entries <= index (snap_index < index <= last). */
void log_compact(raft_t *r, raft_index_t index);
/* Drops everything; the log now starts after (index, term). */
void log_reset(raft_t *r, raft_index_t index, raft_term_t term);
/* Largest index <= i whose term <= term (fast back-off, §5.3 hint). */
raft_index_t log_find_conflict_by_term(const raft_log_t *l, raft_index_t i,
                                       raft_term_t term);
bool log_is_up_to_date(const raft_log_t *l, raft_index_t last_index,
                       raft_term_t last_term);

/* progress.c */
raft_peer_t *progress_find(raft_t *r, raft_id_t id);
const raft_peer_t *progress_find_const(const raft_t *r, raft_id_t id);
void progress_reset_all(raft_t *r);
void progress_rebuild(raft_t *r);
void progress_become_probe(raft_peer_t *p);
void progress_become_replicate(raft_peer_t *p);
void progress_become_snapshot(raft_peer_t *p, raft_index_t snap_index);
bool progress_maybe_update(raft_peer_t *p, raft_index_t index);
bool progress_maybe_decr_to(raft_peer_t *p, raft_index_t rejected,
                            raft_index_t match_hint);
bool progress_is_paused(const raft_t *r, const raft_peer_t *p);
void progress_inflight_add(raft_peer_t *p, raft_index_t last);
void progress_inflight_free_to(raft_peer_t *p, raft_index_t index);
bool progress_quorum_active(const raft_t *r);
raft_index_t progress_quorum_match(const raft_t *r);

/* convert.c */
void convert_to_follower(raft_t *r, raft_term_t term, raft_id_t leader);
void convert_to_precandidate(raft_t *r);
void convert_to_candidate(raft_t *r);
void convert_to_leader(raft_t *r);
void convert_reset_election_timer(raft_t *r);

/* election.c */
void election_tick(raft_t *r);
void election_start(raft_t *r, bool pre_vote, bool transfer);
void election_recv_vote(raft_t *r, const raft_msg_t *m);
void election_recv_vote_resp(raft_t *r, const raft_msg_t *m);
bool election_in_lease(const raft_t *r);
uint32_t election_quorum(const raft_t *r);

/* replication.c */
void replication_send_append(raft_t *r, raft_peer_t *p, bool send_if_empty);
void replication_broadcast_append(raft_t *r);
void replication_broadcast_heartbeat(raft_t *r);
void replication_recv_append(raft_t *r, const raft_msg_t *m);
void replication_recv_append_resp(raft_t *r, const raft_msg_t *m);
void replication_recv_heartbeat(raft_t *r, const raft_msg_t *m);
void replication_recv_heartbeat_resp(raft_t *r, const raft_msg_t *m);
void replication_recv_snapshot(raft_t *r, const raft_msg_t *m);
void replication_recv_snapshot_resp(raft_t *r, const raft_msg_t *m);
bool replication_maybe_commit(raft_t *r);
void replication_leader_tick(raft_t *r);

/* membership.c */
int membership_encode(const raft_members_t *m, const void *ctx, size_t ctx_len,
                      uint8_t **out, size_t *out_len);
void membership_apply_entry(raft_t *r, const raft_entry_t *e);
void membership_recompute(raft_t *r);
bool membership_is_voter(const raft_t *r, raft_id_t id);
bool membership_is_member(const raft_t *r, raft_id_t id);
void membership_on_commit(raft_t *r);
bool membership_self_removal_pending(const raft_t *r);
bool members_valid(const raft_members_t *m);

/* readindex.c */
void readindex_recv_request(raft_t *r, const raft_msg_t *m);
void readindex_recv_response(raft_t *r, const raft_msg_t *m);
void readindex_check_quorum(raft_t *r);
void readindex_drop_pending(raft_t *r);
int readindex_push_ready(raft_t *r, uint64_t ctx, raft_index_t index);

/* transfer.c */
void transfer_recv_timeout_now(raft_t *r, const raft_msg_t *m);
void transfer_maybe_send_timeout_now(raft_t *r, raft_peer_t *p);
void transfer_abort(raft_t *r);

/* out.c */
/* Queues a message to m->to; for APPEND, the entries [lo, lo + n) of the log
 * are copied (as structs; data shared) into the pool. Failure to allocate
 * drops the message, which Raft tolerates like a network loss. */
void out_send(raft_t *r, raft_msg_t *m);
void out_send_append(raft_t *r, raft_msg_t *m, raft_index_t lo, size_t n);
void out_garbage(raft_t *r, void *p);
/* Withdraws queued AppendEntries acknowledgements for an index >= from:
 * the entries they vouch for were just dropped in the same batch (conflict
 * truncation or snapshot install), so they would never be durable. */
void out_retract_acks(raft_t *r, raft_index_t from);
void out_destroy(raft_t *r);
raft_hard_state_t out_hard_state(const raft_t *r);

/* core.c */
uint64_t core_random(raft_t *r);
/* Formats one line and hands it to r->o.trace, if set (raft.h). */
void core_trace(const raft_t *r, raft_trace_kind_t kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
