/* kv/bytes.h — explicit little-endian encoding helpers for the log-entry and
 * snapshot formats: the output buffer is common/bytebuf.h (bytebuf_put_u32
 * ...), the bounds-checked input cursor is here. Nothing here depends on the
 * host byte order or on struct layout. A kv_cursor_t only borrows the bytes
 * it reads. */
#ifndef KV_BYTES_H
#define KV_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bytebuf.h"
#include "common/bytes.h"

typedef struct kv_cursor {
    const uint8_t *p;
    size_t left;
} kv_cursor_t;

/* Each getter returns false, consuming nothing, when too few bytes remain. */
bool kv_cursor_u8(kv_cursor_t *c, uint8_t *v);
bool kv_cursor_u16(kv_cursor_t *c, uint16_t *v);
bool kv_cursor_u32(kv_cursor_t *c, uint32_t *v);
bool kv_cursor_u64(kv_cursor_t *c, uint64_t *v);
/* Points *out at the next n bytes (no copy). */
bool kv_cursor_bytes(kv_cursor_t *c, size_t n, const uint8_t **out);

/* Little-endian loads/stores on raw memory: common/bytes.h. */

#endif
