/* kv/sm_state.h — private to kv/statemachine.c and kv/sm_snapshot.c: the
 * state the replicated state machine is made of, grouped so a restore can
 * build a complete new one aside and swap it in whole. Not for other modules. */
#ifndef KV_SM_STATE_H
#define KV_SM_STATE_H

#include <pthread.h>

#include "kv/bytes.h"
#include "kv/session.h"
#include "kv/statemachine.h"
#include "kv/store.h"
#include "zone/update.h"

/* A zone's journal: the changesets of its last changes, oldest first,
 * bounded by the state machine's journal limits (issue 15 serves IXFR
 * from it). */
typedef struct sm_journal {
    zone_changeset_t *v;
    size_t n, cap;
    size_t bytes; /* sum of zone_changeset_size */
} sm_journal_t;

/* A published zone. */
typedef struct sm_zone {
    zone_t *zone; /* owned; its origin is the key (canonical order) */
    /* The last zone-file version loaded (reloads apply the difference
     * between it and the next one). Owned; may be the same pointer as
     * `zone` (no dynamic change since), never NULL. */
    zone_t *file;
    sm_journal_t journal;
    char node_id[KV_NODE_ID_MAX + 1];
    uint64_t load_id;
    uint64_t index;
    /* The UPDATEs' working set (zone/update.h zone_update_batch_t), kept
     * from one UPDATE to the next so none reloads the zone: UPDATEs apply
     * to it (their changesets go to the journal at once) and each
     * sm_publish makes `zone` a view of it (sm_flush_batches). It borrows
     * `batch_base`, the zone it was opened on, which the entry keeps
     * alive (and frees with the batch unless it is `zone` or `file`).
     * Reopened on the current zone once it has grown by half the zone;
     * dropped before any zone load or delete. Apply thread only; never
     * part of a snapshot. NULL: none. */
    zone_update_batch_t *batch;
    zone_t *batch_base;
    uint64_t batch_index; /* log index of the last change not yet built */
    /* The batch's touched names count from a full publication to DNS of
     * this zone (made while the batch existed), whose serial this is: DNS
     * may then be given only the records at those names (sm_publish). */
    bool part_ok;
    uint32_t part_base_serial;
    /* `zone` is a view of the batch (zone_update_batch_view: its records
     * point into the batch and batch_base), made an owning copy before
     * the batch goes. */
    bool zone_is_view;
} sm_zone_t;

/* A zone load whose last chunk has not applied yet. */
typedef struct sm_staging {
    uint8_t origin[NAME_MAX_WIRE];
    char node_id[KV_NODE_ID_MAX + 1];
    uint64_t load_id;
    uint32_t total; /* chunks in the load */
    uint32_t next;  /* the chunk expected next */
    uint64_t rr_count;
    uint64_t last_index; /* log index of the last chunk applied */
    bytebuf_t records; /* the records of chunks 0..next-1, concatenated */
} sm_staging_t;

typedef struct sm_state {
    uint64_t applied;
    kv_store_t *store;
    sm_zone_t *zones; /* sorted by origin, canonical order */
    size_t nzones, capzones;
    sm_staging_t *staged; /* in the order the loads started */
    size_t nstaged, capstaged;
    kv_sessions_t *sessions;
} sm_state_t;

struct sm {
    pthread_rwlock_t lock; /* readers vs. the apply thread's swaps */
    size_t journal_max;       /* changesets kept per zone */
    size_t journal_max_bytes; /* bytes kept per zone */
    sm_state_t st;
    sm_zone_changed_fn on_zone;
    sm_zone_part_fn on_zone_part;
    void *on_zone_arg;
    /* Origins changed by UPDATEs and not yet published (sm_publish); apply
     * thread only, never part of the replicated state. */
    uint8_t (*unpublished)[NAME_MAX_WIRE];
    size_t nunpublished, capunpublished;
};

/* Allocates the empty maps; -1 on allocation failure (st then freed). */
int sm_state_init(sm_state_t *st);
void sm_state_free(sm_state_t *st);
/* Position of origin in st->zones, or where it would go. */
size_t sm_zones_find(const sm_state_t *st, const uint8_t *origin, bool *found);
/* Inserts at pos (from sm_zones_find); -1 on allocation failure. */
int sm_zones_insert(sm_state_t *st, size_t pos, const sm_zone_t *z);
/* Appends a staged load (taking over its records buffer); -1 on failure. */
int sm_staged_append(sm_state_t *st, const sm_staging_t *s);
/* Builds a zone from concatenated records (kv_cmd_records_valid already holds).
 * NULL with err filled when zone_from_records refuses it. */
zone_t *sm_zone_build(const uint8_t *origin, const uint8_t *records, size_t len,
                      uint64_t count, char err[ZONE_ERR_MAX]);
/* The zone-changed callback for origin now (zone NULL: deleted), and
 * later, in sm_publish (kv/sm_publish.c). Apply thread. */
void sm_notify_zone(sm_t *sm, const uint8_t *origin, const zone_t *zone);
void sm_notify_zone_later(sm_t *sm, const uint8_t *origin);
/* Builds every zone its UPDATE batch changed since the last build into
 * the state (published later, by sm_publish). Apply thread. */
void sm_flush_batches(sm_t *sm);
/* Frees a zone entry's batch, zone, file version and journal. */
void sm_zone_entry_free(sm_zone_t *z);
/* Appends cs (taken over) to a journal and drops the oldest entries beyond
 * the limits; -1 on allocation failure (cs then freed). */
int sm_journal_push(sm_journal_t *j, zone_changeset_t *cs, size_t max, size_t max_bytes);
/* Fills info for a published zone. */
void sm_zone_info(const sm_zone_t *z, sm_zone_info_t *info);

#endif
