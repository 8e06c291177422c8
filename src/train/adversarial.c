/* Adversarial perturbations of the standardised log-mel (FGSM and PGD with
 * a random start in an L-infinity ball), for adversarial training and
 * robust accuracy. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "adversarial.h"
#include "augment.h"
#include "sonodream/train.h"

#define ADV_START_STREAM 0x41445653u /* "ADVS": the random start's stream */
#define ADV_EVAL_STREAM 0x41444556u  /* "ADEV": evaluation's keys */

sono_adversarial sono_adversarial_defaults(sono_attack_kind kind) {
    return (sono_adversarial){.attack = kind, .epsilon = SONO_ADV_EPSILON, .steps = SONO_ADV_PGD_STEPS, .step_size = 0};
}

const char *sono_attack_name(sono_attack_kind kind) {
    switch (kind) {
    case SONO_ATTACK_NONE: return "none";
    case SONO_ATTACK_FGSM: return "fgsm";
    case SONO_ATTACK_PGD: return "pgd";
    }
    return "unknown";
}

int sono_attack_from_name(const char *name) {
    for (int k = SONO_ATTACK_NONE; k <= SONO_ATTACK_PGD; k++)
        if (name && strcmp(name, sono_attack_name((sono_attack_kind)k)) == 0) return k;
    return -1;
}

int sono_adversarial_steps(const sono_adversarial *a) {
    if (a->attack == SONO_ATTACK_NONE) return 0;
    return a->attack == SONO_ATTACK_FGSM ? 1 : a->steps;
}

float sono_adversarial_step_size(const sono_adversarial *a) {
    if (a->step_size > 0) return a->step_size;
    if (a->attack == SONO_ATTACK_FGSM) return 1.25f * a->epsilon;
    return a->attack == SONO_ATTACK_PGD && a->steps > 0 ? 2.5f * a->epsilon / (float)a->steps : 0;
}

int sono_adversarial_describe(const sono_adversarial *a, char *buf, size_t size) {
    if (a->attack == SONO_ATTACK_NONE) return snprintf(buf, size, "none");
    if (a->attack == SONO_ATTACK_FGSM)
        return snprintf(buf, size, "FGSM eps %g std, step %g", a->epsilon, sono_adversarial_step_size(a));
    return snprintf(buf, size, "PGD-%d eps %g std, step %g", a->steps, a->epsilon, sono_adversarial_step_size(a));
}

sono_status sono_adversarial_check(const sono_adversarial *a, sono_error *err) {
    if (a->attack < SONO_ATTACK_NONE || a->attack > SONO_ATTACK_PGD)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "adversarial: unknown attack %d", (int)a->attack);
    if (a->attack == SONO_ATTACK_NONE) return SONO_OK;
    if (!(a->epsilon > 0 && a->epsilon <= 100))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "adversarial: epsilon %g is out of range (0, 100]", a->epsilon);
    if (a->attack == SONO_ATTACK_PGD && (a->steps < 1 || a->steps > 1000))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "adversarial: PGD steps %d is out of range 1..1000", a->steps);
    if (!(a->step_size >= 0 && a->step_size <= 100))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "adversarial: step size %g is out of range [0, 100]",
                              a->step_size);
    return SONO_OK;
}

/* dout = d(sum of cross-entropies)/d logits = softmax - target per clip;
 * returns the mean cross-entropy (what the step that follows raises). */
typedef struct xent_target {
    const float *targets;
    int classes;
} xent_target;

static double xent_gradient(float *dout, const float *out, int batch, sono_shape shape, void *user) {
    const xent_target *t = user;
    const int K = t->classes;
    (void)shape;
    sono_softmax(dout, out, batch, K);
    double loss = 0;
    for (int b = 0; b < batch; b++) {
        float *d = dout + (size_t)b * K;
        const float *y = t->targets + (size_t)b * K;
        for (int k = 0; k < K; k++) {
            if (y[k] > 0) loss -= y[k] * log(d[k] + 1e-12);
            d[k] -= y[k];
        }
    }
    return loss / batch;
}

uint64_t sono_adv_eval_key(int index) {
    sono_rng rng = sono_rng_for(0, ADV_EVAL_STREAM, (uint64_t)index, 0);
    return sono_rng_next(&rng);
}

static float clampf(float v, float lo, float hi) { return v < lo ? lo : v > hi ? hi : v; }

static void random_start(const sono_adversarial *a, float *x, size_t count, uint64_t key) {
    sono_rng rng = sono_rng_for(key, ADV_START_STREAM, 0, 0);
    for (size_t i = 0; i < count; i++) x[i] += (float)((2 * sono_rng_uniform(&rng) - 1) * a->epsilon);
}

/* x = origin + clamp(x - origin + step * sign(grad), -eps, eps). */
static void ascend_and_project(float *x, const float *origin, const float *grad, size_t count, float step, float eps) {
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < count; i++) {
        float g = grad[i], move = g > 0 ? step : g < 0 ? -step : 0.0f;
        x[i] = origin[i] + clampf(x[i] - origin[i] + move, -eps, eps);
    }
}

sono_status sono_adv_perturb_ws(sono_net *net, const sono_adversarial *a, float *x, int n, const float *targets,
                                const uint64_t *start_keys, float *origin, float *grad, sono_error *err) {
    const int steps = sono_adversarial_steps(a);
    if (steps == 0 || n == 0) return SONO_OK;
    const sono_shape in = sono_net_input_shape(net);
    const size_t clip = (size_t)in.c * in.h * in.w, count = (size_t)n * clip;
    const float eps = a->epsilon, step = sono_adversarial_step_size(a);
    memcpy(origin, x, count * sizeof(float));
    for (int b = 0; start_keys && b < n; b++) random_start(a, x + (size_t)b * clip, clip, start_keys[b]);
    xent_target target = {targets, sono_net_classes(net)};
    const int logits = sono_net_layer_count(net) - 1;
    for (int s = 0; s < steps; s++) {
        /* Inference mode (see train.h): no dropout draw, no batch-norm update. */
        sono_status st = sono_net_input_gradient(net, x, n, in.h, in.w, logits, xent_gradient, &target, grad, NULL,
                                                 err);
        if (st != SONO_OK) return st;
        ascend_and_project(x, origin, grad, count, step, eps);
    }
    return SONO_OK;
}

sono_status sono_adversarial_perturb(sono_net *net, const sono_adversarial *a, float *x, int n, const float *targets,
                                     const uint64_t *start_keys, sono_error *err) {
    sono_status s = sono_adversarial_check(a, err);
    if (s != SONO_OK || a->attack == SONO_ATTACK_NONE || n <= 0) return s;
    if (n > sono_net_max_batch(net))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "adversarial: batch %d exceeds the network's %d", n,
                              sono_net_max_batch(net));
    const sono_shape in = sono_net_input_shape(net);
    const size_t count = (size_t)n * in.c * in.h * in.w;
    float *origin = malloc(count * sizeof(float)), *grad = malloc(count * sizeof(float));
    s = origin && grad ? sono_adv_perturb_ws(net, a, x, n, targets, start_keys, origin, grad, err)
                       : sono_error_set(err, SONO_ERR_MEMORY, "adversarial: out of memory");
    free(origin), free(grad);
    return s;
}
