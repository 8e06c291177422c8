/* A dreamed recording written as float WAV, for benchmarks that classify it
 * from the file as `classify` would. */
#ifndef SONO_BENCH_RECORDING_H
#define SONO_BENCH_RECORDING_H

#include "sonodream/audio.h"
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

#endif
