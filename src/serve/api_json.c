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
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", m->name);
    sono_dream_model_add_json(o, m->meta);
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
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model", m->name);
    cJSON_AddStringToObject(o, "input", job->input_name);
    sono_dream_result_add_json(o, m->meta, &job->req, r);
    cJSON_AddNumberToObject(o, "seconds", r->sample_rate ? (double)r->frames / r->sample_rate : 0);
    cJSON_AddNumberToObject(o, "dream_seconds", seconds);
    return print(o);
}
