/* sonodream: pictures drawn with cairo (PNG, written atomically). */
#ifndef SONODREAM_PLOT_H
#define SONODREAM_PLOT_H

#include "sonodream/dsp.h"
#include "sonodream/error.h"

#include "sonodream/export.h"

SONO_BEGIN_DECLS

typedef struct sono_spectrogram_panel {
    const char *title;
    const float *db;  /* (n_mels, frames) log-mel in dB, band 0 lowest */
    int frames;
} sono_spectrogram_panel;

/* Spectrogram panels side by side with a magma-like colour map, time in
 * seconds and frequency in Hz on the axes and one colour bar in dB. The
 * colour range is [db_max - range_db, db_max] where db_max is the loudest
 * value over all panels. cfg gives rate, hop and mel scale for the axes. */
sono_status sono_plot_spectrograms(const char *path, const sono_feature_config *cfg,
                                   const sono_spectrogram_panel *panels, int count, double range_db,
                                   sono_error *err);

/* A spectrogram alone (no axes, no title), db (n_mels, frames) scaled to
 * width x height pixels, band 0 at the bottom, the colour range
 * [max - range_db, max]: the atlas's thumbnails. */
sono_status sono_plot_thumbnail(const char *path, const float *db, int n_mels, int frames, double range_db,
                                int width, int height, sono_error *err);

typedef struct sono_curve {
    const char *label;
    const double *values; /* (points) */
    int axis;             /* 0: left axis, 1: right axis */
} sono_curve;

/* Line chart of curves over x = 1..points (epochs): e.g. loss on the left
 * axis, accuracies on the right. */
sono_status sono_plot_curves(const char *path, const char *title, const char *x_label,
                             const char *left_label, const char *right_label, const sono_curve *curves,
                             int count, int points, sono_error *err);

/* The picture of a dream: input and dream log-mel (n_mels, frames) in dB
 * side by side, as sono_plot_spectrograms draws them over
 * SONO_PLOT_DREAM_RANGE_DB (the range whose 255th part is the dream step's
 * level). Recordings longer than SONO_PLOT_MAX_COLUMNS frames are pictured
 * at a coarser hop, the loudest frame of each group kept. */
#define SONO_PLOT_DREAM_RANGE_DB 80.0
#define SONO_PLOT_MAX_COLUMNS 4096
sono_status sono_plot_dream(const char *path, const sono_feature_config *cfg, const float *input_db,
                            const float *output_db, int frames, const char *input_title, sono_error *err);

/* Cross-validation picture: per-fold accuracy bars with the mean and one
 * standard deviation on the left, the pooled confusion matrix (rows, the
 * true classes, normalised to 1; counts printed) on the right. */
sono_status sono_plot_crossval(const char *path, const char *title, const int *folds, const double *accuracy,
                               int fold_count, double mean, double std, const char *const *class_names,
                               int classes, const int *confusion, sono_error *err);

/* Magma-like colour for t in [0, 1]. */
void sono_colormap_magma(double t, double rgb[3]);

SONO_END_DECLS
#endif
