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
 * random 64-bit seed an outsider cannot aim for that (this is a table
 * hash, not cryptography: a multiply-xorshift over 64-bit words).
 *
 * Cost: every UDP response is counted, so the key is hashed where it lies
 * in the response (names a word at a time, lower-cased eight octets at
 * once), with no copy; bench/rrl-cost.sh measures it (docs/performance.md). */
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
    uint32_t v4_mask;    /* in network byte order, as the address */
    uint64_t v6_mask[2]; /* likewise, the address's two halves */
    uint64_t seed;
    size_t mask; /* slots - 1 */
    _Atomic uint64_t *slots;
};

/* ---- the key ------------------------------------------------------------ */

/* One 64-bit word into the hash (a multiply and a shift). */
static uint64_t mix(uint64_t h, uint64_t w)
{
    h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    return h ^ (h >> 32);
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

/* ASCII upper case to lower case in all 8 bytes of w at once (DNS names
 * compare without regard to case); other bytes, label lengths included,
 * are left alone. */
static uint64_t lower8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t seven = w & ~high;                  /* each byte's low 7 bits */
    uint64_t ge_a = seven + (0x80 - 'A') * ones; /* bit 7: byte >= 'A' */
    uint64_t gt_z = seven + (0x7f - 'Z') * ones; /* bit 7: byte > 'Z' */
    uint64_t upper = ge_a & ~gt_z & ~w & high;
    return w | (upper >> 2);                     /* 0x80 >> 2 == 0x20 */
}

/* Hashes n octets of a name (flat wire form), a word at a time. `room`:
 * how many octets may be read from name (at least n), so the last word is
 * one load when the buffer goes on past the name. */
static uint64_t hash_name(uint64_t h, const uint8_t *name, size_t n, size_t room)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, name + i, 8);
        h = mix(h, lower8(w));
    }
    uint64_t tail = 0;
    if (i == n)
        return mix(h, n);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (i + 8 <= room) {
        memcpy(&tail, name + i, 8);
        tail &= ~0ULL >> (64 - 8 * (n - i)); /* the first n - i octets */
    } else
#endif
    {
        for (size_t k = 0; i + k < n; k++)
            tail |= (uint64_t)name[i + k] << (8 * k);
    }
    return mix(h, lower8(tail) ^ n);
}

/* When the name at pos is uncompressed labels down to the root: true,
 * and *end is just past it. */
static bool flat_name(const uint8_t *p, size_t len, size_t pos, size_t *end)
{
    size_t i = pos;
    while (i < len && p[i] != 0 && (p[i] & 0xc0) == 0 && i - pos < NAME_MAX_WIRE)
        i += 1u + p[i];
    if (i >= len || p[i] != 0 || i + 1 - pos > NAME_MAX_WIRE)
        return false;
    *end = i + 1;
    return true;
}

/* Hashes the name at pos in the packet. A name whose labels run
 * uncompressed to the root after at most a few leading pointers (as the
 * question and our compressed owners do) is hashed in place; any other is
 * first copied out flat. Either way the hash depends only on the name. */
static uint64_t hash_name_at(uint64_t h, const uint8_t *p, size_t len, size_t pos)
{
    size_t start = pos;
    for (int jumps = 0; start + 1 < len && (p[start] & 0xc0) == 0xc0 && jumps < 4; jumps++) {
        size_t target = ((size_t)(p[start] & 0x3f) << 8) | p[start + 1];
        if (target >= start || target < DNS_HEADER_LEN)
            return h;
        start = target;
    }
    size_t end;
    if (flat_name(p, len, start, &end))
        return hash_name(h, p + start, end - start, len - start);
    uint8_t flat[NAME_MAX_WIRE];
    size_t at = pos;
    int n = dns_read_name(p, len, &at, flat);
    return n > 0 ? hash_name(h, flat, (size_t)n, (size_t)n) : h;
}

/* Hashes the source's network (the address under the prefix mask). */
static uint64_t hash_source(const rrl_t *r, uint64_t h, const struct sockaddr *src)
{
    if (src->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)(const void *)src)->sin6_addr;
        if (!IN6_IS_ADDR_V4MAPPED(a6)) {
            uint64_t hi, lo;
            memcpy(&hi, a6->s6_addr, 8);
            memcpy(&lo, a6->s6_addr + 8, 8);
            return mix(mix(h, (hi & r->v6_mask[0]) ^ 6), lo & r->v6_mask[1]);
        }
        uint32_t a4; /* a dual-stack socket's IPv4 client */
        memcpy(&a4, a6->s6_addr + 12, 4);
        return mix(h, (uint64_t)(a4 & r->v4_mask) << 8 | 4);
    }
    if (src->sa_family == AF_INET) {
        uint32_t a4 = ((const struct sockaddr_in *)(const void *)src)->sin_addr.s_addr;
        return mix(h, (uint64_t)(a4 & r->v4_mask) << 8 | 4);
    }
    return mix(h, 0);
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
    uint64_t cls = CLASS_ERROR;
    if (len >= DNS_HEADER_LEN) {
        unsigned rcode = resp[3] & 0xfu;
        if (rcode == DNS_RCODE_NOERROR)
            cls = read_u16(resp + 6) > 0 ? CLASS_POSITIVE : CLASS_EMPTY;
        else if (rcode == DNS_RCODE_NXDOMAIN)
            cls = CLASS_NXDOMAIN;
    }
    if (cls == CLASS_ERROR || read_u16(resp + 4) != 1)
        return mix(h, cls);
    size_t pos = DNS_HEADER_LEN;
    bool flat = flat_name(resp, len, DNS_HEADER_LEN, &pos); /* as dns_answer writes it */
    if ((!flat && !skip_name(resp, len, &pos)) || pos + 4 > len)
        return mix(h, cls);
    if (cls == CLASS_POSITIVE) { /* the question's name and type */
        h = mix(h, cls << 16 | read_u16(resp + pos));
        return flat ? hash_name(h, resp + DNS_HEADER_LEN, pos - DNS_HEADER_LEN, len - DNS_HEADER_LEN)
                    : hash_name_at(h, resp, len, DNS_HEADER_LEN);
    }
    /* EMPTY, NXDOMAIN: the owner of the first authority record (the SOA's
     * zone, or a delegation's NS owner), after the question and answers. */
    pos += 4;
    h = mix(h, cls);
    if (!skip_records(resp, len, &pos, read_u16(resp + 6)) || read_u16(resp + 8) == 0)
        return h;
    return hash_name_at(h, resp, len, pos);
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

/* The first `bits` bits of mask[0..len) set, the rest clear. */
static void prefix_mask(uint8_t *mask, size_t len, unsigned bits)
{
    for (size_t i = 0; i < len; i++) {
        unsigned take = bits >= 8 ? 8 : bits;
        mask[i] = (uint8_t)(0xff00u >> take);
        bits -= take;
    }
}

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
    uint8_t m4[4], m6[16];
    prefix_mask(m4, sizeof m4, v4 > 32 ? 32 : v4);
    prefix_mask(m6, sizeof m6, v6 > 128 ? 128 : v6);
    memcpy(&r->v4_mask, m4, 4);
    memcpy(r->v6_mask, m6, 16);
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
    uint64_t h = hash_final(hash_response(hash_source(r, r->seed, src), resp, resp_len));
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
