/* sonodream dream MODEL [INPUT] -o OUT.wav: DeepDream on a sound.
 *
 * Writes OUT.wav, OUT.png (input and dream side by side), OUT.json (every
 * parameter, so the dream can be reproduced) and with --report OUT.html,
 * OUT-input.wav and OUT-objective.png. Everything is computed first and
 * written at the end, each file atomically. */
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
#include "sonodream/plot.h"

/* Windows per network call: the conv kernels run one window per thread. */
#define DREAM_MAX_BATCH 8
#define NOISE_LEVEL_DB (-40.0)
#define PLOT_RANGE_DB 80.0 /* the step's unit is 1/255 of this (SONO_DREAM_LEVEL_DB) */
#define SEED_MAX 9007199254740991L /* 2^53 - 1: exact in JSON */

static void dream_usage(FILE *out) {
    sono_dream_options d;
    sono_dream_audio_options a;
    sono_dream_defaults(&d);
    sono_dream_audio_defaults(&a);
    fprintf(out,
            "usage: sonodream dream [MODEL] INPUT -o OUT.wav [options]\n"
            "       sonodream dream [MODEL] --noise SECONDS -o OUT.wav [options]\n\n"
            "DeepDream for sounds: gradient ascent on the log-mel spectrogram of INPUT (any\n"
            "length, any format libsndfile reads) so that the model's layer, channel or class\n"
            "responds more, then back to sound (NNLS mel inversion, fast Griffin-Lim).\n"
            "Writes OUT.wav, OUT.png (input and dream side by side) and OUT.json (every\n"
            "parameter, to reproduce the dream). 'sonodream layers MODEL' lists the layers.\n"
            "Without MODEL, the shipped model installed under share/sonodream/models/.\n\n"
            "objective (default: the mean squared activation of the middle convolution,\n"
            "%s):\n"
            "      --layer NAME       maximise the mean squared activation of a layer\n"
            "      --channel N        ... or the mean activation of its channel N (0-based)\n"
            "      --class NAME       maximise a class's logit (before softmax)\n\n"
            "ascent:\n"
            "      --octaves N        octaves, coarse to fine (default %d)\n"
            "      --octave-scale S   size ratio between octaves (default %g)\n"
            "      --iterations N     steps per octave (default %d)\n"
            "      --step LEVELS      mean absolute change per step, in levels of the 80 dB colour\n"
            "                         scale of OUT.png (255 levels: 1 = 0.31 dB) (default %g)\n"
            "      --jitter FRAMES    random roll along time before each step (default %d)\n"
            "      --smooth SIGMA     Gaussian blur of the gradient, in cells (default %g: off)\n"
            "      --overlap F        overlap of the network's windows on long inputs (default %g)\n"
            "      --seed N           jitter and noise; same seed, same dream (default %llu)\n"
            "      --noise SECONDS    start from white noise (log-mel at %g dB) instead of INPUT\n\n"
            "sound:\n"
            "      --griffin-lim N    Griffin-Lim iterations (default %d, momentum %g)\n"
            "      --hop-divisor N    Griffin-Lim at the model's hop / N (default: the smallest N\n"
            "                         giving 75 %% overlap, 2 for n_fft 1024 and hop 512)\n"
            "      --rate HZ          output sample rate (default: the model's)\n\n"
            "output:\n"
            "  -o, --output FILE      the dream as WAV (required); other outputs share its name\n"
            "      --report           also OUT.html with pictures and players, OUT-input.wav\n"
            "                         and OUT-objective.png\n"
            "  -q, --quiet            no progress bar\n"
            "  -h, --help             this help\n",
            "conv3 for the seed preset", d.octaves, d.octave_scale, d.iterations, d.step, d.jitter, d.smooth,
            d.overlap, (unsigned long long)d.seed, NOISE_LEVEL_DB, a.griffin_lim_iterations, a.momentum);
}

typedef struct dream_args {
    const char *model, *input, *output;
    const char *layer_name, *class_name;
    long channel;     /* -1: none */
    double noise;     /* seconds; 0: from INPUT */
    sono_dream_options d;
    sono_dream_audio_options a;
    int report, quiet;
} dream_args;

enum { OPT_LAYER = 256, OPT_CHANNEL, OPT_CLASS, OPT_OCTAVES, OPT_SCALE, OPT_ITER, OPT_STEP, OPT_JITTER, OPT_SMOOTH,
       OPT_OVERLAP, OPT_SEED, OPT_NOISE, OPT_GL, OPT_HOPDIV, OPT_RATE, OPT_REPORT };

static int parse_option(dream_args *a, int opt, const char *arg) {
    long v;
    switch (opt) {
    case 'o': a->output = arg; return 1;
    case OPT_LAYER: a->layer_name = arg; return 1;
    case OPT_CHANNEL: return cli_parse_int("channel", arg, 0, 1L << 30, &a->channel);
    case OPT_CLASS: a->class_name = arg; return 1;
    case OPT_OCTAVES: return cli_parse_int("octaves", arg, 1, 32, &v) && (a->d.octaves = (int)v);
    case OPT_SCALE: return cli_parse_double("octave-scale", arg, 1, 8, &a->d.octave_scale);
    case OPT_ITER: return cli_parse_int("iterations", arg, 1, 100000, &v) && (a->d.iterations = (int)v);
    case OPT_STEP:
        if (!cli_parse_double("step", arg, 0, 1000, &a->d.step)) return 0;
        if (a->d.step > 0) return 1;
        cli_failf("option --step: must be positive");
        return 0;
    case OPT_JITTER: return cli_parse_int("jitter", arg, 0, 1L << 20, &v) && ((a->d.jitter = (int)v), 1);
    case OPT_SMOOTH: return cli_parse_double("smooth", arg, 0, 16, &a->d.smooth);
    case OPT_OVERLAP: return cli_parse_double("overlap", arg, 0, 0.9, &a->d.overlap);
    case OPT_SEED: return cli_parse_int("seed", arg, 0, SEED_MAX, &v) && ((a->d.seed = a->a.seed = (uint64_t)v), 1);
    case OPT_NOISE:
        if (!cli_parse_double("noise", arg, 0, 3600, &a->noise)) return 0;
        if (a->noise > 0) return 1;
        cli_failf("option --noise: the length in seconds must be positive");
        return 0;
    case OPT_GL:
        return cli_parse_int("griffin-lim", arg, 0, 100000, &v) && ((a->a.griffin_lim_iterations = (int)v), 1);
    case OPT_HOPDIV: return cli_parse_int("hop-divisor", arg, 1, 64, &v) && (a->a.hop_divisor = (int)v);
    case OPT_RATE: return cli_parse_int("rate", arg, 1000, 384000, &v) && (a->a.out_rate = (int)v);
    case OPT_REPORT: a->report = 1; return 1;
    case 'q': a->quiet = 1; return 1;
    }
    return 0;
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
        {"report", no_argument, 0, OPT_REPORT},        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},                 {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->channel = -1;
    sono_dream_defaults(&a->d);
    sono_dream_audio_defaults(&a->a);
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
    if (!a->output) {
        cli_failf("dream needs -o OUT.wav");
        return 0;
    }
    if (a->class_name && (a->layer_name || a->channel >= 0)) {
        cli_failf("dream: --class dreams at the logits; it cannot be combined with --layer or --channel");
        return 0;
    }
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
        a->d.objective = SONO_DREAM_CLASS;
        a->d.class_index = k;
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
    a->d.layer = layer;
    if (a->channel >= 0) {
        const sono_layer_info *li = sono_net_layer(net, layer);
        if (a->channel >= li->out.c) {
            cli_failf("--channel %ld: layer %s has %d channels (0..%d)", a->channel, li->name, li->out.c, li->out.c - 1);
            return 0;
        }
        a->d.objective = SONO_DREAM_CHANNEL;
        a->d.channel = (int)a->channel;
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
    (void)total, (void)objective;
    if (user) cli_progress_update(user, step);
    return interrupted != 0;
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

static sono_status write_text(const char *path, const char *text, sono_error *err) {
    sono_atomic_file f;
    sono_status s = sono_atomic_begin(&f, path, 1, err);
    if (s == SONO_OK) s = sono_atomic_write(&f, text, strlen(text), err);
    if (s == SONO_OK) return sono_atomic_commit(&f, err);
    sono_atomic_abort(&f);
    return s;
}

typedef struct dream_result {
    sono_dream_report report;
    sono_dream_audio_report audio;
    int64_t n_in, n_out;
    int frames;
} dream_result;

static char *dream_json(const dream_args *a, const sono_classifier *c, const dream_result *r, const out_paths *p) {
    const sono_net *net = c->net;
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "sonodream_version", SONO_VERSION);
    cJSON_AddStringToObject(root, "model", a->model);
    if (a->input) cJSON_AddStringToObject(root, "input", a->input);
    else cJSON_AddNullToObject(root, "input");
    if (a->noise > 0) cJSON_AddNumberToObject(root, "noise_seconds", a->noise);
    else cJSON_AddNullToObject(root, "noise_seconds");
    if (a->noise > 0) cJSON_AddNumberToObject(root, "noise_level_db", NOISE_LEVEL_DB);
    cJSON_AddStringToObject(root, "objective", sono_dream_objective_name(a->d.objective));
    cJSON_AddStringToObject(root, "layer", sono_net_layer(net, r->report.layer)->name);
    if (a->d.objective == SONO_DREAM_CHANNEL) cJSON_AddNumberToObject(root, "channel", a->d.channel);
    else cJSON_AddNullToObject(root, "channel");
    if (a->d.objective == SONO_DREAM_CLASS) cJSON_AddStringToObject(root, "class", c->class_names[a->d.class_index]);
    else cJSON_AddNullToObject(root, "class");
    cJSON_AddNumberToObject(root, "octaves", a->d.octaves);
    cJSON_AddNumberToObject(root, "octave_scale", a->d.octave_scale);
    cJSON_AddNumberToObject(root, "iterations", a->d.iterations);
    cJSON_AddNumberToObject(root, "step", a->d.step);
    cJSON_AddNumberToObject(root, "step_db", a->d.step * SONO_DREAM_LEVEL_DB);
    cJSON_AddNumberToObject(root, "jitter", a->d.jitter);
    cJSON_AddNumberToObject(root, "smooth", a->d.smooth);
    cJSON_AddNumberToObject(root, "overlap", a->d.overlap);
    cJSON_AddNumberToObject(root, "seed", (double)a->d.seed);
    cJSON *clip = cJSON_AddArrayToObject(root, "clip_db");
    cJSON_AddItemToArray(clip, cJSON_CreateNumber(r->report.clip_low_db));
    cJSON_AddItemToArray(clip, cJSON_CreateNumber(r->report.clip_high_db));
    cJSON_AddNumberToObject(root, "headroom_db", a->d.headroom_db);
    cJSON_AddNumberToObject(root, "griffin_lim_iterations", a->a.griffin_lim_iterations);
    cJSON_AddNumberToObject(root, "griffin_lim_momentum", a->a.momentum);
    cJSON_AddNumberToObject(root, "hop_divisor",
                            a->a.hop_divisor ? a->a.hop_divisor : sono_dream_hop_divisor(&c->features));
    cJSON_AddNumberToObject(root, "synthesis_hop", r->audio.synthesis_hop);
    cJSON_AddNumberToObject(root, "sample_rate", r->audio.sample_rate);
    cJSON_AddNumberToObject(root, "samples", (double)r->n_out);
    cJSON_AddNumberToObject(root, "frames", r->frames);
    cJSON_AddNumberToObject(root, "windows", r->report.windows);
    cJSON_AddNumberToObject(root, "spectral_convergence", r->audio.convergence);
    cJSON_AddNumberToObject(root, "objective_before", r->report.objective_before);
    cJSON_AddNumberToObject(root, "objective_after", r->report.objective_after);
    cJSON_AddNumberToObject(root, "mean_change_db", r->report.mean_change_db);
    cJSON *curve = cJSON_AddArrayToObject(root, "objective_per_step");
    for (int i = 0; i < r->report.steps; i++) cJSON_AddItemToArray(curve, cJSON_CreateNumber(r->report.objective[i]));
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
    for (; *s; s++) {
        const char *rep = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '"' ? "&quot;" : NULL;
        size_t n = rep ? strlen(rep) : 1;
        if (*len + n + 1 > *cap) {
            size_t ncap = *cap * 2 + n + 256;
            char *nb = realloc(*buf, ncap);
            if (!nb) return;
            *buf = nb, *cap = ncap;
        }
        memcpy(*buf + *len, rep ? rep : s, n);
        *len += n;
        (*buf)[*len] = '\0';
    }
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

static char *dream_html(const dream_args *a, const sono_classifier *c, const dream_result *r, const out_paths *p) {
    char what[256], numbers[512];
    if (a->d.objective == SONO_DREAM_CLASS)
        snprintf(what, sizeof what, "class %s", c->class_names[a->d.class_index]);
    else if (a->d.objective == SONO_DREAM_CHANNEL)
        snprintf(what, sizeof what, "layer %s, channel %d", sono_net_layer(c->net, r->report.layer)->name, a->d.channel);
    else snprintf(what, sizeof what, "layer %s", sono_net_layer(c->net, r->report.layer)->name);
    snprintf(numbers, sizeof numbers,
             "%d octaves (scale %g) x %d iterations, step %g levels (%.2f dB), jitter %d, seed %llu; objective %.4g -> %.4g; "
             "mean change %.1f dB; Griffin-Lim %d iterations at hop %d, spectral convergence %.3f",
             a->d.octaves, a->d.octave_scale, a->d.iterations, a->d.step, a->d.step * SONO_DREAM_LEVEL_DB, a->d.jitter, (unsigned long long)a->d.seed,
             r->report.objective_before, r->report.objective_after, r->report.mean_change_db,
             a->a.griffin_lim_iterations, r->audio.synthesis_hop, r->audio.convergence);
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

static sono_status write_outputs(const dream_args *a, const sono_classifier *c, const dream_result *r,
                                 const out_paths *p, const float *input_samples, const float *dream_samples,
                                 const float *input_db, const float *dream_db, sono_error *err) {
    sono_status s = sono_audio_write_wav(p->wav, dream_samples, r->n_out, r->audio.sample_rate, SONO_WAV_PCM16, err);
    sono_spectrogram_panel panels[2] = {{a->input ? "input" : "noise", input_db, r->frames},
                                        {"dream", dream_db, r->frames}};
    if (s == SONO_OK) s = sono_plot_spectrograms(p->png, &c->features, panels, 2, PLOT_RANGE_DB, err);
    if (s == SONO_OK && a->report) {
        s = sono_audio_write_wav(p->input_wav, input_samples, r->n_in, c->features.sample_rate, SONO_WAV_PCM16, err);
        sono_curve curve = {"objective", r->report.objective, 0};
        if (s == SONO_OK)
            s = sono_plot_curves(p->curve, "objective per step (octaves coarse to fine)", "step", "objective", "",
                                 &curve, 1, r->report.steps, err);
        char *html = s == SONO_OK ? dream_html(a, c, r, p) : NULL;
        if (s == SONO_OK && !html) s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        if (s == SONO_OK) s = write_text(p->html, html, err);
        free(html);
    }
    char *json = s == SONO_OK ? dream_json(a, c, r, p) : NULL;
    if (s == SONO_OK && !json) s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    if (s == SONO_OK) s = write_text(p->json, json, err);
    free(json);
    return s;
}

/* Fail before the work when the output folder cannot take a file. */
static sono_status check_writable(const char *path, sono_error *err) {
    sono_atomic_file f;
    sono_status s = sono_atomic_begin(&f, path, 1, err);
    sono_atomic_abort(&f);
    return s;
}

int cmd_dream(int argc, char **argv) {
    dream_args a;
    int code = 0;
    if (!parse_args(argc, argv, &a, &code)) return code;
    out_paths paths;
    if (!make_paths(a.output, &paths)) return 2;
    cli_log_to_stderr(0);
    sono_error err = {0};
    sono_classifier *c = NULL;
    float *samples = NULL, *input_db = NULL, *x = NULL, *dreamed = NULL, *dream_db = NULL, *sound = NULL;
    dream_result r;
    memset(&r, 0, sizeof r);
    int exit_code = 1;
    sono_status s = check_writable(paths.wav, &err);
    if (s == SONO_OK) s = sono_classifier_load(a.model, DREAM_MAX_BATCH, &c, NULL, &err);
    if (s != SONO_OK) return cli_fail(&err);
    if (!resolve_objective(c, &a)) {
        exit_code = 2;
        goto done;
    }
    const sono_feature_config *cfg = &c->features;
    if (a.input) s = sono_audio_load(a.input, cfg->sample_rate, 0, &samples, &r.n_in, NULL, &err);
    else s = sono_dream_noise(cfg, a.noise, NOISE_LEVEL_DB, a.d.seed, &samples, &r.n_in, &err);
    if (s == SONO_OK) {
        r.frames = sono_feature_frames(cfg, r.n_in);
        if (r.frames < 1)
            s = sono_error_set(&err, SONO_ERR_ARGUMENT, "%s: too short for one frame", a.input ? a.input : "noise");
    }
    size_t cells = (size_t)cfg->n_mels * (size_t)(r.frames > 0 ? r.frames : 1);
    if (s == SONO_OK) {
        input_db = malloc(cells * sizeof(float));
        x = malloc(cells * sizeof(float));
        dreamed = malloc(cells * sizeof(float));
        dream_db = malloc(cells * sizeof(float));
        if (!input_db || !x || !dreamed || !dream_db) s = sono_error_set(&err, SONO_ERR_MEMORY, "out of memory");
    }
    sono_logmel *lm = s == SONO_OK ? sono_logmel_new(cfg, &err) : NULL;
    if (s == SONO_OK && !lm) s = err.status;
    if (s == SONO_OK) s = sono_logmel_compute(lm, samples, r.n_in, input_db, &err);
    sono_logmel_free(lm);
    cli_progress bar;
    if (s == SONO_OK) {
        memcpy(x, input_db, cells * sizeof(float));
        sono_classifier_standardize(c, x, r.frames);
        cli_progress_start(&bar, "dream", (int64_t)a.d.octaves * a.d.iterations);
        if (a.quiet) bar.enabled = 0;
        a.d.progress = progress;
        a.d.progress_user = &bar;
        void (*previous)(int) = signal(SIGINT, on_sigint);
        s = sono_dream_run(c, x, r.frames, &a.d, dreamed, &r.report, &err);
        signal(SIGINT, previous == SIG_ERR ? SIG_DFL : previous);
        if (bar.enabled) fputc('\n', stderr);
    }
    if (s == SONO_OK) {
        if (!a.quiet && bar.enabled) fprintf(stderr, "griffin-lim (%d iterations)...\n", a.a.griffin_lim_iterations);
        s = sono_dream_to_audio(c, dreamed, r.frames, samples, r.n_in, &a.a, &sound, &r.n_out, &r.audio, &err);
    }
    if (s == SONO_OK) {
        memcpy(dream_db, dreamed, cells * sizeof(float));
        sono_classifier_unstandardize(c, dream_db, r.frames);
        s = write_outputs(&a, c, &r, &paths, samples, sound, input_db, dream_db, &err);
    }
    if (s != SONO_OK) {
        cli_fail(&err);
        goto done;
    }
    const char *layer = sono_net_layer(c->net, r.report.layer)->name;
    printf("wrote %s (%.2f s at %d Hz)\n", paths.wav, (double)r.n_out / r.audio.sample_rate, r.audio.sample_rate);
    printf("wrote %s\nwrote %s\n", paths.png, paths.json);
    if (a.report) printf("wrote %s\nwrote %s\nwrote %s\n", paths.html, paths.input_wav, paths.curve);
    if (a.d.objective == SONO_DREAM_CLASS)
        printf("objective: logit of class %s", c->class_names[a.d.class_index]);
    else if (a.d.objective == SONO_DREAM_CHANNEL)
        printf("objective: mean of %s channel %d", layer, a.d.channel);
    else
        printf("objective: mean squared activation of %s", layer);
    printf(": %.6g -> %.6g (%d windows, mean change %.2f dB)\n", r.report.objective_before, r.report.objective_after,
           r.report.windows, r.report.mean_change_db);
    printf("griffin-lim: %d iterations at hop %d, spectral convergence %.4f\n", a.a.griffin_lim_iterations,
           r.audio.synthesis_hop, r.audio.convergence);
    exit_code = 0;
done:
    sono_dream_report_free(&r.report);
    free(samples), free(input_db), free(x), free(dreamed), free(dream_db), free(sound);
    sono_classifier_free(c);
    return exit_code;
}
