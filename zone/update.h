/* zone/update.h — dynamic update of one zone (RFC 2136), the pure logic:
 * given the current zone_t and the parsed sections of an UPDATE message,
 * check the prerequisites (§3.2), prescan and apply the update section all
 * or nothing (§3.4), bump the SOA serial (§3.6, with a serial policy), and
 * produce the new zone and the changeset (removed and added RRs, serial
 * before and after). Also zone differences (zone_diff) and applying a
 * changeset to a zone (zone_apply_changeset), which reloads use.
 *
 * Deterministic: the result depends only on the inputs (the time used by
 * the unixtime/dateserial policies is an argument), so every replica
 * computes the same zone from the same log entry.
 *
 * The wire message is parsed by dns/upd_msg.c into a zone_update_t: zone/
 * does not depend on dns/. Records in a zone_update_t are zone_rr_t with
 * the class as sent (ZCLASS, ANY or NONE) and names uncompressed.
 *
 * Cost: an UPDATE costs the records at the names it touches (an owner
 * index, copy-on-write of the touched records, an undo log). Loading the
 * zone into a batch is O(zone), once per batch; kv/ keeps one batch per
 * zone across many Raft batches, taking a view of it (an array of the
 * live records) and the records at the changed names (for the DNS index)
 * after each. zone_update_apply is a batch of one. */
#ifndef ZONE_UPDATE_H
#define ZONE_UPDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "zone/zone.h"

/* RFC 2136 §2.2 rcodes (the same numbers as the DNS header's). */
enum zone_update_rcode {
    ZU_NOERROR = 0,
    ZU_FORMERR = 1,
    ZU_SERVFAIL = 2,
    ZU_NXDOMAIN = 3,
    ZU_NOTIMP = 4,
    ZU_REFUSED = 5,
    ZU_YXDOMAIN = 6,
    ZU_YXRRSET = 7,
    ZU_NXRRSET = 8,
    ZU_NOTAUTH = 9,
    ZU_NOTZONE = 10,
};

#define ZU_CLASS_NONE 254
#define ZU_CLASS_ANY 255
#define ZU_TYPE_ANY 255

/* Serial policies (the numbers of kv/command.h's enum kv_cmd_serial_policy). */
enum zone_serial_policy {
    ZONE_SERIAL_INCREMENT = 0,
    ZONE_SERIAL_UNIXTIME = 1,
    ZONE_SERIAL_DATESERIAL = 2,
};

/* A parsed UPDATE. prereq, update and arena are malloc'd by the parser
 * and freed by zone_update_free; record names and rdata point into arena. */
typedef struct zone_update {
    uint8_t zname[NAME_MAX_WIRE];
    uint16_t zclass;
    zone_rr_t *prereq;
    size_t nprereq;
    zone_rr_t *update;
    size_t nupdate;
    void *arena; /* private to the parser; freed by zone_update_free */
} zone_update_t;

void zone_update_free(zone_update_t *u);

/* A changeset: the RRs removed from and added to a zone, and the SOA
 * serials before and after. Owns its records (one malloc'd block). */
typedef struct zone_changeset {
    uint32_t serial_from, serial_to;
    zone_rr_t *removed;
    size_t nremoved;
    zone_rr_t *added;
    size_t nadded;
    uint8_t *data; /* owner names and rdata of all records */
    size_t data_len;
} zone_changeset_t;

void zone_changeset_free(zone_changeset_t *cs);
/* Builds a changeset owning copies of the given records; -1 on allocation
 * failure (cs then empty). */
int zone_changeset_make(zone_changeset_t *cs, uint32_t serial_from, uint32_t serial_to,
                        const zone_rr_t *removed, size_t nremoved,
                        const zone_rr_t *added, size_t nadded);
/* Bytes the changeset holds (for journal bounds). */
size_t zone_changeset_size(const zone_changeset_t *cs);
bool zone_changeset_empty(const zone_changeset_t *cs);

/* RFC 1982 serial number comparison: <0, 0 or >0 (undefined pairs, exactly
 * 2^31 apart, compare as "not greater"). */
int zone_serial_compare(uint32_t a, uint32_t b);
/* The next serial after `old` under `policy` at unix time `now` (§3.6 and
 * Knot's serial-policy): increment: old + 1; unixtime: now when newer than
 * old, else old + 1; dateserial: YYYYMMDD00 of now's UTC date when newer
 * than old, else old + 1. */
uint32_t zone_serial_next(uint32_t old, enum zone_serial_policy policy, uint64_t now);

/* Applies an UPDATE to `zone` (whose origin must equal u->zname; the caller
 * looked it up: NOTAUTH is the caller's). Returns the rcode. On NOERROR,
 * when something changed, *out is the new zone (caller frees) and *cs its
 * changeset; when nothing changed (all ignored or duplicates) *out is NULL
 * and *cs empty. On any other rcode nothing is produced. err (may be NULL)
 * gets a one-line reason. */
int zone_update_apply(const zone_t *zone, const zone_update_t *u,
                      enum zone_serial_policy policy, uint64_t now,
                      zone_t **out, zone_changeset_t *cs, char err[ZONE_ERR_MAX]);

/* A batch: UPDATEs of one zone applied in turn to one working set, each
 * with its own rcode, changeset and serial bump, exactly as if each were
 * applied alone to the zone the previous ones produced (a step that
 * changes nothing in the end leaves no trace), and one new zone built at
 * the end. The result never depends on where batches begin and end, which
 * replicas rely on: each batches the log its own way.
 *
 * zone_update_batch_open borrows `zone` (it must stay alive and unchanged
 * until the batch is closed or freed); NULL on allocation failure.
 * zone_update_batch_apply: as zone_update_apply, without the new zone
 * (rcode; *cs the changeset when the UPDATE changed the zone, else empty).
 * A step that runs out of memory is undone and answered SERVFAIL.
 * zone_update_batch_build: the zone as the UPDATEs applied so far left it
 * (caller frees), or NULL when none changed anything since the last build
 * (err "") or on failure (err set); the batch goes on (more UPDATEs, more
 * builds: the working set is loaded once, not per build).
 * zone_update_batch_close: build, then free the batch.
 * zone_update_batch_free: drops the batch.
 * zone_update_batch_churn: records added or removed since the open; the
 * working set only grows (dead records stay), so a caller reopens the
 * batch on a built zone once this passes a fraction of the zone. */
typedef struct zone_update_batch zone_update_batch_t;
zone_update_batch_t *zone_update_batch_open(const zone_t *zone);
int zone_update_batch_apply(zone_update_batch_t *b, const zone_update_t *u,
                            enum zone_serial_policy policy, uint64_t now,
                            zone_changeset_t *cs, char err[ZONE_ERR_MAX]);
/* The zone the batch was opened on, and how many UPDATEs changed it. */
const zone_t *zone_update_batch_zone(const zone_update_batch_t *b);
size_t zone_update_batch_changes(const zone_update_batch_t *b);
size_t zone_update_batch_churn(const zone_update_batch_t *b);
zone_t *zone_update_batch_build(zone_update_batch_t *b, char err[ZONE_ERR_MAX]);
/* The same as a view: a zone_t whose records point into the batch's memory
 * and the zone it was opened on (only the record array is its own, which
 * zone_free frees), valid while the batch is; building it copies no name
 * or rdata. NULL when nothing changed since the last build or view, or on
 * allocation failure. zone_update_view_copy: a zone owning copies of a
 * view's records (to keep it past the batch); NULL on allocation failure. */
zone_t *zone_update_batch_view(zone_update_batch_t *b);
zone_t *zone_update_view_copy(const zone_t *view);
/* What the UPDATEs changed, for an index built only there (zone/db.h
 * zonedb_index_build_over): the names whose records were added, removed or
 * changed since the open or the last reset, counted by
 * zone_update_batch_touched; zone_update_batch_part gives every live
 * record at those names and at each of their ancestors up to the apex (a
 * zone_t the caller frees), or NULL: with *emptied set when one of those
 * names has no record left (its node, or an empty non-terminal above it,
 * may have to vanish: a full index is due), else on allocation failure. */
size_t zone_update_batch_touched(const zone_update_batch_t *b);
void zone_update_batch_touched_reset(zone_update_batch_t *b);
zone_t *zone_update_batch_part(const zone_update_batch_t *b, bool *emptied);
zone_t *zone_update_batch_close(zone_update_batch_t *b, char err[ZONE_ERR_MAX]);
void zone_update_batch_free(zone_update_batch_t *b);

/* The changeset turning `from` into `to` (both the same origin): RRs of
 * `from` not in `to` are removed, RRs of `to` not in `from` added; a TTL
 * change is a removal and an addition. Names compare case-insensitively,
 * rdata canonically. Returns 0, or -1 on allocation failure. */
int zone_diff(const zone_t *from, const zone_t *to, zone_changeset_t *cs);

/* Applies a changeset to `zone` (a reload's file difference, RFC-free):
 * removals of RRs that are not there and additions of RRs already there are
 * skipped; an added SOA replaces the zone's only when its serial is newer
 * (RFC 1982); when anything else changed and the SOA did not move forward,
 * the serial is bumped with `policy`. Returns the new zone, or NULL with
 * err set when the result breaks a zone rule (then nothing changes), or
 * with *unchanged set and err "" when the changeset changes nothing. */
zone_t *zone_apply_changeset(const zone_t *zone, const zone_changeset_t *cs,
                             enum zone_serial_policy policy, uint64_t now,
                             bool *unchanged, char err[ZONE_ERR_MAX]);

#endif
