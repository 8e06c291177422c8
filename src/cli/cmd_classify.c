/* sonodream classify MODEL FILE...: the top classes of each sound file. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sonodream/classifier.h"

static void classify_usage(FILE *out) {
    fprintf(out,
            "usage: sonodream classify [MODEL] FILE... [--top K] [--json]\n\n"
            "Classify sound files (any format libsndfile reads). A file longer than the\n"
            "model's window is classified window by window (half-window hop) and the\n"
            "probabilities averaged. Without MODEL (when the first argument is a sound\n"
            "file), the shipped model installed under share/sonodream/models/ is used.\n\n"
            "options:\n"
            "  -k, --top K   classes to show per file (default 3)\n"
            "      --json    one JSON object on stdout\n"
            "  -h, --help    this help\n");
}

/* Indices of the k most probable classes, best first. */
static void top_k(const float *probs, int classes, int k, int *out) {
    for (int i = 0; i < k; i++) {
        int best = -1;
        for (int c = 0; c < classes; c++) {
            int taken = 0;
            for (int j = 0; j < i; j++) taken |= out[j] == c;
            if (!taken && (best < 0 || probs[c] > probs[best])) best = c;
        }
        out[i] = best;
    }
}

int cmd_classify(int argc, char **argv) {
    static const struct option longopts[] = {
        {"top", required_argument, 0, 'k'}, {"json", no_argument, 0, 'J'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    long k = 3;
    int json = 0, opt;
    while ((opt = getopt_long(argc, argv, "k:h", longopts, NULL)) != -1) {
        if (opt == 'h') return classify_usage(stdout), 0;
        if (opt == 'J') json = 1;
        else if (opt == 'k') {
            if (!cli_parse_int("top", optarg, 1, 100000, &k)) return 2;
        } else return classify_usage(stderr), 2;
    }
    int model_args;
    const char *model = cli_model_argument(argc - optind, argv + optind, 1, &model_args);
    if (!model) return argc - optind < 1 ? (classify_usage(stderr), 2) : 1;
    if (argc - optind - model_args < 1) return classify_usage(stderr), 2;
    cli_log_to_stderr(0);
    sono_error err = {0};
    sono_classifier *c = NULL;
    if (sono_classifier_load(model, 1, &c, NULL, &err) != SONO_OK) return cli_fail(&err);
    if (k > c->class_count) k = c->class_count;
    float *probs = malloc((size_t)c->class_count * sizeof(float));
    int *best = malloc((size_t)k * sizeof(int)), failures = 0;
    cJSON *root = json ? cJSON_CreateObject() : NULL, *files = root ? cJSON_AddArrayToObject(root, "files") : NULL;
    for (int i = optind + model_args; i < argc && probs && best; i++) {
        int windows = 0;
        if (sono_classifier_classify_file(c, argv[i], probs, &windows, &err) != SONO_OK) {
            cli_fail(&err);
            failures++;
            continue;
        }
        top_k(probs, c->class_count, (int)k, best);
        if (json) {
            cJSON *f = cJSON_CreateObject(), *top = cJSON_CreateArray();
            cJSON_AddStringToObject(f, "path", argv[i]);
            cJSON_AddNumberToObject(f, "windows", windows);
            for (int j = 0; j < k; j++) {
                cJSON *e = cJSON_CreateObject();
                cJSON_AddStringToObject(e, "class", c->class_names[best[j]]);
                cJSON_AddNumberToObject(e, "probability", probs[best[j]]);
                cJSON_AddItemToArray(top, e);
            }
            cJSON_AddItemToObject(f, "top", top);
            cJSON_AddItemToArray(files, f);
        } else {
            printf("%s (%d window%s)\n", argv[i], windows, windows == 1 ? "" : "s");
            for (int j = 0; j < k; j++) printf("  %-20s %6.2f%%\n", c->class_names[best[j]], 100 * probs[best[j]]);
        }
    }
    if (json) {
        char *text = cJSON_Print(root);
        puts(text);
        free(text);
        cJSON_Delete(root);
    }
    free(probs), free(best);
    sono_classifier_free(c);
    return failures ? 1 : 0;
}
