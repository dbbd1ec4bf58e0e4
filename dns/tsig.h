/* dns/tsig.h — TSIG (RFC 8945): shared-secret keys, request verification,
 * response signing and multi-message (zone transfer) chains.
 *
 * Keys come from BIND-format key files, exactly as `tsig-keygen` writes
 * them (so the same file works with `nsupdate -k`):
 *
 *     key "update-key" {
 *         algorithm hmac-sha256;      # or hmac-sha512, -sha384, -sha224, -sha1
 *         secret "base64==";
 *     };
 *
 * Several keys per file; comments `#`, `//` and C-style
 * block comments; an algorithm
 * may carry a BIND truncation suffix (`hmac-sha256-128`): the key then
 * accepts MACs of at least that many bits and signs with that many.
 * hmac-md5 is refused. Key names are DNS names, compared case-insensitively.
 *
 * Everything works on wire buffers: verification reads a whole received
 * message; signing appends one TSIG RR to a message already built in a
 * caller's buffer (uint8_t *msg, size_t *len, size_t cap) and increments its
 * ARCOUNT. Every input is hostile: all reads are bounds-checked, nothing
 * crashes. The clock is a parameter (`now`, seconds since the epoch), so
 * tests are deterministic. MACs are OpenSSL's HMAC (EVP_MAC), compared with
 * CRYPTO_memcmp.
 *
 * Typical server use (UPDATE):
 *
 *     tsig_request_t req;
 *     tsig_verify_request(keys, pkt, len, time(NULL), &req);
 *     switch (req.status) {
 *     case TSIG_UNSIGNED: ... no key: the ACL decides on the address alone
 *     case TSIG_FORMERR:  ... answer FORMERR, unsigned
 *     case TSIG_NOTAUTH:  ... answer NOTAUTH (req.error says why), then sign
 *     case TSIG_VALID:    ... req.key is the identity; process, then sign
 *     }
 *     // build the response leaving tsig_space(&req) octets free, then:
 *     tsig_sign_response(&req, buf, &len, cap, time(NULL));
 *
 * Zone transfers sign every message of a stream with tsig_stream_* (the
 * sender side) and clients verify one with the same type (receiver side).
 *
 * Ownership and threads: a keystore is built once (load functions) and
 * then read-only: any number of threads may verify and sign with it at
 * once. tsig_request_t and tsig_stream_t point to keys inside the store,
 * which must outlive them. A receiving tsig_stream_t owns an OpenSSL
 * context: tsig_stream_end frees it. */
#ifndef DNS_TSIG_H
#define DNS_TSIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zone/name.h"

#define DNS_TYPE_TSIG 250
#define TSIG_RCODE_NOTAUTH 9 /* RFC 8945 §5.2: the rcode of TSIG errors */
#define TSIG_MAC_MAX 64      /* SHA-512 output */
#define TSIG_SECRET_MAX 512  /* decoded octets; tsig-keygen writes 20..64 */
#define TSIG_MAX_KEYS 4096
#define TSIG_FILE_MAX (1u << 20)
#define TSIG_ERR_MAX 512
#define TSIG_FUDGE_DEFAULT 300 /* seconds, RFC 8945 §10 */
#define TSIG_MAX_UNSIGNED 99   /* RFC 8945 §5.3.1: unsigned messages in a row */

enum tsig_alg {
    TSIG_ALG_SHA1 = 1,
    TSIG_ALG_SHA224,
    TSIG_ALG_SHA256,
    TSIG_ALG_SHA384,
    TSIG_ALG_SHA512,
};

/* The TSIG RR's Error field (RFC 8945 §4.3, §5.2). */
enum tsig_error {
    TSIG_NOERROR = 0,
    TSIG_BADSIG = 16,
    TSIG_BADKEY = 17,
    TSIG_BADTIME = 18,
    TSIG_BADTRUNC = 22,
};

typedef struct tsig_key {
    uint8_t name[NAME_MAX_WIRE]; /* lowercased wire form */
    enum tsig_alg alg;
    uint16_t mac_len;            /* octets signed and least accepted (truncation) */
    uint16_t secret_len;
    uint8_t secret[TSIG_SECRET_MAX];
} tsig_key_t;

typedef struct tsig_keystore tsig_keystore_t;

tsig_keystore_t *tsig_keystore_new(void);
/* Wipes the secrets and frees; NULL is fine. */
void tsig_keystore_free(tsig_keystore_t *ks);
/* Adds every key of a key file. All or nothing: on error no key of this
 * file is added, and err holds "path:line: reason". Returns 0 or -1. A key
 * name already in the store (from any file) is an error. */
int tsig_keystore_load_file(tsig_keystore_t *ks, const char *path, char err[TSIG_ERR_MAX]);
/* The same on text in memory; `label` stands for the path in messages. */
int tsig_keystore_load_text(tsig_keystore_t *ks, const char *text, size_t len,
                            const char *label, char err[TSIG_ERR_MAX]);
size_t tsig_keystore_count(const tsig_keystore_t *ks);
const tsig_key_t *tsig_keystore_key(const tsig_keystore_t *ks, size_t i);
/* The key with this name (wire form, any letter case), or NULL. */
const tsig_key_t *tsig_keystore_find(const tsig_keystore_t *ks, const uint8_t *name);

/* "hmac-sha256", ...; the full (untruncated) MAC length in octets. */
const char *tsig_alg_name(enum tsig_alg alg);
size_t tsig_alg_mac_len(enum tsig_alg alg);

/* ---- verifying a request (RFC 8945 §5.2) ----------------------------- */

enum tsig_status {
    TSIG_UNSIGNED = 0, /* no TSIG RR at all */
    TSIG_VALID,        /* signed by req.key, MAC and time good */
    TSIG_FORMERR,      /* misplaced/duplicate/malformed TSIG, or a MAC size the
                        * rules forbid (§5.2.2.1): answer FORMERR, unsigned */
    TSIG_NOTAUTH,      /* answer NOTAUTH with req.error in a TSIG RR */
};

typedef struct tsig_request {
    enum tsig_status status;
    enum tsig_error error;       /* with TSIG_NOTAUTH: BADKEY, BADSIG, BADTIME, BADTRUNC */
    const tsig_key_t *key;       /* the store's key (NULL when BADKEY or not signed) */
    uint8_t key_name[NAME_MAX_WIRE]; /* as sent (echoed in the response) */
    uint8_t alg_name[NAME_MAX_WIRE];
    uint64_t time_signed;
    uint16_t fudge;
    uint16_t orig_id;
    uint16_t mac_len;
    uint8_t mac[TSIG_MAC_MAX];   /* the request MAC, covered by the response's */
    size_t unsigned_len;         /* octets of the message before its TSIG RR */
} tsig_request_t;

/* Verifies msg[0..len) against the store at time `now`. Checks, in the
 * RFC's order: placement (the TSIG RR must be the only one, last in the
 * additional section, class ANY, TTL 0, rdata well-formed and ending the
 * message), the key and its algorithm (BADKEY), the MAC size rules
 * (FORMERR), the MAC (BADSIG), the time with the fudge (BADTIME: the
 * request is otherwise authentic), the key's truncation policy
 * (BADTRUNC). Returns req->status. */
enum tsig_status tsig_verify_request(const tsig_keystore_t *ks, const uint8_t *msg, size_t len,
                                     uint64_t now, tsig_request_t *req);

/* ---- signing a response (RFC 8945 §5.3) ------------------------------ */

/* Octets the response's TSIG RR will take (0 when none is added). */
size_t tsig_space(const tsig_request_t *req);
/* Appends the TSIG RR that answers req to the response msg[0..*len): for
 * TSIG_VALID, BADTIME and BADTRUNC a MAC over the request MAC, the response
 * and the TSIG variables (BADTIME carries `now` in Other Data and echoes
 * the request's time); for BADKEY and BADSIG an unsigned TSIG (empty MAC,
 * §5.3.2). Adds nothing for TSIG_UNSIGNED and TSIG_FORMERR. Returns 0, or
 * -1 when the RR does not fit in cap (msg unchanged) or msg is shorter
 * than a header. */
int tsig_sign_response(const tsig_request_t *req, uint8_t *msg, size_t *len, size_t cap,
                       uint64_t now);

/* Signs a request as a client does (tests, and NOTIFY/transfers later):
 * appends a TSIG RR with key, now and fudge. The MAC goes to mac_out (for
 * verifying the response with tsig_stream_start_receiver). Returns 0 or
 * -1 (does not fit). */
int tsig_sign_request(const tsig_key_t *key, uint8_t *msg, size_t *len, size_t cap,
                      uint64_t now, uint16_t fudge, uint8_t mac_out[TSIG_MAC_MAX],
                      uint16_t *mac_len);

/* ---- multi-message streams (RFC 8945 §5.3.1) ------------------------- */

/* The chain of a message stream: each message's MAC covers the previous
 * MAC, the message, and (after the first) only the timers. */
typedef struct tsig_stream {
    const tsig_key_t *key;
    uint16_t fudge;
    uint16_t prior_len;
    uint8_t prior_mac[TSIG_MAC_MAX];
    unsigned signed_count;  /* messages signed or verified so far */
    unsigned unsigned_run;  /* receiver: unsigned messages since the last signed one */
    void *pending;          /* receiver: the open HMAC (EVP_MAC_CTX) */
    bool failed;            /* receiver: a check failed; the stream is dead */
} tsig_stream_t;

/* Sender: starts the answer stream to a TSIG_VALID request. -1 otherwise. */
int tsig_stream_start_sender(tsig_stream_t *s, const tsig_request_t *req);
/* Sender: signs the next message of the stream (every message is signed).
 * Returns 0 or -1 (does not fit: msg unchanged, the stream can retry). */
int tsig_stream_sign(tsig_stream_t *s, uint8_t *msg, size_t *len, size_t cap, uint64_t now);

/* Receiver (the client of a request it signed with mac/mac_len):
 * verifies the answer messages in order; the first must be signed, then
 * up to TSIG_MAX_UNSIGNED unsigned ones may come between signed ones. */
int tsig_stream_start_receiver(tsig_stream_t *s, const tsig_key_t *key,
                               const uint8_t *request_mac, uint16_t request_mac_len);
/* Returns TSIG_NOERROR when the message is good (signed and verified, or
 * unsigned and allowed: *was_signed tells), else the error: BADSIG for a
 * wrong MAC, a missing or malformed TSIG where one is due, or another key;
 * BADTIME; or the Error field the sender put in its TSIG. After an error
 * every later call fails too. */
enum tsig_error tsig_stream_verify(tsig_stream_t *s, const uint8_t *msg, size_t len, uint64_t now,
                                   bool *was_signed);
/* Frees the receiver's context; harmless on a sender and twice. */
void tsig_stream_end(tsig_stream_t *s);

#endif
