/* tests/unit/test_dns_acl.c — dns/acl.c: rule building (bad names,
 * prefixes, unknown keys refused) and matching: IPv4, IPv6, IPv4-mapped
 * IPv6 sources and prefixes, key only, address only, both, "*", actions,
 * and the default (no rule: nothing allowed). */
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

static const char KEYS[] =
    "key \"update-key\" { algorithm hmac-sha256; secret \"c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0\"; };\n"
    "key \"other-key\" { algorithm hmac-sha256; secret \"b3RoZXJvdGhlcm90aGVyb3RoZXI=\"; };\n";

static const uint8_t FOO[] = "\3foo\3com";      /* + implicit NUL: foo.com. */
static const uint8_t FOO_UPPER[] = "\3FOO\3com";
static const uint8_t BAR[] = "\3bar\3com";
static const uint8_t UPDATE_KEY[] = "\12update-key";
static const uint8_t OTHER_KEY[] = "\11other-key";

static tsig_keystore_t *keys(void)
{
    tsig_keystore_t *ks = tsig_keystore_new();
    char err[TSIG_ERR_MAX];
    assert_int_equal(tsig_keystore_load_text(ks, KEYS, sizeof KEYS - 1, "test", err), 0);
    return ks;
}

static struct sockaddr_storage v4(const char *a)
{
    struct sockaddr_storage ss = { 0 };
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, a, &in->sin_addr), 1);
    return ss;
}

static struct sockaddr_storage v6(const char *a)
{
    struct sockaddr_storage ss = { 0 };
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    in6->sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, a, &in6->sin6_addr), 1);
    return ss;
}

#define SA(x) ((const struct sockaddr *)&(x))

static acl_t *one_rule(const char *zone, unsigned actions, const char *key, const char *addr,
                       tsig_keystore_t *ks)
{
    acl_t *acl = acl_new();
    char err[ACL_ERR_MAX];
    const char *zones[] = { zone };
    assert_int_equal(acl_add_rule(acl, zones, 1, actions, key, addr, ks, err), 0);
    return acl;
}

static void test_no_rule_allows_nothing(void **state)
{
    (void)state;
    acl_t *acl = acl_new();
    struct sockaddr_storage a = v4("127.0.0.1");
    assert_false(acl_allows(acl, ACL_UPDATE, FOO, NULL, SA(a)));
    assert_false(acl_allows(NULL, ACL_UPDATE, FOO, NULL, SA(a)));
    acl_free(acl);
}

static void test_v4_prefix(void **state)
{
    (void)state;
    acl_t *acl = one_rule("foo.com.", ACL_UPDATE, NULL, "127.0.0.0/8", NULL);
    struct sockaddr_storage in = v4("127.1.2.3"), out = v4("128.0.0.1"), v6in = v6("::1");
    assert_true(acl_allows(acl, ACL_UPDATE, FOO, NULL, SA(in)));
    assert_true(acl_allows(acl, ACL_UPDATE, FOO_UPPER, NULL, SA(in))); /* case-insensitive */
    assert_false(acl_allows(acl, ACL_UPDATE, FOO, NULL, SA(out)));
    assert_false(acl_allows(acl, ACL_UPDATE, FOO, NULL, SA(v6in)));
    assert_false(acl_allows(acl, ACL_UPDATE, BAR, NULL, SA(in)));      /* other zone */
    assert_false(acl_allows(acl, ACL_TRANSFER, FOO, NULL, SA(in)));    /* other action */
    assert_false(acl_allows(acl, ACL_UPDATE, FOO, NULL, NULL));        /* unknown source */
    acl_free(acl);
}

static void test_v4_odd_prefix_and_host(void **state)
{
    (void)state;
    acl_t *acl = one_rule("foo.com", ACL_UPDATE, NULL, "10.0.0.0/9", NULL);
    struct sockaddr_storage in = v4("10.127.255.255"), out = v4("10.128.0.0");
    assert_true(acl_allows(acl, ACL_UPDATE, FOO, NULL, SA(in)));
    assert_false(acl_allows(acl, ACL_UPDATE, FOO, NULL, SA(out)));
    acl_free(acl);
    acl = one_rule("foo.com.", ACL_UPDATE, NULL, "192.0.2.7", NULL); /* a host: /32 */
    struct sockaddr_storage host = v4("192.0.2.7"), next = v4("192.0.2.8");
    assert_true(acl_allows(acl, ACL_UPDATE, FOO, NULL, SA(host)));
    assert_false(acl_allows(acl, ACL_UPDATE, FOO, NULL, SA(next)));
    acl_free(acl);
}

static void test_v6_prefix(void **state)
{
    (void)state;
    acl_t *acl = one_rule("foo.com.", ACL_UPDATE, NULL, "2001:db8::/32", NULL);
    struct sockaddr_storage in = v6("2001:db8:1::5"), out = v6("2001:db9::1"), four = v4("32.1.13.184");
    assert_true(acl_allows(acl, ACL_UPDATE, FOO, NULL, SA(in)));
    assert_false(acl_allows(acl, ACL_UPDATE, FOO, NULL, SA(out)));
    assert_false(acl_allows(acl, ACL_UPDATE, FOO, NULL, SA(four)));
    acl_free(acl);
}

static void test_v4_mapped(void **state)
{
    (void)state;
    acl_t *acl = one_rule("foo.com.", ACL_UPDATE, NULL, "127.0.0.0/8", NULL);
    struct sockaddr_storage mapped = v6("::ffff:127.0.0.1"), other = v6("::ffff:10.0.0.1");
    assert_true(acl_allows(acl, ACL_UPDATE, FOO, NULL, SA(mapped)));
    assert_false(acl_allows(acl, ACL_UPDATE, FOO, NULL, SA(other)));
    acl_free(acl);
    /* A mapped prefix is the IPv4 prefix: it matches plain IPv4 sources. */
    acl = one_rule("foo.com.", ACL_UPDATE, NULL, "::ffff:127.0.0.0/104", NULL);
    struct sockaddr_storage plain = v4("127.9.9.9");
    assert_true(acl_allows(acl, ACL_UPDATE, FOO, NULL, SA(plain)));
    assert_true(acl_allows(acl, ACL_UPDATE, FOO, NULL, SA(mapped)));
    acl_free(acl);
}

static void test_key_only(void **state)
{
    (void)state;
    tsig_keystore_t *ks = keys();
    acl_t *acl = one_rule("foo.com.", ACL_UPDATE, "update-key", NULL, ks);
    struct sockaddr_storage a = v4("198.51.100.1");
    assert_true(acl_allows(acl, ACL_UPDATE, FOO, UPDATE_KEY, SA(a)));
    assert_true(acl_allows(acl, ACL_UPDATE, FOO, UPDATE_KEY, NULL));
    assert_false(acl_allows(acl, ACL_UPDATE, FOO, OTHER_KEY, SA(a)));
    assert_false(acl_allows(acl, ACL_UPDATE, FOO, NULL, SA(a)));       /* unsigned */
    acl_free(acl);
    tsig_keystore_free(ks);
}

static void test_key_and_address(void **state)
{
    (void)state;
    tsig_keystore_t *ks = keys();
    acl_t *acl = one_rule("foo.com.", ACL_UPDATE, "update-key", "127.0.0.0/8", ks);
    struct sockaddr_storage in = v4("127.0.0.1"), out = v4("10.0.0.1");
    assert_true(acl_allows(acl, ACL_UPDATE, FOO, UPDATE_KEY, SA(in)));
    assert_false(acl_allows(acl, ACL_UPDATE, FOO, UPDATE_KEY, SA(out))); /* key, wrong place */
    assert_false(acl_allows(acl, ACL_UPDATE, FOO, NULL, SA(in)));        /* place, no key */
    assert_false(acl_allows(acl, ACL_UPDATE, FOO, OTHER_KEY, SA(in)));
    acl_free(acl);
    tsig_keystore_free(ks);
}

static void test_any_zone_and_several_rules(void **state)
{
    (void)state;
    tsig_keystore_t *ks = keys();
    acl_t *acl = acl_new();
    char err[ACL_ERR_MAX];
    const char *star[] = { "*" };
    const char *two[] = { "foo.com.", "bar.com." };
    assert_int_equal(acl_add_rule(acl, star, 1, ACL_TRANSFER, NULL, NULL, ks, err), 0);
    assert_int_equal(acl_add_rule(acl, two, 2, ACL_UPDATE | ACL_NOTIFY, "other-key", NULL, ks, err), 0);
    assert_int_equal(acl_rule_count(acl), 2);
    struct sockaddr_storage a = v4("203.0.113.9");
    assert_true(acl_allows(acl, ACL_TRANSFER, (const uint8_t *)"\3any\4zone", NULL, SA(a)));
    assert_false(acl_allows(acl, ACL_UPDATE, (const uint8_t *)"\3any\4zone", OTHER_KEY, SA(a)));
    assert_true(acl_allows(acl, ACL_UPDATE, BAR, OTHER_KEY, SA(a)));
    assert_true(acl_allows(acl, ACL_NOTIFY, FOO, OTHER_KEY, SA(a)));
    assert_false(acl_allows(acl, ACL_UPDATE, FOO, UPDATE_KEY, SA(a)));
    acl_free(acl);
    tsig_keystore_free(ks);
}

static void expect_refused(const char *zone, unsigned actions, const char *key, const char *addr,
                           const char *why_part)
{
    tsig_keystore_t *ks = keys();
    acl_t *acl = acl_new();
    char err[ACL_ERR_MAX] = "";
    const char *zones[] = { zone };
    assert_int_equal(acl_add_rule(acl, zones, 1, actions, key, addr, ks, err), -1);
    if (strstr(err, why_part) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", err, why_part);
    assert_int_equal(acl_rule_count(acl), 0);
    acl_free(acl);
    tsig_keystore_free(ks);
}

static void test_bad_rules(void **state)
{
    (void)state;
    expect_refused("foo.com.", ACL_UPDATE, "no-such-key", NULL, "no such TSIG key");
    expect_refused("foo.com.", ACL_UPDATE, NULL, "127.0.0.0/33", "prefix length");
    expect_refused("foo.com.", ACL_UPDATE, NULL, "127.0.0.1/8", "bits set beyond");
    expect_refused("foo.com.", ACL_UPDATE, NULL, "not-an-address", "not an IPv4");
    expect_refused("foo.com.", ACL_UPDATE, NULL, "::1/129", "prefix length");
    expect_refused("foo.com.", ACL_UPDATE, NULL, "10.0.0.0/", "prefix length");
    expect_refused("foo.com.", ACL_UPDATE, NULL, "10.0.0.0/-1", "prefix length");
    expect_refused("foo..com.", ACL_UPDATE, NULL, NULL, "zone");
    expect_refused("", ACL_UPDATE, NULL, NULL, "empty");
    expect_refused("foo.com.", 0, NULL, NULL, "actions");
    expect_refused("foo.com.", 64, NULL, NULL, "actions");
    assert_int_equal(acl_action_from_name("update"), ACL_UPDATE);
    assert_int_equal(acl_action_from_name("transfer"), ACL_TRANSFER);
    assert_int_equal(acl_action_from_name("notify"), ACL_NOTIFY);
    assert_int_equal(acl_action_from_name("query"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_rule_allows_nothing),
        cmocka_unit_test(test_v4_prefix),
        cmocka_unit_test(test_v4_odd_prefix_and_host),
        cmocka_unit_test(test_v6_prefix),
        cmocka_unit_test(test_v4_mapped),
        cmocka_unit_test(test_key_only),
        cmocka_unit_test(test_key_and_address),
        cmocka_unit_test(test_any_zone_and_several_rules),
        cmocka_unit_test(test_bad_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
