/* sonodream serve: what a job's status reads (api_json.c's status object):
 * its state's name and its place in the queue. Below both jobs.c and
 * api_json.c, which calls nothing in jobs.c. */
#include "serve/serve_internal.h"

const char *serve_job_state_name(job_state state) {
    static const char *names[] = {"queued", "running", "done", "failed", "cancelled"};
    return names[state];
}

int serve_job_position(const sono_server *s, const serve_job *job) {
    if (job->state != JOB_QUEUED) return 0;
    int ahead = 0;
    for (const serve_job *j = s->head; j && j != job; j = j->next) ahead += j->state == JOB_QUEUED;
    return ahead + 1;
}
