/* raft/node_identity.h — a node's data dir knows whose it is (issue #12):
 * the node name it was made for and the cluster it belongs to
 * (raft/identity.h has the file and the encodings). Private to raft/node.c,
 * Raft thread only (node_identity_open runs before the thread starts).
 *
 * The rules:
 * - A data dir whose identity names another node is refused at start:
 *   "data dir DIR belongs to node id2, not id3".
 * - The founding node draws the cluster id when it founds the cluster and
 *   proposes it once as a cluster entry; every member learns it when that
 *   entry applies, or from a snapshot's envelope, and writes it to its
 *   identity file.
 * - A node whose data dir knows cluster X refuses a snapshot or log entries
 *   of cluster Y before it writes any of them (node_identity_check): it
 *   stops taking part in Raft with a log line that names both clusters.
 * - A data dir from before identity files is adopted: the file is written
 *   with this node's name (and, on the founder, a new cluster id). */
#ifndef RAFT_NODE_IDENTITY_H
#define RAFT_NODE_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/identity.h"
#include "raft/raft.h"

typedef struct node_identity {
    char dir[512];
    struct identity file;                 /* what DIR/identity says */
    bool founder;                         /* proposes the cluster entry */
    bool replicated;                      /* the replicated state holds the id */
    bool announcing;                      /* a cluster entry proposal in flight */
    uint64_t next_announce_ms;
} node_identity_t;

/* Loads or creates DIR/identity for node `name`; fresh: the data dir held
 * nothing; founder: this node founds (or founded) its cluster. -1 with a
 * message in err when the data dir is another node's or the file is
 * damaged. */
int node_identity_open(node_identity_t *ni, const char *dir, const char *name, bool fresh,
                       bool founder, char *err, size_t err_len);

/* Before a Ready batch is persisted: 0 when its snapshot and entries belong
 * to our cluster (or we do not know ours yet); -1 with the reason. */
int node_identity_check(const node_identity_t *ni, const raft_ready_t *rd, char *why, size_t len);

/* A committed entry: true when it is a cluster entry (the node layer's, not
 * for the state machine); learns the id. *conflict is set when the entry
 * names another cluster than the data dir's (the node must stop). */
bool node_identity_apply(node_identity_t *ni, const raft_entry_t *e, bool *conflict);

/* A snapshot envelope's cluster trailer was read (has: it carried one):
 * learns the id. -1 if it names another cluster. */
int node_identity_restore(node_identity_t *ni, bool has, const uint8_t id[CLUSTER_ID_LEN]);

/* True when this node should propose the cluster entry now (the founder,
 * the replicated state does not hold it yet, none in flight). Fills
 * entry; the caller calls node_identity_announced(ok) when it is done. */
bool node_identity_should_announce(node_identity_t *ni, uint64_t now_ms,
                                   uint8_t entry[CLUSTER_ENTRY_LEN]);
void node_identity_announced(node_identity_t *ni, bool ok, uint64_t now_ms);

/* The cluster id as text, or "none" when not known yet. */
void node_identity_cluster_text(const node_identity_t *ni, char out[CLUSTER_ID_TEXT]);

#endif
