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
 * Inputs of any length are dreamed through overlapping windows whose
 * gradients are cross-faded with a Hann-shaped weight, so there is no seam
 * where windows meet; they overlap by `overlap` of the built width (50 % by
 * default). An objective behind a flatten or dense layer sees windows of the
 * width the network was built for; a convolutional one takes any width, so
 * its windows are as wide as the network's buffers hold (sono_net_max_width)
 * and a long input is dreamed in few pieces, a short one in one.
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

/* Windows per network call when dreaming (the max_batch every client loads
 * its models with: the CLI's dream, the server's workers, the atlas, the
 * Python package), so that their dreams are the same bit for bit; the conv
 * kernels run one window per thread. */
#define SONO_DREAM_MAX_BATCH 8

/* The largest seed a client takes: 2^53 - 1, exact as a JSON number. */
#define SONO_DREAM_SEED_MAX 9007199254740991LL

/* The level of the white noise a dream from noise starts from (`dream
 * --noise`, Model.noise): its log-mel averages this many dB. */
#define SONO_DREAM_NOISE_LEVEL_DB (-40.0)

typedef enum sono_dream_objective {
    SONO_DREAM_LAYER = 0, /* mean of the squared activations of a layer (DeepDream's L2) */
    SONO_DREAM_CHANNEL,   /* mean activation of one channel (conv) or unit (dense) of a layer */
    SONO_DREAM_CLASS,     /* one class's logit (layer "logits", before softmax) */
    SONO_DREAM_GUIDE,     /* another recording's features at a layer (opt.guide; see sono_dream_guide_new) */
    SONO_DREAM_GRAM       /* another recording's texture: its Gram matrices at layers (opt.gram) */
} sono_dream_objective;

/* An example's texture as layers hear it (sono_dream_gram_new). */
typedef struct sono_dream_gram sono_dream_gram;

/* A guide: another recording as a layer hears it (sono_dream_guide_new). */
typedef struct sono_dream_guide sono_dream_guide;

/* "layer", "channel", "class", "guide", "texture". */
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
    /* Transformation robustness (Olah et al. 2017; Athalye et al. 2018):
     * each step, besides the time roll, the networks hear the picture
     * shifted by up to +-band_shift mel bands (the edge bands held; at a
     * coarser octave the shift is scaled to its bands), with a gain drawn
     * from [-gain_db, gain_db] dB added to every cell, and Gaussian noise of
     * noise_db dB (sigma) added to each cell. The gradient is taken back
     * through the same transformation. Drawn from `seed`: same seed, same
     * dream. 0: off. */
    int band_shift;         /* 0 */
    double gain_db;         /* 0 */
    double noise_db;        /* 0 */
    /* An ensemble: further models that dream with the one the call is
     * given; the ascent climbs the mean of every model's objective, each
     * model hearing through its own standardisation (log-mel ascent) or its
     * own front end (waveform ascent). A class objective takes each model's
     * class of the same name; layer and channel objectives each model's
     * layer of the same name. The log-mel ascent (sono_dream_run, the mask
     * and Griffin-Lim renders) needs every model on the first one's feature
     * configuration; the waveform ascent (the wave render) takes models on
     * any. Each model runs one dream at a time. NULL / 0: one model. */
    sono_classifier *const *ensemble;
    int ensemble_count;
    /* GUIDE (DeepDream's "controlling dreams"): each position of the
     * layer's output (a vector of its channels at one row and column) is
     * pulled toward the guide position it resembles most, i.e. the ascent
     * climbs the mean over positions of the largest dot product with any
     * guide position. The guide must have been heard by this classifier at
     * the dream's layer; a guided dream takes no ensemble. With
     * guide_same_row, a position is matched only with the guide's positions
     * on the same row of the layer's output (the same band of frequencies,
     * scaled to the octave): the guide's features keep their pitch. */
    const sono_dream_guide *guide; /* NULL */
    int guide_same_row;            /* 0 (the request's default: 1) */
    /* GRAM (texture and style; Gatys et al. 2015): every window of the
     * dream climbs -sum over the example's layers of w |G - T|^2 / |T|^2,
     * G the window's Gram matrix (its channels' correlations over
     * positions), T the example's. The layers are the example's; `layer`
     * is ignored. A texture dreams from noise; a style from the content,
     * held by content_weight: each step also climbs
     * -content_weight * mean over cells of (dB change)^2 (a pull
     * toward the recording the ascent started from; 0: none). Reported
     * objectives are the Gram part. One model (no ensemble). */
    const sono_dream_gram *gram;   /* NULL */
    double content_weight;         /* 0 */
    /* The step at the last step of the ascent, the steps between shrinking
     * geometrically from `step`: an objective with a minimum to settle in
     * (a texture's Gram error) needs smaller steps as it nears it, where a
     * step of fixed size circles around it. 0: every step is `step`. */
    double step_final;             /* 0 */
} sono_dream_options;

/* Models an ensemble may hold besides the first. */
#define SONO_DREAM_MAX_ENSEMBLE 7

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

/* Free the report's arrays (not the struct); safe on a zeroed report. NULL is a no-op. */
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


/* ==== the one call: a recording in, the dreamed recording out ====
 *
 * Everything that dreams (the CLI's dream, the server, the atlas, the Python
 * package) goes through sono_dream_stream or sono_dream_recording: a decoded
 * recording at any rate and channel count in, the dream at the same rate,
 * channels and length out, plus what was done (sono_dream_result).
 *
 * Renders (how the dream becomes sound):
 *   WAVE         the ascent moves the recording's own samples: the
 *                objective's gradient is carried from the network's input
 *                back through standardisation, dB, mel, power, STFT, the
 *                resampling to the model's rate and the downmix
 *                (sono_frontend). There is no phase to reconstruct, and the
 *                output's log-mel is the one the ascent ended with.
 *   MASK         (the default) the ascent runs on the log-mel
 *                (sono_dream_run); its change, in dB per mel band and frame,
 *                becomes a gain on each channel's STFT at the recording's
 *                own rate, keeping the input's phase; mel power the gain
 *                cannot reach (no energy there) is synthesised as noise of
 *                that spectrum. Bins above the model's fmax pass unchanged.
 *                A mel dream is partly unreachable by any sound (a cell
 *                cannot dip below its overlapping neighbours), so the ascent
 *                then settles: `settle_steps` more steps in the waveform
 *                domain (as WAVE, at full resolution) from the rendered
 *                recording. The ascent thus ends on samples, and the
 *                output's log-mel is the one it ended with.
 *   GRIFFIN_LIM  the ascent on the log-mel, then NNLS mel inversion and fast
 *                Griffin-Lim at the model's rate (sono_dream_to_audio), then
 *                resampled to the recording's rate on every channel.
 * Long recordings are dreamed in segments (segment_seconds, overlapping by
 * SONO_DREAM_SEGMENT_OVERLAP seconds, cross-faded), so memory is bounded by
 * the segment, not the recording. The recording's level is kept; where the
 * dream would exceed `ceiling`, a smooth gain turns the dream's part down
 * (the input itself is never changed). */

typedef enum sono_dream_render {
    SONO_RENDER_WAVE = 0,
    SONO_RENDER_MASK,
    SONO_RENDER_GRIFFIN_LIM
} sono_dream_render;

/* "wave", "mask", "griffin-lim"; parse returns 0 for an unknown name. */
const char *sono_dream_render_name(sono_dream_render render);
int sono_dream_render_parse(const char *name, sono_dream_render *render);

/* Stereo (and more channels) in the wave render: JOINT dreams the downmix
 * the network hears, and every channel gets the same change (the stereo
 * image of the recording is kept, the dream's part is centred); PER_CHANNEL
 * dreams each channel on its own (the dream's part differs between channels;
 * costs one ascent per channel). Mask and Griffin-Lim are joint. */
typedef enum sono_dream_stereo { SONO_STEREO_JOINT = 0, SONO_STEREO_PER_CHANNEL } sono_dream_stereo;

#define SONO_DREAM_SEGMENT_OVERLAP 4.0 /* seconds two segments share (a window of the seed model) */

/* Where samples come from: random access to (frames, channels) interleaved
 * float samples. read fills count frames starting at `start` (0 <= start,
 * start + count <= frames) and returns SONO_OK or fails with a message. */
typedef struct sono_audio_source {
    int sample_rate;
    int channels;
    int64_t frames;
    sono_status (*read)(void *user, int64_t start, int64_t count, float *dst, sono_error *err);
    void *user;
} sono_audio_source;

/* Where the dream goes: write is called with consecutive blocks, in order,
 * of (count, channels) interleaved samples at the output's rate. */
typedef struct sono_audio_sink {
    sono_status (*write)(void *user, const float *samples, int64_t count, sono_error *err);
    void *user;
} sono_audio_sink;

typedef struct sono_dream_request {
    sono_dream_options ascent;      /* objective, octaves, steps, jitter, seed, progress (see above) */
    sono_dream_render render;       /* SONO_RENDER_MASK (README: "Which render") */
    sono_dream_stereo stereo;       /* SONO_STEREO_JOINT */
    int out_rate;                   /* 0: the recording's own rate; else the recording is resampled first */
    int mono;                       /* 1: the recording is downmixed first (one channel out) */
    double ceiling;                 /* 1.0: largest output magnitude the limiter allows */
    double segment_seconds;         /* 60: longer recordings are dreamed in segments of this length */
    sono_dream_audio_options griffin_lim; /* GRIFFIN_LIM only (out_rate and peak_dbfs are ignored) */
    int keep_spectrograms;          /* 1: result->input_db, dream_db and output_db are filled */
    int settle_steps;               /* 5: MASK only, waveform-domain steps after the render (0: none) */
} sono_dream_request;

/* The request's ascent differs from sono_dream_defaults in four ways,
 * chosen by an independent listener (README, "Which render"): the gradient
 * is blurred (smooth 1 cell), which keeps the dream off the single cells the
 * network alone reacts to; each step the network hears the picture shifted
 * by up to 4 mel bands (band_shift 4), so what the dream draws must survive
 * a small change of pitch; the step is 3 levels; and no cell may rise more
 * than 3 dB above the recording's loudest (headroom_db 3), so the dream
 * reshapes the recording instead of drowning it. A dream from noise wants
 * the old 20 dB: the noise is a floor to build on (dream --noise does
 * that). */

void sono_dream_request_defaults(sono_dream_request *req);

/* A texture's request (the GRAM objective; opt.gram still to set): one
 * octave of 40 steps shrinking from 2 to 0.2 levels, no blur and no band
 * shift (a Gram error has a minimum to settle in: blur and shifts kept the
 * ascent circling 10x above it), headroom 20 dB (it starts from noise). A
 * style's is the same with the recording's 3 dB headroom and
 * content_weight 1 / SONO_DREAM_STYLE_WEIGHT. */
#define SONO_DREAM_STYLE_WEIGHT 100.0
void sono_dream_texture_defaults(sono_dream_request *req);
void sono_dream_style_defaults(sono_dream_request *req);

typedef struct sono_dream_result {
    sono_dream_render render;
    int layer;                /* index of the layer the objective was measured at */
    int sample_rate, channels;/* of the output */
    int64_t frames;           /* of the output (= the input's, at the output's rate) */
    int segments;
    int windows;              /* network windows per step at full resolution, all segments */
    int steps;                /* octaves * iterations (per segment) */
    double *objective;        /* (steps) the objective at each step, averaged over segments; malloc'd */
    double objective_before;  /* of the input (full resolution, no jitter), frame-weighted over segments */
    double objective_after;   /* of the ascent's final log-mel, measured the same way */
    double mean_change_db;    /* mean |dream - input| over log-mel cells, dB */
    double consistency_db;    /* mean |dB| between the log-mel of the written samples and the
                                 ascent's final log-mel, cells within 80 dB of the peak */
    double limited_share;     /* share of output frames where the limiter turned the dream down */
    double convergence;       /* GRIFFIN_LIM: mean spectral convergence; otherwise 0 */
    int spec_frames;          /* model-rate log-mel frames of the whole recording */
    int n_mels;
    float *input_db;          /* (n_mels, spec_frames) dB of the input; when keep_spectrograms */
    float *dream_db;          /* (n_mels, spec_frames) the ascent's final log-mel, dB */
    float *output_db;         /* (n_mels, spec_frames) the log-mel of the output samples, dB */
} sono_dream_result;

/* Free the result's arrays (not the struct); safe on a zeroed result. NULL is a no-op. */
void sono_dream_result_free(sono_dream_result *r);

/* Dream a recording from `in` into `out`. Output: in->frames frames (at the
 * output rate: round(frames * out_rate / rate) when out_rate is given), the
 * recording's channels (1 with mono), written in order through out->write.
 * The same request and input give bit-identical output. Memory: a few
 * copies of one segment plus, with keep_spectrograms, the whole recording's
 * log-mel at the model's rate. Progress: req->ascent.progress is called
 * after every step with the step counted over all segments; non-zero stops
 * the dream with SONO_ERR_INTERRUPTED. result may be NULL. */
sono_status sono_dream_stream(sono_classifier *c, const sono_audio_source *in, const sono_dream_request *req,
                              const sono_audio_sink *out, sono_dream_result *result, sono_error *err);

/* A decoded recording in memory. */
typedef struct sono_recording {
    float *samples;   /* (frames, channels) interleaved */
    int64_t frames;
    int channels;
    int sample_rate;
} sono_recording;

/* Free samples (malloc'd by the library) and zero the struct. NULL is a no-op. */
void sono_recording_free(sono_recording *r);

/* ---- guides (the GUIDE objective) ---- */

/* A guide, or a texture's example, is heard through windows of the net's
 * built width spread evenly over its first SONO_DREAM_EXAMPLE_SECONDS; a
 * guide through at most SONO_DREAM_GUIDE_WINDOWS of them, so the match's
 * cost does not grow with its length. */
#define SONO_DREAM_GUIDE_WINDOWS 16
#define SONO_DREAM_EXAMPLE_SECONDS 120.0

/* The guide's positions at `layer` (-1: sono_dream_default_layer) from its
 * standardised log-mel (n_mels, frames), frames >= the net's built width
 * (one window). Uses the classifier's net: not while it dreams. *out is
 * freed with sono_dream_guide_free. */
sono_status sono_dream_guide_new(sono_classifier *c, const float *logmel_std, int frames, int layer,
                                 sono_dream_guide **out, sono_error *err);

/* The same from a decoded recording at any rate and channel count (heard
 * as the dream hears one: resampled to the model's rate and downmixed);
 * only its first SONO_DREAM_EXAMPLE_SECONDS are heard. */
sono_status sono_dream_guide_from_recording(sono_classifier *c, const sono_recording *guide, int layer,
                                            sono_dream_guide **out, sono_error *err);

/* The same from an audio file (any format the decoder reads); errors name
 * the file. */
sono_status sono_dream_guide_load(sono_classifier *c, const char *path, int layer, sono_dream_guide **out,
                                  sono_error *err);

/* NULL is a no-op. */
void sono_dream_guide_free(sono_dream_guide *g);

/* The layer it was heard at; the positions kept (-1 and 0 for NULL). */
int sono_dream_guide_layer(const sono_dream_guide *g);
int sono_dream_guide_positions(const sono_dream_guide *g);

/* ---- textures and styles (the GRAM objective) ---- */

#define SONO_DREAM_GRAM_MAX_LAYERS 8

/* An example's Gram matrices at `layers` (increasing indices of layers
 * before flatten) with `weights` (> 0), count of them; layers NULL: every
 * convolution, weight 1. From its standardised log-mel (n_mels, frames),
 * frames >= the net's built width: the mean over non-overlapping windows
 * spread over it of each window's Y Y^T / P. A silent example (a zero
 * Gram) is refused. Uses the classifier's net: not while it dreams. */
sono_status sono_dream_gram_new(sono_classifier *c, const float *logmel_std, int frames, const int *layers,
                                const double *weights, int count, sono_dream_gram **out, sono_error *err);

/* The same from a recording at any rate and channel count (its first
 * SONO_DREAM_EXAMPLE_SECONDS), or from a file (errors name it). */
sono_status sono_dream_gram_from_recording(sono_classifier *c, const sono_recording *example, const int *layers,
                                           const double *weights, int count, sono_dream_gram **out,
                                           sono_error *err);
sono_status sono_dream_gram_load(sono_classifier *c, const char *path, const int *layers, const double *weights,
                                 int count, sono_dream_gram **out, sono_error *err);

/* NULL is a no-op. */
void sono_dream_gram_free(sono_dream_gram *g);

/* Where a texture starts: `seconds` of noise at the example's rate, one
 * independent noise per channel, each shaped to its channel's mean power
 * spectrum (STFT of about 40 ms), so the bands above the model's fmax,
 * which the dream leaves as they are, have the example's colour too. The
 * first SONO_DREAM_EXAMPLE_SECONDS of the example are measured, in chunks.
 * out->samples is malloc'd. Deterministic for a seed. */
sono_status sono_dream_texture_start(const sono_recording *example, double seconds, uint64_t seed,
                                     sono_recording *out, sono_error *err);

/* Its layers and weights into the arrays (either may be NULL; room for
 * SONO_DREAM_GRAM_MAX_LAYERS); returns how many (0 for NULL). */
int sono_dream_gram_layers(const sono_dream_gram *g, int *layers, double *weights);

/* sono_dream_stream from and to memory: out->samples is malloc'd. */
sono_status sono_dream_recording(sono_classifier *c, const sono_recording *in, const sono_dream_request *req,
                                 sono_recording *out, sono_dream_result *result, sono_error *err);

/* ---- the report of a dream and the description of a model, as JSON ----
 *
 * Built here once for every client: the CLI (dream's OUT.json, layers
 * --json), the server (a job's report, GET /api/models), the atlas (an
 * item's result) and the Python package (Model.dream's report, Model's
 * classes and layers); each adds only its own keys (file names, job id,
 * timing). The *_add_json calls append the keys to a cJSON object the caller
 * made (declared here as struct cJSON, from <cjson/cJSON.h>), after any keys
 * it already holds; they return 0 when out of memory (the object may then
 * hold part of the keys). The *_to_json calls return the keys alone as
 * malloc'd JSON text (free it with free()), or NULL when out of memory, with
 * every number exact (the shortest of 15 to 17 digits that reads back the
 * same double; cJSON_Print writes 15 digits when they read back within an
 * ulp): the text is for bindings, which take the library's numbers as they
 * are (the Python package). Non-finite numbers are null. */
struct cJSON;

/* A dream's report: the objective (objective, layer: the name of the layer
 * it was measured at, channel, class; null when not that objective), what
 * the request asked (render, stereo, mono, ceiling, segment_seconds,
 * settle_steps, octaves, octave_scale, iterations, step, step_db, jitter,
 * smooth, headroom_db, overlap, shift_bands, gain_jitter_db,
 * noise_jitter_db, guide_same_row, seed; for Griffin-Lim griffin_lim_iterations,
 * griffin_lim_momentum, hop_divisor and spectral_convergence) and what came
 * out (sample_rate, channels, samples, frames: log-mel frames, segments,
 * windows, objective_before, objective_after, mean_change_db,
 * consistency_db, limited_share, objective_per_step). `c` is the model that
 * dreamed, req and r the request and result of sono_dream_stream or
 * sono_dream_recording. The names of an ensemble's members and of a guide
 * are the caller's (the CLI's paths): it adds them ("ensemble", "guide"). */
int sono_dream_result_add_json(struct cJSON *into, const sono_classifier *c, const sono_dream_request *req,
                               const sono_dream_result *r);
char *sono_dream_result_to_json(const sono_classifier *c, const sono_dream_request *req, const sono_dream_result *r);

/* What a model offers to dream with: arch (sono_net_spec), input_shape
 * [channels, mel bands, frames], classes, layers (each: index, name, type,
 * output_shape [C, H, W] for one window, channels, needs_full_window),
 * default_layer (sono_dream_default_layer's name), sample_rate, features
 * (sono_feature_config_to_json) and defaults (of sono_dream_request_defaults:
 * objective, octaves, iterations, step, seed, render). */
int sono_dream_model_add_json(struct cJSON *into, const sono_classifier *c);
char *sono_dream_model_to_json(const sono_classifier *c);

/* ---- helpers (public for tests and tools) ---- */

/* Bilinear resize of src (sh, sw) to dst (dh, dw) with half-pixel centres
 * (PyTorch's interpolate(mode="bilinear", align_corners=False) without
 * antialiasing); edges clamp. dst may not alias src. */
void sono_dream_resize(const float *src, int sh, int sw, float *dst, int dh, int dw);

/* The transpose of sono_dream_resize: src_grad (sh, sw, overwritten) from
 * dst_grad (dh, dw). */
void sono_dream_resize_adjoint(const float *dst_grad, int dh, int dw, float *src_grad, int sh, int sw);

/* Gaussian blur of x (h, w) in place, sigma in cells (<= 0: nothing), edges
 * clamped. tmp holds h*w floats. */
void sono_dream_blur(float *x, int h, int w, double sigma, float *tmp);

SONO_END_DECLS
#endif
