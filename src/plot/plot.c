/* Pictures with cairo: spectrograms and training curves. */
#include <cairo.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sonodream/fileio.h"
#include "plot_internal.h"
#include "sonodream/plot.h"

/* Anchor colours of matplotlib's magma at t = 0, 1/8, ..., 1. */
static const double magma[9][3] = {
    {0.001, 0.000, 0.014}, {0.078, 0.054, 0.211}, {0.232, 0.060, 0.437},
    {0.390, 0.100, 0.502}, {0.550, 0.161, 0.506}, {0.716, 0.215, 0.475},
    {0.868, 0.288, 0.409}, {0.967, 0.439, 0.360}, {0.987, 0.991, 0.750}};

void sono_colormap_magma(double t, double rgb[3]) {
    if (!(t > 0)) t = 0;
    if (t > 1) t = 1;
    double x = t * 8.0;
    int i = (int)x;
    if (i >= 8) i = 7;
    double f = x - i;
    for (int c = 0; c < 3; c++) rgb[c] = magma[i][c] * (1 - f) + magma[i + 1][c] * f;
}

static sono_status write_png(cairo_surface_t *surface, const char *path, sono_error *err) {
    sono_atomic_file out;
    sono_status s = sono_atomic_begin(&out, path, 0, err);
    if (s != SONO_OK) return s;
    if (cairo_surface_write_to_png(surface, out.tmp_path) != CAIRO_STATUS_SUCCESS) {
        sono_atomic_abort(&out);
        return sono_error_set(err, SONO_ERR_IO, "%s: cannot write PNG", path);
    }
    return sono_atomic_commit(&out, err);
}

sono_status sono_plot_finish_png(cairo_t *cr, cairo_surface_t *surface, const char *path, sono_error *err) {
    cairo_status_t cs = cairo_status(cr);
    cairo_destroy(cr);
    sono_status s = cs == CAIRO_STATUS_SUCCESS ? write_png(surface, path, err)
                                               : sono_error_set(err, SONO_ERR_MEMORY, "%s: cairo: %s", path,
                                                                cairo_status_to_string(cs));
    cairo_surface_destroy(surface);
    return s;
}

enum { PANEL_W = 520, PANEL_H = 360, MARGIN_L = 70, MARGIN_R = 20, MARGIN_T = 40, MARGIN_B = 50, BAR_W = 90 };

void sono_plot_text(cairo_t *cr, double x, double y, const char *text, double align_x, double align_y) {
    cairo_text_extents_t ext;
    cairo_text_extents(cr, text, &ext);
    cairo_move_to(cr, x - align_x * ext.width - ext.x_bearing, y - align_y * ext.height - ext.y_bearing);
    cairo_show_text(cr, text);
}

/* The panel's pixels: one cell per (frame, mel band). */
static cairo_surface_t *panel_image(const sono_spectrogram_panel *p, int n_mels, double lo, double hi) {
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, p->frames, n_mels);
    if (cairo_surface_status(img) != CAIRO_STATUS_SUCCESS) return img;
    cairo_surface_flush(img);
    unsigned char *data = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    for (int m = 0; m < n_mels; m++) {
        uint32_t *row = (uint32_t *)(data + (size_t)(n_mels - 1 - m) * (size_t)stride);
        for (int t = 0; t < p->frames; t++) {
            double rgb[3];
            sono_colormap_magma((p->db[(size_t)m * p->frames + t] - lo) / (hi - lo), rgb);
            row[t] = (uint32_t)(rgb[0] * 255) << 16 | (uint32_t)(rgb[1] * 255) << 8 | (uint32_t)(rgb[2] * 255);
        }
    }
    cairo_surface_mark_dirty(img);
    return img;
}

static void draw_axes(cairo_t *cr, const sono_feature_config *cfg, double x0, double y0, double w, double h,
                      int frames) {
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x0, y0, w, h);
    cairo_stroke(cr);
    cairo_set_font_size(cr, 11);
    double seconds = (double)(frames - 1) * cfg->hop / cfg->sample_rate;
    double step = seconds > 8 ? 2.0 : seconds > 3 ? 1.0 : seconds > 1 ? 0.5 : 0.1;
    char label[32];
    for (double s = 0; s <= seconds + 1e-9; s += step) {
        double x = x0 + w * s / (seconds > 0 ? seconds : 1);
        cairo_move_to(cr, x, y0 + h), cairo_line_to(cr, x, y0 + h + 4), cairo_stroke(cr);
        snprintf(label, sizeof label, "%g", s);
        sono_plot_text(cr, x, y0 + h + 8, label, 0.5, 0);
    }
    sono_plot_text(cr, x0 + w / 2, y0 + h + 26, "time (s)", 0.5, 0);
    double fmax = cfg->fmax > 0 ? cfg->fmax : cfg->sample_rate / 2.0;
    double mel_lo = sono_hz_to_mel(cfg->fmin), mel_hi = sono_hz_to_mel(fmax);
    static const double ticks[] = {0, 250, 500, 1000, 2000, 4000, 8000, 16000, 32000};
    for (size_t i = 0; i < sizeof ticks / sizeof ticks[0]; i++) {
        if (ticks[i] < cfg->fmin || ticks[i] > fmax) continue;
        double y = y0 + h - h * (sono_hz_to_mel(ticks[i]) - mel_lo) / (mel_hi - mel_lo);
        cairo_move_to(cr, x0 - 4, y), cairo_line_to(cr, x0, y), cairo_stroke(cr);
        snprintf(label, sizeof label, "%g", ticks[i]);
        sono_plot_text(cr, x0 - 7, y, label, 1, 0.5);
    }
    cairo_save(cr);
    cairo_translate(cr, x0 - 52, y0 + h / 2);
    cairo_rotate(cr, -M_PI / 2);
    sono_plot_text(cr, 0, 0, "frequency (Hz, mel scale)", 0.5, 0.5);
    cairo_restore(cr);
}

static void draw_colour_bar(cairo_t *cr, double x0, double y0, double h, double lo, double hi) {
    for (int i = 0; i < (int)h; i++) {
        double rgb[3];
        sono_colormap_magma(1.0 - i / h, rgb);
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_rectangle(cr, x0, y0 + i, 16, 1);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_rectangle(cr, x0, y0, 16, h);
    cairo_stroke(cr);
    char label[32];
    for (int k = 0; k <= 4; k++) {
        double v = lo + (hi - lo) * k / 4.0;
        snprintf(label, sizeof label, "%.0f dB", v);
        sono_plot_text(cr, x0 + 20, y0 + h - h * k / 4.0, label, 0, 0.5);
    }
}

sono_status sono_plot_spectrograms(const char *path, const sono_feature_config *cfg,
                                   const sono_spectrogram_panel *panels, int count, double range_db,
                                   sono_error *err) {
    if (count < 1 || range_db <= 0)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: nothing to draw", path);
    double hi = -INFINITY;
    for (int p = 0; p < count; p++)
        for (size_t i = 0; i < (size_t)cfg->n_mels * (size_t)panels[p].frames; i++)
            if (panels[p].db[i] > hi) hi = panels[p].db[i];
    if (!isfinite(hi)) return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: spectrogram is not finite", path);
    double lo = hi - range_db;
    int width = count * PANEL_W + BAR_W, height = PANEL_H;
    cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    cairo_t *cr = cairo_create(surface);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    double w = PANEL_W - MARGIN_L - MARGIN_R, h = PANEL_H - MARGIN_T - MARGIN_B;
    for (int p = 0; p < count; p++) {
        double x0 = p * PANEL_W + MARGIN_L, y0 = MARGIN_T;
        cairo_surface_t *img = panel_image(&panels[p], cfg->n_mels, lo, hi);
        cairo_save(cr);
        cairo_translate(cr, x0, y0);
        cairo_scale(cr, w / panels[p].frames, h / cfg->n_mels);
        cairo_set_source_surface(cr, img, 0, 0);
        cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
        cairo_paint(cr);
        cairo_restore(cr);
        cairo_surface_destroy(img);
        draw_axes(cr, cfg, x0, y0, w, h, panels[p].frames);
        cairo_set_font_size(cr, 14);
        sono_plot_text(cr, x0 + w / 2, 12, panels[p].title ? panels[p].title : "", 0.5, 0);
    }
    cairo_set_font_size(cr, 11);
    draw_colour_bar(cr, count * PANEL_W + 5, MARGIN_T, h, lo, hi);
    return sono_plot_finish_png(cr, surface, path, err);
}

/* A thumbnail is only the cells, scaled to width x height with nearest
 * neighbours (so each cell stays a sharp block, as in the full pictures). */
sono_status sono_plot_thumbnail(const char *path, const float *db, int n_mels, int frames, double range_db,
                                int width, int height, sono_error *err) {
    if (n_mels < 1 || frames < 1 || range_db <= 0 || width < 1 || height < 1 || width > 8192 || height > 8192)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: nothing to draw", path);
    double hi = -INFINITY;
    for (size_t i = 0; i < (size_t)n_mels * (size_t)frames; i++)
        if (db[i] > hi) hi = db[i];
    if (!isfinite(hi)) return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: spectrogram is not finite", path);
    sono_spectrogram_panel panel = {NULL, db, frames};
    cairo_surface_t *img = panel_image(&panel, n_mels, hi - range_db, hi);
    cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    cairo_t *cr = cairo_create(surface);
    cairo_scale(cr, (double)width / frames, (double)height / n_mels);
    cairo_set_source_surface(cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_paint(cr);
    cairo_surface_destroy(img);
    return sono_plot_finish_png(cr, surface, path, err);
}

static void curve_range(const sono_curve *curves, int count, int points, int axis, double *lo, double *hi) {
    *lo = INFINITY, *hi = -INFINITY;
    for (int c = 0; c < count; c++)
        for (int i = 0; curves[c].axis == axis && i < points; i++)
            if (isfinite(curves[c].values[i])) {
                if (curves[c].values[i] < *lo) *lo = curves[c].values[i];
                if (curves[c].values[i] > *hi) *hi = curves[c].values[i];
            }
    if (!isfinite(*lo)) *lo = 0, *hi = 1;
    if (*hi - *lo < 1e-9) *hi = *lo + 1;
    if (axis == 1 && *lo >= 0 && *hi <= 1) *lo = 0, *hi = 1; /* accuracies: the whole 0..1 scale */
}

sono_status sono_plot_curves(const char *path, const char *title, const char *x_label, const char *left_label,
                             const char *right_label, const sono_curve *curves, int count, int points,
                             sono_error *err) {
    static const double colours[6][3] = {{0.85, 0.2, 0.1}, {0.1, 0.4, 0.8}, {0.2, 0.65, 0.2},
                                         {0.6, 0.3, 0.7},  {0.9, 0.6, 0.0}, {0.3, 0.3, 0.3}};
    int width = 760, height = 440;
    double x0 = 70, y0 = 40, w = width - 150, h = height - 100;
    cairo_surface_t *surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, width, height);
    cairo_t *cr = cairo_create(surface);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1);
    cairo_rectangle(cr, x0, y0, w, h);
    cairo_stroke(cr);
    cairo_set_font_size(cr, 14);
    sono_plot_text(cr, x0 + w / 2, 12, title, 0.5, 0);
    cairo_set_font_size(cr, 11);
    sono_plot_text(cr, x0 + w / 2, y0 + h + 28, x_label, 0.5, 0);
    double range[2][2];
    for (int axis = 0; axis < 2; axis++) curve_range(curves, count, points, axis, &range[axis][0], &range[axis][1]);
    char label[32];
    int right_used = 0; /* no right-hand scale when no curve uses it */
    for (int c = 0; c < count; c++) right_used |= curves[c].axis == 1;
    for (int k = 0; k <= 4; k++) {
        double y = y0 + h - h * k / 4.0;
        snprintf(label, sizeof label, "%.3g", range[0][0] + (range[0][1] - range[0][0]) * k / 4.0);
        sono_plot_text(cr, x0 - 6, y, label, 1, 0.5);
        if (!right_used) continue;
        snprintf(label, sizeof label, "%.3g", range[1][0] + (range[1][1] - range[1][0]) * k / 4.0);
        sono_plot_text(cr, x0 + w + 6, y, label, 0, 0.5);
    }
    sono_plot_text(cr, 8, y0 - 14, left_label, 0, 0);
    sono_plot_text(cr, x0 + w, y0 - 14, right_label, 0, 0);
    for (int k = 1; k <= points; k += points > 10 ? points / 10 : 1) {
        snprintf(label, sizeof label, "%d", k);
        sono_plot_text(cr, x0 + (points > 1 ? w * (k - 1) / (points - 1) : w / 2), y0 + h + 6, label, 0.5, 0);
    }
    for (int c = 0; c < count; c++) {
        const double *rgb = colours[c % 6];
        const double *r = range[curves[c].axis];
        cairo_set_source_rgb(cr, rgb[0], rgb[1], rgb[2]);
        cairo_set_line_width(cr, 2);
        for (int i = 0; i < points; i++) {
            double x = x0 + (points > 1 ? w * i / (points - 1) : w / 2);
            double y = y0 + h - h * (curves[c].values[i] - r[0]) / (r[1] - r[0]);
            if (i == 0) cairo_move_to(cr, x, y);
            else cairo_line_to(cr, x, y);
        }
        if (points == 1) cairo_rel_line_to(cr, 1, 0);
        cairo_stroke(cr);
        cairo_rectangle(cr, x0 + 10, y0 + 10 + 16 * c, 14, 3);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0, 0, 0);
        sono_plot_text(cr, x0 + 30, y0 + 12 + 16 * c, curves[c].label, 0, 0.5);
    }
    return sono_plot_finish_png(cr, surface, path, err);
}
