/* Textures and styles (the GRAM objective):
 *   - the example's Gram matrices, heard window by window, equal the mean
 *     of each window's Y Y^T / P computed here from the layer outputs;
 *   - the objective of one window equals -sum w |G - T|^2 / |T|^2 written
 *     from its definition, and its gradient (two layers at once) agrees
 *     with central differences;
 *   - a recording that is its own style has zero loss and does not change;
 *   - same seed, same texture, bit for bit; the texture's start has each
 *     channel's colour;
 *   - a silent example or one shorter than a quarter window, a dense layer, layers out of order, an
 *     ensemble and another model's example are refused, saying why. */
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "dream_signals.h"
#include "small_model.h"
#include "sonodream/dream.h"
#include "sonodream/dsp.h"

#include "dream/dream_internal.h"

/* Y Y^T / P in double, from the definition. */
static void gram_of(const float *y, sono_shape s, double *g) {
    const int C = s.c, P = s.h * s.w;
    for (int a = 0; a < C; a++)
        for (int b = 0; b < C; b++) {
            double sum = 0;
            for (int p = 0; p < P; p++) sum += (double)y[(size_t)a * P + p] * y[(size_t)b * P + p];
            g[(size_t)a * C + b] = sum / P;
        }
}

static const int LAYERS[2] = {0, 3}; /* conv1 and conv3 of "c8,c8,p2,c16,f16" */
static const double WEIGHTS[2] = {1.0, 0.5};

static void test_gram_and_gradient(void) {
    sono_classifier *c = small_classifier(8);
    const int W = sono_net_input_shape(c->net).w;
    int T, Te;
    float *x = test_recording(20000, 1, 16000, 5), *ex = test_recording(30000, 1, 16000, 9);
    for (int i = 0; i < 30000; i++) ex[i] *= (float)(1.0 + 0.8 * sin(i * 0.002)); /* not the input's texture */
    float *S = standardised(c, x, 20000, &T), *E = standardised(c, ex, 30000, &Te);
    CHECK(T == W && Te > W && Te < 2 * W); /* one input window; the example: two windows, overlapping */
    sono_error err = {0};
    sono_dream_gram *g = NULL;
    CHECK_OK(sono_dream_gram_new(c, E, Te, LAYERS, WEIGHTS, 2, &g, &err));
    int layers[SONO_DREAM_GRAM_MAX_LAYERS];
    double weights[SONO_DREAM_GRAM_MAX_LAYERS];
    CHECK(sono_dream_gram_layers(g, layers, weights) == 2 && layers[1] == 3 && weights[1] == 0.5);

    /* The targets: the mean of the two windows' Grams (starts 0 and Te - W). */
    double want = 0;
    for (int l = 0; l < 2; l++) {
        sono_shape s;
        float *y0 = layer_output(c, E, Te, 0, LAYERS[l], &s), *y1 = layer_output(c, E, Te, Te - W, LAYERS[l], &s);
        const int C = s.c;
        double *g0 = malloc((size_t)C * C * sizeof *g0), *g1 = malloc((size_t)C * C * sizeof *g1);
        gram_of(y0, s, g0), gram_of(y1, s, g1);
        double worst = 0, largest = 0, norm = 0, loss = 0;
        sono_shape si;
        float *yi = layer_output(c, S, T, 0, LAYERS[l], &si);
        double *gi = malloc((size_t)C * C * sizeof *gi);
        gram_of(yi, si, gi);
        for (int i = 0; i < C * C; i++) {
            const double t = 0.5 * (g0[i] + g1[i]);
            worst = fmax(worst, fabs(t - g->target[l][i]));
            largest = fmax(largest, fabs(t));
            norm += t * t;
            loss += (gi[i] - t) * (gi[i] - t);
        }
        CHECK_MSG(worst <= 1e-5 * largest && largest > 0, "layer %d: target off by %.3g of %.3g", l, worst, largest);
        want -= WEIGHTS[l] * loss / norm;
        free(y0), free(y1), free(yi), free(g0), free(g1), free(gi);
    }
    sono_dream_options opt;
    sono_dream_defaults(&opt);
    opt.objective = SONO_DREAM_GRAM, opt.gram = g, opt.octaves = 1;
    double value = 0;
    CHECK_OK(sono_dream_objective_value(c, S, T, &opt, &value, &err));
    CHECK_NEAR(value, want, 1e-4 * fabs(want));
    CHECK(want < -0.01);

    dream d;
    CHECK_OK(dream_init(&d, c, &opt, T, &err));
    const double floor_db = 10.0 * log10(c->features.log_floor);
    dream_prepare(&d, S, floor_db, floor_db, floor_db);
    double at = 0;
    CHECK_OK(dream_gradient(&d, &d.oct[0], S, 0, 1, &at, &err));
    CHECK_NEAR(at, value, 1e-6 * fabs(value));
    const size_t cells = (size_t)N_MELS * T;
    float *u = malloc(cells * sizeof *u), *xp = malloc(cells * sizeof *xp), *xm = malloc(cells * sizeof *xm);
    /* Random directions with a part along the gradient: a purely random one
     * can be nearly orthogonal to it, and then the float rounding of the
     * Gram matrices (about 1e-7 of them) swamps the difference quotient (a
     * Debug build was 10 % off on such a direction). A wrong gradient still
     * shows: the quotient measures its length along the direction too. */
    double largest = 0;
    for (size_t i = 0; i < cells; i++) largest = fmax(largest, fabs(d.grad[i]));
    uint64_t rng = 31;
    for (int trial = 0; trial < 3; trial++) {
        double analytic = 0;
        for (size_t i = 0; i < cells; i++) {
            u[i] = (float)(uniform_half(&rng) + 0.5 * d.grad[i] / largest);
            analytic += (double)u[i] * d.grad[i];
        }
        const double h = 3e-4;
        double vp = 0, vm = 0;
        for (size_t i = 0; i < cells; i++) xp[i] = S[i] + (float)h * u[i], xm[i] = S[i] - (float)h * u[i];
        CHECK_OK(sono_dream_objective_value(c, xp, T, &opt, &vp, &err));
        CHECK_OK(sono_dream_objective_value(c, xm, T, &opt, &vm, &err));
        const double numeric = (vp - vm) / (2 * h);
        CHECK_MSG(fabs(numeric - analytic) <= 0.03 * fabs(analytic) + 1e-6, "trial %d: analytic %.6g, numeric %.6g",
                  trial, analytic, numeric);
        CHECK_MSG(fabs(analytic) > 1e-5, "trial %d: analytic %.3g", trial, analytic);
    }
    dream_free(&d);
    free(u), free(xp), free(xm);
    sono_dream_gram_free(g);
    free(x), free(ex), free(S), free(E);
    sono_classifier_free(c);
}

/* One window that is its own style: the loss is 0, the gradient 0, and the
 * ascent (no roll: a rolled window is another picture) leaves it as it is. */
static void test_own_style(void) {
    sono_classifier *c = small_classifier(8);
    int T;
    float *x = test_recording(20000, 1, 16000, 5), *S = standardised(c, x, 20000, &T);
    sono_error err = {0};
    sono_dream_gram *g = NULL;
    CHECK_OK(sono_dream_gram_new(c, S, T, NULL, NULL, 0, &g, &err));
    CHECK(sono_dream_gram_layers(g, NULL, NULL) == 3); /* every convolution */
    sono_dream_request req;
    sono_dream_style_defaults(&req);
    req.ascent.gram = g, req.ascent.jitter = 0;
    float *out = malloc((size_t)N_MELS * T * sizeof *out);
    sono_dream_report r;
    CHECK_OK(sono_dream_run(c, S, T, &req.ascent, out, &r, &err));
    CHECK(r.objective_before == 0 && r.objective_after == 0);
    CHECK(memcmp(out, S, (size_t)N_MELS * T * sizeof *out) == 0);
    sono_dream_report_free(&r);
    free(out), free(x), free(S);
    sono_dream_gram_free(g);
    sono_classifier_free(c);
}

/* Band power of channel ch of x (n, C) between f0 and f1 Hz, by DFT bins. */
static double band_power(const float *x, int64_t n, int C, int ch, int rate, double f0, double f1) {
    double total = 0;
    for (double f = f0; f < f1; f += 25) {
        double re = 0, im = 0;
        for (int64_t i = 0; i < n; i++) {
            const double v = x[i * C + ch], w = 2 * M_PI * f * i / rate;
            re += v * cos(w), im += v * sin(w);
        }
        total += re * re + im * im;
    }
    return total;
}

static void test_texture_start_and_seed(void) {
    /* Stereo example at 22.05 kHz: a low tone on the left, a high one (above
     * the small model's fmax) on the right. */
    const int rate = 22050;
    const int64_t n = 2 * rate;
    float *ex = malloc((size_t)n * 2 * sizeof *ex);
    for (int64_t i = 0; i < n; i++) {
        ex[2 * i] = (float)(0.3 * sin(2 * M_PI * 500 * i / rate) * (1 + 0.5 * sin(i * 0.0007)));
        ex[2 * i + 1] = (float)(0.3 * sin(2 * M_PI * 9000 * i / rate));
    }
    sono_recording example = {ex, n, 2, rate}, a = {0}, b = {0};
    sono_error err = {0};
    CHECK_OK(sono_dream_texture_start(&example, 1.5, 7, &a, &err));
    CHECK(a.frames == (int64_t)(1.5 * rate) && a.channels == 2 && a.sample_rate == rate);
    const int64_t m = rate / 2; /* half a second is enough to see the colour */
    const double left_low = band_power(a.samples, m, 2, 0, rate, 400, 600),
                 left_high = band_power(a.samples, m, 2, 0, rate, 8900, 9100),
                 right_low = band_power(a.samples, m, 2, 1, rate, 400, 600),
                 right_high = band_power(a.samples, m, 2, 1, rate, 8900, 9100);
    CHECK_MSG(left_low > 100 * left_high && right_high > 100 * right_low, "left %.3g / %.3g, right %.3g / %.3g",
              left_low, left_high, right_low, right_high);

    /* The texture itself: same seed, same samples. */
    sono_classifier *c = small_classifier(8);
    sono_dream_gram *g = NULL;
    CHECK_OK(sono_dream_gram_from_recording(c, &example, NULL, NULL, 0, &g, &err));
    sono_dream_request req;
    sono_dream_texture_defaults(&req);
    req.ascent.gram = g, req.ascent.iterations = 6;
    sono_dream_result r;
    sono_recording t1 = {0}, t2 = {0};
    CHECK_OK(sono_dream_recording(c, &a, &req, &t1, &r, &err));
    CHECK_MSG(r.objective_after > r.objective_before, "Gram objective %.4g -> %.4g", r.objective_before,
              r.objective_after);
    CHECK_OK(sono_dream_texture_start(&example, 1.5, 7, &b, &err));
    CHECK(memcmp(a.samples, b.samples, (size_t)a.frames * 2 * sizeof(float)) == 0);
    CHECK_OK(sono_dream_recording(c, &b, &req, &t2, NULL, &err));
    CHECK(t1.frames == t2.frames && memcmp(t1.samples, t2.samples, (size_t)t1.frames * 2 * sizeof(float)) == 0);
    sono_dream_result_free(&r);
    sono_recording_free(&a), sono_recording_free(&b), sono_recording_free(&t1), sono_recording_free(&t2);
    sono_dream_gram_free(g);
    sono_classifier_free(c);
    free(ex);
}

static void test_refusals(void) {
    sono_classifier *c = small_classifier(8), *other = small_classifier(8);
    sono_error err = {0};
    sono_dream_gram *g = NULL;
    float *silence = calloc(30000, sizeof *silence);
    sono_recording quiet = {silence, 30000, 1, 16000};
    CHECK(sono_dream_gram_from_recording(c, &quiet, NULL, NULL, 0, &g, &err) == SONO_ERR_ARGUMENT && !g);
    CHECK_MSG(strstr(err.message, "silent") != NULL, "%s", err.message);
    float *x = test_recording(30000, 1, 16000, 3);
    sono_recording shortest = {x, 4000, 1, 16000}, ok = {x, 30000, 1, 16000};
    CHECK(sono_dream_gram_from_recording(c, &shortest, NULL, NULL, 0, &g, &err) == SONO_ERR_ARGUMENT && !g);
    CHECK_MSG(strstr(err.message, "shorter than the model can hear") != NULL, "%s", err.message);
    /* Shorter than a window but not than a quarter: heard at its own width. */
    sono_recording narrow = {x, 12000, 1, 16000};
    CHECK_OK(sono_dream_gram_from_recording(c, &narrow, NULL, NULL, 0, &g, &err));
    sono_dream_gram_free(g);
    g = NULL;
    const int dense[1] = {5}, backwards[2] = {3, 0};
    const double one[2] = {1, 1};
    CHECK(sono_dream_gram_from_recording(c, &ok, dense, one, 1, &g, &err) == SONO_ERR_ARGUMENT && !g);
    CHECK_MSG(strstr(err.message, "no positions") != NULL, "%s", err.message);
    CHECK(sono_dream_gram_from_recording(c, &ok, backwards, one, 2, &g, &err) == SONO_ERR_ARGUMENT && !g);
    CHECK_MSG(strstr(err.message, "net's order") != NULL, "%s", err.message);
    CHECK(sono_dream_gram_load(c, "/nonexistent/example.wav", NULL, NULL, 0, &g, &err) != SONO_OK && !g);
    CHECK_MSG(strstr(err.message, "/nonexistent/example.wav") != NULL, "%s", err.message);

    CHECK_OK(sono_dream_gram_from_recording(c, &ok, NULL, NULL, 0, &g, &err));
    int T;
    float *S = standardised(c, x, 20000, &T), *out = malloc((size_t)N_MELS * T * sizeof *out);
    sono_dream_options opt;
    sono_dream_defaults(&opt);
    opt.objective = SONO_DREAM_GRAM, opt.gram = g;
    CHECK(sono_dream_run(other, S, T, &opt, out, NULL, &err) == SONO_ERR_ARGUMENT);
    CHECK_MSG(strstr(err.message, "another model") != NULL, "%s", err.message);
    sono_classifier *members[1] = {other};
    opt.ensemble = members, opt.ensemble_count = 1;
    CHECK(sono_dream_run(c, S, T, &opt, out, NULL, &err) == SONO_ERR_ARGUMENT);
    CHECK_MSG(strstr(err.message, "one model") != NULL, "%s", err.message);
    sono_dream_gram_free(g);
    sono_dream_gram_free(NULL);
    free(silence), free(x), free(S), free(out);
    sono_classifier_free(c), sono_classifier_free(other);
}

int main(void) {
    test_gram_and_gradient();
    test_own_style();
    test_texture_start_and_seed();
    test_refusals();
    if (check_failures) fprintf(stderr, "%d check(s) failed\n", check_failures);
    return check_failures ? 1 : 0;
}
