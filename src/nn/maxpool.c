/* Max-pool k x k, stride k, TensorFlow "SAME" padding: ceil(H/k) outputs,
 * the pad (out*k - in) split pad/2 before and the rest after, as in TF's
 * GetWindowedOutputSize; each window takes the max of its valid part. */
#include <string.h>

#include "sonodream/nn.h"

/* First input row (or column) of output window i, and one past its last,
 * clipped to the input. */
static void window(int i, int k, int in, int out, int *lo, int *hi) {
    int before = (out * k - in) / 2;
    int start = i * k - before;
    int end = start + k;
    *lo = start < 0 ? 0 : start;
    *hi = end > in ? in : end;
}

static void pool_plane(float *out, int32_t *argmax, const float *in, int H, int W, int k) {
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

void sono_maxpool_forward(float *out, int32_t *argmax, const float *inp, int N, int C, int H,
                          int W, int k) {
    size_t hw = (size_t)H * W;
    size_t ohw = (size_t)sono_pool_out_size(H, k) * sono_pool_out_size(W, k);
    long planes = (long)N * C;
#pragma omp parallel for schedule(static)
    for (long p = 0; p < planes; p++)
        pool_plane(out + p * ohw, argmax + p * ohw, inp + p * hw, H, W, k);
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
