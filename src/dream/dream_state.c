/* The dream's state and the gradient through the network: objectives,
 * the octaves' plan, the buffers (dream_init, dream_free), the octave bases
 * (dream_prepare), and the gradient of the objective over overlapping,
 * cross-faded windows (dream_gradient). Used by the log-mel ascent
 * (dream.c), the ensemble (ensemble.c) and the wave ascent (wave_ascent.c);
 * calls none of them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dream/dream_internal.h"

/* Floor of the cross-fade weight: every column stays covered by a non-zero
 * weight, and where one window alone covers a column its gradient is taken
 * as is. */
#define FADE_FLOOR 1e-3f

/* ---- objectives: the gradient at the layer's output ---- */

/* Sets dout (batch, shape) and returns the SUM over the batch of each
 * sample's objective (the caller averages over windows). */
double dream_objective_top_grad(float *dout, const float *out, int batch, sono_shape shape,
                                 void *user) {
    const objective_ctx *o = user;
    size_t plane = (size_t)shape.h * shape.w, per = (size_t)shape.c * plane;
    double total = 0;
    for (int n = 0; n < batch; n++) {
        const float *y = out + (size_t)n * per;
        float *d = dout + (size_t)n * per;
        if (o->kind == SONO_DREAM_GUIDE) {
            total += dream_guide_top_grad(o, y, d, shape);
        } else if (o->kind == SONO_DREAM_LAYER) {
            /* mean(y^2): d/dy = 2y / count */
            double s = 0;
            float g = 2.0f / (float)per;
            for (size_t i = 0; i < per; i++) {
                s += (double)y[i] * y[i];
                d[i] = g * y[i];
            }
            total += s / (double)per;
        } else {
            int ch = o->kind == SONO_DREAM_CHANNEL ? o->channel : o->class_index;
            memset(d, 0, per * sizeof(float));
            const float *yc = y + (size_t)ch * plane;
            float *dc = d + (size_t)ch * plane;
            double s = 0;
            float g = 1.0f / (float)plane;
            for (size_t i = 0; i < plane; i++) {
                s += yc[i];
                dc[i] = g;
            }
            total += s / (double)plane;
        }
    }
    return total;
}



static int clamp_round(double v) {
    long r = lround(v);
    return r < 1 ? 1 : (int)r;
}

static void plan_octave(const dream *d, octave *o, int k, int T) {
    double f = pow(d->opt.octave_scale, k);
    o->h = k ? clamp_round(d->H / f) : d->H;
    o->t = k ? clamp_round(T / f) : T;
    int w = k ? clamp_round(d->W / f) : d->W;
    /* Windows overlap by as many frames as two built windows would. */
    o->ramp = (int)lround(w * d->opt.overlap);
    o->per_call = d->batch;
    if (d->full) {
        /* A dense part needs the whole window, padded with silence. */
        o->ww = w;
    } else {
        /* A convolutional part takes any width: one wide window as large as
         * the buffers hold (the batch's worth) sees a long input in few
         * pieces, so fewer frames are computed twice; a short input is one
         * narrow window. */
        int wide = sono_net_max_width(d->net, o->h, d->layer);
        if (wide > d->batch * d->W) wide = d->batch * d->W;
        if (wide < w) wide = w;
        o->ww = o->t < wide ? o->t : wide;
        if (o->ww > w) o->per_call = 1;
    }
    if (o->ramp > o->ww / 2) o->ramp = o->ww / 2;
    o->hop = o->ww - o->ramp < 1 ? 1 : o->ww - o->ramp;
    o->windows = o->t <= o->ww ? 1 : 1 + (o->t - o->ww + o->hop - 1) / o->hop;
}

static int window_start(const octave *o, int i) {
    if (o->t <= o->ww) return 0;
    int s = i * o->hop;
    return s > o->t - o->ww ? o->t - o->ww : s;
}

static sono_status check_options(const sono_classifier *c, const sono_dream_options *opt, int *layer,
                                 sono_error *err) {
    const sono_net *net = c->net;
    int count = sono_net_layer_count(net);
    if (opt->octaves < 1 || opt->octaves > DREAM_MAX_OCTAVES)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: octaves must be in 1..%d (got %d)",
                              DREAM_MAX_OCTAVES, opt->octaves);
    if (!(opt->octave_scale >= 1.0 && opt->octave_scale <= 8.0))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: octave scale must be in [1, 8] (got %g)",
                              opt->octave_scale);
    if (opt->iterations < 1 || opt->iterations > 100000)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: iterations must be in 1..100000 (got %d)",
                              opt->iterations);
    if (!(opt->step > 0 && opt->step <= 1000))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: step must be in (0, 1000] levels (got %g)", opt->step);
    if (!(opt->step_final >= 0 && opt->step_final <= 1000))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the final step must be in [0, 1000] levels (got %g)",
                              opt->step_final);
    if (opt->jitter < 0)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: jitter must be >= 0 (got %d)", opt->jitter);
    if (!(opt->smooth >= 0 && opt->smooth <= 16))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: smoothing sigma must be in [0, 16] (got %g)",
                              opt->smooth);
    if (!(opt->overlap >= 0 && opt->overlap <= 0.9))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: window overlap must be in [0, 0.9] (got %g)",
                              opt->overlap);
    if (!(opt->headroom_db >= 0 && opt->headroom_db <= 200))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: headroom must be in [0, 200] dB (got %g)",
                              opt->headroom_db);
    if (opt->band_shift < 0 || opt->band_shift > 16)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: band shift must be in 0..16 bands (got %d)",
                              opt->band_shift);
    if (!(opt->gain_db >= 0 && opt->gain_db <= 40))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: gain jitter must be in [0, 40] dB (got %g)", opt->gain_db);
    if (!(opt->noise_db >= 0 && opt->noise_db <= 40))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: noise must be in [0, 40] dB (got %g)", opt->noise_db);
    if (opt->ensemble_count < 0 || opt->ensemble_count > SONO_DREAM_MAX_ENSEMBLE ||
        (opt->ensemble_count > 0 && !opt->ensemble))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: an ensemble holds 0..%d further models (got %d)",
                              SONO_DREAM_MAX_ENSEMBLE, opt->ensemble_count);
    int l = opt->objective == SONO_DREAM_CLASS ? count - 1 : opt->layer < 0 ? sono_dream_default_layer(net)
                                                                             : opt->layer;
    if (opt->objective == SONO_DREAM_GRAM && opt->gram) l = opt->gram->layers[opt->gram->count - 1];
    if (!(opt->content_weight >= 0 && opt->content_weight <= 1e6))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the content weight must be in [0, 1e6] (got %g)",
                              opt->content_weight);
    if (l < 0 || l >= count)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: layer index %d must be in 0..%d", l, count - 1);
    const sono_layer_info *li = sono_net_layer(net, l);
    switch (opt->objective) {
    case SONO_DREAM_LAYER:
    case SONO_DREAM_GUIDE:
    case SONO_DREAM_GRAM: break;
    case SONO_DREAM_CHANNEL:
        if (opt->channel < 0 || opt->channel >= li->out.c)
            return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: channel %d is past layer %s's %d channels (0..%d)",
                                  opt->channel, li->name, li->out.c, li->out.c - 1);
        break;
    case SONO_DREAM_CLASS:
        if (opt->class_index < 0 || opt->class_index >= c->class_count)
            return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: class %d must be in 0..%d", opt->class_index,
                                  c->class_count - 1);
        break;
    default: return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: unknown objective %d", (int)opt->objective);
    }
    *layer = l;
    return SONO_OK;
}

void dream_free(dream *d) {
    for (int i = 0; i < d->members; i++) dream_free(&d->member[i]);
    free(d->member);
    for (int k = 0; k < DREAM_MAX_OCTAVES; k++) free(d->conv[k]);
    free(d->obj.scratch);
    free(d->mem);
    memset(d, 0, sizeof *d);
}

/* Plan the octaves and carve every buffer out of one allocation. */
sono_status dream_init(dream *d, sono_classifier *c, const sono_dream_options *opt, int T,
                              sono_error *err) {
    memset(d, 0, sizeof *d);
    d->c = c;
    d->net = c->net;
    d->opt = *opt;
    sono_status s = check_options(c, opt, &d->layer, err);
    if (s != SONO_OK) return s;
    d->obj = (objective_ctx){.kind = opt->objective, .channel = opt->channel, .class_index = opt->class_index};
    if (opt->objective == SONO_DREAM_GUIDE) s = dream_guide_init(&d->obj, opt, d->net, d->layer, err);
    if (opt->objective == SONO_DREAM_GRAM) s = dream_gram_init(&d->obj, opt, d->net, err);
    if (s != SONO_OK) return s;
    d->full = sono_dream_needs_full_window(d->net, d->layer);
    sono_shape in = sono_net_input_shape(d->net);
    d->H = in.h;
    d->W = in.w;
    d->batch = sono_net_max_batch(d->net);
    d->noct = opt->octaves;
    size_t HT = (size_t)d->H * (size_t)T, HW = (size_t)d->H * (size_t)d->W;
    size_t floats = 5 * HT + (size_t)T + (size_t)d->batch * d->W + 2 * (size_t)d->batch * HW + HW;
    for (int k = 0; k < d->noct; k++) {
        plan_octave(d, &d->oct[k], k, T);
        floats += (size_t)d->oct[k].h * d->oct[k].t + 5 * (size_t)d->oct[k].h;
    }
    if (floats > ((size_t)1 << 33))
        return sono_error_set(err, SONO_ERR_MEMORY, "dream: %d frames need too much memory", T);
    d->mem = malloc(floats * sizeof(float));
    if (!d->mem) return sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory (%zu MB)", floats * 4 >> 20);
    float *p = d->mem;
    d->x = p, p += HT;
    d->detail = p, p += HT;
    d->grad = p, p += HT;
    d->tmp = p, p += HT;
    d->seen = p, p += HT;
    d->wsum = p, p += T;
    d->fade = p, p += (size_t)d->batch * d->W;
    d->bin = p, p += (size_t)d->batch * HW;
    d->bgrad = p, p += (size_t)d->batch * HW;
    d->win = p, p += HW;
    for (int k = 0; k < d->noct; k++) {
        octave *o = &d->oct[k];
        o->base = p, p += (size_t)o->h * o->t;
        o->std = p, p += o->h;
        o->lo = p, p += o->h;
        o->hi = p, p += o->h;
        o->pad = p, p += o->h;
    }
    return SONO_OK;
}

/* Octave bases (successive resizes, as the notebook) and the per-band
 * vectors resized to each octave's bands. */
void dream_prepare(dream *d, const float *input, double lo_db, double hi_db, double floor_db) {
    const sono_classifier *c = d->c;
    octave *o0 = &d->oct[0];
    memcpy(o0->base, input, (size_t)o0->h * o0->t * sizeof(float));
    for (int m = 0; m < d->H; m++) {
        double mean = c->norm_mean[m], sd = c->norm_std[m];
        o0->std[m] = (float)sd;
        o0->lo[m] = (float)((lo_db - mean) / sd);
        o0->hi[m] = (float)((hi_db - mean) / sd);
        o0->pad[m] = (float)((floor_db - mean) / sd);
    }
    for (int k = 1; k < d->noct; k++) {
        octave *o = &d->oct[k], *p = &d->oct[k - 1];
        sono_dream_resize(p->base, p->h, p->t, o->base, o->h, o->t);
        sono_dream_resize(o0->std, d->H, 1, o->std, o->h, 1);
        sono_dream_resize(o0->lo, d->H, 1, o->lo, o->h, 1);
        sono_dream_resize(o0->hi, d->H, 1, o->hi, o->h, 1);
        sono_dream_resize(o0->pad, d->H, 1, o->pad, o->h, 1);
    }
}

static inline int wrap(int i, int n) {
    i %= n;
    return i < 0 ? i + n : i;
}

/* Gradient of the objective at image x (o->h, o->t) into d->grad, with the
 * image rolled by `roll` frames (np.roll: rolled[t] = x[t - roll]) and the
 * gradient rolled back. Windows go through the net `batch` at a time and
 * are cross-faded. *objective: mean over windows. With backward = 0 only
 * the objective is computed. */
sono_status dream_gradient(dream *d, const octave *o, const float *x, int roll, int backward,
                                  double *objective, sono_error *err) {
    const int h = o->h, t = o->t, ww = o->ww;
    const int ih = d->full ? d->H : h, iw = d->full ? d->W : ww; /* the net's input */
    const size_t isz = (size_t)ih * iw;
    /* Raised-sine ramps over the overlap at both ends, flat between: for a
     * window of the built width overlapping by half, one sin^2 arch. */
    for (int j = 0; j < ww; j++) {
        int edge = j < ww - 1 - j ? j : ww - 1 - j;
        double s = edge < o->ramp ? sin(0.5 * M_PI * (edge + 0.5) / o->ramp) : 1.0;
        d->fade[j] = (float)(s * s) + FADE_FLOOR;
    }
    if (backward) {
        memset(d->grad, 0, (size_t)h * t * sizeof(float));
        memset(d->wsum, 0, (size_t)t * sizeof(float));
    }
    double total = 0;
    for (int i0 = 0; i0 < o->windows; i0 += o->per_call) {
        int nb = o->windows - i0 < o->per_call ? o->windows - i0 : o->per_call;
        for (int b = 0; b < nb; b++) {
            int start = window_start(o, i0 + b);
            float *dst = d->full ? d->win : d->bin + (size_t)b * isz; /* (h, ww) */
            for (int m = 0; m < h; m++)
                for (int j = 0; j < ww; j++) {
                    int col = start + j;
                    dst[(size_t)m * ww + j] = col < t ? x[(size_t)m * t + wrap(col - roll, t)] : o->pad[m];
                }
            if (d->full) sono_dream_resize(d->win, h, ww, d->bin + (size_t)b * isz, ih, iw);
        }
        double value = 0;
        sono_status s;
        if (d->obj.kind == SONO_DREAM_GRAM) {
            /* Several layers: their gradients join on the way down (the
             * objective alone costs the same pass). */
            const sono_dream_gram *g = d->obj.gram;
            s = sono_net_input_gradient_layers(d->net, d->bin, nb, ih, iw, g->layers, g->count,
                                               dream_gram_layer_grad, &d->obj, d->bgrad, &value, err);
        } else if (backward) {
            s = sono_net_input_gradient(d->net, d->bin, nb, ih, iw, d->layer, dream_objective_top_grad, &d->obj,
                                        d->bgrad, &value, err);
        } else {
            const float *out;
            sono_shape shape;
            s = sono_net_forward_to(d->net, d->bin, nb, ih, iw, d->layer, &out, &shape, err);
            if (s == SONO_OK)
                value = dream_objective_top_grad(sono_net_top_grad_buffer(d->net), out, nb, shape, &d->obj);
        }
        if (s != SONO_OK) return s;
        total += value;
        for (int b = 0; backward && b < nb; b++) {
            int start = window_start(o, i0 + b);
            const float *g = d->bgrad + (size_t)b * isz;
            if (d->full) {
                sono_dream_resize(g, ih, iw, d->win, h, ww);
                g = d->win;
            }
            int cols = t - start < ww ? t - start : ww;
            for (int j = 0; j < cols; j++) d->wsum[wrap(start + j - roll, t)] += d->fade[j];
            for (int m = 0; m < h; m++) {
                float *row = d->grad + (size_t)m * t;
                const float *gr = g + (size_t)m * ww;
                for (int j = 0; j < cols; j++) row[wrap(start + j - roll, t)] += d->fade[j] * gr[j];
            }
        }
    }
    if (backward)
        for (int m = 0; m < h; m++) {
            float *row = d->grad + (size_t)m * t;
            for (int j = 0; j < t; j++) row[j] /= d->wsum[j];
        }
    *objective = total / o->windows;
    return SONO_OK;
}
