/* The renders side by side: fidelity, consistency and strength, judged by an
 * independent listener.
 *
 * usage: bench_render DREAMER LISTENER FEATURES [CLIPS [FOLD [RENDERS]]]
 *   DREAMER   a model trained without FOLD (it dreams)
 *   LISTENER  a second model, another preset and another feature
 *             configuration, trained on the same folds (it only listens)
 *   FEATURES  the feature file whose sources and labels give the clips
 *   CLIPS     clips of FOLD to dream (default 40, spread over the fold)
 *   FOLD      held-out fold (default 2)
 *   RENDERS   comma-separated (default wave,mask,griffin-lim)
 * SONO_BENCH_OCTAVES, SONO_BENCH_ITERATIONS, SONO_BENCH_STEP,
 * SONO_BENCH_SMOOTH, SONO_BENCH_SETTLE, SONO_BENCH_CEILING, SONO_BENCH_HEADROOM,
 * SONO_BENCH_SHIFT (bands), SONO_BENCH_GAIN (dB) and SONO_BENCH_NOISE (dB)
 * override the request's defaults; SONO_BENCH_ENSEMBLE=A.model,B.model
 * dreams with those models too (the mean objective); SONO_BENCH_OFFSET=k
 * takes another set of clips (each moved k places along the fold).
 * Each clip is dreamed toward another class (the k-th clip toward
 * (label + 1 + k mod 9) mod classes) with the defaults, written as float
 * WAV, read back at the model's rate (libsoxr, as classify reads files)
 * and classified by both models. Per render it prints:
 *   - P(target) before and after, from the dreamer and from the listener;
 *   - the share of dreams whose listener P(target) rose by >= 0.2, and the
 *     share where the target became the listener's top class;
 *   - the mean |dB| change of the log-mel (how much the recording moved);
 *   - consistency: mean |dB| between the log-mel of the WAV as read back
 *     and the log-mel the ascent ended with (cells within 80 dB of its peak);
 *   - seconds per dream.
 * Then the fidelity checks on a 44.1 kHz stereo recording made of a clip
 * and real stereo sounds with content above 8 kHz (HIFI, if given as the
 * environment variable SONO_HIFI: a WAV file; see bench/make_hifi.py). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_ensemble.h"
#include "bench_recording.h"
#include "bench_util.h"
#include "../tests/highpass.h"
#include "sonodream/audio.h"
#include "sonodream/classifier.h"
#include "sonodream/data.h"
#include "sonodream/dream.h"

#define PICTURE_RANGE_DB 80.0

static void die(const sono_error *err) {
    fprintf(stderr, "bench_render: %s\n", err->message);
    exit(1);
}

/* The models named in SONO_BENCH_ENSEMBLE (comma-separated), loaded once. */
static sono_classifier *ensemble[SONO_DREAM_MAX_ENSEMBLE];
static int ensemble_count;

static void load_ensemble(void) {
    ensemble_count = bench_load_ensemble(ensemble);
    if (ensemble_count < 0) exit(1);
}

/* The environment's overrides of the request's defaults. */
static void apply_overrides(sono_dream_request *req) {
    if (getenv("SONO_BENCH_OCTAVES")) req->ascent.octaves = atoi(getenv("SONO_BENCH_OCTAVES"));
    if (getenv("SONO_BENCH_ITERATIONS")) req->ascent.iterations = atoi(getenv("SONO_BENCH_ITERATIONS"));
    if (getenv("SONO_BENCH_CEILING")) req->ceiling = atof(getenv("SONO_BENCH_CEILING"));
    if (getenv("SONO_BENCH_STEP")) req->ascent.step = atof(getenv("SONO_BENCH_STEP"));
    if (getenv("SONO_BENCH_SMOOTH")) req->ascent.smooth = atof(getenv("SONO_BENCH_SMOOTH"));
    if (getenv("SONO_BENCH_SETTLE")) req->settle_steps = atoi(getenv("SONO_BENCH_SETTLE"));
    if (getenv("SONO_BENCH_HEADROOM")) req->ascent.headroom_db = atof(getenv("SONO_BENCH_HEADROOM"));
    if (getenv("SONO_BENCH_SHIFT")) req->ascent.band_shift = atoi(getenv("SONO_BENCH_SHIFT"));
    if (getenv("SONO_BENCH_GAIN")) req->ascent.gain_db = atof(getenv("SONO_BENCH_GAIN"));
    if (getenv("SONO_BENCH_NOISE")) req->ascent.noise_db = atof(getenv("SONO_BENCH_NOISE"));
    req->ascent.ensemble = ensemble;
    req->ascent.ensemble_count = ensemble_count;
}

/* Mean |dB| between the WAV read back (model rate, mono) and the dream. */
static double consistency_of_file(const sono_classifier *c, const char *path, const sono_dream_result *r) {
    sono_error err = {0};
    float *x = NULL;
    int64_t n = 0;
    if (sono_audio_load(path, c->features.sample_rate, 0, &x, &n, NULL, &err) != SONO_OK) die(&err);
    sono_logmel *lm;
    sono_logmel_new(&c->features, &lm, &err);
    int frames = sono_feature_frames(&c->features, n);
    if (frames != r->spec_frames) {
        fprintf(stderr, "bench_render: %d frames read back, %d dreamed\n", frames, r->spec_frames);
        exit(1);
    }
    float *db = malloc((size_t)r->n_mels * frames * sizeof *db);
    if (sono_logmel_compute(lm, x, n, db, &err) != SONO_OK) die(&err);
    double peak = -INFINITY, sum = 0;
    long count = 0;
    for (size_t i = 0; i < (size_t)r->n_mels * frames; i++) peak = r->dream_db[i] > peak ? r->dream_db[i] : peak;
    const double low = peak - PICTURE_RANGE_DB;
    for (size_t i = 0; i < (size_t)r->n_mels * frames; i++) {
        double a = db[i], b = r->dream_db[i];
        if (a < low && b < low) continue;
        sum += fabs((a < low ? low : a) - (b < low ? low : b));
        count++;
    }
    free(x), free(db);
    sono_logmel_free(lm);
    return count ? sum / count : 0;
}

typedef struct tally {
    double p_dream_before, p_dream_after, p_listen_before, p_listen_after, consistency, change, seconds;
    int risen, top, count;
} tally;

static void dream_clip(sono_classifier *dreamer, sono_classifier *listener, const char *source, int target,
                       sono_dream_render render, const char *tmp, tally *t) {
    sono_error err = {0};
    sono_recording in = {0}, out = {0};
    if (sono_audio_load_recording(source, &in.samples, &in.frames, &in.channels, &in.sample_rate, &err) != SONO_OK)
        die(&err);
    sono_dream_request req;
    sono_dream_request_defaults(&req);
    req.render = render;
    req.ascent.objective = SONO_DREAM_CLASS;
    req.ascent.class_index = target;
    apply_overrides(&req);
    sono_dream_result r;
    double t0 = bench_now();
    if (sono_dream_recording(dreamer, &in, &req, &out, &r, &err) != SONO_OK) die(&err);
    t->seconds += bench_now() - t0;
    if (bench_write_recording(tmp, &out, &err) != SONO_OK) die(&err);
    int top = 0;
    double before_l = bench_probability(listener, source, target, NULL), after_l = bench_probability(listener, tmp, target, &top);
    t->top += top;
    t->change += r.mean_change_db;
    t->p_dream_before += bench_probability(dreamer, source, target, NULL);
    t->p_dream_after += bench_probability(dreamer, tmp, target, NULL);
    t->p_listen_before += before_l, t->p_listen_after += after_l;
    t->risen += after_l - before_l >= 0.2;
    t->consistency += consistency_of_file(dreamer, tmp, &r);
    t->count++;
    sono_dream_result_free(&r);
    sono_recording_free(&in), sono_recording_free(&out);
}

/* ---- fidelity on a high-rate stereo recording ---- */

/* Correlation of the left and right channels (the stereo image's width). */
static double channel_correlation(const float *x, int64_t n) {
    double lr = 0, ll = 0, rr = 0;
    for (int64_t i = 0; i < n; i++) lr += (double)x[2 * i] * x[2 * i + 1], ll += (double)x[2 * i] * x[2 * i], rr += (double)x[2 * i + 1] * x[2 * i + 1];
    return lr / sqrt(ll * rr + 1e-30);
}

static void fidelity(sono_classifier *dreamer, const char *hifi, sono_dream_render render, sono_dream_stereo stereo,
                     const char *tmp) {
    sono_error err = {0};
    sono_recording in = {0}, out = {0};
    if (sono_audio_load_recording(hifi, &in.samples, &in.frames, &in.channels, &in.sample_rate, &err) != SONO_OK)
        die(&err);
    sono_dream_request req;
    sono_dream_request_defaults(&req);
    req.render = render;
    req.stereo = stereo;
    apply_overrides(&req);
    sono_dream_result r;
    double t0 = bench_now();
    if (sono_dream_recording(dreamer, &in, &req, &out, &r, &err) != SONO_OK) die(&err);
    double seconds = bench_now() - t0;
    if (bench_write_recording(tmp, &out, &err) != SONO_OK) die(&err);
    sono_recording back = {0};
    if (sono_audio_load_recording(tmp, &back.samples, &back.frames, &back.channels, &back.sample_rate, &err) != SONO_OK)
        die(&err);
    const double fmax = sono_feature_config_fmax(&dreamer->features);
    double corr = highpass_correlation(in.samples, back.samples, in.frames, in.channels, in.sample_rate, fmax + 500);
    printf("fidelity %-12s%s in %d Hz x %d ch x %lld frames -> out %d Hz x %d ch x %lld frames: %s; "
           "above %.0f Hz correlation %.4f; consistency %.2f dB; objective %.3g -> %.3g; L/R correlation %.3f -> "
           "%.3f; %.2f s\n",
           sono_dream_render_name(render), stereo == SONO_STEREO_JOINT ? "" : " per-channel", in.sample_rate,
           in.channels, (long long)in.frames, back.sample_rate,
           back.channels, (long long)back.frames,
           back.sample_rate == in.sample_rate && back.channels == in.channels && back.frames == in.frames ? "equal"
                                                                                                        : "DIFFERENT",
           fmax + 500, corr, consistency_of_file(dreamer, tmp, &r), r.objective_before, r.objective_after,
           in.channels == 2 ? channel_correlation(in.samples, in.frames) : 1,
           back.channels == 2 ? channel_correlation(back.samples, back.frames) : 1, seconds);
    sono_dream_result_free(&r);
    sono_recording_free(&in), sono_recording_free(&out), sono_recording_free(&back);
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: bench_render DREAMER LISTENER FEATURES [CLIPS [FOLD [RENDERS]]]\n");
        return 2;
    }
    sono_error err = {0};
    sono_classifier *dreamer, *listener;
    if (sono_classifier_load(argv[1], 8, &dreamer, NULL, &err) != SONO_OK) die(&err);
    if (sono_classifier_load(argv[2], 8, &listener, NULL, &err) != SONO_OK) die(&err);
    load_ensemble();
    sono_feature_set *set;
    if (sono_feature_set_read_header(argv[3], &set, &err) != SONO_OK) die(&err);
    sono_feature_set *full;
    if (sono_feature_set_read(argv[3], &full, &err) != SONO_OK) die(&err);
    const int clips = argc > 4 ? atoi(argv[4]) : 40, fold = argc > 5 ? atoi(argv[5]) : 2;
    const char *renders = argc > 6 ? argv[6] : "wave,mask,griffin-lim";
    /* SONO_BENCH_OFFSET: another set of clips (k-th clip moved by this many places in the fold). */
    const int offset = getenv("SONO_BENCH_OFFSET") ? atoi(getenv("SONO_BENCH_OFFSET")) : 0;
    char tmp[64];
    snprintf(tmp, sizeof tmp, "/tmp/bench_render-%d.wav", (int)getpid());
    int *chosen = malloc(full->count * sizeof *chosen), in_fold = 0;
    for (int i = 0; i < full->count; i++)
        if (full->folds[i] == fold) chosen[in_fold++] = i;
    const int K = dreamer->class_count;
    printf("%d clips of fold %d (of %d), each dreamed toward another class; dreamer %s, listener %s\n", clips, fold,
           in_fold, argv[1], argv[2]);
    char list[256];
    snprintf(list, sizeof list, "%s", renders);
    for (char *name = strtok(list, ","); name; name = strtok(NULL, ",")) {
        sono_dream_render render;
        if (!sono_dream_render_parse(name, &render)) {
            fprintf(stderr, "bench_render: unknown render %s\n", name);
            return 2;
        }
        tally t = {0};
        for (int k = 0; k < clips && in_fold > 0; k++) {
            int i = chosen[((int64_t)k * in_fold / clips + offset) % in_fold];
            int target = (full->labels[i] + 1 + k % (K - 1)) % K;
            dream_clip(dreamer, listener, full->sources[i], target, render, tmp, &t);
        }
        const double n = t.count ? t.count : 1;
        printf("%-12s P(target) dreamer %.3f -> %.3f, listener %.3f -> %.3f; listener +0.2 or more: %d/%d (%.0f %%); "
               "listener top-1: %d/%d (%.0f %%); change %.2f dB; consistency %.2f dB; %.2f s per dream\n",
               name, t.p_dream_before / n, t.p_dream_after / n, t.p_listen_before / n, t.p_listen_after / n, t.risen,
               t.count, 100.0 * t.risen / n, t.top, t.count, 100.0 * t.top / n, t.change / n, t.consistency / n,
               t.seconds / n);
        fflush(stdout);
        const char *hifi = getenv("SONO_HIFI");
        if (hifi) fidelity(dreamer, hifi, render, SONO_STEREO_JOINT, tmp);
        if (hifi && render == SONO_RENDER_WAVE) fidelity(dreamer, hifi, render, SONO_STEREO_PER_CHANNEL, tmp);
    }
    unlink(tmp);
    free(chosen);
    sono_feature_set_free(set), sono_feature_set_free(full);
    sono_classifier_free(dreamer), sono_classifier_free(listener);
    for (int i = 0; i < ensemble_count; i++) sono_classifier_free(ensemble[i]);
    return 0;
}
