/* zone/journal.c — the IXFR condensed difference (see journal.h).
 *
 * Every removal and addition of the chosen changesets becomes an op; the
 * ops are sorted by RR (owner case-insensitively, type, class, TTL, rdata)
 * and then by their place in history. For each RR the first op tells
 * whether it was in the old version (a removal comes first: it was), the
 * last op whether it is in the new one (an addition comes last: it is);
 * only RRs whose presence differs are served. SOA records are left out of
 * the ops: the old SOA (removed by the first changeset) and the new one
 * (added by the last) frame the difference as RFC 1995 §4 requires. */
#include "zone/journal.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "zone/rrtype.h"

typedef struct op {
    const zone_rr_t *rr;
    size_t seq;  /* position in history */
    bool add;
} op_t;

static int rr_compare(const zone_rr_t *a, const zone_rr_t *b)
{
    int c = name_compare_canonical(a->owner, b->owner);
    if (c != 0)
        return c;
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    if (a->rclass != b->rclass)
        return a->rclass < b->rclass ? -1 : 1;
    if (a->ttl != b->ttl)
        return a->ttl < b->ttl ? -1 : 1;
    if (a->rdlen != b->rdlen)
        return a->rdlen < b->rdlen ? -1 : 1;
    return memcmp(a->rdata, b->rdata, a->rdlen);
}

static int op_compare(const void *pa, const void *pb)
{
    const op_t *a = pa, *b = pb;
    int c = rr_compare(a->rr, b->rr);
    if (c != 0)
        return c;
    return a->seq < b->seq ? -1 : a->seq > b->seq ? 1 : 0;
}

static const zone_rr_t *find_soa(const zone_rr_t *rrs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (rrs[i].type == RR_TYPE_SOA)
            return &rrs[i];
    return NULL;
}

/* Whether v[k] continues v[k-1] (RFC 1982: the serial moves forward). */
static bool chains(const zone_changeset_t *prev, const zone_changeset_t *next)
{
    return prev->serial_to == next->serial_from;
}

static bool moves_forward(const zone_changeset_t *cs)
{
    return zone_serial_compare(cs->serial_to, cs->serial_from) > 0;
}

/* The index of the changeset starting at `serial` in the last chained run,
 * or n when there is none. */
static size_t find_start(const zone_changeset_t *v, size_t n, uint32_t serial)
{
    for (size_t k = n; k-- > 0;) {
        if (!moves_forward(&v[k]))
            return n;
        if (v[k].serial_from == serial)
            return k;
        if (k > 0 && !chains(&v[k - 1], &v[k]))
            return n;
    }
    return n;
}

static size_t add_ops(op_t *ops, size_t nops, const zone_rr_t *rrs, size_t n, bool add,
                      size_t *seq)
{
    for (size_t i = 0; i < n; i++)
        if (rrs[i].type != RR_TYPE_SOA)
            ops[nops++] = (op_t){ .rr = &rrs[i], .seq = (*seq)++, .add = add };
    return nops;
}

/* Fills removed/added (SOAs first, already placed by the caller) with the
 * RRs whose presence differs between the ends of the sorted ops. */
static void net_effect(const op_t *ops, size_t nops, zone_rr_t *removed, size_t *nremoved,
                       zone_rr_t *added, size_t *nadded)
{
    size_t i = 0;
    while (i < nops) {
        size_t j = i;
        while (j + 1 < nops && rr_compare(ops[j + 1].rr, ops[i].rr) == 0)
            j++;
        bool was = !ops[i].add, is = ops[j].add;
        if (was && !is)
            removed[(*nremoved)++] = *ops[i].rr;
        else if (!was && is)
            added[(*nadded)++] = *ops[i].rr;
        i = j + 1;
    }
}

enum zone_journal_result zone_journal_condense(const zone_changeset_t *v, size_t n,
                                               uint32_t serial, zone_changeset_t *out)
{
    memset(out, 0, sizeof *out);
    if (n > 0 && v[n - 1].serial_to == serial)
        return ZJ_UPTODATE;
    size_t start = find_start(v, n, serial);
    if (start == n)
        return ZJ_NONE;
    const zone_rr_t *old_soa = find_soa(v[start].removed, v[start].nremoved);
    const zone_rr_t *new_soa = find_soa(v[n - 1].added, v[n - 1].nadded);
    if (old_soa == NULL || new_soa == NULL)
        return ZJ_NONE;
    size_t total = 0;
    for (size_t k = start; k < n; k++)
        total += v[k].nremoved + v[k].nadded;
    op_t *ops = malloc((total + 1) * sizeof *ops);
    zone_rr_t *removed = malloc((total + 1) * sizeof *removed);
    zone_rr_t *added = malloc((total + 1) * sizeof *added);
    enum zone_journal_result r = ZJ_NONE;
    if (ops && removed && added) {
        size_t nops = 0, seq = 0;
        for (size_t k = start; k < n; k++) {
            nops = add_ops(ops, nops, v[k].removed, v[k].nremoved, false, &seq);
            nops = add_ops(ops, nops, v[k].added, v[k].nadded, true, &seq);
        }
        qsort(ops, nops, sizeof *ops, op_compare);
        size_t nr = 1, na = 1;
        removed[0] = *old_soa;
        added[0] = *new_soa;
        net_effect(ops, nops, removed, &nr, added, &na);
        if (zone_changeset_make(out, serial, v[n - 1].serial_to, removed, nr, added, na) == 0)
            r = ZJ_DIFF;
    }
    free(ops);
    free(removed);
    free(added);
    return r;
}
