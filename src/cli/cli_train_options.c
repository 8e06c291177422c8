/* The training options train and crossval share (--arch, --epochs, --lr,
 * augmentation, checkpoints...), parsed in one place. Each command keeps its
 * own getopt table (so its options stay listed where its man page is checked
 * against them) and hands every long option to cli_train_option by name
 * first. */
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static int set_optimizer(sono_train_options *t, const char *name) {
    sono_optim_kind kind;
    if (strcmp(name, "adam") == 0) kind = SONO_OPTIM_ADAM;
    else if (strcmp(name, "sgd") == 0) kind = SONO_OPTIM_SGD;
    else return cli_failf("--optimizer: '%s' is not adam or sgd", name), 0;
    float wd = t->optim.weight_decay;
    t->optim = sono_optim_defaults(kind);
    t->optim.weight_decay = wd;
    return 1;
}

static int set_schedule(cli_train_extras *x, const char *arg) {
    if (strcmp(arg, "plateau") != 0 && strcmp(arg, "cosine") != 0)
        return cli_failf("--schedule: '%s' is not plateau or cosine", arg), 0;
    x->schedule = arg;
    return 1;
}

/* Adversarial training: --adversarial none|fgsm|pgd, --adv-epsilon X,
 * --adv-steps K, --adv-step-size X (the kind keeps the other settings). */
static int adversarial_option(sono_adversarial *adv, const char *name, const char *arg) {
    long v;
    double d;
    if (!strcmp(name, "adversarial")) {
        int kind = sono_attack_from_name(arg);
        if (kind < 0) return cli_failf("--adversarial: '%s' is not none, fgsm or pgd", arg), 0;
        adv->attack = (sono_attack_kind)kind;
        return 1;
    }
    if (!strcmp(name, "adv-epsilon")) return cli_parse_double(name, arg, 1e-6, 100, &d) && ((adv->epsilon = (float)d), 1);
    if (!strcmp(name, "adv-steps")) return cli_parse_int(name, arg, 1, 1000, &v) && ((adv->steps = (int)v), 1);
    if (!strcmp(name, "adv-step-size"))
        return cli_parse_double(name, arg, 1e-6, 100, &d) && ((adv->step_size = (float)d), 1);
    return -1;
}

/* Augmentation: time shift, masks, mixup. */
static int augment_option(sono_augment *aug, const char *name, const char *arg) {
    long v;
    double d;
    if (!strcmp(name, "time-shift")) return cli_parse_int(name, arg, 0, 10000, &v) && ((aug->time_shift = (int)v), 1);
    if (!strcmp(name, "time-masks")) return cli_parse_int(name, arg, 0, 100, &v) && ((aug->time_masks = (int)v), 1);
    if (!strcmp(name, "freq-masks")) return cli_parse_int(name, arg, 0, 100, &v) && ((aug->freq_masks = (int)v), 1);
    if (!strcmp(name, "mask-width")) {
        if (!cli_parse_int(name, arg, 0, 10000, &v)) return 0;
        aug->time_mask_width = aug->freq_mask_width = (int)v;
        return 1;
    }
    if (!strcmp(name, "mixup")) return cli_parse_double(name, arg, 0, 100, &d) && ((aug->mixup = (float)d), 1);
    if (!strcmp(name, "no-augment")) return memset(aug, 0, sizeof *aug), 1;
    return -1;
}

int cli_train_option(sono_train_options *t, cli_train_extras *x, const char *name, const char *arg) {
    long v;
    double d;
    if (!strcmp(name, "arch")) return (t->arch = arg), 1;
    if (!strcmp(name, "epochs")) return cli_parse_int(name, arg, 1, 100000, &v) && (t->epochs = (int)v);
    if (!strcmp(name, "iterations")) return cli_parse_int(name, arg, 1, 1000000000, &v) && (t->max_iterations = v);
    if (!strcmp(name, "batch")) return cli_parse_int(name, arg, 1, 4096, &v) && (t->batch = (int)v);
    if (!strcmp(name, "optimizer")) return set_optimizer(t, arg);
    if (!strcmp(name, "lr")) return (x->lr_text = arg), cli_parse_double(name, arg, 1e-9, 10, &d);
    if (!strcmp(name, "momentum")) return cli_parse_double(name, arg, 0, 0.999, &d) && ((t->optim.momentum = (float)d), 1);
    if (!strcmp(name, "weight-decay"))
        return cli_parse_double(name, arg, 0, 1, &d) && ((t->optim.weight_decay = (float)d), 1);
    if (!strcmp(name, "patience")) return cli_parse_int(name, arg, 0, 1000, &v) && ((t->plateau_patience = (int)v), 1);
    if (!strcmp(name, "schedule")) return set_schedule(x, arg);
    if (!strcmp(name, "label-smoothing"))
        return cli_parse_double(name, arg, 0, 0.99, &d) && ((t->label_smoothing = (float)d), 1);
    if (!strcmp(name, "seed")) return cli_parse_int(name, arg, 0, 2147483647L, &v) && ((t->seed = (uint64_t)v), 1);
    if (!strcmp(name, "checkpoint-every"))
        return cli_parse_int(name, arg, 0, 1000000000, &v) && ((t->checkpoint_every = (int)v), 1);
    if (!strcmp(name, "keep")) return cli_parse_int(name, arg, 1, 1000, &v) && (t->keep_checkpoints = (int)v);
    int done = adversarial_option(&t->adversarial, name, arg);
    return done >= 0 ? done : augment_option(&t->augment, name, arg);
}

void cli_train_finish(sono_train_options *t, const cli_train_extras *x) {
    /* --lr after --optimizer wins whatever the order on the line. */
    if (x->lr_text) t->optim.lr = (float)strtod(x->lr_text, NULL);
}
