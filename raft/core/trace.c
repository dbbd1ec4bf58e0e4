/* raft/core/trace.c — trace events (raft.h raft_trace_event_t): building
 * them at each decision, their kind names for filters, and the one place
 * their text is formatted, shared by the runtime's log and the simulator.
 *
 * The core owns no logger: an event is data handed to r->o.trace. Every
 * builder returns at once when no callback is set, so the simulation's
 * million-step runs and the benchmarks pay one branch per decision.
 */
#include "raft/core/raft_int.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

static raft_trace_event_t trace_event(const raft_t *r, raft_trace_kind_t kind)
{
    return (raft_trace_event_t){ .kind = kind, .node = r->id, .term = r->term };
}

void trace_text(const raft_t *r, raft_trace_kind_t kind, const char *fmt, ...)
{
    if (!r->o.trace)
        return;
    char line[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    raft_trace_event_t e = trace_event(r, kind);
    e.text = line;
    r->o.trace(r->o.trace_ctx, &e);
}

void trace_role(const raft_t *r, raft_role_t old_role, raft_trace_reason_t why,
                raft_id_t peer)
{
    if (!r->o.trace)
        return;
    raft_trace_event_t e = trace_event(r, RAFT_TRACE_ROLE);
    e.role = (int)r->role;
    e.old_role = (int)old_role;
    e.reason = why;
    e.peer = peer;
    e.index = rlog_last_index(&r->log);
    e.log_term = rlog_last_term(&r->log);
    r->o.trace(r->o.trace_ctx, &e);
}

void trace_vote(const raft_t *r, const raft_msg_t *m, bool granted,
                raft_trace_reason_t why, raft_id_t other)
{
    if (!r->o.trace)
        return;
    raft_trace_event_t e = trace_event(r, RAFT_TRACE_VOTE);
    e.peer = m->from;
    e.peer_term = m->term;
    e.granted = granted;
    e.prevote = m->u.vote.prevote;
    e.reason = why;
    e.other = other;
    e.index = m->u.vote.last_index;
    e.log_term = m->u.vote.last_term;
    e.our_index = rlog_last_index(&r->log);
    e.our_term = rlog_last_term(&r->log);
    r->o.trace(r->o.trace_ctx, &e);
}

void trace_append_reject(const raft_t *r, const raft_msg_t *m, raft_trace_reason_t why,
                         raft_index_t our_index, raft_term_t our_term)
{
    if (!r->o.trace)
        return;
    raft_trace_event_t e = trace_event(r, RAFT_TRACE_APPEND_REJECT);
    e.peer = m->from;
    e.peer_term = m->term;
    e.reason = why;
    if (m->type == RAFT_MSG_APPEND) {
        e.index = m->u.append.prev_index;
        e.log_term = m->u.append.prev_term;
    }
    e.our_index = our_index;
    e.our_term = our_term;
    r->o.trace(r->o.trace_ctx, &e);
}

void trace_commit(const raft_t *r)
{
    if (!r->o.trace)
        return;
    raft_trace_event_t e = trace_event(r, RAFT_TRACE_COMMIT);
    e.index = r->commit;
    r->o.trace(r->o.trace_ctx, &e);
}

void trace_snapshot(const raft_t *r, raft_id_t to, raft_index_t index, raft_term_t term)
{
    if (!r->o.trace)
        return;
    raft_trace_event_t e = trace_event(r, RAFT_TRACE_SNAPSHOT);
    e.peer = to;
    e.index = index;
    e.log_term = term;
    r->o.trace(r->o.trace_ctx, &e);
}

void trace_transfer(const raft_t *r, raft_trace_reason_t why, raft_id_t peer)
{
    if (!r->o.trace)
        return;
    raft_trace_event_t e = trace_event(r, RAFT_TRACE_TRANSFER);
    e.reason = why;
    e.peer = peer;
    r->o.trace(r->o.trace_ctx, &e);
}

/* ---- names and text ---------------------------------------------------------- */

const char *raft_trace_kind_name(raft_trace_kind_t kind)
{
    switch (kind) {
    case RAFT_TRACE_ROLE: return "role";
    case RAFT_TRACE_VOTE: return "vote";
    case RAFT_TRACE_APPEND_REJECT: return "append-reject";
    case RAFT_TRACE_COMMIT: return "commit";
    case RAFT_TRACE_SNAPSHOT: return "snapshot";
    case RAFT_TRACE_TRANSFER: return "transfer";
    case RAFT_TRACE_WARN: return "warn";
    case RAFT_TRACE_ERROR: return "error";
    }
    return NULL;
}

/* Appends to a line being built; stops quietly when it is full. */
struct line {
    char *buf;
    size_t size, len;
};

static void put(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct line *l, const char *fmt, ...)
{
    if (l->len + 1 >= l->size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->buf + l->len, l->size - l->len, fmt, ap);
    va_end(ap);
    if (n > 0)
        l->len += (size_t)n < l->size - l->len ? (size_t)n : l->size - l->len - 1;
}

struct namer {
    raft_trace_name_fn fn;
    void *ctx;
    char buf[2][24];
};

static const char *who(struct namer *nm, int slot, raft_id_t id)
{
    const char *s = nm->fn ? nm->fn(nm->ctx, id) : NULL;
    if (s)
        return s;
    snprintf(nm->buf[slot], sizeof nm->buf[slot], "n%" PRIu64, id);
    return nm->buf[slot];
}

static void format_role(struct line *l, const raft_trace_event_t *e, struct namer *nm)
{
    const char *role = raft_role_name((raft_role_t)e->role);
    if (e->role == RAFT_FOLLOWER && e->old_role == RAFT_FOLLOWER)
        put(l, "stays follower, adopts term %" PRIu64, e->term);
    else
        put(l, "becomes %s in term %" PRIu64, role, e->term);
    switch (e->reason) {
    case RAFT_WHY_TIMEOUT: put(l, " (election timeout"); break;
    case RAFT_WHY_PREVOTE_WON: put(l, " (a majority granted its pre-vote"); break;
    case RAFT_WHY_TIMEOUT_NOW: put(l, " (TimeoutNow from %s", who(nm, 0, e->peer)); break;
    case RAFT_WHY_WON: put(l, " (votes from a majority"); break;
    case RAFT_WHY_LOST: put(l, " (a majority denied it"); break;
    case RAFT_WHY_HIGHER_TERM: put(l, " (%s has term %" PRIu64, who(nm, 0, e->peer), e->term); break;
    case RAFT_WHY_LEADER_HEARD: put(l, " (%s leads this term", who(nm, 0, e->peer)); break;
    case RAFT_WHY_NO_QUORUM: put(l, " (no majority heard for an election timeout"); break;
    case RAFT_WHY_REMOVED: put(l, " (its removal committed"); break;
    default: put(l, " ("); break;
    }
    if (e->role == RAFT_PRECANDIDATE)
        put(l, "; asks for term %" PRIu64, e->term + 1);
    put(l, "%slast entry (%" PRIu64 ",%" PRIu64 "))", e->reason ? "; " : "",
        e->index, e->log_term);
}

static void format_vote(struct line *l, const raft_trace_event_t *e, struct namer *nm)
{
    const char *what = e->prevote ? "pre-vote" : "vote";
    const char *peer = who(nm, 0, e->peer);
    if (e->reason == RAFT_WHY_LEASE) {
        /* A pre-vote is answered no; a real vote is not answered at all. */
        put(l, "%s %s %s %s for term %" PRIu64 ": leader %s heard within the election "
            "timeout", e->prevote ? "denies" : "ignores", what, e->prevote ? "to" : "from",
            peer, e->peer_term, who(nm, 1, e->other));
        return;
    }
    if (e->granted) {
        put(l, "grants %s to %s for term %" PRIu64 ": its log (%" PRIu64 ",%" PRIu64
            ") is at least as up to date as ours (%" PRIu64 ",%" PRIu64 ")", what, peer,
            e->peer_term, e->index, e->log_term, e->our_index, e->our_term);
        return;
    }
    put(l, "denies %s to %s for term %" PRIu64 ": ", what, peer, e->peer_term);
    switch (e->reason) {
    case RAFT_WHY_STALE_TERM:
        put(l, "%s term %" PRIu64, e->prevote ? "not above our" : "below our", e->term);
        break;
    case RAFT_WHY_VOTED: put(l, "already voted for %s", who(nm, 1, e->other)); break;
    case RAFT_WHY_HAS_LEADER: put(l, "follows leader %s", who(nm, 1, e->other)); break;
    default:
        put(l, "its log (%" PRIu64 ",%" PRIu64 ") is behind ours (%" PRIu64 ",%" PRIu64 ")",
            e->index, e->log_term, e->our_index, e->our_term);
        break;
    }
}

static void format_reject(struct line *l, const raft_trace_event_t *e, struct namer *nm)
{
    put(l, "rejects append from %s: ", who(nm, 0, e->peer));
    switch (e->reason) {
    case RAFT_WHY_STALE_TERM:
        put(l, "its term %" PRIu64 " is below ours %" PRIu64, e->peer_term, e->term);
        break;
    case RAFT_WHY_MISSING:
        put(l, "missing entries (prev (%" PRIu64 ",%" PRIu64 "), our log ends at %" PRIu64 ")",
            e->index, e->log_term, e->our_index);
        break;
    default:
        put(l, "conflict at index %" PRIu64 " (term %" PRIu64 " there, %" PRIu64 " here)",
            e->index, e->log_term, e->our_term);
        break;
    }
}

const char *raft_trace_format(const raft_trace_event_t *e, raft_trace_name_fn name,
                              void *name_ctx, char *buf, size_t size)
{
    if (!size)
        return buf;
    buf[0] = '\0';
    struct line l = { buf, size, 0 };
    struct namer nm = { .fn = name, .ctx = name_ctx };
    switch (e->kind) {
    case RAFT_TRACE_ROLE: format_role(&l, e, &nm); break;
    case RAFT_TRACE_VOTE: format_vote(&l, e, &nm); break;
    case RAFT_TRACE_APPEND_REJECT: format_reject(&l, e, &nm); break;
    case RAFT_TRACE_COMMIT: put(&l, "commit advanced to %" PRIu64, e->index); break;
    case RAFT_TRACE_SNAPSHOT:
        if (e->peer)
            put(&l, "sends snapshot (%" PRIu64 ",%" PRIu64 ") to %s", e->index, e->log_term,
                who(&nm, 0, e->peer));
        else
            put(&l, "installs snapshot (%" PRIu64 ",%" PRIu64 ")", e->index, e->log_term);
        break;
    case RAFT_TRACE_TRANSFER:
        if (e->reason == RAFT_WHY_TIMEOUT_NOW)
            put(&l, "gets TimeoutNow from %s: campaigns at once", who(&nm, 0, e->peer));
        else
            put(&l, "transfers leadership to %s", who(&nm, 0, e->peer));
        break;
    case RAFT_TRACE_WARN:
    case RAFT_TRACE_ERROR:
        put(&l, "%s: %s", e->kind == RAFT_TRACE_WARN ? "warning" : "error",
            e->text ? e->text : "");
        break;
    }
    return buf;
}
