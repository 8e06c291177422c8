/* Log-mel features: |STFT|^power projected on the Slaney mel filterbank, then
 * 10*log10(max(mel, log_floor)), as librosa.feature.melspectrogram followed by
 * librosa.power_to_db(ref=1, amin=log_floor, top_db=None).
 *
 * Each filter is non-zero on a short run of bins only, so the projection loops
 * over those runs (about two bins per frequency bin in all, not n_mels times
 * as many) and accumulates in double. */
#include <math.h>
#include <stdlib.h>

#include "dsp/dsp_internal.h"

struct sono_logmel {
    sono_feature_config cfg;
    sono_stft *stft;
    int bins;           /* n_fft / 2 + 1 */
    float *filterbank;  /* (n_mels, bins) */
    int *first_bin;     /* (n_mels) first non-zero weight of each filter */
    int *end_bin;       /* (n_mels) one past its last non-zero weight */
};

/* The run of non-zero weights of every filter (empty when a filter has none). */
static void find_filter_support(sono_logmel *lm) {
    for (int m = 0; m < lm->cfg.n_mels; m++) {
        const float *row = lm->filterbank + (size_t)m * lm->bins;
        int first = 0, end = lm->bins;
        while (first < end && row[first] == 0.0f) first++;
        while (end > first && row[end - 1] == 0.0f) end--;
        lm->first_bin[m] = first;
        lm->end_bin[m] = end;
    }
}

sono_status sono_logmel_new(const sono_feature_config *cfg, sono_logmel **out, sono_error *err) {
    *out = NULL;
    sono_status s = sono_feature_config_validate(cfg, err);
    if (s != SONO_OK) return s;
    sono_logmel *lm = calloc(1, sizeof *lm);
    if (!lm) return sono_error_set(err, SONO_ERR_MEMORY, "log-mel: out of memory");
    lm->cfg = *cfg;
    lm->bins = cfg->n_fft / 2 + 1;
    s = sono_stft_new(cfg->n_fft, cfg->hop, cfg->center, cfg->pad_mode, &lm->stft, err);
    if (s == SONO_OK)
        s = sono_mel_filterbank(cfg->sample_rate, cfg->n_fft, cfg->n_mels, cfg->fmin, sono_feature_config_fmax(cfg),
                                &lm->filterbank, err);
    if (s != SONO_OK) {
        sono_logmel_free(lm);
        return s;
    }
    lm->first_bin = malloc((size_t)cfg->n_mels * sizeof *lm->first_bin);
    lm->end_bin = malloc((size_t)cfg->n_mels * sizeof *lm->end_bin);
    if (!lm->first_bin || !lm->end_bin) {
        sono_logmel_free(lm);
        return sono_error_set(err, SONO_ERR_MEMORY, "log-mel: out of memory");
    }
    find_filter_support(lm);
    *out = lm;
    return SONO_OK;
}

void sono_logmel_free(sono_logmel *lm) {
    if (!lm) return;
    sono_stft_free(lm->stft);
    free(lm->filterbank);
    free(lm->first_bin);
    free(lm->end_bin);
    free(lm);
}

const sono_feature_config *sono_logmel_config(const sono_logmel *lm) { return &lm->cfg; }

const float *sono_logmel_filterbank(const sono_logmel *lm) { return lm->filterbank; }

/* |X|^power per bin; the usual power 2 needs no pow(). */
static void spectrum_power(const fftwf_complex *spectrum, int bins, double power, double *out) {
    for (int k = 0; k < bins; k++) {
        const double re = spectrum[k][0], im = spectrum[k][1];
        const double squared = re * re + im * im;
        out[k] = power == 2.0 ? squared : pow(squared, 0.5 * power);
    }
}

static double band_energy(const sono_logmel *lm, int m, const double *power) {
    const float *row = lm->filterbank + (size_t)m * lm->bins;
    double sum = 0.0;
    for (int k = lm->first_bin[m]; k < lm->end_bin[m]; k++) sum += row[k] * power[k];
    return sum;
}

sono_status sono_logmel_compute(const sono_logmel *lm, const float *x, int64_t n, float *out, sono_error *err) {
    const sono_feature_config *cfg = &lm->cfg;
    if (!x || n < 1) return sono_error_set(err, SONO_ERR_ARGUMENT, "log-mel: empty signal");
    const int frames = sono_feature_frames(cfg, n);
    if (frames < 1)
        return sono_error_set(err, SONO_ERR_ARGUMENT,
                              "log-mel: %lld samples is fewer than n_fft = %d, which uncentred frames need",
                              (long long)n, cfg->n_fft);
    stft_work w;
    if (stft_work_alloc(lm->stft, &w, err) != SONO_OK) return SONO_ERR_MEMORY;
    double *power = malloc((size_t)lm->bins * sizeof *power); /* (bins) one frame */
    if (!power) {
        stft_work_free(&w);
        return sono_error_set(err, SONO_ERR_MEMORY, "log-mel: out of memory");
    }
    for (int t = 0; t < frames; t++) {
        stft_frame_spectrum(lm->stft, x, n, t, &w);
        spectrum_power(w.spectrum, lm->bins, cfg->power, power);
        for (int m = 0; m < cfg->n_mels; m++) {
            const double energy = band_energy(lm, m, power);
            out[(size_t)m * frames + t] = (float)(energy > cfg->log_floor ? energy : cfg->log_floor);
        }
    }
    sono_power_to_db(out, (size_t)cfg->n_mels * (size_t)frames);
    free(power);
    stft_work_free(&w);
    return SONO_OK;
}
