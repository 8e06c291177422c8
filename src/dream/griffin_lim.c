/* Phase reconstruction by fast Griffin-Lim, following librosa.griffinlim:
 *   rebuilt = STFT(ISTFT(S * angles))
 *   angles  = rebuilt - momentum / (1 + momentum) * previous rebuilt
 *   angles /= |angles|
 * (Perraudin, Balazs and Søndergaard, WASPAA 2013). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_internal.h"
#include "sonodream/reconstruct.h"

#define PHASE_EPS 1e-16f

void sono_griffin_lim_defaults(sono_griffin_lim_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->iterations = 64;
    opt->momentum = 0.99;
}

/* Unit phasors (frames, bins, 2) from given phases or uniform random ones. */
static void initial_angles(const sono_griffin_lim_options *opt, size_t cells, float *angles) {
    uint64_t state = opt->seed;
    for (size_t i = 0; i < cells; i++) {
        double phase = opt->init_phase ? opt->init_phase[i]
                                       : 2.0 * M_PI * sono_unit_double(sono_splitmix64(&state));
        angles[2 * i] = (float)cos(phase);
        angles[2 * i + 1] = (float)sin(phase);
    }
}

static double convergence_of(const float *magnitude, const float *spec, size_t cells) {
    double num = 0, den = 0;
    for (size_t i = 0; i < cells; i++) {
        double m = hypot(spec[2 * i], spec[2 * i + 1]);
        double d = magnitude[i] - m;
        num += d * d;
        den += (double)magnitude[i] * magnitude[i];
    }
    return den > 0 ? sqrt(num / den) : 0.0;
}

sono_status sono_spectral_convergence(const sono_stft *stft, const float *magnitude, const float *x,
                                      int64_t n, double *out, sono_error *err) {
    size_t cells = (size_t)sono_stft_frames(stft, n) * (size_t)sono_stft_bins(stft);
    float *spec = malloc(2 * cells * sizeof(float));
    if (!spec) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    sono_status s = sono_stft_forward(stft, x, n, spec, err);
    if (s == SONO_OK) *out = convergence_of(magnitude, spec, cells);
    free(spec);
    return s;
}

sono_status sono_griffin_lim(const sono_stft *stft, const float *magnitude, int64_t n,
                             const sono_griffin_lim_options *opt, float *out, double *final_convergence,
                             sono_error *err) {
    int frames = sono_stft_frames(stft, n);
    size_t cells = (size_t)frames * (size_t)sono_stft_bins(stft);
    float *angles = malloc(2 * cells * sizeof(float));   /* (frames, bins, 2) unit phasors */
    float *rebuilt = malloc(2 * cells * sizeof(float));  /* (frames, bins, 2) */
    float *previous = calloc(2 * cells, sizeof(float));  /* (frames, bins, 2) */
    float *spec = malloc(2 * cells * sizeof(float));     /* (frames, bins, 2) S * angles */
    sono_status s = SONO_OK;
    if (!angles || !rebuilt || !previous || !spec) {
        s = sono_error_set(err, SONO_ERR_MEMORY, "Griffin-Lim: out of memory");
        goto done;
    }
    initial_angles(opt, cells, angles);
    const float mix = (float)(opt->momentum / (1.0 + opt->momentum));
    for (int it = 0; it < opt->iterations && s == SONO_OK; it++) {
        for (size_t i = 0; i < cells; i++) {
            spec[2 * i] = magnitude[i] * angles[2 * i];
            spec[2 * i + 1] = magnitude[i] * angles[2 * i + 1];
        }
        s = sono_stft_inverse(stft, spec, frames, out, n, err);
        if (s == SONO_OK) s = sono_stft_forward(stft, out, n, rebuilt, err);
        if (s != SONO_OK) break;
        if (opt->convergence) opt->convergence[it] = (float)convergence_of(magnitude, rebuilt, cells);
        for (size_t i = 0; i < cells; i++) {
            float re = rebuilt[2 * i] - (it ? mix * previous[2 * i] : 0.0f);
            float im = rebuilt[2 * i + 1] - (it ? mix * previous[2 * i + 1] : 0.0f);
            float norm = sqrtf(re * re + im * im) + PHASE_EPS;
            angles[2 * i] = re / norm;
            angles[2 * i + 1] = im / norm;
        }
        float *swap = previous;
        previous = rebuilt;
        rebuilt = swap;
    }
    /* The signal from the final phases, and how well it matches. */
    if (s == SONO_OK) {
        for (size_t i = 0; i < cells; i++) {
            spec[2 * i] = magnitude[i] * angles[2 * i];
            spec[2 * i + 1] = magnitude[i] * angles[2 * i + 1];
        }
        s = sono_stft_inverse(stft, spec, frames, out, n, err);
    }
    if (s == SONO_OK && final_convergence) {
        s = sono_stft_forward(stft, out, n, rebuilt, err);
        if (s == SONO_OK) *final_convergence = convergence_of(magnitude, rebuilt, cells);
    }
done:
    free(angles);
    free(rebuilt);
    free(previous);
    free(spec);
    return s;
}
