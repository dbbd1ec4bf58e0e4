/* raft/core/msg.c — messages outside the core: deep copies for transports and
 * simulated networks that keep a message after raft_advance, and one-line
 * descriptions for traces ("2 -> 1 APPEND t3 prev 5/2 n 3 commit 4").
 *
 * Ownership: raft_msg_clone allocates one block per entry array and one per
 * payload; raft_msg_free releases exactly those. A cloned message owns its
 * entries' data.
 */
#include "raft/core/raft_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint8_t *msg_dup(const uint8_t *p, size_t len)
{
    if (!len)
        return NULL;
    uint8_t *d = malloc(len);
    if (d)
        memcpy(d, p, len);
    return d;
}

static int msg_clone_entries(const raft_append_t *src, raft_append_t *dst)
{
    dst->entries = NULL;
    if (src->n_entries == 0)
        return 0;
    raft_entry_t *e = calloc(src->n_entries, sizeof(*e));
    if (!e)
        return RAFT_ENOMEM;
    for (size_t i = 0; i < src->n_entries; i++) {
        e[i] = src->entries[i];
        e[i].data = msg_dup(src->entries[i].data, src->entries[i].len);
        if (e[i].len && !e[i].data) {
            for (size_t j = 0; j < i; j++)
                free((void *)e[j].data);
            free(e);
            return RAFT_ENOMEM;
        }
    }
    dst->entries = e;
    return 0;
}

int raft_msg_clone(const raft_msg_t *src, raft_msg_t *dst)
{
    raft_msg_t m = *src;
    if (src->type == RAFT_MSG_APPEND) {
        if (msg_clone_entries(&src->u.append, &m.u.append) != 0)
            return RAFT_ENOMEM;
    } else if (src->type == RAFT_MSG_SNAPSHOT) {
        m.u.snapshot.data = msg_dup(src->u.snapshot.data, src->u.snapshot.len);
        if (src->u.snapshot.len && !m.u.snapshot.data)
            return RAFT_ENOMEM;
    }
    *dst = m;
    return 0;
}

void raft_msg_free(raft_msg_t *m)
{
    if (m->type == RAFT_MSG_APPEND && m->u.append.entries) {
        for (size_t i = 0; i < m->u.append.n_entries; i++)
            free((void *)m->u.append.entries[i].data);
        free((void *)m->u.append.entries);
        m->u.append.entries = NULL;
        m->u.append.n_entries = 0;
    } else if (m->type == RAFT_MSG_SNAPSHOT) {
        free((void *)m->u.snapshot.data);
        m->u.snapshot.data = NULL;
        m->u.snapshot.len = 0;
    }
}

const char *raft_msg_type_name(raft_msg_type_t t)
{
    switch (t) {
    case RAFT_MSG_APPEND: return "APPEND";
    case RAFT_MSG_APPEND_RESP: return "APPEND_RESP";
    case RAFT_MSG_HEARTBEAT: return "HEARTBEAT";
    case RAFT_MSG_HEARTBEAT_RESP: return "HEARTBEAT_RESP";
    case RAFT_MSG_VOTE: return "VOTE";
    case RAFT_MSG_VOTE_RESP: return "VOTE_RESP";
    case RAFT_MSG_SNAPSHOT: return "SNAPSHOT";
    case RAFT_MSG_SNAPSHOT_RESP: return "SNAPSHOT_RESP";
    case RAFT_MSG_TIMEOUT_NOW: return "TIMEOUT_NOW";
    case RAFT_MSG_READ_INDEX: return "READ_INDEX";
    case RAFT_MSG_READ_INDEX_RESP: return "READ_INDEX_RESP";
    }
    return "UNKNOWN";
}

const char *raft_msg_format(const raft_msg_t *m, char *buf, size_t size)
{
    if (!size)
        return buf;
    int n = snprintf(buf, size, "%" PRIu64 " -> %" PRIu64 " %s t%" PRIu64,
                     m->from, m->to, raft_msg_type_name(m->type), m->term);
    if (n < 0 || (size_t)n >= size)
        return buf;
    char *p = buf + n;
    size_t left = size - (size_t)n;
    switch (m->type) {
    case RAFT_MSG_APPEND:
        snprintf(p, left, " prev %" PRIu64 "/%" PRIu64 " n %zu commit %" PRIu64,
                 m->u.append.prev_index, m->u.append.prev_term,
                 m->u.append.n_entries, m->u.append.commit);
        break;
    case RAFT_MSG_APPEND_RESP:
        snprintf(p, left, " %s index %" PRIu64 " hint %" PRIu64 "/%" PRIu64,
                 m->u.append_resp.success ? "ok" : "reject",
                 m->u.append_resp.index, m->u.append_resp.hint_index,
                 m->u.append_resp.hint_term);
        break;
    case RAFT_MSG_HEARTBEAT:
        snprintf(p, left, " commit %" PRIu64 " round %" PRIu64,
                 m->u.heartbeat.commit, m->u.heartbeat.read_seq);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        snprintf(p, left, " round %" PRIu64, m->u.heartbeat_resp.read_seq);
        break;
    case RAFT_MSG_VOTE:
        snprintf(p, left, "%s%s last %" PRIu64 "/%" PRIu64,
                 m->u.vote.prevote ? " pre" : "",
                 m->u.vote.transfer ? " transfer" : "",
                 m->u.vote.last_index, m->u.vote.last_term);
        break;
    case RAFT_MSG_VOTE_RESP:
        snprintf(p, left, "%s %s", m->u.vote_resp.prevote ? " pre" : "",
                 m->u.vote_resp.granted ? "granted" : "rejected");
        break;
    case RAFT_MSG_SNAPSHOT:
        snprintf(p, left, " snap %" PRIu64 "/%" PRIu64 " bytes %" PRIu64
                 "+%zu of %" PRIu64, m->u.snapshot.index, m->u.snapshot.term,
                 m->u.snapshot.offset, m->u.snapshot.len,
                 m->u.snapshot.total_len);
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        snprintf(p, left, " snap %" PRIu64 " next %" PRIu64 "%s",
                 m->u.snapshot_resp.index, m->u.snapshot_resp.next_offset,
                 m->u.snapshot_resp.done ? " done" : "");
        break;
    case RAFT_MSG_READ_INDEX:
        snprintf(p, left, " ctx %" PRIu64, m->u.read_index.ctx);
        break;
    case RAFT_MSG_READ_INDEX_RESP:
        snprintf(p, left, " ctx %" PRIu64 " index %" PRIu64 "%s",
                 m->u.read_index_resp.ctx, m->u.read_index_resp.index,
                 m->u.read_index_resp.ok ? "" : " refused");
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        break;
    }
    return buf;
}
