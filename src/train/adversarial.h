/* Adversarial perturbations for the training loop and evaluation (internal):
 * the public sono_adversarial_perturb with caller-owned buffers, so a loop
 * allocates them once. */
#ifndef SONO_TRAIN_ADVERSARIAL_H
#define SONO_TRAIN_ADVERSARIAL_H

#include <stddef.h>
#include <stdint.h>

#include "sonodream/train.h"

/* origin and grad each hold n * C * H * W floats. The attack is assumed
 * checked (sono_adversarial_check). */
sono_status sono_adv_perturb_ws(sono_net *net, const sono_adversarial *a, float *x, int n, const float *targets,
                                const uint64_t *start_keys, float *origin, float *grad, sono_error *err);

/* The random start's key of clip `index` of a feature set in evaluation
 * (and in training's robust validation): fixed, so results repeat. */
uint64_t sono_adv_eval_key(int index);

#endif
