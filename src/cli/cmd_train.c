/* sonodream train FEATURES -o MODEL: train a classifier on a feature file. */
#include <ctype.h>
#include <getopt.h>
#include <math.h>
#include <omp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sonodream/distributed.h"
#include "sonodream/train.h"

#define DEFAULT_DATASET "us8k.safetensors"
#define DEFAULT_MODEL "us8k.model"

static void train_usage(FILE *out) {
    fprintf(out,
            "usage: sonodream train FEATURES [-o MODEL] [options]\n"
            "       sonodream train [ITERATIONS [BATCH [DATASET]]]   (the original project's form;\n"
            "                                                       defaults 5000, 100, " DEFAULT_DATASET ")\n\n"
            "Train a CNN on a feature file from 'sonodream prepare'. The best model by\n"
            "validation accuracy is written to MODEL (safetensors), with a CSV log\n"
            "(MODEL.csv), a training-curve picture (MODEL.png) and checkpoints\n"
            "(MODEL.checkpoints/). Ctrl-C writes a checkpoint and stops; --resume continues.\n\n"
            "options:\n"
            "  -o, --output MODEL        model file (default " DEFAULT_MODEL ")\n"
            "      --arch SPEC           preset (seed, seed_bn, xsmall, fat_shallow, slim_deep) or a spec such\n"
            "                            as c32,c32,p4,d0.25,c64,c64,c64,p4,d0.5,f256,f128 (default seed)\n"
            "      --epochs N            epochs (default 40)\n"
            "      --iterations N        stop after N optimizer steps (default: epochs decide)\n"
            "      --batch N             mini-batch size (default 32)\n"
            "      --optimizer NAME      adam (default) or sgd (with momentum)\n"
            "      --lr X                learning rate (default 1e-3 for adam, 1e-2 for sgd)\n"
            "      --momentum X          sgd momentum (default 0.9)\n"
            "      --weight-decay X      decoupled weight decay (default 0.05)\n"
            "      --patience N          halve the lr after N epochs without a better validation\n"
            "                            accuracy (default 4; 0: constant lr)\n"
            "      --schedule NAME       plateau (default: the halving above) or cosine (from --lr\n"
            "                            down to 1e-5 over the run, step by step)\n"
            "      --label-smoothing X   spread X of each target over all classes (default 0)\n"
            "      --train-folds F       folds to train on, e.g. 1-9 (default: all but the last)\n"
            "      --val-folds F         folds to validate on, e.g. 10 (default: the last fold)\n"
            "      --test-folds F        folds to evaluate the best model on at the end\n"
            "                            (class-folder datasets: train 1, validate 2, test 3)\n"
            "      --seed N              random seed (default 1)\n"
            "      --time-shift N        random roll along time, up to N frames (default 32)\n"
            "      --time-masks N        SpecAugment time masks per clip (default 2)\n"
            "      --freq-masks N        SpecAugment frequency masks per clip (default 2)\n"
            "      --mask-width N        widest mask, frames or bands (default 16)\n"
            "      --mixup ALPHA         mix pairs of clips, Beta(ALPHA, ALPHA) (default 0.4; 0: off)\n"
            "      --no-augment          no augmentation (time shift, masks, mixup) at all\n"
            "      --adversarial KIND    adversarial training: none (default), fgsm (one step of 1.25 x\n"
            "                            the radius from a random start, Wong et al. 2020) or pgd (Madry\n"
            "                            et al. 2018, random start): each batch is replaced by its\n"
            "                            perturbation and trained on; MODEL.csv adds the validation\n"
            "                            accuracy under the attack\n"
            "      --adv-epsilon X       the attack's radius (L-infinity) in standard deviations of each\n"
            "                            mel band of the standardised log-mel: X * the band's std in dB\n"
            "                            (default 0.25)\n"
            "      --adv-steps K         pgd steps (default 3)\n"
            "      --adv-step-size X     step, in standard deviations (default fgsm 1.25 X, pgd 2.5 X / K)\n"
            "      --checkpoint-every N  iterations between checkpoints (default 500; 0: none)\n"
            "      --keep N              checkpoints kept (default 5)\n"
            "      --resume CHECKPOINT   continue an interrupted run\n"
            "  -j, --jobs N              threads (default: all cores)\n"
            "  -h, --help                this help\n");
}

enum { OPT_ARCH = 256, OPT_EPOCHS, OPT_ITERATIONS, OPT_BATCH, OPT_OPTIMIZER, OPT_LR, OPT_MOMENTUM, OPT_WD,
       OPT_PATIENCE, OPT_TRAIN_FOLDS, OPT_VAL_FOLDS, OPT_TEST_FOLDS, OPT_SEED, OPT_SHIFT, OPT_TMASKS, OPT_FMASKS,
       OPT_MASK_WIDTH, OPT_MIXUP, OPT_NO_AUGMENT, OPT_CKPT_EVERY, OPT_KEEP, OPT_RESUME, OPT_SCHEDULE,
       OPT_LABEL_SMOOTHING, OPT_ADVERSARIAL, OPT_ADV_EPSILON, OPT_ADV_STEPS, OPT_ADV_STEP_SIZE };

typedef struct train_args {
    sono_train_options t;
    const char *dataset;
    const char *train_folds, *val_folds, *test_folds;
    cli_train_extras extras;
    int jobs;
} train_args;

static int parse_folds_option(const char *name, const char *text, sono_folds *out) {
    sono_error err = {0};
    if (sono_folds_parse(text, out, &err) == SONO_OK) return 1;
    cli_failf("--%s: %s", name, err.message);
    return 0;
}

static int parse_option(train_args *a, int opt, const char *arg) {
    switch (opt) {
    case 'o': a->t.output = arg; return 1;
    case OPT_TRAIN_FOLDS: a->train_folds = arg; return parse_folds_option("train-folds", arg, &a->t.train_folds);
    case OPT_VAL_FOLDS: a->val_folds = arg; return parse_folds_option("val-folds", arg, &a->t.val_folds);
    case OPT_TEST_FOLDS: {
        sono_folds f;
        a->test_folds = arg;
        return parse_folds_option("test-folds", arg, &f);
    }
    case OPT_RESUME: a->t.resume = arg; return 1;
    case 'j': {
        long v;
        return cli_parse_int("jobs", arg, 1, 1024, &v) && (a->jobs = (int)v);
    }
    }
    return 0;
}

static int all_digits(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

/* Positional arguments: FEATURES, or the original ITERATIONS [BATCH [DATASET]]. */
static int parse_positionals(train_args *a, int count, char **args) {
    long v;
    if (count == 0) return 1;
    if (!all_digits(args[0])) {
        if (count > 1) return cli_failf("train takes one feature file (got %d arguments)", count), 0;
        a->dataset = args[0];
        return 1;
    }
    if (count > 3) return cli_failf("train ITERATIONS [BATCH [DATASET]]: too many arguments"), 0;
    if (!cli_parse_int("ITERATIONS", args[0], 1, 1000000000, &v)) return 0;
    a->t.max_iterations = v;
    a->t.epochs = 100000; /* iterations decide */
    if (count > 1) {
        if (!cli_parse_int("BATCH", args[1], 1, 4096, &v)) return 0;
        a->t.batch = (int)v;
    }
    if (count > 2) a->dataset = args[2];
    return 1;
}

static int parse_args(int argc, char **argv, train_args *a, int *code) {
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'}, {"arch", required_argument, 0, OPT_ARCH},
        {"epochs", required_argument, 0, OPT_EPOCHS}, {"iterations", required_argument, 0, OPT_ITERATIONS},
        {"batch", required_argument, 0, OPT_BATCH}, {"optimizer", required_argument, 0, OPT_OPTIMIZER},
        {"lr", required_argument, 0, OPT_LR}, {"momentum", required_argument, 0, OPT_MOMENTUM},
        {"weight-decay", required_argument, 0, OPT_WD}, {"patience", required_argument, 0, OPT_PATIENCE},
        {"train-folds", required_argument, 0, OPT_TRAIN_FOLDS}, {"val-folds", required_argument, 0, OPT_VAL_FOLDS},
        {"test-folds", required_argument, 0, OPT_TEST_FOLDS}, {"seed", required_argument, 0, OPT_SEED},
        {"time-shift", required_argument, 0, OPT_SHIFT}, {"time-masks", required_argument, 0, OPT_TMASKS},
        {"freq-masks", required_argument, 0, OPT_FMASKS}, {"mask-width", required_argument, 0, OPT_MASK_WIDTH},
        {"mixup", required_argument, 0, OPT_MIXUP}, {"no-augment", no_argument, 0, OPT_NO_AUGMENT},
        {"checkpoint-every", required_argument, 0, OPT_CKPT_EVERY}, {"keep", required_argument, 0, OPT_KEEP},
        {"resume", required_argument, 0, OPT_RESUME}, {"jobs", required_argument, 0, 'j'},
        {"schedule", required_argument, 0, OPT_SCHEDULE},
        {"label-smoothing", required_argument, 0, OPT_LABEL_SMOOTHING},
        {"adversarial", required_argument, 0, OPT_ADVERSARIAL}, {"adv-epsilon", required_argument, 0, OPT_ADV_EPSILON},
        {"adv-steps", required_argument, 0, OPT_ADV_STEPS}, {"adv-step-size", required_argument, 0, OPT_ADV_STEP_SIZE},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    sono_train_defaults(&a->t);
    a->t.output = DEFAULT_MODEL;
    a->dataset = DEFAULT_DATASET;
    int opt, index = -1;
    while ((opt = getopt_long(argc, argv, "o:j:h", longopts, &index)) != -1) {
        if (opt == 'h') {
            train_usage(stdout);
            *code = 0;
            return 0;
        }
        int done = opt >= OPT_ARCH ? cli_train_option(&a->t, &a->extras, longopts[index].name, optarg) : -1;
        if (done < 0) done = opt != '?' && parse_option(a, opt, optarg);
        if (!done) {
            if (opt == '?') train_usage(stderr);
            *code = 2;
            return 0;
        }
    }
    cli_train_finish(&a->t, &a->extras);
    if (a->extras.schedule) a->t.cosine = strcmp(a->extras.schedule, "cosine") == 0;
    if (!parse_positionals(a, argc - optind, argv + optind)) {
        *code = 2;
        return 0;
    }
    return 1;
}

/* Defaults for folds: class folders train 1 / validate 2 / test 3; otherwise
 * validate on the last fold present and train on the others. */
static void default_folds(train_args *a, const sono_feature_set *set, sono_folds *test) {
    int max_fold = 0, split_layout = set->fold_count == 3 && strcmp(set->fold_names[0], "train") == 0;
    sono_folds present = 0;
    for (int i = 0; i < set->count; i++) {
        present |= (sono_folds)1 << set->folds[i];
        if (set->folds[i] > max_fold) max_fold = set->folds[i];
    }
    if (split_layout) {
        if (!a->t.train_folds) a->t.train_folds = (sono_folds)1 << 1;
        if (!a->t.val_folds) a->t.val_folds = (sono_folds)1 << 2;
        if (!a->test_folds) *test = (sono_folds)1 << 3;
    } else {
        if (!a->t.val_folds && !a->t.train_folds && max_fold > 1) a->t.val_folds = (sono_folds)1 << max_fold;
        if (!a->t.train_folds) a->t.train_folds = present & ~a->t.val_folds & ~*test;
    }
}

static volatile sig_atomic_t stop_flag = 0;
static void on_sigint(int sig) {
    (void)sig;
    stop_flag = 1;
}

typedef struct train_ui {
    cli_progress bar;
    int epochs;
} train_ui;

static void on_step(int64_t iteration, int batch, int batches, double loss, void *user) {
    train_ui *ui = user;
    (void)iteration, (void)loss;
    if (batch == 1) cli_progress_start(&ui->bar, "epoch", batches);
    cli_progress_update(&ui->bar, batch);
}

static void on_epoch(const sono_epoch_stats *s, void *user) {
    train_ui *ui = user;
    char val[96] = "";
    if (!isnan(s->val_accuracy))
        snprintf(val, sizeof val, "  val acc %5.1f%%  val loss %.4f", 100 * s->val_accuracy, s->val_loss);
    if (!isnan(s->val_robust_accuracy))
        snprintf(val + strlen(val), sizeof val - strlen(val), "  robust %5.1f%%", 100 * s->val_robust_accuracy);
    if (ui->bar.enabled) fputs("\r\033[K", stderr);
    printf("epoch %3d/%d  iter %6lld  loss %.4f  train acc %5.1f%%%s  lr %.2g  %6.1f samples/s%s\n", s->epoch,
           ui->epochs, (long long)s->iteration, s->loss, 100 * s->train_accuracy, val, s->lr, s->samples_per_second,
           s->best ? "  *best" : "");
    fflush(stdout);
}

static void report_test(const char *model_path, const sono_feature_set *set, sono_folds test) {
    sono_error err = {0};
    sono_classifier *c = NULL;
    sono_eval_result r;
    char folds[64];
    sono_folds_format(test, folds, sizeof folds);
    if (sono_classifier_load(model_path, 64, &c, NULL, &err) != SONO_OK ||
        sono_evaluate(c, set, test, &r, &err) != SONO_OK) {
        fprintf(stderr, "sonodream: test folds %s: %s\n", folds, err.message);
        sono_classifier_free(c);
        return;
    }
    printf("test folds %s: accuracy %.1f%% (%d/%d clips), loss %.4f\n", folds, 100.0 * r.correct / r.count, r.correct,
           r.count, r.loss);
    sono_eval_result_free(&r);
    sono_classifier_free(c);
}

int cmd_train(int argc, char **argv) {
    train_args a;
    memset(&a, 0, sizeof a);
    int code = 0;
    if (!parse_args(argc, argv, &a, &code)) return code;
    if (a.jobs) omp_set_num_threads(a.jobs);
    cli_log_to_stderr(0);
    sono_error err = {0};
    sono_feature_set *set = NULL;
    if (sono_feature_set_read(a.dataset, &set, &err) != SONO_OK) return cli_fail(&err);
    sono_folds test = 0;
    if (a.test_folds) sono_folds_parse(a.test_folds, &test, &err);
    default_folds(&a, set, &test);
    char log_path[1100], png_path[1100], tf[64], vf[64];
    snprintf(log_path, sizeof log_path, "%s.csv", a.t.output);
    snprintf(png_path, sizeof png_path, "%s.png", a.t.output);
    a.t.log_csv = log_path, a.t.curve_png = png_path;
    a.t.stop = &stop_flag;
    train_ui ui = {.epochs = a.t.epochs};
    if (a.t.max_iterations > 0) { /* the ITERATIONS form: show the epochs those iterations make */
        int64_t n_train = 0;
        for (int i = 0; i < set->count; i++) n_train += sono_folds_has(a.t.train_folds, set->folds[i]);
        int64_t per_epoch = n_train > 0 ? (n_train + a.t.batch - 1) / a.t.batch : 1;
        int64_t needed = (a.t.max_iterations + per_epoch - 1) / per_epoch;
        if (needed < ui.epochs) ui.epochs = (int)needed;
    }
    a.t.on_step = on_step, a.t.on_epoch = on_epoch, a.t.user = &ui;
    signal(SIGINT, on_sigint);
    signal(SIGTERM, on_sigint);
    sono_folds_format(a.t.train_folds, tf, sizeof tf);
    sono_folds_format(a.t.val_folds, vf, sizeof vf);
    if (sono_dist_rank() == 0 && a.t.adversarial.attack != SONO_ATTACK_NONE) {
        char attack[128];
        sono_adversarial_describe(&a.t.adversarial, attack, sizeof attack);
        fprintf(stderr, "adversarial training: %s\n", attack);
    }
    if (sono_dist_rank() == 0)
        fprintf(stderr, "training %s on %s: train folds %s, validation folds %s, batch %d, %s lr %g, %d threads x %d "
                "ranks\n", a.t.arch, a.dataset, tf, vf[0] ? vf : "none", a.t.batch,
                sono_optim_kind_name(a.t.optim.kind), a.t.optim.lr, omp_get_max_threads(), sono_dist_size());
    sono_train_result result;
    sono_status s = sono_train(set, &a.t, &result, &err);
    if (s == SONO_ERR_INTERRUPTED) {
        fprintf(stderr, "\nsonodream: %s\n", err.message);
        sono_feature_set_free(set);
        return 130;
    }
    if (s != SONO_OK) {
        sono_feature_set_free(set);
        return cli_fail(&err);
    }
    printf("wrote %s after %d epochs, %lld iterations, %.1f s", a.t.output, result.epochs_done,
           (long long)result.iterations, result.seconds);
    if (!isnan(result.best_val_accuracy))
        printf(" (best validation accuracy %.1f%% at epoch %d)", 100 * result.best_val_accuracy, result.best_epoch);
    printf("\nlog %s, curve %s\n", log_path, png_path);
    if (sono_dist_size() > 1)
        printf("%d ranks: %.1f s of %.1f s waiting in collectives (gradient allreduce)\n", sono_dist_size(),
               result.comm_seconds, result.seconds);
    if (test) report_test(a.t.output, set, test);
    sono_feature_set_free(set);
    return 0;
}
