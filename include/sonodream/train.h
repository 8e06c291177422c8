/* sonodream: training a classifier on a feature file, and evaluating it.
 *
 * Splits are by fold, never by shuffling clips across folds. The input is
 * standardised per mel band with training-set statistics (stored in the
 * model). Mini-batches are shuffled each epoch from (seed, epoch); every
 * random choice (shuffle, augmentation, dropout) is derived from the seed and
 * the position, so an interrupted run resumed from a checkpoint continues to
 * the same result as an uninterrupted one. */
#ifndef SONODREAM_TRAIN_H
#define SONODREAM_TRAIN_H

#include <signal.h>
#include <stdint.h>

#include "sonodream/classifier.h"
#include "sonodream/data.h"
#include "sonodream/error.h"
#include "sonodream/nn.h"

#include "sonodream/export.h"

SONO_BEGIN_DECLS

/* A set of folds 1..63 as a bit mask (bit k = fold k). */
typedef uint64_t sono_folds;

/* Parse "1-9", "10", "1,3,5-7" into a mask; fails naming the bad part. */
sono_status sono_folds_parse(const char *text, sono_folds *out, sono_error *err);
/* "1-9" style text for a mask. */
void sono_folds_format(sono_folds folds, char *buf, int size);
static inline int sono_folds_has(sono_folds folds, int fold) {
    return fold >= 1 && fold <= 63 && ((folds >> fold) & 1u);
}

typedef struct sono_augment {
    int time_shift;      /* max random roll along time, frames (0: off) */
    int time_masks;      /* SpecAugment time masks per clip */
    int time_mask_width; /* max frames per time mask */
    int freq_masks;      /* SpecAugment frequency masks per clip */
    int freq_mask_width; /* max bands per frequency mask */
    float mixup;         /* mixup alpha (0: off): mix two clips and their labels */
} sono_augment;

/* ---- adversarial perturbations of the network's input ----
 * The network sees the standardised log-mel: each mel band m minus its
 * training mean, divided by its training standard deviation norm_std[m]. An
 * attack moves every cell of that input by at most `epsilon` (an L-infinity
 * ball in standardised units), which is epsilon * norm_std[m] dB of the
 * log-mel in band m. It raises the cross-entropy by steps along the sign of
 * the input gradient, each followed by projection into the ball, from a
 * random start drawn uniformly from the ball:
 *   FGSM: one step of 1.25 epsilon (Wong et al. 2020, "Fast is better than
 *         free"); PGD: `steps` steps of 2.5 epsilon / steps (Madry et al.
 *         2018). No step is larger than epsilon.
 * The attack runs the network in inference mode (dropout off, batch norm
 * with its running statistics): it neither advances the dropout stream nor
 * changes batch norm's running statistics, and each clip's perturbation
 * depends on that clip alone, however a batch is split across ranks. */
typedef enum sono_attack_kind {
    SONO_ATTACK_NONE = 0,
    SONO_ATTACK_FGSM,
    SONO_ATTACK_PGD
} sono_attack_kind;

#define SONO_ADV_EPSILON 0.25f /* standard deviations of each band */
#define SONO_ADV_PGD_STEPS 3

typedef struct sono_adversarial {
    sono_attack_kind attack;
    float epsilon;   /* L-infinity radius, standardised units (0.25) */
    int steps;       /* PGD steps (3); FGSM takes one */
    float step_size; /* per step, standardised units (0: FGSM 1.25 eps, PGD 2.5 eps / steps) */
} sono_adversarial;

/* `kind` with epsilon 0.25, 3 PGD steps and the default step size. */
sono_adversarial sono_adversarial_defaults(sono_attack_kind kind);
const char *sono_attack_name(sono_attack_kind kind); /* "none", "fgsm", "pgd" */
/* The kind called `name` ("none", "fgsm", "pgd"); -1 for another name. */
int sono_attack_from_name(const char *name);
/* The steps and step size an attack takes (its defaults resolved). */
int sono_adversarial_steps(const sono_adversarial *a);
float sono_adversarial_step_size(const sono_adversarial *a);
/* "PGD-10 eps 0.25 std, step 0.05" (or "none"), snprintf style. */
int sono_adversarial_describe(const sono_adversarial *a, char *buf, size_t size);
/* Refuses an attack outside its ranges, naming the value. */
sono_status sono_adversarial_check(const sono_adversarial *a, sono_error *err);

/* Perturb x (n, C, H, W), standardised inputs of the net's built shape, in
 * place to raise the cross-entropy against `targets` (n, classes; each row
 * a distribution, e.g. one-hot). start_keys (n) seed each clip's random
 * start (NULL: start at x itself). Attack NONE leaves x as it is. */
sono_status sono_adversarial_perturb(sono_net *net, const sono_adversarial *a, float *x, int n, const float *targets,
                                     const uint64_t *start_keys, sono_error *err);

typedef struct sono_epoch_stats {
    int epoch;             /* 1-based */
    int64_t iteration;     /* optimizer steps so far */
    double loss;           /* mean training loss over the epoch */
    double train_accuracy; /* running accuracy on the (augmented) training batches */
    double val_accuracy;   /* on the validation folds (NAN without them) */
    double val_loss;
    double val_robust_accuracy; /* on the validation folds under the training attack (NAN without
                                   validation folds or without adversarial training) */
    double lr;
    double samples_per_second;
    int best;              /* 1 when this epoch gave the best model so far */
} sono_epoch_stats;

typedef void (*sono_epoch_fn)(const sono_epoch_stats *stats, void *user);
typedef void (*sono_step_fn)(int64_t iteration, int batch_in_epoch, int batches_per_epoch, double loss,
                             void *user);

typedef struct sono_train_options {
    const char *arch;          /* spec or preset (NULL: "seed") */
    uint64_t seed;
    int epochs;                /* 40 */
    int64_t max_iterations;    /* stop after this many steps (0: epochs decide) */
    int batch;                 /* 32 */
    sono_optim_config optim;   /* Adam, lr 1e-3, decoupled weight decay 0.05 */
    float plateau_factor;      /* lr *= factor when val accuracy has not improved ... */
    int plateau_patience;      /* ... for this many epochs (0: constant lr) */
    float min_lr;
    sono_folds train_folds, val_folds;
    sono_augment augment;
    int cosine;                /* 1: the lr follows a cosine from optim.lr down to min_lr
                                  over the whole run, per step (no plateau halving) */
    float label_smoothing;     /* spread this much of each target over all classes (0: off) */
    sono_adversarial adversarial; /* attack NONE (default): standard training. Otherwise each
                                  batch, after augmentation, is replaced by its perturbation under
                                  this attack (against the batch's own training targets; random
                                  starts from the seed, the epoch and the clip) and the step is
                                  taken on it alone (Madry et al.); the validation folds are also
                                  scored under it. Stored in checkpoints: a resume with other
                                  settings is refused. */
    const char *output;        /* model file: the best model by val accuracy (or the last) */
    const char *checkpoint_dir;/* NULL: "<output>.checkpoints" */
    int checkpoint_every;      /* iterations between checkpoints (0: off) */
    int keep_checkpoints;      /* 5 */
    const char *log_csv;       /* per-epoch CSV (NULL: none) */
    const char *curve_png;     /* training-curve picture (NULL: none) */
    const char *resume;        /* checkpoint to continue from (NULL: fresh) */
    volatile sig_atomic_t *stop; /* set to non-zero to stop: a checkpoint is written */
    sono_epoch_fn on_epoch;
    sono_step_fn on_step;
    void *user;
} sono_train_options;

void sono_train_defaults(sono_train_options *opt);

typedef struct sono_train_result {
    int epochs_done;
    int64_t iterations;
    double best_val_accuracy; /* NAN without validation folds */
    int best_epoch;
    double seconds;
    double comm_seconds;      /* of them, waiting in the ranks' collectives (MPI; 0 alone) */
    char last_checkpoint[1024];
} sono_train_result;

/* Train on `set`. Under MPI (sono_dist_size() > 1) every rank calls this
 * with the same feature file and options: each takes its part of every
 * global batch, the gradients are summed over the ranks, every rank takes the
 * same step, validation is split; rank 0 alone writes files. Writes opt->output (atomically, each time the validation
 * accuracy improves; at the end when there are no validation folds), the
 * checkpoints, the CSV log and the picture. Returns SONO_ERR_INTERRUPTED
 * after writing a checkpoint when *opt->stop became non-zero. */
sono_status sono_train(const sono_feature_set *set, const sono_train_options *opt, sono_train_result *result,
                       sono_error *err);

/* ---- evaluation ---- */

typedef struct sono_eval_result {
    int classes;
    int count;        /* clips evaluated */
    int correct;
    double loss;      /* mean cross-entropy */
    int *confusion;   /* (classes, classes): row = true class, column = predicted */
} sono_eval_result;

/* Refuses a feature set whose configuration or classes differ from the
 * model's, naming the difference. folds = 0 evaluates every clip. Under MPI
 * every rank calls it: the clips are split and the results summed. */
sono_status sono_evaluate(sono_classifier *c, const sono_feature_set *set, sono_folds folds,
                          sono_eval_result *result, sono_error *err);
#define SONO_TTA_MAX_SHIFT 32 /* frames: the default training time shift */

/* The same, averaging the class probabilities over `shifts` circular time
 * shifts of each clip, evenly spaced in [-max_shift, max_shift] frames (the
 * training augmentation's range; shifts = 1: no shift, as sono_evaluate). */
sono_status sono_evaluate_shifted(sono_classifier *c, const sono_feature_set *set, sono_folds folds, int shifts,
                                  int max_shift, sono_eval_result *result, sono_error *err);

/* An ensemble: the class probabilities of `count` models (each compatible
 * with the set, each standardising with its own statistics) averaged, and
 * over `shifts` time shifts as above. count = 1 is sono_evaluate_shifted. */
sono_status sono_evaluate_ensemble(sono_classifier *const *models, int count, const sono_feature_set *set,
                                   sono_folds folds, int shifts, int max_shift, sono_eval_result *result,
                                   sono_error *err);
/* Clean accuracy, and robust accuracy: each clip replaced by its
 * perturbation under `attack` (against its true class) before it is
 * classified. The random starts are fixed per clip (from its index in the
 * set), so the result repeats and is the same under MPI (clips split,
 * results summed, as sono_evaluate). `clean` may be NULL. */
sono_status sono_evaluate_robust(sono_classifier *c, const sono_feature_set *set, sono_folds folds,
                                 const sono_adversarial *attack, sono_eval_result *clean, sono_eval_result *robust,
                                 sono_error *err);
void sono_eval_result_free(sono_eval_result *r); /* NULL is a no-op. */

/* Check that a feature set can be used with a classifier. */
sono_status sono_check_compatible(const sono_classifier *c, const sono_feature_set *set, const char *set_path,
                                  sono_error *err);

/* ---- cross-validation: the dataset's own k-fold protocol ---- */

typedef void (*sono_fold_fn)(int fold, int index, int count, int resumed, void *user);

typedef struct sono_crossval_options {
    sono_train_options train;  /* per fold: output, folds, logs and resume are set here;
                                  stop, on_epoch, on_step and user are passed on */
    const char *out_dir;       /* created if needed; one model per fold is kept there */
    sono_folds folds;          /* the folds to test (0: every fold present) */
    int val_next;              /* 1: validate on the next fold present (wrapping) and keep the
                                  best model; 0: no validation, the model after the last epoch */
    int test_shifts;           /* test-time averaging over this many time shifts (<= 1: none) */
    sono_fold_fn on_fold;      /* called as each fold starts (or is found finished) */
    void *user;
} sono_crossval_options;

typedef struct sono_crossval_fold {
    int fold;          /* the test fold */
    int val_fold;      /* with val_next, else 0 */
    int count, correct;
    double accuracy;
    int resumed;       /* 1: found finished in out_dir, not trained again */
} sono_crossval_fold;

typedef struct sono_crossval_result {
    int fold_count;
    sono_crossval_fold *folds;     /* (fold_count) */
    double mean, std;              /* of the per-fold accuracies (std: sample, n - 1) */
    int classes;
    int *confusion;                /* (classes, classes) pooled over folds: row true, column predicted */
    double *precision, *recall, *f1; /* (classes) from the pooled confusion matrix */
    double pooled_accuracy;
} sono_crossval_result;

/* For each chosen fold: train on every other fold (less the validation fold
 * with val_next) and test on it. Writes into out_dir: fold<k>.model (+ .csv,
 * .png, .checkpoints/), fold<k>.json (that fold's result; its presence marks
 * the fold finished, so a killed run resumes there; an unfinished fold
 * continues from its newest checkpoint), and at the end crossval.json,
 * crossval.csv (per fold and per class) and crossval.png (per-fold accuracy
 * and the pooled confusion matrix). A fold file written with other options
 * is refused, naming the difference. Returns SONO_ERR_INTERRUPTED when
 * *train.stop was set (a checkpoint is written). */
sono_status sono_crossval(const sono_feature_set *set, const sono_crossval_options *opt,
                          sono_crossval_result *result, sono_error *err);
void sono_crossval_result_free(sono_crossval_result *r); /* NULL is a no-op. */

SONO_END_DECLS
#endif
