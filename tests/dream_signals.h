/* Signals for the dream tests: a recording of two sweeping tones in
 * noise, its standardised log-mel as a classifier hears it, a layer's
 * output for one window of it, and random directions for finite
 * differences. Shared by test_dream_robust.c, test_dream_guide.c and
 * test_dream_texture.c. */
#ifndef SONO_TEST_DREAM_SIGNALS_H
#define SONO_TEST_DREAM_SIGNALS_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "core/core_internal.h"
#include "sonodream/classifier.h"
#include "sonodream/dsp.h"

/* Two tones sweeping in noise, channels slightly different. */
static float *test_recording(int64_t n, int channels, int rate, uint32_t seed) {
    float *x = malloc((size_t)n * channels * sizeof *x);
    uint32_t s = seed;
    for (int64_t i = 0; i < n; i++)
        for (int ch = 0; ch < channels; ch++) {
            s = s * 1664525u + 1013904223u;
            double t = (double)i / rate, noise = ((s >> 8) / 16777216.0 - 0.5) * 0.02;
            x[i * channels + ch] = (float)(0.2 * sin(2 * M_PI * (300 + 400 * t) * t) +
                                           0.1 * sin(2 * M_PI * (1200 + 100 * ch) * t) + noise);
        }
    return x;
}

static float *standardised(const sono_classifier *c, const float *x, int64_t n, int *frames) {
    sono_error err = {0};
    sono_frontend *fe;
    CHECK_OK(sono_frontend_new(&c->features, c->norm_mean, c->norm_std, c->features.sample_rate, 1, n, &fe, &err));
    *frames = sono_frontend_frames(fe, n);
    float *S = malloc((size_t)c->features.n_mels * *frames * sizeof *S);
    CHECK_OK(sono_frontend_forward(fe, x, n, S, &err));
    sono_frontend_free(fe);
    return S;
}


/* The layer's output (copied out of the net's buffer) for the window of S
 * (n_mels, frames) of the net's built width starting at `start`. */
static inline float *layer_output(sono_classifier *c, const float *S, int frames, int start, int layer, sono_shape *shape) {
    const int H = c->features.n_mels, W = sono_net_input_shape(c->net).w;
    float *win = malloc((size_t)H * W * sizeof *win);
    for (int m = 0; m < H; m++) memcpy(win + (size_t)m * W, S + (size_t)m * frames + start, W * sizeof *win);
    const float *y;
    sono_error err = {0};
    CHECK_OK(sono_net_forward_to(c->net, win, 1, H, W, layer, &y, shape, &err));
    const size_t count = (size_t)shape->c * shape->h * shape->w;
    float *copy = malloc(count * sizeof *copy);
    memcpy(copy, y, count * sizeof *copy);
    free(win);
    return copy;
}

/* Uniform in [-0.5, 0.5), from 53 random bits. */
static inline double uniform_half(uint64_t *rng) { return (double)(sono_splitmix64(rng) >> 11) * 0x1.0p-53 - 0.5; }

#endif
