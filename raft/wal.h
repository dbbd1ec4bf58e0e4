/* raft/wal.h — the segmented write-ahead log of Raft entries in DIR/wal/.
 *
 * The log is a run of segment files, each named by the index of its first
 * record in 16 lowercase hex digits ("0000000000000001.wal"), each a 32-byte
 * header then records back to back:
 *
 *   [len u32][crc32c u32][type u8][term u64][index u64][payload: len bytes]
 *
 * little-endian, the CRC covering type, term, index and payload. Indexes are
 * consecutive within a segment and from one segment to the next. The exact
 * bytes and the recovery rules are in docs/storage.md.
 *
 * Durability is the caller's to ask for: wal_append buffers records (and
 * writes them to the file when the buffer fills); nothing is durable until
 * wal_sync returns 0. Group commit is the caller appending every entry it
 * has, then calling wal_sync once, then acknowledging all of them.
 *
 * The last segment's file runs up to 1 MiB past its records, filled with
 * zeros that records are later written over (preallocation keeps fdatasync
 * from committing a journal transaction each time); a record header of
 * zeros ends a segment's records.
 *
 * Recovery (wal_open): a torn tail of the last segment (a record cut short,
 * or a bad CRC with nothing valid after it, trailing zero bytes included, or
 * a record part of which never reached the disk — a zero header or a zero
 * sector — whatever follows it) is truncated with a warning naming the file
 * and offset. Anything else wrong —
 * a bad CRC with valid data after it, a bad segment header, a gap between
 * segments or inside one — fails with -EBADMSG and a message naming the
 * file and offset: committed data is never dropped silently.
 *
 * Errors: every call returns 0 or a negative errno with *err filled.
 * -ENOSPC and other write errors drop the records not yet written (the file
 * is cut back to the last whole record; wal_last_index says what is left)
 * and the log stays usable. A failed fsync (or a failed cut-back) leaves the
 * log "failed": every later call returns -EIO until it is closed and
 * reopened, because after a failed fsync the kernel may have discarded the
 * dirty pages, and only re-reading the disk tells what is really there.
 *
 * Not thread-safe: one thread (the Raft thread) owns a struct wal. */
#ifndef RAFT_WAL_H
#define RAFT_WAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/storage_io.h"

#define WAL_DIR "wal"
#define WAL_SEGMENT_HEADER_SIZE 32
#define WAL_RECORD_HEADER_SIZE 25
#define WAL_DEFAULT_SEGMENT_SIZE (64u << 20)
/* Larger payloads are refused on append and treated as a corrupt length on
 * recovery (DESIGN.md keeps entries around 1 MiB). */
#define WAL_MAX_PAYLOAD (64u << 20)

struct wal;

struct wal_options {
    /* A segment is closed and a new one started when the next record would
     * take it past this many bytes (a record larger than that gets a
     * segment of its own). 0 = WAL_DEFAULT_SEGMENT_SIZE; at most 1 GiB. */
    uint64_t segment_size;
};

struct wal_record {
    uint64_t index;
    uint64_t term;
    uint8_t type;         /* opaque to the log */
    uint32_t len;
    const uint8_t *data;  /* len bytes */
};

/* Opens (creating DIR and DIR/wal if needed) and recovers the log. *out is
 * owned by the caller: wal_close. opt may be NULL. -EBUSY if the log is
 * open already (an exclusive flock on DIR/wal, released by wal_close or
 * by the process dying). */
int wal_open(const char *data_dir, const struct wal_options *opt, struct wal **out,
             struct storage_error *err);
/* Flushes buffered records (without fsync: unsynced records may or may not
 * survive) and frees everything. NULL is fine. */
void wal_close(struct wal *w);

/* First and last index held; both 0 when the log holds no record. */
uint64_t wal_first_index(const struct wal *w);
uint64_t wal_last_index(const struct wal *w);
/* The index the next append must carry; 0 when any index is accepted (a
 * new, empty log). */
uint64_t wal_next_index(const struct wal *w);
/* Term of a held entry, from memory. -ERANGE if not held. */
int wal_term(const struct wal *w, uint64_t index, uint64_t *term);

/* Appends n records with consecutive indexes following the last one
 * (indexes 0 and UINT64_MAX are refused: the latter would have no next). On
 * a write error every record not yet written to the file is gone — from
 * this call or from earlier calls not yet synced (see above) —
 * and wal_last_index tells where the log ends. */
int wal_append(struct wal *w, const struct wal_record *recs, size_t n,
               struct storage_error *err);
/* Writes buffered records and fdatasyncs: everything appended so far is
 * durable when this returns 0. */
int wal_sync(struct wal *w, struct storage_error *err);

/* Reads one entry, checking its CRC again. rec->data is malloc'd and owned
 * by the caller (free). -ERANGE if the index is not held. */
int wal_read(struct wal *w, uint64_t index, struct wal_record *rec,
             struct storage_error *err);

/* Removes every record with index >= index (a follower's conflicting
 * suffix, Figure 2 "AppendEntries" step 3), durably, across segments. The
 * next append must carry `index`. */
int wal_truncate_suffix(struct wal *w, uint64_t index, struct storage_error *err);
/* Deletes the segments whose every record is <= index (covered by a
 * snapshot at `index`). The active (last) segment is never deleted, so
 * records <= index may remain: wal_first_index says where the log starts. */
int wal_drop_prefix(struct wal *w, uint64_t index, struct storage_error *err);
/* Empties the log durably; the next append must carry next_index (after
 * installing a snapshot at next_index - 1 that the log does not match). */
int wal_reset(struct wal *w, uint64_t next_index, struct storage_error *err);

/* Sequential reading, e.g. replaying the log on start. The iterator reads in
 * large chunks; the log must not be modified while it is open. */
struct wal_iter;
int wal_iter_open(struct wal *w, uint64_t from_index, struct wal_iter **out,
                  struct storage_error *err);
/* 1 and *rec filled (rec->data valid until the next call), 0 at the end, or
 * a negative errno. */
int wal_iter_next(struct wal_iter *it, struct wal_record *rec, struct storage_error *err);
void wal_iter_close(struct wal_iter *it);

/* Segment count and bytes (tests, status). */
size_t wal_segment_count(const struct wal *w);

#endif
