/* A polyphase windowed-sinc resampler whose adjoint is applied exactly.
 *
 * The waveform-domain dream carries gradients from the model's rate back to
 * a recording's own rate, so resampling has to be a fixed linear operator R
 * with a known transpose: libsoxr is a black box (and streams with state).
 * Output sample n sits at input position t = n * M / L (L/M = out/in in
 * lowest terms) and is
 *     y[n] = sum_k h(t - k) x[k],   k in the taps around t, x = 0 outside,
 * with h a Kaiser-windowed sinc low-pass, cut off between libsoxr's "high
 * quality" pass-band edge (0.91 of the lower Nyquist) and that Nyquist. The
 * adjoint is the same sum read the other way: dx[k] += h(t - k) dy[n].
 * Coefficients are tabulated per phase (t's fractional part); when L is
 * large (rates with no common factor) phases are rounded to 1/4096, which
 * keeps R linear and its adjoint exact. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sonodream/dsp.h"

#define RESAMPLER_MAX_PHASES 4096
#define RESAMPLER_ZEROS 32      /* half-length of the filter, in periods of the lower rate */
#define RESAMPLER_CUTOFF 0.91   /* of the lower Nyquist, the middle of the transition band */
#define RESAMPLER_KAISER_BETA 8.6 /* about 90 dB of stop-band rejection */

struct sono_resampler {
    int in_rate, out_rate;
    int64_t up, down;  /* L, M: out/in in lowest terms */
    int phases;        /* table rows: min(L, RESAMPLER_MAX_PHASES) */
    int taps;          /* coefficients per output sample */
    int half;          /* taps / 2: the first tap is base - half + 1 */
    float *coef;       /* (phases, taps) */
};

static int64_t gcd64(int64_t a, int64_t b) {
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Modified Bessel function of the first kind, order 0 (power series). */
static double bessel_i0(double x) {
    double sum = 1, term = 1, q = x * x / 4;
    for (int k = 1; k < 64; k++) {
        term *= q / ((double)k * k);
        sum += term;
        if (term < sum * 1e-17) break;
    }
    return sum;
}

/* One phase's taps: h(frac + half - 1 - j), normalised to sum 1 (unit DC gain). */
static void fill_phase(float *row, int taps, int half, double frac, double fc, double reach) {
    double sum = 0, i0_beta = bessel_i0(RESAMPLER_KAISER_BETA);
    double tmp[taps];
    for (int j = 0; j < taps; j++) {
        double d = frac + half - 1 - j; /* distance from the tap to the output's position, input samples */
        double arg = 2 * fc * d;
        double sinc = fabs(arg) < 1e-12 ? 1.0 : sin(M_PI * arg) / (M_PI * arg);
        double r = d / reach;
        double window = fabs(r) >= 1 ? 0 : bessel_i0(RESAMPLER_KAISER_BETA * sqrt(1 - r * r)) / i0_beta;
        tmp[j] = 2 * fc * sinc * window;
        sum += tmp[j];
    }
    for (int j = 0; j < taps; j++) row[j] = (float)(tmp[j] / sum);
}

sono_status sono_resampler_new(int in_rate, int out_rate, sono_resampler **out, sono_error *err) {
    *out = NULL;
    if (in_rate < 1 || out_rate < 1 || in_rate > 1000000 || out_rate > 1000000)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "resampler: rates must be in 1..1000000 Hz (got %d -> %d)",
                              in_rate, out_rate);
    sono_resampler *r = calloc(1, sizeof *r);
    if (!r) return sono_error_set(err, SONO_ERR_MEMORY, "resampler: out of memory");
    int64_t g = gcd64(in_rate, out_rate);
    r->in_rate = in_rate, r->out_rate = out_rate;
    r->up = out_rate / g, r->down = in_rate / g;
    r->phases = r->up < RESAMPLER_MAX_PHASES ? (int)r->up : RESAMPLER_MAX_PHASES;
    /* Cut-off and reach in input samples: the lower of the two Nyquists. */
    double ratio = out_rate < in_rate ? (double)out_rate / in_rate : 1.0;
    double fc = 0.5 * RESAMPLER_CUTOFF * ratio;
    double reach = RESAMPLER_ZEROS / ratio;
    r->half = (int)ceil(reach);
    r->taps = 2 * r->half;
    if (in_rate == out_rate) r->half = 1, r->taps = 1; /* the identity: one tap of weight 1 */
    r->coef = malloc((size_t)r->phases * r->taps * sizeof *r->coef);
    if (!r->coef) {
        sono_resampler_free(r);
        return sono_error_set(err, SONO_ERR_MEMORY, "resampler: out of memory");
    }
    if (in_rate == out_rate) r->coef[0] = 1.0f;
    else
        for (int p = 0; p < r->phases; p++)
            fill_phase(r->coef + (size_t)p * r->taps, r->taps, r->half, (double)p / r->phases, fc, reach);
    *out = r;
    return SONO_OK;
}

void sono_resampler_free(sono_resampler *r) {
    if (!r) return;
    free(r->coef);
    free(r);
}

int64_t sono_resampler_output_length(const sono_resampler *r, int64_t n_in) {
    /* round(n_in * out / in), as libsoxr and sono_audio_resample give. */
    return (int64_t)llround((double)n_in * r->up / r->down);
}

/* Where output n reads: the first tap's input index and the phase's row. */
static inline const float *tap_row(const sono_resampler *r, int64_t n, int64_t *first) {
    int64_t pos = n * r->down; /* t * L */
    int64_t base = pos / r->up;
    int64_t rem = pos - base * r->up;
    int p = r->phases == r->up ? (int)rem : (int)((rem * r->phases) / r->up);
    *first = base - r->half + 1;
    return r->coef + (size_t)p * r->taps;
}

void sono_resampler_forward(const sono_resampler *r, const float *x, int64_t n_in, float *y, int64_t n_out) {
    const int taps = r->taps;
#pragma omp parallel for schedule(static)
    for (int64_t n = 0; n < n_out; n++) {
        int64_t first;
        const float *h = tap_row(r, n, &first);
        float acc = 0;
        if (first >= 0 && first + taps <= n_in) {
            const float *xs = x + first;
#pragma omp simd reduction(+ : acc)
            for (int j = 0; j < taps; j++) acc += h[j] * xs[j];
        } else {
            for (int j = 0; j < taps; j++) {
                int64_t k = first + j;
                if (k >= 0 && k < n_in) acc += h[j] * x[k];
            }
        }
        y[n] = acc;
    }
}

/* Scatter outputs [n0, n1) into dx. */
static void adjoint_range(const sono_resampler *r, const float *dy, int64_t n0, int64_t n1, float *dx,
                          int64_t n_in) {
    const int taps = r->taps;
    for (int64_t n = n0; n < n1; n++) {
        int64_t first;
        const float *h = tap_row(r, n, &first);
        const float g = dy[n];
        if (first >= 0 && first + taps <= n_in) {
            float *xs = dx + first;
#pragma omp simd
            for (int j = 0; j < taps; j++) xs[j] += h[j] * g;
        } else {
            for (int j = 0; j < taps; j++) {
                int64_t k = first + j;
                if (k >= 0 && k < n_in) dx[k] += h[j] * g;
            }
        }
    }
}

void sono_resampler_adjoint(const sono_resampler *r, const float *dy, int64_t n_out, float *dx, int64_t n_in) {
    memset(dx, 0, (size_t)n_in * sizeof *dx);
    /* Two passes over interleaved blocks: within a pass, blocks are far enough
     * apart (more than a filter's reach) that their scatters never overlap,
     * so threads need no atomics, and each dx[k] gets its terms in the same
     * order for any thread count (its even block's, then its odd block's). */
    const int64_t block = 4096 + 4 * (int64_t)r->taps * (r->up / r->down + 1);
    const int64_t blocks = (n_out + block - 1) / block;
    for (int pass = 0; pass < 2; pass++) {
#pragma omp parallel for schedule(static)
        for (int64_t b = pass; b < blocks; b += 2) {
            int64_t n0 = b * block, n1 = n0 + block < n_out ? n0 + block : n_out;
            adjoint_range(r, dy, n0, n1, dx, n_in);
        }
    }
}

sono_status sono_resampler_forward_range(const sono_resampler *r, const float *x, int64_t first, int64_t n_in,
                                         float *y, int64_t start, int64_t count, sono_error *err) {
    const int taps = r->taps;
    for (int64_t i = 0; i < count; i++) {
        int64_t tap0;
        const float *h = tap_row(r, start + i, &tap0);
        tap0 -= first; /* into the block */
        if (tap0 < 0 || tap0 + taps > n_in)
            return sono_error_set(err, SONO_ERR_ARGUMENT,
                                  "resampler: output %lld reaches input %lld..%lld, outside the block given",
                                  (long long)(start + i), (long long)(tap0 + first), (long long)(tap0 + first + taps));
        float acc = 0;
        for (int j = 0; j < taps; j++) acc += h[j] * x[tap0 + j];
        y[i] = acc;
    }
    return SONO_OK;
}
