/* Inverted dropout with counter-based randomness: element i of a pass is
 * kept when hash(seed, step, layer, i) >= rate, so masks depend on neither
 * the thread count nor the order of evaluation, and backward recomputes them. */
#include "nn/nn_internal.h"

static uint64_t dropout_key(uint64_t seed, uint64_t step, uint32_t layer) {
    return sono_stream_key(seed, step, layer, SONO_DOMAIN_DROPOUT);
}

int sono_dropout_keep(uint64_t seed, uint64_t step, uint32_t layer, uint64_t index, float rate) {
    return sono_stream_uniform(dropout_key(seed, step, layer), index) >= rate;
}

void sono_dropout_forward(float *out, const float *inp, size_t count, float rate, uint64_t seed,
                          uint64_t step, uint32_t layer, uint64_t first) {
    uint64_t key = dropout_key(seed, step, layer);
    float scale = 1.0f / (1.0f - rate);
#pragma omp parallel for schedule(static) if (count > 16384)
    for (size_t i = 0; i < count; i++)
        out[i] = sono_stream_uniform(key, first + i) >= rate ? inp[i] * scale : 0.0f;
}

void sono_dropout_backward(float *dinp, const float *dout, size_t count, float rate,
                           uint64_t seed, uint64_t step, uint32_t layer, uint64_t first) {
    uint64_t key = dropout_key(seed, step, layer);
    float scale = 1.0f / (1.0f - rate);
#pragma omp parallel for schedule(static) if (count > 16384)
    for (size_t i = 0; i < count; i++)
        dinp[i] = sono_stream_uniform(key, first + i) >= rate ? dout[i] * scale : 0.0f;
}
