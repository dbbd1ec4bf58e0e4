/* common/crc32c.c — CRC-32C in software (slicing-by-8) and with the SSE4.2
 * instruction, picked at run time (see crc32c.h).
 *
 * Slicing-by-8 (Intel, Kounavis & Berry 2005) folds eight input bytes per
 * step through eight 256-entry tables: table[0] is the classic byte-at-a-time
 * table, table[k][b] is the CRC of byte b followed by k zero bytes. The tables
 * are built once, on first use, under pthread_once. */
#include "common/crc32c.h"
#include "common/bytes.h"

#include <pthread.h>
#include <string.h>

#define CRC32C_POLY_REFLECTED 0x82F63B78u

static uint32_t table[8][256];
static pthread_once_t table_once = PTHREAD_ONCE_INIT;

static void build_tables(void)
{
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int bit = 0; bit < 8; bit++)
            c = (c & 1) ? (c >> 1) ^ CRC32C_POLY_REFLECTED : c >> 1;
        table[0][b] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int b = 0; b < 256; b++)
            table[k][b] = (table[k - 1][b] >> 8) ^ table[0][table[k - 1][b] & 0xff];
}

uint32_t crc32c_portable(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&table_once, build_tables);
    const uint8_t *p = buf;
    uint32_t c = ~crc;
    while (len >= 8) {
        uint32_t lo = get_le32(p) ^ c;
        uint32_t hi = get_le32(p + 4);
        c = table[7][lo & 0xff] ^ table[6][(lo >> 8) & 0xff] ^
            table[5][(lo >> 16) & 0xff] ^ table[4][lo >> 24] ^
            table[3][hi & 0xff] ^ table[2][(hi >> 8) & 0xff] ^
            table[1][(hi >> 16) & 0xff] ^ table[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        c = (c >> 8) ^ table[0][(c ^ *p++) & 0xff];
    return ~c;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

/* The instruction keeps the register un-inverted, like the table loop above;
 * the pre/post inversion is ours. Eight bytes per instruction; the unaligned
 * 8-byte load is fine on x86 (memcpy compiles to one mov). */
__attribute__((target("sse4.2")))
static uint32_t crc32c_sse42(uint32_t crc, const void *buf, size_t len)
{
    const uint8_t *p = buf;
    uint64_t c = (uint32_t)~crc;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, sizeof v);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--)
        c32 = __builtin_ia32_crc32qi(c32, *p++);
    return ~c32;
}

bool crc32c_has_hardware(void)
{
    return __builtin_cpu_supports("sse4.2");
}

uint32_t crc32c_hardware(uint32_t crc, const void *buf, size_t len)
{
    return crc32c_has_hardware() ? crc32c_sse42(crc, buf, len) : crc32c_portable(crc, buf, len);
}

#else

bool crc32c_has_hardware(void)
{
    return false;
}

uint32_t crc32c_hardware(uint32_t crc, const void *buf, size_t len)
{
    return crc32c_portable(crc, buf, len);
}

#endif

typedef uint32_t (*crc32c_fn)(uint32_t, const void *, size_t);
static crc32c_fn chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void choose_implementation(void)
{
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
    chosen = crc32c_has_hardware() ? crc32c_sse42 : crc32c_portable;
#else
    chosen = crc32c_portable;
#endif
}

uint32_t crc32c(uint32_t crc, const void *buf, size_t len)
{
    pthread_once(&chosen_once, choose_implementation);
    return chosen(crc, buf, len);
}
