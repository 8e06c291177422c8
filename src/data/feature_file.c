/* The feature file: safetensors with features (N, mels, frames) F32, labels
 * (N) I32 and folds (N) I32, and a __metadata__ that says how they were made. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sonodream/data.h"
#include "sonodream/safetensors.h"

static void free_strings(char **strings, int count) {
    if (!strings) return;
    for (int i = 0; i < count; i++) free(strings[i]);
    free(strings);
}

void sono_feature_set_free(sono_feature_set *set) {
    if (!set) return;
    free(set->features);
    free(set->labels);
    free(set->folds);
    free_strings(set->class_names, set->class_count);
    free_strings(set->fold_names, set->fold_count);
    free_strings(set->sources, set->count);
    free(set->layout);
    free(set);
}

static char *json_string_array(char *const *strings, int count) {
    cJSON *array = cJSON_CreateArray();
    for (int i = 0; array && i < count; i++) cJSON_AddItemToArray(array, cJSON_CreateString(strings[i]));
    char *text = array ? cJSON_PrintUnformatted(array) : NULL;
    cJSON_Delete(array);
    return text;
}

static sono_status set_metadata_owned(sono_st_writer *w, const char *key, char *value, sono_error *err) {
    if (!value) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    sono_status s = sono_st_writer_set_metadata(w, key, value, err);
    free(value);
    return s;
}

sono_status sono_feature_set_write(const sono_feature_set *set, const char *path, sono_error *err) {
    sono_st_writer *w = sono_st_writer_new();
    if (!w) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    int64_t fshape[3] = {set->count, set->n_mels, set->frames}, nshape[1] = {set->count};
    char version[16];
    snprintf(version, sizeof version, "%d", SONO_FEATURE_FORMAT_VERSION);
    sono_status s = sono_st_writer_add(w, "features", SONO_DTYPE_F32, 3, fshape, set->features, err);
    if (s == SONO_OK) s = sono_st_writer_add(w, "labels", SONO_DTYPE_I32, 1, nshape, set->labels, err);
    if (s == SONO_OK) s = sono_st_writer_add(w, "folds", SONO_DTYPE_I32, 1, nshape, set->folds, err);
    if (s == SONO_OK) s = sono_st_writer_set_metadata(w, "format", SONO_FEATURE_FORMAT, err);
    if (s == SONO_OK) s = sono_st_writer_set_metadata(w, "format_version", version, err);
    if (s == SONO_OK)
        s = set_metadata_owned(w, "feature_config", sono_feature_config_to_json(&set->config), err);
    if (s == SONO_OK)
        s = set_metadata_owned(w, "classes", json_string_array(set->class_names, set->class_count), err);
    if (s == SONO_OK)
        s = set_metadata_owned(w, "folds", json_string_array(set->fold_names, set->fold_count), err);
    if (s == SONO_OK)
        s = set_metadata_owned(w, "sources", json_string_array(set->sources, set->count), err);
    if (s == SONO_OK) s = sono_st_writer_set_metadata(w, "layout", set->layout ? set->layout : "", err);
    if (s == SONO_OK) s = sono_st_writer_set_metadata(w, "created_by", "sonodream " SONO_VERSION, err);
    if (s == SONO_OK) s = sono_st_writer_write(w, path, err);
    sono_st_writer_free(w);
    return s;
}

/* Parse a metadata value that must be a JSON array of `expect` strings (any
 * length when expect < 0). */
static sono_status parse_string_array(const sono_st_file *f, const char *key, int expect, char ***out,
                                      int *count, sono_error *err) {
    const char *text = sono_st_metadata(f, key);
    cJSON *array = text ? cJSON_Parse(text) : NULL;
    sono_status s = SONO_OK;
    int n = cJSON_IsArray(array) ? cJSON_GetArraySize(array) : -1;
    if (n < 0 || (expect >= 0 && n != expect)) {
        s = sono_error_set(err, SONO_ERR_FORMAT, "%s: metadata '%s' is missing or not an array of %d strings",
                           sono_st_path(f), key, expect);
        goto done;
    }
    *out = calloc((size_t)(n ? n : 1), sizeof **out);
    if (!*out) {
        s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        goto done;
    }
    for (int i = 0; i < n; i++) {
        cJSON *item = cJSON_GetArrayItem(array, i);
        if (!cJSON_IsString(item) || !((*out)[i] = strdup(item->valuestring))) {
            s = sono_error_set(err, SONO_ERR_FORMAT, "%s: metadata '%s' item %d is not a string",
                               sono_st_path(f), key, i);
            break;
        }
    }
    *count = n;
done:
    cJSON_Delete(array);
    return s;
}

static sono_status check_format(const sono_st_file *f, sono_error *err) {
    const char *format = sono_st_metadata(f, "format");
    const char *version = sono_st_metadata(f, "format_version");
    if (!format || strcmp(format, SONO_FEATURE_FORMAT) != 0)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: not a sonodream feature file (format is '%s')",
                              sono_st_path(f), format ? format : "absent");
    char *end = NULL;
    long v = version ? strtol(version, &end, 10) : 0;
    if (!version || *end || v < 1)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: bad format_version", sono_st_path(f));
    if (v > SONO_FEATURE_FORMAT_VERSION)
        return sono_error_set(err, SONO_ERR_UNSUPPORTED,
                              "%s: feature file version %ld is newer than this sonodream reads (%d)",
                              sono_st_path(f), v, SONO_FEATURE_FORMAT_VERSION);
    return SONO_OK;
}

static sono_status read_header(const sono_st_file *f, sono_feature_set *set, sono_error *err) {
    sono_status s = check_format(f, err);
    if (s != SONO_OK) return s;
    const char *config = sono_st_metadata(f, "feature_config");
    if (!config)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: metadata 'feature_config' is missing", sono_st_path(f));
    s = sono_feature_config_from_json(config, &set->config, err);
    if (s != SONO_OK) {
        sono_error_prefix(err, "%s: ", sono_st_path(f));
        return s;
    }
    const sono_st_tensor *t;
    int64_t expect[3] = {-1, set->config.n_mels,
                         sono_feature_frames(&set->config, sono_feature_clip_samples(&set->config))};
    s = sono_st_expect(f, "features", SONO_DTYPE_F32, 3, expect, &t, err);
    if (s != SONO_OK) return s;
    if (t->shape[0] > 100000000)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: implausible clip count", sono_st_path(f));
    set->count = (int)t->shape[0];
    set->n_mels = (int)t->shape[1];
    set->frames = (int)t->shape[2];
    int64_t nshape[1] = {set->count};
    s = sono_st_expect(f, "labels", SONO_DTYPE_I32, 1, nshape, NULL, err);
    if (s == SONO_OK) s = sono_st_expect(f, "folds", SONO_DTYPE_I32, 1, nshape, NULL, err);
    if (s == SONO_OK) s = parse_string_array(f, "classes", -1, &set->class_names, &set->class_count, err);
    if (s == SONO_OK && set->class_count < 1)
        s = sono_error_set(err, SONO_ERR_FORMAT, "%s: no class names", sono_st_path(f));
    if (s == SONO_OK && sono_st_metadata(f, "folds"))
        s = parse_string_array(f, "folds", -1, &set->fold_names, &set->fold_count, err);
    if (s == SONO_OK) s = parse_string_array(f, "sources", set->count, &set->sources, &set->count, err);
    const char *layout = sono_st_metadata(f, "layout");
    if (s == SONO_OK && !(set->layout = strdup(layout ? layout : "")))
        s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    return s;
}

static sono_status read_tensors(const sono_st_file *f, sono_feature_set *set, sono_error *err) {
    size_t n = (size_t)set->count;
    size_t values = n * (size_t)set->n_mels * (size_t)set->frames;
    set->features = malloc(values ? values * sizeof(float) : 1);
    set->labels = malloc(n ? n * sizeof(int32_t) : 1);
    set->folds = malloc(n ? n * sizeof(int32_t) : 1);
    if (!set->features || !set->labels || !set->folds)
        return sono_error_set(err, SONO_ERR_MEMORY, "%s: not enough memory for %zu clips", sono_st_path(f), n);
    sono_status s = sono_st_read(f, sono_st_find(f, "features"), set->features, values * sizeof(float), err);
    if (s == SONO_OK) s = sono_st_read(f, sono_st_find(f, "labels"), set->labels, n * sizeof(int32_t), err);
    if (s == SONO_OK) s = sono_st_read(f, sono_st_find(f, "folds"), set->folds, n * sizeof(int32_t), err);
    for (size_t i = 0; s == SONO_OK && i < n; i++) {
        if (set->labels[i] < 0 || set->labels[i] >= set->class_count)
            s = sono_error_set(err, SONO_ERR_FORMAT, "%s: clip %zu has label %d, outside 0..%d",
                               sono_st_path(f), i, set->labels[i], set->class_count - 1);
        else if (set->folds[i] < 1)
            s = sono_error_set(err, SONO_ERR_FORMAT, "%s: clip %zu has fold %d (folds start at 1)",
                               sono_st_path(f), i, set->folds[i]);
    }
    return s;
}

static sono_status read_set(const char *path, int with_tensors, sono_feature_set **out, sono_error *err) {
    *out = NULL;
    sono_st_file *f = NULL;
    sono_status s = sono_st_open(&f, path, err);
    if (s != SONO_OK) return s;
    sono_feature_set *set = calloc(1, sizeof *set);
    if (!set) s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    if (s == SONO_OK) s = read_header(f, set, err);
    if (s == SONO_OK && with_tensors) s = read_tensors(f, set, err);
    sono_st_close(f);
    if (s != SONO_OK) {
        sono_feature_set_free(set);
        return s;
    }
    *out = set;
    return SONO_OK;
}

sono_status sono_feature_set_read(const char *path, sono_feature_set **out, sono_error *err) {
    return read_set(path, 1, out, err);
}

sono_status sono_feature_set_read_header(const char *path, sono_feature_set **out, sono_error *err) {
    return read_set(path, 0, out, err);
}
