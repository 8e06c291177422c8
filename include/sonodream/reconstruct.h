/* sonodream: from a (dreamed) log-mel spectrogram back to sound.
 *
 * Two steps: mel power -> linear power by non-negative least squares (a plain
 * pseudo-inverse goes negative), then a phase by fast Griffin-Lim (Perraudin,
 * Balazs and Søndergaard, "A fast Griffin-Lim algorithm", WASPAA 2013), as
 * librosa.griffinlim does it with momentum. */
#ifndef SONODREAM_RECONSTRUCT_H
#define SONODREAM_RECONSTRUCT_H

#include <stdint.h>

#include "sonodream/dsp.h"
#include "sonodream/error.h"

#include "sonodream/export.h"

SONO_BEGIN_DECLS

/* Solve min ||M P - Y||^2 subject to P >= 0 for all frames at once, with
 * accelerated projected gradient (FISTA). M: (n_mels, bins) filterbank;
 * mel_power Y: (n_mels, frames); out P: (bins, frames). iterations <= 0
 * picks the default (300). */
sono_status sono_mel_to_linear_nnls(const float *filterbank, int n_mels, int bins, const float *mel_power,
                                    int frames, int iterations, float *linear_power, sono_error *err);

typedef struct sono_griffin_lim_options {
    int iterations;       /* 64 */
    double momentum;      /* 0.99; 0 gives the classic algorithm */
    uint64_t seed;        /* random initial phase when init_phase is NULL */
    const float *init_phase; /* (frames, bins) radians, or NULL for random */
    float *convergence;   /* optional (iterations): spectral convergence after each */
} sono_griffin_lim_options;

void sono_griffin_lim_defaults(sono_griffin_lim_options *opt);

/* Find a signal of n samples whose STFT magnitude approaches `magnitude`
 * (frames, bins) with frames = sono_stft_frames(stft, n). Writes the signal
 * to out (n samples) and the final spectral convergence
 * ||S - |STFT(x)|||_F / ||S||_F to *final_convergence (may be NULL). */
sono_status sono_griffin_lim(const sono_stft *stft, const float *magnitude, int64_t n,
                             const sono_griffin_lim_options *opt, float *out, double *final_convergence,
                             sono_error *err);

/* Spectral convergence of signal x (n samples) against magnitude (frames, bins). */
sono_status sono_spectral_convergence(const sono_stft *stft, const float *magnitude, const float *x,
                                      int64_t n, double *out, sono_error *err);

SONO_END_DECLS
#endif
