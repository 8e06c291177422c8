/* Training and inference speed of the seed preset beside PyTorch, in one run.
 * Workload: input 1x128x128, 10 classes, batch 32, Adam, THREADS threads
 * (default 2). The result is checked first: PyTorch loads our weights and its
 * logits must match ours. Prints samples/s for both and the ratios.
 * usage: bench_nn [THREADS [STEPS]] */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cblas.h>

#include "bench_util.h"
#include "sonodream/nn.h"

#define BATCH 32
#define CLASSES 10
#define SIDE 128

static int write_floats(const char *path, const float *x, size_t n) {
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(x, sizeof(float), n, f) == n;
    if (f) fclose(f);
    return ok;
}

static double time_training(sono_net *net, const float *x, const int32_t *labels, int steps) {
    sono_error err = {0};
    sono_optim *opt = NULL;
    size_t count;
    float *params = sono_net_params(net, &count);
    sono_optim_config cfg = sono_optim_defaults(SONO_OPTIM_ADAM);
    if (sono_optim_new(&opt, &cfg, count, &err) != SONO_OK) return 0;
    double loss = 0, start = 0;
    for (int i = 0; i < 2 + steps; i++) {
        if (i == 2) start = bench_now();
        sono_net_compute_gradients(net, x, labels, BATCH, &loss, &err);
        sono_optim_step(opt, params, sono_net_grads(net, &count));
    }
    double sps = BATCH * steps / (bench_now() - start);
    sono_optim_free(opt);
    return sps;
}

static double time_inference(sono_net *net, const float *x, int steps) {
    sono_error err = {0};
    float probs[BATCH * CLASSES];
    double start = 0;
    for (int i = 0; i < 2 + steps; i++) {
        if (i == 2) start = bench_now();
        sono_net_predict(net, x, BATCH, probs, &err);
    }
    return BATCH * steps / (bench_now() - start);
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 2, steps = argc > 2 ? atoi(argv[2]) : 20;
    omp_set_num_threads(threads);
    sono_error err = {0};
    sono_net *net = NULL;
    sono_shape in = {1, SIDE, SIDE};
    size_t n_in = (size_t)BATCH * SIDE * SIDE;
    float *x = malloc(n_in * sizeof(float));
    int32_t labels[BATCH];
    char dir[] = "/tmp/sono-bench-XXXXXX", model[128], input[128], logits_path[128], cmd[1024];
    const float *logits;
    float ours[BATCH * CLASSES], theirs[BATCH * CLASSES];
    srand(1);
    for (size_t i = 0; i < n_in; i++) x[i] = (float)rand() / (float)RAND_MAX * 2 - 1;
    for (int b = 0; b < BATCH; b++) labels[b] = b % CLASSES;
    if (!mkdtemp(dir) || sono_net_new(&net, "seed", in, CLASSES, BATCH, 42, &err) != SONO_OK) {
        fprintf(stderr, "bench_nn: %s\n", err.message);
        return 1;
    }
    snprintf(model, sizeof model, "%s/seed.safetensors", dir);
    snprintf(input, sizeof input, "%s/input.f32", dir);
    snprintf(logits_path, sizeof logits_path, "%s/logits.f32", dir);
    if (sono_model_save(model, net, NULL, NULL, NULL, 0, &err) != SONO_OK || !write_floats(input, x, n_in) ||
        sono_net_forward(net, x, BATCH, SONO_MODE_INFER, &logits, &err) != SONO_OK) {
        fprintf(stderr, "bench_nn: %s\n", err.message);
        return 1;
    }
    memcpy(ours, logits, sizeof ours);

    double train_sps = time_training(net, x, labels, steps);
    double infer_sps = time_inference(net, x, steps);

    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/nn_reference.py %s %s %s %d %d", SONO_BENCH_DIR, model, input,
             logits_path, threads, steps);
    FILE *p = popen(cmd, "r");
    double torch_train = 0, torch_infer = 0;
    int ran = p && fscanf(p, "train_sps %lf infer_sps %lf", &torch_train, &torch_infer) == 2;
    if (p) pclose(p);
    FILE *f = fopen(logits_path, "rb");
    size_t got = f ? fread(theirs, sizeof(float), BATCH * CLASSES, f) : 0;
    if (f) fclose(f);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) fprintf(stderr, "bench_nn: could not remove %s\n", dir);
    if (!ran || got != BATCH * CLASSES) {
        fprintf(stderr, "bench_nn: the PyTorch reference did not run (needs python3-torch)\n");
        return 1;
    }
    double max_diff = 0;
    for (int i = 0; i < BATCH * CLASSES; i++) max_diff = fmax(max_diff, fabs(theirs[i] - ours[i]));
    printf("check: logits of sonodream and PyTorch on the same weights differ by at most %.2e\n", max_diff);
    if (max_diff > 1e-3) {
        printf("bench_nn: results differ, timings not reported\n");
        return 1;
    }
    printf("seed preset, input 1x128x128, 10 classes, batch 32, Adam, %d threads, %d steps, OpenBLAS %s kernels\n",
           threads, steps, openblas_get_corename());
    printf("  training   sonodream %7.1f samples/s   PyTorch %7.1f samples/s   ratio %.2fx\n", train_sps, torch_train,
           train_sps / torch_train);
    printf("  inference  sonodream %7.1f samples/s   PyTorch %7.1f samples/s   ratio %.2fx\n", infer_sps, torch_infer,
           infer_sps / torch_infer);
    sono_net_free(net);
    free(x);
    return 0;
}
