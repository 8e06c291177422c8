/* Small image operations for the dream: bilinear resize and Gaussian blur. */
#include <math.h>
#include <string.h>

#include "sonodream/dream.h"

/* Source coordinate of destination index i with half-pixel centres, as two
 * neighbours and the weight of the second. */
static inline void source_pos(int i, int src, int dst, int *i0, int *i1, float *f) {
    double s = ((double)i + 0.5) * (double)src / (double)dst - 0.5;
    if (s < 0) s = 0;
    int lo = (int)s;
    if (lo > src - 1) lo = src - 1;
    *i0 = lo;
    *i1 = lo + 1 < src ? lo + 1 : src - 1;
    *f = (float)(s - lo);
}

void sono_dream_resize(const float *src, int sh, int sw, float *dst, int dh, int dw) {
    if (sh == dh && sw == dw) {
        memcpy(dst, src, (size_t)sh * (size_t)sw * sizeof(float));
        return;
    }
    for (int y = 0; y < dh; y++) {
        int y0, y1;
        float fy;
        source_pos(y, sh, dh, &y0, &y1, &fy);
        const float *r0 = src + (size_t)y0 * sw, *r1 = src + (size_t)y1 * sw;
        float *row = dst + (size_t)y * dw;
        for (int x = 0; x < dw; x++) {
            int x0, x1;
            float fx;
            source_pos(x, sw, dw, &x0, &x1, &fx);
            float top = r0[x0] + fx * (r0[x1] - r0[x0]);
            float bottom = r1[x0] + fx * (r1[x1] - r1[x0]);
            row[x] = top + fy * (bottom - top);
        }
    }
}

#define BLUR_MAX_RADIUS 64

void sono_dream_blur(float *x, int h, int w, double sigma, float *tmp) {
    if (!(sigma > 0)) return;
    int radius = (int)ceil(3.0 * sigma);
    if (radius > BLUR_MAX_RADIUS) radius = BLUR_MAX_RADIUS;
    float kernel[2 * BLUR_MAX_RADIUS + 1];
    double sum = 0;
    for (int i = -radius; i <= radius; i++) sum += exp(-0.5 * i * i / (sigma * sigma));
    for (int i = -radius; i <= radius; i++)
        kernel[i + radius] = (float)(exp(-0.5 * i * i / (sigma * sigma)) / sum);
    /* Along time (rows of x) into tmp, then along frequency back into x. */
    for (int y = 0; y < h; y++) {
        const float *row = x + (size_t)y * w;
        float *o = tmp + (size_t)y * w;
        for (int t = 0; t < w; t++) {
            float s = 0;
            for (int i = -radius; i <= radius; i++) {
                int j = t + i;
                j = j < 0 ? 0 : j >= w ? w - 1 : j;
                s += kernel[i + radius] * row[j];
            }
            o[t] = s;
        }
    }
    for (int y = 0; y < h; y++) {
        float *o = x + (size_t)y * w;
        for (int t = 0; t < w; t++) o[t] = 0;
        for (int i = -radius; i <= radius; i++) {
            int j = y + i;
            j = j < 0 ? 0 : j >= h ? h - 1 : j;
            const float *row = tmp + (size_t)j * w;
            float k = kernel[i + radius];
            for (int t = 0; t < w; t++) o[t] += k * row[t];
        }
    }
}

void sono_dream_resize_adjoint(const float *dst_grad, int dh, int dw, float *src_grad, int sh, int sw) {
    if (sh == dh && sw == dw) {
        memcpy(src_grad, dst_grad, (size_t)sh * (size_t)sw * sizeof(float));
        return;
    }
    memset(src_grad, 0, (size_t)sh * (size_t)sw * sizeof(float));
    /* The forward pass's four weights per destination cell, scattered back. */
    for (int y = 0; y < dh; y++) {
        int y0, y1;
        float fy;
        source_pos(y, sh, dh, &y0, &y1, &fy);
        float *r0 = src_grad + (size_t)y0 * sw, *r1 = src_grad + (size_t)y1 * sw;
        const float *row = dst_grad + (size_t)y * dw;
        for (int x = 0; x < dw; x++) {
            int x0, x1;
            float fx;
            source_pos(x, sw, dw, &x0, &x1, &fx);
            const float g = row[x], top = g * (1 - fy), bottom = g * fy;
            r0[x0] += top * (1 - fx);
            r0[x1] += top * fx;
            r1[x0] += bottom * (1 - fx);
            r1[x1] += bottom * fx;
        }
    }
}
