/* raft/session.c — the client session table (see session.h, thesis §6.3).
 *
 * A sorted array of sessions keyed by client id: lookups are a binary
 * search, registration an insertion. Eviction scans for the smallest
 * last-used log index, which only happens when the table is full. Plain
 * and deterministic, which is what matters: every replica must evict the
 * same session at the same log index.
 *
 * Encoding (little endian): u32 count, then per session
 *   u64 client | u64 last_seq | u64 last_index | u32 resp_len | resp bytes
 */
#include "raft/session.h"

#include <stdlib.h>
#include <string.h>

typedef struct session {
    uint64_t client;
    uint64_t last_seq;     /* 0: no command applied yet */
    uint64_t last_index;   /* log index of registration or last command */
    uint8_t *resp;         /* owned */
    size_t resp_len;
} session_t;

struct raft_sessions {
    session_t *v;          /* sorted by client */
    size_t n, max;
};

raft_sessions_t *raft_sessions_new(size_t max_clients)
{
    if (max_clients == 0 || max_clients > SIZE_MAX / sizeof(session_t))
        return NULL;
    raft_sessions_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->v = calloc(max_clients, sizeof(*s->v));
    if (!s->v) {
        free(s);
        return NULL;
    }
    s->max = max_clients;
    return s;
}

void raft_sessions_free(raft_sessions_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++)
        free(s->v[i].resp);
    free(s->v);
    free(s);
}

size_t raft_sessions_count(const raft_sessions_t *s)
{
    return s->n;
}

/* Index of client, or where it would be inserted (*found false). */
static size_t session_find(const raft_sessions_t *s, uint64_t client,
                           int *found)
{
    size_t lo = 0, hi = s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->v[mid].client < client)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = lo < s->n && s->v[lo].client == client;
    return lo;
}

static void session_remove_at(raft_sessions_t *s, size_t i)
{
    free(s->v[i].resp);
    memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
    s->n--;
}

/* Thesis §6.3: a bounded table, least recently used session evicted. Ties
 * (impossible with distinct log indexes) go to the smaller client id. */
static void session_evict_lru(raft_sessions_t *s)
{
    size_t victim = 0;
    for (size_t i = 1; i < s->n; i++)
        if (s->v[i].last_index < s->v[victim].last_index)
            victim = i;
    session_remove_at(s, victim);
}

int raft_session_register(raft_sessions_t *s, uint64_t client, uint64_t index)
{
    if (!s || client == 0)
        return -1;
    int found;
    size_t at = session_find(s, client, &found);
    if (found)
        return 0;
    if (s->n == s->max) {
        session_evict_lru(s);
        at = session_find(s, client, &found);
    }
    memmove(&s->v[at + 1], &s->v[at], (s->n - at) * sizeof(*s->v));
    s->v[at] = (session_t){ .client = client, .last_index = index };
    s->n++;
    return 0;
}

raft_session_verdict_t raft_session_check(const raft_sessions_t *s,
                                          uint64_t client, uint64_t seq,
                                          const uint8_t **resp,
                                          size_t *resp_len)
{
    int found;
    size_t at = session_find(s, client, &found);
    if (!found)
        return RAFT_SESSION_EXPIRED;
    const session_t *e = &s->v[at];
    if (seq > e->last_seq)
        return RAFT_SESSION_NEW;
    if (seq < e->last_seq)
        return RAFT_SESSION_STALE;
    if (resp)
        *resp = e->resp;
    if (resp_len)
        *resp_len = e->resp_len;
    return RAFT_SESSION_DUPLICATE;
}

int raft_session_record(raft_sessions_t *s, uint64_t client, uint64_t seq,
                        uint64_t index, const void *resp, size_t resp_len)
{
    int found;
    size_t at = session_find(s, client, &found);
    if (!found || seq <= s->v[at].last_seq || (resp_len && !resp))
        return -1;
    uint8_t *copy = NULL;
    if (resp_len) {
        copy = malloc(resp_len);
        if (!copy)
            return -1;
        memcpy(copy, resp, resp_len);
    }
    session_t *e = &s->v[at];
    free(e->resp);
    e->resp = copy;
    e->resp_len = resp_len;
    e->last_seq = seq;
    e->last_index = index;
    return 0;
}

/* ---- snapshot encoding ------------------------------------------------------ */

static uint8_t *put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

#define SESSION_HEADER 28  /* client, seq, index, resp_len */

int raft_sessions_encode(const raft_sessions_t *s, uint8_t **out,
                         size_t *out_len)
{
    if (s->n > UINT32_MAX)
        return -1;
    size_t len = 4;
    for (size_t i = 0; i < s->n; i++) {
        if (s->v[i].resp_len > UINT32_MAX)
            return -1;
        len += SESSION_HEADER + s->v[i].resp_len;
    }
    uint8_t *b = malloc(len);
    if (!b)
        return -1;
    uint8_t *p = put32(b, (uint32_t)s->n);
    for (size_t i = 0; i < s->n; i++) {
        const session_t *e = &s->v[i];
        p = put64(p, e->client);
        p = put64(p, e->last_seq);
        p = put64(p, e->last_index);
        p = put32(p, (uint32_t)e->resp_len);
        if (e->resp_len)
            memcpy(p, e->resp, e->resp_len);
        p += e->resp_len;
    }
    *out = b;
    *out_len = len;
    return 0;
}

/* Every field is checked: a snapshot comes from another node. */
raft_sessions_t *raft_sessions_decode(const uint8_t *data, size_t len,
                                      size_t max_clients)
{
    if (!data || len < 4)
        return NULL;
    uint32_t n = get32(data);
    if (n > max_clients)
        return NULL;
    raft_sessions_t *s = raft_sessions_new(max_clients);
    if (!s)
        return NULL;
    size_t off = 4;
    for (uint32_t i = 0; i < n; i++) {
        if (len - off < SESSION_HEADER)
            goto bad;
        session_t e = { .client = get64(data + off),
                        .last_seq = get64(data + off + 8),
                        .last_index = get64(data + off + 16),
                        .resp_len = get32(data + off + 24) };
        off += SESSION_HEADER;
        /* Sorted, unique, nonzero ids; the response within bounds. */
        if (e.client == 0 || (s->n && e.client <= s->v[s->n - 1].client) ||
            e.resp_len > len - off)
            goto bad;
        if (e.resp_len) {
            e.resp = malloc(e.resp_len);
            if (!e.resp)
                goto bad;
            memcpy(e.resp, data + off, e.resp_len);
        }
        off += e.resp_len;
        s->v[s->n++] = e;
    }
    if (off != len)
        goto bad;
    return s;
bad:
    raft_sessions_free(s);
    return NULL;
}
