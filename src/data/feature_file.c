/* The feature file: safetensors with features (N, mels, frames) F32, labels
 * (N) I32 and folds (N) I32, and a __metadata__ that says how they were made. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sonodream/data.h"
#include "sonodream/fileio.h"
#include "sonodream/safetensors.h"

static void free_strings(char **strings, int count) {
    if (!strings) return;
    for (int i = 0; i < count; i++) free(strings[i]);
    free(strings);
}

void sono_feature_set_free(sono_feature_set *set) {
    if (!set) return;
    if (set->mapping) {
        sono_st_mapping m = {set->features, set->mapping, set->mapping_bytes};
        sono_st_unmap(&m);
    } else {
        free(set->features);
    }
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

/* Describe a feature file of `count` clips to a safetensors writer: the
 * tensors (data borrowed; NULL when the caller writes the data itself) and
 * the metadata. */
static sono_status describe(sono_st_writer *w, const sono_feature_set *set, int count, char *const *sources,
                            const float *features, const int32_t *labels, const int32_t *folds, sono_error *err) {
    int64_t fshape[3] = {count, set->n_mels, set->frames}, nshape[1] = {count};
    char version[16];
    snprintf(version, sizeof version, "%d", SONO_FEATURE_FORMAT_VERSION);
    sono_status s = sono_st_writer_add(w, "features", SONO_DTYPE_F32, 3, fshape, features, err);
    if (s == SONO_OK) s = sono_st_writer_add(w, "labels", SONO_DTYPE_I32, 1, nshape, labels, err);
    if (s == SONO_OK) s = sono_st_writer_add(w, "folds", SONO_DTYPE_I32, 1, nshape, folds, err);
    if (s == SONO_OK) s = sono_st_writer_set_metadata(w, "format", SONO_FEATURE_FORMAT, err);
    if (s == SONO_OK) s = sono_st_writer_set_metadata(w, "format_version", version, err);
    if (s == SONO_OK)
        s = set_metadata_owned(w, "feature_config", sono_feature_config_to_json(&set->config), err);
    if (s == SONO_OK)
        s = set_metadata_owned(w, "classes", json_string_array(set->class_names, set->class_count), err);
    if (s == SONO_OK)
        s = set_metadata_owned(w, "folds", json_string_array(set->fold_names, set->fold_count), err);
    if (s == SONO_OK) s = set_metadata_owned(w, "sources", json_string_array(sources, count), err);
    if (s == SONO_OK) s = sono_st_writer_set_metadata(w, "layout", set->layout ? set->layout : "", err);
    if (s == SONO_OK) s = sono_st_writer_set_metadata(w, "created_by", "sonodream " SONO_VERSION, err);
    return s;
}

sono_status sono_feature_set_write(const sono_feature_set *set, const char *path, sono_error *err) {
    sono_st_writer *w = sono_st_writer_new();
    if (!w) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    sono_status s = describe(w, set, set->count, set->sources, set->features, set->labels, set->folds, err);
    if (s == SONO_OK) s = sono_st_writer_write(w, path, err);
    sono_st_writer_free(w);
    return s;
}

/* ---- writing clip by clip ---- */

struct sono_feature_writer {
    const sono_feature_set *meta;
    sono_atomic_file out;
    size_t reserved;      /* header bytes after the length, padded to 8 */
    size_t clip_bytes;
    int count, capacity;  /* clips added; meta->count */
    int32_t *labels, *folds;
    char **sources;
};

/* The header for `count` clips (JSON, unpadded; NULL on failure). */
static char *header_for(const sono_feature_writer *w, int count, char *const *sources, sono_error *err) {
    sono_st_writer *st = sono_st_writer_new();
    char *json = NULL;
    if (st && describe(st, w->meta, count, sources, NULL, NULL, NULL, err) == SONO_OK) json = sono_st_writer_header(st);
    if (!json && (!err || err->status == SONO_OK)) sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    sono_st_writer_free(st);
    return json;
}

static sono_status write_length_and_header(sono_feature_writer *w, const char *json, sono_error *err) {
    unsigned char len_bytes[8];
    for (int i = 0; i < 8; i++) len_bytes[i] = (unsigned char)(((uint64_t)w->reserved >> (8 * i)) & 0xff);
    sono_status s = sono_atomic_write(&w->out, len_bytes, 8, err);
    size_t len = json ? strlen(json) : 0;
    if (s == SONO_OK && json) s = sono_atomic_write(&w->out, json, len, err);
    char spaces[64];
    memset(spaces, ' ', sizeof spaces);
    for (size_t left = w->reserved - len; s == SONO_OK && left > 0;) {
        size_t n = left < sizeof spaces ? left : sizeof spaces;
        s = sono_atomic_write(&w->out, spaces, n, err);
        left -= n;
    }
    return s;
}

static void writer_free(sono_feature_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->count; i++) free(w->sources[i]);
    free(w->sources), free(w->labels), free(w->folds);
    free(w);
}

void sono_feature_writer_abort(sono_feature_writer *w) {
    if (!w) return;
    sono_atomic_abort(&w->out);
    writer_free(w);
}

sono_status sono_feature_writer_begin(sono_feature_writer **out, const char *path, const sono_feature_set *meta,
                                      sono_error *err) {
    *out = NULL;
    sono_feature_writer *w = calloc(1, sizeof *w);
    if (!w) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    w->meta = meta;
    w->capacity = meta->count;
    w->clip_bytes = (size_t)meta->n_mels * (size_t)meta->frames * sizeof(float);
    size_t n = (size_t)(meta->count > 0 ? meta->count : 1);
    w->labels = malloc(n * sizeof(int32_t));
    w->folds = malloc(n * sizeof(int32_t));
    w->sources = calloc(n, sizeof(char *));
    if (!w->labels || !w->folds || !w->sources) {
        writer_free(w);
        return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    }
    /* Room for the header of every clip: with fewer clips every number has
     * at most as many digits and the sources list is shorter. */
    char *json = header_for(w, meta->count, meta->sources, err);
    sono_status s = json ? SONO_OK : err ? err->status : SONO_ERR_MEMORY;
    if (s == SONO_OK) {
        w->reserved = (strlen(json) + 7) & ~(size_t)7;
        s = sono_atomic_begin(&w->out, path, 1, err);
    }
    free(json);
    if (s == SONO_OK) s = write_length_and_header(w, NULL, err); /* placeholder, rewritten on commit */
    if (s != SONO_OK) {
        sono_feature_writer_abort(w);
        return s;
    }
    *out = w;
    return SONO_OK;
}

sono_status sono_feature_writer_add(sono_feature_writer *w, const float *features, int32_t label, int32_t fold,
                                    const char *source, sono_error *err) {
    if (w->count >= w->capacity)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: more clips than the %d announced", w->out.final_path,
                              w->capacity);
    if (!(w->sources[w->count] = strdup(source ? source : "")))
        return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    w->labels[w->count] = label;
    w->folds[w->count] = fold;
    w->count++;
    return sono_atomic_write(&w->out, features, w->clip_bytes, err);
}

sono_status sono_feature_writer_commit(sono_feature_writer *w, sono_error *err) {
    sono_status s = sono_atomic_write(&w->out, w->labels, (size_t)w->count * sizeof(int32_t), err);
    if (s == SONO_OK) s = sono_atomic_write(&w->out, w->folds, (size_t)w->count * sizeof(int32_t), err);
    char *json = s == SONO_OK ? header_for(w, w->count, w->sources, err) : NULL;
    if (s == SONO_OK && !json) s = err ? err->status : SONO_ERR_MEMORY;
    if (s == SONO_OK && strlen(json) > w->reserved)
        s = sono_error_set(err, SONO_ERR_ARGUMENT, "%s: the header outgrew its reserved room", w->out.final_path);
    if (s == SONO_OK && (fflush(w->out.stream) != 0 || fseeko(w->out.stream, 0, SEEK_SET) != 0))
        s = sono_error_set(err, SONO_ERR_IO, "%s: cannot rewind to write the header", w->out.final_path);
    if (s == SONO_OK) s = write_length_and_header(w, json, err);
    free(json);
    if (s == SONO_OK) s = sono_atomic_commit(&w->out, err);
    if (s != SONO_OK) sono_atomic_abort(&w->out);
    writer_free(w);
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
    set->labels = malloc(n ? n * sizeof(int32_t) : 1);
    set->folds = malloc(n ? n * sizeof(int32_t) : 1);
    if (!set->labels || !set->folds)
        return sono_error_set(err, SONO_ERR_MEMORY, "%s: not enough memory for %zu clips", sono_st_path(f), n);
    /* The features are mapped, never read whole: train and eval touch one
     * clip at a time, so a file larger than memory works. */
    sono_st_mapping map;
    sono_status s = sono_st_map(f, sono_st_find(f, "features"), &map, err);
    if (s != SONO_OK) return s;
    set->features = (float *)map.data;
    set->mapping = map.base;
    set->mapping_bytes = map.length;
    s = sono_st_read(f, sono_st_find(f, "labels"), set->labels, n * sizeof(int32_t), err);
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
