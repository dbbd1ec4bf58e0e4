/* raft/peerauth.h — peer authentication with a cluster key: the key ring,
 * the handshake's messages and state, and sealed records (issue #12).
 * Pure: no sockets, no clocks, so it can be unit tested and fuzzed; the
 * transport (raft/transport.c) and the join client (raft/authjoin.c) move
 * the bytes. Cryptography is OpenSSL libcrypto only (HMAC-SHA256 through
 * EVP_MAC, RAND_bytes, CRYPTO_memcmp, EVP_DecodeBlock).
 *
 * Key file: one or two lines, each base64 of 32..64 key bytes; '#' comments
 * and blank lines are ignored. The first key signs, both verify. A key's id
 * is the first 8 bytes of HMAC(K, "dns-raft key id").
 *
 * Handshake (protocol version 3; D dials, A accepts; docs/security.md):
 *
 *   D->A HELLO:     magic | 3 | flags=AUTH | name len | addr len | id u64 |
 *                   key id (8) | nonce_d (32) | name | addr
 *   A->D CHALLENGE: magic | 3 | kind=CHALLENGE | name len | 0 | id u64 |
 *                   nonce_a (32) | mac_a (32) | name
 *        mac_a = HMAC(K, "dns-raft v3 acceptor\0" | HELLO | CHALLENGE without mac_a)
 *   D->A PROOF:     mac_d = HMAC(K, "dns-raft v3 dialer\0" | HELLO | CHALLENGE)
 *   session key  =  HMAC(K, "dns-raft v3 session\0" | HELLO | CHALLENGE)
 *
 * K is the key D named by its id. Or A->D REFUSE instead of CHALLENGE:
 * magic | 3 | kind=REFUSE | reason len | 0 | reason (not authenticated:
 * only logged, never acted on except by closing).
 *
 * After the handshake, frames travel in sealed records (as TLS records):
 *   record = payload length u32 | payload | tag (16)
 *   payload = one or more whole frames, each length u32 | body (type first)
 *   tag = HMAC-SHA256(session, direction u8 | seq u64 | payload length u32 |
 *         payload) truncated to 16 bytes
 * The sequence number counts the records sent in that direction from 0 and
 * is never sent; direction 0 is D->A. A sender seals what it queued in one
 * flush as one record (a corked batch of AppendEntries or forwarded writes
 * costs one MAC, not one per frame); a payload holds at most
 * PEERAUTH_RECORD_MAX bytes, so one largest frame fits. The receiver checks
 * the whole record's tag before it looks at any frame inside, and the
 * frames must fill the payload exactly (peerauth_record_next).
 *
 * Version 2 (one tag per frame) and version 3 refuse each other at the
 * hello: a cluster with a key is upgraded all at once. */
#ifndef RAFT_PEERAUTH_H
#define RAFT_PEERAUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "raft/codec.h"

#define PEERAUTH_VERSION 3
/* The keyed protocol before records (one tag per frame): refused by name. */
#define PEERAUTH_VERSION_PER_FRAME 2
#define PEERAUTH_FLAG_AUTH 0x01
#define PEERAUTH_KIND_CHALLENGE 0x01
#define PEERAUTH_KIND_REFUSE 0x02
#define PEERAUTH_KEY_MIN 32
#define PEERAUTH_KEY_MAX 64
#define PEERAUTH_KEYS_MAX 2
#define PEERAUTH_KEYID_LEN 8
#define PEERAUTH_NONCE_LEN 32
#define PEERAUTH_MAC_LEN 32
#define PEERAUTH_TAG_LEN 16
#define PEERAUTH_PROOF_LEN PEERAUTH_MAC_LEN
/* A record: its header (the payload length) and its largest payload. */
#define PEERAUTH_RECORD_HEADER 4
#define PEERAUTH_RECORD_MAX (RAFT_FRAME_HEADER + RAFT_FRAME_MAX)
#define PEERAUTH_RECORD_MIN (RAFT_FRAME_HEADER + 1)
/* What a record adds around its payload. */
#define PEERAUTH_RECORD_OVERHEAD (PEERAUTH_RECORD_HEADER + PEERAUTH_TAG_LEN)
#define PEERAUTH_HELLO_FIXED (RAFT_HELLO_LEN + PEERAUTH_KEYID_LEN + PEERAUTH_NONCE_LEN)
#define PEERAUTH_HELLO_MAX (PEERAUTH_HELLO_FIXED + RAFT_NAME_MAX + RAFT_ADDR_MAX)
#define PEERAUTH_CHALLENGE_FIXED (RAFT_HELLO_LEN + PEERAUTH_NONCE_LEN + PEERAUTH_MAC_LEN)
#define PEERAUTH_CHALLENGE_MAX (PEERAUTH_CHALLENGE_FIXED + RAFT_NAME_MAX)
#define PEERAUTH_REFUSE_FIXED 8
#define PEERAUTH_REFUSE_MAX (PEERAUTH_REFUSE_FIXED + 255)
/* Direction bytes in the record MAC. */
#define PEERAUTH_DIR_D2A 0
#define PEERAUTH_DIR_A2D 1

typedef struct peerauth_key {
    uint8_t bytes[PEERAUTH_KEY_MAX];
    size_t len;
    uint8_t id[PEERAUTH_KEYID_LEN];
} peerauth_key_t;

/* keys[0] signs (the dialer names it); every key verifies. */
typedef struct peerauth_ring {
    peerauth_key_t keys[PEERAUTH_KEYS_MAX];
    size_t n;
} peerauth_ring_t;

/* Parses key file text; `file` names it in errors ("file:3: reason").
 * Returns 0, or -1 with err. */
int peerauth_ring_parse(peerauth_ring_t *r, const char *text, size_t len, const char *file,
                        char *err, size_t err_len);
/* Reads and parses a key file; *too_open is set when group or others may
 * read it (the caller warns). Returns 0 or -1 with err. */
int peerauth_ring_load(peerauth_ring_t *r, const char *path, bool *too_open, char *err,
                       size_t err_len);
/* Zeroes the key bytes. */
void peerauth_ring_wipe(peerauth_ring_t *r);
/* Writes a fresh key file (a comment line and one key of 32 random bytes)
 * into out; returns its length, or 0 if out is too small or RAND failed. */
size_t peerauth_keygen(char *out, size_t cap);

/* ---- per-connection session: sealed records ---------------------------------- */

typedef struct peerauth_session peerauth_session_t;
/* Seals one record (record = payload length u32 | payload, contiguous, the
 * length already written) in the session's sending direction: writes
 * PEERAUTH_TAG_LEN bytes at record + 4 + payload_len and advances the
 * sending sequence number. */
void peerauth_seal(peerauth_session_t *s, uint8_t *record, size_t payload_len);
/* Checks the tag after record + 4 + payload_len for the receiving
 * direction and sequence number; true (and the sequence advances) if it
 * matches. */
bool peerauth_open(peerauth_session_t *s, const uint8_t *record, size_t payload_len);
/* Writes a record holding the one frame `body` (len bytes) into out
 * (PEERAUTH_RECORD_OVERHEAD + RAFT_FRAME_HEADER + len bytes) and seals it;
 * returns the record's size. len must be 1..RAFT_FRAME_MAX. */
size_t peerauth_seal_one(peerauth_session_t *s, uint8_t *out, const uint8_t *body, size_t len);
/* What a record's first bytes say: >0 the record's whole size (header,
 * payload and tag), 0 need more bytes, -1 a payload length out of
 * [PEERAUTH_RECORD_MIN, PEERAUTH_RECORD_MAX] (*why). */
long peerauth_record_size(const uint8_t *in, size_t have, const char **why);
/* Walks the frames of an opened record's payload: from *at, sets body and
 * len to the next frame and moves *at past it; 1 a frame, 0 the payload's
 * end, -1 the frames do not fill the payload exactly (an empty or
 * oversized frame, or one running past the end: *why). */
int peerauth_record_next(const uint8_t *payload, size_t payload_len, size_t *at,
                         const uint8_t **body, size_t *len, const char **why);
/* True if the payload is whole frames that fill it exactly (*why if not). */
bool peerauth_record_valid(const uint8_t *payload, size_t payload_len, const char **why);
void peerauth_session_free(peerauth_session_t *s);

/* ---- the handshake ---------------------------------------------------------- */

typedef enum peerauth_role { PEERAUTH_DIALER, PEERAUTH_ACCEPTOR } peerauth_role_t;

typedef struct peerauth_hs {
    peerauth_role_t role;
    const peerauth_ring_t *ring;
    const peerauth_key_t *key;  /* the key D named */
    raft_hello_t self, peer;    /* peer: as it proved itself */
    uint8_t transcript[PEERAUTH_HELLO_MAX + PEERAUTH_CHALLENGE_MAX];
    size_t hello_len, transcript_len;
    char refusal[256];          /* a REFUSE's reason, for the dialer's log */
} peerauth_hs_t;

/* What a message's first bytes say about its total length: >0 the length,
 * 0 need more bytes (have < the fixed part), -1 malformed (*why). Kinds:
 * the dialer's HELLO (acceptor side), and CHALLENGE-or-REFUSE (dialer side). */
int peerauth_hello_len(const uint8_t *in, size_t have, const char **why);
int peerauth_reply_len(const uint8_t *in, size_t have, const char **why);

/* Dialer: starts a handshake and writes HELLO into out
 * (PEERAUTH_HELLO_MAX); returns its length, 0 if RAND failed. */
size_t peerauth_dialer_hello(peerauth_hs_t *hs, const peerauth_ring_t *ring,
                             const raft_hello_t *self, uint8_t *out);
/* Dialer: takes the acceptor's whole reply (peerauth_reply_len bytes). If
 * expect_id is nonzero the acceptor must have that id. On success writes
 * PROOF into proof (PEERAUTH_PROOF_LEN), returns the session and fills
 * hs->peer; NULL with *why otherwise (a REFUSE: why = hs->refusal). */
peerauth_session_t *peerauth_dialer_finish(peerauth_hs_t *hs, const uint8_t *in, size_t len,
                                           raft_id_t expect_id, uint8_t *proof, const char **why);

/* Acceptor: takes the whole HELLO, writes CHALLENGE into out
 * (PEERAUTH_CHALLENGE_MAX); returns its length, or -1 with *why (unknown
 * key id, malformed hello...). */
int peerauth_acceptor_challenge(peerauth_hs_t *hs, const peerauth_ring_t *ring,
                                const raft_hello_t *self, const uint8_t *in, size_t len,
                                uint8_t *out, const char **why);
/* Acceptor: checks PROOF (PEERAUTH_PROOF_LEN bytes); returns the session
 * and hs->peer is the authenticated hello; NULL with *why if it is wrong. */
peerauth_session_t *peerauth_acceptor_finish(peerauth_hs_t *hs, const uint8_t *proof,
                                             const char **why);

/* A REFUSE message with `reason` (truncated to 255 printable bytes); returns
 * its length (out has PEERAUTH_REFUSE_MAX bytes). */
size_t peerauth_refusal(uint8_t *out, const char *reason);

#endif
