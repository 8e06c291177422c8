/* The waveform-domain ascent: DeepDream steps taken on a recording's own
 * samples.
 *
 * Each step: the front end turns the samples into the standardised log-mel
 * the network sees (sono_frontend_forward); at coarser octaves that picture
 * is resized as in the log-mel dream; the windows are rolled (jitter) and
 * the objective's gradient comes back from the network (dream_gradient);
 * the resize's transpose takes it to full size, and the front end's
 * backward pass carries it to the samples. The samples move along that
 * gradient.
 *
 * The step keeps the unit of the log-mel dream: `step` levels (of the 80 dB
 * picture) of mean absolute change per step, measured on the log-mel cells
 * within 80 dB of the recording's peak (below that a cell is black in the
 * picture, and the log makes tiny sample changes look huge). A change in
 * the samples changes the log-mel nonlinearly, so the step length is
 * steered: a probe step sets it, and after every step the measured change
 * corrects it. Octaves here change only what the network sees (a coarser
 * picture, a smoother gradient): the samples are always full resolution.
 *
 * The step direction is sono_frontend_direction (every bin changes in
 * proportion to itself) rather than the raw gradient, whose 1/|Y| puts
 * nearly all of a step into the quietest bins. After every step the
 * limiter brings the samples back under the ceiling by turning the
 * dream's part down (a projection onto what can be written), so the ascent
 * goes on from what will actually be heard. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dream/dream_internal.h"

#define PICTURE_RANGE_DB 80.0
#define PROBE_RELATIVE 1e-3  /* the probe step's RMS, relative to the recording's */
#define STEER_MIN 0.25       /* per-step bounds on the correction of the step length */
#define STEER_MAX 4.0

/* Mean |a - b| in dB over the cells where either is within PICTURE_RANGE_DB
 * of peak_db, values below that range clamped to it. a, b standardised. */
static double mean_visible_change(const sono_classifier *c, const float *a, const float *b, int frames,
                                  double peak_db) {
    const double low = peak_db - PICTURE_RANGE_DB;
    double sum = 0;
    long count = 0;
    for (int m = 0; m < c->features.n_mels; m++) {
        const double mean = c->norm_mean[m], sd = c->norm_std[m];
        const float *ra = a + (size_t)m * frames, *rb = b + (size_t)m * frames;
        for (int t = 0; t < frames; t++) {
            double da = ra[t] * sd + mean, db = rb[t] * sd + mean;
            if (da < low && db < low) continue;
            sum += fabs((da < low ? low : da) - (db < low ? low : db));
            count++;
        }
    }
    return count ? sum / count : 0;
}

static double peak_db_of(const sono_classifier *c, const float *S, int frames) {
    double peak = -INFINITY;
    for (int m = 0; m < c->features.n_mels; m++)
        for (int t = 0; t < frames; t++) {
            double v = S[(size_t)m * frames + t] * c->norm_std[m] + c->norm_mean[m];
            if (v > peak) peak = v;
        }
    return peak;
}

static double rms(const float *x, int64_t n) {
    double s = 0;
    for (int64_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return sqrt(s / (double)(n > 0 ? n : 1));
}

typedef struct wave_state {
    sono_classifier *c;
    sono_frontend *fe;
    dream d;
    int64_t n;         /* samples per channel */
    int channels;
    int rate;
    double ceiling;
    const float *x0;   /* (n, channels) the recording before the dream */
    dream_limiter limiter;
    int T;             /* model frames */
    float *S, *S_next; /* (H, T) standardised log-mel now and after the step */
    float *Sk;         /* (H, T) the picture at the current octave */
    float *G;          /* (H, T) gradient at full size */
    float *dx;         /* (n, channels) */
    float *trial;      /* (n, channels) the probe */
    double peak_db, target_db, alpha;
} wave_state;

/* The gradient of the objective with respect to the samples at x, with the
 * network seeing octave k rolled by `roll`. S must be x's log-mel. */
static sono_status sample_gradient(wave_state *w, int k, int roll, double *value, sono_error *err) {
    dream *d = &w->d;
    const octave *o = &d->oct[k];
    const int H = d->H;
    const float *picture = w->S;
    if (k) {
        sono_dream_resize(w->S, H, w->T, w->Sk, o->h, o->t);
        picture = w->Sk;
    }
    sono_status s = dream_gradient(d, o, picture, roll, 1, value, err);
    if (s != SONO_OK) return s;
    sono_dream_blur(d->grad, o->h, o->t, d->opt.smooth, d->tmp);
    sono_dream_resize_adjoint(d->grad, o->h, o->t, w->G, H, w->T);
    return sono_frontend_direction(w->fe, w->G, w->dx, err);
}

/* x_to = x_from + alpha * dx, limited, then its log-mel into S_next. */
static sono_status take_step(wave_state *w, const float *x_from, float *x_to, double alpha, sono_error *err) {
    const int64_t count = w->n * w->channels;
    const float a = (float)alpha;
    for (int64_t i = 0; i < count; i++) x_to[i] = x_from[i] + a * w->dx[i] - w->x0[i];
    dream_limit(&w->limiter, w->x0, x_to, w->n, w->channels, w->rate, w->ceiling);
    return sono_frontend_forward(w->fe, x_to, w->n, w->S_next, err);
}

/* The first step length: a probe step's measured change, scaled to the target. */
static sono_status probe_step_length(wave_state *w, const float *x, sono_error *err) {
    const int64_t count = w->n * w->channels;
    double gx = rms(w->dx, count), rx = rms(x, count);
    if (!(gx > 0)) {
        w->alpha = 0;
        return SONO_OK;
    }
    double alpha0 = PROBE_RELATIVE * (rx > 0 ? rx : 1e-3) / gx;
    sono_status s = take_step(w, x, w->trial, alpha0, err);
    if (s != SONO_OK) return s;
    double change = mean_visible_change(w->c, w->S, w->S_next, w->T, w->peak_db);
    w->alpha = change > 0 ? alpha0 * w->target_db / change : alpha0;
    return SONO_OK;
}

static void wave_free(wave_state *w) {
    dream_free(&w->d);
    dream_limiter_free(&w->limiter);
    free(w->S), free(w->S_next), free(w->Sk), free(w->G), free(w->dx), free(w->trial);
}

static sono_status wave_init(wave_state *w, sono_classifier *c, sono_frontend *fe, int64_t n, int channels,
                             const sono_dream_options *opt, sono_error *err) {
    memset(w, 0, sizeof *w);
    w->c = c, w->fe = fe, w->n = n, w->channels = channels;
    w->rate = sono_frontend_rate(fe);
    w->T = sono_frontend_frames(fe, n);
    if (w->T < 1) return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the recording is shorter than one frame");
    sono_status s = dream_init(&w->d, c, opt, w->T, err);
    if (s != SONO_OK) return s;
    const size_t cells = (size_t)c->features.n_mels * w->T, samples = (size_t)n * channels;
    w->S = malloc(cells * sizeof(float));
    w->S_next = malloc(cells * sizeof(float));
    w->Sk = malloc(cells * sizeof(float));
    w->G = malloc(cells * sizeof(float));
    w->dx = malloc(samples * sizeof(float));
    w->trial = malloc(samples * sizeof(float));
    if (!w->S || !w->S_next || !w->Sk || !w->G || !w->dx || !w->trial)
        return sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory for %lld samples", (long long)samples);
    s = dream_limiter_init(&w->limiter, n, err);
    if (s != SONO_OK) return s;
    w->target_db = opt->step * SONO_DREAM_LEVEL_DB;
    return SONO_OK;
}

sono_status dream_wave_ascent(sono_classifier *c, sono_frontend *fe, float *x, const float *base, int64_t n,
                              int channels, const sono_dream_options *opt, double ceiling, dream_segment_log *log,
                              sono_error *err) {
    wave_state w;
    sono_status s = wave_init(&w, c, fe, n, channels, opt, err);
    float *x0 = s == SONO_OK ? malloc((size_t)n * channels * sizeof *x0) : NULL;
    if (s == SONO_OK && !x0) s = sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory");
    if (s == SONO_OK) memcpy(x0, base ? base : x, (size_t)n * channels * sizeof *x0);
    w.x0 = x0, w.ceiling = ceiling;
    if (s == SONO_OK) s = sono_frontend_forward(fe, x, n, w.S, err);
    if (s == SONO_OK) {
        const double floor_db = 10.0 * log10(c->features.log_floor);
        w.peak_db = peak_db_of(c, w.S, w.T);
        /* Pads short windows with silence and scales nothing else here. */
        dream_prepare(&w.d, w.S, floor_db, w.peak_db, floor_db);
        memcpy(log->input, w.S, (size_t)w.d.H * w.T * sizeof(float));
        s = dream_gradient(&w.d, &w.d.oct[0], w.S, 0, 0, &log->before, err);
    }
    uint64_t rng = opt->seed ^ 0x647265616d6a6974ull; /* "dreamjit", as the log-mel dream */
    int step = 0;
    for (int k = w.d.noct - 1; s == SONO_OK && k >= 0; k--) {
        for (int it = 0; s == SONO_OK && it < opt->iterations; it++) {
            int roll = opt->jitter ? (int)(dream_splitmix64(&rng) % (uint64_t)(2 * opt->jitter + 1)) - opt->jitter : 0;
            double value = 0;
            s = sample_gradient(&w, k, roll, &value, err);
            if (s == SONO_OK && step == 0) s = probe_step_length(&w, x, err);
            if (s == SONO_OK) s = take_step(&w, x, x, w.alpha, err);
            if (s != SONO_OK) break;
            double change = mean_visible_change(c, w.S, w.S_next, w.T, w.peak_db);
            if (change > 0) {
                double steer = w.target_db / change;
                w.alpha *= steer < STEER_MIN ? STEER_MIN : steer > STEER_MAX ? STEER_MAX : steer;
            }
            float *swap = w.S;
            w.S = w.S_next, w.S_next = swap;
            log->curve[step++] = value;
            if (log->progress && log->progress(log, step, value))
                s = sono_error_set(err, SONO_ERR_INTERRUPTED, "dream: interrupted");
        }
    }
    if (s == SONO_OK) s = dream_gradient(&w.d, &w.d.oct[0], w.S, 0, 0, &log->after, err);
    if (s == SONO_OK) {
        memcpy(log->final, w.S, (size_t)w.d.H * w.T * sizeof(float));
        log->windows = w.d.oct[0].windows;
        log->layer = w.d.layer;
    }
    wave_free(&w);
    free(x0);
    return s;
}
