/* main.c — the dns-raft daemon: flags and config, wiring, signals.
 *
 * One process is one cluster member: the DNS server (dns/server.c) answers
 * from the zone database, which the replicated state machine (kv/cluster.c)
 * updates as Raft commits zone loads; the Raft port also serves the admin
 * text protocol. This node's zone files (-zone.file) are loaded through Raft
 * at start and on SIGHUP.
 *
 * Threads: the DNS threads, the Raft thread, admin connection threads, the
 * zone loader, and this main thread, which after start-up only waits for
 * signals (sigwait; every other thread inherits the blocked mask). SIGHUP
 * reloads the zone files; SIGINT/SIGTERM stop gracefully (leadership handed
 * over first) and exit 0.
 *
 * Exit codes: 0 after a signalled stop or -h, 2 for bad flags or config
 * (a TSIG key file included), 1 when the node cannot start (a port in use,
 * unreadable data dir, ...).
 *
 * Ownership: main owns the config, the TSIG key store, the zone database
 * handle, the cluster and the DNS server; all are freed before exit. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "dns/server.h"
#include "dns/tsig.h"
#include "kv/cluster.h"
#include "zone/db.h"

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

static void serve_until_stopped(const sigset_t *set, cluster_t *cluster, size_t zone_files)
{
    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            log_info("main", "SIGHUP: reloading %zu zone file(s)", zone_files);
            cluster_reload(cluster);
        } else {
            log_info("main", "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            return;
        }
    }
}

/* Reads every -tsig.keyfile into one store. NULL (with the reason logged)
 * when a file is missing or wrong. */
static tsig_keystore_t *load_tsig_keys(const config_t *cfg)
{
    tsig_keystore_t *keys = tsig_keystore_new();
    if (keys == NULL) {
        log_error("main", "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < cfg->tsig_keyfile_count; i++) {
        char err[TSIG_ERR_MAX];
        if (tsig_keystore_load_file(keys, cfg->tsig_keyfiles[i], err) != 0) {
            log_error("main", "tsig.keyfile %s", err);
            tsig_keystore_free(keys);
            return NULL;
        }
    }
    log_info("main", "%zu TSIG keys loaded", tsig_keystore_count(keys));
    return keys;
}

static int run(const config_t *cfg, const tsig_keystore_t *tsig_keys, const sigset_t *set)
{
    log_info("main", "node %s starting", cfg->id);
    char data_dir[512];
    snprintf(data_dir, sizeof data_dir, "%s", cfg->data_dir ? cfg->data_dir : "");
    if (!cfg->data_dir)
        snprintf(data_dir, sizeof data_dir, "data/%s", cfg->id);

    zonedb_handle_t *db = zonedb_handle_new();
    if (db == NULL) {
        log_error("main", "out of memory");
        return 1;
    }
    char err[DNS_SERVER_ERR_MAX];
    dns_server_opts_t opts = { .addr = cfg->dns_addr, .workers = cfg->dns_workers,
                               .tsig_keys = tsig_keys };
    dns_server_t *server = dns_server_start(&opts, db, err);
    if (server == NULL) {
        log_error("main", "dns.addr %s: %s", cfg->dns_addr, err);
        zonedb_handle_free(db);
        return 1;
    }
    cluster_options_t co = {
        .name = cfg->id, .raft_addr = cfg->raft_addr, .data_dir = data_dir,
        .join = cfg->raft_join, .zone_files = cfg->zone_files,
        .n_zone_files = cfg->zone_file_count, .zonedb = db,
        .heartbeat_ms = cfg->raft_heartbeat_ms, .election_ms = cfg->raft_election_ms,
        .snapshot_entries = cfg->raft_snapshot_entries,
        .unsafe_local_reads = getenv("DNSRAFT_TEST_UNSAFE_READS") != NULL,
    };
    char cerr[1024];
    cluster_t *cluster = cluster_start(&co, cerr, sizeof cerr);
    int rc = 1;
    if (cluster == NULL) {
        log_error("main", "raft.addr %s: %s", cfg->raft_addr, cerr);
    } else {
        log_info("main", "node %s serving DNS on %s, Raft and admin on %s, data in %s", cfg->id,
                 cfg->dns_addr, cfg->raft_addr, data_dir);
        serve_until_stopped(set, cluster, cfg->zone_file_count);
        cluster_stop(cluster);
        rc = 0;
    }
    dns_server_stop(server);
    zonedb_handle_free(db);
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
    tsig_keystore_t *tsig_keys = load_tsig_keys(&cfg);
    int rc = tsig_keys ? run(&cfg, tsig_keys, &signals) : 2;
    tsig_keystore_free(tsig_keys);
    config_free(&cfg);
    return rc;
}
