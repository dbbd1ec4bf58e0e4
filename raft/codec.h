/* raft/codec.h — the peer wire format: how raft_msg_t travels over TCP.
 *
 * A peer connection starts with a fixed 16-byte hello, then carries frames:
 *
 *   hello:  magic "\xD7RF\x01" (4) | version u8 | reserved u8 | name length u8 |
 *           address length u8 | sender id u64 | name | address
 *   frame:  body length u32 | body
 *   body:   msg type u8 | from u64 | to u64 | term u64 | type-specific fields
 *
 * Everything is little-endian with explicit widths (no struct dumps). The
 * magic's first byte is not ASCII, which is how the listener tells a peer
 * from a person typing admin commands on the same port.
 *
 * Decoding is the trust boundary for bytes from the network: every length
 * and count is checked against the frame, unknown types or flag bits and
 * trailing bytes are errors, and entries must be contiguous. Decoded entries
 * and snapshot bytes point into the frame buffer (no copy); the entry array
 * comes from a caller-owned scratch buffer that the decoder grows. */
#ifndef RAFT_CODEC_H
#define RAFT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/core/raft.h"

#define RAFT_WIRE_MAGIC "\xD7RF\x01"
#define RAFT_WIRE_MAGIC_LEN 4
#define RAFT_WIRE_VERSION 1
#define RAFT_HELLO_LEN 16
/* Largest frame body accepted: a batch of max_bytes_per_msg (1 MiB by
 * default) plus headers, or one maximal entry, with room to spare. */
#define RAFT_FRAME_MAX (8u << 20)
#define RAFT_FRAME_HEADER 4

/* Frame bodies whose first byte is at least this are not Raft messages but
 * runtime frames (e.g. a follower forwarding a proposal); the transport hands
 * them up undecoded. */
#define RAFT_FRAME_APP_MIN 64
/* Runtime frames the transport itself routes: a join request on an
 * authenticated connection, and the acceptor's answer on the same one. */
#define RAFT_FRAME_JOIN_REQ 0x70
#define RAFT_FRAME_JOIN_RESP 0x71

/* Who is on the other end of a peer connection: its Raft id, its name (the
 * daemon's -id) and the address it can be reached at. */
#define RAFT_NAME_MAX 64
#define RAFT_ADDR_MAX 128
typedef struct raft_hello {
    raft_id_t id;
    char name[RAFT_NAME_MAX];   /* NUL-terminated */
    char addr[RAFT_ADDR_MAX];   /* NUL-terminated */
    /* Came through a verified cluster-key handshake (raft/peerauth.h): the
     * id, name and address are a key holder's word, not anyone's; only
     * then may a hello change a known member's address. */
    bool authenticated;
} raft_hello_t;

/* Writes the hello into out (RAFT_HELLO_LEN + name + address bytes, at most
 * RAFT_HELLO_LEN + RAFT_NAME_MAX + RAFT_ADDR_MAX); returns its length. */
size_t raft_codec_hello(uint8_t *out, const raft_hello_t *h);
/* Checks the fixed part of a received hello; returns how many more bytes
 * (name + address) follow, or -1 with *why. */
int raft_codec_hello_rest(const uint8_t in[RAFT_HELLO_LEN], const char **why);
/* Parses a whole hello of `len` bytes into *h; 0, or -1 with *why. */
int raft_codec_parse_hello(const uint8_t *in, size_t len, raft_hello_t *h, const char **why);

/* Exact size of m's frame (header included). */
size_t raft_codec_frame_size(const raft_msg_t *m);
/* Writes m's frame into out, which has raft_codec_frame_size(m) bytes. */
void raft_codec_encode(const raft_msg_t *m, uint8_t *out);

/* Scratch space for decoded entry arrays, reused across frames. */
typedef struct raft_codec_scratch {
    raft_entry_t *entries;
    size_t cap;
} raft_codec_scratch_t;
void raft_codec_scratch_free(raft_codec_scratch_t *s);

/* Decodes one frame body (without its 4-byte length). On success m points
 * into body and s; both must outlive m. Returns 0, or -1 with *why set to a
 * static reason ("truncated append entry", "unknown message type 42", ...). */
int raft_codec_decode(const uint8_t *body, size_t len, raft_msg_t *m,
                      raft_codec_scratch_t *s, const char **why);

#endif
