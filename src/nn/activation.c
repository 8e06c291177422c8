/* Elementwise activations. The activation kind is chosen once per call, so
 * the hot loops carry no per-element branching on it. */
#include "sonodream/nn.h"

void sono_act_forward(float *out, const float *inp, size_t count, sono_act act) {
    switch (act) {
    case SONO_ACT_NONE:
        if (out != inp)
            for (size_t i = 0; i < count; i++) out[i] = inp[i];
        break;
    case SONO_ACT_RELU:
#pragma omp parallel for simd schedule(static) if (count > 65536)
        for (size_t i = 0; i < count; i++) out[i] = inp[i] > 0.0f ? inp[i] : 0.0f;
        break;
    case SONO_ACT_LRELU:
#pragma omp parallel for simd schedule(static) if (count > 65536)
        for (size_t i = 0; i < count; i++)
            out[i] = inp[i] > 0.0f ? inp[i] : SONO_LRELU_SLOPE * inp[i];
        break;
    }
}

/* out > 0 exactly when inp > 0 for both activations, so the output decides. */
void sono_act_backward(float *dinp, const float *dout, const float *out, size_t count,
                       sono_act act) {
    switch (act) {
    case SONO_ACT_NONE:
        if (dinp != dout)
            for (size_t i = 0; i < count; i++) dinp[i] = dout[i];
        break;
    case SONO_ACT_RELU:
#pragma omp parallel for simd schedule(static) if (count > 65536)
        for (size_t i = 0; i < count; i++) dinp[i] = out[i] > 0.0f ? dout[i] : 0.0f;
        break;
    case SONO_ACT_LRELU:
#pragma omp parallel for simd schedule(static) if (count > 65536)
        for (size_t i = 0; i < count; i++)
            dinp[i] = out[i] > 0.0f ? dout[i] : SONO_LRELU_SLOPE * dout[i];
        break;
    }
}

const char *sono_act_name(sono_act act) {
    switch (act) {
    case SONO_ACT_NONE: return "linear";
    case SONO_ACT_RELU: return "relu";
    case SONO_ACT_LRELU: return "lrelu";
    }
    return "?";
}
