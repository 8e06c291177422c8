/* The training loop: fold splits, standardisation, shuffled mini-batches,
 * augmentation, Adam/SGD, a plateau schedule, best-model and checkpoint
 * files, and resume. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "adversarial.h"
#include "augment.h"
#include "data_parallel.h"
#include "sonodream/distributed.h"
#include "sonodream/fileio.h"
#include "sonodream/plot.h"
#include "sonodream/safetensors.h"
#include "sonodream/train.h"

#define TRAIN_STATE_KEY "train_state"
#define MAX_EPOCHS 100000

/* Defaults chosen by validation accuracy on UrbanSound8K folds 1 and 2
 * (bench/train_reference.py sweeps the same augmentations; see the README). */
void sono_train_defaults(sono_train_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->arch = SONO_ARCH_DEFAULT;
    opt->seed = 1;
    opt->epochs = 40;
    opt->batch = 32;
    opt->optim = sono_optim_defaults(SONO_OPTIM_ADAM);
    opt->optim.weight_decay = 0.05f;
    opt->plateau_factor = 0.5f;
    opt->plateau_patience = 4;
    opt->min_lr = 1e-5f;
    opt->checkpoint_every = 500;
    opt->keep_checkpoints = 5;
    opt->augment = (sono_augment){.time_shift = 32, .time_masks = 2, .time_mask_width = 16, .freq_masks = 2,
                                  .freq_mask_width = 16, .mixup = 0.4f};
    opt->adversarial = sono_adversarial_defaults(SONO_ATTACK_NONE);
}

typedef struct epoch_row {
    double loss, train_acc, val_acc, val_loss, lr, sps, val_robust;
} epoch_row;
#define EPOCH_ROW_VALUES 7 /* checkpoints before adversarial training hold the first 6 */

typedef struct trainer {
    const sono_feature_set *set;
    const sono_train_options *opt;
    int H, W, K, B;
    int part_max;                /* most samples of a batch one rank takes (B with one rank) */
    int stop_agreed;             /* a rank was asked to stop (all ranks agree after each step) */
    int *train_idx, n_train;     /* clips in the training folds */
    int *val_idx, n_val;         /* clips in the validation folds */
    int *order;                  /* (n_train) this epoch's shuffle */
    sono_classifier *model;
    sono_optim *optim;
    float *x;                    /* (B, 1, H, W) batch input */
    float *partner;              /* (H, W) mixup partner */
    float *scratch;              /* (W) */
    int32_t *y1, *y2;            /* (B) labels, mixup partner labels */
    float *lambda;               /* (B) mixup weight of y1 */
    float *probs, *dlogits;      /* (B, K) */
    float *adv_targets;          /* (part_max, K) the attack's targets (adversarial training only) */
    float *adv_origin, *adv_grad;/* (part_max, 1, H, W) the attack's unperturbed batch and input gradient */
    uint64_t *adv_keys;          /* (part_max) each clip's random-start key */
    /* position and schedule (saved in checkpoints) */
    int epoch;                   /* 0-based epoch in progress */
    int batch_pos;               /* next batch of the epoch */
    int64_t iteration;
    double best_val;
    int best_epoch, since_best;
    double loss_sum;             /* over this epoch's batches so far */
    int seen, correct;
    double epoch_seconds;
    epoch_row *history;          /* (epochs) */
    int history_count;
    char checkpoint_dir[960];
    char last_checkpoint[1024];
} trainer;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void trainer_free(trainer *t) {
    free(t->train_idx), free(t->val_idx), free(t->order);
    free(t->x), free(t->partner), free(t->scratch);
    free(t->y1), free(t->y2), free(t->lambda), free(t->probs), free(t->dlogits);
    free(t->adv_targets), free(t->adv_origin), free(t->adv_grad), free(t->adv_keys);
    free(t->history);
    sono_optim_free(t->optim);
    sono_classifier_free(t->model);
}

static sono_status split_folds(trainer *t, sono_error *err) {
    const sono_feature_set *s = t->set;
    t->train_idx = malloc((size_t)(s->count ? s->count : 1) * sizeof(int));
    t->val_idx = malloc((size_t)(s->count ? s->count : 1) * sizeof(int));
    t->order = malloc((size_t)(s->count ? s->count : 1) * sizeof(int));
    if (!t->train_idx || !t->val_idx || !t->order) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    if (t->opt->train_folds & t->opt->val_folds)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "a fold cannot be both a training and a validation fold");
    for (int i = 0; i < s->count; i++) {
        if (sono_folds_has(t->opt->train_folds, s->folds[i])) t->train_idx[t->n_train++] = i;
        else if (sono_folds_has(t->opt->val_folds, s->folds[i])) t->val_idx[t->n_val++] = i;
    }
    char folds[64];
    sono_folds_format(t->opt->train_folds, folds, sizeof folds);
    if (t->n_train == 0)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "no clips in the training folds (%s)", folds);
    return SONO_OK;
}

static sono_status allocate_buffers(trainer *t, sono_error *err) {
    size_t clip = (size_t)t->H * t->W;
    t->x = malloc((size_t)t->B * clip * sizeof(float));
    t->partner = malloc(clip * sizeof(float));
    t->scratch = malloc((size_t)(t->W > t->H ? t->W : t->H) * sizeof(float));
    t->y1 = malloc((size_t)t->B * sizeof(int32_t));
    t->y2 = malloc((size_t)t->B * sizeof(int32_t));
    t->lambda = malloc((size_t)t->B * sizeof(float));
    t->probs = malloc((size_t)t->B * t->K * sizeof(float));
    t->dlogits = malloc((size_t)t->B * t->K * sizeof(float));
    int epochs = t->opt->epochs > 0 ? t->opt->epochs : 1;
    t->history = calloc((size_t)epochs, sizeof *t->history);
    if (!t->x || !t->partner || !t->scratch || !t->y1 || !t->y2 || !t->lambda || !t->probs || !t->dlogits ||
        !t->history)
        return sono_error_set(err, SONO_ERR_MEMORY, "out of memory for training buffers");
    if (t->opt->adversarial.attack == SONO_ATTACK_NONE) return SONO_OK;
    size_t part = (size_t)t->part_max;
    t->adv_targets = malloc(part * t->K * sizeof(float));
    t->adv_origin = malloc(part * clip * sizeof(float));
    t->adv_grad = malloc(part * clip * sizeof(float));
    t->adv_keys = malloc(part * sizeof(uint64_t));
    if (!t->adv_targets || !t->adv_origin || !t->adv_grad || !t->adv_keys)
        return sono_error_set(err, SONO_ERR_MEMORY, "out of memory for the adversarial training buffers");
    return SONO_OK;
}

static sono_status build_fresh(trainer *t, sono_error *err) {
    sono_net *net = NULL;
    sono_shape input = {1, t->H, t->W};
    sono_status s = sono_net_new(&net, t->opt->arch, input, t->K, t->part_max, t->opt->seed, err);
    if (s != SONO_OK) return s;
    float *mean = malloc((size_t)t->H * sizeof(float)), *std = malloc((size_t)t->H * sizeof(float));
    if (!mean || !std) {
        free(mean), free(std);
        sono_net_free(net);
        return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    }
    s = sono_band_statistics(t->set, t->train_idx, t->n_train, mean, std, err);
    if (s == SONO_OK) s = sono_classifier_new(&t->model, net, &t->set->config, t->set->class_names, t->set->class_count, mean, std,
                            err);
    free(mean), free(std);
    if (s != SONO_OK) {
        sono_net_free(net);
        return s;
    }
    size_t count;
    sono_net_params(net, &count);
    s = sono_optim_new(&t->optim, &t->opt->optim, count, err);
    t->best_val = -1;
    return s;
}

/* ---------------------------------------------------------------- state */

/* The attack's settings as the checkpoint keeps them (a resume compares). */
static cJSON *adversarial_json(const sono_adversarial *a) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "attack", sono_attack_name(a->attack));
    if (a->attack == SONO_ATTACK_NONE) return o;
    cJSON_AddNumberToObject(o, "epsilon", a->epsilon);
    cJSON_AddNumberToObject(o, "steps", sono_adversarial_steps(a));
    cJSON_AddNumberToObject(o, "step_size", sono_adversarial_step_size(a));
    return o;
}

/* A checkpoint continues only the run it was written by: other adversarial
 * settings would make another model, so they are refused, naming both. A
 * checkpoint without the key predates adversarial training: attack none. */
static sono_status check_same_adversarial(const trainer *t, const char *path, const cJSON *saved, sono_error *err) {
    cJSON *now = adversarial_json(&t->opt->adversarial), *none = NULL;
    if (!saved) saved = none = adversarial_json(&(sono_adversarial){.attack = SONO_ATTACK_NONE});
    int same = cJSON_Compare(saved, now, 1);
    char *was = cJSON_PrintUnformatted(saved), *is = cJSON_PrintUnformatted(now);
    sono_status s = same ? SONO_OK
                         : sono_error_set(err, SONO_ERR_ARGUMENT,
                                          "%s: written with other adversarial settings (%.200s, now %.200s); resume "
                                          "with the same --adversarial options",
                                          path, was ? was : "?", is ? is : "?");
    free(was), free(is);
    cJSON_Delete(now), cJSON_Delete(none);
    return s;
}

static char *state_json(const trainer *t) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "epoch", t->epoch);
    cJSON_AddNumberToObject(o, "batch_pos", t->batch_pos);
    cJSON_AddNumberToObject(o, "iteration", (double)t->iteration);
    cJSON_AddNumberToObject(o, "best_val", t->best_val);
    cJSON_AddNumberToObject(o, "best_epoch", t->best_epoch);
    cJSON_AddNumberToObject(o, "since_best", t->since_best);
    cJSON_AddNumberToObject(o, "loss_sum", t->loss_sum);
    cJSON_AddNumberToObject(o, "seen", t->seen);
    cJSON_AddNumberToObject(o, "correct", t->correct);
    cJSON_AddNumberToObject(o, "seed", (double)t->opt->seed);
    cJSON_AddItemToObject(o, "adversarial", adversarial_json(&t->opt->adversarial));
    cJSON *h = cJSON_AddArrayToObject(o, "history");
    for (int i = 0; i < t->history_count; i++) {
        const epoch_row *r = &t->history[i];
        double v[EPOCH_ROW_VALUES] = {r->loss, r->train_acc, r->val_acc, r->val_loss, r->lr, r->sps, r->val_robust};
        cJSON *row = cJSON_CreateArray();
        for (int k = 0; k < EPOCH_ROW_VALUES; k++) cJSON_AddItemToArray(row, isfinite(v[k]) ? cJSON_CreateNumber(v[k]) : cJSON_CreateNull());
        cJSON_AddItemToArray(h, row);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static double json_number(const cJSON *o, const char *key, int *ok) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!cJSON_IsNumber(v)) *ok = 0;
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static sono_status restore_state(trainer *t, const char *path, const char *text, sono_error *err) {
    cJSON *o = text ? cJSON_Parse(text) : NULL;
    int ok = cJSON_IsObject(o);
    t->epoch = (int)json_number(o, "epoch", &ok);
    t->batch_pos = (int)json_number(o, "batch_pos", &ok);
    t->iteration = (int64_t)json_number(o, "iteration", &ok);
    t->best_val = json_number(o, "best_val", &ok);
    t->best_epoch = (int)json_number(o, "best_epoch", &ok);
    t->since_best = (int)json_number(o, "since_best", &ok);
    t->loss_sum = json_number(o, "loss_sum", &ok);
    t->seen = (int)json_number(o, "seen", &ok);
    t->correct = (int)json_number(o, "correct", &ok);
    const cJSON *h = cJSON_GetObjectItemCaseSensitive(o, "history");
    int rows = cJSON_IsArray(h) ? cJSON_GetArraySize(h) : -1;
    if (!ok || rows < 0 || t->epoch < 0 || t->batch_pos < 0 || t->iteration < 0 || rows != t->epoch) {
        cJSON_Delete(o);
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: not a training checkpoint (bad '%s')", path, TRAIN_STATE_KEY);
    }
    for (int i = 0; i < rows && i < t->opt->epochs; i++) {
        double v[EPOCH_ROW_VALUES];
        for (int k = 0; k < EPOCH_ROW_VALUES; k++) {
            const cJSON *x = cJSON_GetArrayItem(cJSON_GetArrayItem(h, i), k);
            v[k] = cJSON_IsNumber(x) ? x->valuedouble : NAN;
        }
        t->history[i] = (epoch_row){v[0], v[1], v[2], v[3], v[4], v[5], v[6]};
        t->history_count = i + 1;
    }
    sono_status s = check_same_adversarial(t, path, cJSON_GetObjectItemCaseSensitive(o, "adversarial"), err);
    cJSON_Delete(o);
    return s;
}

static sono_status build_resumed(trainer *t, sono_error *err) {
    const char *path = t->opt->resume;
    sono_status s = sono_classifier_load(path, t->part_max, &t->model, &t->optim, err);
    if (s != SONO_OK) return s;
    if (!t->optim)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: a model without optimizer state, not a checkpoint", path);
    char diff[256];
    if (!sono_classifier_features_match(t->model, &t->set->config, diff, sizeof diff))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: features differ from the dataset's (%s)", path, diff);
    sono_st_file *f = NULL;
    s = sono_st_open(&f, path, err);
    if (s != SONO_OK) return s;
    s = restore_state(t, path, sono_st_metadata(f, TRAIN_STATE_KEY), err);
    sono_st_close(f);
    if (s == SONO_OK)
        sono_log(SONO_LOG_INFO, "resuming from %s: epoch %d, iteration %lld", path, t->epoch + 1,
                 (long long)t->iteration);
    return s;
}

/* --------------------------------------------------------------- outputs */

/* A checkpoint's temporary file ("NAME.tmp-PID-N") whose writer is gone was
 * left by a run that was killed mid-write: nothing will ever finish it. */
static void remove_if_stale(const char *folder, const char *name) {
    long pid = strtol(strstr(name, ".tmp-") + 5, NULL, 10);
    if (pid <= 0 || pid == (long)getpid() || kill((pid_t)pid, 0) == 0 || errno != ESRCH) return;
    char path[2048];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    if (unlink(path) == 0) sono_log(SONO_LOG_INFO, "removed %s, left by a run that was killed", path);
}

static sono_status write_checkpoint(trainer *t, sono_error *err) {
    snprintf(t->last_checkpoint, sizeof t->last_checkpoint, "%s/ckpt-%09lld.model", t->checkpoint_dir,
             (long long)t->iteration);
    if (sono_dist_rank() != 0) return SONO_OK; /* rank 0 alone writes files */
    if (mkdir(t->checkpoint_dir, 0777) != 0 && errno != EEXIST)
        return sono_error_set(err, SONO_ERR_IO, "%s: cannot create folder: %s", t->checkpoint_dir, strerror(errno));
    char *state = state_json(t);
    if (!state) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    const char *keys[1] = {TRAIN_STATE_KEY}, *values[1] = {state};
    sono_status s = sono_classifier_save(t->last_checkpoint, t->model, t->optim, keys, values, 1, err);
    free(state);
    if (s != SONO_OK) return s;
    /* Keep the newest keep_checkpoints files: names sort by iteration. */
    DIR *d = opendir(t->checkpoint_dir);
    char *names[4096];
    int count = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && count < 4096) {
        if (strncmp(e->d_name, "ckpt-", 5) != 0 || !strstr(e->d_name, ".model")) continue;
        if (!strstr(e->d_name, ".tmp-")) names[count++] = strdup(e->d_name);
        else remove_if_stale(t->checkpoint_dir, e->d_name);
    }
    if (d) closedir(d);
    for (int i = 0; i < count; i++)
        for (int j = i + 1; j < count; j++)
            if (names[j] && names[i] && strcmp(names[j], names[i]) < 0) {
                char *tmp = names[i];
                names[i] = names[j], names[j] = tmp;
            }
    for (int i = 0; i < count; i++) {
        if (names[i] && i < count - t->opt->keep_checkpoints) {
            char path[2048];
            snprintf(path, sizeof path, "%s/%s", t->checkpoint_dir, names[i]);
            unlink(path);
        }
        free(names[i]);
    }
    return SONO_OK;
}

static char *training_summary(const trainer *t) {
    cJSON *o = cJSON_CreateObject();
    char folds[64], spec[SONO_ARCH_TEXT_MAX];
    snprintf(spec, sizeof spec, "%s", sono_net_spec(t->model->net));
    cJSON_AddStringToObject(o, "arch", spec);
    sono_folds_format(t->opt->train_folds, folds, sizeof folds);
    cJSON_AddStringToObject(o, "train_folds", folds);
    sono_folds_format(t->opt->val_folds, folds, sizeof folds);
    cJSON_AddStringToObject(o, "val_folds", folds);
    cJSON_AddNumberToObject(o, "train_clips", t->n_train);
    cJSON_AddNumberToObject(o, "val_clips", t->n_val);
    cJSON_AddNumberToObject(o, "epochs", t->history_count);
    cJSON_AddNumberToObject(o, "iterations", (double)t->iteration);
    cJSON_AddNumberToObject(o, "batch", t->B);
    cJSON_AddNumberToObject(o, "seed", (double)t->opt->seed);
    cJSON_AddStringToObject(o, "optimizer", sono_optim_kind_name(t->opt->optim.kind));
    cJSON_AddNumberToObject(o, "lr", t->opt->optim.lr);
    if (t->opt->adversarial.attack != SONO_ATTACK_NONE)
        cJSON_AddItemToObject(o, "adversarial", adversarial_json(&t->opt->adversarial));
    if (t->best_val >= 0) {
        cJSON_AddNumberToObject(o, "best_val_accuracy", t->best_val);
        cJSON_AddNumberToObject(o, "best_epoch", t->best_epoch);
    }
    if (t->history_count) {
        cJSON_AddNumberToObject(o, "final_train_loss", t->history[t->history_count - 1].loss);
        cJSON_AddNumberToObject(o, "final_train_accuracy", t->history[t->history_count - 1].train_acc);
    }
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static sono_status save_model(trainer *t, sono_error *err) {
    if (sono_dist_rank() != 0) return SONO_OK;
    free(t->model->training_json);
    t->model->training_json = training_summary(t);
    return sono_classifier_save(t->opt->output, t->model, NULL, NULL, NULL, 0, err);
}

static sono_status write_log(const trainer *t, sono_error *err) {
    if (!t->opt->log_csv || sono_dist_rank() != 0) return SONO_OK;
    sono_atomic_file f;
    sono_status s = sono_atomic_begin(&f, t->opt->log_csv, 1, err);
    if (s != SONO_OK) return s;
    /* The robust column comes last (the others keep their places) and is
     * empty when there is no robust accuracy. */
    fprintf(f.stream, "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,samples_per_second,"
                      "val_robust_accuracy\n");
    for (int i = 0; i < t->history_count; i++) {
        const epoch_row *r = &t->history[i];
        char robust[32] = "";
        if (isfinite(r->val_robust)) snprintf(robust, sizeof robust, "%.6f", r->val_robust);
        fprintf(f.stream, "%d,%.6f,%.6f,%.6f,%.6f,%.6g,%.1f,%s\n", i + 1, r->loss, r->train_acc, r->val_loss,
                r->val_acc, r->lr, r->sps, robust);
    }
    return sono_atomic_commit(&f, err);
}

static sono_status draw_curves(const trainer *t, sono_error *err) {
    if (!t->opt->curve_png || t->history_count == 0 || sono_dist_rank() != 0) return SONO_OK;
    int n = t->history_count;
    double *v = malloc((size_t)n * 4 * sizeof(double));
    if (!v) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int i = 0; i < n; i++) {
        v[i] = t->history[i].loss;
        v[n + i] = t->history[i].train_acc;
        v[2 * n + i] = t->history[i].val_acc;
        v[3 * n + i] = t->history[i].val_robust;
    }
    sono_curve curves[4] = {{"training loss", v, 0}, {"training accuracy", v + n, 1}, {"validation accuracy", v + 2 * n, 1},
                            {"robust validation accuracy", v + 3 * n, 1}};
    int count = !t->n_val ? 2 : t->opt->adversarial.attack == SONO_ATTACK_NONE ? 3 : 4;
    sono_status s = sono_plot_curves(t->opt->curve_png, "sonodream training", "epoch", "loss", "accuracy", curves,
                                     count, n, err);
    free(v);
    return s;
}

/* ------------------------------------------------------------------ steps */

static void shuffle_epoch(trainer *t) {
    for (int i = 0; i < t->n_train; i++) t->order[i] = t->train_idx[i];
    sono_rng rng = sono_rng_for(t->opt->seed, 0x5348u, (uint64_t)t->epoch, 0);
    for (int i = t->n_train - 1; i > 0; i--) {
        int j = sono_rng_below(&rng, i + 1);
        int tmp = t->order[i];
        t->order[i] = t->order[j], t->order[j] = tmp;
    }
}

static void load_clip(const trainer *t, int index, float *dst) {
    size_t clip = (size_t)t->H * t->W;
    memcpy(dst, t->set->features + (size_t)index * clip, clip * sizeof(float));
    sono_classifier_standardize(t->model, dst, t->W);
}

/* Fill this rank's part of the batch starting at position `first` of this
 * epoch's order; returns the batch's size (all ranks), *part_first and
 * *part the samples of it this rank holds in t->x. */
static int prepare_batch(trainer *t, int first, int *part_first, int *part) {
    int n = t->n_train - first < t->B ? t->n_train - first : t->B;
    size_t clip = (size_t)t->H * t->W;
    const sono_augment *aug = &t->opt->augment;
    sono_dp_batch_part(n, part_first, part);
    for (int b = 0; b < *part; b++) {
        int index = t->order[first + *part_first + b];
        float *x = t->x + (size_t)b * clip;
        sono_rng rng = sono_rng_for(t->opt->seed, 0x4155u, (uint64_t)t->epoch, (uint64_t)index);
        if (t->adv_keys) { /* the attack's random start, like every random choice, from (seed, epoch, clip) */
            sono_rng start = sono_rng_for(t->opt->seed, 0x4144u, (uint64_t)t->epoch, (uint64_t)index);
            t->adv_keys[b] = sono_rng_next(&start);
        }
        load_clip(t, index, x);
        sono_augment_clip(aug, x, t->H, t->W, &rng, t->scratch);
        t->y1[b] = t->set->labels[index];
        t->y2[b] = t->y1[b];
        t->lambda[b] = 1.0f;
        if (aug->mixup > 0) {
            int other = t->train_idx[sono_rng_below(&rng, t->n_train)];
            float lam = (float)sono_rng_beta(&rng, aug->mixup);
            load_clip(t, other, t->partner);
            for (size_t i = 0; i < clip; i++) x[i] = lam * x[i] + (1 - lam) * t->partner[i];
            t->y2[b] = t->set->labels[other];
            t->lambda[b] = lam;
        }
    }
    return n;
}

/* Mixed cross-entropy: lambda * CE(y1) + (1 - lambda) * CE(y2), mean over
 * the batch of n (all ranks); this rank's `part` samples' share of it; with
 * label smoothing eps each target is (1 - eps) one-hot plus eps spread
 * evenly over the K classes. */
static double mixed_loss(trainer *t, const float *logits, int part, int n) {
    sono_softmax(t->probs, logits, part, t->K);
    const double eps = t->opt->label_smoothing, keep = 1 - eps;
    double loss = 0;
    for (int b = 0; b < part; b++) {
        const float *p = t->probs + (size_t)b * t->K;
        float *d = t->dlogits + (size_t)b * t->K;
        float lam = t->lambda[b];
        loss -= keep * (lam * log(p[t->y1[b]] + 1e-12) + (1 - lam) * log(p[t->y2[b]] + 1e-12));
        for (int k = 0; k < t->K; k++) {
            if (eps > 0) loss -= eps / t->K * log(p[k] + 1e-12);
            d[k] = (float)((p[k] - eps / t->K) / n);
        }
        d[t->y1[b]] -= (float)(keep * lam / n);
        d[t->y2[b]] -= (float)(keep * (1 - lam) / n);
        int best = 0;
        for (int k = 1; k < t->K; k++)
            if (p[k] > p[best]) best = k;
        t->correct += best == (lam >= 0.5f ? t->y1[b] : t->y2[b]);
    }
    return loss / n;
}

/* Forward and backward over this rank's part of the batch (none: the
 * dropout step still advances, as on the others). */
static sono_status local_gradients(trainer *t, int part_first, int part, int n, double *loss, sono_error *err) {
    const float *logits;
    sono_net *net = t->model->net;
    sono_net_zero_grad(net);
    *loss = 0;
    if (part == 0) {
        uint64_t seed, step;
        sono_net_rng_state(net, &seed, &step);
        sono_net_set_rng_state(net, seed, step + 1);
        return SONO_OK;
    }
    sono_net_set_sample_offset(net, part_first);
    sono_status s = sono_net_forward(net, t->x, part, SONO_MODE_TRAIN, &logits, err);
    if (s != SONO_OK) return s;
    *loss = mixed_loss(t, logits, part, n);
    return isfinite(*loss) ? sono_net_backward(net, t->dlogits, NULL, err) : SONO_OK;
}

/* Adversarial training: this rank's part of the batch is replaced by its
 * perturbation against the batch's own training targets (mixup's two
 * labels and label smoothing included), and only that is trained on. */
static sono_status attack_batch(trainer *t, int part, sono_error *err) {
    if (t->opt->adversarial.attack == SONO_ATTACK_NONE || part == 0) return SONO_OK;
    const double eps = t->opt->label_smoothing, keep = 1 - eps;
    for (int b = 0; b < part; b++) {
        float *y = t->adv_targets + (size_t)b * t->K;
        for (int k = 0; k < t->K; k++) y[k] = (float)(eps / t->K);
        y[t->y1[b]] += (float)(keep * t->lambda[b]);
        y[t->y2[b]] += (float)(keep * (1 - t->lambda[b]));
    }
    return sono_adv_perturb_ws(t->model->net, &t->opt->adversarial, t->x, part, t->adv_targets, t->adv_keys,
                               t->adv_origin, t->adv_grad, err);
}

static sono_status train_step(trainer *t, int part_first, int part, int n, double *loss, sono_error *err) {
    int correct_before = t->correct;
    sono_status s = attack_batch(t, part, err);
    if (s == SONO_OK) s = local_gradients(t, part_first, part, n, loss, err);
    if (s != SONO_OK) return s;
    /* The ranks' gradients, loss, accuracy and stop requests, summed. */
    s = sono_dp_sum_gradients(t->model->net, err);
    double totals[3] = {*loss, t->correct - correct_before, t->opt->stop && *t->opt->stop};
    if (s == SONO_OK) s = sono_dist_sum_f64(totals, 3, "loss and accuracy", err);
    if (s != SONO_OK) return s;
    *loss = totals[0];
    t->correct = correct_before + (int)totals[1];
    t->stop_agreed = totals[2] > 0;
    if (!isfinite(*loss))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "training diverged (loss is %g at iteration %lld); lower --lr",
                              *loss, (long long)t->iteration);
    size_t count;
    float *params = sono_net_params(t->model->net, &count);
    sono_optim_step(t->optim, params, sono_net_grads(t->model->net, &count));
    return SONO_OK;
}

static int argmax(const float *p, int K) {
    int best = 0;
    for (int k = 1; k < K; k++)
        if (p[k] > p[best]) best = k;
    return best;
}

/* Validation clips first..first+n-1 (in t->x) under the training attack,
 * with evaluation's fixed random starts (so the column matches `eval
 * --attack` with the same settings): how many are still classified right. */
static sono_status robust_correct(trainer *t, int first, int n, double *correct, sono_error *err) {
    for (int b = 0; b < n; b++) {
        float *y = t->adv_targets + (size_t)b * t->K;
        memset(y, 0, (size_t)t->K * sizeof(float));
        y[t->set->labels[t->val_idx[first + b]]] = 1;
        t->adv_keys[b] = sono_adv_eval_key(t->val_idx[first + b]);
    }
    sono_status s = sono_adv_perturb_ws(t->model->net, &t->opt->adversarial, t->x, n, t->adv_targets, t->adv_keys,
                                        t->adv_origin, t->adv_grad, err);
    if (s == SONO_OK) s = sono_net_predict(t->model->net, t->x, n, t->probs, err);
    for (int b = 0; s == SONO_OK && b < n; b++)
        *correct += argmax(t->probs + (size_t)b * t->K, t->K) == t->set->labels[t->val_idx[first + b]];
    return s;
}

/* The validation clips are split across the ranks; counts and losses summed. */
static sono_status validate(trainer *t, epoch_row *r, sono_error *err) {
    r->val_acc = NAN, r->val_loss = NAN, r->val_robust = NAN;
    if (t->n_val == 0) return SONO_OK;
    const int attack = t->opt->adversarial.attack != SONO_ATTACK_NONE;
    size_t clip = (size_t)t->H * t->W;
    int part_first, part;
    sono_dp_batch_part(t->n_val, &part_first, &part);
    double totals[3] = {0, 0, 0}; /* correct, loss, correct under the attack */
    for (int first = part_first; first < part_first + part; first += t->part_max) {
        int n = part_first + part - first < t->part_max ? part_first + part - first : t->part_max;
        for (int b = 0; b < n; b++) load_clip(t, t->val_idx[first + b], t->x + (size_t)b * clip);
        sono_status s = sono_net_predict(t->model->net, t->x, n, t->probs, err);
        if (s != SONO_OK) return s;
        for (int b = 0; b < n; b++) {
            const float *p = t->probs + (size_t)b * t->K;
            int label = t->set->labels[t->val_idx[first + b]];
            totals[0] += argmax(p, t->K) == label;
            totals[1] -= log(p[label] + 1e-12);
        }
        if (attack && (s = robust_correct(t, first, n, &totals[2], err)) != SONO_OK) return s;
    }
    sono_status s = sono_dist_sum_f64(totals, 3, "validation", err);
    r->val_acc = totals[0] / t->n_val;
    r->val_loss = totals[1] / t->n_val;
    if (attack) r->val_robust = totals[2] / t->n_val;
    return s;
}

/* Epoch end: validation, schedule, best model, log, picture, callback. */
static sono_status finish_epoch(trainer *t, sono_error *err) {
    epoch_row *r = &t->history[t->history_count];
    r->loss = t->batch_pos ? t->loss_sum / t->batch_pos : NAN; /* batches done: fewer when stopped early */
    r->train_acc = t->seen ? (double)t->correct / t->seen : 0;
    r->lr = t->optim->cfg.lr;
    r->sps = t->epoch_seconds > 0 ? t->seen / t->epoch_seconds : 0;
    sono_status s = validate(t, r, err);
    if (s != SONO_OK) return s;
    t->history_count++;
    int best = 0;
    if (t->n_val && r->val_acc > t->best_val) {
        t->best_val = r->val_acc, t->best_epoch = t->epoch + 1, t->since_best = 0, best = 1;
        s = save_model(t, err);
    } else if (t->n_val && !t->opt->cosine && t->opt->plateau_patience > 0 &&
               ++t->since_best >= t->opt->plateau_patience) {
        float lr = t->optim->cfg.lr * t->opt->plateau_factor;
        t->optim->cfg.lr = lr > t->opt->min_lr ? lr : t->opt->min_lr;
        t->since_best = 0;
    }
    if (s == SONO_OK) s = write_log(t, err);
    if (s == SONO_OK) s = draw_curves(t, err);
    if (s == SONO_OK && t->opt->on_epoch) {
        sono_epoch_stats st = {t->epoch + 1, t->iteration, r->loss, r->train_acc, r->val_acc, r->val_loss,
                               r->val_robust, r->lr, r->sps, best};
        t->opt->on_epoch(&st, t->opt->user);
    }
    t->epoch++;
    t->batch_pos = 0;
    t->loss_sum = 0, t->seen = 0, t->correct = 0, t->epoch_seconds = 0;
    return s;
}

/* With several ranks a stop counts once all ranks know of it (after a step). */
static int stop_requested(const trainer *t) {
    return sono_dist_size() > 1 ? t->stop_agreed : t->opt->stop && *t->opt->stop;
}

/* Cosine decay from the base lr to min_lr over every step of the run; a pure
 * function of the step, so a resumed run follows the same curve. */
static void cosine_lr(trainer *t, int batches) {
    int64_t total = (int64_t)t->opt->epochs * batches;
    if (t->opt->max_iterations > 0 && t->opt->max_iterations < total) total = t->opt->max_iterations;
    double progress = total > 1 ? (double)t->iteration / (double)(total - 1) : 1;
    if (progress > 1) progress = 1;
    double base = t->opt->optim.lr, low = t->opt->min_lr < base ? t->opt->min_lr : base;
    t->optim->cfg.lr = (float)(low + 0.5 * (base - low) * (1 + cos(M_PI * progress)));
}

static sono_status run_epochs(trainer *t, sono_error *err) {
    const int batches = (t->n_train + t->B - 1) / t->B;
    sono_status s = SONO_OK;
    while (s == SONO_OK && t->epoch < t->opt->epochs) {
        shuffle_epoch(t);
        while (s == SONO_OK && t->batch_pos < batches) {
            if (t->opt->max_iterations > 0 && t->iteration >= t->opt->max_iterations)
                return t->batch_pos > 0 ? finish_epoch(t, err) : SONO_OK; /* validate the partial epoch */
            if (stop_requested(t)) {
                s = write_checkpoint(t, err);
                return s == SONO_OK ? sono_error_set(err, SONO_ERR_INTERRUPTED,
                                                     "interrupted; resume with --resume %s", t->last_checkpoint)
                                    : s;
            }
            double start = now_seconds(), loss = 0;
            if (t->opt->cosine) cosine_lr(t, batches);
            int part_first, part, n = prepare_batch(t, t->batch_pos * t->B, &part_first, &part);
            s = train_step(t, part_first, part, n, &loss, err);
            t->epoch_seconds += now_seconds() - start;
            if (s != SONO_OK) break;
            t->loss_sum += loss, t->seen += n;
            t->batch_pos++, t->iteration++;
            if (t->opt->on_step) t->opt->on_step(t->iteration, t->batch_pos, batches, loss, t->opt->user);
            if (t->opt->checkpoint_every > 0 && t->iteration % t->opt->checkpoint_every == 0)
                s = write_checkpoint(t, err);
        }
        if (s == SONO_OK) s = finish_epoch(t, err);
    }
    return s;
}

static sono_status check_options(const sono_feature_set *set, const sono_train_options *opt, sono_error *err) {
    if (opt->batch < 1 || opt->batch > 65536)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "batch size %d is out of range 1..65536", opt->batch);
    if (opt->epochs < 1 || opt->epochs > MAX_EPOCHS)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "epochs %d is out of range 1..%d", opt->epochs, MAX_EPOCHS);
    if (!(opt->optim.lr > 0)) return sono_error_set(err, SONO_ERR_ARGUMENT, "the learning rate must be positive");
    if (!opt->output) return sono_error_set(err, SONO_ERR_ARGUMENT, "no output model path");
    if (set->class_count < 2) return sono_error_set(err, SONO_ERR_ARGUMENT, "training needs at least two classes");
    if (!(opt->label_smoothing >= 0 && opt->label_smoothing < 1))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "label smoothing %g is out of range [0, 1)", opt->label_smoothing);
    if (opt->keep_checkpoints < 1)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "keep_checkpoints must be at least 1");
    return sono_adversarial_check(&opt->adversarial, err);
}

sono_status sono_train(const sono_feature_set *set, const sono_train_options *opt, sono_train_result *result,
                       sono_error *err) {
    memset(result, 0, sizeof *result);
    double start = now_seconds();
    sono_status s = check_options(set, opt, err);
    if (s != SONO_OK) return s;
    trainer t = {0};
    t.set = set, t.opt = opt;
    t.H = set->n_mels, t.W = set->frames, t.K = set->class_count, t.B = opt->batch;
    t.part_max = sono_dp_max_part(t.B);
    if (opt->checkpoint_dir) snprintf(t.checkpoint_dir, sizeof t.checkpoint_dir, "%s", opt->checkpoint_dir);
    else snprintf(t.checkpoint_dir, sizeof t.checkpoint_dir, "%s.checkpoints", opt->output);
    s = split_folds(&t, err);
    if (s == SONO_OK) s = allocate_buffers(&t, err);
    if (s == SONO_OK) s = opt->resume ? build_resumed(&t, err) : build_fresh(&t, err);
    if (s == SONO_OK) s = sono_dp_same_start(t.model->net, t.optim, err);
    double comm_before = sono_dist_seconds();
    if (s == SONO_OK) s = run_epochs(&t, err);
    result->comm_seconds = sono_dist_seconds() - comm_before;
    if (s == SONO_OK && (t.n_val == 0 || t.best_val < 0)) s = save_model(&t, err);
    /* No rank returns (and reads the model) before rank 0 has written it. */
    double done = 0;
    if (s == SONO_OK) s = sono_dist_sum_f64(&done, 1, "end of training", err);
    result->epochs_done = t.history_count;
    result->iterations = t.iteration;
    result->best_val_accuracy = t.n_val && t.best_val >= 0 ? t.best_val : NAN;
    result->best_epoch = t.best_epoch;
    result->seconds = now_seconds() - start;
    snprintf(result->last_checkpoint, sizeof result->last_checkpoint, "%s", t.last_checkpoint);
    trainer_free(&t);
    return s;
}
