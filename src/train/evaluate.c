/* Accuracy, loss and the confusion matrix of a classifier on feature folds. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adversarial.h"
#include "augment.h"
#include "sonodream/distributed.h"
#include "sonodream/train.h"

sono_status sono_check_compatible(const sono_classifier *c, const sono_feature_set *set, const char *set_path,
                                  sono_error *err) {
    char diff[256];
    if (!sono_classifier_features_match(c, &set->config, diff, sizeof diff))
        return sono_error_set(err, SONO_ERR_ARGUMENT,
                              "%s: its features were made differently from the model's (%s; model first)", set_path,
                              diff);
    if (set->class_count != c->class_count)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: %d classes, the model has %d", set_path, set->class_count,
                              c->class_count);
    for (int k = 0; k < c->class_count; k++)
        if (strcmp(set->class_names[k], c->class_names[k]) != 0)
            return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: class %d is '%s', the model's is '%s'", set_path, k,
                                  set->class_names[k], c->class_names[k]);
    return SONO_OK;
}

void sono_eval_result_free(sono_eval_result *r) {
    if (!r) return;
    free(r->confusion);
    memset(r, 0, sizeof *r);
}

/* This rank's share of the clips in `folds`: indices into set (malloc'd). */
static int *clips_of_rank(const sono_feature_set *set, sono_folds folds, int *count) {
    int *all = malloc((size_t)(set->count ? set->count : 1) * sizeof(int)), n = 0;
    if (!all) return NULL;
    for (int i = 0; i < set->count; i++)
        if (!folds || sono_folds_has(folds, set->folds[i])) all[n++] = i;
    int64_t first, part;
    sono_dist_share(n, sono_dist_rank(), sono_dist_size(), &first, &part);
    memmove(all, all + first, (size_t)part * sizeof(int));
    *count = (int)part;
    return all;
}

/* Sum the confusion matrix and loss over the ranks (doubles hold the counts
 * exactly). */
static sono_status sum_over_ranks(sono_eval_result *r, sono_error *err) {
    const int K = r->classes;
    double *v = malloc(((size_t)K * K + 1) * sizeof(double));
    if (!v) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int i = 0; i < K * K; i++) v[i] = r->confusion[i];
    v[K * K] = r->loss;
    sono_status s = sono_dist_sum_f64(v, (size_t)K * K + 1, "evaluation", err);
    r->count = r->correct = 0;
    for (int i = 0; i < K * K; i++) {
        r->confusion[i] = (int)v[i];
        r->count += r->confusion[i];
        if (i / K == i % K) r->correct += r->confusion[i];
    }
    r->loss = v[K * K];
    free(v);
    return s;
}

/* Shift i of n, evenly spaced in [-max_shift, max_shift]. */
static int shift_at(int i, int n, int max_shift) {
    return n <= 1 ? 0 : (int)lround(-max_shift + 2.0 * max_shift * i / (n - 1));
}

/* mean (n, K) += the probabilities of model c for clips[0..n), averaged
 * over the shifts and weighted by `weight`. */
static sono_status add_probabilities(sono_classifier *c, const sono_feature_set *set, const int *clips, int n,
                                     int shifts, int max_shift, float weight, float *x, float *probs, float *scratch,
                                     float *mean, sono_error *err) {
    const int K = c->class_count, W = set->frames;
    const size_t clip = (size_t)set->n_mels * W;
    sono_status s = SONO_OK;
    for (int t = 0; s == SONO_OK && t < shifts; t++) {
        for (int b = 0; b < n; b++) {
            float *xb = x + (size_t)b * clip;
            memcpy(xb, set->features + (size_t)clips[b] * clip, clip * sizeof(float));
            sono_classifier_standardize(c, xb, W);
            if (shifts > 1) sono_roll_time(xb, set->n_mels, W, shift_at(t, shifts, max_shift), scratch);
        }
        s = sono_net_predict(c->net, x, n, probs, err);
        for (int k = 0; s == SONO_OK && k < n * K; k++) mean[k] += probs[k] * weight / shifts;
    }
    return s;
}

sono_status sono_evaluate_ensemble(sono_classifier *const *models, int count, const sono_feature_set *set,
                                   sono_folds folds, int shifts, int max_shift, sono_eval_result *result,
                                   sono_error *err) {
    memset(result, 0, sizeof *result);
    if (!models || count < 1) return sono_error_set(err, SONO_ERR_ARGUMENT, "evaluate: no model");
    sono_status s = SONO_OK;
    for (int m = 0; s == SONO_OK && m < count; m++) s = sono_check_compatible(models[m], set, "feature file", err);
    if (s != SONO_OK) return s;
    if (shifts < 1) shifts = 1;
    sono_classifier *c = models[0];
    int B = sono_net_max_batch(c->net);
    for (int m = 1; m < count; m++) B = sono_net_max_batch(models[m]->net) < B ? sono_net_max_batch(models[m]->net) : B;
    const int K = c->class_count, W = set->frames;
    const size_t clip = (size_t)set->n_mels * W;
    int n_clips = 0, *clips = clips_of_rank(set, folds, &n_clips);
    result->classes = K;
    result->confusion = calloc((size_t)K * K, sizeof(int));
    float *x = malloc((size_t)B * clip * sizeof(float)), *probs = malloc((size_t)B * K * sizeof(float));
    float *mean = malloc((size_t)B * K * sizeof(float)), *scratch = malloc((size_t)W * sizeof(float));
    if (!result->confusion || !x || !probs || !mean || !scratch || !clips)
        s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    double loss = 0;
    for (int first = 0; s == SONO_OK && first < n_clips; first += B) {
        int n = n_clips - first < B ? n_clips - first : B;
        memset(mean, 0, (size_t)n * K * sizeof(float));
        for (int m = 0; s == SONO_OK && m < count; m++)
            s = add_probabilities(models[m], set, clips + first, n, shifts, max_shift, 1.0f / count, x, probs, scratch,
                                  mean, err);
        for (int b = 0; s == SONO_OK && b < n; b++) {
            const float *p = mean + (size_t)b * K;
            int label = set->labels[clips[first + b]], best = 0;
            for (int k = 1; k < K; k++)
                if (p[k] > p[best]) best = k;
            result->confusion[label * K + best]++;
            loss -= log(p[label] + 1e-12);
        }
    }
    result->loss = loss;
    /* Every rank takes part in the sum, even one that failed above. */
    sono_error sum_err = {0};
    sono_status summed = result->confusion ? sum_over_ranks(result, &sum_err) : SONO_ERR_MEMORY;
    if (s == SONO_OK && summed != SONO_OK) {
        s = summed;
        if (err) *err = sum_err;
    }
    result->loss = result->count ? result->loss / result->count : NAN;
    free(x), free(probs), free(mean), free(scratch), free(clips);
    if (s == SONO_OK && result->count == 0) s = sono_error_set(err, SONO_ERR_ARGUMENT, "no clips in the chosen folds");
    if (s != SONO_OK) sono_eval_result_free(result);
    return s;
}

sono_status sono_evaluate_shifted(sono_classifier *c, const sono_feature_set *set, sono_folds folds, int shifts,
                                  int max_shift, sono_eval_result *result, sono_error *err) {
    return sono_evaluate_ensemble(&c, 1, set, folds, shifts, max_shift, result, err);
}

sono_status sono_evaluate(sono_classifier *c, const sono_feature_set *set, sono_folds folds,
                          sono_eval_result *result, sono_error *err) {
    return sono_evaluate_shifted(c, set, folds, 1, 0, result, err);
}

/* ---- robust accuracy ---- */

typedef struct robust_buffers {
    float *x, *probs, *targets, *origin, *grad;
    uint64_t *keys;
} robust_buffers;

static void robust_buffers_free(robust_buffers *b) {
    free(b->x), free(b->probs), free(b->targets), free(b->origin), free(b->grad), free(b->keys);
}

static int robust_buffers_alloc(robust_buffers *b, int B, int K, size_t clip) {
    b->x = malloc((size_t)B * clip * sizeof(float));
    b->origin = malloc((size_t)B * clip * sizeof(float));
    b->grad = malloc((size_t)B * clip * sizeof(float));
    b->probs = malloc((size_t)B * K * sizeof(float));
    b->targets = malloc((size_t)B * K * sizeof(float));
    b->keys = malloc((size_t)B * sizeof(uint64_t));
    return b->x && b->origin && b->grad && b->probs && b->targets && b->keys;
}

/* Add clips[0..n) (standardised in b->x) to r as classified now. */
static void tally(sono_eval_result *r, const sono_feature_set *set, const int *clips, int n, const float *probs) {
    const int K = r->classes;
    for (int i = 0; i < n; i++) {
        const float *p = probs + (size_t)i * K;
        int label = set->labels[clips[i]], best = 0;
        for (int k = 1; k < K; k++)
            if (p[k] > p[best]) best = k;
        r->confusion[label * K + best]++;
        r->loss -= log(p[label] + 1e-12);
    }
}

/* One batch: clean, then each clip perturbed against its true class. */
static sono_status robust_batch(sono_classifier *c, const sono_feature_set *set, const sono_adversarial *attack,
                                const int *clips, int n, robust_buffers *b, sono_eval_result *clean,
                                sono_eval_result *robust, sono_error *err) {
    const int K = c->class_count, W = set->frames;
    const size_t clip = (size_t)set->n_mels * W;
    for (int i = 0; i < n; i++) {
        float *xi = b->x + (size_t)i * clip;
        memcpy(xi, set->features + (size_t)clips[i] * clip, clip * sizeof(float));
        sono_classifier_standardize(c, xi, W);
        memset(b->targets + (size_t)i * K, 0, (size_t)K * sizeof(float));
        b->targets[(size_t)i * K + set->labels[clips[i]]] = 1;
        b->keys[i] = sono_adv_eval_key(clips[i]);
    }
    sono_status s = sono_net_predict(c->net, b->x, n, b->probs, err);
    if (s == SONO_OK) tally(clean, set, clips, n, b->probs);
    if (s == SONO_OK) s = sono_adv_perturb_ws(c->net, attack, b->x, n, b->targets, b->keys, b->origin, b->grad, err);
    if (s == SONO_OK) s = sono_net_predict(c->net, b->x, n, b->probs, err);
    if (s == SONO_OK) tally(robust, set, clips, n, b->probs);
    return s;
}

/* Both results summed over the ranks (every rank takes part, even one that
 * failed), the mean loss, and the first error. */
static sono_status finish_results(sono_eval_result **results, sono_status s, sono_error *err) {
    for (int i = 0; i < 2; i++) {
        sono_eval_result *r = results[i];
        sono_error sum_err = {0};
        sono_status summed = r->confusion ? sum_over_ranks(r, &sum_err) : SONO_ERR_MEMORY;
        if (s == SONO_OK && summed != SONO_OK) {
            s = summed;
            if (err) *err = sum_err;
        }
        r->loss = r->count ? r->loss / r->count : NAN;
    }
    if (s == SONO_OK && results[0]->count == 0) s = sono_error_set(err, SONO_ERR_ARGUMENT, "no clips in the chosen folds");
    return s;
}

sono_status sono_evaluate_robust(sono_classifier *c, const sono_feature_set *set, sono_folds folds,
                                 const sono_adversarial *attack, sono_eval_result *clean, sono_eval_result *robust,
                                 sono_error *err) {
    sono_eval_result own_clean;
    if (!clean) clean = &own_clean;
    memset(clean, 0, sizeof *clean), memset(robust, 0, sizeof *robust);
    sono_status s = sono_check_compatible(c, set, "feature file", err);
    if (s == SONO_OK) s = sono_adversarial_check(attack, err);
    if (s != SONO_OK) return s;
    const int B = sono_net_max_batch(c->net), K = c->class_count;
    int n_clips = 0, *clips = clips_of_rank(set, folds, &n_clips);
    robust_buffers b = {0};
    clean->classes = robust->classes = K;
    clean->confusion = calloc((size_t)K * K, sizeof(int));
    robust->confusion = calloc((size_t)K * K, sizeof(int));
    if (!clips || !clean->confusion || !robust->confusion || !robust_buffers_alloc(&b, B, K, (size_t)set->n_mels * set->frames))
        s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int first = 0; s == SONO_OK && first < n_clips; first += B)
        s = robust_batch(c, set, attack, clips + first, n_clips - first < B ? n_clips - first : B, &b, clean, robust,
                         err);
    sono_eval_result *results[2] = {clean, robust};
    s = finish_results(results, s, err);
    robust_buffers_free(&b), free(clips);
    if (s != SONO_OK) sono_eval_result_free(robust);
    if (s != SONO_OK || clean == &own_clean) sono_eval_result_free(clean);
    return s;
}
