/* tests/fuzz/fuzz_raft_snapfile.c — libFuzzer target for the other two
 * storage files read at start: snapshot files (raft/snapfile.h) and the
 * hard state (raft/hardstate.h), from arbitrary contents.
 *
 * Input: byte 0 is a mode, the rest is cut at every "|SNAP|": the first part
 * is the hard-state file, each later one (up to 4) a snapshot file in
 * DIR/snap/, named snap-<index>-<term>.snap from its header (bytes 16..31;
 * index 1 term 1 when shorter). Mode bits:
 *   0  fix checksums: the hard state's CRC when it is 48 bytes; a snapshot's
 *      header CRC, and its trailer's data_len and CRC when the file is long
 *      enough for the config it claims — so the fuzzer gets past them;
 *   1  name every snapshot one index past its header (a mismatch);
 *   2  leave a *.tmp file, which snap_cleanup_temp must remove;
 *   3  also receive the newest snapshot as a follower does
 *      (snap_receiver_*, in pieces of 1 to 64 bytes) into a second data dir.
 *
 * Properties checked besides "no crash, no sanitizer report":
 *  - hardstate_decode accepts a file only if encoding the result gives the
 *    same 48 bytes, and hardstate_load of that file agrees with it;
 *  - snap_open_newest gives -ENOENT exactly when no snapshot was written,
 *    -EBADMSG with a message, or a reader for the newest name whose meta
 *    matches the file and whose config, data (streamed in pieces) and raw
 *    bytes are exactly the file's; snap_open of that name agrees;
 *  - an accepted snapshot is byte for byte what snap_writer writes for its
 *    index, term, config and data;
 *  - the receiver accepts the newest file exactly when the reader does.
 * The directories are removed after every input. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/bytes.h"
#include "common/crc32c.h"
#include "raft/hardstate.h"
#include "raft/snapfile.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_PARTS 5 /* the hard state and up to 4 snapshots */

/* ---- hard state ---- */

static void check_hardstate(const char *dir, uint8_t mode, const uint8_t *in, size_t len)
{
    uint8_t buf[HARDSTATE_SIZE];
    const uint8_t *bytes = in;
    if ((mode & 1) && len == HARDSTATE_SIZE) {
        memcpy(buf, in, len);
        put_le32(buf + 40, crc32c(0, buf, 40));
        bytes = buf;
    }
    struct hardstate hs;
    size_t bad_offset = SIZE_MAX;
    const char *why = NULL;
    int rc = hardstate_decode(bytes, len, &hs, &bad_offset, &why);
    if (rc == 0) {
        uint8_t again[HARDSTATE_SIZE];
        hardstate_encode(&hs, again);
        fuzz_check(len == HARDSTATE_SIZE && memcmp(again, bytes, len) == 0);
    } else {
        fuzz_check(rc == -EBADMSG && why != NULL && bad_offset <= HARDSTATE_SIZE);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, HARDSTATE_FILE);
    fuzz_write_file(path, bytes, len);
    struct hardstate loaded;
    bool found = false;
    struct storage_error err;
    int lrc = hardstate_load(dir, &loaded, &found, &err);
    fuzz_check(lrc == rc);
    if (rc == 0)
        fuzz_check(found && loaded.term == hs.term && loaded.vote == hs.vote &&
                   loaded.commit == hs.commit);
}

/* ---- snapshots ---- */

typedef struct snap_file {
    uint64_t index, term;
    uint8_t *bytes; /* owned */
    size_t len;
} snap_file_t;

static void fix_snapshot(uint8_t *f, size_t len)
{
    if (len < SNAP_HEADER_SIZE)
        return;
    put_le32(f + 32, crc32c(0, f, 32));
    uint64_t config_len = get_le32(f + 12);
    if (len < SNAP_HEADER_SIZE + SNAP_TRAILER_SIZE + config_len)
        return;
    uint8_t *t = f + len - SNAP_TRAILER_SIZE;
    put_le64(t, len - SNAP_HEADER_SIZE - SNAP_TRAILER_SIZE - config_len);
    put_le32(t + 8, crc32c(0, f, len - SNAP_TRAILER_SIZE + 8));
}

static bool newer(const snap_file_t *a, const snap_file_t *b)
{
    return a->index != b->index ? a->index > b->index : a->term > b->term;
}

FUZZ_NO_COVERAGE static void check_reader(struct snap_reader *r, const snap_file_t *f, size_t piece)
{
    const struct snap_meta *m = snap_reader_meta(r);
    fuzz_check(m->index == f->index && m->term == f->term && m->file_size == f->len);
    uint64_t data_start = SNAP_HEADER_SIZE + (uint64_t)m->config_len;
    fuzz_check(data_start + m->data_len + SNAP_TRAILER_SIZE == f->len);
    fuzz_check(memcmp(snap_reader_config(r), f->bytes + SNAP_HEADER_SIZE, m->config_len) == 0);
    uint8_t buf[256];
    uint64_t pos = 0;
    struct storage_error err;
    for (;;) {
        size_t got = 0;
        fuzz_check(snap_reader_read(r, buf, piece, &got, &err) == 0);
        if (got == 0)
            break;
        fuzz_check(pos + got <= m->data_len);
        fuzz_check(memcmp(buf, f->bytes + data_start + pos, got) == 0);
        pos += got;
    }
    fuzz_check(pos == m->data_len);
    for (uint64_t off = 0;;) {
        size_t got = 0;
        fuzz_check(snap_reader_read_raw(r, off, buf, sizeof buf, &got, &err) == 0);
        if (got == 0)
            break;
        fuzz_check(memcmp(buf, f->bytes + off, got) == 0);
        off += got;
    }
}

/* An accepted file is exactly what the writer makes of its contents: a
 * byte the checks ignored could change unnoticed. */
static void check_canonical(const char *dir, const snap_file_t *f, const struct snap_meta *m)
{
    struct snap_writer *w;
    struct storage_error err;
    const uint8_t *config = f->bytes + SNAP_HEADER_SIZE;
    fuzz_check(mkdir(dir, 0700) == 0);
    fuzz_check(snap_writer_begin(dir, f->index, f->term, config, m->config_len, &w, &err) == 0);
    fuzz_check(snap_writer_write(w, config + m->config_len, m->data_len, &err) == 0);
    fuzz_check(snap_writer_commit(w, NULL, &err) == 0);
    char path[600];
    snprintf(path, sizeof path, "%s/%s/snap-%016" PRIx64 "-%016" PRIx64 ".snap", dir, SNAP_DIR,
             f->index, f->term);
    FILE *in = fopen(path, "rb");
    fuzz_check(in != NULL);
    uint8_t *buf = malloc(f->len + 1);
    fuzz_check(buf != NULL);
    fuzz_check(fread(buf, 1, f->len + 1, in) == f->len);
    fclose(in);
    fuzz_check(memcmp(buf, f->bytes, f->len) == 0);
    free(buf);
    fuzz_rm_rf(dir);
}

/* Receives f as a follower would; returns the result of finishing. */
static int receive(const char *dir, const snap_file_t *f, uint8_t mode)
{
    struct snap_receiver *r;
    struct storage_error err;
    fuzz_check(mkdir(dir, 0700) == 0);
    fuzz_check(snap_receiver_begin(dir, f->index, f->term, &r, &err) == 0);
    size_t piece = 1 + (mode >> 4) * 4;
    for (size_t off = 0; off < f->len; off += piece) {
        size_t n = f->len - off < piece ? f->len - off : piece;
        fuzz_check(snap_receiver_write(r, off, f->bytes + off, n, &err) == 0);
    }
    int rc = snap_receiver_finish(r, NULL, &err);
    fuzz_rm_rf(dir);
    return rc;
}

static void check_snapshots(const char *dir, const char *recv_dir, uint8_t mode,
                            const fuzz_part_t *parts, size_t n)
{
    char snapdir[512], path[600];
    snprintf(snapdir, sizeof snapdir, "%s/%s", dir, SNAP_DIR);
    fuzz_check(mkdir(snapdir, 0700) == 0);
    snap_file_t files[MAX_PARTS];
    size_t nfiles = 0, newest = 0;
    for (size_t i = 0; i < n; i++) {
        snap_file_t f = { .len = parts[i].len };
        f.bytes = malloc(f.len + 1);
        fuzz_check(f.bytes != NULL);
        memcpy(f.bytes, parts[i].data, f.len);
        if (mode & 1)
            fix_snapshot(f.bytes, f.len);
        f.index = f.len >= 32 ? get_le64(f.bytes + 16) : 1;
        f.term = f.len >= 32 ? get_le64(f.bytes + 24) : 1;
        if (mode & 2)
            f.index++;
        snprintf(path, sizeof path, "%s/snap-%016" PRIx64 "-%016" PRIx64 ".snap", snapdir,
                 f.index, f.term);
        fuzz_write_file(path, f.bytes, f.len);
        /* A later file of the same name replaced an earlier one. */
        size_t k = 0;
        while (k < nfiles && !(files[k].index == f.index && files[k].term == f.term))
            k++;
        if (k < nfiles)
            free(files[k].bytes);
        else
            nfiles++;
        files[k] = f;
    }
    for (size_t k = 1; k < nfiles; k++)
        if (newer(&files[k], &files[newest]))
            newest = k;
    if (mode & 4) {
        snprintf(path, sizeof path, "%s/snap-0000000000000009-0000000000000009.snap.tmp",
                 snapdir);
        fuzz_write_file(path, (const uint8_t *)"partial", 7);
        struct storage_error err;
        fuzz_check(snap_cleanup_temp(dir, &err) == 0);
        fuzz_check(access(path, F_OK) != 0);
    }

    struct snap_reader *r = NULL;
    struct storage_error err;
    memset(&err, 0, sizeof err);
    int rc = snap_open_newest(dir, &r, &err);
    if (nfiles == 0) {
        fuzz_check(rc == -ENOENT && r == NULL);
    } else if (rc < 0) {
        fuzz_check(rc == -EBADMSG && r == NULL && err.msg[0] != 0);
    } else {
        check_reader(r, &files[newest], 1 + (mode >> 4) * 16);
        check_canonical(recv_dir, &files[newest], snap_reader_meta(r));
        snap_reader_close(r);
        fuzz_check(snap_open(dir, files[newest].index, files[newest].term, &r, &err) == 0);
        check_reader(r, &files[newest], 256);
        snap_reader_close(r);
    }
    if ((mode & 8) && nfiles > 0) {
        int rrc = receive(recv_dir, &files[newest], mode);
        fuzz_check((rrc == 0) == (rc == 0));
    }
    for (size_t k = 0; k < nfiles; k++)
        free(files[k].bytes);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool quiet;
    if (!quiet) { /* removed temp files are logged; a million of them is noise */
        log_set_level(LOG_OFF);
        /* Files here are a few KiB: a 512-byte buffer takes the buffer-full
         * path of the writer and receiver, and spares a 256 KiB
         * allocation (an mmap under ASan) per file. */
        snap_set_write_buffer_size(512);
        quiet = true;
    }
    if (size < 1)
        return 0;
    uint8_t mode = data[0];
    const char *base = fuzz_scratch_dir("fuzz_raft_snapfile");
    char dir[256], recv_dir[256];
    snprintf(dir, sizeof dir, "%s/d", base);
    snprintf(recv_dir, sizeof recv_dir, "%s/r", base);
    fuzz_check(mkdir(dir, 0700) == 0);
    fuzz_part_t parts[MAX_PARTS];
    size_t n = fuzz_split(data + 1, size - 1, "|SNAP|", parts, MAX_PARTS);
    check_hardstate(dir, mode, parts[0].data, parts[0].len);
    check_snapshots(dir, recv_dir, mode, parts + 1, n - 1);
    fuzz_rm_rf(dir);
    return 0;
}
