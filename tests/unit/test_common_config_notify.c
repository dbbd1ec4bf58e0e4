/* tests/unit/test_common_config_notify.c — the YAML `notify:` list
 * (common/config_notify.c) and the -notify.retry / -notify.retries flags:
 * good rules (lists and single strings), and every shape error: not a
 * list, a rule that is not a mapping, unknown keys, missing zones or
 * targets, repeated keys, non-string values, `notify` given twice. */
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

static enum config_result load_yaml(const char *text, config_t *cfg, char err[CONFIG_ERR_MAX])
{
    char path[64];
    strcpy(path, "/tmp/dnsraft-notify-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
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
        "notify.retry: 500\n"
        "notify.retries: 7\n"
        "notify:\n"
        "  - zones: [foo.com., bar.com.]\n"
        "    targets: [\"192.0.2.10:53\", \"[2001:db8::10]:53\"]\n"
        "    key: xfr-key\n"
        "  - zones: baz.com.\n"
        "    targets: 127.0.0.1:5300\n";
    assert_int_equal(load_yaml(text, &cfg, err), CONFIG_OK);
    assert_int_equal(cfg.notify_retry_ms, 500);
    assert_int_equal(cfg.notify_retries, 7);
    assert_int_equal(cfg.notify_rule_count, 2);
    const config_notify_rule_t *r = &cfg.notify_rules[0];
    assert_int_equal(r->zone_count, 2);
    assert_string_equal(r->zones[1], "bar.com.");
    assert_int_equal(r->target_count, 2);
    assert_string_equal(r->targets[1], "[2001:db8::10]:53");
    assert_string_equal(r->key, "xfr-key");
    assert_int_equal(r->line, 4);
    r = &cfg.notify_rules[1];
    assert_int_equal(r->zone_count, 1);
    assert_string_equal(r->targets[0], "127.0.0.1:5300");
    assert_null(r->key);
    config_free(&cfg);
}

static void test_flags(void **state)
{
    (void)state;
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    char *argv[] = { "dns-raft", "-id", "id0", "-notify.retry", "9" };
    assert_int_equal(config_load(&cfg, ARGC(argv), argv, err), CONFIG_ERROR);
    config_free(&cfg);
    char *argv2[] = { "dns-raft", "-id", "id0", "-notify.retries", "101" };
    assert_int_equal(config_load(&cfg, ARGC(argv2), argv2, err), CONFIG_ERROR);
    config_free(&cfg);
    char *argv3[] = { "dns-raft", "-id", "id0", "-notify.retry", "10", "-notify.retries", "1" };
    assert_int_equal(config_load(&cfg, ARGC(argv3), argv3, err), CONFIG_OK);
    assert_int_equal(cfg.notify_retry_ms, 10);
    assert_int_equal(cfg.notify_retries, 1);
    config_free(&cfg);
}

static void test_bad_rules(void **state)
{
    (void)state;
    expect_error("notify: foo\n", "expected a list of rules");
    expect_error("notify:\n  - foo\n", "each rule is a mapping");
    expect_error("notify:\n  - zones: [a.]\n    targets: [x]\n    port: 5\n", "unknown key \"port\"");
    expect_error("notify:\n  - targets: [x]\n", "needs zones");
    expect_error("notify:\n  - zones: [a.]\n", "needs targets");
    expect_error("notify:\n  - zones: [a.]\n    targets: []\n", "needs targets");
    expect_error("notify:\n  - zones: [a.]\n    zones: [b.]\n    targets: [x]\n", "given twice");
    expect_error("notify:\n  - zones: [a.]\n    targets: [x]\n    key: [k]\n", "expected a string");
    expect_error("notify:\n  - zones: [[a.]]\n    targets: [x]\n", "list items must be strings");
    expect_error("notify:\n  - zones: [a.]\n    targets: [\"\"]\n", "empty value");
    expect_error("notify: []\nnotify: []\n", "\"notify\" given twice");
    expect_error("notify:\n  - zones: [a.]\n    targets: [x]\n  - 3\n", ":4: notify: each rule");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_rules),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_bad_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
