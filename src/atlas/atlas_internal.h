/* What the atlas's files share: the job, its items, a text buffer. */
#ifndef SONO_ATLAS_INTERNAL_H
#define SONO_ATLAS_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sonodream/atlas.h"

#define ATLAS_CLASSES_DIR "classes"
#define ATLAS_CLIPS_DIR "clips"
#define ATLAS_RANGE_DB 80.0 /* colour range of every picture, as dream's */
#define ATLAS_THUMB_W 128
#define ATLAS_THUMB_H 128

/* One picture of the atlas: a channel of a conv layer, or a class. */
typedef struct atlas_item {
    int layer;         /* net layer index; -1 for a class */
    int channel;       /* the channel, or the class for a class item */
    int index_layer;   /* its layer's row in the dataset index; -1 without one */
    char dir[24];      /* folder under the output: the layer's name or "classes" */
    char stem[16];     /* file stem: the channel (or class) number, 3 digits */
    /* what the dream did (from this run or the JSON of an earlier one) */
    double objective_before, objective_after, mean_change_db;
    int dream_class;   /* the class the model hears in the dream */
    double dream_prob; /* its probability */
    int preferred;     /* the class shown for the filter: the dataset's, else the dream's */
    int reused;
} atlas_item;

/* An example clip, shared by every channel that shows it. */
typedef struct atlas_clip {
    int32_t clip;      /* number in the feature set */
    char stem[96];     /* file stem under clips/ */
    int rendered;      /* 1: its audio was rendered from the features */
} atlas_clip;

typedef struct atlas_job {
    const sono_atlas_options *opt;
    const char *model_path, *features_path, *out_dir;
    sono_classifier *c;       /* the first worker's classifier (checks, clips, pages) */
    sono_classifier **workers;/* (jobs) one load of the model per worker; workers[0] = c */
    int jobs;
    sono_feature_set *set;    /* NULL without a feature file */
    sono_atlas_index index;   /* empty without a feature file */
    int *layers;              /* (layer_count) chosen conv layers, net indices */
    int layer_count;
    atlas_item *items;
    int item_count;
    atlas_clip *clips;        /* sorted by clip number */
    int clip_count;
    char model_hash[17];      /* FNV-1a 64 of the model file, hex */
    int grouped;              /* examples: at most one clip per recording */
} atlas_job;

/* ---- text ---- */

typedef struct sbuf {
    char *data;
    size_t len, cap;
    int failed; /* an allocation failed; data holds what fitted */
} sbuf;

void sbuf_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s with & < > " ' escaped for HTML text and attributes. */
void sbuf_html(sbuf *b, const char *s);
void sbuf_free(sbuf *b);

/* out_dir/dir/stem+ext (dir or stem may be NULL). */
void atlas_path(const atlas_job *job, char *buf, size_t size, const char *dir, const char *stem, const char *ext);

/* Write text to path atomically, unless the file already holds exactly it
 * (pages are rebuilt on every run; unchanged ones keep their time). */
sono_status atlas_write_text(const char *path, const char *text, size_t len, sono_error *err);

/* Samples (frames, channels) as 16-bit (or 24-bit) FLAC, atomically. */
sono_status atlas_write_flac(const char *path, const float *samples, int64_t frames, int channels, int rate,
                             int bits, sono_error *err);

/* The example clips every channel shows: collect, then write audio and
 * thumbnails (atlas_clips.c). */
sono_status atlas_clips_collect(atlas_job *job, sono_error *err);
sono_status atlas_clips_write(atlas_job *job, sono_atlas_report *report, sono_error *err);
const atlas_clip *atlas_clip_find(const atlas_job *job, int32_t clip);

/* Channel pages and index.html (atlas_pages.c). */
sono_status atlas_pages_write(atlas_job *job, sono_error *err);

/* A file's base name without its extension, reduced to [A-Za-z0-9._-]. */
void atlas_safe_stem(const char *path, char *out, size_t size);

#endif
