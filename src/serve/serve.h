/* sonodream serve: a local dream studio over HTTP (libmicrohttpd).
 *
 * A module of its own beside libsonodream (not part of it, so the library
 * does not depend on libmicrohttpd), and a client of the library's public
 * API only: `sonodream serve` links it with libsonodream.so.
 *
 * One page (embedded in the library) and a JSON API:
 *   GET    /api/models                 the models: name and sono_dream_model_add_json's description
 *   GET    /api/examples[/NAME]        shipped example recordings (when an examples folder is given)
 *   POST   /api/dreams                 multipart form (audio, model, objective, layer, channel,
 *                                      class, octaves, iterations, step, seed, render) -> 202 {"id"}
 *   GET    /api/dreams/ID              {"state", "progress", "position", "error", "report"}
 *   GET    /api/dreams/ID/audio|input|picture   the dream (WAV), the input (WAV), the picture (PNG)
 *   GET    /api/dreams/ID/events       Server-Sent Events: the status at every change
 *   DELETE /api/dreams/ID              cancel a dream, or remove a finished one
 * Dreams run on `jobs` worker threads, each with its own classifier per
 * model; up to `queue` more wait; beyond that POST gets 503 with
 * Retry-After. Requests are served on libmicrohttpd's threads (one per
 * connection), never on a worker, so status answers stay fast while dreams
 * run. Files live in a private folder (mkdtemp) removed by sono_server_free;
 * no part of a request path names a file.
 *
 * Nothing here prints or exits: messages go through sono_log. */
#ifndef SONO_SERVE_H
#define SONO_SERVE_H

#include <stdint.h>

#include "sonodream/error.h"

typedef struct sono_server_options {
    const char *const *model_paths; /* (model_count) model files; names are their file names without .model */
    int model_count;
    const char *host;           /* "127.0.0.1": address to bind (numeric or a name getaddrinfo resolves) */
    int port;                   /* 8080; 0: any free port (see sono_server_port) */
    const char *token;          /* NULL: none; else (16 characters or more) every /api call must carry
                                   it (Authorization: Bearer TOKEN, or ?token=TOKEN for players and
                                   event streams); a wrong one is answered after 1 s, one at a time */
    int jobs;                   /* 1: dreams at once */
    int queue;                  /* 16: dreams waiting beyond those running */
    int64_t max_upload;         /* 100 MB: larger request bodies get 413 */
    double max_seconds;         /* 600: longer recordings get 422 */
    int max_channels;           /* 8: recordings with more channels get 422 */
    int max_rate;               /* 192000: recordings at a higher rate (Hz) get 422 */
    int64_t max_disk;           /* 4 GiB: the server's folder (uploads, inputs and dreams, counted before
                                   they are written); old results expire to make room, else 507 */
    int keep;                   /* 50: finished dreams kept (older ones and their files are removed) */
    int connections_per_ip;     /* 16: connections one address may hold at once; more are closed */
    double request_timeout;     /* 300: seconds to receive a whole request (headers and body); a
                                   connection idle for 60 s is closed whatever this says */
    int max_streams;            /* 32: event streams open at once; more get 503 */
    const char *examples_dir;   /* NULL: none; else its audio files are offered by /api/examples */
    const char *temp_parent;    /* NULL: $TMPDIR or /tmp; the private folder is made inside */
    int worker_nice;            /* 5: workers run this much nicer than the request threads */
} sono_server_options;

void sono_server_defaults(sono_server_options *opt);

/* 1 when the address is a loopback address (127.0.0.0/8, ::1, "localhost"):
 * only then may a server run without a token. */
int sono_server_host_is_loopback(const char *host);

typedef struct sono_server sono_server;

/* Load the models (fails naming the file), make the private folder, bind
 * and start serving. Refuses a non-loopback host without a token. */
sono_status sono_server_start(const sono_server_options *opt, sono_server **out, sono_error *err);

/* The port actually bound (useful with port 0). */
int sono_server_port(const sono_server *s);

/* The page's URL, e.g. "http://127.0.0.1:8080/" (a numeric IPv6 host in
 * brackets). Valid until sono_server_free. */
const char *sono_server_url(const sono_server *s);

/* Cancel running and queued dreams (they end "cancelled"), stop accepting,
 * wait for the workers and request threads, remove the private folder and
 * free. NULL is a no-op. */
void sono_server_free(sono_server *s);

#endif
