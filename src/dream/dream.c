/* DeepDream on a standardised log-mel spectrogram: the options, jitter and
 * the ascent loop (the objectives, octaves and overlapping windows the
 * gradient goes through are in dream_state.c).
 *
 * Follows deepdream.ipynb (Google, 2015):
 *   make_step: roll by a random shift, gradient of the objective, roll back,
 *              img += step / mean|g| * g
 *   deepdream: octaves = successive resizes by 1/scale; from the coarsest,
 *              img = base + upsampled detail, make_step iter_n times,
 *              detail = img - base.
 * The roll here is along time only, and the network sees the spectrogram
 * through windows of its built width, cross-faded (see dream.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dream/dream_internal.h"

#define GRAD_EPS 1e-8

const char *sono_dream_objective_name(sono_dream_objective objective) {
    switch (objective) {
    case SONO_DREAM_LAYER: return "layer";
    case SONO_DREAM_CHANNEL: return "channel";
    case SONO_DREAM_CLASS: return "class";
    case SONO_DREAM_GUIDE: return "guide";
    case SONO_DREAM_GRAM: return "texture";
    }
    return "?";
}

void sono_dream_defaults(sono_dream_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->objective = SONO_DREAM_LAYER;
    opt->layer = -1;
    opt->octaves = 4;
    opt->octave_scale = 1.4;
    opt->iterations = 10;
    opt->step = 1.5;
    opt->jitter = 32;
    opt->smooth = 0;
    opt->overlap = 0.5;
    opt->headroom_db = 20;
    opt->seed = 1;
}

void sono_dream_report_free(sono_dream_report *r) {
    if (!r) return;
    free(r->objective);
    r->objective = NULL;
}

double dream_step_at(const sono_dream_options *opt, int i, int total) {
    if (!(opt->step_final > 0) || total < 2) return opt->step;
    return opt->step * pow(opt->step_final / opt->step, (double)i / (total - 1));
}

/* One ascent step of `step` levels on x at octave o; the gradient is
 * already in d->grad. */
static void dream_update(dream *d, const octave *o, float *x, double step) {
    const int h = o->h, t = o->t;
    sono_dream_blur(d->grad, h, t, d->opt.smooth, d->tmp);
    double mean_abs = 0; /* of the gradient in dB units, so the step is in dB (levels) */
    for (int m = 0; m < h; m++) {
        const float *row = d->grad + (size_t)m * t;
        double s = 0;
        for (int j = 0; j < t; j++) s += fabsf(row[j]);
        mean_abs += s * o->std[m];
    }
    mean_abs /= (double)h * t;
    float scale = (float)(step * SONO_DREAM_LEVEL_DB / (mean_abs + GRAD_EPS));
    for (int m = 0; m < h; m++) {
        float *xr = x + (size_t)m * t;
        const float *gr = d->grad + (size_t)m * t;
        float lo = o->lo[m], hi = o->hi[m];
        for (int j = 0; j < t; j++) {
            float v = xr[j] + scale * gr[j];
            xr[j] = v < lo ? lo : v > hi ? hi : v;
        }
    }
}

sono_status dream_step_gradient(dream *d, int k, const float *x, const dream_transform *tr, double *objective,
                                sono_error *err) {
    const octave *o = &d->oct[k];
    const float *seen = x;
    if (dream_transform_active(tr)) {
        dream_transform_apply(tr, &d->opt, o, d->H, x, d->seen);
        seen = d->seen;
    }
    sono_status s = dream_ensemble_gradient(d, k, seen, tr->roll, 1, objective, err);
    if (s == SONO_OK) dream_transform_adjoint(tr, o, d->H, d->grad, d->tmp);
    if (s == SONO_OK) dream_content_pull(d, o, x);
    return s;
}

sono_status sono_dream_objective_value(sono_classifier *c, const float *input, int frames,
                                       const sono_dream_options *opt, double *value, sono_error *err) {
    if (!c || !input || !opt || frames < 1)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: empty input");
    sono_dream_options one = *opt;
    one.octaves = 1;
    dream d;
    sono_status s = dream_init(&d, c, &one, frames, err);
    if (s == SONO_OK) s = dream_members_init(&d, &one, frames, err);
    if (s == SONO_OK) {
        double floor_db = 10.0 * log10(c->features.log_floor);
        dream_prepare(&d, input, floor_db, floor_db, floor_db);
        dream_members_prepare(&d, floor_db);
        s = dream_ensemble_gradient(&d, 0, input, 0, 0, value, err);
    }
    dream_free(&d);
    return s;
}

sono_status sono_dream_run(sono_classifier *c, const float *input, int frames,
                           const sono_dream_options *opt, float *out, sono_dream_report *report,
                           sono_error *err) {
    if (report) memset(report, 0, sizeof *report);
    if (!c || !input || !out || !opt || frames < 1)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: empty input");
    const int H = c->features.n_mels;
    const size_t cells = (size_t)H * (size_t)frames;
    /* Clip range in dB: from the log floor (silence, as the features saw it)
     * to `headroom` above the input's loudest cell. */
    double floor_db = 10.0 * log10(c->features.log_floor), max_db = -INFINITY;
    for (int m = 0; m < H; m++)
        for (int j = 0; j < frames; j++) {
            double v = (double)input[(size_t)m * frames + j] * c->norm_std[m] + c->norm_mean[m];
            if (!isfinite(v)) return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the input is not finite");
            if (v > max_db) max_db = v;
        }
    double hi_db = (max_db > floor_db ? max_db : floor_db) + opt->headroom_db;
    dream d;
    sono_status s = dream_init(&d, c, opt, frames, err);
    if (s == SONO_OK) s = dream_members_init(&d, opt, frames, err);
    double *curve = NULL;
    if (s == SONO_OK && !(curve = malloc((size_t)opt->octaves * opt->iterations * sizeof *curve)))
        s = sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory");
    double before = 0;
    if (s == SONO_OK) {
        dream_prepare(&d, input, floor_db, hi_db, floor_db);
        dream_members_prepare(&d, floor_db);
        s = dream_ensemble_gradient(&d, 0, input, 0, 0, &before, err);
    }
    uint64_t rng = opt->seed ^ 0x647265616d6a6974ull; /* "dreamjit" */
    const int total = opt->octaves * opt->iterations;
    int step = 0;
    for (int k = d.noct - 1; s == SONO_OK && k >= 0; k--) {
        const octave *o = &d.oct[k];
        const size_t n = (size_t)o->h * o->t;
        if (k == d.noct - 1) {
            memcpy(d.x, o->base, n * sizeof(float));
        } else {
            const octave *p = &d.oct[k + 1];
            sono_dream_resize(d.detail, p->h, p->t, d.tmp, o->h, o->t);
            for (size_t i = 0; i < n; i++) d.x[i] = o->base[i] + d.tmp[i];
        }
        for (int it = 0; s == SONO_OK && it < opt->iterations; it++) {
            dream_transform tr;
            dream_transform_draw(opt, &rng, &tr);
            double value = 0;
            s = dream_step_gradient(&d, k, d.x, &tr, &value, err);
            if (s != SONO_OK) break;
            dream_update(&d, o, d.x, dream_step_at(opt, step, total));
            curve[step++] = value;
            if (opt->progress && opt->progress(step, total, value, opt->progress_user))
                s = sono_error_set(err, SONO_ERR_INTERRUPTED, "dream: interrupted");
        }
        for (size_t i = 0; i < n; i++) d.detail[i] = d.x[i] - o->base[i];
    }
    double after = 0;
    if (s == SONO_OK) s = dream_ensemble_gradient(&d, 0, d.x, 0, 0, &after, err);
    if (s == SONO_OK) {
        memcpy(out, d.x, cells * sizeof(float));
        if (report) {
            double change = 0;
            for (int m = 0; m < H; m++) {
                double row = 0;
                for (int j = 0; j < frames; j++)
                    row += fabsf(out[(size_t)m * frames + j] - input[(size_t)m * frames + j]);
                change += row * c->norm_std[m];
            }
            report->layer = d.layer;
            report->steps = total;
            report->objective = curve;
            curve = NULL;
            report->objective_before = before;
            report->objective_after = after;
            report->windows = d.oct[0].windows;
            report->clip_low_db = floor_db;
            report->clip_high_db = hi_db;
            report->mean_change_db = change / (double)cells;
        }
    }
    free(curve);
    dream_free(&d);
    return s;
}
