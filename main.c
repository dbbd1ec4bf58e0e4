/* main.c — the dns-raft daemon: wiring, zone loading and signals.
 *
 * Today the node is single: it parses its own zone files (-zone.file) at
 * start and on SIGHUP, publishes each as a new version of the zone database
 * and serves DNS from it (dns/server.c). -raft.addr and -raft.join are
 * accepted and checked but not used yet: when the Raft runtime lands, the
 * zone loading below becomes "submit a zone replace through Raft" and the
 * database is updated by the state machine's apply instead (issue 5).
 *
 * Threads: the DNS threads, and this main thread, which after start-up does
 * nothing but wait for signals (sigwait; every other thread inherits the
 * blocked mask). SIGHUP reloads; SIGINT/SIGTERM stop cleanly and exit 0.
 *
 * Exit codes: 0 after a signalled stop or -h, 2 for bad flags or config,
 * 1 when the node cannot start (e.g. the DNS address is in use).
 *
 * Ownership: main owns the config, the zone database handle and the server;
 * all are freed before exit. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "dns/server.h"
#include "zone/db.h"
#include "zone/zone.h"

/* What each zone file produced last time, so a reload that finds a
 * different origin in the same file withdraws the old one. */
typedef struct zone_source {
    const char *path; /* owned by the config */
    bool loaded;
    uint8_t origin[NAME_MAX_WIRE];
} zone_source_t;

static void origin_text(const uint8_t *origin, char out[NAME_MAX_TEXT])
{
    name_to_text(origin, out, NAME_MAX_TEXT);
}

/* Parses one file and publishes it. On any error the served version stays
 * and the error is logged as "file:line: reason". */
static void load_zone_file(zonedb_handle_t *db, zone_source_t *src)
{
    char err[ZONE_ERR_MAX];
    zone_t *zone = zone_parse_file(src->path, NULL, err);
    if (zone == NULL) {
        log_error("zone", "%s (the version already served stays)", err);
        return;
    }
    char name[NAME_MAX_TEXT];
    origin_text(zone->origin, name);
    zone_index_t *zi = zone_index_build(zone, err);
    size_t count = zone->count;
    uint32_t serial = zone->serial;
    uint8_t origin[NAME_MAX_WIRE];
    memcpy(origin, zone->origin, name_wire_len(zone->origin));
    zone_free(zone);
    if (zi == NULL) {
        log_error("zone", "%s: cannot index zone %s: %s", src->path, name, err);
        return;
    }
    if (zonedb_handle_put_zone(db, zi) != 0) {
        log_error("zone", "%s: out of memory publishing zone %s", src->path, name);
        return;
    }
    if (src->loaded && !name_equal(src->origin, origin)) {
        char old[NAME_MAX_TEXT];
        origin_text(src->origin, old);
        zonedb_handle_remove_zone(db, src->origin);
        log_info("zone", "%s: now holds %s; zone %s withdrawn", src->path, name, old);
    }
    memcpy(src->origin, origin, name_wire_len(origin));
    src->loaded = true;
    log_info("zone", "%s: zone %s loaded (serial %u, %zu records)", src->path, name,
             (unsigned)serial, count);
}

static void load_all_zones(zonedb_handle_t *db, zone_source_t *sources, size_t count)
{
    for (size_t i = 0; i < count; i++)
        load_zone_file(db, &sources[i]);
    for (size_t i = 0; i < count; i++)
        for (size_t j = i + 1; j < count; j++)
            if (sources[i].loaded && sources[j].loaded && name_equal(sources[i].origin, sources[j].origin))
                log_warn("zone", "%s and %s hold the same zone; %s wins", sources[i].path,
                         sources[j].path, sources[j].path);
}

/* Blocks the signals this thread will wait for, before any other thread
 * exists, so that only sigwait below receives them. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGHUP);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static void serve_until_stopped(const sigset_t *set, zonedb_handle_t *db,
                                zone_source_t *sources, size_t count)
{
    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            log_info("main", "SIGHUP: reloading %zu zone file(s)", count);
            load_all_zones(db, sources, count);
        } else {
            log_info("main", "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            return;
        }
    }
}

static int run(const config_t *cfg, const sigset_t *set)
{
    log_info("main", "node %s starting", cfg->id);
    log_info("main", "raft.addr %s%s%s: Raft is not built yet, the port is not opened", cfg->raft_addr,
             cfg->raft_join ? ", raft.join " : "", cfg->raft_join ? cfg->raft_join : "");

    zonedb_handle_t *db = zonedb_handle_new();
    zone_source_t *sources = calloc(cfg->zone_file_count ? cfg->zone_file_count : 1, sizeof *sources);
    if (db == NULL || sources == NULL) {
        log_error("main", "out of memory");
        free(sources);
        if (db != NULL)
            zonedb_handle_free(db);
        return 1;
    }
    for (size_t i = 0; i < cfg->zone_file_count; i++)
        sources[i].path = cfg->zone_files[i];
    load_all_zones(db, sources, cfg->zone_file_count);

    char err[DNS_SERVER_ERR_MAX];
    dns_server_opts_t opts = { .addr = cfg->dns_addr, .workers = cfg->dns_workers };
    dns_server_t *server = dns_server_start(&opts, db, err);
    int rc = 1;
    if (server == NULL) {
        log_error("main", "dns.addr %s: %s", cfg->dns_addr, err);
    } else {
        serve_until_stopped(set, db, sources, cfg->zone_file_count);
        dns_server_stop(server);
        rc = 0;
    }
    zonedb_handle_free(db);
    free(sources);
    log_info("main", "node %s stopped", cfg->id);
    return rc;
}

int main(int argc, char *argv[])
{
    const char *prog = argc > 0 ? argv[0] : "dns-raft";
    sigset_t signals;
    block_signals(&signals); /* first: a SIGHUP during start-up must not kill us */
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    enum config_result result = config_load(&cfg, argc, argv, err);
    if (result == CONFIG_HELP) {
        config_usage(stdout, prog);
        config_free(&cfg);
        return 0;
    }
    if (result == CONFIG_ERROR) {
        fprintf(stderr, "%s: %s\n(run %s -h for the list of flags)\n", prog, err, prog);
        config_free(&cfg);
        return 2;
    }
    log_set_level((enum log_level)cfg.log_level);
    int rc = run(&cfg, &signals);
    config_free(&cfg);
    return rc;
}
