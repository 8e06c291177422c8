/* The dream queue: jobs in one list (oldest first), `jobs` worker threads
 * that take the oldest queued job, each with its own classifier per model
 * (a classifier's buffers serve one dream at a time), and expiry of
 * finished dreams beyond --keep. */
#define _GNU_SOURCE /* syscall(SYS_gettid) for the workers' nice value */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "serve/serve_internal.h"
#include "sonodream/audio.h"
#include "sonodream/plot.h"

double serve_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int is_final(job_state state) { return state >= JOB_DONE; }

/* ---- the list ---- */

int serve_queue_has_room(const sono_server *s) {
    int idle = s->opt.jobs - s->running;
    return !s->stopping && s->queued + s->reserved < s->opt.queue + (idle > 0 ? idle : 0);
}

int serve_queue_reserve(sono_server *s) {
    pthread_mutex_lock(&s->lock);
    int room = serve_queue_has_room(s);
    if (room) s->reserved++;
    pthread_mutex_unlock(&s->lock);
    return room;
}

void serve_queue_unreserve(sono_server *s) {
    pthread_mutex_lock(&s->lock);
    s->reserved--;
    pthread_mutex_unlock(&s->lock);
}

static int disk_fits(const sono_server *s, int64_t bytes) {
    return s->opt.max_disk <= 0 || s->disk_used + bytes <= s->opt.max_disk;
}

void serve_audio_limits(const sono_server *s, sono_audio_limits *limits) {
    memset(limits, 0, sizeof *limits);
    limits->max_channels = s->opt.max_channels;
    limits->max_rate = s->opt.max_rate;
    limits->max_seconds = s->opt.max_seconds;
}

int serve_retry_after(const sono_server *s) {
    double per_dream = s->dreams_timed ? s->dream_seconds / s->dreams_timed : 5.0;
    double wait = per_dream * ceil((double)(s->queued + 1) / s->opt.jobs);
    return wait < 1 ? 1 : wait > 3600 ? 3600 : (int)ceil(wait);
}

static void remove_tree(const char *dir) {
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char path[SERVE_PATH_MAX + 300];
        while ((e = readdir(d))) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path); /* job folders hold files only */
        }
        closedir(d);
    }
    rmdir(dir);
}

serve_job *serve_job_new(sono_server *s, char *message, size_t message_size) {
    unsigned char random[SERVE_ID_LEN / 2];
    if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random) {
        snprintf(message, message_size, "no random numbers for an id: %s", strerror(errno));
        return NULL;
    }
    serve_job *job = calloc(1, sizeof *job);
    if (!job) return snprintf(message, message_size, "out of memory"), NULL;
    for (size_t i = 0; i < sizeof random; i++) snprintf(job->id + 2 * i, 3, "%02x", random[i]);
    snprintf(job->dir, sizeof job->dir, "%s/%s", s->dir, job->id);
    if (mkdir(job->dir, 0700) != 0) {
        snprintf(message, message_size, "cannot make a folder for the upload: %s", strerror(errno));
        free(job);
        return NULL;
    }
    job->refs = 1;
    job->server = s;
    job->created = serve_now();
    sono_dream_request_defaults(&job->req);
    return job;
}

/* Lock held: the job goes to the trash, whose files serve_sweep removes
 * once the lock is released (unlinking gigabytes can take a while, and
 * every request waits for the lock). Its disk is given back now. */
static void job_free(serve_job *job) {
    sono_server *s = job->server;
    s->disk_used -= job->disk;
    job->next = s->trash;
    s->trash = job;
}

void serve_sweep(sono_server *s) {
    pthread_mutex_lock(&s->lock);
    serve_job *job = s->trash;
    s->trash = NULL;
    pthread_mutex_unlock(&s->lock);
    while (job) {
        serve_job *next = job->next;
        remove_tree(job->dir);
        free(job->error);
        free(job->report);
        free(job);
        job = next;
    }
}

void serve_job_discard(serve_job *job) {
    sono_server *s = job->server;
    pthread_mutex_lock(&s->lock);
    job_free(job);
    pthread_mutex_unlock(&s->lock);
    serve_sweep(s);
}

void serve_job_release_locked(serve_job *job) {
    if (job && --job->refs == 0) job_free(job);
}

void serve_job_release(serve_job *job) {
    if (!job) return;
    sono_server *s = job->server;
    pthread_mutex_lock(&s->lock);
    serve_job_release_locked(job);
    pthread_mutex_unlock(&s->lock);
    serve_sweep(s);
}

static void unlist(sono_server *s, serve_job *job) {
    serve_job **p = &s->head;
    serve_job *prev = NULL;
    while (*p && *p != job) prev = *p, p = &(*p)->next;
    if (!*p) return;
    *p = job->next;
    if (s->tail == job) s->tail = prev;
    job->next = NULL;
    job->listed = 0;
    if (is_final(job->state)) s->finished--;
    serve_job_release_locked(job);
}

/* Finished dreams beyond --keep go, oldest first, with their files. */
static void expire(sono_server *s) {
    serve_job *job = s->head;
    while (s->finished > s->opt.keep && job) {
        serve_job *next = job->next;
        if (is_final(job->state)) unlist(s, job);
        job = next;
    }
}

int serve_job_enqueue(sono_server *s, serve_job *job) {
    pthread_mutex_lock(&s->lock);
    s->reserved--; /* the place becomes the job's */
    if (s->stopping) {
        pthread_mutex_unlock(&s->lock);
        return 0;
    }
    job->listed = 1;
    if (s->tail) s->tail->next = job;
    else s->head = job;
    s->tail = job;
    s->queued++;
    pthread_cond_signal(&s->work);
    pthread_mutex_unlock(&s->lock);
    return 1;
}

int serve_disk_take(sono_server *s, serve_job *job, int64_t bytes) {
    pthread_mutex_lock(&s->lock);
    for (serve_job *j = s->head, *next; j && !disk_fits(s, bytes); j = next) {
        next = j->next;
        if (is_final(j->state)) unlist(s, j);
    }
    int fits = disk_fits(s, bytes);
    if (fits) s->disk_used += bytes, job->disk += bytes;
    pthread_mutex_unlock(&s->lock);
    serve_sweep(s);
    return fits;
}

void serve_disk_give(sono_server *s, serve_job *job, int64_t bytes) {
    pthread_mutex_lock(&s->lock);
    s->disk_used -= bytes, job->disk -= bytes;
    pthread_mutex_unlock(&s->lock);
}

serve_job *serve_job_find(sono_server *s, const char *id) {
    pthread_mutex_lock(&s->lock);
    serve_job *job = s->head;
    while (job && strcmp(job->id, id) != 0) job = job->next;
    if (job) job->refs++;
    pthread_mutex_unlock(&s->lock);
    return job;
}

/* Lock held. */
static void finish(sono_server *s, serve_job *job, job_state state) {
    job->state = state;
    job->finished = serve_now();
    job->version++;
    if (job->listed) s->finished++;
    pthread_cond_broadcast(&s->changed);
}

int serve_job_delete(sono_server *s, serve_job *job) {
    pthread_mutex_lock(&s->lock);
    int status = 200;
    if (!job->listed) status = 404;
    else if (job->state == JOB_QUEUED) {
        s->queued--;
        finish(s, job, JOB_CANCELLED);
        expire(s);
    } else if (job->state == JOB_RUNNING) {
        job->cancel = 1; /* the worker ends it cancelled at its next step */
        status = 202;
    } else unlist(s, job);
    pthread_mutex_unlock(&s->lock);
    serve_sweep(s);
    return status;
}

/* ---- running a dream ---- */

typedef struct worker {
    sono_server *server;
    int index;
    sono_classifier **classifiers; /* (model_count), loaded when first needed */
} worker;

static int on_progress(int step, int total, double objective, void *user) {
    (void)objective;
    serve_job *job = user;
    sono_server *s = job->server;
    pthread_mutex_lock(&s->lock);
    job->progress = total > 0 ? (double)step / total : 0;
    job->version++;
    int stop = job->cancel || s->stopping;
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    return stop;
}

static sono_status reader_read(void *user, int64_t start, int64_t count, float *dst, sono_error *err) {
    return sono_audio_reader_read(user, start, count, dst, err);
}

static sono_status writer_write(void *user, const float *samples, int64_t count, sono_error *err) {
    return sono_audio_writer_write(user, samples, count, err);
}

/* The upload decoded once more, in order, into a float WAV at its own rate
 * and channels (what the page's input player plays beside the dream, and
 * what the dream reads: a WAV streams, so nothing is held whole in memory
 * whatever the upload's format). Within the same limits as the check. */
static sono_status write_input_copy(const sono_server *s, const char *upload, const char *path, const serve_job *job,
                                    sono_error *err) {
    sono_audio_writer *w;
    sono_status st = sono_audio_writer_open(path, job->sample_rate, job->channels, job->frames, SONO_WAV_FLOAT32, &w, err);
    if (st != SONO_OK) return st;
    sono_audio_limits limits;
    serve_audio_limits(s, &limits);
    limits.max_frames = job->frames; /* what the disk budget was counted for */
    sono_audio_info info;
    st = sono_audio_decode_each(upload, &limits, &info, writer_write, w, err);
    if (st != SONO_OK) {
        sono_audio_writer_abort(w);
        return st;
    }
    return sono_audio_writer_commit(w, err);
}

/* Messages name files by their path in the private folder; a client knows
 * its upload by its own name. */
void serve_hide_paths(char *message, const serve_job *job) {
    size_t dir_len = strlen(job->dir);
    char *from = message, *at;
    while ((at = strstr(from, job->dir))) {
        const char *rest = at + dir_len;
        while (*rest && *rest != ':' && *rest != ' ') rest++; /* the file's name in the folder */
        char tail[SONO_ERROR_MESSAGE_MAX];
        snprintf(tail, sizeof tail, "%s", rest);
        size_t room = SONO_ERROR_MESSAGE_MAX - (size_t)(at - message);
        int n = snprintf(at, room, "%s", job->input_name);
        if (n < 0 || (size_t)n >= room) return;
        snprintf(at + n, room - (size_t)n, "%s", tail);
        from = at + n; /* never rescans the name put in */
    }
}

static sono_classifier *worker_classifier(worker *w, int model, sono_error *err) {
    if (!w->classifiers[model]) {
        const serve_model *m = &w->server->models[model];
        if (sono_classifier_load(m->path, SONO_DREAM_MAX_BATCH, &w->classifiers[model], NULL, err) != SONO_OK)
            return NULL;
    }
    return w->classifiers[model];
}

static sono_status dream(worker *w, serve_job *job, sono_dream_result *r, sono_error *err) {
    char path[SERVE_PATH_MAX + 32];
    sono_classifier *c = worker_classifier(w, job->model, err);
    if (!c) return err->status ? err->status : SONO_ERR_IO;
    sono_audio_reader *reader = NULL;
    sono_audio_writer *writer = NULL;
    char upload[SERVE_PATH_MAX + 32];
    snprintf(upload, sizeof upload, "%s/upload", job->dir);
    snprintf(path, sizeof path, "%s/input.wav", job->dir);
    sono_status st = write_input_copy(w->server, upload, path, job, err);
    unlink(upload); /* the input lives on as input.wav */
    serve_disk_give(w->server, job, job->upload_disk);
    if (st != SONO_OK) return st;
    st = sono_audio_reader_open(path, &reader, err);
    if (st != SONO_OK) return st;
    const sono_audio_info *info = sono_audio_reader_info(reader);
    sono_audio_source src = {info->sample_rate, info->channels, info->frames, reader_read, reader};
    snprintf(path, sizeof path, "%s/dream.wav", job->dir);
    if (st == SONO_OK)
        st = sono_audio_writer_open(path, src.sample_rate, src.channels, src.frames, SONO_WAV_FLOAT32, &writer, err);
    if (st == SONO_OK) {
        sono_dream_request req = job->req;
        req.ascent.progress = on_progress;
        req.ascent.progress_user = job;
        req.keep_spectrograms = 1;
        sono_audio_sink sink = {writer_write, writer};
        st = sono_dream_stream(c, &src, &req, &sink, r, err);
    }
    if (st == SONO_OK) {
        st = sono_audio_writer_commit(writer, err);
        writer = NULL;
    }
    snprintf(path, sizeof path, "%s/picture.png", job->dir);
    if (st == SONO_OK) st = sono_plot_dream(path, &c->features, r->input_db, r->output_db, r->spec_frames, "input", err);
    sono_audio_writer_abort(writer);
    sono_audio_reader_close(reader);
    return st;
}

static void run(worker *w, serve_job *job) {
    sono_server *s = w->server;
    sono_error err = {0};
    sono_dream_result r;
    memset(&r, 0, sizeof r);
    double start = serve_now();
    sono_status st = dream(w, job, &r, &err);
    double seconds = serve_now() - start;
    char *report = st == SONO_OK ? serve_report_json(&s->models[job->model], job, &r, seconds) : NULL;
    if (st == SONO_OK && !report) st = sono_error_set(&err, SONO_ERR_MEMORY, "out of memory for the report");
    sono_dream_result_free(&r);
    if (st != SONO_OK && st != SONO_ERR_INTERRUPTED) serve_hide_paths(err.message, job);

    pthread_mutex_lock(&s->lock);
    s->running--;
    if (st == SONO_OK) {
        job->report = report;
        job->progress = 1;
        s->dream_seconds += seconds;
        s->dreams_timed++;
        finish(s, job, JOB_DONE);
    } else if (st == SONO_ERR_INTERRUPTED) {
        finish(s, job, JOB_CANCELLED);
    } else {
        job->error = strdup(err.message[0] ? err.message : sono_status_name(st));
        finish(s, job, JOB_FAILED);
    }
    expire(s);
    pthread_mutex_unlock(&s->lock);
    if (st == SONO_OK) sono_log(SONO_LOG_INFO, "dream %s done in %.2f s", job->id, seconds);
    else sono_log(SONO_LOG_INFO, "dream %s %s: %s", job->id, st == SONO_ERR_INTERRUPTED ? "cancelled" : "failed",
                  err.message);
}

/* The oldest queued job, taken (lock held); NULL when none. */
static serve_job *take_next(sono_server *s) {
    for (serve_job *job = s->head; job; job = job->next) {
        if (job->state != JOB_QUEUED) continue;
        job->state = JOB_RUNNING;
        job->started = serve_now();
        job->version++;
        job->refs++;
        s->queued--;
        s->running++;
        pthread_cond_broadcast(&s->changed);
        return job;
    }
    return NULL;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    sono_server *s = w->server;
    /* Dreams yield the CPU to request threads: a status answer must not
     * wait for a dream's step. OpenMP threads this thread starts inherit it. */
    if (s->opt.worker_nice > 0) setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), s->opt.worker_nice);
    pthread_mutex_lock(&s->lock);
    for (;;) {
        serve_job *job = NULL;
        while (!s->stopping && !(job = take_next(s))) pthread_cond_wait(&s->work, &s->lock);
        if (!job) break;
        pthread_mutex_unlock(&s->lock);
        run(w, job);
        serve_sweep(s); /* what run() expired */
        pthread_mutex_lock(&s->lock);
        serve_job_release_locked(job);
        if (s->trash) {
            pthread_mutex_unlock(&s->lock);
            serve_sweep(s);
            pthread_mutex_lock(&s->lock);
        }
    }
    pthread_mutex_unlock(&s->lock);
    for (int m = 0; m < s->model_count; m++) sono_classifier_free(w->classifiers[m]);
    free(w->classifiers);
    free(w);
    return NULL;
}

sono_status serve_workers_start(sono_server *s, sono_error *err) {
    s->workers = calloc((size_t)s->opt.jobs, sizeof *s->workers);
    if (!s->workers) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory for %d workers", s->opt.jobs);
    for (int i = 0; i < s->opt.jobs; i++) {
        worker *w = calloc(1, sizeof *w);
        if (w) w->classifiers = calloc((size_t)s->model_count, sizeof *w->classifiers);
        if (!w || !w->classifiers) {
            free(w);
            return sono_error_set(err, SONO_ERR_MEMORY, "out of memory for a worker");
        }
        w->server = s, w->index = i;
        int rc = pthread_create(&s->workers[i], NULL, worker_main, w);
        if (rc != 0) {
            free(w->classifiers);
            free(w);
            return sono_error_set(err, SONO_ERR_IO, "cannot start a worker thread: %s", strerror(rc));
        }
        s->worker_count++;
    }
    return SONO_OK;
}

void serve_workers_stop(sono_server *s) {
    pthread_mutex_lock(&s->lock);
    s->stopping = 1;
    for (serve_job *job = s->head; job; job = job->next) {
        if (job->state == JOB_QUEUED) {
            s->queued--;
            finish(s, job, JOB_CANCELLED);
        } else if (job->state == JOB_RUNNING) job->cancel = 1;
    }
    pthread_cond_broadcast(&s->work);
    pthread_cond_broadcast(&s->changed);
    pthread_mutex_unlock(&s->lock);
    for (int i = 0; i < s->worker_count; i++) pthread_join(s->workers[i], NULL);
    s->worker_count = 0;
}
