/* raft/snapfile.c — snapshot files: streaming writer, chunked receiver,
 * checked streaming reader, pruning (see snapfile.h; bytes in
 * docs/storage.md).
 *
 * The file checksum covers everything before it, so one pass over the file
 * proves it whole; opening a snapshot makes that pass before a single byte
 * reaches the state machine, and reading makes it again, so a file changed
 * underneath is reported instead of half-restored silently. */
#include "raft/snapfile.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/crc32c.h"

static const uint8_t SNAP_MAGIC[8] = { 'R', 'A', 'F', 'T', 'S', 'N', 'A', 'P' };
static const uint8_t SNAP_END_MAGIC[8] = { 'S', 'N', 'A', 'P', 'E', 'N', 'D', 0 };
#define SNAP_VERSION 1
#define SNAP_NAME_LEN 43 /* "snap-" 16 "-" 16 ".snap" */
#define WRITE_BUFFER (256u * 1024)
#define CHECK_CHUNK (1u << 20)

/* ---- names ------------------------------------------------------------- */

static void snap_name(uint64_t index, uint64_t term, char out[SNAP_NAME_LEN + 1])
{
    snprintf(out, SNAP_NAME_LEN + 1, "snap-%016" PRIx64 "-%016" PRIx64 ".snap", index, term);
}

static bool parse_hex16(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < 16; i++) {
        char c = s[i];
        int d = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
        if (d < 0)
            return false;
        x = x << 4 | (uint64_t)d;
    }
    *v = x;
    return true;
}

static bool parse_snap_name(const char *name, uint64_t *index, uint64_t *term)
{
    return strlen(name) == SNAP_NAME_LEN && strncmp(name, "snap-", 5) == 0 && name[21] == '-' &&
           strcmp(name + 38, ".snap") == 0 && parse_hex16(name + 5, index) &&
           parse_hex16(name + 22, term);
}

static int snap_dir_of(const char *data_dir, char *out, size_t cap, struct storage_error *err)
{
    if ((size_t)snprintf(out, cap, "%s/%s", data_dir, SNAP_DIR) >= cap)
        return storage_fail(err, -ENAMETOOLONG, "%s: path too long", data_dir);
    return 0;
}

/* ---- the sealed file: shared by writer and receiver ------------------ */

/* A temp file being filled, with the running checksum of its bytes. */
struct sink {
    char dir[4096];
    char tmp_name[64];
    int fd;
    uint64_t written;
    uint32_t crc;
    uint8_t *buf;        /* owned; buf_cap bytes */
    size_t buf_len, buf_cap;
};

/* Changed only by snap_set_write_buffer_size (tests). */
static size_t write_buffer_size = WRITE_BUFFER;

void snap_set_write_buffer_size(size_t bytes)
{
    write_buffer_size = bytes ? bytes : WRITE_BUFFER;
}

static int sink_open(struct sink *s, const char *data_dir, const char *tmp_name,
                     struct storage_error *err)
{
    s->fd = -1;
    s->buf = NULL;
    int rc = snap_dir_of(data_dir, s->dir, sizeof s->dir, err);
    if (rc == 0)
        rc = storage_ensure_dir(data_dir, err);
    if (rc == 0)
        rc = storage_ensure_dir(s->dir, err);
    if (rc < 0)
        return rc;
    snprintf(s->tmp_name, sizeof s->tmp_name, "%s", tmp_name);
    s->buf_cap = write_buffer_size;
    s->buf = malloc(s->buf_cap);
    if (!s->buf)
        return storage_fail(err, -ENOMEM, "%s: out of memory", s->dir);
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", s->dir, s->tmp_name);
    s->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (s->fd < 0) {
        free(s->buf);
        s->buf = NULL;
        return storage_fail(err, -errno, "%s: open: %s", path, strerror(errno));
    }
    return 0;
}

static int sink_flush(struct sink *s, struct storage_error *err)
{
    if (s->buf_len == 0)
        return 0;
    int rc = storage_write_all(s->fd, s->buf, s->buf_len);
    if (rc < 0)
        return storage_fail(err, rc, "%s/%s: offset %" PRIu64 ": write: %s", s->dir, s->tmp_name,
                            s->written - s->buf_len, strerror(-rc));
    s->buf_len = 0;
    return 0;
}

static int sink_write(struct sink *s, const void *data, size_t len, struct storage_error *err)
{
    const uint8_t *p = data;
    s->crc = crc32c(s->crc, p, len);
    while (len > 0) {
        size_t n = s->buf_cap - s->buf_len < len ? s->buf_cap - s->buf_len : len;
        memcpy(s->buf + s->buf_len, p, n);
        s->buf_len += n;
        s->written += n;
        p += n;
        len -= n;
        if (s->buf_len == s->buf_cap) {
            int rc = sink_flush(s, err);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

static void sink_discard(struct sink *s)
{
    if (s->fd >= 0) {
        close(s->fd);
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", s->dir, s->tmp_name);
        unlink(path);
    }
    s->fd = -1;
    free(s->buf);
    s->buf = NULL;
}

static int sink_fsync(struct sink *s, struct storage_error *err)
{
    int rc = sink_flush(s, err);
    if (rc < 0)
        return rc;
    rc = storage_fsync(s->fd);
    if (rc < 0)
        return storage_fail(err, rc, "%s/%s: fsync: %s", s->dir, s->tmp_name, strerror(-rc));
    return 0;
}

/* ---- checking a whole file --------------------------------------------- */

struct checked {
    struct snap_meta meta;
    uint8_t *config;       /* owned; meta.config_len bytes */
    uint32_t crc_prefix;   /* CRC of header + config: where data streaming resumes */
};

static int bad(struct storage_error *err, const char *path, uint64_t at, const char *why)
{
    return storage_fail(err, -EBADMSG, "%s: offset %" PRIu64 ": %s (corrupt snapshot)", path, at, why);
}

static int read_exact(int fd, const char *path, uint64_t off, void *buf, size_t len,
                      struct storage_error *err)
{
    size_t got = 0;
    int rc = storage_pread_all(fd, buf, len, (off_t)off, &got);
    if (rc < 0)
        return storage_fail(err, rc, "%s: offset %" PRIu64 ": read: %s", path, off, strerror(-rc));
    if (got != len)
        return bad(err, path, off + got, "file shorter than expected");
    return 0;
}

/* CRC of file bytes [from, to), extending crc. */
static int crc_range(int fd, const char *path, uint64_t from, uint64_t to, uint32_t *crc,
                     struct storage_error *err)
{
    size_t cap = to - from < CHECK_CHUNK ? (size_t)(to - from) : CHECK_CHUNK;
    uint8_t *buf = malloc(cap ? cap : 1);
    if (!buf)
        return storage_fail(err, -ENOMEM, "%s: out of memory", path);
    int rc = 0;
    for (uint64_t off = from; rc == 0 && off < to; off += cap) {
        size_t n = to - off < cap ? (size_t)(to - off) : cap;
        rc = read_exact(fd, path, off, buf, n, err);
        if (rc == 0)
            *crc = crc32c(*crc, buf, n);
    }
    free(buf);
    return rc;
}

static int check_header(const char *path, const uint8_t *h, uint64_t size, struct snap_meta *m,
                        struct storage_error *err)
{
    if (memcmp(h, SNAP_MAGIC, sizeof SNAP_MAGIC) != 0)
        return bad(err, path, 0, "bad magic");
    if (get_le32(h + 32) != crc32c(0, h, 32))
        return bad(err, path, 32, "header checksum mismatch");
    if (get_le32(h + 36) != 0)
        return bad(err, path, 36, "nonzero header padding");
    if (get_le32(h + 8) != SNAP_VERSION)
        return bad(err, path, 8, "unsupported version");
    m->config_len = get_le32(h + 12);
    m->index = get_le64(h + 16);
    m->term = get_le64(h + 24);
    if (m->config_len > SNAP_MAX_CONFIG ||
        m->config_len > size - SNAP_HEADER_SIZE - SNAP_TRAILER_SIZE)
        return bad(err, path, 12, "config length out of bounds");
    return 0;
}

static int check_trailer(const char *path, const uint8_t *t, uint64_t size, struct snap_meta *m,
                         struct storage_error *err)
{
    uint64_t at = size - SNAP_TRAILER_SIZE;
    if (memcmp(t + 16, SNAP_END_MAGIC, sizeof SNAP_END_MAGIC) != 0)
        return bad(err, path, at + 16, "bad end magic (incomplete file?)");
    if (get_le32(t + 12) != 0)
        return bad(err, path, at + 12, "nonzero trailer padding");
    m->data_len = get_le64(t);
    if (m->data_len != size - SNAP_HEADER_SIZE - SNAP_TRAILER_SIZE - m->config_len)
        return bad(err, path, at, "data length does not match the file size");
    return 0;
}

/* Proves the open file whole: header, trailer, lengths, checksum. On
 * success c->config is allocated (the caller frees it). */
static int check_file(int fd, const char *path, struct checked *c, struct storage_error *err)
{
    memset(c, 0, sizeof *c);
    struct stat st;
    if (fstat(fd, &st) < 0)
        return storage_fail(err, -errno, "%s: fstat: %s", path, strerror(errno));
    uint64_t size = (uint64_t)st.st_size;
    if (size < SNAP_HEADER_SIZE + SNAP_TRAILER_SIZE)
        return bad(err, path, size, "file too short");
    c->meta.file_size = size;
    uint8_t h[SNAP_HEADER_SIZE], t[SNAP_TRAILER_SIZE];
    int rc = read_exact(fd, path, 0, h, sizeof h, err);
    if (rc == 0)
        rc = check_header(path, h, size, &c->meta, err);
    if (rc == 0)
        rc = read_exact(fd, path, size - SNAP_TRAILER_SIZE, t, sizeof t, err);
    if (rc == 0)
        rc = check_trailer(path, t, size, &c->meta, err);
    if (rc < 0)
        return rc;
    c->config = malloc(c->meta.config_len ? c->meta.config_len : 1);
    if (!c->config)
        return storage_fail(err, -ENOMEM, "%s: out of memory", path);
    uint64_t data_start = SNAP_HEADER_SIZE + (uint64_t)c->meta.config_len;
    uint32_t crc = crc32c(0, h, sizeof h);
    rc = read_exact(fd, path, SNAP_HEADER_SIZE, c->config, c->meta.config_len, err);
    if (rc == 0) {
        crc = crc32c(crc, c->config, c->meta.config_len);
        c->crc_prefix = crc;
        rc = crc_range(fd, path, data_start, size - SNAP_TRAILER_SIZE + 8, &crc, err);
    }
    if (rc == 0 && crc != get_le32(t + 8))
        rc = bad(err, path, size - SNAP_TRAILER_SIZE + 8, "content checksum mismatch");
    if (rc < 0) {
        free(c->config);
        c->config = NULL;
    }
    return rc;
}

/* ---- listing and pruning ----------------------------------------------- */

struct snap_id {
    uint64_t index, term;
};

static int compare_ids(const void *a, const void *b)
{
    const struct snap_id *x = a, *y = b;
    if (x->index != y->index)
        return x->index < y->index ? -1 : 1;
    return x->term < y->term ? -1 : x->term > y->term;
}

/* The snapshot files in dir, oldest first; *ids owned by the caller. A
 * missing directory is an empty list. */
static int list_snapshots(const char *dir, struct snap_id **ids, size_t *n,
                          struct storage_error *err)
{
    *ids = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : storage_fail(err, -errno, "%s: opendir: %s", dir, strerror(errno));
    size_t cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        struct snap_id id;
        if (!parse_snap_name(e->d_name, &id.index, &id.term))
            continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            struct snap_id *grown = realloc(*ids, cap * sizeof *grown);
            if (!grown) {
                rc = storage_fail(err, -ENOMEM, "%s: out of memory", dir);
                break;
            }
            *ids = grown;
        }
        (*ids)[(*n)++] = id;
    }
    closedir(d);
    if (rc < 0) {
        free(*ids);
        *ids = NULL;
        *n = 0;
        return rc;
    }
    if (*n > 1)
        qsort(*ids, *n, sizeof **ids, compare_ids);
    return 0;
}

/* Keeps the newest SNAP_KEEP snapshots. A failure to delete an old one is
 * logged, not returned: the new snapshot is already safely in place. */
static void prune(const char *dir)
{
    struct snap_id *ids;
    size_t n;
    if (list_snapshots(dir, &ids, &n, NULL) < 0)
        return;
    for (size_t i = 0; i + SNAP_KEEP < n; i++) {
        char name[SNAP_NAME_LEN + 1];
        struct storage_error e;
        snap_name(ids[i].index, ids[i].term, name);
        if (storage_unlink_durable(dir, name, &e) < 0)
            log_warn("snap", "pruning an old snapshot: %s", e.msg);
    }
    free(ids);
}

/* Renames a fsynced, checked temp file into place and prunes. */
static int install(struct sink *s, uint64_t index, uint64_t term, struct storage_error *err)
{
    char name[SNAP_NAME_LEN + 1];
    snap_name(index, term, name);
    close(s->fd);
    s->fd = -1;
    int rc = storage_rename_durable(s->dir, s->tmp_name, name, err);
    if (rc < 0) {
        char path[4200];
        snprintf(path, sizeof path, "%s/%s", s->dir, s->tmp_name);
        unlink(path);
        return rc;
    }
    prune(s->dir);
    return 0;
}

/* ---- writer ------------------------------------------------------------ */

struct snap_writer {
    struct sink sink;
    uint64_t index, term;
    uint32_t config_len;
    uint64_t data_len;
};

int snap_writer_begin(const char *data_dir, uint64_t index, uint64_t term, const void *config,
                      uint32_t config_len, struct snap_writer **out, struct storage_error *err)
{
    *out = NULL;
    if (config_len > SNAP_MAX_CONFIG)
        return storage_fail(err, -EINVAL, "%s: snapshot config of %" PRIu32 " bytes exceeds %u",
                            data_dir, config_len, SNAP_MAX_CONFIG);
    struct snap_writer *w = calloc(1, sizeof *w);
    if (!w)
        return storage_fail(err, -ENOMEM, "%s: out of memory", data_dir);
    char name[SNAP_NAME_LEN + 1], tmp[64];
    snap_name(index, term, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", name);
    int rc = sink_open(&w->sink, data_dir, tmp, err);
    if (rc < 0) {
        free(w);
        return rc;
    }
    w->index = index;
    w->term = term;
    w->config_len = config_len;
    uint8_t h[SNAP_HEADER_SIZE] = { 0 };
    memcpy(h, SNAP_MAGIC, sizeof SNAP_MAGIC);
    put_le32(h + 8, SNAP_VERSION);
    put_le32(h + 12, config_len);
    put_le64(h + 16, index);
    put_le64(h + 24, term);
    put_le32(h + 32, crc32c(0, h, 32));
    rc = sink_write(&w->sink, h, sizeof h, err);
    if (rc == 0 && config_len)
        rc = sink_write(&w->sink, config, config_len, err);
    if (rc < 0) {
        snap_writer_abort(w);
        return rc;
    }
    *out = w;
    return 0;
}

int snap_writer_write(struct snap_writer *w, const void *chunk, size_t len,
                      struct storage_error *err)
{
    int rc = sink_write(&w->sink, chunk, len, err);
    if (rc == 0)
        w->data_len += len;
    return rc;
}

int snap_writer_commit(struct snap_writer *w, struct snap_meta *meta, struct storage_error *err)
{
    uint8_t t[SNAP_TRAILER_SIZE] = { 0 };
    put_le64(t, w->data_len);
    int rc = sink_write(&w->sink, t, 8, err);
    if (rc == 0) {
        put_le32(t + 8, w->sink.crc);
        memcpy(t + 16, SNAP_END_MAGIC, sizeof SNAP_END_MAGIC);
        rc = sink_write(&w->sink, t + 8, SNAP_TRAILER_SIZE - 8, err);
    }
    if (rc == 0)
        rc = sink_fsync(&w->sink, err);
    if (rc == 0)
        rc = install(&w->sink, w->index, w->term, err);
    if (rc == 0 && meta)
        *meta = (struct snap_meta){ .index = w->index, .term = w->term,
                                    .config_len = w->config_len, .data_len = w->data_len,
                                    .file_size = w->sink.written };
    snap_writer_abort(w);
    return rc;
}

void snap_writer_abort(struct snap_writer *w)
{
    if (!w)
        return;
    sink_discard(&w->sink);
    free(w);
}

/* ---- receiver ---------------------------------------------------------- */

struct snap_receiver {
    struct sink sink;
    uint64_t index, term;
};

int snap_receiver_begin(const char *data_dir, uint64_t index, uint64_t term,
                        struct snap_receiver **out, struct storage_error *err)
{
    *out = NULL;
    struct snap_receiver *r = calloc(1, sizeof *r);
    if (!r)
        return storage_fail(err, -ENOMEM, "%s: out of memory", data_dir);
    char tmp[64];
    snprintf(tmp, sizeof tmp, "recv-%016" PRIx64 "-%016" PRIx64 ".snap.tmp", index, term);
    int rc = sink_open(&r->sink, data_dir, tmp, err);
    if (rc < 0) {
        free(r);
        return rc;
    }
    r->index = index;
    r->term = term;
    *out = r;
    return 0;
}

uint64_t snap_receiver_offset(const struct snap_receiver *r)
{
    return r->sink.written;
}

int snap_receiver_write(struct snap_receiver *r, uint64_t offset, const void *chunk, size_t len,
                        struct storage_error *err)
{
    if (offset != r->sink.written)
        return storage_fail(err, -EINVAL, "%s/%s: chunk at offset %" PRIu64 " but %" PRIu64
                            " bytes received", r->sink.dir, r->sink.tmp_name, offset,
                            r->sink.written);
    return sink_write(&r->sink, chunk, len, err);
}

int snap_receiver_finish(struct snap_receiver *r, struct snap_meta *meta,
                         struct storage_error *err)
{
    int rc = sink_fsync(&r->sink, err);
    struct checked c = { 0 };
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", r->sink.dir, r->sink.tmp_name);
    if (rc == 0) {
        /* Checked through a fresh descriptor: what is on disk, not what we
         * think we wrote. */
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            rc = storage_fail(err, -errno, "%s: open: %s", path, strerror(errno));
        else {
            rc = check_file(fd, path, &c, err);
            close(fd);
        }
    }
    if (rc == 0 && (c.meta.index != r->index || c.meta.term != r->term))
        rc = storage_fail(err, -EBADMSG, "%s: offset 16: snapshot is index %" PRIu64 " term %"
                          PRIu64 ", announced as index %" PRIu64 " term %" PRIu64, path,
                          c.meta.index, c.meta.term, r->index, r->term);
    free(c.config);
    if (rc == 0)
        rc = install(&r->sink, r->index, r->term, err);
    if (rc == 0 && meta)
        *meta = c.meta;
    snap_receiver_abort(r);
    return rc;
}

void snap_receiver_abort(struct snap_receiver *r)
{
    if (!r)
        return;
    sink_discard(&r->sink);
    free(r);
}

/* ---- reader ------------------------------------------------------------ */

struct snap_reader {
    int fd;
    char path[4200];
    struct checked c;
    uint64_t data_pos;     /* bytes of data handed out so far */
    uint32_t crc;          /* running CRC while streaming data */
};

static int open_checked(const char *dir, uint64_t index, uint64_t term, struct snap_reader **out,
                        struct storage_error *err)
{
    struct snap_reader *r = calloc(1, sizeof *r);
    if (!r)
        return storage_fail(err, -ENOMEM, "%s: out of memory", dir);
    char name[SNAP_NAME_LEN + 1];
    snap_name(index, term, name);
    snprintf(r->path, sizeof r->path, "%s/%s", dir, name);
    r->fd = open(r->path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        int e = errno;
        storage_fail(err, -e, "%s: open: %s", r->path, strerror(e));
        free(r);
        return -e;
    }
    int rc = check_file(r->fd, r->path, &r->c, err);
    if (rc == 0 && (r->c.meta.index != index || r->c.meta.term != term))
        rc = bad(err, r->path, 16, "index or term in the header does not match the file name");
    if (rc < 0) {
        snap_reader_close(r);
        return rc;
    }
    r->crc = r->c.crc_prefix;
    *out = r;
    return 0;
}

int snap_open(const char *data_dir, uint64_t index, uint64_t term, struct snap_reader **out,
              struct storage_error *err)
{
    *out = NULL;
    char dir[4096];
    int rc = snap_dir_of(data_dir, dir, sizeof dir, err);
    return rc < 0 ? rc : open_checked(dir, index, term, out, err);
}

int snap_open_newest(const char *data_dir, struct snap_reader **out, struct storage_error *err)
{
    *out = NULL;
    char dir[4096];
    int rc = snap_dir_of(data_dir, dir, sizeof dir, err);
    struct snap_id *ids = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = list_snapshots(dir, &ids, &n, err);
    if (rc < 0)
        return rc;
    if (n == 0) {
        free(ids);
        return storage_fail(err, -ENOENT, "%s: no snapshot", dir);
    }
    rc = open_checked(dir, ids[n - 1].index, ids[n - 1].term, out, err);
    free(ids);
    return rc;
}

int snap_open_older(const char *data_dir, struct snap_reader **out, char *bad_name,
                    struct storage_error *err)
{
    *out = NULL;
    char dir[4096];
    struct snap_id *ids = NULL;
    size_t n = 0;
    int rc = snap_dir_of(data_dir, dir, sizeof dir, err);
    if (rc == 0)
        rc = list_snapshots(dir, &ids, &n, err);
    if (rc < 0)
        return rc;
    if (n < 2) {
        free(ids);
        return storage_fail(err, -ENOENT, "%s: no older snapshot", dir);
    }
    snap_name(ids[n - 1].index, ids[n - 1].term, bad_name);
    rc = open_checked(dir, ids[n - 2].index, ids[n - 2].term, out, err);
    free(ids);
    return rc;
}

int snap_set_aside(const char *data_dir, const char *name, struct storage_error *err)
{
    char dir[4096], aside[SNAP_NAME_LEN + 16];
    int rc = snap_dir_of(data_dir, dir, sizeof dir, err);
    if (rc < 0)
        return rc;
    snprintf(aside, sizeof aside, "%s.corrupt", name);
    return storage_rename_durable(dir, name, aside, err);
}

const struct snap_meta *snap_reader_meta(const struct snap_reader *r)
{
    return &r->c.meta;
}

const uint8_t *snap_reader_config(const struct snap_reader *r)
{
    return r->c.config;
}

int snap_reader_read(struct snap_reader *r, void *buf, size_t cap, size_t *got,
                     struct storage_error *err)
{
    *got = 0;
    const struct snap_meta *m = &r->c.meta;
    uint64_t left = m->data_len - r->data_pos;
    if (left == 0 || cap == 0)
        return 0;
    size_t n = left < cap ? (size_t)left : cap;
    uint64_t off = SNAP_HEADER_SIZE + (uint64_t)m->config_len + r->data_pos;
    int rc = read_exact(r->fd, r->path, off, buf, n, err);
    if (rc < 0)
        return rc;
    r->crc = crc32c(r->crc, buf, n);
    r->data_pos += n;
    if (r->data_pos == m->data_len) {
        uint8_t t[SNAP_TRAILER_SIZE];
        rc = read_exact(r->fd, r->path, m->file_size - SNAP_TRAILER_SIZE, t, sizeof t, err);
        if (rc < 0)
            return rc;
        if (crc32c(r->crc, t, 8) != get_le32(t + 8))
            return bad(err, r->path, m->file_size - SNAP_TRAILER_SIZE + 8,
                       "content changed after the snapshot was opened");
    }
    *got = n;
    return 0;
}

int snap_reader_read_raw(struct snap_reader *r, uint64_t offset, void *buf, size_t cap,
                         size_t *got, struct storage_error *err)
{
    *got = 0;
    uint64_t size = r->c.meta.file_size;
    if (offset > size)
        return storage_fail(err, -EINVAL, "%s: raw read at offset %" PRIu64 " past the end (%" PRIu64 ")",
                            r->path, offset, size);
    size_t n = size - offset < cap ? (size_t)(size - offset) : cap;
    int rc = read_exact(r->fd, r->path, offset, buf, n, err);
    if (rc == 0)
        *got = n;
    return rc;
}

void snap_reader_close(struct snap_reader *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    free(r->c.config);
    free(r);
}

int snap_cleanup_temp(const char *data_dir, struct storage_error *err)
{
    char dir[4096];
    int rc = snap_dir_of(data_dir, dir, sizeof dir, err);
    if (rc < 0)
        return rc;
    DIR *d = opendir(dir);
    if (!d)
        return errno == ENOENT ? 0 : storage_fail(err, -errno, "%s: opendir: %s", dir, strerror(errno));
    struct dirent *e;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0) {
            log_info("snap", "%s/%s: removing an interrupted snapshot write", dir, e->d_name);
            rc = storage_unlink_durable(dir, e->d_name, err);
        }
    }
    closedir(d);
    return rc;
}
