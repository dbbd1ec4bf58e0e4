/* raft/node_disk.c — recovery and persistence for a node (node_disk.h).
 *
 * Recovery order: hard state (term, vote, commit), then the newest
 * snapshot, then every log record after the snapshot. Anything that does
 * not fit together (a log that starts after the snapshot ends, a snapshot
 * the members cannot be read from) stops the node with a message: guessing
 * could drop committed entries. */
#include "raft/node_disk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/clock.h"
#include "common/log.h"
#include "raft/hardstate.h"
#include "raft/identity.h"
#include "raft/snapfile.h"

static int mkdir_parents(const char *dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(path, 0755) != 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* ---- members <-> snapshot config bytes --------------------------------------- */

static size_t members_encode(const raft_members_t *m, uint8_t *out)
{
    put_le32(out, m->n_voters);
    put_le32(out + 4, m->n_learners);
    size_t off = 8;
    for (uint32_t i = 0; i < m->n_voters; i++, off += 8)
        put_le64(out + off, m->voters[i]);
    for (uint32_t i = 0; i < m->n_learners; i++, off += 8)
        put_le64(out + off, m->learners[i]);
    return off;
}

static int members_decode(const uint8_t *in, size_t len, raft_members_t *m)
{
    memset(m, 0, sizeof *m);
    if (len < 8)
        return -1;
    uint32_t nv = get_le32(in), nl = get_le32(in + 4);
    if (nv > RAFT_MAX_MEMBERS || nl > RAFT_MAX_MEMBERS || len != 8 + 8 * ((size_t)nv + nl))
        return -1;
    m->n_voters = nv;
    m->n_learners = nl;
    for (uint32_t i = 0; i < nv; i++)
        m->voters[i] = get_le64(in + 8 + 8 * i);
    for (uint32_t i = 0; i < nl; i++)
        m->learners[i] = get_le64(in + 8 + 8 * ((size_t)nv + i));
    return 0;
}

int node_envelope_split_cluster(const uint8_t *data, size_t len, addrbook_t *book,
                                const uint8_t **fsm_data, size_t *fsm_len, bool *has_cluster,
                                uint8_t cluster[CLUSTER_ID_LEN])
{
    *has_cluster = false;
    if (len < 4)
        return -1;
    uint32_t blen = get_le32(data);
    if (blen > len - 4)
        return -1;
    long used = addrbook_decode(book, data + 4, blen);
    if (used < 0)
        return -1;
    /* What follows the book inside its length is the cluster trailer, or
     * nothing in an envelope from before cluster ids (identity.h). */
    int rc = cluster_trailer_decode(data + 4 + used, blen - (size_t)used, cluster);
    if (rc < 0)
        return -1;
    *has_cluster = rc == 1;
    *fsm_data = data + 4 + blen;
    *fsm_len = len - 4 - blen;
    return 0;
}

int node_envelope_split(const uint8_t *data, size_t len, addrbook_t *book,
                        const uint8_t **fsm_data, size_t *fsm_len)
{
    bool has;
    uint8_t cluster[CLUSTER_ID_LEN];
    return node_envelope_split_cluster(data, len, book, fsm_data, fsm_len, &has, cluster);
}

/* ---- recovery ------------------------------------------------------------------- */

/* The newest snapshot, or, when it fails its checks, the one before it
 * (load_entries then checks that the log covers the gap). */
static int open_snapshot(node_disk_t *d, struct snap_reader **sr, struct storage_error *se)
{
    int rc = snap_open_newest(d->dir, sr, se);
    if (rc != -EBADMSG)
        return rc;
    struct storage_error older = { 0 };
    if (snap_open_older(d->dir, sr, d->bad_snap, &older) != 0) {
        d->bad_snap[0] = '\0';
        return rc;
    }
    snprintf(d->bad_snap_msg, sizeof d->bad_snap_msg, "%s", se->msg);
    log_warn("raft", "%s/snap: the newest snapshot %s is corrupt (%s); trying the one before it, "
             "at index %llu, with the log after it", d->dir, d->bad_snap, d->bad_snap_msg,
             (unsigned long long)snap_reader_meta(*sr)->index);
    return 0;
}

static int load_snapshot(node_disk_t *d, char *err, size_t err_len)
{
    struct storage_error se = { 0 };
    struct snap_reader *sr = NULL;
    int rc = open_snapshot(d, &sr, &se);
    if (rc == -ENOENT)
        return 0;
    if (rc != 0) {
        snprintf(err, err_len, "%s%s", se.msg,
                 rc == -EBADMSG ? "; no usable older snapshot to fall back to; refusing to start" : "");
        return -1;
    }
    const struct snap_meta *meta = snap_reader_meta(sr);
    raft_snapshot_t *s = &d->rec.snapshot;
    if (members_decode(snap_reader_config(sr), meta->config_len, &s->members) != 0) {
        snprintf(err, err_len, "%s/snap: snapshot %llu has unreadable members", d->dir,
                 (unsigned long long)meta->index);
        snap_reader_close(sr);
        return -1;
    }
    d->rec_snapshot = malloc(meta->data_len ? meta->data_len : 1);
    size_t off = 0, got = 0;
    while (d->rec_snapshot && off < meta->data_len) {
        rc = snap_reader_read(sr, d->rec_snapshot + off, meta->data_len - off, &got, &se);
        if (rc != 0 || got == 0)
            break;
        off += got;
    }
    if (!d->rec_snapshot || rc != 0 || off != meta->data_len) {
        snprintf(err, err_len, "%s", d->rec_snapshot ? se.msg : "out of memory");
        snap_reader_close(sr);
        return -1;
    }
    s->index = meta->index;
    s->term = meta->term;
    s->data = d->rec_snapshot;
    s->len = meta->data_len;
    d->snap_index = meta->index;
    snap_reader_close(sr);
    log_info("raft", "recovered snapshot at index %llu term %llu (%zu bytes)",
             (unsigned long long)s->index, (unsigned long long)s->term, s->len);
    return 0;
}

static int load_entries(node_disk_t *d, char *err, size_t err_len)
{
    struct storage_error se = { 0 };
    raft_index_t snap = d->rec.snapshot.index;
    uint64_t first = wal_first_index(d->wal), last = wal_last_index(d->wal);
    if (last == 0 || last <= snap) {
        /* Empty, or wholly covered by the snapshot: start after it. */
        if (snap > 0 && wal_reset(d->wal, snap + 1, &se) != 0) {
            snprintf(err, err_len, "%s", se.msg);
            return -1;
        }
        return 0;
    }
    if (first > snap + 1 && d->bad_snap[0]) {
        snprintf(err, err_len,
                 "%s; the older snapshot at index %llu cannot replace it: the log starts at "
                 "index %llu (entries missing); refusing to start (docs/storage.md: replace "
                 "this node)",
                 d->bad_snap_msg, (unsigned long long)snap, (unsigned long long)first);
        return -1;
    }
    if (first > snap + 1) {
        snprintf(err, err_len,
                 "%s/wal: log starts at index %llu but the snapshot ends at %llu: entries "
                 "missing",
                 d->dir, (unsigned long long)first, (unsigned long long)snap);
        return -1;
    }
    size_t n = (size_t)(last - snap);
    d->rec_entries = calloc(n, sizeof *d->rec_entries);
    struct wal_iter *it = NULL;
    if (!d->rec_entries || wal_iter_open(d->wal, snap + 1, &it, &se) != 0) {
        snprintf(err, err_len, "%s", d->rec_entries ? se.msg : "out of memory");
        return -1;
    }
    size_t k = 0;
    struct wal_record rec;
    int rc;
    while (k < n && (rc = wal_iter_next(it, &rec, &se)) == 1) {
        raft_entry_t *e = &d->rec_entries[k];
        uint8_t *copy = malloc(rec.len ? rec.len : 1);
        if (!copy) {
            rc = -ENOMEM;
            break;
        }
        if (rec.len)
            memcpy(copy, rec.data, rec.len);
        *e = (raft_entry_t){ .term = rec.term, .index = rec.index,
                             .type = (raft_entry_type_t)rec.type,
                             .data = rec.len ? copy : NULL, .len = rec.len };
        if (!rec.len)
            free(copy);
        k++;
    }
    wal_iter_close(it);
    if (k != n) {
        snprintf(err, err_len, "%s", se.msg[0] ? se.msg : "log shorter than its index says");
        d->rec.n_entries = k;
        return -1;
    }
    d->rec.entries = d->rec_entries;
    d->rec.n_entries = n;
    return 0;
}

/* Tests only: DNSRAFT_TEST_WAL_SEGMENT_SIZE=BYTES makes segments roll (and
 * snapshots delete them) within a short test; NULL (the defaults) without it. */
static const struct wal_options *test_wal_options(void)
{
    static struct wal_options opts;
    const char *v = getenv("DNSRAFT_TEST_WAL_SEGMENT_SIZE");
    if (!v || !*v)
        return NULL;
    opts.segment_size = strtoull(v, NULL, 10);
    return &opts;
}

/* Recovered from the older snapshot and the log: the bad newest file is
 * renamed *.corrupt, so no later start, send or prune takes it for a
 * snapshot (kept for a person to look at). */
static int set_aside_bad_snapshot(node_disk_t *d, char *err, size_t err_len)
{
    if (!d->bad_snap[0])
        return 0;
    struct storage_error se = { 0 };
    if (snap_set_aside(d->dir, d->bad_snap, &se) != 0) {
        snprintf(err, err_len, "%s", se.msg);
        return -1;
    }
    log_warn("raft", "%s/snap: recovered from the snapshot at index %llu and the log after it; "
             "the corrupt %s is kept as %s.corrupt", d->dir,
             (unsigned long long)d->rec.snapshot.index, d->bad_snap, d->bad_snap);
    return 0;
}

int node_disk_open(node_disk_t *d, const char *dir, char *err, size_t err_len)
{
    memset(d, 0, sizeof *d);
    snprintf(d->dir, sizeof d->dir, "%s", dir);
    int rc = mkdir_parents(dir);
    if (rc != 0) {
        snprintf(err, err_len, "%s: cannot create data dir: %s", dir, strerror(-rc));
        return -1;
    }
    struct storage_error se = { 0 };
    struct hardstate hs;
    bool found = false;
    if (hardstate_load(dir, &hs, &found, &se) != 0 || snap_cleanup_temp(dir, &se) != 0) {
        snprintf(err, err_len, "%s", se.msg);
        return -1;
    }
    d->rec.hard_state = (raft_hard_state_t){ hs.term, hs.vote, hs.commit };
    d->saved = d->rec.hard_state;
    if (load_snapshot(d, err, err_len) != 0)
        return -1;
    if (wal_open(dir, test_wal_options(), &d->wal, &se) != 0) {
        snprintf(err, err_len, "%s", se.msg);
        return -1;
    }
    if (load_entries(d, err, err_len) != 0 || set_aside_bad_snapshot(d, err, err_len) != 0)
        return -1;
    d->fresh = !found && d->rec.snapshot.index == 0 && d->rec.n_entries == 0;
    if (!d->fresh)
        log_info("raft", "recovered term %llu, %zu log entries after the snapshot, commit %llu",
                 (unsigned long long)hs.term, d->rec.n_entries, (unsigned long long)hs.commit);
    return 0;
}

void node_disk_free_recovered(node_disk_t *d)
{
    for (size_t i = 0; i < d->rec.n_entries; i++)
        free((void *)d->rec_entries[i].data);
    free(d->rec_entries);
    free(d->rec_snapshot);
    d->rec_entries = NULL;
    d->rec_snapshot = NULL;
    memset(&d->rec, 0, sizeof d->rec);
}

void node_disk_close(node_disk_t *d)
{
    node_disk_free_recovered(d);
    wal_close(d->wal);
    d->wal = NULL;
}

/* ---- persistence ----------------------------------------------------------------- */

static int write_snapshot_file(node_disk_t *d, const raft_snapshot_t *s, struct storage_error *err)
{
    uint8_t config[8 + 16 * RAFT_MAX_MEMBERS];
    size_t clen = members_encode(&s->members, config);
    struct snap_writer *w = NULL;
    int rc = snap_writer_begin(d->dir, s->index, s->term, config, (uint32_t)clen, &w, err);
    if (rc != 0)
        return rc;
    rc = snap_writer_write(w, s->data, s->len, err);
    if (rc != 0) {
        snap_writer_abort(w);
        return rc;
    }
    return snap_writer_commit(w, NULL, err);
}

int node_disk_save_snapshot(node_disk_t *d, const raft_snapshot_t *s, struct storage_error *err)
{
    int rc = write_snapshot_file(d, s, err);
    if (rc != 0)
        return rc;
    uint64_t previous = d->snap_index;
    d->snap_index = s->index;
    return previous ? wal_drop_prefix(d->wal, previous, err) : 0;
}

static int append_entries(node_disk_t *d, const raft_entry_t *es, size_t n,
                          struct storage_error *err)
{
    enum { BATCH = 256 };
    struct wal_record recs[BATCH];
    for (size_t i = 0; i < n;) {
        size_t k = 0;
        for (; k < BATCH && i + k < n; k++) {
            const raft_entry_t *e = &es[i + k];
            recs[k] = (struct wal_record){ .index = e->index, .term = e->term,
                                           .type = (uint8_t)e->type, .len = (uint32_t)e->len,
                                           .data = e->data };
        }
        int rc = wal_append(d->wal, recs, k, err);
        if (rc != 0)
            return rc;
        i += k;
    }
    return 0;
}

int node_disk_save_commit_hint(node_disk_t *d, raft_index_t commit, struct storage_error *err)
{
    if (commit <= d->saved.commit)
        return 0;
    struct hardstate hs = { d->saved.term, d->saved.vote, commit };
    int rc = hardstate_save(d->dir, &hs, err);
    if (rc == 0)
        d->saved.commit = commit;
    return rc;
}

int node_disk_persist(node_disk_t *d, const raft_ready_t *rd, struct storage_error *err)
{
    int rc;
    if (rd->snapshot) {
        /* A leader's snapshot replaces our whole log (§7). */
        if ((rc = write_snapshot_file(d, rd->snapshot, err)) != 0 ||
            (rc = wal_reset(d->wal, rd->snapshot->index + 1, err)) != 0)
            return rc;
        d->snap_index = rd->snapshot->index;
    }
    if (rd->truncate_from && (rc = wal_truncate_suffix(d->wal, rd->truncate_from, err)) != 0)
        return rc;
    const raft_entry_t *es = rd->entries;
    size_t n = rd->n_entries;
    /* A retried batch: the records its failed attempt wrote stay in the log
     * (a failed write cuts back to the last whole record), unsynced. */
    while (d->retrying && n && es->index <= wal_last_index(d->wal)) {
        es++;
        n--;
    }
    if (rd->n_entries) {
        if (n && (rc = append_entries(d, es, n, err)) != 0)
            return rc;
        uint64_t t0 = clock_now_ns();
        if ((rc = wal_sync(d->wal, err)) != 0)
            return rc;
        prom_duration_observe(&d->fsync, clock_now_ns() - t0);
    }
    /* Term and vote must be durable before we answer (Figure 2); the commit
     * index is only a restart hint, so a change of commit alone is not worth
     * a file replacement and two fsyncs: it rides along with the next one. */
    if (rd->hard_state_changed && (rd->hard_state.term != d->saved.term ||
                                   rd->hard_state.vote != d->saved.vote)) {
        struct hardstate hs = { rd->hard_state.term, rd->hard_state.vote, rd->hard_state.commit };
        if ((rc = hardstate_save(d->dir, &hs, err)) != 0)
            return rc;
        d->saved = rd->hard_state;
    }
    return 0;
}
