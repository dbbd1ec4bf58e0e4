/* kv/cluster.c — the replicated service of one daemon (see cluster.h):
 * state-machine adapters for the Raft node, the admin commands, the zone
 * loader thread and the join thread.
 *
 * Threads: the Raft thread (inside raft/node.c) applies entries to the state
 * machine through fsm_*; the admin thread (kv/adminserver.c) runs
 * admin_exec, which must not block: `kv set/del/get` start asynchronous
 * node requests whose callbacks (on the Raft thread) write the reply and
 * end the call, `kv ping` and errors are answered at once, and the rare
 * commands that block (raft *, zone *) run on a worker thread each; the
 * loader thread loads zone files; the join thread asks an existing member
 * to add this node. Apart from the Raft thread, all of them only call
 * thread-safe node_* and sm_* readers. */
#include "kv/cluster.h"

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
#include "kv/sm_zonedb.h"
#include "kv/statemachine.h"
#include "raft/authjoin.h"
#include "raft/node.h"
#include "common/clock.h"

enum {
    WRITE_TIMEOUT_MS = 5000,
    READ_TIMEOUT_MS = 5000,
    MEMBERSHIP_TIMEOUT_MS = 10000,
    RETRY_PAUSE_MS = 10, /* one Raft tick: failover is measured in these */
    CHUNK_TIMEOUT_RETRIES = 3,
    BACKOFF_MAX_MS = 5000,
    STOP_POLL_MS = 100, /* how soon a blocked joiner notices a stop */
};

struct cluster {
    cluster_options_t o;
    char name[64];
    sm_t *sm;
    node_t *node;
    admin_server_t *admin;
    pthread_mutex_t mu;
    pthread_cond_t cond;
    bool reload_wanted;
    bool stopping;
    pthread_t loader, joiner;
    bool loader_started, joiner_started;
    admin_client_t loader_client;
    char *join_token;     /* the admin token, sent by the join thread; or NULL */
    const char *loader_doing;   /* "parsing", "replicating" or NULL (idle); under mu */
    const char *loader_file;    /* the zone file it is about (a config string) */
};

static uint64_t random_u64(void)
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
        log_error("kv", "snapshot restore failed: %s", err ? err : "?");
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

/* ---- proposing commands ------------------------------------------------------------- */

typedef struct outcome {
    node_status_t node;  /* NODE_OK: res is valid */
    kv_result_t res;
} outcome_t;

/* A proposal's reply bytes (fsm_apply) as a result. */
static void decode_result(const uint8_t *reply, size_t reply_len, kv_result_t *res)
{
    kv_result_from_bytes(reply, reply_len, res);
}

/* A status worth another attempt with the same bytes before the deadline. */
static bool retryable(node_status_t st)
{
    return st == NODE_ENOLEADER || st == NODE_ELOST || st == NODE_EMAYBE;
}

/* Proposes until applied or the deadline passes. Retrying the same bytes is
 * safe: they carry (client id, seq), so the state machine applies them once
 * (thesis §6.3), and NODE_ELOST says the entry was not applied at all. */
static outcome_t propose(cluster_t *c, const uint8_t *cmd, size_t len, unsigned timeout_ms)
{
    outcome_t out = { .node = NODE_ETIMEOUT };
    uint64_t deadline = clock_now_ms() + timeout_ms;
    bool maybe_applied = false; /* an earlier attempt may still commit */
    for (;;) {
        uint64_t now = clock_now_ms();
        if (now >= deadline) {
            if (maybe_applied)
                out.node = NODE_ETIMEOUT; /* never claim "not applied" then */
            return out;
        }
        uint8_t *reply = NULL;
        size_t reply_len = 0;
        out.node = node_propose(c->node, cmd, len, (unsigned)(deadline - now), &reply, &reply_len);
        if (out.node == NODE_OK) {
            decode_result(reply, reply_len, &out.res);
            free(reply);
            return out;
        }
        free(reply);
        maybe_applied |= out.node == NODE_EMAYBE;
        if (!retryable(out.node)) {
            if (maybe_applied && out.node != NODE_ETIMEOUT)
                out.node = NODE_ETIMEOUT;
            return out;
        }
        clock_sleep_ms(RETRY_PAUSE_MS);
    }
}

/* ---- admin commands ------------------------------------------------------------------- */

typedef struct replier {
    admin_call_t *call;
} replier_t;

static void say(const replier_t *r, const char *text)
{
    admin_call_write(r->call, text, strlen(text));
}

static void say_error(const replier_t *r, const char *reason)
{
    char line[ADMIN_REASON_MAX + 16];
    if (admin_format_error(line, sizeof line, reason) > 0)
        say(r, line);
}

static void say_word(const replier_t *r, const char *word)
{
    char line[64];
    if (admin_format_word(line, sizeof line, word) > 0)
        say(r, line);
}

static void say_node_error(const replier_t *r, node_status_t st)
{
    if (st == NODE_ETIMEOUT)
        say_error(r, "timeout: the write may still commit");
    else
        say_error(r, node_status_text(st));
}

static void say_outcome(const replier_t *r, const outcome_t *o)
{
    if (o->node != NODE_OK)
        say_node_error(r, o->node);
    else if (o->res.status != KV_OK)
        say_error(r, o->res.msg[0] ? o->res.msg : kv_status_text(o->res.status));
    else
        say_word(r, "SUCCESS");
}

/* A `kv set` / `kv del` in flight: the asynchronous form of propose(). It
 * belongs to whichever thread runs its callback. */
typedef struct write_op {
    cluster_t *c;
    admin_call_t *call;
    uint8_t *cmd;          /* the encoded command, re-sent as is on a retry */
    size_t len;
    uint64_t deadline_ms;
    bool maybe_applied;    /* an earlier attempt may still commit */
} write_op_t;

static void write_op_end(write_op_t *op, const outcome_t *o)
{
    replier_t r = { op->call };
    say_outcome(&r, o);
    admin_call_end(op->call);
    free(op->cmd);
    free(op);
}

/* The node's answer to one attempt (on the Raft thread). Same rules as
 * propose(): retry the same bytes (session dedup applies them once) while
 * the leader is unknown or changed, and never answer "not applied" once an
 * attempt may have committed. The retry needs no pause: without a leader
 * the node parks the request until one is known. */
static void write_attempt_done(void *arg, node_status_t st, uint8_t *reply, size_t reply_len)
{
    write_op_t *op = arg;
    outcome_t o = { .node = st };
    if (st == NODE_OK) {
        decode_result(reply, reply_len, &o.res);
        free(reply);
        write_op_end(op, &o);
        return;
    }
    free(reply);
    op->maybe_applied |= st == NODE_EMAYBE;
    uint64_t now = clock_now_ms();
    if (retryable(st) && now < op->deadline_ms) {
        st = node_propose_async(op->c->node, op->cmd, op->len, (unsigned)(op->deadline_ms - now),
                                write_attempt_done, op);
        if (st == NODE_OK)
            return;
    }
    o.node = op->maybe_applied ? NODE_ETIMEOUT : st;
    write_op_end(op, &o);
}

static void start_write(cluster_t *c, admin_client_t *cl, const admin_cmd_t *cmd, admin_call_t *call)
{
    replier_t r = { call };
    write_op_t *op = calloc(1, sizeof *op);
    const char *err = NULL;
    int rc = -1;
    if (op)
        rc = cmd->op == ADMIN_KV_SET
            ? kv_cmd_encode_set(cl->id, ++cl->seq, (const uint8_t *)cmd->key, cmd->key_len,
                                (const uint8_t *)cmd->value, cmd->value_len, &op->cmd, &op->len, &err)
            : kv_cmd_encode_del(cl->id, ++cl->seq, (const uint8_t *)cmd->key, cmd->key_len,
                                &op->cmd, &op->len, &err);
    if (rc != 0) {
        say_error(&r, !op ? "out of memory" : err ? err : "cannot encode command");
        admin_call_end(call);
        if (op)
            free(op->cmd);
        free(op);
        return;
    }
    op->c = c;
    op->call = call;
    op->deadline_ms = clock_now_ms() + WRITE_TIMEOUT_MS;
    node_status_t st = node_propose_async(c->node, op->cmd, op->len, WRITE_TIMEOUT_MS,
                                          write_attempt_done, op);
    if (st != NODE_OK) {
        outcome_t o = { .node = st };
        write_op_end(op, &o);
    }
}

/* The value of key as this node's state machine has it now. */
static void say_value(cluster_t *c, const uint8_t *key, size_t key_len, const replier_t *r)
{
    uint8_t *value = NULL;
    size_t len = 0;
    int found = sm_kv_get(c->sm, key, key_len, &value, &len);
    if (found < 0) {
        say_error(r, "out of memory");
    } else if (found == 0) {
        say_error(r, NULL); /* exactly "ERROR": the key does not exist */
    } else {
        /* With its real length: a value stored before NULs were refused
         * (kv/admin.h) comes back whole, and its LF is never lost. */
        char *line = malloc(len + 2);
        int n = line ? admin_format_value(line, len + 2, value, len) : -1;
        if (n > 0)
            admin_call_write(r->call, line, (size_t)n);
        else
            say_error(r, "out of memory");
        free(line);
    }
    free(value);
}

/* A `kv get` waiting for its read barrier. */
typedef struct read_op {
    cluster_t *c;
    admin_call_t *call;
    size_t key_len;
    uint8_t key[];
} read_op_t;

/* On the Raft thread, between batches: the barrier passed (thesis §6.4:
 * this node has applied everything committed when the read arrived), so
 * the state machine read now is linearizable. */
static void read_barrier_done(void *arg, node_status_t st, uint8_t *unused, size_t unused_len)
{
    read_op_t *op = arg;
    replier_t r = { op->call };
    free(unused);
    (void)unused_len;
    if (st != NODE_OK)
        say_error(&r, st == NODE_ETIMEOUT ? "timeout" : node_status_text(st));
    else
        say_value(op->c, op->key, op->key_len, &r);
    admin_call_end(op->call);
    free(op);
}

static void start_get(cluster_t *c, const admin_cmd_t *cmd, admin_call_t *call)
{
    replier_t r = { call };
    if (c->o.unsafe_local_reads) {
        say_value(c, (const uint8_t *)cmd->key, cmd->key_len, &r);
        admin_call_end(call);
        return;
    }
    read_op_t *op = malloc(sizeof *op + cmd->key_len);
    if (!op) {
        say_error(&r, "out of memory");
        admin_call_end(call);
        return;
    }
    op->c = c;
    op->call = call;
    op->key_len = cmd->key_len;
    memcpy(op->key, cmd->key, cmd->key_len);
    node_status_t st = node_read_barrier_async(c->node, READ_TIMEOUT_MS, read_barrier_done, op);
    if (st != NODE_OK) {
        say_error(&r, node_status_text(st));
        admin_call_end(call);
        free(op);
    }
}

static void exec_status(cluster_t *c, const replier_t *r)
{
    node_status_info_t s;
    node_status_t st = node_status(c->node, &s);
    if (st != NODE_OK) {
        say_error(r, node_status_text(st));
        return;
    }
    char line[512];
    snprintf(line, sizeof line,
             "id=%s role=%s term=%llu leader=%s leader_addr=%s commit=%llu applied=%llu "
             "last_index=%llu snapshot=%llu cluster=%s\n",
             c->name, raft_role_name(s.role), (unsigned long long)s.term,
             s.leader_name[0] ? s.leader_name : "none",
             s.leader_addr[0] ? s.leader_addr : "none", (unsigned long long)s.commit,
             (unsigned long long)s.applied, (unsigned long long)s.last_index,
             (unsigned long long)s.snapshot_index, s.cluster_id);
    say(r, line);
}

/* One line: "id0 127.0.0.1:8300 voter match=12 contact=0ms self; id1 ..." */
static void exec_peers(cluster_t *c, const replier_t *r)
{
    node_status_info_t s;
    node_status_t st = node_status(c->node, &s);
    if (st != NODE_OK) {
        say_error(r, node_status_text(st));
        return;
    }
    char line[8192];
    size_t off = 0;
    for (size_t i = 0; i < s.n_peers && off < sizeof line - 300; i++) {
        const node_peer_status_t *p = &s.peers[i];
        char contact[32];
        if (p->last_contact_ms < 0)
            snprintf(contact, sizeof contact, "never");
        else
            snprintf(contact, sizeof contact, "%lldms", (long long)p->last_contact_ms);
        off += (size_t)snprintf(line + off, sizeof line - off, "%s%s %s %s match=%llu contact=%s%s",
                                i ? "; " : "", p->name, p->addr, p->voter ? "voter" : "learner",
                                (unsigned long long)p->match, contact, p->self ? " self" : "");
    }
    snprintf(line + off, sizeof line - off, "\n");
    say(r, line);
}

static void exec_membership(cluster_t *c, const admin_cmd_t *cmd, const replier_t *r)
{
    char id[64] = "", addr[128] = "";
    if (cmd->id_len >= sizeof id || cmd->addr_len >= sizeof addr) {
        say_error(r, "argument too long");
        return;
    }
    if (cmd->id_len) /* absent arguments are NULL: no memcpy from NULL */
        memcpy(id, cmd->id, cmd->id_len);
    if (cmd->addr_len)
        memcpy(addr, cmd->addr, cmd->addr_len);
    node_status_t st;
    if (cmd->op == ADMIN_RAFT_JOIN)
        st = node_add_server(c->node, id, addr, MEMBERSHIP_TIMEOUT_MS);
    else if (cmd->op == ADMIN_RAFT_LEAVE)
        st = node_remove_server(c->node, id, MEMBERSHIP_TIMEOUT_MS);
    else
        st = node_transfer(c->node, id[0] ? id : NULL, MEMBERSHIP_TIMEOUT_MS);
    if (st == NODE_OK)
        say_word(r, "SUCCESS");
    else
        say_error(r, st == NODE_EINVAL && cmd->op == ADMIN_RAFT_JOIN
                         ? "that id is a member with another address (raft leave it first)"
                         : node_status_text(st));
}

typedef struct zone_list_acc {
    char *line;
    size_t off, cap;
} zone_list_acc_t;

static void add_zone_info(void *arg, const sm_zone_info_t *info)
{
    zone_list_acc_t *a = arg;
    char one[NAME_MAX_TEXT + 256];
    int n = admin_format_zone_info(one, sizeof one, info);
    if (n <= 0)
        return;
    one[n - 1] = '\0'; /* drop its LF: zones share one line */
    size_t need = a->off + (size_t)n + 3;
    if (need > a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 1024;
        while (cap < need)
            cap *= 2;
        char *l = realloc(a->line, cap);
        if (!l)
            return;
        a->line = l;
        a->cap = cap;
    }
    a->off += (size_t)snprintf(a->line + a->off, a->cap - a->off, "%s%s", a->off ? "; " : "", one);
}

static void exec_zone_list(cluster_t *c, const replier_t *r)
{
    zone_list_acc_t a = { 0 };
    sm_zone_list(c->sm, add_zone_info, &a);
    if (!a.line) {
        say(r, "no zones\n");
        return;
    }
    a.line[a.off] = '\0';
    say(r, a.line);
    say(r, "\n");
    free(a.line);
}

typedef struct zone_show_ctx {
    const replier_t *r;
} zone_show_ctx_t;

static void show_zone(void *arg, const zone_t *zone, const sm_zone_info_t *info)
{
    zone_show_ctx_t *z = arg;
    char *line = malloc(ADMIN_RR_TEXT_MAX);
    if (!line)
        return;
    char origin[NAME_MAX_TEXT];
    name_to_text(zone->origin, origin, sizeof origin);
    snprintf(line, ADMIN_RR_TEXT_MAX, "$ORIGIN %s\n", origin);
    say(z->r, line);
    for (size_t i = 0; i < zone->count; i++)
        if (admin_format_rr(line, ADMIN_RR_TEXT_MAX, &zone->rrs[i]) > 0)
            say(z->r, line);
    /* A zone-file comment ends the reply, so the output loads as a zone. */
    snprintf(line, ADMIN_RR_TEXT_MAX, ";; end of zone %s: %zu records, serial %u, loaded by %s\n",
             origin, zone->count, (unsigned)info->serial, info->node_id);
    say(z->r, line);
    free(line);
}

static void exec_zone_show(cluster_t *c, const admin_cmd_t *cmd, const replier_t *r)
{
    zone_show_ctx_t z = { r };
    if (!sm_zone_with(c->sm, cmd->origin, show_zone, &z))
        say_error(r, "no such zone");
}

/* A command that blocks, run on a worker thread (admin_call_spawn). */
typedef struct slow_cmd {
    cluster_t *c;
    size_t len;
    char line[];
} slow_cmd_t;

static void run_slow_command(void *arg, admin_call_t *call)
{
    slow_cmd_t *job = arg;
    cluster_t *c = job->c;
    replier_t r = { call };
    admin_cmd_t cmd;
    char reason[ADMIN_REASON_MAX];
    if (admin_parse(job->line, job->len, &cmd, reason) != 0) {
        say_error(&r, reason); /* cannot happen: it parsed before */
    } else {
        switch (cmd.op) {
        case ADMIN_RAFT_STATUS: exec_status(c, &r); break;
        case ADMIN_RAFT_PEERS: exec_peers(c, &r); break;
        case ADMIN_RAFT_JOIN:
        case ADMIN_RAFT_LEAVE:
        case ADMIN_RAFT_TRANSFER: exec_membership(c, &cmd, &r); break;
        case ADMIN_ZONE_LIST: exec_zone_list(c, &r); break;
        case ADMIN_ZONE_SHOW: exec_zone_show(c, &cmd, &r); break;
        default: say_error(&r, "not a blocking command"); break;
        }
    }
    admin_call_end(call);
    free(job);
}

static void spawn_slow_command(cluster_t *c, const char *line, size_t len, admin_call_t *call)
{
    replier_t r = { call };
    slow_cmd_t *job = malloc(sizeof *job + len);
    if (job) {
        job->c = c;
        job->len = len;
        memcpy(job->line, line, len); /* the admin thread reuses line's buffer */
    }
    if (!job || admin_call_spawn(call, run_slow_command, job) != 0) {
        free(job);
        say_error(&r, "cannot start a thread for this command");
        admin_call_end(call);
    }
}

/* On the admin thread: must not block (see the file comment). */
static void admin_exec(void *ctx, admin_client_t *cl, const char *line, size_t len,
                       admin_call_t *call)
{
    cluster_t *c = ctx;
    replier_t r = { call };
    admin_cmd_t cmd;
    char reason[ADMIN_REASON_MAX];
    if (admin_parse(line, len, &cmd, reason) != 0) {
        say_error(&r, reason);
        admin_call_end(call);
        return;
    }
    switch (cmd.op) {
    case ADMIN_KV_PING:
        say_word(&r, "PONG");
        admin_call_end(call);
        break;
    case ADMIN_KV_SET:
    case ADMIN_KV_DEL: start_write(c, cl, &cmd, call); break;
    case ADMIN_KV_GET: start_get(c, &cmd, call); break;
    case ADMIN_RAFT_JOIN:
        if (c->o.cluster_key) { /* a join must prove the key (raft/authjoin.h) */
            say_error(&r, "join needs the cluster key: use -raft.join");
            admin_call_end(call);
            break;
        }
        spawn_slow_command(c, line, len, call);
        break;
    default: spawn_slow_command(c, line, len, call); break;
    }
}

static void on_text_conn(void *ctx, int fd, const uint8_t *first, size_t len)
{
    cluster_t *c = ctx;
    if (c->o.admin_off_raft_port) {
        static const char no[] = "ERROR the admin protocol is served on -admin.addr only\n";
        ssize_t ignored = send(fd, no, sizeof no - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)ignored;
        close(fd);
        return;
    }
    admin_server_take(c->admin, fd, first, len);
}

/* The token, the own listener, and a warning for every admin port that
 * answers without authentication beyond loopback. 0, or -1 with err. */
static int setup_admin(cluster_t *c, const cluster_options_t *o, char *err, size_t err_len)
{
    if (o->admin_token_file) {
        bool loose = false;
        char why[ADMIN_AUTH_ERR_MAX];
        admin_token_t *t = admin_token_load(o->admin_token_file, &loose, why);
        if (!t) {
            snprintf(err, err_len, "admin.token.file: %s", why);
            return -1;
        }
        if (loose)
            log_warn("kv", "admin.token.file %s can be read by its group or others (chmod 600 it)",
                     o->admin_token_file);
        c->join_token = strdup(admin_token_text(t));
        admin_server_set_token(c->admin, t);
    }
    if (o->admin_addr) {
        int port = admin_server_listen(c->admin, o->admin_addr, err, err_len);
        if (port < 0)
            return -1;
        log_info("kv", "admin protocol on %s (port %d)%s", o->admin_addr, port,
                 o->admin_token_file ? ", token required" : "");
    }
    if (!o->admin_token_file) {
        if (!o->admin_off_raft_port && !admin_addr_is_loopback(o->raft_addr))
            log_warn("kv", "the admin protocol on the Raft port %s is open to anyone who can reach "
                     "it, without authentication (set -admin.token.file)", o->raft_addr);
        if (o->admin_addr && !admin_addr_is_loopback(o->admin_addr))
            log_warn("kv", "the admin address %s is beyond loopback without authentication "
                     "(set -admin.token.file)", o->admin_addr);
    }
    return 0;
}

/* ---- zone loading --------------------------------------------------------------------- */

static bool stopping(cluster_t *c)
{
    pthread_mutex_lock(&c->mu);
    bool s = c->stopping;
    pthread_mutex_unlock(&c->mu);
    return s;
}

/* Sleeps up to ms, waking early on stop. */
static void pause_ms(cluster_t *c, unsigned ms)
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
    admin_client_t *cl = &c->loader_client;
    kv_chunks_t chunks;
    const char *err = NULL;
    uint64_t load_id = random_u64();
    if (kv_zone_encode_chunks(zone, c->name, load_id, cl->id, cl->seq + 1, 0, &chunks, &err) != 0) {
        log_error("zone", "%s: cannot encode zone: %s", path, err ? err : "?");
        return -1;
    }
    cl->seq += chunks.count;
    int rc = 0;
    for (size_t i = 0; i < chunks.count && rc == 0; i++) {
        outcome_t o = propose(c, chunks.data[i], chunks.len[i], WRITE_TIMEOUT_MS * 2);
        /* A timeout says the chunk may still apply: applying the last chunk
         * of a large zone builds the whole zone and can outlast the timeout
         * on a busy machine. Ask again with the same bytes (the session
         * dedup answers a chunk that did apply with its recorded result)
         * before starting the whole load over, which would only repeat the
         * same long apply. */
        for (int again = 0; o.node == NODE_ETIMEOUT && again < CHUNK_TIMEOUT_RETRIES && !stopping(c);
             again++) {
            log_info("zone", "%s: chunk %zu/%zu not confirmed yet; asking again", path, i + 1,
                     chunks.count);
            o = propose(c, chunks.data[i], chunks.len[i], WRITE_TIMEOUT_MS * 2);
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
                     chunks.count, o.res.msg[0] ? o.res.msg : kv_status_text(o.res.status));
            rc = 1;
        }
    }
    kv_chunks_free(&chunks);
    return rc;
}

/* What the loader is doing, for the stop guard's log line. */
static void loader_doing(cluster_t *c, const char *what, const char *path)
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
    loader_doing(c, "parsing", path);
    if (c->o.test_stuck_loader)
        hang_like_a_dead_mount();
    zone_t *zone = zone_parse_file(path, NULL, err);
    loader_doing(c, "replicating", path);
    if (!zone) {
        log_error("zone", "%s (the replicated version stays)", err);
        return;
    }
    char origin[NAME_MAX_TEXT];
    name_to_text(zone->origin, origin, sizeof origin);
    unsigned backoff = 100;
    for (int attempt = 1; !stopping(c); attempt++) {
        int rc = submit_zone(c, zone, path);
        if (rc == 0)
            log_info("zone", "%s: zone %s replicated (serial %u, %zu records)", path, origin,
                     (unsigned)zone->serial, zone->count);
        if (rc <= 0)
            break;
        log_info("zone", "%s: waiting to load zone %s (attempt %d, next in %u ms)", path, origin,
                 attempt, backoff);
        pause_ms(c, backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    zone_free(zone);
}

static void *loader_thread(void *arg)
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
        for (size_t i = 0; i < c->o.n_zone_files && !stopping(c); i++)
            load_zone_file(c, c->o.zone_files[i]);
        loader_doing(c, NULL, NULL);
    }
}

void cluster_reload(cluster_t *c)
{
    pthread_mutex_lock(&c->mu);
    c->reload_wanted = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

/* ---- joining -------------------------------------------------------------------------- */

/* Waits up to timeout_ms for events on fd, in short slices so that a stop
 * is noticed within STOP_POLL_MS: > 0 ready, 0 timed out or stopping, < 0
 * error. The joiner never blocks where cluster_stop cannot reach it. */
static int wait_fd(cluster_t *c, int fd, short events, unsigned timeout_ms)
{
    uint64_t deadline = clock_now_ms() + timeout_ms;
    for (;;) {
        uint64_t now = clock_now_ms();
        if (now >= deadline || stopping(c))
            return 0;
        unsigned left = (unsigned)(deadline - now);
        struct pollfd p = { .fd = fd, .events = events };
        int rc = poll(&p, 1, left < STOP_POLL_MS ? (int)left : STOP_POLL_MS);
        if (rc != 0 && !(rc < 0 && errno == EINTR))
            return rc;
    }
}

/* Connects to a member's Raft port without blocking, so that a member that
 * never answers the SYN cannot hold a stop; returns the fd (non-blocking:
 * the one short line sent on it fits an empty socket buffer, and every read
 * follows a wait_fd) or -1. */
static int dial(cluster_t *c, const char *spec)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (addr_resolve_dial(spec, &ss, &len) != 0)
        return -1;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    int err = 0;
    socklen_t elen = sizeof err;
    if (connect(fd, (struct sockaddr *)&ss, len) != 0 &&
        (errno != EINPROGRESS || wait_fd(c, fd, POLLOUT, MEMBERSHIP_TIMEOUT_MS) <= 0 ||
         getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0 || err != 0)) {
        close(fd);
        return -1;
    }
    return fd;
}

/* The address to announce: -raft.addr when it names a host, otherwise the
 * local address this connection to the cluster uses, with our port. */
static void advertised_addr(cluster_t *c, int fd, char *out, size_t cap)
{
    addr_spec_t a;
    char err[ADDR_ERR_MAX];
    if (addr_spec_parse(c->o.raft_addr, &a, err) == 0 && !a.any) {
        snprintf(out, cap, "%s", c->o.raft_addr);
        return;
    }
    const char *mine = node_address(c->node);
    const char *port = strrchr(mine, ':');
    addr_local_endpoint(fd, port ? (uint16_t)atoi(port + 1) : 0, out, cap);
}

/* One "raft join" exchange; true when the member answered SUCCESS. */
static bool try_join(cluster_t *c, char *answer, size_t cap)
{
    snprintf(answer, cap, "cannot connect");
    int fd = dial(c, c->o.join);
    if (fd < 0)
        return false;
    char addr[160], line[ADMIN_TOKEN_MAX + 512];
    advertised_addr(c, fd, addr, sizeof addr);
    if (c->o.cluster_key) {
        raft_hello_t self = { .id = node_id_from_name(c->name) };
        snprintf(self.name, sizeof self.name, "%s", c->name);
        snprintf(self.addr, sizeof self.addr, "%.*s", (int)sizeof self.addr - 1, addr);
        bool joined = authjoin_exchange(fd, c->o.cluster_key, &self, MEMBERSHIP_TIMEOUT_MS + 2000,
                                        answer, cap);
        close(fd);
        return joined;
    }
    /* With an admin token, the member must have the same one: authenticate
     * first (its SUCCESS is the first reply line, skipped below). */
    int n = snprintf(line, sizeof line, "%s%s%sraft join %s %s\n", c->join_token ? "auth " : "",
                     c->join_token ? c->join_token : "", c->join_token ? "\n" : "", c->name, addr);
    int skip = c->join_token ? 1 : 0;
    bool ok = false;
    if (send(fd, line, (size_t)n, MSG_NOSIGNAL) == n) {
        size_t got = 0;
        while (got < cap - 1 && wait_fd(c, fd, POLLIN, MEMBERSHIP_TIMEOUT_MS + 2000) > 0) {
            ssize_t k = read(fd, answer + got, cap - 1 - got);
            if (k <= 0)
                break;
            got += (size_t)k;
            char *nl = memchr(answer, '\n', got);
            if (nl && skip > 0 && strncmp(answer, "SUCCESS\n", 8) == 0) {
                skip--;
                got -= (size_t)(nl + 1 - answer);
                memmove(answer, nl + 1, got);
                nl = memchr(answer, '\n', got);
            }
            if (nl)
                break;
        }
        answer[got] = '\0';
        answer[strcspn(answer, "\r\n")] = '\0';
        if (got == 0)
            snprintf(answer, cap, "no answer%s", stopping(c) ? " (stopping)" : "");
        ok = strcmp(answer, "SUCCESS") == 0;
    }
    close(fd);
    return ok;
}

static void *joiner_thread(void *arg)
{
    cluster_t *c = arg;
    unsigned backoff = 200;
    char answer[256];
    while (!stopping(c)) {
        if (try_join(c, answer, sizeof answer)) {
            log_info("raft", "joined the cluster through %s", c->o.join);
            return NULL;
        }
        log_warn("raft", "join through %s: %s; retrying in %u ms", c->o.join, answer, backoff);
        pause_ms(c, backoff);
        backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
    }
    return NULL;
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
    c->loader_client.id = random_u64();
    c->sm = sm_new(sm_zonedb_publish, o->zonedb);
    c->admin = admin_server_new(admin_exec, c);
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
        .fsm = { c, fsm_apply, fsm_snapshot, fsm_restore, fsm_check },
        .on_text_conn = on_text_conn, .text_ctx = c, .cluster_key = o->cluster_key,
    };
    if (setup_admin(c, o, err, err_len) != 0) {
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
        c->joiner_started = pthread_create(&c->joiner, NULL, joiner_thread, c) == 0;
    } else if (o->join) {
        log_info("raft", "data dir %s holds this node's state: resuming (no join needed)",
                 o->data_dir);
    }
    c->reload_wanted = true; /* load the zone files once at start */
    c->loader_started = pthread_create(&c->loader, NULL, loader_thread, c) == 0;
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
