/* prepare: clips -> log-mel features -> one feature file. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sonodream/audio.h"
#include "sonodream/data.h"
#include "sonodream/memory.h"

/* Clips within this much of the full length count as full (--length drop). */
#define FULL_LENGTH_TOLERANCE_SECONDS 0.010

typedef enum clip_outcome { CLIP_PENDING = 0, CLIP_OK, CLIP_SHORT, CLIP_FAILED } clip_outcome;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static sono_status check_memory(size_t clips, size_t per_clip_values, unsigned long long max_memory,
                                sono_error *err) {
    unsigned long long need = (unsigned long long)clips * per_clip_values * sizeof(float);
    unsigned long long have = max_memory ? max_memory : sono_memory_available();
    if (need <= have) return SONO_OK;
    char need_text[32], have_text[32];
    sono_format_bytes(need, need_text, sizeof need_text);
    sono_format_bytes(have, have_text, sizeof have_text);
    return sono_error_set(err, SONO_ERR_MEMORY,
                          "the features of %zu clips need %s (%llu bytes) but only %s %s; prepare fewer clips "
                          "(--exclude, a smaller --seconds or --mels)",
                          clips, need_text, need, have_text,
                          max_memory ? "are allowed by --max-memory" : "of memory is available");
}

/* Decode, fix the length and compute one clip's features into out. */
static clip_outcome process_clip(const sono_logmel *lm, const sono_prepare_options *opt, const char *path,
                                 float *clip_buffer, int64_t clip_samples, float *out, char **reason) {
    const sono_feature_config *cfg = &opt->features;
    float *samples = NULL;
    int64_t n = 0;
    sono_error err = {0};
    if (sono_audio_load(path, cfg->sample_rate, cfg->seconds, &samples, &n, NULL, &err) != SONO_OK) {
        *reason = strdup(err.message);
        return CLIP_FAILED;
    }
    int64_t tolerance = (int64_t)(FULL_LENGTH_TOLERANCE_SECONDS * cfg->sample_rate);
    if (opt->drop_short && n < clip_samples - tolerance) {
        free(samples);
        return CLIP_SHORT;
    }
    sono_fix_length(samples, n, clip_buffer, clip_samples);
    free(samples);
    if (sono_logmel_compute(lm, clip_buffer, clip_samples, out, &err) != SONO_OK) {
        *reason = strdup(err.message);
        return CLIP_FAILED;
    }
    return CLIP_OK;
}

typedef struct prepare_job {
    const sono_clip_list *list;
    const sono_prepare_options *opt;
    const sono_logmel *lm;
    int64_t clip_samples;
    size_t per_clip;      /* n_mels * frames */
    float *features;      /* (N, n_mels, frames), one slot per listed clip */
    clip_outcome *outcome;/* (N) */
    char **reasons;       /* (N) why a clip failed */
} prepare_job;

static sono_status run_clips(prepare_job *job, sono_error *err) {
    const int n = job->list->count;
    int done = 0, stop = 0;
    int threads = job->opt->jobs > 0 ? job->opt->jobs : omp_get_num_procs();
    int alloc_failed = 0;
#pragma omp parallel num_threads(threads)
    {
        float *clip_buffer = malloc((size_t)job->clip_samples * sizeof(float));
        if (!clip_buffer) {
#pragma omp atomic write
            alloc_failed = 1;
        }
#pragma omp for schedule(dynamic, 2)
        for (int i = 0; i < n; i++) {
            int stopping;
#pragma omp atomic read
            stopping = stop;
            if (stopping || !clip_buffer) continue;
            clip_outcome o = process_clip(job->lm, job->opt, job->list->clips[i].path, clip_buffer,
                                          job->clip_samples, job->features + (size_t)i * job->per_clip,
                                          &job->reasons[i]);
            job->outcome[i] = o;
            if (o == CLIP_FAILED && job->opt->strict) {
#pragma omp atomic write
                stop = 1;
            }
#pragma omp critical(prepare_progress)
            {
                done++;
                if (job->opt->progress) job->opt->progress(done, n, job->opt->progress_user);
            }
        }
        free(clip_buffer);
    }
    if (alloc_failed) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int i = 0; i < n; i++)
        if (job->outcome[i] == CLIP_FAILED && job->opt->strict)
            return sono_error_set(err, SONO_ERR_FORMAT, "%s (--strict: stopping)",
                                  job->reasons[i] ? job->reasons[i] : job->list->clips[i].path);
    return SONO_OK;
}

static char *dup_or_empty(const char *s) { return strdup(s ? s : ""); }

/* Move kept clips to the front and fill the report. */
static sono_status collect(prepare_job *job, sono_feature_set *set, sono_prepare_report *report,
                           sono_error *err) {
    const sono_clip_list *list = job->list;
    set->labels = malloc((size_t)(list->count ? list->count : 1) * sizeof(int32_t));
    set->folds = malloc((size_t)(list->count ? list->count : 1) * sizeof(int32_t));
    set->sources = calloc((size_t)(list->count ? list->count : 1), sizeof(char *));
    report->skipped = calloc((size_t)(list->count ? list->count : 1), sizeof *report->skipped);
    report->class_count = list->class_count;
    report->fold_count = list->fold_count;
    report->per_class_fold = calloc((size_t)(list->class_count * list->fold_count + 1), sizeof(int));
    if (!set->labels || !set->folds || !set->sources || !report->skipped || !report->per_class_fold)
        return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    int kept = 0;
    for (int i = 0; i < list->count; i++) {
        const sono_clip *clip = &list->clips[i];
        if (job->outcome[i] == CLIP_SHORT) report->dropped_short++;
        if (job->outcome[i] == CLIP_FAILED) {
            sono_skipped_clip *sk = &report->skipped[report->skipped_count++];
            sk->path = strdup(clip->path);
            sk->reason = job->reasons[i];
            job->reasons[i] = NULL;
        }
        if (job->outcome[i] != CLIP_OK) continue;
        if (kept != i)
            memmove(set->features + (size_t)kept * job->per_clip, set->features + (size_t)i * job->per_clip,
                    job->per_clip * sizeof(float));
        set->labels[kept] = clip->label;
        set->folds[kept] = clip->fold;
        if (!(set->sources[kept] = strdup(clip->path))) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        if (clip->fold >= 1 && clip->fold <= list->fold_count)
            report->per_class_fold[clip->label * list->fold_count + clip->fold - 1]++;
        kept++;
        set->count = kept;
    }
    report->written = kept;
    return SONO_OK;
}

static sono_status copy_names(char *const *names, int count, char ***out, int *out_count, sono_error *err) {
    *out = calloc((size_t)(count ? count : 1), sizeof **out);
    if (!*out) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int i = 0; i < count; i++) {
        if (!((*out)[i] = strdup(names[i]))) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        *out_count = i + 1;
    }
    return SONO_OK;
}

static sono_status start_set(const sono_clip_list *list, const sono_prepare_options *opt,
                             sono_feature_set *set, size_t per_clip, sono_error *err) {
    set->config = opt->features;
    set->n_mels = opt->features.n_mels;
    set->frames = sono_feature_frames(&opt->features, sono_feature_clip_samples(&opt->features));
    set->layout = dup_or_empty(sono_layout_name(list->layout));
    sono_status s = copy_names(list->class_names, list->class_count, &set->class_names, &set->class_count, err);
    if (s == SONO_OK) s = copy_names(list->fold_names, list->fold_count, &set->fold_names, &set->fold_count, err);
    if (s != SONO_OK) return s;
    set->features = malloc((size_t)(list->count ? list->count : 1) * per_clip * sizeof(float));
    if (!set->features || !set->layout)
        return sono_error_set(err, SONO_ERR_MEMORY, "not enough memory for the features of %d clips",
                              list->count);
    return SONO_OK;
}

sono_status sono_prepare(const sono_clip_list *list, const sono_prepare_options *opt,
                         const char *out_path, sono_prepare_report *report, sono_error *err) {
    memset(report, 0, sizeof *report);
    double start = now_seconds();
    sono_status s = sono_feature_config_validate(&opt->features, err);
    if (s != SONO_OK) return s;
    int64_t clip_samples = sono_feature_clip_samples(&opt->features);
    size_t per_clip = (size_t)opt->features.n_mels * (size_t)sono_feature_frames(&opt->features, clip_samples);
    s = check_memory((size_t)list->count, per_clip, opt->max_memory, err);
    if (s != SONO_OK) return s;

    prepare_job job = {list, opt, NULL, clip_samples, per_clip, NULL, NULL, NULL};
    sono_feature_set *set = calloc(1, sizeof *set);
    job.outcome = calloc((size_t)(list->count ? list->count : 1), sizeof *job.outcome);
    job.reasons = calloc((size_t)(list->count ? list->count : 1), sizeof *job.reasons);
    if (!set || !job.outcome || !job.reasons) s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    if (s == SONO_OK) s = start_set(list, opt, set, per_clip, err);
    if (s == SONO_OK && !(job.lm = sono_logmel_new(&opt->features, err))) s = err ? err->status : SONO_ERR_MEMORY;
    job.features = set ? set->features : NULL;
    if (s == SONO_OK) s = run_clips(&job, err);
    if (s == SONO_OK) s = collect(&job, set, report, err);
    if (s == SONO_OK && set->count == 0)
        s = sono_error_set(err, SONO_ERR_FORMAT, "no clip could be prepared (%d skipped, %d too short)",
                           report->skipped_count, report->dropped_short);
    if (s == SONO_OK) s = sono_feature_set_write(set, out_path, err);
    report->seconds = now_seconds() - start;
    for (int i = 0; i < list->count && job.reasons; i++) free(job.reasons[i]);
    free(job.reasons);
    free(job.outcome);
    sono_logmel_free((sono_logmel *)job.lm);
    sono_feature_set_free(set);
    return s;
}

void sono_prepare_report_free(sono_prepare_report *report) {
    if (!report) return;
    for (int i = 0; i < report->skipped_count; i++) {
        free(report->skipped[i].path);
        free(report->skipped[i].reason);
    }
    free(report->skipped);
    free(report->per_class_fold);
    memset(report, 0, sizeof *report);
}
