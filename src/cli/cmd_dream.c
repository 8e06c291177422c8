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

#define NOISE_HEADROOM_DB 20.0 /* a dream from noise builds on it: it may rise well above it */
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
            "      --class NAME       maximise a class's logit (before softmax)\n"
            "      --guide FILE       grow the features of another recording (any format, rate,\n"
            "                         channels; its first %g s): each position of --layer's output\n"
            "                         is pulled toward the guide's position it most resembles\n"
            "                         on the same row (the same band of pitch: the guide's class\n"
            "                         rises more for another model; README, \"Guided dreams\")\n"
            "      --guide-any-row    ... matched anywhere (the DeepDream notebook's objective)\n\n"
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
            "      --step-final LEVELS the last step, the steps shrinking to it geometrically\n"
            "                         (default: none, every step is --step)\n"
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
            "textures (sonodream texture and style; see their --help): --seconds,\n"
            "--style-weight and --texture-layers are theirs\n\n"
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
            SONO_DREAM_EXAMPLE_SECONDS, 8000.0, r.settle_steps, r.ceiling, SONO_DREAM_SEGMENT_OVERLAP, r.segment_seconds, d->octaves, d->octave_scale,
            d->iterations, d->step, d->jitter, d->smooth, d->headroom_db, NOISE_HEADROOM_DB, d->overlap, d->band_shift, d->gain_db, d->noise_db,
            SONO_DREAM_MAX_ENSEMBLE, (unsigned long long)d->seed, SONO_DREAM_NOISE_LEVEL_DB,
            r.griffin_lim.griffin_lim_iterations, r.griffin_lim.momentum);
}

/* dream, and the commands that are dreams toward another recording's
 * texture: texture (from noise) and style (from a content recording). */
typedef enum dream_mode { MODE_DREAM = 0, MODE_TEXTURE, MODE_STYLE } dream_mode;


static void texture_usage(FILE *out, dream_mode mode) {
    if (mode == MODE_TEXTURE)
        fprintf(out,
                "usage: sonodream texture [MODEL] EXAMPLE -o OUT.wav [--seconds N] [options]\n\n"
                "A new sound whose texture is EXAMPLE's: every window of the output takes the\n"
                "example's Gram matrices (which of a layer's channels respond together) at every\n"
                "convolution, from noise. OUT.wav has the example's rate and channels: each channel\n"
                "starts from its own noise with the example's colour (its mean spectrum, above\n"
                "the model's fmax too), and the dream shapes all channels alike.\n\n"
                "      --seconds N        length (default: the example's, up to %g s)\n",
                SONO_DREAM_EXAMPLE_SECONDS);
    else
        fprintf(out,
                "usage: sonodream style [MODEL] CONTENT STYLE -o OUT.wav [options]\n\n"
                "CONTENT in the texture of STYLE: the ascent starts from the content and climbs\n"
                "the style's Gram matrices (as texture), held to the content by a pull of\n"
                "1/WEIGHT per dB^2 of mean squared change. OUT.wav keeps the content's rate,\n"
                "channels, length and everything above the model's fmax.\n\n"
                "      --style-weight W   how far the style may take the content (default %g;\n"
                "                         larger: more style, less content)\n",
                SONO_DREAM_STYLE_WEIGHT);
    fprintf(out,
            "      --texture-layers L layers and weights, e.g. conv1,conv3:0.5 (default: every\n"
            "                         convolution, weight 1; at most %d)\n\n"
            "The ascent, render and output options of 'sonodream dream' apply, with defaults\n"
            "for textures: one octave of 40 steps shrinking from 2 to 0.2 levels, no blur, no\n"
            "band shift (see dream --help for each): --octaves, --octave-scale, --iterations,\n"
            "--step, --step-final, --jitter, --smooth, --overlap, --headroom, --shift-bands,\n"
            "--gain-jitter, --noise-jitter, --seed, --render, --settle, --stereo, --rate, --mono,\n"
            "--ceiling, --segment, --griffin-lim, --hop-divisor, -o/--output, --report,\n"
            "-q/--quiet, -h/--help. Not dream's objectives: --layer, --channel, --class,\n"
            "--guide, --guide-any-row, --ensemble, --single-model, --noise; %s.\n",
            SONO_DREAM_GRAM_MAX_LAYERS, mode == MODE_TEXTURE ? "--style-weight is style's" : "--seconds is texture's");
}

typedef struct dream_args {
    dream_mode mode;
    const char *example;        /* texture's EXAMPLE, style's STYLE */
    const char *texture_layers; /* --texture-layers */
    double seconds;             /* texture: --seconds (0: the example's length) */
    double style_weight;
    const char *model, *input, *output;
    const char *layer_name, *class_name;
    const char *guide;  /* --guide FILE */
    int guide_any_row;  /* --guide-any-row */
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
       OPT_ENSEMBLE, OPT_SINGLE_MODEL, OPT_GUIDE, OPT_GUIDE_ANY_ROW, OPT_SECONDS, OPT_STYLE_WEIGHT,
       OPT_TEXTURE_LAYERS, OPT_STEP_FINAL };

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
    case OPT_GUIDE: a->guide = arg; return 1;
    case OPT_GUIDE_ANY_ROW: a->guide_any_row = 1; return 1;
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
        return cli_parse_int("seed", arg, 0, SONO_DREAM_SEED_MAX, &v) && ((d->seed = a->req.griffin_lim.seed = (uint64_t)v), 1);
    case OPT_NOISE:
        if (!cli_parse_double("noise", arg, 0, 3600, &a->noise)) return 0;
        if (a->noise > 0) return 1;
        cli_failf("option --noise: the length in seconds must be positive");
        return 0;
    case OPT_SINGLE_MODEL: a->single_model = 1; return 1;
    case OPT_STEP_FINAL: return cli_parse_double("step-final", arg, 0, 1000, &d->step_final);
    case OPT_SECONDS:
        if (a->mode != MODE_TEXTURE) return cli_failf("option --seconds is texture's"), 0;
        return cli_parse_double("seconds", arg, 0.01, 3600, &a->seconds);
    case OPT_STYLE_WEIGHT:
        if (a->mode != MODE_STYLE) return cli_failf("option --style-weight is style's"), 0;
        if (!cli_parse_double("style-weight", arg, 0, 1e6, &a->style_weight)) return 0;
        if (a->style_weight > 0) return 1;
        return cli_failf("option --style-weight: must be positive"), 0;
    case OPT_TEXTURE_LAYERS:
        if (a->mode == MODE_DREAM) return cli_failf("option --texture-layers is texture's and style's"), 0;
        a->texture_layers = arg;
        return 1;
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

/* texture [MODEL] EXAMPLE, style [MODEL] CONTENT STYLE. */
static int texture_positionals(int argc, char **argv, dream_args *a) {
    const int needed = a->mode == MODE_STYLE ? 2 : 1;
    const char *what = a->mode == MODE_STYLE ? "style needs CONTENT and STYLE" : "texture needs an EXAMPLE";
    int positional = argc - optind, model_args;
    a->model = cli_model_argument(positional, argv + optind, needed, &model_args);
    if (!a->model) {
        if (positional < needed) cli_failf("%s", what);
        return 0;
    }
    if (positional - model_args != needed) return cli_failf("%s (got %d files)", what, positional - model_args), 0;
    char **files = argv + optind + model_args;
    if (a->mode == MODE_STYLE) a->input = files[0];
    a->example = files[needed - 1];
    if (a->noise > 0) return cli_failf("%s: --noise is dream's", a->mode == MODE_STYLE ? "style" : "texture"), 0;
    if (a->class_name || a->layer_name || a->channel >= 0 || a->guide)
        return cli_failf("%s: the layers are --texture-layers (no --class, --layer, --channel or --guide)",
                         a->mode == MODE_STYLE ? "style" : "texture"), 0;
    if (!a->output) return cli_failf("%s needs -o OUT.wav", a->mode == MODE_STYLE ? "style" : "texture"), 0;
    return 1;
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
        {"guide", required_argument, 0, OPT_GUIDE},    {"guide-any-row", no_argument, 0, OPT_GUIDE_ANY_ROW},
        {"seconds", required_argument, 0, OPT_SECONDS}, {"style-weight", required_argument, 0, OPT_STYLE_WEIGHT},
        {"texture-layers", required_argument, 0, OPT_TEXTURE_LAYERS}, {"step-final", required_argument, 0, OPT_STEP_FINAL},
        {"report", no_argument, 0, OPT_REPORT},        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},                 {0, 0, 0, 0}};
    const dream_mode mode = a->mode;
    memset(a, 0, sizeof *a);
    a->mode = mode;
    a->style_weight = SONO_DREAM_STYLE_WEIGHT;
    a->channel = -1;
    if (mode == MODE_TEXTURE) sono_dream_texture_defaults(&a->req);
    else if (mode == MODE_STYLE) sono_dream_style_defaults(&a->req);
    else sono_dream_request_defaults(&a->req);
    int opt;
    *exit_code = 2;
    while ((opt = getopt_long(argc, argv, "o:qh", longopts, NULL)) != -1) {
        if (opt == 'h') {
            if (mode == MODE_DREAM) dream_usage(stdout);
            else texture_usage(stdout, mode);
            *exit_code = 0;
            return 0;
        }
        if (opt == '?') {
            if (mode == MODE_DREAM) dream_usage(stderr);
            else texture_usage(stderr, mode);
            return 0;
        }
        if (!parse_option(a, opt, optarg)) return 0;
    }
    if (mode != MODE_DREAM) return texture_positionals(argc, argv, a);
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
    if (a->guide && (a->class_name || a->channel >= 0)) {
        cli_failf("dream: --guide dreams toward the guide at --layer; it cannot be combined with --class or --channel");
        return 0;
    }
    if (a->guide_any_row) a->req.ascent.guide_same_row = 0;
    if (a->guide_any_row && !a->guide) {
        cli_failf("dream: --guide-any-row needs --guide FILE");
        return 0;
    }
    if (model_args == 0) add_shipped_ensemble(a);
    return 1;
}

/* ---- objective from names ---- */

/* --texture-layers "conv1,conv3:0.5" into layer indices (in the net's
 * order) and weights; NULL list: *count = 0 (the library's default). */
static int parse_texture_layers(const sono_classifier *c, const char *list, int *layers, double *weights, int *count) {
    *count = 0;
    if (!list) return 1;
    char copy[1024];
    if (strlen(list) >= sizeof copy) return cli_failf("option --texture-layers: too long"), 0;
    strcpy(copy, list);
    for (char *save = NULL, *item = strtok_r(copy, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        if (*count == SONO_DREAM_GRAM_MAX_LAYERS)
            return cli_failf("option --texture-layers: at most %d layers", SONO_DREAM_GRAM_MAX_LAYERS), 0;
        char *colon = strchr(item, ':');
        double w = 1.0;
        if (colon) {
            *colon = '\0';
            if (!cli_parse_double("texture-layers weight", colon + 1, 1e-6, 1e6, &w)) return 0;
        }
        int index = sono_net_find_layer(c->net, item);
        if (index < 0) return cli_failf("option --texture-layers: no layer '%s' (see 'sonodream layers')", item), 0;
        int at = *count;
        while (at > 0 && layers[at - 1] > index) layers[at] = layers[at - 1], weights[at] = weights[at - 1], at--;
        if (at > 0 && layers[at - 1] == index) return cli_failf("option --texture-layers: %s twice", item), 0;
        layers[at] = index, weights[at] = w;
        (*count)++;
    }
    return 1;
}

static int resolve_objective(const sono_classifier *c, dream_args *a) {
    const sono_net *net = c->net;
    int count = sono_net_layer_count(net);
    if (a->mode != MODE_DREAM) {
        a->req.ascent.objective = SONO_DREAM_GRAM;
        a->req.ascent.content_weight = a->mode == MODE_STYLE ? 1.0 / a->style_weight : 0.0;
        return 1;
    }
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
    if (a->guide) a->req.ascent.objective = SONO_DREAM_GUIDE;
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
    const sono_recording *r = user;
    memcpy(dst, r->samples + start * r->channels, (size_t)count * r->channels * sizeof(float));
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
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "sonodream_version", SONO_VERSION);
    cJSON_AddStringToObject(root, "model", a->model);
    if (a->input) cJSON_AddStringToObject(root, "input", a->input);
    else cJSON_AddNullToObject(root, "input");
    if (a->noise > 0) cJSON_AddNumberToObject(root, "noise_seconds", a->noise);
    else cJSON_AddNullToObject(root, "noise_seconds");
    if (a->noise > 0) cJSON_AddNumberToObject(root, "noise_level_db", SONO_DREAM_NOISE_LEVEL_DB);
    cJSON *input = cJSON_AddObjectToObject(root, "input_format");
    cJSON_AddNumberToObject(input, "sample_rate", in->sample_rate);
    cJSON_AddNumberToObject(input, "channels", in->channels);
    cJSON_AddNumberToObject(input, "frames", (double)in->frames);
    cJSON_AddStringToObject(input, "encoding", in->encoding);
    sono_dream_result_add_json(root, c, &a->req, r);
    cJSON *ensemble = cJSON_AddArrayToObject(root, "ensemble");
    for (int i = 0; i < a->ensemble_count; i++) cJSON_AddItemToArray(ensemble, cJSON_CreateString(a->ensemble[i]));
    if (a->guide) cJSON_AddStringToObject(root, "guide", a->guide);
    else cJSON_AddNullToObject(root, "guide");
    if (a->mode == MODE_TEXTURE) cJSON_AddStringToObject(root, "texture", a->example);
    if (a->mode == MODE_TEXTURE) cJSON_AddNumberToObject(root, "texture_seconds", (double)in->frames / in->sample_rate);
    if (a->mode == MODE_STYLE) cJSON_AddStringToObject(root, "style", a->example);
    if (a->mode == MODE_STYLE) cJSON_AddNumberToObject(root, "style_weight", a->style_weight);
    cJSON_AddStringToObject(root, "encoding", "32 bit float");
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
    else if (d->objective == SONO_DREAM_GRAM)
        snprintf(what, sizeof what, "the texture of %s", base_name(a->example));
    else if (d->objective == SONO_DREAM_GUIDE)
        snprintf(what, sizeof what, "layer %s, toward the guide %s", sono_net_layer(c->net, r->layer)->name,
                 base_name(a->guide));
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
/* MP3 and Ogg are decoded whole: half the memory this process may take is
 * the most they may hold, so a long one fails with a message rather than by
 * the out-of-memory killer. */
static sono_status open_file(const char *path, sono_audio_reader **reader, sono_error *err) {
    sono_audio_limits limits = {0};
    unsigned long long avail = sono_memory_available();
    if (avail > 0 && avail / 2 < (unsigned long long)INT64_MAX) limits.max_bytes = (int64_t)(avail / 2);
    return sono_audio_reader_open_limited(path, &limits, reader, err);
}

/* A texture's start: noise like the example (its first
 * SONO_DREAM_EXAMPLE_SECONDS), as long as --seconds or the example. */
static sono_status texture_start(const dream_args *a, sono_recording *start, sono_error *err) {
    sono_audio_reader *reader = NULL;
    sono_status s = open_file(a->example, &reader, err);
    if (s != SONO_OK) return s;
    const sono_audio_info *info = sono_audio_reader_info(reader);
    const int64_t most = (int64_t)(SONO_DREAM_EXAMPLE_SECONDS * info->sample_rate);
    sono_recording ex = {NULL, info->frames < most ? info->frames : most, info->channels, info->sample_rate};
    if (!(ex.samples = malloc((size_t)ex.frames * ex.channels * sizeof *ex.samples)))
        s = sono_error_set(err, SONO_ERR_MEMORY, "%s: out of memory", a->example);
    if (s == SONO_OK) s = sono_audio_reader_read(reader, 0, ex.frames, ex.samples, err);
    const double seconds = a->seconds > 0 ? a->seconds : (double)ex.frames / ex.sample_rate;
    if (s == SONO_OK) s = sono_dream_texture_start(&ex, seconds, a->req.ascent.seed, start, err);
    free(ex.samples);
    sono_audio_reader_close(reader);
    return s;
}

/* The input as a source: the file, noise at the model's rate, or noise like
 * a texture's example (start holds the noise). */
static sono_status open_input(const dream_args *a, const sono_classifier *c, sono_audio_reader **reader,
                              sono_recording *start, sono_audio_source *src, sono_audio_info *info, sono_error *err) {
    memset(info, 0, sizeof *info);
    if (a->input) {
        sono_status s = open_file(a->input, reader, err);
        if (s != SONO_OK) return s;
        *info = *sono_audio_reader_info(*reader);
        *src = (sono_audio_source){info->sample_rate, info->channels, info->frames, reader_read, *reader};
        return SONO_OK;
    }
    sono_status s;
    if (a->mode == MODE_TEXTURE) {
        s = texture_start(a, start, err);
    } else {
        *start = (sono_recording){NULL, 0, 1, c->features.sample_rate};
        s = sono_dream_noise(&c->features, a->noise, SONO_DREAM_NOISE_LEVEL_DB, a->req.ascent.seed, &start->samples,
                             &start->frames, err);
    }
    if (s != SONO_OK) return s;
    info->sample_rate = start->sample_rate, info->channels = start->channels, info->frames = start->frames;
    snprintf(info->encoding, sizeof info->encoding, a->mode == MODE_TEXTURE ? "noise like the example" : "white noise");
    *src = (sono_audio_source){info->sample_rate, info->channels, info->frames, memory_read, start};
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
    else if (d->objective == SONO_DREAM_GUIDE) printf("objective: %s's match with the guide %s", layer, a->guide);
    else if (d->objective == SONO_DREAM_GRAM) printf("objective: -(Gram error) against %s's texture", a->example);
    else printf("objective: mean squared activation of %s", layer);
    printf(": %.6g -> %.6g (%d windows, mean change %.2f dB)\n", r->objective_before, r->objective_after, r->windows,
           r->mean_change_db);
    printf("render: %s; the WAV's log-mel is within %.2f dB of the dream's", sono_dream_render_name(a->req.render),
           r->consistency_db);
    if (r->limited_share > 0) printf("; the limiter turned the dream down on %.2f %% of it", 100 * r->limited_share);
    putchar('\n');
}

static int run_dream(int argc, char **argv, dream_mode mode) {
    dream_args a;
    a.mode = mode;
    int code = 0;
    if (!parse_args(argc, argv, &a, &code)) return code;
    out_paths paths;
    if (!make_paths(a.output, &paths)) return 2;
    cli_log_to_stderr(0);
    sono_error err = {0};
    sono_classifier *c = NULL, *members[SONO_DREAM_MAX_ENSEMBLE] = {0};
    sono_audio_reader *reader = NULL;
    sono_audio_writer *writer = NULL;
    sono_dream_guide *guide = NULL;
    sono_dream_gram *gram = NULL;
    sono_recording start = {0};
    sono_dream_result r;
    memset(&r, 0, sizeof r);
    sono_status s = check_writable(paths.wav, &err);
    if (s == SONO_OK) s = sono_classifier_load(a.model, SONO_DREAM_MAX_BATCH, &c, NULL, &err);
    for (int i = 0; s == SONO_OK && i < a.ensemble_count; i++)
        s = sono_classifier_load(a.ensemble[i], SONO_DREAM_MAX_BATCH, &members[i], NULL, &err);
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
    if (a.guide) {
        s = sono_dream_guide_load(c, a.guide, a.req.ascent.layer, &guide, &err);
        a.req.ascent.guide = guide;
    }
    if (a.mode != MODE_DREAM) {
        int layers[SONO_DREAM_GRAM_MAX_LAYERS], count = 0;
        double weights[SONO_DREAM_GRAM_MAX_LAYERS];
        if (!parse_texture_layers(c, a.texture_layers, layers, weights, &count)) {
            exit_code = 2;
            goto done;
        }
        s = sono_dream_gram_load(c, a.example, count ? layers : NULL, weights, count, &gram, &err);
        a.req.ascent.gram = gram;
    }
    sono_audio_source src = {0};
    sono_audio_info info;
    if (s == SONO_OK) s = open_input(&a, c, &reader, &start, &src, &info, &err);
    const int out_rate = a.req.out_rate ? a.req.out_rate : src.sample_rate;
    const int out_channels = a.req.mono ? 1 : src.channels;
    const int64_t out_frames = out_rate == src.sample_rate ? src.frames
                                                           : (int64_t)llround((double)src.frames * out_rate / src.sample_rate);
    if (s == SONO_OK) s = sono_audio_writer_open(paths.wav, out_rate, out_channels, out_frames, SONO_WAV_FLOAT32, &writer, &err);
    cli_progress bar;
    if (s == SONO_OK) {
        cli_progress_start(&bar, mode == MODE_TEXTURE ? "texture" : mode == MODE_STYLE ? "style" : "dream", 1);
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
    sono_recording_free(&start);
    sono_dream_guide_free(guide);
    sono_dream_gram_free(gram);
    sono_classifier_free(c);
    for (int i = 0; i < a.ensemble_count; i++) sono_classifier_free(members[i]);
    return exit_code;
}

int cmd_dream(int argc, char **argv) { return run_dream(argc, argv, MODE_DREAM); }
int cmd_texture(int argc, char **argv) { return run_dream(argc, argv, MODE_TEXTURE); }
int cmd_style(int argc, char **argv) { return run_dream(argc, argv, MODE_STYLE); }
