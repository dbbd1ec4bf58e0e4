/* kv/statemachine.c — applying committed entries (kv/statemachine.h): the
 * KV map, staged and published zones, client-session dedup, and the readers
 * other threads use. Snapshots are in kv/sm_snapshot.c, publication to DNS in
 * kv/sm_publish.c.
 *
 * Every change is prepared outside the lock (decode, copy, zone rebuild) and
 * swapped in under the write lock, so readers wait only for a pointer swap,
 * never for a zone to be built. */
#include "kv/statemachine.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "kv/command.h"
#include "kv/sm_state.h"
#include "dns/upd_msg.h"
#include "zone/update.h"

/* Sessions and idle partial loads are swept when the applied index crosses a multiple of this, a
 * choice that depends only on indices, so all replicas sweep alike. */
#define SWEEP_EVERY 1024u

static void out_of_memory(const char *what)
{
    log_error("kv", "out of memory while applying (%s); stopping so the log is replayed", what);
    abort();
}

static void set_msg(kv_result_t *res, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_msg(kv_result_t *res, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(res->msg, sizeof res->msg, fmt, ap);
    va_end(ap);
}

/* ---- state containers ---- */

int sm_state_init(sm_state_t *st)
{
    memset(st, 0, sizeof *st);
    st->store = kv_store_new();
    st->sessions = kv_sessions_new();
    if (!st->store || !st->sessions) {
        sm_state_free(st);
        return -1;
    }
    return 0;
}

void sm_state_free(sm_state_t *st)
{
    kv_store_free(st->store);
    kv_sessions_free(st->sessions);
    for (size_t i = 0; i < st->nzones; i++)
        sm_zone_entry_free(&st->zones[i]);
    free(st->zones);
    for (size_t i = 0; i < st->nstaged; i++)
        bytebuf_free(&st->staged[i].records);
    free(st->staged);
    memset(st, 0, sizeof *st);
}

size_t sm_zones_find(const sm_state_t *st, const uint8_t *origin, bool *found)
{
    size_t lo = 0, hi = st->nzones;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (name_compare_canonical(st->zones[mid].zone->origin, origin) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < st->nzones && name_equal(st->zones[lo].zone->origin, origin);
    return lo;
}

int sm_zones_insert(sm_state_t *st, size_t pos, const sm_zone_t *z)
{
    if (st->nzones == st->capzones) {
        size_t cap = st->capzones ? st->capzones * 2 : 8;
        sm_zone_t *v = realloc(st->zones, cap * sizeof *v);
        if (!v)
            return -1;
        st->zones = v;
        st->capzones = cap;
    }
    memmove(&st->zones[pos + 1], &st->zones[pos], (st->nzones - pos) * sizeof *st->zones);
    st->zones[pos] = *z;
    st->nzones++;
    return 0;
}

int sm_staged_append(sm_state_t *st, const sm_staging_t *s)
{
    if (st->nstaged == st->capstaged) {
        size_t cap = st->capstaged ? st->capstaged * 2 : 4;
        sm_staging_t *v = realloc(st->staged, cap * sizeof *v);
        if (!v)
            return -1;
        st->staged = v;
        st->capstaged = cap;
    }
    st->staged[st->nstaged++] = *s;
    return 0;
}

/* Frees a staged load and closes the gap, keeping start order. */
static void staged_drop(sm_state_t *st, sm_staging_t *s)
{
    size_t i = (size_t)(s - st->staged);
    bytebuf_free(&s->records);
    memmove(&st->staged[i], &st->staged[i + 1], (st->nstaged - i - 1) * sizeof *st->staged);
    st->nstaged--;
}

static bool staged_expired(const sm_staging_t *s, uint64_t index)
{
    return index - s->last_index > SM_STAGING_IDLE_ENTRIES;
}

static void log_dropped_load(const sm_staging_t *s, const char *why)
{
    char text[NAME_MAX_TEXT];
    name_to_text(s->origin, text, sizeof text);
    log_info("kv", "zone %s: load %llu from node %s %s at chunk %u of %u", text,
             (unsigned long long)s->load_id, s->node_id, why, s->next, s->total);
}

/* The partial load of origin as seen at `index`: one idle for too long is
 * dropped here, so the outcome never depends on when a sweep ran. */
static sm_staging_t *staged_find(sm_state_t *st, const uint8_t *origin, uint64_t index)
{
    for (size_t i = 0; i < st->nstaged; i++) {
        sm_staging_t *s = &st->staged[i];
        if (!name_equal(s->origin, origin))
            continue;
        if (!staged_expired(s, index))
            return s;
        log_dropped_load(s, "expired (no chunk for too long)");
        staged_drop(st, s);
        return NULL;
    }
    return NULL;
}

static void staged_sweep(sm_state_t *st, uint64_t index)
{
    for (size_t i = 0; i < st->nstaged;) {
        if (staged_expired(&st->staged[i], index)) {
            log_dropped_load(&st->staged[i], "expired (no chunk for too long)");
            staged_drop(st, &st->staged[i]);
        } else {
            i++;
        }
    }
}

zone_t *sm_zone_build(const uint8_t *origin, const uint8_t *records, size_t len,
                      uint64_t count, char err[ZONE_ERR_MAX])
{
    zone_rr_t *rrs = count ? malloc(count * sizeof *rrs) : NULL;
    if (count && !rrs) {
        snprintf(err, ZONE_ERR_MAX, "out of memory");
        return NULL;
    }
    size_t pos = 0, n = 0;
    while (n < count && kv_cmd_records_next(records, len, &pos, &rrs[n]))
        n++;
    zone_t *z = zone_from_records(origin, rrs, n, err);
    free(rrs);
    return z;
}

/* Frees a zone entry's UPDATE batch, and the zone it borrows unless the
 * entry still uses that one (a view of the batch must be gone or copied). */
static void release_batch(sm_zone_t *z)
{
    zone_update_batch_free(z->batch);
    if (z->batch_base && z->batch_base != z->zone && z->batch_base != z->file)
        zone_free(z->batch_base);
    z->batch = NULL;
    z->batch_base = NULL;
    z->part_ok = false;
}

void sm_zone_entry_free(sm_zone_t *z)
{
    release_batch(z); /* a view's zone_free below touches only its array */
    if (z->file != z->zone)
        zone_free(z->file);
    zone_free(z->zone);
    for (size_t i = 0; i < z->journal.n; i++)
        zone_changeset_free(&z->journal.v[i]);
    free(z->journal.v);
    z->zone = z->file = NULL;
    memset(&z->journal, 0, sizeof z->journal);
}

int sm_journal_push(sm_journal_t *j, zone_changeset_t *cs, size_t max, size_t max_bytes)
{
    if (j->n == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 16;
        zone_changeset_t *v = realloc(j->v, cap * sizeof *v);
        if (!v) {
            zone_changeset_free(cs);
            return -1;
        }
        j->v = v;
        j->cap = cap;
    }
    j->v[j->n++] = *cs;
    j->bytes += zone_changeset_size(cs);
    memset(cs, 0, sizeof *cs);
    size_t drop = 0, bytes = j->bytes;
    while (drop < j->n && (j->n - drop > max || bytes > max_bytes)) {
        bytes -= zone_changeset_size(&j->v[drop]);
        zone_changeset_free(&j->v[drop]);
        drop++;
    }
    if (drop) {
        memmove(j->v, j->v + drop, (j->n - drop) * sizeof *j->v);
        j->n -= drop;
        j->bytes = bytes;
    }
    return 0;
}

void sm_zone_info(const sm_zone_t *z, sm_zone_info_t *info)
{
    info->origin = z->zone->origin;
    info->serial = z->zone->serial;
    info->rr_count = z->zone->count;
    info->node_id = z->node_id;
    info->load_id = z->load_id;
    info->index = z->index;
}

/* ---- lifecycle ---- */

sm_t *sm_new(sm_zone_changed_fn on_zone, void *arg)
{
    sm_t *sm = calloc(1, sizeof *sm);
    if (!sm)
        return NULL;
    if (sm_state_init(&sm->st) < 0) {
        free(sm);
        return NULL;
    }
    /* Writer preference: a stream of admin reads must not hold off apply. */
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&sm->lock, &attr);
    pthread_rwlockattr_destroy(&attr);
    sm->on_zone = on_zone;
    sm->on_zone_arg = arg;
    sm->journal_max = SM_JOURNAL_MAX;
    sm->journal_max_bytes = SM_JOURNAL_MAX_BYTES;
    return sm;
}

void sm_set_journal_limits(sm_t *sm, size_t max_entries, size_t max_bytes)
{
    sm->journal_max = max_entries;
    sm->journal_max_bytes = max_bytes;
}

void sm_free(sm_t *sm)
{
    if (!sm)
        return;
    sm_state_free(&sm->st);
    free(sm->unpublished);
    pthread_rwlock_destroy(&sm->lock);
    free(sm);
}

/* ---- KV commands ---- */

static void apply_set(sm_t *sm, const kv_cmd_t *cmd, kv_result_t *res)
{
    pthread_rwlock_wrlock(&sm->lock);
    int rc = kv_store_set(sm->st.store, cmd->key, cmd->key_len, cmd->value, cmd->value_len);
    pthread_rwlock_unlock(&sm->lock);
    if (rc < 0)
        out_of_memory("kv set");
    res->status = KV_OK;
}

static void apply_del(sm_t *sm, const kv_cmd_t *cmd, kv_result_t *res)
{
    pthread_rwlock_wrlock(&sm->lock);
    bool existed = kv_store_del(sm->st.store, cmd->key, cmd->key_len);
    pthread_rwlock_unlock(&sm->lock);
    res->status = KV_OK;
    set_msg(res, existed ? "deleted" : "no such key");
}

/* ---- zones ---- */

/* Frees `x` unless the entry still uses it. */
static void release_zone(zone_t *x, const sm_zone_t *now)
{
    if (x && x != now->zone && x != now->file)
        zone_free(x);
}

/* Swaps `zone` (and `file`, when not NULL) in as the published zone of its
 * origin, appends the changeset (when not NULL; taken over) to its journal,
 * then notifies. A new origin gets an empty journal. */
static void install_zone(sm_t *sm, zone_t *zone, zone_t *file, const char *node_id,
                         uint64_t load_id, uint64_t index, zone_changeset_t *cs)
{
    zone_t *old_zone = NULL, *old_file = NULL;
    pthread_rwlock_wrlock(&sm->lock);
    bool found;
    size_t pos = sm_zones_find(&sm->st, zone->origin, &found);
    if (!found) {
        sm_zone_t z = { .zone = zone, .file = file ? file : zone };
        if (sm_zones_insert(&sm->st, pos, &z) < 0) {
            pthread_rwlock_unlock(&sm->lock);
            out_of_memory("zone table");
        }
    }
    sm_zone_t *z = &sm->st.zones[pos];
    if (found) {
        old_zone = z->zone;
        old_file = z->file;
        z->zone = zone;
        if (file)
            z->file = file;
        if (cs && sm_journal_push(&z->journal, cs, sm->journal_max, sm->journal_max_bytes) < 0) {
            pthread_rwlock_unlock(&sm->lock);
            out_of_memory("zone journal");
        }
    }
    if (node_id) {
        snprintf(z->node_id, sizeof z->node_id, "%s", node_id);
        z->load_id = load_id;
    }
    z->index = index;
    pthread_rwlock_unlock(&sm->lock);
    if (cs)
        zone_changeset_free(cs); /* a new origin keeps no journal of its creation */
    release_zone(old_zone, z);
    if (old_file != old_zone)
        release_zone(old_file, z);
    sm_notify_zone(sm, zone->origin, zone);
}

/* A full replace (first load of an origin, or one restored from a snapshot
 * that predates file versions): the file becomes the zone. */
static void replace_zone(sm_t *sm, zone_t *fz, const sm_staging_t *from, uint64_t index,
                         kv_result_t *res)
{
    char text[NAME_MAX_TEXT];
    name_to_text(fz->origin, text, sizeof text);
    pthread_rwlock_rdlock(&sm->lock);
    bool found;
    size_t pos = sm_zones_find(&sm->st, fz->origin, &found);
    zone_changeset_t cs, *csp = NULL;
    if (found) {
        if (zone_diff(sm->st.zones[pos].zone, fz, &cs) < 0) {
            pthread_rwlock_unlock(&sm->lock);
            out_of_memory("zone diff");
        }
        csp = &cs;
    }
    pthread_rwlock_unlock(&sm->lock);
    res->status = KV_OK;
    set_msg(res, "zone published: %zu records, serial %u", fz->count, fz->serial);
    log_info("kv", "zone %s published: %zu records, serial %u, from node %s",
             text, fz->count, fz->serial, from->node_id);
    install_zone(sm, fz, fz, from->node_id, from->load_id, index, csp);
}

/* A reload (issue 14 item 4, like Knot's zonefile-load: difference): the
 * difference between the previous file version and this one is applied to
 * the current zone, so dynamic changes to other records stay. */
static void reload_zone(sm_t *sm, sm_zone_t *cur, zone_t *fz, const sm_staging_t *from,
                        uint64_t index, kv_result_t *res)
{
    char text[NAME_MAX_TEXT];
    name_to_text(fz->origin, text, sizeof text);
    if (strcmp(cur->node_id, from->node_id) != 0)
        log_warn("kv", "zone %s loaded by node %s replaces the one loaded by node %s (the later "
                       "load wins: its difference from the previous file applies)",
                 text, from->node_id, cur->node_id);
    zone_changeset_t fcs;
    if (zone_diff(cur->file, fz, &fcs) < 0)
        out_of_memory("zone diff");
    bool unchanged;
    char err[ZONE_ERR_MAX] = "";
    zone_t *nz = zone_apply_changeset(cur->zone, &fcs, ZONE_SERIAL_INCREMENT, 0, &unchanged, err);
    size_t nrem = fcs.nremoved, nadd = fcs.nadded;
    zone_changeset_free(&fcs);
    if (!nz && strcmp(err, "out of memory") == 0)
        out_of_memory("zone reload");
    res->status = KV_OK;
    if (unchanged) {
        zone_t *old_file = cur->file;
        pthread_rwlock_wrlock(&sm->lock);
        cur->file = fz;
        snprintf(cur->node_id, sizeof cur->node_id, "%s", from->node_id);
        cur->load_id = from->load_id;
        pthread_rwlock_unlock(&sm->lock);
        release_zone(old_file, cur);
        set_msg(res, "zone unchanged: the file differs from its previous version in "
                     "nothing the zone does not already have");
        return;
    }
    if (!nz) {
        log_warn("kv", "zone %s: reload from node %s refused, the zone stays as it is: %s",
                 text, from->node_id, err);
        zone_free(fz);
        res->status = KV_ERR_BAD_ZONE;
        set_msg(res, "the file's changes conflict with the current zone: %s", err);
        return;
    }
    zone_changeset_t cs;
    if (zone_diff(cur->zone, nz, &cs) < 0)
        out_of_memory("zone diff");
    set_msg(res, "zone reloaded: file difference -%zu +%zu applied, serial %u -> %u", nrem, nadd,
            cs.serial_from, cs.serial_to);
    log_info("kv", "zone %s reloaded from node %s: file difference -%zu +%zu, serial %u -> %u",
             text, from->node_id, nrem, nadd, cs.serial_from, cs.serial_to);
    install_zone(sm, nz, fz, from->node_id, from->load_id, index, &cs);
}

/* Starts a staged load for a chunk 0, abandoning any partial load of the
 * same origin. */
static sm_staging_t *start_load(sm_t *sm, const kv_cmd_t *cmd, uint64_t index)
{
    sm_staging_t *old = staged_find(&sm->st, cmd->origin, index);
    if (old) {
        log_dropped_load(old, "abandoned for a new load");
        staged_drop(&sm->st, old);
    }
    sm_staging_t s;
    memset(&s, 0, sizeof s);
    memcpy(s.origin, cmd->origin, name_wire_len(cmd->origin));
    memcpy(s.node_id, cmd->node_id, cmd->node_id_len);
    s.load_id = cmd->load_id;
    s.total = cmd->chunk_total;
    bytebuf_init(&s.records);
    if (sm_staged_append(&sm->st, &s) < 0)
        out_of_memory("zone staging");
    return &sm->st.staged[sm->st.nstaged - 1];
}

/* True when the chunk is the next one of the staged load `s`. */
static bool continues_load(const sm_staging_t *s, const kv_cmd_t *cmd)
{
    return s && s->load_id == cmd->load_id && s->total == cmd->chunk_total &&
           s->next == cmd->chunk_no && strlen(s->node_id) == cmd->node_id_len &&
           memcmp(s->node_id, cmd->node_id, cmd->node_id_len) == 0;
}

static void finish_load(sm_t *sm, sm_staging_t *s, uint64_t index, kv_result_t *res)
{
    char err[ZONE_ERR_MAX] = "";
    zone_t *zone = sm_zone_build(s->origin, s->records.data, s->records.len, s->rr_count, err);
    if (!zone) {
        char text[NAME_MAX_TEXT];
        name_to_text(s->origin, text, sizeof text);
        log_warn("kv", "zone %s from node %s refused, the previous version stays: %s",
                 text, s->node_id, err);
        res->status = KV_ERR_BAD_ZONE;
        set_msg(res, "%s", err);
    } else {
        bool found;
        size_t pos = sm_zones_find(&sm->st, zone->origin, &found);
        if (found)
            reload_zone(sm, &sm->st.zones[pos], zone, s, index, res);
        else
            replace_zone(sm, zone, s, index, res);
    }
    staged_drop(&sm->st, s);
}

static void apply_zone_chunk(sm_t *sm, const kv_cmd_t *cmd, uint64_t index, kv_result_t *res)
{
    sm_staging_t *s = cmd->chunk_no == 0 ? start_load(sm, cmd, index)
                                         : staged_find(&sm->st, cmd->origin, index);
    if (!continues_load(s, cmd)) {
        res->status = KV_ERR_STALE_LOAD;
        set_msg(res, "chunk %u of load %llu does not continue a staged load",
                cmd->chunk_no, (unsigned long long)cmd->load_id);
        return;
    }
    bytebuf_put(&s->records, cmd->records, cmd->records_len);
    if (s->records.failed)
        out_of_memory("zone staging");
    s->rr_count += cmd->rr_count;
    s->next++;
    s->last_index = index;
    if (s->next == s->total) {
        finish_load(sm, s, index, res);
        return;
    }
    res->status = KV_OK;
    set_msg(res, "staged chunk %u of %u", s->next, s->total);
}

static void apply_zone_del(sm_t *sm, const kv_cmd_t *cmd, uint64_t index, kv_result_t *res)
{
    sm_staging_t *s = staged_find(&sm->st, cmd->origin, index);
    if (s)
        staged_drop(&sm->st, s);
    sm_zone_t old = { 0 };
    pthread_rwlock_wrlock(&sm->lock);
    bool found;
    size_t pos = sm_zones_find(&sm->st, cmd->origin, &found);
    if (found) {
        old = sm->st.zones[pos];
        memmove(&sm->st.zones[pos], &sm->st.zones[pos + 1],
                (sm->st.nzones - pos - 1) * sizeof *sm->st.zones);
        sm->st.nzones--;
    }
    pthread_rwlock_unlock(&sm->lock);
    res->status = KV_OK;
    set_msg(res, found ? "zone deleted" : "no such zone");
    if (found) {
        sm_notify_zone(sm, cmd->origin, NULL);
        sm_zone_entry_free(&old);
    }
}

/* ---- dynamic updates (RFC 2136) ---- */

/* Applies an UPDATE message (RFC 2136) to the zone it names: the rcode is
 * the result (kv/result.h); a change is journaled at once and applied to
 * the zone's working set (zone/update.h zone_update_batch_t), from which
 * sm_publish (or a zone command, or a snapshot) builds the new zone: one
 * build for all the UPDATEs of an applied Raft batch. */
static void apply_update(sm_t *sm, const kv_cmd_t *cmd, uint64_t index, kv_result_t *res)
{
    res->status = KV_OK;
    zone_update_t u;
    const char *why = "";
    int rc = dns_update_parse(cmd->msg, cmd->msg_len, &u, &why);
    if (rc != ZU_NOERROR) {
        res->rcode = (uint8_t)rc;
        set_msg(res, "update refused: %s", why);
        return;
    }
    bool found;
    size_t pos = sm_zones_find(&sm->st, u.zname, &found);
    if (!found || u.zclass != RR_CLASS_IN) { /* §3.1.1 */
        zone_update_free(&u);
        res->rcode = ZU_NOTAUTH;
        set_msg(res, "not authoritative for the zone named in the zone section");
        return;
    }
    sm_zone_t *z = &sm->st.zones[pos];
    if (!z->batch) {
        if (!(z->batch = zone_update_batch_open(z->zone)))
            out_of_memory("update batch");
        z->batch_base = z->zone;
        z->part_ok = false; /* DNS gets the zone in full once first */
    }
    zone_changeset_t cs;
    char err[ZONE_ERR_MAX] = "";
    rc = zone_update_batch_apply(z->batch, &u, (enum zone_serial_policy)cmd->serial_policy,
                                 cmd->now, &cs, err);
    zone_update_free(&u);
    if (rc == ZU_SERVFAIL && strcmp(err, "out of memory") == 0)
        out_of_memory("update");
    res->rcode = (uint8_t)rc;
    if (rc != ZU_NOERROR || zone_changeset_empty(&cs)) {
        set_msg(res, "%s", rc == ZU_NOERROR ? "no change" : err);
        return;
    }
    char text[NAME_MAX_TEXT];
    name_to_text(z->zone->origin, text, sizeof text);
    set_msg(res, "updated: -%zu +%zu, serial %u -> %u", cs.nremoved, cs.nadded, cs.serial_from,
            cs.serial_to);
    log_info("kv", "zone %s updated at index %llu: -%zu +%zu records, serial %u -> %u", text,
             (unsigned long long)index, cs.nremoved, cs.nadded, cs.serial_from, cs.serial_to);
    z->batch_index = index;
    pthread_rwlock_wrlock(&sm->lock);
    int pushed = sm_journal_push(&z->journal, &cs, sm->journal_max, sm->journal_max_bytes);
    pthread_rwlock_unlock(&sm->lock);
    if (pushed < 0)
        out_of_memory("zone journal");
}

/* The batch is reopened on the current zone once it has added or removed
 * records for half the zone (its dead records and copies only grow): one
 * O(zone) load per that many changes. */
static bool batch_worn(const sm_zone_t *z)
{
    return zone_update_batch_churn(z->batch) > z->batch_base->count / 2 + 1024;
}

/* Replaces the entry's zone under the lock; the old one is freed unless
 * the entry or its batch still holds it. */
static void swap_zone(sm_t *sm, sm_zone_t *z, zone_t *nz, bool view, uint64_t index)
{
    pthread_rwlock_wrlock(&sm->lock);
    zone_t *old = z->zone;
    z->zone = nz;
    z->zone_is_view = view;
    z->index = index;
    pthread_rwlock_unlock(&sm->lock);
    if (old != z->batch_base && old != z->file)
        zone_free(old); /* a view: only its array */
}

/* Drops the entry's batch, its zone first made an owning copy. */
static void drop_batch(sm_t *sm, sm_zone_t *z)
{
    if (z->zone_is_view) {
        zone_t *own = zone_update_view_copy(z->zone);
        if (!own)
            out_of_memory("zone copy");
        swap_zone(sm, z, own, false, z->index);
    }
    release_batch(z);
}

static void flush_batch(sm_t *sm, sm_zone_t *z)
{
    if (!z->batch || !zone_update_batch_changes(z->batch))
        return;
    /* A view: no record copied, only the array of the live ones. */
    zone_t *nz = zone_update_batch_view(z->batch);
    if (!nz)
        out_of_memory("update batch");
    swap_zone(sm, z, nz, true, z->batch_index);
    if (batch_worn(z))
        drop_batch(sm, z);
    sm_notify_zone_later(sm, z->zone->origin);
}

void sm_flush_batches(sm_t *sm)
{
    for (size_t i = 0; i < sm->st.nzones; i++)
        flush_batch(sm, &sm->st.zones[i]);
}

/* Before a zone load or delete, which change zones another way. */
static void drop_batches(sm_t *sm)
{
    sm_flush_batches(sm);
    for (size_t i = 0; i < sm->st.nzones; i++)
        drop_batch(sm, &sm->st.zones[i]);
}

/* ---- apply ---- */

static void dispatch(sm_t *sm, const kv_cmd_t *cmd, uint64_t index, kv_result_t *res)
{
    switch (cmd->type) {
    case KV_CMD_SET: apply_set(sm, cmd, res); break;
    case KV_CMD_DEL: apply_del(sm, cmd, res); break;
    case KV_CMD_ZONE_CHUNK:
        drop_batches(sm); /* a reload diffs against the current zone */
        apply_zone_chunk(sm, cmd, index, res);
        break;
    case KV_CMD_ZONE_DEL:
        drop_batches(sm);
        apply_zone_del(sm, cmd, index, res);
        break;
    case KV_CMD_UPDATE: apply_update(sm, cmd, index, res); break;
    }
}

static void set_applied(sm_t *sm, uint64_t index)
{
    uint64_t prev = sm->st.applied;
    pthread_rwlock_wrlock(&sm->lock);
    sm->st.applied = index;
    pthread_rwlock_unlock(&sm->lock);
    if (prev / SWEEP_EVERY != index / SWEEP_EVERY) {
        kv_sessions_sweep(sm->st.sessions, index);
        staged_sweep(&sm->st, index);
    }
}

/* Applies a decoded command through its client session. */
static void apply_in_session(sm_t *sm, const kv_cmd_t *cmd, uint64_t index, kv_result_t *res)
{
    if (cmd->client_id == 0) {
        dispatch(sm, cmd, index, res);
        return;
    }
    switch (kv_sessions_check(sm->st.sessions, cmd->client_id, cmd->seq, index, res)) {
    case KV_DEDUP_DUPLICATE:
        return;
    case KV_DEDUP_TOO_OLD:
        res->status = KV_ERR_SESSION_TOO_OLD;
        set_msg(res, "seq %llu of client %llu is older than its session remembers",
                (unsigned long long)cmd->seq, (unsigned long long)cmd->client_id);
        return;
    case KV_DEDUP_NEW:
        break;
    }
    dispatch(sm, cmd, index, res);
    if (kv_sessions_record(sm->st.sessions, cmd->client_id, cmd->seq, index, res) < 0)
        out_of_memory("session");
}

void sm_apply(sm_t *sm, uint64_t index, const uint8_t *data, size_t len, kv_result_t *res)
{
    memset(res, 0, sizeof *res);
    if (index <= sm->st.applied) {
        res->status = KV_ERR_ALREADY_APPLIED;
        set_msg(res, "index %llu already applied", (unsigned long long)index);
        return;
    }
    if (len > 0) {
        kv_cmd_t cmd;
        const char *err = NULL;
        if (kv_cmd_decode(data, len, &cmd, &err) < 0) {
            res->status = KV_ERR_MALFORMED;
            set_msg(res, "%s", err);
            log_warn("kv", "entry %llu refused: %s", (unsigned long long)index, err);
        } else {
            apply_in_session(sm, &cmd, index, res);
        }
    }
    set_applied(sm, index);
}

/* ---- readers ---- */

uint64_t sm_applied_index(sm_t *sm)
{
    pthread_rwlock_rdlock(&sm->lock);
    uint64_t v = sm->st.applied;
    pthread_rwlock_unlock(&sm->lock);
    return v;
}

int sm_kv_get(sm_t *sm, const uint8_t *key, size_t key_len, uint8_t **value, size_t *value_len)
{
    int rc = 0;
    const uint8_t *v;
    size_t n;
    *value = NULL;
    *value_len = 0;
    pthread_rwlock_rdlock(&sm->lock);
    if (kv_store_get(sm->st.store, key, key_len, &v, &n)) {
        *value = malloc(n ? n : 1);
        if (*value) {
            memcpy(*value, v, n);
            *value_len = n;
            rc = 1;
        } else {
            rc = -1;
        }
    }
    pthread_rwlock_unlock(&sm->lock);
    return rc;
}

size_t sm_kv_count(sm_t *sm)
{
    pthread_rwlock_rdlock(&sm->lock);
    size_t n = kv_store_count(sm->st.store);
    pthread_rwlock_unlock(&sm->lock);
    return n;
}

void sm_zone_list(sm_t *sm, void (*fn)(void *arg, const sm_zone_info_t *info), void *arg)
{
    pthread_rwlock_rdlock(&sm->lock);
    for (size_t i = 0; i < sm->st.nzones; i++) {
        sm_zone_info_t info;
        sm_zone_info(&sm->st.zones[i], &info);
        fn(arg, &info);
    }
    pthread_rwlock_unlock(&sm->lock);
}

size_t sm_zone_count(sm_t *sm)
{
    pthread_rwlock_rdlock(&sm->lock);
    size_t n = sm->st.nzones;
    pthread_rwlock_unlock(&sm->lock);
    return n;
}

bool sm_zone_with(sm_t *sm, const uint8_t *origin,
                  void (*fn)(void *arg, const zone_t *zone, const sm_zone_info_t *info),
                  void *arg)
{
    pthread_rwlock_rdlock(&sm->lock);
    bool found;
    size_t pos = sm_zones_find(&sm->st, origin, &found);
    if (found) {
        sm_zone_info_t info;
        sm_zone_info(&sm->st.zones[pos], &info);
        fn(arg, sm->st.zones[pos].zone, &info);
    }
    pthread_rwlock_unlock(&sm->lock);
    return found;
}

bool sm_zone_journal_with(sm_t *sm, const uint8_t *origin,
                          void (*fn)(void *arg, const struct zone_changeset *v, size_t n),
                          void *arg)
{
    pthread_rwlock_rdlock(&sm->lock);
    bool found;
    size_t pos = sm_zones_find(&sm->st, origin, &found);
    if (found)
        fn(arg, sm->st.zones[pos].journal.v, sm->st.zones[pos].journal.n);
    pthread_rwlock_unlock(&sm->lock);
    return found;
}

size_t sm_staged_count(sm_t *sm)
{
    return sm->st.nstaged; /* apply thread only: staging takes no lock */
}
