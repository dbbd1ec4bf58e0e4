/* dns/updcache.h — the retransmission cache of UDP UPDATEs (issue #14):
 * a retransmitted UPDATE (same source address and port, same ID, same
 * octets) within the window gets the first one's result again and is not
 * applied twice; while the first is still in flight, the retransmission
 * is dropped (the client will ask again and get the result).
 *
 * Keyed by SHA-256 over (source, message), so a key identifies one request
 * beyond any practical collision. Bounded: a fixed table of slots; a new
 * request takes a free or expired slot of its bucket, else the oldest one
 * there (a request evicted while in flight just loses its dedup, never
 * its answer). Thread-safe (one mutex: UPDATEs are rare next to queries).
 * The clock is a parameter (milliseconds, any monotonic origin). */
#ifndef DNS_UPDCACHE_H
#define DNS_UPDCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define UPDCACHE_WINDOW_MS 30000
#define UPDCACHE_SLOTS 4096

typedef struct updcache updcache_t;

typedef struct updcache_key {
    uint8_t digest[32];
} updcache_key_t;

typedef enum updcache_state {
    UPDCACHE_NEW = 0,  /* first time: the caller submits it, then calls done */
    UPDCACHE_INFLIGHT, /* the first one is not answered yet: drop this one */
    UPDCACHE_DONE,     /* answered: *rcode is the first result */
} updcache_state_t;

/* slots 0: UPDCACHE_SLOTS; window_ms 0: UPDCACHE_WINDOW_MS. NULL: no memory. */
updcache_t *updcache_new(size_t slots, uint64_t window_ms);
void updcache_free(updcache_t *c);

/* The key of a message from peer (peer_len octets of sockaddr). */
void updcache_key(const struct sockaddr *peer, size_t peer_len, const uint8_t *msg, size_t len,
                  updcache_key_t *key);

/* Looks the key up at time now_ms; when not there (or expired), records
 * it as in flight and returns UPDCACHE_NEW. */
updcache_state_t updcache_begin(updcache_t *c, const updcache_key_t *key, uint64_t now_ms,
                                int *rcode);
/* Records the result of a request begun with UPDCACHE_NEW; the window
 * starts again from now_ms. A key no longer there is ignored. */
void updcache_done(updcache_t *c, const updcache_key_t *key, int rcode, uint64_t now_ms);

#endif
