/* kv/cluster_int.h — what the files of the replicated service share:
 * struct cluster and the functions one file calls in another. Private to
 * kv/cluster*.c.
 *
 *   cluster.c        life cycle, the state-machine adapters for the Raft
 *                    node, and the write policy (retry, maybe applied)
 *   cluster_admin.c  admin command dispatch (kv, raft, zone commands)
 *   cluster_zones.c  the zone loader thread
 *   cluster_join.c   the join client: asks a member to add this node
 */
#ifndef KV_CLUSTER_INT_H
#define KV_CLUSTER_INT_H

#include "kv/cluster.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/promtext.h"
#include "kv/adminserver.h"
#include "kv/result.h"
#include "kv/statemachine.h"
#include "raft/node.h"

enum {
    WRITE_TIMEOUT_MS = 5000,
    READ_TIMEOUT_MS = 5000,
    MEMBERSHIP_TIMEOUT_MS = 10000,
    RETRY_PAUSE_MS = 10, /* one Raft tick: failover is measured in these */
    CHUNK_TIMEOUT_RETRIES = 3,
    BACKOFF_MAX_MS = 5000,
    STOP_POLL_MS = 100, /* how soon a blocked joiner notices a stop */
};

struct cluster {
    cluster_options_t o;
    char name[64];
    sm_t *sm;
    node_t *node;
    admin_server_t *admin;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool reload_wanted;
    bool stopping;
    pthread_t loader, joiner;
    bool loader_started, joiner_started;
    admin_server_client_t loader_client;
    char *join_token;     /* the admin token, sent by the join thread; or NULL */
    const char *loader_doing;   /* "parsing", "replicating" or NULL (idle); under mu */
    const char *loader_file;    /* the zone file it is about (a config string) */
    /* Metrics (kv/cluster_metrics.c): the loader thread writes. */
    prom_counter_t zone_loads, zone_load_errors;
};

typedef struct outcome {
    node_status_t node;  /* NODE_OK: res is valid */
    kv_result_t res;
} outcome_t;

/* cluster.c */
uint64_t cluster_random_u64(void);
void cluster_decode_result(const uint8_t *reply, size_t reply_len, kv_result_t *res);
bool cluster_write_retry(node_status_t st, bool *maybe_applied, uint64_t now,
                         uint64_t deadline_ms, node_status_t *answer);
outcome_t cluster_propose(cluster_t *c, const uint8_t *cmd, size_t len, unsigned timeout_ms);

/* cluster_admin.c */
void cluster_admin_exec(void *ctx, admin_server_client_t *cl, const char *line, size_t len,
                        admin_server_call_t *call);
void cluster_on_text_conn(void *ctx, int fd, const uint8_t *first, size_t len);
int cluster_setup_admin(cluster_t *c, const cluster_options_t *o, char *err, size_t err_len);

/* cluster_join.c */
void *cluster_joiner_thread(void *arg);

/* cluster_zones.c */
bool cluster_stopping(cluster_t *c);
void cluster_pause_ms(cluster_t *c, unsigned ms);
void cluster_loader_doing(cluster_t *c, const char *what, const char *path);
void *cluster_loader_thread(void *arg);

#endif
