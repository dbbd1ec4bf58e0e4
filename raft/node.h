/* raft/node.h — a Raft node: the consensus core (raft.h) driven by its own
 * thread, with durable storage (wal, hardstate, snapfile) and TCP peers
 * (transport). This is the runtime a daemon embeds.
 *
 * Threads: node_start spawns the Raft thread, which alone touches the core,
 * the disk and the peer sockets, and calls the state machine's apply,
 * snapshot and restore. Every other function here is thread-safe. The
 * requests come in two forms: blocking (node_propose...: the calling thread
 * waits, never the Raft thread) and asynchronous (node_propose_async...: a
 * callback gets the answer), for event-loop callers that serve many
 * clients from one thread (kv/adminserver.c).
 *
 * Names and ids: a node is named by the operator (-id "id0"); its Raft id is
 * a 64-bit hash of that name (node_id_from_name). Addresses travel in the
 * peers' hello and in configuration entries ("name address").
 *
 * Durability (Figure 2, "Rules for Servers: persistent state ... updated on
 * stable storage before responding to RPCs"): every batch of log entries
 * and the hard state are fsynced before any message that depends on them
 * leaves, and before a proposal is acknowledged. Many proposals arriving
 * together share one fsync (group commit): the Raft thread handles every
 * queued request and received message before it writes anything. */
#ifndef RAFT_NODE_H
#define RAFT_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/core/raft.h"

/* ---- the state machine a node drives ------------------------------------ */

/* A byte sink / source for snapshots, so a state machine streams its state
 * instead of building one more copy of it. write returns 0 or -1; read
 * returns bytes read (0 at the end) or -1. */
typedef struct raft_snap_writer {
    int (*write)(struct raft_snap_writer *w, const void *data, size_t len);
} raft_snap_writer_t;
typedef struct raft_snap_reader {
    long (*read)(struct raft_snap_reader *r, void *buf, size_t cap);
} raft_snap_reader_t;

typedef struct raft_fsm {
    void *ctx;
    /* Applies a committed client entry. May set *result to a malloc'd reply
     * (handed to the proposer, wherever it waits; freed by the node). */
    void (*apply)(void *ctx, raft_index_t index, const uint8_t *data, size_t len,
                  uint8_t **result, size_t *result_len);
    /* Writes the whole state (everything applied so far). 0 or -1. */
    int (*snapshot)(void *ctx, raft_snap_writer_t *w);
    /* Replaces the whole state with a snapshot's. 0 or -1 (the node stops:
     * a snapshot that passed its checksum but cannot be restored is a bug
     * or corruption, and guessing would lose data). */
    int (*restore)(void *ctx, raft_snap_reader_t *r);
    /* Optional: decodes a leader's snapshot whole into a fresh state and
     * drops it, leaving the running state alone; 0 if restore would take
     * it, -1 if not (with a log line). Asked before the snapshot replaces
     * anything (log, state, WAL and snapshot files), so a forged or
     * damaged one changes nothing (§7, raft_options_t.snapshot_check).
     * index is the snapshot's last included index (Figure 13). */
    int (*check)(void *ctx, raft_index_t index, raft_snap_reader_t *r);
    /* Optional: called before the proposers of entries applied so far are
     * answered (node_deliver_finished), once per batch of applies, so a
     * state machine can make a batch's changes visible together (kv/: one
     * DNS version for many UPDATEs) and still answer only afterwards. */
    void (*publish)(void *ctx);
} raft_fsm_t;

/* ---- options --------------------------------------------------------------- */

/* What the readiness of the service above needs (kv/readiness.h), handed
 * to node_options_t.on_health on the Raft thread every tick and after every
 * batch. Times are CLOCK_MONOTONIC ms (common/clock.h). */
typedef struct node_health {
    uint64_t now_ms;
    bool had_data;         /* the data dir held a commit index > 0 at start */
    /* The catch-up target: the index to apply before serving. After a
     * restart, the commit index recovered from disk; on an empty node, the
     * leader's commit index (leaderCommit) in the first AppendEntries it
     * sent us, or, if we lead, our commit index once an entry of our own
     * term is committed (§5.4.2: only then do we know it). */
    bool target_known;
    raft_index_t target;
    raft_index_t applied;
    /* The last moment this node knew a current leader: as leader, when a
     * quorum (self included) was last heard from; as follower, the last
     * AppendEntries, heartbeat or snapshot chunk from the leader of its
     * term. 0: never since start. */
    uint64_t current_ms;
} node_health_t;

typedef struct node_options {
    const char *name;          /* -id */
    const char *listen;        /* -raft.addr, e.g. ":8300" */
    const char *advertise;     /* address peers dial; NULL: derived per
                                  connection from the listening port */
    const char *data_dir;      /* -data.dir */
    bool bootstrap;            /* with empty data: found a 1-node cluster */
    unsigned tick_ms;          /* default 10 */
    unsigned heartbeat_ms;     /* default 50 */
    unsigned election_ms;      /* default 150: timeouts drawn from [150, 300) */
    uint64_t snapshot_every;   /* entries applied between snapshots (100000) */
    uint64_t snapshot_bytes;   /* ... or log bytes applied (64 MiB), whichever
                                  comes first: zone chunks are up to 1 MiB */
    raft_bug_t bugs;           /* tests only */
    raft_fsm_t fsm;
    /* A person connected to the Raft port (see transport.h): the callee
     * owns fd and gets the bytes already read. Runs on the Raft thread, so
     * it must only hand the connection over, never serve it there. */
    void (*on_text_conn)(void *ctx, int fd, const uint8_t *first, size_t len);
    void *text_ctx;
    /* Cluster key (raft/peerauth.h): every peer connection authenticated
     * and every frame sealed; NULL: protocol v1, no authentication. Must
     * outlive the node. */
    const struct peerauth_ring *cluster_key;
    /* Optional (NULL: none): see node_health_t. Runs on the Raft thread: it
     * must not block or call node_* functions that wait for it. */
    void (*on_health)(void *ctx, const node_health_t *h);
    void *health_ctx;
} node_options_t;

typedef struct node node_t;

/* Opens the data dir, recovers (snapshot + log replay), binds the port,
 * starts the Raft thread. NULL with a message in err on failure. */
node_t *node_start(const node_options_t *opts, char *err, size_t err_len);
/* Graceful stop: if leader, hands leadership to the most up-to-date voter
 * first (thesis §3.10); then stops the thread, syncs and frees. */
void node_stop(node_t *n);
/* node_stop in two steps, for embedders whose threads may still be inside
 * node_* calls: node_shutdown makes every request (running or new) return
 * NODE_ESHUTDOWN at once; node_free releases the node once no other thread
 * can call it any more. */
void node_shutdown(node_t *n);
void node_free(node_t *n);

raft_id_t node_id_from_name(const char *name);
/* True when the data dir held nothing at start (a brand-new node). */
bool node_was_empty(const node_t *n);
/* The address peers reach this node at (fixed at start). */
const char *node_address(const node_t *n);
/* Tests only: stops like a crash (no leadership hand-over). Everything
 * acknowledged was already fsynced, so this is what kill -9 leaves. */
void node_kill(node_t *n);

/* ---- requests (any thread) ------------------------------------------------- */

typedef enum node_status {
    NODE_OK = 0,
    NODE_ENOLEADER,   /* no leader known now: the request was not submitted */
    NODE_ETIMEOUT,    /* gave up waiting: the write may still commit */
    NODE_ELOST,       /* leadership changed before it committed: not applied */
    NODE_ESHUTDOWN,
    NODE_ETOOBIG,
    NODE_EBUSY,       /* a membership change or transfer is in progress */
    NODE_EINVAL,
    NODE_EIO,         /* the disk failed: this node refuses writes */
    NODE_EMAYBE,      /* the leader a forwarded request went to lost its role
                         before answering: it may still be applied. Retry
                         with bytes that apply at most once (client id + seq) */
    NODE_ENOSPC,      /* this node's disk is full: it refuses writes until
                         space returns (then it takes part again by itself) */
} node_status_t;
const char *node_status_text(node_status_t s);

/* ---- asynchronous requests (any thread, also inside a node_done_fn) ------ */

/* The answer to an asynchronous request: status, and for a proposal the
 * state machine's reply (malloc'd; the callee owns and frees it; may be
 * NULL). It runs exactly once, on the Raft thread (or, while the node shuts
 * down, on the thread stopping it). The callbacks of requests answered
 * together run back to back, before the Raft thread next blocks (fsync,
 * epoll), so a caller can wake its own thread once per batch. A callback
 * must not block nor call the blocking functions below: it hands the answer
 * over and returns; it may submit a new asynchronous request (a retry). */
typedef void (*node_done_fn)(void *arg, node_status_t status, uint8_t *result, size_t result_len);

/* node_propose and node_read_barrier without waiting. NODE_OK: queued, and
 * done(arg, ...) will run once with the outcome. Anything else: not queued
 * (NODE_ESHUTDOWN, or NODE_EIO out of memory); done never runs. */
node_status_t node_propose_async(node_t *n, const void *data, size_t len, unsigned timeout_ms,
                                 node_done_fn done, void *arg);
node_status_t node_read_barrier_async(node_t *n, unsigned timeout_ms, node_done_fn done, void *arg);

/* The current term while this node is the leader, else 0. A lock-free
 * read (any thread) of what the Raft thread last saw; a leader that is
 * deposed and has not heard it yet still says so, like any Raft leader. */
uint64_t node_leader_term(node_t *n);

/* ---- blocking requests (any thread but the Raft thread) ---------------------- */

/* Replicates data and waits until it is applied on this node (forwarded to
 * the leader if this node follows). *result gets the state machine's reply
 * (malloc'd, caller frees; may be NULL). */
node_status_t node_propose(node_t *n, const void *data, size_t len, unsigned timeout_ms,
                           uint8_t **result, size_t *result_len);
/* Waits until this node's state machine reflects every write acknowledged
 * before the call (ReadIndex, thesis §6.4): read the state after it. */
node_status_t node_read_barrier(node_t *n, unsigned timeout_ms);
/* Adds a server as a learner; the leader promotes it to voter once it has
 * caught up (thesis §4.2.1). A member with the same name and address: no-op. */
node_status_t node_add_server(node_t *n, const char *name, const char *addr, unsigned timeout_ms);
node_status_t node_remove_server(node_t *n, const char *name, unsigned timeout_ms);
/* name NULL: the most up-to-date voter. */
node_status_t node_transfer(node_t *n, const char *name, unsigned timeout_ms);

typedef struct node_peer_status {
    char name[64];
    char addr[128];
    raft_id_t id;
    bool voter;
    bool self;
    raft_index_t match;
    int64_t last_contact_ms;   /* -1: never / unknown */
} node_peer_status_t;

typedef struct node_status_info {
    raft_role_t role;
    raft_term_t term;
    char leader_name[64];
    char leader_addr[128];
    raft_index_t commit, applied, last_index, snapshot_index;
    char cluster_id[33];      /* 32 hex digits, or "none" while not known */
    size_t n_peers;
    node_peer_status_t peers[RAFT_MAX_MEMBERS * 2];
} node_status_info_t;
node_status_t node_status(node_t *n, node_status_info_t *out);

/* Appends the node's metrics (dnsraft_raft_*, raft/node_metrics.c) in the
 * Prometheus text format. Waits for the Raft thread's status (node_status,
 * up to 2 s); -1 when it did not come (the counters are written anyway). */
struct bytebuf;
int node_write_metrics(node_t *n, struct bytebuf *b);

#endif
