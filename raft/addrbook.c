/* raft/addrbook.c — Raft id -> name and address (see addrbook.h). */
#include "raft/addrbook.h"

#include <stdio.h>
#include <string.h>

raft_id_t addrbook_id_of(const char *name)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h ^= *p;
        h *= 0x100000001b3ull;
    }
    return h ? h : 1;
}

const addrbook_entry_t *addrbook_get(const addrbook_t *b, raft_id_t id)
{
    for (size_t i = 0; i < b->n; i++)
        if (b->e[i].id == id)
            return &b->e[i];
    return NULL;
}

int addrbook_set(addrbook_t *b, raft_id_t id, const char *name, const char *addr)
{
    addrbook_entry_t *e = (addrbook_entry_t *)addrbook_get(b, id);
    if (!e) {
        if (b->n == ADDRBOOK_MAX)
            return -1;
        e = &b->e[b->n++];
        memset(e, 0, sizeof *e);
        e->id = id;
    }
    int changed = 0;
    if (name && name[0] && strcmp(e->name, name) != 0) {
        snprintf(e->name, sizeof e->name, "%s", name);
        changed = 1;
    }
    if (addr && addr[0] && strcmp(e->addr, addr) != 0) {
        snprintf(e->addr, sizeof e->addr, "%s", addr);
        changed = 1;
    }
    return changed;
}

void addrbook_retain(addrbook_t *b, const raft_members_t *m, raft_id_t keep)
{
    size_t j = 0;
    for (size_t i = 0; i < b->n; i++) {
        raft_id_t id = b->e[i].id;
        if (id == keep || raft_members_is_voter(m, id) || raft_members_is_learner(m, id))
            b->e[j++] = b->e[i];
    }
    b->n = j;
}

static int copy_token(const uint8_t *p, size_t n, char *out, size_t cap)
{
    if (n == 0 || n >= cap)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (p[i] <= 0x20 || p[i] >= 0x7f)
            return -1;
    memcpy(out, p, n);
    out[n] = '\0';
    return 0;
}

int addrbook_parse_ctx(const uint8_t *ctx, size_t len, char name[ADDRBOOK_NAME_MAX],
                       char addr[ADDRBOOK_ADDR_MAX])
{
    const uint8_t *sp = ctx ? memchr(ctx, ' ', len) : NULL;
    if (!sp)
        return -1;
    size_t nlen = (size_t)(sp - ctx);
    if (copy_token(ctx, nlen, name, ADDRBOOK_NAME_MAX) != 0)
        return -1;
    return copy_token(sp + 1, len - nlen - 1, addr, ADDRBOOK_ADDR_MAX);
}

size_t addrbook_encoded_max(void)
{
    return 4 + ADDRBOOK_MAX * (8 + 1 + ADDRBOOK_NAME_MAX + 1 + ADDRBOOK_ADDR_MAX);
}

size_t addrbook_encode(const addrbook_t *b, uint8_t *out)
{
    uint8_t *p = out;
    for (int i = 0; i < 4; i++)
        *p++ = (uint8_t)(b->n >> (8 * i));
    for (size_t k = 0; k < b->n; k++) {
        const addrbook_entry_t *e = &b->e[k];
        for (int i = 0; i < 8; i++)
            *p++ = (uint8_t)(e->id >> (8 * i));
        size_t nl = strlen(e->name), al = strlen(e->addr);
        *p++ = (uint8_t)nl;
        memcpy(p, e->name, nl);
        p += nl;
        *p++ = (uint8_t)al;
        memcpy(p, e->addr, al);
        p += al;
    }
    return (size_t)(p - out);
}

long addrbook_decode(addrbook_t *b, const uint8_t *in, size_t len)
{
    memset(b, 0, sizeof *b);
    if (len < 4)
        return -1;
    uint32_t n = (uint32_t)in[0] | (uint32_t)in[1] << 8 | (uint32_t)in[2] << 16 |
                 (uint32_t)in[3] << 24;
    if (n > ADDRBOOK_MAX)
        return -1;
    size_t off = 4;
    for (uint32_t k = 0; k < n; k++) {
        addrbook_entry_t *e = &b->e[k];
        if (len - off < 9)
            return -1;
        e->id = 0;
        for (int i = 0; i < 8; i++)
            e->id |= (uint64_t)in[off + (size_t)i] << (8 * i);
        off += 8;
        size_t nl = in[off++];
        if (nl >= ADDRBOOK_NAME_MAX || len - off < nl + 1)
            return -1;
        memcpy(e->name, in + off, nl);
        off += nl;
        size_t al = in[off++];
        if (al >= ADDRBOOK_ADDR_MAX || len - off < al)
            return -1;
        memcpy(e->addr, in + off, al);
        off += al;
    }
    b->n = n;
    return (long)off;
}
