/* tests/unit/test_raft_wal.c — the segmented write-ahead log (raft/wal.c):
 * append/sync/read/iterate, segment rolling, suffix and prefix cuts, reset,
 * and recovery from every torn tail (each byte offset of the last record),
 * bit flips, trailing zeros, missing segments, bad headers and gaps,
 * reopening after each; injected disk-full and fsync errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/crc32c.h"
#include "raft/wal.h"

/* ---- fixtures and helpers ----------------------------------------------- */

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

/* A fresh directory, on tmpfs when there is one: the tests simulate
 * crashes by editing files, so they need no real fsync, only speed. */
static char *scratch_dir(const char *name)
{
    char tmpl[256];
    snprintf(tmpl, sizeof tmpl, "%s/%s.XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
             name);
    char *dir = strdup(tmpl);
    assert_non_null(dir);
    assert_non_null(mkdtemp(dir));
    return dir;
}

static int make_dir(void **state)
{
    char *dir = scratch_dir("test_raft_wal");
    *state = dir;
    log_set_level(LOG_OFF);
    return 0;
}

static int remove_dir(void **state)
{
    storage_clear_faults();
    nftw(*state, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(*state);
    return 0;
}

/* Deterministic content: the payload of entry i is (i % 61) + 3 bytes. */
static uint32_t payload_len(uint64_t index)
{
    return (uint32_t)(index % 61) + 3;
}

static void fill_payload(uint64_t index, uint8_t *buf)
{
    for (uint32_t k = 0; k < payload_len(index); k++)
        buf[k] = (uint8_t)(index * 31 + k);
}

static uint64_t term_of(uint64_t index)
{
    return index / 7 + 1;
}

static uint64_t record_size(uint64_t index)
{
    return WAL_RECORD_HEADER_SIZE + payload_len(index);
}

static struct wal *open_ok(const char *dir, uint64_t segment_size)
{
    struct wal_options opt = { .segment_size = segment_size };
    struct wal *w = NULL;
    struct storage_error err = { 0 };
    if (wal_open(dir, &opt, &w, &err) < 0)
        fail_msg("wal_open: %s", err.msg);
    return w;
}

/* Opens expecting failure with a message containing each given needle. */
static void open_fails(const char *dir, const char *needle1, const char *needle2)
{
    struct wal *w = NULL;
    struct storage_error err = { 0 };
    int rc = wal_open(dir, NULL, &w, &err);
    if (rc != -EBADMSG)
        fail_msg("wal_open returned %d (%s), wanted -EBADMSG", rc, err.msg);
    assert_null(w);
    if (needle1 && !strstr(err.msg, needle1))
        fail_msg("message lacks \"%s\": %s", needle1, err.msg);
    if (needle2 && !strstr(err.msg, needle2))
        fail_msg("message lacks \"%s\": %s", needle2, err.msg);
}

static void append_range(struct wal *w, uint64_t from, uint64_t to)
{
    uint8_t buf[64];
    for (uint64_t i = from; i <= to; i++) {
        fill_payload(i, buf);
        struct wal_record r = { .index = i, .term = term_of(i), .type = (uint8_t)(i % 3),
                                .len = payload_len(i), .data = buf };
        struct storage_error err = { 0 };
        if (wal_append(w, &r, 1, &err) < 0)
            fail_msg("append %llu: %s", (unsigned long long)i, err.msg);
    }
}

static void sync_ok(struct wal *w)
{
    struct storage_error err = { 0 };
    if (wal_sync(w, &err) < 0)
        fail_msg("sync: %s", err.msg);
}

static void expect_entry(struct wal *w, uint64_t i)
{
    struct wal_record r;
    struct storage_error err = { 0 };
    if (wal_read(w, i, &r, &err) < 0)
        fail_msg("read %llu: %s", (unsigned long long)i, err.msg);
    uint8_t want[64];
    fill_payload(i, want);
    assert_int_equal(r.index, i);
    assert_int_equal(r.term, term_of(i));
    assert_int_equal(r.type, i % 3);
    assert_int_equal(r.len, payload_len(i));
    assert_memory_equal(r.data, want, r.len);
    free((void *)r.data);
    uint64_t term = 0;
    assert_int_equal(wal_term(w, i, &term), 0);
    assert_int_equal(term, term_of(i));
}

/* The log holds exactly [first, last], readable one by one and by iterator. */
static void expect_log(struct wal *w, uint64_t first, uint64_t last)
{
    assert_int_equal(wal_first_index(w), first);
    assert_int_equal(wal_last_index(w), last);
    if (first == 0)
        return;
    for (uint64_t i = first; i <= last; i++)
        expect_entry(w, i);
    struct wal_record r;
    assert_int_equal(wal_read(w, last + 1, &r, NULL), -ERANGE);
    if (first > 1)
        assert_int_equal(wal_read(w, first - 1, &r, NULL), -ERANGE);
    struct wal_iter *it;
    assert_int_equal(wal_iter_open(w, first, &it, NULL), 0);
    uint64_t n = first;
    struct storage_error err = { 0 };
    int rc;
    uint8_t want[64];
    while ((rc = wal_iter_next(it, &r, &err)) == 1) {
        assert_int_equal(r.index, n);
        fill_payload(n, want);
        assert_int_equal(r.len, payload_len(n));
        assert_memory_equal(r.data, want, r.len);
        n++;
    }
    if (rc < 0)
        fail_msg("iterate: %s", err.msg);
    assert_int_equal(n, last + 1);
    wal_iter_close(it);
}

static void reopen_expect(const char *dir, uint64_t first, uint64_t last)
{
    struct wal *w = open_ok(dir, 0);
    expect_log(w, first, last);
    wal_close(w);
}

static void seg_path(const char *dir, uint64_t first, char *out, size_t cap)
{
    snprintf(out, cap, "%s/wal/%016llx.wal", dir, (unsigned long long)first);
}

static uint64_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (uint64_t)st.st_size;
}

static void truncate_file(const char *path, uint64_t len)
{
    assert_int_equal(truncate(path, (off_t)len), 0);
}

static void flip_bit(const char *path, uint64_t offset, int bit)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, (off_t)offset), 1);
    b ^= (uint8_t)(1u << bit);
    assert_int_equal(pwrite(fd, &b, 1, (off_t)offset), 1);
    close(fd);
}

static void append_bytes(const char *path, const void *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    uint8_t *buf;
    assert_int_equal(storage_read_file(path, 1u << 30, &buf, len, NULL), 0);
    return buf;
}

static void spit(const char *path, const uint8_t *buf, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
}

/* Writes [1, n] into one segment, synced, closed. */
static void make_log(const char *dir, uint64_t n)
{
    struct wal *w = open_ok(dir, 0);
    append_range(w, 1, n);
    sync_ok(w);
    wal_close(w);
}

/* Offset of record i in a single segment starting at 1. */
static uint64_t offset_of(uint64_t i)
{
    uint64_t off = WAL_SEGMENT_HEADER_SIZE;
    for (uint64_t k = 1; k < i; k++)
        off += record_size(k);
    return off;
}

/* ---- normal operation ----------------------------------------------------- */

static void test_empty_log(void **state)
{
    struct wal *w = open_ok(*state, 0);
    assert_int_equal(wal_first_index(w), 0);
    assert_int_equal(wal_last_index(w), 0);
    assert_int_equal(wal_next_index(w), 0);
    assert_int_equal(wal_segment_count(w), 0);
    struct wal_record r;
    assert_int_equal(wal_read(w, 1, &r, NULL), -ERANGE);
    sync_ok(w);
    wal_close(w);
    reopen_expect(*state, 0, 0);
}

static void test_second_open_of_the_same_log_is_refused(void **state)
{
    struct wal *w = open_ok(*state, 0);
    struct wal *again = NULL;
    struct storage_error err = { 0 };
    assert_int_equal(wal_open(*state, NULL, &again, &err), -EBUSY);
    assert_null(again);
    assert_non_null(strstr(err.msg, "already open"));
    wal_close(w);
    reopen_expect(*state, 0, 0);
}

static void test_append_sync_read_reopen(void **state)
{
    struct wal *w = open_ok(*state, 0);
    append_range(w, 1, 500);
    expect_log(w, 1, 500); /* readable before sync, from the write buffer */
    sync_ok(w);
    expect_log(w, 1, 500);
    wal_close(w);
    reopen_expect(*state, 1, 500);
    w = open_ok(*state, 0);
    append_range(w, 501, 600);
    sync_ok(w);
    wal_close(w);
    reopen_expect(*state, 1, 600);
}

static void test_batch_append_and_log_may_start_anywhere(void **state)
{
    struct wal *w = open_ok(*state, 0);
    uint8_t bufs[3][64];
    struct wal_record recs[3];
    for (int k = 0; k < 3; k++) {
        uint64_t i = 1000 + (uint64_t)k;
        fill_payload(i, bufs[k]);
        recs[k] = (struct wal_record){ .index = i, .term = term_of(i), .type = (uint8_t)(i % 3),
                                       .len = payload_len(i), .data = bufs[k] };
    }
    assert_int_equal(wal_append(w, recs, 3, NULL), 0);
    sync_ok(w);
    expect_log(w, 1000, 1002);
    wal_close(w);
    reopen_expect(*state, 1000, 1002);
}

static void test_bad_appends_are_refused(void **state)
{
    struct wal *w = open_ok(*state, 0);
    append_range(w, 1, 3);
    uint8_t b = 0;
    struct storage_error err = { 0 };
    struct wal_record skip = { .index = 5, .term = 1, .len = 1, .data = &b };
    assert_int_equal(wal_append(w, &skip, 1, &err), -EINVAL);
    assert_non_null(strstr(err.msg, "expects 4"));
    struct wal_record zero = { .index = 0, .term = 1, .len = 1, .data = &b };
    assert_int_equal(wal_append(w, &zero, 1, NULL), -EINVAL);
    struct wal_record huge = { .index = 4, .term = 1, .len = WAL_MAX_PAYLOAD + 1, .data = &b };
    assert_int_equal(wal_append(w, &huge, 1, NULL), -EINVAL);
    expect_log(w, 1, 3);
    wal_close(w);
}

/* Found by fuzz_raft_wal: a log holding index UINT64_MAX has no next index
 * (wal_next_index wrapped to 0, "empty, any index"), so the last usable log
 * index is UINT64_MAX - 1, on append and on recovery. */
static void test_last_usable_index(void **state)
{
    struct wal *w = open_ok(*state, 0);
    uint8_t b = 7;
    struct wal_record last = { .index = UINT64_MAX - 1, .term = 1, .len = 1, .data = &b };
    assert_int_equal(wal_append(w, &last, 1, NULL), 0);
    sync_ok(w);
    assert_int_equal(wal_next_index(w), UINT64_MAX);
    struct wal_record past = { .index = UINT64_MAX, .term = 1, .len = 1, .data = &b };
    assert_int_equal(wal_append(w, &past, 1, NULL), -EINVAL);
    wal_close(w);
    w = open_ok(*state, 0);
    assert_int_equal(wal_first_index(w), UINT64_MAX - 1);
    assert_int_equal(wal_last_index(w), UINT64_MAX - 1);
    assert_int_equal(wal_next_index(w), UINT64_MAX);
    wal_close(w);

    /* The same record written by hand after it: refused on recovery. */
    char path[4096];
    seg_path(*state, UINT64_MAX - 1, path, sizeof path);
    uint8_t rec[WAL_RECORD_HEADER_SIZE + 1] = { 1, 0, 0, 0 };
    rec[9] = 1; /* term 1 */
    put_le64(rec + 17, UINT64_MAX);
    rec[WAL_RECORD_HEADER_SIZE] = b;
    put_le32(rec + 4, crc32c(0, rec + 8, sizeof rec - 8));
    append_bytes(path, rec, sizeof rec);
    open_fails(*state, "past the last usable log index", "offset");

    /* A segment that would start at UINT64_MAX: refused too. */
    assert_int_equal(unlink(path), 0);
    uint8_t h[WAL_SEGMENT_HEADER_SIZE] = { 'R', 'A', 'F', 'T', 'W', 'A', 'L', 0, 1 };
    put_le64(h + 16, UINT64_MAX);
    put_le32(h + 24, crc32c(0, h, 24));
    seg_path(*state, UINT64_MAX, path, sizeof path);
    spit(path, h, sizeof h);
    open_fails(*state, "first index past the last usable log index", NULL);
}

static void test_on_disk_record_layout(void **state)
{
    struct wal *w = open_ok(*state, 0);
    const uint8_t payload[3] = { 0xaa, 0xbb, 0xcc };
    struct wal_record r = { .index = 0x0102030405060708ull, .term = 9, .type = 2,
                            .len = 3, .data = payload };
    assert_int_equal(wal_append(w, &r, 1, NULL), 0);
    sync_ok(w);
    wal_close(w);
    char path[4096];
    seg_path(*state, 0x0102030405060708ull, path, sizeof path);
    size_t len;
    uint8_t *f = slurp(path, &len);
    assert_int_equal(len, WAL_SEGMENT_HEADER_SIZE + WAL_RECORD_HEADER_SIZE + 3);
    assert_memory_equal(f, "RAFTWAL\0", 8);
    assert_int_equal(get_le32(f + 8), 1);
    assert_int_equal(get_le64(f + 16), 0x0102030405060708ull);
    assert_int_equal(get_le32(f + 24), crc32c(0, f, 24));
    const uint8_t *p = f + WAL_SEGMENT_HEADER_SIZE;
    assert_int_equal(get_le32(p), 3);
    assert_int_equal(p[8], 2);
    assert_int_equal(get_le64(p + 9), 9);
    assert_int_equal(p[17], 0x08);
    assert_int_equal(p[24], 0x01);
    assert_memory_equal(p + 25, payload, 3);
    assert_int_equal(get_le32(p + 4), crc32c(0, p + 8, 17 + 3));
    free(f);
}

static void test_segments_roll_at_the_size_limit(void **state)
{
    struct wal *w = open_ok(*state, 512);
    append_range(w, 1, 300);
    sync_ok(w);
    size_t segs = wal_segment_count(w);
    assert_true(segs > 20);
    expect_log(w, 1, 300);
    wal_close(w);
    /* No segment passes the limit, and each is named by its first index. */
    w = open_ok(*state, 512);
    assert_int_equal(wal_segment_count(w), segs);
    wal_close(w);
    char path[4096];
    seg_path(*state, 1, path, sizeof path);
    assert_true(file_size(path) <= 512);
    reopen_expect(*state, 1, 300);
}

static void test_record_larger_than_segment_gets_its_own(void **state)
{
    struct wal *w = open_ok(*state, 128);
    append_range(w, 1, 2);
    uint8_t *big = calloc(1, 1000);
    struct wal_record r = { .index = 3, .term = 1, .len = 1000, .data = big };
    assert_int_equal(wal_append(w, &r, 1, NULL), 0);
    sync_ok(w);
    struct wal_record got;
    assert_int_equal(wal_read(w, 3, &got, NULL), 0);
    assert_int_equal(got.len, 1000);
    assert_memory_equal(got.data, big, 1000);
    free((void *)got.data);
    free(big);
    wal_close(w);
    w = open_ok(*state, 128);
    assert_int_equal(wal_last_index(w), 3);
    wal_close(w);
}

static void test_iterator_from_the_middle_across_segments(void **state)
{
    struct wal *w = open_ok(*state, 1024);
    append_range(w, 1, 200);
    sync_ok(w);
    append_range(w, 201, 210); /* still in the write buffer */
    struct wal_iter *it;
    assert_int_equal(wal_iter_open(w, 150, &it, NULL), 0);
    struct wal_record r;
    uint64_t n = 150;
    while (wal_iter_next(it, &r, NULL) == 1) {
        assert_int_equal(r.index, n);
        assert_int_equal(r.term, term_of(n));
        n++;
    }
    assert_int_equal(n, 211);
    wal_iter_close(it);
    wal_close(w);
}

/* ---- cutting the log ------------------------------------------------------ */

static void test_truncate_suffix_within_and_across_segments(void **state)
{
    struct wal *w = open_ok(*state, 1024);
    append_range(w, 1, 300);
    sync_ok(w);
    assert_int_equal(wal_truncate_suffix(w, 290, NULL), 0); /* inside the last segment */
    expect_log(w, 1, 289);
    assert_int_equal(wal_truncate_suffix(w, 100, NULL), 0); /* across many segments */
    expect_log(w, 1, 99);
    assert_int_equal(wal_next_index(w), 100);
    wal_close(w);
    reopen_expect(*state, 1, 99);
    w = open_ok(*state, 1024);
    append_range(w, 100, 150); /* a new term's entries replace the cut ones */
    sync_ok(w);
    wal_close(w);
    reopen_expect(*state, 1, 150);
    w = open_ok(*state, 1024);
    assert_int_equal(wal_truncate_suffix(w, 500, NULL), 0); /* beyond the end: nothing */
    expect_log(w, 1, 150);
    wal_close(w);
}

static void test_truncate_suffix_at_a_segment_boundary_and_unsynced(void **state)
{
    struct wal *w = open_ok(*state, 1024);
    append_range(w, 1, 100);
    sync_ok(w);
    size_t segs = wal_segment_count(w);
    /* Find a segment's first index by probing where the count changes. */
    uint64_t boundary = 0;
    for (uint64_t i = 99; i > 1 && !boundary; i--) {
        assert_int_equal(wal_truncate_suffix(w, i, NULL), 0);
        if (wal_segment_count(w) < segs)
            boundary = i;
    }
    assert_true(boundary > 1);
    append_range(w, wal_next_index(w), 120); /* unsynced, then cut */
    assert_int_equal(wal_truncate_suffix(w, 110, NULL), 0);
    expect_log(w, 1, 109);
    sync_ok(w);
    wal_close(w);
    reopen_expect(*state, 1, 109);
}

static void test_truncate_everything_keeps_next_index(void **state)
{
    struct wal *w = open_ok(*state, 1024);
    append_range(w, 1, 100);
    sync_ok(w);
    assert_int_equal(wal_truncate_suffix(w, 1, NULL), 0);
    expect_log(w, 0, 0);
    assert_int_equal(wal_next_index(w), 1);
    wal_close(w);
    w = open_ok(*state, 1024);
    assert_int_equal(wal_next_index(w), 1);
    append_range(w, 1, 5);
    sync_ok(w);
    wal_close(w);
    reopen_expect(*state, 1, 5);
}

static void test_drop_prefix_deletes_covered_segments(void **state)
{
    struct wal *w = open_ok(*state, 1024);
    append_range(w, 1, 300);
    sync_ok(w);
    size_t before = wal_segment_count(w);
    assert_int_equal(wal_drop_prefix(w, 150, NULL), 0);
    uint64_t first = wal_first_index(w);
    assert_true(first > 100 && first <= 151);
    assert_true(wal_segment_count(w) < before);
    expect_log(w, first, 300);
    wal_close(w);
    reopen_expect(*state, first, 300);
    /* Covering everything still keeps the last segment (and the log going). */
    w = open_ok(*state, 1024);
    assert_int_equal(wal_drop_prefix(w, 1000, NULL), 0);
    assert_int_equal(wal_segment_count(w), 1);
    assert_int_equal(wal_last_index(w), 300);
    append_range(w, 301, 310);
    sync_ok(w);
    wal_close(w);
    w = open_ok(*state, 0);
    assert_int_equal(wal_last_index(w), 310);
    expect_entry(w, 310);
    wal_close(w);
}

static void test_reset_empties_the_log_and_sets_the_next_index(void **state)
{
    struct wal *w = open_ok(*state, 1024);
    append_range(w, 1, 300);
    sync_ok(w);
    assert_int_equal(wal_reset(w, 5001, NULL), 0);
    expect_log(w, 0, 0);
    assert_int_equal(wal_segment_count(w), 1);
    wal_close(w);
    w = open_ok(*state, 1024);
    assert_int_equal(wal_next_index(w), 5001);
    append_range(w, 5001, 5010);
    sync_ok(w);
    wal_close(w);
    reopen_expect(*state, 5001, 5010);
}

/* ---- recovery: torn tails ------------------------------------------------ */

/* A crash in the middle of writing the last record, at every byte: the
 * record is cut away, everything before it is kept, appends continue. */
static void test_torn_last_record_at_every_offset(void **state)
{
    const uint64_t n = 20;
    make_log(*state, n);
    char path[4096];
    seg_path(*state, 1, path, sizeof path);
    size_t len;
    uint8_t *orig = slurp(path, &len);
    uint64_t start = offset_of(n);
    assert_int_equal(len, start + record_size(n));
    for (uint64_t cut = start + 1; cut < len; cut++) {
        spit(path, orig, cut);
        struct wal *w = open_ok(*state, 0);
        expect_log(w, 1, n - 1);
        assert_int_equal(file_size(path), start);
        append_range(w, n, n);
        sync_ok(w);
        wal_close(w);
        reopen_expect(*state, 1, n);
    }
    free(orig);
}

static void test_torn_tail_after_a_whole_log_is_just_cut(void **state)
{
    make_log(*state, 10);
    char path[4096];
    seg_path(*state, 1, path, sizeof path);
    uint64_t size = file_size(path);
    const uint8_t junk[7] = { 1, 2, 3, 4, 5, 6, 7 };
    append_bytes(path, junk, sizeof junk);
    reopen_expect(*state, 1, 10);
    assert_int_equal(file_size(path), size);
}

/* Any single bit flipped in the very last record with nothing after it is
 * indistinguishable from a torn write: the record is dropped. */
static void test_bad_crc_on_last_record_is_a_torn_tail(void **state)
{
    const uint64_t n = 8;
    make_log(*state, n);
    char path[4096];
    seg_path(*state, 1, path, sizeof path);
    size_t len;
    uint8_t *orig = slurp(path, &len);
    for (uint64_t off = offset_of(n); off < len; off++) {
        spit(path, orig, len);
        flip_bit(path, off, (int)(off % 8));
        reopen_expect(*state, 1, n - 1);
        assert_int_equal(file_size(path), offset_of(n));
    }
    free(orig);
}

static void test_trailing_zeros_count_as_torn_tail(void **state)
{
    const uint64_t n = 8;
    make_log(*state, n);
    char path[4096];
    seg_path(*state, 1, path, sizeof path);
    static const uint8_t zeros[8192];
    append_bytes(path, zeros, sizeof zeros); /* preallocated or fs garbage */
    reopen_expect(*state, 1, n);
    flip_bit(path, offset_of(n) + 30, 1); /* and a bad last record before zeros */
    append_bytes(path, zeros, sizeof zeros);
    reopen_expect(*state, 1, n - 1);
}

/* The warning names the file and the offset. */
static void test_torn_tail_is_logged_with_file_and_offset(void **state)
{
    make_log(*state, 5);
    char path[4096];
    seg_path(*state, 1, path, sizeof path);
    truncate_file(path, file_size(path) - 3);
    char logpath[4200];
    snprintf(logpath, sizeof logpath, "%s/stderr.txt", (char *)*state);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(saved >= 0 && fd >= 0);
    dup2(fd, STDERR_FILENO);
    log_set_level(LOG_WARN);
    struct wal *w = open_ok(*state, 0);
    log_set_level(LOG_OFF);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(fd);
    wal_close(w);
    size_t len;
    char *text = (char *)slurp(logpath, &len);
    char want[64];
    snprintf(want, sizeof want, "offset %llu", (unsigned long long)offset_of(5));
    text[len ? len - 1 : 0] = 0;
    if (!strstr(text, path) || !strstr(text, want) || !strstr(text, "torn"))
        fail_msg("log line lacks file/offset: %s", text);
    free(text);
}

/* ---- preallocation: zeros after the records ------------------------------ */

/* The file of segment `first` as a crash would leave it: records 1..n
 * written and synced, the preallocated zeros still after them. */
static uint8_t *crash_image(const char *dir, uint64_t n, size_t *len)
{
    struct wal *w = open_ok(dir, 0);
    append_range(w, 1, n);
    sync_ok(w);
    char path[4096];
    seg_path(dir, 1, path, sizeof path);
    uint8_t *img = slurp(path, len);
    wal_close(w);
    spit(path, img, *len);
    return img;
}

static void test_open_log_is_preallocated_with_zeros_and_close_trims(void **state)
{
    const uint64_t n = 30;
    size_t len;
    uint8_t *img = crash_image(*state, n, &len);
    uint64_t end = offset_of(n) + record_size(n);
    assert_true(len >= end + (1u << 20) / 2); /* zeros written ahead */
    for (size_t i = end; i < len; i++)
        if (img[i])
            fail_msg("byte %zu after the records is %u, not 0", i, img[i]);
    char path[4096];
    seg_path(*state, 1, path, sizeof path);
    reopen_expect(*state, 1, n);          /* the zeros are the end of the log */
    assert_int_equal(file_size(path), end); /* and a clean close gives them back */
    free(img);
}

static void test_crash_with_zeros_after_the_records_keeps_every_record(void **state)
{
    const uint64_t n = 30;
    size_t len;
    uint8_t *img = crash_image(*state, n, &len);
    struct wal *w = open_ok(*state, 0);
    expect_log(w, 1, n);
    append_range(w, n + 1, n + 5); /* written over the zeros */
    sync_ok(w);
    wal_close(w);
    reopen_expect(*state, 1, n + 5);
    free(img);
}

/* Preallocated sectors reach the disk in any order: a crash can lose a
 * sector of unsynced records while later ones made it. The lost sector
 * reads as zeros, so this is a torn write, not corruption: the log is cut
 * at the first record that touches it. */
static void test_lost_sector_with_records_after_it_is_a_torn_write(void **state)
{
    const uint64_t n = 80;
    size_t len;
    uint8_t *img = crash_image(*state, n, &len);
    char path[4096];
    seg_path(*state, 1, path, sizeof path);
    for (uint64_t target = 20; target <= 65; target += 15) {
        /* Zero the sector holding the middle of record `target`. */
        uint64_t sector = (offset_of(target) + record_size(target) / 2) / 512 * 512;
        uint8_t *damaged = malloc(len);
        assert_non_null(damaged);
        memcpy(damaged, img, len);
        memset(damaged + sector, 0, 512);
        spit(path, damaged, len);
        free(damaged);
        uint64_t first_hit = 1;
        while (offset_of(first_hit) + record_size(first_hit) <= sector)
            first_hit++;
        assert_true(first_hit < n);
        reopen_expect(*state, 1, first_hit - 1);
    }
    free(img);
}

/* A record header of zeros with data after it: the header never reached
 * the disk (no real header is all zero), so neither was anything synced
 * after it. Cut, not refused. */
static void test_zero_header_with_data_after_it_is_a_torn_write(void **state)
{
    const uint64_t n = 60;
    size_t len;
    uint8_t *img = crash_image(*state, n, &len);
    char path[4096];
    seg_path(*state, 1, path, sizeof path);
    memset(img + offset_of(33), 0, WAL_RECORD_HEADER_SIZE);
    spit(path, img, len);
    reopen_expect(*state, 1, 32);
    free(img);
}

/* A flipped bit is damage, not a lost write: with valid records after it
 * the node still refuses to start, zeros after the records or not. */
static void test_bit_flip_before_preallocated_zeros_is_refused(void **state)
{
    const uint64_t n = 60;
    size_t len;
    uint8_t *img = crash_image(*state, n, &len);
    char path[4096];
    seg_path(*state, 1, path, sizeof path);
    img[offset_of(20) + 27] ^= 0x10;
    spit(path, img, len);
    open_fails(*state, "valid record follows", path);
    free(img);
}

/* A segment filled up and rolled: its zeros are trimmed, but a crash
 * before the trim reached the disk leaves them, and that is fine. Data
 * after a zero header in an older segment is corruption, though. */
static void test_zeros_after_an_older_segment(void **state)
{
    struct wal *w = open_ok(*state, 4096);
    append_range(w, 1, 200);
    sync_ok(w);
    wal_close(w);
    char path[4096];
    seg_path(*state, 1, path, sizeof path);
    uint64_t size = file_size(path);
    static const uint8_t zeros[4096];
    append_bytes(path, zeros, sizeof zeros);
    w = open_ok(*state, 4096);
    assert_true(wal_segment_count(w) > 2);
    expect_log(w, 1, 200);
    wal_close(w);
    const uint8_t junk[3] = { 7, 7, 7 };
    append_bytes(path, junk, sizeof junk);
    open_fails(*state, path, "not the last");
    truncate_file(path, size);
    reopen_expect(*state, 1, 200);
}

/* ---- recovery: corruption stops the node --------------------------------- */

static void test_bad_crc_before_the_tail_is_refused(void **state)
{
    const uint64_t n = 10;
    make_log(*state, n);
    char path[4096];
    seg_path(*state, 1, path, sizeof path);
    size_t len;
    uint8_t *orig = slurp(path, &len);
    /* Every byte of a middle record, one bit each. */
    for (uint64_t off = offset_of(5); off < offset_of(6); off++) {
        spit(path, orig, len);
        flip_bit(path, off, (int)(off % 8));
        char want[64];
        snprintf(want, sizeof want, "offset %llu:", (unsigned long long)offset_of(5));
        open_fails(*state, path, want);
    }
    /* The second-to-last record too: the last one is valid after it. */
    spit(path, orig, len);
    flip_bit(path, offset_of(n - 1) + 20, 0);
    open_fails(*state, "valid record follows", NULL);
    spit(path, orig, len);
    reopen_expect(*state, 1, n);
    free(orig);
}

/* Recovery reads through a 1 MiB window: damage early in a large segment
 * is still told apart from a torn tail megabytes later. */
static void test_recovery_across_read_windows(void **state)
{
    const uint64_t n = 40000; /* about 2.5 MB in one segment */
    make_log(*state, n);
    char path[4096];
    seg_path(*state, 1, path, sizeof path);
    size_t len;
    uint8_t *orig = slurp(path, &len);
    assert_true(len > (3u << 20) / 2);
    flip_bit(path, offset_of(10) + 30, 4);
    open_fails(*state, path, "valid record follows");
    spit(path, orig, len);
    truncate_file(path, len - 2); /* torn tail past the first window */
    struct wal *w = open_ok(*state, 0);
    assert_int_equal(wal_last_index(w), n - 1);
    expect_entry(w, n - 1);
    expect_entry(w, 1);
    wal_close(w);
    free(orig);
}

/* In a segment that is not the last, even its last record being bad is
 * corruption: that segment was synced before the next one was created. */
static void test_damage_in_an_older_segment_is_refused(void **state)
{
    struct wal *w = open_ok(*state, 512);
    append_range(w, 1, 60);
    sync_ok(w);
    wal_close(w);
    char path[4096];
    seg_path(*state, 1, path, sizeof path);
    size_t len;
    uint8_t *orig = slurp(path, &len);
    flip_bit(path, len - 1, 3);
    open_fails(*state, path, "not the last");
    spit(path, orig, len);
    truncate_file(path, len - 1);
    open_fails(*state, path, "not the last");
    spit(path, orig, len);
    reopen_expect(*state, 1, 60);
    free(orig);
}

static void test_missing_segment_is_refused(void **state)
{
    struct wal *w = open_ok(*state, 512);
    append_range(w, 1, 60);
    sync_ok(w);
    assert_true(wal_segment_count(w) >= 4);
    wal_close(w);
    /* Remove the second segment: find it as the first file after 1. */
    uint64_t second = 0;
    for (uint64_t i = 2; i <= 60 && !second; i++) {
        char p[4096];
        seg_path(*state, i, p, sizeof p);
        if (access(p, F_OK) == 0)
            second = i;
    }
    assert_true(second > 0);
    char p[4096];
    seg_path(*state, second, p, sizeof p);
    assert_int_equal(unlink(p), 0);
    open_fails(*state, "missing segment", "ends at index");
}

static void test_every_segment_header_flip_is_refused(void **state)
{
    make_log(*state, 3);
    char path[4096];
    seg_path(*state, 1, path, sizeof path);
    size_t len;
    uint8_t *orig = slurp(path, &len);
    for (uint64_t bit = 0; bit < WAL_SEGMENT_HEADER_SIZE * 8; bit++) {
        spit(path, orig, len);
        flip_bit(path, bit / 8, (int)(bit % 8));
        open_fails(*state, path, "offset");
    }
    for (uint64_t cut = 0; cut < WAL_SEGMENT_HEADER_SIZE; cut++) {
        spit(path, orig, cut);
        open_fails(*state, path, "short segment header");
    }
    /* Found by fuzz_raft_wal: the reserved word at 12 with a matching CRC. */
    uint8_t *h = malloc(len);
    assert_non_null(h);
    memcpy(h, orig, len);
    h[12] = 4;
    put_le32(h + 24, crc32c(0, h, 24));
    spit(path, h, len);
    open_fails(*state, "offset 12", "nonzero segment header padding");
    free(h);
    free(orig);
}

static void test_file_name_must_match_header(void **state)
{
    make_log(*state, 3);
    char from[4096], to[4096];
    seg_path(*state, 1, from, sizeof from);
    seg_path(*state, 2, to, sizeof to);
    assert_int_equal(rename(from, to), 0);
    open_fails(*state, "does not match the file name", NULL);
}

/* A record with a valid CRC but the wrong index is a gap, even at the tail. */
static void test_index_gap_inside_a_segment_is_refused(void **state)
{
    make_log(*state, 5);
    char path[4096];
    seg_path(*state, 1, path, sizeof path);
    size_t len;
    uint8_t *f = slurp(path, &len);
    uint8_t *last = f + offset_of(5);
    put_le64(last + 17, 7);
    put_le32(last + 4, crc32c(0, last + 8, 17 + payload_len(5)));
    spit(path, f, len);
    open_fails(*state, "where 5 was expected", NULL);
    free(f);
}

static void test_corruption_after_open_is_caught_on_read(void **state)
{
    make_log(*state, 5);
    struct wal *w = open_ok(*state, 0);
    char path[4096];
    seg_path(*state, 1, path, sizeof path);
    flip_bit(path, offset_of(3) + 26, 2);
    struct wal_record r;
    struct storage_error err = { 0 };
    assert_int_equal(wal_read(w, 3, &r, &err), -EBADMSG);
    assert_non_null(strstr(err.msg, path));
    expect_entry(w, 2);
    wal_close(w);
}

static void test_leftover_temp_segment_is_removed(void **state)
{
    make_log(*state, 5);
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s/wal/0000000000000006.wal.tmp", (char *)*state);
    spit(tmp, (const uint8_t *)"RAFT", 4);
    reopen_expect(*state, 1, 5);
    assert_int_equal(access(tmp, F_OK), -1);
}

/* ---- I/O errors -------------------------------------------------------- */

static void test_disk_full_drops_unsynced_records_and_recovers(void **state)
{
    struct wal *w = open_ok(*state, 0);
    append_range(w, 1, 50);
    sync_ok(w);
    append_range(w, 51, 80);
    storage_inject_fault(STORAGE_FAULT_WRITE, 0, ENOSPC);
    struct storage_error err = { 0 };
    assert_int_equal(wal_sync(w, &err), -ENOSPC);
    assert_non_null(strstr(err.msg, "ends at index 50"));
    expect_log(w, 1, 50);
    char path[4096];
    seg_path(*state, 1, path, sizeof path);
    assert_int_equal(file_size(path), offset_of(51)); /* the half-write was cut back */
    append_range(w, 51, 60); /* space is back */
    sync_ok(w);
    wal_close(w);
    reopen_expect(*state, 1, 60);
}

static void test_disk_full_while_rolling_keeps_the_log_usable(void **state)
{
    struct wal *w = open_ok(*state, 512);
    append_range(w, 1, 5);
    sync_ok(w);
    size_t segs = wal_segment_count(w);
    /* The next segment's header write fails. */
    struct storage_error err = { 0 };
    int rc = 0;
    uint64_t i = 6;
    uint8_t buf[64];
    while (rc == 0 && wal_segment_count(w) == segs) {
        storage_inject_fault(STORAGE_FAULT_WRITE, 0, ENOSPC);
        fill_payload(i, buf);
        struct wal_record r = { .index = i, .term = term_of(i), .type = (uint8_t)(i % 3),
                                .len = payload_len(i), .data = buf };
        rc = wal_append(w, &r, 1, &err); /* buffers, or rolls and writes a header */
        storage_clear_faults();
        if (rc == 0) {
            sync_ok(w); /* nothing buffered: a roll's first write is the header */
            i++;
        }
    }
    assert_int_equal(rc, -ENOSPC);
    assert_non_null(strstr(err.msg, ".tmp"));
    assert_int_equal(wal_last_index(w), i - 1);
    assert_int_equal(wal_segment_count(w), segs);
    append_range(w, i, i + 20);
    sync_ok(w);
    wal_close(w);
    reopen_expect(*state, 1, i + 20);
}

static void test_failed_fsync_poisons_until_reopen(void **state)
{
    struct wal *w = open_ok(*state, 0);
    append_range(w, 1, 10);
    sync_ok(w);
    append_range(w, 11, 20);
    storage_inject_fault(STORAGE_FAULT_SYNC, 0, EIO);
    assert_int_equal(wal_sync(w, NULL), -EIO);
    uint8_t b = 0;
    struct wal_record r = { .index = 21, .term = 9, .len = 1, .data = &b };
    struct storage_error err = { 0 };
    assert_int_equal(wal_append(w, &r, 1, &err), -EIO);
    assert_non_null(strstr(err.msg, "reopen"));
    assert_int_equal(wal_sync(w, NULL), -EIO);
    wal_close(w);
    /* The written records may or may not have reached the disk; here they
     * did (the fsync failure was injected). Either way the log is whole. */
    w = open_ok(*state, 0);
    uint64_t last = wal_last_index(w);
    assert_true(last >= 10 && last <= 20);
    expect_log(w, 1, last);
    wal_close(w);
}

/* ---- kill -9 ------------------------------------------------------------ */

/* Torture payload: self-describing, so the parent can check any record it
 * finds without knowing what the child wrote. */
static uint32_t torture_fill(uint64_t index, uint64_t term, uint8_t *buf)
{
    uint32_t len = 16 + (uint32_t)((index * 7 + term) % 64);
    put_le64(buf, index);
    put_le64(buf + 8, term);
    for (uint32_t k = 16; k < len; k++)
        buf[k] = (uint8_t)(index ^ term ^ k);
    return len;
}

struct torture_msg {
    char kind;       /* 'A' synced through index, 'T' about to cut from index */
    uint64_t index;
};

static void child_send(int fd, char kind, uint64_t index)
{
    struct torture_msg m = { kind, index };
    if (write(fd, &m, sizeof m) != (ssize_t)sizeof m)
        _exit(3);
}

/* Runs until killed: batches of appends and syncs, now and then a suffix
 * cut (a new leader's entries, with a higher term) or a prefix drop. */
static void torture_child(const char *dir, int out, uint64_t seed)
{
    struct wal_options opt = { .segment_size = 4096 };
    struct wal *w;
    if (wal_open(dir, &opt, &w, NULL) < 0)
        _exit(2);
    uint64_t term = 1;
    if (wal_last_index(w))
        wal_term(w, wal_last_index(w), &term);
    uint8_t bufs[64][96];
    struct wal_record recs[64];
    for (;;) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t next = wal_next_index(w) ? wal_next_index(w) : 1;
        unsigned roll = (unsigned)(seed >> 33) % 100;
        if (roll < 8 && next > 10) {
            uint64_t cut = next - 1 - (seed >> 40) % 8;
            child_send(out, 'T', cut);
            if (wal_truncate_suffix(w, cut, NULL) < 0)
                _exit(4);
            term++;
            continue;
        }
        if (roll < 11 && next > 50 && wal_drop_prefix(w, next - 40, NULL) < 0)
            _exit(5);
        size_t n = 1 + (seed >> 20) % 64;
        for (size_t k = 0; k < n; k++) {
            uint32_t len = torture_fill(next + k, term, bufs[k]);
            recs[k] = (struct wal_record){ .index = next + k, .term = term, .len = len,
                                           .data = bufs[k] };
        }
        if (wal_append(w, recs, n, NULL) < 0 || wal_sync(w, NULL) < 0)
            _exit(6);
        child_send(out, 'A', next + n - 1);
    }
}

/* Every record present is whole and self-consistent, terms never go down,
 * and every acknowledged index is still there. */
static void check_after_kill(const char *dir, uint64_t acked)
{
    struct wal_options opt = { .segment_size = 4096 };
    struct wal *w = NULL;
    struct storage_error err = { 0 };
    if (wal_open(dir, &opt, &w, &err) < 0)
        fail_msg("reopen after kill -9: %s", err.msg);
    if (wal_last_index(w) < acked)
        fail_msg("acknowledged through %llu, log ends at %llu", (unsigned long long)acked,
                 (unsigned long long)wal_last_index(w));
    struct wal_iter *it;
    assert_int_equal(wal_iter_open(w, 0, &it, NULL), 0);
    struct wal_record r;
    uint64_t prev_term = 0, n = 0;
    uint8_t want[96];
    int rc;
    while ((rc = wal_iter_next(it, &r, &err)) == 1) {
        assert_true(r.term >= prev_term);
        prev_term = r.term;
        uint32_t len = torture_fill(r.index, r.term, want);
        assert_int_equal(r.len, len);
        assert_memory_equal(r.data, want, len);
        n++;
    }
    if (rc < 0)
        fail_msg("iterate after kill -9: %s", err.msg);
    assert_int_equal(n, wal_first_index(w) ? wal_last_index(w) - wal_first_index(w) + 1 : 0);
    wal_iter_close(it);
    wal_close(w);
}

static void test_kill_minus_nine_never_loses_acknowledged_records(void **state)
{
    uint64_t acked = 0;
    for (int round = 0; round < 30; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            torture_child(*state, p[1], 0x5eed0000u + (uint64_t)round);
        }
        close(p[1]);
        struct timespec pause = { 0, (long)(1 + (round * 7919) % 15) * 1000000L };
        nanosleep(&pause, NULL);
        kill(pid, SIGKILL);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFSIGNALED(status)); /* killed, not an error exit */
        struct torture_msg m;
        while (read(p[0], &m, sizeof m) == (ssize_t)sizeof m) {
            if (m.kind == 'A' && m.index > acked)
                acked = m.index;
            if (m.kind == 'T' && m.index <= acked)
                acked = m.index - 1;
        }
        close(p[0]);
        if (getenv("TORTURE_DEBUG"))
            fprintf(stderr, "round %d: acked %llu\n", round, (unsigned long long)acked);
        check_after_kill(*state, acked);
    }
    assert_true(acked > 0);
}

/* ---- scale ------------------------------------------------------------- */

static double seconds_since(const struct timespec *t0)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

static void test_hundred_thousand_entries_load_quickly(void **state)
{
    const uint64_t n = 100000;
    struct wal *w = open_ok(*state, 4u << 20);
    uint8_t payload[100];
    memset(payload, 0x42, sizeof payload);
    for (uint64_t i = 1; i <= n; i++) {
        struct wal_record r = { .index = i, .term = i / 1000 + 1, .len = 100, .data = payload };
        assert_int_equal(wal_append(w, &r, 1, NULL), 0);
        if (i % 10000 == 0)
            sync_ok(w);
    }
    wal_close(w);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    w = open_ok(*state, 4u << 20);
    double open_s = seconds_since(&t0);
    assert_int_equal(wal_last_index(w), n);
    struct wal_iter *it;
    assert_int_equal(wal_iter_open(w, 1, &it, NULL), 0);
    struct wal_record r;
    uint64_t count = 0;
    while (wal_iter_next(it, &r, NULL) == 1) {
        assert_int_equal(r.index, count + 1);
        count++;
    }
    wal_iter_close(it);
    assert_int_equal(count, n);
    uint64_t term;
    assert_int_equal(wal_term(w, 54321, &term), 0);
    assert_int_equal(term, 55);
    wal_close(w);
    /* Generous for sanitizer builds; an unsanitized build takes ~30 ms. */
    if (open_s > 3.0)
        fail_msg("opening 100,000 entries took %.2f s", open_s);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, make_dir, remove_dir)
    const struct CMUnitTest tests[] = {
        T(test_empty_log),
        T(test_second_open_of_the_same_log_is_refused),
        T(test_append_sync_read_reopen),
        T(test_batch_append_and_log_may_start_anywhere),
        T(test_bad_appends_are_refused),
        T(test_last_usable_index),
        T(test_on_disk_record_layout),
        T(test_segments_roll_at_the_size_limit),
        T(test_record_larger_than_segment_gets_its_own),
        T(test_iterator_from_the_middle_across_segments),
        T(test_truncate_suffix_within_and_across_segments),
        T(test_truncate_suffix_at_a_segment_boundary_and_unsynced),
        T(test_truncate_everything_keeps_next_index),
        T(test_drop_prefix_deletes_covered_segments),
        T(test_reset_empties_the_log_and_sets_the_next_index),
        T(test_torn_last_record_at_every_offset),
        T(test_torn_tail_after_a_whole_log_is_just_cut),
        T(test_bad_crc_on_last_record_is_a_torn_tail),
        T(test_trailing_zeros_count_as_torn_tail),
        T(test_torn_tail_is_logged_with_file_and_offset),
        T(test_open_log_is_preallocated_with_zeros_and_close_trims),
        T(test_crash_with_zeros_after_the_records_keeps_every_record),
        T(test_lost_sector_with_records_after_it_is_a_torn_write),
        T(test_zero_header_with_data_after_it_is_a_torn_write),
        T(test_bit_flip_before_preallocated_zeros_is_refused),
        T(test_zeros_after_an_older_segment),
        T(test_bad_crc_before_the_tail_is_refused),
        T(test_recovery_across_read_windows),
        T(test_damage_in_an_older_segment_is_refused),
        T(test_missing_segment_is_refused),
        T(test_every_segment_header_flip_is_refused),
        T(test_file_name_must_match_header),
        T(test_index_gap_inside_a_segment_is_refused),
        T(test_corruption_after_open_is_caught_on_read),
        T(test_leftover_temp_segment_is_removed),
        T(test_disk_full_drops_unsynced_records_and_recovers),
        T(test_disk_full_while_rolling_keeps_the_log_usable),
        T(test_failed_fsync_poisons_until_reopen),
        T(test_kill_minus_nine_never_loses_acknowledged_records),
        T(test_hundred_thousand_entries_load_quickly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
