/* zone/update.c — RFC 2136 prerequisites and update processing on a zone_t,
 * serial policies, zone differences and changesets (zone/update.h).
 *
 * A "working set" holds the zone's records (borrowed pointers into the old
 * zone and into the parsed message) with a dead flag; the update marks and
 * appends, then the live records are rebuilt into a new zone with
 * zone_from_records (which re-checks every zone rule). The changeset is
 * the difference between the old zone and the new one: for an UPDATE taken
 * from the working set (ws_diff, only the touched records are sorted), for
 * a reload computed by zone_diff. Nothing is visible
 * until the caller publishes the new zone, so a failure anywhere leaves the
 * zone as it was (all or nothing, §3.4). */
#include "zone/update.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "zone/rrtype.h"

#define SOA_NUMBERS 20 /* serial refresh retry expire minimum */
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

/* Thread-local scratch for canonical rdata (comparisons on any thread). */
static _Thread_local uint8_t canon_a[RDATA_MAX], canon_b[RDATA_MAX];

/* Canonical rdata comparison (names inside lowercased, RFC 4034 §6.2). */
static int rdata_cmp(uint16_t type, const uint8_t *a, uint16_t alen, const uint8_t *b,
                     uint16_t blen)
{
    rrtype_rdata_canonical(type, a, alen, canon_a);
    rrtype_rdata_canonical(type, b, blen, canon_b);
    size_t n = alen < blen ? alen : blen;
    int c = memcmp(canon_a, canon_b, n);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static bool rdata_equal(const zone_rr_t *a, const zone_rr_t *b)
{
    return a->rdlen == b->rdlen && rdata_cmp(a->type, a->rdata, a->rdlen, b->rdata, b->rdlen) == 0;
}

/* ---- the working set ---- */

typedef struct wrr {
    zone_rr_t rr;
    bool dead;
} wrr_t;

typedef struct ws {
    wrr_t *v;
    size_t n, cap;
    const uint8_t *apex;
    const zone_rr_t *orig; /* the old zone's records: v[i] started as orig[i] */
    size_t norig;
    bool changed;  /* something other than an explicit SOA changed */
    bool soa_set;  /* the SOA was replaced by a newer one */
    bool oom;
    uint8_t soa[SOA_RDATA_MAX]; /* the bumped SOA's rdata */
} ws_t;

static void ws_push(ws_t *w, const zone_rr_t *rr)
{
    if (w->n == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        wrr_t *v = realloc(w->v, cap * sizeof *v);
        if (!v) {
            w->oom = true;
            return;
        }
        w->v = v;
        w->cap = cap;
    }
    w->v[w->n].rr = *rr;
    w->v[w->n].rr.rclass = RR_CLASS_IN;
    w->v[w->n].dead = false;
    w->n++;
}

static int ws_load(ws_t *w, const zone_t *zone)
{
    memset(w, 0, sizeof *w);
    w->apex = zone->origin;
    w->orig = zone->rrs;
    w->norig = zone->count;
    for (size_t i = 0; i < zone->count && !w->oom; i++)
        ws_push(w, &zone->rrs[i]);
    return w->oom ? -1 : 0;
}

static bool live_at(const ws_t *w, size_t i, const uint8_t *name)
{
    return !w->v[i].dead && name_equal(w->v[i].rr.owner, name);
}

static bool name_in_use(const ws_t *w, const uint8_t *name)
{
    for (size_t i = 0; i < w->n; i++)
        if (live_at(w, i, name))
            return true;
    return false;
}

static size_t rrset_count(const ws_t *w, const uint8_t *name, uint16_t type)
{
    size_t n = 0;
    for (size_t i = 0; i < w->n; i++)
        if (live_at(w, i, name) && w->v[i].rr.type == type)
            n++;
    return n;
}

/* Index of the live RR equal to rr (owner, type, rdata; not TTL), or -1. */
static long find_rr(const ws_t *w, const zone_rr_t *rr)
{
    for (size_t i = 0; i < w->n; i++)
        if (live_at(w, i, rr->owner) && w->v[i].rr.type == rr->type &&
            rdata_equal(&w->v[i].rr, rr))
            return (long)i;
    return -1;
}

static long find_type(const ws_t *w, const uint8_t *name, uint16_t type)
{
    for (size_t i = 0; i < w->n; i++)
        if (live_at(w, i, name) && w->v[i].rr.type == type)
            return (long)i;
    return -1;
}

/* Gives the whole RRset the TTL (RFC 2181 §5.2: one TTL per RRset). */
static void rrset_set_ttl(ws_t *w, const uint8_t *name, uint16_t type, uint32_t ttl)
{
    for (size_t i = 0; i < w->n; i++)
        if (live_at(w, i, name) && w->v[i].rr.type == type && w->v[i].rr.ttl != ttl) {
            w->v[i].rr.ttl = ttl;
            w->changed = true;
        }
}

static void ws_kill(ws_t *w, size_t i)
{
    w->v[i].dead = true;
    w->changed = true;
}

static bool is_dnssec_companion(uint16_t type)
{
    return type == RR_TYPE_RRSIG || type == RR_TYPE_NSEC; /* RFC 4035 §2.5 */
}

/* True when the name holds data that may not sit beside a CNAME. */
static bool has_non_cname(const ws_t *w, const uint8_t *name)
{
    for (size_t i = 0; i < w->n; i++)
        if (live_at(w, i, name) && w->v[i].rr.type != RR_TYPE_CNAME &&
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
                       name_equal(r->owner, q->owner) && rdata_equal(r, q);
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
    const uint8_t *owner = w->v[i].rr.owner;
    w->v[i].rr = *r;
    w->v[i].rr.owner = owner;
    w->v[i].rr.rclass = RR_CLASS_IN;
    w->soa_set = true;
}

/* §3.4.2.2 CNAME: ignored beside other data, otherwise replaces the CNAME. */
static void add_cname(ws_t *w, const zone_rr_t *r)
{
    if (has_non_cname(w, r->owner))
        return;
    long i = find_type(w, r->owner, RR_TYPE_CNAME);
    if (i >= 0) {
        if (rdata_equal(&w->v[i].rr, r) && w->v[i].rr.ttl == r->ttl)
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
    for (size_t i = 0; i < w->n; i++) {
        if (!live_at(w, i, r->owner))
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

/* ---- building the result ---- */

/* §3.6: a change the update did not version itself bumps the serial. */
static void bump_serial(ws_t *w, enum zone_serial_policy policy, uint64_t now)
{
    long i = find_type(w, w->apex, RR_TYPE_SOA);
    if (i < 0 || w->v[i].rr.rdlen > SOA_RDATA_MAX || w->v[i].rr.rdlen < SOA_NUMBERS)
        return;
    zone_rr_t *soa = &w->v[i].rr;
    memcpy(w->soa, soa->rdata, soa->rdlen);
    uint32_t next = zone_serial_next(soa_serial(soa), policy, now);
    put_be32(w->soa + soa->rdlen - SOA_NUMBERS, next);
    soa->rdata = w->soa;
}

static zone_t *ws_build(const ws_t *w, const uint8_t *origin, char *err)
{
    zone_rr_t *rrs = malloc((w->n ? w->n : 1) * sizeof *rrs);
    if (!rrs) {
        set_err(err, "out of memory%s", "");
        return NULL;
    }
    size_t n = 0;
    for (size_t i = 0; i < w->n; i++)
        if (!w->v[i].dead)
            rrs[n++] = w->v[i].rr;
    char buf[ZONE_ERR_MAX];
    zone_t *z = zone_from_records(origin, rrs, n, buf);
    free(rrs);
    if (!z)
        set_err(err, "%s", buf);
    return z;
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

static int rr_key_cmp(const zone_rr_t *a, const zone_rr_t *b);
static int rr_ptr_cmp(const void *pa, const void *pb);
static int cs_fill(zone_changeset_t *cs, const zone_rr_t **rem, size_t nrem,
                   const zone_rr_t **add, size_t nadd);

static bool ws_modified(const ws_t *w, size_t i)
{
    const zone_rr_t *a = &w->v[i].rr, *o = &w->orig[i];
    return a->ttl != o->ttl || a->rdlen != o->rdlen ||
           (a->rdata != o->rdata && memcmp(a->rdata, o->rdata, a->rdlen) != 0);
}

/* Drops the pairs that cancel out (the same record and TTL removed and
 * added back), in place; both lists sorted by rr_key_cmp. */
static void cancel_pairs(const zone_rr_t **rem, size_t *nrem, const zone_rr_t **add,
                         size_t *nadd)
{
    size_t i = 0, j = 0, kr = 0, ka = 0;
    while (i < *nrem || j < *nadd) {
        int c = i == *nrem ? 1 : j == *nadd ? -1 : rr_key_cmp(rem[i], add[j]);
        if (c < 0) {
            rem[kr++] = rem[i++];
        } else if (c > 0) {
            add[ka++] = add[j++];
        } else if (rem[i]->ttl == add[j]->ttl) {
            i++;
            j++;
        } else {
            rem[kr++] = rem[i++];
            add[ka++] = add[j++];
        }
    }
    *nrem = kr;
    *nadd = ka;
}

/* The changeset from the working set itself, the same as zone_diff(old,
 * new) but without sorting both whole zones (the cost of a big zone's
 * UPDATE, bench/dns-update): removed = old records now dead or modified
 * (TTL, SOA), added = live appended records and the modified ones; only
 * those few are sorted, and a record removed and added back cancels out. */
static int ws_diff(const ws_t *w, uint32_t serial_from, uint32_t serial_to,
                   zone_changeset_t *cs)
{
    size_t nrem = 0, nadd = 0;
    const zone_rr_t **rem = malloc((w->norig + 1) * sizeof *rem);
    const zone_rr_t **add = malloc((w->n + 1) * sizeof *add);
    int rc = -1;
    if (rem && add) {
        for (size_t i = 0; i < w->n; i++) {
            bool old = i < w->norig, mod = old && ws_modified(w, i);
            if (old && (w->v[i].dead || mod))
                rem[nrem++] = &w->orig[i];
            if (!w->v[i].dead && (!old || mod))
                add[nadd++] = &w->v[i].rr;
        }
        qsort(rem, nrem, sizeof *rem, rr_ptr_cmp);
        qsort(add, nadd, sizeof *add, rr_ptr_cmp);
        cancel_pairs(rem, &nrem, add, &nadd);
        rc = cs_fill(cs, rem, nrem, add, nadd);
    }
    free(rem);
    free(add);
    if (rc < 0)
        zone_changeset_free(cs);
    cs->serial_from = serial_from;
    cs->serial_to = serial_to;
    return rc;
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
    ws_t *w = malloc(sizeof *w);
    if (!w || ws_load(w, zone) < 0) {
        if (w)
            free(w->v);
        free(w);
        set_err(err, "out of memory%s", "");
        return ZU_SERVFAIL;
    }
    int rc = check_prereqs(w, u, err);
    for (size_t i = 0; rc == ZU_NOERROR && i < u->nupdate; i++)
        if ((rc = prescan_one(u, &u->update[i])) != ZU_NOERROR)
            set_err(err, "update section rejected by the prescan (RFC 2136 3.4.1.3)%s", "");
    for (size_t i = 0; rc == ZU_NOERROR && i < u->nupdate && !w->oom; i++)
        apply_one(w, u, &u->update[i]);
    if (rc == ZU_NOERROR && w->oom)
        rc = ZU_SERVFAIL;
    if (rc == ZU_NOERROR && (w->changed || w->soa_set)) {
        if (!w->soa_set)
            bump_serial(w, policy, now);
        *out = ws_build(w, zone->origin, err);
        if (!*out || ws_diff(w, zone->serial, (*out)->serial, cs) < 0) {
            zone_free(*out);
            *out = NULL;
            rc = ZU_SERVFAIL;
        } else if (!w->soa_set && only_serial_moved(cs)) {
            zone_free(*out); /* net no change: no new version (as Knot) */
            *out = NULL;
            zone_changeset_free(cs);
        }
    }
    free(w->v);
    free(w);
    return rc;
}

/* ---- differences ---- */

/* Order for diffs: owner (canonical), type, canonical rdata. */
static int rr_key_cmp(const zone_rr_t *a, const zone_rr_t *b)
{
    int c = name_compare_canonical(a->owner, b->owner);
    if (c != 0)
        return c;
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    return rdata_cmp(a->type, a->rdata, a->rdlen, b->rdata, b->rdlen);
}

static int rr_ptr_cmp(const void *pa, const void *pb)
{
    const zone_rr_t *a = *(const zone_rr_t *const *)pa, *b = *(const zone_rr_t *const *)pb;
    return rr_key_cmp(a, b);
}

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

/* Copies the listed records into one block owned by the changeset. */
static int cs_fill(zone_changeset_t *cs, const zone_rr_t **rem, size_t nrem,
                   const zone_rr_t **add, size_t nadd)
{
    size_t bytes = 0;
    for (size_t i = 0; i < nrem; i++)
        bytes += name_wire_len(rem[i]->owner) + rem[i]->rdlen;
    for (size_t i = 0; i < nadd; i++)
        bytes += name_wire_len(add[i]->owner) + add[i]->rdlen;
    cs->removed = calloc(nrem ? nrem : 1, sizeof *cs->removed);
    cs->added = calloc(nadd ? nadd : 1, sizeof *cs->added);
    cs->data = malloc(bytes ? bytes : 1);
    if (!cs->removed || !cs->added || !cs->data)
        return -1;
    size_t pos = 0;
    for (int side = 0; side < 2; side++) {
        const zone_rr_t **src = side ? add : rem;
        size_t n = side ? nadd : nrem;
        zone_rr_t *dst = side ? cs->added : cs->removed;
        for (size_t i = 0; i < n; i++) {
            dst[i] = *src[i];
            size_t nl = name_wire_len(src[i]->owner);
            memcpy(cs->data + pos, src[i]->owner, nl);
            dst[i].owner = cs->data + pos;
            pos += nl;
            memcpy(cs->data + pos, src[i]->rdata, src[i]->rdlen);
            dst[i].rdata = cs->data + pos;
            pos += src[i]->rdlen;
        }
    }
    cs->nremoved = nrem;
    cs->nadded = nadd;
    cs->data_len = bytes;
    return 0;
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
        rc = cs_fill(cs, rem, nrem, add, nadd);
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
        rc = cs_fill(cs, rem, nremoved, add, nadded);
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
            c = rdata_cmp(m->type, m->rdata, m->rdlen, rr->rdata, rr->rdlen);
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
        !rdata_equal(m, rr))
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
    ws_t *w = malloc(sizeof *w);
    widx_t x = { 0 };
    if (!w || ws_load(w, zone) < 0 || widx_build(&x, w) < 0) {
        if (w)
            free(w->v);
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
    free(w->v);
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
