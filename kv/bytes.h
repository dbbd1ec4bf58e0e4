/* kv/bytes.h — explicit little-endian encoding helpers for the log-entry and
 * snapshot formats: a growable output buffer and a bounds-checked input
 * cursor. Nothing here depends on the host byte order or on struct layout.
 *
 * Ownership: a kv_buf_t owns its data (free with kv_buf_free, or take it with
 * kv_buf_take). A kv_cursor_t only borrows the bytes it reads. */
#ifndef KV_BYTES_H
#define KV_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/bytes.h"

typedef struct kv_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    bool failed; /* an allocation failed; every later put is a no-op */
} kv_buf_t;

void kv_buf_init(kv_buf_t *b);
void kv_buf_free(kv_buf_t *b);
/* Makes room for n more bytes; false (and b->failed) on allocation failure. */
bool kv_buf_reserve(kv_buf_t *b, size_t n);
void kv_buf_put(kv_buf_t *b, const void *data, size_t n);
void kv_buf_put_u8(kv_buf_t *b, uint8_t v);
void kv_buf_put_u16(kv_buf_t *b, uint16_t v);
void kv_buf_put_u32(kv_buf_t *b, uint32_t v);
void kv_buf_put_u64(kv_buf_t *b, uint64_t v);
/* Hands the data to the caller (who frees it) and resets b. */
uint8_t *kv_buf_take(kv_buf_t *b, size_t *len);

typedef struct kv_cursor {
    const uint8_t *p;
    size_t left;
} kv_cursor_t;

/* Each getter returns false, consuming nothing, when too few bytes remain. */
bool kv_get_u8(kv_cursor_t *c, uint8_t *v);
bool kv_get_u16(kv_cursor_t *c, uint16_t *v);
bool kv_get_u32(kv_cursor_t *c, uint32_t *v);
bool kv_get_u64(kv_cursor_t *c, uint64_t *v);
/* Points *out at the next n bytes (no copy). */
bool kv_get_bytes(kv_cursor_t *c, size_t n, const uint8_t **out);

/* Little-endian loads/stores on raw memory: common/bytes.h. */

#endif
