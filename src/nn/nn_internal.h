/* Private to src/nn: hashing for counter-based randomness, BLAS threading,
 * and the network struct shared by net.c, net_pass.c and model_file.c. */
#ifndef SONO_NN_INTERNAL_H
#define SONO_NN_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/core_internal.h"
#include "sonodream/nn.h"

/* Floats in one sample of shape s. */
static inline size_t sono_shape_size(sono_shape s) { return (size_t)s.c * s.h * s.w; }

/* A stream key from up to three counters; each stream then hashes its index. */
static inline uint64_t sono_stream_key(uint64_t seed, uint64_t a, uint64_t b, uint64_t domain) {
    return sono_mix64(sono_mix64(sono_mix64(seed ^ domain) ^ a) ^ b);
}

/* Uniform in [0, 1) with 24 random bits (exactly representable in float). */
static inline float sono_stream_uniform(uint64_t key, uint64_t index) {
    return (float)(sono_mix64(key ^ (index * 0xD1B54A32D192ED03ull)) >> 40) * (1.0f / 16777216.0f);
}

#define SONO_DOMAIN_DROPOUT 0x64726f706f757431ull /* "dropout1" */
#define SONO_DOMAIN_INIT 0x696e697469616c31ull    /* "initial1" */

/* BLAS runs single-threaded while we parallelise with OpenMP around it (the
 * pthread OpenBLAS would otherwise start its own threads inside each of
 * ours). OpenBLAS's count is one setting for the process, so these sections
 * are counted across threads (nn_util.c): the first to enter sets 1, the last
 * to leave restores the count saved then. sono_blas_single returns that
 * saved count; sono_blas_restore ends a section (its argument is unused). */
int sono_blas_single(void);
void sono_blas_restore(int previous);

/* OpenMP threads to use with a workspace sized for ws_threads. */
int sono_nn_threads(int ws_threads);

/* Kernels written with AVX-512 intrinsics (gemm_small.c,
 * winograd_avx512.c) are built when the compiler targets it (-march=native
 * on such a machine); otherwise portable loops and cblas run. */
#if defined(__AVX512F__) && defined(__AVX512DQ__)
#define SONO_NN_AVX512 1
#else
#define SONO_NN_AVX512 0
#endif

/* Convolution algorithms (conv2d.c picks one per layer shape; tests force
 * each to compare them). Winograd F(4x4, 3x3) serves k = 3 only;
 * WINOGRAD_PORTABLE is the same with the portable transforms and cblas
 * products, which WINOGRAD runs when AVX-512 is not built. */
typedef enum sono_conv_algo {
    SONO_CONV_AUTO = 0,
    SONO_CONV_IM2COL,
    SONO_CONV_WINOGRAD,
    SONO_CONV_WINOGRAD_PORTABLE
} sono_conv_algo;

/* The algorithm SONO_CONV_AUTO runs for this shape. */
sono_conv_algo sono_conv2d_algo(int C, int H, int W, int O, int k);

/* sono_conv2d_forward/backward with a given algorithm (AUTO: the choice
 * above; WINOGRAD with k != 3 falls back to im2col). The workspace is
 * sono_conv2d_workspace_floats, which covers both. */
void sono_conv2d_forward_with(float *out, const float *inp, const float *weight, const float *bias,
                              int N, int C, int H, int W, int O, int k, sono_act act, float *ws,
                              int threads, sono_conv_algo algo);
void sono_conv2d_backward_with(float *dinp, float *dweight, float *dbias, const float *dout,
                               const float *out, const float *inp, const float *weight, int N,
                               int C, int H, int W, int O, int k, sono_act act, float *ws,
                               int threads, sono_conv_algo algo);

/* A layer's Winograd-transformed weights kept between passes, with the
 * weights they were made from (see transformed_weights in
 * conv2d_winograd.c). One per 3x3 convolution of a net. */
typedef struct sono_wino_cache {
    float *U, *Uflip;        /* (36, O, C) and (36, C, O) */
    float *key, *key_flip;   /* (O * C * 9) the weights each was made from */
    int valid, valid_flip;
} sono_wino_cache;

sono_wino_cache *sono_wino_cache_new(int O, int C);
void sono_wino_cache_free(sono_wino_cache *cache);

/* sono_conv2d_forward/backward (AUTO algorithm) reusing a layer's cache
 * (may be NULL) when the Winograd kernels run. */
void sono_conv2d_forward_cached(float *out, const float *inp, const float *weight, const float *bias, int N, int C,
                                int H, int W, int O, int k, sono_act act, float *ws, int threads,
                                sono_wino_cache *cache);
void sono_conv2d_backward_cached(float *dinp, float *dweight, float *dbias, const float *dout, const float *out,
                                 const float *inp, const float *weight, int N, int C, int H, int W, int O, int k,
                                 sono_act act, float *ws, int threads, sono_wino_cache *cache);

/* conv2d_winograd.c: the 3x3 kernels, same contracts as sono_conv2d_*;
 * `portable` forces the portable transforms and cblas products; cache may
 * be NULL. */
size_t sono_winograd_workspace_floats(int N, int C, int H, int W, int O, int threads);
void sono_winograd_forward(float *out, const float *inp, const float *weight, const float *bias,
                           int N, int C, int H, int W, int O, sono_act act, float *ws, int threads,
                           int portable, sono_wino_cache *cache);
void sono_winograd_backward(float *dinp, float *dweight, float *dbias, const float *dout,
                            const float *out, const float *inp, const float *weight, int N, int C,
                            int H, int W, int O, sono_act act, float *ws, int threads,
                            int portable, sono_wino_cache *cache);

#if SONO_NN_AVX512
/* winograd_avx512.c: the transforms of one tile row of one channel, tw
 * tiles. v receives 36 rows v[xi * stride + tile]; m is read the same way.
 * rows: the 6 input rows 4ty-1..4ty+4 (NULL outside the image); d: the 4
 * dpre rows 4ty..4ty+3; y: the 4 output rows (NULL past the image), which
 * get act(A^T m A + bias) with act(v) = v > 0 ? v : slope * v. */
void sono_wino_input_row_avx512(float *v, size_t stride, const float *const rows[6], int W,
                                int tw);
void sono_wino_output_row_avx512(float *const y[4], const float *m, size_t stride, int W, int tw,
                                 float bias, float slope);
void sono_wino_grad_row_avx512(float *v, size_t stride, const float *const d[4], int W, int tw);
/* Ask for the cache lines of p[0..n) (prefetch hints; _w: to be written). */
void sono_prefetch(const float *p, size_t n);
void sono_prefetch_w(float *p, size_t n);
#endif

/* gemm_small.c: single-threaded row-major sgemms for small operands
 * (AVX-512 loops when compiled for it, else cblas_sgemm).
 * nn: C (M, N) = A (M, K) @ B (K, N).
 * nt: C (M, N) = A (M, K) @ B (N, K)^T, added to C when `accumulate`. */
void sono_sgemm_nn(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                   int ldc);
void sono_sgemm_nt(int M, int N, int K, const float *A, int lda, const float *B, int ldb, float *C,
                   int ldc, int accumulate);

/* conv2d_grad.c: the backward steps of both convolution algorithms.
 * One sample's dpre (O, hw) = dout * act'(out), and with pb (O) not NULL
 * the bias gradient pb[o] = sum of row o of dpre (in a fixed order).
 * Returns dpre, or dout itself for SONO_ACT_NONE (dpre is then not written). */
const float *sono_conv2d_act_grad(float *dpre, float *pb, const float *dout, const float *out,
                                  int O, size_t hw, sono_act act);

/* dst[j] += sum over n of partials[n * stride + j], j < count, samples in
 * order 0..N-1 whatever the thread count. */
void sono_conv2d_reduce(float *dst, const float *partials, size_t stride, size_t count, int N,
                        int threads);

typedef struct sono_layer {
    sono_layer_info info;
    int ordinal;            /* 1-based count within its type (dropout RNG key) */
    float *weight, *bias;   /* conv/dense weight and bias, bn gamma and beta */
    float *dweight, *dbias;
    float *run_mean, *run_var; /* bn (C) */
    float *mean, *invstd;      /* bn (C) saved by forward */
    float *out;             /* (max_batch, out) activations */
    int32_t *argmax;        /* pool: (max_batch, out) */
    size_t out_cap;         /* floats in out */
    sono_wino_cache *wino;  /* 3x3 conv: transformed weights kept between passes */
    sono_shape cur_in, cur_out; /* shapes of the last pass */
} sono_layer;

struct sono_net {
    sono_arch arch;
    char spec[SONO_ARCH_TEXT_MAX];
    sono_shape input;
    int classes;
    int max_batch;
    int count;                       /* layers */
    sono_layer layers[SONO_NET_MAX_LAYERS];

    float *params, *grads;           /* (nparams) each */
    size_t nparams;
    float *buffers;                  /* (nbuffers) bn running stats */
    size_t nbuffers;
    sono_tensor_info *tensors;       /* (ntensors) */
    int ntensors;

    float *in;                       /* (max_batch, C, H, W) copy of the input */
    size_t in_cap;
    float *dbuf[2];                  /* (dbuf_cap) ping-pong gradients */
    size_t dbuf_cap;
    float *ws;                       /* (ws_cap) conv/dense workspace */
    size_t ws_cap;
    int ws_threads;
    float *stats;                    /* bn saved mean/invstd */
    float *act_mem;                  /* every layer's out, one block */
    int32_t *argmax_mem;
    float *probs, *dlogits;          /* (max_batch, classes) */

    uint64_t rng_seed, rng_step;
    uint64_t pass_step;              /* dropout step of the last train forward */
    int64_t sample_offset;           /* of this process's part in a split batch (dropout) */
    /* the last pass */
    int pass_batch, pass_last, pass_train, pass_valid, pass_full, loss_valid;
    sono_shape pass_input;
};

/* net.c: sono_net_new with a check of the planned tensors (names, shapes) that
 * runs before anything large is allocated: the model loader uses it to refuse
 * a file whose tensors do not fit its arch before building that network. */
typedef sono_status (*sono_net_tensor_check)(const sono_net *planned, void *user, sono_error *err);
sono_status sono_net_new_checked(sono_net **out, const char *spec, sono_shape input, int classes, int max_batch,
                                 uint64_t seed, sono_net_tensor_check check, void *user, sono_error *err);

/* net_pass.c: whether a pass of `batch` inputs H x W up to layer `last` fits
 * the buffers the network was built with; the layers' shapes in `shapes`. */
sono_status sono_net_plan_pass(const sono_net *net, int batch, int H, int W, int last,
                               sono_shape *shapes, sono_error *err);

#endif
