/* The correlation of two recordings' content above a frequency: how the
 * dream tests and bench_render check that the band the model never hears
 * comes back unchanged. */
#ifndef SONO_TEST_HIGHPASS_H
#define SONO_TEST_HIGHPASS_H

#include <fftw3.h>
#include <math.h>
#include <stdint.h>

/* Correlation of a and b above `cutoff` Hz (ideal high-pass by one FFT per
 * channel). */
static inline double highpass_correlation(const float *a, const float *b, int64_t n, int channels, int rate, double cutoff) {
    fftwf_complex *fa = fftwf_malloc(sizeof(fftwf_complex) * (size_t)(n / 2 + 1));
    fftwf_complex *fb = fftwf_malloc(sizeof(fftwf_complex) * (size_t)(n / 2 + 1));
    float *x = fftwf_malloc(sizeof(float) * (size_t)n);
    fftwf_plan pa = fftwf_plan_dft_r2c_1d((int)n, x, fa, FFTW_ESTIMATE);
    fftwf_plan pb = fftwf_plan_dft_r2c_1d((int)n, x, fb, FFTW_ESTIMATE);
    double sab = 0, saa = 0, sbb = 0;
    for (int ch = 0; ch < channels; ch++) {
        for (int64_t i = 0; i < n; i++) x[i] = a[i * channels + ch];
        fftwf_execute(pa);
        for (int64_t i = 0; i < n; i++) x[i] = b[i * channels + ch];
        fftwf_execute(pb);
        for (int64_t k = (int64_t)ceil(cutoff * n / rate); k <= n / 2; k++) {
            sab += (double)fa[k][0] * fb[k][0] + (double)fa[k][1] * fb[k][1];
            saa += (double)fa[k][0] * fa[k][0] + (double)fa[k][1] * fa[k][1];
            sbb += (double)fb[k][0] * fb[k][0] + (double)fb[k][1] * fb[k][1];
        }
    }
    fftwf_destroy_plan(pa), fftwf_destroy_plan(pb);
    fftwf_free(fa), fftwf_free(fb), fftwf_free(x);
    return sab / sqrt(saa * sbb + 1e-30);
}

/* How far b is from a above `cutoff` Hz, as energy of the difference over
 * energy of a, in dB (ideal high-pass by one FFT per channel): a gain of
 * -1 dB on that band alone reads -19 dB, a correlation still 1. */
static inline double highpass_difference_db(const float *a, const float *b, int64_t n, int channels, int rate,
                                            double cutoff) {
    fftwf_complex *fa = fftwf_malloc(sizeof(fftwf_complex) * (size_t)(n / 2 + 1));
    fftwf_complex *fb = fftwf_malloc(sizeof(fftwf_complex) * (size_t)(n / 2 + 1));
    float *x = fftwf_malloc(sizeof(float) * (size_t)n);
    fftwf_plan pa = fftwf_plan_dft_r2c_1d((int)n, x, fa, FFTW_ESTIMATE);
    fftwf_plan pb = fftwf_plan_dft_r2c_1d((int)n, x, fb, FFTW_ESTIMATE);
    double diff = 0, ref = 0;
    for (int ch = 0; ch < channels; ch++) {
        for (int64_t i = 0; i < n; i++) x[i] = a[i * channels + ch];
        fftwf_execute(pa);
        for (int64_t i = 0; i < n; i++) x[i] = b[i * channels + ch];
        fftwf_execute(pb);
        for (int64_t k = (int64_t)ceil(cutoff * n / rate); k <= n / 2; k++) {
            const double dr = (double)fa[k][0] - fb[k][0], di = (double)fa[k][1] - fb[k][1];
            diff += dr * dr + di * di;
            ref += (double)fa[k][0] * fa[k][0] + (double)fa[k][1] * fa[k][1];
        }
    }
    fftwf_destroy_plan(pa), fftwf_destroy_plan(pb);
    fftwf_free(fa), fftwf_free(fb), fftwf_free(x);
    return 10 * log10((diff + 1e-30) / (ref + 1e-30));
}

#endif
