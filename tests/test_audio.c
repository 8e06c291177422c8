/* Audio: decoding every encoding libsndfile writes, downmix, resampling, cropping,
 * WAV output, and refusal of damaged or wrong files with a message naming them. */
#include <dirent.h>
#include <sndfile.h>
#include <stdint.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "sonodream/audio.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

static const char *test_dir;

static const char *path_in_dir(const char *name) {
    static char paths[8][512];
    static int next = 0;
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", test_dir, name);
    return p;
}

/* Deterministic test signal in (-0.9, 0.9): a tone plus a little noise, different per channel. */
static float *make_signal(int64_t frames, int channels, int rate) {
    float *x = malloc((size_t)(frames * channels) * sizeof(float));
    uint32_t state = 12345;
    for (int64_t i = 0; i < frames; i++)
        for (int c = 0; c < channels; c++) {
            state = state * 1664525u + 1013904223u;
            double noise = ((state >> 8) / 16777216.0 - 0.5) * 0.1;
            double tone = 0.7 * sin(2 * M_PI * (440.0 * (c + 1)) * (double)i / rate);
            x[i * channels + c] = (float)(tone + noise);
        }
    return x;
}

static int format_supported(int format, int channels, int rate) {
    SF_INFO info = {.samplerate = rate, .channels = channels, .format = format};
    return sf_format_check(&info);
}

/* Write with libsndfile directly, so the decoder is tested against an independent writer. */
static int write_sndfile(const char *path, int format, int channels, int rate, const float *x,
                         int64_t frames) {
    SF_INFO info = {.samplerate = rate, .channels = channels, .format = format};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) {
        fprintf(stderr, "%s: %s\n", path, sf_strerror(NULL));
        return 0;
    }
    int ok = sf_writef_float(sf, x, frames) == frames;
    ok &= sf_close(sf) == 0;
    return ok;
}

static int64_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* A failure must name the file and say what is wrong. */
static void check_refused(sono_status s, const sono_error *err, const char *path, const char *why) {
    CHECK_MSG(s != SONO_OK, "%s was accepted", path);
    if (s == SONO_OK) return;
    CHECK_MSG(strstr(err->message, path) != NULL, "message '%s' does not name %s", err->message, path);
    CHECK_MSG(strstr(err->message, why) != NULL, "message '%s' lacks '%s'", err->message, why);
}

static sono_status load_expect_failure(const char *path, const char *why) {
    float *x = (float *)1;
    int64_t n = -1;
    sono_error err = {0};
    sono_status s = sono_audio_load(path, 0, 0, &x, &n, NULL, &err);
    check_refused(s, &err, path, why);
    if (s == SONO_OK) free(x);
    else CHECK(x == NULL);
    return s;
}

/* ------------------------------------------------------------ round trips */

typedef struct encoding_case {
    const char *file;
    int format;
    double tolerance; /* quantisation step and the 0x7F.. vs 0x80.. scale mismatch */
    const char *format_name, *encoding_name;
} encoding_case;

static void check_round_trip(const encoding_case *c) {
    const int rate = 22050;
    const int64_t frames = 5000;
    const char *path = path_in_dir(c->file);
    float *x = make_signal(frames, 1, rate);
    CHECK_MSG(write_sndfile(path, c->format, 1, rate, x, frames), "%s", c->file);

    sono_audio_info info;
    sono_error err = {0};
    CHECK_MSG(sono_audio_probe(path, &info, &err) == SONO_OK, "%s", err.message);
    CHECK(info.sample_rate == rate && info.channels == 1 && info.frames == frames);
    CHECK_NEAR(info.seconds, (double)frames / rate, 1e-9);
    CHECK_MSG(strstr(info.format, c->format_name) != NULL, "%s: format '%s'", c->file, info.format);
    CHECK_MSG(strstr(info.encoding, c->encoding_name) != NULL, "%s: encoding '%s'", c->file,
              info.encoding);

    float *y = NULL;
    int64_t n = 0;
    int rate_out = 0;
    CHECK_MSG(sono_audio_load(path, 0, 0, &y, &n, &rate_out, &err) == SONO_OK, "%s", err.message);
    CHECK(n == frames && rate_out == rate);
    double worst = 0;
    for (int64_t i = 0; y && i < n && i < frames; i++)
        if (fabs(y[i] - x[i]) > worst) worst = fabs(y[i] - x[i]);
    CHECK_MSG(y && worst <= c->tolerance, "%s: worst error %g > %g", c->file, worst, c->tolerance);
    free(x), free(y);
}

static void test_encodings(void) {
    const encoding_case cases[] = {
        {"u8.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 2.0 / 128, "WAV", "8 bit"},
        {"s16.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 2.0 / 32768, "WAV", "Signed 16 bit PCM"},
        {"s24.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 2.0 / 8388608, "WAV", "Signed 24 bit PCM"},
        {"s32.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_32, 2e-7, "WAV", "Signed 32 bit PCM"},
        {"f32.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 0, "WAV", "32 bit float"},
        {"f64.wav", SF_FORMAT_WAV | SF_FORMAT_DOUBLE, 0, "WAV", "64 bit float"},
        {"wavex16.wav", SF_FORMAT_WAVEX | SF_FORMAT_PCM_16, 2.0 / 32768, "WAVEX", "Signed 16 bit PCM"},
        {"s16.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 2.0 / 32768, "FLAC", "Signed 16 bit PCM"},
        {"s24.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_24, 2.0 / 8388608, "FLAC", "Signed 24 bit PCM"},
        {"s16.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 2.0 / 32768, "AIFF", "Signed 16 bit PCM"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_round_trip(&cases[i]);
}

static double rms(const float *x, int64_t n) {
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)x[i] * x[i];
    return sqrt(sum / (double)n);
}

/* Lossy codecs: the same length (give or take the codec's framing) and a close waveform. */
static void check_lossy_round_trip(const char *file, int format, int64_t length_slack) {
    const int rate = 16000;
    const int64_t frames = 16000;
    if (!format_supported(format, 1, rate)) {
        fprintf(stderr, "%s: this libsndfile cannot write it, skipped\n", file);
        return;
    }
    const char *path = path_in_dir(file);
    float *x = make_signal(frames, 1, rate);
    CHECK_MSG(write_sndfile(path, format, 1, rate, x, frames), "%s", file);
    float *y = NULL;
    int64_t n = 0;
    sono_error err = {0};
    CHECK_MSG(sono_audio_load(path, 0, 0, &y, &n, NULL, &err) == SONO_OK, "%s", err.message);
    CHECK_MSG(llabs(n - frames) <= length_slack, "%s: %lld frames", file, (long long)n);
    if (y) {
        double ratio_db = 20 * log10(rms(y, n) / rms(x, frames));
        CHECK_MSG(fabs(ratio_db) < 1.0, "%s: level changed by %.2f dB", file, ratio_db);
    }
    free(x), free(y);
}

static void test_lossy_encodings(void) {
    /* Vorbis keeps the exact length; the residual of a tone is small. */
    const char *path = path_in_dir("vorbis.ogg");
    check_lossy_round_trip("vorbis.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 0);
    if (file_size(path) > 0) {
        sono_audio_info info;
        sono_error err = {0};
        CHECK_OK(sono_audio_probe(path, &info, &err));
        CHECK_MSG(strstr(info.encoding, "Vorbis") != NULL, "encoding '%s'", info.encoding);
    }
#ifdef SF_FORMAT_MPEG_LAYER_III
    check_lossy_round_trip("lame.mp3", SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III, 1152);
#endif
}

/* ---------------------------------------------------------------- downmix */

static void check_downmix(int channels) {
    const int rate = 16000;
    const int64_t frames = 3000;
    char name[64];
    snprintf(name, sizeof name, "channels%d.wav", channels);
    const char *path = path_in_dir(name);
    float *x = make_signal(frames, channels, rate);
    CHECK(write_sndfile(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, channels, rate, x, frames));
    float *y = NULL;
    int64_t n = 0;
    sono_error err = {0};
    CHECK_MSG(sono_audio_load(path, 0, 0, &y, &n, NULL, &err) == SONO_OK, "%s", err.message);
    CHECK(n == frames);
    double worst = 0;
    for (int64_t i = 0; y && i < n; i++) {
        double mean = 0;
        for (int c = 0; c < channels; c++) mean += x[i * channels + c];
        mean /= channels;
        if (fabs(y[i] - mean) > worst) worst = fabs(y[i] - mean);
    }
    CHECK_MSG(worst < 1e-6, "%d channels: downmix off by %g", channels, worst);
    free(x), free(y);
}

static void test_downmix(void) {
    check_downmix(2);
    check_downmix(3);
}

/* -------------------------------------------------------------- resampling */

/* Power of x at one frequency (Goertzel). */
static double goertzel_power(const float *x, int64_t n, double freq, int rate) {
    double w = 2 * M_PI * freq / rate, coeff = 2 * cos(w), s1 = 0, s2 = 0;
    for (int64_t i = 0; i < n; i++) {
        double s = x[i] + coeff * s1 - s2;
        s2 = s1, s1 = s;
    }
    return s1 * s1 + s2 * s2 - coeff * s1 * s2;
}

static double zero_crossing_frequency(const float *x, int64_t n, int rate) {
    int64_t first = -1, last = -1, crossings = 0;
    for (int64_t i = 1; i < n; i++)
        if ((x[i - 1] < 0) != (x[i] < 0)) {
            if (first < 0) first = i;
            last = i;
            crossings++;
        }
    return crossings > 1 ? (crossings - 1) / 2.0 / ((double)(last - first) / rate) : 0;
}

static void check_resampled_tone(int in_rate) {
    const int out_rate = 16000;
    const double amplitude = 0.5, seconds = 1.0;
    int64_t frames = (int64_t)(seconds * in_rate);
    float *x = malloc((size_t)frames * sizeof(float));
    for (int64_t i = 0; i < frames; i++) x[i] = (float)(amplitude * sin(2 * M_PI * 1000.0 * i / in_rate));
    char name[64];
    snprintf(name, sizeof name, "tone%d.wav", in_rate);
    const char *path = path_in_dir(name);
    CHECK(write_sndfile(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, in_rate, x, frames));
    float *y = NULL;
    int64_t n = 0;
    int rate_out = 0;
    sono_error err = {0};
    CHECK_MSG(sono_audio_load(path, out_rate, 0, &y, &n, &rate_out, &err) == SONO_OK, "%s", err.message);
    CHECK(rate_out == out_rate);
    CHECK_MSG(n == llround((double)frames * out_rate / in_rate), "%d Hz: %lld samples", in_rate,
              (long long)n);
    if (y && n > out_rate / 2) {
        /* The middle 0.8 s: away from the filter's edge transients. */
        const float *mid = y + out_rate / 10;
        int64_t len = n - 2 * (out_rate / 10);
        const double candidates[] = {500, 900, 950, 1000, 1050, 1100, 2000};
        int best = 0;
        for (int k = 1; k < 7; k++)
            if (goertzel_power(mid, len, candidates[k], out_rate) >
                goertzel_power(mid, len, candidates[best], out_rate))
                best = k;
        CHECK_MSG(candidates[best] == 1000, "%d Hz: peak at %g Hz", in_rate, candidates[best]);
        CHECK_NEAR(zero_crossing_frequency(mid, len, out_rate), 1000.0, 2.0);
        double level_db = 20 * log10(rms(mid, len) / (amplitude / sqrt(2.0)));
        CHECK_MSG(fabs(level_db) < 0.1, "%d Hz: level changed by %.3f dB", in_rate, level_db);
    }
    free(x), free(y);
}

static void test_resample_tones(void) {
    check_resampled_tone(44100);
    check_resampled_tone(8000);
    check_resampled_tone(48000);
}

/* A tone above the new Nyquist frequency must be filtered out, not folded back. */
static void test_resample_removes_aliases(void) {
    const int in_rate = 48000, out_rate = 16000;
    const int64_t frames = in_rate;
    float *x = malloc((size_t)frames * sizeof(float));
    for (int64_t i = 0; i < frames; i++) x[i] = (float)(0.5 * sin(2 * M_PI * 12000.0 * i / in_rate));
    float *y = NULL;
    int64_t n = 0;
    sono_error err = {0};
    CHECK_OK(sono_audio_resample(x, frames, in_rate, out_rate, &y, &n, &err));
    if (y) {
        const float *mid = y + out_rate / 10;
        double residual_db = 20 * log10(rms(mid, n - out_rate / 5) / rms(x, frames) + 1e-12);
        CHECK_MSG(residual_db < -80, "12 kHz tone leaks through at %.1f dB", residual_db);
    }
    free(x), free(y);
}

static void test_resample_lengths_and_arguments(void) {
    float x[1001] = {0};
    float *y = NULL;
    int64_t n = 0;
    sono_error err = {0};
    CHECK_OK(sono_audio_resample(x, 1001, 44100, 16000, &y, &n, &err));
    CHECK(n == 363); /* 1001 * 16000 / 44100 = 363.17 */
    free(y);
    CHECK_OK(sono_audio_resample(x, 1001, 22050, 44100, &y, &n, &err));
    CHECK(n == 2002);
    free(y);
    x[5] = 0.25f;
    CHECK_OK(sono_audio_resample(x, 1001, 16000, 16000, &y, &n, &err));
    CHECK(n == 1001 && y && y != x && y[5] == 0.25f);
    free(y);
    CHECK(sono_audio_resample(x, 0, 16000, 8000, &y, &n, &err) == SONO_ERR_ARGUMENT);
    CHECK(sono_audio_resample(x, 10, 0, 8000, &y, &n, &err) == SONO_ERR_ARGUMENT);
    CHECK(sono_audio_resample(x, 10, 16000, -1, &y, &n, &err) == SONO_ERR_ARGUMENT);
}

/* ------------------------------------------------------------------ cropping */

static void test_max_seconds(void) {
    const int rate = 8000;
    const int64_t frames = 3 * rate;
    const char *path = path_in_dir("three_seconds.wav");
    float *x = make_signal(frames, 1, rate);
    CHECK(write_sndfile(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, rate, x, frames));
    float *y = NULL;
    int64_t n = 0;
    sono_error err = {0};
    CHECK_OK(sono_audio_load(path, 0, 1.0, &y, &n, NULL, &err));
    CHECK(n == rate && y && memcmp(x, y, (size_t)n * sizeof(float)) == 0);
    free(y);
    CHECK_OK(sono_audio_load(path, 0, 0.5001, &y, &n, NULL, &err));
    CHECK(n == 4001); /* ceil: never less than asked for */
    free(y);
    CHECK_OK(sono_audio_load(path, 16000, 1.0, &y, &n, NULL, &err));
    CHECK(n == 16000);
    free(y);
    CHECK_OK(sono_audio_load(path, 0, 10.0, &y, &n, NULL, &err));
    CHECK(n == frames);
    free(y);
    CHECK(sono_audio_load(path, 0, -1.0, &y, &n, NULL, &err) == SONO_ERR_ARGUMENT);
    CHECK(sono_audio_load(path, 0, NAN, &y, &n, NULL, &err) == SONO_ERR_ARGUMENT);
    CHECK(sono_audio_load(path, -5, 0, &y, &n, NULL, &err) == SONO_ERR_ARGUMENT);
    free(x);
}

/* --------------------------------------------------------------- WAV output */

static int leftover_temporaries(void) {
    DIR *d = opendir(test_dir);
    int found = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strstr(e->d_name, ".tmp-")) found++;
    if (d) closedir(d);
    return found;
}

static void check_written(sono_wav_encoding encoding, const char *name, double tolerance) {
    const int rate = 24000;
    const int64_t frames = 10000;
    float *x = make_signal(frames, 1, rate);
    x[0] = 1.5f, x[1] = -2.0f, x[2] = 1.0f, x[3] = -1.0f; /* beyond full scale */
    const char *path = path_in_dir(name);
    sono_error err = {0};
    CHECK_MSG(sono_audio_write_wav(path, x, frames, rate, encoding, &err) == SONO_OK, "%s", err.message);
    sono_audio_info info;
    CHECK_OK(sono_audio_probe(path, &info, &err));
    CHECK(info.sample_rate == rate && info.channels == 1 && info.frames == frames);
    CHECK(strstr(info.encoding, encoding == SONO_WAV_PCM16 ? "16 bit" : "32 bit float") != NULL);
    float *y = NULL;
    int64_t n = 0;
    CHECK_OK(sono_audio_load(path, 0, 0, &y, &n, NULL, &err));
    CHECK(n == frames);
    double worst = 0;
    for (int64_t i = 0; y && i < n; i++) {
        double expect = encoding == SONO_WAV_PCM16 ? fmax(-1.0, fmin(1.0, x[i])) : x[i];
        if (fabs(y[i] - expect) > worst) worst = fabs(y[i] - expect);
    }
    CHECK_MSG(worst <= tolerance, "%s: worst error %g", name, worst);
    free(x), free(y);
}

static void test_write_wav(void) {
    check_written(SONO_WAV_PCM16, "out16.wav", 2.0 / 32768);
    check_written(SONO_WAV_FLOAT32, "outf.wav", 0);
    /* Overwriting replaces the old file whole. */
    float one[3] = {0.5f, -0.5f, 0.25f};
    const char *path = path_in_dir("out16.wav");
    sono_error err = {0};
    CHECK_OK(sono_audio_write_wav(path, one, 3, 8000, SONO_WAV_PCM16, &err));
    sono_audio_info info;
    CHECK_OK(sono_audio_probe(path, &info, &err));
    CHECK(info.frames == 3 && info.sample_rate == 8000);
    CHECK(leftover_temporaries() == 0);
}

static void test_write_wav_refusals(void) {
    float x[4] = {0, 0.1f, 0.2f, 0.3f};
    const char *path = path_in_dir("refused.wav");
    sono_error err = {0};
    check_refused(sono_audio_write_wav(path, x, 0, 8000, SONO_WAV_PCM16, &err), &err, path, "nothing");
    check_refused(sono_audio_write_wav(path, x, 4, 0, SONO_WAV_PCM16, &err), &err, path, "rate");
    x[2] = NAN;
    check_refused(sono_audio_write_wav(path, x, 4, 8000, SONO_WAV_FLOAT32, &err), &err, path, "NaN");
    x[2] = INFINITY;
    check_refused(sono_audio_write_wav(path, x, 4, 8000, SONO_WAV_PCM16, &err), &err, path, "infinite");
    CHECK(file_size(path) < 0);
    x[2] = 0;
    const char *nowhere = path_in_dir("no/such/folder/out.wav");
    check_refused(sono_audio_write_wav(nowhere, x, 4, 8000, SONO_WAV_PCM16, &err), &err, nowhere,
                  "cannot create");
    CHECK(leftover_temporaries() == 0);
}

/* ----------------------------------------------------------- damaged files */

static void write_text(const char *path, const char *text) {
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0) {
        perror(path);
        exit(2);
    }
    fclose(f);
}

static void test_missing_empty_and_wrong_files(void) {
    load_expect_failure(path_in_dir("missing.wav"), "No such file");
    const char *empty = path_in_dir("empty.wav");
    write_text(empty, "");
    load_expect_failure(empty, "cannot open");
    const char *text = path_in_dir("notes.wav");
    write_text(text, "These are my notes, not a recording.\n");
    CHECK(load_expect_failure(text, "cannot open") == SONO_ERR_FORMAT);
    const char *folder = path_in_dir("x.wav");
    CHECK(mkdir(folder, 0700) == 0);
    load_expect_failure(folder, "directory");
    sono_audio_info info;
    sono_error err = {0};
    check_refused(sono_audio_probe(folder, &info, &err), &err, folder, "directory");
}

static void test_header_only(void) {
    const char *path = path_in_dir("header_only.wav");
    CHECK(write_sndfile(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 16000, NULL, 0));
    CHECK(file_size(path) == 44);
    sono_audio_info info;
    sono_error err = {0};
    CHECK_OK(sono_audio_probe(path, &info, &err)); /* the header itself is fine */
    CHECK(info.frames == 0);
    load_expect_failure(path, "no audio data");
}

/* libsndfile quietly shortens a WAV to the data present; the loader must notice. */
static void test_truncated_wav(void) {
    const int rate = 8000;
    const int64_t frames = 8000;
    const char *path = path_in_dir("truncated.wav");
    float *x = make_signal(frames, 1, rate);
    CHECK(write_sndfile(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, rate, x, frames));
    CHECK(file_size(path) == 44 + 2 * frames);
    CHECK(truncate(path, 44 + frames) == 0); /* half the samples */
    sono_audio_info info;
    sono_error err = {0};
    CHECK_OK(sono_audio_probe(path, &info, &err));
    CHECK(info.frames == frames / 2); /* what libsndfile reports: the frames present */
    load_expect_failure(path, "truncated");
    /* Asking only for audio that is there is not an error. */
    float *y = NULL;
    int64_t n = 0;
    CHECK_MSG(sono_audio_load(path, 0, 0.25, &y, &n, NULL, &err) == SONO_OK, "%s", err.message);
    CHECK(n == rate / 4);
    free(y);
    /* Cut mid-sample: still truncated. */
    CHECK(truncate(path, 44 + 1001) == 0);
    load_expect_failure(path, "truncated");
    free(x);
}

static void test_truncated_flac(void) {
    const int rate = 8000;
    const int64_t frames = 20000;
    const char *path = path_in_dir("truncated.flac");
    float *x = make_signal(frames, 1, rate);
    CHECK(write_sndfile(path, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 1, rate, x, frames));
    CHECK(truncate(path, file_size(path) / 2) == 0);
    load_expect_failure(path, "truncated");
    free(x);
}

/* Every container libsndfile quietly shortens: cut to 60 %, each is refused,
 * and asking for only the audio present still works. */
static void test_truncated_containers(void) {
    static const struct { const char *name; int format; } containers[] = {
        {"cut.aiff", SF_FORMAT_AIFF}, {"cut.au", SF_FORMAT_AU}, {"cut.w64", SF_FORMAT_W64},
        {"cut.rf64", SF_FORMAT_RF64}, {"cut.wavex", SF_FORMAT_WAVEX}};
    const int rate = 8000;
    const int64_t frames = 8000;
    float *x = make_signal(frames, 1, rate);
    for (size_t i = 0; i < sizeof containers / sizeof containers[0]; i++) {
        const char *path = path_in_dir(containers[i].name);
        CHECK(write_sndfile(path, containers[i].format | SF_FORMAT_PCM_16, 1, rate, x, frames));
        CHECK(truncate(path, file_size(path) * 6 / 10) == 0);
        load_expect_failure(path, "truncated");
        float *y = NULL;
        int64_t n = 0;
        sono_error err = {0};
        CHECK_MSG(sono_audio_load(path, 0, 0.1, &y, &n, NULL, &err) == SONO_OK, "%s", err.message);
        free(y);
    }
    free(x);
}

static void check_bad_sample(const char *name, float bad, const char *why) {
    const char *path = path_in_dir(name);
    float x[100] = {0};
    x[37] = bad;
    CHECK(write_sndfile(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, 8000, x, 100));
    load_expect_failure(path, why);
}

static void test_non_finite_samples(void) {
    check_bad_sample("nan.wav", NAN, "contains NaN or infinite samples (first at frame 37)");
    check_bad_sample("inf.wav", INFINITY, "contains NaN or infinite samples");
    check_bad_sample("minus_inf.wav", -INFINITY, "contains NaN or infinite samples");
    /* Finite but absurd: resampling it would overflow to Inf (found by fuzzing). */
    check_bad_sample("huge.wav", -8.4e37f, "frame 37 is beyond");
    check_bad_sample("large.wav", 2.0f * SONO_AUDIO_MAX_MAGNITUDE, "not audio");
    /* Loud float audio beyond full scale is still audio, read as stored. */
    const char *path = path_in_dir("loud.wav");
    float x[100] = {0}, *y = NULL;
    x[10] = 1000.0f;
    x[11] = -SONO_AUDIO_MAX_MAGNITUDE;
    CHECK(write_sndfile(path, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, 8000, x, 100));
    int64_t n = 0;
    sono_error err = {0};
    CHECK_MSG(sono_audio_load(path, 0, 0, &y, &n, NULL, &err) == SONO_OK, "%s", err.message);
    CHECK(n == 100 && y && y[10] == 1000.0f && y[11] == -SONO_AUDIO_MAX_MAGNITUDE);
    free(y);
}

/* A canonical PCM WAV with its sample-rate field (bytes 24..27) zeroed. */
static void test_zero_rate_header(void) {
    const char *path = path_in_dir("rate0.wav");
    float x[100] = {0};
    CHECK(write_sndfile(path, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 8000, x, 100));
    FILE *f = fopen(path, "r+b");
    const unsigned char zero[4] = {0};
    CHECK(f && fseek(f, 24, SEEK_SET) == 0 && fwrite(zero, 1, 4, f) == 4);
    if (f) fclose(f);
    sono_audio_info info;
    sono_error err = {0};
    /* libsndfile refuses it already ("SF_INFO struct incomplete"); either way it must not pass. */
    check_refused(sono_audio_probe(path, &info, &err), &err, path, "");
    load_expect_failure(path, "");
}

/* ------------------------------------------------------------------ limits */

static sono_status count_block(void *user, const float *x, int64_t frames, sono_error *err) {
    (void)x, (void)err;
    *(int64_t *)user += frames;
    return SONO_OK;
}

/* Open with the reader and decode with decode_each within limits; both must
 * refuse, naming the file and the reason. */
static void check_limited(const char *path, const sono_audio_limits *limits, const char *why) {
    sono_audio_reader *r = NULL;
    sono_error err = {0};
    check_refused(sono_audio_reader_open_limited(path, limits, &r, &err), &err, path, why);
    CHECK(r == NULL);
    sono_audio_reader_close(r);
    sono_audio_info info;
    int64_t seen = 0;
    memset(&err, 0, sizeof err);
    check_refused(sono_audio_decode_each(path, limits, &info, count_block, &seen, &err), &err, path, why);
    CHECK_MSG(seen <= 4096 + (limits->max_frames > 0 ? limits->max_frames : 0) +
                           (limits->max_seconds > 0 ? (int64_t)(limits->max_seconds * info.sample_rate) : 0),
              "%s: %lld frames handed out past the limit", path, (long long)seen);
}

/* Every cap a caller gives stops the decode with a message, for files that
 * stream (WAV) and for those decoded whole (Ogg Vorbis, whose length is not
 * trusted): a bomb of silence never decodes beyond the caller's cap. */
static void test_limits(void) {
    const int rate = 8000;
    float *x = make_signal(3 * rate, 3, rate);
    const char *wav = path_in_dir("three.wav");
    CHECK(write_sndfile(wav, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 3, rate, x, 3 * rate));
    sono_audio_limits lim = {0};
    lim.max_channels = 2;
    check_limited(wav, &lim, "3 channels");
    lim = (sono_audio_limits){0};
    lim.max_rate = 4000;
    check_limited(wav, &lim, "8000 Hz");
    lim = (sono_audio_limits){0};
    lim.max_seconds = 2.5;
    check_limited(wav, &lim, "longer than 2.5 s");
    lim = (sono_audio_limits){0};
    lim.max_frames = 1000;
    check_limited(wav, &lim, "longer than");
    /* At the limit: accepted, every frame once. */
    lim = (sono_audio_limits){.max_channels = 3, .max_rate = rate, .max_seconds = 3.0};
    sono_audio_info info;
    int64_t seen = 0;
    sono_error err = {0};
    CHECK_MSG(sono_audio_decode_each(wav, &lim, &info, count_block, &seen, &err) == SONO_OK, "%s", err.message);
    CHECK(seen == 3 * rate && info.frames == 3 * rate && info.channels == 3 && info.sample_rate == rate);
    sono_audio_reader *r = NULL;
    CHECK_MSG(sono_audio_reader_open_limited(wav, &lim, &r, &err) == SONO_OK, "%s", err.message);
    sono_audio_reader_close(r);

    int vorbis = SF_FORMAT_OGG | SF_FORMAT_VORBIS;
    if (format_supported(vorbis, 2, rate)) {
        /* 20 s of stereo silence: a few kB that decode to 1.28 MB. */
        int64_t frames = 20 * rate;
        float *silence = calloc((size_t)frames * 2, sizeof(float));
        const char *ogg = path_in_dir("silence.ogg");
        CHECK(write_sndfile(ogg, vorbis, 2, rate, silence, frames));
        free(silence);
        CHECK_MSG(file_size(ogg) < 64 * 1024, "%lld bytes", (long long)file_size(ogg));
        lim = (sono_audio_limits){0};
        lim.max_seconds = 5;
        check_limited(ogg, &lim, "longer than 5 s");
        lim = (sono_audio_limits){0};
        lim.max_bytes = 256 * 1024;
        memset(&err, 0, sizeof err);
        r = NULL;
        check_refused(sono_audio_reader_open_limited(ogg, &lim, &r, &err), &err, ogg, "more than 262144 bytes");
        CHECK(r == NULL);
        /* decode_each holds one block whatever the length: the memory cap does not apply. */
        seen = 0;
        CHECK_MSG(sono_audio_decode_each(ogg, &lim, &info, count_block, &seen, &err) == SONO_OK, "%s", err.message);
        CHECK_MSG(seen == frames && info.frames == frames, "%lld of %lld frames", (long long)seen, (long long)frames);
        lim.max_bytes = frames * 2 * 4;
        CHECK_MSG(sono_audio_reader_open_limited(ogg, &lim, &r, &err) == SONO_OK, "%s", err.message);
        sono_audio_reader_close(r);
    }
    free(x);
}

int main(void) {
    test_dir = test_make_dir();
    test_encodings();
    test_lossy_encodings();
    test_downmix();
    test_resample_tones();
    test_resample_removes_aliases();
    test_resample_lengths_and_arguments();
    test_max_seconds();
    test_write_wav();
    test_write_wav_refusals();
    test_missing_empty_and_wrong_files();
    test_header_only();
    test_truncated_wav();
    test_truncated_flac();
    test_truncated_containers();
    test_non_finite_samples();
    test_zero_rate_header();
    test_limits();
    test_cleanup_dir(test_dir);
    return test_result("test_audio");
}
