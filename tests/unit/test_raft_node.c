/* tests/unit/test_raft_node.c — three Raft nodes in one process over real
 * TCP on loopback, each with its own data dir: election, replication
 * (through the leader and forwarded from followers), a linearizable read at
 * a follower, the leader's death, every node restarted from disk with its
 * data, and a node that was down for 100,000 entries caught up through a
 * snapshot. The state machine folds every entry into a hash, so equal
 * hashes mean the same entries were applied in the same order. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "raft/node.h"
#include "common/clock.h"

typedef struct fsm {
    pthread_mutex_t mu;
    uint64_t count, hash;
} fsm_t;

static void fsm_apply(void *ctx, raft_index_t index, const uint8_t *data, size_t len,
                      uint8_t **result, size_t *result_len)
{
    fsm_t *f = ctx;
    (void)index;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < len; i++)
        f->hash = f->hash * 1099511628211ull ^ data[i];
    f->count++;
    pthread_mutex_unlock(&f->mu);
    *result = (uint8_t *)strdup("ok");
    *result_len = 2;
}

static int fsm_snapshot(void *ctx, raft_snap_writer_t *w)
{
    fsm_t *f = ctx;
    pthread_mutex_lock(&f->mu);
    uint64_t v[2] = { f->count, f->hash };
    pthread_mutex_unlock(&f->mu);
    return w->write(w, v, sizeof v);
}

static int fsm_restore(void *ctx, raft_snap_reader_t *r)
{
    fsm_t *f = ctx;
    uint64_t v[2];
    if (r->read(r, v, sizeof v) != (long)sizeof v)
        return -1;
    pthread_mutex_lock(&f->mu);
    f->count = v[0];
    f->hash = v[1];
    pthread_mutex_unlock(&f->mu);
    return 0;
}

/* The content check (raft_fsm_t.check): the toy state is 16 bytes, and a
 * test can make every node refuse every snapshot. */
static volatile int refuse_snapshots;
static volatile int snapshot_checks;
static int fsm_check(void *ctx, raft_index_t index, raft_snap_reader_t *r)
{
    (void)ctx;
    (void)index;
    __atomic_add_fetch(&snapshot_checks, 1, __ATOMIC_SEQ_CST);
    uint64_t v[2];
    if (__atomic_load_n(&refuse_snapshots, __ATOMIC_SEQ_CST))
        return -1;
    return r->read(r, v, sizeof v) == (long)sizeof v ? 0 : -1;
}

static void fsm_get(fsm_t *f, uint64_t *count, uint64_t *hash)
{
    pthread_mutex_lock(&f->mu);
    *count = f->count;
    *hash = f->hash;
    pthread_mutex_unlock(&f->mu);
}

/* ---- a cluster of three ---------------------------------------------------------- */

enum { N = 3 };

/* The last node_health_t each node reported (on_health). */
typedef struct health {
    pthread_mutex_t mu;
    node_health_t last;
    int reports;
} health_t;

static void on_health(void *ctx, const node_health_t *h)
{
    health_t *hh = ctx;
    pthread_mutex_lock(&hh->mu);
    hh->last = *h;
    hh->reports++;
    pthread_mutex_unlock(&hh->mu);
}

static node_health_t health_get(health_t *hh)
{
    pthread_mutex_lock(&hh->mu);
    node_health_t h = hh->last;
    pthread_mutex_unlock(&hh->mu);
    return h;
}

typedef struct cluster {
    char base[64];
    char dir[N][128];
    char addr[N][32];
    char name[N][16];
    node_t *node[N];
    fsm_t fsm[N];
    health_t health[N];
    uint64_t snapshot_every;
} cluster_t;

static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&sa, sizeof sa);
    socklen_t len = sizeof sa;
    getsockname(fd, (struct sockaddr *)&sa, &len);
    close(fd);
    return ntohs(sa.sin_port);
}

static void start_node(cluster_t *c, int i, bool bootstrap)
{
    /* A restarted node's state machine starts empty, like a new process. */
    c->fsm[i].count = c->fsm[i].hash = 0;
    node_options_t o = {
        .name = c->name[i], .listen = c->addr[i], .advertise = c->addr[i],
        .data_dir = c->dir[i], .bootstrap = bootstrap, .snapshot_every = c->snapshot_every,
        .fsm = { &c->fsm[i], fsm_apply, fsm_snapshot, fsm_restore, fsm_check },
        .on_health = on_health, .health_ctx = &c->health[i],
    };
    char err[512];
    c->node[i] = node_start(&o, err, sizeof err);
    if (!c->node[i])
        fail_msg("node %d: %s", i, err);
}

/* Index of the node that leads with every node agreeing, or -1. */
static int wait_leader(cluster_t *c, unsigned timeout_ms)
{
    for (unsigned t = 0; t < timeout_ms; t += 10) {
        for (int i = 0; i < N; i++) {
            node_status_info_t s;
            if (c->node[i] && node_status(c->node[i], &s) == NODE_OK && s.role == RAFT_LEADER)
                return i;
        }
        clock_sleep_ms(10);
    }
    return -1;
}

static size_t voters(node_t *n)
{
    node_status_info_t s;
    assert_int_equal(node_status(n, &s), NODE_OK);
    size_t v = 0;
    for (size_t i = 0; i < s.n_peers; i++)
        v += s.peers[i].voter;
    return v;
}

static void wait_converged(cluster_t *c, uint64_t count, unsigned timeout_ms)
{
    for (unsigned t = 0; t < timeout_ms; t += 20) {
        uint64_t c0, h0, ci, hi;
        bool same = true;
        fsm_get(&c->fsm[0], &c0, &h0);
        for (int i = 0; i < N && same; i++) {
            if (!c->node[i])
                continue;
            fsm_get(&c->fsm[i], &ci, &hi);
            same = ci == count && (!c->node[0] || (ci == c0 && hi == h0));
        }
        if (same)
            return;
        clock_sleep_ms(20);
    }
    for (int i = 0; i < N; i++)
        fprintf(stderr, "node %d: count %llu\n", i, (unsigned long long)c->fsm[i].count);
    fail_msg("nodes did not converge on %llu entries", (unsigned long long)count);
}

static void propose_ok(node_t *n, uint64_t v)
{
    uint8_t *res = NULL;
    size_t len = 0;
    node_status_t st = node_propose(n, &v, sizeof v, 5000, &res, &len);
    if (st != NODE_OK)
        fail_msg("propose %llu: %s", (unsigned long long)v, node_status_text(st));
    assert_int_equal(len, 2);
    assert_memory_equal(res, "ok", 2);
    free(res);
}

static void cluster_up(cluster_t *c)
{
    snprintf(c->base, sizeof c->base, "/tmp/dnsraft-node-XXXXXX");
    assert_non_null(mkdtemp(c->base));
    char base[sizeof c->base];
    memcpy(base, c->base, sizeof base);
    for (int i = 0; i < N; i++) {
        snprintf(c->dir[i], sizeof c->dir[i], "%s/n%d", base, i);
        snprintf(c->addr[i], sizeof c->addr[i], "127.0.0.1:%u", free_port());
        snprintf(c->name[i], sizeof c->name[i], "n%d", i);
        pthread_mutex_init(&c->fsm[i].mu, NULL);
        pthread_mutex_init(&c->health[i].mu, NULL);
    }
    start_node(c, 0, true);
    assert_int_equal(wait_leader(c, 5000), 0);
    for (int i = 1; i < N; i++) {
        start_node(c, i, false);
        node_status_t st = node_add_server(c->node[0], c->name[i], c->addr[i], 5000);
        if (st != NODE_OK)
            fail_msg("add %s: %s", c->name[i], node_status_text(st));
    }
    for (int t = 0; t < 500 && voters(c->node[0]) < N; t++)
        clock_sleep_ms(10);
    assert_int_equal(voters(c->node[0]), N);
    /* Adding the same member again is a no-op, also through a follower. */
    assert_int_equal(node_add_server(c->node[1], c->name[2], c->addr[2], 5000), NODE_OK);
}

static void cluster_down(cluster_t *c)
{
    for (int i = 0; i < N; i++) {
        node_stop(c->node[i]);
        c->node[i] = NULL;
        pthread_mutex_destroy(&c->fsm[i].mu);
        pthread_mutex_destroy(&c->health[i].mu);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", c->base);
    assert_int_equal(system(cmd), 0);
}

/* ---- tests ----------------------------------------------------------------------------- */

static void test_replicates_survives_leader_death_and_restarts(void **state)
{
    (void)state;
    cluster_t c = { .snapshot_every = 50 };
    cluster_up(&c);
    uint64_t total = 0;
    for (int i = 0; i < 60; i++, total++)
        propose_ok(c.node[0], total);
    for (int i = 0; i < 60; i++, total++)
        propose_ok(c.node[2], total); /* forwarded to the leader */
    wait_converged(&c, total, 5000);

    /* A follower's linearizable read sees everything acknowledged. */
    assert_int_equal(node_read_barrier(c.node[1], 5000), NODE_OK);

    /* The leader dies (no hand-over): the others elect and go on. */
    int leader = wait_leader(&c, 5000);
    node_kill(c.node[leader]);
    c.node[leader] = NULL;
    int next = wait_leader(&c, 5000);
    assert_true(next >= 0 && next != leader);
    for (int i = 0; i < 20; i++, total++)
        propose_ok(c.node[(next + 1) % N] ? c.node[(next + 1) % N] : c.node[next], total);
    start_node(&c, leader, false);
    wait_converged(&c, total, 5000);

    /* Every node restarts from its disk with all its data. */
    for (int i = 0; i < N; i++) {
        node_stop(c.node[i]);
        c.node[i] = NULL;
    }
    for (int i = 0; i < N; i++)
        start_node(&c, i, false);
    assert_true(wait_leader(&c, 5000) >= 0);
    wait_converged(&c, total, 5000);
    propose_ok(c.node[1], total++);
    wait_converged(&c, total, 5000);
    cluster_down(&c);
}

/* kv/readiness.h's inputs: the catch-up target (learnt by leading, or from
 * the leader's first AppendEntries), the leader contact, and the replay of a
 * restarted node without any leader, up to the commit hint that a graceful
 * stop wrote. */
static void test_health_targets_and_replay_without_a_leader(void **state)
{
    (void)state;
    cluster_t c = { .snapshot_every = 100000 };
    cluster_up(&c);
    uint64_t total = 0;
    for (int i = 0; i < 30; i++, total++)
        propose_ok(c.node[0], total);
    wait_converged(&c, total, 5000);
    clock_sleep_ms(100); /* a few ticks: every node reports */
    uint64_t now = clock_now_ms();
    for (int i = 0; i < N; i++) {
        node_health_t h = health_get(&c.health[i]);
        assert_false(h.had_data);
        assert_true(h.target_known);
        assert_true(h.applied >= h.target);
        assert_true(h.current_ms > 0 && now - h.current_ms < 1000); /* a current leader */
    }

    /* All stop gracefully, n1 first while it follows (no term change then
     * saves the hard state for it); n1 alone comes back: no leader can
     * exist, yet it replays everything it had applied, from its own disk. */
    assert_int_equal(wait_leader(&c, 5000), 0);
    for (int k = 0; k < N; k++) {
        int i = (k + 1) % N;
        node_stop(c.node[i]);
        c.node[i] = NULL;
    }
    c.health[1].reports = 0;
    start_node(&c, 1, false);
    uint64_t count = 0, hash = 0;
    for (int t = 0; t < 300 && count < total; t++) {
        clock_sleep_ms(10);
        fsm_get(&c.fsm[1], &count, &hash);
    }
    assert_int_equal(count, total);
    clock_sleep_ms(50);
    node_health_t h = health_get(&c.health[1]);
    pthread_mutex_lock(&c.health[1].mu);
    int reports = c.health[1].reports;
    pthread_mutex_unlock(&c.health[1].mu);
    assert_true(reports > 0);
    assert_true(h.had_data);
    assert_true(h.target_known);
    assert_true(h.target >= total); /* the hint: every entry it had applied */
    assert_true(h.applied >= h.target);
    assert_int_equal(h.current_ms, 0); /* no leader heard since this start */
    node_status_info_t s;
    assert_int_equal(node_status(c.node[1], &s), NODE_OK);
    assert_string_equal(s.leader_name, "");
    for (int i = 0; i < N; i++)
        if (!c.node[i])
            start_node(&c, i, false);
    cluster_down(&c);
}

typedef struct writer_arg {
    node_t *n;
    uint64_t from, count;
} writer_arg_t;

static void *writer(void *arg)
{
    writer_arg_t *w = arg;
    for (uint64_t i = 0; i < w->count; i++) {
        uint64_t v = w->from + i;
        node_status_t st;
        do
            st = node_propose(w->n, &v, sizeof v, 5000, NULL, NULL);
        while (st == NODE_ENOLEADER);
        if (st != NODE_OK)
            return (void *)1;
    }
    return NULL;
}

static void test_lagging_node_catches_up_through_snapshot(void **state)
{
    (void)state;
    enum { ENTRIES = 100000, WRITERS = 250 };
    cluster_t c = { .snapshot_every = 5000 };
    cluster_up(&c);
    int leader = wait_leader(&c, 5000);
    int down = (leader + 1) % N;
    node_stop(c.node[down]);
    c.node[down] = NULL;

    pthread_t th[WRITERS];
    writer_arg_t args[WRITERS];
    for (int i = 0; i < WRITERS; i++) {
        args[i] = (writer_arg_t){ c.node[leader], (uint64_t)i * ENTRIES, ENTRIES / WRITERS };
        pthread_create(&th[i], NULL, writer, &args[i]);
    }
    for (int i = 0; i < WRITERS; i++) {
        void *rv;
        pthread_join(th[i], &rv);
        assert_null(rv);
    }
    uint64_t total = (uint64_t)WRITERS * (ENTRIES / WRITERS);
    /* The nodes that stayed up agree; then the lagging one returns. */
    uint64_t cnt, h;
    fsm_get(&c.fsm[leader], &cnt, &h);
    assert_int_equal(cnt, total);
    start_node(&c, down, false);
    wait_converged(&c, total, 30000);
    node_status_info_t s;
    assert_int_equal(node_status(c.node[down], &s), NODE_OK);
    assert_true(s.snapshot_index > 0); /* it got there through a snapshot */
    cluster_down(&c);
}

/* §7 / issue #12: a leader's snapshot that the state machine cannot
 * restore changes nothing on the follower (before, the node persisted it,
 * dropped its log, failed to restore, and came back with no data): the
 * follower keeps its own log and state, and installs the snapshot once a
 * good one arrives. */
static void test_snapshot_refused_by_content_check_changes_nothing(void **state)
{
    (void)state;
    cluster_t c = { .snapshot_every = 50 };
    cluster_up(&c);
    int leader = wait_leader(&c, 5000);
    int down = (leader + 1) % N;
    for (uint64_t v = 0; v < 10; v++)
        propose_ok(c.node[leader], v);
    wait_converged(&c, 10, 5000);
    node_stop(c.node[down]);
    c.node[down] = NULL;
    for (uint64_t v = 10; v < 300; v++)
        propose_ok(c.node[leader], v);
    __atomic_store_n(&refuse_snapshots, 1, __ATOMIC_SEQ_CST);
    int checks_before = __atomic_load_n(&snapshot_checks, __ATOMIC_SEQ_CST);
    start_node(&c, down, false);
    for (int t = 0; t < 300 && __atomic_load_n(&snapshot_checks, __ATOMIC_SEQ_CST) == checks_before; t++)
        clock_sleep_ms(10);
    assert_true(__atomic_load_n(&snapshot_checks, __ATOMIC_SEQ_CST) > checks_before);
    clock_sleep_ms(300);
    node_status_info_t s;
    assert_int_equal(node_status(c.node[down], &s), NODE_OK);
    assert_int_equal(s.snapshot_index, 0);
    uint64_t cnt, h;
    fsm_get(&c.fsm[down], &cnt, &h);
    assert_int_equal(cnt, 10); /* its own log replayed, nothing more */
    __atomic_store_n(&refuse_snapshots, 0, __ATOMIC_SEQ_CST);
    wait_converged(&c, 300, 10000);
    assert_int_equal(node_status(c.node[down], &s), NODE_OK);
    assert_true(s.snapshot_index > 0);
    cluster_down(&c);
}

/* A proposal a follower forwards to a leader that has just died must not
 * wait for its whole deadline: it ends with NODE_EMAYBE as soon as the
 * follower sees the leadership change (or NODE_OK if it reached the next
 * leader), so a client retries within an election instead of after seconds
 * (bench/raft-write measured 5 s failovers before this). */
static void test_forward_to_dead_leader_ends_with_the_election(void **state)
{
    (void)state;
    enum { DEADLINE_MS = 5000, ELECTION_BOUND_MS = 2500 };
    cluster_t c = { .snapshot_every = 1000 };
    cluster_up(&c);
    int leader = wait_leader(&c, 5000);
    assert_true(leader >= 0);
    int follower = (leader + 1) % N;
    /* The follower forwards to the leader it knows. */
    propose_ok(c.node[follower], 1);

    /* The leader dies; the follower still believes in it for up to an
     * election timeout, so this proposal is forwarded into the void. */
    node_kill(c.node[leader]);
    c.node[leader] = NULL;
    uint64_t v = 2, t0 = clock_now_ms();
    node_status_t st = node_propose(c.node[follower], &v, sizeof v, DEADLINE_MS, NULL, NULL);
    uint64_t took = clock_now_ms() - t0;
    if (st != NODE_OK && st != NODE_EMAYBE && st != NODE_ENOLEADER)
        fail_msg("forwarded proposal ended with '%s' after %llu ms", node_status_text(st),
                 (unsigned long long)took);
    if (took >= ELECTION_BOUND_MS)
        fail_msg("forwarded proposal took %llu ms (deadline %d ms): it waited for the dead leader",
                 (unsigned long long)took, DEADLINE_MS);

    /* Retried (what kv/cluster.c does with NODE_EMAYBE), it commits under
     * the new leader well within the deadline. */
    while ((st == NODE_EMAYBE || st == NODE_ENOLEADER) && clock_now_ms() - t0 < DEADLINE_MS) {
        clock_sleep_ms(10);
        st = node_propose(c.node[follower], &v, sizeof v, DEADLINE_MS, NULL, NULL);
    }
    assert_int_equal(st, NODE_OK);
    cluster_down(&c);
}

/* ---- asynchronous requests ------------------------------------------------------- */

enum { ASYNC_OPS = 300 };

/* What every callback recorded, checked once all have run. */
typedef struct async_log {
    pthread_mutex_t mu;
    pthread_cond_t cond;
    int calls[ASYNC_OPS];          /* how often op i's callback ran */
    node_status_t status[ASYNC_OPS];
    bool result_ok[ASYNC_OPS];
    bool on_caller_thread;         /* a callback ran on the submitting thread */
    pthread_t caller;
    int done;
} async_log_t;

typedef struct async_op {
    async_log_t *log;
    int i;
} async_op_t;

static void async_done(void *arg, node_status_t st, uint8_t *result, size_t len)
{
    async_op_t *op = arg;
    async_log_t *l = op->log;
    pthread_mutex_lock(&l->mu);
    l->calls[op->i]++;
    l->status[op->i] = st;
    l->result_ok[op->i] = result && len == 2 && memcmp(result, "ok", 2) == 0;
    if (pthread_equal(pthread_self(), l->caller))
        l->on_caller_thread = true;
    l->done++;
    pthread_cond_broadcast(&l->cond);
    pthread_mutex_unlock(&l->mu);
    free(result);
}

static void wait_async(async_log_t *l, int count)
{
    uint64_t t0 = clock_now_ms();
    pthread_mutex_lock(&l->mu);
    while (l->done < count && clock_now_ms() - t0 < 10000) {
        pthread_mutex_unlock(&l->mu);
        clock_sleep_ms(5);
        pthread_mutex_lock(&l->mu);
    }
    int done = l->done;
    pthread_mutex_unlock(&l->mu);
    if (done < count)
        fail_msg("only %d of %d callbacks ran", done, count);
}

/* Proposals and read barriers submitted without waiting, at the leader and
 * (forwarded) at a follower: every callback runs exactly once, on the Raft
 * thread, with the state machine's reply; every proposal is applied on
 * every node. After shutdown a request is refused at once and its callback
 * never runs; requests still in flight at shutdown are answered once. */
static void test_async_requests_answer_once_by_callback(void **state)
{
    (void)state;
    cluster_t c = { .snapshot_every = 100000 };
    cluster_up(&c);
    int leader = wait_leader(&c, 5000);
    assert_true(leader >= 0);
    int follower = (leader + 1) % N;

    async_log_t *l = calloc(1, sizeof *l);
    async_op_t *ops = calloc(ASYNC_OPS, sizeof *ops);
    pthread_mutex_init(&l->mu, NULL);
    pthread_cond_init(&l->cond, NULL);
    l->caller = pthread_self();
    for (int i = 0; i < ASYNC_OPS; i++) {
        ops[i] = (async_op_t){ l, i };
        uint64_t v = 1000 + (uint64_t)i;
        node_t *n = c.node[i % 2 ? follower : leader];
        node_status_t st = i % 10 == 9 ? node_read_barrier_async(n, 5000, async_done, &ops[i])
                                       : node_propose_async(n, &v, sizeof v, 5000, async_done, &ops[i]);
        assert_int_equal(st, NODE_OK);
    }
    wait_async(l, ASYNC_OPS);
    clock_sleep_ms(50); /* a second callback for any op would show up here */
    int proposals = 0;
    for (int i = 0; i < ASYNC_OPS; i++) {
        assert_int_equal(l->calls[i], 1);
        if (l->status[i] != NODE_OK)
            fail_msg("op %d: %s", i, node_status_text(l->status[i]));
        if (i % 10 != 9) {
            assert_true(l->result_ok[i]);
            proposals++;
        }
    }
    assert_false(l->on_caller_thread);
    wait_converged(&c, (uint64_t)proposals, 5000);

    /* In flight while the follower shuts down: each answered exactly once. */
    memset(l->calls, 0, sizeof l->calls);
    l->done = 0;
    int submitted = 0;
    for (int i = 0; i < 50; i++) {
        uint64_t v = 5000 + (uint64_t)i;
        if (node_propose_async(c.node[follower], &v, sizeof v, 5000, async_done, &ops[i]) == NODE_OK)
            submitted++;
    }
    node_shutdown(c.node[follower]);
    wait_async(l, submitted);
    for (int i = 0; i < submitted; i++)
        assert_int_equal(l->calls[i], 1);
    /* Refused once shut down; the callback never runs. */
    uint64_t v = 9;
    assert_int_equal(node_propose_async(c.node[follower], &v, sizeof v, 5000, async_done, &ops[0]),
                     NODE_ESHUTDOWN);
    assert_int_equal(node_read_barrier_async(c.node[follower], 5000, async_done, &ops[0]),
                     NODE_ESHUTDOWN);
    clock_sleep_ms(50);
    assert_int_equal(l->calls[0], 1);
    node_free(c.node[follower]);
    c.node[follower] = NULL;

    cluster_down(&c);
    pthread_mutex_destroy(&l->mu);
    pthread_cond_destroy(&l->cond);
    free(ops);
    free(l);
}

int main(void)
{
    log_set_level(LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replicates_survives_leader_death_and_restarts),
        cmocka_unit_test(test_health_targets_and_replay_without_a_leader),
        cmocka_unit_test(test_lagging_node_catches_up_through_snapshot),
        cmocka_unit_test(test_snapshot_refused_by_content_check_changes_nothing),
        cmocka_unit_test(test_forward_to_dead_leader_ends_with_the_election),
        cmocka_unit_test(test_async_requests_answer_once_by_callback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
