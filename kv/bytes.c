/* kv/bytes.c — little-endian output buffer and input cursor (kv/bytes.h).
 * The buffer remembers an allocation failure instead of reporting it on every
 * put, so an encoder writes straight-line code and checks once at the end. */
#include "kv/bytes.h"

#include <stdlib.h>
#include <string.h>

void kv_buf_init(kv_buf_t *b)
{
    memset(b, 0, sizeof *b);
}

void kv_buf_free(kv_buf_t *b)
{
    free(b->data);
    kv_buf_init(b);
}

bool kv_buf_reserve(kv_buf_t *b, size_t n)
{
    if (b->failed)
        return false;
    if (n <= b->cap - b->len)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->len < n) {
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

void kv_buf_put(kv_buf_t *b, const void *data, size_t n)
{
    if (n == 0 || !kv_buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, data, n);
    b->len += n;
}

void kv_buf_put_u8(kv_buf_t *b, uint8_t v)
{
    kv_buf_put(b, &v, 1);
}

void kv_buf_put_u16(kv_buf_t *b, uint16_t v)
{
    uint8_t t[2];
    put_le16(t, v);
    kv_buf_put(b, t, 2);
}

void kv_buf_put_u32(kv_buf_t *b, uint32_t v)
{
    uint8_t t[4];
    put_le32(t, v);
    kv_buf_put(b, t, 4);
}

void kv_buf_put_u64(kv_buf_t *b, uint64_t v)
{
    uint8_t t[8];
    put_le64(t, v);
    kv_buf_put(b, t, 8);
}

uint8_t *kv_buf_take(kv_buf_t *b, size_t *len)
{
    uint8_t *p = b->data;
    *len = b->len;
    kv_buf_init(b);
    return p;
}

bool kv_get_bytes(kv_cursor_t *c, size_t n, const uint8_t **out)
{
    if (c->left < n)
        return false;
    *out = c->p;
    c->p += n;
    c->left -= n;
    return true;
}

bool kv_get_u8(kv_cursor_t *c, uint8_t *v)
{
    const uint8_t *p;
    if (!kv_get_bytes(c, 1, &p))
        return false;
    *v = p[0];
    return true;
}

bool kv_get_u16(kv_cursor_t *c, uint16_t *v)
{
    const uint8_t *p;
    if (!kv_get_bytes(c, 2, &p))
        return false;
    *v = get_le16(p);
    return true;
}

bool kv_get_u32(kv_cursor_t *c, uint32_t *v)
{
    const uint8_t *p;
    if (!kv_get_bytes(c, 4, &p))
        return false;
    *v = get_le32(p);
    return true;
}

bool kv_get_u64(kv_cursor_t *c, uint64_t *v)
{
    const uint8_t *p;
    if (!kv_get_bytes(c, 8, &p))
        return false;
    *v = get_le64(p);
    return true;
}

