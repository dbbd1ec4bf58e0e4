/* zone/update_ws.c — the working set of dynamic updates and reloads (see
 * zone/update_int.h): records with an owner-name index, memory for the
 * records it adds, the per-step undo log, each step's changeset, and the
 * record comparisons and changeset filling the differences share. */
#include "zone/update_int.h"

#include <stdlib.h>
#include <string.h>

#include "zone/rrtype.h"
#include "zone/zone_build.h"

#define CHUNK_MIN 4096

/* ---- comparisons ---- */

/* Thread-local scratch for canonical rdata (comparisons on any thread). */
static _Thread_local uint8_t canon_a[RDATA_MAX], canon_b[RDATA_MAX];

int rr_rdata_cmp(uint16_t type, const uint8_t *a, uint16_t alen, const uint8_t *b, uint16_t blen)
{
    rrtype_rdata_canonical(type, a, alen, canon_a);
    rrtype_rdata_canonical(type, b, blen, canon_b);
    size_t n = alen < blen ? alen : blen;
    int c = memcmp(canon_a, canon_b, n);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

bool rr_rdata_equal(const zone_rr_t *a, const zone_rr_t *b)
{
    return a->rdlen == b->rdlen &&
           rr_rdata_cmp(a->type, a->rdata, a->rdlen, b->rdata, b->rdlen) == 0;
}

int rr_key_cmp(const zone_rr_t *a, const zone_rr_t *b)
{
    int c = name_compare_canonical(a->owner, b->owner);
    if (c != 0)
        return c;
    if (a->type != b->type)
        return a->type < b->type ? -1 : 1;
    return rr_rdata_cmp(a->type, a->rdata, a->rdlen, b->rdata, b->rdlen);
}

int rr_ptr_cmp(const void *pa, const void *pb)
{
    const zone_rr_t *a = *(const zone_rr_t *const *)pa, *b = *(const zone_rr_t *const *)pb;
    return rr_key_cmp(a, b);
}

void rr_cancel_pairs(const zone_rr_t **rem, size_t *nrem, const zone_rr_t **add, size_t *nadd)
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

int rr_cs_fill(zone_changeset_t *cs, const zone_rr_t **rem, size_t nrem, const zone_rr_t **add,
               size_t nadd)
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

/* ---- memory for copies ---- */

struct ws_chunk {
    struct ws_chunk *next;
    size_t used, size;
    uint8_t data[];
};

uint8_t *ws_alloc(ws_t *w, size_t n)
{
    if (n == 0)
        n = 1;
    struct ws_chunk *c = w->mem;
    if (!c || c->size - c->used < n) {
        size_t size = c ? c->size * 2 : CHUNK_MIN;
        if (size > (1u << 20))
            size = 1u << 20;
        if (size < n)
            size = n;
        c = malloc(sizeof *c + size);
        if (!c) {
            w->oom = true;
            return NULL;
        }
        c->next = w->mem;
        c->used = 0;
        c->size = size;
        w->mem = c;
    }
    uint8_t *p = c->data + c->used;
    c->used += n;
    return p;
}

/* ---- name sets ---- */

static int nameset_grow(nameset_t *s)
{
    size_t ns = s->nslot ? s->nslot * 2 : 64;
    size_t *slot = calloc(ns, sizeof *slot);
    const uint8_t **v = realloc(s->v, (ns / 2) * sizeof *v);
    if (!slot || !v) {
        free(slot);
        if (v)
            s->v = v;
        return -1;
    }
    s->v = v;
    s->cap = ns / 2;
    free(s->slot);
    s->slot = slot;
    s->nslot = ns;
    for (size_t k = 0; k < s->n; k++) {
        size_t i = (size_t)name_hash(s->v[k]) & (ns - 1);
        while (slot[i])
            i = (i + 1) & (ns - 1);
        slot[i] = k + 1;
    }
    return 0;
}

int nameset_add(nameset_t *s, const uint8_t *name)
{
    if (s->n == s->cap && nameset_grow(s) < 0)
        return -1;
    size_t i = (size_t)name_hash(name) & (s->nslot - 1);
    for (; s->slot[i]; i = (i + 1) & (s->nslot - 1))
        if (name_equal(s->v[s->slot[i] - 1], name))
            return 0;
    s->v[s->n++] = name;
    s->slot[i] = s->n;
    return 1;
}

void nameset_clear(nameset_t *s)
{
    if (s->slot)
        memset(s->slot, 0, s->nslot * sizeof *s->slot);
    s->n = 0;
}

void nameset_free(nameset_t *s)
{
    free(s->v);
    free(s->slot);
    memset(s, 0, sizeof *s);
}

/* ---- the owner index ---- */

static size_t bucket_of(const ws_t *w, const uint8_t *name)
{
    return (size_t)name_hash(name) & (w->nbucket - 1);
}

static void link_record(ws_t *w, size_t i)
{
    size_t b = bucket_of(w, w->v[i].rr.owner);
    w->v[i].next = w->bucket[b];
    w->bucket[b] = i + 1;
}

/* Doubles the buckets when the records reach half their number. */
static int index_grow(ws_t *w)
{
    if (w->nbucket >= 2 * (w->n + 1))
        return 0;
    size_t nb = w->nbucket ? w->nbucket : 64;
    while (nb < 2 * (w->n + 1))
        nb *= 2;
    size_t *b = calloc(nb, sizeof *b);
    if (!b) {
        w->oom = true;
        return -1;
    }
    free(w->bucket);
    w->bucket = b;
    w->nbucket = nb;
    for (size_t i = 0; i < w->n; i++) /* ascending: each bucket ends up newest first */
        link_record(w, i);
    return 0;
}

size_t ws_first(const ws_t *w, const uint8_t *name)
{
    return w->nbucket ? w->bucket[bucket_of(w, name)] - 1 : WS_END;
}

size_t ws_next(const ws_t *w, size_t i)
{
    return w->v[i].next - 1;
}

bool ws_live_at(const ws_t *w, size_t i, const uint8_t *name)
{
    return !w->v[i].dead && name_equal(w->v[i].rr.owner, name);
}

/* ---- records ---- */

static bool vec_room(ws_t *w)
{
    if (w->n < w->cap)
        return true;
    size_t cap = w->cap ? w->cap * 2 : 64;
    wrr_t *v = realloc(w->v, cap * sizeof *v);
    if (!v) {
        w->oom = true;
        return false;
    }
    w->v = v;
    w->cap = cap;
    return true;
}

static void append(ws_t *w, const zone_rr_t *rr)
{
    if (!vec_room(w) || index_grow(w) < 0)
        return;
    wrr_t *e = &w->v[w->n];
    e->rr = *rr;
    e->rr.rclass = RR_CLASS_IN;
    e->dead = false;
    e->stamp = 0;
    w->n++;
    link_record(w, w->n - 1);
}

int ws_load(ws_t *w, const zone_t *zone)
{
    memset(w, 0, sizeof *w);
    w->apex = zone->origin;
    w->v = malloc((zone->count ? zone->count : 1) * sizeof *w->v);
    if (!w->v)
        return -1;
    w->cap = zone->count ? zone->count : 1;
    for (size_t i = 0; i < zone->count && !w->oom; i++)
        append(w, &zone->rrs[i]);
    return w->oom ? -1 : 0;
}

void ws_free(ws_t *w)
{
    while (w->mem) {
        struct ws_chunk *c = w->mem;
        w->mem = c->next;
        free(c);
    }
    free(w->v);
    free(w->bucket);
    free(w->touch);
    nameset_free(&w->touched);
    memset(w, 0, sizeof *w);
}

/* The spelling of a live record already at name, or NULL. */
static const uint8_t *owner_spelling(const ws_t *w, const uint8_t *name)
{
    for (size_t i = ws_first(w, name); i != WS_END; i = ws_next(w, i))
        if (ws_live_at(w, i, name))
            return w->v[i].rr.owner;
    return NULL;
}

void ws_push(ws_t *w, const zone_rr_t *rr)
{
    zone_rr_t copy = *rr;
    const uint8_t *owner = owner_spelling(w, rr->owner);
    if (!owner) {
        size_t nl = name_wire_len(rr->owner);
        uint8_t *o = ws_alloc(w, nl);
        if (!o)
            return;
        memcpy(o, rr->owner, nl);
        owner = o;
    }
    uint8_t *rd = ws_alloc(w, rr->rdlen);
    if (!rd)
        return;
    memcpy(rd, rr->rdata, rr->rdlen);
    copy.owner = owner;
    copy.rdata = rd;
    append(w, &copy);
    if (nameset_add(&w->touched, owner) < 0)
        w->oom = true;
}

void ws_touch(ws_t *w, size_t i)
{
    if (nameset_add(&w->touched, w->v[i].rr.owner) < 0)
        w->oom = true;
    if (i >= w->step_n || w->v[i].stamp == w->step)
        return; /* added in this step, or logged already */
    if (w->ntouch == w->captouch) {
        size_t cap = w->captouch ? w->captouch * 2 : 16;
        wtouch_t *t = realloc(w->touch, cap * sizeof *t);
        if (!t) {
            w->oom = true;
            return;
        }
        w->touch = t;
        w->captouch = cap;
    }
    w->touch[w->ntouch++] = (wtouch_t){ .i = i, .rr = w->v[i].rr, .dead = w->v[i].dead };
    w->v[i].stamp = w->step;
}

void ws_kill(ws_t *w, size_t i)
{
    ws_touch(w, i);
    w->v[i].dead = true;
    w->changed = true;
    w->killed++;
}

void ws_set_rdata(ws_t *w, size_t i, const zone_rr_t *like)
{
    uint8_t *rd = ws_alloc(w, like->rdlen);
    if (!rd)
        return;
    ws_touch(w, i);
    memcpy(rd, like->rdata, like->rdlen);
    zone_rr_t *r = &w->v[i].rr;
    r->rdata = rd;
    r->rdlen = like->rdlen;
    r->ttl = like->ttl;
}

/* ---- steps ---- */

void ws_step_begin(ws_t *w)
{
    w->step++;
    if (w->step == 0) { /* wrapped: no record may look logged */
        for (size_t i = 0; i < w->n; i++)
            w->v[i].stamp = 0;
        w->step = 1;
    }
    w->ntouch = 0;
    w->step_n = w->n;
    w->changed = w->soa_set = false;
}

static bool modified(const zone_rr_t *a, const zone_rr_t *o)
{
    return a->ttl != o->ttl || a->rdlen != o->rdlen ||
           (a->rdata != o->rdata && memcmp(a->rdata, o->rdata, a->rdlen) != 0);
}

/* The step's changeset: removed = records it killed or changed, as they
 * were; added = records it added that live, and the changed ones as they
 * are now; a record removed and added back cancels out. Only the records
 * the step touched are sorted. */
int ws_step_diff(ws_t *w, uint32_t serial_from, uint32_t serial_to, zone_changeset_t *cs)
{
    memset(cs, 0, sizeof *cs);
    size_t nrem = 0, nadd = 0, added = w->n - w->step_n;
    const zone_rr_t **rem = malloc((w->ntouch + 1) * sizeof *rem);
    const zone_rr_t **add = malloc((w->ntouch + added + 1) * sizeof *add);
    int rc = -1;
    if (rem && add) {
        for (size_t k = 0; k < w->ntouch; k++) {
            const wtouch_t *t = &w->touch[k];
            const wrr_t *now = &w->v[t->i];
            bool mod = !t->dead && !now->dead && modified(&now->rr, &t->rr);
            if (!t->dead && (now->dead || mod))
                rem[nrem++] = &t->rr;
            if (!now->dead && (t->dead || mod))
                add[nadd++] = &now->rr;
        }
        for (size_t i = w->step_n; i < w->n; i++)
            if (!w->v[i].dead)
                add[nadd++] = &w->v[i].rr;
        qsort(rem, nrem, sizeof *rem, rr_ptr_cmp);
        qsort(add, nadd, sizeof *add, rr_ptr_cmp);
        rr_cancel_pairs(rem, &nrem, add, &nadd);
        rc = rr_cs_fill(cs, rem, nrem, add, nadd);
    }
    free(rem);
    free(add);
    if (rc < 0)
        zone_changeset_free(cs);
    cs->serial_from = serial_from;
    cs->serial_to = serial_to;
    return rc;
}

/* Puts every record back as it was before the step: the logged ones get
 * their old value, the ones it added are unlinked (each is the head of its
 * bucket, the newest first) and dropped. Their copies stay in w->mem. */
void ws_step_undo(ws_t *w)
{
    for (size_t k = w->ntouch; k-- > 0;) {
        const wtouch_t *t = &w->touch[k];
        w->v[t->i].rr = t->rr;
        w->v[t->i].dead = t->dead;
    }
    while (w->n > w->step_n) {
        size_t i = --w->n;
        w->bucket[bucket_of(w, w->v[i].rr.owner)] = w->v[i].next;
    }
    w->ntouch = 0;
    w->changed = w->soa_set = false;
}

/* The live records, in order, in a malloc'd array (NULL on failure). */
static zone_rr_t *live_records(const ws_t *w, size_t *n)
{
    zone_rr_t *rrs = malloc((w->n ? w->n : 1) * sizeof *rrs);
    *n = 0;
    for (size_t i = 0; rrs && i < w->n; i++)
        if (!w->v[i].dead)
            rrs[(*n)++] = w->v[i].rr;
    return rrs;
}

zone_t *ws_build(const ws_t *w, const uint8_t *origin, char *err)
{
    size_t n;
    zone_rr_t *rrs = live_records(w, &n);
    zone_t *z = NULL;
    char buf[ZONE_ERR_MAX] = "out of memory";
    if (rrs)
        z = zone_from_records(origin, rrs, n, buf);
    free(rrs);
    if (!z && err)
        memcpy(err, buf, ZONE_ERR_MAX);
    return z;
}

zone_t *ws_build_valid(const ws_t *w, const uint8_t *origin, char *err)
{
    size_t n;
    zone_rr_t *rrs = live_records(w, &n);
    zone_t *z = rrs ? zone_copy_valid(origin, rrs, n) : NULL;
    free(rrs);
    if (!z && err)
        strcpy(err, "out of memory");
    return z;
}

zone_t *ws_view(const ws_t *w, const uint8_t *origin)
{
    zone_t *z = calloc(1, sizeof *z);
    size_t n;
    zone_rr_t *rrs = z ? live_records(w, &n) : NULL;
    if (!rrs) {
        free(z);
        return NULL;
    }
    z->rrs = rrs;
    z->count = n;
    memcpy(z->origin, origin, name_wire_len(origin));
    for (size_t i = 0; i < n; i++)
        if (rrs[i].type == RR_TYPE_SOA && rrs[i].rdlen >= SOA_NUMBERS) {
            const uint8_t *p = rrs[i].rdata + rrs[i].rdlen - SOA_NUMBERS;
            z->serial = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
        }
    return z; /* arena NULL: zone_free frees only the array */
}
