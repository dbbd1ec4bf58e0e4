/* tests/unit/test_dns_xfr.c — zone transfers out (dns/xfr.h), on a zone
 * database in memory, no sockets:
 *  - AXFR of a zone larger than one message: several messages, each at
 *    most XFR_MESSAGE_MAX octets, SOA first and last, every RR exactly once, the
 *    question only in the first message, names compressed;
 *  - signed AXFR: every message carries a TSIG that a receiver verifies in
 *    order (RFC 8945 §5.3.1); a changed octet in one message is BADSIG;
 *  - refusals: no ACL rule (REFUSED), an ACL rule for another key
 *    (REFUSED), a zone not served (NOTAUTH), a bad key (NOTAUTH, signed),
 *    IXFR without its SOA (FORMERR), a non-IN class (REFUSED);
 *  - IXFR: the journal's difference framed by SOAs; the SOA alone when the
 *    client is up to date or newer (RFC 1982); the whole zone when the
 *    journal has no difference;
 *  - IXFR over UDP (RFC 1995 §2): the difference when it fits, else the
 *    SOA alone; AXFR over UDP is left to the query engine (NOTIMP). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns/acl.h"
#include "dns/answer.h"
#include "dns/tsig.h"
#include "dns/wire.h"
#include "dns/xfr.h"
#include "zone/journal.h"

#define NOW 1700000000u
#define BIG_RECORDS 6000

static const char KEYS[] = "key \"xfr-key\" { algorithm hmac-sha256; secret "
                           "\"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0MTI=\"; };\n"
                           "key \"other-key\" { algorithm hmac-sha256; secret "
                           "\"b3RoZXJvdGhlcm90aGVyb3RoZXJvdGhlcm90aGVyMTI=\"; };\n";

static tsig_keystore_t *keys;
static acl_t *acl;
static zonedb_handle_t *db;
static uint8_t origin[NAME_MAX_WIRE];
static size_t zone_rrs;
static int journal_answer = ZJ_NONE;
static uint32_t journal_asked;

static uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }

/* The fake journal: a difference 1 -> 2 adding one A RR, or journal_answer. */
static int fake_diff(void *arg, const uint8_t *o, uint32_t serial, zone_changeset_t *out)
{
    (void)arg;
    (void)o;
    journal_asked = serial;
    if (journal_answer != ZJ_DIFF)
        return journal_answer;
    static const uint8_t soa1[] = { 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1 };
    static const uint8_t soa2[] = { 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1 };
    static const uint8_t a[] = { 192, 0, 2, 99 };
    static const uint8_t new_name[] = "\3new\7example\3com";
    zone_rr_t rem[1] = { { origin, 6, 1, 60, sizeof soa1, soa1 } };
    zone_rr_t add[2] = { { origin, 6, 1, 60, sizeof soa2, soa2 },
                         { new_name, 1, 1, 60, sizeof a, a } };
    (void)zone_changeset_make(out, serial, 2, rem, 1, add, 2);
    return ZJ_DIFF;
}

static xfr_ctx_t ctx(void)
{
    return (xfr_ctx_t){ .keys = keys, .acl = acl, .journal_diff = fake_diff };
}

static int setup(void **state)
{
    (void)state;
    char err[TSIG_ERR_MAX];
    keys = tsig_keystore_new();
    assert_int_equal(tsig_keystore_load_text(keys, KEYS, sizeof KEYS - 1, "test", err), 0);
    acl = acl_new();
    const char *zones[] = { "example.com." }, *other[] = { "other.com." };
    assert_int_equal(acl_add_rule(acl, zones, 1, ACL_TRANSFER, "xfr-key", NULL, keys, err), 0);
    assert_int_equal(acl_add_rule(acl, zones, 1, ACL_TRANSFER, NULL, "127.0.0.2/32", keys, err), 0);
    assert_int_equal(acl_add_rule(acl, other, 1, ACL_TRANSFER, NULL, NULL, keys, err), 0);
    const char *e;
    assert_true(name_from_text("example.com.", 12, NULL, origin, &e) > 0);
    size_t cap = 64 + BIG_RECORDS * 48, len = 0;
    char *text = malloc(cap);
    len += (size_t)snprintf(text + len, cap - len, "$TTL 60\n@ SOA ns1 hostmaster 1 3600 600 "
                            "604800 60\n@ NS ns1\nns1 A 192.0.2.1\n");
    for (int i = 0; i < BIG_RECORDS; i++)
        len += (size_t)snprintf(text + len, cap - len, "host%d A 10.0.%d.%d\n", i, i / 256, i % 256);
    zone_t *z = zone_parse_text(text, len, "test", origin, err);
    free(text);
    assert_non_null(z);
    zonedb_index_t *zi = zonedb_index_build(z, err);
    zone_free(z);
    assert_non_null(zi);
    zone_rrs = zonedb_index_rr_count(zi);
    db = zonedb_handle_new();
    assert_int_equal(zonedb_handle_put_zone(db, zi), 0);
    zonedb_reader_register();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    zonedb_reader_unregister();
    zonedb_handle_free(db);
    acl_free(acl);
    tsig_keystore_free(keys);
    return 0;
}

/* A transfer request; ixfr_serial < 0: AXFR. */
static size_t request(uint8_t *m, size_t cap, const char *zone, long ixfr_serial, uint16_t qclass)
{
    uint8_t qname[NAME_MAX_WIRE];
    const char *e;
    assert_true(name_from_text(zone, strlen(zone), NULL, qname, &e) > 0);
    dns_builder_t b;
    dns_builder_init(&b, m, cap, 0x1234, 0);
    assert_int_equal(dns_builder_question(&b, qname, ixfr_serial < 0 ? DNS_TYPE_AXFR
                                                                     : DNS_TYPE_IXFR, qclass), 0);
    if (ixfr_serial >= 0) {
        uint8_t soa[22] = { 0 };
        soa[2] = (uint8_t)(ixfr_serial >> 24);
        soa[3] = (uint8_t)(ixfr_serial >> 16);
        soa[4] = (uint8_t)(ixfr_serial >> 8);
        soa[5] = (uint8_t)ixfr_serial;
        assert_int_equal(dns_builder_rr(&b, DNS_SECTION_AUTHORITY, qname, DNS_TYPE_SOA, 1, 0,
                                        soa, sizeof soa), 0);
    }
    return dns_builder_finish(&b);
}

static size_t sign(uint8_t *m, size_t len, size_t cap, const char *keyname, uint8_t *mac,
                   uint16_t *mac_len)
{
    uint8_t kn[NAME_MAX_WIRE];
    const char *e;
    assert_true(name_from_text(keyname, strlen(keyname), NULL, kn, &e) > 0);
    const tsig_key_t *key = tsig_keystore_find(keys, kn);
    assert_non_null(key);
    assert_int_equal(tsig_sign_request(key, m, &len, cap, NOW, 300, mac, mac_len), 0);
    return len;
}

static struct sockaddr_in peer_at(const char *ip)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(5353) };
    inet_pton(AF_INET, ip, &sa.sin_addr);
    return sa;
}

/* One message's answer RRs: counts them, notes the first and last types. */
typedef struct stream_stats {
    unsigned messages, rrs, soas;
    uint16_t first_type, last_type;
} stream_stats_t;

static void scan_message(const uint8_t *m, size_t len, stream_stats_t *st)
{
    assert_true(len >= DNS_HEADER_LEN && len <= XFR_MESSAGE_MAX);
    assert_int_equal(be16(m), 0x1234);
    assert_true(be16(m + 2) & DNS_FLAG_QR);
    assert_int_equal(DNS_RCODE(be16(m + 2)), 0);
    unsigned qd = be16(m + 4), an = be16(m + 6);
    assert_int_equal(qd, st->messages == 0 ? 1 : 0);
    size_t pos = DNS_HEADER_LEN;
    uint8_t name[NAME_MAX_WIRE];
    for (unsigned i = 0; i < qd; i++) {
        assert_true(dns_read_name(m, len, &pos, name) > 0);
        pos += 4;
    }
    for (unsigned i = 0; i < an; i++) {
        assert_true(dns_read_name(m, len, &pos, name) > 0);
        uint16_t type = be16(m + pos);
        if (st->rrs == 0)
            st->first_type = type;
        st->last_type = type;
        st->soas += type == DNS_TYPE_SOA;
        pos += 10 + be16(m + pos + 8);
        st->rrs++;
    }
    st->messages++;
}

static void test_axfr_multi_message(void **state)
{
    (void)state;
    uint8_t q[512], resp[512];
    size_t qlen = request(q, sizeof q, "example.com.", -1, 1), rlen;
    struct sockaddr_in peer = peer_at("127.0.0.2");
    bool not_xfr;
    xfr_ctx_t c = ctx();
    xfr_cursor_t *cur = xfr_start(&c, db, q, qlen, (struct sockaddr *)&peer, NOW, resp,
                                  sizeof resp, &rlen, &not_xfr);
    assert_non_null(cur);
    static uint8_t msg[65535];
    stream_stats_t st = { 0 };
    size_t total = 0, len;
    while ((len = xfr_cursor_next(cur, msg, sizeof msg, NOW)) > 0) {
        scan_message(msg, len, &st);
        total += len;
    }
    assert_true(xfr_cursor_done(cur));
    xfr_cursor_free(cur);
    assert_true(st.messages >= 2);
    assert_int_equal(st.first_type, DNS_TYPE_SOA);
    assert_int_equal(st.last_type, DNS_TYPE_SOA);
    assert_int_equal(st.soas, 2);
    assert_int_equal(st.rrs, zone_rrs + 1);
    /* Compression: each A RR takes less than its owner written out. */
    assert_true(total < (zone_rrs + 1) * 28); /* "hostN" + a pointer: ~24 octets an RR */
}

static void test_axfr_signed_chain(void **state)
{
    (void)state;
    uint8_t q[512], resp[512], mac[TSIG_MAC_MAX];
    uint16_t mac_len;
    size_t qlen = request(q, sizeof q, "example.com.", -1, 1), rlen;
    qlen = sign(q, qlen, sizeof q, "xfr-key.", mac, &mac_len);
    struct sockaddr_in peer = peer_at("192.0.2.77"); /* only the key allows it */
    bool not_xfr;
    xfr_ctx_t c = ctx();
    for (int tamper = 0; tamper < 2; tamper++) {
        xfr_cursor_t *cur = xfr_start(&c, db, q, qlen, (struct sockaddr *)&peer, NOW, resp,
                                      sizeof resp, &rlen, &not_xfr);
        assert_non_null(cur);
        tsig_stream_t rx;
        assert_int_equal(tsig_stream_start_receiver(&rx, tsig_keystore_key(keys, 0), mac, mac_len), 0);
        static uint8_t msg[65535];
        size_t len;
        unsigned n = 0;
        enum tsig_error last = TSIG_NOERROR;
        while ((len = xfr_cursor_next(cur, msg, sizeof msg, NOW)) > 0) {
            bool was_signed = false;
            if (tamper && n == 1)
                msg[40] ^= 1;
            last = tsig_stream_verify(&rx, msg, len, NOW, &was_signed);
            if (!tamper)
                assert_true(last == TSIG_NOERROR && was_signed);
            n++;
        }
        assert_true(n >= 2);
        if (tamper)
            assert_int_equal(last, TSIG_BADSIG);
        tsig_stream_end(&rx);
        xfr_cursor_free(cur);
    }
}

/* Starts a transfer that must be refused: returns the response's rcode
 * (and whether it carries a TSIG RR in *signed_resp). */
static int refused_rcode(const uint8_t *q, size_t qlen, const char *ip, bool *signed_resp)
{
    uint8_t resp[1024];
    size_t rlen = 0;
    bool not_xfr = true;
    struct sockaddr_in peer = peer_at(ip);
    xfr_ctx_t c = ctx();
    xfr_cursor_t *cur = xfr_start(&c, db, q, qlen, (struct sockaddr *)&peer, NOW, resp,
                                  sizeof resp, &rlen, &not_xfr);
    assert_null(cur);
    assert_false(not_xfr);
    assert_true(rlen >= DNS_HEADER_LEN);
    if (signed_resp)
        *signed_resp = be16(resp + 10) == 1;
    return DNS_RCODE(be16(resp + 2));
}

static void test_refusals(void **state)
{
    (void)state;
    uint8_t q[512], mac[TSIG_MAC_MAX];
    uint16_t mac_len;
    bool sig;
    size_t qlen = request(q, sizeof q, "example.com.", -1, 1);
    assert_int_equal(refused_rcode(q, qlen, "127.0.0.1", &sig), DNS_RCODE_REFUSED);
    assert_false(sig);
    qlen = sign(q, qlen, sizeof q, "other-key.", mac, &mac_len);
    assert_int_equal(refused_rcode(q, qlen, "127.0.0.1", &sig), DNS_RCODE_REFUSED);
    assert_true(sig);
    qlen = request(q, sizeof q, "other.com.", -1, 1); /* allowed, not served */
    assert_int_equal(refused_rcode(q, qlen, "127.0.0.1", &sig), 9 /* NOTAUTH */);
    qlen = request(q, sizeof q, "example.com.", -1, 3); /* class CH */
    assert_int_equal(refused_rcode(q, qlen, "127.0.0.2", &sig), DNS_RCODE_REFUSED);
    qlen = request(q, sizeof q, "example.com.", -1, 1);
    qlen = sign(q, qlen, sizeof q, "xfr-key.", mac, &mac_len);
    q[qlen - 20] ^= 1; /* inside the MAC: BADSIG */
    assert_int_equal(refused_rcode(q, qlen, "127.0.0.2", &sig), 9 /* NOTAUTH */);
    /* IXFR without the SOA in the authority section. */
    qlen = request(q, sizeof q, "example.com.", 1, 1);
    q[9] = 0; /* NSCOUNT 0 */
    assert_int_equal(refused_rcode(q, qlen, "127.0.0.2", &sig), DNS_RCODE_FORMERR);
}

/* Runs an IXFR from 127.0.0.2 and returns the stream's stats. */
static stream_stats_t ixfr(long serial)
{
    uint8_t q[512], resp[512];
    size_t qlen = request(q, sizeof q, "example.com.", serial, 1), rlen;
    struct sockaddr_in peer = peer_at("127.0.0.2");
    bool not_xfr;
    xfr_ctx_t c = ctx();
    xfr_cursor_t *cur = xfr_start(&c, db, q, qlen, (struct sockaddr *)&peer, NOW, resp,
                                  sizeof resp, &rlen, &not_xfr);
    assert_non_null(cur);
    static uint8_t msg[65535];
    stream_stats_t st = { 0 };
    size_t len;
    while ((len = xfr_cursor_next(cur, msg, sizeof msg, NOW)) > 0)
        scan_message(msg, len, &st);
    xfr_cursor_free(cur);
    return st;
}

static void test_ixfr_kinds(void **state)
{
    (void)state;
    journal_answer = ZJ_DIFF;
    stream_stats_t st = ixfr(0);
    assert_int_equal(journal_asked, 0);
    assert_int_equal(st.rrs, 5); /* new SOA, old SOA, new SOA, + A, new SOA */
    assert_int_equal(st.soas, 4);
    assert_int_equal(st.first_type, DNS_TYPE_SOA);
    assert_int_equal(st.last_type, DNS_TYPE_SOA);
    journal_asked = 77;
    st = ixfr(1); /* up to date: the SOA alone, the journal not asked */
    assert_int_equal(st.rrs, 1);
    assert_int_equal(journal_asked, 77);
    st = ixfr(5); /* newer than ours */
    assert_int_equal(st.rrs, 1);
    st = ixfr(4294967295u); /* RFC 1982: older than 1 (wraps) */
    assert_int_equal(journal_asked, 4294967295u);
    journal_answer = ZJ_NONE; /* no difference: the whole zone */
    st = ixfr(0);
    assert_int_equal(st.rrs, zone_rrs + 1);
    assert_true(st.messages >= 2);
}

static void test_ixfr_udp(void **state)
{
    (void)state;
    uint8_t q[512], resp[DNS_EDNS_PAYLOAD];
    struct sockaddr_in peer = peer_at("127.0.0.2");
    bool not_xfr;
    xfr_ctx_t c = ctx();
    journal_answer = ZJ_DIFF;
    size_t qlen = request(q, sizeof q, "example.com.", 0, 1);
    size_t len = xfr_udp_answer(&c, db, q, qlen, (struct sockaddr *)&peer, NOW, resp,
                                sizeof resp, &not_xfr);
    assert_false(not_xfr);
    assert_int_equal(be16(resp + 6), 5);
    journal_answer = ZJ_NONE; /* the whole zone does not fit: the SOA alone */
    len = xfr_udp_answer(&c, db, q, qlen, (struct sockaddr *)&peer, NOW, resp, sizeof resp,
                         &not_xfr);
    assert_true(len > 0 && len <= 512);
    assert_int_equal(be16(resp + 6), 1);
    qlen = request(q, sizeof q, "example.com.", -1, 1); /* AXFR over UDP: not ours */
    assert_int_equal(xfr_udp_answer(&c, db, q, qlen, (struct sockaddr *)&peer, NOW, resp,
                                    sizeof resp, &not_xfr), 0);
    assert_true(not_xfr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_axfr_multi_message),
        cmocka_unit_test(test_axfr_signed_chain),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_ixfr_kinds),
        cmocka_unit_test(test_ixfr_udp),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
