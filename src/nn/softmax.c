/* Softmax and mean softmax cross-entropy, max-subtracted and summed in
 * double so large logits neither overflow nor lose the small terms. */
#include <math.h>

#include "sonodream/nn.h"

/* probs row = softmax(logits row); returns log(sum(exp(logits - max))) + max. */
static double softmax_row(float *probs, const float *logits, int K) {
    float mx = logits[0];
    for (int j = 1; j < K; j++)
        if (logits[j] > mx) mx = logits[j];
    double s = 0.0;
    for (int j = 0; j < K; j++) s += exp((double)logits[j] - mx);
    if (probs)
        for (int j = 0; j < K; j++) probs[j] = (float)(exp((double)logits[j] - mx) / s);
    return log(s) + mx;
}

void sono_softmax(float *probs, const float *logits, int N, int K) {
    for (int n = 0; n < N; n++) softmax_row(probs + (size_t)n * K, logits + (size_t)n * K, K);
}

double sono_softmax_xent(float *probs, float *dlogits, const float *logits,
                         const int32_t *labels, int N, int K) {
    double loss = 0.0;
    for (int n = 0; n < N; n++) {
        const float *z = logits + (size_t)n * K;
        double lse = softmax_row(probs ? probs + (size_t)n * K : NULL, z, K);
        loss += lse - z[labels[n]];
        if (dlogits) {
            float *d = dlogits + (size_t)n * K;
            for (int j = 0; j < K; j++) {
                double p = exp((double)z[j] - lse);
                d[j] = (float)((p - (j == labels[n] ? 1.0 : 0.0)) / N);
            }
        }
    }
    return N > 0 ? loss / N : 0.0;
}
