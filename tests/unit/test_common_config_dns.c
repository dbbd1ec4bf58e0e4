/* tests/unit/test_common_config_dns.c — the DNS TCP limit and response
 * rate limiting settings of common/config.c (-dns.tcp.*, -dns.rrl.*): their
 * defaults, flags, YAML keys, and out-of-range values refused with the
 * key's name. (In a file of its own so the other settings' tests stay
 * untouched.) */
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

static void test_defaults(void **state)
{
    (void)state;
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    char *argv[] = { "dns-raft", "-id", "id0" };
    assert_int_equal(config_load(&cfg, ARGC(argv), argv, err), CONFIG_OK);
    assert_int_equal(cfg.dns_rrl_rate, 0); /* off */
    assert_int_equal(cfg.dns_rrl_slip, 2);
    assert_int_equal(cfg.dns_tcp_max_conns, 0); /* 0: the server's default */
    assert_int_equal(cfg.dns_tcp_idle_ms, 0);
    assert_int_equal(cfg.dns_tcp_message_ms, 0);
    assert_int_equal(cfg.dns_tcp_buffer_mib, 0);
    config_free(&cfg);
}

static void test_flags(void **state)
{
    (void)state;
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    char *argv[] = { "dns-raft", "-id", "id0", "-dns.tcp.max.conns", "1000",
                     "-dns.tcp.idle.timeout=5000", "--dns.tcp.message.timeout", "700",
                     "-dns.tcp.buffer.mib", "64", "-dns.rrl.rate", "20", "-dns.rrl.slip", "0",
                     "-dns.rrl.ipv4.prefix", "32", "-dns.rrl.ipv6.prefix", "48",
                     "-dns.rrl.table.size", "1024" };
    assert_int_equal(config_load(&cfg, ARGC(argv), argv, err), CONFIG_OK);
    assert_int_equal(cfg.dns_tcp_max_conns, 1000);
    assert_int_equal(cfg.dns_tcp_idle_ms, 5000);
    assert_int_equal(cfg.dns_tcp_message_ms, 700);
    assert_int_equal(cfg.dns_tcp_buffer_mib, 64);
    assert_int_equal(cfg.dns_rrl_rate, 20);
    assert_int_equal(cfg.dns_rrl_slip, 0);
    assert_int_equal(cfg.dns_rrl_ipv4_prefix, 32);
    assert_int_equal(cfg.dns_rrl_ipv6_prefix, 48);
    assert_int_equal(cfg.dns_rrl_table_size, 1024);
    config_free(&cfg);
}

static void test_yaml_and_flags_win(void **state)
{
    (void)state;
    char path[] = "/tmp/dnsraft-config-dns-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "id: id0\ndns.rrl.rate: 15\ndns.rrl.slip: 3\ndns.tcp.max.conns: 64\n"
                       "dns.tcp.message.timeout: 1500\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    char *argv[] = { "dns-raft", "-config", path, "-dns.rrl.rate", "30" };
    assert_int_equal(config_load(&cfg, ARGC(argv), argv, err), CONFIG_OK);
    assert_int_equal(cfg.dns_rrl_rate, 30); /* the flag wins */
    assert_int_equal(cfg.dns_rrl_slip, 3);
    assert_int_equal(cfg.dns_tcp_max_conns, 64);
    assert_int_equal(cfg.dns_tcp_message_ms, 1500);
    config_free(&cfg);
    unlink(path);
}

static void expect_error(const char *flag, const char *value, const char *why)
{
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    char *argv[] = { "dns-raft", "-id", "id0", (char *)flag, (char *)value };
    assert_int_equal(config_load(&cfg, ARGC(argv), argv, err), CONFIG_ERROR);
    if (strstr(err, why) == NULL)
        fail_msg("%s %s: error \"%s\" does not mention \"%s\"", flag, value, err, why);
    config_free(&cfg);
}

static void test_bad_values(void **state)
{
    (void)state;
    expect_error("-dns.tcp.max.conns", "0", "dns.tcp.max.conns: \"0\" is not a number from 1 to 65536");
    expect_error("-dns.tcp.max.conns", "65537", "dns.tcp.max.conns");
    expect_error("-dns.tcp.idle.timeout", "99", "dns.tcp.idle.timeout");
    expect_error("-dns.tcp.message.timeout", "1s", "dns.tcp.message.timeout");
    expect_error("-dns.tcp.buffer.mib", "0", "dns.tcp.buffer.mib");
    expect_error("-dns.rrl.rate", "-1", "dns.rrl.rate");
    expect_error("-dns.rrl.rate", "1000001", "dns.rrl.rate");
    expect_error("-dns.rrl.rate", "99999999999999999999", "dns.rrl.rate");
    expect_error("-dns.rrl.slip", "101", "dns.rrl.slip");
    expect_error("-dns.rrl.ipv4.prefix", "33", "dns.rrl.ipv4.prefix");
    expect_error("-dns.rrl.ipv4.prefix", "0", "dns.rrl.ipv4.prefix");
    expect_error("-dns.rrl.ipv6.prefix", "129", "dns.rrl.ipv6.prefix");
    expect_error("-dns.rrl.table.size", "1", "dns.rrl.table.size");
    expect_error("-dns.rrl.table.size", "", "dns.rrl.table.size");
}

/* -dns.stale.policy and -dns.stale.max (kv/readiness.h). */
static void test_stale_policy(void **state)
{
    (void)state;
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    char *plain[] = { "dns-raft", "-id", "id0" };
    assert_int_equal(config_load(&cfg, ARGC(plain), plain, err), CONFIG_OK);
    assert_int_equal(cfg.dns_stale_policy, 0); /* serve */
    assert_int_equal(cfg.dns_stale_max_s, 60);
    config_free(&cfg);
    char *argv[] = { "dns-raft", "-id", "id0", "-dns.stale.policy", "servfail",
                     "-dns.stale.max=30" };
    assert_int_equal(config_load(&cfg, ARGC(argv), argv, err), CONFIG_OK);
    assert_int_equal(cfg.dns_stale_policy, 1);
    assert_int_equal(cfg.dns_stale_max_s, 30);
    config_free(&cfg);
    char path[] = "/tmp/dnsraft-config-stale-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "id: id0\ndns.stale.policy: servfail\ndns.stale.max: 300\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    char *yaml[] = { "dns-raft", "-config", path, "-dns.stale.policy", "serve" };
    assert_int_equal(config_load(&cfg, ARGC(yaml), yaml, err), CONFIG_OK);
    assert_int_equal(cfg.dns_stale_policy, 0); /* the flag wins */
    assert_int_equal(cfg.dns_stale_max_s, 300);
    config_free(&cfg);
    unlink(path);
    expect_error("-dns.stale.policy", "refused", "dns.stale.policy: \"refused\" is not serve or servfail");
    expect_error("-dns.stale.policy", "", "dns.stale.policy");
    expect_error("-dns.stale.max", "0", "dns.stale.max");
    expect_error("-dns.stale.max", "2592001", "dns.stale.max");
    expect_error("-dns.stale.max", "10s", "dns.stale.max");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_yaml_and_flags_win),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_stale_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
