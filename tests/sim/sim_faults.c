/* tests/sim/sim_faults.c — the scenario's faults, drawn tick by tick.
 *
 * Partitions of four shapes (symmetric split, one-way cuts, the leader cut
 * off, a bridge node joining two halves), crashes and restarts, membership
 * changes (remove a node, add it back as a learner, promote it once caught
 * up) and leadership transfers. Membership follows the leader's own view of
 * the configuration, so the simulation needs no plan of its own: whatever
 * the log says decides the next step. The quiet phase heals everything. */
#include "tests/sim/sim_world.h"

#include <string.h>

static int count_down(const struct sim_world *w)
{
    int down = 0;
    for (int i = 0; i < w->n; i++)
        down += !w->nodes[i].up;
    return down;
}

static void shuffle_slots(struct sim_world *w, int *slots)
{
    for (int i = 0; i < w->n; i++)
        slots[i] = i;
    for (int i = w->n - 1; i > 0; i--) {
        int j = (int)sim_rng_below(&w->rng, (uint32_t)i + 1);
        int t = slots[i];
        slots[i] = slots[j];
        slots[j] = t;
    }
}

static void cut_between(struct sim_world *w, const bool *side_a, bool keep_bridge, int bridge)
{
    for (int a = 0; a < w->n; a++)
        for (int b = 0; b < w->n; b++) {
            if (a == b || side_a[a] == side_a[b])
                continue;
            if (keep_bridge && (a == bridge || b == bridge))
                continue;
            sim_net_set_link(&w->net, a, b, false);
        }
}

static void describe_links(struct sim_world *w, const char *what)
{
    char buf[SIM_TRACE_NOTE];
    size_t used = 0;
    for (int a = 0; a < w->n; a++)
        for (int b = 0; b < w->n; b++)
            if (a != b && !sim_net_link_up(&w->net, a, b) && used + 8 < sizeof buf)
                used += (size_t)snprintf(buf + used, sizeof buf - used, " %d>%d", a + 1, b + 1);
    buf[used] = 0;
    sim_trace_note(&w->trace, w->now, -1, "PARTITION %s, cut:%s", what, buf);
}

static void start_partition(struct sim_world *w)
{
    unsigned kinds[4], n_kinds = 0;
    for (unsigned k = 0; k < 4; k++)
        if (w->sc.partition_kinds & (1u << k))
            kinds[n_kinds++] = 1u << k;
    if (n_kinds == 0)
        return;
    unsigned kind = kinds[sim_rng_below(&w->rng, n_kinds)];
    int slots[SIM_MAX_NODES];
    bool side_a[SIM_MAX_NODES] = { false };
    shuffle_slots(w, slots);
    const char *what = "";
    switch (kind) {
    case SIM_PART_SYMMETRIC: {
        int k = (int)sim_rng_range(&w->rng, 1, (uint32_t)w->n - 1);
        for (int i = 0; i < k; i++)
            side_a[slots[i]] = true;
        cut_between(w, side_a, false, -1);
        what = "symmetric";
        break;
    }
    case SIM_PART_ONE_WAY: {
        int cuts = (int)sim_rng_range(&w->rng, 1, (uint32_t)w->n);
        for (int i = 0; i < cuts; i++) {
            int a = (int)sim_rng_below(&w->rng, (uint32_t)w->n);
            int b = (int)sim_rng_below(&w->rng, (uint32_t)w->n);
            if (a != b)
                sim_net_set_link(&w->net, a, b, false);
        }
        what = "one-way";
        break;
    }
    case SIM_PART_LEADER: {
        struct sim_node *l = sim_find_leader(w);
        sim_net_isolate(&w->net, l ? l->slot : slots[0]);
        what = l ? "leader isolated" : "node isolated (no leader)";
        break;
    }
    case SIM_PART_BRIDGE: {
        /* slots[0] is the bridge; the rest split into two non-empty halves. */
        int half = (w->n - 1) / 2;
        for (int i = 1; i <= half; i++)
            side_a[slots[i]] = true;
        cut_between(w, side_a, true, slots[0]);
        what = "bridge";
        break;
    }
    }
    w->heal_at = w->now + sim_rng_range(&w->rng, 1, w->sc.partition_ticks_max);
    w->stats.partitions++;
    describe_links(w, what);
}

static void crash_someone(struct sim_world *w)
{
    /* Keep a majority up most of the time so runs make progress; safety must
     * hold either way, and the quiet phase restarts everyone. */
    if (count_down(w) >= (w->n - 1) / 2 + (sim_rng_chance(&w->rng, 200000) ? 1 : 0))
        return;
    struct sim_node *l = sim_find_leader(w);
    struct sim_node *victim = l && sim_rng_chance(&w->rng, 400000)
                                  ? l
                                  : &w->nodes[sim_rng_below(&w->rng, (uint32_t)w->n)];
    if (!victim->up)
        return;
    sim_node_crash(w, victim);
    victim->restart_at = w->now + sim_rng_range(&w->rng, 1, w->sc.down_ticks_max);
}

static void restart(struct sim_world *w, struct sim_node *nd)
{
    if (sim_node_start(w, nd))
        sim_trace_note(&w->trace, w->now, nd->slot,
                       "RESTART from disk: term=%llu vote=%llu commit=%llu snapshot=%llu "
                       "entries=%zu",
                       (unsigned long long)nd->disk.hs.term, (unsigned long long)nd->disk.hs.vote,
                       (unsigned long long)nd->disk.hs.commit,
                       (unsigned long long)nd->disk.snap.index, nd->disk.n);
}

static bool in_members(const raft_members_t *m, raft_id_t id)
{
    return raft_members_is_voter(m, id) || raft_members_is_learner(m, id);
}

/* One membership step from the leader's current configuration. */
static void change_membership(struct sim_world *w)
{
    struct sim_node *l = sim_find_leader(w);
    if (!l)
        return;
    const raft_members_t *m = raft_members(l->r);
    raft_index_t index = 0;
    int rc;
    const char *what;
    raft_id_t target = 0;
    for (int i = 0; i < w->n && !target; i++)
        if (!in_members(m, w->nodes[i].id))
            target = w->nodes[i].id;
    if (target) {
        what = "add learner";
        rc = raft_add_learner(l->r, target, NULL, 0, &index);
    } else if (m->n_learners > 0) {
        target = m->learners[0];
        what = "promote";
        rc = raft_promote(l->r, target, &index);
    } else {
        if ((int)m->n_voters < w->n)
            return;
        target = (raft_id_t)sim_rng_range(&w->rng, 1, (uint32_t)w->n);
        what = "remove";
        rc = raft_remove(l->r, target, &index);
    }
    sim_trace_note(&w->trace, w->now, l->slot, "CONFIG %s n%llu: %s%s", what,
                   (unsigned long long)target, raft_strerror(rc),
                   rc == RAFT_OK ? "" : " (will retry)");
    if (rc == RAFT_OK)
        w->stats.conf_changes++;
}

static void transfer_leadership(struct sim_world *w)
{
    struct sim_node *l = sim_find_leader(w);
    if (!l)
        return;
    const raft_members_t *m = raft_members(l->r);
    raft_id_t to = 0;
    if (m->n_voters > 1 && sim_rng_chance(&w->rng, 800000)) {
        to = m->voters[sim_rng_below(&w->rng, m->n_voters)];
        if (to == l->id)
            to = 0;
    }
    int rc = raft_transfer_leadership(l->r, to);
    sim_trace_note(&w->trace, w->now, l->slot, "TRANSFER leadership to %s%llu: %s",
                   to ? "n" : "most up-to-date", (unsigned long long)to, raft_strerror(rc));
    if (rc == RAFT_OK)
        w->stats.transfers++;
}

/* True if a running node other than nd has nd in its latest configuration
 * (e.g. a leader adding it back as a learner: sim seed 1541). */
static bool listed_by_another(const struct sim_world *w, const struct sim_node *nd)
{
    for (int i = 0; i < w->n; i++) {
        const struct sim_node *o = &w->nodes[i];
        if (o != nd && o->up && in_members(raft_members(o->r), nd->id))
            return true;
    }
    return false;
}

/* Without PreVote and CheckQuorum, plain Raft lets a removed server that
 * never learned of its removal disrupt the cluster forever with
 * higher-term RequestVotes (thesis §4.2.3); the remedy there is the
 * operator shutting it down, which the quiet phase does. With both on, the
 * removed node keeps running and must not disrupt anyone. A server is
 * stopped once its removal is committed and no other running server lists
 * it any more. */
static void stop_removed_nodes(struct sim_world *w)
{
    if (w->base_opts.pre_vote && w->base_opts.check_quorum)
        return;
    /* The reference is the node that knows the most committed entries:
     * its configuration, once committed, is the cluster's. (The longest
     * log is not: a stale leader cut off from the rest may hold the
     * longest log, full of entries that will never commit — sim seed
     * 18628, where that leader had been removed and was never stopped.) */
    struct sim_node *ref = NULL;
    for (int i = 0; i < w->n; i++) {
        struct sim_node *nd = &w->nodes[i];
        if (nd->up && (!ref || raft_commit(nd->r) > raft_commit(ref->r)))
            ref = nd;
    }
    /* Only a committed removal is final; an uncommitted one may yet be
     * overwritten and the node be a member again. */
    if (!ref || raft_members_index(ref->r) > raft_commit(ref->r))
        return;
    const raft_members_t *m = raft_members(ref->r);
    for (int i = 0; i < w->n; i++) {
        struct sim_node *nd = &w->nodes[i];
        if (!nd->up || in_members(m, nd->id) || listed_by_another(w, nd))
            continue;
        sim_trace_note(&w->trace, w->now, nd->slot, "operator stops this removed server");
        sim_node_crash(w, nd);
        nd->restart_at = UINT64_MAX;
    }
}

void sim_faults_step(struct sim_world *w)
{
    if (w->heal_at && w->now >= w->heal_at) {
        sim_net_heal(&w->net);
        w->heal_at = 0;
        sim_trace_note(&w->trace, w->now, -1, "HEAL all links");
    }
    for (int i = 0; i < w->n; i++) {
        struct sim_node *nd = &w->nodes[i];
        if (!nd->up && w->now >= nd->restart_at)
            restart(w, nd);
    }
    if (w->quiet) {
        stop_removed_nodes(w);
        return;
    }
    for (int i = 0; i < w->n; i++) {
        struct sim_node *nd = &w->nodes[i];
        if (nd->up && nd->kill_at && w->now >= nd->kill_at) {
            nd->kill_at = 0;
            sim_node_crash(w, nd);
            nd->restart_at = w->now + sim_rng_range(&w->rng, 1, w->sc.down_ticks_max);
        }
    }
    if (!w->heal_at && w->sc.partition_ppm && sim_rng_chance(&w->rng, w->sc.partition_ppm))
        start_partition(w);
    if (w->sc.crash_ppm && sim_rng_chance(&w->rng, w->sc.crash_ppm))
        crash_someone(w);
    if (w->sc.conf_ppm && sim_rng_chance(&w->rng, w->sc.conf_ppm))
        change_membership(w);
    if (w->sc.transfer_ppm && sim_rng_chance(&w->rng, w->sc.transfer_ppm))
        transfer_leadership(w);
}

void sim_faults_quiet(struct sim_world *w)
{
    w->quiet = true;
    sim_net_heal(&w->net);
    w->heal_at = 0;
    w->net.faults = (struct sim_net_faults){ .delay_min = 0, .delay_max = 1 };
    w->sc.disk_ticks_max = w->sc.disk_ticks_max > 1 ? 1 : w->sc.disk_ticks_max;
    for (int i = 0; i < w->n; i++)
        if (w->nodes[i].restart_at != UINT64_MAX)
            w->nodes[i].restart_at = w->now;
    sim_trace_note(&w->trace, w->now, -1,
                   "QUIET PHASE: network healed, every node restarted, no more faults");
}
