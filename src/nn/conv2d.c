/* 2-D convolution, stride 1, same padding: im2col + sgemm (darknet's
 * scheme), OpenMP over the batch with single-threaded BLAS.
 *
 * Each sample is processed in bands of output rows, so that the im2col
 * matrix of a band (C*k*k, rows*W) stays in cache between being written
 * and being read by sgemm (a whole 32-channel 128x128 sample would be 19 MB).
 *
 * Workspace layout (floats), for T = threads:
 *   T x [ col (C*k*k, band) | dpre (O, H*W) ]   per-thread scratch
 *   N x [ dweight (O, C*k*k) | dbias (O) ]      per-sample partial gradients
 * The partials are summed over samples in a fixed order, so the parameter
 * gradients are the same for any thread count. */
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "nn/nn_internal.h"

/* Target size of one band's im2col matrix: about half of a 1 MB L2. */
#define BAND_FLOATS (128 * 1024)

/* 3x3 layers with at least this many input channels use Winograd. */
#define WINOGRAD_MIN_CHANNELS 4

/* Output rows per band. */
static int band_rows(int C, int H, int W, int k) {
    size_t row = (size_t)C * k * k * W;
    size_t r = row ? BAND_FLOATS / row : (size_t)H;
    if (r < 1) r = 1;
    return r > (size_t)H ? H : (int)r;
}

static size_t thread_floats(int C, int H, int W, int O, int k) {
    size_t band = (size_t)band_rows(C, H, W, k) * W;
    return (size_t)C * k * k * band + (size_t)O * H * W;
}

static size_t sample_partial_floats(int C, int O, int k) {
    return (size_t)O * C * k * k + (size_t)O;
}

static size_t im2col_workspace_floats(int N, int C, int H, int W, int O, int k, int threads) {
    return (size_t)threads * thread_floats(C, H, W, O, k) + (size_t)N * sample_partial_floats(C, O, k);
}

size_t sono_conv2d_workspace_floats(int N, int C, int H, int W, int O, int k, int threads) {
    size_t a = im2col_workspace_floats(N, C, H, W, O, k, threads);
    if (k != 3) return a;
    size_t b = sono_winograd_workspace_floats(N, C, H, W, O, threads);
    return a > b ? a : b;
}

sono_conv_algo sono_conv2d_algo(int C, int H, int W, int O, int k) {
    (void)H, (void)W, (void)O;
    return k == 3 && C >= WINOGRAD_MIN_CHANNELS ? SONO_CONV_WINOGRAD : SONO_CONV_IM2COL;
}

static int use_winograd(int C, int H, int W, int O, int k, sono_conv_algo algo) {
    if (k != 3) return 0;
    if (algo == SONO_CONV_AUTO) algo = sono_conv2d_algo(C, H, W, O, k);
    return algo == SONO_CONV_WINOGRAD || algo == SONO_CONV_WINOGRAD_PORTABLE;
}

/* Valid output columns [x0, x1) for horizontal offset dx = kx - p. */
static void col_range(int dx, int W, int *x0, int *x1) {
    *x0 = dx < 0 ? -dx : 0;
    *x1 = dx > 0 ? W - dx : W;
    if (*x1 < *x0) *x1 = *x0;
}

/* col (C*k*k, (y1-y0)*W): row (c, ky, kx) holds output rows y0..y1-1 of the
 * input shifted by (ky-p, kx-p), zero outside; memcpy/memset runs, not
 * per-element branches. */
static void im2col(float *col, const float *img, int C, int H, int W, int k, int y0, int y1) {
    int p = k / 2;
    size_t hw = (size_t)H * W, band = (size_t)(y1 - y0) * W;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *row = col + ((size_t)(c * k + ky) * k + kx) * band;
                const float *plane = img + (size_t)c * hw;
                int dx = kx - p, x0, x1;
                col_range(dx, W, &x0, &x1);
                for (int y = y0; y < y1; y++) {
                    float *dst = row + (size_t)(y - y0) * W;
                    int sy = y + ky - p;
                    if (sy < 0 || sy >= H || x1 == x0) {
                        memset(dst, 0, sizeof(float) * (size_t)W);
                        continue;
                    }
                    if (x0 > 0) memset(dst, 0, sizeof(float) * (size_t)x0);
                    memcpy(dst + x0, plane + (size_t)sy * W + x0 + dx, sizeof(float) * (size_t)(x1 - x0));
                    if (x1 < W) memset(dst + x1, 0, sizeof(float) * (size_t)(W - x1));
                }
            }
}

/* The adjoint of im2col for rows y0..y1-1: img += scatter of col. */
static void col2im(float *img, const float *col, int C, int H, int W, int k, int y0, int y1) {
    int p = k / 2;
    size_t hw = (size_t)H * W, band = (size_t)(y1 - y0) * W;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                const float *row = col + ((size_t)(c * k + ky) * k + kx) * band;
                float *plane = img + (size_t)c * hw;
                int dx = kx - p, x0, x1;
                col_range(dx, W, &x0, &x1);
                for (int y = y0; y < y1; y++) {
                    int sy = y + ky - p;
                    if (sy < 0 || sy >= H) continue;
                    const float *src = row + (size_t)(y - y0) * W;
                    float *dst = plane + (size_t)sy * W + dx;
                    for (int x = x0; x < x1; x++) dst[x] += src[x];
                }
            }
}

/* Columns [c0, c0+n) of out (O, hw) = act(out + bias), in place. */
static void bias_act(float *out, const float *bias, int O, size_t hw, size_t c0, size_t n,
                     sono_act act) {
    float slope = act == SONO_ACT_LRELU ? SONO_LRELU_SLOPE : 0.0f;
    for (int o = 0; o < O; o++) {
        float *row = out + (size_t)o * hw + c0;
        float b = bias ? bias[o] : 0.0f;
        if (act == SONO_ACT_NONE) {
            if (bias)
                for (size_t i = 0; i < n; i++) row[i] += b;
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            float v = row[i] + b;
            row[i] = v > 0.0f ? v : slope * v;
        }
    }
}

static void conv_forward_sample(float *out, const float *img, const float *weight,
                                const float *bias, int C, int H, int W, int O, int k, sono_act act,
                                float *col) {
    int hw = H * W, ckk = C * k * k;
    if (k == 1) { /* the input is its own im2col matrix */
        sono_sgemm_nn(O, hw, ckk, weight, ckk, img, hw, out, hw);
        bias_act(out, bias, O, (size_t)hw, 0, (size_t)hw, act);
        return;
    }
    int rows = band_rows(C, H, W, k);
    for (int y0 = 0; y0 < H; y0 += rows) {
        int y1 = y0 + rows < H ? y0 + rows : H, nb = (y1 - y0) * W;
        im2col(col, img, C, H, W, k, y0, y1);
        sono_sgemm_nn(O, nb, ckk, weight, ckk, col, nb, out + (size_t)y0 * W, hw);
        bias_act(out, bias, O, (size_t)hw, (size_t)y0 * W, (size_t)nb, act);
    }
}

void sono_conv2d_forward_with(float *out, const float *inp, const float *weight, const float *bias,
                              int N, int C, int H, int W, int O, int k, sono_act act, float *ws,
                              int threads, sono_conv_algo algo) {
    if (use_winograd(C, H, W, O, k, algo)) {
        sono_winograd_forward(out, inp, weight, bias, N, C, H, W, O, act, ws, threads,
                              algo == SONO_CONV_WINOGRAD_PORTABLE, NULL);
        return;
    }
    size_t hw = (size_t)H * W;
    size_t per_thread = thread_floats(C, H, W, O, k);
    int blas = sono_blas_single();
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int n = 0; n < N; n++)
        conv_forward_sample(out + (size_t)n * O * hw, inp + (size_t)n * C * hw, weight, bias, C, H,
                            W, O, k, act, ws + (size_t)omp_get_thread_num() * per_thread);
    sono_blas_restore(blas);
}

/* One sample's backward: partial parameter gradients into pw/pb, input
 * gradient into din (each skipped when NULL). Per band: im2col, dW += dpre
 * col^T, then the same buffer takes dcol = W^T dpre for col2im. */
static void conv_backward_sample(float *din, float *pw, float *pb, const float *dout,
                                 const float *out, const float *img, const float *weight, int C,
                                 int H, int W, int O, int k, sono_act act, float *scratch) {
    int hw = H * W, ckk = C * k * k;
    int rows = band_rows(C, H, W, k);
    float *col = scratch;                                               /* (C*k*k, band) */
    float *dpre_buf = scratch + (size_t)ckk * rows * W;                 /* (O, HW) */
    const float *dpre = sono_conv2d_act_grad(dpre_buf, pb, dout, out, O, (size_t)hw, act);
    if (k == 1) {
        if (pw)
            sono_sgemm_nt(O, ckk, hw, dpre, hw, img, hw, pw, ckk, 0);
        if (din)
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, hw, O, 1.0f, weight, ckk,
                        dpre, hw, 0.0f, din, hw);
        return;
    }
    if (din) memset(din, 0, sizeof(float) * (size_t)C * hw);
    for (int y0 = 0; y0 < H; y0 += rows) {
        int y1 = y0 + rows < H ? y0 + rows : H, nb = (y1 - y0) * W;
        const float *dband = dpre + (size_t)y0 * W; /* (O, nb) with row stride hw */
        if (pw) {
            im2col(col, img, C, H, W, k, y0, y1);
            sono_sgemm_nt(O, ckk, nb, dband, hw, col, nb, pw, ckk, y0 > 0);
        }
        if (din) {
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, nb, O, 1.0f, weight, ckk,
                        dband, hw, 0.0f, col, nb);
            col2im(din, col, C, H, W, k, y0, y1);
        }
    }
}

void sono_conv2d_backward_with(float *dinp, float *dweight, float *dbias, const float *dout,
                               const float *out, const float *inp, const float *weight, int N,
                               int C, int H, int W, int O, int k, sono_act act, float *ws,
                               int threads, sono_conv_algo algo) {
    if (use_winograd(C, H, W, O, k, algo)) {
        sono_winograd_backward(dinp, dweight, dbias, dout, out, inp, weight, N, C, H, W, O, act,
                               ws, threads, algo == SONO_CONV_WINOGRAD_PORTABLE, NULL);
        return;
    }
    size_t hw = (size_t)H * W;
    size_t per_thread = thread_floats(C, H, W, O, k);
    size_t stride = sample_partial_floats(C, O, k);
    size_t nw = (size_t)O * C * k * k;
    float *partials = ws + (size_t)threads * per_thread; /* (N, O*C*k*k + O) */
    int blas = sono_blas_single();
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int n = 0; n < N; n++) {
        float *scratch = ws + (size_t)omp_get_thread_num() * per_thread;
        float *part = partials + (size_t)n * stride;
        conv_backward_sample(dinp ? dinp + (size_t)n * C * hw : NULL, dweight ? part : NULL,
                             dbias ? part + nw : NULL, dout + (size_t)n * O * hw,
                             out + (size_t)n * O * hw, inp + (size_t)n * C * hw, weight, C, H, W,
                             O, k, act, scratch);
    }
    if (dweight) sono_conv2d_reduce(dweight, partials, stride, nw, N, threads);
    if (dbias) sono_conv2d_reduce(dbias, partials + nw, stride, (size_t)O, N, threads);
    sono_blas_restore(blas);
}

void sono_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                         int N, int C, int H, int W, int O, int k, sono_act act, float *ws,
                         int threads) {
    sono_conv2d_forward_with(out, inp, weight, bias, N, C, H, W, O, k, act, ws, threads,
                             SONO_CONV_AUTO);
}

void sono_conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                          const float *out, const float *inp, const float *weight, int N, int C,
                          int H, int W, int O, int k, sono_act act, float *ws, int threads) {
    sono_conv2d_backward_with(dinp, dweight, dbias, dout, out, inp, weight, N, C, H, W, O, k, act,
                              ws, threads, SONO_CONV_AUTO);
}

void sono_conv2d_forward_cached(float *out, const float *inp, const float *weight, const float *bias, int N, int C,
                                int H, int W, int O, int k, sono_act act, float *ws, int threads,
                                sono_wino_cache *cache) {
    if (cache && use_winograd(C, H, W, O, k, SONO_CONV_AUTO)) {
        sono_winograd_forward(out, inp, weight, bias, N, C, H, W, O, act, ws, threads, 0, cache);
        return;
    }
    sono_conv2d_forward_with(out, inp, weight, bias, N, C, H, W, O, k, act, ws, threads, SONO_CONV_AUTO);
}

void sono_conv2d_backward_cached(float *dinp, float *dweight, float *dbias, const float *dout, const float *out,
                                 const float *inp, const float *weight, int N, int C, int H, int W, int O, int k,
                                 sono_act act, float *ws, int threads, sono_wino_cache *cache) {
    if (cache && use_winograd(C, H, W, O, k, SONO_CONV_AUTO)) {
        sono_winograd_backward(dinp, dweight, dbias, dout, out, inp, weight, N, C, H, W, O, act, ws, threads, 0,
                               cache);
        return;
    }
    sono_conv2d_backward_with(dinp, dweight, dbias, dout, out, inp, weight, N, C, H, W, O, k, act, ws, threads,
                              SONO_CONV_AUTO);
}

sono_wino_cache *sono_wino_cache_new(int O, int C) {
    sono_wino_cache *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    const size_t u = ((size_t)36 * O * C + 15) / 16 * 16, w = (size_t)O * C * 9;
    c->U = malloc(u * sizeof(float));
    c->Uflip = malloc(u * sizeof(float));
    c->key = malloc(w * sizeof(float));
    c->key_flip = malloc(w * sizeof(float));
    if (!c->U || !c->Uflip || !c->key || !c->key_flip) {
        sono_wino_cache_free(c);
        return NULL;
    }
    return c;
}

void sono_wino_cache_free(sono_wino_cache *c) {
    if (!c) return;
    free(c->U), free(c->Uflip), free(c->key), free(c->key_flip);
    free(c);
}
