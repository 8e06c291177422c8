/* Shared helpers for the subcommands. Each cmd_<name>.c parses its own options
 * with getopt_long and returns the process exit status. */
#ifndef SONO_CLI_H
#define SONO_CLI_H

#include <stdint.h>

#include "sonodream/error.h"
#include "sonodream/train.h"

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
int cmd_texture(int argc, char **argv);
int cmd_style(int argc, char **argv);
int cmd_layers(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_atlas(int argc, char **argv);
int cmd_crossval(int argc, char **argv);

/* Print "sonodream: <message>" on stderr; returns the exit status for errors (1). */
int cli_fail(const sono_error *err);
/* Under mpirun (cli_dist.c): join the job before the command runs (only
 * prepare, train and eval run across ranks; non-zero when refused), and
 * after it, end every rank when this one failed. */
int cli_dist_start(int *argc, char ***argv, const char *command);
int cli_dist_finish(int code);
int cli_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse a strictly positive integer / a number within [lo, hi] from an option
 * value; on failure print "option --name: ..." and return 0. */
int cli_parse_int(const char *option, const char *text, long lo, long hi, long *out);
int cli_parse_double(const char *option, const char *text, double lo, double hi, double *out);
int cli_parse_size(const char *option, const char *text, unsigned long long *out);

/* The training options train and crossval share (cli_train_options.c).
 * cli_train_option parses the long option `name`: 1 done, 0 a bad value
 * (the message is printed), -1 not a training option. cli_train_finish
 * applies what depends on the order of options (--lr after --optimizer). */
typedef struct cli_train_extras {
    const char *lr_text;  /* --lr as given */
    const char *schedule; /* --schedule as given, or NULL */
} cli_train_extras;
int cli_train_option(sono_train_options *t, cli_train_extras *x, const char *name, const char *arg);
void cli_train_finish(sono_train_options *t, const cli_train_extras *x);

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

/* The shipped model (models/us8k-seed.model of the source tree), installed
 * under <datadir>/sonodream/models/. Looked for relative to this program
 * (bin/../share/sonodream: an installed tree can be moved), then under the
 * configured install prefix. NULL when neither holds it. */
const char *cli_shipped_model(void);

/* The shipped adversarially trained model (models/us8k-robust.model),
 * looked for in the same places; NULL when it is not installed. A class
 * dream that names no model dreams with both (README: "Which render"). */
const char *cli_shipped_robust_model(void);

/* The model a command taking MODEL INPUT... was given. args are its
 * positional arguments (count of them), min_inputs the inputs it needs after
 * the model. No model was named when the first argument is a sound file
 * (min_inputs > 0) or when there are no arguments (min_inputs == 0): then the
 * shipped model is used and said so on stderr, and *model_args is 0.
 * Otherwise the first argument is the model and *model_args is 1. Returns
 * NULL (after a message) when no model was named and none is installed, and
 * NULL without a message when count is 0 and min_inputs > 0 (the caller's
 * usage error). */
const char *cli_model_argument(int count, char **args, int min_inputs, int *model_args);

/* Wall-clock seconds (monotonic). */
double cli_now(void);

#endif
