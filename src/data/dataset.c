/* Dataset layouts: find every clip under a root folder with its label and fold. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data_internal.h"

const char *sono_layout_name(sono_layout layout) {
    switch (layout) {
    case SONO_LAYOUT_URBANSOUND8K: return "urbansound8k";
    case SONO_LAYOUT_CLASS_FOLDERS: return "class-folders";
    case SONO_LAYOUT_ESC50: return "esc50";
    case SONO_LAYOUT_SPEECH_COMMANDS: return "speech-commands";
    case SONO_LAYOUT_MANIFEST: return "manifest";
    default: return "auto";
    }
}

int sono_layout_parse(const char *text, sono_layout *out) {
    if (strcmp(text, "auto") == 0) *out = SONO_LAYOUT_AUTO;
    else if (strcmp(text, "urbansound8k") == 0 || strcmp(text, "us8k") == 0) *out = SONO_LAYOUT_URBANSOUND8K;
    else if (strcmp(text, "class-folders") == 0 || strcmp(text, "folders") == 0) *out = SONO_LAYOUT_CLASS_FOLDERS;
    else if (strcmp(text, "esc50") == 0 || strcmp(text, "esc-50") == 0) *out = SONO_LAYOUT_ESC50;
    else if (strcmp(text, "speech-commands") == 0) *out = SONO_LAYOUT_SPEECH_COMMANDS;
    else if (strcmp(text, "manifest") == 0) *out = SONO_LAYOUT_MANIFEST;
    else return 0;
    return 1;
}

/* ------------------------------------------------------------ UrbanSound8K */

static sono_status us8k_classes(sono_clip_list *list, const sono_us8k_row *rows, int count,
                                const sono_scan_options *opt, int *label_of_id, sono_error *err) {
    int max_id = -1;
    for (int i = 0; i < count; i++)
        if (rows[i].class_id > max_id) max_id = rows[i].class_id;
    const char **name_of_id = calloc((size_t)max_id + 1, sizeof *name_of_id);
    list->class_names = calloc((size_t)max_id + 1, sizeof *list->class_names);
    if (!name_of_id || !list->class_names) {
        free(name_of_id);
        return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    }
    for (int i = 0; i < count; i++) name_of_id[rows[i].class_id] = rows[i].class_name;
    for (int id = 0; id <= max_id; id++) {
        label_of_id[id] = -1;
        if (!name_of_id[id] || sono_data_is_excluded(opt, name_of_id[id])) continue;
        label_of_id[id] = list->class_count;
        list->class_names[list->class_count++] = strdup(name_of_id[id]);
    }
    free(name_of_id);
    for (int k = 0; k < opt->exclude_count; k++) {
        int found = 0;
        for (int i = 0; i < count && !found; i++) found = strcmp(rows[i].class_name, opt->exclude[k]) == 0;
        if (!found)
            return sono_error_set(err, SONO_ERR_ARGUMENT, "--exclude %s: no such class in the dataset",
                                  opt->exclude[k]);
    }
    if (list->class_count == 0)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "every class is excluded");
    return SONO_OK;
}

static sono_status us8k_fold_names(sono_clip_list *list, const sono_us8k_row *rows, int count,
                                   sono_error *err) {
    int max_fold = 0;
    for (int i = 0; i < count; i++)
        if (rows[i].fold > max_fold) max_fold = rows[i].fold;
    return sono_data_numbered_folds(list, max_fold, err);
}

static sono_status us8k_clips(sono_clip_list *list, const char *root, const sono_us8k_row *rows,
                              int count, const int *label_of_id, const sono_scan_options *opt,
                              sono_error *err) {
    int capacity = 0, missing_capacity = 0;
    for (int i = 0; i < count; i++) {
        int label = label_of_id[rows[i].class_id];
        if (label < 0) continue;
        size_t n = strlen(root) + strlen(rows[i].file) + 32;
        char *path = malloc(n);
        if (!path) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        snprintf(path, n, "%s/audio/fold%d/%s", root, rows[i].fold, rows[i].file);
        if (sono_data_is_regular_file(path)) {
            sono_status s = sono_data_add_clip(list, &capacity, path, label, rows[i].fold, err);
            if (s != SONO_OK) return s;
            continue;
        }
        sono_status s = sono_data_add_missing(list, &missing_capacity, path, err);
        if (s != SONO_OK) return s;
    }
    if (list->missing_count && !opt->skip_missing) {
        char *csv = sono_data_join_path(root, "metadata/UrbanSound8K.csv");
        sono_status s = csv ? sono_data_missing_error(list, csv, err) : sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        free(csv);
        return s;
    }
    return SONO_OK;
}

static sono_status scan_us8k(sono_clip_list *list, const char *root, const sono_scan_options *opt,
                             sono_error *err) {
    char *csv_path = sono_data_join_path(root, "metadata/UrbanSound8K.csv");
    char *text = NULL;
    size_t len = 0;
    sono_us8k_row *rows = NULL;
    int count = 0;
    int label_of_id[1000];
    if (!csv_path) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    sono_status s = sono_data_read_text(csv_path, &text, &len, err);
    if (s == SONO_OK) s = sono_us8k_parse_csv(text, len, csv_path, &rows, &count, err);
    if (s == SONO_OK) s = us8k_classes(list, rows, count, opt, label_of_id, err);
    if (s == SONO_OK) s = us8k_fold_names(list, rows, count, err);
    if (s == SONO_OK) s = us8k_clips(list, root, rows, count, label_of_id, opt, err);
    sono_us8k_rows_free(rows, count);
    free(text);
    free(csv_path);
    return s;
}

/* ----------------------------------------------------------- class folders */

/* TRAIN-/VALIDATE-/TEST- prefixes name the split; otherwise the hash does. */
static int split_fold(const char *file_name) {
    if (strncmp(file_name, "TRAIN-", 6) == 0) return 1;
    if (strncmp(file_name, "VALIDATE-", 9) == 0) return 2;
    if (strncmp(file_name, "TEST-", 5) == 0) return 3;
    return sono_data_hash_fold(file_name);
}

static sono_status add_class_folder(sono_clip_list *list, int *capacity, const char *class_dir,
                                    const char *class_name, sono_error *err) {
    char **files = NULL;
    int file_count = 0;
    sono_status s = sono_data_list_folder(class_dir, 0, &files, &file_count, err);
    if (s != SONO_OK) return s;
    if (file_count == 0) {
        sono_log(SONO_LOG_WARN, "%s: no audio files; class '%s' left out", class_dir, class_name);
        free(files);
        return SONO_OK;
    }
    int label = list->class_count;
    list->class_names[list->class_count++] = strdup(class_name);
    for (int i = 0; i < file_count && s == SONO_OK; i++) {
        char *path = sono_data_join_path(class_dir, files[i]);
        s = path ? sono_data_add_clip(list, capacity, path, label, split_fold(files[i]), err)
                 : sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    }
    sono_data_free_strings(files, file_count);
    return s;
}

static sono_status scan_class_folders(sono_clip_list *list, const char *root,
                                      const sono_scan_options *opt, sono_error *err) {
    char **classes = NULL;
    int class_count = 0, capacity = 0;
    sono_status s = sono_data_list_folder(root, 1, &classes, &class_count, err);
    if (s != SONO_OK) return s;
    list->class_names = calloc((size_t)(class_count ? class_count : 1), sizeof *list->class_names);
    if (!list->class_names) s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int k = 0; k < opt->exclude_count && s == SONO_OK; k++) {
        int found = 0;
        for (int i = 0; i < class_count; i++) found |= strcmp(classes[i], opt->exclude[k]) == 0;
        if (!found)
            s = sono_error_set(err, SONO_ERR_ARGUMENT, "--exclude %s: no such class folder in %s",
                               opt->exclude[k], root);
    }
    for (int i = 0; i < class_count && s == SONO_OK; i++) {
        if (sono_data_is_excluded(opt, classes[i])) continue;
        char *dir = sono_data_join_path(root, classes[i]);
        s = dir ? add_class_folder(list, &capacity, dir, classes[i], err)
                : sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        free(dir);
    }
    sono_data_free_strings(classes, class_count);
    if (s == SONO_OK && list->count == 0)
        s = sono_error_set(err, SONO_ERR_FORMAT,
                           "%s: no audio files found in class folders (expected %s/<class>/*.wav)", root,
                           root);
    if (s == SONO_OK) s = sono_data_split_fold_names(list, err);
    return s;
}

static int root_has(const char *root, const char *name) {
    char *path = sono_data_join_path(root, name);
    int yes = path && sono_data_is_regular_file(path);
    free(path);
    return yes;
}

static int is_table_name(const char *path) {
    const char *dot = strrchr(path, '.');
    return dot && (strcasecmp(dot, ".csv") == 0 || strcasecmp(dot, ".tsv") == 0);
}

/* A .csv or .tsv file is a manifest; metadata files name the other layouts;
 * class folders are what is left. */
static sono_layout detect_layout(const char *root) {
    if (is_table_name(root) && sono_data_is_regular_file(root)) return SONO_LAYOUT_MANIFEST;
    if (root_has(root, "metadata/UrbanSound8K.csv")) return SONO_LAYOUT_URBANSOUND8K;
    if (root_has(root, "meta/esc50.csv")) return SONO_LAYOUT_ESC50;
    if (root_has(root, "validation_list.txt") && root_has(root, "testing_list.txt")) return SONO_LAYOUT_SPEECH_COMMANDS;
    return SONO_LAYOUT_CLASS_FOLDERS;
}

static sono_status scan_layout(sono_clip_list *list, const char *root, const sono_scan_options *opt,
                               sono_error *err) {
    switch (list->layout) {
    case SONO_LAYOUT_URBANSOUND8K: return scan_us8k(list, root, opt, err);
    case SONO_LAYOUT_ESC50: return sono_scan_esc50(list, root, opt, err);
    case SONO_LAYOUT_SPEECH_COMMANDS: return sono_scan_speech_commands(list, root, opt, err);
    case SONO_LAYOUT_MANIFEST: return sono_scan_manifest(list, root, opt, err);
    default: return scan_class_folders(list, root, opt, err);
    }
}

sono_status sono_dataset_scan(const char *root, const sono_scan_options *opt, sono_clip_list **out,
                              sono_error *err) {
    *out = NULL;
    struct stat st;
    if (stat(root, &st) != 0) return sono_error_set(err, SONO_ERR_IO, "%s: %s", root, strerror(errno));
    sono_layout layout = opt->layout == SONO_LAYOUT_AUTO ? detect_layout(root) : opt->layout;
    if (layout == SONO_LAYOUT_MANIFEST ? !S_ISREG(st.st_mode) : !S_ISDIR(st.st_mode))
        return sono_error_set(err, SONO_ERR_IO, "%s: not a %s", root,
                              layout == SONO_LAYOUT_MANIFEST ? "file (expected a manifest CSV or TSV)"
                                                             : "folder (expected a dataset folder, or a "
                                                               "manifest .csv or .tsv)");
    /* Options of one layout given to another are mistakes, not no-ops. */
    if (opt->esc10 && layout != SONO_LAYOUT_ESC50)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "--esc10: %s is not an ESC-50 dataset (it reads as %s)", root,
                              sono_layout_name(layout));
    if ((opt->path_column || opt->label_column || opt->fold_column || opt->classes) && layout != SONO_LAYOUT_MANIFEST)
        return sono_error_set(err, SONO_ERR_ARGUMENT,
                              "--path-column, --label-column, --fold-column and --classes are for a manifest; %s "
                              "reads as %s",
                              root, sono_layout_name(layout));
    sono_clip_list *list = calloc(1, sizeof *list);
    if (!list) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    list->layout = layout;
    sono_status s = scan_layout(list, root, opt, err);
    if (s != SONO_OK) {
        sono_clip_list_free(list);
        return s;
    }
    *out = list;
    return SONO_OK;
}
