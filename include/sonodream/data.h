/* sonodream: datasets as users have them, and the feature file.
 *
 * A scan turns a folder into a clip list (path, label, fold). Layouts:
 *  - UrbanSound8K: ROOT/metadata/UrbanSound8K.csv and ROOT/audio/foldN/FILE;
 *    label (classID) and fold come from the CSV.
 *  - ESC-50 / ESC-10: ROOT/meta/esc50.csv (filename, fold, target, category,
 *    esc10, ...) and ROOT/audio/FILE; classes are the categories in target
 *    order, folds come from the CSV; esc10 keeps the ESC-10 subset.
 *  - Speech Commands (v0.01, v0.02): ROOT/<word>/<file>.wav plus
 *    ROOT/validation_list.txt and ROOT/testing_list.txt; the lists give the
 *    validation (fold 2) and test (fold 3) clips, every other clip is train
 *    (fold 1); folders starting with '_' (_background_noise_) are not classes.
 *  - a manifest: a CSV or TSV file with a header; path, label and (optional)
 *    fold columns chosen by name; paths relative to the manifest's folder.
 *  - class folders: ROOT/<class>/<file>; a TRAIN-/VALIDATE-/TEST- file-name
 *    prefix gives the split (folds 1/2/3), otherwise a hash of the file name
 *    does (80/10/10 into folds 1/2/3).
 * Preparing decodes each clip, fixes its length and computes its log-mel
 * spectrogram; the result is one safetensors feature file. */
#ifndef SONODREAM_DATA_H
#define SONODREAM_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "sonodream/dsp.h"
#include "sonodream/error.h"

#include "sonodream/export.h"

SONO_BEGIN_DECLS

#define SONO_FEATURE_FORMAT "sonodream-features"
#define SONO_FEATURE_FORMAT_VERSION 1

typedef enum sono_layout {
    SONO_LAYOUT_AUTO = 0,
    SONO_LAYOUT_URBANSOUND8K,
    SONO_LAYOUT_CLASS_FOLDERS,
    SONO_LAYOUT_ESC50,
    SONO_LAYOUT_SPEECH_COMMANDS,
    SONO_LAYOUT_MANIFEST
} sono_layout;

/* "urbansound8k", "class-folders", "esc50", "speech-commands", "manifest". */
const char *sono_layout_name(sono_layout layout);
/* Parse "auto", "urbansound8k" (or "us8k"), "class-folders" (or "folders"),
 * "esc50", "speech-commands", "manifest". */
int sono_layout_parse(const char *text, sono_layout *out);

typedef struct sono_clip {
    char *path;  /* full path of the audio file */
    int label;   /* index into class_names */
    int fold;    /* >= 1 */
} sono_clip;

typedef struct sono_clip_list {
    sono_layout layout;
    sono_clip *clips;
    int count;
    char **class_names; /* in label order */
    int class_count;
    char **fold_names;  /* fold k is fold_names[k-1]: "fold1".. or "train","validate","test" */
    int fold_count;
    char **missing;     /* files the metadata names that are not on disk (with skip_missing) */
    int missing_count;
    char **skipped;     /* what the layout left out and why, one line each
                           ("_background_noise_: not a class") */
    int skipped_count;
} sono_clip_list;

typedef struct sono_scan_options {
    sono_layout layout;
    const char *const *exclude; /* class names to leave out; labels are renumbered */
    int exclude_count;
    int skip_missing;           /* files named by metadata (CSV, manifest) but absent are skipped */
    int esc10;                  /* ESC-50: keep the ESC-10 subset only */
    /* Manifest (layout SONO_LAYOUT_MANIFEST, or ROOT is a file): column names;
     * NULL: "path", "label", "fold". Without a fold column (and fold_column
     * NULL) a hash of the path splits 80/10/10 as for class folders. */
    const char *path_column, *label_column, *fold_column;
    const char *const *classes; /* manifest: the allowed labels, in class order
                                   (NULL: every label seen, sorted); another
                                   label is an error */
    int class_list_count;
} sono_scan_options;

/* Scan ROOT (a folder, or a manifest file). Fails with a message naming the
 * file (and line) and the problem. */
sono_status sono_dataset_scan(const char *root, const sono_scan_options *opt, sono_clip_list **out,
                              sono_error *err);
void sono_clip_list_free(sono_clip_list *list); /* NULL is a no-op. */

/* The UrbanSound8K metadata CSV alone (exposed for tests and fuzzing): rows of
 * slice_file_name, fold, classID, class (other columns ignored; any column
 * order; quoted fields, a UTF-8 BOM and CRLF accepted). */
typedef struct sono_us8k_row {
    char *file;
    int fold;
    int class_id;
    char *class_name;
} sono_us8k_row;

sono_status sono_us8k_parse_csv(const char *text, size_t len, const char *path, sono_us8k_row **rows,
                                int *count, sono_error *err);
void sono_us8k_rows_free(sono_us8k_row *rows, int count); /* NULL is a no-op. */

/* ---- the feature file ---- */

typedef struct sono_feature_set {
    sono_feature_config config;
    int count;            /* N clips */
    int n_mels, frames;
    float *features;      /* (N, n_mels, frames) log-mel dB; read from a file it is
                             the file mapped read-only (never copied whole: files
                             larger than memory work), so do not write to it */
    int32_t *labels;      /* (N) */
    int32_t *folds;       /* (N) */
    char **class_names;   /* (class_count) */
    int class_count;
    char **fold_names;    /* (fold_count), may be NULL */
    int fold_count;
    char **sources;       /* (N) source path of each clip */
    char *layout;         /* "urbansound8k", "class-folders" */
    void *mapping;        /* the read-only mapping behind features (NULL: malloc'd) */
    size_t mapping_bytes;
} sono_feature_set;

/* Write atomically as safetensors: tensors features, labels, folds;
 * __metadata__: format, format_version, feature_config (JSON), classes (JSON
 * array), folds (JSON array of names), sources (JSON array), layout. */
sono_status sono_feature_set_write(const sono_feature_set *set, const char *path, sono_error *err);

/* Read and validate everything (format and version, config, shapes agree,
 * labels and folds in range, metadata arrays of the right length). The
 * features are memory-mapped read-only, not read: memory use is that of the
 * labels, folds and metadata, whatever the size of the file. */
sono_status sono_feature_set_read(const char *path, sono_feature_set **out, sono_error *err);

/* Read the metadata only (features/labels/folds left NULL; count set). */
sono_status sono_feature_set_read_header(const char *path, sono_feature_set **out, sono_error *err);

void sono_feature_set_free(sono_feature_set *set); /* NULL is a no-op. */

/* A feature file written clip by clip, so the features never need to be in
 * memory together. `meta` gives the configuration, classes, fold names and
 * layout, `meta->count` the most clips that will be added and `meta->sources`
 * their paths (the header's room is reserved for all of them; its features
 * are not used). Clips not added leave trailing spaces in the header, which
 * safetensors allows. The file appears (atomically) on commit. */
typedef struct sono_feature_writer sono_feature_writer;
sono_status sono_feature_writer_begin(sono_feature_writer **out, const char *path, const sono_feature_set *meta,
                                      sono_error *err);
/* Append one clip: (n_mels, frames) features, its label, fold and source. */
sono_status sono_feature_writer_add(sono_feature_writer *w, const float *features, int32_t label, int32_t fold,
                                    const char *source, sono_error *err);
/* Write labels, folds and the header, flush and rename into place; frees w. */
sono_status sono_feature_writer_commit(sono_feature_writer *w, sono_error *err);
/* Delete the temporary file; frees w (NULL is fine). */
void sono_feature_writer_abort(sono_feature_writer *w);

/* ---- prepare ---- */

typedef void (*sono_progress_fn)(int64_t done, int64_t total, void *user);

typedef struct sono_prepare_options {
    sono_feature_config features;
    int drop_short;   /* keep only clips of the full length (within 10 ms) */
    int strict;       /* a bad audio file is fatal instead of skipped */
    int jobs;         /* OpenMP threads; <= 0: all cores */
    unsigned long long max_memory; /* bytes prepare's buffers may take (the
                                      features are written as they are made, so
                                      this bounds the clips in flight, not the
                                      dataset); 0: what the system has free
                                      (MemAvailable, capped by the cgroup limit
                                      and RLIMIT_AS) */
    sono_progress_fn progress;
    void *progress_user;
} sono_prepare_options;

typedef struct sono_skipped_clip {
    char *path;
    char *reason;
} sono_skipped_clip;

typedef struct sono_prepare_report {
    int written;
    int dropped_short;           /* left out by drop_short */
    sono_skipped_clip *skipped;  /* unreadable or corrupt files */
    int skipped_count;
    int *per_class_fold;         /* (class_count, fold_count) clip counts */
    int class_count, fold_count;
    double seconds;
} sono_prepare_report;

/* Decode, fix the length and compute features for every clip in `list` on
 * all cores, writing `out_path` (atomically) as they are made, in list order.
 * Memory is bounded by the workers, not the dataset: a chunk of at most 16
 * clips per thread in flight plus one decode buffer per thread. Refuses up
 * front, with the size it would need, when even one clip per thread would not
 * fit in opt->max_memory.
 * Under MPI (sono_dist_size() > 1) every rank must call this with the same
 * list: each chunk's clips are split across the ranks, rank 0 gathers and
 * writes them, and the file is byte for byte the one a single process writes.
 * The report is filled on rank 0 only. */
sono_status sono_prepare(const sono_clip_list *list, const sono_prepare_options *opt,
                         const char *out_path, sono_prepare_report *report, sono_error *err);
void sono_prepare_report_free(sono_prepare_report *report); /* NULL is a no-op. */

SONO_END_DECLS
#endif
