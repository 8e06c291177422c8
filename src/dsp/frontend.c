/* The differentiable front end (dsp.h): a recording at its own rate and
 * channels -> the classifier's standardised log-mel, and the transpose of
 * that map's Jacobian for the waveform-domain dream.
 *
 * Forward per frame t (model rate):  Y = rfft(window * frame_t(y)),
 *   P_k = |Y_k|^p, M_m = sum_k B_mk P_k, L = 10 log10(max(M, floor)),
 *   S = (L - mean) / std.
 * Backward:  dL = dS / std;  dM = dL * 10 / (M ln 10) where M > floor;
 *   dP_k = sum_m B_mk dM_m;  (dRe, dIm)_k = dP_k * p |Y_k|^(p-2) (Re, Im)_k;
 *   then the STFT frame's transpose (stft.c), overlap-added into dy; then
 *   R^T (sono_resampler_adjoint) and the downmix's transpose (1/channels to
 *   every channel). Frames are independent, so both passes run them in
 *   parallel; the overlap-add that joins them is sequential, so the result
 *   does not depend on the thread count. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/dsp_internal.h"

struct sono_frontend {
    sono_feature_config cfg;
    int in_rate, channels, model_rate;
    int64_t max_frames;
    int n_mels, bins, n_fft;
    float *mean, *inv_std;   /* (n_mels) */
    float *filterbank;       /* (n_mels, bins) */
    int *first_bin, *end_bin;/* (n_mels) non-zero run of each filter */
    sono_resampler *resampler; /* NULL when in_rate is the model's */
    sono_stft *stft;
    int threads;
    stft_work *work;         /* (threads) */
    double *power;           /* (threads, bins) scratch */
    /* the last forward */
    int64_t n;               /* input frames */
    int64_t n_model;         /* model-rate samples */
    int frames;
    float *mono;             /* (max_frames) downmix; also dmono in backward */
    float *y;                /* (max model samples) mono at the model's rate */
    float *dy;               /* (max model samples) */
    float *spec;             /* (frames, bins, 2) */
    float *mel;              /* (n_mels, frames) mel power M */
    float *dmel;             /* (n_mels, frames) */
    float *dframes;          /* (frames, n_fft) per-frame sample gradients */
    const float *x;          /* the last forward's samples (direction reads its channels) */
    float *channel;          /* (max model samples) one channel at the model's rate (direction) */
};

void sono_frontend_free(sono_frontend *f) {
    if (!f) return;
    for (int i = 0; f->work && i < f->threads; i++) stft_work_free(&f->work[i]);
    free(f->work);
    free(f->power);
    sono_stft_free(f->stft);
    sono_resampler_free(f->resampler);
    free(f->mean), free(f->inv_std), free(f->filterbank), free(f->first_bin), free(f->end_bin);
    free(f->mono), free(f->y), free(f->dy), free(f->spec), free(f->mel), free(f->dmel), free(f->dframes);
    free(f->channel);
    free(f);
}

int64_t sono_frontend_model_samples(const sono_frontend *f, int64_t n) {
    return f->resampler ? sono_resampler_output_length(f->resampler, n) : n;
}

int sono_frontend_frames(const sono_frontend *f, int64_t n) {
    return sono_feature_frames(&f->cfg, sono_frontend_model_samples(f, n));
}

const float *sono_frontend_mel_power(const sono_frontend *f) { return f->mel; }
const float *sono_frontend_model_signal(const sono_frontend *f) { return f->y; }

static void find_supports(sono_frontend *f) {
    for (int m = 0; m < f->n_mels; m++) {
        const float *row = f->filterbank + (size_t)m * f->bins;
        int first = 0, end = f->bins;
        while (first < end && row[first] == 0.0f) first++;
        while (end > first && row[end - 1] == 0.0f) end--;
        f->first_bin[m] = first, f->end_bin[m] = end;
    }
}

static sono_status allocate_buffers(sono_frontend *f, sono_error *err) {
    const int64_t n_model = sono_frontend_model_samples(f, f->max_frames);
    const int frames = sono_feature_frames(&f->cfg, n_model);
    if (frames < 1)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "front end: %lld samples make no frame",
                              (long long)f->max_frames);
    const size_t cells = (size_t)f->n_mels * frames;
    f->mean = malloc((size_t)f->n_mels * sizeof(float));
    f->inv_std = malloc((size_t)f->n_mels * sizeof(float));
    f->first_bin = malloc((size_t)f->n_mels * sizeof(int));
    f->end_bin = malloc((size_t)f->n_mels * sizeof(int));
    f->mono = malloc((size_t)f->max_frames * sizeof(float));
    f->y = malloc((size_t)n_model * sizeof(float));
    f->dy = malloc((size_t)n_model * sizeof(float));
    f->channel = f->channels > 1 ? malloc((size_t)n_model * sizeof(float)) : NULL;
    f->spec = malloc((size_t)frames * f->bins * 2 * sizeof(float));
    f->mel = malloc(cells * sizeof(float));
    f->dmel = malloc(cells * sizeof(float));
    f->dframes = malloc((size_t)frames * f->n_fft * sizeof(float));
    f->threads = omp_get_max_threads();
    f->work = calloc((size_t)f->threads, sizeof *f->work);
    f->power = malloc((size_t)f->threads * f->bins * sizeof(double));
    if (!f->mean || !f->inv_std || !f->first_bin || !f->end_bin || !f->mono || !f->y || !f->dy || !f->spec ||
        !f->mel || !f->dmel || !f->dframes || !f->work || !f->power || (f->channels > 1 && !f->channel))
        return sono_error_set(err, SONO_ERR_MEMORY, "front end: out of memory for %lld frames",
                              (long long)f->max_frames);
    for (int i = 0; i < f->threads; i++)
        if (stft_work_alloc(f->stft, &f->work[i], err) != SONO_OK) return SONO_ERR_MEMORY;
    return SONO_OK;
}

sono_status sono_frontend_new(const sono_feature_config *cfg, const float *mean, const float *std, int in_rate,
                              int channels, int64_t max_frames, sono_frontend **out, sono_error *err) {
    *out = NULL;
    sono_status s = sono_feature_config_validate(cfg, err);
    if (s != SONO_OK) return s;
    if (channels < 1 || channels > 1024 || in_rate < 1 || in_rate > 1000000 || max_frames < 1)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "front end: %d channels at %d Hz, %lld frames is not a recording",
                              channels, in_rate, (long long)max_frames);
    sono_frontend *f = calloc(1, sizeof *f);
    if (!f) return sono_error_set(err, SONO_ERR_MEMORY, "front end: out of memory");
    f->cfg = *cfg;
    f->in_rate = in_rate, f->channels = channels, f->model_rate = cfg->sample_rate;
    f->max_frames = max_frames;
    f->n_mels = cfg->n_mels, f->n_fft = cfg->n_fft, f->bins = cfg->n_fft / 2 + 1;
    if (in_rate != cfg->sample_rate) s = sono_resampler_new(in_rate, cfg->sample_rate, &f->resampler, err);
    if (s == SONO_OK) s = sono_stft_new(cfg->n_fft, cfg->hop, cfg->center, cfg->pad_mode, &f->stft, err);
    if (s == SONO_OK)
        s = sono_mel_filterbank(cfg->sample_rate, cfg->n_fft, cfg->n_mels, cfg->fmin, sono_feature_config_fmax(cfg),
                                &f->filterbank, err);
    if (s == SONO_OK) s = allocate_buffers(f, err);
    if (s != SONO_OK) {
        sono_frontend_free(f);
        return s;
    }
    find_supports(f);
    for (int m = 0; m < f->n_mels; m++) {
        f->mean[m] = mean ? mean[m] : 0.0f;
        f->inv_std[m] = std ? 1.0f / std[m] : 1.0f;
    }
    *out = f;
    return SONO_OK;
}

static void downmix(const float *x, int64_t n, int channels, float *mono) {
    if (channels == 1) {
        memcpy(mono, x, (size_t)n * sizeof *mono);
        return;
    }
    const float scale = 1.0f / (float)channels;
#pragma omp parallel for schedule(static)
    for (int64_t i = 0; i < n; i++) {
        float s = 0;
        for (int c = 0; c < channels; c++) s += x[i * channels + c];
        mono[i] = s * scale;
    }
}

/* |Y|^p per bin, in double as sono_logmel_compute. */
static void bin_power(const fftwf_complex *spectrum, int bins, double p, double *power) {
    for (int k = 0; k < bins; k++) {
        const double squared = (double)spectrum[k][0] * spectrum[k][0] + (double)spectrum[k][1] * spectrum[k][1];
        power[k] = p == 2.0 ? squared : pow(squared, 0.5 * p);
    }
}

sono_status sono_frontend_forward(sono_frontend *f, const float *x, int64_t n, float *S, sono_error *err) {
    if (!x || !S || n < 1 || n > f->max_frames)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "front end: %lld frames is outside 1..%lld", (long long)n,
                              (long long)f->max_frames);
    f->n = n, f->x = x;
    f->n_model = sono_frontend_model_samples(f, n);
    f->frames = sono_feature_frames(&f->cfg, f->n_model);
    if (f->frames < 1)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "front end: %lld samples make no frame", (long long)n);
    downmix(x, n, f->channels, f->mono);
    if (f->resampler) sono_resampler_forward(f->resampler, f->mono, n, f->y, f->n_model);
    else memcpy(f->y, f->mono, (size_t)n * sizeof(float));
    const int frames = f->frames, bins = f->bins;
    const double floor_power = f->cfg.log_floor;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < frames; t++) {
        const int id = omp_get_thread_num();
        stft_work *w = &f->work[id];
        double *power = f->power + (size_t)id * bins;
        stft_frame_spectrum(f->stft, f->y, f->n_model, t, w);
        memcpy(f->spec + (size_t)t * bins * 2, w->spectrum, (size_t)bins * 2 * sizeof(float));
        bin_power(w->spectrum, bins, f->cfg.power, power);
        for (int m = 0; m < f->n_mels; m++) {
            const float *row = f->filterbank + (size_t)m * bins;
            double e = 0;
            for (int k = f->first_bin[m]; k < f->end_bin[m]; k++) e += row[k] * power[k];
            f->mel[(size_t)m * frames + t] = (float)e;
            S[(size_t)m * frames + t] = (float)(e > floor_power ? e : floor_power);
        }
    }
    const size_t cells = (size_t)f->n_mels * frames;
    sono_power_to_db(S, cells);
    for (int m = 0; m < f->n_mels; m++) {
        float *row = S + (size_t)m * frames;
        for (int t = 0; t < frames; t++) row[t] = (row[t] - f->mean[m]) * f->inv_std[m];
    }
    return SONO_OK;
}

/* dS -> gradient with respect to the mel power M (dB's slope; none at the
 * floor). With log_gain, the gradient in dB per band instead (no 1/M): see
 * sono_frontend_direction. */
static void mel_gradient(sono_frontend *f, const float *dS, int log_gain) {
    const int frames = f->frames;
    const double db_per_ln = 10.0 / log(10.0), floor_power = f->cfg.log_floor;
    for (int m = 0; m < f->n_mels; m++) {
        const float *d = dS + (size_t)m * frames;
        const float *M = f->mel + (size_t)m * frames;
        float *dm = f->dmel + (size_t)m * frames;
        for (int t = 0; t < frames; t++) {
            if (!(M[t] > floor_power)) dm[t] = 0.0f;
            else dm[t] = log_gain ? d[t] * f->inv_std[m] : (float)(d[t] * f->inv_std[m] * db_per_ln / M[t]);
        }
    }
}

/* Frame t: dM -> dP -> d(Re, Im) -> the frame's sample gradient (dframes row t).
 * The bins scaled are the downmix's (the forward's spectrum) or, given
 * `signal` (model rate), that signal's. */
static void frame_backward(sono_frontend *f, int t, stft_work *w, double *dpower, int log_gain, const float *signal) {
    const int bins = f->bins, frames = f->frames;
    memset(dpower, 0, (size_t)bins * sizeof *dpower);
    for (int m = 0; m < f->n_mels; m++) {
        const float g = f->dmel[(size_t)m * frames + t];
        if (g == 0.0f) continue;
        const float *row = f->filterbank + (size_t)m * bins;
        for (int k = f->first_bin[m]; k < f->end_bin[m]; k++) dpower[k] += (double)row[k] * g;
    }
    const float *Y = f->spec + (size_t)t * bins * 2;
    if (signal) {
        stft_frame_spectrum(f->stft, signal, f->n_model, t, w);
        Y = &w->spectrum[0][0]; /* each bin is read before it is overwritten below */
    }
    const double p = f->cfg.power;
    for (int k = 0; k < bins; k++) {
        const double re = Y[2 * k], im = Y[2 * k + 1];
        double slope; /* dP/dRe = slope * Re, dP/dIm = slope * Im */
        if (p == 2.0 || log_gain) slope = 2.0;
        else {
            const double sq = re * re + im * im;
            slope = sq > 0 ? p * pow(sq, 0.5 * p - 1.0) : 0.0;
        }
        w->spectrum[k][0] = (float)(dpower[k] * slope * re);
        w->spectrum[k][1] = (float)(dpower[k] * slope * im);
    }
    stft_frame_spectrum_adjoint(f->stft, w->spectrum, w);
    memcpy(f->dframes + (size_t)t * f->n_fft, w->frame, (size_t)f->n_fft * sizeof(float));
}

/* dmono (n, input rate) = the transposes of the STFT and the resampler
 * applied to the frames' dP, scaling the bins of `signal` (NULL: the
 * downmix's). */
static void to_samples(sono_frontend *f, int log_gain, const float *signal, float *dmono) {
#pragma omp parallel for schedule(static)
    for (int t = 0; t < f->frames; t++) {
        const int id = omp_get_thread_num();
        frame_backward(f, t, &f->work[id], f->power + (size_t)id * f->bins, log_gain, signal);
    }
    memset(f->dy, 0, (size_t)f->n_model * sizeof(float));
    for (int t = 0; t < f->frames; t++)
        stft_frame_accumulate(f->stft, f->dframes + (size_t)t * f->n_fft, t, f->dy, f->n_model);
    if (f->resampler) sono_resampler_adjoint(f->resampler, f->dy, f->n_model, dmono, f->n);
    else memcpy(dmono, f->dy, (size_t)f->n * sizeof(float));
}

static sono_status backward(sono_frontend *f, const float *dS, float *dx, int log_gain, sono_error *err) {
    if (!dS || !dx || f->frames < 1)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "front end: backward needs a forward first");
    mel_gradient(f, dS, log_gain);
    const int C = f->channels;
    const float scale = 1.0f / (float)C;
    float *dmono = f->mono; /* the forward's downmix is no longer needed */
    if (!log_gain || C == 1) {
        to_samples(f, log_gain, NULL, dmono);
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < f->n; i++)
            for (int c = 0; c < C; c++) dx[i * C + c] = dmono[i] * scale;
        return SONO_OK;
    }
    /* The direction with several channels: each channel's own bins change
     * in proportion to themselves, so each keeps its own spectrum and the
     * stereo image stays. The transposes are linear and the downmix's
     * spectrum is the mean of the channels', so the downmix (all the
     * network hears) changes exactly as with the downmix's own bins. */
    for (int c = 0; c < C; c++) {
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < f->n; i++) dmono[i] = f->x[i * C + c];
        if (f->resampler) sono_resampler_forward(f->resampler, dmono, f->n, f->channel, f->n_model);
        else memcpy(f->channel, dmono, (size_t)f->n * sizeof(float));
        to_samples(f, log_gain, f->channel, dmono);
#pragma omp parallel for schedule(static)
        for (int64_t i = 0; i < f->n; i++) dx[i * C + c] = dmono[i] * scale;
    }
    return SONO_OK;
}

sono_status sono_frontend_backward(sono_frontend *f, const float *dS, float *dx, sono_error *err) {
    return backward(f, dS, dx, 0, err);
}

sono_status sono_frontend_direction(sono_frontend *f, const float *dS, float *dx, sono_error *err) {
    return backward(f, dS, dx, 1, err);
}

int sono_frontend_rate(const sono_frontend *f) { return f->in_rate; }
