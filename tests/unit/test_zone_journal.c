/* tests/unit/test_zone_journal.c — IXFR condensing (zone/journal.h):
 *  - one changeset comes back as itself, SOAs framing it;
 *  - an RR added then removed (and removed then added back) across
 *    changesets disappears from the condensed form;
 *  - a start in the middle of the journal uses only the later changesets;
 *  - the newest serial is "up to date"; a serial not in the journal, a
 *    chain with a gap, and a serial that moved back are ZJ_NONE (AXFR);
 *  - RFC 1982 wrap: serials 4294967295 -> 0 -> 1 chain and condense. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "zone/journal.h"
#include "zone/rrtype.h"

static const uint8_t ORIGIN[] = "\7example\3com";
static const uint8_t WWW[] = "\3www\7example\3com";
static const uint8_t MAIL[] = "\4mail\7example\3com";

typedef struct soa_rd {
    uint8_t b[2 + 20];
} soa_rd_t;

static soa_rd_t soa_rdata(uint32_t serial)
{
    soa_rd_t r = { { 0, 0 } }; /* mname ".", rname "." */
    r.b[2] = (uint8_t)(serial >> 24);
    r.b[3] = (uint8_t)(serial >> 16);
    r.b[4] = (uint8_t)(serial >> 8);
    r.b[5] = (uint8_t)serial;
    return r;
}

static zone_rr_t rr(const uint8_t *owner, uint16_t type, const uint8_t *rd, uint16_t rdlen)
{
    return (zone_rr_t){ .owner = owner, .type = type, .rclass = 1, .ttl = 60, .rdlen = rdlen,
                        .rdata = rd };
}

static const uint8_t A1[4] = { 192, 0, 2, 1 }, A2[4] = { 192, 0, 2, 2 }, A3[4] = { 192, 0, 2, 3 };

/* A changeset from -> to: the SOAs plus the given removals/additions. */
static void make_cs(zone_changeset_t *cs, uint32_t from, uint32_t to, const zone_rr_t *rem,
                    size_t nrem, const zone_rr_t *add, size_t nadd)
{
    soa_rd_t s_from = soa_rdata(from), s_to = soa_rdata(to);
    zone_rr_t r[8], a[8];
    r[0] = rr(ORIGIN, RR_TYPE_SOA, s_from.b, 22);
    a[0] = rr(ORIGIN, RR_TYPE_SOA, s_to.b, 22);
    for (size_t i = 0; i < nrem; i++)
        r[1 + i] = rem[i];
    for (size_t i = 0; i < nadd; i++)
        a[1 + i] = add[i];
    assert_int_equal(zone_changeset_make(cs, from, to, r, nrem + 1, a, nadd + 1), 0);
}

static uint32_t soa_serial(const zone_rr_t *r)
{
    assert_int_equal(r->type, RR_TYPE_SOA);
    const uint8_t *p = r->rdata + r->rdlen - 20;
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void free_all(zone_changeset_t *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        zone_changeset_free(&v[i]);
}

static void test_single_changeset(void **state)
{
    (void)state;
    zone_rr_t add = rr(WWW, RR_TYPE_A, A1, 4);
    zone_changeset_t v[1], out;
    make_cs(&v[0], 1, 2, NULL, 0, &add, 1);
    assert_int_equal(zone_journal_condense(v, 1, 1, &out), ZJ_DIFF);
    assert_int_equal(out.serial_from, 1);
    assert_int_equal(out.serial_to, 2);
    assert_int_equal(out.nremoved, 1);
    assert_int_equal(soa_serial(&out.removed[0]), 1);
    assert_int_equal(out.nadded, 2);
    assert_int_equal(soa_serial(&out.added[0]), 2);
    assert_int_equal(out.added[1].type, RR_TYPE_A);
    assert_memory_equal(out.added[1].rdata, A1, 4);
    zone_changeset_free(&out);
    free_all(v, 1);
}

static void test_add_then_remove_cancels(void **state)
{
    (void)state;
    zone_rr_t a1 = rr(WWW, RR_TYPE_A, A1, 4), a2 = rr(MAIL, RR_TYPE_A, A2, 4);
    zone_rr_t a3 = rr(WWW, RR_TYPE_A, A3, 4);
    zone_changeset_t v[3], out;
    make_cs(&v[0], 10, 11, NULL, 0, &a1, 1);  /* + www A1 */
    make_cs(&v[1], 11, 12, &a1, 1, &a2, 1);   /* - www A1, + mail A2 */
    make_cs(&v[2], 12, 13, &a3, 1, &a3, 1);   /* - www A3 (in the base), + it again */
    assert_int_equal(zone_journal_condense(v, 3, 10, &out), ZJ_DIFF);
    assert_int_equal(soa_serial(&out.removed[0]), 10);
    assert_int_equal(soa_serial(&out.added[0]), 13);
    assert_int_equal(out.nremoved, 1); /* the SOA only: A1 cancelled, A3 back */
    assert_int_equal(out.nadded, 2);
    assert_memory_equal(out.added[1].owner, MAIL, sizeof MAIL);
    zone_changeset_free(&out);
    /* From the middle: only changesets 2 and 3. */
    assert_int_equal(zone_journal_condense(v, 3, 11, &out), ZJ_DIFF);
    assert_int_equal(out.nremoved, 2);
    assert_memory_equal(out.removed[1].rdata, A1, 4);
    assert_int_equal(out.nadded, 2);
    zone_changeset_free(&out);
    free_all(v, 3);
}

static void test_up_to_date_and_unknown(void **state)
{
    (void)state;
    zone_rr_t a1 = rr(WWW, RR_TYPE_A, A1, 4);
    zone_changeset_t v[2], out;
    make_cs(&v[0], 1, 2, NULL, 0, &a1, 1);
    make_cs(&v[1], 2, 3, &a1, 1, NULL, 0);
    assert_int_equal(zone_journal_condense(v, 2, 3, &out), ZJ_UPTODATE);
    assert_int_equal(zone_journal_condense(v, 2, 0, &out), ZJ_NONE);   /* older than the journal */
    assert_int_equal(zone_journal_condense(v, 2, 99, &out), ZJ_NONE);  /* unknown */
    assert_int_equal(zone_journal_condense(NULL, 0, 5, &out), ZJ_NONE);
    free_all(v, 2);
}

static void test_gap_and_backwards_serial(void **state)
{
    (void)state;
    zone_rr_t a1 = rr(WWW, RR_TYPE_A, A1, 4);
    zone_changeset_t v[3], out;
    make_cs(&v[0], 1, 2, NULL, 0, &a1, 1);
    make_cs(&v[1], 5, 6, &a1, 1, NULL, 0); /* gap: 2 -> 5 */
    make_cs(&v[2], 6, 7, NULL, 0, &a1, 1);
    assert_int_equal(zone_journal_condense(v, 3, 1, &out), ZJ_NONE);
    assert_int_equal(zone_journal_condense(v, 3, 5, &out), ZJ_DIFF);
    zone_changeset_free(&out);
    free_all(v, 3);
    /* A replace that moved the serial back: nothing before it is served. */
    make_cs(&v[0], 1, 2, NULL, 0, &a1, 1);
    make_cs(&v[1], 2, 1, &a1, 1, NULL, 0);
    make_cs(&v[2], 1, 3, NULL, 0, &a1, 1);
    assert_int_equal(zone_journal_condense(v, 3, 1, &out), ZJ_DIFF);
    assert_int_equal(out.serial_from, 1);
    assert_int_equal(soa_serial(&out.removed[0]), 1);
    assert_int_equal(out.nadded, 2); /* only the last changeset: + www A1 */
    zone_changeset_free(&out);
    assert_int_equal(zone_journal_condense(v, 3, 2, &out), ZJ_NONE);
    free_all(v, 3);
}

static void test_rfc1982_wrap(void **state)
{
    (void)state;
    zone_rr_t a1 = rr(WWW, RR_TYPE_A, A1, 4), a2 = rr(MAIL, RR_TYPE_A, A2, 4);
    zone_changeset_t v[2], out;
    make_cs(&v[0], 4294967295u, 0, NULL, 0, &a1, 1);
    make_cs(&v[1], 0, 1, NULL, 0, &a2, 1);
    assert_int_equal(zone_journal_condense(v, 2, 4294967295u, &out), ZJ_DIFF);
    assert_int_equal(out.serial_from, 4294967295u);
    assert_int_equal(out.serial_to, 1);
    assert_int_equal(soa_serial(&out.removed[0]), 4294967295u);
    assert_int_equal(soa_serial(&out.added[0]), 1);
    assert_int_equal(out.nadded, 3);
    zone_changeset_free(&out);
    free_all(v, 2);
    /* 2^31 apart is undefined (RFC 1982 §3.2): not a forward step. */
    make_cs(&v[0], 0, 0x80000000u, NULL, 0, &a1, 1);
    assert_int_equal(zone_journal_condense(v, 1, 0, &out), ZJ_NONE);
    free_all(v, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_single_changeset),
        cmocka_unit_test(test_add_then_remove_cancels),
        cmocka_unit_test(test_up_to_date_and_unknown),
        cmocka_unit_test(test_gap_and_backwards_serial),
        cmocka_unit_test(test_rfc1982_wrap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
