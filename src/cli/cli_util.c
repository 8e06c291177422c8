#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "sonodream/audio.h"
#include "sonodream/distributed.h"

/* "rank 1: " before a message under mpirun, where every rank's stderr is mixed. */
static void print_rank(void) {
    if (sono_dist_size() > 1) fprintf(stderr, "rank %d: ", sono_dist_rank());
}

int cli_fail(const sono_error *err) {
    fputs("sonodream: ", stderr);
    print_rank();
    fprintf(stderr, "%s\n", err && err->message[0] ? err->message : "failed");
    return 1;
}

int cli_failf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("sonodream: ", stderr);
    print_rank();
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

int cli_parse_int(const char *option, const char *text, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end != '\0') {
        cli_failf("option --%s: '%s' is not an integer", option, text);
        return 0;
    }
    if (v < lo || v > hi) {
        cli_failf("option --%s: %ld is out of range [%ld, %ld]", option, v, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

/* A size in bytes with an optional K, M, G or T suffix (powers of 1024). */
int cli_parse_size(const char *option, const char *text, unsigned long long *out) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    double scale = 1;
    if (end != text && *end) {
        const char *units = "KMGT";
        const char *u = strchr(units, *end == 'k' ? 'K' : *end);
        if (u && *u) {
            for (const char *p = units; p <= u; p++) scale *= 1024;
            end++;
            if (*end == 'B' || *end == 'b') end++;
        }
    }
    if (errno || end == text || *end != '\0' || !isfinite(v) || !(v * scale >= 1) || v * scale > 1e18) {
        cli_failf("option --%s: '%s' is not a size such as 512M or 8G", option, text);
        return 0;
    }
    *out = (unsigned long long)(v * scale);
    return 1;
}

int cli_parse_double(const char *option, const char *text, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || *end != '\0' || !isfinite(v)) {
        cli_failf("option --%s: '%s' is not a number", option, text);
        return 0;
    }
    if (v < lo || v > hi) {
        cli_failf("option --%s: %g is out of range [%g, %g]", option, v, lo, hi);
        return 0;
    }
    *out = v;
    return 1;
}

static int log_verbose = 0;

static void log_stderr(sono_log_level level, const char *message, void *user) {
    (void)user;
    if (level == SONO_LOG_DEBUG && !log_verbose) return;
    static const char *const prefix[] = {"debug: ", "", "warning: ", "error: "};
    fprintf(stderr, "%s%s\n", prefix[level], message);
}

void cli_log_to_stderr(int verbose) {
    log_verbose = verbose;
    sono_log_set(log_stderr, NULL);
}

double cli_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_progress_start(cli_progress *p, const char *label, int64_t total) {
    p->label = label;
    p->total = total;
    p->start = cli_now();
    p->last_draw = 0;
    p->enabled = isatty(STDERR_FILENO);
}

void cli_progress_update(cli_progress *p, int64_t done) {
    if (!p->enabled || p->total <= 0) return;
    double now = cli_now();
    if (done < p->total && now - p->last_draw < 0.1) return;
    p->last_draw = now;
    int width = 30, filled = (int)(width * done / p->total);
    double elapsed = now - p->start;
    double eta = done > 0 ? elapsed * (double)(p->total - done) / (double)done : 0;
    fprintf(stderr, "\r%s [", p->label);
    for (int i = 0; i < width; i++) fputc(i < filled ? '#' : '.', stderr);
    fprintf(stderr, "] %lld/%lld  %.0fs elapsed, ~%.0fs left ", (long long)done, (long long)p->total,
            elapsed, eta);
    fflush(stderr);
}

void cli_progress_finish(cli_progress *p) {
    if (!p->enabled) return;
    cli_progress_update(p, p->total);
    fputc('\n', stderr);
}

/* ---- the shipped model ---- */

#ifndef SONO_DATADIR_FROM_BINDIR
#define SONO_DATADIR_FROM_BINDIR "../share/sonodream"
#endif
#ifndef SONO_FULL_PKGDATADIR
#define SONO_FULL_PKGDATADIR "/usr/local/share/sonodream"
#endif
#define SHIPPED_MODEL "models/us8k-seed.model"
#define SHIPPED_ROBUST_MODEL "models/us8k-robust.model"

static int is_regular_file(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* models/NAME of the shipped data into path (PATH_MAX + 64 bytes), or NULL:
 * beside an installed program (bin/../share/sonodream), in the source tree
 * of a program run from its build tree, then under the install prefix. */
static const char *shipped_file(const char *name, char *path) {
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char candidate[PATH_MAX + 64];
            snprintf(candidate, sizeof candidate, "%s/%s/%s", exe, SONO_DATADIR_FROM_BINDIR, name);
            if (is_regular_file(candidate) && realpath(candidate, path)) return path;
#if defined(SONO_BUILD_TREE) && defined(SONO_SOURCE_TREE)
            char build[PATH_MAX];
            snprintf(candidate, sizeof candidate, "%s/%s", SONO_SOURCE_TREE, name);
            if (realpath(SONO_BUILD_TREE, build) && strcmp(build, exe) == 0 && is_regular_file(candidate) &&
                realpath(candidate, path))
                return path;
#endif
        }
    }
    snprintf(path, PATH_MAX + 64, "%s/%s", SONO_FULL_PKGDATADIR, name);
    return is_regular_file(path) ? path : NULL;
}

const char *cli_shipped_model(void) {
    static char path[PATH_MAX + 64]; /* realpath needs PATH_MAX */
    return shipped_file(SHIPPED_MODEL, path);
}

const char *cli_shipped_robust_model(void) {
    static char path[PATH_MAX + 64];
    return shipped_file(SHIPPED_ROBUST_MODEL, path);
}

const char *cli_model_argument(int count, char **args, int min_inputs, int *model_args) {
    *model_args = 1;
    int named = count > min_inputs;
    if (count > 0 && min_inputs > 0) {
        /* A sound file where the model should be: the inputs start there.
         * Anything else (a model, a missing or damaged file) is the model,
         * so its own error names it. */
        sono_audio_info info;
        named = sono_audio_probe(args[0], &info, NULL) != SONO_OK;
    }
    if (named) return args[0];
    if (count < min_inputs) return NULL;
    *model_args = 0;
    const char *shipped = cli_shipped_model();
    if (!shipped) {
        cli_failf("no model named, and the shipped model (%s/%s) is not installed", SONO_FULL_PKGDATADIR,
                  SHIPPED_MODEL);
        return NULL;
    }
    fprintf(stderr, "sonodream: no model named; using the shipped model %s\n", shipped);
    return shipped;
}
