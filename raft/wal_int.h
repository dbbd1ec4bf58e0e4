/* raft/wal_int.h — what wal.c (writing, reading, cutting) and
 * wal_recover.c (the scan at open) share: the format constants, the
 * in-memory index and the helpers both use. Private to raft/wal*.c. */
#ifndef RAFT_WAL_INT_H
#define RAFT_WAL_INT_H

#include "raft/wal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>


static const uint8_t SEGMENT_MAGIC[8] __attribute__((unused)) = { 'R', 'A', 'F', 'T', 'W', 'A', 'L', 0 };
#define SEGMENT_VERSION 1
#define SEGMENT_NAME_LEN 20 /* 16 hex digits + ".wal" */
#define MAX_SEGMENT_LIMIT (1ull << 30)
/* Largest file recovery will read: a full segment plus one maximal record
 * that started just below the limit. */
#define MAX_SEGMENT_FILE (MAX_SEGMENT_LIMIT + WAL_RECORD_HEADER_SIZE + WAL_MAX_PAYLOAD)
/* Buffered records are written once they reach this many bytes. */
#define WRITE_BUFFER_FLUSH (1u << 20)
#define ITER_CHUNK (1u << 20)
#define RECOVERY_CHUNK (1u << 20)
/* Zeros written ahead of the records in the last segment. */
#define PREALLOC_STEP (1u << 20)
/* The unit a disk writes atomically: a crash loses whole sectors. */
#define SECTOR 512u

struct segment {
    uint64_t first_index;  /* from the header (and the file name) */
    uint64_t count;        /* records held */
    uint64_t cap;
    uint32_t *offsets;     /* offsets[i]: file offset of record first_index + i */
    uint64_t *terms;
    uint64_t size;         /* header + records, buffered ones included */
};

struct wal {
    char dir[4096];        /* DATA/wal */
    uint64_t segment_limit;
    struct segment *segs;  /* oldest first; owned */
    size_t nsegs, segs_cap;
    int fd;                /* the last segment, written with pwrite; -1 when there is none */
    int lock_fd;           /* DATA/wal itself, flock'ed: one writer per log */
    uint64_t flushed;      /* bytes of the last segment already in its file */
    uint64_t zeroed;       /* file bytes [0, zeroed) exist: records, then zeros */
    uint8_t *buf;          /* encoded records not yet written; owned */
    size_t buf_len, buf_cap;
    uint64_t buf_records;
    int rfd;               /* cached read descriptor of an older segment */
    uint64_t rfd_first;
    bool failed;           /* a sync or cut-back failed: reopen to continue */
};

/* wal.c */
void wal_segment_path(const struct wal *w, uint64_t first_index, char *out, size_t cap);
bool wal_parse_segment_name(const char *name, uint64_t *first_index);
uint32_t wal_record_crc(const uint8_t *rec, uint32_t len);
void wal_decode_record(const uint8_t *p, struct wal_record *r);
int wal_segment_push(struct segment *s, uint64_t offset, uint64_t term);
struct segment *wal_last_segment(struct wal *w);
int wal_add_segment(struct wal *w, uint64_t first_index, uint64_t size);
uint64_t wal_next_of(const struct wal *w);
int wal_open_for_append(struct wal *w, struct storage_error *err);

/* wal_recover.c */
int wal_recover(struct wal *w, struct storage_error *err);

#endif
