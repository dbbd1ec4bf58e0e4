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
 * - Peers tell each other their cluster id in a node-level frame (the
 *   cluster frame) when a connection opens, and every second unasked; once this node knows its
 *   cluster, it hands the core no message from a peer that has not told
 *   it the same cluster (or that it does not know one yet), and refuses,
 *   with one log line, every message of a peer of another cluster. The
 *   log alone could not catch it: two clusters' logs often agree on
 *   (index, term) for their first entries, so a foreign leader's entries
 *   can pass the AppendEntries consistency check (§5.3) without ever
 *   carrying the cluster entry.
 * - A data dir from before identity files is adopted: the file is written
 *   with this node's name (and, on the founder, a new cluster id). */
#ifndef RAFT_NODE_IDENTITY_H
#define RAFT_NODE_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/identity.h"
#include "raft/core/raft.h"

/* What a peer told us of its cluster (cluster frames). */
typedef struct identity_peer {
    raft_id_t id;         /* 0: free slot */
    uint8_t state;        /* IDENTITY_PEER_* (node_identity.c) */
    uint64_t asked_ms;    /* when we last asked it */
    uint64_t seen_ms;     /* when it last told us */
} identity_peer_t;

typedef struct node_identity {
    char dir[512];
    struct identity file;                 /* what DIR/identity says */
    bool founder;                         /* proposes the cluster entry */
    bool replicated;                      /* the replicated state holds the id */
    bool announcing;                      /* a cluster entry proposal in flight */
    uint64_t next_announce_ms;
    uint64_t next_frames_ms;              /* next round of cluster frames */
    identity_peer_t peers[ADDRBOOK_MAX];
} node_identity_t;

/* The cluster frame (an app frame, transport.h): type byte (the caller's
 * frame number), u8 version 1, u8 flags (1: please answer with yours),
 * 16-byte cluster id (all zero: not known yet). */
#define CLUSTER_FRAME_LEN 19

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

/* A proposal forwarded by a peer (it could be anyone without a cluster
 * key): false when it is a cluster entry this node must not propose — one
 * for another cluster than ours, a malformed one, or any once the
 * replicated state holds the id — so that a forged entry cannot make every
 * member refuse its own log. */
bool node_identity_forward_ok(const node_identity_t *ni, const uint8_t *data, size_t len);

/* A snapshot envelope's cluster trailer was read (has: it carried one):
 * learns the id. -1 if it names another cluster. */
int node_identity_restore(node_identity_t *ni, bool has, const uint8_t id[CLUSTER_ID_LEN]);

/* True when this node should propose the cluster entry now (the founder,
 * the replicated state does not hold it yet, none in flight). Fills
 * entry; the caller calls node_identity_announced(ok) when it is done. */
bool node_identity_should_announce(node_identity_t *ni, uint64_t now_ms,
                                   uint8_t entry[CLUSTER_ENTRY_LEN]);
void node_identity_announced(node_identity_t *ni, bool ok, uint64_t now_ms);

/* A Raft message from `from`: true to hand it to the core. False: drop it
 * (Raft retransmits); *ask set when the caller should send `from` a
 * cluster frame asking for its id. */
bool node_identity_admit(node_identity_t *ni, raft_id_t from, uint64_t now_ms, bool *ask);
/* True once per IDENTITY_FRAME_EVERY_MS: time to send every member our
 * cluster frame unasked, so that a peer that cannot reach us with its
 * questions (an asymmetric partition) still learns our cluster. */
#define IDENTITY_FRAME_EVERY_MS 1000
bool node_identity_frames_due(node_identity_t *ni, uint64_t now_ms);
/* A new connection from `from` (its hello): check it again. */
void node_identity_peer_reset(node_identity_t *ni, raft_id_t from);
/* Our cluster frame, with `type` as its first byte. Returns its length. */
size_t node_identity_frame(const node_identity_t *ni, uint8_t type, bool ask,
                           uint8_t out[CLUSTER_FRAME_LEN]);
/* A cluster frame from `from` (body includes the type byte): records what
 * it says; *answer set when it asked for ours. Malformed frames are
 * ignored. `who` names the peer in the log line of a refusal. */
void node_identity_on_frame(node_identity_t *ni, raft_id_t from, const char *who,
                            const uint8_t *body, size_t len, uint64_t now_ms, bool *answer);

/* The cluster id as text, or "none" when not known yet. */
void node_identity_cluster_text(const node_identity_t *ni, char out[CLUSTER_ID_TEXT]);

#endif
