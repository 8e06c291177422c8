/* sonodream atlas MODEL [FEATURES] -o DIR: what every channel hears, and the
 * recordings that excite it most. A thin client of sono_atlas_build. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "sonodream/atlas.h"
#include "sonodream/train.h"

#define MAX_LIST 4096

static void atlas_usage(FILE *out) {
    sono_atlas_options d;
    sono_atlas_defaults(&d);
    fprintf(out,
            "usage: sonodream atlas MODEL [FEATURES] -o DIR [options]\n\n"
            "Feature visualisation for a sound classifier: every channel of every convolution\n"
            "(or of --layers), and every class, dreamed from the same %g s of noise at the\n"
            "model's rate, each with a spectrogram thumbnail (PNG) and its sound (FLAC). With a\n"
            "FEATURES file (from 'sonodream prepare', made like the model's), each channel's page\n"
            "also shows the --top clips that excite it most (with their recordings, or audio\n"
            "rendered from the features when a source is not readable) and its mean activation\n"
            "per class. Open DIR/index.html: a grid per layer, filters by layer and by the\n"
            "class a channel prefers; static files that work from disk.\n\n"
            "Resumable: a rerun reuses every channel whose parameters match (Ctrl-C loses only\n"
            "the dreams in progress); changed parameters dream again.\n\n"
            "what:\n"
            "      --layers L1,L2     conv layers to draw (default: all; 'sonodream layers MODEL')\n"
            "      --channels LIST    only these channels of each layer, e.g. 0-7 or 3,17\n"
            "      --no-classes       leave out the class dreams\n"
            "      --seconds S        length of each dream (default %g)\n"
            "      --top K            dataset examples per channel (default %d)\n"
            "      --folds F          clips of these folds only, e.g. 1-2 (default: all)\n"
            "      --every-slice      UrbanSound8K: show several slices of one recording (by\n"
            "                         default a channel's examples come from different recordings)\n\n"
            "dream (as 'sonodream dream --noise', see its --help):\n"
            "      --render NAME      wave (default), mask or griffin-lim\n"
            "      --octaves N        (default %d)\n"
            "      --iterations N     steps per octave (default %d)\n"
            "      --step LEVELS      (default %g)\n"
            "      --seed N           noise and jitter (default %llu)\n\n"
            "  -o, --output DIR       the atlas folder (created; reused on a rerun)\n"
            "  -j, --jobs N           dreams at once (default: the OpenMP thread count)\n"
            "  -q, --quiet            no progress bar\n"
            "  -h, --help             this help\n",
            d.seconds, d.seconds, d.top, d.dream.ascent.octaves, d.dream.ascent.iterations, d.dream.ascent.step,
            (unsigned long long)d.dream.ascent.seed);
}

typedef struct atlas_args {
    const char *model, *features, *output;
    char *layer_text;
    const char *layers[MAX_LIST];
    int channels[MAX_LIST];
    sono_atlas_options opt;
    int quiet;
} atlas_args;

/* "conv3,conv5" -> names (pointing into a copy of the text). */
static int parse_layers(atlas_args *a, const char *text) {
    free(a->layer_text);
    a->layer_text = strdup(text);
    if (!a->layer_text) return cli_failf("out of memory"), 0;
    a->opt.layer_count = 0;
    for (char *save = NULL, *tok = strtok_r(a->layer_text, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (a->opt.layer_count == MAX_LIST) return cli_failf("option --layers: too many layers"), 0;
        a->layers[a->opt.layer_count++] = tok;
    }
    if (a->opt.layer_count == 0) return cli_failf("option --layers: no layer named in '%s'", text), 0;
    a->opt.layers = a->layers;
    return 1;
}

static int parse_channel_number(const char *s, char **end, long *v) {
    errno = 0;
    *v = strtol(s, end, 10);
    return !errno && *end != s && *v >= 0 && *v < (1L << 20);
}

/* "0-7", "3,17", "0-3,9" -> channel numbers, ascending as written. */
static int parse_channels(atlas_args *a, const char *text) {
    const char *p = text;
    a->opt.channel_count = 0;
    while (*p) {
        char *end;
        long lo, hi;
        if (!parse_channel_number(p, &end, &lo)) break;
        hi = lo;
        if (*end == '-' && !parse_channel_number(end + 1, &end, &hi)) break;
        if (hi < lo || a->opt.channel_count + (hi - lo + 1) > MAX_LIST) break;
        for (long c = lo; c <= hi; c++) a->channels[a->opt.channel_count++] = (int)c;
        if (*end == ',' && end[1]) end++;
        else if (*end) break;
        p = end;
    }
    if (*p || a->opt.channel_count == 0)
        return cli_failf("option --channels: '%s' is not a list of channels such as 0-7 or 3,17", text), 0;
    a->opt.channels = a->channels;
    return 1;
}

enum { OPT_LAYERS = 256, OPT_CHANNELS, OPT_NO_CLASSES, OPT_EVERY_SLICE, OPT_SECONDS, OPT_TOP, OPT_FOLDS, OPT_RENDER, OPT_OCTAVES,
       OPT_ITER, OPT_STEP, OPT_SEED };

static int parse_option(atlas_args *a, int opt, const char *arg) {
    sono_dream_options *d = &a->opt.dream.ascent;
    sono_error err = {0};
    long v;
    switch (opt) {
    case 'o': a->output = arg; return 1;
    case 'j': return cli_parse_int("jobs", arg, 1, 256, &v) && (a->opt.jobs = (int)v);
    case 'q': a->quiet = 1; return 1;
    case OPT_LAYERS: return parse_layers(a, arg);
    case OPT_CHANNELS: return parse_channels(a, arg);
    case OPT_NO_CLASSES: a->opt.classes = 0; return 1;
    case OPT_EVERY_SLICE: a->opt.every_slice = 1; return 1;
    case OPT_SECONDS: return cli_parse_double("seconds", arg, 0.1, 60, &a->opt.seconds);
    case OPT_TOP: return cli_parse_int("top", arg, 1, 100, &v) && (a->opt.top = (int)v);
    case OPT_FOLDS:
        if (sono_folds_parse(arg, &a->opt.folds, &err) == SONO_OK) return 1;
        return cli_failf("option --folds: %s", err.message), 0;
    case OPT_RENDER:
        if (sono_dream_render_parse(arg, &a->opt.dream.render)) return 1;
        return cli_failf("option --render: '%s' is not a render (wave, mask or griffin-lim)", arg), 0;
    case OPT_OCTAVES: return cli_parse_int("octaves", arg, 1, 32, &v) && (d->octaves = (int)v);
    case OPT_ITER: return cli_parse_int("iterations", arg, 1, 100000, &v) && (d->iterations = (int)v);
    case OPT_STEP:
        if (!cli_parse_double("step", arg, 0, 1000, &d->step)) return 0;
        return d->step > 0 ? 1 : (cli_failf("option --step: must be positive"), 0);
    case OPT_SEED:
        return cli_parse_int("seed", arg, 0, SONO_DREAM_SEED_MAX, &v) &&
               ((d->seed = a->opt.dream.griffin_lim.seed = (uint64_t)v), 1);
    }
    return 0;
}

static int parse_args(int argc, char **argv, atlas_args *a, int *exit_code) {
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},         {"jobs", required_argument, 0, 'j'},
        {"quiet", no_argument, 0, 'q'},                {"help", no_argument, 0, 'h'},
        {"layers", required_argument, 0, OPT_LAYERS},  {"channels", required_argument, 0, OPT_CHANNELS},
        {"no-classes", no_argument, 0, OPT_NO_CLASSES}, {"seconds", required_argument, 0, OPT_SECONDS},
        {"top", required_argument, 0, OPT_TOP},        {"folds", required_argument, 0, OPT_FOLDS},
        {"render", required_argument, 0, OPT_RENDER},  {"octaves", required_argument, 0, OPT_OCTAVES},
        {"iterations", required_argument, 0, OPT_ITER}, {"step", required_argument, 0, OPT_STEP},
        {"seed", required_argument, 0, OPT_SEED},      {"every-slice", no_argument, 0, OPT_EVERY_SLICE},
        {0, 0, 0, 0}};
    sono_atlas_defaults(&a->opt);
    *exit_code = 2;
    int opt;
    while ((opt = getopt_long(argc, argv, "o:j:qh", longopts, NULL)) != -1) {
        if (opt == 'h') {
            atlas_usage(stdout);
            *exit_code = 0;
            return 0;
        }
        if (opt == '?') {
            atlas_usage(stderr);
            return 0;
        }
        if (!parse_option(a, opt, optarg)) return 0;
    }
    int positional = argc - optind;
    if (positional < 1 || positional > 2) {
        cli_failf(positional < 1 ? "atlas needs a MODEL (see 'sonodream atlas --help')"
                                 : "atlas takes a MODEL and at most one FEATURES file (got %d files)", positional);
        return 0;
    }
    a->model = argv[optind];
    if (positional == 2) a->features = argv[optind + 1];
    if (!a->output) return cli_failf("atlas needs -o DIR"), 0;
    if (a->opt.folds && !a->features) return cli_failf("atlas: --folds needs a FEATURES file"), 0;
    return 1;
}

static volatile sig_atomic_t interrupted = 0;
static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

typedef struct bar_state {
    cli_progress bar;
    sono_atlas_stage stage;
    int started, quiet;
} bar_state;

static int on_progress(sono_atlas_stage stage, int done, int total, void *user) {
    bar_state *b = user;
    if (!b->started || stage != b->stage) {
        if (b->started && b->bar.enabled) fputc('\n', stderr);
        cli_progress_start(&b->bar, sono_atlas_stage_name(stage), total);
        if (b->quiet) b->bar.enabled = 0;
        b->stage = stage, b->started = 1;
    }
    b->bar.total = total;
    cli_progress_update(&b->bar, done);
    return interrupted != 0;
}

int cmd_atlas(int argc, char **argv) {
    atlas_args a;
    memset(&a, 0, sizeof a);
    int code = 0;
    if (!parse_args(argc, argv, &a, &code)) {
        free(a.layer_text);
        return code;
    }
    cli_log_to_stderr(0);
    bar_state bar;
    memset(&bar, 0, sizeof bar);
    bar.quiet = a.quiet;
    a.opt.progress = on_progress;
    a.opt.progress_user = &bar;
    sono_atlas_report r;
    sono_error err = {0};
    double t0 = cli_now();
    void (*previous)(int) = signal(SIGINT, on_sigint);
    sono_status s = sono_atlas_build(a.model, a.features, a.output, &a.opt, &r, &err);
    signal(SIGINT, previous == SIG_ERR ? SIG_DFL : previous);
    if (bar.started && bar.bar.enabled) fputc('\n', stderr);
    free(a.layer_text);
    if (s != SONO_OK) return cli_fail(&err);
    printf("wrote %s/index.html: %d channels and classes (%d dreamed, %d reused)", a.output, r.items, r.dreamed,
           r.reused);
    if (a.features) printf(", %d example clips (%d rendered from features)", r.clips, r.clips_rendered);
    printf("\ntime: index %.1f s, dreams %.1f s, clips %.1f s, pages %.1f s, total %.1f s\n", r.seconds_index,
           r.seconds_dreams, r.seconds_clips, r.seconds_pages, cli_now() - t0);
    return 0;
}
