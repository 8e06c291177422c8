/* A feature file larger than the memory the process may take: train and eval
 * read it through a read-only mapping, one clip at a time.
 *
 * The limit is RLIMIT_DATA (ulimit -d): since Linux 4.7 it counts the heap
 * and every private writable mapping (malloc'd memory, however it is
 * allocated) but not read-only file mappings, so it is exactly "memory of
 * our own"; a copy of the features cannot be made under it (checked below),
 * the page cache behind the mapping is the kernel's to drop. RLIMIT_AS would
 * count the mapping itself. 512 MiB leaves room for OpenBLAS's 128 MiB
 * buffer; the file is 1 GiB, written sparse (every 8th clip holds values,
 * the rest is a hole that reads as zeros) so the test writes little. */
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "check.h"
#include "sonodream/classifier.h"
#include "sonodream/safetensors.h"

#define LIMIT_BYTES (512ull << 20)
#define CLIPS 16384 /* x 128 x 126 x 4 bytes = 1.06 GB */
#define MELS 128

static float value(int clip, int band, int frame) {
    return clip % 8 ? 0.0f : -80.0f + 0.5f * band + (float)((clip / 8 + frame) % 5);
}

static int fold_of(int clip) { return clip % 4 == 0 ? 2 : 1; }

/* The file by hand: header, a hole for the features with every 8th clip
 * written, labels, folds. */
static unsigned long long write_sparse_features(const char *path, int frames) {
    sono_feature_config cfg;
    sono_feature_config_default(&cfg);
    int64_t fshape[3] = {CLIPS, MELS, frames}, nshape[1] = {CLIPS};
    sono_st_writer *w = sono_st_writer_new();
    sono_error err = {0};
    CHECK_OK(sono_st_writer_add(w, "features", SONO_DTYPE_F32, 3, fshape, NULL, &err));
    CHECK_OK(sono_st_writer_add(w, "labels", SONO_DTYPE_I32, 1, nshape, NULL, &err));
    CHECK_OK(sono_st_writer_add(w, "folds", SONO_DTYPE_I32, 1, nshape, NULL, &err));
    char *config = sono_feature_config_to_json(&cfg);
    size_t sources_len = (size_t)CLIPS * 6 + 2;
    char *sources = malloc(sources_len + 1);
    char *end = sources;
    *end++ = '[';
    for (int i = 0; i < CLIPS; i++) end += sprintf(end, i ? ",\"s\"" : "\"s\"");
    strcpy(end, "]");
    sono_st_writer_set_metadata(w, "format", "sonodream-features", &err);
    sono_st_writer_set_metadata(w, "format_version", "1", &err);
    sono_st_writer_set_metadata(w, "feature_config", config, &err);
    sono_st_writer_set_metadata(w, "classes", "[\"a\",\"b\",\"c\"]", &err);
    sono_st_writer_set_metadata(w, "folds", "[\"fold1\",\"fold2\"]", &err);
    sono_st_writer_set_metadata(w, "sources", sources, &err);
    char *json = sono_st_writer_header(w);
    size_t len = strlen(json), padded = (len + 7) & ~(size_t)7;
    FILE *f = fopen(path, "wb");
    unsigned char len_bytes[8];
    for (int i = 0; i < 8; i++) len_bytes[i] = (unsigned char)((padded >> (8 * i)) & 0xff);
    fwrite(len_bytes, 1, 8, f);
    fwrite(json, 1, len, f);
    for (size_t i = len; i < padded; i++) fputc(' ', f);
    size_t clip_bytes = (size_t)MELS * frames * sizeof(float);
    long long data = 8 + (long long)padded;
    float *clip = malloc(clip_bytes);
    for (int i = 0; i < CLIPS; i += 8) {
        for (int h = 0; h < MELS; h++)
            for (int t = 0; t < frames; t++) clip[h * frames + t] = value(i, h, t);
        fseeko(f, data + (long long)i * clip_bytes, SEEK_SET);
        fwrite(clip, 1, clip_bytes, f);
    }
    fseeko(f, data + (long long)CLIPS * clip_bytes, SEEK_SET);
    for (int i = 0; i < CLIPS; i++) {
        int32_t label = i % 3;
        fwrite(&label, sizeof label, 1, f);
    }
    for (int i = 0; i < CLIPS; i++) {
        int32_t fold = fold_of(i);
        fwrite(&fold, sizeof fold, 1, f);
    }
    CHECK(fclose(f) == 0);
    free(clip), free(json), free(config), free(sources);
    sono_st_writer_free(w);
    return (unsigned long long)data + (unsigned long long)CLIPS * clip_bytes + 8ull * CLIPS;
}

/* Under the limit, a copy of the features cannot be made. */
static int copy_refused_under_limit(size_t bytes) {
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {LIMIT_BYTES, LIMIT_BYTES};
        if (setrlimit(RLIMIT_DATA, &rl) != 0) _exit(2);
        _exit(malloc(bytes) == NULL ? 0 : 1);
    }
    int status;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(void) {
#if defined(__SANITIZE_ADDRESS__)
    fprintf(stderr, "test_outofcore: skipped (AddressSanitizer reserves its shadow memory as data)\n");
    return 77;
#endif
    const char *binary = test_binary();
    char *dir = test_make_dir(), path[512], cmd[2048];
    snprintf(path, sizeof path, "%s/big.safetensors", dir);
    sono_feature_config cfg;
    sono_feature_config_default(&cfg);
    int frames = sono_feature_frames(&cfg, sono_feature_clip_samples(&cfg));
    unsigned long long size = write_sparse_features(path, frames);
    size_t feature_bytes = (size_t)CLIPS * MELS * frames * sizeof(float);
    fprintf(stderr, "feature file %.2f GiB, limit %.2f GiB\n", size / 1073741824.0, LIMIT_BYTES / 1073741824.0);
    CHECK(feature_bytes > 2 * LIMIT_BYTES - (64u << 20));
    CHECK_MSG(copy_refused_under_limit(feature_bytes), "RLIMIT_DATA does not limit malloc here: the test proves nothing");

    const char *limit = "ulimit -d 524288"; /* KiB: LIMIT_BYTES */
    snprintf(cmd, sizeof cmd, "%s && exec '%s' train '%s' -o '%s/m.model' --arch c4,p4,f8 --iterations 3 "
             "--train-folds 1 --val-folds 2 --checkpoint-every 0 > '%s/train.txt' 2>&1", limit, binary, path, dir, dir);
    CHECK_MSG(system(cmd) == 0, "train under the limit failed (see %s/train.txt)", dir);
    /* The standardisation saw every training clip: its per-band mean is the
     * one computed here. */
    sono_classifier *c = NULL;
    sono_error err = {0};
    snprintf(path, sizeof path, "%s/m.model", dir);
    CHECK_MSG(sono_classifier_load(path, 1, &c, NULL, &err) == SONO_OK, "%s", err.message);
    for (int h = 0; c && h < MELS; h += 9) {
        double sum = 0;
        int n = 0;
        for (int i = 0; i < CLIPS; i++)
            if (fold_of(i) == 1) {
                for (int t = 0; t < frames; t++) sum += value(i, h, t);
                n += frames;
            }
        CHECK_NEAR(c->norm_mean[h], sum / n, 1e-4);
    }
    sono_classifier_free(c);
    snprintf(path, sizeof path, "%s/big.safetensors", dir);
    snprintf(cmd, sizeof cmd, "%s && exec '%s' eval '%s/m.model' '%s' --json > '%s/eval.json' 2>&1", limit, binary,
             dir, path, dir);
    CHECK_MSG(system(cmd) == 0, "eval under the limit failed (see %s/eval.json)", dir);
    snprintf(cmd, sizeof cmd, "grep -q '\"clips\":[[:space:]]*%d,' '%s/eval.json'", CLIPS, dir);
    CHECK_MSG(system(cmd) == 0, "eval did not see the %d clips", CLIPS);
    if (!check_failures) test_cleanup_dir(dir);
    return test_result("test_outofcore");
}
