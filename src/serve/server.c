/* sonodream serve: the HTTP side. libmicrohttpd runs one thread per
 * connection (never a dream's worker), so a status request is answered
 * while dreams run; every /api request passes the guards (Host, Origin,
 * token) before it is routed. Paths are matched against fixed routes and
 * ids against the job list: nothing in a URL becomes a file name. */
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "serve/serve_internal.h"

#define CONNECTION_LIMIT 256
#define CONNECTION_TIMEOUT_S 60
#define EVENT_KEEPALIVE_S 15
#define TOKEN_MIN 16
/* A wrong token is answered after this long, one at a time across the
 * server: at most one guess a second, however many connections guess. */
#define FAILED_TOKEN_DELAY_MS 1000
#define PAGE_POLICY \
    "default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self'; " \
    "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; " \
    "form-action 'self'"

void sono_server_defaults(sono_server_options *opt) {
    memset(opt, 0, sizeof *opt);
    opt->host = "127.0.0.1";
    opt->port = 8080;
    opt->jobs = 1;
    opt->queue = 16;
    opt->max_upload = 100 * 1000 * 1000;
    opt->max_seconds = 600;
    opt->max_channels = 8;
    opt->max_rate = 192000;
    opt->max_disk = (int64_t)4 << 30;
    opt->keep = 50;
    opt->connections_per_ip = 16;
    opt->request_timeout = 300;
    opt->max_streams = 32;
    opt->worker_nice = 5;
}

int sono_server_host_is_loopback(const char *host) {
    if (!host) return 0;
    if (strcasecmp(host, "localhost") == 0) return 1;
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
    return 0;
}

/* ---- responses (the common ones are in reply.c) ---- */

static enum MHD_Result respond_static(struct MHD_Connection *conn, unsigned status, const void *data, size_t size,
                                      const char *type) {
    struct MHD_Response *r = MHD_create_response_from_buffer(size, (void *)data, MHD_RESPMEM_PERSISTENT);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    if (strncmp(type, "text/html", 9) == 0) MHD_add_response_header(r, "Content-Security-Policy", PAGE_POLICY);
    return serve_queue_response(conn, status, r);
}

/* "bytes=A-B", "bytes=A-", "bytes=-N" against a size; 0 when absent or not
 * one satisfiable range (then the whole file is sent). */
static int parse_range(const char *header, uint64_t size, uint64_t *first, uint64_t *last) {
    if (!header || strncmp(header, "bytes=", 6) != 0 || size == 0) return 0;
    const char *p = header + 6;
    char *end;
    if (*p == '-') {
        if (!isdigit((unsigned char)p[1])) return 0;
        unsigned long long n = strtoull(p + 1, &end, 10);
        if (*end || n == 0) return 0;
        *first = n >= size ? 0 : size - n, *last = size - 1;
        return 1;
    }
    if (!isdigit((unsigned char)*p)) return 0;
    unsigned long long a = strtoull(p, &end, 10), b = size - 1;
    if (*end != '-') return 0;
    if (end[1]) {
        if (!isdigit((unsigned char)end[1])) return 0;
        b = strtoull(end + 1, &end, 10);
        if (*end) return 0;
    }
    if (a >= size || b < a) return 0;
    *first = a, *last = b >= size ? size - 1 : b;
    return 1;
}

/* A file of the server's own folder (or an example), with single ranges
 * for the players' seeking. */
static enum MHD_Result respond_file(struct MHD_Connection *conn, const char *path, const char *type,
                                    const char *download_name) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        if (fd >= 0) close(fd);
        return serve_respond_error(conn, 404, "not found");
    }
    uint64_t size = (uint64_t)st.st_size, first = 0, last = size ? size - 1 : 0;
    const char *range = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
    int partial = parse_range(range, size, &first, &last);
    struct MHD_Response *r = partial ? MHD_create_response_from_fd_at_offset64(last - first + 1, fd, first)
                                     : MHD_create_response_from_fd64(size, fd);
    if (!r) return close(fd), MHD_NO;
    MHD_add_response_header(r, "Content-Type", type);
    MHD_add_response_header(r, "Accept-Ranges", "bytes");
    if (partial) {
        char value[96];
        snprintf(value, sizeof value, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last, size);
        MHD_add_response_header(r, "Content-Range", value);
    }
    if (download_name) {
        char value[160];
        snprintf(value, sizeof value, "inline; filename=\"%s\"", download_name);
        MHD_add_response_header(r, "Content-Disposition", value);
    }
    return serve_queue_response(conn, partial ? 206 : 200, r);
}

/* ---- guards ---- */

/* Compare without an early exit, so the time taken tells nothing about
 * how much of a guess was right. */
static int same_secret(const char *given, const char *secret) {
    size_t n = strlen(secret), m = strlen(given);
    unsigned char diff = (unsigned char)(n != m);
    for (size_t i = 0; i < n; i++) diff |= (unsigned char)(secret[i] ^ (i < m ? given[i] : 0));
    return diff == 0;
}

static int host_is_local(const char *host) {
    if (!host) return 0;
    char name[256];
    snprintf(name, sizeof name, "%s", host);
    if (name[0] == '[') { /* [::1]:8080 */
        char *close = strchr(name, ']');
        if (!close) return 0;
        *close = '\0';
        return sono_server_host_is_loopback(name + 1);
    }
    char *colon = strrchr(name, ':');
    if (colon) *colon = '\0';
    return sono_server_host_is_loopback(name);
}

/* 0 when the request may go on; else the response is queued. */
static int refuse_api_request(sono_server *s, struct MHD_Connection *conn, enum MHD_Result *ret) {
    const char *host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
    /* A page of another site must not drive this server through the
     * browser: not by a form posted to it (Origin), nor by a name that
     * resolves to 127.0.0.1 (Host: DNS rebinding) when there is no token. */
    if (s->loopback && !s->token && !host_is_local(host)) {
        *ret = serve_respond_error(conn, 403, "this server answers to localhost only (Host: %s)", host ? host : "none");
        return 1;
    }
    /* Browsers mark a request a page of another site made (Sec-Fetch-Site),
     * even where they send no Origin (a GET from an <img> or <video>).
     * "same-site" is refused too: another port of localhost is the same
     * site. "none" is a request the user made (the address bar). */
    const char *site = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Sec-Fetch-Site");
    if (site && strcmp(site, "same-origin") != 0 && strcmp(site, "none") != 0) {
        *ret = serve_respond_error(conn, 403, "requests from other sites are refused (Sec-Fetch-Site: %.40s)", site);
        return 1;
    }
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    if (origin && (!host || strncmp(origin, "http://", 7) != 0 || strcmp(origin + 7, host) != 0)) {
        *ret = serve_respond_error(conn, 403, "requests from other sites are refused (Origin: %.200s)", origin);
        return 1;
    }
    if (!s->token) return 0;
    const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
    const char *given = auth && strncmp(auth, "Bearer ", 7) == 0 ? auth + 7 : NULL;
    if (!given) given = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "token");
    if (given && same_secret(given, s->token)) return 0;
    if (given) {
        pthread_mutex_lock(&s->guess_lock);
        struct timespec pause = {FAILED_TOKEN_DELAY_MS / 1000, (FAILED_TOKEN_DELAY_MS % 1000) * 1000000L};
        while (nanosleep(&pause, &pause) != 0 && errno == EINTR) {}
        pthread_mutex_unlock(&s->guess_lock);
    }
    struct MHD_Response *r;
    char *body = serve_error_json(given ? "wrong token" : "this server needs its token: send 'Authorization: Bearer "
                                                          "TOKEN' or add ?token=TOKEN (the token sonodream serve was started with)");
    r = body ? MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!r) free(body);
    else {
        MHD_add_response_header(r, "Content-Type", "application/json");
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer realm=\"sonodream\"");
    }
    *ret = serve_queue_response(conn, 401, r);
    return 1;
}

/* ---- event streams ---- */

typedef struct event_stream {
    sono_server *server;
    serve_job *job;
    unsigned sent_version;
    int started, ended;
    char *pending;            /* an event not yet handed to MHD in full */
    size_t pending_len, pending_off;
} event_stream;

static ssize_t event_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    event_stream *e = cls;
    sono_server *s = e->server;
    if (e->pending_off >= e->pending_len) {
        free(e->pending);
        e->pending = NULL, e->pending_len = e->pending_off = 0;
        if (e->ended) return MHD_CONTENT_READER_END_OF_STREAM;
        pthread_mutex_lock(&s->lock);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += EVENT_KEEPALIVE_S;
        int timed_out = 0;
        while (!s->stopping && e->started && e->job->version == e->sent_version && !timed_out)
            timed_out = pthread_cond_timedwait(&s->changed, &s->lock, &until) == ETIMEDOUT;
        if (s->stopping) {
            pthread_mutex_unlock(&s->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (e->started && e->job->version == e->sent_version) {
            pthread_mutex_unlock(&s->lock);
            e->pending = strdup(": still here\n\n"); /* keeps proxies and dead peers honest */
        } else {
            char *json = serve_job_status_json(s, e->job);
            e->sent_version = e->job->version;
            e->started = 1;
            e->ended = e->job->state >= JOB_DONE;
            pthread_mutex_unlock(&s->lock);
            size_t n = json ? strlen(json) + 32 : 0;
            e->pending = json ? malloc(n) : NULL;
            if (e->pending) snprintf(e->pending, n, "event: status\ndata: %s\n\n", json);
            free(json);
        }
        if (!e->pending) return MHD_CONTENT_READER_END_WITH_ERROR;
        e->pending_len = strlen(e->pending);
    }
    size_t n = e->pending_len - e->pending_off < max ? e->pending_len - e->pending_off : max;
    memcpy(buf, e->pending + e->pending_off, n);
    e->pending_off += n;
    return (ssize_t)n;
}

static void event_free(void *cls) {
    event_stream *e = cls;
    sono_server *s = e->server;
    pthread_mutex_lock(&s->lock);
    s->streams--;
    serve_job_release_locked(e->job);
    pthread_mutex_unlock(&s->lock);
    serve_sweep(s);
    free(e->pending);
    free(e);
}

/* Each stream holds a connection and a thread for as long as a dream runs:
 * beyond --max-streams, 503. */
static enum MHD_Result respond_events(sono_server *s, struct MHD_Connection *conn, serve_job *job) {
    pthread_mutex_lock(&s->lock);
    int room = s->streams < s->opt.max_streams;
    if (room) s->streams++;
    pthread_mutex_unlock(&s->lock);
    if (!room) {
        serve_job_release(job);
        char *body = serve_error_json("too many event streams are open: poll GET /api/dreams/ID instead, or try later");
        struct MHD_Response *r = body ? MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE) : NULL;
        if (!r) return free(body), MHD_NO;
        MHD_add_response_header(r, "Content-Type", "application/json");
        MHD_add_response_header(r, "Retry-After", "5");
        return serve_queue_response(conn, 503, r);
    }
    event_stream *e = calloc(1, sizeof *e);
    if (!e) {
        pthread_mutex_lock(&s->lock);
        s->streams--;
        serve_job_release_locked(job);
        pthread_mutex_unlock(&s->lock);
        serve_sweep(s);
        return MHD_NO;
    }
    e->server = s, e->job = job;
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, event_read, e, event_free);
    if (!r) return event_free(e), MHD_NO;
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    return serve_queue_response(conn, 200, r);
}

/* ---- routes ---- */

static int valid_id(const char *id, size_t len) {
    if (len != SERVE_ID_LEN) return 0;
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)id[i]) && !(id[i] >= 'a' && id[i] <= 'f')) return 0;
    return 1;
}

static enum MHD_Result method_not_allowed(struct MHD_Connection *conn, const char *allow) {
    char *body = serve_error_json("method not allowed here");
    struct MHD_Response *r = body ? MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE) : NULL;
    if (!r) return free(body), MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    MHD_add_response_header(r, "Allow", allow);
    return serve_queue_response(conn, 405, r);
}

/* GET|DELETE /api/dreams/ID[/audio|input|picture|events] */
static enum MHD_Result route_dream(sono_server *s, struct MHD_Connection *conn, const char *method, const char *rest) {
    const char *slash = strchr(rest, '/');
    size_t id_len = slash ? (size_t)(slash - rest) : strlen(rest);
    const char *part = slash ? slash + 1 : "";
    static const char *const parts[] = {"", "audio", "input", "picture", "events"};
    int which = -1;
    for (int i = 0; i < 5; i++)
        if (strcmp(part, parts[i]) == 0) which = i;
    char id[SERVE_ID_LEN + 1];
    if (which < 0 || !valid_id(rest, id_len)) return serve_respond_error(conn, 404, "no such dream or resource");
    memcpy(id, rest, id_len), id[id_len] = '\0';
    int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (!is_get && !(which == 0 && strcmp(method, "DELETE") == 0)) return method_not_allowed(conn, which ? "GET" : "GET, DELETE");
    serve_job *job = serve_job_find(s, id);
    if (!job) return serve_respond_error(conn, 404, "no dream %s here (ids last until the dream expires or the server stops)", id);
    enum MHD_Result ret;
    if (which == 0 && !is_get) {
        int status = serve_job_delete(s, job);
        pthread_mutex_lock(&s->lock);
        ret = serve_respond_json(conn, status, serve_job_status_json(s, job));
        pthread_mutex_unlock(&s->lock);
    } else if (which == 0) {
        pthread_mutex_lock(&s->lock);
        ret = serve_respond_json(conn, 200, serve_job_status_json(s, job));
        pthread_mutex_unlock(&s->lock);
    } else if (which == 4) {
        return respond_events(s, conn, job); /* the stream holds the reference */
    } else {
        pthread_mutex_lock(&s->lock);
        job_state state = job->state;
        pthread_mutex_unlock(&s->lock);
        static const char *const files[] = {NULL, "dream.wav", "input.wav", "picture.png"};
        char path[SERVE_PATH_MAX + 16], name[64];
        snprintf(path, sizeof path, "%s/%s", job->dir, files[which]);
        snprintf(name, sizeof name, "%s-%.8s.%s", which == 1 ? "dream" : which == 2 ? "input" : "picture", id,
                 which == 3 ? "png" : "wav");
        if (state != JOB_DONE && which != 2)
            ret = serve_respond_error(conn, 409, "dream %s is %s: its %s comes when it is done", id,
                                      serve_job_state_name(state), parts[which]);
        else if (access(path, R_OK) != 0)
            ret = serve_respond_error(conn, 409, "dream %s has no %s (yet)", id, parts[which]);
        else ret = respond_file(conn, path, which == 3 ? "image/png" : "audio/wav", name);
    }
    serve_job_release(job);
    return ret;
}

static enum MHD_Result route_api(sono_server *s, struct MHD_Connection *conn, const char *url, const char *method) {
    int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    if (strcmp(url, "/api/models") == 0)
        return is_get ? respond_static(conn, 200, s->models_json, strlen(s->models_json), "application/json")
                      : method_not_allowed(conn, "GET");
    if (strcmp(url, "/api/examples") == 0)
        return is_get ? respond_static(conn, 200, s->examples_json, strlen(s->examples_json), "application/json")
                      : method_not_allowed(conn, "GET");
    if (strncmp(url, "/api/examples/", 14) == 0) {
        if (!is_get) return method_not_allowed(conn, "GET");
        for (int i = 0; i < s->example_count; i++)
            if (strcmp(url + 14, s->examples[i].name) == 0)
                return respond_file(conn, s->examples[i].path, "application/octet-stream", NULL);
        return serve_respond_error(conn, 404, "no such example");
    }
    if (strncmp(url, "/api/dreams/", 12) == 0) return route_dream(s, conn, method, url + 12);
    if (strcmp(url, "/api/dreams") == 0) return method_not_allowed(conn, "POST");
    return serve_respond_error(conn, 404, "no such API call (see the README: /api/models, /api/dreams)");
}

static enum MHD_Result route_page(struct MHD_Connection *conn, const char *url, const char *method) {
    if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) return method_not_allowed(conn, "GET");
    const char *want = strcmp(url, "/") == 0 ? "/index.html" : url;
    for (int i = 0; i < serve_asset_count; i++) {
        if (strcmp(want, serve_assets[i].path) != 0) continue;
        const char *dot = strrchr(want, '.');
        const char *type = !dot                       ? "application/octet-stream"
                           : strcmp(dot, ".html") == 0 ? "text/html; charset=utf-8"
                           : strcmp(dot, ".js") == 0   ? "text/javascript; charset=utf-8"
                           : strcmp(dot, ".css") == 0  ? "text/css; charset=utf-8"
                           : strcmp(dot, ".svg") == 0  ? "image/svg+xml"
                                                       : "application/octet-stream";
        return respond_static(conn, 200, serve_assets[i].data, serve_assets[i].size, type);
    }
    static const char missing[] = "not found\n";
    return respond_static(conn, 404, missing, sizeof missing - 1, "text/plain; charset=utf-8");
}

typedef struct request_state {
    serve_upload *upload;
    int answered;
} request_state;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls) {
    (void)version;
    sono_server *s = cls;
    request_state *rs = *con_cls;
    if (rs && rs->upload) return serve_upload_step(s, conn, &rs->upload, upload_data, upload_data_size);
    if (rs) { /* a body nobody asked for, after the answer */
        *upload_data_size = 0;
        return MHD_YES;
    }
    rs = calloc(1, sizeof *rs);
    if (!rs) return MHD_NO;
    *con_cls = rs;
    rs->answered = 1;
    int upload = strcmp(url, "/api/dreams") == 0 && strcmp(method, "POST") == 0;
    if (!upload) serve_request_received(conn); /* a body, if any, is discarded */
    if (strncmp(url, "/api/", 5) != 0 && strcmp(url, "/api") != 0) return route_page(conn, url, method);
    enum MHD_Result ret;
    if (refuse_api_request(s, conn, &ret)) return ret;
    if (upload) {
        rs->answered = 0;
        return serve_upload_step(s, conn, &rs->upload, upload_data, upload_data_size);
    }
    return route_api(s, conn, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe) {
    (void)cls, (void)toe;
    serve_request_next(conn);
    request_state *rs = *con_cls;
    if (!rs) return;
    serve_upload_free(rs->upload);
    free(rs);
    *con_cls = NULL;
}

/* %XX decoding of paths and query arguments, as MHD's own, except that a
 * decoded control byte (%00 included) becomes DEL, which no route or id
 * contains: "/audio%00" must not be read as "/audio". */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *text) {
    (void)cls, (void)conn;
    char *out = text;
    for (const char *in = text; *in; in++) {
        unsigned char c = (unsigned char)*in;
        if (c == '%' && isxdigit((unsigned char)in[1]) && isxdigit((unsigned char)in[2])) {
            char hex[3] = {in[1], in[2], 0};
            c = (unsigned char)strtol(hex, NULL, 16);
            in += 2;
        }
        *out++ = (char)(c < 0x20 || c == 0x7f ? 0x7f : c);
    }
    *out = '\0';
    return (size_t)(out - text);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
    (void)cls;
    char message[512];
    vsnprintf(message, sizeof message, fmt, ap);
    size_t n = strlen(message);
    while (n > 0 && message[n - 1] == '\n') message[--n] = '\0';
    sono_log(SONO_LOG_DEBUG, "http: %s", message);
}

/* ---- start and stop ---- */

static sono_status load_models(sono_server *s, sono_error *err) {
    s->models = calloc((size_t)s->opt.model_count, sizeof *s->models);
    if (!s->models) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int i = 0; i < s->opt.model_count; i++) {
        serve_model *m = &s->models[i];
        const char *path = s->opt.model_paths[i];
        sono_status st = sono_classifier_load(path, 1, &m->meta, NULL, err);
        if (st != SONO_OK) return st;
        s->model_count++;
        m->path = strdup(path);
        const char *base = strrchr(path, '/');
        snprintf(m->name, sizeof m->name, "%s", base ? base + 1 : path);
        size_t len = strlen(m->name);
        if (len > 6 && strcmp(m->name + len - 6, ".model") == 0) m->name[len - 6] = '\0';
        for (int k = 0; k < i; k++)
            if (strcmp(s->models[k].name, m->name) == 0)
                return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: two models are called '%s' (rename one)", path, m->name);
        if (!m->path) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    }
    return SONO_OK;
}

static int is_audio_name(const char *name) {
    static const char *const ext[] = {".wav", ".flac", ".ogg", ".mp3", ".aiff", ".aif", ".opus"};
    const char *dot = strrchr(name, '.');
    for (size_t i = 0; dot && i < sizeof ext / sizeof ext[0]; i++)
        if (strcasecmp(dot, ext[i]) == 0) return 1;
    return 0;
}

static int example_order(const void *a, const void *b) {
    return strcmp(((const serve_example *)a)->name, ((const serve_example *)b)->name);
}

static sono_status scan_examples(sono_server *s, sono_error *err) {
    if (!s->examples_dir) return SONO_OK;
    DIR *d = opendir(s->examples_dir);
    if (!d) return sono_error_set(err, SONO_ERR_IO, "%s: cannot open the examples folder: %s", s->examples_dir, strerror(errno));
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!is_audio_name(e->d_name) || strlen(e->d_name) >= sizeof s->examples[0].name) continue;
        serve_example *grown = realloc(s->examples, (size_t)(s->example_count + 1) * sizeof *grown);
        if (!grown) break;
        s->examples = grown;
        serve_example *x = &s->examples[s->example_count];
        snprintf(x->name, sizeof x->name, "%s", e->d_name);
        snprintf(x->path, sizeof x->path, "%s/%s", s->examples_dir, e->d_name);
        struct stat st;
        if (stat(x->path, &st) == 0 && S_ISREG(st.st_mode)) s->example_count++;
    }
    closedir(d);
    if (s->example_count) qsort(s->examples, (size_t)s->example_count, sizeof *s->examples, example_order);
    return SONO_OK;
}

static sono_status make_folder(sono_server *s, sono_error *err) {
    const char *parent = s->opt.temp_parent ? s->opt.temp_parent : getenv("TMPDIR");
    if (!parent || !*parent) parent = "/tmp";
    if (strlen(parent) > sizeof s->dir - 32)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: the temporary folder's path is too long", parent);
    snprintf(s->dir, sizeof s->dir, "%s/sonodream-serve-XXXXXX", parent);
    if (!mkdtemp(s->dir)) {
        int e = errno;
        s->dir[0] = '\0';
        return sono_error_set(err, SONO_ERR_IO, "%s: cannot make the server's folder: %s", parent, strerror(e));
    }
    return SONO_OK;
}

static sono_status start_http(sono_server *s, sono_error *err) {
    struct addrinfo hints = {0}, *ai = NULL;
    hints.ai_family = AF_UNSPEC, hints.ai_socktype = SOCK_STREAM, hints.ai_flags = AI_PASSIVE;
    char port[16];
    snprintf(port, sizeof port, "%d", s->opt.port);
    int rc = getaddrinfo(s->host, port, &hints, &ai);
    if (rc != 0) return sono_error_set(err, SONO_ERR_ARGUMENT, "--host %s: %s", s->host, gai_strerror(rc));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
    if (ai->ai_family == AF_INET6) flags |= MHD_USE_IPv6;
    s->daemon = MHD_start_daemon(flags, (uint16_t)s->opt.port, NULL, NULL, on_request, s,
                                 MHD_OPTION_SOCK_ADDR, ai->ai_addr,
                                 MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
                                 MHD_OPTION_NOTIFY_CONNECTION, serve_on_connection, s,
                                 MHD_OPTION_CONNECTION_LIMIT, (unsigned)CONNECTION_LIMIT,
                                 MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)s->opt.connections_per_ip,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)CONNECTION_TIMEOUT_S,
                                 MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
                                 MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
                                 MHD_OPTION_END);
    char numeric[INET6_ADDRSTRLEN] = "";
    getnameinfo(ai->ai_addr, ai->ai_addrlen, numeric, sizeof numeric, NULL, 0, NI_NUMERICHOST);
    int v6 = ai->ai_family == AF_INET6;
    freeaddrinfo(ai);
    if (!s->daemon)
        return sono_error_set(err, SONO_ERR_IO, "cannot listen on %s port %d (in use, or not an address of this machine?)",
                              s->host, s->opt.port);
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : s->opt.port;
    snprintf(s->url, sizeof s->url, v6 ? "http://[%s]:%d/" : "http://%s:%d/", numeric, s->port);
    return SONO_OK;
}

static char *copy_or_null(const char *text) { return text ? strdup(text) : NULL; }

sono_status sono_server_start(const sono_server_options *opt, sono_server **out, sono_error *err) {
    *out = NULL;
    if (opt->model_count < 1) return sono_error_set(err, SONO_ERR_ARGUMENT, "serve needs at least one model");
    if (opt->jobs < 1 || opt->queue < 0 || opt->keep < 0 || opt->max_upload < 1 || !(opt->max_seconds > 0) ||
        opt->max_channels < 1 || opt->max_rate < 1 || opt->max_rate > SONO_AUDIO_MAX_RATE || opt->max_disk < 0 ||
        opt->connections_per_ip < 1 || !(opt->request_timeout > 0) || opt->max_streams < 0 || opt->port < 0 ||
        opt->port > 65535)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "serve: jobs, queue, keep, max-upload, max-seconds, max-channels, "
                                                      "max-rate, max-disk, connections-per-ip, request-timeout, "
                                                      "max-streams or port out of range");
    const char *host = opt->host ? opt->host : "127.0.0.1";
    if (!sono_server_host_is_loopback(host) && (!opt->token || !*opt->token))
        return sono_error_set(err, SONO_ERR_ARGUMENT, "--host %s is reachable from other machines: it needs a --token", host);
    if (opt->token && *opt->token && strlen(opt->token) < TOKEN_MIN)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "serve: a token needs at least %d characters", TOKEN_MIN);
    sono_server *s = calloc(1, sizeof *s);
    if (!s) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    s->opt = *opt;
    s->host = strdup(host);
    s->token = opt->token && *opt->token ? strdup(opt->token) : NULL;
    s->examples_dir = copy_or_null(opt->examples_dir);
    s->loopback = sono_server_host_is_loopback(host);
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->work, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr); /* event streams wait with CLOCK_REALTIME deadlines */
    pthread_cond_init(&s->changed, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&s->conn_lock, NULL);
    pthread_mutex_init(&s->guess_lock, NULL);
    pthread_cond_init(&s->reaper_wake, NULL);
    sono_status st = !s->host ? sono_error_set(err, SONO_ERR_MEMORY, "out of memory") : SONO_OK;
    if (st == SONO_OK) st = load_models(s, err);
    if (st == SONO_OK) st = scan_examples(s, err);
    if (st == SONO_OK) {
        s->models_json = serve_models_json(s);
        s->examples_json = serve_examples_json(s);
        if (!s->models_json || !s->examples_json) st = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    }
    if (st == SONO_OK) st = make_folder(s, err);
    if (st == SONO_OK) st = serve_workers_start(s, err);
    if (st == SONO_OK) {
        int rc = pthread_create(&s->reaper, NULL, serve_reaper_main, s);
        if (rc != 0) st = sono_error_set(err, SONO_ERR_IO, "cannot start a thread: %s", strerror(rc));
        s->reaper_started = rc == 0;
    }
    if (st == SONO_OK) st = start_http(s, err);
    if (st != SONO_OK) {
        sono_server_free(s);
        return st;
    }
    *out = s;
    return SONO_OK;
}

int sono_server_port(const sono_server *s) { return s->port; }
const char *sono_server_url(const sono_server *s) { return s->url; }

void sono_server_free(sono_server *s) {
    if (!s) return;
    serve_workers_stop(s); /* cancels dreams, ends event streams, refuses new uploads */
    if (s->reaper_started) {
        pthread_mutex_lock(&s->conn_lock);
        s->reaper_stop = 1;
        pthread_cond_signal(&s->reaper_wake);
        pthread_mutex_unlock(&s->conn_lock);
        pthread_join(s->reaper, NULL);
    }
    if (s->daemon) MHD_stop_daemon(s->daemon);
    pthread_mutex_lock(&s->lock);
    while (s->head) {
        serve_job *job = s->head;
        s->head = job->next;
        job->listed = 0;
        serve_job_release_locked(job);
    }
    s->tail = NULL;
    pthread_mutex_unlock(&s->lock);
    serve_sweep(s);
    if (s->dir[0]) rmdir(s->dir);
    for (int i = 0; i < s->model_count; i++) {
        sono_classifier_free(s->models[i].meta);
        free(s->models[i].path);
    }
    free(s->models);
    free(s->examples);
    free(s->models_json);
    free(s->examples_json);
    free(s->workers);
    free(s->host);
    free(s->token);
    free(s->examples_dir);
    pthread_cond_destroy(&s->reaper_wake);
    pthread_mutex_destroy(&s->conn_lock);
    pthread_mutex_destroy(&s->guess_lock);
    pthread_cond_destroy(&s->changed);
    pthread_cond_destroy(&s->work);
    pthread_mutex_destroy(&s->lock);
    free(s);
}
