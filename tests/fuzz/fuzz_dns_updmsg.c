/* tests/fuzz/fuzz_dns_updmsg.c — libFuzzer target for RFC 2136 UPDATE
 * parsing (dns/upd_msg.c) and applying (zone/update.c) against a fixed zone:
 * the message is carried in a Raft command and parsed and applied on every
 * replica, so hostile bytes must give an rcode, never a crash.
 *
 * Properties checked besides "no crash, no sanitizer report":
 *  - parsing fails only with FORMERR or NOTIMP, and then holds nothing;
 *  - every rcode is one RFC 2136 §2.2 defines;
 *  - NOERROR with a new zone: its serial is newer (RFC 1982) than the old
 *    one, the changeset is exactly zone_diff(old, new), and applying the
 *    changeset to the old zone gives the new one (empty diff);
 *  - NOERROR without a new zone: the changeset is empty;
 *  - the same input applied twice gives the same result (determinism). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/upd_msg.h"
#include "tests/fuzz/fuzz_common.h"
#include "zone/update.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char ZONE[] =
    "$ORIGIN example.com.\n$TTL 3600\n"
    "@ IN SOA ns1 hostmaster 100 7200 900 1209600 300\n"
    "@ IN NS ns1\n@ IN NS ns2\nns1 IN A 192.0.2.1\nns2 IN A 192.0.2.2\n"
    "www IN A 192.0.2.10\nwww IN A 192.0.2.11\nalias IN CNAME www\n"
    "mx IN MX 10 www\ntxt IN TXT \"hello\"\nsub IN NS ns.sub\nns.sub IN A 192.0.2.3\n";

static zone_t *base(void)
{
    static zone_t *z;
    if (!z) {
        char err[ZONE_ERR_MAX];
        z = zone_parse_text(ZONE, sizeof ZONE - 1, "fuzz", NULL, err);
        fuzz_check(z != NULL);
    }
    return z;
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

static void check_changeset(const zone_t *old, const zone_t *out, const zone_changeset_t *cs)
{
    fuzz_check(zone_serial_compare(out->serial, old->serial) > 0);
    zone_changeset_t again;
    fuzz_check(zone_diff(old, out, &again) == 0);
    fuzz_check(cs_same(&again, cs));
    zone_changeset_free(&again);
    bool unchanged;
    char err[ZONE_ERR_MAX];
    zone_t *replay = zone_apply_changeset(old, cs, ZONE_SERIAL_INCREMENT, 0, &unchanged, err);
    fuzz_check(replay != NULL);
    zone_changeset_t diff;
    fuzz_check(zone_diff(replay, out, &diff) == 0);
    fuzz_check(zone_changeset_empty(&diff));
    zone_changeset_free(&diff);
    zone_free(replay);
}

static int run(const uint8_t *data, size_t size, size_t *nrem, size_t *nadd)
{
    zone_update_t u;
    const char *why = NULL;
    int rc = dns_update_parse(data, size, &u, &why);
    *nrem = *nadd = 0;
    if (rc != ZU_NOERROR) {
        fuzz_check(rc == ZU_FORMERR || rc == ZU_NOTIMP);
        fuzz_check(why != NULL && u.prereq == NULL && u.update == NULL && u.arena == NULL);
        return rc;
    }
    zone_t *old = base();
    zone_t *out = NULL;
    zone_changeset_t cs;
    char err[ZONE_ERR_MAX];
    rc = zone_update_apply(old, &u, (enum zone_serial_policy)(size % 3), 1700000000, &out, &cs, err);
    fuzz_check(rc >= ZU_NOERROR && rc <= ZU_NOTZONE);
    if (rc == ZU_NOERROR && out) {
        check_changeset(old, out, &cs);
    } else {
        fuzz_check(out == NULL && zone_changeset_empty(&cs));
    }
    *nrem = cs.nremoved;
    *nadd = cs.nadded;
    zone_changeset_free(&cs);
    zone_free(out);
    zone_update_free(&u);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t r1, a1, r2, a2;
    int rc1 = run(data, size, &r1, &a1);
    int rc2 = run(data, size, &r2, &a2);
    fuzz_check(rc1 == rc2 && r1 == r2 && a1 == a2);
    return 0;
}
