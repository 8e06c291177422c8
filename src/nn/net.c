/* The network object: construction (parameter layout, buffers sized once),
 * initialisation, and accessors. The passes are in net_pass.c, which calls
 * nothing here (this file uses its layer shapes). */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"
#include "sonodream/memory.h"

#define ALIGN_FLOATS 16 /* 64 bytes: tensors start on cache lines */
#define MAX_BATCH 65536
#define MAX_BYTES ((size_t)64 << 30)

static size_t align_up(size_t n) { return (n + ALIGN_FLOATS - 1) / ALIGN_FLOATS * ALIGN_FLOATS; }

/* Zeroed, 64-byte aligned; NULL on failure. */
static void *alloc_zero(size_t bytes) {
    size_t rounded = (bytes + 63) / 64 * 64;
    if (!rounded) rounded = 64;
    void *p = aligned_alloc(64, rounded);
    if (p) memset(p, 0, rounded);
    return p;
}

/* ---- parameter layout ---- */

typedef struct tensor_plan {
    int layer;
    const char *suffix;
    int ndim;
    int64_t shape[4];
    int is_param;
} tensor_plan;

/* The tensors of layer i in PyTorch's state_dict order; returns how many. */
static int layer_tensors(const sono_layer_info *li, int i, tensor_plan *t) {
    sono_shape in = li->in;
    switch (li->type) {
    case SONO_LAYER_CONV:
        t[0] = (tensor_plan){i, "weight", 4, {li->units, in.c, li->kernel, li->kernel}, 1};
        t[1] = (tensor_plan){i, "bias", 1, {li->units}, 1};
        return 2;
    case SONO_LAYER_DENSE:
        t[0] = (tensor_plan){i, "weight", 2, {li->units, (int64_t)sono_shape_size(in)}, 1};
        t[1] = (tensor_plan){i, "bias", 1, {li->units}, 1};
        return 2;
    case SONO_LAYER_BATCHNORM:
        t[0] = (tensor_plan){i, "weight", 1, {in.c}, 1};
        t[1] = (tensor_plan){i, "bias", 1, {in.c}, 1};
        t[2] = (tensor_plan){i, "running_mean", 1, {in.c}, 0};
        t[3] = (tensor_plan){i, "running_var", 1, {in.c}, 0};
        return 4;
    default: return 0;
    }
}

static size_t plan_count(const tensor_plan *t) {
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
    return n;
}

/* Fill net->tensors (names, shapes, offsets) and the parameter/buffer sizes. */
static sono_status layout_tensors(sono_net *net, sono_error *err) {
    tensor_plan plans[4 * SONO_NET_MAX_LAYERS];
    int n = 0;
    for (int i = 0; i < net->count; i++) n += layer_tensors(&net->layers[i].info, i, plans + n);
    net->tensors = calloc(n ? (size_t)n : 1, sizeof *net->tensors);
    if (!net->tensors)
        return sono_error_set(err, SONO_ERR_MEMORY, "network: cannot allocate the tensor table");
    net->ntensors = n;
    size_t np = 0, nb = 0;
    for (int j = 0; j < n; j++) {
        sono_tensor_info *t = &net->tensors[j];
        snprintf(t->name, sizeof t->name, "%s.%s", net->layers[plans[j].layer].info.name,
                 plans[j].suffix);
        t->ndim = plans[j].ndim;
        memcpy(t->shape, plans[j].shape, sizeof t->shape);
        t->count = plan_count(&plans[j]);
        t->is_param = plans[j].is_param;
        size_t *cursor = t->is_param ? &np : &nb;
        t->offset = *cursor;
        *cursor += align_up(t->count);
    }
    net->nparams = np;
    net->nbuffers = nb;
    return SONO_OK;
}

/* Point layers and tensor views into the allocations. */
static void bind_tensors(sono_net *net) {
    for (int j = 0; j < net->ntensors; j++) {
        sono_tensor_info *t = &net->tensors[j];
        t->data = (t->is_param ? net->params : net->buffers) + t->offset;
        t->grad = t->is_param ? net->grads + t->offset : NULL;
    }
    int j = 0;
    for (int i = 0; i < net->count; i++) {
        sono_layer *L = &net->layers[i];
        tensor_plan plans[4];
        int k = layer_tensors(&L->info, i, plans);
        if (k >= 2) {
            L->weight = net->tensors[j].data;
            L->dweight = net->tensors[j].grad;
            L->bias = net->tensors[j + 1].data;
            L->dbias = net->tensors[j + 1].grad;
        }
        if (k == 4) {
            L->run_mean = net->tensors[j + 2].data;
            L->run_var = net->tensors[j + 3].data;
        }
        j += k;
    }
}

/* ---- buffers ---- */

/* Grow the capacities to hold `batch` samples with per-layer output shapes
 * `shapes` (layers 0..last) for an input of shape `in`. */
static void grow_caps(sono_net *net, int batch, sono_shape in, const sono_shape *shapes, int last) {
    size_t b = (size_t)batch;
    if (b * sono_shape_size(in) > net->in_cap) net->in_cap = b * sono_shape_size(in);
    if (net->in_cap > net->dbuf_cap) net->dbuf_cap = net->in_cap;
    sono_shape s = in;
    for (int i = 0; i <= last; i++) {
        sono_layer *L = &net->layers[i];
        size_t cap = b * sono_shape_size(shapes[i]), ws = 0;
        if (cap > L->out_cap) L->out_cap = cap;
        if (cap > net->dbuf_cap) net->dbuf_cap = cap;
        if (L->info.type == SONO_LAYER_CONV)
            ws = sono_conv2d_workspace_floats(batch, s.c, s.h, s.w, L->info.units, L->info.kernel,
                                              net->ws_threads);
        if (L->info.type == SONO_LAYER_DENSE) ws = b * (size_t)L->info.units;
        if (ws > net->ws_cap) net->ws_cap = ws;
        s = shapes[i];
    }
}

/* Floats of the activation block and int32s of the argmax block. */
static void block_sizes(const sono_net *net, size_t *act, size_t *argmax) {
    *act = *argmax = 0;
    for (int i = 0; i < net->count; i++) {
        const sono_layer *L = &net->layers[i];
        *act += align_up(L->out_cap);
        if (L->info.type == SONO_LAYER_POOL) *argmax += align_up(L->out_cap);
    }
}

static size_t total_floats(const sono_net *net) {
    size_t act, argmax, stats = 0;
    block_sizes(net, &act, &argmax);
    for (int i = 0; i < net->count; i++)
        if (net->layers[i].info.type == SONO_LAYER_BATCHNORM)
            stats += 2 * align_up((size_t)net->layers[i].info.in.c);
    return 2 * net->nparams + net->nbuffers + net->in_cap + 2 * net->dbuf_cap + net->ws_cap + act +
           argmax + stats + 2 * (size_t)net->max_batch * net->classes;
}

/* Every block is zeroed as it is allocated, so a network larger than the
 * memory left would be killed while being built: refuse it first, saying
 * how much it needs. */
static int fits_in_memory(const sono_net *net, sono_error *err) {
    unsigned long long need = (unsigned long long)total_floats(net) * sizeof(float);
    unsigned long long have = sono_memory_available();
    if (need <= MAX_BYTES && need <= have) return 1;
    char need_text[32], have_text[32];
    sono_format_bytes(need, need_text, sizeof need_text);
    if (need > MAX_BYTES) {
        sono_format_bytes(MAX_BYTES, have_text, sizeof have_text);
        sono_error_set(err, SONO_ERR_MEMORY,
                       "network: needs %s for batch %d, more than the %s a network may take; "
                       "use a smaller batch or spec", need_text, net->max_batch, have_text);
    } else {
        sono_format_bytes(have, have_text, sizeof have_text);
        sono_error_set(err, SONO_ERR_MEMORY,
                       "network: needs %s for batch %d but only %s of memory is available; "
                       "use a smaller batch or spec", need_text, net->max_batch, have_text);
    }
    return 0;
}

/* (Re)allocate the blocks whose size depends on the capacities: the input
 * copy, gradients, workspace, activations and argmax. On failure the net
 * keeps its old blocks. */
static sono_status alloc_activations(sono_net *net, sono_error *err) {
    size_t act, argmax;
    block_sizes(net, &act, &argmax);
    if (!fits_in_memory(net, err)) return SONO_ERR_MEMORY;
    float *in = alloc_zero(net->in_cap * sizeof(float));
    float *d0 = alloc_zero(net->dbuf_cap * sizeof(float));
    float *d1 = alloc_zero(net->dbuf_cap * sizeof(float));
    float *ws = alloc_zero(net->ws_cap * sizeof(float));
    float *a = alloc_zero(act * sizeof(float));
    int32_t *am = alloc_zero(argmax * sizeof(int32_t));
    if (!in || !d0 || !d1 || !ws || !a || !am) {
        free(in), free(d0), free(d1), free(ws), free(a), free(am);
        return sono_error_set(err, SONO_ERR_MEMORY, "network: cannot allocate %.1f MiB",
                              total_floats(net) * 4.0 / (1 << 20));
    }
    free(net->in), free(net->dbuf[0]), free(net->dbuf[1]), free(net->ws), free(net->act_mem);
    free(net->argmax_mem);
    net->in = in, net->dbuf[0] = d0, net->dbuf[1] = d1, net->ws = ws;
    net->act_mem = a, net->argmax_mem = am;
    for (int i = 0; i < net->count; i++) {
        sono_layer *L = &net->layers[i];
        L->out = a;
        a += align_up(L->out_cap);
        if (L->info.type == SONO_LAYER_POOL) {
            L->argmax = am;
            am += align_up(L->out_cap);
        }
    }
    net->pass_valid = 0;
    return SONO_OK;
}

/* Parameters, gradients, running stats, saved batch-norm stats, probs. */
static sono_status alloc_fixed(sono_net *net, sono_error *err) {
    size_t stats = 0, probs = (size_t)net->max_batch * net->classes;
    for (int i = 0; i < net->count; i++)
        if (net->layers[i].info.type == SONO_LAYER_BATCHNORM)
            stats += 2 * align_up((size_t)net->layers[i].info.in.c);
    if (!fits_in_memory(net, err)) return SONO_ERR_MEMORY;
    net->params = alloc_zero(net->nparams * sizeof(float));
    net->grads = alloc_zero(net->nparams * sizeof(float));
    net->buffers = alloc_zero(net->nbuffers * sizeof(float));
    net->stats = alloc_zero(stats * sizeof(float));
    net->probs = alloc_zero(probs * sizeof(float));
    net->dlogits = alloc_zero(probs * sizeof(float));
    if (!net->params || !net->grads || !net->buffers || !net->stats || !net->probs || !net->dlogits)
        return sono_error_set(err, SONO_ERR_MEMORY, "network: cannot allocate %.1f MiB",
                              total_floats(net) * 4.0 / (1 << 20));
    float *s = net->stats;
    for (int i = 0; i < net->count; i++) {
        sono_layer *L = &net->layers[i];
        if (L->info.type != SONO_LAYER_BATCHNORM) continue;
        L->mean = s;
        L->invstd = s + align_up((size_t)L->info.in.c);
        s += 2 * align_up((size_t)L->info.in.c);
    }
    return SONO_OK;
}

static sono_status alloc_buffers(sono_net *net, sono_error *err) {
    sono_shape shapes[SONO_NET_MAX_LAYERS];
    for (int i = 0; i < net->count; i++) shapes[i] = net->layers[i].info.out;
    grow_caps(net, net->max_batch, net->input, shapes, net->count - 1);
    sono_status st = alloc_fixed(net, err);
    return st ? st : alloc_activations(net, err);
}

sono_status sono_net_reserve(sono_net *net, int batch, int H, int W, sono_error *err) {
    if (batch < 1 || batch > net->max_batch)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "network: batch %d must be in 1..%d", batch,
                              net->max_batch);
    int last = net->count - 1;
    for (int i = 0; i < net->count; i++)
        if (net->layers[i].info.type == SONO_LAYER_FLATTEN) {
            last = i - 1;
            break;
        }
    if (last < 0 || H < 1 || W < 1) return SONO_OK;
    sono_shape shapes[SONO_NET_MAX_LAYERS];
    sono_status st = sono_net_layer_shapes(net, H, W, last, shapes, err);
    if (st) return st;
    size_t caps[SONO_NET_MAX_LAYERS], in_cap = net->in_cap, dbuf_cap = net->dbuf_cap, ws_cap = net->ws_cap;
    for (int i = 0; i < net->count; i++) caps[i] = net->layers[i].out_cap;
    grow_caps(net, batch, (sono_shape){net->input.c, H, W}, shapes, last);
    int grown = net->in_cap != in_cap || net->dbuf_cap != dbuf_cap || net->ws_cap != ws_cap;
    for (int i = 0; i < net->count; i++) grown |= caps[i] != net->layers[i].out_cap;
    if (!grown) return SONO_OK;
    st = alloc_activations(net, err);
    if (st) { /* keep the old, consistent capacities */
        net->in_cap = in_cap, net->dbuf_cap = dbuf_cap, net->ws_cap = ws_cap;
        for (int i = 0; i < net->count; i++) net->layers[i].out_cap = caps[i];
    }
    return st;
}

sono_status sono_net_new(sono_net **out, const char *spec, sono_shape input, int classes,
                         int max_batch, uint64_t seed, sono_error *err) {
    return sono_net_new_checked(out, spec, input, classes, max_batch, seed, NULL, NULL, err);
}

/* Every 3x3 convolution keeps its transformed weights between passes. */
static sono_status alloc_wino_caches(sono_net *net, sono_error *err) {
    for (int i = 0; i < net->count; i++) {
        sono_layer *L = &net->layers[i];
        if (L->info.type != SONO_LAYER_CONV || L->info.kernel != 3) continue;
        if (!(L->wino = sono_wino_cache_new(L->info.out.c, L->info.in.c)))
            return sono_error_set(err, SONO_ERR_MEMORY, "network: out of memory for layer %s", L->info.name);
    }
    return SONO_OK;
}

sono_status sono_net_new_checked(sono_net **out, const char *spec, sono_shape input, int classes, int max_batch,
                                 uint64_t seed, sono_net_tensor_check check, void *user, sono_error *err) {
    *out = NULL;
    sono_status st;
    sono_net *net = calloc(1, sizeof *net);
    if (!net) return sono_error_set(err, SONO_ERR_MEMORY, "network: out of memory");
    if ((st = sono_arch_parse(spec, &net->arch, err))) goto fail;
    sono_arch_format(&net->arch, net->spec, sizeof net->spec);
    if (max_batch < 1 || max_batch > MAX_BATCH) {
        st = sono_error_set(err, SONO_ERR_ARGUMENT, "network: batch size %d must be in 1..%d",
                            max_batch, MAX_BATCH);
        goto fail;
    }
    sono_layer_info infos[SONO_NET_MAX_LAYERS];
    if ((st = sono_arch_plan(&net->arch, input, classes, infos, &net->count, err))) goto fail;
    int ordinal[8] = {0};
    for (int i = 0; i < net->count; i++) {
        net->layers[i].info = infos[i];
        net->layers[i].ordinal = ++ordinal[infos[i].type];
    }
    net->input = input;
    net->classes = classes;
    net->max_batch = max_batch;
    net->ws_threads = omp_get_max_threads();
    if ((st = layout_tensors(net, err))) goto fail;
    if (check && (st = check(net, user, err))) goto fail;
    if ((st = alloc_buffers(net, err))) goto fail;
    if ((st = alloc_wino_caches(net, err))) goto fail;
    bind_tensors(net);
    sono_net_init(net, seed);
    *out = net;
    return SONO_OK;
fail:
    sono_net_free(net);
    return st;
}

void sono_net_free(sono_net *net) {
    if (!net) return;
    for (int i = 0; i < net->count; i++) sono_wino_cache_free(net->layers[i].wino);
    free(net->tensors);
    free(net->params);
    free(net->grads);
    free(net->buffers);
    free(net->in);
    free(net->dbuf[0]);
    free(net->dbuf[1]);
    free(net->ws);
    free(net->act_mem);
    free(net->argmax_mem);
    free(net->stats);
    free(net->probs);
    free(net->dlogits);
    free(net);
}

/* ---- initialisation ---- */

static float init_gain(sono_act act) {
    if (act == SONO_ACT_LRELU) return sqrtf(2.0f / (1.0f + SONO_LRELU_SLOPE * SONO_LRELU_SLOPE));
    if (act == SONO_ACT_RELU) return sqrtf(2.0f);
    return 1.0f;
}

void sono_net_init(sono_net *net, uint64_t seed) {
    memset(net->params, 0, net->nparams * sizeof(float));
    memset(net->grads, 0, net->nparams * sizeof(float));
    int j = 0;
    for (int i = 0; i < net->count; i++) {
        sono_layer *L = &net->layers[i];
        tensor_plan plans[4];
        int k = layer_tensors(&L->info, i, plans);
        if (L->info.type == SONO_LAYER_BATCHNORM) {
            for (int c = 0; c < L->info.in.c; c++) {
                L->weight[c] = 1.0f;
                L->run_mean[c] = 0.0f;
                L->run_var[c] = 1.0f;
            }
        } else if (k) {
            const sono_tensor_info *w = &net->tensors[j];
            size_t fan_in = w->count / (size_t)w->shape[0];
            float bound = init_gain(L->info.act) * sqrtf(3.0f / (float)fan_in);
            uint64_t key = sono_stream_key(seed, (uint64_t)j, 0, SONO_DOMAIN_INIT);
            for (size_t e = 0; e < w->count; e++)
                w->data[e] = bound * (2.0f * sono_stream_uniform(key, e) - 1.0f);
        }
        j += k;
    }
    net->rng_seed = seed;
    net->rng_step = 0;
    net->pass_valid = 0;
}

/* ---- accessors ---- */

const char *sono_net_spec(const sono_net *net) { return net->spec; }
sono_shape sono_net_input_shape(const sono_net *net) { return net->input; }
int sono_net_classes(const sono_net *net) { return net->classes; }
int sono_net_max_batch(const sono_net *net) { return net->max_batch; }
int sono_net_layer_count(const sono_net *net) { return net->count; }

const sono_layer_info *sono_net_layer(const sono_net *net, int index) {
    return index >= 0 && index < net->count ? &net->layers[index].info : NULL;
}

int sono_net_find_layer(const sono_net *net, const char *name) {
    for (int i = 0; i < net->count; i++)
        if (strcmp(net->layers[i].info.name, name) == 0) return i;
    return -1;
}

int sono_net_tensor_count(const sono_net *net) { return net->ntensors; }

const sono_tensor_info *sono_net_tensor(const sono_net *net, int index) {
    return index >= 0 && index < net->ntensors ? &net->tensors[index] : NULL;
}

const sono_tensor_info *sono_net_find_tensor(const sono_net *net, const char *name) {
    for (int j = 0; j < net->ntensors; j++)
        if (strcmp(net->tensors[j].name, name) == 0) return &net->tensors[j];
    return NULL;
}

float *sono_net_params(sono_net *net, size_t *count) {
    if (count) *count = net->nparams;
    return net->params;
}

float *sono_net_grads(sono_net *net, size_t *count) {
    if (count) *count = net->nparams;
    return net->grads;
}

void sono_net_rng_state(const sono_net *net, uint64_t *seed, uint64_t *step) {
    if (seed) *seed = net->rng_seed;
    if (step) *step = net->rng_step;
}

void sono_net_set_sample_offset(sono_net *net, int64_t first) { net->sample_offset = first; }

void sono_net_set_rng_state(sono_net *net, uint64_t seed, uint64_t step) {
    net->rng_seed = seed;
    net->rng_step = step;
}
