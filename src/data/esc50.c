/* The ESC-50 layout (and its ESC-10 subset): ROOT/meta/esc50.csv with the
 * columns filename, fold, target, category, esc10, src_file, take, and the
 * clips in ROOT/audio/. Classes are the categories in target order; folds
 * (1-5 in the published set) come from the CSV. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

#define ESC50_CSV "meta/esc50.csv"
#define ESC_MAX_TARGET 9999
#define ESC_MAX_FOLD 63

typedef struct esc_columns {
    int file, fold, target, category, esc10;
} esc_columns;

static sono_status find_columns(const sono_csv_table *t, const char *path, int need_esc10, esc_columns *c,
                                sono_error *err) {
    static const char *const names[] = {"filename", "fold", "target", "category", "esc10"};
    int *slots[] = {&c->file, &c->fold, &c->target, &c->category, &c->esc10};
    for (int k = 0; k < 5; k++) {
        *slots[k] = sono_csv_column(t, names[k]);
        if (*slots[k] < 0 && (k < 4 || need_esc10))
            return sono_error_set(err, SONO_ERR_FORMAT,
                                  "%s:1: column '%s' is missing (ESC-50's header names filename, fold, target, "
                                  "category%s)",
                                  path, names[k], need_esc10 ? " and esc10" : "");
    }
    return SONO_OK;
}

static int is_true(const char *text) { return strcmp(text, "True") == 0 || strcmp(text, "true") == 0 || strcmp(text, "1") == 0; }

/* Every row's fields are well formed; a target has one category and a
 * category one target (the line of the first disagreement is named). */
static sono_status check_rows(const sono_csv_table *t, const esc_columns *c, const char *path, int *targets,
                              int *folds, sono_error *err) {
    int *first_row = malloc((ESC_MAX_TARGET + 1) * sizeof *first_row);
    if (!first_row) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int i = 0; i <= ESC_MAX_TARGET; i++) first_row[i] = -1;
    sono_status s = SONO_OK;
    for (int r = 0; r < t->rows && s == SONO_OK; r++) {
        const char *file = sono_csv_cell(t, r, c->file), *category = sono_csv_cell(t, r, c->category);
        int line = t->lines[r];
        if (!file[0] || strchr(file, '/') || strcmp(file, "..") == 0 || strcmp(file, ".") == 0)
            s = sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: bad filename '%s' (a file name in audio/)", path, line,
                               file);
        else if (!sono_data_parse_int(sono_csv_cell(t, r, c->fold), 1, ESC_MAX_FOLD, &folds[r]))
            s = sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: fold '%s' is not a whole number in 1..%d", path, line,
                               sono_csv_cell(t, r, c->fold), ESC_MAX_FOLD);
        else if (!sono_data_parse_int(sono_csv_cell(t, r, c->target), 0, ESC_MAX_TARGET, &targets[r]))
            s = sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: target '%s' is not a whole number in 0..%d", path, line,
                               sono_csv_cell(t, r, c->target), ESC_MAX_TARGET);
        else if (!category[0])
            s = sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: empty category", path, line);
        if (s != SONO_OK) break;
        int j = first_row[targets[r]];
        if (j < 0) {
            first_row[targets[r]] = r;
            for (int other = 0; other <= ESC_MAX_TARGET && s == SONO_OK; other++) {
                int k = first_row[other];
                if (k >= 0 && other != targets[r] && strcmp(sono_csv_cell(t, k, c->category), category) == 0)
                    s = sono_error_set(err, SONO_ERR_FORMAT,
                                       "%s:%d: category '%s' has target %d here but target %d on line %d", path, line,
                                       category, targets[r], other, t->lines[k]);
            }
        } else if (strcmp(sono_csv_cell(t, j, c->category), category) != 0) {
            s = sono_error_set(err, SONO_ERR_FORMAT,
                               "%s:%d: target %d is category '%s' here but '%s' on line %d (target and category "
                               "disagree)",
                               path, line, targets[r], category, sono_csv_cell(t, j, c->category), t->lines[j]);
        }
    }
    free(first_row);
    return s;
}

/* Classes: the kept categories in target order; label_of_target maps. */
static sono_status make_classes(sono_clip_list *list, const sono_csv_table *t, const esc_columns *c,
                                const int *targets, const char *keep_row, int *label_of_target, sono_error *err) {
    const char **name_of_target = calloc(ESC_MAX_TARGET + 1, sizeof *name_of_target);
    if (!name_of_target) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int r = 0; r < t->rows; r++)
        if (keep_row[r]) name_of_target[targets[r]] = sono_csv_cell(t, r, c->category);
    int count = 0;
    for (int k = 0; k <= ESC_MAX_TARGET; k++) count += name_of_target[k] != NULL;
    list->class_names = calloc((size_t)(count ? count : 1), sizeof *list->class_names);
    sono_status s = list->class_names ? SONO_OK : sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int k = 0; k <= ESC_MAX_TARGET && s == SONO_OK; k++) {
        label_of_target[k] = -1;
        if (!name_of_target[k]) continue;
        label_of_target[k] = list->class_count;
        if (!(list->class_names[list->class_count++] = strdup(name_of_target[k])))
            s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    }
    free(name_of_target);
    if (s == SONO_OK && list->class_count == 0) s = sono_error_set(err, SONO_ERR_ARGUMENT, "every class is left out");
    return s;
}

/* Which rows stay: --esc10 and --exclude; what is left out is reported. */
static sono_status choose_rows(sono_clip_list *list, const sono_csv_table *t, const esc_columns *c,
                               const sono_scan_options *opt, const char *path, char *keep_row, sono_error *err) {
    int not_esc10 = 0, excluded = 0;
    for (int k = 0; k < opt->exclude_count; k++) {
        int found = 0;
        for (int r = 0; r < t->rows && !found; r++) found = strcmp(sono_csv_cell(t, r, c->category), opt->exclude[k]) == 0;
        if (!found)
            return sono_error_set(err, SONO_ERR_ARGUMENT, "--exclude %s: no such category in %s", opt->exclude[k], path);
    }
    for (int r = 0; r < t->rows; r++) {
        keep_row[r] = 1;
        if (opt->esc10 && !is_true(sono_csv_cell(t, r, c->esc10))) keep_row[r] = 0, not_esc10++;
        else if (sono_data_is_excluded(opt, sono_csv_cell(t, r, c->category))) keep_row[r] = 0, excluded++;
    }
    sono_status s = SONO_OK;
    if (not_esc10) s = sono_data_add_skipped(list, err, "%d clip(s) outside ESC-10 (--esc10)", not_esc10);
    if (s == SONO_OK && excluded) s = sono_data_add_skipped(list, err, "%d clip(s) of excluded categories", excluded);
    return s;
}

static sono_status add_clips(sono_clip_list *list, const char *root, const char *path, const sono_csv_table *t,
                             const esc_columns *c, const int *targets, const int *folds, const char *keep_row,
                             const int *label_of_target, const sono_scan_options *opt, sono_error *err) {
    int capacity = 0, missing_capacity = 0, max_fold = 0;
    sono_status s = SONO_OK;
    for (int r = 0; r < t->rows && s == SONO_OK; r++) {
        if (!keep_row[r]) continue;
        size_t n = strlen(root) + strlen(sono_csv_cell(t, r, c->file)) + 16;
        char *clip = malloc(n);
        if (!clip) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        snprintf(clip, n, "%s/audio/%s", root, sono_csv_cell(t, r, c->file));
        if (sono_data_is_regular_file(clip)) {
            s = sono_data_add_clip(list, &capacity, clip, label_of_target[targets[r]], folds[r], err);
            if (folds[r] > max_fold) max_fold = folds[r];
        } else {
            s = sono_data_add_missing(list, &missing_capacity, clip, err);
        }
    }
    if (s == SONO_OK && list->missing_count && !opt->skip_missing) return sono_data_missing_error(list, path, err);
    if (s == SONO_OK && list->count == 0) s = sono_error_set(err, SONO_ERR_FORMAT, "%s: no clips left to prepare", path);
    if (s == SONO_OK) s = sono_data_numbered_folds(list, max_fold, err);
    return s;
}

sono_status sono_scan_esc50(sono_clip_list *list, const char *root, const sono_scan_options *opt, sono_error *err) {
    char *path = sono_data_join_path(root, ESC50_CSV), *text = NULL, *keep_row = NULL;
    int *targets = NULL, *folds = NULL, *label_of_target = NULL;
    size_t len = 0;
    sono_csv_table *t = NULL;
    esc_columns c;
    if (!path) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    sono_status s = sono_data_read_text(path, &text, &len, err);
    if (s == SONO_OK) s = sono_csv_parse(text, len, path, ',', &t, err);
    if (s == SONO_OK) s = find_columns(t, path, opt->esc10, &c, err);
    if (s == SONO_OK) {
        targets = malloc((size_t)t->rows * sizeof *targets);
        folds = malloc((size_t)t->rows * sizeof *folds);
        keep_row = malloc((size_t)t->rows);
        label_of_target = malloc((ESC_MAX_TARGET + 1) * sizeof *label_of_target);
        if (!targets || !folds || !keep_row || !label_of_target) s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    }
    if (s == SONO_OK) s = check_rows(t, &c, path, targets, folds, err);
    if (s == SONO_OK) s = choose_rows(list, t, &c, opt, path, keep_row, err);
    if (s == SONO_OK) s = make_classes(list, t, &c, targets, keep_row, label_of_target, err);
    if (s == SONO_OK)
        s = add_clips(list, root, path, t, &c, targets, folds, keep_row, label_of_target, opt, err);
    sono_csv_free(t);
    free(text), free(path), free(targets), free(folds), free(keep_row), free(label_of_target);
    return s;
}
