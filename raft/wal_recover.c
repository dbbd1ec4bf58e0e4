/* raft/wal_recover.c — recovery when the log opens: lists the segment
 * files, checks each header, scans the records through a sliding read
 * window, and tells a torn tail (cut back) from corruption (refused); see
 * the ordering rules at the top of wal.c and docs/storage.md. */
#include "raft/wal_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/crc32c.h"

/* ---- recovery ---------------------------------------------------------- */

/* A sliding read window over one segment file: recovery holds about a
 * megabyte of it (or one record, if larger) in memory, never the whole
 * segment, and reads with pread so a disk error is an error, not SIGBUS. */
struct window {
    int fd;
    const char *path;
    uint64_t size;   /* of the file */
    uint8_t *buf;    /* owned */
    size_t cap;
    uint64_t off;    /* file offset of buf[0] */
    size_t len;
};

/* Points *p at file bytes [off, off + n); the caller made sure they lie
 * inside the file. */
static int window_get(struct window *win, uint64_t off, size_t n, const uint8_t **p,
                      struct storage_error *err)
{
    if (off >= win->off && off + n <= win->off + win->len) {
        *p = win->buf + (off - win->off);
        return 0;
    }
    size_t want = n > RECOVERY_CHUNK ? n : RECOVERY_CHUNK;
    if (off + want > win->size)
        want = (size_t)(win->size - off);
    if (want > win->cap) {
        uint8_t *buf = realloc(win->buf, want);
        if (!buf)
            return storage_fail(err, -ENOMEM, "%s: out of memory reading the segment", win->path);
        win->buf = buf;
        win->cap = want;
    }
    win->len = 0;
    size_t got = 0;
    int rc = storage_pread_all(win->fd, win->buf, want, (off_t)off, &got);
    if (rc == 0 && got < n)
        rc = -EIO;
    if (rc < 0)
        return storage_fail(err, rc, "%s: offset %" PRIu64 ": read: %s", win->path, off,
                            got < n ? "file shrank while being read" : strerror(-rc));
    win->off = off;
    win->len = got;
    *p = win->buf;
    return 0;
}

/* Sets *defect to why the bytes at `off` are not a whole valid record, or
 * NULL when they are; *len to the payload length then. */
static int record_defect(struct window *win, uint64_t off, const char **defect, uint32_t *len,
                         struct storage_error *err)
{
    *defect = NULL;
    uint64_t rem = win->size - off;
    const uint8_t *p;
    if (rem < WAL_RECORD_HEADER_SIZE) {
        *defect = "short record header";
        return 0;
    }
    int rc = window_get(win, off, WAL_RECORD_HEADER_SIZE, &p, err);
    if (rc < 0)
        return rc;
    *len = get_le32(p);
    if (*len > WAL_MAX_PAYLOAD)
        *defect = "impossible record length";
    else if (WAL_RECORD_HEADER_SIZE + (uint64_t)*len > rem)
        *defect = "short record payload";
    if (*defect)
        return 0;
    rc = window_get(win, off, WAL_RECORD_HEADER_SIZE + (size_t)*len, &p, err);
    if (rc < 0)
        return rc;
    if (get_le32(p + 4) != wal_record_crc(p, *len))
        *defect = "bad record CRC";
    return 0;
}

static bool all_zero(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

/* Whether file bytes [from, to) are all zero. */
static int zero_range(struct window *win, uint64_t from, uint64_t to, bool *zero,
                      struct storage_error *err)
{
    *zero = true;
    while (from < to) {
        size_t n = to - from < RECOVERY_CHUNK ? (size_t)(to - from) : RECOVERY_CHUNK;
        const uint8_t *p;
        int rc = window_get(win, from, n, &p, err);
        if (rc < 0)
            return rc;
        if (!all_zero(p, n)) {
            *zero = false;
            return 0;
        }
        from += n;
    }
    return 0;
}

/* Whether the record header at `off` (or what is left of the file, if
 * shorter) is all zero: never written, since a real header holds an index
 * of at least 1. */
static int header_is_zero(struct window *win, uint64_t off, bool *zero, struct storage_error *err)
{
    uint64_t end = off + WAL_RECORD_HEADER_SIZE;
    return zero_range(win, off, end < win->size ? end : win->size, zero, err);
}

/* Whether a sector the record at `off` spans (its claimed extent, cut at the
 * end of the file) is all zero: part of the record never reached the disk.
 * Written sectors of a record are never all zero, short of a 512-byte run
 * of zeros in a payload — and this is asked only of a record already known
 * to be bad. */
static int spans_zero_sector(struct window *win, uint64_t off, uint32_t len, bool *found,
                             struct storage_error *err)
{
    *found = false;
    uint64_t end = off + WAL_RECORD_HEADER_SIZE + (len <= WAL_MAX_PAYLOAD ? len : 0);
    if (end > win->size)
        end = win->size;
    for (uint64_t sector = off / SECTOR * SECTOR; sector < end && !*found; sector += SECTOR) {
        uint64_t stop = sector + SECTOR < win->size ? sector + SECTOR : win->size;
        int rc = zero_range(win, sector, stop, found, err);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Whether a whole, CRC-valid record starts anywhere in the file from
 * `from` on: the difference between a torn tail (nothing after) and
 * corruption in the middle of written data. */
static int valid_record_after(struct window *win, uint64_t from, bool *found, uint64_t *where,
                              struct storage_error *err)
{
    *found = false;
    for (uint64_t p = from; p + WAL_RECORD_HEADER_SIZE <= win->size; p++) {
        const uint8_t *h;
        int rc = window_get(win, p, WAL_RECORD_HEADER_SIZE, &h, err);
        if (rc < 0)
            return rc;
        uint32_t len = get_le32(h);
        if (len > WAL_MAX_PAYLOAD || p + WAL_RECORD_HEADER_SIZE + len > win->size ||
            all_zero(h, WAL_RECORD_HEADER_SIZE))
            continue;
        const char *defect;
        rc = record_defect(win, p, &defect, &len, err);
        if (rc < 0)
            return rc;
        if (!defect) {
            *found = true;
            *where = p;
            return 0;
        }
    }
    return 0;
}

static int check_segment_header(struct window *win, uint64_t name_index, struct storage_error *err)
{
    const char *why = NULL;
    uint64_t at = 0;
    const uint8_t *h = NULL;
    if (win->size < WAL_SEGMENT_HEADER_SIZE) {
        why = "short segment header", at = win->size;
    } else {
        int rc = window_get(win, 0, WAL_SEGMENT_HEADER_SIZE, &h, err);
        if (rc < 0)
            return rc;
        if (memcmp(h, SEGMENT_MAGIC, sizeof SEGMENT_MAGIC) != 0)
            why = "bad segment magic", at = 0;
        else if (get_le32(h + 24) != crc32c(0, h, 24))
            why = "segment header checksum mismatch", at = 24;
        else if (get_le32(h + 28) != 0)
            why = "nonzero segment header padding", at = 28;
        else if (get_le32(h + 12) != 0) /* inside the CRC, but 0 is all we write */
            why = "nonzero segment header padding", at = 12;
        else if (get_le32(h + 8) != SEGMENT_VERSION)
            why = "unsupported segment version", at = 8;
        else if (get_le64(h + 16) != name_index || name_index == 0)
            why = "first index in the header does not match the file name", at = 16;
        else if (name_index == UINT64_MAX)
            why = "first index past the last usable log index", at = 16;
    }
    if (!why)
        return 0;
    return storage_fail(err, -EBADMSG, "%s: offset %" PRIu64 ": %s (refusing to start)", win->path,
                        at, why);
}

/* Cuts the last segment at `off`, where a torn write starts. */
static int cut_torn_tail(struct window *win, uint64_t off, const char *defect,
                         struct storage_error *err)
{
    log_warn("wal", "%s: offset %" PRIu64 ": %s: torn write at the tail, truncating %" PRIu64
             " bytes", win->path, off, defect, win->size - off);
    int rc = storage_ftruncate(win->fd, (off_t)off);
    if (rc == 0)
        rc = storage_fdatasync(win->fd);
    if (rc < 0)
        return storage_fail(err, rc, "%s: truncating the torn tail: %s", win->path, strerror(-rc));
    return 0;
}

/* The last segment from `off` on is not a whole record. Cut it if it is a
 * torn write; refuse if valid data follows, unless part of this record
 * never reached the disk: then what follows was written after it, and
 * a sync covers a prefix of the file, so none of it was ever synced (the
 * sectors of a preallocated file reach the disk in any order). */
static int handle_bad_tail(struct window *win, uint64_t off, uint32_t len, const char *defect,
                           bool is_last, struct storage_error *err)
{
    if (!is_last)
        return storage_fail(err, -EBADMSG, "%s: offset %" PRIu64 ": %s in a segment that is not "
                            "the last (corruption; refusing to start)", win->path, off, defect);
    bool unwritten, found;
    uint64_t where = 0;
    int rc = spans_zero_sector(win, off, len, &unwritten, err);
    if (rc < 0)
        return rc;
    if (unwritten)
        return cut_torn_tail(win, off, "record partly never written (a zero sector)", err);
    rc = valid_record_after(win, off + 1, &found, &where, err);
    if (rc < 0)
        return rc;
    if (found)
        return storage_fail(err, -EBADMSG, "%s: offset %" PRIu64 ": %s, but a valid record follows "
                            "at offset %" PRIu64 " (corruption, not a torn write; refusing to start)",
                            win->path, off, defect, where);
    return cut_torn_tail(win, off, defect, err);
}

/* The record header at `off` is all zero. Only zeros to the end of the
 * file: the preallocated space after the last record. Anything else after
 * it: in the last segment a torn write (the header was never written, so
 * nothing after it was synced); in an older one, corruption. */
static int handle_zero_header(struct window *win, uint64_t off, bool is_last,
                              struct storage_error *err)
{
    bool rest_zero;
    int rc = zero_range(win, off, win->size, &rest_zero, err);
    if (rc < 0 || rest_zero)
        return rc;
    if (!is_last)
        return storage_fail(err, -EBADMSG, "%s: offset %" PRIu64 ": zero record header with data "
                            "after it in a segment that is not the last (corruption; refusing to "
                            "start)", win->path, off);
    return cut_torn_tail(win, off, "record header never written (zeros), data after it", err);
}

static int check_continuity(struct wal *w, const char *path, uint64_t name_index,
                            struct storage_error *err)
{
    if (!w->nsegs || wal_next_of(w) == name_index)
        return 0;
    char prev[4200];
    wal_segment_path(w, wal_last_segment(w)->first_index, prev, sizeof prev);
    return storage_fail(err, -EBADMSG, "%s: offset 16: starts at index %" PRIu64 " but %s ends "
                        "at index %" PRIu64 " (missing segment or gap; refusing to start)",
                        path, name_index, prev, wal_next_of(w) - 1);
}

/* Indexes the records of the segment in win, which has been added. */
static int scan_records(struct wal *w, struct window *win, bool is_last, struct storage_error *err)
{
    struct segment *s = wal_last_segment(w);
    uint64_t off = WAL_SEGMENT_HEADER_SIZE;
    while (off < win->size) {
        const char *defect;
        uint32_t len = 0;
        int rc = record_defect(win, off, &defect, &len, err);
        if (rc < 0)
            return rc;
        if (defect) { /* a header of zeros fails the CRC too: asked only here */
            bool zero;
            rc = header_is_zero(win, off, &zero, err);
            if (rc < 0)
                return rc;
            if (zero) /* the records end here */
                return handle_zero_header(win, off, is_last, err);
            return handle_bad_tail(win, off, len, defect, is_last, err);
        }
        const uint8_t *p;
        rc = window_get(win, off, WAL_RECORD_HEADER_SIZE, &p, err);
        if (rc < 0)
            return rc;
        struct wal_record r;
        wal_decode_record(p, &r);
        uint64_t want = s->first_index + s->count;
        if (r.index != want)
            return storage_fail(err, -EBADMSG, "%s: offset %" PRIu64 ": record has index %" PRIu64
                                " where %" PRIu64 " was expected (gap; refusing to start)",
                                win->path, off, r.index, want);
        if (r.index == UINT64_MAX) /* never written: append refuses it */
            return storage_fail(err, -EBADMSG, "%s: offset %" PRIu64 ": record index %" PRIu64
                                " is past the last usable log index (refusing to start)",
                                win->path, off, r.index);
        if (wal_segment_push(s, off, r.term) < 0)
            return storage_fail(err, -ENOMEM, "%s: out of memory indexing records", win->path);
        off += WAL_RECORD_HEADER_SIZE + (uint64_t)r.len;
        s->size = off;
    }
    return 0;
}

/* Reads one segment and indexes its records. */
static int recover_segment(struct wal *w, uint64_t name_index, bool is_last,
                           struct storage_error *err)
{
    char path[4200];
    wal_segment_path(w, name_index, path, sizeof path);
    struct window win = { .path = path };
    win.fd = open(path, O_RDWR | O_CLOEXEC);
    if (win.fd < 0)
        return storage_fail(err, -errno, "%s: open: %s", path, strerror(errno));
    struct stat st;
    int rc = 0;
    if (fstat(win.fd, &st) < 0)
        rc = storage_fail(err, -errno, "%s: fstat: %s", path, strerror(errno));
    else if ((uint64_t)st.st_size > MAX_SEGMENT_FILE)
        rc = storage_fail(err, -EBADMSG, "%s: offset %llu: segment larger than any the log writes "
                          "(refusing to start)", path, (unsigned long long)MAX_SEGMENT_FILE);
    else
        win.size = (uint64_t)st.st_size;
    if (rc == 0)
        rc = check_segment_header(&win, name_index, err);
    if (rc == 0)
        rc = check_continuity(w, path, name_index, err);
    if (rc == 0 && wal_add_segment(w, name_index, WAL_SEGMENT_HEADER_SIZE) < 0)
        rc = storage_fail(err, -ENOMEM, "%s: out of memory", path);
    if (rc == 0)
        rc = scan_records(w, &win, is_last, err);
    free(win.buf);
    close(win.fd);
    return rc;
}

static int compare_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Lists segment first indexes, sorted, and removes leftover temp files
 * (segment creations a crash interrupted before the rename). */
static int list_segments(struct wal *w, uint64_t **out, size_t *n, struct storage_error *err)
{
    DIR *d = opendir(w->dir);
    if (!d)
        return storage_fail(err, -errno, "%s: opendir: %s", w->dir, strerror(errno));
    uint64_t *list = NULL;
    size_t count = 0, cap = 0;
    int rc = 0;
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        uint64_t first;
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0) {
            log_info("wal", "%s/%s: removing an interrupted segment creation", w->dir, e->d_name);
            rc = storage_unlink_durable(w->dir, e->d_name, err);
            continue;
        }
        if (!wal_parse_segment_name(e->d_name, &first))
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            uint64_t *grown = realloc(list, cap * sizeof *grown);
            if (!grown) {
                rc = storage_fail(err, -ENOMEM, "%s: out of memory listing segments", w->dir);
                break;
            }
            list = grown;
        }
        list[count++] = first;
    }
    closedir(d);
    if (rc < 0) {
        free(list);
        return rc;
    }
    if (count > 1)
        qsort(list, count, sizeof *list, compare_u64);
    *out = list;
    *n = count;
    return 0;
}

int wal_recover(struct wal *w, struct storage_error *err)
{
    uint64_t *firsts = NULL;
    size_t n = 0;
    int rc = list_segments(w, &firsts, &n, err);
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = recover_segment(w, firsts[i], i + 1 == n, err);
    free(firsts);
    if (rc == 0 && w->nsegs)
        rc = wal_open_for_append(w, err);
    return rc;
}

/* Two processes appending to one log would interleave records; a second
 * node started on the same data dir is refused instead. */
