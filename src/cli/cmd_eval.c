/* sonodream eval MODEL [MODEL...] FEATURES [--folds F] [--json]: accuracy,
 * per-class precision, recall and F1, and the confusion matrix; several
 * models are evaluated as an ensemble (their probabilities averaged). With
 * --attack, one model's robust accuracy under that attack beside it. */
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
            "      --attack KIND          also report robust accuracy: each clip perturbed against its\n"
            "                             class by pgd (random start, then K steps) or fgsm before it\n"
            "                             is classified (one model; not with --tta)\n"
            "      --attack-epsilon X     radius (L-infinity) in standard deviations of each mel band of\n"
            "                             the standardised log-mel, X * the band's std in dB (default 0.25)\n"
            "      --attack-steps K       pgd steps (default 10)\n"
            "      --attack-step-size X   step, in standard deviations (default pgd 2.5 X / K, fgsm 1.25 X)\n"
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

#define EVAL_PGD_STEPS 10

typedef struct eval_args {
    sono_folds folds;
    int json;
    long shifts;
    sono_adversarial attack;
} eval_args;

static void print_robust_text(const sono_eval_result *r, const sono_adversarial *attack) {
    char what[128];
    sono_adversarial_describe(attack, what, sizeof what);
    printf("robust accuracy %.2f%% (%d/%d clips) under %s, mean loss %.4f\n", 100.0 * r->correct / r->count,
           r->correct, r->count, what, r->loss);
}

static void print_text(const sono_classifier *c, const sono_eval_result *r, const char *folds,
                       const sono_eval_result *robust, const sono_adversarial *attack) {
    printf("accuracy %.2f%% (%d/%d clips, folds %s), mean loss %.4f\n", 100.0 * r->correct / r->count, r->correct,
           r->count, folds, r->loss);
    if (robust) print_robust_text(robust, attack);
    printf("\n");
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

static cJSON *robust_json(const sono_eval_result *r, const sono_adversarial *attack) {
    cJSON *o = cJSON_CreateObject();
    char what[128];
    sono_adversarial_describe(attack, what, sizeof what);
    cJSON_AddStringToObject(o, "attack", sono_attack_name(attack->attack));
    cJSON_AddStringToObject(o, "description", what);
    cJSON_AddNumberToObject(o, "epsilon", attack->epsilon);
    cJSON_AddNumberToObject(o, "steps", sono_adversarial_steps(attack));
    cJSON_AddNumberToObject(o, "step_size", sono_adversarial_step_size(attack));
    cJSON_AddNumberToObject(o, "correct", r->correct);
    cJSON_AddNumberToObject(o, "accuracy", (double)r->correct / r->count);
    cJSON_AddNumberToObject(o, "loss", r->loss);
    return o;
}

static void print_json(const sono_classifier *c, const sono_eval_result *r, const char *folds, const sono_eval_result *robust,
                       const sono_adversarial *attack) {
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
    if (robust) cJSON_AddItemToObject(o, "robust", robust_json(robust, attack));
    char *text = cJSON_Print(o);
    puts(text);
    free(text);
    cJSON_Delete(o);
}

enum { OPT_ATTACK = 256, OPT_ATTACK_EPSILON, OPT_ATTACK_STEPS, OPT_ATTACK_STEP_SIZE };

static int parse_attack_option(eval_args *a, int opt, const char *arg) {
    long v;
    double d;
    switch (opt) {
    case OPT_ATTACK: {
        int kind = sono_attack_from_name(arg);
        if (kind < 0) return cli_failf("--attack: '%s' is not none, fgsm or pgd", arg), 0;
        a->attack.attack = (sono_attack_kind)kind;
        return 1;
    }
    case OPT_ATTACK_EPSILON:
        return cli_parse_double("attack-epsilon", arg, 1e-6, 100, &d) && ((a->attack.epsilon = (float)d), 1);
    case OPT_ATTACK_STEPS: return cli_parse_int("attack-steps", arg, 1, 1000, &v) && ((a->attack.steps = (int)v), 1);
    case OPT_ATTACK_STEP_SIZE:
        return cli_parse_double("attack-step-size", arg, 1e-6, 100, &d) && ((a->attack.step_size = (float)d), 1);
    }
    return 0;
}

/* Options into *a; returns optind, or -1 (*code: the exit status). */
static int parse_eval_args(int argc, char **argv, eval_args *a, int *code) {
    static const struct option longopts[] = {
        {"folds", required_argument, 0, 'f'}, {"json", no_argument, 0, 'J'}, {"tta", required_argument, 0, 'T'},
        {"attack", required_argument, 0, OPT_ATTACK}, {"attack-epsilon", required_argument, 0, OPT_ATTACK_EPSILON},
        {"attack-steps", required_argument, 0, OPT_ATTACK_STEPS},
        {"attack-step-size", required_argument, 0, OPT_ATTACK_STEP_SIZE},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    sono_error err = {0};
    int opt;
    a->shifts = 1;
    a->attack = sono_adversarial_defaults(SONO_ATTACK_NONE);
    a->attack.steps = EVAL_PGD_STEPS;
    *code = 2;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt == 'h') return eval_usage(stdout), *code = 0, -1;
        if (opt == 'J') a->json = 1;
        else if (opt == 'T') {
            if (!cli_parse_int("tta", optarg, 1, 64, &a->shifts)) return -1;
        } else if (opt == 'f') {
            if (sono_folds_parse(optarg, &a->folds, &err) != SONO_OK) return cli_failf("--folds: %s", err.message), -1;
        } else if (opt >= OPT_ATTACK) {
            if (!parse_attack_option(a, opt, optarg)) return -1;
        } else return eval_usage(stderr), -1;
    }
    if (argc - optind < 2) return eval_usage(stderr), -1;
    if (a->attack.attack != SONO_ATTACK_NONE && (argc - optind > 2 || a->shifts > 1))
        return cli_failf("--attack evaluates one model without --tta"), -1;
    return optind;
}

int cmd_eval(int argc, char **argv) {
    eval_args a = {0};
    int code, first = parse_eval_args(argc, argv, &a, &code);
    if (first < 0) return code;
    const int count = argc - first - 1; /* models */
    const int robust = a.attack.attack != SONO_ATTACK_NONE;
    cli_log_to_stderr(0);
    sono_error err = {0};
    sono_classifier **models = calloc((size_t)count, sizeof *models);
    sono_feature_set *set = NULL;
    sono_eval_result r = {0}, rr = {0};
    const char *features = argv[argc - 1];
    sono_status s = models ? SONO_OK : sono_error_set(&err, SONO_ERR_MEMORY, "out of memory");
    for (int m = 0; s == SONO_OK && m < count; m++) s = sono_classifier_load(argv[first + m], 64, &models[m], NULL, &err);
    if (s == SONO_OK) s = sono_feature_set_read(features, &set, &err);
    for (int m = 0; s == SONO_OK && m < count; m++) s = sono_check_compatible(models[m], set, features, &err);
    if (s == SONO_OK && robust) s = sono_evaluate_robust(models[0], set, a.folds, &a.attack, &r, &rr, &err);
    else if (s == SONO_OK)
        s = sono_evaluate_ensemble(models, count, set, a.folds, (int)a.shifts, SONO_TTA_MAX_SHIFT, &r, &err);
    if (s == SONO_OK) {
        char fold_text[64] = "all";
        if (a.folds) sono_folds_format(a.folds, fold_text, sizeof fold_text);
        if (a.json) print_json(models[0], &r, fold_text, robust ? &rr : NULL, &a.attack);
        else print_text(models[0], &r, fold_text, robust ? &rr : NULL, &a.attack);
    }
    sono_eval_result_free(&r), sono_eval_result_free(&rr);
    sono_feature_set_free(set);
    for (int m = 0; models && m < count; m++) sono_classifier_free(models[m]);
    free(models);
    return s == SONO_OK ? 0 : cli_fail(&err);
}
