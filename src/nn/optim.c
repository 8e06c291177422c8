/* Adam (AdamW-style decoupled weight decay) and SGD with momentum, each one
 * flat loop over the parameter array: the net keeps every parameter in one
 * allocation, so no per-tensor bookkeeping is needed here. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sonodream/nn.h"

sono_optim_config sono_optim_defaults(sono_optim_kind kind) {
    sono_optim_config c = {kind, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.9f, 0.0f};
    if (kind == SONO_OPTIM_SGD) c.lr = 1e-2f;
    return c;
}

const char *sono_optim_kind_name(sono_optim_kind kind) {
    return kind == SONO_OPTIM_ADAM ? "adam" : kind == SONO_OPTIM_SGD ? "sgd" : "?";
}

sono_status sono_optim_new(sono_optim **out, const sono_optim_config *cfg, size_t count,
                           sono_error *err) {
    *out = NULL;
    if (cfg->kind != SONO_OPTIM_ADAM && cfg->kind != SONO_OPTIM_SGD)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "optimizer: unknown kind %d", (int)cfg->kind);
    if (!(cfg->lr > 0) || !(cfg->weight_decay >= 0) || !(cfg->momentum >= 0 && cfg->momentum < 1) ||
        !(cfg->beta1 >= 0 && cfg->beta1 < 1) || !(cfg->beta2 >= 0 && cfg->beta2 < 1) ||
        !(cfg->eps > 0))
        return sono_error_set(err, SONO_ERR_ARGUMENT,
                              "optimizer: lr and eps must be > 0, weight decay >= 0, momentum and "
                              "betas in [0, 1)");
    sono_optim *o = calloc(1, sizeof *o);
    if (!o) goto fail;
    o->cfg = *cfg;
    o->count = count;
    o->m = calloc(count ? count : 1, sizeof(float));
    if (!o->m) goto fail;
    if (cfg->kind == SONO_OPTIM_ADAM) {
        o->v = calloc(count ? count : 1, sizeof(float));
        if (!o->v) goto fail;
    }
    *out = o;
    return SONO_OK;
fail:
    sono_optim_free(o);
    return sono_error_set(err, SONO_ERR_MEMORY, "optimizer: cannot allocate state for %zu parameters",
                          count);
}

void sono_optim_free(sono_optim *opt) {
    if (!opt) return;
    free(opt->m);
    free(opt->v);
    free(opt);
}

/* torch.optim.AdamW: p -= lr*wd*p; m, v moments; p -= lr * mhat / (sqrt(vhat) + eps). */
static void adam_step(sono_optim *o, float *p, const float *g) {
    const sono_optim_config *c = &o->cfg;
    double t = (double)o->step;
    float bc1 = (float)(1.0 - pow(c->beta1, t)), bc2 = (float)(1.0 - pow(c->beta2, t));
    float lr = c->lr, b1 = c->beta1, b2 = c->beta2, eps = c->eps;
    float decay = 1.0f - c->lr * c->weight_decay;
    float *m = o->m, *v = o->v;
    float inv_bc1 = 1.0f / bc1, inv_sqrt_bc2 = 1.0f / sqrtf(bc2);
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < o->count; i++) {
        m[i] = b1 * m[i] + (1.0f - b1) * g[i];
        v[i] = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        float mhat = m[i] * inv_bc1;
        float denom = sqrtf(v[i]) * inv_sqrt_bc2 + eps;
        p[i] = p[i] * decay - lr * mhat / denom;
    }
}

/* torch.optim.SGD (dampening 0): g += wd*p; buf = mu*buf + g; p -= lr*buf. */
static void sgd_step(sono_optim *o, float *p, const float *g) {
    const sono_optim_config *c = &o->cfg;
    float lr = c->lr, mu = c->momentum, wd = c->weight_decay;
    float *buf = o->m;
#pragma omp parallel for simd schedule(static)
    for (size_t i = 0; i < o->count; i++) {
        float d = g[i] + wd * p[i];
        buf[i] = mu * buf[i] + d;
        p[i] -= lr * buf[i];
    }
}

void sono_optim_step(sono_optim *opt, float *params, const float *grads) {
    opt->step++;
    if (opt->cfg.kind == SONO_OPTIM_ADAM) adam_step(opt, params, grads);
    else sgd_step(opt, params, grads);
}
