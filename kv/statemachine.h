/* kv/statemachine.h — the replicated state machine: applies committed Raft
 * entries (opaque bytes, kv/command.h) to the KV map and the zone set, keeps
 * client sessions for exactly-once apply, and snapshots/restores all of it.
 *
 * Determinism: sm_apply depends only on the entries applied so far (no
 * clock, no randomness, no hash order), so every replica reaches the same
 * state and returns the same result for the same index. Allocation failure
 * inside sm_apply aborts the process: a replica that silently skipped an
 * entry would diverge, while a restarted one replays its log.
 *
 * Zones: a zone replace arrives as chunks (kv/command.h). Chunks are staged
 * per origin, keyed by (loading node id, load id), and nothing is visible
 * until the last chunk applies; then the zone is rebuilt with
 * zone_from_records and published in one step. A first chunk (chunk 0) of a
 * different load abandons a partial load of the same origin (its loader
 * retries after a leader change); a later chunk that does not continue the
 * staged load is refused with KV_ERR_STALE_LOAD and changes nothing. A zone
 * delete drops the zone and any partial load of it. A partial load that gets
 * no chunk for SM_STAGING_IDLE_ENTRIES log entries (its loader gave up or
 * died) is dropped — counted in entries, not seconds, so replicas agree.
 *
 * File versions and dynamic updates (issue #14): the first load of an origin
 * publishes the file as the zone. The state keeps the last file version per
 * zone; a later load applies diff(previous file, new file) to the current
 * zone (zone/update.h zone_apply_changeset), so records added or removed by
 * UPDATE stay; a result that breaks a zone rule is refused (KV_ERR_BAD_ZONE)
 * and changes nothing. An UPDATE command (RFC 2136) is parsed and applied
 * to the zone it names (zone/update.h); its rcode is the result's rcode.
 * Every change that alters a zone appends a changeset to that zone's
 * journal, bounded by sm_set_journal_limits.
 *
 * Threads: sm_apply, sm_snapshot and sm_restore are called by one thread (the
 * Raft apply thread), never concurrently. The readers (sm_kv_get,
 * sm_applied_index, sm_zone_list, sm_zone_with) may run on any thread; they
 * take a read lock that apply holds only to swap in a finished change. DNS
 * workers do not use this module: they read the zone database, fed through
 * the zone-changed callback (kv/sm_zonedb.h wires it to zone/db.h).
 * Costs on the apply thread, measured for a 1,000,000-record zone on a busy
 * 2-core machine: the last chunk ~4 s (almost all zone_from_records), a
 * snapshot ~0.7 s (30 MB), a restore ~4 s. Apply waits meanwhile; readers
 * do not.
 *
 * Ownership: the state machine owns its zones. */
#ifndef KV_STATEMACHINE_H
#define KV_STATEMACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "kv/result.h"
#include "kv/text.h"
#include "zone/zone.h"

typedef struct sm sm_t;

#define SM_STAGING_IDLE_ENTRIES 100000u

/* Called on the apply thread, without any lock held, after a zone became
 * visible (zone != NULL) or was deleted (zone == NULL), including for every
 * zone a restore adds or removes. `zone` is borrowed: valid only during the
 * call, so copy what you keep (zonedb_index_build does). */
typedef void (*sm_zone_changed_fn)(void *arg, const uint8_t *origin, const zone_t *zone);

/* Optional, with on_zone's arg: publishes `zone` from `part` only (the
 * records at the names UPDATEs changed since the zone's last full
 * publication, and at their ancestors: kv/sm_zonedb.h
 * sm_zonedb_publish_part); 0, or -1 to have on_zone publish it in full.
 * `base_serial` is the serial of that last full publication. */
typedef int (*sm_zone_part_fn)(void *arg, const uint8_t *origin, const zone_t *zone,
                               const zone_t *part, uint32_t base_serial);

/* NULL on allocation failure. on_zone may be NULL. */
sm_t *sm_new(sm_zone_changed_fn on_zone, void *arg);
void sm_free(sm_t *sm);
/* Sets the optional partial publisher (before the first apply). */
void sm_set_zone_part_fn(sm_t *sm, sm_zone_part_fn fn);

/* Applies the committed entry at `index`. Indices must increase; gaps are
 * fine (entries the Raft layer keeps to itself are not passed). An index at
 * or below the applied index does nothing (KV_ERR_ALREADY_APPLIED), so a log
 * replayed over a restored snapshot is harmless. An empty entry is a no-op
 * (a new leader's blank entry). An entry that does not decode is refused
 * (KV_ERR_MALFORMED) but still advances the applied index. */
void sm_apply(sm_t *sm, uint64_t index, const uint8_t *data, size_t len, kv_result_t *res);

/* Zones changed by UPDATE entries are built (into the state: sm_zone_with,
 * snapshots) and published (the zone-changed callback) not at once but by
 * sm_publish, so the UPDATEs of one applied batch share one new zone and
 * one new DNS version (one build, one index, one RCU grace period)
 * instead of one each; their results and journal entries are immediate. Call it after a batch of sm_apply and before anyone is told an
 * UPDATE's result (the issue: after NOERROR the answering node already
 * serves the change). Apply thread only; a no-op when nothing is pending.
 * The replicated state (zones, journals, results) does not depend on when
 * it runs: only the moment DNS sees it. */
void sm_publish(sm_t *sm);

/* Journal bounds per zone (-zone.journal.max and .max-bytes): the oldest
 * changesets beyond either are dropped. Defaults SM_JOURNAL_MAX and
 * SM_JOURNAL_MAX_BYTES. They shape only how far back the journal reaches,
 * never a zone, but set them alike on every node so snapshots agree. Call
 * before the first apply. */
#define SM_JOURNAL_MAX 1000u
#define SM_JOURNAL_MAX_BYTES (64u * 1024u * 1024u)
void sm_set_journal_limits(sm_t *sm, size_t max_entries, size_t max_bytes);

/* ---- readers (any thread, except where marked) ---- */

uint64_t sm_applied_index(sm_t *sm);
/* Copies the value of `key` into a malloc'd buffer (*value, caller frees) and
 * returns 1; returns 0 when absent, -1 on allocation failure. */
int sm_kv_get(sm_t *sm, const uint8_t *key, size_t key_len, uint8_t **value, size_t *value_len);
size_t sm_kv_count(sm_t *sm);

typedef struct sm_zone_info {
    const uint8_t *origin;
    uint32_t serial;
    size_t rr_count;
    const char *node_id; /* the node that loaded it */
    uint64_t load_id;
    uint64_t index;      /* log index at which it became visible */
} sm_zone_info_t;

/* Calls fn for each zone in canonical origin order, under the read lock
 * (fn must not call back into the state machine). */
void sm_zone_list(sm_t *sm, void (*fn)(void *arg, const sm_zone_info_t *info), void *arg);
size_t sm_zone_count(sm_t *sm);
/* Calls fn with the zone of that origin (case-insensitive) under the read
 * lock; returns false when there is none. */
bool sm_zone_with(sm_t *sm, const uint8_t *origin,
                  void (*fn)(void *arg, const zone_t *zone, const sm_zone_info_t *info),
                  void *arg);
/* Calls fn with the zone's journal (changesets oldest first, each with its
 * serials before and after) under the read lock; false when there is no
 * such zone. */
struct zone_changeset;
bool sm_zone_journal_with(sm_t *sm, const uint8_t *origin,
                          void (*fn)(void *arg, const struct zone_changeset *v, size_t n),
                          void *arg);
/* Number of zone loads staged and not yet complete (apply thread only). */
size_t sm_staged_count(sm_t *sm);

/* ---- snapshots (apply thread) ----
 *
 * Stream format, integers little-endian:
 *   "DRKV" u8 version, u64 applied index,
 *   KV map     u64 count, each: u16 key_len, key, u32 value_len, value
 *   zones      u32 count, each: origin, u8 node_len, node id, u64 load_id,
 *              u64 index, u64 rr_count, u64 records_len, records,
 *              [version 2:] u8 file_same (1: the file version is the zone),
 *                [when 0: u64 rr_count, u64 records_len, records of the file]
 *                u32 journal count, each: u32 serial_from, u32 serial_to,
 *                u64 removed, u64 added, u64 records_len, records (the
 *                removed ones, then the added ones)
 *   staged     u32 count, each: origin, u8 node_len, node id, u64 load_id,
 *              u32 chunk_total, u32 next_chunk, u64 last_index,
 *              u64 rr_count, u64 records_len, records
 *   sessions   u64 len, then the kv_sessions_save section
 *   trailer    u64 length of everything above, u32 CRC-32C of it
 *              (common/crc32c.h: the hardware CRC the WAL uses too)
 * Maps, zones and sessions are written in sorted order, so equal states give
 * equal bytes. Records use the format of kv/command.h. */
#define SM_SNAPSHOT_VERSION 2 /* version 1 (no file versions, no journals) still restores */

/* Receives the snapshot in pieces; returns 0, or -1 to abort. */
typedef int (*sm_write_fn)(void *arg, const void *data, size_t len);
/* Fills up to len bytes; returns how many (0 at the end), or -1 on error. */
typedef ssize_t (*sm_read_fn)(void *arg, void *buf, size_t len);

/* Returns 0, or -1 when the writer failed or memory ran out. */
int sm_snapshot(sm_t *sm, sm_write_fn write, void *arg);
/* Replaces the whole state with the snapshot's. The stream is read to its end
 * and checked (format, length, CRC, every zone rebuilt) before anything
 * changes: on any error returns -1 with *err set and the state is untouched. */
int sm_restore(sm_t *sm, sm_read_fn read, void *arg, const char **err);
/* Checks a snapshot received from a leader before it replaces anything: the
 * same decoding as sm_restore into a fresh state that is then dropped, plus
 * its applied index must not be past the Raft index it was taken at. 0, or
 * -1 with *err; the running state is never touched. */
int sm_check_snapshot(sm_t *sm, uint64_t index, sm_read_fn read, void *arg, const char **err);

#endif
