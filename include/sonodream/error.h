/* sonodream: errors and logging shared by every module.
 *
 * Every library function that can fail takes a `sono_error *err` (may be NULL)
 * and returns a sono_status. On failure it fills err->message with a sentence
 * that names the file (when there is one) and the problem, so the CLI can print
 * it as is. The library never prints: diagnostics go through the log hook. */
#ifndef SONODREAM_ERROR_H
#define SONODREAM_ERROR_H

#include <stdarg.h>

#include "sonodream/export.h"

SONO_BEGIN_DECLS

typedef enum sono_status {
    SONO_OK = 0,
    SONO_ERR_IO,          /* open, read, write or rename failed */
    SONO_ERR_FORMAT,      /* a file's content is not what it should be */
    SONO_ERR_ARGUMENT,    /* a value given by the caller is out of range */
    SONO_ERR_MEMORY,      /* an allocation failed or would be too large */
    SONO_ERR_UNSUPPORTED, /* valid but not something we handle */
    SONO_ERR_INTERRUPTED  /* stopped on request (Ctrl-C) */
} sono_status;

#define SONO_ERROR_MESSAGE_MAX 1024

typedef struct sono_error {
    sono_status status;
    char message[SONO_ERROR_MESSAGE_MAX];
} sono_error;

/* Record a failure in err (ignored when err is NULL) and return status, so a
 * caller can write `return sono_error_set(err, SONO_ERR_IO, "%s: ...", path);`. */
sono_status sono_error_set(sono_error *err, sono_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefix an existing message with more context ("while reading X: ..."). */
void sono_error_prefix(sono_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void sono_error_clear(sono_error *err);

/* A short name for a status ("I/O error", "bad format", ...). */
const char *sono_status_name(sono_status status);

typedef enum sono_log_level {
    SONO_LOG_DEBUG = 0,
    SONO_LOG_INFO,
    SONO_LOG_WARN,
    SONO_LOG_ERROR
} sono_log_level;

typedef void (*sono_log_fn)(sono_log_level level, const char *message, void *user);

/* Install the log hook (NULL silences the library, which is the default).
 * Not thread-safe to change while other threads log. */
void sono_log_set(sono_log_fn fn, void *user);

void sono_log(sono_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

SONO_END_DECLS
#endif
