/* tests/fuzz/fuzz_raft_wal.c — libFuzzer target for write-ahead-log recovery
 * (raft/wal.h wal_open) from arbitrary segment files.
 *
 * Input: byte 0 is a mode, the rest is cut at every "|SEG|" into up to 8
 * segment files written to a fresh DIR/wal/ under /dev/shm. A segment is
 * named by the first index in its header (bytes 16..23), or by its position
 * when shorter than that. Mode bits:
 *   0  fix checksums: the header CRC and the CRC of every record that fits
 *      are recomputed, so the fuzzer reaches the checks behind them (index
 *      continuity, gaps, torn tails) instead of stopping at the CRC;
 *   1  name the segment one past its header's first index (a mismatch);
 *   2  leave a "<name>.tmp" next to the first segment (an interrupted
 *      creation, which recovery must delete);
 *   3  add an unrelated file, which recovery must ignore.
 *
 * Properties checked besides "no crash, no sanitizer report":
 *  - wal_open either fails with -EBADMSG and a message, or gives a log in
 *    which every index from first to last reads back (wal_read, which
 *    checks the CRC again) with that index and the term wal_term reports,
 *    the iterator yields the same records, no *.tmp file is left, and
 *    every segment file starts with exactly the header the log writes;
 *  - appending the next index, syncing and reopening works, and the
 *    reopened log holds the old records and the new one, byte for byte.
 * The directory is emptied after every input. */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/bytes.h"
#include "common/crc32c.h"
#include "raft/wal.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEGMENTS 8

/* Recomputes the header CRC and the CRC of every whole record. */
static void fix_checksums(uint8_t *seg, size_t len)
{
    if (len < WAL_SEGMENT_HEADER_SIZE)
        return;
    put_le32(seg + 24, crc32c(0, seg, 24));
    size_t off = WAL_SEGMENT_HEADER_SIZE;
    while (off + WAL_RECORD_HEADER_SIZE <= len) {
        uint32_t rlen = get_le32(seg + off);
        if (rlen > len - off - WAL_RECORD_HEADER_SIZE)
            break;
        put_le32(seg + off + 4, crc32c(0, seg + off + 8, WAL_RECORD_HEADER_SIZE - 8 + rlen));
        off += WAL_RECORD_HEADER_SIZE + rlen;
    }
}

static void write_segments(const char *waldir, uint8_t mode, const uint8_t *data, size_t size)
{
    fuzz_part_t parts[MAX_SEGMENTS];
    size_t n = fuzz_split(data, size, "|SEG|", parts, MAX_SEGMENTS);
    char path[512];
    for (size_t i = 0; i < n; i++) {
        uint8_t *seg = malloc(parts[i].len + 1);
        fuzz_check(seg != NULL);
        memcpy(seg, parts[i].data, parts[i].len);
        if (mode & 1)
            fix_checksums(seg, parts[i].len);
        uint64_t name = parts[i].len >= 24 ? get_le64(seg + 16) : i + 1;
        if (mode & 2)
            name++;
        snprintf(path, sizeof path, "%s/%016" PRIx64 ".wal", waldir, name);
        fuzz_write_file(path, seg, parts[i].len);
        if (i == 0 && (mode & 4)) {
            snprintf(path, sizeof path, "%s/%016" PRIx64 ".wal.tmp", waldir, name);
            fuzz_write_file(path, seg, parts[i].len);
        }
        free(seg);
    }
    if (mode & 8) {
        snprintf(path, sizeof path, "%s/notes.txt", waldir);
        fuzz_write_file(path, (const uint8_t *)"x", 1);
    }
}

/* After a successful recovery, in one pass over the directory:
 *  - no *.tmp is left: recovery deletes interrupted segment creations;
 *  - every segment has exactly the header the log writes: a byte recovery
 *    ignores would be one that can change unnoticed. */
FUZZ_NO_COVERAGE static void check_segment_file(void *arg, int dfd, const char *name, unsigned char type)
{
    (void)arg;
    (void)type;
    size_t len = strlen(name);
    fuzz_check(!(len > 4 && strcmp(name + len - 4, ".tmp") == 0));
    if (len != 20 || strcmp(name + 16, ".wal") != 0)
        return;
    uint64_t first = 0;
    for (int i = 0; i < 16; i++) {
        char c = name[i];
        first = first << 4 | (uint64_t)(c <= '9' ? c - '0' : c - 'a' + 10);
    }
    uint8_t want[WAL_SEGMENT_HEADER_SIZE] = { 'R', 'A', 'F', 'T', 'W', 'A', 'L', 0, 1 };
    for (int i = 0; i < 8; i++)
        want[16 + i] = (uint8_t)(first >> (8 * i));
    put_le32(want + 24, crc32c(0, want, 24));
    uint8_t got[WAL_SEGMENT_HEADER_SIZE];
    int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
    fuzz_check(fd >= 0);
    fuzz_check(pread(fd, got, sizeof got, 0) == (ssize_t)sizeof got);
    close(fd);
    fuzz_check(memcmp(got, want, sizeof want) == 0);
}

static void check_files(const char *waldir)
{
    int dfd = open(waldir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    fuzz_check(dfd >= 0);
    fuzz_each_entry(dfd, check_segment_file, NULL);
    close(dfd);
}

/* Every held index reads back, by index and through the iterator. */
FUZZ_NO_COVERAGE static void check_log(struct wal *w)
{
    uint64_t first = wal_first_index(w), last = wal_last_index(w);
    if (first == 0) {
        fuzz_check(last == 0);
        return;
    }
    fuzz_check(first <= last && wal_next_index(w) == last + 1);
    struct storage_error err;
    struct wal_iter *it;
    fuzz_check(wal_iter_open(w, first, &it, &err) == 0);
    for (uint64_t i = first; i <= last; i++) {
        struct wal_record rec, irec;
        uint64_t term;
        fuzz_check(wal_read(w, i, &rec, &err) == 0);
        fuzz_check(rec.index == i);
        fuzz_check(wal_term(w, i, &term) == 0 && term == rec.term);
        fuzz_check(wal_iter_next(it, &irec, &err) == 1);
        fuzz_check(irec.index == i && irec.term == rec.term && irec.type == rec.type);
        fuzz_check(irec.len == rec.len && (rec.len == 0 || memcmp(irec.data, rec.data, rec.len) == 0));
        free((void *)rec.data);
    }
    struct wal_record end;
    fuzz_check(wal_iter_next(it, &end, &err) == 0);
    wal_iter_close(it);
}

/* Appends one record after the recovered ones, syncs, reopens, checks. */
static void append_and_reopen(const char *dir, struct wal *w, const uint8_t *payload, size_t plen)
{
    struct storage_error err;
    uint64_t first = wal_first_index(w), next = wal_next_index(w);
    uint64_t idx = next ? next : 1;
    struct wal_record rec = { .index = idx, .term = 3, .type = 1, .len = (uint32_t)plen,
                              .data = payload };
    if (idx == UINT64_MAX) { /* a log that ends at the last usable index is full */
        fuzz_check(wal_append(w, &rec, 1, &err) == -EINVAL);
        wal_close(w);
        return;
    }
    fuzz_check(wal_append(w, &rec, 1, &err) == 0);
    fuzz_check(wal_sync(w, &err) == 0);
    wal_close(w);
    fuzz_check(wal_open(dir, NULL, &w, &err) == 0);
    fuzz_check(wal_last_index(w) == idx);
    fuzz_check(wal_first_index(w) == (first ? first : idx));
    check_log(w);
    struct wal_record back;
    fuzz_check(wal_read(w, idx, &back, &err) == 0);
    fuzz_check(back.term == 3 && back.type == 1 && back.len == plen);
    fuzz_check(plen == 0 || memcmp(back.data, payload, plen) == 0);
    free((void *)back.data);
    wal_close(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) { /* torn tails are logged; a million of them is noise */
        log_set_level(LOG_OFF);
        quiet = true;
    }
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    char dir[256], waldir[300];
    snprintf(dir, sizeof dir, "%s/d", fuzz_scratch_dir("fuzz_raft_wal"));
    snprintf(waldir, sizeof waldir, "%s/" WAL_DIR, dir);
    static bool made; /* both stay; the log writes only in waldir, emptied after every input */
    if (!made) {
        fuzz_check(mkdir(dir, 0700) == 0 && mkdir(waldir, 0700) == 0);
        made = true;
    }
    write_segments(waldir, mode, data + 1, size - 1);

    struct wal *w = NULL;
    struct storage_error err;
    memset(&err, 0, sizeof err);
    int rc = wal_open(dir, NULL, &w, &err);
    if (rc < 0) {
        fuzz_check(rc == -EBADMSG && w == NULL && err.msg[0] != 0);
    } else {
        check_files(waldir);
        check_log(w);
        size_t plen = size - 1 < 16 ? size - 1 : 16;
        append_and_reopen(dir, w, data + 1, plen);
    }
    fuzz_empty_dir(waldir);
    return 0;
}
