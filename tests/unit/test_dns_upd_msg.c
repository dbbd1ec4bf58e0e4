/* tests/unit/test_dns_upd_msg.c — RFC 2136 UPDATE message parsing
 * (dns/upd_msg.c): sections read with names decompressed (owners and the
 * names inside NS/CNAME/SOA/PTR/MX rdata), the zone section rules of
 * §3.1.1 (exactly one entry, type SOA: FORMERR otherwise), NOTIMP for
 * another opcode, and FORMERR for every truncation, a response, a name
 * inside rdata running past the rdata, and counts larger than the records
 * present. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "dns/upd_msg.h"
#include "zone/rrtype.h"

/* UPDATE example.com: prereq "www ANY A" (compressed owner), update
 * "mx IN MX 10 www.example.com." with the exchange compressed to a pointer
 * at the prerequisite's owner. */
static const uint8_t MSG[] = {
    0x12, 0x34, 0x28, 0x00, 0, 1, 0, 1, 0, 1, 0, 0,
    /* 12: zone */
    7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 6, 0, 1,
    /* 29: prereq owner www + ptr 12 */
    3, 'w', 'w', 'w', 0xc0, 12, 0, 1, 0, 255, 0, 0, 0, 0, 0, 0,
    /* 45: update owner mx + ptr 12 */
    2, 'm', 'x', 0xc0, 12, 0, 15, 0, 1, 0, 0, 1, 0x2c, 0, 4, 0, 10, 0xc0, 29,
};

static void test_parse_decompresses(void **state)
{
    (void)state;
    zone_update_t u;
    const char *why = NULL;
    assert_int_equal(dns_update_parse(MSG, sizeof MSG, &u, &why), ZU_NOERROR);
    assert_true(name_equal(u.zname, (const uint8_t *)"\7example\3com"));
    assert_int_equal(u.zclass, 1);
    assert_int_equal(u.nprereq, 1);
    assert_int_equal(u.nupdate, 1);
    assert_true(name_equal(u.prereq[0].owner, (const uint8_t *)"\3www\7example\3com"));
    assert_int_equal(u.prereq[0].rclass, ZU_CLASS_ANY);
    assert_int_equal(u.prereq[0].type, RR_TYPE_A);
    assert_int_equal(u.prereq[0].rdlen, 0);
    const zone_rr_t *mx = &u.update[0];
    assert_true(name_equal(mx->owner, (const uint8_t *)"\2mx\7example\3com"));
    assert_int_equal(mx->ttl, 300);
    assert_int_equal(mx->rdlen, 2 + 17); /* preference + www.example.com. uncompressed */
    assert_memory_equal(mx->rdata, "\0\12\3www\7example\3com", 19);
    const char *err;
    assert_true(rrtype_rdata_valid(mx->type, mx->rdata, mx->rdlen, &err));
    zone_update_free(&u);
}

static void expect_rc(const uint8_t *msg, size_t len, int want)
{
    zone_update_t u;
    const char *why = NULL;
    assert_int_equal(dns_update_parse(msg, len, &u, &why), want);
    if (want != ZU_NOERROR) {
        assert_non_null(why);
        assert_null(u.prereq);
        assert_null(u.update);
        assert_null(u.arena);
    } else {
        zone_update_free(&u);
    }
}

static void test_every_truncation_is_formerr(void **state)
{
    (void)state;
    for (size_t cut = 0; cut < sizeof MSG; cut++)
        expect_rc(MSG, cut, ZU_FORMERR);
}

static void test_header_and_zone_section_rules(void **state)
{
    (void)state;
    uint8_t m[sizeof MSG];
    memcpy(m, MSG, sizeof m);
    m[2] = 0x00; /* opcode QUERY */
    expect_rc(m, sizeof m, ZU_NOTIMP);
    memcpy(m, MSG, sizeof m);
    m[2] |= 0x80; /* QR: a response */
    expect_rc(m, sizeof m, ZU_FORMERR);
    memcpy(m, MSG, sizeof m);
    m[5] = 2; /* ZOCOUNT 2 (§3.1.1) */
    expect_rc(m, sizeof m, ZU_FORMERR);
    memcpy(m, MSG, sizeof m);
    m[5] = 0;
    expect_rc(m, sizeof m, ZU_FORMERR);
    memcpy(m, MSG, sizeof m);
    m[26] = 1; /* ZTYPE A */
    expect_rc(m, sizeof m, ZU_FORMERR);
    memcpy(m, MSG, sizeof m);
    m[9] = 2; /* UPCOUNT larger than the records present */
    expect_rc(m, sizeof m, ZU_FORMERR);
    memcpy(m, MSG, sizeof m);
    m[sizeof m - 5] = 3; /* MX rdlength 3: the name runs past the rdata */
    expect_rc(m, sizeof m, ZU_FORMERR);
    memcpy(m, MSG, sizeof m);
    m[sizeof m - 1] = 63; /* a pointer forwards, to itself */
    expect_rc(m, sizeof m, ZU_FORMERR);
}

static void test_empty_sections_parse(void **state)
{
    (void)state;
    uint8_t m[29];
    memcpy(m, MSG, sizeof m);
    m[7] = 0;
    m[9] = 0;
    expect_rc(m, sizeof m, ZU_NOERROR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_decompresses),
        cmocka_unit_test(test_every_truncation_is_formerr),
        cmocka_unit_test(test_header_and_zone_section_rules),
        cmocka_unit_test(test_empty_sections_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
