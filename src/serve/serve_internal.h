/* sonodream serve: what the server's files share. One mutex (server->lock)
 * guards the job list and every job's mutable fields; `changed` is
 * broadcast at every change a client may wait for (event streams), `work`
 * wakes the workers. */
#ifndef SONO_SERVE_INTERNAL_H
#define SONO_SERVE_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "sonodream/audio.h"
#include "sonodream/classifier.h"
#include "sonodream/dream.h"
#include "serve/serve.h"

#define SERVE_ID_LEN 32          /* hex digits of a job id (128 random bits) */
#define SERVE_PATH_MAX 4096
#define SERVE_NAME_MAX 128       /* model names, upload names */

typedef enum job_state { JOB_QUEUED = 0, JOB_RUNNING, JOB_DONE, JOB_FAILED, JOB_CANCELLED } job_state;

/* "queued", "running", ... (job_status.c). */
const char *serve_job_state_name(job_state state);

typedef struct serve_model {
    char name[SERVE_NAME_MAX];
    char *path;
    sono_classifier *meta;  /* loaded once (batch 1) for names, shapes and checks; never dreams */
} serve_model;

typedef struct serve_job {
    char id[SERVE_ID_LEN + 1];
    char dir[SERVE_PATH_MAX];      /* server dir / id */
    int refs;                      /* the list holds one; workers and event streams one each */
    int listed;                    /* 0 once removed from the list (expired or deleted) */
    job_state state;
    int cancel;                    /* DELETE or shutdown: the dream stops at its next step */
    double progress;               /* 0..1 */
    unsigned version;              /* bumped at every change */
    char *error;                   /* failed: why (malloc'd) */
    char *report;                  /* done: the report, JSON object text (malloc'd) */
    int model;                     /* index into server->models */
    char input_name[SERVE_NAME_MAX]; /* the upload's file name, sanitised, for messages */
    int sample_rate, channels;     /* of the upload, as decoded by the check */
    int64_t frames;
    int64_t disk;                  /* bytes of server->opt.max_disk counted to this job (lock) */
    int64_t upload_disk;           /* of those, the upload's (given back when it is removed) */
    sono_dream_request req;
    double created, started, finished; /* monotonic seconds */
    struct sono_server *server;
    struct serve_job *next;        /* the list, oldest first */
} serve_job;

/* A connection, for the deadline on receiving a request: the reaper closes
 * one whose request has taken longer than opt.request_timeout to arrive
 * (guarded by server->conn_lock). */
typedef struct serve_conn {
    struct sono_server *server;
    int fd;
    double started;                /* when the current request began to arrive */
    int received;                  /* the request is in: its answer has no deadline */
    struct serve_conn *prev, *next;
} serve_conn;

typedef struct serve_example {
    char name[256];
    char path[SERVE_PATH_MAX];
} serve_example;

struct sono_server {
    sono_server_options opt;
    char *host, *token, *examples_dir;  /* copies */
    serve_model *models;
    int model_count;
    serve_example *examples;
    int example_count;
    char *models_json;                  /* GET /api/models, made once */
    char *examples_json;                /* GET /api/examples, made once */
    char dir[1024];                     /* the private folder (mkdtemp) */
    char url[320];
    int port;
    int loopback;                       /* bound to a loopback address */
    struct MHD_Daemon *daemon;

    pthread_mutex_t lock;
    pthread_cond_t work;
    pthread_cond_t changed;
    int stopping;
    serve_job *head, *tail;
    int queued, running, finished;
    int reserved;                       /* queue places held by uploads in progress */
    serve_job *trash;                   /* freed jobs whose files serve_sweep removes (lock) */
    int64_t disk_used;                  /* bytes counted against opt.max_disk */
    double dream_seconds;               /* summed over finished dreams, for Retry-After */
    int dreams_timed;
    pthread_t *workers;
    int worker_count;
    int streams;                        /* event streams open (lock) */

    pthread_mutex_t guess_lock;         /* wrong tokens are answered one at a time */
    pthread_mutex_t conn_lock;          /* the connection list; taken alone, never with lock */
    pthread_cond_t reaper_wake;
    serve_conn *conns;
    pthread_t reaper;
    int reaper_started, reaper_stop;
};

/* ---- the deadline for a whole request (deadline.c) ---- */

/* MHD_OPTION_NOTIFY_CONNECTION: list a connection as it opens, unlist it as
 * it closes (cls is the server). */
void serve_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                         enum MHD_ConnectionNotificationCode code);
/* The request on this connection is in (headers and, for a POST, body):
 * its deadline no longer applies. */
void serve_request_received(struct MHD_Connection *conn);
/* The next request on a kept-alive connection begins to arrive. */
void serve_request_next(struct MHD_Connection *conn);
/* The reaper thread (arg: the server): closes connections whose request is
 * not in after --request-timeout, and sweeps the trash. */
void *serve_reaper_main(void *arg);

/* ---- jobs (jobs.c) ---- */

/* 1 when one more dream may be accepted now (lock held). */
int serve_queue_has_room(const sono_server *s);
/* Seconds a client should wait before trying again (lock held). */
int serve_retry_after(const sono_server *s);
/* A fresh job (not listed), with its folder made; NULL and a message on failure. */
serve_job *serve_job_new(sono_server *s, char *message, size_t message_size);
/* Hold a place in the queue for an upload about to be received; 0 when the
 * queue is full (lock taken inside). Every reservation ends in
 * serve_job_enqueue or serve_queue_unreserve. */
int serve_queue_reserve(sono_server *s);
void serve_queue_unreserve(sono_server *s);
/* Put a job in the queue in the place reserved for it; 0 when the server is
 * stopping (the job is not taken, the place is given back). */
int serve_job_enqueue(sono_server *s, serve_job *job);
/* Count bytes of the disk budget to a job, expiring finished dreams (oldest
 * first) to make room; 0 when they do not fit (nothing counted). Lock taken
 * inside. */
int serve_disk_take(sono_server *s, serve_job *job, int64_t bytes);
/* Give back bytes counted to a job (its upload, once removed). */
void serve_disk_give(sono_server *s, serve_job *job, int64_t bytes);
/* The limits uploads are decoded within. */
void serve_audio_limits(const sono_server *s, sono_audio_limits *limits);
/* Find a listed job by id and take a reference (lock taken inside); NULL if none. */
serve_job *serve_job_find(sono_server *s, const char *id);
/* Drop a reference; the last one puts the job in the trash (lock held),
 * or removes its folder and frees it (serve_job_release). */
void serve_job_release_locked(serve_job *job);
void serve_job_release(serve_job *job);
/* Remove the folders of the jobs in the trash and free them; lock not held. */
void serve_sweep(sono_server *s);
/* DELETE: a queued job ends cancelled at once, a running one at its next
 * step; a finished one is removed. Returns the HTTP status to answer. */
int serve_job_delete(sono_server *s, serve_job *job);
/* job_status.c: 1-based place among the queued jobs, 0 when not queued
 * (lock held). */
int serve_job_position(const sono_server *s, const serve_job *job);
/* Replace the job folder's paths in a message (SONO_ERROR_MESSAGE_MAX
 * bytes) by the upload's own name. */
void serve_hide_paths(char *message, const serve_job *job);
/* Remove a job that never got listed (an upload that was refused). */
void serve_job_discard(serve_job *job);

sono_status serve_workers_start(sono_server *s, sono_error *err);
/* Cancel everything and join the workers. */
void serve_workers_stop(sono_server *s);

/* ---- JSON (api_json.c) ---- */

char *serve_models_json(const sono_server *s);
char *serve_examples_json(const sono_server *s);
/* The job's status object as text (lock held). */
char *serve_job_status_json(const sono_server *s, const serve_job *job);
/* The report of a finished dream (object text). */
char *serve_report_json(const serve_model *m, const serve_job *job, const sono_dream_result *r, double seconds);
/* {"error": message} */
char *serve_error_json(const char *message);

/* ---- HTTP: answers (reply.c), routes (server.c), uploads (upload.c) ---- */

typedef struct serve_upload serve_upload;

/* Queue a response with the common security headers and destroy it (NULL:
 * MHD_NO); return MHD's result. Every answer goes through it. */
enum MHD_Result serve_queue_response(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r);
/* Answer with a JSON body / an error; return MHD's result. */
enum MHD_Result serve_respond_json(struct MHD_Connection *conn, unsigned status, char *body);
enum MHD_Result serve_respond_error(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* POST /api/dreams, called for every piece of the request as MHD delivers
 * it; *state carries the upload between calls. */
enum MHD_Result serve_upload_step(sono_server *s, struct MHD_Connection *conn, serve_upload **state,
                                  const char *upload_data, size_t *upload_data_size);
void serve_upload_free(serve_upload *u);

/* ---- embedded page (generated by embed_assets.cmake) ---- */

typedef struct serve_asset {
    const char *path;            /* "/index.html" */
    const unsigned char *data;
    size_t size;
} serve_asset;
extern const serve_asset serve_assets[];
extern const int serve_asset_count;

double serve_now(void);

#endif
