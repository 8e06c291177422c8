/* Back to sound: a (dreamed) standardised log-mel -> dB -> mel power ->
 * linear power (NNLS) -> magnitude at a finer hop -> phase by fast
 * Griffin-Lim -> resample -> peak normalise. And a noise start for dreams. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_internal.h"
#include "sonodream/audio.h"
#include "sonodream/dream.h"
#include "sonodream/reconstruct.h"

void sono_dream_audio_defaults(sono_dream_audio_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->griffin_lim_iterations = 64;
    opt->momentum = 0.99;
    opt->hop_divisor = 0;
    opt->nnls_iterations = 0;
    opt->seed = 1;
    opt->out_rate = 0;
    opt->peak_dbfs = -1.0;
}

/* Linear power (bins, frames) at the features' hop -> magnitude
 * (frames_s, bins) at the synthesis hop, linearly interpolated in time
 * (the power becomes magnitude in place first).
 * Frame t of either grid is centred at t * its hop (plus n_fft/2 when
 * uncentred, the same offset for both), so synthesis frame j sits at
 * analysis position j * hop_s / hop. */
static void synthesis_magnitude(float *power, int bins, int frames, double exponent, int hop, int hop_s,
                                int frames_s, float *mag) {
    for (size_t i = 0; i < (size_t)bins * frames; i++) {
        float p = power[i] > 0 ? power[i] : 0;
        power[i] = exponent == 0.5 ? sqrtf(p) : (float)pow(p, exponent);
    }
    for (int j = 0; j < frames_s; j++) {
        double pos = (double)j * hop_s / hop;
        int t0 = (int)pos;
        float f = (float)(pos - t0);
        if (t0 >= frames - 1) t0 = frames - 1, f = 0;
        int t1 = t0 + 1 < frames ? t0 + 1 : t0;
        float *row = mag + (size_t)j * bins;
        for (int b = 0; b < bins; b++) {
            float m0 = power[(size_t)b * frames + t0], m1 = power[(size_t)b * frames + t1];
            row[b] = m0 + f * (m1 - m0);
        }
    }
}

int sono_dream_hop_divisor(const sono_feature_config *cfg) {
    int quarter = cfg->n_fft / 4 > 0 ? cfg->n_fft / 4 : 1;
    int d = (cfg->hop + quarter - 1) / quarter;
    return d < 1 ? 1 : d;
}

static void peak_normalise(float *x, int64_t n, double peak_dbfs) {
    if (isnan(peak_dbfs)) return;
    float peak = 0;
    for (int64_t i = 0; i < n; i++)
        if (fabsf(x[i]) > peak) peak = fabsf(x[i]);
    if (!(peak > 0)) return;
    float g = (float)(pow(10.0, peak_dbfs / 20.0) / peak);
    for (int64_t i = 0; i < n; i++) x[i] *= g;
}

sono_status sono_dream_to_audio(const sono_classifier *c, const float *logmel_std, int frames,
                                const float *phase_source, int64_t n,
                                const sono_dream_audio_options *opt, float **out, int64_t *n_out,
                                sono_dream_audio_report *report, sono_error *err) {
    *out = NULL;
    *n_out = 0;
    const sono_feature_config *cfg = &c->features;
    if (n < 1 || frames != sono_feature_frames(cfg, n))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream to audio: %d frames do not make %lld samples (%d expected)",
                              frames, (long long)n, n >= 1 ? sono_feature_frames(cfg, n) : 0);
    if (opt->griffin_lim_iterations < 0 || opt->hop_divisor < 0 || opt->hop_divisor > cfg->hop ||
        opt->out_rate < 0 || opt->out_rate > SONO_AUDIO_MAX_RATE || !(opt->momentum >= 0 && opt->momentum < 1.5))
        return sono_error_set(err, SONO_ERR_ARGUMENT,
                              "dream to audio: Griffin-Lim iterations >= 0, hop divisor in 0..%d, momentum in "
                              "[0, 1.5) and an output rate in 0..%d are needed",
                              cfg->hop, SONO_AUDIO_MAX_RATE);
    const int n_mels = cfg->n_mels, bins = cfg->n_fft / 2 + 1;
    const int hop_s = cfg->hop / (opt->hop_divisor ? opt->hop_divisor : sono_dream_hop_divisor(cfg));
    const size_t mf = (size_t)n_mels * frames, bf = (size_t)bins * frames;
    sono_logmel *lm;
    sono_status s = sono_logmel_new(cfg, &lm, err);
    if (s != SONO_OK) return s;
    sono_stft *stft;
    s = sono_stft_new(cfg->n_fft, hop_s, cfg->center, cfg->pad_mode, &stft, err);
    float *mel = malloc(mf * sizeof(float));   /* (n_mels, frames) */
    float *lin = malloc(bf * sizeof(float));   /* (bins, frames) linear power */
    float *mag = NULL, *phase = NULL, *spec = NULL, *signal = NULL, *res = NULL;
    int frames_s = stft ? sono_stft_frames(stft, n) : 0;
    size_t cells_s = (size_t)frames_s * bins;
    if (s == SONO_OK) {
        mag = malloc(cells_s * sizeof(float));          /* (frames_s, bins) */
        signal = malloc((size_t)n * sizeof(float));     /* (n) */
        if (phase_source) {
            phase = malloc(cells_s * sizeof(float));        /* (frames_s, bins) */
            spec = malloc(2 * cells_s * sizeof(float));     /* (frames_s, bins, 2) */
        }
        if (!mel || !lin || !mag || !signal || (phase_source && (!phase || !spec)))
            s = sono_error_set(err, SONO_ERR_MEMORY, "dream to audio: out of memory");
    }
    if (s == SONO_OK) {
        /* Standardised -> dB -> the power the mel filterbank produced. */
        memcpy(mel, logmel_std, mf * sizeof(float));
        sono_classifier_unstandardize(c, mel, frames);
        for (size_t i = 0; i < mf; i++) mel[i] = (float)pow(10.0, mel[i] / 10.0);
        s = sono_mel_to_linear_nnls(sono_logmel_filterbank(lm), n_mels, bins, mel, frames, opt->nnls_iterations,
                                    lin, err);
    }
    if (s == SONO_OK) {
        /* The features are |X|^power through the filterbank. */
        synthesis_magnitude(lin, bins, frames, 1.0 / cfg->power, cfg->hop, hop_s, frames_s, mag);
        if (phase_source) {
            s = sono_stft_forward(stft, phase_source, n, spec, err);
            for (size_t i = 0; s == SONO_OK && i < cells_s; i++) phase[i] = atan2f(spec[2 * i + 1], spec[2 * i]);
        }
    }
    double convergence = 0;
    if (s == SONO_OK) {
        sono_griffin_lim_options gl;
        sono_griffin_lim_defaults(&gl);
        gl.iterations = opt->griffin_lim_iterations;
        gl.momentum = opt->momentum;
        gl.seed = opt->seed;
        gl.init_phase = phase;
        s = sono_griffin_lim(stft, mag, n, &gl, signal, &convergence, err);
    }
    int rate = opt->out_rate > 0 ? opt->out_rate : cfg->sample_rate;
    int64_t count = n;
    if (s == SONO_OK) {
        if (rate != cfg->sample_rate) {
            s = sono_audio_resample(signal, n, cfg->sample_rate, rate, &res, &count, err);
        } else {
            res = signal;
            signal = NULL;
        }
    }
    if (s == SONO_OK) {
        peak_normalise(res, count, opt->peak_dbfs);
        *out = res;
        *n_out = count;
        res = NULL;
        if (report) {
            report->convergence = convergence;
            report->synthesis_hop = hop_s;
            report->synthesis_frames = frames_s;
            report->sample_rate = rate;
        }
    }
    free(mel), free(lin), free(mag), free(phase), free(spec), free(signal), free(res);
    sono_stft_free(stft);
    sono_logmel_free(lm);
    return s;
}

sono_status sono_dream_noise(const sono_feature_config *cfg, double seconds, double level_db, uint64_t seed,
                             float **out, int64_t *n_out, sono_error *err) {
    *out = NULL;
    *n_out = 0;
    if (!(seconds > 0 && seconds <= 3600))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "noise: seconds must be in (0, 3600] (got %g)", seconds);
    int64_t n = (int64_t)llround(seconds * cfg->sample_rate);
    if (n < 1) n = 1;
    int frames = sono_feature_frames(cfg, n);
    if (frames < 1)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "noise: %g s is shorter than one frame", seconds);
    float *x = malloc((size_t)n * sizeof(float));
    float *lmv = malloc((size_t)cfg->n_mels * frames * sizeof(float));
    sono_logmel *lm;
    sono_status s = sono_logmel_new(cfg, &lm, err);
    if (s == SONO_OK && (!x || !lmv)) s = sono_error_set(err, SONO_ERR_MEMORY, "noise: out of memory");
    if (s == SONO_OK) {
        /* Unit-variance Gaussian samples (Box-Muller on 53-bit uniforms). */
        uint64_t state = seed ^ 0x6e6f6973654e4f49ull; /* "noiseNOI" */
        for (int64_t i = 0; i < n; i += 2) {
            double u1 = ((double)(sono_splitmix64(&state) >> 11) + 1.0) * 0x1.0p-53;
            double u2 = sono_unit_double(sono_splitmix64(&state));
            double r = sqrt(-2.0 * log(u1));
            x[i] = (float)(r * cos(2 * M_PI * u2));
            if (i + 1 < n) x[i + 1] = (float)(r * sin(2 * M_PI * u2));
        }
        s = sono_logmel_compute(lm, x, n, lmv, err);
    }
    if (s == SONO_OK) {
        /* Scaling the signal by g shifts every (unfloored) cell by 20 log10 g. */
        double mean = 0;
        for (size_t i = 0; i < (size_t)cfg->n_mels * frames; i++) mean += lmv[i];
        mean /= (double)cfg->n_mels * frames;
        float g = (float)pow(10.0, (level_db - mean) / 20.0);
        for (int64_t i = 0; i < n; i++) x[i] *= g;
        *out = x;
        *n_out = n;
        x = NULL;
    }
    free(x);
    free(lmv);
    sono_logmel_free(lm);
    return s;
}
