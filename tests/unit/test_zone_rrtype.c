/* tests/unit/test_zone_rrtype.c — RR type table, TTL syntax, rdata
 * text <-> wire for every supported type, RFC 3597, wire validation and
 * name positions (zone/rrtype.c, rdata_parse.c, rdata_print.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "zone/name.h"
#include "zone/rrtype.h"

static const uint8_t ORIGIN[] = "\7example\3com";

/* Splits `text` into tokens the way the zone lexer would for one line
 * without parentheses: blanks separate words, "..." is one quoted token
 * (escapes kept raw). */
static size_t split(const char *text, rr_token_t *toks, size_t cap)
{
    size_t n = 0, i = 0, len = strlen(text);
    while (i < len && n < cap) {
        if (text[i] == ' ') {
            i++;
            continue;
        }
        if (text[i] == '"') {
            size_t start = ++i;
            while (i < len && text[i] != '"')
                i += text[i] == '\\' ? 2 : 1;
            toks[n++] = (rr_token_t){ text + start, i - start, true };
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && text[i] != ' ')
            i += text[i] == '\\' ? 2 : 1;
        toks[n++] = (rr_token_t){ text + start, i - start, false };
    }
    return n;
}

static int parse(uint16_t type, const char *text, uint8_t *out, const char **err)
{
    rr_token_t toks[64];
    size_t n = split(text, toks, 64);
    return rrtype_rdata_from_text(type, toks, n, ORIGIN, out, err);
}

/* Parses, checks the exact wire bytes, then prints and checks the text. */
static void expect_rdata(uint16_t type, const char *text, const void *wire, size_t wire_len,
                         const char *printed)
{
    static uint8_t out[RDATA_MAX];
    static char shown[RDATA_TEXT_MAX];
    const char *err = NULL;
    int n = parse(type, text, out, &err);
    if (n < 0)
        fail_msg("%s: %s", text, err);
    assert_int_equal(n, wire_len);
    assert_memory_equal(out, wire, wire_len);
    assert_true(rrtype_rdata_valid(type, out, (size_t)n, &err));
    int m = rrtype_rdata_to_text(type, out, (size_t)n, shown, sizeof shown);
    assert_int_equal(m, strlen(printed));
    assert_string_equal(shown, printed);
    /* What we print must parse back to the same bytes. */
    static uint8_t again[RDATA_MAX];
    assert_int_equal(parse(type, shown, again, &err), n);
    assert_memory_equal(again, out, wire_len);
}

static void expect_bad(uint16_t type, const char *text, const char *why)
{
    static uint8_t out[RDATA_MAX];
    const char *err = NULL;
    assert_int_equal(parse(type, text, out, &err), -1);
    assert_non_null(err);
    assert_string_equal(err, why);
}

static void test_type_table(void **state)
{
    (void)state;
    assert_int_equal(rrtype_from_text("A", 1), 1);
    assert_int_equal(rrtype_from_text("aaaa", 4), 28);
    assert_int_equal(rrtype_from_text("Caa", 3), 257);
    assert_int_equal(rrtype_from_text("OPT", 3), 41);
    assert_int_equal(rrtype_from_text("ANY", 3), 255);
    assert_int_equal(rrtype_from_text("AXFR", 4), 252);
    assert_int_equal(rrtype_from_text("IXFR", 4), 251);
    assert_int_equal(rrtype_from_text("TYPE65400", 9), 65400);
    assert_int_equal(rrtype_from_text("type1", 5), 1);
    assert_int_equal(rrtype_from_text("TYPE", 4), -1);
    assert_int_equal(rrtype_from_text("TYPE65536", 9), -1);
    assert_int_equal(rrtype_from_text("TYPE1x", 6), -1);
    assert_int_equal(rrtype_from_text("NOPE", 4), -1);
    assert_int_equal(rrtype_from_text("AA", 2), -1);
    const char *names[] = { "A", "NS", "CNAME", "SOA", "PTR", "HINFO", "MX", "TXT",
                            "AAAA", "SRV", "CAA", "OPT", "ANY", "AXFR", "IXFR" };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char buf[RRTYPE_TEXT_MAX];
        int code = rrtype_from_text(names[i], strlen(names[i]));
        assert_true(code > 0);
        assert_string_equal(rrtype_to_text((uint16_t)code, buf), names[i]);
    }
    char buf[RRTYPE_TEXT_MAX];
    assert_string_equal(rrtype_to_text(65400, buf), "TYPE65400");
    assert_string_equal(rrtype_to_text(65535, buf), "TYPE65535");
    assert_true(rrtype_is_meta(0));
    assert_true(rrtype_is_meta(RR_TYPE_OPT));
    assert_true(rrtype_is_meta(RR_TYPE_ANY));
    assert_true(rrtype_is_meta(RR_TYPE_AXFR));
    assert_false(rrtype_is_meta(RR_TYPE_CAA));
    assert_false(rrtype_is_meta(RR_TYPE_A));
}

static void expect_ttl(const char *text, uint32_t want)
{
    uint32_t v = 0;
    const char *err = NULL;
    if (rr_ttl_from_text(text, strlen(text), &v, &err) < 0)
        fail_msg("%s: %s", text, err);
    assert_int_equal(v, want);
}

static void expect_bad_ttl(const char *text, const char *why)
{
    uint32_t v = 0;
    const char *err = NULL;
    assert_int_equal(rr_ttl_from_text(text, strlen(text), &v, &err), -1);
    assert_string_equal(err, why);
}

static void test_ttl_syntax(void **state)
{
    (void)state;
    expect_ttl("0", 0);
    expect_ttl("3600", 3600);
    expect_ttl("1h", 3600);
    expect_ttl("1H30m", 5400);
    expect_ttl("2d", 172800);
    expect_ttl("1w2d3h4m5s", 604800 + 172800 + 10800 + 240 + 5);
    expect_ttl("1h30", 3630);
    expect_ttl("4294967295", 4294967295u);
    expect_bad_ttl("", "invalid TTL");
    expect_bad_ttl("h", "invalid TTL");
    expect_bad_ttl("1x", "invalid TTL");
    expect_bad_ttl("1hh", "invalid TTL");
    expect_bad_ttl("-1", "invalid TTL");
    expect_bad_ttl("4294967296", "TTL out of range");
    expect_bad_ttl("7102w", "TTL out of range");
}

static void test_a_aaaa(void **state)
{
    (void)state;
    expect_rdata(RR_TYPE_A, "192.0.2.1", "\xc0\x00\x02\x01", 4, "192.0.2.1");
    expect_rdata(RR_TYPE_AAAA, "2001:db8::1",
                 "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16, "2001:db8::1");
    expect_rdata(RR_TYPE_AAAA, "::ffff:1.2.3.4",
                 "\0\0\0\0\0\0\0\0\0\0\xff\xff\x01\x02\x03\x04", 16, "::ffff:1.2.3.4");
    expect_bad(RR_TYPE_A, "1.2.3", "invalid IPv4 address");
    expect_bad(RR_TYPE_A, "1.2.3.256", "invalid IPv4 address");
    expect_bad(RR_TYPE_A, "\"1.2.3.4\"", "invalid IPv4 address");
    expect_bad(RR_TYPE_A, "", "missing rdata field");
    expect_bad(RR_TYPE_A, "1.2.3.4 5.6.7.8", "extra rdata field");
    expect_bad(RR_TYPE_AAAA, "2001:db8:::1", "invalid IPv6 address");
    expect_bad(RR_TYPE_AAAA, "1.2.3.4", "invalid IPv6 address");
}

static void test_name_types(void **state)
{
    (void)state;
    expect_rdata(RR_TYPE_NS, "ns1", "\3ns1\7example\3com", 17, "ns1.example.com.");
    expect_rdata(RR_TYPE_CNAME, "@", ORIGIN, sizeof ORIGIN, "example.com.");
    expect_rdata(RR_TYPE_PTR, "host.Other.NET.", "\4host\5Other\3NET", 16, "host.Other.NET.");
    expect_rdata(RR_TYPE_MX, "10 mail", "\0\x0a\4mail\7example\3com", 20, "10 mail.example.com.");
    expect_rdata(RR_TYPE_SRV, "1 2 5060 sip.example.com.",
                 "\0\1\0\2\x13\xc4\3sip\7example\3com", 23, "1 2 5060 sip.example.com.");
    expect_rdata(RR_TYPE_NS, "a\\.b.", "\3a.b", 5, "a\\.b.");
    expect_bad(RR_TYPE_NS, "a..b.", "empty label");
    expect_bad(RR_TYPE_CNAME, "\"quoted.\"", "quoted string where a name was expected");
    expect_bad(RR_TYPE_MX, "65536 mail", "number out of range");
    expect_bad(RR_TYPE_MX, "ten mail", "invalid number");
    expect_bad(RR_TYPE_MX, "10", "missing rdata field");
    expect_bad(RR_TYPE_SRV, "1 2 port sip.", "invalid number");
}

static void test_soa(void **state)
{
    (void)state;
    static const uint8_t wire[] =
        "\3ns1\7example\3com\0"
        "\5admin\7example\3com\0"
        "\x78\x1a\xeb\xe2"  /* 2015030242 */
        "\0\0\x0e\x10"      /* 1h = 3600 */
        "\0\0\x03\x84"      /* 15m = 900 */
        "\0\x09\x3a\x80"    /* 1w = 604800 */
        "\0\0\x01\x2c";     /* 300 */
    expect_rdata(RR_TYPE_SOA, "ns1 admin.example.com. 2015030242 1h 15m 1w 300", wire,
                 sizeof wire - 1,
                 "ns1.example.com. admin.example.com. 2015030242 3600 900 604800 300");
    expect_bad(RR_TYPE_SOA, "ns1 admin 1 2 3 4", "missing rdata field");
    expect_bad(RR_TYPE_SOA, "ns1 admin 1 2 3 4 5 6", "extra rdata field");
    expect_bad(RR_TYPE_SOA, "ns1 admin 4294967296 2 3 4 5", "number out of range");
    expect_bad(RR_TYPE_SOA, "ns1 admin 1 2x 3 4 5", "invalid SOA timer");
}

static void test_txt_hinfo(void **state)
{
    (void)state;
    expect_rdata(RR_TYPE_TXT, "\"hello world\"", "\x0bhello world", 12, "\"hello world\"");
    expect_rdata(RR_TYPE_TXT, "\"a\" \"\" b", "\1a\0\1b", 5, "\"a\" \"\" \"b\"");
    expect_rdata(RR_TYPE_TXT, "\"q\\\"\\\\\\065\\010\"", "\5q\"\\A\n", 6, "\"q\\\"\\\\A\\010\"");
    expect_rdata(RR_TYPE_TXT, "semi\\;colon", "\x0asemi;colon", 11, "\"semi;colon\"");
    expect_rdata(RR_TYPE_HINFO, "\"Intel x86\" Linux", "\x09Intel x86\5Linux", 16,
                 "\"Intel x86\" \"Linux\"");
    char long_txt[300];
    memset(long_txt, 'x', 256);
    long_txt[256] = '\0';
    expect_bad(RR_TYPE_TXT, long_txt, "character string longer than 255 octets");
    long_txt[255] = '\0';
    static uint8_t out[RDATA_MAX];
    const char *err = NULL;
    assert_int_equal(parse(RR_TYPE_TXT, long_txt, out, &err), 256);
    expect_bad(RR_TYPE_TXT, "", "missing rdata field");
    expect_bad(RR_TYPE_TXT, "\"bad\\2\"", "bad \\DDD escape");
    expect_bad(RR_TYPE_TXT, "\"\\300\"", "\\DDD escape above 255");
    expect_bad(RR_TYPE_HINFO, "\"one\"", "missing rdata field");
    expect_bad(RR_TYPE_HINFO, "a b c", "extra rdata field");
}

static void test_caa(void **state)
{
    (void)state;
    expect_rdata(RR_TYPE_CAA, "0 issue \"letsencrypt.org\"",
                 "\0\5issueletsencrypt.org", 22, "0 issue \"letsencrypt.org\"");
    expect_rdata(RR_TYPE_CAA, "128 iodef mailto:a@b.c", "\x80\5iodefmailto:a@b.c", 19,
                 "128 iodef \"mailto:a@b.c\"");
    expect_rdata(RR_TYPE_CAA, "0 issue \"\"", "\0\5issue", 7, "0 issue \"\"");
    expect_bad(RR_TYPE_CAA, "256 issue \"x\"", "number out of range");
    expect_bad(RR_TYPE_CAA, "0 is-sue \"x\"", "invalid CAA tag");
    expect_bad(RR_TYPE_CAA, "0 \"issue\" \"x\"", "invalid CAA tag");
    expect_bad(RR_TYPE_CAA, "0 issue", "missing rdata field");
}

static void test_rfc3597(void **state)
{
    (void)state;
    expect_rdata(65400, "\\# 4 0a000001", "\x0a\0\0\x01", 4, "\\# 4 0a000001");
    expect_rdata(65400, "\\# 0", "", 0, "\\# 0");
    expect_rdata(65400, "\\# 3 0A 0b0C", "\x0a\x0b\x0c", 3, "\\# 3 0a0b0c");
    /* Known types accept the generic form and print their own. */
    static uint8_t out[RDATA_MAX];
    const char *err = NULL;
    assert_int_equal(parse(RR_TYPE_A, "\\# 4 c0000201", out, &err), 4);
    assert_memory_equal(out, "\xc0\0\2\1", 4);
    assert_int_equal(parse(RR_TYPE_MX, "\\# 5 000a016100", out, &err), 5);
    assert_memory_equal(out, "\0\x0a\1a\0", 5);
    expect_bad(RR_TYPE_A, "\\# 3 c00002", "malformed rdata for its type");
    expect_bad(RR_TYPE_NS, "\\# 2 c00c", "malformed rdata for its type");
    expect_bad(65400, "\\# 2 0a", "RFC 3597 rdata shorter than its length");
    expect_bad(65400, "\\# 1 0a0b", "RFC 3597 rdata longer than its length");
    expect_bad(65400, "\\# 2 0a0", "odd number of hex digits in RFC 3597 rdata");
    expect_bad(65400, "\\# 1 zz", "invalid hex in RFC 3597 rdata");
    expect_bad(65400, "\\# x", "invalid number");
    expect_bad(65400, "\\#", "missing rdata field");
    expect_bad(65400, "\\# 65536", "number out of range");
    expect_bad(65400, "0a000001", "unknown type needs RFC 3597 \\# rdata");
}

static void test_print_malformed_and_overflow(void **state)
{
    (void)state;
    char buf[64];
    /* A 3-octet "A" is shown in generic form rather than misread. */
    assert_int_equal(rrtype_rdata_to_text(RR_TYPE_A, (const uint8_t *)"\1\2\3", 3, buf, sizeof buf), 11);
    assert_string_equal(buf, "\\# 3 010203");
    /* A TXT whose length octet runs past the end. */
    rrtype_rdata_to_text(RR_TYPE_TXT, (const uint8_t *)"\5ab", 3, buf, sizeof buf);
    assert_string_equal(buf, "\\# 3 056162");
    /* Too small a buffer: -1, never an overrun, still terminated. */
    char small[8];
    assert_int_equal(rrtype_rdata_to_text(RR_TYPE_A, (const uint8_t *)"\xc0\0\2\1", 4, small, 8), -1);
    assert_true(strlen(small) < 8);
    /* The worst case fits in RDATA_TEXT_MAX: 65535 octets of \DDD in TXT. */
    uint8_t *rd = malloc(RDATA_MAX);
    char *big = malloc(RDATA_TEXT_MAX);
    assert_non_null(rd);
    assert_non_null(big);
    for (size_t off = 0; off < RDATA_MAX; off += 256) {
        size_t n = RDATA_MAX - off - 1 < 255 ? RDATA_MAX - off - 1 : 255;
        rd[off] = (uint8_t)n;
        memset(rd + off + 1, 0x01, n);
    }
    assert_true(rrtype_rdata_to_text(RR_TYPE_TXT, rd, RDATA_MAX, big, RDATA_TEXT_MAX) > 0);
    free(rd);
    free(big);
}

static void test_validation(void **state)
{
    (void)state;
    const char *err = NULL;
    assert_true(rrtype_rdata_valid(RR_TYPE_A, (const uint8_t *)"\1\2\3\4", 4, &err));
    assert_false(rrtype_rdata_valid(RR_TYPE_AAAA, (const uint8_t *)"\1\2\3\4", 4, &err));
    assert_string_equal(err, "malformed rdata for its type");
    assert_false(rrtype_rdata_valid(RR_TYPE_NS, (const uint8_t *)"\3ab", 3, &err));
    assert_false(rrtype_rdata_valid(RR_TYPE_NS, (const uint8_t *)"\1a\0\0", 4, &err));
    assert_false(rrtype_rdata_valid(RR_TYPE_CNAME, (const uint8_t *)"\x40", 1, &err));
    assert_false(rrtype_rdata_valid(RR_TYPE_MX, (const uint8_t *)"\0\1", 2, &err));
    assert_false(rrtype_rdata_valid(RR_TYPE_SOA, (const uint8_t *)"\0\0", 2, &err));
    assert_false(rrtype_rdata_valid(RR_TYPE_TXT, (const uint8_t *)"", 0, &err));
    assert_false(rrtype_rdata_valid(RR_TYPE_HINFO, (const uint8_t *)"\1a", 2, &err));
    assert_false(rrtype_rdata_valid(RR_TYPE_CAA, (const uint8_t *)"\0\0", 2, &err));
    assert_true(rrtype_rdata_valid(65400, (const uint8_t *)"", 0, &err));
    /* A name made of 128 one-octet labels is 257 octets: too long. */
    uint8_t longname[300];
    for (int i = 0; i < 128; i++) {
        longname[2 * i] = 1;
        longname[2 * i + 1] = 'a';
    }
    longname[256] = 0;
    assert_false(rrtype_rdata_valid(RR_TYPE_NS, longname, 257, &err));
}

static void test_name_positions(void **state)
{
    (void)state;
    static uint8_t out[RDATA_MAX];
    const char *err = NULL;
    size_t offs[2];
    int n = parse(RR_TYPE_SOA, "ns1 admin 1 2 3 4 5", out, &err);
    assert_int_equal(rrtype_rdata_names(RR_TYPE_SOA, out, (size_t)n, offs), 2);
    assert_int_equal(offs[0], 0);
    assert_int_equal(offs[1], 17);
    n = parse(RR_TYPE_MX, "10 mail", out, &err);
    assert_int_equal(rrtype_rdata_names(RR_TYPE_MX, out, (size_t)n, offs), 1);
    assert_int_equal(offs[0], 2);
    assert_int_equal(rrtype_rdata_names(RR_TYPE_SRV, out, 0, offs), 1);
    assert_int_equal(offs[0], 6);
    assert_int_equal(rrtype_rdata_names(RR_TYPE_NS, out, 0, offs), 1);
    assert_int_equal(offs[0], 0);
    assert_int_equal(rrtype_rdata_names(RR_TYPE_A, out, 0, offs), 0);
    assert_int_equal(rrtype_rdata_names(RR_TYPE_TXT, out, 0, offs), 0);
    assert_true(rrtype_names_compressible(RR_TYPE_MX));
    assert_true(rrtype_names_compressible(RR_TYPE_SOA));
    assert_false(rrtype_names_compressible(RR_TYPE_SRV));
    assert_false(rrtype_names_compressible(65400));

    uint8_t canon[64];
    rrtype_rdata_canonical(RR_TYPE_MX, (const uint8_t *)"\0\1\4MAIL\2Ex\0", 11, canon);
    assert_memory_equal(canon, "\0\1\4mail\2ex\0", 11);
    rrtype_rdata_canonical(RR_TYPE_TXT, (const uint8_t *)"\2AB", 3, canon);
    assert_memory_equal(canon, "\2AB", 3); /* TXT keeps its case */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_table),
        cmocka_unit_test(test_ttl_syntax),
        cmocka_unit_test(test_a_aaaa),
        cmocka_unit_test(test_name_types),
        cmocka_unit_test(test_soa),
        cmocka_unit_test(test_txt_hinfo),
        cmocka_unit_test(test_caa),
        cmocka_unit_test(test_rfc3597),
        cmocka_unit_test(test_print_malformed_and_overflow),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_name_positions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
