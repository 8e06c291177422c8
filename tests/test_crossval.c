/* Cross-validation on a toy feature set with four folds: every fold tested
 * once, test-time shift averaging, results that match an evaluation of the kept models, pooled
 * confusion and F1, the output files, --folds, --val next, resume without
 * retraining finished folds, an interrupted fold continued from its
 * checkpoint, and a folder of other options refused. */
#include <cjson/cJSON.h>
#include <math.h>
#include <signal.h>
#include <sys/stat.h>

#include "check.h"
#include "toy_features.h"
#include "sonodream/train.h"

/* Three classes with a bright band at a class-specific height plus noise, in folds 1..4. */
static sono_feature_set *toy_set(int per_class) { return toy_feature_set(per_class, 4, 777, 25.0f, 12.0f); }

static void options(sono_crossval_options *o, const char *dir) {
    memset(o, 0, sizeof *o);
    sono_train_defaults(&o->train);
    o->train.arch = "c4,p2,f8";
    o->train.epochs = 4;
    o->train.batch = 8;
    o->train.optim.lr = 3e-3f;
    o->train.cosine = 1;
    o->train.checkpoint_every = 0;
    o->out_dir = dir;
}

static int exists(const char *dir, const char *name) {
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 && st.st_size > 0;
}

static long mtime_ns(const char *dir, const char *name) {
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 ? st.st_mtim.tv_sec * 1000000000L + st.st_mtim.tv_nsec : -1;
}

/* Each fold's accuracy equals an evaluation of its kept model on that fold;
 * the pooled confusion is their sum; F1 follows from it. */
static void check_against_models(const sono_crossval_result *r, const sono_feature_set *set, const char *dir) {
    int K = set->class_count, *sum = calloc((size_t)K * K, sizeof(int));
    for (int i = 0; i < r->fold_count; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/fold%d.model", dir, r->folds[i].fold);
        sono_classifier *c = NULL;
        sono_eval_result e;
        sono_error err = {0};
        CHECK_MSG(sono_classifier_load(path, 16, &c, NULL, &err) == SONO_OK, "%s", err.message);
        if (!c) continue;
        CHECK(sono_evaluate(c, set, (sono_folds)1 << r->folds[i].fold, &e, &err) == SONO_OK);
        CHECK(e.count == r->folds[i].count && e.correct == r->folds[i].correct);
        for (int k = 0; k < K * K; k++) sum[k] += e.confusion[k];
        sono_eval_result_free(&e);
        sono_classifier_free(c);
    }
    for (int k = 0; k < K * K; k++) CHECK(sum[k] == r->confusion[k]);
    for (int k = 0; k < K; k++) {
        int tp = sum[k * K + k], row = 0, col = 0;
        for (int j = 0; j < K; j++) row += sum[k * K + j], col += sum[j * K + k];
        double p = col ? (double)tp / col : 0, rc = row ? (double)tp / row : 0;
        CHECK_NEAR(r->f1[k], p + rc > 0 ? 2 * p * rc / (p + rc) : 0, 1e-12);
    }
    double mean = 0, sq = 0;
    for (int i = 0; i < r->fold_count; i++) mean += r->folds[i].accuracy / r->fold_count;
    for (int i = 0; i < r->fold_count; i++) sq += pow(r->folds[i].accuracy - mean, 2);
    CHECK_NEAR(r->mean, mean, 1e-12);
    CHECK_NEAR(r->std, sqrt(sq / (r->fold_count - 1)), 1e-12);
    free(sum);
}

static void test_full_run(const sono_feature_set *set, const char *dir) {
    sono_crossval_options o;
    options(&o, dir);
    sono_crossval_result r;
    sono_error err = {0};
    CHECK_MSG(sono_crossval(set, &o, &r, &err) == SONO_OK, "%s", err.message);
    CHECK(r.fold_count == 4);
    for (int i = 0; i < r.fold_count; i++) {
        CHECK(r.folds[i].fold == i + 1 && r.folds[i].count == 24 && !r.folds[i].resumed && r.folds[i].val_fold == 0);
        CHECK_MSG(r.folds[i].accuracy > 0.8, "fold %d: %.3f", i + 1, r.folds[i].accuracy); /* the toy problem is easy */
    }
    check_against_models(&r, set, dir);
    const char *files[] = {"crossval.json", "crossval.csv", "crossval-classes.csv", "crossval-confusion.csv",
                           "crossval.png", "fold1.model", "fold4.model.csv", "fold2.json", "options.json"};
    for (int i = 0; i < 9; i++) CHECK_MSG(exists(dir, files[i]), "%s missing", files[i]);
    /* The JSON holds what the result holds. */
    char path[1024];
    snprintf(path, sizeof path, "%s/crossval.json", dir);
    FILE *f = fopen(path, "rb");
    char text[20000] = "";
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f) fclose(f);
    text[n] = '\0';
    cJSON *j = cJSON_Parse(text);
    CHECK(j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "folds")) == 4);
    CHECK(j && fabs(cJSON_GetObjectItem(j, "mean_accuracy")->valuedouble - r.mean) < 1e-9);
    CHECK(j && cJSON_GetArraySize(cJSON_GetObjectItem(j, "classes")) == 3);
    cJSON_Delete(j);

    /* Again: every fold read back, nothing retrained, the same numbers. */
    long before = mtime_ns(dir, "fold3.model");
    sono_crossval_result again;
    CHECK_MSG(sono_crossval(set, &o, &again, &err) == SONO_OK, "%s", err.message);
    for (int i = 0; i < 4 && again.fold_count == 4; i++)
        CHECK(again.folds[i].resumed && again.folds[i].correct == r.folds[i].correct);
    CHECK(mtime_ns(dir, "fold3.model") == before);
    CHECK(again.mean == r.mean && memcmp(again.confusion, r.confusion, 9 * sizeof(int)) == 0);
    sono_crossval_result_free(&again);

    /* A finished fold's result removed: only that fold is trained again, to the same model. */
    snprintf(path, sizeof path, "%s/fold2.json", dir);
    remove(path);
    CHECK(sono_crossval(set, &o, &again, &err) == SONO_OK);
    CHECK(again.fold_count == 4 && !again.folds[1].resumed && again.folds[0].resumed && again.folds[3].resumed);
    CHECK(again.fold_count == 4 && again.folds[1].correct == r.folds[1].correct);
    CHECK(mtime_ns(dir, "fold3.model") == before);
    sono_crossval_result_free(&again);

    /* Features made differently, or other options, in the same folder are
     * refused, naming the difference. */
    sono_feature_set other = *set;
    other.config.fmin = 20;
    CHECK(sono_crossval(&other, &o, &again, &err) != SONO_OK);
    CHECK_MSG(strstr(err.message, "feature_config"), "%s", err.message);
    o.train.epochs = 5;
    CHECK(sono_crossval(set, &o, &again, &err) != SONO_OK);
    CHECK_MSG(strstr(err.message, "epochs") && strstr(err.message, dir), "%s", err.message);
    sono_crossval_result_free(&r);
}

static void test_subset_and_val_next(const sono_feature_set *set, const char *dir) {
    sono_crossval_options o;
    options(&o, dir);
    o.val_next = 1;
    o.train.cosine = 0;
    o.folds = ((sono_folds)1 << 2) | ((sono_folds)1 << 4);
    sono_crossval_result r;
    sono_error err = {0};
    CHECK_MSG(sono_crossval(set, &o, &r, &err) == SONO_OK, "%s", err.message);
    CHECK(r.fold_count == 2);
    if (r.fold_count == 2) {
        CHECK(r.folds[0].fold == 2 && r.folds[0].val_fold == 3);
        CHECK(r.folds[1].fold == 4 && r.folds[1].val_fold == 1); /* wraps around */
    }
    CHECK(!exists(dir, "fold1.json") && exists(dir, "fold4.json"));
    /* The validation fold was not trained on: the model's log has a validation column. */
    char path[1024];
    snprintf(path, sizeof path, "%s/fold2.model.csv", dir);
    FILE *f = fopen(path, "r");
    char line[256] = "";
    if (f && fgets(line, sizeof line, f) && fgets(line, sizeof line, f)) CHECK(strstr(line, "nan") == NULL);
    if (f) fclose(f);
    sono_crossval_result_free(&r);
    o.folds = (sono_folds)1 << 9;
    CHECK(sono_crossval(set, &o, &r, &err) != SONO_OK && strstr(err.message, "fold 9"));
}

/* Stopped during a fold: a checkpoint is written; the next run continues it
 * and ends with the model an uninterrupted run makes. */
static volatile sig_atomic_t stop_now = 0;
static int steps_seen = 0;
static void stop_after(int64_t iteration, int batch, int batches, double loss, void *user) {
    (void)batch, (void)batches, (void)loss, (void)user;
    if (++steps_seen == 20 && iteration > 0) stop_now = 1;
}
static void count_steps(int64_t iteration, int batch, int batches, double loss, void *user) {
    (void)iteration, (void)batch, (void)batches, (void)loss, (void)user;
    steps_seen++;
}

static void check_same_params(const char *a, const char *b) {
    sono_classifier *x = NULL, *y = NULL;
    sono_error err = {0};
    CHECK(sono_classifier_load(a, 8, &x, NULL, &err) == SONO_OK && sono_classifier_load(b, 8, &y, NULL, &err) == SONO_OK);
    if (x && y) {
        size_t nx, ny;
        const float *px = sono_net_params(x->net, &nx), *py = sono_net_params(y->net, &ny);
        CHECK(nx == ny && memcmp(px, py, nx * sizeof(float)) == 0);
    }
    sono_classifier_free(x);
    sono_classifier_free(y);
}

static void test_interrupted(const sono_feature_set *set, const char *dir, const char *reference) {
    sono_crossval_options o;
    options(&o, dir);
    o.folds = (sono_folds)1 << 1;
    o.train.stop = &stop_now;
    o.train.on_step = stop_after;
    sono_crossval_result r;
    sono_error err = {0};
    CHECK(sono_crossval(set, &o, &r, &err) == SONO_ERR_INTERRUPTED);
    CHECK(!exists(dir, "fold1.json"));
    CHECK(exists(dir, "fold1.model.checkpoints"));
    stop_now = 0;
    steps_seen = 0;
    o.train.on_step = count_steps;
    CHECK_MSG(sono_crossval(set, &o, &r, &err) == SONO_OK, "%s", err.message);
    CHECK_MSG(steps_seen == 4 * 9 - 20, "the resumed fold took %d steps", steps_seen); /* 72 clips, batch 8 */
    sono_crossval_result ref;
    sono_crossval_options full;
    options(&full, reference);
    CHECK(sono_crossval(set, &full, &ref, &err) == SONO_OK); /* the finished reference run */
    CHECK(r.fold_count == 1 && ref.fold_count == 4 && r.folds[0].correct == ref.folds[0].correct);
    char x[1024], y[1024];
    snprintf(x, sizeof x, "%s/fold1.model", dir);
    snprintf(y, sizeof y, "%s/fold1.model", reference);
    check_same_params(x, y);
    sono_crossval_result_free(&r);
    sono_crossval_result_free(&ref);
}

/* Test-time shifts: the function's loss is that of the probabilities averaged
 * by hand over rolled copies of the features (shifts -2, 0, 2). */
static void test_shifted_evaluation(sono_feature_set *set, const char *dir) {
    char model[1024];
    snprintf(model, sizeof model, "%s/fold1.model", dir);
    sono_classifier *c = NULL;
    sono_error err = {0};
    CHECK(sono_classifier_load(model, 128, &c, NULL, &err) == SONO_OK);
    if (!c) return;
    const int H = set->n_mels, W = set->frames, K = set->class_count;
    const size_t clip = (size_t)H * W;
    float *x = malloc(clip * sizeof(float)), *probs = malloc((size_t)K * sizeof(float));
    double loss = 0;
    int n = 0;
    for (int i = 0; i < set->count; i++) {
        if (set->folds[i] != 1) continue;
        double mean[3] = {0, 0, 0};
        for (int shift = -2; shift <= 2; shift += 2) {
            for (int h = 0; h < H; h++)
                for (int w = 0; w < W; w++)
                    x[h * W + ((w + shift) % W + W) % W] = set->features[i * clip + (size_t)h * W + w];
            sono_classifier_standardize(c, x, W);
            CHECK(sono_net_predict(c->net, x, 1, probs, &err) == SONO_OK);
            for (int k = 0; k < K; k++) mean[k] += probs[k] / 3;
        }
        loss -= log(mean[set->labels[i]] + 1e-12);
        n++;
    }
    sono_eval_result r, plain, one;
    CHECK(sono_evaluate_shifted(c, set, (sono_folds)1 << 1, 3, 2, &r, &err) == SONO_OK);
    CHECK(r.count == n);
    CHECK_NEAR(r.loss, loss / n, 1e-5);
    /* One shift is the plain evaluation; the shifted one differs from it. */
    CHECK(sono_evaluate_shifted(c, set, (sono_folds)1 << 1, 1, 2, &one, &err) == SONO_OK);
    CHECK(sono_evaluate(c, set, (sono_folds)1 << 1, &plain, &err) == SONO_OK);
    CHECK(one.loss == plain.loss && one.correct == plain.correct);
    CHECK(fabs(r.loss - plain.loss) > 1e-6);
    sono_eval_result_free(&r), sono_eval_result_free(&plain), sono_eval_result_free(&one);
    free(x), free(probs);
    sono_classifier_free(c);
}

int main(void) {
    setenv("OMP_NUM_THREADS", "1", 1);
    char *tmp = test_make_dir(), a[512], b[512], c[512];
    snprintf(a, sizeof a, "%s/cv", tmp);
    snprintf(b, sizeof b, "%s/cv-val", tmp);
    snprintf(c, sizeof c, "%s/cv-stop", tmp);
    sono_feature_set *set = toy_set(32);
    test_full_run(set, a);
    test_shifted_evaluation(set, a);
    test_subset_and_val_next(set, b);
    test_interrupted(set, c, a);
    sono_feature_set_free(set);
    test_cleanup_dir(tmp);
    return test_result("test_crossval");
}
