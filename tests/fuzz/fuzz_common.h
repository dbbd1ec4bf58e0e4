/* tests/fuzz/fuzz_common.h — small helpers shared by the libFuzzer targets
 * (header-only: each target is built from its single .c file).
 *
 * fuzz_check aborts (libFuzzer reports it as a crash with the input) when a
 * property does not hold. fuzz_out_t is a growable byte sink for the
 * streaming writers (sm_snapshot); fuzz_in_t a memory source handing out
 * the bytes in pieces of a chosen size, so the readers' loops over short
 * reads are exercised too. The storage targets work in a scratch directory
 * under /dev/shm (fuzz_scratch_dir), emptied after every input.
 *
 * The file helpers use plain system calls on purpose: they run for every
 * input, and stdio's FILE and buffer, nftw's stat per entry and opendir's
 * 32 KiB buffer are each a malloc/free (expensive under ASan) or a system
 * call that the storage targets' speed went to. */
#ifndef TESTS_FUZZ_COMMON_H
#define TESTS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

/* For the harness's own models and checks that walk long inputs: without
 * coverage instrumentation their compares are not each a call into the
 * fuzzer, and their edges (which mirror the code under test) add no
 * features for libFuzzer to keep track of on every run. Sanitizers still
 * apply. */
#define FUZZ_NO_COVERAGE __attribute__((no_sanitize("coverage")))

static inline void fuzz_rm_rf(const char *path);
static char fuzz_scratch_base[64];

/* A failed check leaves no scratch directory behind (a sanitizer report
 * still may: libFuzzer exits from its own handler). */
static inline void fuzz_check(int cond)
{
    if (!cond) {
        if (fuzz_scratch_base[0])
            fuzz_rm_rf(fuzz_scratch_base);
        abort();
    }
}

/* Owns data (fuzz_out_free). */
typedef struct fuzz_out {
    uint8_t *data;
    size_t len, cap;
} fuzz_out_t;

static inline int fuzz_out_write(void *arg, const void *p, size_t n)
{
    fuzz_out_t *o = arg;
    if (o->len + n > o->cap) {
        size_t cap = o->cap ? o->cap : 256;
        while (cap < o->len + n)
            cap *= 2;
        uint8_t *d = realloc(o->data, cap);
        fuzz_check(d != NULL);
        o->data = d;
        o->cap = cap;
    }
    if (n)
        memcpy(o->data + o->len, p, n);
    o->len += n;
    return 0;
}

static inline void fuzz_out_free(fuzz_out_t *o)
{
    free(o->data);
    memset(o, 0, sizeof *o);
}

/* Borrows data. piece 0 means "as much as asked". */
typedef struct fuzz_in {
    const uint8_t *data;
    size_t len, pos, piece;
} fuzz_in_t;

static inline ssize_t fuzz_in_read(void *arg, void *buf, size_t n)
{
    fuzz_in_t *in = arg;
    size_t left = in->len - in->pos;
    if (n > left)
        n = left;
    if (in->piece && n > in->piece)
        n = in->piece;
    if (n)
        memcpy(buf, in->data + in->pos, n);
    in->pos += n;
    return (ssize_t)n;
}

/* ---- scratch files (storage targets) ---- */

/* Calls fn for every entry of the directory open as dfd but "." and "..".
 * getdents64 into a stack buffer: no allocation, and d_type tells
 * directories apart without a stat (tmpfs fills it in; DT_UNKNOWN is
 * possible elsewhere). fn may unlink the entry it is given. */
typedef void (*fuzz_entry_fn)(void *arg, int dfd, const char *name, unsigned char type);

static inline void fuzz_each_entry(int dfd, fuzz_entry_fn fn, void *arg)
{
    char buf[4096] __attribute__((aligned(8)));
    for (;;) {
        long n = syscall(SYS_getdents64, dfd, buf, sizeof buf);
        if (n <= 0)
            return;
        for (long off = 0; off < n;) {
            struct fuzz_dirent64 {
                uint64_t ino;
                int64_t off;
                unsigned short reclen;
                unsigned char type;
                char name[];
            } *e = (struct fuzz_dirent64 *)(buf + off);
            off += e->reclen;
            if (strcmp(e->name, ".") != 0 && strcmp(e->name, "..") != 0)
                fn(arg, dfd, e->name, e->type);
        }
    }
}

static inline void fuzz_empty_dirfd(int dfd);

static inline void fuzz_remove_entry(void *arg, int dfd, const char *name, unsigned char type)
{
    (void)arg;
    if (type != DT_DIR && unlinkat(dfd, name, 0) == 0)
        return;
    int sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (sub < 0)
        return;
    fuzz_empty_dirfd(sub);
    close(sub);
    unlinkat(dfd, name, AT_REMOVEDIR);
}

/* Removes everything inside the directory open as dfd. */
static inline void fuzz_empty_dirfd(int dfd)
{
    fuzz_each_entry(dfd, fuzz_remove_entry, NULL);
}

/* Removes everything under path but keeps path; a missing path is fine. */
static inline void fuzz_empty_dir(const char *path)
{
    int dfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (dfd < 0)
        return;
    fuzz_empty_dirfd(dfd);
    close(dfd);
}

/* Removes path and everything under it; a missing path is fine. */
static inline void fuzz_rm_rf(const char *path)
{
    if (unlink(path) == 0)
        return;
    fuzz_empty_dir(path);
    rmdir(path);
}

static inline void fuzz_scratch_cleanup(void)
{
    if (fuzz_scratch_base[0])
        fuzz_rm_rf(fuzz_scratch_base);
}

/* This process's scratch directory (created on first use under /dev/shm,
 * removed at exit). */
static inline const char *fuzz_scratch_dir(const char *target)
{
    if (!fuzz_scratch_base[0]) {
        snprintf(fuzz_scratch_base, sizeof fuzz_scratch_base, "/dev/shm/%s.XXXXXX", target);
        fuzz_check(mkdtemp(fuzz_scratch_base) != NULL);
        atexit(fuzz_scratch_cleanup);
    }
    return fuzz_scratch_base;
}

/* Writes a whole file (created or replaced). */
static inline void fuzz_write_file(const char *path, const uint8_t *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    fuzz_check(fd >= 0);
    for (size_t done = 0; done < len;) {
        ssize_t n = write(fd, data + done, len - done);
        fuzz_check(n > 0);
        done += (size_t)n;
    }
    fuzz_check(close(fd) == 0);
}

/* Splits data[0..len) at every occurrence of sep into at most max parts
 * (the last part keeps any further separators). Returns the count. */
typedef struct fuzz_part {
    const uint8_t *data;
    size_t len;
} fuzz_part_t;

static inline size_t fuzz_split(const uint8_t *data, size_t len, const char *sep,
                                fuzz_part_t *parts, size_t max)
{
    size_t seplen = strlen(sep), n = 0, start = 0;
    for (size_t i = 0; n + 1 < max && i + seplen <= len; i++)
        if (memcmp(data + i, sep, seplen) == 0) {
            parts[n++] = (fuzz_part_t){ data + start, i - start };
            start = i + seplen;
            i = start - 1;
        }
    parts[n++] = (fuzz_part_t){ data + start, len - start };
    return n;
}

#endif
