/* sonodream: STFT and inverse STFT (FFTW3 single precision), the Slaney mel
 * filterbank, and log-mel features.
 *
 * Conventions follow librosa (stft, istft, filters.mel with htk=False and
 * norm="slaney", power_to_db with ref=1, top_db=None), so numpy reference
 * values can be computed independently (tools/golden_logmel.py).
 * Complex spectra are stored interleaved: (frames, bins, 2) float re, im, with
 * bins = n_fft/2 + 1. Log-mel output is (n_mels, frames), mel band 0 lowest. */
#ifndef SONODREAM_DSP_H
#define SONODREAM_DSP_H

#include <stdint.h>

#include "sonodream/error.h"

#include "sonodream/export.h"

SONO_BEGIN_DECLS

typedef enum sono_pad_mode {
    SONO_PAD_CONSTANT = 0, /* zeros: librosa >= 0.10's default for centred frames */
    SONO_PAD_REFLECT
} sono_pad_mode;

/* Everything that determines a feature value. Stored in feature and model
 * files so that classify and dream compute exactly the training features. */
typedef struct sono_feature_config {
    int sample_rate;       /* Hz, 16000 */
    double seconds;        /* clip length, 4.0; shorter clips zero-padded at the end, longer cropped */
    int n_fft;             /* 1024 */
    int hop;               /* 512 */
    int n_mels;            /* 128 */
    double fmin;           /* 0 Hz */
    double fmax;           /* sample_rate / 2 when <= 0 */
    int center;            /* 1: frame t is centred on sample t*hop */
    sono_pad_mode pad_mode;/* padding for centred frames */
    double power;          /* 2.0: power spectrogram */
    double log_floor;      /* 1e-10: 10*log10(max(p, log_floor)) */
} sono_feature_config;

/* The defaults above; fmax is left at 0 (= sample_rate / 2). */
void sono_feature_config_default(sono_feature_config *cfg);

/* fmax in Hz: cfg->fmax, or sample_rate / 2 when cfg->fmax <= 0. */
double sono_feature_config_fmax(const sono_feature_config *cfg);

/* Check ranges: sample_rate in [1000, 384000], seconds in (0, 3600], n_fft even
 * and >= 16, 1 <= hop <= n_fft, 1 <= n_mels <= n_fft/2 + 1,
 * 0 <= fmin < fmax <= sr/2, center 0 or 1, power > 0, log_floor > 0, and at
 * least one frame per clip. The message names the field. */
sono_status sono_feature_config_validate(const sono_feature_config *cfg, sono_error *err);

/* Samples in one clip: round(seconds * sample_rate). */
int64_t sono_feature_clip_samples(const sono_feature_config *cfg);

/* Frames of a clip: 1 + samples / hop when centred, else 1 + (samples - n_fft) / hop;
 * 0 when there is none (uncentred and fewer than n_fft samples). */
int sono_feature_frames(const sono_feature_config *cfg, int64_t n_samples);

/* One-line JSON text for the config (malloc'd; caller free()s): every field
 * (fmax resolved to Hz, pad_mode "constant" or "reflect", doubles written so
 * they read back exactly) and the fixed choices ("window":"hann",
 * "window_periodic":true, "mel_scale":"slaney", "mel_norm":"slaney",
 * "log":"10*log10(max(power, log_floor))"). NULL when out of memory. */
char *sono_feature_config_to_json(const sono_feature_config *cfg);

/* Parse what sono_feature_config_to_json wrote; fails naming the bad field.
 * The fixed choices may be absent, but when present must be the supported
 * ones. The result is validated; cfg is only written on success. */
sono_status sono_feature_config_from_json(const char *json, sono_feature_config *cfg, sono_error *err);

/* 1 when equal; otherwise 0 and a description of the first difference
 * ("n_mels: 128 vs 64") in diff. */
int sono_feature_config_equal(const sono_feature_config *a, const sono_feature_config *b, char *diff,
                              int diff_size);

/* Copy n samples into out[target], zero-padding at the end or cropping. */
void sono_fix_length(const float *in, int64_t n, float *out, int64_t target);

/* ---- STFT ---- */

typedef struct sono_stft sono_stft;

/* Plan an STFT with a periodic Hann window (n_fft even, 1 <= hop <= n_fft).
 * FFTW planning is serialised by a lock inside the dsp module, so creating
 * and freeing from several threads is safe (code that plans FFTW elsewhere
 * must not do so concurrently); the returned object is read-only afterwards
 * and may be used from several threads at once.
 * Reflect padding is numpy.pad(mode="reflect"): no edge repeat, and a signal
 * shorter than the padding is reflected again and again (as numpy does); a
 * single sample is repeated. *out is NULL on failure. */
sono_status sono_stft_new(int n_fft, int hop, int center, sono_pad_mode pad_mode, sono_stft **out,
                          sono_error *err);
void sono_stft_free(sono_stft *s); /* NULL is a no-op. */

int sono_stft_bins(const sono_stft *s);
/* As sono_feature_frames: 0 when uncentred frames need more samples. */
int sono_stft_frames(const sono_stft *s, int64_t n_samples);

/* spec: (frames, bins, 2) with frames = sono_stft_frames(s, n). */
sono_status sono_stft_forward(const sono_stft *s, const float *x, int64_t n, float *spec,
                              sono_error *err);

/* Inverse by weighted overlap-add, divided by the summed squared window
 * where that sum is non-zero (librosa.istft). Writes n_out samples (the
 * original signal length); samples no frame reaches are 0. */
sono_status sono_stft_inverse(const sono_stft *s, const float *spec, int frames, float *out,
                              int64_t n_out, sono_error *err);

/* A time-varying filter: sono_stft_inverse(filter(sono_stft_forward(x)))
 * with n_out = n, frame by frame, so memory is one frame per thread, not
 * the spectrogram. filter(t, spectrum, bins, user) changes frame t's
 * spectrum (bins, 2) in place. touched(t, user), when not NULL, says
 * whether the filter would change frame t at all: frames it leaves are
 * overlap-added without transforms. Both are called from several threads
 * at once. The result does not depend on the number of threads. out must
 * not alias x. */
typedef void (*sono_stft_frame_filter)(int t, float *spectrum, int bins, void *user);
typedef int (*sono_stft_frame_touched)(int t, void *user);
sono_status sono_stft_filter(const sono_stft *s, const float *x, int64_t n, sono_stft_frame_filter filter,
                             sono_stft_frame_touched touched, void *user, float *out, sono_error *err);

/* ---- mel ---- */

double sono_hz_to_mel(double hz); /* Slaney: linear below 1 kHz, log above */
double sono_mel_to_hz(double mel);

/* n frequencies (Hz) evenly spaced on the mel scale from fmin to fmax
 * (librosa.mel_frequencies). With n = n_mels + 2 these are the filterbank's
 * band edges: band m rises from hz[m], peaks at hz[m + 1], ends at hz[m + 2]. */
void sono_mel_frequencies(int n, double fmin, double fmax, double *hz);

/* Slaney-normalised triangular filters, (n_mels, n_fft/2 + 1) row-major,
 * malloc'd into *out (NULL on failure); caller free()s. fmax <= 0 means
 * sample_rate / 2. */
sono_status sono_mel_filterbank(int sample_rate, int n_fft, int n_mels, double fmin, double fmax, float **out,
                                sono_error *err);

/* ---- log-mel ---- */

typedef struct sono_logmel sono_logmel;

/* *out is NULL on failure. */
sono_status sono_logmel_new(const sono_feature_config *cfg, sono_logmel **out, sono_error *err);
void sono_logmel_free(sono_logmel *lm); /* NULL is a no-op. */
const sono_feature_config *sono_logmel_config(const sono_logmel *lm);
const float *sono_logmel_filterbank(const sono_logmel *lm); /* (n_mels, bins) */

/* Log-mel of n samples (any n >= 1 when centred, n >= n_fft otherwise): out
 * is (n_mels, frames) with frames = sono_feature_frames(cfg, n). Thread-safe
 * on a shared lm. */
sono_status sono_logmel_compute(const sono_logmel *lm, const float *x, int64_t n, float *out,
                                sono_error *err);


/* ---- resampling as a linear operator (for gradients) ---- */

/* A polyphase windowed-sinc resampler from in_rate to out_rate (Kaiser
 * window, 16 zero crossings of the lower rate each side, cut-off at 0.955 of
 * the lower Nyquist). Unlike sono_audio_resample (libsoxr, used to decode),
 * it is a plain matrix R with an exactly applied transpose, so a gradient at
 * the output rate can be carried back to the input's samples. Output sample
 * n sits at input time n * in_rate / out_rate (no delay), and the signal is
 * zero outside [0, n_in). Read-only after creation: threads may share it. */
typedef struct sono_resampler sono_resampler;

/* *out is NULL on failure. */
sono_status sono_resampler_new(int in_rate, int out_rate, sono_resampler **out, sono_error *err);
void sono_resampler_free(sono_resampler *r); /* NULL is a no-op. */

/* round(n_in * out_rate / in_rate), as sono_audio_resample. */
int64_t sono_resampler_output_length(const sono_resampler *r, int64_t n_in);

/* y = R x: y (n_out) from x (n_in). */
void sono_resampler_forward(const sono_resampler *r, const float *x, int64_t n_in, float *y, int64_t n_out);

/* Outputs [start, start + count) of R applied to a signal of which x holds
 * input samples [first, first + n_in) (zero outside the whole signal is
 * the caller's to supply): for reading a long recording block by block.
 * Fails when an output's filter reaches beyond the block. */
sono_status sono_resampler_forward_range(const sono_resampler *r, const float *x, int64_t first, int64_t n_in,
                                         float *y, int64_t start, int64_t count, sono_error *err);

/* dx = R^T dy: dx (n_in, overwritten) from dy (n_out). Deterministic for any
 * thread count. */
void sono_resampler_adjoint(const sono_resampler *r, const float *dy, int64_t n_out, float *dx, int64_t n_in);

/* ---- the differentiable front end: a recording -> standardised log-mel ---- */

/* What the network sees of a recording at any rate and channel count, with
 * its backward pass:
 *     x (n, channels) interleaved, in_rate
 *  -> mono = mean over channels            (the downmix)
 *  -> y = R mono at the features' rate      (sono_resampler; skipped when equal)
 *  -> Y = STFT(y), P = |Y|^power            (periodic Hann, as sono_stft)
 *  -> M = mel filterbank . P, L = 10 log10(max(M, log_floor))
 *  -> S = (L - mean[band]) / std[band]      (the classifier's standardisation)
 * On a mono recording at the features' rate S equals sono_logmel_compute's
 * output standardised (to float rounding). forward keeps what backward needs
 * (the spectra and mel powers), so backward always refers to the last
 * forward. Not thread-safe (it owns its buffers); it uses OpenMP inside. */
typedef struct sono_frontend sono_frontend;

/* For recordings of up to max_frames frames (samples per channel). mean and
 * std (n_mels) are copied; NULL for none (mean 0, std 1: plain dB). *out is
 * NULL on failure. */
sono_status sono_frontend_new(const sono_feature_config *cfg, const float *mean, const float *std, int in_rate,
                              int channels, int64_t max_frames, sono_frontend **out, sono_error *err);
void sono_frontend_free(sono_frontend *f); /* NULL is a no-op. */

/* The recording's rate the front end was made for. */
int sono_frontend_rate(const sono_frontend *f);

/* Model-rate samples and log-mel frames for n input frames. */
int64_t sono_frontend_model_samples(const sono_frontend *f, int64_t n);
int sono_frontend_frames(const sono_frontend *f, int64_t n);

/* S (n_mels, frames) of x (n, channels); 1 <= n <= max_frames. */
sono_status sono_frontend_forward(sono_frontend *f, const float *x, int64_t n, float *S, sono_error *err);

/* dx (n, channels, overwritten) = (dS/dx)^T dS at the last forward's x;
 * dS (n_mels, frames). Cells at the log floor pass no gradient. Every
 * channel gets the same gradient (the downmix's transpose). */
sono_status sono_frontend_backward(sono_frontend *f, const float *dS, float *dx, sono_error *err);

/* An ascent direction for the samples that moves every audible part of the
 * spectrum alike: the exact gradient scales each bin's change by 1/|Y| (dB
 * is a log), so quiet bins and quiet moments would take almost all of a
 * step. Here each STFT bin changes in proportion to itself,
 * dY_k = 2 Y_k (B^T dS_dB)_k with dS_dB = dS / std, i.e. a change of
 * gain in dB spread over the bins of each band, then mapped to samples by
 * the same transposes as sono_frontend_backward. Its inner product with the
 * gradient is a sum over bins of positive weights times squares when the
 * bands do not overlap, so it is an ascent direction (the mel bands'
 * overlap makes that approximate). Cells at the log floor pass nothing.
 * With several channels each channel's own bins change in proportion to
 * themselves (it reads the samples given to the last forward, which must
 * be unchanged): every channel keeps its own spectrum, so the stereo image
 * stays, and the downmix changes exactly as with the downmix's bins. */
sono_status sono_frontend_direction(sono_frontend *f, const float *dS, float *dx, sono_error *err);

/* The last forward's mel power M (n_mels, frames) before the floor, and its
 * mono signal at the features' rate (model_samples). */
const float *sono_frontend_mel_power(const sono_frontend *f);
const float *sono_frontend_model_signal(const sono_frontend *f);

SONO_END_DECLS
#endif
