/* common/config.h — the daemon's settings: command-line flags (Go `flag`
 * style, as the seed takes them) and an optional YAML file with the same
 * keys. Flags win over the file. Two flags take no value: -version (print
 * it and exit) and -config.check (check everything, start nothing).
 *
 * Flags: `-name value`, `-name=value`, `--name value`, `--name=value`; `-h`,
 * `-help`, `--help` ask for usage; `--` ends the flags. `-zone.file` may
 * repeat. YAML: a flat mapping whose keys are the flag names without the
 * dash (`dns.addr: ":8600"`); `zone.file` and `tsig.keyfile` are a string
 * or a list of strings, and may repeat as flags; any given as a flag
 * replaces the file's whole list. `acl` (YAML only) is a list of rules,
 * each a mapping (common/config_acl.c; dns/acl.h says what they mean):
 *
 *     acl:
 *       - zones: [foo.com.]      # or ["*"]; required
 *         actions: [update]      # update | transfer | notify; required
 *         key: update-key        # optional TSIG key name
 *         address: 127.0.0.0/8   # optional prefix
 *
 * `notify` (YAML only) is a list of rules too (common/config_notify.c;
 * dns/notify.h says what they mean):
 *
 *     notify:
 *       - zones: [foo.com.]                 # required
 *         targets: ["192.0.2.10:53"]        # required
 *         key: xfr-key                      # optional TSIG key name
 *
 * Ownership: a config_t owns every string it points to; config_free frees
 * them. */
#ifndef COMMON_CONFIG_H
#define COMMON_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#define CONFIG_ERR_MAX 512
#define CONFIG_MAX_ZONE_FILES 256
#define CONFIG_MAX_TSIG_KEYFILES 64
#define CONFIG_MAX_WORKERS 1024
#define CONFIG_MAX_ACL_RULES 4096
#define CONFIG_MAX_NOTIFY_RULES 4096

/* The actions of an ACL rule: the same bits as dns/acl.h's enum acl_action. */
#define CONFIG_ACL_UPDATE 1u
#define CONFIG_ACL_TRANSFER 2u
#define CONFIG_ACL_NOTIFY 4u

/* One `acl:` rule as written; main.c builds the dns/acl.h list from it
 * (names, prefixes and key names are checked there, at start-up). */
typedef struct config_acl_rule {
    char **zones;        /* "*" or zone names */
    size_t zone_count;
    unsigned actions;    /* CONFIG_ACL_* */
    char *key;           /* or NULL */
    char *address;       /* or NULL */
    size_t line;         /* in the YAML file, for messages */
} config_acl_rule_t;

/* One `notify:` rule as written (common/config_notify.c); main.c builds
 * the dns/notify.h targets from it (names, addresses and key names are
 * checked there, at start-up). */
typedef struct config_notify_rule {
    char **zones;
    size_t zone_count;
    char **targets;      /* "A.B.C.D:PORT" or "[IPv6]:PORT" */
    size_t target_count;
    char *key;           /* TSIG key name, or NULL */
    size_t line;
} config_notify_rule_t;

typedef struct config {
    char *id;           /* node id; required */
    char *raft_addr;    /* Raft + admin port */
    char *dns_addr;     /* DNS UDP and TCP listen address */
    char *raft_join;    /* address of a member to join; NULL to bootstrap */
    char *data_dir;     /* Raft log and snapshots; NULL: data/<id> */
    char *config_file;  /* the YAML file read, if any */
    char *cluster_key_file; /* -cluster.key.file; NULL: no peer authentication */
    char **zone_files;
    size_t zone_file_count;
    /* Dynamic updates (issue #14): the SOA serial policy, 0 increment,
     * 1 unixtime, 2 dateserial (kv/command.h enum kv_cmd_serial_policy), and
     * the per-zone journal bounds (0: default). */
    unsigned zone_serial_policy;
    unsigned zone_journal_max;
    unsigned zone_journal_max_mib;
    char **tsig_keyfiles; /* BIND key files (dns/tsig.h), -tsig.keyfile repeated */
    size_t tsig_keyfile_count;
    int log_level;      /* enum log_level */
    int log_format;     /* enum log_format: 0 text, 1 json (-log.format) */
    int check_only;     /* -config.check: check the settings and zone files, then exit */
    unsigned dns_workers; /* 0: one per online CPU */
    unsigned raft_heartbeat_ms; /* 0: default */
    unsigned raft_election_ms;  /* 0: default */
    unsigned stop_timeout_ms;   /* -stop.timeout; 0: default (10000) */
    unsigned long long raft_snapshot_entries; /* 0: default (100000) */
    char *admin_addr;       /* own admin listener, or NULL (Raft port only) */
    char *admin_token_file; /* admin token file, or NULL (no admin auth) */
    char *metrics_addr;     /* -metrics.addr: HTTP /metrics /health /ready, or NULL (off) */
    int admin_on_raft_port; /* -1 unset (= yes), 0 no, 1 yes */
    /* DNS TCP limits and UDP response rate limiting (dns/server.h, dns/rrl.h);
     * 0: the default, except dns_rrl_rate (0: off) and dns_rrl_slip (set
     * by config_init to 2, since 0 means "drop every limited response"). */
    unsigned dns_tcp_max_conns, dns_tcp_idle_ms, dns_tcp_message_ms, dns_tcp_buffer_mib;
    unsigned dns_rrl_rate, dns_rrl_slip, dns_rrl_ipv4_prefix, dns_rrl_ipv6_prefix;
    unsigned dns_rrl_table_size;
    unsigned dns_update_timeout_ms; /* -dns.update.timeout; 0: default (5000) */
    /* Readiness (kv/readiness.h): 0 keep answering when stale, 1 SERVFAIL
     * once stale for more than dns_stale_max_s. */
    unsigned dns_stale_policy;
    unsigned dns_stale_max_s;
    config_acl_rule_t *acl_rules;   /* YAML `acl:` */
    size_t acl_rule_count;
    config_notify_rule_t *notify_rules; /* YAML `notify:` (NOTIFY out, RFC 1996) */
    size_t notify_rule_count;
    unsigned notify_retry_ms; /* -notify.retry; 0: default (2000) */
    unsigned notify_retries;  /* -notify.retries; 0: default (5) */
} config_t;

enum config_result {
    CONFIG_OK = 0,
    CONFIG_HELP,  /* -h given: print usage, exit 0 */
    CONFIG_ERROR, /* err says why: print it, exit 2 */
    CONFIG_VERSION, /* -version given: print the version, exit 0 */
};

/* Empty settings (no strings, level info). */
void config_init(config_t *cfg);
/* Fills cfg from argv (argv[0] is the program name) and the YAML file named
 * by -config, then checks the result (required id, address syntax, ...).
 * cfg is always initialised, so config_free is safe whatever the result. */
enum config_result config_load(config_t *cfg, int argc, char *const argv[],
                               char err[CONFIG_ERR_MAX]);
/* Reads one YAML file into cfg (used by config_load; exposed for tests).
 * Returns 0, or -1 with "file:line: reason" in err. */
int config_read_yaml(config_t *cfg, const char *path, char err[CONFIG_ERR_MAX]);
/* Checks the settings that every run needs. Returns 0 or -1 with err. */
int config_validate(const config_t *cfg, char err[CONFIG_ERR_MAX]);
void config_usage(FILE *out, const char *prog);
void config_free(config_t *cfg);

#endif
