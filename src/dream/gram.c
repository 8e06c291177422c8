/* Textures and styles: the Gram objective.
 *
 * A layer's Gram matrix is the correlation of its channels over positions,
 * G = Y Y^T / P for the layer's output Y (C channels x P positions): what
 * is present, and what goes with what, wherever it happens (Gatys et al.
 * 2015; for sound Ulyanov and Lebedev 2016). The example is heard window by
 * window (the net's built width, non-overlapping windows spread over it),
 * and its Gram is the mean of its windows' Grams: a sum over time, so any
 * length is heard in one window's memory. The ascent climbs
 *     - sum over layers of w_l * |G_l(window) - T_l|^2 / |T_l|^2
 * for every window of the dream, so each window of the output, whatever
 * its length, takes the example's statistics. The squared error is taken
 * relative to the target's own size, so a weight means the same at every
 * layer. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dream/dream_internal.h"

void sono_dream_gram_free(sono_dream_gram *g) {
    if (!g) return;
    for (int i = 0; i < g->count; i++) free(g->target[i]);
    free(g);
}

int sono_dream_gram_layers(const sono_dream_gram *g, int *layers, double *weights) {
    if (!g) return 0;
    for (int i = 0; i < g->count; i++) {
        if (layers) layers[i] = g->layers[i];
        if (weights) weights[i] = g->weights[i];
    }
    return g->count;
}

/* The default layers: every convolution (a texture is local). */
static int default_layers(const sono_net *net, int *layers, double *weights) {
    int count = 0;
    for (int i = 0; i < sono_net_layer_count(net) && count < SONO_DREAM_GRAM_MAX_LAYERS; i++)
        if (sono_net_layer(net, i)->type == SONO_LAYER_CONV) layers[count] = i, weights[count++] = 1.0;
    return count;
}

static sono_status check_layers(const sono_net *net, const int *layers, const double *weights, int count,
                                sono_error *err) {
    if (count < 1 || count > SONO_DREAM_GRAM_MAX_LAYERS)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: a texture takes 1..%d layers (got %d)",
                              SONO_DREAM_GRAM_MAX_LAYERS, count);
    for (int i = 0; i < count; i++) {
        if (layers[i] < 0 || layers[i] >= sono_net_layer_count(net) || (i && layers[i] <= layers[i - 1]))
            return sono_error_set(err, SONO_ERR_ARGUMENT,
                                  "dream: a texture's layers must be distinct, in the net's order");
        sono_layer_type t = sono_net_layer(net, layers[i])->type;
        if (t == SONO_LAYER_FLATTEN || t == SONO_LAYER_DENSE)
            return sono_error_set(err, SONO_ERR_ARGUMENT,
                                  "dream: layer %s has no positions to correlate (a texture needs a layer before "
                                  "flatten)", sono_net_layer(net, layers[i])->name);
        if (!(weights[i] > 0 && weights[i] <= 1e6))
            return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: layer %s's weight must be in (0, 1e6] (got %g)",
                                  sono_net_layer(net, layers[i])->name, weights[i]);
    }
    return SONO_OK;
}

/* gram (C, C) += Y Y^T / P for y (C, P). */
static void add_gram(float *gram, const float *y, int C, int P, float scale) {
    cblas_ssyrk(CblasRowMajor, CblasUpper, CblasNoTrans, C, P, scale / (float)P, y, P, 1.0f, gram, C);
}

/* ssyrk fills the upper triangle: mirror it. */
static void symmetrise(float *gram, int C) {
    for (int i = 0; i < C; i++)
        for (int j = 0; j < i; j++) gram[(size_t)i * C + j] = gram[(size_t)j * C + i];
}

/* The mean Gram of `windows` windows of the standardised log-mel at every
 * layer of g (layers, weights and count set). */
static sono_status hear_example(sono_classifier *c, const float *logmel_std, int frames, sono_dream_gram *g,
                                sono_error *err) {
    sono_net *net = c->net;
    const int H = sono_net_input_shape(net).h;
    const int W = dream_hearing_width(c, g->layers[g->count - 1], frames, "example", err);
    if (W == 0) return SONO_ERR_ARGUMENT;
    const int windows = (frames + W - 1) / W;
    float *bin = malloc((size_t)H * W * sizeof *bin);
    if (!bin) return sono_error_set(err, SONO_ERR_MEMORY, "dream: texture: out of memory");
    sono_status s = SONO_OK;
    for (int i = 0; s == SONO_OK && i < windows; i++) {
        const int start = dream_spread_window_start(i, windows, frames, W);
        for (int m = 0; m < H; m++)
            memcpy(bin + (size_t)m * W, logmel_std + (size_t)m * frames + start, W * sizeof *bin);
        const int last = g->layers[g->count - 1];
        sono_shape shapes[SONO_NET_MAX_LAYERS];
        s = sono_net_forward_to(net, bin, 1, H, W, last, NULL, NULL, err);
        if (s == SONO_OK) s = sono_net_layer_shapes(net, H, W, last, shapes, err);
        for (int l = 0; s == SONO_OK && l < g->count; l++) {
            const sono_layer_info *li = sono_net_layer(net, g->layers[l]);
            const float *out = sono_net_layer_output(net, g->layers[l]);
            const sono_shape sh = shapes[g->layers[l]];
            if (!g->target[l]) {
                g->channels[l] = li->out.c;
                g->target[l] = calloc((size_t)li->out.c * li->out.c, sizeof(float));
                if (!g->target[l]) s = sono_error_set(err, SONO_ERR_MEMORY, "dream: texture: out of memory");
            }
            if (s == SONO_OK) add_gram(g->target[l], out, sh.c, sh.h * sh.w, 1.0f / (float)windows);
        }
    }
    free(bin);
    for (int l = 0; s == SONO_OK && l < g->count; l++) {
        const int C = g->channels[l];
        symmetrise(g->target[l], C);
        double norm = 0;
        for (size_t i = 0; i < (size_t)C * C; i++) norm += (double)g->target[l][i] * g->target[l][i];
        if (!(norm > 1e-30))
            s = sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the example is silent at layer %s: no texture to match",
                               sono_net_layer(net, g->layers[l])->name);
        g->norm[l] = norm;
    }
    return s;
}

sono_status sono_dream_gram_new(sono_classifier *c, const float *logmel_std, int frames, const int *layers,
                                const double *weights, int count, sono_dream_gram **out, sono_error *err) {
    *out = NULL;
    if (!c || !logmel_std) return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: texture: no model or no example");
    for (size_t i = 0; i < (size_t)c->features.n_mels * frames; i++)
        if (!isfinite(logmel_std[i])) return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the example is not finite");
    if (dream_is_silent(c, logmel_std, frames))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the example is silent: no texture to match");
    sono_dream_gram *g = calloc(1, sizeof *g);
    if (!g) return sono_error_set(err, SONO_ERR_MEMORY, "dream: texture: out of memory");
    g->net = c->net;
    if (layers) {
        g->count = count;
        sono_status s = check_layers(c->net, layers, weights, count, err);
        if (s != SONO_OK) {
            free(g);
            return s;
        }
        memcpy(g->layers, layers, (size_t)count * sizeof *layers);
        memcpy(g->weights, weights, (size_t)count * sizeof *weights);
    } else if ((g->count = default_layers(c->net, g->layers, g->weights)) == 0) {
        free(g);
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the model has no convolution for a texture");
    }
    sono_status s = hear_example(c, logmel_std, frames, g, err);
    if (s != SONO_OK) {
        sono_dream_gram_free(g);
        return s;
    }
    *out = g;
    return SONO_OK;
}

sono_status sono_dream_gram_from_recording(sono_classifier *c, const sono_recording *example, const int *layers,
                                           const double *weights, int count, sono_dream_gram **out,
                                           sono_error *err) {
    *out = NULL;
    float *S = NULL;
    int frames = 0;
    sono_status s = dream_hear_recording(c, example, &S, &frames, err);
    if (s == SONO_OK) s = sono_dream_gram_new(c, S, frames, layers, weights, count, out, err);
    free(S);
    return s;
}

sono_status sono_dream_gram_load(sono_classifier *c, const char *path, const int *layers, const double *weights,
                                 int count, sono_dream_gram **out, sono_error *err) {
    *out = NULL;
    sono_recording rec = {0};
    sono_status s = dream_read_heard_part(path, &rec, err);
    if (s == SONO_OK) {
        s = sono_dream_gram_from_recording(c, &rec, layers, weights, count, out, err);
        if (s != SONO_OK) sono_error_prefix(err, "%s: ", path);
    }
    free(rec.samples);
    return s;
}

/* ---- the objective ---- */

sono_status dream_gram_init(objective_ctx *o, const sono_dream_options *opt, const sono_net *net, sono_error *err) {
    const sono_dream_gram *g = opt->gram;
    if (!g) return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the texture objective needs an example (gram)");
    if (g->net != net) return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the example was heard by another model");
    if (opt->ensemble_count > 0)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: a texture or style dreams with one model (no ensemble)");
    int most = 0;
    for (int l = 0; l < g->count; l++) most = g->channels[l] > most ? g->channels[l] : most;
    o->gram = g;
    o->scratch = malloc((size_t)most * most * sizeof *o->scratch);
    if (!o->scratch) return sono_error_set(err, SONO_ERR_MEMORY, "dream: texture: out of memory");
    return SONO_OK;
}

/* Layer `which` of the Gram objective for a batch of windows: adds the
 * gradient of -w |G - T|^2 / |T|^2 into dout, returns its sum over the
 * batch. d/dY |G - T|^2 = 4 (G - T) Y / P for G = Y Y^T / P. */
double dream_gram_layer_grad(int which, float *dout, const float *out, int batch, sono_shape shape, void *user) {
    const objective_ctx *o = user;
    const sono_dream_gram *g = o->gram;
    const int C = shape.c, P = shape.h * shape.w;
    const float *T = g->target[which];
    const double w = g->weights[which] / g->norm[which];
    float *D = o->scratch;
    double total = 0;
    for (int n = 0; n < batch; n++) {
        const float *y = out + (size_t)n * C * P;
        float *d = dout + (size_t)n * C * P;
        memset(D, 0, (size_t)C * C * sizeof *D);
        add_gram(D, y, C, P, 1.0f);
        symmetrise(D, C);
        double loss = 0;
        for (size_t i = 0; i < (size_t)C * C; i++) {
            D[i] -= T[i];
            loss += (double)D[i] * D[i];
        }
        total -= w * loss;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, C, P, C, (float)(-4.0 * w / P), D, C, y, P, 1.0f, d,
                    P);
    }
    return total;
}

void dream_content_pull(dream *d, const octave *o, const float *x) {
    const double weight = d->opt.content_weight;
    if (!(weight > 0)) return;
    const int h = o->h, t = o->t;
    const double per_cell = 1.0 / ((double)h * t * CONTENT_DB * CONTENT_DB);
    for (int m = 0; m < h; m++) {
        const double sd = o->std[m];
        const float k = (float)(-2.0 * weight * per_cell * sd * sd);
        const float *xr = x + (size_t)m * t, *br = o->base + (size_t)m * t;
        float *gr = d->grad + (size_t)m * t;
        for (int j = 0; j < t; j++) gr[j] += k * (xr[j] - br[j]);
    }
}
