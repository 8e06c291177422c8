/* Mel power -> linear power by non-negative least squares.
 *
 * The filterbank M (n_mels x bins) is wide (128 x 513 by default), so the
 * system is underdetermined; the pseudo-inverse picks the minimum-norm
 * solution, which rings negative. librosa.feature.inverse.mel_to_stft solves
 * the same NNLS with L-BFGS-B; we use FISTA (Beck and Teboulle 2009) with a
 * projection onto P >= 0, all frames at once so each step is two sgemms. */
#include <cblas.h>

#include "nn/nn_internal.h"
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sonodream/reconstruct.h"

#define NNLS_DEFAULT_ITERATIONS 300

/* Largest eigenvalue of M^T M (the gradient's Lipschitz constant) by power iteration. */
static double lipschitz_constant(const float *m, int n_mels, int bins, float *v, float *mv) {
    for (int b = 0; b < bins; b++) v[b] = 1.0f / sqrtf((float)bins);
    double lambda = 0;
    for (int it = 0; it < 50; it++) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, n_mels, bins, 1.0f, m, bins, v, 1, 0.0f, mv, 1);
        cblas_sgemv(CblasRowMajor, CblasTrans, n_mels, bins, 1.0f, m, bins, mv, 1, 0.0f, v, 1);
        double norm = cblas_snrm2(bins, v, 1);
        if (norm <= 0) return 1.0;
        lambda = norm;
        cblas_sscal(bins, (float)(1.0 / norm), v, 1);
    }
    return lambda * 1.01; /* a little margin keeps the step safely below 1/L */
}

static sono_status nnls_solve(const float *filterbank, int n_mels, int bins, const float *mel_power,
                                    int frames, int iterations, float *linear_power, sono_error *err) {
    if (n_mels <= 0 || bins <= 0 || frames <= 0)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "mel inversion: empty input");
    if (iterations <= 0) iterations = NNLS_DEFAULT_ITERATIONS;
    size_t pf = (size_t)bins * (size_t)frames, mf = (size_t)n_mels * (size_t)frames;
    float *y = malloc(pf * sizeof(float));      /* (bins, frames) extrapolated point */
    float *prev = malloc(pf * sizeof(float));   /* (bins, frames) previous iterate */
    float *resid = malloc(mf * sizeof(float));  /* (n_mels, frames) M y - Y */
    float *scratch = malloc(((size_t)bins + (size_t)n_mels) * sizeof(float));
    if (!y || !prev || !resid || !scratch) {
        free(y), free(prev), free(resid), free(scratch);
        return sono_error_set(err, SONO_ERR_MEMORY, "mel inversion: out of memory");
    }
    float step = (float)(1.0 / lipschitz_constant(filterbank, n_mels, bins, scratch, scratch + bins));
    /* Start from M^T Y, clipped: non-negative and in the right place. */
    float *x = linear_power;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, bins, frames, n_mels, 1.0f, filterbank, bins,
                mel_power, frames, 0.0f, x, frames);
    for (size_t i = 0; i < pf; i++) x[i] = x[i] > 0 ? x[i] * step : 0;
    memcpy(y, x, pf * sizeof(float));
    double t = 1.0;
    for (int it = 0; it < iterations; it++) {
        memcpy(resid, mel_power, mf * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n_mels, frames, bins, 1.0f, filterbank, bins, y,
                    frames, -1.0f, resid, frames);
        memcpy(prev, x, pf * sizeof(float));
        /* x = max(0, y - step * M^T resid) */
        memcpy(x, y, pf * sizeof(float));
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, bins, frames, n_mels, -step, filterbank, bins,
                    resid, frames, 1.0f, x, frames);
        double t_next = 0.5 * (1.0 + sqrt(1.0 + 4.0 * t * t));
        float beta = (float)((t - 1.0) / t_next);
        for (size_t i = 0; i < pf; i++) {
            if (x[i] < 0) x[i] = 0;
            float v = x[i] + beta * (x[i] - prev[i]);
            y[i] = v > 0 ? v : 0;
        }
        t = t_next;
    }
    free(y), free(prev), free(resid), free(scratch);
    return SONO_OK;
}

/* The solve in one BLAS thread, inside the nn module's counted single-thread
 * section: OpenBLAS's thread count is one setting for the whole process, and
 * a sum split over another number of threads would change the last bits
 * whenever another model runs in another thread (two models in two Python
 * threads must give what each gives alone). */
sono_status sono_mel_to_linear_nnls(const float *filterbank, int n_mels, int bins, const float *mel_power, int frames,
                                    int iterations, float *linear_power, sono_error *err) {
    int blas = sono_blas_single();
    sono_status s = nnls_solve(filterbank, n_mels, bins, mel_power, frames, iterations, linear_power, err);
    sono_blas_restore(blas);
    return s;
}
