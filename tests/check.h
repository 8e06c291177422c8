/* Minimal test harness: checks print file:line and count failures; a test
 * executable returns non-zero when any check failed. */
#ifndef SONO_TEST_CHECK_H
#define SONO_TEST_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int check_failures = 0;

#define CHECK(cond)                                                                     \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);    \
            check_failures++;                                                           \
        }                                                                               \
    } while (0)

#define CHECK_MSG(cond, ...)                                                            \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond);    \
            fprintf(stderr, __VA_ARGS__);                                               \
            fputc('\n', stderr);                                                        \
            check_failures++;                                                           \
        }                                                                               \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                           \
    do {                                                                                \
        double check_a_ = (double)(a), check_b_ = (double)(b);                          \
        if (!(fabs(check_a_ - check_b_) <= (tol))) {                                    \
            fprintf(stderr, "%s:%d: CHECK_NEAR failed: %s = %.9g, %s = %.9g, tol %g\n",  \
                    __FILE__, __LINE__, #a, check_a_, #b, check_b_, (double)(tol));     \
            check_failures++;                                                           \
        }                                                                               \
    } while (0)

/* A status-returning call that must succeed; prints the library's message. */
#define CHECK_OK(call)                                                                  \
    do {                                                                                \
        if ((call) != SONO_OK) {                                                        \
            fprintf(stderr, "%s:%d: %s failed\n", __FILE__, __LINE__, #call);           \
            check_failures++;                                                           \
        }                                                                               \
    } while (0)

/* A fresh temporary folder for a test's files (removed by test_cleanup_dir). */
static inline char *test_make_dir(void) {
    static char path[256];
    snprintf(path, sizeof path, "/tmp/sono-test-XXXXXX");
    if (!mkdtemp(path)) {
        perror("mkdtemp");
        exit(2);
    }
    return path;
}

static inline void test_cleanup_dir(const char *path) {
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not remove %s\n", path);
}

/* Root of the source tree (for fixtures), from CTest's environment. */
static inline const char *test_source_dir(void) {
    const char *d = getenv("SONO_SOURCE_DIR");
    return d ? d : ".";
}

/* The sonodream binary under test, from CTest's environment; exits when unset. */
static inline const char *test_binary(void) {
    const char *b = getenv("SONO_BINARY");
    if (!b) {
        fprintf(stderr, "SONO_BINARY is not set (run through ctest)\n");
        exit(1);
    }
    return b;
}

static inline int test_result(const char *name) {
    if (check_failures) fprintf(stderr, "%s: %d check(s) failed\n", name, check_failures);
    else fprintf(stderr, "%s: all checks passed\n", name);
    return check_failures ? 1 : 0;
}

#endif
