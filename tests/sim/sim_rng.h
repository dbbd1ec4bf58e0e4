/* tests/sim/sim_rng.h — the simulation's only source of randomness.
 *
 * Every random choice of a run (network delays, drops, faults, client
 * actions, the cores' own election jitter) is drawn from one of these
 * generators, seeded from the run's seed, so a seed replays bit for bit. */
#ifndef SIM_RNG_H
#define SIM_RNG_H

#include <stdbool.h>
#include <stdint.h>

struct sim_rng {
    uint64_t s[4]; /* xoshiro256** state; never all zero */
};

/* Seeds the generator; any 64-bit seed (including 0) is fine. */
void sim_rng_seed(struct sim_rng *rng, uint64_t seed);
uint64_t sim_rng_next(struct sim_rng *rng);
/* Uniform in [0, n); n must be > 0. */
uint32_t sim_rng_below(struct sim_rng *rng, uint32_t n);
/* Uniform in [lo, hi] inclusive. */
uint32_t sim_rng_range(struct sim_rng *rng, uint32_t lo, uint32_t hi);
/* True with probability per_million / 1,000,000. */
bool sim_rng_chance(struct sim_rng *rng, uint32_t per_million);

#endif
