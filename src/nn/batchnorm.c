/* Batch normalisation as PyTorch's BatchNorm1d/2d: per channel over (N, HW),
 * biased variance to normalise, unbiased variance for the running average.
 * OpenMP over channels; each channel's sums run in a fixed order in double. */
#include <math.h>

#include "sonodream/nn.h"

static void channel_stats(const float *inp, int N, int C, int HW, int c, double *mean,
                          double *var) {
    double s = 0.0;
    for (int n = 0; n < N; n++) {
        const float *x = inp + ((size_t)n * C + c) * HW;
        for (int i = 0; i < HW; i++) s += x[i];
    }
    double m = s / ((double)N * HW);
    double q = 0.0;
    for (int n = 0; n < N; n++) {
        const float *x = inp + ((size_t)n * C + c) * HW;
        for (int i = 0; i < HW; i++) q += (x[i] - m) * (x[i] - m);
    }
    *mean = m;
    *var = q / ((double)N * HW);
}

void sono_batchnorm_forward(float *out, float *mean, float *invstd, float *run_mean,
                            float *run_var, const float *inp, const float *gamma,
                            const float *beta, int N, int C, int HW, int train) {
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        if (train) {
            double m, v;
            channel_stats(inp, N, C, HW, c, &m, &v);
            double count = (double)N * HW;
            double unbiased = count > 1 ? v * count / (count - 1) : v;
            mean[c] = (float)m;
            invstd[c] = (float)(1.0 / sqrt(v + SONO_BN_EPS));
            run_mean[c] = (float)((1.0 - SONO_BN_MOMENTUM) * run_mean[c] + SONO_BN_MOMENTUM * m);
            run_var[c] =
                (float)((1.0 - SONO_BN_MOMENTUM) * run_var[c] + SONO_BN_MOMENTUM * unbiased);
        } else {
            mean[c] = run_mean[c];
            invstd[c] = (float)(1.0 / sqrt((double)run_var[c] + SONO_BN_EPS));
        }
        float scale = gamma[c] * invstd[c], shift = beta[c] - mean[c] * scale;
        for (int n = 0; n < N; n++) {
            const float *x = inp + ((size_t)n * C + c) * HW;
            float *y = out + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) y[i] = x[i] * scale + shift;
        }
    }
}

/* With batch statistics the mean and variance depend on the input too:
 * dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)). */
void sono_batchnorm_backward(float *dinp, float *dgamma, float *dbeta, const float *dout,
                             const float *inp, const float *mean, const float *invstd,
                             const float *gamma, int N, int C, int HW, int train) {
#pragma omp parallel for schedule(static)
    for (int c = 0; c < C; c++) {
        double sum_dy = 0.0, sum_dy_xhat = 0.0;
        float m = mean[c], is = invstd[c];
        for (int n = 0; n < N; n++) {
            const float *x = inp + ((size_t)n * C + c) * HW;
            const float *dy = dout + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) {
                sum_dy += dy[i];
                sum_dy_xhat += (double)dy[i] * ((x[i] - m) * is);
            }
        }
        if (dbeta) dbeta[c] += (float)sum_dy;
        if (dgamma) dgamma[c] += (float)sum_dy_xhat;
        if (!dinp) continue;
        double count = (double)N * HW;
        float k = gamma[c] * is;
        float a = train ? (float)(sum_dy / count) : 0.0f;
        float b = train ? (float)(sum_dy_xhat / count) : 0.0f;
        for (int n = 0; n < N; n++) {
            const float *x = inp + ((size_t)n * C + c) * HW;
            const float *dy = dout + ((size_t)n * C + c) * HW;
            float *dx = dinp + ((size_t)n * C + c) * HW;
            for (int i = 0; i < HW; i++) dx[i] = k * (dy[i] - a - (x[i] - m) * is * b);
        }
    }
}
