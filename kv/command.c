/* kv/command.c — encoding and bounds-checked decoding of the commands in
 * Raft log entries (format in kv/command.h). The decoder trusts nothing: a
 * committed entry may come from a buggy or hostile peer, and every replica
 * must reject it the same way. */
#include "kv/command.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kv/bytes.h"
#include "kv/text.h"

/* Fixed part of a record after its owner: type, class, ttl, rdlen. */
#define RECORD_FIXED 10

size_t kv_cmd_wire_name_len(const uint8_t *buf, size_t avail)
{
    size_t pos = 0;
    for (;;) {
        if (pos >= avail || pos >= NAME_MAX_WIRE)
            return 0;
        uint8_t label = buf[pos];
        if (label > LABEL_MAX) /* also rules out compression pointers */
            return 0;
        pos += 1u + label;
        if (label == 0)
            return pos <= NAME_MAX_WIRE ? pos : 0;
    }
}

/* ---- records ---- */

size_t kv_cmd_record_size(const zone_rr_t *rr)
{
    return name_wire_len(rr->owner) + RECORD_FIXED + rr->rdlen;
}

void kv_cmd_record_put(bytebuf_t *b, const zone_rr_t *rr)
{
    bytebuf_put(b, rr->owner, name_wire_len(rr->owner));
    bytebuf_put_u16(b, rr->type);
    bytebuf_put_u16(b, rr->rclass);
    bytebuf_put_u32(b, rr->ttl);
    bytebuf_put_u16(b, rr->rdlen);
    bytebuf_put(b, rr->rdata, rr->rdlen);
}

/* Reads one record at the cursor; false when it is malformed. */
static bool record_get(kv_cursor_t *c, zone_rr_t *rr)
{
    size_t nlen = kv_cmd_wire_name_len(c->p, c->left);
    const uint8_t *owner, *rdata;
    uint16_t type, rclass, rdlen;
    uint32_t ttl;
    if (nlen == 0 || !kv_cursor_bytes(c, nlen, &owner) || !kv_cursor_u16(c, &type) ||
        !kv_cursor_u16(c, &rclass) || !kv_cursor_u32(c, &ttl) || !kv_cursor_u16(c, &rdlen) ||
        !kv_cursor_bytes(c, rdlen, &rdata))
        return false;
    rr->owner = owner;
    rr->type = type;
    rr->rclass = rclass;
    rr->ttl = ttl;
    rr->rdlen = rdlen;
    rr->rdata = rdata;
    return true;
}

bool kv_cmd_records_valid(const uint8_t *buf, size_t len, uint64_t count)
{
    kv_cursor_t c = { buf, len };
    zone_rr_t rr;
    for (uint64_t i = 0; i < count; i++)
        if (!record_get(&c, &rr))
            return false;
    return c.left == 0;
}

bool kv_cmd_records_next(const uint8_t *buf, size_t len, size_t *pos, zone_rr_t *rr)
{
    if (*pos >= len)
        return false;
    kv_cursor_t c = { buf + *pos, len - *pos };
    if (!record_get(&c, rr))
        return false;
    *pos = len - c.left;
    return true;
}

/* ---- decoding ---- */

static int fail(const char **err, const char *why)
{
    *err = why;
    return -1;
}

static int decode_key(kv_cursor_t *c, kv_cmd_t *cmd, const char **err)
{
    uint16_t klen;
    if (!kv_cursor_u16(c, &klen) || !kv_cursor_bytes(c, klen, &cmd->key))
        return fail(err, "truncated");
    cmd->key_len = klen;
    const char *why = kv_text_check_key(cmd->key, klen);
    return why ? fail(err, why) : 0;
}

static int decode_set(kv_cursor_t *c, kv_cmd_t *cmd, const char **err)
{
    if (decode_key(c, cmd, err) < 0)
        return -1;
    uint32_t vlen;
    if (!kv_cursor_u32(c, &vlen))
        return fail(err, "truncated");
    if (vlen > KV_VALUE_MAX)
        return fail(err, "value too long");
    if (!kv_cursor_bytes(c, vlen, &cmd->value))
        return fail(err, "truncated");
    cmd->value_len = vlen;
    const char *why = kv_text_check_value(cmd->value, vlen);
    return why ? fail(err, why) : 0;
}

static int decode_origin(kv_cursor_t *c, kv_cmd_t *cmd, const char **err)
{
    size_t n = kv_cmd_wire_name_len(c->p, c->left);
    if (n == 0)
        return fail(err, c->left == 0 ? "truncated" : "bad origin name");
    kv_cursor_bytes(c, n, &cmd->origin);
    return 0;
}

static int decode_zone_chunk(kv_cursor_t *c, kv_cmd_t *cmd, const char **err)
{
    if (decode_origin(c, cmd, err) < 0)
        return -1;
    uint8_t nlen;
    if (!kv_cursor_u8(c, &nlen) || !kv_cursor_bytes(c, nlen, &cmd->node_id))
        return fail(err, "truncated");
    cmd->node_id_len = nlen;
    const char *why = kv_text_check_node_id(cmd->node_id, nlen);
    if (why)
        return fail(err, why);
    if (!kv_cursor_u64(c, &cmd->load_id) || !kv_cursor_u32(c, &cmd->chunk_no) ||
        !kv_cursor_u32(c, &cmd->chunk_total) || !kv_cursor_u32(c, &cmd->rr_count))
        return fail(err, "truncated");
    if (cmd->chunk_total == 0 || cmd->chunk_total > KV_ZONE_MAX_CHUNKS)
        return fail(err, "bad chunk total");
    if (cmd->chunk_no >= cmd->chunk_total)
        return fail(err, "chunk number out of range");
    /* Every record takes at least 11 bytes: refuse impossible counts before
     * walking them. */
    if ((uint64_t)cmd->rr_count * (1 + RECORD_FIXED) > c->left)
        return fail(err, "truncated");
    cmd->records = c->p;
    cmd->records_len = c->left;
    kv_cursor_t rc = { c->p, c->left };
    zone_rr_t rr;
    for (uint32_t i = 0; i < cmd->rr_count; i++)
        if (!record_get(&rc, &rr))
            return fail(err, "bad record");
    cmd->records_len = c->left - rc.left;
    kv_cursor_bytes(c, cmd->records_len, &cmd->records);
    return 0;
}

static int decode_update(kv_cursor_t *c, kv_cmd_t *cmd, const char **err)
{
    uint8_t has_key;
    if (!kv_cursor_u8(c, &cmd->serial_policy) || !kv_cursor_u64(c, &cmd->now) ||
        !kv_cursor_u8(c, &has_key))
        return fail(err, "truncated");
    if (cmd->serial_policy > KV_SERIAL_DATESERIAL)
        return fail(err, "bad serial policy");
    if (has_key > 1)
        return fail(err, "bad key flag");
    if (has_key) {
        size_t n = kv_cmd_wire_name_len(c->p, c->left);
        if (n == 0)
            return fail(err, c->left == 0 ? "truncated" : "bad key name");
        kv_cursor_bytes(c, n, &cmd->key_name);
    }
    uint16_t mlen;
    if (!kv_cursor_u16(c, &mlen) || !kv_cursor_bytes(c, mlen, &cmd->msg))
        return fail(err, "truncated");
    if (mlen == 0)
        return fail(err, "empty update message");
    cmd->msg_len = mlen;
    return 0;
}

int kv_cmd_decode(const uint8_t *buf, size_t len, kv_cmd_t *cmd, const char **err)
{
    memset(cmd, 0, sizeof *cmd);
    if (len > KV_CMD_MAX)
        return fail(err, "command too large");
    kv_cursor_t c = { buf, len };
    uint8_t version;
    if (!kv_cursor_u8(&c, &version))
        return fail(err, "truncated");
    if (version != KV_CMD_VERSION)
        return fail(err, "unsupported version");
    if (!kv_cursor_u8(&c, &cmd->type) || !kv_cursor_u64(&c, &cmd->client_id) ||
        !kv_cursor_u64(&c, &cmd->seq))
        return fail(err, "truncated");
    int rc;
    switch (cmd->type) {
    case KV_CMD_SET: rc = decode_set(&c, cmd, err); break;
    case KV_CMD_DEL: rc = decode_key(&c, cmd, err); break;
    case KV_CMD_ZONE_CHUNK: rc = decode_zone_chunk(&c, cmd, err); break;
    case KV_CMD_ZONE_DEL: rc = decode_origin(&c, cmd, err); break;
    case KV_CMD_UPDATE: rc = decode_update(&c, cmd, err); break;
    default: return fail(err, "unknown command type");
    }
    if (rc < 0)
        return -1;
    if (c.left != 0)
        return fail(err, "trailing bytes");
    return 0;
}

/* ---- encoding ---- */

static void put_header(bytebuf_t *b, uint8_t type, uint64_t client_id, uint64_t seq)
{
    bytebuf_put_u8(b, KV_CMD_VERSION);
    bytebuf_put_u8(b, type);
    bytebuf_put_u64(b, client_id);
    bytebuf_put_u64(b, seq);
}

static int finish(bytebuf_t *b, uint8_t **out, size_t *out_len, const char **err)
{
    if (b->failed) {
        bytebuf_free(b);
        return fail(err, "out of memory");
    }
    *out = bytebuf_take(b, out_len);
    return 0;
}

int kv_cmd_encode_set(uint64_t client_id, uint64_t seq, const uint8_t *key, size_t key_len,
                      const uint8_t *value, size_t value_len,
                      uint8_t **out, size_t *out_len, const char **err)
{
    const char *why = kv_text_check_key(key, key_len);
    if (!why)
        why = kv_text_check_value(value, value_len);
    if (why)
        return fail(err, why);
    bytebuf_t b;
    bytebuf_init(&b);
    put_header(&b, KV_CMD_SET, client_id, seq);
    bytebuf_put_u16(&b, (uint16_t)key_len);
    bytebuf_put(&b, key, key_len);
    bytebuf_put_u32(&b, (uint32_t)value_len);
    bytebuf_put(&b, value, value_len);
    return finish(&b, out, out_len, err);
}

int kv_cmd_encode_del(uint64_t client_id, uint64_t seq, const uint8_t *key, size_t key_len,
                      uint8_t **out, size_t *out_len, const char **err)
{
    const char *why = kv_text_check_key(key, key_len);
    if (why)
        return fail(err, why);
    bytebuf_t b;
    bytebuf_init(&b);
    put_header(&b, KV_CMD_DEL, client_id, seq);
    bytebuf_put_u16(&b, (uint16_t)key_len);
    bytebuf_put(&b, key, key_len);
    return finish(&b, out, out_len, err);
}

int kv_cmd_encode_zone_del(uint64_t client_id, uint64_t seq, const uint8_t *origin,
                           uint8_t **out, size_t *out_len, const char **err)
{
    size_t n = kv_cmd_wire_name_len(origin, NAME_MAX_WIRE);
    if (n == 0)
        return fail(err, "bad origin name");
    bytebuf_t b;
    bytebuf_init(&b);
    put_header(&b, KV_CMD_ZONE_DEL, client_id, seq);
    bytebuf_put(&b, origin, n);
    return finish(&b, out, out_len, err);
}

/* ---- UPDATE ---- */

static _Atomic int serial_policy = KV_SERIAL_INCREMENT;

void kv_cmd_set_serial_policy(enum kv_cmd_serial_policy policy)
{
    atomic_store(&serial_policy, (int)policy);
}

int kv_cmd_serial_policy_from_text(const char *text)
{
    if (strcmp(text, "increment") == 0)
        return KV_SERIAL_INCREMENT;
    if (strcmp(text, "unixtime") == 0)
        return KV_SERIAL_UNIXTIME;
    if (strcmp(text, "dateserial") == 0)
        return KV_SERIAL_DATESERIAL;
    return -1;
}

int kv_cmd_encode_update_at(const uint8_t *msg, size_t msg_len, const uint8_t *key_name_wire,
                            enum kv_cmd_serial_policy policy, uint64_t now,
                            uint8_t *out, size_t cap)
{
    if (!msg || msg_len == 0 || msg_len > KV_UPDATE_MSG_MAX || policy > KV_SERIAL_DATESERIAL)
        return -1;
    size_t klen = 0;
    if (key_name_wire && (klen = kv_cmd_wire_name_len(key_name_wire, NAME_MAX_WIRE)) == 0)
        return -1;
    size_t total = KV_CMD_HEADER_LEN + 1 + 8 + 1 + klen + 2 + msg_len;
    if (total > cap)
        return -1;
    bytebuf_t b;
    bytebuf_init(&b);
    put_header(&b, KV_CMD_UPDATE, 0, 0);
    bytebuf_put_u8(&b, (uint8_t)policy);
    bytebuf_put_u64(&b, now);
    bytebuf_put_u8(&b, key_name_wire ? 1 : 0);
    if (key_name_wire)
        bytebuf_put(&b, key_name_wire, klen);
    bytebuf_put_u16(&b, (uint16_t)msg_len);
    bytebuf_put(&b, msg, msg_len);
    if (b.failed || b.len != total) {
        bytebuf_free(&b);
        return -1;
    }
    memcpy(out, b.data, total);
    bytebuf_free(&b);
    return (int)total;
}

int kv_cmd_encode_update(const uint8_t *msg, size_t msg_len, const uint8_t *key_name_wire,
                         uint8_t *out, size_t cap)
{
    return kv_cmd_encode_update_at(msg, msg_len, key_name_wire,
                                   (enum kv_cmd_serial_policy)atomic_load(&serial_policy),
                                   (uint64_t)time(NULL), out, cap);
}

/* ---- zone chunks ---- */

/* Bytes of a ZONE_CHUNK command before its records. */
static size_t chunk_prefix_size(size_t origin_len, size_t node_len)
{
    return KV_CMD_HEADER_LEN + origin_len + 1 + node_len + 8 + 4 + 4 + 4;
}

/* Counts chunks: greedy packing of records, in zone order, into commands of
 * at most max_len bytes. Fills first[] (index of each chunk's first record)
 * when it is not NULL. Returns the chunk count, or 0 when a record alone
 * cannot fit. */
static size_t plan_chunks(const zone_t *zone, size_t prefix, size_t max_len, size_t *first)
{
    size_t chunks = 1, used = prefix;
    if (first)
        first[0] = 0;
    for (size_t i = 0; i < zone->count; i++) {
        size_t sz = kv_cmd_record_size(&zone->rrs[i]);
        if (prefix + sz > max_len)
            return 0;
        if (used + sz > max_len) {
            if (first)
                first[chunks] = i;
            chunks++;
            used = prefix;
        }
        used += sz;
    }
    return chunks;
}

static int chunks_alloc(kv_cmd_chunks_t *out, size_t count)
{
    out->data = calloc(count, sizeof *out->data);
    out->len = calloc(count, sizeof *out->len);
    out->count = count;
    return out->data && out->len ? 0 : -1;
}

static void encode_one_chunk(bytebuf_t *b, const zone_t *zone, const char *node_id,
                             uint64_t load_id, uint64_t client_id, uint64_t seq,
                             uint32_t no, uint32_t total, size_t from, size_t to)
{
    size_t nlen = strlen(node_id);
    put_header(b, KV_CMD_ZONE_CHUNK, client_id, seq);
    bytebuf_put(b, zone->origin, name_wire_len(zone->origin));
    bytebuf_put_u8(b, (uint8_t)nlen);
    bytebuf_put(b, node_id, nlen);
    bytebuf_put_u64(b, load_id);
    bytebuf_put_u32(b, no);
    bytebuf_put_u32(b, total);
    bytebuf_put_u32(b, (uint32_t)(to - from));
    for (size_t i = from; i < to; i++)
        kv_cmd_record_put(b, &zone->rrs[i]);
}

int kv_cmd_encode_zone_chunks(const zone_t *zone, const char *node_id, uint64_t load_id,
                          uint64_t client_id, uint64_t first_seq, size_t max_len,
                          kv_cmd_chunks_t *out, const char **err)
{
    memset(out, 0, sizeof *out);
    size_t nlen = strlen(node_id);
    const char *why = kv_text_check_node_id((const uint8_t *)node_id, nlen);
    if (why)
        return fail(err, why);
    size_t olen = kv_cmd_wire_name_len(zone->origin, NAME_MAX_WIRE);
    if (olen == 0)
        return fail(err, "bad origin name");
    if (max_len == 0 || max_len > KV_CMD_MAX)
        max_len = KV_CMD_MAX;
    size_t prefix = chunk_prefix_size(olen, nlen);
    size_t total = plan_chunks(zone, prefix, max_len, NULL);
    if (total == 0)
        return fail(err, "a record does not fit in one chunk");
    if (total > KV_ZONE_MAX_CHUNKS)
        return fail(err, "zone too large");
    size_t *first = malloc((total + 1) * sizeof *first);
    if (!first || chunks_alloc(out, total) < 0) {
        free(first);
        kv_cmd_chunks_free(out);
        return fail(err, "out of memory");
    }
    plan_chunks(zone, prefix, max_len, first);
    first[total] = zone->count;
    for (size_t k = 0; k < total; k++) {
        bytebuf_t b;
        bytebuf_init(&b);
        encode_one_chunk(&b, zone, node_id, load_id, client_id, first_seq + k,
                         (uint32_t)k, (uint32_t)total, first[k], first[k + 1]);
        if (finish(&b, &out->data[k], &out->len[k], err) < 0) {
            free(first);
            kv_cmd_chunks_free(out);
            return -1;
        }
    }
    free(first);
    return 0;
}

void kv_cmd_chunks_free(kv_cmd_chunks_t *chunks)
{
    if (chunks->data)
        for (size_t i = 0; i < chunks->count; i++)
            free(chunks->data[i]);
    free(chunks->data);
    free(chunks->len);
    memset(chunks, 0, sizeof *chunks);
}
