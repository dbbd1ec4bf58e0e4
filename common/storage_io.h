/* common/storage_io.h — what the storage modules (wal, hardstate, snapfile)
 * share: error reports that name a file and an offset, little-endian field
 * encoding, I/O loops that survive EINTR and short transfers, durable
 * directory operations, the atomic "temp file, fsync, rename, fsync dir"
 * write, and fault injection for tests.
 *
 * Every function returns 0 or a negative errno value; on failure the
 * storage_error (which may be NULL) holds a one-line message. Codes used
 * beyond plain I/O errors: -EBADMSG corrupt data (the node must stop),
 * -EINVAL a caller mistake, -ENOENT nothing there. */
#ifndef RAFT_STORAGE_IO_H
#define RAFT_STORAGE_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/bytes.h"

#define STORAGE_ERROR_MAX 512

struct storage_error {
    int code;                     /* the negative errno also returned */
    char msg[STORAGE_ERROR_MAX];  /* "wal/0000000000000001.wal: offset 120: bad CRC ..." */
};

/* Fills *err (when not NULL) and returns code, so callers can write
 * `return storage_fail(err, -EIO, "...")`. */
int storage_fail(struct storage_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* write(2) until everything is written. -errno on failure (some bytes may
 * have reached the file: the caller truncates them away). */
int storage_write_all(int fd, const void *buf, size_t len);
/* pwrite(2) at offset until everything is written; like storage_write_all
 * otherwise (same fault injection). */
int storage_pwrite_all(int fd, const void *buf, size_t len, off_t offset);
/* pread(2) until len bytes or end of file; *got says how many. */
int storage_pread_all(int fd, void *buf, size_t len, off_t offset, size_t *got);
int storage_fdatasync(int fd);
int storage_fsync(int fd);
int storage_ftruncate(int fd, off_t len);
/* Makes a directory entry change (create, rename, unlink) durable. */
int storage_fsync_dir(const char *dir);
/* Creates dir if missing (its parent must exist) and makes that durable. */
int storage_ensure_dir(const char *dir, struct storage_error *err);
/* Unlinks dir/name and fsyncs dir. A missing file is not an error. */
int storage_unlink_durable(const char *dir, const char *name, struct storage_error *err);
/* Replaces dir/name with content so that after a crash either the old or
 * the new version is there, never a mix: writes dir/name.tmp, fsyncs it,
 * renames it over dir/name, fsyncs dir. On failure the old file is intact
 * and the temp file removed. */
int storage_write_file_atomic(const char *dir, const char *name, const void *content,
                              size_t len, struct storage_error *err);
/* Renames dir/from over dir/to and fsyncs dir (from must be fsynced). */
int storage_rename_durable(const char *dir, const char *from, const char *to,
                           struct storage_error *err);
/* Reads a whole regular file of at most max_len bytes into a malloc'd
 * buffer the caller owns (free). -EFBIG if larger, -ENOENT if missing. */
int storage_read_file(const char *path, size_t max_len, uint8_t **out, size_t *len,
                      struct storage_error *err);

/* Fault injection, for tests only (not thread-safe): the (skip+1)-th call
 * from now of the given operation fails with errnum, once. An injected
 * write failure first writes half of its bytes, as a disk that fills up
 * mid-write does. */
enum storage_fault_op { STORAGE_FAULT_WRITE, STORAGE_FAULT_SYNC, STORAGE_FAULT_RENAME };
void storage_inject_fault(enum storage_fault_op op, unsigned skip, int errnum);
void storage_clear_faults(void);

#endif
