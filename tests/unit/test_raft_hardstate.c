/* tests/unit/test_raft_hardstate.c — DIR/hardstate (raft/hardstate.c):
 * round trips, a fresh directory, every truncation and every bit flip
 * refused with the file and offset named, and interrupted saves leaving the
 * previous version. */
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
#include <unistd.h>

#include "common/log.h"
#include "common/crc32c.h"
#include "raft/hardstate.h"

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
    char *dir = scratch_dir("test_raft_hardstate");
    *state = dir;
    log_set_level(LOG_ERROR);
    return 0;
}

static int remove_dir(void **state)
{
    storage_clear_faults();
    nftw(*state, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(*state);
    return 0;
}

static void write_raw(const char *dir, const char *name, const void *buf, size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
}

static void expect_state(const char *dir, uint64_t term, uint64_t vote, uint64_t commit)
{
    struct hardstate hs;
    bool found = false;
    struct storage_error err;
    int rc = hardstate_load(dir, &hs, &found, &err);
    if (rc < 0)
        fail_msg("load: %s", err.msg);
    assert_true(found);
    assert_int_equal(hs.term, term);
    assert_int_equal(hs.vote, vote);
    assert_int_equal(hs.commit, commit);
}

static void test_fresh_directory_has_no_hard_state(void **state)
{
    struct hardstate hs = { 9, 9, 9 };
    bool found = true;
    assert_int_equal(hardstate_load(*state, &hs, &found, NULL), 0);
    assert_false(found);
    assert_int_equal(hs.term, 0);
    assert_int_equal(hs.vote, 0);
}

static void test_save_then_load_round_trips(void **state)
{
    struct hardstate hs = { .term = 7, .vote = 3, .commit = 123456789012ull };
    assert_int_equal(hardstate_save(*state, &hs, NULL), 0);
    expect_state(*state, 7, 3, 123456789012ull);
    hs.term = UINT64_MAX;
    hs.vote = 0;
    assert_int_equal(hardstate_save(*state, &hs, NULL), 0);
    expect_state(*state, UINT64_MAX, 0, 123456789012ull);
}

static void test_encoding_is_little_endian_with_magic(void **state)
{
    (void)state;
    struct hardstate hs = { .term = 0x0102030405060708ull, .vote = 2, .commit = 3 };
    uint8_t buf[HARDSTATE_SIZE];
    hardstate_encode(&hs, buf);
    assert_memory_equal(buf, "RAFTHST\0", 8);
    assert_int_equal(buf[8], 1);
    assert_int_equal(buf[16], 0x08);
    assert_int_equal(buf[23], 0x01);
    assert_int_equal(buf[24], 2);
    assert_int_equal(buf[32], 3);
}

static void expect_refused(const char *dir, const char *offset_text)
{
    struct hardstate hs;
    bool found = true;
    struct storage_error err = { 0 };
    assert_int_equal(hardstate_load(dir, &hs, &found, &err), -EBADMSG);
    assert_false(found);
    assert_non_null(strstr(err.msg, "hardstate"));
    if (offset_text && !strstr(err.msg, offset_text))
        fail_msg("message lacks \"%s\": %s", offset_text, err.msg);
}

static void test_every_truncation_is_refused(void **state)
{
    struct hardstate hs = { 5, 1, 4 };
    uint8_t buf[HARDSTATE_SIZE];
    hardstate_encode(&hs, buf);
    for (size_t len = 0; len < HARDSTATE_SIZE; len++) {
        write_raw(*state, HARDSTATE_FILE, buf, len);
        char offset[32];
        snprintf(offset, sizeof offset, "offset %zu:", len);
        expect_refused(*state, offset);
    }
}

static void test_every_bit_flip_is_refused(void **state)
{
    struct hardstate hs = { 5, 1, 4 };
    uint8_t buf[HARDSTATE_SIZE];
    hardstate_encode(&hs, buf);
    for (size_t bit = 0; bit < HARDSTATE_SIZE * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        write_raw(*state, HARDSTATE_FILE, buf, sizeof buf);
        expect_refused(*state, NULL);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    write_raw(*state, HARDSTATE_FILE, buf, sizeof buf);
    expect_state(*state, 5, 1, 4);
}

/* Found by fuzz_raft_snapfile: a nonzero reserved word at offset 12 with a
 * matching checksum was accepted, and saving the state back changed it. */
static void test_nonzero_reserved_field_is_refused(void **state)
{
    (void)state;
    struct hardstate hs = { 5, 2, 100 }, out;
    uint8_t buf[HARDSTATE_SIZE];
    hardstate_encode(&hs, buf);
    buf[15] = 0x20;
    put_le32(buf + 40, crc32c(0, buf, 40));
    size_t bad = 0;
    const char *why = NULL;
    assert_int_equal(hardstate_decode(buf, sizeof buf, &out, &bad, &why), -EBADMSG);
    assert_int_equal(bad, 12);
    assert_string_equal(why, "nonzero reserved field");
}

static void test_trailing_garbage_is_refused(void **state)
{
    struct hardstate hs = { 5, 1, 4 };
    uint8_t buf[HARDSTATE_SIZE + 1];
    hardstate_encode(&hs, buf);
    buf[HARDSTATE_SIZE] = 0;
    write_raw(*state, HARDSTATE_FILE, buf, sizeof buf);
    expect_refused(*state, "too long");
}

/* A crash while the temp file was being written: the rename never ran, so
 * the old version stands and the temp file is cleaned away. */
static void test_incomplete_temp_file_leaves_old_version(void **state)
{
    struct hardstate old = { 4, 2, 10 }, new = { 5, 3, 11 };
    assert_int_equal(hardstate_save(*state, &old, NULL), 0);
    uint8_t buf[HARDSTATE_SIZE];
    hardstate_encode(&new, buf);
    for (size_t len = 0; len <= HARDSTATE_SIZE; len++) {
        write_raw(*state, HARDSTATE_FILE ".tmp", buf, len);
        expect_state(*state, 4, 2, 10);
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s/%s.tmp", (char *)*state, HARDSTATE_FILE);
        assert_int_equal(access(tmp, F_OK), -1);
    }
}

static void expect_failed_save_keeps_old(const char *dir, enum storage_fault_op op, int errnum)
{
    struct hardstate old = { 4, 2, 10 }, new = { 5, 3, 11 };
    assert_int_equal(hardstate_save(dir, &old, NULL), 0);
    storage_inject_fault(op, 0, errnum);
    struct storage_error err = { 0 };
    assert_int_equal(hardstate_save(dir, &new, &err), -errnum);
    assert_non_null(strstr(err.msg, "hardstate"));
    storage_clear_faults();
    expect_state(dir, 4, 2, 10);
}

static void test_disk_full_during_save_keeps_old_version(void **state)
{
    expect_failed_save_keeps_old(*state, STORAGE_FAULT_WRITE, ENOSPC);
}

static void test_fsync_error_during_save_keeps_old_version(void **state)
{
    expect_failed_save_keeps_old(*state, STORAGE_FAULT_SYNC, EIO);
}

static void test_rename_error_during_save_keeps_old_version(void **state)
{
    expect_failed_save_keeps_old(*state, STORAGE_FAULT_RENAME, EIO);
}

static void test_missing_directory_is_an_error_not_a_crash(void **state)
{
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/does-not-exist", (char *)*state);
    struct hardstate hs = { 1, 1, 1 };
    struct storage_error err = { 0 };
    assert_int_equal(hardstate_save(dir, &hs, &err), -ENOENT);
    assert_non_null(strstr(err.msg, "does-not-exist"));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, make_dir, remove_dir)
    const struct CMUnitTest tests[] = {
        T(test_fresh_directory_has_no_hard_state),
        T(test_save_then_load_round_trips),
        T(test_encoding_is_little_endian_with_magic),
        T(test_every_truncation_is_refused),
        T(test_every_bit_flip_is_refused),
        T(test_nonzero_reserved_field_is_refused),
        T(test_trailing_garbage_is_refused),
        T(test_incomplete_temp_file_leaves_old_version),
        T(test_disk_full_during_save_keeps_old_version),
        T(test_fsync_error_during_save_keeps_old_version),
        T(test_rename_error_during_save_keeps_old_version),
        T(test_missing_directory_is_an_error_not_a_crash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
