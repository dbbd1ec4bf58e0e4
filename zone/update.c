/* zone/update.c — RFC 2136 prerequisites and update processing, batches of
 * UPDATEs, serial policies, zone differences and changesets (update.h).
 *
 * UPDATEs are applied to a working set (zone/update_int.h: the zone's
 * records with an owner index and a per-UPDATE undo log), each as one
 * step: prerequisites and the prescan first (nothing changes when they
 * fail), then the update section; the rules of §3.4.2 (CNAME and other
 * data, apex SOA and NS) are kept by the operations themselves, for the
 * names they touch. The step's changeset comes from its undo log; a step
 * that changed nothing in the end is undone. Only when the batch closes
 * are the live records rebuilt into a new zone (zone_from_records, which
 * re-checks every rule). Nothing is visible until the caller publishes
 * it, so a failure leaves the zone as it was (all or nothing, §3.4). A
 * reload's changeset goes through the same working set (zone_diff for the
 * difference of two files). */
#include "zone/update.h"
#include "zone/update_int.h"
#include "zone/zone_build.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zone/rrtype.h"

#define SOA_RDATA_MAX (2 * NAME_MAX_WIRE + SOA_NUMBERS)

/* ---- small helpers ---- */

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t soa_serial(const zone_rr_t *rr)
{
    return rr->rdlen >= SOA_NUMBERS ? be32(rr->rdata + rr->rdlen - SOA_NUMBERS) : 0;
}

static void set_err(char *err, const char *fmt, const char *arg)
{
    if (err)
        snprintf(err, ZONE_ERR_MAX, fmt, arg);
}

int zone_serial_compare(uint32_t a, uint32_t b)
{
    /* RFC 1982 §3.2: a < b iff (a < b and b - a < 2^31) or (a > b and
     * a - b > 2^31). */
    if (a == b)
        return 0;
    if ((a < b && b - a < 0x80000000u) || (a > b && a - b > 0x80000000u))
        return -1;
    if ((a < b && b - a > 0x80000000u) || (a > b && a - b < 0x80000000u))
        return 1;
    return 0; /* exactly 2^31 apart: undefined, never "greater" */
}

static uint32_t date_serial(uint64_t now)
{
    time_t t = (time_t)now;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return 0;
    return (uint32_t)(tm.tm_year + 1900) * 1000000u + (uint32_t)(tm.tm_mon + 1) * 10000u +
           (uint32_t)tm.tm_mday * 100u;
}

uint32_t zone_serial_next(uint32_t old, enum zone_serial_policy policy, uint64_t now)
{
    uint32_t want = old + 1;
    if (policy == ZONE_SERIAL_UNIXTIME)
        want = (uint32_t)now;
    else if (policy == ZONE_SERIAL_DATESERIAL)
        want = date_serial(now);
    return zone_serial_compare(want, old) > 0 ? want : old + 1;
}

/* ---- lookups in the working set (the records at one name only) ---- */

static bool name_in_use(const ws_t *w, const uint8_t *name)
{
    for (size_t i = ws_first(w, name); i != WS_END; i = ws_next(w, i))
        if (ws_live_at(w, i, name))
            return true;
    return false;
}

static size_t rrset_count(const ws_t *w, const uint8_t *name, uint16_t type)
{
    size_t n = 0;
    for (size_t i = ws_first(w, name); i != WS_END; i = ws_next(w, i))
        if (ws_live_at(w, i, name) && w->v[i].rr.type == type)
            n++;
    return n;
}

/* Index of the live RR equal to rr (owner, type, rdata; not TTL), or -1. */
static long find_rr(const ws_t *w, const zone_rr_t *rr)
{
    for (size_t i = ws_first(w, rr->owner); i != WS_END; i = ws_next(w, i))
        if (ws_live_at(w, i, rr->owner) && w->v[i].rr.type == rr->type &&
            rr_rdata_equal(&w->v[i].rr, rr))
            return (long)i;
    return -1;
}

static long find_type(const ws_t *w, const uint8_t *name, uint16_t type)
{
    for (size_t i = ws_first(w, name); i != WS_END; i = ws_next(w, i))
        if (ws_live_at(w, i, name) && w->v[i].rr.type == type)
            return (long)i;
    return -1;
}

/* Gives the whole RRset the TTL (RFC 2181 §5.2: one TTL per RRset). */
static void rrset_set_ttl(ws_t *w, const uint8_t *name, uint16_t type, uint32_t ttl)
{
    for (size_t i = ws_first(w, name); i != WS_END; i = ws_next(w, i))
        if (ws_live_at(w, i, name) && w->v[i].rr.type == type && w->v[i].rr.ttl != ttl) {
            ws_touch(w, i);
            w->v[i].rr.ttl = ttl;
            w->changed = true;
        }
}

static bool is_dnssec_companion(uint16_t type)
{
    return type == RR_TYPE_RRSIG || type == RR_TYPE_NSEC; /* RFC 4035 §2.5 */
}

/* True when the name holds data that may not sit beside a CNAME. */
static bool has_non_cname(const ws_t *w, const uint8_t *name)
{
    for (size_t i = ws_first(w, name); i != WS_END; i = ws_next(w, i))
        if (ws_live_at(w, i, name) && w->v[i].rr.type != RR_TYPE_CNAME &&
            !is_dnssec_companion(w->v[i].rr.type))
            return true;
    return false;
}

/* ---- prerequisites (§3.2) ---- */

static bool in_zone(const zone_update_t *u, const uint8_t *name)
{
    return name_is_subdomain(name, u->zname);
}

/* §3.2.3: every (name, type) named by value-dependent prerequisites must
 * exist with exactly the given RRs. */
static int check_value_rrsets(const ws_t *w, const zone_update_t *u)
{
    for (size_t i = 0; i < u->nprereq; i++) {
        const zone_rr_t *p = &u->prereq[i];
        if (p->rclass != u->zclass)
            continue;
        if (find_rr(w, p) < 0)
            return ZU_NXRRSET;
        size_t distinct = 0;
        for (size_t j = 0; j < u->nprereq; j++) {
            const zone_rr_t *q = &u->prereq[j];
            if (q->rclass != u->zclass || q->type != p->type || !name_equal(q->owner, p->owner))
                continue;
            bool seen = false;
            for (size_t k = 0; k < j && !seen; k++) {
                const zone_rr_t *r = &u->prereq[k];
                seen = r->rclass == u->zclass && r->type == q->type &&
                       name_equal(r->owner, q->owner) && rr_rdata_equal(r, q);
            }
            distinct += !seen;
        }
        if (rrset_count(w, p->owner, p->type) != distinct)
            return ZU_NXRRSET;
    }
    return ZU_NOERROR;
}

static int check_one_prereq(const ws_t *w, const zone_update_t *u, const zone_rr_t *p)
{
    if (p->ttl != 0)
        return ZU_FORMERR;
    if (!in_zone(u, p->owner))
        return ZU_NOTZONE;
    if (p->rclass == ZU_CLASS_ANY) { /* §3.2.1 */
        if (p->rdlen != 0)
            return ZU_FORMERR;
        if (p->type == ZU_TYPE_ANY)
            return name_in_use(w, p->owner) ? ZU_NOERROR : ZU_NXDOMAIN;
        return find_type(w, p->owner, p->type) >= 0 ? ZU_NOERROR : ZU_NXRRSET;
    }
    if (p->rclass == ZU_CLASS_NONE) { /* §3.2.2 */
        if (p->rdlen != 0)
            return ZU_FORMERR;
        if (p->type == ZU_TYPE_ANY)
            return name_in_use(w, p->owner) ? ZU_YXDOMAIN : ZU_NOERROR;
        return find_type(w, p->owner, p->type) >= 0 ? ZU_YXRRSET : ZU_NOERROR;
    }
    if (p->rclass == u->zclass) { /* §3.2.3, checked as a whole below */
        const char *why;
        if (rrtype_is_meta(p->type) || !rrtype_rdata_valid(p->type, p->rdata, p->rdlen, &why))
            return ZU_FORMERR;
        return ZU_NOERROR;
    }
    return ZU_FORMERR;
}

static int check_prereqs(const ws_t *w, const zone_update_t *u, char *err)
{
    for (size_t i = 0; i < u->nprereq; i++) {
        int rc = check_one_prereq(w, u, &u->prereq[i]);
        if (rc != ZU_NOERROR) {
            set_err(err, "prerequisite %s failed", "");
            return rc;
        }
    }
    int rc = check_value_rrsets(w, u);
    if (rc != ZU_NOERROR)
        set_err(err, "prerequisite RRset %s does not match", "");
    return rc;
}

/* ---- update section (§3.4) ---- */

/* §3.4.1.3 prescan: the whole section is checked before anything changes. */
static int prescan_one(const zone_update_t *u, const zone_rr_t *r)
{
    if (!in_zone(u, r->owner))
        return ZU_NOTZONE;
    if (r->rclass == u->zclass) {
        const char *why;
        if (rrtype_is_meta(r->type) || r->ttl > TTL_MAX ||
            !rrtype_rdata_valid(r->type, r->rdata, r->rdlen, &why))
            return ZU_FORMERR;
        return ZU_NOERROR;
    }
    if (r->rclass == ZU_CLASS_ANY)
        return r->ttl != 0 || r->rdlen != 0 ||
                       (rrtype_is_meta(r->type) && r->type != ZU_TYPE_ANY)
                   ? ZU_FORMERR
                   : ZU_NOERROR;
    if (r->rclass == ZU_CLASS_NONE) {
        const char *why;
        return r->ttl != 0 || rrtype_is_meta(r->type) ||
                       !rrtype_rdata_valid(r->type, r->rdata, r->rdlen, &why)
                   ? ZU_FORMERR
                   : ZU_NOERROR;
    }
    return ZU_FORMERR;
}

/* §3.4.2.2 SOA: only at the apex, only a newer serial (RFC 1982). */
static void add_soa(ws_t *w, const zone_rr_t *r)
{
    if (!name_equal(r->owner, w->apex))
        return;
    long i = find_type(w, w->apex, RR_TYPE_SOA);
    if (i < 0 || zone_serial_compare(soa_serial(r), soa_serial(&w->v[i].rr)) <= 0)
        return;
    /* Also newer than before this UPDATE: two SOAs in one message, each
     * newer than the one before, may end 2^31 or more past the start,
     * which RFC 1982 calls older (found by fuzz_dns_updmsg). */
    if (w->has_step_serial && zone_serial_compare(soa_serial(r), w->step_serial) <= 0)
        return;
    ws_set_rdata(w, (size_t)i, r);
    w->soa_set = true;
}

/* §3.4.2.2 CNAME: ignored beside other data, otherwise replaces the CNAME. */
static void add_cname(ws_t *w, const zone_rr_t *r)
{
    if (has_non_cname(w, r->owner))
        return;
    long i = find_type(w, r->owner, RR_TYPE_CNAME);
    if (i >= 0) {
        if (rr_rdata_equal(&w->v[i].rr, r) && w->v[i].rr.ttl == r->ttl)
            return;
        ws_kill(w, (size_t)i);
    }
    ws_push(w, r);
    w->changed = true;
}

static void add_rr(ws_t *w, const zone_rr_t *r)
{
    if (r->type == RR_TYPE_SOA) {
        add_soa(w, r);
        return;
    }
    if (r->type == RR_TYPE_CNAME) {
        add_cname(w, r);
        return;
    }
    if (!is_dnssec_companion(r->type) && find_type(w, r->owner, RR_TYPE_CNAME) >= 0)
        return; /* non-CNAME data at a CNAME: ignored (§3.4.2.2) */
    if (find_rr(w, r) < 0) { /* a duplicate only updates the TTL */
        ws_push(w, r);
        w->changed = true;
    }
    rrset_set_ttl(w, r->owner, r->type, r->ttl);
}

static void delete_rrsets(ws_t *w, const zone_rr_t *r)
{
    bool apex = name_equal(r->owner, w->apex);
    if (r->type != ZU_TYPE_ANY && apex && (r->type == RR_TYPE_SOA || r->type == RR_TYPE_NS))
        return; /* §3.4.2.3: the apex SOA and NS RRsets are never deleted */
    for (size_t i = ws_first(w, r->owner); i != WS_END; i = ws_next(w, i)) {
        if (!ws_live_at(w, i, r->owner))
            continue;
        uint16_t t = w->v[i].rr.type;
        if (r->type == ZU_TYPE_ANY ? !(apex && (t == RR_TYPE_SOA || t == RR_TYPE_NS))
                                   : t == r->type)
            ws_kill(w, i);
    }
}

static void delete_rr(ws_t *w, const zone_rr_t *r)
{
    if (r->type == RR_TYPE_SOA)
        return; /* §3.4.2.4 */
    long i = find_rr(w, r);
    if (i < 0)
        return;
    if (r->type == RR_TYPE_NS && name_equal(r->owner, w->apex) &&
        rrset_count(w, w->apex, RR_TYPE_NS) <= 1)
        return; /* the last apex NS stays */
    ws_kill(w, (size_t)i);
}

static void apply_one(ws_t *w, const zone_update_t *u, const zone_rr_t *r)
{
    if (r->rclass == u->zclass)
        add_rr(w, r);
    else if (r->rclass == ZU_CLASS_ANY)
        delete_rrsets(w, r);
    else
        delete_rr(w, r);
}


/* ---- one UPDATE as a step of a batch ---- */

static uint32_t ws_serial(const ws_t *w)
{
    long i = find_type(w, w->apex, RR_TYPE_SOA);
    return i < 0 ? 0 : soa_serial(&w->v[i].rr);
}

/* §3.6: a change the update did not version itself bumps the serial. */
static void bump_serial(ws_t *w, enum zone_serial_policy policy, uint64_t now)
{
    long i = find_type(w, w->apex, RR_TYPE_SOA);
    if (i < 0 || w->v[i].rr.rdlen > SOA_RDATA_MAX || w->v[i].rr.rdlen < SOA_NUMBERS)
        return;
    zone_rr_t soa = w->v[i].rr;
    uint8_t rd[SOA_RDATA_MAX];
    memcpy(rd, soa.rdata, soa.rdlen);
    put_be32(rd + soa.rdlen - SOA_NUMBERS, zone_serial_next(soa_serial(&soa), policy, now));
    soa.rdata = rd;
    ws_set_rdata(w, (size_t)i, &soa);
}

/* Changes that cancel out within one UPDATE (add then delete the same
 * RR, delete an RRset then add back what it held) leave only the bumped
 * SOA in the diff: the zone's content did not change, so neither does its
 * serial (§3.6 bumps it for a change; Knot keeps it too). */
static bool only_serial_moved(const zone_changeset_t *cs)
{
    return cs->nremoved == 1 && cs->nadded == 1 && cs->removed[0].type == RR_TYPE_SOA &&
           cs->added[0].type == RR_TYPE_SOA;
}

static void changeset_clear(zone_changeset_t *cs)
{
    memset(cs, 0, sizeof *cs);
}

/* Checks and applies u as one step; on NOERROR with a net change, *cs is
 * the step's changeset and the step stays, otherwise it is undone. */
static int apply_step(ws_t *w, const zone_update_t *u, enum zone_serial_policy policy,
                      uint64_t now, zone_changeset_t *cs, char *err)
{
    ws_step_begin(w);
    uint32_t from = ws_serial(w);
    w->has_step_serial = true;
    w->step_serial = from;
    int rc = check_prereqs(w, u, err);
    for (size_t i = 0; rc == ZU_NOERROR && i < u->nupdate; i++)
        if ((rc = prescan_one(u, &u->update[i])) != ZU_NOERROR)
            set_err(err, "update section rejected by the prescan (RFC 2136 3.4.1.3)%s", "");
    for (size_t i = 0; rc == ZU_NOERROR && i < u->nupdate && !w->oom; i++)
        apply_one(w, u, &u->update[i]);
    if (rc == ZU_NOERROR && (w->changed || w->soa_set)) {
        if (!w->soa_set)
            bump_serial(w, policy, now);
        if (!w->oom && ws_step_diff(w, from, ws_serial(w), cs) < 0)
            w->oom = true;
        if (!w->oom && !w->soa_set && only_serial_moved(cs))
            zone_changeset_free(cs); /* net no change: no new version (as Knot) */
        else if (!w->oom)
            return rc;
    }
    if (rc == ZU_NOERROR && w->oom) {
        set_err(err, "out of memory%s", "");
        rc = ZU_SERVFAIL;
    }
    zone_changeset_free(cs);
    ws_step_undo(w);
    w->oom = false;
    return rc;
}

/* ---- batches ---- */

struct zone_update_batch {
    ws_t w;
    const zone_t *zone;
    uint8_t origin[NAME_MAX_WIRE];
    size_t changes; /* steps that changed the zone since the last build */
};

zone_update_batch_t *zone_update_batch_open(const zone_t *zone)
{
    zone_update_batch_t *b = calloc(1, sizeof *b);
    if (!b)
        return NULL;
    if (ws_load(&b->w, zone) < 0) {
        ws_free(&b->w);
        free(b);
        return NULL;
    }
    b->zone = zone;
    memcpy(b->origin, zone->origin, name_wire_len(zone->origin));
    b->w.apex = b->origin;
    return b;
}

int zone_update_batch_apply(zone_update_batch_t *b, const zone_update_t *u,
                            enum zone_serial_policy policy, uint64_t now,
                            zone_changeset_t *cs, char err[ZONE_ERR_MAX])
{
    changeset_clear(cs);
    if (err)
        err[0] = 0;
    if (!name_equal(b->origin, u->zname) || u->zclass != RR_CLASS_IN) {
        set_err(err, "not this zone%s", "");
        return ZU_NOTAUTH;
    }
    int rc = apply_step(&b->w, u, policy, now, cs, err);
    b->changes += rc == ZU_NOERROR && !zone_changeset_empty(cs);
    return rc;
}

const zone_t *zone_update_batch_zone(const zone_update_batch_t *b)
{
    return b->zone;
}

size_t zone_update_batch_changes(const zone_update_batch_t *b)
{
    return b->changes;
}

size_t zone_update_batch_churn(const zone_update_batch_t *b)
{
    return b->w.n - b->zone->count + b->w.killed;
}

zone_t *zone_update_batch_build(zone_update_batch_t *b, char err[ZONE_ERR_MAX])
{
    if (err)
        err[0] = 0;
    if (!b->changes)
        return NULL;
    zone_t *out = ws_build_valid(&b->w, b->origin, err);
    if (out)
        b->changes = 0;
    return out;
}

zone_t *zone_update_batch_view(zone_update_batch_t *b)
{
    if (!b->changes)
        return NULL;
    zone_t *out = ws_view(&b->w, b->origin);
    if (out)
        b->changes = 0;
    return out;
}

zone_t *zone_update_view_copy(const zone_t *view)
{
    return zone_copy_valid(view->origin, view->rrs, view->count);
}

zone_t *zone_update_batch_close(zone_update_batch_t *b, char err[ZONE_ERR_MAX])
{
    zone_t *out = zone_update_batch_build(b, err);
    zone_update_batch_free(b);
    return out;
}

size_t zone_update_batch_touched(const zone_update_batch_t *b)
{
    return b->w.touched.n;
}

void zone_update_batch_touched_reset(zone_update_batch_t *b)
{
    nameset_clear(&b->w.touched);
}

/* Adds the live records at name to *rrs (grown as needed). */
static int add_records_at(const ws_t *w, const uint8_t *name, zone_rr_t **rrs, size_t *n,
                          size_t *cap)
{
    for (size_t i = ws_first(w, name); i != WS_END; i = ws_next(w, i)) {
        if (!ws_live_at(w, i, name))
            continue;
        if (*n == *cap) {
            size_t c = *cap ? *cap * 2 : 64;
            zone_rr_t *v = realloc(*rrs, c * sizeof *v);
            if (!v)
                return -1;
            *rrs = v;
            *cap = c;
        }
        (*rrs)[(*n)++] = w->v[i].rr;
    }
    return 0;
}

zone_t *zone_update_batch_part(const zone_update_batch_t *b, bool *emptied)
{
    const ws_t *w = &b->w;
    *emptied = false;
    for (size_t k = 0; k < w->touched.n; k++)
        if (!name_in_use(w, w->touched.v[k])) {
            *emptied = true; /* its node may vanish: a full index is due */
            return NULL;
        }
    nameset_t names = { 0 };
    int rc = nameset_add(&names, b->origin) < 0 ? -1 : 0;
    for (size_t k = 0; rc == 0 && k < w->touched.n; k++)
        for (const uint8_t *p = w->touched.v[k]; rc == 0 && p && !name_equal(p, b->origin);
             p = name_parent(p))
            if (nameset_add(&names, p) < 0)
                rc = -1;
    zone_rr_t *rrs = NULL;
    size_t n = 0, cap = 0;
    for (size_t k = 0; rc == 0 && k < names.n; k++)
        rc = add_records_at(w, names.v[k], &rrs, &n, &cap);
    zone_t *part = rc == 0 ? zone_copy_valid(b->origin, rrs, n) : NULL;
    free(rrs);
    nameset_free(&names);
    return part;
}

void zone_update_batch_free(zone_update_batch_t *b)
{
    if (!b)
        return;
    ws_free(&b->w);
    free(b);
}

int zone_update_apply(const zone_t *zone, const zone_update_t *u,
                      enum zone_serial_policy policy, uint64_t now,
                      zone_t **out, zone_changeset_t *cs, char err[ZONE_ERR_MAX])
{
    *out = NULL;
    changeset_clear(cs);
    if (err)
        err[0] = 0;
    if (!name_equal(zone->origin, u->zname) || u->zclass != RR_CLASS_IN) {
        set_err(err, "not this zone%s", "");
        return ZU_NOTAUTH;
    }
    zone_update_batch_t *b = zone_update_batch_open(zone);
    if (!b) {
        set_err(err, "out of memory%s", "");
        return ZU_SERVFAIL;
    }
    int rc = zone_update_batch_apply(b, u, policy, now, cs, err);
    if (zone_update_batch_changes(b) == 0) {
        zone_update_batch_free(b);
        return rc;
    }
    *out = zone_update_batch_close(b, err);
    if (!*out) {
        zone_changeset_free(cs);
        return ZU_SERVFAIL;
    }
    return rc;
}

/* ---- differences ---- */


static const zone_rr_t **sorted_ptrs(const zone_t *z)
{
    const zone_rr_t **v = malloc((z->count ? z->count : 1) * sizeof *v);
    if (!v)
        return NULL;
    for (size_t i = 0; i < z->count; i++)
        v[i] = &z->rrs[i];
    qsort(v, z->count, sizeof *v, rr_ptr_cmp);
    return v;
}

int zone_diff(const zone_t *from, const zone_t *to, zone_changeset_t *cs)
{
    changeset_clear(cs);
    cs->serial_from = from->serial;
    cs->serial_to = to->serial;
    const zone_rr_t **a = sorted_ptrs(from), **b = sorted_ptrs(to);
    const zone_rr_t **rem = malloc((from->count + 1) * sizeof *rem);
    const zone_rr_t **add = malloc((to->count + 1) * sizeof *add);
    int rc = -1;
    if (a && b && rem && add) {
        size_t i = 0, j = 0, nrem = 0, nadd = 0;
        while (i < from->count || j < to->count) {
            int c = i == from->count ? 1 : j == to->count ? -1 : rr_key_cmp(a[i], b[j]);
            if (c < 0) {
                rem[nrem++] = a[i++];
            } else if (c > 0) {
                add[nadd++] = b[j++];
            } else {
                if (a[i]->ttl != b[j]->ttl) {
                    rem[nrem++] = a[i];
                    add[nadd++] = b[j];
                }
                i++;
                j++;
            }
        }
        rc = rr_cs_fill(cs, rem, nrem, add, nadd);
    }
    free(a);
    free(b);
    free(rem);
    free(add);
    if (rc < 0)
        zone_changeset_free(cs);
    cs->serial_from = from->serial;
    cs->serial_to = to->serial;
    return rc;
}

int zone_changeset_make(zone_changeset_t *cs, uint32_t serial_from, uint32_t serial_to,
                        const zone_rr_t *removed, size_t nremoved,
                        const zone_rr_t *added, size_t nadded)
{
    changeset_clear(cs);
    const zone_rr_t **rem = malloc((nremoved + 1) * sizeof *rem);
    const zone_rr_t **add = malloc((nadded + 1) * sizeof *add);
    int rc = -1;
    if (rem && add) {
        for (size_t i = 0; i < nremoved; i++)
            rem[i] = &removed[i];
        for (size_t i = 0; i < nadded; i++)
            add[i] = &added[i];
        rc = rr_cs_fill(cs, rem, nremoved, add, nadded);
    }
    free(rem);
    free(add);
    if (rc < 0)
        zone_changeset_free(cs);
    cs->serial_from = serial_from;
    cs->serial_to = serial_to;
    return rc;
}

/* ---- applying a changeset (reloads) ----
 *
 * A reload's difference may touch every record of a big zone, so lookups go
 * through an index of the records the zone had (sorted by owner, type and
 * rdata) instead of the working set's linear scans: O(n log n) in all. */

typedef struct widx {
    ws_t *w;
    size_t *v; /* indices into w->v of the zone's records, sorted */
    size_t n;
} widx_t;

static _Thread_local const ws_t *sort_ws;

static int widx_cmp(const void *pa, const void *pb)
{
    const zone_rr_t *a = &sort_ws->v[*(const size_t *)pa].rr;
    const zone_rr_t *b = &sort_ws->v[*(const size_t *)pb].rr;
    return rr_key_cmp(a, b);
}

static int widx_build(widx_t *x, ws_t *w)
{
    x->w = w;
    x->n = w->n;
    x->v = malloc((w->n ? w->n : 1) * sizeof *x->v);
    if (!x->v)
        return -1;
    for (size_t i = 0; i < w->n; i++)
        x->v[i] = i;
    sort_ws = w;
    qsort(x->v, x->n, sizeof *x->v, widx_cmp);
    sort_ws = NULL;
    return 0;
}

/* First sorted position whose record is not before rr; with rdata false,
 * only owner and type count. */
static size_t widx_lower(const widx_t *x, const zone_rr_t *rr, bool rdata)
{
    size_t lo = 0, hi = x->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const zone_rr_t *m = &x->w->v[x->v[mid]].rr;
        int c = name_compare_canonical(m->owner, rr->owner);
        if (c == 0 && m->type != rr->type)
            c = m->type < rr->type ? -1 : 1;
        if (c == 0 && rdata)
            c = rr_rdata_cmp(m->type, m->rdata, m->rdlen, rr->rdata, rr->rdlen);
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The live zone record equal to rr (not TTL), or -1. */
static long widx_find(const widx_t *x, const zone_rr_t *rr)
{
    size_t p = widx_lower(x, rr, true);
    if (p == x->n)
        return -1;
    size_t i = x->v[p];
    const zone_rr_t *m = &x->w->v[i].rr;
    if (x->w->v[i].dead || m->type != rr->type || !name_equal(m->owner, rr->owner) ||
        !rr_rdata_equal(m, rr))
        return -1;
    return (long)i;
}

/* Gives the zone's records of rr's RRset rr's TTL. */
static void widx_set_ttl(widx_t *x, const zone_rr_t *rr)
{
    for (size_t p = widx_lower(x, rr, false); p < x->n; p++) {
        wrr_t *e = &x->w->v[x->v[p]];
        if (e->rr.type != rr->type || !name_equal(e->rr.owner, rr->owner))
            break;
        if (!e->dead && e->rr.ttl != rr->ttl) {
            e->rr.ttl = rr->ttl;
            x->w->changed = true;
        }
    }
}

static void apply_cs_records(widx_t *x, const zone_changeset_t *cs)
{
    ws_t *w = x->w;
    for (size_t i = 0; i < cs->nremoved; i++) {
        if (cs->removed[i].type == RR_TYPE_SOA)
            continue; /* the SOA moves only through an added, newer SOA */
        long k = widx_find(x, &cs->removed[i]);
        if (k >= 0)
            ws_kill(w, (size_t)k);
    }
    for (size_t i = 0; i < cs->nadded && !w->oom; i++) {
        const zone_rr_t *r = &cs->added[i];
        if (r->type == RR_TYPE_SOA) {
            add_soa(w, r);
            continue;
        }
        if (widx_find(x, r) < 0) {
            ws_push(w, r); /* records added by one changeset share their RRset's TTL */
            w->changed = true;
        }
        widx_set_ttl(x, r);
    }
}

zone_t *zone_apply_changeset(const zone_t *zone, const zone_changeset_t *cs,
                             enum zone_serial_policy policy, uint64_t now,
                             bool *unchanged, char err[ZONE_ERR_MAX])
{
    *unchanged = false;
    if (err)
        err[0] = 0;
    ws_t *w = calloc(1, sizeof *w);
    widx_t x = { 0 };
    if (!w || ws_load(w, zone) < 0 || widx_build(&x, w) < 0) {
        if (w)
            ws_free(w);
        free(w);
        free(x.v);
        set_err(err, "out of memory%s", "");
        return NULL;
    }
    apply_cs_records(&x, cs);
    zone_t *out = NULL;
    if (w->oom) {
        set_err(err, "out of memory%s", "");
    } else if (!w->changed && !w->soa_set) {
        *unchanged = true;
    } else {
        if (!w->soa_set)
            bump_serial(w, policy, now);
        out = ws_build(w, zone->origin, err);
    }
    free(x.v);
    ws_free(w);
    free(w);
    return out;
}

/* ---- ownership ---- */

void zone_update_free(zone_update_t *u)
{
    if (!u)
        return;
    free(u->prereq);
    free(u->update);
    free(u->arena);
    u->prereq = u->update = NULL;
    u->arena = NULL;
    u->nprereq = u->nupdate = 0;
}

void zone_changeset_free(zone_changeset_t *cs)
{
    if (!cs)
        return;
    free(cs->removed);
    free(cs->added);
    free(cs->data);
    changeset_clear(cs);
}

size_t zone_changeset_size(const zone_changeset_t *cs)
{
    return cs->data_len + (cs->nremoved + cs->nadded) * 10 + 8;
}

bool zone_changeset_empty(const zone_changeset_t *cs)
{
    return cs->nremoved == 0 && cs->nadded == 0;
}
