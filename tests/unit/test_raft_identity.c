/* tests/unit/test_raft_identity.c — whose data dir this is (raft/identity.c,
 * raft/node_identity.c, the envelope trailer in raft/node_disk.c): the
 * identity file's round trips, every truncation and bit flip refused with
 * the file and offset named, interrupted saves keeping the old version;
 * a data dir refused to another node; adoption of a data dir from before
 * identity files; the cluster entry and the snapshot trailer; a snapshot or
 * log entries of another cluster refused before they are written; and the
 * cluster frame that keeps a peer of another cluster out. */
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
#include "raft/identity.h"
#include "raft/node_disk.h"
#include "raft/node_identity.h"

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int make_dir(void **state)
{
    char tmpl[256];
    snprintf(tmpl, sizeof tmpl, "%s/test_raft_identity.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    char *dir = strdup(tmpl);
    assert_non_null(dir);
    assert_non_null(mkdtemp(dir));
    *state = dir;
    log_set_level(LOG_OFF); /* the refusals below log errors on purpose */
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

static const uint8_t CLUSTER_A[CLUSTER_ID_LEN] = { 0xa1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
static const uint8_t CLUSTER_B[CLUSTER_ID_LEN] = { 0xb1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static struct identity ident(const char *name, const uint8_t *cluster)
{
    struct identity id = { 0 };
    snprintf(id.name, sizeof id.name, "%s", name);
    if (cluster) {
        memcpy(id.cluster, cluster, CLUSTER_ID_LEN);
        id.has_cluster = true;
    }
    return id;
}

static struct identity load_ok(const char *dir)
{
    struct identity id;
    bool found = false;
    struct storage_error err = { 0 };
    if (identity_load(dir, &id, &found, &err) != 0)
        fail_msg("load: %s", err.msg);
    assert_true(found);
    return id;
}

/* ---- the file ---- */

static void test_fresh_directory_has_no_identity(void **state)
{
    struct identity id = ident("x", CLUSTER_A);
    bool found = true;
    assert_int_equal(identity_load(*state, &id, &found, NULL), 0);
    assert_false(found);
    assert_false(id.has_cluster);
    assert_string_equal(id.name, "");
}

static void test_save_then_load_round_trips(void **state)
{
    struct identity id = ident("id2", NULL);
    assert_int_equal(identity_save(*state, &id, NULL), 0);
    struct identity got = load_ok(*state);
    assert_string_equal(got.name, "id2");
    assert_false(got.has_cluster);
    char longest[ADDRBOOK_NAME_MAX];
    memset(longest, 'n', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    id = ident(longest, CLUSTER_A);
    assert_int_equal(identity_save(*state, &id, NULL), 0);
    got = load_ok(*state);
    assert_string_equal(got.name, longest);
    assert_true(got.has_cluster);
    assert_memory_equal(got.cluster, CLUSTER_A, CLUSTER_ID_LEN);
}

static void test_encoding_is_little_endian_with_magic(void **state)
{
    (void)state;
    struct identity id = ident("id0", CLUSTER_A);
    uint8_t buf[IDENTITY_SIZE_MAX];
    assert_int_equal(identity_encode(&id, buf), 36 + 3);
    assert_memory_equal(buf, "RAFTIDN\0", 8);
    assert_int_equal(get_le32(buf + 8), 1);
    assert_int_equal(get_le32(buf + 12), 3);
    assert_memory_equal(buf + 16, CLUSTER_A, CLUSTER_ID_LEN);
    assert_memory_equal(buf + 32, "id0", 3);
    assert_int_equal(get_le32(buf + 35), crc32c(0, buf, 35));
}

static void expect_refused(const char *dir, const char *text)
{
    struct identity id;
    bool found = true;
    struct storage_error err = { 0 };
    assert_int_equal(identity_load(dir, &id, &found, &err), -EBADMSG);
    assert_false(found);
    assert_non_null(strstr(err.msg, "identity"));
    if (text && !strstr(err.msg, text))
        fail_msg("message lacks \"%s\": %s", text, err.msg);
}

static void test_every_truncation_is_refused(void **state)
{
    struct identity id = ident("id1", CLUSTER_B);
    uint8_t buf[IDENTITY_SIZE_MAX];
    size_t len = identity_encode(&id, buf);
    for (size_t cut = 0; cut < len; cut++) {
        write_raw(*state, IDENTITY_FILE, buf, cut);
        expect_refused(*state, "offset");
    }
}

static void test_every_bit_flip_is_refused(void **state)
{
    struct identity id = ident("id1", CLUSTER_B);
    uint8_t buf[IDENTITY_SIZE_MAX];
    size_t len = identity_encode(&id, buf);
    for (size_t bit = 0; bit < len * 8; bit++) {
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        write_raw(*state, IDENTITY_FILE, buf, len);
        expect_refused(*state, NULL);
        buf[bit / 8] ^= (uint8_t)(1u << (bit % 8));
    }
    write_raw(*state, IDENTITY_FILE, buf, len);
    assert_string_equal(load_ok(*state).name, "id1");
}

static void test_trailing_garbage_and_bad_fields_are_refused(void **state)
{
    struct identity id = ident("id1", NULL);
    uint8_t buf[IDENTITY_SIZE_MAX + 8];
    size_t len = identity_encode(&id, buf);
    buf[len] = 0;
    write_raw(*state, IDENTITY_FILE, buf, len + 1);
    expect_refused(*state, "too long");
    /* A checksum that matches does not make a bad field good. */
    size_t bad = 0;
    const char *why = NULL;
    struct identity out;
    buf[33] = '\0'; /* "i\0" + "1" */
    put_le32(buf + 35, crc32c(0, buf, 35));
    assert_int_equal(identity_decode(buf, 39, &out, &bad, &why), -EBADMSG);
    assert_string_equal(why, "NUL in the node name");
    put_le32(buf + 12, 0);
    assert_int_equal(identity_decode(buf, 39, &out, &bad, &why), -EBADMSG);
    assert_int_equal(bad, 12);
    put_le32(buf + 12, ADDRBOOK_NAME_MAX);
    assert_int_equal(identity_decode(buf, 39, &out, &bad, &why), -EBADMSG);
    assert_int_equal(bad, 12);
    /* A file far too long is refused without being read whole. */
    uint8_t big[4096] = { 0 };
    write_raw(*state, IDENTITY_FILE, big, sizeof big);
    expect_refused(*state, "too long");
}

static void test_incomplete_temp_file_leaves_old_version(void **state)
{
    struct identity old = ident("old", NULL), new = ident("new", CLUSTER_A);
    assert_int_equal(identity_save(*state, &old, NULL), 0);
    uint8_t buf[IDENTITY_SIZE_MAX];
    size_t len = identity_encode(&new, buf);
    for (size_t cut = 0; cut <= len; cut++) {
        write_raw(*state, IDENTITY_FILE ".tmp", buf, cut);
        assert_string_equal(load_ok(*state).name, "old");
        char tmp[4096];
        snprintf(tmp, sizeof tmp, "%s/%s.tmp", (char *)*state, IDENTITY_FILE);
        assert_int_equal(access(tmp, F_OK), -1);
    }
}

static void expect_failed_save_keeps_old(const char *dir, enum storage_fault_op op, int errnum)
{
    struct identity old = ident("old", NULL), new = ident("new", CLUSTER_A);
    assert_int_equal(identity_save(dir, &old, NULL), 0);
    storage_inject_fault(op, 0, errnum);
    struct storage_error err = { 0 };
    assert_int_equal(identity_save(dir, &new, &err), -errnum);
    assert_non_null(strstr(err.msg, "identity"));
    storage_clear_faults();
    struct identity got = load_ok(dir);
    assert_string_equal(got.name, "old");
    assert_false(got.has_cluster);
}

static void test_failed_saves_keep_old_version(void **state)
{
    expect_failed_save_keeps_old(*state, STORAGE_FAULT_WRITE, ENOSPC);
    expect_failed_save_keeps_old(*state, STORAGE_FAULT_SYNC, EIO);
    expect_failed_save_keeps_old(*state, STORAGE_FAULT_RENAME, EIO);
}

/* ---- the cluster id, its entry and its snapshot trailer ---- */

static void test_cluster_ids_are_random_and_never_zero(void **state)
{
    (void)state;
    uint8_t a[CLUSTER_ID_LEN], b[CLUSTER_ID_LEN], zero[CLUSTER_ID_LEN] = { 0 };
    assert_int_equal(cluster_id_generate(a), 0);
    assert_int_equal(cluster_id_generate(b), 0);
    assert_memory_not_equal(a, b, CLUSTER_ID_LEN);
    assert_memory_not_equal(a, zero, CLUSTER_ID_LEN);
    char text[CLUSTER_ID_TEXT];
    cluster_id_text(CLUSTER_A, text);
    assert_string_equal(text, "a102030405060708090a0b0c0d0e0f10");
}

static void test_cluster_entry_round_trips_and_nothing_else_decodes(void **state)
{
    (void)state;
    uint8_t e[CLUSTER_ENTRY_LEN], id[CLUSTER_ID_LEN];
    cluster_entry_encode(CLUSTER_A, e);
    assert_true(cluster_entry_marked(e, sizeof e));
    assert_true(cluster_entry_decode(e, sizeof e, id));
    assert_memory_equal(id, CLUSTER_A, CLUSTER_ID_LEN);
    assert_false(cluster_entry_decode(e, sizeof e - 1, id));
    assert_true(cluster_entry_marked(e, 8));
    assert_false(cluster_entry_marked(e, 7));
    /* A kv command starts with its version byte (1), never 0xff. */
    static const uint8_t kv[CLUSTER_ENTRY_LEN] = { 1, 1 };
    assert_false(cluster_entry_marked(kv, sizeof kv));
    memset(e + 8, 0, CLUSTER_ID_LEN); /* the zero id means "none" */
    assert_false(cluster_entry_decode(e, sizeof e, id));
}

/* An envelope: u32 book length | book [| trailer] | state machine bytes. */
static size_t envelope(uint8_t *out, const uint8_t *cluster, const char *fsm)
{
    addrbook_t book = { 0 };
    addrbook_set(&book, addrbook_id_of("id0"), "id0", "127.0.0.1:8300");
    size_t blen = addrbook_encode(&book, out + 4);
    if (cluster) {
        cluster_trailer_encode(cluster, out + 4 + blen);
        blen += CLUSTER_TRAILER_LEN;
    }
    put_le32(out, (uint32_t)blen);
    memcpy(out + 4 + blen, fsm, strlen(fsm));
    return 4 + blen + strlen(fsm);
}

static void test_envelope_trailer_is_optional_and_checked(void **state)
{
    (void)state;
    static addrbook_t book;
    uint8_t buf[1024], id[CLUSTER_ID_LEN];
    const uint8_t *fsm;
    size_t fsm_len;
    bool has = true;
    size_t len = envelope(buf, NULL, "state");
    assert_int_equal(node_envelope_split_cluster(buf, len, &book, &fsm, &fsm_len, &has, id), 0);
    assert_false(has);
    assert_int_equal(fsm_len, 5);
    assert_memory_equal(fsm, "state", 5);
    len = envelope(buf, CLUSTER_B, "state");
    assert_int_equal(node_envelope_split_cluster(buf, len, &book, &fsm, &fsm_len, &has, id), 0);
    assert_true(has);
    assert_memory_equal(id, CLUSTER_B, CLUSTER_ID_LEN);
    assert_int_equal(fsm_len, 5);
    assert_int_equal(book.n, 1);
    /* The old reader's entry point takes the new envelope too. */
    assert_int_equal(node_envelope_split(buf, len, &book, &fsm, &fsm_len), 0);
    /* A damaged trailer is a malformed envelope. */
    size_t trailer = len - 5 - CLUSTER_TRAILER_LEN;
    buf[trailer] ^= 1;
    assert_int_equal(node_envelope_split_cluster(buf, len, &book, &fsm, &fsm_len, &has, id), -1);
    buf[trailer] ^= 1;
    put_le32(buf, get_le32(buf) - 1); /* a trailer cut short */
    assert_int_equal(node_envelope_split_cluster(buf, len, &book, &fsm, &fsm_len, &has, id), -1);
}

/* ---- the node: whose data dir, which cluster ---- */

static void test_data_dir_of_another_node_is_refused(void **state)
{
    node_identity_t ni;
    char err[512];
    assert_int_equal(node_identity_open(&ni, *state, "id2", true, false, err, sizeof err), 0);
    assert_false(ni.file.has_cluster);
    assert_int_equal(node_identity_open(&ni, *state, "id2", false, false, err, sizeof err), 0);
    assert_int_equal(node_identity_open(&ni, *state, "id3", false, false, err, sizeof err), -1);
    char want[600];
    snprintf(want, sizeof want, "data dir %s belongs to node id2, not id3", (char *)*state);
    assert_string_equal(err, want);
    /* A damaged identity file stops the node too. */
    write_raw(*state, IDENTITY_FILE, "RAFTIDN", 7);
    assert_int_equal(node_identity_open(&ni, *state, "id2", false, false, err, sizeof err), -1);
    assert_non_null(strstr(err, "corrupt identity file"));
}

static void test_founder_draws_a_cluster_id_and_adoption_writes_the_file(void **state)
{
    node_identity_t ni;
    char err[512];
    assert_int_equal(node_identity_open(&ni, *state, "id0", false, true, err, sizeof err), 0);
    assert_true(ni.file.has_cluster); /* an old founder's data dir, adopted */
    struct identity got = load_ok(*state);
    assert_string_equal(got.name, "id0");
    assert_memory_equal(got.cluster, ni.file.cluster, CLUSTER_ID_LEN);
    uint8_t entry[CLUSTER_ENTRY_LEN], id[CLUSTER_ID_LEN];
    assert_true(node_identity_should_announce(&ni, 0, entry));
    assert_true(cluster_entry_decode(entry, sizeof entry, id));
    assert_memory_equal(id, got.cluster, CLUSTER_ID_LEN);
    assert_false(node_identity_should_announce(&ni, 0, entry)); /* one in flight */
    node_identity_announced(&ni, false, 0);
    assert_false(node_identity_should_announce(&ni, 10, entry)); /* backs off */
    assert_true(node_identity_should_announce(&ni, 5000, entry));
    node_identity_announced(&ni, true, 5000);
    raft_entry_t e = { .term = 1, .index = 2, .type = RAFT_ENTRY_NORMAL, .data = entry,
                       .len = sizeof entry };
    bool conflict = true;
    assert_true(node_identity_apply(&ni, &e, &conflict));
    assert_false(conflict);
    assert_false(node_identity_should_announce(&ni, 99999, entry)); /* replicated */
}

static void test_member_learns_the_cluster_from_the_log(void **state)
{
    node_identity_t ni;
    char err[512];
    assert_int_equal(node_identity_open(&ni, *state, "id1", true, false, err, sizeof err), 0);
    uint8_t entry[CLUSTER_ENTRY_LEN];
    assert_false(node_identity_should_announce(&ni, 0, entry)); /* not the founder */
    uint8_t kv[] = { 1, 1, 0, 0 };
    raft_entry_t e = { .term = 1, .index = 1, .type = RAFT_ENTRY_NORMAL, .data = kv, .len = sizeof kv };
    bool conflict = false;
    assert_false(node_identity_apply(&ni, &e, &conflict)); /* the state machine's */
    cluster_entry_encode(CLUSTER_A, entry);
    e = (raft_entry_t){ .term = 1, .index = 2, .type = RAFT_ENTRY_NORMAL, .data = entry,
                        .len = sizeof entry };
    assert_true(node_identity_apply(&ni, &e, &conflict));
    assert_false(conflict);
    struct identity got = load_ok(*state);
    assert_true(got.has_cluster);
    assert_memory_equal(got.cluster, CLUSTER_A, CLUSTER_ID_LEN);
    char text[CLUSTER_ID_TEXT];
    node_identity_cluster_text(&ni, text);
    assert_string_equal(text, "a102030405060708090a0b0c0d0e0f10");
    /* Another cluster's entry, applied anyway, is a conflict, not learnt. */
    cluster_entry_encode(CLUSTER_B, entry);
    assert_true(node_identity_apply(&ni, &e, &conflict));
    assert_true(conflict);
    assert_memory_equal(load_ok(*state).cluster, CLUSTER_A, CLUSTER_ID_LEN);
}

static void test_another_clusters_snapshot_or_entries_are_refused_before_writing(void **state)
{
    struct identity id = ident("id1", CLUSTER_A);
    assert_int_equal(identity_save(*state, &id, NULL), 0);
    node_identity_t ni;
    char err[512], why[512];
    assert_int_equal(node_identity_open(&ni, *state, "id1", false, false, err, sizeof err), 0);
    uint8_t buf[1024];
    raft_snapshot_t snap = { .index = 10, .term = 2, .data = buf };
    raft_ready_t rd = { 0 };
    rd.snapshot = &snap;
    snap.len = envelope(buf, CLUSTER_A, "s");
    assert_int_equal(node_identity_check(&ni, &rd, why, sizeof why), 0);
    snap.len = envelope(buf, NULL, "s"); /* from before cluster ids: nothing to check */
    assert_int_equal(node_identity_check(&ni, &rd, why, sizeof why), 0);
    snap.len = envelope(buf, CLUSTER_B, "s");
    assert_int_equal(node_identity_check(&ni, &rd, why, sizeof why), -1);
    assert_non_null(strstr(why, "refusing a snapshot of cluster b1020304"));
    assert_non_null(strstr(why, "belongs to cluster a1020304"));
    rd.snapshot = NULL;
    uint8_t entry[CLUSTER_ENTRY_LEN];
    cluster_entry_encode(CLUSTER_B, entry);
    raft_entry_t es[2] = {
        { .term = 1, .index = 1, .type = RAFT_ENTRY_NOOP },
        { .term = 1, .index = 2, .type = RAFT_ENTRY_NORMAL, .data = entry, .len = sizeof entry },
    };
    rd.entries = es;
    rd.n_entries = 2;
    assert_int_equal(node_identity_check(&ni, &rd, why, sizeof why), -1);
    assert_non_null(strstr(why, "refusing log entries of cluster b1020304"));
    cluster_entry_encode(CLUSTER_A, entry);
    assert_int_equal(node_identity_check(&ni, &rd, why, sizeof why), 0);
    /* A forwarded cluster entry is proposed only for our cluster, and only
     * while the replicated state lacks the id; other proposals always. */
    uint8_t kv[] = { 1, 1, 0 };
    assert_true(node_identity_forward_ok(&ni, kv, sizeof kv));
    assert_true(node_identity_forward_ok(&ni, entry, sizeof entry));
    cluster_entry_encode(CLUSTER_B, entry);
    assert_false(node_identity_forward_ok(&ni, entry, sizeof entry));
    assert_false(node_identity_forward_ok(&ni, entry, sizeof entry - 1));
    cluster_entry_encode(CLUSTER_A, entry);
    ni.replicated = true;
    assert_false(node_identity_forward_ok(&ni, entry, sizeof entry));
    ni.replicated = false;
    /* Restoring another cluster's snapshot is refused too. */
    assert_int_equal(node_identity_restore(&ni, true, CLUSTER_B), -1);
    assert_int_equal(node_identity_restore(&ni, true, CLUSTER_A), 0);
}

static void test_cluster_frame_keeps_a_peer_of_another_cluster_out(void **state)
{
    node_identity_t ni, other;
    char err[512];
    struct identity id = ident("b", CLUSTER_A);
    assert_int_equal(identity_save(*state, &id, NULL), 0);
    assert_int_equal(node_identity_open(&ni, *state, "b", false, false, err, sizeof err), 0);
    memset(&other, 0, sizeof other);
    other.file = ident("p", CLUSTER_B);
    const raft_id_t p = 77, a = 78;
    bool ask = false, answer = false;
    /* Unchecked: dropped, and asked once per interval. */
    assert_false(node_identity_admit(&ni, p, 1000, &ask));
    assert_true(ask);
    assert_false(node_identity_admit(&ni, p, 1001, &ask));
    assert_false(ask);
    uint8_t f[CLUSTER_FRAME_LEN];
    node_identity_frame(&other, 9, false, f);
    node_identity_on_frame(&ni, p, "p", f, sizeof f, 1002, &answer);
    assert_false(answer);
    assert_false(node_identity_admit(&ni, p, 5000, &ask));
    assert_false(ask); /* refused for good, nothing more to ask */
    /* A peer of our cluster, and one that does not know its cluster yet. */
    other.file = ident("a", CLUSTER_A);
    node_identity_frame(&other, 9, true, f);
    node_identity_on_frame(&ni, a, "a", f, sizeof f, 1003, &answer);
    assert_true(answer);
    assert_true(node_identity_admit(&ni, a, 1004, &ask));
    other.file = ident("c", NULL);
    node_identity_frame(&other, 9, false, f);
    node_identity_on_frame(&ni, 79, "c", f, sizeof f, 1005, &answer);
    assert_true(node_identity_admit(&ni, 79, 1006, &ask));
    /* A new connection is checked again; a malformed frame changes nothing. */
    node_identity_peer_reset(&ni, a);
    assert_false(node_identity_admit(&ni, a, 1007, &ask));
    f[1] = 2;
    node_identity_on_frame(&ni, a, "a", f, sizeof f, 1008, &answer);
    assert_false(node_identity_admit(&ni, a, 1009, &ask));
    node_identity_frame(&ni, 9, false, f);
    node_identity_on_frame(&ni, a, "a", f, sizeof f - 1, 1010, &answer);
    assert_false(node_identity_admit(&ni, a, 1011, &ask));
    /* A node that does not know its own cluster admits everyone. */
    memset(&other, 0, sizeof other);
    assert_true(node_identity_admit(&other, p, 0, &ask));
    /* Unasked frames go out once a second. */
    assert_true(node_identity_frames_due(&ni, 10000));
    assert_false(node_identity_frames_due(&ni, 10999));
    assert_true(node_identity_frames_due(&ni, 11000));
    /* Many forged ids cannot grow the table: the stalest slot is reused. */
    for (raft_id_t x = 1000; x < 1000 + 4 * ADDRBOOK_MAX; x++)
        node_identity_admit(&ni, x, 2000 + x, &ask);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, make_dir, remove_dir)
    const struct CMUnitTest tests[] = {
        T(test_fresh_directory_has_no_identity),
        T(test_save_then_load_round_trips),
        T(test_encoding_is_little_endian_with_magic),
        T(test_every_truncation_is_refused),
        T(test_every_bit_flip_is_refused),
        T(test_trailing_garbage_and_bad_fields_are_refused),
        T(test_incomplete_temp_file_leaves_old_version),
        T(test_failed_saves_keep_old_version),
        T(test_cluster_ids_are_random_and_never_zero),
        T(test_cluster_entry_round_trips_and_nothing_else_decodes),
        T(test_envelope_trailer_is_optional_and_checked),
        T(test_data_dir_of_another_node_is_refused),
        T(test_founder_draws_a_cluster_id_and_adoption_writes_the_file),
        T(test_member_learns_the_cluster_from_the_log),
        T(test_another_clusters_snapshot_or_entries_are_refused_before_writing),
        T(test_cluster_frame_keeps_a_peer_of_another_cluster_out),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
