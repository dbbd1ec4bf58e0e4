/* dns/updcache.c — the UDP UPDATE retransmission cache (see updcache.h):
 * a set-associative table (buckets of BUCKET_WAYS slots) under one mutex. */
#include "dns/updcache.h"

#include <netinet/in.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define BUCKET_WAYS 4

typedef struct slot {
    bool used;
    bool done;
    int rcode;
    uint64_t stamp_ms; /* begun, or answered */
    updcache_key_t key;
} slot_t;

struct updcache {
    pthread_mutex_t mu;
    size_t buckets;
    uint64_t window_ms;
    slot_t *slots; /* buckets * BUCKET_WAYS */
};

updcache_t *updcache_new(size_t slots, uint64_t window_ms)
{
    updcache_t *c = calloc(1, sizeof *c);
    if (c == NULL)
        return NULL;
    c->buckets = (slots ? slots : UPDCACHE_SLOTS) / BUCKET_WAYS;
    if (c->buckets == 0)
        c->buckets = 1;
    c->window_ms = window_ms ? window_ms : UPDCACHE_WINDOW_MS;
    c->slots = calloc(c->buckets * BUCKET_WAYS, sizeof *c->slots);
    if (c->slots == NULL) {
        free(c);
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    return c;
}

void updcache_free(updcache_t *c)
{
    if (c == NULL)
        return;
    pthread_mutex_destroy(&c->mu);
    free(c->slots);
    free(c);
}

/* Only the address and port count, never padding or scope garbage. */
static size_t peer_bytes(const struct sockaddr *peer, size_t peer_len, uint8_t out[18])
{
    if (peer != NULL && peer->sa_family == AF_INET && peer_len >= sizeof(struct sockaddr_in)) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)peer;
        memcpy(out, &in->sin_addr, 4);
        memcpy(out + 4, &in->sin_port, 2);
        return 6;
    }
    if (peer != NULL && peer->sa_family == AF_INET6 && peer_len >= sizeof(struct sockaddr_in6)) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)peer;
        memcpy(out, &in6->sin6_addr, 16);
        memcpy(out + 16, &in6->sin6_port, 2);
        return 18;
    }
    return 0;
}

void updcache_key(const struct sockaddr *peer, size_t peer_len, const uint8_t *msg, size_t len,
                  updcache_key_t *key)
{
    uint8_t addr[18];
    size_t alen = peer_bytes(peer, peer_len, addr);
    uint8_t alen_byte = (uint8_t)alen; /* keeps (source, message) unambiguous */
    unsigned out_len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
        EVP_DigestUpdate(ctx, &alen_byte, 1) != 1 || EVP_DigestUpdate(ctx, addr, alen) != 1 ||
        EVP_DigestUpdate(ctx, msg, len) != 1 || EVP_DigestFinal_ex(ctx, key->digest, &out_len) != 1)
        memset(key->digest, 0, sizeof key->digest); /* all-zero: never cached, see begin */
    EVP_MD_CTX_free(ctx);
}

static bool key_valid(const updcache_key_t *key)
{
    static const updcache_key_t zero;
    return memcmp(key, &zero, sizeof zero) != 0;
}

static slot_t *bucket(updcache_t *c, const updcache_key_t *key)
{
    uint64_t h;
    memcpy(&h, key->digest, sizeof h);
    return &c->slots[(h % c->buckets) * BUCKET_WAYS];
}

static bool expired(const updcache_t *c, const slot_t *s, uint64_t now_ms)
{
    return !s->used || now_ms - s->stamp_ms >= c->window_ms;
}

updcache_state_t updcache_begin(updcache_t *c, const updcache_key_t *key, uint64_t now_ms,
                                int *rcode)
{
    if (!key_valid(key))
        return UPDCACHE_NEW;
    pthread_mutex_lock(&c->mu);
    slot_t *b = bucket(c, key), *victim = &b[0];
    for (int i = 0; i < BUCKET_WAYS; i++) {
        slot_t *s = &b[i];
        if (s->used && !expired(c, s, now_ms) && memcmp(&s->key, key, sizeof *key) == 0) {
            updcache_state_t st = s->done ? UPDCACHE_DONE : UPDCACHE_INFLIGHT;
            *rcode = s->rcode;
            pthread_mutex_unlock(&c->mu);
            return st;
        }
        /* The victim: a free or expired slot, else the oldest. */
        if (!expired(c, victim, now_ms) && (expired(c, s, now_ms) || s->stamp_ms < victim->stamp_ms))
            victim = s;
    }
    *victim = (slot_t){ .used = true, .stamp_ms = now_ms, .key = *key };
    pthread_mutex_unlock(&c->mu);
    return UPDCACHE_NEW;
}

void updcache_done(updcache_t *c, const updcache_key_t *key, int rcode, uint64_t now_ms)
{
    if (!key_valid(key))
        return;
    pthread_mutex_lock(&c->mu);
    slot_t *b = bucket(c, key);
    for (int i = 0; i < BUCKET_WAYS; i++) {
        if (b[i].used && !b[i].done && memcmp(&b[i].key, key, sizeof *key) == 0) {
            b[i].done = true;
            b[i].rcode = rcode;
            b[i].stamp_ms = now_ms;
            break;
        }
    }
    pthread_mutex_unlock(&c->mu);
}
