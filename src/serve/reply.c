/* sonodream serve: the answers every part of the server sends (pages,
 * API, uploads), each with the common security headers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_internal.h"

static void common_headers(struct MHD_Response *r) {
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "Cache-Control", "no-store");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

enum MHD_Result serve_queue_response(struct MHD_Connection *conn, unsigned status, struct MHD_Response *r) {
    if (!r) return MHD_NO;
    common_headers(r);
    enum MHD_Result ret = MHD_queue_response(conn, status, r);
    MHD_destroy_response(r);
    return ret;
}

enum MHD_Result serve_respond_json(struct MHD_Connection *conn, unsigned status, char *body) {
    if (!body) return MHD_NO;
    struct MHD_Response *r = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) return free(body), MHD_NO;
    MHD_add_response_header(r, "Content-Type", "application/json");
    return serve_queue_response(conn, status, r);
}

enum MHD_Result serve_respond_error(struct MHD_Connection *conn, unsigned status, const char *fmt, ...) {
    char message[SONO_ERROR_MESSAGE_MAX + 64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return serve_respond_json(conn, status, serve_error_json(message));
}
