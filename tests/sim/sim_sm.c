/* tests/sim/sim_sm.c — the KV register machine with at-most-once sessions.
 *
 * Encoding is little-endian and fixed-size; decoding checks the length and
 * every field's range because a snapshot or entry reaching the machine went
 * through the core and the network and must not be trusted blindly. */
#include "tests/sim/sim_sm.h"

#include <string.h>

#define CMD_MAGIC 0xC5
#define SNAP_MAGIC 0x534d534e41505331ULL /* "SMSNAPS1" */

uint64_t sim_hash_mix(uint64_t a, uint64_t b)
{
    uint64_t z = a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t sim_hash_bytes(const uint8_t *data, size_t len, uint64_t seed)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    for (size_t i = 0; i < len; i++)
        h = (h ^ data[i]) * 0x100000001b3ULL;
    return sim_hash_mix(h, len);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void sim_cmd_encode(const struct sim_cmd *c, uint8_t out[SIM_CMD_BYTES])
{
    out[0] = CMD_MAGIC;
    out[1] = (uint8_t)c->client;
    put_u64(out + 2, c->seq);
    out[10] = c->key;
    put_u64(out + 11, c->value);
    out[19] = out[20] = out[21] = 0; /* padding keeps entries a fixed size */
}

bool sim_cmd_decode(const uint8_t *data, size_t len, struct sim_cmd *out)
{
    if (!data || len != SIM_CMD_BYTES || data[0] != CMD_MAGIC)
        return false;
    out->client = data[1];
    out->seq = get_u64(data + 2);
    out->key = data[10];
    out->value = get_u64(data + 11);
    return out->client >= 1 && out->client <= SIM_MAX_CLIENTS && out->seq > 0 &&
           out->key < SIM_KEYS;
}

void sim_sm_reset(struct sim_sm *sm)
{
    memset(sm, 0, sizeof *sm);
}

struct sim_apply_result sim_sm_apply(struct sim_sm *sm, uint64_t index, bool is_data,
                                     const uint8_t *data, size_t len)
{
    struct sim_apply_result res = { 0 };
    sm->applied = index;
    if (!is_data || !sim_cmd_decode(data, len, &res.cmd))
        return res;
    res.is_cmd = true;
    struct sim_session *s = &sm->sessions[res.cmd.client];
    if (res.cmd.seq <= s->last_seq) {
        /* Thesis §6.3: a retry of a command already applied is not applied
         * again. Sequence numbers below the last are old duplicates; the
         * client has moved on, so their original index is not kept. */
        res.duplicate = true;
        res.effective_index = res.cmd.seq == s->last_seq ? s->last_index : 0;
        return res;
    }
    s->last_seq = res.cmd.seq;
    s->last_index = index;
    sm->kv[res.cmd.key] = res.cmd.value;
    sm->hash = sim_hash_mix(sm->hash, sim_hash_bytes(data, len, index));
    res.effective_index = index;
    return res;
}

void sim_sm_snapshot(const struct sim_sm *sm, uint8_t out[SIM_SNAPSHOT_BYTES])
{
    uint8_t *p = out;
    put_u64(p, SNAP_MAGIC), p += 8;
    put_u64(p, sm->applied), p += 8;
    put_u64(p, sm->hash), p += 8;
    for (int k = 0; k < SIM_KEYS; k++)
        put_u64(p, sm->kv[k]), p += 8;
    for (int c = 0; c <= SIM_MAX_CLIENTS; c++) {
        put_u64(p, sm->sessions[c].last_seq), p += 8;
        put_u64(p, sm->sessions[c].last_index), p += 8;
    }
}

bool sim_sm_restore(struct sim_sm *sm, const uint8_t *data, size_t len)
{
    if (!data || len != SIM_SNAPSHOT_BYTES || get_u64(data) != SNAP_MAGIC)
        return false;
    const uint8_t *p = data + 8;
    struct sim_sm tmp;
    tmp.applied = get_u64(p), p += 8;
    tmp.hash = get_u64(p), p += 8;
    for (int k = 0; k < SIM_KEYS; k++)
        tmp.kv[k] = get_u64(p), p += 8;
    for (int c = 0; c <= SIM_MAX_CLIENTS; c++) {
        tmp.sessions[c].last_seq = get_u64(p), p += 8;
        tmp.sessions[c].last_index = get_u64(p), p += 8;
    }
    *sm = tmp;
    return true;
}
