/* main.c — the dns-raft daemon: flags and config, wiring, signals.
 *
 * One process is one cluster member: the DNS server (dns/server.c) answers
 * from the zone database, which the replicated state machine (kv/cluster.c)
 * updates as Raft commits zone loads; the Raft port also serves the admin
 * text protocol. This node's zone files (-zone.file) are loaded through Raft
 * at start and on SIGHUP.
 *
 * Threads: the DNS threads, the Raft thread, admin connection threads, the
 * zone loader, the NOTIFY sender (with a `notify:` list), and this main thread, which after start-up only waits for
 * signals (sigwait; every other thread inherits the blocked mask). SIGHUP
 * reloads the zone files; SIGINT/SIGTERM stop gracefully (leadership handed
 * over first) and exit 0, within -stop.timeout (common/stopguard.h).
 *
 * `dns-raft keygen` prints a fresh cluster key file (-cluster.key.file).
 * `-version` prints the version; `-config.check` checks the settings, keys,
 * ACL and zone files and exits without starting anything.
 * Under systemd (Type=notify) the node reports READY=1, STOPPING=1 and
 * STATUS= lines (common/service.h).
 *
 * Exit codes: 0 after a signalled stop, -h, -version or a good
 * -config.check, 2 for bad flags or config (a TSIG key file, the cluster
 * key or, with -config.check, a zone file included), 1 when the node
 * cannot start (a port in use, unreadable data dir, ...), 3 when a stop
 * did not finish in time or a second SIGTERM/SIGINT came.
 *
 * Ownership: main owns the config, the TSIG key store, the zone database
 * handle, the cluster and the DNS server; all are freed before exit. */
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bytebuf.h"
#include "common/clock.h"
#include "common/addr.h"
#include "common/config.h"
#include "common/log.h"
#include "common/service.h"
#include "common/stopguard.h"
#include "dns/acl.h"
#include "dns/notify.h"
#include "dns/server.h"
#include "dns/tsig.h"
#include "kv/command.h"
#include "kv/cluster.h"
#include "kv/dnsupdate.h"
#include "kv/readiness.h"
#include "metrics/httpd.h"
#include "kv/leadership.h"
#include "kv/xfrjournal.h"
#include "raft/peerauth.h"
#include "zone/db.h"
#include "zone/zone.h"

#ifndef DNSRAFT_VERSION
#include "version.h" /* made by the Makefile from VERSION and git describe */
#endif

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

/* `dns-raft keygen`: a new cluster key file on stdout. */
static int keygen(void)
{
    char text[256];
    size_t n = peerauth_keygen(text, sizeof text);
    if (n == 0) {
        fprintf(stderr, "keygen: no randomness from the system\n");
        return 1;
    }
    fwrite(text, 1, n, stdout);
    return fflush(stdout) == 0 ? 0 : 1;
}

/* Loads -cluster.key.file into ring; false (and logged) if it is bad. */
static bool load_cluster_key(const config_t *cfg, peerauth_ring_t *ring)
{
    char err[512];
    bool too_open = false;
    if (peerauth_ring_load(ring, cfg->cluster_key_file, &too_open, err, sizeof err) != 0) {
        log_error("main", "cluster.key.file: %s", err);
        return false;
    }
    if (too_open)
        log_warn("main", "cluster.key.file %s can be read by group or others: chmod 600 it",
                 cfg->cluster_key_file);
    log_info("main", "cluster key loaded (%zu key%s): peers must prove it", ring->n,
             ring->n == 1 ? "" : "s, the first signs");
    return true;
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

_Static_assert(CONFIG_ACL_UPDATE == ACL_UPDATE && CONFIG_ACL_TRANSFER == ACL_TRANSFER &&
               CONFIG_ACL_NOTIFY == ACL_NOTIFY, "config and dns/acl.h action bits differ");

/* Builds the ACL from the YAML `acl:` rules. NULL (with the reason logged)
 * when a rule names a bad zone, prefix or an unknown TSIG key. */
static acl_t *build_acl(const config_t *cfg, const tsig_keystore_t *keys)
{
    acl_t *acl = acl_new();
    if (acl == NULL) {
        log_error("main", "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < cfg->acl_rule_count; i++) {
        const config_acl_rule_t *r = &cfg->acl_rules[i];
        char err[ACL_ERR_MAX];
        if (acl_add_rule(acl, (const char *const *)r->zones, r->zone_count, r->actions, r->key,
                         r->address, keys, err) != 0) {
            log_error("main", "%s:%zu: acl: %s", cfg->config_file ? cfg->config_file : "config",
                      r->line, err);
            acl_free(acl);
            return NULL;
        }
    }
    log_info("main", "%zu ACL rules%s", acl_rule_count(acl),
             acl_rule_count(acl) ? "" : ": nothing may UPDATE");
    return acl;
}

/* ---- TSIG keys and ACL, reloaded on SIGHUP ---- */

/* One version of the keys and the ACL. Every version stays alive until
 * exit: an UPDATE in flight signs its answer with the key it was checked
 * with. A SIGHUP that changes nothing adds no version. */
typedef struct auth_gen {
    tsig_keystore_t *keys;
    acl_t *acl;
    char *rules; /* the config's acl rules as text, to see a change */
    struct auth_gen *older;
} auth_gen_t;

typedef struct reload_ctx {
    int argc;
    char *const *argv;
    auth_gen_t *auth; /* the current version, first of the list */
    dns_server_t *server;
} reload_ctx_t;

static bool same_keys(const tsig_keystore_t *a, const tsig_keystore_t *b)
{
    if (tsig_keystore_count(a) != tsig_keystore_count(b))
        return false;
    for (size_t i = 0; i < tsig_keystore_count(a); i++) {
        const tsig_key_t *x = tsig_keystore_key(a, i), *y = tsig_keystore_key(b, i);
        if (!name_equal(x->name, y->name) || x->alg != y->alg || x->mac_len != y->mac_len ||
            x->secret_len != y->secret_len || memcmp(x->secret, y->secret, x->secret_len) != 0)
            return false;
    }
    return true;
}

static char *rules_text(const config_t *cfg)
{
    bytebuf_t b;
    bytebuf_init(&b);
    for (size_t i = 0; i < cfg->acl_rule_count; i++) {
        const config_acl_rule_t *r = &cfg->acl_rules[i];
        char line[1024];
        int n = snprintf(line, sizeof line, "%u|%s|%s|", r->actions, r->key ? r->key : "-",
                         r->address ? r->address : "-");
        bytebuf_put(&b, line, n > 0 ? (size_t)n : 0);
        for (size_t z = 0; z < r->zone_count; z++) {
            bytebuf_put(&b, r->zones[z], strlen(r->zones[z]));
            bytebuf_put(&b, ",", 1);
        }
        bytebuf_put(&b, "\n", 1);
    }
    bytebuf_put(&b, "", 1);
    if (b.failed) {
        bytebuf_free(&b);
        return NULL;
    }
    return (char *)b.data;
}

static void auth_free_all(auth_gen_t *g)
{
    while (g) {
        auth_gen_t *older = g->older;
        acl_free(g->acl);
        tsig_keystore_free(g->keys);
        free(g->rules);
        free(g);
        g = older;
    }
}

/* SIGHUP: reads the configuration again (flags and -config YAML) for its
 * tsig.keyfile list and acl rules only; other settings need a restart.
 * Anything wrong keeps the keys and ACL in use (the reason is logged as
 * file:line: message). */
static void reload_auth(reload_ctx_t *r)
{
    config_t cfg;
    char err[CONFIG_ERR_MAX];
    if (config_load(&cfg, r->argc, r->argv, err) != CONFIG_OK) {
        log_error("main", "SIGHUP: configuration: %s; keeping the TSIG keys and ACL in use", err);
        config_free(&cfg);
        return;
    }
    auth_gen_t *g = calloc(1, sizeof *g);
    if (g && (g->keys = load_tsig_keys(&cfg)) != NULL)
        g->acl = build_acl(&cfg, g->keys);
    if (g && g->acl)
        g->rules = rules_text(&cfg);
    config_free(&cfg);
    if (!g || !g->rules) {
        log_error("main", "SIGHUP: keeping the TSIG keys and ACL in use");
        auth_free_all(g);
        return;
    }
    if (same_keys(g->keys, r->auth->keys) && strcmp(g->rules, r->auth->rules) == 0) {
        log_info("main", "SIGHUP: TSIG keys and ACL unchanged");
        auth_free_all(g);
        return;
    }
    if (dns_server_set_auth(r->server, g->keys, g->acl) != 0) {
        log_error("main", "SIGHUP: out of memory; keeping the TSIG keys and ACL in use");
        auth_free_all(g);
        return;
    }
    g->older = r->auth;
    r->auth = g;
    log_info("main", "SIGHUP: now %zu TSIG keys and %zu ACL rules", tsig_keystore_count(g->keys),
             acl_rule_count(g->acl));
}

static void serve_until_stopped(const sigset_t *set, cluster_t *cluster, size_t zone_files,
                                reload_ctx_t *reload)
{
    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            log_info("main", "SIGHUP: reloading %zu zone file(s), TSIG keys and ACL", zone_files);
            cluster_reload(cluster);
            reload_auth(reload);
        } else {
            log_info("main", "%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
            service_notify_stopping();
            return;
        }
    }
}

/* -config.check: what start-up would refuse, found without starting: the
 * cluster key, then every zone file parsed (TSIG keys and ACL are checked
 * before this). 0 when all is well, else 2 with each problem logged. */
static int check_config(const config_t *cfg)
{
    peerauth_ring_t ring = { 0 };
    bool ok = !cfg->cluster_key_file || load_cluster_key(cfg, &ring);
    peerauth_ring_wipe(&ring);
    for (size_t i = 0; i < cfg->zone_file_count; i++) {
        char err[ZONE_ERR_MAX];
        zone_t *zone = zone_parse_file(cfg->zone_files[i], NULL, err);
        if (zone == NULL) {
            log_error("main", "zone.file %s", err);
            ok = false;
            continue;
        }
        log_info("main", "zone.file %s: %zu records", cfg->zone_files[i], zone->count);
        zone_free(zone);
    }
    printf("%s: %s\n", cfg->config_file ? cfg->config_file : "flags",
           ok ? "OK" : "problems (see above)");
    return ok ? 0 : 2;
}

/* readiness on_ready: the node serves its zones now (READY=1 for a
 * Type=notify unit; nothing without systemd). */
static void notify_service_ready(void *arg)
{
    (void)arg;
    service_notify_ready();
}

static int write_dns_metrics(void *server, bytebuf_t *b)
{
    dns_server_write_metrics(server, b);
    return 0;
}

static int write_cluster_metrics(void *cluster, bytebuf_t *b)
{
    return cluster_write_metrics(cluster, b);
}

typedef struct ready_source {
    readiness_t *ready;
    cluster_t *cluster;
} ready_source_t;

/* /ready and dnsraft_ready: what DNS answering says (kv/readiness.h), with
 * what the zone loader is doing when it is busy. */
static int answering_for_metrics(void *arg, char *reason, size_t cap)
{
    const ready_source_t *src = arg;
    if (readiness_answering(src->ready))
        return 1;
    size_t n = readiness_reason(src->ready, reason, cap);
    char activity[256];
    if (n < cap && cluster_loader_activity(src->cluster, activity, sizeof activity) > 0)
        snprintf(reason + n, cap - n, " (%s)", activity);
    return 0;
}

static double stale_seconds_for_metrics(void *arg)
{
    const ready_source_t *src = arg;
    return readiness_stale_seconds(src->ready);
}

/* /metrics, /health and /ready (-metrics.addr), once the cluster runs.
 * Readiness and staleness come from kv/readiness.h. False (logged) when it
 * was asked for and cannot start: the node exits 1, as for any port. */
static bool start_metrics(const config_t *cfg, dns_server_t *server, cluster_t *cluster,
                          ready_source_t *src, metrics_server_t **out)
{
    *out = NULL;
    if (cfg->metrics_addr == NULL)
        return true;
    metrics_opts_t mo = {
        .addr = cfg->metrics_addr,
        .sources = { { write_dns_metrics, server }, { write_cluster_metrics, cluster } },
        .n_sources = 2,
        .ready = answering_for_metrics, .ready_arg = src,
        .stale_seconds = stale_seconds_for_metrics, .stale_arg = src,
    };
    char err[METRICS_ERR_MAX];
    if ((*out = metrics_start(&mo, err)) == NULL)
        log_error("main", "metrics.addr %s: %s", cfg->metrics_addr, err);
    return *out != NULL;
}

/* Builds the NOTIFY targets from the YAML `notify:` rules. -1 (with the
 * reason logged) when a rule names a bad zone, target or an unknown key. */
static int build_notify(const config_t *cfg, const tsig_keystore_t *keys, notify_conf_t *nc)
{
    for (size_t i = 0; i < cfg->notify_rule_count; i++) {
        const config_notify_rule_t *r = &cfg->notify_rules[i];
        char err[NOTIFY_ERR_MAX];
        if (notify_conf_add_rule(nc, (const char *const *)r->zones, r->zone_count,
                                 (const char *const *)r->targets, r->target_count, r->key, keys,
                                 err) != 0) {
            log_error("main", "%s:%zu: notify: %s",
                      cfg->config_file ? cfg->config_file : "config", r->line, err);
            return -1;
        }
    }
    if (nc->n_zones)
        log_info("main", "NOTIFY: %zu target(s) for %zu zone(s)", notify_conf_target_count(nc),
                 nc->n_zones);
    return 0;
}

/* The NOTIFY sender, when `notify:` names any zone; NULL otherwise. */
static notify_t *start_notify(const config_t *cfg, const notify_conf_t *nc, zonedb_handle_t *db,
                              kv_leadership_t *lead)
{
    if (nc->n_zones == 0 || lead == NULL)
        return NULL;
    addr_spec_t dns_addr;
    char aerr[ADDR_ERR_MAX];
    bool specific = addr_spec_parse(cfg->dns_addr, &dns_addr, aerr) == 0 && !dns_addr.any;
    notify_opts_t o = { .conf = nc, .db = db, .leader_epoch = kv_leadership_epoch,
                        .leader_arg = lead, .retry_ms = cfg->notify_retry_ms,
                        .retries = cfg->notify_retries,
                        .source_host = specific ? dns_addr.host : NULL };
    char err[NOTIFY_ERR_MAX];
    notify_t *n = notify_start(&o, err);
    if (n == NULL)
        log_error("main", "NOTIFY not started: %s", err);
    return n;
}

static int run(const config_t *cfg, reload_ctx_t *reload, const notify_conf_t *notify_conf,
               const sigset_t *set)
{
    const tsig_keystore_t *tsig_keys = reload->auth->keys;
    const acl_t *acl = reload->auth->acl;
    log_info("main", "node %s starting", cfg->id);
    kv_cmd_set_serial_policy((enum kv_cmd_serial_policy)cfg->zone_serial_policy);
    static peerauth_ring_t ring; /* outlives the cluster; wiped at exit */
    if (cfg->cluster_key_file && !load_cluster_key(cfg, &ring))
        return 2;
    char data_dir[512];
    snprintf(data_dir, sizeof data_dir, "%s", cfg->data_dir ? cfg->data_dir : "");
    if (!cfg->data_dir)
        snprintf(data_dir, sizeof data_dir, "data/%s", cfg->id);

    zonedb_handle_t *db = zonedb_handle_new();
    if (db == NULL) {
        log_error("main", "out of memory");
        return 1;
    }
    kv_dnsupdate_t *updates = kv_dnsupdate_new();
    /* DNS answers SERVFAIL until the node is ready (kv/readiness.h); the
     * moment it is, systemd hears READY=1 (Type=notify). */
    readiness_options_t ro = {
        .on_ready = notify_service_ready,
        .stale_policy = (enum readiness_stale_policy)cfg->dns_stale_policy,
        .stale_max_s = cfg->dns_stale_max_s, .election_ms = cfg->raft_election_ms,
    };
    readiness_t *ready = readiness_new(&ro, clock_now_ms());
    kv_xfrjournal_t *journal = kv_xfrjournal_new();
    if (updates == NULL || ready == NULL || journal == NULL) {
        log_error("main", "out of memory");
        kv_xfrjournal_free(journal);
        readiness_free(ready);
        kv_dnsupdate_free(updates);
        zonedb_handle_free(db);
        return 1;
    }
    char err[DNS_SERVER_ERR_MAX];
    dns_server_opts_t opts = {
        .addr = cfg->dns_addr, .workers = cfg->dns_workers,
        .tcp_max_conns = cfg->dns_tcp_max_conns, .tcp_idle_ms = cfg->dns_tcp_idle_ms,
        .tcp_message_ms = cfg->dns_tcp_message_ms,
        .tcp_buffer_max = (size_t)cfg->dns_tcp_buffer_mib << 20,
        .rrl = { .rate = cfg->dns_rrl_rate, .slip = cfg->dns_rrl_slip,
                 .ipv4_prefix = cfg->dns_rrl_ipv4_prefix, .ipv6_prefix = cfg->dns_rrl_ipv6_prefix,
                 .table_size = cfg->dns_rrl_table_size },
        .tsig_keys = tsig_keys,
        .acl = acl, .submit_update = kv_dnsupdate_submit, .submit_arg = updates,
        .update_timeout_ms = cfg->dns_update_timeout_ms,
        .answering = readiness_answering_flag(ready),
        .count = cfg->metrics_addr != NULL, /* counted only when someone can read them */
        .xfr = true, .journal_diff = kv_xfrjournal_diff, .journal_arg = journal,
    };
    dns_server_t *server = dns_server_start(&opts, db, err);
    if (server == NULL) {
        log_error("main", "dns.addr %s: %s", cfg->dns_addr, err);
        readiness_free(ready);
        kv_dnsupdate_free(updates);
        kv_xfrjournal_free(journal);
        zonedb_handle_free(db);
        return 1;
    }
    cluster_options_t co = {
        .name = cfg->id, .raft_addr = cfg->raft_addr, .data_dir = data_dir,
        .join = cfg->raft_join, .zone_files = cfg->zone_files,
        .n_zone_files = cfg->zone_file_count, .zonedb = db,
        .journal_max = cfg->zone_journal_max, .journal_max_mib = cfg->zone_journal_max_mib,
        .heartbeat_ms = cfg->raft_heartbeat_ms, .election_ms = cfg->raft_election_ms,
        .snapshot_entries = cfg->raft_snapshot_entries,
        .unsafe_local_reads = getenv("DNSRAFT_TEST_UNSAFE_READS") != NULL,
        .cluster_key = cfg->cluster_key_file ? &ring : NULL,
        .admin_addr = cfg->admin_addr, .admin_token_file = cfg->admin_token_file,
        .admin_off_raft_port = cfg->admin_on_raft_port == 0,
        .test_stuck_loader = getenv("DNSRAFT_TEST_STUCK_LOADER") != NULL,
        .readiness = ready,
    };
    char cerr[1024];
    /* Before the loader can send READY=1 (STATUS=serving), never after. */
    service_notify_status("loading %zu zone file(s) through Raft", cfg->zone_file_count);
    cluster_t *cluster = cluster_start(&co, cerr, sizeof cerr);
    int rc = 1;
    if (cluster == NULL) {
        log_error("main", "raft.addr %s: %s", cfg->raft_addr, cerr);
    } else {
        log_info("main", "node %s serving DNS on %s, Raft and admin on %s, data in %s", cfg->id,
                 cfg->dns_addr, cfg->raft_addr, data_dir);
        kv_dnsupdate_attach(updates, cluster_node(cluster));
        kv_xfrjournal_attach(journal, cluster_sm(cluster));
        metrics_server_t *metrics;
        ready_source_t ready_source = { ready, cluster };
        bool metrics_ok = start_metrics(cfg, server, cluster, &ready_source, &metrics);
        kv_leadership_t *lead = kv_leadership_new(cluster_node(cluster));
        notify_t *notifier = start_notify(cfg, notify_conf, db, lead);
        reload->server = server;
        if (metrics_ok)
            serve_until_stopped(set, cluster, cfg->zone_file_count, reload);
        stopguard_arm(set, cfg->stop_timeout_ms);
        notify_stop(notifier); /* before the hand-over: the next leader notifies */
        metrics_stop(metrics); /* before what its callbacks read */
        kv_dnsupdate_detach(updates); /* those in flight end in cluster_stop */
        kv_xfrjournal_detach(journal);
        cluster_stop(cluster);
        kv_leadership_free(lead); /* after: a barrier's callback may run until then */
        rc = metrics_ok ? 0 : 1;
    }
    stopguard_note("stopping the DNS server");
    dns_server_stop(server); /* after every UPDATE's done ran */
    kv_dnsupdate_free(updates);
    readiness_free(ready); /* after the DNS workers and the Raft thread */
    kv_xfrjournal_free(journal);
    stopguard_disarm();
    zonedb_handle_free(db);
    log_info("main", "node %s stopped", cfg->id);
    peerauth_ring_wipe(&ring);
    return rc;
}

int main(int argc, char *argv[])
{
    const char *prog = argc > 0 ? argv[0] : "dns-raft";
    if (argc == 2 && strcmp(argv[1], "keygen") == 0)
        return keygen();
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
    if (result == CONFIG_VERSION) {
        printf("dns-raft %s\n", DNSRAFT_VERSION);
        config_free(&cfg);
        return 0;
    }
    if (result == CONFIG_ERROR) {
        fprintf(stderr, "%s: %s\n(run %s -h for the list of flags)\n", prog, err, prog);
        config_free(&cfg);
        return 2;
    }
    log_set_level((enum log_level)cfg.log_level);
    log_set_format((enum log_format)cfg.log_format);
    log_set_node(cfg.id);
    auth_gen_t *auth = calloc(1, sizeof *auth);
    if (auth && (auth->keys = load_tsig_keys(&cfg)) != NULL &&
        (auth->acl = build_acl(&cfg, auth->keys)) != NULL)
        auth->rules = rules_text(&cfg);
    reload_ctx_t reload = { .argc = argc, .argv = argv, .auth = auth };
    /* NOTIFY signs with the keys of the start (a SIGHUP does not change them). */
    notify_conf_t notify_conf = { 0 };
    int rc = 2;
    if (auth && auth->rules && build_notify(&cfg, auth->keys, &notify_conf) == 0)
        rc = cfg.check_only ? check_config(&cfg) : run(&cfg, &reload, &notify_conf, &signals);
    notify_conf_free(&notify_conf);
    auth_free_all(reload.auth); /* after dns_server_stop: every version */
    config_free(&cfg);
    return rc;
}
