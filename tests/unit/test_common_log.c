/* tests/unit/test_common_log.c — the JSON log line (common/log.c,
 * log_format_json): fields in order, RFC 8259 escapes, UTF-8 kept, bytes
 * that are not UTF-8 replaced, and a whole object even when out of room;
 * plus the -log.format and -version / -config.check flags (common/config.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "common/config.h"
#include "common/log.h"

static const char *json(const char *node, const char *msg)
{
    static char out[4096];
    size_t n = log_format_json(out, sizeof out, "2026-12-08T00:00:00.000Z", "warn", "raft", node,
                               msg);
    assert_true(n > 0 && n < sizeof out);
    out[n] = '\0';
    return out;
}

static void test_fields_in_order(void **state)
{
    (void)state;
    assert_string_equal(json("id0", "peer at :8301 unreachable"),
                        "{\"time\":\"2026-12-08T00:00:00.000Z\",\"level\":\"warn\",\"module\":\"raft\","
                        "\"node\":\"id0\",\"msg\":\"peer at :8301 unreachable\"}\n");
    /* No node (before -id is known): the key is left out. */
    assert_string_equal(json("", "x"), "{\"time\":\"2026-12-08T00:00:00.000Z\",\"level\":\"warn\","
                                       "\"module\":\"raft\",\"msg\":\"x\"}\n");
}

static void test_escapes(void **state)
{
    (void)state;
    const char *line = json("n", "a\"b\\c\nd\te\x01\x7f");
    assert_non_null(strstr(line, "\"msg\":\"a\\\"b\\\\c\\u000ad\\u0009e\\u0001\\u007f\"}"));
}

static void test_utf8_kept_and_garbage_replaced(void **state)
{
    (void)state;
    /* é (2 bytes), € (3), 😀 (4) pass; a lone 0xFF, a cut sequence, an
     * overlong '/' (C0 AF) and a surrogate (ED A0 80) become U+FFFD. */
    const char *line = json("n", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\xff|\xe2\x82|\xc0\xaf|\xed\xa0\x80");
    assert_non_null(strstr(line, "\"msg\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80|\\ufffd|\\ufffd\\ufffd|"
                                 "\\ufffd\\ufffd|\\ufffd\\ufffd\\ufffd\"}"));
}

static void test_too_small_stays_an_object(void **state)
{
    (void)state;
    char out[64];
    size_t n = log_format_json(out, sizeof out, "2026-12-08T00:00:00.000Z", "warn", "raft", "n",
                               "a message longer than this little buffer can hold");
    assert_true(n > 0 && n <= sizeof out);
    assert_memory_equal(out, "{\"msg\":\"(log line too long)\"}\n", n);
}

static void test_flags(void **state)
{
    (void)state;
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    char *json_args[] = { "dns-raft", "-id", "a", "-log.format", "json" };
    assert_int_equal(config_load(&cfg, 5, json_args, err), CONFIG_OK);
    assert_int_equal(cfg.log_format, LOG_FORMAT_JSON);
    config_free(&cfg);
    char *bad[] = { "dns-raft", "-id", "a", "-log.format", "xml" };
    assert_int_equal(config_load(&cfg, 5, bad, err), CONFIG_ERROR);
    assert_non_null(strstr(err, "log.format"));
    config_free(&cfg);
    char *version[] = { "dns-raft", "--version" };
    assert_int_equal(config_load(&cfg, 2, version, err), CONFIG_VERSION);
    config_free(&cfg);
    char *check[] = { "dns-raft", "-config.check", "-id", "a" };
    assert_int_equal(config_load(&cfg, 4, check, err), CONFIG_OK);
    assert_int_equal(cfg.check_only, 1);
    config_free(&cfg);
    /* A switch takes no value: -config.check=1 is unknown, not a setting. */
    char *check_value[] = { "dns-raft", "-config.check=1", "-id", "a" };
    assert_int_equal(config_load(&cfg, 4, check_value, err), CONFIG_ERROR);
    config_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fields_in_order),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_utf8_kept_and_garbage_replaced),
        cmocka_unit_test(test_too_small_stays_an_object),
        cmocka_unit_test(test_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
