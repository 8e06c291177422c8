/* Adversarial training and robust accuracy: the attack raises the loss it
 * attacks and stays in its radius (in every band, in standard deviations
 * of the standardised input), without touching dropout's stream or batch norm's running
 * statistics; a model trained against PGD keeps more of its accuracy under
 * PGD than the same run without; the robust column of MODEL.csv is what
 * sono_evaluate_robust says of the saved model. */
#include <math.h>

#include "check.h"
#include "toy_features.h"
#include "sonodream/train.h"

#define CLIPS 12 /* clips the attack tests perturb at once */

static sono_feature_set *toy_set(void) { return toy_feature_set(40, 3, 12345, 10.0f, 30.0f); }

static void options(sono_train_options *o, const char *dir, const char *name, const char *arch) {
    static char out[8][512];
    static int slot = 0;
    char *path = out[slot++ % 8];
    snprintf(path, 512, "%s/%s.model", dir, name);
    sono_train_defaults(o);
    o->arch = arch;
    o->epochs = 8;
    o->batch = 8;
    o->optim.lr = 3e-3f;
    o->train_folds = (1u << 1) | (1u << 2);
    o->val_folds = 0;
    o->output = path;
    o->checkpoint_every = 0;
    memset(&o->augment, 0, sizeof o->augment); /* the attack alone makes the difference */
}

static sono_classifier *train_model(const sono_feature_set *set, const sono_train_options *o) {
    sono_train_result r;
    sono_error err = {0};
    sono_classifier *c = NULL;
    CHECK_MSG(sono_train(set, o, &r, &err) == SONO_OK, "%s", err.message);
    CHECK_MSG(sono_classifier_load(o->output, CLIPS, &c, NULL, &err) == SONO_OK, "%s", err.message);
    return c;
}

/* Mean cross-entropy of the net on x (n clips) against one-hot labels. */
static double mean_loss(sono_net *net, const float *x, const int32_t *labels, int n) {
    float probs[CLIPS * 3];
    sono_error err = {0};
    CHECK_OK(sono_net_predict(net, x, n, probs, &err));
    double loss = 0;
    for (int b = 0; b < n; b++) loss -= log(probs[b * 3 + labels[b]] + 1e-12);
    return loss / n;
}

/* The first CLIPS clips of fold 3, standardised, their labels and targets. */
static float *fold3_batch(const sono_classifier *c, const sono_feature_set *set, int32_t *labels, float *targets) {
    const size_t clip = (size_t)set->n_mels * set->frames;
    float *x = malloc(CLIPS * clip * sizeof(float));
    memset(targets, 0, CLIPS * 3 * sizeof(float));
    for (int i = 0, b = 0; i < set->count && b < CLIPS; i++) {
        if (set->folds[i] != 3) continue;
        memcpy(x + b * clip, set->features + (size_t)i * clip, clip * sizeof(float));
        sono_classifier_standardize(c, x + b * clip, set->frames);
        labels[b] = set->labels[i];
        targets[b * 3 + labels[b]] = 1;
        b++;
    }
    return x;
}

/* Largest |a - b| over every clip, band and frame, in standard deviations
 * of each band (the standardised input). */
static double largest_change(const float *a, const float *b, size_t count) {
    double largest = 0;
    for (size_t k = 0; k < count; k++) largest = fmax(largest, fabs((double)a[k] - b[k]));
    return largest;
}

static void test_attack(const char *dir, const sono_feature_set *set) {
    sono_train_options o;
    options(&o, dir, "bn", "c4:linear,bn,lr,p2,d0.25,f8"); /* batch norm and dropout: the attack leaves both alone */
    o.epochs = 4;
    sono_classifier *c = train_model(set, &o);
    if (!c) return;
    const int H = set->n_mels, W = set->frames;
    const size_t count = (size_t)CLIPS * H * W;
    int32_t labels[CLIPS];
    float targets[CLIPS * 3];
    float *x = fold3_batch(c, set, labels, targets), *adv = malloc(count * sizeof(float));
    uint64_t keys[CLIPS];
    for (int b = 0; b < CLIPS; b++) keys[b] = 1000 + (uint64_t)b;
    sono_error err = {0};
    uint64_t seed0, step0, seed1, step1;
    sono_net_rng_state(c->net, &seed0, &step0);
    const sono_tensor_info *running = sono_net_find_tensor(c->net, "bn1.running_mean");
    CHECK(running != NULL);
    float mean0 = running ? running->data[0] : 0;

    const double clean = mean_loss(c->net, x, labels, CLIPS);
    /* The random start alone (a vanishing step): noise of the same radius. */
    sono_adversarial noise = sono_adversarial_defaults(SONO_ATTACK_PGD);
    noise.steps = 1, noise.step_size = 1e-6f;
    memcpy(adv, x, count * sizeof(float));
    CHECK_OK(sono_adversarial_perturb(c->net, &noise, adv, CLIPS, targets, keys, &err));
    const double noisy = mean_loss(c->net, adv, labels, CLIPS);

    const sono_attack_kind kinds[2] = {SONO_ATTACK_PGD, SONO_ATTACK_FGSM};
    for (int k = 0; k < 2; k++) {
        sono_adversarial a = sono_adversarial_defaults(kinds[k]);
        a.steps = 5;
        memcpy(adv, x, count * sizeof(float));
        CHECK_OK(sono_adversarial_perturb(c->net, &a, adv, CLIPS, targets, keys, &err));
        const double attacked = mean_loss(c->net, adv, labels, CLIPS);
        double in_std = largest_change(x, adv, count);
        fprintf(stderr, "%s eps %g: mean loss %.4f clean, %.4f random start alone, %.4f attacked; largest change "
                "%.6f std\n", sono_attack_name(a.attack), a.epsilon, clean, noisy, attacked, in_std);
        CHECK_MSG(attacked > 3 * fmax(clean, noisy) && attacked > clean + 0.02, "%s did not raise the loss",
                  sono_attack_name(a.attack));
        CHECK_MSG(in_std <= a.epsilon * (1 + 1e-5), "%s moved a cell %g std, radius %g", sono_attack_name(a.attack),
                  in_std, a.epsilon);
        CHECK_MSG(in_std >= 0.99 * a.epsilon, "%s reached only %g of radius %g", sono_attack_name(a.attack), in_std,
                  a.epsilon);
    }
    /* Inference mode: dropout's stream and batch norm's running statistics stay. */
    sono_net_rng_state(c->net, &seed1, &step1);
    CHECK(seed1 == seed0 && step1 == step0);
    CHECK(!running || running->data[0] == mean0);
    /* The same keys give the same bits; other keys another start. */
    sono_adversarial a = sono_adversarial_defaults(SONO_ATTACK_PGD);
    float *again = malloc(count * sizeof(float));
    memcpy(adv, x, count * sizeof(float)), memcpy(again, x, count * sizeof(float));
    CHECK_OK(sono_adversarial_perturb(c->net, &a, adv, CLIPS, targets, keys, &err));
    CHECK_OK(sono_adversarial_perturb(c->net, &a, again, CLIPS, targets, keys, &err));
    CHECK(memcmp(adv, again, count * sizeof(float)) == 0);
    keys[0]++;
    memcpy(again, x, count * sizeof(float));
    CHECK_OK(sono_adversarial_perturb(c->net, &a, again, CLIPS, targets, keys, &err));
    CHECK(memcmp(adv, again, (size_t)H * W * sizeof(float)) != 0);
    /* Attack none leaves the input; a bad radius is refused by name. */
    a = sono_adversarial_defaults(SONO_ATTACK_NONE);
    memcpy(again, x, count * sizeof(float));
    CHECK_OK(sono_adversarial_perturb(c->net, &a, again, CLIPS, targets, keys, &err));
    CHECK(memcmp(again, x, count * sizeof(float)) == 0);
    a = sono_adversarial_defaults(SONO_ATTACK_PGD);
    a.epsilon = 0;
    CHECK(sono_adversarial_perturb(c->net, &a, again, CLIPS, targets, keys, &err) != SONO_OK &&
          strstr(err.message, "epsilon"));
    free(x), free(adv), free(again);
    sono_classifier_free(c);
}

/* Trained against PGD, a model keeps more of its accuracy under PGD-10 than
 * the same run (same seed) without the attack. */
static void test_robust_beats_standard(const char *dir, const sono_feature_set *set) {
    const float eps = 0.5f;
    sono_train_options std_opt, adv_opt;
    options(&std_opt, dir, "standard", "c8,p2,f16");
    options(&adv_opt, dir, "robust", "c8,p2,f16");
    adv_opt.adversarial = sono_adversarial_defaults(SONO_ATTACK_PGD);
    adv_opt.adversarial.epsilon = eps;
    sono_classifier *standard = train_model(set, &std_opt), *robust = train_model(set, &adv_opt);
    if (!standard || !robust) return;
    sono_adversarial pgd10 = sono_adversarial_defaults(SONO_ATTACK_PGD);
    pgd10.steps = 10, pgd10.epsilon = eps;
    sono_eval_result clean[2], attacked[2], plain;
    sono_error err = {0};
    sono_classifier *models[2] = {standard, robust};
    for (int m = 0; m < 2; m++) CHECK_OK(sono_evaluate_robust(models[m], set, 1u << 3, &pgd10, &clean[m], &attacked[m], &err));
    double acc[2], rob[2];
    for (int m = 0; m < 2; m++) {
        acc[m] = (double)clean[m].correct / clean[m].count, rob[m] = (double)attacked[m].correct / attacked[m].count;
        fprintf(stderr, "%s training: clean accuracy %.3f, under PGD-10 eps %g: %.3f\n", m ? "PGD-3" : "standard",
                acc[m], eps, rob[m]);
    }
    CHECK(acc[0] >= 0.9 && acc[1] >= 0.9);
    CHECK_MSG(rob[1] >= rob[0] + 0.2, "robust accuracy %.3f (PGD training) vs %.3f (standard)", rob[1], rob[0]);
    /* The clean half is sono_evaluate's result. */
    CHECK_OK(sono_evaluate(robust, set, 1u << 3, &plain, &err));
    CHECK(plain.count == clean[1].count && memcmp(plain.confusion, clean[1].confusion, 9 * sizeof(int)) == 0);
    CHECK_NEAR(plain.loss, clean[1].loss, 1e-6);
    sono_eval_result_free(&plain);
    for (int m = 0; m < 2; m++) sono_eval_result_free(&clean[m]), sono_eval_result_free(&attacked[m]);
    sono_classifier_free(standard), sono_classifier_free(robust);
}

/* MODEL.csv's last column at the best epoch is the saved model's accuracy
 * under the training attack on the validation folds; without an attack the
 * column is empty. */
static double csv_robust(const char *path, int epoch, int *empty) {
    FILE *f = fopen(path, "r");
    char line[512];
    double value = NAN;
    *empty = 0;
    for (int row = 0; f && fgets(line, sizeof line, f); row++) {
        if (row == 0) CHECK(strstr(line, ",samples_per_second,val_robust_accuracy\n") != NULL);
        if (row != epoch) continue;
        char *last = strrchr(line, ',');
        *empty = last && (last[1] == '\n' || last[1] == '\0');
        if (last && !*empty) value = strtod(last + 1, NULL);
    }
    if (f) fclose(f);
    return value;
}

static void test_csv_column(const char *dir, const sono_feature_set *set) {
    char csv[2][600];
    sono_train_options o[2];
    for (int m = 0; m < 2; m++) {
        options(&o[m], dir, m ? "logged-pgd" : "logged", "c8,p2,f16");
        o[m].val_folds = 1u << 3;
        o[m].epochs = 3;
        snprintf(csv[m], sizeof csv[m], "%s.csv", o[m].output);
        o[m].log_csv = csv[m];
    }
    o[1].adversarial = sono_adversarial_defaults(SONO_ATTACK_FGSM);
    o[1].adversarial.epsilon = 1.0f; /* a radius the toy model is not wholly robust at: the count tells */
    sono_train_result r;
    sono_error err = {0};
    int empty;
    CHECK_OK(sono_train(set, &o[0], &r, &err));
    csv_robust(csv[0], 1, &empty);
    CHECK_MSG(empty, "the standard run's robust cell is not empty");
    CHECK_OK(sono_train(set, &o[1], &r, &err));
    double logged = csv_robust(csv[1], r.best_epoch, &empty);
    sono_classifier *c = NULL;
    sono_eval_result robust;
    CHECK_OK(sono_classifier_load(o[1].output, 16, &c, NULL, &err));
    if (!c) return;
    CHECK_OK(sono_evaluate_robust(c, set, 1u << 3, &o[1].adversarial, NULL, &robust, &err));
    fprintf(stderr, "FGSM run: robust validation accuracy %.4f in the CSV at epoch %d, %d/%d by sono_evaluate_robust\n",
            logged, r.best_epoch, robust.correct, robust.count);
    CHECK(!empty && logged > 0 && logged < 1);
    CHECK_NEAR(logged, (double)robust.correct / robust.count, 1e-6);
    sono_eval_result_free(&robust);
    sono_classifier_free(c);
}

int main(void) {
    char *dir = test_make_dir();
    sono_feature_set *set = toy_set();
    test_attack(dir, set);
    test_robust_beats_standard(dir, set);
    test_csv_column(dir, set);
    sono_feature_set_free(set);
    test_cleanup_dir(dir);
    return test_result("test_adversarial");
}
