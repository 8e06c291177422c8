/* The waveform front end of the dream: the resampler as a linear operator
 * (its adjoint, and its output beside libsoxr's), and the recording ->
 * standardised log-mel map with its backward pass (central differences in
 * double, and equality with sono_logmel_compute). */
#include <math.h>

#include "check.h"
#include "sonodream/audio.h"
#include "sonodream/dsp.h"

static uint64_t rng_state = 12345;
static double uniform(void) { /* splitmix64 -> [0, 1) */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

/* <R x, y> = <x, R^T y> for random x, y: the adjoint is R's transpose. */
static void test_resampler_adjoint(int in_rate, int out_rate, int64_t n_in) {
    sono_error err = {0};
    sono_resampler *r;
    sono_resampler_new(in_rate, out_rate, &r, &err);
    CHECK(r != NULL);
    if (!r) return;
    int64_t n_out = sono_resampler_output_length(r, n_in);
    float *x = malloc(n_in * sizeof *x), *y = malloc(n_out * sizeof *y);
    float *rx = malloc(n_out * sizeof *rx), *rty = malloc(n_in * sizeof *rty);
    for (int64_t i = 0; i < n_in; i++) x[i] = (float)(uniform() - 0.5);
    for (int64_t i = 0; i < n_out; i++) y[i] = (float)(uniform() - 0.5);
    sono_resampler_forward(r, x, n_in, rx, n_out);
    sono_resampler_adjoint(r, y, n_out, rty, n_in);
    double a = 0, b = 0, scale = 0;
    for (int64_t i = 0; i < n_out; i++) a += (double)rx[i] * y[i], scale += fabs((double)rx[i] * y[i]);
    for (int64_t i = 0; i < n_in; i++) b += (double)x[i] * rty[i];
    CHECK_MSG(fabs(a - b) <= 1e-5 * scale, "%d -> %d Hz: <Rx,y> = %.9g, <x,R'y> = %.9g", in_rate, out_rate, a, b);
    free(x), free(y), free(rx), free(rty);
    sono_resampler_free(r);
}

/* Our resampler beside libsoxr's (high quality) on a sum of tones below the
 * lower Nyquist's pass band: they agree to better than -60 dB. */
static void test_resampler_matches_soxr(int in_rate, int out_rate) {
    sono_error err = {0};
    const int64_t n = in_rate; /* one second */
    float *x = malloc(n * sizeof *x);
    double top = 0.75 * 0.5 * (in_rate < out_rate ? in_rate : out_rate);
    const double tones[] = {110.0, 997.0, 3001.0, top};
    for (int64_t i = 0; i < n; i++) {
        double s = 0;
        for (int k = 0; k < 4; k++) s += 0.2 * sin(2 * M_PI * tones[k] * i / in_rate + k);
        x[i] = (float)s;
    }
    sono_resampler *r;
    sono_resampler_new(in_rate, out_rate, &r, &err);
    float *soxr = NULL;
    int64_t n_soxr = 0;
    CHECK_OK(sono_audio_resample(x, n, in_rate, out_rate, &soxr, &n_soxr, &err));
    int64_t n_out = sono_resampler_output_length(r, n);
    CHECK(n_out == n_soxr);
    float *y = malloc(n_out * sizeof *y);
    sono_resampler_forward(r, x, n, y, n_out);
    /* Away from the ends, where both see zeros before the signal. */
    double signal = 0, diff = 0;
    for (int64_t i = n_out / 10; i < n_out - n_out / 10; i++) {
        signal += (double)soxr[i] * soxr[i];
        diff += ((double)y[i] - soxr[i]) * ((double)y[i] - soxr[i]);
    }
    double snr = 10 * log10(signal / (diff + 1e-30));
    CHECK_MSG(snr > 60, "%d -> %d Hz: difference to libsoxr at %.1f dB below the signal", in_rate, out_rate, snr);
    free(x), free(y), free(soxr);
    sono_resampler_free(r);
}

/* On mono audio at the features' rate, the front end is exactly the
 * features: sono_logmel_compute, standardised. */
static void test_frontend_equals_logmel(void) {
    sono_error err = {0};
    sono_feature_config cfg;
    sono_feature_config_default(&cfg);
    const int64_t n = 16000 + 123;
    float *x = malloc(n * sizeof *x);
    for (int64_t i = 0; i < n; i++) x[i] = (float)(0.3 * sin(2 * M_PI * 440 * i / 16000.0) + 0.05 * (uniform() - 0.5));
    float mean[128], std[128];
    for (int m = 0; m < 128; m++) mean[m] = (float)(-40 + 0.1 * m), std[m] = (float)(10 + 0.05 * m);
    sono_frontend *f;
    sono_frontend_new(&cfg, mean, std, 16000, 1, n, &f, &err);
    CHECK(f != NULL);
    sono_logmel *lm;
    sono_logmel_new(&cfg, &lm, &err);
    int frames = sono_feature_frames(&cfg, n);
    CHECK(sono_frontend_frames(f, n) == frames);
    float *a = malloc((size_t)128 * frames * sizeof *a), *b = malloc((size_t)128 * frames * sizeof *b);
    CHECK_OK(sono_frontend_forward(f, x, n, a, &err));
    CHECK_OK(sono_logmel_compute(lm, x, n, b, &err));
    double worst = 0;
    for (int m = 0; m < 128; m++)
        for (int t = 0; t < frames; t++) {
            double want = (b[(size_t)m * frames + t] - mean[m]) / std[m];
            double d = fabs(a[(size_t)m * frames + t] - want) * std[m]; /* in dB */
            if (d > worst) worst = d;
        }
    CHECK_MSG(worst < 1e-3, "front end differs from the log-mel features by %.3g dB", worst);
    free(x), free(a), free(b);
    sono_logmel_free(lm);
    sono_frontend_free(f);
}

/* J(x) = sum_cells c * S(x) for fixed random c. The backward pass gives
 * dJ/dx; check its projection on random directions and single samples
 * against central differences. The config is small (8 kHz, n_fft 256, 24
 * mels) and the input a 22.05 kHz stereo recording, so every stage runs:
 * downmix, resampling, STFT, mel, dB, standardisation. */
static double objective(sono_frontend *f, const float *x, int64_t n, const float *c, float *S, size_t cells) {
    sono_error err = {0};
    if (sono_frontend_forward(f, x, n, S, &err) != SONO_OK) return NAN;
    double j = 0;
    for (size_t i = 0; i < cells; i++) j += (double)c[i] * S[i];
    return j;
}

static void test_frontend_gradient(sono_pad_mode pad, double power) {
    sono_error err = {0};
    sono_feature_config cfg;
    sono_feature_config_default(&cfg);
    cfg.sample_rate = 8000, cfg.n_fft = 256, cfg.hop = 64, cfg.n_mels = 24, cfg.seconds = 0.5;
    cfg.pad_mode = pad, cfg.power = power;
    const int in_rate = 22050, C = 2;
    const int64_t n = 4000;
    float *x = malloc(n * C * sizeof *x), *dx = malloc(n * C * sizeof *dx), *xp = malloc(n * C * sizeof *xp);
    for (int64_t i = 0; i < n; i++) {
        double s = 0.3 * sin(2 * M_PI * 660 * i / in_rate) * (1 + 0.5 * sin(2 * M_PI * 3 * i / in_rate));
        x[i * C] = (float)(s + 0.1 * (uniform() - 0.5));
        x[i * C + 1] = (float)(0.5 * s + 0.1 * (uniform() - 0.5));
    }
    float std[24];
    for (int m = 0; m < 24; m++) std[m] = (float)(8 + m * 0.5);
    sono_frontend *f;
    sono_frontend_new(&cfg, NULL, std, in_rate, C, n, &f, &err);
    CHECK(f != NULL);
    if (!f) return;
    const int frames = sono_frontend_frames(f, n);
    const size_t cells = (size_t)24 * frames;
    float *c = malloc(cells * sizeof *c), *S = malloc(cells * sizeof *S);
    for (size_t i = 0; i < cells; i++) c[i] = (float)(uniform() - 0.5);
    objective(f, x, n, c, S, cells);
    CHECK_OK(sono_frontend_backward(f, c, dx, &err));
    /* Directional derivatives by central differences with one Richardson
     * step, (4 D(h/2) - D(h)) / 3, which cancels the h^2 term: the float
     * forward pass rules out tiny steps (1e-5 of the signal's RMS is lost
     * in rounding) and the log's curvature shows at 1e-3. Tolerance 1 %. */
    /* Each direction is random plus a part along the gradient, so that the
     * change of J it causes stands well above J's float rounding (a purely
     * random direction is nearly orthogonal to the gradient in 8000
     * dimensions, and its derivative drowns in noise in an -O0 build). */
    float *v = malloc(n * C * sizeof *v);
    double gnorm = 0;
    for (int64_t i = 0; i < n * C; i++) gnorm += (double)dx[i] * dx[i];
    gnorm = sqrt(gnorm);
    for (int trial = 0; trial < 4; trial++) {
        double along = 0, norm = 0, rnorm = 0;
        for (int64_t i = 0; i < n * C; i++) v[i] = (float)(uniform() - 0.5), rnorm += (double)v[i] * v[i];
        rnorm = sqrt(rnorm);
        for (int64_t i = 0; i < n * C; i++) v[i] += (float)(0.3 * (trial % 2 ? -1 : 1) * rnorm * dx[i] / gnorm);
        for (int64_t i = 0; i < n * C; i++) norm += (double)v[i] * v[i];
        for (int64_t i = 0; i < n * C; i++) along += (double)dx[i] * v[i];
        double d[2];
        for (int k = 0; k < 2; k++) {
            const double eps = (k ? 2e-4 : 4e-4) / sqrt(norm / (n * C));
            for (int64_t i = 0; i < n * C; i++) xp[i] = (float)(x[i] + eps * v[i]);
            double jp = objective(f, xp, n, c, S, cells);
            for (int64_t i = 0; i < n * C; i++) xp[i] = (float)(x[i] - eps * v[i]);
            double jm = objective(f, xp, n, c, S, cells);
            d[k] = (jp - jm) / (2 * eps);
        }
        double numeric = (4 * d[1] - d[0]) / 3;
        CHECK_MSG(fabs(numeric - along) <= 0.01 * fabs(numeric) + 1e-6, "direction %d: backward %.6g, differences %.6g",
                  trial, along, numeric);
    }
    free(v);
    /* Single samples, both channels, including the first and last ones
     * (padding) and one in the middle. */
    const int64_t picks[] = {0, 1, n / 2, n - 2, n - 1};
    for (int p = 0; p < 5; p++)
        for (int ch = 0; ch < C; ch++) {
            int64_t i = picks[p] * C + ch;
            double eps = 2e-3;
            memcpy(xp, x, n * C * sizeof *x);
            xp[i] = (float)(x[i] + eps);
            double jp = objective(f, xp, n, c, S, cells);
            xp[i] = (float)(x[i] - eps);
            double jm = objective(f, xp, n, c, S, cells);
            double numeric = (jp - jm) / (2 * eps);
            double tol = 0.02 * fabs(numeric) + 0.02 * fabs(dx[i]) + 1e-3;
            CHECK_MSG(fabs(numeric - dx[i]) <= tol, "sample %lld channel %d: backward %.6g, differences %.6g",
                      (long long)picks[p], ch, dx[i], numeric);
        }
    free(x), free(dx), free(xp), free(c), free(S);
    sono_frontend_free(f);
}

/* The direction on a stereo recording: the downmix (what the network
 * hears) moves exactly as with a mono front end on the downmix, and each
 * channel's change is made of its own spectrum: with the right channel a
 * scaled copy of the left, its change is the same scaled copy (the stereo
 * image is kept). */
static void test_direction_keeps_channels(void) {
    sono_error err = {0};
    sono_feature_config cfg;
    sono_feature_config_default(&cfg);
    cfg.sample_rate = 8000, cfg.n_fft = 256, cfg.hop = 64, cfg.n_mels = 24, cfg.seconds = 0.5;
    const int in_rate = 22050, C = 2;
    const int64_t n = 4000;
    float *x = malloc(n * C * sizeof *x), *mono = malloc(n * sizeof *mono);
    float *dx = malloc(n * C * sizeof *dx), *dmono = malloc(n * sizeof *dmono);
    for (int64_t i = 0; i < n; i++) {
        double left = 0.3 * sin(2 * M_PI * 660 * i / in_rate) + 0.1 * (uniform() - 0.5);
        double right = 0.2 * sin(2 * M_PI * 1500 * i / in_rate) + 0.1 * (uniform() - 0.5);
        x[i * C] = (float)left, x[i * C + 1] = (float)right;
        mono[i] = (x[i * C] + x[i * C + 1]) * 0.5f;
    }
    sono_frontend *fs;
    sono_frontend_new(&cfg, NULL, NULL, in_rate, C, n, &fs, &err);
    sono_frontend *fm;
    sono_frontend_new(&cfg, NULL, NULL, in_rate, 1, n, &fm, &err);
    CHECK(fs && fm);
    if (!fs || !fm) return;
    const int frames = sono_frontend_frames(fs, n);
    const size_t cells = (size_t)24 * frames;
    float *g = malloc(cells * sizeof *g), *S = malloc(cells * sizeof *S);
    for (size_t i = 0; i < cells; i++) g[i] = (float)(uniform() - 0.5);
    CHECK_OK(sono_frontend_forward(fs, x, n, S, &err));
    CHECK_OK(sono_frontend_direction(fs, g, dx, &err));
    CHECK_OK(sono_frontend_forward(fm, mono, n, S, &err));
    CHECK_OK(sono_frontend_direction(fm, g, dmono, &err));
    double worst = 0, peak = 0, differ = 0;
    for (int64_t i = 0; i < n; i++) {
        const double mean = 0.5 * ((double)dx[i * C] + dx[i * C + 1]), want = 0.5 * dmono[i];
        worst = fabs(mean - want) > worst ? fabs(mean - want) : worst;
        peak = fabs(want) > peak ? fabs(want) : peak;
        differ += fabs((double)dx[i * C] - dx[i * C + 1]);
    }
    CHECK_MSG(worst <= 1e-4 * peak, "downmix of the stereo direction off by %.3g of %.3g", worst, peak);
    CHECK_MSG(differ > 0.1 * peak * n / 100, "both channels got the same change"); /* unlike a centred one */
    /* Right = 0.5 left: the right channel's change is half the left's. */
    for (int64_t i = 0; i < n; i++) x[i * C + 1] = 0.5f * x[i * C];
    CHECK_OK(sono_frontend_forward(fs, x, n, S, &err));
    CHECK_OK(sono_frontend_direction(fs, g, dx, &err));
    worst = peak = 0;
    for (int64_t i = 0; i < n; i++) {
        worst = fabs(dx[i * C + 1] - 0.5 * dx[i * C]) > worst ? fabs(dx[i * C + 1] - 0.5 * dx[i * C]) : worst;
        peak = fabs(dx[i * C]) > peak ? fabs(dx[i * C]) : peak;
    }
    CHECK_MSG(worst <= 1e-5 * peak, "a half-level copy changed by other than half: %.3g of %.3g", worst, peak);
    free(x), free(mono), free(dx), free(dmono), free(g), free(S);
    sono_frontend_free(fs), sono_frontend_free(fm);
}

int main(void) {
    test_resampler_adjoint(44100, 16000, 30011);
    test_resampler_adjoint(8000, 16000, 7001);
    test_resampler_adjoint(16000, 16000, 1000);
    test_resampler_adjoint(96000, 16000, 50000);
    test_resampler_adjoint(44101, 16000, 20000); /* no common factor: rounded phases */
    test_resampler_matches_soxr(44100, 16000);
    test_resampler_matches_soxr(48000, 16000);
    test_resampler_matches_soxr(22050, 16000);
    test_resampler_matches_soxr(8000, 16000);
    test_resampler_matches_soxr(96000, 16000);
    test_frontend_equals_logmel();
    test_frontend_gradient(SONO_PAD_CONSTANT, 2.0);
    test_frontend_gradient(SONO_PAD_REFLECT, 2.0);
    test_frontend_gradient(SONO_PAD_CONSTANT, 1.0);
    test_direction_keeps_channels();
    return test_result("test_frontend");
}
