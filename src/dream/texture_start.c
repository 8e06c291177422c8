/* Where a texture starts: noise with the example's long-term spectrum, at
 * its rate and on each of its channels.
 *
 * White noise would do for the bands the network hears, but the mask
 * render leaves everything above the model's fmax as it is: at 44.1 kHz
 * that would be white noise up to 22 kHz. Noise shaped by the example's
 * own mean power spectrum (per channel, by an STFT gain) has the example's
 * colour everywhere, and the dream then gives the heard bands the
 * example's structure. Each channel gets its own noise: the channels of
 * the texture are as unlike each other as independent noises, and each
 * has its channel's colour; the dream's change is the same on all of them
 * (the joint render). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dream/dream_internal.h"
#include "sonodream/dsp.h"

#define CHUNK_SECONDS 10.0 /* the mean spectrum is summed over chunks this long */

/* The smallest power of two >= 40 ms at rate: 1024 at 16 kHz, 2048 at 44.1 kHz. */
static int frame_size(int rate) {
    int n = 256;
    while (n < 0.04 * rate && n < (1 << 16)) n *= 2;
    return n;
}

/* Mean |X|^2 per bin of channel ch of x (n, channels), in chunks. */
static sono_status mean_power(const sono_stft *s, const float *x, int64_t n, int channels, int ch, int rate,
                              double *power, sono_error *err) {
    const int bins = sono_stft_bins(s);
    const int64_t chunk = (int64_t)(CHUNK_SECONDS * rate);
    const int64_t first = n < chunk ? n : chunk;
    float *mono = malloc((size_t)first * sizeof *mono);
    float *spec = malloc((size_t)sono_stft_frames(s, first) * bins * 2 * sizeof *spec);
    sono_status st = mono && spec ? SONO_OK : sono_error_set(err, SONO_ERR_MEMORY, "texture: out of memory");
    memset(power, 0, (size_t)bins * sizeof *power);
    long frames_total = 0;
    for (int64_t start = 0; st == SONO_OK && start < n; start += chunk) {
        const int64_t len = n - start < chunk ? n - start : chunk;
        for (int64_t i = 0; i < len; i++) mono[i] = x[(start + i) * channels + ch];
        const int frames = sono_stft_frames(s, len);
        if (frames < 1) break;
        st = sono_stft_forward(s, mono, len, spec, err);
        for (int t = 0; st == SONO_OK && t < frames; t++)
            for (int k = 0; k < bins; k++) {
                const float *z = spec + ((size_t)t * bins + k) * 2;
                power[k] += (double)z[0] * z[0] + (double)z[1] * z[1];
            }
        frames_total += frames;
    }
    for (int k = 0; k < bins && frames_total > 0; k++) power[k] /= (double)frames_total;
    free(mono), free(spec);
    return st;
}

typedef struct shaping {
    const float *gain; /* (bins) */
} shaping;

static void shape_frame(int t, float *spectrum, int bins, void *user) {
    (void)t;
    const float *g = ((const shaping *)user)->gain;
    for (int k = 0; k < bins; k++) spectrum[2 * k] *= g[k], spectrum[2 * k + 1] *= g[k];
}

/* Unit-variance Gaussian samples (Box-Muller on 53-bit uniforms). */
static void gaussian(float *x, int64_t n, uint64_t *state) {
    for (int64_t i = 0; i < n; i += 2) {
        double u1 = ((double)(sono_splitmix64(state) >> 11) + 1.0) * 0x1.0p-53;
        double u2 = (double)(sono_splitmix64(state) >> 11) * 0x1.0p-53;
        double r = sqrt(-2.0 * log(u1));
        x[i] = (float)(r * cos(2 * M_PI * u2));
        if (i + 1 < n) x[i + 1] = (float)(r * sin(2 * M_PI * u2));
    }
}

/* One channel: white noise, its own mean spectrum measured over it, then
 * the gain that gives it the example's. */
static sono_status shaped_channel(const sono_stft *s, const double *want, int64_t n, int rate, uint64_t *state,
                                  float *noise, float *shaped, sono_error *err) {
    const int bins = sono_stft_bins(s);
    gaussian(noise, n, state);
    double *have = malloc((size_t)bins * sizeof *have);
    float *gain = malloc((size_t)bins * sizeof *gain);
    sono_status st = have && gain ? SONO_OK : sono_error_set(err, SONO_ERR_MEMORY, "texture: out of memory");
    if (st == SONO_OK) st = mean_power(s, noise, n, 1, 0, rate, have, err);
    for (int k = 0; st == SONO_OK && k < bins; k++) gain[k] = have[k] > 0 ? (float)sqrt(want[k] / have[k]) : 0.0f;
    shaping sh = {gain};
    if (st == SONO_OK) st = sono_stft_filter(s, noise, n, shape_frame, NULL, &sh, shaped, err);
    free(have), free(gain);
    return st;
}

sono_status sono_dream_texture_start(const sono_recording *example, double seconds, uint64_t seed,
                                     sono_recording *out, sono_error *err) {
    memset(out, 0, sizeof *out);
    if (!example || !example->samples || example->frames < 1 || example->channels < 1 || example->sample_rate < 1)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "texture: the example is empty");
    if (!(seconds > 0 && seconds <= 3600))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "texture: seconds must be in (0, 3600] (got %g)", seconds);
    const int rate = example->sample_rate, C = example->channels, n_fft = frame_size(rate);
    const int64_t n = (int64_t)llround(seconds * rate);
    if (n < n_fft) return sono_error_set(err, SONO_ERR_ARGUMENT, "texture: %g s is shorter than one frame", seconds);
    sono_stft *s;
    sono_status st = sono_stft_new(n_fft, n_fft / 4, 1, SONO_PAD_REFLECT, &s, err);
    if (st != SONO_OK) return st;
    const int bins = sono_stft_bins(s);
    double *want = malloc((size_t)bins * sizeof *want);
    float *noise = malloc((size_t)n * sizeof *noise), *shaped = malloc((size_t)n * sizeof *shaped);
    float *x = malloc((size_t)n * C * sizeof *x);
    if (!want || !noise || !shaped || !x) st = sono_error_set(err, SONO_ERR_MEMORY, "texture: out of memory");
    const int64_t most = (int64_t)(SONO_DREAM_EXAMPLE_SECONDS * rate);
    const int64_t heard = example->frames < most ? example->frames : most;
    uint64_t state = seed ^ 0x7465787475726521ull; /* "texture!" */
    for (int ch = 0; st == SONO_OK && ch < C; ch++) {
        st = mean_power(s, example->samples, heard, C, ch, rate, want, err);
        if (st == SONO_OK) st = shaped_channel(s, want, n, rate, &state, noise, shaped, err);
        for (int64_t i = 0; st == SONO_OK && i < n; i++) x[i * C + ch] = shaped[i];
    }
    free(want), free(noise), free(shaped);
    sono_stft_free(s);
    if (st != SONO_OK) {
        free(x);
        return st;
    }
    *out = (sono_recording){x, n, C, rate};
    return SONO_OK;
}
