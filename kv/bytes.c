/* kv/bytes.c — the bounds-checked little-endian input cursor (kv/bytes.h);
 * the output buffer is common/bytebuf.c. */
#include "kv/bytes.h"

#include <stdlib.h>
#include <string.h>

bool kv_cursor_bytes(kv_cursor_t *c, size_t n, const uint8_t **out)
{
    if (c->left < n)
        return false;
    *out = c->p;
    c->p += n;
    c->left -= n;
    return true;
}

bool kv_cursor_u8(kv_cursor_t *c, uint8_t *v)
{
    const uint8_t *p;
    if (!kv_cursor_bytes(c, 1, &p))
        return false;
    *v = p[0];
    return true;
}

bool kv_cursor_u16(kv_cursor_t *c, uint16_t *v)
{
    const uint8_t *p;
    if (!kv_cursor_bytes(c, 2, &p))
        return false;
    *v = get_le16(p);
    return true;
}

bool kv_cursor_u32(kv_cursor_t *c, uint32_t *v)
{
    const uint8_t *p;
    if (!kv_cursor_bytes(c, 4, &p))
        return false;
    *v = get_le32(p);
    return true;
}

bool kv_cursor_u64(kv_cursor_t *c, uint64_t *v)
{
    const uint8_t *p;
    if (!kv_cursor_bytes(c, 8, &p))
        return false;
    *v = get_le64(p);
    return true;
}

