/* tests/unit/test_common_config_acl.c — the YAML `acl:` list
 * (common/config_acl.c) and -dns.update.timeout: good rules (lists and
 * single strings), and every shape error: not a list, a rule that is not a
 * mapping, unknown keys, unknown actions, missing zones/actions, repeated
 * keys, non-string values, `acl` given twice. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/config.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

static void write_yaml(char path[64], const char *text)
{
    strcpy(path, "/tmp/dnsraft-acl-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static enum config_result load_yaml(const char *text, config_t *cfg, char err[CONFIG_ERR_MAX])
{
    char path[64];
    write_yaml(path, text);
    char *argv[] = { "dns-raft", "-id", "id0", "-config", path };
    enum config_result r = config_load(cfg, ARGC(argv), argv, err);
    unlink(path);
    return r;
}

static void expect_error(const char *text, const char *why)
{
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    assert_int_equal(load_yaml(text, &cfg, err), CONFIG_ERROR);
    if (strstr(err, why) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", err, why);
    config_free(&cfg);
}

static void test_good_rules(void **state)
{
    (void)state;
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    const char *text =
        "dns.update.timeout: 2500\n"
        "acl:\n"
        "  - zones: [foo.com., bar.com.]\n"
        "    actions: [update, notify]\n"
        "    key: update-key\n"
        "    address: 127.0.0.0/8\n"
        "  - zones: \"*\"\n"
        "    actions: transfer\n"
        "log.level: warn\n";
    assert_int_equal(load_yaml(text, &cfg, err), CONFIG_OK);
    assert_int_equal(cfg.dns_update_timeout_ms, 2500);
    assert_int_equal(cfg.acl_rule_count, 2);
    const config_acl_rule_t *r = &cfg.acl_rules[0];
    assert_int_equal(r->zone_count, 2);
    assert_string_equal(r->zones[0], "foo.com.");
    assert_string_equal(r->zones[1], "bar.com.");
    assert_int_equal(r->actions, CONFIG_ACL_UPDATE | CONFIG_ACL_NOTIFY);
    assert_string_equal(r->key, "update-key");
    assert_string_equal(r->address, "127.0.0.0/8");
    assert_int_equal(r->line, 3);
    r = &cfg.acl_rules[1];
    assert_int_equal(r->zone_count, 1);
    assert_string_equal(r->zones[0], "*");
    assert_int_equal(r->actions, CONFIG_ACL_TRANSFER);
    assert_null(r->key);
    assert_null(r->address);
    config_free(&cfg);
}

static void test_timeout_flag(void **state)
{
    (void)state;
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    char *argv[] = { "dns-raft", "-id", "id0", "-dns.update.timeout", "700" };
    assert_int_equal(config_load(&cfg, ARGC(argv), argv, err), CONFIG_OK);
    assert_int_equal(cfg.dns_update_timeout_ms, 700);
    assert_int_equal(cfg.acl_rule_count, 0);
    config_free(&cfg);
    char *bad[] = { "dns-raft", "-id", "id0", "-dns.update.timeout", "0" };
    assert_int_equal(config_load(&cfg, ARGC(bad), bad, err), CONFIG_ERROR);
    assert_non_null(strstr(err, "dns.update.timeout"));
    config_free(&cfg);
}

static void test_bad_rules(void **state)
{
    (void)state;
    expect_error("acl: foo\n", "expected a list of rules");
    expect_error("acl:\n  - foo\n", "each rule is a mapping");
    expect_error("acl:\n  - zones: [a.]\n    actions: [update]\n    colour: red\n", "unknown key \"colour\"");
    expect_error("acl:\n  - zones: [a.]\n    actions: [update, delete]\n", "unknown action \"delete\"");
    expect_error("acl:\n  - actions: [update]\n", "needs zones");
    expect_error("acl:\n  - zones: [a.]\n", "needs actions");
    expect_error("acl:\n  - zones: []\n    actions: [update]\n", "needs zones");
    expect_error("acl:\n  - zones: [a.]\n    zones: [b.]\n    actions: [update]\n", "given twice");
    expect_error("acl:\n  - zones: [a.]\n    actions: [update]\n    key: [k]\n", "expected a string");
    expect_error("acl:\n  - zones: [[a.]]\n    actions: [update]\n", "list items must be strings");
    expect_error("acl:\n  - zones: [\"\"]\n    actions: [update]\n", "empty value");
    expect_error("acl: []\nacl: []\n", "\"acl\" given twice");
    expect_error("acl:\n  - zones: [a.]\n    actions: [update]\n  - 3\n", ":4: acl: each rule");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_rules),
        cmocka_unit_test(test_timeout_flag),
        cmocka_unit_test(test_bad_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
