/* Fold sets: "1-9", "10", "1,3,5-7". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sonodream/train.h"

static int parse_fold(const char **p, int *out) {
    char *end;
    errno = 0;
    long v = strtol(*p, &end, 10);
    if (end == *p || errno || v < 1 || v > 63) return 0;
    *out = (int)v;
    *p = end;
    return 1;
}

sono_status sono_folds_parse(const char *text, sono_folds *out, sono_error *err) {
    sono_folds mask = 0;
    const char *p = text;
    int dangling = 0; /* a comma with nothing after it */
    while (*p) {
        dangling = 0;
        int lo, hi;
        if (!parse_fold(&p, &lo)) break;
        hi = lo;
        if (*p == '-') {
            p++;
            if (!parse_fold(&p, &hi) || hi < lo) break;
        }
        for (int f = lo; f <= hi; f++) mask |= (sono_folds)1 << f;
        if (*p == ',') {
            p++;
            dangling = 1;
        } else if (*p) {
            break;
        }
    }
    if (*p || !mask || dangling)
        return sono_error_set(err, SONO_ERR_ARGUMENT,
                              "folds '%s': expected fold numbers 1..63 as a list or ranges, e.g. 1-9 or 1,3,5-7",
                              text);
    *out = mask;
    return SONO_OK;
}

void sono_folds_format(sono_folds folds, char *buf, int size) {
    int used = 0;
    buf[0] = '\0';
    for (int f = 1; f <= 63 && used < size; f++) {
        if (!sono_folds_has(folds, f) || sono_folds_has(folds, f - 1)) continue;
        int last = f;
        while (last < 63 && sono_folds_has(folds, last + 1)) last++;
        int n = last > f ? snprintf(buf + used, (size_t)(size - used), "%s%d-%d", used ? "," : "", f, last)
                         : snprintf(buf + used, (size_t)(size - used), "%s%d", used ? "," : "", f);
        if (n < 0) break;
        used += n;
    }
}
