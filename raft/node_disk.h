/* raft/node_disk.h — the node's durable state: recovery on start and the
 * persistence half of the Ready contract (raft.h), over wal, hardstate and
 * snapfile. Private to raft/node.c.
 *
 * Snapshot files hold, as the snapfile "config", the members in effect at
 * the snapshot index, and as data the node's snapshot envelope:
 *   u32 address-book length | address book (addrbook.h) [| cluster trailer]
 *   | state machine bytes
 * (the cluster trailer, identity.h, counts in the address-book length)
 * which is also exactly what the core sends to lagging followers, so a
 * follower that installs a snapshot learns every member's address too. */
#ifndef RAFT_NODE_DISK_H
#define RAFT_NODE_DISK_H

#include <stdbool.h>
#include <stddef.h>

#include "common/promtext.h"
#include "raft/addrbook.h"
#include "raft/core/raft.h"
#include "common/storage_io.h"
#include "raft/wal.h"

typedef struct node_disk {
    char dir[512];
    struct wal *wal;
    /* What raft_new restarts from; freed by node_disk_free_recovered. */
    raft_persisted_t rec;
    raft_entry_t *rec_entries;
    uint8_t *rec_snapshot;
    bool fresh; /* nothing on disk at all: a brand-new node */
    raft_hard_state_t saved; /* last hard state written */
    prom_duration_hist_t fsync; /* WAL syncs (Raft thread writes; any reads) */
    /* The newest snapshot file's index: the next local snapshot drops only
     * the log up to this one, so the log always covers the entries after
     * the previous snapshot and a corrupt newest one can fall back to it
     * (issue 18; docs/storage.md). */
    uint64_t snap_index;
    /* Set while recovering from the older snapshot: the bad newest file
     * and why it was refused. */
    char bad_snap[64];
    char bad_snap_msg[STORAGE_ERROR_MAX];
    /* Set by the node while it persists again a batch that failed with
     * ENOSPC: entries of it already in the log are not appended twice. */
    bool retrying;
} node_disk_t;

/* Creates the directory (and parents) if needed, loads hard state, the
 * newest snapshot and the log. On failure returns -1 with a message naming
 * the file and offset. */
int node_disk_open(node_disk_t *d, const char *dir, char *err, size_t err_len);
void node_disk_free_recovered(node_disk_t *d);
void node_disk_close(node_disk_t *d);

/* Persists a ready batch: snapshot (and log reset), truncation, entries,
 * hard state, then one fsync for the entries. 0 or -1 with err. */
int node_disk_persist(node_disk_t *d, const raft_ready_t *rd, struct storage_error *err);
/* Saves the commit hint alone (term and vote as last saved), when commit
 * is past the saved one. commit must be durable in this node's log or
 * snapshot (an applied index is). So a restart replays what it had applied
 * without waiting for a leader (kv/readiness.h). 0 or -1 with err. */
int node_disk_save_commit_hint(node_disk_t *d, raft_index_t commit, struct storage_error *err);
/* Writes a snapshot file for the core's current snapshot (after
 * raft_compact) and drops the log segments the previous snapshot covers
 * (not this one's: the log still reaches back to the previous snapshot, the
 * fall-back if this one is found corrupt at the next start). */
int node_disk_save_snapshot(node_disk_t *d, const raft_snapshot_t *s, struct storage_error *err);

/* Snapshot envelope helpers. -1 when malformed. The _cluster variant also
 * gives the cluster id the envelope carries (*has_cluster false: none). */
int node_envelope_split(const uint8_t *data, size_t len, addrbook_t *book,
                        const uint8_t **fsm_data, size_t *fsm_len);
int node_envelope_split_cluster(const uint8_t *data, size_t len, addrbook_t *book,
                                const uint8_t **fsm_data, size_t *fsm_len, bool *has_cluster,
                                uint8_t cluster[16]);

#endif
