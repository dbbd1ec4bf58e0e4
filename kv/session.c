/* kv/session.c — the client-session table (kv/session.h).
 *
 * Sessions live in an array sorted by client id (binary search over a
 * parallel array of the ids alone, which stays in cache; inserts shift,
 * which is cheap at KV_SESSION_MAX entries). Each session keeps up to
 * KV_SESSION_WINDOW (seq, result) pairs; when the window is full the smallest
 * seq is dropped and `forgotten_upto` remembers the largest dropped seq, so a
 * later retry at or below it is known to be too old rather than new. */
#include "kv/session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct applied {
    uint64_t seq;
    uint8_t status;
    char *msg; /* NULL when the message is empty; owned */
} applied_t;

typedef struct session {
    uint64_t last_index;     /* log index of the last command of this client */
    uint64_t forgotten_upto; /* largest seq dropped from the window, 0 if none */
    uint32_t n;
    applied_t win[KV_SESSION_WINDOW];
} session_t;

struct kv_sessions {
    session_t **v; /* v[i] is the session of client ids[i] */
    uint64_t *ids; /* sorted; kept apart so the binary search touches this
                      small array, not a session per step */
    size_t count;
    size_t cap;
};

kv_sessions_t *kv_sessions_new(void)
{
    return calloc(1, sizeof(kv_sessions_t));
}

static void session_free(session_t *s)
{
    for (uint32_t i = 0; i < s->n; i++)
        free(s->win[i].msg);
    free(s);
}

void kv_sessions_free(kv_sessions_t *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->count; i++)
        session_free(t->v[i]);
    free(t->v);
    free(t->ids);
    free(t);
}

size_t kv_sessions_count(const kv_sessions_t *t)
{
    return t->count;
}

/* Index of client_id, or of where it would be inserted; *found says which. */
static size_t find_pos(const kv_sessions_t *t, uint64_t client_id, bool *found)
{
    size_t lo = 0, hi = t->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t->ids[mid] < client_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < t->count && t->ids[lo] == client_id;
    return lo;
}

static bool is_expired(const session_t *s, uint64_t index)
{
    return index > s->last_index && index - s->last_index > KV_SESSION_IDLE_ENTRIES;
}

enum kv_dedup kv_sessions_check(const kv_sessions_t *t, uint64_t client_id, uint64_t seq,
                                uint64_t index, kv_result_t *cached)
{
    bool found;
    size_t pos = find_pos(t, client_id, &found);
    if (!found || is_expired(t->v[pos], index))
        return KV_DEDUP_NEW;
    const session_t *s = t->v[pos];
    for (uint32_t i = 0; i < s->n; i++) {
        if (s->win[i].seq != seq)
            continue;
        memset(cached, 0, sizeof *cached);
        cached->status = (enum kv_status)s->win[i].status;
        cached->duplicate = true;
        if (s->win[i].msg)
            snprintf(cached->msg, sizeof cached->msg, "%s", s->win[i].msg);
        return KV_DEDUP_DUPLICATE;
    }
    return seq <= s->forgotten_upto ? KV_DEDUP_TOO_OLD : KV_DEDUP_NEW;
}

static void remove_at(kv_sessions_t *t, size_t pos)
{
    session_free(t->v[pos]);
    memmove(&t->v[pos], &t->v[pos + 1], (t->count - pos - 1) * sizeof *t->v);
    memmove(&t->ids[pos], &t->ids[pos + 1], (t->count - pos - 1) * sizeof *t->ids);
    t->count--;
}

/* Drops the session used longest ago (smallest last_index; unique, since each
 * log index touches one session). */
static void evict_oldest(kv_sessions_t *t)
{
    size_t oldest = 0;
    for (size_t i = 1; i < t->count; i++)
        if (t->v[i]->last_index < t->v[oldest]->last_index)
            oldest = i;
    remove_at(t, oldest);
}

static session_t *insert_session(kv_sessions_t *t, uint64_t client_id)
{
    if (t->count >= KV_SESSION_MAX)
        evict_oldest(t);
    if (t->count == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        session_t **v = realloc(t->v, cap * sizeof *v);
        if (!v)
            return NULL;
        t->v = v;
        uint64_t *ids = realloc(t->ids, cap * sizeof *ids);
        if (!ids)
            return NULL;
        t->ids = ids;
        t->cap = cap;
    }
    session_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    bool found;
    size_t pos = find_pos(t, client_id, &found);
    memmove(&t->v[pos + 1], &t->v[pos], (t->count - pos) * sizeof *t->v);
    memmove(&t->ids[pos + 1], &t->ids[pos], (t->count - pos) * sizeof *t->ids);
    t->v[pos] = s;
    t->ids[pos] = client_id;
    t->count++;
    return s;
}

/* Makes room in a full window by dropping its smallest seq. */
static void forget_smallest(session_t *s)
{
    uint32_t min = 0;
    for (uint32_t i = 1; i < s->n; i++)
        if (s->win[i].seq < s->win[min].seq)
            min = i;
    if (s->win[min].seq > s->forgotten_upto)
        s->forgotten_upto = s->win[min].seq;
    free(s->win[min].msg);
    s->win[min] = s->win[--s->n];
}

int kv_sessions_record(kv_sessions_t *t, uint64_t client_id, uint64_t seq,
                       uint64_t index, const kv_result_t *res)
{
    bool found;
    size_t pos = find_pos(t, client_id, &found);
    if (found && is_expired(t->v[pos], index)) {
        remove_at(t, pos); /* an expired session starts afresh */
        found = false;
    }
    session_t *s = found ? t->v[pos] : insert_session(t, client_id);
    if (!s)
        return -1;
    char *msg = NULL;
    if (res->msg[0] && !(msg = strdup(res->msg)))
        return -1;
    if (s->n == KV_SESSION_WINDOW)
        forget_smallest(s);
    s->win[s->n++] = (applied_t){ seq, (uint8_t)res->status, msg };
    s->last_index = index;
    return 0;
}

void kv_sessions_sweep(kv_sessions_t *t, uint64_t index)
{
    size_t k = 0;
    for (size_t i = 0; i < t->count; i++) {
        if (is_expired(t->v[i], index)) {
            session_free(t->v[i]);
        } else {
            t->ids[k] = t->ids[i];
            t->v[k++] = t->v[i];
        }
    }
    t->count = k;
}

/* ---- snapshot section ----
 * u32 count; per session: u64 client, u64 last_index, u64 forgotten_upto,
 * u8 n; per entry: u64 seq, u8 status, u16 msg_len, msg. */

void kv_sessions_save(const kv_sessions_t *t, bytebuf_t *b)
{
    bytebuf_put_u32(b, (uint32_t)t->count);
    for (size_t i = 0; i < t->count; i++) {
        const session_t *s = t->v[i];
        bytebuf_put_u64(b, t->ids[i]);
        bytebuf_put_u64(b, s->last_index);
        bytebuf_put_u64(b, s->forgotten_upto);
        bytebuf_put_u8(b, (uint8_t)s->n);
        for (uint32_t k = 0; k < s->n; k++) {
            size_t mlen = s->win[k].msg ? strlen(s->win[k].msg) : 0;
            bytebuf_put_u64(b, s->win[k].seq);
            bytebuf_put_u8(b, s->win[k].status);
            bytebuf_put_u16(b, (uint16_t)mlen);
            bytebuf_put(b, s->win[k].msg, mlen);
        }
    }
}

static int load_entry(session_t *s, kv_cursor_t *c)
{
    uint64_t seq;
    uint8_t status;
    uint16_t mlen;
    const uint8_t *msg;
    if (!kv_cursor_u64(c, &seq) || !kv_cursor_u8(c, &status) || !kv_cursor_u16(c, &mlen) ||
        mlen >= KV_RESULT_MSG_MAX || !kv_cursor_bytes(c, mlen, &msg) ||
        status > KV_ERR_ALREADY_APPLIED || memchr(msg, 0, mlen))
        return -1;
    applied_t *a = &s->win[s->n];
    a->seq = seq;
    a->status = status;
    a->msg = NULL;
    if (mlen) {
        if (!(a->msg = malloc(mlen + 1u)))
            return -1;
        memcpy(a->msg, msg, mlen);
        a->msg[mlen] = 0;
    }
    s->n++;
    return 0;
}

int kv_sessions_load(kv_sessions_t *t, kv_cursor_t *c)
{
    uint32_t count;
    if (t->count != 0 || !kv_cursor_u32(c, &count) || count > KV_SESSION_MAX)
        return -1;
    uint64_t prev = 0;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t client, last, forgotten;
        uint8_t n;
        if (!kv_cursor_u64(c, &client) || !kv_cursor_u64(c, &last) || !kv_cursor_u64(c, &forgotten) ||
            !kv_cursor_u8(c, &n) || n > KV_SESSION_WINDOW || (i > 0 && client <= prev))
            return -1;
        prev = client;
        session_t *s = insert_session(t, client);
        if (!s)
            return -1;
        s->last_index = last;
        s->forgotten_upto = forgotten;
        for (uint8_t k = 0; k < n; k++)
            if (load_entry(s, c) < 0)
                return -1;
    }
    return 0;
}
