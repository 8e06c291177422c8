/* sono_atlas_build: check everything, index the dataset, dream every channel
 * and class (reusing finished ones), write the example clips and the pages.
 *
 * Dreams run `jobs` at a time, one classifier per worker (a classifier runs
 * one dream at a time); each worker's dream is single-threaded then, which
 * on two cores beats one dream over both cores: a 2 s dream is one window,
 * and only the convolutions split a single window over threads. */
#include <cblas.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "atlas/atlas_internal.h"
#include "sonodream/fileio.h"
#include "sonodream/plot.h"
#include "sonodream/train.h"

const char *sono_atlas_stage_name(sono_atlas_stage stage) {
    switch (stage) {
    case SONO_ATLAS_INDEX: return "index";
    case SONO_ATLAS_DREAMS: return "dreams";
    case SONO_ATLAS_CLIPS: return "clips";
    case SONO_ATLAS_PAGES: return "pages";
    }
    return "?";
}

/* The dream's own defaults (mask render, 4 octaves x 10 steps): they fit
 * the atlas's time (the full atlas of the shipped model, 266 dreams, takes
 * about 60 s of CPU: under 3 minutes on two cores shared with a load of 15;
 * docs/ARCHITECTURE.md, "atlas"), so an atlas picture is what
 * `sonodream dream --noise` gives. */
void sono_atlas_defaults(sono_atlas_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->classes = 1;
    opt->seconds = 2.0;
    opt->noise_db = SONO_DREAM_NOISE_LEVEL_DB;
    opt->top = 6;
    sono_dream_request_defaults(&opt->dream);
}

static double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* ---- checks, before anything is written ---- */

static sono_status check_options(const sono_atlas_options *opt, sono_error *err) {
    if (!(opt->seconds >= 0.1 && opt->seconds <= 60))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "atlas: seconds must be within 0.1..60 (got %g)", opt->seconds);
    if (opt->top < 1 || opt->top > 100)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "atlas: top must be within 1..100 (got %d)", opt->top);
    if (opt->jobs < 0 || opt->jobs > 256)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "atlas: jobs must be within 0..256 (got %d)", opt->jobs);
    if (!(opt->noise_db > -200 && opt->noise_db < 0))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "atlas: noise level must be below 0 dB (got %g)", opt->noise_db);
    return SONO_OK;
}

static void list_convs(const sono_net *net, char *buf, size_t size) {
    size_t len = 0;
    buf[0] = '\0';
    for (int i = 0; i < sono_net_layer_count(net); i++) {
        const sono_layer_info *li = sono_net_layer(net, i);
        if (li->type != SONO_LAYER_CONV || len + strlen(li->name) + 3 >= size) continue;
        len += (size_t)snprintf(buf + len, size - len, "%s%s", len ? ", " : "", li->name);
    }
}

/* The chosen layers as net indices, in network order without repeats. */
static sono_status resolve_layers(atlas_job *job, sono_error *err) {
    const sono_net *net = job->c->net;
    const sono_atlas_options *opt = job->opt;
    char convs[512];
    list_convs(net, convs, sizeof convs);
    int n = sono_net_layer_count(net);
    job->layers = malloc((size_t)n * sizeof(int));
    if (!job->layers) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    char *chosen = calloc((size_t)n, 1);
    if (!chosen) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int i = 0; i < opt->layer_count; i++) {
        int l = sono_net_find_layer(net, opt->layers[i]);
        if (l < 0 || sono_net_layer(net, l)->type != SONO_LAYER_CONV) {
            sono_status s = sono_error_set(err, SONO_ERR_ARGUMENT,
                                           l < 0 ? "%s: no layer '%s'; the atlas takes convolutions: %s"
                                                 : "%s: layer '%s' is not a convolution; the atlas takes: %s",
                                           job->model_path, opt->layers[i], convs);
            free(chosen);
            return s;
        }
        chosen[l] = 1;
    }
    for (int l = 0; l < n; l++)
        if (opt->layers ? chosen[l] : sono_net_layer(net, l)->type == SONO_LAYER_CONV) job->layers[job->layer_count++] = l;
    free(chosen);
    if (job->layer_count == 0 && !opt->classes)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: no convolution to draw and classes left out", job->model_path);
    for (int i = 0; i < opt->channel_count; i++)
        for (int l = 0; l < job->layer_count; l++) {
            const sono_layer_info *li = sono_net_layer(net, job->layers[l]);
            if (opt->channels[i] < 0 || opt->channels[i] >= li->out.c)
                return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: channel %d: layer %s has channels 0..%d",
                                      job->model_path, opt->channels[i], li->name, li->out.c - 1);
        }
    return SONO_OK;
}

static sono_status check_features(atlas_job *job, sono_error *err) {
    sono_status s = sono_feature_set_read(job->features_path, &job->set, err);
    if (s == SONO_OK) s = sono_check_compatible(job->c, job->set, job->features_path, err);
    if (s != SONO_OK) return s;
    uint64_t present = 0;
    for (int i = 0; i < job->set->count; i++) present |= (uint64_t)1 << job->set->folds[i];
    uint64_t missing = job->opt->folds & ~present;
    if (missing) {
        char want[128], have[128];
        sono_folds_format(missing, want, sizeof want);
        sono_folds_format(present, have, sizeof have);
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: no clips of fold %s (its folds: %s)", job->features_path, want,
                              have);
    }
    return SONO_OK;
}

/* FNV-1a 64 of a file's bytes: the model's identity in each channel's
 * parameters (a retrained model at the same path dreams again). */
static sono_status file_hash(const char *path, char out[17], sono_error *err) {
    FILE *f;
    sono_status s = sono_open_input(path, NULL, &f, err);
    if (s != SONO_OK) return s;
    uint64_t h = 1469598103934665603ull;
    unsigned char block[65536];
    size_t n;
    while ((n = fread(block, 1, sizeof block, f)) > 0)
        for (size_t i = 0; i < n; i++) h = (h ^ block[i]) * 1099511628211ull;
    int bad = ferror(f);
    fclose(f);
    if (bad) return sono_error_set(err, SONO_ERR_IO, "%s: read failed", path);
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return SONO_OK;
}

/* ---- items ---- */

static sono_status plan_items(atlas_job *job, sono_error *err) {
    const sono_atlas_options *opt = job->opt;
    int total = opt->classes ? job->c->class_count : 0;
    for (int l = 0; l < job->layer_count; l++)
        total += opt->channels ? opt->channel_count : sono_net_layer(job->c->net, job->layers[l])->out.c;
    job->items = calloc((size_t)(total ? total : 1), sizeof *job->items);
    if (!job->items) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int l = 0; l < job->layer_count; l++) {
        const sono_layer_info *li = sono_net_layer(job->c->net, job->layers[l]);
        int n = opt->channels ? opt->channel_count : li->out.c;
        for (int i = 0; i < n; i++) {
            atlas_item *it = &job->items[job->item_count++];
            it->layer = job->layers[l];
            it->channel = opt->channels ? opt->channels[i] : i;
            it->index_layer = job->set ? l : -1;
            snprintf(it->dir, sizeof it->dir, "%s", li->name);
            snprintf(it->stem, sizeof it->stem, "%03d", it->channel);
        }
    }
    for (int k = 0; opt->classes && k < job->c->class_count; k++) {
        atlas_item *it = &job->items[job->item_count++];
        it->layer = -1, it->channel = k;
        it->index_layer = job->set ? job->layer_count : -1; /* the logits, after the convolutions */
        snprintf(it->dir, sizeof it->dir, "%s", ATLAS_CLASSES_DIR);
        snprintf(it->stem, sizeof it->stem, "%03d", k);
    }
    return SONO_OK;
}

/* Everything a channel's dream depends on. Equal parameters, equal files. */
static cJSON *item_params(const atlas_job *job, const atlas_item *it) {
    const sono_dream_request *r = &job->opt->dream;
    const sono_dream_options *d = &r->ascent;
    cJSON *p = cJSON_CreateObject();
    cJSON_AddStringToObject(p, "sonodream_version", SONO_VERSION);
    cJSON_AddStringToObject(p, "model_fnv1a64", job->model_hash);
    if (it->layer >= 0) {
        cJSON_AddStringToObject(p, "objective", "channel");
        cJSON_AddStringToObject(p, "layer", it->dir);
        cJSON_AddNumberToObject(p, "channel", it->channel);
    } else {
        cJSON_AddStringToObject(p, "objective", "class");
        cJSON_AddStringToObject(p, "class", job->c->class_names[it->channel]);
    }
    cJSON_AddNumberToObject(p, "seconds", job->opt->seconds);
    cJSON_AddNumberToObject(p, "noise_db", job->opt->noise_db);
    cJSON_AddStringToObject(p, "render", sono_dream_render_name(r->render));
    cJSON_AddNumberToObject(p, "octaves", d->octaves);
    cJSON_AddNumberToObject(p, "octave_scale", d->octave_scale);
    cJSON_AddNumberToObject(p, "iterations", d->iterations);
    cJSON_AddNumberToObject(p, "step", d->step);
    cJSON_AddNumberToObject(p, "jitter", d->jitter);
    cJSON_AddNumberToObject(p, "smooth", d->smooth);
    cJSON_AddNumberToObject(p, "seed", (double)d->seed);
    cJSON_AddNumberToObject(p, "ceiling", r->ceiling);
    if (r->render == SONO_RENDER_GRIFFIN_LIM) {
        cJSON_AddNumberToObject(p, "griffin_lim_iterations", r->griffin_lim.griffin_lim_iterations);
        cJSON_AddNumberToObject(p, "griffin_lim_momentum", r->griffin_lim.momentum);
    }
    return p;
}

static double json_number(const cJSON *o, const char *key, double fallback) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

/* 1 when the item's JSON exists, its parameters equal the run's and its
 * files are all there; the results are then read back into it. */
static int try_reuse(const atlas_job *job, atlas_item *it) {
    char path[4096];
    atlas_path(job, path, sizeof path, it->dir, it->stem, ".json");
    FILE *f;
    if (sono_open_input(path, NULL, &f, NULL) != SONO_OK) return 0;
    char *text = NULL;
    size_t len = 0, cap = 0, n;
    char block[8192];
    while ((n = fread(block, 1, sizeof block, f)) > 0) {
        if (len + n + 1 > cap) {
            char *t = realloc(text, cap = 2 * (len + n + 1));
            if (!t) break;
            text = t;
        }
        memcpy(text + len, block, n);
        len += n;
    }
    fclose(f);
    if (!text) return 0;
    text[len] = '\0';
    cJSON *root = cJSON_Parse(text);
    free(text);
    cJSON *want = item_params(job, it);
    const cJSON *result = cJSON_GetObjectItemCaseSensitive(root, "result");
    int same = root && cJSON_Compare(cJSON_GetObjectItemCaseSensitive(root, "params"), want, 1) && cJSON_IsObject(result);
    const char *exts[] = {".png", "-plot.png", ".flac"};
    for (int e = 0; same && e < 3; e++) {
        struct stat st;
        atlas_path(job, path, sizeof path, it->dir, it->stem, exts[e]);
        same = stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
    }
    if (same) {
        it->objective_before = json_number(result, "objective_before", NAN);
        it->objective_after = json_number(result, "objective_after", NAN);
        it->mean_change_db = json_number(result, "mean_change_db", NAN);
        it->dream_class = (int)json_number(result, "dream_class_index", -1);
        it->dream_prob = json_number(result, "dream_class_probability", NAN);
        same = it->dream_class >= 0 && it->dream_class < job->c->class_count;
    }
    cJSON_Delete(want);
    cJSON_Delete(root);
    return same;
}

/* ---- dreaming ---- */

typedef struct dream_state {
    atlas_job *job;
    int done, total;
    int stop;            /* set when the progress callback asks to stop or a dream failed */
    sono_error first_err;
    sono_status first_status;
} dream_state;

static int report_progress(dream_state *st) {
    int stop;
#pragma omp critical(sono_atlas_progress)
    {
        const sono_atlas_options *opt = st->job->opt;
        if (!st->stop && opt->progress && opt->progress(SONO_ATLAS_DREAMS, st->done, st->total, opt->progress_user))
            st->stop = 1;
        stop = st->stop;
    }
    return stop;
}

static int on_dream_step(int step, int total, double objective, void *user) {
    (void)step, (void)total, (void)objective;
    return report_progress(user);
}

/* The item's JSON: the parameters that decide whether it can be reused, and
 * the dream's report with the class the dream is heard as. */
static sono_status write_item_json(const atlas_job *job, const atlas_item *it, const sono_dream_request *req,
                                   const sono_dream_result *r, const float *probs, sono_error *err) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddItemToObject(root, "params", item_params(job, it));
    cJSON *res = cJSON_AddObjectToObject(root, "result");
    sono_dream_result_add_json(res, job->c, req, r);
    cJSON_AddNumberToObject(res, "dream_class_index", it->dream_class);
    cJSON_AddStringToObject(res, "dream_class", job->c->class_names[it->dream_class]);
    cJSON_AddNumberToObject(res, "dream_class_probability", it->dream_prob);
    cJSON *p = cJSON_AddArrayToObject(res, "dream_probabilities");
    for (int k = 0; k < job->c->class_count; k++) cJSON_AddItemToArray(p, cJSON_CreateNumber(probs[k]));
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    char path[4096];
    atlas_path(job, path, sizeof path, it->dir, it->stem, ".json");
    sono_status s = atlas_write_text(path, text, strlen(text), err);
    free(text);
    return s;
}

/* Pictures, sound, then the JSON that marks the item finished. */
static sono_status write_item(const atlas_job *job, atlas_item *it, const sono_recording *out,
                              const sono_dream_request *req, sono_dream_result *r, const float *probs,
                              sono_error *err) {
    char path[4096];
    const int n_mels = r->n_mels;
    atlas_path(job, path, sizeof path, it->dir, it->stem, ".png");
    sono_status s = sono_plot_thumbnail(path, r->output_db, n_mels, r->spec_frames, ATLAS_RANGE_DB, ATLAS_THUMB_W,
                                        ATLAS_THUMB_H, err);
    if (s == SONO_OK) {
        sono_spectrogram_panel panels[2] = {{"noise (start)", r->input_db, r->spec_frames},
                                            {"dream", r->output_db, r->spec_frames}};
        atlas_path(job, path, sizeof path, it->dir, it->stem, "-plot.png");
        s = sono_plot_spectrograms(path, &job->c->features, panels, 2, ATLAS_RANGE_DB, err);
    }
    if (s == SONO_OK) {
        atlas_path(job, path, sizeof path, it->dir, it->stem, ".flac");
        s = atlas_write_flac(path, out->samples, out->frames, out->channels, out->sample_rate, 16, err);
    }
    if (s == SONO_OK) s = write_item_json(job, it, req, r, probs, err);
    return s;
}

static sono_status dream_item(atlas_job *job, sono_classifier *c, atlas_item *it, const sono_recording *noise,
                              dream_state *st, sono_error *err) {
    sono_dream_request req = job->opt->dream;
    if (it->layer >= 0) {
        req.ascent.objective = SONO_DREAM_CHANNEL;
        req.ascent.layer = it->layer;
        req.ascent.channel = it->channel;
    } else {
        req.ascent.objective = SONO_DREAM_CLASS;
        req.ascent.class_index = it->channel;
    }
    req.ascent.progress = on_dream_step;
    req.ascent.progress_user = st;
    req.keep_spectrograms = 1;
    req.out_rate = 0;
    sono_recording out;
    sono_dream_result r;
    memset(&out, 0, sizeof out);
    memset(&r, 0, sizeof r);
    float *probs = malloc((size_t)c->class_count * sizeof(float));
    sono_status s = probs ? sono_dream_recording(c, noise, &req, &out, &r, err)
                          : sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    if (s == SONO_OK) s = sono_classifier_classify_samples(c, out.samples, out.frames, probs, NULL, err);
    if (s == SONO_OK) {
        it->objective_before = r.objective_before;
        it->objective_after = r.objective_after;
        it->mean_change_db = r.mean_change_db;
        it->dream_class = 0;
        for (int k = 1; k < c->class_count; k++)
            if (probs[k] > probs[it->dream_class]) it->dream_class = k;
        it->dream_prob = probs[it->dream_class];
        s = write_item(job, it, &out, &req, &r, probs, err);
    }
    if (s != SONO_OK && s != SONO_ERR_INTERRUPTED)
        sono_error_prefix(err, "%s %s: ", it->layer >= 0 ? it->dir : "class",
                          it->layer >= 0 ? it->stem : c->class_names[it->channel]);
    free(probs);
    sono_dream_result_free(&r);
    sono_recording_free(&out);
    return s;
}

static sono_status make_dir(const char *path, sono_error *err) {
    if (mkdir(path, 0777) == 0 || errno == EEXIST) {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return SONO_OK;
        return sono_error_set(err, SONO_ERR_IO, "%s: exists and is not a folder", path);
    }
    return sono_error_set(err, SONO_ERR_IO, "%s: cannot create the folder: %s", path, strerror(errno));
}

static sono_status make_dirs(const atlas_job *job, sono_error *err) {
    char path[4096];
    sono_status s = make_dir(job->out_dir, err);
    for (int i = 0; s == SONO_OK && i < job->item_count; i++)
        if (i == 0 || strcmp(job->items[i].dir, job->items[i - 1].dir) != 0) {
            atlas_path(job, path, sizeof path, job->items[i].dir, NULL, NULL);
            s = make_dir(path, err);
        }
    if (s == SONO_OK && job->set) {
        atlas_path(job, path, sizeof path, ATLAS_CLIPS_DIR, NULL, NULL);
        s = make_dir(path, err);
    }
    return s;
}

/* One classifier per worker (a classifier runs one pass at a time). */
static sono_status load_workers(atlas_job *job, sono_error *err) {
    job->jobs = job->opt->jobs > 0 ? job->opt->jobs : omp_get_max_threads();
    job->workers = calloc((size_t)job->jobs, sizeof *job->workers);
    if (!job->workers) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    job->workers[0] = job->c;
    for (int w = 1; w < job->jobs; w++) {
        sono_status s = sono_classifier_load(job->model_path, SONO_DREAM_MAX_BATCH, &job->workers[w], NULL, err);
        if (s != SONO_OK) return s;
    }
    return SONO_OK;
}

/* Run one item on worker w and record how it went. */
static void dream_one(atlas_job *job, int w, atlas_item *it, const sono_recording *noise, dream_state *st) {
    int stop;
#pragma omp atomic read
    stop = st->stop;
    if (stop) return;
    sono_error e = {0};
    sono_status ds = dream_item(job, job->workers[w], it, noise, st, &e);
#pragma omp critical(sono_atlas_progress)
    {
        if (ds == SONO_OK) st->done++;
        else if (st->first_status == SONO_OK || st->first_status == SONO_ERR_INTERRUPTED) {
            if (ds != SONO_ERR_INTERRUPTED || st->first_status == SONO_OK) st->first_err = e, st->first_status = ds;
            st->stop = 1;
        }
    }
    if (ds == SONO_OK) report_progress(st);
}

static sono_status dream_all(atlas_job *job, sono_atlas_report *report, sono_error *err) {
    const sono_atlas_options *opt = job->opt;
    int *todo = malloc((size_t)(job->item_count ? job->item_count : 1) * sizeof(int));
    if (!todo) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    int todo_count = 0;
    for (int i = 0; i < job->item_count; i++) {
        job->items[i].reused = try_reuse(job, &job->items[i]);
        if (job->items[i].reused) report->reused++;
        else todo[todo_count++] = i;
    }
    dream_state st = {job, 0, todo_count, 0, {0}, SONO_OK};
    sono_recording noise = {NULL, 0, 1, job->c->features.sample_rate};
    sono_status s = SONO_OK;
    if (todo_count)
        s = sono_dream_noise(&job->c->features, opt->seconds, opt->noise_db, opt->dream.ascent.seed, &noise.samples,
                             &noise.frames, err);
    if (s == SONO_OK && todo_count) {
        report_progress(&st);
        /* Each worker dreams on its own thread, one thread inside (see the
         * top of this file). */
#pragma omp parallel num_threads(job->jobs)
        {
            omp_set_num_threads(1);
#pragma omp for schedule(dynamic, 1)
            for (int t = 0; t < todo_count; t++) dream_one(job, omp_get_thread_num(), &job->items[todo[t]], &noise, &st);
        }
        if (st.first_status != SONO_OK) {
            if (err) *err = st.first_err;
            s = st.first_status;
        } else if (st.stop) {
            s = SONO_ERR_INTERRUPTED;
        }
        if (s == SONO_ERR_INTERRUPTED)
            s = sono_error_set(err, SONO_ERR_INTERRUPTED,
                               "interrupted: %d of %d dreams finished in %s (%d more from earlier runs); run the "
                               "same command again to continue",
                               st.done, todo_count, job->out_dir, report->reused);
    }
    report->dreamed = st.done;
    free(noise.samples);
    free(todo);
    return s;
}

/* The class a channel prefers: the one whose clips excite it most on
 * average, else the class the model hears in its dream. */
static void choose_preferred(atlas_job *job) {
    for (int i = 0; i < job->item_count; i++) {
        atlas_item *it = &job->items[i];
        it->preferred = it->layer < 0 ? it->channel : it->dream_class;
        if (it->layer < 0 || it->index_layer < 0) continue;
        const sono_atlas_layer_index *li = &job->index.layers[it->index_layer];
        const float *m = li->class_mean + (size_t)it->channel * job->index.classes;
        int best = -1;
        for (int k = 0; k < job->index.classes; k++)
            if (!isnan(m[k]) && (best < 0 || m[k] > m[best])) best = k;
        if (best >= 0) it->preferred = best;
    }
}

/* UrbanSound8K cuts each freesound recording into up to 4 s slices named
 * fsID-classID-occurrence-slice; a channel that likes one slice likes its
 * neighbours, so without groups its examples are often six slices of one
 * recording. The group of a clip is its fsID; NULL for other layouts (or
 * names that do not follow the pattern). */
static int32_t *recording_groups(const sono_feature_set *set) {
    if (!set->layout || strcmp(set->layout, "urbansound8k") != 0) return NULL;
    int32_t *groups = malloc((size_t)(set->count ? set->count : 1) * sizeof(int32_t));
    for (int i = 0; groups && i < set->count; i++) {
        const char *base = set->sources[i] ? strrchr(set->sources[i], '/') : NULL;
        base = base ? base + 1 : set->sources[i] ? set->sources[i] : "";
        char *end;
        long id = strtol(base, &end, 10);
        if (end == base || *end != '-' || id < 0 || id > INT32_MAX) {
            free(groups);
            return NULL;
        }
        groups[i] = (int32_t)id;
    }
    return groups;
}

/* The chosen convolutions and, for the class pages, the logits (a class's
 * "activation" is its logit). */
static sono_status build_index(atlas_job *job, sono_error *err) {
    int *layers = malloc((size_t)(job->layer_count + 1) * sizeof(int));
    if (!layers) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    int32_t *groups = job->opt->every_slice ? NULL : recording_groups(job->set);
    job->grouped = groups != NULL;
    memcpy(layers, job->layers, (size_t)job->layer_count * sizeof(int));
    int count = job->layer_count;
    if (job->opt->classes) layers[count++] = sono_net_layer_count(job->c->net) - 1;
    sono_status s = sono_atlas_index_build(job->workers, job->jobs, job->set, job->opt->folds, groups, layers, count,
                                           job->opt->top, &job->index, err);
    free(layers);
    free(groups);
    return s;
}

static void job_free(atlas_job *job) {
    sono_atlas_index_free(&job->index);
    sono_feature_set_free(job->set);
    for (int w = 1; job->workers && w < job->jobs; w++) sono_classifier_free(job->workers[w]);
    free(job->workers);
    sono_classifier_free(job->c);
    free(job->layers), free(job->items), free(job->clips);
}

static int stage_progress(const sono_atlas_options *opt, sono_atlas_stage stage, int done, int total) {
    return opt->progress ? opt->progress(stage, done, total, opt->progress_user) : 0;
}

sono_status sono_atlas_build(const char *model_path, const char *features_path, const char *out_dir,
                             const sono_atlas_options *opt, sono_atlas_report *report, sono_error *err) {
    sono_atlas_report local;
    if (!report) report = &local;
    memset(report, 0, sizeof *report);
    atlas_job job;
    memset(&job, 0, sizeof job);
    job.opt = opt, job.model_path = model_path, job.features_path = features_path, job.out_dir = out_dir;
    if (!out_dir || !*out_dir) return sono_error_set(err, SONO_ERR_ARGUMENT, "atlas: no output folder");
    sono_status s = check_options(opt, err);
    if (s == SONO_OK) s = sono_classifier_load(model_path, SONO_DREAM_MAX_BATCH, &job.c, NULL, err);
    if (s == SONO_OK) s = resolve_layers(&job, err);
    if (s == SONO_OK && features_path) s = check_features(&job, err);
    if (s == SONO_OK) s = file_hash(model_path, job.model_hash, err);
    if (s == SONO_OK && !features_path && opt->folds)
        s = sono_error_set(err, SONO_ERR_ARGUMENT, "atlas: folds were chosen but no feature file was given");
    if (s == SONO_OK) s = load_workers(&job, err);
    /* Workers call BLAS single-threaded; set that once for the whole job so
     * no two workers switch OpenBLAS's thread count at the same time. */
    const int blas_threads = openblas_get_num_threads();
    openblas_set_num_threads(1);
    double t0 = now_seconds();
    if (s == SONO_OK && job.set) {
        if (stage_progress(opt, SONO_ATLAS_INDEX, 0, 1)) s = sono_error_set(err, SONO_ERR_INTERRUPTED, "interrupted");
        if (s == SONO_OK)
            s = build_index(&job, err);
        if (s == SONO_OK) stage_progress(opt, SONO_ATLAS_INDEX, 1, 1);
    }
    report->seconds_index = now_seconds() - t0;
    if (s == SONO_OK) s = plan_items(&job, err);
    report->items = job.item_count;
    /* Everything is checked: from here on the folder fills up. */
    if (s == SONO_OK) s = make_dirs(&job, err);
    t0 = now_seconds();
    if (s == SONO_OK) s = dream_all(&job, report, err);
    report->seconds_dreams = now_seconds() - t0;
    if (s == SONO_OK) choose_preferred(&job);
    t0 = now_seconds();
    if (s == SONO_OK && job.set) s = atlas_clips_collect(&job, err);
    if (s == SONO_OK && job.set) s = atlas_clips_write(&job, report, err);
    report->seconds_clips = now_seconds() - t0;
    t0 = now_seconds();
    if (s == SONO_OK) s = atlas_pages_write(&job, err);
    report->seconds_pages = now_seconds() - t0;
    if (blas_threads > 0) openblas_set_num_threads(blas_threads);
    job_free(&job);
    return s;
}
