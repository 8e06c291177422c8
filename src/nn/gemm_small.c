/* Small single-threaded sgemms for the Winograd products: a few dozen rows
 * and columns, called 36 times per block of tiles. OpenBLAS's Haswell
 * kernels (what 0.3.21 runs on this project's Zen 5 machines, see nn.h)
 * pay a fixed cost per call (buffer lock, packing) and use 256-bit vectors;
 * these AVX-512 loops use the operands in place. Measured on the bench
 * machine (Zen 5), one thread, the 36 products of a Winograd block as the
 * convolution runs them (M x N x K), OpenBLAS -> these:
 *   nn 32x128x32 106 -> 235 GF/s, 64x64x64 112 -> 240
 *   nt 32x32x128  92 -> 165 GF/s, 64x64x64 108 -> 128
 * (nt reduces its 16 lanes once per output block, which costs more when K
 * is short). Without AVX-512 at compile time they call cblas_sgemm. */
#include <cblas.h>

#include "nn/nn_internal.h"

#if defined(__AVX512F__) && defined(__AVX512DQ__)
#include <immintrin.h>

#define NN_ROWS 8 /* rows of C per register block (x 32 columns: 16 accumulators) */

static inline __mmask16 lane_mask(int n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* C[0..8) x [0..32) (masks m0, m1 for the columns) = A B, with 16 named
 * accumulators (GCC 12 keeps an array of them on the stack). */
static void nn_block8(float *C, int ldc, const float *A, int lda, const float *B, int ldb, int K,
                      __mmask16 m0, __mmask16 m1) {
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m512 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00, c60 = c00;
    __m512 c61 = c00, c70 = c00, c71 = c00;
    const float *a0 = A, *a1 = A + lda, *a2 = A + 2 * (size_t)lda, *a3 = A + 3 * (size_t)lda;
    const float *a4 = A + 4 * (size_t)lda, *a5 = A + 5 * (size_t)lda, *a6 = A + 6 * (size_t)lda;
    const float *a7 = A + 7 * (size_t)lda;
    for (int k = 0; k < K; k++) {
        __m512 b0 = _mm512_maskz_loadu_ps(m0, B + (size_t)k * ldb);
        __m512 b1 = _mm512_maskz_loadu_ps(m1, B + (size_t)k * ldb + 16);
#define NN_ROW(i)                                          \
    do {                                                   \
        __m512 a = _mm512_set1_ps(a##i[k]);                \
        c##i##0 = _mm512_fmadd_ps(a, b0, c##i##0);         \
        c##i##1 = _mm512_fmadd_ps(a, b1, c##i##1);         \
    } while (0)
        NN_ROW(0);
        NN_ROW(1);
        NN_ROW(2);
        NN_ROW(3);
        NN_ROW(4);
        NN_ROW(5);
        NN_ROW(6);
        NN_ROW(7);
#undef NN_ROW
    }
#define NN_STORE(i)                                                      \
    do {                                                                 \
        _mm512_mask_storeu_ps(C + (size_t)(i) * ldc, m0, c##i##0);      \
        _mm512_mask_storeu_ps(C + (size_t)(i) * ldc + 16, m1, c##i##1); \
    } while (0)
    NN_STORE(0);
    NN_STORE(1);
    NN_STORE(2);
    NN_STORE(3);
    NN_STORE(4);
    NN_STORE(5);
    NN_STORE(6);
    NN_STORE(7);
#undef NN_STORE
}

/* One row of C, for the rows past a multiple of 8. */
static void nn_block1(float *C, const float *A, const float *B, int ldb, int K, __mmask16 m0,
                      __mmask16 m1) {
    __m512 c0 = _mm512_setzero_ps(), c1 = _mm512_setzero_ps();
    for (int k = 0; k < K; k++) {
        __m512 a = _mm512_set1_ps(A[k]);
        c0 = _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(m0, B + (size_t)k * ldb), c0);
        c1 = _mm512_fmadd_ps(a, _mm512_maskz_loadu_ps(m1, B + (size_t)k * ldb + 16), c1);
    }
    _mm512_mask_storeu_ps(C, m0, c0);
    _mm512_mask_storeu_ps(C + 16, m1, c1);
}

void sono_sgemm_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                   int ldc) {
    for (int n = 0; n < N; n += 32) {
        __mmask16 m0 = lane_mask(N - n), m1 = lane_mask(N - n - 16);
        int m = 0;
        for (; m + NN_ROWS <= M; m += NN_ROWS)
            nn_block8(C + (size_t)m * ldc + n, ldc, A + (size_t)m * lda, lda, B + n, ldb, K, m0, m1);
        for (; m < M; m++) nn_block1(C + (size_t)m * ldc + n, A + (size_t)m * lda, B + n, ldb, K, m0, m1);
    }
}

/* The four lane sums of a, b, c, d. */
static inline __m128 sum4(__m512 a, __m512 b, __m512 c, __m512 d) {
    __m256 a8 = _mm256_add_ps(_mm512_castps512_ps256(a), _mm512_extractf32x8_ps(a, 1));
    __m256 b8 = _mm256_add_ps(_mm512_castps512_ps256(b), _mm512_extractf32x8_ps(b, 1));
    __m256 c8 = _mm256_add_ps(_mm512_castps512_ps256(c), _mm512_extractf32x8_ps(c, 1));
    __m256 d8 = _mm256_add_ps(_mm512_castps512_ps256(d), _mm512_extractf32x8_ps(d, 1));
    __m256 abcd = _mm256_hadd_ps(_mm256_hadd_ps(a8, b8), _mm256_hadd_ps(c8, d8));
    return _mm_add_ps(_mm256_castps256_ps128(abcd), _mm256_extractf128_ps(abcd, 1));
}

/* C[0..4) x [0..4) (+)= A B^T over K, 16 products per lane step, the tail
 * masked. (An array of accumulators measured faster here than named ones,
 * 162 against 121 GF/s at 32x32x128.) */
static void nt_block4(float *C, int ldc, const float *A, int lda, const float *B, int ldb, int K,
                      int accumulate) {
    __m512 acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = _mm512_setzero_ps();
    for (int k = 0; k < K; k += 16) {
        __mmask16 mk = lane_mask(K - k);
        __m512 a[4], b[4];
        for (int i = 0; i < 4; i++) a[i] = _mm512_maskz_loadu_ps(mk, A + (size_t)i * lda + k);
        for (int j = 0; j < 4; j++) b[j] = _mm512_maskz_loadu_ps(mk, B + (size_t)j * ldb + k);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++) acc[i][j] = _mm512_fmadd_ps(a[i], b[j], acc[i][j]);
    }
    for (int i = 0; i < 4; i++) {
        __m128 s = sum4(acc[i][0], acc[i][1], acc[i][2], acc[i][3]);
        float *c = C + (size_t)i * ldc;
        _mm_storeu_ps(c, accumulate ? _mm_add_ps(_mm_loadu_ps(c), s) : s);
    }
}

/* One element, for the rows and columns past a multiple of 4. */
static inline float nt_dot(const float *a, const float *b, int K) {
    __m512 acc = _mm512_setzero_ps();
    for (int k = 0; k < K; k += 16) {
        __mmask16 mk = lane_mask(K - k);
        acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, a + k), _mm512_maskz_loadu_ps(mk, b + k), acc);
    }
    return _mm512_reduce_add_ps(acc);
}

void sono_sgemm_nt(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                   int ldc, int accumulate) {
    int M4 = M & ~3, N4 = N & ~3;
    for (int m = 0; m < M4; m += 4)
        for (int n = 0; n < N4; n += 4)
            nt_block4(C + (size_t)m * ldc + n, ldc, A + (size_t)m * lda, lda, B + (size_t)n * ldb,
                      ldb, K, accumulate);
    for (int m = 0; m < M; m++)
        for (int n = m < M4 ? N4 : 0; n < N; n++) {
            float s = nt_dot(A + (size_t)m * lda, B + (size_t)n * ldb, K);
            float *c = C + (size_t)m * ldc + n;
            *c = accumulate ? *c + s : s;
        }
}

#else

void sono_sgemm_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                   int ldc) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C,
                ldc);
}

void sono_sgemm_nt(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                   int ldc, int accumulate) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, lda, B, ldb,
                accumulate ? 1.0f : 0.0f, C, ldc);
}

#endif
