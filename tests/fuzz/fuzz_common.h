/* tests/fuzz/fuzz_common.h — small helpers shared by the libFuzzer targets
 * (header-only: each target is built from its single .c file).
 *
 * fuzz_check aborts (libFuzzer reports it as a crash with the input) when a
 * property does not hold. fuzz_out_t is a growable byte sink for the
 * streaming writers (sm_snapshot); fuzz_in_t a memory source handing out
 * the bytes in pieces of a chosen size, so the readers' loops over short
 * reads are exercised too. */
#ifndef TESTS_FUZZ_COMMON_H
#define TESTS_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

static inline void fuzz_check(int cond)
{
    if (!cond)
        abort();
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

#endif
