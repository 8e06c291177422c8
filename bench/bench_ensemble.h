/* The models named in SONO_BENCH_ENSEMBLE (comma-separated paths) that a
 * benchmark's dreams take as their ensemble (sono_dream_options.ensemble). */
#ifndef SONO_BENCH_ENSEMBLE_H
#define SONO_BENCH_ENSEMBLE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sonodream/classifier.h"
#include "sonodream/dream.h"

/* Loads them into models (up to SONO_DREAM_MAX_ENSEMBLE); returns how many,
 * or -1 after printing the library's message. */
static inline int bench_load_ensemble(sono_classifier **models) {
    const char *list = getenv("SONO_BENCH_ENSEMBLE");
    if (!list || !*list) return 0;
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", list);
    int count = 0;
    for (char *p = strtok(buf, ","); p && count < SONO_DREAM_MAX_ENSEMBLE; p = strtok(NULL, ",")) {
        sono_error err = {0};
        if (sono_classifier_load(p, 8, &models[count], NULL, &err) != SONO_OK) {
            fprintf(stderr, "SONO_BENCH_ENSEMBLE: %s\n", err.message);
            return -1;
        }
        count++;
    }
    return count;
}

#endif
