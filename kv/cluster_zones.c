/* kv/cluster_zones.c — the zone loader thread: parses each configured zone
 * file and replicates it as chunked commands, on start and on reload. */
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

/* ---- zone loading --------------------------------------------------------------------- */

bool cluster_stopping(cluster_t *c)
{
    pthread_mutex_lock(&c->mu);
    bool s = c->stopping;
    pthread_mutex_unlock(&c->mu);
    return s;
}

/* Sleeps up to ms, waking early on stop. */
void cluster_pause_ms(cluster_t *c, unsigned ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)(ms / 1000);
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    if (!c->stopping)
        pthread_cond_timedwait(&c->cond, &c->mu, &until);
    pthread_mutex_unlock(&c->mu);
}

/* One attempt to replicate a parsed zone: 0 done, 1 retry, -1 give up. */
static int submit_zone(cluster_t *c, const zone_t *zone, const char *path)
{
    admin_server_client_t *cl = &c->loader_client;
    kv_cmd_chunks_t chunks;
    const char *err = NULL;
    uint64_t load_id = cluster_random_u64();
    if (kv_cmd_encode_zone_chunks(zone, c->name, load_id, cl->id, cl->seq + 1, 0, &chunks, &err) != 0) {
        log_error("zone", "%s: cannot encode zone: %s", path, err ? err : "?");
        return -1;
    }
    cl->seq += chunks.count;
    int rc = 0;
    for (size_t i = 0; i < chunks.count && rc == 0; i++) {
        outcome_t o = cluster_propose(c, chunks.data[i], chunks.len[i], WRITE_TIMEOUT_MS * 2);
        /* A timeout says the chunk may still apply: applying the last chunk
         * of a large zone builds the whole zone and can outlast the timeout
         * on a busy machine. Ask again with the same bytes (the session
         * dedup answers a chunk that did apply with its recorded result)
         * before starting the whole load over, which would only repeat the
         * same long apply. */
        for (int again = 0; o.node == NODE_ETIMEOUT && again < CHUNK_TIMEOUT_RETRIES && !cluster_stopping(c);
             again++) {
            log_info("zone", "%s: chunk %zu/%zu not confirmed yet; asking again", path, i + 1,
                     chunks.count);
            o = cluster_propose(c, chunks.data[i], chunks.len[i], WRITE_TIMEOUT_MS * 2);
        }
        if (o.node != NODE_OK) {
            log_warn("zone", "%s: chunk %zu/%zu not committed (%s); the load starts again", path,
                     i + 1, chunks.count, node_status_text(o.node));
            rc = 1;
        } else if (o.res.status == KV_ERR_BAD_ZONE) {
            log_error("zone", "%s: the cluster refused the zone: %s", path, o.res.msg);
            rc = -1;
        } else if (o.res.status != KV_OK) {
            log_warn("zone", "%s: chunk %zu/%zu refused (%s); the load starts again", path, i + 1,
                     chunks.count, o.res.msg[0] ? o.res.msg : kv_result_status_text(o.res.status));
            rc = 1;
        }
    }
    kv_cmd_chunks_free(&chunks);
    return rc;
}

/* What the loader is doing, for the stop guard's log line. */
void cluster_loader_doing(cluster_t *c, const char *what, const char *path)
{
    pthread_mutex_lock(&c->mu);
    c->loader_doing = what;
    c->loader_file = path;
    pthread_mutex_unlock(&c->mu);
}

/* Tests only (DNSRAFT_TEST_STUCK_LOADER): hangs where no stop flag reaches, as a
 * read from a dead NFS mount would, so that tests can check the stop
 * deadline (common/stopguard.h). */
static void hang_like_a_dead_mount(void)
{
    log_warn("zone", "test hook DNSRAFT_TEST_STUCK_LOADER: the loader hangs for good");
    for (;;)
        clock_sleep_ms(1000);
}

static void load_zone_file(cluster_t *c, const char *path)
{
    char err[ZONE_ERR_MAX];
    cluster_loader_doing(c, "parsing", path);
    if (c->o.test_stuck_loader)
        hang_like_a_dead_mount();
    zone_t *zone = zone_parse_file(path, NULL, err);
    cluster_loader_doing(c, "replicating", path);
    if (!zone) {
        log_error("zone", "%s (the replicated version stays)", err);
        prom_add(&c->zone_load_errors, 1);
        return;
    }
    char origin[NAME_MAX_TEXT];
    name_to_text(zone->origin, origin, sizeof origin);
    unsigned backoff = 100;
    for (int attempt = 1; !cluster_stopping(c); attempt++) {
        int rc = submit_zone(c, zone, path);
        if (rc == 0)
            log_info("zone", "%s: zone %s replicated (serial %u, %zu records)", path, origin,
                     (unsigned)zone->serial, zone->count);
        prom_add(rc == 0 ? &c->zone_loads : &c->zone_load_errors, rc <= 0);
        if (rc <= 0)
            break;
        log_info("zone", "%s: waiting to load zone %s (attempt %d, next in %u ms)", path, origin,
                 attempt, backoff);
        cluster_pause_ms(c, backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    zone_free(zone);
}

void *cluster_loader_thread(void *arg)
{
    cluster_t *c = arg;
    for (;;) {
        pthread_mutex_lock(&c->mu);
        while (!c->reload_wanted && !c->stopping)
            pthread_cond_wait(&c->cond, &c->mu);
        bool stop = c->stopping;
        c->reload_wanted = false;
        pthread_mutex_unlock(&c->mu);
        if (stop)
            return NULL;
        for (size_t i = 0; i < c->o.n_zone_files && !cluster_stopping(c); i++)
            load_zone_file(c, c->o.zone_files[i]);
        cluster_loader_doing(c, NULL, NULL);
        /* Each file is applied here now (a proposal returns once its entry
         * is applied on this node) or was refused with an error logged. */
        if (c->o.readiness && !cluster_stopping(c))
            readiness_zones_loaded(c->o.readiness);
    }
}

void cluster_reload(cluster_t *c)
{
    pthread_mutex_lock(&c->mu);
    c->reload_wanted = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

