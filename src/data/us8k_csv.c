/* The UrbanSound8K metadata CSV (metadata/UrbanSound8K.csv):
 *   slice_file_name,fsID,start,end,salience,fold,classID,class
 * Columns are found by name, so order and extra columns do not matter.
 * Fields follow RFC 4180 (quotes, doubled quotes inside quotes). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "sonodream/data.h"

#define US8K_MAX_FOLD 10
#define US8K_MAX_CLASS_ID 999
#define CSV_MAX_FIELDS 64

typedef struct csv_cursor {
    const char *p, *end;
    const char *path;
    int line;
} csv_cursor;

typedef struct csv_row {
    char *fields[CSV_MAX_FIELDS];
    int count;
} csv_row;

static void csv_row_clear(csv_row *row) {
    for (int i = 0; i < row->count; i++) free(row->fields[i]);
    row->count = 0;
}

/* Read one field; stops at ',' or end of line (not consumed). */
static sono_status csv_field(csv_cursor *c, char **out, sono_error *err) {
    size_t cap = 32, len = 0;
    char *buf = malloc(cap);
    if (!buf) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    int quoted = c->p < c->end && *c->p == '"';
    if (quoted) c->p++;
    for (;;) {
        if (c->p >= c->end) {
            if (quoted) {
                free(buf);
                return sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: unterminated quoted field", c->path,
                                      c->line);
            }
            break;
        }
        char ch = *c->p;
        if (quoted && ch == '"') {
            if (c->p + 1 < c->end && c->p[1] == '"') {
                c->p += 2;
            } else {
                c->p++;
                quoted = 0;
                continue;
            }
        } else if (!quoted && (ch == ',' || ch == '\n' || ch == '\r')) {
            break;
        } else if (ch == '\0') {
            free(buf);
            return sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: NUL byte in the file", c->path, c->line);
        } else {
            if (ch == '\n') c->line++;
            c->p++;
        }
        if (len + 2 > cap) {
            char *grown = realloc(buf, cap *= 2);
            if (!grown) {
                free(buf);
                return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
            }
            buf = grown;
        }
        buf[len++] = ch;
    }
    buf[len] = '\0';
    *out = buf;
    return SONO_OK;
}

/* Read one record into row; returns OK with row->count == 0 at the end. */
static sono_status csv_record(csv_cursor *c, csv_row *row, sono_error *err) {
    csv_row_clear(row);
    if (c->p >= c->end) return SONO_OK;
    for (;;) {
        if (row->count == CSV_MAX_FIELDS)
            return sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: more than %d fields", c->path, c->line,
                                  CSV_MAX_FIELDS);
        sono_status s = csv_field(c, &row->fields[row->count], err);
        if (s != SONO_OK) return s;
        row->count++;
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        break;
    }
    if (c->p < c->end && *c->p == '\r') c->p++;
    if (c->p < c->end && *c->p == '\n') c->p++;
    c->line++;
    return SONO_OK;
}

static int is_blank_record(const csv_row *row) {
    return row->count == 1 && row->fields[0][0] == '\0';
}

static int parse_int_field(const char *text, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end != '\0' || v < lo || v > hi) return 0;
    *out = (int)v;
    return 1;
}

typedef struct us8k_columns {
    int file, fold, class_id, class_name, count;
} us8k_columns;

static sono_status find_columns(const csv_row *header, const char *path, us8k_columns *cols,
                                sono_error *err) {
    static const char *const names[] = {"slice_file_name", "fold", "classID", "class"};
    int *slots[] = {&cols->file, &cols->fold, &cols->class_id, &cols->class_name};
    cols->count = header->count;
    for (int k = 0; k < 4; k++) {
        *slots[k] = -1;
        for (int i = 0; i < header->count; i++)
            if (strcmp(header->fields[i], names[k]) == 0) *slots[k] = i;
        if (*slots[k] < 0)
            return sono_error_set(err, SONO_ERR_FORMAT,
                                  "%s:1: column '%s' is missing (the header must name slice_file_name, "
                                  "fold, classID and class)",
                                  path, names[k]);
    }
    return SONO_OK;
}

static sono_status parse_row(const csv_row *row, const us8k_columns *cols, const char *path, int line,
                             sono_us8k_row *out, sono_error *err) {
    if (row->count != cols->count)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: %d fields, the header has %d", path, line,
                              row->count, cols->count);
    const char *file = row->fields[cols->file];
    const char *name = row->fields[cols->class_name];
    if (!file[0] || strchr(file, '/') || strcmp(file, "..") == 0)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: bad slice_file_name '%s'", path, line, file);
    if (!parse_int_field(row->fields[cols->fold], 1, US8K_MAX_FOLD, &out->fold))
        return sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: fold '%s' is not a number in 1..%d", path,
                              line, row->fields[cols->fold], US8K_MAX_FOLD);
    if (!parse_int_field(row->fields[cols->class_id], 0, US8K_MAX_CLASS_ID, &out->class_id))
        return sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: classID '%s' is not a number in 0..%d", path,
                              line, row->fields[cols->class_id], US8K_MAX_CLASS_ID);
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
    csv_cursor c = {text, text + len, path, 1};
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) c.p += 3; /* UTF-8 BOM */
    csv_row row = {0};
    us8k_columns cols;
    sono_us8k_row *rows = NULL;
    int count = 0, capacity = 0;
    sono_status s = csv_record(&c, &row, err);
    if (s == SONO_OK && (row.count == 0 || is_blank_record(&row)))
        s = sono_error_set(err, SONO_ERR_FORMAT, "%s: empty file (expected a header line)", path);
    if (s == SONO_OK) s = find_columns(&row, path, &cols, err);
    while (s == SONO_OK) {
        int line = c.line;
        s = csv_record(&c, &row, err);
        if (s != SONO_OK || row.count == 0) break;
        if (is_blank_record(&row)) continue;
        if (count == capacity) {
            capacity = capacity ? 2 * capacity : 1024;
            sono_us8k_row *grown = realloc(rows, (size_t)capacity * sizeof *grown);
            if (!grown) {
                s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
                break;
            }
            rows = grown;
        }
        memset(&rows[count], 0, sizeof rows[count]);
        s = parse_row(&row, &cols, path, line, &rows[count], err);
        count++;
    }
    csv_row_clear(&row);
    if (s == SONO_OK && count == 0)
        s = sono_error_set(err, SONO_ERR_FORMAT, "%s: no data rows after the header", path);
    if (s == SONO_OK) s = check_consistency(rows, count, path, err);
    if (s != SONO_OK) {
        sono_us8k_rows_free(rows, count);
        return s;
    }
    *rows_out = rows;
    *count_out = count;
    return SONO_OK;
}
