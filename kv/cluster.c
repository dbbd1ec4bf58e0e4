/* kv/cluster.c — the replicated service of one daemon (see cluster.h): its
 * life cycle, the state-machine adapters for the Raft node, and the one
 * write policy (retry, "maybe applied") both write paths share. The admin
 * commands are in cluster_admin.c, the zone loader thread in
 * cluster_zones.c, the join thread in cluster_join.c (cluster_int.h).
 *
 * Threads: the Raft thread (inside raft/node.c) applies entries to the state
 * machine through fsm_*; the admin thread (kv/adminserver.c) runs
 * cluster_admin_exec, which must not block: `kv set/del/get` start asynchronous
 * node requests whose callbacks (on the Raft thread) write the reply and
 * end the call, `kv ping` and errors are answered at once, and the rare
 * commands that block (raft *, zone *) run on a worker thread each; the
 * loader thread loads zone files; the join thread asks an existing member
 * to add this node. Apart from the Raft thread, all of them only call
 * thread-safe node_* and sm_* readers. */
#include "kv/cluster_int.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/addr.h"
#include "common/log.h"
#include "common/stopguard.h"
#include "kv/admin.h"
#include "kv/adminauth.h"
#include "kv/adminserver.h"
#include "kv/command.h"
#include "kv/readiness.h"
#include "kv/sm_zonedb.h"
#include "kv/statemachine.h"
#include "raft/authjoin.h"
#include "raft/node.h"
#include "common/clock.h"


uint64_t cluster_random_u64(void)
{
    uint64_t v = 0;
    if (getrandom(&v, sizeof v, 0) != (ssize_t)sizeof v)
        v = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
    return v ? v : 1;
}

/* ---- the state machine, as the Raft node sees it ---------------------------------- */

/* Apply result bytes handed back to the proposer: kv_result_to_bytes (kv/result.h). */
static void fsm_apply(void *ctx, raft_index_t index, const uint8_t *data, size_t len,
                      uint8_t **result, size_t *result_len)
{
    cluster_t *c = ctx;
    kv_result_t res;
    sm_apply(c->sm, index, data, len, &res);
    uint8_t *out = kv_result_to_bytes(&res, result_len);
    if (out)
        *result = out;
}

static void fsm_publish(void *ctx)
{
    cluster_t *c = ctx;
    sm_publish(c->sm);
}

static int write_adapter(void *arg, const void *data, size_t len)
{
    raft_snap_writer_t *w = arg;
    return w->write(w, data, len);
}

static int fsm_snapshot(void *ctx, raft_snap_writer_t *w)
{
    cluster_t *c = ctx;
    return sm_snapshot(c->sm, write_adapter, w);
}

static ssize_t read_adapter(void *arg, void *buf, size_t len)
{
    raft_snap_reader_t *r = arg;
    return r->read(r, buf, len);
}

static int fsm_restore(void *ctx, raft_snap_reader_t *r)
{
    cluster_t *c = ctx;
    const char *err = NULL;
    if (sm_restore(c->sm, read_adapter, r, &err) != 0) {
        log_error("kv", "snapshot restore into data dir %s failed: %s", c->o.data_dir,
                  err ? err : "?");
        return -1;
    }
    return 0;
}

static int fsm_check(void *ctx, raft_index_t index, raft_snap_reader_t *r)
{
    cluster_t *c = ctx;
    const char *err = NULL;
    if (sm_check_snapshot(c->sm, index, read_adapter, r, &err) != 0) {
        log_error("kv", "leader's snapshot at index %llu refused: %s",
                  (unsigned long long)index, err ? err : "?");
        return -1;
    }
    return 0;
}

node_t *cluster_node(cluster_t *c) { return c->node; }
sm_t *cluster_sm(cluster_t *c) { return c->sm; }

/* The Raft thread's health report, handed to kv/readiness.h. */
static void on_node_health(void *ctx, const node_health_t *h)
{
    cluster_t *c = ctx;
    readiness_obs_t o = {
        .now_ms = h->now_ms, .had_data = h->had_data, .target_known = h->target_known,
        .target = h->target, .applied = h->applied, .current_ms = h->current_ms,
    };
    readiness_observe(c->o.readiness, &o);
}

/* ---- proposing commands ------------------------------------------------------------- */

/* A proposal's reply bytes (fsm_apply) as a result. */
void cluster_decode_result(const uint8_t *reply, size_t reply_len, kv_result_t *res)
{
    kv_result_from_bytes(reply, reply_len, res);
}

/* The one retry and "maybe applied" policy of both write paths
 * (cluster_propose here, the asynchronous `kv set/del` in cluster_admin.c).
 * An attempt ended with st, not NODE_OK. Retrying the same bytes is safe:
 * they carry (client id, seq), so the state machine applies them once
 * (thesis §6.3), and NODE_ELOST says the entry was not applied at all.
 * Returns true to send the same bytes again: the leader was unknown or
 * changed and now < deadline_ms. Else *answer is what to tell the client:
 * never "not applied" (an error other than a timeout) once any attempt
 * may still commit (NODE_EMAYBE, remembered in *maybe_applied). */
bool cluster_write_retry(node_status_t st, bool *maybe_applied, uint64_t now,
                         uint64_t deadline_ms, node_status_t *answer)
{
    *maybe_applied |= st == NODE_EMAYBE;
    *answer = *maybe_applied ? NODE_ETIMEOUT : st;
    bool retryable = st == NODE_ENOLEADER || st == NODE_ELOST || st == NODE_EMAYBE;
    return retryable && now < deadline_ms;
}

/* Proposes until applied or the deadline passes (cluster_write_retry). */
outcome_t cluster_propose(cluster_t *c, const uint8_t *cmd, size_t len, unsigned timeout_ms)
{
    outcome_t out = { .node = NODE_ETIMEOUT };
    uint64_t deadline = clock_now_ms() + timeout_ms;
    bool maybe_applied = false; /* an earlier attempt may still commit */
    for (;;) {
        uint64_t now = clock_now_ms();
        if (now >= deadline)
            return out;
        uint8_t *reply = NULL;
        size_t reply_len = 0;
        node_status_t st = node_propose(c->node, cmd, len, (unsigned)(deadline - now),
                                        &reply, &reply_len);
        if (st == NODE_OK) {
            out.node = NODE_OK;
            cluster_decode_result(reply, reply_len, &out.res);
            free(reply);
            return out;
        }
        free(reply);
        if (!cluster_write_retry(st, &maybe_applied, clock_now_ms(), deadline, &out.node))
            return out;
        clock_sleep_ms(RETRY_PAUSE_MS);
    }
}

/* ---- life cycle -------------------------------------------------------------------------- */

cluster_t *cluster_start(const cluster_options_t *o, char *err, size_t err_len)
{
    cluster_t *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    c->o = *o;
    snprintf(c->name, sizeof c->name, "%s", o->name);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    c->loader_client.id = cluster_random_u64();
    c->sm = sm_new(sm_zonedb_publish, o->zonedb);
    if (c->sm)
        sm_set_zone_part_fn(c->sm, sm_zonedb_publish_part);
    c->admin = admin_server_new(cluster_admin_exec, c);
    if (!c->sm || !c->admin) {
        snprintf(err, err_len, "out of memory");
        cluster_stop(c);
        return NULL;
    }
    sm_set_journal_limits(c->sm, o->journal_max ? o->journal_max : SM_JOURNAL_MAX,
                          o->journal_max_mib ? (size_t)o->journal_max_mib << 20
                                             : SM_JOURNAL_MAX_BYTES);
    addr_spec_t a;
    char aerr[ADDR_ERR_MAX];
    bool named = addr_spec_parse(o->raft_addr, &a, aerr) == 0 && !a.any;
    node_options_t no = {
        .name = o->name, .listen = o->raft_addr, .advertise = named ? o->raft_addr : NULL,
        .data_dir = o->data_dir, .bootstrap = o->join == NULL,
        .election_ms = o->election_ms, .heartbeat_ms = o->heartbeat_ms, .bugs = o->raft_bugs,
        .snapshot_every = o->snapshot_entries,
        .fsm = { c, fsm_apply, fsm_snapshot, fsm_restore, fsm_check, fsm_publish },
        .on_text_conn = cluster_on_text_conn, .text_ctx = c, .cluster_key = o->cluster_key,
        .on_health = o->readiness ? on_node_health : NULL, .health_ctx = c,
    };
    if (cluster_setup_admin(c, o, err, err_len) != 0) {
        cluster_stop(c);
        return NULL;
    }
    c->node = node_start(&no, err, err_len);
    if (!c->node) {
        cluster_stop(c);
        return NULL;
    }
    /* Admin commands use c->node, which node_start's Raft thread may have
     * accepted connections before: they are served from now on. */
    admin_server_open(c->admin);
    if (o->join && node_was_empty(c->node)) {
        c->joiner_started = pthread_create(&c->joiner, NULL, cluster_joiner_thread, c) == 0;
    } else if (o->join) {
        log_info("raft", "data dir %s holds this node's state: resuming (no join needed)",
                 o->data_dir);
    }
    c->reload_wanted = true; /* load the zone files once at start */
    c->loader_started = pthread_create(&c->loader, NULL, cluster_loader_thread, c) == 0;
    return c;
}

/* "waiting for the zone loader (parsing zones/a.txt)", kept for the stop
 * guard, which may read it until the process exits. */
static void note_loader(cluster_t *c)
{
    static char text[600];
    pthread_mutex_lock(&c->mu);
    if (c->loader_doing)
        snprintf(text, sizeof text, "waiting for the zone loader (%s %s)", c->loader_doing,
                 c->loader_file);
    else
        snprintf(text, sizeof text, "waiting for the zone loader");
    pthread_mutex_unlock(&c->mu);
    stopguard_note(text);
}

void cluster_stop(cluster_t *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->stopping = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
    /* Hand leadership over and fail every request still waiting on Raft,
     * so the threads below return promptly; then free in dependency order.
     * Each step is noted for the stop guard (common/stopguard.h), which
     * ends the process if one of them never returns. */
    stopguard_note("handing leadership over and stopping the Raft thread");
    node_shutdown(c->node);
    if (c->loader_started) {
        note_loader(c);
        pthread_join(c->loader, NULL);
    }
    stopguard_note("waiting for the join thread");
    if (c->joiner_started)
        pthread_join(c->joiner, NULL);
    stopguard_note("closing admin connections and their worker threads");
    admin_server_free(c->admin);
    stopguard_note("closing the Raft node");
    node_free(c->node);
    sm_free(c->sm);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->mu);
    free(c->join_token);
    free(c);
}
