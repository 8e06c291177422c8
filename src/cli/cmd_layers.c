/* sonodream layers MODEL [--json]: what `dream --layer/--channel` can take. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "sonodream/classifier.h"
#include "sonodream/dream.h"

static void layers_usage(FILE *out) {
    fprintf(out,
            "usage: sonodream layers MODEL [--json]\n\n"
            "List a model's layers: name, type, output shape (channels x mel rows x frames\n"
            "for one window) and channel count, i.e. what 'sonodream dream --layer NAME\n"
            "--channel N' accepts (N from 0 to channels - 1), and the classes '--class' takes.\n\n"
            "options:\n"
            "      --json   one JSON object on stdout, for scripts\n"
            "  -h, --help   this help\n");
}

static const char *layer_detail(const sono_layer_info *li, char *buf, size_t n) {
    switch (li->type) {
    case SONO_LAYER_CONV: snprintf(buf, n, "%dx%d, %s", li->kernel, li->kernel, sono_act_name(li->act)); break;
    case SONO_LAYER_POOL: snprintf(buf, n, "max %dx%d", li->kernel, li->kernel); break;
    case SONO_LAYER_DROPOUT: snprintf(buf, n, "rate %g (off when dreaming)", li->rate); break;
    case SONO_LAYER_DENSE: snprintf(buf, n, "%s", sono_act_name(li->act)); break;
    default: buf[0] = '\0';
    }
    return buf;
}

static void print_json(const sono_classifier *c) {
    cJSON *root = cJSON_CreateObject();
    sono_dream_model_add_json(root, c);
    char *text = cJSON_Print(root);
    if (text) puts(text);
    free(text);
    cJSON_Delete(root);
}

int cmd_layers(int argc, char **argv) {
    static const struct option longopts[] = {
        {"json", no_argument, 0, 'J'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int json = 0, opt;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (opt == 'h') return layers_usage(stdout), 0;
        if (opt == 'J') json = 1;
        else return layers_usage(stderr), 2;
    }
    if (argc - optind != 1) {
        cli_failf("layers needs one MODEL (see 'sonodream layers --help')");
        return 2;
    }
    cli_log_to_stderr(0);
    sono_error err = {0};
    sono_classifier *c = NULL;
    if (sono_classifier_load(argv[optind], 1, &c, NULL, &err) != SONO_OK) return cli_fail(&err);
    const sono_net *net = c->net;
    int default_layer = sono_dream_default_layer(net);
    if (json) {
        print_json(c);
    } else {
        sono_shape in = sono_net_input_shape(net);
        printf("%s: %s\ninput %d x %d x %d (channels x mel bands x frames), %d classes\n\n", argv[optind],
               sono_net_spec(net), in.c, in.h, in.w, c->class_count);
        printf("%3s  %-10s %-9s %-18s %8s  %s\n", "#", "name", "type", "output (C x H x W)", "channels", "");
        for (int i = 0; i < sono_net_layer_count(net); i++) {
            const sono_layer_info *li = sono_net_layer(net, i);
            char shape[48], detail[64];
            snprintf(shape, sizeof shape, "%d x %d x %d", li->out.c, li->out.h, li->out.w);
            printf("%3d  %-10s %-9s %-18s %8d  %s%s\n", i, li->name, sono_layer_type_name(li->type), shape, li->out.c,
                   layer_detail(li, detail, sizeof detail), i == default_layer ? "  <- default dream layer" : "");
        }
        printf("\nclasses (--class):");
        for (int k = 0; k < c->class_count; k++) printf("%s %s", k ? "," : "", c->class_names[k]);
        printf("\nDense layers and logits see whole windows; convolutions see any size.\n");
    }
    sono_classifier_free(c);
    return 0;
}
