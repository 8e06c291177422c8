/* sonodream crossval FEATURES -o DIR: the dataset's own k-fold protocol. */
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sonodream/train.h"

static void crossval_usage(FILE *out) {
    fprintf(out,
            "usage: sonodream crossval FEATURES -o DIR [options]\n\n"
            "Cross-validation by the dataset's own folds (UrbanSound8K: 10, ESC-50: 5): for\n"
            "each fold, train on the other folds and test on it. Writes into DIR one model\n"
            "per fold (foldK.model, with .csv, .png and checkpoints), foldK.json per finished\n"
            "fold, and crossval.json, crossval.csv, crossval-classes.csv (precision, recall,\n"
            "F1), crossval-confusion.csv and crossval.png (per-fold accuracy, pooled\n"
            "confusion matrix). Run the same command again to resume: finished folds are\n"
            "not trained again, an unfinished one continues from its newest checkpoint.\n\n"
            "options:\n"
            "  -o, --output DIR          output folder (required)\n"
            "      --folds F             test only these folds, e.g. 1-3 (default: every fold)\n"
            "      --tta N               test on the average over N time shifts of each clip\n"
            "                            (+-32 frames; default 1: none)\n"
            "      --val MODE            none (default: no validation, the model after the last\n"
            "                            epoch) or next (validate on the next fold, keep the best)\n"
            "training options, as for 'sonodream train' (defaults the same, except the\n"
            "schedule, which is cosine without validation):\n"
            "      --arch SPEC  --epochs N  --iterations N  --batch N  --optimizer adam|sgd\n"
            "      --lr X  --momentum X  --weight-decay X  --patience N  --schedule plateau|cosine\n"
            "      --label-smoothing X  --seed N  --time-shift N  --time-masks N  --freq-masks N\n"
            "      --mask-width N  --mixup ALPHA  --no-augment  --checkpoint-every N  --keep N\n"
            "      --adversarial none|fgsm|pgd  --adv-epsilon X  --adv-steps K  --adv-step-size X\n"
            "  -j, --jobs N              threads (default: all cores)\n"
            "  -h, --help                this help\n");
}

enum { OPT_ARCH = 256, OPT_EPOCHS, OPT_ITERATIONS, OPT_BATCH, OPT_OPTIMIZER, OPT_LR, OPT_MOMENTUM, OPT_WD,
       OPT_PATIENCE, OPT_SCHEDULE, OPT_LABEL_SMOOTHING, OPT_SEED, OPT_SHIFT, OPT_TMASKS, OPT_FMASKS, OPT_MASK_WIDTH,
       OPT_MIXUP, OPT_NO_AUGMENT, OPT_CKPT_EVERY, OPT_KEEP, OPT_ADVERSARIAL, OPT_ADV_EPSILON, OPT_ADV_STEPS,
       OPT_ADV_STEP_SIZE, OPT_FOLDS, OPT_VAL, OPT_TTA };

typedef struct crossval_args {
    sono_crossval_options cv;
    const char *features;
    cli_train_extras extras;
    int jobs;
} crossval_args;

static int parse_option(crossval_args *a, int opt, const char *arg) {
    long v;
    sono_error err = {0};
    switch (opt) {
    case 'o': a->cv.out_dir = arg; return 1;
    case OPT_FOLDS:
        if (sono_folds_parse(arg, &a->cv.folds, &err) == SONO_OK) return 1;
        return cli_failf("--folds: %s", err.message), 0;
    case OPT_VAL:
        if (strcmp(arg, "none") != 0 && strcmp(arg, "next") != 0) return cli_failf("--val: '%s' is not none or next", arg), 0;
        a->cv.val_next = strcmp(arg, "next") == 0;
        return 1;
    case OPT_TTA: return cli_parse_int("tta", arg, 1, 64, &v) && ((a->cv.test_shifts = (int)v), 1);
    case 'j': return cli_parse_int("jobs", arg, 1, 1024, &v) && (a->jobs = (int)v);
    }
    return 0;
}

static int parse_args(int argc, char **argv, crossval_args *a, int *code) {
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'}, {"arch", required_argument, 0, OPT_ARCH},
        {"epochs", required_argument, 0, OPT_EPOCHS}, {"iterations", required_argument, 0, OPT_ITERATIONS},
        {"batch", required_argument, 0, OPT_BATCH}, {"optimizer", required_argument, 0, OPT_OPTIMIZER},
        {"lr", required_argument, 0, OPT_LR}, {"momentum", required_argument, 0, OPT_MOMENTUM},
        {"weight-decay", required_argument, 0, OPT_WD}, {"patience", required_argument, 0, OPT_PATIENCE},
        {"schedule", required_argument, 0, OPT_SCHEDULE}, {"label-smoothing", required_argument, 0, OPT_LABEL_SMOOTHING},
        {"seed", required_argument, 0, OPT_SEED}, {"time-shift", required_argument, 0, OPT_SHIFT},
        {"time-masks", required_argument, 0, OPT_TMASKS}, {"freq-masks", required_argument, 0, OPT_FMASKS},
        {"mask-width", required_argument, 0, OPT_MASK_WIDTH}, {"mixup", required_argument, 0, OPT_MIXUP},
        {"no-augment", no_argument, 0, OPT_NO_AUGMENT}, {"checkpoint-every", required_argument, 0, OPT_CKPT_EVERY},
        {"keep", required_argument, 0, OPT_KEEP}, {"adversarial", required_argument, 0, OPT_ADVERSARIAL},
        {"adv-epsilon", required_argument, 0, OPT_ADV_EPSILON}, {"adv-steps", required_argument, 0, OPT_ADV_STEPS},
        {"adv-step-size", required_argument, 0, OPT_ADV_STEP_SIZE}, {"folds", required_argument, 0, OPT_FOLDS},
        {"val", required_argument, 0, OPT_VAL}, {"tta", required_argument, 0, OPT_TTA}, {"jobs", required_argument, 0, 'j'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    sono_train_defaults(&a->cv.train);
    int opt, index = -1;
    while ((opt = getopt_long(argc, argv, "o:j:h", longopts, &index)) != -1) {
        if (opt == 'h') {
            crossval_usage(stdout);
            *code = 0;
            return 0;
        }
        int done = opt >= OPT_ARCH ? cli_train_option(&a->cv.train, &a->extras, longopts[index].name, optarg) : -1;
        if (done < 0) done = opt != '?' && parse_option(a, opt, optarg);
        if (!done) {
            if (opt == '?') crossval_usage(stderr);
            *code = 2;
            return 0;
        }
    }
    cli_train_finish(&a->cv.train, &a->extras);
    /* Without validation nothing drives the plateau schedule: a fixed cosine instead. */
    a->cv.train.cosine = a->extras.schedule ? strcmp(a->extras.schedule, "cosine") == 0 : !a->cv.val_next;
    if (optind + 1 != argc || !a->cv.out_dir) {
        cli_failf("crossval needs one feature file and -o DIR (see 'sonodream crossval --help')");
        *code = 2;
        return 0;
    }
    a->features = argv[optind];
    return 1;
}

static volatile sig_atomic_t stop_flag = 0;
static void on_signal(int sig) {
    (void)sig;
    stop_flag = 1;
}

typedef struct crossval_ui {
    cli_progress bar;
    int fold, index, count, epochs;
} crossval_ui;

static void on_fold(int fold, int index, int count, int resumed, void *user) {
    crossval_ui *ui = user;
    ui->fold = fold, ui->index = index, ui->count = count;
    if (resumed) fprintf(stderr, "fold %d (%d/%d): finished earlier, result read from its fold%d.json\n", fold, index, count, fold);
}

static void on_step(int64_t iteration, int batch, int batches, double loss, void *user) {
    crossval_ui *ui = user;
    (void)iteration, (void)loss;
    if (batch == 1) cli_progress_start(&ui->bar, "epoch", batches);
    cli_progress_update(&ui->bar, batch);
}

static void on_epoch(const sono_epoch_stats *s, void *user) {
    crossval_ui *ui = user;
    char val[48] = "";
    if (!isnan(s->val_accuracy)) snprintf(val, sizeof val, "  val acc %5.1f%%", 100 * s->val_accuracy);
    if (!isnan(s->val_robust_accuracy))
        snprintf(val + strlen(val), sizeof val - strlen(val), "  robust %5.1f%%", 100 * s->val_robust_accuracy);
    if (ui->bar.enabled) fputs("\r\033[K", stderr);
    fprintf(stderr, "fold %d (%d/%d)  epoch %3d/%d  loss %.4f  train acc %5.1f%%%s  lr %.2g  %.0f samples/s\n",
            ui->fold, ui->index, ui->count, s->epoch, ui->epochs, s->loss, 100 * s->train_accuracy, val, s->lr,
            s->samples_per_second);
}

static void print_result(const sono_crossval_result *r, const sono_feature_set *set, const char *dir) {
    printf("%-6s %8s %8s %9s\n", "fold", "clips", "correct", "accuracy");
    for (int i = 0; i < r->fold_count; i++)
        printf("%-6d %8d %8d %8.1f%%\n", r->folds[i].fold, r->folds[i].count, r->folds[i].correct,
               100 * r->folds[i].accuracy);
    if (isfinite(r->std)) printf("mean accuracy %.1f%% +- %.1f (std over %d folds)\n", 100 * r->mean, 100 * r->std, r->fold_count);
    else printf("mean accuracy %.1f%% (one fold)\n", 100 * r->mean);
    printf("pooled accuracy %.1f%%\n\n%-20s %9s %9s %9s\n", 100 * r->pooled_accuracy, "class", "precision", "recall", "F1");
    for (int k = 0; k < r->classes; k++)
        printf("%-20s %9.3f %9.3f %9.3f\n", set->class_names[k], r->precision[k], r->recall[k], r->f1[k]);
    printf("\nwrote %s/crossval.json, crossval.csv, crossval-classes.csv, crossval-confusion.csv, crossval.png\n", dir);
}

int cmd_crossval(int argc, char **argv) {
    crossval_args a;
    memset(&a, 0, sizeof a);
    int code = 0;
    if (!parse_args(argc, argv, &a, &code)) return code;
    if (a.jobs) omp_set_num_threads(a.jobs);
    cli_log_to_stderr(0);
    sono_error err = {0};
    sono_feature_set *set = NULL;
    if (sono_feature_set_read(a.features, &set, &err) != SONO_OK) return cli_fail(&err);
    crossval_ui ui = {.epochs = a.cv.train.epochs};
    a.cv.train.stop = &stop_flag;
    a.cv.train.on_step = on_step, a.cv.train.on_epoch = on_epoch, a.cv.train.user = &ui;
    a.cv.on_fold = on_fold, a.cv.user = &ui;
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    fprintf(stderr, "cross-validation of %s on %s: %s, %s schedule, validation %s, %d threads\n",
            a.cv.train.arch, a.features, a.cv.folds ? "chosen folds" : "every fold",
            a.cv.train.cosine ? "cosine" : "plateau", a.cv.val_next ? "on the next fold" : "none",
            omp_get_max_threads());
    sono_crossval_result r;
    sono_status s = sono_crossval(set, &a.cv, &r, &err);
    if (s == SONO_OK) print_result(&r, set, a.cv.out_dir);
    sono_crossval_result_free(&r);
    sono_feature_set_free(set);
    if (s == SONO_ERR_INTERRUPTED) {
        fprintf(stderr, "\nsonodream: interrupted; run the same command again to resume\n");
        return 130;
    }
    return s == SONO_OK ? 0 : cli_fail(&err);
}
