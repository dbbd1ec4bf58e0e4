/* common/config.c — the daemon's flags and YAML config file (see config.h).
 *
 * One table lists every setting once: its name (the flag without the dash,
 * which is also its YAML key), its help line and the function that stores a
 * textual value. Flags and YAML both go through that table, so the two can
 * never disagree about names or value syntax. Flags are tokenised first,
 * without being applied, so that the YAML file named by -config (wherever it
 * appears on the line) is read before them and the flags win. */
#include "common/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "common/addr.h"
#include "common/config_acl.h"
#include "common/config_notify.h"
#include "common/log.h"

#define DEFAULT_RAFT_ADDR ":8300"
#define DEFAULT_DNS_ADDR ":8600"
#define ID_MAX 64

typedef int (*setter_fn)(config_t *cfg, const char *value, char err[CONFIG_ERR_MAX]);

typedef struct option {
    const char *name;
    const char *meta;   /* placeholder shown in usage */
    const char *help;
    setter_fn set;
} option_t;

static int format_error(char err[CONFIG_ERR_MAX], const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int format_error(char err[CONFIG_ERR_MAX], const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, CONFIG_ERR_MAX, fmt, ap);
    va_end(ap);
    return -1;
}

/* Replaces *field with a copy of value (the config owns it). */
static int store_string(char **field, const char *value, char err[CONFIG_ERR_MAX])
{
    char *copy = strdup(value);
    if (copy == NULL)
        return format_error(err, "out of memory");
    free(*field);
    *field = copy;
    return 0;
}

static int set_id(config_t *c, const char *v, char e[CONFIG_ERR_MAX]) { return store_string(&c->id, v, e); }
static int set_raft_addr(config_t *c, const char *v, char e[CONFIG_ERR_MAX]) { return store_string(&c->raft_addr, v, e); }
static int set_dns_addr(config_t *c, const char *v, char e[CONFIG_ERR_MAX]) { return store_string(&c->dns_addr, v, e); }
static int set_raft_join(config_t *c, const char *v, char e[CONFIG_ERR_MAX]) { return store_string(&c->raft_join, v, e); }
static int set_data_dir(config_t *c, const char *v, char e[CONFIG_ERR_MAX]) { return store_string(&c->data_dir, v, e); }
static int set_cluster_key_file(config_t *c, const char *v, char e[CONFIG_ERR_MAX]) { return store_string(&c->cluster_key_file, v, e); }
static int set_config_file(config_t *c, const char *v, char e[CONFIG_ERR_MAX]) { return store_string(&c->config_file, v, e); }

static int add_zone_file(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    if (*v == '\0')
        return format_error(e, "zone.file: empty file name");
    if (c->zone_file_count == CONFIG_MAX_ZONE_FILES)
        return format_error(e, "zone.file: more than %d files", CONFIG_MAX_ZONE_FILES);
    char **grown = realloc(c->zone_files, (c->zone_file_count + 1) * sizeof *grown);
    if (grown == NULL)
        return format_error(e, "out of memory");
    c->zone_files = grown;
    if ((grown[c->zone_file_count] = strdup(v)) == NULL)
        return format_error(e, "out of memory");
    c->zone_file_count++;
    return 0;
}

static void clear_zone_files(config_t *c)
{
    for (size_t i = 0; i < c->zone_file_count; i++)
        free(c->zone_files[i]);
    free(c->zone_files);
    c->zone_files = NULL;
    c->zone_file_count = 0;
}

static int add_tsig_keyfile(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    if (*v == '\0')
        return format_error(e, "tsig.keyfile: empty file name");
    if (c->tsig_keyfile_count == CONFIG_MAX_TSIG_KEYFILES)
        return format_error(e, "tsig.keyfile: more than %d files", CONFIG_MAX_TSIG_KEYFILES);
    char **grown = realloc(c->tsig_keyfiles, (c->tsig_keyfile_count + 1) * sizeof *grown);
    if (grown == NULL)
        return format_error(e, "out of memory");
    c->tsig_keyfiles = grown;
    if ((grown[c->tsig_keyfile_count] = strdup(v)) == NULL)
        return format_error(e, "out of memory");
    c->tsig_keyfile_count++;
    return 0;
}

static void clear_tsig_keyfiles(config_t *c)
{
    for (size_t i = 0; i < c->tsig_keyfile_count; i++)
        free(c->tsig_keyfiles[i]);
    free(c->tsig_keyfiles);
    c->tsig_keyfiles = NULL;
    c->tsig_keyfile_count = 0;
}

/* The settings that may repeat (and be YAML lists). */
static bool is_list_option(setter_fn set)
{
    return set == add_zone_file || set == add_tsig_keyfile;
}

static int set_log_level(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    int level = log_level_parse(v);
    if (level < 0)
        return format_error(e, "log.level: \"%s\" is not one of trace, debug, info, warn, error, off", v);
    c->log_level = level;
    return 0;
}

static int set_log_format(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    int format = log_format_parse(v);
    if (format < 0)
        return format_error(e, "log.format: \"%s\" is not text or json", v);
    c->log_format = format;
    return 0;
}

static int set_dns_workers(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    char *end = NULL;
    errno = 0;
    long n = (*v >= '0' && *v <= '9') ? strtol(v, &end, 10) : -1;
    if (n < 0 || errno != 0 || *end != '\0' || n > CONFIG_MAX_WORKERS)
        return format_error(e, "dns.workers: \"%s\" is not a number from 0 to %d", v,
                            CONFIG_MAX_WORKERS);
    c->dns_workers = (unsigned)n;
    return 0;
}

/* A whole number in [lo, hi] into *out; `unit` names it in the error
 * (" of milliseconds", or ""). */
static int parse_bounded(const char *key, const char *v, unsigned lo, unsigned hi,
                         const char *unit, unsigned *out, char e[CONFIG_ERR_MAX])
{
    char *end = NULL;
    errno = 0;
    long long n = (*v >= '0' && *v <= '9') ? strtoll(v, &end, 10) : -1;
    if (n < (long long)lo || n > (long long)hi || errno != 0 || *end != '\0')
        return format_error(e, "%s: \"%s\" is not a number%s from %u to %u", key, v, unit, lo,
                            hi);
    *out = (unsigned)n;
    return 0;
}

/* A whole number of milliseconds in [lo, hi] into *out. */
static int parse_ms(const char *key, const char *v, unsigned lo, unsigned hi, unsigned *out,
                    char e[CONFIG_ERR_MAX])
{
    return parse_bounded(key, v, lo, hi, " of milliseconds", out, e);
}

static int set_heartbeat(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    return parse_ms("raft.heartbeat", v, 10, 10000, &c->raft_heartbeat_ms, e);
}

static int set_election(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    return parse_ms("raft.election", v, 30, 60000, &c->raft_election_ms, e);
}

static int set_stop_timeout(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    return parse_ms("stop.timeout", v, 100, 3600000, &c->stop_timeout_ms, e);
}

/* Entries applied between two state-machine snapshots (and log
 * compactions): fewer means a shorter log to replay on restart and smaller
 * catch-ups, more means fewer snapshot writes (etcd's --snapshot-count). */
static int set_snapshot_entries(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    char *end = NULL;
    errno = 0;
    unsigned long long n = (*v >= '0' && *v <= '9') ? strtoull(v, &end, 10) : 0;
    if (n < 1 || n > 100000000ULL || errno != 0 || *end != '\0')
        return format_error(e, "raft.snapshot.entries: \"%s\" is not a number from 1 to 100000000",
                            v);
    c->raft_snapshot_entries = n;
    return 0;
}

static int set_admin_addr(config_t *c, const char *v, char e[CONFIG_ERR_MAX]) { return store_string(&c->admin_addr, v, e); }
static int set_metrics_addr(config_t *c, const char *v, char e[CONFIG_ERR_MAX]) { return store_string(&c->metrics_addr, v, e); }
static int set_admin_token_file(config_t *c, const char *v, char e[CONFIG_ERR_MAX]) { return store_string(&c->admin_token_file, v, e); }

static int set_admin_on_raft_port(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
        c->admin_on_raft_port = 1;
    else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
        c->admin_on_raft_port = 0;
    else
        return format_error(e, "admin.on.raft.port: \"%s\" is not true or false", v);
    return 0;
}

/* A whole number in [lo, hi] into *out. */
static int parse_uint(const char *key, const char *v, unsigned lo, unsigned hi, unsigned *out,
                      char e[CONFIG_ERR_MAX])
{
    return parse_bounded(key, v, lo, hi, "", out, e);
}

static int set_tcp_max_conns(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    return parse_uint("dns.tcp.max.conns", v, 1, 65536, &c->dns_tcp_max_conns, e);
}

static int set_tcp_idle(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    return parse_ms("dns.tcp.idle.timeout", v, 100, 3600000, &c->dns_tcp_idle_ms, e);
}

static int set_tcp_message(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    return parse_ms("dns.tcp.message.timeout", v, 100, 600000, &c->dns_tcp_message_ms, e);
}

static int set_tcp_buffer(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    return parse_uint("dns.tcp.buffer.mib", v, 1, 65536, &c->dns_tcp_buffer_mib, e);
}

static int set_rrl_rate(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    return parse_uint("dns.rrl.rate", v, 0, 1000000, &c->dns_rrl_rate, e);
}

static int set_rrl_slip(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    return parse_uint("dns.rrl.slip", v, 0, 100, &c->dns_rrl_slip, e);
}

static int set_rrl_ipv4_prefix(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    return parse_uint("dns.rrl.ipv4.prefix", v, 1, 32, &c->dns_rrl_ipv4_prefix, e);
}

static int set_rrl_ipv6_prefix(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    return parse_uint("dns.rrl.ipv6.prefix", v, 1, 128, &c->dns_rrl_ipv6_prefix, e);
}

static int set_rrl_table_size(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    return parse_uint("dns.rrl.table.size", v, 2, 1u << 26, &c->dns_rrl_table_size, e);
}

static int set_update_timeout(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    return parse_uint("dns.update.timeout", v, 1, 600000, &c->dns_update_timeout_ms, e);
}

static int set_stale_policy(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    if (strcmp(v, "serve") == 0 || strcmp(v, "servfail") == 0) {
        c->dns_stale_policy = strcmp(v, "servfail") == 0;
        return 0;
    }
    return format_error(e, "dns.stale.policy: \"%s\" is not serve or servfail", v);
}

static int set_stale_max(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    return parse_uint("dns.stale.max", v, 1, 30u * 86400u, &c->dns_stale_max_s, e);
}

static int set_serial_policy(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    static const char *const names[] = { "increment", "unixtime", "dateserial" };
    for (unsigned i = 0; i < 3; i++)
        if (strcmp(v, names[i]) == 0) {
            c->zone_serial_policy = i;
            return 0;
        }
    return format_error(e, "zone.serial.policy: \"%s\" is not increment, unixtime or dateserial", v);
}

static int set_journal_max(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    return parse_uint("zone.journal.max", v, 1, 1000000, &c->zone_journal_max, e);
}

static int set_journal_max_mib(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    return parse_uint("zone.journal.max.mib", v, 1, 65536, &c->zone_journal_max_mib, e);
}

static int set_notify_retry(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    return parse_uint("notify.retry", v, 10, 3600000, &c->notify_retry_ms, e);
}

static int set_notify_retries(config_t *c, const char *v, char e[CONFIG_ERR_MAX])
{
    return parse_uint("notify.retries", v, 1, 100, &c->notify_retries, e);
}

static const option_t options[] = {
    { "id", "ID", "node id, unique in the cluster (required)", set_id },
    { "raft.addr", "HOST:PORT", "Raft peers and admin (kv ...) address (default \"" DEFAULT_RAFT_ADDR "\")", set_raft_addr },
    { "dns.addr", "HOST:PORT", "DNS address, UDP and TCP; \":PORT\" = every address (default \"" DEFAULT_DNS_ADDR "\")", set_dns_addr },
    { "zone.file", "FILE", "zone file to serve; repeat for several", add_zone_file },
    { "zone.serial.policy", "POLICY", "how an UPDATE moves the SOA serial: increment, unixtime or dateserial (default increment)", set_serial_policy },
    { "zone.journal.max", "N", "changesets kept per zone (for IXFR) (default 1000)", set_journal_max },
    { "zone.journal.max.mib", "MIB", "bytes of changesets kept per zone, in MiB (default 64)", set_journal_max_mib },
    { "raft.join", "HOST:PORT", "Raft address of a member to join (used when the data dir is empty)", set_raft_join },
    { "data.dir", "DIR", "Raft log, snapshots and state (default data/ID)", set_data_dir },
    { "raft.heartbeat", "MS", "leader heartbeat interval in ms (default 50)", set_heartbeat },
    { "raft.election", "MS", "election timeout in ms; each wait is drawn from [MS, 2*MS) (default 150)", set_election },
    { "raft.snapshot.entries", "N", "entries applied between state-machine snapshots and log compactions, or 64 MiB of log, whichever first (default 100000)", set_snapshot_entries },
    { "cluster.key.file", "FILE", "cluster key file: peers authenticate each other with it (make one with `dns-raft keygen`)", set_cluster_key_file },
    { "config", "FILE", "YAML file with the same keys as these flags (flags win)", set_config_file },
    { "log.level", "LEVEL", "trace, debug, info, warn, error or off (default info)", set_log_level },
    { "log.format", "FORMAT", "text (default) or json: one JSON object per line with time, level, module, node and message", set_log_format },
    { "dns.workers", "N", "UDP worker threads; 0 = one per CPU (default 0)", set_dns_workers },
    { "admin.addr", "HOST:PORT", "also serve the admin protocol here, e.g. 127.0.0.1:8400 (default: only on the Raft port)", set_admin_addr },
    { "admin.token.file", "FILE", "file holding the admin token; every admin connection must then `auth TOKEN` first (kv ping excepted)", set_admin_token_file },
    { "metrics.addr", "HOST:PORT", "serve /metrics (Prometheus), /health and /ready over HTTP here, e.g. 127.0.0.1:9153 (default: off)", set_metrics_addr },
    { "admin.on.raft.port", "BOOL", "serve the admin protocol on the Raft port too; false needs -admin.addr (default true)", set_admin_on_raft_port },
    { "dns.tcp.max.conns", "N", "DNS TCP connections; when full, the one served least recently is closed for a new one (default 256)", set_tcp_max_conns },
    { "dns.tcp.idle.timeout", "MS", "DNS TCP: close a connection with no query in progress (from accept or the last answer), or whose answers are not read, after MS (default 10000)", set_tcp_idle },
    { "dns.tcp.message.timeout", "MS", "DNS TCP: a query must arrive whole within MS of its first byte (default 2000)", set_tcp_message },
    { "dns.tcp.buffer.mib", "MIB", "DNS TCP: buffers across all connections, in MiB (default 32)", set_tcp_buffer },
    { "dns.rrl.rate", "N", "UDP response rate limit: responses per second per source prefix and response; 0 = off (default 0)", set_rrl_rate },
    { "dns.rrl.slip", "N", "every Nth rate-limited response is sent truncated (TC=1); 0 = drop all, 1 = truncate all (default 2)", set_rrl_slip },
    { "dns.rrl.ipv4.prefix", "BITS", "rate-limit IPv4 sources by this prefix length (default 24)", set_rrl_ipv4_prefix },
    { "dns.rrl.ipv6.prefix", "BITS", "rate-limit IPv6 sources by this prefix length (default 56)", set_rrl_ipv6_prefix },
    { "dns.rrl.table.size", "N", "rate-limit buckets (8 bytes each, rounded up to a power of two; default 262144)", set_rrl_table_size },
    { "stop.timeout", "MS", "after SIGTERM/SIGINT, exit with status 3 if the stop is not done in MS ms (default 10000)", set_stop_timeout },
    { "tsig.keyfile", "FILE", "TSIG keys, BIND format as tsig-keygen writes them; repeat for several", add_tsig_keyfile },
    { "dns.update.timeout", "MS", "an UPDATE not applied within MS is answered SERVFAIL (default 5000); who may UPDATE is the YAML `acl:` list", set_update_timeout },
    { "dns.stale.policy", "POLICY", "when no current leader has been heard for dns.stale.max: serve (keep answering from this node's copy) or servfail (default serve)", set_stale_policy },
    { "dns.stale.max", "SECONDS", "with dns.stale.policy servfail: answer SERVFAIL once stale longer than this (default 60)", set_stale_max },
    { "notify.retry", "MS", "an unanswered NOTIFY is sent again after MS, doubling up to 60 s (default 2000); whom to notify is the YAML `notify:` list", set_notify_retry },
    { "notify.retries", "N", "NOTIFY retransmissions before giving up on a serial (default 5)", set_notify_retries },
};
#define OPTION_COUNT (sizeof options / sizeof options[0])

static const option_t *find_option(const char *name, size_t len)
{
    for (size_t i = 0; i < OPTION_COUNT; i++)
        if (strlen(options[i].name) == len && memcmp(options[i].name, name, len) == 0)
            return &options[i];
    return NULL;
}

void config_init(config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->log_level = LOG_INFO;
    cfg->admin_on_raft_port = -1;
    cfg->dns_rrl_slip = 2;
    cfg->dns_stale_max_s = 60;
}

static int apply_defaults(config_t *cfg, char err[CONFIG_ERR_MAX])
{
    if (cfg->raft_addr == NULL && store_string(&cfg->raft_addr, DEFAULT_RAFT_ADDR, err) != 0)
        return -1;
    if (cfg->dns_addr == NULL && store_string(&cfg->dns_addr, DEFAULT_DNS_ADDR, err) != 0)
        return -1;
    return 0;
}

void config_free(config_t *cfg)
{
    free(cfg->id);
    free(cfg->raft_addr);
    free(cfg->dns_addr);
    free(cfg->raft_join);
    free(cfg->data_dir);
    free(cfg->config_file);
    free(cfg->cluster_key_file);
    free(cfg->admin_addr);
    free(cfg->metrics_addr);
    free(cfg->admin_token_file);
    clear_zone_files(cfg);
    clear_tsig_keyfiles(cfg);
    config_acl_free(cfg);
    config_notify_free(cfg);
    memset(cfg, 0, sizeof *cfg);
}

void config_usage(FILE *out, const char *prog)
{
    fprintf(out, "Usage: %s -id ID [flags]\n\nFlags (also -flag=value, --flag):\n", prog);
    for (size_t i = 0; i < OPTION_COUNT; i++)
        fprintf(out, "  -%s %s\n        %s\n", options[i].name, options[i].meta, options[i].help);
    fprintf(out, "  -config.check\n        check the flags, config file, keys, ACL and zone files, then exit "
                 "(0: all good, 2: the first problem is printed)\n"
                 "  -version\n        print the version and exit\n");
    fprintf(out, "  -h, -help\n        print this help\n\n"
                 "%s keygen prints a new cluster key file (for -cluster.key.file).\n", prog);
    fprintf(out, "\n"
                 "Signals: SIGHUP reloads the zone files; SIGINT/SIGTERM stop cleanly.\n");
}

/* ---- flags ---- */

typedef struct flag_value {
    const option_t *option;
    const char *value; /* points into argv */
} flag_value_t;

/* Splits argv into (option, value) pairs without applying them. */
static enum config_result tokenize_flags(int argc, char *const argv[], flag_value_t *out,
                                         size_t *count, bool *check, char err[CONFIG_ERR_MAX])
{
    *count = 0;
    bool check_only = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--") == 0) {
            if (i + 1 < argc) {
                format_error(err, "unexpected argument \"%s\" (all settings are flags)", argv[i + 1]);
                return CONFIG_ERROR;
            }
            break;
        }
        if (arg[0] != '-' || arg[1] == '\0') {
            format_error(err, "unexpected argument \"%s\" (all settings are flags)", arg);
            return CONFIG_ERROR;
        }
        const char *name = arg + (arg[1] == '-' ? 2 : 1);
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        if ((name_len == 1 && name[0] == 'h') || (name_len == 4 && memcmp(name, "help", 4) == 0))
            return CONFIG_HELP;
        if (!eq && strcmp(name, "version") == 0)
            return CONFIG_VERSION;
        if (!eq && strcmp(name, "config.check") == 0) {
            check_only = true; /* a switch: takes no value */
            continue;
        }
        const option_t *opt = name_len ? find_option(name, name_len) : NULL;
        if (opt == NULL) {
            format_error(err, "unknown flag %.*s (see -h)", (int)(name - arg + name_len), arg);
            return CONFIG_ERROR;
        }
        const char *value = eq ? eq + 1 : NULL;
        if (value == NULL) {
            if (i + 1 >= argc) {
                format_error(err, "flag -%s needs a value (%s)", opt->name, opt->meta);
                return CONFIG_ERROR;
            }
            value = argv[++i];
        }
        out[*count].option = opt;
        out[*count].value = value;
        (*count)++;
    }
    *check = check_only;
    return CONFIG_OK;
}

static int apply_flags(config_t *cfg, const flag_value_t *flags, size_t count,
                       char err[CONFIG_ERR_MAX])
{
    bool zone_files_from_flags = false, keyfiles_from_flags = false;
    for (size_t i = 0; i < count; i++) {
        const option_t *opt = flags[i].option;
        if (opt->set == add_zone_file && !zone_files_from_flags) {
            clear_zone_files(cfg); /* flags replace the config file's list */
            zone_files_from_flags = true;
        }
        if (opt->set == add_tsig_keyfile && !keyfiles_from_flags) {
            clear_tsig_keyfiles(cfg);
            keyfiles_from_flags = true;
        }
        char why[CONFIG_ERR_MAX];
        if (opt->set(cfg, flags[i].value, why) != 0)
            return format_error(err, "flag -%s: %s", opt->name, why);
    }
    return 0;
}

static const char *last_config_flag(const flag_value_t *flags, size_t count)
{
    const char *path = NULL;
    for (size_t i = 0; i < count; i++)
        if (flags[i].option->set == set_config_file)
            path = flags[i].value;
    return path;
}

enum config_result config_load(config_t *cfg, int argc, char *const argv[],
                               char err[CONFIG_ERR_MAX])
{
    config_init(cfg);
    err[0] = '\0';
    flag_value_t *flags = calloc((size_t)(argc > 0 ? argc : 1), sizeof *flags);
    if (flags == NULL) {
        format_error(err, "out of memory");
        return CONFIG_ERROR;
    }
    size_t count = 0;
    bool check = false;
    enum config_result result = tokenize_flags(argc, argv, flags, &count, &check, err);
    cfg->check_only = check;
    if (result == CONFIG_OK) {
        const char *yaml_path = last_config_flag(flags, count);
        if ((yaml_path != NULL && config_read_yaml(cfg, yaml_path, err) != 0) ||
            apply_flags(cfg, flags, count, err) != 0 || apply_defaults(cfg, err) != 0 ||
            config_validate(cfg, err) != 0)
            result = CONFIG_ERROR;
    }
    free(flags);
    return result;
}

/* ---- validation ---- */

static int check_address(const char *key, const char *value, char err[CONFIG_ERR_MAX])
{
    addr_spec_t spec;
    char why[ADDR_ERR_MAX];
    if (addr_spec_parse(value, &spec, why) != 0)
        return format_error(err, "%s: %s", key, why);
    return 0;
}

static bool id_char_ok(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '_' || ch == '.';
}

int config_validate(const config_t *cfg, char err[CONFIG_ERR_MAX])
{
    if (cfg->id == NULL || cfg->id[0] == '\0')
        return format_error(err, "missing -id (every node needs a unique id, e.g. -id id0)");
    size_t id_len = strlen(cfg->id);
    if (id_len > ID_MAX)
        return format_error(err, "id: longer than %d characters", ID_MAX);
    for (size_t i = 0; i < id_len; i++)
        if (!id_char_ok(cfg->id[i]))
            return format_error(err, "id \"%s\": use only letters, digits, '-', '_' and '.'", cfg->id);
    if (check_address("dns.addr", cfg->dns_addr, err) != 0 ||
        check_address("raft.addr", cfg->raft_addr, err) != 0)
        return -1;
    if (cfg->raft_join != NULL && check_address("raft.join", cfg->raft_join, err) != 0)
        return -1;
    if (cfg->admin_addr != NULL && check_address("admin.addr", cfg->admin_addr, err) != 0)
        return -1;
    if (cfg->metrics_addr != NULL && check_address("metrics.addr", cfg->metrics_addr, err) != 0)
        return -1;
    if (cfg->admin_on_raft_port == 0 && cfg->admin_addr == NULL)
        return format_error(err, "admin.on.raft.port false needs -admin.addr (else no admin port)");
    if (cfg->data_dir != NULL && cfg->data_dir[0] == '\0')
        return format_error(err, "data.dir: empty directory name");
    unsigned hb = cfg->raft_heartbeat_ms ? cfg->raft_heartbeat_ms : 50;
    unsigned el = cfg->raft_election_ms ? cfg->raft_election_ms : 150;
    if (hb >= el)
        return format_error(err, "raft.heartbeat (%u ms) must be shorter than raft.election (%u ms)",
                            hb, el);
    return 0;
}

/* ---- YAML ---- */

/* Parser state for one file; events are consumed in order. */
typedef struct yaml_reader {
    yaml_parser_t parser;
    const char *path;
    char *err;
    bool seen[OPTION_COUNT];
    bool seen_acl;
    bool seen_notify;
} yaml_reader_t;

static int next_event(yaml_reader_t *r, yaml_event_t *ev)
{
    if (yaml_parser_parse(&r->parser, ev))
        return 0;
    return format_error(r->err, "%s:%zu: %s", r->path, r->parser.problem_mark.line + 1,
                        r->parser.problem ? r->parser.problem : "invalid YAML");
}

static size_t event_line(const yaml_event_t *ev) { return ev->start_mark.line + 1; }

static int expect_event(yaml_reader_t *r, yaml_event_type_t type, const char *what)
{
    yaml_event_t ev;
    if (next_event(r, &ev) != 0)
        return -1;
    int rc = 0;
    if (ev.type != type)
        rc = format_error(r->err, "%s:%zu: expected %s", r->path, event_line(&ev), what);
    yaml_event_delete(&ev);
    return rc;
}

static int apply_yaml_scalar(yaml_reader_t *r, config_t *cfg, const option_t *opt,
                             const yaml_event_t *ev)
{
    const char *value = (const char *)ev->data.scalar.value;
    if (ev->data.scalar.length != strlen(value))
        return format_error(r->err, "%s:%zu: %s: NUL byte in value", r->path, event_line(ev), opt->name);
    if (value[0] == '\0')
        return format_error(r->err, "%s:%zu: %s: empty value", r->path, event_line(ev), opt->name);
    char why[CONFIG_ERR_MAX];
    if (opt->set(cfg, value, why) != 0)
        return format_error(r->err, "%s:%zu: %s", r->path, event_line(ev), why);
    return 0;
}

/* zone.file and tsig.keyfile may be lists of strings. */
static int apply_yaml_sequence(yaml_reader_t *r, config_t *cfg, const option_t *opt,
                               const yaml_event_t *start)
{
    if (!is_list_option(opt->set))
        return format_error(r->err, "%s:%zu: %s takes a single value, not a list", r->path,
                            event_line(start), opt->name);
    for (;;) {
        yaml_event_t ev;
        if (next_event(r, &ev) != 0)
            return -1;
        int rc = 0;
        bool done = ev.type == YAML_SEQUENCE_END_EVENT;
        if (!done && ev.type != YAML_SCALAR_EVENT)
            rc = format_error(r->err, "%s:%zu: %s: list items must be strings", r->path,
                              event_line(&ev), opt->name);
        else if (!done)
            rc = apply_yaml_scalar(r, cfg, opt, &ev);
        yaml_event_delete(&ev);
        if (rc != 0)
            return -1;
        if (done)
            return 0;
    }
}

static int apply_yaml_value(yaml_reader_t *r, config_t *cfg, const option_t *opt)
{
    yaml_event_t ev;
    if (next_event(r, &ev) != 0)
        return -1;
    int rc;
    if (ev.type == YAML_SCALAR_EVENT)
        rc = apply_yaml_scalar(r, cfg, opt, &ev);
    else if (ev.type == YAML_SEQUENCE_START_EVENT)
        rc = apply_yaml_sequence(r, cfg, opt, &ev);
    else
        rc = format_error(r->err, "%s:%zu: %s: expected a string%s", r->path, event_line(&ev),
                          opt->name, is_list_option(opt->set) ? " or a list of strings" : "");
    yaml_event_delete(&ev);
    return rc;
}

/* Reads key/value pairs until the end of the top-level mapping. */
static int read_mapping(yaml_reader_t *r, config_t *cfg)
{
    for (;;) {
        yaml_event_t ev;
        if (next_event(r, &ev) != 0)
            return -1;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        int rc = 0;
        const option_t *opt = NULL;
        if (ev.type != YAML_SCALAR_EVENT) {
            rc = format_error(r->err, "%s:%zu: expected a key", r->path, event_line(&ev));
        } else {
            const char *key = (const char *)ev.data.scalar.value;
            opt = find_option(key, ev.data.scalar.length);
            if (strcmp(key, "acl") == 0 && ev.data.scalar.length == 3) {
                /* Not a flag: a list of mappings (common/config_acl.c). */
                rc = r->seen_acl ? format_error(r->err, "%s:%zu: key \"acl\" given twice", r->path,
                                                event_line(&ev))
                                 : config_acl_read_yaml(cfg, &r->parser, r->path, r->err);
                r->seen_acl = true;
                yaml_event_delete(&ev);
                if (rc != 0)
                    return -1;
                continue;
            }
            if (strcmp(key, "notify") == 0 && ev.data.scalar.length == 6) {
                /* Not a flag: a list of mappings (common/config_notify.c). */
                rc = r->seen_notify
                         ? format_error(r->err, "%s:%zu: key \"notify\" given twice", r->path,
                                        event_line(&ev))
                         : config_notify_read_yaml(cfg, &r->parser, r->path, r->err);
                r->seen_notify = true;
                yaml_event_delete(&ev);
                if (rc != 0)
                    return -1;
                continue;
            }
            if (opt == NULL || opt->set == set_config_file)
                rc = format_error(r->err, "%s:%zu: unknown key \"%s\"", r->path, event_line(&ev), key);
            else if (r->seen[opt - options])
                rc = format_error(r->err, "%s:%zu: key \"%s\" given twice", r->path, event_line(&ev), key);
            else
                r->seen[opt - options] = true;
        }
        yaml_event_delete(&ev);
        if (rc != 0 || apply_yaml_value(r, cfg, opt) != 0)
            return -1;
    }
}

/* stream-start, then either an empty stream or one document holding one
 * mapping. */
static int read_document(yaml_reader_t *r, config_t *cfg)
{
    if (expect_event(r, YAML_STREAM_START_EVENT, "a YAML stream") != 0)
        return -1;
    yaml_event_t ev;
    if (next_event(r, &ev) != 0)
        return -1;
    yaml_event_type_t type = ev.type;
    yaml_event_delete(&ev);
    if (type == YAML_STREAM_END_EVENT)
        return 0; /* an empty file sets nothing */
    if (type != YAML_DOCUMENT_START_EVENT)
        return format_error(r->err, "%s: expected a YAML document", r->path);
    if (next_event(r, &ev) != 0)
        return -1;
    type = ev.type;
    size_t line = event_line(&ev);
    yaml_event_delete(&ev);
    if (type != YAML_MAPPING_START_EVENT)
        return format_error(r->err, "%s:%zu: expected a mapping of keys to values "
                            "(e.g. dns.addr: \":8600\")", r->path, line);
    if (read_mapping(r, cfg) != 0 ||
        expect_event(r, YAML_DOCUMENT_END_EVENT, "the end of the document") != 0 ||
        expect_event(r, YAML_STREAM_END_EVENT, "a single YAML document") != 0)
        return -1;
    return 0;
}

/* Opens the config file without ever blocking (a FIFO with no writer would
 * hang start-up, with SIGTERM already blocked) and only if it is a regular
 * file of at most CONFIG_FILE_MAX bytes, checked with fstat on the fd. */
#define CONFIG_FILE_MAX (1u << 20)
static FILE *open_config_file(const char *path, char err[CONFIG_ERR_MAX])
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        format_error(err, "cannot read config file %s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    const char *why = NULL;
    if (fstat(fd, &st) != 0)
        why = strerror(errno);
    else if (!S_ISREG(st.st_mode))
        why = "not a regular file";
    else if (st.st_size > (off_t)CONFIG_FILE_MAX)
        why = "larger than 1 MiB";
    FILE *f = why ? NULL : fdopen(fd, "rb");
    if (f == NULL) {
        format_error(err, "config file %s: %s", path, why ? why : strerror(errno));
        close(fd);
    }
    return f;
}

int config_read_yaml(config_t *cfg, const char *path, char err[CONFIG_ERR_MAX])
{
    FILE *f = open_config_file(path, err);
    if (f == NULL)
        return -1;
    yaml_reader_t r = { .path = path, .err = err };
    if (!yaml_parser_initialize(&r.parser)) {
        fclose(f);
        return format_error(err, "out of memory");
    }
    yaml_parser_set_input_file(&r.parser, f);
    int rc = read_document(&r, cfg);
    yaml_parser_delete(&r.parser);
    fclose(f);
    return rc;
}
