/* sonodream command line: one table drives dispatch and --help. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

static const cli_command commands[] = {
    {"prepare", "turn a folder of labelled recordings into a feature file", cmd_prepare},
    {"info", "describe a feature file, model or audio file", cmd_info},
    {"train", "train a classifier on a feature file", cmd_train},
    {"crossval", "k-fold cross-validation by the dataset's own folds", cmd_crossval},
    {"eval", "accuracy, per-class scores and confusion matrix of a model", cmd_eval},
    {"classify", "top classes of sound files", cmd_classify},
    {"dream", "DeepDream a sound: make a layer, channel or class respond more", cmd_dream},
    {"texture", "a new sound with another recording's texture, from noise", cmd_texture},
    {"style", "a recording in the texture of another", cmd_style},
    {"layers", "list a model's layers (what dream --layer/--channel take)", cmd_layers},
    {"serve", "a local dream studio: web page and JSON API", cmd_serve},
    {"atlas", "what every channel hears, and the recordings that excite it most", cmd_atlas},
};
static const int command_count = (int)(sizeof commands / sizeof commands[0]);

static void usage(FILE *out) {
    fprintf(out,
            "sonodream %s: DeepDream for sounds\n\n"
            "usage: sonodream COMMAND [OPTIONS] ...\n\ncommands:\n",
            SONO_VERSION);
    for (int i = 0; i < command_count; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'sonodream COMMAND --help' describes a command's options.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(name, "--version") == 0) {
        printf("sonodream %s\n", SONO_VERSION);
        return 0;
    }
    for (int i = 0; i < command_count; i++)
        if (strcmp(name, commands[i].name) == 0) {
            int code = cli_dist_start(&argc, &argv, name);
            return cli_dist_finish(code ? code : commands[i].run(argc - 1, argv + 1));
        }
    fprintf(stderr, "sonodream: unknown command '%s'\n\n", name);
    usage(stderr);
    return 2;
}
