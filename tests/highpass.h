/* Two recordings' content above a frequency compared: how the dream tests
 * and bench_render check that the band the model never hears comes back
 * unchanged, in shape (correlation) and in level (difference). */
#ifndef SONO_TEST_HIGHPASS_H
#define SONO_TEST_HIGHPASS_H

#include <fftw3.h>
#include <math.h>
#include <stdint.h>

typedef struct highpass_comparison {
    double correlation;   /* of a and b above the cutoff */
    double difference_db; /* energy of a - b over energy of a there: a gain of
                             -1 dB on that band alone reads -19 dB, while the
                             correlation stays 1 */
} highpass_comparison;

/* a and b (n, channels) above `cutoff` Hz, by an ideal high-pass (one FFT
 * per channel): from the band's sums of a.b, a.a and b.b, since
 * |a - b|^2 = |a|^2 + |b|^2 - 2 a.b. */
static inline highpass_comparison highpass_compare(const float *a, const float *b, int64_t n, int channels, int rate,
                                                   double cutoff) {
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
    const double diff = saa + sbb - 2 * sab;
    highpass_comparison r = {sab / sqrt(saa * sbb + 1e-30), 10 * log10((fmax(diff, 0) + 1e-30) / (saa + 1e-30))};
    return r;
}

/* Correlation of a and b above `cutoff` Hz. */
static inline double highpass_correlation(const float *a, const float *b, int64_t n, int channels, int rate,
                                          double cutoff) {
    return highpass_compare(a, b, n, channels, rate, cutoff).correlation;
}

#endif
