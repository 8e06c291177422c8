/* Neural-network core: every layer's gradients against central finite
 * differences of a double-precision reference forward, the whole network
 * (input gradient and the DeepDream input gradient at a middle layer
 * included), the spec parser, max-pool edge windows, learning a toy problem,
 * determinism across runs and thread counts, and the model file. */
#include <omp.h>
#include <stdint.h>

#include "check.h"
#include "nn/nn_internal.h"
#include "sonodream/nn.h"
#include "sonodream/safetensors.h"

/* ---- test randomness (xorshift64*, fixed seed) ---- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static double urand(void) {
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    return (double)((rng * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}

static double uniform(double lo, double hi) { return lo + (hi - lo) * urand(); }

/* Away from 0 (activation kinks): magnitude in [0.1, 1], random sign. */
static double away_from_zero(void) {
    double v = uniform(0.1, 1.0);
    return urand() < 0.5 ? -v : v;
}

static double *dalloc(size_t n) {
    double *p = calloc(n ? n : 1, sizeof(double));
    if (!p) exit(2);
    return p;
}

static float *falloc(size_t n) {
    float *p = calloc(n ? n : 1, sizeof(float));
    if (!p) exit(2);
    return p;
}

static float *to_float(const double *d, size_t n) {
    float *f = falloc(n);
    for (size_t i = 0; i < n; i++) f[i] = (float)d[i];
    return f;
}

/* Parameters as used by the float code, so the reference sees the same values. */
static void round_to_float(double *d, size_t n) {
    for (size_t i = 0; i < n; i++) d[i] = (float)d[i];
}

/* ---- double-precision reference layers ---- */

static double act_d(double v, sono_act a) {
    if (a == SONO_ACT_RELU) return v > 0 ? v : 0;
    if (a == SONO_ACT_LRELU) return v > 0 ? v : 0.2 * v;
    return v;
}

static void conv_ref(double *out, const double *in, const double *w, const double *b, int N, int C,
                     int H, int W, int O, int k, sono_act act) {
    int p = k / 2;
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++)
            for (int y = 0; y < H; y++)
                for (int x = 0; x < W; x++) {
                    double s = b ? b[o] : 0;
                    for (int c = 0; c < C; c++)
                        for (int ky = 0; ky < k; ky++)
                            for (int kx = 0; kx < k; kx++) {
                                int sy = y + ky - p, sx = x + kx - p;
                                if (sy < 0 || sy >= H || sx < 0 || sx >= W) continue;
                                s += w[((o * C + c) * k + ky) * k + kx] *
                                     in[((n * C + c) * H + sy) * W + sx];
                            }
                    out[((n * O + o) * H + y) * W + x] = act_d(s, act);
                }
}

/* TensorFlow SAME: pad = out*k - in, pad/2 before. */
static void pool_ref(double *out, const double *in, int N, int C, int H, int W, int k) {
    int Ho = (H + k - 1) / k, Wo = (W + k - 1) / k;
    int ty = (Ho * k - H) / 2, tx = (Wo * k - W) / 2;
    for (int p = 0; p < N * C; p++)
        for (int oy = 0; oy < Ho; oy++)
            for (int ox = 0; ox < Wo; ox++) {
                double m = -INFINITY;
                for (int y = oy * k - ty; y < oy * k - ty + k; y++)
                    for (int x = ox * k - tx; x < ox * k - tx + k; x++)
                        if (y >= 0 && y < H && x >= 0 && x < W && in[(p * H + y) * W + x] > m)
                            m = in[(p * H + y) * W + x];
                out[(p * Ho + oy) * Wo + ox] = m;
            }
}

static void dense_ref(double *out, const double *in, const double *w, const double *b, int N,
                      int F, int O, sono_act act) {
    for (int n = 0; n < N; n++)
        for (int o = 0; o < O; o++) {
            double s = b ? b[o] : 0;
            for (int f = 0; f < F; f++) s += w[o * F + f] * in[n * F + f];
            out[n * O + o] = act_d(s, act);
        }
}

/* Batch statistics when train, else the given running stats. */
static void bn_ref(double *out, const double *in, const double *gamma, const double *beta, int N,
                   int C, int HW, int train, const float *run_mean, const float *run_var) {
    for (int c = 0; c < C; c++) {
        double m = 0, v = 0, cnt = (double)N * HW;
        if (train) {
            for (int n = 0; n < N; n++)
                for (int i = 0; i < HW; i++) m += in[(n * C + c) * HW + i];
            m /= cnt;
            for (int n = 0; n < N; n++)
                for (int i = 0; i < HW; i++) v += pow(in[(n * C + c) * HW + i] - m, 2);
            v /= cnt;
        } else {
            m = run_mean[c];
            v = run_var[c];
        }
        for (int n = 0; n < N; n++)
            for (int i = 0; i < HW; i++)
                out[(n * C + c) * HW + i] =
                    gamma[c] * (in[(n * C + c) * HW + i] - m) / sqrt(v + 1e-5) + beta[c];
    }
}

static void dropout_ref(double *out, const double *in, size_t count, double rate, uint64_t seed,
                        uint64_t step, uint32_t layer) {
    for (size_t i = 0; i < count; i++)
        out[i] = sono_dropout_keep(seed, step, layer, i, (float)rate) ? in[i] / (1 - (double)(float)rate)
                                                                     : 0;
}

static double xent_ref(const double *z, const int32_t *labels, int N, int K) {
    double loss = 0;
    for (int n = 0; n < N; n++) {
        double s = 0;
        for (int j = 0; j < K; j++) s += exp(z[n * K + j]);
        loss += log(s) - z[n * K + labels[n]];
    }
    return loss / N;
}

/* ---- finite differences ---- */

/* A scalar objective of some double tensors. */
typedef double (*objective_fn)(double *const *tensors, void *ctx);

#define FD_EPS 1e-6

/* Compare an analytic float gradient with central differences of f w.r.t.
 * tensors[t]. The tolerance is relative to the larger of the element's
 * gradient and a tenth of the tensor's largest, with an absolute floor of
 * 1e-6 for gradients that are 0 in exact arithmetic (a conv bias before
 * batch norm): float sums of O(0.1) terms that cancel leave a few 1e-7. */
static void check_gradient(const char *what, objective_fn f, void *ctx, double *const *tensors,
                           int t, size_t count, const float *analytic) {
    double *num = dalloc(count), scale = 0;
    for (size_t i = 0; i < count; i++) {
        double keep = tensors[t][i];
        tensors[t][i] = keep + FD_EPS;
        double up = f(tensors, ctx);
        tensors[t][i] = keep - FD_EPS;
        double down = f(tensors, ctx);
        tensors[t][i] = keep;
        num[i] = (up - down) / (2 * FD_EPS);
        if (fabs(num[i]) > scale) scale = fabs(num[i]);
    }
    int bad = 0;
    for (size_t i = 0; i < count && bad < 3; i++) {
        double tol = 2e-3 * fmax(fabs(num[i]), 0.1 * scale) + 1e-6;
        if (!(fabs(analytic[i] - num[i]) <= tol)) {
            fprintf(stderr, "%s: element %zu analytic %.8g numeric %.8g\n", what, i,
                    (double)analytic[i], num[i]);
            bad++;
        }
    }
    CHECK_MSG(bad == 0, "%s: gradient mismatch", what);
    CHECK_MSG(scale > 0 || count == 0, "%s: gradient is all zero (test too weak)", what);
    free(num);
}

static void check_close(const char *what, const float *a, const double *b, size_t n, double tol) {
    int bad = 0;
    for (size_t i = 0; i < n && bad < 3; i++)
        if (!(fabs(a[i] - b[i]) <= tol * fmax(1.0, fabs(b[i])))) {
            fprintf(stderr, "%s: element %zu float %.8g double %.8g\n", what, i, (double)a[i], b[i]);
            bad++;
        }
    CHECK_MSG(bad == 0, "%s: forward differs from the double reference", what);
}

/* Objective sum(out * R) with R random: every output gets its own weight. */
static double weighted_sum(const double *out, const double *R, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += out[i] * R[i];
    return s;
}

static double *random_weights(size_t n) {
    double *R = dalloc(n);
    for (size_t i = 0; i < n; i++) R[i] = uniform(-1, 1);
    return R;
}

/* ---- per-layer checks ---- */

typedef struct conv_case {
    int N, C, H, W, O, k;
    sono_act act;
    double *R, *out;
} conv_case;

static double conv_objective(double *const *t, void *ctx) {
    conv_case *c = ctx;
    conv_ref(c->out, t[0], t[1], t[2], c->N, c->C, c->H, c->W, c->O, c->k, c->act);
    return weighted_sum(c->out, c->R, (size_t)c->N * c->O * c->H * c->W);
}

static const char *algo_name(sono_conv_algo algo) {
    return algo == SONO_CONV_WINOGRAD            ? "winograd"
           : algo == SONO_CONV_WINOGRAD_PORTABLE ? "winograd (portable)"
           : algo == SONO_CONV_IM2COL            ? "im2col"
                                                 : "auto";
}

static void test_conv(int N, int C, int H, int W, int O, int k, sono_act act, sono_conv_algo algo) {
    conv_case c = {N, C, H, W, O, k, act, NULL, NULL};
    size_t nin = (size_t)N * C * H * W, nw = (size_t)O * C * k * k, nout = (size_t)N * O * H * W;
    double *x = dalloc(nin), *w = dalloc(nw), *b = dalloc(O);
    for (size_t i = 0; i < nin; i++) x[i] = uniform(-1, 1);
    for (size_t i = 0; i < nw; i++) w[i] = uniform(-0.5, 0.5);
    for (int i = 0; i < O; i++) b[i] = uniform(-0.2, 0.2);
    round_to_float(x, nin);
    round_to_float(w, nw);
    round_to_float(b, O);
    c.R = random_weights(nout);
    c.out = dalloc(nout);
    int threads = omp_get_max_threads();
    float *ws = falloc(sono_conv2d_workspace_floats(N, C, H, W, O, k, threads));
    float *fx = to_float(x, nin), *fw = to_float(w, nw), *fb = to_float(b, O);
    float *out = falloc(nout), *dout = to_float(c.R, nout);
    float *dx = falloc(nin), *dw = falloc(nw), *db = falloc(O);
    sono_conv2d_forward_with(out, fx, fw, fb, N, C, H, W, O, k, act, ws, threads, algo);
    double *tensors[3] = {x, w, b};
    conv_objective(tensors, &c);
    char what[96];
    snprintf(what, sizeof what, "conv %s N%d C%d %dx%d O%d k%d %s", algo_name(algo), N, C, H, W, O,
             k, sono_act_name(act));
    check_close(what, out, c.out, nout, 1e-5);
    for (size_t i = 0; i < nw; i++) dw[i] = 0.5f; /* backward adds: start from a known value */
    sono_conv2d_backward_with(dx, dw, db, dout, out, fx, fw, N, C, H, W, O, k, act, ws, threads,
                              algo);
    for (size_t i = 0; i < nw; i++) dw[i] -= 0.5f;
    check_gradient(what, conv_objective, &c, tensors, 0, nin, dx);
    check_gradient(what, conv_objective, &c, tensors, 1, nw, dw);
    check_gradient(what, conv_objective, &c, tensors, 2, (size_t)O, db);
    /* Only the input gradient (DeepDream): the same dx, parameters untouched. */
    float *dx2 = falloc(nin);
    sono_conv2d_backward_with(dx2, NULL, NULL, dout, out, fx, fw, N, C, H, W, O, k, act, ws,
                              threads, algo);
    CHECK(memcmp(dx, dx2, nin * sizeof(float)) == 0);
    free(dx2);
    free(x), free(w), free(b), free(c.R), free(c.out), free(ws), free(fx), free(fw), free(fb);
    free(out), free(dout), free(dx), free(dw), free(db);
}

/* The small sgemms of the Winograd products against double sums, with
 * row, column and depth counts off the register blocks (8 x 32 for nn,
 * 4 x 4 x 16 for nt) and leading dimensions larger than the rows. */
static void test_small_gemm(int M, int N, int K) {
    int lda = K + 3, ldb_nn = N + 5, ldb_nt = K + 1, ldc = N + 2;
    float *A = falloc((size_t)M * lda), *Bn = falloc((size_t)K * ldb_nn);
    float *Bt = falloc((size_t)N * ldb_nt), *C = falloc((size_t)M * ldc);
    for (size_t i = 0; i < (size_t)M * lda; i++) A[i] = (float)uniform(-1, 1);
    for (size_t i = 0; i < (size_t)K * ldb_nn; i++) Bn[i] = (float)uniform(-1, 1);
    for (size_t i = 0; i < (size_t)N * ldb_nt; i++) Bt[i] = (float)uniform(-1, 1);
    double tol = 1e-6 * K + 1e-6;
    int bad = 0;
    for (size_t i = 0; i < (size_t)M * ldc; i++) C[i] = 9.0f; /* the gaps must stay */
    sono_sgemm_nn(M, N, K, A, lda, Bn, ldb_nn, C, ldc);
    for (int m = 0; m < M; m++)
        for (int n = 0; n < ldc; n++) {
            double s = 0;
            for (int k = 0; k < K && n < N; k++) s += (double)A[m * lda + k] * Bn[k * ldb_nn + n];
            bad += !(fabs(C[m * ldc + n] - (n < N ? s : 9.0)) <= tol);
        }
    for (int pass = 0; pass < 2; pass++) { /* overwrite, then accumulate */
        sono_sgemm_nt(M, N, K, A, lda, Bt, ldb_nt, C, ldc, pass);
        for (int m = 0; m < M; m++)
            for (int n = 0; n < ldc; n++) {
                double s = 0;
                for (int k = 0; k < K && n < N; k++) s += (double)A[m * lda + k] * Bt[n * ldb_nt + k];
                bad += !(fabs(C[m * ldc + n] - (n < N ? (pass + 1) * s : 9.0)) <= 2 * tol);
            }
    }
    CHECK_MSG(bad == 0, "small sgemm M%d N%d K%d: %d elements off", M, N, K, bad);
    free(A), free(Bn), free(Bt), free(C);
}

/* Winograd against im2col at realistic channel counts (too many elements for
 * finite differences): forward, input, weight and bias gradients, each
 * relative to the largest magnitude of the im2col result. Both also against
 * a double reference forward. Reports the worst Winograd error. */
static double max_abs(const float *a, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(a[i]));
    return m;
}

static double rel_diff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d / fmax(max_abs(b, n), 1e-30);
}

static void test_conv_agreement(int N, int C, int H, int W, int O, sono_act act) {
    size_t nin = (size_t)N * C * H * W, nw = (size_t)O * C * 9, nout = (size_t)N * O * H * W;
    int threads = omp_get_max_threads();
    float *ws = falloc(sono_conv2d_workspace_floats(N, C, H, W, O, 3, threads));
    float *x = falloc(nin), *w = falloc(nw), *b = falloc(O), *dout = falloc(nout);
    double bound = sqrt(3.0 / (C * 9)); /* Kaiming-like weights, unit inputs */
    for (size_t i = 0; i < nin; i++) x[i] = (float)uniform(-1, 1);
    for (size_t i = 0; i < nw; i++) w[i] = (float)uniform(-bound, bound);
    for (int i = 0; i < O; i++) b[i] = (float)uniform(-0.2, 0.2);
    for (size_t i = 0; i < nout; i++) dout[i] = (float)uniform(-1, 1);
    float *out[3], *dx[3], *dw[3], *db[3];
    sono_conv_algo algos[3] = {SONO_CONV_IM2COL, SONO_CONV_WINOGRAD, SONO_CONV_WINOGRAD_PORTABLE};
    for (int a = 0; a < 3; a++) {
        out[a] = falloc(nout), dx[a] = falloc(nin), dw[a] = falloc(nw), db[a] = falloc(O);
        sono_conv2d_forward_with(out[a], x, w, b, N, C, H, W, O, 3, act, ws, threads, algos[a]);
        sono_conv2d_backward_with(dx[a], dw[a], db[a], dout, out[a], x, w, N, C, H, W, O, 3, act,
                                  ws, threads, algos[a]);
    }
    double *xd = dalloc(nin), *wd = dalloc(nw), *bd = dalloc(O), *ref = dalloc(nout);
    for (size_t i = 0; i < nin; i++) xd[i] = x[i];
    for (size_t i = 0; i < nw; i++) wd[i] = w[i];
    for (int i = 0; i < O; i++) bd[i] = b[i];
    conv_ref(ref, xd, wd, bd, N, C, H, W, O, 3, act);
    double scale = 0, e_ref[3] = {0, 0, 0};
    for (size_t i = 0; i < nout; i++) scale = fmax(scale, fabs(ref[i]));
    for (int a = 0; a < 3; a++)
        for (size_t i = 0; i < nout; i++) e_ref[a] = fmax(e_ref[a], fabs(out[a][i] - ref[i]) / scale);
    /* Against im2col. (Where two forwards straddled the activation's kink,
     * the backward passes would take different slopes; it does not happen
     * with these inputs.) */
    for (int a = 1; a < 3; a++) {
        double e_out = rel_diff(out[a], out[0], nout), e_dx = rel_diff(dx[a], dx[0], nin);
        double e_dw = rel_diff(dw[a], dw[0], nw), e_db = rel_diff(db[a], db[0], (size_t)O);
        char what[96];
        snprintf(what, sizeof what, "%s vs im2col N%d C%d %dx%d O%d %s", algo_name(algos[a]), N, C,
                 H, W, O, sono_act_name(act));
        fprintf(stderr, "%s: forward %.1e, dinp %.1e, dweight %.1e, dbias %.1e; forward against "
                "double %.1e (im2col %.1e)\n", what, e_out, e_dx, e_dw, e_db, e_ref[a], e_ref[0]);
        CHECK_MSG(e_ref[a] < 1e-5 && e_out < 1e-5, "%s: forward", what);
        CHECK_MSG(e_dx < 1e-4 && e_dw < 1e-4 && e_db < 1e-4, "%s: gradients", what);
    }
    for (int a = 0; a < 3; a++) free(out[a]), free(dx[a]), free(dw[a]), free(db[a]);
    free(ws), free(x), free(w), free(b), free(dout), free(xd), free(wd), free(bd), free(ref);
}

/* With fewer samples than threads the Winograd passes share out each
 * sample's tile-row blocks (forward, and the input gradient without a weight
 * gradient): the results must equal the one-thread ones bit for bit. */
static void test_winograd_split(int N, int C, int H, int W, int O, sono_act act) {
    size_t nin = (size_t)N * C * H * W, nout = (size_t)N * O * H * W, nw = (size_t)O * C * 9;
    int tmax = 4;
    float *ws = falloc(sono_conv2d_workspace_floats(N, C, H, W, O, 3, tmax));
    float *x = falloc(nin), *w = falloc(nw), *b = falloc(O), *dout = falloc(nout);
    double bound = sqrt(3.0 / (C * 9));
    for (size_t i = 0; i < nin; i++) x[i] = (float)uniform(-1, 1);
    for (size_t i = 0; i < nw; i++) w[i] = (float)uniform(-bound, bound);
    for (int i = 0; i < O; i++) b[i] = (float)uniform(-0.2, 0.2);
    for (size_t i = 0; i < nout; i++) dout[i] = (float)uniform(-1, 1);
    sono_conv_algo algos[2] = {SONO_CONV_WINOGRAD, SONO_CONV_WINOGRAD_PORTABLE};
    for (int a = 0; a < 2; a++) {
        float *out[2], *dx[2], *db[2];
        int threads[2] = {1, tmax};
        for (int r = 0; r < 2; r++) {
            out[r] = falloc(nout), dx[r] = falloc(nin), db[r] = falloc(O);
            sono_conv2d_forward_with(out[r], x, w, b, N, C, H, W, O, 3, act, ws, threads[r], algos[a]);
            memset(db[r], 0, sizeof(float) * O);
            sono_conv2d_backward_with(dx[r], NULL, db[r], dout, out[r], x, w, N, C, H, W, O, 3, act,
                                      ws, threads[r], algos[a]);
        }
        CHECK_MSG(!memcmp(out[0], out[1], nout * sizeof(float)) &&
                      !memcmp(dx[0], dx[1], nin * sizeof(float)) &&
                      rel_diff(db[1], db[0], (size_t)O) < 1e-6,
                  "%s split N%d C%d %dx%d O%d %s: differs from one thread", algo_name(algos[a]), N,
                  C, H, W, O, sono_act_name(act));
        for (int r = 0; r < 2; r++) free(out[r]), free(dx[r]), free(db[r]);
    }
    free(ws), free(x), free(w), free(b), free(dout);
}

typedef struct pool_case {
    int N, C, H, W, k;
    double *R, *out;
} pool_case;

static double pool_objective(double *const *t, void *ctx) {
    pool_case *c = ctx;
    pool_ref(c->out, t[0], c->N, c->C, c->H, c->W, c->k);
    size_t nout = (size_t)c->N * c->C * sono_pool_out_size(c->H, c->k) * sono_pool_out_size(c->W, c->k);
    return weighted_sum(c->out, c->R, nout);
}

static void test_pool(int N, int C, int H, int W, int k) {
    pool_case c = {N, C, H, W, k, NULL, NULL};
    size_t nin = (size_t)N * C * H * W;
    size_t nout = (size_t)N * C * sono_pool_out_size(H, k) * sono_pool_out_size(W, k);
    /* Distinct values spaced 1e-3 apart: no ties, no argmax flips under FD_EPS. */
    double *x = dalloc(nin);
    for (size_t i = 0; i < nin; i++) x[i] = (double)i * 1e-3;
    for (size_t i = nin - 1; i > 0; i--) {
        size_t j = (size_t)(urand() * (double)(i + 1));
        double t = x[i];
        x[i] = x[j], x[j] = t;
    }
    c.R = random_weights(nout);
    c.out = dalloc(nout);
    float *fx = to_float(x, nin), *out = falloc(nout), *dout = to_float(c.R, nout), *dx = falloc(nin);
    int32_t *argmax = calloc(nout, sizeof *argmax);
    sono_maxpool_forward(out, argmax, fx, N, C, H, W, k);
    double *tensors[1] = {x};
    pool_objective(tensors, &c);
    char what[64];
    snprintf(what, sizeof what, "maxpool %dx%d k%d", H, W, k);
    check_close(what, out, c.out, nout, 1e-6);
    sono_maxpool_backward(dx, dout, argmax, N, C, H, W, k);
    check_gradient(what, pool_objective, &c, tensors, 0, nin, dx);
    free(x), free(c.R), free(c.out), free(fx), free(out), free(dout), free(dx), free(argmax);
}

/* Hand-computed windows: H=5 -> 3 rows [0,1] [2,3] [4]; W=3 -> [0,1] [2];
 * and H=6, k=4 -> 2 rows with TF's split padding: [0..2] and [3..5]. */
static void test_pool_by_hand(void) {
    const float in[15] = {1, 9, 2, 4, 3, 8, 7, 5, 6, 0, 11, 10, 13, 12, 14};
    const float expect[6] = {9, 8, 11, 10, 13, 14};
    const int32_t expect_arg[6] = {1, 5, 10, 11, 12, 14};
    float out[6], din[15];
    int32_t arg[6];
    CHECK(sono_pool_out_size(5, 2) == 3 && sono_pool_out_size(3, 2) == 2);
    sono_maxpool_forward(out, arg, in, 1, 1, 5, 3, 2);
    for (int i = 0; i < 6; i++) {
        CHECK_NEAR(out[i], expect[i], 0);
        CHECK(arg[i] == expect_arg[i]);
    }
    const float dout[6] = {1, 2, 3, 4, 5, 6};
    sono_maxpool_backward(din, dout, arg, 1, 1, 5, 3, 2);
    const float expect_din[15] = {0, 1, 0, 0, 0, 2, 0, 0, 0, 0, 3, 4, 5, 0, 6};
    CHECK(memcmp(din, expect_din, sizeof din) == 0);

    /* Ties go to the first maximum in row-major order (k = 4 and 2 take the
     * vectorised column pick). */
    float tie[32] = {0};
    tie[1 * 8 + 0] = 5, tie[0 * 8 + 3] = 5;                     /* window 0: (0,3) before (1,0) */
    tie[2 * 8 + 6] = 7, tie[2 * 8 + 5] = 7, tie[3 * 8 + 4] = 7; /* window 1: (2,5) */
    float tout[2];
    int32_t targ[2];
    sono_maxpool_forward(tout, targ, tie, 1, 1, 4, 8, 4);
    CHECK(tout[0] == 5 && tout[1] == 7 && targ[0] == 3 && targ[1] == 21);
    const float tie2[8] = {1, 3, 3, 2, 3, 0, 2, 2};
    sono_maxpool_forward(tout, targ, tie2, 1, 1, 2, 4, 2);
    CHECK(tout[0] == 3 && tout[1] == 3 && targ[0] == 1 && targ[1] == 2);

    const float col[6] = {5, 1, 2, 9, 3, 4};
    float out2[2], din2[6];
    int32_t arg2[2];
    sono_maxpool_forward(out2, arg2, col, 1, 1, 6, 1, 4);
    CHECK(out2[0] == 5 && out2[1] == 9 && arg2[0] == 0 && arg2[1] == 3);
    const float dout2[2] = {1, 2};
    sono_maxpool_backward(din2, dout2, arg2, 1, 1, 6, 1, 4);
    const float expect_din2[6] = {1, 0, 0, 2, 0, 0};
    CHECK(memcmp(din2, expect_din2, sizeof din2) == 0);
}

typedef struct dense_case {
    int N, F, O;
    sono_act act;
    double *R, *out;
} dense_case;

static double dense_objective(double *const *t, void *ctx) {
    dense_case *c = ctx;
    dense_ref(c->out, t[0], t[1], t[2], c->N, c->F, c->O, c->act);
    return weighted_sum(c->out, c->R, (size_t)c->N * c->O);
}

static void test_dense(int N, int F, int O, sono_act act) {
    dense_case c = {N, F, O, act, NULL, NULL};
    size_t nin = (size_t)N * F, nw = (size_t)O * F, nout = (size_t)N * O;
    double *x = dalloc(nin), *w = dalloc(nw), *b = dalloc(O);
    for (size_t i = 0; i < nin; i++) x[i] = uniform(-1, 1);
    for (size_t i = 0; i < nw; i++) w[i] = uniform(-0.5, 0.5);
    for (int i = 0; i < O; i++) b[i] = uniform(-0.2, 0.2);
    round_to_float(x, nin), round_to_float(w, nw), round_to_float(b, O);
    c.R = random_weights(nout);
    c.out = dalloc(nout);
    float *fx = to_float(x, nin), *fw = to_float(w, nw), *fb = to_float(b, O);
    float *out = falloc(nout), *dout = to_float(c.R, nout), *ws = falloc(nout);
    float *dx = falloc(nin), *dw = falloc(nw), *db = falloc(O);
    sono_dense_forward(out, fx, fw, fb, N, F, O, act);
    double *tensors[3] = {x, w, b};
    dense_objective(tensors, &c);
    char what[64];
    snprintf(what, sizeof what, "dense N%d F%d O%d %s", N, F, O, sono_act_name(act));
    check_close(what, out, c.out, nout, 1e-5);
    sono_dense_backward(dx, dw, db, dout, out, fx, fw, N, F, O, act, ws);
    check_gradient(what, dense_objective, &c, tensors, 0, nin, dx);
    check_gradient(what, dense_objective, &c, tensors, 1, nw, dw);
    check_gradient(what, dense_objective, &c, tensors, 2, (size_t)O, db);
    free(x), free(w), free(b), free(c.R), free(c.out), free(fx), free(fw), free(fb);
    free(out), free(dout), free(ws), free(dx), free(dw), free(db);
}

typedef struct bn_case {
    int N, C, HW, train;
    const float *run_mean, *run_var;
    double *R, *out;
} bn_case;

static double bn_objective(double *const *t, void *ctx) {
    bn_case *c = ctx;
    bn_ref(c->out, t[0], t[1], t[2], c->N, c->C, c->HW, c->train, c->run_mean, c->run_var);
    return weighted_sum(c->out, c->R, (size_t)c->N * c->C * c->HW);
}

static void test_batchnorm(int N, int C, int HW, int train) {
    size_t n = (size_t)N * C * HW;
    double *x = dalloc(n), *g = dalloc(C), *b = dalloc(C);
    for (size_t i = 0; i < n; i++) x[i] = uniform(-2, 3);
    for (int i = 0; i < C; i++) g[i] = uniform(0.5, 1.5), b[i] = uniform(-0.5, 0.5);
    round_to_float(x, n), round_to_float(g, C), round_to_float(b, C);
    float *rm = falloc(C), *rv = falloc(C), *rm0 = falloc(C), *rv0 = falloc(C);
    for (int i = 0; i < C; i++) rm[i] = rm0[i] = (float)uniform(-1, 1), rv[i] = rv0[i] = (float)uniform(0.5, 2);
    bn_case c = {N, C, HW, train, rm0, rv0, random_weights(n), dalloc(n)};
    float *fx = to_float(x, n), *fg = to_float(g, C), *fb = to_float(b, C);
    float *out = falloc(n), *dout = to_float(c.R, n), *dx = falloc(n), *dg = falloc(C), *db = falloc(C);
    float *mean = falloc(C), *invstd = falloc(C);
    sono_batchnorm_forward(out, mean, invstd, rm, rv, fx, fg, fb, N, C, HW, train);
    double *tensors[3] = {x, g, b};
    bn_objective(tensors, &c);
    char what[64];
    snprintf(what, sizeof what, "batchnorm N%d C%d HW%d %s", N, C, HW, train ? "train" : "infer");
    check_close(what, out, c.out, n, 1e-5);
    /* Running stats as PyTorch: 0.9 old + 0.1 batch, unbiased variance. */
    for (int ch = 0; train && ch < C; ch++) {
        double m = 0, v = 0, cnt = (double)N * HW;
        for (int s = 0; s < N; s++)
            for (int i = 0; i < HW; i++) m += x[(s * C + ch) * HW + i];
        m /= cnt;
        for (int s = 0; s < N; s++)
            for (int i = 0; i < HW; i++) v += pow(x[(s * C + ch) * HW + i] - m, 2);
        v /= cnt - 1;
        CHECK_NEAR(rm[ch], 0.9 * rm0[ch] + 0.1 * m, 1e-5);
        CHECK_NEAR(rv[ch], 0.9 * rv0[ch] + 0.1 * v, 1e-5);
    }
    for (int ch = 0; !train && ch < C; ch++) CHECK(rm[ch] == rm0[ch] && rv[ch] == rv0[ch]);
    sono_batchnorm_backward(dx, dg, db, dout, fx, mean, invstd, fg, N, C, HW, train);
    check_gradient(what, bn_objective, &c, tensors, 0, n, dx);
    check_gradient(what, bn_objective, &c, tensors, 1, (size_t)C, dg);
    check_gradient(what, bn_objective, &c, tensors, 2, (size_t)C, db);
    free(x), free(g), free(b), free(rm), free(rv), free(rm0), free(rv0), free(c.R), free(c.out);
    free(fx), free(fg), free(fb), free(out), free(dout), free(dx), free(dg), free(db), free(mean), free(invstd);
}

typedef struct elem_case {
    size_t n;
    int kind; /* 0 relu, 1 lrelu, 2 dropout */
    float rate;
    double *R, *out;
} elem_case;

static double elem_objective(double *const *t, void *ctx) {
    elem_case *c = ctx;
    if (c->kind == 2) dropout_ref(c->out, t[0], c->n, c->rate, 11, 5, 2);
    else
        for (size_t i = 0; i < c->n; i++) c->out[i] = act_d(t[0][i], c->kind ? SONO_ACT_LRELU : SONO_ACT_RELU);
    return weighted_sum(c->out, c->R, c->n);
}

static void test_elementwise(int kind) {
    size_t n = 200;
    elem_case c = {n, kind, 0.3f, random_weights(n), dalloc(n)};
    double *x = dalloc(n);
    for (size_t i = 0; i < n; i++) x[i] = (float)away_from_zero();
    float *fx = to_float(x, n), *out = falloc(n), *dout = to_float(c.R, n), *dx = falloc(n);
    sono_act act = kind ? SONO_ACT_LRELU : SONO_ACT_RELU;
    if (kind == 2) sono_dropout_forward(out, fx, n, c.rate, 11, 5, 2, 0);
    else sono_act_forward(out, fx, n, act);
    double *tensors[1] = {x};
    elem_objective(tensors, &c);
    const char *what = kind == 2 ? "dropout" : kind ? "lrelu" : "relu";
    check_close(what, out, c.out, n, 1e-6);
    if (kind == 2) sono_dropout_backward(dx, dout, n, c.rate, 11, 5, 2, 0);
    else sono_act_backward(dx, dout, out, n, act);
    check_gradient(what, elem_objective, &c, tensors, 0, n, dx);
    free(c.R), free(c.out), free(x), free(fx), free(out), free(dout), free(dx);
}

/* Dropout keeps about 1-rate of the elements, and each (step, layer) has its own mask. */
static void test_dropout_statistics(void) {
    size_t n = 100000, kept = 0, same = 0;
    for (size_t i = 0; i < n; i++) {
        int a = sono_dropout_keep(1, 0, 1, i, 0.25f);
        kept += (size_t)a;
        same += (size_t)(a == sono_dropout_keep(1, 1, 1, i, 0.25f));
    }
    CHECK_NEAR((double)kept / n, 0.75, 0.01);
    CHECK_NEAR((double)same / n, 0.75 * 0.75 + 0.25 * 0.25, 0.01);
}

typedef struct xent_case {
    int N, K;
    const int32_t *labels;
} xent_case;

static double xent_objective(double *const *t, void *ctx) {
    xent_case *c = ctx;
    return xent_ref(t[0], c->labels, c->N, c->K);
}

static void test_softmax_xent(void) {
    int N = 3, K = 4;
    int32_t labels[3] = {2, 0, 3};
    double z[12];
    for (int i = 0; i < 12; i++) z[i] = (float)uniform(-3, 3);
    float fz[12], probs[12], dz[12];
    for (int i = 0; i < 12; i++) fz[i] = (float)z[i];
    double loss = sono_softmax_xent(probs, dz, fz, labels, N, K);
    xent_case c = {N, K, labels};
    double *tensors[1] = {z};
    CHECK_NEAR(loss, xent_objective(tensors, &c), 1e-6);
    check_gradient("softmax xent", xent_objective, &c, tensors, 0, 12, dz);
    for (int n = 0; n < N; n++) {
        double s = 0;
        for (int j = 0; j < K; j++) s += probs[n * K + j];
        CHECK_NEAR(s, 1.0, 1e-6);
    }
    /* Huge logits: no overflow, the right loss. */
    float big[4] = {1e4f, -1e4f, 1e4f - 2, 0};
    int32_t l1[1] = {2};
    float pb[4], db[4];
    double lb = sono_softmax_xent(pb, db, big, l1, 1, 4);
    CHECK(isfinite(lb));
    CHECK_NEAR(lb, 2 + log1p(exp(-2.0)), 1e-5);
    CHECK_NEAR(pb[0] + pb[2], 1.0, 1e-6);
    float p2[4];
    sono_softmax(p2, big, 1, 4);
    CHECK(memcmp(p2, pb, sizeof pb) == 0);
}

/* ---- the spec parser and layer names ---- */

static void expect_spec_error(const char *spec, const char *fragment) {
    sono_arch a;
    sono_error err = {0};
    sono_status st = sono_arch_parse(spec, &a, &err);
    CHECK_MSG(st == SONO_ERR_ARGUMENT, "spec '%s' was accepted", spec);
    CHECK_MSG(strstr(err.message, fragment) != NULL, "spec '%s': message '%s' lacks '%s'", spec,
              err.message, fragment);
}

static void test_spec(void) {
    sono_error err = {0};
    sono_arch a;
    char text[SONO_ARCH_TEXT_MAX];
    CHECK(sono_arch_preset_count() == 5);
    for (int i = 0; i < sono_arch_preset_count(); i++) {
        const char *name = sono_arch_preset_name(i);
        CHECK_OK(sono_arch_parse(name, &a, &err));
        sono_arch_format(&a, text, sizeof text);
        CHECK_MSG(strcmp(text, sono_arch_preset(name)) == 0, "%s formats as %s", name, text);
    }
    CHECK_OK(sono_arch_parse(NULL, &a, &err));
    CHECK(a.count == 11 && a.layers[0].type == SONO_LAYER_CONV && a.layers[0].units == 32);
    CHECK(a.layers[3].type == SONO_LAYER_DROPOUT && a.layers[3].rate == 0.25f);
    CHECK_OK(sono_arch_parse(" c16:k5 , bn, lr, p3, c8:relu:k1, d0, r, f10:linear, bn, lrelu ", &a, &err));
    CHECK(a.count == 10 && a.layers[0].kernel == 5 && a.layers[0].act == SONO_ACT_LRELU);
    CHECK(a.layers[4].kernel == 1 && a.layers[4].act == SONO_ACT_RELU);
    CHECK(a.layers[7].act == SONO_ACT_NONE && a.layers[9].type == SONO_LAYER_LRELU);
    sono_arch_format(&a, text, sizeof text);
    CHECK_MSG(strcmp(text, "c16:k5,bn,lr,p3,c8:k1:relu,d0,r,f10:linear,bn,lr") == 0, "formatted %s", text);
    sono_arch b;
    CHECK_OK(sono_arch_parse(text, &b, &err));
    CHECK(memcmp(&a, &b, sizeof a) == 0);
    /* A rate that needs all nine digits survives the canonical text (fuzzing
     * found "d.22222555622222222423" coming back as 0.222226). */
    CHECK_OK(sono_arch_parse("d.22222555622222222423,d0.1,d0.3333333", &a, &err));
    sono_arch_format(&a, text, sizeof text);
    CHECK_MSG(strcmp(text, "d0.22222556,d0.1,d0.3333333") == 0, "formatted %s", text);
    CHECK_OK(sono_arch_parse(text, &b, &err));
    CHECK(a.layers[0].rate == b.layers[0].rate && a.layers[1].rate == b.layers[1].rate &&
          a.layers[2].rate == b.layers[2].rate);
    char small[8];
    CHECK(sono_arch_format(&a, small, sizeof small) == (int)strlen(text) && strlen(small) == 7);

    expect_spec_error("c32,c32,c0", "arch spec: token 3 'c0': channel count must be in 1..4096");
    expect_spec_error("c5000", "token 1 'c5000': channel count");
    expect_spec_error("c32:k4", "token 1 'c32:k4': kernel size must be odd");
    expect_spec_error("c32:sigmoid", "unknown option 'sigmoid'");
    expect_spec_error("f8:k3", "unknown option 'k3'");
    expect_spec_error("c8,p1", "token 2 'p1': pool size");
    expect_spec_error("c8,d1.5", "token 2 'd1.5': dropout probability");
    expect_spec_error("d-0.1", "dropout probability");
    expect_spec_error("dx", "dropout probability");
    expect_spec_error("d0.5x", "dropout probability");
    /* Below 1 as a double, 1.0 as a float (found by fuzzing). */
    expect_spec_error("c8,d.99999999099", "token 2 'd.99999999099': dropout probability");
    expect_spec_error("c8,,f4", "token 2 '': empty token");
    expect_spec_error("c8,", "token 2 '': empty token");
    expect_spec_error("c8,q3", "token 2 'q3': unknown layer");
    expect_spec_error("c16,f10,c8", "token 3 'c8': conv after a dense layer");
    expect_spec_error("f10,p2", "token 2 'p2': pool after a dense layer");
    expect_spec_error("bn:relu", "takes no options");
    expect_spec_error("", "empty");
    expect_spec_error("   ", "empty");
    expect_spec_error("c", "channel count");
}

static void test_layer_names(void) {
    sono_error err = {0};
    sono_net *net = NULL;
    CHECK_OK(sono_net_new(&net, "seed", (sono_shape){1, 128, 126}, 10, 1, 1, &err));
    if (!net) return;
    const char *names[] = {"conv1", "conv2", "pool1", "drop1", "conv3", "conv4", "conv5",
                           "pool2", "drop2", "flatten", "fc1", "fc2", "logits"};
    CHECK(sono_net_layer_count(net) == 13);
    for (int i = 0; i < 13 && i < sono_net_layer_count(net); i++)
        CHECK_MSG(strcmp(sono_net_layer(net, i)->name, names[i]) == 0, "layer %d is %s", i,
                  sono_net_layer(net, i)->name);
    const sono_layer_info *p1 = sono_net_layer(net, sono_net_find_layer(net, "pool1"));
    CHECK(p1->out.c == 32 && p1->out.h == 32 && p1->out.w == 32);
    const sono_layer_info *p2 = sono_net_layer(net, sono_net_find_layer(net, "pool2"));
    CHECK(p2->out.c == 64 && p2->out.h == 8 && p2->out.w == 8);
    CHECK(sono_net_layer(net, 9)->out.c == 4096 && sono_net_layer(net, 12)->out.c == 10);
    CHECK(sono_net_layer(net, 4)->act == SONO_ACT_LRELU && sono_net_layer(net, 12)->act == SONO_ACT_NONE);
    CHECK(sono_net_find_layer(net, "conv6") == -1);
    sono_shape shapes[13];
    CHECK_OK(sono_net_layer_shapes(net, 64, 63, 8, shapes, &err));
    CHECK(shapes[8].c == 64 && shapes[8].h == 4 && shapes[8].w == 4);
    CHECK(sono_net_layer_shapes(net, 64, 63, 12, shapes, &err) == SONO_ERR_ARGUMENT);
    CHECK(strstr(err.message, "flatten") != NULL);
    const sono_tensor_info *t = sono_net_find_tensor(net, "conv1.weight");
    CHECK(t && t->ndim == 4 && t->shape[0] == 32 && t->shape[1] == 1 && t->shape[2] == 3 && t->shape[3] == 3);
    t = sono_net_find_tensor(net, "fc1.weight");
    CHECK(t && t->ndim == 2 && t->shape[0] == 256 && t->shape[1] == 4096);
    t = sono_net_find_tensor(net, "logits.bias");
    CHECK(t && t->ndim == 1 && t->shape[0] == 10);
    CHECK(sono_net_tensor_count(net) == 16);
    size_t total = 0, np;
    for (int i = 0; i < sono_net_tensor_count(net); i++) {
        const sono_tensor_info *ti = sono_net_tensor(net, i);
        CHECK(ti->is_param && ti->offset % 16 == 0 && ti->grad != NULL);
        total += ti->count;
    }
    sono_net_params(net, &np);
    CHECK(total <= np && np < total + 16 * 16);
    /* Kaiming-uniform bound for conv2: gain(lrelu 0.2) * sqrt(3 / (32*9)). */
    t = sono_net_find_tensor(net, "conv2.weight");
    double bound = sqrt(2.0 / 1.04) * sqrt(3.0 / 288), mx = 0;
    for (size_t i = 0; i < t->count; i++) mx = fmax(mx, fabs(t->data[i]));
    CHECK(mx <= bound && mx > 0.95 * bound);
    sono_net_free(net);
    sono_net_free(NULL);

    CHECK(sono_net_new(&net, "c8,f4", (sono_shape){1, 8, 8}, 3, 0, 1, &err) == SONO_ERR_ARGUMENT);
    CHECK(sono_net_new(&net, "c8,x", (sono_shape){1, 8, 8}, 3, 4, 1, &err) == SONO_ERR_ARGUMENT);
    CHECK(strstr(err.message, "token 2 'x'") != NULL && net == NULL);
    CHECK(sono_net_new(&net, "c8", (sono_shape){1, 0, 8}, 3, 4, 1, &err) == SONO_ERR_ARGUMENT);
}

/* ---- the whole network against a double-precision reference ---- */

typedef struct ref_net {
    const sono_net *net;
    double *params; /* the net's parameters in double, same layout */
    int batch, H, W, last, train;
    uint64_t seed, step;
    const int32_t *labels; /* loss objective when set */
    int objective;         /* 0 loss, 1 weighted sum with R, 2 0.5 * sum(out^2) */
    const double *R;
} ref_net;

static const double *param(const sono_net *net, const double *params, const char *layer,
                           const char *what) {
    char name[64];
    snprintf(name, sizeof name, "%s.%s", layer, what);
    return params + sono_net_find_tensor(net, name)->offset;
}

/* Forward layers 0..last of the net in double with the given parameters;
 * returns the output (malloc'd) and its shape. */
static double *ref_forward(const ref_net *r, const double *params, const double *x, sono_shape *shape) {
    const sono_net *net = r->net;
    int N = r->batch;
    sono_shape s = {sono_net_input_shape(net).c, r->H, r->W};
    double *cur = dalloc((size_t)N * s.c * s.h * s.w);
    memcpy(cur, x, (size_t)N * s.c * s.h * s.w * sizeof(double));
    for (int i = 0; i <= r->last; i++) {
        const sono_layer_info *li = sono_net_layer(net, i);
        sono_shape o = s;
        if (li->type == SONO_LAYER_CONV || li->type == SONO_LAYER_DENSE) o.c = li->units;
        if (li->type == SONO_LAYER_POOL) o.h = sono_pool_out_size(s.h, li->kernel), o.w = sono_pool_out_size(s.w, li->kernel);
        if (li->type == SONO_LAYER_FLATTEN || li->type == SONO_LAYER_DENSE) o.h = o.w = 1;
        if (li->type == SONO_LAYER_FLATTEN) o.c = s.c * s.h * s.w;
        size_t nin = (size_t)N * s.c * s.h * s.w, nout = (size_t)N * o.c * o.h * o.w;
        double *next = dalloc(nout);
        const double *w = NULL, *b = NULL;
        if (li->type == SONO_LAYER_CONV || li->type == SONO_LAYER_DENSE || li->type == SONO_LAYER_BATCHNORM) {
            w = param(net, params, li->name, "weight");
            b = param(net, params, li->name, "bias");
        }
        char name[64];
        switch (li->type) {
        case SONO_LAYER_CONV: conv_ref(next, cur, w, b, N, s.c, s.h, s.w, o.c, li->kernel, li->act); break;
        case SONO_LAYER_POOL: pool_ref(next, cur, N, s.c, s.h, s.w, li->kernel); break;
        case SONO_LAYER_DENSE: dense_ref(next, cur, w, b, N, s.c, o.c, li->act); break;
        case SONO_LAYER_BATCHNORM:
            snprintf(name, sizeof name, "%s.running_mean", li->name);
            const float *rm = sono_net_find_tensor(net, name)->data;
            snprintf(name, sizeof name, "%s.running_var", li->name);
            const float *rv = sono_net_find_tensor(net, name)->data;
            bn_ref(next, cur, w, b, N, s.c, s.h * s.w, r->train, rm, rv);
            break;
        case SONO_LAYER_DROPOUT:
            if (r->train) dropout_ref(next, cur, nin, li->rate, r->seed, r->step, (uint32_t)atoi(li->name + 4));
            else memcpy(next, cur, nin * sizeof(double));
            break;
        case SONO_LAYER_RELU:
        case SONO_LAYER_LRELU:
            for (size_t e = 0; e < nin; e++)
                next[e] = act_d(cur[e], li->type == SONO_LAYER_RELU ? SONO_ACT_RELU : SONO_ACT_LRELU);
            break;
        case SONO_LAYER_FLATTEN: memcpy(next, cur, nin * sizeof(double)); break;
        }
        free(cur);
        cur = next;
        s = o;
    }
    *shape = s;
    return cur;
}

/* tensors[0] is the input; the parameters are read from r->params, so a
 * gradient check can perturb a slice of them through tensors[1]. */
static double ref_objective(double *const *t, void *ctx) {
    const ref_net *r = ctx;
    sono_shape s;
    double *out = ref_forward(r, r->params, t[0], &s);
    size_t n = (size_t)r->batch * s.c * s.h * s.w;
    double v = 0;
    if (r->objective == 0) v = xent_ref(out, r->labels, r->batch, s.c);
    else if (r->objective == 1) v = weighted_sum(out, r->R, n);
    else
        for (size_t i = 0; i < n; i++) v += 0.5 * out[i] * out[i];
    free(out);
    return v;
}

static sono_net *make_net(const char *spec, sono_shape in, int classes, int batch, uint64_t seed) {
    sono_error err = {0};
    sono_net *net = NULL;
    if (sono_net_new(&net, spec, in, classes, batch, seed, &err) != SONO_OK) {
        fprintf(stderr, "sono_net_new(%s): %s\n", spec, err.message);
        exit(2);
    }
    return net;
}

/* Give biases and batch-norm parameters non-trivial values (init makes them 0 and 1). */
static void perturb_params(sono_net *net) {
    for (int i = 0; i < sono_net_tensor_count(net); i++) {
        const sono_tensor_info *t = sono_net_tensor(net, i);
        int is_bias = strstr(t->name, ".bias") != NULL;
        int is_bn = strncmp(t->name, "bn", 2) == 0;
        for (size_t e = 0; e < t->count; e++) {
            if (!t->is_param) t->data[e] = strstr(t->name, "var") ? (float)uniform(0.5, 2) : (float)uniform(-0.3, 0.3);
            else if (is_bn && !is_bias) t->data[e] = (float)uniform(0.6, 1.4);
            else if (is_bias) t->data[e] = (float)uniform(-0.2, 0.2);
        }
    }
}

static double *params_double(sono_net *net) {
    size_t np;
    float *p = sono_net_params(net, &np);
    double *d = dalloc(np);
    for (size_t i = 0; i < np; i++) d[i] = p[i];
    return d;
}

/* Every parameter tensor's gradient (the alignment gaps are not parameters). */
static void check_param_gradients(const char *what, ref_net *r, double *x, sono_net *net) {
    float *g = sono_net_grads(net, NULL);
    for (int i = 0; i < sono_net_tensor_count(net); i++) {
        const sono_tensor_info *t = sono_net_tensor(net, i);
        if (!t->is_param) continue;
        char label[200];
        snprintf(label, sizeof label, "%s: %s", what, t->name);
        double *tensors[2] = {x, r->params + t->offset};
        check_gradient(label, ref_objective, r, tensors, 1, t->count, g + t->offset);
    }
}

static double *random_input(size_t n) {
    double *x = dalloc(n);
    for (size_t i = 0; i < n; i++) x[i] = (float)uniform(-1, 1);
    return x;
}

/* Train mode, loss objective: input and every parameter gradient. */
static void test_network_gradients(const char *spec, sono_shape in, int classes, int batch) {
    sono_net *net = make_net(spec, in, classes, batch, 42);
    perturb_params(net);
    size_t nin = (size_t)batch * in.c * in.h * in.w;
    double *x = random_input(nin);
    float *fx = to_float(x, nin), *dx = falloc(nin);
    int32_t *labels = calloc((size_t)batch, sizeof *labels);
    for (int n = 0; n < batch; n++) labels[n] = (int32_t)(urand() * classes);
    sono_error err = {0};
    double loss = 0;
    sono_net_zero_grad(net);
    CHECK_OK(sono_net_forward(net, fx, batch, SONO_MODE_TRAIN, NULL, &err));
    CHECK_OK(sono_net_loss(net, labels, &loss, &err));
    CHECK_OK(sono_net_backward(net, sono_net_dlogits(net), dx, &err));
    uint64_t seed, step;
    sono_net_rng_state(net, &seed, &step);
    ref_net r = {net, params_double(net), batch, in.h, in.w, sono_net_layer_count(net) - 1, 1,
                 seed, step - 1, labels, 0, NULL};
    double *tensors[2] = {x, r.params};
    CHECK_NEAR(loss, ref_objective(tensors, &r), 1e-5);
    char what[160];
    snprintf(what, sizeof what, "network %s: input", spec);
    check_gradient(what, ref_objective, &r, tensors, 0, nin, dx);
    snprintf(what, sizeof what, "network %s", spec);
    check_param_gradients(what, &r, x, net);
    free(x), free(fx), free(dx), free(labels), free(r.params);
    sono_net_free(net);
}

static double l2_objective(float *dout, const float *out, int batch, sono_shape s, void *user) {
    (void)user;
    size_t n = (size_t)batch * s.c * s.h * s.w;
    double v = 0;
    for (size_t i = 0; i < n; i++) {
        dout[i] = out[i];
        v += 0.5 * (double)out[i] * out[i];
    }
    return v;
}

/* 0.5*|out|^2 weighted by layer (0.5 at the first listed, 2 at the
 * second), added into dout as sono_net_input_gradient_layers asks. */
static double weighted_l2_adding(int which, float *dout, const float *out, int batch, sono_shape s, void *user) {
    (void)user;
    const float w = which == 0 ? 0.5f : 2.0f;
    size_t n = (size_t)batch * s.c * s.h * s.w;
    double v = 0;
    for (size_t i = 0; i < n; i++) {
        dout[i] += w * out[i];
        v += 0.5 * w * (double)out[i] * out[i];
    }
    return v;
}

/* An objective of two layers is the sum of the two one-layer objectives,
 * value and input gradient; layers out of order are refused. */
static void test_input_gradient_layers(void) {
    sono_net *net = make_net("c4,p2,c4,f8", (sono_shape){1, 8, 8}, 3, 3, 11);
    perturb_params(net);
    const int layers[2] = {0, 2}, batch = 2, H = 8, W = 8;
    const size_t nin = (size_t)batch * H * W;
    double *x = random_input(nin);
    float *fx = to_float(x, nin), *both = falloc(nin), *first = falloc(nin), *second = falloc(nin);
    sono_error err = {0};
    double v_both = 0, v1 = 0, v2 = 0;
    CHECK_OK(sono_net_input_gradient_layers(net, fx, batch, H, W, layers, 2, weighted_l2_adding, NULL, both, &v_both,
                                            &err));
    CHECK_OK(sono_net_input_gradient(net, fx, batch, H, W, layers[0], l2_objective, NULL, first, &v1, &err));
    CHECK_OK(sono_net_input_gradient(net, fx, batch, H, W, layers[1], l2_objective, NULL, second, &v2, &err));
    CHECK_NEAR(v_both, 0.5 * v1 + 2 * v2, 1e-5 * (1 + fabs(v_both)));
    double worst = 0, largest = 0;
    for (size_t i = 0; i < nin; i++) {
        double want = 0.5 * first[i] + 2.0 * second[i];
        worst = fmax(worst, fabs(want - both[i]));
        largest = fmax(largest, fabs(want));
    }
    CHECK_MSG(worst <= 1e-5 * largest && largest > 0, "worst %.3g of %.3g", worst, largest);
    const int backwards[2] = {2, 0};
    CHECK(sono_net_input_gradient_layers(net, fx, batch, H, W, backwards, 2, weighted_l2_adding, NULL, both, NULL,
                                         &err) == SONO_ERR_ARGUMENT);
    CHECK_MSG(strstr(err.message, "increasing") != NULL, "message: %s", err.message);
    free(x), free(fx), free(both), free(first), free(second);
    sono_net_free(net);
}

/* DeepDream's operation: the input gradient of 0.5*|conv2|^2, at the built
 * shape, smaller and larger (fitting) inputs; parameter gradients untouched. */
static void test_input_gradient(void) {
    sono_net *net = make_net("c4,p2,c4,f8", (sono_shape){1, 8, 8}, 3, 3, 7);
    perturb_params(net);
    size_t np;
    float *g = sono_net_grads(net, &np);
    for (size_t i = 0; i < np; i++) g[i] = 7.0f;
    int layer = sono_net_find_layer(net, "conv2");
    CHECK(layer == 2);
    double *params = params_double(net);
    const int sizes[][3] = {{2, 8, 8}, {2, 5, 6}, {1, 8, 16}};
    sono_error err = {0};
    for (int c = 0; c < 3; c++) {
        if (c == 2) { /* larger than built: refused, then reserved */
            float big[128] = {0}, dbig[128];
            CHECK(sono_net_input_gradient(net, big, 1, 8, 16, layer, l2_objective, NULL, dbig, NULL, &err) ==
                  SONO_ERR_ARGUMENT);
            CHECK_MSG(strstr(err.message, "does not fit") != NULL, "message: %s", err.message);
            CHECK_OK(sono_net_reserve(net, 1, 8, 16, &err));
        }
        int batch = sizes[c][0], H = sizes[c][1], W = sizes[c][2];
        size_t nin = (size_t)batch * H * W;
        double *x = random_input(nin);
        float *fx = to_float(x, nin), *dx = falloc(nin);
        double obj = 0;
        if (sono_net_input_gradient(net, fx, batch, H, W, layer, l2_objective, NULL, dx, &obj, &err)) {
            fprintf(stderr, "input_gradient: %s\n", err.message);
            check_failures++;
        }
        ref_net r = {net, params, batch, H, W, layer, 0, 0, 0, NULL, 2, NULL};
        double *tensors[2] = {x, params};
        CHECK_NEAR(obj, ref_objective(tensors, &r), 1e-5 * fmax(1, fabs(obj)));
        char what[96];
        snprintf(what, sizeof what, "input gradient at conv2, batch %d of %dx%d", batch, H, W);
        check_gradient(what, ref_objective, &r, tensors, 0, nin, dx);
        free(x), free(fx), free(dx);
    }
    int untouched = 1;
    for (size_t i = 0; i < np; i++) untouched &= g[i] == 7.0f;
    CHECK_MSG(untouched, "the input gradient changed parameter gradients");
    float *buf = falloc(3 * 16 * 16), *dx = falloc(3 * 16 * 16);
    int logits = sono_net_layer_count(net) - 1;
    CHECK(sono_net_input_gradient(net, buf, 2, 5, 6, logits, l2_objective, NULL, dx, NULL, &err) == SONO_ERR_ARGUMENT);
    CHECK_MSG(strstr(err.message, "flatten") != NULL, "message: %s", err.message);
    CHECK(sono_net_input_gradient(net, buf, 3, 16, 16, layer, l2_objective, NULL, dx, NULL, &err) == SONO_ERR_ARGUMENT);
    CHECK_MSG(strstr(err.message, "does not fit") != NULL, "message: %s", err.message);
    /* The full net still works after reserve moved the buffers. */
    const float *lg;
    CHECK_OK(sono_net_forward(net, buf, 3, SONO_MODE_INFER, &lg, &err));
    CHECK(sono_net_input_gradient(net, buf, 4, 8, 8, layer, l2_objective, NULL, dx, NULL, &err) == SONO_ERR_ARGUMENT);
    CHECK(sono_net_input_gradient(net, buf, 1, 8, 8, logits + 1, l2_objective, NULL, dx, NULL, &err) == SONO_ERR_ARGUMENT);
    free(buf), free(dx), free(params);
    sono_net_free(net);
}

/* The two-step form at the logits with a class objective, in inference
 * mode through batch norm (running stats) and dropout (identity). */
static void test_class_objective(void) {
    const char *spec = "c3:k5:linear,bn,lr,p2,d0.3,c4:relu,r,f6,bn,d0.2,f5:linear";
    sono_shape in = {2, 6, 7};
    int batch = 3, classes = 4, target = 2;
    sono_net *net = make_net(spec, in, classes, batch, 5);
    perturb_params(net);
    size_t nin = (size_t)batch * in.c * in.h * in.w;
    double *x = random_input(nin);
    float *fx = to_float(x, nin), *dx = falloc(nin);
    sono_error err = {0};
    const float *out = NULL;
    sono_shape s = {0, 0, 0};
    int logits = sono_net_layer_count(net) - 1;
    CHECK_OK(sono_net_forward_to(net, fx, batch, in.h, in.w, logits, &out, &s, &err));
    CHECK(s.c == classes && s.h == 1 && s.w == 1);
    double *R = dalloc((size_t)batch * classes);
    float *dout = falloc((size_t)batch * classes);
    for (int n = 0; n < batch; n++) R[n * classes + target] = 1, dout[n * classes + target] = 1;
    CHECK_OK(sono_net_backward_to_input(net, dout, dx, &err));
    double *params = params_double(net);
    ref_net r = {net, params, batch, in.h, in.w, logits, 0, 0, 0, NULL, 1, R};
    double *tensors[2] = {x, params};
    check_gradient("class objective at logits (inference)", ref_objective, &r, tensors, 0, nin, dx);
    /* The net's top-gradient buffer works as dout too. */
    float *dx2 = falloc(nin);
    CHECK_OK(sono_net_forward_to(net, fx, batch, in.h, in.w, logits, &out, &s, &err));
    memcpy(sono_net_top_grad_buffer(net), dout, (size_t)batch * classes * sizeof(float));
    CHECK_OK(sono_net_backward_to_input(net, sono_net_top_grad_buffer(net), dx2, &err));
    CHECK(memcmp(dx, dx2, nin * sizeof(float)) == 0);
    free(x), free(fx), free(dx), free(dx2), free(R), free(dout), free(params);
    sono_net_free(net);
}

/* ---- training ---- */

/* Class 0: a bright row in the top half; class 1: in the bottom half. */
static void toy_data(float *x, int32_t *labels, int N) {
    for (int n = 0; n < N; n++) {
        labels[n] = n % 2;
        int row = labels[n] ? 4 + (int)(urand() * 4) : (int)(urand() * 4);
        for (int i = 0; i < 64; i++) x[n * 64 + i] = (float)uniform(-0.3, 0.3);
        for (int i = 0; i < 8; i++) x[n * 64 + row * 8 + i] += 1.0f;
    }
}

static void test_learns_toy_problem(void) {
    int N = 32;
    float x[32 * 64], probs[32 * 2];
    int32_t labels[32];
    toy_data(x, labels, N);
    sono_net *net = make_net("c4,p2,f8", (sono_shape){1, 8, 8}, 2, N, 3);
    sono_optim *opt = NULL;
    sono_error err = {0};
    sono_optim_config cfg = sono_optim_defaults(SONO_OPTIM_ADAM);
    cfg.lr = 1e-2f;
    size_t np;
    float *p = sono_net_params(net, &np);
    CHECK_OK(sono_optim_new(&opt, &cfg, np, &err));
    int correct = 0, step;
    double loss = 0;
    for (step = 0; step < 300 && correct < N; step++) {
        CHECK_OK(sono_net_compute_gradients(net, x, labels, N, &loss, &err));
        sono_optim_step(opt, p, sono_net_grads(net, NULL));
        CHECK_OK(sono_net_predict(net, x, N, probs, &err));
        correct = 0;
        for (int n = 0; n < N; n++) correct += (probs[n * 2 + 1] > probs[n * 2]) == labels[n];
    }
    CHECK_MSG(correct == N, "toy problem: %d of %d right after %d steps (loss %g)", correct, N, step, loss);
    CHECK(opt->step == step);
    sono_optim_free(opt);
    sono_optim_free(NULL);
    sono_net_free(net);
}

#define STEPS 10

/* Ten Adam steps of a net with dropout and batch norm on fixed data. */
static void train_steps(int threads, double *losses, float *params_out, size_t *np_out) {
    omp_set_num_threads(threads);
    int N = 8;
    sono_net *net = make_net("c8,p2,d0.25,c8,bn,p2,f16,d0.3", (sono_shape){1, 16, 16}, 4, N, 99);
    float x[8 * 256];
    int32_t labels[8];
    for (int i = 0; i < N * 256; i++) x[i] = (float)sin(i * 0.37) + 0.1f * (float)((i * 7919) % 13);
    for (int n = 0; n < N; n++) labels[n] = n % 4;
    size_t np;
    float *p = sono_net_params(net, &np);
    sono_optim *opt = NULL;
    sono_error err = {0};
    sono_optim_config cfg = sono_optim_defaults(SONO_OPTIM_ADAM);
    CHECK_OK(sono_optim_new(&opt, &cfg, np, &err));
    for (int s = 0; s < STEPS; s++) {
        CHECK_OK(sono_net_compute_gradients(net, x, labels, N, &losses[s], &err));
        sono_optim_step(opt, p, sono_net_grads(net, NULL));
    }
    memcpy(params_out, p, np * sizeof(float));
    *np_out = np;
    sono_optim_free(opt);
    sono_net_free(net);
}

static void test_determinism(void) {
    int saved = omp_get_max_threads();
    double a[STEPS], b[STEPS], c[STEPS];
    static float pa[200000], pb[200000], pc[200000];
    size_t na, nb, nc;
    train_steps(2, a, pa, &na);
    train_steps(2, b, pb, &nb);
    train_steps(1, c, pc, &nc);
    omp_set_num_threads(saved);
    CHECK(na == nb && na == nc && na < 200000);
    CHECK_MSG(memcmp(a, b, sizeof a) == 0, "same seed, different losses");
    CHECK_MSG(memcmp(pa, pb, na * sizeof(float)) == 0, "same seed, different parameters");
    for (int s = 0; s < STEPS; s++) CHECK_NEAR(a[s], c[s], 1e-4);
    double maxdiff = 0;
    for (size_t i = 0; i < na; i++) maxdiff = fmax(maxdiff, fabs(pa[i] - pc[i]));
    CHECK_MSG(maxdiff < 1e-4, "1 and 2 threads: parameters differ by %g", maxdiff);
    CHECK(a[STEPS - 1] < a[0]);
}

/* SGD by hand for two steps: buf = mu*buf + g + wd*p; p -= lr*buf. */
static void test_optimizers(void) {
    sono_error err = {0};
    sono_optim *o = NULL;
    sono_optim_config cfg = sono_optim_defaults(SONO_OPTIM_SGD);
    cfg.lr = 0.1f, cfg.momentum = 0.5f, cfg.weight_decay = 0.01f;
    CHECK_OK(sono_optim_new(&o, &cfg, 1, &err));
    float p = 1.0f, g = 2.0f;
    sono_optim_step(o, &p, &g);
    double buf = 2.0 + 0.01, pd = 1.0 - 0.1 * buf;
    CHECK_NEAR(p, pd, 1e-6);
    sono_optim_step(o, &p, &g);
    buf = 0.5 * buf + 2.0 + 0.01 * pd, pd -= 0.1 * buf;
    CHECK_NEAR(p, pd, 1e-6);
    CHECK(o->v == NULL && o->step == 2);
    sono_optim_free(o);
    /* Adam's first step moves each parameter by lr * sign(g) (bias correction). */
    cfg = sono_optim_defaults(SONO_OPTIM_ADAM);
    cfg.weight_decay = 0.1f;
    CHECK_OK(sono_optim_new(&o, &cfg, 2, &err));
    float p2[2] = {1.0f, -1.0f}, g2[2] = {0.3f, -5.0f};
    sono_optim_step(o, p2, g2);
    CHECK_NEAR(p2[0], 1.0 * (1 - 1e-4) - 1e-3, 1e-6);
    CHECK_NEAR(p2[1], -1.0 * (1 - 1e-4) + 1e-3, 1e-6);
    sono_optim_free(o);
    cfg.lr = -1;
    CHECK(sono_optim_new(&o, &cfg, 2, &err) == SONO_ERR_ARGUMENT && o == NULL);
}

/* ---- the model file ---- */

static void test_model_file(void) {
    char *dir = test_make_dir();
    char path[512], bad[512];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    snprintf(bad, sizeof bad, "%s/other.safetensors", dir);
    const char *spec = "c3:k5:linear,bn,lr,p2,d0.3,c4:relu,r,f6,bn,d0.2,f5:linear";
    sono_shape in = {2, 6, 7};
    int N = 4;
    sono_net *net = make_net(spec, in, 3, N, 17);
    size_t nin = (size_t)N * 2 * 6 * 7, np;
    double *xd = random_input(nin);
    float *x = to_float(xd, nin);
    int32_t labels[4] = {0, 1, 2, 1};
    sono_error err = {0};
    sono_optim *opt = NULL;
    sono_optim_config cfg = sono_optim_defaults(SONO_OPTIM_ADAM);
    float *p = sono_net_params(net, &np);
    CHECK_OK(sono_optim_new(&opt, &cfg, np, &err));
    double loss;
    for (int s = 0; s < 3; s++) {
        CHECK_OK(sono_net_compute_gradients(net, x, labels, N, &loss, &err));
        sono_optim_step(opt, p, sono_net_grads(net, NULL));
    }
    const char *keys[] = {"note"}, *values[] = {"hello"};
    CHECK_OK(sono_model_save(path, net, opt, keys, values, 1, &err));
    const char *reserved[] = {"arch"};
    CHECK(sono_model_save(bad, net, opt, reserved, values, 1, &err) == SONO_ERR_ARGUMENT);
    CHECK(strstr(err.message, "reserved") != NULL);

    sono_net *net2 = NULL;
    sono_optim *opt2 = NULL;
    CHECK_OK(sono_model_load(path, N, &net2, &opt2, &err));
    if (!net2 || !opt2) {
        fprintf(stderr, "load: %s\n", err.message);
        exit(1);
    }
    CHECK(strcmp(sono_net_spec(net2), sono_net_spec(net)) == 0);
    CHECK(sono_net_classes(net2) == 3 && sono_net_input_shape(net2).w == 7);
    for (int i = 0; i < sono_net_tensor_count(net); i++) {
        const sono_tensor_info *a = sono_net_tensor(net, i), *b = sono_net_tensor(net2, i);
        CHECK(strcmp(a->name, b->name) == 0 && memcmp(a->data, b->data, a->count * sizeof(float)) == 0);
    }
    CHECK(opt2->step == 3 && opt2->cfg.kind == SONO_OPTIM_ADAM && opt2->cfg.lr == cfg.lr);
    CHECK(memcmp(opt->m, opt2->m, np * sizeof(float)) == 0 && memcmp(opt->v, opt2->v, np * sizeof(float)) == 0);
    uint64_t s1, t1, s2, t2;
    sono_net_rng_state(net, &s1, &t1);
    sono_net_rng_state(net2, &s2, &t2);
    CHECK(s1 == s2 && t1 == t2 && t1 == 3);
    float pr1[12], pr2[12];
    CHECK_OK(sono_net_predict(net, x, N, pr1, &err));
    CHECK_OK(sono_net_predict(net2, x, N, pr2, &err));
    CHECK(memcmp(pr1, pr2, sizeof pr1) == 0);
    /* Training goes on identically (dropout step and optimizer restored). */
    double l1, l2;
    CHECK_OK(sono_net_compute_gradients(net, x, labels, N, &l1, &err));
    CHECK_OK(sono_net_compute_gradients(net2, x, labels, N, &l2, &err));
    CHECK(l1 == l2);

    sono_st_file *f = NULL;
    CHECK_OK(sono_st_open(&f, path, &err));
    if (f) {
        CHECK(strcmp(sono_st_metadata(f, "note"), "hello") == 0);
        CHECK(strcmp(sono_st_metadata(f, "format"), SONO_MODEL_FORMAT) == 0);
        CHECK(strcmp(sono_st_metadata(f, "input_shape"), "2,6,7") == 0);
        CHECK(sono_st_find(f, "bn1.running_var") != NULL && sono_st_find(f, "optim.v.logits.bias") != NULL);
        sono_st_close(f);
    }
    /* Without asking for the optimizer; an SGD state; not a model file. */
    sono_net_free(net2);
    CHECK_OK(sono_model_load(path, 1, &net2, NULL, &err));
    sono_net_free(net2);
    sono_optim_free(opt);
    cfg = sono_optim_defaults(SONO_OPTIM_SGD);
    CHECK_OK(sono_optim_new(&opt, &cfg, np, &err));
    CHECK_OK(sono_model_save(path, net, opt, NULL, NULL, 0, &err));
    sono_optim_free(opt2);
    CHECK_OK(sono_model_load(path, 2, &net2, &opt2, &err));
    CHECK(opt2 && opt2->cfg.kind == SONO_OPTIM_SGD && opt2->v == NULL);
    sono_net_free(net2);
    sono_optim_free(opt2);
    CHECK_OK(sono_model_save(path, net, NULL, NULL, NULL, 0, &err));
    CHECK_OK(sono_model_load(path, 2, &net2, &opt2, &err));
    CHECK(opt2 == NULL);
    sono_net_free(net2);
    sono_st_writer *w = sono_st_writer_new();
    int64_t shape[1] = {1};
    float one = 1;
    CHECK_OK(sono_st_writer_add(w, "x", SONO_DTYPE_F32, 1, shape, &one, &err));
    CHECK_OK(sono_st_writer_set_metadata(w, "format", "something-else", &err));
    CHECK_OK(sono_st_writer_write(w, bad, &err));
    sono_st_writer_free(w);
    CHECK(sono_model_load(bad, 2, &net2, NULL, &err) != SONO_OK && net2 == NULL);
    CHECK_MSG(strstr(err.message, bad) != NULL, "message: %s", err.message);
    snprintf(bad, sizeof bad, "%s/missing.safetensors", dir);
    CHECK(sono_model_load(bad, 2, &net2, NULL, &err) == SONO_ERR_IO);
    sono_optim_free(opt);
    sono_net_free(net);
    free(xd), free(x);
    test_cleanup_dir(dir);
}

int main(void) {
    test_conv(2, 3, 6, 5, 4, 3, SONO_ACT_LRELU, SONO_CONV_IM2COL);
    test_conv(3, 2, 5, 7, 3, 5, SONO_ACT_NONE, SONO_CONV_AUTO);
    test_conv(2, 3, 4, 4, 2, 1, SONO_ACT_RELU, SONO_CONV_AUTO);
    test_conv(1, 2, 2, 3, 2, 5, SONO_ACT_LRELU, SONO_CONV_AUTO); /* kernel larger than the input */
    test_pool(2, 3, 7, 6, 2);
    test_pool(1, 2, 7, 8, 3);
    test_pool(1, 2, 6, 9, 4);
    test_pool_by_hand();
    test_dense(3, 7, 5, SONO_ACT_LRELU);
    test_dense(4, 6, 3, SONO_ACT_NONE);
    test_batchnorm(3, 2, 6, 1);
    test_batchnorm(4, 5, 1, 1);
    test_batchnorm(3, 2, 6, 0);
    test_elementwise(0);
    test_elementwise(1);
    test_elementwise(2);
    test_dropout_statistics();
    test_softmax_xent();
    test_spec();
    test_layer_names();
    test_network_gradients("c4,p2,c4,f8", (sono_shape){1, 8, 8}, 3, 3);
    test_network_gradients("c3:k5:linear,bn,lr,p2,d0.3,c4:relu,r,f6,bn,d0.2,f5:linear",
                           (sono_shape){2, 6, 7}, 3, 4);
    test_input_gradient();
    test_class_objective();
    test_optimizers();
    test_learns_toy_problem();
    test_determinism();
    test_model_file();
    /* Last, so the random stream of the checks above stays as it was. */
    test_small_gemm(32, 128, 32);
    test_small_gemm(64, 64, 64);
    test_small_gemm(13, 45, 7);
    test_small_gemm(3, 5, 1);
    test_small_gemm(9, 33, 37);
    test_small_gemm(1, 1, 0);
    test_input_gradient_layers();
    test_pool(2, 3, 8, 12, 4); /* unpadded rows: the vectorised column pick */
    test_pool(1, 2, 5, 8, 2);
    /* Winograd F(4x4, 3x3), vectorised and portable: whole tiles, partial
     * tiles (odd sizes), inputs smaller than one tile, more input than
     * output channels and back, more than 16 tiles in a row. */
    for (int p = 0; p < 2; p++) {
        sono_conv_algo w = p ? SONO_CONV_WINOGRAD_PORTABLE : SONO_CONV_WINOGRAD;
        test_conv(2, 3, 6, 5, 4, 3, SONO_ACT_LRELU, w);
        test_conv(2, 2, 8, 4, 3, 3, SONO_ACT_NONE, w);
        test_conv(1, 5, 9, 11, 2, 3, SONO_ACT_RELU, w);
        test_conv(3, 2, 3, 2, 4, 3, SONO_ACT_LRELU, w);
        test_conv(2, 3, 1, 1, 2, 3, SONO_ACT_LRELU, w);
        test_conv(1, 4, 1, 7, 3, 3, SONO_ACT_NONE, w);
        test_conv(1, 2, 5, 70, 2, 3, SONO_ACT_LRELU, w);
    }
    test_conv_agreement(2, 32, 37, 45, 32, SONO_ACT_LRELU);
    test_conv_agreement(3, 64, 16, 12, 48, SONO_ACT_NONE);
    test_conv_agreement(1, 8, 130, 7, 16, SONO_ACT_RELU);
    test_conv_agreement(2, 16, 9, 131, 8, SONO_ACT_LRELU); /* 33 tiles a row: 3 vector steps */
    test_winograd_split(1, 32, 128, 128, 32, SONO_ACT_RELU);
    test_winograd_split(1, 64, 32, 32, 64, SONO_ACT_LRELU);
    test_winograd_split(3, 16, 37, 45, 24, SONO_ACT_NONE);
    test_winograd_split(1, 8, 130, 7, 16, SONO_ACT_LRELU);
    return test_result("test_nn");
}
