/* DeepDream speed, in one run:
 *  1. a 4-second dream with the defaults (4 octaves x 10 iterations at
 *     conv3, then NNLS and 64 Griffin-Lim iterations at 75 % overlap) on the seed
 *     preset with random weights, input 128 mels x 126 frames; target < 2 s;
 *  2. one dream step (input gradient of 0.5*sum(conv5^2) for one 1x128x128
 *     input) beside PyTorch's torch.autograd on the same weights
 *     (bench/dream_reference.py), after checking that both gradients agree.
 * usage: bench_dream [THREADS [REPEATS]]   (defaults 2 and 20) */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "sonodream/classifier.h"
#include "sonodream/dream.h"
#include "sonodream/nn.h"

#define SIDE 128
#define CLASSES 10

static int write_floats(const char *path, const float *x, size_t n) {
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(x, sizeof(float), n, f) == n;
    if (f) fclose(f);
    return ok;
}

/* ---- 1. a whole 4-second dream ---- */

static int bench_whole_dream(int repeats) {
    sono_error err = {0};
    sono_feature_config cfg;
    sono_feature_config_default(&cfg); /* 16 kHz, 4 s, n_fft 1024, hop 512, 128 mels: 126 frames */
    int64_t n = sono_feature_clip_samples(&cfg);
    int frames = sono_feature_frames(&cfg, n);
    sono_net *net = NULL;
    sono_classifier *c = NULL;
    char *names[CLASSES];
    char name_buf[CLASSES][16];
    float mean[SIDE], sd[SIDE];
    for (int k = 0; k < CLASSES; k++) snprintf(name_buf[k], 16, "class%d", k), names[k] = name_buf[k];
    for (int m = 0; m < cfg.n_mels; m++) mean[m] = -40.0f - 0.25f * m, sd[m] = 15.0f;
    if (sono_net_new(&net, "seed", (sono_shape){1, cfg.n_mels, frames}, CLASSES, 8, 42, &err) != SONO_OK ||
        sono_classifier_new(&c, net, &cfg, names, CLASSES, mean, sd, &err) != SONO_OK) {
        fprintf(stderr, "bench_dream: %s\n", err.message);
        return 1;
    }
    /* A sound: two gliding tones with a pulse over soft noise. */
    float *x = malloc((size_t)n * sizeof(float));
    uint32_t r = 1;
    double p1 = 0, p2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double t = (double)i / cfg.sample_rate;
        p1 += 2 * M_PI * (300 + 200 * t) / cfg.sample_rate;
        p2 += 2 * M_PI * (2500 - 300 * t) / cfg.sample_rate;
        r = r * 1664525u + 1013904223u;
        x[i] = (float)(0.3 * sin(p1) * (0.5 + 0.5 * sin(2 * M_PI * 2 * t)) + 0.1 * sin(p2) +
                       0.01 * ((double)(r >> 8) / 16777216.0 - 0.5));
    }
    size_t cells = (size_t)cfg.n_mels * frames;
    float *in = malloc(cells * sizeof(float)), *out = malloc(cells * sizeof(float));
    sono_logmel *lm;
    sono_logmel_new(&cfg, &lm, &err);
    if (!lm || sono_logmel_compute(lm, x, n, in, &err) != SONO_OK) {
        fprintf(stderr, "bench_dream: %s\n", err.message);
        return 1;
    }
    sono_logmel_free(lm);
    sono_classifier_standardize(c, in, frames);
    sono_dream_options opt;
    sono_dream_defaults(&opt);
    sono_dream_audio_options ao;
    sono_dream_audio_defaults(&ao);
    double *t_dream = malloc((size_t)repeats * sizeof(double)), *t_audio = malloc((size_t)repeats * sizeof(double));
    double *t_total = malloc((size_t)repeats * sizeof(double));
    sono_dream_report rep = {0};
    sono_dream_audio_report arep = {0};
    for (int i = 0; i < repeats; i++) {
        float *y = NULL;
        int64_t ny = 0;
        sono_dream_report_free(&rep);
        double t0 = bench_now();
        sono_status s = sono_dream_run(c, in, frames, &opt, out, &rep, &err);
        double t1 = bench_now();
        if (s == SONO_OK) s = sono_dream_to_audio(c, out, frames, x, n, &ao, &y, &ny, &arep, &err);
        double t2 = bench_now();
        if (s != SONO_OK) {
            fprintf(stderr, "bench_dream: %s\n", err.message);
            return 1;
        }
        int finite = ny == n;
        for (int64_t j = 0; finite && j < ny; j++) finite = isfinite(y[j]);
        free(y);
        if (!finite) {
            fprintf(stderr, "bench_dream: the dream's audio is not finite or has the wrong length\n");
            return 1;
        }
        t_dream[i] = t1 - t0, t_audio[i] = t2 - t1, t_total[i] = t2 - t0;
    }
    printf("4-second dream, seed preset (random weights), 128 mels x %d frames, layer %s, %d octaves x %d iterations, "
           "step %g levels; NNLS + %d Griffin-Lim iterations at hop %d; %d runs\n",
           frames, sono_net_layer(net, rep.layer)->name, opt.octaves, opt.iterations, opt.step,
           ao.griffin_lim_iterations, arep.synthesis_hop, repeats);
    printf("  check: objective %.4g -> %.4g, mean change %.2f dB, Griffin-Lim spectral convergence %.3f\n",
           rep.objective_before, rep.objective_after, rep.mean_change_db, arep.convergence);
    double total = bench_median(t_total, repeats);
    printf("  ascent %.3f s + back to sound %.3f s = %.3f s (median)   target < 2 s: %s\n", bench_median(t_dream, repeats),
           bench_median(t_audio, repeats), total, total < 2.0 ? "met" : "NOT met");
    sono_dream_report_free(&rep);
    free(t_dream), free(t_audio), free(t_total), free(x), free(in), free(out);
    sono_classifier_free(c);
    return 0;
}

/* ---- 2. one step beside PyTorch ---- */

static double half_sum_squares(float *dout, const float *out, int batch, sono_shape shape, void *user) {
    (void)user;
    size_t count = (size_t)batch * shape.c * shape.h * shape.w;
    double s = 0;
    for (size_t i = 0; i < count; i++) {
        dout[i] = out[i];
        s += 0.5 * (double)out[i] * out[i];
    }
    return s;
}

static int bench_step(int threads, int repeats) {
    sono_error err = {0};
    sono_net *net = NULL;
    if (sono_net_new(&net, "seed", (sono_shape){1, SIDE, SIDE}, CLASSES, 1, 42, &err) != SONO_OK) {
        fprintf(stderr, "bench_dream: %s\n", err.message);
        return 1;
    }
    int conv5 = sono_net_find_layer(net, "conv5");
    size_t cells = (size_t)SIDE * SIDE;
    float *x = malloc(cells * sizeof(float)), *g = malloc(cells * sizeof(float));
    float *theirs = malloc(cells * sizeof(float));
    srand(3);
    for (size_t i = 0; i < cells; i++) x[i] = (float)rand() / (float)RAND_MAX * 2 - 1;
    char dir[] = "/tmp/sono-bench-XXXXXX", model[128], input[128], grad_path[128], cmd[1024];
    if (!mkdtemp(dir)) return 1;
    snprintf(model, sizeof model, "%s/seed.safetensors", dir);
    snprintf(input, sizeof input, "%s/input.f32", dir);
    snprintf(grad_path, sizeof grad_path, "%s/grad.f32", dir);
    double objective = 0;
    if (sono_model_save(model, net, NULL, NULL, NULL, 0, &err) != SONO_OK || !write_floats(input, x, cells) ||
        sono_net_input_gradient(net, x, 1, SIDE, SIDE, conv5, half_sum_squares, NULL, g, &objective, &err) !=
            SONO_OK) {
        fprintf(stderr, "bench_dream: %s\n", err.message);
        return 1;
    }
    double *t = malloc((size_t)repeats * sizeof(double));
    for (int i = 0; i < 3 + repeats; i++) {
        double t0 = bench_now();
        sono_net_input_gradient(net, x, 1, SIDE, SIDE, conv5, half_sum_squares, NULL, g, &objective, &err);
        if (i >= 3) t[i - 3] = bench_now() - t0;
    }
    double ours = 1000 * bench_median(t, repeats);

    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/dream_reference.py %s %s %s %d %d", SONO_BENCH_DIR, model, input,
             grad_path, threads, repeats);
    FILE *p = popen(cmd, "r");
    double torch_ms = 0;
    int ran = p && fscanf(p, "torch_step_ms %lf", &torch_ms) == 1;
    if (p) pclose(p);
    FILE *f = fopen(grad_path, "rb");
    size_t got = f ? fread(theirs, sizeof(float), cells, f) : 0;
    if (f) fclose(f);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_dream: could not remove %s\n", dir);
    if (!ran || got != cells) {
        fprintf(stderr, "bench_dream: the PyTorch reference did not run (needs /usr/bin/python3 with torch)\n");
        return 1;
    }
    double max_diff = 0, max_g = 0;
    int finite = 1;
    for (size_t i = 0; i < cells; i++) {
        finite &= isfinite(g[i]);
        max_diff = fmax(max_diff, fabs(theirs[i] - g[i]));
        max_g = fmax(max_g, fabs(theirs[i]));
    }
    printf("check: input gradients of sonodream and PyTorch on the same weights differ by at most %.2e "
           "(%.2e of the largest)\n", max_diff, max_diff / max_g);
    if (!finite || !(max_diff <= 1e-3 * max_g)) {
        printf("bench_dream: results differ, timings not reported\n");
        return 1;
    }
    printf("one dream step: input gradient through conv5, seed preset, 1x128x128, %d threads, median of %d\n", threads,
           repeats);
    printf("  sonodream %.2f ms   PyTorch %.2f ms   ratio %.2fx (target >= 3x)\n", ours, torch_ms, torch_ms / ours);
    sono_net_free(net);
    free(x), free(g), free(theirs), free(t);
    return 0;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2, repeats = argc > 2 ? atoi(argv[2]) : 20;
    if (threads < 1 || repeats < 1) {
        fprintf(stderr, "usage: bench_dream [THREADS [REPEATS]]\n");
        return 2;
    }
    omp_set_num_threads(threads);
    printf("(timings on a shared machine may be noisy)\n");
    int status = bench_whole_dream(repeats < 5 ? repeats : 5);
    return bench_step(threads, repeats) || status;
}
