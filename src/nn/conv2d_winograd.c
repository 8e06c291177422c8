/* 3x3 convolution, stride 1, same padding, by Winograd's minimal filtering
 * F(4x4, 3x3) (Lavin and Gray 2016, "Fast Algorithms for Convolutional
 * Neural Networks", with their interpolation points 0, 1, -1, 2, -2, inf).
 *
 * Every 4x4 block of outputs ("tile") comes from a 6x6 input patch d:
 *   Y = A^T [ (G g G^T) .* (B^T d B) ] A
 * The elementwise product, summed over input channels, is one sgemm per tile
 * position xi (36 of them, gemm_small.c): M[xi] (O, tiles) = U[xi] (O, C) @ V[xi] (C, tiles),
 * 36 multiplies per output tile instead of 144: a quarter of im2col's
 * multiply-adds, in well-shaped sgemms (M = channels, N = tiles).
 *
 * Backward, by the same bilinear form:
 *  - input gradient: the transposed convolution of a 3x3 stride-1 same
 *    convolution is the convolution of dpre with the kernel rotated by 180
 *    degrees and its channel axes swapped, so it is this forward pass with
 *    those weights (no bias, no activation);
 *  - weight gradient: dg = G^T [ sum over tiles of (A dY A^T) .* (B^T d B) ] G,
 *    one sgemm per xi: dU[xi] (O, C) += Yh[xi] (O, tiles) @ V[xi]^T.
 *
 * Transforms run on whole tile rows, one channel at a time: with AVX-512,
 * 16 tiles per step in registers (winograd_avx512.c); otherwise portable
 * loops that the compiler vectorises over tiles: rows combined vertically
 * in buffers (contiguous), split by phase (a stride-4 walk that GCC turns
 * into permutes), then combined horizontally. Tiles are processed in blocks
 * of tile rows so that the transformed blocks mostly stay in the L2 cache
 * between transform and sgemm.
 *
 * Workspace layout (floats), T threads, X = 36, Cm = max(C, O), each region
 * rounded up to 16 floats:
 *   U (X, O, C)                                  transformed weights, shared
 *   T x [ V (X, Cm, nb) | M (X, Cm, nb) | rows | dpre (O, H*W) | dU (X, O, C) ]
 *   N x [ dweight (O, C*9) | dbias (O) ]         per-sample partial gradients
 * (the X planes of V and M are xi_stride apart, a little more than Cm*nb).
 * Partials are summed over samples in a fixed order (sono_conv2d_reduce),
 * so results do not depend on the thread count. */
#include <string.h>

#include <cblas.h>
#include <omp.h>

#include "nn/nn_internal.h"

#define XI 36 /* tile positions (6 x 6) */

/* Target floats of one transformed block (V or M). Smaller blocks stay in
 * L2 between transform and sgemm, larger ones make fewer, longer sgemm
 * calls (each has a fixed cost); on the bench (Zen 5, 1 MB L2) 96K-320K
 * were within noise for 64-channel 32x32 layers, and 128K+ about 7% faster
 * than 64K for 32-channel 128x128 ones. */
#define BLOCK_FLOATS (160 * 1024)

typedef struct geom {
    int C, H, W, O;
    int simd;    /* AVX-512 transforms and products (winograd_avx512.c, gemm_small.c) */
    int th, tw;  /* tile rows and columns: ceil(H/4), ceil(W/4) */
    int rows;    /* tile rows per block */
    int cm;      /* max(C, O) */
    size_t pw;   /* floats per padded row buffer (4*tw + 2, rounded up to 16) */
} geom;

static geom make_geom(int C, int H, int W, int O, int portable) {
    geom g = {C, H, W, O, SONO_NN_AVX512 && !portable, (H + 3) / 4, (W + 3) / 4, 1, C > O ? C : O, 0};
    size_t per_row = (size_t)XI * g.cm * g.tw;
    size_t r = BLOCK_FLOATS / per_row;
    g.rows = r < 1 ? 1 : r > (size_t)g.th ? g.th : (int)r;
    g.pw = ((size_t)4 * g.tw + 2 + 15) / 16 * 16;
    return g;
}

/* Floats between the tile positions of a transformed block of ch channels
 * and nb tiles: one padding line more than ch * nb, so that the 36 rows a
 * transform writes for one channel do not all fall in the same cache sets
 * (ch * nb is often a multiple of 4 KB; measured: the vectorised input
 * transform ran 4x slower than in L1 without the padding). */
static size_t xi_stride(int ch, size_t nb) { return (size_t)ch * nb + 16; }

/* The same between the tile positions of a sample's weight gradient dU
 * (X, O, C), whose 36 planes weight_grad_transform reads together. */
static size_t du_stride(int O, int C) { return (size_t)O * C + 16; }

/* Scratch regions start at 64-byte boundaries (the workspace does). */
static size_t round16(size_t n) { return (n + 15) / 16 * 16; }

static size_t block_floats(const geom *g) {
    return round16((size_t)XI * xi_stride(g->cm, (size_t)g->rows * g->tw));
}

/* Row buffers: 6 padded rows, 6 combined rows, one zero row. */
static size_t rows_floats(const geom *g) { return 13 * g->pw; }

static size_t dpre_floats(const geom *g) { return round16((size_t)g->O * g->H * g->W); }

static size_t weights_floats(const geom *g) { return round16((size_t)XI * g->O * g->C); }

/* A sample's dU (X planes du_stride apart), then room for the (9, O*C)
 * weight gradient before it is interleaved. */
static size_t du_floats(const geom *g) {
    return round16((size_t)XI * du_stride(g->O, g->C) + (size_t)9 * g->O * g->C);
}

static size_t thread_floats(const geom *g) {
    return 2 * block_floats(g) + rows_floats(g) + dpre_floats(g) + du_floats(g);
}

static size_t partial_floats(int C, int O) { return (size_t)O * C * 9 + (size_t)O; }

size_t sono_winograd_workspace_floats(int N, int C, int H, int W, int O, int threads) {
    geom g = make_geom(C, H, W, O, 0);
    return weights_floats(&g) + (size_t)threads * thread_floats(&g) +
           (size_t)N * partial_floats(C, O);
}

/* ---- transforms ---- */

/* U[xi][o][c] = (G g G^T)[xi] for g = weight[o][c], or with flip the
 * rotated kernel of weight[c][o] for the transposed convolution (then the
 * given O and C are the weight's C and O). Each output element's arithmetic
 * is the same whichever thread computes it. */
static void weight_transform(float *U, const float *weight, int O, int C, int flip, int threads) {
    size_t plane = (size_t)O * C;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int o = 0; o < O; o++)
        for (int c = 0; c < C; c++) {
            const float *w = flip ? weight + ((size_t)c * O + o) * 9 : weight + ((size_t)o * C + c) * 9;
            float g[3][3], t[6][3];
            for (int a = 0; a < 3; a++)
                for (int b = 0; b < 3; b++) g[a][b] = flip ? w[(2 - a) * 3 + (2 - b)] : w[a * 3 + b];
            for (int b = 0; b < 3; b++) { /* t = G g */
                float g0 = g[0][b], g1 = g[1][b], g2 = g[2][b];
                t[0][b] = g0 * (1.0f / 4);
                t[1][b] = -(g0 + g1 + g2) * (1.0f / 6);
                t[2][b] = -(g0 - g1 + g2) * (1.0f / 6);
                t[3][b] = g0 * (1.0f / 24) + g1 * (1.0f / 12) + g2 * (1.0f / 6);
                t[4][b] = g0 * (1.0f / 24) - g1 * (1.0f / 12) + g2 * (1.0f / 6);
                t[5][b] = g2;
            }
            float *u = U + (size_t)o * C + c;
            for (int i = 0; i < 6; i++) { /* (G g) G^T */
                float g0 = t[i][0], g1 = t[i][1], g2 = t[i][2];
                u[(6 * i + 0) * plane] = g0 * (1.0f / 4);
                u[(6 * i + 1) * plane] = -(g0 + g1 + g2) * (1.0f / 6);
                u[(6 * i + 2) * plane] = -(g0 - g1 + g2) * (1.0f / 6);
                u[(6 * i + 3) * plane] = g0 * (1.0f / 24) + g1 * (1.0f / 12) + g2 * (1.0f / 6);
                u[(6 * i + 4) * plane] = g0 * (1.0f / 24) - g1 * (1.0f / 12) + g2 * (1.0f / 6);
                u[(6 * i + 5) * plane] = g2;
            }
        }
}

/* The transformed weights: into ws without a cache; with one, reused as
 * long as the weights are bitwise the ones they were made from (a dream
 * runs hundreds of passes with the same weights; training changes them
 * every step, and then the comparison fails at once and they are made
 * again). */
static const float *transformed_weights(sono_wino_cache *cache, int flip, const float *weight, int O, int C,
                                        float *ws, int threads) {
    if (!cache) {
        weight_transform(ws, weight, O, C, flip, threads);
        return ws;
    }
    float *U = flip ? cache->Uflip : cache->U, *key = flip ? cache->key_flip : cache->key;
    int *valid = flip ? &cache->valid_flip : &cache->valid;
    const size_t bytes = (size_t)O * C * 9 * sizeof(float);
    if (*valid && memcmp(key, weight, bytes) == 0) return U;
    weight_transform(U, weight, O, C, flip, threads);
    memcpy(key, weight, bytes);
    *valid = 1;
    return U;
}

/* dweight[o][c] (3x3) = G^T dU[.][o][c] G (adjoint of weight_transform),
 * vectorised over the O*C pairs: first into tmp (9, O*C), then interleaved
 * into dweight's (O, C, 3, 3) order. */
static void weight_grad_transform(float *dweight, const float *dU, int O, int C, float *tmp) {
    size_t n = (size_t)O * C, plane = du_stride(O, C);
#pragma omp simd
    for (size_t j = 0; j < n; j++) {
        float t[6][3];
        for (int i = 0; i < 6; i++) { /* t = dU G */
            float u0 = dU[(6 * i + 0) * plane + j], u1 = dU[(6 * i + 1) * plane + j];
            float u2 = dU[(6 * i + 2) * plane + j], u3 = dU[(6 * i + 3) * plane + j];
            float u4 = dU[(6 * i + 4) * plane + j], u5 = dU[(6 * i + 5) * plane + j];
            t[i][0] = u0 * (1.0f / 4) - (u1 + u2) * (1.0f / 6) + (u3 + u4) * (1.0f / 24);
            t[i][1] = (u2 - u1) * (1.0f / 6) + (u3 - u4) * (1.0f / 12);
            t[i][2] = (u3 + u4 - u1 - u2) * (1.0f / 6) + u5;
        }
        for (int b = 0; b < 3; b++) { /* G^T t */
            float u0 = t[0][b], u1 = t[1][b], u2 = t[2][b], u3 = t[3][b], u4 = t[4][b], u5 = t[5][b];
            tmp[(0 * 3 + b) * n + j] = u0 * (1.0f / 4) - (u1 + u2) * (1.0f / 6) + (u3 + u4) * (1.0f / 24);
            tmp[(1 * 3 + b) * n + j] = (u2 - u1) * (1.0f / 6) + (u3 - u4) * (1.0f / 12);
            tmp[(2 * 3 + b) * n + j] = (u3 + u4 - u1 - u2) * (1.0f / 6) + u5;
        }
    }
    for (size_t j = 0; j < n; j++)
        for (int k = 0; k < 9; k++) dweight[j * 9 + k] = tmp[k * n + j];
}

/* Rows of B^T d for the six padded rows r0..r5, n floats each. */
static void input_vertical(float *restrict R, size_t pw, const float *restrict r0,
                           const float *restrict r1, const float *restrict r2,
                           const float *restrict r3, const float *restrict r4,
                           const float *restrict r5, size_t n) {
    float *restrict q0 = R, *restrict q1 = R + pw, *restrict q2 = R + 2 * pw;
    float *restrict q3 = R + 3 * pw, *restrict q4 = R + 4 * pw, *restrict q5 = R + 5 * pw;
#pragma omp simd
    for (size_t x = 0; x < n; x++) {
        float d0 = r0[x], d1 = r1[x], d2 = r2[x], d3 = r3[x], d4 = r4[x], d5 = r5[x];
        q0[x] = 4.0f * d0 - 5.0f * d2 + d4;
        q1[x] = -4.0f * (d1 + d2) + d3 + d4;
        q2[x] = 4.0f * (d1 - d2) - d3 + d4;
        q3[x] = 2.0f * (d3 - d1) - d2 + d4;
        q4[x] = 2.0f * (d1 - d3) - d2 + d4;
        q5[x] = 4.0f * d1 - 5.0f * d3 + d5;
    }
}

/* (B^T d) B along a row: tile tx reads q[4tx .. 4tx+5]; output j goes to
 * v[j * stride + tx]. The row is first split by phase (ph[s][t] = q[4t+s],
 * a gap-free stride-4 group that vectorises with permutes); the
 * combination then reads ph[0..3][t] and ph[0..1][t+1] at unit stride. */
static void input_horizontal(float *restrict v, size_t stride, const float *restrict q, int tw,
                             float *restrict ph) {
    size_t ps = (size_t)tw + 1;
    float *p0 = ph, *p1 = ph + ps, *p2 = ph + 2 * ps, *p3 = ph + 3 * ps;
#pragma omp simd
    for (int t = 0; t <= tw; t++) {
        p0[t] = q[4 * t];
        p1[t] = q[4 * t + 1];
        p2[t] = q[4 * t + 2];
        p3[t] = q[4 * t + 3];
    }
    float *v0 = v, *v1 = v + stride, *v2 = v + 2 * stride;
    float *v3 = v + 3 * stride, *v4 = v + 4 * stride, *v5 = v + 5 * stride;
#pragma omp simd
    for (int tx = 0; tx < tw; tx++) {
        float d0 = p0[tx], d1 = p1[tx], d2 = p2[tx], d3 = p3[tx], d4 = p0[tx + 1], d5 = p1[tx + 1];
        v0[tx] = 4.0f * d0 - 5.0f * d2 + d4;
        v1[tx] = -4.0f * (d1 + d2) + d3 + d4;
        v2[tx] = 4.0f * (d1 - d2) - d3 + d4;
        v3[tx] = 2.0f * (d3 - d1) - d2 + d4;
        v4[tx] = 2.0f * (d1 - d3) - d2 + d4;
        v5[tx] = 4.0f * d1 - 5.0f * d3 + d5;
    }
}

/* V[xi][c][t] for tile rows ty0..ty1-1 of img (C, H, W); t counts tiles of
 * the block row by row. `rows` is the thread's row scratch. */
static void input_transform(float *V, const float *img, const geom *g, int C, int ty0, int ty1,
                            float *rows) {
    int H = g->H, W = g->W, tw = g->tw;
    size_t pw = g->pw, nb = (size_t)(ty1 - ty0) * tw, stride = xi_stride(C, nb);
    size_t n = (size_t)4 * tw + 2;
    float *R = rows, *zero = rows + 6 * pw; /* then the phase split (4 * (tw+1)) */
    memset(zero, 0, sizeof(float) * pw);
    /* R row i holds column x - 1 of the image at index x: the zero
     * padding columns 0 and W+1.. stay zero in every combination. */
    for (int i = 0; i < 6; i++) { /* and 2 more for the phase split */
        R[i * pw] = 0.0f;
        for (size_t x = (size_t)W + 1; x < n + 2; x++) R[i * pw + x] = 0.0f;
    }
    for (int c = 0; c < C; c++) {
        const float *plane = img + (size_t)c * H * W;
        for (int ty = ty0; ty < ty1; ty++) {
            const float *r[6];
            for (int i = 0; i < 6; i++) {
                int y = 4 * ty - 1 + i;
                r[i] = y < 0 || y >= H ? NULL : plane + (size_t)y * W;
            }
#if SONO_NN_AVX512
            if (g->simd) {
                /* The next channel's rows are 64 KB on at 128x128: a jump
                 * the hardware prefetcher does not make in time. Measured
                 * (32 channels, 128x128, one thread): forward 0.85 -> 0.63
                 * ms per sample; with the output rows fetched for writing
                 * likewise, 0.59 (for dpre in the weight gradient: no
                 * gain). */
                for (int i = 0; c + 1 < C && i < 6; i++)
                    if (r[i]) sono_prefetch(r[i] + (size_t)H * W, (size_t)W);
                sono_wino_input_row_avx512(V + (size_t)c * nb + (size_t)(ty - ty0) * tw, stride, r,
                                           W, tw);
                continue;
            }
#endif
            for (int i = 0; i < 6; i++)
                if (!r[i]) r[i] = zero;
            input_vertical(R + 1, pw, r[0], r[1], r[2], r[3], r[4], r[5], (size_t)W);
            float *v = V + (size_t)c * nb + (size_t)(ty - ty0) * tw;
            for (int i = 0; i < 6; i++)
                input_horizontal(v + 6 * i * stride, stride, R + i * pw, tw, zero + pw);
        }
    }
}

/* Output row a of a tile row: y[x] = act((A^T Z)[a][x] + b), act(v) = v > 0 ?
 * v : slope * v (slope 1: identity). One loop per row keeps each branch-free. */
static void output_row(float *restrict y, int a, const float *restrict z0,
                       const float *restrict z1, const float *restrict z2,
                       const float *restrict z3, const float *restrict z4,
                       const float *restrict z5, int W, float b, float slope) {
    switch (a) {
    case 0:
#pragma omp simd
        for (int x = 0; x < W; x++) {
            float v = z0[x] + z1[x] + z2[x] + z3[x] + z4[x] + b;
            y[x] = v > 0.0f ? v : slope * v;
        }
        break;
    case 1:
#pragma omp simd
        for (int x = 0; x < W; x++) {
            float v = z1[x] - z2[x] + 2.0f * (z3[x] - z4[x]) + b;
            y[x] = v > 0.0f ? v : slope * v;
        }
        break;
    case 2:
#pragma omp simd
        for (int x = 0; x < W; x++) {
            float v = z1[x] + z2[x] + 4.0f * (z3[x] + z4[x]) + b;
            y[x] = v > 0.0f ? v : slope * v;
        }
        break;
    default:
#pragma omp simd
        for (int x = 0; x < W; x++) {
            float v = z1[x] - z2[x] + 8.0f * (z3[x] - z4[x]) + z5[x] + b;
            y[x] = v > 0.0f ? v : slope * v;
        }
        break;
    }
}

/* out (O, H, W) rows of tile rows ty0..ty1-1 = act(A^T M A + bias). */
static void output_transform(float *out, const float *M, const float *bias, sono_act act,
                             const geom *g, int O, int ty0, int ty1, float *rows) {
    int H = g->H, W = g->W, tw = g->tw;
    size_t pw = g->pw, nb = (size_t)(ty1 - ty0) * tw, stride = xi_stride(O, nb);
    float slope = act == SONO_ACT_LRELU ? SONO_LRELU_SLOPE : act == SONO_ACT_RELU ? 0.0f : 1.0f;
    for (int o = 0; o < O; o++) {
        float b = bias ? bias[o] : 0.0f;
        for (int ty = ty0; ty < ty1; ty++) {
            const float *m = M + (size_t)o * nb + (size_t)(ty - ty0) * tw;
#if SONO_NN_AVX512
            if (g->simd) {
                float *y[4];
                for (int a = 0; a < 4; a++) { /* and the next channel's, to be written */
                    y[a] = 4 * ty + a < H ? out + ((size_t)o * H + 4 * ty + a) * W : NULL;
                    if (y[a] && o + 1 < O) sono_prefetch_w(y[a] + (size_t)H * W, (size_t)W);
                }
                sono_wino_output_row_avx512(y, m, stride, W, tw, b, slope);
                continue;
            }
#endif
            for (int i = 0; i < 6; i++) { /* Z_i = (M A) row i, interleaved by tile */
                const float *restrict m0 = m + (6 * i) * stride, *restrict m1 = m0 + stride;
                const float *restrict m2 = m1 + stride, *restrict m3 = m2 + stride;
                const float *restrict m4 = m3 + stride, *restrict m5 = m4 + stride;
                float *restrict z = rows + i * pw;
#pragma omp simd
                for (int tx = 0; tx < tw; tx++) {
                    float a = m1[tx] + m2[tx], s = m1[tx] - m2[tx];
                    float c = m3[tx] + m4[tx], d = m3[tx] - m4[tx];
                    z[4 * tx + 0] = m0[tx] + a + c;
                    z[4 * tx + 1] = s + 2.0f * d;
                    z[4 * tx + 2] = a + 4.0f * c;
                    z[4 * tx + 3] = s + 8.0f * d + m5[tx];
                }
            }
            const float *restrict z0 = rows, *restrict z1 = rows + pw, *restrict z2 = rows + 2 * pw;
            const float *restrict z3 = rows + 3 * pw, *restrict z4 = rows + 4 * pw;
            const float *restrict z5 = rows + 5 * pw;
            for (int a = 0; a < 4 && 4 * ty + a < H; a++) /* A^T (M A), bias, activation */
                output_row(out + ((size_t)o * H + 4 * ty + a) * W, a, z0, z1, z2, z3, z4, z5, W, b,
                           slope);
        }
    }
}

/* Yh[xi][o][t] = (A dY A^T)[xi] for the 4x4 tiles of dpre (O, H, W), zero
 * outside the image. */
static void grad_transform(float *Yh, const float *dpre, const geom *g, int ty0, int ty1,
                           float *rows) {
    int H = g->H, W = g->W, tw = g->tw, O = g->O;
    size_t pw = g->pw, nb = (size_t)(ty1 - ty0) * tw, stride = xi_stride(O, nb);
    size_t n = (size_t)4 * tw;
    float *pad = rows, *S = rows + 6 * pw, *zero = rows + 12 * pw;
    memset(zero, 0, sizeof(float) * pw);
    for (int o = 0; o < O; o++) {
        const float *plane = dpre + (size_t)o * H * W;
        for (int ty = ty0; ty < ty1; ty++) {
            const float *r[4];
#if SONO_NN_AVX512
            if (g->simd) {
                for (int a = 0; a < 4; a++)
                    r[a] = 4 * ty + a < H ? plane + (size_t)(4 * ty + a) * W : NULL;
                sono_wino_grad_row_avx512(Yh + (size_t)o * nb + (size_t)(ty - ty0) * tw, stride, r, W,
                                          tw);
                continue;
            }
#endif
            for (int a = 0; a < 4; a++) {
                int y = 4 * ty + a;
                if (y >= H) r[a] = zero;
                else if ((size_t)W == n) r[a] = plane + (size_t)y * W;
                else {
                    float *p = pad + a * pw;
                    memcpy(p, plane + (size_t)y * W, sizeof(float) * (size_t)W);
                    memset(p + W, 0, sizeof(float) * (n - (size_t)W));
                    r[a] = p;
                }
            }
            { /* S = A dY (6 rows) */
                const float *restrict d0 = r[0], *restrict d1 = r[1], *restrict d2 = r[2];
                const float *restrict d3 = r[3];
                float *restrict s0 = S, *restrict s1 = S + pw, *restrict s2 = S + 2 * pw;
                float *restrict s3 = S + 3 * pw, *restrict s4 = S + 4 * pw, *restrict s5 = S + 5 * pw;
#pragma omp simd
                for (size_t x = 0; x < n; x++) {
                    float e = d0[x] + d2[x], f = d1[x] + d3[x];
                    float e4 = d0[x] + 4.0f * d2[x], f4 = 2.0f * d1[x] + 8.0f * d3[x];
                    s0[x] = d0[x];
                    s1[x] = e + f;
                    s2[x] = e - f;
                    s3[x] = e4 + f4;
                    s4[x] = e4 - f4;
                    s5[x] = d3[x];
                }
            }
            float *yh = Yh + (size_t)o * nb + (size_t)(ty - ty0) * tw;
            for (int i = 0; i < 6; i++) { /* (A dY) A^T */
                const float *restrict q = S + i * pw;
                float *restrict v0 = yh + (6 * i) * stride, *restrict v1 = v0 + stride;
                float *restrict v2 = v1 + stride, *restrict v3 = v2 + stride;
                float *restrict v4 = v3 + stride, *restrict v5 = v4 + stride;
#pragma omp simd
                for (int tx = 0; tx < tw; tx++) {
                    float a = q[4 * tx], b = q[4 * tx + 1], c = q[4 * tx + 2], d = q[4 * tx + 3];
                    float e = a + c, f = b + d, e4 = a + 4.0f * c, f4 = 2.0f * b + 8.0f * d;
                    v0[tx] = a;
                    v1[tx] = e + f;
                    v2[tx] = e - f;
                    v3[tx] = e4 + f4;
                    v4[tx] = e4 - f4;
                    v5[tx] = d;
                }
            }
        }
    }
}

/* ---- passes ---- */

/* Per-thread scratch pointers. */
typedef struct scratch {
    float *V, *M, *rows, *dpre, *dU;
} scratch;

static scratch thread_scratch(float *ws, const geom *g, int thread) {
    float *base = ws + weights_floats(g) + (size_t)thread * thread_floats(g);
    scratch s;
    s.V = base;
    s.M = s.V + block_floats(g);
    s.rows = s.M + block_floats(g);
    s.dpre = s.rows + rows_floats(g);
    s.dU = s.dpre + dpre_floats(g);
    return s;
}

/* Rows ty0 .. ty0 + g->rows - 1 (clipped) of out (Co, H, W) =
 * act(conv(img (Ci, H, W)) + bias) with transformed weights U (X, Co, Ci). */
static void forward_block(float *out, const float *img, const float *U, const float *bias,
                          int Ci, int Co, sono_act act, const geom *g, const scratch *s, int ty0) {
    int ty1 = ty0 + g->rows < g->th ? ty0 + g->rows : g->th, nb = (ty1 - ty0) * g->tw;
    input_transform(s->V, img, g, Ci, ty0, ty1, s->rows);
    for (int xi = 0; xi < XI; xi++) {
        const float *u = U + (size_t)xi * Co * Ci, *v = s->V + xi * xi_stride(Ci, nb);
        float *m = s->M + xi * xi_stride(Co, nb);
        if (g->simd) sono_sgemm_nn(Co, nb, Ci, u, Ci, v, nb, m, nb);
        else
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Co, nb, Ci, 1.0f, u, Ci, v, nb,
                        0.0f, m, nb);
    }
    output_transform(out, s->M, bias, act, g, Co, ty0, ty1, s->rows);
}

/* The whole sample. */
static void forward_sample(float *out, const float *img, const float *U, const float *bias,
                           int Ci, int Co, sono_act act, const geom *g, const scratch *s) {
    for (int ty0 = 0; ty0 < g->th; ty0 += g->rows)
        forward_block(out, img, U, bias, Ci, Co, act, g, s, ty0);
}

/* With fewer samples than threads, the samples' blocks are shared out
 * instead (DeepDream's steps run one sample). Each tile's arithmetic does
 * not depend on the block it falls in with the AVX-512 transforms and
 * sono_sgemm_nn (columns are independent, K summed in order), so there
 * blocks may be made smaller to give every thread one; the portable path
 * keeps its blocks, as OpenBLAS's result may depend on the sizes. Returns
 * the geometry to use and sets *blocks (per sample). */
static geom split_geom(const geom *g, int N, int threads, int *blocks) {
    geom h = *g;
    if (h.simd) {
        int per = (threads + N - 1) / N, r = (h.th + per - 1) / per;
        if (r < h.rows) h.rows = r;
    }
    *blocks = (h.th + h.rows - 1) / h.rows;
    return h;
}

/* out (N, Co, H, W) from img (N, Ci, H, W), (sample, block) pairs in
 * parallel. */
static void forward_split(float *out, const float *const *img, const float *U, const float *bias,
                          int N, int Ci, int Co, sono_act act, const geom *g, float *ws,
                          int threads) {
    int blocks;
    geom h = split_geom(g, N, threads, &blocks);
    size_t hw = (size_t)g->H * g->W;
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int i = 0; i < N * blocks; i++) {
        int n = i / blocks, b = i % blocks;
        scratch s = thread_scratch(ws, g, omp_get_thread_num());
        forward_block(out + (size_t)n * Co * hw, img[n], U, bias, Ci, Co, act, &h, &s, b * h.rows);
    }
}

void sono_winograd_forward(float *out, const float *inp, const float *weight, const float *bias,
                           int N, int C, int H, int W, int O, sono_act act, float *ws, int threads,
                           int portable, sono_wino_cache *cache) {
    geom g = make_geom(C, H, W, O, portable);
    size_t hw = (size_t)H * W;
    const float *U = transformed_weights(cache, 0, weight, O, C, ws, threads);
    int blas = sono_blas_single();
    if (N > 0 && N < threads) {
        const float *img[N];
        for (int n = 0; n < N; n++) img[n] = inp + (size_t)n * C * hw;
        forward_split(out, img, U, bias, N, C, O, act, &g, ws, threads);
    } else {
#pragma omp parallel for schedule(static) num_threads(threads)
        for (int n = 0; n < N; n++) {
            scratch s = thread_scratch(ws, &g, omp_get_thread_num());
            forward_sample(out + (size_t)n * O * hw, inp + (size_t)n * C * hw, U, bias, C, O, act,
                           &g, &s);
        }
    }
    sono_blas_restore(blas);
}

static void backward_sample(float *din, float *pw, float *pb, const float *dout, const float *out,
                            const float *img, const float *Uflip, const geom *g, sono_act act,
                            const scratch *s) {
    int C = g->C, O = g->O;
    size_t hw = (size_t)g->H * g->W;
    const float *dpre = sono_conv2d_act_grad(s->dpre, pb, dout, out, O, hw, act);
    if (pw) {
        for (int ty0 = 0; ty0 < g->th; ty0 += g->rows) {
            int ty1 = ty0 + g->rows < g->th ? ty0 + g->rows : g->th, nb = (ty1 - ty0) * g->tw;
            input_transform(s->V, img, g, C, ty0, ty1, s->rows);
            grad_transform(s->M, dpre, g, ty0, ty1, s->rows);
            for (int xi = 0; xi < XI; xi++) {
                const float *yh = s->M + xi * xi_stride(O, nb), *v = s->V + xi * xi_stride(C, nb);
                float *du = s->dU + xi * du_stride(O, C);
                if (g->simd) sono_sgemm_nt(O, C, nb, yh, nb, v, nb, du, C, ty0 > 0);
                else
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, O, C, nb, 1.0f, yh, nb, v,
                                nb, ty0 ? 1.0f : 0.0f, du, C);
            }
        }
        weight_grad_transform(pw, s->dU, O, C, s->dU + (size_t)XI * du_stride(O, C));
    }
    if (din) forward_sample(din, dpre, Uflip, NULL, O, C, SONO_ACT_NONE, g, s);
}

void sono_winograd_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *out, const float *inp, const float *weight, int N, int C,
                            int H, int W, int O, sono_act act, float *ws, int threads,
                            int portable, sono_wino_cache *cache) {
    geom g = make_geom(C, H, W, O, portable);
    size_t hw = (size_t)H * W, nw = (size_t)O * C * 9, stride = partial_floats(C, O);
    float *partials = ws + weights_floats(&g) + (size_t)threads * thread_floats(&g);
    const float *Uflip = dinp ? transformed_weights(cache, 1, weight, C, O, ws, threads) : ws;
    int blas = sono_blas_single();
    if (!dweight && dinp && N > 0 && N < threads) {
        /* Input gradient only: dpre of sample n goes to thread n's scratch
         * (n < threads), by channel ranges in parallel (elementwise, and
         * each channel's bias sum is unchanged), then the blocks of the
         * transposed convolution are shared out as in the forward pass. */
        int per = (threads + N - 1) / N, oc = (O + per - 1) / per;
        const float *dpre[N];
        for (int n = 0; n < N; n++)
            dpre[n] = act == SONO_ACT_NONE ? dout + (size_t)n * O * hw
                                           : thread_scratch(ws, &g, n).dpre;
        if (act != SONO_ACT_NONE || dbias) {
#pragma omp parallel for schedule(static) num_threads(threads)
            for (int i = 0; i < N * per; i++) {
                int n = i / per, o0 = (i % per) * oc, o1 = o0 + oc < O ? o0 + oc : O;
                if (o0 >= o1) continue;
                size_t off = (size_t)n * O * hw + (size_t)o0 * hw;
                sono_conv2d_act_grad(thread_scratch(ws, &g, n).dpre + (size_t)o0 * hw,
                                     dbias ? partials + (size_t)n * stride + nw + o0 : NULL,
                                     dout + off, out + off, o1 - o0, hw, act);
            }
        }
        forward_split(dinp, dpre, Uflip, NULL, N, O, C, SONO_ACT_NONE, &g, ws, threads);
        if (dbias) sono_conv2d_reduce(dbias, partials + nw, stride, (size_t)O, N, threads);
        sono_blas_restore(blas);
        return;
    }
#pragma omp parallel for schedule(static) num_threads(threads)
    for (int n = 0; n < N; n++) {
        scratch s = thread_scratch(ws, &g, omp_get_thread_num());
        float *part = partials + (size_t)n * stride;
        backward_sample(dinp ? dinp + (size_t)n * C * hw : NULL, dweight ? part : NULL,
                        dbias ? part + nw : NULL, dout + (size_t)n * O * hw,
                        out + (size_t)n * O * hw, inp + (size_t)n * C * hw, Uflip, &g, act, &s);
    }
    if (dweight) sono_conv2d_reduce(dweight, partials, stride, nw, N, threads);
    if (dbias) sono_conv2d_reduce(dbias, partials + nw, stride, (size_t)O, N, threads);
    sono_blas_restore(blas);
}
