/* kv/session.h — client sessions for exactly-once apply (Ongaro's thesis
 * §6.3). Every command carries (client id, seq). The table remembers, per
 * client, the results of its last KV_SESSION_WINDOW commands, so a retry of
 * one of them gets the cached result instead of applying twice; a seq older
 * than anything remembered is refused (KV_ERR_SESSION_TOO_OLD), because
 * whether it applied can no longer be told.
 *
 * Expiry is by log index, never by clock, so every replica agrees: a session
 * untouched for more than KV_SESSION_IDLE_ENTRIES log entries counts as gone
 * (checked exactly on lookup; kv_sessions_sweep only frees memory), and when
 * more than KV_SESSION_MAX sessions exist the one used longest ago goes.
 *
 * Not thread-safe (only the apply thread uses it). The table owns all its
 * memory. */
#ifndef KV_SESSION_H
#define KV_SESSION_H

#include <stdint.h>

#include "kv/bytes.h"
#include "kv/result.h"

#define KV_SESSION_WINDOW 16
#define KV_SESSION_MAX 4096
#define KV_SESSION_IDLE_ENTRIES 1000000u

typedef struct kv_sessions kv_sessions_t;

enum kv_dedup {
    KV_DEDUP_NEW,       /* apply it, then kv_sessions_record */
    KV_DEDUP_DUPLICATE, /* already applied: *cached holds its result */
    KV_DEDUP_TOO_OLD,   /* older than the window: refuse */
};

kv_sessions_t *kv_sessions_new(void);
void kv_sessions_free(kv_sessions_t *t);
/* Looks up (client, seq) as seen by the entry at `index`. */
enum kv_dedup kv_sessions_check(const kv_sessions_t *t, uint64_t client_id, uint64_t seq,
                                uint64_t index, kv_result_t *cached);
/* Remembers the result of (client, seq) applied at `index`. Returns 0, or -1
 * on allocation failure. */
int kv_sessions_record(kv_sessions_t *t, uint64_t client_id, uint64_t seq,
                       uint64_t index, const kv_result_t *res);
/* Frees sessions idle for more than KV_SESSION_IDLE_ENTRIES at `index`. */
void kv_sessions_sweep(kv_sessions_t *t, uint64_t index);
size_t kv_sessions_count(const kv_sessions_t *t);

/* Snapshot section: appends the whole table (in client id order). */
void kv_sessions_save(const kv_sessions_t *t, bytebuf_t *b);
/* Reads a section written by kv_sessions_save into an empty table. Returns
 * 0, or -1 when the bytes are malformed or memory runs out. */
int kv_sessions_load(kv_sessions_t *t, kv_cursor_t *c);

#endif
