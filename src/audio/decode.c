/* Decoding any format libsndfile reads into mono float32. */
#include "sonodream/audio.h"
#include "sonodream/fileio.h"

#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Frames read per sf_readf_float call: bounds the interleaved scratch buffer. */
#define READ_BLOCK_FRAMES 4096
/* First allocation when the header's frame count is unknown or implausibly large. */
#define INITIAL_CAPACITY_FRAMES ((int64_t)1 << 20)
/* MP3 frame counts are estimates from the bitrate when there is no Xing header;
 * a shortfall of a couple of MPEG frames (1152 samples each) is not damage. */
#define MPEG_LENGTH_SLACK_FRAMES 2304

/* ---------------------------------------------------------------- opening */

static sono_status open_failure(const char *path, sono_error *err) {
    int code = sf_error(NULL);
    sono_status status = code == SF_ERR_SYSTEM ? SONO_ERR_IO
                         : code == SF_ERR_UNSUPPORTED_ENCODING ? SONO_ERR_UNSUPPORTED
                                                               : SONO_ERR_FORMAT;
    return sono_error_set(err, status, "%s: cannot open as audio: %s", path, sf_strerror(NULL));
}

/* libsndfile reports a folder as "Format not recognised", which hides the real
 * mistake, and would wait forever on a named pipe nobody writes to: open the
 * path the way every input is opened first (one syscall pair per file). */
static sono_status check_regular_file(const char *path, sono_error *err) {
    FILE *f;
    sono_status s = sono_open_input(path, NULL, &f, err);
    if (s != SONO_OK) return s;
    fclose(f);
    return SONO_OK;
}

static sono_status check_header(const char *path, const SF_INFO *info, sono_error *err) {
    if (info->channels <= 0)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: header claims %d channels", path,
                              info->channels);
    if (info->samplerate <= 0 || info->samplerate > SONO_AUDIO_MAX_RATE)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: implausible sample rate %d Hz", path,
                              info->samplerate);
    return SONO_OK;
}

static sono_status open_audio(const char *path, SNDFILE **sf, SF_INFO *info, sono_error *err) {
    *sf = NULL;
    memset(info, 0, sizeof *info);
    sono_status s = check_regular_file(path, err);
    if (s != SONO_OK) return s;
    *sf = sf_open(path, SFM_READ, info);
    if (!*sf) return open_failure(path, err);
    s = check_header(path, info, err);
    if (s != SONO_OK) {
        sf_close(*sf);
        *sf = NULL;
    }
    return s;
}

/* ---------------------------------------------------------------- probing */

static void format_name(int format, char *out, size_t size) {
    SF_FORMAT_INFO fi = {.format = format};
    if (sf_command(NULL, SFC_GET_FORMAT_INFO, &fi, sizeof fi) == 0 && fi.name)
        snprintf(out, size, "%s", fi.name);
    else
        snprintf(out, size, "unknown (0x%x)", (unsigned)format);
}

static int frames_known(sf_count_t frames) {
    return frames >= 0 && frames != SF_COUNT_MAX;
}

/* ---------------------------------------------------------------- limits */

/* The most frames a caller takes at this rate: the lower of max_frames and
 * max_seconds (a recording of exactly max_seconds passes); INT64_MAX when
 * neither is set. */
static int64_t limit_frames(const sono_audio_limits *lim, int rate) {
    int64_t cap = INT64_MAX;
    if (!lim) return cap;
    if (lim->max_frames > 0) cap = lim->max_frames;
    if (lim->max_seconds > 0) {
        double f = floor(lim->max_seconds * rate + 1e-6);
        if (f < 1) f = 1;
        if (f < (double)cap) cap = (int64_t)f;
    }
    return cap;
}

/* What the header alone tells: channels, rate, and an exact length. */
static sono_status check_header_limits(const char *path, const SF_INFO *sfi, const sono_audio_limits *lim,
                                       sono_error *err) {
    if (!lim) return SONO_OK;
    if (lim->max_channels > 0 && sfi->channels > lim->max_channels)
        return sono_error_set(err, SONO_ERR_UNSUPPORTED, "%s: %d channels; at most %d are taken here", path,
                              sfi->channels, lim->max_channels);
    if (lim->max_rate > 0 && sfi->samplerate > lim->max_rate)
        return sono_error_set(err, SONO_ERR_UNSUPPORTED, "%s: %d Hz; at most %d Hz is taken here", path,
                              sfi->samplerate, lim->max_rate);
    return SONO_OK;
}

static sono_status too_long(const char *path, int64_t cap, int rate, sono_error *err) {
    return sono_error_set(err, SONO_ERR_UNSUPPORTED,
                          "%s: longer than %.6g s (%lld frames at %d Hz), the most taken here; stopped decoding there",
                          path, (double)cap / rate, (long long)cap, rate);
}

sono_status sono_audio_probe(const char *path, sono_audio_info *info, sono_error *err) {
    SNDFILE *sf;
    SF_INFO sfi;
    sono_status s = open_audio(path, &sf, &sfi, err);
    if (s != SONO_OK) return s;
    memset(info, 0, sizeof *info);
    info->sample_rate = sfi.samplerate;
    info->channels = sfi.channels;
    info->frames = frames_known(sfi.frames) ? (int64_t)sfi.frames : -1;
    info->seconds = info->frames >= 0 ? (double)info->frames / sfi.samplerate : -1.0;
    format_name(sfi.format & SF_FORMAT_TYPEMASK, info->format, sizeof info->format);
    format_name(sfi.format & SF_FORMAT_SUBMASK, info->encoding, sizeof info->encoding);
    sf_close(sf);
    return SONO_OK;
}

/* ------------------------------------------------------------ truncation */

/* "data : 40000 (should be 19960)": the header promised more bytes than the
 * file holds. Streaming writers put 0xFFFFFFFF there on purpose. */
static int claims_more_than_present(const char *line) {
    const char *colon = strchr(line, ':'), *should = strstr(line, "(should be ");
    if (!colon || !should || should < colon) return 0;
    long long claimed = strtoll(colon + 1, NULL, 10);
    long long present = strtoll(should + strlen("(should be "), NULL, 10);
    return claimed > present && claimed != 0xFFFFFFFFLL;
}

/* The label of a log line ("data", "SSND", "Data Size"), lower-cased and trimmed. */
static void line_label(const char *line, size_t len, char *out, size_t size) {
    while (len && (*line == ' ' || *line == '\t')) line++, len--;
    size_t n = 0;
    while (n < len && line[n] != ':' && n + 1 < size) {
        out[n] = (char)(line[n] >= 'A' && line[n] <= 'Z' ? line[n] - 'A' + 'a' : line[n]);
        n++;
    }
    while (n && out[n - 1] == ' ') n--;
    out[n] = '\0';
}

static int line_reports_short_data(const char *line, int container) {
    char label[32];
    line_label(line, strlen(line), label, sizeof label);
    /* W64 logs its data chunk without a remark; only the riff size (the whole
     * file) shows the shortfall there. */
    int audio_chunk = strcmp(label, "data") == 0 || strcmp(label, "ssnd") == 0 ||
                      strcmp(label, "data size") == 0 || (container == SF_FORMAT_W64 && strcmp(label, "riff") == 0);
    if (audio_chunk) return claims_more_than_present(line);
    /* RF64 keeps its real length in ds64; libsndfile only remarks on a mismatch. */
    const char *ds64 = strstr(line, "does not match value from 'ds64' chunk of ");
    if (!ds64) return 0;
    const char *calc = strstr(line, "frame count ");
    long long calculated = calc ? strtoll(calc + strlen("frame count "), NULL, 10) : 0;
    long long declared = strtoll(ds64 + strlen("does not match value from 'ds64' chunk of "), NULL, 10);
    return declared > calculated;
}

/* libsndfile quietly shortens a WAV/AIFF/AU/W64 whose data chunk runs past the end
 * of the file, so a short file reads cleanly; only its log tells. */
static int header_claims_missing_data(SNDFILE *sf, int container) {
    char log[8192];
    if (sf_command(sf, SFC_GET_LOG_INFO, log, sizeof log) <= 0) return 0;
    for (const char *line = log; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char copy[256];
        snprintf(copy, sizeof copy, "%.*s", (int)(len < sizeof copy ? len : sizeof copy - 1), line);
        if (line_reports_short_data(copy, container)) return 1;
        if (!end) break;
        line = end + 1;
    }
    return 0;
}

/* --------------------------------------------------------------- reading */

typedef struct mono_buffer {
    float *data;
    int64_t count, capacity;
} mono_buffer;

static int grow(mono_buffer *b, int64_t needed, int64_t limit) {
    if (needed <= b->capacity) return 1;
    int64_t cap = b->capacity ? b->capacity : INITIAL_CAPACITY_FRAMES;
    while (cap < needed) cap = cap > INT64_MAX / 2 ? INT64_MAX : cap * 2;
    if (cap > limit) cap = limit;
    if ((uint64_t)cap > SIZE_MAX / sizeof(float)) return 0;
    float *p = realloc(b->data, (size_t)cap * sizeof(float));
    if (!p) return 0;
    b->data = p;
    b->capacity = cap;
    return 1;
}

/* Size the buffer for a small file exactly; big or unknown lengths grow as read,
 * so a header that lies about its length cannot make us allocate for it. */
static void reserve_expected(mono_buffer *b, const SF_INFO *info, int64_t limit) {
    if (!frames_known(info->frames) || info->frames <= 0) return;
    int64_t expected = info->frames < limit ? info->frames : limit;
    if (expected > INITIAL_CAPACITY_FRAMES) expected = INITIAL_CAPACITY_FRAMES;
    float *p = malloc((size_t)expected * sizeof(float));
    if (!p) return; /* reading will try again and report it */
    b->data = p;
    b->capacity = expected;
}

/* Index of the first sample that is NaN, infinite or beyond
 * SONO_AUDIO_MAX_MAGNITUDE, or -1. One integer compare on the magnitude bits
 * catches all three (NaN and Inf have the largest exponent) and vectorises,
 * so the common all-valid case costs one pass. */
static int64_t first_invalid(const float *x, int64_t n) {
    const float limit = SONO_AUDIO_MAX_MAGNITUDE;
    uint32_t limit_bits, any = 0;
    memcpy(&limit_bits, &limit, sizeof limit_bits);
    for (int64_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &x[i], sizeof bits);
        any |= (bits & 0x7fffffffu) > limit_bits;
    }
    for (int64_t i = 0; any && i < n; i++)
        if (!(fabsf(x[i]) <= limit)) return i;
    return -1;
}

/* Average the channels of one block into the buffer. Returns the index of the
 * first invalid result, or -1. Summing in double keeps large finite inputs finite. */
static int64_t downmix_block(const float *interleaved, int64_t frames, int channels, float *out) {
    if (channels == 1) {
        memcpy(out, interleaved, (size_t)frames * sizeof(float));
        return first_invalid(out, frames);
    }
    for (int64_t i = 0; i < frames; i++) {
        double sum = 0;
        for (int c = 0; c < channels; c++) sum += interleaved[i * channels + c];
        out[i] = (float)(sum / channels);
    }
    return first_invalid(out, frames);
}

static int64_t frame_limit(double max_seconds, int rate) {
    if (max_seconds <= 0) return INT64_MAX;
    /* The epsilon keeps 4 s at 22050 Hz at 88200 frames despite rounding in the product. */
    double frames = ceil(max_seconds * rate - 1e-6);
    if (frames >= 9.0e18) return INT64_MAX;
    return frames < 1 ? 1 : (int64_t)frames;
}

static sono_status read_mono(const char *path, SNDFILE *sf, const SF_INFO *info, int64_t limit,
                             mono_buffer *b, sono_error *err) {
    float *block = malloc((size_t)READ_BLOCK_FRAMES * (size_t)info->channels * sizeof(float));
    if (!block) return sono_error_set(err, SONO_ERR_MEMORY, "%s: out of memory", path);
    reserve_expected(b, info, limit);
    sono_status s = SONO_OK;
    while (b->count < limit) {
        int64_t want = limit - b->count < READ_BLOCK_FRAMES ? limit - b->count : READ_BLOCK_FRAMES;
        sf_count_t got = sf_readf_float(sf, block, want);
        if (got <= 0) break;
        if (!grow(b, b->count + got, limit)) {
            s = sono_error_set(err, SONO_ERR_MEMORY, "%s: out of memory after %lld frames", path,
                               (long long)b->count);
            break;
        }
        int64_t bad = downmix_block(block, got, info->channels, b->data + b->count);
        if (bad >= 0) {
            float v = b->data[b->count + bad];
            if (isfinite(v))
                s = sono_error_set(err, SONO_ERR_FORMAT,
                                   "%s: sample %g at frame %lld is beyond +-%g: not audio", path, (double)v,
                                   (long long)(b->count + bad), (double)SONO_AUDIO_MAX_MAGNITUDE);
            else
                s = sono_error_set(err, SONO_ERR_FORMAT,
                                   "%s: contains NaN or infinite samples (first at frame %lld)", path,
                                   (long long)(b->count + bad));
            break;
        }
        b->count += got;
    }
    free(block);
    if (s == SONO_OK && sf_error(sf) != SF_ERR_NO_ERROR)
        s = sono_error_set(err, SONO_ERR_FORMAT, "%s: decoding failed after %lld frames: %s", path,
                           (long long)b->count, sf_strerror(sf));
    return s;
}

/* Fewer frames than the header promised, before we had all we wanted. */
static sono_status check_complete(const char *path, SNDFILE *sf, const SF_INFO *info,
                                  int64_t limit, int64_t got, sono_error *err) {
    if (got >= limit) return SONO_OK;
    int64_t slack = (info->format & SF_FORMAT_TYPEMASK) == SF_FORMAT_MPEG ? MPEG_LENGTH_SLACK_FRAMES : 0;
    if (frames_known(info->frames) && got + slack < info->frames)
        return sono_error_set(err, SONO_ERR_FORMAT,
                              "%s: truncated: the header promises %lld frames but only %lld could be read",
                              path, (long long)info->frames, (long long)got);
    if (header_claims_missing_data(sf, info->format & SF_FORMAT_TYPEMASK))
        return sono_error_set(err, SONO_ERR_FORMAT,
                              "%s: truncated: the header promises more audio data than the file holds "
                              "(%lld frames present)", path, (long long)got);
    return SONO_OK;
}

static sono_status check_load_arguments(const char *path, int target_rate, double max_seconds,
                                        float **out, int64_t *n_out, sono_error *err) {
    if (!path || !out || !n_out)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "sono_audio_load: NULL argument");
    if (target_rate < 0 || target_rate > SONO_AUDIO_MAX_RATE)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: target sample rate %d Hz is out of range",
                              path, target_rate);
    if (!(max_seconds >= 0) || isinf(max_seconds))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: max_seconds %g is not a length", path,
                              max_seconds);
    return SONO_OK;
}

static sono_status decode_mono(const char *path, double max_seconds, mono_buffer *b, int *rate,
                               sono_error *err) {
    SNDFILE *sf;
    SF_INFO info;
    sono_status s = open_audio(path, &sf, &info, err);
    if (s != SONO_OK) return s;
    *rate = info.samplerate;
    int64_t limit = frame_limit(max_seconds, info.samplerate);
    s = read_mono(path, sf, &info, limit, b, err);
    if (s == SONO_OK && b->count == 0)
        s = sono_error_set(err, SONO_ERR_FORMAT, "%s: no audio data", path);
    if (s == SONO_OK) s = check_complete(path, sf, &info, limit, b->count, err);
    sf_close(sf);
    return s;
}

sono_status sono_audio_load(const char *path, int target_rate, double max_seconds, float **out,
                            int64_t *n_out, int *rate_out, sono_error *err) {
    sono_status s = check_load_arguments(path, target_rate, max_seconds, out, n_out, err);
    if (s != SONO_OK) return s;
    *out = NULL;
    *n_out = 0;
    mono_buffer b = {0};
    int rate = 0;
    s = decode_mono(path, max_seconds, &b, &rate, err);
    if (s != SONO_OK) {
        free(b.data);
        return s;
    }
    if (target_rate > 0 && target_rate != rate) {
        float *resampled = NULL;
        int64_t n = 0;
        s = sono_audio_resample(b.data, b.count, rate, target_rate, &resampled, &n, err);
        free(b.data);
        if (s != SONO_OK) {
            sono_error_prefix(err, "%s: ", path);
            return s;
        }
        b.data = resampled, b.count = n, rate = target_rate;
    }
    *out = b.data;
    *n_out = b.count;
    if (rate_out) *rate_out = rate;
    return SONO_OK;
}

/* ------------------------------------------- recordings at their own rate */

/* A recording's samples, all channels, read block by block where the file
 * allows it (a seekable container whose header gives an exact length: WAV,
 * FLAC, AIFF...), otherwise decoded whole into memory first (MP3 and Ogg,
 * whose lengths are estimates, or a length that is not known), within the
 * caller's limits. */
struct sono_audio_reader {
    char *path;
    SNDFILE *sf;          /* streaming; NULL when held in memory */
    sono_audio_info info; /* frames exact */
    float *samples;       /* (frames, channels) when in memory */
    int64_t position;     /* streaming: where sf is */
};

static int streams(const SF_INFO *sfi) {
    int container = sfi->format & SF_FORMAT_TYPEMASK;
    return sfi->seekable && frames_known(sfi->frames) && sfi->frames > 0 && container != SF_FORMAT_MPEG &&
           container != SF_FORMAT_OGG;
}

/* Check a block as the mono loader checks its samples. */
static sono_status check_block(const char *path, const float *x, int64_t count, int channels, int64_t first_frame,
                               sono_error *err) {
    int64_t bad = first_invalid(x, count * channels);
    if (bad < 0) return SONO_OK;
    float v = x[bad];
    long long frame = (long long)(first_frame + bad / channels);
    if (isfinite(v))
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: sample %g at frame %lld is beyond +-%g: not audio", path,
                              (double)v, frame, (double)SONO_AUDIO_MAX_MAGNITUDE);
    return sono_error_set(err, SONO_ERR_FORMAT, "%s: contains NaN or infinite samples (first at frame %lld)", path,
                          frame);
}

/* Frames of C channels that fit in max_bytes of floats; INT64_MAX when no cap. */
static int64_t limit_memory_frames(const sono_audio_limits *lim, int C) {
    if (!lim || lim->max_bytes <= 0) return INT64_MAX;
    return lim->max_bytes / ((int64_t)C * (int64_t)sizeof(float));
}

/* Decode everything, interleaved, growing as read, never past the caller's
 * frame or memory cap (the buffer is at most one block beyond either). */
static sono_status read_all(sono_audio_reader *r, const SF_INFO *sfi, const sono_audio_limits *lim, sono_error *err) {
    const int C = sfi->channels;
    const int64_t max_frames = limit_frames(lim, sfi->samplerate), max_held = limit_memory_frames(lim, C);
    const int64_t hard = (max_frames < max_held ? max_frames : max_held);
    int64_t cap = 0, count = 0;
    float *data = NULL;
    sono_status s = SONO_OK;
    for (;;) {
        if (count + READ_BLOCK_FRAMES > cap) {
            int64_t ncap = cap ? (cap > INT64_MAX / 2 ? INT64_MAX : cap * 2) : INITIAL_CAPACITY_FRAMES;
            if (hard < INT64_MAX - READ_BLOCK_FRAMES && ncap > hard + READ_BLOCK_FRAMES) ncap = hard + READ_BLOCK_FRAMES;
            if (ncap < count + READ_BLOCK_FRAMES) ncap = count + READ_BLOCK_FRAMES;
            if ((uint64_t)ncap * C > SIZE_MAX / sizeof(float)) {
                s = sono_error_set(err, SONO_ERR_MEMORY, "%s: too long to hold in memory", r->path);
                break;
            }
            float *p = realloc(data, (size_t)ncap * C * sizeof(float));
            if (!p) {
                s = sono_error_set(err, SONO_ERR_MEMORY, "%s: out of memory after %lld frames", r->path,
                                   (long long)count);
                break;
            }
            data = p, cap = ncap;
        }
        sf_count_t got = sf_readf_float(r->sf, data + count * C, READ_BLOCK_FRAMES);
        if (got <= 0) break;
        if (count + got > max_frames) {
            s = too_long(r->path, max_frames, sfi->samplerate, err);
            break;
        }
        if (count + got > max_held) {
            s = sono_error_set(err, SONO_ERR_MEMORY,
                               "%s: decodes to more than %lld bytes, the most this caller holds in memory; stopped "
                               "after %lld frames", r->path, (long long)lim->max_bytes, (long long)count);
            break;
        }
        s = check_block(r->path, data + count * C, got, C, count, err);
        if (s != SONO_OK) break;
        count += got;
    }
    if (s == SONO_OK && sf_error(r->sf) != SF_ERR_NO_ERROR)
        s = sono_error_set(err, SONO_ERR_FORMAT, "%s: decoding failed after %lld frames: %s", r->path,
                           (long long)count, sf_strerror(r->sf));
    if (s == SONO_OK && count == 0) s = sono_error_set(err, SONO_ERR_FORMAT, "%s: no audio data", r->path);
    if (s == SONO_OK) s = check_complete(r->path, r->sf, sfi, INT64_MAX, count, err);
    r->info.frames = count; /* so far, on failure */
    if (s != SONO_OK) {
        free(data);
        return s;
    }
    r->samples = data;
    return SONO_OK;
}

void sono_audio_reader_close(sono_audio_reader *r) {
    if (!r) return;
    if (r->sf) sf_close(r->sf);
    free(r->samples);
    free(r->path);
    free(r);
}

static void fill_info(sono_audio_info *info, const SF_INFO *sfi) {
    info->sample_rate = sfi->samplerate;
    info->channels = sfi->channels;
    format_name(sfi->format & SF_FORMAT_TYPEMASK, info->format, sizeof info->format);
    format_name(sfi->format & SF_FORMAT_SUBMASK, info->encoding, sizeof info->encoding);
}

sono_status sono_audio_reader_open_limited(const char *path, const sono_audio_limits *limits,
                                           sono_audio_reader **out, sono_error *err) {
    *out = NULL;
    if (!path) return sono_error_set(err, SONO_ERR_ARGUMENT, "sono_audio_reader_open: NULL path");
    sono_audio_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return sono_error_set(err, SONO_ERR_MEMORY, "%s: out of memory", path);
    }
    SF_INFO sfi;
    sono_status s = open_audio(path, &r->sf, &sfi, err);
    if (s == SONO_OK) {
        fill_info(&r->info, &sfi);
        s = check_header_limits(path, &sfi, limits, err);
    }
    if (s == SONO_OK) {
        if (streams(&sfi)) {
            r->info.frames = sfi.frames;
            int64_t max_frames = limit_frames(limits, sfi.samplerate);
            if (sfi.frames > max_frames) s = too_long(path, max_frames, sfi.samplerate, err);
            else if (header_claims_missing_data(r->sf, sfi.format & SF_FORMAT_TYPEMASK))
                s = sono_error_set(err, SONO_ERR_FORMAT,
                                   "%s: truncated: the header promises more audio data than the file holds", path);
        } else {
            s = read_all(r, &sfi, limits, err);
            sf_close(r->sf);
            r->sf = NULL;
        }
    }
    if (s != SONO_OK) {
        sono_audio_reader_close(r);
        return s;
    }
    r->info.seconds = (double)r->info.frames / r->info.sample_rate;
    *out = r;
    return SONO_OK;
}

sono_status sono_audio_reader_open(const char *path, sono_audio_reader **out, sono_error *err) {
    return sono_audio_reader_open_limited(path, NULL, out, err);
}

const sono_audio_info *sono_audio_reader_info(const sono_audio_reader *r) { return &r->info; }

sono_status sono_audio_reader_read(sono_audio_reader *r, int64_t start, int64_t count, float *dst, sono_error *err) {
    const int C = r->info.channels;
    if (start < 0 || count < 0 || start + count > r->info.frames)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: frames %lld..%lld are outside its %lld frames", r->path,
                              (long long)start, (long long)(start + count), (long long)r->info.frames);
    if (!r->sf) {
        memcpy(dst, r->samples + start * C, (size_t)count * C * sizeof(float));
        return SONO_OK;
    }
    if (r->position != start && sf_seek(r->sf, start, SEEK_SET) != start)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: cannot seek to frame %lld: %s", r->path, (long long)start,
                              sf_strerror(r->sf));
    r->position = start;
    sf_count_t got = sf_readf_float(r->sf, dst, count);
    if (got > 0) r->position += got;
    if (got != count)
        return sono_error_set(err, SONO_ERR_FORMAT,
                              "%s: truncated: frames from %lld on could not be read (the header promises %lld)",
                              r->path, (long long)(start + (got > 0 ? got : 0)), (long long)r->info.frames);
    return check_block(r->path, dst, count, C, start, err);
}

/* ------------------------------------------------ one pass, block by block */

sono_status sono_audio_decode_each(const char *path, const sono_audio_limits *limits, sono_audio_info *info,
                                   sono_audio_block_fn block, void *user, sono_error *err) {
    memset(info, 0, sizeof *info);
    if (!path) return sono_error_set(err, SONO_ERR_ARGUMENT, "sono_audio_decode_each: NULL path");
    SNDFILE *sf;
    SF_INFO sfi;
    sono_status s = open_audio(path, &sf, &sfi, err);
    if (s != SONO_OK) return s;
    fill_info(info, &sfi);
    s = check_header_limits(path, &sfi, limits, err);
    const int C = sfi.channels;
    const int64_t max_frames = limit_frames(limits, sfi.samplerate);
    if (s == SONO_OK && streams(&sfi) && sfi.frames > max_frames) s = too_long(path, max_frames, sfi.samplerate, err);
    float *buf = s == SONO_OK ? malloc((size_t)READ_BLOCK_FRAMES * (size_t)C * sizeof(float)) : NULL;
    if (s == SONO_OK && !buf) s = sono_error_set(err, SONO_ERR_MEMORY, "%s: out of memory", path);
    int64_t count = 0;
    while (s == SONO_OK) {
        sf_count_t got = sf_readf_float(sf, buf, READ_BLOCK_FRAMES);
        if (got <= 0) break;
        if (count + got > max_frames) {
            s = too_long(path, max_frames, sfi.samplerate, err);
            break;
        }
        s = check_block(path, buf, got, C, count, err);
        if (s == SONO_OK && block) s = block(user, buf, got, err);
        if (s == SONO_OK) count += got;
    }
    free(buf);
    if (s == SONO_OK && sf_error(sf) != SF_ERR_NO_ERROR)
        s = sono_error_set(err, SONO_ERR_FORMAT, "%s: decoding failed after %lld frames: %s", path, (long long)count,
                           sf_strerror(sf));
    if (s == SONO_OK && count == 0) s = sono_error_set(err, SONO_ERR_FORMAT, "%s: no audio data", path);
    if (s == SONO_OK) s = check_complete(path, sf, &sfi, INT64_MAX, count, err);
    sf_close(sf);
    info->frames = count;
    info->seconds = (double)count / sfi.samplerate;
    return s;
}

sono_status sono_audio_load_recording(const char *path, float **samples, int64_t *frames, int *channels, int *rate,
                                      sono_error *err) {
    *samples = NULL;
    sono_audio_reader *r;
    sono_status s = sono_audio_reader_open(path, &r, err);
    if (s != SONO_OK) return s;
    const sono_audio_info *info = sono_audio_reader_info(r);
    float *x = malloc((size_t)info->frames * info->channels * sizeof(float));
    if (!x) s = sono_error_set(err, SONO_ERR_MEMORY, "%s: out of memory", path);
    if (s == SONO_OK) s = sono_audio_reader_read(r, 0, info->frames, x, err);
    if (s == SONO_OK) {
        *samples = x, x = NULL;
        *frames = info->frames, *channels = info->channels, *rate = info->sample_rate;
    }
    free(x);
    sono_audio_reader_close(r);
    return s;
}
