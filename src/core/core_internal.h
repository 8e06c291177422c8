/* Private to the library (src/): the one random generator behind every
 * seeded stream (network initialisation and dropout, the dream's jitter,
 * noise and phases, Griffin-Lim's starting phases, training augmentation).
 * Not part of the public API. */
#ifndef SONO_CORE_INTERNAL_H
#define SONO_CORE_INTERNAL_H

#include <stdint.h>

/* splitmix64 (Steele, Lea, Flood 2014): the state advances by the golden
 * gamma and each output is the state through a bijective finaliser. */
#define SONO_SPLITMIX64_GAMMA 0x9E3779B97F4A7C15ull

/* The finaliser alone: a bijective mix of 64 bits. */
static inline uint64_t sono_splitmix64_mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* The next output of the generator whose state is *state. */
static inline uint64_t sono_splitmix64(uint64_t *state) { return sono_splitmix64_mix(*state += SONO_SPLITMIX64_GAMMA); }

/* One step from x without keeping the state: good enough to turn a counter
 * into independent-looking bits. */
static inline uint64_t sono_mix64(uint64_t x) { return sono_splitmix64_mix(x + SONO_SPLITMIX64_GAMMA); }

/* Uniform in [0, 1) from the top 53 bits of a 64-bit output. */
static inline double sono_unit_double(uint64_t bits) { return (double)(bits >> 11) * 0x1.0p-53; }

#endif
