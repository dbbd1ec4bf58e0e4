/* tests/fuzz/fuzz_common.h — small helpers shared by the libFuzzer targets
 * (header-only: each target is built from its single .c file).
 *
 * fuzz_check aborts (libFuzzer reports it as a crash with the input) when a
 * property does not hold. fuzz_out_t is a growable byte sink for the
 * streaming writers (sm_snapshot); fuzz_in_t a memory source handing out
 * the bytes in pieces of a chosen size, so the readers' loops over short
 * reads are exercised too. The storage targets work in a scratch directory
 * under /dev/shm (fuzz_scratch_dir), emptied after every input. */
#ifndef TESTS_FUZZ_COMMON_H
#define TESTS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

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

static inline int fuzz_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    return flag == FTW_DP ? rmdir(path) : unlink(path);
}

/* Removes path and everything under it; a missing path is fine. */
static inline void fuzz_rm_rf(const char *path)
{
    nftw(path, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
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
    FILE *f = fopen(path, "wb");
    fuzz_check(f != NULL);
    fuzz_check(len == 0 || fwrite(data, 1, len, f) == len);
    fuzz_check(fclose(f) == 0);
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
