/* raft/identity.h — whose data dir this is: the node name (-id) and the
 * cluster it belongs to, in DIR/identity, replaced atomically; and the two
 * places the cluster id travels in replicated state (a log entry and the
 * snapshot envelope), so that every member learns it.
 *
 * File layout (36 + name length bytes, little-endian; docs/storage.md):
 *   0  magic "RAFTIDN\0"   8  version u32 = 1   12 name length u32 (1..63)
 *   16 cluster id (16 bytes; all zero: not learnt yet)
 *   32 name (no NUL)        32+len crc32c u32 over every byte before it
 *
 * The cluster id is 16 random bytes (RAND_bytes) drawn once by the node
 * that founds the cluster. It names the data, not a secret: it is not the
 * cluster key (raft/peerauth), and knowing it grants nothing. */
#ifndef RAFT_IDENTITY_H
#define RAFT_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/addrbook.h"
#include "common/storage_io.h"

#define IDENTITY_FILE "identity"
#define IDENTITY_SIZE_MAX (36 + ADDRBOOK_NAME_MAX - 1)
#define CLUSTER_ID_LEN 16
#define CLUSTER_ID_TEXT (2 * CLUSTER_ID_LEN + 1)

struct identity {
    char name[ADDRBOOK_NAME_MAX];      /* the -id this data dir belongs to */
    uint8_t cluster[CLUSTER_ID_LEN];   /* valid when has_cluster */
    bool has_cluster;
};

/* Encodes into out (IDENTITY_SIZE_MAX bytes); returns the length. The name
 * must be 1..63 bytes. */
size_t identity_encode(const struct identity *id, uint8_t *out);
/* Checked decoding: -EBADMSG with the offending offset and a reason. */
int identity_decode(const uint8_t *buf, size_t len, struct identity *id, size_t *bad_offset,
                    const char **why);
/* Loads DIR/identity. Missing: *found false, 0. Damaged: -EBADMSG with a
 * message naming the file and offset (the node must stop). A leftover
 * identity.tmp is removed. */
int identity_load(const char *dir, struct identity *id, bool *found, struct storage_error *err);
/* Durably replaces DIR/identity (temp file, fsync, rename, fsync dir). */
int identity_save(const char *dir, const struct identity *id, struct storage_error *err);

/* 16 fresh random bytes, never all zero. 0, or -1 if the CSPRNG failed. */
int cluster_id_generate(uint8_t out[CLUSTER_ID_LEN]);
/* 32 lowercase hex digits. */
void cluster_id_text(const uint8_t id[CLUSTER_ID_LEN], char out[CLUSTER_ID_TEXT]);

/* The cluster entry: a normal log entry the founder proposes once, read by
 * the node layer and never handed to the state machine. 24 bytes: the
 * magic "\xffRAFTCID" (no kv command starts with 0xff) and the id. */
#define CLUSTER_ENTRY_LEN 24
void cluster_entry_encode(const uint8_t id[CLUSTER_ID_LEN], uint8_t out[CLUSTER_ENTRY_LEN]);
/* True when data starts with the cluster entry's magic (whatever follows). */
bool cluster_entry_marked(const uint8_t *data, size_t len);
/* True, with the id, when data is exactly a cluster entry. */
bool cluster_entry_decode(const uint8_t *data, size_t len, uint8_t id[CLUSTER_ID_LEN]);

/* The snapshot envelope's cluster trailer (node_disk.h): 24 bytes right
 * after the address book, inside its length: "RCID", u32 0, the id. */
#define CLUSTER_TRAILER_LEN 24
void cluster_trailer_encode(const uint8_t id[CLUSTER_ID_LEN], uint8_t out[CLUSTER_TRAILER_LEN]);
/* 1 with the id, 0 when len is 0 (an envelope from before cluster ids),
 * -1 when malformed. */
int cluster_trailer_decode(const uint8_t *p, size_t len, uint8_t id[CLUSTER_ID_LEN]);

#endif
