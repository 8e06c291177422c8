/* Mono WAV output through libsndfile, renamed into place only when complete. */
#include "sonodream/audio.h"

#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sonodream/fileio.h"

#define WRITE_BLOCK_FRAMES 4096
/* RIFF sizes are 32-bit; leave room for the header. */
#define WAV_MAX_DATA_BYTES (UINT32_MAX - 1024u)

static sono_status check_write_arguments(const char *path, const float *samples, int64_t n,
                                         int sample_rate, sono_wav_encoding encoding,
                                         sono_error *err) {
    if (!path || !samples)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "sono_audio_write_wav: NULL argument");
    if (n <= 0)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: nothing to write (%lld samples)", path,
                              (long long)n);
    if (sample_rate <= 0 || sample_rate > SONO_AUDIO_MAX_RATE)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: bad sample rate %d Hz", path, sample_rate);
    if (encoding != SONO_WAV_PCM16 && encoding != SONO_WAV_FLOAT32)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: unknown WAV encoding %d", path,
                              (int)encoding);
    uint64_t bytes_per_sample = encoding == SONO_WAV_PCM16 ? 2 : 4;
    if ((uint64_t)n > WAV_MAX_DATA_BYTES / bytes_per_sample)
        return sono_error_set(err, SONO_ERR_UNSUPPORTED, "%s: %lld samples do not fit in a WAV file",
                              path, (long long)n);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(samples[i]))
            return sono_error_set(err, SONO_ERR_ARGUMENT,
                                  "%s: refusing to write NaN or infinite sample at index %lld", path,
                                  (long long)i);
    return SONO_OK;
}

static float clip_unit(float x) {
    return x > 1.0f ? 1.0f : x < -1.0f ? -1.0f : x;
}

/* libsndfile only clips float-to-integer conversion when SFC_SET_CLIPPING is on;
 * otherwise values beyond full scale overflow, so clip here. */
static int write_clipped(SNDFILE *sf, const float *samples, int64_t n) {
    float block[WRITE_BLOCK_FRAMES];
    for (int64_t start = 0; start < n; start += WRITE_BLOCK_FRAMES) {
        int64_t count = n - start < WRITE_BLOCK_FRAMES ? n - start : WRITE_BLOCK_FRAMES;
        for (int64_t i = 0; i < count; i++) block[i] = clip_unit(samples[start + i]);
        if (sf_writef_float(sf, block, count) != count) return 0;
    }
    return 1;
}

static sono_status write_samples(const char *path, const char *tmp_path, const float *samples,
                                 int64_t n, int sample_rate, sono_wav_encoding encoding,
                                 sono_error *err) {
    SF_INFO info = {.samplerate = sample_rate, .channels = 1};
    info.format = SF_FORMAT_WAV | (encoding == SONO_WAV_PCM16 ? SF_FORMAT_PCM_16 : SF_FORMAT_FLOAT);
    SNDFILE *sf = sf_open(tmp_path, SFM_WRITE, &info);
    if (!sf)
        return sono_error_set(err, SONO_ERR_IO, "%s: cannot create: %s", path, sf_strerror(NULL));
    sf_command(sf, SFC_SET_ADD_PEAK_CHUNK, NULL, SF_FALSE); /* its time stamp breaks bit-identical outputs */
    int ok = encoding == SONO_WAV_PCM16 ? write_clipped(sf, samples, n)
                                        : sf_writef_float(sf, samples, n) == n;
    sono_status s = SONO_OK;
    if (!ok) s = sono_error_set(err, SONO_ERR_IO, "%s: write failed: %s", path, sf_strerror(sf));
    if (sf_close(sf) != 0 && s == SONO_OK)
        s = sono_error_set(err, SONO_ERR_IO, "%s: write failed on close", path);
    return s;
}

sono_status sono_audio_write_wav(const char *path, const float *samples, int64_t n, int sample_rate,
                                 sono_wav_encoding encoding, sono_error *err) {
    sono_status s = check_write_arguments(path, samples, n, sample_rate, encoding, err);
    if (s != SONO_OK) return s;
    sono_atomic_file f;
    s = sono_atomic_begin(&f, path, 0, err);
    if (s != SONO_OK) return s;
    s = write_samples(path, f.tmp_path, samples, n, sample_rate, encoding, err);
    if (s != SONO_OK) {
        sono_atomic_abort(&f);
        return s;
    }
    return sono_atomic_commit(&f, err);
}

/* ------------------------------------------ recordings, written as they come */

struct sono_audio_writer {
    sono_atomic_file file;
    SNDFILE *sf;
    char *path;
    int channels;
    int64_t frames;
};

static int subtype_of(sono_wav_encoding encoding) {
    switch (encoding) {
    case SONO_WAV_PCM16: return SF_FORMAT_PCM_16;
    case SONO_WAV_PCM24: return SF_FORMAT_PCM_24;
    case SONO_WAV_FLOAT32: return SF_FORMAT_FLOAT;
    }
    return 0;
}

sono_status sono_audio_writer_open(const char *path, int sample_rate, int channels, int64_t expected_frames,
                                   sono_wav_encoding encoding, sono_audio_writer **out, sono_error *err) {
    *out = NULL;
    if (!path) return sono_error_set(err, SONO_ERR_ARGUMENT, "sono_audio_writer_open: NULL path");
    if (sample_rate <= 0 || sample_rate > SONO_AUDIO_MAX_RATE || channels < 1 || channels > 1024 || !subtype_of(encoding))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: cannot write %d channels at %d Hz (encoding %d)", path,
                              channels, sample_rate, (int)encoding);
    sono_audio_writer *w = calloc(1, sizeof *w);
    if (!w || !(w->path = strdup(path))) {
        free(w);
        return sono_error_set(err, SONO_ERR_MEMORY, "%s: out of memory", path);
    }
    w->channels = channels;
    sono_status s = sono_atomic_begin(&w->file, path, 0, err);
    if (s != SONO_OK) {
        free(w->path), free(w);
        return s;
    }
    /* RIFF sizes are 32-bit: a longer recording goes into RF64 (a WAV whose
     * sizes are 64-bit; libsndfile, sox and ffmpeg read it). */
    uint64_t bytes = (uint64_t)(expected_frames > 0 ? expected_frames : 0) * channels *
                     (encoding == SONO_WAV_PCM16 ? 2u : encoding == SONO_WAV_PCM24 ? 3u : 4u);
    SF_INFO info = {.samplerate = sample_rate, .channels = channels};
    info.format = (bytes > WAV_MAX_DATA_BYTES ? SF_FORMAT_RF64 : SF_FORMAT_WAV) | subtype_of(encoding);
    w->sf = sf_open(w->file.tmp_path, SFM_WRITE, &info);
    if (!w->sf) {
        s = sono_error_set(err, SONO_ERR_IO, "%s: cannot create: %s", path, sf_strerror(NULL));
        sono_audio_writer_abort(w);
        return s;
    }
    /* Integer subtypes clip instead of wrapping around; float files get no
     * PEAK chunk, whose time stamp would make two identical dreams differ. */
    sf_command(w->sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    sf_command(w->sf, SFC_SET_ADD_PEAK_CHUNK, NULL, SF_FALSE);
    *out = w;
    return SONO_OK;
}

sono_status sono_audio_writer_write(sono_audio_writer *w, const float *samples, int64_t frames, sono_error *err) {
    for (int64_t i = 0; i < frames * w->channels; i++)
        if (!isfinite(samples[i]))
            return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: refusing to write a NaN or infinite sample (frame %lld)",
                                  w->path, (long long)(w->frames + i / w->channels));
    if (sf_writef_float(w->sf, samples, frames) != frames)
        return sono_error_set(err, SONO_ERR_IO, "%s: write failed: %s", w->path, sf_strerror(w->sf));
    w->frames += frames;
    return SONO_OK;
}

sono_status sono_audio_writer_commit(sono_audio_writer *w, sono_error *err) {
    sono_status s = SONO_OK;
    if (sf_close(w->sf) != 0) s = sono_error_set(err, SONO_ERR_IO, "%s: write failed on close", w->path);
    w->sf = NULL;
    if (s == SONO_OK && w->frames == 0) s = sono_error_set(err, SONO_ERR_ARGUMENT, "%s: nothing to write", w->path);
    if (s == SONO_OK) s = sono_atomic_commit(&w->file, err);
    else sono_atomic_abort(&w->file);
    free(w->path);
    free(w);
    return s;
}

void sono_audio_writer_abort(sono_audio_writer *w) {
    if (!w) return;
    if (w->sf) sf_close(w->sf);
    sono_atomic_abort(&w->file);
    free(w->path);
    free(w);
}
