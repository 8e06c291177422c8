/* The API's JSON: the models, the examples, a dream's status and report. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_internal.h"

/* cJSON_PrintUnformatted, the tree deleted. */
static char *print(cJSON *root) {
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

char *serve_error_json(const char *message) {
    cJSON *root = cJSON_CreateObject();
    cJSON_AddStringToObject(root, "error", message);
    return print(root);
}

static cJSON *model_json(const serve_model *m) {
    const sono_classifier *c = m->meta;
    const sono_net *net = c->net;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", m->name);
    cJSON *classes = cJSON_AddArrayToObject(o, "classes");
    for (int i = 0; i < c->class_count; i++) cJSON_AddItemToArray(classes, cJSON_CreateString(c->class_names[i]));
    cJSON *layers = cJSON_AddArrayToObject(o, "layers");
    for (int i = 0; i < sono_net_layer_count(net); i++) {
        const sono_layer_info *li = sono_net_layer(net, i);
        cJSON *l = cJSON_CreateObject();
        cJSON_AddStringToObject(l, "name", li->name);
        cJSON_AddNumberToObject(l, "channels", li->out.c);
        cJSON_AddStringToObject(l, "type", sono_layer_type_name(li->type));
        cJSON_AddItemToArray(layers, l);
    }
    cJSON_AddStringToObject(o, "default_layer", sono_net_layer(net, sono_dream_default_layer(net))->name);
    cJSON_AddNumberToObject(o, "sample_rate", c->features.sample_rate);
    char *features = sono_feature_config_to_json(&c->features);
    cJSON *f = features ? cJSON_Parse(features) : NULL;
    free(features);
    cJSON_AddItemToObject(o, "features", f ? f : cJSON_CreateNull());
    sono_dream_request d;
    sono_dream_request_defaults(&d);
    cJSON *defaults = cJSON_AddObjectToObject(o, "defaults");
    cJSON_AddStringToObject(defaults, "objective", "layer");
    cJSON_AddNumberToObject(defaults, "octaves", d.ascent.octaves);
    cJSON_AddNumberToObject(defaults, "iterations", d.ascent.iterations);
    cJSON_AddNumberToObject(defaults, "step", d.ascent.step);
    cJSON_AddNumberToObject(defaults, "seed", (double)d.ascent.seed);
    cJSON_AddStringToObject(defaults, "render", sono_dream_render_name(d.render));
    return o;
}

char *serve_models_json(const sono_server *s) {
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; i < s->model_count; i++) cJSON_AddItemToArray(list, model_json(&s->models[i]));
    return print(list);
}

char *serve_examples_json(const sono_server *s) {
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; i < s->example_count; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddStringToObject(e, "name", s->examples[i].name);
        cJSON_AddItemToArray(list, e);
    }
    return print(list);
}

char *serve_job_status_json(const sono_server *s, const serve_job *job) {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "id", job->id);
    cJSON_AddStringToObject(o, "state", serve_job_state_name(job->state));
    cJSON_AddNumberToObject(o, "progress", job->progress);
    cJSON_AddNumberToObject(o, "position", serve_job_position(s, job));
    if (job->error) cJSON_AddStringToObject(o, "error", job->error);
    else cJSON_AddNullToObject(o, "error");
    cJSON *report = job->report ? cJSON_Parse(job->report) : NULL;
    cJSON_AddItemToObject(o, "report", report ? report : cJSON_CreateNull());
    cJSON_AddStringToObject(o, "model", s->models[job->model].name);
    cJSON_AddStringToObject(o, "input", job->input_name);
    return print(o);
}

char *serve_report_json(const serve_model *m, const serve_job *job, const sono_dream_result *r, double seconds) {
    const sono_classifier *c = m->meta;
    const sono_dream_options *d = &job->req.ascent;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", m->name);
    cJSON_AddStringToObject(o, "input", job->input_name);
    cJSON_AddStringToObject(o, "objective", sono_dream_objective_name(d->objective));
    cJSON_AddStringToObject(o, "layer", sono_net_layer(c->net, r->layer)->name);
    if (d->objective == SONO_DREAM_CHANNEL) cJSON_AddNumberToObject(o, "channel", d->channel);
    else cJSON_AddNullToObject(o, "channel");
    if (d->objective == SONO_DREAM_CLASS) cJSON_AddStringToObject(o, "class", c->class_names[d->class_index]);
    else cJSON_AddNullToObject(o, "class");
    cJSON_AddStringToObject(o, "render", sono_dream_render_name(job->req.render));
    cJSON_AddNumberToObject(o, "octaves", d->octaves);
    cJSON_AddNumberToObject(o, "iterations", d->iterations);
    cJSON_AddNumberToObject(o, "step", d->step);
    cJSON_AddNumberToObject(o, "step_db", d->step * SONO_DREAM_LEVEL_DB);
    cJSON_AddNumberToObject(o, "seed", (double)d->seed);
    cJSON_AddNumberToObject(o, "sample_rate", r->sample_rate);
    cJSON_AddNumberToObject(o, "channels", r->channels);
    cJSON_AddNumberToObject(o, "seconds", r->sample_rate ? (double)r->frames / r->sample_rate : 0);
    cJSON_AddNumberToObject(o, "segments", r->segments);
    cJSON_AddNumberToObject(o, "windows", r->windows);
    cJSON_AddNumberToObject(o, "objective_before", r->objective_before);
    cJSON_AddNumberToObject(o, "objective_after", r->objective_after);
    cJSON_AddNumberToObject(o, "mean_change_db", r->mean_change_db);
    cJSON_AddNumberToObject(o, "consistency_db", r->consistency_db);
    cJSON_AddNumberToObject(o, "limited_share", r->limited_share);
    cJSON *curve = cJSON_AddArrayToObject(o, "objective_per_step");
    for (int i = 0; i < r->steps; i++) cJSON_AddItemToArray(curve, cJSON_CreateNumber(r->objective[i]));
    cJSON_AddNumberToObject(o, "dream_seconds", seconds);
    return print(o);
}
