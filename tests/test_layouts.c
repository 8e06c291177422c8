/* The ESC-50, Speech Commands and manifest layouts on small generated
 * datasets: detection, classes and their order, folds, what is left out,
 * and the errors for bad metadata (each naming the file and the line). */
#include <math.h>
#include <sndfile.h>

#include "check.h"
#include "sonodream/data.h"

static char dir[256];

static const char *at(const char *rel) {
    static char path[4][1024];
    static int next = 0;
    next = (next + 1) % 4;
    snprintf(path[next], sizeof path[next], "%s/%s", dir, rel);
    return path[next];
}

static void make_dirs(const char *rel) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", at(rel));
    if (system(cmd) != 0) exit(2);
}

static void write_text(const char *rel, const char *text) {
    FILE *f = fopen(at(rel), "wb");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        perror(rel);
        exit(2);
    }
}

/* A quarter second of a tone at 8 kHz. */
static void write_tone(const char *rel, double freq) {
    SF_INFO info = {.samplerate = 8000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open(at(rel), SFM_WRITE, &info);
    if (!sf) exit(2);
    float x[2000];
    for (int i = 0; i < 2000; i++) x[i] = 0.4f * (float)sin(2 * M_PI * freq * i / 8000.0);
    sf_writef_float(sf, x, 2000);
    sf_close(sf);
}

static sono_clip_list *scan(const char *rel, const sono_scan_options *opt, sono_error *err) {
    sono_clip_list *list = NULL;
    sono_scan_options none = {0};
    if (sono_dataset_scan(at(rel), opt ? opt : &none, &list, err) != SONO_OK) return NULL;
    return list;
}

static const sono_clip *clip_named(const sono_clip_list *list, const char *suffix) {
    size_t n = strlen(suffix);
    for (int i = 0; i < list->count; i++) {
        size_t len = strlen(list->clips[i].path);
        if (len >= n && strcmp(list->clips[i].path + len - n, suffix) == 0) return &list->clips[i];
    }
    return NULL;
}

/* The scan fails and its message names every fragment (file, line, value). */
static void expect_error(const char *rel, const sono_scan_options *opt, const char *f1, const char *f2) {
    sono_error err = {0};
    sono_clip_list *list = scan(rel, opt, &err);
    CHECK_MSG(list == NULL, "%s was accepted", rel);
    sono_clip_list_free(list);
    CHECK_MSG(strstr(err.message, f1) && (!f2 || strstr(err.message, f2)), "message '%s' lacks '%s' / '%s'",
              err.message, f1, f2 ? f2 : "");
}

/* ------------------------------------------------------------------ ESC-50 */

#define ESC_HEADER "filename,fold,target,category,esc10,src_file,take\n"

static void make_esc50(const char *rel, const char *csv) {
    char sub[512];
    snprintf(sub, sizeof sub, "%s/meta", rel);
    make_dirs(sub);
    snprintf(sub, sizeof sub, "%s/audio", rel);
    make_dirs(sub);
    snprintf(sub, sizeof sub, "%s/meta/esc50.csv", rel);
    write_text(sub, csv);
    static const char *const files[] = {"1-100-A-0.wav", "1-101-A-41.wav", "2-102-A-1.wav", "3-103-A-0.wav",
                                        "4-104-A-41.wav", "5-105-A-1.wav"};
    for (int i = 0; i < 6; i++) {
        snprintf(sub, sizeof sub, "%s/audio/%s", rel, files[i]);
        write_tone(sub, 200 + 100 * i);
    }
}

static void test_esc50(void) {
    /* Targets out of order in the file: classes follow target, not the rows. */
    make_esc50("esc", ESC_HEADER "1-101-A-41.wav,1,41,chainsaw,True,101,A\n"
                                 "1-100-A-0.wav,1,0,dog,True,100,A\n"
                                 "2-102-A-1.wav,2,1,rooster,False,102,A\n"
                                 "3-103-A-0.wav,3,0,dog,True,103,A\n"
                                 "4-104-A-41.wav,4,41,chainsaw,True,104,A\n"
                                 "5-105-A-1.wav,5,1,rooster,False,105,A\n");
    sono_error err = {0};
    sono_clip_list *list = scan("esc", NULL, &err);
    CHECK_MSG(list != NULL, "%s", err.message);
    if (list) {
        CHECK(list->layout == SONO_LAYOUT_ESC50);
        CHECK(list->count == 6 && list->class_count == 3 && list->fold_count == 5);
        CHECK(strcmp(list->class_names[0], "dog") == 0 && strcmp(list->class_names[1], "rooster") == 0 &&
              strcmp(list->class_names[2], "chainsaw") == 0);
        CHECK(strcmp(list->fold_names[4], "fold5") == 0);
        const sono_clip *c = clip_named(list, "/audio/4-104-A-41.wav");
        CHECK(c && c->label == 2 && c->fold == 4);
        c = clip_named(list, "/audio/2-102-A-1.wav");
        CHECK(c && c->label == 1 && c->fold == 2);
        CHECK(list->skipped_count == 0);
    }
    sono_clip_list_free(list);
    /* ESC-10: only the esc10 rows; classes renumbered in target order; the rest reported. */
    sono_scan_options opt = {.esc10 = 1};
    list = scan("esc", &opt, &err);
    CHECK_MSG(list != NULL, "%s", err.message);
    if (list) {
        CHECK(list->count == 4 && list->class_count == 2);
        CHECK(strcmp(list->class_names[0], "dog") == 0 && strcmp(list->class_names[1], "chainsaw") == 0);
        CHECK(clip_named(list, "4-104-A-41.wav")->label == 1);
        CHECK(list->skipped_count == 1 && strstr(list->skipped[0], "2 clip(s) outside ESC-10"));
    }
    sono_clip_list_free(list);
    /* --exclude by category. */
    const char *exclude[] = {"rooster"};
    opt = (sono_scan_options){.exclude = exclude, .exclude_count = 1};
    list = scan("esc", &opt, &err);
    CHECK(list && list->class_count == 2 && list->count == 4);
    sono_clip_list_free(list);
    /* A forced class-folder scan is what the old code did: one class 'audio'. */
    opt = (sono_scan_options){.layout = SONO_LAYOUT_CLASS_FOLDERS};
    list = scan("esc", &opt, &err);
    CHECK(list && list->class_count == 1 && strcmp(list->class_names[0], "audio") == 0);
    sono_clip_list_free(list);

    /* Bad metadata, each error naming esc50.csv and the line. */
    make_esc50("esc-disagree", ESC_HEADER "1-100-A-0.wav,1,0,dog,True,100,A\n"
                                          "1-101-A-41.wav,1,41,chainsaw,True,101,A\n"
                                          "3-103-A-0.wav,3,0,cat,True,103,A\n");
    expect_error("esc-disagree", NULL, "esc50.csv:4:", "target 0 is category 'cat' here but 'dog' on line 2");
    make_esc50("esc-disagree2", ESC_HEADER "1-100-A-0.wav,1,0,dog,True,100,A\n"
                                           "1-101-A-41.wav,1,41,dog,True,101,A\n");
    expect_error("esc-disagree2", NULL, "esc50.csv:3:", "category 'dog' has target 41 here but target 0");
    make_esc50("esc-fold", ESC_HEADER "1-100-A-0.wav,one,0,dog,True,100,A\n");
    expect_error("esc-fold", NULL, "esc50.csv:2:", "fold 'one'");
    make_esc50("esc-columns", "filename,fold,category\n1-100-A-0.wav,1,dog\n");
    expect_error("esc-columns", NULL, "esc50.csv:1:", "'target' is missing");
    make_esc50("esc-missing", ESC_HEADER "1-100-A-0.wav,1,0,dog,True,100,A\nnot-there.wav,2,0,dog,True,1,A\n");
    expect_error("esc-missing", NULL, "esc50.csv", "not-there.wav");
    opt = (sono_scan_options){.skip_missing = 1};
    list = scan("esc-missing", &opt, &err);
    CHECK(list && list->count == 1 && list->missing_count == 1);
    sono_clip_list_free(list);
    make_esc50("esc-path", ESC_HEADER "../1-100-A-0.wav,1,0,dog,True,100,A\n");
    expect_error("esc-path", NULL, "esc50.csv:2:", "bad filename");
    /* Another layout's options are refused, not ignored. */
    opt = (sono_scan_options){.path_column = "file"};
    expect_error("esc", &opt, "--path-column", "reads as esc50");
}

/* -------------------------------------------------------- Speech Commands */

static void make_speech_commands(const char *rel, const char *validation, const char *testing) {
    static const char *const files[] = {"yes/aa_nohash_0.wav", "yes/bb_nohash_0.wav", "yes/cc_nohash_0.wav",
                                        "no/aa_nohash_0.wav",  "no/bb_nohash_1.wav",  "no/dd_nohash_0.wav",
                                        "_background_noise_/white_noise.wav"};
    char path[512];
    static const char *const folders[] = {"yes", "no", "_background_noise_", "empty"};
    for (int i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/%s", rel, folders[i]);
        make_dirs(path);
    }
    for (int i = 0; i < 7; i++) {
        snprintf(path, sizeof path, "%s/%s", rel, files[i]);
        write_tone(path, 300 + 50 * i);
    }
    snprintf(path, sizeof path, "%s/validation_list.txt", rel);
    write_text(path, validation);
    snprintf(path, sizeof path, "%s/testing_list.txt", rel);
    write_text(path, testing);
}

static void test_speech_commands(void) {
    make_speech_commands("sc", "yes/bb_nohash_0.wav\nno/bb_nohash_1.wav\n", "yes/cc_nohash_0.wav\r\n");
    sono_error err = {0};
    sono_clip_list *list = scan("sc", NULL, &err);
    CHECK_MSG(list != NULL, "%s", err.message);
    if (list) {
        CHECK(list->layout == SONO_LAYOUT_SPEECH_COMMANDS);
        CHECK(list->class_count == 2 && list->count == 6);
        CHECK(strcmp(list->class_names[0], "no") == 0 && strcmp(list->class_names[1], "yes") == 0);
        CHECK(list->fold_count == 3 && strcmp(list->fold_names[0], "train") == 0);
        CHECK(clip_named(list, "yes/aa_nohash_0.wav")->fold == 1);
        CHECK(clip_named(list, "yes/bb_nohash_0.wav")->fold == 2);
        CHECK(clip_named(list, "yes/cc_nohash_0.wav")->fold == 3);
        CHECK(clip_named(list, "no/bb_nohash_1.wav")->fold == 2 && clip_named(list, "no/bb_nohash_1.wav")->label == 0);
        CHECK(clip_named(list, "no/dd_nohash_0.wav")->fold == 1);
        CHECK(clip_named(list, "white_noise.wav") == NULL);
        /* The noise folder and the empty folder are reported. */
        int noise = 0, empty = 0;
        for (int i = 0; i < list->skipped_count; i++) {
            noise |= strstr(list->skipped[i], "_background_noise_") != NULL;
            empty |= strstr(list->skipped[i], "empty") != NULL;
        }
        CHECK(noise && empty && list->skipped_count == 2);
    }
    sono_clip_list_free(list);
    sono_scan_options esc10 = {.esc10 = 1};
    expect_error("sc", &esc10, "--esc10", "reads as speech-commands");
    make_speech_commands("sc-absent", "yes/bb_nohash_0.wav\nyes/zz_nohash_9.wav\n", "");
    expect_error("sc-absent", NULL, "validation_list.txt:2:", "yes/zz_nohash_9.wav");
    /* A subset of the dataset: --skip-missing leaves the absent one out and counts it. */
    sono_scan_options skip = {.skip_missing = 1};
    sono_error skip_err = {0};
    list = scan("sc-absent", &skip, &skip_err);
    CHECK_MSG(list && list->missing_count == 1 && strstr(list->missing[0], "yes/zz_nohash_9.wav") &&
                  clip_named(list, "bb_nohash_0.wav") && clip_named(list, "bb_nohash_0.wav")->fold == 2,
              "speech commands with --skip-missing: %s", list ? "wrong clips" : skip_err.message);
    sono_clip_list_free(list);
    make_speech_commands("sc-twice", "yes/bb_nohash_0.wav\n", "no/aa_nohash_0.wav\nyes/bb_nohash_0.wav\n");
    expect_error("sc-twice", NULL, "testing_list.txt:2:", "also listed in validation_list.txt line 1");
    make_speech_commands("sc-escape", "../yes/bb_nohash_0.wav\n", "");
    expect_error("sc-escape", NULL, "validation_list.txt:1:", "not a word/file.wav path");
}

/* --------------------------------------------------------------- manifest */

static void make_manifest_audio(void) {
    make_dirs("man/clips/a");
    make_dirs("man/clips/b");
    write_tone("man/clips/a/1.wav", 300);
    write_tone("man/clips/a/2.wav", 400);
    write_tone("man/clips/b/3.wav", 500);
    write_tone("man/clips/b/4.wav", 600);
    write_tone("outside.wav", 700);
}

static void test_manifest(void) {
    make_manifest_audio();
    write_text("man/list.csv", "file,kind,split,note\n"
                               "clips/a/1.wav,gull,1,\"a, note\"\n"
                               "./clips/a/2.wav,crow,7,x\n"
                               "clips/b/../b/3.wav,gull,3,x\n"
                               "clips/b/4.wav,owl,2,x\n");
    sono_scan_options opt = {.path_column = "file", .label_column = "kind", .fold_column = "split"};
    sono_error err = {0};
    sono_clip_list *list = scan("man/list.csv", &opt, &err);
    CHECK_MSG(list != NULL, "%s", err.message);
    if (list) {
        CHECK(list->layout == SONO_LAYOUT_MANIFEST);
        CHECK(list->count == 4 && list->class_count == 3 && list->fold_count == 7);
        CHECK(strcmp(list->class_names[0], "crow") == 0 && strcmp(list->class_names[2], "owl") == 0);
        const sono_clip *c = clip_named(list, "/man/./clips/a/2.wav");
        CHECK(c && c->label == 0 && c->fold == 7);
        c = clip_named(list, "/man/clips/b/4.wav");
        CHECK(c && c->label == 2 && c->fold == 2);
    }
    sono_clip_list_free(list);
    /* TSV, default column names, --classes fixing the order, no fold column: the hash split. */
    write_text("man/list.tsv", "label\tpath\nowl\tclips/b/4.wav\ngull\tclips/a/1.wav\n");
    const char *classes[] = {"owl", "gull", "crow"};
    opt = (sono_scan_options){.classes = classes, .class_list_count = 3};
    list = scan("man/list.tsv", &opt, &err);
    CHECK_MSG(list != NULL, "%s", err.message);
    if (list) {
        CHECK(list->count == 2 && list->class_count == 3 && strcmp(list->class_names[0], "owl") == 0);
        CHECK(clip_named(list, "clips/a/1.wav")->label == 1);
        CHECK(list->fold_count == 3 && strcmp(list->fold_names[2], "test") == 0);
    }
    sono_clip_list_free(list);

    /* Bad manifests: the file and the line are named. */
    write_text("man/nocol.csv", "path,class\nclips/a/1.wav,gull\n");
    expect_error("man/nocol.csv", NULL, "nocol.csv:1:", "no column named 'label'");
    opt = (sono_scan_options){.fold_column = "fold"};
    write_text("man/nofold.csv", "path,label\nclips/a/1.wav,gull\n");
    expect_error("man/nofold.csv", &opt, "nofold.csv:1:", "'fold' (--fold-column");
    write_text("man/escape.csv", "path,label,fold\nclips/a/1.wav,gull,1\nclips/../../outside.wav,gull,1\n");
    expect_error("man/escape.csv", NULL, "escape.csv:3:", "not a file inside the manifest's folder");
    write_text("man/absolute.csv", "path,label,fold\n/etc/passwd,gull,1\n");
    expect_error("man/absolute.csv", NULL, "absolute.csv:2:", "/etc/passwd");
    write_text("man/badfold.csv", "path,label,fold\nclips/a/1.wav,gull,1\nclips/a/2.wav,gull,2.5\n");
    expect_error("man/badfold.csv", NULL, "badfold.csv:3:", "fold '2.5' is not a whole number");
    write_text("man/plusfold.csv", "path,label,fold\nclips/a/1.wav,gull,+2\n");
    expect_error("man/plusfold.csv", NULL, "plusfold.csv:2:", "fold '+2' is not a whole number");
    write_text("man/zerofold.csv", "path,label,fold\nclips/a/1.wav,gull,0\n");
    expect_error("man/zerofold.csv", NULL, "zerofold.csv:2:", "fold '0'");
    write_text("man/unknown.csv", "path,label,fold\nclips/a/1.wav,gull,1\nclips/a/2.wav,eagle,1\n");
    opt = (sono_scan_options){.classes = classes, .class_list_count = 3};
    expect_error("man/unknown.csv", &opt, "unknown.csv:3:", "unknown label 'eagle'");
    write_text("man/emptylabel.csv", "path,label,fold\nclips/a/1.wav,,1\n");
    expect_error("man/emptylabel.csv", NULL, "emptylabel.csv:2:", "empty label");
    write_text("man/twice.csv", "path,label,fold\nclips/a/1.wav,gull,1\nclips/a/2.wav,gull,1\nclips/a/1.wav,gull,2\n");
    expect_error("man/twice.csv", NULL, "twice.csv:4:", "listed twice (also on line 2)");
    write_text("man/ragged.csv", "path,label,fold\nclips/a/1.wav,gull\n");
    expect_error("man/ragged.csv", NULL, "ragged.csv:2:", "2 fields");
    write_text("man/gone.csv", "path,label,fold\nclips/a/1.wav,gull,1\nclips/a/nope.wav,gull,1\n");
    expect_error("man/gone.csv", NULL, "gone.csv", "nope.wav");
}

int main(void) {
    snprintf(dir, sizeof dir, "%s", test_make_dir());
    test_esc50();
    test_speech_commands();
    test_manifest();
    test_cleanup_dir(dir);
    return test_result("test_layouts");
}
