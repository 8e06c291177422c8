/* A CSV or TSV table with a header line: the reader behind the ESC-50 and
 * manifest layouts. RFC 4180 quoting (a quoted field may hold the delimiter,
 * newlines and doubled quotes); rows are kept with their line numbers so
 * every later error can name the line. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

#define CSV_MAX_COLUMNS 1024

typedef struct cursor {
    const char *p, *end;
    const char *path;
    char delimiter;
    int line;
} cursor;

typedef struct growable {
    char *buf;
    size_t len, cap;
} growable;

static int grow_push(growable *g, char ch) {
    if (g->len + 2 > g->cap) {
        size_t cap = g->cap ? 2 * g->cap : 32;
        char *grown = realloc(g->buf, cap);
        if (!grown) return 0;
        g->buf = grown, g->cap = cap;
    }
    g->buf[g->len++] = ch;
    g->buf[g->len] = '\0';
    return 1;
}

/* One field; stops at the delimiter or the end of the line (not consumed). */
static sono_status read_field(cursor *c, char **out, sono_error *err) {
    growable g = {0};
    if (!grow_push(&g, 'x')) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    g.len = 0, g.buf[0] = '\0';
    int quoted = c->p < c->end && *c->p == '"';
    if (quoted) c->p++;
    while (c->p < c->end) {
        char ch = *c->p;
        if (ch == '\0') {
            free(g.buf);
            return sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: NUL byte in the file", c->path, c->line);
        }
        if (quoted && ch == '"') {
            if (c->p + 1 < c->end && c->p[1] == '"') {
                c->p++;
            } else {
                c->p++;
                quoted = 0;
                continue;
            }
        } else if (!quoted && (ch == c->delimiter || ch == '\n' || ch == '\r')) {
            break;
        } else if (ch == '\n') {
            c->line++;
        }
        c->p++;
        if (!grow_push(&g, ch)) {
            free(g.buf);
            return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        }
    }
    if (quoted) {
        free(g.buf);
        return sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: unterminated quoted field", c->path, c->line);
    }
    *out = g.buf;
    return SONO_OK;
}

typedef struct record {
    char **fields;
    int count, cap;
} record;

static void record_clear(record *r) {
    for (int i = 0; i < r->count; i++) free(r->fields[i]);
    r->count = 0;
}

/* One record; r->count == 0 at the end of the text. */
static sono_status read_record(cursor *c, record *r, sono_error *err) {
    record_clear(r);
    if (c->p >= c->end) return SONO_OK;
    for (;;) {
        if (r->count == CSV_MAX_COLUMNS)
            return sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: more than %d fields", c->path, c->line,
                                  CSV_MAX_COLUMNS);
        if (r->count == r->cap) {
            int cap = r->cap ? 2 * r->cap : 16;
            char **grown = realloc(r->fields, (size_t)cap * sizeof *grown);
            if (!grown) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
            r->fields = grown, r->cap = cap;
        }
        sono_status s = read_field(c, &r->fields[r->count], err);
        if (s != SONO_OK) return s;
        r->count++;
        if (c->p < c->end && *c->p == c->delimiter) {
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

static int is_blank(const record *r) { return r->count == 1 && r->fields[0][0] == '\0'; }

void sono_csv_free(sono_csv_table *t) {
    if (!t) return;
    sono_data_free_strings(t->header, t->columns);
    if (t->cells)
        for (size_t i = 0; i < (size_t)t->rows * t->columns; i++) free(t->cells[i]);
    free(t->cells);
    free(t->lines);
    free(t);
}

int sono_csv_column(const sono_csv_table *t, const char *name) {
    for (int i = 0; i < t->columns; i++)
        if (strcmp(t->header[i], name) == 0) return i;
    return -1;
}

/* Move a record's fields into the table (row-major), growing it. */
static sono_status append_row(sono_csv_table *t, record *r, int line, int *capacity, sono_error *err) {
    if (t->rows == *capacity) {
        int cap = *capacity ? 2 * *capacity : 256;
        char **cells = realloc(t->cells, (size_t)cap * t->columns * sizeof *cells);
        if (!cells) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        t->cells = cells;
        int *lines = realloc(t->lines, (size_t)cap * sizeof *lines);
        if (!lines) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        t->lines = lines;
        *capacity = cap;
    }
    memcpy(t->cells + (size_t)t->rows * t->columns, r->fields, (size_t)t->columns * sizeof *r->fields);
    t->lines[t->rows++] = line;
    r->count = 0; /* the table owns the fields now */
    return SONO_OK;
}

sono_status sono_csv_parse(const char *text, size_t len, const char *path, char delimiter,
                           sono_csv_table **out, sono_error *err) {
    *out = NULL;
    cursor c = {text, text + len, path, delimiter, 1};
    if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) c.p += 3; /* UTF-8 BOM */
    sono_csv_table *t = calloc(1, sizeof *t);
    record r = {0};
    int capacity = 0;
    if (!t) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    sono_status s = read_record(&c, &r, err);
    if (s == SONO_OK && (r.count == 0 || is_blank(&r)))
        s = sono_error_set(err, SONO_ERR_FORMAT, "%s: empty file (expected a header line)", path);
    if (s == SONO_OK) {
        t->header = r.fields, t->columns = r.count;
        r = (record){0};
        for (int i = 0; i < t->columns; i++)
            for (int j = 0; j < i && s == SONO_OK; j++)
                if (strcmp(t->header[i], t->header[j]) == 0)
                    s = sono_error_set(err, SONO_ERR_FORMAT, "%s:1: column '%s' appears twice in the header", path,
                                       t->header[i]);
    }
    while (s == SONO_OK) {
        int line = c.line;
        s = read_record(&c, &r, err);
        if (s != SONO_OK || r.count == 0) break;
        if (is_blank(&r)) continue;
        if (r.count != t->columns)
            s = sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: %d fields, the header has %d", path, line, r.count,
                               t->columns);
        else
            s = append_row(t, &r, line, &capacity, err);
    }
    record_clear(&r);
    free(r.fields);
    if (s == SONO_OK && t->rows == 0)
        s = sono_error_set(err, SONO_ERR_FORMAT, "%s: no data rows after the header", path);
    if (s != SONO_OK) {
        sono_csv_free(t);
        return s;
    }
    *out = t;
    return SONO_OK;
}

int sono_data_parse_int(const char *text, long lo, long hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end != '\0' || v < lo || v > hi || isspace((unsigned char)text[0]) ||
        text[0] == '+')
        return 0;
    *out = (int)v;
    return 1;
}
