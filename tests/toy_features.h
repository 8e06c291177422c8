/* A small feature set the training tests learn from: three classes
 * ("low", "middle", "high"), each a bright band of 3 mel rows at its own
 * height (rows 1-3, 6-8, 11-13 of 16) over uniform noise, 8 frames (0.25 s
 * at the default features), clips spread over `folds` folds in turn. The
 * caller frees it with sono_feature_set_free. */
#ifndef SONO_TEST_TOY_FEATURES_H
#define SONO_TEST_TOY_FEATURES_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sonodream/data.h"

static sono_feature_set *toy_feature_set(int per_class, int folds, uint32_t seed, float noise_db, float band_db) {
    sono_feature_set *s = calloc(1, sizeof *s);
    sono_feature_config_default(&s->config);
    s->config.n_mels = 16;
    s->config.seconds = 0.25; /* 4000 samples at 16 kHz: 8 frames */
    s->n_mels = 16;
    s->frames = sono_feature_frames(&s->config, sono_feature_clip_samples(&s->config));
    s->class_count = 3;
    s->count = 3 * per_class;
    s->class_names = calloc(3, sizeof(char *));
    const char *names[3] = {"low", "middle", "high"};
    for (int k = 0; k < 3; k++) s->class_names[k] = strdup(names[k]);
    size_t clip = (size_t)s->n_mels * s->frames;
    s->features = malloc((size_t)s->count * clip * sizeof(float));
    s->labels = malloc((size_t)s->count * sizeof(int32_t));
    s->folds = malloc((size_t)s->count * sizeof(int32_t));
    s->sources = calloc((size_t)s->count, sizeof(char *));
    uint32_t lcg = seed;
    for (int i = 0; i < s->count; i++) {
        int label = i % 3;
        s->labels[i] = label;
        s->folds[i] = 1 + (i / 3) % folds;
        s->sources[i] = strdup("toy");
        for (size_t j = 0; j < clip; j++) {
            lcg = lcg * 1664525u + 1013904223u;
            int band = (int)(j / (size_t)s->frames);
            float noise = (float)(lcg >> 8) / 16777216.0f * noise_db;
            s->features[(size_t)i * clip + j] = -60.0f + noise + (abs(band - (2 + 5 * label)) <= 1 ? band_db : 0.0f);
        }
    }
    s->layout = strdup("test");
    return s;
}

#endif
