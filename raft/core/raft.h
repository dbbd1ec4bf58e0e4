/* raft/core/raft.h — the Raft consensus core: a deterministic state machine.
 *
 * The core owns no socket, clock, thread or file. Everything that happens to
 * it is one of a few inputs; everything it wants done is gathered into one
 * output batch (raft_ready_t) that the caller carries out and then
 * acknowledges (raft_advance). Because of that, a test can run many cores in
 * one thread over a simulated network and replay any run from a seed.
 *
 *   inputs                          outputs (raft_ready / raft_advance)
 *   ------------------------------  ---------------------------------------
 *   raft_step(r, msg)     received  hard state (term, vote, commit) to persist
 *   raft_tick(r)          time      snapshot to persist and install
 *   raft_propose(r, data, len)      entries to persist (after truncation)
 *   raft_read_index(r, ctx)         messages to send        (after persisting!)
 *   raft_add_learner / promote /    committed entries to apply
 *     remove                        read states (ctx, index) safe to serve
 *   raft_transfer_leadership(r, to)
 *   raft_compact(r, index, snap)
 *
 * Sources: "In Search of an Understandable Consensus Algorithm" (Ongaro &
 * Ousterhout, 2014: "Figure 2", "§5.x") and Ongaro's thesis "Consensus:
 * Bridging Theory and Practice" (2014: "thesis §x.y"). docs/raft.md maps each
 * rule to the function that implements it.
 *
 * ---------------------------------------------------------------------------
 * THE READY / ADVANCE CONTRACT (read this before driving a core)
 * ---------------------------------------------------------------------------
 *   while (raft_has_ready(r)) {
 *       raft_ready_t rd;
 *       raft_ready(r, &rd);
 *       1. if (rd.snapshot)       persist it, discard the whole durable log,
 *                                 restore the state machine from its bytes;
 *       2. if (rd.truncate_from)  delete durable entries with index >= it;
 *          append rd.entries[0..n_entries) to the durable log;
 *       3. if (rd.hard_state_changed) persist rd.hard_state atomically;
 *          fsync everything above  -- ONLY THEN --
 *       4. send rd.msgs[0..n_msgs)  (a vote grant or an append ack must never
 *                                 leave before the vote / entries are durable:
 *                                 Figure 2 "respond after updating stable
 *                                 storage");
 *       5. apply rd.committed[0..n_committed) in order (NOOP and CONFIG
 *          entries too: the state machine just skips them, but the runtime
 *          may learn peer addresses from CONFIG contexts);
 *       6. serve each rd.reads[i] once the applied index >= rd.reads[i].index;
 *       7. raft_advance(r, &rd);
 *   }
 * One permitted exception (thesis §10.2.1): when rd.role is RAFT_LEADER and
 * rd.hard_state's term and vote equal the durable ones, the leader's
 * APPEND and HEARTBEAT messages may leave before its own disk write ends:
 * the core counts the leader's entries towards a commit only after
 * raft_advance, so a crash merely loses the leader's copy.
 * Between raft_ready and raft_advance, call no other function on r except
 * the read-only introspection ones. Every pointer in rd is owned by the core
 * and stays valid until raft_advance returns; copy what must live longer
 * (raft_msg_clone). A crash before step 3 completes loses the batch; the core
 * was designed so that this is safe (nothing was sent that depended on it).
 * The leader counts its own log towards the commit quorum only for entries
 * acknowledged through raft_advance (i.e. durable), like any follower.
 *
 * Errors: functions returning int return 0 on success or a negative
 * RAFT_E* code. Ownership: the caller owns raft_t (raft_new/raft_free);
 * bytes passed in (proposals, snapshots, persisted state) are copied.
 */
#ifndef RAFT_RAFT_H
#define RAFT_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Node ids are nonzero; 0 means "none" (no vote, no known leader). */
typedef uint64_t raft_id_t;
typedef uint64_t raft_term_t;
typedef uint64_t raft_index_t;

/* Terms and indexes from outside (the wire, the disk) must be below these
 * limits, 2^63; anything at or above is forged or corrupt and refused with a
 * log line (raft_msg_check, raft_new). No honest cluster gets there: a new
 * term every millisecond would take 292 million years. The headroom is the
 * point: with every term and index below 2^63, term + 1 (a candidate's or
 * a pre-vote's term, §5.2 / thesis §9.6) and index + n can never wrap to 0,
 * which once left a cluster forged to term 2^64-1 without a leader for good
 * (every later pre-vote asked for term 0). A node whose term reaches
 * RAFT_TERM_LIMIT - 1 can no longer campaign; it says so rather than wrap. */
#define RAFT_TERM_LIMIT (UINT64_C(1) << 63)
#define RAFT_INDEX_LIMIT (UINT64_C(1) << 63)

/* Upper bound on voters + learners; keeps configurations fixed-size so that
 * messages and progress tables need no allocation. */
#define RAFT_MAX_MEMBERS 16
/* Upper bound on raft_options_t.max_inflight. */
#define RAFT_MAX_INFLIGHT 64

/* ---- errors ------------------------------------------------------------- */
enum {
    RAFT_OK = 0,
    RAFT_ENOTLEADER = -1,   /* only the leader can do this; see raft_leader() */
    RAFT_ENOLEADER = -2,    /* follower knows no leader to forward a read to */
    RAFT_EBUSY = -3,        /* a config change is still uncommitted, or a
                               leadership transfer is in progress */
    RAFT_EINVAL = -4,       /* bad argument (unknown id, id 0, bad index...) */
    RAFT_ENOMEM = -5,
    RAFT_ENOTCAUGHTUP = -6, /* learner not caught up yet: promote later */
    RAFT_EFULL = -7,        /* RAFT_MAX_MEMBERS reached */
    RAFT_ECORRUPT = -8,     /* persisted state inconsistent (raft_new) */
    RAFT_ETOOBIG = -9,      /* proposal larger than max_entry_bytes */
};
const char *raft_strerror(int err);

/* ---- deliberately broken variants (for the simulation's teeth test) ----- */
/* Zero means correct behaviour. Each bit switches one known-wrong rule on at
 * run time; only tests set them. */
typedef enum raft_bug {
    RAFT_BUG_NONE = 0,
    /* (a) leader commits an entry of a previous term by counting replicas
     * (violates §5.4.2 / Figure 8). */
    RAFT_BUG_COMMIT_OLD_TERM = 1u << 0,
    /* (b) grant votes without the "candidate's log is at least as
     * up-to-date" check (violates §5.4.1). */
    RAFT_BUG_VOTE_ANY_LOG = 1u << 1,
    /* (c) the vote is never included in the hard state to persist, so a
     * restarted node may vote twice in one term. */
    RAFT_BUG_FORGET_VOTE = 1u << 2,
    /* (d) ReadIndex answered at once, without a heartbeat round confirming
     * leadership (thesis §6.4 step 3 skipped): stale reads. */
    RAFT_BUG_READ_NO_QUORUM = 1u << 3,
    /* (e) pre-vote grants counted as real votes: the candidate becomes
     * leader without a real election (canonical/raft issue 196). */
    RAFT_BUG_PREVOTE_IS_VOTE = 1u << 4,
    /* (f) follower accepts AppendEntries without the Log Matching check on
     * prev_index/prev_term (Figure 2, AppendEntries receiver rule 2). */
    RAFT_BUG_SKIP_LOG_MATCH = 1u << 5,
} raft_bug_t;

/* ---- membership ---------------------------------------------------------- */
/* A configuration: who votes and who only receives the log (learners). Each
 * id appears at most once across both lists. */
typedef struct raft_members {
    uint32_t n_voters;
    uint32_t n_learners;
    raft_id_t voters[RAFT_MAX_MEMBERS];
    raft_id_t learners[RAFT_MAX_MEMBERS];
} raft_members_t;

bool raft_members_is_voter(const raft_members_t *m, raft_id_t id);
bool raft_members_is_learner(const raft_members_t *m, raft_id_t id);

/* ---- log entries --------------------------------------------------------- */
typedef enum raft_entry_type {
    RAFT_ENTRY_NORMAL = 1,  /* opaque client data (raft_propose) */
    RAFT_ENTRY_NOOP = 2,    /* appended by a new leader (§5.4.2, thesis §6.4) */
    RAFT_ENTRY_CONFIG = 3,  /* a whole new configuration: raft_config_decode */
} raft_entry_type_t;

typedef struct raft_entry {
    raft_term_t term;
    raft_index_t index;
    raft_entry_type_t type;
    const uint8_t *data;  /* NULL when len == 0 */
    size_t len;
} raft_entry_t;

/* Decodes the data of a RAFT_ENTRY_CONFIG entry: the configuration and the
 * opaque context given to the change (e.g. a joining peer's address; points
 * into data). Returns RAFT_EINVAL on malformed input. */
int raft_config_decode(const uint8_t *data, size_t len, raft_members_t *out,
                       const uint8_t **ctx, size_t *ctx_len);

/* ---- durable state ------------------------------------------------------- */
/* Figure 2 "Persistent state on all servers" plus commit (kept so that a
 * restarted node need not wait for a leader to re-apply what it knew). */
typedef struct raft_hard_state {
    raft_term_t term;
    raft_id_t vote;
    raft_index_t commit;
} raft_hard_state_t;

/* A state-machine snapshot (§7): everything up to and including index. */
typedef struct raft_snapshot {
    raft_index_t index;   /* 0 = no snapshot */
    raft_term_t term;
    raft_members_t members;  /* configuration in effect at index */
    const uint8_t *data;
    size_t len;
} raft_snapshot_t;

/* What raft_new restarts from: exactly what this node's runtime made durable
 * following the contract above. entries must be contiguous, starting at
 * snapshot.index + 1 (or 1 when there is no snapshot). */
typedef struct raft_persisted {
    raft_hard_state_t hard_state;
    raft_snapshot_t snapshot;
    const raft_entry_t *entries;
    size_t n_entries;
} raft_persisted_t;

/* ---- messages ------------------------------------------------------------ */
typedef enum raft_msg_type {
    RAFT_MSG_APPEND = 1,        /* AppendEntries RPC (Figure 2) */
    RAFT_MSG_APPEND_RESP,
    RAFT_MSG_HEARTBEAT,         /* empty AppendEntries (§5.2) without log
                                   check; carries the ReadIndex round */
    RAFT_MSG_HEARTBEAT_RESP,
    RAFT_MSG_VOTE,              /* RequestVote RPC, or a pre-vote (§9.6) */
    RAFT_MSG_VOTE_RESP,
    RAFT_MSG_SNAPSHOT,          /* InstallSnapshot RPC, one chunk (§7) */
    RAFT_MSG_SNAPSHOT_RESP,
    RAFT_MSG_TIMEOUT_NOW,       /* leadership transfer (thesis §3.10) */
    RAFT_MSG_READ_INDEX,        /* follower -> leader read request (§6.4) */
    RAFT_MSG_READ_INDEX_RESP,
} raft_msg_type_t;

/* AppendEntries: Figure 2 arguments. */
typedef struct raft_append {
    raft_index_t prev_index;
    raft_term_t prev_term;
    raft_index_t commit;          /* leaderCommit */
    const raft_entry_t *entries;  /* n_entries of them, contiguous */
    size_t n_entries;
} raft_append_t;

/* AppendEntries result. On success, index is the last index known to match
 * the leader. On rejection, index is the prev_index that failed, and
 * (hint_index, hint_term) is the follower's fast back-off hint: the largest
 * index <= min(prev_index, its last index) whose term <= prev_term. */
typedef struct raft_append_resp {
    bool success;
    raft_index_t index;
    raft_index_t hint_index;
    raft_term_t hint_term;
} raft_append_resp_t;

typedef struct raft_heartbeat {
    raft_index_t commit;  /* min(leader commit, follower's match) */
    uint64_t read_seq;    /* ReadIndex round being confirmed (0: none) */
} raft_heartbeat_t;

typedef struct raft_heartbeat_resp {
    uint64_t read_seq;    /* echoed */
} raft_heartbeat_resp_t;

/* RequestVote (Figure 2). A pre-vote (thesis §9.6) carries the term the
 * candidate WOULD use (its term + 1) but changes no one's term or vote.
 * transfer marks a campaign started by TimeoutNow (thesis §3.10): receivers
 * then ignore their leader lease. */
typedef struct raft_vote {
    bool prevote;
    bool transfer;
    raft_index_t last_index;
    raft_term_t last_term;
} raft_vote_t;

typedef struct raft_vote_resp {
    bool prevote;
    bool granted;
} raft_vote_resp_t;

/* InstallSnapshot, one chunk (Figure 13, thesis §5.2). Every chunk repeats
 * the snapshot's identity so a follower can detect a switch to a newer one. */
typedef struct raft_snapshot_chunk {
    raft_index_t index;
    raft_term_t term;
    raft_members_t members;
    uint64_t total_len;
    uint64_t offset;
    const uint8_t *data;
    size_t len;
    bool last;             /* offset + len == total_len */
} raft_snapshot_chunk_t;

/* next_offset: bytes of snapshot `index` the follower now holds; the leader
 * continues from there (a duplicate or lost chunk costs one round trip).
 * done: the snapshot is installed (or the follower already had it);
 * match_index is then an index up to which its log matches the leader's
 * (the snapshot index, or its commit index if it was already past it). */
typedef struct raft_snapshot_resp {
    raft_index_t index;
    uint64_t next_offset;
    bool done;
    raft_index_t match_index;
} raft_snapshot_resp_t;

typedef struct raft_read_index_req {
    uint64_t ctx;
} raft_read_index_req_t;

/* ok=false: the leader could not serve it (e.g. it is stepping down). */
typedef struct raft_read_index_resp {
    uint64_t ctx;
    raft_index_t index;
    bool ok;
} raft_read_index_resp_t;

typedef struct raft_msg {
    raft_msg_type_t type;
    raft_id_t from;
    raft_id_t to;
    raft_term_t term;   /* sender's currentTerm (pre-vote: proposed term) */
    union {
        raft_append_t append;
        raft_append_resp_t append_resp;
        raft_heartbeat_t heartbeat;
        raft_heartbeat_resp_t heartbeat_resp;
        raft_vote_t vote;
        raft_vote_resp_t vote_resp;
        raft_snapshot_chunk_t snapshot;
        raft_snapshot_resp_t snapshot_resp;
        raft_read_index_req_t read_index;
        raft_read_index_resp_t read_index_resp;
    } u;
} raft_msg_t;

/* Hostile-input check of a message's meaning, shared by the wire decoder
 * (raft/codec.c) and raft_step (defence in depth: the simulation and tests
 * step the core directly). Returns NULL if m is possible from an honest
 * peer, else a static reason: a term or index at or above the limits, a
 * leader or candidate message in term 0, AppendEntries entries that are not
 * contiguous after prev_index, of term 0, above the message term or going
 * down (Figure 2, §5.3: a leader only holds entries of its term or older,
 * in non-decreasing term order), a prev_term without prev_index or above
 * the message term, a snapshot chunk without index, term or voters, or with
 * a term above the message's (Figure 13), a vote whose last term is above
 * the term asked for (§5.4.1). */
const char *raft_msg_check(const raft_msg_t *m);

/* Deep copy (entries and their data, snapshot chunk bytes) into *dst, for a
 * transport or simulated network that keeps messages after raft_advance.
 * Free with raft_msg_free. Returns RAFT_ENOMEM on failure (dst untouched). */
int raft_msg_clone(const raft_msg_t *src, raft_msg_t *dst);
void raft_msg_free(raft_msg_t *m);
const char *raft_msg_type_name(raft_msg_type_t t);
/* One human-readable line describing m, for traces; returns buf. */
const char *raft_msg_format(const raft_msg_t *m, char *buf, size_t size);

/* ---- configuration of one core ------------------------------------------ */
/* What a trace line is about (raft_options.trace). */
typedef enum raft_trace_kind {
    RAFT_TRACE_DEBUG = 0,   /* a step worth following: role change,
                               snapshot sent or installed, transfer */
    RAFT_TRACE_WARN,        /* odd input survived: a second leader in a
                               term, a malformed config entry */
    RAFT_TRACE_ERROR,       /* input refused because it would break safety
                               or the term limit */
} raft_trace_kind_t;

typedef struct raft_options {
    raft_id_t id;               /* this node, nonzero */
    /* Used only when the persisted state holds no configuration at all (a
     * brand-new cluster): every founding node passes the same voters. A node
     * that joins later passes an empty one and learns the configuration
     * from the leader. */
    raft_members_t bootstrap;
    uint32_t election_ticks;    /* election timeout, in ticks (default 10);
                                   each election waits a random value in
                                   [election_ticks, 2*election_ticks) */
    uint32_t heartbeat_ticks;   /* default 1; must be < election_ticks */
    uint64_t seed;              /* PRNG seed for the randomized timeouts */
    bool pre_vote;              /* thesis §9.6 */
    bool check_quorum;          /* thesis §6.2 / §9.6 leader lease */
    uint32_t max_entries_per_msg;   /* batching, default 64 */
    size_t max_bytes_per_msg;       /* batching, default 1 MiB (>= 1 entry) */
    uint32_t max_inflight;          /* pipelining window, default 16,
                                       at most RAFT_MAX_INFLIGHT */
    size_t snapshot_chunk_bytes;    /* InstallSnapshot chunk, default 64 KiB */
    size_t max_entry_bytes;         /* largest proposal, default 1 MiB */
    raft_bug_t bugs;                /* tests only; 0 = correct */
    /* Optional content check of a snapshot received from a leader, called
     * once all its chunks are here and before it replaces anything (Figure
     * 13 step 7 discards the whole log): returns NULL if the state machine
     * can restore from s->data, else a static reason; the snapshot is then
     * dropped with a log line and the log, state and files stay as they
     * were. NULL accepts every snapshot. Must be a pure function of the
     * bytes (the simulation replays runs). */
    const char *(*snapshot_check)(void *ctx, const raft_snapshot_t *s);
    void *snapshot_check_ctx;
    /* Optional: how the core reports what it does, since it owns no logger,
     * clock or I/O. Called synchronously inside raft_step/raft_tick/... with
     * one formatted line (no newline, valid only during the call). NULL
     * reports nothing. */
    void (*trace)(void *ctx, raft_trace_kind_t kind, const char *text);
    void *trace_ctx;
} raft_options_t;

/* Fills o with defaults (id and bootstrap left empty, pre_vote and
 * check_quorum on). */
void raft_options_init(raft_options_t *o);

typedef struct raft raft_t;

/* Creates a core from its options and what it had made durable (NULL or a
 * zeroed struct for a brand-new node). Copies everything it keeps. Returns
 * NULL and sets *err (if non-NULL) on bad options or inconsistent state. */
raft_t *raft_new(const raft_options_t *opts, const raft_persisted_t *p,
                 int *err);
void raft_free(raft_t *r);

/* ---- inputs -------------------------------------------------------------- */
/* A message received from the network. Messages from unknown nodes, from
 * stale terms or malformed ones are ignored or answered as Raft says. */
int raft_step(raft_t *r, const raft_msg_t *m);

/* One unit of logical time. Election and heartbeat timeouts count ticks. */
void raft_tick(raft_t *r);

/* Leader only: appends a NORMAL entry with a copy of data; *index (if
 * non-NULL) gets its log index. The entry is committed when it shows up in
 * rd.committed with that index AND the same term (raft_term(r) now): a
 * different term at that index means it was lost with the old leader.
 * RAFT_ENOTLEADER: forward to raft_leader(r) (0: unknown, retry later).
 * RAFT_EBUSY: a leadership transfer is in progress (thesis §3.10). */
int raft_propose(raft_t *r, const void *data, size_t len, raft_index_t *index);

/* Linearizable read (thesis §6.4). On success, a raft_read_state_t with this
 * ctx appears in a later rd.reads; the read may be served once the state
 * machine has applied that index. At a follower the request is forwarded to
 * the leader; if the message or the leader is lost, no answer ever comes:
 * the caller times out and retries with a fresh ctx.
 * RAFT_ENOLEADER: no known leader. */
int raft_read_index(raft_t *r, uint64_t ctx);

/* Membership, one server at a time (thesis §4.1). Leader only. Each call
 * appends a RAFT_ENTRY_CONFIG entry holding the whole new configuration; it
 * takes effect on every node as soon as it is in that node's log. A new
 * change is refused (RAFT_EBUSY) while the previous one is uncommitted.
 * ctx (may be NULL/0) is carried opaquely in the entry, e.g. an address.
 *   add_learner: id joins as a non-voting learner (thesis §4.2.1).
 *   promote:     learner -> voter, only once caught up (raft_progress
 *                .caught_up; else RAFT_ENOTCAUGHTUP). The core never promotes
 *                on its own: the runtime/simulation decides when to ask.
 *   remove:      voter or learner leaves. Removing the leader itself is
 *                allowed: it keeps leading (without counting itself) until
 *                the entry commits, then steps down (thesis §4.2.2).
 * *index (may be NULL) gets the config entry's index. */
int raft_add_learner(raft_t *r, raft_id_t id, const void *ctx, size_t ctx_len,
                     raft_index_t *index);
int raft_promote(raft_t *r, raft_id_t id, raft_index_t *index);
int raft_remove(raft_t *r, raft_id_t id, raft_index_t *index);

/* Leadership transfer (thesis §3.10): stop accepting proposals, bring `to`
 * up to date, then send it TimeoutNow so it campaigns at once (skipping
 * pre-vote). to = 0 picks the most up-to-date voter. Aborted if not done
 * within an election timeout. */
int raft_transfer_leadership(raft_t *r, raft_id_t to);

/* The state machine has taken a snapshot covering every entry up to and
 * including index (index <= raft_applied). RAFT_EINVAL also when no
 * configuration with a voter is known at index (a joined node before its
 * first configuration entry): try again at a later applied index. The core copies data, keeps it
 * to send to lagging followers, and drops its in-memory log up to index
 * (§7). The runtime persists the snapshot and compacts its durable log
 * itself; this is not echoed in rd.snapshot. */
int raft_compact(raft_t *r, raft_index_t index, const void *data, size_t len);

/* ---- outputs ------------------------------------------------------------- */
typedef struct raft_read_state {
    uint64_t ctx;
    raft_index_t index;   /* serve the read once applied >= index */
} raft_read_state_t;

typedef enum raft_role {
    RAFT_FOLLOWER = 0,
    RAFT_PRECANDIDATE,
    RAFT_CANDIDATE,
    RAFT_LEADER,
} raft_role_t;
const char *raft_role_name(raft_role_t role);

typedef struct raft_ready {
    bool hard_state_changed;
    raft_hard_state_t hard_state;
    const raft_snapshot_t *snapshot;   /* NULL: none to install */
    raft_index_t truncate_from;        /* 0: no truncation */
    const raft_entry_t *entries;       /* to append durably */
    size_t n_entries;
    const raft_msg_t *msgs;            /* send after persisting the above */
    size_t n_msgs;
    const raft_entry_t *committed;     /* apply in order */
    size_t n_committed;
    const raft_read_state_t *reads;
    size_t n_reads;
    /* Informational (need not be persisted). */
    raft_role_t role;
    raft_id_t leader;
} raft_ready_t;

bool raft_has_ready(const raft_t *r);
/* Fills rd; see the contract at the top. Calling it twice without
 * raft_advance returns the same batch. */
void raft_ready(raft_t *r, raft_ready_t *rd);
/* Acknowledges rd: persisted, sent, applied. */
void raft_advance(raft_t *r, const raft_ready_t *rd);

/* ---- introspection (tests, simulation, metrics) ------------------------- */
raft_id_t raft_id(const raft_t *r);
raft_role_t raft_role(const raft_t *r);
raft_term_t raft_term(const raft_t *r);
raft_id_t raft_vote(const raft_t *r);
raft_id_t raft_leader(const raft_t *r);          /* 0: unknown */
raft_index_t raft_commit(const raft_t *r);
raft_index_t raft_applied(const raft_t *r);      /* last handed out & acked */
raft_index_t raft_first_index(const raft_t *r);  /* snapshot index + 1 */
raft_index_t raft_last_index(const raft_t *r);
/* Term of the entry at index (also the snapshot index); 0 if unknown. */
raft_term_t raft_log_term(const raft_t *r, raft_index_t index);
/* The entry at index, or NULL outside [first_index, last_index]. */
const raft_entry_t *raft_log_entry(const raft_t *r, raft_index_t index);
const raft_snapshot_t *raft_snapshot(const raft_t *r); /* index 0: none */
/* Configuration in effect (the latest one in the log, thesis §4.1). */
const raft_members_t *raft_members(const raft_t *r);
/* Index of the entry that set it (0: bootstrap/snapshot). */
raft_index_t raft_members_index(const raft_t *r);
raft_id_t raft_transfer_target(const raft_t *r); /* 0: none */

/* Leader's view of one follower (§5.3, etcd-style progress). */
typedef enum raft_progress_state {
    RAFT_PROGRESS_PROBE = 0,     /* one append per heartbeat until a match */
    RAFT_PROGRESS_REPLICATE,     /* pipelined, up to max_inflight appends */
    RAFT_PROGRESS_SNAPSHOT,      /* sending InstallSnapshot chunks */
} raft_progress_state_t;
const char *raft_progress_state_name(raft_progress_state_t s);

typedef struct raft_progress {
    raft_id_t id;
    bool voter;
    raft_index_t match;          /* matchIndex (Figure 2) */
    raft_index_t next;           /* nextIndex (Figure 2) */
    raft_progress_state_t state;
    uint32_t inflight;           /* appends sent, not yet acknowledged */
    bool recent_active;          /* heard from within this election timeout */
    bool caught_up;              /* match >= leader's commit: promotable */
    raft_index_t snapshot_index; /* in SNAPSHOT state: the one being sent */
} raft_progress_t;

/* Leader only: fills *out for member id; RAFT_ENOTLEADER / RAFT_EINVAL. */
int raft_progress(const raft_t *r, raft_id_t id, raft_progress_t *out);

/* Cheap internal consistency checks (commit <= last index, applied <=
 * commit, a leader voted for itself, leader is a member of its term...).
 * Returns NULL if all hold, else a static description of the first broken
 * one. Meant to run after every step in tests and the simulation. */
const char *raft_check_invariants(const raft_t *r);

#endif
