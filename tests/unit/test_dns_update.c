/* tests/unit/test_dns_update.c — dns/update.c (the checks of a received
 * UPDATE and its responses) and dns/updcache.c (the retransmission
 * cache): RFC 2136 §3.1.1 FORMERR cases, NOTAUTH for another class, ACL
 * REFUSED, TSIG BADKEY / BADSIG / BADTIME answered NOTAUTH and signed,
 * malformed TSIG answered FORMERR unsigned, the submitted message without
 * the TSIG RR, the §3.8 response (ID, opcode, zone echoed, other sections
 * empty), signed responses that a client verifies, and the cache: a
 * retransmission is told apart from a new request by source, ID and
 * content, waits while in flight, gets the first rcode, expires. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "dns/acl.h"
#include "dns/tsig.h"
#include "dns/update.h"
#include "dns/updcache.h"
#include "dns/wire.h"

#define NOW 1700000000ull

static const char KEYS[] =
    "key \"update-key\" { algorithm hmac-sha256; secret \"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\"; };\n"
    "key \"other-key\" { algorithm hmac-sha256; secret \"b3RoZXJvdGhlcm90aGVyb3RoZXI=\"; };\n";

static tsig_keystore_t *ks;
static acl_t *acl;
static struct sockaddr_in local;

static int setup(void **state)
{
    (void)state;
    ks = tsig_keystore_new();
    char err[TSIG_ERR_MAX];
    assert_int_equal(tsig_keystore_load_text(ks, KEYS, sizeof KEYS - 1, "test", err), 0);
    acl = acl_new();
    char aerr[ACL_ERR_MAX];
    const char *zones[] = { "foo.com." };
    assert_int_equal(acl_add_rule(acl, zones, 1, ACL_UPDATE, "update-key", NULL, ks, aerr), 0);
    const char *any[] = { "open.test." };
    assert_int_equal(acl_add_rule(acl, any, 1, ACL_UPDATE, NULL, "127.0.0.0/8", ks, aerr), 0);
    local.sin_family = AF_INET;
    local.sin_port = htons(5353);
    inet_pton(AF_INET, "127.0.0.1", &local.sin_addr);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    acl_free(acl);
    tsig_keystore_free(ks);
    return 0;
}

static size_t put_name(uint8_t *p, const char *wire)
{
    size_t n = strlen(wire) + 1;
    memcpy(p, wire, n);
    return n;
}

/* An UPDATE for `zone` (wire, without the final NUL) adding one A RR. */
static size_t make_update(uint8_t *m, const char *zone, uint16_t ztype, uint16_t zclass,
                          uint16_t zocount)
{
    memset(m, 0, 12);
    m[0] = 0xab;
    m[1] = 0xcd;
    m[2] = DNS_OPCODE_UPDATE << 3;
    m[5] = (uint8_t)zocount;
    m[9] = 1; /* UPCOUNT */
    size_t n = 12;
    n += put_name(m + n, zone);
    m[n++] = (uint8_t)(ztype >> 8);
    m[n++] = (uint8_t)ztype;
    m[n++] = (uint8_t)(zclass >> 8);
    m[n++] = (uint8_t)zclass;
    n += put_name(m + n, "\3www\3foo\3com");
    memcpy(m + n, "\0\1\0\1\0\0\x0e\x10\0\4\xc0\0\2\1", 14);
    return n + 14;
}

static size_t sign(uint8_t *m, size_t len, size_t cap, const char *key_name, uint64_t when)
{
    const tsig_key_t *key = NULL;
    for (size_t i = 0; i < tsig_keystore_count(ks); i++) {
        char text[NAME_MAX_TEXT];
        name_to_text(tsig_keystore_key(ks, i)->name, text, sizeof text);
        if (strncmp(text, key_name, strlen(key_name)) == 0)
            key = tsig_keystore_key(ks, i);
    }
    assert_non_null(key);
    uint8_t mac[TSIG_MAC_MAX];
    uint16_t mac_len = 0;
    assert_int_equal(tsig_sign_request(key, m, &len, cap, when, 300, mac, &mac_len), 0);
    return len;
}

static dns_update_verdict_t check(const uint8_t *m, size_t len, dns_update_req_t *req)
{
    return dns_update_check(ks, acl, m, len, (const struct sockaddr *)&local, NOW, req);
}

static void test_signed_update_is_submitted_without_tsig(void **state)
{
    (void)state;
    uint8_t m[1024], out[1024];
    size_t plain = make_update(m, "\3foo\3com", DNS_TYPE_SOA, DNS_CLASS_IN, 1);
    uint8_t copy[1024];
    memcpy(copy, m, plain);
    size_t len = sign(m, plain, sizeof m, "update-key", NOW);
    dns_update_req_t req;
    assert_int_equal(check(m, len, &req), DNS_UPDATE_SUBMIT);
    assert_non_null(dns_update_key_name(&req));
    assert_memory_equal(dns_update_key_name(&req), "\12update-key", 12);
    size_t n = dns_update_unsigned(&req, m, len, out, sizeof out);
    assert_int_equal(n, plain);
    assert_memory_equal(out, copy, plain); /* ARCOUNT back to 0, TSIG gone */
    assert_int_equal(dns_update_unsigned(&req, m, len, out, plain - 1), 0);
}

static void test_unsigned_needs_a_rule_without_key(void **state)
{
    (void)state;
    uint8_t m[1024];
    size_t len = make_update(m, "\3foo\3com", DNS_TYPE_SOA, DNS_CLASS_IN, 1);
    dns_update_req_t req;
    assert_int_equal(check(m, len, &req), DNS_UPDATE_REPLY); /* foo.com needs the key */
    assert_int_equal(req.rcode, DNS_RCODE_REFUSED);
    assert_null(dns_update_key_name(&req));
    len = make_update(m, "\4open\4test", DNS_TYPE_SOA, DNS_CLASS_IN, 1);
    assert_int_equal(check(m, len, &req), DNS_UPDATE_SUBMIT); /* address rule */
    struct sockaddr_in far = local;
    inet_pton(AF_INET, "192.0.2.1", &far.sin_addr);
    assert_int_equal(dns_update_check(ks, acl, m, len, (const struct sockaddr *)&far, NOW, &req),
                     DNS_UPDATE_REPLY);
    assert_int_equal(req.rcode, DNS_RCODE_REFUSED);
    assert_int_equal(dns_update_check(ks, NULL, m, len, (const struct sockaddr *)&local, NOW, &req),
                     DNS_UPDATE_REPLY); /* no ACL at all: nothing allowed */
    assert_int_equal(req.rcode, DNS_RCODE_REFUSED);
}

static void test_other_key_refused(void **state)
{
    (void)state;
    uint8_t m[1024];
    size_t len = sign(m, make_update(m, "\3foo\3com", DNS_TYPE_SOA, DNS_CLASS_IN, 1), sizeof m,
                      "other-key", NOW);
    dns_update_req_t req;
    assert_int_equal(check(m, len, &req), DNS_UPDATE_REPLY);
    assert_int_equal(req.rcode, DNS_RCODE_REFUSED);
    assert_int_equal(req.tsig.status, TSIG_VALID); /* so the REFUSED is signed */
}

static void test_formerr_cases(void **state)
{
    (void)state;
    uint8_t m[1024];
    dns_update_req_t req;
    size_t len = make_update(m, "\3foo\3com", DNS_TYPE_A, DNS_CLASS_IN, 1); /* §3.1.1 */
    assert_int_equal(check(m, len, &req), DNS_UPDATE_REPLY);
    assert_int_equal(req.rcode, DNS_RCODE_FORMERR);
    len = make_update(m, "\3foo\3com", DNS_TYPE_SOA, DNS_CLASS_IN, 2);
    assert_int_equal(check(m, len, &req), DNS_UPDATE_REPLY);
    assert_int_equal(req.rcode, DNS_RCODE_FORMERR);
    len = make_update(m, "\3foo\3com", DNS_TYPE_SOA, DNS_CLASS_IN, 1);
    assert_int_equal(check(m, len - 1, &req), DNS_UPDATE_REPLY); /* RR cut short */
    assert_int_equal(req.rcode, DNS_RCODE_FORMERR);
    m[len] = 0;
    assert_int_equal(check(m, len + 1, &req), DNS_UPDATE_REPLY); /* trailing octet */
    assert_int_equal(req.rcode, DNS_RCODE_FORMERR);
    len = make_update(m, "\3foo\3com", DNS_TYPE_SOA, DNS_CLASS_CH, 1);
    assert_int_equal(check(m, len, &req), DNS_UPDATE_REPLY);
    assert_int_equal(req.rcode, DNS_RCODE_NOTAUTH);
    /* A response, or a runt: nothing is sent. */
    len = make_update(m, "\3foo\3com", DNS_TYPE_SOA, DNS_CLASS_IN, 1);
    m[2] |= 0x80;
    assert_int_equal(check(m, len, &req), DNS_UPDATE_DROP);
    assert_int_equal(check(m, 11, &req), DNS_UPDATE_DROP);
}

static void test_tsig_errors(void **state)
{
    (void)state;
    uint8_t m[1024];
    dns_update_req_t req;
    size_t plain = make_update(m, "\3foo\3com", DNS_TYPE_SOA, DNS_CLASS_IN, 1);
    size_t len = sign(m, plain, sizeof m, "update-key", NOW - 1000); /* beyond the fudge */
    assert_int_equal(check(m, len, &req), DNS_UPDATE_REPLY);
    assert_int_equal(req.rcode, DNS_RCODE_NOTAUTH);
    assert_int_equal(req.tsig.error, TSIG_BADTIME);
    len = sign(m, make_update(m, "\3foo\3com", DNS_TYPE_SOA, DNS_CLASS_IN, 1), sizeof m,
               "update-key", NOW);
    m[len - 20] ^= 1; /* inside the MAC */
    assert_int_equal(check(m, len, &req), DNS_UPDATE_REPLY);
    assert_int_equal(req.rcode, DNS_RCODE_NOTAUTH);
    assert_int_equal(req.tsig.error, TSIG_BADSIG);
    /* A key the server does not know. */
    tsig_keystore_t *empty = tsig_keystore_new();
    len = sign(m, make_update(m, "\3foo\3com", DNS_TYPE_SOA, DNS_CLASS_IN, 1), sizeof m,
               "update-key", NOW);
    assert_int_equal(dns_update_check(empty, acl, m, len, (const struct sockaddr *)&local, NOW, &req),
                     DNS_UPDATE_REPLY);
    assert_int_equal(req.rcode, DNS_RCODE_NOTAUTH);
    assert_int_equal(req.tsig.error, TSIG_BADKEY);
    tsig_keystore_free(empty);
    /* A TSIG RR that is not last: FORMERR, unsigned. */
    len = sign(m, make_update(m, "\3foo\3com", DNS_TYPE_SOA, DNS_CLASS_IN, 1), sizeof m,
               "update-key", NOW);
    m[len] = 0;
    m[11]++;
    memcpy(m + len, "\0\0\1\0\1\0\0\0\0\0\0", 11);
    assert_int_equal(check(m, len + 11, &req), DNS_UPDATE_REPLY);
    assert_int_equal(req.rcode, DNS_RCODE_FORMERR);
    assert_int_equal(req.tsig.status, TSIG_UNSIGNED);
}

static void test_response_shape_and_signature(void **state)
{
    (void)state;
    uint8_t m[1024], resp[1024];
    size_t plain = make_update(m, "\3foo\3com", DNS_TYPE_SOA, DNS_CLASS_IN, 1);
    const tsig_key_t *key = tsig_keystore_find(ks, (const uint8_t *)"\12update-key");
    uint8_t mac[TSIG_MAC_MAX];
    uint16_t mac_len = 0;
    size_t len = plain;
    assert_int_equal(tsig_sign_request(key, m, &len, sizeof m, NOW, 300, mac, &mac_len), 0);
    dns_update_req_t req;
    assert_int_equal(check(m, len, &req), DNS_UPDATE_SUBMIT);
    size_t rlen = dns_update_response(&req, DNS_RCODE_NXRRSET, resp, sizeof resp, NOW + 1);
    assert_true(rlen > 12);
    assert_int_equal(resp[0], 0xab);
    assert_int_equal(resp[1], 0xcd);
    assert_int_equal(resp[2], 0x80 | (DNS_OPCODE_UPDATE << 3)); /* QR, opcode 5 */
    assert_int_equal(resp[3] & 0xf, DNS_RCODE_NXRRSET);
    assert_int_equal(resp[5], 1);                               /* zone echoed */
    assert_int_equal(resp[7] | resp[9], 0);                     /* no prereq/update */
    assert_int_equal(resp[11], 1);                              /* the TSIG RR */
    assert_memory_equal(resp + 12, "\3foo\3com\0\0\6\0\1", 13);
    tsig_stream_t st;
    assert_int_equal(tsig_stream_start_receiver(&st, key, mac, mac_len), 0);
    bool was_signed = false;
    assert_int_equal(tsig_stream_verify(&st, resp, rlen, NOW + 1, &was_signed), TSIG_NOERROR);
    assert_true(was_signed);
    tsig_stream_end(&st);
    /* An unsigned request gets an unsigned response. */
    plain = make_update(m, "\4open\4test", DNS_TYPE_SOA, DNS_CLASS_IN, 1);
    assert_int_equal(check(m, plain, &req), DNS_UPDATE_SUBMIT);
    rlen = dns_update_response(&req, DNS_RCODE_NOERROR, resp, sizeof resp, NOW);
    assert_int_equal(resp[11], 0);
    assert_int_equal(rlen, 12 + 11 + 4);
    assert_int_equal(dns_update_response(&req, 0, resp, 20, NOW), 0); /* does not fit */
}

static void test_cache(void **state)
{
    (void)state;
    updcache_t *c = updcache_new(16, 1000);
    uint8_t m[64] = "update bytes";
    struct sockaddr_in a = local, b = local;
    b.sin_port = htons(5354);
    updcache_key_t ka, ka2, kb, kc;
    updcache_key((const struct sockaddr *)&a, sizeof a, m, 12, &ka);
    updcache_key((const struct sockaddr *)&a, sizeof a, m, 12, &ka2);
    updcache_key((const struct sockaddr *)&b, sizeof b, m, 12, &kb);
    m[0] ^= 1;
    updcache_key((const struct sockaddr *)&a, sizeof a, m, 12, &kc);
    assert_memory_equal(&ka, &ka2, sizeof ka);
    int rcode = -1;
    assert_int_equal(updcache_begin(c, &ka, 0, &rcode), UPDCACHE_NEW);
    assert_int_equal(updcache_begin(c, &ka2, 10, &rcode), UPDCACHE_INFLIGHT);
    assert_int_equal(updcache_begin(c, &kb, 10, &rcode), UPDCACHE_NEW); /* other port */
    assert_int_equal(updcache_begin(c, &kc, 10, &rcode), UPDCACHE_NEW); /* other content */
    updcache_done(c, &ka, DNS_RCODE_YXRRSET, 20);
    assert_int_equal(updcache_begin(c, &ka2, 900, &rcode), UPDCACHE_DONE);
    assert_int_equal(rcode, DNS_RCODE_YXRRSET);
    assert_int_equal(updcache_begin(c, &ka2, 1020, &rcode), UPDCACHE_NEW); /* window over */
    updcache_free(c);
}

static void test_cache_bounded(void **state)
{
    (void)state;
    updcache_t *c = updcache_new(8, 100000);
    uint8_t m[8];
    updcache_key_t first, k;
    int rcode;
    for (uint32_t i = 0; i < 1000; i++) {
        memcpy(m, &i, sizeof i);
        updcache_key(NULL, 0, m, sizeof i, &k);
        if (i == 0)
            first = k;
        assert_int_equal(updcache_begin(c, &k, i, &rcode), UPDCACHE_NEW);
        updcache_done(c, &k, 0, i);
    }
    /* 1000 requests through 8 slots: the first one is long evicted. */
    assert_int_equal(updcache_begin(c, &first, 2000, &rcode), UPDCACHE_NEW);
    updcache_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signed_update_is_submitted_without_tsig),
        cmocka_unit_test(test_unsigned_needs_a_rule_without_key),
        cmocka_unit_test(test_other_key_refused),
        cmocka_unit_test(test_formerr_cases),
        cmocka_unit_test(test_tsig_errors),
        cmocka_unit_test(test_response_shape_and_signature),
        cmocka_unit_test(test_cache),
        cmocka_unit_test(test_cache_bounded),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
