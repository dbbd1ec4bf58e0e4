/* tests/unit/test_zone_update.c — RFC 2136 update logic (zone/update.c):
 * one test per rule. Prerequisites §3.2.1-§3.2.5 (each form true and false,
 * FORMERR and NOTZONE), the §3.4.1.3 prescan, the §3.4.2 rules (add,
 * duplicates, TTL, CNAME vs other data, SOA only forward, apex SOA/NS
 * protections, deletes of class ANY and NONE), all-or-nothing, the serial
 * bump once per changing update (§3.6) under each policy, RFC 1982
 * comparison, zone diffs and changeset application (reloads). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zone/rrtype.h"
#include "zone/update.h"
#include "zone/zone.h"

#define ORIGIN "example.com."
#define SERIAL 100u

static const char *ZONE_TEXT =
    "$ORIGIN example.com.\n$TTL 3600\n"
    "@ IN SOA ns1 hostmaster 100 7200 900 1209600 300\n"
    "@ IN NS ns1\n@ IN NS ns2\n"
    "ns1 IN A 192.0.2.1\nns2 IN A 192.0.2.2\n"
    "www IN A 192.0.2.10\nwww IN A 192.0.2.11\n"
    "alias IN CNAME www\n"
    "txt IN TXT hello\n";

/* ---- building updates ---- */

typedef struct tu {
    zone_update_t u;
    zone_rr_t pre[16], upd[16];
    uint8_t names[32][NAME_MAX_WIRE];
    uint8_t rdata[32][512];
    int used;
} tu_t;

static zone_t *base_zone(void)
{
    char err[ZONE_ERR_MAX] = "";
    zone_t *z = zone_parse_text(ZONE_TEXT, strlen(ZONE_TEXT), "test", NULL, err);
    if (!z)
        fail_msg("zone: %s", err);
    return z;
}

static void tu_init(tu_t *t)
{
    memset(t, 0, sizeof *t);
    const char *err;
    assert_true(name_from_text(ORIGIN, strlen(ORIGIN), NULL, t->u.zname, &err) > 0);
    t->u.zclass = RR_CLASS_IN;
    t->u.prereq = t->pre;
    t->u.update = t->upd;
}

/* Adds "owner class type ttl rdata..." (class IN/ANY/NONE; rdata tokens
 * separated by spaces, "" for none) to the prerequisite (pre) or update
 * section. */
static void tu_add(tu_t *t, bool pre, const char *owner, const char *cls, const char *type,
                   uint32_t ttl, const char *rdata)
{
    int k = t->used++;
    const char *err = NULL;
    assert_true(name_from_text(owner, strlen(owner), t->u.zname, t->names[k], &err) > 0);
    int tcode = rrtype_from_text(type, strlen(type));
    assert_true(tcode >= 0);
    rr_token_t toks[16];
    size_t nt = 0;
    char *copy = strdup(rdata);
    for (char *p = strtok(copy, " "); p; p = strtok(NULL, " "))
        toks[nt++] = (rr_token_t){ p, strlen(p), false };
    int rdlen = 0;
    if (nt > 0) {
        uint8_t *buf = malloc(RDATA_MAX);
        rdlen = rrtype_rdata_from_text((uint16_t)tcode, toks, nt, t->u.zname, buf, &err);
        if (rdlen < 0)
            fail_msg("rdata %s: %s", rdata, err);
        memcpy(t->rdata[k], buf, (size_t)rdlen);
        free(buf);
    }
    free(copy);
    zone_rr_t rr = { t->names[k], (uint16_t)tcode,
                     strcmp(cls, "ANY") == 0    ? ZU_CLASS_ANY
                     : strcmp(cls, "NONE") == 0 ? ZU_CLASS_NONE
                                                : RR_CLASS_IN,
                     ttl, (uint16_t)rdlen, t->rdata[k] };
    if (pre)
        t->pre[t->u.nprereq++] = rr;
    else
        t->upd[t->u.nupdate++] = rr;
}

#define PRE(t, o, c, ty, ttl, rd) tu_add(t, true, o, c, ty, ttl, rd)
#define UPD(t, o, c, ty, ttl, rd) tu_add(t, false, o, c, ty, ttl, rd)

/* Runs the update against the base zone; returns the rcode, *out the new
 * zone (NULL when nothing changed). */
static int run(tu_t *t, zone_t **out, zone_changeset_t *cs)
{
    zone_t *z = base_zone();
    char err[ZONE_ERR_MAX];
    int rc = zone_update_apply(z, &t->u, ZONE_SERIAL_INCREMENT, 0, out, cs, err);
    zone_free(z);
    return rc;
}

static int run_rc(tu_t *t)
{
    zone_t *out = NULL;
    zone_changeset_t cs;
    int rc = run(t, &out, &cs);
    zone_free(out);
    zone_changeset_free(&cs);
    return rc;
}

/* Count of RRs at owner/type in a zone. */
static size_t count_rr(const zone_t *z, const char *owner, uint16_t type)
{
    uint8_t name[NAME_MAX_WIRE];
    const char *err;
    uint8_t origin[NAME_MAX_WIRE];
    name_from_text(ORIGIN, strlen(ORIGIN), NULL, origin, &err);
    name_from_text(owner, strlen(owner), origin, name, &err);
    size_t n = 0;
    for (size_t i = 0; i < z->count; i++)
        if (name_equal(z->rrs[i].owner, name) && z->rrs[i].type == type)
            n++;
    return n;
}

static uint32_t rrset_ttl(const zone_t *z, const char *owner, uint16_t type)
{
    uint8_t name[NAME_MAX_WIRE], origin[NAME_MAX_WIRE];
    const char *err;
    name_from_text(ORIGIN, strlen(ORIGIN), NULL, origin, &err);
    name_from_text(owner, strlen(owner), origin, name, &err);
    for (size_t i = 0; i < z->count; i++)
        if (name_equal(z->rrs[i].owner, name) && z->rrs[i].type == type)
            return z->rrs[i].ttl;
    return 0;
}

/* Same records, in the same order (owner, type, class, TTL, rdata). */
static bool rrs_same(const zone_rr_t *a, const zone_rr_t *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!name_equal(a[i].owner, b[i].owner) || a[i].type != b[i].type ||
            a[i].rclass != b[i].rclass || a[i].ttl != b[i].ttl || a[i].rdlen != b[i].rdlen ||
            memcmp(a[i].rdata, b[i].rdata, a[i].rdlen) != 0)
            return false;
    return true;
}

/* An UPDATE's changeset (taken from the working set) is exactly the
 * difference between the old and the new zone. */
static bool cs_same(const zone_changeset_t *x, const zone_changeset_t *y)
{
    return x->nremoved == y->nremoved && x->nadded == y->nadded &&
           x->serial_from == y->serial_from && x->serial_to == y->serial_to &&
           rrs_same(x->removed, y->removed, x->nremoved) && rrs_same(x->added, y->added, x->nadded);
}

/* Applies and expects NOERROR with a change; returns the new zone. The
 * changeset must be zone_diff(old, new), record for record. */
static zone_t *apply_ok(tu_t *t, zone_changeset_t *cs)
{
    zone_t *out = NULL;
    assert_int_equal(run(t, &out, cs), ZU_NOERROR);
    assert_non_null(out);
    zone_t *z = base_zone();
    zone_changeset_t want;
    assert_int_equal(zone_diff(z, out, &want), 0);
    assert_true(cs_same(cs, &want));
    zone_changeset_free(&want);
    zone_free(z);
    return out;
}

/* Applies and expects NOERROR and no change. */
static void apply_nochange(tu_t *t)
{
    zone_t *out = NULL;
    zone_changeset_t cs;
    assert_int_equal(run(t, &out, &cs), ZU_NOERROR);
    assert_null(out);
    assert_true(zone_changeset_empty(&cs));
}

/* ---- prerequisites (§3.2) ---- */

static void test_prereq_name_in_use(void **state) /* §3.2.1 ANY ANY */
{
    (void)state;
    tu_t t;
    tu_init(&t);
    PRE(&t, "www", "ANY", "ANY", 0, "");
    assert_int_equal(run_rc(&t), ZU_NOERROR);
    tu_init(&t);
    PRE(&t, "nothere", "ANY", "ANY", 0, "");
    assert_int_equal(run_rc(&t), ZU_NXDOMAIN);
}

static void test_prereq_rrset_exists(void **state) /* §3.2.1 ANY type */
{
    (void)state;
    tu_t t;
    tu_init(&t);
    PRE(&t, "www", "ANY", "A", 0, "");
    assert_int_equal(run_rc(&t), ZU_NOERROR);
    tu_init(&t);
    PRE(&t, "www", "ANY", "AAAA", 0, "");
    assert_int_equal(run_rc(&t), ZU_NXRRSET);
}

static void test_prereq_name_not_in_use(void **state) /* §3.2.2 NONE ANY */
{
    (void)state;
    tu_t t;
    tu_init(&t);
    PRE(&t, "free", "NONE", "ANY", 0, "");
    assert_int_equal(run_rc(&t), ZU_NOERROR);
    tu_init(&t);
    PRE(&t, "www", "NONE", "ANY", 0, "");
    assert_int_equal(run_rc(&t), ZU_YXDOMAIN);
}

static void test_prereq_rrset_not_exists(void **state) /* §3.2.2 NONE type */
{
    (void)state;
    tu_t t;
    tu_init(&t);
    PRE(&t, "www", "NONE", "AAAA", 0, "");
    assert_int_equal(run_rc(&t), ZU_NOERROR);
    tu_init(&t);
    PRE(&t, "www", "NONE", "A", 0, "");
    assert_int_equal(run_rc(&t), ZU_YXRRSET);
}

static void test_prereq_rrset_value(void **state) /* §3.2.3 */
{
    (void)state;
    tu_t t;
    tu_init(&t); /* the exact RRset, in another order, TTL ignored */
    PRE(&t, "www", "IN", "A", 0, "192.0.2.11");
    PRE(&t, "WWW", "IN", "A", 0, "192.0.2.10");
    assert_int_equal(run_rc(&t), ZU_NOERROR);
    tu_init(&t); /* a subset is not enough */
    PRE(&t, "www", "IN", "A", 0, "192.0.2.10");
    assert_int_equal(run_rc(&t), ZU_NXRRSET);
    tu_init(&t); /* a value that is not there */
    PRE(&t, "www", "IN", "A", 0, "192.0.2.10");
    PRE(&t, "www", "IN", "A", 0, "192.0.2.99");
    assert_int_equal(run_rc(&t), ZU_NXRRSET);
    tu_init(&t); /* duplicates in the prerequisite count once */
    PRE(&t, "www", "IN", "A", 0, "192.0.2.10");
    PRE(&t, "www", "IN", "A", 0, "192.0.2.10");
    PRE(&t, "www", "IN", "A", 0, "192.0.2.11");
    assert_int_equal(run_rc(&t), ZU_NOERROR);
}

static void test_prereq_formerr_and_notzone(void **state) /* §3.2.1-§3.2.5 */
{
    (void)state;
    tu_t t;
    tu_init(&t);
    PRE(&t, "www", "ANY", "A", 5, ""); /* TTL must be 0 */
    assert_int_equal(run_rc(&t), ZU_FORMERR);
    tu_init(&t);
    PRE(&t, "www", "ANY", "A", 0, "192.0.2.1"); /* rdata with class ANY */
    assert_int_equal(run_rc(&t), ZU_FORMERR);
    tu_init(&t);
    PRE(&t, "www", "NONE", "A", 0, "192.0.2.1"); /* rdata with class NONE */
    assert_int_equal(run_rc(&t), ZU_FORMERR);
    tu_init(&t);
    PRE(&t, "www.example.org.", "ANY", "ANY", 0, "");
    assert_int_equal(run_rc(&t), ZU_NOTZONE);
    tu_init(&t);
    PRE(&t, "www", "IN", "A", 0, "");
    t.pre[0].rclass = 3; /* CH */
    assert_int_equal(run_rc(&t), ZU_FORMERR);
}

static void test_prereq_failure_changes_nothing(void **state) /* §3.2: before any update */
{
    (void)state;
    tu_t t;
    tu_init(&t);
    PRE(&t, "www", "NONE", "A", 0, "");
    UPD(&t, "new", "IN", "A", 300, "192.0.2.50");
    zone_t *out = NULL;
    zone_changeset_t cs;
    assert_int_equal(run(&t, &out, &cs), ZU_YXRRSET);
    assert_null(out);
}

/* ---- prescan (§3.4.1.3) ---- */

static void test_prescan(void **state)
{
    (void)state;
    tu_t t;
    tu_init(&t);
    UPD(&t, "new", "IN", "A", 300, "192.0.2.50");
    UPD(&t, "www.example.org.", "IN", "A", 300, "192.0.2.50");
    assert_int_equal(run_rc(&t), ZU_NOTZONE); /* and the first RR is not added */
    tu_init(&t);
    UPD(&t, "new", "IN", "ANY", 300, "");
    assert_int_equal(run_rc(&t), ZU_FORMERR);
    tu_init(&t);
    UPD(&t, "new", "IN", "AXFR", 300, "");
    assert_int_equal(run_rc(&t), ZU_FORMERR);
    tu_init(&t);
    UPD(&t, "www", "ANY", "A", 10, ""); /* TTL with class ANY */
    assert_int_equal(run_rc(&t), ZU_FORMERR);
    tu_init(&t);
    UPD(&t, "www", "ANY", "A", 0, "192.0.2.10"); /* rdata with class ANY */
    assert_int_equal(run_rc(&t), ZU_FORMERR);
    tu_init(&t);
    UPD(&t, "www", "NONE", "A", 10, "192.0.2.10"); /* TTL with class NONE */
    assert_int_equal(run_rc(&t), ZU_FORMERR);
    tu_init(&t);
    UPD(&t, "www", "NONE", "ANY", 0, "");
    assert_int_equal(run_rc(&t), ZU_FORMERR);
    tu_init(&t);
    UPD(&t, "www", "IN", "A", 300, "192.0.2.10");
    t.upd[0].rclass = 3;
    assert_int_equal(run_rc(&t), ZU_FORMERR);
    tu_init(&t);
    UPD(&t, "www", "IN", "A", 300, "192.0.2.10");
    t.upd[0].rdlen = 3; /* malformed A rdata */
    assert_int_equal(run_rc(&t), ZU_FORMERR);
}

/* ---- update (§3.4.2) ---- */

static void test_add_rr_and_serial_bump(void **state)
{
    (void)state;
    tu_t t;
    tu_init(&t);
    UPD(&t, "new", "IN", "A", 300, "192.0.2.50");
    UPD(&t, "new", "IN", "A", 300, "192.0.2.51");
    zone_changeset_t cs;
    zone_t *z = apply_ok(&t, &cs);
    assert_int_equal(count_rr(z, "new", RR_TYPE_A), 2);
    assert_int_equal(z->serial, SERIAL + 1); /* once per update, not per RR (§3.6) */
    assert_int_equal(cs.serial_from, SERIAL);
    assert_int_equal(cs.serial_to, SERIAL + 1);
    assert_int_equal(cs.nadded, 3);   /* two A and the new SOA */
    assert_int_equal(cs.nremoved, 1); /* the old SOA */
    zone_changeset_free(&cs);
    zone_free(z);
}

static void test_duplicate_ignored(void **state)
{
    (void)state;
    tu_t t;
    tu_init(&t);
    UPD(&t, "www", "IN", "A", 3600, "192.0.2.10");
    apply_nochange(&t); /* no change: the serial stays */
}

static void test_duplicate_with_new_ttl_sets_rrset_ttl(void **state)
{
    (void)state;
    tu_t t;
    tu_init(&t);
    UPD(&t, "www", "IN", "A", 60, "192.0.2.10");
    zone_changeset_t cs;
    zone_t *z = apply_ok(&t, &cs);
    assert_int_equal(rrset_ttl(z, "www", RR_TYPE_A), 60); /* RFC 2181 §5.2 */
    assert_int_equal(count_rr(z, "www", RR_TYPE_A), 2);
    zone_changeset_free(&cs);
    zone_free(z);
}

static void test_cname_beside_other_data_ignored(void **state)
{
    (void)state;
    tu_t t;
    tu_init(&t);
    UPD(&t, "www", "IN", "CNAME", 300, "txt");
    apply_nochange(&t);
    tu_init(&t);
    UPD(&t, "alias", "IN", "A", 300, "192.0.2.7");
    apply_nochange(&t);
}

static void test_cname_replaces_cname(void **state)
{
    (void)state;
    tu_t t;
    tu_init(&t);
    UPD(&t, "alias", "IN", "CNAME", 300, "txt");
    zone_changeset_t cs;
    zone_t *z = apply_ok(&t, &cs);
    assert_int_equal(count_rr(z, "alias", RR_TYPE_CNAME), 1);
    zone_changeset_free(&cs);
    zone_free(z);
}

static void test_soa_only_forward(void **state)
{
    (void)state;
    tu_t t;
    tu_init(&t); /* same serial: ignored */
    UPD(&t, "@", "IN", "SOA", 3600, "ns1 hostmaster 100 1 1 1 1");
    apply_nochange(&t);
    tu_init(&t); /* older (RFC 1982): ignored */
    UPD(&t, "@", "IN", "SOA", 3600, "ns1 hostmaster 99 1 1 1 1");
    apply_nochange(&t);
    tu_init(&t); /* not at the apex: ignored */
    UPD(&t, "www", "IN", "SOA", 3600, "ns1 hostmaster 500 1 1 1 1");
    apply_nochange(&t);
    tu_init(&t); /* newer: replaces, and is not bumped again */
    UPD(&t, "@", "IN", "SOA", 3600, "ns1 hostmaster 500 1 1 1 1");
    UPD(&t, "new", "IN", "A", 300, "192.0.2.50");
    zone_changeset_t cs;
    zone_t *z = apply_ok(&t, &cs);
    assert_int_equal(z->serial, 500);
    assert_int_equal(count_rr(z, "@", RR_TYPE_SOA), 1);
    zone_changeset_free(&cs);
    zone_free(z);
}

static void test_apex_soa_ns_never_deleted(void **state)
{
    (void)state;
    tu_t t;
    tu_init(&t);
    UPD(&t, "@", "ANY", "SOA", 0, "");
    UPD(&t, "@", "ANY", "NS", 0, "");
    UPD(&t, "@", "NONE", "SOA", 0, "ns1 hostmaster 100 7200 900 1209600 300");
    apply_nochange(&t);
    tu_init(&t); /* ANY ANY at the apex keeps SOA and NS */
    UPD(&t, "@", "IN", "TXT", 300, "apex");
    UPD(&t, "@", "ANY", "ANY", 0, "");
    UPD(&t, "@", "IN", "MX", 300, "10 www"); /* a change, so a new version */
    zone_changeset_t cs;
    zone_t *z = apply_ok(&t, &cs);
    assert_int_equal(count_rr(z, "@", RR_TYPE_TXT), 0);
    assert_int_equal(count_rr(z, "@", RR_TYPE_MX), 1);
    assert_int_equal(count_rr(z, "@", RR_TYPE_NS), 2);
    assert_int_equal(count_rr(z, "@", RR_TYPE_SOA), 1);
    zone_changeset_free(&cs);
    zone_free(z);
}

static void test_last_apex_ns_kept(void **state)
{
    (void)state;
    tu_t t;
    tu_init(&t);
    UPD(&t, "@", "NONE", "NS", 0, "ns1");
    UPD(&t, "@", "NONE", "NS", 0, "ns2");
    zone_changeset_t cs;
    zone_t *z = apply_ok(&t, &cs);
    assert_int_equal(count_rr(z, "@", RR_TYPE_NS), 1);
    zone_changeset_free(&cs);
    zone_free(z);
}

static void test_delete_rrset(void **state) /* class ANY, type T */
{
    (void)state;
    tu_t t;
    tu_init(&t);
    UPD(&t, "www", "ANY", "A", 0, "");
    zone_changeset_t cs;
    zone_t *z = apply_ok(&t, &cs);
    assert_int_equal(count_rr(z, "www", RR_TYPE_A), 0);
    assert_int_equal(cs.nremoved, 3); /* two A and the old SOA */
    zone_changeset_free(&cs);
    zone_free(z);
}

static void test_delete_name(void **state) /* class ANY, type ANY */
{
    (void)state;
    tu_t t;
    tu_init(&t);
    UPD(&t, "www", "IN", "TXT", 300, "x");
    UPD(&t, "www", "ANY", "ANY", 0, "");
    zone_changeset_t cs;
    zone_t *z = apply_ok(&t, &cs);
    assert_int_equal(count_rr(z, "www", RR_TYPE_A) + count_rr(z, "www", RR_TYPE_TXT), 0);
    zone_changeset_free(&cs);
    zone_free(z);
}

static void test_delete_rr(void **state) /* class NONE */
{
    (void)state;
    tu_t t;
    tu_init(&t);
    UPD(&t, "WWW", "NONE", "A", 0, "192.0.2.10");
    zone_changeset_t cs;
    zone_t *z = apply_ok(&t, &cs);
    assert_int_equal(count_rr(z, "www", RR_TYPE_A), 1);
    zone_changeset_free(&cs);
    zone_free(z);
    tu_init(&t); /* deleting what is not there changes nothing */
    UPD(&t, "www", "NONE", "A", 0, "192.0.2.99");
    UPD(&t, "nothere", "ANY", "ANY", 0, "");
    apply_nochange(&t);
}

/* Found by tests/integration/update_knot_diff.py: changes that cancel out
 * inside one UPDATE are no change, so the serial stays (as Knot). */
static void test_net_no_change_keeps_serial(void **state)
{
    (void)state;
    tu_t t;
    tu_init(&t);
    UPD(&t, "x", "IN", "A", 300, "192.0.2.1"); /* add then delete */
    UPD(&t, "x", "NONE", "A", 0, "192.0.2.1");
    apply_nochange(&t);
    tu_init(&t); /* delete an RRset, then add back what it held */
    UPD(&t, "www", "ANY", "A", 0, "");
    UPD(&t, "www", "IN", "A", 3600, "192.0.2.10");
    UPD(&t, "www", "IN", "A", 3600, "192.0.2.11");
    apply_nochange(&t);
    tu_init(&t); /* with one real change the serial moves */
    UPD(&t, "x", "IN", "A", 300, "192.0.2.1");
    UPD(&t, "x", "NONE", "A", 0, "192.0.2.1");
    UPD(&t, "y", "IN", "A", 300, "192.0.2.2");
    zone_changeset_t cs;
    zone_t *z = apply_ok(&t, &cs);
    assert_int_equal(z->serial, SERIAL + 1);
    assert_int_equal(cs.nadded, 2);
    zone_changeset_free(&cs);
    zone_free(z);
}

static void test_updates_apply_in_order(void **state) /* §3.4.2: in order */
{
    (void)state;
    tu_t t;
    tu_init(&t);
    UPD(&t, "x", "IN", "A", 300, "192.0.2.1");
    UPD(&t, "x", "ANY", "A", 0, "");
    UPD(&t, "x", "IN", "A", 300, "192.0.2.2");
    zone_changeset_t cs;
    zone_t *z = apply_ok(&t, &cs);
    assert_int_equal(count_rr(z, "x", RR_TYPE_A), 1);
    zone_changeset_free(&cs);
    zone_free(z);
}

static void test_notauth_for_other_zone(void **state)
{
    (void)state;
    tu_t t;
    tu_init(&t);
    const char *err;
    name_from_text("example.org.", 12, NULL, t.u.zname, &err);
    assert_int_equal(run_rc(&t), ZU_NOTAUTH);
    tu_init(&t);
    t.u.zclass = 3;
    assert_int_equal(run_rc(&t), ZU_NOTAUTH);
}

/* ---- serials ---- */

static void test_serial_compare_rfc1982(void **state)
{
    (void)state;
    assert_true(zone_serial_compare(2, 1) > 0);
    assert_true(zone_serial_compare(1, 2) < 0);
    assert_true(zone_serial_compare(0, 0xffffffffu) > 0); /* wraps */
    assert_true(zone_serial_compare(0x80000000u, 0) == 0); /* undefined: not greater */
    assert_int_equal(zone_serial_compare(7, 7), 0);
}

static void test_serial_policies(void **state)
{
    (void)state;
    assert_int_equal(zone_serial_next(100, ZONE_SERIAL_INCREMENT, 0), 101);
    assert_int_equal(zone_serial_next(0xffffffffu, ZONE_SERIAL_INCREMENT, 0), 0);
    assert_int_equal(zone_serial_next(100, ZONE_SERIAL_UNIXTIME, 1700000000), 1700000000);
    assert_int_equal(zone_serial_next(1800000000u, ZONE_SERIAL_UNIXTIME, 1700000000), 1800000001u);
    /* 2023-11-14 UTC */
    assert_int_equal(zone_serial_next(100, ZONE_SERIAL_DATESERIAL, 1700000000), 2023111400u);
    assert_int_equal(zone_serial_next(2023111405u, ZONE_SERIAL_DATESERIAL, 1700000000), 2023111406u);
    /* through an update */
    zone_t *z = base_zone();
    tu_t t;
    tu_init(&t);
    UPD(&t, "new", "IN", "A", 300, "192.0.2.50");
    zone_t *out = NULL;
    zone_changeset_t cs;
    assert_int_equal(zone_update_apply(z, &t.u, ZONE_SERIAL_DATESERIAL, 1700000000, &out, &cs, NULL),
                     ZU_NOERROR);
    assert_int_equal(out->serial, 2023111400u);
    zone_changeset_free(&cs);
    zone_free(out);
    zone_free(z);
}

/* ---- diffs and reloads ---- */

static zone_t *parse(const char *text)
{
    char err[ZONE_ERR_MAX] = "";
    zone_t *z = zone_parse_text(text, strlen(text), "t", NULL, err);
    if (!z)
        fail_msg("%s", err);
    return z;
}

static void test_diff_and_apply_keeps_dynamic_changes(void **state)
{
    (void)state;
    zone_t *file1 = base_zone();
    /* a dynamic change: dyn A */
    tu_t t;
    tu_init(&t);
    UPD(&t, "dyn", "IN", "A", 300, "192.0.2.77");
    zone_changeset_t ucs;
    zone_t *cur = apply_ok(&t, &ucs);
    zone_changeset_free(&ucs);
    /* the file changes an unrelated line: txt */
    char *text2 = strdup(ZONE_TEXT);
    char *p = strstr(text2, "hello");
    memcpy(p, "HELLO", 5);
    zone_t *file2 = parse(text2);
    free(text2);
    zone_changeset_t fcs;
    assert_int_equal(zone_diff(file1, file2, &fcs), 0);
    assert_int_equal(fcs.nremoved, 1);
    assert_int_equal(fcs.nadded, 1);
    bool unchanged;
    char err[ZONE_ERR_MAX];
    zone_t *next = zone_apply_changeset(cur, &fcs, ZONE_SERIAL_INCREMENT, 0, &unchanged, err);
    assert_non_null(next);
    assert_int_equal(count_rr(next, "dyn", RR_TYPE_A), 1); /* kept */
    assert_int_equal(count_rr(next, "txt", RR_TYPE_TXT), 1);
    assert_int_equal(next->serial, SERIAL + 2); /* bumped past the update's */
    zone_changeset_free(&fcs);
    /* the same file again: nothing to do */
    assert_int_equal(zone_diff(file2, file2, &fcs), 0);
    assert_true(zone_changeset_empty(&fcs));
    assert_null(zone_apply_changeset(next, &fcs, ZONE_SERIAL_INCREMENT, 0, &unchanged, err));
    assert_true(unchanged);
    zone_changeset_free(&fcs);
    zone_free(file1);
    zone_free(file2);
    zone_free(cur);
    zone_free(next);
}

static void test_reload_newer_file_serial_wins(void **state)
{
    (void)state;
    zone_t *file1 = base_zone();
    char *text2 = strdup(ZONE_TEXT);
    char *p = strstr(text2, " 100 ");
    memcpy(p, " 900 ", 5);
    zone_t *file2 = parse(text2);
    free(text2);
    zone_changeset_t fcs;
    assert_int_equal(zone_diff(file1, file2, &fcs), 0);
    bool unchanged;
    char err[ZONE_ERR_MAX];
    zone_t *next = zone_apply_changeset(file1, &fcs, ZONE_SERIAL_INCREMENT, 0, &unchanged, err);
    assert_non_null(next);
    assert_int_equal(next->serial, 900);
    zone_changeset_free(&fcs);
    zone_free(next);
    zone_free(file1);
    zone_free(file2);
}

static void test_reload_conflict_refused(void **state)
{
    (void)state;
    zone_t *file1 = base_zone();
    /* dynamic: "clash" gets an A */
    tu_t t;
    tu_init(&t);
    UPD(&t, "clash", "IN", "A", 300, "192.0.2.5");
    zone_changeset_t ucs;
    zone_t *cur = apply_ok(&t, &ucs);
    zone_changeset_free(&ucs);
    /* the file adds a CNAME at the same name */
    size_t n = strlen(ZONE_TEXT) + 64;
    char *text2 = malloc(n);
    snprintf(text2, n, "%sclash IN CNAME www\n", ZONE_TEXT);
    zone_t *file2 = parse(text2);
    free(text2);
    zone_changeset_t fcs;
    assert_int_equal(zone_diff(file1, file2, &fcs), 0);
    bool unchanged;
    char err[ZONE_ERR_MAX] = "";
    assert_null(zone_apply_changeset(cur, &fcs, ZONE_SERIAL_INCREMENT, 0, &unchanged, err));
    assert_false(unchanged);
    assert_non_null(strstr(err, "CNAME"));
    zone_changeset_free(&fcs);
    zone_free(file1);
    zone_free(file2);
    zone_free(cur);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_prereq_name_in_use),
        cmocka_unit_test(test_prereq_rrset_exists),
        cmocka_unit_test(test_prereq_name_not_in_use),
        cmocka_unit_test(test_prereq_rrset_not_exists),
        cmocka_unit_test(test_prereq_rrset_value),
        cmocka_unit_test(test_prereq_formerr_and_notzone),
        cmocka_unit_test(test_prereq_failure_changes_nothing),
        cmocka_unit_test(test_prescan),
        cmocka_unit_test(test_add_rr_and_serial_bump),
        cmocka_unit_test(test_duplicate_ignored),
        cmocka_unit_test(test_duplicate_with_new_ttl_sets_rrset_ttl),
        cmocka_unit_test(test_cname_beside_other_data_ignored),
        cmocka_unit_test(test_cname_replaces_cname),
        cmocka_unit_test(test_soa_only_forward),
        cmocka_unit_test(test_apex_soa_ns_never_deleted),
        cmocka_unit_test(test_last_apex_ns_kept),
        cmocka_unit_test(test_delete_rrset),
        cmocka_unit_test(test_delete_name),
        cmocka_unit_test(test_delete_rr),
        cmocka_unit_test(test_updates_apply_in_order),
        cmocka_unit_test(test_net_no_change_keeps_serial),
        cmocka_unit_test(test_notauth_for_other_zone),
        cmocka_unit_test(test_serial_compare_rfc1982),
        cmocka_unit_test(test_serial_policies),
        cmocka_unit_test(test_diff_and_apply_keeps_dynamic_changes),
        cmocka_unit_test(test_reload_newer_file_serial_wins),
        cmocka_unit_test(test_reload_conflict_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
