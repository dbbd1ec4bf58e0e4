/* kv/store.c — the KV hash table (kv/store.h).
 *
 * Separate chaining with a power-of-two bucket array that doubles when the
 * load factor passes 1. Each entry is one allocation: header, key, value.
 * The hash is FNV-1a; keys come from operators over the admin port, not from
 * the open Internet, so flooding resistance is not worth a keyed hash here.
 * Iteration order never leaks out: kv_store_sorted sorts. */
#include "kv/store.h"

#include <stdlib.h>
#include <string.h>

typedef struct entry {
    struct entry *next;
    uint64_t hash;
    size_t key_len;
    size_t value_len;
    uint8_t bytes[]; /* key, then value */
} entry_t;

struct kv_store {
    entry_t **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
};

#define INITIAL_BUCKETS 64

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

kv_store_t *kv_store_new(void)
{
    kv_store_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->buckets = calloc(INITIAL_BUCKETS, sizeof *s->buckets);
    if (!s->buckets) {
        free(s);
        return NULL;
    }
    s->nbuckets = INITIAL_BUCKETS;
    return s;
}

void kv_store_free(kv_store_t *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->nbuckets; i++) {
        entry_t *e = s->buckets[i];
        while (e) {
            entry_t *next = e->next;
            free(e);
            e = next;
        }
    }
    free(s->buckets);
    free(s);
}

/* The link that points at the entry for key (or at the NULL ending its
 * chain), so callers can insert or unlink in place. */
static entry_t **find_link(const kv_store_t *s, const uint8_t *key, size_t key_len, uint64_t h)
{
    entry_t **link = &s->buckets[h & (s->nbuckets - 1)];
    while (*link) {
        entry_t *e = *link;
        if (e->hash == h && e->key_len == key_len && memcmp(e->bytes, key, key_len) == 0)
            break;
        link = &e->next;
    }
    return link;
}

/* Doubles the bucket array; on allocation failure the table just stays
 * denser, which is slower but still correct. */
static void grow(kv_store_t *s)
{
    size_t n = s->nbuckets * 2;
    entry_t **b = calloc(n, sizeof *b);
    if (!b)
        return;
    for (size_t i = 0; i < s->nbuckets; i++) {
        entry_t *e = s->buckets[i];
        while (e) {
            entry_t *next = e->next;
            e->next = b[e->hash & (n - 1)];
            b[e->hash & (n - 1)] = e;
            e = next;
        }
    }
    free(s->buckets);
    s->buckets = b;
    s->nbuckets = n;
}

int kv_store_set(kv_store_t *s, const uint8_t *key, size_t key_len,
                 const uint8_t *value, size_t value_len)
{
    if (key_len > SIZE_MAX / 2 || value_len > SIZE_MAX / 2 - key_len - sizeof(entry_t))
        return -1;
    uint64_t h = fnv1a(key, key_len);
    entry_t *e = malloc(sizeof *e + key_len + value_len);
    if (!e)
        return -1;
    e->hash = h;
    e->key_len = key_len;
    e->value_len = value_len;
    memcpy(e->bytes, key, key_len);
    if (value_len)
        memcpy(e->bytes + key_len, value, value_len);
    entry_t **link = find_link(s, key, key_len, h);
    if (*link) { /* replace */
        entry_t *old = *link;
        e->next = old->next;
        *link = e;
        free(old);
        return 0;
    }
    e->next = NULL;
    *link = e;
    s->count++;
    if (s->count > s->nbuckets)
        grow(s);
    return 0;
}

bool kv_store_get(const kv_store_t *s, const uint8_t *key, size_t key_len,
                  const uint8_t **value, size_t *value_len)
{
    entry_t *e = *find_link(s, key, key_len, fnv1a(key, key_len));
    if (!e)
        return false;
    *value = e->bytes + e->key_len;
    *value_len = e->value_len;
    return true;
}

bool kv_store_del(kv_store_t *s, const uint8_t *key, size_t key_len)
{
    entry_t **link = find_link(s, key, key_len, fnv1a(key, key_len));
    entry_t *e = *link;
    if (!e)
        return false;
    *link = e->next;
    free(e);
    s->count--;
    return true;
}

size_t kv_store_count(const kv_store_t *s)
{
    return s->count;
}

static int entry_cmp(const void *a, const void *b)
{
    const kv_entry_t *x = a, *y = b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

kv_entry_t *kv_store_sorted(const kv_store_t *s, size_t *count)
{
    *count = 0;
    if (s->count == 0)
        return NULL;
    kv_entry_t *out = malloc(s->count * sizeof *out);
    if (!out)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < s->nbuckets; i++)
        for (entry_t *e = s->buckets[i]; e; e = e->next)
            out[k++] = (kv_entry_t){ e->bytes, e->key_len, e->bytes + e->key_len, e->value_len };
    qsort(out, k, sizeof *out, entry_cmp);
    *count = k;
    return out;
}
