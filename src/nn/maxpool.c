/* Max-pool k x k, stride k, TensorFlow "SAME" padding: ceil(H/k) outputs,
 * the pad (out*k - in) split pad/2 before and the rest after, as in TF's
 * GetWindowedOutputSize; each window takes the max of its valid part. */
#include <string.h>

#include "sonodream/nn.h"

/* Rows up to this width take the two-stage path (its row buffers live on
 * the stack: no allocation in a pass); wider ones the plain scan. */
#define POOL_ROW_MAX 2048

/* First input row (or column) of output window i, and one past its last,
 * clipped to the input. */
static void window(int i, int k, int in, int out, int *lo, int *hi) {
    int before = (out * k - in) / 2;
    int start = i * k - before;
    int end = start + k;
    *lo = start < 0 ? 0 : start;
    *hi = end > in ? in : end;
}

/* The plain scan, first maximum in row-major order. */
static void pool_plane_wide(float *out, int32_t *argmax, const float *in, int H, int W, int k) {
    int Ho = sono_pool_out_size(H, k), Wo = sono_pool_out_size(W, k);
    for (int oy = 0; oy < Ho; oy++) {
        int y0, y1;
        window(oy, k, H, Ho, &y0, &y1);
        for (int ox = 0; ox < Wo; ox++) {
            int x0, x1;
            window(ox, k, W, Wo, &x0, &x1);
            int best = y0 * W + x0;
            float m = in[best];
            for (int y = y0; y < y1; y++)
                for (int x = x0; x < x1; x++)
                    if (in[y * W + x] > m) {
                        m = in[y * W + x];
                        best = y * W + x;
                    }
            out[oy * Wo + ox] = m;
            argmax[oy * Wo + ox] = best;
        }
    }
}

/* The second stage for unpadded rows (W = Wo * k) with a constant k (the
 * calls below), branch-free so that it vectorises. */
static inline void pick_columns(float *out, int32_t *argmax, const float *cm, const int32_t *cr,
                                int Wo, int W, int k) {
#pragma omp simd
    for (int ox = 0; ox < Wo; ox++) {
        float m = cm[ox * k];
        int32_t r = cr[ox * k], x = ox * k;
        for (int j = 1; j < k; j++) {
            float v = cm[ox * k + j];
            int32_t rj = cr[ox * k + j];
            int better = v > m || (v == m && rj < r);
            m = better ? v : m;
            r = better ? rj : r;
            x = better ? ox * k + j : x;
        }
        out[ox] = m;
        argmax[ox] = r * W + x;
    }
}

/* In two stages, so that the branchy part sees W values per output row
 * instead of k*W: first, per column x of the window rows, the maximum cm[x]
 * and the first row cr[x] that reaches it (a vectorisable select); then per
 * window, the column with the largest cm, on ties the smallest cr and then
 * the smallest x: the first maximum in row-major order, as one scan would
 * find it. `cm` and `cr` hold W entries. */
static void pool_plane(float *out, int32_t *argmax, const float *in, int H, int W, int k,
                       float *cm, int32_t *cr) {
    int Ho = sono_pool_out_size(H, k), Wo = sono_pool_out_size(W, k);
    for (int oy = 0; oy < Ho; oy++) {
        int y0, y1;
        window(oy, k, H, Ho, &y0, &y1);
        const float *first = in + (size_t)y0 * W;
        for (int x = 0; x < W; x++) cm[x] = first[x], cr[x] = y0;
        for (int y = y0 + 1; y < y1; y++) {
            const float *row = in + (size_t)y * W;
#pragma omp simd
            for (int x = 0; x < W; x++) {
                int better = row[x] > cm[x];
                cm[x] = better ? row[x] : cm[x];
                cr[x] = better ? y : cr[x];
            }
        }
        float *o = out + (size_t)oy * Wo;
        int32_t *a = argmax + (size_t)oy * Wo;
        if (W == Wo * k && k == 2) pick_columns(o, a, cm, cr, Wo, W, 2);
        else if (W == Wo * k && k == 4) pick_columns(o, a, cm, cr, Wo, W, 4);
        else
            for (int ox = 0; ox < Wo; ox++) {
                int x0, x1;
                window(ox, k, W, Wo, &x0, &x1);
                int best = x0;
                for (int x = x0 + 1; x < x1; x++)
                    if (cm[x] > cm[best] || (cm[x] == cm[best] && cr[x] < cr[best])) best = x;
                o[ox] = cm[best];
                a[ox] = cr[best] * W + best;
            }
    }
}

void sono_maxpool_forward(float *out, int32_t *argmax, const float *inp, int N, int C, int H,
                          int W, int k) {
    size_t hw = (size_t)H * W;
    size_t ohw = (size_t)sono_pool_out_size(H, k) * sono_pool_out_size(W, k);
    long planes = (long)N * C;
#pragma omp parallel
    {
        float cm[POOL_ROW_MAX];
        int32_t cr[POOL_ROW_MAX];
#pragma omp for schedule(static)
        for (long p = 0; p < planes; p++)
            if (W <= POOL_ROW_MAX) pool_plane(out + p * ohw, argmax + p * ohw, inp + p * hw, H, W, k, cm, cr);
            else pool_plane_wide(out + p * ohw, argmax + p * ohw, inp + p * hw, H, W, k);
    }
}

/* Windows do not overlap, so each input takes the gradient of at most one
 * output and planes can be written in parallel without races. */
void sono_maxpool_backward(float *dinp, const float *dout, const int32_t *argmax, int N, int C,
                           int H, int W, int k) {
    size_t hw = (size_t)H * W;
    size_t ohw = (size_t)sono_pool_out_size(H, k) * sono_pool_out_size(W, k);
    long planes = (long)N * C;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++) {
        float *d = dinp + p * hw;
        memset(d, 0, sizeof(float) * hw);
        for (size_t i = 0; i < ohw; i++) d[argmax[p * ohw + i]] = dout[p * ohw + i];
    }
}
