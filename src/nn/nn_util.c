/* Threading helpers shared by the layer kernels. */
#include <cblas.h>
#include <omp.h>
#include <pthread.h>

#include "nn/nn_internal.h"

/* OpenBLAS's thread count is one setting for the whole process. Two
 * networks working in two threads at once (two models used from two Python
 * threads, say) must not toggle it under each other: one thread restoring
 * the count while the other is inside its OpenMP region made the other's
 * sgemm calls multi-threaded mid-way. So the "single" sections of all
 * threads count as one: the first to enter sets 1, the last to leave
 * restores the count saved on entry. */
static pthread_mutex_t blas_lock = PTHREAD_MUTEX_INITIALIZER;
static int blas_sections = 0; /* threads inside a single section */
static int blas_saved = 1;    /* the count before the first of them entered */

int sono_blas_single(void) {
    pthread_mutex_lock(&blas_lock);
    if (blas_sections++ == 0) {
        blas_saved = openblas_get_num_threads();
        if (blas_saved != 1) openblas_set_num_threads(1);
    }
    int previous = blas_saved;
    pthread_mutex_unlock(&blas_lock);
    return previous;
}

void sono_blas_restore(int previous) {
    (void)previous; /* the count saved by the first section is the one restored */
    pthread_mutex_lock(&blas_lock);
    if (--blas_sections == 0 && blas_saved != 1 && blas_saved > 0) openblas_set_num_threads(blas_saved);
    pthread_mutex_unlock(&blas_lock);
}

int sono_nn_threads(int ws_threads) {
    int t = omp_get_max_threads();
    if (t > ws_threads) t = ws_threads;
    return t < 1 ? 1 : t;
}
