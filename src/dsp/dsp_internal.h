/* dsp internals shared by stft.c, mel.c and logmel.c (not part of the public API). */
#ifndef SONO_DSP_INTERNAL_H
#define SONO_DSP_INTERNAL_H

#include <fftw3.h>
#include <stdint.h>

#include "sonodream/dsp.h"

/* Per-call FFT buffers. FFTW's new-array execute functions need arrays with the
 * alignment of those the plans were made with, so both come from fftwf_malloc. */
typedef struct stft_work {
    float *frame;             /* (n_fft) windowed time samples */
    fftwf_complex *spectrum;  /* (bins) */
} stft_work;

sono_status stft_work_alloc(const sono_stft *s, stft_work *w, sono_error *err);
void stft_work_free(stft_work *w);

/* Spectrum of frame t of x (n samples) into w->spectrum. Read-only on s, so
 * any number of threads may call it at once, each with its own work. */
void stft_frame_spectrum(const sono_stft *s, const float *x, int64_t n, int t, stft_work *w);

/* The transpose of stft_frame_spectrum: dspec (bins, destroyed) = dRe + i dIm
 * -> w->frame (n_fft) = gradient with respect to the frame's samples. */
void stft_frame_spectrum_adjoint(const sono_stft *s, fftwf_complex *dspec, stft_work *w);

/* dx (n) += the frame gradient of frame t, padding folded back (reflect) or
 * dropped (zeros). Not thread-safe on a shared dx. */
void stft_frame_accumulate(const sono_stft *s, const float *frame, int t, float *dx, int64_t n);

/* x[i] = 10*log10(x[i]) for positive finite x (vectorised; decibel.c). */
void sono_power_to_db(float *x, size_t n);

#endif
