/* The dream's picture: input and dream log-mel side by side, long
 * recordings pictured at a coarser hop so the PNG stays a readable size.
 * Shared by `sonodream dream` and `sonodream serve`. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sonodream/plot.h"

/* The loudest of each group of `factor` frames of src (n_mels, frames) into
 * dst (n_mels, ceil(frames / factor)): peaks stay visible when coarsened. */
static void coarsen(const float *src, int n_mels, int frames, int factor, float *dst) {
    int out = (frames + factor - 1) / factor;
    for (int m = 0; m < n_mels; m++) {
        const float *row = src + (size_t)m * frames;
        float *drow = dst + (size_t)m * out;
        for (int j = 0; j < out; j++) {
            float v = -INFINITY;
            for (int k = j * factor; k < (j + 1) * factor && k < frames; k++) v = row[k] > v ? row[k] : v;
            drow[j] = v;
        }
    }
}

sono_status sono_plot_dream(const char *path, const sono_feature_config *cfg, const float *input_db,
                            const float *output_db, int frames, const char *input_title, sono_error *err) {
    const int n_mels = cfg->n_mels;
    if (frames < 1 || !input_db || !output_db)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: no spectrogram to picture", path);
    const int factor = (frames + SONO_PLOT_MAX_COLUMNS - 1) / SONO_PLOT_MAX_COLUMNS;
    sono_feature_config shown = *cfg;
    const float *in = input_db, *outp = output_db;
    float *coarse = NULL;
    int columns = frames;
    if (factor > 1) {
        columns = (frames + factor - 1) / factor;
        coarse = malloc(2 * (size_t)n_mels * columns * sizeof(float));
        if (!coarse) return sono_error_set(err, SONO_ERR_MEMORY, "%s: out of memory for the picture", path);
        coarsen(input_db, n_mels, frames, factor, coarse);
        coarsen(output_db, n_mels, frames, factor, coarse + (size_t)n_mels * columns);
        in = coarse, outp = coarse + (size_t)n_mels * columns;
        shown.hop *= factor;
    }
    sono_spectrogram_panel panels[2] = {{input_title, in, columns}, {"dream", outp, columns}};
    sono_status s = sono_plot_spectrograms(path, &shown, panels, 2, SONO_PLOT_DREAM_RANGE_DB, err);
    free(coarse);
    return s;
}
