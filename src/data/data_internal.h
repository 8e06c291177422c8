/* Private to src/data: what the dataset layouts share. From the bottom up:
 * files and strings (data_util.c), the CSV/TSV table and its numbers
 * (csv_table.c), the clip list the layouts fill (clip_list.c), and the
 * layouts themselves (esc50.c, speech_commands.c, manifest.c; UrbanSound8K
 * and class folders in dataset.c, which detects the layout and dispatches).
 * Each file calls only files listed before it. Not part of the public API. */
#ifndef SONO_DATA_INTERNAL_H
#define SONO_DATA_INTERNAL_H

#include <stddef.h>

#include "sonodream/data.h"

/* ---- files and strings (data_util.c) ---- */

/* "a/b" (malloc'd; NULL when out of memory). */
char *sono_data_join_path(const char *a, const char *b);
int sono_data_is_directory(const char *path);
int sono_data_is_regular_file(const char *path);
int sono_data_has_audio_extension(const char *name);
void sono_data_free_strings(char **strings, int count);
/* Sorted names of a folder's subfolders (subfolders = 1) or audio files (0);
 * hidden entries skipped. */
sono_status sono_data_list_folder(const char *dir, int subfolders, char ***names, int *count, sono_error *err);
/* A whole metadata file, NUL-terminated (at most 64 MiB). */
sono_status sono_data_read_text(const char *path, char **text, size_t *len, sono_error *err);

/* ---- the clip list (clip_list.c) ---- */

/* Whether opt->exclude names `name`. */
int sono_data_is_excluded(const sono_scan_options *opt, const char *name);

/* Append a clip (takes ownership of path, also on failure). */
sono_status sono_data_add_clip(sono_clip_list *list, int *capacity, char *path, int label, int fold,
                               sono_error *err);
/* Record a file the metadata names but the disk lacks (takes ownership). */
sono_status sono_data_add_missing(sono_clip_list *list, int *capacity, char *path, sono_error *err);
/* The error for list->missing: names `metadata` and lists the first files. */
sono_status sono_data_missing_error(const sono_clip_list *list, const char *metadata, sono_error *err);
/* Record what a layout left out and why ("_background_noise_: not a class"). */
sono_status sono_data_add_skipped(sono_clip_list *list, sono_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Fold names "fold1".."foldN". */
sono_status sono_data_numbered_folds(sono_clip_list *list, int fold_count, sono_error *err);
/* 80/10/10 into folds 1/2/3 by a stable hash of the name. */
int sono_data_hash_fold(const char *name);
/* Fold names "train", "validate", "test". */
sono_status sono_data_split_fold_names(sono_clip_list *list, sono_error *err);

/* ---- a CSV or TSV table with a header line, RFC 4180 quoting (csv_table.c) ---- */

typedef struct sono_csv_table {
    int columns;
    char **header;  /* (columns) */
    int rows;
    char **cells;   /* (rows, columns) */
    int *lines;     /* (rows) line number of each row in the file (1 = header) */
} sono_csv_table;

/* Parse `text`; `delimiter` is ',' or '\t'. Every row must have the header's
 * field count; blank lines are skipped; a UTF-8 BOM and CRLF are accepted.
 * Errors name `path` and the line. */
sono_status sono_csv_parse(const char *text, size_t len, const char *path, char delimiter,
                           sono_csv_table **out, sono_error *err);
void sono_csv_free(sono_csv_table *table);
/* Index of the column named `name`, or -1. */
int sono_csv_column(const sono_csv_table *table, const char *name);
static inline const char *sono_csv_cell(const sono_csv_table *t, int row, int column) {
    return t->cells[(size_t)row * t->columns + column];
}
/* A whole-number field in lo..hi: decimal digits after an optional '-',
 * nothing else (no '+', no spaces, no trailing text). Every layout's CSV
 * (UrbanSound8K, ESC-50, manifests) reads its numbers with this one rule. */
int sono_data_parse_int(const char *text, long lo, long hi, int *out);

/* ---- the layouts (dataset.c dispatches) ---- */
sono_status sono_scan_esc50(sono_clip_list *list, const char *root, const sono_scan_options *opt,
                            sono_error *err);
sono_status sono_scan_speech_commands(sono_clip_list *list, const char *root, const sono_scan_options *opt,
                                      sono_error *err);
sono_status sono_scan_manifest(sono_clip_list *list, const char *manifest, const sono_scan_options *opt,
                               sono_error *err);

#endif
