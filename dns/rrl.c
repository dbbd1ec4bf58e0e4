/* dns/rrl.c — response rate limiting; see rrl.h for the design.
 *
 * A bucket is one 64-bit word, so that a worker updates it with one
 * compare-and-swap and no lock:
 *
 *   bits 63..40  tag: 24 bits of the key's hash, never 0 (0 = empty slot)
 *   bits 39..24  the second (monotonic, mod 65536) of its last update
 *   bits 23..0   tokens left, 0..rate (rate <= RRL_RATE_MAX < 2^24)
 *
 * The low bits of the same hash pick a pair of slots; the key lives in
 * either. Two keys with equal slot pair and tag share a bucket: with a
 * random 64-bit seed an outsider cannot aim for that. */
#include "dns/rrl.h"

#include <netinet/in.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "dns/wire.h"

#define TAG_SHIFT 40
#define TIME_SHIFT 24
#define TOKENS_MASK 0xffffffu
#define CAS_TRIES 8

enum rrl_class { CLASS_POSITIVE = 1, CLASS_EMPTY, CLASS_NXDOMAIN, CLASS_ERROR };

struct rrl {
    unsigned rate, slip;
    uint8_t v4_mask[4], v6_mask[16];
    uint64_t seed;
    size_t mask; /* slots - 1 */
    _Atomic uint64_t *slots;
};

/* ---- the key ------------------------------------------------------------ */

static uint64_t hash_bytes(uint64_t h, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL; /* FNV-1a step */
    return h;
}

/* DNS names compare without regard to ASCII case. */
static uint64_t hash_name(uint64_t h, const uint8_t *name, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint8_t c = name[i];
        h = (h ^ (c >= 'A' && c <= 'Z' ? c + 32 : c)) * 0x100000001b3ULL;
    }
    return h;
}

/* splitmix64's finaliser: spreads every input bit over the whole word. */
static uint64_t hash_final(uint64_t h)
{
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    return h ^ (h >> 31);
}

static void make_mask(uint8_t *mask, size_t len, unsigned bits)
{
    for (size_t i = 0; i < len; i++) {
        unsigned take = bits >= 8 ? 8 : bits;
        mask[i] = (uint8_t)(0xff00u >> take);
        bits -= take;
    }
}

/* Hashes the source's network (the address under the prefix mask). */
static uint64_t hash_source(const rrl_t *r, uint64_t h, const struct sockaddr *src)
{
    const uint8_t *addr = NULL;
    const uint8_t *mask = NULL;
    size_t len = 0;
    uint8_t family = 0;
    if (src->sa_family == AF_INET) {
        addr = (const uint8_t *)&((const struct sockaddr_in *)(const void *)src)->sin_addr;
        mask = r->v4_mask, len = 4, family = 4;
    } else if (src->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)src)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) /* a dual-stack socket's IPv4 client */
            addr = a6->s6_addr + 12, mask = r->v4_mask, len = 4, family = 4;
        else
            addr = a6->s6_addr, mask = r->v6_mask, len = 16, family = 6;
    }
    h = hash_bytes(h, &family, 1);
    for (size_t i = 0; i < len; i++) {
        uint8_t b = addr[i] & mask[i];
        h = hash_bytes(h, &b, 1);
    }
    return h;
}

/* Moves *pos past a name (labels, possibly ending in a pointer). */
static bool skip_name(const uint8_t *p, size_t len, size_t *pos)
{
    size_t i = *pos;
    while (i < len) {
        uint8_t l = p[i];
        if ((l & 0xc0) == 0xc0) {
            *pos = i + 2;
            return i + 2 <= len;
        }
        if (l & 0xc0)
            return false;
        i += 1u + l;
        if (l == 0) {
            *pos = i;
            return true;
        }
    }
    return false;
}

/* Moves *pos past `count` resource records. */
static bool skip_records(const uint8_t *p, size_t len, size_t *pos, unsigned count)
{
    for (unsigned k = 0; k < count; k++) {
        if (!skip_name(p, len, pos) || *pos + 10 > len)
            return false;
        size_t rdlen = ((size_t)p[*pos + 8] << 8) | p[*pos + 9];
        *pos += 10 + rdlen;
        if (*pos > len)
            return false;
    }
    return true;
}

static unsigned read_u16(const uint8_t *p) { return ((unsigned)p[0] << 8) | p[1]; }

/* Hashes the response's class and the name (and type) that go with it. */
static uint64_t hash_response(uint64_t h, const uint8_t *resp, size_t len)
{
    uint8_t cls = CLASS_ERROR;
    if (len >= DNS_HEADER_LEN) {
        unsigned rcode = resp[3] & 0xfu;
        if (rcode == DNS_RCODE_NOERROR)
            cls = read_u16(resp + 6) > 0 ? CLASS_POSITIVE : CLASS_EMPTY;
        else if (rcode == DNS_RCODE_NXDOMAIN)
            cls = CLASS_NXDOMAIN;
    }
    h = hash_bytes(h, &cls, 1);
    if (cls == CLASS_ERROR || read_u16(resp + 4) != 1)
        return h;
    uint8_t name[NAME_MAX_WIRE];
    size_t pos = DNS_HEADER_LEN;
    if (cls == CLASS_POSITIVE) {
        int n = dns_read_name(resp, len, &pos, name);
        if (n > 0 && pos + 2 <= len)
            h = hash_bytes(hash_name(h, name, (size_t)n), resp + pos, 2); /* + qtype */
        return h;
    }
    /* EMPTY, NXDOMAIN: the owner of the first authority record (the SOA's
     * zone, or a delegation's NS owner), after the question and answers. */
    if (!skip_name(resp, len, &pos) || (pos += 4) > len ||
        !skip_records(resp, len, &pos, read_u16(resp + 6)) || read_u16(resp + 8) == 0)
        return h;
    int n = dns_read_name(resp, len, &pos, name);
    return n > 0 ? hash_name(h, name, (size_t)n) : h;
}

/* ---- the buckets -------------------------------------------------------- */

static uint64_t bucket_tag(uint64_t w) { return w >> TAG_SHIFT; }
static unsigned bucket_time(uint64_t w) { return (unsigned)(w >> TIME_SHIFT) & 0xffffu; }
static unsigned bucket_tokens(uint64_t w) { return (unsigned)w & TOKENS_MASK; }
static uint64_t bucket_pack(uint64_t tag, unsigned time16, unsigned tokens)
{
    return tag << TAG_SHIFT | (uint64_t)time16 << TIME_SHIFT | tokens;
}
static unsigned age(uint64_t w, unsigned now16) { return (now16 - bucket_time(w)) & 0xffffu; }

/* Takes one token from the key's bucket (created full if absent). True
 * when there was one: the response is within the rate. */
static bool take_token(rrl_t *r, uint64_t h, uint32_t now)
{
    uint64_t tag = h >> TAG_SHIFT;
    if (tag == 0)
        tag = 1;
    size_t base = (size_t)h & r->mask & ~(size_t)1;
    unsigned now16 = now & 0xffffu;
    for (int attempt = 0; attempt < CAS_TRIES; attempt++) {
        uint64_t a = atomic_load_explicit(&r->slots[base], memory_order_relaxed);
        uint64_t b = atomic_load_explicit(&r->slots[base + 1], memory_order_relaxed);
        size_t slot;
        uint64_t old;
        unsigned tokens;
        if (bucket_tag(a) == tag || bucket_tag(b) == tag) {
            slot = bucket_tag(a) == tag ? base : base + 1;
            old = slot == base ? a : b;
            uint64_t refill = (uint64_t)age(old, now16) * r->rate + bucket_tokens(old);
            tokens = refill > r->rate ? r->rate : (unsigned)refill;
        } else { /* a new key takes over the empty or the staler slot */
            bool take_a = a == 0 || (b != 0 && age(a, now16) >= age(b, now16));
            slot = take_a ? base : base + 1;
            old = take_a ? a : b;
            tokens = r->rate;
        }
        bool allowed = tokens > 0;
        uint64_t next = bucket_pack(tag, now16, allowed ? tokens - 1 : 0);
        if (atomic_compare_exchange_weak_explicit(&r->slots[slot], &old, next,
                                                  memory_order_relaxed, memory_order_relaxed))
            return allowed;
    }
    return true; /* heavy contention on one pair: answer rather than spin */
}

/* ---- the interface ------------------------------------------------------ */

static size_t table_slots(unsigned wanted)
{
    size_t want = wanted == 0 ? RRL_TABLE_DEFAULT : wanted > RRL_TABLE_MAX ? RRL_TABLE_MAX : wanted;
    size_t n = 2;
    while (n < want)
        n *= 2;
    return n;
}

static uint64_t random_seed(void)
{
    uint64_t seed = 0;
    if (getrandom(&seed, sizeof seed, GRND_NONBLOCK) != (ssize_t)sizeof seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ts.tv_sec;
    }
    return seed | 1;
}

rrl_t *rrl_new(const rrl_config_t *cfg)
{
    rrl_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    size_t n = table_slots(cfg->table_size);
    r->slots = calloc(n, sizeof *r->slots);
    if (r->slots == NULL) {
        free(r);
        return NULL;
    }
    r->mask = n - 1;
    r->rate = cfg->rate == 0 ? 1 : cfg->rate > RRL_RATE_MAX ? RRL_RATE_MAX : cfg->rate;
    r->slip = cfg->slip > RRL_SLIP_MAX ? RRL_SLIP_MAX : cfg->slip;
    unsigned v4 = cfg->ipv4_prefix ? cfg->ipv4_prefix : RRL_IPV4_PREFIX_DEFAULT;
    unsigned v6 = cfg->ipv6_prefix ? cfg->ipv6_prefix : RRL_IPV6_PREFIX_DEFAULT;
    make_mask(r->v4_mask, sizeof r->v4_mask, v4 > 32 ? 32 : v4);
    make_mask(r->v6_mask, sizeof r->v6_mask, v6 > 128 ? 128 : v6);
    r->seed = cfg->seed ? cfg->seed : random_seed();
    return r;
}

void rrl_free(rrl_t *r)
{
    if (r == NULL)
        return;
    free(r->slots);
    free(r);
}

uint32_t rrl_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
    return (uint32_t)ts.tv_sec;
}

rrl_action_t rrl_check(rrl_t *r, const struct sockaddr *src, const uint8_t *resp,
                       size_t resp_len, uint32_t now, unsigned *limited)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ r->seed;
    h = hash_final(hash_response(hash_source(r, h, src), resp, resp_len));
    if (take_token(r, h, now))
        return RRL_SEND;
    *limited += 1;
    return r->slip != 0 && *limited % r->slip == 0 ? RRL_SLIP : RRL_DROP;
}

size_t rrl_truncate(uint8_t *resp, size_t resp_len)
{
    if (resp_len < DNS_HEADER_LEN)
        return resp_len;
    size_t end = DNS_HEADER_LEN;
    bool question = read_u16(resp + 4) == 1 && skip_name(resp, resp_len, &end) &&
                    end + 4 <= resp_len;
    end = question ? end + 4 : DNS_HEADER_LEN;
    resp[2] |= (uint8_t)(DNS_FLAG_TC >> 8);
    resp[4] = 0;
    resp[5] = question ? 1 : 0;
    memset(resp + 6, 0, 6); /* no answer, authority or additional records */
    return end;
}
