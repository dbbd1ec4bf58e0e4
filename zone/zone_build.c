/* zone/zone_build.c — builds a zone_t record by record with the
 * named-checkzone checks (see zone_build.h); also zone_from_records and
 * zone_free, because this file owns the zone's memory layout.
 *
 * Memory: every owner name and rdata lives in the zone's arena (chunks
 * growing up to ARENA_CHUNK bytes, freed together by zone_free): no malloc
 * per record. zone->rrs is one array grown by doubling. Records with the same owner
 * share one copy of the owner name (the first spelling seen).
 *
 * Indexes (freed by zb_finish/zb_abort, never part of the zone):
 *   owners: owner name -> {first spelling, CNAME/other flags, list of the
 *           owner's RRset types with their TTL};
 *   rrs:    (owner, type, canonical rdata) -> record index, to merge
 *           identical records.
 * Both are open-addressing tables with linear probing, kept at most half
 * full, storing the full 64-bit hash so growing never rehashes names. */
#include "zone/zone_build.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "zone/rrtype.h"

#define ARENA_CHUNK (1u << 20)

struct arena_chunk {
    struct arena_chunk *next;
    size_t used, size;
    uint8_t data[];
};

struct zone_arena {
    struct arena_chunk *head;
};

typedef struct owner_slot {
    uint64_t hash;
    const uint8_t *name; /* NULL: empty slot */
    uint32_t rrsets;     /* index+1 into rrset pool, 0: none */
    uint8_t flags;
} owner_slot_t;

enum { OWNER_HAS_CNAME = 1, OWNER_HAS_OTHER = 2 };

typedef struct rrset_link {
    uint16_t type;
    uint32_t ttl;
    uint32_t next; /* index+1, 0: end */
} rrset_link_t;

typedef struct rr_slot {
    uint64_t hash;
    uint32_t index; /* record index+1, 0: empty slot */
} rr_slot_t;

typedef struct rr_loc {
    int32_t source;
    uint32_t line;
} rr_loc_t;

struct zone_builder {
    zone_t *zone;
    char *err;
    uint8_t apex[NAME_MAX_WIRE];
    bool apex_known;
    size_t soa_index; /* valid when soa_seen */
    bool soa_seen;
    size_t rr_cap;
    rr_loc_t *locs;   /* parallel to zone->rrs */
    owner_slot_t *owners;
    size_t owners_cap, owners_used;
    size_t last_owner;  /* slot index + 1 of the previous record's owner */
    rrset_link_t *links;
    size_t links_len, links_cap;
    rr_slot_t *rrset;
    size_t rrset_cap, rrset_used;
    char **sources;
    size_t sources_len;
    uint8_t *scratch_a, *scratch_b; /* RDATA_MAX each: canonical rdata */
};

/* ---- arena ---- */

static uint8_t *arena_alloc(struct zone_arena *a, size_t n)
{
    struct arena_chunk *c = a->head;
    if (c == NULL || c->size - c->used < n) {
        /* Chunks double from 4 KiB up to ARENA_CHUNK, so small zones stay
         * small and big ones need few mallocs. */
        size_t size = c == NULL ? 4096 : c->size * 2;
        if (size > ARENA_CHUNK)
            size = ARENA_CHUNK;
        if (size < n)
            size = n;
        c = malloc(sizeof *c + size);
        if (c == NULL)
            return NULL;
        c->next = a->head;
        c->used = 0;
        c->size = size;
        a->head = c;
    }
    uint8_t *p = c->data + c->used;
    c->used += n;
    return p;
}

static void arena_free(struct zone_arena *a)
{
    if (a == NULL)
        return;
    for (struct arena_chunk *c = a->head, *next; c != NULL; c = next) {
        next = c->next;
        free(c);
    }
    free(a);
}

void zone_free(zone_t *zone)
{
    if (zone == NULL)
        return;
    arena_free(zone->arena);
    free(zone->rrs);
    free(zone);
}

/* ---- errors and sources ---- */

const char *zb_source_name(const zone_builder_t *b, int source)
{
    if (source < 0 || (size_t)source >= b->sources_len)
        return "?";
    return b->sources[source];
}

void zb_error(zone_builder_t *b, int source, uint32_t line, const char *fmt, ...)
{
    int n = snprintf(b->err, ZONE_ERR_MAX, "%s:%u: ", zb_source_name(b, source), (unsigned)line);
    if (n < 0 || n >= ZONE_ERR_MAX)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(b->err + n, ZONE_ERR_MAX - (size_t)n, fmt, ap);
    va_end(ap);
}

int zb_add_source(zone_builder_t *b, const char *name)
{
    char **grown = realloc(b->sources, (b->sources_len + 1) * sizeof *grown);
    if (grown == NULL)
        return -1;
    b->sources = grown;
    b->sources[b->sources_len] = strdup(name);
    if (b->sources[b->sources_len] == NULL)
        return -1;
    return (int)b->sources_len++;
}

/* ---- life cycle ---- */

zone_builder_t *zb_new(const uint8_t *apex, char err[ZONE_ERR_MAX])
{
    zone_builder_t *b = calloc(1, sizeof *b);
    if (b == NULL) {
        snprintf(err, ZONE_ERR_MAX, "out of memory");
        return NULL;
    }
    b->err = err;
    b->zone = calloc(1, sizeof *b->zone);
    if (b->zone != NULL)
        b->zone->arena = calloc(1, sizeof *b->zone->arena);
    b->scratch_a = malloc(RDATA_MAX);
    b->scratch_b = malloc(RDATA_MAX);
    if (b->zone == NULL || b->zone->arena == NULL || b->scratch_a == NULL || b->scratch_b == NULL) {
        zb_abort(b);
        snprintf(err, ZONE_ERR_MAX, "out of memory");
        return NULL;
    }
    if (apex != NULL) {
        memcpy(b->apex, apex, name_wire_len(apex));
        b->apex_known = true;
    }
    return b;
}

static void free_indexes(zone_builder_t *b)
{
    free(b->locs);
    free(b->owners);
    free(b->links);
    free(b->rrset);
    for (size_t i = 0; i < b->sources_len; i++)
        free(b->sources[i]);
    free(b->sources);
    free(b->scratch_a);
    free(b->scratch_b);
}

void zb_abort(zone_builder_t *b)
{
    if (b == NULL)
        return;
    zone_free(b->zone);
    free_indexes(b);
    free(b);
}

/* ---- owner table ---- */

static bool owners_grow(zone_builder_t *b)
{
    size_t cap = b->owners_cap ? b->owners_cap * 2 : 1024;
    owner_slot_t *t = calloc(cap, sizeof *t);
    if (t == NULL)
        return false;
    for (size_t i = 0; i < b->owners_cap; i++) {
        if (b->owners[i].name == NULL)
            continue;
        size_t j = b->owners[i].hash & (cap - 1);
        while (t[j].name != NULL)
            j = (j + 1) & (cap - 1);
        t[j] = b->owners[i];
    }
    free(b->owners);
    b->owners = t;
    b->owners_cap = cap;
    b->last_owner = 0;
    return true;
}

/* Finds the owner's slot, inserting it (with a copy of the name in the
 * arena) when new. NULL on out-of-memory. */
static owner_slot_t *owner_lookup(zone_builder_t *b, const uint8_t *owner)
{
    /* Records of one owner usually follow each other: skip the hashing
     * (and its cache miss) for them. */
    if (b->last_owner != 0 && name_equal(b->owners[b->last_owner - 1].name, owner))
        return &b->owners[b->last_owner - 1];
    if ((b->owners_used + 1) * 2 > b->owners_cap && !owners_grow(b))
        return NULL;
    uint64_t h = name_hash(owner);
    size_t mask = b->owners_cap - 1, j = h & mask;
    for (; b->owners[j].name != NULL; j = (j + 1) & mask)
        if (b->owners[j].hash == h && name_equal(b->owners[j].name, owner)) {
            b->last_owner = j + 1;
            return &b->owners[j];
        }
    size_t len = name_wire_len(owner);
    uint8_t *copy = arena_alloc(b->zone->arena, len);
    if (copy == NULL)
        return NULL;
    memcpy(copy, owner, len);
    b->owners[j] = (owner_slot_t){ .hash = h, .name = copy };
    b->owners_used++;
    b->last_owner = j + 1;
    return &b->owners[j];
}

/* The TTL the owner's RRset of this type already has, or records `ttl` as
 * the RRset's TTL. Returns false on out-of-memory. */
static bool rrset_ttl(zone_builder_t *b, owner_slot_t *o, uint16_t type, uint32_t *ttl)
{
    for (uint32_t k = o->rrsets; k != 0; k = b->links[k - 1].next)
        if (b->links[k - 1].type == type) {
            *ttl = b->links[k - 1].ttl;
            return true;
        }
    if (b->links_len == b->links_cap) {
        size_t cap = b->links_cap ? b->links_cap * 2 : 1024;
        rrset_link_t *l = realloc(b->links, cap * sizeof *l);
        if (l == NULL)
            return false;
        b->links = l;
        b->links_cap = cap;
    }
    b->links[b->links_len] = (rrset_link_t){ .type = type, .ttl = *ttl, .next = o->rrsets };
    o->rrsets = (uint32_t)++b->links_len;
    return true;
}

/* ---- duplicate table ---- */

static uint64_t rr_hash(uint64_t owner_hash, uint16_t type, const uint8_t *canon, size_t len)
{
    uint64_t h = owner_hash ^ ((uint64_t)type * 0x9e3779b97f4a7c15ULL);
    for (size_t i = 0; i < len; i++) {
        h ^= canon[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 29;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 32;
    return h;
}

static bool rrset_grow(zone_builder_t *b)
{
    size_t cap = b->rrset_cap ? b->rrset_cap * 2 : 1024;
    rr_slot_t *t = calloc(cap, sizeof *t);
    if (t == NULL)
        return false;
    for (size_t i = 0; i < b->rrset_cap; i++) {
        if (b->rrset[i].index == 0)
            continue;
        size_t j = b->rrset[i].hash & (cap - 1);
        while (t[j].index != 0)
            j = (j + 1) & (cap - 1);
        t[j] = b->rrset[i];
    }
    free(b->rrset);
    b->rrset = t;
    b->rrset_cap = cap;
    return true;
}

/* Looks for an identical record. Returns 1 if found, 0 if not (and then
 * *slot is where the new record's index goes), -1 on out-of-memory. */
static int rr_find(zone_builder_t *b, const uint8_t *owner, uint64_t owner_hash, uint16_t type,
                   const uint8_t *rdata, uint16_t rdlen, rr_slot_t **slot)
{
    if ((b->rrset_used + 1) * 2 > b->rrset_cap && !rrset_grow(b))
        return -1;
    rrtype_rdata_canonical(type, rdata, rdlen, b->scratch_a);
    uint64_t h = rr_hash(owner_hash, type, b->scratch_a, rdlen);
    size_t mask = b->rrset_cap - 1, j = h & mask;
    for (; b->rrset[j].index != 0; j = (j + 1) & mask) {
        if (b->rrset[j].hash != h)
            continue;
        const zone_rr_t *rr = &b->zone->rrs[b->rrset[j].index - 1];
        if (rr->type != type || rr->rdlen != rdlen || !name_equal(rr->owner, owner))
            continue;
        rrtype_rdata_canonical(type, rr->rdata, rr->rdlen, b->scratch_b);
        if (memcmp(b->scratch_a, b->scratch_b, rdlen) == 0)
            return 1;
    }
    b->rrset[j].hash = h;
    *slot = &b->rrset[j];
    return 0;
}

/* ---- adding records ---- */

static bool append_rr(zone_builder_t *b, const zone_rr_t *rr, int source, uint32_t line)
{
    zone_t *z = b->zone;
    if (z->count == b->rr_cap) {
        size_t cap = b->rr_cap ? b->rr_cap * 2 : 256;
        zone_rr_t *rrs = realloc(z->rrs, cap * sizeof *rrs);
        if (rrs == NULL)
            return false;
        z->rrs = rrs;
        rr_loc_t *locs = realloc(b->locs, cap * sizeof *locs);
        if (locs == NULL)
            return false;
        b->locs = locs;
        b->rr_cap = cap;
    }
    z->rrs[z->count] = *rr;
    b->locs[z->count] = (rr_loc_t){ .source = source, .line = line };
    z->count++;
    return true;
}

static int oom(zone_builder_t *b, int source, uint32_t line)
{
    zb_error(b, source, line, "out of memory");
    return -1;
}

/* Types allowed beside a CNAME (RFC 2181 §10.1, RFC 4035 §2.5). */
static bool allowed_beside_cname(uint16_t type)
{
    return type == RR_TYPE_RRSIG || type == RR_TYPE_NSEC;
}

static int check_cname(zone_builder_t *b, owner_slot_t *o, uint16_t type, int source, uint32_t line)
{
    char text[NAME_MAX_TEXT];
    if (type == RR_TYPE_CNAME) {
        if (o->flags & (OWNER_HAS_CNAME | OWNER_HAS_OTHER)) {
            name_to_text(o->name, text, sizeof text);
            zb_error(b, source, line, (o->flags & OWNER_HAS_CNAME) ? "multiple CNAME records at %s"
                                                                    : "CNAME and other data at %s",
                     text);
            return -1;
        }
        o->flags |= OWNER_HAS_CNAME;
    } else if (!allowed_beside_cname(type)) {
        if (o->flags & OWNER_HAS_CNAME) {
            name_to_text(o->name, text, sizeof text);
            zb_error(b, source, line, "CNAME and other data at %s", text);
            return -1;
        }
        o->flags |= OWNER_HAS_OTHER;
    }
    return 0;
}

static int check_out_of_zone(zone_builder_t *b, const uint8_t *owner, int source, uint32_t line)
{
    if (name_is_subdomain(owner, b->apex))
        return 0;
    char text[NAME_MAX_TEXT], apex[NAME_MAX_TEXT];
    name_to_text(owner, text, sizeof text);
    name_to_text(b->apex, apex, sizeof apex);
    zb_error(b, source, line, "%s is out of zone %s", text, apex);
    return -1;
}

static int check_soa(zone_builder_t *b, const uint8_t *owner, int source, uint32_t line)
{
    if (b->soa_seen) {
        zb_error(b, source, line, "multiple SOA records");
        return -1;
    }
    if (b->apex_known && !name_equal(owner, b->apex)) {
        zb_error(b, source, line, "SOA record not at the zone apex");
        return -1;
    }
    b->soa_seen = true;
    b->soa_index = b->zone->count;
    return 0;
}

int zb_add(zone_builder_t *b, const uint8_t *owner, uint16_t type, uint32_t ttl,
           const uint8_t *rdata, uint16_t rdlen, int source, uint32_t line)
{
    owner_slot_t *o = owner_lookup(b, owner);
    if (o == NULL)
        return oom(b, source, line);
    rr_slot_t *slot = NULL;
    int found = rr_find(b, owner, o->hash, type, rdata, rdlen, &slot);
    if (found < 0)
        return oom(b, source, line);
    if (found > 0)
        return 0; /* identical record: merged silently, as BIND does */
    if (b->apex_known && check_out_of_zone(b, owner, source, line) < 0)
        return -1;
    if (type == RR_TYPE_SOA && check_soa(b, owner, source, line) < 0)
        return -1;
    if (check_cname(b, o, type, source, line) < 0)
        return -1;
    if (!rrset_ttl(b, o, type, &ttl))
        return oom(b, source, line);
    uint8_t *copy = arena_alloc(b->zone->arena, rdlen ? rdlen : 1);
    if (copy == NULL)
        return oom(b, source, line);
    memcpy(copy, rdata, rdlen);
    zone_rr_t rr = { .owner = o->name, .type = type, .rclass = RR_CLASS_IN,
                     .ttl = ttl, .rdlen = rdlen, .rdata = copy };
    if (!append_rr(b, &rr, source, line))
        return oom(b, source, line);
    slot->index = (uint32_t)b->zone->count;
    b->rrset_used++;
    return 0;
}

/* ---- end of zone ---- */

static uint32_t soa_serial(const zone_rr_t *soa)
{
    size_t offs[2];
    rrtype_rdata_names(RR_TYPE_SOA, soa->rdata, soa->rdlen, offs);
    const uint8_t *p = soa->rdata + offs[1] + name_wire_len(soa->rdata + offs[1]);
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

zone_t *zb_finish(zone_builder_t *b, int source, uint32_t line)
{
    zone_t *z = b->zone;
    if (!b->soa_seen) {
        zb_error(b, source, line, "no SOA record");
        zb_abort(b);
        return NULL;
    }
    const zone_rr_t *soa = &z->rrs[b->soa_index];
    if (!b->apex_known) {
        memcpy(b->apex, soa->owner, name_wire_len(soa->owner));
        b->apex_known = true;
        for (size_t i = 0; i < z->count; i++)
            if (check_out_of_zone(b, z->rrs[i].owner, b->locs[i].source, b->locs[i].line) < 0) {
                zb_abort(b);
                return NULL;
            }
    }
    memcpy(z->origin, b->apex, name_wire_len(b->apex));
    z->serial = soa_serial(soa);
    b->zone = NULL;
    free_indexes(b);
    free(b);
    return z;
}

/* ---- zone_from_records ---- */

/* Walks an owner name of unknown provenance without reading past 255
 * octets; true when it is a valid uncompressed name. */
static bool owner_valid(const uint8_t *name)
{
    size_t i = 0;
    while (i < NAME_MAX_WIRE) {
        if (name[i] == 0)
            return true;
        if (name[i] > LABEL_MAX)
            return false;
        i += (size_t)name[i] + 1;
    }
    return false;
}

static int add_checked_record(zone_builder_t *b, const zone_rr_t *rr, uint32_t line)
{
    const char *why = NULL;
    char tbuf[RRTYPE_TEXT_MAX];
    if (rr->owner == NULL || !owner_valid(rr->owner)) {
        zb_error(b, 0, line, "invalid owner name");
        return -1;
    }
    if (rr->rclass != RR_CLASS_IN) {
        zb_error(b, 0, line, "class %u is not supported (only IN)", (unsigned)rr->rclass);
        return -1;
    }
    if (rrtype_is_meta(rr->type)) {
        zb_error(b, 0, line, "type %s is not allowed in a zone", rrtype_to_text(rr->type, tbuf));
        return -1;
    }
    if (rr->ttl > TTL_MAX) {
        zb_error(b, 0, line, "TTL above 2147483647");
        return -1;
    }
    if ((rr->rdata == NULL && rr->rdlen > 0) || !rrtype_rdata_valid(rr->type, rr->rdata, rr->rdlen, &why)) {
        zb_error(b, 0, line, "%s rdata: %s", rrtype_to_text(rr->type, tbuf),
                 why ? why : "missing rdata");
        return -1;
    }
    return zb_add(b, rr->owner, rr->type, rr->ttl, rr->rdata, rr->rdlen, 0, line);
}

zone_t *zone_from_records(const uint8_t *origin, const zone_rr_t *rrs, size_t count,
                          char err[ZONE_ERR_MAX])
{
    if (origin != NULL && !owner_valid(origin)) {
        snprintf(err, ZONE_ERR_MAX, "records:0: invalid origin");
        return NULL;
    }
    zone_builder_t *b = zb_new(origin, err);
    if (b == NULL)
        return NULL;
    if (zb_add_source(b, "records") < 0) {
        zb_abort(b);
        snprintf(err, ZONE_ERR_MAX, "records:0: out of memory");
        return NULL;
    }
    for (size_t i = 0; i < count; i++)
        if (add_checked_record(b, &rrs[i], (uint32_t)(i + 1)) < 0) {
            zb_abort(b);
            return NULL;
        }
    return zb_finish(b, 0, (uint32_t)count);
}

/* ---- zone_copy_valid ---- */

typedef struct ptr_slot {
    const uint8_t *from, *to;
} ptr_slot_t;

static size_t ptr_hash(const uint8_t *p, size_t mask)
{
    uint64_t h = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 32) & mask;
}

/* The copy of owner name `from` (made on first sight), or NULL. */
static const uint8_t *copy_owner(struct zone_arena *a, ptr_slot_t *map, size_t mask,
                                 const uint8_t *from)
{
    size_t i = ptr_hash(from, mask);
    while (map[i].from != NULL && map[i].from != from)
        i = (i + 1) & mask;
    if (map[i].from == NULL) {
        size_t n = name_wire_len(from);
        uint8_t *to = arena_alloc(a, n);
        if (to == NULL)
            return NULL;
        memcpy(to, from, n);
        map[i].from = from;
        map[i].to = to;
    }
    return map[i].to;
}

zone_t *zone_copy_valid(const uint8_t *origin, const zone_rr_t *rrs, size_t count)
{
    size_t mask = 15;
    while (mask + 1 < 2 * count)
        mask = mask * 2 + 1;
    zone_t *z = calloc(1, sizeof *z);
    ptr_slot_t *map = calloc(mask + 1, sizeof *map);
    if (z != NULL) {
        z->arena = calloc(1, sizeof *z->arena);
        z->rrs = malloc((count ? count : 1) * sizeof *z->rrs);
    }
    bool ok = z != NULL && map != NULL && z->arena != NULL && z->rrs != NULL;
    for (size_t i = 0; ok && i < count; i++) {
        zone_rr_t r = rrs[i];
        r.owner = copy_owner(z->arena, map, mask, rrs[i].owner);
        uint8_t *rd = arena_alloc(z->arena, r.rdlen ? r.rdlen : 1);
        ok = r.owner != NULL && rd != NULL;
        if (!ok)
            break;
        memcpy(rd, rrs[i].rdata, r.rdlen);
        r.rdata = rd;
        r.rclass = RR_CLASS_IN;
        z->rrs[i] = r;
        if (r.type == RR_TYPE_SOA)
            z->serial = soa_serial(&r);
    }
    free(map);
    if (!ok) {
        zone_free(z);
        return NULL;
    }
    z->count = count;
    memcpy(z->origin, origin, name_wire_len(origin));
    return z;
}
