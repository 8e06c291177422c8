/* 2-D convolution, stride 1, same padding: im2col + one sgemm per sample
 * (darknet's scheme), OpenMP over the batch with single-threaded BLAS.
 *
 * Workspace layout (floats), for T = threads:
 *   T x [ col (C*k*k, H*W) | dpre (O, H*W) ]   per-thread scratch
 *   N x [ dweight (O, C*k*k) | dbias (O) ]     per-sample partial gradients
 * The partials are summed over samples in a fixed order, so the parameter
 * gradients are the same for any thread count. */
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "nn/nn_internal.h"

static size_t thread_floats(int C, int H, int W, int O, int k) {
    size_t hw = (size_t)H * W;
    return (size_t)C * k * k * hw + (size_t)O * hw;
}

static size_t sample_partial_floats(int C, int O, int k) {
    return (size_t)O * C * k * k + (size_t)O;
}

size_t sono_conv2d_workspace_floats(int N, int C, int H, int W, int O, int k, int threads) {
    return (size_t)threads * thread_floats(C, H, W, O, k) + (size_t)N * sample_partial_floats(C, O, k);
}

/* col (C*k*k, H*W): row (c, ky, kx) holds the input shifted by (ky-p, kx-p),
 * zero outside. Rows are filled with memcpy/memset runs, not per element. */
static void im2col(float *col, const float *img, int C, int H, int W, int k) {
    int p = k / 2;
    size_t hw = (size_t)H * W;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                float *row = col + ((size_t)(c * k + ky) * k + kx) * hw;
                const float *plane = img + (size_t)c * hw;
                int dx = kx - p;
                int x0 = dx < 0 ? -dx : 0, x1 = dx > 0 ? W - dx : W;
                if (x1 < x0) x1 = x0;
                for (int y = 0; y < H; y++) {
                    float *dst = row + (size_t)y * W;
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

/* The adjoint of im2col: img (zeroed by the caller) += scatter of col. */
static void col2im(float *img, const float *col, int C, int H, int W, int k) {
    int p = k / 2;
    size_t hw = (size_t)H * W;
    for (int c = 0; c < C; c++)
        for (int ky = 0; ky < k; ky++)
            for (int kx = 0; kx < k; kx++) {
                const float *row = col + ((size_t)(c * k + ky) * k + kx) * hw;
                float *plane = img + (size_t)c * hw;
                int dx = kx - p;
                int x0 = dx < 0 ? -dx : 0, x1 = dx > 0 ? W - dx : W;
                for (int y = 0; y < H; y++) {
                    int sy = y + ky - p;
                    if (sy < 0 || sy >= H) continue;
                    const float *src = row + (size_t)y * W;
                    float *dst = plane + (size_t)sy * W + dx;
                    for (int x = x0; x < x1; x++) dst[x] += src[x];
                }
            }
}

/* out (O, HW) = act(out + bias), in place. */
static void bias_act(float *out, const float *bias, int O, size_t hw, sono_act act) {
    for (int o = 0; o < O; o++) {
        float *row = out + (size_t)o * hw;
        float b = bias ? bias[o] : 0.0f;
        if (act == SONO_ACT_LRELU) {
            for (size_t i = 0; i < hw; i++) {
                float v = row[i] + b;
                row[i] = v > 0.0f ? v : SONO_LRELU_SLOPE * v;
            }
        } else if (act == SONO_ACT_RELU) {
            for (size_t i = 0; i < hw; i++) {
                float v = row[i] + b;
                row[i] = v > 0.0f ? v : 0.0f;
            }
        } else if (bias) {
            for (size_t i = 0; i < hw; i++) row[i] += b;
        }
    }
}

void sono_conv2d_forward(float *out, const float *inp, const float *weight, const float *bias,
                         int N, int C, int H, int W, int O, int k, sono_act act, float *ws,
                         int threads) {
    size_t hw = (size_t)H * W;
    int ckk = C * k * k;
    size_t per_thread = thread_floats(C, H, W, O, k);
    int blas = sono_blas_single();
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int n = 0; n < N; n++) {
        float *col = ws + (size_t)omp_get_thread_num() * per_thread; /* (C*k*k, HW) */
        const float *img = inp + (size_t)n * C * hw;                  /* (C, HW) */
        float *o = out + (size_t)n * O * hw;                          /* (O, HW) */
        const float *b = img;
        if (k != 1) {
            im2col(col, img, C, H, W, k);
            b = col;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, O, (int)hw, ckk, 1.0f, weight, ckk,
                    b, (int)hw, 0.0f, o, (int)hw);
        bias_act(o, bias, O, hw, act);
    }
    sono_blas_restore(blas);
}

/* dpre (O, HW) = dout * act'(out); serial, as it runs inside the batch loop. */
static const float *act_grad(float *dpre, const float *dout, const float *out, size_t count,
                             sono_act act) {
    if (act == SONO_ACT_NONE) return dout;
    float slope = act == SONO_ACT_LRELU ? SONO_LRELU_SLOPE : 0.0f;
    for (size_t i = 0; i < count; i++) dpre[i] = out[i] > 0.0f ? dout[i] : slope * dout[i];
    return dpre;
}

/* One sample's backward: partial parameter gradients into pw/pb, input
 * gradient into din (each skipped when NULL). */
static void conv_backward_sample(float *din, float *pw, float *pb, const float *dout,
                                 const float *out, const float *img, const float *weight, int C,
                                 int H, int W, int O, int k, sono_act act, float *scratch) {
    size_t hw = (size_t)H * W;
    int ckk = C * k * k;
    float *col = scratch;                        /* (C*k*k, HW) */
    float *dpre_buf = scratch + (size_t)ckk * hw; /* (O, HW) */
    const float *dpre = act_grad(dpre_buf, dout, out, (size_t)O * hw, act);
    if (pb)
        for (int o = 0; o < O; o++) {
            const float *row = dpre + (size_t)o * hw;
            float s = 0.0f;
            for (size_t i = 0; i < hw; i++) s += row[i];
            pb[o] = s;
        }
    if (pw) {
        const float *b = img;
        if (k != 1) {
            im2col(col, img, C, H, W, k);
            b = col;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, O, ckk, (int)hw, 1.0f, dpre, (int)hw,
                    b, (int)hw, 0.0f, pw, ckk);
    }
    if (din) {
        float *dcol = k == 1 ? din : col; /* (C*k*k, HW) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, ckk, (int)hw, O, 1.0f, weight, ckk,
                    dpre, (int)hw, 0.0f, dcol, (int)hw);
        if (k != 1) {
            memset(din, 0, sizeof(float) * (size_t)C * hw);
            col2im(din, dcol, C, H, W, k);
        }
    }
}

/* dst[j] += sum over samples of partial[n][j], samples in order 0..N-1
 * whatever the thread count. Blocks of j keep the reads sequential. */
#define REDUCE_BLOCK 512
static void reduce_partials(float *dst, const float *partials, size_t stride, size_t count, int N,
                            int threads) {
    size_t blocks = (count + REDUCE_BLOCK - 1) / REDUCE_BLOCK;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (size_t bi = 0; bi < blocks; bi++) {
        size_t j0 = bi * REDUCE_BLOCK;
        size_t len = count - j0 < REDUCE_BLOCK ? count - j0 : REDUCE_BLOCK;
        float s[REDUCE_BLOCK] = {0};
        for (int n = 0; n < N; n++) {
            const float *row = partials + (size_t)n * stride + j0;
            for (size_t j = 0; j < len; j++) s[j] += row[j];
        }
        for (size_t j = 0; j < len; j++) dst[j0 + j] += s[j];
    }
}

void sono_conv2d_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                          const float *out, const float *inp, const float *weight, int N, int C,
                          int H, int W, int O, int k, sono_act act, float *ws, int threads) {
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
    if (dweight) reduce_partials(dweight, partials, stride, nw, N, threads);
    if (dbias) reduce_partials(dbias, partials + nw, stride, (size_t)O, N, threads);
    sono_blas_restore(blas);
}
