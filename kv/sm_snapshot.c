/* kv/sm_snapshot.c — snapshot and restore of the replicated state machine
 * (format in kv/statemachine.h).
 *
 * Writing streams through a 64 KiB buffer, so a snapshot of a million-record
 * zone never exists whole in memory. Reading rebuilds a complete new state
 * aside — every length bounded, every name and record checked, every zone
 * rebuilt with zone_from_records — and swaps it in only after the trailer's
 * length and CRC match and the stream has ended: a corrupt or truncated
 * snapshot leaves the running state untouched. */
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "kv/command.h"
#include "common/crc32c.h"
#include "kv/sm_state.h"

static const uint8_t MAGIC[4] = { 'D', 'R', 'K', 'V' };
#define FLUSH_AT (64u * 1024u)
#define READ_PIECE (1024u * 1024u)
#define SESSIONS_MAX_BYTES (64u * 1024u * 1024u)

/* ---- writing ---- */

typedef struct sink {
    sm_write_fn write;
    void *arg;
    bytebuf_t buf;
    uint32_t crc;
    uint64_t total;
    bool failed;
} sink_t;

static void sink_flush(sink_t *k)
{
    if (k->buf.failed)
        k->failed = true;
    if (k->failed || k->buf.len == 0)
        return;
    if (k->write(k->arg, k->buf.data, k->buf.len) < 0)
        k->failed = true;
    k->crc = crc32c(k->crc, k->buf.data, k->buf.len);
    k->total += k->buf.len;
    k->buf.len = 0;
}

static void sink_maybe_flush(sink_t *k)
{
    if (k->buf.len >= FLUSH_AT)
        sink_flush(k);
}

static void put_node_id(bytebuf_t *b, const char *node_id)
{
    size_t n = strlen(node_id);
    bytebuf_put_u8(b, (uint8_t)n);
    bytebuf_put(b, node_id, n);
}

static void write_kv(sink_t *k, const kv_store_t *store)
{
    size_t n;
    kv_entry_t *e = kv_store_sorted(store, &n);
    if (!e && kv_store_count(store) > 0) {
        k->failed = true;
        return;
    }
    bytebuf_put_u64(&k->buf, n);
    for (size_t i = 0; i < n && !k->failed; i++) {
        bytebuf_put_u16(&k->buf, (uint16_t)e[i].key_len);
        bytebuf_put(&k->buf, e[i].key, e[i].key_len);
        bytebuf_put_u32(&k->buf, (uint32_t)e[i].value_len);
        bytebuf_put(&k->buf, e[i].value, e[i].value_len);
        sink_maybe_flush(k);
    }
    free(e);
}

static void write_rr_list(sink_t *k, const zone_rr_t *rrs, size_t n)
{
    for (size_t i = 0; i < n && !k->failed; i++) {
        kv_cmd_record_put(&k->buf, &rrs[i]);
        sink_maybe_flush(k);
    }
}

static uint64_t rr_list_bytes(const zone_rr_t *rrs, size_t n)
{
    uint64_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += kv_cmd_record_size(&rrs[i]);
    return bytes;
}

static void write_records(sink_t *k, const zone_t *zone)
{
    bytebuf_put_u64(&k->buf, zone->count);
    bytebuf_put_u64(&k->buf, rr_list_bytes(zone->rrs, zone->count));
    write_rr_list(k, zone->rrs, zone->count);
}

static void write_journal(sink_t *k, const sm_journal_t *j)
{
    bytebuf_put_u32(&k->buf, (uint32_t)j->n);
    for (size_t i = 0; i < j->n && !k->failed; i++) {
        const zone_changeset_t *cs = &j->v[i];
        bytebuf_put_u32(&k->buf, cs->serial_from);
        bytebuf_put_u32(&k->buf, cs->serial_to);
        bytebuf_put_u64(&k->buf, cs->nremoved);
        bytebuf_put_u64(&k->buf, cs->nadded);
        bytebuf_put_u64(&k->buf, rr_list_bytes(cs->removed, cs->nremoved) +
                                    rr_list_bytes(cs->added, cs->nadded));
        write_rr_list(k, cs->removed, cs->nremoved);
        write_rr_list(k, cs->added, cs->nadded);
    }
}

static void write_zone(sink_t *k, const sm_zone_t *z)
{
    const zone_t *zone = z->zone;
    bytebuf_put(&k->buf, zone->origin, name_wire_len(zone->origin));
    put_node_id(&k->buf, z->node_id);
    bytebuf_put_u64(&k->buf, z->load_id);
    bytebuf_put_u64(&k->buf, z->index);
    write_records(k, zone);
    bytebuf_put_u8(&k->buf, z->file == z->zone);
    if (z->file != z->zone)
        write_records(k, z->file);
    write_journal(k, &z->journal);
}

static void write_staged(sink_t *k, const sm_staging_t *s)
{
    bytebuf_put(&k->buf, s->origin, name_wire_len(s->origin));
    put_node_id(&k->buf, s->node_id);
    bytebuf_put_u64(&k->buf, s->load_id);
    bytebuf_put_u32(&k->buf, s->total);
    bytebuf_put_u32(&k->buf, s->next);
    bytebuf_put_u64(&k->buf, s->last_index);
    bytebuf_put_u64(&k->buf, s->rr_count);
    bytebuf_put_u64(&k->buf, s->records.len);
    sink_flush(k);
    /* The staged records are already one contiguous encoded blob. */
    if (!k->failed && s->records.len) {
        if (k->write(k->arg, s->records.data, s->records.len) < 0)
            k->failed = true;
        k->crc = crc32c(k->crc, s->records.data, s->records.len);
        k->total += s->records.len;
    }
}

static void write_sessions(sink_t *k, const kv_sessions_t *sessions)
{
    bytebuf_t sec;
    bytebuf_init(&sec);
    kv_sessions_save(sessions, &sec);
    if (sec.failed)
        k->failed = true;
    bytebuf_put_u64(&k->buf, sec.len);
    bytebuf_put(&k->buf, sec.data, sec.len);
    bytebuf_free(&sec);
}

int sm_snapshot(sm_t *sm, sm_write_fn write, void *arg)
{
    sm_flush_batches(sm); /* the zones as the log says, not a batch behind */
    const sm_state_t *st = &sm->st; /* apply thread: nobody else changes it */
    sink_t k = { .write = write, .arg = arg };
    bytebuf_init(&k.buf);
    bytebuf_put(&k.buf, MAGIC, sizeof MAGIC);
    bytebuf_put_u8(&k.buf, SM_SNAPSHOT_VERSION);
    bytebuf_put_u64(&k.buf, st->applied);
    write_kv(&k, st->store);
    bytebuf_put_u32(&k.buf, (uint32_t)st->nzones);
    for (size_t i = 0; i < st->nzones && !k.failed; i++)
        write_zone(&k, &st->zones[i]);
    bytebuf_put_u32(&k.buf, (uint32_t)st->nstaged);
    for (size_t i = 0; i < st->nstaged && !k.failed; i++)
        write_staged(&k, &st->staged[i]);
    write_sessions(&k, st->sessions);
    sink_flush(&k);
    if (!k.failed) { /* the trailer is outside the CRC it carries */
        bytebuf_put_u64(&k.buf, k.total);
        bytebuf_put_u32(&k.buf, k.crc);
        if (k.buf.failed || write(arg, k.buf.data, k.buf.len) < 0)
            k.failed = true;
    }
    bytebuf_free(&k.buf);
    if (k.failed)
        log_error("kv", "snapshot at index %llu failed", (unsigned long long)st->applied);
    return k.failed ? -1 : 0;
}

/* ---- reading ---- */

typedef struct source {
    sm_read_fn read;
    void *arg;
    uint32_t crc;
    uint64_t total;
    const char *err; /* first error; later reads fail at once */
    uint8_t version; /* of the snapshot being read */
} source_t;

static bool src_fail(source_t *s, const char *why)
{
    if (!s->err)
        s->err = why;
    return false;
}

/* Reads exactly n bytes without touching the CRC. */
static bool src_read_raw(source_t *s, void *dst, size_t n)
{
    uint8_t *p = dst;
    while (n > 0 && !s->err) {
        ssize_t got = s->read(s->arg, p, n);
        if (got < 0)
            return src_fail(s, "read error");
        if (got == 0)
            return src_fail(s, "snapshot truncated");
        p += got;
        n -= (size_t)got;
    }
    return !s->err;
}

static bool src_read(source_t *s, void *dst, size_t n)
{
    if (!src_read_raw(s, dst, n))
        return false;
    s->crc = crc32c(s->crc, dst, n);
    s->total += n;
    return true;
}

static bool src_u8(source_t *s, uint8_t *v)
{
    return src_read(s, v, 1);
}

static bool src_u16(source_t *s, uint16_t *v)
{
    uint8_t t[2];
    if (!src_read(s, t, 2))
        return false;
    *v = get_le16(t);
    return true;
}

static bool src_u32(source_t *s, uint32_t *v)
{
    uint8_t t[4];
    if (!src_read(s, t, 4))
        return false;
    *v = get_le32(t);
    return true;
}

static bool src_u64(source_t *s, uint64_t *v)
{
    uint8_t t[8];
    if (!src_read(s, t, 8))
        return false;
    *v = get_le64(t);
    return true;
}

/* Reads a wire name label by label, enforcing the limits as it goes. */
static bool src_name(source_t *s, uint8_t out[NAME_MAX_WIRE])
{
    size_t pos = 0;
    for (;;) {
        uint8_t label;
        if (!src_u8(s, &label))
            return false;
        if (label > LABEL_MAX || pos + 1u + label > NAME_MAX_WIRE)
            return src_fail(s, "bad name");
        out[pos++] = label;
        if (label == 0)
            return true;
        if (!src_read(s, out + pos, label))
            return false;
        pos += label;
    }
}

static bool src_node_id(source_t *s, char out[KV_NODE_ID_MAX + 1])
{
    uint8_t n;
    if (!src_u8(s, &n))
        return false;
    if (n > KV_NODE_ID_MAX)
        return src_fail(s, "bad node id");
    if (!src_read(s, out, n))
        return false;
    out[n] = 0;
    if (kv_text_check_node_id((const uint8_t *)out, n))
        return src_fail(s, "bad node id");
    return true;
}

/* Reads a blob of `len` bytes, growing the buffer as data actually arrives
 * so a corrupt length fails at the end of the stream, not in malloc. */
static bool src_blob(source_t *s, uint64_t len, bytebuf_t *out)
{
    while (len > 0) {
        size_t piece = len < READ_PIECE ? (size_t)len : READ_PIECE;
        if (!bytebuf_reserve(out, piece))
            return src_fail(s, "out of memory");
        if (!src_read(s, out->data + out->len, piece))
            return false;
        out->len += piece;
        len -= piece;
    }
    return true;
}

static bool read_kv(source_t *s, sm_state_t *st)
{
    uint64_t count;
    if (!src_u64(s, &count))
        return false;
    uint8_t *value = malloc(KV_VALUE_MAX);
    if (!value)
        return src_fail(s, "out of memory");
    uint8_t key[KV_KEY_MAX];
    for (uint64_t i = 0; i < count && !s->err; i++) {
        uint16_t klen;
        uint32_t vlen;
        if (!src_u16(s, &klen) || klen > KV_KEY_MAX || !src_read(s, key, klen) ||
            kv_text_check_key(key, klen) || !src_u32(s, &vlen) || vlen > KV_VALUE_MAX ||
            !src_read(s, value, vlen) || kv_text_check_value(value, vlen)) {
            src_fail(s, "bad key or value");
            break;
        }
        if (kv_store_set(st->store, key, klen, value, vlen) < 0)
            src_fail(s, "out of memory");
    }
    free(value);
    if (!s->err && kv_store_count(st->store) != count)
        return src_fail(s, "duplicate key");
    return !s->err;
}

/* Reads rr_count (when with_count) and a records blob and checks the
 * records (only when with_count; a journal entry checks its own). */
static bool read_records(source_t *s, uint64_t *rr_count, bytebuf_t *blob, bool with_count)
{
    uint64_t len;
    if ((with_count && !src_u64(s, rr_count)) || !src_u64(s, &len) || !src_blob(s, len, blob))
        return false;
    if (with_count && !kv_cmd_records_valid(blob->data, blob->len, *rr_count))
        return src_fail(s, "bad records");
    return true;
}

/* Journal bounds a snapshot may carry (far above the defaults). */
#define JOURNAL_MAX_READ 1000000u

static bool read_changeset(source_t *s, zone_changeset_t *cs)
{
    uint32_t from, to;
    uint64_t nrem, nadd, count;
    bytebuf_t blob;
    bytebuf_init(&blob);
    if (!src_u32(s, &from) || !src_u32(s, &to) || !src_u64(s, &nrem) || !src_u64(s, &nadd) ||
        !read_records(s, &count, &blob, false)) {
        bytebuf_free(&blob);
        return false;
    }
    (void)count;
    if (nrem > blob.len || nadd > blob.len || !kv_cmd_records_valid(blob.data, blob.len, nrem + nadd)) {
        bytebuf_free(&blob);
        return src_fail(s, "bad journal");
    }
    zone_rr_t *rrs = malloc((nrem + nadd + 1) * sizeof *rrs);
    bool ok = rrs != NULL;
    size_t pos = 0;
    for (uint64_t i = 0; ok && i < nrem + nadd; i++)
        kv_cmd_records_next(blob.data, blob.len, &pos, &rrs[i]);
    if (ok && zone_changeset_make(cs, from, to, rrs, nrem, rrs + nrem, nadd) < 0)
        ok = false;
    free(rrs);
    bytebuf_free(&blob);
    return ok ? true : src_fail(s, "out of memory");
}

static bool read_journal(source_t *s, sm_journal_t *j)
{
    uint32_t n;
    if (!src_u32(s, &n))
        return false;
    if (n > JOURNAL_MAX_READ)
        return src_fail(s, "bad journal");
    for (uint32_t i = 0; i < n; i++) {
        zone_changeset_t cs;
        if (!read_changeset(s, &cs))
            return false;
        if (sm_journal_push(j, &cs, SIZE_MAX, SIZE_MAX) < 0)
            return src_fail(s, "out of memory");
    }
    return true;
}

static zone_t *read_zone_records(source_t *s, const uint8_t *origin)
{
    uint64_t rr_count;
    bytebuf_t blob;
    bytebuf_init(&blob);
    if (!read_records(s, &rr_count, &blob, true)) {
        bytebuf_free(&blob);
        return NULL;
    }
    char err[ZONE_ERR_MAX] = "";
    zone_t *z = sm_zone_build(origin, blob.data, blob.len, rr_count, err);
    bytebuf_free(&blob);
    if (!z) {
        char text[NAME_MAX_TEXT];
        name_to_text(origin, text, sizeof text);
        log_warn("kv", "snapshot zone %s refused: %s", text, err);
        src_fail(s, "bad zone");
    }
    return z;
}

/* Version 2's file version and journal of a zone. */
static bool read_zone_extras(source_t *s, sm_zone_t *z, const uint8_t *origin)
{
    z->file = z->zone;
    if (s->version < 2)
        return true;
    uint8_t same;
    if (!src_u8(s, &same))
        return false;
    if (same > 1)
        return src_fail(s, "bad zone file flag");
    if (!same && !(z->file = read_zone_records(s, origin))) {
        z->file = z->zone;
        return false;
    }
    return read_journal(s, &z->journal);
}

static bool read_zone(source_t *s, sm_state_t *st)
{
    uint8_t origin[NAME_MAX_WIRE];
    sm_zone_t z;
    memset(&z, 0, sizeof z);
    if (!src_name(s, origin) || !src_node_id(s, z.node_id) || !src_u64(s, &z.load_id) ||
        !src_u64(s, &z.index) || !(z.zone = read_zone_records(s, origin)))
        return false;
    if (!read_zone_extras(s, &z, origin)) {
        sm_zone_entry_free(&z);
        return false;
    }
    bool found;
    size_t pos = sm_zones_find(st, z.zone->origin, &found);
    if (found || sm_zones_insert(st, pos, &z) < 0) {
        sm_zone_entry_free(&z);
        return src_fail(s, found ? "duplicate zone" : "out of memory");
    }
    return true;
}

static bool staged_exists(const sm_state_t *st, const uint8_t *origin)
{
    for (size_t i = 0; i < st->nstaged; i++)
        if (name_equal(st->staged[i].origin, origin))
            return true;
    return false;
}

static bool read_staged(source_t *s, sm_state_t *st)
{
    sm_staging_t g;
    memset(&g, 0, sizeof g);
    bytebuf_init(&g.records);
    if (!src_name(s, g.origin) || !src_node_id(s, g.node_id) || !src_u64(s, &g.load_id) ||
        !src_u32(s, &g.total) || !src_u32(s, &g.next) || !src_u64(s, &g.last_index) ||
        !read_records(s, &g.rr_count, &g.records, true)) {
        bytebuf_free(&g.records);
        return false;
    }
    if (g.total > KV_ZONE_MAX_CHUNKS || g.next == 0 || g.next >= g.total ||
        g.last_index > st->applied || staged_exists(st, g.origin)) {
        bytebuf_free(&g.records);
        return src_fail(s, "bad staged load");
    }
    if (sm_staged_append(st, &g) < 0) {
        bytebuf_free(&g.records);
        return src_fail(s, "out of memory");
    }
    return true;
}

static bool read_sessions(source_t *s, sm_state_t *st)
{
    uint64_t len;
    if (!src_u64(s, &len))
        return false;
    if (len > SESSIONS_MAX_BYTES)
        return src_fail(s, "bad sessions");
    bytebuf_t sec;
    bytebuf_init(&sec);
    bool ok = src_blob(s, len, &sec);
    if (ok) {
        kv_cursor_t c = { sec.data, sec.len };
        if (kv_sessions_load(st->sessions, &c) < 0 || c.left != 0)
            ok = src_fail(s, "bad sessions");
    }
    bytebuf_free(&sec);
    return ok;
}

static bool read_header(source_t *s, sm_state_t *st)
{
    uint8_t magic[4], version;
    if (!src_read(s, magic, 4) || !src_u8(s, &version))
        return false;
    if (memcmp(magic, MAGIC, 4) != 0)
        return src_fail(s, "not a state-machine snapshot");
    if (version != 1 && version != SM_SNAPSHOT_VERSION)
        return src_fail(s, "unsupported snapshot version");
    s->version = version;
    return src_u64(s, &st->applied);
}

static bool read_trailer(source_t *s)
{
    uint8_t t[12], extra;
    uint64_t total = s->total;
    uint32_t crc = s->crc;
    if (!src_read_raw(s, t, sizeof t))
        return false;
    if (get_le64(t) != total)
        return src_fail(s, "snapshot length mismatch");
    if (get_le32(t + 8) != crc)
        return src_fail(s, "snapshot checksum mismatch");
    ssize_t got = s->read(s->arg, &extra, 1);
    if (got != 0)
        return src_fail(s, got < 0 ? "read error" : "trailing bytes after snapshot");
    return true;
}

static bool read_state(source_t *s, sm_state_t *st)
{
    uint32_t n;
    if (!read_header(s, st) || !read_kv(s, st) || !src_u32(s, &n))
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (!read_zone(s, st))
            return false;
    if (!src_u32(s, &n))
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (!read_staged(s, st))
            return false;
    return read_sessions(s, st) && read_trailer(s);
}

/* Tells the zone callback about every zone the restore removed or set. */
static void notify_restore(sm_t *sm, const sm_state_t *old)
{
    if (!sm->on_zone)
        return;
    for (size_t i = 0; i < old->nzones; i++) {
        bool found;
        sm_zones_find(&sm->st, old->zones[i].zone->origin, &found);
        if (!found)
            sm->on_zone(sm->on_zone_arg, old->zones[i].zone->origin, NULL);
    }
    for (size_t i = 0; i < sm->st.nzones; i++)
        sm->on_zone(sm->on_zone_arg, sm->st.zones[i].zone->origin, sm->st.zones[i].zone);
}

int sm_check_snapshot(sm_t *sm, uint64_t index, sm_read_fn read, void *arg, const char **err)
{
    (void)sm;
    sm_state_t fresh;
    if (sm_state_init(&fresh) < 0) {
        *err = "out of memory";
        return -1;
    }
    source_t s = { .read = read, .arg = arg };
    bool ok = read_state(&s, &fresh);
    if (!ok)
        *err = s.err;
    else if (fresh.applied > index) {
        *err = "state applied past the snapshot's index";
        ok = false;
    }
    sm_state_free(&fresh);
    return ok ? 0 : -1;
}

int sm_restore(sm_t *sm, sm_read_fn read, void *arg, const char **err)
{
    sm_state_t fresh;
    if (sm_state_init(&fresh) < 0) {
        *err = "out of memory";
        return -1;
    }
    source_t s = { .read = read, .arg = arg };
    if (!read_state(&s, &fresh)) {
        *err = s.err;
        sm_state_free(&fresh);
        log_error("kv", "snapshot refused: %s", *err);
        return -1;
    }
    sm_state_t old;
    pthread_rwlock_wrlock(&sm->lock);
    old = sm->st;
    sm->st = fresh;
    pthread_rwlock_unlock(&sm->lock);
    notify_restore(sm, &old);
    sm->nunpublished = 0; /* every zone was just published */
    log_info("kv", "restored snapshot at index %llu: %zu keys, %zu zones, %zu staged loads",
             (unsigned long long)sm->st.applied, kv_store_count(sm->st.store), sm->st.nzones,
             sm->st.nstaged);
    sm_state_free(&old);
    return 0;
}
