/* Running under mpirun: joining the job, one rank's output, a watchdog that
 * ends the job when the ranks stop answering, and ending every rank when one
 * fails. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sonodream/distributed.h"

/* Seconds a rank may wait in one collective before it ends the job. Long
 * enough for rank 0 to write a model or checkpoint while the others wait. */
#define DEFAULT_TIMEOUT_SECONDS 300.0

static double timeout_seconds = DEFAULT_TIMEOUT_SECONDS;

static double monotonic_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A dead rank normally ends the job through mpirun, which names it; a rank
 * that hangs (stopped, stuck in I/O, an unreachable node) would leave the
 * others waiting forever inside MPI. */
static void *watchdog(void *unused) {
    (void)unused;
    for (;;) {
        sleep(1);
        const char *what = NULL;
        double since = sono_dist_waiting_since(&what);
        double waited = since > 0 ? monotonic_seconds() - since : 0;
        if (waited > timeout_seconds) {
            fprintf(stderr,
                    "sonodream: rank %d: no answer from the other ranks for %.0f s (%s): a rank died or hangs; "
                    "ending the job (SONO_MPI_TIMEOUT=%g s)\n",
                    sono_dist_rank(), waited, what ? what : "?", timeout_seconds);
            fflush(stderr);
            sono_dist_abort(124);
            _exit(124);
        }
    }
    return NULL;
}

static const char *const parallel_commands[] = {"prepare", "train", "eval"};

int cli_dist_start(int *argc, char ***argv, const char *command) {
    sono_error err = {0};
    if (sono_dist_init(argc, argv, &err) != SONO_OK) return cli_fail(&err);
    if (sono_dist_size() == 1) return 0;
    int parallel = 0;
    for (size_t i = 0; i < sizeof parallel_commands / sizeof *parallel_commands; i++)
        parallel |= strcmp(command, parallel_commands[i]) == 0;
    if (!parallel)
        return cli_failf("'%s' runs as one process; only prepare, train and eval run under mpirun", command);
    const char *timeout = getenv("SONO_MPI_TIMEOUT");
    if (timeout) {
        char *end;
        double v = strtod(timeout, &end);
        if (*end || !(v > 0)) return cli_failf("SONO_MPI_TIMEOUT: '%s' is not a positive number of seconds", timeout);
        timeout_seconds = v;
    }
    /* Results are printed once, by rank 0; errors and warnings by any rank. */
    if (sono_dist_rank() != 0 && !freopen("/dev/null", "w", stdout)) return cli_failf("cannot silence stdout");
    pthread_t thread;
    if (pthread_create(&thread, NULL, watchdog, NULL) != 0) return cli_failf("cannot start the MPI watchdog");
    pthread_detach(thread);
    return 0;
}

int cli_dist_finish(int code) {
    if (sono_dist_size() > 1 && code != 0) {
        /* The others may be waiting for this rank in a collective. */
        fprintf(stderr, "sonodream: rank %d failed (exit code %d); ending every rank\n", sono_dist_rank(), code);
        fflush(stderr);
        fflush(stdout);
        sono_dist_abort(code);
    }
    sono_dist_finalize();
    return code;
}
