/* Data-parallel training across the ranks of an MPI job; see data_parallel.h. */
#include "data_parallel.h"

#include <math.h>
#include <stdlib.h>

#include "sonodream/distributed.h"

/* Clips per chunk of the statistics pass. */
#define STAT_CHUNK 1024

void sono_dp_batch_part(int n, int *first, int *count) {
    int64_t f, c;
    sono_dist_share(n, sono_dist_rank(), sono_dist_size(), &f, &c);
    *first = (int)f, *count = (int)c;
}

int sono_dp_max_part(int batch) {
    int ranks = sono_dist_size();
    return (batch + ranks - 1) / ranks;
}

/* sums: (chunks, 2, H) sum and sum of squares of each chunk this rank owns;
 * other chunks stay zero, so the sum over ranks is exact. */
static void chunk_sums(const sono_feature_set *set, const int *clips, int n, double *sums) {
    const int H = set->n_mels, W = set->frames, chunks = (n + STAT_CHUNK - 1) / STAT_CHUNK;
    const int rank = sono_dist_rank(), ranks = sono_dist_size();
#pragma omp parallel for schedule(dynamic, 1)
    for (int c = rank; c < chunks; c += ranks) {
        double *sum = sums + (size_t)c * 2 * H, *sq = sum + H;
        int end = (c + 1) * STAT_CHUNK < n ? (c + 1) * STAT_CHUNK : n;
        for (int i = c * STAT_CHUNK; i < end; i++) {
            const float *clip = set->features + (size_t)clips[i] * H * W;
            for (int h = 0; h < H; h++) {
                double s = 0, q = 0;
                for (int w = 0; w < W; w++) s += clip[(size_t)h * W + w], q += (double)clip[(size_t)h * W + w] * clip[(size_t)h * W + w];
                sum[h] += s, sq[h] += q;
            }
        }
    }
}

sono_status sono_band_statistics(const sono_feature_set *set, const int *clips, int n, float *mean, float *std,
                                 sono_error *err) {
    const int H = set->n_mels, chunks = (n + STAT_CHUNK - 1) / STAT_CHUNK;
    double *sums = calloc((size_t)(chunks ? chunks : 1) * 2 * H, sizeof(double));
    if (!sums) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    chunk_sums(set, clips, n, sums);
    sono_status s = sono_dist_sum_f64(sums, (size_t)chunks * 2 * H, "standardisation statistics", err);
    for (int h = 0; s == SONO_OK && h < H; h++) {
        double sum = 0, sq = 0;
        for (int c = 0; c < chunks; c++) sum += sums[(size_t)c * 2 * H + h], sq += sums[(size_t)c * 2 * H + H + h];
        double count = (double)n * set->frames, m = sum / count, var = sq / count - m * m;
        mean[h] = (float)m;
        std[h] = (float)sqrt(var > 1e-6 ? var : 1e-6);
    }
    free(sums);
    return s;
}

sono_status sono_dp_sum_gradients(sono_net *net, sono_error *err) {
    size_t count;
    float *grads = sono_net_grads(net, &count);
    return sono_dist_sum_f32(grads, count, "gradient allreduce", err);
}

sono_status sono_dp_same_start(sono_net *net, sono_optim *optim, sono_error *err) {
    if (sono_dist_size() == 1) return SONO_OK;
    size_t count;
    float *params = sono_net_params(net, &count);
    sono_status s = sono_dist_broadcast(params, count * sizeof(float), 0, "parameters", err);
    if (s == SONO_OK) s = sono_dist_broadcast(optim->m, optim->count * sizeof(float), 0, "optimizer state", err);
    if (s == SONO_OK && optim->v)
        s = sono_dist_broadcast(optim->v, optim->count * sizeof(float), 0, "optimizer state", err);
    if (s == SONO_OK) s = sono_dist_broadcast(&optim->step, sizeof optim->step, 0, "optimizer step", err);
    return s;
}
