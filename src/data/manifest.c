/* A manifest: a CSV or TSV file with a header line naming the columns. The
 * path, label and fold columns are chosen by name; paths are relative to the
 * manifest's folder and may not leave it. Any number of folds (1..63). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "data_internal.h"

#define MANIFEST_MAX_FOLD 63

typedef struct manifest_columns {
    int path, label, fold; /* fold -1: none (hash split) */
} manifest_columns;

/* Tab for .tsv files, or when the header has tabs and no commas. */
static char choose_delimiter(const char *path, const char *text) {
    const char *dot = strrchr(path, '.');
    if (dot && strcasecmp(dot, ".tsv") == 0) return '\t';
    const char *eol = strchr(text, '\n');
    size_t n = eol ? (size_t)(eol - text) : strlen(text);
    return memchr(text, '\t', n) && !memchr(text, ',', n) ? '\t' : ',';
}

static sono_status find_columns(const sono_csv_table *t, const char *path, const sono_scan_options *opt,
                                manifest_columns *c, sono_error *err) {
    const char *names[3] = {opt->path_column ? opt->path_column : "path",
                            opt->label_column ? opt->label_column : "label",
                            opt->fold_column ? opt->fold_column : "fold"};
    static const char *const options[3] = {"--path-column", "--label-column", "--fold-column"};
    int *slots[3] = {&c->path, &c->label, &c->fold};
    for (int k = 0; k < 3; k++) {
        *slots[k] = sono_csv_column(t, names[k]);
        if (*slots[k] >= 0 || (k == 2 && !opt->fold_column)) continue;
        char header[300] = "";
        size_t used = 0;
        for (int i = 0; i < t->columns && used + 4 < sizeof header; i++) {
            int n = snprintf(header + used, sizeof header - used, "%s%s", i ? ", " : "", t->header[i]);
            if (n < 0) break;
            used += (size_t)n;
        }
        return sono_error_set(err, SONO_ERR_FORMAT, "%s:1: no column named '%s' (%s; the header has: %s)", path,
                              names[k], options[k], header);
    }
    return SONO_OK;
}

/* A relative path that never climbs above its starting folder. */
static int stays_inside(const char *rel) {
    if (!rel[0] || rel[0] == '/') return 0;
    int depth = 0;
    for (const char *p = rel; *p;) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (--depth < 0) return 0;
        } else if (n > 0 && !(n == 1 && p[0] == '.')) {
            depth++;
        }
        p += n;
        if (*p == '/') p++;
    }
    return depth > 0;
}

static int cmp_strings(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int find_class(const sono_clip_list *list, const char *label) {
    for (int k = 0; k < list->class_count; k++)
        if (strcmp(list->class_names[k], label) == 0) return k;
    return -1;
}

/* Classes: --classes in its order, or every label seen, sorted. */
static sono_status make_classes(sono_clip_list *list, const sono_csv_table *t, int label_col,
                                const sono_scan_options *opt, sono_error *err) {
    int n = opt->classes ? opt->class_list_count : t->rows;
    char **names = calloc((size_t)(n ? n : 1), sizeof *names);
    if (!names) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    int count = 0;
    for (int i = 0; i < n; i++) {
        const char *name = opt->classes ? opt->classes[i] : sono_csv_cell(t, i, label_col);
        if (!name[0] || sono_data_is_excluded(opt, name)) continue;
        int seen = 0;
        for (int k = 0; k < count && !seen; k++) seen = strcmp(names[k], name) == 0;
        if (seen && opt->classes) {
            sono_data_free_strings(names, count);
            return sono_error_set(err, SONO_ERR_ARGUMENT, "--classes: '%s' is listed twice", name);
        }
        if (!seen && !(names[count++] = strdup(name))) {
            sono_data_free_strings(names, count - 1);
            return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        }
    }
    if (!opt->classes && count > 1) qsort(names, (size_t)count, sizeof *names, cmp_strings);
    list->class_names = names;
    list->class_count = count;
    return SONO_OK; /* no class at all: the rows say why (empty labels, all excluded) */
}

/* One row to a clip (or a missing file); excluded labels are counted. */
static sono_status add_row(sono_clip_list *list, const sono_csv_table *t, int r, const manifest_columns *c,
                           const char *path, const char *dir, const sono_scan_options *opt, int *capacity,
                           int *missing_capacity, int *excluded, int *max_fold, sono_error *err) {
    const char *rel = sono_csv_cell(t, r, c->path), *label = sono_csv_cell(t, r, c->label);
    int line = t->lines[r], fold = 0;
    if (!stays_inside(rel))
        return sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: path '%s' is not a file inside the manifest's folder %s",
                              path, line, rel, dir);
    if (!label[0]) return sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: empty label", path, line);
    if (c->fold >= 0 && !sono_data_parse_int(sono_csv_cell(t, r, c->fold), 1, MANIFEST_MAX_FOLD, &fold))
        return sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: fold '%s' is not a whole number in 1..%d", path, line,
                              sono_csv_cell(t, r, c->fold), MANIFEST_MAX_FOLD);
    if (c->fold < 0) fold = sono_data_hash_fold(rel);
    if (sono_data_is_excluded(opt, label)) {
        (*excluded)++;
        return SONO_OK;
    }
    int k = find_class(list, label);
    if (k < 0)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: unknown label '%s' (not one of --classes)", path, line,
                              label);
    char *clip = sono_data_join_path(dir, rel);
    if (!clip) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    if (fold > *max_fold) *max_fold = fold;
    return sono_data_is_regular_file(clip) ? sono_data_add_clip(list, capacity, clip, k, fold, err)
                                           : sono_data_add_missing(list, missing_capacity, clip, err);
}

/* The same path on two lines is an error naming both. */
static sono_status check_duplicates(const sono_csv_table *t, int path_col, const char *path, sono_error *err) {
    int *order = malloc((size_t)t->rows * sizeof *order);
    if (!order) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    char **keys = malloc((size_t)t->rows * sizeof *keys);
    if (!keys) {
        free(order);
        return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    }
    for (int r = 0; r < t->rows; r++) keys[r] = (char *)sono_csv_cell(t, r, path_col);
    qsort(keys, (size_t)t->rows, sizeof *keys, cmp_strings);
    sono_status s = SONO_OK;
    for (int r = 1; r < t->rows && s == SONO_OK; r++) {
        if (strcmp(keys[r], keys[r - 1]) != 0) continue;
        int lines[2], found = 0;
        for (int i = 0; i < t->rows && found < 2; i++)
            if (strcmp(sono_csv_cell(t, i, path_col), keys[r]) == 0) lines[found++] = t->lines[i];
        s = sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: '%s' is listed twice (also on line %d)", path, lines[1],
                           keys[r], lines[0]);
    }
    free(keys), free(order);
    return s;
}

static sono_status add_rows(sono_clip_list *list, const sono_csv_table *t, const manifest_columns *c,
                            const char *path, const char *dir, const sono_scan_options *opt, sono_error *err) {
    int capacity = 0, missing_capacity = 0, excluded = 0, max_fold = 0;
    sono_status s = check_duplicates(t, c->path, path, err);
    for (int r = 0; r < t->rows && s == SONO_OK; r++)
        s = add_row(list, t, r, c, path, dir, opt, &capacity, &missing_capacity, &excluded, &max_fold, err);
    if (s == SONO_OK && excluded) s = sono_data_add_skipped(list, err, "%d clip(s) of excluded labels", excluded);
    if (s == SONO_OK && list->missing_count && !opt->skip_missing) return sono_data_missing_error(list, path, err);
    if (s == SONO_OK && list->count == 0) return sono_error_set(err, SONO_ERR_FORMAT, "%s: no clips left to prepare", path);
    if (s != SONO_OK) return s;
    if (c->fold >= 0) return sono_data_numbered_folds(list, max_fold, err);
    sono_log(SONO_LOG_INFO, "%s: no '%s' column; a hash of each path splits the clips 80/10/10 into train, validate "
                            "and test", path, opt->fold_column ? opt->fold_column : "fold");
    return sono_data_split_fold_names(list, err);
}

sono_status sono_scan_manifest(sono_clip_list *list, const char *manifest, const sono_scan_options *opt,
                               sono_error *err) {
    char *text = NULL, *dir = strdup(manifest);
    size_t len = 0;
    sono_csv_table *t = NULL;
    manifest_columns c;
    if (!dir) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    char *slash = strrchr(dir, '/');
    if (slash == dir) slash[1] = '\0';
    else if (slash) *slash = '\0';
    else strcpy(dir, ".");
    sono_status s = sono_data_read_text(manifest, &text, &len, err);
    if (s == SONO_OK) s = sono_csv_parse(text, len, manifest, choose_delimiter(manifest, text), &t, err);
    if (s == SONO_OK) s = find_columns(t, manifest, opt, &c, err);
    for (int k = 0; k < opt->exclude_count && s == SONO_OK; k++) {
        int found = 0;
        for (int r = 0; r < t->rows && !found; r++) found = strcmp(sono_csv_cell(t, r, c.label), opt->exclude[k]) == 0;
        if (!found) s = sono_error_set(err, SONO_ERR_ARGUMENT, "--exclude %s: no such label in %s", opt->exclude[k], manifest);
    }
    if (s == SONO_OK) s = make_classes(list, t, c.label, opt, err);
    if (s == SONO_OK) s = add_rows(list, t, &c, manifest, dir, opt, err);
    sono_csv_free(t);
    free(text), free(dir);
    return s;
}
