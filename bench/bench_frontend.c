/* The wave render's front end (sono_frontend: downmix, resampling, STFT,
 * mel, dB, standardisation) forward and backward, in one run beside
 * PyTorch doing the same through torch.stft in autograd
 * (bench/frontend_reference.py), after checking that both gradients agree:
 *  1. a 4-second clip at the model's rate (16 kHz mono): the comparison;
 *  2. the same 4 seconds as 44.1 kHz stereo (resampling and downmix too),
 *     and 3 minutes of 44.1 kHz stereo: ours only.
 * usage: bench_frontend [THREADS [REPEATS]]   (defaults 2 and 20) */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"
#include "sonodream/dsp.h"

static void write_floats(const char *dir, const char *name, const float *x, size_t n) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(x, sizeof(float), n, f) != n) {
        fprintf(stderr, "bench_frontend: cannot write %s\n", path);
        exit(1);
    }
    fclose(f);
}

static float *test_signal(int64_t n, int channels, int rate) {
    float *x = malloc((size_t)n * channels * sizeof *x);
    uint32_t seed = 7;
    for (int64_t i = 0; i < n; i++)
        for (int c = 0; c < channels; c++) {
            seed = seed * 1664525u + 1013904223u;
            double t = (double)i / rate;
            x[i * channels + c] = (float)(0.3 * sin(2 * M_PI * (220 + 40 * c) * t) * (0.6 + 0.4 * sin(2 * M_PI * 2 * t)) +
                                          0.05 * ((double)(seed >> 8) / 16777216.0 - 0.5));
        }
    return x;
}

/* Median ms of forward + backward over repeats. */
static double time_step(sono_frontend *f, const float *x, int64_t n, float *S, const float *w, float *dx, int repeats) {
    sono_error err = {0};
    double *t = malloc((size_t)repeats * sizeof *t);
    for (int r = 0; r < repeats; r++) {
        double t0 = bench_now();
        if (sono_frontend_forward(f, x, n, S, &err) != SONO_OK || sono_frontend_backward(f, w, dx, &err) != SONO_OK) {
            fprintf(stderr, "bench_frontend: %s\n", err.message);
            exit(1);
        }
        t[r] = bench_now() - t0;
    }
    double m = 1000 * bench_median(t, repeats);
    free(t);
    return m;
}

static double ours(int rate, int channels, double seconds, int repeats, const char *dir) {
    sono_error err = {0};
    sono_feature_config cfg;
    sono_feature_config_default(&cfg);
    const int64_t n = (int64_t)(seconds * rate);
    float mean[128], std[128];
    for (int m = 0; m < 128; m++) mean[m] = (float)(-45 - 0.2 * m), std[m] = (float)(12 + 0.05 * m);
    sono_frontend *f;
    sono_frontend_new(&cfg, mean, std, rate, channels, n, &f, &err);
    if (!f) {
        fprintf(stderr, "bench_frontend: %s\n", err.message);
        exit(1);
    }
    const int frames = sono_frontend_frames(f, n);
    float *x = test_signal(n, channels, rate), *S = malloc((size_t)128 * frames * sizeof *S);
    float *w = malloc((size_t)128 * frames * sizeof *w), *dx = malloc((size_t)n * channels * sizeof *dx);
    for (int i = 0; i < 128 * frames; i++) w[i] = (float)sin(0.37 * i);
    double ms = time_step(f, x, n, S, w, dx, repeats);
    if (dir) {
        char meta[256];
        snprintf(meta, sizeof meta, "%lld %d %d %d %g %d\n", (long long)n, cfg.n_fft, cfg.hop, cfg.n_mels, cfg.log_floor,
                 frames);
        char path[512];
        snprintf(path, sizeof path, "%s/meta.txt", dir);
        FILE *m = fopen(path, "w");
        fputs(meta, m);
        fclose(m);
        sono_logmel *lm;
        sono_logmel_new(&cfg, &lm, &err);
        write_floats(dir, "signal.f32", x, (size_t)n);
        write_floats(dir, "filterbank.f32", sono_logmel_filterbank(lm), (size_t)128 * (cfg.n_fft / 2 + 1));
        write_floats(dir, "mean.f32", mean, 128);
        write_floats(dir, "std.f32", std, 128);
        write_floats(dir, "weights.f32", w, (size_t)128 * frames);
        write_floats(dir, "grad_ours.f32", dx, (size_t)n);
        sono_logmel_free(lm);
    }
    free(x), free(S), free(w), free(dx);
    sono_frontend_free(f);
    return ms;
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2, repeats = argc > 2 ? atoi(argv[2]) : 20;
    omp_set_num_threads(threads);
    char dir[] = "/tmp/bench_frontend-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    double mono = ours(16000, 1, 4.0, repeats, dir);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/frontend_reference.py %s %d %d", SONO_BENCH_DIR, dir, threads, repeats);
    FILE *p = popen(cmd, "r");
    double torch_ms = -1;
    char line[512];
    while (p && fgets(line, sizeof line, p)) {
        if (sscanf(line, "torch_step_ms %lf", &torch_ms) == 1) continue;
        fputs(line, stdout);
    }
    if (p) pclose(p);
    printf("front end forward+backward, 4 s at 16 kHz mono (%d threads): sonodream %.2f ms", threads, mono);
    if (torch_ms > 0) printf(", PyTorch %.2f ms: %.1fx\n", torch_ms, torch_ms / mono);
    else printf(" (PyTorch reference did not run: needs /usr/bin/python3 with torch)\n");
    printf("front end forward+backward, 4 s at 44.1 kHz stereo: %.2f ms\n", ours(44100, 2, 4.0, repeats, NULL));
    printf("front end forward+backward, 180 s at 44.1 kHz stereo: %.1f ms\n", ours(44100, 2, 180.0, repeats > 5 ? 5 : repeats, NULL));
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) return 1;
    return 0;
}
