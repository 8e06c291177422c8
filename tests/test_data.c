/* Dataset layouts, the UrbanSound8K CSV, prepare and the feature file. */
#include <math.h>
#include <sndfile.h>
#include <sys/stat.h>

#include "check.h"
#include "sonodream/data.h"

static void make_dirs(const char *path) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", path);
    if (system(cmd) != 0) exit(2);
}

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
}

/* A sine of `freq` Hz, `seconds` long, at `rate`, with `channels` channels. */
static void write_tone(const char *path, double freq, double seconds, int rate, int channels, int format) {
    SF_INFO info = {0};
    info.samplerate = rate;
    info.channels = channels;
    info.format = format;
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) {
        fprintf(stderr, "%s: %s\n", path, sf_strerror(NULL));
        exit(2);
    }
    sf_count_t frames = (sf_count_t)(seconds * rate);
    float *buf = malloc((size_t)frames * (size_t)channels * sizeof(float));
    for (sf_count_t i = 0; i < frames; i++)
        for (int c = 0; c < channels; c++)
            buf[i * channels + c] = 0.5f * (float)sin(2 * M_PI * freq * (double)i / rate);
    sf_writef_float(sf, buf, frames);
    sf_close(sf);
    free(buf);
}

static int parse_csv(const char *text, sono_us8k_row **rows, int *count, sono_error *err) {
    return sono_us8k_parse_csv(text, strlen(text), "meta.csv", rows, count, err) == SONO_OK;
}

static void expect_csv_error(const char *text, const char *fragment) {
    sono_us8k_row *rows = NULL;
    int count = 0;
    sono_error err = {0};
    CHECK_MSG(!parse_csv(text, &rows, &count, &err), "accepted: %s", text);
    CHECK_MSG(strstr(err.message, "meta.csv") && strstr(err.message, fragment), "message '%s' lacks '%s'",
              err.message, fragment);
    sono_us8k_rows_free(rows, count);
}

static void test_csv(void) {
    static const char *good =
        "\xEF\xBB\xBFslice_file_name,fsID,start,end,salience,fold,classID,class\r\n"
        "\"a,1.wav\",1,0,4,1,1,2,\"children_\"\"playing\"\r\n"
        "b.wav,2,0,4,1,10,0,air_conditioner\r\n"
        "\r\n";
    sono_us8k_row *rows = NULL;
    int count = 0;
    sono_error err = {0};
    CHECK_MSG(parse_csv(good, &rows, &count, &err), "%s", err.message);
    CHECK(count == 2);
    if (count == 2) {
        CHECK(strcmp(rows[0].file, "a,1.wav") == 0);
        CHECK(strcmp(rows[0].class_name, "children_\"playing") == 0);
        CHECK(rows[0].fold == 1 && rows[0].class_id == 2);
        CHECK(rows[1].fold == 10 && rows[1].class_id == 0);
    }
    sono_us8k_rows_free(rows, count);
    /* Column order does not matter. */
    CHECK(parse_csv("class,classID,fold,slice_file_name\ndog_bark,3,2,x.wav\n", &rows, &count, &err));
    CHECK(count == 1 && rows[0].class_id == 3 && rows[0].fold == 2);
    sono_us8k_rows_free(rows, count);

    expect_csv_error("", "empty");
    expect_csv_error("slice_file_name,fold,class\nx.wav,1,dog\n", "classID");
    expect_csv_error("slice_file_name,fold,classID,class\nx.wav,1,3,dog,extra\n", ":2:");
    expect_csv_error("slice_file_name,fold,classID,class\nx.wav,1,3\n", ":2:");
    expect_csv_error("slice_file_name,fold,classID,class\nx.wav,one,3,dog\n", "fold 'one'");
    expect_csv_error("slice_file_name,fold,classID,class\nx.wav,11,3,dog\n", "fold '11'");
    expect_csv_error("slice_file_name,fold,classID,class\nx.wav,0,3,dog\n", "fold '0'");
    expect_csv_error("slice_file_name,fold,classID,class\nx.wav,1,-1,dog\n", "classID '-1'");
    expect_csv_error("slice_file_name,fold,classID,class\nx.wav,1,3x,dog\n", "classID '3x'");
    /* Numbers are digits only, as in every layout's CSV (sono_data_parse_int). */
    expect_csv_error("slice_file_name,fold,classID,class\nx.wav,+7,3,dog\n", "fold '+7'");
    expect_csv_error("slice_file_name,fold,classID,class\nx.wav,1, 3,dog\n", "classID ' 3'");
    expect_csv_error("slice_file_name,fold,classID,class\nx.wav,1,3,dog\nx.wav,1,3,dog\n", "twice");
    expect_csv_error("slice_file_name,fold,classID,class\nx.wav,1,3,dog\ny.wav,1,3,cat\n", "named both");
    expect_csv_error("slice_file_name,fold,classID,class\n\"x.wav,1,3,dog\n", "unterminated");
    expect_csv_error("slice_file_name,fold,classID,class\n", "no data rows");
    expect_csv_error("slice_file_name,fold,classID,class\n../x.wav,1,3,dog\n", "slice_file_name");
}

/* UrbanSound8K tree: 3 classes, 2 folds; one file named but missing. */
static void make_us8k(const char *root, int with_missing) {
    char path[1024];
    snprintf(path, sizeof path, "%s/metadata", root);
    make_dirs(path);
    snprintf(path, sizeof path, "%s/audio/fold1", root);
    make_dirs(path);
    snprintf(path, sizeof path, "%s/audio/fold2", root);
    make_dirs(path);
    snprintf(path, sizeof path, "%s/metadata/UrbanSound8K.csv", root);
    write_text(path, with_missing ? "slice_file_name,fsID,start,end,salience,fold,classID,class\n"
                                    "a.wav,1,0,1,1,1,0,air_conditioner\n"
                                    "b.wav,2,0,1,1,1,6,gun_shot\n"
                                    "c.wav,3,0,1,1,2,8,siren\n"
                                    "d.wav,4,0,1,1,2,0,air_conditioner\n"
                                    "gone.wav,5,0,1,1,2,8,siren\n"
                                  : "slice_file_name,fsID,start,end,salience,fold,classID,class\n"
                                    "a.wav,1,0,1,1,1,0,air_conditioner\n"
                                    "b.wav,2,0,1,1,1,6,gun_shot\n"
                                    "c.wav,3,0,1,1,2,8,siren\n"
                                    "d.wav,4,0,1,1,2,0,air_conditioner\n");
    snprintf(path, sizeof path, "%s/audio/fold1/a.wav", root);
    write_tone(path, 440, 1.0, 44100, 2, SF_FORMAT_WAV | SF_FORMAT_PCM_24);
    snprintf(path, sizeof path, "%s/audio/fold1/b.wav", root);
    write_tone(path, 2000, 0.5, 8000, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_U8);
    snprintf(path, sizeof path, "%s/audio/fold2/c.wav", root);
    write_tone(path, 1000, 1.5, 16000, 1, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
    snprintf(path, sizeof path, "%s/audio/fold2/d.wav", root);
    write_text(path, "this is not audio");
}

static void test_us8k_scan(const char *dir) {
    char root[512];
    snprintf(root, sizeof root, "%s/us8k", dir);
    make_us8k(root, 1);
    sono_scan_options opt = {0};
    sono_clip_list *list = NULL;
    sono_error err = {0};
    CHECK(sono_dataset_scan(root, &opt, &list, &err) != SONO_OK);
    CHECK_MSG(strstr(err.message, "gone.wav") && strstr(err.message, "1 file(s)"), "%s", err.message);
    opt.skip_missing = 1;
    const char *exclude[] = {"gun_shot"};
    opt.exclude = exclude;
    opt.exclude_count = 1;
    CHECK_MSG(sono_dataset_scan(root, &opt, &list, &err) == SONO_OK, "%s", err.message);
    if (!list) return;
    CHECK(list->layout == SONO_LAYOUT_URBANSOUND8K);
    CHECK(list->class_count == 2 && list->count == 3 && list->missing_count == 1);
    CHECK(strcmp(list->class_names[0], "air_conditioner") == 0 && strcmp(list->class_names[1], "siren") == 0);
    CHECK(list->fold_count == 2);
    for (int i = 0; i < list->count; i++)
        if (strstr(list->clips[i].path, "c.wav")) CHECK(list->clips[i].label == 1 && list->clips[i].fold == 2);
    sono_clip_list_free(list);
    const char *bogus[] = {"unicorn"};
    opt.exclude = bogus;
    CHECK(sono_dataset_scan(root, &opt, &list, &err) != SONO_OK);
    CHECK(strstr(err.message, "unicorn") != NULL);
}

static void test_class_folders_scan(const char *dir) {
    char root[512], path[1024];
    snprintf(root, sizeof root, "%s/folders", dir);
    snprintf(path, sizeof path, "%s/dog", root);
    make_dirs(path);
    snprintf(path, sizeof path, "%s/cat", root);
    make_dirs(path);
    snprintf(path, sizeof path, "%s/empty", root);
    make_dirs(path);
    const char *dog_files[] = {"TRAIN-1.wav", "VALIDATE-2.wav", "TEST-3.wav", "notes.txt"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/dog/%s", root, dog_files[i]);
        if (strstr(dog_files[i], ".txt")) write_text(path, "ignored");
        else write_tone(path, 300 + 100 * i, 0.5, 16000, 1, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
    }
    int hashed[4] = {0};
    for (int i = 0; i < 200; i++) {
        snprintf(path, sizeof path, "%s/cat/meow%03d.flac", root, i);
        if (i < 3) write_tone(path, 700, 0.3, 22050, 1, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
        else write_text(path, "");
    }
    sono_scan_options opt = {0};
    sono_clip_list *list = NULL;
    sono_error err = {0};
    CHECK_MSG(sono_dataset_scan(root, &opt, &list, &err) == SONO_OK, "%s", err.message);
    if (!list) return;
    CHECK(list->layout == SONO_LAYOUT_CLASS_FOLDERS);
    CHECK(list->class_count == 2); /* the empty folder is left out */
    CHECK(strcmp(list->class_names[0], "cat") == 0 && strcmp(list->class_names[1], "dog") == 0);
    CHECK(list->count == 203);
    for (int i = 0; i < list->count; i++) {
        const sono_clip *c = &list->clips[i];
        if (strstr(c->path, "TRAIN-")) CHECK(c->fold == 1);
        if (strstr(c->path, "VALIDATE-")) CHECK(c->fold == 2);
        if (strstr(c->path, "TEST-")) CHECK(c->fold == 3);
        if (c->label == 0) hashed[c->fold]++;
    }
    /* The hash split is roughly 80/10/10 and stable. */
    CHECK_MSG(hashed[1] > 140 && hashed[2] > 8 && hashed[3] > 8, "split %d/%d/%d", hashed[1], hashed[2], hashed[3]);
    sono_clip_list_free(list);
    CHECK(sono_dataset_scan("/nonexistent-folder", &opt, &list, &err) != SONO_OK);
    CHECK(strstr(err.message, "/nonexistent-folder") != NULL);
}

static void test_prepare_us8k(const char *dir) {
    char root[512], out[512];
    snprintf(root, sizeof root, "%s/us8k-prep", dir);
    snprintf(out, sizeof out, "%s/us8k.safetensors", dir);
    make_us8k(root, 0);
    sono_scan_options scan = {0};
    sono_clip_list *list = NULL;
    sono_error err = {0};
    CHECK_MSG(sono_dataset_scan(root, &scan, &list, &err) == SONO_OK, "%s", err.message);
    if (!list) return;
    sono_prepare_options opt = {0};
    sono_feature_config_default(&opt.features);
    opt.features.seconds = 1.0;
    opt.jobs = 2;
    sono_prepare_report report;
    CHECK_MSG(sono_prepare(list, &opt, out, &report, &err) == SONO_OK, "%s", err.message);
    CHECK(report.written == 3 && report.skipped_count == 1);
    if (report.skipped_count == 1) CHECK(strstr(report.skipped[0].path, "d.wav") != NULL);
    CHECK(report.class_count == 3 && report.fold_count == 2);
    if (report.per_class_fold) CHECK(report.per_class_fold[2 * 2 + 1] == 1); /* siren in fold 2 */
    sono_prepare_report_free(&report);

    sono_feature_set *set = NULL;
    CHECK_MSG(sono_feature_set_read(out, &set, &err) == SONO_OK, "%s", err.message);
    if (set) {
        CHECK(set->count == 3 && set->n_mels == 128 && set->frames == 32);
        CHECK(set->class_count == 3 && strcmp(set->class_names[2], "siren") == 0);
        CHECK(strcmp(set->layout, "urbansound8k") == 0);
        CHECK(set->fold_count == 2 && strcmp(set->fold_names[1], "fold2") == 0);
        CHECK(set->config.seconds == 1.0 && set->config.n_fft == 1024 && set->config.hop == 512);
        CHECK(set->labels[0] == 0 && set->folds[0] == 1 && strstr(set->sources[0], "a.wav"));
        CHECK(set->labels[1] == 1 && set->folds[1] == 1 && strstr(set->sources[1], "b.wav"));
        CHECK(set->labels[2] == 2 && set->folds[2] == 2 && strstr(set->sources[2], "c.wav"));
        /* b.wav is 0.5 s of 2 kHz at 8 kHz: the second half of its frames is silence (the floor). */
        const float *b = set->features + (size_t)1 * 128 * 32;
        CHECK_NEAR(b[0 * 32 + 28], -100.0, 1e-3);
        float loud = -1000;
        for (int m = 0; m < 128; m++) loud = fmaxf(loud, b[m * 32 + 8]);
        CHECK(loud > -10);
    }
    sono_feature_set_free(set);

    /* --length drop keeps only full-length clips (c.wav is 1.5 s, cropped). */
    opt.drop_short = 1;
    CHECK(sono_prepare(list, &opt, out, &report, &err) == SONO_OK);
    CHECK(report.written == 2 && report.dropped_short == 1);
    sono_prepare_report_free(&report);
    /* --strict makes the corrupt file fatal, and the old output stays intact. */
    opt.strict = 1;
    CHECK(sono_prepare(list, &opt, out, &report, &err) != SONO_OK);
    CHECK_MSG(strstr(err.message, "d.wav") != NULL, "%s", err.message);
    sono_prepare_report_free(&report);
    CHECK_MSG(sono_feature_set_read(out, &set, &err) == SONO_OK && set->count == 2, "%s", err.message);
    sono_feature_set_free(set);
    sono_clip_list_free(list);
}

static void test_feature_file_refusals(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/foreign.safetensors", dir);
    sono_feature_set set = {0};
    sono_feature_config_default(&set.config);
    set.config.seconds = 0.1;
    set.n_mels = 128;
    set.frames = sono_feature_frames(&set.config, sono_feature_clip_samples(&set.config));
    float features[128 * 4] = {0};
    int32_t labels[1] = {1}, folds[1] = {1};
    char *classes[1] = {"only"}, *sources[1] = {"x.wav"};
    set.count = 1;
    set.features = features;
    set.labels = labels;
    set.folds = folds;
    set.class_names = classes;
    set.class_count = 1;
    set.sources = sources;
    CHECK(set.frames == 4);
    sono_error err = {0};
    CHECK(sono_feature_set_write(&set, path, &err) == SONO_OK);
    sono_feature_set *back = NULL;
    CHECK(sono_feature_set_read(path, &back, &err) != SONO_OK); /* label 1 with one class */
    CHECK_MSG(strstr(err.message, "label 1"), "%s", err.message);
    labels[0] = 0;
    CHECK(sono_feature_set_write(&set, path, &err) == SONO_OK);
    CHECK_MSG(sono_feature_set_read(path, &back, &err) == SONO_OK, "%s", err.message);
    sono_feature_set_free(back);
    /* Another format is refused by name. */
    FILE *f = fopen(path, "r+b");
    char head[4096];
    size_t n = fread(head, 1, sizeof head, f);
    char *p = NULL;
    size_t flen = strlen(SONO_FEATURE_FORMAT);
    for (size_t i = 0; !p && i + flen <= n; i++)
        if (memcmp(head + i, SONO_FEATURE_FORMAT, flen) == 0) p = head + i;
    CHECK(p != NULL);
    if (p) {
        memcpy(p, "sonodream-featurex", strlen(SONO_FEATURE_FORMAT));
        fseek(f, 0, SEEK_SET);
        fwrite(head, 1, n, f);
    }
    fclose(f);
    CHECK(sono_feature_set_read(path, &back, &err) != SONO_OK);
    CHECK_MSG(strstr(err.message, "not a sonodream feature file"), "%s", err.message);
}

int main(void) {
    char *dir = test_make_dir();
    test_csv();
    test_us8k_scan(dir);
    test_class_folders_scan(dir);
    test_prepare_us8k(dir);
    test_feature_file_refusals(dir);
    test_cleanup_dir(dir);
    return test_result("test_data");
}
