/* raft/snapfile.h — snapshot files in DIR/snap/: written by the local state
 * machine in chunks, received from a leader in chunks, read back in chunks,
 * so a large snapshot is never held in memory (let alone twice).
 *
 * A file is named "snap-<index>-<term>.snap" (16 lowercase hex digits each)
 * and laid out as (little-endian; docs/storage.md has every byte):
 *
 *   header  40 bytes: magic "RAFTSNAP", version, config_len, index, term,
 *                     header CRC32C
 *   config  config_len bytes (the cluster configuration, opaque here)
 *   data    the state machine's bytes (opaque here)
 *   trailer 24 bytes: data_len u64, CRC32C of every byte before it and of
 *                     data_len, reserved u32, magic "SNAPEND\0"
 *
 * Files appear atomically: written as *.tmp, fsynced, renamed, directory
 * fsynced, so a named file that fails its checks is corruption. After each
 * new snapshot only the newest SNAP_KEEP are kept.
 *
 * Every call returns 0 or a negative errno with *err filled; -EBADMSG means
 * a corrupt file (the message names it and the offset). */
#ifndef RAFT_SNAPFILE_H
#define RAFT_SNAPFILE_H

#include <stddef.h>
#include <stdint.h>

#include "common/storage_io.h"

#define SNAP_DIR "snap"
#define SNAP_HEADER_SIZE 40
#define SNAP_TRAILER_SIZE 24
#define SNAP_MAX_CONFIG (16u << 20)
#define SNAP_KEEP 2

struct snap_meta {
    uint64_t index;       /* last log index the snapshot covers */
    uint64_t term;        /* its term */
    uint32_t config_len;
    uint64_t data_len;
    uint64_t file_size;   /* bytes of the whole file (what a leader sends) */
};

/* Bytes a writer or receiver buffers before each write (0 = the default,
 * 256 KiB). For tests and fuzzing: a small buffer takes the buffer-full
 * path with small files and spares a large allocation per file. Call it
 * while no writer or receiver is open (a process-wide setting). */
void snap_set_write_buffer_size(size_t bytes);

/* ---- writing a snapshot of the local state machine ---- */
struct snap_writer;
/* Starts DIR/snap/snap-<index>-<term>.snap.tmp (creating DIR/snap). The
 * config bytes are copied. *out is owned by the caller until commit/abort. */
int snap_writer_begin(const char *data_dir, uint64_t index, uint64_t term, const void *config,
                      uint32_t config_len, struct snap_writer **out, struct storage_error *err);
int snap_writer_write(struct snap_writer *w, const void *chunk, size_t len,
                      struct storage_error *err);
/* Seals, fsyncs and renames the file into place, then prunes old ones.
 * Frees w whatever the outcome; on failure the temp file is removed and the
 * previous snapshots are untouched. meta may be NULL. */
int snap_writer_commit(struct snap_writer *w, struct snap_meta *meta, struct storage_error *err);
/* Drops an unfinished snapshot (removes the temp file) and frees w. */
void snap_writer_abort(struct snap_writer *w);

/* ---- receiving a leader's snapshot file (InstallSnapshot chunks) ---- */
struct snap_receiver;
/* Starts DIR/snap/recv-<index>-<term>.snap.tmp. The chunks are the raw
 * bytes of the leader's file (snap_reader_read_raw on its side). */
int snap_receiver_begin(const char *data_dir, uint64_t index, uint64_t term,
                        struct snap_receiver **out, struct storage_error *err);
/* Appends a chunk that must start at byte `offset` == snap_receiver_offset
 * (-EINVAL otherwise; a chunk resent by the leader is the caller's to skip). */
int snap_receiver_write(struct snap_receiver *r, uint64_t offset, const void *chunk, size_t len,
                        struct storage_error *err);
uint64_t snap_receiver_offset(const struct snap_receiver *r);
/* Checks the whole file (format, checksums, index and term as announced),
 * then installs it like snap_writer_commit. Frees r whatever the outcome. */
int snap_receiver_finish(struct snap_receiver *r, struct snap_meta *meta,
                         struct storage_error *err);
void snap_receiver_abort(struct snap_receiver *r);

/* ---- reading ---- */
struct snap_reader;
/* Opens the newest snapshot (highest index, then term) after checking the
 * whole file. -ENOENT when there is none. If the newest fails its checks
 * the result is -EBADMSG, not a silent fall-back to an older one: only the
 * caller knows whether its log covers what came after the older one (see
 * snap_open_older; raft/node_disk.c). */
int snap_open_newest(const char *data_dir, struct snap_reader **out, struct storage_error *err);
/* After snap_open_newest said -EBADMSG: opens the next older snapshot
 * (checked like the newest) and names the bad newest one in bad_name
 * (SNAP_NAME_LEN + 1 bytes). -ENOENT when there is no older one. The caller
 * must check that its log covers the entries after the older one before it
 * uses it, then snap_set_aside the bad file (issue 18). */
int snap_open_older(const char *data_dir, struct snap_reader **out, char *bad_name,
                    struct storage_error *err);
/* Renames snap/<name> to snap/<name>.corrupt (durably): kept for a person
 * to look at, no longer a snapshot for start, sending or pruning. */
int snap_set_aside(const char *data_dir, const char *name, struct storage_error *err);
/* Opens and checks one snapshot by index and term. */
int snap_open(const char *data_dir, uint64_t index, uint64_t term, struct snap_reader **out,
              struct storage_error *err);
const struct snap_meta *snap_reader_meta(const struct snap_reader *r);
/* The config bytes (meta->config_len of them), owned by the reader. */
const uint8_t *snap_reader_config(const struct snap_reader *r);
/* Next chunk of the state machine's data: *got == 0 at the end. The data is
 * checksummed again as it streams; -EBADMSG at the end if the file changed
 * after it was opened. */
int snap_reader_read(struct snap_reader *r, void *buf, size_t cap, size_t *got,
                     struct storage_error *err);
/* Raw file bytes at offset, for sending to a follower; *got == 0 at end. */
int snap_reader_read_raw(struct snap_reader *r, uint64_t offset, void *buf, size_t cap,
                         size_t *got, struct storage_error *err);
void snap_reader_close(struct snap_reader *r);

/* Removes leftover *.tmp files (interrupted writes or receptions); call once
 * on start, before any writer or receiver exists. */
int snap_cleanup_temp(const char *data_dir, struct storage_error *err);

#endif
