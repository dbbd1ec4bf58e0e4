/* raft/codec.c — encoding and bounds-checked decoding of peer frames
 * (format in codec.h).
 *
 * The encoder and decoder are written field by field in the same order, one
 * function per message type, so the two can be read side by side. The
 * decoder never trusts a count: an entry count is checked against the bytes
 * left (each entry needs at least ENTRY_HEADER bytes) before anything is
 * allocated, so a hostile frame cannot make us allocate more than its size.
 * A frame whose bytes decode is then checked for meaning by raft_msg_check
 * (raft/core/validate.c: terms and indexes below 2^63, entry terms, snapshot
 * metadata), so the core never sees a term it could not add 1 to. */
#include "raft/codec.h"
#include "common/bytes.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum {
    MSG_HEADER = 1 + 8 + 8 + 8,        /* type, from, to, term */
    ENTRY_HEADER = 8 + 8 + 1 + 4,      /* term, index, type, len */
    MEMBERS_HEADER = 4 + 4,            /* n_voters, n_learners */
};

/* ---- little-endian primitives ------------------------------------------- */

typedef struct writer {
    uint8_t *p;
} writer_t;

static void put_u8(writer_t *w, uint8_t v) { *w->p++ = v; }

static void put_u32(writer_t *w, uint32_t v)
{
    put_le32(w->p, v);
    w->p += 4;
}

static void put_u64(writer_t *w, uint64_t v)
{
    put_le64(w->p, v);
    w->p += 8;
}

static void put_bytes(writer_t *w, const uint8_t *data, size_t len)
{
    if (len)
        memcpy(w->p, data, len);
    w->p += len;
}

typedef struct reader {
    const uint8_t *p;
    size_t left;
    const char *why; /* first failure; later reads are no-ops */
} reader_t;

static bool need(reader_t *r, size_t n, const char *why)
{
    if (r->why)
        return false;
    if (r->left < n) {
        r->why = why;
        return false;
    }
    return true;
}

static uint8_t get_u8(reader_t *r, const char *why)
{
    if (!need(r, 1, why))
        return 0;
    r->left--;
    return *r->p++;
}

static uint32_t get_u32(reader_t *r, const char *why)
{
    if (!need(r, 4, why))
        return 0;
    uint32_t v = get_le32(r->p);
    r->p += 4;
    r->left -= 4;
    return v;
}

static uint64_t get_u64(reader_t *r, const char *why)
{
    if (!need(r, 8, why))
        return 0;
    uint64_t v = get_le64(r->p);
    r->p += 8;
    r->left -= 8;
    return v;
}

static const uint8_t *get_bytes(reader_t *r, size_t n, const char *why)
{
    if (!need(r, n, why))
        return NULL;
    const uint8_t *at = r->p;
    r->p += n;
    r->left -= n;
    return at;
}

static bool get_bool(reader_t *r, const char *why)
{
    uint8_t v = get_u8(r, why);
    if (v > 1 && !r->why)
        r->why = "boolean field not 0 or 1";
    return v == 1;
}

/* ---- hello --------------------------------------------------------------- */

size_t raft_codec_hello(uint8_t *out, const raft_hello_t *h)
{
    size_t name_len = strnlen(h->name, RAFT_NAME_MAX - 1);
    size_t addr_len = strnlen(h->addr, RAFT_ADDR_MAX - 1);
    writer_t w = { out };
    put_bytes(&w, (const uint8_t *)RAFT_WIRE_MAGIC, RAFT_WIRE_MAGIC_LEN);
    put_u8(&w, RAFT_WIRE_VERSION);
    put_u8(&w, 0);
    put_u8(&w, (uint8_t)name_len);
    put_u8(&w, (uint8_t)addr_len);
    put_u64(&w, h->id);
    put_bytes(&w, (const uint8_t *)h->name, name_len);
    put_bytes(&w, (const uint8_t *)h->addr, addr_len);
    return RAFT_HELLO_LEN + name_len + addr_len;
}

int raft_codec_hello_rest(const uint8_t in[RAFT_HELLO_LEN], const char **why)
{
    if (memcmp(in, RAFT_WIRE_MAGIC, RAFT_WIRE_MAGIC_LEN) != 0) {
        *why = "bad magic";
        return -1;
    }
    if (in[4] != RAFT_WIRE_VERSION) {
        *why = "unsupported protocol version";
        return -1;
    }
    /* Zero is the only value we write: accepting others would let two
     * different byte strings mean the same hello. */
    if (in[5] != 0) {
        *why = "nonzero reserved byte";
        return -1;
    }
    if (in[6] >= RAFT_NAME_MAX || in[7] >= RAFT_ADDR_MAX) {
        *why = "name or address too long";
        return -1;
    }
    return in[6] + in[7];
}

static bool printable(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] <= 0x20 || p[i] >= 0x7f)
            return false;
    return true;
}

int raft_codec_parse_hello(const uint8_t *in, size_t len, raft_hello_t *h, const char **why)
{
    if (len < RAFT_HELLO_LEN) {
        *why = "truncated hello";
        return -1;
    }
    int rest = raft_codec_hello_rest(in, why);
    if (rest < 0)
        return -1;
    if (len != RAFT_HELLO_LEN + (size_t)rest) {
        *why = "hello length mismatch";
        return -1;
    }
    reader_t r = { in + 8, len - 8, NULL };
    memset(h, 0, sizeof *h);
    h->id = get_u64(&r, "truncated hello");
    if (h->id == 0) {
        *why = "sender id 0";
        return -1;
    }
    size_t name_len = in[6], addr_len = in[7];
    const uint8_t *name = get_bytes(&r, name_len, "truncated hello");
    const uint8_t *addr = get_bytes(&r, addr_len, "truncated hello");
    if (r.why || !printable(name, name_len) || !printable(addr, addr_len)) {
        *why = r.why ? r.why : "unprintable name or address in hello";
        return -1;
    }
    memcpy(h->name, name, name_len);
    memcpy(h->addr, addr, addr_len);
    return 0;
}

/* ---- sizes ---------------------------------------------------------------- */

static size_t members_size(const raft_members_t *m)
{
    return MEMBERS_HEADER + 8 * ((size_t)m->n_voters + m->n_learners);
}

static size_t body_size(const raft_msg_t *m)
{
    size_t n = MSG_HEADER;
    switch (m->type) {
    case RAFT_MSG_APPEND:
        n += 8 + 8 + 8 + 4;
        for (size_t i = 0; i < m->u.append.n_entries; i++)
            n += ENTRY_HEADER + m->u.append.entries[i].len;
        return n;
    case RAFT_MSG_APPEND_RESP:      return n + 1 + 8 + 8 + 8;
    case RAFT_MSG_HEARTBEAT:        return n + 8 + 8;
    case RAFT_MSG_HEARTBEAT_RESP:   return n + 8;
    case RAFT_MSG_VOTE:             return n + 1 + 8 + 8;
    case RAFT_MSG_VOTE_RESP:        return n + 1;
    case RAFT_MSG_SNAPSHOT:
        return n + 8 + 8 + members_size(&m->u.snapshot.members) + 8 + 8 + 1 + 4 +
               m->u.snapshot.len;
    case RAFT_MSG_SNAPSHOT_RESP:    return n + 8 + 8 + 1 + 8;
    case RAFT_MSG_TIMEOUT_NOW:      return n;
    case RAFT_MSG_READ_INDEX:       return n + 8;
    case RAFT_MSG_READ_INDEX_RESP:  return n + 8 + 8 + 1;
    }
    return n;
}

size_t raft_codec_frame_size(const raft_msg_t *m)
{
    return RAFT_FRAME_HEADER + body_size(m);
}

/* ---- encoding -------------------------------------------------------------- */

static void encode_members(writer_t *w, const raft_members_t *m)
{
    put_u32(w, m->n_voters);
    put_u32(w, m->n_learners);
    for (uint32_t i = 0; i < m->n_voters; i++)
        put_u64(w, m->voters[i]);
    for (uint32_t i = 0; i < m->n_learners; i++)
        put_u64(w, m->learners[i]);
}

static void encode_append(writer_t *w, const raft_append_t *a)
{
    put_u64(w, a->prev_index);
    put_u64(w, a->prev_term);
    put_u64(w, a->commit);
    put_u32(w, (uint32_t)a->n_entries);
    for (size_t i = 0; i < a->n_entries; i++) {
        const raft_entry_t *e = &a->entries[i];
        put_u64(w, e->term);
        put_u64(w, e->index);
        put_u8(w, (uint8_t)e->type);
        put_u32(w, (uint32_t)e->len);
        put_bytes(w, e->data, e->len);
    }
}

static void encode_snapshot(writer_t *w, const raft_snapshot_chunk_t *s)
{
    put_u64(w, s->index);
    put_u64(w, s->term);
    encode_members(w, &s->members);
    put_u64(w, s->total_len);
    put_u64(w, s->offset);
    put_u8(w, s->last);
    put_u32(w, (uint32_t)s->len);
    put_bytes(w, s->data, s->len);
}

void raft_codec_encode(const raft_msg_t *m, uint8_t *out)
{
    writer_t w = { out };
    put_u32(&w, (uint32_t)body_size(m));
    put_u8(&w, (uint8_t)m->type);
    put_u64(&w, m->from);
    put_u64(&w, m->to);
    put_u64(&w, m->term);
    switch (m->type) {
    case RAFT_MSG_APPEND:
        encode_append(&w, &m->u.append);
        break;
    case RAFT_MSG_APPEND_RESP:
        put_u8(&w, m->u.append_resp.success);
        put_u64(&w, m->u.append_resp.index);
        put_u64(&w, m->u.append_resp.hint_index);
        put_u64(&w, m->u.append_resp.hint_term);
        break;
    case RAFT_MSG_HEARTBEAT:
        put_u64(&w, m->u.heartbeat.commit);
        put_u64(&w, m->u.heartbeat.read_seq);
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        put_u64(&w, m->u.heartbeat_resp.read_seq);
        break;
    case RAFT_MSG_VOTE:
        put_u8(&w, (uint8_t)(m->u.vote.prevote | (m->u.vote.transfer << 1)));
        put_u64(&w, m->u.vote.last_index);
        put_u64(&w, m->u.vote.last_term);
        break;
    case RAFT_MSG_VOTE_RESP:
        put_u8(&w, (uint8_t)(m->u.vote_resp.prevote | (m->u.vote_resp.granted << 1)));
        break;
    case RAFT_MSG_SNAPSHOT:
        encode_snapshot(&w, &m->u.snapshot);
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        put_u64(&w, m->u.snapshot_resp.index);
        put_u64(&w, m->u.snapshot_resp.next_offset);
        put_u8(&w, m->u.snapshot_resp.done);
        put_u64(&w, m->u.snapshot_resp.match_index);
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        break;
    case RAFT_MSG_READ_INDEX:
        put_u64(&w, m->u.read_index.ctx);
        break;
    case RAFT_MSG_READ_INDEX_RESP:
        put_u64(&w, m->u.read_index_resp.ctx);
        put_u64(&w, m->u.read_index_resp.index);
        put_u8(&w, m->u.read_index_resp.ok);
        break;
    }
}

/* ---- decoding ---------------------------------------------------------------- */

static void decode_members(reader_t *r, raft_members_t *m)
{
    memset(m, 0, sizeof *m);
    uint32_t nv = get_u32(r, "truncated member count");
    uint32_t nl = get_u32(r, "truncated member count");
    if (r->why)
        return;
    if (nv > RAFT_MAX_MEMBERS || nl > RAFT_MAX_MEMBERS) {
        r->why = "too many members";
        return;
    }
    m->n_voters = nv;
    m->n_learners = nl;
    for (uint32_t i = 0; i < nv; i++)
        m->voters[i] = get_u64(r, "truncated member id");
    for (uint32_t i = 0; i < nl; i++)
        m->learners[i] = get_u64(r, "truncated member id");
}

static bool scratch_reserve(raft_codec_scratch_t *s, size_t n)
{
    if (n <= s->cap)
        return true;
    raft_entry_t *e = realloc(s->entries, n * sizeof *e);
    if (!e)
        return false;
    s->entries = e;
    s->cap = n;
    return true;
}

void raft_codec_scratch_free(raft_codec_scratch_t *s)
{
    free(s->entries);
    s->entries = NULL;
    s->cap = 0;
}

static bool entry_type_valid(uint8_t t)
{
    return t == RAFT_ENTRY_NORMAL || t == RAFT_ENTRY_NOOP || t == RAFT_ENTRY_CONFIG;
}

static void decode_entry(reader_t *r, raft_entry_t *e, raft_index_t expected_index)
{
    e->term = get_u64(r, "truncated entry header");
    e->index = get_u64(r, "truncated entry header");
    uint8_t type = get_u8(r, "truncated entry header");
    uint32_t len = get_u32(r, "truncated entry header");
    if (r->why)
        return;
    if (!entry_type_valid(type)) {
        r->why = "unknown entry type";
        return;
    }
    if (e->index != expected_index) {
        r->why = "entries not contiguous";
        return;
    }
    e->type = (raft_entry_type_t)type;
    e->len = len;
    e->data = len ? get_bytes(r, len, "entry data past end of frame") : NULL;
}

static void decode_append(reader_t *r, raft_append_t *a, raft_codec_scratch_t *s)
{
    a->prev_index = get_u64(r, "truncated append");
    a->prev_term = get_u64(r, "truncated append");
    a->commit = get_u64(r, "truncated append");
    uint32_t n = get_u32(r, "truncated append");
    a->entries = NULL;
    a->n_entries = 0;
    if (r->why || n == 0)
        return;
    if (n > r->left / ENTRY_HEADER) {
        r->why = "entry count larger than frame";
        return;
    }
    if (!scratch_reserve(s, n)) {
        r->why = "out of memory";
        return;
    }
    for (uint32_t i = 0; i < n && !r->why; i++)
        decode_entry(r, &s->entries[i], a->prev_index + 1 + i);
    a->entries = s->entries;
    a->n_entries = n;
}

static void decode_snapshot(reader_t *r, raft_snapshot_chunk_t *c)
{
    c->index = get_u64(r, "truncated snapshot chunk");
    c->term = get_u64(r, "truncated snapshot chunk");
    decode_members(r, &c->members);
    c->total_len = get_u64(r, "truncated snapshot chunk");
    c->offset = get_u64(r, "truncated snapshot chunk");
    c->last = get_bool(r, "truncated snapshot chunk");
    uint32_t len = get_u32(r, "truncated snapshot chunk");
    if (r->why)
        return;
    c->len = len;
    c->data = len ? get_bytes(r, len, "snapshot data past end of frame") : NULL;
    if (r->why)
        return;
    if (c->offset > c->total_len || c->len > c->total_len - c->offset)
        r->why = "snapshot chunk outside the snapshot";
    else if (c->last != (c->offset + c->len == c->total_len))
        r->why = "snapshot last flag inconsistent";
}

static uint8_t get_flags(reader_t *r, uint8_t allowed)
{
    uint8_t v = get_u8(r, "truncated flags");
    if (!r->why && (v & ~allowed))
        r->why = "unknown flag bits";
    return v;
}

static void decode_body(reader_t *r, raft_msg_t *m, raft_codec_scratch_t *s)
{
    uint8_t f;
    switch (m->type) {
    case RAFT_MSG_APPEND:
        decode_append(r, &m->u.append, s);
        break;
    case RAFT_MSG_APPEND_RESP:
        m->u.append_resp.success = get_bool(r, "truncated append response");
        m->u.append_resp.index = get_u64(r, "truncated append response");
        m->u.append_resp.hint_index = get_u64(r, "truncated append response");
        m->u.append_resp.hint_term = get_u64(r, "truncated append response");
        break;
    case RAFT_MSG_HEARTBEAT:
        m->u.heartbeat.commit = get_u64(r, "truncated heartbeat");
        m->u.heartbeat.read_seq = get_u64(r, "truncated heartbeat");
        break;
    case RAFT_MSG_HEARTBEAT_RESP:
        m->u.heartbeat_resp.read_seq = get_u64(r, "truncated heartbeat response");
        break;
    case RAFT_MSG_VOTE:
        f = get_flags(r, 3);
        m->u.vote.prevote = f & 1;
        m->u.vote.transfer = (f >> 1) & 1;
        m->u.vote.last_index = get_u64(r, "truncated vote request");
        m->u.vote.last_term = get_u64(r, "truncated vote request");
        break;
    case RAFT_MSG_VOTE_RESP:
        f = get_flags(r, 3);
        m->u.vote_resp.prevote = f & 1;
        m->u.vote_resp.granted = (f >> 1) & 1;
        break;
    case RAFT_MSG_SNAPSHOT:
        decode_snapshot(r, &m->u.snapshot);
        break;
    case RAFT_MSG_SNAPSHOT_RESP:
        m->u.snapshot_resp.index = get_u64(r, "truncated snapshot response");
        m->u.snapshot_resp.next_offset = get_u64(r, "truncated snapshot response");
        m->u.snapshot_resp.done = get_bool(r, "truncated snapshot response");
        m->u.snapshot_resp.match_index = get_u64(r, "truncated snapshot response");
        break;
    case RAFT_MSG_TIMEOUT_NOW:
        break;
    case RAFT_MSG_READ_INDEX:
        m->u.read_index.ctx = get_u64(r, "truncated read index");
        break;
    case RAFT_MSG_READ_INDEX_RESP:
        m->u.read_index_resp.ctx = get_u64(r, "truncated read index response");
        m->u.read_index_resp.index = get_u64(r, "truncated read index response");
        m->u.read_index_resp.ok = get_bool(r, "truncated read index response");
        break;
    }
}

static bool msg_type_valid(uint8_t t)
{
    return t >= RAFT_MSG_APPEND && t <= RAFT_MSG_READ_INDEX_RESP;
}

int raft_codec_decode(const uint8_t *body, size_t len, raft_msg_t *m,
                      raft_codec_scratch_t *s, const char **why)
{
    reader_t r = { body, len, NULL };
    memset(m, 0, sizeof *m);
    uint8_t type = get_u8(&r, "empty frame");
    if (!r.why && !msg_type_valid(type))
        r.why = "unknown message type";
    m->type = (raft_msg_type_t)type;
    m->from = get_u64(&r, "truncated message header");
    m->to = get_u64(&r, "truncated message header");
    m->term = get_u64(&r, "truncated message header");
    if (!r.why && (m->from == 0 || m->to == 0))
        r.why = "node id 0 in message header";
    if (!r.why)
        decode_body(&r, m, s);
    if (!r.why && r.left != 0)
        r.why = "trailing bytes after message";
    /* Bytes are fine; now what they say: terms and indexes below the
     * limits, entries and snapshots an honest leader could send. */
    if (!r.why)
        r.why = raft_msg_check(m);
    if (r.why) {
        *why = r.why;
        return -1;
    }
    return 0;
}
