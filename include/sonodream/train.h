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

typedef struct sono_epoch_stats {
    int epoch;             /* 1-based */
    int64_t iteration;     /* optimizer steps so far */
    double loss;           /* mean training loss over the epoch */
    double train_accuracy; /* running accuracy on the (augmented) training batches */
    double val_accuracy;   /* on the validation folds (NAN without them) */
    double val_loss;
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
void sono_eval_result_free(sono_eval_result *r);

/* Check that a feature set can be used with a classifier. */
sono_status sono_check_compatible(const sono_classifier *c, const sono_feature_set *set, const char *set_path,
                                  sono_error *err);

SONO_END_DECLS
#endif
