/* tests/unit/test_kv_admin.c — the admin text protocol (kv/admin.c) and the
 * bounded line reader (kv/linereader.c): every command, the exact reason for
 * each kind of bad line, reply formatting, the peer/person peek, and lines
 * split across reads or longer than the limit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kv/admin.h"
#include "kv/linereader.h"

/* ---- parsing ---- */

static admin_cmd_t parse_ok(const char *line)
{
    admin_cmd_t cmd;
    char reason[ADMIN_REASON_MAX];
    if (admin_parse(line, strlen(line), &cmd, reason) < 0)
        fail_msg("\"%s\" refused: %s", line, reason);
    return cmd;
}

static void expect_field(const char *p, size_t n, const char *want)
{
    assert_int_equal(n, strlen(want));
    assert_memory_equal(p, want, n);
}

static void test_every_command(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("kv ping").op, ADMIN_KV_PING);
    admin_cmd_t c = parse_ok("kv set foo bar");
    assert_int_equal(c.op, ADMIN_KV_SET);
    expect_field(c.key, c.key_len, "foo");
    expect_field(c.value, c.value_len, "bar");
    c = parse_ok("kv get foo");
    assert_int_equal(c.op, ADMIN_KV_GET);
    expect_field(c.key, c.key_len, "foo");
    c = parse_ok("kv del foo");
    assert_int_equal(c.op, ADMIN_KV_DEL);
    expect_field(c.key, c.key_len, "foo");
    assert_int_equal(parse_ok("raft status").op, ADMIN_RAFT_STATUS);
    assert_int_equal(parse_ok("raft peers").op, ADMIN_RAFT_PEERS);
    c = parse_ok("raft join id3 127.0.0.1:8303");
    assert_int_equal(c.op, ADMIN_RAFT_JOIN);
    expect_field(c.id, c.id_len, "id3");
    expect_field(c.addr, c.addr_len, "127.0.0.1:8303");
    c = parse_ok("raft join id4 :8304");
    expect_field(c.addr, c.addr_len, ":8304");
    c = parse_ok("raft join id5 [::1]:8305");
    expect_field(c.addr, c.addr_len, "[::1]:8305");
    c = parse_ok("raft leave id3");
    assert_int_equal(c.op, ADMIN_RAFT_LEAVE);
    expect_field(c.id, c.id_len, "id3");
    c = parse_ok("raft transfer");
    assert_int_equal(c.op, ADMIN_RAFT_TRANSFER);
    assert_int_equal(c.id_len, 0);
    c = parse_ok("raft transfer id2");
    expect_field(c.id, c.id_len, "id2");
    assert_int_equal(parse_ok("zone list").op, ADMIN_ZONE_LIST);
    c = parse_ok("zone show foo.com");
    assert_int_equal(c.op, ADMIN_ZONE_SHOW);
    assert_memory_equal(c.origin, "\3foo\3com", 9);
    c = parse_ok("zone show foo.com.");
    assert_memory_equal(c.origin, "\3foo\3com", 9);
    c = parse_ok("zone show .");
    assert_int_equal(c.origin[0], 0);
}

static void test_value_is_rest_of_line(void **state)
{
    (void)state;
    admin_cmd_t c = parse_ok("kv set greeting hello,  big world ");
    expect_field(c.value, c.value_len, "hello,  big world ");
    c = parse_ok("kv set k  leading");        /* one separator, then the value */
    expect_field(c.value, c.value_len, " leading");
    c = parse_ok("kv set k\tv\tw");
    expect_field(c.value, c.value_len, "v\tw");
    c = parse_ok("kv set k v\r");             /* CRLF tolerated */
    expect_field(c.value, c.value_len, "v");
    c = parse_ok("kv set k \xff\xfe binary");  /* values are bytes, not text */
    expect_field(c.value, c.value_len, "\xff\xfe binary");
    c = parse_ok("kv set caf\xc3\xa9 \xe2\x82\xac");
    expect_field(c.key, c.key_len, "caf\xc3\xa9");
    c = parse_ok("  kv   get   foo  ");       /* spacing between words is free */
    expect_field(c.key, c.key_len, "foo");
    c = parse_ok("kv ping\r");
    assert_int_equal(c.op, ADMIN_KV_PING);
}

/* Issue #12: `kv set k a<NUL>b` was stored and `kv get k` then wrote only
 * "a" (no LF), so the next reply ran on. A NUL is refused now; other bytes
 * (tabs, UTF-8, DEL) still make a value. */
static void test_value_with_nul_byte_is_refused(void **state)
{
    (void)state;
    static const char line[] = "kv set k a\0b";
    admin_cmd_t cmd;
    char reason[ADMIN_REASON_MAX];
    assert_int_equal(admin_parse(line, sizeof line - 1, &cmd, reason), -1);
    assert_string_equal(reason, "value contains a NUL byte");
    static const char only[] = "kv set k \0";
    assert_int_equal(admin_parse(only, sizeof only - 1, &cmd, reason), -1);
    assert_string_equal(reason, "value contains a NUL byte");
    static const char key[] = "kv set k\0y v";
    assert_int_equal(admin_parse(key, sizeof key - 1, &cmd, reason), -1);
    assert_string_equal(reason, "key contains a control character");
    static const char tab[] = "kv set k a\tb\x7f\xc3\xa9";
    assert_int_equal(admin_parse(tab, sizeof tab - 1, &cmd, reason), 0);
    assert_int_equal(cmd.value_len, 6);
}

static void test_auth_line(void **state)
{
    (void)state;
    const char *tok;
    size_t n;
    assert_true(admin_parse_auth("auth s3cret-token-0123", 21, &tok, &n));
    expect_field(tok, n, "s3cret-token-012");
    assert_true(admin_parse_auth("  auth\tabc  \r", 13, &tok, &n));
    expect_field(tok, n, "abc");
    assert_true(admin_parse_auth("auth", 4, &tok, &n));
    assert_null(tok);
    assert_int_equal(n, 0);
    assert_true(admin_parse_auth("auth a b", 8, &tok, &n));
    assert_int_equal(n, 0);
    assert_false(admin_parse_auth("kv ping", 7, &tok, &n));
    assert_false(admin_parse_auth("authx y", 7, &tok, &n));
    assert_false(admin_parse_auth("", 0, &tok, &n));
    /* Without a token configured, `auth` is not a command of the parser:
     * the seed's answer stays. */
    admin_cmd_t cmd;
    char reason[ADMIN_REASON_MAX];
    assert_int_equal(admin_parse("auth x", 6, &cmd, reason), -1);
    assert_string_equal(reason, "unknown command");
}

static const struct bad_line {
    const char *line;
    const char *reason;
} BAD[] = {
    { "", "empty command" },
    { "   \t ", "empty command" },
    { "\r", "empty command" },
    { "hello", "unknown command" },
    { "KV PING", "unknown command" },
    { "kv", "missing subcommand" },
    { "raft", "missing subcommand" },
    { "zone   ", "missing subcommand" },
    { "kv pong", "unknown command" },
    { "zone add foo.com", "unknown command" },
    { "raft statuss", "unknown command" },
    { "kv ping now", "too many arguments" },
    { "kv set", "missing argument" },
    { "kv set foo", "missing argument" },
    { "kv set foo ", "empty value" },
    { "kv set foo a\rb", "value contains a line break" },
    { "kv get", "missing argument" },
    { "kv get foo bar", "too many arguments" },
    { "kv del", "missing argument" },
    { "kv del a b", "too many arguments" },
    { "kv get \xff", "key is not valid UTF-8" },
    { "kv get \xc0\xaf", "key is not valid UTF-8" },          /* overlong */
    { "kv get \xe0\x80\xaf", "key is not valid UTF-8" },      /* overlong, 3 bytes */
    { "kv get \xed\xb0\x80", "key is not valid UTF-8" },      /* lone surrogate */
    { "kv get \xf4\x90\x80\x80", "key is not valid UTF-8" },  /* above U+10FFFF */
    { "kv get \xf8\x88\x80\x80\x80", "key is not valid UTF-8" }, /* 5-byte form */
    { "kv get caf\xc3", "key is not valid UTF-8" },           /* cut sequence */
    { "kv set a\x01z v", "key contains a control character" },
    { "kv get a\x7f", "key contains a control character" },
    { "kv del \xc2\x9b", "key contains a control character" }, /* C1 CSI */
    { "raft status x", "too many arguments" },
    { "raft peers all", "too many arguments" },
    { "raft join", "missing argument" },
    { "raft join id3", "missing argument" },
    { "raft join id3 :8303 extra", "too many arguments" },
    { "raft join id\x01 :8303", "invalid node id: node id may contain only letters, digits, '-', '_' and '.'" },
    { "raft join id3 nowhere", "invalid address: address \"nowhere\": missing port (write HOST:PORT or :PORT)" },
    { "raft join id3 :0", "invalid address: port 0" },
    { "raft join id3 caf\xc3\xa9:1", "invalid address: not a HOST:PORT address" },
    { "raft leave id:3", "invalid node id: node id may contain only letters, digits, '-', '_' and '.'" },
    { "raft leave", "missing argument" },
    { "raft leave a b", "too many arguments" },
    { "raft transfer a b", "too many arguments" },
    { "zone list all", "too many arguments" },
    { "zone show", "missing argument" },
    { "zone show a..b", "invalid zone name: empty label" },
    { "zone show foo.com bar", "too many arguments" },
};

static void test_bad_lines_give_exact_reasons(void **state)
{
    (void)state;
    assert_true(sizeof BAD / sizeof BAD[0] >= 25);
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        admin_cmd_t cmd;
        char reason[ADMIN_REASON_MAX];
        if (admin_parse(BAD[i].line, strlen(BAD[i].line), &cmd, reason) == 0)
            fail_msg("line %zu accepted", i);
        if (strcmp(reason, BAD[i].reason) != 0)
            fail_msg("line %zu: got \"%s\", want \"%s\"", i, reason, BAD[i].reason);
    }
}

static void test_long_keys_and_lines(void **state)
{
    (void)state;
    char *line = malloc(ADMIN_LINE_MAX + 16);
    assert_non_null(line);
    admin_cmd_t cmd;
    char reason[ADMIN_REASON_MAX];
    /* Key of exactly KV_KEY_MAX, then one more. */
    size_t n = (size_t)sprintf(line, "kv get ");
    memset(line + n, 'k', KV_KEY_MAX);
    assert_int_equal(admin_parse(line, n + KV_KEY_MAX, &cmd, reason), 0);
    line[n + KV_KEY_MAX] = 'k';
    assert_int_equal(admin_parse(line, n + KV_KEY_MAX + 1, &cmd, reason), -1);
    assert_string_equal(reason, "key too long");
    /* A set filling the line limit exactly, then one byte over. */
    n = (size_t)sprintf(line, "kv set k ");
    memset(line + n, 'v', ADMIN_LINE_MAX - n);
    assert_int_equal(admin_parse(line, ADMIN_LINE_MAX, &cmd, reason), 0);
    assert_int_equal(cmd.value_len, ADMIN_LINE_MAX - n);
    line[ADMIN_LINE_MAX] = '\r'; /* a CR does not count */
    assert_int_equal(admin_parse(line, ADMIN_LINE_MAX + 1, &cmd, reason), 0);
    line[ADMIN_LINE_MAX] = 'v';
    assert_int_equal(admin_parse(line, ADMIN_LINE_MAX + 1, &cmd, reason), -1);
    assert_string_equal(reason, "line too long");
    free(line);
}

/* ---- replies ---- */

static void test_reply_formatting(void **state)
{
    (void)state;
    char out[128];
    assert_int_equal(admin_format_error(out, sizeof out, NULL), 6);
    assert_string_equal(out, "ERROR\n");
    assert_int_equal(admin_format_error(out, sizeof out, ""), 6);
    assert_string_equal(out, "ERROR\n");
    admin_format_error(out, sizeof out, "no leader");
    assert_string_equal(out, "ERROR no leader\n");
    admin_format_error(out, sizeof out, "bad\nthing\r\x1b");
    assert_string_equal(out, "ERROR bad?thing??\n");
    assert_int_equal(admin_format_word(out, sizeof out, "PONG"), 5);
    assert_string_equal(out, "PONG\n");
    admin_format_word(out, sizeof out, "SUCCESS");
    assert_string_equal(out, "SUCCESS\n");
    assert_int_equal(admin_format_value(out, sizeof out, (const uint8_t *)"bar baz", 7), 8);
    assert_string_equal(out, "bar baz\n");
    /* The length returned is the reply's real length, NULs and all. */
    assert_int_equal(admin_format_value(out, sizeof out, (const uint8_t *)"a\0b", 3), 4);
    assert_memory_equal(out, "a\0b\n", 4);
    kv_result_t res = { .status = KV_OK, .duplicate = true, .msg = "deleted" };
    admin_format_result(out, sizeof out, &res);
    assert_string_equal(out, "SUCCESS\n");
    res = (kv_result_t){ .status = KV_ERR_SESSION_TOO_OLD, .msg = "" };
    admin_format_result(out, sizeof out, &res);
    assert_string_equal(out, "ERROR session sequence too old\n");
    res = (kv_result_t){ .status = KV_ERR_BAD_ZONE, .msg = "z00.txt:3: no SOA record" };
    admin_format_result(out, sizeof out, &res);
    assert_string_equal(out, "ERROR bad zone: z00.txt:3: no SOA record\n");
    /* Too small: refused, never truncated into a misleading reply. */
    assert_int_equal(admin_format_word(out, 5, "PONG"), -1);
    assert_int_equal(admin_format_error(out, 10, "no leader"), -1);
    assert_int_equal(admin_format_value(out, 3, (const uint8_t *)"abc", 3), -1);
}

static void test_zone_formatting(void **state)
{
    (void)state;
    char out[ADMIN_RR_TEXT_MAX];
    sm_zone_info_t info = { (const uint8_t *)"\3foo\3com", 2024010101, 12, "id0", 7, 42 };
    admin_format_zone_info(out, sizeof out, &info);
    assert_string_equal(out, "foo.com. serial 2024010101 records 12 loaded-by id0 index 42\n");
    zone_rr_t a = { (const uint8_t *)"\3www\3foo\3com", 1, 1, 60, 4,
                    (const uint8_t *)"\xc0\x00\x02\x01" };
    admin_format_rr(out, sizeof out, &a);
    assert_string_equal(out, "www.foo.com. 60 IN A 192.0.2.1\n");
    zone_rr_t ns = { (const uint8_t *)"\3foo\3com", 2, 1, 3600, 13,
                     (const uint8_t *)"\3ns1\3foo\3com" };
    admin_format_rr(out, sizeof out, &ns);
    assert_string_equal(out, "foo.com. 3600 IN NS ns1.foo.com.\n");
    zone_rr_t odd = { (const uint8_t *)"", 4660, 255, 5, 2, (const uint8_t *)"\xab\xcd" };
    admin_format_rr(out, sizeof out, &odd);
    assert_string_equal(out, ". 5 CLASS255 TYPE4660 \\# 2 abcd\n");
    assert_int_equal(admin_format_rr(out, 10, &a), -1);
}

/* ---- peers and people ---- */

/* A Raft peer opens with RAFT_WIRE_MAGIC (raft/codec.h): no admin command
 * can start like one, so the transport can tell them apart. */
static void test_no_command_starts_like_a_peer(void **state)
{
    (void)state;
    admin_cmd_t cmd;
    char reason[ADMIN_REASON_MAX];
    assert_int_equal(admin_parse(RAFT_WIRE_MAGIC, RAFT_WIRE_MAGIC_LEN, &cmd, reason), -1);
}

/* ---- line reader ---- */

typedef struct collected {
    char lines[16][64];
    size_t n;
    int too_long;
} collected_t;

/* Feeds `data` in pieces of `step` bytes, collecting what comes out. */
static void feed_all(linereader_t *lr, const char *data, size_t len, size_t step,
                     collected_t *out)
{
    while (len > 0) {
        size_t piece = len < step ? len : step;
        const char *p = data;
        size_t left = piece;
        while (left > 0) {
            size_t used = lr_feed(lr, p, left);
            p += used;
            left -= used;
            const char *line;
            size_t n;
            enum lr_event ev;
            while ((ev = lr_next(lr, &line, &n)) != LR_NEED_MORE) {
                if (ev == LR_TOO_LONG) {
                    out->too_long++;
                    continue;
                }
                assert_true(out->n < 16);
                snprintf(out->lines[out->n++], 64, "%.*s", (int)(n < 60 ? n : 60), line);
            }
        }
        data += piece;
        len -= piece;
    }
}

static void test_line_reader_split_feeds(void **state)
{
    (void)state;
    static const char stream[] = "kv ping\nkv set a b c\r\n\nkv get a\r\nraft status\n";
    static const size_t steps[] = { 1, 2, 3, 5, 7, 64 };
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        linereader_t lr;
        assert_int_equal(lr_init(&lr), 0);
        collected_t got = { 0 };
        feed_all(&lr, stream, sizeof stream - 1, steps[s], &got);
        assert_int_equal(got.n, 5);
        assert_string_equal(got.lines[0], "kv ping");
        assert_string_equal(got.lines[1], "kv set a b c");
        assert_string_equal(got.lines[2], "");
        assert_string_equal(got.lines[3], "kv get a");
        assert_string_equal(got.lines[4], "raft status");
        assert_int_equal(got.too_long, 0);
        const char *line;
        size_t n;
        assert_int_equal(lr_finish(&lr, &line, &n), LR_NEED_MORE);
        lr_free(&lr);
    }
}

static void test_line_reader_last_line_without_newline(void **state)
{
    (void)state;
    linereader_t lr;
    assert_int_equal(lr_init(&lr), 0);
    collected_t got = { 0 };
    feed_all(&lr, "kv ping\nkv get x\r", 17, 4, &got);
    assert_int_equal(got.n, 1);
    const char *line;
    size_t n;
    assert_int_equal(lr_finish(&lr, &line, &n), LR_LINE);
    expect_field(line, n, "kv get x");
    assert_int_equal(lr_finish(&lr, &line, &n), LR_NEED_MORE);
    lr_free(&lr);
}

/* A line of `len` bytes of 'x' followed by `tail`. */
static char *long_line(size_t len, const char *tail, size_t *total)
{
    size_t t = strlen(tail);
    char *p = malloc(len + t);
    assert_non_null(p);
    memset(p, 'x', len);
    memcpy(p + len, tail, t);
    *total = len + t;
    return p;
}

static void test_line_reader_limit_is_exact(void **state)
{
    (void)state;
    static const size_t steps[] = { 1000, 4096, 65536, 1 << 20 };
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        linereader_t lr;
        assert_int_equal(lr_init(&lr), 0);
        size_t total;
        /* LR_LINE_MAX bytes with CRLF: fine. */
        char *data = long_line(LR_LINE_MAX, "\r\nkv ping\n", &total);
        collected_t got = { 0 };
        feed_all(&lr, data, total, steps[s], &got);
        free(data);
        assert_int_equal(got.too_long, 0);
        assert_int_equal(got.n, 2);
        assert_int_equal(strlen(got.lines[0]), 60);
        assert_string_equal(got.lines[1], "kv ping");
        /* One more byte: refused, and the next line still works. */
        data = long_line(LR_LINE_MAX + 1, "\nkv get a\n", &total);
        memset(&got, 0, sizeof got);
        feed_all(&lr, data, total, steps[s], &got);
        free(data);
        assert_int_equal(got.too_long, 1);
        assert_int_equal(got.n, 1);
        assert_string_equal(got.lines[0], "kv get a");
        /* Same with CRLF ending the over-long line. */
        data = long_line(LR_LINE_MAX + 1, "\r\nkv del a\r\n", &total);
        memset(&got, 0, sizeof got);
        feed_all(&lr, data, total, steps[s], &got);
        free(data);
        assert_int_equal(got.too_long, 1);
        assert_int_equal(got.n, 1);
        assert_string_equal(got.lines[0], "kv del a");
        lr_free(&lr);
    }
}

static void test_line_reader_huge_garbage_reported_once(void **state)
{
    (void)state;
    linereader_t lr;
    assert_int_equal(lr_init(&lr), 0);
    size_t total;
    char *data = long_line(5 * LR_LINE_MAX + 123, "\nkv ping\nkv ping\n", &total);
    collected_t got = { 0 };
    feed_all(&lr, data, total, 3000, &got);
    free(data);
    assert_int_equal(got.too_long, 1);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.lines[0], "kv ping");
    /* An over-long line cut by the end of the stream yields nothing more. */
    data = long_line(LR_LINE_MAX + 10, "", &total);
    memset(&got, 0, sizeof got);
    feed_all(&lr, data, total, 9999, &got);
    free(data);
    assert_int_equal(got.too_long, 1);
    const char *line;
    size_t n;
    assert_int_equal(lr_finish(&lr, &line, &n), LR_NEED_MORE);
    /* Found by fuzz_kv_admin: LR_LINE_MAX + 1 bytes cut by the end of the
     * stream do not fill the buffer, so only lr_finish can report them. */
    data = long_line(LR_LINE_MAX + 1, "", &total);
    memset(&got, 0, sizeof got);
    feed_all(&lr, data, total, 9999, &got);
    free(data);
    assert_int_equal(got.too_long, 0);
    assert_int_equal(lr_finish(&lr, &line, &n), LR_TOO_LONG);
    data = long_line(LR_LINE_MAX, "\r", &total); /* the limit itself, CR dropped */
    memset(&got, 0, sizeof got);
    feed_all(&lr, data, total, 9999, &got);
    free(data);
    assert_int_equal(lr_finish(&lr, &line, &n), LR_LINE);
    assert_int_equal(n, LR_LINE_MAX);
    /* And the reader is reusable after finish. */
    memset(&got, 0, sizeof got);
    feed_all(&lr, "kv ping\n", 8, 8, &got);
    assert_int_equal(got.n, 1);
    lr_free(&lr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_command),
        cmocka_unit_test(test_value_is_rest_of_line),
        cmocka_unit_test(test_value_with_nul_byte_is_refused),
        cmocka_unit_test(test_auth_line),
        cmocka_unit_test(test_bad_lines_give_exact_reasons),
        cmocka_unit_test(test_long_keys_and_lines),
        cmocka_unit_test(test_reply_formatting),
        cmocka_unit_test(test_zone_formatting),
        cmocka_unit_test(test_no_command_starts_like_a_peer),
        cmocka_unit_test(test_line_reader_split_feeds),
        cmocka_unit_test(test_line_reader_last_line_without_newline),
        cmocka_unit_test(test_line_reader_limit_is_exact),
        cmocka_unit_test(test_line_reader_huge_garbage_reported_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
