/* Makes a 44.1 kHz stereo recording for the dream benchmarks, from real
 * sounds: UrbanSound8K clips (16 kHz mono, upsampled with libsoxr; they have
 * nothing above 8 kHz) laid end to end, the right channel delayed by 7 ms and
 * slightly quieter, with the freedesktop sound theme's stereo recordings
 * (Debian's sound-theme-freedesktop; 44.1-96 kHz, content up to 20 kHz)
 * mixed in every 3 seconds, so there is a stereo image and a band above the
 * model's fmax to check.
 * usage: bench_make_hifi OUT.wav SECONDS CLIP.wav [CLIP.wav ...]
 * (the freedesktop files are read from /usr/share/sounds/freedesktop/stereo) */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sonodream/audio.h"

#define RATE 44100
#define THEME "/usr/share/sounds/freedesktop/stereo/"

static void die(const sono_error *err) {
    fprintf(stderr, "bench_make_hifi: %s\n", err->message);
    exit(1);
}

/* A file as stereo at RATE (mono duplicated; other rates via libsoxr per channel). */
static float *load_stereo(const char *path, int64_t *frames) {
    sono_error err = {0};
    float *x;
    int64_t n;
    int channels, rate;
    if (sono_audio_load_recording(path, &x, &n, &channels, &rate, &err) != SONO_OK) die(&err);
    float *out = NULL;
    int64_t n_out = 0;
    for (int c = 0; c < 2; c++) {
        float *ch = malloc(n * sizeof *ch), *res = NULL;
        for (int64_t i = 0; i < n; i++) ch[i] = x[i * channels + (c < channels ? c : 0)];
        if (rate != RATE) {
            if (sono_audio_resample(ch, n, rate, RATE, &res, &n_out, &err) != SONO_OK) die(&err);
            free(ch);
        } else {
            res = ch, n_out = n;
        }
        if (!out) out = calloc((size_t)n_out * 2, sizeof *out);
        for (int64_t i = 0; i < n_out; i++) out[i * 2 + c] = res[i];
        free(res);
    }
    free(x);
    *frames = n_out;
    return out;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: bench_make_hifi OUT.wav SECONDS CLIP.wav [CLIP.wav ...]\n");
        return 2;
    }
    const char *theme[] = {"phone-incoming-call.oga", "complete.oga", "trash-empty.oga", "camera-shutter.oga",
                           "message-new-instant.oga", "bell.oga"};
    const int64_t total = (int64_t)llround(atof(argv[2]) * RATE);
    float *mix = calloc((size_t)total * 2, sizeof *mix);
    const int64_t delay = (int64_t)(0.007 * RATE);
    int64_t at = 0;
    for (int k = 3; at < total; k = k + 1 < argc ? k + 1 : 3) {
        int64_t n;
        float *clip = load_stereo(argv[k], &n);
        for (int64_t i = 0; i < n && at + i < total; i++) {
            mix[(at + i) * 2] += 0.8f * clip[i * 2];
            if (at + i + delay < total) mix[(at + i + delay) * 2 + 1] += 0.6f * clip[i * 2];
        }
        free(clip);
        at += n;
    }
    for (int64_t t = 0, k = 0; t < total; t += 3 * RATE, k++) {
        char path[512];
        snprintf(path, sizeof path, THEME "%s", theme[k % 6]);
        int64_t n;
        float *s = load_stereo(path, &n);
        for (int64_t i = 0; i < n && t + i < total; i++)
            for (int c = 0; c < 2; c++) mix[(t + i) * 2 + c] += 0.35f * s[i * 2 + c];
        free(s);
    }
    for (int64_t i = 0; i < total * 2; i++) mix[i] = mix[i] > 0.99f ? 0.99f : mix[i] < -0.99f ? -0.99f : mix[i];
    sono_error err = {0};
    sono_audio_writer *w;
    if (sono_audio_writer_open(argv[1], RATE, 2, total, SONO_WAV_PCM24, &w, &err) != SONO_OK) die(&err);
    if (sono_audio_writer_write(w, mix, total, &err) != SONO_OK) die(&err);
    if (sono_audio_writer_commit(w, &err) != SONO_OK) die(&err);
    printf("wrote %s: %.1f s, %d Hz, stereo, 24-bit\n", argv[1], (double)total / RATE, RATE);
    free(mix);
    return 0;
}
