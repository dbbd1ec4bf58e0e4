/* tests/unit/raft_test_net.c — see raft_test_net.h. Included (not linked)
 * by the test_raft_*.c files, after cmocka.h. Owns: every core it creates
 * (raft_free on crash/net_free), the durable copies, the message queue
 * (cloned messages, raft_msg_free on delivery or drop). */
#include "raft_test_net.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NET_CHECK(r)                                                      \
    do {                                                                  \
        const char *why_ = raft_check_invariants(r);                      \
        if (why_)                                                         \
            fail_msg("node %llu invariant: %s",                           \
                     (unsigned long long)raft_id(r), why_);               \
    } while (0)

static net_node_t *net_node(net_t *net, raft_id_t id)
{
    assert_true(id >= 1 && id <= NET_MAX_NODES);
    return &net->nodes[id];
}

void net_init(net_t *net, uint32_t n)
{
    memset(net, 0, sizeof(*net));
    assert_true(n <= NET_MAX_NODES);
    net->n = n;
    for (raft_id_t id = 1; id <= NET_MAX_NODES; id++) {
        raft_options_t *o = &net->nodes[id].opts;
        raft_options_init(o);
        o->id = id;
        o->seed = 1000 + id * 7919;
        for (raft_id_t v = 1; v <= n; v++)
            o->bootstrap.voters[o->bootstrap.n_voters++] = v;
    }
}

static void net_start_node(net_t *net, raft_id_t id)
{
    net_node_t *nd = net_node(net, id);
    raft_persisted_t p = { .hard_state = nd->hs, .snapshot = nd->snap,
                           .entries = nd->log, .n_entries = nd->n_log };
    int err = 0;
    nd->r = raft_new(&nd->opts, &p, &err);
    if (!nd->r)
        fail_msg("raft_new(%llu): %s", (unsigned long long)id,
                 raft_strerror(err));
    /* The state machine restarts from the snapshot, then replays. */
    nd->sm_count = nd->sm_hash = 0;
    if (nd->snap.index && nd->snap.len == 16) {
        memcpy(&nd->sm_count, nd->snap.data, 8);
        memcpy(&nd->sm_hash, nd->snap.data + 8, 8);
    }
    nd->sm_applied = nd->snap.index;
    NET_CHECK(nd->r);
}

void net_start(net_t *net)
{
    for (raft_id_t id = 1; id <= net->n; id++)
        net_start_node(net, id);
}

void net_start_joiner(net_t *net, raft_id_t id)
{
    net_node_t *nd = net_node(net, id);
    memset(&nd->opts.bootstrap, 0, sizeof(nd->opts.bootstrap));
    if (id > net->n)
        net->n = (uint32_t)id;
    net_start_node(net, id);
}

static void net_free_durable(net_node_t *nd)
{
    for (size_t i = 0; i < nd->n_log; i++)
        free((void *)nd->log[i].data);
    free(nd->log);
    nd->log = NULL;
    nd->n_log = nd->cap_log = 0;
    free((void *)nd->snap.data);
    memset(&nd->snap, 0, sizeof(nd->snap));
}

void net_free(net_t *net)
{
    for (raft_id_t id = 1; id <= NET_MAX_NODES; id++) {
        raft_free(net->nodes[id].r);
        net->nodes[id].r = NULL;
        net_free_durable(&net->nodes[id]);
    }
    net_drop_queue(net);
    free(net->queue);
}

/* ---- durable storage following the contract -------------------------------- */

static uint8_t *net_dup(const uint8_t *p, size_t len)
{
    if (!len)
        return NULL;
    uint8_t *d = malloc(len);
    assert_non_null(d);
    memcpy(d, p, len);
    return d;
}

static void net_drop_durable_from(net_node_t *nd, raft_index_t from)
{
    while (nd->n_log > 0 && nd->log[nd->n_log - 1].index >= from) {
        nd->n_log--;
        free((void *)nd->log[nd->n_log].data);
    }
}

static void net_persist(net_node_t *nd, const raft_ready_t *rd)
{
    if (rd->snapshot) {
        net_free_durable(nd);
        nd->snap = *rd->snapshot;
        nd->snap.data = net_dup(rd->snapshot->data, rd->snapshot->len);
        /* Restore the state machine from the snapshot (Figure 13 step 8). */
        if (nd->snap.len == 16) {
            memcpy(&nd->sm_count, nd->snap.data, 8);
            memcpy(&nd->sm_hash, nd->snap.data + 8, 8);
        }
        nd->sm_applied = nd->snap.index;
    }
    if (rd->truncate_from)
        net_drop_durable_from(nd, rd->truncate_from);
    for (size_t i = 0; i < rd->n_entries; i++) {
        const raft_entry_t *e = &rd->entries[i];
        net_drop_durable_from(nd, e->index);
        assert_int_equal(e->index, nd->snap.index + nd->n_log + 1);
        if (nd->n_log == nd->cap_log) {
            nd->cap_log = nd->cap_log ? nd->cap_log * 2 : 64;
            nd->log = realloc(nd->log, nd->cap_log * sizeof(*nd->log));
            assert_non_null(nd->log);
        }
        nd->log[nd->n_log] = *e;
        nd->log[nd->n_log].data = net_dup(e->data, e->len);
        nd->n_log++;
    }
    if (rd->hard_state_changed)
        nd->hs = rd->hard_state;
}

static uint64_t net_fnv(const uint8_t *p, size_t len)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

static void net_apply(net_t *net, net_node_t *nd, const raft_ready_t *rd)
{
    for (size_t i = 0; i < rd->n_committed; i++) {
        const raft_entry_t *e = &rd->committed[i];
        assert_int_equal(e->index, nd->sm_applied + 1);
        if (e->index < NET_TRACKED) {
            if (net->applied_term[e->index] == 0)
                net->applied_term[e->index] = e->term;
            else if (net->applied_term[e->index] != e->term)
                net->sms_violated = true;
        }
        if (e->type == RAFT_ENTRY_NORMAL) {
            nd->sm_count++;
            nd->sm_hash = nd->sm_hash * 31 + net_fnv(e->data, e->len);
        }
        nd->sm_applied = e->index;
    }
    for (size_t i = 0; i < rd->n_reads; i++)
        if (nd->n_reads < sizeof(nd->reads) / sizeof(nd->reads[0]))
            nd->reads[nd->n_reads++] = rd->reads[i];
}

static bool net_link_up(const net_t *net, raft_id_t from, raft_id_t to)
{
    if (from < 1 || from > NET_MAX_NODES || to < 1 || to > NET_MAX_NODES)
        return false;
    return !net->cut[from][to] && net->nodes[from].r && net->nodes[to].r;
}

static void net_enqueue(net_t *net, const raft_msg_t *m)
{
    if (!net_link_up(net, m->from, m->to)) {
        net->dropped++;
        return;
    }
    if (net->q_head + net->q_len == net->q_cap) {
        if (net->q_head > 0) {
            memmove(net->queue, net->queue + net->q_head,
                    net->q_len * sizeof(*net->queue));
            net->q_head = 0;
        } else {
            net->q_cap = net->q_cap ? net->q_cap * 2 : 256;
            net->queue = realloc(net->queue, net->q_cap * sizeof(*net->queue));
            assert_non_null(net->queue);
        }
    }
    assert_int_equal(raft_msg_clone(m, &net->queue[net->q_head + net->q_len]),
                     0);
    net->q_len++;
}

void net_flush(net_t *net, raft_id_t id)
{
    net_node_t *nd = net_node(net, id);
    if (!nd->r)
        return;
    for (int guard = 0; raft_has_ready(nd->r); guard++) {
        assert_true(guard < 1000);
        raft_ready_t rd;
        raft_ready(nd->r, &rd);
        net_persist(nd, &rd);           /* 1-3: durable first */
        for (size_t i = 0; i < rd.n_msgs; i++)
            net_enqueue(net, &rd.msgs[i]);  /* 4: then send */
        net_apply(net, nd, &rd);        /* 5-6 */
        raft_advance(nd->r, &rd);       /* 7 */
        NET_CHECK(nd->r);
    }
}

void net_flush_all(net_t *net)
{
    for (raft_id_t id = 1; id <= net->n; id++)
        net_flush(net, id);
}

size_t net_deliver(net_t *net, size_t max)
{
    size_t n = 0;
    net_flush_all(net);
    while (net->q_len > 0 && n < max) {
        raft_msg_t m = net->queue[net->q_head];
        net->q_head++;
        net->q_len--;
        if (net_link_up(net, m.from, m.to)) {
            raft_t *r = net->nodes[m.to].r;
            if (m.type == RAFT_MSG_APPEND_RESP && !m.u.append_resp.success)
                net->append_rejects[m.from]++;
            raft_step(r, &m);
            NET_CHECK(r);
            net_flush(net, m.to);
            net->delivered++;
            n++;
        } else {
            net->dropped++;
        }
        raft_msg_free(&m);
    }
    return n;
}

void net_tick(net_t *net, raft_id_t id)
{
    net_node_t *nd = net_node(net, id);
    if (!nd->r)
        return;
    raft_tick(nd->r);
    NET_CHECK(nd->r);
    net_flush(net, id);
}

void net_tick_all(net_t *net)
{
    for (raft_id_t id = 1; id <= net->n; id++)
        net_tick(net, id);
    net_deliver(net, 100000);
}

bool net_elect(net_t *net, raft_id_t id)
{
    net_node_t *nd = net_node(net, id);
    for (int i = 0; i < 100 && raft_role(nd->r) == RAFT_FOLLOWER; i++)
        net_tick(net, id);
    net_deliver(net, 100000);
    return raft_role(nd->r) == RAFT_LEADER;
}

raft_id_t net_leader(const net_t *net)
{
    raft_id_t best = 0;
    raft_term_t best_term = 0;
    for (raft_id_t id = 1; id <= net->n; id++) {
        const raft_t *r = net->nodes[id].r;
        if (r && raft_role(r) == RAFT_LEADER && raft_term(r) >= best_term) {
            best = id;
            best_term = raft_term(r);
        }
    }
    return best;
}

raft_id_t net_wait_leader(net_t *net, uint32_t max_rounds)
{
    for (uint32_t i = 0; i < max_rounds; i++) {
        raft_id_t l = net_leader(net);
        if (l)
            return l;
        net_tick_all(net);
    }
    return net_leader(net);
}

void net_isolate(net_t *net, raft_id_t id)
{
    for (raft_id_t o = 1; o <= NET_MAX_NODES; o++) {
        if (o == id)
            continue;
        net->cut[id][o] = true;
        net->cut[o][id] = true;
    }
}

void net_partition(net_t *net, uint32_t group_mask)
{
    for (raft_id_t a = 1; a <= NET_MAX_NODES; a++)
        for (raft_id_t b = 1; b <= NET_MAX_NODES; b++)
            if (((group_mask >> a) & 1) != ((group_mask >> b) & 1))
                net->cut[a][b] = true;
}

void net_heal(net_t *net)
{
    memset(net->cut, 0, sizeof(net->cut));
}

void net_drop_queue(net_t *net)
{
    while (net->q_len > 0) {
        raft_msg_free(&net->queue[net->q_head]);
        net->q_head++;
        net->q_len--;
        net->dropped++;
    }
    net->q_head = 0;
}

void net_crash(net_t *net, raft_id_t id)
{
    net_node_t *nd = net_node(net, id);
    raft_free(nd->r);
    nd->r = NULL;
}

void net_restart(net_t *net, raft_id_t id)
{
    net_node_t *nd = net_node(net, id);
    assert_null(nd->r);
    net_start_node(net, id);
}

int net_propose(net_t *net, raft_id_t id, const char *text, raft_index_t *index)
{
    net_node_t *nd = net_node(net, id);
    int rc = raft_propose(nd->r, text, strlen(text), index);
    NET_CHECK(nd->r);
    net_flush(net, id);
    return rc;
}

int net_compact(net_t *net, raft_id_t id)
{
    net_node_t *nd = net_node(net, id);
    raft_index_t at = raft_applied(nd->r);
    assert_int_equal(at, nd->sm_applied);
    uint8_t data[16];
    memcpy(data, &nd->sm_count, 8);
    memcpy(data + 8, &nd->sm_hash, 8);
    int rc = raft_compact(nd->r, at, data, sizeof(data));
    if (rc != 0)
        return rc;
    /* The runtime's part: persist the snapshot, drop the durable prefix. */
    const raft_snapshot_t *s = raft_snapshot(nd->r);
    free((void *)nd->snap.data);
    nd->snap = *s;
    nd->snap.data = net_dup(s->data, s->len);
    size_t drop = 0;
    while (drop < nd->n_log && nd->log[drop].index <= at)
        free((void *)nd->log[drop++].data);
    memmove(nd->log, nd->log + drop, (nd->n_log - drop) * sizeof(*nd->log));
    nd->n_log -= drop;
    NET_CHECK(nd->r);
    return 0;
}

bool net_logs_equal(const net_t *net, raft_id_t a, raft_id_t b)
{
    const raft_t *ra = net->nodes[a].r, *rb = net->nodes[b].r;
    if (raft_last_index(ra) != raft_last_index(rb))
        return false;
    raft_index_t from = raft_first_index(ra) > raft_first_index(rb)
                            ? raft_first_index(ra) : raft_first_index(rb);
    for (raft_index_t i = from; i <= raft_last_index(ra); i++)
        if (raft_log_term(ra, i) != raft_log_term(rb, i))
            return false;
    return true;
}

/* ---- hand-driven cores ---------------------------------------------------------- */

raft_t *make_core_opts(const raft_options_t *o, const raft_term_t *terms,
                       size_t n, raft_term_t term, raft_index_t commit)
{
    raft_entry_t e[32];
    assert_true(n <= 32);
    for (size_t i = 0; i < n; i++)
        e[i] = (raft_entry_t){ .term = terms[i], .index = i + 1,
                               .type = RAFT_ENTRY_NORMAL };
    raft_persisted_t p = { .hard_state = { .term = term, .commit = commit },
                           .entries = e, .n_entries = n };
    int err = 0;
    raft_t *r = raft_new(o, &p, &err);
    if (!r)
        fail_msg("raft_new: %s", raft_strerror(err));
    return r;
}

raft_t *make_core(raft_id_t id, uint32_t n_voters, const raft_term_t *terms,
                  size_t n, raft_term_t term, raft_index_t commit,
                  raft_bug_t bugs)
{
    raft_options_t o;
    raft_options_init(&o);
    o.id = id;
    o.seed = id;
    o.bugs = bugs;
    for (raft_id_t v = 1; v <= n_voters; v++)
        o.bootstrap.voters[o.bootstrap.n_voters++] = v;
    return make_core_opts(&o, terms, n, term, commit);
}

size_t drain(raft_t *r, raft_msg_type_t type)
{
    size_t n = 0;
    while (raft_has_ready(r)) {
        raft_ready_t rd;
        raft_ready(r, &rd);
        for (size_t i = 0; i < rd.n_msgs; i++)
            n += rd.msgs[i].type == type;
        raft_advance(r, &rd);
        NET_CHECK(r);
    }
    return n;
}

void step(raft_t *r, raft_msg_t m)
{
    m.to = raft_id(r);
    assert_int_equal(raft_step(r, &m), 0);
    NET_CHECK(r);
}

void win_election(raft_t *r, const raft_id_t *from, size_t n)
{
    while (raft_role(r) == RAFT_FOLLOWER)
        raft_tick(r);
    drain(r, RAFT_MSG_VOTE);
    if (raft_role(r) == RAFT_PRECANDIDATE) {
        for (size_t i = 0; i < n; i++)
            step(r, (raft_msg_t){ .type = RAFT_MSG_VOTE_RESP, .from = from[i],
                                  .term = raft_term(r) + 1,
                                  .u.vote_resp = { .prevote = true,
                                                   .granted = true } });
        drain(r, RAFT_MSG_VOTE);
    }
    assert_int_equal(raft_role(r), RAFT_CANDIDATE);
    for (size_t i = 0; i < n; i++)
        step(r, (raft_msg_t){ .type = RAFT_MSG_VOTE_RESP, .from = from[i],
                              .term = raft_term(r),
                              .u.vote_resp = { .granted = true } });
    assert_int_equal(raft_role(r), RAFT_LEADER);
    drain(r, RAFT_MSG_APPEND);
}

void append_ok(raft_t *r, raft_id_t from, raft_index_t index)
{
    step(r, (raft_msg_t){ .type = RAFT_MSG_APPEND_RESP, .from = from,
                          .term = raft_term(r),
                          .u.append_resp = { .success = true,
                                             .index = index } });
    drain(r, RAFT_MSG_APPEND);
}
