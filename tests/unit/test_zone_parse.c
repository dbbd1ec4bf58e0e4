/* tests/unit/test_zone_parse.c — the master-file parser and the zone checks
 * (zone/zonefile.c, zone/zone_build.c): every construct with its exact
 * wire result, every check with its exact "file:line: reason", $INCLUDE
 * through files in a temporary directory, zone_from_records, and the seed
 * zones. Run from the repository root (as `make unit` does). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "zone/rrtype.h"
#include "zone/zone.h"

#define HEAD "$TTL 300\n$ORIGIN example.com.\n@ SOA ns admin 1 2 3 4 5\n" /* lines 1-3 */

static zone_t *parse(const char *text, const uint8_t *origin, char err[ZONE_ERR_MAX])
{
    err[0] = '\0';
    return zone_parse_text(text, strlen(text), "t.zone", origin, err);
}

static zone_t *parse_ok(const char *text, const uint8_t *origin)
{
    char err[ZONE_ERR_MAX];
    zone_t *z = parse(text, origin, err);
    if (z == NULL)
        fail_msg("unexpected error: %s", err);
    return z;
}

static void expect_error(const char *text, const uint8_t *origin, const char *want)
{
    char err[ZONE_ERR_MAX];
    zone_t *z = parse(text, origin, err);
    if (z != NULL) {
        zone_free(z);
        fail_msg("accepted, expected \"%s\"", want);
    }
    assert_string_equal(err, want);
}

static void expect_rr(const zone_t *z, size_t i, const char *owner, uint16_t type, uint32_t ttl,
                      const void *rdata, size_t rdlen)
{
    assert_true(i < z->count);
    const zone_rr_t *rr = &z->rrs[i];
    char text[NAME_MAX_TEXT];
    name_to_text(rr->owner, text, sizeof text);
    assert_string_equal(text, owner);
    assert_int_equal(rr->type, type);
    assert_int_equal(rr->rclass, RR_CLASS_IN);
    assert_int_equal(rr->ttl, ttl);
    assert_int_equal(rr->rdlen, rdlen);
    assert_memory_equal(rr->rdata, rdata, rdlen);
}

#define SOA_RDATA "\2ns\7example\3com\0\5admin\7example\3com\0\0\0\0\1\0\0\0\2\0\0\0\3\0\0\0\4\0\0\0\5"
#define SOA_LEN (sizeof SOA_RDATA - 1)

static void test_seed_zones(void **state)
{
    (void)state;
    const char *files[] = { "zones/z00.txt", "zones/z01.txt", "zones/z02.txt" };
    const char *origins[] = { "foo.com.", "bar.com.", "baz.com." };
    for (int i = 0; i < 3; i++) {
        char err[ZONE_ERR_MAX];
        zone_t *z = zone_parse_file(files[i], NULL, err);
        if (z == NULL)
            fail_msg("%s", err);
        assert_int_equal(z->count, 9);
        assert_int_equal(z->serial, 1234567890u);
        char text[NAME_MAX_TEXT];
        name_to_text(z->origin, text, sizeof text);
        assert_string_equal(text, origins[i]);
        assert_int_equal(z->rrs[0].type, RR_TYPE_SOA);
        assert_int_equal(z->rrs[0].ttl, 3600);
        assert_int_equal(z->rrs[8].type, RR_TYPE_CNAME);
        assert_int_equal(z->rrs[8].ttl, 43200);
        zone_free(z);
    }
}

static void test_basic_constructs(void **state)
{
    (void)state;
    zone_t *z = parse_ok(
        "; a comment line\n"
        "$TTL 1h\n"
        "$ORIGIN Example.COM.\n"
        "@   IN  SOA ns admin ( 1 ; serial\n"
        "            2 3       ; comment inside parentheses\n"
        "            4 5 )\n"
        "    NS  ns\n"                                  /* owner omitted */
        "ns  600 IN A 192.0.2.1\n"                      /* TTL then class */
        "www IN 700 A 192.0.2.2\n"                      /* class then TTL */
        "www.example.com. AAAA 2001:db8::1\n"            /* absolute, defaults */
        "mail MX 10 @\n"
        "txt TXT \"a;b\" \"c\\\"d\" word\n"
        "esc\\.aped\\065 A 10.0.0.1\n"
        "sub.deeper PTR host.other.net.\n"
        "$ORIGIN sub\n"                                 /* relative to Example.COM. */
        "x A 10.0.0.2\r\n"                              /* CRLF line end */
        "_sip._udp SRV 0 5 5060 x\n",
        NULL);
    assert_int_equal(z->count, 11);
    assert_int_equal(z->serial, 1);
    assert_memory_equal(z->origin, "\7Example\3COM", 13);
    expect_rr(z, 0, "Example.COM.", RR_TYPE_SOA, 3600,
              "\2ns\7Example\3COM\0\5admin\7Example\3COM\0\0\0\0\1\0\0\0\2\0\0\0\3\0\0\0\4\0\0\0\5", 55);
    expect_rr(z, 1, "Example.COM.", RR_TYPE_NS, 3600, "\2ns\7Example\3COM", 16);
    expect_rr(z, 2, "ns.Example.COM.", RR_TYPE_A, 600, "\xc0\0\2\1", 4);
    expect_rr(z, 3, "www.Example.COM.", RR_TYPE_A, 700, "\xc0\0\2\2", 4);
    expect_rr(z, 4, "www.Example.COM.", RR_TYPE_AAAA, 3600,
              "\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\1", 16);
    expect_rr(z, 5, "mail.Example.COM.", RR_TYPE_MX, 3600, "\0\x0a\7Example\3COM", 15);
    expect_rr(z, 6, "txt.Example.COM.", RR_TYPE_TXT, 3600, "\3a;b\3c\"d\4word", 13);
    expect_rr(z, 7, "esc\\.apedA.Example.COM.", RR_TYPE_A, 3600, "\12\0\0\1", 4);
    assert_memory_equal(z->rrs[7].owner, "\11esc.apedA\7Example\3COM", 23);
    expect_rr(z, 8, "sub.deeper.Example.COM.", RR_TYPE_PTR, 3600, "\4host\5other\3net", 16);
    expect_rr(z, 9, "x.sub.Example.COM.", RR_TYPE_A, 3600, "\12\0\0\2", 4);
    expect_rr(z, 10, "_sip._udp.sub.Example.COM.", RR_TYPE_SRV, 3600,
              "\0\0\0\5\x13\xc4\1x\3sub\7Example\3COM", 25);
    zone_free(z);
}

static void test_more_types(void **state)
{
    (void)state;
    zone_t *z = parse_ok(HEAD
                         "h HINFO \"PC\" \"Linux 6\"\n"
                         "@ CAA 0 issue \"ca.example.net\"\n"
                         "u TYPE65400 \\# 4 0a000001\n"
                         "g A \\# 4 c0000201\n"
                         "e TYPE65401 \\# 0\n"
                         "c CNAME h\n",
                         NULL);
    assert_int_equal(z->count, 7);
    expect_rr(z, 1, "h.example.com.", RR_TYPE_HINFO, 300, "\2PC\7Linux 6", 11);
    expect_rr(z, 2, "example.com.", RR_TYPE_CAA, 300, "\0\5issueca.example.net", 21);
    expect_rr(z, 3, "u.example.com.", 65400, 300, "\x0a\0\0\1", 4);
    expect_rr(z, 4, "g.example.com.", RR_TYPE_A, 300, "\xc0\0\2\1", 4);
    expect_rr(z, 5, "e.example.com.", 65401, 300, "", 0);
    expect_rr(z, 6, "c.example.com.", RR_TYPE_CNAME, 300, "\1h\7example\3com", 15);
    zone_free(z);
}

static void test_ttl_rules(void **state)
{
    (void)state;
    /* No $TTL: the SOA takes its minimum, which becomes the default. */
    zone_t *z = parse_ok("$ORIGIN example.com.\n"
                         "@ SOA ns admin 1 2 3 4 1d\n"
                         "a A 10.0.0.1\n", NULL);
    expect_rr(z, 0, "example.com.", RR_TYPE_SOA, 86400, z->rrs[0].rdata, z->rrs[0].rdlen);
    expect_rr(z, 1, "a.example.com.", RR_TYPE_A, 86400, "\12\0\0\1", 4);
    zone_free(z);

    /* No $TTL: a record without TTL takes the last explicit one (RFC 1035). */
    z = parse_ok("$ORIGIN example.com.\n"
                 "@ 100 SOA ns admin 1 2 3 4 5\n"
                 "a 200 A 10.0.0.1\n"
                 "b A 10.0.0.2\n", NULL);
    assert_int_equal(z->rrs[2].ttl, 200);
    zone_free(z);

    /* With $TTL, an omitted TTL is the $TTL, not the last explicit one;
     * a later $TTL applies from there on. */
    z = parse_ok(HEAD
                 "a 200 A 10.0.0.1\n"
                 "b A 10.0.0.2\n"
                 "$TTL 2h30m\n"
                 "c A 10.0.0.3\n"
                 "d 2147483647 A 10.0.0.4\n", NULL);
    assert_int_equal(z->rrs[1].ttl, 200);
    assert_int_equal(z->rrs[2].ttl, 300);
    assert_int_equal(z->rrs[3].ttl, 9000);
    assert_int_equal(z->rrs[4].ttl, 2147483647u);
    zone_free(z);

    /* An RRset has one TTL: the first record's (BIND does the same). */
    z = parse_ok(HEAD "a 100 A 10.0.0.1\na 200 A 10.0.0.2\na 50 TXT x\n", NULL);
    assert_int_equal(z->rrs[1].ttl, 100);
    assert_int_equal(z->rrs[2].ttl, 100);
    assert_int_equal(z->rrs[3].ttl, 50);
    zone_free(z);
}

static void test_duplicates_merged(void **state)
{
    (void)state;
    zone_t *z = parse_ok(HEAD
                         "a A 10.0.0.1\n"
                         "A.example.com. 60 A 10.0.0.1\n"      /* same RR, other case and TTL */
                         "a A 10.0.0.2\n"
                         "m MX 10 Mail\n"
                         "m MX 10 mail.EXAMPLE.com.\n"         /* names in rdata: case-insensitive */
                         "t TXT \"X\"\n"
                         "t TXT \"x\"\n"                       /* TXT: case matters */
                         "@ SOA ns admin 1 2 3 4 5\n",         /* the same SOA again */
                         NULL);
    assert_int_equal(z->count, 6);
    expect_rr(z, 1, "a.example.com.", RR_TYPE_A, 300, "\12\0\0\1", 4);
    expect_rr(z, 2, "a.example.com.", RR_TYPE_A, 300, "\12\0\0\2", 4);
    expect_rr(z, 3, "m.example.com.", RR_TYPE_MX, 300, "\0\x0a\4Mail\7example\3com", 20);
    expect_rr(z, 4, "t.example.com.", RR_TYPE_TXT, 300, "\1X", 2);
    expect_rr(z, 5, "t.example.com.", RR_TYPE_TXT, 300, "\1x", 2);
    /* Records of one owner share one copy of the name. */
    assert_ptr_equal(z->rrs[1].owner, z->rrs[2].owner);
    zone_free(z);
}

static void test_origin_parameter(void **state)
{
    (void)state;
    static const uint8_t origin[] = "\7example\3com";
    zone_t *z = parse_ok("$TTL 60\n@ SOA ns admin 1 2 3 4 5\nwww A 10.0.0.1\n", origin);
    assert_int_equal(z->count, 2);
    expect_rr(z, 1, "www.example.com.", RR_TYPE_A, 60, "\12\0\0\1", 4);
    zone_free(z);
    /* The apex is the given origin even when $ORIGIN moves on. */
    expect_error("$TTL 60\n$ORIGIN sub.example.com.\n@ SOA ns admin 1 2 3 4 5\n", origin,
                 "t.zone:3: SOA record not at the zone apex");
    expect_error("$TTL 60\n@ SOA ns admin 1 2 3 4 5\nx.org. A 10.0.0.1\n", origin,
                 "t.zone:3: x.org. is out of zone example.com.");
}

/* Every bad input with the exact line and reason. */
static void test_bad_inputs(void **state)
{
    (void)state;
    static const struct {
        const char *text, *err;
    } cases[] = {
        { HEAD "www A2 1.2.3.4\n", "t.zone:4: unknown type 'A2'" },
        { HEAD "www A 1.2.3\n", "t.zone:4: A rdata: invalid IPv4 address" },
        { HEAD "www A\n", "t.zone:4: A rdata: missing rdata field" },
        { HEAD "www A 1.2.3.4 5\n", "t.zone:4: A rdata: extra rdata field" },
        { HEAD "www AAAA 1::2::3\n", "t.zone:4: AAAA rdata: invalid IPv6 address" },
        { HEAD "www CH A 1.2.3.4\n", "t.zone:4: class 'CH' is not supported (only IN)" },
        { HEAD "www 30 HS A 1.2.3.4\n", "t.zone:4: class 'HS' is not supported (only IN)" },
        { HEAD "www CLASS3 TXT x\n", "t.zone:4: class 'CLASS3' is not supported (only IN)" },
        { HEAD "www.other.com. A 1.2.3.4\n", "t.zone:4: www.other.com. is out of zone example.com." },
        { HEAD "\n\ncom. NS ns\n", "t.zone:6: com. is out of zone example.com." },
        { HEAD "@ SOA ns admin 2 2 3 4 5\n", "t.zone:4: multiple SOA records" },
        { HEAD "sub SOA ns admin 1 2 3 4 5\n", "t.zone:4: multiple SOA records" },
        { "$TTL 1\n$ORIGIN x.\nwww A 1.2.3.4\n", "t.zone:3: no SOA record" },
        { "", "t.zone:1: no SOA record" },
        { HEAD "www CNAME a\nwww A 1.2.3.4\n", "t.zone:5: CNAME and other data at www.example.com." },
        { HEAD "www A 1.2.3.4\nWWW CNAME a\n", "t.zone:5: CNAME and other data at www.example.com." },
        { HEAD "www CNAME a\nwww CNAME b\n", "t.zone:5: multiple CNAME records at www.example.com." },
        { HEAD "@ CNAME a\n", "t.zone:4: CNAME and other data at example.com." },
        { HEAD "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa A 1.2.3.4\n",
          "t.zone:4: bad name 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa': "
          "label longer than 63 octets" },
        { HEAD "www NS a..b.\n", "t.zone:4: NS rdata: empty label" },
        { HEAD "www 2147483648 A 1.2.3.4\n", "t.zone:4: TTL 2147483648 above 2147483647" },
        { HEAD "www 1x A 1.2.3.4\n", "t.zone:4: invalid TTL '1x'" },
        { HEAD "www 4294967296 A 1.2.3.4\n", "t.zone:4: TTL out of range '4294967296'" },
        { HEAD "$TTL abc\n", "t.zone:4: invalid TTL 'abc'" },
        { HEAD "$TTL\n", "t.zone:4: $TTL takes one TTL" },
        { HEAD "$TTL 3000000000\n", "t.zone:4: TTL 3000000000 above 2147483647" },
        { HEAD "$ORIGIN\n", "t.zone:4: $ORIGIN takes one name" },
        { HEAD "$ORIGIN a..b.\n", "t.zone:4: bad name 'a..b.': empty label" },
        { HEAD "$GENERATE 1-2 a$ A 1.2.3.4\n", "t.zone:4: unsupported directive '$GENERATE'" },
        { HEAD "$INCLUDE nothere.zone\n",
          "t.zone:4: cannot read $INCLUDE file './nothere.zone': No such file or directory" },
        { HEAD "$INCLUDE\n", "t.zone:4: $INCLUDE takes a file name and an optional origin" },
        { HEAD "www TXT \"abc\n", "t.zone:4: newline inside a quoted string" },
        { HEAD "www TXT \"abc", "t.zone:4: unterminated quoted string" },
        { HEAD "www TXT ( a\nb\n", "t.zone:4: unbalanced parenthesis" },
        { HEAD "www TXT a )\n", "t.zone:4: closing parenthesis without an opening one" },
        { "$TTL 1\n  A 1.2.3.4\n", "t.zone:2: no previous owner name to repeat" },
        { "$ORIGIN example.com.\nwww A 1.2.3.4\n",
          "t.zone:2: no TTL specified (no $TTL and no earlier TTL)" },
        { "www 1 A 1.2.3.4\n", "t.zone:1: bad name 'www': relative name without an origin" },
        { "@ 1 SOA a. b. 1 2 3 4 5\n", "t.zone:1: bad name '@': \"@\" used without an origin" },
        { HEAD "www 300 IN\n", "t.zone:4: missing type" },
        { HEAD "www 300 400 A 1.2.3.4\n", "t.zone:4: two TTLs in one record" },
        { HEAD "www IN IN A 1.2.3.4\n", "t.zone:4: two classes in one record" },
        { HEAD "www ANY \\# 0\n", "t.zone:4: type ANY is not allowed in a zone" },
        { HEAD "www OPT \\# 0\n", "t.zone:4: type OPT is not allowed in a zone" },
        { HEAD "www TYPE0 \\# 0\n", "t.zone:4: type TYPE0 is not allowed in a zone" },
        { HEAD "www TYPE65400 0a000001\n",
          "t.zone:4: TYPE65400 rdata: unknown type needs RFC 3597 \\# rdata" },
        { HEAD "www TYPE65400 \\# 2 0a\n",
          "t.zone:4: TYPE65400 rdata: RFC 3597 rdata shorter than its length" },
        { HEAD "www A \\# 3 010203\n", "t.zone:4: A rdata: malformed rdata for its type" },
        { HEAD "@ MX 70000 mail\n", "t.zone:4: MX rdata: number out of range" },
        { HEAD "w\\2ww A 1.2.3.4\n", "t.zone:4: bad name 'w\\2ww': bad \\DDD escape" },
        { HEAD "w\\999 A 1.2.3.4\n", "t.zone:4: bad name 'w\\999': \\DDD escape above 255" },
        { HEAD "www SOA ns admin 1 2 3\n", "t.zone:4: SOA rdata: missing rdata field" },
        { HEAD "@ CAA 0 iss_ue \"x\"\n", "t.zone:4: CAA rdata: invalid CAA tag" },
        { HEAD "\"www\" A 1.2.3.4\n", "t.zone:4: quoted string where a name was expected" },
        { HEAD "srv SRV 1 2 3\n", "t.zone:4: SRV rdata: missing rdata field" },
        { HEAD "h HINFO a\n", "t.zone:4: HINFO rdata: missing rdata field" },
        /* Multi-line records report the line where they start; lines are
         * still counted inside parentheses and comments. */
        { "$TTL 1\n$ORIGIN example.com.\n@ SOA ns admin (\n 1 ; s\n 2 3 4x 5 )\n",
          "t.zone:3: SOA rdata: invalid SOA timer" },
        { HEAD "a TXT ( \"x\" ; c\n \"y\" )\nb A 1.2.3\n", "t.zone:6: A rdata: invalid IPv4 address" },
        { "$ORIGIN example.com.\n@ SOA ns admin 1 2 3 4 4294967295\n",
          "t.zone:2: SOA minimum 4294967295 above 2147483647 used as TTL" },
        { HEAD "www PTR \"x.\"\n", "t.zone:4: PTR rdata: quoted string where a name was expected" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_error(cases[i].text, NULL, cases[i].err);
    assert_true(sizeof cases / sizeof cases[0] >= 40);

    /* Long names and long strings, built rather than written out. */
    char text[2048];
    char label[64];
    memset(label, 'a', 63);
    label[63] = '\0';
    snprintf(text, sizeof text, HEAD "%s.%s.%s.%s A 1.2.3.4\n", label, label, label, label);
    char want[512];
    snprintf(want, sizeof want, "t.zone:4: bad name '%.64s': name longer than 255 octets", text + strlen(HEAD));
    expect_error(text, NULL, want);
    char txt[300];
    memset(txt, 'x', 256);
    txt[256] = '\0';
    snprintf(text, sizeof text, HEAD "t TXT \"%s\"\n", txt);
    expect_error(text, NULL, "t.zone:4: TXT rdata: character string longer than 255 octets");
}

/* Hostile input: random mutations of a rich zone must never crash (this
 * test is meant to run under ASan/UBSan) and whatever is accepted must
 * satisfy the zone invariants. Deterministic: fixed seed. */
static void test_mutations_never_crash(void **state)
{
    (void)state;
    static const char base[] = HEAD
        "www 60 IN A 10.0.0.1\n"
        "  AAAA 2001:db8::1\n"
        "m MX ( 10 ; pref\n mail.example.com. )\n"
        "t TXT \"a\\\"b\" c\\059d \"\\255\"\n"
        "s SRV 1 2 3 t\\.x\n"
        "c CNAME www\n"
        "@ CAA 0 issue \"ca\"\n"
        "u TYPE65400 \\# 2 0a0b\n";
    static const char alphabet[] = "()\";\\\n \t$@.0123456789aZ#\xff";
    char text[sizeof base + 8];
    static char shown[RDATA_TEXT_MAX];
    unsigned seed = 12345;
    size_t accepted = 0;
    for (int iter = 0; iter < 4000; iter++) {
        memcpy(text, base, sizeof base);
        size_t len = sizeof base - 1;
        int edits = 1 + iter % 4;
        for (int e = 0; e < edits; e++) {
            seed = seed * 1103515245u + 12345u;
            size_t at = (seed >> 8) % len;
            seed = seed * 1103515245u + 12345u;
            text[at] = alphabet[(seed >> 8) % (sizeof alphabet - 1)];
        }
        char err[ZONE_ERR_MAX];
        zone_t *z = zone_parse_text(text, len, "m.zone", NULL, err);
        if (z == NULL) {
            assert_true(strncmp(err, "m.zone:", 7) == 0);
            continue;
        }
        accepted++;
        for (size_t i = 0; i < z->count; i++) {
            const zone_rr_t *rr = &z->rrs[i];
            const char *why = NULL;
            assert_true(name_is_subdomain(rr->owner, z->origin));
            assert_true(rrtype_rdata_valid(rr->type, rr->rdata, rr->rdlen, &why));
            assert_true(rr->ttl <= TTL_MAX);
            assert_true(rrtype_rdata_to_text(rr->type, rr->rdata, rr->rdlen, shown, sizeof shown) >= 0);
        }
        zone_free(z);
    }
    /* Some mutations land in comments or keep the file valid. */
    assert_true(accepted > 0);
}

/* Printing every record in presentation form and parsing that text again
 * gives the same records: the printer and the parser agree. */
static void test_print_parse_round_trip(void **state)
{
    (void)state;
    zone_t *z = parse_ok(HEAD
                         "a\\ b\\.c 60 A 10.0.0.1\n"
                         "  AAAA ::ffff:1.2.3.4\n"
                         "t TXT \"q\\\"\\\\\" \"\\000\\255\" \"\" w;\n"
                         "m MX 0 .\n"
                         "s SRV 1 2 3 \\@x\n"
                         "h HINFO \"a b\" c\n"
                         "@ CAA 128 tbs \"\\\"v\\\"\"\n"
                         "g TYPE65400 \\# 3 000102\n"
                         "e TYPE65401 \\# 0\n"
                         "p PTR \\000.example.com.\n"
                         "c CNAME *.wild\n",
                         NULL);
    static char text[1 << 16];
    static char rdata[RDATA_TEXT_MAX];
    size_t n = 0;
    for (size_t i = 0; i < z->count; i++) {
        const zone_rr_t *rr = &z->rrs[i];
        char owner[NAME_MAX_TEXT], type[RRTYPE_TEXT_MAX];
        name_to_text(rr->owner, owner, sizeof owner);
        assert_true(rrtype_rdata_to_text(rr->type, rr->rdata, rr->rdlen, rdata, sizeof rdata) >= 0);
        n += (size_t)snprintf(text + n, sizeof text - n, "%s %u IN %s %s\n", owner,
                              (unsigned)rr->ttl, rrtype_to_text(rr->type, type), rdata);
        assert_true(n < sizeof text);
    }
    char err[ZONE_ERR_MAX];
    zone_t *again = zone_parse_text(text, n, "printed", NULL, err);
    if (again == NULL)
        fail_msg("%s\n%s", err, text);
    assert_int_equal(again->count, z->count);
    for (size_t i = 0; i < z->count; i++) {
        const zone_rr_t *a = &z->rrs[i], *b = &again->rrs[i];
        assert_int_equal(name_wire_len(a->owner), name_wire_len(b->owner));
        assert_memory_equal(a->owner, b->owner, name_wire_len(a->owner));
        assert_int_equal(a->type, b->type);
        assert_int_equal(a->ttl, b->ttl);
        assert_int_equal(a->rdlen, b->rdlen);
        assert_memory_equal(a->rdata, b->rdata, a->rdlen);
    }
    zone_free(again);
    zone_free(z);
}

/* ---- $INCLUDE ---- */

static char tmpdir[64];

static void write_file(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int make_tmpdir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/test_zone_parse.XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int remove_tmpdir(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static zone_t *parse_tmp(const char *name, char err[ZONE_ERR_MAX])
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", tmpdir, name);
    return zone_parse_file(path, NULL, err);
}

static void test_include(void **state)
{
    (void)state;
    char sub[128];
    snprintf(sub, sizeof sub, "%s/sub", tmpdir);
    assert_int_equal(mkdir(sub, 0700), 0);
    write_file("sub/hosts.inc",
               "www A 10.0.0.1\n"
               "$ORIGIN deeper\n"          /* only for the rest of this file */
               "x A 10.0.0.2\n"
               "$TTL 77\n");               /* $TTL carries over, as in BIND */
    write_file("sub/mail.inc", "@ MX 10 mx\n");
    write_file("main.zone",
               "$TTL 300\n"
               "$ORIGIN example.com.\n"
               "@ SOA ns admin 1 2 3 4 5\n"
               "$INCLUDE sub/hosts.inc\n"
               "after A 10.0.0.3\n"
               "$INCLUDE \"sub/mail.inc\" mail.example.com.\n");
    char err[ZONE_ERR_MAX];
    zone_t *z = parse_tmp("main.zone", err);
    if (z == NULL)
        fail_msg("%s", err);
    assert_int_equal(z->count, 5);
    expect_rr(z, 1, "www.example.com.", RR_TYPE_A, 300, "\12\0\0\1", 4);
    expect_rr(z, 2, "x.deeper.example.com.", RR_TYPE_A, 300, "\12\0\0\2", 4);
    expect_rr(z, 3, "after.example.com.", RR_TYPE_A, 77, "\12\0\0\3", 4);
    expect_rr(z, 4, "mail.example.com.", RR_TYPE_MX, 77, "\0\x0a\2mx\4mail\7example\3com", 23);
    zone_free(z);
}

static void test_include_errors(void **state)
{
    (void)state;
    char err[ZONE_ERR_MAX], want[512];
    /* An error inside an included file names that file and its line. */
    write_file("bad.inc", "ok A 10.0.0.1\n\nbad A 10.0.0\n");
    write_file("top.zone", "$TTL 1\n$ORIGIN example.com.\n@ SOA ns admin 1 2 3 4 5\n$INCLUDE bad.inc\n");
    assert_null(parse_tmp("top.zone", err));
    /* The path is shown as it was built: the including file's directory
     * joined with the name given to $INCLUDE. */
    snprintf(want, sizeof want, "%s/bad.inc:3: A rdata: invalid IPv4 address", tmpdir);
    assert_string_equal(err, want);

    /* A file including itself. */
    write_file("loop.zone", "$TTL 1\n$ORIGIN example.com.\n@ SOA ns admin 1 2 3 4 5\n$INCLUDE loop2.inc\n");
    write_file("loop2.inc", "a A 10.0.0.1\n$INCLUDE loop.zone\n");
    assert_null(parse_tmp("loop.zone", err));
    snprintf(want, sizeof want, "%s/loop2.inc:2: $INCLUDE loop: '%s/loop.zone' is already being read",
             tmpdir, tmpdir);
    assert_string_equal(err, want);

    /* A chain deeper than the limit (16 files). */
    for (int i = 0; i < 20; i++) {
        char name[32], text[64];
        snprintf(name, sizeof name, "chain%d.inc", i);
        snprintf(text, sizeof text, "$INCLUDE chain%d.inc\n", i + 1);
        write_file(name, text);
    }
    write_file("deep.zone", "$TTL 1\n$ORIGIN example.com.\n@ SOA ns admin 1 2 3 4 5\n$INCLUDE chain1.inc\n");
    assert_null(parse_tmp("deep.zone", err));
    snprintf(want, sizeof want, "%s/chain15.inc:1: $INCLUDE nested more than 16 deep", tmpdir);
    assert_string_equal(err, want);

    /* The top file missing. */
    assert_null(parse_tmp("absent.zone", err));
    snprintf(want, sizeof want, "%s/absent.zone:0: cannot read: No such file or directory", tmpdir);
    assert_string_equal(err, want);
}

/* ---- only regular files are read (issue #12: a FIFO hung the loader) ---- */

/* Each case must return at once: a blocking open() of a FIFO without a
 * writer would hang this test, so a watchdog alarm turns a hang into a
 * failure (SIGALRM's default action kills the process). */
static void test_not_regular_files(void **state)
{
    (void)state;
    char err[ZONE_ERR_MAX], want[512], path[256];
    alarm(10);

    snprintf(path, sizeof path, "%s/fifo.zone", tmpdir);
    assert_int_equal(mkfifo(path, 0600), 0);
    assert_null(zone_parse_file(path, NULL, err));
    snprintf(want, sizeof want, "%s: not a regular file", path);
    assert_string_equal(err, want);

    snprintf(path, sizeof path, "%s/dir.zone", tmpdir);
    assert_int_equal(mkdir(path, 0700), 0);
    assert_null(zone_parse_file(path, NULL, err));
    snprintf(want, sizeof want, "%s: not a regular file", path);
    assert_string_equal(err, want);

    assert_null(zone_parse_file("/dev/zero", NULL, err));
    assert_string_equal(err, "/dev/zero: not a regular file");

    /* Through $INCLUDE: the including file and line, then the name. */
    write_file("incfifo.zone", HEAD "a A 10.0.0.1\n$INCLUDE fifo.zone\n");
    assert_null(parse_tmp("incfifo.zone", err));
    snprintf(want, sizeof want, "%s/incfifo.zone:5: $INCLUDE '%s/fifo.zone': not a regular file",
             tmpdir, tmpdir);
    assert_string_equal(err, want);

    write_file("inczero.zone", HEAD "$INCLUDE /dev/zero\n");
    assert_null(parse_tmp("inczero.zone", err));
    snprintf(want, sizeof want, "%s/inczero.zone:4: $INCLUDE '/dev/zero': not a regular file", tmpdir);
    assert_string_equal(err, want);

    /* A symlink to a regular file is read, as the top file and included. */
    write_file("real.zone", HEAD "www A 10.0.0.9\n");
    snprintf(path, sizeof path, "%s/link.zone", tmpdir);
    assert_int_equal(symlink("real.zone", path), 0);
    zone_t *z = zone_parse_file(path, NULL, err);
    if (z == NULL)
        fail_msg("%s", err);
    assert_int_equal(z->count, 2);
    zone_free(z);
    write_file("hosts.real", "host A 10.0.0.8\n");
    snprintf(path, sizeof path, "%s/hosts.link", tmpdir);
    assert_int_equal(symlink("hosts.real", path), 0);
    write_file("inclink.zone", HEAD "$INCLUDE hosts.link\n");
    z = parse_tmp("inclink.zone", err);
    if (z == NULL)
        fail_msg("%s", err);
    assert_int_equal(z->count, 2);
    zone_free(z);

    /* A symlink to a FIFO is still not a regular file. */
    snprintf(path, sizeof path, "%s/fifolink.zone", tmpdir);
    assert_int_equal(symlink("fifo.zone", path), 0);
    assert_null(zone_parse_file(path, NULL, err));
    snprintf(want, sizeof want, "%s: not a regular file", path);
    assert_string_equal(err, want);
    alarm(0);
}

/* ---- zone_from_records ---- */

static void test_from_records(void **state)
{
    (void)state;
    static const uint8_t origin[] = "\7example\3com";
    zone_t *src = parse_ok(HEAD "www A 10.0.0.1\nwww TXT hello\nc CNAME www\n", NULL);
    char err[ZONE_ERR_MAX];
    zone_t *z = zone_from_records(origin, src->rrs, src->count, err);
    if (z == NULL)
        fail_msg("%s", err);
    assert_int_equal(z->count, 4);
    assert_int_equal(z->serial, 1);
    for (size_t i = 0; i < z->count; i++) {
        assert_ptr_not_equal(z->rrs[i].rdata, src->rrs[i].rdata); /* copied */
        assert_true(name_equal(z->rrs[i].owner, src->rrs[i].owner));
        assert_int_equal(z->rrs[i].type, src->rrs[i].type);
        assert_int_equal(z->rrs[i].ttl, src->rrs[i].ttl);
        assert_int_equal(z->rrs[i].rdlen, src->rrs[i].rdlen);
        assert_memory_equal(z->rrs[i].rdata, src->rrs[i].rdata, src->rrs[i].rdlen);
    }
    zone_free(z);

    zone_rr_t rrs[5];
    memcpy(rrs, src->rrs, 4 * sizeof rrs[0]);
    /* A duplicate is merged. */
    rrs[4] = src->rrs[1];
    z = zone_from_records(origin, rrs, 5, err);
    assert_non_null(z);
    assert_int_equal(z->count, 4);
    zone_free(z);

    rrs[4].rclass = 3;
    assert_null(zone_from_records(origin, rrs, 5, err));
    assert_string_equal(err, "records:5: class 3 is not supported (only IN)");
    rrs[4] = src->rrs[1];
    rrs[4].type = RR_TYPE_AXFR;
    assert_null(zone_from_records(origin, rrs, 5, err));
    assert_string_equal(err, "records:5: type AXFR is not allowed in a zone");
    rrs[4] = src->rrs[1];
    rrs[4].rdlen = 3;
    assert_null(zone_from_records(origin, rrs, 5, err));
    assert_string_equal(err, "records:5: A rdata: malformed rdata for its type");
    rrs[4] = src->rrs[1];
    rrs[4].ttl = 0x80000000u;
    assert_null(zone_from_records(origin, rrs, 5, err));
    assert_string_equal(err, "records:5: TTL above 2147483647");
    rrs[4] = src->rrs[3]; /* the CNAME at c, */
    rrs[4].type = RR_TYPE_NS; /* with an NS beside it */
    assert_null(zone_from_records(origin, rrs, 5, err));
    assert_string_equal(err, "records:5: CNAME and other data at c.example.com.");
    rrs[4] = src->rrs[1];
    rrs[4].owner = (const uint8_t *)"\x40oops";
    assert_null(zone_from_records(origin, rrs, 5, err));
    assert_string_equal(err, "records:5: invalid owner name");
    assert_null(zone_from_records(origin, rrs + 1, 3, err));
    assert_string_equal(err, "records:3: no SOA record");
    zone_free(src);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seed_zones),
        cmocka_unit_test(test_basic_constructs),
        cmocka_unit_test(test_more_types),
        cmocka_unit_test(test_ttl_rules),
        cmocka_unit_test(test_duplicates_merged),
        cmocka_unit_test(test_origin_parameter),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_mutations_never_crash),
        cmocka_unit_test(test_print_parse_round_trip),
        cmocka_unit_test(test_include),
        cmocka_unit_test(test_include_errors),
        cmocka_unit_test(test_not_regular_files),
        cmocka_unit_test(test_from_records),
    };
    return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
