/* A limiter on the dream's part only: where the recording plus the dream's
 * change would exceed the ceiling, the change is turned down, never the
 * recording. The gain a frame needs is the largest g in [0, 1] with
 * |base + g delta| <= ceiling on every channel (an interval, since it holds
 * at g = 0 when the recording itself is within the ceiling). A running
 * minimum followed by moving averages gives a smooth gain that is still
 * below every frame's need: each frame's average only takes minima over
 * windows that contain the frame. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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

/* out[i] = mean of in over [i - w, i + w], indices clamped to [0, n). */
static void box_average(const float *in, int64_t n, int64_t w, float *out) {
    double sum = 0;
    for (int64_t j = -w; j <= w; j++) sum += in[j < 0 ? 0 : j >= n ? n - 1 : j];
    for (int64_t i = 0; i < n; i++) {
        out[i] = (float)(sum / (double)(2 * w + 1));
        int64_t leave = i - w, enter = i + w + 1;
        sum -= in[leave < 0 ? 0 : leave];
        sum += in[enter >= n ? n - 1 : enter];
    }
}

sono_status dream_limiter_init(dream_limiter *l, int64_t frames, sono_error *err) {
    memset(l, 0, sizeof *l);
    l->need = malloc((size_t)frames * sizeof *l->need);
    l->low = malloc((size_t)frames * sizeof *l->low);
    l->gain = malloc((size_t)frames * sizeof *l->gain);
    l->deque = malloc((size_t)frames * sizeof *l->deque);
    l->capacity = frames;
    if (l->need && l->low && l->gain && l->deque) return SONO_OK;
    dream_limiter_free(l);
    return sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory for the limiter (%lld frames)", (long long)frames);
}

void dream_limiter_free(dream_limiter *l) {
    free(l->need), free(l->low), free(l->gain), free(l->deque);
    memset(l, 0, sizeof *l);
}

double dream_limit(dream_limiter *l, const float *base, float *delta, int64_t n, int channels, int rate,
                   double ceiling) {
    const float top = (float)ceiling;
    if (add_if_within(base, delta, n * channels, top)) return 0;
    float *need = l->need, *low = l->low, *gain = l->gain;
    for (int64_t i = 0; i < n; i++) need[i] = needed_gain(base + i * channels, delta + i * channels, channels, top);
    /* The minimum over +-2W, then two moving averages over +-W: a
     * triangular smoothing whose every term is a minimum over a range that
     * holds the frame, so the gain never exceeds the frame's need, and whose
     * slopes have no corners to splash the dream's band into the band above
     * it. */
    const int64_t w = (int64_t)ceil(LIMITER_SECONDS * rate / 2);
    running_min(need, n, 2 * w, low, l->deque);
    box_average(low, n, w, gain);
    box_average(gain, n, w, low);
    int64_t limited = 0;
    for (int64_t i = 0; i < n; i++) {
        const float g = low[i] < need[i] ? low[i] : need[i]; /* rounding in the sums */
        limited += g < 1.0f;
        for (int c = 0; c < channels; c++) delta[i * channels + c] = base[i * channels + c] + g * delta[i * channels + c];
    }
    return n > 0 ? (double)limited / (double)n : 0;
}
