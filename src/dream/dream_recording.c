/* The one dream call: a recording (any rate, any channels) in, the dreamed
 * recording at the same rate, channels and length out (dream.h).
 *
 * The recording is read segment by segment (segment_seconds, neighbours
 * sharing SONO_DREAM_SEGMENT_OVERLAP seconds); each segment is dreamed on
 * its own with the chosen render, limited, and written out as soon as its
 * overlap with the next one has been cross-faded, so memory follows the
 * segment, not the recording. Segment i's jitter seed is derived from
 * (seed, i); segment 0 uses the seed itself, so a short clip dreams exactly
 * as the log-mel dream of the same seed would see it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dream/dream_internal.h"
#include "sonodream/audio.h"
#include "sonodream/reconstruct.h"

#define PICTURE_RANGE_DB 80.0
#define MAX_CHANNELS 64

const char *sono_dream_render_name(sono_dream_render render) {
    switch (render) {
    case SONO_RENDER_WAVE: return "wave";
    case SONO_RENDER_MASK: return "mask";
    case SONO_RENDER_GRIFFIN_LIM: return "griffin-lim";
    }
    return "?";
}

int sono_dream_render_parse(const char *name, sono_dream_render *render) {
    for (int r = SONO_RENDER_WAVE; r <= SONO_RENDER_GRIFFIN_LIM; r++)
        if (name && strcmp(name, sono_dream_render_name((sono_dream_render)r)) == 0) {
            *render = (sono_dream_render)r;
            return 1;
        }
    return 0;
}

void sono_dream_request_defaults(sono_dream_request *req) {
    memset(req, 0, sizeof *req);
    sono_dream_defaults(&req->ascent);
    sono_dream_audio_defaults(&req->griffin_lim);
    req->render = SONO_RENDER_MASK; /* see README: strongest to an independent listener of the renders that keep the recording */
    req->stereo = SONO_STEREO_JOINT;
    req->ceiling = 1.0;
    req->segment_seconds = 60.0;
    req->keep_spectrograms = 1;
    req->settle_steps = 5;
    req->ascent.smooth = 1.0;
    req->ascent.step = 3.0;
    req->ascent.headroom_db = 3.0;
    req->ascent.band_shift = 4;
    req->ascent.guide_same_row = 1;
}

void sono_dream_texture_defaults(sono_dream_request *req) {
    sono_dream_request_defaults(req);
    sono_dream_options *a = &req->ascent;
    a->objective = SONO_DREAM_GRAM;
    a->octaves = 1, a->iterations = 40;
    a->step = 2.0, a->step_final = 0.2;
    a->smooth = 0, a->band_shift = 0;
    a->headroom_db = 20.0;
}

void sono_dream_style_defaults(sono_dream_request *req) {
    sono_dream_texture_defaults(req);
    sono_dream_request defaults;
    sono_dream_request_defaults(&defaults);
    req->ascent.headroom_db = defaults.ascent.headroom_db;
    req->ascent.content_weight = 1.0 / SONO_DREAM_STYLE_WEIGHT;
}

void sono_dream_result_free(sono_dream_result *r) {
    if (!r) return;
    free(r->objective), free(r->input_db), free(r->dream_db), free(r->output_db);
    r->objective = NULL, r->input_db = r->dream_db = r->output_db = NULL;
}

void sono_recording_free(sono_recording *r) {
    if (!r) return;
    free(r->samples);
    memset(r, 0, sizeof *r);
}

/* ---- sources that change the recording before the dream: --mono, --rate ---- */

typedef struct adapted_source {
    const sono_audio_source *in;
    int mono;
    sono_resampler *resampler; /* NULL: same rate */
    int out_rate;
    float *scratch;            /* input frames of one read */
    int64_t scratch_frames;
} adapted_source;

/* Input frames [first, first + count) of `in`, zeros outside, downmixed when
 * the adapter is mono, into dst (count, out channels). */
static sono_status read_padded(adapted_source *a, int64_t first, int64_t count, float *dst, sono_error *err) {
    const sono_audio_source *in = a->in;
    const int C = in->channels, out_c = a->mono ? 1 : C;
    int64_t lo = first < 0 ? 0 : first, hi = first + count > in->frames ? in->frames : first + count;
    if (a->scratch_frames < count) {
        float *p = realloc(a->scratch, (size_t)count * C * sizeof(float));
        if (!p) return sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory");
        a->scratch = p, a->scratch_frames = count;
    }
    memset(a->scratch, 0, (size_t)count * C * sizeof(float));
    if (hi > lo) {
        sono_status s = in->read(in->user, lo, hi - lo, a->scratch + (lo - first) * C, err);
        if (s != SONO_OK) return s;
    }
    for (int64_t i = 0; i < count; i++) {
        if (out_c == C) {
            memcpy(dst + i * C, a->scratch + i * C, (size_t)C * sizeof(float));
            continue;
        }
        double sum = 0;
        for (int c = 0; c < C; c++) sum += a->scratch[i * C + c];
        dst[i] = (float)(sum / C);
    }
    return SONO_OK;
}

/* Resampled reads: output frames [start, start + count) need the input
 * frames their filters reach, plus a margin. */
static sono_status adapted_read(void *user, int64_t start, int64_t count, float *dst, sono_error *err) {
    adapted_source *a = user;
    if (!a->resampler) return read_padded(a, start, count, dst, err);
    const int out_c = a->mono ? 1 : a->in->channels;
    const int64_t in_rate = a->in->sample_rate, out_rate = a->out_rate;
    const int64_t margin = 64 * (in_rate / out_rate + 2); /* beyond the filter's 32 periods each side */
    const int64_t first = start * in_rate / out_rate - margin;
    const int64_t last = (start + count) * in_rate / out_rate + margin;
    const int64_t n_in = last - first;
    float *block = malloc((size_t)n_in * out_c * sizeof(float)), *chan = malloc((size_t)n_in * sizeof(float));
    float *res = malloc((size_t)count * sizeof(float));
    sono_status s = block && chan && res ? read_padded(a, first, n_in, block, err)
                                         : sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory");
    for (int c = 0; s == SONO_OK && c < out_c; c++) {
        for (int64_t i = 0; i < n_in; i++) chan[i] = block[i * out_c + c];
        s = sono_resampler_forward_range(a->resampler, chan, first, n_in, res, start, count, err);
        for (int64_t i = 0; s == SONO_OK && i < count; i++) dst[i * out_c + c] = res[i];
    }
    free(block), free(chan), free(res);
    return s;
}

/* ---- the segments ---- */

typedef struct segment_plan {
    int64_t length, overlap, stride; /* frames */
    int count;
} segment_plan;

static void plan_segments(segment_plan *p, int64_t frames, int rate, double seconds) {
    p->length = (int64_t)llround(seconds * rate);
    p->overlap = (int64_t)llround(SONO_DREAM_SEGMENT_OVERLAP * rate);
    if (p->overlap > p->length / 2) p->overlap = p->length / 2;
    p->stride = p->length - p->overlap;
    if (frames <= p->length) {
        p->count = 1;
        p->length = frames;
        return;
    }
    p->count = (int)(1 + (frames - p->length + p->stride - 1) / p->stride);
}

static int64_t segment_start(const segment_plan *p, int i) { return (int64_t)i * p->stride; }

static int64_t segment_length(const segment_plan *p, int i, int64_t frames) {
    int64_t start = segment_start(p, i);
    return start + p->length > frames ? frames - start : p->length;
}

/* Everything the call keeps between segments. */
typedef struct job {
    sono_classifier *c;
    const sono_dream_request *req;
    sono_dream_options opt;       /* the ascent's, with this segment's seed */
    int rate, channels;           /* of the recording the dream sees */
    int64_t frames;
    segment_plan plan;
    sono_frontend *fe;            /* (rate, channels) */
    sono_frontend *fe_mono;       /* (rate, 1): PER_CHANNEL, and each channel's headroom */
    float *x0, *x;                /* (length, channels) the segment before and after */
    float *chan;                  /* (length) one channel (PER_CHANNEL) */
    float *tail;                  /* (overlap, channels) the previous segment's end */
    int64_t tail_frames;
    int H, T;                     /* mel bands, model frames of a full segment */
    float *s_in, *s_final, *s_out;/* (H, T) standardised log-mel of the segment */
    float *gain;                  /* (H, T) MASK: dB change */
    float *channel_room;          /* (channels, H, T) MASK: dB each channel's cell may rise (headroom) */
    float *channel_db;            /* (channels, H, T) each input channel's log-mel, dB (mask, griffin-lim) */
    int64_t settle_frames;        /* of the segment the settle steps are on */
    dream_limiter limiter;        /* for a segment's output */
    double *curve, *curve_sum;    /* (steps) */
    int steps, total_steps;       /* per segment (a pass): ascent_steps + settle_steps */
    int ascent_steps, settle_steps;
    int step_base;                /* steps done before this segment (all its passes) */
    int pass_base;                /* PER_CHANNEL: steps of this segment's earlier channels */
    double before_sum, after_sum, change_sum, consistency_sum, limited_sum, convergence_sum;
    double weight_sum;            /* model frames dreamed, for the averages */
    int windows, layer;
    double headroom_cap;          /* dB: no channel's log-mel cell above (mask, griffin-lim) */
    sono_dream_result *res;       /* may be NULL */
    int64_t spec_frames;          /* of the whole recording */
} job;

static int forward_progress(dream_segment_log *log, int step, double value) {
    job *j = log->user;
    const sono_dream_options *o = &j->req->ascent;
    return o->progress ? o->progress(j->step_base + j->pass_base + step, j->total_steps, value, o->progress_user) : 0;
}

static int log_mel_progress(int step, int total, double value, void *user) {
    (void)total;
    job *j = user;
    const sono_dream_options *o = &j->req->ascent;
    return o->progress ? o->progress(j->step_base + step, j->total_steps, value, o->progress_user) : 0;
}

static void job_free(job *j) {
    sono_frontend_free(j->fe);
    sono_frontend_free(j->fe_mono);
    free(j->x0), free(j->x), free(j->chan), free(j->tail);
    free(j->s_in), free(j->s_final), free(j->s_out), free(j->gain), free(j->curve), free(j->curve_sum);
    free(j->channel_room), free(j->channel_db);
    dream_limiter_free(&j->limiter);
}

static sono_status job_init(job *j, sono_classifier *c, const sono_dream_request *req, int rate, int channels,
                            int64_t frames, sono_dream_result *res, sono_error *err) {
    memset(j, 0, sizeof *j);
    j->c = c, j->req = req, j->opt = req->ascent, j->res = res;
    j->rate = rate, j->channels = channels, j->frames = frames;
    plan_segments(&j->plan, frames, rate, req->segment_seconds);
    const int64_t L = j->plan.length;
    const float *mean = c->norm_mean, *std = c->norm_std;
    sono_status s = sono_frontend_new(&c->features, mean, std, rate, channels, L, &j->fe, err);
    if (s != SONO_OK) return s;
    const int per_channel = req->render == SONO_RENDER_WAVE ? req->stereo == SONO_STEREO_PER_CHANNEL
                                                            : 1; /* every channel's headroom is checked */
    if (per_channel && channels > 1 &&
        (s = sono_frontend_new(&c->features, mean, std, rate, 1, L, &j->fe_mono, err)) != SONO_OK)
        return s;
    j->H = c->features.n_mels;
    j->T = sono_frontend_frames(j->fe, L);
    j->ascent_steps = req->ascent.octaves * req->ascent.iterations;
    j->settle_steps = req->render == SONO_RENDER_MASK ? req->settle_steps : 0;
    j->steps = j->ascent_steps + j->settle_steps;
    const int passes = req->render == SONO_RENDER_WAVE && j->fe_mono ? channels : 1;
    j->total_steps = j->steps * j->plan.count * passes;
    const size_t cells = (size_t)j->H * j->T, samples = (size_t)L * channels;
    j->x0 = malloc(samples * sizeof(float));
    j->x = malloc(samples * sizeof(float));
    j->chan = malloc((size_t)L * sizeof(float));
    j->tail = malloc((size_t)(j->plan.overlap + 1) * channels * sizeof(float));
    j->s_in = malloc(cells * sizeof(float));
    j->s_final = malloc(cells * sizeof(float));
    j->s_out = malloc(cells * sizeof(float));
    j->gain = malloc(cells * sizeof(float));
    j->curve = malloc((size_t)j->steps * sizeof(double));
    j->curve_sum = calloc((size_t)j->steps, sizeof(double));
    if (req->render != SONO_RENDER_WAVE) {
        j->channel_db = malloc(cells * channels * sizeof(float));
        const int mask = req->render == SONO_RENDER_MASK;
        j->channel_room = mask ? malloc(cells * channels * sizeof(float)) : NULL;
        if (!j->channel_db || (mask && !j->channel_room))
            return sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory for %d channels' log-mels", channels);
    }
    if (!j->x0 || !j->x || !j->chan || !j->tail || !j->s_in || !j->s_final || !j->s_out || !j->gain || !j->curve ||
        !j->curve_sum)
        return sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory for segments of %lld frames", (long long)L);
    return dream_limiter_init(&j->limiter, L, err);
}

/* The segment's seed: the request's for segment 0, then derived. */
static uint64_t segment_seed(uint64_t seed, int i) {
    if (i == 0) return seed;
    uint64_t state = seed ^ ((uint64_t)i * 0xD1B54A32D192ED03ull);
    return sono_splitmix64(&state);
}

/* Mel-domain ascent on the segment's log-mel: s_in -> s_final. */
static sono_status log_mel_ascent(job *j, int64_t n, int T, sono_error *err) {
    sono_status s = sono_frontend_forward(j->fe, j->x0, n, j->s_in, err);
    sono_dream_options o = j->opt;
    o.progress = log_mel_progress, o.progress_user = j;
    sono_dream_report rep = {0};
    if (s == SONO_OK) s = sono_dream_run(j->c, j->s_in, T, &o, j->s_final, &rep, err);
    if (s == SONO_OK) {
        memcpy(j->curve, rep.objective, (size_t)j->ascent_steps * sizeof(double));
        j->before_sum += rep.objective_before * T;
        if (j->settle_steps == 0) j->after_sum += rep.objective_after * T; /* else the settle's end counts */
        j->windows += rep.windows, j->layer = rep.layer;
    }
    sono_dream_report_free(&rep);
    return s;
}

static sono_status render_wave(job *j, int64_t n, int T, sono_error *err) {
    dream_segment_log log = {.input = j->s_in, .final = j->s_final, .curve = j->curve,
                             .progress = forward_progress, .user = j};
    const int C = j->channels;
    memcpy(j->x, j->x0, (size_t)n * C * sizeof(float));
    if (j->req->stereo != SONO_STEREO_PER_CHANNEL || C == 1) {
        sono_status s = dream_wave_ascent(j->c, j->fe, j->x, NULL, n, C, &j->opt, j->req->ceiling, &log, err);
        if (s == SONO_OK) {
            j->before_sum += log.before * T, j->after_sum += log.after * T;
            j->windows += log.windows, j->layer = log.layer;
        }
        return s;
    }
    /* Per channel: each channel is its own recording; the curves and the
     * objective are averaged over channels, and the log-mel kept is that of
     * the downmix (what the joint front end measures). */
    double *sum = calloc((size_t)j->steps, sizeof(double));
    if (!sum) return sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory");
    sono_status s = SONO_OK;
    for (int ch = 0; s == SONO_OK && ch < C; ch++) {
        for (int64_t i = 0; i < n; i++) j->chan[i] = j->x[i * C + ch];
        s = dream_wave_ascent(j->c, j->fe_mono, j->chan, NULL, n, 1, &j->opt, j->req->ceiling, &log, err);
        for (int64_t i = 0; s == SONO_OK && i < n; i++) j->x[i * C + ch] = j->chan[i];
        for (int k = 0; s == SONO_OK && k < j->steps; k++) sum[k] += j->curve[k] / C;
        j->before_sum += log.before * T / C, j->after_sum += log.after * T / C;
        j->pass_base += j->steps;
    }
    memcpy(j->curve, sum, (size_t)j->steps * sizeof(double));
    free(sum);
    j->windows += log.windows * C, j->layer = log.layer;
    /* The downmix's log-mel before and after, for the pictures. */
    if (s == SONO_OK) s = sono_frontend_forward(j->fe, j->x0, n, j->s_in, err);
    if (s == SONO_OK) s = sono_frontend_forward(j->fe, j->x, n, j->s_final, err);
    return s;
}

/* A gain interpolated from mel bands to bins lands a little off in the mel
 * domain (bands overlap, windows differ): a refinement measures the
 * output's log-mel and corrects the gain by what is missing, cell by cell.
 * A gain cannot raise what the recording has no energy for (a tone the
 * dream draws where there was silence): where the output still falls short
 * of the dream by more than MASK_FILL_DB, that missing mel power is
 * synthesised (NNLS to linear power, random phase, at the model's rate,
 * resampled) and added to every channel. */
#define MASK_REFINEMENTS 1
#define MASK_FILL_DB 3.0

/* fill (n, channels-independent) at the recording's rate: the mel power
 * the output lacks, as noise with that spectrum. */
static sono_status missing_energy(job *j, int64_t n, int T, float *fill, sono_error *err) {
    const sono_classifier *c = j->c;
    const sono_feature_config *cfg = &c->features;
    const int H = j->H, bins = cfg->n_fft / 2 + 1, model_rate = cfg->sample_rate;
    const int64_t n_model = sono_frontend_model_samples(j->fe, n);
    sono_logmel *lm;
    sono_stft *stft = NULL;
    sono_status s = sono_logmel_new(cfg, &lm, err);
    if (s == SONO_OK) s = sono_stft_new(cfg->n_fft, cfg->hop, cfg->center, cfg->pad_mode, &stft, err);
    float *mel = malloc((size_t)H * T * sizeof *mel), *lin = malloc((size_t)bins * T * sizeof *lin);
    float *spec = malloc((size_t)T * bins * 2 * sizeof *spec), *y = malloc((size_t)n_model * sizeof *y);
    float *native = NULL;
    int64_t n_native = 0;
    if (s == SONO_OK && (!mel || !lin || !spec || !y)) s = sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory");
    int any = 0;
    for (int m = 0; s == SONO_OK && m < H; m++)
        for (int t = 0; t < T; t++) {
            size_t i = (size_t)m * T + t;
            double want = j->s_final[i] * c->norm_std[m] + c->norm_mean[m];
            double got = j->s_out[i] * c->norm_std[m] + c->norm_mean[m];
            double miss = want - got > MASK_FILL_DB ? pow(10.0, want / 10) - pow(10.0, got / 10) : 0;
            mel[i] = (float)miss;
            any |= miss > 0;
        }
    /* Noise of roughly that spectrum is all that is needed: few iterations. */
    if (s == SONO_OK && any) s = sono_mel_to_linear_nnls(sono_logmel_filterbank(lm), H, bins, mel, T, 30, lin, err);
    if (s == SONO_OK && any) {
        uint64_t rng = j->opt.seed ^ 0x6d61736b66696c6cull; /* "maskfill" */
        for (int t = 0; t < T; t++)
            for (int k = 0; k < bins; k++) {
                double mag = pow(lin[(size_t)k * T + t] > 0 ? lin[(size_t)k * T + t] : 0, 1.0 / cfg->power);
                double phase = 2 * M_PI * sono_unit_double(sono_splitmix64(&rng));
                spec[((size_t)t * bins + k) * 2] = (float)(mag * cos(phase));
                spec[((size_t)t * bins + k) * 2 + 1] = (float)(mag * sin(phase));
            }
        s = sono_stft_inverse(stft, spec, T, y, n_model, err);
        if (s == SONO_OK && model_rate != j->rate) s = sono_audio_resample(y, n_model, model_rate, j->rate, &native, &n_native, err);
    }
    for (int64_t i = 0; s == SONO_OK && i < n; i++) {
        const float *src = native ? native : y;
        const int64_t count = native ? n_native : n_model;
        fill[i] = any && i < count ? src[i] : 0.0f;
    }
    free(mel), free(lin), free(spec), free(y), free(native);
    sono_stft_free(stft);
    sono_logmel_free(lm);
    return s;
}

/* ---- the headroom: no cell of any channel's log-mel more than headroom_db
 * above the loudest cell of the recording's channels ----
 *
 * The log-mel ascent keeps the downmix's cells under the cap, but neither
 * the settle steps (on the samples) nor a channel's own spectrum are bound
 * by it: where the channels cancel in the downmix, the ascent may raise a
 * cell that one channel alone holds loud, and the gain lifts that channel.
 * So each channel has a room per cell (cap - its input level) that the mask
 * gain never exceeds, and what is written (after the fill-in, each settle
 * step and the render) is measured channel by channel and turned down where
 * it is over, until within HEADROOM_TOLERANCE_DB. A downmix never holds more
 * than its loudest channel (the power of a mean is at most the mean of the
 * powers), so the model's own log-mel is capped too. */
#define HEADROOM_PASSES 4
#define HEADROOM_TOLERANCE_DB 0.05

/* Channel ch of x (n, channels) into chan, and its log-mel in dB into db. */
static sono_status channel_log_mel(job *j, const float *x, int64_t n, int ch, float *db, sono_error *err) {
    const int C = j->channels;
    sono_frontend *fe = C > 1 ? j->fe_mono : j->fe;
    for (int64_t i = 0; i < n; i++) j->chan[i] = x[i * C + ch];
    sono_status s = sono_frontend_forward(fe, j->chan, n, db, err);
    const int T = sono_frontend_frames(fe, n);
    for (int m = 0; s == SONO_OK && m < j->H; m++)
        for (int t = 0; t < T; t++) db[(size_t)m * T + t] = db[(size_t)m * T + t] * j->c->norm_std[m] + j->c->norm_mean[m];
    return s;
}

/* The cap of the segment: headroom_db above the loudest cell of any of
 * its input's channels. */
static sono_status find_headroom_cap(job *j, int64_t n, int T, sono_error *err) {
    double loudest = -INFINITY;
    const size_t cells = (size_t)j->H * T;
    sono_status s = SONO_OK;
    for (int ch = 0; s == SONO_OK && ch < j->channels; ch++) {
        float *db = j->channel_db + ch * cells;
        s = channel_log_mel(j, j->x0, n, ch, db, err);
        for (size_t i = 0; s == SONO_OK && i < cells; i++)
            if (db[i] > loudest) loudest = db[i];
    }
    j->headroom_cap = loudest + j->opt.headroom_db;
    for (size_t i = 0; j->channel_room && i < cells * j->channels; i++)
        j->channel_room[i] = (float)(j->headroom_cap - j->channel_db[i]);
    return s;
}

/* x (n, channels) brought under the cap, channel by channel: a channel
 * over it gets the mask with no gain but each band's room (cap - its
 * level, negative where over), so every bin feeding a band over the cap is
 * turned down by at least that band's excess. */
static sono_status apply_headroom(job *j, float *x, int64_t n, int T, int passes, sono_error *err) {
    const int C = j->channels;
    const size_t cells = (size_t)j->H * T;
    float *db = malloc(cells * sizeof *db), *zero = calloc(cells, sizeof *zero);
    float *turned = malloc((size_t)n * sizeof *turned);
    sono_status s = db && zero && turned ? SONO_OK : sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory");
    for (int ch = 0; s == SONO_OK && ch < C; ch++) {
        for (int pass = 0; s == SONO_OK && pass < passes; pass++) {
            s = channel_log_mel(j, x, n, ch, db, err);
            double worst = 0;
            for (size_t i = 0; s == SONO_OK && i < cells; i++) {
                const double over = db[i] - j->headroom_cap;
                if (over > worst) worst = over;
                db[i] = (float)-over; /* the room */
            }
            if (s != SONO_OK || worst <= HEADROOM_TOLERANCE_DB) break;
            s = dream_mask_apply(&j->c->features, j->chan, n, 1, j->rate, zero, db, T, turned, err);
            for (int64_t i = 0; s == SONO_OK && i < n; i++) x[i * C + ch] = turned[i];
        }
    }
    free(db), free(zero), free(turned);
    return s;
}

/* Each settle step keeps the headroom (one pass: the end makes it exact), so
 * the steps end on capped samples and the output's log-mel is the one they
 * ended with. */
static sono_status settle_projection(dream_segment_log *log, float *x, sono_error *err) {
    job *j = log->user;
    return apply_headroom(j, x, j->settle_frames, sono_frontend_frames(j->fe, j->settle_frames), 1, err);
}

/* The settle steps: the ascent goes on in the waveform domain from the
 * rendered recording (limited and within the headroom first, as it will be
 * written), so it ends on samples and s_final is their log-mel. Its curve
 * follows the log-mel ascent's; its objective_after replaces the log-mel's. */
static sono_status settle(job *j, int64_t n, int T, sono_error *err) {
    if (j->settle_steps < 1) return SONO_OK;
    const int C = j->channels;
    for (int64_t i = 0; i < n * C; i++) j->x[i] -= j->x0[i];
    dream_limit(&j->limiter, j->x0, j->x, n, C, j->rate, j->req->ceiling);
    sono_status s = apply_headroom(j, j->x, n, T, HEADROOM_PASSES, err); /* the filled-in noise may pass it */
    if (s != SONO_OK) return s;
    sono_dream_options o = j->opt;
    o.octaves = 1, o.iterations = j->settle_steps;
    if (o.step_final > 0) o.step = o.step_final; /* the settle goes on where the ascent ended */
    dream_segment_log log = {.input = j->s_out, .final = j->s_final, .curve = j->curve + j->ascent_steps,
                             .progress = forward_progress, .project = settle_projection, .user = j};
    j->settle_frames = n;
    j->pass_base = j->ascent_steps;
    s = dream_wave_ascent(j->c, j->fe, j->x, j->x0, n, C, &o, j->req->ceiling, &log, err);
    j->pass_base = 0;
    if (s == SONO_OK) j->after_sum += log.after * T;
    return s;
}

static sono_status render_mask(job *j, int64_t n, int T, sono_error *err) {
    sono_status s = log_mel_ascent(j, n, T, err);
    if (s != SONO_OK) return s;
    const sono_classifier *c = j->c;
    const int C = j->channels;
    for (int m = 0; m < j->H; m++)
        for (int t = 0; t < T; t++) {
            size_t i = (size_t)m * T + t;
            j->gain[i] = (j->s_final[i] - j->s_in[i]) * c->norm_std[m];
        }
    float *fill = malloc((size_t)n * sizeof *fill);
    if (!fill) return sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory");
    for (int r = 0; s == SONO_OK; r++) {
        s = dream_mask_apply(&c->features, j->x0, n, C, j->rate, j->gain, j->channel_room, T, j->x, err);
        if (s == SONO_OK && r > 0)
            for (int64_t i = 0; i < n; i++)
                for (int ch = 0; ch < C; ch++) j->x[i * C + ch] += fill[i];
        if (s != SONO_OK || r == MASK_REFINEMENTS + 1) break;
        s = sono_frontend_forward(j->fe, j->x, n, j->s_out, err);
        if (s == SONO_OK && r == 0) s = missing_energy(j, n, T, fill, err);
        for (int m = 0; s == SONO_OK && r > 0 && m < j->H; m++)
            for (int t = 0; t < T; t++) {
                size_t i = (size_t)m * T + t;
                j->gain[i] += (j->s_final[i] - j->s_out[i]) * c->norm_std[m];
            }
    }
    free(fill);
    return s == SONO_OK ? settle(j, n, T, err) : s;
}

static sono_status render_griffin_lim(job *j, int64_t n, int T, sono_error *err) {
    sono_status s = log_mel_ascent(j, n, T, err);
    if (s != SONO_OK) return s;
    const int model_rate = j->c->features.sample_rate, C = j->channels;
    const int64_t n_model = sono_frontend_model_samples(j->fe, n);
    /* The input's phase: its downmix at the model's rate (the front end's). */
    s = sono_frontend_forward(j->fe, j->x0, n, j->s_out, err);
    sono_dream_audio_options a = j->req->griffin_lim;
    a.out_rate = 0, a.peak_dbfs = NAN, a.seed = j->opt.seed;
    float *sound = NULL, *native = NULL;
    int64_t n_sound = 0;
    sono_dream_audio_report rep = {0};
    if (s == SONO_OK)
        s = sono_dream_to_audio(j->c, j->s_final, T, sono_frontend_model_signal(j->fe), n_model, &a, &sound, &n_sound,
                                &rep, err);
    if (s == SONO_OK && model_rate != j->rate) {
        int64_t n_native = 0;
        s = sono_audio_resample(sound, n_sound, model_rate, j->rate, &native, &n_native, err);
        free(sound);
        sound = native, native = NULL;
        n_sound = n_native;
    }
    for (int64_t i = 0; s == SONO_OK && i < n; i++)
        for (int c = 0; c < C; c++) j->x[i * C + c] = i < n_sound ? sound[i] : 0.0f;
    j->convergence_sum += rep.convergence * T;
    free(sound);
    return s;
}

/* Mean |dB| between the output's log-mel and the ascent's final one, over
 * cells within the picture's range of the final's peak. */
static double consistency(const sono_classifier *c, const float *out, const float *final, int T) {
    double peak = -INFINITY;
    for (int m = 0; m < c->features.n_mels; m++)
        for (int t = 0; t < T; t++) {
            double v = final[(size_t)m * T + t] * c->norm_std[m] + c->norm_mean[m];
            if (v > peak) peak = v;
        }
    const double low = peak - PICTURE_RANGE_DB;
    double sum = 0;
    long count = 0;
    for (int m = 0; m < c->features.n_mels; m++)
        for (int t = 0; t < T; t++) {
            double a = out[(size_t)m * T + t] * c->norm_std[m] + c->norm_mean[m];
            double b = final[(size_t)m * T + t] * c->norm_std[m] + c->norm_mean[m];
            if (a < low && b < low) continue;
            sum += fabs((a < low ? low : a) - (b < low ? low : b));
            count++;
        }
    return count ? sum / count : 0;
}

static double mean_change(const sono_classifier *c, const float *a, const float *b, int T) {
    double sum = 0;
    for (int m = 0; m < c->features.n_mels; m++)
        for (int t = 0; t < T; t++) sum += fabs(a[(size_t)m * T + t] - b[(size_t)m * T + t]) * c->norm_std[m];
    return sum / ((double)c->features.n_mels * T);
}

/* Copy a segment's log-mel (dB) into the whole recording's picture at the
 * model frame where the segment starts. */
static void place_frames(const job *j, const float *S, int T, int64_t start, float *whole) {
    if (!whole) return;
    const sono_classifier *c = j->c;
    const int64_t offset = (int64_t)llround((double)start * c->features.sample_rate / j->rate / c->features.hop);
    for (int m = 0; m < j->H; m++)
        for (int t = 0; t < T; t++) {
            int64_t g = offset + t;
            if (g < 0 || g >= j->spec_frames) continue;
            whole[(size_t)m * j->spec_frames + g] = S[(size_t)m * T + t] * c->norm_std[m] + c->norm_mean[m];
        }
}

/* Cross-fade the previous tail into the segment's start, write what is
 * final, keep the new tail. */
static sono_status emit(job *j, int i, int64_t n, const sono_audio_sink *out, sono_error *err) {
    const int C = j->channels;
    const int64_t fade = i > 0 ? j->tail_frames : 0;
    for (int64_t k = 0; k < fade; k++) {
        const float w = (float)(0.5 - 0.5 * cos(M_PI * (k + 0.5) / fade)); /* new segment's weight */
        for (int c = 0; c < C; c++)
            j->x[k * C + c] = (1 - w) * j->tail[k * C + c] + w * j->x[k * C + c];
    }
    const int last = i == j->plan.count - 1;
    const int64_t keep = last ? 0 : j->plan.overlap;
    const int64_t write = n - keep;
    sono_status s = write > 0 ? out->write(out->user, j->x, write, err) : SONO_OK;
    memcpy(j->tail, j->x + write * C, (size_t)keep * C * sizeof(float));
    j->tail_frames = keep;
    return s;
}

static sono_status dream_segment(job *j, int i, adapted_source *src, const sono_audio_sink *out, sono_error *err) {
    const int64_t start = segment_start(&j->plan, i), n = segment_length(&j->plan, i, j->frames);
    const int T = sono_frontend_frames(j->fe, n);
    const sono_dream_request *req = j->req;
    j->opt.seed = segment_seed(req->ascent.seed, i);
    sono_status s = adapted_read(src, start, n, j->x0, err);
    if (s == SONO_OK && req->render != SONO_RENDER_WAVE) s = find_headroom_cap(j, n, T, err);
    if (s != SONO_OK) return s;
    switch (req->render) {
    case SONO_RENDER_WAVE: s = render_wave(j, n, T, err); break;
    case SONO_RENDER_MASK: s = render_mask(j, n, T, err); break;
    case SONO_RENDER_GRIFFIN_LIM: s = render_griffin_lim(j, n, T, err); break;
    }
    if (s == SONO_OK && req->render != SONO_RENDER_WAVE) s = apply_headroom(j, j->x, n, T, HEADROOM_PASSES, err);
    if (s != SONO_OK) return s;
    j->step_base += j->pass_base > 0 ? j->pass_base : j->steps; /* per channel: every channel's steps */
    j->pass_base = 0;
    for (int k = 0; k < j->steps; k++) j->curve_sum[k] += j->curve[k] * T;
    /* The dream's part is x - base; the griffin-lim dream replaces the recording. */
    const size_t samples = (size_t)n * j->channels;
    if (req->render == SONO_RENDER_GRIFFIN_LIM) memset(j->x0, 0, samples * sizeof(float));
    for (size_t k = 0; k < samples; k++) j->x[k] -= j->x0[k];
    j->limited_sum += dream_limit(&j->limiter, j->x0, j->x, n, j->channels, j->rate, req->ceiling) * (double)n;
    s = sono_frontend_forward(j->fe, j->x, n, j->s_out, err);
    if (s != SONO_OK) return s;
    j->consistency_sum += consistency(j->c, j->s_out, j->s_final, T) * T;
    j->change_sum += mean_change(j->c, j->s_final, j->s_in, T) * T;
    j->weight_sum += T;
    if (j->res) {
        place_frames(j, j->s_in, T, start, j->res->input_db);
        place_frames(j, j->s_final, T, start, j->res->dream_db);
        place_frames(j, j->s_out, T, start, j->res->output_db);
    }
    return emit(j, i, n, out, err);
}

static sono_status check_request(const sono_classifier *c, const sono_audio_source *in, const sono_dream_request *req,
                                 sono_error *err) {
    if (!c || !in || !req || !in->read)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: a model, a recording and a request are needed");
    if (in->sample_rate < 1 || in->sample_rate > SONO_AUDIO_MAX_RATE || in->channels < 1 ||
        in->channels > MAX_CHANNELS || in->frames < 1)
        return sono_error_set(err, SONO_ERR_ARGUMENT,
                              "dream: the recording (%lld frames, %d channels at %d Hz) is not one it can dream "
                              "(1..%d channels, 1..%d Hz)",
                              (long long)in->frames, in->channels, in->sample_rate, MAX_CHANNELS, SONO_AUDIO_MAX_RATE);
    if (req->render < SONO_RENDER_WAVE || req->render > SONO_RENDER_GRIFFIN_LIM)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: unknown render %d", (int)req->render);
    if (req->stereo != SONO_STEREO_JOINT && req->stereo != SONO_STEREO_PER_CHANNEL)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: unknown stereo mode %d", (int)req->stereo);
    if (req->out_rate < 0 || req->out_rate > SONO_AUDIO_MAX_RATE)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: output rate %d Hz is out of range", req->out_rate);
    if (!(req->ceiling > 0 && req->ceiling <= 1e6))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the ceiling must be in (0, 1e6] (got %g)", req->ceiling);
    if (req->settle_steps < 0 || req->settle_steps > 10000)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: settle steps must be 0 to 10000 (got %d)",
                              req->settle_steps);
    if (!(req->segment_seconds >= 2 * SONO_DREAM_SEGMENT_OVERLAP && req->segment_seconds <= 3600))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: segments must be %g to 3600 s long (got %g)",
                              2 * SONO_DREAM_SEGMENT_OVERLAP, req->segment_seconds);
    return SONO_OK;
}

static sono_status result_init(sono_dream_result *r, const job *j, sono_error *err) {
    memset(r, 0, sizeof *r);
    r->render = j->req->render;
    r->sample_rate = j->rate, r->channels = j->channels, r->frames = j->frames;
    r->segments = j->plan.count, r->steps = j->steps, r->n_mels = j->H;
    r->objective = calloc((size_t)j->steps, sizeof(double));
    if (!r->objective) return sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory");
    if (!j->req->keep_spectrograms) return SONO_OK;
    r->spec_frames = (int)j->spec_frames;
    const size_t cells = (size_t)j->H * j->spec_frames;
    r->input_db = malloc(cells * sizeof(float));
    r->dream_db = malloc(cells * sizeof(float));
    r->output_db = malloc(cells * sizeof(float));
    if (!r->input_db || !r->dream_db || !r->output_db)
        return sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory for the spectrograms");
    return SONO_OK;
}

static void result_finish(sono_dream_result *r, const job *j) {
    const double w = j->weight_sum > 0 ? j->weight_sum : 1;
    for (int k = 0; k < j->steps; k++) r->objective[k] = j->curve_sum[k] / w;
    r->layer = j->layer, r->windows = j->windows;
    r->objective_before = j->before_sum / w, r->objective_after = j->after_sum / w;
    r->mean_change_db = j->change_sum / w, r->consistency_db = j->consistency_sum / w;
    r->convergence = j->convergence_sum / w;
    r->limited_share = j->frames > 0 ? j->limited_sum / (double)j->frames : 0;
}

sono_status sono_dream_stream(sono_classifier *c, const sono_audio_source *in, const sono_dream_request *req,
                              const sono_audio_sink *out, sono_dream_result *result, sono_error *err) {
    sono_dream_result scratch;
    sono_dream_result *res = result ? result : &scratch;
    memset(res, 0, sizeof *res);
    sono_status s = check_request(c, in, req, err);
    if (s != SONO_OK) return s;
    if (!out || !out->write) return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: no output");
    const int rate = req->out_rate > 0 ? req->out_rate : in->sample_rate;
    adapted_source src = {.in = in, .mono = req->mono && in->channels > 1, .out_rate = rate};
    const int channels = src.mono ? 1 : in->channels;
    if (rate != in->sample_rate) {
        sono_status s = sono_resampler_new(in->sample_rate, rate, &src.resampler, err);
        if (s != SONO_OK) return s;
    }
    const int64_t frames =
        src.resampler ? sono_resampler_output_length(src.resampler, in->frames) : in->frames;
    job j;
    s = frames >= 1 ? job_init(&j, c, req, rate, channels, frames, res, err)
                    : sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the recording is empty at %d Hz", rate);
    if (s == SONO_OK) {
        j.spec_frames = sono_feature_frames(&c->features, (int64_t)llround((double)frames * c->features.sample_rate / rate));
        s = result_init(res, &j, err);
    }
    for (int i = 0; s == SONO_OK && i < j.plan.count; i++) s = dream_segment(&j, i, &src, out, err);
    if (s == SONO_OK) result_finish(res, &j);
    if (frames >= 1) job_free(&j);
    sono_resampler_free(src.resampler);
    free(src.scratch);
    if (s != SONO_OK || !result) sono_dream_result_free(res);
    return s;
}

/* ---- from and to memory ---- */

static sono_status memory_read(void *user, int64_t start, int64_t count, float *dst, sono_error *err) {
    (void)err;
    const sono_recording *r = user;
    memcpy(dst, r->samples + start * r->channels, (size_t)count * r->channels * sizeof(float));
    return SONO_OK;
}

static sono_status memory_write(void *user, const float *samples, int64_t count, sono_error *err) {
    (void)err;
    sono_recording *r = user;
    memcpy(r->samples + r->frames * r->channels, samples, (size_t)count * r->channels * sizeof(float));
    r->frames += count;
    return SONO_OK;
}

sono_status sono_dream_recording(sono_classifier *c, const sono_recording *in, const sono_dream_request *req,
                                 sono_recording *out, sono_dream_result *result, sono_error *err) {
    if (!out || !in || !in->samples || !req)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: a recording, a request and an output are needed");
    memset(out, 0, sizeof *out);
    sono_audio_source src = {in->sample_rate, in->channels, in->frames, memory_read, (void *)in};
    const int rate = req->out_rate > 0 ? req->out_rate : in->sample_rate;
    const int channels = req->mono ? 1 : in->channels;
    const double frames = rate == in->sample_rate ? (double)in->frames : round((double)in->frames * rate / in->sample_rate);
    if (!(frames >= 1 && frames * channels < 4e9))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: %g frames is not a recording it can hold", frames);
    out->samples = malloc((size_t)frames * channels * sizeof(float));
    if (!out->samples) return sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory for the output");
    out->channels = channels, out->sample_rate = rate;
    sono_audio_sink sink = {memory_write, out};
    sono_status s = sono_dream_stream(c, &src, req, &sink, result, err);
    if (s != SONO_OK) sono_recording_free(out);
    return s;
}
