/* tests/fuzz/fuzz_dns_tsig.c — libFuzzer target for TSIG (dns/tsig.h):
 * hostile messages through request verification with a store of two keys,
 * hostile key files through the parser, hostile messages through a
 * multi-message receiver.
 *
 * Input: cut at the first "|K|"; the part before is a DNS message, the part
 * after (if any) a key file. The first 8 octets of the message, read as a
 * number, also pick the clock (so BADTIME and the time paths are reached).
 *
 * Properties checked besides "no crash, no sanitizer report":
 *  - verification gives one of the four statuses; VALID names one of the
 *    store's keys, and the TSIG RR starts inside the message;
 *  - a request found VALID or NOTAUTH gets a response TSIG of exactly
 *    tsig_space() octets, and a VALID one's response verifies as the
 *    client would verify it;
 *  - an unsigned message that our verifier could walk, once signed with
 *    either key, verifies as VALID with that key;
 *  - a key file that parses gives keys with an algorithm, a secret and an
 *    allowed MAC length, and loading it a second time fails (every name
 *    is then a duplicate) without adding a key. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/tsig.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MSG_MAX 4096
#define T0 1700000000ull

static const char KEYS[] =
    "key \"update-key\" { algorithm hmac-sha256; "
    "secret \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"; };\n"
    "key \"xfr.key.example.\" { algorithm hmac-sha512; secret \"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcY"
    "GRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QA==\"; };\n";

static tsig_keystore_t *store(void)
{
    static tsig_keystore_t *ks;
    if (ks == NULL) {
        char err[TSIG_ERR_MAX];
        ks = tsig_keystore_new();
        fuzz_check(ks != NULL && tsig_keystore_load_text(ks, KEYS, strlen(KEYS), "fuzz", err) == 0);
    }
    return ks;
}

static uint64_t pick_clock(const uint8_t *msg, size_t len)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8 && i < len; i++)
        v = v << 8 | msg[i];
    /* Mostly near T0 (the fudge edge matters), sometimes anything. */
    return (v & 1) ? v : T0 + (v >> 1) % 1024 - 512;
}

static bool is_store_key(const tsig_keystore_t *ks, const tsig_key_t *key)
{
    for (size_t i = 0; i < tsig_keystore_count(ks); i++)
        if (tsig_keystore_key(ks, i) == key)
            return true;
    return false;
}

/* Signs the request's own octets as a stand-in response. */
static void respond(const tsig_request_t *req, const uint8_t *msg, uint64_t now)
{
    static uint8_t buf[MSG_MAX + 1024];
    size_t len = req->unsigned_len;
    fuzz_check(len <= MSG_MAX);
    memcpy(buf, msg, len);
    size_t space = tsig_space(req);
    /* Without the request's TSIG RR, which ARCOUNT counted. */
    uint16_t ar = (uint16_t)((buf[10] << 8 | buf[11]) - 1);
    buf[10] = (uint8_t)(ar >> 8);
    buf[11] = (uint8_t)ar;
    fuzz_check(tsig_sign_response(req, buf, &len, sizeof buf, now) == 0);
    fuzz_check(len == req->unsigned_len + space);
    if (req->status != TSIG_VALID || now >> 48)
        return; /* Time Signed has 48 bits */
    tsig_stream_t s;
    bool was_signed = false;
    fuzz_check(tsig_stream_start_receiver(&s, req->key, req->mac, req->mac_len) == 0);
    fuzz_check(tsig_stream_verify(&s, buf, len, now, &was_signed) == TSIG_NOERROR && was_signed);
    tsig_stream_end(&s);
}

static void verify_message(const uint8_t *msg, size_t len)
{
    tsig_keystore_t *ks = store();
    uint64_t now = pick_clock(msg, len);
    tsig_request_t req;
    enum tsig_status st = tsig_verify_request(ks, msg, len, now, &req);
    fuzz_check(st == req.status);
    fuzz_check(st == TSIG_UNSIGNED || st == TSIG_VALID || st == TSIG_FORMERR || st == TSIG_NOTAUTH);
    if (st == TSIG_VALID)
        fuzz_check(is_store_key(ks, req.key) && req.error == TSIG_NOERROR);
    if (st == TSIG_VALID || st == TSIG_NOTAUTH) {
        fuzz_check(req.unsigned_len >= 12 && req.unsigned_len < len);
        respond(&req, msg, now);
    }
    if (st == TSIG_UNSIGNED && len <= MSG_MAX && len >= 12 && !(now >> 48)) {
        /* Sign it ourselves: it must then verify. */
        static uint8_t buf[MSG_MAX + 1024];
        const tsig_key_t *key = tsig_keystore_key(ks, msg[len - 1] & 1);
        memcpy(buf, msg, len);
        size_t n = len;
        uint8_t mac[TSIG_MAC_MAX];
        uint16_t mac_len;
        if (tsig_sign_request(key, buf, &n, sizeof buf, now, 300, mac, &mac_len) == 0) {
            fuzz_check(tsig_verify_request(ks, buf, n, now, &req) == TSIG_VALID);
            fuzz_check(req.key == key && req.mac_len == mac_len);
        }
    }
    /* The message as the answer to a transfer request. */
    static const uint8_t request_mac[32] = { 1, 2, 3 };
    tsig_stream_t s;
    bool was_signed;
    fuzz_check(tsig_stream_start_receiver(&s, tsig_keystore_key(ks, 1), request_mac, 32) == 0);
    tsig_stream_verify(&s, msg, len, now, &was_signed);
    tsig_stream_end(&s);
}

static void parse_key_file(const uint8_t *text, size_t len)
{
    tsig_keystore_t *ks = tsig_keystore_new();
    fuzz_check(ks != NULL);
    char err[TSIG_ERR_MAX];
    if (tsig_keystore_load_text(ks, (const char *)text, len, "f", err) == 0) {
        size_t n = tsig_keystore_count(ks);
        for (size_t i = 0; i < n; i++) {
            const tsig_key_t *k = tsig_keystore_key(ks, i);
            size_t full = tsig_alg_mac_len(k->alg);
            fuzz_check(full > 0 && k->secret_len > 0 && k->secret_len <= TSIG_SECRET_MAX);
            fuzz_check(k->mac_len <= full && k->mac_len >= 10 && k->mac_len >= full / 2);
            fuzz_check(tsig_keystore_find(ks, k->name) == k);
        }
        if (n > 0) {
            fuzz_check(tsig_keystore_load_text(ks, (const char *)text, len, "f", err) == -1);
            fuzz_check(tsig_keystore_count(ks) == n);
        }
    } else {
        fuzz_check(strncmp(err, "f:", 2) == 0 && tsig_keystore_count(ks) == 0);
    }
    tsig_keystore_free(ks);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_part_t parts[2];
    size_t n = fuzz_split(data, size, "|K|", parts, 2);
    verify_message(parts[0].data, parts[0].len);
    if (n == 2)
        parse_key_file(parts[1].data, parts[1].len);
    return 0;
}
