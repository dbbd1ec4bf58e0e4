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
 *  - the same input applied twice gives the same result (determinism);
 *  - batching does not change anything: the input split in two messages
 *    A and B (first byte: where), A, B, A applied as one batch
 *    (zone_update_batch_*) give the same rcodes, changesets and final
 *    zone, records in the same order, as applied one by one; and the
 *    batch's unchecked build equals zone_from_records of its records;
 *  - an index built only at the names the batch touched, over the old
 *    zone's index (zonedb_index_build_over), finds the same nodes as the
 *    full index of the new zone, at every name of either zone. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dns/upd_msg.h"
#include "tests/fuzz/fuzz_common.h"
#include "zone/db.h"
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

/* One UPDATE applied alone to *z, which becomes the new zone if any. */
static int apply_alone(zone_t **z, const zone_update_t *u, zone_changeset_t *cs)
{
    zone_t *out = NULL;
    char err[ZONE_ERR_MAX];
    int rc = zone_update_apply(*z, u, ZONE_SERIAL_INCREMENT, 1700000000, &out, cs, err);
    if (out) {
        if (*z != base())
            zone_free(*z);
        *z = out;
    }
    return rc;
}

/* The same node (or none) in both indexes: flags and every RRset. */
static void same_node(const zonedb_index_t *a, const zonedb_index_t *b, const uint8_t *name)
{
    const zonedb_node_t *x = zonedb_index_find(a, name), *y = zonedb_index_find(b, name);
    fuzz_check((x == NULL) == (y == NULL));
    if (!x)
        return;
    fuzz_check(zonedb_node_flags(x) == zonedb_node_flags(y));
    fuzz_check(zonedb_node_rrset_count(x) == zonedb_node_rrset_count(y));
    for (size_t i = 0; i < zonedb_node_rrset_count(x); i++) {
        const zonedb_rrset_t *r = zonedb_node_rrset_at(x, i), *q = zonedb_node_rrset_at(y, i);
        fuzz_check(r->type == q->type && r->ttl == q->ttl && r->count == q->count &&
                   r->rdata_len == q->rdata_len && memcmp(r->rdata, q->rdata, r->rdata_len) == 0);
    }
}

/* Every owner of z and each of its ancestors (and a wildcard below it). */
static void same_names(const zonedb_index_t *a, const zonedb_index_t *b, const zone_t *z)
{
    for (size_t i = 0; i < z->count; i++)
        for (const uint8_t *p = z->rrs[i].owner; p; p = name_parent(p)) {
            same_node(a, b, p);
            uint8_t wild[NAME_MAX_WIRE];
            size_t n = name_wire_len(p);
            if (n + 2 <= NAME_MAX_WIRE) {
                wild[0] = 1;
                wild[1] = '*';
                memcpy(wild + 2, p, n);
                same_node(a, b, wild);
            }
        }
}

/* An index built only at the names the batch touched, over the base
 * zone's index, answers exactly as the full index of the result. */
static void overlay_check(zone_update_batch_t *b, const zone_t *result,
                          const zone_update_t *u, size_t nu)
{
    bool emptied;
    zone_t *part = zone_update_batch_part(b, &emptied);
    if (!part) {
        fuzz_check(emptied);
        return;
    }
    char err[ZONE_ERR_MAX];
    zonedb_index_t *full0 = zonedb_index_build(base(), err);
    zonedb_index_t *over = zonedb_index_build_over(full0, part, err);
    zonedb_index_t *full1 = zonedb_index_build(result, err);
    fuzz_check(full0 && over && full1);
    fuzz_check(zonedb_index_serial(over) == zonedb_index_serial(full1));
    same_names(over, full1, result);
    same_names(over, full1, base());
    for (size_t k = 0; k < nu; k++)
        for (size_t i = 0; i < u[k].nupdate; i++)
            same_node(over, full1, u[k].update[i].owner);
    zonedb_index_unref(full0);
    zonedb_index_unref(over);
    zonedb_index_unref(full1);
    zone_free(part);
}

static void batch_check(const uint8_t *data, size_t size)
{
    if (size < 2)
        return;
    size_t cut = 1 + (size_t)data[0] * (size - 1) / 256;
    zone_update_t u[2];
    const char *why;
    if (dns_update_parse(data + 1, cut - 1, &u[0], &why) != ZU_NOERROR)
        return;
    if (dns_update_parse(data + cut, size - cut, &u[1], &why) != ZU_NOERROR) {
        zone_update_free(&u[0]);
        return;
    }
    zone_t *alone = base();
    zone_update_batch_t *b = zone_update_batch_open(base());
    fuzz_check(b != NULL);
    for (int k = 0; k < 3; k++) {
        zone_changeset_t c1, c2;
        char err[ZONE_ERR_MAX];
        int rc1 = apply_alone(&alone, &u[k % 2], &c1);
        int rc2 = zone_update_batch_apply(b, &u[k % 2], ZONE_SERIAL_INCREMENT, 1700000000, &c2, err);
        fuzz_check(rc1 == rc2 && cs_same(&c1, &c2));
        zone_changeset_free(&c1);
        zone_changeset_free(&c2);
    }
    char err[ZONE_ERR_MAX];
    zone_t *batched = zone_update_batch_changes(b) ? zone_update_batch_build(b, err) : NULL;
    if (batched)
        overlay_check(b, batched, u, 2);
    zone_update_batch_free(b);
    const zone_t *want = alone, *got = batched ? batched : base();
    fuzz_check((batched == NULL) == (alone == base()));
    fuzz_check(got->count == want->count && got->serial == want->serial &&
               rrs_same(got->rrs, want->rrs, got->count));
    for (size_t i = 0; i < got->count; i++) /* owner spellings too */
        fuzz_check(memcmp(got->rrs[i].owner, want->rrs[i].owner,
                          name_wire_len(want->rrs[i].owner)) == 0);
    if (batched) { /* built without checks: exactly what the checked build gives */
        zone_t *checked = zone_from_records(batched->origin, batched->rrs, batched->count, err);
        fuzz_check(checked != NULL && checked->count == batched->count &&
                   checked->serial == batched->serial &&
                   rrs_same(checked->rrs, batched->rrs, checked->count));
        for (size_t i = 0; i < checked->count; i++)
            fuzz_check(memcmp(checked->rrs[i].owner, batched->rrs[i].owner,
                              name_wire_len(checked->rrs[i].owner)) == 0);
        zone_free(checked);
    }
    zone_free(batched);
    if (alone != base())
        zone_free(alone);
    zone_update_free(&u[0]);
    zone_update_free(&u[1]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    batch_check(data, size);
    size_t r1, a1, r2, a2;
    int rc1 = run(data, size, &r1, &a1);
    int rc2 = run(data, size, &r2, &a2);
    fuzz_check(rc1 == rc2 && r1 == r2 && a1 == a2);
    return 0;
}
