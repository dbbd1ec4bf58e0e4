/* tests/fuzz/fuzz_dns_updreq.c — libFuzzer target for the UPDATE request
 * path on the DNS side: dns_update_check (header, zone section, section
 * walk, TSIG verification with a store of two keys, the ACL of a fixed
 * config), then what the server does with the verdict: the response
 * (dns_update_response) or the message to submit (dns_update_unsigned,
 * recorded by a fake submit), and the retransmission cache.
 *
 * Input: the first octet picks the source address (IPv4 inside and
 * outside the ACL prefix, IPv6, IPv4-mapped IPv6); the rest is the message.
 * Its first 8 octets, read as a number, also pick the clock (as in
 * fuzz_dns_tsig), so BADTIME and the fudge edge are reached.
 *
 * Properties checked besides "no crash, no sanitizer report":
 *  - the verdict is one of three; a REPLY's rcode is a 4-bit rcode;
 *  - SUBMIT only when the ACL allows the zone for the key and source, a
 *    key name only when the request verified, and the submitted message
 *    is the request up to its TSIG RR with ARCOUNT one less (the same
 *    octets when unsigned);
 *  - every response (to a REPLY, and NOERROR/SERVFAIL to a SUBMIT) is
 *    built, echoes the ID, has QR and opcode UPDATE and the rcode, at most
 *    the zone in its zone section, no prerequisite or update RRs, and a
 *    TSIG RR exactly when the request's TSIG was valid or NOTAUTH;
 *  - the cache: a new key is NEW, then INFLIGHT, then DONE with the rcode
 *    recorded. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/acl.h"
#include "dns/tsig.h"
#include "dns/update.h"
#include "dns/updcache.h"
#include "dns/wire.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MSG_MAX 65535
#define T0 1700000000ull

static const char KEYS[] =
    "key \"update-key\" { algorithm hmac-sha256; "
    "secret \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"; };\n"
    "key \"xfr.key.example.\" { algorithm hmac-sha512; secret \"AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcY"
    "GRobHB0eHyAhIiMkJSYnKCkqKywtLi8wMTIzNDU2Nzg5Ojs8PT4/QA==\"; };\n";

static tsig_keystore_t *ks;
static acl_t *acl;
static updcache_t *cache;
static uint64_t cache_clock;

static void setup(void)
{
    if (ks != NULL)
        return;
    char err[TSIG_ERR_MAX], aerr[ACL_ERR_MAX];
    ks = tsig_keystore_new();
    fuzz_check(ks != NULL && tsig_keystore_load_text(ks, KEYS, strlen(KEYS), "fuzz", err) == 0);
    acl = acl_new();
    const char *example[] = { "example.com." };
    const char *any[] = { "*" };
    fuzz_check(acl_add_rule(acl, example, 1, ACL_UPDATE, "update-key", "127.0.0.0/8", ks, aerr) == 0);
    fuzz_check(acl_add_rule(acl, any, 1, ACL_UPDATE, "xfr.key.example.", NULL, ks, aerr) == 0);
    fuzz_check(acl_add_rule(acl, any, 1, ACL_UPDATE, NULL, "::1", ks, aerr) == 0);
    cache = updcache_new(64, 30000);
    fuzz_check(cache != NULL);
}

static uint64_t pick_clock(const uint8_t *msg, size_t len)
{
    uint64_t v = 0;
    for (size_t i = 0; i < 8 && i < len; i++)
        v = v << 8 | msg[i];
    return (v & 1) ? v : T0 + (v >> 1) % 1024 - 512;
}

static socklen_t pick_peer(uint8_t which, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof *ss);
    static const char *const v4[] = { "127.0.0.1", "10.1.2.3" };
    static const char *const v6[] = { "::1", "::ffff:127.0.0.1", "2001:db8::1" };
    if (which % 5 < 2) {
        struct sockaddr_in *in = (struct sockaddr_in *)ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(5353);
        inet_pton(AF_INET, v4[which % 5], &in->sin_addr);
        return sizeof *in;
    }
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(5353);
    inet_pton(AF_INET6, v6[which % 5 - 2], &in6->sin6_addr);
    return sizeof *in6;
}

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void check_response(const dns_update_req_t *req, int rcode, uint64_t now)
{
    static uint8_t resp[1024];
    size_t len = dns_update_response(req, rcode, resp, sizeof resp, now);
    fuzz_check(len >= DNS_HEADER_LEN);
    fuzz_check(get16(resp) == req->id);
    uint16_t flags = get16(resp + 2);
    fuzz_check((flags & DNS_FLAG_QR) && DNS_OPCODE(flags) == DNS_OPCODE_UPDATE &&
               DNS_RCODE(flags) == (unsigned)rcode);
    fuzz_check(get16(resp + 4) == (req->have_zone ? 1 : 0));
    fuzz_check(get16(resp + 6) == 0 && get16(resp + 8) == 0);
    bool signs = req->tsig.status == TSIG_VALID || req->tsig.status == TSIG_NOTAUTH;
    fuzz_check(get16(resp + 10) == (signs ? 1 : 0));
}

static void check_submit(const dns_update_req_t *req, const uint8_t *msg, size_t len,
                         const struct sockaddr *peer, uint64_t now)
{
    static uint8_t out[MSG_MAX];
    const uint8_t *key = dns_update_key_name(req);
    fuzz_check(acl_allows(acl, ACL_UPDATE, req->zone, key, peer));
    fuzz_check((key != NULL) == (req->tsig.status == TSIG_VALID));
    size_t n = dns_update_unsigned(req, msg, len, out, sizeof out);
    fuzz_check(n >= DNS_HEADER_LEN && n <= len);
    if (req->tsig.status == TSIG_UNSIGNED) {
        fuzz_check(n == len && memcmp(out, msg, len) == 0);
    } else {
        fuzz_check(n == req->tsig.unsigned_len);
        fuzz_check(memcmp(out, msg, 10) == 0 && get16(out + 10) + 1 == get16(msg + 10));
        fuzz_check(memcmp(out + 12, msg + 12, n - 12) == 0);
    }
    check_response(req, DNS_RCODE_NOERROR, now);
    check_response(req, DNS_RCODE_SERVFAIL, now);
}

static void check_cache(const struct sockaddr *peer, socklen_t peer_len, const uint8_t *msg,
                        size_t len, int rcode)
{
    updcache_key_t key;
    updcache_key(peer, peer_len, msg, len, &key);
    int got = -1;
    cache_clock += 31000; /* past the window: every input starts anew */
    fuzz_check(updcache_begin(cache, &key, cache_clock, &got) == UPDCACHE_NEW);
    fuzz_check(updcache_begin(cache, &key, cache_clock + 1, &got) == UPDCACHE_INFLIGHT);
    updcache_done(cache, &key, rcode, cache_clock + 2);
    fuzz_check(updcache_begin(cache, &key, cache_clock + 3, &got) == UPDCACHE_DONE && got == rcode);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    if (size < 1 || size - 1 > MSG_MAX)
        return 0;
    struct sockaddr_storage ss;
    socklen_t peer_len = pick_peer(data[0], &ss);
    const struct sockaddr *peer = (const struct sockaddr *)&ss;
    const uint8_t *msg = data + 1;
    size_t len = size - 1;
    uint64_t now = pick_clock(msg, len);
    dns_update_req_t req;
    dns_update_verdict_t v = dns_update_check(ks, acl, msg, len, peer, now, &req);
    switch (v) {
    case DNS_UPDATE_DROP:
        break;
    case DNS_UPDATE_REPLY:
        fuzz_check(req.rcode >= 0 && req.rcode <= 15 && req.rcode != DNS_RCODE_NOERROR);
        check_response(&req, req.rcode, now);
        break;
    case DNS_UPDATE_SUBMIT:
        check_submit(&req, msg, len, peer, now);
        check_cache(peer, peer_len, msg, len, (int)(len % 11));
        break;
    default:
        fuzz_check(false);
    }
    return 0;
}
