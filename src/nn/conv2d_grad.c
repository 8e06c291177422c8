/* The backward steps both convolution algorithms share (conv2d.c's im2col
 * and conv2d_winograd.c's Winograd): the activation's gradient with the
 * bias gradient, and the sum of per-sample partial gradients. Each in a
 * fixed order, so the gradients are the same for any thread count. */
#include <stddef.h>

#include "nn/nn_internal.h"

/* Lanes of the bias-gradient sums: a fixed count, so the order of the
 * additions (and so the result) does not depend on the vector width the
 * compiler picks; independent lanes let it vectorise (a single running sum
 * is one dependent add per element). */
#define SUM_LANES 16

static float lane_total(const float *part) {
    float s = 0.0f;
    for (int j = 0; j < SUM_LANES; j++) s += part[j];
    return s;
}

const float *sono_conv2d_act_grad(float *dpre, float *pb, const float *dout, const float *out,
                                  int O, size_t hw, sono_act act) {
    float slope = act == SONO_ACT_LRELU ? SONO_LRELU_SLOPE : 0.0f;
    for (int o = 0; o < O; o++) {
        const float *g = dout + (size_t)o * hw, *y = out + (size_t)o * hw;
        float *d = dpre + (size_t)o * hw;
        float part[SUM_LANES] = {0};
        size_t i = 0;
        if (act == SONO_ACT_NONE) {
            if (!pb) break;
            for (; i + SUM_LANES <= hw; i += SUM_LANES)
                for (int j = 0; j < SUM_LANES; j++) part[j] += g[i + j];
            for (; i < hw; i++) part[i % SUM_LANES] += g[i];
        } else {
            for (; i + SUM_LANES <= hw; i += SUM_LANES)
                for (int j = 0; j < SUM_LANES; j++) {
                    float v = y[i + j] > 0.0f ? g[i + j] : slope * g[i + j];
                    d[i + j] = v;
                    part[j] += v;
                }
            for (; i < hw; i++) {
                float v = y[i] > 0.0f ? g[i] : slope * g[i];
                d[i] = v;
                part[i % SUM_LANES] += v;
            }
        }
        if (pb) pb[o] = lane_total(part);
    }
    return act == SONO_ACT_NONE ? dout : dpre;
}

/* dst[j] += sum over samples of partial[n][j], samples in order 0..N-1
 * whatever the thread count. Blocks of j keep the reads sequential. */
#define REDUCE_BLOCK 512
void sono_conv2d_reduce(float *dst, const float *partials, size_t stride, size_t count, int N,
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
