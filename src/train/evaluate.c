/* Accuracy, loss and the confusion matrix of a classifier on feature folds. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "augment.h"
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

/* Shift i of n, evenly spaced in [-max_shift, max_shift]. */
static int shift_at(int i, int n, int max_shift) {
    return n <= 1 ? 0 : (int)lround(-max_shift + 2.0 * max_shift * i / (n - 1));
}

sono_status sono_evaluate_shifted(sono_classifier *c, const sono_feature_set *set, sono_folds folds, int shifts,
                                  int max_shift, sono_eval_result *result, sono_error *err) {
    memset(result, 0, sizeof *result);
    sono_status s = sono_check_compatible(c, set, "feature file", err);
    if (s != SONO_OK) return s;
    if (shifts < 1) shifts = 1;
    const int K = c->class_count, B = sono_net_max_batch(c->net), W = set->frames;
    const size_t clip = (size_t)set->n_mels * W;
    result->classes = K;
    result->confusion = calloc((size_t)K * K, sizeof(int));
    float *x = malloc((size_t)B * clip * sizeof(float)), *probs = malloc((size_t)B * K * sizeof(float));
    float *mean = malloc((size_t)B * K * sizeof(float)), *scratch = malloc((size_t)W * sizeof(float));
    int *index = malloc((size_t)B * sizeof(int));
    if (!result->confusion || !x || !probs || !mean || !scratch || !index)
        s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    double loss = 0;
    for (int i = 0; s == SONO_OK && i < set->count;) {
        int n = 0;
        for (; i < set->count && n < B; i++)
            if (!folds || sono_folds_has(folds, set->folds[i])) index[n++] = i;
        if (n == 0) break;
        memset(mean, 0, (size_t)n * K * sizeof(float));
        for (int t = 0; s == SONO_OK && t < shifts; t++) {
            for (int b = 0; b < n; b++) {
                float *xb = x + (size_t)b * clip;
                memcpy(xb, set->features + (size_t)index[b] * clip, clip * sizeof(float));
                sono_classifier_standardize(c, xb, W);
                sono_roll_time(xb, set->n_mels, W, shift_at(t, shifts, max_shift), scratch);
            }
            s = sono_net_predict(c->net, x, n, probs, err);
            for (int k = 0; s == SONO_OK && k < n * K; k++) mean[k] += probs[k] / shifts;
        }
        for (int b = 0; s == SONO_OK && b < n; b++) {
            const float *p = mean + (size_t)b * K;
            int label = set->labels[index[b]], best = 0;
            for (int k = 1; k < K; k++)
                if (p[k] > p[best]) best = k;
            result->confusion[label * K + best]++;
            result->correct += best == label;
            result->count++;
            loss -= log(p[label] + 1e-12);
        }
    }
    result->loss = result->count ? loss / result->count : NAN;
    free(x), free(probs), free(mean), free(scratch), free(index);
    if (s == SONO_OK && result->count == 0) s = sono_error_set(err, SONO_ERR_ARGUMENT, "no clips in the chosen folds");
    if (s != SONO_OK) sono_eval_result_free(result);
    return s;
}

sono_status sono_evaluate(sono_classifier *c, const sono_feature_set *set, sono_folds folds,
                          sono_eval_result *result, sono_error *err) {
    return sono_evaluate_shifted(c, set, folds, 1, 0, result, err);
}
