/* sonodream dream MODEL [INPUT] -o OUT.wav: DeepDream on a sound.
 *
 * A thin client of sono_dream_stream: the input is read block by block
 * (sono_audio_reader), the dream is written as it comes into a temporary
 * WAV that is renamed into place only when the dream has finished; then
 * OUT.png (input and dream side by side), OUT.json (every parameter, so the
 * dream can be reproduced) and with --report OUT.html, OUT-input.wav and
 * OUT-objective.png, each atomically. */
#include <cjson/cJSON.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "sonodream/audio.h"
#include "sonodream/classifier.h"
#include "sonodream/dream.h"
#include "sonodream/fileio.h"
#include "sonodream/memory.h"
#include "sonodream/plot.h"
#include "sonodream/text.h"

/* Windows per network call: the conv kernels run one window per thread. */
#define DREAM_MAX_BATCH 8
#define NOISE_LEVEL_DB (-40.0)
#define NOISE_HEADROOM_DB 20.0 /* a dream from noise builds on it: it may rise well above it */
#define SEED_MAX 9007199254740991L /* 2^53 - 1: exact in JSON */
#define COPY_BLOCK_FRAMES 65536

static void dream_usage(FILE *out) {
    sono_dream_request r;
    sono_dream_request_defaults(&r);
    const sono_dream_options *d = &r.ascent;
    fprintf(out,
            "usage: sonodream dream [MODEL] INPUT -o OUT.wav [options]\n"
            "       sonodream dream [MODEL] --noise SECONDS -o OUT.wav [options]\n\n"
            "DeepDream for sounds: gradient ascent so that the model's layer, channel or class\n"
            "responds more to INPUT (any length, any format libsndfile reads). OUT.wav has the\n"
            "input's sample rate, channels and length, as 32-bit float WAV (exact for 8-, 16- and\n"
            "24-bit and float inputs), at the input's level. Also writes OUT.png (input and dream\n"
            "side by side) and OUT.json (every parameter, to reproduce the dream bit for bit).\n"
            "'sonodream layers MODEL' lists the layers. Without MODEL, the shipped model\n"
            "installed under share/sonodream/models/; a --class dream without MODEL takes the\n"
            "shipped robust model as its --ensemble too (another listener hears more of the\n"
            "class: see README), unless --single-model.\n\n"
            "objective (default: the mean squared activation of the middle convolution,\n"
            "conv3 for the seed preset):\n"
            "      --layer NAME       maximise the mean squared activation of a layer\n"
            "      --channel N        ... or the mean activation of its channel N (0-based)\n"
            "      --class NAME       maximise a class's logit (before softmax)\n\n"
            "render (how the dream becomes sound):\n"
            "      --render NAME      mask (default): the ascent on the log-mel, applied as a gain on\n"
            "                         the recording's own spectrum at its own rate (its phase\n"
            "                         kept; what it has no energy for is synthesised), then a few\n"
            "                         steps on the samples (--settle); above the model's fmax\n"
            "                         (%g Hz for the shipped model) nothing changes\n"
            "                         wave: the ascent moves the recording's own samples, through\n"
            "                         the model's front end (downmix, resampling, STFT, mel, dB);\n"
            "                         what the network hears in OUT.wav is exactly what it was\n"
            "                         pushed toward\n"
            "                         griffin-lim: the log-mel dream rebuilt by NNLS and Griffin-Lim\n"
            "                         at the model's rate (the original method; lo-fi)\n"
            "      --settle N         mask render: steps on the samples after the render, so the\n"
            "                         ascent ends on what OUT.wav holds (default %d; 0: none)\n"
            "      --stereo MODE      wave render with several channels: joint (default: the\n"
            "                         downmix is dreamed, every channel gets the same change, the\n"
            "                         recording's stereo image is kept) or per-channel\n"
            "      --rate HZ          output sample rate (default: the input's; --noise: the model's)\n"
            "      --mono             downmix the input first (one channel out)\n"
            "      --ceiling LEVEL    largest output magnitude (default %g = 0 dBFS); where the\n"
            "                         dream would go beyond, its part is turned down smoothly,\n"
            "                         never the recording's\n"
            "      --segment SECONDS  long inputs are dreamed in segments of this length, %g s\n"
            "                         cross-faded (default %g): memory follows the segment\n\n"
            "ascent:\n"
            "      --octaves N        octaves, coarse to fine (default %d)\n"
            "      --octave-scale S   size ratio between octaves (default %g)\n"
            "      --iterations N     steps per octave (default %d)\n"
            "      --step LEVELS      mean absolute change of the log-mel per step, in levels of the\n"
            "                         80 dB colour scale of OUT.png (255 levels: 1 = 0.31 dB)\n"
            "                         (default %g)\n"
            "      --jitter FRAMES    random roll along time before each step (default %d)\n"
            "      --smooth SIGMA     Gaussian blur of the gradient, in cells (default %g; 0: off)\n"
            "      --headroom DB      mask and griffin-lim renders: no log-mel cell rises more than\n"
            "                         DB above the input's loudest (default %g; %g with --noise)\n"
            "      --overlap F        overlap of the network's windows on long inputs (default %g)\n"
            "      --shift-bands N    each step the network hears the picture shifted by up to\n"
            "                         +-N mel bands (default %d; 0: off)\n"
            "      --gain-jitter DB   ... with a random gain of up to +-DB (default %g; 0: off)\n"
            "      --noise-jitter DB  ... with Gaussian noise of DB per cell (default %g; 0: off)\n"
            "      --ensemble MODEL   dream with this model too (repeatable, up to %d): the ascent\n"
            "                         climbs the mean objective of all the models (classes and\n"
            "                         layers matched by name); the mask and griffin-lim renders\n"
            "                         need models on the same features, the wave render takes any\n"
            "      --single-model     a --class dream without MODEL: the shipped model alone\n"
            "                         (half the time; fewer dreams another model hears)\n"
            "      --seed N           jitter and noise; same seed, same dream (default %llu)\n"
            "      --noise SECONDS    start from white noise (log-mel at %g dB) instead of INPUT\n\n"
            "griffin-lim render:\n"
            "      --griffin-lim N    iterations (default %d, momentum %g)\n"
            "      --hop-divisor N    at the model's hop / N (default: the smallest N giving 75 %%\n"
            "                         overlap, 2 for n_fft 1024 and hop 512)\n\n"
            "output:\n"
            "  -o, --output FILE      the dream as WAV (required); other outputs share its name\n"
            "      --report           also OUT.html with pictures and players, OUT-input.wav\n"
            "                         and OUT-objective.png\n"
            "  -q, --quiet            no progress bar\n"
            "  -h, --help             this help\n",
            8000.0, r.settle_steps, r.ceiling, SONO_DREAM_SEGMENT_OVERLAP, r.segment_seconds, d->octaves, d->octave_scale,
            d->iterations, d->step, d->jitter, d->smooth, d->headroom_db, NOISE_HEADROOM_DB, d->overlap, d->band_shift, d->gain_db, d->noise_db,
            SONO_DREAM_MAX_ENSEMBLE, (unsigned long long)d->seed, NOISE_LEVEL_DB,
            r.griffin_lim.griffin_lim_iterations, r.griffin_lim.momentum);
}

typedef struct dream_args {
    const char *model, *input, *output;
    const char *layer_name, *class_name;
    long channel;     /* -1: none */
    double noise;     /* seconds; 0: from INPUT */
    sono_dream_request req;
    int report, quiet;
    int headroom_given;
    const char *ensemble[SONO_DREAM_MAX_ENSEMBLE];
    int ensemble_count;
    int single_model; /* no shipped ensemble for a class dream without MODEL */
} dream_args;

enum { OPT_LAYER = 256, OPT_CHANNEL, OPT_CLASS, OPT_OCTAVES, OPT_SCALE, OPT_ITER, OPT_STEP, OPT_JITTER, OPT_SMOOTH,
       OPT_OVERLAP, OPT_SEED, OPT_NOISE, OPT_GL, OPT_HOPDIV, OPT_RATE, OPT_REPORT, OPT_RENDER, OPT_STEREO, OPT_MONO,
       OPT_CEILING, OPT_SEGMENT, OPT_SETTLE, OPT_HEADROOM, OPT_SHIFT_BANDS, OPT_GAIN_JITTER, OPT_NOISE_JITTER,
       OPT_ENSEMBLE, OPT_SINGLE_MODEL };

static int parse_render_option(dream_args *a, int opt, const char *arg) {
    sono_dream_request *r = &a->req;
    long v;
    switch (opt) {
    case OPT_RENDER:
        if (sono_dream_render_parse(arg, &r->render)) return 1;
        cli_failf("option --render: '%s' is not a render (wave, mask or griffin-lim)", arg);
        return 0;
    case OPT_STEREO:
        if (strcmp(arg, "joint") == 0) r->stereo = SONO_STEREO_JOINT;
        else if (strcmp(arg, "per-channel") == 0) r->stereo = SONO_STEREO_PER_CHANNEL;
        else return cli_failf("option --stereo: '%s' is not joint or per-channel", arg), 0;
        return 1;
    case OPT_MONO: r->mono = 1; return 1;
    case OPT_SETTLE: return cli_parse_int("settle", arg, 0, 10000, &v) && ((r->settle_steps = (int)v), 1);
    case OPT_RATE: return cli_parse_int("rate", arg, 1000, 384000, &v) && (r->out_rate = (int)v);
    case OPT_CEILING:
        if (!cli_parse_double("ceiling", arg, 0, 1000, &r->ceiling)) return 0;
        if (r->ceiling > 0) return 1;
        return cli_failf("option --ceiling: must be positive"), 0;
    case OPT_SEGMENT:
        return cli_parse_double("segment", arg, 2 * SONO_DREAM_SEGMENT_OVERLAP, 3600, &r->segment_seconds);
    case OPT_GL:
        return cli_parse_int("griffin-lim", arg, 0, 100000, &v) && ((r->griffin_lim.griffin_lim_iterations = (int)v), 1);
    case OPT_HOPDIV: return cli_parse_int("hop-divisor", arg, 1, 64, &v) && (r->griffin_lim.hop_divisor = (int)v);
    }
    return -1;
}

static int parse_option(dream_args *a, int opt, const char *arg) {
    sono_dream_options *d = &a->req.ascent;
    long v;
    int handled = parse_render_option(a, opt, arg);
    if (handled >= 0) return handled;
    switch (opt) {
    case 'o': a->output = arg; return 1;
    case OPT_LAYER: a->layer_name = arg; return 1;
    case OPT_CHANNEL: return cli_parse_int("channel", arg, 0, 1L << 30, &a->channel);
    case OPT_CLASS: a->class_name = arg; return 1;
    case OPT_OCTAVES: return cli_parse_int("octaves", arg, 1, 32, &v) && (d->octaves = (int)v);
    case OPT_SCALE: return cli_parse_double("octave-scale", arg, 1, 8, &d->octave_scale);
    case OPT_ITER: return cli_parse_int("iterations", arg, 1, 100000, &v) && (d->iterations = (int)v);
    case OPT_STEP:
        if (!cli_parse_double("step", arg, 0, 1000, &d->step)) return 0;
        if (d->step > 0) return 1;
        cli_failf("option --step: must be positive");
        return 0;
    case OPT_JITTER: return cli_parse_int("jitter", arg, 0, 1L << 20, &v) && ((d->jitter = (int)v), 1);
    case OPT_SMOOTH: return cli_parse_double("smooth", arg, 0, 16, &d->smooth);
    case OPT_HEADROOM:
        a->headroom_given = 1; /* else --noise raises it */
        return cli_parse_double("headroom", arg, 0, 200, &d->headroom_db);
    case OPT_OVERLAP: return cli_parse_double("overlap", arg, 0, 0.9, &d->overlap);
    case OPT_SHIFT_BANDS: return cli_parse_int("shift-bands", arg, 0, 16, &v) && ((d->band_shift = (int)v), 1);
    case OPT_GAIN_JITTER: return cli_parse_double("gain-jitter", arg, 0, 40, &d->gain_db);
    case OPT_NOISE_JITTER: return cli_parse_double("noise-jitter", arg, 0, 40, &d->noise_db);
    case OPT_ENSEMBLE:
        if (a->ensemble_count == SONO_DREAM_MAX_ENSEMBLE)
            return cli_failf("option --ensemble: at most %d further models", SONO_DREAM_MAX_ENSEMBLE), 0;
        a->ensemble[a->ensemble_count++] = arg;
        return 1;
    case OPT_SEED:
        return cli_parse_int("seed", arg, 0, SEED_MAX, &v) && ((d->seed = a->req.griffin_lim.seed = (uint64_t)v), 1);
    case OPT_NOISE:
        if (!cli_parse_double("noise", arg, 0, 3600, &a->noise)) return 0;
        if (a->noise > 0) return 1;
        cli_failf("option --noise: the length in seconds must be positive");
        return 0;
    case OPT_SINGLE_MODEL: a->single_model = 1; return 1;
    case OPT_REPORT: a->report = 1; return 1;
    case 'q': a->quiet = 1; return 1;
    }
    return 0;
}

/* A class dream that names no model: the shipped robust model joins the
 * shipped one, the pair another listener hears best (README, "Which
 * render"). Only for classes: they mean the same in both models, a layer's
 * channels do not. */
static void add_shipped_ensemble(dream_args *a) {
    if (!a->class_name || a->single_model || a->ensemble_count > 0) return;
    const char *robust = cli_shipped_robust_model();
    if (!robust) return;
    a->ensemble[a->ensemble_count++] = robust;
    fprintf(stderr, "sonodream: a class dream; the shipped robust model %s dreams too (--single-model: not)\n",
            robust);
}

static int parse_args(int argc, char **argv, dream_args *a, int *exit_code) {
    static const struct option longopts[] = {
        {"output", required_argument, 0, 'o'},        {"layer", required_argument, 0, OPT_LAYER},
        {"channel", required_argument, 0, OPT_CHANNEL}, {"class", required_argument, 0, OPT_CLASS},
        {"octaves", required_argument, 0, OPT_OCTAVES}, {"octave-scale", required_argument, 0, OPT_SCALE},
        {"iterations", required_argument, 0, OPT_ITER}, {"step", required_argument, 0, OPT_STEP},
        {"jitter", required_argument, 0, OPT_JITTER},  {"smooth", required_argument, 0, OPT_SMOOTH},
        {"overlap", required_argument, 0, OPT_OVERLAP}, {"seed", required_argument, 0, OPT_SEED},
        {"noise", required_argument, 0, OPT_NOISE},    {"griffin-lim", required_argument, 0, OPT_GL},
        {"hop-divisor", required_argument, 0, OPT_HOPDIV}, {"rate", required_argument, 0, OPT_RATE},
        {"render", required_argument, 0, OPT_RENDER},  {"stereo", required_argument, 0, OPT_STEREO},
        {"mono", no_argument, 0, OPT_MONO},            {"ceiling", required_argument, 0, OPT_CEILING},
        {"segment", required_argument, 0, OPT_SEGMENT}, {"settle", required_argument, 0, OPT_SETTLE},
        {"headroom", required_argument, 0, OPT_HEADROOM}, {"shift-bands", required_argument, 0, OPT_SHIFT_BANDS},
        {"gain-jitter", required_argument, 0, OPT_GAIN_JITTER}, {"noise-jitter", required_argument, 0, OPT_NOISE_JITTER},
        {"ensemble", required_argument, 0, OPT_ENSEMBLE}, {"single-model", no_argument, 0, OPT_SINGLE_MODEL},
        {"report", no_argument, 0, OPT_REPORT},        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},                 {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->channel = -1;
    sono_dream_request_defaults(&a->req);
    int opt;
    *exit_code = 2;
    while ((opt = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        if (opt == 'h') {
            dream_usage(stdout);
            *exit_code = 0;
            return 0;
        }
        if (opt == '?') {
            dream_usage(stderr);
            return 0;
        }
        if (!parse_option(a, opt, optarg)) return 0;
    }
    int positional = argc - optind, model_args;
    a->model = cli_model_argument(positional, argv + optind, a->noise > 0 ? 0 : 1, &model_args);
    if (!a->model) {
        if (positional < 1) cli_failf("dream needs an input: an audio file or --noise SECONDS");
        return 0;
    }
    char **inputs = argv + optind + model_args;
    positional += 1 - model_args; /* counted as if MODEL had been given */
    if (a->noise > 0 && positional > 1) {
        cli_failf("dream: give an INPUT file or --noise SECONDS, not both");
        return 0;
    }
    if (a->noise <= 0 && positional != 2) {
        cli_failf(positional < 2 ? "dream needs an input: an audio file or --noise SECONDS"
                                 : "dream takes one input file (got %d)", positional - 1);
        return 0;
    }
    if (positional == 2) a->input = inputs[0];
    if (a->noise > 0 && !a->headroom_given) a->req.ascent.headroom_db = NOISE_HEADROOM_DB;
    if (!a->output) {
        cli_failf("dream needs -o OUT.wav");
        return 0;
    }
    if (a->class_name && (a->layer_name || a->channel >= 0)) {
        cli_failf("dream: --class dreams at the logits; it cannot be combined with --layer or --channel");
        return 0;
    }
    if (model_args == 0) add_shipped_ensemble(a);
    return 1;
}

/* ---- objective from names ---- */

static int resolve_objective(const sono_classifier *c, dream_args *a) {
    const sono_net *net = c->net;
    int count = sono_net_layer_count(net);
    if (a->class_name) {
        int k = sono_classifier_find_class(c, a->class_name);
        if (k < 0) {
            fprintf(stderr, "sonodream: %s has no class '%s'; classes:", a->model, a->class_name);
            for (int i = 0; i < c->class_count; i++) fprintf(stderr, "%s %s", i ? "," : "", c->class_names[i]);
            fputc('\n', stderr);
            return 0;
        }
        a->req.ascent.objective = SONO_DREAM_CLASS;
        a->req.ascent.class_index = k;
        return 1;
    }
    int layer = sono_dream_default_layer(net);
    if (a->layer_name) {
        layer = sono_net_find_layer(net, a->layer_name);
        if (layer < 0) {
            fprintf(stderr, "sonodream: %s has no layer '%s'; layers:", a->model, a->layer_name);
            for (int i = 0; i < count; i++) fprintf(stderr, "%s %s", i ? "," : "", sono_net_layer(net, i)->name);
            fprintf(stderr, " (see 'sonodream layers %s')\n", a->model);
            return 0;
        }
    }
    a->req.ascent.layer = layer;
    if (a->channel >= 0) {
        const sono_layer_info *li = sono_net_layer(net, layer);
        if (a->channel >= li->out.c) {
            cli_failf("--channel %ld: layer %s has %d channels (0..%d)", a->channel, li->name, li->out.c, li->out.c - 1);
            return 0;
        }
        a->req.ascent.objective = SONO_DREAM_CHANNEL;
        a->req.ascent.channel = (int)a->channel;
    }
    return 1;
}

/* ---- progress and Ctrl-C ---- */

static volatile sig_atomic_t interrupted = 0;
static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static int progress(int step, int total, double objective, void *user) {
    (void)objective;
    cli_progress *bar = user;
    if (bar) {
        bar->total = total;
        cli_progress_update(bar, step);
    }
    return interrupted != 0;
}

/* ---- where the samples come from and go ---- */

static sono_status reader_read(void *user, int64_t start, int64_t count, float *dst, sono_error *err) {
    return sono_audio_reader_read(user, start, count, dst, err);
}

static sono_status memory_read(void *user, int64_t start, int64_t count, float *dst, sono_error *err) {
    (void)err;
    memcpy(dst, (const float *)user + start, (size_t)count * sizeof(float));
    return SONO_OK;
}

static sono_status writer_write(void *user, const float *samples, int64_t count, sono_error *err) {
    return sono_audio_writer_write(user, samples, count, err);
}

/* ---- outputs ---- */

typedef struct out_paths {
    char wav[4096], png[4096], json[4096], html[4096], input_wav[4096], curve[4096];
} out_paths;

static int make_paths(const char *output, out_paths *p) {
    char stem[4000]; /* leaves room for the longest suffix in out_paths */
    size_t len = strlen(output);
    if (len >= sizeof stem) return cli_failf("-o %s: path too long", output), 0;
    memcpy(stem, output, len + 1);
    if (len > 4 && strcasecmp(stem + len - 4, ".wav") == 0) stem[len - 4] = '\0';
    snprintf(p->wav, sizeof p->wav, "%s", output);
    snprintf(p->png, sizeof p->png, "%s.png", stem);
    snprintf(p->json, sizeof p->json, "%s.json", stem);
    snprintf(p->html, sizeof p->html, "%s.html", stem);
    snprintf(p->input_wav, sizeof p->input_wav, "%s-input.wav", stem);
    snprintf(p->curve, sizeof p->curve, "%s-objective.png", stem);
    return 1;
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}


static char *dream_json(const dream_args *a, const sono_classifier *c, const sono_dream_result *r,
                        const sono_audio_info *in, const out_paths *p) {
    const sono_net *net = c->net;
    const sono_dream_options *d = &a->req.ascent;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "sonodream_version", SONO_VERSION);
    cJSON_AddStringToObject(root, "model", a->model);
    if (a->input) cJSON_AddStringToObject(root, "input", a->input);
    else cJSON_AddNullToObject(root, "input");
    if (a->noise > 0) cJSON_AddNumberToObject(root, "noise_seconds", a->noise);
    else cJSON_AddNullToObject(root, "noise_seconds");
    if (a->noise > 0) cJSON_AddNumberToObject(root, "noise_level_db", NOISE_LEVEL_DB);
    cJSON *input = cJSON_AddObjectToObject(root, "input_format");
    cJSON_AddNumberToObject(input, "sample_rate", in->sample_rate);
    cJSON_AddNumberToObject(input, "channels", in->channels);
    cJSON_AddNumberToObject(input, "frames", (double)in->frames);
    cJSON_AddStringToObject(input, "encoding", in->encoding);
    cJSON_AddStringToObject(root, "objective", sono_dream_objective_name(d->objective));
    cJSON_AddStringToObject(root, "layer", sono_net_layer(net, r->layer)->name);
    if (d->objective == SONO_DREAM_CHANNEL) cJSON_AddNumberToObject(root, "channel", d->channel);
    else cJSON_AddNullToObject(root, "channel");
    if (d->objective == SONO_DREAM_CLASS) cJSON_AddStringToObject(root, "class", c->class_names[d->class_index]);
    else cJSON_AddNullToObject(root, "class");
    cJSON_AddStringToObject(root, "render", sono_dream_render_name(a->req.render));
    cJSON_AddStringToObject(root, "stereo", a->req.stereo == SONO_STEREO_JOINT ? "joint" : "per-channel");
    cJSON_AddBoolToObject(root, "mono", a->req.mono);
    cJSON_AddNumberToObject(root, "ceiling", a->req.ceiling);
    cJSON_AddNumberToObject(root, "segment_seconds", a->req.segment_seconds);
    cJSON_AddNumberToObject(root, "settle_steps", a->req.render == SONO_RENDER_MASK ? a->req.settle_steps : 0);
    cJSON_AddNumberToObject(root, "octaves", d->octaves);
    cJSON_AddNumberToObject(root, "octave_scale", d->octave_scale);
    cJSON_AddNumberToObject(root, "iterations", d->iterations);
    cJSON_AddNumberToObject(root, "step", d->step);
    cJSON_AddNumberToObject(root, "step_db", d->step * SONO_DREAM_LEVEL_DB);
    cJSON_AddNumberToObject(root, "jitter", d->jitter);
    cJSON_AddNumberToObject(root, "smooth", d->smooth);
    cJSON_AddNumberToObject(root, "headroom_db", d->headroom_db);
    cJSON_AddNumberToObject(root, "overlap", d->overlap);
    cJSON_AddNumberToObject(root, "shift_bands", d->band_shift);
    cJSON_AddNumberToObject(root, "gain_jitter_db", d->gain_db);
    cJSON_AddNumberToObject(root, "noise_jitter_db", d->noise_db);
    cJSON *ensemble = cJSON_AddArrayToObject(root, "ensemble");
    for (int i = 0; i < a->ensemble_count; i++) cJSON_AddItemToArray(ensemble, cJSON_CreateString(a->ensemble[i]));
    cJSON_AddNumberToObject(root, "seed", (double)d->seed);
    if (a->req.render == SONO_RENDER_GRIFFIN_LIM) {
        cJSON_AddNumberToObject(root, "griffin_lim_iterations", a->req.griffin_lim.griffin_lim_iterations);
        cJSON_AddNumberToObject(root, "griffin_lim_momentum", a->req.griffin_lim.momentum);
        cJSON_AddNumberToObject(root, "hop_divisor", a->req.griffin_lim.hop_divisor ? a->req.griffin_lim.hop_divisor
                                                                                    : sono_dream_hop_divisor(&c->features));
        cJSON_AddNumberToObject(root, "spectral_convergence", r->convergence);
    }
    cJSON_AddNumberToObject(root, "sample_rate", r->sample_rate);
    cJSON_AddNumberToObject(root, "channels", r->channels);
    cJSON_AddNumberToObject(root, "samples", (double)r->frames);
    cJSON_AddStringToObject(root, "encoding", "32 bit float");
    cJSON_AddNumberToObject(root, "frames", r->spec_frames);
    cJSON_AddNumberToObject(root, "segments", r->segments);
    cJSON_AddNumberToObject(root, "windows", r->windows);
    cJSON_AddNumberToObject(root, "objective_before", r->objective_before);
    cJSON_AddNumberToObject(root, "objective_after", r->objective_after);
    cJSON_AddNumberToObject(root, "mean_change_db", r->mean_change_db);
    cJSON_AddNumberToObject(root, "consistency_db", r->consistency_db);
    cJSON_AddNumberToObject(root, "limited_share", r->limited_share);
    cJSON *curve = cJSON_AddArrayToObject(root, "objective_per_step");
    for (int i = 0; i < r->steps; i++) cJSON_AddItemToArray(curve, cJSON_CreateNumber(r->objective[i]));
    cJSON *outs = cJSON_AddObjectToObject(root, "outputs");
    cJSON_AddStringToObject(outs, "wav", p->wav);
    cJSON_AddStringToObject(outs, "png", p->png);
    if (a->report) {
        cJSON_AddStringToObject(outs, "html", p->html);
        cJSON_AddStringToObject(outs, "input_wav", p->input_wav);
        cJSON_AddStringToObject(outs, "objective_png", p->curve);
    }
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (!text) return NULL;
    size_t len = strlen(text);
    char *with_newline = realloc(text, len + 2);
    if (!with_newline) return text;
    with_newline[len] = '\n', with_newline[len + 1] = '\0';
    return with_newline;
}

/* Append s to the buffer, HTML-escaped. */
static void html_escaped(char **buf, size_t *len, size_t *cap, const char *s) {
    size_t n = sono_html_escape(s, NULL);
    if (*len + n + 1 > *cap) {
        size_t ncap = *cap * 2 + n + 256;
        char *nb = realloc(*buf, ncap);
        if (!nb) return;
        *buf = nb, *cap = ncap;
    }
    sono_html_escape(s, *buf + *len);
    *len += n;
    (*buf)[*len] = '\0';
}

/* A small template: every '@' takes the next argument, HTML-escaped; the
 * rest is copied as is. */
static char *html_page(const char *tmpl, const char *const *args) {
    size_t cap = strlen(tmpl) + 1024, len = 0;
    char *buf = malloc(cap);
    if (!buf) return NULL;
    buf[0] = '\0';
    for (const char *t = tmpl; *t; t++) {
        if (*t == '@') {
            html_escaped(&buf, &len, &cap, *args++);
            continue;
        }
        if (len + 2 > cap) {
            char *nb = realloc(buf, cap *= 2);
            if (!nb) return free(buf), NULL;
            buf = nb;
        }
        buf[len++] = *t, buf[len] = '\0';
    }
    return buf;
}

static char *dream_html(const dream_args *a, const sono_classifier *c, const sono_dream_result *r, const out_paths *p) {
    const sono_dream_options *d = &a->req.ascent;
    char what[256], numbers[640];
    if (d->objective == SONO_DREAM_CLASS)
        snprintf(what, sizeof what, "class %s", c->class_names[d->class_index]);
    else if (d->objective == SONO_DREAM_CHANNEL)
        snprintf(what, sizeof what, "layer %s, channel %d", sono_net_layer(c->net, r->layer)->name, d->channel);
    else snprintf(what, sizeof what, "layer %s", sono_net_layer(c->net, r->layer)->name);
    snprintf(numbers, sizeof numbers,
             "%s render; %d octaves (scale %g) x %d iterations, step %g levels (%.2f dB), jitter %d, seed %llu; "
             "objective %.4g -> %.4g; mean change %.1f dB; the WAV's log-mel within %.2f dB of the dream's; "
             "%d Hz, %d channel(s)",
             sono_dream_render_name(a->req.render), d->octaves, d->octave_scale, d->iterations, d->step,
             d->step * SONO_DREAM_LEVEL_DB, d->jitter, (unsigned long long)d->seed, r->objective_before,
             r->objective_after, r->mean_change_db, r->consistency_db, r->sample_rate, r->channels);
    const char *source = a->input ? a->input : "white noise";
    const char *args[] = {base_name(p->wav), source, what, a->model, numbers, base_name(p->png),
                          base_name(p->input_wav), base_name(p->wav), base_name(p->curve), base_name(p->json)};
    return html_page("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>@</title>\n"
                     "<style>body{font-family:sans-serif;max-width:1200px;margin:2em auto}img{max-width:100%}</style>"
                     "</head>\n<body>\n<h1>DeepDream of @</h1>\n<p>Objective: @ of model @</p>\n<p>@</p>\n"
                     "<p><img src=\"@\" alt=\"input and dream spectrograms\"></p>\n"
                     "<table><tr><th>input</th><th>dream</th></tr>\n"
                     "<tr><td><audio controls src=\"@\"></audio></td><td><audio controls src=\"@\"></audio></td></tr>"
                     "</table>\n<p><img src=\"@\" alt=\"objective per step\"></p>\n"
                     "<p>Parameters: <a href=\"@\">JSON</a></p>\n</body></html>\n",
                     args);
}

/* OUT.png: input and dream side by side (long recordings coarsened). */
static sono_status write_picture(const dream_args *a, const sono_classifier *c, sono_dream_result *r,
                                 const out_paths *p, sono_error *err) {
    return sono_plot_dream(p->png, &c->features, r->input_db, r->output_db, r->spec_frames,
                           a->input ? "input" : "noise", err);
}

/* OUT-input.wav: the input as it was given (its rate and channels), as
 * float WAV, so the report's players compare like with like. */
static sono_status write_input_copy(const char *path, const sono_audio_source *src, sono_error *err) {
    sono_audio_writer *w;
    sono_status s = sono_audio_writer_open(path, src->sample_rate, src->channels, src->frames, SONO_WAV_FLOAT32, &w, err);
    if (s != SONO_OK) return s;
    float *block = malloc((size_t)COPY_BLOCK_FRAMES * src->channels * sizeof(float));
    if (!block) s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int64_t start = 0; s == SONO_OK && start < src->frames; start += COPY_BLOCK_FRAMES) {
        int64_t n = src->frames - start < COPY_BLOCK_FRAMES ? src->frames - start : COPY_BLOCK_FRAMES;
        s = src->read(src->user, start, n, block, err);
        if (s == SONO_OK) s = sono_audio_writer_write(w, block, n, err);
    }
    free(block);
    if (s != SONO_OK) {
        sono_audio_writer_abort(w);
        return s;
    }
    return sono_audio_writer_commit(w, err);
}

static sono_status write_outputs(const dream_args *a, const sono_classifier *c, sono_dream_result *r,
                                 const sono_audio_info *in, const sono_audio_source *src, const out_paths *p,
                                 sono_error *err) {
    sono_status s = SONO_OK;
    if (a->report) s = write_input_copy(p->input_wav, src, err);
    if (s == SONO_OK && a->report) {
        sono_curve curve = {"objective", r->objective, 0};
        s = sono_plot_curves(p->curve, "objective per step (octaves coarse to fine)", "step", "objective", "",
                             &curve, 1, r->steps, err);
        char *html = s == SONO_OK ? dream_html(a, c, r, p) : NULL;
        if (s == SONO_OK && !html) s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        if (s == SONO_OK) s = sono_atomic_write_file(p->html, html, strlen(html), err);
        free(html);
    }
    char *json = s == SONO_OK ? dream_json(a, c, r, in, p) : NULL;
    if (s == SONO_OK && !json) s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    if (s == SONO_OK) s = sono_atomic_write_file(p->json, json, strlen(json), err);
    free(json);
    if (s == SONO_OK) s = write_picture(a, c, r, p, err);
    return s;
}

/* Fail before the work when the output folder cannot take a file. */
static sono_status check_writable(const char *path, sono_error *err) {
    sono_atomic_file f;
    sono_status s = sono_atomic_begin(&f, path, 1, err);
    sono_atomic_abort(&f);
    return s;
}

/* The input as a source: the file, or noise at the model's rate. */
static sono_status open_input(const dream_args *a, const sono_classifier *c, sono_audio_reader **reader,
                              float **noise, sono_audio_source *src, sono_audio_info *info, sono_error *err) {
    memset(info, 0, sizeof *info);
    if (a->input) {
        /* MP3 and Ogg are decoded whole: half the memory this process may
         * take is the most they may hold, so a long one fails with a message
         * rather than by the out-of-memory killer. */
        sono_audio_limits limits = {0};
        unsigned long long avail = sono_memory_available();
        if (avail > 0 && avail / 2 < (unsigned long long)INT64_MAX) limits.max_bytes = (int64_t)(avail / 2);
        sono_status s = sono_audio_reader_open_limited(a->input, &limits, reader, err);
        if (s != SONO_OK) return s;
        *info = *sono_audio_reader_info(*reader);
        *src = (sono_audio_source){info->sample_rate, info->channels, info->frames, reader_read, *reader};
        return SONO_OK;
    }
    int64_t n = 0;
    sono_status s = sono_dream_noise(&c->features, a->noise, NOISE_LEVEL_DB, a->req.ascent.seed, noise, &n, err);
    if (s != SONO_OK) return s;
    info->sample_rate = c->features.sample_rate, info->channels = 1, info->frames = n;
    snprintf(info->encoding, sizeof info->encoding, "white noise");
    *src = (sono_audio_source){info->sample_rate, 1, n, memory_read, *noise};
    return SONO_OK;
}

static void print_summary(const dream_args *a, const sono_classifier *c, const sono_dream_result *r,
                          const out_paths *paths) {
    const sono_dream_options *d = &a->req.ascent;
    const char *layer = sono_net_layer(c->net, r->layer)->name;
    printf("wrote %s (%.2f s, %d Hz, %d channel%s, 32-bit float)\n", paths->wav, (double)r->frames / r->sample_rate,
           r->sample_rate, r->channels, r->channels == 1 ? "" : "s");
    printf("wrote %s\nwrote %s\n", paths->png, paths->json);
    if (a->report) printf("wrote %s\nwrote %s\nwrote %s\n", paths->html, paths->input_wav, paths->curve);
    if (d->objective == SONO_DREAM_CLASS) printf("objective: logit of class %s", c->class_names[d->class_index]);
    else if (d->objective == SONO_DREAM_CHANNEL) printf("objective: mean of %s channel %d", layer, d->channel);
    else printf("objective: mean squared activation of %s", layer);
    printf(": %.6g -> %.6g (%d windows, mean change %.2f dB)\n", r->objective_before, r->objective_after, r->windows,
           r->mean_change_db);
    printf("render: %s; the WAV's log-mel is within %.2f dB of the dream's", sono_dream_render_name(a->req.render),
           r->consistency_db);
    if (r->limited_share > 0) printf("; the limiter turned the dream down on %.2f %% of it", 100 * r->limited_share);
    putchar('\n');
}

int cmd_dream(int argc, char **argv) {
    dream_args a;
    int code = 0;
    if (!parse_args(argc, argv, &a, &code)) return code;
    out_paths paths;
    if (!make_paths(a.output, &paths)) return 2;
    cli_log_to_stderr(0);
    sono_error err = {0};
    sono_classifier *c = NULL, *members[SONO_DREAM_MAX_ENSEMBLE] = {0};
    sono_audio_reader *reader = NULL;
    sono_audio_writer *writer = NULL;
    float *noise = NULL;
    sono_dream_result r;
    memset(&r, 0, sizeof r);
    sono_status s = check_writable(paths.wav, &err);
    if (s == SONO_OK) s = sono_classifier_load(a.model, DREAM_MAX_BATCH, &c, NULL, &err);
    for (int i = 0; s == SONO_OK && i < a.ensemble_count; i++)
        s = sono_classifier_load(a.ensemble[i], DREAM_MAX_BATCH, &members[i], NULL, &err);
    a.req.ascent.ensemble = members;
    a.req.ascent.ensemble_count = a.ensemble_count;
    int exit_code = 1;
    if (s != SONO_OK) {
        cli_fail(&err);
        goto done;
    }
    if (!resolve_objective(c, &a)) {
        exit_code = 2;
        goto done;
    }
    sono_audio_source src;
    sono_audio_info info;
    s = open_input(&a, c, &reader, &noise, &src, &info, &err);
    const int out_rate = a.req.out_rate ? a.req.out_rate : src.sample_rate;
    const int out_channels = a.req.mono ? 1 : src.channels;
    const int64_t out_frames = out_rate == src.sample_rate ? src.frames
                                                           : (int64_t)llround((double)src.frames * out_rate / src.sample_rate);
    if (s == SONO_OK) s = sono_audio_writer_open(paths.wav, out_rate, out_channels, out_frames, SONO_WAV_FLOAT32, &writer, &err);
    cli_progress bar;
    if (s == SONO_OK) {
        cli_progress_start(&bar, "dream", 1);
        if (a.quiet) bar.enabled = 0;
        a.req.ascent.progress = progress;
        a.req.ascent.progress_user = &bar;
        sono_audio_sink sink = {writer_write, writer};
        void (*previous)(int) = signal(SIGINT, on_sigint);
        s = sono_dream_stream(c, &src, &a.req, &sink, &r, &err);
        signal(SIGINT, previous == SIG_ERR ? SIG_DFL : previous);
        if (bar.enabled) fputc('\n', stderr);
    }
    /* The side files first: the WAV lands last, only when all went well. */
    if (s == SONO_OK) s = write_outputs(&a, c, &r, &info, &src, &paths, &err);
    if (s == SONO_OK) {
        s = sono_audio_writer_commit(writer, &err);
        writer = NULL;
    }
    if (s != SONO_OK) {
        cli_fail(&err);
        goto done;
    }
    print_summary(&a, c, &r, &paths);
    exit_code = 0;
done:
    sono_audio_writer_abort(writer);
    sono_audio_reader_close(reader);
    sono_dream_result_free(&r);
    free(noise);
    sono_classifier_free(c);
    for (int i = 0; i < a.ensemble_count; i++) sono_classifier_free(members[i]);
    return exit_code;
}
