/* A limiter on the dream's part only: where the recording plus the dream's
 * change would exceed the ceiling, the change is turned down, never the
 * recording. The gain a frame needs is the largest g in [0, 1] with
 * |base + g delta| <= ceiling on every channel (an interval, since it holds
 * at g = 0 when the recording itself is within the ceiling). A running
 * minimum over +-W frames followed by a moving average over +-W frames gives
 * a smooth gain that is still below every frame's need: each frame's
 * average only takes minima over windows that contain the frame. */
#include <math.h>
#include <stdlib.h>

#include "dream/dream_internal.h"

#define LIMITER_SECONDS 0.010

static float needed_gain(const float *base, const float *delta, int channels, float ceiling) {
    float g = 1.0f;
    for (int c = 0; c < channels; c++) {
        const float b = base[c], d = delta[c];
        if (fabsf(b) > ceiling) return 0.0f; /* a recording beyond the ceiling keeps only itself */
        if (fabsf(b + d) <= ceiling || d == 0.0f) continue;
        const float limit = d > 0 ? (ceiling - b) / d : (-ceiling - b) / d;
        if (limit < g) g = limit < 0 ? 0 : limit;
    }
    return g;
}

/* Running minimum of need over [i - w, i + w] (a monotonic deque). */
static void running_min(const float *need, int64_t n, int64_t w, float *out, int64_t *deque) {
    int64_t head = 0, tail = 0, next = 0;
    for (int64_t i = 0; i < n; i++) {
        for (; next < n && next <= i + w; next++) {
            while (tail > head && need[deque[tail - 1]] >= need[next]) tail--;
            deque[tail++] = next;
        }
        while (deque[head] < i - w) head++;
        out[i] = need[deque[head]];
    }
}

/* The common case, nothing beyond the ceiling: out = base + delta in one
 * pass, no allocation. Returns 0 when some sample would exceed it (delta
 * then untouched). */
static int add_if_within(const float *base, float *delta, int64_t count, float top) {
    int over = 0;
#pragma omp simd reduction(| : over)
    for (int64_t i = 0; i < count; i++) over |= fabsf(base[i] + delta[i]) > top;
    if (over) return 0;
    for (int64_t i = 0; i < count; i++) delta[i] += base[i];
    return 1;
}

double dream_limit(const float *base, float *delta, int64_t n, int channels, int rate, double ceiling) {
    const float top = (float)ceiling;
    if (add_if_within(base, delta, n * channels, top)) return 0;
    float *need = malloc((size_t)n * sizeof *need), *low = malloc((size_t)n * sizeof *low);
    int64_t *deque = malloc((size_t)n * sizeof *deque);
    int64_t limited = 0;
    if (!need || !low || !deque) {
        /* No memory for the smooth gain: fall back to each frame's own need. */
        for (int64_t i = 0; i < n; i++) {
            float g = needed_gain(base + i * channels, delta + i * channels, channels, top);
            limited += g < 1.0f;
            for (int c = 0; c < channels; c++) delta[i * channels + c] = base[i * channels + c] + g * delta[i * channels + c];
        }
    } else {
        int any = 0;
        for (int64_t i = 0; i < n; i++) {
            need[i] = needed_gain(base + i * channels, delta + i * channels, channels, top);
            any |= need[i] < 1.0f;
        }
        const int64_t w = any ? (int64_t)ceil(LIMITER_SECONDS * rate) : 0;
        if (w > 0) running_min(need, n, w, low, deque);
        double sum = 0; /* moving average of low over [i - w, i + w], edges counted as 1 */
        for (int64_t j = -w; j <= w; j++) sum += j >= 0 && j < n && w > 0 ? low[j] : 1.0;
        for (int64_t i = 0; i < n; i++) {
            float g = w > 0 ? (float)(sum / (2 * w + 1)) : 1.0f;
            if (g > need[i]) g = need[i]; /* rounding in the running sum */
            limited += g < 1.0f;
            for (int c = 0; c < channels; c++) delta[i * channels + c] = base[i * channels + c] + g * delta[i * channels + c];
            if (w > 0) {
                int64_t out_j = i - w, in_j = i + w + 1;
                sum -= out_j >= 0 ? low[out_j] : 1.0;
                sum += in_j < n ? low[in_j] : 1.0;
            }
        }
    }
    free(need), free(low), free(deque);
    return n > 0 ? (double)limited / (double)n : 0;
}
