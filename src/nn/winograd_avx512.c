/* The F(4x4, 3x3) transforms of conv2d_winograd.c for one tile row, 16
 * tiles (64 columns) per step in AVX-512 registers. The portable loops there
 * go through row buffers: a vertical pass, a stride-4 split into phase
 * arrays, a horizontal pass, each a short loop with its own head and tail;
 * here the 6 (or 4) input rows of 16 tiles are loaded once (masked at the
 * image edges), split by phase with permutes, combined in registers and
 * stored once. Same formulas; conv2d_winograd.c documents the matrices.
 * Only built with AVX-512 (SONO_NN_AVX512). */
#include "nn/nn_internal.h"

#if SONO_NN_AVX512
#include <immintrin.h>

/* Lanes of the 16 floats from image column x0 that lie in [0, W). */
static inline __mmask16 col_mask(int x0, int W) {
    int lo = x0 < 0 ? -x0 : 0, hi = W - x0;
    if (hi > 16) hi = 16;
    if (hi <= lo) return 0;
    return (__mmask16)((((uint32_t)1 << hi) - 1) & ~(((uint32_t)1 << lo) - 1));
}

static inline __mmask16 first_lanes(int n) {
    return n >= 16 ? (__mmask16)0xFFFF : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* Masked stores are much slower than plain ones on Zen 4/5 (measured: the
 * input transform took 1.5x as long with all its stores masked), so mask
 * only the partial vectors. */
static inline void store(float *p, __mmask16 m, __m512 x) {
    if (m == 0xFFFF) _mm512_storeu_ps(p, x);
    else _mm512_mask_storeu_ps(p, m, x);
}

/* p[s][t] = x[4t + s] for the 64 floats l0..l3 = x[0..63]. */
static inline void split4(__m512 l0, __m512 l1, __m512 l2, __m512 l3, __m512 p[4]) {
    const __m512i even = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 1, 5, 9, 13, 17, 21, 25, 29);
    const __m512i odd = _mm512_setr_epi32(2, 6, 10, 14, 18, 22, 26, 30, 3, 7, 11, 15, 19, 23, 27, 31);
    const __m512i lo = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
    const __m512i hi = _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    __m512 a = _mm512_permutex2var_ps(l0, even, l1), b = _mm512_permutex2var_ps(l0, odd, l1);
    __m512 c = _mm512_permutex2var_ps(l2, even, l3), d = _mm512_permutex2var_ps(l2, odd, l3);
    p[0] = _mm512_permutex2var_ps(a, lo, c);
    p[1] = _mm512_permutex2var_ps(a, hi, c);
    p[2] = _mm512_permutex2var_ps(b, lo, d);
    p[3] = _mm512_permutex2var_ps(b, hi, d);
}

/* The inverse: l[k] = x[16k .. 16k+15] with x[4t + s] = p[s][t]. */
static inline void merge4(const __m512 p[4], __m512 l[4]) {
    const __m512i lo = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23);
    const __m512i hi = _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    const __m512i j0 = _mm512_setr_epi32(0, 8, 16, 24, 1, 9, 17, 25, 2, 10, 18, 26, 3, 11, 19, 27);
    const __m512i j1 = _mm512_setr_epi32(4, 12, 20, 28, 5, 13, 21, 29, 6, 14, 22, 30, 7, 15, 23, 31);
    __m512 a = _mm512_permutex2var_ps(p[0], lo, p[1]), c = _mm512_permutex2var_ps(p[0], hi, p[1]);
    __m512 b = _mm512_permutex2var_ps(p[2], lo, p[3]), d = _mm512_permutex2var_ps(p[2], hi, p[3]);
    l[0] = _mm512_permutex2var_ps(a, j0, b);
    l[1] = _mm512_permutex2var_ps(a, j1, b);
    l[2] = _mm512_permutex2var_ps(c, j0, d);
    l[3] = _mm512_permutex2var_ps(c, j1, d);
}

/* The lanes of x moved down by one, lane 15 taking lane 0 of next. */
static inline __m512 next_tile(__m512 x, __m512 next) {
    return _mm512_castsi512_ps(
        _mm512_alignr_epi32(_mm512_castps_si512(next), _mm512_castps_si512(x), 1));
}

static inline __m512 mul(float k, __m512 x) { return _mm512_mul_ps(_mm512_set1_ps(k), x); }
static inline __m512 fma_k(float k, __m512 x, __m512 y) {
    return _mm512_fmadd_ps(_mm512_set1_ps(k), x, y);
}

/* B^T applied to six values (one lane per tile), out[0..5]. */
static inline void bt6(__m512 d0, __m512 d1, __m512 d2, __m512 d3, __m512 d4, __m512 d5,
                       __m512 out[6]) {
    __m512 t = _mm512_sub_ps(d4, d2), u = _mm512_sub_ps(d1, d3);
    out[0] = fma_k(4.0f, d0, fma_k(-5.0f, d2, d4));
    out[1] = fma_k(-4.0f, _mm512_add_ps(d1, d2), _mm512_add_ps(d3, d4));
    out[2] = fma_k(4.0f, _mm512_sub_ps(d1, d2), _mm512_sub_ps(d4, d3));
    out[3] = fma_k(-2.0f, u, t);
    out[4] = fma_k(2.0f, u, t);
    out[5] = fma_k(4.0f, d1, fma_k(-5.0f, d3, d5));
}

void sono_prefetch(const float *p, size_t n) {
    const char *b = (const char *)p, *e = (const char *)(p + n);
    for (; b < e; b += 64) _mm_prefetch(b, _MM_HINT_T0);
}

void sono_prefetch_w(float *p, size_t n) {
    const char *b = (const char *)p, *e = (const char *)(p + n);
    for (; b < e; b += 64) _mm_prefetch(b, _MM_HINT_ET0);
}

/* The lanes of x moved up by one, lane 0 taking lane 15 of prev. */
static inline __m512 prev_tile(__m512 x, __m512 prev) {
    return _mm512_castsi512_ps(
        _mm512_alignr_epi32(_mm512_castps_si512(x), _mm512_castps_si512(prev), 15));
}

/* Tile t reads image columns 4t-1 .. 4t+4. The loads are the aligned
 * 64-column spans of the 16 tiles (phases q[s][t] = column 4t+s); column
 * 4t-1 is q[3] of the tile before (carried over from the previous step),
 * 4t+4 is q[0] of the tile after (one more load for the last lane). */
void sono_wino_input_row_avx512(float *v, size_t stride, const float *const rows[6], int W,
                                int tw) {
    __m512 h[6][6]; /* [input row][B column], 16 tiles */
    __m512 prev[6]; /* q[3] of the previous 16 tiles of each row */
    for (int r = 0; r < 6; r++) prev[r] = _mm512_setzero_ps();
    for (int t0 = 0; t0 < tw; t0 += 16) {
        int x0 = 4 * t0;
        __mmask16 m[4], m4 = col_mask(x0 + 64, W) & 1;
        for (int k = 0; k < 4; k++) m[k] = col_mask(x0 + 16 * k, W);
        for (int r = 0; r < 6; r++) {
            if (!rows[r]) {
                for (int j = 0; j < 6; j++) h[r][j] = _mm512_setzero_ps();
                continue;
            }
            const float *p = rows[r] + x0; /* masked lanes are not read */
            __m512 q[4];
            split4(_mm512_maskz_loadu_ps(m[0], p), _mm512_maskz_loadu_ps(m[1], p + 16),
                   _mm512_maskz_loadu_ps(m[2], p + 32), _mm512_maskz_loadu_ps(m[3], p + 48), q);
            __m512 before = prev_tile(q[3], prev[r]);
            __m512 after = next_tile(q[0], _mm512_maskz_loadu_ps(m4, p + 64));
            prev[r] = q[3];
            bt6(before, q[0], q[1], q[2], q[3], after, h[r]);
        }
        __mmask16 tm = first_lanes(tw - t0);
        for (int j = 0; j < 6; j++) {
            __m512 o[6];
            bt6(h[0][j], h[1][j], h[2][j], h[3][j], h[4][j], h[5][j], o);
            for (int i = 0; i < 6; i++) store(v + (6 * i + j) * stride + t0, tm, o[i]);
        }
    }
}

/* A^T applied to six values, out[0..3]. */
static inline void at4(__m512 m0, __m512 m1, __m512 m2, __m512 m3, __m512 m4, __m512 m5,
                       __m512 out[4]) {
    __m512 a = _mm512_add_ps(m1, m2), s = _mm512_sub_ps(m1, m2);
    __m512 c = _mm512_add_ps(m3, m4), d = _mm512_sub_ps(m3, m4);
    out[0] = _mm512_add_ps(_mm512_add_ps(m0, a), c);
    out[1] = fma_k(2.0f, d, s);
    out[2] = fma_k(4.0f, c, a);
    out[3] = _mm512_add_ps(fma_k(8.0f, d, s), m5);
}

void sono_wino_output_row_avx512(float *const y[4], const float *m, size_t stride, int W, int tw,
                                 float bias, float slope) {
    const __m512 b = _mm512_set1_ps(bias), k = _mm512_set1_ps(slope), zero = _mm512_setzero_ps();
    __m512 z[4][6]; /* [output row][M column] */
    for (int t0 = 0; t0 < tw; t0 += 16) {
        __mmask16 tm = first_lanes(tw - t0);
        for (int j = 0; j < 6; j++) {
            __m512 mi[6], o[4];
            for (int i = 0; i < 6; i++) mi[i] = _mm512_maskz_loadu_ps(tm, m + (6 * i + j) * stride + t0);
            at4(mi[0], mi[1], mi[2], mi[3], mi[4], mi[5], o);
            for (int a = 0; a < 4; a++) z[a][j] = o[a];
        }
        for (int a = 0; a < 4; a++) {
            if (!y[a]) continue;
            __m512 p[4], l[4];
            at4(z[a][0], z[a][1], z[a][2], z[a][3], z[a][4], z[a][5], p);
            for (int s = 0; s < 4; s++) {
                __m512 v = _mm512_add_ps(p[s], b);
                p[s] = _mm512_mask_mov_ps(_mm512_mul_ps(v, k), _mm512_cmp_ps_mask(v, zero, _CMP_GT_OQ), v);
            }
            merge4(p, l);
            for (int q = 0; q < 4; q++)
                store(y[a] + 4 * t0 + 16 * q, col_mask(4 * t0 + 16 * q, W), l[q]);
        }
    }
}

/* A applied to four values, out[0..5]. */
static inline void a6(__m512 q0, __m512 q1, __m512 q2, __m512 q3, __m512 out[6]) {
    __m512 e = _mm512_add_ps(q0, q2), f = _mm512_add_ps(q1, q3);
    __m512 e4 = fma_k(4.0f, q2, q0), f4 = fma_k(8.0f, q3, mul(2.0f, q1));
    out[0] = q0;
    out[1] = _mm512_add_ps(e, f);
    out[2] = _mm512_sub_ps(e, f);
    out[3] = _mm512_add_ps(e4, f4);
    out[4] = _mm512_sub_ps(e4, f4);
    out[5] = q3;
}

void sono_wino_grad_row_avx512(float *v, size_t stride, const float *const d[4], int W, int tw) {
    __m512 s[4][6]; /* [dY row][A row] */
    for (int t0 = 0; t0 < tw; t0 += 16) {
        int x0 = 4 * t0;
        for (int a = 0; a < 4; a++) {
            if (!d[a]) {
                for (int j = 0; j < 6; j++) s[a][j] = _mm512_setzero_ps();
                continue;
            }
            const float *p = d[a] + x0;
            __m512 q[4];
            split4(_mm512_maskz_loadu_ps(col_mask(x0, W), p),
                   _mm512_maskz_loadu_ps(col_mask(x0 + 16, W), p + 16),
                   _mm512_maskz_loadu_ps(col_mask(x0 + 32, W), p + 32),
                   _mm512_maskz_loadu_ps(col_mask(x0 + 48, W), p + 48), q);
            a6(q[0], q[1], q[2], q[3], s[a]);
        }
        __mmask16 tm = first_lanes(tw - t0);
        for (int j = 0; j < 6; j++) {
            __m512 o[6];
            a6(s[0][j], s[1][j], s[2][j], s[3][j], o);
            for (int i = 0; i < 6; i++) store(v + (6 * i + j) * stride + t0, tm, o[i]);
        }
    }
}

#endif
