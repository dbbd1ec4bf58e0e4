/* kv/cluster.h — the replicated service one daemon runs: the state machine
 * (kv/statemachine.h) driven by a Raft node (raft/node.h), the admin
 * protocol on the Raft port (kv/admin.h, kv/adminserver.h), this node's
 * zone files loaded through Raft at start and on reload, and joining an
 * existing cluster.
 *
 * Zones: the loader thread parses each of this node's zone files and
 * submits it as a chunked zone replace (kv/command.h); while there is no
 * leader it waits and retries with back-off, logging what it waits for; if
 * a load is interrupted (leader change, a chunk lost) it starts again with a
 * new load id, and the state machine drops the partial one. A file that
 * does not parse is logged as "file:line: reason" and the replicated version
 * stays. DNS is answered from the local applied state (zonedb handle).
 *
 * Clients (thesis §6.3): the loader and every admin connection are each a
 * client with a random 64-bit id and sequence numbers in order, so a
 * command retried after a lost reply is applied once. */
#ifndef KV_CLUSTER_H
#define KV_CLUSTER_H

#include <stdbool.h>
#include <stddef.h>

#include "raft/core/raft.h"
#include "zone/db.h"

typedef struct cluster_options {
    const char *name;        /* -id */
    const char *raft_addr;   /* -raft.addr */
    const char *data_dir;    /* -data.dir */
    const char *join;        /* -raft.join, or NULL */
    char *const *zone_files;
    size_t n_zone_files;
    zonedb_handle_t *zonedb; /* where applied zones are published */
    unsigned journal_max;          /* -zone.journal.max; 0: default */
    unsigned journal_max_mib;      /* -zone.journal.max.mib; 0: default */
    unsigned election_ms;    /* 0: default */
    unsigned heartbeat_ms;   /* 0: default */
    uint64_t snapshot_entries; /* 0: default */
    /* -cluster.key.file, loaded (raft/peerauth.h); NULL: no peer
     * authentication. With a key, peers and joins must prove it and the
     * admin `raft join` is refused. Must outlive the cluster. */
    const struct peerauth_ring *cluster_key;
    const char *admin_addr;       /* -admin.addr: own admin listener, or NULL */
    const char *admin_token_file; /* -admin.token.file, or NULL: no admin auth */
    bool admin_off_raft_port;     /* -admin.on.raft.port=false */
    /* Tests only (the nemesis test's checker must catch them): */
    bool unsafe_local_reads; /* kv get from local state, without ReadIndex */
    bool test_stuck_loader;  /* tests only: the loader hangs as on a dead NFS mount */
    raft_bug_t raft_bugs;
} cluster_options_t;

typedef struct cluster cluster_t;

/* Starts Raft (bootstrapping a one-node cluster when the data dir is empty
 * and there is nothing to join), the admin server and the zone loader, and
 * joins `join` in the background. NULL with err on failure. */
cluster_t *cluster_start(const cluster_options_t *o, char *err, size_t err_len);
/* The Raft node (for kv/dnsupdate.h); valid until cluster_stop. */
struct node;
struct node *cluster_node(cluster_t *c);
/* The state machine (for kv/xfrjournal.h); valid until cluster_stop. */
struct sm;
struct sm *cluster_sm(cluster_t *c);
/* Re-reads this node's zone files (SIGHUP). Returns at once. */
void cluster_reload(cluster_t *c);
/* Graceful stop: hands leadership over if leading, stops taking commands,
 * flushes and frees. The node stays a member of the cluster. */
void cluster_stop(cluster_t *c);

#endif
