/* A small classifier with random weights for the dream tests:
 * "c8,c8,p2,c16,f16" on 1 x 32 mels x 40 frames (16 kHz, n_fft 512, hop
 * 512, 1.25 s), three classes. Shared by test_dream.c and
 * test_dream_recording.c. */
#ifndef SONO_TEST_SMALL_MODEL_H
#define SONO_TEST_SMALL_MODEL_H

#include <stdio.h>
#include <stdlib.h>

#include "sonodream/classifier.h"

#define N_MELS 32
#define CLASSES 3

static sono_feature_config small_features(void) {
    sono_feature_config cfg;
    sono_feature_config_default(&cfg);
    cfg.sample_rate = 16000;
    cfg.seconds = 1.25;
    cfg.n_fft = 512;
    cfg.hop = 512;
    cfg.n_mels = N_MELS;
    return cfg;
}

/* "c8,c8,p2,c16,f16" on 1 x 32 mels x 40 frames, random weights. */
static sono_classifier *small_classifier(int max_batch) {
    sono_feature_config cfg = small_features();
    int frames = sono_feature_frames(&cfg, sono_feature_clip_samples(&cfg));
    sono_error err = {0};
    sono_net *net = NULL;
    if (sono_net_new(&net, "c8,c8,p2,c16,f16", (sono_shape){1, N_MELS, frames}, CLASSES, max_batch, 42, &err) !=
        SONO_OK) {
        fprintf(stderr, "sono_net_new: %s\n", err.message);
        exit(2);
    }
    char *names[CLASSES] = {"tone", "noise", "siren"};
    float mean[N_MELS], sd[N_MELS];
    for (int m = 0; m < N_MELS; m++) mean[m] = -45.0f - 0.5f * m, sd[m] = 12.0f + 0.1f * m;
    sono_classifier *c = NULL;
    if (sono_classifier_new(&c, net, &cfg, names, CLASSES, mean, sd, &err) != SONO_OK) {
        fprintf(stderr, "sono_classifier_new: %s\n", err.message);
        exit(2);
    }
    return c;
}

#endif
