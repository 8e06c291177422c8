/* Guided dreams (dream --guide) judged by an independent listener.
 *
 * usage: bench_guide DREAMER LISTENER FEATURES [PAIRS [FOLD [LAYER]]]
 *   DREAMER   a model trained without FOLD (it dreams)
 *   LISTENER  a second model, another preset and feature configuration,
 *             trained on the same folds (it only listens)
 *   FEATURES  the feature file whose sources, labels and folds give the clips
 *   PAIRS     content/guide pairs of FOLD, of different classes (default 40)
 *   FOLD      held-out fold (default 3)
 *   LAYER     the dream's layer (default: the dreamer's default layer)
 * Each content clip is dreamed three ways with the request's defaults: a
 * plain layer dream (DeepDream's L2 at LAYER), guided by the guide clip,
 * and guided on the same rows only (--guide-same-row). Per way it prints:
 *   - the listener's P(guide's class) before and after, and the share of
 *     pairs where it rose more than with the plain layer dream;
 *   - the dreamer's P(guide's class) after;
 *   - pitch: the correlation over mel bands between the dream's change
 *     (output - input log-mel, averaged over time) and the guide's band
 *     profile (its log-mel averaged over time, mean removed): how much the
 *     dream added where the guide has its energy;
 *   - seconds per dream. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_recording.h"
#include "bench_util.h"
#include "sonodream/audio.h"
#include "sonodream/classifier.h"
#include "sonodream/data.h"
#include "sonodream/dream.h"
#include "sonodream/dsp.h"

enum { PLAIN, GUIDED, SAME_ROW, WAYS };
static const char *way_name[WAYS] = {"layer", "guide", "guide-same-row"};

typedef struct tally {
    double p_before, p_after, p_dreamer, pitch, seconds;
    int beats_plain, count;
} tally;

static void die(const sono_error *err) {
    fprintf(stderr, "bench_guide: %s\n", err->message);
    exit(1);
}

/* The time-averaged log-mel (dB) of a file at the model's rate, mean removed. */
static void band_profile(const sono_classifier *c, const char *path, double *profile) {
    sono_error err = {0};
    float *x = NULL;
    int64_t n = 0;
    if (sono_audio_load(path, c->features.sample_rate, 0, &x, &n, NULL, &err) != SONO_OK) die(&err);
    sono_logmel *lm;
    if (sono_logmel_new(&c->features, &lm, &err) != SONO_OK) die(&err);
    const int H = c->features.n_mels, T = sono_feature_frames(&c->features, n);
    float *db = malloc((size_t)H * T * sizeof *db);
    if (sono_logmel_compute(lm, x, n, db, &err) != SONO_OK) die(&err);
    double mean = 0;
    for (int m = 0; m < H; m++) {
        double s = 0;
        for (int t = 0; t < T; t++) s += db[(size_t)m * T + t];
        profile[m] = s / T;
        mean += profile[m] / H;
    }
    for (int m = 0; m < H; m++) profile[m] -= mean;
    free(x), free(db);
    sono_logmel_free(lm);
}

static double correlation(const double *a, const double *b, int n) {
    double ma = 0, mb = 0, ab = 0, aa = 0, bb = 0;
    for (int i = 0; i < n; i++) ma += a[i] / n, mb += b[i] / n;
    for (int i = 0; i < n; i++) ab += (a[i] - ma) * (b[i] - mb), aa += (a[i] - ma) * (a[i] - ma), bb += (b[i] - mb) * (b[i] - mb);
    return ab / sqrt(aa * bb + 1e-30);
}

/* One dream of `content` (the way given), its listener P(target) into t. */
static double dream_way(sono_classifier *dreamer, sono_classifier *listener, const sono_recording *in,
                        const sono_dream_guide *guide, int way, int layer, int target, const double *guide_profile,
                        const char *tmp, tally *t) {
    sono_error err = {0};
    sono_dream_request req;
    sono_dream_request_defaults(&req);
    req.ascent.layer = layer;
    if (way != PLAIN) {
        req.ascent.objective = SONO_DREAM_GUIDE;
        req.ascent.guide = guide;
        req.ascent.guide_same_row = way == SAME_ROW;
    }
    sono_recording out = {0};
    sono_dream_result r;
    double t0 = bench_now();
    if (sono_dream_recording(dreamer, in, &req, &out, &r, &err) != SONO_OK) die(&err);
    t->seconds += bench_now() - t0;
    if (bench_write_recording(tmp, &out, &err) != SONO_OK) die(&err);
    const double after = bench_probability(listener, tmp, target, NULL);
    t->p_after += after;
    t->p_dreamer += bench_probability(dreamer, tmp, target, NULL);
    const int H = r.n_mels, T = r.spec_frames;
    double change[512];
    for (int m = 0; m < H; m++) {
        double s = 0;
        for (int j = 0; j < T; j++) s += r.output_db[(size_t)m * T + j] - r.input_db[(size_t)m * T + j];
        change[m] = s / T;
    }
    t->pitch += correlation(change, guide_profile, H);
    t->count++;
    sono_dream_result_free(&r);
    sono_recording_free(&out);
    return after;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: bench_guide DREAMER LISTENER FEATURES [PAIRS [FOLD [LAYER]]]\n");
        return 2;
    }
    sono_error err = {0};
    sono_classifier *dreamer, *listener;
    if (sono_classifier_load(argv[1], 8, &dreamer, NULL, &err) != SONO_OK) die(&err);
    if (sono_classifier_load(argv[2], 8, &listener, NULL, &err) != SONO_OK) die(&err);
    sono_feature_set *set;
    if (sono_feature_set_read(argv[3], &set, &err) != SONO_OK) die(&err);
    const int pairs = argc > 4 ? atoi(argv[4]) : 40, fold = argc > 5 ? atoi(argv[5]) : 3;
    const int layer = argc > 6 ? sono_net_find_layer(dreamer->net, argv[6]) : sono_dream_default_layer(dreamer->net);
    if (layer < 0) {
        fprintf(stderr, "bench_guide: %s has no layer %s\n", argv[1], argv[6]);
        return 2;
    }
    char tmp[64];
    snprintf(tmp, sizeof tmp, "/tmp/bench_guide-%d.wav", (int)getpid());
    int *chosen = malloc(set->count * sizeof *chosen), in_fold = 0;
    for (int i = 0; i < set->count; i++)
        if (set->folds[i] == fold) chosen[in_fold++] = i;
    printf("%d content/guide pairs of fold %d (of %d clips), classes differing; dreamer %s at %s, listener %s\n",
           pairs, fold, in_fold, argv[1], sono_net_layer(dreamer->net, layer)->name, argv[2]);
    tally t[WAYS] = {{0}};
    double *profile = malloc((size_t)dreamer->features.n_mels * sizeof *profile);
    for (int k = 0; k < pairs && in_fold > 1; k++) {
        const int a = chosen[(int64_t)k * in_fold / pairs];
        int step = in_fold / 2 + k, b = chosen[step % in_fold];
        while (set->labels[b] == set->labels[a]) b = chosen[++step % in_fold];
        const int target = set->labels[b];
        sono_recording in = {0};
        if (sono_audio_load_recording(set->sources[a], &in.samples, &in.frames, &in.channels, &in.sample_rate,
                                      &err) != SONO_OK)
            die(&err);
        sono_dream_guide *guide;
        if (sono_dream_guide_load(dreamer, set->sources[b], layer, &guide, &err) != SONO_OK) die(&err);
        band_profile(dreamer, set->sources[b], profile);
        const double before = bench_probability(listener, set->sources[a], target, NULL);
        double rise[WAYS];
        for (int w = 0; w < WAYS; w++) {
            t[w].p_before += before;
            rise[w] = dream_way(dreamer, listener, &in, guide, w, layer, target, profile, tmp, &t[w]) - before;
        }
        for (int w = 0; w < WAYS; w++) t[w].beats_plain += rise[w] > rise[PLAIN];
        sono_dream_guide_free(guide);
        sono_recording_free(&in);
    }
    for (int w = 0; w < WAYS; w++) {
        const double n = t[w].count ? t[w].count : 1;
        printf("%-15s listener P(guide's class) %.3f -> %.3f; rose more than the layer dream: %d/%d (%.0f %%); "
               "dreamer P %.3f; pitch (change vs guide's bands) %.3f; %.2f s per dream\n",
               way_name[w], t[w].p_before / n, t[w].p_after / n, t[w].beats_plain, t[w].count,
               100.0 * t[w].beats_plain / n, t[w].p_dreamer / n, t[w].pitch / n, t[w].seconds / n);
    }
    unlink(tmp);
    free(chosen), free(profile);
    sono_feature_set_free(set);
    sono_classifier_free(dreamer), sono_classifier_free(listener);
    return 0;
}
