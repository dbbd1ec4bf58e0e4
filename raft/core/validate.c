/* raft/core/validate.c — what a message may say: the semantic hostile-input check
 * (raft_msg_check) shared by the wire decoder and raft_step.
 *
 * The decoder (raft/codec.c) checks bytes: lengths, counts, flags. This file
 * checks meaning: every term and index below RAFT_TERM_LIMIT /
 * RAFT_INDEX_LIMIT (so no arithmetic on them can wrap, raft.h), and the
 * relations no honest peer can break. Each rule names the part of the paper
 * it comes from. A message failing here is dropped whole, with a log line
 * (codec: the transport closes the connection; core: raft_step).
 */
#include "raft/core/raft_int.h"

static bool term_ok(raft_term_t t) { return t < RAFT_TERM_LIMIT; }
static bool index_ok(raft_index_t i) { return i < RAFT_INDEX_LIMIT; }

/* Messages only a leader (AppendEntries, heartbeat, InstallSnapshot,
 * TimeoutNow) or a candidate (RequestVote) sends: §5.2, the first election
 * is for term 1, so they never carry term 0. */
static bool sent_by_leader_or_candidate(raft_msg_type_t t)
{
    return t == RAFT_MSG_APPEND || t == RAFT_MSG_HEARTBEAT || t == RAFT_MSG_SNAPSHOT ||
           t == RAFT_MSG_TIMEOUT_NOW || t == RAFT_MSG_VOTE;
}

/* Figure 2 AppendEntries arguments. Entries follow prev_index one by one
 * (§5.3); their terms never go down and never exceed the leader's term
 * (a leader only creates entries in its own term and holds older ones,
 * Log Matching); only index 0 has term 0. */
static const char *check_append(const raft_msg_t *m)
{
    const raft_append_t *a = &m->u.append;
    if (!index_ok(a->prev_index) || !index_ok(a->commit))
        return "append index at or above the limit";
    if (a->n_entries > RAFT_INDEX_LIMIT - 1 - a->prev_index)
        return "append entries past the index limit";
    if (a->prev_term > m->term)
        return "append prev_term above the message term";
    if ((a->prev_index == 0) != (a->prev_term == 0))
        return "append prev_term 0 with an index, or a term at index 0";
    if (a->n_entries && !a->entries)
        return "append entries missing";
    raft_term_t prev = a->prev_term;
    for (size_t i = 0; i < a->n_entries; i++) {
        const raft_entry_t *e = &a->entries[i];
        if (e->index != a->prev_index + 1 + i)
            return "entries not contiguous";
        if (e->term == 0)
            return "entry of term 0";
        if (e->term > m->term)
            return "entry term above the message term";
        if (e->term < prev)
            return "entry terms decreasing";
        if (e->len && !e->data)
            return "entry data missing";
        if (e->type < RAFT_ENTRY_NORMAL || e->type > RAFT_ENTRY_CONFIG)
            return "unknown entry type";
        prev = e->term;
    }
    return NULL;
}

/* Figure 13 InstallSnapshot arguments: lastIncludedIndex/Term name a
 * committed entry (never index 0, never of a term the leader has not
 * reached), and the configuration at that index has at least one voter
 * (§7: "the snapshot also includes the latest configuration"). */
static const char *check_snapshot(const raft_msg_t *m)
{
    const raft_snapshot_chunk_t *c = &m->u.snapshot;
    if (c->index == 0 || !index_ok(c->index))
        return "snapshot index 0 or at or above the limit";
    if (c->term == 0 || c->term > m->term)
        return "snapshot term 0 or above the message term";
    if (c->members.n_voters == 0 || !members_valid(&c->members))
        return "snapshot configuration empty or invalid";
    if (c->total_len >= RAFT_INDEX_LIMIT || c->offset > c->total_len ||
        c->len > c->total_len - c->offset)
        return "snapshot chunk outside the snapshot";
    if (c->len && !c->data)
        return "snapshot data missing";
    if (c->last != (c->offset + c->len == c->total_len))
        return "snapshot last flag inconsistent";
    return NULL;
}

static const char *check_body(const raft_msg_t *m)
{
    switch (m->type) {
    case RAFT_MSG_APPEND:
        return check_append(m);
    case RAFT_MSG_APPEND_RESP: {
        const raft_append_resp_t *a = &m->u.append_resp;
        if (!index_ok(a->index) || !index_ok(a->hint_index))
            return "append response index at or above the limit";
        /* The hint is an entry of the follower's log: not above its term. */
        if (a->hint_term > m->term)
            return "append response hint term above the message term";
        return NULL;
    }
    case RAFT_MSG_HEARTBEAT:
        return index_ok(m->u.heartbeat.commit) ? NULL : "heartbeat commit at or above the limit";
    case RAFT_MSG_VOTE:
        if (!index_ok(m->u.vote.last_index))
            return "vote last index at or above the limit";
        /* §5.4.1: the candidate's last entry is of its term or older. */
        if (m->u.vote.last_term > m->term)
            return "vote last term above the term asked for";
        return NULL;
    case RAFT_MSG_SNAPSHOT:
        return check_snapshot(m);
    case RAFT_MSG_SNAPSHOT_RESP:
        if (!index_ok(m->u.snapshot_resp.index) || !index_ok(m->u.snapshot_resp.match_index) ||
            m->u.snapshot_resp.next_offset >= RAFT_INDEX_LIMIT)
            return "snapshot response index at or above the limit";
        return NULL;
    case RAFT_MSG_READ_INDEX_RESP:
        return index_ok(m->u.read_index_resp.index) ? NULL
                                                    : "read index at or above the limit";
    case RAFT_MSG_HEARTBEAT_RESP:
    case RAFT_MSG_VOTE_RESP:
    case RAFT_MSG_TIMEOUT_NOW:
    case RAFT_MSG_READ_INDEX:
        return NULL;
    }
    return "unknown message type";
}

const char *raft_msg_check(const raft_msg_t *m)
{
    if (m->type < RAFT_MSG_APPEND || m->type > RAFT_MSG_READ_INDEX_RESP)
        return "unknown message type";
    if (m->from == 0 || m->to == 0)
        return "node id 0 in message header";
    if (!term_ok(m->term))
        return "term at or above the limit";
    if (m->term == 0 && sent_by_leader_or_candidate(m->type))
        return "leader or candidate message in term 0";
    return check_body(m);
}
