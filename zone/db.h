/* zone/db.h — the in-memory zone database that DNS queries read.
 *
 * Three levels:
 *
 *  - zonedb_index_t: one zone indexed for answering. Built once from a zone_t
 *    (zone/zone.h), then immutable and shared by reference count. Owner names
 *    are nodes in a hash table keyed by the lowercased wire name; each node
 *    holds its RRsets sorted by type. Every name between the apex and an
 *    owner exists as a node, so empty non-terminals are found by the same
 *    exact lookup (RFC 4592 §2.2.2). Nodes carry flags: apex, delegation
 *    point (NS below the apex), wildcard ("*" as first label).
 *
 *  - zonedb_t: one immutable version of the whole database: a set of zone
 *    indexes, looked up by the most specific origin enclosing a qname. A new
 *    version is built from the previous one with one zone added, replaced or
 *    removed; untouched zone indexes are shared, not copied.
 *
 *  - zonedb_handle_t: where the current version is published. Readers (DNS
 *    workers) use liburcu (memb flavour): they never take a lock a writer
 *    holds. One writer at a time swaps the pointer with rcu_xchg_pointer and
 *    frees the previous version after synchronize_rcu.
 *
 * Reader protocol, on each DNS worker thread:
 *
 *     zonedb_reader_register();              // once, at thread start
 *     zonedb_read_lock();
 *     const zonedb_t *db = zonedb_current(h);
 *     len = dns_answer(db, query, qlen, resp, cap, tcp);
 *     zonedb_read_unlock();                  // db must not be used after this
 *     zonedb_reader_unregister();            // once, at thread exit
 *
 * Writer (Raft apply thread, startup, tests):
 *
 *     zonedb_index_t *zi = zonedb_index_build(zone, err);  // zone stays caller's
 *     zonedb_handle_put_zone(h, zi);  // takes the reference; blocks until
 *                                     // readers of the old version are done
 *
 * Ownership: zonedb_index_build copies everything it needs; the zone_t stays
 * owned by the caller and may be freed right after. A zonedb_index_t starts with
 * one reference owned by the caller; zonedb_with_zone / zonedb_handle_put_zone
 * take that reference over. A zonedb_t returned by zonedb_new / zonedb_with_zone
 * / zonedb_without_zone is owned by the caller until handed to
 * zonedb_handle_publish (or freed with zonedb_free). Everything reachable from
 * zonedb_current() is owned by the handle and valid until zonedb_read_unlock.
 */
#ifndef ZONE_DB_H
#define ZONE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zone/zone.h"

typedef struct zonedb_index zonedb_index_t;
typedef struct zonedb_node zonedb_node_t;
typedef struct zonedb zonedb_t;
typedef struct zonedb_handle zonedb_handle_t;

/* One RRset: every RR of one owner and type. `rdata` holds `count` records,
 * each a 2-octet big-endian rdlength followed by the rdata in wire form
 * (names inside uncompressed, as in the zone). All RRs share one TTL
 * (RFC 2181 §5.2): if the zone gave them different TTLs, the one written
 * last, as Knot DNS does. Duplicate RRs are stored once. */
typedef struct zonedb_rrset {
    const uint8_t *rdata;
    uint32_t rdata_len; /* octets in rdata, length prefixes included */
    uint32_t ttl;
    uint32_t count;     /* number of RRs */
    uint16_t type;
} zonedb_rrset_t;

/* Iterates the RRs of an RRset: start with pos = 0; returns false at the
 * end, otherwise sets *rd / *rdlen to the next RR's rdata. */
bool zonedb_rrset_next(const zonedb_rrset_t *set, size_t *pos, const uint8_t **rd, uint16_t *rdlen);

/* ---- one zone ---------------------------------------------------------- */

/* Indexes `zone`. Returns NULL on allocation failure or when a record lies
 * outside the origin (err then says why; err may be NULL). */
zonedb_index_t *zonedb_index_build(const zone_t *zone, char err[ZONE_ERR_MAX]);
/* An index of the zone `base` indexes, changed only at some names, built
 * in the time of those names instead of the zone's (dynamic updates): the
 * nodes of `part` (a zone_t holding every record, after the change, at the
 * changed names and at each of their ancestors up to the apex, SOA
 * included) replace the base's nodes of the same names; every other name
 * is the base's. Valid only when every name the base has and `part` does
 * not cover is unchanged, and every changed name still exists (a name
 * that lost its last record needs a full build: its node, or an empty
 * non-terminal above it, may have to vanish). The base is referenced
 * (an overlay over an overlay is made over the latter's base). Node and
 * RR counts are the whole zone's; memory is the overlay's own. NULL on
 * allocation failure (err set). */
zonedb_index_t *zonedb_index_build_over(zonedb_index_t *base, const zone_t *part, char err[ZONE_ERR_MAX]);
/* The full index an overlay is over, or zi itself. */
const zonedb_index_t *zonedb_index_base(const zonedb_index_t *zi);
/* Reference counting (atomic; any thread). The last unref frees. */
zonedb_index_t *zonedb_index_ref(zonedb_index_t *zi);
void zonedb_index_unref(zonedb_index_t *zi);

const uint8_t *zonedb_index_origin(const zonedb_index_t *zi); /* lowercased */
uint32_t zonedb_index_serial(const zonedb_index_t *zi);
size_t zonedb_index_node_count(const zonedb_index_t *zi); /* owners + empty non-terminals */
size_t zonedb_index_rr_count(const zonedb_index_t *zi);   /* after de-duplication */
size_t zonedb_index_memory(const zonedb_index_t *zi);     /* bytes allocated */

/* Exact, case-insensitive lookup of a node (an owner or an empty
 * non-terminal). NULL when the name has no node. */
const zonedb_node_t *zonedb_index_find(const zonedb_index_t *zi, const uint8_t *name);
const zonedb_node_t *zonedb_index_apex(const zonedb_index_t *zi);
/* Walking the whole zone (zone transfers): start with i = 0; each call
 * returns the node at position *i or the next one after it (an overlay's
 * own nodes, then the base's nodes it does not replace), leaving *i at
 * that node's position: every node of the zone once. NULL at the end. */
const zonedb_node_t *zonedb_index_walk(const zonedb_index_t *zi, size_t *i);
/* The node at position i of that walk (one zonedb_index_walk returned), or
 * NULL past the end. */
const zonedb_node_t *zonedb_index_node_at(const zonedb_index_t *zi, size_t i);

/* Node accessors. */
#define ZONEDB_NODE_APEX       0x01u /* the zone origin */
#define ZONEDB_NODE_DELEGATION 0x02u /* has NS and is not the apex: a zone cut */
#define ZONEDB_NODE_WILDCARD   0x04u /* first label is "*" */
unsigned zonedb_node_flags(const zonedb_node_t *node);
const uint8_t *zonedb_node_name(const zonedb_node_t *node); /* lowercased wire name */
/* Number of RRsets (0 for an empty non-terminal). */
size_t zonedb_node_rrset_count(const zonedb_node_t *node);
/* The i-th RRset, in ascending type order. */
const zonedb_rrset_t *zonedb_node_rrset_at(const zonedb_node_t *node, size_t i);
/* The RRset of that type, or NULL. */
const zonedb_rrset_t *zonedb_node_rrset(const zonedb_node_t *node, uint16_t type);

/* ---- one version of the database ------------------------------------- */

/* An empty version. */
zonedb_t *zonedb_new(void);
/* A new version: `db` plus `zi` (replacing a zone of the same origin).
 * Takes over the caller's reference to `zi`; `db` is left unchanged. */
zonedb_t *zonedb_with_zone(const zonedb_t *db, zonedb_index_t *zi);
/* A new version: `db` without the zone of that origin (a copy of `db` if
 * there is none). */
zonedb_t *zonedb_without_zone(const zonedb_t *db, const uint8_t *origin);
void zonedb_free(zonedb_t *db);

size_t zonedb_zone_count(const zonedb_t *db);
const zonedb_index_t *zonedb_zone_at(const zonedb_t *db, size_t i);
/* The zone whose origin is equal to `origin`, or NULL. */
const zonedb_index_t *zonedb_get_zone(const zonedb_t *db, const uint8_t *origin);
/* The most specific zone containing `qname` (walks the qname's ancestors
 * from the longest), or NULL when no served zone encloses it. */
const zonedb_index_t *zonedb_find_zone(const zonedb_t *db, const uint8_t *qname);

/* ---- publication (RCU) ----------------------------------------------- */

/* A handle publishing an empty version. */
zonedb_handle_t *zonedb_handle_new(void);
/* Frees the handle and its current version. No reader may use it anymore. */
void zonedb_handle_free(zonedb_handle_t *h);

/* Reader side (any thread that calls zonedb_current). */
void zonedb_reader_register(void);
void zonedb_reader_unregister(void);
void zonedb_read_lock(void);
void zonedb_read_unlock(void);
/* The current version; only between zonedb_read_lock and zonedb_read_unlock. */
const zonedb_t *zonedb_current(zonedb_handle_t *h);

/* Writer side. Writers are serialised by a mutex that readers never touch.
 * Each call waits for a grace period (readers of the old version to finish),
 * so never call these from inside a read-side critical section. */
/* Publishes `next` (takes ownership) and frees the previous version. */
void zonedb_handle_publish(zonedb_handle_t *h, zonedb_t *next);
/* Adds or replaces one zone (takes over the reference to `zi`). Returns 0,
 * or -1 on allocation failure (zi is then released, the old version stays). */
int zonedb_handle_put_zone(zonedb_handle_t *h, zonedb_index_t *zi);
/* Writer side, no read lock needed: a new reference to the published
 * index of that origin (zonedb_index_unref it), or NULL. */
zonedb_index_t *zonedb_handle_get_zone(zonedb_handle_t *h, const uint8_t *origin);
/* Removes the zone of that origin; returns 1 if it was there, 0 if not, -1
 * on allocation failure. */
int zonedb_handle_remove_zone(zonedb_handle_t *h, const uint8_t *origin);

#endif
