/* sonodream info FILE [--json]: what a feature file, model or audio file holds. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sonodream/audio.h"
#include "sonodream/data.h"
#include "sonodream/safetensors.h"

static void info_usage(FILE *out) {
    fprintf(out,
            "usage: sonodream info FILE [--json]\n\n"
            "Describe a feature file (clips, classes, folds, feature configuration), a model\n"
            "or checkpoint (its metadata and tensors), or an audio file (format, rate,\n"
            "channels, duration).\n\n"
            "options:\n"
            "      --json   one JSON object on stdout, for scripts\n"
            "  -h, --help   this help\n");
}

static void print_json(cJSON *root) {
    char *text = cJSON_Print(root);
    if (text) puts(text);
    free(text);
}

static cJSON *class_fold_counts(const sono_feature_set *set, int **per_class, int **per_fold, int *max_fold) {
    *max_fold = 0;
    for (int i = 0; i < set->count; i++)
        if (set->folds[i] > *max_fold) *max_fold = set->folds[i];
    *per_class = calloc((size_t)set->class_count, sizeof(int));
    *per_fold = calloc((size_t)*max_fold + 1, sizeof(int));
    if (!*per_class || !*per_fold) return NULL;
    for (int i = 0; i < set->count; i++) {
        (*per_class)[set->labels[i]]++;
        (*per_fold)[set->folds[i]]++;
    }
    return NULL;
}

static const char *fold_name(const sono_feature_set *set, int fold, char *buf, size_t n) {
    if (set->fold_names && fold >= 1 && fold <= set->fold_count) return set->fold_names[fold - 1];
    snprintf(buf, n, "fold%d", fold);
    return buf;
}

static int info_features(const char *path, int json) {
    sono_error err = {0};
    sono_feature_set *set = NULL;
    if (sono_feature_set_read(path, &set, &err) != SONO_OK) return cli_fail(&err);
    int *per_class = NULL, *per_fold = NULL, max_fold = 0;
    class_fold_counts(set, &per_class, &per_fold, &max_fold);
    char *config = sono_feature_config_to_json(&set->config);
    char buf[32];
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "kind", "features");
        cJSON_AddStringToObject(root, "path", path);
        cJSON_AddNumberToObject(root, "clips", set->count);
        cJSON_AddStringToObject(root, "layout", set->layout);
        cJSON *shape = cJSON_AddArrayToObject(root, "feature_shape");
        cJSON_AddItemToArray(shape, cJSON_CreateNumber(set->n_mels));
        cJSON_AddItemToArray(shape, cJSON_CreateNumber(set->frames));
        cJSON *classes = cJSON_AddObjectToObject(root, "classes");
        for (int c = 0; c < set->class_count; c++) cJSON_AddNumberToObject(classes, set->class_names[c], per_class[c]);
        cJSON *folds = cJSON_AddObjectToObject(root, "folds");
        for (int f = 1; f <= max_fold; f++)
            if (per_fold[f]) cJSON_AddNumberToObject(folds, fold_name(set, f, buf, sizeof buf), per_fold[f]);
        cJSON_AddItemToObject(root, "feature_config", cJSON_Parse(config));
        print_json(root);
        cJSON_Delete(root);
    } else {
        printf("%s: sonodream feature file\n", path);
        printf("  clips:    %d (%s layout), each %d mels x %d frames\n", set->count, set->layout, set->n_mels,
               set->frames);
        printf("  classes:  %d\n", set->class_count);
        for (int c = 0; c < set->class_count; c++) printf("    %2d %-22s %6d clips\n", c, set->class_names[c], per_class[c]);
        printf("  folds:\n");
        for (int f = 1; f <= max_fold; f++)
            if (per_fold[f]) printf("    %2d %-22s %6d clips\n", f, fold_name(set, f, buf, sizeof buf), per_fold[f]);
        printf("  features: %s\n", config);
    }
    free(config);
    free(per_class);
    free(per_fold);
    sono_feature_set_free(set);
    return 0;
}

/* Models and checkpoints (and foreign safetensors): metadata and tensors. */
static int info_safetensors(sono_st_file *f, const char *path, int json) {
    const char *format = sono_st_metadata(f, "format");
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "kind", format ? format : "safetensors");
        cJSON_AddStringToObject(root, "path", path);
        cJSON *meta = cJSON_AddObjectToObject(root, "metadata");
        for (int i = 0; i < sono_st_metadata_count(f); i++) {
            const char *key = sono_st_metadata_key_at(f, i), *value = sono_st_metadata(f, key);
            cJSON *parsed = cJSON_Parse(value);
            cJSON_AddItemToObject(meta, key, parsed && !cJSON_IsString(parsed) ? parsed : cJSON_CreateString(value));
            if (parsed && cJSON_IsString(parsed)) cJSON_Delete(parsed);
        }
        cJSON *tensors = cJSON_AddObjectToObject(root, "tensors");
        for (int i = 0; i < sono_st_tensor_count(f); i++) {
            const sono_st_tensor *t = sono_st_tensor_at(f, i);
            cJSON *shape = cJSON_CreateArray();
            for (int d = 0; d < t->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
            cJSON_AddItemToObject(tensors, t->name, shape);
        }
        print_json(root);
        cJSON_Delete(root);
        return 0;
    }
    printf("%s: %s\n", path, format ? format : "safetensors file (not made by sonodream)");
    for (int i = 0; i < sono_st_metadata_count(f); i++) {
        const char *key = sono_st_metadata_key_at(f, i), *value = sono_st_metadata(f, key);
        printf("  %-16s %.*s%s\n", key, 200, value, strlen(value) > 200 ? " ..." : "");
    }
    printf("  tensors:\n");
    for (int i = 0; i < sono_st_tensor_count(f); i++) {
        const sono_st_tensor *t = sono_st_tensor_at(f, i);
        printf("    %-24s %s [", t->name, sono_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++) printf("%s%lld", d ? ", " : "", (long long)t->shape[d]);
        printf("]\n");
    }
    return 0;
}

static int info_audio(const char *path, int json) {
    sono_error err = {0};
    sono_audio_info ai;
    if (sono_audio_probe(path, &ai, &err) != SONO_OK) return cli_fail(&err);
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "kind", "audio");
        cJSON_AddStringToObject(root, "path", path);
        cJSON_AddStringToObject(root, "format", ai.format);
        cJSON_AddStringToObject(root, "encoding", ai.encoding);
        cJSON_AddNumberToObject(root, "sample_rate", ai.sample_rate);
        cJSON_AddNumberToObject(root, "channels", ai.channels);
        cJSON_AddNumberToObject(root, "frames", (double)ai.frames);
        cJSON_AddNumberToObject(root, "seconds", ai.seconds);
        print_json(root);
        cJSON_Delete(root);
    } else {
        printf("%s: audio, %s, %s\n", path, ai.format, ai.encoding);
        printf("  %d Hz, %d channel(s), %lld frames, %.3f s\n", ai.sample_rate, ai.channels,
               (long long)ai.frames, ai.seconds);
    }
    return 0;
}

int cmd_info(int argc, char **argv) {
    static const struct option longopts[] = {
        {"json", no_argument, 0, 'J'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int json = 0, opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt == 'h') {
            info_usage(stdout);
            return 0;
        }
        if (opt != 'J') {
            info_usage(stderr);
            return 2;
        }
        json = 1;
    }
    if (optind + 1 != argc) {
        info_usage(stderr);
        return 2;
    }
    const char *path = argv[optind];
    sono_error err = {0};
    sono_st_file *f = NULL;
    if (sono_st_open(&f, path, &err) == SONO_OK) {
        const char *format = sono_st_metadata(f, "format");
        int is_features = format && strcmp(format, SONO_FEATURE_FORMAT) == 0;
        int code = is_features ? 0 : info_safetensors(f, path, json);
        sono_st_close(f);
        return is_features ? info_features(path, json) : code;
    }
    sono_audio_info ai;
    sono_error audio_err = {0};
    if (sono_audio_probe(path, &ai, &audio_err) == SONO_OK) return info_audio(path, json);
    return cli_failf("%s: neither a readable safetensors file (%s) nor audio (%s)", path, err.message,
                     audio_err.message);
}
