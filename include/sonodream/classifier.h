/* sonodream: a trained classifier = network + the exact feature configuration
 * it was trained on + class names + input standardisation, in one model file.
 *
 * The network sees standardised log-mel spectrograms: input (1, n_mels,
 * frames) with x = (dB - mean[band]) / std[band], mean and std per mel band
 * from the training set. classify and dream compute features from audio with
 * the stored configuration, so they see exactly what training saw. */
#ifndef SONODREAM_CLASSIFIER_H
#define SONODREAM_CLASSIFIER_H

#include <stdint.h>

#include "sonodream/dsp.h"
#include "sonodream/error.h"
#include "sonodream/nn.h"

#include "sonodream/export.h"

SONO_BEGIN_DECLS

typedef struct sono_classifier {
    sono_net *net;                /* input (1, n_mels, frames) */
    sono_feature_config features; /* how the training features were made */
    char **class_names;           /* (class_count) */
    int class_count;
    float *norm_mean;             /* (n_mels) dB */
    float *norm_std;              /* (n_mels) dB, > 0 */
    char *training_json;          /* training summary (JSON object text), may be NULL */
} sono_classifier;

/* Metadata keys the classifier adds to the model file (beside nn's). */
#define SONO_META_FEATURES "feature_config"
#define SONO_META_CLASSES "classes"
#define SONO_META_NORM_MEAN "norm_mean"
#define SONO_META_NORM_STD "norm_std"
#define SONO_META_TRAINING "training"

/* Build around an existing net (taken over: freed by sono_classifier_free).
 * Copies names and statistics. */
sono_status sono_classifier_new(sono_classifier **out, sono_net *net, const sono_feature_config *features,
                                char *const *class_names, int class_count, const float *norm_mean,
                                const float *norm_std, sono_error *err);
void sono_classifier_free(sono_classifier *c); /* NULL is a no-op. */

/* Save the model file atomically (the optimizer state too when opt != NULL:
 * a checkpoint). extra key/value metadata may be added (count may be 0). */
sono_status sono_classifier_save(const char *path, const sono_classifier *c, const sono_optim *opt,
                                 const char *const *keys, const char *const *values, int count,
                                 sono_error *err);

/* Load a model file (or checkpoint) with buffers for max_batch samples.
 * opt (may be NULL) receives the optimizer state or NULL. */
sono_status sono_classifier_load(const char *path, int max_batch, sono_classifier **out, sono_optim **opt,
                                 sono_error *err);

/* Index of a class by name, or -1. */
int sono_classifier_find_class(const sono_classifier *c, const char *name);

/* x (n_mels, frames) dB -> standardised, in place; and back. */
void sono_classifier_standardize(const sono_classifier *c, float *x, int frames);
void sono_classifier_unstandardize(const sono_classifier *c, float *x, int frames);

/* 1 when the feature configuration equals the model's; otherwise 0 and the
 * first difference in diff. */
int sono_classifier_features_match(const sono_classifier *c, const sono_feature_config *other, char *diff,
                                   int diff_size);

/* Class probabilities (class_count) for mono samples at the model's rate.
 * A clip longer than the model's window is classified window by window
 * (hop: half a window) and the probabilities averaged; a shorter one is
 * zero-padded as in prepare. *windows receives the window count (may be NULL). */
sono_status sono_classifier_classify_samples(sono_classifier *c, const float *samples, int64_t n,
                                             float *probs, int *windows, sono_error *err);

/* Load an audio file at the model's rate and classify it. */
sono_status sono_classifier_classify_file(sono_classifier *c, const char *path, float *probs, int *windows,
                                          sono_error *err);

SONO_END_DECLS
#endif
