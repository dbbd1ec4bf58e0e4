/* tests/unit/test_zone_name.c — domain names: text <-> wire, comparisons,
 * canonical order, hashing (zone/name.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "zone/name.h"

static const uint8_t ORIGIN[] = "\7example\3com"; /* trailing NUL = root */

/* Parses text (relative to ORIGIN) and checks the wire bytes. */
static void expect_wire(const char *text, const uint8_t *want, size_t want_len)
{
    uint8_t out[NAME_MAX_WIRE];
    const char *err = NULL;
    int n = name_from_text(text, strlen(text), ORIGIN, out, &err);
    if (n < 0)
        fail_msg("%s: %s", text, err);
    assert_int_equal(n, want_len);
    assert_memory_equal(out, want, want_len);
    assert_int_equal(name_wire_len(out), want_len);
}

static void expect_error(const char *text, const uint8_t *origin, const char *why)
{
    uint8_t out[NAME_MAX_WIRE];
    const char *err = NULL;
    assert_int_equal(name_from_text(text, strlen(text), origin, out, &err), -1);
    assert_non_null(err);
    assert_string_equal(err, why);
}

static void test_absolute_relative_and_at(void **state)
{
    (void)state;
    expect_wire("www.example.com.", (const uint8_t *)"\3www\7example\3com", 17);
    expect_wire("www", (const uint8_t *)"\3www\7example\3com", 17);
    expect_wire("a.b", (const uint8_t *)"\1a\1b\7example\3com", 17);
    expect_wire("@", ORIGIN, sizeof ORIGIN);
    expect_wire(".", (const uint8_t *)"", 1);
    expect_wire("Mixed.CASE.", (const uint8_t *)"\5Mixed\4CASE", 12);
}

static void test_escapes(void **state)
{
    (void)state;
    expect_wire("a\\.b.", (const uint8_t *)"\3a.b", 5);
    expect_wire("\\065\\000x.", (const uint8_t *)"\3A\0x", 5);
    expect_wire("\\@\\;.", (const uint8_t *)"\2@;", 4);
    expect_wire("a\\ b.", (const uint8_t *)"\3a b", 5);
    expect_wire("\\255.", (const uint8_t *)"\1\377", 3);
}

static void test_errors(void **state)
{
    (void)state;
    expect_error("", ORIGIN, "empty name");
    expect_error("a..b.", ORIGIN, "empty label");
    expect_error(".a.", ORIGIN, "empty label");
    expect_error("a\\", ORIGIN, "dangling backslash");
    expect_error("a\\25", ORIGIN, "bad \\DDD escape");
    expect_error("a\\2x5", ORIGIN, "bad \\DDD escape");
    expect_error("\\256.", ORIGIN, "\\DDD escape above 255");
    expect_error("www", NULL, "relative name without an origin");
    expect_error("@", NULL, "\"@\" used without an origin");
    char label64[80];
    memset(label64, 'a', 64);
    strcpy(label64 + 64, ".");
    expect_error(label64, ORIGIN, "label longer than 63 octets");
}

static void test_length_limits(void **state)
{
    (void)state;
    /* 4 labels of 63 = 256 octets of labels: one octet too many with the
     * root. 3 x 63 + one 61-octet label = 254 + root = 255: the maximum. */
    char text[400];
    size_t n = 0;
    for (int l = 0; l < 4; l++) {
        int len = l == 3 ? 61 : 63;
        memset(text + n, 'a' + l, (size_t)len);
        n += (size_t)len;
        text[n++] = '.';
    }
    text[n] = '\0';
    uint8_t out[NAME_MAX_WIRE];
    const char *err = NULL;
    assert_int_equal(name_from_text(text, n, NULL, out, &err), 255);
    assert_int_equal(name_wire_len(out), 255);
    assert_int_equal(name_label_count(out), 4);

    text[n - 1] = 'z'; /* 62-octet last label: 256 octets */
    text[n++] = '.';
    text[n] = '\0';
    expect_error(text, NULL, "name longer than 255 octets");

    /* A relative name that only overflows once the origin is appended. */
    char rel[300];
    memset(rel, 'r', 63);
    rel[63] = '.';
    memset(rel + 64, 's', 63);
    rel[127] = '.';
    memset(rel + 128, 't', 63);
    rel[191] = '.';
    memset(rel + 192, 'u', 50);
    rel[242] = '\0';
    expect_error(rel, ORIGIN, "name longer than 255 octets");
}

static void test_to_text(void **state)
{
    (void)state;
    char buf[NAME_MAX_TEXT];
    assert_int_equal(name_to_text((const uint8_t *)"", buf, sizeof buf), 1);
    assert_string_equal(buf, ".");
    name_to_text((const uint8_t *)"\3www\7Example\3com", buf, sizeof buf);
    assert_string_equal(buf, "www.Example.com.");
    name_to_text((const uint8_t *)"\5a.b;c\2 \377", buf, sizeof buf);
    assert_string_equal(buf, "a\\.b\\;c.\\032\\255.");

    /* Round trip of every octet value through text and back. */
    uint8_t wire[NAME_MAX_WIRE];
    for (int c = 0; c < 256; c++) {
        uint8_t name[4] = { 2, (uint8_t)c, 'x', 0 };
        size_t len = name_to_text(name, buf, sizeof buf);
        const char *err = NULL;
        assert_int_equal(name_from_text(buf, len, NULL, wire, &err), 4);
        assert_memory_equal(wire, name, 4);
    }

    /* A too-small buffer is truncated, never overrun, and NUL-terminated. */
    char small[6];
    memset(small, 'X', sizeof small);
    size_t n = name_to_text((const uint8_t *)"\3www\7example\3com", small, sizeof small);
    assert_true(n < sizeof small);
    assert_int_equal(small[n], '\0');
}

static void test_equal_lower_hash(void **state)
{
    (void)state;
    const uint8_t *a = (const uint8_t *)"\3WwW\7example\3COM";
    const uint8_t *b = (const uint8_t *)"\3www\7EXAMPLE\3com";
    const uint8_t *c = (const uint8_t *)"\3wwx\7example\3com";
    assert_true(name_equal(a, b));
    assert_false(name_equal(a, c));
    assert_false(name_equal(a, ORIGIN));
    assert_int_equal(name_hash(a), name_hash(b));
    assert_int_not_equal(name_hash(a), name_hash(c));
    uint8_t low[NAME_MAX_WIRE];
    assert_int_equal(name_to_lower(a, low), 17);
    assert_memory_equal(low, "\3www\7example\3com", 17);
    /* Bytes above 0x7f are not letters: no folding (RFC 4343). */
    assert_false(name_equal((const uint8_t *)"\1\xc1", (const uint8_t *)"\1\xe1"));
}

static void test_canonical_order(void **state)
{
    (void)state;
    /* The example order of RFC 4034 §6.1. */
    const char *sorted[] = {
        "example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.",
        "zABC.a.EXAMPLE.", "z.example.", "\\001.z.example.", "*.z.example.",
        "\\200.z.example.",
    };
    size_t n = sizeof sorted / sizeof sorted[0];
    uint8_t w[9][NAME_MAX_WIRE];
    for (size_t i = 0; i < n; i++) {
        const char *err = NULL;
        assert_true(name_from_text(sorted[i], strlen(sorted[i]), NULL, w[i], &err) > 0);
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++) {
            int c = name_compare_canonical(w[i], w[j]);
            if (i < j)
                assert_true(c < 0);
            else if (i > j)
                assert_true(c > 0);
            else
                assert_int_equal(c, 0);
        }
    assert_int_equal(name_compare_canonical((const uint8_t *)"\1A", (const uint8_t *)"\1a"), 0);
}

static void test_subdomain_parent(void **state)
{
    (void)state;
    const uint8_t *www = (const uint8_t *)"\3www\7EXAMPLE\3com";
    assert_true(name_is_subdomain(www, ORIGIN));
    assert_true(name_is_subdomain(ORIGIN, ORIGIN));
    assert_true(name_is_subdomain(www, (const uint8_t *)""));
    assert_false(name_is_subdomain(ORIGIN, www));
    assert_false(name_is_subdomain((const uint8_t *)"\3www\10xexample\3com", ORIGIN));
    const uint8_t *p = name_parent(www);
    assert_true(name_equal(p, ORIGIN));
    p = name_parent(name_parent(p));
    assert_non_null(p);
    assert_int_equal(p[0], 0);
    assert_null(name_parent(p));
    assert_int_equal(name_label_count(www), 3);
    assert_int_equal(name_label_count((const uint8_t *)""), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_absolute_relative_and_at),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_length_limits),
        cmocka_unit_test(test_to_text),
        cmocka_unit_test(test_equal_lower_hash),
        cmocka_unit_test(test_canonical_order),
        cmocka_unit_test(test_subdomain_parent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
