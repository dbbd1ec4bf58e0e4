/* raft/node_ready.c — the Ready batch (raft.h contract): persist the hard
 * state and entries (node_disk.c), send messages, apply committed entries
 * to the state machine, serve reads, learn configurations and addresses,
 * and take or restore snapshots.
 */
#include "raft/node_int.h"

#include "common/bytebuf.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/crc32c.h"
#include "common/storage_io.h"

/* ---- applying --------------------------------------------------------------------- */


static bool sweep_committed_entry(node_t *n, request_t *q, node_status_t *st)
{
    if (q->wait != WAIT_COMMIT || q->index != n->sweep_entry->index)
        return false;
    if (q->term != n->sweep_entry->term) {
        *st = NODE_ELOST; /* another leader's entry took that index (§5.3) */
        return true;
    }
    if (n->sweep_result) {
        q->result = n->sweep_result;
        q->result_len = n->sweep_result_len;
        n->sweep_result = NULL;
    }
    *st = NODE_OK;
    return true;
}

static bool sweep_applied(node_t *n, request_t *q, node_status_t *st)
{
    if (q->wait == WAIT_APPLIED && q->index <= n->sweep_applied) {
        *st = NODE_OK;
        return true;
    }
    /* An entry we waited for was replaced by an installed snapshot: it may
     * or may not be in it. */
    if (q->wait == WAIT_COMMIT && q->index <= n->sweep_applied) {
        *st = NODE_ETIMEOUT;
        return true;
    }
    return false;
}

static void apply_entry(node_t *n, const raft_entry_t *e)
{
    /* A batch retried after a full disk hands out again the entries it
     * applied before its fsync (committed_before_batch): once only. */
    if (e->index <= n->applied_entry)
        return;
    n->applied_entry = e->index;
    n->bytes_since_snapshot += e->len;
    n->sweep_result = NULL;
    n->sweep_result_len = 0;
    bool conflict = false;
    bool cluster_entry = node_identity_apply(&n->ident, e, &conflict);
    if (conflict)
        log_error("raft", "entry %llu names another cluster than data dir %s's; not applied",
                  (unsigned long long)e->index, n->data_dir);
    if (e->type == RAFT_ENTRY_NORMAL && n->o.fsm.apply && !cluster_entry)
        n->o.fsm.apply(n->o.fsm.ctx, e->index, e->data, e->len, &n->sweep_result, &n->sweep_result_len);
    n->sweep_entry = e;
    node_pending_sweep(n, sweep_committed_entry);
    free(n->sweep_result);
    n->sweep_result = NULL;
}

/* Records where a member is; true if that changed what we knew. */
bool node_learn_address(node_t *n, raft_id_t id, const char *name, const char *addr)
{
    if (addrbook_set(&n->book, id, name, addr) <= 0)
        return false;
    n->book_dirty = true;
    return true;
}

/* The address book is also kept in DIR/peers (CRC32C | encoding), because
 * some addresses are learnt only from hellos: the founding node's, which no
 * configuration entry names. A restarted node then knows whom to call even
 * before anyone calls it. It is a cache: a damaged file is ignored. */
static void save_address_book(node_t *n)
{
    uint8_t *buf = malloc(4 + addrbook_encoded_max());
    if (!buf)
        return;
    size_t len = addrbook_encode(&n->book, buf + 4);
    put_le32(buf, crc32c(0, buf + 4, len));
    struct storage_error se = { 0 };
    if (storage_write_file_atomic(n->data_dir, "peers", buf, 4 + len, &se) == 0)
        n->book_dirty = false;
    else
        log_warn("raft", "cannot save the peer addresses in %s: %s", n->data_dir, se.msg);
    free(buf);
}

void node_load_address_book(node_t *n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/peers", n->data_dir);
    uint8_t *buf = NULL;
    size_t len = 0;
    struct storage_error se = { 0 };
    if (storage_read_file(path, 4 + addrbook_encoded_max(), &buf, &len, &se) != 0)
        return;
    addrbook_t book;
    if (len < 4 || get_le32(buf) != crc32c(0, buf + 4, len - 4) ||
        addrbook_decode(&book, buf + 4, len - 4) != (long)(len - 4)) {
        log_warn("raft", "%s is damaged; ignoring it (addresses are learnt again)", path);
    } else {
        for (size_t i = 0; i < book.n; i++)
            if (book.e[i].id != n->id)
                node_learn_address(n, book.e[i].id, book.e[i].name, book.e[i].addr);
    }
    free(buf);
}

void node_learn_config(node_t *n, const raft_entry_t *e)
{
    raft_members_t m;
    const uint8_t *ctx;
    size_t ctx_len;
    char name[ADDRBOOK_NAME_MAX], addr[ADDRBOOK_ADDR_MAX];
    if (raft_config_decode(e->data, e->len, &m, &ctx, &ctx_len) != 0)
        return;
    if (ctx_len && addrbook_parse_ctx(ctx, ctx_len, name, addr) == 0) {
        raft_id_t id = addrbook_id_of(name);
        node_learn_address(n, id, name, addr);
        transport_set_peer(n->tr, id, addr);
    }
}

bool node_members_has(const raft_members_t *m, raft_id_t id)
{
    return raft_members_is_voter(m, id) || raft_members_is_learner(m, id);
}

/* Whom this node talks to: the members of its latest configuration, and
 * the leader it follows even once that leader is out of it (thesis §4.2.2:
 * a leader that removes itself manages the cluster until the change
 * commits, so its followers must still answer it). */
raft_members_t node_peers_to_keep(const node_t *n)
{
    raft_members_t keep = *raft_members(n->r);
    raft_id_t leader = raft_leader(n->r);
    if (leader && !node_members_has(&keep, leader) && keep.n_learners < RAFT_MAX_MEMBERS)
        keep.learners[keep.n_learners++] = leader;
    return keep;
}

/* The peer table is sized by the configuration (thesis §4.1: a server uses
 * the latest configuration in its log): once this node knows one, whoever
 * left it is no longer called nor remembered. A node that knows none yet (a
 * joiner waiting for its first entries) keeps what hellos told it. */
static void forget_non_members(node_t *n)
{
    raft_members_t keep = node_peers_to_keep(n);
    if (keep.n_voters == 0)
        return;
    size_t before = n->book.n;
    addrbook_retain(&n->book, &keep, n->id);
    if (n->book.n != before)
        n->book_dirty = true;
    transport_retain_peers(n->tr, &keep);
}

static void connect_members(node_t *n)
{
    const raft_members_t *m = raft_members(n->r);
    forget_non_members(n);
    for (int pass = 0; pass < 2; pass++) {
        uint32_t cnt = pass ? m->n_learners : m->n_voters;
        const raft_id_t *ids = pass ? m->learners : m->voters;
        for (uint32_t i = 0; i < cnt; i++) {
            const addrbook_entry_t *e = addrbook_get(&n->book, ids[i]);
            if (e && ids[i] != n->id)
                transport_set_peer(n->tr, ids[i], e->addr);
        }
    }
}

/* ---- the Ready batch (raft.h contract) ----------------------------------------------- */

static void fail_node(node_t *n, const char *what)
{
    log_error("raft", "%s: this node stops taking part in Raft (DNS keeps serving the last "
              "applied state); fix the disk and restart it", what);
    n->failed = true;
    n->storage_full = false; /* for good: no more retries (node_retry_full_storage) */
    request_t *q;
    while ((q = n->pending)) {
        n->pending = q->next;
        node_req_finish(n, q, NODE_EIO);
    }
}

node_status_t node_failed_status(const node_t *n)
{
    return n->storage_full ? NODE_ENOSPC : NODE_EIO;
}

/* ENOSPC: unlike any other storage error, the storage layer leaves the log
 * usable (docs/storage.md, I/O errors), so the batch is kept unadvanced
 * (raft.h: raft_ready returns it again) and retried once space returns. */
static void storage_full(node_t *n, const char *what)
{
    if (!n->storage_full)
        log_error("raft", "%s: storage full: this node stops taking part in Raft and refuses "
                  "writes until space returns (retried every second; DNS keeps serving)", what);
    n->storage_full = true;
    n->failed = true;
    n->full_retry_ms = loop_now_ms() + 1000;
    request_t *q;
    while ((q = n->pending)) {
        n->pending = q->next;
        node_req_finish(n, q, NODE_ENOSPC);
    }
}

void node_retry_full_storage(node_t *n)
{
    if (!n->storage_full || loop_now_ms() < n->full_retry_ms)
        return;
    n->failed = false;
    n->disk.retrying = true;
    node_process_one_ready(n);
    n->disk.retrying = false;
    if (n->failed)
        return;
    n->storage_full = false;
    log_info("raft", "storage space is back: this node takes part in Raft again");
    node_after_batch(n);
}

static void serve_reads(node_t *n, const raft_ready_t *rd)
{
    for (size_t i = 0; i < rd->n_reads; i++)
        for (request_t *q = n->pending; q; q = q->next)
            if (q->wait == WAIT_READ && q->ctx == rd->reads[i].ctx) {
                q->wait = WAIT_APPLIED; /* thesis §6.4 step 4: wait to apply readIndex */
                q->index = rd->reads[i].index;
            }
}

static bool is_replication(const raft_msg_t *m)
{
    return m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT;
}

/* Sends the batch's replication messages (replication = true) or all the
 * others. */
static void send_messages(node_t *n, const raft_ready_t *rd, bool replication)
{
    for (size_t i = 0; i < rd->n_msgs; i++)
        if (is_replication(&rd->msgs[i]) == replication)
            transport_send(n->tr, &rd->msgs[i]);
}

const char *node_name_of(const node_t *n, raft_id_t id)
{
    const addrbook_entry_t *e = addrbook_get(&n->book, id);
    return e && e->name[0] ? e->name : "?";
}

/* One line whenever this node's view of the leadership changes. */
static void log_role_change(node_t *n, const raft_ready_t *rd)
{
    raft_term_t term = raft_term(n->r);
    atomic_store(&n->leader_term, rd->role == RAFT_LEADER ? (uint64_t)term : 0);
    if (rd->role == n->logged_role && rd->leader == n->logged_leader)
        return;
    if (rd->leader && rd->leader != n->logged_leader)
        prom_add(&n->metrics.leader_changes, 1); /* etcd's leader_changes_seen */
    if (rd->role == RAFT_LEADER)
        log_info("raft", "%s is the leader of term %llu", n->name, (unsigned long long)term);
    else if (rd->leader && rd->leader != n->logged_leader)
        log_info("raft", "following %s in term %llu", node_name_of(n, rd->leader),
                 (unsigned long long)term);
    else if (rd->role == RAFT_CANDIDATE && n->logged_role != RAFT_CANDIDATE)
        log_info("raft", "no leader heard: campaigning in term %llu", (unsigned long long)term);
    n->logged_role = rd->role;
    n->logged_leader = rd->leader;
    n->logged_term = term;
}

/* A request forwarded to a leader that is no longer the leader (it died or
 * was deposed) would otherwise wait for a FWD_RESP that never comes, until
 * its deadline (seconds). Hand it back at once as "no leader": the entry may
 * or may not have been appended there, and the caller retries the same
 * bytes, which its session dedup applies at most once (kv/cluster.c). */
static bool sweep_lost_forward(node_t *n, request_t *q, node_status_t *st)
{
    raft_id_t leader = raft_leader(n->r);
    if (q->wait != WAIT_FORWARD || q->fwd_to == leader)
        return false;
    /* A forwarded transfer moves the leadership on purpose: while the
     * target campaigns (no leader known) keep waiting; once it leads, the
     * transfer is done even if the old leader's answer never arrives. */
    if (q->kind == REQ_TRANSFER) {
        if (!leader)
            return false;
        if (!q->name[0] || leader == addrbook_id_of(q->name)) {
            *st = NODE_OK;
            return true;
        }
    }
    *st = NODE_EMAYBE;
    return true;
}

/* How many of rd's committed entries precede everything this batch writes
 * (new entries, a truncation, a snapshot): those are durable here already,
 * from batches persisted before, and committed, so applying them does not
 * have to wait for this batch's fsync. A follower may learn a commit index
 * that covers entries of this very batch; those wait. */
static size_t committed_before_batch(const raft_ready_t *rd)
{
    if (rd->snapshot)
        return 0;
    raft_index_t first_written = 0;
    if (rd->n_entries)
        first_written = rd->entries[0].index;
    if (rd->truncate_from && (!first_written || rd->truncate_from < first_written))
        first_written = rd->truncate_from;
    size_t k = 0;
    while (k < rd->n_committed && (!first_written || rd->committed[k].index < first_written))
        k++;
    return k;
}

void node_process_one_ready(node_t *n)
{
    raft_ready_t rd;
    raft_ready(n->r, &rd);
    if (rd.leader != n->logged_leader)
        node_pending_sweep(n, sweep_lost_forward);
    log_role_change(n, &rd);
    /* Thesis §10.2.1: a leader may send AppendEntries before its own disk
     * write finishes, because it counts itself towards a commit only once
     * its entries are durable (raft_advance). The term and vote they carry
     * must be durable already, so this holds only when neither changed. */
    bool early = rd.role == RAFT_LEADER && (!rd.hard_state_changed ||
                 (rd.hard_state.term == n->disk.saved.term &&
                  rd.hard_state.vote == n->disk.saved.vote));
    if (early) {
        send_messages(n, &rd, true);
        transport_flush(n->tr); /* on their way while we sync */
    }
    /* Committed entries already in the durable log are applied (and their
     * clients answered) before this batch's fsync, not after it: otherwise
     * every commit waits for one more disk sync, the one for entries that
     * arrived meanwhile, and commit latency doubles under load. */
    size_t applied_early = committed_before_batch(&rd);
    for (size_t i = 0; i < applied_early; i++)
        apply_entry(n, &rd.committed[i]);
    if (applied_early) {
        n->sweep_applied = rd.committed[applied_early - 1].index;
        node_pending_sweep(n, sweep_applied);
    }
    node_deliver_finished(n); /* answer them before the fsync below blocks us */
    char why[STORAGE_ERROR_MAX];
    if (node_identity_check(&n->ident, &rd, why, sizeof why) != 0) {
        fail_node(n, why); /* nothing of it written */
        return;
    }
    struct storage_error se = { 0 };
    if (node_disk_persist(&n->disk, &rd, &se) != 0) {
        if (se.code == -ENOSPC)
            storage_full(n, se.msg);
        else
            fail_node(n, se.msg);
        return;
    }
    if (rd.snapshot && node_restore_fsm(n, rd.snapshot->data, rd.snapshot->len) != 0) {
        fail_node(n, "cannot restore the state machine from the leader's snapshot");
        return;
    }
    if (rd.snapshot) /* the state machine is now the snapshot's: apply_entry counts from it */
        n->applied_entry = rd.snapshot->index;
    if (rd.snapshot)
        prom_add(&n->metrics.snapshots_installed, 1);
    if (rd.snapshot)
        log_info("raft", "installed the leader's snapshot at index %llu term %llu (%zu bytes)",
                 (unsigned long long)rd.snapshot->index, (unsigned long long)rd.snapshot->term,
                 rd.snapshot->len);
    for (size_t i = 0; i < rd.n_entries; i++)
        if (rd.entries[i].type == RAFT_ENTRY_CONFIG)
            node_learn_config(n, &rd.entries[i]);
    /* Only now that everything above is durable may the other messages
     * leave (Figure 2: respond after updating stable storage). */
    send_messages(n, &rd, early ? false : true);
    if (!early)
        send_messages(n, &rd, false);
    transport_flush(n->tr);
    for (size_t i = applied_early; i < rd.n_committed; i++)
        apply_entry(n, &rd.committed[i]);
    serve_reads(n, &rd);
    raft_advance(n->r, &rd);
    n->sweep_applied = raft_applied(n->r);
    node_pending_sweep(n, sweep_applied);
}

/* The snapshot writer appends to a byte buffer (common/bytebuf.h). */
typedef struct membuf_writer {
    raft_snap_writer_t w;
    bytebuf_t buf;
} membuf_writer_t;

static int membuf_write(raft_snap_writer_t *w, const void *data, size_t len)
{
    membuf_writer_t *m = (membuf_writer_t *)w;
    bytebuf_put(&m->buf, data, len);
    return m->buf.failed ? -1 : 0;
}

typedef struct membuf_reader {
    raft_snap_reader_t r;
    const uint8_t *data;
    size_t len, off;
} membuf_reader_t;

static long membuf_read(raft_snap_reader_t *r, void *buf, size_t cap)
{
    membuf_reader_t *m = (membuf_reader_t *)r;
    size_t n = m->len - m->off < cap ? m->len - m->off : cap;
    memcpy(buf, m->data + m->off, n);
    m->off += n;
    return (long)n;
}

int node_restore_fsm(node_t *n, const uint8_t *data, size_t len)
{
    addrbook_t book;
    const uint8_t *fsm;
    size_t fsm_len;
    bool has_cluster = false;
    uint8_t cluster[CLUSTER_ID_LEN];
    if (node_envelope_split_cluster(data, len, &book, &fsm, &fsm_len, &has_cluster, cluster) != 0)
        return -1;
    if (node_identity_restore(&n->ident, has_cluster, cluster) != 0) {
        log_error("raft", "the snapshot belongs to another cluster than data dir %s's",
                  n->data_dir);
        return -1;
    }
    for (size_t i = 0; i < book.n; i++) {
        node_learn_address(n, book.e[i].id, book.e[i].name, book.e[i].addr);
        transport_set_peer(n->tr, book.e[i].id, book.e[i].addr);
    }
    if (!n->o.fsm.restore)
        return 0;
    membuf_reader_t r = { { membuf_read }, fsm, fsm_len, 0 };
    return n->o.fsm.restore(n->o.fsm.ctx, &r.r);
}

/* raft_options_t.snapshot_check: a leader's snapshot must decode whole (the
 * address book envelope, then the state machine's bytes) before the core
 * lets it replace the log; node_restore_fsm later cannot fail on its content. */
const char *node_check_snapshot(void *ctx, const raft_snapshot_t *s)
{
    node_t *n = ctx;
    addrbook_t book;
    const uint8_t *fsm;
    size_t fsm_len;
    if (node_envelope_split(s->data, s->len, &book, &fsm, &fsm_len) != 0)
        return "the address book envelope does not decode";
    if (!n->o.fsm.check)
        return NULL;
    membuf_reader_t r = { { membuf_read }, fsm, fsm_len, 0 };
    if (n->o.fsm.check(n->o.fsm.ctx, s->index, &r.r) != 0)
        return "the state machine cannot restore from it";
    return NULL;
}

/* §7: once enough entries are applied, snapshot the state machine and let
 * the core and the disk forget the log before it. */
static void maybe_snapshot(node_t *n)
{
    raft_index_t applied = raft_applied(n->r);
    if (!n->o.fsm.snapshot || applied <= raft_snapshot(n->r)->index)
        return;
    if (applied < raft_snapshot(n->r)->index + n->o.snapshot_every &&
        n->bytes_since_snapshot < n->o.snapshot_bytes)
        return;
    uint64_t t0 = clock_now_ns();
    membuf_writer_t w = { { membuf_write }, { 0 } };
    uint8_t book[8192 + CLUSTER_TRAILER_LEN];
    size_t blen = addrbook_encode(&n->book, book);
    if (n->ident.replicated) {
        cluster_trailer_encode(n->ident.file.cluster, book + blen);
        blen += CLUSTER_TRAILER_LEN;
    }
    uint8_t hdr[4] = { (uint8_t)blen, (uint8_t)(blen >> 8), (uint8_t)(blen >> 16),
                       (uint8_t)(blen >> 24) };
    if (membuf_write(&w.w, hdr, 4) != 0 || membuf_write(&w.w, book, blen) != 0 ||
        n->o.fsm.snapshot(n->o.fsm.ctx, &w.w) != 0) {
        log_warn("raft", "state machine snapshot at index %llu failed; will retry later",
                 (unsigned long long)applied);
        bytebuf_free(&w.buf);
        return;
    }
    if (raft_compact(n->r, applied, bytebuf_head(&w.buf), w.buf.len) == 0) {
        n->bytes_since_snapshot = 0;
        struct storage_error se = { 0 };
        if (node_disk_save_snapshot(&n->disk, raft_snapshot(n->r), &se) != 0)
            log_warn("raft", "writing snapshot at %llu failed: %s (the log is kept)",
                     (unsigned long long)applied, se.msg);
        else
            log_info("raft", "snapshot at index %llu (%zu bytes)", (unsigned long long)applied,
                     w.buf.len);
        prom_add(&n->metrics.snapshots, 1);
        prom_duration_observe(&n->metrics.snapshot_duration, clock_now_ns() - t0);
    }
    bytebuf_free(&w.buf);
}

void node_after_batch(void *ctx)
{
    node_t *n = ctx;
    while (!n->failed && raft_has_ready(n->r))
        node_process_one_ready(n);
    node_deliver_finished(n);
    if (!n->failed) {
        connect_members(n);
        maybe_snapshot(n);
        if (n->book_dirty)
            save_address_book(n);
    }
    transport_flush(n->tr); /* what the events queued (forwarded requests...) */
    node_health_report(n);
}

