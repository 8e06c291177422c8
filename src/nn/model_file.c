/* The model file: a network's tensors and description (and optionally the
 * optimizer state) in one safetensors file, written atomically by the
 * safetensors writer. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"
#include "sonodream/safetensors.h"

static const char *const reserved_keys[] = {"format",    "format_version", "arch",
                                            "input_shape", "class_count", "rng_seed",
                                            "rng_step",  "optim_kind",     "optim_step",
                                            "optim_config"};
#define RESERVED_COUNT ((int)(sizeof reserved_keys / sizeof reserved_keys[0]))

/* ---- saving ---- */

static char *optim_config_json(const sono_optim_config *c) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "lr", c->lr);
    cJSON_AddNumberToObject(o, "beta1", c->beta1);
    cJSON_AddNumberToObject(o, "beta2", c->beta2);
    cJSON_AddNumberToObject(o, "eps", c->eps);
    cJSON_AddNumberToObject(o, "momentum", c->momentum);
    cJSON_AddNumberToObject(o, "weight_decay", c->weight_decay);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

/* PyTorch's BatchNorm also has num_batches_tracked (an int64 scalar); every
 * train-mode forward updates every batch norm once, so it equals rng_step.
 * Writing it lets torch load the file with strict=True. Ignored on load. */
static sono_status add_batches_tracked(sono_st_writer *w, const sono_tensor_info *t,
                                       const int64_t *tracked, char *name, sono_error *err) {
    const char *dot = strstr(t->name, ".running_var");
    if (!dot) return SONO_OK;
    snprintf(name, 64, "%.*s.num_batches_tracked", (int)(dot - t->name), t->name);
    return sono_st_writer_add(w, name, SONO_DTYPE_I64, 0, NULL, tracked, err);
}

static sono_status add_tensors(sono_st_writer *w, const sono_net *net, const sono_optim *opt,
                               const int64_t *tracked, char names[][64], sono_error *err) {
    int n = 0;
    for (int j = 0; j < net->ntensors; j++) {
        const sono_tensor_info *t = &net->tensors[j];
        sono_status st = sono_st_writer_add(w, t->name, SONO_DTYPE_F32, t->ndim, t->shape, t->data, err);
        if (!st) st = add_batches_tracked(w, t, tracked, names[n++], err);
        if (st) return st;
        if (!opt || !t->is_param) continue;
        const float *state[2] = {opt->m, opt->v};
        const char *prefix[2] = {"optim.m.", "optim.v."};
        for (int s = 0; s < 2; s++) {
            if (!state[s]) continue;
            snprintf(names[n], 64, "%s%s", prefix[s], t->name);
            st = sono_st_writer_add(w, names[n++], SONO_DTYPE_F32, t->ndim, t->shape,
                                    state[s] + t->offset, err);
            if (st) return st;
        }
    }
    return SONO_OK;
}

static sono_status add_metadata(sono_st_writer *w, const sono_net *net, const sono_optim *opt,
                                sono_error *err) {
    char buf[8][64];
    snprintf(buf[0], 64, "%d", SONO_MODEL_FORMAT_VERSION);
    snprintf(buf[1], 64, "%d,%d,%d", net->input.c, net->input.h, net->input.w);
    snprintf(buf[2], 64, "%d", net->classes);
    snprintf(buf[3], 64, "%" PRIu64, net->rng_seed);
    snprintf(buf[4], 64, "%" PRIu64, net->rng_step);
    const char *kv[][2] = {{"format", SONO_MODEL_FORMAT}, {"format_version", buf[0]},
                           {"arch", net->spec},           {"input_shape", buf[1]},
                           {"class_count", buf[2]},       {"rng_seed", buf[3]},
                           {"rng_step", buf[4]}};
    sono_status st = SONO_OK;
    for (size_t i = 0; !st && i < sizeof kv / sizeof kv[0]; i++)
        st = sono_st_writer_set_metadata(w, kv[i][0], kv[i][1], err);
    if (st || !opt) return st;
    snprintf(buf[5], 64, "%" PRId64, opt->step);
    char *config = optim_config_json(&opt->cfg);
    if (!config) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    st = sono_st_writer_set_metadata(w, "optim_kind", sono_optim_kind_name(opt->cfg.kind), err);
    if (!st) st = sono_st_writer_set_metadata(w, "optim_step", buf[5], err);
    if (!st) st = sono_st_writer_set_metadata(w, "optim_config", config, err);
    free(config);
    return st;
}

sono_status sono_model_save(const char *path, const sono_net *net, const sono_optim *opt,
                            const char *const *keys, const char *const *values, int count,
                            sono_error *err) {
    if (opt && opt->count != net->nparams)
        return sono_error_set(err, SONO_ERR_ARGUMENT,
                              "%s: the optimizer holds %zu values but the network has %zu "
                              "parameters", path, opt->count, net->nparams);
    for (int i = 0; i < count; i++)
        for (int r = 0; r < RESERVED_COUNT; r++)
            if (strcmp(keys[i], reserved_keys[r]) == 0)
                return sono_error_set(err, SONO_ERR_ARGUMENT,
                                      "%s: metadata key '%s' is reserved for the model file", path,
                                      keys[i]);
    sono_status st = SONO_OK;
    int64_t tracked = (int64_t)net->rng_step;
    char(*names)[64] = calloc(3 * (size_t)net->ntensors + 1, sizeof *names);
    sono_st_writer *w = sono_st_writer_new();
    if (!names || !w) {
        st = sono_error_set(err, SONO_ERR_MEMORY, "%s: out of memory", path);
        goto done;
    }
    if ((st = add_tensors(w, net, opt, &tracked, names, err))) goto done;
    if ((st = add_metadata(w, net, opt, err))) goto done;
    for (int i = 0; !st && i < count; i++) st = sono_st_writer_set_metadata(w, keys[i], values[i], err);
    if (!st) st = sono_st_writer_write(w, path, err);
done:
    sono_st_writer_free(w);
    free(names);
    return st;
}

/* ---- loading ---- */

static const char *need_meta(const sono_st_file *f, const char *key, sono_status *st,
                             sono_error *err) {
    const char *v = sono_st_metadata(f, key);
    if (!v && !*st)
        *st = sono_error_set(err, SONO_ERR_FORMAT, "%s: metadata '%s' is missing", sono_st_path(f), key);
    return v;
}

static int parse_u64(const char *text, uint64_t *out) {
    if (!text || !*text || *text == '-') return 0;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || *end) return 0;
    *out = v;
    return 1;
}

/* Everything needed to build the net, from the metadata. */
static sono_status read_description(const sono_st_file *f, sono_shape *in, int *classes,
                                    uint64_t *seed, uint64_t *step, sono_error *err) {
    sono_status st = SONO_OK;
    const char *path = sono_st_path(f);
    const char *format = need_meta(f, "format", &st, err);
    const char *version = need_meta(f, "format_version", &st, err);
    const char *shape = need_meta(f, "input_shape", &st, err);
    const char *cls = need_meta(f, "class_count", &st, err);
    const char *s_seed = need_meta(f, "rng_seed", &st, err);
    const char *s_step = need_meta(f, "rng_step", &st, err);
    need_meta(f, "arch", &st, err);
    if (st) return st;
    if (strcmp(format, SONO_MODEL_FORMAT) != 0)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: format is '%s', not '%s'", path, format,
                              SONO_MODEL_FORMAT);
    uint64_t v;
    if (!parse_u64(version, &v) || v < 1 || v > SONO_MODEL_FORMAT_VERSION)
        return sono_error_set(err, SONO_ERR_UNSUPPORTED,
                              "%s: model format version '%s' is not supported (this build reads 1..%d)",
                              path, version, SONO_MODEL_FORMAT_VERSION);
    char tail;
    if (sscanf(shape, "%d,%d,%d%c", &in->c, &in->h, &in->w, &tail) != 3)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: input_shape '%s' is not C,H,W", path, shape);
    if (!parse_u64(cls, &v) || v > 1000000)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: class_count '%s' is not a count", path, cls);
    *classes = (int)v;
    if (!parse_u64(s_seed, seed) || !parse_u64(s_step, step))
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: rng_seed or rng_step is not a number", path);
    return SONO_OK;
}

/* Read one tensor of the net's shape into dst. */
static sono_status read_tensor(const sono_st_file *f, const char *name, const sono_tensor_info *t,
                               float *dst, sono_error *err) {
    const sono_st_tensor *st_t;
    sono_status st = sono_st_expect(f, name, SONO_DTYPE_F32, t->ndim, t->shape, &st_t, err);
    if (!st) st = sono_st_read(f, st_t, dst, t->count * sizeof(float), err);
    return st;
}

static sono_status read_optim(const sono_st_file *f, const sono_net *net, sono_optim **out,
                              sono_error *err) {
    const char *path = sono_st_path(f);
    const char *kind = sono_st_metadata(f, "optim_kind");
    if (!kind) return SONO_OK;
    sono_status st = SONO_OK;
    const char *step = need_meta(f, "optim_step", &st, err);
    const char *config = need_meta(f, "optim_config", &st, err);
    if (st) return st;
    sono_optim_config c;
    if (strcmp(kind, "adam") == 0) c = sono_optim_defaults(SONO_OPTIM_ADAM);
    else if (strcmp(kind, "sgd") == 0) c = sono_optim_defaults(SONO_OPTIM_SGD);
    else return sono_error_set(err, SONO_ERR_FORMAT, "%s: unknown optim_kind '%s'", path, kind);
    cJSON *j = cJSON_Parse(config);
    if (!cJSON_IsObject(j)) {
        cJSON_Delete(j);
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: optim_config is not a JSON object", path);
    }
    const char *keys[] = {"lr", "beta1", "beta2", "eps", "momentum", "weight_decay"};
    float *fields[] = {&c.lr, &c.beta1, &c.beta2, &c.eps, &c.momentum, &c.weight_decay};
    for (int i = 0; i < 6; i++) {
        cJSON *v = cJSON_GetObjectItemCaseSensitive(j, keys[i]);
        if (cJSON_IsNumber(v)) *fields[i] = (float)v->valuedouble;
    }
    cJSON_Delete(j);
    uint64_t steps;
    if (!parse_u64(step, &steps))
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: optim_step '%s' is not a count", path, step);
    sono_optim *o;
    if ((st = sono_optim_new(&o, &c, net->nparams, err))) {
        sono_error_prefix(err, "%s: ", path);
        return st;
    }
    o->step = (int64_t)steps;
    char name[64];
    for (int t = 0; !st && t < net->ntensors; t++) {
        const sono_tensor_info *ti = &net->tensors[t];
        if (!ti->is_param) continue;
        snprintf(name, sizeof name, "optim.m.%s", ti->name);
        st = read_tensor(f, name, ti, o->m + ti->offset, err);
        if (!st && o->v) {
            snprintf(name, sizeof name, "optim.v.%s", ti->name);
            st = read_tensor(f, name, ti, o->v + ti->offset, err);
        }
    }
    if (st) {
        sono_optim_free(o);
        return st;
    }
    *out = o;
    return SONO_OK;
}

/* Every planned tensor is in the file as F32 of its shape; checked before the
 * network is allocated, so a small file cannot make us build a large net. */
static sono_status check_planned_tensors(const sono_net *planned, void *file, sono_error *err) {
    const sono_st_tensor *found;
    for (int t = 0; t < planned->ntensors; t++) {
        const sono_tensor_info *ti = &planned->tensors[t];
        sono_status st = sono_st_expect(file, ti->name, SONO_DTYPE_F32, ti->ndim, ti->shape, &found, err);
        if (st) return st;
    }
    return SONO_OK;
}

sono_status sono_model_load(const char *path, int max_batch, sono_net **net, sono_optim **opt,
                            sono_error *err) {
    *net = NULL;
    if (opt) *opt = NULL;
    sono_st_file *f = NULL;
    sono_net *n = NULL;
    sono_status st = sono_st_open(&f, path, err);
    if (st) return st;
    sono_shape in = {0, 0, 0};
    int classes = 0;
    uint64_t seed = 0, step = 0;
    if ((st = read_description(f, &in, &classes, &seed, &step, err))) goto fail;
    if ((st = sono_net_new_checked(&n, sono_st_metadata(f, "arch"), in, classes, max_batch, seed,
                                   check_planned_tensors, f, err))) {
        if (!strstr(err ? err->message : "", path)) sono_error_prefix(err, "%s: ", path);
        goto fail;
    }
    for (int t = 0; !st && t < n->ntensors; t++)
        st = read_tensor(f, n->tensors[t].name, &n->tensors[t], n->tensors[t].data, err);
    if (st) goto fail;
    sono_net_set_rng_state(n, seed, step);
    if (opt && (st = read_optim(f, n, opt, err))) goto fail;
    sono_st_close(f);
    *net = n;
    return SONO_OK;
fail:
    sono_net_free(n);
    sono_st_close(f);
    return st;
}
