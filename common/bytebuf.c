/* common/bytebuf.c — the growable byte buffer (common/bytebuf.h). */
#include "common/bytebuf.h"

#include <stdlib.h>
#include <string.h>

#include "common/bytes.h"

void bytebuf_init(bytebuf_t *b)
{
    memset(b, 0, sizeof *b);
}

void bytebuf_free(bytebuf_t *b)
{
    free(b->data);
    bytebuf_init(b);
}

bool bytebuf_reserve(bytebuf_t *b, size_t extra)
{
    if (b->start > 0 && b->start + b->len + extra > b->cap) {
        memmove(b->data, b->data + b->start, b->len);
        b->start = 0;
    }
    if (extra <= b->cap - b->len)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < extra) {
        if (cap > SIZE_MAX / 2) {
            b->failed = true;
            return false;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void bytebuf_put(bytebuf_t *b, const void *data, size_t n)
{
    if (b->failed || n == 0 || !bytebuf_reserve(b, n))
        return;
    memcpy(bytebuf_tail(b), data, n);
    b->len += n;
}

void bytebuf_put_u8(bytebuf_t *b, uint8_t v)
{
    bytebuf_put(b, &v, 1);
}

void bytebuf_put_u16(bytebuf_t *b, uint16_t v)
{
    uint8_t t[2];
    put_le16(t, v);
    bytebuf_put(b, t, 2);
}

void bytebuf_put_u32(bytebuf_t *b, uint32_t v)
{
    uint8_t t[4];
    put_le32(t, v);
    bytebuf_put(b, t, 4);
}

void bytebuf_put_u64(bytebuf_t *b, uint64_t v)
{
    uint8_t t[8];
    put_le64(t, v);
    bytebuf_put(b, t, 8);
}

uint8_t *bytebuf_take(bytebuf_t *b, size_t *len)
{
    if (b->start > 0 && b->len > 0)
        memmove(b->data, b->data + b->start, b->len);
    uint8_t *p = b->data;
    *len = b->len;
    bytebuf_init(b);
    return p;
}
