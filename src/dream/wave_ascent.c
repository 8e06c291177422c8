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

/* One model hearing the samples: its own front end (its own features and
 * standardisation), its own windows and layer. The first is the model the
 * call was given; the others are its ensemble. */
typedef struct wave_model {
    sono_classifier *c;
    sono_frontend *fe;
    int owns_fe;       /* made here for an ensemble member */
    dream d;
    int T;             /* its log-mel frames */
    float *S, *S_next; /* (H, T) standardised log-mel now and after the step */
    float *Sk;         /* (H, T) the picture at the current octave */
    float *G;          /* (H, T) gradient at full size */
} wave_model;

typedef struct wave_state {
    wave_model model[1 + SONO_DREAM_MAX_ENSEMBLE];
    int models;
    int64_t n;         /* samples per channel */
    int channels;
    int rate;
    double ceiling;
    const float *x0;   /* (n, channels) the recording before the dream */
    dream_segment_log *log;
    dream_limiter limiter;
    float *dx;         /* (n, channels) the step's direction */
    float *dx_model;   /* (n, channels) one model's direction (ensembles) */
    float *trial;      /* (n, channels) the probe */
    double peak_db, target_db, alpha;
} wave_state;

/* Model i's direction for the samples at x, hearing octave k transformed
 * by tr, into dx; *value: its objective. Its S must be x's log-mel. */
static sono_status model_direction(wave_model *m, int k, const dream_transform *tr, float *dx, double *value,
                                   sono_error *err) {
    dream *d = &m->d;
    const octave *o = &d->oct[k];
    const int H = d->H;
    const float *picture = m->S;
    if (k) {
        sono_dream_resize(m->S, H, m->T, m->Sk, o->h, o->t);
        picture = m->Sk;
    }
    sono_status s = dream_step_gradient(d, k, picture, tr, value, err);
    if (s != SONO_OK) return s;
    sono_dream_blur(d->grad, o->h, o->t, d->opt.smooth, d->tmp);
    sono_dream_resize_adjoint(d->grad, o->h, o->t, m->G, H, m->T);
    return sono_frontend_direction(m->fe, m->G, dx, err);
}

/* The step's direction for the samples: the mean of every model's, each
 * hearing the same transformation; *value: the mean objective. */
static sono_status sample_direction(wave_state *w, int k, const dream_transform *tr, double *value, sono_error *err) {
    if (w->models == 1) return model_direction(&w->model[0], k, tr, w->dx, value, err);
    const int64_t count = w->n * w->channels;
    memset(w->dx, 0, (size_t)count * sizeof *w->dx);
    double total = 0;
    for (int i = 0; i < w->models; i++) {
        double v = 0;
        sono_status s = model_direction(&w->model[i], k, tr, w->dx_model, &v, err);
        if (s != SONO_OK) return s;
        total += v;
        for (int64_t j = 0; j < count; j++) w->dx[j] += w->dx_model[j];
    }
    const float inv = 1.0f / (float)w->models;
    for (int64_t j = 0; j < count; j++) w->dx[j] *= inv;
    *value = total / w->models;
    return SONO_OK;
}

/* The mean objective of the models' current log-mels (S), as measured
 * before and after a dream: full resolution, no jitter. */
static sono_status mean_objective(wave_state *w, double *value, sono_error *err) {
    double total = 0;
    for (int i = 0; i < w->models; i++) {
        wave_model *m = &w->model[i];
        double v = 0;
        sono_status s = dream_gradient(&m->d, &m->d.oct[0], m->S, 0, 0, &v, err);
        if (s != SONO_OK) return s;
        total += v;
    }
    *value = total / w->models;
    return SONO_OK;
}

/* Every model's log-mel of x into its S (next = 0) or S_next (next = 1). */
static sono_status hear(wave_state *w, const float *x, int next, sono_error *err) {
    for (int i = 0; i < w->models; i++) {
        wave_model *m = &w->model[i];
        sono_status s = sono_frontend_forward(m->fe, x, w->n, next ? m->S_next : m->S, err);
        if (s != SONO_OK) return s;
    }
    return SONO_OK;
}

/* x_to = x_from + alpha * dx, limited and projected, then its log-mels into
 * S_next. */
static sono_status take_step(wave_state *w, const float *x_from, float *x_to, double alpha, sono_error *err) {
    const int64_t count = w->n * w->channels;
    const float a = (float)alpha;
    for (int64_t i = 0; i < count; i++) x_to[i] = x_from[i] + a * w->dx[i] - w->x0[i];
    dream_limit(&w->limiter, w->x0, x_to, w->n, w->channels, w->rate, w->ceiling);
    sono_status s = w->log->project ? w->log->project(w->log, x_to, err) : SONO_OK;
    return s == SONO_OK ? hear(w, x_to, 1, err) : s;
}

/* The step is steered by what the first model hears. */
static double lead_change(const wave_state *w) {
    const wave_model *m = &w->model[0];
    return mean_visible_change(m->c, m->S, m->S_next, m->T, w->peak_db);
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
    double change = lead_change(w);
    w->alpha = change > 0 ? alpha0 * w->target_db / change : alpha0;
    return SONO_OK;
}

static void model_free(wave_model *m) {
    dream_free(&m->d);
    if (m->owns_fe) sono_frontend_free(m->fe);
    free(m->S), free(m->S_next), free(m->Sk), free(m->G);
}

static void wave_free(wave_state *w) {
    for (int i = 0; i < w->models; i++) model_free(&w->model[i]);
    dream_limiter_free(&w->limiter);
    free(w->dx), free(w->dx_model), free(w->trial);
}

static sono_status model_init(wave_model *m, sono_classifier *c, sono_frontend *fe, int64_t n,
                              const sono_dream_options *opt, sono_error *err) {
    m->c = c, m->fe = fe;
    m->T = sono_frontend_frames(fe, n);
    if (m->T < 1) return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the recording is shorter than one frame");
    sono_status s = dream_init(&m->d, c, opt, m->T, err);
    if (s != SONO_OK) return s;
    const size_t cells = (size_t)c->features.n_mels * m->T;
    m->S = malloc(cells * sizeof(float));
    m->S_next = malloc(cells * sizeof(float));
    m->Sk = malloc(cells * sizeof(float));
    m->G = malloc(cells * sizeof(float));
    if (!m->S || !m->S_next || !m->Sk || !m->G) return sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory");
    return SONO_OK;
}

/* The ensemble's members, each with a front end of its own at the
 * recording's rate and channels. */
static sono_status members_init(wave_state *w, const sono_dream_options *opt, sono_error *err) {
    const wave_model *lead = &w->model[0];
    for (int i = 0; i < opt->ensemble_count; i++) {
        sono_classifier *c = opt->ensemble[i];
        if (!c) return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: model %d of the ensemble is missing", i + 2);
        sono_dream_options mo;
        sono_status s = dream_member_options(lead->c, lead->d.layer, opt, c, &mo, err);
        if (s != SONO_OK) return s;
        wave_model *m = &w->model[w->models++];
        s = sono_frontend_new(&c->features, c->norm_mean, c->norm_std, w->rate, w->channels, w->n, &m->fe, err);
        if (s != SONO_OK) return s;
        m->owns_fe = 1;
        s = model_init(m, c, m->fe, w->n, &mo, err);
        if (s != SONO_OK) return s;
    }
    return SONO_OK;
}

static sono_status wave_init(wave_state *w, sono_classifier *c, sono_frontend *fe, int64_t n, int channels,
                             const sono_dream_options *opt, sono_error *err) {
    memset(w, 0, sizeof *w);
    w->n = n, w->channels = channels;
    w->rate = sono_frontend_rate(fe);
    w->models = 1;
    sono_status s = model_init(&w->model[0], c, fe, n, opt, err);
    if (s == SONO_OK) s = members_init(w, opt, err);
    if (s != SONO_OK) return s;
    const size_t samples = (size_t)n * channels;
    w->dx = malloc(samples * sizeof(float));
    w->dx_model = w->models > 1 ? malloc(samples * sizeof(float)) : NULL;
    w->trial = malloc(samples * sizeof(float));
    if (!w->dx || !w->trial || (w->models > 1 && !w->dx_model))
        return sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory for %lld samples", (long long)samples);
    s = dream_limiter_init(&w->limiter, n, err);
    if (s != SONO_OK) return s;
    w->target_db = opt->step * SONO_DREAM_LEVEL_DB;
    return SONO_OK;
}

/* Each model's windows are padded with its own silence. */
static void prepare_models(wave_state *w) {
    for (int i = 0; i < w->models; i++) {
        wave_model *m = &w->model[i];
        const double floor_db = 10.0 * log10(m->c->features.log_floor);
        dream_prepare(&m->d, m->S, floor_db, peak_db_of(m->c, m->S, m->T), floor_db);
    }
}

sono_status dream_wave_ascent(sono_classifier *c, sono_frontend *fe, float *x, const float *base, int64_t n,
                              int channels, const sono_dream_options *opt, double ceiling, dream_segment_log *log,
                              sono_error *err) {
    wave_state w;
    sono_status s = wave_init(&w, c, fe, n, channels, opt, err);
    wave_model *lead = &w.model[0];
    float *x0 = s == SONO_OK ? malloc((size_t)n * channels * sizeof *x0) : NULL;
    if (s == SONO_OK && !x0) s = sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory");
    if (s == SONO_OK) memcpy(x0, base ? base : x, (size_t)n * channels * sizeof *x0);
    w.x0 = x0, w.ceiling = ceiling, w.log = log;
    if (s == SONO_OK) s = hear(&w, x, 0, err);
    if (s == SONO_OK) {
        w.peak_db = peak_db_of(c, lead->S, lead->T);
        prepare_models(&w);
        memcpy(log->input, lead->S, (size_t)lead->d.H * lead->T * sizeof(float));
        s = mean_objective(&w, &log->before, err);
    }
    uint64_t rng = opt->seed ^ 0x647265616d6a6974ull; /* "dreamjit", as the log-mel dream */
    int step = 0;
    const int total = lead->d.noct * opt->iterations;
    for (int k = lead->d.noct - 1; s == SONO_OK && k >= 0; k--) {
        for (int it = 0; s == SONO_OK && it < opt->iterations; it++) {
            dream_transform tr;
            dream_transform_draw(opt, &rng, &tr);
            double value = 0;
            s = sample_direction(&w, k, &tr, &value, err);
            const double target = dream_step_at(opt, step, total) * SONO_DREAM_LEVEL_DB;
            if (step > 0 && target != w.target_db) w.alpha *= target / w.target_db; /* the step shrinks */
            w.target_db = target;
            if (s == SONO_OK && step == 0) s = probe_step_length(&w, x, err);
            if (s == SONO_OK) s = take_step(&w, x, x, w.alpha, err);
            if (s != SONO_OK) break;
            double change = lead_change(&w);
            if (change > 0) {
                double steer = w.target_db / change;
                w.alpha *= steer < STEER_MIN ? STEER_MIN : steer > STEER_MAX ? STEER_MAX : steer;
            }
            for (int i = 0; i < w.models; i++) {
                float *swap = w.model[i].S;
                w.model[i].S = w.model[i].S_next, w.model[i].S_next = swap;
            }
            log->curve[step++] = value;
            if (log->progress && log->progress(log, step, value))
                s = sono_error_set(err, SONO_ERR_INTERRUPTED, "dream: interrupted");
        }
    }
    if (s == SONO_OK) s = mean_objective(&w, &log->after, err);
    if (s == SONO_OK) {
        memcpy(log->final, lead->S, (size_t)lead->d.H * lead->T * sizeof(float));
        log->windows = lead->d.oct[0].windows;
        log->layer = lead->d.layer;
    }
    wave_free(&w);
    free(x0);
    return s;
}
