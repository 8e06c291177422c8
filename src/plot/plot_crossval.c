/* The cross-validation picture: per-fold accuracy and the pooled confusion matrix. */
#include <cairo.h>
#include <math.h>
#include <stdio.h>

#include "plot_internal.h"
#include "sonodream/plot.h"

enum { CV_H = 520, BARS_W = 360, MATRIX_W = 560, TOP = 50, BOTTOM = 120, LEFT = 60 };

static void draw_bars(cairo_t *cr, const int *folds, const double *accuracy, int n, double mean, double std) {
    const double x0 = LEFT, y0 = TOP, w = BARS_W - LEFT - 20, h = CV_H - TOP - BOTTOM;
    char label[32];
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x0, y0, w, h);
    cairo_stroke(cr);
    cairo_set_font_size(cr, 11);
    for (int k = 0; k <= 5; k++) {
        snprintf(label, sizeof label, "%d%%", 20 * k);
        sono_plot_text(cr, x0 - 6, y0 + h - h * k / 5.0, label, 1, 0.5);
    }
    double slot = w / (n > 0 ? n : 1);
    for (int i = 0; i < n; i++) {
        double bar = h * accuracy[i];
        cairo_set_source_rgb(cr, 0.2, 0.45, 0.75);
        cairo_rectangle(cr, x0 + slot * (i + 0.15), y0 + h - bar, slot * 0.7, bar);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        snprintf(label, sizeof label, "%d", folds[i]);
        sono_plot_text(cr, x0 + slot * (i + 0.5), y0 + h + 6, label, 0.5, 0);
        snprintf(label, sizeof label, "%.1f", 100 * accuracy[i]);
        sono_plot_text(cr, x0 + slot * (i + 0.5), y0 + h - bar - 4, label, 0.5, 1);
    }
    /* mean (solid) and mean +- std (dashed) */
    double ys[3] = {mean, mean - std, mean + std};
    cairo_set_source_rgb(cr, 0.85, 0.2, 0.1);
    for (int k = 0; k < 3; k++) {
        if (!isfinite(ys[k])) continue;
        double dash = 4;
        cairo_set_dash(cr, &dash, k ? 1 : 0, 0);
        cairo_move_to(cr, x0, y0 + h - h * ys[k]);
        cairo_line_to(cr, x0 + w, y0 + h - h * ys[k]);
        cairo_stroke(cr);
    }
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_set_source_rgb(cr, 0, 0, 0);
    sono_plot_text(cr, x0 + w / 2, y0 + h + 24, "test fold", 0.5, 0);
    if (isfinite(std)) snprintf(label, sizeof label, "mean %.1f%% +- %.1f", 100 * mean, 100 * std);
    else snprintf(label, sizeof label, "mean %.1f%%", 100 * mean);
    sono_plot_text(cr, x0 + w / 2, y0 - 8, label, 0.5, 1);
}

static void draw_matrix(cairo_t *cr, const char *const *names, int K, const int *confusion) {
    const double x0 = BARS_W + 130, y0 = TOP, side = fmin(MATRIX_W - 150, CV_H - TOP - BOTTOM), cell = side / K;
    char label[32];
    cairo_set_font_size(cr, K > 20 ? 7 : 10);
    for (int r = 0; r < K; r++) {
        long row_total = 0;
        for (int c = 0; c < K; c++) row_total += confusion[r * K + c];
        for (int c = 0; c < K; c++) {
            double v = row_total ? (double)confusion[r * K + c] / row_total : 0, rgb[3];
            sono_colormap_magma(v, rgb);
            cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
            cairo_rectangle(cr, x0 + c * cell, y0 + r * cell, cell, cell);
            cairo_fill(cr);
            if (K <= 20 && confusion[r * K + c]) {
                cairo_set_source_rgb(cr, v > 0.5 ? 0 : 1, v > 0.5 ? 0 : 1, v > 0.5 ? 0 : 1);
                snprintf(label, sizeof label, "%d", confusion[r * K + c]);
                sono_plot_text(cr, x0 + (c + 0.5) * cell, y0 + (r + 0.5) * cell, label, 0.5, 0.5);
            }
        }
        cairo_set_source_rgb(cr, 0, 0, 0);
        if (K <= 60) sono_plot_text(cr, x0 - 4, y0 + (r + 0.5) * cell, names[r], 1, 0.5);
    }
    for (int c = 0; c < K && K <= 60; c++) { /* column names, rotated */
        cairo_save(cr);
        cairo_translate(cr, x0 + (c + 0.5) * cell, y0 + side + 4);
        cairo_rotate(cr, M_PI / 4);
        sono_plot_text(cr, 0, 0, names[c], 0, 0.5);
        cairo_restore(cr);
    }
    cairo_set_font_size(cr, 11);
    sono_plot_text(cr, x0 + side / 2, y0 - 8, "pooled confusion (rows: true class, normalised)", 0.5, 1);
    sono_plot_text(cr, x0 + side / 2, CV_H - 14, "predicted class", 0.5, 1);
}

sono_status sono_plot_crossval(const char *path, const char *title, const int *folds, const double *accuracy,
                               int fold_count, double mean, double std, const char *const *class_names,
                               int classes, const int *confusion, sono_error *err) {
    cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, BARS_W + MATRIX_W + 40, CV_H);
    cairo_t *cr = cairo_create(surface);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_font_size(cr, 14);
    sono_plot_text(cr, (BARS_W + MATRIX_W) / 2.0, 10, title, 0.5, 0);
    draw_bars(cr, folds, accuracy, fold_count, mean, std);
    draw_matrix(cr, class_names, classes, confusion);
    return sono_plot_finish_png(cr, surface, path, err);
}
