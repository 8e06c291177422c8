/* The dataset examples: every clip some channel shows, written once into
 * clips/ (audio and a thumbnail) and shared by the channel pages.
 *
 * A clip's audio is its original recording, as stored (rate, channels),
 * cut to the part the features were made from, when the source path is
 * readable; otherwise it is rendered from the features (NNLS mel inversion
 * and Griffin-Lim from a random phase, as dream's griffin-lim render), and
 * named "-rendered" so the page can say so. File names carry a hash of the
 * source path and the clip's features, so a file is reused only for the
 * same clip of the same data. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "atlas/atlas_internal.h"
#include "sonodream/audio.h"
#include "sonodream/plot.h"

static int exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

sono_status atlas_clips_collect(atlas_job *job, sono_error *err) {
    const sono_feature_set *set = job->set;
    char *shown = calloc((size_t)set->count, 1);
    if (!shown) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int i = 0; i < job->item_count; i++) {
        const atlas_item *it = &job->items[i];
        if (it->index_layer < 0) continue;
        const sono_atlas_layer_index *li = &job->index.layers[it->index_layer];
        for (int j = 0; j < li->top; j++) shown[li->top_clip[(size_t)it->channel * li->top + j]] = 1;
    }
    int n = 0;
    for (int i = 0; i < set->count; i++) n += shown[i];
    job->clips = calloc((size_t)(n ? n : 1), sizeof *job->clips);
    if (!job->clips) {
        free(shown);
        return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    }
    const size_t cells = (size_t)set->n_mels * set->frames;
    for (int i = 0; i < set->count; i++) {
        if (!shown[i]) continue;
        atlas_clip *cl = &job->clips[job->clip_count++];
        cl->clip = i;
        const char *source = set->sources[i] ? set->sources[i] : "";
        uint64_t h = fnv1a(1469598103934665603ull, source, strlen(source) + 1);
        h = fnv1a(h, set->features + (size_t)i * cells, cells * sizeof(float));
        char stem[64];
        atlas_safe_stem(*source ? source : "clip", stem, sizeof stem);
        snprintf(cl->stem, sizeof cl->stem, "%s-%08x", stem, (unsigned)(h ^ (h >> 32)));
    }
    free(shown);
    return SONO_OK;
}

const atlas_clip *atlas_clip_find(const atlas_job *job, int32_t clip) {
    int lo = 0, hi = job->clip_count - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (job->clips[mid].clip == clip) return &job->clips[mid];
        if (job->clips[mid].clip < clip) lo = mid + 1;
        else hi = mid - 1;
    }
    return NULL;
}

/* The original recording, cut to the features' length. 0 when it cannot be
 * read (or FLAC cannot hold it): the caller renders from the features. */
static int copy_original(const char *source, double seconds, const char *path, sono_error *err, sono_status *s) {
    sono_audio_reader *r = NULL;
    *s = SONO_OK;
    if (!source || !*source || sono_audio_reader_open(source, &r, NULL) != SONO_OK) return 0;
    const sono_audio_info *info = sono_audio_reader_info(r);
    int64_t frames = (int64_t)ceil(seconds * info->sample_rate);
    if (frames > info->frames) frames = info->frames;
    float *buf = NULL;
    int ok = frames > 0 && info->channels <= 8 && info->sample_rate <= 655350;
    if (ok) buf = malloc((size_t)frames * info->channels * sizeof(float));
    ok = ok && buf && sono_audio_reader_read(r, 0, frames, buf, NULL) == SONO_OK;
    if (ok) {
        int bits = strstr(info->encoding, "16 bit") || strstr(info->encoding, "8 bit") ? 16 : 24;
        *s = atlas_write_flac(path, buf, frames, info->channels, info->sample_rate, bits, err);
    }
    free(buf);
    sono_audio_reader_close(r);
    return ok;
}

static sono_status render_from_features(const atlas_job *job, int32_t clip, const char *path, sono_error *err) {
    const sono_feature_set *set = job->set;
    const size_t cells = (size_t)set->n_mels * set->frames;
    float *std = malloc(cells * sizeof(float));
    if (!std) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    memcpy(std, set->features + (size_t)clip * cells, cells * sizeof(float));
    sono_classifier_standardize(job->c, std, set->frames);
    sono_dream_audio_options opt;
    sono_dream_audio_defaults(&opt);
    opt.seed = (uint64_t)clip + 1;
    float *audio = NULL;
    int64_t n_out = 0;
    sono_status s = sono_dream_to_audio(job->c, std, set->frames, NULL, sono_feature_clip_samples(&set->config), &opt,
                                        &audio, &n_out, NULL, err);
    if (s == SONO_OK) s = atlas_write_flac(path, audio, n_out, 1, set->config.sample_rate, 16, err);
    free(audio);
    free(std);
    return s;
}

static sono_status write_clip(const atlas_job *job, atlas_clip *cl, sono_error *err) {
    const sono_feature_set *set = job->set;
    char path[4096], stem[128];
    atlas_path(job, path, sizeof path, ATLAS_CLIPS_DIR, cl->stem, ".png");
    sono_status s = SONO_OK;
    if (!exists(path))
        s = sono_plot_thumbnail(path, set->features + (size_t)cl->clip * set->n_mels * set->frames, set->n_mels,
                                set->frames, ATLAS_RANGE_DB, ATLAS_THUMB_W, ATLAS_THUMB_H, err);
    if (s != SONO_OK) return s;
    atlas_path(job, path, sizeof path, ATLAS_CLIPS_DIR, cl->stem, ".flac");
    if (exists(path)) return SONO_OK;
    if (copy_original(set->sources[cl->clip], set->config.seconds, path, err, &s)) return s;
    cl->rendered = 1;
    snprintf(stem, sizeof stem, "%s-rendered", cl->stem);
    atlas_path(job, path, sizeof path, ATLAS_CLIPS_DIR, stem, ".flac");
    return exists(path) ? SONO_OK : render_from_features(job, cl->clip, path, err);
}

sono_status atlas_clips_write(atlas_job *job, sono_atlas_report *report, sono_error *err) {
    const sono_atlas_options *opt = job->opt;
    int done = 0, stop = 0;
    sono_status first = SONO_OK;
#pragma omp parallel for schedule(dynamic, 4)
    for (int i = 0; i < job->clip_count; i++) {
        int skip;
#pragma omp atomic read
        skip = stop;
        if (skip) continue;
        sono_error e = {0};
        sono_status s = write_clip(job, &job->clips[i], &e);
#pragma omp critical(sono_atlas_progress)
        {
            if (s != SONO_OK && first == SONO_OK) {
                first = s, stop = 1;
                if (err) *err = e;
            }
            done++;
            if (!stop && opt->progress && opt->progress(SONO_ATLAS_CLIPS, done, job->clip_count, opt->progress_user)) {
                stop = 1;
                if (first == SONO_OK) first = sono_error_set(err, SONO_ERR_INTERRUPTED, "interrupted while writing clips");
            }
        }
    }
    report->clips = job->clip_count;
    for (int i = 0; i < job->clip_count; i++) report->clips_rendered += job->clips[i].rendered;
    return first;
}
