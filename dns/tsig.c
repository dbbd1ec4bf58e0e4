/* dns/tsig.c — TSIG (RFC 8945) messages: owns the algorithm table,
 * finding and checking the TSIG RR of a message, the MAC computation of
 * §4.3.3 and the signing and chaining of §5.3 (see tsig.h for the API).
 * The key store and the key-file parser are in dns/tsig_keys.c.
 *
 * The MAC input is never assembled in one buffer: the pieces (prior MAC,
 * message header with the original ID and ARCOUNT less one, the rest of
 * the message, the TSIG variables) are fed to one EVP_MAC context in
 * order. A multi-message receiver keeps that context open across calls,
 * which is how unsigned messages between signed ones are covered. */
#include "dns/tsig.h"
#include "dns/tsig_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "dns/wire.h"

/* ---- algorithms ------------------------------------------------------- */

const alg_info_t TSIG_ALGS[] = {
    { TSIG_ALG_SHA1, "hmac-sha1", "SHA1", "\011hmac-sha1", 20 },
    { TSIG_ALG_SHA224, "hmac-sha224", "SHA2-224", "\013hmac-sha224", 28 },
    { TSIG_ALG_SHA256, "hmac-sha256", "SHA2-256", "\013hmac-sha256", 32 },
    { TSIG_ALG_SHA384, "hmac-sha384", "SHA2-384", "\013hmac-sha384", 48 },
    { TSIG_ALG_SHA512, "hmac-sha512", "SHA2-512", "\013hmac-sha512", 64 },
};
const size_t TSIG_ALG_COUNT = sizeof TSIG_ALGS / sizeof TSIG_ALGS[0];

static const alg_info_t *alg_info(enum tsig_alg alg)
{
    for (size_t i = 0; i < TSIG_ALG_COUNT; i++)
        if (TSIG_ALGS[i].alg == alg)
            return &TSIG_ALGS[i];
    return NULL;
}

const char *tsig_alg_name(enum tsig_alg alg)
{
    const alg_info_t *a = alg_info(alg);
    return a ? a->name : "unknown";
}

size_t tsig_alg_mac_len(enum tsig_alg alg)
{
    const alg_info_t *a = alg_info(alg);
    return a ? a->mac_len : 0;
}

/* ---- big-endian helpers ----------------------------------------------- */

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static uint64_t get48(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 6; i++)
        v = v << 8 | p[i];
    return v;
}

static void put48(uint8_t *p, uint64_t v)
{
    for (int i = 5; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* ---- HMAC ------------------------------------------------------------- */

/* OpenSSL's HMAC, fetched once for the process (a fetch per message costs
 * a provider lookup under a lock). Never freed: it lives as long as the
 * process, reachable from this pointer. */
static EVP_MAC *hmac_impl;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void fetch_hmac(void)
{
    hmac_impl = EVP_MAC_fetch(NULL, "HMAC", NULL);
}

static EVP_MAC_CTX *mac_begin(const tsig_key_t *key)
{
    const alg_info_t *a = alg_info(key->alg);
    if (a == NULL)
        return NULL;
    pthread_once(&hmac_once, fetch_hmac);
    if (hmac_impl == NULL)
        return NULL;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac_impl);
    if (ctx == NULL)
        return NULL;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)a->digest, 0),
        OSSL_PARAM_construct_end(),
    };
    if (!EVP_MAC_init(ctx, key->secret, key->secret_len, params)) {
        EVP_MAC_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int mac_update(EVP_MAC_CTX *ctx, const uint8_t *p, size_t n)
{
    return n == 0 || EVP_MAC_update(ctx, p, n) ? 0 : -1;
}

/* A MAC length field then the MAC (RFC 8945 §4.3.1, §4.3.2). */
static int mac_update_prior(EVP_MAC_CTX *ctx, const uint8_t *mac, uint16_t len)
{
    uint8_t l[2];
    put16(l, len);
    return mac_update(ctx, l, 2) || mac_update(ctx, mac, len) ? -1 : 0;
}

/* The message as it was before its TSIG RR was added: the original ID,
 * ARCOUNT one less, the octets up to the TSIG RR (§4.3.3 "DNS Message"). */
static int mac_update_message(EVP_MAC_CTX *ctx, const uint8_t *msg, size_t unsigned_len,
                              uint16_t orig_id, bool had_tsig)
{
    uint8_t h[DNS_HEADER_LEN];
    memcpy(h, msg, DNS_HEADER_LEN);
    put16(h, orig_id);
    if (had_tsig)
        put16(h + 10, (uint16_t)(get16(h + 10) - 1));
    return mac_update(ctx, h, sizeof h) ||
           mac_update(ctx, msg + DNS_HEADER_LEN, unsigned_len - DNS_HEADER_LEN) ? -1 : 0;
}

/* The values that go into the TSIG RR and its MAC. */
typedef struct tsig_vars {
    const uint8_t *key_name, *alg_name; /* wire form */
    uint64_t time_signed;
    uint16_t fudge, error, other_len;
    uint8_t other[6];
} tsig_vars_t;

/* §4.3.3 "TSIG Variables": names in canonical (lowercase) form. With
 * timers_only, just Time Signed and Fudge (§4.3.1, later messages). */
static int mac_update_vars(EVP_MAC_CTX *ctx, const tsig_vars_t *v, bool timers_only)
{
    uint8_t buf[2 * NAME_MAX_WIRE + 32];
    size_t n = 0;
    if (!timers_only) {
        n = name_to_lower(v->key_name, buf);
        put16(buf + n, DNS_CLASS_ANY);
        memset(buf + n + 2, 0, 4); /* TTL */
        n += 6;
        n += name_to_lower(v->alg_name, buf + n);
    }
    put48(buf + n, v->time_signed);
    put16(buf + n + 6, v->fudge);
    n += 8;
    if (!timers_only) {
        put16(buf + n, v->error);
        put16(buf + n + 2, v->other_len);
        memcpy(buf + n + 4, v->other, v->other_len);
        n += 4u + v->other_len;
    }
    return mac_update(ctx, buf, n);
}

static int mac_final(EVP_MAC_CTX *ctx, uint8_t out[TSIG_MAC_MAX], size_t *len)
{
    return EVP_MAC_final(ctx, out, len, TSIG_MAC_MAX) ? 0 : -1;
}

/* ---- finding the TSIG RR ---------------------------------------------- */

typedef struct tsig_rr {
    size_t start; /* offset of its owner name = octets before it */
    uint8_t key_name[NAME_MAX_WIRE];
    uint8_t alg_name[NAME_MAX_WIRE];
    uint64_t time_signed;
    uint16_t fudge, mac_len, orig_id, error, other_len;
    const uint8_t *mac, *other;
} tsig_rr_t;

/* Skips a (possibly compressed) name; -1 if it is malformed. */
static int skip_name(const uint8_t *msg, size_t len, size_t *pos)
{
    uint8_t name[NAME_MAX_WIRE];
    return dns_read_name(msg, len, pos, name) < 0 ? -1 : 0;
}

/* An uncompressed name inside rdata [*pos, end) (RFC 8945 §4.2: the
 * algorithm name is never compressed). */
static int read_plain_name(const uint8_t *msg, size_t end, size_t *pos, uint8_t out[NAME_MAX_WIRE])
{
    size_t n = 0;
    for (;;) {
        if (*pos >= end)
            return -1;
        uint8_t l = msg[*pos];
        if (l > LABEL_MAX || n + 1u + l > NAME_MAX_WIRE || *pos + 1u + l > end)
            return -1;
        memcpy(out + n, msg + *pos, 1u + l);
        n += 1u + l;
        *pos += 1u + l;
        if (l == 0)
            return 0;
    }
}

/* The rdata of the TSIG RR at [pos, end): it must fill the rdata exactly. */
static int parse_tsig_rdata(const uint8_t *msg, size_t pos, size_t end, tsig_rr_t *rr)
{
    if (read_plain_name(msg, end, &pos, rr->alg_name) != 0 || pos + 10 > end)
        return -1;
    rr->time_signed = get48(msg + pos);
    rr->fudge = get16(msg + pos + 6);
    rr->mac_len = get16(msg + pos + 8);
    pos += 10;
    if (rr->mac_len > end - pos)
        return -1;
    rr->mac = msg + pos;
    pos += rr->mac_len;
    if (end - pos < 6)
        return -1;
    rr->orig_id = get16(msg + pos);
    rr->error = get16(msg + pos + 2);
    rr->other_len = get16(msg + pos + 4);
    pos += 6;
    if (rr->other_len != end - pos)
        return -1;
    rr->other = msg + pos;
    return 0;
}

/* Walks every section. Returns 0 (no TSIG RR), 1 (exactly one, last in
 * the additional section, class ANY, TTL 0, well-formed, ending the
 * message: rr filled), or -1 (malformed message or misplaced TSIG). */
static int find_tsig(const uint8_t *msg, size_t len, tsig_rr_t *rr)
{
    if (len < DNS_HEADER_LEN)
        return -1;
    size_t pos = DNS_HEADER_LEN;
    for (unsigned i = get16(msg + 4); i > 0; i--)
        if (skip_name(msg, len, &pos) != 0 || (pos += 4) > len)
            return -1;
    unsigned an = get16(msg + 6), ns = get16(msg + 8), ar = get16(msg + 10);
    unsigned total = an + ns + ar;
    for (unsigned i = 0; i < total; i++) {
        size_t start = pos;
        if (skip_name(msg, len, &pos) != 0 || len - pos < 10)
            return -1;
        const uint8_t *f = msg + pos;
        size_t rdlen = get16(f + 8);
        pos += 10;
        if (rdlen > len - pos)
            return -1;
        if (get16(f) == DNS_TYPE_TSIG) {
            /* §5.2: only one, the last RR, in the additional section. */
            if (i != total - 1 || ar == 0 || pos + rdlen != len)
                return -1;
            if (get16(f + 2) != DNS_CLASS_ANY || get16(f + 4) != 0 || get16(f + 6) != 0)
                return -1;
            size_t owner = start;
            if (dns_read_name(msg, len, &owner, rr->key_name) < 0)
                return -1;
            rr->start = start;
            return parse_tsig_rdata(msg, pos, pos + rdlen, rr) == 0 ? 1 : -1;
        }
        pos += rdlen;
    }
    return pos == len ? 0 : -1;
}

static const alg_info_t *alg_by_wire(const uint8_t *name)
{
    for (size_t i = 0; i < TSIG_ALG_COUNT; i++)
        if (name_equal(TSIG_ALGS[i].wire, name))
            return &TSIG_ALGS[i];
    return NULL;
}

/* RFC 8945 §5.2.2.1 rules 1 and 3: more than the hash, or less than
 * max(10, half the hash), is a format error. */
static bool mac_size_allowed(uint16_t size, uint16_t full)
{
    uint16_t least = full / 2 > 10 ? full / 2 : 10;
    return size <= full && size >= least;
}

/* Computes the MAC of a request or of the first message of an answer
 * (prior = the request MAC, or none). */
static int compute_mac(const tsig_key_t *key, const uint8_t *prior, uint16_t prior_len,
                       bool with_prior, const uint8_t *msg, size_t unsigned_len,
                       uint16_t orig_id, bool had_tsig, const tsig_vars_t *v, bool timers_only,
                       uint8_t out[TSIG_MAC_MAX], size_t *out_len)
{
    EVP_MAC_CTX *ctx = mac_begin(key);
    if (ctx == NULL)
        return -1;
    int rc = (with_prior && mac_update_prior(ctx, prior, prior_len)) ||
             mac_update_message(ctx, msg, unsigned_len, orig_id, had_tsig) ||
             mac_update_vars(ctx, v, timers_only) || mac_final(ctx, out, out_len) ? -1 : 0;
    EVP_MAC_CTX_free(ctx);
    return rc;
}

static void fill_request(tsig_request_t *req, const tsig_rr_t *rr)
{
    memcpy(req->key_name, rr->key_name, name_wire_len(rr->key_name));
    memcpy(req->alg_name, rr->alg_name, name_wire_len(rr->alg_name));
    req->time_signed = rr->time_signed;
    req->fudge = rr->fudge;
    req->orig_id = rr->orig_id;
    req->unsigned_len = rr->start;
}

static enum tsig_status notauth(tsig_request_t *req, enum tsig_error error)
{
    req->error = error;
    return req->status = TSIG_NOTAUTH;
}

static bool time_ok(uint64_t now, uint64_t signed_at, uint16_t fudge)
{
    uint64_t diff = now > signed_at ? now - signed_at : signed_at - now;
    return diff <= fudge;
}

enum tsig_status tsig_verify_request(const tsig_keystore_t *ks, const uint8_t *msg, size_t len,
                                     uint64_t now, tsig_request_t *req)
{
    memset(req, 0, sizeof *req);
    tsig_rr_t rr;
    int found = find_tsig(msg, len, &rr);
    if (found == 0)
        return req->status = TSIG_UNSIGNED;
    if (found < 0)
        return req->status = TSIG_FORMERR;
    fill_request(req, &rr);
    /* §5.2.1: an unknown key, or a known one with another algorithm. */
    const tsig_key_t *key = tsig_keystore_find(ks, rr.key_name);
    const alg_info_t *alg = alg_by_wire(rr.alg_name);
    if (key == NULL || alg == NULL || alg->alg != key->alg)
        return notauth(req, TSIG_BADKEY);
    req->key = key;
    /* §5.2.2.1 */
    if (!mac_size_allowed(rr.mac_len, alg->mac_len))
        return req->status = TSIG_FORMERR;
    /* §5.2.2: the locally computed MAC, truncated to the size sent. */
    tsig_vars_t v = { rr.key_name, rr.alg_name, rr.time_signed, rr.fudge, rr.error,
                      rr.other_len, { 0 } };
    if (rr.other_len > sizeof v.other) {
        /* Other Data is only ever the 6 octets of BADTIME; anything longer
         * cannot be authentic in a request. */
        return notauth(req, TSIG_BADSIG);
    }
    memcpy(v.other, rr.other, rr.other_len);
    uint8_t mac[TSIG_MAC_MAX];
    size_t mac_len = 0;
    if (compute_mac(key, NULL, 0, false, msg, rr.start, rr.orig_id, true, &v, false, mac,
                    &mac_len) != 0 ||
        mac_len != alg->mac_len || CRYPTO_memcmp(mac, rr.mac, rr.mac_len) != 0)
        return notauth(req, TSIG_BADSIG);
    OPENSSL_cleanse(mac, sizeof mac);
    /* Authentic from here on: the response will cover this MAC. */
    memcpy(req->mac, rr.mac, rr.mac_len);
    req->mac_len = rr.mac_len;
    if (!time_ok(now, rr.time_signed, rr.fudge)) /* §5.2.3 */
        return notauth(req, TSIG_BADTIME);
    if (rr.mac_len < key->mac_len) /* §5.2.4: shorter than this key's policy */
        return notauth(req, TSIG_BADTRUNC);
    return req->status = TSIG_VALID;
}

/* ---- writing the TSIG RR ---------------------------------------------- */

static size_t rr_size(const tsig_vars_t *v, size_t mac_len)
{
    return name_wire_len(v->key_name) + 10 + name_wire_len(v->alg_name) + 16 + mac_len +
           v->other_len;
}

/* Appends the RR and bumps ARCOUNT. The caller checked the room. */
static void append_rr(uint8_t *msg, size_t *len, const tsig_vars_t *v, const uint8_t *mac,
                      size_t mac_len, uint16_t orig_id)
{
    uint8_t *p = msg + *len;
    size_t kn = name_wire_len(v->key_name), an = name_wire_len(v->alg_name);
    memcpy(p, v->key_name, kn);
    p += kn;
    put16(p, DNS_TYPE_TSIG);
    put16(p + 2, DNS_CLASS_ANY);
    memset(p + 4, 0, 4);
    put16(p + 8, (uint16_t)(an + 16 + mac_len + v->other_len));
    p += 10;
    memcpy(p, v->alg_name, an);
    p += an;
    put48(p, v->time_signed);
    put16(p + 6, v->fudge);
    put16(p + 8, (uint16_t)mac_len);
    p += 10;
    if (mac_len)
        memcpy(p, mac, mac_len);
    p += mac_len;
    put16(p, orig_id);
    put16(p + 2, v->error);
    put16(p + 4, v->other_len);
    memcpy(p + 6, v->other, v->other_len);
    *len += rr_size(v, mac_len);
    put16(msg + 10, (uint16_t)(get16(msg + 10) + 1));
}

/* The variables of the response to req. */
static void response_vars(const tsig_request_t *req, uint64_t now, tsig_vars_t *v)
{
    memset(v, 0, sizeof *v);
    v->key_name = req->key_name;
    v->alg_name = req->alg_name;
    v->time_signed = now;
    v->fudge = req->fudge;
    v->error = req->error;
    if (req->error == TSIG_BADTIME) {
        /* §5.2.3: echo the request's time; ours goes in Other Data. */
        v->time_signed = req->time_signed;
        v->other_len = 6;
        put48(v->other, now);
    }
}

/* §5.3.2: key and MAC errors are answered unsigned. */
static bool response_is_signed(const tsig_request_t *req)
{
    return req->status == TSIG_VALID ||
           (req->status == TSIG_NOTAUTH &&
            (req->error == TSIG_BADTIME || req->error == TSIG_BADTRUNC));
}

size_t tsig_space(const tsig_request_t *req)
{
    if (req->status != TSIG_VALID && req->status != TSIG_NOTAUTH)
        return 0;
    tsig_vars_t v;
    response_vars(req, 0, &v);
    return rr_size(&v, response_is_signed(req) && req->key ? req->key->mac_len : 0);
}

static bool fits(const uint8_t *msg, size_t len, size_t cap, size_t need)
{
    return msg != NULL && len >= DNS_HEADER_LEN && len <= cap && need <= cap - len &&
           get16(msg + 10) < 0xffff;
}

int tsig_sign_response(const tsig_request_t *req, uint8_t *msg, size_t *len, size_t cap,
                       uint64_t now)
{
    if (req->status != TSIG_VALID && req->status != TSIG_NOTAUTH)
        return 0;
    if (!fits(msg, *len, cap, tsig_space(req)))
        return -1;
    tsig_vars_t v;
    response_vars(req, now, &v);
    uint16_t id = get16(msg);
    if (!response_is_signed(req) || req->key == NULL) {
        append_rr(msg, len, &v, NULL, 0, id);
        return 0;
    }
    uint8_t mac[TSIG_MAC_MAX];
    size_t mac_len = 0;
    if (compute_mac(req->key, req->mac, req->mac_len, true, msg, *len, id, false, &v, false,
                    mac, &mac_len) != 0)
        return -1;
    append_rr(msg, len, &v, mac, req->key->mac_len, id);
    return 0;
}

int tsig_sign_request(const tsig_key_t *key, uint8_t *msg, size_t *len, size_t cap,
                      uint64_t now, uint16_t fudge, uint8_t mac_out[TSIG_MAC_MAX],
                      uint16_t *mac_len)
{
    const alg_info_t *a = alg_info(key->alg);
    if (a == NULL)
        return -1;
    tsig_vars_t v = { key->name, a->wire, now, fudge, 0, 0, { 0 } };
    if (!fits(msg, *len, cap, rr_size(&v, key->mac_len)))
        return -1;
    size_t n = 0;
    uint16_t id = get16(msg);
    if (compute_mac(key, NULL, 0, false, msg, *len, id, false, &v, false, mac_out, &n) != 0)
        return -1;
    append_rr(msg, len, &v, mac_out, key->mac_len, id);
    *mac_len = key->mac_len;
    return 0;
}

/* ---- streams ------------------------------------------------------------ */

int tsig_stream_start_sender(tsig_stream_t *s, const tsig_request_t *req)
{
    memset(s, 0, sizeof *s);
    if (req->status != TSIG_VALID || req->key == NULL)
        return -1;
    s->key = req->key;
    s->fudge = req->fudge;
    memcpy(s->prior_mac, req->mac, req->mac_len);
    s->prior_len = req->mac_len;
    return 0;
}

int tsig_stream_sign(tsig_stream_t *s, uint8_t *msg, size_t *len, size_t cap, uint64_t now)
{
    const alg_info_t *a = s->key ? alg_info(s->key->alg) : NULL;
    if (a == NULL)
        return -1;
    tsig_vars_t v = { s->key->name, a->wire, now, s->fudge, 0, 0, { 0 } };
    if (!fits(msg, *len, cap, rr_size(&v, s->key->mac_len)))
        return -1;
    uint8_t mac[TSIG_MAC_MAX];
    size_t n = 0;
    uint16_t id = get16(msg);
    if (compute_mac(s->key, s->prior_mac, s->prior_len, true, msg, *len, id, false, &v,
                    s->signed_count > 0, mac, &n) != 0)
        return -1;
    append_rr(msg, len, &v, mac, s->key->mac_len, id);
    memcpy(s->prior_mac, mac, s->key->mac_len);
    s->prior_len = s->key->mac_len;
    s->signed_count++;
    return 0;
}

/* Opens the receiver's HMAC for the next signed message, seeded with the
 * prior MAC. */
static int receiver_open(tsig_stream_t *s)
{
    EVP_MAC_CTX *ctx = mac_begin(s->key);
    if (ctx == NULL || mac_update_prior(ctx, s->prior_mac, s->prior_len) != 0) {
        EVP_MAC_CTX_free(ctx);
        return -1;
    }
    s->pending = ctx;
    s->unsigned_run = 0;
    return 0;
}

int tsig_stream_start_receiver(tsig_stream_t *s, const tsig_key_t *key,
                               const uint8_t *request_mac, uint16_t request_mac_len)
{
    memset(s, 0, sizeof *s);
    if (key == NULL || request_mac_len > TSIG_MAC_MAX)
        return -1;
    s->key = key;
    memcpy(s->prior_mac, request_mac, request_mac_len);
    s->prior_len = request_mac_len;
    return receiver_open(s);
}

static enum tsig_error stream_fail(tsig_stream_t *s, enum tsig_error e)
{
    s->failed = true;
    return e;
}

/* A signed message of the stream: key, sizes, MAC, then time. */
static enum tsig_error verify_signed(tsig_stream_t *s, const uint8_t *msg, const tsig_rr_t *rr,
                                     uint64_t now)
{
    const alg_info_t *a = alg_by_wire(rr->alg_name);
    if (!name_equal(rr->key_name, s->key->name) || a == NULL || a->alg != s->key->alg)
        return TSIG_BADKEY;
    if (rr->error != TSIG_NOERROR)
        return (enum tsig_error)rr->error; /* the sender's verdict on our request */
    if (!mac_size_allowed(rr->mac_len, a->mac_len) || rr->mac_len < s->key->mac_len ||
        rr->other_len > 6)
        return TSIG_BADSIG;
    tsig_vars_t v = { rr->key_name, rr->alg_name, rr->time_signed, rr->fudge, rr->error,
                      rr->other_len, { 0 } };
    memcpy(v.other, rr->other, rr->other_len);
    EVP_MAC_CTX *ctx = s->pending;
    uint8_t mac[TSIG_MAC_MAX];
    size_t n = 0;
    if (mac_update_message(ctx, msg, rr->start, rr->orig_id, true) != 0 ||
        mac_update_vars(ctx, &v, s->signed_count > 0) != 0 || mac_final(ctx, mac, &n) != 0 ||
        n != a->mac_len || CRYPTO_memcmp(mac, rr->mac, rr->mac_len) != 0)
        return TSIG_BADSIG;
    if (!time_ok(now, rr->time_signed, rr->fudge))
        return TSIG_BADTIME;
    memcpy(s->prior_mac, rr->mac, rr->mac_len);
    s->prior_len = rr->mac_len;
    s->fudge = rr->fudge;
    return TSIG_NOERROR;
}

enum tsig_error tsig_stream_verify(tsig_stream_t *s, const uint8_t *msg, size_t len, uint64_t now,
                                   bool *was_signed)
{
    *was_signed = false;
    if (s->failed || s->key == NULL || s->pending == NULL)
        return stream_fail(s, TSIG_BADSIG);
    tsig_rr_t rr;
    int found = find_tsig(msg, len, &rr);
    if (found < 0)
        return stream_fail(s, TSIG_BADSIG);
    if (found == 0) {
        /* §5.3.1: the first message and every 100th must be signed. */
        if (s->signed_count == 0 || s->unsigned_run >= TSIG_MAX_UNSIGNED ||
            mac_update(s->pending, msg, len) != 0)
            return stream_fail(s, TSIG_BADSIG);
        s->unsigned_run++;
        return TSIG_NOERROR;
    }
    *was_signed = true;
    enum tsig_error e = verify_signed(s, msg, &rr, now);
    EVP_MAC_CTX_free(s->pending);
    s->pending = NULL;
    if (e != TSIG_NOERROR)
        return stream_fail(s, e);
    s->signed_count++;
    if (receiver_open(s) != 0)
        return stream_fail(s, TSIG_BADSIG);
    return TSIG_NOERROR;
}

void tsig_stream_end(tsig_stream_t *s)
{
    EVP_MAC_CTX_free(s->pending);
    s->pending = NULL;
    OPENSSL_cleanse(s->prior_mac, sizeof s->prior_mac);
}
