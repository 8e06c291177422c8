/* sonodream: audio decoding (libsndfile), resampling (libsoxr) and WAV output.
 *
 * Samples are float32 in [-1, 1], mono after loading (channels are averaged).
 * Buffers returned through `float **out` are malloc'd; the caller free()s them. */
#ifndef SONODREAM_AUDIO_H
#define SONODREAM_AUDIO_H

#include <stdint.h>

#include "sonodream/error.h"

#include "sonodream/export.h"

SONO_BEGIN_DECLS

/* Highest sample rate accepted anywhere; beyond it a header is damage. */
#define SONO_AUDIO_MAX_RATE 1000000
/* Largest sample magnitude accepted (float files may exceed 1, but 120 dB
 * over full scale is damage, and would overflow resampling and the STFT). */
#define SONO_AUDIO_MAX_MAGNITUDE 1.0e6f

typedef struct sono_audio_info {
    int sample_rate;
    int channels;
    int64_t frames;   /* samples per channel; -1 when the container does not say */
    double seconds;   /* -1 when frames is unknown */
    char format[64];  /* container, e.g. "WAV (Microsoft)", "FLAC" */
    char encoding[64];/* e.g. "Signed 16 bit PCM", "32 bit float" */
} sono_audio_info;

/* Read a file's header only. Fails (naming the file) on anything libsndfile
 * cannot open, on 0 channels, and on sample rates outside 1 Hz .. 1 MHz. */
sono_status sono_audio_probe(const char *path, sono_audio_info *info, sono_error *err);

/* Decode a whole file to mono float32 and, when target_rate > 0 and differs
 * from the file's rate, resample to target_rate with libsoxr (high quality).
 * max_seconds > 0 stops reading after that much audio (bounds memory for
 * fixed-length features); 0 reads everything. Fails on empty or truncated
 * data, on NaN or Inf samples and on samples beyond
 * +-SONO_AUDIO_MAX_MAGNITUDE. On success *out holds *n_out samples at
 * *rate_out (rate_out may be NULL).
 *
 * With max_seconds > 0, at most ceil(max_seconds * file rate) frames are read
 * and, when resampled, *n_out = round(frames * target_rate / file rate).
 * Truncation counts only when it cuts into the part that was asked for: a read
 * that ends before the header's frame count, or (WAV, AIFF, AU, RF64, W64, whose
 * length libsndfile quietly shortens to the file's size) a header that promises
 * more data than the file holds. Float files are read as stored, not normalised. */
sono_status sono_audio_load(const char *path, int target_rate, double max_seconds, float **out,
                            int64_t *n_out, int *rate_out, sono_error *err);

/* Resample mono float32 with libsoxr (high quality). *out is malloc'd and
 * holds *n_out = round(n * out_rate / in_rate) samples (a copy when the rates
 * are equal). */
sono_status sono_audio_resample(const float *in, int64_t n, int in_rate, int out_rate, float **out,
                                int64_t *n_out, sono_error *err);

typedef enum sono_wav_encoding {
    SONO_WAV_PCM16 = 0, /* default */
    SONO_WAV_FLOAT32,
    SONO_WAV_PCM24
} sono_wav_encoding;

/* Write mono samples as WAV, atomically (temporary file then rename). Samples
 * beyond [-1, 1] are clipped for PCM16. Refuses n <= 0, rates outside
 * 1 .. SONO_AUDIO_MAX_RATE and NaN or Inf samples, before creating anything. */
sono_status sono_audio_write_wav(const char *path, const float *samples, int64_t n, int sample_rate,
                                 sono_wav_encoding encoding, sono_error *err);


/* ---- recordings at their own rate and channel count ---- */

/* A recording opened for reading by blocks: (frames, channels) interleaved
 * float samples, as stored (not resampled, not downmixed). Seekable files
 * with an exact length in the header (WAV, FLAC, AIFF, ...) are read block
 * by block as asked; others (MP3, Ogg, whose lengths are estimates) are
 * decoded whole when opened. Every block is checked as sono_audio_load
 * checks samples (NaN, Inf, beyond SONO_AUDIO_MAX_MAGNITUDE), and a file
 * shorter than its header says fails, naming the frame. */
typedef struct sono_audio_reader sono_audio_reader;

sono_status sono_audio_reader_open(const char *path, sono_audio_reader **reader, sono_error *err);

/* What a caller takes from a file; 0 in a field: no cap of the caller's
 * (rates stay within SONO_AUDIO_MAX_RATE). A decode stops at the first cap
 * it passes, before it holds more, and fails naming the file, the value and
 * the cap: channels and rate from the header; length from the header where
 * it is exact, else while decoding; memory while decoding. */
typedef struct sono_audio_limits {
    int max_channels;
    int max_rate;         /* Hz */
    double max_seconds;   /* at the file's rate (a recording of exactly this long passes) */
    int64_t max_frames;   /* per channel; the lower of this and max_seconds counts */
    int64_t max_bytes;    /* decoded samples held in memory (frames x channels x 4 bytes): files that
                             are decoded whole (MP3, Ogg) stop there; files that stream hold none */
} sono_audio_limits;

/* sono_audio_reader_open within limits (NULL: none). On failure the reader
 * is not made. */
sono_status sono_audio_reader_open_limited(const char *path, const sono_audio_limits *limits,
                                           sono_audio_reader **reader, sono_error *err);
/* frames and seconds are exact. */
const sono_audio_info *sono_audio_reader_info(const sono_audio_reader *reader);
/* count frames from start into dst (count, channels). */
sono_status sono_audio_reader_read(sono_audio_reader *reader, int64_t start, int64_t count, float *dst,
                                   sono_error *err);
void sono_audio_reader_close(sono_audio_reader *reader);

/* Every sample of a file decoded once, in order, one block at a time (memory:
 * one block of 4096 frames, whatever the format), each block checked as the
 * reader checks them and handed to `block` when it is not NULL (frames,
 * channels interleaved; a status other than SONO_OK from it stops the
 * decode and is returned). Stops at the first limit passed (limits may be
 * NULL). *info holds the rate, channels and format once the file is open,
 * and the frames decoded (exact on success, so far on failure). */
typedef sono_status (*sono_audio_block_fn)(void *user, const float *samples, int64_t frames, sono_error *err);
sono_status sono_audio_decode_each(const char *path, const sono_audio_limits *limits, sono_audio_info *info,
                                   sono_audio_block_fn block, void *user, sono_error *err);

/* A whole recording: *samples (malloc'd, (frames, channels) interleaved). */
sono_status sono_audio_load_recording(const char *path, float **samples, int64_t *frames, int *channels, int *rate,
                                      sono_error *err);

/* A WAV written block by block into a temporary file and renamed into place
 * on commit (abort removes it). Recordings over 4 GB of data (from
 * expected_frames) are written as RF64. Integer encodings clip at full
 * scale; NaN and Inf are refused. Pair open with commit or abort. */
typedef struct sono_audio_writer sono_audio_writer;

sono_status sono_audio_writer_open(const char *path, int sample_rate, int channels, int64_t expected_frames,
                                   sono_wav_encoding encoding, sono_audio_writer **writer, sono_error *err);
sono_status sono_audio_writer_write(sono_audio_writer *writer, const float *samples, int64_t frames, sono_error *err);
sono_status sono_audio_writer_commit(sono_audio_writer *writer, sono_error *err);
void sono_audio_writer_abort(sono_audio_writer *writer);

SONO_END_DECLS
#endif
