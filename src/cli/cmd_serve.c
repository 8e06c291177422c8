/* sonodream serve [options] MODEL...: the dream studio in a browser.
 *
 * A thin client of sono_server (src/serve): parse the options, start the
 * server, print its URL, wait for Ctrl-C or SIGTERM, stop it (running dreams
 * are cancelled, the private folder removed) and exit 0. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "serve/serve.h"

#ifndef SONO_DATADIR_FROM_BINDIR
#define SONO_DATADIR_FROM_BINDIR "../share/sonodream"
#endif
#ifndef SONO_FULL_PKGDATADIR
#define SONO_FULL_PKGDATADIR "/usr/local/share/sonodream"
#endif
#ifndef SONO_SOURCE_EXAMPLES
#define SONO_SOURCE_EXAMPLES ""
#endif

static int is_folder(const char *path) {
    struct stat st;
    return path[0] && stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The shipped examples, as cli_shipped_model finds the model: installed
 * beside the program (share/sonodream/examples), else in the source tree of
 * a build, else under the configured prefix; NULL when none is there. */
static const char *shipped_examples(void) {
    static char path[PATH_MAX + 64];
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) *slash = '\0';
        snprintf(path, sizeof path, "%s/%s/examples", exe, SONO_DATADIR_FROM_BINDIR);
        if (slash && is_folder(path)) return path;
    }
    if (is_folder(SONO_SOURCE_EXAMPLES)) return SONO_SOURCE_EXAMPLES;
    snprintf(path, sizeof path, "%s/examples", SONO_FULL_PKGDATADIR);
    return is_folder(path) ? path : NULL;
}

static void serve_usage(FILE *out) {
    sono_server_options d;
    sono_server_defaults(&d);
    fprintf(out,
            "usage: sonodream serve [options] [MODEL...]\n\n"
            "A local dream studio: a web page and a JSON API to dream sounds interactively.\n"
            "Open the printed URL in a browser; the API is described in the README. Without a\n"
            "MODEL, the shipped model installed under share/sonodream/models/ is used.\n"
            "Ctrl-C or SIGTERM cancels running dreams, removes the temporary files and exits.\n\n"
            "      --host ADDR        address to listen on (default %s: this machine only);\n"
            "                         any other address needs a token\n"
            "      --port N           port (default %d; 0: any free port)\n"
            "      --token TOKEN      every API call must carry it ('Authorization: Bearer TOKEN'\n"
            "                         or ?token=TOKEN); at least 16 characters. Other users of this\n"
            "                         machine can read a command line: prefer --token-file or the\n"
            "                         environment variable SONODREAM_TOKEN. With a non-loopback\n"
            "                         --host and no token, one is generated and printed\n"
            "      --token-file FILE  the token is the first line of FILE\n"
            "      --jobs N           dreams at once (default %d)\n"
            "      --queue N          dreams waiting beyond those; more get 503 (default %d)\n"
            "      --max-upload SIZE  largest upload, e.g. 100M (default %lld bytes); larger get 413\n"
            "      --max-seconds S    longest recording (default %g); longer get 422\n"
            "      --max-channels N   most channels in a recording (default %d); more get 422\n"
            "      --max-rate HZ      highest sample rate of a recording (default %d); higher get 422\n"
            "      --max-disk SIZE    disk for uploads, inputs and dreams, e.g. 4G (default %lld bytes);\n"
            "                         old results expire to make room, else 507\n"
            "      --keep N           finished dreams kept with their files (default %d)\n"
            "      --connections-per-ip N\n"
            "                         connections one address may hold at once (default %d)\n"
            "      --request-timeout S\n"
            "                         seconds to receive a whole request, upload included\n"
            "                         (default %g); a connection idle for 60 s is closed anyway\n"
            "      --max-streams N    event streams open at once (default %d); more get 503\n"
            "      --examples DIR     recordings the page offers (default: the shipped examples,\n"
            "                         %s)\n"
            "  -q, --quiet            log nothing but errors\n"
            "  -h, --help             this help\n",
            d.host, d.port, d.jobs, d.queue, (long long)d.max_upload, d.max_seconds, d.max_channels, d.max_rate,
            (long long)d.max_disk, d.keep, d.connections_per_ip, d.request_timeout, d.max_streams,
            shipped_examples() ? shipped_examples() : "none found");
}

#define TOKEN_MIN 16
#define TOKEN_MAX 256

typedef struct serve_args {
    sono_server_options opt;
    char generated_token[33];
    char token[TOKEN_MAX + 2];  /* from --token, --token-file or SONODREAM_TOKEN */
    const char *token_file;
    int token_given;            /* on the command line */
    const char *shipped;  /* the shipped model, when no MODEL is named */
    int quiet;
} serve_args;

enum { OPT_HOST = 256, OPT_PORT, OPT_TOKEN, OPT_JOBS, OPT_QUEUE, OPT_MAX_UPLOAD, OPT_MAX_SECONDS, OPT_KEEP,
       OPT_EXAMPLES, OPT_MAX_CHANNELS, OPT_MAX_RATE, OPT_MAX_DISK,
       OPT_PER_IP, OPT_REQUEST_TIMEOUT, OPT_MAX_STREAMS, OPT_TOKEN_FILE };

static int parse_option(serve_args *a, int opt, const char *arg) {
    sono_server_options *o = &a->opt;
    long v;
    unsigned long long size;
    switch (opt) {
    case OPT_HOST: o->host = arg; return 1;
    case OPT_PORT: return cli_parse_int("port", arg, 0, 65535, &v) && ((o->port = (int)v), 1);
    case OPT_TOKEN:
        /* Copied, and the argument overwritten, so that ps shows it no
         * longer (it was visible until now: hence the warning). */
        snprintf(a->token, sizeof a->token, "%s", arg);
        memset((char *)arg, 'x', strlen(arg));
        a->token_given = 1;
        return 1;
    case OPT_TOKEN_FILE: a->token_file = arg; return 1;
    case OPT_JOBS: return cli_parse_int("jobs", arg, 1, 64, &v) && ((o->jobs = (int)v), 1);
    case OPT_QUEUE: return cli_parse_int("queue", arg, 0, 100000, &v) && ((o->queue = (int)v), 1);
    case OPT_MAX_UPLOAD:
        return cli_parse_size("max-upload", arg, &size) && ((o->max_upload = (int64_t)size), 1);
    case OPT_MAX_SECONDS: return cli_parse_double("max-seconds", arg, 0.001, 1e7, &o->max_seconds);
    case OPT_MAX_CHANNELS: return cli_parse_int("max-channels", arg, 1, 1024, &v) && ((o->max_channels = (int)v), 1);
    case OPT_MAX_RATE: return cli_parse_int("max-rate", arg, 1, 1000000, &v) && ((o->max_rate = (int)v), 1);
    case OPT_MAX_DISK: return cli_parse_size("max-disk", arg, &size) && ((o->max_disk = (int64_t)size), 1);
    case OPT_PER_IP:
        return cli_parse_int("connections-per-ip", arg, 1, 1000, &v) && ((o->connections_per_ip = (int)v), 1);
    case OPT_REQUEST_TIMEOUT: return cli_parse_double("request-timeout", arg, 0.1, 86400, &o->request_timeout);
    case OPT_MAX_STREAMS: return cli_parse_int("max-streams", arg, 0, 10000, &v) && ((o->max_streams = (int)v), 1);
    case OPT_KEEP: return cli_parse_int("keep", arg, 0, 100000, &v) && ((o->keep = (int)v), 1);
    case OPT_EXAMPLES: o->examples_dir = arg; return 1;
    case 'q': a->quiet = 1; return 1;
    }
    return 0;
}

static int parse_args(int argc, char **argv, serve_args *a, int *exit_code) {
    static const struct option longopts[] = {
        {"host", required_argument, 0, OPT_HOST},           {"port", required_argument, 0, OPT_PORT},
        {"token", required_argument, 0, OPT_TOKEN},         {"jobs", required_argument, 0, OPT_JOBS},
        {"token-file", required_argument, 0, OPT_TOKEN_FILE},
        {"queue", required_argument, 0, OPT_QUEUE},         {"max-upload", required_argument, 0, OPT_MAX_UPLOAD},
        {"max-seconds", required_argument, 0, OPT_MAX_SECONDS}, {"keep", required_argument, 0, OPT_KEEP},
        {"max-channels", required_argument, 0, OPT_MAX_CHANNELS}, {"max-rate", required_argument, 0, OPT_MAX_RATE},
        {"max-disk", required_argument, 0, OPT_MAX_DISK},
        {"connections-per-ip", required_argument, 0, OPT_PER_IP},
        {"request-timeout", required_argument, 0, OPT_REQUEST_TIMEOUT},
        {"max-streams", required_argument, 0, OPT_MAX_STREAMS},
        {"examples", required_argument, 0, OPT_EXAMPLES},   {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},                      {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    sono_server_defaults(&a->opt);
    a->opt.examples_dir = shipped_examples();
    *exit_code = 2;
    int opt;
    while ((opt = getopt_long(argc, argv, "qh", longopts, NULL)) != -1) {
        if (opt == 'h') {
            serve_usage(stdout);
            *exit_code = 0;
            return 0;
        }
        if (opt == '?') {
            serve_usage(stderr);
            return 0;
        }
        if (!parse_option(a, opt, optarg)) return 0;
    }
    if (optind < argc) {
        a->opt.model_paths = (const char *const *)argv + optind;
        a->opt.model_count = argc - optind;
        return 1;
    }
    a->shipped = cli_shipped_model();
    if (!a->shipped) {
        cli_failf("serve: no MODEL named, and the shipped model is not installed (see 'sonodream serve --help')");
        return 0;
    }
    fprintf(stderr, "sonodream: no model named; using the shipped model %s\n", a->shipped);
    a->opt.model_paths = &a->shipped;
    a->opt.model_count = 1;
    return 1;
}

/* The first line of the token file, without its line end. */
static int read_token_file(serve_args *a) {
    FILE *f = fopen(a->token_file, "r");
    if (!f) return cli_failf("option --token-file: %s: %s", a->token_file, strerror(errno)), 0;
    char line[TOKEN_MAX + 2] = "";
    int ok = fgets(line, sizeof line, f) != NULL;
    fclose(f);
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    if (!ok || n == 0) return cli_failf("option --token-file: %s: no token on its first line", a->token_file), 0;
    snprintf(a->token, sizeof a->token, "%s", line);
    return 1;
}

/* --token, --token-file or SONODREAM_TOKEN (one of them), checked: 16 to
 * 256 visible characters. */
static int take_token(serve_args *a) {
    if (a->token_given && a->token_file) return cli_failf("serve: give --token or --token-file, not both"), 0;
    const char *source = a->token_given ? "--token" : a->token_file ? "--token-file" : "SONODREAM_TOKEN";
    if (a->token_file && !read_token_file(a)) return 0;
    if (!a->token_given && !a->token_file) {
        const char *env = getenv("SONODREAM_TOKEN");
        if (!env || !*env) return 1;
        snprintf(a->token, sizeof a->token, "%s", env);
    }
    size_t n = strlen(a->token);
    if (n < TOKEN_MIN || n > TOKEN_MAX) return cli_failf("%s: use a token of %d to %d characters", source, TOKEN_MIN, TOKEN_MAX), 0;
    for (size_t i = 0; i < n; i++)
        if (a->token[i] <= ' ' || a->token[i] > '~')
            return cli_failf("%s: the token holds a space or a character that is not printable ASCII", source), 0;
    if (a->token_given)
        fprintf(stderr, "sonodream serve: warning: a --token on the command line can be read by other users of "
                        "this machine; use --token-file or SONODREAM_TOKEN\n");
    a->opt.token = a->token;
    return 1;
}

/* A token for a server bound beyond loopback when none was given: 128
 * random bits. */
static int generate_token(serve_args *a) {
    unsigned char random[16];
    if (getrandom(random, sizeof random, 0) != (ssize_t)sizeof random) return 0;
    for (size_t i = 0; i < sizeof random; i++) snprintf(a->generated_token + 2 * i, 3, "%02x", random[i]);
    a->opt.token = a->generated_token;
    return 1;
}

int cmd_serve(int argc, char **argv) {
    serve_args a;
    int code = 0;
    if (!parse_args(argc, argv, &a, &code)) return code;
    if (!take_token(&a)) return 2;
    int generated = 0;
    if (!sono_server_host_is_loopback(a.opt.host) && !a.opt.token) {
        if (!generate_token(&a)) return cli_failf("serve: no random numbers for a token"), 1;
        generated = 1;
    }
    cli_log_to_stderr(0);
    if (a.quiet) sono_log_set(NULL, NULL);
    /* Signals are taken by this thread alone (sigwait): the server's threads,
     * started below, inherit the blocked mask. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    sono_error err = {0};
    sono_server *server = NULL;
    if (sono_server_start(&a.opt, &server, &err) != SONO_OK) return cli_fail(&err);
    /* A token from a file or the environment stays out of the output (a log
     * others may read); a generated one must be printed to be known. */
    if (a.opt.token && (generated || a.token_given)) {
        printf("sonodream serve: listening on %s#token=%s\n", sono_server_url(server), a.opt.token);
        if (generated) printf("sonodream serve: API token (generated): %s\n", a.opt.token);
    } else if (a.opt.token) {
        printf("sonodream serve: listening on %s (API calls need the token: add #token=TOKEN to the page's "
               "address)\n", sono_server_url(server));
    } else printf("sonodream serve: listening on %s\n", sono_server_url(server));
    printf("sonodream serve: Ctrl-C stops it\n");
    fflush(stdout);
    int sig = 0;
    sigwait(&stop, &sig);
    /* A second Ctrl-C while stopping ends the process at once. */
    pthread_sigmask(SIG_UNBLOCK, &stop, NULL);
    fprintf(stderr, "sonodream serve: %s, stopping\n", sig == SIGTERM ? "SIGTERM" : "interrupted");
    sono_server_free(server);
    return 0;
}
