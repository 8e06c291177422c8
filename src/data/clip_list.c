/* The clip list every layout fills: clips, files the metadata names but the
 * disk lacks, what was skipped and why, fold names. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

#define MISSING_LISTED 20
#define SKIPPED_MAX 10000

void sono_clip_list_free(sono_clip_list *list) {
    if (!list) return;
    for (int i = 0; i < list->count; i++) free(list->clips[i].path);
    free(list->clips);
    sono_data_free_strings(list->class_names, list->class_count);
    sono_data_free_strings(list->fold_names, list->fold_count);
    sono_data_free_strings(list->missing, list->missing_count);
    sono_data_free_strings(list->skipped, list->skipped_count);
    free(list);
}

int sono_data_is_excluded(const sono_scan_options *opt, const char *name) {
    for (int i = 0; i < opt->exclude_count; i++)
        if (strcmp(opt->exclude[i], name) == 0) return 1;
    return 0;
}

/* Append to a growable array of clips. */
sono_status sono_data_add_clip(sono_clip_list *list, int *capacity, char *path, int label, int fold,
                            sono_error *err) {
    if (list->count == *capacity) {
        int cap = *capacity ? 2 * *capacity : 1024;
        sono_clip *grown = realloc(list->clips, (size_t)cap * sizeof *grown);
        if (!grown) {
            free(path);
            return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        }
        list->clips = grown;
        *capacity = cap;
    }
    list->clips[list->count++] = (sono_clip){path, label, fold};
    return SONO_OK;
}

sono_status sono_data_add_missing(sono_clip_list *list, int *capacity, char *path, sono_error *err) {
    if (list->missing_count == *capacity) {
        int cap = *capacity ? 2 * *capacity : 64;
        char **grown = realloc(list->missing, (size_t)cap * sizeof *grown);
        if (!grown) {
            free(path);
            return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        }
        list->missing = grown;
        *capacity = cap;
    }
    list->missing[list->missing_count++] = path;
    return SONO_OK;
}

sono_status sono_data_missing_error(const sono_clip_list *list, const char *metadata, sono_error *err) {
    char listing[700] = "";
    size_t used = 0;
    for (int i = 0; i < list->missing_count && i < MISSING_LISTED; i++) {
        int n = snprintf(listing + used, sizeof listing - used, "\n  %s", list->missing[i]);
        if (n < 0 || (size_t)n >= sizeof listing - used) break;
        used += (size_t)n;
    }
    return sono_error_set(err, SONO_ERR_IO, "%s: %d file(s) it names are missing (--skip-missing leaves them out):%s%s",
                          metadata, list->missing_count, listing, list->missing_count > MISSING_LISTED ? "\n  ..." : "");
}

sono_status sono_data_add_skipped(sono_clip_list *list, sono_error *err, const char *fmt, ...) {
    if (list->skipped_count >= SKIPPED_MAX) return SONO_OK; /* the count in the summary says the rest */
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    char **grown = realloc(list->skipped, (size_t)(list->skipped_count + 1) * sizeof *grown);
    if (!grown) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    list->skipped = grown;
    if (!(list->skipped[list->skipped_count] = strdup(line))) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    list->skipped_count++;
    return SONO_OK;
}

sono_status sono_data_numbered_folds(sono_clip_list *list, int fold_count, sono_error *err) {
    list->fold_names = calloc((size_t)(fold_count ? fold_count : 1), sizeof *list->fold_names);
    if (!list->fold_names) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int k = 0; k < fold_count; k++) {
        char name[16];
        snprintf(name, sizeof name, "fold%d", k + 1);
        if (!(list->fold_names[k] = strdup(name))) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        list->fold_count++;
    }
    return SONO_OK;
}

sono_status sono_data_split_fold_names(sono_clip_list *list, sono_error *err) {
    static const char *const split_names[] = {"train", "validate", "test"};
    if (!(list->fold_names = calloc(3, sizeof *list->fold_names)))
        return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int k = 0; k < 3; k++) {
        if (!(list->fold_names[k] = strdup(split_names[k]))) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        list->fold_count++;
    }
    return SONO_OK;
}

/* A stable hash of a name (FNV-1a) puts 80 % in train (1) and 10 % in each
 * of validate (2) and test (3). */
int sono_data_hash_fold(const char *file_name) {
    uint32_t h = 2166136261u;
    for (const unsigned char *p = (const unsigned char *)file_name; *p; p++) h = (h ^ *p) * 16777619u;
    unsigned bucket = h % 10u;
    return bucket < 8 ? 1 : bucket == 8 ? 2 : 3;
}
