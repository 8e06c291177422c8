/* Slaney mel scale and the area-normalised triangular filterbank, as
 * librosa.hz_to_mel / mel_to_hz (htk=False) and librosa.filters.mel
 * (norm="slaney"). Computed in double, stored as float. */
#include <math.h>
#include <stdlib.h>

#include "dsp/dsp_internal.h"

/* Slaney's Auditory Toolbox: 200/3 Hz per mel up to 1 kHz (= 15 mel), then
 * logarithmic with 27 mel per factor 6.4 (6.4 kHz = 42 mel). */
#define SLANEY_HZ_PER_MEL (200.0 / 3.0)
#define SLANEY_LOG_START_HZ 1000.0
#define SLANEY_LOG_START_MEL (SLANEY_LOG_START_HZ / SLANEY_HZ_PER_MEL)
#define SLANEY_LOG_STEP (log(6.4) / 27.0) /* natural log of the frequency ratio per mel */

double sono_hz_to_mel(double hz) {
    if (hz >= SLANEY_LOG_START_HZ) return SLANEY_LOG_START_MEL + log(hz / SLANEY_LOG_START_HZ) / SLANEY_LOG_STEP;
    return hz / SLANEY_HZ_PER_MEL;
}

double sono_mel_to_hz(double mel) {
    if (mel >= SLANEY_LOG_START_MEL) return SLANEY_LOG_START_HZ * exp(SLANEY_LOG_STEP * (mel - SLANEY_LOG_START_MEL));
    return mel * SLANEY_HZ_PER_MEL;
}

/* librosa.mel_frequencies: n points evenly spaced in mel from fmin to fmax,
 * computed like numpy.linspace (start + i * step, the last point exact). */
void sono_mel_frequencies(int n, double fmin, double fmax, double *hz) {
    const double lo = sono_hz_to_mel(fmin), hi = sono_hz_to_mel(fmax);
    const double step = n > 1 ? (hi - lo) / (n - 1) : 0.0;
    for (int i = 0; i < n; i++) hz[i] = sono_mel_to_hz(i == n - 1 && n > 1 ? hi : lo + i * step);
}

static sono_status check_filterbank_arguments(int sample_rate, int n_fft, int n_mels, double fmin, double fmax,
                                              sono_error *err) {
    if (sample_rate < 1)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "mel filterbank: sample rate must be positive (got %d)",
                              sample_rate);
    if (n_fft < 2 || n_fft % 2 != 0)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "mel filterbank: n_fft must be a positive even number (got %d)",
                              n_fft);
    if (n_mels < 1 || n_mels > n_fft / 2 + 1)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "mel filterbank: n_mels must be between 1 and %d (got %d)",
                              n_fft / 2 + 1, n_mels);
    if (!(fmin >= 0.0) || !(fmin < fmax) || !(fmax <= sample_rate / 2.0))
        return sono_error_set(err, SONO_ERR_ARGUMENT,
                              "mel filterbank: need 0 <= fmin < fmax <= %g Hz (got fmin %g, fmax %g)",
                              sample_rate / 2.0, fmin, fmax);
    return SONO_OK;
}

/* Row i of librosa.filters.mel: the triangle rising from edge[i] to edge[i+1]
 * and falling to edge[i+2], max(0, min(lower, upper)), scaled by
 * 2 / (edge[i+2] - edge[i]) so that every filter has the same area. */
static void fill_triangle(const double *edge, int i, int bins, double bin_hz, float *row) {
    const double rise = edge[i + 1] - edge[i], fall = edge[i + 2] - edge[i + 1];
    const double area_norm = 2.0 / (edge[i + 2] - edge[i]);
    for (int k = 0; k < bins; k++) {
        const double f = k * bin_hz;
        const double lower = (f - edge[i]) / rise;
        const double upper = (edge[i + 2] - f) / fall;
        const double weight = lower < upper ? lower : upper;
        row[k] = weight > 0.0 ? (float)(weight * area_norm) : 0.0f;
    }
}

sono_status sono_mel_filterbank(int sample_rate, int n_fft, int n_mels, double fmin, double fmax, float **out,
                                sono_error *err) {
    *out = NULL;
    if (fmax <= 0.0) fmax = sample_rate / 2.0;
    sono_status s = check_filterbank_arguments(sample_rate, n_fft, n_mels, fmin, fmax, err);
    if (s != SONO_OK) return s;
    const int bins = n_fft / 2 + 1;
    float *fb = malloc((size_t)n_mels * (size_t)bins * sizeof *fb);
    double *edge = malloc((size_t)(n_mels + 2) * sizeof *edge); /* band edges and centres, Hz */
    if (!fb || !edge) {
        free(fb);
        free(edge);
        return sono_error_set(err, SONO_ERR_MEMORY, "mel filterbank: out of memory");
    }
    sono_mel_frequencies(n_mels + 2, fmin, fmax, edge);
    const double bin_hz = (double)sample_rate / n_fft; /* fft_frequencies: k * sr / n_fft */
    for (int i = 0; i < n_mels; i++) fill_triangle(edge, i, bins, bin_hz, fb + (size_t)i * bins);
    free(edge);
    *out = fb;
    return SONO_OK;
}
