/* Mono WAV output through libsndfile, renamed into place only when complete. */
#include "sonodream/audio.h"

#include <math.h>
#include <sndfile.h>
#include <stdint.h>

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
