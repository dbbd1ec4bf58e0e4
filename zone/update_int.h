/* zone/update_int.h — private to zone/update.c and zone/update_ws.c: the
 * working set an UPDATE (or a batch of them, or a reload's changeset) is
 * applied to, and the record comparisons the differences use. Not for
 * other modules: use zone/update.h.
 *
 * The working set holds a zone's records as a vector (dead ones flagged,
 * never reused), with an index from owner name to the records at that
 * owner, so every rule check and lookup an UPDATE needs costs the records
 * of the names it touches, not the zone. Records it adds, and SOAs it
 * rewrites, are copied into memory the set owns; the others point into
 * the zone it was loaded from, which must outlive it.
 *
 * Within one UPDATE the set keeps an undo log: the value each existing
 * record had before the UPDATE first touched it. From it come the
 * UPDATE's own changeset (ws_step_diff) and its undo (ws_step_undo), so
 * many UPDATEs can be applied in turn to one set and each still gets
 * exactly the changeset and the zone it would get alone. */
#ifndef ZONE_UPDATE_INT_H
#define ZONE_UPDATE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zone/update.h"

#define SOA_NUMBERS 20 /* serial refresh retry expire minimum */

typedef struct wrr {
    zone_rr_t rr;
    bool dead;
    uint32_t stamp; /* the step that last logged it (ws_touch) */
    size_t next;    /* the next record in its owner bucket, plus one; 0: end */
} wrr_t;

typedef struct wtouch {
    size_t i;
    zone_rr_t rr;
    bool dead;
} wtouch_t;

/* A set of names (case-insensitive), in insertion order. */
typedef struct nameset {
    const uint8_t **v; /* borrowed */
    size_t n, cap;
    size_t *slot; /* hash -> index into v, plus one */
    size_t nslot;
} nameset_t;

/* 1 when added, 0 when there already, -1 on allocation failure. */
int nameset_add(nameset_t *s, const uint8_t *name);
void nameset_clear(nameset_t *s);
void nameset_free(nameset_t *s);

typedef struct ws {
    wrr_t *v;
    size_t n, cap;
    const uint8_t *apex;
    size_t *bucket; /* owner hash -> first record, plus one */
    size_t nbucket; /* a power of two, at least twice n */
    wtouch_t *touch; /* the current step's undo log */
    size_t ntouch, captouch;
    size_t step_n; /* n when the current step began */
    bool has_step_serial; /* an UPDATE step: step_serial is the SOA serial */
    uint32_t step_serial; /* the zone's serial before the step */
    uint32_t step;
    bool changed; /* something other than an explicit SOA changed */
    bool soa_set; /* the SOA was replaced by a newer one */
    bool oom;
    size_t killed; /* records killed since the load (steps undone included) */
    nameset_t touched; /* owners of records added, removed or changed */
    struct ws_chunk *mem; /* copies of added records */
} ws_t;

/* Loads the zone's records (borrowed); -1 on allocation failure (then
 * ws_free is still due). */
int ws_load(ws_t *w, const zone_t *zone);
void ws_free(ws_t *w);

/* Appends a copy of rr (class IN; the owner spelled as the live records
 * already at that name are, as zone_from_records would); sets oom. */
void ws_push(ws_t *w, const zone_rr_t *rr);
void ws_kill(ws_t *w, size_t i);
/* Logs record i's value before the current step changes it in place (and
 * its owner in w->touched). */
void ws_touch(ws_t *w, size_t i);
/* Replaces record i's rdata with a copy (same owner); sets oom. */
void ws_set_rdata(ws_t *w, size_t i, const zone_rr_t *like);
uint8_t *ws_alloc(ws_t *w, size_t n);

/* Iterating the records at one owner name (live or dead, any order):
 *     for (size_t i = ws_first(w, name); i != WS_END; i = ws_next(w, i)) */
#define WS_END ((size_t)-1)
size_t ws_first(const ws_t *w, const uint8_t *name);
size_t ws_next(const ws_t *w, size_t i);
bool ws_live_at(const ws_t *w, size_t i, const uint8_t *name);

/* A step is one UPDATE: begin, change, then either keep it (its
 * changeset from ws_step_diff) or undo it. */
void ws_step_begin(ws_t *w);
int ws_step_diff(ws_t *w, uint32_t serial_from, uint32_t serial_to, zone_changeset_t *cs);
void ws_step_undo(ws_t *w);

/* The live records as a new zone (zone_from_records, every rule checked:
 * a reload's changeset may break one); NULL with err set. */
zone_t *ws_build(const ws_t *w, const uint8_t *origin, char *err);
/* The same without the checks (zone_copy_valid), for a set only UPDATE
 * steps changed: they keep the rules themselves, for the names they touch
 * (tests/fuzz/fuzz_dns_updmsg.c checks it gives what ws_build would). */
zone_t *ws_build_valid(const ws_t *w, const uint8_t *origin, char *err);
/* The live records as a zone that borrows them (no arena: zone_free frees
 * the array only); NULL on allocation failure. */
zone_t *ws_view(const ws_t *w, const uint8_t *origin);

/* Canonical comparisons (RFC 4034 §6.2 for names inside rdata). */
bool rr_rdata_equal(const zone_rr_t *a, const zone_rr_t *b);
int rr_rdata_cmp(uint16_t type, const uint8_t *a, uint16_t alen, const uint8_t *b, uint16_t blen);
/* Order for diffs: owner (canonical), type, canonical rdata. */
int rr_key_cmp(const zone_rr_t *a, const zone_rr_t *b);
int rr_ptr_cmp(const void *pa, const void *pb);
/* Drops the pairs that cancel out (the same record and TTL removed and
 * added back), in place; both lists sorted by rr_key_cmp. */
void rr_cancel_pairs(const zone_rr_t **rem, size_t *nrem, const zone_rr_t **add, size_t *nadd);
/* Copies the listed records into one block owned by the changeset. */
int rr_cs_fill(zone_changeset_t *cs, const zone_rr_t **rem, size_t nrem, const zone_rr_t **add,
               size_t nadd);

#endif
