/* Forward and backward passes of the network, and the input gradient.
 * Activations stay in each layer's `out` for backward; gradients ping-pong
 * between two net-owned buffers; nothing is allocated here. */
#include <string.h>

#include "nn/nn_internal.h"

static sono_status capacity_error(const sono_net *net, int batch, int H, int W, const char *what,
                                  sono_error *err) {
    return sono_error_set(err, SONO_ERR_ARGUMENT,
                          "network: batch %d of %dx%dx%d does not fit the %s (the network was "
                          "built for batch %d of %dx%dx%d; see sono_net_reserve)",
                          batch, net->input.c, H, W, what, net->max_batch, net->input.c,
                          net->input.h, net->input.w);
}

/* Shape of layer i's output for input shape s, or an error for a dense part
 * that gets a different shape than it was built for. */
static sono_status layer_shape(const sono_layer_info *li, sono_shape s, sono_shape *out,
                               sono_error *err) {
    switch (li->type) {
    case SONO_LAYER_CONV: s.c = li->units; break;
    case SONO_LAYER_POOL:
        s = (sono_shape){s.c, sono_pool_out_size(s.h, li->kernel), sono_pool_out_size(s.w, li->kernel)};
        break;
    case SONO_LAYER_FLATTEN:
        if (s.c != li->in.c || s.h != li->in.h || s.w != li->in.w)
            return sono_error_set(err, SONO_ERR_ARGUMENT,
                                  "network: layer 'flatten' needs a %dx%dx%d input but would get "
                                  "%dx%dx%d; dense layers need the input shape the network was "
                                  "built for",
                                  li->in.c, li->in.h, li->in.w, s.c, s.h, s.w);
        s = li->out;
        break;
    case SONO_LAYER_DENSE: s = li->out; break;
    default: break;
    }
    *out = s;
    return SONO_OK;
}

sono_status sono_net_plan_pass(const sono_net *net, int batch, int H, int W, int last,
                               sono_shape *shapes, sono_error *err) {
    if (batch < 1 || batch > net->max_batch)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "network: batch %d must be in 1..%d", batch,
                              net->max_batch);
    if (last < 0 || last >= net->count)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "network: layer index %d must be in 0..%d",
                              last, net->count - 1);
    if (H < 1 || W < 1)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "network: input %dx%d is empty", H, W);
    sono_shape s = {net->input.c, H, W};
    size_t b = (size_t)batch;
    if (b * sono_shape_size(s) > net->in_cap) return capacity_error(net, batch, H, W, "input buffer", err);
    int threads = sono_nn_threads(net->ws_threads);
    for (int i = 0; i <= last; i++) {
        const sono_layer *L = &net->layers[i];
        sono_shape in = s;
        sono_status st = layer_shape(&L->info, in, &s, err);
        if (st) return st;
        if (b * sono_shape_size(s) > L->out_cap || b * sono_shape_size(s) > net->dbuf_cap)
            return capacity_error(net, batch, H, W, "activation buffers", err);
        if (L->info.type == SONO_LAYER_CONV &&
            sono_conv2d_workspace_floats(batch, in.c, in.h, in.w, s.c, L->info.kernel, threads) >
                net->ws_cap)
            return capacity_error(net, batch, H, W, "convolution workspace", err);
        shapes[i] = s;
    }
    return SONO_OK;
}

sono_status sono_net_layer_shapes(const sono_net *net, int H, int W, int last, sono_shape *shapes,
                                  sono_error *err) {
    if (last < 0 || last >= net->count)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "network: layer index %d must be in 0..%d",
                              last, net->count - 1);
    if (H < 1 || W < 1)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "network: input %dx%d is empty", H, W);
    sono_shape s = {net->input.c, H, W};
    for (int i = 0; i <= last; i++) {
        sono_status st = layer_shape(&net->layers[i].info, s, &s, err);
        if (st) return st;
        shapes[i] = s;
    }
    return SONO_OK;
}

/* ---- one layer ---- */

static const float *layer_input(const sono_net *net, int i) {
    return i ? net->layers[i - 1].out : net->in;
}

static void layer_forward(sono_net *net, int i, int batch, int train) {
    sono_layer *L = &net->layers[i];
    const float *in = layer_input(net, i);
    sono_shape si = L->cur_in, so = L->cur_out;
    size_t count = (size_t)batch * sono_shape_size(so);
    int threads = sono_nn_threads(net->ws_threads);
    switch (L->info.type) {
    case SONO_LAYER_CONV:
        sono_conv2d_forward_cached(L->out, in, L->weight, L->bias, batch, si.c, si.h, si.w, so.c,
                                   L->info.kernel, L->info.act, net->ws, threads, L->wino);
        break;
    case SONO_LAYER_POOL:
        sono_maxpool_forward(L->out, L->argmax, in, batch, si.c, si.h, si.w, L->info.kernel);
        break;
    case SONO_LAYER_DROPOUT:
        if (train && L->info.rate > 0)
            sono_dropout_forward(L->out, in, count, L->info.rate, net->rng_seed, net->pass_step,
                                 (uint32_t)L->ordinal, (uint64_t)net->sample_offset * sono_shape_size(so));
        else memcpy(L->out, in, count * sizeof(float));
        break;
    case SONO_LAYER_DENSE:
        sono_dense_forward(L->out, in, L->weight, L->bias, batch, si.c, so.c, L->info.act);
        break;
    case SONO_LAYER_BATCHNORM:
        sono_batchnorm_forward(L->out, L->mean, L->invstd, L->run_mean, L->run_var, in, L->weight,
                               L->bias, batch, si.c, si.h * si.w, train);
        break;
    case SONO_LAYER_RELU: sono_act_forward(L->out, in, count, SONO_ACT_RELU); break;
    case SONO_LAYER_LRELU: sono_act_forward(L->out, in, count, SONO_ACT_LRELU); break;
    case SONO_LAYER_FLATTEN: memcpy(L->out, in, count * sizeof(float)); break;
    }
}

/* din (may be NULL: only parameter gradients wanted) from dout; parameter
 * gradients are added to when `params` is set. */
static void layer_backward(sono_net *net, int i, float *din, const float *dout, int batch,
                           int params) {
    sono_layer *L = &net->layers[i];
    const float *in = layer_input(net, i);
    sono_shape si = L->cur_in, so = L->cur_out;
    size_t count = (size_t)batch * sono_shape_size(so);
    int train = net->pass_train;
    int threads = sono_nn_threads(net->ws_threads);
    float *dw = params ? L->dweight : NULL, *db = params ? L->dbias : NULL;
    switch (L->info.type) {
    case SONO_LAYER_CONV:
        sono_conv2d_backward_cached(din, dw, db, dout, L->out, in, L->weight, batch, si.c, si.h, si.w,
                                    so.c, L->info.kernel, L->info.act, net->ws, threads, L->wino);
        return;
    case SONO_LAYER_DENSE:
        sono_dense_backward(din, dw, db, dout, L->out, in, L->weight, batch, si.c, so.c,
                            L->info.act, net->ws);
        return;
    case SONO_LAYER_BATCHNORM:
        sono_batchnorm_backward(din, dw, db, dout, in, L->mean, L->invstd, L->weight, batch, si.c,
                                si.h * si.w, train);
        return;
    default: break;
    }
    if (!din) return;
    switch (L->info.type) {
    case SONO_LAYER_POOL:
        sono_maxpool_backward(din, dout, L->argmax, batch, si.c, si.h, si.w, L->info.kernel);
        break;
    case SONO_LAYER_DROPOUT:
        if (train && L->info.rate > 0)
            sono_dropout_backward(din, dout, count, L->info.rate, net->rng_seed, net->pass_step,
                                  (uint32_t)L->ordinal, (uint64_t)net->sample_offset * sono_shape_size(so));
        else memcpy(din, dout, count * sizeof(float));
        break;
    case SONO_LAYER_RELU: sono_act_backward(din, dout, L->out, count, SONO_ACT_RELU); break;
    case SONO_LAYER_LRELU: sono_act_backward(din, dout, L->out, count, SONO_ACT_LRELU); break;
    case SONO_LAYER_FLATTEN: memcpy(din, dout, count * sizeof(float)); break;
    default: break;
    }
}

/* ---- whole passes ---- */

/* Copy the input, record shapes, run layers 0..last. */
static sono_status run_forward(sono_net *net, const float *input, int batch, int H, int W,
                               int last, int train, sono_error *err) {
    sono_shape shapes[SONO_NET_MAX_LAYERS];
    net->pass_valid = 0;
    net->loss_valid = 0;
    sono_status st = sono_net_plan_pass(net, batch, H, W, last, shapes, err);
    if (st) return st;
    sono_shape s = {net->input.c, H, W};
    memcpy(net->in, input, (size_t)batch * sono_shape_size(s) * sizeof(float));
    for (int i = 0; i <= last; i++) {
        net->layers[i].cur_in = i ? shapes[i - 1] : s;
        net->layers[i].cur_out = shapes[i];
    }
    if (train) net->pass_step = net->rng_step++;
    net->pass_batch = batch;
    net->pass_last = last;
    net->pass_train = train;
    net->pass_input = s;
    int blas = sono_blas_single();
    for (int i = 0; i <= last; i++) layer_forward(net, i, batch, train);
    sono_blas_restore(blas);
    net->pass_valid = 1;
    net->pass_full = last == net->count - 1;
    return SONO_OK;
}

/* Backpropagate dout (at layer pass_last) through every layer down to the
 * input, ping-ponging between the two gradient buffers. */
static void run_backward(sono_net *net, const float *dout, float *dinput, int params) {
    const float *cur = dout;
    int blas = sono_blas_single();
    for (int i = net->pass_last; i >= 0; i--) {
        float *dst = i ? (cur == net->dbuf[0] ? net->dbuf[1] : net->dbuf[0]) : dinput;
        if (!dst && !params) break;
        layer_backward(net, i, dst, cur, net->pass_batch, params);
        cur = dst;
    }
    sono_blas_restore(blas);
}

sono_status sono_net_forward(sono_net *net, const float *input, int batch, sono_mode mode,
                             const float **logits, sono_error *err) {
    sono_status st = run_forward(net, input, batch, net->input.h, net->input.w, net->count - 1,
                                 mode == SONO_MODE_TRAIN, err);
    if (st) return st;
    if (logits) *logits = net->layers[net->count - 1].out;
    return SONO_OK;
}

sono_status sono_net_loss(sono_net *net, const int32_t *labels, double *loss, sono_error *err) {
    if (!net->pass_valid || !net->pass_full)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "network: loss needs a full forward pass first");
    for (int n = 0; n < net->pass_batch; n++)
        if (labels[n] < 0 || labels[n] >= net->classes)
            return sono_error_set(err, SONO_ERR_ARGUMENT,
                                  "network: label %d of sample %d is outside 0..%d",
                                  (int)labels[n], n, net->classes - 1);
    double l = sono_softmax_xent(net->probs, net->dlogits, net->layers[net->count - 1].out,
                                 labels, net->pass_batch, net->classes);
    if (loss) *loss = l;
    net->loss_valid = 1;
    return SONO_OK;
}

const float *sono_net_probs(const sono_net *net) { return net->probs; }
const float *sono_net_dlogits(const sono_net *net) { return net->dlogits; }

sono_status sono_net_backward(sono_net *net, const float *dlogits, float *dinput,
                              sono_error *err) {
    if (!net->pass_valid || !net->pass_full)
        return sono_error_set(err, SONO_ERR_ARGUMENT,
                              "network: backward needs a full forward pass first");
    run_backward(net, dlogits, dinput, 1);
    return SONO_OK;
}

void sono_net_zero_grad(sono_net *net) { memset(net->grads, 0, net->nparams * sizeof(float)); }

sono_status sono_net_compute_gradients(sono_net *net, const float *input, const int32_t *labels,
                                       int batch, double *loss, sono_error *err) {
    sono_net_zero_grad(net);
    sono_status st = sono_net_forward(net, input, batch, SONO_MODE_TRAIN, NULL, err);
    if (!st) st = sono_net_loss(net, labels, loss, err);
    if (!st) st = sono_net_backward(net, net->dlogits, NULL, err);
    return st;
}

sono_status sono_net_predict(sono_net *net, const float *input, int batch, float *probs,
                             sono_error *err) {
    const float *logits;
    sono_status st = sono_net_forward(net, input, batch, SONO_MODE_INFER, &logits, err);
    if (st) return st;
    sono_softmax(probs, logits, batch, net->classes);
    return SONO_OK;
}

const float *sono_net_layer_output(const sono_net *net, int index) {
    return index >= 0 && index < net->count ? net->layers[index].out : NULL;
}

/* ---- the input gradient ---- */

sono_status sono_net_forward_to(sono_net *net, const float *input, int batch, int H, int W,
                                int layer, const float **out, sono_shape *shape,
                                sono_error *err) {
    sono_status st = run_forward(net, input, batch, H, W, layer, 0, err);
    if (st) return st;
    if (out) *out = net->layers[layer].out;
    if (shape) *shape = net->layers[layer].cur_out;
    return SONO_OK;
}

sono_status sono_net_backward_to_input(sono_net *net, const float *dout, float *dinput,
                                       sono_error *err) {
    if (!net->pass_valid)
        return sono_error_set(err, SONO_ERR_ARGUMENT,
                              "network: backward_to_input needs a forward pass first");
    if (!dinput)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "network: backward_to_input needs dinput");
    run_backward(net, dout, dinput, 0);
    return SONO_OK;
}

float *sono_net_top_grad_buffer(sono_net *net) { return net->dbuf[0]; }

sono_status sono_net_input_gradient(sono_net *net, const float *input, int batch, int H, int W,
                                    int layer, sono_top_grad_fn fn, void *user, float *dinput,
                                    double *objective, sono_error *err) {
    const float *out;
    sono_shape shape;
    sono_status st = sono_net_forward_to(net, input, batch, H, W, layer, &out, &shape, err);
    if (st) return st;
    double value = fn(net->dbuf[0], out, batch, shape, user);
    if (objective) *objective = value;
    return sono_net_backward_to_input(net, net->dbuf[0], dinput, err);
}

sono_status sono_net_input_gradient_layers(sono_net *net, const float *input, int batch, int H, int W,
                                           const int *layers, int count, sono_layer_grad_fn fn, void *user,
                                           float *dinput, double *objective, sono_error *err) {
    if (!layers || count < 1 || !fn || !dinput)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "network: input_gradient_layers needs layers, fn and dinput");
    for (int k = 0; k < count; k++)
        if (layers[k] < 0 || layers[k] >= net->count || (k && layers[k] <= layers[k - 1]))
            return sono_error_set(err, SONO_ERR_ARGUMENT,
                                  "network: the objective's layers must be increasing indices in 0..%d",
                                  net->count - 1);
    const int last = layers[count - 1];
    sono_status st = run_forward(net, input, batch, H, W, last, 0, err);
    if (st) return st;
    float *cur = net->dbuf[0];
    memset(cur, 0, (size_t)batch * sono_shape_size(net->layers[last].cur_out) * sizeof(float));
    double total = 0;
    int k = count - 1;
    for (int i = last; i >= 0; i--) {
        sono_layer *L = &net->layers[i];
        /* The objective's own work (matrix products) may use every thread. */
        if (k >= 0 && layers[k] == i) total += fn(k--, cur, L->out, batch, L->cur_out, user);
        float *dst = i ? (cur == net->dbuf[0] ? net->dbuf[1] : net->dbuf[0]) : dinput;
        int blas = sono_blas_single();
        layer_backward(net, i, dst, cur, batch, 0);
        sono_blas_restore(blas);
        cur = dst;
    }
    if (objective) *objective = total;
    return SONO_OK;
}

int sono_net_max_width(const sono_net *net, int H, int layer) {
    sono_shape shapes[SONO_NET_MAX_LAYERS];
    /* Capacity grows with the width, so the widest that fits is a bisection
     * between one frame and what the input buffer could hold at all. */
    int lo = 0, hi = (int)(net->in_cap / ((size_t)net->input.c * (size_t)H));
    while (lo < hi) {
        int mid = lo + (hi - lo + 1) / 2;
        if (sono_net_plan_pass(net, 1, H, mid, layer, shapes, NULL) == SONO_OK) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}
