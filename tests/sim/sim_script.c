/* tests/sim/sim_script.c — raft-sim --script: the interpreter of scripted
 * scenarios: the command language and the transcript (see sim_script.h for
 * the file format, docs/raft.md "Scripted scenarios" for the commands;
 * sim_script_world.c holds the cluster the commands drive).
 *
 * A script drives the same simulated servers as the random runs
 * (sim_node.c: core, disk, Ready loop; sim_net.c: the network; sim_check.c:
 * every safety property after every step), but nothing happens unless a
 * command says so: no random faults, no clients, a disk that never makes
 * anyone wait, messages that sit in the network until `deliver` or
 * `stabilize`. The only randomness left is each core's election timeout
 * and the order of messages delivered together, both fixed by the seed, so
 * a script always prints the same transcript. Ownership: one struct script
 * owns its world; a command's output is collected in a memory stream and
 * copied into the transcript. */
#include "tests/sim/sim_script.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tests/sim/sim_script_int.h"

#define MAX_ARGS 24
#define MAX_LINE 512
/* The client id proposals carry: above SIM_CLIENTS, so no simulated client
 * claims them (sim_clients_on_apply). */
#define SCRIPT_CLIENT SIM_MAX_CLIENTS

/* ---- command arguments ---------------------------------------------------- */

struct cmd {
    int argc;
    char *argv[MAX_ARGS];
};

static bool parse_u64(const char *v, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-')
        return false;
    *out = x;
    return true;
}

/* "n3" -> slot 2, or -1 (and a message) if not a node of this cluster. */
static int node_arg(struct script *s, const char *a)
{
    uint64_t id;
    if (a[0] == 'n' && parse_u64(a + 1, &id) && id >= 1 && s->w && id <= (uint64_t)s->w->n)
        return (int)id - 1;
    fprintf(s->out, "error: '%s' is not a node (n1..n%d)\n", a, s->w ? s->w->n : 0);
    return -1;
}

/* key=value argument: value if arg starts with key=, else NULL. */
static const char *kv_arg(const char *arg, const char *key)
{
    size_t n = strlen(key);
    return strncmp(arg, key, n) == 0 && arg[n] == '=' ? arg + n + 1 : NULL;
}

static bool need_world(struct script *s)
{
    if (s->w)
        return true;
    fprintf(s->out, "error: no cluster yet (start first)\n");
    return false;
}

/* The node named by argv[i] if it is up, else NULL (with a message). */
static struct sim_node *live_node(struct script *s, const struct cmd *c, int i)
{
    if (!need_world(s))
        return NULL;
    if (i >= c->argc) {
        fprintf(s->out, "error: %s needs a node\n", c->argv[0]);
        return NULL;
    }
    int slot = node_arg(s, c->argv[i]);
    if (slot < 0)
        return NULL;
    struct sim_node *nd = &s->w->nodes[slot];
    if (!nd->up) {
        fprintf(s->out, "error: n%d is down\n", slot + 1);
        return NULL;
    }
    return nd;
}

/* Node list from argv[from..]; none named means every node. */
static bool node_mask(struct script *s, const struct cmd *c, int from, unsigned *mask)
{
    *mask = 0;
    for (int i = from; i < c->argc; i++) {
        int slot = node_arg(s, c->argv[i]);
        if (slot < 0)
            return false;
        *mask |= 1u << slot;
    }
    if (!*mask)
        *mask = (1u << s->w->n) - 1;
    return true;
}

/* ---- commands ------------------------------------------------------------- */

static bool on_off(const char *v, bool *out)
{
    if (!strcmp(v, "on") || !strcmp(v, "true"))
        *out = true;
    else if (!strcmp(v, "off") || !strcmp(v, "false"))
        *out = false;
    else
        return false;
    return true;
}

/* start nodes=N [voters=K] [prevote=on|off] [checkquorum=on|off] [batch=B]
 *       [inflight=I] [seed=S]: a new cluster of N servers, n1..nK its
 * founding voters (default all), every server up. */
static void cmd_start(struct script *s, const struct cmd *c)
{
    uint64_t nodes = 3, voters = 0, batch = 64, inflight = 16, seed = 1;
    bool prevote = true, cq = true;
    for (int i = 1; i < c->argc; i++) {
        const char *a = c->argv[i], *v;
        bool ok = false;
        if ((v = kv_arg(a, "nodes")))
            ok = parse_u64(v, &nodes) && nodes >= 1 && nodes <= SIM_MAX_NODES;
        else if ((v = kv_arg(a, "voters")))
            ok = parse_u64(v, &voters) && voters >= 1;
        else if ((v = kv_arg(a, "batch")))
            ok = parse_u64(v, &batch) && batch >= 1;
        else if ((v = kv_arg(a, "inflight")))
            ok = parse_u64(v, &inflight) && inflight >= 1 && inflight <= RAFT_MAX_INFLIGHT;
        else if ((v = kv_arg(a, "seed")))
            ok = parse_u64(v, &seed);
        else if ((v = kv_arg(a, "prevote")))
            ok = on_off(v, &prevote);
        else if ((v = kv_arg(a, "checkquorum")))
            ok = on_off(v, &cq);
        if (!ok) {
            fprintf(s->out, "error: bad argument '%s'\n", a);
            return;
        }
    }
    if (!voters || voters > nodes)
        voters = nodes;
    struct script_setup set = { nodes, voters, batch, inflight, seed, prevote, cq };
    if (!script_world_create(s, &set))
        return;
    struct sim_world *w = s->w;
    fprintf(s->out, "%d servers, voters n1..n%d, election timeout %d..%d ticks, heartbeat %d, "
                    "prevote=%s checkquorum=%s\n",
            w->n, (int)voters, SIM_ELECTION_TICKS, 2 * SIM_ELECTION_TICKS - 1,
            SIM_HEARTBEAT_TICKS, prevote ? "on" : "off", cq ? "on" : "off");
}

/* campaign nX: only nX's clock runs until its election timeout fires and it
 * starts an election (§5.2) or a pre-vote (thesis §9.6). Nothing is
 * delivered: the requests wait in the network. */
static void cmd_campaign(struct script *s, const struct cmd *c)
{
    struct sim_node *nd = live_node(s, c, 1);
    if (!nd)
        return;
    raft_role_t role0 = raft_role(nd->r);
    raft_term_t term0 = raft_term(nd->r);
    for (int t = 0; t < 4 * SIM_ELECTION_TICKS; t++) {
        script_tick_nodes(s, 1u << nd->slot);
        raft_role_t role = raft_role(nd->r);
        /* A new round: it became a (pre-)candidate, or a candidate timed
         * out and moved to the next term. */
        if ((role == RAFT_PRECANDIDATE || role == RAFT_CANDIDATE) &&
            (role != role0 || raft_term(nd->r) != term0))
            return;
    }
    fprintf(s->out, "n%d did not campaign within %d ticks\n", nd->slot + 1,
            4 * SIM_ELECTION_TICKS);
}

/* tick [N] [nodes...]: N ticks (default 1) of the named nodes' clocks
 * (default all); Ready batches are carried out, nothing is delivered. */
static void cmd_tick(struct script *s, const struct cmd *c)
{
    if (!need_world(s))
        return;
    uint64_t n = 1;
    int first = 1;
    if (c->argc > 1 && parse_u64(c->argv[1], &n))
        first = 2;
    unsigned mask;
    if (!node_mask(s, c, first, &mask))
        return;
    for (uint64_t i = 0; i < n && !s->w->chk.failed; i++)
        script_tick_nodes(s, mask);
}

/* run N: N ticks of every clock, each followed by stabilize: time passing
 * on a network that delivers at once. */
static void cmd_run(struct script *s, const struct cmd *c)
{
    uint64_t n;
    if (!need_world(s))
        return;
    if (c->argc != 2 || !parse_u64(c->argv[1], &n)) {
        fprintf(s->out, "error: run N\n");
        return;
    }
    unsigned all = (1u << s->w->n) - 1;
    for (uint64_t i = 0; i < n && !s->w->chk.failed; i++) {
        script_tick_nodes(s, all);
        script_stabilize(s);
    }
}

/* deliver|drop [from=nX] [to=nY]: one round of the messages in flight now. */
static void cmd_deliver(struct script *s, const struct cmd *c, bool deliver)
{
    if (!need_world(s))
        return;
    struct msg_filter f = { -1, -1 };
    for (int i = 1; i < c->argc; i++) {
        const char *v;
        int *slot = NULL;
        if ((v = kv_arg(c->argv[i], "from")))
            slot = &f.from;
        else if ((v = kv_arg(c->argv[i], "to")))
            slot = &f.to;
        if (!slot) {
            fprintf(s->out, "error: bad argument '%s'\n", c->argv[i]);
            return;
        }
        if ((*slot = node_arg(s, v)) < 0)
            return;
    }
    if (script_deliver_round(s, &f, deliver) == 0)
        fprintf(s->out, "no message in flight matches\n");
}

/* partition A... | B... : cut every link between the two groups (both
 * ways); isolate nX: cut nX from everyone; heal: restore every link. */
static void cmd_partition(struct script *s, const struct cmd *c)
{
    if (!need_world(s))
        return;
    int side[SIM_MAX_NODES];
    for (int i = 0; i < SIM_MAX_NODES; i++)
        side[i] = -1;
    int group = 0;
    for (int i = 1; i < c->argc; i++) {
        if (!strcmp(c->argv[i], "|")) {
            group++;
            continue;
        }
        int slot = node_arg(s, c->argv[i]);
        if (slot < 0)
            return;
        side[slot] = group;
    }
    if (group != 1) {
        fprintf(s->out, "error: partition A... | B...\n");
        return;
    }
    for (int a = 0; a < s->w->n; a++)
        for (int b = 0; b < s->w->n; b++)
            if (side[a] >= 0 && side[b] >= 0 && side[a] != side[b])
                sim_net_set_link(&s->w->net, a, b, false);
}

static void cmd_isolate(struct script *s, const struct cmd *c)
{
    if (!need_world(s) || c->argc != 2)
        return;
    int slot = node_arg(s, c->argv[1]);
    if (slot >= 0)
        sim_net_isolate(&s->w->net, slot);
}

static void print_links(struct script *s)
{
    struct sim_world *w = s->w;
    bool any = false;
    for (int a = 0; a < w->n; a++)
        for (int b = 0; b < w->n; b++)
            if (a != b && !sim_net_link_up(&w->net, a, b)) {
                fprintf(s->out, "%sn%d->n%d", any ? " " : "links cut: ", a + 1, b + 1);
                any = true;
            }
    fprintf(s->out, any ? "\n" : "all links up\n");
}

/* propose nX V: a client write "x = V" given to nX (Figure 2, Rules for
 * Servers, Leaders: "If command received from client: append entry to
 * local log"). */
static void cmd_propose(struct script *s, const struct cmd *c)
{
    struct sim_node *nd = live_node(s, c, 1);
    uint64_t value;
    if (!nd)
        return;
    if (c->argc != 3 || !parse_u64(c->argv[2], &value)) {
        fprintf(s->out, "error: propose nX VALUE\n");
        return;
    }
    struct sim_cmd cmd = { .client = SCRIPT_CLIENT, .seq = s->seq + 1, .key = 0, .value = value };
    uint8_t buf[SIM_CMD_BYTES];
    sim_cmd_encode(&cmd, buf);
    raft_index_t index = 0;
    int rc = raft_propose(nd->r, buf, sizeof buf, &index);
    if (rc != RAFT_OK) {
        fprintf(s->out, "n%d refuses x=%llu: %s\n", nd->slot + 1, (unsigned long long)value,
                raft_strerror(rc));
        return;
    }
    s->seq++;
    fprintf(s->out, "n%d appends x=%llu at index %llu (term %llu)\n", nd->slot + 1,
            (unsigned long long)value, (unsigned long long)index,
            (unsigned long long)raft_term(nd->r));
    script_process_all(s);
}

static void cmd_crash(struct script *s, const struct cmd *c)
{
    struct sim_node *nd = live_node(s, c, 1);
    if (nd)
        sim_node_crash(s->w, nd);
}

static void cmd_restart(struct script *s, const struct cmd *c)
{
    if (!need_world(s) || c->argc != 2)
        return;
    int slot = node_arg(s, c->argv[1]);
    if (slot < 0)
        return;
    struct sim_node *nd = &s->w->nodes[slot];
    if (nd->up) {
        fprintf(s->out, "error: n%d is up\n", slot + 1);
        return;
    }
    if (!script_node_start(s, nd, (int)s->w->base_opts.bootstrap.n_voters))
        return;
    fprintf(s->out, "n%d restarts from its disk: term=%llu vote=%llu snapshot=%llu entries=%zu\n",
            slot + 1, (unsigned long long)nd->disk.hs.term, (unsigned long long)nd->disk.hs.vote,
            (unsigned long long)nd->disk.snap.index, nd->disk.n);
}

/* transfer nX nY (thesis §3.10), add / promote / remove nX nY (thesis
 * §4.1, §4.2.1): nX is the leader asked, nY the server concerned. */
static void cmd_leader_op(struct script *s, const struct cmd *c)
{
    struct sim_node *nd = live_node(s, c, 1);
    if (!nd)
        return;
    if (c->argc != 3) {
        fprintf(s->out, "error: %s nLEADER nTARGET\n", c->argv[0]);
        return;
    }
    int target = node_arg(s, c->argv[2]);
    if (target < 0)
        return;
    raft_id_t id = (raft_id_t)target + 1;
    raft_index_t index = 0;
    int rc;
    const char *what = c->argv[0];
    if (!strcmp(what, "transfer"))
        rc = raft_transfer_leadership(nd->r, id);
    else if (!strcmp(what, "add"))
        rc = raft_add_learner(nd->r, id, NULL, 0, &index);
    else if (!strcmp(what, "promote"))
        rc = raft_promote(nd->r, id, &index);
    else
        rc = raft_remove(nd->r, id, &index);
    if (rc != RAFT_OK)
        fprintf(s->out, "n%d refuses to %s n%d: %s\n", nd->slot + 1, what, target + 1,
                raft_strerror(rc));
    else if (index)
        fprintf(s->out, "n%d appends config entry (%s n%d) at index %llu\n", nd->slot + 1, what,
                target + 1, (unsigned long long)index);
    else
        fprintf(s->out, "n%d starts transferring leadership to n%d\n", nd->slot + 1, target + 1);
    script_process_all(s);
}

/* compact nX: nX's state machine snapshots itself at its applied index and
 * the log up to there is dropped (§7). */
static void cmd_compact(struct script *s, const struct cmd *c)
{
    struct sim_node *nd = live_node(s, c, 1);
    if (!nd)
        return;
    if (nd->sm.applied <= nd->snapshot_at) {
        fprintf(s->out, "n%d has nothing new to snapshot\n", nd->slot + 1);
        return;
    }
    uint32_t keep = s->w->snapshot_every;
    s->w->snapshot_every = 1;
    sim_node_maybe_snapshot(s->w, nd);
    s->w->snapshot_every = keep;
}

static void print_members(FILE *out, const raft_members_t *m)
{
    fprintf(out, " voters=");
    for (uint32_t i = 0; i < m->n_voters; i++)
        fprintf(out, "%sn%llu", i ? "," : "", (unsigned long long)m->voters[i]);
    if (m->n_learners)
        fprintf(out, " learners=");
    for (uint32_t i = 0; i < m->n_learners; i++)
        fprintf(out, "%sn%llu", i ? "," : "", (unsigned long long)m->learners[i]);
}

/* status [nodes...]: one line per server with Figure 2's state. */
static void cmd_status(struct script *s, const struct cmd *c)
{
    unsigned mask;
    if (!need_world(s) || !node_mask(s, c, 1, &mask))
        return;
    for (int i = 0; i < s->w->n; i++) {
        struct sim_node *nd = &s->w->nodes[i];
        if (!(mask & (1u << i)))
            continue;
        if (!nd->up) {
            fprintf(s->out, "n%d: down (disk: term=%llu vote=%llu log=%llu..%llu)\n", i + 1,
                    (unsigned long long)nd->disk.hs.term, (unsigned long long)nd->disk.hs.vote,
                    (unsigned long long)nd->disk.snap.index + 1,
                    (unsigned long long)(nd->disk.snap.index + nd->disk.n));
            continue;
        }
        raft_t *r = nd->r;
        fprintf(s->out, "n%d: %s term=%llu vote=%llu leader=%llu commit=%llu applied=%llu "
                        "log=%llu..%llu",
                i + 1, raft_role_name(raft_role(r)), (unsigned long long)raft_term(r),
                (unsigned long long)raft_vote(r), (unsigned long long)raft_leader(r),
                (unsigned long long)raft_commit(r), (unsigned long long)nd->sm.applied,
                (unsigned long long)raft_first_index(r), (unsigned long long)raft_last_index(r));
        print_members(s->out, raft_members(r));
        fputc('\n', s->out);
    }
}

static void print_entry(FILE *out, const raft_entry_t *e)
{
    fprintf(out, " %llu/%llu", (unsigned long long)e->index, (unsigned long long)e->term);
    struct sim_cmd cmd;
    raft_members_t m;
    if (e->type == RAFT_ENTRY_NOOP)
        fprintf(out, " noop");
    else if (e->type == RAFT_ENTRY_NORMAL && sim_cmd_decode(e->data, e->len, &cmd))
        fprintf(out, " x=%llu", (unsigned long long)cmd.value);
    else if (e->type == RAFT_ENTRY_CONFIG &&
             raft_config_decode(e->data, e->len, &m, NULL, NULL) == RAFT_OK) {
        fprintf(out, " config");
        print_members(out, &m);
    } else
        fprintf(out, " ?");
    fputc('\n', out);
}

/* log nX: nX's log, one entry a line as index/term and content. */
static void cmd_log(struct script *s, const struct cmd *c)
{
    struct sim_node *nd = live_node(s, c, 1);
    if (!nd)
        return;
    raft_t *r = nd->r;
    fprintf(s->out, "n%d log (commit=%llu):", nd->slot + 1, (unsigned long long)raft_commit(r));
    const raft_snapshot_t *snap = raft_snapshot(r);
    if (snap->index)
        fprintf(s->out, " snapshot at %llu/%llu", (unsigned long long)snap->index,
                (unsigned long long)snap->term);
    if (!snap->index && raft_last_index(r) < raft_first_index(r))
        fprintf(s->out, " empty");
    fputc('\n', s->out);
    for (raft_index_t i = raft_first_index(r); i <= raft_last_index(r); i++) {
        const raft_entry_t *e = raft_log_entry(r, i);
        if (e)
            print_entry(s->out, e);
    }
}

static bool expect_one(struct script *s, struct sim_node *nd, const char *arg)
{
    raft_t *r = nd->r;
    const char *eq = strchr(arg, '=');
    if (!eq)
        return false;
    char key[32];
    size_t kl = (size_t)(eq - arg);
    if (kl >= sizeof key)
        return false;
    memcpy(key, arg, kl);
    key[kl] = 0;
    const char *want = eq + 1;
    char have[32];
    if (!strcmp(key, "role"))
        snprintf(have, sizeof have, "%s", raft_role_name(raft_role(r)));
    else if (!strcmp(key, "term"))
        snprintf(have, sizeof have, "%llu", (unsigned long long)raft_term(r));
    else if (!strcmp(key, "vote"))
        snprintf(have, sizeof have, "n%llu", (unsigned long long)raft_vote(r));
    else if (!strcmp(key, "leader"))
        snprintf(have, sizeof have, "n%llu", (unsigned long long)raft_leader(r));
    else if (!strcmp(key, "commit"))
        snprintf(have, sizeof have, "%llu", (unsigned long long)raft_commit(r));
    else if (!strcmp(key, "last"))
        snprintf(have, sizeof have, "%llu", (unsigned long long)raft_last_index(r));
    else if (!strcmp(key, "applied"))
        snprintf(have, sizeof have, "%llu", (unsigned long long)nd->sm.applied);
    else if (!strcmp(key, "x"))
        snprintf(have, sizeof have, "%llu", (unsigned long long)nd->sm.kv[0]);
    else {
        fprintf(s->out, "error: unknown field '%s'\n", key);
        return false;
    }
    if (!strcmp(have, want))
        return true;
    fprintf(s->out, "EXPECT FAILED: n%d %s is %s, not %s\n", nd->slot + 1, key, have, want);
    return false;
}

/* expect nX field=value...: fields role, term, vote, leader, commit, last,
 * applied, x (the state machine's register). Prints "ok" or what differs. */
static void cmd_expect(struct script *s, const struct cmd *c)
{
    struct sim_node *nd = live_node(s, c, 1);
    if (!nd) {
        s->expect_failed = true;
        return;
    }
    bool ok = c->argc > 2;
    for (int i = 2; i < c->argc; i++)
        ok &= expect_one(s, nd, c->argv[i]);
    if (ok)
        fprintf(s->out, "ok\n");
    else
        s->expect_failed = true;
}

/* trace heartbeats=on|off: show heartbeats (hidden by default). */
static void cmd_trace(struct script *s, const struct cmd *c)
{
    const char *v;
    if (c->argc != 2 || !(v = kv_arg(c->argv[1], "heartbeats")) || !on_off(v, &s->heartbeats))
        fprintf(s->out, "error: trace heartbeats=on|off\n");
}

static void run_command(struct script *s, const struct cmd *c)
{
    const char *n = c->argv[0];
    if (!strcmp(n, "start"))
        cmd_start(s, c);
    else if (!strcmp(n, "campaign"))
        cmd_campaign(s, c);
    else if (!strcmp(n, "tick"))
        cmd_tick(s, c);
    else if (!strcmp(n, "run"))
        cmd_run(s, c);
    else if (!strcmp(n, "deliver") || !strcmp(n, "drop"))
        cmd_deliver(s, c, !strcmp(n, "deliver"));
    else if (!strcmp(n, "stabilize") && need_world(s))
        script_stabilize(s);
    else if (!strcmp(n, "partition")) {
        cmd_partition(s, c);
        print_links(s);
    } else if (!strcmp(n, "isolate")) {
        cmd_isolate(s, c);
        print_links(s);
    } else if (!strcmp(n, "heal") && need_world(s)) {
        sim_net_heal(&s->w->net);
        print_links(s);
    } else if (!strcmp(n, "propose"))
        cmd_propose(s, c);
    else if (!strcmp(n, "crash"))
        cmd_crash(s, c);
    else if (!strcmp(n, "restart"))
        cmd_restart(s, c);
    else if (!strcmp(n, "transfer") || !strcmp(n, "add") || !strcmp(n, "promote") ||
             !strcmp(n, "remove"))
        cmd_leader_op(s, c);
    else if (!strcmp(n, "compact"))
        cmd_compact(s, c);
    else if (!strcmp(n, "status"))
        cmd_status(s, c);
    else if (!strcmp(n, "log"))
        cmd_log(s, c);
    else if (!strcmp(n, "expect"))
        cmd_expect(s, c);
    else if (!strcmp(n, "trace"))
        cmd_trace(s, c);
    else if (strcmp(n, "stabilize") && strcmp(n, "heal"))
        fprintf(s->out, "error: unknown command '%s'\n", n);
}

/* ---- the transcript ------------------------------------------------------- */

static bool is_blank(const char *l)
{
    return l[strspn(l, " \t")] == 0;
}

/* Runs one command line; returns its output (malloc'd, never empty). */
static char *execute(struct script *s, char *line)
{
    char *buf = NULL;
    size_t len = 0;
    s->out = open_memstream(&buf, &len);
    if (!s->out) {
        perror("raft-sim: open_memstream");
        exit(2);
    }
    struct cmd c = { 0 };
    for (char *t = strtok(line, " \t"); t && c.argc < MAX_ARGS; t = strtok(NULL, " \t"))
        c.argv[c.argc++] = t;
    if (s->stopped) {
        fprintf(s->out, "not run: a safety check failed above\n");
    } else {
        run_command(s, &c);
        if (s->w && s->w->chk.failed) {
            fprintf(s->out, "SAFETY VIOLATION: %s: %s\n", s->w->chk.property, s->w->chk.detail);
            s->stopped = true;
        }
    }
    fclose(s->out);
    s->out = NULL;
    /* A mistyped command must not pass unnoticed. */
    if (len && (!strncmp(buf, "error: ", 7) || strstr(buf, "\nerror: ")))
        s->expect_failed = true;
    if (len == 0) {
        free(buf);
        buf = strdup("ok\n");
    }
    return buf;
}

/* Reads path into an array of lines (newlines stripped). */
static char **read_lines(const char *path, size_t *n, bool *ok)
{
    *n = 0;
    FILE *f = fopen(path, "r");
    *ok = f != NULL;
    if (!f)
        return NULL;
    char **lines = NULL;
    size_t cap = 0;
    char buf[MAX_LINE];
    while (fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\n")] = 0;
        if (*n == cap) {
            cap = cap ? cap * 2 : 128;
            char **p = realloc(lines, cap * sizeof *p);
            if (!p)
                abort();
            lines = p;
        }
        lines[(*n)++] = strdup(buf);
    }
    fclose(f);
    return lines;
}

int sim_script_run(const char *path, raft_bug_t bugs, bool rewrite, FILE *out)
{
    size_t n;
    bool ok;
    char **lines = read_lines(path, &n, &ok);
    if (!ok) {
        fprintf(stderr, "raft-sim: cannot read %s: %s\n", path, strerror(errno));
        return 2;
    }
    char *text = NULL;
    size_t text_len = 0;
    FILE *t = open_memstream(&text, &text_len);
    struct script s = { .bugs = bugs };
    for (size_t i = 0; i < n;) {
        if (is_blank(lines[i]) || lines[i][0] == '#') {
            fprintf(t, "%s\n", lines[i++]);
            continue;
        }
        fprintf(t, "%s\n----\n", lines[i]);
        char *cmdline = strdup(lines[i++]);
        if (i < n && !strcmp(lines[i], "----"))
            for (i++; i < n && !is_blank(lines[i]); i++)
                ;
        char *output = execute(&s, cmdline);
        fputs(output, t);
        free(output);
        free(cmdline);
        if (i < n && !is_blank(lines[i]))
            fputc('\n', t);
    }
    fclose(t);
    script_world_free(&s);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(lines);
    FILE *dst = out;
    if (rewrite && !(dst = fopen(path, "w"))) {
        fprintf(stderr, "raft-sim: cannot write %s: %s\n", path, strerror(errno));
        free(text);
        return 2;
    }
    fwrite(text, 1, text_len, dst);
    if (rewrite)
        fclose(dst);
    free(text);
    return s.expect_failed || s.stopped ? 1 : 0;
}
