/* The guide objective (DeepDream's "controlling dreams"):
 *   - its value equals a brute-force computation written here from the
 *     definition (every input position's largest dot product with any guide
 *     position, or any on the same row, averaged over positions), with the
 *     guide heard through the windows the header promises;
 *   - its gradient agrees with central differences of that value;
 *   - a guided dream climbs it in every render, and the same request gives
 *     the same samples bit for bit;
 *   - a guide shorter than a quarter window, a silent one, one from another model, at another layer,
 *     or with an ensemble is refused with a message saying so. */
#include <math.h>
#include <stdint.h>

#include "check.h"
#include "dream_signals.h"
#include "small_model.h"
#include "sonodream/dream.h"
#include "sonodream/dsp.h"

#include "dream/dream_internal.h"

/* Clicks every 90 ms over a high tone: nothing like test_recording's sweep. */
static float *guide_signal(int64_t n, int rate) {
    float *x = malloc((size_t)n * sizeof *x);
    for (int64_t i = 0; i < n; i++) {
        double t = (double)i / rate, phase = fmod(t, 0.09);
        x[i] = (float)(0.05 * sin(2 * M_PI * 3000 * t) + (phase < 0.004 ? 0.6 * exp(-phase / 0.001) : 0));
    }
    return x;
}

static sono_dream_options guide_options(const sono_dream_guide *g, int same_row) {
    sono_dream_options opt;
    sono_dream_defaults(&opt);
    opt.objective = SONO_DREAM_GUIDE;
    opt.layer = sono_dream_guide_layer(g);
    opt.guide = g;
    opt.guide_same_row = same_row;
    opt.octaves = 1;
    return opt;
}

/* The objective from its definition, for an input of exactly one window. */
static double brute_force(sono_classifier *c, const float *S, const float *guide, int guide_frames, int layer,
                          int same_row) {
    const int W = sono_net_input_shape(c->net).w;
    const int windows = (guide_frames + W - 1) / W; /* under SONO_DREAM_GUIDE_WINDOWS here */
    sono_shape shape;
    float *y = layer_output(c, S, W, 0, layer, &shape);
    float *g[8];
    for (int i = 0; i < windows; i++) {
        int start = windows == 1 ? 0 : i * (guide_frames - W) / (windows - 1);
        g[i] = layer_output(c, guide, guide_frames, start, layer, &shape);
    }
    const int C = shape.c, h = shape.h, w = shape.w, P = h * w;
    double total = 0;
    for (int p = 0; p < P; p++) {
        double best = -INFINITY;
        for (int i = 0; i < windows; i++)
            for (int q = 0; q < P; q++) {
                if (same_row && q / w != p / w) continue;
                double dot = 0;
                for (int ch = 0; ch < C; ch++) dot += (double)y[(size_t)ch * P + p] * g[i][(size_t)ch * P + q];
                if (dot > best) best = dot;
            }
        total += best;
    }
    for (int i = 0; i < windows; i++) free(g[i]);
    free(y);
    return total / P;
}

static double guide_value(sono_classifier *c, const float *S, int T, const sono_dream_options *opt) {
    sono_error err = {0};
    double v = 0;
    CHECK_OK(sono_dream_objective_value(c, S, T, opt, &v, &err));
    return v;
}

static void test_value_and_gradient(int same_row) {
    sono_classifier *c = small_classifier(8);
    const int W = sono_net_input_shape(c->net).w;
    int T, Tg;
    float *x = test_recording(20000, 1, 16000, 5), *gx = guide_signal(30000, 16000);
    float *S = standardised(c, x, 20000, &T), *G = standardised(c, gx, 30000, &Tg);
    CHECK(T == W && Tg > W && Tg < 2 * W); /* one input window, two guide windows */
    sono_error err = {0};
    sono_dream_guide *guide = NULL;
    CHECK_OK(sono_dream_guide_new(c, G, Tg, -1, &guide, &err));
    const int layer = sono_dream_guide_layer(guide);
    CHECK(layer == sono_dream_default_layer(c->net));
    const sono_layer_info *li = sono_net_layer(c->net, layer);
    CHECK(sono_dream_guide_positions(guide) == 2 * li->out.h * li->out.w);
    sono_dream_options opt = guide_options(guide, same_row);
    const double value = guide_value(c, S, T, &opt), want = brute_force(c, S, G, Tg, layer, same_row);
    CHECK_NEAR(value, want, 1e-5 * (1 + fabs(want)));

    /* The gradient along random directions against central differences
     * (the step h as test_dream_robust's, for the same float rounding). */
    dream d;
    CHECK_OK(dream_init(&d, c, &opt, T, &err));
    const double floor_db = 10.0 * log10(c->features.log_floor);
    dream_prepare(&d, S, floor_db, floor_db, floor_db);
    double at = 0;
    CHECK_OK(dream_gradient(&d, &d.oct[0], S, 0, 1, &at, &err));
    CHECK_NEAR(at, value, 1e-6 * (1 + fabs(value)));
    const size_t cells = (size_t)N_MELS * T;
    float *u = malloc(cells * sizeof *u), *xp = malloc(cells * sizeof *xp), *xm = malloc(cells * sizeof *xm);
    uint64_t rng = 21 + same_row;
    for (int trial = 0; trial < 3; trial++) {
        double analytic = 0;
        for (size_t i = 0; i < cells; i++) {
            u[i] = (float)uniform_half(&rng);
            analytic += (double)u[i] * d.grad[i];
        }
        const double h = 3e-4;
        for (size_t i = 0; i < cells; i++) xp[i] = S[i] + (float)h * u[i], xm[i] = S[i] - (float)h * u[i];
        double numeric = (guide_value(c, xp, T, &opt) - guide_value(c, xm, T, &opt)) / (2 * h);
        CHECK_MSG(fabs(numeric - analytic) <= 0.03 * fabs(analytic) + 1e-3,
                  "same_row %d, trial %d: analytic %.6g, numeric %.6g", same_row, trial, analytic, numeric);
        CHECK(fabs(analytic) > 1e-2);
    }
    dream_free(&d);
    free(u), free(xp), free(xm);
    sono_dream_guide_free(guide);
    free(x), free(gx), free(S), free(G);
    sono_classifier_free(c);
}

/* Every render climbs the guide's objective at the recording's own rate
 * and channels; the same request dreams the same samples. */
static void test_guided_recording(void) {
    sono_classifier *c = small_classifier(8);
    const int64_t n = 3 * 22050, gn = 2 * 44100;
    float *x = test_recording(n, 2, 22050, 6), *gx = guide_signal(gn, 44100);
    sono_recording in = {x, n, 2, 22050}, g = {gx, gn, 1, 44100};
    sono_error err = {0};
    sono_dream_guide *guide = NULL;
    CHECK_OK(sono_dream_guide_from_recording(c, &g, -1, &guide, &err));
    const sono_dream_render renders[3] = {SONO_RENDER_MASK, SONO_RENDER_WAVE, SONO_RENDER_GRIFFIN_LIM};
    for (int i = 0; i < 3; i++) {
        sono_dream_request req;
        sono_dream_request_defaults(&req);
        req.render = renders[i];
        req.ascent.objective = SONO_DREAM_GUIDE;
        req.ascent.guide = guide;
        req.ascent.octaves = 2, req.ascent.iterations = 4;
        sono_recording a = {0}, b = {0};
        sono_dream_result r;
        CHECK_OK(sono_dream_recording(c, &in, &req, &a, &r, &err));
        CHECK(a.frames == n && a.channels == 2 && a.sample_rate == 22050);
        CHECK_MSG(r.objective_after > r.objective_before + 0.1 * fabs(r.objective_before), "%s: %.4g -> %.4g",
                  sono_dream_render_name(renders[i]), r.objective_before, r.objective_after);
        CHECK_OK(sono_dream_recording(c, &in, &req, &b, NULL, &err));
        CHECK(memcmp(a.samples, b.samples, (size_t)n * 2 * sizeof(float)) == 0);
        sono_dream_result_free(&r);
        sono_recording_free(&a), sono_recording_free(&b);
    }
    sono_dream_guide_free(guide);
    free(x), free(gx);
    sono_classifier_free(c);
}

static void test_refusals(void) {
    sono_classifier *c = small_classifier(8), *other = small_classifier(8);
    sono_error err = {0};
    sono_dream_guide *guide = NULL;
    float *gx = guide_signal(4000, 16000); /* 0.25 s: under a quarter of the 1.25 s window */
    sono_recording g = {gx, 4000, 1, 16000};
    CHECK(sono_dream_guide_from_recording(c, &g, -1, &guide, &err) == SONO_ERR_ARGUMENT && !guide);
    CHECK_MSG(strstr(err.message, "shorter than the model can hear") != NULL, "%s", err.message);
    CHECK(sono_dream_guide_load(c, "/nonexistent/guide.wav", -1, &guide, &err) != SONO_OK && !guide);
    CHECK_MSG(strstr(err.message, "/nonexistent/guide.wav") != NULL, "%s", err.message);
    float *quiet = calloc(24000, sizeof *quiet);
    sono_recording silent = {quiet, 24000, 1, 16000};
    CHECK(sono_dream_guide_from_recording(c, &silent, -1, &guide, &err) == SONO_ERR_ARGUMENT && !guide);
    CHECK_MSG(strstr(err.message, "silent") != NULL, "%s", err.message);
    free(gx), free(quiet);

    gx = guide_signal(24000, 16000);
    g = (sono_recording){gx, 24000, 1, 16000};
    CHECK_OK(sono_dream_guide_from_recording(c, &g, 0, &guide, &err));
    int T;
    float *x = test_recording(20000, 1, 16000, 7), *S = standardised(c, x, 20000, &T);
    float *out = malloc((size_t)N_MELS * T * sizeof *out);
    sono_dream_options opt = guide_options(guide, 0);
    CHECK(sono_dream_run(other, S, T, &opt, out, NULL, &err) == SONO_ERR_ARGUMENT);
    CHECK_MSG(strstr(err.message, "another model") != NULL, "%s", err.message);
    opt.layer = 1;
    CHECK(sono_dream_run(c, S, T, &opt, out, NULL, &err) == SONO_ERR_ARGUMENT);
    CHECK_MSG(strstr(err.message, "heard at layer conv1") != NULL, "%s", err.message);
    opt.layer = 0;
    sono_classifier *members[1] = {other};
    opt.ensemble = members, opt.ensemble_count = 1;
    CHECK(sono_dream_run(c, S, T, &opt, out, NULL, &err) == SONO_ERR_ARGUMENT);
    CHECK_MSG(strstr(err.message, "one model") != NULL, "%s", err.message);
    opt.ensemble = NULL, opt.ensemble_count = 0, opt.guide = NULL;
    CHECK(sono_dream_run(c, S, T, &opt, out, NULL, &err) == SONO_ERR_ARGUMENT);
    CHECK_MSG(strstr(err.message, "needs a guide") != NULL, "%s", err.message);
    sono_dream_guide_free(guide);
    sono_dream_guide_free(NULL);
    free(gx), free(x), free(S), free(out);
    sono_classifier_free(c), sono_classifier_free(other);
}

int main(void) {
    test_value_and_gradient(0);
    test_value_and_gradient(1);
    test_guided_recording();
    test_refusals();
    if (check_failures) fprintf(stderr, "%d check(s) failed\n", check_failures);
    return check_failures ? 1 : 0;
}
