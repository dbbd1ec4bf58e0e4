/* tests/faults/powercut_shim.c — the power-cut model of the tests (issue 18):
 * an LD_PRELOAD library that records, for one data directory, the state a
 * power cut would leave behind. Test-only; never linked into dns-raft.
 *
 * What it models. Linux keeps written data, new directory entries, renames
 * and unlinks in memory until they are synced; a power cut loses whatever
 * was not. This library keeps a shadow of the *synced* state beside the
 * data directory (POWERCUT_SHADOW):
 *
 *   files/<inode>   the content of a regular file as of its last successful
 *                   fsync/fdatasync (the whole file: data and size);
 *   dirs/<key>      the entries (type, inode, name) of a directory as of its
 *                   last successful fsync; <key> is "@" + the path under the
 *                   data dir with '/' written as '%' ("@" the data dir itself,
 *                   "@wal" its wal/ subdirectory).
 *
 * Only fsync(2) and fdatasync(2) feed the model: the shadow is a snapshot
 * taken at each successful sync, so write, pwrite, rename, unlink,
 * ftruncate, mkdir and close need no hook (their effects count only once a
 * sync has been taken after them, which is the point). A power cut is then
 * SIGKILL plus tests/faults/powercut.py `restore`, which rebuilds the data
 * directory from the shadow: every directory holds exactly the entries of
 * its last fsync (or of the start of the process, when powercut.py
 * `snapshot` took the first shadow), every file the content of its last
 * sync, or nothing if it was never synced. Optionally (`restore --tear`)
 * any subset of the 512-byte sectors written since a file's last sync
 * survives, the rest read as they were synced or as zeros past the end: a
 * torn write, as a disk that persists sectors in any order leaves it.
 *
 * What it does not model: metadata-only effects of fdatasync (it is taken
 * to be fsync), hard links, an inode number reused after an unlink whose
 * directory was never synced, a directory renamed, the data directory
 * itself vanishing (its parent is not modelled), and file systems that
 * persist more than POSIX promises (ext4 data=ordered often would keep a
 * renamed file; we never do). Syscalls made without libc's wrappers, and
 * sync(2)/syncfs(2)/O_SYNC opens, are not seen (dns-raft uses none).
 *
 * Disk faults: while the file POWERCUT_SHADOW/fail-sync exists, every
 * fsync/fdatasync of a file or directory under the data dir fails with EIO
 * (after the real call, and without a shadow update: what it should have
 * made durable is lost at the next power cut, as Linux may drop the dirty
 * pages of a failed write-back).
 *
 * While POWERCUT_SHADOW/fail-write exists, every write(2) and pwrite(2) to
 * a regular file under the data dir fails with ENOSPC, nothing written: a
 * full disk that a test can fill and empty at once (the only reason write
 * and pwrite are wrapped).
 *
 * Environment: POWERCUT_DIR (absolute, resolved path of the data dir) and
 * POWERCUT_SHADOW (the shadow directory, holding files/ and dirs/). Without
 * them the library only forwards the calls. A shadow write that fails
 * makes the intercepted call fail with EIO, so a model that cannot keep up
 * is never silently wrong.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int (*real_fsync)(int);
static int (*real_fdatasync)(int);
static ssize_t (*real_write)(int, const void *, size_t);
static ssize_t (*real_pwrite)(int, const void *, size_t, off_t);
static const char *data_dir;
static const char *shadow_dir;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void)
{
    real_fsync = (int (*)(int))dlsym(RTLD_NEXT, "fsync");
    real_fdatasync = (int (*)(int))dlsym(RTLD_NEXT, "fdatasync");
    real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
    real_pwrite = (ssize_t (*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
    data_dir = getenv("POWERCUT_DIR");
    shadow_dir = getenv("POWERCUT_SHADOW");
    if (!data_dir || !*data_dir || !shadow_dir || !*shadow_dir)
        data_dir = shadow_dir = NULL;
}

/* The path under the data dir of the file fd refers to ("" for the data
 * dir itself) in rel; 0 if fd is not under it. */
static int relative_path(int fd, char *rel, size_t cap)
{
    char link[64], path[PATH_MAX];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 0)
        return 0;
    path[n] = '\0';
    size_t dl = strlen(data_dir);
    if (strncmp(path, data_dir, dl) != 0 || (path[dl] != '\0' && path[dl] != '/'))
        return 0;
    const char *r = path + dl + (path[dl] == '/');
    if (strlen(r) >= cap)
        return 0;
    strcpy(rel, r);
    return 1;
}

/* Writes len bytes to a fresh temp file in shadow/<sub>/ and renames it to
 * <name> there: the shadow changes atomically, whatever kills the process. */
static int shadow_put(const char *sub, const char *name, int src_fd, const char *text, size_t len)
{
    char tmp[PATH_MAX], dst[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s/%s/.tmp.%ld", shadow_dir, sub, (long)syscall(SYS_gettid));
    snprintf(dst, sizeof dst, "%s/%s/%s", shadow_dir, sub, name);
    int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out < 0)
        return -1;
    int ok = 1;
    if (text) {
        ok = write(out, text, len) == (ssize_t)len;
    } else {
        char buf[65536];
        off_t off = 0;
        for (;;) {
            ssize_t n = pread(src_fd, buf, sizeof buf, off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                ok = n == 0;
                break;
            }
            if (write(out, buf, (size_t)n) != n) {
                ok = 0;
                break;
            }
            off += n;
        }
    }
    if (close(out) != 0 || !ok || rename(tmp, dst) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* files/<inode> := the file's content now (reopened read-only: the caller's
 * descriptor may be write-only). */
static int record_file(int fd, const struct stat *st)
{
    char link[64], name[32];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    int in = open(link, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    snprintf(name, sizeof name, "%llu", (unsigned long long)st->st_ino);
    int rc = shadow_put("files", name, in, NULL, 0);
    close(in);
    return rc;
}

/* dirs/<key> := "d|f <inode> <name>\n" for every entry now. */
static int record_dir(int fd, const char *rel)
{
    char link[64], key[PATH_MAX + 2];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    int dfd = open(link, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    DIR *d = fdopendir(dfd);
    if (!d) {
        close(dfd);
        return -1;
    }
    size_t cap = 4096, len = 0;
    char *text = malloc(cap);
    struct dirent *e;
    int rc = text ? 0 : -1;
    while (rc == 0 && (e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue; /* removed while we read: not an entry any more */
        if (len + strlen(e->d_name) + 40 > cap) {
            char *bigger = realloc(text, cap * 2);
            if (!bigger) {
                rc = -1;
                break;
            }
            text = bigger;
            cap *= 2;
        }
        len += (size_t)sprintf(text + len, "%c %llu %s\n", S_ISDIR(st.st_mode) ? 'd' : 'f',
                               (unsigned long long)st.st_ino, e->d_name);
    }
    closedir(d);
    if (rc == 0) {
        snprintf(key, sizeof key, "@%s", rel);
        for (char *p = key; *p; p++)
            if (*p == '/')
                *p = '%';
        rc = shadow_put("dirs", key, -1, text, len);
    }
    free(text);
    return rc;
}

static int sync_fails(void)
{
    char path[PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/fail-sync", shadow_dir);
    return access(path, F_OK) == 0;
}

/* After a successful sync of fd: the shadow takes what is now durable. */
static int after_sync(int fd, int rc)
{
    if (rc != 0 || !data_dir)
        return rc;
    char rel[PATH_MAX];
    struct stat st;
    if (fstat(fd, &st) != 0 || !relative_path(fd, rel, sizeof rel))
        return rc;
    int saved = errno;
    if (sync_fails()) {
        errno = EIO;
        return -1;
    }
    int bad = S_ISDIR(st.st_mode) ? record_dir(fd, rel)
              : S_ISREG(st.st_mode) ? record_file(fd, &st) : 0;
    if (bad) {
        fprintf(stderr, "powercut_shim: cannot record the sync of %s/%s in %s\n",
                data_dir, rel, shadow_dir);
        errno = EIO;
        return -1;
    }
    errno = saved;
    return rc;
}

/* The fail-write switch is on and fd is a regular file in the data dir. */
static int write_fails(int fd)
{
    if (!data_dir)
        return 0;
    char path[PATH_MAX + 16], rel[PATH_MAX];
    snprintf(path, sizeof path, "%s/fail-write", shadow_dir);
    struct stat st;
    int saved = errno;
    int fails = access(path, F_OK) == 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
                relative_path(fd, rel, sizeof rel);
    errno = saved;
    return fails;
}

ssize_t write(int fd, const void *buf, size_t len)
{
    pthread_once(&once, init);
    if (write_fails(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_write(fd, buf, len);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
    pthread_once(&once, init);
    if (write_fails(fd)) {
        errno = ENOSPC;
        return -1;
    }
    return real_pwrite(fd, buf, len, off);
}

/* The same function under its large-file name (callers built with
 * _FILE_OFFSET_BITS=64, such as CPython, call this one). */
ssize_t pwrite64(int fd, const void *buf, size_t len, off_t off)
{
    return pwrite(fd, buf, len, off);
}

int fsync(int fd)
{
    pthread_once(&once, init);
    return after_sync(fd, real_fsync(fd));
}

int fdatasync(int fd)
{
    pthread_once(&once, init);
    return after_sync(fd, real_fdatasync(fd));
}
