/* The Speech Commands layout (v0.01 and v0.02): ROOT/<word>/<file>.wav and
 * ROOT/validation_list.txt and ROOT/testing_list.txt, one "word/file.wav"
 * per line. Clips the lists name are validation (fold 2) or test (fold 3);
 * every other clip is train (fold 1), as the dataset's README prescribes.
 * Folders whose name starts with '_' (_background_noise_) are not words. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data_internal.h"

typedef struct listed {
    const char *name; /* "word/file.wav", points into the list's text */
    int fold;         /* 2 or 3 */
    int line;
    const char *list; /* the list's file name */
    int used;
} listed;

static int cmp_listed(const void *a, const void *b) {
    return strcmp(((const listed *)a)->name, ((const listed *)b)->name);
}

/* "word/file.wav": one separator, no empty, "." or ".." part. */
static int is_clip_name(const char *name) {
    const char *slash = strchr(name, '/');
    if (!slash || slash == name || !slash[1] || strchr(slash + 1, '/')) return 0;
    if (name[0] == '.' || slash[1] == '.') return 0; /* ".", "..", hidden files */
    return 1;
}

/* Split a list's text into entries (in place: newlines become NULs). */
static sono_status parse_list(char *text, size_t len, const char *path, const char *list_name, int fold,
                              listed **entries, int *count, int *capacity, sono_error *err) {
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        int at = 1;
        for (const char *q = text; q < nul; q++) at += *q == '\n';
        return sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: NUL byte in the file", path, at);
    }
    int line = 0;
    for (char *p = text; p < text + len;) {
        char *end = memchr(p, '\n', (size_t)(text + len - p));
        if (!end) end = text + len;
        *end = '\0';
        line++;
        if (end > p && end[-1] == '\r') end[-1] = '\0';
        if (p[0]) {
            if (!is_clip_name(p))
                return sono_error_set(err, SONO_ERR_FORMAT, "%s:%d: '%s' is not a word/file.wav path", path, line, p);
            if (*count == *capacity) {
                int cap = *capacity ? 2 * *capacity : 4096;
                listed *grown = realloc(*entries, (size_t)cap * sizeof *grown);
                if (!grown) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
                *entries = grown, *capacity = cap;
            }
            (*entries)[(*count)++] = (listed){p, fold, line, list_name, 0};
        }
        p = end + 1;
    }
    return SONO_OK;
}

static sono_status read_lists(const char *root, char *texts[2], listed **entries, int *count, sono_error *err) {
    static const char *const names[] = {"validation_list.txt", "testing_list.txt"};
    int capacity = 0;
    sono_status s = SONO_OK;
    for (int k = 0; k < 2 && s == SONO_OK; k++) {
        char *path = sono_data_join_path(root, names[k]);
        size_t len = 0;
        s = path ? sono_data_read_text(path, &texts[k], &len, err) : sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        if (s == SONO_OK) s = parse_list(texts[k], len, path, names[k], k + 2, entries, count, &capacity, err);
        free(path);
    }
    if (s != SONO_OK) return s;
    qsort(*entries, (size_t)*count, sizeof **entries, cmp_listed);
    for (int i = 1; i < *count; i++)
        if (strcmp((*entries)[i].name, (*entries)[i - 1].name) == 0)
            return sono_error_set(err, SONO_ERR_FORMAT, "%s/%s:%d: '%s' is also listed in %s line %d", root,
                                  (*entries)[i].list, (*entries)[i].line, (*entries)[i].name, (*entries)[i - 1].list,
                                  (*entries)[i - 1].line);
    return SONO_OK;
}

/* Every listed file must be a clip of a word folder on disk; with
 * --skip-missing, those that are not (a subset of the dataset) are left out
 * and counted, as the other layouts do with the files their metadata names. */
static sono_status check_lists_used(sono_clip_list *list, const char *root, const listed *entries, int count,
                                    const sono_scan_options *opt, sono_error *err) {
    int missing_capacity = 0;
    for (int i = 0; i < count; i++) {
        if (entries[i].used) continue;
        char word[256];
        size_t n = (size_t)(strchr(entries[i].name, '/') - entries[i].name);
        snprintf(word, sizeof word, "%.*s", (int)(n < sizeof word ? n : sizeof word - 1), entries[i].name);
        if (sono_data_is_excluded(opt, word)) continue;
        if (!opt->skip_missing)
            return sono_error_set(err, SONO_ERR_FORMAT,
                                  "%s/%s:%d: '%s' is not an audio file of a word folder in %s (--skip-missing leaves "
                                  "such files out)",
                                  root, entries[i].list, entries[i].line, entries[i].name, root);
        char *path = sono_data_join_path(root, entries[i].name);
        sono_status s = path ? sono_data_add_missing(list, &missing_capacity, path, err)
                             : sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        if (s != SONO_OK) return s;
    }
    return SONO_OK;
}

static sono_status add_word(sono_clip_list *list, int *capacity, const char *root, const char *word, listed *entries,
                            int entry_count, sono_error *err) {
    char *dir = sono_data_join_path(root, word);
    char **files = NULL;
    int file_count = 0;
    if (!dir) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    sono_status s = sono_data_list_folder(dir, 0, &files, &file_count, err);
    if (s == SONO_OK && file_count == 0) {
        s = sono_data_add_skipped(list, err, "%s: no audio files, not a class", word);
        goto done;
    }
    int label = list->class_count;
    if (s == SONO_OK && !(list->class_names[list->class_count++] = strdup(word)))
        s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int i = 0; i < file_count && s == SONO_OK; i++) {
        char name[1024];
        snprintf(name, sizeof name, "%s/%s", word, files[i]);
        listed key = {.name = name};
        listed *hit = bsearch(&key, entries, (size_t)entry_count, sizeof *entries, cmp_listed);
        int fold = hit ? hit->fold : 1;
        if (hit) hit->used = 1;
        char *path = sono_data_join_path(dir, files[i]);
        s = path ? sono_data_add_clip(list, capacity, path, label, fold, err)
                 : sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    }
done:
    sono_data_free_strings(files, file_count);
    free(dir);
    return s;
}

sono_status sono_scan_speech_commands(sono_clip_list *list, const char *root, const sono_scan_options *opt,
                                      sono_error *err) {
    char *texts[2] = {NULL, NULL};
    listed *entries = NULL;
    int entry_count = 0, word_count = 0, capacity = 0;
    char **words = NULL;
    sono_status s = read_lists(root, texts, &entries, &entry_count, err);
    if (s == SONO_OK) s = sono_data_list_folder(root, 1, &words, &word_count, err);
    if (s == SONO_OK && !(list->class_names = calloc((size_t)(word_count ? word_count : 1), sizeof *list->class_names)))
        s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int k = 0; k < opt->exclude_count && s == SONO_OK; k++) {
        int found = 0;
        for (int i = 0; i < word_count; i++) found |= strcmp(words[i], opt->exclude[k]) == 0;
        if (!found) s = sono_error_set(err, SONO_ERR_ARGUMENT, "--exclude %s: no such word folder in %s", opt->exclude[k], root);
    }
    for (int i = 0; i < word_count && s == SONO_OK; i++) {
        if (words[i][0] == '_') s = sono_data_add_skipped(list, err, "%s: not a word (noise for augmentation)", words[i]);
        else if (sono_data_is_excluded(opt, words[i])) s = sono_data_add_skipped(list, err, "%s: excluded", words[i]);
        else s = add_word(list, &capacity, root, words[i], entries, entry_count, err);
    }
    if (s == SONO_OK) s = check_lists_used(list, root, entries, entry_count, opt, err);
    if (s == SONO_OK && list->count == 0)
        s = sono_error_set(err, SONO_ERR_FORMAT, "%s: no audio files in word folders", root);
    if (s == SONO_OK) s = sono_data_split_fold_names(list, err);
    sono_data_free_strings(words, word_count);
    free(entries), free(texts[0]), free(texts[1]);
    return s;
}
