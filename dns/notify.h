/* dns/notify.h — NOTIFY out (RFC 1996): the leader tells the configured
 * secondaries of each zone that the zone changed, from a thread of its
 * own (never the Raft thread), over UDP.
 *
 * What to notify is a notify_conf_t, built at start from the YAML
 * `notify:` rules (common/config_notify.c):
 *
 *     notify:
 *       - zones: [foo.com.]
 *         targets: ["192.0.2.10:53", "[2001:db8::10]:53"]
 *         key: xfr-key          # optional: NOTIFYs signed with this TSIG key
 *
 * The notifier thread wakes every tick_ms (and when a NOTIFY is due or a
 * response arrives). Each time it asks leader_epoch() whether this node
 * leads (the callback lives in kv/: dns/ knows nothing of Raft), reads
 * each zone's SOA from the zone database (RCU, like a DNS worker), and lets
 * the scheduler (dns/notify_sched.h) decide what to send: so a change
 * from any source (UPDATE, a SIGHUP reload, a zone replace) is announced
 * once it is applied on the leader, i.e. committed. Responses are hostile
 * input: a response is taken only from the target's address and port,
 * with an id outstanding for that target, opcode NOTIFY, QR=1, the zone in
 * the question when there is one, and, when the target has a key, a valid
 * TSIG over our request's MAC (RFC 8945 §5.3). Anything else is counted
 * and ignored, with at most NOTIFY_LOG_BURST log lines a minute.
 *
 * Ownership: the conf belongs to the caller and must outlive the notifier
 * (it points into the TSIG key store, which must too); the zone database
 * handle too. */
#ifndef DNS_NOTIFY_H
#define DNS_NOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "dns/notify_sched.h"
#include "dns/tsig.h"
#include "zone/db.h"

#define NOTIFY_ERR_MAX 512
#define NOTIFY_MAX_TARGETS 64 /* per zone */
#define NOTIFY_LOG_BURST 10   /* lines about ignored responses per minute */

typedef struct notify_target {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char text[80];          /* as configured, for logs */
    const tsig_key_t *key;  /* or NULL: unsigned */
} notify_target_t;

typedef struct notify_zone {
    uint8_t name[NAME_MAX_WIRE]; /* lowercased */
    char text[NAME_MAX_TEXT];
    notify_target_t *targets;
    size_t n_targets;
} notify_zone_t;

typedef struct notify_conf {
    notify_zone_t *zones;
    size_t n_zones;
} notify_conf_t;

/* Parses "A.B.C.D:PORT", "[IPv6]:PORT" or a bare address (port 53).
 * Names are refused (NOTIFY goes to fixed addresses). 0 or -1 with err. */
int notify_parse_target(const char *text, struct sockaddr_storage *ss, socklen_t *len,
                        char err[NOTIFY_ERR_MAX]);
/* Adds one `notify:` rule: each zone (text names; "*" refused) gets each
 * target, signed with the named key (NULL: unsigned; it must be in keys).
 * A target given twice for one zone is an error. 0, or -1 with err (the
 * conf then keeps the rules added before). */
int notify_conf_add_rule(notify_conf_t *c, const char *const *zones, size_t n_zones,
                         const char *const *targets, size_t n_targets, const char *key,
                         const tsig_keystore_t *keys, char err[NOTIFY_ERR_MAX]);
size_t notify_conf_target_count(const notify_conf_t *c);
void notify_conf_free(notify_conf_t *c);

typedef struct notify_opts {
    const notify_conf_t *conf;
    zonedb_handle_t *db;
    /* Nonzero (and changing with each new term) while this node leads with
     * everything committed before applied; called on the notifier thread. */
    uint64_t (*leader_epoch)(void *arg);
    void *leader_arg;
    unsigned retry_ms, retry_max_ms, retries; /* 0: defaults (notify_sched.h) */
    unsigned tick_ms; /* how often zones are looked at; 0: 10 ms */
    /* Send from this address (numeric; the -dns.addr host, which is the
     * address secondaries know as their primary's), or NULL/"" for the
     * kernel's choice. Used for targets of its family only. */
    const char *source_host;
} notify_opts_t;

typedef struct notify notify_t;

/* Opens the UDP sockets and starts the thread. NULL with err. */
notify_t *notify_start(const notify_opts_t *o, char err[NOTIFY_ERR_MAX]);
/* Stops the thread and frees; NULL is fine. */
void notify_stop(notify_t *n);
/* The counters so far (any thread). */
notify_counters_t notify_counters(notify_t *n);

#endif
