/* zone/db.c — the in-memory zone database: zone indexes, immutable versions
 * of the set of zones, and their RCU publication (API and ownership in
 * zone/db.h).
 *
 * A zone index is built in one pass over the zone's records and never
 * changes afterwards, so it needs no lock and can be shared by any number of
 * database versions (reference counted). Its layout aims at a 1,000,000
 * record zone fitting in a few tens of megabytes and building in about a
 * second:
 *
 *   - nodes: one array of small structs; a node is an owner name or an
 *     empty non-terminal. Its lowercased name lives in a chunked arena that
 *     never moves (an ancestor's name is a suffix of a stored name, so empty
 *     non-terminals cost no name storage at all).
 *   - table: open addressing with linear probing, at most half full. A
 *     slot holds a node index and 32 bits of the name's hash, so probing
 *     past other names rarely touches their nodes (each a cache miss in a
 *     big zone); the low hash bits pick the slot, the high ones are kept.
 *   - rrsets: one array, each node owning a contiguous run sorted by type.
 *   - rdata: one allocation, sized exactly in advance, holding every RR as
 *     [rdlength][rdata]. RRs of a set are in canonical order (RFC 4034 §6.3,
 *     as Knot DNS keeps them) which also makes duplicates adjacent.
 *
 * Versions (zonedb_t) are small: an array of zone index references plus a
 * hash of their origins. Writers build a new version next to the published
 * one and swap it in with rcu_xchg_pointer; readers in a read-side critical
 * section keep seeing the old version until they leave it, and only then
 * (after synchronize_rcu) is it freed. */
#include "zone/db.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <urcu/urcu-memb.h>
#include <urcu/pointer.h>

#define EMPTY_SLOT UINT32_MAX
#define NAME_CHUNK (64u * 1024u)

struct zonedb_node {
    const uint8_t *name; /* lowercased wire name, in the index's name arena */
    union {
        const zonedb_rrset_t *rrsets; /* this node's run in the index's rrsets */
        size_t rrset_first;       /* the same run as an offset, while building
                                   * (the array still moves then) */
    } run;
    uint32_t rrset_count : 24;    /* at most 65536 types exist */
    uint32_t flags : 8;
};

/* A list of fixed-size blocks: pointers into it stay valid while it grows. */
typedef struct name_chunk {
    struct name_chunk *next;
    size_t used;
    uint8_t bytes[NAME_CHUNK];
} name_chunk_t;

/* A hash table slot: node == EMPTY_SLOT when free. */
typedef struct slot {
    uint32_t node;
    uint32_t tag;  /* the high 32 bits of name_hash(name) */
} slot_t;

struct zonedb_index {
    atomic_uint refs;
    /* An overlay (zonedb_index_build_over): the names here replace the
     * base's, every other name is looked up in the base (a full index,
     * one reference). NULL: a full index. */
    zonedb_index_t *base;
    uint8_t origin[NAME_MAX_WIRE]; /* lowercased */
    int origin_labels;
    const zonedb_node_t *apex;         /* set once the node array stops moving */
    uint32_t serial;
    zonedb_node_t *nodes;
    size_t node_count, node_cap;
    slot_t *table;
    size_t table_mask;
    zonedb_rrset_t *rrsets;
    size_t rrset_count;
    uint8_t *rdata;
    size_t rdata_len;
    size_t rr_count;
    /* The whole zone's counts: an overlay's own nodes plus the base's it
     * does not replace (a full index: node_count and rr_count). */
    size_t zone_nodes, zone_rrs;
    name_chunk_t *names;
    size_t name_chunks;
};

/* ---- RRset iteration -------------------------------------------------- */

bool zonedb_rrset_next(const zonedb_rrset_t *set, size_t *pos, const uint8_t **rd, uint16_t *rdlen)
{
    if (*pos + 2 > set->rdata_len)
        return false;
    const uint8_t *p = set->rdata + *pos;
    *rdlen = (uint16_t)((p[0] << 8) | p[1]);
    *rd = p + 2;
    *pos += 2u + *rdlen;
    return true;
}

/* ---- node hash table -------------------------------------------------- */

static uint32_t tag_of(uint64_t hash)
{
    return (uint32_t)(hash >> 32);
}

static uint32_t find_slot(const zonedb_index_t *zi, const uint8_t *name, uint64_t hash, bool *found)
{
    size_t i = (size_t)hash & zi->table_mask;
    uint32_t tag = tag_of(hash);
    for (;;) {
        const slot_t *sl = &zi->table[i];
        if (sl->node == EMPTY_SLOT) {
            *found = false;
            return (uint32_t)i;
        }
        if (sl->tag == tag && name_equal(zi->nodes[sl->node].name, name)) {
            *found = true;
            return (uint32_t)i;
        }
        i = (i + 1) & zi->table_mask;
    }
}

static slot_t *alloc_table(size_t cap)
{
    slot_t *t = malloc(cap * sizeof *t);
    if (t) {
        for (size_t i = 0; i < cap; i++)
            t[i] = (slot_t){ .node = EMPTY_SLOT };
    }
    return t;
}

/* Doubles the table. The slot of a name comes from the low hash bits,
 * which the table does not keep, so names are hashed again: this happens
 * only when empty non-terminals outnumber records (the table starts at
 * twice the record count). */
static int grow_table(zonedb_index_t *zi)
{
    size_t cap = (zi->table_mask + 1) * 2;
    slot_t *t = alloc_table(cap);
    if (!t)
        return -1;
    size_t old_cap = zi->table_mask + 1;
    slot_t *old = zi->table;
    zi->table = t;
    zi->table_mask = cap - 1;
    for (size_t k = 0; k < old_cap; k++) {
        if (old[k].node == EMPTY_SLOT)
            continue;
        size_t i = (size_t)name_hash(zi->nodes[old[k].node].name) & zi->table_mask;
        while (zi->table[i].node != EMPTY_SLOT)
            i = (i + 1) & zi->table_mask;
        zi->table[i] = old[k];
    }
    free(old);
    return 0;
}

static const uint8_t *arena_store(zonedb_index_t *zi, const uint8_t *name, size_t len)
{
    name_chunk_t *c = zi->names;
    if (!c || c->used + len > NAME_CHUNK) {
        c = malloc(sizeof *c);
        if (!c)
            return NULL;
        c->next = zi->names;
        c->used = 0;
        zi->names = c;
        zi->name_chunks++;
    }
    uint8_t *dst = c->bytes + c->used;
    memcpy(dst, name, len);
    c->used += len;
    return dst;
}

/* Adds a node for `name` (already lowercased and stored in the arena) at
 * table slot `slot`. Returns its index, or EMPTY_SLOT on allocation
 * failure. */
static uint32_t add_node(zonedb_index_t *zi, const uint8_t *name, uint64_t hash, uint32_t slot)
{
    if (zi->node_count == zi->node_cap) {
        size_t cap = zi->node_cap ? zi->node_cap * 2 : 1024;
        zonedb_node_t *nodes = realloc(zi->nodes, cap * sizeof *nodes);
        if (!nodes)
            return EMPTY_SLOT;
        zi->nodes = nodes;
        zi->node_cap = cap;
    }
    uint32_t idx = (uint32_t)zi->node_count++;
    zi->nodes[idx] = (zonedb_node_t){ .name = name };
    zi->table[slot] = (slot_t){ .node = idx, .tag = tag_of(hash) };
    if (zi->node_count * 2 > zi->table_mask + 1 && grow_table(zi) != 0)
        return EMPTY_SLOT;
    return idx;
}

/* Finds or creates the node of lowercased `lname`, and every missing
 * ancestor up to the apex (which exists from the start), so that empty
 * non-terminals are nodes too. Returns the node index or EMPTY_SLOT. */
static uint32_t intern_owner(zonedb_index_t *zi, const uint8_t *lname)
{
    uint64_t hash = name_hash(lname);
    bool found;
    uint32_t slot = find_slot(zi, lname, hash, &found);
    if (found)
        return zi->table[slot].node;
    const uint8_t *stored = arena_store(zi, lname, name_wire_len(lname));
    if (!stored)
        return EMPTY_SLOT;
    uint32_t idx = add_node(zi, stored, hash, slot);
    if (idx == EMPTY_SLOT)
        return EMPTY_SLOT;
    /* Ancestors are suffixes of the stored name: no copy needed. Stop at
     * the first one that exists (everything above it exists already) or
     * at the apex (the origin itself is interned first). */
    int below_apex = name_label_count(stored) - zi->origin_labels;
    const uint8_t *p = stored;
    for (int i = 1; i < below_apex; i++) {
        p = name_parent(p);
        uint64_t ph = name_hash(p);
        uint32_t pslot = find_slot(zi, p, ph, &found);
        if (found)
            break;
        if (add_node(zi, p, ph, pslot) == EMPTY_SLOT)
            return EMPTY_SLOT;
    }
    return idx;
}

/* ---- building an index ------------------------------------------------ */

/* Orders a node's RRs by type, then canonical rdata (RFC 4034 §6.3:
 * octet-wise, a shorter prefix first), then position in the file. */
static int compare_rr(const void *a, const void *b, void *ctx)
{
    const zone_rr_t *rrs = ctx;
    uint32_t ia = *(const uint32_t *)a, ib = *(const uint32_t *)b;
    const zone_rr_t *x = &rrs[ia], *y = &rrs[ib];
    if (x->type != y->type)
        return x->type < y->type ? -1 : 1;
    size_t common = x->rdlen < y->rdlen ? x->rdlen : y->rdlen;
    int c = common ? memcmp(x->rdata, y->rdata, common) : 0;
    if (c != 0)
        return c;
    if (x->rdlen != y->rdlen)
        return x->rdlen < y->rdlen ? -1 : 1;
    return ia < ib ? -1 : (ia > ib ? 1 : 0);
}

static bool same_rdata(const zone_rr_t *x, const zone_rr_t *y)
{
    return x->rdlen == y->rdlen && (x->rdlen == 0 || memcmp(x->rdata, y->rdata, x->rdlen) == 0);
}

static void put_rdata(zonedb_index_t *zi, const zone_rr_t *rr)
{
    uint8_t *p = zi->rdata + zi->rdata_len;
    p[0] = (uint8_t)(rr->rdlen >> 8);
    p[1] = (uint8_t)rr->rdlen;
    if (rr->rdlen)
        memcpy(p + 2, rr->rdata, rr->rdlen);
    zi->rdata_len += 2u + rr->rdlen;
}

/* Turns the node's sorted RR slice into RRsets. */
static void build_node_rrsets(zonedb_index_t *zi, zonedb_node_t *node, const zone_rr_t *rrs,
                              const uint32_t *slice, size_t n)
{
    node->run.rrset_first = zi->rrset_count;
    size_t i = 0;
    while (i < n) {
        const zone_rr_t *first = &rrs[slice[i]];
        zonedb_rrset_t *set = &zi->rrsets[zi->rrset_count++];
        *set = (zonedb_rrset_t){ .rdata = zi->rdata + zi->rdata_len, .type = first->type };
        uint32_t last_pos = slice[i];
        const zone_rr_t *prev = NULL;
        for (; i < n && rrs[slice[i]].type == first->type; i++) {
            const zone_rr_t *rr = &rrs[slice[i]];
            if (slice[i] > last_pos)
                last_pos = slice[i];
            if (prev && same_rdata(prev, rr))
                continue;
            put_rdata(zi, rr);
            set->count++;
            zi->rr_count++;
            prev = rr;
        }
        /* Mixed TTLs in one set (RFC 2181 §5.2 forbids them, BIND warns):
         * the TTL written last wins, as in Knot DNS. */
        set->ttl = rrs[last_pos].ttl;
        set->rdata_len = (uint32_t)(zi->rdata + zi->rdata_len - set->rdata);
    }
    node->rrset_count = (uint32_t)(zi->rrset_count - node->run.rrset_first) & 0xffffffu;
}

static void set_err(char *err, const char *fmt, const uint8_t *name)
{
    if (!err)
        return;
    /* Names are cut to fit the message: it is a diagnostic. */
    char text[200];
    name_to_text(name, text, sizeof text);
    snprintf(err, ZONE_ERR_MAX, fmt, text);
}

/* Pass 1: a node for every owner and ancestor; rr_node[i] = node of RR i. */
static int index_owners(zonedb_index_t *zi, const zone_t *zone, uint32_t *rr_node, char *err)
{
    uint8_t lname[NAME_MAX_WIRE];
    for (size_t i = 0; i < zone->count; i++) {
        const uint8_t *owner = zone->rrs[i].owner;
        if (!name_is_subdomain(owner, zi->origin)) {
            set_err(err, "record owner %s is outside the zone", owner);
            return -1;
        }
        name_to_lower(owner, lname);
        uint32_t idx = intern_owner(zi, lname);
        if (idx == EMPTY_SLOT) {
            set_err(err, "out of memory indexing %s", owner);
            return -1;
        }
        rr_node[i] = idx;
    }
    return 0;
}

/* Pass 2: group RR indices by node (a counting sort), sort each group,
 * and build the RRsets. */
static int index_rrsets(zonedb_index_t *zi, const zone_t *zone, const uint32_t *rr_node)
{
    size_t total = 0;
    for (size_t i = 0; i < zone->count; i++)
        total += 2u + zone->rrs[i].rdlen;
    uint32_t *start = calloc(zi->node_count + 1, sizeof *start);
    uint32_t *order = malloc((zone->count ? zone->count : 1) * sizeof *order);
    zi->rdata = malloc(total ? total : 1);
    zi->rrsets = malloc((zone->count ? zone->count : 1) * sizeof *zi->rrsets);
    if (!start || !order || !zi->rdata || !zi->rrsets) {
        free(start);
        free(order);
        return -1;
    }
    for (size_t i = 0; i < zone->count; i++)
        start[rr_node[i] + 1]++;
    for (size_t n = 0; n < zi->node_count; n++)
        start[n + 1] += start[n];
    /* Fill using a moving cursor per node, then restore the starts. */
    for (size_t i = 0; i < zone->count; i++)
        order[start[rr_node[i]]++] = (uint32_t)i;
    for (size_t n = zi->node_count; n > 0; n--)
        start[n] = start[n - 1];
    start[0] = 0;
    for (size_t n = 0; n < zi->node_count; n++) {
        uint32_t *slice = order + start[n];
        size_t count = start[n + 1] - start[n];
        if (count > 1)
            qsort_r(slice, count, sizeof *slice, compare_rr, zone->rrs);
        build_node_rrsets(zi, &zi->nodes[n], zone->rrs, slice, count);
    }
    free(start);
    free(order);
    if (zi->rrset_count) {
        /* Nodes refer to their run by offset until now, so moving the
         * array here is safe. */
        zonedb_rrset_t *shrunk = realloc(zi->rrsets, zi->rrset_count * sizeof *shrunk);
        if (shrunk)
            zi->rrsets = shrunk;
    }
    return 0;
}

static bool is_wildcard(const uint8_t *name)
{
    return name[0] == 1 && name[1] == '*';
}

/* Final pass: RRset pointers (the arrays no longer move) and flags. */
static void finish_nodes(zonedb_index_t *zi)
{
    for (size_t n = 0; n < zi->node_count; n++) {
        zonedb_node_t *node = &zi->nodes[n];
        node->run.rrsets = zi->rrsets + node->run.rrset_first;
        if (is_wildcard(node->name))
            node->flags |= ZONEDB_NODE_WILDCARD;
        if (!(node->flags & ZONEDB_NODE_APEX) && zonedb_node_rrset(node, 2 /* NS */))
            node->flags |= ZONEDB_NODE_DELEGATION;
    }
}

static void free_index(zonedb_index_t *zi)
{
    zonedb_index_unref(zi->base);
    while (zi->names) {
        name_chunk_t *next = zi->names->next;
        free(zi->names);
        zi->names = next;
    }
    free(zi->nodes);
    free(zi->table);
    free(zi->rrsets);
    free(zi->rdata);
    free(zi);
}

zonedb_index_t *zonedb_index_build(const zone_t *zone, char err[ZONE_ERR_MAX])
{
    zonedb_index_t *zi = calloc(1, sizeof *zi);
    uint32_t *rr_node = malloc((zone->count ? zone->count : 1) * sizeof *rr_node);
    size_t cap = 1024;
    while (cap < zone->count * 2)
        cap *= 2;
    if (zi)
        zi->table = alloc_table(cap);
    if (!zi || !rr_node || !zi->table) {
        if (err)
            snprintf(err, ZONE_ERR_MAX, "out of memory indexing a zone of %zu records", zone->count);
        free(rr_node);
        if (zi)
            free_index(zi);
        return NULL;
    }
    zi->table_mask = cap - 1;
    atomic_init(&zi->refs, 1);
    zi->serial = zone->serial;
    name_to_lower(zone->origin, zi->origin);
    zi->origin_labels = name_label_count(zi->origin);

    uint32_t apex = intern_owner(zi, zi->origin);
    if (apex == EMPTY_SLOT || index_owners(zi, zone, rr_node, err) != 0) {
        if (apex == EMPTY_SLOT && err)
            snprintf(err, ZONE_ERR_MAX, "out of memory indexing a zone");
        free(rr_node);
        free_index(zi);
        return NULL;
    }
    zi->nodes[apex].flags |= ZONEDB_NODE_APEX;
    if (index_rrsets(zi, zone, rr_node) != 0) {
        if (err)
            snprintf(err, ZONE_ERR_MAX, "out of memory indexing a zone of %zu records", zone->count);
        free(rr_node);
        free_index(zi);
        return NULL;
    }
    free(rr_node);
    /* Nothing points into the node array (the table holds indices): give
     * back what the doubling left unused. */
    zonedb_node_t *nodes = realloc(zi->nodes, zi->node_count * sizeof *nodes);
    if (nodes) {
        zi->nodes = nodes;
        zi->node_cap = zi->node_count;
    }
    finish_nodes(zi);
    zi->apex = &zi->nodes[apex];
    zi->zone_nodes = zi->node_count;
    zi->zone_rrs = zi->rr_count;
    return zi;
}

zonedb_index_t *zonedb_index_ref(zonedb_index_t *zi)
{
    atomic_fetch_add_explicit(&zi->refs, 1, memory_order_relaxed);
    return zi;
}

void zonedb_index_unref(zonedb_index_t *zi)
{
    if (zi && atomic_fetch_sub_explicit(&zi->refs, 1, memory_order_acq_rel) == 1)
        free_index(zi);
}

const uint8_t *zonedb_index_origin(const zonedb_index_t *zi) { return zi->origin; }
uint32_t zonedb_index_serial(const zonedb_index_t *zi) { return zi->serial; }
size_t zonedb_index_node_count(const zonedb_index_t *zi) { return zi->zone_nodes; }
size_t zonedb_index_rr_count(const zonedb_index_t *zi) { return zi->zone_rrs; }

size_t zonedb_index_memory(const zonedb_index_t *zi)
{
    return sizeof *zi + zi->node_cap * sizeof(zonedb_node_t) + (zi->table_mask + 1) * sizeof(slot_t) +
           zi->rrset_count * sizeof(zonedb_rrset_t) + zi->rdata_len + zi->name_chunks * sizeof(name_chunk_t);
}

const zonedb_node_t *zonedb_index_find(const zonedb_index_t *zi, const uint8_t *name)
{
    bool found;
    uint64_t hash = name_hash(name);
    uint32_t slot = find_slot(zi, name, hash, &found);
    if (found)
        return &zi->nodes[zi->table[slot].node];
    if (!zi->base)
        return NULL;
    slot = find_slot(zi->base, name, hash, &found);
    return found ? &zi->base->nodes[zi->base->table[slot].node] : NULL;
}

static size_t node_rr_count(const zonedb_node_t *n)
{
    size_t rrs = 0;
    for (uint32_t i = 0; i < n->rrset_count; i++)
        rrs += n->run.rrsets[i].count;
    return rrs;
}

/* The node of `name` among an index's own nodes (not its base's), or NULL. */
static const zonedb_node_t *own_node(const zonedb_index_t *zi, const uint8_t *name)
{
    bool found;
    uint32_t slot = find_slot(zi, name, name_hash(name), &found);
    return found ? &zi->nodes[zi->table[slot].node] : NULL;
}

/* An overlay's whole-zone counts: its own nodes, plus the base's nodes it
 * does not replace. */
static void count_over_base(zonedb_index_t *zi)
{
    const zonedb_index_t *base = zi->base;
    zi->zone_nodes = base->node_count + zi->node_count;
    zi->zone_rrs = base->rr_count + zi->rr_count;
    for (size_t i = 0; i < zi->node_count; i++) {
        const zonedb_node_t *shadowed = own_node(base, zi->nodes[i].name);
        if (shadowed) {
            zi->zone_nodes--;
            zi->zone_rrs -= node_rr_count(shadowed);
        }
    }
}

zonedb_index_t *zonedb_index_build_over(zonedb_index_t *base, const zone_t *part, char err[ZONE_ERR_MAX])
{
    if (base->base)
        base = base->base; /* always one level: over the full index */
    if (!name_equal(base->origin, part->origin)) {
        if (err)
            snprintf(err, ZONE_ERR_MAX, "an overlay of another zone");
        return NULL;
    }
    zonedb_index_t *zi = zonedb_index_build(part, err);
    if (zi) {
        zi->base = zonedb_index_ref(base);
        count_over_base(zi);
    }
    return zi;
}

const zonedb_index_t *zonedb_index_base(const zonedb_index_t *zi)
{
    return zi->base ? zi->base : zi;
}

const zonedb_node_t *zonedb_index_node_at(const zonedb_index_t *zi, size_t i)
{
    if (i < zi->node_count)
        return &zi->nodes[i];
    i -= zi->node_count;
    return zi->base && i < zi->base->node_count ? &zi->base->nodes[i] : NULL;
}

const zonedb_node_t *zonedb_index_walk(const zonedb_index_t *zi, size_t *i)
{
    for (;; (*i)++) {
        const zonedb_node_t *n = zonedb_index_node_at(zi, *i);
        if (n == NULL || *i < zi->node_count || own_node(zi, n->name) == NULL)
            return n; /* the end, an own node, or a base node not replaced */
    }
}

const zonedb_node_t *zonedb_index_apex(const zonedb_index_t *zi)
{
    return zi->apex;
}

unsigned zonedb_node_flags(const zonedb_node_t *node) { return node->flags; }
const uint8_t *zonedb_node_name(const zonedb_node_t *node) { return node->name; }
size_t zonedb_node_rrset_count(const zonedb_node_t *node) { return node->rrset_count; }

const zonedb_rrset_t *zonedb_node_rrset_at(const zonedb_node_t *node, size_t i)
{
    return i < node->rrset_count ? &node->run.rrsets[i] : NULL;
}

const zonedb_rrset_t *zonedb_node_rrset(const zonedb_node_t *node, uint16_t type)
{
    /* Few types per node: a linear scan over the sorted run beats a
     * binary search at these sizes. */
    for (uint32_t i = 0; i < node->rrset_count; i++) {
        if (node->run.rrsets[i].type == type)
            return &node->run.rrsets[i];
        if (node->run.rrsets[i].type > type)
            break;
    }
    return NULL;
}

/* ---- versions --------------------------------------------------------- */

struct zonedb {
    zonedb_index_t **zones; /* one reference each */
    size_t count;
    uint32_t *table;      /* origin hash -> index into zones */
    size_t table_mask;
};

static zonedb_t *alloc_version(size_t count)
{
    zonedb_t *db = calloc(1, sizeof *db);
    if (!db)
        return NULL;
    size_t cap = 8;
    while (cap < count * 2)
        cap *= 2;
    db->zones = malloc((count ? count : 1) * sizeof *db->zones);
    db->table = malloc(cap * sizeof *db->table);
    if (!db->zones || !db->table) {
        free(db->zones);
        free(db->table);
        free(db);
        return NULL;
    }
    memset(db->table, 0xff, cap * sizeof *db->table);
    db->table_mask = cap - 1;
    return db;
}

static size_t origin_slot(const zonedb_t *db, const uint8_t *origin, bool *found)
{
    size_t i = (size_t)name_hash(origin) & db->table_mask;
    for (;; i = (i + 1) & db->table_mask) {
        uint32_t idx = db->table[i];
        if (idx == EMPTY_SLOT) {
            *found = false;
            return i;
        }
        if (name_equal(db->zones[idx]->origin, origin)) {
            *found = true;
            return i;
        }
    }
}

/* Appends zi (whose reference the version takes) to a version under
 * construction; origins are unique by construction. */
static void version_add(zonedb_t *db, zonedb_index_t *zi)
{
    bool found;
    size_t slot = origin_slot(db, zi->origin, &found);
    db->table[slot] = (uint32_t)db->count;
    db->zones[db->count++] = zi;
}

zonedb_t *zonedb_new(void)
{
    return alloc_version(0);
}

/* A copy of `db` without `skip` (an origin, or NULL), with room for one more. */
static zonedb_t *copy_without(const zonedb_t *db, const uint8_t *skip, size_t extra)
{
    zonedb_t *next = alloc_version(db->count + extra);
    if (!next)
        return NULL;
    for (size_t i = 0; i < db->count; i++) {
        if (skip && name_equal(db->zones[i]->origin, skip))
            continue;
        version_add(next, zonedb_index_ref(db->zones[i]));
    }
    return next;
}

zonedb_t *zonedb_with_zone(const zonedb_t *db, zonedb_index_t *zi)
{
    zonedb_t *next = copy_without(db, zi->origin, 1);
    if (!next) {
        zonedb_index_unref(zi);
        return NULL;
    }
    version_add(next, zi);
    return next;
}

zonedb_t *zonedb_without_zone(const zonedb_t *db, const uint8_t *origin)
{
    return copy_without(db, origin, 0);
}

void zonedb_free(zonedb_t *db)
{
    if (!db)
        return;
    for (size_t i = 0; i < db->count; i++)
        zonedb_index_unref(db->zones[i]);
    free(db->zones);
    free(db->table);
    free(db);
}

size_t zonedb_zone_count(const zonedb_t *db) { return db->count; }

const zonedb_index_t *zonedb_zone_at(const zonedb_t *db, size_t i)
{
    return i < db->count ? db->zones[i] : NULL;
}

const zonedb_index_t *zonedb_get_zone(const zonedb_t *db, const uint8_t *origin)
{
    bool found;
    size_t slot = origin_slot(db, origin, &found);
    return found ? db->zones[db->table[slot]] : NULL;
}

const zonedb_index_t *zonedb_find_zone(const zonedb_t *db, const uint8_t *qname)
{
    if (db->count == 0)
        return NULL;
    for (const uint8_t *p = qname; p; p = name_parent(p)) {
        const zonedb_index_t *zi = zonedb_get_zone(db, p);
        if (zi)
            return zi;
    }
    return NULL;
}

/* ---- publication ------------------------------------------------------ */

struct zonedb_handle {
    zonedb_t *current;      /* read with rcu_dereference, swapped by writers */
    pthread_mutex_t writer; /* serialises writers only */
};

zonedb_handle_t *zonedb_handle_new(void)
{
    zonedb_handle_t *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->current = zonedb_new();
    if (!h->current) {
        free(h);
        return NULL;
    }
    pthread_mutex_init(&h->writer, NULL);
    return h;
}

void zonedb_handle_free(zonedb_handle_t *h)
{
    if (!h)
        return;
    zonedb_free(h->current);
    pthread_mutex_destroy(&h->writer);
    free(h);
}

void zonedb_reader_register(void) { urcu_memb_register_thread(); }
void zonedb_reader_unregister(void) { urcu_memb_unregister_thread(); }
#if !defined(__SANITIZE_THREAD__)
void zonedb_read_lock(void) { urcu_memb_read_lock(); }
void zonedb_read_unlock(void) { urcu_memb_read_unlock(); }
static void wait_for_readers(void) { urcu_memb_synchronize_rcu(); }
#else
/* Under ThreadSanitizer, which cannot see liburcu's grace periods, readers
 * and the grace period use a read-write lock instead: the same guarantee
 * (no version is freed while a reader may hold it), built from operations
 * TSan understands, so it checks everything around it. Never used in a
 * normal build: there readers take no lock at all. */
#include <pthread.h>
static pthread_rwlock_t tsan_grace = PTHREAD_RWLOCK_INITIALIZER;
void zonedb_read_lock(void) { pthread_rwlock_rdlock(&tsan_grace); }
void zonedb_read_unlock(void) { pthread_rwlock_unlock(&tsan_grace); }
static void wait_for_readers(void)
{
    pthread_rwlock_wrlock(&tsan_grace);
    pthread_rwlock_unlock(&tsan_grace);
}
#endif

/* ThreadSanitizer cannot see liburcu's publication barriers (they are
 * inline assembly), so TSan builds publish with the equivalent C11 atomics,
 * which it understands; everything else is the same. */
#if defined(__SANITIZE_THREAD__)
#define current_load(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define current_swap(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#else
#define current_load(p) rcu_dereference(*(p))
#define current_swap(p, v) rcu_xchg_pointer((p), (v))
#endif

const zonedb_t *zonedb_current(zonedb_handle_t *h)
{
    return current_load(&h->current);
}

/* Swaps in `next` and frees the old version once no reader can see it.
 * Caller holds h->writer. */
static void publish_locked(zonedb_handle_t *h, zonedb_t *next)
{
    zonedb_t *old = current_swap(&h->current, next);
    wait_for_readers();
    zonedb_free(old);
}

void zonedb_handle_publish(zonedb_handle_t *h, zonedb_t *next)
{
    pthread_mutex_lock(&h->writer);
    publish_locked(h, next);
    pthread_mutex_unlock(&h->writer);
}

int zonedb_handle_put_zone(zonedb_handle_t *h, zonedb_index_t *zi)
{
    pthread_mutex_lock(&h->writer);
    /* Only writers replace h->current and they hold the mutex: reading it
     * without rcu_dereference is safe here. */
    zonedb_t *next = zonedb_with_zone(h->current, zi);
    if (next)
        publish_locked(h, next);
    pthread_mutex_unlock(&h->writer);
    return next ? 0 : -1;
}

zonedb_index_t *zonedb_handle_get_zone(zonedb_handle_t *h, const uint8_t *origin)
{
    pthread_mutex_lock(&h->writer);
    /* Writers only replace h->current, under the mutex (as above). */
    const zonedb_index_t *zi = zonedb_get_zone(h->current, origin);
    zonedb_index_t *ref = zi ? zonedb_index_ref((zonedb_index_t *)zi) : NULL;
    pthread_mutex_unlock(&h->writer);
    return ref;
}

int zonedb_handle_remove_zone(zonedb_handle_t *h, const uint8_t *origin)
{
    pthread_mutex_lock(&h->writer);
    int present = zonedb_get_zone(h->current, origin) != NULL;
    int rc = present;
    if (present) {
        zonedb_t *next = zonedb_without_zone(h->current, origin);
        if (next)
            publish_locked(h, next);
        else
            rc = -1;
    }
    pthread_mutex_unlock(&h->writer);
    return rc;
}
