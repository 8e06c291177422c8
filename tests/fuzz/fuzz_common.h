/* Shared by the libFuzzer targets: the readers under test take a path, so
 * each input is written to one scratch file per process first. */
#ifndef SONO_FUZZ_COMMON_H
#define SONO_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sonodream/error.h"

/* The scratch file lives in /dev/shm when it exists: the disk is not the
 * thing under test and would cost most of the executions per second. */
static inline const char *fuzz_scratch_path(const char *suffix) {
    static char path[256];
    if (!path[0]) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(path, sizeof path, "%s/sono-fuzz-%ld%s", dir, (long)getpid(), suffix);
    }
    return path;
}

static inline int fuzz_write_scratch(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f) return 0;
    int ok = fwrite(data, 1, size, f) == size;
    return fclose(f) == 0 && ok;
}

/* A refusal must say something: an empty message is a defect too. */
static inline void fuzz_check_refusal(sono_status s, const sono_error *err) {
    if (s != SONO_OK && err->message[0] == '\0') {
        fprintf(stderr, "refused with status %d but no message\n", (int)s);
        abort();
    }
}

#endif
