/* kv/store.h — the replicated key-value map: a chained hash table from byte
 * keys to byte values. What keys and values may contain is decided by the
 * callers (kv/text.h); the map itself stores any bytes.
 *
 * Not thread-safe: the state machine (kv/statemachine.c) serialises access.
 * Ownership: the store owns copies of every key and value. Pointers it hands
 * out stay valid until that key is next set or deleted, or the store freed. */
#ifndef KV_STORE_H
#define KV_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kv_store kv_store_t;

typedef struct kv_entry {
    const uint8_t *key;
    size_t key_len;
    const uint8_t *value;
    size_t value_len;
} kv_entry_t;

/* NULL on allocation failure. */
kv_store_t *kv_store_new(void);
void kv_store_free(kv_store_t *s);
/* Inserts or replaces. Returns 0, or -1 on allocation failure (the store is
 * then unchanged). */
int kv_store_set(kv_store_t *s, const uint8_t *key, size_t key_len,
                 const uint8_t *value, size_t value_len);
/* True and the value when the key exists. */
bool kv_store_get(const kv_store_t *s, const uint8_t *key, size_t key_len,
                  const uint8_t **value, size_t *value_len);
/* True when the key existed. */
bool kv_store_del(kv_store_t *s, const uint8_t *key, size_t key_len);
size_t kv_store_count(const kv_store_t *s);
/* Every entry, sorted by key (bytewise, shorter first on a common prefix), so
 * that snapshots of equal maps are equal bytes on every node. Returns a
 * malloc'd array the caller frees (the entries borrow from the store), or
 * NULL with *count = 0 when the store is empty or memory runs out — tell
 * them apart with kv_store_count. */
kv_entry_t *kv_store_sorted(const kv_store_t *s, size_t *count);

#endif
