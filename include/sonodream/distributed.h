/* sonodream: the processes of one job started by mpirun (Open MPI).
 *
 * A program started by an MPI launcher (mpirun, srun) is one rank of several;
 * started alone it is rank 0 of 1 and no MPI call is ever made. Built without
 * MPI, every function here works for that one rank. The collectives are
 * MPI's, on MPI_COMM_WORLD, with MPI_ERRORS_RETURN: a failure (a peer that
 * died) comes back as a sono_status naming the operation, never as a silent
 * abort. Every rank must make the same calls in the same order.
 *
 * sono_train, sono_evaluate and sono_prepare split their work across the ranks
 * by themselves when sono_dist_size() > 1. */
#ifndef SONODREAM_DISTRIBUTED_H
#define SONODREAM_DISTRIBUTED_H

#include <stddef.h>
#include <stdint.h>

#include "sonodream/error.h"
#include "sonodream/export.h"

SONO_BEGIN_DECLS

/* 1 when this build has MPI. */
int sono_dist_compiled(void);

/* Join the job when started by an MPI launcher (its environment says so);
 * otherwise nothing (rank 0 of 1). Call once, before any other thread runs. */
sono_status sono_dist_init(int *argc, char ***argv, sono_error *err);
/* Leave the job (MPI_Finalize) if sono_dist_init joined one. */
void sono_dist_finalize(void);
/* Stop every rank of the job (MPI_Abort) with `code`; returns only when
 * there is no job (a single process), so the caller then exits itself. */
void sono_dist_abort(int code);

int sono_dist_rank(void); /* 0 .. size-1 */
int sono_dist_size(void); /* 1 without a job */

/* Rank `rank`'s contiguous share of n items: [*first, *first + *count). The
 * first n % size ranks take one more. */
void sono_dist_share(int64_t n, int rank, int size, int64_t *first, int64_t *count);

/* In-place sums over the ranks (MPI_Allreduce, MPI_SUM). */
sono_status sono_dist_sum_f32(float *data, size_t count, const char *what, sono_error *err);
sono_status sono_dist_sum_f64(double *data, size_t count, const char *what, sono_error *err);
/* Rank root's bytes to every rank. */
sono_status sono_dist_broadcast(void *data, size_t bytes, int root, const char *what, sono_error *err);
/* Every rank's `bytes` bytes to rank `root`, in rank order: on root, *all
 * (malloc'd, free it) holds them back to back and sizes[r] rank r's count
 * (sizes: sono_dist_size() entries). Other ranks get *all = NULL. */
sono_status sono_dist_gather(const void *data, size_t bytes, int root, void **all, size_t *sizes, const char *what,
                             sono_error *err);

/* For a watchdog thread: when (CLOCK_MONOTONIC seconds) the collective in
 * progress began, 0 when none is; *what names it. */
double sono_dist_waiting_since(const char **what);
/* Seconds this rank has spent inside collectives so far. */
double sono_dist_seconds(void);

SONO_END_DECLS
#endif
