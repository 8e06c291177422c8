/* What a dream was (its report) and what a model offers to dream with (its
 * description), as JSON: built here once for every client (the CLI's dream,
 * layers, the server's API, the atlas, the Python package), which add only
 * their own keys. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "sonodream/dream.h"

/* A number as cJSON holds it (cJSON_Print writes 15 digits when they read
 * back within an ulp), or, exact, as the text of the shortest of 15 to 17
 * digits that reads back the same double (null when not finite): the text
 * calls (*_to_json) serve bindings, which take the library's numbers as
 * they are. */
static cJSON *number(double v, int exact) {
    if (!exact) return cJSON_CreateNumber(v);
    if (!isfinite(v)) return cJSON_CreateNull();
    char text[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, v);
        if (strtod(text, NULL) == v) break;
    }
    return cJSON_CreateRaw(text);
}

static void add_number(cJSON *o, const char *key, double v, int exact) {
    cJSON_AddItemToObject(o, key, number(v, exact));
}

static void add_name_list(cJSON *o, const char *key, const char *const *names, int count) {
    cJSON *list = cJSON_AddArrayToObject(o, key);
    for (int i = 0; i < count; i++) cJSON_AddItemToArray(list, cJSON_CreateString(names[i]));
}

static void add_shape(cJSON *o, const char *key, sono_shape shape, int exact) {
    cJSON *list = cJSON_AddArrayToObject(o, key);
    cJSON_AddItemToArray(list, number(shape.c, exact));
    cJSON_AddItemToArray(list, number(shape.h, exact));
    cJSON_AddItemToArray(list, number(shape.w, exact));
}

/* A texture's or style's layers with their weights, and the content's pull. */
static void add_texture(cJSON *o, const sono_classifier *c, const sono_dream_options *d, int exact) {
    cJSON *layers = cJSON_AddArrayToObject(o, "texture_layers");
    int index[SONO_DREAM_GRAM_MAX_LAYERS];
    double weight[SONO_DREAM_GRAM_MAX_LAYERS];
    const int count = d->objective == SONO_DREAM_GRAM ? sono_dream_gram_layers(d->gram, index, weight) : 0;
    for (int i = 0; i < count; i++) {
        cJSON *item = cJSON_CreateObject();
        cJSON_AddStringToObject(item, "layer", sono_net_layer(c->net, index[i])->name);
        add_number(item, "weight", weight[i], exact);
        cJSON_AddItemToArray(layers, item);
    }
    add_number(o, "content_weight", d->content_weight, exact);
}

/* The objective and how the ascent and the render were asked to run. */
static void add_request(cJSON *o, const sono_classifier *c, const sono_dream_request *req, int layer, int exact) {
    const sono_dream_options *d = &req->ascent;
    cJSON_AddStringToObject(o, "objective", sono_dream_objective_name(d->objective));
    cJSON_AddStringToObject(o, "layer", sono_net_layer(c->net, layer)->name);
    if (d->objective == SONO_DREAM_CHANNEL) add_number(o, "channel", d->channel, exact);
    else cJSON_AddNullToObject(o, "channel");
    if (d->objective == SONO_DREAM_CLASS) cJSON_AddStringToObject(o, "class", c->class_names[d->class_index]);
    else cJSON_AddNullToObject(o, "class");
    cJSON_AddStringToObject(o, "render", sono_dream_render_name(req->render));
    cJSON_AddStringToObject(o, "stereo", req->stereo == SONO_STEREO_JOINT ? "joint" : "per-channel");
    cJSON_AddBoolToObject(o, "mono", req->mono);
    add_number(o, "ceiling", req->ceiling, exact);
    add_number(o, "segment_seconds", req->segment_seconds, exact);
    add_number(o, "settle_steps", req->render == SONO_RENDER_MASK ? req->settle_steps : 0, exact);
    add_number(o, "octaves", d->octaves, exact);
    add_number(o, "octave_scale", d->octave_scale, exact);
    add_number(o, "iterations", d->iterations, exact);
    add_number(o, "step", d->step, exact);
    add_number(o, "step_db", d->step * SONO_DREAM_LEVEL_DB, exact);
    add_number(o, "step_final", d->step_final, exact);
    add_number(o, "jitter", d->jitter, exact);
    add_number(o, "smooth", d->smooth, exact);
    add_number(o, "headroom_db", d->headroom_db, exact);
    add_number(o, "overlap", d->overlap, exact);
    add_number(o, "shift_bands", d->band_shift, exact);
    add_number(o, "gain_jitter_db", d->gain_db, exact);
    add_number(o, "noise_jitter_db", d->noise_db, exact);
    cJSON_AddBoolToObject(o, "guide_same_row", d->guide_same_row);
    add_texture(o, c, d, exact);
    add_number(o, "seed", (double)d->seed, exact);
}

/* The request, then what came out. */
static int add_report(cJSON *o, const sono_classifier *c, const sono_dream_request *req, const sono_dream_result *r,
                      int exact) {
    if (!o) return 0;
    add_request(o, c, req, r->layer, exact);
    if (req->render == SONO_RENDER_GRIFFIN_LIM) {
        const sono_dream_audio_options *g = &req->griffin_lim;
        add_number(o, "griffin_lim_iterations", g->griffin_lim_iterations, exact);
        add_number(o, "griffin_lim_momentum", g->momentum, exact);
        int hop_divisor = g->hop_divisor ? g->hop_divisor : sono_dream_hop_divisor(&c->features);
        add_number(o, "hop_divisor", hop_divisor, exact);
        add_number(o, "spectral_convergence", r->convergence, exact);
    }
    add_number(o, "sample_rate", r->sample_rate, exact);
    add_number(o, "channels", r->channels, exact);
    add_number(o, "samples", (double)r->frames, exact);
    add_number(o, "frames", r->spec_frames, exact);
    add_number(o, "segments", r->segments, exact);
    add_number(o, "windows", r->windows, exact);
    add_number(o, "objective_before", r->objective_before, exact);
    add_number(o, "objective_after", r->objective_after, exact);
    add_number(o, "mean_change_db", r->mean_change_db, exact);
    add_number(o, "consistency_db", r->consistency_db, exact);
    add_number(o, "limited_share", r->limited_share, exact);
    cJSON *curve = cJSON_AddArrayToObject(o, "objective_per_step");
    for (int i = 0; i < r->steps; i++) cJSON_AddItemToArray(curve, number(r->objective[i], exact));
    return curve != NULL;
}

/* cJSON_PrintUnformatted, the tree deleted. */
static char *print(cJSON *o) {
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

int sono_dream_result_add_json(struct cJSON *into, const sono_classifier *c, const sono_dream_request *req,
                               const sono_dream_result *r) {
    return add_report(into, c, req, r, 0);
}

char *sono_dream_result_to_json(const sono_classifier *c, const sono_dream_request *req, const sono_dream_result *r) {
    cJSON *o = cJSON_CreateObject();
    if (!add_report(o, c, req, r, 1)) return cJSON_Delete(o), NULL;
    return print(o);
}

static void add_layers(cJSON *o, const sono_net *net, int exact) {
    cJSON *layers = cJSON_AddArrayToObject(o, "layers");
    for (int i = 0; i < sono_net_layer_count(net); i++) {
        const sono_layer_info *li = sono_net_layer(net, i);
        cJSON *l = cJSON_CreateObject();
        add_number(l, "index", i, exact);
        cJSON_AddStringToObject(l, "name", li->name);
        cJSON_AddStringToObject(l, "type", sono_layer_type_name(li->type));
        add_shape(l, "output_shape", li->out, exact);
        add_number(l, "channels", li->out.c, exact);
        cJSON_AddBoolToObject(l, "needs_full_window", sono_dream_needs_full_window(net, i));
        cJSON_AddItemToArray(layers, l);
    }
}

/* The request's defaults a form starts from. */
static void add_defaults(cJSON *o, int exact) {
    sono_dream_request d;
    sono_dream_request_defaults(&d);
    cJSON *defaults = cJSON_AddObjectToObject(o, "defaults");
    cJSON_AddStringToObject(defaults, "objective", sono_dream_objective_name(d.ascent.objective));
    add_number(defaults, "octaves", d.ascent.octaves, exact);
    add_number(defaults, "iterations", d.ascent.iterations, exact);
    add_number(defaults, "step", d.ascent.step, exact);
    add_number(defaults, "seed", (double)d.ascent.seed, exact);
    cJSON_AddStringToObject(defaults, "render", sono_dream_render_name(d.render));
}

static int add_model(cJSON *o, const sono_classifier *c, int exact) {
    if (!o) return 0;
    const sono_net *net = c->net;
    cJSON_AddStringToObject(o, "arch", sono_net_spec(net));
    add_shape(o, "input_shape", sono_net_input_shape(net), exact);
    add_name_list(o, "classes", (const char *const *)c->class_names, c->class_count);
    add_layers(o, net, exact);
    cJSON_AddStringToObject(o, "default_layer", sono_net_layer(net, sono_dream_default_layer(net))->name);
    add_number(o, "sample_rate", c->features.sample_rate, exact);
    char *features = sono_feature_config_to_json(&c->features); /* its numbers exact */
    cJSON *f = !features ? NULL : exact ? cJSON_CreateRaw(features) : cJSON_Parse(features);
    free(features);
    cJSON_AddItemToObject(o, "features", f ? f : cJSON_CreateNull());
    add_defaults(o, exact);
    return f && cJSON_GetObjectItemCaseSensitive(o, "defaults") != NULL;
}

int sono_dream_model_add_json(struct cJSON *into, const sono_classifier *c) {
    return add_model(into, c, 0);
}

char *sono_dream_model_to_json(const sono_classifier *c) {
    cJSON *o = cJSON_CreateObject();
    if (!add_model(o, c, 1)) return cJSON_Delete(o), NULL;
    return print(o);
}
