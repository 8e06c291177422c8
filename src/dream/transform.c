/* Transformation robustness: each ascent step lets the networks hear a
 * slightly different version of the picture, so what the ascent draws has
 * to survive small changes of pitch, level and noise. A detail that only
 * one exact picture excites (adversarial texture) does not survive them; a
 * feature does (Olah et al. 2017, "Feature Visualization", transformation
 * robustness; Athalye et al. 2018, expectation over transformation).
 *
 * The shift moves the picture along frequency by whole mel bands, holding
 * the edge bands (the band that falls off is not wrapped round: a rolled
 * frequency axis would put bass at the top). The gain and the noise are
 * added in dB, so in standardised units they are divided by each band's
 * standard deviation; their transpose is the identity. */
#include <math.h>
#include <string.h>

#include "dream/dream_internal.h"

static double uniform01(uint64_t *rng) { return sono_unit_double(sono_splitmix64(rng)); }

void dream_transform_draw(const sono_dream_options *opt, uint64_t *rng, dream_transform *t) {
    memset(t, 0, sizeof *t);
    t->roll = opt->jitter ? (int)(sono_splitmix64(rng) % (uint64_t)(2 * opt->jitter + 1)) - opt->jitter : 0;
    if (opt->band_shift > 0)
        t->shift = (int)(sono_splitmix64(rng) % (uint64_t)(2 * opt->band_shift + 1)) - opt->band_shift;
    if (opt->gain_db > 0) t->gain_db = (2 * uniform01(rng) - 1) * opt->gain_db;
    if (opt->noise_db > 0) t->noise_seed = sono_splitmix64(rng) | 1u;
}

int dream_transform_active(const dream_transform *t) { return t->shift || t->gain_db != 0 || t->noise_seed; }

/* The shift at an octave of h bands: scaled from full resolution. */
static int octave_shift(const dream_transform *t, const octave *o, int H) {
    return (int)lround((double)t->shift * o->h / H);
}

static inline int clamp_band(int m, int h) { return m < 0 ? 0 : m >= h ? h - 1 : m; }

/* A standard normal pair by Box-Muller. */
static void normal_pair(uint64_t *rng, double *a, double *b) {
    double u = uniform01(rng), v = uniform01(rng);
    double r = sqrt(-2.0 * log(u > 0 ? u : 0x1.0p-53));
    *a = r * cos(2 * M_PI * v);
    *b = r * sin(2 * M_PI * v);
}

void dream_transform_apply(const dream_transform *t, const sono_dream_options *opt, const octave *o, int H,
                           const float *x, float *seen) {
    const int h = o->h, w = o->t, shift = octave_shift(t, o, H);
    for (int m = 0; m < h; m++) {
        const float *src = x + (size_t)clamp_band(m - shift, h) * w;
        float *dst = seen + (size_t)m * w;
        const float gain = (float)(t->gain_db / o->std[m]);
        for (int j = 0; j < w; j++) dst[j] = src[j] + gain;
    }
    if (!t->noise_seed) return;
    uint64_t rng = t->noise_seed;
    const size_t n = (size_t)h * w;
    for (size_t i = 0; i < n; i += 2) {
        double a, b;
        normal_pair(&rng, &a, &b);
        seen[i] += (float)(a * opt->noise_db / o->std[i / w]);
        if (i + 1 < n) seen[i + 1] += (float)(b * opt->noise_db / o->std[(i + 1) / w]);
    }
}

void dream_transform_adjoint(const dream_transform *t, const octave *o, int H, float *grad, float *tmp) {
    const int h = o->h, w = o->t, shift = octave_shift(t, o, H);
    if (!shift) return;
    const size_t n = (size_t)h * w;
    memset(tmp, 0, n * sizeof *tmp);
    for (int m = 0; m < h; m++) {
        float *dst = tmp + (size_t)clamp_band(m - shift, h) * w;
        const float *src = grad + (size_t)m * w;
        for (int j = 0; j < w; j++) dst[j] += src[j];
    }
    memcpy(grad, tmp, n * sizeof *grad);
}
