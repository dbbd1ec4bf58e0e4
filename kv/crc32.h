/* kv/crc32.h — CRC-32 (IEEE 802.3, the zlib polynomial), used to reject a
 * corrupt state-machine snapshot. Incremental: start with crc = 0 and feed
 * the data in as many pieces as convenient. */
#ifndef KV_CRC32_H
#define KV_CRC32_H

#include <stddef.h>
#include <stdint.h>

uint32_t kv_crc32(uint32_t crc, const void *data, size_t len);

#endif
