/* dsp: STFT round trips, mel scale and filterbank, golden log-mel values from
 * tools/golden_logmel.py, the feature config and concurrent use. */
#include <omp.h>
#include <stdint.h>

#include "check.h"
#include "sonodream/dsp.h"

#define SR 16000

/* ---- signals ---- */

/* Uniform in [-1, 1) from a 64-bit LCG. */
static void fill_random(float *x, int64_t n, uint64_t seed, float amplitude) {
    uint64_t state = seed;
    for (int64_t i = 0; i < n; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        x[i] = amplitude * (float)((double)(state >> 40) / (double)(1 << 24) * 2.0 - 1.0);
    }
}

/* Linear chirp from f0 to f1 Hz over n samples, amplitude 0.5. */
static void fill_chirp(float *x, int64_t n, double f0, double f1) {
    const double duration = (double)n / SR;
    for (int64_t i = 0; i < n; i++) {
        double t = (double)i / SR;
        x[i] = (float)(0.5 * sin(2 * M_PI * (f0 * t + 0.5 * (f1 - f0) / duration * t * t)));
    }
}

static void fill_tone(float *x, int64_t n, double hz) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)(0.5 * sin(2 * M_PI * hz * (double)i / SR));
}

static double snr_db(const float *ref, const float *y, int64_t n) {
    double signal = 0, noise = 0;
    for (int64_t i = 0; i < n; i++) {
        signal += (double)ref[i] * ref[i];
        noise += ((double)ref[i] - y[i]) * ((double)ref[i] - y[i]);
    }
    return noise > 0 ? 10 * log10(signal / noise) : INFINITY;
}

/* ---- frames ---- */

static void test_frame_counts(void) {
    sono_feature_config cfg;
    sono_feature_config_default(&cfg);
    CHECK(sono_feature_clip_samples(&cfg) == 64000);
    CHECK(sono_feature_frames(&cfg, 64000) == 126);
    CHECK(sono_feature_frames(&cfg, 1) == 1);
    cfg.center = 0;
    CHECK(sono_feature_frames(&cfg, 64000) == 124);
    CHECK(sono_feature_frames(&cfg, 1023) == 0);
    sono_error err = {0};
    sono_stft *s;
    sono_stft_new(1024, 512, 1, SONO_PAD_CONSTANT, &s, &err);
    CHECK(s && sono_stft_frames(s, 64000) == 126 && sono_stft_bins(s) == 513);
    sono_stft_free(s);
    sono_stft_new(1024, 512, 0, SONO_PAD_CONSTANT, &s, &err);
    CHECK(s && sono_stft_frames(s, 64000) == 124 && sono_stft_frames(s, 1000) == 0);
    sono_stft_free(s);
}

/* ---- STFT round trip ---- */

static double round_trip_snr(int n_fft, int hop, sono_pad_mode pad, const float *x, int64_t n) {
    sono_error err = {0};
    sono_stft *s;
    sono_stft_new(n_fft, hop, 1, pad, &s, &err);
    CHECK_MSG(s != NULL, "%s", err.message);
    if (!s) return 0;
    int frames = sono_stft_frames(s, n);
    float *spec = malloc((size_t)frames * (size_t)sono_stft_bins(s) * 2 * sizeof(float));
    float *y = malloc((size_t)n * sizeof(float));
    CHECK_OK(sono_stft_forward(s, x, n, spec, &err));
    CHECK_OK(sono_stft_inverse(s, spec, frames, y, n, &err));
    double snr = snr_db(x, y, n);
    free(spec), free(y);
    sono_stft_free(s);
    return snr;
}

static void test_round_trip(void) {
    const int64_t n = 64000, n_odd = 16001; /* the second one is not a multiple of any hop */
    float *noise = malloc((size_t)n * sizeof(float)), *chirp = malloc((size_t)n * sizeof(float));
    fill_random(noise, n, 12345, 0.5f);
    fill_chirp(chirp, n, 100, 7000);
    const int sizes[2][2] = {{1024, 512}, {512, 128}};
    const sono_pad_mode pads[2] = {SONO_PAD_CONSTANT, SONO_PAD_REFLECT};
    double worst = INFINITY;
    for (int p = 0; p < 2; p++)
        for (int z = 0; z < 2; z++) {
            double snr[3] = {round_trip_snr(sizes[z][0], sizes[z][1], pads[p], noise, n),
                             round_trip_snr(sizes[z][0], sizes[z][1], pads[p], chirp, n),
                             round_trip_snr(sizes[z][0], sizes[z][1], pads[p], chirp, n_odd)};
            fprintf(stderr, "round trip n_fft %4d hop %3d %-8s: SNR noise %.1f dB, chirp %.1f dB, %lld-sample chirp %.1f dB\n",
                    sizes[z][0], sizes[z][1], pads[p] == SONO_PAD_REFLECT ? "reflect" : "constant", snr[0],
                    snr[1], (long long)n_odd, snr[2]);
            for (int i = 0; i < 3; i++) {
                CHECK_MSG(snr[i] > 100, "SNR %.1f dB", snr[i]);
                if (snr[i] < worst) worst = snr[i];
            }
        }
    fprintf(stderr, "round trip: worst SNR %.1f dB\n", worst);
    free(noise), free(chirp);
}

/* ---- one frame against a direct DFT ---- */

/* Sample i of x padded with numpy's reflect mode (i counted from x[0]). */
static double reflect_sample(const float *x, int64_t n, int64_t i) {
    while (i < 0 || i >= n) i = i < 0 ? -i : 2 * (n - 1) - i;
    return x[i];
}

static void check_frame_against_dft(const sono_stft *s, int n_fft, int hop, const float *x, int64_t n,
                                    const float *spec, int t) {
    const int bins = n_fft / 2 + 1;
    const float *frame = spec + (size_t)t * bins * 2;
    double windowed[4096], energy = 0;
    for (int j = 0; j < n_fft; j++) {
        double w = 0.5 - 0.5 * cos(2 * M_PI * j / n_fft);
        windowed[j] = w * reflect_sample(x, n, (int64_t)t * hop - n_fft / 2 + j);
        energy += windowed[j] * windowed[j];
    }
    const int some_bins[] = {0, 1, 17, bins / 3, bins - 2, bins - 1};
    for (size_t b = 0; b < sizeof some_bins / sizeof some_bins[0]; b++) {
        const int k = some_bins[b];
        double re = 0, im = 0;
        for (int j = 0; j < n_fft; j++) {
            re += windowed[j] * cos(2 * M_PI * (double)k * j / n_fft);
            im -= windowed[j] * sin(2 * M_PI * (double)k * j / n_fft);
        }
        /* float FFT error scales with the frame's norm, not the bin's value */
        const double tol = 1e-5 * sqrt(energy * n_fft);
        CHECK_NEAR(frame[2 * k], re, tol);
        CHECK_NEAR(frame[2 * k + 1], im, tol);
    }
    /* Parseval: sum |X_k|^2 over all n_fft bins = n_fft * sum x^2; bins 1..n/2-1 stand for two. */
    double spectral = 0;
    for (int k = 0; k < bins; k++) {
        double p = (double)frame[2 * k] * frame[2 * k] + (double)frame[2 * k + 1] * frame[2 * k + 1];
        spectral += (k == 0 || k == bins - 1) ? p : 2 * p;
    }
    CHECK_MSG(fabs(spectral / n_fft - energy) <= 1e-5 * energy, "Parseval: %.9g vs %.9g", spectral / n_fft,
              energy);
    (void)s;
}

static void test_frame_dft(void) {
    const int n_fft = 512, hop = 128;
    const int64_t n = 4000;
    float *x = malloc((size_t)n * sizeof(float));
    fill_random(x, n, 99, 1.0f);
    sono_error err = {0};
    sono_stft *s;
    sono_stft_new(n_fft, hop, 1, SONO_PAD_REFLECT, &s, &err);
    int frames = sono_stft_frames(s, n);
    float *spec = malloc((size_t)frames * (n_fft / 2 + 1) * 2 * sizeof(float));
    CHECK_OK(sono_stft_forward(s, x, n, spec, &err));
    check_frame_against_dft(s, n_fft, hop, x, n, spec, 0);          /* reflected start */
    check_frame_against_dft(s, n_fft, hop, x, n, spec, 10);         /* inside */
    check_frame_against_dft(s, n_fft, hop, x, n, spec, frames - 1); /* reflected end */
    free(spec), free(x);
    sono_stft_free(s);
}

/* A signal shorter than the padding, down to one sample (numpy repeats it). */
static void test_reflect_short(void) {
    sono_error err = {0};
    sono_stft *s;
    sono_stft_new(64, 16, 1, SONO_PAD_REFLECT, &s, &err);
    float one = 0.25f, spec[2 * 33];
    CHECK(sono_stft_frames(s, 1) == 1);
    CHECK_OK(sono_stft_forward(s, &one, 1, spec, &err));
    CHECK_NEAR(spec[0], 0.25 * 32, 1e-5); /* constant frame: DC = x * sum(window) = x * n_fft / 2 */
    CHECK_NEAR(spec[2], -0.25 * 16, 1e-5); /* bin 1 of a Hann window: -n_fft / 4 */
    CHECK_NEAR(spec[6], 0, 1e-5);
    float x[5] = {1, 2, 3, 4, 5}, spec5[2 * 33 * 2];
    CHECK_OK(sono_stft_forward(s, x, 5, spec5, &err));
    double dc = 0;
    for (int j = 0; j < 64; j++) dc += (0.5 - 0.5 * cos(2 * M_PI * j / 64)) * reflect_sample(x, 5, j - 32);
    CHECK_NEAR(spec5[0], dc, 1e-4);
    sono_stft_free(s);
}

/* ---- mel ---- */

static void test_mel_scale(void) {
    CHECK_NEAR(sono_hz_to_mel(0), 0, 1e-12);
    CHECK_NEAR(sono_hz_to_mel(200), 3, 1e-12);
    CHECK_NEAR(sono_hz_to_mel(1000), 15, 1e-12);
    CHECK_NEAR(sono_hz_to_mel(6400), 42, 1e-12);
    CHECK_NEAR(sono_mel_to_hz(15), 1000, 1e-9);
    CHECK_NEAR(sono_mel_to_hz(42), 6400, 1e-9);
    double worst = 0;
    for (double hz = 0; hz <= 24000; hz += 37.3) {
        double back = sono_mel_to_hz(sono_hz_to_mel(hz));
        if (fabs(back - hz) > worst) worst = fabs(back - hz);
    }
    CHECK_MSG(worst < 1e-9, "hz -> mel -> hz off by %g Hz", worst);
    double hz[5];
    sono_mel_frequencies(5, 0, 8000, hz);
    CHECK_NEAR(hz[0], 0, 1e-12);
    CHECK_NEAR(hz[4], 8000, 1e-9);
    CHECK_NEAR(sono_hz_to_mel(hz[2]), sono_hz_to_mel(8000) / 2, 1e-12);
}

static void check_filterbank_rows(const float *fb, int n_fft, int n_mels, double fmin, double fmax) {
    const int bins = n_fft / 2 + 1;
    const double bin_hz = (double)SR / n_fft;
    double *edge = malloc((size_t)(n_mels + 2) * sizeof(double));
    sono_mel_frequencies(n_mels + 2, fmin, fmax, edge);
    int negatives = 0, misplaced = 0;
    for (int m = 0; m < n_mels; m++) {
        const float *row = fb + (size_t)m * bins;
        int peak = 0;
        for (int k = 0; k < bins; k++) {
            if (row[k] < 0) negatives++;
            if (row[k] > row[peak]) peak = k;
            /* nothing outside the triangle's feet */
            if (row[k] != 0 && (k * bin_hz <= edge[m] || k * bin_hz >= edge[m + 2])) negatives++;
        }
        /* the peak is one of the two bins around the centre frequency */
        const double centre_bin = edge[m + 1] / bin_hz;
        if (peak != (int)floor(centre_bin) && peak != (int)ceil(centre_bin)) misplaced++;
        /* Slaney norm: height 2 / (f[m+2] - f[m]) at the centre */
        const double height = 2.0 / (edge[m + 2] - edge[m]);
        if (!(row[peak] <= height * (1 + 1e-6))) misplaced++;
    }
    CHECK_MSG(negatives == 0, "%d weights below zero or outside their triangle", negatives);
    CHECK_MSG(misplaced == 0, "%d filters peak away from their centre", misplaced);
    free(edge);
}

static void test_filterbank(void) {
    sono_error err = {0};
    float *fb;
    sono_mel_filterbank(SR, 1024, 128, 0, 0, &fb, &err);
    CHECK_MSG(fb != NULL, "%s", err.message);
    if (fb) check_filterbank_rows(fb, 1024, 128, 0, 8000);
    free(fb);
    sono_mel_filterbank(SR, 512, 40, 50, 6000, &fb, &err);
    CHECK_MSG(fb != NULL, "%s", err.message);
    if (fb) check_filterbank_rows(fb, 512, 40, 50, 6000);
    free(fb);
    CHECK(sono_mel_filterbank(SR, 1024, 128, 0, 9000, &fb, &err) != SONO_OK && fb == NULL);
    CHECK(strstr(err.message, "fmax") != NULL);
    CHECK(sono_mel_filterbank(SR, 1024, 600, 0, 8000, &fb, &err) != SONO_OK && fb == NULL);
    CHECK(strstr(err.message, "n_mels") != NULL);
}

/* The band whose centre is nearest a pure tone has the most energy. */
static void test_tone_band(void) {
    sono_feature_config cfg;
    sono_feature_config_default(&cfg);
    sono_error err = {0};
    sono_logmel *lm;
    sono_logmel_new(&cfg, &lm, &err);
    CHECK_MSG(lm != NULL, "%s", err.message);
    if (!lm) return;
    const int64_t n = 16000;
    const int frames = sono_feature_frames(&cfg, n), mid = frames / 2;
    double centre[130];
    sono_mel_frequencies(cfg.n_mels + 2, 0, 8000, centre); /* centre of band m: centre[m + 1] */
    float *x = malloc((size_t)n * sizeof(float)), *out = malloc((size_t)cfg.n_mels * frames * sizeof(float));
    const double tones[] = {150, 440, 1000, 1234.5, 3000, 5500, 7500};
    for (size_t i = 0; i < sizeof tones / sizeof tones[0]; i++) {
        fill_tone(x, n, tones[i]);
        CHECK_OK(sono_logmel_compute(lm, x, n, out, &err));
        int loudest = 0, nearest = 0;
        for (int m = 0; m < cfg.n_mels; m++) {
            if (out[(size_t)m * frames + mid] > out[(size_t)loudest * frames + mid]) loudest = m;
            if (fabs(centre[m + 1] - tones[i]) < fabs(centre[nearest + 1] - tones[i])) nearest = m;
        }
        CHECK_MSG(loudest == nearest, "%g Hz: loudest band %d (centre %.1f Hz), nearest band %d (%.1f Hz)",
                  tones[i], loudest, centre[loudest + 1], nearest, centre[nearest + 1]);
    }
    free(x), free(out);
    sono_logmel_free(lm);
}

/* ---- golden values ---- */

typedef struct golden_reader {
    const unsigned char *p, *end;
    int ok;
} golden_reader;

static const unsigned char *take(golden_reader *r, size_t bytes) {
    if (!r->ok || (size_t)(r->end - r->p) < bytes) {
        r->ok = 0;
        return NULL;
    }
    const unsigned char *at = r->p;
    r->p += bytes;
    return at;
}

/* Little-endian fields, whatever the host order. */
static uint64_t take_le(golden_reader *r, int bytes) {
    const unsigned char *b = take(r, (size_t)bytes);
    uint64_t v = 0;
    for (int i = bytes - 1; b && i >= 0; i--) v = (v << 8) | b[i];
    return v;
}

static int32_t take_i32(golden_reader *r) { return (int32_t)(uint32_t)take_le(r, 4); }

static double take_f64(golden_reader *r) {
    uint64_t bits = take_le(r, 8);
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static void take_f32s(golden_reader *r, float *out, size_t count) {
    for (size_t i = 0; i < count && r->ok; i++) {
        uint32_t bits = (uint32_t)take_le(r, 4);
        memcpy(&out[i], &bits, sizeof bits);
    }
}

static unsigned char *read_whole_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *data = len > 0 ? malloc((size_t)len) : NULL;
    if (data && fread(data, 1, (size_t)len, f) != (size_t)len) {
        free(data);
        data = NULL;
    }
    fclose(f);
    *size = data ? (size_t)len : 0;
    return data;
}

/* One case: compute its features and return the largest difference in dB. */
static double check_golden_case(golden_reader *r) {
    char name[33] = {0};
    const unsigned char *raw = take(r, 32);
    if (raw) memcpy(name, raw, 32);
    sono_feature_config cfg;
    sono_feature_config_default(&cfg);
    cfg.sample_rate = take_i32(r);
    cfg.n_fft = take_i32(r);
    cfg.hop = take_i32(r);
    cfg.n_mels = take_i32(r);
    cfg.center = take_i32(r);
    cfg.pad_mode = take_i32(r) ? SONO_PAD_REFLECT : SONO_PAD_CONSTANT;
    cfg.fmin = take_f64(r);
    cfg.fmax = take_f64(r);
    cfg.power = take_f64(r);
    cfg.log_floor = take_f64(r);
    const int32_t n = take_i32(r), frames = take_i32(r);
    if (!r->ok || n < 1 || frames < 1) return INFINITY;
    cfg.seconds = (double)n / cfg.sample_rate;
    const size_t cells = (size_t)cfg.n_mels * (size_t)frames;
    float *x = malloc((size_t)n * sizeof(float)), *want = malloc(cells * sizeof(float)),
          *got = malloc(cells * sizeof(float));
    take_f32s(r, x, (size_t)n);
    take_f32s(r, want, cells);
    double worst = INFINITY;
    sono_error err = {0};
    sono_logmel *lm = NULL;
    if (r->ok) sono_logmel_new(&cfg, &lm, &err);
    CHECK_MSG(lm != NULL, "golden case %s: %s", name, err.message);
    if (lm && sono_feature_frames(&cfg, n) == frames && sono_logmel_compute(lm, x, n, got, &err) == SONO_OK) {
        worst = 0;
        for (size_t i = 0; i < cells; i++)
            if (fabs((double)got[i] - want[i]) > worst) worst = fabs((double)got[i] - want[i]);
        fprintf(stderr, "golden %-24s (%3d mels x %3d frames): max |diff| %.2e dB\n", name, cfg.n_mels, frames,
                worst);
    }
    CHECK_MSG(worst <= 1e-3, "golden case %s: max difference %g dB", name, worst);
    sono_logmel_free(lm);
    free(x), free(want), free(got);
    return worst;
}

static void test_golden(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/fixtures/golden_logmel.bin", test_source_dir());
    size_t size = 0;
    unsigned char *data = read_whole_file(path, &size);
    CHECK_MSG(data != NULL, "cannot read %s (SONO_SOURCE_DIR set?)", path);
    if (!data) return;
    golden_reader r = {data, data + size, 1};
    const unsigned char *magic = take(&r, 8);
    CHECK(magic && memcmp(magic, "SONOGLM1", 8) == 0);
    const int32_t cases = take_i32(&r);
    CHECK(r.ok && cases >= 1);
    double worst = 0;
    for (int32_t c = 0; c < cases && r.ok; c++) {
        double d = check_golden_case(&r);
        if (!(d <= worst)) worst = d;
    }
    CHECK_MSG(r.ok && r.p == r.end, "%s: truncated or trailing bytes", path);
    fprintf(stderr, "golden log-mel: %d cases, max |diff| %.2e dB (limit 1e-3)\n", cases, worst);
    free(data);
}

/* ---- configuration ---- */

static void test_config_json(void) {
    sono_feature_config a, b;
    sono_feature_config_default(&a);
    char *json = sono_feature_config_to_json(&a);
    CHECK(json != NULL);
    if (!json) return;
    const char *expected[] = {"\"window\":\"hann\"", "\"window_periodic\":true", "\"mel_scale\":\"slaney\"",
                              "\"mel_norm\":\"slaney\"", "\"pad_mode\":\"constant\"", "\"fmax\":8000",
                              "\"log\":\"10*log10(max(power, log_floor))\"", "\"n_mels\":128"};
    for (size_t i = 0; i < sizeof expected / sizeof expected[0]; i++)
        CHECK_MSG(strstr(json, expected[i]) != NULL, "%s not in %s", expected[i], json);
    sono_error err = {0};
    memset(&b, 0, sizeof b);
    CHECK_OK(sono_feature_config_from_json(json, &b, &err));
    char diff[128];
    CHECK_MSG(sono_feature_config_equal(&a, &b, diff, sizeof diff), "%s", diff); /* fmax 0 and 8000 alike */
    CHECK(b.fmax == 8000);
    free(json);

    /* Odd values survive exactly. */
    a.seconds = 0.1 + 0.2;
    a.fmin = 31.41592653589793;
    a.fmax = 7777.7;
    a.pad_mode = SONO_PAD_REFLECT;
    a.log_floor = 1.2345e-11;
    a.power = 1.0;
    json = sono_feature_config_to_json(&a);
    CHECK_OK(sono_feature_config_from_json(json, &b, &err));
    CHECK_MSG(sono_feature_config_equal(&a, &b, diff, sizeof diff), "%s", diff);
    free(json);

    b.n_mels = 64;
    CHECK(!sono_feature_config_equal(&a, &b, diff, sizeof diff));
    CHECK_MSG(strcmp(diff, "n_mels: 128 vs 64") == 0, "diff \"%s\"", diff);
    b = a;
    b.seconds = nextafter(a.seconds, 1.0);
    CHECK(!sono_feature_config_equal(&a, &b, diff, sizeof diff));
    CHECK_MSG(strncmp(diff, "seconds: 0.30000000000000004 vs", 31) == 0, "diff \"%s\"", diff);
    b = a;
    b.pad_mode = SONO_PAD_CONSTANT;
    CHECK(!sono_feature_config_equal(&a, &b, diff, sizeof diff));
    CHECK_MSG(strcmp(diff, "pad_mode: reflect vs constant") == 0, "diff \"%s\"", diff);
    CHECK(!sono_feature_config_equal(&a, &b, NULL, 0));
}

static void check_json_rejected(const char *json, const char *needle) {
    sono_feature_config cfg;
    sono_feature_config_default(&cfg);
    sono_feature_config before = cfg;
    sono_error err = {0};
    CHECK_MSG(sono_feature_config_from_json(json, &cfg, &err) != SONO_OK, "accepted %s", json);
    CHECK_MSG(strstr(err.message, needle) != NULL, "message \"%s\" lacks \"%s\"", err.message, needle);
    CHECK(memcmp(&cfg, &before, sizeof cfg) == 0);
}

static void test_config_json_errors(void) {
    const char *good = "{\"sample_rate\":16000,\"seconds\":4,\"n_fft\":1024,\"hop\":512,\"n_mels\":128,"
                       "\"fmin\":0,\"fmax\":8000,\"center\":true,\"pad_mode\":\"constant\",\"power\":2,"
                       "\"log_floor\":1e-10";
    char json[1024];
    sono_feature_config cfg;
    sono_error err = {0};
    snprintf(json, sizeof json, "%s}", good);
    CHECK_MSG(sono_feature_config_from_json(json, &cfg, &err) == SONO_OK, "%s", err.message);
    check_json_rejected("[1,2]", "not a JSON object");
    check_json_rejected("{", "not a JSON object");
    check_json_rejected("{\"sample_rate\":16000}", "field 'seconds' is missing");
    check_json_rejected("{\"sample_rate\":16000,\"seconds\":4,\"n_fft\":1024,\"hop\":512}",
                        "feature config: field 'n_mels' is missing or not a positive integer");
    check_json_rejected("{\"sample_rate\":16000,\"seconds\":4,\"n_fft\":1024,\"hop\":512,\"n_mels\":2.5}",
                        "field 'n_mels' is missing or not a positive integer");
    check_json_rejected("{\"sample_rate\":\"16000\"}", "field 'sample_rate'");
    snprintf(json, sizeof json, "%s,\"window\":\"hamming\"}", good);
    check_json_rejected(json, "field 'window'");
    snprintf(json, sizeof json, "%s,\"mel_scale\":\"htk\"}", good);
    check_json_rejected(json, "field 'mel_scale'");
    snprintf(json, sizeof json, "%s,\"window_periodic\":false}", good);
    check_json_rejected(json, "field 'window_periodic'");
    check_json_rejected("{\"sample_rate\":16000,\"seconds\":4,\"n_fft\":1024,\"hop\":512,\"n_mels\":128,"
                        "\"fmin\":0,\"fmax\":8000,\"center\":true,\"pad_mode\":\"edge\"}",
                        "field 'pad_mode'");
    check_json_rejected("{\"sample_rate\":16000,\"seconds\":4,\"n_fft\":1024,\"hop\":512,\"n_mels\":128,"
                        "\"fmin\":-1,\"fmax\":8000}",
                        "field 'fmin'");
    /* Well-formed but out of range: validation names the field. */
    check_json_rejected("{\"sample_rate\":16000,\"seconds\":4,\"n_fft\":1024,\"hop\":2048,\"n_mels\":128,"
                        "\"fmin\":0,\"fmax\":8000,\"center\":true,\"pad_mode\":\"constant\",\"power\":2,"
                        "\"log_floor\":1e-10}",
                        "hop");
}

static void check_invalid(sono_feature_config cfg, const char *field) {
    sono_error err = {0};
    CHECK_MSG(sono_feature_config_validate(&cfg, &err) != SONO_OK, "accepted a bad %s", field);
    CHECK_MSG(strstr(err.message, field) != NULL, "message \"%s\" lacks \"%s\"", err.message, field);
}

static void test_validate(void) {
    sono_feature_config good, c;
    sono_feature_config_default(&good);
    sono_error err = {0};
    CHECK_OK(sono_feature_config_validate(&good, &err));
    c = good, c.n_fft = 400, c.hop = 160;
    CHECK_OK(sono_feature_config_validate(&c, &err)); /* not a power of two */
    c = good, c.sample_rate = 999;
    check_invalid(c, "sample_rate");
    c = good, c.sample_rate = 384001;
    check_invalid(c, "sample_rate");
    c = good, c.seconds = 0;
    check_invalid(c, "seconds");
    c = good, c.seconds = 3600.5;
    check_invalid(c, "seconds");
    c = good, c.seconds = NAN;
    check_invalid(c, "seconds");
    c = good, c.n_fft = 1023;
    check_invalid(c, "n_fft");
    c = good, c.n_fft = 8, c.hop = 4, c.n_mels = 4;
    check_invalid(c, "n_fft");
    c = good, c.hop = 0;
    check_invalid(c, "hop");
    c = good, c.hop = 1025;
    check_invalid(c, "hop");
    c = good, c.n_mels = 0;
    check_invalid(c, "n_mels");
    c = good, c.n_mels = 514;
    check_invalid(c, "n_mels");
    c = good, c.n_mels = 513;
    CHECK_OK(sono_feature_config_validate(&c, &err));
    c = good, c.fmin = -1;
    check_invalid(c, "fmin");
    c = good, c.fmin = 8000;
    check_invalid(c, "fmin");
    c = good, c.fmin = 5000, c.fmax = 4000;
    check_invalid(c, "fmin");
    c = good, c.fmax = 8000.5;
    check_invalid(c, "fmax");
    c = good, c.power = 0;
    check_invalid(c, "power");
    c = good, c.log_floor = 0;
    check_invalid(c, "log_floor");
    c = good, c.center = 2;
    check_invalid(c, "center");
    c = good, c.pad_mode = (sono_pad_mode)7;
    check_invalid(c, "pad_mode");
    c = good, c.center = 0, c.seconds = 0.01; /* 160 samples, fewer than n_fft */
    check_invalid(c, "n_fft");
}

/* ---- API errors, fix_length ---- */

static void test_errors_and_fix_length(void) {
    sono_error err = {0};
    sono_stft *no_stft = NULL;
    CHECK(sono_stft_new(1023, 256, 1, SONO_PAD_CONSTANT, &no_stft, &err) == SONO_ERR_ARGUMENT && !no_stft);
    CHECK(strstr(err.message, "n_fft") != NULL);
    CHECK(sono_stft_new(1024, 0, 1, SONO_PAD_CONSTANT, &no_stft, &err) == SONO_ERR_ARGUMENT && !no_stft);
    CHECK(strstr(err.message, "hop") != NULL);
    sono_feature_config cfg;
    sono_feature_config_default(&cfg);
    cfg.n_mels = 0;
    sono_logmel *no_lm = NULL;
    CHECK(sono_logmel_new(&cfg, &no_lm, &err) != SONO_OK && !no_lm);
    CHECK(strstr(err.message, "n_mels") != NULL);
    sono_feature_config_default(&cfg);
    sono_logmel *lm;
    sono_logmel_new(&cfg, &lm, &err);
    float x[3] = {1, 2, 3}, out[128];
    CHECK(lm && sono_logmel_compute(lm, x, 0, out, &err) != SONO_OK);
    CHECK_OK(sono_logmel_compute(lm, x, 3, out, &err)); /* one centred frame */
    CHECK(lm && sono_logmel_config(lm)->n_mels == 128 && sono_logmel_filterbank(lm) != NULL);
    sono_logmel_free(lm);

    float in[4] = {1, 2, 3, 4}, fixed[6];
    memset(fixed, 0x7f, sizeof fixed);
    sono_fix_length(in, 4, fixed, 6);
    CHECK(fixed[3] == 4 && fixed[4] == 0 && fixed[5] == 0);
    sono_fix_length(in, 4, fixed, 2);
    CHECK(fixed[0] == 1 && fixed[1] == 2 && fixed[2] == 3);
    sono_fix_length(NULL, 0, fixed, 3);
    CHECK(fixed[0] == 0 && fixed[2] == 0);
}

/* ---- threads ---- */

static void test_concurrent(void) {
    enum { CLIPS = 8 };
    sono_feature_config cfg;
    sono_feature_config_default(&cfg);
    cfg.pad_mode = SONO_PAD_REFLECT;
    sono_error err = {0};
    sono_logmel *lm;
    sono_logmel_new(&cfg, &lm, &err);
    CHECK_MSG(lm != NULL, "%s", err.message);
    if (!lm) return;
    const int64_t n = sono_feature_clip_samples(&cfg);
    const size_t cells = (size_t)cfg.n_mels * (size_t)sono_feature_frames(&cfg, n);
    float *x = malloc(CLIPS * (size_t)n * sizeof(float));
    float *serial = malloc(CLIPS * cells * sizeof(float)), *parallel = malloc(CLIPS * cells * sizeof(float));
    for (int c = 0; c < CLIPS; c++) fill_random(x + c * n, n, 1000 + (uint64_t)c, 0.3f);
    for (int c = 0; c < CLIPS; c++) CHECK_OK(sono_logmel_compute(lm, x + c * n, n, serial + c * cells, &err));
    int failures = 0, threads = 0;
#pragma omp parallel for num_threads(2) schedule(static, 1) reduction(+ : failures)
    for (int c = 0; c < CLIPS; c++) {
        sono_error thread_err = {0};
        if (sono_logmel_compute(lm, x + c * n, n, parallel + c * cells, &thread_err) != SONO_OK) failures++;
        if (c == 0) threads = omp_get_num_threads();
    }
    CHECK(failures == 0);
    CHECK(memcmp(serial, parallel, CLIPS * cells * sizeof(float)) == 0);
    fprintf(stderr, "concurrent log-mel: %d clips on %d threads, identical to serial\n", CLIPS, threads);
    free(x), free(serial), free(parallel);
    sono_logmel_free(lm);
}

/* ---- the frame filter ---- */

/* Even frames: bins 40-99 halved; odd frames untouched. */
static void halve_band_on_even_frames(int t, float *spectrum, int bins, void *user) {
    (void)user;
    if (t % 2) return;
    for (int k = 40; k < 100 && k < bins; k++) spectrum[2 * k] *= 0.5f, spectrum[2 * k + 1] *= 0.5f;
}

static int even_frame(int t, void *user) {
    (void)user;
    return t % 2 == 0;
}

static void leave_frame(int t, float *spectrum, int bins, void *user) { (void)t, (void)spectrum, (void)bins, (void)user; }

/* sono_stft_filter is forward, change, inverse (to float rounding), whether
 * or not it is told which frames the filter leaves alone; a filter that
 * changes nothing gives the signal back. */
static void test_stft_filter(void) {
    const int64_t n = 16001;
    float *x = malloc((size_t)n * sizeof *x), *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
    float *c = malloc((size_t)n * sizeof *c);
    fill_random(x, n, 99, 0.5f);
    sono_error err = {0};
    sono_stft *s;
    sono_stft_new(512, 128, 1, SONO_PAD_CONSTANT, &s, &err);
    const int frames = sono_stft_frames(s, n), bins = sono_stft_bins(s);
    float *spec = malloc((size_t)frames * bins * 2 * sizeof *spec);
    CHECK_OK(sono_stft_forward(s, x, n, spec, &err));
    for (int t = 0; t < frames; t++) halve_band_on_even_frames(t, spec + (size_t)t * bins * 2, bins, NULL);
    CHECK_OK(sono_stft_inverse(s, spec, frames, a, n, &err));
    CHECK_OK(sono_stft_filter(s, x, n, halve_band_on_even_frames, NULL, NULL, b, &err));
    CHECK_OK(sono_stft_filter(s, x, n, halve_band_on_even_frames, even_frame, NULL, c, &err));
    double ab = 0, ac = 0, peak = 0;
    for (int64_t i = 0; i < n; i++) {
        ab = fmax(ab, fabs(a[i] - b[i])), ac = fmax(ac, fabs(a[i] - c[i]));
        peak = fmax(peak, fabs(a[i] - x[i]));
    }
    CHECK_MSG(peak > 0.01, "the filter changed nothing (%g)", peak);
    CHECK_MSG(ab < 1e-6 && ac < 1e-6, "filter against forward-change-inverse: %g, skipping untouched frames: %g", ab, ac);
    CHECK_OK(sono_stft_filter(s, x, n, leave_frame, NULL, NULL, b, &err));
    CHECK_MSG(snr_db(x, b, n) > 130, "an identity filter: SNR %.1f dB", snr_db(x, b, n));
    CHECK(sono_stft_filter(s, x, n, NULL, NULL, NULL, b, &err) == SONO_ERR_ARGUMENT);
    free(x), free(a), free(b), free(c), free(spec);
    sono_stft_free(s);
}

int main(void) {
    test_frame_counts();
    test_round_trip();
    test_stft_filter();
    test_frame_dft();
    test_reflect_short();
    test_mel_scale();
    test_filterbank();
    test_tone_band();
    test_golden();
    test_config_json();
    test_config_json_errors();
    test_validate();
    test_errors_and_fix_length();
    test_concurrent();
    return test_result("test_dsp");
}
