/* The parts of training that the ranks of an MPI job share (internal).
 *
 * Data parallelism: every rank holds the whole network and takes a
 * contiguous part of every global batch; the gradients are summed over the
 * ranks (one MPI_Allreduce over the network's one gradient array) and every
 * rank takes the same optimizer step. With one rank these are plain loops. */
#ifndef SONO_TRAIN_DATA_PARALLEL_H
#define SONO_TRAIN_DATA_PARALLEL_H

#include "sonodream/data.h"
#include "sonodream/nn.h"

/* This rank's part [*first, *first + *count) of a batch of n samples. */
void sono_dp_batch_part(int n, int *first, int *count);
/* The most samples any rank takes of a batch of `batch`. */
int sono_dp_max_part(int batch);

/* Per mel band mean and standard deviation over every frame of `clips`
 * (n of them): one streaming pass over the (mapped) features, in fixed
 * chunks of clips whose partial sums are combined in chunk order, so the
 * result is the same bits whatever the number of ranks or threads. */
sono_status sono_band_statistics(const sono_feature_set *set, const int *clips, int n, float *mean, float *std,
                                 sono_error *err);

/* Sum the gradients over the ranks. */
sono_status sono_dp_sum_gradients(sono_net *net, sono_error *err);
/* Rank 0's parameters and optimizer state to every rank, so all start from
 * the same bits (a checkpoint read on each rank must agree anyway). */
sono_status sono_dp_same_start(sono_net *net, sono_optim *optim, sono_error *err);

#endif
