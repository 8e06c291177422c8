/* libFuzzer target: the server's request handlers. One server (a tiny
 * random model, a queue of 2) runs in the process; each input is sent as
 * the raw bytes of an HTTP request over a loopback connection, so
 * libmicrohttpd's parser, the routes, the guards, the multipart form, the
 * field checks and the upload's decoding all see it. Whatever the bytes,
 * the server must answer with an HTTP status line or close the connection,
 * and keep answering: a crash, a hang (-timeout) or a sanitizer report is
 * a finding. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "serve/serve.h"
#include "sonodream/classifier.h"

static sono_server *server;
static int port;

/* "c4,p2,f8" on 1 x 16 mels x 32 frames (0.5 s at 8 kHz), random weights:
 * an accepted dream takes milliseconds. */
static const char *tiny_model(void) {
    static char path[256];
    snprintf(path, sizeof path, "%s", fuzz_scratch_path(".model"));
    sono_feature_config cfg;
    sono_feature_config_default(&cfg);
    cfg.sample_rate = 8000, cfg.seconds = 0.5, cfg.n_fft = 256, cfg.hop = 128, cfg.n_mels = 16;
    int frames = sono_feature_frames(&cfg, sono_feature_clip_samples(&cfg));
    sono_error err = {0};
    sono_net *net = NULL;
    sono_classifier *c = NULL;
    float mean[16], sd[16];
    for (int m = 0; m < 16; m++) mean[m] = -50, sd[m] = 10;
    char *names[2] = {"tone", "noise"};
    if (sono_net_new(&net, "c4,p2,f8", (sono_shape){1, 16, frames}, 2, 1, 7, &err) != SONO_OK ||
        sono_classifier_new(&c, net, &cfg, names, 2, mean, sd, &err) != SONO_OK ||
        sono_classifier_save(path, c, NULL, NULL, NULL, 0, &err) != SONO_OK) {
        fprintf(stderr, "fuzz_serve: no model: %s\n", err.message);
        abort();
    }
    sono_classifier_free(c);
    return path;
}

/* libmicrohttpd's own complaints (refused connections, failed threads)
 * explain a failed probe; the dreams' messages are noise here. */
static void log_http(sono_log_level level, const char *message, void *user) {
    (void)level, (void)user;
    if (strncmp(message, "http: ", 6) == 0) fprintf(stderr, "%s\n", message);
}

static void stop_server(void) {
    sono_server_free(server);
    unlink(fuzz_scratch_path(".model"));
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *models[1] = {tiny_model()};
    sono_server_options opt;
    sono_server_defaults(&opt);
    opt.model_paths = models, opt.model_count = 1;
    opt.port = 0, opt.queue = 2, opt.keep = 2, opt.max_upload = 1 << 20, opt.max_seconds = 5;
    opt.worker_nice = 0;
    /* A crash skips the cleanup: its folder is then left in build-fuzz/
     * (scripts/fuzz runs from the source tree), not in /tmp. */
    if (mkdir("build-fuzz/serve-tmp", 0700) == 0 || errno == EEXIST) opt.temp_parent = "build-fuzz/serve-tmp";
    sono_error err = {0};
    if (getenv("FUZZ_SERVE_LOG")) sono_log_set(log_http, NULL);
    if (sono_server_start(&opt, &server, &err) != SONO_OK) {
        fprintf(stderr, "fuzz_serve: %s\n", err.message);
        abort();
    }
    port = sono_server_port(server);
    atexit(stop_server); /* its private folder goes with it */
    return 0;
}

/* Send everything, close our side, read the answer (bounded in time).
 * Returns the bytes read; *why says how the reading ended. */
static size_t exchange(const uint8_t *data, size_t size, char *reply, size_t reply_size, const char **why) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    *why = "closed";
    reply[0] = '\0';
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        *why = strerror(errno);
        if (fd >= 0) close(fd);
        return 0;
    }
    for (size_t sent = 0; sent < size;) {
        ssize_t n = send(fd, data + sent, size - sent, MSG_NOSIGNAL);
        if (n <= 0) break; /* the server may answer and close before reading it all */
        sent += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    size_t got = 0;
    struct pollfd p = {.fd = fd, .events = POLLIN};
    while (got + 1 < reply_size) {
        int ready = poll(&p, 1, 5000);
        if (ready != 1) {
            *why = ready == 0 ? "no answer in 5 s" : strerror(errno);
            break;
        }
        ssize_t n = recv(fd, reply + got, reply_size - 1 - got, 0);
        if (n < 0) *why = strerror(errno);
        if (n <= 0) break;
        got += (size_t)n;
    }
    reply[got] = '\0';
    close(fd);
    return got;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static char reply[1 << 16];
    const char *why;
    size_t got = exchange(data, size, reply, sizeof reply, &why);
    if (got > 0 && strncmp(reply, "HTTP/1.", 7) != 0) {
        fprintf(stderr, "fuzz_serve: the answer is not HTTP: %.80s\n", reply);
        abort();
    }
    /* Still alive: a request that passes every guard and route answers.
     * On a loaded machine one probe may go unanswered; three in a row may
     * not. */
    static const char probe[] = "GET /api/models HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    for (int attempt = 1;; attempt++) {
        got = exchange((const uint8_t *)probe, sizeof probe - 1, reply, sizeof reply, &why);
        if (got >= 12 && strncmp(reply + 9, "200", 3) == 0) break;
        fprintf(stderr, "fuzz_serve: GET /api/models after that input, try %d: %s (%.40s)\n", attempt, why, reply);
        if (attempt == 3) abort();
        sleep(1);
    }
    return 0;
}
