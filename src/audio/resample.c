/* Sample-rate conversion with libsoxr. */
#include "sonodream/audio.h"

#include <soxr.h>
#include <stdlib.h>
#include <string.h>

/* round(n * out_rate / in_rate) in integers, so long inputs get the exact length. */
static int resampled_length(int64_t n, int in_rate, int out_rate, int64_t *length) {
    if (n > (INT64_MAX / 2 - in_rate) / out_rate) return 0;
    *length = (2 * n * out_rate + in_rate) / (2 * (int64_t)in_rate);
    return 1;
}

static sono_status check_resample_arguments(const float *in, int64_t n, int in_rate, int out_rate,
                                            float **out, int64_t *n_out, sono_error *err) {
    if (!in || !out || !n_out)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "resample: NULL argument");
    if (n <= 0)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "resample: no samples (%lld)", (long long)n);
    if (in_rate <= 0 || out_rate <= 0)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "resample: bad rates %d Hz -> %d Hz", in_rate,
                              out_rate);
    return SONO_OK;
}

static sono_status copy_samples(const float *in, int64_t n, float **out, int64_t *n_out,
                                sono_error *err) {
    float *copy = malloc((size_t)n * sizeof(float));
    if (!copy) return sono_error_set(err, SONO_ERR_MEMORY, "resample: out of memory");
    memcpy(copy, in, (size_t)n * sizeof(float));
    *out = copy;
    *n_out = n;
    return SONO_OK;
}

sono_status sono_audio_resample(const float *in, int64_t n, int in_rate, int out_rate, float **out,
                                int64_t *n_out, sono_error *err) {
    sono_status s = check_resample_arguments(in, n, in_rate, out_rate, out, n_out, err);
    if (s != SONO_OK) return s;
    *out = NULL;
    *n_out = 0;
    if ((uint64_t)n > SIZE_MAX / sizeof(float))
        return sono_error_set(err, SONO_ERR_MEMORY, "resample: %lld samples is too many", (long long)n);
    if (in_rate == out_rate) return copy_samples(in, n, out, n_out, err);
    int64_t length;
    if (!resampled_length(n, in_rate, out_rate, &length) || (uint64_t)length > SIZE_MAX / sizeof(float))
        return sono_error_set(err, SONO_ERR_MEMORY, "resample: %lld samples is too many", (long long)n);
    if (length == 0) length = 1;
    /* calloc: soxr may deliver a sample or two short of the rounded length; the rest stays silent. */
    float *y = calloc((size_t)length, sizeof(float));
    if (!y) return sono_error_set(err, SONO_ERR_MEMORY, "resample: out of memory");
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    /* soxr_oneshot defaults to low quality; ask for the high-quality filter. */
    soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
    size_t done = 0;
    soxr_error_t e = soxr_oneshot(in_rate, out_rate, 1, in, (size_t)n, NULL, y, (size_t)length, &done,
                                  &io, &quality, NULL);
    if (e) {
        free(y);
        return sono_error_set(err, SONO_ERR_FORMAT, "resample %d Hz -> %d Hz failed: %s", in_rate,
                              out_rate, e);
    }
    *out = y;
    *n_out = length;
    return SONO_OK;
}
