/* raft/core/log.c — the in-memory Raft log.
 *
 * Owns the entries after the latest snapshot: e[0] has index snap_index + 1.
 * The whole log lives in memory (the runtime keeps the durable copy); the
 * part after `stable` has not been acknowledged as durable yet and is what
 * raft_ready hands out to persist.
 *
 * Entry data is owned by the log. Entries that leave it (conflict
 * truncation, compaction, snapshot install) give their data to the garbage
 * list of the output batch: a message queued earlier in the same batch may
 * still point at it, so it is freed only at raft_advance.
 */
#include "raft/core/raft_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

void log_init(raft_log_t *l)
{
    memset(l, 0, sizeof(*l));
}

void log_destroy(raft_t *r)
{
    raft_log_t *l = &r->log;
    for (size_t i = 0; i < l->n; i++)
        free((void *)l->e[i].data);
    free(l->e);
    log_init(l);
}

raft_index_t log_last_index(const raft_log_t *l)
{
    return l->snap_index + l->n;
}

raft_term_t log_last_term(const raft_log_t *l)
{
    return l->n ? l->e[l->n - 1].term : l->snap_term;
}

/* Term of entry i; the snapshot's last included term for i == snap_index
 * (what the Log Matching check needs right after a snapshot); 0 when the
 * entry is unknown (compacted away or beyond the end). */
raft_term_t log_term(const raft_log_t *l, raft_index_t i)
{
    if (i == l->snap_index)
        return l->snap_term;
    if (i < l->snap_index || i > log_last_index(l))
        return 0;
    return l->e[i - l->snap_index - 1].term;
}

const raft_entry_t *log_get(const raft_log_t *l, raft_index_t i)
{
    if (i <= l->snap_index || i > log_last_index(l))
        return NULL;
    assert(l->e[i - l->snap_index - 1].index == i);
    return &l->e[i - l->snap_index - 1];
}

static int log_reserve(raft_log_t *l, size_t extra)
{
    if (l->n + extra <= l->cap)
        return 0;
    size_t cap = l->cap ? l->cap : 64;
    while (cap < l->n + extra)
        cap *= 2;
    raft_entry_t *e = realloc(l->e, cap * sizeof(*e));
    if (!e)
        return RAFT_ENOMEM;
    l->e = e;
    l->cap = cap;
    return 0;
}

int log_append_owned(raft_log_t *l, raft_term_t term, raft_entry_type_t type,
                     uint8_t *data, size_t len)
{
    if (log_reserve(l, 1) != 0)
        return RAFT_ENOMEM;
    raft_entry_t *e = &l->e[l->n];
    e->term = term;
    e->index = log_last_index(l) + 1;
    e->type = type;
    e->data = len ? data : NULL;
    e->len = len;
    l->n++;
    if (!len)
        free(data);
    return 0;
}

int log_append_copy(raft_log_t *l, raft_term_t term, raft_entry_type_t type,
                    const void *data, size_t len)
{
    uint8_t *copy = NULL;
    if (len) {
        copy = malloc(len);
        if (!copy)
            return RAFT_ENOMEM;
        memcpy(copy, data, len);
    }
    int rc = log_append_owned(l, term, type, copy, len);
    if (rc != 0)
        free(copy);
    return rc;
}

/* Figure 2, AppendEntries receiver rule 3: "If an existing entry conflicts
 * with a new one (same index but different terms), delete the existing
 * entry and all that follow it". If durable entries go, the runtime must
 * delete them too: remembered in truncated_from for the next ready. */
void log_truncate(raft_t *r, raft_index_t from)
{
    raft_log_t *l = &r->log;
    if (from <= l->snap_index || from > log_last_index(l))
        return;
    /* State Machine Safety (Figure 3): a committed entry is never removed;
     * replication_recv_append refuses such an append before it gets here. */
    assert(from > r->commit);
    size_t keep = (size_t)(from - l->snap_index - 1);
    for (size_t i = keep; i < l->n; i++)
        out_garbage(r, (void *)l->e[i].data);
    l->n = keep;
    /* An acknowledgement of the dropped entries may still sit in this
     * batch (sent to an earlier leader); it would be a lie once the batch
     * is durable without them. */
    out_retract_acks(r, from);
    if (from <= l->stable) {
        l->stable = from - 1;
        if (l->truncated_from == 0 || from < l->truncated_from)
            l->truncated_from = from;
    }
}

/* §7: once the state machine has a snapshot up to index, the entries up to
 * it are no longer needed. Compaction is rare, so a memmove is fine. */
void log_compact(raft_t *r, raft_index_t index)
{
    raft_log_t *l = &r->log;
    if (index <= l->snap_index || index > log_last_index(l))
        return;
    /* §7: only applied entries go into a snapshot (raft_compact checks). */
    assert(index <= r->applied && r->applied <= r->commit);
    size_t drop = (size_t)(index - l->snap_index);
    raft_term_t t = log_term(l, index);
    for (size_t i = 0; i < drop; i++)
        out_garbage(r, (void *)l->e[i].data);
    memmove(l->e, l->e + drop, (l->n - drop) * sizeof(*l->e));
    l->n -= drop;
    l->snap_index = index;
    l->snap_term = t;
    if (l->stable < index)
        l->stable = index;
}

/* Figure 13 step 7: "Discard the entire log". The snapshot that replaces it
 * is reported in the same batch and tells the runtime to drop its durable
 * log, so no truncation point is needed. */
void log_reset(raft_t *r, raft_index_t index, raft_term_t term)
{
    raft_log_t *l = &r->log;
    for (size_t i = 0; i < l->n; i++)
        out_garbage(r, (void *)l->e[i].data);
    l->n = 0;
    out_retract_acks(r, index + 1);
    l->snap_index = index;
    l->snap_term = term;
    l->stable = index;
    l->truncated_from = 0;
}

/* The fast back-off of §5.3 ("the follower can include the term of the
 * conflicting entry and the first index it stores for that term"), in the
 * form etcd uses: the largest index <= i whose term is <= term. Every entry
 * after it is certain to conflict, so the leader can skip them all. */
raft_index_t log_find_conflict_by_term(const raft_log_t *l, raft_index_t i,
                                       raft_term_t term)
{
    if (i > log_last_index(l))
        i = log_last_index(l);
    while (i > l->snap_index) {
        if (log_term(l, i) <= term)
            return i;
        i--;
    }
    return i;
}

/* §5.4.1: "If the logs have last entries with different terms, then the log
 * with the later term is more up-to-date. If the logs end with the same
 * term, then whichever log is longer is more up-to-date." */
bool log_is_up_to_date(const raft_log_t *l, raft_index_t last_index,
                       raft_term_t last_term)
{
    raft_term_t my_term = log_last_term(l);
    if (last_term != my_term)
        return last_term > my_term;
    return last_index >= log_last_index(l);
}
