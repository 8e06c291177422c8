/* The mask render: a log-mel dream's change applied as a gain to the
 * recording's own spectrum, at its own rate, keeping its phase.
 *
 * Each channel gets an STFT at the recording's rate with about the same
 * window length in seconds as the model's (n_fft scaled by rate / model
 * rate, moved to the nearest size FFTW transforms fast) and 75 % overlap,
 * so the periodic Hann windows sum to a constant and an untouched spectrum
 * comes back exactly (sono_stft_filter, frame by frame). The gain of a
 * bin at frequency f and time t is the dream's change in dB, interpolated
 * between the mel bands' centre frequencies and between the model's frames;
 * bins above the model's fmax keep gain 1, so everything the network never
 * heard passes unchanged. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dream/dream_internal.h"

#define MASK_MAX_GAIN_DB 60.0 /* a cell raised from silence is not made 10^6 louder */

typedef struct bin_map {
    int m0, m1;  /* mel bands to interpolate between; -1: above fmax (gain 1) */
    float w;     /* weight of m1 */
} bin_map;

/* For each bin, its neighbouring mel-band centres. */
static void map_bins(const sono_feature_config *cfg, int rate, int n_fft, bin_map *map) {
    const int n_mels = cfg->n_mels, bins = n_fft / 2 + 1;
    const double fmax = sono_feature_config_fmax(cfg);
    double *edges = malloc((size_t)(n_mels + 2) * sizeof *edges);
    if (!edges) return;
    sono_mel_frequencies(n_mels + 2, cfg->fmin, fmax, edges);
    const double *centre = edges + 1; /* band m peaks at centre[m] */
    int m = 0;
    for (int b = 0; b < bins; b++) {
        const double f = (double)b * rate / n_fft;
        bin_map *e = &map[b];
        if (f > fmax) {
            e->m0 = e->m1 = -1, e->w = 0;
            continue;
        }
        while (m < n_mels - 1 && centre[m + 1] <= f) m++;
        if (f <= centre[0]) e->m0 = e->m1 = 0, e->w = 0;
        else if (m >= n_mels - 1) e->m0 = e->m1 = n_mels - 1, e->w = 0;
        else e->m0 = m, e->m1 = m + 1, e->w = (float)((f - centre[m]) / (centre[m + 1] - centre[m]));
    }
    free(edges);
}

/* row interpolated between frames t0 and t1 at fraction ft. */
static float between(const float *row, int t0, int t1, float ft) { return row[t0] + ft * (row[t1] - row[t0]); }

/* Gain (linear amplitude) of bin b at model frame position pos: the dB
 * change interpolated between the two bands' centres and frames, but no
 * more than the room (dB) of either band at either frame, so no band the
 * bin feeds rises beyond its room. room_db NULL: no limit. */
static float bin_gain(const bin_map *e, const float *gain_db, const float *room_db, int frames, double pos) {
    if (e->m0 < 0) return 1.0f;
    int t0 = (int)floor(pos);
    if (t0 < 0) t0 = 0, pos = 0;
    if (t0 > frames - 1) t0 = frames - 1, pos = t0;
    const int t1 = t0 + 1 < frames ? t0 + 1 : t0;
    const float ft = (float)(pos - t0);
    const float *r0 = gain_db + (size_t)e->m0 * frames, *r1 = gain_db + (size_t)e->m1 * frames;
    const float g0 = between(r0, t0, t1, ft), g1 = between(r1, t0, t1, ft);
    float db = g0 + e->w * (g1 - g0);
    if (room_db) {
        const float *q0 = room_db + (size_t)e->m0 * frames, *q1 = room_db + (size_t)e->m1 * frames;
        const float room = fminf(fminf(q0[t0], q0[t1]), fminf(q1[t0], q1[t1]));
        if (db > room) db = room;
    }
    if (db > MASK_MAX_GAIN_DB) db = MASK_MAX_GAIN_DB;
    if (db < -MASK_MAX_GAIN_DB) db = -MASK_MAX_GAIN_DB;
    return powf(10.0f, db / 20.0f);
}

/* 2^a 3^b 5^c 7^d: FFTW's fast sizes. 1024 * 44100 / 16000 = 2822 = 2 * 17 * 83
 * transforms eight times slower than 2800 = 2^4 * 5^2 * 7. */
static int is_fftw_friendly(int n) {
    static const int primes[] = {2, 3, 5, 7};
    for (int i = 0; i < 4; i++)
        while (n % primes[i] == 0) n /= primes[i];
    return n == 1;
}

/* A multiple of 4 (so a hop of n/4 overlaps exactly 75 %) that FFTW
 * transforms fast, nearest to the multiple of 4 nearest `target`; the
 * smaller one on a tie. */
static int mask_fft_size(double target) {
    const int base = 4 * (int)lround(target / 4);
    if (base <= 16) return 16;
    for (int d = 0;; d += 4) {
        if (is_fftw_friendly(base - d)) return base - d;
        if (is_fftw_friendly(base + d)) return base + d;
    }
}

/* What the frame filter needs: the gain of bin b in native frame t. */
typedef struct mask_gain {
    const bin_map *map;
    const float *gain_db;      /* (n_mels, frames) */
    const float *room_db;      /* (n_mels, frames) this channel's, or NULL */
    int n_mels;
    int frames;
    double frames_per_native;  /* model frames per native frame */
} mask_gain;

/* Frame t would change: some band's gain, or (with a room) some band's
 * room below 0, at a model frame it interpolates between. Only asked when
 * the gain is all 0 (a projection under the headroom). */
static int frame_gain_touches(int t, void *user) {
    const mask_gain *g = user;
    const double pos = t * g->frames_per_native;
    int t0 = (int)floor(pos);
    if (t0 < 0) t0 = 0;
    if (t0 > g->frames - 1) t0 = g->frames - 1;
    const int t1 = t0 + 1 < g->frames ? t0 + 1 : t0;
    for (int m = 0; m < g->n_mels; m++) {
        const float *room = g->room_db + (size_t)m * g->frames;
        if (room[t0] < 0 || room[t1] < 0) return 1;
    }
    return 0;
}

static void apply_frame_gain(int t, float *spectrum, int bins, void *user) {
    const mask_gain *g = user;
    const double pos = t * g->frames_per_native;
    for (int b = 0; b < bins; b++) {
        const float gain = bin_gain(&g->map[b], g->gain_db, g->room_db, g->frames, pos);
        spectrum[2 * b] *= gain, spectrum[2 * b + 1] *= gain;
    }
}

sono_status dream_mask_apply(const sono_feature_config *cfg, const float *x, int64_t n, int channels, int rate,
                             const float *gain_db, const float *room_db, int frames, float *out, sono_error *err) {
    const int n_fft = mask_fft_size(cfg->n_fft * (double)rate / cfg->sample_rate);
    const int hop = n_fft / 4, bins = n_fft / 2 + 1;
    sono_stft *stft;
    sono_status made = sono_stft_new(n_fft, hop, 1, SONO_PAD_CONSTANT, &stft, err);
    if (made != SONO_OK) return made;
    float *mono = malloc((size_t)n * sizeof *mono), *res = malloc((size_t)n * sizeof *res);
    bin_map *map = malloc((size_t)bins * sizeof *map);
    sono_status s = SONO_OK;
    if (!mono || !res || !map) s = sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory");
    if (s == SONO_OK) map_bins(cfg, rate, n_fft, map);
    /* Native frame j is centred at j * hop / rate seconds; model frame t at t * hop_model / model_rate. */
    mask_gain g = {map, gain_db, NULL, cfg->n_mels, frames, (double)hop / rate * cfg->sample_rate / cfg->hop};
    /* A gain of 0 everywhere changes only frames where a room is below 0. */
    int gain_zero = room_db != NULL;
    for (size_t i = 0; gain_zero && i < (size_t)cfg->n_mels * frames; i++) gain_zero = gain_db[i] == 0.0f;
    for (int ch = 0; s == SONO_OK && ch < channels; ch++) {
        g.room_db = room_db ? room_db + (size_t)ch * cfg->n_mels * frames : NULL;
        for (int64_t i = 0; i < n; i++) mono[i] = x[i * channels + ch];
        s = sono_stft_filter(stft, mono, n, apply_frame_gain, gain_zero ? frame_gain_touches : NULL, (void *)&g, res, err);
        for (int64_t i = 0; s == SONO_OK && i < n; i++) out[i * channels + ch] = res[i];
    }
    free(mono), free(res), free(map);
    sono_stft_free(stft);
    return s;
}
