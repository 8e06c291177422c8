/* sonodream: the neural-network core (a small CNN on log-mel spectrograms).
 *
 * Tensors are float32 in NCHW order. Letters used in shape comments:
 *   N batch, C channels, H mel bands, W frames, O output channels or
 *   features, F input features (not I: <complex.h>, which cblas.h pulls in,
 *   defines I), k kernel size, K classes.
 * After the flatten layer a tensor (N, C, H, W) is seen as (N, C*H*W, 1, 1),
 * in PyTorch's flatten order.
 *
 * Three levels:
 *  1. Layer kernels (sono_conv2d_*, sono_maxpool_*, ...): plain functions on
 *     caller-owned buffers. Forward writes its output. Backward writes the
 *     gradient with respect to the layer input (overwriting dinp) and ADDS
 *     into parameter gradients (llm.c style, zeroed once per step).
 *  2. The architecture spec (sono_arch_*): text such as
 *     "c32,c32,p4,d0.25,c64,c64,c64,p4,d0.5,f256,f128" parsed into layers.
 *  3. The network (sono_net_*): parameters in one allocation, activations and
 *     workspaces sized once for the largest batch, forward, backward, the
 *     input gradient for DeepDream, optimizers and the model file.
 *
 * Threads: OpenMP over the batch (or channels, or elements); BLAS runs
 * single-threaded inside (the passes switch OpenBLAS to one thread and back;
 * those sections are counted across threads, so two nets may run passes at
 * once from two threads; one net is used by one thread at a time). Every
 * reduction has a fixed order, so results do not depend on the thread count
 * beyond BLAS rounding (in practice they are equal).
 * Speed: 3x3 convolutions use Winograd F(4x4, 3x3); built for AVX-512
 * (-march=native on such a machine), their transforms and products, and
 * im2col's small products, are own AVX-512 loops, about 2x OpenBLAS 0.3.21
 * there (which does not know AMD Zen 5 and runs its Haswell kernels unless
 * OPENBLAS_CORETYPE says otherwise); without AVX-512, portable loops and
 * cblas. Dense layers and im2col's input gradient call cblas.
 */
#ifndef SONODREAM_NN_H
#define SONODREAM_NN_H

#include <stddef.h>
#include <stdint.h>

#include "sonodream/error.h"

#include "sonodream/export.h"

SONO_BEGIN_DECLS

/* ======================= 1. layer kernels ======================= */

typedef enum sono_act {
    SONO_ACT_NONE = 0, /* identity */
    SONO_ACT_RELU,     /* max(x, 0) */
    SONO_ACT_LRELU     /* x > 0 ? x : 0.2 x */
} sono_act;

#define SONO_LRELU_SLOPE 0.2f

/* Elementwise activation. Backward uses the forward OUTPUT (its sign equals
 * the input's sign for both activations), so no pre-activation is kept.
 * dinp may equal dout (in place). */
void sono_act_forward(float *out, const float *inp, size_t count, sono_act act);
void sono_act_backward(float *dinp, const float *dout, const float *out, size_t count,
                       sono_act act);

/* 2-D convolution, stride 1, "same" zero padding k/2 (k odd), with bias and
 * a fused activation: out = act(conv(inp, weight) + bias). OpenMP over the
 * batch. 3x3 kernels with 4 or more input channels use Winograd F(4x4, 3x3)
 * (a quarter of the multiplies, 36 sgemms per block of tiles; agrees with
 * the direct sum to a few 1e-6 relative); other shapes im2col and one sgemm
 * (O x HW x C*k*k) per band of rows.
 * `ws` is a workspace of sono_conv2d_workspace_floats(...) floats for the
 * same N, C, H, W, O, k and `threads` (the most OpenMP threads used). */
size_t sono_conv2d_workspace_floats(int N, int C, int H, int W, int O, int k, int threads);

void sono_conv2d_forward(float *out,          /* (N, O, H, W) */
                         const float *inp,    /* (N, C, H, W) */
                         const float *weight, /* (O, C, k, k) */
                         const float *bias,   /* (O) or NULL */
                         int N, int C, int H, int W, int O, int k, sono_act act, float *ws,
                         int threads);

/* dinp (N,C,H,W) is overwritten; dweight (O,C,k,k) and dbias (O) are added
 * to. Any of the three may be NULL to skip that work (DeepDream needs only
 * dinp; the first layer in training needs no dinp). `out` is the forward
 * output (for the activation's derivative). */
void sono_conv2d_backward(float *dinp, float *dweight, float *dbias,
                          const float *dout,   /* (N, O, H, W) */
                          const float *out,    /* (N, O, H, W) */
                          const float *inp,    /* (N, C, H, W) */
                          const float *weight, /* (O, C, k, k) */
                          int N, int C, int H, int W, int O, int k, sono_act act, float *ws,
                          int threads);

/* Max-pool k x k, stride k, with TensorFlow's "SAME" padding: the output is
 * ceil(H/k) x ceil(W/k); the missing rows/columns (pad = out*k - in) are split
 * with pad/2 before and the rest after, and each window takes the max over
 * its valid part. (PyTorch equivalent: F.max_pool2d(F.pad(x, (l, r, t, b),
 * value=-inf), k) with t = (Ho*k-H)/2, b = Ho*k-H-t, likewise l, r.)
 * argmax stores, per output, the index y*W+x of the winner in its input
 * plane (the first maximum in row-major order on ties). */
static inline int sono_pool_out_size(int n, int k) { return (n + k - 1) / k; }

void sono_maxpool_forward(float *out,       /* (N, C, Ho, Wo) */
                          int32_t *argmax,  /* (N, C, Ho, Wo) */
                          const float *inp, /* (N, C, H, W) */
                          int N, int C, int H, int W, int k);
/* dinp (N, C, H, W) is overwritten (zero except at the winners). */
void sono_maxpool_backward(float *dinp, const float *dout, /* (N, C, Ho, Wo) */
                           const int32_t *argmax, int N, int C, int H, int W, int k);

/* Inverted dropout (train mode only; in inference the layer is the
 * identity). Element i is kept with probability 1-rate and scaled by
 * 1/(1-rate); the decision is a hash of (seed, step, layer, first + i), so it
 * does not depend on the thread count, backward recomputes it instead of
 * storing a mask, and a batch split across processes (each passing its part
 * with `first` = its offset in elements) gets the masks of the whole batch. */
int sono_dropout_keep(uint64_t seed, uint64_t step, uint32_t layer, uint64_t index, float rate);
void sono_dropout_forward(float *out, const float *inp, size_t count, float rate, uint64_t seed,
                          uint64_t step, uint32_t layer, uint64_t first);
void sono_dropout_backward(float *dinp, const float *dout, size_t count, float rate,
                           uint64_t seed, uint64_t step, uint32_t layer, uint64_t first);

/* Dense (fully connected): out = act(inp @ weight^T + bias), PyTorch's
 * nn.Linear layout. One sgemm over the whole batch. */
void sono_dense_forward(float *out,          /* (N, O) */
                        const float *inp,    /* (N, F) */
                        const float *weight, /* (O, F) */
                        const float *bias,   /* (O) or NULL */
                        int N, int F, int O, sono_act act);
/* dinp (N, F) overwritten, dweight (O, F) and dbias (O) added to; each may be
 * NULL. ws holds N*O floats (the gradient before the activation); it may be
 * NULL when act is SONO_ACT_NONE. */
void sono_dense_backward(float *dinp, float *dweight, float *dbias,
                         const float *dout,   /* (N, O) */
                         const float *out,    /* (N, O) */
                         const float *inp,    /* (N, F) */
                         const float *weight, /* (O, F) */
                         int N, int F, int O, sono_act act, float *ws);

/* Batch normalisation per channel over (N, H, W), as PyTorch's BatchNorm1d/2d
 * (eps 1e-5, momentum 0.1). After a dense layer use HW = 1.
 * Train: normalise with the batch mean and biased variance, and update the
 * running stats with the unbiased variance: run = 0.9 run + 0.1 batch.
 * Inference: normalise with the running stats.
 * mean and invstd (C) are saved for backward (in inference they receive the
 * running mean and 1/sqrt(running_var + eps)). */
#define SONO_BN_EPS 1e-5f
#define SONO_BN_MOMENTUM 0.1f

void sono_batchnorm_forward(float *out,        /* (N, C, HW) */
                            float *mean,       /* (C) saved */
                            float *invstd,     /* (C) saved */
                            float *run_mean,   /* (C) updated in train mode */
                            float *run_var,    /* (C) updated in train mode */
                            const float *inp,  /* (N, C, HW) */
                            const float *gamma, const float *beta, /* (C) */
                            int N, int C, int HW, int train);
/* dinp overwritten; dgamma, dbeta (C) added to (may be NULL). `train` must be
 * the mode of the forward pass. */
void sono_batchnorm_backward(float *dinp, float *dgamma, float *dbeta,
                             const float *dout, /* (N, C, HW) */
                             const float *inp,  /* (N, C, HW) */
                             const float *mean, const float *invstd, const float *gamma,
                             int N, int C, int HW, int train);

/* Softmax over the last axis, max-subtracted (no overflow). */
void sono_softmax(float *probs,        /* (N, K) */
                  const float *logits, /* (N, K) */
                  int N, int K);
/* Mean cross-entropy over the batch: returns mean_n (logsumexp - logit[label]).
 * probs (N, K) receives the softmax (may be NULL); dlogits (N, K), if not
 * NULL, receives d(mean loss)/d(logits) = (probs - onehot) / N. Labels must
 * be in 0..K-1 (not checked here; sono_net_loss checks). */
double sono_softmax_xent(float *probs, float *dlogits, const float *logits,
                         const int32_t *labels, int N, int K);

/* ======================= 2. architecture spec ======================= */

/* Grammar: comma-separated tokens (spaces ignored), or a preset name.
 *   cN[:kK][:ACT]  conv, N output channels (1..4096), kernel K x K (odd,
 *                  1..15, default 3), followed by activation ACT (default
 *                  lrelu). Example: c64:k5, c32:linear.
 *   pK             max-pool K x K, stride K, TF "SAME" (K in 2..64)
 *   dP             dropout with drop probability P in [0, 1), e.g. d0.25
 *   fN[:ACT]       dense with N outputs (1..65536), activation ACT (default
 *                  lrelu)
 *   bn             batch normalisation (per channel after conv, per feature
 *                  after dense)
 *   r | relu       a standalone ReLU layer
 *   lr | lrelu     a standalone leaky ReLU layer (slope 0.2)
 *   ACT is one of lrelu, relu, linear.
 * For conv -> batch norm -> activation write "c32:linear,bn,lr".
 * Convolution and pooling must come before the first dense layer. A flatten
 * layer is inserted before the first dense layer, and a final dense layer to
 * the class count without activation ("logits") is appended.
 *
 * Presets (the name alone is the whole spec):
 *   seed        c32,c32,p4,d0.25,c64,c64,c64,p4,d0.5,f256,f128   (default)
 *   xsmall      c8,c8,p4,d0.25,c16,c16,c16,p4,d0.5,f64,f32
 *   fat_shallow c64,p4,d0.25,c128,p4,d0.5,f512
 *   slim_deep   c16,c16,c16,p2,d0.25,c32,c32,c32,p2,d0.25,c64,c64,p2,d0.5,f128,f64
 *   seed_bn     seed with batch norm after each convolution:
 *               c32:linear,bn,lr,c32:linear,bn,lr,p4,d0.25,c64:linear,bn,lr,
 *               c64:linear,bn,lr,c64:linear,bn,lr,p4,d0.5,f256,f128
 */
#define SONO_ARCH_DEFAULT "seed"
#define SONO_ARCH_MAX_LAYERS 64
#define SONO_ARCH_TEXT_MAX 1024

typedef enum sono_layer_type {
    SONO_LAYER_CONV = 0,
    SONO_LAYER_POOL,
    SONO_LAYER_DROPOUT,
    SONO_LAYER_DENSE,
    SONO_LAYER_BATCHNORM,
    SONO_LAYER_RELU,
    SONO_LAYER_LRELU,
    SONO_LAYER_FLATTEN
} sono_layer_type;

/* "conv", "pool", "dropout", "dense", "batchnorm", "relu", "lrelu", "flatten". */
const char *sono_layer_type_name(sono_layer_type type);
const char *sono_act_name(sono_act act); /* "linear", "relu", "lrelu" */

typedef struct sono_layer_spec {
    sono_layer_type type;
    int units;   /* conv: output channels; dense: output features */
    int kernel;  /* conv: kernel size; pool: window and stride */
    float rate;  /* dropout: drop probability */
    sono_act act; /* conv, dense: activation fused after the layer */
} sono_layer_spec;

typedef struct sono_arch {
    int count; /* layers as written (no flatten, no logits) */
    sono_layer_spec layers[SONO_ARCH_MAX_LAYERS];
} sono_arch;

/* Parse a spec or preset name. On failure the message names the bad token
 * and its 1-based position, e.g.
 * "arch spec: token 3 'c0': channel count must be in 1..4096". */
sono_status sono_arch_parse(const char *text, sono_arch *out, sono_error *err);

/* The canonical spec text (presets expanded, defaults omitted), snprintf
 * style: returns the length it needs. Parsing it gives the same arch. */
int sono_arch_format(const sono_arch *arch, char *buf, size_t size);

/* The spec text of a preset, or NULL; presets are numbered 0..count-1. */
const char *sono_arch_preset(const char *name);
int sono_arch_preset_count(void);
const char *sono_arch_preset_name(int index);

typedef struct sono_shape {
    int c, h, w;
} sono_shape;

/* One layer of a network. Names: conv1.., pool1.., drop1.., fc1.., bn1..,
 * relu1.., lrelu1.. (counted per type in order), "flatten" and "logits".
 * A conv or dense layer's output is AFTER its fused activation: "conv3" is
 * the leaky-ReLU output of the third convolution (what DeepDream wants). */
typedef struct sono_layer_info {
    char name[16];
    sono_layer_type type;
    sono_act act;   /* conv, dense */
    int units;      /* conv, dense */
    int kernel;     /* conv, pool */
    float rate;     /* dropout */
    sono_shape in;  /* input shape of one sample */
    sono_shape out; /* output shape of one sample */
} sono_layer_info;

/* Expand an arch for an input shape and class count into the full layer list
 * (with flatten and logits), checking that every shape is valid. `layers`
 * holds at least SONO_ARCH_MAX_LAYERS + 2 entries. */
#define SONO_NET_MAX_LAYERS (SONO_ARCH_MAX_LAYERS + 2)
sono_status sono_arch_plan(const sono_arch *arch, sono_shape input, int classes,
                           sono_layer_info *layers, int *count, sono_error *err);

/* ======================= 3. the network ======================= */

typedef struct sono_net sono_net;

typedef enum sono_mode {
    SONO_MODE_INFER = 0, /* dropout off, batch norm with running stats */
    SONO_MODE_TRAIN = 1  /* dropout on, batch norm with batch stats (updates running stats) */
} sono_mode;

/* Build a network for inputs of `input` shape (one sample) and `classes`
 * outputs, with buffers for up to max_batch samples, and initialise it from
 * `seed` (see sono_net_init). `spec` is a spec or preset name (NULL: "seed").
 * All memory is allocated here (and in sono_net_reserve); passes allocate
 * nothing. Convolutions use at most omp_get_max_threads() as of this call
 * (their workspace is per thread). */
sono_status sono_net_new(sono_net **out, const char *spec, sono_shape input, int classes,
                         int max_batch, uint64_t seed, sono_error *err);
void sono_net_free(sono_net *net); /* NULL is a no-op. */

/* Re-initialise: conv and dense weights Kaiming-uniform, U(-b, b) with
 * b = gain * sqrt(3 / fan_in), gain = sqrt(2 / (1 + a^2)) for the layer's
 * activation (a = 0.2 leaky, 0 ReLU; gain 1 when linear); biases 0; batch
 * norm gamma 1, beta 0, running mean 0, var 1. Also sets the dropout seed to
 * `seed` and the step counter to 0. Deterministic for a seed. */
void sono_net_init(sono_net *net, uint64_t seed);

/* Canonical spec text, input shape, class count, max batch. */
const char *sono_net_spec(const sono_net *net);
sono_shape sono_net_input_shape(const sono_net *net);
int sono_net_classes(const sono_net *net);
int sono_net_max_batch(const sono_net *net);

/* The widest input (frames, at H bands, batch 1) whose pass up to `layer`
 * fits the net's buffers (0: none), for layers that take any width: a
 * convolutional part can see a long spectrogram in one piece. */
int sono_net_max_width(const sono_net *net, int H, int layer);

/* Layers (at the construction input shape). */
int sono_net_layer_count(const sono_net *net);
const sono_layer_info *sono_net_layer(const sono_net *net, int index);
/* Index of the layer called `name`, or -1. */
int sono_net_find_layer(const sono_net *net, const char *name);
/* Output shapes of layers 0..last for an input of H x W (C as built); fails
 * when a dense layer (or flatten) would get a different shape than built. */
sono_status sono_net_layer_shapes(const sono_net *net, int H, int W, int last, sono_shape *shapes,
                                  sono_error *err);

/* ---- parameters, gradients, running stats ---- */

/* A named view into the net's storage. Parameters (is_param = 1) are
 * conv<i>.weight (O,C,k,k), conv<i>.bias (O), fc<i>.weight (O,F), fc<i>.bias,
 * bn<i>.weight (gamma, C), bn<i>.bias (beta, C), logits.weight, logits.bias:
 * PyTorch's state_dict names and layouts for modules named like the layers.
 * Buffers (is_param = 0) are bn<i>.running_mean and bn<i>.running_var. */
typedef struct sono_tensor_info {
    char name[32];
    int ndim;
    int64_t shape[4];
    size_t count;   /* elements */
    size_t offset;  /* from the start of the parameter (or buffer) array */
    float *data;
    float *grad;    /* NULL for buffers */
    int is_param;
} sono_tensor_info;

int sono_net_tensor_count(const sono_net *net);
const sono_tensor_info *sono_net_tensor(const sono_net *net, int index);
const sono_tensor_info *sono_net_find_tensor(const sono_net *net, const char *name);

/* The single parameter allocation and its gradients (same layout, `count`
 * floats; tensors start at 64-byte boundaries and the gaps stay 0). */
float *sono_net_params(sono_net *net, size_t *count);
float *sono_net_grads(sono_net *net, size_t *count);
void sono_net_zero_grad(sono_net *net);

/* Dropout randomness: (seed, step); step advances by one per train-mode
 * forward. Checkpoints save and restore both. */
void sono_net_rng_state(const sono_net *net, uint64_t *seed, uint64_t *step);
void sono_net_set_rng_state(sono_net *net, uint64_t seed, uint64_t step);
/* The samples of the next train passes are samples first, first+1, ... of a
 * larger batch split across processes (data-parallel training): dropout
 * decides by their index in that batch, so the masks do not depend on how it
 * is split. 0 (the default) for a whole batch. */
void sono_net_set_sample_offset(sono_net *net, int64_t first);

/* ---- passes ---- */

/* Forward the whole net on input (batch, C, H, W) of the construction shape.
 * *logits (batch, classes) points into the net, valid until the next pass.
 * The input is copied, so the caller may reuse its buffer. */
sono_status sono_net_forward(sono_net *net, const float *input, int batch, sono_mode mode,
                             const float **logits, sono_error *err);

/* After sono_net_forward: softmax cross-entropy against labels (batch),
 * mean over the batch. Fills the net's probs and dlogits. */
sono_status sono_net_loss(sono_net *net, const int32_t *labels, double *loss, sono_error *err);
const float *sono_net_probs(const sono_net *net);   /* (batch, classes), after sono_net_loss */
const float *sono_net_dlogits(const sono_net *net); /* (batch, classes), after sono_net_loss */

/* After sono_net_forward: backpropagate dlogits (batch, classes) (for
 * example sono_net_dlogits), ADDING into the parameter gradients in the mode
 * of the forward pass. dinput (batch, C, H, W) receives the input gradient
 * when not NULL. */
sono_status sono_net_backward(sono_net *net, const float *dlogits, float *dinput,
                              sono_error *err);

/* One training step's gradients: zero the gradients, forward in train mode,
 * loss, backward. Follow with sono_optim_step. */
sono_status sono_net_compute_gradients(sono_net *net, const float *input, const int32_t *labels,
                                       int batch, double *loss, sono_error *err);

/* Inference: class probabilities (batch, classes) into `probs`. */
sono_status sono_net_predict(sono_net *net, const float *input, int batch, float *probs,
                             sono_error *err);

/* Output of layer `index` of the last pass, (batch, shape) as that pass had. */
const float *sono_net_layer_output(const sono_net *net, int index);

/* ---- the input gradient (DeepDream) ----
 * Forward in inference mode up to and including layer `layer`, then
 * backpropagate a gradient set at that layer's output to the input, without
 * touching parameter gradients (they are not computed at all).
 * The input may be smaller than the construction shape (H, W <= built) when
 * no flatten or dense layer is in 0..layer: DeepDream octaves feed smaller
 * spectrograms to the conv layers. Larger inputs (a long spectrogram) need
 * sono_net_reserve first; without it an error says they do not fit. */

/* Grow the activation buffers and workspace so that `batch` inputs of H x W
 * pass through the conv/pool layers before the flatten (allocates; call it
 * before the dream loop, not inside). Invalidates the last pass; never
 * shrinks. */
sono_status sono_net_reserve(sono_net *net, int batch, int H, int W, sono_error *err);

/* Step 1: *out (batch, *shape) points into the net. */
sono_status sono_net_forward_to(sono_net *net, const float *input, int batch, int H, int W,
                                int layer, const float **out, sono_shape *shape,
                                sono_error *err);
/* Step 2: dout (batch, shape of that layer) -> dinput (batch, C, H, W). dout
 * may be the caller's buffer or sono_net_top_grad_buffer. */
sono_status sono_net_backward_to_input(sono_net *net, const float *dout, float *dinput,
                                       sono_error *err);
/* A net-owned buffer large enough for any layer's gradient at the current
 * batch (valid until the next pass). */
float *sono_net_top_grad_buffer(sono_net *net);

/* Both steps with a callback that sets the gradient at the layer's output:
 * fn fills dout (batch, shape) from out and returns the objective value,
 * which is stored in *objective (may be NULL). Examples: DeepDream's L2
 * objective 0.5*sum(out^2) sets dout = out; a channel objective sets dout to
 * 1 in one channel and 0 elsewhere; a class objective at "logits" sets one
 * entry per sample. */
typedef double (*sono_top_grad_fn)(float *dout, const float *out, int batch, sono_shape shape,
                                   void *user);
sono_status sono_net_input_gradient(sono_net *net, const float *input, int batch, int H, int W,
                                    int layer, sono_top_grad_fn fn, void *user, float *dinput,
                                    double *objective, sono_error *err);

/* The same for an objective of several layers (e.g. Gram matrices of
 * several layers for textures): layers[0 .. count-1] strictly increasing.
 * fn is called once per listed layer, deepest first, with which = its
 * position in `layers`, and ADDS that layer's gradient into dout (batch,
 * shape of that layer), which holds what came from above; the objective is
 * the sum of what the calls return. count = 1 is sono_net_input_gradient
 * with an adding fn. */
typedef double (*sono_layer_grad_fn)(int which, float *dout, const float *out, int batch, sono_shape shape,
                                     void *user);
sono_status sono_net_input_gradient_layers(sono_net *net, const float *input, int batch, int H, int W,
                                           const int *layers, int count, sono_layer_grad_fn fn, void *user,
                                           float *dinput, double *objective, sono_error *err);

/* ======================= optimizers ======================= */

typedef enum sono_optim_kind {
    SONO_OPTIM_ADAM = 0, /* Adam with bias correction; weight decay decoupled (AdamW) */
    SONO_OPTIM_SGD       /* SGD with momentum; weight decay added to the gradient (PyTorch) */
} sono_optim_kind;

typedef struct sono_optim_config {
    sono_optim_kind kind;
    float lr;           /* Adam 1e-3, SGD 1e-2 */
    float beta1, beta2; /* Adam: 0.9, 0.999 */
    float eps;          /* Adam: 1e-8 */
    float momentum;     /* SGD: 0.9 */
    float weight_decay; /* 0 */
} sono_optim_config;

sono_optim_config sono_optim_defaults(sono_optim_kind kind);
const char *sono_optim_kind_name(sono_optim_kind kind); /* "adam", "sgd" */

/* The optimizer's state is public so checkpoints can save and restore it:
 * m (Adam first moment, SGD momentum buffer) and v (Adam second moment, NULL
 * for SGD) have the parameters' layout; step counts updates done. The
 * caller may change cfg.lr between steps (schedules). */
typedef struct sono_optim {
    sono_optim_config cfg;
    size_t count;
    float *m;
    float *v;
    int64_t step;
} sono_optim;

/* State for `count` parameters (sono_net_params' count), zeroed. */
sono_status sono_optim_new(sono_optim **out, const sono_optim_config *cfg, size_t count,
                           sono_error *err);
void sono_optim_free(sono_optim *opt); /* NULL is a no-op. */
/* One update of params (count) from grads (count); a flat parallel loop. */
void sono_optim_step(sono_optim *opt, float *params, const float *grads);

/* ======================= model file ======================= */

/* A safetensors file: every tensor of sono_net_tensor by name (F32, PyTorch
 * layouts) plus bn<i>.num_batches_tracked (I64 scalar), so torch's
 * load_state_dict takes them for modules named like the layers; optionally
 * the optimizer state as "optim.m.<name>" and "optim.v.<name>", and in
 * __metadata__: format "sonodream-model", format_version "1", arch (canonical
 * spec), input_shape "C,H,W", class_count, rng_seed, rng_step, and with an
 * optimizer optim_kind, optim_step, optim_config (JSON); plus the caller's
 * extra key/value pairs (reusing one of those keys is an error). */
#define SONO_MODEL_FORMAT "sonodream-model"
#define SONO_MODEL_FORMAT_VERSION 1

sono_status sono_model_save(const char *path, const sono_net *net, const sono_optim *opt,
                            const char *const *keys, const char *const *values, int count,
                            sono_error *err);

/* Build the net described by the file with buffers for max_batch and load
 * its tensors. When `opt` is not NULL it receives the optimizer state, or
 * NULL when the file has none. Extra metadata: open the file with
 * sono_st_open and read it with sono_st_metadata. */
sono_status sono_model_load(const char *path, int max_batch, sono_net **net, sono_optim **opt,
                            sono_error *err);

SONO_END_DECLS
#endif
