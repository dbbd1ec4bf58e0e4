/* raft/hardstate.h — the Raft hard state (currentTerm, votedFor, and the
 * commit index as a hint) in DIR/hardstate, replaced atomically.
 *
 * File layout (48 bytes, little-endian; docs/storage.md):
 *   0  magic "RAFTHST\0"   8  version u32 = 1   12 reserved u32 = 0
 *   16 term u64            24 vote u64          32 commit u64
 *   40 crc32c u32 over bytes 0..39              44 reserved u32 = 0
 *
 * Figure 2 of the Raft paper requires term and vote to be on stable storage
 * before the node answers an RPC; hardstate_save returns only after the new
 * file and its directory entry are fsynced. */
#ifndef RAFT_HARDSTATE_H
#define RAFT_HARDSTATE_H

#include <stdbool.h>
#include <stdint.h>

#include "common/storage_io.h"

#define HARDSTATE_FILE "hardstate"
#define HARDSTATE_SIZE 48

struct hardstate {
    uint64_t term;
    uint64_t vote;    /* node id voted for in term; 0 = none */
    uint64_t commit;  /* a known-committed index; may lag (not needed for safety) */
};

/* Loads DIR/hardstate. A missing file is a fresh node: *hs is zeroed and
 * *found false. A file of the wrong size, magic, version or checksum is
 * -EBADMSG with a message naming the file and offset: the node must stop.
 * A leftover hardstate.tmp (a save interrupted before its rename) is
 * removed. */
int hardstate_load(const char *data_dir, struct hardstate *hs, bool *found,
                   struct storage_error *err);
/* Durably replaces DIR/hardstate (DIR must exist). On error the previous
 * file is still there, intact. */
int hardstate_save(const char *data_dir, const struct hardstate *hs,
                   struct storage_error *err);
/* The 48-byte encoding, and its checked decoding (exposed for tests and
 * tools). hardstate_decode returns -EBADMSG with the offending offset in
 * *bad_offset. */
void hardstate_encode(const struct hardstate *hs, uint8_t out[HARDSTATE_SIZE]);
int hardstate_decode(const uint8_t *buf, size_t len, struct hardstate *hs,
                     size_t *bad_offset, const char **why);

#endif
