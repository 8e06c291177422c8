/* dream internals shared by the ascent on log-mel (dream.c), the ascent on
 * waveforms (wave_ascent.c) and the one call for recordings
 * (dream_recording.c). The state and the gradient are in dream_state.c,
 * below all of them and the ensemble. Not part of the public API. */
#ifndef SONO_DREAM_INTERNAL_H
#define SONO_DREAM_INTERNAL_H

#include <stdint.h>

#include "core/core_internal.h"
#include "sonodream/dream.h"

#define DREAM_MAX_OCTAVES 32

typedef struct objective_ctx {
    sono_dream_objective kind;
    int channel, class_index;
    const sono_dream_guide *guide; /* GUIDE (guide.c) */
    int same_row;
    const sono_dream_gram *gram;   /* GRAM (gram.c) */
    float *scratch;                /* GUIDE: the dot products of one block of positions; GRAM: one C x C */
} objective_ctx;

/* An example's Gram matrices (gram.c). */
struct sono_dream_gram {
    const sono_net *net; /* the net that heard it */
    int count;
    int layers[SONO_DREAM_GRAM_MAX_LAYERS];
    double weights[SONO_DREAM_GRAM_MAX_LAYERS];
    int channels[SONO_DREAM_GRAM_MAX_LAYERS];
    float *target[SONO_DREAM_GRAM_MAX_LAYERS]; /* (C, C) the mean of the example's windows' Y Y^T / P */
    double norm[SONO_DREAM_GRAM_MAX_LAYERS];   /* |target|^2 */
};

/* ---- another recording as the net hears it (example.c) ---- */

/* 1 when no cell of a standardised log-mel (n_mels, frames) rises more
 * than SILENCE_DB above the log floor: nothing to hear. */
#define SILENCE_DB 1.0
int dream_is_silent(const sono_classifier *c, const float *logmel_std, int frames);

/* The width of the windows another recording of `frames` is heard through
 * at layers up to `layer`: the net's built width; or, when it is shorter
 * and those layers are convolutional (they take any width), its own, down
 * to 1/SHORTEST_SHARE of the built width (a 4-s clip and the shipped
 * model's 4.03-s window). 0 with err set, naming `what`, when too short. */
#define SHORTEST_SHARE 4
int dream_hearing_width(const sono_classifier *c, int layer, int frames, const char *what, sono_error *err);

/* Start of window i of `windows` of width W spread evenly over `frames`. */
int dream_spread_window_start(int i, int windows, int frames, int W);

/* The standardised log-mel of rec's first SONO_DREAM_EXAMPLE_SECONDS
 * (*logmel_std malloc'd, (n_mels, *frames)). */
sono_status dream_hear_recording(sono_classifier *c, const sono_recording *rec, float **logmel_std, int *frames,
                                 sono_error *err);

/* A file's first SONO_DREAM_EXAMPLE_SECONDS into rec (rec->samples malloc'd). */
sono_status dream_read_heard_part(const char *path, sono_recording *rec, sono_error *err);

/* A guide as heard at one layer (guide.c): every position's vector of the
 * layer's channels, grouped by row of the layer's output. */
struct sono_dream_guide {
    const sono_net *net; /* the net that heard it */
    int layer;
    int channels;        /* C */
    int rows;            /* rows of the layer's output at full resolution */
    int count;           /* positions */
    float *features;     /* (count, C) */
    int *row_start;      /* (rows + 1): row r's positions are [row_start[r], row_start[r + 1]) */
};

/* Check the guide against the dream's net and layer and make the match's
 * scratch (freed by dream_free). */
sono_status dream_guide_init(objective_ctx *o, const sono_dream_options *opt, const sono_net *net, int layer,
                             sono_error *err);

/* The guide objective of one window's output y (shape), its gradient into d. */
double dream_guide_top_grad(const objective_ctx *o, const float *y, float *d, sono_shape shape);

/* Check the example against the dream's net and make the scratch (gram.c). */
sono_status dream_gram_init(objective_ctx *o, const sono_dream_options *opt, const sono_net *net, sono_error *err);

/* The Gram objective at layer `which` of the example (sono_layer_grad_fn). */
double dream_gram_layer_grad(int which, float *dout, const float *out, int batch, sono_shape shape, void *user);

/* ---- the dream's state, allocated once ---- */

typedef struct octave {
    int h, t;       /* spectrogram: mel rows, frames */
    int ww;         /* window width in frames at this octave */
    int hop;        /* between window starts */
    int ramp;       /* frames two windows share (cross-faded) */
    int per_call;   /* windows per network call (1 for a wide window) */
    int windows;
    float *base;    /* (h, t) the input at this octave */
    float *std;     /* (h) dB per standardised unit, for the step's dB scale */
    float *lo, *hi; /* (h) clip bounds, standardised */
    float *pad;     /* (h) silence (the log floor), standardised: fills short windows */
} octave;

typedef struct dream {
    sono_classifier *c;
    sono_net *net;
    sono_dream_options opt;
    objective_ctx obj;
    int layer, full;  /* full: the net needs its built window (dense part) */
    int H, W;         /* the net's input: mel bands, frames */
    int batch;        /* windows per net call */
    int noct;
    octave oct[DREAM_MAX_OCTAVES];
    float *mem;       /* one allocation for everything below and the octaves */
    float *x;         /* (H, T) current image */
    float *detail;    /* (H, T) */
    float *grad;      /* (H, T) */
    float *tmp;       /* (H, T) */
    float *wsum;      /* (T) summed cross-fade weight per frame */
    float *fade;      /* (W) cross-fade weight of one window */
    float *bin;       /* (batch, 1, H, W) net input */
    float *bgrad;     /* (batch, 1, H, W) input gradient */
    float *win;       /* (H, W) one window before / after resizing (full mode) */
    float *seen;      /* (H, T) the picture as transformed for one step */
    /* Log-mel ensembles (ensemble.c): the other models' states, on the same
     * feature configuration; a picture x in this model's standardisation is
     * x * conv_scale + conv_shift in member i's (per band, per octave). */
    int members;
    struct dream *member;       /* (members) */
    float *conv[DREAM_MAX_OCTAVES]; /* (members, 2, h) scale then shift rows per member */
} dream;

/* Check the options, plan the octaves for T frames and allocate every buffer
 * (one allocation). Pair with dream_free. */
sono_status dream_init(dream *d, sono_classifier *c, const sono_dream_options *opt, int T, sono_error *err);
void dream_free(dream *d);

/* Octave bases (successive resizes of input) and per-band clip bounds. */
void dream_prepare(dream *d, const float *input, double lo_db, double hi_db, double floor_db);

/* Gradient of the objective at x (o->h, o->t) into d->grad (same shape),
 * x rolled by `roll` frames and the gradient rolled back; windows batched
 * and cross-faded. *objective: mean over windows. backward = 0: the
 * objective only. */
sono_status dream_gradient(dream *d, const octave *o, const float *x, int roll, int backward, double *objective,
                           sono_error *err);

/* ---- ensembles (ensemble.c) ---- */

/* Options for `member` dreaming with `lead` (whose objective is measured at
 * lead_layer): the class of the same name, or the layer of the same name;
 * no further ensemble. Fails naming what the member lacks. */
sono_status dream_member_options(const sono_classifier *lead, int lead_layer, const sono_dream_options *opt,
                                 const sono_classifier *member, sono_dream_options *out, sono_error *err);

/* The log-mel ensemble of d (opt->ensemble): every model on d's feature
 * configuration, planned for T frames. After dream_init; dream_free frees it. */
sono_status dream_members_init(dream *d, const sono_dream_options *opt, int T, sono_error *err);

/* After dream_prepare(d, ...): the members' clip bounds and conversions. */
void dream_members_prepare(dream *d, double floor_db);

/* dream_gradient over the ensemble: the mean objective, and the mean of the
 * members' gradients taken back to d's standardisation, into d->grad. */
sono_status dream_ensemble_gradient(dream *d, int k, const float *x, int roll, int backward, double *objective,
                                    sono_error *err);

/* ---- transformation robustness (transform.c) ---- */

typedef struct dream_transform dream_transform;

/* One step's random transformation of what the networks hear. */
struct dream_transform {
    int roll;            /* frames along time (dream_gradient rolls) */
    int shift;           /* mel bands at full resolution (up: content moves to higher bands) */
    double gain_db;
    uint64_t noise_seed; /* 0: no noise */
};

/* One ascent step's gradient at x (octave k) into d->grad: every model of
 * the ensemble hears x transformed by tr, and the mean gradient is taken
 * back through the transformation. *objective: the mean objective. */
sono_status dream_step_gradient(dream *d, int k, const float *x, const dream_transform *tr, double *objective,
                                sono_error *err);

/* Draw the step's transformation from rng. The roll is drawn first and
 * alone when the other transformations are off, so dreams without them are
 * what they were. */
void dream_transform_draw(const sono_dream_options *opt, uint64_t *rng, dream_transform *t);

/* 1 when anything beyond the roll is applied. */
int dream_transform_active(const dream_transform *t);

/* seen = the transformed picture x (o->h, o->t) of a net with H bands at
 * full resolution; o->std converts dB to standardised units. */
void dream_transform_apply(const dream_transform *t, const sono_dream_options *opt, const octave *o, int H,
                           const float *x, float *seen);

/* The transpose of the shift on grad (o->h, o->t) in place (gain and noise
 * add constants: their transpose is the identity). tmp holds o->h * o->t. */
void dream_transform_adjoint(const dream_transform *t, const octave *o, int H, float *grad, float *tmp);

/* The objective's gradient at a layer's output (sono_top_grad_fn). */
double dream_objective_top_grad(float *dout, const float *out, int batch, sono_shape shape, void *user);

/* What one segment's ascent reports back to the recording call. */
typedef struct dream_segment_log dream_segment_log;
struct dream_segment_log {
    float *input;    /* (H, T) the input's standardised log-mel (filled by the ascent) */
    float *final;    /* (H, T) the ascent's final standardised log-mel */
    double *curve;   /* (steps) the objective at each step */
    double before, after;
    int windows, layer;
    /* Called after each step (1-based); non-zero stops the ascent. */
    int (*progress)(dream_segment_log *log, int step, double value);
    /* NULL, or called on the samples after each step's limiter, before they
     * are heard: a constraint the ascent keeps (the settle's headroom). */
    sono_status (*project)(dream_segment_log *log, float *x, sono_error *err);
    void *user;
};

/* The waveform-domain ascent (wave_ascent.c) on x (n, channels) in place,
 * with fe built for that rate, channel count and at least n frames; the
 * samples are kept within `ceiling` after every step (dream_limit), with
 * `base` (n, channels) as the recording the limiter keeps (NULL: x as it
 * comes in). */
sono_status dream_wave_ascent(sono_classifier *c, sono_frontend *fe, float *x, const float *base, int64_t n,
                              int channels, const sono_dream_options *opt, double ceiling, dream_segment_log *log,
                              sono_error *err);

/* The mask render (mask_render.c): x (n, channels) at `rate` gets, on each
 * channel's STFT at that rate, the gain gain_db (n_mels, frames) given per
 * model-rate mel band and frame; bins above the model's fmax keep gain 1.
 * room_db (channels, n_mels, frames), or NULL: no bin of a channel gains
 * more than the room of the bands it feeds, so no band of that channel
 * rises more than its room. out (n, channels) may alias x. */
sono_status dream_mask_apply(const sono_feature_config *cfg, const float *x, int64_t n, int channels, int rate,
                             const float *gain_db, const float *room_db, int frames, float *out, sono_error *err);

/* The limiter (limiter.c): out = base + g * delta, g in [0, 1] per frame,
 * smooth (10 ms), the largest such that |out| <= ceiling on every channel
 * wherever |base| <= ceiling. delta (n, channels) becomes out. Returns the
 * share of frames with g < 1. Its buffers are made once (init, for up to
 * `frames` frames), so a dream step allocates nothing. */
typedef struct dream_limiter {
    float *need, *low, *gain; /* (frames) */
    int64_t *deque;           /* (frames) */
    int64_t capacity;
} dream_limiter;

sono_status dream_limiter_init(dream_limiter *l, int64_t frames, sono_error *err);
void dream_limiter_free(dream_limiter *l);
double dream_limit(dream_limiter *l, const float *base, float *delta, int64_t n, int channels, int rate,
                   double ceiling);

/* The style's pull toward the content (opt.content_weight): adds to d->grad
 * the gradient of -content_weight * mean((dB change / CONTENT_DB)^2) of the
 * picture x at octave o against its base (gram.c). */
#define CONTENT_DB 1.0
void dream_content_pull(dream *d, const octave *o, const float *x);

/* The step (levels) at step i of total (0-based): opt->step shrinking
 * geometrically to opt->step_final, or opt->step throughout. */
double dream_step_at(const sono_dream_options *opt, int i, int total);

#endif
