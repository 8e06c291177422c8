/* The UrbanSound8K metadata CSV (metadata/UrbanSound8K.csv):
 *   slice_file_name,fsID,start,end,salience,fold,classID,class
 * Columns are found by name, so order and extra columns do not matter.
 * Fields follow RFC 4180 (quotes, doubled quotes inside quotes); the table
 * itself is read by csv_table.c. */
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

#define US8K_MAX_FOLD 10
#define US8K_MAX_CLASS_ID 999

typedef struct us8k_columns {
    int file, fold, class_id, class_name, count;
} us8k_columns;

static sono_status find_columns(const sono_csv_table *t, const char *path, us8k_columns *cols, sono_error *err) {
    static const char *const names[] = {"slice_file_name", "fold", "classID", "class"};
    int *slots[] = {&cols->file, &cols->fold, &cols->class_id, &cols->class_name};
    cols->count = t->columns;
    for (int k = 0; k < 4; k++) {
        *slots[k] = sono_csv_column(t, names[k]);
        if (*slots[k] < 0)
            return sono_error_set(err, SONO_ERR_FORMAT,
                                  "%s:1: column '%s' is missing (the header must name slice_file_name, "
                                  "fold, classID and class)",
                                  path, names[k]);
    }
    return SONO_OK;
}

static sono_status parse_row(const sono_csv_table *t, int r, const us8k_columns *cols, const char *path,
                             sono_us8k_row *out, sono_error *err) {
    const char *file = sono_csv_cell(t, r, cols->file), *name = sono_csv_cell(t, r, cols->class_name);
    const char *fold = sono_csv_cell(t, r, cols->fold), *class_id = sono_csv_cell(t, r, cols->class_id);
    int line = t->lines[r];
    if (!file[0] || strchr(file, '/') || strcmp(file, "..") == 0)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: bad slice_file_name '%s'", path, line, file);
    if (!sono_data_parse_int(fold, 1, US8K_MAX_FOLD, &out->fold))
        return sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: fold '%s' is not a number in 1..%d", path, line, fold,
                              US8K_MAX_FOLD);
    if (!sono_data_parse_int(class_id, 0, US8K_MAX_CLASS_ID, &out->class_id))
        return sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: classID '%s' is not a number in 0..%d", path, line,
                              class_id, US8K_MAX_CLASS_ID);
    if (!name[0]) return sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: empty class name", path, line);
    out->file = strdup(file);
    out->class_name = strdup(name);
    if (!out->file || !out->class_name)
        return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    return SONO_OK;
}

static int cmp_row_file(const void *a, const void *b) {
    return strcmp(((const sono_us8k_row *)a)->file, ((const sono_us8k_row *)b)->file);
}

/* Duplicate file names, and one classID with two names, are errors. */
static sono_status check_consistency(sono_us8k_row *rows, int count, const char *path,
                                     sono_error *err) {
    sono_us8k_row *sorted = malloc((size_t)(count ? count : 1) * sizeof *sorted);
    if (!sorted) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    memcpy(sorted, rows, (size_t)count * sizeof *sorted);
    qsort(sorted, (size_t)count, sizeof *sorted, cmp_row_file);
    sono_status s = SONO_OK;
    for (int i = 1; i < count && s == SONO_OK; i++)
        if (strcmp(sorted[i].file, sorted[i - 1].file) == 0)
            s = sono_error_set(err, SONO_ERR_FORMAT, "%s: '%s' is listed twice", path, sorted[i].file);
    free(sorted);
    int first_row[US8K_MAX_CLASS_ID + 1];
    for (int id = 0; id <= US8K_MAX_CLASS_ID; id++) first_row[id] = -1;
    for (int i = 0; i < count && s == SONO_OK; i++) {
        int j = first_row[rows[i].class_id];
        if (j < 0)
            first_row[rows[i].class_id] = i;
        else if (strcmp(rows[j].class_name, rows[i].class_name) != 0)
            s = sono_error_set(err, SONO_ERR_FORMAT, "%s: classID %d is named both '%s' and '%s'", path,
                               rows[i].class_id, rows[j].class_name, rows[i].class_name);
    }
    return s;
}

void sono_us8k_rows_free(sono_us8k_row *rows, int count) {
    if (!rows) return;
    for (int i = 0; i < count; i++) {
        free(rows[i].file);
        free(rows[i].class_name);
    }
    free(rows);
}

sono_status sono_us8k_parse_csv(const char *text, size_t len, const char *path, sono_us8k_row **rows_out,
                                int *count_out, sono_error *err) {
    *rows_out = NULL;
    *count_out = 0;
    sono_csv_table *t = NULL;
    us8k_columns cols;
    sono_us8k_row *rows = NULL;
    int n = 0;
    sono_status s = sono_csv_parse(text, len, path, ',', &t, err);
    if (s == SONO_OK) s = find_columns(t, path, &cols, err);
    if (s == SONO_OK && !(rows = calloc((size_t)(n = t->rows), sizeof *rows)))
        s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int r = 0; s == SONO_OK && r < n; r++) s = parse_row(t, r, &cols, path, &rows[r], err);
    sono_csv_free(t);
    if (s == SONO_OK) s = check_consistency(rows, n, path, err);
    if (s != SONO_OK) {
        sono_us8k_rows_free(rows, n);
        return s;
    }
    *rows_out = rows;
    *count_out = n;
    return SONO_OK;
}
