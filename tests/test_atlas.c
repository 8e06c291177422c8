/* The atlas: top-k selection and the dataset index against brute force,
 * resuming (finished channels reused untouched, changed ones redone, an
 * interruption losing nothing), and bad layers, channels, folds and feature
 * files refused with no output left. A small model with random weights and
 * a feature file are made here.
 *
 * `test_atlas --fixtures DIR` only writes DIR/model.safetensors and
 * DIR/features.safetensors (for tests/cli_atlas_browser.sh). */
#include <dirent.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"
#include "sonodream/atlas.h"
#include "sonodream/audio.h"
#include "sonodream/classifier.h"
#include "sonodream/data.h"
#include "sonodream/text.h"
#include "small_model.h"

#define CLIPS 45

static const char *class_names[CLASSES] = {"tone", "noise", "siren"}; /* small_model.h's */

/* small_model.h's classifier, saved as a model file. */
static void write_model(const char *path) {
    sono_error err = {0};
    sono_classifier *c = small_classifier(4);
    if (sono_classifier_save(path, c, NULL, NULL, NULL, 0, &err) != SONO_OK) {
        fprintf(stderr, "model: %s\n", err.message);
        exit(2);
    }
    sono_classifier_free(c);
}

/* CLIPS clips in folds 1..3: a bright band at a class-specific height over
 * noise. Every third clip's source is a real WAV (a tone), the others name
 * files that do not exist (their audio is rendered from the features). */
static sono_feature_set *make_set(const char *dir) {
    sono_feature_set *s = calloc(1, sizeof *s);
    s->config = small_features();
    s->n_mels = N_MELS;
    s->frames = sono_feature_frames(&s->config, sono_feature_clip_samples(&s->config));
    s->class_count = CLASSES;
    s->count = CLIPS;
    s->class_names = calloc(CLASSES, sizeof(char *));
    for (int k = 0; k < CLASSES; k++) s->class_names[k] = strdup(class_names[k]);
    size_t clip = (size_t)s->n_mels * s->frames;
    s->features = malloc((size_t)s->count * clip * sizeof(float));
    s->labels = malloc((size_t)s->count * sizeof(int32_t));
    s->folds = malloc((size_t)s->count * sizeof(int32_t));
    s->sources = calloc((size_t)s->count, sizeof(char *));
    uint32_t lcg = 12345;
    int64_t n = sono_feature_clip_samples(&s->config);
    float *tone = malloc((size_t)n * sizeof(float));
    for (int i = 0; i < s->count; i++) {
        int label = i % CLASSES;
        s->labels[i] = label;
        s->folds[i] = 1 + (i / CLASSES) % 3;
        char path[512];
        snprintf(path, sizeof path, "%s/%s/clip-%02d.wav", dir, i % 3 == 0 ? "src" : "missing", i);
        s->sources[i] = strdup(path);
        if (i % 3 == 0) {
            for (int64_t j = 0; j < n; j++) tone[j] = 0.3f * sinf(2 * (float)M_PI * (300 + 40 * i) * j / 16000.0f);
            sono_error err = {0};
            if (sono_audio_write_wav(path, tone, n, 16000, SONO_WAV_PCM16, &err) != SONO_OK) {
                fprintf(stderr, "%s\n", err.message);
                exit(2);
            }
        }
        for (size_t j = 0; j < clip; j++) {
            lcg = lcg * 1664525u + 1013904223u;
            int band = (int)(j / (size_t)s->frames);
            float noise = (float)(lcg >> 8) / 16777216.0f * 20.0f;
            s->features[(size_t)i * clip + j] =
                -70.0f + noise + (abs(band - (4 + 10 * label)) <= 2 ? 30.0f + (float)(i % 7) : 0.0f);
        }
    }
    s->layout = strdup("test");
    free(tone);
    return s;
}

typedef struct fixtures {
    char dir[256], model[512], features[512], other_config[512], other_classes[512];
} fixtures;

static void make_fixtures(fixtures *f, const char *dir) {
    snprintf(f->dir, sizeof f->dir, "%s", dir);
    snprintf(f->model, sizeof f->model, "%s/model.safetensors", dir);
    snprintf(f->features, sizeof f->features, "%s/features.safetensors", dir);
    snprintf(f->other_config, sizeof f->other_config, "%s/other-config.safetensors", dir);
    snprintf(f->other_classes, sizeof f->other_classes, "%s/other-classes.safetensors", dir);
    char sub[512];
    snprintf(sub, sizeof sub, "%s/src", dir);
    mkdir(sub, 0777);
    write_model(f->model);
    sono_feature_set *set = make_set(dir);
    sono_error err = {0};
    CHECK_OK(sono_feature_set_write(set, f->features, &err));
    set->config.fmax = 7000; /* same shapes, other features */
    CHECK_OK(sono_feature_set_write(set, f->other_config, &err));
    set->config.fmax = small_features().fmax;
    free(set->class_names[2]);
    set->class_names[2] = strdup("ambulance");
    CHECK_OK(sono_feature_set_write(set, f->other_classes, &err));
    sono_feature_set_free(set);
}

/* ---- top k ---- */

static int brute_before(const float *v, int a, int b) { return v[a] > v[b] || (v[a] == v[b] && a < b); }

/* Every index ranked by insertion sort: the independent reference. */
static void brute_rank(const float *v, int n, int *order) {
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && brute_before(v, i, order[j - 1])) order[j] = order[j - 1], j--;
        order[j] = i;
    }
}

static void test_top_k(void) {
    const int sizes[] = {1, 2, 3, 7, 64, 1000};
    uint32_t lcg = 7;
    for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
        int n = sizes[si];
        float *v = malloc((size_t)n * sizeof(float));
        int *ref = malloc((size_t)n * sizeof(int));
        int32_t *got = malloc((size_t)n * sizeof(int32_t)), *scratch = malloc((size_t)n * sizeof(int32_t));
        for (int trial = 0; trial < 4; trial++) {
            for (int i = 0; i < n; i++) {
                lcg = lcg * 1664525u + 1013904223u;
                /* trial 0: many ties; 1: distinct; 2: all equal; 3: sorted ascending */
                v[i] = trial == 0 ? (float)((lcg >> 16) % 5) : trial == 1 ? (float)(lcg >> 8) / 16777216.0f
                       : trial == 2 ? 1.0f : (float)i;
            }
            brute_rank(v, n, ref);
            const int ks[] = {1, 3, n / 2, n};
            for (int ki = 0; ki < 4; ki++) {
                int k = ks[ki] < 1 ? 1 : ks[ki] > n ? n : ks[ki];
                sono_atlas_top_k(v, n, k, got, scratch);
                int same = 1;
                for (int j = 0; j < k; j++) same &= got[j] == ref[j];
                CHECK_MSG(same, "top %d of %d (trial %d) differs from the full ranking", k, n, trial);
            }
        }
        free(v), free(ref), free(got), free(scratch);
    }
}

/* At most one per group: the reference walks the full ranking and keeps
 * the first of each group. */
static void test_top_k_grouped(void) {
    const int n = 500;
    float v[500];
    int32_t group[500], got[500], scratch[500];
    int ref[500], want[500];
    uint32_t lcg = 99;
    for (int groups = 1; groups <= 200; groups *= 3) {
        for (int i = 0; i < n; i++) {
            lcg = lcg * 1664525u + 1013904223u;
            v[i] = (float)((lcg >> 12) % 50); /* ties */
            lcg = lcg * 1664525u + 1013904223u;
            group[i] = (int32_t)((lcg >> 8) % (uint32_t)groups);
        }
        brute_rank(v, n, ref);
        for (int k = 1; k <= 100; k *= 4) {
            int expect = 0;
            for (int i = 0; i < n && expect < k; i++) {
                int seen = 0;
                for (int j = 0; j < expect; j++) seen |= group[want[j]] == group[ref[i]];
                if (!seen) want[expect++] = ref[i];
            }
            int found = sono_atlas_top_k_grouped(v, group, n, k, got, scratch);
            int same = found == expect;
            for (int j = 0; same && j < found; j++) same = got[j] == want[j];
            CHECK_MSG(same, "grouped top %d of %d in %d groups: found %d, expected %d", k, n, groups, found, expect);
        }
    }
}

/* ---- the index against one clip at a time ---- */

static void test_index(const fixtures *f) {
    sono_error err = {0};
    sono_classifier *workers[2] = {NULL, NULL}, *single = NULL;
    sono_feature_set *set = NULL;
    CHECK_OK(sono_classifier_load(f->model, 4, &workers[0], NULL, &err));
    CHECK_OK(sono_classifier_load(f->model, 4, &workers[1], NULL, &err));
    CHECK_OK(sono_classifier_load(f->model, 1, &single, NULL, &err));
    CHECK_OK(sono_feature_set_read(f->features, &set, &err));
    if (!workers[0] || !workers[1] || !single || !set) return;
    const int layers[4] = {3, 0, 6, 1}; /* conv3, conv1, logits, conv2 (any order) */
    const uint64_t folds = (1u << 1) | (1u << 3);
    const int top = 5;
    sono_atlas_index index, index1;
    CHECK_OK(sono_atlas_index_build(workers, 2, set, folds, NULL, layers, 4, top, &index, &err));
    CHECK_OK(sono_atlas_index_build(workers, 1, set, folds, NULL, layers, 4, top, &index1, &err));
    int expect_clips = 0;
    for (int i = 0; i < set->count; i++) expect_clips += set->folds[i] == 1 || set->folds[i] == 3;
    CHECK(index.clip_count == expect_clips && index1.clip_count == expect_clips);
    const size_t cells = (size_t)set->n_mels * set->frames;
    float *x = malloc(cells * sizeof(float));
    for (int l = 0; l < 4 && index.layer_count == 4; l++) {
        const sono_atlas_layer_index *li = &index.layers[l];
        const int C = li->channels;
        CHECK(li->layer == layers[l] && C == sono_net_layer(single->net, layers[l])->out.c && li->top == top);
        /* two workers or one: the same batches, the same numbers */
        CHECK(memcmp(li->mean, index1.layers[l].mean, (size_t)index.clip_count * C * sizeof(float)) == 0);
        double *brute = malloc((size_t)index.clip_count * C * sizeof(double));
        for (int i = 0; i < index.clip_count; i++) {
            int clip = index.clips[i];
            CHECK(set->folds[clip] == 1 || set->folds[clip] == 3);
            memcpy(x, set->features + (size_t)clip * cells, cells * sizeof(float));
            sono_classifier_standardize(single, x, set->frames);
            CHECK_OK(sono_net_forward_to(single->net, x, 1, set->n_mels, set->frames, 6, NULL, NULL, &err));
            const sono_layer_info *info = sono_net_layer(single->net, layers[l]);
            const float *out = sono_net_layer_output(single->net, layers[l]);
            const size_t plane = (size_t)info->out.h * info->out.w;
            for (int ch = 0; ch < C; ch++) {
                double s = 0;
                for (size_t p = 0; p < plane; p++) s += out[ch * plane + p];
                brute[(size_t)i * C + ch] = s / (double)plane;
            }
        }
        float *column = malloc((size_t)index.clip_count * sizeof(float));
        int *order = malloc((size_t)index.clip_count * sizeof(int));
        for (int ch = 0; ch < C; ch++) {
            for (int i = 0; i < index.clip_count; i++) column[i] = (float)brute[(size_t)i * C + ch];
            brute_rank(column, index.clip_count, order);
            for (int j = 0; j < top; j++) {
                /* the j-th value equals the brute-force j-th value, and the
                 * clip named has that value (robust to near-ties) */
                CHECK_NEAR(li->top_value[ch * top + j], column[order[j]], 1e-4 * (1 + fabs(column[order[j]])));
                int pos = -1;
                for (int i = 0; i < index.clip_count; i++)
                    if (index.clips[i] == li->top_clip[ch * top + j]) pos = i;
                CHECK(pos >= 0);
                if (pos >= 0) CHECK_NEAR(column[pos], li->top_value[ch * top + j], 1e-4 * (1 + fabs(column[pos])));
            }
            for (int k = 0; k < CLASSES; k++) {
                double s = 0;
                int n = 0;
                for (int i = 0; i < index.clip_count; i++)
                    if (set->labels[index.clips[i]] == k) s += column[i], n++;
                CHECK(n == index.class_clips[k]);
                CHECK_NEAR(li->class_mean[ch * CLASSES + k], s / n, 1e-4 * (1 + fabs(s / n)));
            }
        }
        free(column), free(order), free(brute);
    }
    /* the logits row holds each clip's logits (sono_net_predict's softmax
     * of them is the model's output) */
    if (index.layer_count == 4) {
        const sono_atlas_layer_index *lg = &index.layers[2];
        float probs[CLASSES];
        memcpy(x, set->features + (size_t)index.clips[0] * cells, cells * sizeof(float));
        sono_classifier_standardize(single, x, set->frames);
        CHECK_OK(sono_net_predict(single->net, x, 1, probs, &err));
        double z = 0, mx = lg->mean[0];
        for (int k = 1; k < CLASSES; k++) mx = fmax(mx, lg->mean[k]);
        for (int k = 0; k < CLASSES; k++) z += exp(lg->mean[k] - mx);
        for (int k = 0; k < CLASSES; k++) CHECK_NEAR(probs[k], exp(lg->mean[k] - mx) / z, 1e-5);
    }
    /* grouped (clip % 4 as the recording): distinct groups, best first, and
     * the overall best always kept */
    int32_t groups[CLIPS];
    for (int i = 0; i < CLIPS; i++) groups[i] = i % 4;
    sono_atlas_index grouped;
    CHECK_OK(sono_atlas_index_build(workers, 2, set, folds, groups, layers, 4, top, &grouped, &err));
    for (int l = 0; l < grouped.layer_count; l++) {
        const sono_atlas_layer_index *g = &grouped.layers[l], *u = &index.layers[l];
        CHECK(g->top == 4); /* four groups, top 5 */
        for (int ch = 0; ch < g->channels; ch++) {
            CHECK(g->top_clip[ch * g->top] == u->top_clip[ch * u->top]);
            for (int j = 1; j < g->top; j++) {
                CHECK(g->top_value[ch * g->top + j] <= g->top_value[ch * g->top + j - 1]);
                for (int i = 0; i < j; i++) CHECK(groups[g->top_clip[ch * g->top + j]] != groups[g->top_clip[ch * g->top + i]]);
            }
        }
    }
    sono_atlas_index_free(&grouped);
    const int beyond[1] = {sono_net_layer_count(single->net)};
    sono_atlas_index bad;
    CHECK(sono_atlas_index_build(workers, 1, set, 0, NULL, beyond, 1, top, &bad, &err) == SONO_ERR_ARGUMENT);
    free(x);
    sono_atlas_index_free(&index);
    sono_atlas_index_free(&index1);
    sono_feature_set_free(set);
    sono_classifier_free(workers[0]), sono_classifier_free(workers[1]), sono_classifier_free(single);
}

/* ---- resuming ---- */

static void small_options(sono_atlas_options *o) {
    static const int channels[] = {0, 1, 2, 3};
    sono_atlas_defaults(o);
    o->seconds = 0.5;
    o->channels = channels;
    o->channel_count = 4;
    o->top = 3;
    o->dream.ascent.octaves = 2;
    o->dream.ascent.iterations = 2;
}

#define ITEMS (3 * 4 + CLASSES) /* conv1..conv3, channels 0-3, and the classes */

static const char *item_file(const char *out, int i, const char *ext) {
    static char path[1024];
    const char *dirs[] = {"conv1", "conv2", "conv3"};
    if (i < 12) snprintf(path, sizeof path, "%s/%s/%03d%s", out, dirs[i / 4], i % 4, ext);
    else snprintf(path, sizeof path, "%s/classes/%03d%s", out, i - 12, ext);
    return path;
}

static struct timespec mtime_of(const char *path) {
    struct stat st;
    struct timespec zero = {0, 0};
    return stat(path, &st) == 0 ? st.st_mtim : zero;
}

static int same_time(struct timespec a, struct timespec b) { return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec; }

static void record_times(const char *out, struct timespec times[ITEMS][3]) {
    const char *exts[3] = {".json", ".png", ".flac"};
    for (int i = 0; i < ITEMS; i++)
        for (int e = 0; e < 3; e++) times[i][e] = mtime_of(item_file(out, i, exts[e]));
}

static int count_unchanged(const char *out, struct timespec times[ITEMS][3], int item) {
    struct timespec now[ITEMS][3];
    record_times(out, now);
    int same = 1;
    for (int e = 0; e < 3; e++) same &= same_time(now[item][e], times[item][e]) && times[item][e].tv_sec != 0;
    return same;
}

static int leftover_temporaries(const char *dir) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "find '%s' -name '*.tmp-*' | grep -q .", dir);
    return system(cmd) == 0;
}

static int stop_after;
static int stop_at(sono_atlas_stage stage, int done, int total, void *user) {
    (void)total, (void)user;
    return stage == SONO_ATLAS_DREAMS && done >= stop_after;
}

static void test_resume(const fixtures *f) {
    char out[512];
    snprintf(out, sizeof out, "%s/atlas", f->dir);
    sono_atlas_options o;
    small_options(&o);
    sono_atlas_report r;
    sono_error err = {0};
    CHECK_MSG(sono_atlas_build(f->model, f->features, out, &o, &r, &err) == SONO_OK, "%s", err.message);
    CHECK(r.items == ITEMS && r.dreamed == ITEMS && r.reused == 0);
    CHECK(r.clips > 0 && r.clips_rendered > 0 && r.clips_rendered < r.clips); /* both kinds of example audio */
    char path[1024];
    snprintf(path, sizeof path, "%s/index.html", out);
    CHECK(access(path, F_OK) == 0);
    for (int i = 0; i < ITEMS; i++) CHECK_MSG(access(item_file(out, i, ".html"), F_OK) == 0, "%s", item_file(out, i, ".html"));
    struct timespec times[ITEMS][3];
    record_times(out, times);

    /* the same run again: everything reused, nothing rewritten */
    struct timespec pause = {0, 20 * 1000 * 1000};
    nanosleep(&pause, NULL);
    CHECK_MSG(sono_atlas_build(f->model, f->features, out, &o, &r, &err) == SONO_OK, "%s", err.message);
    CHECK(r.dreamed == 0 && r.reused == ITEMS);
    for (int i = 0; i < ITEMS; i++) CHECK_MSG(count_unchanged(out, times, i), "item %d was rewritten", i);

    /* one channel's stored parameters differ: only that channel is redone */
    const char *json = item_file(out, 5, ".json");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "sed -i 's/\"seed\":[^,]*/\"seed\":\t99/' '%s'", json);
    CHECK(system(cmd) == 0);
    CHECK_MSG(sono_atlas_build(f->model, f->features, out, &o, &r, &err) == SONO_OK, "%s", err.message);
    CHECK_MSG(r.dreamed == 1 && r.reused == ITEMS - 1, "dreamed %d, reused %d", r.dreamed, r.reused);
    for (int i = 0; i < ITEMS; i++) CHECK_MSG(count_unchanged(out, times, i) == (i != 5), "item %d", i);

    /* a changed parameter of the run redoes every channel */
    o.dream.ascent.iterations = 3;
    CHECK_MSG(sono_atlas_build(f->model, f->features, out, &o, &r, &err) == SONO_OK, "%s", err.message);
    CHECK(r.dreamed == ITEMS && r.reused == 0);

    /* interrupted after 4 dreams: they are kept, the rerun does the rest */
    char fresh[512];
    snprintf(fresh, sizeof fresh, "%s/atlas-interrupted", f->dir);
    small_options(&o);
    o.jobs = 1;
    o.progress = stop_at;
    stop_after = 4;
    CHECK(sono_atlas_build(f->model, f->features, fresh, &o, &r, &err) == SONO_ERR_INTERRUPTED);
    CHECK_MSG(strstr(err.message, "run the same command again") != NULL, "%s", err.message);
    CHECK(r.dreamed == 4);
    snprintf(path, sizeof path, "%s/index.html", fresh);
    CHECK(access(path, F_OK) != 0);
    CHECK(!leftover_temporaries(fresh));
    o.progress = NULL;
    o.jobs = 0;
    CHECK_MSG(sono_atlas_build(f->model, f->features, fresh, &o, &r, &err) == SONO_OK, "%s", err.message);
    CHECK_MSG(r.reused == 4 && r.dreamed == ITEMS - 4, "reused %d, dreamed %d", r.reused, r.dreamed);
    CHECK(access(path, F_OK) == 0);
}

/* ---- refusals through the command line ---- */

static int run_cli(const fixtures *f, const char *args, char *output, size_t size) {
    char cmd[4096], log[600];
    snprintf(log, sizeof log, "%s/cli.txt", f->dir);
    snprintf(cmd, sizeof cmd, "'%s' atlas %s > '%s' 2>&1", test_binary(), args, log);
    int rc = system(cmd);
    output[0] = '\0';
    FILE *in = fopen(log, "r");
    if (in) {
        size_t n = fread(output, 1, size - 1, in);
        output[n] = '\0';
        fclose(in);
    }
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static void test_refusals(const fixtures *f) {
    char out[512], args[2048], text[4096];
    snprintf(out, sizeof out, "%s/refused", f->dir);
    struct {
        const char *options, *features, *message;
    } cases[] = {
        {"--layers conv9", f->features, "no layer 'conv9'"},
        {"--layers conv1,fc1", f->features, "'fc1' is not a convolution"},
        {"--layers conv2 --channels 8", f->features, "channel 8: layer conv2 has channels 0..7"},
        {"--channels 2-x", f->features, "--channels"},
        {"--folds 4", f->features, "no clips of fold 4"},
        {"--folds 0", f->features, "--folds"},
        {"", f->other_config, "made differently"},
        {"", f->other_classes, "class 2 is 'ambulance'"},
        {"--folds 1", "", "--folds needs a FEATURES file"},
        {"--top 0", f->features, "--top"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(args, sizeof args, "'%s' %s%s%s -o '%s' %s -q", f->model, *cases[i].features ? "'" : "",
                 cases[i].features, *cases[i].features ? "'" : "", out, cases[i].options);
        int rc = run_cli(f, args, text, sizeof text);
        CHECK_MSG(rc != 0 && rc != -1, "case %zu exited %d", i, rc);
        CHECK_MSG(strstr(text, cases[i].message) != NULL, "case %zu: expected '%s' in: %s", i, cases[i].message, text);
        CHECK_MSG(access(out, F_OK) != 0, "case %zu left %s behind", i, out);
    }
}

/* The pages' one escaper: sized with NULL, then written. */
static void test_html_escape(void) {
    const char *in = "a&b<c>d\"e'f";
    const char *want = "a&amp;b&lt;c&gt;d&quot;e&#39;f";
    char out[64] = {0};
    CHECK(sono_html_escape(in, NULL) == strlen(want));
    CHECK(sono_html_escape(in, out) == strlen(want) && strcmp(out, want) == 0);
    CHECK(sono_html_escape(NULL, NULL) == 0 && sono_html_escape("", out) == 0);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "--fixtures") == 0) {
        fixtures f;
        make_fixtures(&f, argv[2]);
        return test_result("test_atlas --fixtures");
    }
    fixtures f;
    make_fixtures(&f, test_make_dir());
    test_html_escape();
    test_top_k();
    test_top_k_grouped();
    test_index(&f);
    test_resume(&f);
    test_refusals(&f);
    test_cleanup_dir(f.dir);
    return test_result("test_atlas");
}
