/* Small single-threaded sgemms for the Winograd products (a few dozen rows
 * and columns, called 36 times per block of tiles) and im2col's products
 * with few rows (conv1 of the seed preset: 32 x 14464 x 9 per band). OpenBLAS's Haswell
 * kernels (what 0.3.21 runs on this project's Zen 5 machines, see nn.h)
 * pay a fixed cost per call (buffer lock, packing) and use 256-bit vectors;
 * these AVX-512 loops use the operands in place. Measured on the bench
 * machine (Zen 5), one thread, the 36 products of a Winograd block as the
 * convolution runs them (M x N x K), OpenBLAS -> these:
 *   nn 32x128x32 106 -> 235 GF/s, 64x64x64 112 -> 240
 *   nt 32x32x128  92 -> 180 GF/s, 64x64x64 108 -> 150
 * (nt reduces its 16 lanes once per output block, which costs more when K
 * is short). Accumulators are named variables: GCC 12 keeps an array of
 * them on the stack. Without AVX-512 at compile time they call
 * cblas_sgemm. */
#include <cblas.h>

#include "nn/nn_internal.h"

#if SONO_NN_AVX512
#include <immintrin.h>

#define NN_ROWS 8 /* rows of C per register block (x 32 columns: 16 accumulators) */

static inline __mmask16 lane_mask(int n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* C[0..8) x [0..32) (masks m0, m1 for the columns) = A B: 16 accumulators. */
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

/* Pairwise partial sums of a and b, interleaved by 32-bit element within each
 * 128-bit lane (a transpose step of the 16-way reduction below). */
static inline __m512 pair_ps(__m512 a, __m512 b) {
    return _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
}

/* The same for 64-bit pairs. */
static inline __m512 pair_pd(__m512 a, __m512 b) {
    __m512d x = _mm512_castps_pd(a), y = _mm512_castps_pd(b);
    return _mm512_add_ps(_mm512_castpd_ps(_mm512_unpacklo_pd(x, y)),
                         _mm512_castpd_ps(_mm512_unpackhi_pd(x, y)));
}

/* The same for 128-bit lanes: lanes (0+1, 2+3) of a, then of b. */
static inline __m512 pair_x4(__m512 a, __m512 b) {
    return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                         _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
}

/* The lane sums of the 4 x 4 accumulators of row i, column j: 128-bit lane
 * i of the result holds row i, columns 0..3. */
#define NT_SUM4(i) pair_pd(pair_ps(c##i##0, c##i##1), pair_ps(c##i##2, c##i##3))

/* C[0..4) x [0..4) (+)= A B^T over K: 16 accumulators, 16 products per
 * lane step, the tail of K masked. */
static void nt_block4(float *C, int ldc, const float *A, int lda, const float *B, int ldb, int K,
                      int accumulate) {
    __m512 c00 = _mm512_setzero_ps(), c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00;
    __m512 c12 = c00, c13 = c00, c20 = c00, c21 = c00, c22 = c00, c23 = c00, c30 = c00;
    __m512 c31 = c00, c32 = c00, c33 = c00;
    const float *a0 = A, *a1 = A + lda, *a2 = A + 2 * (size_t)lda, *a3 = A + 3 * (size_t)lda;
    const float *b0 = B, *b1 = B + ldb, *b2 = B + 2 * (size_t)ldb, *b3 = B + 3 * (size_t)ldb;
    for (int k = 0; k < K; k += 16) {
        __mmask16 mk = lane_mask(K - k);
        __m512 x0 = _mm512_maskz_loadu_ps(mk, a0 + k), x1 = _mm512_maskz_loadu_ps(mk, a1 + k);
        __m512 x2 = _mm512_maskz_loadu_ps(mk, a2 + k), x3 = _mm512_maskz_loadu_ps(mk, a3 + k);
        __m512 y0 = _mm512_maskz_loadu_ps(mk, b0 + k), y1 = _mm512_maskz_loadu_ps(mk, b1 + k);
        __m512 y2 = _mm512_maskz_loadu_ps(mk, b2 + k), y3 = _mm512_maskz_loadu_ps(mk, b3 + k);
#define NT_ROW(i)                                      \
    do {                                               \
        c##i##0 = _mm512_fmadd_ps(x##i, y0, c##i##0);  \
        c##i##1 = _mm512_fmadd_ps(x##i, y1, c##i##1);  \
        c##i##2 = _mm512_fmadd_ps(x##i, y2, c##i##2);  \
        c##i##3 = _mm512_fmadd_ps(x##i, y3, c##i##3);  \
    } while (0)
        NT_ROW(0);
        NT_ROW(1);
        NT_ROW(2);
        NT_ROW(3);
#undef NT_ROW
    }
    __m512 sums = pair_x4(pair_x4(NT_SUM4(0), NT_SUM4(1)), pair_x4(NT_SUM4(2), NT_SUM4(3)));
    __m128 r[4] = {_mm512_extractf32x4_ps(sums, 0), _mm512_extractf32x4_ps(sums, 1),
                   _mm512_extractf32x4_ps(sums, 2), _mm512_extractf32x4_ps(sums, 3)};
    for (int i = 0; i < 4; i++) {
        float *c = C + (size_t)i * ldc;
        _mm_storeu_ps(c, accumulate ? _mm_add_ps(_mm_loadu_ps(c), r[i]) : r[i]);
    }
}
#undef NT_SUM4

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
