/* tests/unit/test_common_config.c — daemon flags (Go flag style) and the
 * YAML config file (common/config.c), plus listen-address specs
 * (common/addr.c): good inputs, bad inputs and which source wins. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/config.h"
#include "common/log.h"

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* A YAML file in /tmp, removed by the caller with unlink. */
static void write_yaml(char path[64], const char *text)
{
    strcpy(path, "/tmp/dnsraft-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t len = strlen(text);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static enum config_result load(config_t *cfg, int argc, char *const argv[], char err[CONFIG_ERR_MAX])
{
    return config_load(cfg, argc, argv, err);
}

/* Expects argv to be rejected with a message containing `why`. */
static void expect_flag_error(int argc, char *const argv[], const char *why)
{
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    assert_int_equal(load(&cfg, argc, argv, err), CONFIG_ERROR);
    if (strstr(err, why) == NULL)
        fail_msg("error \"%s\" does not mention \"%s\"", err, why);
    config_free(&cfg);
}

/* Expects a YAML file to be rejected with `why` in the message. */
static void expect_yaml_error(const char *text, const char *why)
{
    char path[64];
    write_yaml(path, text);
    char *argv[] = { "dns-raft", "-id", "id0", "-config", path };
    expect_flag_error(ARGC(argv), argv, why);
    unlink(path);
}

static void test_seed_command_line(void **state)
{
    (void)state;
    char *argv[] = { "dns-raft", "-id", "id1", "-raft.addr", ":8301", "-dns.addr", ":8601",
                     "-zone.file", "./zones/z01.txt", "-raft.join", ":8300" };
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    assert_int_equal(load(&cfg, ARGC(argv), argv, err), CONFIG_OK);
    assert_string_equal(cfg.id, "id1");
    assert_string_equal(cfg.raft_addr, ":8301");
    assert_string_equal(cfg.dns_addr, ":8601");
    assert_string_equal(cfg.raft_join, ":8300");
    assert_int_equal(cfg.zone_file_count, 1);
    assert_string_equal(cfg.zone_files[0], "./zones/z01.txt");
    assert_null(cfg.data_dir);
    assert_int_equal(cfg.log_level, LOG_INFO);
    assert_int_equal(cfg.dns_workers, 0);
    config_free(&cfg);
}

static void test_flag_forms_and_repeats(void **state)
{
    (void)state;
    char *argv[] = { "dns-raft", "--id=n-1.x", "-zone.file=a.txt", "--zone.file", "b.txt",
                     "-log.level=DEBUG", "--dns.workers", "3", "-data.dir", "/var/lib/x",
                     "-raft.heartbeat", "40", "-raft.election=300",
                     "-raft.snapshot.entries", "250", "-stop.timeout", "2500",
                     "-dns.addr", "[::1]:53", "--" };
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    assert_int_equal(load(&cfg, ARGC(argv), argv, err), CONFIG_OK);
    assert_string_equal(cfg.id, "n-1.x");
    assert_int_equal(cfg.zone_file_count, 2);
    assert_string_equal(cfg.zone_files[0], "a.txt");
    assert_string_equal(cfg.zone_files[1], "b.txt");
    assert_int_equal(cfg.log_level, LOG_DEBUG);
    assert_int_equal(cfg.dns_workers, 3);
    assert_int_equal(cfg.raft_heartbeat_ms, 40);
    assert_int_equal(cfg.raft_election_ms, 300);
    assert_int_equal(cfg.raft_snapshot_entries, 250);
    assert_int_equal(cfg.stop_timeout_ms, 2500);
    assert_string_equal(cfg.data_dir, "/var/lib/x");
    assert_string_equal(cfg.dns_addr, "[::1]:53");
    assert_string_equal(cfg.raft_addr, ":8300"); /* default */
    config_free(&cfg);
}

static void test_later_flag_wins(void **state)
{
    (void)state;
    char *argv[] = { "dns-raft", "-id", "a", "-id", "b", "-dns.addr", ":1", "-dns.addr=:2" };
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    assert_int_equal(load(&cfg, ARGC(argv), argv, err), CONFIG_OK);
    assert_string_equal(cfg.id, "b");
    assert_string_equal(cfg.dns_addr, ":2");
    config_free(&cfg);
}

static void test_help(void **state)
{
    (void)state;
    const char *forms[] = { "-h", "-help", "--help", "--h" };
    for (size_t i = 0; i < 4; i++) {
        char *argv[] = { "dns-raft", "-bogus-is-never-reached-first", NULL };
        argv[1] = (char *)forms[i];
        config_t cfg;
        char err[CONFIG_ERR_MAX];
        assert_int_equal(load(&cfg, 2, argv, err), CONFIG_HELP);
        config_free(&cfg);
    }
    char buf[16384] = { 0 };
    FILE *f = fmemopen(buf, sizeof buf - 1, "w");
    config_usage(f, "dns-raft");
    fclose(f);
    const char *flags[] = { "-id", "-raft.addr", "-dns.addr", "-zone.file", "-raft.join",
                            "-data.dir", "-config", "-log.level", "-dns.workers", "-help" };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++)
        if (strstr(buf, flags[i]) == NULL)
            fail_msg("usage does not list %s", flags[i]);
}

static void test_bad_flags(void **state)
{
    (void)state;
    char *unknown[] = { "dns-raft", "-id", "x", "-dns.adr", ":1" };
    expect_flag_error(ARGC(unknown), unknown, "unknown flag -dns.adr");
    char *missing_value[] = { "dns-raft", "-id", "x", "-zone.file" };
    expect_flag_error(ARGC(missing_value), missing_value, "-zone.file needs a value");
    char *positional[] = { "dns-raft", "-id", "x", "zones/z00.txt" };
    expect_flag_error(ARGC(positional), positional, "unexpected argument \"zones/z00.txt\"");
    char *after_dashes[] = { "dns-raft", "-id", "x", "--", "extra" };
    expect_flag_error(ARGC(after_dashes), after_dashes, "unexpected argument \"extra\"");
    char *lone_dash[] = { "dns-raft", "-" };
    expect_flag_error(ARGC(lone_dash), lone_dash, "unexpected argument");
    char *empty_name[] = { "dns-raft", "--=x" };
    expect_flag_error(ARGC(empty_name), empty_name, "unknown flag");
    char *no_id[] = { "dns-raft", "-dns.addr", ":8600" };
    expect_flag_error(ARGC(no_id), no_id, "missing -id");
    char *empty_id[] = { "dns-raft", "-id=" };
    expect_flag_error(ARGC(empty_id), empty_id, "missing -id");
    char *bad_id[] = { "dns-raft", "-id", "a b" };
    expect_flag_error(ARGC(bad_id), bad_id, "use only letters");
    char *bad_level[] = { "dns-raft", "-id", "x", "-log.level", "loud" };
    expect_flag_error(ARGC(bad_level), bad_level, "log.level: \"loud\"");
    char *bad_workers[] = { "dns-raft", "-id", "x", "-dns.workers", "-1" };
    expect_flag_error(ARGC(bad_workers), bad_workers, "dns.workers");
    char *big_workers[] = { "dns-raft", "-id", "x", "-dns.workers", "100000" };
    expect_flag_error(ARGC(big_workers), big_workers, "dns.workers");
    char *junk_workers[] = { "dns-raft", "-id", "x", "-dns.workers", "4x" };
    expect_flag_error(ARGC(junk_workers), junk_workers, "dns.workers");
    char *bad_addr[] = { "dns-raft", "-id", "x", "-dns.addr", "8600" };
    expect_flag_error(ARGC(bad_addr), bad_addr, "dns.addr: address \"8600\": missing port");
    char *bad_port[] = { "dns-raft", "-id", "x", "-raft.addr", ":65536" };
    expect_flag_error(ARGC(bad_port), bad_port, "raft.addr");
    char *bad_join[] = { "dns-raft", "-id", "x", "-raft.join", "::1:8300" };
    expect_flag_error(ARGC(bad_join), bad_join, "needs brackets");
    char *empty_zone[] = { "dns-raft", "-id", "x", "-zone.file=" };
    expect_flag_error(ARGC(empty_zone), empty_zone, "empty file name");
    char *bad_heartbeat[] = { "dns-raft", "-id", "x", "-raft.heartbeat", "5" };
    expect_flag_error(ARGC(bad_heartbeat), bad_heartbeat, "raft.heartbeat: \"5\" is not a number");
    char *junk_election[] = { "dns-raft", "-id", "x", "-raft.election", "1s" };
    expect_flag_error(ARGC(junk_election), junk_election, "raft.election: \"1s\"");
    char *short_stop[] = { "dns-raft", "-id", "x", "-stop.timeout", "5" };
    expect_flag_error(ARGC(short_stop), short_stop, "stop.timeout: \"5\" is not a number of milliseconds");
    char *no_snapshots[] = { "dns-raft", "-id", "x", "-raft.snapshot.entries", "0" };
    expect_flag_error(ARGC(no_snapshots), no_snapshots, "raft.snapshot.entries: \"0\" is not a number");
    char *junk_snapshots[] = { "dns-raft", "-id", "x", "-raft.snapshot.entries=1e4" };
    expect_flag_error(ARGC(junk_snapshots), junk_snapshots, "raft.snapshot.entries: \"1e4\"");
    char *slow_heartbeat[] = { "dns-raft", "-id", "x", "-raft.heartbeat", "200" };
    expect_flag_error(ARGC(slow_heartbeat), slow_heartbeat, "must be shorter than raft.election");
    char *no_config[] = { "dns-raft", "-id", "x", "-config", "/nonexistent/dns-raft.yaml" };
    expect_flag_error(ARGC(no_config), no_config, "cannot read config file /nonexistent/dns-raft.yaml");
}

static void test_yaml_all_keys(void **state)
{
    (void)state;
    char path[64];
    write_yaml(path, "# node settings\n"
                     "id: id7\n"
                     "raft.addr: \"127.0.0.1:9300\"\n"
                     "dns.addr: ':9600'\n"
                     "raft.join: localhost:8300\n"
                     "data.dir: /tmp/d\n"
                     "log.level: warn\n"
                     "dns.workers: 2\n"
                     "raft.snapshot.entries: 5000\n"
                     "zone.file:\n  - a.txt\n  - b.txt\n");
    char *argv[] = { "dns-raft", "-config", path };
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    assert_int_equal(load(&cfg, ARGC(argv), argv, err), CONFIG_OK);
    assert_string_equal(cfg.id, "id7");
    assert_string_equal(cfg.raft_addr, "127.0.0.1:9300");
    assert_string_equal(cfg.dns_addr, ":9600");
    assert_string_equal(cfg.raft_join, "localhost:8300");
    assert_string_equal(cfg.data_dir, "/tmp/d");
    assert_int_equal(cfg.log_level, LOG_WARN);
    assert_int_equal(cfg.dns_workers, 2);
    assert_int_equal(cfg.raft_snapshot_entries, 5000);
    assert_int_equal(cfg.zone_file_count, 2);
    assert_string_equal(cfg.zone_files[1], "b.txt");
    assert_string_equal(cfg.config_file, path);
    config_free(&cfg);
    unlink(path);
}

/* Issue #12: admin.addr, admin.token.file, admin.on.raft.port (flags and
 * YAML; the seed's single port stays the default). */
static void test_admin_settings(void **state)
{
    (void)state;
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    char *none[] = { "dns-raft", "-id", "x" };
    assert_int_equal(load(&cfg, ARGC(none), none, err), CONFIG_OK);
    assert_null(cfg.admin_addr);
    assert_null(cfg.admin_token_file);
    assert_int_equal(cfg.admin_on_raft_port, -1);
    config_free(&cfg);

    char path[64];
    write_yaml(path, "id: id1\nadmin.addr: \"127.0.0.1:8400\"\nadmin.token.file: /etc/t\n"
                     "admin.on.raft.port: \"false\"\n");
    char *yaml[] = { "dns-raft", "-config", path };
    assert_int_equal(load(&cfg, ARGC(yaml), yaml, err), CONFIG_OK);
    assert_string_equal(cfg.admin_addr, "127.0.0.1:8400");
    assert_string_equal(cfg.admin_token_file, "/etc/t");
    assert_int_equal(cfg.admin_on_raft_port, 0);
    config_free(&cfg);
    char *flags_win[] = { "dns-raft", "-config", path, "-admin.on.raft.port=true",
                          "-admin.token.file", "/x" };
    assert_int_equal(load(&cfg, ARGC(flags_win), flags_win, err), CONFIG_OK);
    assert_int_equal(cfg.admin_on_raft_port, 1);
    assert_string_equal(cfg.admin_token_file, "/x");
    config_free(&cfg);
    unlink(path);

    char *bad_addr[] = { "dns-raft", "-id", "x", "-admin.addr", "8400" };
    expect_flag_error(ARGC(bad_addr), bad_addr, "admin.addr: address \"8400\": missing port");
    char *bad_bool[] = { "dns-raft", "-id", "x", "-admin.on.raft.port", "no" };
    expect_flag_error(ARGC(bad_bool), bad_bool, "admin.on.raft.port: \"no\" is not true or false");
    char *no_port_at_all[] = { "dns-raft", "-id", "x", "-admin.on.raft.port=false" };
    expect_flag_error(ARGC(no_port_at_all), no_port_at_all, "needs -admin.addr");
}

/* Issue #16: metrics.addr (flag and YAML), off by default. */
static void test_metrics_addr(void **state)
{
    (void)state;
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    char *none[] = { "dns-raft", "-id", "x" };
    assert_int_equal(load(&cfg, ARGC(none), none, err), CONFIG_OK);
    assert_null(cfg.metrics_addr);
    config_free(&cfg);
    char path[64];
    write_yaml(path, "id: id1\nmetrics.addr: \"127.0.0.1:9153\"\n");
    char *yaml[] = { "dns-raft", "-config", path };
    assert_int_equal(load(&cfg, ARGC(yaml), yaml, err), CONFIG_OK);
    assert_string_equal(cfg.metrics_addr, "127.0.0.1:9153");
    config_free(&cfg);
    unlink(path);
    char *flag[] = { "dns-raft", "-id", "x", "-metrics.addr", "[::1]:9153" };
    assert_int_equal(load(&cfg, ARGC(flag), flag, err), CONFIG_OK);
    assert_string_equal(cfg.metrics_addr, "[::1]:9153");
    config_free(&cfg);
    char *bad[] = { "dns-raft", "-id", "x", "-metrics.addr", "9153" };
    expect_flag_error(ARGC(bad), bad, "metrics.addr: address \"9153\": missing port");
}

static void test_flags_win_over_yaml(void **state)
{
    (void)state;
    char path[64];
    write_yaml(path, "id: from-file\ndns.addr: ':9600'\nzone.file: [a.txt, b.txt]\nlog.level: error\n");
    /* -config comes last on the line, yet the flags before it still win. */
    char *argv[] = { "dns-raft", "-id", "from-flag", "-zone.file", "c.txt", "-config", path };
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    assert_int_equal(load(&cfg, ARGC(argv), argv, err), CONFIG_OK);
    assert_string_equal(cfg.id, "from-flag");
    assert_string_equal(cfg.dns_addr, ":9600");   /* only in the file */
    assert_int_equal(cfg.log_level, LOG_ERROR);   /* only in the file */
    assert_int_equal(cfg.zone_file_count, 1);     /* flags replace the list */
    assert_string_equal(cfg.zone_files[0], "c.txt");
    config_free(&cfg);

    char *argv2[] = { "dns-raft", "-config", path };
    assert_int_equal(load(&cfg, ARGC(argv2), argv2, err), CONFIG_OK);
    assert_int_equal(cfg.zone_file_count, 2);     /* flow sequence form */
    assert_string_equal(cfg.zone_files[0], "a.txt");
    config_free(&cfg);
    unlink(path);
}

/* -tsig.keyfile repeats; YAML takes a string or a list; flags replace the
 * file's list. The files are only named here (dns/tsig.c reads them). */
static void test_tsig_keyfiles(void **state)
{
    (void)state;
    char path[64];
    write_yaml(path, "id: n1\ntsig.keyfile: [a.key, b.key]\n");
    char *argv[] = { "dns-raft", "-config", path };
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    assert_int_equal(load(&cfg, ARGC(argv), argv, err), CONFIG_OK);
    assert_int_equal(cfg.tsig_keyfile_count, 2);
    assert_string_equal(cfg.tsig_keyfiles[1], "b.key");
    config_free(&cfg);
    char *argv2[] = { "dns-raft", "-config", path, "-tsig.keyfile", "c.key", "--tsig.keyfile=d.key" };
    assert_int_equal(load(&cfg, ARGC(argv2), argv2, err), CONFIG_OK);
    assert_int_equal(cfg.tsig_keyfile_count, 2);
    assert_string_equal(cfg.tsig_keyfiles[0], "c.key");
    assert_string_equal(cfg.tsig_keyfiles[1], "d.key");
    config_free(&cfg);
    unlink(path);
    write_yaml(path, "id: n1\ntsig.keyfile: one.key\n");
    assert_int_equal(load(&cfg, ARGC(argv), argv, err), CONFIG_OK);
    assert_int_equal(cfg.tsig_keyfile_count, 1);
    config_free(&cfg);
    unlink(path);
    write_yaml(path, "id: n1\ntsig.keyfile: {a: b}\n");
    assert_int_equal(load(&cfg, ARGC(argv), argv, err), CONFIG_ERROR);
    assert_non_null(strstr(err, "tsig.keyfile: expected a string or a list of strings"));
    config_free(&cfg);
    unlink(path);
    char *argv3[] = { "dns-raft", "-id", "n1", "-tsig.keyfile", "" };
    assert_int_equal(load(&cfg, ARGC(argv3), argv3, err), CONFIG_ERROR);
    assert_string_equal(err, "flag -tsig.keyfile: tsig.keyfile: empty file name");
    config_free(&cfg);
}

/* Issue #14: the serial policy and journal bounds, as flags and in YAML. */
static void test_zone_update_settings(void **state)
{
    (void)state;
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    char *argv[] = { "dns-raft", "-id", "n1" };
    assert_int_equal(load(&cfg, ARGC(argv), argv, err), CONFIG_OK);
    assert_int_equal(cfg.zone_serial_policy, 0); /* increment */
    assert_int_equal(cfg.zone_journal_max, 0);   /* default */
    config_free(&cfg);
    char *argv2[] = { "dns-raft", "-id", "n1", "-zone.serial.policy", "dateserial",
                      "-zone.journal.max=50", "-zone.journal.max.mib", "8" };
    assert_int_equal(load(&cfg, ARGC(argv2), argv2, err), CONFIG_OK);
    assert_int_equal(cfg.zone_serial_policy, 2);
    assert_int_equal(cfg.zone_journal_max, 50);
    assert_int_equal(cfg.zone_journal_max_mib, 8);
    config_free(&cfg);
    char path[64];
    write_yaml(path, "id: n1\nzone.serial.policy: unixtime\n");
    char *argv3[] = { "dns-raft", "-config", path };
    assert_int_equal(load(&cfg, ARGC(argv3), argv3, err), CONFIG_OK);
    assert_int_equal(cfg.zone_serial_policy, 1);
    config_free(&cfg);
    unlink(path);
    char *bad[] = { "dns-raft", "-id", "n1", "-zone.serial.policy", "Increment" };
    expect_flag_error(ARGC(bad), bad, "not increment, unixtime or dateserial");
    char *bad2[] = { "dns-raft", "-id", "n1", "-zone.journal.max", "0" };
    expect_flag_error(ARGC(bad2), bad2, "zone.journal.max");
}

static void test_yaml_single_zone_file_and_empty_file(void **state)
{
    (void)state;
    char path[64];
    write_yaml(path, "zone.file: zones/z00.txt\n");
    char *argv[] = { "dns-raft", "-id", "x", "-config", path };
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    assert_int_equal(load(&cfg, ARGC(argv), argv, err), CONFIG_OK);
    assert_int_equal(cfg.zone_file_count, 1);
    assert_string_equal(cfg.zone_files[0], "zones/z00.txt");
    config_free(&cfg);
    unlink(path);

    write_yaml(path, "# nothing set here\n");
    argv[4] = path;
    assert_int_equal(load(&cfg, ARGC(argv), argv, err), CONFIG_OK);
    assert_int_equal(cfg.zone_file_count, 0);
    config_free(&cfg);
    unlink(path);
}

static void test_bad_yaml(void **state)
{
    (void)state;
    expect_yaml_error("id: x\nbogus: 1\n", ":2: unknown key \"bogus\"");
    expect_yaml_error("config: other.yaml\n", ":1: unknown key \"config\"");
    expect_yaml_error("dns.addr: ':1'\ndns.addr: ':2'\n", ":2: key \"dns.addr\" given twice");
    expect_yaml_error("- id\n- x\n", ":1: expected a mapping");
    expect_yaml_error("just a string\n", ":1: expected a mapping");
    expect_yaml_error("dns.addr: [':1', ':2']\n", "dns.addr takes a single value");
    expect_yaml_error("dns.addr:\n  host: x\n", "dns.addr: expected a string");
    expect_yaml_error("zone.file: [a, [b]]\n", "list items must be strings");
    expect_yaml_error("zone.file: {a: b}\n", "expected a string or a list of strings");
    expect_yaml_error("log.level: shout\n", ":1: log.level: \"shout\"");
    expect_yaml_error("dns.workers: many\n", ":1: dns.workers");
    expect_yaml_error("dns.addr: nope\n", "dns.addr: address \"nope\": missing port");
    expect_yaml_error("id:\n", ":1: id: empty value");
    expect_yaml_error("id: [unclosed\n", "dnsraft-config-");
    expect_yaml_error("id: b\n  c: d\n", ":2: ");
    expect_yaml_error("id: x\n---\nid: y\n", "a single YAML document");
    expect_yaml_error("base: &a x\nid: *a\n", "unknown key \"base\"");
    expect_yaml_error("id: *nowhere\n", "dnsraft-config-");
    expect_yaml_error("? [a, b]\n: c\n", ":1: expected a key");
}

/* A FIFO (or a directory) as -config is refused at once, never waited on:
 * SIGTERM is blocked during start-up, so a hang there could not be
 * stopped. The alarm turns a hang into a failure. */
static void test_config_file_not_regular(void **state)
{
    (void)state;
    alarm(10);
    char path[64];
    strcpy(path, "/tmp/dnsraft-config-XXXXXX");
    assert_non_null(mkdtemp(path));
    char *dir_argv[] = { "dns-raft", "-id", "id0", "-config", path };
    expect_flag_error(ARGC(dir_argv), dir_argv, ": not a regular file");
    char fifo[96];
    snprintf(fifo, sizeof fifo, "%s/fifo.yaml", path);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    char *fifo_argv[] = { "dns-raft", "-id", "id0", "-config", fifo };
    expect_flag_error(ARGC(fifo_argv), fifo_argv, "fifo.yaml: not a regular file");
    unlink(fifo);
    rmdir(path);
    alarm(0);
}

static void test_yaml_read_directly(void **state)
{
    (void)state;
    char path[64];
    write_yaml(path, "id: direct\n");
    config_t cfg;
    config_init(&cfg);
    char err[CONFIG_ERR_MAX];
    assert_int_equal(config_read_yaml(&cfg, path, err), 0);
    assert_string_equal(cfg.id, "direct");
    /* Validation is separate: no addresses yet. */
    assert_int_equal(config_validate(&cfg, err), -1);
    config_free(&cfg);
    unlink(path);
}

static void test_addr_specs(void **state)
{
    (void)state;
    addr_spec_t a;
    char err[ADDR_ERR_MAX];
    assert_int_equal(addr_spec_parse(":8600", &a, err), 0);
    assert_true(a.any);
    assert_int_equal(a.port, 8600);
    assert_int_equal(addr_spec_parse("127.0.0.1:53", &a, err), 0);
    assert_false(a.any);
    assert_string_equal(a.host, "127.0.0.1");
    assert_int_equal(addr_spec_parse("[::1]:0", &a, err), 0);
    assert_string_equal(a.host, "::1");
    assert_int_equal(a.port, 0);
    assert_int_equal(addr_spec_parse("localhost:65535", &a, err), 0);
    assert_int_equal(a.port, 65535);

    const char *bad[] = { "", "8600", ":", ":x", ":-1", ":65536", ":123456", "[::1]", "[::1",
                          "[]:53", "::1:53", "[::1]53", "host:8600x" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (addr_spec_parse(bad[i], &a, err) == 0)
            fail_msg("\"%s\" accepted", bad[i]);
    char long_host[400];
    memset(long_host, 'a', sizeof long_host);
    strcpy(long_host + 300, ":53");
    assert_int_equal(addr_spec_parse(long_host, &a, err), -1);
    assert_non_null(strstr(err, "too long"));
}

static void test_addr_bind(void **state)
{
    (void)state;
    addr_spec_t a;
    char err[ADDR_ERR_MAX];
    assert_int_equal(addr_spec_parse("127.0.0.1:0", &a, err), 0);
    int fd = addr_bind_socket(&a, SOCK_DGRAM, true, 0, err);
    assert_true(fd >= 0);
    uint16_t port = addr_local_port(fd);
    assert_true(port != 0);
    /* A second SO_REUSEPORT socket joins the same port. */
    int fd2 = addr_bind_socket(&a, SOCK_DGRAM, true, port, err);
    assert_true(fd2 >= 0);
    assert_int_equal(addr_local_port(fd2), port);
    /* Without SO_REUSEPORT the port is taken. */
    assert_int_equal(addr_bind_socket(&a, SOCK_DGRAM, false, port, err), -1);
    assert_non_null(strstr(err, "bind 127.0.0.1"));
    close(fd);
    close(fd2);

    /* Every address: dual-stack when the host has IPv6. */
    assert_int_equal(addr_spec_parse(":0", &a, err), 0);
    fd = addr_bind_socket(&a, SOCK_STREAM, false, 0, err);
    assert_true(fd >= 0);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
    assert_true(ss.ss_family == AF_INET6 || ss.ss_family == AF_INET);
    close(fd);

    /* An empty label fails inside the resolver, without a DNS round trip. */
    assert_int_equal(addr_spec_parse("empty..label.invalid:53", &a, err), 0);
    assert_int_equal(addr_bind_socket(&a, SOCK_DGRAM, false, 0, err), -1);
    assert_non_null(strstr(err, "cannot resolve"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_command_line),
        cmocka_unit_test(test_flag_forms_and_repeats),
        cmocka_unit_test(test_later_flag_wins),
        cmocka_unit_test(test_help),
        cmocka_unit_test(test_bad_flags),
        cmocka_unit_test(test_yaml_all_keys),
        cmocka_unit_test(test_admin_settings),
        cmocka_unit_test(test_metrics_addr),
        cmocka_unit_test(test_flags_win_over_yaml),
        cmocka_unit_test(test_tsig_keyfiles),
        cmocka_unit_test(test_zone_update_settings),
        cmocka_unit_test(test_yaml_single_zone_file_and_empty_file),
        cmocka_unit_test(test_bad_yaml),
        cmocka_unit_test(test_yaml_read_directly),
        cmocka_unit_test(test_config_file_not_regular),
        cmocka_unit_test(test_addr_specs),
        cmocka_unit_test(test_addr_bind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
