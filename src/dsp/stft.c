/* Short-time Fourier transform and its inverse, following librosa.stft and
 * librosa.istft: periodic Hann window of length n_fft, centred frames padded
 * by n_fft/2 on each side, spectra of n_fft/2 + 1 bins; the inverse is the
 * windowed overlap-add divided by the summed squared window.
 *
 * FFTW plans are made once in sono_stft_new (under a lock: FFTW's planner is
 * not thread-safe) and executed with the new-array functions on per-call
 * buffers, so one sono_stft can serve several threads at once. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/dsp_internal.h"

struct sono_stft {
    int n_fft;
    int hop;
    int bins;               /* n_fft / 2 + 1 */
    int center;
    sono_pad_mode pad_mode;
    float *window;          /* (n_fft) periodic Hann */
    fftwf_plan forward;     /* real -> complex, n_fft points */
    fftwf_plan inverse;     /* complex -> real, n_fft points, unnormalised */
};

/* FFTW's planner and plan destruction share global state. */
static pthread_mutex_t fftw_planner_lock = PTHREAD_MUTEX_INITIALIZER;

/* Periodic ("fftbins=True") Hann, as scipy.signal.get_window("hann", n) used by librosa. */
static float *periodic_hann(int n) {
    float *w = malloc((size_t)n * sizeof *w);
    if (!w) return NULL;
    for (int i = 0; i < n; i++) w[i] = (float)(0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)n));
    return w;
}

static sono_status check_stft_arguments(int n_fft, int hop, int center, sono_pad_mode pad_mode, sono_error *err) {
    if (n_fft < 2 || n_fft % 2 != 0)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "stft: n_fft must be a positive even number (got %d)", n_fft);
    if (hop < 1 || hop > n_fft)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "stft: hop must be between 1 and n_fft = %d (got %d)", n_fft,
                              hop);
    if (center != 0 && center != 1)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "stft: center must be 0 or 1 (got %d)", center);
    if (pad_mode != SONO_PAD_CONSTANT && pad_mode != SONO_PAD_REFLECT)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "stft: unknown pad mode %d", (int)pad_mode);
    return SONO_OK;
}

/* Both plans, made on scratch arrays from fftwf_malloc so that the per-call
 * buffers (also fftwf_malloc) have the alignment the plans expect. */
static sono_status make_plans(sono_stft *s, sono_error *err) {
    float *real = fftwf_malloc((size_t)s->n_fft * sizeof *real);
    fftwf_complex *cplx = fftwf_malloc((size_t)s->bins * sizeof *cplx);
    if (real && cplx) {
        pthread_mutex_lock(&fftw_planner_lock);
        s->forward = fftwf_plan_dft_r2c_1d(s->n_fft, real, cplx, FFTW_ESTIMATE);
        s->inverse = fftwf_plan_dft_c2r_1d(s->n_fft, cplx, real, FFTW_ESTIMATE);
        pthread_mutex_unlock(&fftw_planner_lock);
    }
    fftwf_free(real);
    fftwf_free(cplx);
    if (!real || !cplx) return sono_error_set(err, SONO_ERR_MEMORY, "stft: out of memory");
    if (!s->forward || !s->inverse)
        return sono_error_set(err, SONO_ERR_UNSUPPORTED, "stft: FFTW could not plan a transform of %d points",
                              s->n_fft);
    return SONO_OK;
}

sono_status sono_stft_new(int n_fft, int hop, int center, sono_pad_mode pad_mode, sono_stft **out, sono_error *err) {
    *out = NULL;
    sono_status status = check_stft_arguments(n_fft, hop, center, pad_mode, err);
    if (status != SONO_OK) return status;
    sono_stft *s = calloc(1, sizeof *s);
    if (!s) return sono_error_set(err, SONO_ERR_MEMORY, "stft: out of memory");
    s->n_fft = n_fft;
    s->hop = hop;
    s->bins = n_fft / 2 + 1;
    s->center = center;
    s->pad_mode = pad_mode;
    s->window = periodic_hann(n_fft);
    status = s->window ? make_plans(s, err) : sono_error_set(err, SONO_ERR_MEMORY, "stft: out of memory");
    if (status != SONO_OK) {
        sono_stft_free(s);
        return status;
    }
    *out = s;
    return SONO_OK;
}

void sono_stft_free(sono_stft *s) {
    if (!s) return;
    pthread_mutex_lock(&fftw_planner_lock);
    if (s->forward) fftwf_destroy_plan(s->forward);
    if (s->inverse) fftwf_destroy_plan(s->inverse);
    pthread_mutex_unlock(&fftw_planner_lock);
    free(s->window);
    free(s);
}

int sono_stft_bins(const sono_stft *s) { return s->bins; }

/* Samples of padding before the signal: frame t starts at t*hop - pad. */
static int64_t leading_pad(const sono_stft *s) { return s->center ? s->n_fft / 2 : 0; }

/* As librosa: 1 + (n + 2*pad - n_fft) / hop frames, none when that is negative. */
static int64_t frame_count(const sono_stft *s, int64_t n) {
    int64_t padded = n + 2 * leading_pad(s);
    if (n < 0 || padded < s->n_fft) return 0;
    return 1 + (padded - s->n_fft) / s->hop;
}

int sono_stft_frames(const sono_stft *s, int64_t n_samples) {
    int64_t frames = frame_count(s, n_samples);
    return frames > INT_MAX ? 0 : (int)frames;
}

sono_status stft_work_alloc(const sono_stft *s, stft_work *w, sono_error *err) {
    w->frame = fftwf_malloc((size_t)s->n_fft * sizeof *w->frame);
    w->spectrum = fftwf_malloc((size_t)s->bins * sizeof *w->spectrum);
    if (w->frame && w->spectrum) return SONO_OK;
    stft_work_free(w);
    return sono_error_set(err, SONO_ERR_MEMORY, "stft: out of memory");
}

void stft_work_free(stft_work *w) {
    fftwf_free(w->frame);
    fftwf_free(w->spectrum);
    w->frame = NULL;
    w->spectrum = NULL;
}

/* numpy.pad(mode="reflect") for any pad width: the signal mirrored about its
 * end samples without repeating them, again and again (period 2(n-1)); a single
 * sample repeats itself. This is what librosa gets for clips shorter than the
 * padding, so short signals need no special case. */
static int64_t reflect_index(int64_t i, int64_t n) {
    if (n == 1) return 0;
    int64_t period = 2 * (n - 1);
    int64_t j = i % period;
    if (j < 0) j += period;
    return j < n ? j : period - j;
}

/* Sample i of the padded signal, i counted from the first real sample. */
static float padded_sample(const sono_stft *s, const float *x, int64_t n, int64_t i) {
    if (i >= 0 && i < n) return x[i];
    return s->pad_mode == SONO_PAD_REFLECT ? x[reflect_index(i, n)] : 0.0f;
}

/* Frame t of x, windowed, into w->frame. */
static void frame_windowed(const sono_stft *s, const float *x, int64_t n, int t, stft_work *w) {
    const int64_t start = (int64_t)t * s->hop - leading_pad(s);
    if (start >= 0 && start + s->n_fft <= n) {
        for (int j = 0; j < s->n_fft; j++) w->frame[j] = s->window[j] * x[start + j];
    } else {
        for (int j = 0; j < s->n_fft; j++) w->frame[j] = s->window[j] * padded_sample(s, x, n, start + j);
    }
}

void stft_frame_spectrum(const sono_stft *s, const float *x, int64_t n, int t, stft_work *w) {
    frame_windowed(s, x, n, t, w);
    fftwf_execute_dft_r2c(s->forward, w->frame, w->spectrum);
}

/* The transpose of stft_frame_spectrum. dspec holds dRe + i dIm for bins
 * 0..n_fft/2 (what a loss's gradient is with respect to the real and
 * imaginary parts). Since Re Y_k = sum_j f_j cos(2 pi jk/n) and
 * Im Y_k = -sum_j f_j sin(2 pi jk/n) for the windowed frame f,
 *     df_j = sum_{k=0}^{n/2} Re(dspec_k e^{2 pi i jk/n}),
 * which is FFTW's c2r of dspec with the inner bins halved (c2r counts each
 * of them twice, as its Hermitian pair) and the imaginary parts of DC and
 * Nyquist dropped. Then the window: w->frame = window * df. dspec is
 * destroyed. Thread-safe like stft_frame_spectrum. */
void stft_frame_spectrum_adjoint(const sono_stft *s, fftwf_complex *dspec, stft_work *w) {
    const int half = s->n_fft / 2;
    for (int k = 1; k < half; k++) dspec[k][0] *= 0.5f, dspec[k][1] *= 0.5f;
    dspec[0][1] = 0.0f;
    dspec[half][1] = 0.0f;
    fftwf_execute_dft_c2r(s->inverse, dspec, w->frame);
    for (int j = 0; j < s->n_fft; j++) w->frame[j] *= s->window[j];
}

/* Add a frame's sample gradient (n_fft, from stft_frame_spectrum_adjoint)
 * into dx (n): the transpose of reading frame t of the padded signal, so
 * padding's gradient lands on the samples it copied (reflect) or nowhere
 * (zeros). */
void stft_frame_accumulate(const sono_stft *s, const float *frame, int t, float *dx, int64_t n) {
    const int64_t start = (int64_t)t * s->hop - leading_pad(s);
    if (start >= 0 && start + s->n_fft <= n) {
        for (int j = 0; j < s->n_fft; j++) dx[start + j] += frame[j];
        return;
    }
    for (int j = 0; j < s->n_fft; j++) {
        int64_t i = start + j;
        if (i >= 0 && i < n) dx[i] += frame[j];
        else if (s->pad_mode == SONO_PAD_REFLECT) dx[reflect_index(i, n)] += frame[j];
    }
}

/* One scratch frame per thread, for the frame-parallel loops below. */
typedef struct stft_team {
    int size;
    stft_work *work;
} stft_team;

static void stft_team_free(stft_team *team) {
    for (int i = 0; i < team->size; i++) stft_work_free(&team->work[i]);
    free(team->work);
    team->work = NULL, team->size = 0;
}

static sono_status stft_team_alloc(const sono_stft *s, stft_team *team, sono_error *err) {
    team->size = omp_get_max_threads();
    team->work = calloc((size_t)team->size, sizeof *team->work);
    if (!team->work) return sono_error_set(err, SONO_ERR_MEMORY, "stft: out of memory");
    for (int i = 0; i < team->size; i++) {
        sono_status status = stft_work_alloc(s, &team->work[i], err);
        if (status != SONO_OK) {
            stft_team_free(team);
            return status;
        }
    }
    return SONO_OK;
}

/* Fewer frames stay on one thread: starting a parallel region costs about
 * what a few dozen small transforms do (a round figure, not tuned). */
#define STFT_PARALLEL_FRAMES 64
#define STFT_INVERSE_CHUNK 32 /* frames */

sono_status sono_stft_forward(const sono_stft *s, const float *x, int64_t n, float *spec, sono_error *err) {
    if (!x || n < 1) return sono_error_set(err, SONO_ERR_ARGUMENT, "stft: empty signal");
    int64_t frames = frame_count(s, n);
    if (frames < 1)
        return sono_error_set(err, SONO_ERR_ARGUMENT,
                              "stft: %lld samples is fewer than n_fft = %d, which uncentred frames need",
                              (long long)n, s->n_fft);
    if (frames > INT_MAX)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "stft: a signal of %lld samples is too long", (long long)n);
    stft_team team;
    sono_status status = stft_team_alloc(s, &team, err);
    if (status != SONO_OK) return status;
    const size_t frame_floats = 2 * (size_t)s->bins;
#pragma omp parallel for schedule(static) num_threads(team.size) if (frames >= STFT_PARALLEL_FRAMES)
    for (int t = 0; t < (int)frames; t++) {
        stft_work *w = &team.work[omp_get_thread_num()];
        stft_frame_spectrum(s, x, n, t, w);
        memcpy(spec + (size_t)t * frame_floats, w->spectrum, frame_floats * sizeof(float));
    }
    stft_team_free(&team);
    return SONO_OK;
}

/* Add frame t, windowed and scaled, to the output samples it overlaps:
 * an inverse transform from FFTW (unnormalised: scale 1 / n_fft, as numpy's
 * irfft divides by n), or an analysis frame left as it is (scale 1). */
static void overlap_add(const sono_stft *s, const float *frame, int t, float *out, int64_t n_out, float scale) {
    const int64_t start = (int64_t)t * s->hop - leading_pad(s);
    const int first = start < 0 ? (int)-start : 0;
    const int last = start + s->n_fft > n_out ? (int)(n_out - start) : s->n_fft;
    for (int j = first; j < last; j++) out[start + j] += s->window[j] * frame[j] * scale;
}

/* The squared windows of the frames (of `frames`) that cover sample i. */
static double window_power_at(const sono_stft *s, int64_t i, int frames) {
    const int64_t padded = i + leading_pad(s);
    int64_t t = padded - s->n_fft + 1 <= 0 ? 0 : (padded - s->n_fft + s->hop) / s->hop;
    int64_t last = padded / s->hop;
    if (last > frames - 1) last = frames - 1;
    double power = 0;
    for (; t <= last; t++) {
        const double w = s->window[padded - t * s->hop];
        power += w * w;
    }
    return power;
}

/* The part of frame t that lands in [0, n_out) is non-empty. */
static int frame_reaches_output(const sono_stft *s, int t, int64_t n_out) {
    const int64_t start = (int64_t)t * s->hop - leading_pad(s);
    return start < n_out && start + s->n_fft > 0;
}

/* Where frames come from: a spectrogram, or a signal through a filter. */
typedef struct frame_source {
    const float *spec;                /* (frames, bins, 2), or NULL */
    const float *x;                   /* (n) when spec is NULL */
    int64_t n;
    sono_stft_frame_filter filter;
    sono_stft_frame_touched touched;  /* NULL: every frame is filtered */
    void *user;
} frame_source;

/* Frames [first, last) inverted and overlap-added with one thread's work. */
static void overlap_add_frames(const sono_stft *s, const frame_source *src, int first, int last, float *out,
                               int64_t n_out, stft_work *w) {
    const size_t frame_floats = 2 * (size_t)s->bins;
    const float inverse_scale = 1.0f / (float)s->n_fft;
    for (int t = first; t < last; t++) {
        if (!frame_reaches_output(s, t, n_out)) continue;
        if (src->spec) { /* c2r overwrites its input, so transform a copy */
            memcpy(w->spectrum, src->spec + (size_t)t * frame_floats, frame_floats * sizeof(float));
        } else if (src->touched && !src->touched(t, src->user)) { /* the round trip is the frame itself */
            frame_windowed(s, src->x, src->n, t, w);
            overlap_add(s, w->frame, t, out, n_out, 1.0f);
            continue;
        } else {
            stft_frame_spectrum(s, src->x, src->n, t, w);
            src->filter(t, (float *)w->spectrum, s->bins, src->user);
        }
        fftwf_execute_dft_c2r(s->inverse, w->spectrum, w->frame);
        overlap_add(s, w->frame, t, out, n_out, inverse_scale);
    }
}

/* The overlap-add of `frames` frames into out (n_out), normalised. */
static sono_status overlap_add_all(const sono_stft *s, const frame_source *src, int frames, float *out, int64_t n_out,
                                   sono_error *err) {
    stft_team team = {0};
    sono_status status = stft_team_alloc(s, &team, err);
    if (status != SONO_OK) return status;
    memset(out, 0, (size_t)n_out * sizeof *out);
    /* Frames in chunks long enough that chunk c and chunk c + 2 never touch
     * the same sample: the even chunks overlap-add in parallel, then the odd
     * ones. The chunks do not depend on the number of threads, so neither
     * does the order in which a sample sums its frames, nor the result. */
    const int reach = (s->n_fft + s->hop - 1) / s->hop;
    const int chunk = reach > STFT_INVERSE_CHUNK ? reach : STFT_INVERSE_CHUNK;
    const int chunks = (frames + chunk - 1) / chunk;
    for (int parity = 0; parity < 2; parity++) {
#pragma omp parallel for schedule(static) num_threads(team.size) if (frames >= STFT_PARALLEL_FRAMES)
        for (int c = parity; c < chunks; c += 2) {
            const int last = (c + 1) * chunk < frames ? (c + 1) * chunk : frames;
            overlap_add_frames(s, src, c * chunk, last, out, n_out, &team.work[omp_get_thread_num()]);
        }
    }
    /* librosa.istft: divide only where the squared-window sum exceeds the
     * smallest normal float; elsewhere (no frame covers the sample with a
     * non-zero weight) the sum is left as is, i.e. zero. Samples past the last
     * frame stay zero, as librosa's fix_length to `length` gives. */
#pragma omp parallel for schedule(static) num_threads(team.size) if (frames >= STFT_PARALLEL_FRAMES)
    for (int64_t i = 0; i < n_out; i++) {
        const double power = window_power_at(s, i, frames);
        if (power > FLT_MIN) out[i] = (float)(out[i] / power);
    }
    stft_team_free(&team);
    return SONO_OK;
}

sono_status sono_stft_inverse(const sono_stft *s, const float *spec, int frames, float *out, int64_t n_out,
                              sono_error *err) {
    if (frames < 1 || !spec) return sono_error_set(err, SONO_ERR_ARGUMENT, "istft: no frames");
    if (n_out < 0) return sono_error_set(err, SONO_ERR_ARGUMENT, "istft: negative output length");
    if (n_out == 0) return SONO_OK;
    const frame_source src = {.spec = spec};
    return overlap_add_all(s, &src, frames, out, n_out, err);
}

sono_status sono_stft_filter(const sono_stft *s, const float *x, int64_t n, sono_stft_frame_filter filter,
                             sono_stft_frame_touched touched, void *user, float *out, sono_error *err) {
    if (!x || !out || !filter || n < 1) return sono_error_set(err, SONO_ERR_ARGUMENT, "stft filter: empty signal");
    const int64_t frames = frame_count(s, n);
    if (frames < 1 || frames > INT_MAX)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "stft filter: %lld samples make no frame or too many",
                              (long long)n);
    const frame_source src = {.x = x, .n = n, .filter = filter, .touched = touched, .user = user};
    return overlap_add_all(s, &src, (int)frames, out, n, err);
}
