/* raft/node_int.h — what the three files of the node runtime share:
 * struct node, the request records, and the functions one file calls in
 * another. Private to raft/node*.c.
 *
 *   node.c          life cycle (start, stop), events (messages, ticks,
 *                   hellos), status
 *   node_requests.c requests: submitted by other threads, started on the
 *                   Raft thread, forwarded to the leader, completed
 *   node_ready.c    the Ready batch: persist, send, apply, snapshots
 *   node_health.c   what readiness needs: catch-up target, leader contact
 */
#ifndef RAFT_NODE_INT_H
#define RAFT_NODE_INT_H

#include "raft/node.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/handoff.h"
#include "common/loop.h"
#include "common/promtext.h"
#include "raft/addrbook.h"
#include "raft/node_disk.h"
#include "raft/node_identity.h"
#include "raft/transport.h"

enum {
    FRAME_FWD_REQ = RAFT_FRAME_APP_MIN,
    FRAME_FWD_RESP,
    FRAME_CLUSTER,   /* node_identity.h */
    MAX_FORWARD_TIMEOUT_MS = 60000,
    JOIN_TIMEOUT_MS = 10000,
};

typedef enum req_kind { REQ_PROPOSE = 1, REQ_READ, REQ_ADD, REQ_REMOVE, REQ_TRANSFER, REQ_STATUS } req_kind_t;

typedef enum req_wait {
    WAIT_NONE,
    WAIT_RETRY,    /* no usable leader yet: start again on the next tick */
    WAIT_COMMIT,   /* for the entry (index, term) to be applied */
    WAIT_READ,     /* for the read state with our ctx */
    WAIT_APPLIED,  /* for applied >= index */
    WAIT_FORWARD,  /* for the leader's FWD_RESP */
    WAIT_TRANSFER, /* for another node to lead */
} req_wait_t;

typedef struct request {
    handoff_link_t link;      /* in n->incoming until the Raft thread takes it */
    req_kind_t kind;
    uint8_t *data;
    size_t len;
    char name[ADDRBOOK_NAME_MAX];
    char addr[ADDRBOOK_ADDR_MAX];
    uint64_t deadline_ms;
    raft_id_t origin;         /* nonzero: forwarded by that follower */
    uint64_t fwd_id;          /* its id there, or ours when we forward */
    raft_id_t fwd_to;         /* the leader we forwarded it to (WAIT_FORWARD) */
    /* completion: done(done_arg, ...) runs once, from deliver_finished */
    node_done_fn done;
    void *done_arg;
    node_status_t status;
    uint8_t *result;          /* the state machine's reply, handed to done */
    size_t result_len;
    node_status_info_t *info; /* REQ_STATUS: filled on the Raft thread */
    /* Raft thread only */
    req_wait_t wait;
    raft_index_t index;
    raft_term_t term;
    uint64_t ctx;
    struct request *next;
} request_t;

struct node {
    node_options_t o;
    char name[ADDRBOOK_NAME_MAX];
    char listen[ADDRBOOK_ADDR_MAX];
    char advertise[ADDRBOOK_ADDR_MAX];
    char data_dir[512];
    raft_id_t id;
    raft_t *r;
    node_disk_t disk;
    node_identity_t ident;    /* whose data dir this is (node_identity.h) */
    loop_t *loop;
    transport_t *tr;
    addrbook_t book;
    pthread_t thread;
    bool thread_started;
    bool failed;              /* storage failed: the node stopped taking part */
    /* The disk was full (ENOSPC) for the Ready batch not yet advanced:
     * failed is set too, so nothing else reaches the core, and on_tick
     * retries the same batch every second (node_retry_full_storage). */
    bool storage_full;
    uint64_t full_retry_ms;
    raft_index_t applied_entry; /* last entry apply_entry handed out */
    bool was_empty;           /* nothing on disk at start */
    bool book_dirty;          /* address book changed since last saved */
    /* shared with other threads */
    pthread_mutex_t mu;
    handoff_t incoming;       /* submitted requests; pushed under mu */
    bool stopping;
    /* Raft thread only */
    request_t *pending;
    request_t *finished, **finished_tail; /* answered, callbacks not yet run */
    uint64_t next_ctx;
    uint64_t last_heard[ADDRBOOK_MAX];
    raft_id_t heard_id[ADDRBOOK_MAX];
    uint64_t start_ms;
    /* what pending_sweep callbacks look at (Raft thread only) */
    const raft_entry_t *sweep_entry;
    uint8_t *sweep_result;
    size_t sweep_result_len;
    raft_index_t sweep_applied;
    uint64_t bytes_since_snapshot; /* log bytes applied since the last one */
    /* last role and leader logged */
    raft_role_t logged_role;
    raft_id_t logged_leader;
    raft_term_t logged_term;
    /* node_health.c (Raft thread only) */
    bool had_data;            /* something committed on disk at start */
    bool target_known;
    raft_index_t target;
    uint64_t current_ms;
    uint64_t hint_saved_ms;   /* last commit hint written (node_disk.h) */
    /* Metrics (raft/node_metrics.c): the Raft thread writes, scrapes read. */
    struct {
        prom_counter_t leader_changes;
        prom_counter_t proposals_taken, proposals_committed, proposals_failed;
        prom_counter_t snapshots, snapshots_installed;
        prom_duration_hist_t snapshot_duration;
    } metrics;
    /* The term while this node leads, else 0 (node_leader_term; written on
     * the Raft thread with every Ready, read by any thread). */
    _Atomic uint64_t leader_term;
};

/* node.c */
void node_fill_status(node_t *n, node_status_info_t *s);

/* node_ready.c */
bool node_learn_address(node_t *n, raft_id_t id, const char *name, const char *addr);
void node_load_address_book(node_t *n);
void node_learn_config(node_t *n, const raft_entry_t *e);
bool node_members_has(const raft_members_t *m, raft_id_t id);
raft_members_t node_peers_to_keep(const node_t *n);
int node_restore_fsm(node_t *n, const uint8_t *data, size_t len);
const char *node_name_of(const node_t *n, raft_id_t id);
void node_process_one_ready(node_t *n);
/* While storage_full: once a second, the unadvanced batch again. */
void node_retry_full_storage(node_t *n);
/* What a request gets while the node is failed: NODE_ENOSPC or NODE_EIO. */
node_status_t node_failed_status(const node_t *n);
const char *node_check_snapshot(void *ctx, const raft_snapshot_t *s);
void node_after_batch(void *ctx);

/* node_health.c */
void node_health_start(node_t *n);
void node_health_note_message(node_t *n, const raft_msg_t *m);
void node_health_report(node_t *n);
void node_health_save_commit_hint(node_t *n, bool now);

/* node_requests.c */
void node_req_finish(node_t *n, request_t *q, node_status_t status);
void node_deliver_finished(node_t *n);
void node_pending_sweep(node_t *n, bool (*done)(node_t *, request_t *, node_status_t *));
bool node_is_peer_member(const node_t *n, raft_id_t id);
void node_req_start(node_t *n, request_t *q);
void node_drain_incoming(node_t *n);
void node_send_cluster_frame(node_t *n, raft_id_t to, bool ask);
void node_on_app_frame(void *ctx, raft_id_t from, const uint8_t *body, size_t len);
void node_on_join(void *ctx, const raft_hello_t *from, transport_reply_t reply,
                  const uint8_t *b, size_t len);
node_status_t node_submit_proposal(node_t *n, const void *data, size_t len, unsigned timeout_ms,
                                   node_done_fn done, void *arg);

#endif
