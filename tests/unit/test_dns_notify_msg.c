/* tests/unit/test_dns_notify_msg.c — NOTIFY messages and targets
 * (dns/notify_msg.c, dns/notify_conf.c): the request is opcode NOTIFY
 * with AA, the zone's SOA question and the SOA in the answer section
 * (RFC 1996 §3.7), and signs with TSIG; responses are taken only with
 * QR=1, opcode NOTIFY and at most one well-formed question; target
 * addresses and `notify:` rules are checked at start. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "dns/notify.h"
#include "dns/notify_msg.h"
#include "dns/tsig.h"
#include "dns/wire.h"

static const uint8_t ZONE[] = "\7example\3com";
/* SOA: ns1.example.com. host.example.com. 2024010101 3600 600 604800 60 */
static const uint8_t SOA[] = "\3ns1\7example\3com\0\4host\7example\3com\0"
                             "\x78\xa3\xf1\x75\0\0\x0e\x10\0\0\x02\x58\0\x09\x3a\x80\0\0\0\x3c";
#define SOA_LEN (sizeof SOA - 1)

static uint16_t get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static void test_request_layout(void **state)
{
    (void)state;
    uint8_t buf[NOTIFY_MSG_MAX];
    size_t len = notify_msg_build(buf, sizeof buf, 0xbeef, ZONE, 3600, SOA, SOA_LEN);
    assert_true(len > DNS_HEADER_LEN);
    assert_int_equal(get16(buf), 0xbeef);
    uint16_t flags = get16(buf + 2);
    assert_int_equal(DNS_OPCODE(flags), DNS_OPCODE_NOTIFY);
    assert_true(flags & DNS_FLAG_AA);
    assert_false(flags & DNS_FLAG_QR);
    assert_int_equal(get16(buf + 4), 1); /* QD */
    assert_int_equal(get16(buf + 6), 1); /* AN: the SOA */
    assert_int_equal(get16(buf + 8), 0);
    assert_int_equal(get16(buf + 10), 0);
    size_t pos = DNS_HEADER_LEN;
    uint8_t name[NAME_MAX_WIRE];
    assert_true(dns_read_name(buf, len, &pos, name) > 0);
    assert_true(name_equal(name, ZONE));
    assert_int_equal(get16(buf + pos), DNS_TYPE_SOA);
    assert_int_equal(get16(buf + pos + 2), DNS_CLASS_IN);
    pos += 4;
    assert_true(dns_read_name(buf, len, &pos, name) > 0); /* owner, compressed */
    assert_int_equal(get16(buf + pos), DNS_TYPE_SOA);
    assert_int_equal(get16(buf + pos + 4) << 16 | get16(buf + pos + 6), 3600);
    /* The serial is the rdata's third field: find it from the end. */
    assert_int_equal(get16(buf + len - 20) << 16 | get16(buf + len - 18), 2024010101u);
    /* Too small a buffer: 0, never a partial message. */
    assert_int_equal(notify_msg_build(buf, 20, 1, ZONE, 1, SOA, SOA_LEN), 0);
}

static void test_request_signs(void **state)
{
    (void)state;
    static const char keys[] = "key \"xfr-key\" { algorithm hmac-sha256; "
                               "secret \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"; };\n";
    char err[TSIG_ERR_MAX];
    tsig_keystore_t *ks = tsig_keystore_new();
    assert_int_equal(tsig_keystore_load_text(ks, keys, strlen(keys), "t", err), 0);
    uint8_t buf[NOTIFY_MSG_MAX];
    size_t len = notify_msg_build(buf, sizeof buf, 7, ZONE, 60, SOA, SOA_LEN);
    uint8_t mac[TSIG_MAC_MAX];
    uint16_t mac_len = 0;
    assert_int_equal(tsig_sign_request(tsig_keystore_key(ks, 0), buf, &len, sizeof buf,
                                       1700000000, 300, mac, &mac_len), 0);
    tsig_request_t req;
    assert_int_equal(tsig_verify_request(ks, buf, len, 1700000000, &req), TSIG_VALID);
    tsig_keystore_free(ks);
}

static size_t response(uint8_t *buf, uint16_t flags, uint16_t qd)
{
    memset(buf, 0, 64);
    buf[0] = 0x12, buf[1] = 0x34;
    buf[2] = (uint8_t)(flags >> 8), buf[3] = (uint8_t)flags;
    buf[5] = (uint8_t)qd;
    size_t len = DNS_HEADER_LEN;
    for (uint16_t i = 0; i < qd; i++) {
        memcpy(buf + len, ZONE, sizeof ZONE);
        len += sizeof ZONE;
        buf[len + 1] = DNS_TYPE_SOA, buf[len + 3] = 1;
        len += 4;
    }
    return len;
}

static void test_response_checks(void **state)
{
    (void)state;
    uint8_t buf[128];
    notify_response_t r;
    const char *why = NULL;
    uint16_t ok_flags = DNS_FLAG_QR | DNS_FLAG_AA | DNS_OPCODE_NOTIFY << 11;
    size_t len = response(buf, ok_flags, 1);
    assert_true(notify_msg_parse_response(buf, len, &r, &why));
    assert_int_equal(r.id, 0x1234);
    assert_int_equal(r.rcode, 0);
    assert_true(r.has_question);
    assert_true(name_equal(r.zone, ZONE));
    /* No question (some servers answer errors so): taken, matched by id. */
    len = response(buf, ok_flags | DNS_RCODE_REFUSED, 0);
    assert_true(notify_msg_parse_response(buf, len, &r, &why));
    assert_int_equal(r.rcode, DNS_RCODE_REFUSED);
    assert_false(r.has_question);
    len = response(buf, DNS_OPCODE_NOTIFY << 11, 1);
    assert_false(notify_msg_parse_response(buf, len, &r, &why));
    assert_string_equal(why, "not a response (QR=0)");
    len = response(buf, DNS_FLAG_QR, 1);
    assert_false(notify_msg_parse_response(buf, len, &r, &why));
    assert_string_equal(why, "not opcode NOTIFY");
    len = response(buf, ok_flags, 2);
    assert_false(notify_msg_parse_response(buf, len, &r, &why));
    len = response(buf, ok_flags, 1);
    assert_false(notify_msg_parse_response(buf, len - 1, &r, &why)); /* type/class cut */
    assert_false(notify_msg_parse_response(buf, 11, &r, &why));
    buf[DNS_HEADER_LEN] = 0xc0, buf[DNS_HEADER_LEN + 1] = DNS_HEADER_LEN; /* self pointer */
    assert_false(notify_msg_parse_response(buf, len, &r, &why));
    assert_string_equal(why, "malformed question");
}

static void test_targets(void **state)
{
    (void)state;
    struct sockaddr_storage ss;
    socklen_t len;
    char err[NOTIFY_ERR_MAX];
    assert_int_equal(notify_parse_target("192.0.2.10:5300", &ss, &len, err), 0);
    assert_int_equal(ss.ss_family, AF_INET);
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 5300);
    assert_int_equal(notify_parse_target("192.0.2.10", &ss, &len, err), 0);
    assert_int_equal(ntohs(((struct sockaddr_in *)&ss)->sin_port), 53);
    assert_int_equal(notify_parse_target("[2001:db8::10]:53", &ss, &len, err), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(notify_parse_target("2001:db8::10", &ss, &len, err), 0);
    assert_int_equal(ntohs(((struct sockaddr_in6 *)&ss)->sin6_port), 53);
    static const char *const bad[] = {
        "", "ns1.example.net:53", "192.0.2.10:0", "192.0.2.10:65536", "192.0.2.10:",
        "192.0.2.10:5x", "[2001:db8::10]:", "[2001:db8::10", "[192.0.2.1]:53", "1.2.3:53",
        "[2001:db8::10]x53",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (notify_parse_target(bad[i], &ss, &len, err) == 0)
            fail_msg("target \"%s\" accepted", bad[i]);
}

static void test_rules(void **state)
{
    (void)state;
    static const char keys[] = "key \"xfr-key\" { algorithm hmac-sha256; "
                               "secret \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"; };\n";
    char err[NOTIFY_ERR_MAX];
    tsig_keystore_t *ks = tsig_keystore_new();
    assert_int_equal(tsig_keystore_load_text(ks, keys, strlen(keys), "t", err), 0);
    notify_conf_t c = { 0 };
    const char *zones[] = { "Example.COM.", "example.net." };
    const char *t1[] = { "192.0.2.1:53", "[::1]:5353" };
    const char *t2[] = { "192.0.2.2:53" };
    assert_int_equal(notify_conf_add_rule(&c, zones, 2, t1, 2, NULL, ks, err), 0);
    assert_int_equal(notify_conf_add_rule(&c, zones, 1, t2, 1, "xfr-key", ks, err), 0);
    assert_int_equal(c.n_zones, 2);
    assert_int_equal(c.zones[0].n_targets, 3); /* the same zone: merged */
    assert_memory_equal(c.zones[0].name, "\7example\3com", 13); /* lowercased */
    assert_null(c.zones[0].targets[0].key);
    assert_non_null(c.zones[0].targets[2].key);
    assert_int_equal(notify_conf_target_count(&c), 5);
    assert_int_equal(notify_conf_add_rule(&c, zones, 1, t2, 1, NULL, ks, err), -1);
    assert_non_null(strstr(err, "given twice"));
    assert_int_equal(notify_conf_add_rule(&c, zones, 1, t2, 1, "nokey", ks, err), -1);
    assert_non_null(strstr(err, "not in any tsig.keyfile"));
    const char *star[] = { "*" };
    assert_int_equal(notify_conf_add_rule(&c, star, 1, t2, 1, NULL, ks, err), -1);
    const char *badzone[] = { "a..b." };
    assert_int_equal(notify_conf_add_rule(&c, badzone, 1, t2, 1, NULL, ks, err), -1);
    notify_conf_free(&c);
    tsig_keystore_free(ks);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_layout),
        cmocka_unit_test(test_request_signs),
        cmocka_unit_test(test_response_checks),
        cmocka_unit_test(test_targets),
        cmocka_unit_test(test_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
