/* raft/node_health.c — what the service's readiness needs from the Raft
 * thread (node_health_t in node.h): the catch-up target an empty node must
 * apply before it serves, and the last moment this node knew a current
 * leader. Raft thread only; handed out through node_options_t.on_health. */
#include "raft/node_int.h"

#include <string.h>

#include "common/log.h"

/* How often at most the Raft thread writes the commit hint (a file
 * replacement and two fsyncs): a restart replays what was applied up to
 * about this long before it stopped; a graceful stop writes it at once. */
#define COMMIT_HINT_MS 1000

/* At start: a node that had data must first replay what it had committed
 * (the commit hint, or its snapshot); an empty node learns its target from
 * the leader (node_health_note_message) or by leading. A data dir that
 * never got as far as a commit (a join interrupted by a crash) counts as
 * empty: serving its nothing at once would deny every zone. */
void node_health_start(node_t *n)
{
    n->had_data = !n->was_empty && raft_commit(n->r) > 0;
    if (n->had_data) {
        n->target_known = true;
        n->target = raft_commit(n->r);
    }
}

static bool from_our_leader(const node_t *n, const raft_msg_t *m)
{
    if (m->from != raft_leader(n->r) || m->from == n->id || m->term != raft_term(n->r))
        return false;
    return m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT ||
           m->type == RAFT_MSG_SNAPSHOT;
}

/* After raft_step(m): a message of the leader of our term proves it was
 * current when it sent it (with check-quorum it steps down within an
 * election timeout of losing its quorum, thesis §6.2). Its first
 * AppendEntries carries leaderCommit: what an empty node must catch up to
 * (a heartbeat's commit is capped at our match index, so it will not do). */
void node_health_note_message(node_t *n, const raft_msg_t *m)
{
    if (!from_our_leader(n, m))
        return;
    n->current_ms = loop_now_ms();
    if (m->type == RAFT_MSG_APPEND && !n->target_known) {
        n->target_known = true;
        n->target = m->u.append.commit;
    }
}

/* The leader's last moment with a quorum: the most recent time by which a
 * majority of voters (itself counted as now) had been heard from. */
static uint64_t quorum_contact_ms(const node_t *n, uint64_t now)
{
    const raft_members_t *m = raft_members(n->r);
    uint64_t heard[RAFT_MAX_MEMBERS];
    uint32_t count = 0;
    for (uint32_t i = 0; i < m->n_voters && count < RAFT_MAX_MEMBERS; i++) {
        uint64_t t = 0;
        if (m->voters[i] == n->id)
            t = now;
        for (size_t j = 0; t == 0 && j < ADDRBOOK_MAX; j++)
            if (n->heard_id[j] == m->voters[i])
                t = n->last_heard[j];
        heard[count++] = t;
    }
    if (count == 0)
        return 0;
    /* Sort descending (a handful of voters); the quorum-th is the answer. */
    for (uint32_t i = 1; i < count; i++)
        for (uint32_t j = i; j > 0 && heard[j] > heard[j - 1]; j--) {
            uint64_t t = heard[j];
            heard[j] = heard[j - 1];
            heard[j - 1] = t;
        }
    return heard[count / 2];
}

static void leader_update(node_t *n, uint64_t now)
{
    uint64_t q = quorum_contact_ms(n, now);
    if (q > n->current_ms)
        n->current_ms = q;
    /* §5.4.2: a new leader knows what is committed once an entry of its
     * own term (its no-op) is. */
    raft_index_t commit = raft_commit(n->r);
    if (!n->target_known && commit > 0 && raft_log_term(n->r, commit) == raft_term(n->r)) {
        n->target_known = true;
        n->target = commit;
    }
}

void node_health_report(node_t *n)
{
    if (n->o.on_health == NULL || n->r == NULL || n->failed)
        return;
    uint64_t now = loop_now_ms();
    if (raft_role(n->r) == RAFT_LEADER)
        leader_update(n, now);
    node_health_t h = {
        .now_ms = now, .had_data = n->had_data, .target_known = n->target_known,
        .target = n->target, .applied = raft_applied(n->r), .current_ms = n->current_ms,
    };
    n->o.on_health(n->o.health_ctx, &h);
}

/* The hint is the applied index, which is durable (Ready contract: apply
 * after persist; the leader counts only durable entries). */
void node_health_save_commit_hint(node_t *n, bool now)
{
    if (n->r == NULL || n->failed)
        return;
    raft_index_t applied = raft_applied(n->r);
    uint64_t t = loop_now_ms();
    if (applied <= n->disk.saved.commit || (!now && t - n->hint_saved_ms < COMMIT_HINT_MS))
        return;
    n->hint_saved_ms = t;
    struct storage_error se = { 0 };
    if (node_disk_save_commit_hint(&n->disk, applied, &se) != 0)
        log_warn("raft", "%s: cannot save the commit hint: %s", n->data_dir, se.msg);
}
