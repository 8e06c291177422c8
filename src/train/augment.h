/* Training-time augmentation of standardised log-mel clips (internal). */
#ifndef SONO_TRAIN_AUGMENT_H
#define SONO_TRAIN_AUGMENT_H

#include <stdint.h>

#include "sonodream/train.h"

/* Counter-based random numbers: the same (seed, a, b, c) always gives the
 * same stream, whatever the thread or the point a run was resumed from. */
typedef struct sono_rng {
    uint64_t state;
} sono_rng;

sono_rng sono_rng_for(uint64_t seed, uint64_t a, uint64_t b, uint64_t c);
uint64_t sono_rng_next(sono_rng *r);
double sono_rng_uniform(sono_rng *r); /* [0, 1) */
int sono_rng_below(sono_rng *r, int n); /* 0..n-1 */
double sono_rng_beta(sono_rng *r, double alpha); /* Beta(alpha, alpha) */

/* Roll x (H, W) along time by `shift` frames (circular); scratch holds W floats. */
void sono_roll_time(float *x, int H, int W, int shift, float *scratch);

/* Random time shift (roll) and SpecAugment masks (masked cells set to 0,
 * the standardised mean) on one clip x (H, W), in place. */
void sono_augment_clip(const sono_augment *aug, float *x, int H, int W, sono_rng *rng, float *scratch);

#endif
