/* POST /api/dreams: a multipart form streamed to the job's folder as it
 * arrives (the audio part only; never more than --max-upload bytes), the
 * fields checked against the model, the audio opened with the decoder and
 * its length checked, then the dream queued. Every refusal is a 4xx with a
 * sentence that says what to change. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "serve/serve_internal.h"
#include "sonodream/audio.h"

#define FIELD_MAX 256
#define SEED_MAX ((double)SONO_DREAM_SEED_MAX)
#define OCTAVES_MAX 8
#define ITERATIONS_MAX 200
#define STEP_MAX 50.0

enum field { F_MODEL, F_OBJECTIVE, F_LAYER, F_CHANNEL, F_CLASS, F_OCTAVES, F_ITERATIONS, F_STEP, F_SEED, F_RENDER,
             F_COUNT };
static const char *const field_names[F_COUNT] = {"model", "objective", "layer", "channel", "class",
                                                 "octaves", "iterations", "step", "seed", "render"};

struct serve_upload {
    sono_server *server;
    struct MHD_PostProcessor *post;
    serve_job *job;             /* until it is queued */
    int fd;                     /* the audio part, written as it comes */
    int64_t body_bytes;         /* of the request body so far */
    int64_t audio_bytes;
    int audio_parts;
    int reserved;               /* holds a place in the queue */
    char value[F_COUNT][FIELD_MAX + 1];
    size_t value_len[F_COUNT];
    int seen[F_COUNT];
    unsigned status;            /* the first refusal; 0 while all is well */
    int answered;               /* a response is queued: the rest of the body is ignored */
    char message[SONO_ERROR_MESSAGE_MAX];
};

static void refuse(serve_upload *u, unsigned status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void refuse(serve_upload *u, unsigned status, const char *fmt, ...) {
    if (u->status) return; /* the first reason is the one to tell */
    u->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(u->message, sizeof u->message, fmt, ap);
    va_end(ap);
}

/* A name from the request, safe to put in a message: printable ASCII, short. */
static void printable(char *dst, size_t size, const char *src) {
    size_t n = 0;
    for (; src && *src && n + 1 < size; src++) dst[n++] = isprint((unsigned char)*src) ? *src : '?';
    dst[n] = '\0';
}

static void drop_audio(serve_upload *u) {
    if (u->fd >= 0) close(u->fd);
    u->fd = -1;
    if (u->job) {
        char path[SERVE_PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/upload", u->job->dir);
        unlink(path);
    }
}

static int write_all(int fd, const char *data, size_t size) {
    while (size > 0) {
        ssize_t n = write(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return 0;
        data += n, size -= (size_t)n;
    }
    return 1;
}

static void take_audio(serve_upload *u, const char *filename, const char *data, uint64_t off, size_t size) {
    if (off == 0 && (u->audio_parts == 0 || u->audio_bytes > 0)) {
        if (++u->audio_parts > 1) return refuse(u, 400, "send one audio file per dream (the form has %d)", u->audio_parts);
        char name[SERVE_NAME_MAX];
        printable(name, sizeof name, filename && *filename ? filename : "the upload");
        snprintf(u->job->input_name, sizeof u->job->input_name, "%s", name);
    }
    if (off != (uint64_t)u->audio_bytes) return refuse(u, 400, "the audio part of the form is malformed");
    if (size == 0) return;
    if (!serve_disk_take(u->server, u->job, (int64_t)size))
        return refuse(u, 507, "the server's disk budget is spent (--max-disk %" PRId64 " bytes): try again later",
                      u->server->opt.max_disk);
    u->job->upload_disk += (int64_t)size;
    if (!write_all(u->fd, data, size)) return refuse(u, 500, "the server cannot store the upload: %s", strerror(errno));
    u->audio_bytes += (int64_t)size;
}

static enum MHD_Result on_part(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
                               const char *content_type, const char *transfer_encoding, const char *data,
                               uint64_t off, size_t size) {
    (void)kind, (void)content_type, (void)transfer_encoding;
    serve_upload *u = cls;
    if (u->status) return MHD_YES; /* refused already: the rest is read, not kept */
    if (key && strcmp(key, "audio") == 0) {
        take_audio(u, filename, data, off, size);
        return MHD_YES;
    }
    int f = 0;
    while (f < F_COUNT && !(key && strcmp(key, field_names[f]) == 0)) f++;
    char name[48];
    printable(name, sizeof name, key);
    if (f == F_COUNT) {
        refuse(u, 400, "unknown field '%s'; the fields are audio, model, objective, layer, channel, class, octaves, "
                       "iterations, step, seed and render", name);
        return MHD_YES;
    }
    if (off == 0 && u->seen[f]) {
        refuse(u, 400, "field '%s' is given twice", name);
        return MHD_YES;
    }
    u->seen[f] = 1;
    if (off != u->value_len[f] || off + size > FIELD_MAX) {
        refuse(u, 400, "field '%s' is too long (at most %d characters)", name, FIELD_MAX);
        return MHD_YES;
    }
    memcpy(u->value[f] + off, data, size);
    u->value_len[f] = off + size;
    u->value[f][u->value_len[f]] = '\0';
    return MHD_YES;
}

/* ---- the fields ---- */

static const char *given(const serve_upload *u, enum field f) {
    return u->value_len[f] > 0 ? u->value[f] : NULL;
}

static int parse_number(serve_upload *u, enum field f, double lo, double hi, int integer, double *out) {
    const char *text = given(u, f);
    if (!text) return 1; /* keep the default */
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    int whole = end != text && *end == '\0' && strlen(text) == u->value_len[f];
    if (!whole || errno || !isfinite(v) || (integer && v != floor(v))) {
        char shown[64];
        printable(shown, sizeof shown, text);
        refuse(u, 400, "field '%s': '%s' is not %s", field_names[f], shown, integer ? "a whole number" : "a number");
        return 0;
    }
    if (v < lo || v > hi) {
        refuse(u, 400, "field '%s': %g is out of range (%g to %g)", field_names[f], v, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

static int find_model(serve_upload *u) {
    const sono_server *s = u->server;
    const char *name = given(u, F_MODEL);
    if (!name && s->model_count == 1) return 0;
    for (int i = 0; name && i < s->model_count; i++)
        if (strcmp(s->models[i].name, name) == 0) return i;
    char list[512] = "", shown[64];
    for (int i = 0; i < s->model_count; i++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "", s->models[i].name);
    printable(shown, sizeof shown, name);
    if (!name) refuse(u, 400, "field 'model' is needed with several models: one of %s", list);
    else refuse(u, 400, "field 'model': there is no model '%s'; the models are %s", shown, list);
    return -1;
}

static int set_objective(serve_upload *u, const sono_classifier *c, sono_dream_options *d) {
    const char *objective = given(u, F_OBJECTIVE);
    if (!objective) objective = given(u, F_CLASS) ? "class" : given(u, F_CHANNEL) ? "channel" : "layer";
    char shown[64];
    if (strcmp(objective, "class") == 0) {
        if (given(u, F_LAYER) || given(u, F_CHANNEL))
            return refuse(u, 400, "objective 'class' dreams at the logits: leave 'layer' and 'channel' out"), 0;
        const char *name = given(u, F_CLASS);
        if (!name) return refuse(u, 400, "objective 'class' needs the field 'class' (a class name)"), 0;
        int k = sono_classifier_find_class(c, name);
        printable(shown, sizeof shown, name);
        if (k < 0) return refuse(u, 400, "field 'class': the model has no class '%s' (see GET /api/models)", shown), 0;
        d->objective = SONO_DREAM_CLASS, d->class_index = k;
        return 1;
    }
    if (strcmp(objective, "layer") != 0 && strcmp(objective, "channel") != 0) {
        printable(shown, sizeof shown, objective);
        return refuse(u, 400, "field 'objective': '%s' is not layer, channel or class", shown), 0;
    }
    if (given(u, F_CLASS)) return refuse(u, 400, "field 'class' goes with objective 'class' only"), 0;
    int layer = sono_dream_default_layer(c->net);
    if (given(u, F_LAYER)) {
        layer = sono_net_find_layer(c->net, given(u, F_LAYER));
        printable(shown, sizeof shown, given(u, F_LAYER));
        if (layer < 0) return refuse(u, 400, "field 'layer': the model has no layer '%s' (see GET /api/models)", shown), 0;
    }
    d->layer = layer;
    d->objective = SONO_DREAM_LAYER;
    if (strcmp(objective, "layer") == 0) {
        if (given(u, F_CHANNEL)) return refuse(u, 400, "field 'channel' goes with objective 'channel' only"), 0;
        return 1;
    }
    const sono_layer_info *li = sono_net_layer(c->net, layer);
    if (!given(u, F_CHANNEL)) return refuse(u, 400, "objective 'channel' needs the field 'channel' (0 to %d)", li->out.c - 1), 0;
    double channel = 0;
    if (!parse_number(u, F_CHANNEL, 0, li->out.c - 1, 1, &channel)) return 0;
    d->objective = SONO_DREAM_CHANNEL, d->channel = (int)channel;
    return 1;
}

static int set_request(serve_upload *u) {
    serve_job *job = u->job;
    int model = find_model(u);
    if (model < 0) return 0;
    job->model = model;
    const sono_classifier *c = u->server->models[model].meta;
    sono_dream_request *req = &job->req;
    sono_dream_options *d = &req->ascent;
    if (!set_objective(u, c, d)) return 0;
    double octaves = d->octaves, iterations = d->iterations, seed = (double)d->seed;
    if (!parse_number(u, F_OCTAVES, 1, OCTAVES_MAX, 1, &octaves) ||
        !parse_number(u, F_ITERATIONS, 1, ITERATIONS_MAX, 1, &iterations) ||
        !parse_number(u, F_STEP, 0, STEP_MAX, 0, &d->step) || !parse_number(u, F_SEED, 0, SEED_MAX, 1, &seed))
        return 0;
    if (!(d->step > 0)) return refuse(u, 400, "field 'step' must be positive"), 0;
    d->octaves = (int)octaves, d->iterations = (int)iterations;
    d->seed = req->griffin_lim.seed = (uint64_t)seed;
    const char *render = given(u, F_RENDER);
    if (render && !sono_dream_render_parse(render, &req->render)) {
        char shown[64];
        printable(shown, sizeof shown, render);
        return refuse(u, 400, "field 'render': '%s' is not wave, mask or griffin-lim", shown), 0;
    }
    return 1;
}

/* Bytes a dream of this upload will write: input.wav and dream.wav (32-bit
 * float; the writers' temporary files are renamed, not copied), their
 * headers, and the picture (at most SONO_PLOT_MAX_COLUMNS wide: a few MB at
 * worst). */
#define PICTURE_DISK_BYTES ((int64_t)8 << 20)
static int64_t dream_disk_bytes(int64_t frames, int channels) {
    return 2 * (frames * channels * (int64_t)sizeof(float) + 65536) + PICTURE_DISK_BYTES;
}

/* The decoder's verdict on the upload: every sample decoded once, block by
 * block, stopping at the first limit passed (channels, rate, length), so a
 * corrupt, truncated or oversized file is refused now, with the decoder's
 * message, before anything beyond the upload is stored. Then the disk the
 * dream will need is counted. Runs on the connection's own thread. */
static int check_audio(serve_upload *u) {
    sono_server *s = u->server;
    serve_job *job = u->job;
    if (u->audio_parts == 0) return refuse(u, 400, "no audio: send the recording as the form field 'audio'"), 0;
    if (u->audio_bytes == 0) return refuse(u, 422, "%s is empty", job->input_name), 0;
    char path[SERVE_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/upload", job->dir);
    sono_audio_limits limits;
    serve_audio_limits(s, &limits);
    sono_audio_info info;
    sono_error err = {0};
    sono_status st = sono_audio_decode_each(path, &limits, &info, NULL, NULL, &err);
    if (st != SONO_OK && info.channels > s->opt.max_channels)
        return refuse(u, 422, "%s has %d channels; this server takes up to %d (--max-channels)", job->input_name,
                      info.channels, s->opt.max_channels), 0;
    if (st != SONO_OK && info.sample_rate > s->opt.max_rate)
        return refuse(u, 422, "%s is sampled at %d Hz; this server takes up to %d Hz (--max-rate)", job->input_name,
                      info.sample_rate, s->opt.max_rate), 0;
    if (st == SONO_ERR_UNSUPPORTED && strstr(err.message, ": longer than "))
        return refuse(u, 422, "%s is longer than %g s; this server dreams recordings up to %g s (--max-seconds)",
                      job->input_name, s->opt.max_seconds, s->opt.max_seconds), 0;
    if (st != SONO_OK) {
        serve_hide_paths(err.message, job);
        return refuse(u, 422, "%s", err.message), 0;
    }
    job->sample_rate = info.sample_rate, job->channels = info.channels, job->frames = info.frames;
    int64_t need = dream_disk_bytes(info.frames, info.channels);
    if (!serve_disk_take(s, job, need))
        return refuse(u, 507, "%s decodes to %" PRId64 " MB of input and dream; the server's disk budget "
                      "(--max-disk %" PRId64 " bytes) has no room for it now", job->input_name, need / 1000000,
                      s->opt.max_disk), 0;
    return 1;
}

/* ---- the request ---- */

static void give_back_place(serve_upload *u) {
    if (u->reserved) serve_queue_unreserve(u->server);
    u->reserved = 0;
}

static enum MHD_Result respond_refusal(sono_server *s, struct MHD_Connection *conn, serve_upload *u) {
    u->answered = 1;
    give_back_place(u);
    if (u->status != 503) return serve_respond_error(conn, u->status, "%s", u->message);
    char *body = serve_error_json(u->message);
    struct MHD_Response *r = MHD_create_response_from_buffer(body ? strlen(body) : 0, body, MHD_RESPMEM_MUST_FREE);
    if (!r) return free(body), MHD_NO;
    char retry[16];
    pthread_mutex_lock(&s->lock);
    snprintf(retry, sizeof retry, "%d", serve_retry_after(s));
    pthread_mutex_unlock(&s->lock);
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Retry-After", retry);
    return serve_queue_response(conn, 503, r);
}

static void queue_full(serve_upload *u) {
    refuse(u, 503, "the queue is full (%d running, %d waiting): try again later", u->server->opt.jobs,
           u->server->opt.queue);
}

static enum MHD_Result begin(sono_server *s, struct MHD_Connection *conn, serve_upload **state) {
    serve_upload *u = calloc(1, sizeof *u);
    if (!u) return MHD_NO;
    u->server = s, u->fd = -1;
    *state = u;
    /* The place in the queue is held from the first byte, so uploads beyond
     * the queue's room are refused before they are stored or decoded. */
    u->reserved = serve_queue_reserve(s);
    if (!u->reserved) return queue_full(u), respond_refusal(s, conn, u);
    /* Refused before a byte of the body is read, when the client says its size. */
    const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (length && strtod(length, NULL) > (double)s->opt.max_upload) {
        refuse(u, 413, "the upload is larger than this server takes (%" PRId64 " bytes, --max-upload)", s->opt.max_upload);
        return respond_refusal(s, conn, u);
    }
    u->job = serve_job_new(s, u->message, sizeof u->message);
    if (!u->job) return u->status = 500, respond_refusal(s, conn, u);
    char path[SERVE_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/upload", u->job->dir);
    u->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (u->fd < 0) {
        refuse(u, 500, "the server cannot store the upload: %s", strerror(errno));
        return respond_refusal(s, conn, u);
    }
    u->post = MHD_create_post_processor(conn, 64 * 1024, on_part, u);
    if (!u->post) {
        refuse(u, 415, "POST /api/dreams takes a form sent as multipart/form-data (fields: audio, model, objective, "
                       "layer, channel, class, octaves, iterations, step, seed, render)");
        return respond_refusal(s, conn, u);
    }
    return MHD_YES;
}

static enum MHD_Result receive(sono_server *s, struct MHD_Connection *conn, serve_upload *u, const char *data,
                               size_t *size) {
    u->body_bytes += (int64_t)*size;
    if (u->body_bytes > s->opt.max_upload && u->status != 413) {
        u->status = 0; /* this one is the reason to give */
        refuse(u, 413, "the upload is larger than this server takes (%" PRId64 " bytes, --max-upload)", s->opt.max_upload);
        drop_audio(u);
        /* Answer now rather than read the rest; where MHD cannot answer
         * mid-body, the connection is closed. */
        if (respond_refusal(s, conn, u) != MHD_YES) return MHD_NO;
    }
    if (!u->status && MHD_post_process(u->post, data, *size) != MHD_YES)
        refuse(u, 400, "the form is not valid multipart/form-data");
    if (u->status) drop_audio(u);
    *size = 0;
    return MHD_YES;
}

static enum MHD_Result complete(sono_server *s, struct MHD_Connection *conn, serve_upload *u) {
    /* Destroying the parser also tells whether the form ended properly. */
    int form_ended = !u->post || MHD_destroy_post_processor(u->post) == MHD_YES;
    u->post = NULL;
    if (!form_ended) refuse(u, 400, "the form is not valid multipart/form-data (it ends early)");
    if (u->fd >= 0) close(u->fd);
    u->fd = -1;
    if (!u->status && set_request(u) && check_audio(u)) {
        u->reserved = 0; /* enqueue takes the place, or gives it back */
        if (!serve_job_enqueue(s, u->job)) refuse(u, 503, "the server is stopping");
    }
    if (u->status) return respond_refusal(s, conn, u);
    serve_job *job = u->job;
    u->job = NULL; /* the queue has it */
    sono_log(SONO_LOG_INFO, "dream %s queued (%s)", job->id, job->input_name);
    char body[64], location[64];
    snprintf(body, sizeof body, "{\"id\":\"%s\"}", job->id);
    snprintf(location, sizeof location, "/api/dreams/%s", job->id);
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_COPY);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Location", location);
    return serve_queue_response(conn, 202, r);
}

enum MHD_Result serve_upload_step(sono_server *s, struct MHD_Connection *conn, serve_upload **state,
                                  const char *upload_data, size_t *upload_data_size) {
    if (!*state) return begin(s, conn, state);
    serve_upload *u = *state;
    if (*upload_data_size == 0) serve_request_received(conn); /* the whole body is in */
    if (u->answered) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size > 0) return receive(s, conn, u, upload_data, upload_data_size);
    return complete(s, conn, u);
}

void serve_upload_free(serve_upload *u) {
    if (!u) return;
    if (u->post) MHD_destroy_post_processor(u->post);
    if (u->fd >= 0) close(u->fd);
    if (u->job) serve_job_discard(u->job);
    give_back_place(u);
    free(u);
}
