#include "sonodream/error.h"

#include <stdio.h>
#include <string.h>

sono_status sono_error_set(sono_error *err, sono_status status, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->status = status;
    }
    return status;
}

void sono_error_prefix(sono_error *err, const char *fmt, ...) {
    if (!err) return;
    char prefix[SONO_ERROR_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char joined[2 * SONO_ERROR_MESSAGE_MAX];
    snprintf(joined, sizeof joined, "%s%s", prefix, err->message);
    snprintf(err->message, sizeof err->message, "%.*s", SONO_ERROR_MESSAGE_MAX - 1, joined);
}

void sono_error_clear(sono_error *err) {
    if (!err) return;
    err->status = SONO_OK;
    err->message[0] = '\0';
}

const char *sono_status_name(sono_status status) {
    switch (status) {
    case SONO_OK: return "ok";
    case SONO_ERR_IO: return "I/O error";
    case SONO_ERR_FORMAT: return "bad format";
    case SONO_ERR_ARGUMENT: return "bad argument";
    case SONO_ERR_MEMORY: return "out of memory";
    case SONO_ERR_UNSUPPORTED: return "unsupported";
    case SONO_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown error";
}

static sono_log_fn log_fn = NULL;
static void *log_user = NULL;

void sono_log_set(sono_log_fn fn, void *user) {
    log_fn = fn;
    log_user = user;
}

void sono_log(sono_log_level level, const char *fmt, ...) {
    if (!log_fn) return;
    char message[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    log_fn(level, message, log_user);
}
