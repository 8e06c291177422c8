/* sonodream: DeepDream on log-mel spectrograms, and back to sound.
 *
 * The ascent follows Google's DeepDream notebook (Mordvintsev, Olah and Tyka,
 * "Inceptionism", 2015; deepdream.ipynb's make_step / deepdream), adapted to
 * spectrograms:
 *   - octaves coarse to fine (both axes resized bilinearly by 1/scale per
 *     octave); the detail added at one octave (dream - base) is upsampled and
 *     carried to the next;
 *   - at each step a random circular roll along time only (jitter), undone
 *     after the step; frequency is never rolled (a shifted band is another
 *     sound, not the same one elsewhere);
 *   - the gradient of the objective with respect to the standardised log-mel,
 *     optionally blurred, and a step normalised by its mean absolute value;
 *   - values clipped to a plausible dB range after every step.
 * Inputs of any length are dreamed through the network's fixed window with
 * overlapping windows (50 % by default) whose gradients are cross-faded with
 * a Hann-shaped weight, so there is no seam where windows meet.
 *
 * The step is in levels of an 8-bit picture of an 80 dB range, the unit of
 * the notebook's step (1.5 on images of 0..255) carried over to the
 * spectrogram pictures dream writes (80 dB of colour scale): one level is
 * 80/255 = 0.31 dB, and one step changes the spectrogram by `step` levels on
 * average (mean absolute change over all cells, measured in dB after
 * un-standardising), in the direction of the gradient in the network's
 * (standardised) input space. The default 1.5 levels = 0.47 dB per step; on
 * UrbanSound8K with a trained seed model, 40 default steps change a clip by
 * about 11 dB on average: clearly dreamed, the input still recognisable.
 * (The same 1.5 read as dB changed clips by about 30 dB, burying them.)
 *
 * Buffers: log-mel spectrograms are (n_mels, frames) row-major, band 0 lowest,
 * as dsp.h computes them; "standardised" means sono_classifier_standardize.
 * Nothing here prints or exits; errors come back through sono_error. */
#ifndef SONODREAM_DREAM_H
#define SONODREAM_DREAM_H

#include <stdint.h>

#include "sonodream/classifier.h"
#include "sonodream/error.h"
#include "sonodream/nn.h"

#include "sonodream/export.h"

SONO_BEGIN_DECLS

/* One level of the step's unit, in dB: 80 dB over 255 levels. */
#define SONO_DREAM_LEVEL_DB (80.0 / 255.0)

typedef enum sono_dream_objective {
    SONO_DREAM_LAYER = 0, /* mean of the squared activations of a layer (DeepDream's L2) */
    SONO_DREAM_CHANNEL,   /* mean activation of one channel (conv) or unit (dense) of a layer */
    SONO_DREAM_CLASS      /* one class's logit (layer "logits", before softmax) */
} sono_dream_objective;

/* "layer", "channel", "class". */
const char *sono_dream_objective_name(sono_dream_objective objective);

/* Called after each step with the objective measured at that step (before
 * its update); step counts from 1 to total. Return non-zero to stop: the
 * dream then fails with SONO_ERR_INTERRUPTED. */
typedef int (*sono_dream_progress_fn)(int step, int total, double objective, void *user);

typedef struct sono_dream_options {
    sono_dream_objective objective; /* SONO_DREAM_LAYER */
    int layer;              /* layer index; -1: sono_dream_default_layer (ignored for CLASS) */
    int channel;            /* CHANNEL: channel of `layer` (0-based) */
    int class_index;        /* CLASS: class (0-based) */
    int octaves;            /* 4 */
    double octave_scale;    /* 1.4: each coarser octave is 1/1.4 the size on both axes */
    int iterations;         /* 10 steps per octave */
    double step;            /* 1.5 levels (x SONO_DREAM_LEVEL_DB dB) mean absolute change per step */
    int jitter;             /* 32: roll along time by up to +-32 frames (same at every octave) */
    double smooth;          /* 0: Gaussian blur of the gradient, sigma in cells (0 = off) */
    double overlap;         /* 0.5: overlap of consecutive windows, in [0, 0.9] */
    double headroom_db;     /* 20: clip to [log floor, input max + 20 dB] */
    uint64_t seed;          /* 1: drives the jitter; same seed, same dream, bit for bit */
    sono_dream_progress_fn progress; /* NULL */
    void *progress_user;
} sono_dream_options;

void sono_dream_defaults(sono_dream_options *opt);

/* DeepDream's usual layer when none is named: the middle convolution
 * (conv((n + 1) / 2) of n convolutions: conv3 of the seed preset), or the
 * last layer before "logits" when the net has no convolution. */
int sono_dream_default_layer(const sono_net *net);

/* 1 when layers 0..layer include flatten or dense: the forward pass then
 * needs exactly the window the net was built for. */
int sono_dream_needs_full_window(const sono_net *net, int layer);

typedef struct sono_dream_report {
    int layer;               /* index of the layer the objective was measured at */
    int steps;               /* octaves * iterations */
    double *objective;       /* (steps) objective at each step, before its update; malloc'd */
    double objective_before; /* objective of the input (full resolution, no jitter) */
    double objective_after;  /* objective of the dream, measured the same way */
    int windows;             /* windows at full resolution */
    double clip_low_db, clip_high_db; /* the range values were clipped to */
    double mean_change_db;   /* mean |dream - input| in dB over all cells */
} sono_dream_report;

/* Free the report's arrays (not the struct); safe on a zeroed report. */
void sono_dream_report_free(sono_dream_report *r);

/* Dream: gradient ascent on a standardised log-mel `input` (n_mels, frames),
 * n_mels = the classifier's, frames >= 1 (any length; windows of the net's
 * width are used and cross-faded). Writes the dreamed standardised log-mel to
 * `out` (n_mels, frames; may not alias input). `report` (may be NULL) gets
 * the objective curve; free it with sono_dream_report_free. The net's
 * max_batch windows go through the net in one call. All memory is allocated
 * once per dream; the steps allocate nothing. Uses the net's buffers, so one
 * classifier runs one dream at a time. */
sono_status sono_dream_run(sono_classifier *c, const float *input, int frames,
                           const sono_dream_options *opt, float *out, sono_dream_report *report,
                           sono_error *err);

/* The objective of a standardised log-mel (n_mels, frames) as sono_dream_run
 * measures objective_before/after: windows at full resolution, no jitter,
 * averaged over windows. opt supplies objective, layer, channel, class and
 * overlap. */
sono_status sono_dream_objective_value(sono_classifier *c, const float *input, int frames,
                                       const sono_dream_options *opt, double *value, sono_error *err);

/* ---- back to sound ---- */

typedef struct sono_dream_audio_options {
    int griffin_lim_iterations; /* 64 */
    double momentum;            /* 0.99 (fast Griffin-Lim) */
    int hop_divisor;            /* 0: sono_dream_hop_divisor (overlap >= 75 %); else hop / N */
    int nnls_iterations;        /* 0: sono_mel_to_linear_nnls's default */
    uint64_t seed;              /* random initial phase when there is no phase source */
    int out_rate;               /* 0: the model's rate; else resampled (libsoxr) */
    double peak_dbfs;           /* -1: peak normalised to -1 dBFS; NAN: left as is */
} sono_dream_audio_options;

void sono_dream_audio_defaults(sono_dream_audio_options *opt);

/* The smallest divisor d of the hop that gives frames overlapping by at
 * least 75 % (hop / d <= n_fft / 4): 2 for n_fft 1024, hop 512. Measured on
 * UrbanSound8K clips (log-mel -> NNLS -> 64 Griffin-Lim iterations -> audio,
 * compared with the original at hop 128), 50 % overlap leaves 1.6 to 2.0 dB
 * mean error, 75 % 1.2 to 1.7 dB, and 87.5 % no better than 75 %. */
int sono_dream_hop_divisor(const sono_feature_config *cfg);

typedef struct sono_dream_audio_report {
    double convergence;   /* final spectral convergence of Griffin-Lim (at the synthesis hop) */
    int synthesis_hop;    /* samples */
    int synthesis_frames;
    int sample_rate;      /* of the output */
} sono_dream_audio_report;

/* A standardised log-mel (n_mels, frames) -> n samples of sound at the
 * model's rate: un-standardise, dB -> mel power, linear power by NNLS,
 * magnitude, interpolated along time to the synthesis hop, phase by fast
 * Griffin-Lim started from the STFT phase of `phase_source` (n samples, e.g.
 * the input that was dreamed; NULL for a random start). frames must be
 * sono_feature_frames(features, n). Then resampled to out_rate and peak
 * normalised. *out (malloc'd, *n_out samples: round(n * out_rate / rate))
 * is the caller's to free. report may be NULL. */
sono_status sono_dream_to_audio(const sono_classifier *c, const float *logmel_std, int frames,
                                const float *phase_source, int64_t n,
                                const sono_dream_audio_options *opt, float **out, int64_t *n_out,
                                sono_dream_audio_report *report, sono_error *err);

/* White Gaussian noise of `seconds` at the model's rate whose log-mel
 * averages level_db (e.g. -40) over all cells: a neutral start for a dream.
 * *out (malloc'd, *n samples) is the caller's. Deterministic for a seed. */
sono_status sono_dream_noise(const sono_feature_config *cfg, double seconds, double level_db,
                             uint64_t seed, float **out, int64_t *n, sono_error *err);

/* ---- helpers (public for tests and tools) ---- */

/* Bilinear resize of src (sh, sw) to dst (dh, dw) with half-pixel centres
 * (PyTorch's interpolate(mode="bilinear", align_corners=False) without
 * antialiasing); edges clamp. dst may not alias src. */
void sono_dream_resize(const float *src, int sh, int sw, float *dst, int dh, int dw);

/* Gaussian blur of x (h, w) in place, sigma in cells (<= 0: nothing), edges
 * clamped. tmp holds h*w floats. */
void sono_dream_blur(float *x, int h, int w, double sigma, float *tmp);

SONO_END_DECLS
#endif
