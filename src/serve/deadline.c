/* sonodream serve: the deadline for a whole request. */
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "serve/serve_internal.h"

/* MHD's own timeout closes a connection that sends nothing for
 * CONNECTION_TIMEOUT_S (server.c); a client that sends one byte a second (slowloris)
 * passes it. So every connection is listed, with the time its current
 * request began to arrive, and the reaper shuts down those whose request
 * (headers and body) is not in after --request-timeout. Answers (downloads,
 * event streams) have no deadline. */
void serve_on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                         enum MHD_ConnectionNotificationCode code) {
    sono_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        serve_conn *c = info ? calloc(1, sizeof *c) : NULL;
        *socket_context = c;
        if (!c) return; /* not tracked: MHD's idle timeout still applies */
        c->fd = info->connect_fd;
        c->server = s;
        c->started = serve_now();
        pthread_mutex_lock(&s->conn_lock);
        c->next = s->conns;
        if (s->conns) s->conns->prev = c;
        s->conns = c;
        pthread_mutex_unlock(&s->conn_lock);
        return;
    }
    serve_conn *c = *socket_context; /* closed: MHD closes the socket after this returns */
    if (!c) return;
    pthread_mutex_lock(&s->conn_lock);
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    pthread_mutex_unlock(&s->conn_lock);
    free(c);
    *socket_context = NULL;
}

static serve_conn *conn_of(struct MHD_Connection *conn) {
    const union MHD_ConnectionInfo *info = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

void serve_request_received(struct MHD_Connection *conn) {
    serve_conn *c = conn_of(conn);
    if (!c) return;
    pthread_mutex_lock(&c->server->conn_lock);
    c->received = 1;
    pthread_mutex_unlock(&c->server->conn_lock);
}

/* The next request on a kept-alive connection begins to arrive. */
void serve_request_next(struct MHD_Connection *conn) {
    serve_conn *c = conn_of(conn);
    if (!c) return;
    pthread_mutex_lock(&c->server->conn_lock);
    c->received = 0;
    c->started = serve_now();
    pthread_mutex_unlock(&c->server->conn_lock);
}

void *serve_reaper_main(void *arg) {
    sono_server *s = arg;
    pthread_mutex_lock(&s->conn_lock);
    while (!s->reaper_stop) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        pthread_cond_timedwait(&s->reaper_wake, &s->conn_lock, &until);
        double now = serve_now();
        for (serve_conn *c = s->conns; c && !s->reaper_stop; c = c->next) {
            if (c->received || now - c->started <= s->opt.request_timeout) continue;
            c->received = 1; /* once */
            shutdown(c->fd, SHUT_RDWR); /* its thread sees the end and closes it */
            sono_log(SONO_LOG_INFO, "http: a request took over %g s to arrive (--request-timeout): connection closed",
                     s->opt.request_timeout);
        }
        pthread_mutex_unlock(&s->conn_lock); /* never both locks at once */
        serve_sweep(s);
        pthread_mutex_lock(&s->conn_lock);
    }
    pthread_mutex_unlock(&s->conn_lock);
    return NULL;
}
