/* common/crc32c.h — CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the
 * checksum of every WAL record, hard-state file and snapshot.
 *
 * Chosen over zlib's CRC-32 because x86-64 computes it in hardware (SSE4.2
 * `crc32` instruction), and it detects more error patterns in short records
 * (iSCSI, ext4 and etcd's WAL use it for the same reasons).
 *
 * crc32c(0, buf, len) is the standard value (RFC 3720 §B.4). The functions
 * extend a running CRC, so
 *   crc32c(crc32c(0, a, n), b, m) == crc32c(0, a||b, n + m). */
#ifndef RAFT_CRC32C_H
#define RAFT_CRC32C_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Fastest available implementation (chosen once, on first call). */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
/* The portable slicing-by-8 table implementation. */
uint32_t crc32c_portable(uint32_t crc, const void *buf, size_t len);
/* The SSE4.2 instruction; falls back to crc32c_portable when the CPU (or
 * the architecture) lacks it. Exposed so tests can compare the two. */
uint32_t crc32c_hardware(uint32_t crc, const void *buf, size_t len);
/* True when crc32c_hardware really uses the CPU instruction. */
bool crc32c_has_hardware(void);

#endif
