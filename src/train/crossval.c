/* Cross-validation by the dataset's own folds: for each test fold, train on
 * the others and test on it; per-fold results are files in the output
 * folder, so a killed run picks up where it stopped. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sonodream/fileio.h"
#include "sonodream/plot.h"
#include "sonodream/train.h"

#define OPTIONS_FILE "options.json"

static void path_in(char *buf, size_t size, const char *dir, const char *name) { snprintf(buf, size, "%s/%s", dir, name); }

void sono_crossval_result_free(sono_crossval_result *r) {
    if (!r) return;
    free(r->folds), free(r->confusion), free(r->precision), free(r->recall), free(r->f1);
    memset(r, 0, sizeof *r);
}

static sono_status read_text(const char *path, char **out, sono_error *err) {
    long long size = 0;
    FILE *f;
    sono_status s = sono_open_input(path, &size, &f, err);
    if (s != SONO_OK) return s;
    char *text = size < (1 << 26) ? malloc((size_t)size + 1) : NULL;
    if (!text || fread(text, 1, (size_t)size, f) != (size_t)size) {
        fclose(f);
        free(text);
        return sono_error_set(err, SONO_ERR_IO, "%s: cannot read", path);
    }
    fclose(f);
    text[size] = '\0';
    *out = text;
    return SONO_OK;
}

/* Everything that decides a fold's result; stored once per output folder. */
static char *options_json(const sono_feature_set *set, const sono_crossval_options *opt) {
    const sono_train_options *t = &opt->train;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "arch", t->arch ? t->arch : SONO_ARCH_DEFAULT);
    cJSON_AddNumberToObject(o, "seed", (double)t->seed);
    cJSON_AddNumberToObject(o, "epochs", t->epochs);
    cJSON_AddNumberToObject(o, "max_iterations", (double)t->max_iterations);
    cJSON_AddNumberToObject(o, "batch", t->batch);
    cJSON_AddStringToObject(o, "optimizer", sono_optim_kind_name(t->optim.kind));
    cJSON_AddNumberToObject(o, "lr", t->optim.lr);
    cJSON_AddNumberToObject(o, "momentum", t->optim.momentum);
    cJSON_AddNumberToObject(o, "weight_decay", t->optim.weight_decay);
    cJSON_AddStringToObject(o, "schedule", t->cosine ? "cosine" : "plateau");
    cJSON_AddNumberToObject(o, "patience", t->plateau_patience);
    cJSON_AddNumberToObject(o, "label_smoothing", t->label_smoothing);
    const sono_augment *a = &t->augment;
    double aug[6] = {a->time_shift, a->time_masks, a->time_mask_width, a->freq_masks, a->freq_mask_width, a->mixup};
    cJSON_AddItemToObject(o, "augment", cJSON_CreateDoubleArray(aug, 6));
    if (t->adversarial.attack != SONO_ATTACK_NONE) { /* absent without it: older folders still match */
        const sono_adversarial *adv = &t->adversarial;
        cJSON *x = cJSON_AddObjectToObject(o, "adversarial");
        cJSON_AddStringToObject(x, "attack", sono_attack_name(adv->attack));
        cJSON_AddNumberToObject(x, "epsilon", adv->epsilon);
        cJSON_AddNumberToObject(x, "steps", sono_adversarial_steps(adv));
        cJSON_AddNumberToObject(x, "step_size", sono_adversarial_step_size(adv));
    }
    cJSON_AddStringToObject(o, "validation", opt->val_next ? "next" : "none");
    cJSON_AddNumberToObject(o, "test_shifts", opt->test_shifts > 1 ? opt->test_shifts : 1);
    char *features = sono_feature_config_to_json(&set->config);
    cJSON *config = features ? cJSON_Parse(features) : NULL;
    free(features);
    if (config) cJSON_AddItemToObject(o, "feature_config", config);
    cJSON_AddNumberToObject(o, "clips", set->count);
    cJSON *classes = cJSON_AddArrayToObject(o, "classes");
    for (int k = 0; k < set->class_count; k++) cJSON_AddItemToArray(classes, cJSON_CreateString(set->class_names[k]));
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    return text;
}

/* The first top-level key whose value differs, for the refusal message. */
static void first_difference(const char *a, const char *b, char *out, size_t size) {
    cJSON *x = cJSON_Parse(a), *y = cJSON_Parse(b);
    snprintf(out, size, "the file is not an options file");
    const cJSON *item;
    cJSON_ArrayForEach(item, x) {
        const cJSON *other = cJSON_GetObjectItemCaseSensitive(y, item->string);
        if (other && cJSON_Compare(item, other, 1)) continue;
        char *was = other ? cJSON_PrintUnformatted(other) : NULL, *now = cJSON_PrintUnformatted(item);
        snprintf(out, size, "%s was %.80s, now %.80s", item->string, was ? was : "absent", now ? now : "?");
        free(was), free(now);
        break;
    }
    cJSON_Delete(x), cJSON_Delete(y);
}

/* Create the folder, or check that the one there was made with these options. */
static sono_status prepare_dir(const sono_crossval_options *opt, const char *options, sono_error *err) {
    if (mkdir(opt->out_dir, 0777) != 0 && errno != EEXIST)
        return sono_error_set(err, SONO_ERR_IO, "%s: cannot create folder: %s", opt->out_dir, strerror(errno));
    struct stat st;
    if (stat(opt->out_dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return sono_error_set(err, SONO_ERR_IO, "%s: not a folder", opt->out_dir);
    char path[1200];
    path_in(path, sizeof path, opt->out_dir, OPTIONS_FILE);
    if (stat(path, &st) != 0) return sono_atomic_write_file(path, options, strlen(options), err);
    char *old = NULL;
    sono_status s = read_text(path, &old, err);
    if (s != SONO_OK) return s;
    cJSON *a = cJSON_Parse(old), *b = cJSON_Parse(options);
    int same = a && b && cJSON_Compare(a, b, 1);
    cJSON_Delete(a), cJSON_Delete(b);
    if (!same) {
        char diff[300];
        first_difference(options, old, diff, sizeof diff);
        s = sono_error_set(err, SONO_ERR_ARGUMENT,
                           "%s holds a cross-validation run with other options (%s); choose another -o folder or "
                           "remove it",
                           opt->out_dir, diff);
    }
    free(old);
    return s;
}

/* ------------------------------------------------------------- one fold */

/* Newest checkpoint of an unfinished fold, or "" (names sort by iteration). */
static void newest_checkpoint(const char *dir, char *out, size_t size) {
    out[0] = '\0';
    DIR *d = opendir(dir);
    if (!d) return;
    char best[256] = "";
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, "ckpt-", 5) != 0 || n < 11 || strcmp(e->d_name + n - 6, ".model") != 0) continue;
        if (strcmp(e->d_name, best) > 0) snprintf(best, sizeof best, "%s", e->d_name);
    }
    closedir(d);
    if (best[0]) snprintf(out, size, "%s/%s", dir, best);
}

static sono_status read_fold(const char *path, int K, sono_crossval_fold *fold, int *confusion, sono_error *err) {
    char *text = NULL;
    sono_status s = read_text(path, &text, err);
    if (s != SONO_OK) return s;
    cJSON *o = cJSON_Parse(text);
    free(text);
    const cJSON *count = cJSON_GetObjectItemCaseSensitive(o, "clips"), *correct = cJSON_GetObjectItemCaseSensitive(o, "correct");
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(o, "confusion");
    int ok = cJSON_IsNumber(count) && cJSON_IsNumber(correct) && cJSON_IsArray(m) && cJSON_GetArraySize(m) == K;
    long total = 0;
    for (int r = 0; ok && r < K; r++) {
        const cJSON *row = cJSON_GetArrayItem(m, r);
        ok = cJSON_IsArray(row) && cJSON_GetArraySize(row) == K;
        for (int c = 0; ok && c < K; c++) {
            const cJSON *v = cJSON_GetArrayItem(row, c);
            ok = cJSON_IsNumber(v) && v->valuedouble >= 0;
            if (ok) confusion[r * K + c] = v->valueint, total += v->valueint;
        }
    }
    if (ok) fold->count = count->valueint, fold->correct = correct->valueint;
    ok = ok && total == fold->count && fold->correct <= fold->count && fold->count > 0;
    cJSON_Delete(o);
    if (!ok)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: not a fold result (remove it to train that fold again)", path);
    fold->accuracy = (double)fold->correct / fold->count;
    fold->resumed = 1;
    return SONO_OK;
}

static sono_status write_fold(const char *path, const sono_crossval_fold *fold, int K, const int *confusion,
                              sono_error *err) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "fold", fold->fold);
    if (fold->val_fold) cJSON_AddNumberToObject(o, "val_fold", fold->val_fold);
    cJSON_AddNumberToObject(o, "clips", fold->count);
    cJSON_AddNumberToObject(o, "correct", fold->correct);
    cJSON_AddNumberToObject(o, "accuracy", fold->accuracy);
    cJSON *m = cJSON_AddArrayToObject(o, "confusion");
    for (int r = 0; r < K; r++) cJSON_AddItemToArray(m, cJSON_CreateIntArray(confusion + (size_t)r * K, K));
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    sono_status s = text ? sono_atomic_write_file(path, text, strlen(text), err)
                         : sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    free(text);
    return s;
}

/* Train without the test fold (and the validation fold), then test. */
static sono_status run_fold(const sono_feature_set *set, const sono_crossval_options *opt, sono_folds present,
                            sono_crossval_fold *fold, int *confusion, sono_error *err) {
    char model[1100], csv[1200], png[1200], ckdir[1200], resume[1500];
    snprintf(model, sizeof model, "%s/fold%d.model", opt->out_dir, fold->fold);
    snprintf(csv, sizeof csv, "%s.csv", model);
    snprintf(png, sizeof png, "%s.png", model);
    snprintf(ckdir, sizeof ckdir, "%s.checkpoints", model);
    newest_checkpoint(ckdir, resume, sizeof resume);
    sono_train_options t = opt->train;
    sono_folds test = (sono_folds)1 << fold->fold;
    t.val_folds = fold->val_fold ? (sono_folds)1 << fold->val_fold : 0;
    t.train_folds = present & ~test & ~t.val_folds;
    t.output = model, t.log_csv = csv, t.curve_png = png, t.checkpoint_dir = NULL;
    t.resume = resume[0] ? resume : NULL;
    if (t.resume) sono_log(SONO_LOG_INFO, "fold %d: continuing from %s", fold->fold, resume);
    sono_train_result tr;
    sono_status s = sono_train(set, &t, &tr, err);
    if (s != SONO_OK) return s;
    sono_classifier *c = NULL;
    sono_eval_result r;
    s = sono_classifier_load(model, t.batch, &c, NULL, err);
    if (s == SONO_OK) s = sono_evaluate_shifted(c, set, test, opt->test_shifts, SONO_TTA_MAX_SHIFT, &r, err);
    sono_classifier_free(c);
    if (s != SONO_OK) return s;
    memcpy(confusion, r.confusion, (size_t)set->class_count * set->class_count * sizeof *confusion);
    fold->count = r.count, fold->correct = r.correct, fold->accuracy = (double)r.correct / r.count;
    sono_eval_result_free(&r);
    return SONO_OK;
}

/* ------------------------------------------------------------ summaries */

static void summarise(sono_crossval_result *r) {
    int n = r->fold_count, K = r->classes;
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) sum += r->folds[i].accuracy;
    r->mean = sum / n;
    for (int i = 0; i < n; i++) sq += (r->folds[i].accuracy - r->mean) * (r->folds[i].accuracy - r->mean);
    r->std = n > 1 ? sqrt(sq / (n - 1)) : NAN;
    long correct = 0, total = 0;
    for (int k = 0; k < K; k++) {
        long tp = r->confusion[k * K + k], row = 0, col = 0;
        for (int j = 0; j < K; j++) row += r->confusion[k * K + j], col += r->confusion[j * K + k];
        r->precision[k] = col ? (double)tp / col : 0;
        r->recall[k] = row ? (double)tp / row : 0;
        double pr = r->precision[k] + r->recall[k];
        r->f1[k] = pr > 0 ? 2 * r->precision[k] * r->recall[k] / pr : 0;
        correct += tp, total += row;
    }
    r->pooled_accuracy = total ? (double)correct / total : 0;
}

static cJSON *number_or_null(double v) { return isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull(); }

static sono_status write_json(const sono_crossval_result *r, const sono_feature_set *set, const char *path,
                              sono_error *err) {
    cJSON *o = cJSON_CreateObject(), *folds = cJSON_AddArrayToObject(o, "folds");
    for (int i = 0; i < r->fold_count; i++) {
        const sono_crossval_fold *f = &r->folds[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "fold", f->fold);
        if (f->val_fold) cJSON_AddNumberToObject(x, "val_fold", f->val_fold);
        cJSON_AddNumberToObject(x, "clips", f->count);
        cJSON_AddNumberToObject(x, "correct", f->correct);
        cJSON_AddNumberToObject(x, "accuracy", f->accuracy);
        cJSON_AddItemToArray(folds, x);
    }
    cJSON_AddItemToObject(o, "mean_accuracy", number_or_null(r->mean));
    cJSON_AddItemToObject(o, "std_accuracy", number_or_null(r->std));
    cJSON_AddNumberToObject(o, "pooled_accuracy", r->pooled_accuracy);
    cJSON *classes = cJSON_AddArrayToObject(o, "classes");
    for (int k = 0; k < r->classes; k++) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "class", set->class_names[k]);
        cJSON_AddNumberToObject(x, "precision", r->precision[k]);
        cJSON_AddNumberToObject(x, "recall", r->recall[k]);
        cJSON_AddNumberToObject(x, "f1", r->f1[k]);
        cJSON_AddItemToArray(classes, x);
    }
    cJSON *m = cJSON_AddArrayToObject(o, "confusion");
    for (int k = 0; k < r->classes; k++)
        cJSON_AddItemToArray(m, cJSON_CreateIntArray(r->confusion + (size_t)k * r->classes, r->classes));
    char *text = cJSON_Print(o);
    cJSON_Delete(o);
    sono_status s = text ? sono_atomic_write_file(path, text, strlen(text), err)
                         : sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    free(text);
    return s;
}

/* crossval.csv: one row per fold, then mean and std; crossval-classes.csv:
 * precision, recall, F1 and support per class; crossval-confusion.csv. */
static sono_status write_csvs(const sono_crossval_result *r, const sono_feature_set *set, const char *dir,
                              sono_error *err) {
    char path[1200];
    sono_atomic_file f;
    path_in(path, sizeof path, dir, "crossval.csv");
    sono_status s = sono_atomic_begin(&f, path, 1, err);
    if (s != SONO_OK) return s;
    fprintf(f.stream, "fold,val_fold,clips,correct,accuracy\n");
    for (int i = 0; i < r->fold_count; i++) {
        const sono_crossval_fold *x = &r->folds[i];
        char val[16] = "";
        if (x->val_fold) snprintf(val, sizeof val, "%d", x->val_fold);
        fprintf(f.stream, "%d,%s,%d,%d,%.6f\n", x->fold, val, x->count, x->correct, x->accuracy);
    }
    fprintf(f.stream, "mean,,,,%.6f\nstd,,,,%.6f\n", r->mean, r->std);
    if ((s = sono_atomic_commit(&f, err)) != SONO_OK) return s;
    path_in(path, sizeof path, dir, "crossval-classes.csv");
    if ((s = sono_atomic_begin(&f, path, 1, err)) != SONO_OK) return s;
    fprintf(f.stream, "class,precision,recall,f1,support\n");
    for (int k = 0; k < r->classes; k++) {
        int support = 0;
        for (int j = 0; j < r->classes; j++) support += r->confusion[k * r->classes + j];
        fprintf(f.stream, "\"%s\",%.6f,%.6f,%.6f,%d\n", set->class_names[k], r->precision[k], r->recall[k], r->f1[k],
                support);
    }
    if ((s = sono_atomic_commit(&f, err)) != SONO_OK) return s;
    path_in(path, sizeof path, dir, "crossval-confusion.csv");
    if ((s = sono_atomic_begin(&f, path, 1, err)) != SONO_OK) return s;
    fprintf(f.stream, "true\\predicted");
    for (int k = 0; k < r->classes; k++) fprintf(f.stream, ",\"%s\"", set->class_names[k]);
    for (int k = 0; k < r->classes; k++) {
        fprintf(f.stream, "\n\"%s\"", set->class_names[k]);
        for (int j = 0; j < r->classes; j++) fprintf(f.stream, ",%d", r->confusion[k * r->classes + j]);
    }
    fputc('\n', f.stream);
    return sono_atomic_commit(&f, err);
}

static sono_status write_outputs(const sono_crossval_result *r, const sono_feature_set *set, const char *dir,
                                 sono_error *err) {
    char path[1200];
    path_in(path, sizeof path, dir, "crossval.json");
    sono_status s = write_json(r, set, path, err);
    if (s == SONO_OK) s = write_csvs(r, set, dir, err);
    int *folds = malloc((size_t)r->fold_count * sizeof *folds);
    double *acc = malloc((size_t)r->fold_count * sizeof *acc);
    if (s == SONO_OK && (!folds || !acc)) s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int i = 0; s == SONO_OK && i < r->fold_count; i++) folds[i] = r->folds[i].fold, acc[i] = r->folds[i].accuracy;
    path_in(path, sizeof path, dir, "crossval.png");
    if (s == SONO_OK)
        s = sono_plot_crossval(path, "sonodream cross-validation", folds, acc, r->fold_count, r->mean, r->std,
                               (const char *const *)set->class_names, r->classes, r->confusion, err);
    free(folds), free(acc);
    return s;
}

/* ----------------------------------------------------------------- main */

static sono_status choose_folds(const sono_feature_set *set, const sono_crossval_options *opt, sono_folds *present,
                                sono_folds *chosen, sono_error *err) {
    *present = 0;
    for (int i = 0; i < set->count; i++) *present |= (sono_folds)1 << set->folds[i];
    int n = 0;
    for (int f = 1; f <= 63; f++) n += sono_folds_has(*present, f);
    if (n < 2) return sono_error_set(err, SONO_ERR_ARGUMENT, "cross-validation needs at least two folds (the features have %d)", n);
    if (opt->val_next && n < 3)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "--val next needs at least three folds (the features have %d)", n);
    *chosen = opt->folds ? opt->folds : *present;
    for (int f = 1; f <= 63; f++)
        if (sono_folds_has(*chosen, f) && !sono_folds_has(*present, f))
            return sono_error_set(err, SONO_ERR_ARGUMENT, "--folds: fold %d has no clips in the features", f);
    return SONO_OK;
}

static int next_fold(sono_folds present, int fold) {
    for (int k = 1; k <= 63; k++) {
        int f = (fold - 1 + k) % 63 + 1;
        if (sono_folds_has(present, f)) return f;
    }
    return fold;
}

sono_status sono_crossval(const sono_feature_set *set, const sono_crossval_options *opt, sono_crossval_result *r,
                          sono_error *err) {
    memset(r, 0, sizeof *r);
    sono_folds present = 0, chosen = 0;
    sono_status s = choose_folds(set, opt, &present, &chosen, err);
    if (s != SONO_OK) return s;
    char *options = options_json(set, opt);
    s = options ? prepare_dir(opt, options, err) : sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    free(options);
    if (s != SONO_OK) return s;
    const int K = set->class_count;
    int count = 0;
    for (int f = 1; f <= 63; f++) count += sono_folds_has(chosen, f);
    r->classes = K;
    r->folds = calloc((size_t)count, sizeof *r->folds);
    r->confusion = calloc((size_t)K * K, sizeof *r->confusion);
    r->precision = calloc((size_t)K, sizeof(double));
    r->recall = calloc((size_t)K, sizeof(double));
    r->f1 = calloc((size_t)K, sizeof(double));
    int *fold_confusion = calloc((size_t)K * K, sizeof *fold_confusion);
    if (!r->folds || !r->confusion || !r->precision || !r->recall || !r->f1 || !fold_confusion)
        s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int f = 1; f <= 63 && s == SONO_OK; f++) {
        if (!sono_folds_has(chosen, f)) continue;
        sono_crossval_fold *fold = &r->folds[r->fold_count];
        fold->fold = f;
        fold->val_fold = opt->val_next ? next_fold(present, f) : 0;
        char done[1100];
        snprintf(done, sizeof done, "%s/fold%d.json", opt->out_dir, f);
        struct stat st;
        int finished = stat(done, &st) == 0;
        if (opt->on_fold) opt->on_fold(f, r->fold_count + 1, count, finished, opt->user);
        s = finished ? read_fold(done, K, fold, fold_confusion, err) : run_fold(set, opt, present, fold, fold_confusion, err);
        if (s == SONO_OK && !finished) s = write_fold(done, fold, K, fold_confusion, err);
        if (s != SONO_OK) break;
        for (int i = 0; i < K * K; i++) r->confusion[i] += fold_confusion[i];
        r->fold_count++;
    }
    free(fold_confusion);
    if (s == SONO_OK) {
        summarise(r);
        s = write_outputs(r, set, opt->out_dir, err);
    }
    if (s != SONO_OK) sono_crossval_result_free(r);
    return s;
}
