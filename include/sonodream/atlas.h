/* sonodream: the atlas, what every channel of a classifier hears.
 *
 * Feature visualisation for a sound classifier (after Olah, Mordvintsev and
 * Schubert, "Feature Visualization", Distill 2017, and OpenAI Microscope):
 * every channel of every convolution (or of the layers asked for), and every
 * class, is dreamed from the same noise through the one dream call
 * (sono_dream_recording), and shown next to the clips of a feature file that
 * excite it most and the mean activation per class (for a class, the clips
 * with the highest logit and its mean logit per class). The result is a folder
 * of static pages:
 *
 *   DIR/index.html            a grid per layer, filters by layer and class
 *   DIR/<layer>/<NNN>.html    one page per channel (NNN = channel, 3 digits)
 *   DIR/<layer>/<NNN>.png     spectrogram thumbnail of the dream
 *   DIR/<layer>/<NNN>-plot.png  the same with axes (channel page)
 *   DIR/<layer>/<NNN>.flac    the dream
 *   DIR/<layer>/<NNN>.json    the dream's parameters and results
 *   DIR/classes/<k>.*         the same for class k (objective: its logit)
 *   DIR/clips/<name>.flac|png dataset examples (the original recording,
 *                             or rendered from the features) and thumbnails
 *
 * Resuming: a channel is finished when its JSON exists (written last, every
 * file atomically); a rerun reuses it when the parameters stored there equal
 * the run's (model file, objective, dream parameters, library version), and
 * dreams it again otherwise. The dataset index (one forward pass) and the
 * pages are rebuilt on every run; index.html is written last.
 *
 * Nothing here prints or exits; progress and Ctrl-C go through the progress
 * callback. */
#ifndef SONODREAM_ATLAS_H
#define SONODREAM_ATLAS_H

#include <stdint.h>

#include "sonodream/classifier.h"
#include "sonodream/data.h"
#include "sonodream/dream.h"
#include "sonodream/error.h"

#include "sonodream/export.h"

SONO_BEGIN_DECLS

/* ---- the dataset index ---- */

/* One layer's share of the index. */
typedef struct sono_atlas_layer_index {
    int layer;           /* index of the layer in the net */
    int channels;        /* C */
    float *mean;         /* (clips, C) mean activation of each channel over a clip's cells */
    int top;             /* k: examples kept per channel (fewer when the folds hold fewer clips) */
    int32_t *top_clip;   /* (C, k) clip numbers in the feature set, highest mean first */
    float *top_value;    /* (C, k) their mean activations */
    float *class_mean;   /* (C, classes) mean over the clips of each class; NAN for a class without clips */
} sono_atlas_layer_index;

typedef struct sono_atlas_index {
    int clip_count;                 /* clips of the chosen folds */
    int32_t *clips;                 /* (clip_count) their numbers in the feature set, ascending */
    int classes;
    int *class_clips;               /* (classes) clips of each class among them */
    int layer_count;
    sono_atlas_layer_index *layers; /* (layer_count) */
} sono_atlas_index;

/* One forward pass over the clips of `folds` (0: all) of a feature set, up
 * to the last of `layers` (count layer indices of the net, any order): the
 * mean activation per clip and channel of each of those layers (a dense
 * layer's units are channels of one cell: "logits" gives each class's
 * logit), the `top`
 * clips per channel (by partial selection; ties go to the lower clip
 * number; with `groups` (set->count group ids, e.g. the recording each clip
 * was cut from; NULL: none), at most one clip per group, and k is cut to the
 * number of groups), and the mean per class. Clips are standardised as the model
 * expects and go through the net max_batch at a time, the batches shared
 * among `jobs` workers: workers[0..jobs) are loads of the same model, one
 * per thread, each used single-threaded. The set must match the model
 * (sono_check_compatible). Free with sono_atlas_index_free. */
sono_status sono_atlas_index_build(sono_classifier *const *workers, int jobs, const sono_feature_set *set,
                                   uint64_t folds, const int32_t *groups, const int *layers, int count, int top,
                                   sono_atlas_index *index, sono_error *err);
void sono_atlas_index_free(sono_atlas_index *index); /* NULL is a no-op. */

/* The k largest of values (n) in decreasing order, ties to the lower index:
 * their indices into order (k <= n). A partial selection (quickselect, then
 * a sort of the k), O(n + k log k). scratch holds n int32. */
void sono_atlas_top_k(const float *values, int n, int k, int32_t *order, int32_t *scratch);

/* The same with at most one index per group (group (n) ids; NULL: no
 * groups): the best of each group, in the order above, until k. Returns how
 * many were found (fewer than k when there are fewer groups). */
int sono_atlas_top_k_grouped(const float *values, const int32_t *group, int n, int k, int32_t *order,
                             int32_t *scratch);

/* ---- the whole atlas ---- */

typedef enum sono_atlas_stage {
    SONO_ATLAS_INDEX = 0, /* the forward pass over the feature file */
    SONO_ATLAS_DREAMS,    /* dreaming channels and classes */
    SONO_ATLAS_CLIPS,     /* dataset examples: audio and thumbnails */
    SONO_ATLAS_PAGES      /* channel pages and the index */
} sono_atlas_stage;

/* "index", "dreams", "clips", "pages". */
const char *sono_atlas_stage_name(sono_atlas_stage stage);

/* Called (from one thread at a time) as work advances: done of total items
 * of the stage, and during dreams after every ascent step. Return non-zero
 * to stop: the job then fails with SONO_ERR_INTERRUPTED, keeping every
 * channel finished so far. */
typedef int (*sono_atlas_progress_fn)(sono_atlas_stage stage, int done, int total, void *user);

typedef struct sono_atlas_options {
    const char *const *layers; /* names of conv layers; NULL: every conv layer */
    int layer_count;
    const int *channels;       /* channel numbers kept in every chosen layer; NULL: all */
    int channel_count;
    int classes;               /* 1: dream every class too (the default) */
    double seconds;            /* 2: length of each dream, at the model's rate */
    double noise_db;           /* SONO_DREAM_NOISE_LEVEL_DB (-40): level of the noise every dream starts from */
    int top;                   /* 6: dataset examples per channel */
    int every_slice;           /* 0: UrbanSound8K clips cut from one recording (one fsID) count
                                  once among a channel's examples; 1: every clip on its own */
    uint64_t folds;            /* clips of these folds (bit k = fold k; 0: every fold of the file) */
    sono_dream_request dream;  /* render, ascent (octaves, iterations, step, seed...): see
                                  sono_atlas_defaults; objective fields are set per channel */
    int jobs;                  /* dreams at once, one classifier each; 0: OpenMP's thread count */
    sono_atlas_progress_fn progress;
    void *progress_user;
} sono_atlas_options;

/* The atlas defaults: every conv layer and class, 2 s, top 6, and the dream
 * request's defaults with the ascent the atlas needs to stay within its time
 * (see sono_atlas_defaults in atlas.c for the measurements behind it). */
void sono_atlas_defaults(sono_atlas_options *opt);

typedef struct sono_atlas_report {
    int items;        /* channels + classes in the atlas */
    int dreamed;      /* dreamed in this run */
    int reused;       /* taken from an earlier run */
    int clips;        /* distinct example clips shown */
    int clips_rendered; /* of which rendered from features (source unreadable) */
    double seconds_index, seconds_dreams, seconds_clips, seconds_pages; /* wall time per stage */
} sono_atlas_report;

/* Build the atlas of the model at model_path into out_dir (created when
 * missing), with dataset examples from features_path (NULL: none). Every
 * argument is checked before anything is written: unknown or non-conv
 * layers, channels beyond a layer, folds the feature file lacks, a feature
 * file of another configuration or other classes than the model's; then
 * nothing is created. report may be NULL. */
sono_status sono_atlas_build(const char *model_path, const char *features_path, const char *out_dir,
                             const sono_atlas_options *opt, sono_atlas_report *report, sono_error *err);

SONO_END_DECLS

#endif
