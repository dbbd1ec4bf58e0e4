/* raft/peerauth.c — cluster key ring, handshake and sealed records (see
 * peerauth.h for the protocol; docs/security.md for why it is shaped so).
 *
 * Every MAC is HMAC-SHA256 through EVP_MAC. The handshake MACs and the
 * session key cover the whole transcript (HELLO and CHALLENGE as sent), so
 * both nonces, both ids and names, the dialer's address and the key id are
 * bound together; the three labels differ, so a MAC made for one role or
 * purpose is useless in another (no reflection). A session keeps one keyed
 * EVP_MAC_CTX and re-initialises it per record with a NULL key, which in
 * OpenSSL 3 reuses the precomputed HMAC pads: the key schedule is paid once
 * per connection, not per record; and a record carries every frame of one
 * flush, so a busy peer pays one MAC per batch, not per frame. */
#include "raft/peerauth.h"
#include "common/bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LABEL_KEY_ID "dns-raft key id"
#define LABEL_ACCEPTOR "dns-raft v3 acceptor"
#define LABEL_DIALER "dns-raft v3 dialer"
#define LABEL_SESSION "dns-raft v3 session"
#define KEY_FILE_MAX 4096
#define KEY_LINE_MAX 256

struct peerauth_session {
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx;   /* keyed with the session key once */
    uint64_t tx_seq, rx_seq;
    uint8_t tx_dir, rx_dir;
};

/* ---- HMAC ----------------------------------------------------------------- */

typedef struct part {
    const void *p;
    size_t n;
} part_t;

static EVP_MAC_CTX *hmac_ctx_new(EVP_MAC **mac, const uint8_t *key, size_t key_len)
{
    *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!*mac)
        return NULL;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(*mac);
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (!ctx || !EVP_MAC_init(ctx, key, key_len, params)) {
        EVP_MAC_CTX_free(ctx);
        EVP_MAC_free(*mac);
        *mac = NULL;
        return NULL;
    }
    return ctx;
}

/* out = HMAC-SHA256(key, parts...); false if libcrypto failed. */
static bool hmac_parts(const uint8_t *key, size_t key_len, const part_t *parts, size_t n,
                       uint8_t out[PEERAUTH_MAC_LEN])
{
    EVP_MAC *mac;
    EVP_MAC_CTX *ctx = hmac_ctx_new(&mac, key, key_len);
    bool ok = ctx != NULL;
    for (size_t i = 0; ok && i < n; i++)
        ok = EVP_MAC_update(ctx, parts[i].p, parts[i].n);
    size_t len = 0;
    ok = ok && EVP_MAC_final(ctx, out, &len, PEERAUTH_MAC_LEN) && len == PEERAUTH_MAC_LEN;
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    if (!ok)
        memset(out, 0, PEERAUTH_MAC_LEN);
    return ok;
}

/* Labels are hashed with their NUL so that no label is a prefix of another's input. */
static part_t label(const char *s) { return (part_t){ s, strlen(s) + 1 }; }

/* ---- key ring --------------------------------------------------------------- */

static void key_compute_id(peerauth_key_t *k)
{
    uint8_t mac[PEERAUTH_MAC_LEN];
    part_t p = { LABEL_KEY_ID, strlen(LABEL_KEY_ID) };
    hmac_parts(k->bytes, k->len, &p, 1, mac);
    memcpy(k->id, mac, PEERAUTH_KEYID_LEN);
}

/* Base64 (RFC 4648, with padding) of 32..64 bytes; 0 or -1 with *why. */
static int decode_key(const char *line, size_t len, peerauth_key_t *k, const char **why)
{
    for (size_t i = 0; i < len; i++) {
        char c = line[i];
        bool pad = c == '=' && i >= len - 2 && (i == len - 1 || line[len - 1] == '=');
        if (!pad && !(c >= 'A' && c <= 'Z') && !(c >= 'a' && c <= 'z') &&
            !(c >= '0' && c <= '9') && c != '+' && c != '/') {
            *why = "not base64 (bad character)";
            return -1;
        }
    }
    if (len % 4 != 0 || len == 0) {
        *why = "not base64 (length is not a multiple of 4)";
        return -1;
    }
    if (len > 4 * ((PEERAUTH_KEY_MAX + 2) / 3)) {
        *why = "key longer than 64 bytes";
        return -1;
    }
    uint8_t buf[4 * ((PEERAUTH_KEY_MAX + 2) / 3)];
    int n = EVP_DecodeBlock(buf, (const unsigned char *)line, (int)len);
    if (n < 0) {
        *why = "not base64";
        return -1;
    }
    size_t pad = (line[len - 1] == '=') + (line[len - 2] == '=');
    size_t got = (size_t)n - pad;
    if (got < PEERAUTH_KEY_MIN) {
        *why = "key shorter than 32 bytes";
        OPENSSL_cleanse(buf, sizeof buf);
        return -1;
    }
    if (got > PEERAUTH_KEY_MAX) {
        *why = "key longer than 64 bytes";
        OPENSSL_cleanse(buf, sizeof buf);
        return -1;
    }
    memcpy(k->bytes, buf, got);
    k->len = got;
    OPENSSL_cleanse(buf, sizeof buf);
    key_compute_id(k);
    return 0;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

int peerauth_ring_parse(peerauth_ring_t *r, const char *text, size_t len, const char *file,
                        char *err, size_t err_len)
{
    memset(r, 0, sizeof *r);
    size_t lineno = 0;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len;
        const char *line = text + at;
        size_t n = end - at;
        at = end + 1;
        lineno++;
        while (n && is_space(line[n - 1]))
            n--;
        while (n && is_space(*line)) {
            line++;
            n--;
        }
        if (n == 0 || line[0] == '#')
            continue;
        const char *why = NULL;
        if (memchr(line, '\0', n))
            why = "NUL byte in the line";
        else if (r->n == PEERAUTH_KEYS_MAX)
            why = "more than two keys (one signs, at most one more verifies during a rotation)";
        else if (decode_key(line, n, &r->keys[r->n], &why) == 0)
            r->n++;
        if (why) {
            snprintf(err, err_len, "%s:%zu: %s", file, lineno, why);
            peerauth_ring_wipe(r);
            return -1;
        }
    }
    if (r->n == 0) {
        snprintf(err, err_len, "%s: no key (a line of base64 of 32 to 64 bytes)", file);
        return -1;
    }
    if (r->n == 2 && CRYPTO_memcmp(r->keys[0].id, r->keys[1].id, PEERAUTH_KEYID_LEN) == 0) {
        snprintf(err, err_len, "%s: the same key twice", file);
        peerauth_ring_wipe(r);
        return -1;
    }
    return 0;
}

int peerauth_ring_load(peerauth_ring_t *r, const char *path, bool *too_open, char *err,
                       size_t err_len)
{
    *too_open = false;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, err_len, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_size > KEY_FILE_MAX) {
        snprintf(err, err_len, "%s: larger than %d bytes: not a key file", path, KEY_FILE_MAX);
        close(fd);
        return -1;
    }
    *too_open = (st.st_mode & (S_IRWXG | S_IRWXO)) != 0;
    char buf[KEY_FILE_MAX + 1];
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, buf + got, sizeof buf - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(err, err_len, "%s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        if (n == 0 || (got += (size_t)n) == sizeof buf)
            break;
    }
    close(fd);
    int rc = got > KEY_FILE_MAX
                 ? (snprintf(err, err_len, "%s: larger than %d bytes", path, KEY_FILE_MAX), -1)
                 : peerauth_ring_parse(r, buf, got, path, err, err_len);
    OPENSSL_cleanse(buf, sizeof buf);
    return rc;
}

void peerauth_ring_wipe(peerauth_ring_t *r) { OPENSSL_cleanse(r, sizeof *r); }

size_t peerauth_keygen(char *out, size_t cap)
{
    uint8_t key[PEERAUTH_KEY_MIN];
    unsigned char b64[4 * ((PEERAUTH_KEY_MIN + 2) / 3) + 1];
    if (RAND_bytes(key, sizeof key) != 1)
        return 0;
    EVP_EncodeBlock(b64, key, sizeof key);
    OPENSSL_cleanse(key, sizeof key);
    int n = snprintf(out, cap,
                     "# dns-raft cluster key: the same file on every member, mode 0600.\n"
                     "%s\n", (const char *)b64);
    OPENSSL_cleanse(b64, sizeof b64);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* ---- sessions and frames ------------------------------------------------------ */

static peerauth_session_t *session_new(const uint8_t key[PEERAUTH_MAC_LEN], peerauth_role_t role)
{
    peerauth_session_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->ctx = hmac_ctx_new(&s->mac, key, PEERAUTH_MAC_LEN);
    if (!s->ctx) {
        free(s);
        return NULL;
    }
    s->tx_dir = role == PEERAUTH_DIALER ? PEERAUTH_DIR_D2A : PEERAUTH_DIR_A2D;
    s->rx_dir = role == PEERAUTH_DIALER ? PEERAUTH_DIR_A2D : PEERAUTH_DIR_D2A;
    return s;
}

void peerauth_session_free(peerauth_session_t *s)
{
    if (!s)
        return;
    EVP_MAC_CTX_free(s->ctx);
    EVP_MAC_free(s->mac);
    free(s);
}

/* tag = HMAC(session, dir | seq | record (length and payload))[:16] */
static void record_tag(peerauth_session_t *s, uint8_t dir, uint64_t seq, const uint8_t *record,
                       size_t payload_len, uint8_t tag[PEERAUTH_TAG_LEN])
{
    uint8_t head[9], full[PEERAUTH_MAC_LEN];
    head[0] = dir;
    for (int i = 0; i < 8; i++)
        head[1 + i] = (uint8_t)(seq >> (8 * i));
    size_t len = 0;
    bool ok = EVP_MAC_init(s->ctx, NULL, 0, NULL) && EVP_MAC_update(s->ctx, head, sizeof head) &&
              EVP_MAC_update(s->ctx, record, PEERAUTH_RECORD_HEADER + payload_len) &&
              EVP_MAC_final(s->ctx, full, &len, sizeof full) && len == sizeof full;
    if (!ok) /* a tag nobody can match: the record is refused, never accepted */
        RAND_bytes(full, sizeof full);
    memcpy(tag, full, PEERAUTH_TAG_LEN);
}

void peerauth_seal(peerauth_session_t *s, uint8_t *record, size_t payload_len)
{
    record_tag(s, s->tx_dir, s->tx_seq++, record, payload_len,
               record + PEERAUTH_RECORD_HEADER + payload_len);
}

bool peerauth_open(peerauth_session_t *s, const uint8_t *record, size_t payload_len)
{
    uint8_t tag[PEERAUTH_TAG_LEN];
    record_tag(s, s->rx_dir, s->rx_seq, record, payload_len, tag);
    if (CRYPTO_memcmp(tag, record + PEERAUTH_RECORD_HEADER + payload_len, PEERAUTH_TAG_LEN) != 0)
        return false;
    s->rx_seq++;
    return true;
}

size_t peerauth_seal_one(peerauth_session_t *s, uint8_t *out, const uint8_t *body, size_t len)
{
    put_le32(out, (uint32_t)(RAFT_FRAME_HEADER + len));
    put_le32(out + PEERAUTH_RECORD_HEADER, (uint32_t)len);
    memcpy(out + PEERAUTH_RECORD_HEADER + RAFT_FRAME_HEADER, body, len);
    peerauth_seal(s, out, RAFT_FRAME_HEADER + len);
    return PEERAUTH_RECORD_OVERHEAD + RAFT_FRAME_HEADER + len;
}

long peerauth_record_size(const uint8_t *in, size_t have, const char **why)
{
    if (have < PEERAUTH_RECORD_HEADER)
        return 0;
    uint32_t n = get_le32(in);
    if (n < PEERAUTH_RECORD_MIN || n > PEERAUTH_RECORD_MAX) {
        *why = n < PEERAUTH_RECORD_MIN ? "record shorter than one frame"
                                       : "record larger than the limit";
        return -1;
    }
    return (long)(PEERAUTH_RECORD_OVERHEAD + (size_t)n);
}

int peerauth_record_next(const uint8_t *payload, size_t payload_len, size_t *at,
                         const uint8_t **body, size_t *len, const char **why)
{
    if (*at == payload_len)
        return 0;
    if (*at > payload_len || payload_len - *at < RAFT_FRAME_HEADER) {
        *why = "record ends inside a frame header";
        return -1;
    }
    size_t left = payload_len - *at;
    size_t n = get_le32(payload + *at);
    if (n == 0 || n > RAFT_FRAME_MAX || n > left - RAFT_FRAME_HEADER) {
        *why = n == 0 ? "empty frame in a record" : "frame runs past its record's end";
        return -1;
    }
    *body = payload + *at + RAFT_FRAME_HEADER;
    *len = n;
    *at += RAFT_FRAME_HEADER + n;
    return 1;
}

bool peerauth_record_valid(const uint8_t *payload, size_t payload_len, const char **why)
{
    size_t at = 0, len;
    const uint8_t *body;
    int r;
    while ((r = peerauth_record_next(payload, payload_len, &at, &body, &len, why)) == 1)
        ;
    return r == 0;
}

/* ---- handshake messages --------------------------------------------------------- */

static bool printable(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] <= 0x20 || p[i] >= 0x7f)
            return false;
    return true;
}

static bool has_magic(const uint8_t *in, const char **why)
{
    if (memcmp(in, RAFT_WIRE_MAGIC, RAFT_WIRE_MAGIC_LEN) != 0) {
        *why = "bad magic";
        return false;
    }
    if (in[4] != PEERAUTH_VERSION) {
        *why = in[4] == RAFT_WIRE_VERSION ? "unauthenticated peer (protocol v1, no cluster key)"
               : in[4] == PEERAUTH_VERSION_PER_FRAME
                   ? "peer speaks keyed protocol v2 (an older dns-raft, one MAC per frame); "
                     "this node speaks v3 (sealed records): upgrade every member"
                   : "unsupported protocol version";
        return false;
    }
    return true;
}

int peerauth_hello_len(const uint8_t *in, size_t have, const char **why)
{
    if (have < PEERAUTH_HELLO_FIXED)
        return 0;
    if (!has_magic(in, why))
        return -1;
    if (in[5] != PEERAUTH_FLAG_AUTH) {
        *why = "unknown hello flags";
        return -1;
    }
    if (in[6] == 0 || in[6] >= RAFT_NAME_MAX || in[7] >= RAFT_ADDR_MAX) {
        *why = "name or address length out of range";
        return -1;
    }
    return PEERAUTH_HELLO_FIXED + in[6] + in[7];
}

int peerauth_reply_len(const uint8_t *in, size_t have, const char **why)
{
    if (have < PEERAUTH_REFUSE_FIXED)
        return 0;
    if (!has_magic(in, why))
        return -1;
    if (in[5] == PEERAUTH_KIND_REFUSE)
        return in[7] == 0 ? PEERAUTH_REFUSE_FIXED + in[6] : (*why = "bad refusal", -1);
    if (in[5] != PEERAUTH_KIND_CHALLENGE) {
        *why = "unknown handshake message";
        return -1;
    }
    if (have < RAFT_HELLO_LEN)
        return 0;
    if (in[6] == 0 || in[6] >= RAFT_NAME_MAX || in[7] != 0) {
        *why = "bad challenge header";
        return -1;
    }
    return PEERAUTH_CHALLENGE_FIXED + in[6];
}

size_t peerauth_dialer_hello(peerauth_hs_t *hs, const peerauth_ring_t *ring,
                             const raft_hello_t *self, uint8_t *out)
{
    memset(hs, 0, sizeof *hs);
    hs->role = PEERAUTH_DIALER;
    hs->ring = ring;
    hs->key = &ring->keys[0];
    hs->self = *self;
    size_t name_len = strnlen(self->name, RAFT_NAME_MAX - 1);
    size_t addr_len = strnlen(self->addr, RAFT_ADDR_MAX - 1);
    uint8_t *p = out;
    memcpy(p, RAFT_WIRE_MAGIC, RAFT_WIRE_MAGIC_LEN);
    p[4] = PEERAUTH_VERSION;
    p[5] = PEERAUTH_FLAG_AUTH;
    p[6] = (uint8_t)name_len;
    p[7] = (uint8_t)addr_len;
    put_le64(p + 8, self->id);
    memcpy(p + 16, hs->key->id, PEERAUTH_KEYID_LEN);
    if (RAND_bytes(p + 24, PEERAUTH_NONCE_LEN) != 1)
        return 0;
    memcpy(p + PEERAUTH_HELLO_FIXED, self->name, name_len);
    memcpy(p + PEERAUTH_HELLO_FIXED + name_len, self->addr, addr_len);
    size_t len = PEERAUTH_HELLO_FIXED + name_len + addr_len;
    memcpy(hs->transcript, out, len);
    hs->hello_len = hs->transcript_len = len;
    return len;
}

/* Parses the HELLO in hs->transcript into hs->peer (the acceptor side). */
static int parse_hello(peerauth_hs_t *hs, const char **why)
{
    const uint8_t *in = hs->transcript;
    size_t name_len = in[6], addr_len = in[7];
    const uint8_t *name = in + PEERAUTH_HELLO_FIXED, *addr = name + name_len;
    memset(&hs->peer, 0, sizeof hs->peer);
    hs->peer.id = get_le64(in + 8);
    if (hs->peer.id == 0) {
        *why = "sender id 0";
        return -1;
    }
    if (!printable(name, name_len) || !printable(addr, addr_len)) {
        *why = "unprintable name or address in hello";
        return -1;
    }
    memcpy(hs->peer.name, name, name_len);
    memcpy(hs->peer.addr, addr, addr_len);
    return 0;
}

static const peerauth_key_t *find_key(const peerauth_ring_t *ring, const uint8_t *id)
{
    for (size_t i = 0; i < ring->n; i++)
        if (CRYPTO_memcmp(ring->keys[i].id, id, PEERAUTH_KEYID_LEN) == 0)
            return &ring->keys[i];
    return NULL;
}

/* mac over label | transcript[0..len) with the handshake's key. */
static void transcript_mac(const peerauth_hs_t *hs, const char *lbl, size_t len,
                           uint8_t out[PEERAUTH_MAC_LEN])
{
    part_t parts[] = { label(lbl), { hs->transcript, len } };
    hmac_parts(hs->key->bytes, hs->key->len, parts, 2, out);
}

static peerauth_session_t *derive_session(const peerauth_hs_t *hs)
{
    uint8_t key[PEERAUTH_MAC_LEN];
    transcript_mac(hs, LABEL_SESSION, hs->transcript_len, key);
    peerauth_session_t *s = session_new(key, hs->role);
    OPENSSL_cleanse(key, sizeof key);
    return s;
}

int peerauth_acceptor_challenge(peerauth_hs_t *hs, const peerauth_ring_t *ring,
                                const raft_hello_t *self, const uint8_t *in, size_t len,
                                uint8_t *out, const char **why)
{
    memset(hs, 0, sizeof *hs);
    hs->role = PEERAUTH_ACCEPTOR;
    hs->ring = ring;
    hs->self = *self;
    int want = peerauth_hello_len(in, len, why);
    if (want <= 0 || (size_t)want != len) {
        if (want >= 0)
            *why = "hello length mismatch";
        return -1;
    }
    memcpy(hs->transcript, in, len);
    hs->hello_len = hs->transcript_len = len;
    if (parse_hello(hs, why) != 0)
        return -1;
    hs->key = find_key(ring, in + RAFT_HELLO_LEN);
    if (!hs->key) {
        *why = "wrong cluster key (the peer's key id is not in our key file)";
        return -1;
    }
    size_t name_len = strnlen(self->name, RAFT_NAME_MAX - 1);
    uint8_t *p = out;
    memcpy(p, RAFT_WIRE_MAGIC, RAFT_WIRE_MAGIC_LEN);
    p[4] = PEERAUTH_VERSION;
    p[5] = PEERAUTH_KIND_CHALLENGE;
    p[6] = (uint8_t)name_len;
    p[7] = 0;
    put_le64(p + 8, self->id);
    if (RAND_bytes(p + RAFT_HELLO_LEN, PEERAUTH_NONCE_LEN) != 1) {
        *why = "no randomness";
        return -1;
    }
    uint8_t *mac = p + RAFT_HELLO_LEN + PEERAUTH_NONCE_LEN;
    memcpy(mac + PEERAUTH_MAC_LEN, self->name, name_len);
    /* The transcript is HELLO | CHALLENGE with the MAC's place left out
     * for mac_a, then with it for mac_d and the session. */
    size_t clen = PEERAUTH_CHALLENGE_FIXED + name_len;
    uint8_t *t = hs->transcript + len;
    memcpy(t, p, RAFT_HELLO_LEN + PEERAUTH_NONCE_LEN);
    memcpy(t + RAFT_HELLO_LEN + PEERAUTH_NONCE_LEN, self->name, name_len);
    transcript_mac(hs, LABEL_ACCEPTOR, len + clen - PEERAUTH_MAC_LEN, mac);
    memcpy(t, p, clen);
    hs->transcript_len = len + clen;
    return (int)clen;
}

peerauth_session_t *peerauth_acceptor_finish(peerauth_hs_t *hs, const uint8_t *proof,
                                             const char **why)
{
    uint8_t want[PEERAUTH_MAC_LEN];
    transcript_mac(hs, LABEL_DIALER, hs->transcript_len, want);
    if (CRYPTO_memcmp(want, proof, PEERAUTH_MAC_LEN) != 0) {
        *why = "bad proof: the peer does not have our cluster key";
        return NULL;
    }
    peerauth_session_t *s = derive_session(hs);
    if (!s)
        *why = "out of memory";
    return s;
}

static const char *take_refusal(peerauth_hs_t *hs, const uint8_t *in, size_t len)
{
    size_t n = len - PEERAUTH_REFUSE_FIXED;
    if (n >= sizeof hs->refusal)
        n = sizeof hs->refusal - 1;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = in[PEERAUTH_REFUSE_FIXED + i];
        hs->refusal[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    hs->refusal[n] = '\0';
    return hs->refusal;
}

peerauth_session_t *peerauth_dialer_finish(peerauth_hs_t *hs, const uint8_t *in, size_t len,
                                           raft_id_t expect_id, uint8_t *proof, const char **why)
{
    int want = peerauth_reply_len(in, len, why);
    if (want <= 0 || (size_t)want != len) {
        if (want >= 0)
            *why = "handshake reply length mismatch";
        return NULL;
    }
    if (in[5] == PEERAUTH_KIND_REFUSE) {
        *why = take_refusal(hs, in, len);
        return NULL;
    }
    size_t name_len = in[6];
    const uint8_t *mac = in + RAFT_HELLO_LEN + PEERAUTH_NONCE_LEN;
    const uint8_t *name = mac + PEERAUTH_MAC_LEN;
    uint8_t *t = hs->transcript + hs->hello_len;
    memcpy(t, in, RAFT_HELLO_LEN + PEERAUTH_NONCE_LEN);
    memcpy(t + RAFT_HELLO_LEN + PEERAUTH_NONCE_LEN, name, name_len);
    uint8_t expect[PEERAUTH_MAC_LEN];
    transcript_mac(hs, LABEL_ACCEPTOR, hs->hello_len + len - PEERAUTH_MAC_LEN, expect);
    if (CRYPTO_memcmp(expect, mac, PEERAUTH_MAC_LEN) != 0) {
        *why = "bad challenge MAC: the peer does not have our cluster key";
        return NULL;
    }
    memset(&hs->peer, 0, sizeof hs->peer);
    hs->peer.id = get_le64(in + 8);
    if (!printable(name, name_len)) {
        *why = "unprintable name in challenge";
        return NULL;
    }
    memcpy(hs->peer.name, name, name_len);
    if (expect_id && hs->peer.id != expect_id) {
        *why = "the node at that address is another member than the one we dialed";
        return NULL;
    }
    memcpy(t, in, len);
    hs->transcript_len = hs->hello_len + len;
    transcript_mac(hs, LABEL_DIALER, hs->transcript_len, proof);
    peerauth_session_t *s = derive_session(hs);
    if (!s)
        *why = "out of memory";
    return s;
}

size_t peerauth_refusal(uint8_t *out, const char *reason)
{
    size_t n = strnlen(reason, 255);
    memcpy(out, RAFT_WIRE_MAGIC, RAFT_WIRE_MAGIC_LEN);
    out[4] = PEERAUTH_VERSION;
    out[5] = PEERAUTH_KIND_REFUSE;
    out[6] = (uint8_t)n;
    out[7] = 0;
    memcpy(out + PEERAUTH_REFUSE_FIXED, reason, n);
    return PEERAUTH_REFUSE_FIXED + n;
}
