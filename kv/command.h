/* kv/command.h — the commands carried in Raft log entries, and their byte
 * encoding. Raft sees them as opaque bytes; only kv/ interprets them.
 *
 * Every command starts with an 18-byte header, all integers little-endian:
 *
 *   u8  version        KV_CMD_VERSION; anything else is rejected
 *   u8  type           enum kv_cmd_type
 *   u64 client_id      client session (thesis §6.3); 0 = no session, no dedup
 *   u64 seq            the client's sequence number for this command
 *
 * followed by the body of its type:
 *
 *   SET        u16 key_len, key, u32 value_len, value        (kv/text.h rules)
 *   DEL        u16 key_len, key
 *   ZONE_CHUNK origin (wire name), u8 node_len, node id, u64 load_id,
 *              u32 chunk_no, u32 chunk_total, u32 rr_count, rr_count records
 *   ZONE_DEL   origin (wire name)
 *   UPDATE     u8 serial_policy (enum kv_cmd_serial_policy), u64 now (unix seconds
 *              at the proposer, used by the unixtime/dateserial policies),
 *              u8 has_key, [key name (wire name) when has_key], u16 msg_len,
 *              msg: the RFC 2136 UPDATE message as received, TSIG RR removed
 *              (ARCOUNT adjusted). Client id and seq are 0 (no session: the
 *              DNS side has its own retransmission cache). The message itself
 *              is parsed by the state machine (zone/update.h), so a malformed
 *              message is a well-formed command that applies as FORMERR.
 *
 * A record is: owner (wire name), u16 type, u16 class, u32 ttl, u16 rdlen,
 * rdata. Wire names are uncompressed and self-delimiting (length-prefixed
 * labels ending with the root label). The decoder rejects anything short,
 * long, trailing or out of range; what it accepts is safe to use as is.
 *
 * A zone replace is a sequence of ZONE_CHUNK commands 0..chunk_total-1 with
 * the same origin, node id and load id; each encodes to at most KV_CMD_MAX
 * bytes. The state machine publishes the zone when the last one applies. */
#ifndef KV_COMMAND_H
#define KV_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zone/zone.h"

#define KV_CMD_VERSION 1
#define KV_CMD_HEADER_LEN 18
/* No log entry built by kv/ is larger; the decoder refuses larger input. */
#define KV_CMD_MAX (1024u * 1024u)
/* The most chunks one zone load may have (bounds staging memory: 64 GiB at
 * KV_CMD_MAX per chunk is far beyond any real zone, 65536 a sane cap). */
#define KV_ZONE_MAX_CHUNKS 65536u

enum kv_cmd_type {
    KV_CMD_SET = 1,
    KV_CMD_DEL = 2,
    KV_CMD_ZONE_CHUNK = 3,
    KV_CMD_ZONE_DEL = 4,
    KV_CMD_UPDATE = 5,
};

/* How an UPDATE moves the SOA serial (Knot's serial-policy). Carried in the
 * command so every replica computes the same serial. */
enum kv_cmd_serial_policy {
    KV_SERIAL_INCREMENT = 0, /* serial + 1 (RFC 1982 arithmetic) */
    KV_SERIAL_UNIXTIME = 1,  /* the proposer's unix time, or serial + 1 if not newer */
    KV_SERIAL_DATESERIAL = 2 /* YYYYMMDDnn from the proposer's UTC date, or serial + 1 */
};
/* The largest UPDATE message carried (a DNS message over TCP). */
#define KV_UPDATE_MSG_MAX 65535u

/* A decoded command. Every pointer points into the buffer that was decoded,
 * which must outlive this struct. */
typedef struct kv_cmd {
    uint8_t type;
    uint64_t client_id;
    uint64_t seq;
    /* SET, DEL */
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value; /* SET */
    size_t value_len;
    /* ZONE_CHUNK, ZONE_DEL */
    const uint8_t *origin; /* a valid wire name */
    /* ZONE_CHUNK */
    const uint8_t *node_id;
    size_t node_id_len;
    uint64_t load_id;
    uint32_t chunk_no;
    uint32_t chunk_total;
    uint32_t rr_count;
    const uint8_t *records; /* rr_count validated records; see kv_cmd_records_next */
    size_t records_len;
    /* UPDATE */
    uint8_t serial_policy; /* enum kv_cmd_serial_policy, checked */
    uint64_t now;
    const uint8_t *key_name; /* a valid wire name, or NULL when unsigned */
    const uint8_t *msg;
    size_t msg_len;
} kv_cmd_t;

/* Decodes and validates one command. Returns 0, or -1 with *err set to a
 * static reason ("truncated", "unsupported version", ...). */
int kv_cmd_decode(const uint8_t *buf, size_t len, kv_cmd_t *cmd, const char **err);

/* Encoders. Each returns 0 and a malloc'd buffer in *out (the caller frees),
 * or -1 with *err set when an argument breaks the rules the decoder checks
 * or memory runs out. */
int kv_cmd_encode_set(uint64_t client_id, uint64_t seq, const uint8_t *key, size_t key_len,
                      const uint8_t *value, size_t value_len,
                      uint8_t **out, size_t *out_len, const char **err);
int kv_cmd_encode_del(uint64_t client_id, uint64_t seq, const uint8_t *key, size_t key_len,
                      uint8_t **out, size_t *out_len, const char **err);
int kv_cmd_encode_zone_del(uint64_t client_id, uint64_t seq, const uint8_t *origin,
                           uint8_t **out, size_t *out_len, const char **err);

/* UPDATE (the interface with the DNS side, issue #14): encodes `msg` (the
 * UPDATE as received, TSIG RR removed) and the TSIG key name that was checked
 * (NULL: unsigned) into out[0..cap). The serial policy is the one set with
 * kv_cmd_set_serial_policy (default increment) and the time is time(NULL).
 * Returns the command's length, or -1 when msg is empty or over
 * KV_UPDATE_MSG_MAX, the key name is not a valid wire name, or cap is too
 * small. KV_UPDATE_CMD_MAX bytes are always enough. Thread-safe. */
#define KV_UPDATE_CMD_MAX (KV_CMD_HEADER_LEN + 1 + 8 + 1 + NAME_MAX_WIRE + 2 + KV_UPDATE_MSG_MAX)
int kv_cmd_encode_update(const uint8_t *msg, size_t msg_len, const uint8_t *key_name_wire,
                         uint8_t *out, size_t cap);
/* The same with the policy and time given (tests, tools). */
int kv_cmd_encode_update_at(const uint8_t *msg, size_t msg_len, const uint8_t *key_name_wire,
                            enum kv_cmd_serial_policy policy, uint64_t now,
                            uint8_t *out, size_t cap);
/* Sets the policy kv_cmd_encode_update uses (from -zone.serial.policy);
 * call at start-up. */
void kv_cmd_set_serial_policy(enum kv_cmd_serial_policy policy);
/* "increment" / "unixtime" / "dateserial" -> policy; -1 for anything else. */
int kv_cmd_serial_policy_from_text(const char *text);

/* The chunk commands of one zone replace, in log order. Owns every buffer. */
typedef struct kv_cmd_chunks {
    uint8_t **data;
    size_t *len;
    size_t count;
} kv_cmd_chunks_t;

/* Splits `zone` into ZONE_CHUNK commands of at most max_len bytes each
 * (0 means KV_CMD_MAX; larger values are clamped to it). Chunk i carries
 * sequence number first_seq + i. Returns 0, or -1 with *err set. */
int kv_cmd_encode_zone_chunks(const zone_t *zone, const char *node_id, uint64_t load_id,
                          uint64_t client_id, uint64_t first_seq, size_t max_len,
                          kv_cmd_chunks_t *out, const char **err);
void kv_cmd_chunks_free(kv_cmd_chunks_t *chunks);

/* ---- records (shared with the snapshot format) ---- */

/* Encoded size of one record. */
size_t kv_cmd_record_size(const zone_rr_t *rr);
/* Appends one record in the format above. */
struct bytebuf;
void kv_cmd_record_put(struct bytebuf *b, const zone_rr_t *rr);
/* Checks that buf[0..len) is exactly `count` well-formed records. */
bool kv_cmd_records_valid(const uint8_t *buf, size_t len, uint64_t count);
/* Iterates records already checked by kv_cmd_records_valid (or decoded by
 * kv_cmd_decode): start with *pos = 0; false at the end. rr points into buf. */
bool kv_cmd_records_next(const uint8_t *buf, size_t len, size_t *pos, zone_rr_t *rr);
/* Length of the valid uncompressed wire name at buf, or 0 when buf[0..avail)
 * does not start with one. */
size_t kv_cmd_wire_name_len(const uint8_t *buf, size_t avail);

#endif
