/* Dense layer, PyTorch's nn.Linear layout: weight (O, F). One sgemm over the
 * whole batch for each product. */
#include <cblas.h>

#include "nn/nn_internal.h"

static void bias_act_rows(float *out, const float *bias, int N, int O, sono_act act) {
    float slope = act == SONO_ACT_LRELU ? SONO_LRELU_SLOPE : 0.0f;
    for (int n = 0; n < N; n++) {
        float *row = out + (size_t)n * O;
        for (int o = 0; o < O; o++) {
            float v = row[o] + (bias ? bias[o] : 0.0f);
            row[o] = (act == SONO_ACT_NONE || v > 0.0f) ? v : slope * v;
        }
    }
}

void sono_dense_forward(float *out, const float *inp, const float *weight, const float *bias,
                        int N, int F, int O, sono_act act) {
    int blas = sono_blas_single();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, O, F, 1.0f, inp, F, weight, F, 0.0f,
                out, O);
    sono_blas_restore(blas);
    bias_act_rows(out, bias, N, O, act);
}

void sono_dense_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                         const float *out, const float *inp, const float *weight, int N, int F,
                         int O, sono_act act, float *ws) {
    const float *dpre = dout; /* (N, O) */
    if (act != SONO_ACT_NONE) {
        sono_act_backward(ws, dout, out, (size_t)N * O, act);
        dpre = ws;
    }
    if (dbias)
        for (int o = 0; o < O; o++) {
            float s = 0.0f;
            for (int n = 0; n < N; n++) s += dpre[(size_t)n * O + o];
            dbias[o] += s;
        }
    int blas = sono_blas_single();
    if (dweight) /* (O, F) += dpre^T (O, N) @ inp (N, F) */
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, O, F, N, 1.0f, dpre, O, inp, F, 1.0f,
                    dweight, F);
    if (dinp) /* (N, F) = dpre (N, O) @ weight (O, F) */
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, F, O, 1.0f, dpre, O, weight, F,
                    0.0f, dinp, F);
    sono_blas_restore(blas);
}
