/* common/bytebuf.h — the one growable byte buffer: encoders append to its
 * end (kv commands and snapshots, the node's snapshot envelope) and queues
 * consume from its front (the transport's per-peer send queue).
 *
 * Bytes [start, start + len) of data are held; consumed bytes before start
 * are reclaimed when room is needed. A failed allocation in bytebuf_put*
 * is remembered (failed) and makes every later put a no-op, so an encoder
 * writes straight-line code and checks once at the end; bytebuf_reserve
 * reports its own failure. The buffer owns data (bytebuf_free, or
 * bytebuf_take hands it over). A zeroed bytebuf_t is empty. */
#ifndef COMMON_BYTEBUF_H
#define COMMON_BYTEBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bytebuf {
    uint8_t *data;
    size_t start, len, cap;
    bool failed; /* an allocation failed in a put: later puts are no-ops */
} bytebuf_t;

void bytebuf_init(bytebuf_t *b);
void bytebuf_free(bytebuf_t *b);
/* Room for `extra` more bytes at the end; false (and failed) if the
 * allocation fails. */
bool bytebuf_reserve(bytebuf_t *b, size_t extra);
void bytebuf_put(bytebuf_t *b, const void *data, size_t n);
void bytebuf_put_u8(bytebuf_t *b, uint8_t v);
/* Little-endian (common/bytes.h). */
void bytebuf_put_u16(bytebuf_t *b, uint16_t v);
void bytebuf_put_u32(bytebuf_t *b, uint32_t v);
void bytebuf_put_u64(bytebuf_t *b, uint64_t v);
/* Hands the held bytes to the caller (who frees them) and resets b. */
uint8_t *bytebuf_take(bytebuf_t *b, size_t *len);

/* The first held byte, and where the next put goes. */
static inline uint8_t *bytebuf_head(bytebuf_t *b) { return b->data + b->start; }
static inline uint8_t *bytebuf_tail(bytebuf_t *b) { return b->data + b->start + b->len; }

/* Drops the first n held bytes (n <= len). */
static inline void bytebuf_consume(bytebuf_t *b, size_t n)
{
    b->start += n;
    b->len -= n;
    if (b->len == 0)
        b->start = 0;
}

#endif
