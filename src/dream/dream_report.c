/* What a dream was (its report) and what a model offers to dream with (its
 * description), as JSON: built here once for every client (the CLI's dream,
 * layers, the server's API, the atlas, the Python package), which add only
 * their own keys. */
#include <cjson/cJSON.h>
#include <stdlib.h>

#include "sonodream/dream.h"

static void add_name_list(cJSON *o, const char *key, const char *const *names, int count) {
    cJSON *list = cJSON_AddArrayToObject(o, key);
    for (int i = 0; i < count; i++) cJSON_AddItemToArray(list, cJSON_CreateString(names[i]));
}

static void add_shape(cJSON *o, const char *key, sono_shape shape) {
    cJSON *list = cJSON_AddArrayToObject(o, key);
    cJSON_AddItemToArray(list, cJSON_CreateNumber(shape.c));
    cJSON_AddItemToArray(list, cJSON_CreateNumber(shape.h));
    cJSON_AddItemToArray(list, cJSON_CreateNumber(shape.w));
}

/* The objective and how the ascent and the render were asked to run. */
static void add_request(cJSON *o, const sono_classifier *c, const sono_dream_request *req, int layer,
                        const char *const *ensemble_names) {
    const sono_dream_options *d = &req->ascent;
    cJSON_AddStringToObject(o, "objective", sono_dream_objective_name(d->objective));
    cJSON_AddStringToObject(o, "layer", sono_net_layer(c->net, layer)->name);
    if (d->objective == SONO_DREAM_CHANNEL) cJSON_AddNumberToObject(o, "channel", d->channel);
    else cJSON_AddNullToObject(o, "channel");
    if (d->objective == SONO_DREAM_CLASS) cJSON_AddStringToObject(o, "class", c->class_names[d->class_index]);
    else cJSON_AddNullToObject(o, "class");
    cJSON_AddStringToObject(o, "render", sono_dream_render_name(req->render));
    cJSON_AddStringToObject(o, "stereo", req->stereo == SONO_STEREO_JOINT ? "joint" : "per-channel");
    cJSON_AddBoolToObject(o, "mono", req->mono);
    cJSON_AddNumberToObject(o, "ceiling", req->ceiling);
    cJSON_AddNumberToObject(o, "segment_seconds", req->segment_seconds);
    cJSON_AddNumberToObject(o, "settle_steps", req->render == SONO_RENDER_MASK ? req->settle_steps : 0);
    cJSON_AddNumberToObject(o, "octaves", d->octaves);
    cJSON_AddNumberToObject(o, "octave_scale", d->octave_scale);
    cJSON_AddNumberToObject(o, "iterations", d->iterations);
    cJSON_AddNumberToObject(o, "step", d->step);
    cJSON_AddNumberToObject(o, "step_db", d->step * SONO_DREAM_LEVEL_DB);
    cJSON_AddNumberToObject(o, "jitter", d->jitter);
    cJSON_AddNumberToObject(o, "smooth", d->smooth);
    cJSON_AddNumberToObject(o, "headroom_db", d->headroom_db);
    cJSON_AddNumberToObject(o, "overlap", d->overlap);
    cJSON_AddNumberToObject(o, "shift_bands", d->band_shift);
    cJSON_AddNumberToObject(o, "gain_jitter_db", d->gain_db);
    cJSON_AddNumberToObject(o, "noise_jitter_db", d->noise_db);
    cJSON_AddBoolToObject(o, "guide_same_row", d->guide_same_row);
    if (ensemble_names) add_name_list(o, "ensemble", ensemble_names, d->ensemble_count);
    cJSON_AddNumberToObject(o, "seed", (double)d->seed);
}

int sono_dream_result_add_json(struct cJSON *o, const sono_classifier *c, const sono_dream_request *req,
                               const sono_dream_result *r, const char *const *ensemble_names) {
    if (!o) return 0;
    add_request(o, c, req, r->layer, ensemble_names);
    if (req->render == SONO_RENDER_GRIFFIN_LIM) {
        const sono_dream_audio_options *g = &req->griffin_lim;
        cJSON_AddNumberToObject(o, "griffin_lim_iterations", g->griffin_lim_iterations);
        cJSON_AddNumberToObject(o, "griffin_lim_momentum", g->momentum);
        int hop_divisor = g->hop_divisor ? g->hop_divisor : sono_dream_hop_divisor(&c->features);
        cJSON_AddNumberToObject(o, "hop_divisor", hop_divisor);
        cJSON_AddNumberToObject(o, "spectral_convergence", r->convergence);
    }
    cJSON_AddNumberToObject(o, "sample_rate", r->sample_rate);
    cJSON_AddNumberToObject(o, "channels", r->channels);
    cJSON_AddNumberToObject(o, "samples", (double)r->frames);
    cJSON_AddNumberToObject(o, "frames", r->spec_frames);
    cJSON_AddNumberToObject(o, "segments", r->segments);
    cJSON_AddNumberToObject(o, "windows", r->windows);
    cJSON_AddNumberToObject(o, "objective_before", r->objective_before);
    cJSON_AddNumberToObject(o, "objective_after", r->objective_after);
    cJSON_AddNumberToObject(o, "mean_change_db", r->mean_change_db);
    cJSON_AddNumberToObject(o, "consistency_db", r->consistency_db);
    cJSON_AddNumberToObject(o, "limited_share", r->limited_share);
    cJSON *curve = cJSON_AddArrayToObject(o, "objective_per_step");
    for (int i = 0; i < r->steps; i++) cJSON_AddItemToArray(curve, cJSON_CreateNumber(r->objective[i]));
    return curve != NULL;
}

/* cJSON_PrintUnformatted, the tree deleted. */
static char *print(cJSON *o) {
    char *text = o ? cJSON_PrintUnformatted(o) : NULL;
    cJSON_Delete(o);
    return text;
}

char *sono_dream_result_to_json(const sono_classifier *c, const sono_dream_request *req, const sono_dream_result *r,
                                const char *const *ensemble_names) {
    cJSON *o = cJSON_CreateObject();
    if (!sono_dream_result_add_json(o, c, req, r, ensemble_names)) return cJSON_Delete(o), NULL;
    return print(o);
}

static void add_layers(cJSON *o, const sono_net *net) {
    cJSON *layers = cJSON_AddArrayToObject(o, "layers");
    for (int i = 0; i < sono_net_layer_count(net); i++) {
        const sono_layer_info *li = sono_net_layer(net, i);
        cJSON *l = cJSON_CreateObject();
        cJSON_AddNumberToObject(l, "index", i);
        cJSON_AddStringToObject(l, "name", li->name);
        cJSON_AddStringToObject(l, "type", sono_layer_type_name(li->type));
        add_shape(l, "output_shape", li->out);
        cJSON_AddNumberToObject(l, "channels", li->out.c);
        cJSON_AddBoolToObject(l, "needs_full_window", sono_dream_needs_full_window(net, i));
        cJSON_AddItemToArray(layers, l);
    }
}

/* The request's defaults a form starts from. */
static void add_defaults(cJSON *o) {
    sono_dream_request d;
    sono_dream_request_defaults(&d);
    cJSON *defaults = cJSON_AddObjectToObject(o, "defaults");
    cJSON_AddStringToObject(defaults, "objective", sono_dream_objective_name(d.ascent.objective));
    cJSON_AddNumberToObject(defaults, "octaves", d.ascent.octaves);
    cJSON_AddNumberToObject(defaults, "iterations", d.ascent.iterations);
    cJSON_AddNumberToObject(defaults, "step", d.ascent.step);
    cJSON_AddNumberToObject(defaults, "seed", (double)d.ascent.seed);
    cJSON_AddStringToObject(defaults, "render", sono_dream_render_name(d.render));
}

int sono_dream_model_add_json(struct cJSON *o, const sono_classifier *c) {
    if (!o) return 0;
    const sono_net *net = c->net;
    cJSON_AddStringToObject(o, "arch", sono_net_spec(net));
    add_shape(o, "input_shape", sono_net_input_shape(net));
    add_name_list(o, "classes", (const char *const *)c->class_names, c->class_count);
    add_layers(o, net);
    cJSON_AddStringToObject(o, "default_layer", sono_net_layer(net, sono_dream_default_layer(net))->name);
    cJSON_AddNumberToObject(o, "sample_rate", c->features.sample_rate);
    char *features = sono_feature_config_to_json(&c->features);
    cJSON *f = features ? cJSON_Parse(features) : NULL;
    free(features);
    cJSON_AddItemToObject(o, "features", f ? f : cJSON_CreateNull());
    add_defaults(o);
    return cJSON_GetObjectItemCaseSensitive(o, "defaults") != NULL;
}

char *sono_dream_model_to_json(const sono_classifier *c) {
    cJSON *o = cJSON_CreateObject();
    if (!sono_dream_model_add_json(o, c)) return cJSON_Delete(o), NULL;
    return print(o);
}
