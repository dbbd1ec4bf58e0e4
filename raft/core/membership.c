/* raft/core/membership.c — cluster membership, one server at a time (thesis §4.1).
 *
 * Owns the configuration in effect, its encoding in RAFT_ENTRY_CONFIG
 * entries, and the three changes (add learner, promote, remove).
 *
 * Thesis §4.1: "a server always uses the latest configuration in its log,
 * regardless of whether the entry is committed" — so the configuration
 * changes when a config entry is appended (membership_apply_entry) and
 * reverts when a conflict truncates it (membership_recompute). Because only
 * one server is added or removed at a time, any majority of the old
 * configuration overlaps any majority of the new one, and "the leader does
 * not start a new change until the previous one is committed"
 * (pending_conf_index).
 *
 * Encoding of a config entry (little endian):
 *   u8 version (1) | u32 n_voters | u32 n_learners | u64 ids... |
 *   u32 ctx_len | ctx bytes
 */
#include "raft/core/raft_int.h"


#include <stdlib.h>
#include <string.h>

static bool members_contains(const raft_id_t *ids, uint32_t n, raft_id_t id)
{
    for (uint32_t i = 0; i < n; i++)
        if (ids[i] == id)
            return true;
    return false;
}

bool raft_members_is_voter(const raft_members_t *m, raft_id_t id)
{
    return members_contains(m->voters, m->n_voters, id);
}

bool raft_members_is_learner(const raft_members_t *m, raft_id_t id)
{
    return members_contains(m->learners, m->n_learners, id);
}

/* Ids nonzero, unique across both lists, total within RAFT_MAX_MEMBERS. */
bool members_valid(const raft_members_t *m)
{
    if (m->n_voters > RAFT_MAX_MEMBERS || m->n_learners > RAFT_MAX_MEMBERS ||
        m->n_voters + m->n_learners > RAFT_MAX_MEMBERS)
        return false;
    for (uint32_t i = 0; i < m->n_voters; i++) {
        if (m->voters[i] == 0 || members_contains(m->voters, i, m->voters[i]))
            return false;
    }
    for (uint32_t i = 0; i < m->n_learners; i++) {
        raft_id_t id = m->learners[i];
        if (id == 0 || members_contains(m->learners, i, id) ||
            raft_members_is_voter(m, id))
            return false;
    }
    return true;
}

bool membership_is_voter(const raft_t *r, raft_id_t id)
{
    return raft_members_is_voter(&r->members, id);
}

bool membership_is_member(const raft_t *r, raft_id_t id)
{
    return raft_members_is_voter(&r->members, id) ||
           raft_members_is_learner(&r->members, id);
}

/* The configuration in effect at index upto: the latest config entry at or
 * before it still in the log (its index is returned), else the snapshot's,
 * else the bootstrap configuration (0 is returned). Scans the log
 * backwards, so it is for rare events (restart, truncation, an election
 * timeout of a server outside its configuration). */
static raft_index_t membership_latest_at(const raft_t *r, raft_index_t upto,
                                         raft_members_t *out)
{
    raft_index_t first = r->log.snap_index + 1;
    for (raft_index_t i = upto; i >= first && i > 0; i--) {
        const raft_entry_t *e = log_get(&r->log, i);
        if (e->type == RAFT_ENTRY_CONFIG &&
            raft_config_decode(e->data, e->len, out, NULL, NULL) == 0)
            return i;
    }
    *out = r->snap.index > 0 ? r->snap.members : r->o.bootstrap;
    return 0;
}

/* True when the latest configuration in the log removed this server as a
 * voter and that entry is not known to be committed. Thesis §4.2.2: such a
 * server still takes part in the change until C_new commits — as leader it
 * "manages a cluster that does not include itself" — so it may have to
 * lead again to finish it (see election_may_campaign). */
bool membership_self_removal_pending(const raft_t *r)
{
    if (r->members_index <= r->commit || r->members_index <= r->log.snap_index)
        return false;
    if (membership_is_member(r, r->id))
        return false;
    raft_members_t prev;
    membership_latest_at(r, r->members_index - 1, &prev);
    return raft_members_is_voter(&prev, r->id);
}

/* ---- encoding ------------------------------------------------------------- */

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* Allocates *out (owned by the caller: normally handed to the log). */
int membership_encode(const raft_members_t *m, const void *ctx, size_t ctx_len,
                      uint8_t **out, size_t *out_len)
{
    if (ctx_len > UINT32_MAX)
        return RAFT_EINVAL;
    size_t ids = (size_t)m->n_voters + m->n_learners;
    size_t len = 1 + 4 + 4 + 8 * ids + 4 + ctx_len;
    uint8_t *b = malloc(len);
    if (!b)
        return RAFT_ENOMEM;
    uint8_t *p = b;
    *p++ = 1;
    put_u32(p, m->n_voters);
    p += 4;
    put_u32(p, m->n_learners);
    p += 4;
    for (uint32_t i = 0; i < m->n_voters; i++, p += 8)
        put_u64(p, m->voters[i]);
    for (uint32_t i = 0; i < m->n_learners; i++, p += 8)
        put_u64(p, m->learners[i]);
    put_u32(p, (uint32_t)ctx_len);
    p += 4;
    if (ctx_len)
        memcpy(p, ctx, ctx_len);
    *out = b;
    *out_len = len;
    return 0;
}

int raft_config_decode(const uint8_t *data, size_t len, raft_members_t *out,
                       const uint8_t **ctx, size_t *ctx_len)
{
    if (!data || len < 1 + 4 + 4 + 4 || data[0] != 1)
        return RAFT_EINVAL;
    uint32_t nv = get_u32(data + 1), nl = get_u32(data + 5);
    if (nv > RAFT_MAX_MEMBERS || nl > RAFT_MAX_MEMBERS)
        return RAFT_EINVAL;
    size_t need = 1 + 4 + 4 + 8 * ((size_t)nv + nl) + 4;
    if (len < need)
        return RAFT_EINVAL;
    raft_members_t m;
    memset(&m, 0, sizeof(m));
    m.n_voters = nv;
    m.n_learners = nl;
    const uint8_t *p = data + 9;
    for (uint32_t i = 0; i < nv; i++, p += 8)
        m.voters[i] = get_u64(p);
    for (uint32_t i = 0; i < nl; i++, p += 8)
        m.learners[i] = get_u64(p);
    uint32_t cl = get_u32(p);
    p += 4;
    if (cl != len - need || !members_valid(&m))
        return RAFT_EINVAL;
    *out = m;
    if (ctx)
        *ctx = cl ? p : NULL;
    if (ctx_len)
        *ctx_len = cl;
    return 0;
}

/* ---- configuration in effect --------------------------------------------- */

static void membership_set(raft_t *r, const raft_members_t *m, raft_index_t at)
{
    r->members = *m;
    r->members_index = at;
    if (r->role == RAFT_LEADER)
        progress_rebuild(r);
}

/* A config entry just entered the log: it is in effect now (thesis §4.1). */
void membership_apply_entry(raft_t *r, const raft_entry_t *e)
{
    if (!e || e->type != RAFT_ENTRY_CONFIG)
        return;
    raft_members_t m;
    if (raft_config_decode(e->data, e->len, &m, NULL, NULL) != 0) {
        core_trace(r, RAFT_TRACE_WARN, "node %llu: malformed config entry %llu ignored",
                 (unsigned long long)r->id, (unsigned long long)e->index);
        return;
    }
    membership_set(r, &m, e->index);
}

/* After the log changed underneath (truncation, snapshot, restart): the
 * latest config entry still in the log, else the snapshot's, else the
 * bootstrap configuration. */
void membership_recompute(raft_t *r)
{
    raft_members_t m;
    raft_index_t at = membership_latest_at(r, log_last_index(&r->log), &m);
    membership_set(r, &m, at);
}

/* Thesis §4.2.2: a leader that is not part of the configuration it just
 * committed steps down (it managed the cluster until then without counting
 * itself in majorities). */
void membership_on_commit(raft_t *r)
{
    if (r->role == RAFT_LEADER && r->commit >= r->members_index &&
        !membership_is_voter(r, r->id)) {
        core_trace(r, RAFT_TRACE_DEBUG, "node %llu: removed from the configuration, steps "
                  "down", (unsigned long long)r->id);
        convert_to_follower(r, r->term, 0);
    }
}

/* ---- changes --------------------------------------------------------------- */

static int membership_check_leader(const raft_t *r, raft_id_t id)
{
    if (r->rd.valid)
        return RAFT_EINVAL;  /* a batch is open: see raft.h */
    if (r->role != RAFT_LEADER)
        return RAFT_ENOTLEADER;
    if (id == 0)
        return RAFT_EINVAL;
    if (r->transfer_to)
        return RAFT_EBUSY;
    /* Thesis §4.1: one change at a time. */
    if (r->pending_conf_index > r->commit)
        return RAFT_EBUSY;
    return 0;
}

static int membership_propose(raft_t *r, const raft_members_t *m,
                              const void *ctx, size_t ctx_len,
                              raft_index_t *index)
{
    uint8_t *buf;
    size_t len;
    int rc = membership_encode(m, ctx, ctx_len, &buf, &len);
    if (rc != 0)
        return rc;
    rc = log_append_owned(&r->log, r->term, RAFT_ENTRY_CONFIG, buf, len);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    raft_index_t idx = log_last_index(&r->log);
    r->pending_conf_index = idx;
    membership_apply_entry(r, log_get(&r->log, idx));
    if (index)
        *index = idx;
    replication_broadcast_append(r);
    return 0;
}

static void members_remove_id(raft_id_t *ids, uint32_t *n, raft_id_t id)
{
    for (uint32_t i = 0; i < *n; i++) {
        if (ids[i] == id) {
            memmove(&ids[i], &ids[i + 1], (*n - i - 1) * sizeof(*ids));
            (*n)--;
            return;
        }
    }
}

int raft_add_learner(raft_t *r, raft_id_t id, const void *ctx, size_t ctx_len,
                     raft_index_t *index)
{
    int rc = membership_check_leader(r, id);
    if (rc != 0)
        return rc;
    if (membership_is_member(r, id))
        return RAFT_EINVAL;
    raft_members_t m = r->members;
    if (m.n_voters + m.n_learners >= RAFT_MAX_MEMBERS)
        return RAFT_EFULL;
    m.learners[m.n_learners++] = id;
    return membership_propose(r, &m, ctx, ctx_len, index);
}

/* Thesis §4.2.1: a new server joins without a vote and is promoted only
 * once it has caught up, so that adding it does not stall commits. */
int raft_promote(raft_t *r, raft_id_t id, raft_index_t *index)
{
    int rc = membership_check_leader(r, id);
    if (rc != 0)
        return rc;
    if (!raft_members_is_learner(&r->members, id))
        return RAFT_EINVAL;
    const raft_peer_t *p = progress_find_const(r, id);
    if (!p || p->match < r->commit)
        return RAFT_ENOTCAUGHTUP;
    raft_members_t m = r->members;
    members_remove_id(m.learners, &m.n_learners, id);
    m.voters[m.n_voters++] = id;
    return membership_propose(r, &m, NULL, 0, index);
}

int raft_remove(raft_t *r, raft_id_t id, raft_index_t *index)
{
    int rc = membership_check_leader(r, id);
    if (rc != 0)
        return rc;
    if (!membership_is_member(r, id))
        return RAFT_EINVAL;
    raft_members_t m = r->members;
    members_remove_id(m.voters, &m.n_voters, id);
    members_remove_id(m.learners, &m.n_learners, id);
    if (m.n_voters == 0)
        return RAFT_EINVAL;  /* a cluster needs at least one voter */
    return membership_propose(r, &m, NULL, 0, index);
}
