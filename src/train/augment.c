#include "augment.h"

#include <math.h>
#include <string.h>

#include "core/core_internal.h"

sono_rng sono_rng_for(uint64_t seed, uint64_t a, uint64_t b, uint64_t c) {
    sono_rng r = {sono_splitmix64_mix(seed ^ sono_mix64(a) ^ sono_splitmix64_mix(b * 0xD6E8FEB86659FD93ull + 1) ^
                                      sono_splitmix64_mix(c * 0xA0761D6478BD642Full + 2))};
    return r;
}

uint64_t sono_rng_next(sono_rng *r) { return sono_splitmix64(&r->state); }

double sono_rng_uniform(sono_rng *r) { return sono_unit_double(sono_rng_next(r)); }

int sono_rng_below(sono_rng *r, int n) { return n > 0 ? (int)(sono_rng_uniform(r) * n) : 0; }

/* Gamma(alpha, 1) by Marsaglia and Tsang (alpha >= 1; boosted below 1). */
static double rng_gamma(sono_rng *r, double alpha) {
    if (alpha < 1) return rng_gamma(r, alpha + 1) * pow(sono_rng_uniform(r) + 1e-300, 1.0 / alpha);
    double d = alpha - 1.0 / 3.0, c = 1.0 / sqrt(9 * d);
    for (;;) {
        double x, v;
        do {
            /* Box-Muller normal */
            double u1 = sono_rng_uniform(r) + 1e-300, u2 = sono_rng_uniform(r);
            x = sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
            v = 1 + c * x;
        } while (v <= 0);
        v = v * v * v;
        double u = sono_rng_uniform(r);
        if (u < 1 - 0.0331 * x * x * x * x || log(u + 1e-300) < 0.5 * x * x + d * (1 - v + log(v))) return d * v;
    }
}

double sono_rng_beta(sono_rng *r, double alpha) {
    double a = rng_gamma(r, alpha), b = rng_gamma(r, alpha);
    return a + b > 0 ? a / (a + b) : 0.5;
}

void sono_roll_time(float *x, int H, int W, int shift, float *scratch) {
    if (shift == 0) return;
    for (int h = 0; h < H; h++) {
        float *row = x + (size_t)h * W;
        for (int w = 0; w < W; w++) scratch[((w + shift) % W + W) % W] = row[w];
        memcpy(row, scratch, (size_t)W * sizeof(float));
    }
}

void sono_augment_clip(const sono_augment *aug, float *x, int H, int W, sono_rng *rng, float *scratch) {
    if (aug->time_shift > 0) {
        int shift = sono_rng_below(rng, 2 * aug->time_shift + 1) - aug->time_shift;
        sono_roll_time(x, H, W, shift, scratch);
    }
    for (int m = 0; m < aug->time_masks && aug->time_mask_width > 0; m++) {
        int width = sono_rng_below(rng, (aug->time_mask_width < W ? aug->time_mask_width : W) + 1);
        int start = sono_rng_below(rng, W - width + 1);
        for (int h = 0; h < H; h++)
            for (int w = start; w < start + width; w++) x[(size_t)h * W + w] = 0;
    }
    for (int m = 0; m < aug->freq_masks && aug->freq_mask_width > 0; m++) {
        int width = sono_rng_below(rng, (aug->freq_mask_width < H ? aug->freq_mask_width : H) + 1);
        int start = sono_rng_below(rng, H - width + 1);
        for (int h = start; h < start + width; h++) memset(x + (size_t)h * W, 0, (size_t)W * sizeof(float));
    }
}
