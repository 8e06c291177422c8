/* Files and strings for the dataset layouts: paths, folder listings,
 * whole metadata files. Below the clip list and every layout. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "data_internal.h"
#include "sonodream/fileio.h"

#define CSV_MAX_BYTES (64L * 1024 * 1024)

void sono_data_free_strings(char **strings, int count) {
    if (!strings) return;
    for (int i = 0; i < count; i++) free(strings[i]);
    free(strings);
}

char *sono_data_join_path(const char *a, const char *b) {
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s/%s", a, b);
    return p;
}

int sono_data_is_directory(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int sono_data_is_regular_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

sono_status sono_data_read_text(const char *path, char **text, size_t *len, sono_error *err) {
    long long size = 0;
    FILE *f;
    sono_status s = sono_open_input(path, &size, &f, err);
    if (s != SONO_OK) return s;
    if (size > CSV_MAX_BYTES) {
        fclose(f);
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: %lld bytes is more than a metadata file can be (%ld)",
                              path, size, CSV_MAX_BYTES);
    }
    *text = malloc((size_t)size + 1);
    if (!*text) {
        fclose(f);
        return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    }
    *len = fread(*text, 1, (size_t)size, f);
    fclose(f);
    if (*len != (size_t)size) {
        free(*text);
        return sono_error_set(err, SONO_ERR_IO, "%s: read failed", path);
    }
    (*text)[*len] = '\0';
    return SONO_OK;
}

int sono_data_has_audio_extension(const char *name) {
    static const char *const exts[] = {".wav", ".wave", ".flac", ".ogg", ".oga", ".mp3",
                                       ".aif", ".aiff", ".au",   ".caf", ".w64", ".opus"};
    const char *dot = strrchr(name, '.');
    if (!dot) return 0;
    for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
        if (strcasecmp(dot, exts[i]) == 0) return 1;
    return 0;
}

static int cmp_strings(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorted names of a folder's entries that pass `keep` (hidden entries skipped). */
static sono_status list_folder(const char *dir, int (*keep)(const char *dir, const char *name),
                               char ***names_out, int *count_out, sono_error *err) {
    DIR *d = opendir(dir);
    if (!d) return sono_error_set(err, SONO_ERR_IO, "%s: cannot open folder: %s", dir, strerror(errno));
    char **names = NULL;
    int count = 0, capacity = 0;
    sono_status s = SONO_OK;
    struct dirent *e;
    while (s == SONO_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.' || !keep(dir, e->d_name)) continue;
        if (count == capacity) {
            capacity = capacity ? 2 * capacity : 64;
            char **grown = realloc(names, (size_t)capacity * sizeof *grown);
            if (!grown) {
                s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
                break;
            }
            names = grown;
        }
        if (!(names[count] = strdup(e->d_name))) s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        else count++;
    }
    closedir(d);
    if (s != SONO_OK) {
        sono_data_free_strings(names, count);
        return s;
    }
    if (count > 1) qsort(names, (size_t)count, sizeof *names, cmp_strings);
    *names_out = names;
    *count_out = count;
    return SONO_OK;
}

static int keep_subfolder(const char *dir, const char *name) {
    char *p = sono_data_join_path(dir, name);
    int ok = p && sono_data_is_directory(p);
    free(p);
    return ok;
}

static int keep_audio_name(const char *dir, const char *name) {
    (void)dir;
    return sono_data_has_audio_extension(name);
}

sono_status sono_data_list_folder(const char *dir, int subfolders, char ***names, int *count, sono_error *err) {
    return list_folder(dir, subfolders ? keep_subfolder : keep_audio_name, names, count, err);
}
