/* A trained classifier: network, feature configuration, classes and input
 * standardisation, saved together in one model file. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sonodream/audio.h"
#include "sonodream/classifier.h"
#include "sonodream/safetensors.h"

void sono_classifier_free(sono_classifier *c) {
    if (!c) return;
    sono_net_free(c->net);
    for (int i = 0; i < c->class_count; i++) free(c->class_names[i]);
    free(c->class_names);
    free(c->norm_mean);
    free(c->norm_std);
    free(c->training_json);
    free(c);
}

sono_status sono_classifier_new(sono_classifier **out, sono_net *net, const sono_feature_config *features,
                                char *const *class_names, int class_count, const float *norm_mean,
                                const float *norm_std, sono_error *err) {
    *out = NULL;
    sono_shape in = sono_net_input_shape(net);
    int frames = sono_feature_frames(features, sono_feature_clip_samples(features));
    if (in.c != 1 || in.h != features->n_mels || in.w != frames || sono_net_classes(net) != class_count)
        return sono_error_set(err, SONO_ERR_ARGUMENT,
                              "network input %dx%dx%d with %d classes does not fit features of %d mels x %d "
                              "frames with %d classes",
                              in.c, in.h, in.w, sono_net_classes(net), features->n_mels, frames, class_count);
    sono_classifier *c = calloc(1, sizeof *c);
    if (!c) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    c->features = *features;
    c->class_names = calloc((size_t)class_count, sizeof *c->class_names);
    c->norm_mean = malloc((size_t)features->n_mels * sizeof(float));
    c->norm_std = malloc((size_t)features->n_mels * sizeof(float));
    int ok = c->class_names && c->norm_mean && c->norm_std;
    for (int i = 0; ok && i < class_count; i++) ok = (c->class_names[i] = strdup(class_names[i])) != NULL;
    c->class_count = class_count;
    if (!ok) {
        sono_classifier_free(c);
        return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    }
    memcpy(c->norm_mean, norm_mean, (size_t)features->n_mels * sizeof(float));
    memcpy(c->norm_std, norm_std, (size_t)features->n_mels * sizeof(float));
    c->net = net;
    *out = c;
    return SONO_OK;
}

static char *float_array_json(const float *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
    char *text = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    return text;
}

static char *string_array_json(char *const *v, int n) {
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; a && i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(v[i]));
    char *text = a ? cJSON_PrintUnformatted(a) : NULL;
    cJSON_Delete(a);
    return text;
}

#define CLASSIFIER_KEYS 5
#define EXTRA_KEYS_MAX 32

sono_status sono_classifier_save(const char *path, const sono_classifier *c, const sono_optim *opt,
                                 const char *const *keys, const char *const *values, int count,
                                 sono_error *err) {
    if (count < 0 || count > EXTRA_KEYS_MAX)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: too many metadata entries", path);
    const char *all_keys[CLASSIFIER_KEYS + EXTRA_KEYS_MAX];
    char *owned[CLASSIFIER_KEYS] = {sono_feature_config_to_json(&c->features),
                                    string_array_json(c->class_names, c->class_count),
                                    float_array_json(c->norm_mean, c->features.n_mels),
                                    float_array_json(c->norm_std, c->features.n_mels),
                                    c->training_json ? strdup(c->training_json) : strdup("{}")};
    const char *all_values[CLASSIFIER_KEYS + EXTRA_KEYS_MAX];
    const char *names[CLASSIFIER_KEYS] = {SONO_META_FEATURES, SONO_META_CLASSES, SONO_META_NORM_MEAN,
                                          SONO_META_NORM_STD, SONO_META_TRAINING};
    sono_status s = SONO_OK;
    for (int i = 0; i < CLASSIFIER_KEYS; i++) {
        if (!owned[i]) s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        all_keys[i] = names[i];
        all_values[i] = owned[i];
    }
    for (int i = 0; i < count; i++) {
        all_keys[CLASSIFIER_KEYS + i] = keys[i];
        all_values[CLASSIFIER_KEYS + i] = values[i];
    }
    if (s == SONO_OK)
        s = sono_model_save(path, c->net, opt, all_keys, all_values, CLASSIFIER_KEYS + count, err);
    for (int i = 0; i < CLASSIFIER_KEYS; i++) free(owned[i]);
    return s;
}

/* A metadata JSON array of n numbers (n = expect) into out. */
static sono_status read_float_array(const sono_st_file *f, const char *key, int expect, float *out,
                                    sono_error *err) {
    const char *text = sono_st_metadata(f, key);
    cJSON *a = text ? cJSON_Parse(text) : NULL;
    sono_status s = SONO_OK;
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != expect)
        s = sono_error_set(err, SONO_ERR_FORMAT, "%s: metadata '%s' is missing or not an array of %d numbers",
                           sono_st_path(f), key, expect);
    for (int i = 0; s == SONO_OK && i < expect; i++) {
        cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble))
            s = sono_error_set(err, SONO_ERR_FORMAT, "%s: metadata '%s' item %d is not a finite number",
                               sono_st_path(f), key, i);
        else
            out[i] = (float)v->valuedouble;
    }
    cJSON_Delete(a);
    return s;
}

static sono_status read_class_names(const sono_st_file *f, sono_classifier *c, sono_error *err) {
    const char *text = sono_st_metadata(f, SONO_META_CLASSES);
    cJSON *a = text ? cJSON_Parse(text) : NULL;
    sono_status s = SONO_OK;
    int n = cJSON_IsArray(a) ? cJSON_GetArraySize(a) : 0;
    if (n < 1) s = sono_error_set(err, SONO_ERR_FORMAT, "%s: metadata 'classes' is missing or empty", sono_st_path(f));
    if (s == SONO_OK && !(c->class_names = calloc((size_t)(n > 0 ? n : 1), sizeof *c->class_names)))
        s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int i = 0; s == SONO_OK && i < n; i++) {
        cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsString(v) || !(c->class_names[i] = strdup(v->valuestring)))
            s = sono_error_set(err, SONO_ERR_FORMAT, "%s: class %d is not a string", sono_st_path(f), i);
        else
            c->class_count = i + 1;
    }
    cJSON_Delete(a);
    return s;
}

static sono_status read_metadata(const sono_st_file *f, sono_classifier *c, sono_error *err) {
    /* The format first, so a feature file or a foreign file is named as such. */
    const char *format = sono_st_metadata(f, "format");
    if (!format || strcmp(format, SONO_MODEL_FORMAT) != 0)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: not a sonodream model (format '%s', expected '%s')",
                              sono_st_path(f), format ? format : "none", SONO_MODEL_FORMAT);
    const char *features = sono_st_metadata(f, SONO_META_FEATURES);
    if (!features)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: not a sonodream classifier (no feature_config)",
                              sono_st_path(f));
    sono_status s = sono_feature_config_from_json(features, &c->features, err);
    if (s != SONO_OK) {
        sono_error_prefix(err, "%s: ", sono_st_path(f));
        return s;
    }
    s = read_class_names(f, c, err);
    if (s != SONO_OK) return s;
    int n_mels = c->features.n_mels;
    c->norm_mean = malloc((size_t)n_mels * sizeof(float));
    c->norm_std = malloc((size_t)n_mels * sizeof(float));
    if (!c->norm_mean || !c->norm_std) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    s = read_float_array(f, SONO_META_NORM_MEAN, n_mels, c->norm_mean, err);
    if (s == SONO_OK) s = read_float_array(f, SONO_META_NORM_STD, n_mels, c->norm_std, err);
    for (int i = 0; s == SONO_OK && i < n_mels; i++)
        if (!(c->norm_std[i] > 0))
            s = sono_error_set(err, SONO_ERR_FORMAT, "%s: norm_std[%d] is not positive", sono_st_path(f), i);
    const char *training = sono_st_metadata(f, SONO_META_TRAINING);
    if (s == SONO_OK && training && !(c->training_json = strdup(training)))
        s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    return s;
}

sono_status sono_classifier_load(const char *path, int max_batch, sono_classifier **out, sono_optim **opt,
                                 sono_error *err) {
    *out = NULL;
    if (opt) *opt = NULL;
    sono_st_file *f = NULL;
    sono_status s = sono_st_open(&f, path, err);
    if (s != SONO_OK) return s;
    sono_classifier *c = calloc(1, sizeof *c);
    if (!c) s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    if (s == SONO_OK) s = read_metadata(f, c, err);
    sono_st_close(f);
    if (s == SONO_OK) s = sono_model_load(path, max_batch, &c->net, opt, err);
    if (s == SONO_OK) {
        sono_shape in = sono_net_input_shape(c->net);
        int frames = sono_feature_frames(&c->features, sono_feature_clip_samples(&c->features));
        if (in.c != 1 || in.h != c->features.n_mels || in.w != frames || sono_net_classes(c->net) != c->class_count)
            s = sono_error_set(err, SONO_ERR_FORMAT,
                               "%s: the network (%dx%dx%d, %d classes) does not match its feature configuration "
                               "(%d mels x %d frames) and class list (%d)",
                               path, in.c, in.h, in.w, sono_net_classes(c->net), c->features.n_mels, frames,
                               c->class_count);
    }
    if (s != SONO_OK) {
        if (opt && *opt) {
            sono_optim_free(*opt);
            *opt = NULL;
        }
        sono_classifier_free(c);
        return s;
    }
    *out = c;
    return SONO_OK;
}

int sono_classifier_find_class(const sono_classifier *c, const char *name) {
    for (int i = 0; i < c->class_count; i++)
        if (strcmp(c->class_names[i], name) == 0) return i;
    return -1;
}

void sono_classifier_standardize(const sono_classifier *c, float *x, int frames) {
    for (int m = 0; m < c->features.n_mels; m++) {
        float mean = c->norm_mean[m], inv = 1.0f / c->norm_std[m];
        for (int t = 0; t < frames; t++) x[(size_t)m * frames + t] = (x[(size_t)m * frames + t] - mean) * inv;
    }
}

void sono_classifier_unstandardize(const sono_classifier *c, float *x, int frames) {
    for (int m = 0; m < c->features.n_mels; m++) {
        float mean = c->norm_mean[m], sd = c->norm_std[m];
        for (int t = 0; t < frames; t++) x[(size_t)m * frames + t] = x[(size_t)m * frames + t] * sd + mean;
    }
}

int sono_classifier_features_match(const sono_classifier *c, const sono_feature_config *other, char *diff,
                                   int diff_size) {
    return sono_feature_config_equal(&c->features, other, diff, diff_size);
}

sono_status sono_classifier_classify_samples(sono_classifier *c, const float *samples, int64_t n,
                                             float *probs, int *windows, sono_error *err) {
    const int64_t window = sono_feature_clip_samples(&c->features);
    const int64_t hop = window / 2 > 0 ? window / 2 : 1;
    const int frames = sono_feature_frames(&c->features, window);
    const size_t cells = (size_t)c->features.n_mels * (size_t)frames;
    int count = n <= window ? 1 : (int)((n - window + hop - 1) / hop) + 1;
    float *clip = malloc((size_t)window * sizeof(float)), *x = malloc(cells * sizeof(float));
    float *p = malloc((size_t)c->class_count * sizeof(float));
    sono_logmel *lm = NULL;
    sono_status made = sono_logmel_new(&c->features, &lm, err);
    sono_status s = clip && x && p ? SONO_OK : sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    if (s == SONO_OK) s = made;
    for (int k = 0; k < c->class_count; k++) probs[k] = 0;
    for (int w = 0; w < count && s == SONO_OK; w++) {
        int64_t start = (int64_t)w * hop;
        if (start + window > n && n > window) start = n - window; /* the last window ends at the end */
        sono_fix_length(samples + start, n - start, clip, window);
        s = sono_logmel_compute(lm, clip, window, x, err);
        if (s != SONO_OK) break;
        sono_classifier_standardize(c, x, frames);
        s = sono_net_predict(c->net, x, 1, p, err);
        for (int k = 0; s == SONO_OK && k < c->class_count; k++) probs[k] += p[k] / (float)count;
    }
    if (windows) *windows = count;
    sono_logmel_free(lm);
    free(clip), free(x), free(p);
    return s;
}

sono_status sono_classifier_classify_file(sono_classifier *c, const char *path, float *probs, int *windows,
                                          sono_error *err) {
    float *samples = NULL;
    int64_t n = 0;
    sono_status s = sono_audio_load(path, c->features.sample_rate, 0, &samples, &n, NULL, err);
    if (s == SONO_OK) s = sono_classifier_classify_samples(c, samples, n, probs, windows, err);
    free(samples);
    return s;
}
