/* The cosine schedule and label smoothing on a toy problem: the logged
 * learning rate follows the cosine step by step down to min_lr, and label
 * smoothing caps the model's confidence near its target (1 - eps + eps/K). */
#include <math.h>

#include "check.h"
#include "toy_features.h"
#include "sonodream/train.h"

/* Three classes with a bright band at a class-specific height, in folds 1..2. */
static sono_feature_set *toy_set(int per_class) { return toy_feature_set(per_class, 2, 99, 10.0f, 30.0f); }

static void options(sono_train_options *o, const char *model) {
    sono_train_defaults(o);
    o->arch = "c4,p2,f8";
    o->epochs = 6;
    o->batch = 8;
    o->optim.lr = 3e-3f;
    o->train_folds = (sono_folds)1 << 1;
    o->val_folds = (sono_folds)1 << 2;
    o->output = model;
    o->checkpoint_every = 0;
    memset(&o->augment, 0, sizeof o->augment);
}

/* The lr logged at each epoch's end is that of its last step. */
static void test_cosine(const sono_feature_set *set, const char *dir) {
    char model[512], csv[512];
    snprintf(model, sizeof model, "%s/cos.model", dir);
    snprintf(csv, sizeof csv, "%s/cos.csv", dir);
    sono_train_options o;
    options(&o, model);
    o.cosine = 1;
    o.log_csv = csv;
    sono_train_result r;
    sono_error err = {0};
    CHECK_MSG(sono_train(set, &o, &r, &err) == SONO_OK, "%s", err.message);
    const int batches = 6; /* 48 training clips, batch 8 */
    const double total = (double)o.epochs * batches;
    FILE *f = fopen(csv, "r");
    char line[512];
    int rows = 0;
    if (f && fgets(line, sizeof line, f))
        while (fgets(line, sizeof line, f)) {
            int epoch;
            double loss, tacc, vloss, vacc, lr;
            if (sscanf(line, "%d,%lf,%lf,%lf,%lf,%lf", &epoch, &loss, &tacc, &vloss, &vacc, &lr) != 6) break;
            double step = epoch * batches - 1;
            double want = o.min_lr + 0.5 * (o.optim.lr - o.min_lr) * (1 + cos(M_PI * step / (total - 1)));
            CHECK_MSG(fabs(lr - want) <= 2e-5 * want + 1e-9, "epoch %d: lr %g, cosine %g", epoch, lr, want);
            rows++;
        }
    if (f) fclose(f);
    CHECK(rows == o.epochs);
}

/* Mean probability of the predicted class over the validation fold. */
static double mean_confidence(const char *model, const sono_feature_set *set) {
    sono_classifier *c = NULL;
    sono_error err = {0};
    if (sono_classifier_load(model, 64, &c, NULL, &err) != SONO_OK) return NAN;
    size_t clip = (size_t)set->n_mels * set->frames;
    float *x = malloc(clip * sizeof(float)), probs[3];
    double sum = 0;
    int n = 0;
    for (int i = 0; i < set->count; i++) {
        if (set->folds[i] != 2) continue;
        memcpy(x, set->features + i * clip, clip * sizeof(float));
        sono_classifier_standardize(c, x, set->frames);
        if (sono_net_predict(c->net, x, 1, probs, &err) != SONO_OK) break;
        sum += fmax(probs[0], fmax(probs[1], probs[2]));
        n++;
    }
    free(x);
    sono_classifier_free(c);
    return n ? sum / n : NAN;
}

static void test_label_smoothing(const sono_feature_set *set, const char *dir) {
    char plain[512], smooth[512];
    snprintf(plain, sizeof plain, "%s/plain.model", dir);
    snprintf(smooth, sizeof smooth, "%s/smooth.model", dir);
    sono_train_options o;
    sono_train_result r;
    sono_error err = {0};
    options(&o, plain);
    o.epochs = 30;
    o.val_folds = 0; /* the last model, not the best */
    CHECK(sono_train(set, &o, &r, &err) == SONO_OK);
    options(&o, smooth);
    o.epochs = 30;
    o.val_folds = 0;
    o.label_smoothing = 0.6f; /* target 0.4 + 0.2 = 0.6 for the true class */
    CHECK(sono_train(set, &o, &r, &err) == SONO_OK);
    double p = mean_confidence(plain, set), q = mean_confidence(smooth, set);
    CHECK_MSG(p > 0.9, "plain confidence %.3f", p);
    CHECK_MSG(q > 0.45 && q < 0.72, "smoothed confidence %.3f (target 0.6)", q);
    o.label_smoothing = 1.0f;
    CHECK(sono_train(set, &o, &r, &err) != SONO_OK && strstr(err.message, "label smoothing"));
}

int main(void) {
    setenv("OMP_NUM_THREADS", "1", 1);
    char *dir = test_make_dir();
    sono_feature_set *set = toy_set(32);
    test_cosine(set, dir);
    test_label_smoothing(set, dir);
    sono_feature_set_free(set);
    test_cleanup_dir(dir);
    return test_result("test_schedule");
}
