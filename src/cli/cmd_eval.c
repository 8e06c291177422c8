/* sonodream eval MODEL [MODEL...] FEATURES [--folds F] [--json]: accuracy,
 * per-class precision, recall and F1, and the confusion matrix; several
 * models are evaluated as an ensemble (their probabilities averaged). */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sonodream/train.h"

static void eval_usage(FILE *out) {
    fprintf(out,
            "usage: sonodream eval MODEL [MODEL...] FEATURES [--folds F] [--json]\n\n"
            "Evaluate a model on a feature file: accuracy, per-class precision, recall and\n"
            "F1, and the confusion matrix (rows: true class, columns: predicted). Several\n"
            "models (same features and classes, e.g. trained with other seeds) are evaluated\n"
            "as an ensemble: their class probabilities are averaged.\n\n"
            "options:\n"
            "      --folds F   folds to evaluate, e.g. 10 or 1,3-4 (default: all)\n"
            "      --json      one JSON object on stdout\n"
            "      --tta N     average the class probabilities over N time shifts of each clip,\n"
            "                  evenly spaced in +-32 frames (default 1: none)\n"
            "  -h, --help      this help\n");
}

typedef struct class_scores {
    double precision, recall, f1;
    int support;
} class_scores;

static class_scores scores_of(const sono_eval_result *r, int k) {
    int tp = r->confusion[k * r->classes + k], predicted = 0, actual = 0;
    for (int j = 0; j < r->classes; j++) {
        predicted += r->confusion[j * r->classes + k];
        actual += r->confusion[k * r->classes + j];
    }
    class_scores s = {predicted ? (double)tp / predicted : 0, actual ? (double)tp / actual : 0, 0, actual};
    s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0;
    return s;
}

static void print_text(const sono_classifier *c, const sono_eval_result *r, const char *folds) {
    printf("accuracy %.2f%% (%d/%d clips, folds %s), mean loss %.4f\n\n", 100.0 * r->correct / r->count, r->correct,
           r->count, folds, r->loss);
    printf("%-20s %9s %9s %9s %8s\n", "class", "precision", "recall", "F1", "clips");
    double macro = 0;
    for (int k = 0; k < r->classes; k++) {
        class_scores s = scores_of(r, k);
        macro += s.f1 / r->classes;
        printf("%-20s %9.3f %9.3f %9.3f %8d\n", c->class_names[k], s.precision, s.recall, s.f1, s.support);
    }
    printf("%-20s %29.3f\n\nconfusion matrix (rows: true, columns: predicted)\n%-20s", "macro F1", macro, "");
    for (int k = 0; k < r->classes; k++) printf(" %5d", k);
    printf("\n");
    for (int k = 0; k < r->classes; k++) {
        printf("%2d %-17.17s", k, c->class_names[k]);
        for (int j = 0; j < r->classes; j++) printf(" %5d", r->confusion[k * r->classes + j]);
        printf("\n");
    }
}

static void print_json(const sono_classifier *c, const sono_eval_result *r, const char *folds) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "folds", folds);
    cJSON_AddNumberToObject(o, "clips", r->count);
    cJSON_AddNumberToObject(o, "correct", r->correct);
    cJSON_AddNumberToObject(o, "accuracy", (double)r->correct / r->count);
    cJSON_AddNumberToObject(o, "loss", r->loss);
    cJSON *classes = cJSON_AddArrayToObject(o, "classes");
    cJSON *matrix = cJSON_AddArrayToObject(o, "confusion");
    for (int k = 0; k < r->classes; k++) {
        class_scores s = scores_of(r, k);
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", c->class_names[k]);
        cJSON_AddNumberToObject(e, "precision", s.precision);
        cJSON_AddNumberToObject(e, "recall", s.recall);
        cJSON_AddNumberToObject(e, "f1", s.f1);
        cJSON_AddNumberToObject(e, "clips", s.support);
        cJSON_AddItemToArray(classes, e);
        cJSON_AddItemToArray(matrix, cJSON_CreateIntArray(r->confusion + k * r->classes, r->classes));
    }
    char *text = cJSON_Print(o);
    puts(text);
    free(text);
    cJSON_Delete(o);
}

int cmd_eval(int argc, char **argv) {
    static const struct option longopts[] = {
        {"folds", required_argument, 0, 'f'}, {"json", no_argument, 0, 'J'}, {"tta", required_argument, 0, 'T'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    sono_folds folds = 0;
    int json = 0, opt;
    long shifts = 1;
    sono_error err = {0};
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt == 'h') return eval_usage(stdout), 0;
        if (opt == 'J') json = 1;
        else if (opt == 'T') {
            if (!cli_parse_int("tta", optarg, 1, 64, &shifts)) return 2;
        } else if (opt == 'f') {
            if (sono_folds_parse(optarg, &folds, &err) != SONO_OK) return cli_failf("--folds: %s", err.message), 2;
        } else return eval_usage(stderr), 2;
    }
    const int count = argc - optind - 1; /* models */
    if (count < 1) return eval_usage(stderr), 2;
    cli_log_to_stderr(0);
    sono_classifier **models = calloc((size_t)count, sizeof *models);
    sono_feature_set *set = NULL;
    sono_eval_result r = {0};
    const char *features = argv[argc - 1];
    sono_status s = models ? SONO_OK : sono_error_set(&err, SONO_ERR_MEMORY, "out of memory");
    for (int m = 0; s == SONO_OK && m < count; m++) s = sono_classifier_load(argv[optind + m], 64, &models[m], NULL, &err);
    if (s == SONO_OK) s = sono_feature_set_read(features, &set, &err);
    for (int m = 0; s == SONO_OK && m < count; m++) s = sono_check_compatible(models[m], set, features, &err);
    if (s == SONO_OK) s = sono_evaluate_ensemble(models, count, set, folds, (int)shifts, SONO_TTA_MAX_SHIFT, &r, &err);
    if (s == SONO_OK) {
        char fold_text[64] = "all";
        if (folds) sono_folds_format(folds, fold_text, sizeof fold_text);
        if (json) print_json(models[0], &r, fold_text);
        else print_text(models[0], &r, fold_text);
    }
    sono_eval_result_free(&r);
    sono_feature_set_free(set);
    for (int m = 0; models && m < count; m++) sono_classifier_free(models[m]);
    free(models);
    return s == SONO_OK ? 0 : cli_fail(&err);
}
