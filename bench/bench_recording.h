/* A dreamed recording written as float WAV, and a file classified as
 * `classify` would, for the benchmarks that judge dreams by a listener. */
#ifndef SONO_BENCH_RECORDING_H
#define SONO_BENCH_RECORDING_H

#include <stdio.h>
#include <stdlib.h>

#include "sonodream/audio.h"
#include "sonodream/classifier.h"
#include "sonodream/dream.h"

static sono_status bench_write_recording(const char *path, const sono_recording *r, sono_error *err) {
    sono_audio_writer *w;
    sono_status s = sono_audio_writer_open(path, r->sample_rate, r->channels, r->frames, SONO_WAV_FLOAT32, &w, err);
    if (s != SONO_OK) return s;
    s = sono_audio_writer_write(w, r->samples, r->frames, err);
    if (s != SONO_OK) {
        sono_audio_writer_abort(w);
        return s;
    }
    return sono_audio_writer_commit(w, err);
}

/* P(class k) of a file read at the model's rate; *top (may be NULL): 1 when
 * k is the most probable class. A failure ends the benchmark. */
static double bench_probability(sono_classifier *c, const char *path, int k, int *top) {
    sono_error err = {0};
    float probs[256];
    if (sono_classifier_classify_file(c, path, probs, NULL, &err) != SONO_OK) {
        fprintf(stderr, "bench: %s\n", err.message);
        exit(1);
    }
    int best = 0;
    for (int i = 1; i < c->class_count; i++) best = probs[i] > probs[best] ? i : best;
    if (top) *top = best == k;
    return probs[k];
}

#endif
