/* raft/addrbook.h — who the cluster's members are to people and sockets:
 * Raft id -> name (-id) and address (-raft.addr as peers dial it).
 *
 * The core knows members only by id. Names and addresses travel in the
 * context of configuration entries ("name address", set by node_add_server),
 * in every peer hello, and in snapshots (addrbook_encode), so any node that
 * has the log or a snapshot knows how to reach every member. */
#ifndef RAFT_ADDRBOOK_H
#define RAFT_ADDRBOOK_H

#include <stddef.h>
#include <stdint.h>

#include "raft/core/raft.h"

#define ADDRBOOK_MAX (4 * RAFT_MAX_MEMBERS)
#define ADDRBOOK_NAME_MAX 64
#define ADDRBOOK_ADDR_MAX 128

typedef struct addrbook_entry {
    raft_id_t id;
    char name[ADDRBOOK_NAME_MAX];
    char addr[ADDRBOOK_ADDR_MAX];
} addrbook_entry_t;

typedef struct addrbook {
    addrbook_entry_t e[ADDRBOOK_MAX];
    size_t n;
} addrbook_t;

/* FNV-1a 64 of the name, never 0. */
raft_id_t addrbook_id_of(const char *name);
const addrbook_entry_t *addrbook_get(const addrbook_t *b, raft_id_t id);
/* Adds or updates; an empty name or address leaves the known one. Returns
 * 1 if something changed, 0 if not, -1 if the book is full. */
int addrbook_set(addrbook_t *b, raft_id_t id, const char *name, const char *addr);
/* Keeps only the ids in m (and `keep`, this node). */
void addrbook_retain(addrbook_t *b, const raft_members_t *m, raft_id_t keep);

/* Configuration-entry context: "name address". 0, or -1 if malformed. */
int addrbook_parse_ctx(const uint8_t *ctx, size_t len, char name[ADDRBOOK_NAME_MAX],
                       char addr[ADDRBOOK_ADDR_MAX]);
/* Serialisation for snapshots: u32 count, then per entry u64 id, u8 name
 * length, name, u8 address length, address. encode returns the bytes
 * written (at most addrbook_encoded_max()); decode returns bytes consumed
 * or -1 when malformed. */
size_t addrbook_encoded_max(void);
size_t addrbook_encode(const addrbook_t *b, uint8_t *out);
long addrbook_decode(addrbook_t *b, const uint8_t *in, size_t len);

#endif
