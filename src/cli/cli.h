/* Shared helpers for the subcommands. Each cmd_<name>.c parses its own options
 * with getopt_long and returns the process exit status. */
#ifndef SONO_CLI_H
#define SONO_CLI_H

#include <stdint.h>

#include "sonodream/error.h"

typedef struct cli_command {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv);
} cli_command;

int cmd_prepare(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_dream(int argc, char **argv);
int cmd_layers(int argc, char **argv);
int cmd_crossval(int argc, char **argv);

/* Print "sonodream: <message>" on stderr; returns the exit status for errors (1). */
int cli_fail(const sono_error *err);
int cli_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse a strictly positive integer / a number within [lo, hi] from an option
 * value; on failure print "option --name: ..." and return 0. */
int cli_parse_int(const char *option, const char *text, long lo, long hi, long *out);
int cli_parse_double(const char *option, const char *text, double lo, double hi, double *out);
int cli_parse_size(const char *option, const char *text, unsigned long long *out);

/* Log hook that prints library messages on stderr ("warning: ..."). */
void cli_log_to_stderr(int verbose);

/* Progress bar on stderr, only when stderr is a terminal. */
typedef struct cli_progress {
    const char *label;
    int64_t total;
    double start;
    double last_draw;
    int enabled;
} cli_progress;

void cli_progress_start(cli_progress *p, const char *label, int64_t total);
void cli_progress_update(cli_progress *p, int64_t done);
void cli_progress_finish(cli_progress *p);

/* Wall-clock seconds (monotonic). */
double cli_now(void);

#endif
