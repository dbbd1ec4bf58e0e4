/* kv/cluster_admin.c — admin command dispatch: `kv set/del/get` as
 * asynchronous node requests (answered from the Raft thread), `kv ping`
 * and errors at once, and the blocking `raft *` and `zone *` commands on a
 * worker thread each. Runs on the admin thread (kv/adminserver.c) and must
 * not block there. */
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

/* ---- admin commands ------------------------------------------------------------------- */

typedef struct replier {
    admin_server_call_t *call;
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
        say_error(r, o->res.msg[0] ? o->res.msg : kv_result_status_text(o->res.status));
    else
        say_word(r, "SUCCESS");
}

/* A `kv set` / `kv del` in flight: the asynchronous form of cluster_propose(). It
 * belongs to whichever thread runs its callback. */
typedef struct write_op {
    cluster_t *c;
    admin_server_call_t *call;
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

/* The node's answer to one attempt (on the Raft thread), under the same
 * policy as cluster_propose (cluster_write_retry). The retry needs no
 * pause: without a leader the node parks the request until one is known. */
static void write_attempt_done(void *arg, node_status_t st, uint8_t *reply, size_t reply_len)
{
    write_op_t *op = arg;
    outcome_t o = { .node = st };
    if (st == NODE_OK) {
        cluster_decode_result(reply, reply_len, &o.res);
        free(reply);
        write_op_end(op, &o);
        return;
    }
    free(reply);
    uint64_t now = clock_now_ms();
    if (cluster_write_retry(st, &op->maybe_applied, now, op->deadline_ms, &o.node)) {
        st = node_propose_async(op->c->node, op->cmd, op->len, (unsigned)(op->deadline_ms - now),
                                write_attempt_done, op);
        if (st == NODE_OK)
            return;
        /* Refused at once (shutting down, too big): answered as an attempt
         * that will not be retried. */
        (void)cluster_write_retry(st, &op->maybe_applied, now, now, &o.node);
    }
    write_op_end(op, &o);
}

static void start_write(cluster_t *c, admin_server_client_t *cl, const admin_cmd_t *cmd, admin_server_call_t *call)
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
    admin_server_call_t *call;
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

static void start_get(cluster_t *c, const admin_cmd_t *cmd, admin_server_call_t *call)
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
    char line[600];
    int n = snprintf(line, sizeof line,
             "id=%s role=%s term=%llu leader=%s leader_addr=%s commit=%llu applied=%llu "
             "last_index=%llu snapshot=%llu cluster=%s",
             c->name, raft_role_name(s.role), (unsigned long long)s.term,
             s.leader_name[0] ? s.leader_name : "none",
             s.leader_addr[0] ? s.leader_addr : "none", (unsigned long long)s.commit,
             (unsigned long long)s.applied, (unsigned long long)s.last_index,
             (unsigned long long)s.snapshot_index, s.cluster_id);
    const readiness_t *rd = c->o.readiness;
    if (n > 0 && (size_t)n < sizeof line)
        snprintf(line + n, sizeof line - (size_t)n, " ready=%s stale_seconds=%.3f\n",
                 rd == NULL || readiness_answering(rd) ? "yes" : "no",
                 rd ? readiness_stale_seconds(rd) : 0.0);
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

static void run_slow_command(void *arg, admin_server_call_t *call)
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

static void spawn_slow_command(cluster_t *c, const char *line, size_t len, admin_server_call_t *call)
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
void cluster_admin_exec(void *ctx, admin_server_client_t *cl, const char *line, size_t len,
                        admin_server_call_t *call)
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

void cluster_on_text_conn(void *ctx, int fd, const uint8_t *first, size_t len)
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
int cluster_setup_admin(cluster_t *c, const cluster_options_t *o, char *err, size_t err_len)
{
    if (o->admin_token_file) {
        bool loose = false;
        char why[ADMIN_AUTH_ERR_MAX];
        adminauth_token_t *t = admin_token_load(o->admin_token_file, &loose, why);
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
        if (!o->admin_off_raft_port && !adminauth_addr_is_loopback(o->raft_addr))
            log_warn("kv", "the admin protocol on the Raft port %s is open to anyone who can reach "
                     "it, without authentication (set -admin.token.file)", o->raft_addr);
        if (o->admin_addr && !adminauth_addr_is_loopback(o->admin_addr))
            log_warn("kv", "the admin address %s is beyond loopback without authentication "
                     "(set -admin.token.file)", o->admin_addr);
    }
    return 0;
}

