/* prepare: clips -> log-mel features -> one feature file. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sonodream/audio.h"
#include "sonodream/data.h"
#include "sonodream/distributed.h"
#include "sonodream/memory.h"

/* Clips within this much of the full length count as full (--length drop). */
#define FULL_LENGTH_TOLERANCE_SECONDS 0.010

typedef enum clip_outcome { CLIP_PENDING = 0, CLIP_OK, CLIP_SHORT, CLIP_FAILED } clip_outcome;

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Clips in flight per thread: enough that threads rarely wait for each
 * other at the end of a chunk, few enough that memory stays small. */
#define CLIPS_PER_THREAD 16

/* Bytes a rank needs with `share` clips of each chunk: per thread, the clip
 * buffer and about one more for decoding; the chunk's features twice (its
 * slots and the packed copy sent to rank 0); rank 0 also holds the whole
 * gathered chunk. */
static unsigned long long working_bytes(int threads, int64_t clip_samples, size_t per_clip, int64_t share,
                                        int ranks, int is_root) {
    unsigned long long values = (unsigned long long)threads * (2ull * (unsigned long long)clip_samples + per_clip) +
                                2ull * (unsigned long long)share * per_clip;
    if (is_root) values += (unsigned long long)share * (unsigned long long)ranks * per_clip;
    return values * sizeof(float);
}

/* The largest share per rank (threads .. CLIPS_PER_THREAD * threads) that
 * fits the memory allowed; 0 with an error naming the size when none does. */
static int64_t choose_share(int threads, int64_t clip_samples, size_t per_clip, unsigned long long max_memory,
                            sono_error *err) {
    unsigned long long have = max_memory ? max_memory : sono_memory_available();
    int ranks = sono_dist_size(), root = sono_dist_rank() == 0;
    for (int64_t share = (int64_t)CLIPS_PER_THREAD * threads; share >= threads; share /= 2)
        if (working_bytes(threads, clip_samples, per_clip, share, ranks, root) <= have) return share;
    unsigned long long need = working_bytes(threads, clip_samples, per_clip, threads, ranks, root);
    char need_text[32], have_text[32];
    sono_format_bytes(need, need_text, sizeof need_text);
    sono_format_bytes(have, have_text, sizeof have_text);
    sono_error_set(err, SONO_ERR_MEMORY,
                   "prepare needs %s (%llu bytes) for one clip in flight per thread (%d threads) but only %s %s; use "
                   "fewer --jobs, a smaller --seconds or --mels",
                   need_text, need, threads, have_text,
                   max_memory ? "are allowed by --max-memory" : "of memory is available");
    return 0;
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
    size_t per_clip;       /* n_mels * frames */
    int threads;
    int64_t share;         /* clips of each chunk per rank */
    float *features;       /* (share, n_mels, frames): this rank's clips of the chunk */
    clip_outcome *outcome; /* (share) */
    char **reasons;        /* (share) why a clip failed */
    int64_t done;          /* clips finished, all ranks (progress) */
} prepare_job;

/* Process clips [first, first + count) of the list into the job's slots. */
static sono_status run_clips(prepare_job *job, int64_t first, int64_t count, sono_error *err) {
    int stop = 0, alloc_failed = 0, per_clip_progress = sono_dist_size() == 1;
    for (int64_t i = 0; i < count; i++) job->outcome[i] = CLIP_PENDING, job->reasons[i] = NULL;
#pragma omp parallel num_threads(job->threads)
    {
        float *clip_buffer = malloc((size_t)job->clip_samples * sizeof(float));
        if (!clip_buffer) {
#pragma omp atomic write
            alloc_failed = 1;
        }
#pragma omp for schedule(dynamic, 1)
        for (int64_t i = 0; i < count; i++) {
            int stopping;
#pragma omp atomic read
            stopping = stop;
            if (stopping || !clip_buffer) continue;
            clip_outcome o = process_clip(job->lm, job->opt, job->list->clips[first + i].path, clip_buffer,
                                          job->clip_samples, job->features + (size_t)i * job->per_clip,
                                          &job->reasons[i]);
            job->outcome[i] = o;
            if (o == CLIP_FAILED && job->opt->strict) {
#pragma omp atomic write
                stop = 1;
            }
            if (per_clip_progress) {
#pragma omp critical(prepare_progress)
                {
                    job->done++;
                    if (job->opt->progress) job->opt->progress(job->done, job->list->count, job->opt->progress_user);
                }
            }
        }
        free(clip_buffer);
    }
    if (alloc_failed) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    return SONO_OK;
}

/* This rank's clips of a chunk as bytes for rank 0: outcomes (int32), reason
 * lengths (int32), the reasons, then the features of the clips that worked. */
static void *pack_share(const prepare_job *job, int64_t count, size_t *bytes) {
    size_t reason_bytes = 0, ok = 0;
    for (int64_t i = 0; i < count; i++) {
        if (job->reasons[i]) reason_bytes += strlen(job->reasons[i]);
        ok += job->outcome[i] == CLIP_OK;
    }
    *bytes = 2 * (size_t)count * sizeof(int32_t) + reason_bytes + ok * job->per_clip * sizeof(float);
    unsigned char *buf = malloc(*bytes ? *bytes : 1), *p = buf;
    if (!buf) return NULL;
    for (int64_t i = 0; i < count; i++, p += sizeof(int32_t)) {
        int32_t o = (int32_t)job->outcome[i];
        memcpy(p, &o, sizeof o);
    }
    for (int64_t i = 0; i < count; i++, p += sizeof(int32_t)) {
        int32_t len = job->reasons[i] ? (int32_t)strlen(job->reasons[i]) : 0;
        memcpy(p, &len, sizeof len);
    }
    for (int64_t i = 0; i < count; i++)
        if (job->reasons[i]) memcpy(p, job->reasons[i], strlen(job->reasons[i])), p += strlen(job->reasons[i]);
    for (int64_t i = 0; i < count; i++)
        if (job->outcome[i] == CLIP_OK)
            memcpy(p, job->features + (size_t)i * job->per_clip, job->per_clip * sizeof(float)),
                p += job->per_clip * sizeof(float);
    return buf;
}

static sono_status skip_clip(sono_prepare_report *report, const char *path, const char *reason, size_t len) {
    sono_skipped_clip *sk = &report->skipped[report->skipped_count];
    sk->path = strdup(path);
    sk->reason = malloc(len + 1);
    if (!sk->path || !sk->reason) {
        free(sk->path), free(sk->reason);
        return SONO_ERR_MEMORY;
    }
    memcpy(sk->reason, reason, len);
    sk->reason[len] = '\0';
    report->skipped_count++;
    return SONO_OK;
}

/* Rank 0: one rank's packed clips [first, first + count) into the file and
 * the report. A failed clip under --strict becomes the error. */
static sono_status unpack_share(const prepare_job *job, const unsigned char *p, int64_t first, int64_t count,
                                sono_feature_writer *w, sono_prepare_report *report, sono_error *err) {
    const sono_clip_list *list = job->list;
    const unsigned char *lens = p + (size_t)count * sizeof(int32_t);
    const unsigned char *text = lens + (size_t)count * sizeof(int32_t), *feat = text;
    for (int64_t i = 0; i < count; i++) {
        int32_t len;
        memcpy(&len, lens + (size_t)i * sizeof(int32_t), sizeof len);
        feat += len;
    }
    sono_status s = SONO_OK;
    for (int64_t i = 0; s == SONO_OK && i < count; i++) {
        int32_t o, len;
        memcpy(&o, p + (size_t)i * sizeof(int32_t), sizeof o);
        memcpy(&len, lens + (size_t)i * sizeof(int32_t), sizeof len);
        const sono_clip *clip = &list->clips[first + i];
        if (o == CLIP_SHORT) report->dropped_short++;
        if (o == CLIP_FAILED && job->opt->strict)
            return sono_error_set(err, SONO_ERR_FORMAT, "%.*s (--strict: stopping)", (int)len, (const char *)text);
        if (o == CLIP_FAILED && skip_clip(report, clip->path, (const char *)text, (size_t)len) != SONO_OK)
            return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        text += len;
        if (o != CLIP_OK) continue;
        s = sono_feature_writer_add(w, (const float *)feat, clip->label, clip->fold, clip->path, err);
        feat += job->per_clip * sizeof(float);
        if (clip->fold >= 1 && clip->fold <= list->fold_count)
            report->per_class_fold[clip->label * list->fold_count + clip->fold - 1]++;
        report->written++;
    }
    return s;
}

/* Under --strict every rank must stop at the chunk where rank 0 did, with
 * rank 0's message: it is sent along. */
static sono_status agree_on_stop(sono_status s, sono_error *err) {
    if (sono_dist_size() == 1) return s;
    struct { int32_t status; char message[SONO_ERROR_MESSAGE_MAX]; } verdict = {0};
    if (sono_dist_rank() == 0 && s != SONO_OK) {
        verdict.status = (int32_t)s;
        snprintf(verdict.message, sizeof verdict.message, "%s", err ? err->message : "prepare failed");
    }
    sono_error local = {0};
    sono_status b = sono_dist_broadcast(&verdict, sizeof verdict, 0, "prepare: rank 0's verdict on a chunk", &local);
    if (b != SONO_OK) {
        if (err) *err = local;
        return b;
    }
    if (verdict.status != SONO_OK && sono_dist_rank() != 0)
        return sono_error_set(err, (sono_status)verdict.status, "%s", verdict.message);
    return (sono_status)verdict.status != SONO_OK ? (sono_status)verdict.status : s;
}

/* One chunk of the list: every rank processes its share, rank 0 writes them
 * all in list order. */
static sono_status run_chunk(prepare_job *job, int64_t chunk_first, int64_t chunk_count, sono_feature_writer *w,
                             sono_prepare_report *report, sono_error *err) {
    int rank = sono_dist_rank(), ranks = sono_dist_size();
    int64_t first, count;
    sono_dist_share(chunk_count, rank, ranks, &first, &count);
    sono_status s = run_clips(job, chunk_first + first, count, err);
    size_t bytes = 0;
    void *packed = s == SONO_OK ? pack_share(job, count, &bytes) : NULL;
    for (int64_t i = 0; i < count; i++) free(job->reasons[i]), job->reasons[i] = NULL;
    if (s == SONO_OK && !packed) s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    if (s != SONO_OK) return s; /* a local failure: the caller stops the whole job */
    void *all = NULL;
    size_t sizes[ranks > 0 ? ranks : 1];
    s = sono_dist_gather(packed, bytes, 0, &all, sizes, "prepare: gathering a chunk's features", err);
    free(packed);
    const unsigned char *p = all;
    for (int r = 0; s == SONO_OK && rank == 0 && r < ranks; r++) {
        int64_t rf, rc;
        sono_dist_share(chunk_count, r, ranks, &rf, &rc);
        s = unpack_share(job, p, chunk_first + rf, rc, w, report, err);
        p += sizes[r];
    }
    free(all);
    job->done = chunk_first + chunk_count;
    if (ranks > 1 && rank == 0 && job->opt->progress) job->opt->progress(job->done, job->list->count, job->opt->progress_user);
    return agree_on_stop(s, err);
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

/* What the file will say about itself; sources are the list's paths
 * (borrowed, for the header's reserved room). */
static sono_status describe_output(const sono_clip_list *list, const sono_prepare_options *opt,
                                   sono_feature_set *meta, char **sources, sono_error *err) {
    meta->config = opt->features;
    meta->count = list->count;
    meta->n_mels = opt->features.n_mels;
    meta->frames = sono_feature_frames(&opt->features, sono_feature_clip_samples(&opt->features));
    meta->layout = strdup(sono_layout_name(list->layout) ? sono_layout_name(list->layout) : "");
    if (!meta->layout) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int i = 0; i < list->count; i++) sources[i] = list->clips[i].path;
    meta->sources = sources;
    sono_status s = copy_names(list->class_names, list->class_count, &meta->class_names, &meta->class_count, err);
    if (s == SONO_OK) s = copy_names(list->fold_names, list->fold_count, &meta->fold_names, &meta->fold_count, err);
    return s;
}

static void free_output_description(sono_feature_set *meta) {
    meta->sources = NULL, meta->count = 0; /* borrowed */
    for (int i = 0; i < meta->class_count; i++) free(meta->class_names[i]);
    for (int i = 0; i < meta->fold_count; i++) free(meta->fold_names[i]);
    free(meta->class_names), free(meta->fold_names), free(meta->layout);
}

static sono_status start_report(const sono_clip_list *list, sono_prepare_report *report, sono_error *err) {
    report->skipped = calloc((size_t)(list->count ? list->count : 1), sizeof *report->skipped);
    report->class_count = list->class_count;
    report->fold_count = list->fold_count;
    report->per_class_fold = calloc((size_t)(list->class_count * list->fold_count + 1), sizeof(int));
    if (!report->skipped || !report->per_class_fold) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    return SONO_OK;
}

/* Every rank must agree on the chunk size (rank 0's) and be able to hold it. */
static sono_status agree_on_share(prepare_job *job, sono_error *err) {
    int64_t share = choose_share(job->threads, job->clip_samples, job->per_clip, job->opt->max_memory, err);
    sono_status s = share > 0 ? SONO_OK : err ? err->status : SONO_ERR_MEMORY;
    if (sono_dist_size() == 1 || s != SONO_OK) {
        job->share = share;
        return s;
    }
    s = sono_dist_broadcast(&share, sizeof share, 0, "prepare: chunk size", err);
    job->share = share;
    if (s == SONO_OK && share > (int64_t)CLIPS_PER_THREAD * job->threads)
        s = sono_error_set(err, SONO_ERR_MEMORY, "rank 0 chose %lld clips per chunk, more than %d threads here are "
                           "meant to hold; give every rank the same --jobs", (long long)share, job->threads);
    return s;
}

static sono_status run_all(prepare_job *job, sono_feature_writer *w, sono_prepare_report *report, sono_error *err) {
    const int64_t n = job->list->count, chunk = job->share * sono_dist_size();
    sono_status s = SONO_OK;
    for (int64_t first = 0; s == SONO_OK && first < n; first += chunk)
        s = run_chunk(job, first, n - first < chunk ? n - first : chunk, w, report, err);
    return s;
}

sono_status sono_prepare(const sono_clip_list *list, const sono_prepare_options *opt,
                         const char *out_path, sono_prepare_report *report, sono_error *err) {
    memset(report, 0, sizeof *report);
    double start = now_seconds();
    sono_status s = sono_feature_config_validate(&opt->features, err);
    if (s != SONO_OK) return s;
    prepare_job job = {list, opt, NULL, sono_feature_clip_samples(&opt->features), 0, 0, 0, NULL, NULL, NULL, 0};
    job.per_clip = (size_t)opt->features.n_mels * (size_t)sono_feature_frames(&opt->features, job.clip_samples);
    job.threads = opt->jobs > 0 ? opt->jobs : omp_get_num_procs();
    s = agree_on_share(&job, err);
    if (s != SONO_OK) return s;
    int root = sono_dist_rank() == 0;
    sono_feature_set meta = {0};
    char **sources = malloc((size_t)(list->count ? list->count : 1) * sizeof *sources);
    job.features = malloc((size_t)job.share * job.per_clip * sizeof(float));
    job.outcome = calloc((size_t)job.share, sizeof *job.outcome);
    job.reasons = calloc((size_t)job.share, sizeof *job.reasons);
    if (!sources || !job.features || !job.outcome || !job.reasons)
        s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    sono_logmel *lm = NULL;
    if (s == SONO_OK) s = sono_logmel_new(&opt->features, &lm, err);
    job.lm = lm;
    sono_feature_writer *w = NULL;
    if (s == SONO_OK && root) s = describe_output(list, opt, &meta, sources, err);
    if (s == SONO_OK && root) s = start_report(list, report, err);
    if (s == SONO_OK && root) s = sono_feature_writer_begin(&w, out_path, &meta, err);
    if (s == SONO_OK) s = run_all(&job, w, report, err);
    if (s == SONO_OK && root && report->written == 0)
        s = sono_error_set(err, SONO_ERR_FORMAT, "no clip could be prepared (%d skipped, %d too short)",
                           report->skipped_count, report->dropped_short);
    if (s == SONO_OK && root) s = sono_feature_writer_commit(w, err);
    else sono_feature_writer_abort(w);
    report->seconds = now_seconds() - start;
    free(job.reasons), free(job.outcome), free(job.features), free(sources);
    sono_logmel_free(lm);
    free_output_description(&meta);
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
