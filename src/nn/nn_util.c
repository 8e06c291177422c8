/* Threading helpers shared by the layer kernels. */
#include <cblas.h>
#include <omp.h>

#include "nn/nn_internal.h"

int sono_blas_single(void) {
    int previous = openblas_get_num_threads();
    if (previous != 1) openblas_set_num_threads(1);
    return previous;
}

void sono_blas_restore(int previous) {
    if (previous != 1 && previous > 0) openblas_set_num_threads(previous);
}

int sono_nn_threads(int ws_threads) {
    int t = omp_get_max_threads();
    if (t > ws_threads) t = ws_threads;
    return t < 1 ? 1 : t;
}
