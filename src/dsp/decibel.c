/* 10*log10 over a whole array. This file is compiled with -ffast-math so
 * that gcc calls glibc's vector log10f (libmvec), which makes the log-mel
 * log pass about 5x cheaper than a scalar log10f per value; inputs are
 * already clamped to the (positive, finite) log floor, the one case where
 * fast-math could change a result. */
#include <math.h>
#include <stddef.h>

#include "dsp_internal.h"

void sono_power_to_db(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = 10.0f * log10f(x[i]);
}
