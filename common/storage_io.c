/* common/storage_io.c — durable file primitives and error reports for the
 * storage modules (see storage_io.h).
 *
 * Why the directory fsyncs: a rename or unlink is a change to the directory,
 * not to the file; until the directory itself is fsynced, a power loss may
 * bring back the old name (ext4, xfs and btrfs all document this). */
#include "common/storage_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int storage_fail(struct storage_error *err, int code, const char *fmt, ...)
{
    if (err) {
        err->code = code;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Fault injection state: countdown per operation, -1 = disarmed. Only tests
 * arm it, from one thread. */
static struct {
    long countdown;
    int errnum;
} faults[3] = { { -1, 0 }, { -1, 0 }, { -1, 0 } };

void storage_inject_fault(enum storage_fault_op op, unsigned skip, int errnum)
{
    faults[op].countdown = (long)skip;
    faults[op].errnum = errnum;
}

void storage_clear_faults(void)
{
    for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++)
        faults[i].countdown = -1;
}

/* Returns the errno to fake for this call, or 0. */
static int fault_fires(enum storage_fault_op op)
{
    if (faults[op].countdown < 0)
        return 0;
    if (faults[op].countdown-- > 0)
        return 0;
    return faults[op].errnum;
}

/* write(2) (offset < 0) or pwrite(2) at offset until len bytes are written. */
static int write_fully(int fd, const uint8_t *p, size_t len, off_t offset)
{
    while (len > 0) {
        ssize_t n = offset < 0 ? write(fd, p, len) : pwrite(fd, p, len, offset);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
        if (offset >= 0)
            offset += n;
    }
    return 0;
}

static int write_or_fail(int fd, const void *buf, size_t len, off_t offset)
{
    int injected = fault_fires(STORAGE_FAULT_WRITE);
    if (injected) /* half the bytes land, then the disk is "full" */
        return write_fully(fd, buf, len / 2, offset) < 0 ? -EIO : -injected;
    return write_fully(fd, buf, len, offset);
}

int storage_write_all(int fd, const void *buf, size_t len)
{
    return write_or_fail(fd, buf, len, -1);
}

int storage_pwrite_all(int fd, const void *buf, size_t len, off_t offset)
{
    return write_or_fail(fd, buf, len, offset);
}

int storage_pread_all(int fd, void *buf, size_t len, off_t offset, size_t *got)
{
    uint8_t *p = buf;
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, p + done, len - done, offset + (off_t)done);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *got = done;
            return -errno;
        }
        if (n == 0)
            break;
        done += (size_t)n;
    }
    *got = done;
    return 0;
}

int storage_fdatasync(int fd)
{
    int injected = fault_fires(STORAGE_FAULT_SYNC);
    if (injected)
        return -injected;
    return fdatasync(fd) < 0 ? -errno : 0;
}

int storage_fsync(int fd)
{
    int injected = fault_fires(STORAGE_FAULT_SYNC);
    if (injected)
        return -injected;
    return fsync(fd) < 0 ? -errno : 0;
}

int storage_ftruncate(int fd, off_t len)
{
    while (ftruncate(fd, len) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return 0;
}

int storage_fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = storage_fsync(fd);
    close(fd);
    return rc;
}

/* The directory holding path ("." when there is no slash). */
static void parent_of(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(out, cap, ".");
    else if (slash == path)
        snprintf(out, cap, "/");
    else
        snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

int storage_ensure_dir(const char *dir, struct storage_error *err)
{
    if (mkdir(dir, 0755) == 0) {
        char parent[4096];
        parent_of(dir, parent, sizeof parent);
        int rc = storage_fsync_dir(parent);
        if (rc < 0)
            return storage_fail(err, rc, "%s: fsync of parent directory: %s", dir, strerror(-rc));
        return 0;
    }
    if (errno != EEXIST)
        return storage_fail(err, -errno, "%s: mkdir: %s", dir, strerror(errno));
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
        return storage_fail(err, -ENOTDIR, "%s: exists and is not a directory", dir);
    return 0;
}

int storage_unlink_durable(const char *dir, const char *name, struct storage_error *err)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (unlink(path) < 0 && errno != ENOENT)
        return storage_fail(err, -errno, "%s: unlink: %s", path, strerror(errno));
    int rc = storage_fsync_dir(dir);
    if (rc < 0)
        return storage_fail(err, rc, "%s: fsync of directory: %s", dir, strerror(-rc));
    return 0;
}

int storage_rename_durable(const char *dir, const char *from, const char *to,
                           struct storage_error *err)
{
    char src[4096], dst[4096];
    snprintf(src, sizeof src, "%s/%s", dir, from);
    snprintf(dst, sizeof dst, "%s/%s", dir, to);
    int injected = fault_fires(STORAGE_FAULT_RENAME);
    if (injected)
        return storage_fail(err, -injected, "%s: rename to %s: %s", src, to, strerror(injected));
    if (rename(src, dst) < 0)
        return storage_fail(err, -errno, "%s: rename to %s: %s", src, to, strerror(errno));
#ifdef DNSRAFT_TEST_SKIP_DIR_SYNC
    /* Planted bug, only in build/tests/dns-raft-skip-dir-sync: the new name
     * is not made durable. tests/integration/power_cut.py must catch it
     * (issue 18); never in a real build. */
    return 0;
#endif
    int rc = storage_fsync_dir(dir);
    if (rc < 0)
        return storage_fail(err, rc, "%s: fsync of directory: %s", dir, strerror(-rc));
    return 0;
}

int storage_write_file_atomic(const char *dir, const char *name, const void *content,
                              size_t len, struct storage_error *err)
{
    char tmp_name[512], tmp_path[4096];
    snprintf(tmp_name, sizeof tmp_name, "%s.tmp", name);
    snprintf(tmp_path, sizeof tmp_path, "%s/%s", dir, tmp_name);
    int fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return storage_fail(err, -errno, "%s: open: %s", tmp_path, strerror(errno));
    int rc = storage_write_all(fd, content, len);
    if (rc < 0) {
        storage_fail(err, rc, "%s: write: %s", tmp_path, strerror(-rc));
        goto fail;
    }
    rc = storage_fsync(fd);
    if (rc < 0) {
        storage_fail(err, rc, "%s: fsync: %s", tmp_path, strerror(-rc));
        goto fail;
    }
    close(fd);
    fd = -1;
    rc = storage_rename_durable(dir, tmp_name, name, err);
    if (rc < 0)
        goto fail;
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp_path);
    return rc;
}

int storage_read_file(const char *path, size_t max_len, uint8_t **out, size_t *len,
                      struct storage_error *err)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return storage_fail(err, -errno, "%s: open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        int e = errno;
        close(fd);
        return storage_fail(err, -e, "%s: fstat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > max_len) {
        close(fd);
        return storage_fail(err, -EFBIG, "%s: not a regular file of at most %zu bytes", path, max_len);
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size ? size : 1);
    if (!buf) {
        close(fd);
        return storage_fail(err, -ENOMEM, "%s: out of memory for %zu bytes", path, size);
    }
    size_t got = 0;
    int rc = storage_pread_all(fd, buf, size, 0, &got);
    close(fd);
    if (rc < 0) {
        free(buf);
        return storage_fail(err, rc, "%s: read: %s", path, strerror(-rc));
    }
    *out = buf;
    *len = got;
    return 0;
}
