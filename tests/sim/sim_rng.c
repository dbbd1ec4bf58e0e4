/* tests/sim/sim_rng.c — xoshiro256** seeded through splitmix64.
 *
 * Chosen because it is small, fast and has no bad seeds once expanded with
 * splitmix64; the simulation draws tens of millions of numbers per run. */
#include "tests/sim/sim_rng.h"

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void sim_rng_seed(struct sim_rng *rng, uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        rng->s[i] = splitmix64(&x);
}

uint64_t sim_rng_next(struct sim_rng *rng)
{
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

uint32_t sim_rng_below(struct sim_rng *rng, uint32_t n)
{
    /* Lemire's multiply-shift; the tiny bias is irrelevant for a test. */
    return (uint32_t)(((sim_rng_next(rng) >> 32) * (uint64_t)n) >> 32);
}

uint32_t sim_rng_range(struct sim_rng *rng, uint32_t lo, uint32_t hi)
{
    return lo + sim_rng_below(rng, hi - lo + 1);
}

bool sim_rng_chance(struct sim_rng *rng, uint32_t per_million)
{
    return sim_rng_below(rng, 1000000) < per_million;
}
