/* Back to sound: NNLS mel inversion, Griffin-Lim, and the pictures. */
#include <cairo.h>
#include <math.h>

#include "check.h"
#include "sonodream/audio.h"
#include "sonodream/plot.h"
#include "sonodream/reconstruct.h"

/* Minimum-norm least squares P = M^T (M M^T)^-1 Y in double (Cholesky), the
 * pseudo-inverse solution NNLS must beat. */
static void pinv_solve(const float *m, int rows, int cols, const float *y, double *p) {
    double *g = calloc((size_t)rows * rows, sizeof *g), *z = calloc((size_t)rows, sizeof *z);
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < rows; j++)
            for (int k = 0; k < cols; k++) g[i * rows + j] += (double)m[i * cols + k] * m[j * cols + k];
    for (int j = 0; j < rows; j++) { /* in-place Cholesky, lower triangle */
        for (int k = 0; k < j; k++) g[j * rows + j] -= g[j * rows + k] * g[j * rows + k];
        g[j * rows + j] = sqrt(g[j * rows + j]);
        for (int i = j + 1; i < rows; i++) {
            for (int k = 0; k < j; k++) g[i * rows + j] -= g[i * rows + k] * g[j * rows + k];
            g[i * rows + j] /= g[j * rows + j];
        }
    }
    for (int i = 0; i < rows; i++) { /* L z = y, then L^T z = z */
        z[i] = y[i];
        for (int k = 0; k < i; k++) z[i] -= g[i * rows + k] * z[k];
        z[i] /= g[i * rows + i];
    }
    for (int i = rows - 1; i >= 0; i--) {
        for (int k = i + 1; k < rows; k++) z[i] -= g[k * rows + i] * z[k];
        z[i] /= g[i * rows + i];
    }
    for (int k = 0; k < cols; k++) {
        p[k] = 0;
        for (int i = 0; i < rows; i++) p[k] += m[i * cols + k] * z[i];
    }
    free(g);
    free(z);
}

static void test_nnls_beats_pinv(void) {
    const int n_fft = 1024, bins = n_fft / 2 + 1, n_mels = 64;
    sono_error err = {0};
    float *fb;
    sono_mel_filterbank(16000, n_fft, n_mels, 0, 8000, &fb, &err);
    CHECK(fb != NULL);
    if (!fb) return;
    /* A known spectrum: harmonics of 220 Hz over a falling floor. */
    float *truth = malloc(bins * sizeof(float)), *mel = calloc(n_mels, sizeof(float));
    float *nnls = malloc(bins * sizeof(float));
    double *pinv = malloc(bins * sizeof(double));
    for (int b = 0; b < bins; b++) {
        double hz = b * 16000.0 / n_fft;
        double harmonic = fmod(hz, 220.0);
        truth[b] = (float)(0.01 / (1 + hz / 500) + (harmonic < 16 || harmonic > 204 ? 1.0 / (1 + hz / 2000) : 0));
    }
    for (int m = 0; m < n_mels; m++)
        for (int b = 0; b < bins; b++) mel[m] += fb[m * bins + b] * truth[b];
    CHECK_OK(sono_mel_to_linear_nnls(fb, n_mels, bins, mel, 1, 0, nnls, &err));
    pinv_solve(fb, n_mels, bins, mel, pinv);
    double err_nnls = 0, err_pinv = 0, norm = 0, most_negative = 0, fit = 0, mel_norm = 0;
    for (int b = 0; b < bins; b++) {
        CHECK(nnls[b] >= 0);
        err_nnls += pow(nnls[b] - truth[b], 2);
        err_pinv += pow(pinv[b] - truth[b], 2);
        norm += pow(truth[b], 2);
        if (pinv[b] < most_negative) most_negative = pinv[b];
    }
    for (int m = 0; m < n_mels; m++) {
        double r = -mel[m];
        for (int b = 0; b < bins; b++) r += fb[m * bins + b] * nnls[b];
        fit += r * r;
        mel_norm += (double)mel[m] * mel[m];
    }
    fprintf(stderr, "mel inversion: relative error nnls %.4f, pinv %.4f; pinv min %.4g; nnls mel fit %.2e\n",
            sqrt(err_nnls / norm), sqrt(err_pinv / norm), most_negative, sqrt(fit / mel_norm));
    CHECK(most_negative < 0);           /* the pseudo-inverse goes negative */
    CHECK(err_nnls < err_pinv);         /* NNLS is closer to the truth */
    CHECK(sqrt(fit / mel_norm) < 0.02); /* and reproduces the mel spectrum */
    free(fb), free(truth), free(mel), free(nnls), free(pinv);
}

static float *magnitude_of(const sono_stft *stft, const float *x, int64_t n, int *frames) {
    *frames = sono_stft_frames(stft, n);
    size_t cells = (size_t)*frames * (size_t)sono_stft_bins(stft);
    float *spec = malloc(2 * cells * sizeof(float)), *mag = malloc(cells * sizeof(float));
    sono_error err = {0};
    CHECK_OK(sono_stft_forward(stft, x, n, spec, &err));
    for (size_t i = 0; i < cells; i++) mag[i] = hypotf(spec[2 * i], spec[2 * i + 1]);
    free(spec);
    return mag;
}

static void test_griffin_lim_real_recording(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/recordings/dog_bark_101415.wav", test_source_dir());
    float *x = NULL;
    int64_t n = 0;
    sono_error err = {0};
    CHECK_MSG(sono_audio_load(path, 16000, 0, &x, &n, NULL, &err) == SONO_OK, "%s", err.message);
    if (!x) return;
    sono_stft *stft;
    sono_stft_new(1024, 256, 1, SONO_PAD_CONSTANT, &stft, &err);
    int frames;
    float *mag = magnitude_of(stft, x, n, &frames);
    float *y = malloc((size_t)n * sizeof(float)), conv[64];
    sono_griffin_lim_options opt;
    sono_griffin_lim_defaults(&opt);
    opt.seed = 7;
    opt.convergence = conv;
    double final = 1;
    CHECK_OK(sono_griffin_lim(stft, mag, n, &opt, y, &final, &err));
    fprintf(stderr, "griffin-lim from random phase: convergence %.3f after 1, %.3f after 16, %.3f after 64\n",
            conv[0], conv[15], final);
    CHECK(final < 0.15);
    CHECK(conv[15] < conv[0] && conv[63] < conv[15]);
    /* Same seed, same signal; the classic algorithm (no momentum) is slower. */
    float *y2 = malloc((size_t)n * sizeof(float));
    CHECK_OK(sono_griffin_lim(stft, mag, n, &opt, y2, NULL, &err));
    CHECK(memcmp(y, y2, (size_t)n * sizeof(float)) == 0);
    opt.momentum = 0;
    double classic = 0;
    CHECK_OK(sono_griffin_lim(stft, mag, n, &opt, y2, &classic, &err));
    CHECK_MSG(classic > final, "classic %.3f vs fast %.3f", classic, final);
    free(y2), free(y), free(mag), free(x);
    sono_stft_free(stft);
}

static void test_pictures(void) {
    char *dir = test_make_dir();
    char path[512];
    snprintf(path, sizeof path, "%s/spec.png", dir);
    sono_feature_config cfg;
    sono_feature_config_default(&cfg);
    cfg.n_mels = 32;
    float a[32 * 50], b[32 * 50];
    for (int m = 0; m < 32; m++)
        for (int t = 0; t < 50; t++) {
            a[m * 50 + t] = m == 10 ? 0.0f : -80.0f;
            b[m * 50 + t] = -40.0f;
        }
    sono_spectrogram_panel panels[2] = {{"input", a, 50}, {"dream", b, 50}};
    sono_error err = {0};
    CHECK_OK(sono_plot_spectrograms(path, &cfg, panels, 2, 80, &err));
    cairo_surface_t *png = cairo_image_surface_create_from_png(path);
    CHECK(cairo_surface_status(png) == CAIRO_STATUS_SUCCESS);
    CHECK(cairo_image_surface_get_width(png) > 2 * 400);
    cairo_surface_destroy(png);
    double rgb[3];
    sono_colormap_magma(0, rgb);
    CHECK(rgb[0] < 0.05 && rgb[1] < 0.05);
    sono_colormap_magma(1, rgb);
    CHECK(rgb[0] > 0.9 && rgb[1] > 0.9);
    double loss[3] = {2.0, 1.5, 1.2}, acc[3] = {0.3, 0.5, 0.6};
    sono_curve curves[2] = {{"loss", loss, 0}, {"accuracy", acc, 1}};
    snprintf(path, sizeof path, "%s/curve.png", dir);
    CHECK_OK(sono_plot_curves(path, "training", "epoch", "loss", "accuracy", curves, 2, 3, &err));
    png = cairo_image_surface_create_from_png(path);
    CHECK(cairo_surface_status(png) == CAIRO_STATUS_SUCCESS);
    cairo_surface_destroy(png);
    snprintf(path, sizeof path, "%s/no-such-dir/x.png", dir);
    CHECK(sono_plot_spectrograms(path, &cfg, panels, 2, 80, &err) != SONO_OK);
    CHECK(strstr(err.message, "no-such-dir") != NULL);
    test_cleanup_dir(dir);
}

int main(void) {
    test_nnls_beats_pinv();
    test_griffin_lim_real_recording();
    test_pictures();
    return test_result("test_reconstruct");
}
