/* The architecture spec: parsing, canonical text, presets, and the plan
 * (full layer list with names and shapes for an input). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"
#include "sonodream/nn.h"

#define MAX_CONV_CHANNELS 4096
#define MAX_DENSE_UNITS 65536
#define MAX_KERNEL 15
#define MAX_POOL 64
#define MAX_TOKEN 64

static const struct {
    const char *name, *spec;
} presets[] = {
    {"seed", "c32,c32,p4,d0.25,c64,c64,c64,p4,d0.5,f256,f128"},
    {"xsmall", "c8,c8,p4,d0.25,c16,c16,c16,p4,d0.5,f64,f32"},
    {"fat_shallow", "c64,p4,d0.25,c128,p4,d0.5,f512"},
    {"slim_deep", "c16,c16,c16,p2,d0.25,c32,c32,c32,p2,d0.25,c64,c64,p2,d0.5,f128,f64"},
    /* seed with batch norm after every convolution */
    {"seed_bn", "c32:linear,bn,lr,c32:linear,bn,lr,p4,d0.25,c64:linear,bn,lr,c64:linear,bn,lr,c64:linear,bn,lr,p4,"
                "d0.5,f256,f128"},
};
#define PRESET_COUNT ((int)(sizeof presets / sizeof presets[0]))

int sono_arch_preset_count(void) { return PRESET_COUNT; }

const char *sono_arch_preset_name(int index) {
    return index >= 0 && index < PRESET_COUNT ? presets[index].name : NULL;
}

const char *sono_arch_preset(const char *name) {
    for (int i = 0; i < PRESET_COUNT; i++)
        if (name && strcmp(name, presets[i].name) == 0) return presets[i].spec;
    return NULL;
}

const char *sono_layer_type_name(sono_layer_type type) {
    switch (type) {
    case SONO_LAYER_CONV: return "conv";
    case SONO_LAYER_POOL: return "pool";
    case SONO_LAYER_DROPOUT: return "dropout";
    case SONO_LAYER_DENSE: return "dense";
    case SONO_LAYER_BATCHNORM: return "batchnorm";
    case SONO_LAYER_RELU: return "relu";
    case SONO_LAYER_LRELU: return "lrelu";
    case SONO_LAYER_FLATTEN: return "flatten";
    }
    return "?";
}

/* A whole-string integer in lo..hi; 0 when text is not one. */
static int parse_int(const char *text, long lo, long hi, int *out) {
    if (!isdigit((unsigned char)text[0])) return 0;
    errno = 0;
    char *end;
    long v = strtol(text, &end, 10);
    if (errno || *end || v < lo || v > hi) return 0;
    *out = (int)v;
    return 1;
}

static int parse_act(const char *text, sono_act *out) {
    if (strcmp(text, "lrelu") == 0) *out = SONO_ACT_LRELU;
    else if (strcmp(text, "relu") == 0) *out = SONO_ACT_RELU;
    else if (strcmp(text, "linear") == 0) *out = SONO_ACT_NONE;
    else return 0;
    return 1;
}

#define TOKEN_FAIL(...)                                                                        \
    do {                                                                                       \
        char detail_[256];                                                                     \
        snprintf(detail_, sizeof detail_, __VA_ARGS__);                                        \
        return sono_error_set(err, SONO_ERR_ARGUMENT, "arch spec: token %d '%s': %s", pos,    \
                              token, detail_);                                                 \
    } while (0)

/* Options after the first ':' of a conv or dense token. */
static sono_status parse_options(char *opts, sono_layer_spec *l, const char *token, int pos,
                                 sono_error *err) {
    while (opts) {
        char *next = strchr(opts, ':');
        if (next) *next++ = '\0';
        if (parse_act(opts, &l->act)) {
        } else if (l->type == SONO_LAYER_CONV && opts[0] == 'k') {
            if (!parse_int(opts + 1, 1, MAX_KERNEL, &l->kernel) || l->kernel % 2 == 0)
                TOKEN_FAIL("kernel size must be odd and in 1..%d", MAX_KERNEL);
        } else {
            TOKEN_FAIL("unknown option '%s' (expected %slrelu, relu or linear)", opts,
                       l->type == SONO_LAYER_CONV ? "kN, " : "");
        }
        opts = next;
    }
    return SONO_OK;
}

static sono_status parse_token(char *tok, const char *token, int pos, sono_layer_spec *l,
                               sono_error *err) {
    memset(l, 0, sizeof *l);
    char *opts = strchr(tok, ':');
    if (opts) *opts++ = '\0';
    if (strcmp(tok, "bn") == 0 || strcmp(tok, "r") == 0 || strcmp(tok, "relu") == 0 ||
        strcmp(tok, "lr") == 0 || strcmp(tok, "lrelu") == 0) {
        if (opts) TOKEN_FAIL("takes no options");
        l->type = tok[0] == 'b' ? SONO_LAYER_BATCHNORM
                  : tok[0] == 'r' ? SONO_LAYER_RELU
                                  : SONO_LAYER_LRELU;
        return SONO_OK;
    }
    switch (tok[0]) {
    case 'c':
        l->type = SONO_LAYER_CONV;
        l->kernel = 3;
        l->act = SONO_ACT_LRELU;
        if (!parse_int(tok + 1, 1, MAX_CONV_CHANNELS, &l->units))
            TOKEN_FAIL("channel count must be in 1..%d", MAX_CONV_CHANNELS);
        return parse_options(opts, l, token, pos, err);
    case 'f':
        l->type = SONO_LAYER_DENSE;
        l->act = SONO_ACT_LRELU;
        if (!parse_int(tok + 1, 1, MAX_DENSE_UNITS, &l->units))
            TOKEN_FAIL("unit count must be in 1..%d", MAX_DENSE_UNITS);
        return parse_options(opts, l, token, pos, err);
    case 'p':
        l->type = SONO_LAYER_POOL;
        if (opts) TOKEN_FAIL("takes no options");
        if (!parse_int(tok + 1, 2, MAX_POOL, &l->kernel))
            TOKEN_FAIL("pool size must be in 2..%d", MAX_POOL);
        return SONO_OK;
    case 'd': {
        l->type = SONO_LAYER_DROPOUT;
        if (opts) TOKEN_FAIL("takes no options");
        char *end;
        errno = 0;
        /* Checked as the float it is stored as: 0.99999999 rounds to 1.0f,
         * and dropout at rate 1 scales by 1/(1 - 1). */
        float p = (float)strtod(tok + 1, &end);
        if (!(isdigit((unsigned char)tok[1]) || tok[1] == '.') || errno || *end || !(p >= 0.0f) ||
            !(p < 1.0f))
            TOKEN_FAIL("dropout probability must be a number in [0, 1)");
        l->rate = p;
        return SONO_OK;
    }
    default:
        TOKEN_FAIL("unknown layer (expected cN, pK, dP, fN, bn, r or lr)");
    }
}

/* Copy of text without white space, presets expanded. */
static sono_status normalise(const char *text, char *buf, size_t size, sono_error *err) {
    size_t n = 0;
    for (const char *s = text; *s; s++) {
        if (isspace((unsigned char)*s)) continue;
        if (n + 1 >= size)
            return sono_error_set(err, SONO_ERR_ARGUMENT, "arch spec: longer than %zu characters",
                                  size - 1);
        buf[n++] = (char)tolower((unsigned char)*s);
    }
    buf[n] = '\0';
    const char *preset = sono_arch_preset(buf);
    if (preset) snprintf(buf, size, "%s", preset);
    if (!buf[0]) return sono_error_set(err, SONO_ERR_ARGUMENT, "arch spec: empty");
    return SONO_OK;
}

sono_status sono_arch_parse(const char *text, sono_arch *out, sono_error *err) {
    char buf[SONO_ARCH_TEXT_MAX];
    if (!text) text = SONO_ARCH_DEFAULT;
    sono_status st = normalise(text, buf, sizeof buf, err);
    if (st) return st;
    sono_arch a = {0};
    int dense_seen = 0, pos = 0;
    char *s = buf;
    for (;;) {
        char *comma = strchr(s, ',');
        if (comma) *comma = '\0';
        char token[MAX_TOKEN + 4];
        snprintf(token, sizeof token, "%.*s%s", MAX_TOKEN, s, strlen(s) > MAX_TOKEN ? "..." : "");
        pos++;
        if (!s[0]) TOKEN_FAIL("empty token");
        if (a.count == SONO_ARCH_MAX_LAYERS) TOKEN_FAIL("more than %d layers", SONO_ARCH_MAX_LAYERS);
        sono_layer_spec *l = &a.layers[a.count];
        st = parse_token(s, token, pos, l, err);
        if (st) return st;
        if (dense_seen && (l->type == SONO_LAYER_CONV || l->type == SONO_LAYER_POOL))
            TOKEN_FAIL("%s after a dense layer (convolution and pooling come first)",
                       sono_layer_type_name(l->type));
        if (l->type == SONO_LAYER_DENSE) dense_seen = 1;
        a.count++;
        if (!comma) break;
        s = comma + 1;
    }
    *out = a;
    return SONO_OK;
}

/* The shortest decimal text that reads back as exactly this float, so the
 * canonical spec stored in a model rebuilds the same network. */
static void format_float_exactly(float x, char *buf, size_t size) {
    for (int digits = 6; digits <= 9; digits++) {
        snprintf(buf, size, "%.*g", digits, (double)x);
        if ((float)strtod(buf, NULL) == x) return; /* as the parser reads it */
    }
}

static int format_layer(const sono_layer_spec *l, char *buf, size_t size) {
    char rate[32];
    const char *act = l->act == SONO_ACT_LRELU ? "" : l->act == SONO_ACT_RELU ? ":relu" : ":linear";
    switch (l->type) {
    case SONO_LAYER_CONV:
        if (l->kernel != 3) return snprintf(buf, size, "c%d:k%d%s", l->units, l->kernel, act);
        return snprintf(buf, size, "c%d%s", l->units, act);
    case SONO_LAYER_DENSE: return snprintf(buf, size, "f%d%s", l->units, act);
    case SONO_LAYER_POOL: return snprintf(buf, size, "p%d", l->kernel);
    case SONO_LAYER_DROPOUT:
        format_float_exactly(l->rate, rate, sizeof rate);
        return snprintf(buf, size, "d%s", rate);
    case SONO_LAYER_BATCHNORM: return snprintf(buf, size, "bn");
    case SONO_LAYER_RELU: return snprintf(buf, size, "r");
    case SONO_LAYER_LRELU: return snprintf(buf, size, "lr");
    case SONO_LAYER_FLATTEN: return snprintf(buf, size, "flatten");
    }
    return 0;
}

int sono_arch_format(const sono_arch *arch, char *buf, size_t size) {
    size_t n = 0;
    for (int i = 0; i < arch->count; i++) {
        if (i) {
            if (n + 1 < size) buf[n] = ',';
            n++;
        }
        n += (size_t)format_layer(&arch->layers[i], n < size ? buf + n : NULL,
                                  n < size ? size - n : 0);
    }
    if (size) buf[n < size ? n : size - 1] = '\0';
    return (int)n;
}

/* ---- the plan ---- */

static void name_layer(sono_layer_info *li, int *counters) {
    static const char *const prefix[] = {"conv", "pool", "drop", "fc", "bn", "relu", "lrelu", ""};
    snprintf(li->name, sizeof li->name, "%s%d", prefix[li->type], ++counters[li->type]);
}

sono_status sono_arch_plan(const sono_arch *arch, sono_shape input, int classes,
                           sono_layer_info *layers, int *count, sono_error *err) {
    if (input.c < 1 || input.h < 1 || input.w < 1 || sono_shape_size(input) > (size_t)1 << 28)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "network input shape %dx%dx%d is not valid",
                              input.c, input.h, input.w);
    if (classes < 1 || classes > MAX_DENSE_UNITS)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "class count %d must be in 1..%d", classes,
                              MAX_DENSE_UNITS);
    int counters[8] = {0}, n = 0, flat = 0;
    sono_shape s = input;
    for (int i = 0; i <= arch->count; i++) {
        sono_layer_spec spec = {.type = SONO_LAYER_DENSE, .units = classes, .act = SONO_ACT_NONE};
        if (i < arch->count) spec = arch->layers[i];
        if (spec.type == SONO_LAYER_DENSE && !flat) {
            sono_layer_info *f = &layers[n++];
            memset(f, 0, sizeof *f);
            f->type = SONO_LAYER_FLATTEN;
            snprintf(f->name, sizeof f->name, "flatten");
            f->in = s;
            s = (sono_shape){(int)sono_shape_size(s), 1, 1};
            f->out = s;
            flat = 1;
        }
        sono_layer_info *li = &layers[n++];
        memset(li, 0, sizeof *li);
        li->type = spec.type;
        li->act = spec.act;
        li->units = spec.units;
        li->kernel = spec.kernel;
        li->rate = spec.rate;
        li->in = s;
        if (i < arch->count) name_layer(li, counters);
        else snprintf(li->name, sizeof li->name, "logits");
        if (spec.type == SONO_LAYER_CONV || spec.type == SONO_LAYER_DENSE) s.c = spec.units;
        if (spec.type == SONO_LAYER_POOL)
            s = (sono_shape){s.c, sono_pool_out_size(s.h, spec.kernel),
                             sono_pool_out_size(s.w, spec.kernel)};
        if (sono_shape_size(s) > (size_t)1 << 28)
            return sono_error_set(err, SONO_ERR_ARGUMENT,
                                  "layer %s: output %dx%dx%d is too large", li->name, s.c, s.h,
                                  s.w);
        li->out = s;
    }
    *count = n;
    return SONO_OK;
}
