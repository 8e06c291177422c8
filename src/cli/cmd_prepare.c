/* sonodream prepare SRC -o OUT: a dataset folder -> one feature file. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sonodream/data.h"

#define MAX_EXCLUDES 64
#define MAX_CLASSES 4096
#define SKIPPED_LISTED 20

static void prepare_usage(FILE *out) {
    fprintf(out,
            "usage: sonodream prepare SRC -o OUT.safetensors [options]\n"
            "       sonodream prepare --manifest FILE -o OUT.safetensors [options]\n\n"
            "Decode every clip of a dataset folder, fix its length, compute its log-mel\n"
            "spectrogram and write one feature file (safetensors) with labels and folds.\n\n"
            "Layouts (detected automatically):\n"
            "  urbansound8k     SRC/metadata/UrbanSound8K.csv and SRC/audio/foldN/*.wav\n"
            "  esc50            SRC/meta/esc50.csv and SRC/audio/*.wav (ESC-50; --esc10 for\n"
            "                   ESC-10); classes are the categories in target order, folds 1-5\n"
            "  speech-commands  SRC/<word>/*.wav, SRC/validation_list.txt, SRC/testing_list.txt;\n"
            "                   the lists give validate (fold 2) and test (fold 3), the rest is\n"
            "                   train (fold 1); _background_noise_ is not a class\n"
            "  manifest         a CSV or TSV file with a header (SRC is the file, or --manifest):\n"
            "                   columns path, label, fold by name; paths relative to the file\n"
            "  class-folders    SRC/<class>/*.wav; TRAIN-/VALIDATE-/TEST- name prefixes give the\n"
            "                   split (folds 1/2/3), else a hash of the file name (80/10/10)\n\n"
            "options:\n"
            "  -o, --output FILE      feature file to write (required)\n"
            "      --layout NAME      auto (default), urbansound8k, esc50, speech-commands,\n"
            "                         manifest or class-folders\n"
            "      --exclude CLASS    leave a class out (repeatable)\n"
            "      --skip-missing     skip files the CSV or manifest names but the disk lacks\n"
            "      --esc10            ESC-50: keep the ESC-10 subset (10 classes)\n"
            "      --manifest FILE    read the clip list from a CSV or TSV manifest\n"
            "      --path-column C    manifest column of the audio paths (default path)\n"
            "      --label-column C   manifest column of the labels (default label)\n"
            "      --fold-column C    manifest column of the folds, whole numbers from 1 (default\n"
            "                         fold; without one, a hash of the path splits 80/10/10)\n"
            "      --classes A,B,...  manifest: the labels, in class order; any other label is\n"
            "                         an error (default: every label, sorted)\n"
            "      --length MODE      pad (default: zero-pad short clips, crop long ones) or\n"
            "                         drop (keep only clips of the full length)\n"
            "      --strict           stop at the first unreadable audio file\n"
            "      --sample-rate HZ   resample to this rate (default 16000)\n"
            "      --seconds S        clip length (default 4.0)\n"
            "      --mels N           mel bands (default 128)\n"
            "      --fft N            FFT size (default 1024)\n"
            "      --hop N            hop between frames (default 512)\n"
            "      --fmin HZ          lowest mel frequency (default 0)\n"
            "      --fmax HZ          highest mel frequency (default sample-rate/2)\n"
            "      --pad MODE         centre padding: constant (default) or reflect\n"
            "      --max-memory SIZE  memory for the clips in flight (features are written as\n"
            "                         they are made); refused up front when one clip per thread\n"
            "                         does not fit (e.g. 512M, 8G; default: the memory free now)\n"
            "  -j, --jobs N           threads (default: all cores)\n"
            "  -q, --quiet            no per-file warnings\n"
            "  -h, --help             this help\n");
}

typedef struct prepare_args {
    const char *source, *output;
    sono_scan_options scan;
    const char *excludes[MAX_EXCLUDES];
    const char *manifest;
    char *class_text;                 /* --classes, split in place */
    const char *classes[MAX_CLASSES];
    sono_prepare_options prep;
    int quiet;
} prepare_args;

enum { OPT_LAYOUT = 256, OPT_EXCLUDE, OPT_SKIP_MISSING, OPT_LENGTH, OPT_STRICT, OPT_RATE, OPT_SECONDS,
       OPT_MELS, OPT_FFT, OPT_HOP, OPT_FMIN, OPT_FMAX, OPT_PAD, OPT_MAX_MEMORY, OPT_ESC10, OPT_MANIFEST,
       OPT_PATH_COLUMN, OPT_LABEL_COLUMN, OPT_FOLD_COLUMN, OPT_CLASSES };

/* --classes a,b,c: split in place into a->classes. */
static int parse_classes(prepare_args *a, const char *arg) {
    free(a->class_text);
    if (!(a->class_text = strdup(arg))) return cli_failf("out of memory"), 0;
    a->scan.class_list_count = 0;
    for (char *p = a->class_text, *next; p; p = next) {
        next = strchr(p, ',');
        if (next) *next++ = '\0';
        if (!*p) return cli_failf("--classes: empty class name in '%s'", arg), 0;
        if (a->scan.class_list_count == MAX_CLASSES) return cli_failf("--classes: at most %d classes", MAX_CLASSES), 0;
        a->classes[a->scan.class_list_count++] = p;
    }
    a->scan.classes = a->classes;
    return 1;
}

static int parse_option(prepare_args *a, int opt, const char *arg) {
    sono_feature_config *fc = &a->prep.features;
    long v;
    switch (opt) {
    case 'o': a->output = arg; return 1;
    case OPT_LAYOUT:
        if (sono_layout_parse(arg, &a->scan.layout)) return 1;
        cli_failf("--layout: '%s' is not auto, urbansound8k, esc50, speech-commands, manifest or class-folders", arg);
        return 0;
    case OPT_EXCLUDE:
        if (a->scan.exclude_count == MAX_EXCLUDES) {
            cli_failf("--exclude: at most %d classes", MAX_EXCLUDES);
            return 0;
        }
        a->excludes[a->scan.exclude_count++] = arg;
        return 1;
    case OPT_SKIP_MISSING: a->scan.skip_missing = 1; return 1;
    case OPT_LENGTH:
        if (strcmp(arg, "drop") == 0 || strcmp(arg, "pad") == 0) {
            a->prep.drop_short = strcmp(arg, "drop") == 0;
            return 1;
        }
        cli_failf("--length: '%s' is not pad or drop", arg);
        return 0;
    case OPT_STRICT: a->prep.strict = 1; return 1;
    case OPT_ESC10: a->scan.esc10 = 1; return 1;
    case OPT_MANIFEST: a->manifest = arg; return 1;
    case OPT_PATH_COLUMN: a->scan.path_column = arg; return 1;
    case OPT_LABEL_COLUMN: a->scan.label_column = arg; return 1;
    case OPT_FOLD_COLUMN: a->scan.fold_column = arg; return 1;
    case OPT_CLASSES: return parse_classes(a, arg);
    case OPT_RATE: return cli_parse_int("sample-rate", arg, 1000, 384000, &v) && (fc->sample_rate = (int)v);
    case OPT_SECONDS: return cli_parse_double("seconds", arg, 0.01, 3600, &fc->seconds);
    case OPT_MELS: return cli_parse_int("mels", arg, 1, 4096, &v) && (fc->n_mels = (int)v);
    case OPT_FFT: return cli_parse_int("fft", arg, 16, 65536, &v) && (fc->n_fft = (int)v);
    case OPT_HOP: return cli_parse_int("hop", arg, 1, 65536, &v) && (fc->hop = (int)v);
    case OPT_FMIN: return cli_parse_double("fmin", arg, 0, 192000, &fc->fmin);
    case OPT_FMAX: return cli_parse_double("fmax", arg, 1, 192000, &fc->fmax);
    case OPT_PAD:
        if (strcmp(arg, "constant") == 0) fc->pad_mode = SONO_PAD_CONSTANT;
        else if (strcmp(arg, "reflect") == 0) fc->pad_mode = SONO_PAD_REFLECT;
        else {
            cli_failf("--pad: '%s' is not constant or reflect", arg);
            return 0;
        }
        return 1;
    case OPT_MAX_MEMORY: return cli_parse_size("max-memory", arg, &a->prep.max_memory);
    case 'j': return cli_parse_int("jobs", arg, 1, 1024, &v) && (a->prep.jobs = (int)v);
    case 'q': a->quiet = 1; return 1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, prepare_args *a, int *exit_code) {
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},      {"layout", required_argument, 0, OPT_LAYOUT},
        {"exclude", required_argument, 0, OPT_EXCLUDE}, {"skip-missing", no_argument, 0, OPT_SKIP_MISSING},
        {"length", required_argument, 0, OPT_LENGTH}, {"strict", no_argument, 0, OPT_STRICT},
        {"sample-rate", required_argument, 0, OPT_RATE}, {"seconds", required_argument, 0, OPT_SECONDS},
        {"mels", required_argument, 0, OPT_MELS},   {"fft", required_argument, 0, OPT_FFT},
        {"hop", required_argument, 0, OPT_HOP},     {"fmin", required_argument, 0, OPT_FMIN},
        {"fmax", required_argument, 0, OPT_FMAX},   {"pad", required_argument, 0, OPT_PAD},
        {"max-memory", required_argument, 0, OPT_MAX_MEMORY}, {"esc10", no_argument, 0, OPT_ESC10},
        {"manifest", required_argument, 0, OPT_MANIFEST}, {"path-column", required_argument, 0, OPT_PATH_COLUMN},
        {"label-column", required_argument, 0, OPT_LABEL_COLUMN},
        {"fold-column", required_argument, 0, OPT_FOLD_COLUMN}, {"classes", required_argument, 0, OPT_CLASSES},
        {"jobs", required_argument, 0, 'j'},        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},              {0, 0, 0, 0}};
    sono_feature_config_default(&a->prep.features);
    int opt;
    while ((opt = getopt_long(argc, argv, "o:j:qh", longopts, NULL)) != -1) {
        if (opt == 'h') {
            prepare_usage(stdout);
            *exit_code = 0;
            return 0;
        }
        if (opt == '?' || !parse_option(a, opt, optarg)) {
            if (opt == '?') prepare_usage(stderr);
            *exit_code = 2;
            return 0;
        }
    }
    a->scan.exclude = a->excludes;
    int sources = argc - optind + (a->manifest != NULL);
    if (sources != 1 || !a->output) {
        cli_failf("prepare needs one SRC folder (or --manifest FILE) and -o OUT (see 'sonodream prepare --help')");
        *exit_code = 2;
        return 0;
    }
    if (a->manifest) {
        if (a->scan.layout != SONO_LAYOUT_AUTO && a->scan.layout != SONO_LAYOUT_MANIFEST) {
            cli_failf("--manifest reads the manifest layout, not --layout %s", sono_layout_name(a->scan.layout));
            *exit_code = 2;
            return 0;
        }
        a->scan.layout = SONO_LAYOUT_MANIFEST;
    }
    a->source = a->manifest ? a->manifest : argv[optind];
    return 1;
}

static void progress_bar(int64_t done, int64_t total, void *user) {
    cli_progress *p = user;
    cli_progress_update(p, done);
    (void)total;
}

static void print_summary(const sono_clip_list *list, const sono_prepare_report *r, const char *output) {
    printf("wrote %s: %d clips, %d classes (%s layout)\n", output, r->written, list->class_count,
           sono_layout_name(list->layout));
    printf("%-20s", "class");
    for (int f = 0; f < r->fold_count; f++) printf(" %8s", list->fold_names[f]);
    printf(" %8s\n", "total");
    for (int c = 0; c < r->class_count; c++) {
        int total = 0;
        printf("%-20s", list->class_names[c]);
        for (int f = 0; f < r->fold_count; f++) {
            printf(" %8d", r->per_class_fold[c * r->fold_count + f]);
            total += r->per_class_fold[c * r->fold_count + f];
        }
        printf(" %8d\n", total);
    }
    if (r->dropped_short) printf("dropped %d clip(s) shorter than the full length (--length drop)\n", r->dropped_short);
    if (list->missing_count) printf("skipped %d file(s) missing from disk (--skip-missing)\n", list->missing_count);
    for (int i = 0; i < list->skipped_count && i < SKIPPED_LISTED; i++) printf("left out %s\n", list->skipped[i]);
    if (list->skipped_count > SKIPPED_LISTED) printf("left out %d more\n", list->skipped_count - SKIPPED_LISTED);
    printf("skipped %d unreadable file(s)\n", r->skipped_count);
    printf("%.2f s, %.1f clips/s\n", r->seconds, r->seconds > 0 ? (r->written + r->skipped_count) / r->seconds : 0);
}

int cmd_prepare(int argc, char **argv) {
    prepare_args a;
    memset(&a, 0, sizeof a);
    int code = 0;
    if (!parse_args(argc, argv, &a, &code)) {
        free(a.class_text);
        return code;
    }
    cli_log_to_stderr(0);
    sono_error err = {0};
    sono_clip_list *list = NULL;
    sono_status scanned = sono_dataset_scan(a.source, &a.scan, &list, &err);
    free(a.class_text);
    if (scanned != SONO_OK) return cli_fail(&err);
    cli_progress bar;
    cli_progress_start(&bar, "prepare", list->count);
    a.prep.progress = progress_bar;
    a.prep.progress_user = &bar;
    sono_prepare_report report;
    sono_status s = sono_prepare(list, &a.prep, a.output, &report, &err);
    cli_progress_finish(&bar);
    for (int i = 0; !a.quiet && i < report.skipped_count; i++)
        fprintf(stderr, "warning: skipped %s\n", report.skipped[i].reason);
    if (s == SONO_OK) print_summary(list, &report, a.output);
    sono_prepare_report_free(&report);
    sono_clip_list_free(list);
    return s == SONO_OK ? 0 : cli_fail(&err);
}
