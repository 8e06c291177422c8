/* The guided dream: the input grows the features of another recording.
 *
 * DeepDream's "controlling dreams" (deepdream.ipynb, objective_guide): the
 * guide is heard once at the dream's layer, and each of its positions (one
 * vector of the layer's channels per row and column of the layer's output)
 * is kept. At every step each position of the input's activations is
 * matched with the guide position of the largest dot product, and the
 * objective is the mean over input positions of that dot product; its
 * gradient at a position is the matched guide vector. The ascent therefore
 * pulls every part of the input toward the part of the guide it already
 * resembles most.
 *
 * With same_row, a position is matched only among the guide's positions on
 * the same row of the layer's output (the same frequency region, scaled to
 * the octave's height), so the guide's features arrive at their own pitch.
 *
 * The guide is heard through windows of the net's built width, spread
 * evenly over its first SONO_DREAM_EXAMPLE_SECONDS (at most
 * SONO_DREAM_GUIDE_WINDOWS; example.c), so its size, and the cost of a
 * match, do not grow with its length. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dream/dream_internal.h"

/* Input positions matched per matrix product: bounds the scratch to
 * GUIDE_BLOCK x (guide positions) floats. */
#define GUIDE_BLOCK 128

void sono_dream_guide_free(sono_dream_guide *g) {
    if (!g) return;
    free(g->features);
    free(g->row_start);
    free(g);
}

int sono_dream_guide_layer(const sono_dream_guide *g) { return g ? g->layer : -1; }

int sono_dream_guide_positions(const sono_dream_guide *g) { return g ? g->count : 0; }

/* Copy the positions of one window's output (C, h, w) into the guide's
 * row-major store: row r's positions of window b start at
 * row_start[r] + b * w. */
static void keep_positions(sono_dream_guide *g, const float *out, sono_shape shape, int b) {
    const int C = shape.c, h = shape.h, w = shape.w;
    const size_t plane = (size_t)h * w;
    for (int r = 0; r < h; r++)
        for (int j = 0; j < w; j++) {
            float *dst = g->features + ((size_t)g->row_start[r] + (size_t)b * w + j) * C;
            const float *src = out + (size_t)r * w + j;
            for (int c = 0; c < C; c++) dst[c] = src[(size_t)c * plane];
        }
}

sono_status sono_dream_guide_new(sono_classifier *c, const float *logmel_std, int frames, int layer,
                                 sono_dream_guide **out, sono_error *err) {
    *out = NULL;
    if (!c || !logmel_std) return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: guide: no model or no input");
    sono_net *net = c->net;
    const sono_shape in = sono_net_input_shape(net);
    const int H = in.h, count = sono_net_layer_count(net);
    if (layer < 0) layer = sono_dream_default_layer(net);
    if (layer >= count)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: guide: layer index %d must be in 0..%d", layer,
                              count - 1);
    const int width = dream_hearing_width(c, layer, frames, "guide", err);
    if (width == 0) return SONO_ERR_ARGUMENT;
    for (size_t i = 0; i < (size_t)H * frames; i++)
        if (!isfinite(logmel_std[i])) return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the guide is not finite");
    if (dream_is_silent(c, logmel_std, frames))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the guide is silent: nothing to grow toward");
    int windows = (frames + width - 1) / width;
    if (windows > SONO_DREAM_GUIDE_WINDOWS) windows = SONO_DREAM_GUIDE_WINDOWS;
    const int batch = sono_net_max_batch(net);
    sono_dream_guide *g = calloc(1, sizeof *g);
    float *bin = malloc((size_t)batch * H * width * sizeof *bin);
    sono_status s = g && bin ? SONO_OK : sono_error_set(err, SONO_ERR_MEMORY, "dream: guide: out of memory");
    for (int i0 = 0; s == SONO_OK && i0 < windows; i0 += batch) {
        const int nb = windows - i0 < batch ? windows - i0 : batch;
        for (int b = 0; b < nb; b++) {
            const int start = dream_spread_window_start(i0 + b, windows, frames, width);
            for (int m = 0; m < H; m++)
                memcpy(bin + ((size_t)b * H + m) * width, logmel_std + (size_t)m * frames + start, width * sizeof *bin);
        }
        const float *y;
        sono_shape shape;
        s = sono_net_forward_to(net, bin, nb, H, width, layer, &y, &shape, err);
        if (s != SONO_OK) break;
        if (!g->features) { /* the first pass gives the layer's shape */
            g->layer = layer, g->channels = shape.c, g->rows = shape.h;
            g->count = windows * shape.h * shape.w;
            g->features = malloc((size_t)g->count * shape.c * sizeof *g->features);
            g->row_start = malloc((size_t)(shape.h + 1) * sizeof *g->row_start);
            if (!g->features || !g->row_start) {
                s = sono_error_set(err, SONO_ERR_MEMORY, "dream: guide: out of memory for %d positions", g->count);
                break;
            }
            for (int r = 0; r <= shape.h; r++) g->row_start[r] = r * windows * shape.w;
        }
        const size_t per = (size_t)shape.c * shape.h * shape.w;
        for (int b = 0; b < nb; b++) keep_positions(g, y + b * per, shape, i0 + b);
    }
    free(bin);
    if (s != SONO_OK) {
        sono_dream_guide_free(g);
        return s;
    }
    g->net = net;
    *out = g;
    return SONO_OK;
}

sono_status sono_dream_guide_from_recording(sono_classifier *c, const sono_recording *guide, int layer,
                                            sono_dream_guide **out, sono_error *err) {
    *out = NULL;
    float *S = NULL;
    int frames = 0;
    sono_status s = dream_hear_recording(c, guide, &S, &frames, err);
    if (s == SONO_OK) s = sono_dream_guide_new(c, S, frames, layer, out, err);
    free(S);
    return s;
}

/* Match positions p0 .. p0 + np - 1 of y (C, P) against guide positions
 * [first, last): each position's best dot product is added to the sum
 * returned, and its gradient (the matched guide vector / P) written to d. */
static double match_positions(const objective_ctx *o, const float *y, float *d, int P, int p0, int np, int first,
                              int last) {
    const sono_dream_guide *g = o->guide;
    const int C = g->channels, count = last - first;
    const float *G = g->features + (size_t)first * C;
    const float inv = 1.0f / (float)P;
    double total = 0;
    for (int b0 = 0; b0 < np; b0 += GUIDE_BLOCK) {
        const int nb = np - b0 < GUIDE_BLOCK ? np - b0 : GUIDE_BLOCK;
        /* dots (nb, count) = y[:, p]^T (nb, C) x G^T (C, count) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasTrans, nb, count, C, 1.0f, y + p0 + b0, P, G, C, 0.0f,
                    o->scratch, count);
        for (int i = 0; i < nb; i++) {
            const float *row = o->scratch + (size_t)i * count;
            int best = 0;
            for (int k = 1; k < count; k++)
                if (row[k] > row[best]) best = k;
            total += row[best];
            const float *v = G + (size_t)best * C;
            const int p = p0 + b0 + i;
            for (int c = 0; c < C; c++) d[(size_t)c * P + p] = v[c] * inv;
        }
    }
    return total / P;
}

/* The guide objective of one window's output y (C, h, w): the mean over
 * positions of the best dot product with the guide; d gets its gradient. */
double dream_guide_top_grad(const objective_ctx *o, const float *y, float *d, sono_shape shape) {
    const sono_dream_guide *g = o->guide;
    const int P = shape.h * shape.w;
    if (!o->same_row) return match_positions(o, y, d, P, 0, P, 0, g->count);
    double total = 0;
    for (int r = 0; r < shape.h; r++) {
        int gr = (int)((r + 0.5) * g->rows / shape.h);
        if (gr >= g->rows) gr = g->rows - 1;
        total += match_positions(o, y, d, P, r * shape.w, shape.w, g->row_start[gr], g->row_start[gr + 1]);
    }
    return total;
}

sono_status dream_guide_init(objective_ctx *o, const sono_dream_options *opt, const sono_net *net, int layer,
                             sono_error *err) {
    const sono_dream_guide *g = opt->guide;
    if (!g) return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the guide objective needs a guide");
    if (g->net != net)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the guide was heard by another model");
    if (g->layer != layer)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the guide was heard at layer %s, the dream is at %s",
                              sono_net_layer(net, g->layer)->name, sono_net_layer(net, layer)->name);
    if (opt->ensemble_count > 0)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: a guided dream dreams with one model (no ensemble)");
    o->guide = g;
    o->same_row = opt->guide_same_row;
    o->scratch = malloc((size_t)GUIDE_BLOCK * g->count * sizeof *o->scratch);
    if (!o->scratch) return sono_error_set(err, SONO_ERR_MEMORY, "dream: guide: out of memory");
    return SONO_OK;
}

sono_status sono_dream_guide_load(sono_classifier *c, const char *path, int layer, sono_dream_guide **out,
                                  sono_error *err) {
    *out = NULL;
    sono_recording rec;
    sono_status s = dream_read_heard_part(path, &rec, err);
    if (s == SONO_OK) {
        s = sono_dream_guide_from_recording(c, &rec, layer, out, err);
        if (s != SONO_OK) sono_error_prefix(err, "%s: ", path);
    }
    free(rec.samples);
    return s;
}
