/* The one dream call's wall time with the defaults, per render, on the
 * shipped model: a 4-second and a 3-minute 44.1 kHz stereo recording
 * (targets: <= 0.5 s and <= 15 s on 2 cores). With SONO_BENCH_ENSEMBLE
 * (comma-separated models) the dreams take them as their ensemble (target
 * for the 4 s with three models: <= 1.5 s). The recordings are given as
 * files (bench_make_hifi makes them from real sounds) or, without files,
 * synthesised (tones, a sweep and noise in both channels).
 * usage: bench_dream_recording [MODEL [SHORT.wav LONG.wav [RENDERS]]] */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_ensemble.h"
#include "bench_util.h"
#include "sonodream/audio.h"
#include "sonodream/classifier.h"
#include "sonodream/dream.h"

static void die(const sono_error *err) {
    fprintf(stderr, "bench_dream_recording: %s\n", err->message);
    exit(1);
}

static sono_recording synthesise(double seconds) {
    sono_recording r = {NULL, (int64_t)(seconds * 44100), 2, 44100};
    r.samples = malloc((size_t)r.frames * 2 * sizeof(float));
    uint32_t seed = 1;
    double phase = 0;
    for (int64_t i = 0; i < r.frames; i++) {
        double t = (double)i / 44100;
        phase += 2 * M_PI * (300 + 200 * sin(2 * M_PI * 0.25 * t)) / 44100;
        for (int c = 0; c < 2; c++) {
            seed = seed * 1664525u + 1013904223u;
            double s = 0.2 * sin(phase + c) + 0.1 * sin(2 * M_PI * (110 + 55 * c) * t) * (sin(2 * M_PI * t) > 0) +
                       0.03 * sin(2 * M_PI * 12000 * t) + 0.02 * ((double)(seed >> 8) / 16777216.0 - 0.5);
            r.samples[i * 2 + c] = (float)s;
        }
    }
    return r;
}

static sono_recording load(const char *path) {
    sono_error err = {0};
    sono_recording r = {0};
    if (sono_audio_load_recording(path, &r.samples, &r.frames, &r.channels, &r.sample_rate, &err) != SONO_OK) die(&err);
    return r;
}

static sono_classifier *ensemble[SONO_DREAM_MAX_ENSEMBLE];
static int ensemble_count;

static void run(sono_classifier *c, const sono_recording *in, sono_dream_render render, const char *label, double target) {
    sono_error err = {0};
    sono_dream_request req;
    sono_dream_request_defaults(&req);
    req.render = render;
    req.ascent.ensemble = ensemble, req.ascent.ensemble_count = ensemble_count;
    sono_recording out;
    sono_dream_result res;
    double t0 = bench_now();
    if (sono_dream_recording(c, in, &req, &out, &res, &err) != SONO_OK) die(&err);
    double seconds = bench_now() - t0;
    printf("%-12s %s (%.1f s, %d Hz, %d ch): %.2f s (target %.1f s: %s); objective %.3g -> %.3g, consistency %.2f dB\n",
           sono_dream_render_name(render), label, (double)in->frames / in->sample_rate, in->sample_rate, in->channels,
           seconds, target, seconds <= target ? "met" : "NOT met", res.objective_before, res.objective_after,
           res.consistency_db);
    fflush(stdout);
    sono_dream_result_free(&res);
    sono_recording_free(&out);
}

int main(int argc, char **argv) {
    const char *model = argc > 1 ? argv[1] : SONO_BENCH_DIR "/../models/us8k-seed.model";
    sono_error err = {0};
    sono_classifier *c;
    if (sono_classifier_load(model, 8, &c, NULL, &err) != SONO_OK) die(&err);
    if ((ensemble_count = bench_load_ensemble(ensemble)) < 0) return 1;
    const double short_target = ensemble_count ? 1.5 : 0.5;
    sono_recording shortr = argc > 3 ? load(argv[2]) : synthesise(4);
    sono_recording longr = argc > 3 ? load(argv[3]) : synthesise(180);
    const char *renders = argc > 4 ? argv[4] : "wave,mask,griffin-lim";
    char list[128];
    snprintf(list, sizeof list, "%s", renders);
    for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
        sono_dream_render r;
        if (!sono_dream_render_parse(name, &r)) return 2;
        run(c, &shortr, r, "short", short_target);
        run(c, &longr, r, "long ", 15);
    }
    sono_recording_free(&shortr), sono_recording_free(&longr);
    sono_classifier_free(c);
    for (int i = 0; i < ensemble_count; i++) sono_classifier_free(ensemble[i]);
    return 0;
}
