/* Outputs that are never half-written (sono_atomic_*), and inputs that must
 * be regular files (sono_open_input). */
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"
#include "sonodream/fileio.h"

static char dir[256];

static const char *in_dir(const char *name) {
    static char path[2][1024];
    static int next = 0;
    next ^= 1;
    snprintf(path[next], sizeof path[next], "%s/%s", dir, name);
    return path[next];
}

static int content_is(const char *name, const char *expected) {
    char buf[4096];
    FILE *f = fopen(in_dir(name), "rb");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = '\0';
    return f && strcmp(buf, expected) == 0;
}

static int count_temporaries(void) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -c 'tmp-' > '%s/count.txt'", dir, dir);
    if (system(cmd) == -1) return -1;
    FILE *f = fopen(in_dir("count.txt"), "r");
    int n = -1;
    if (f && fscanf(f, "%d", &n) != 1) n = -1;
    if (f) fclose(f);
    remove(in_dir("count.txt"));
    return n;
}

static void write_file(const char *name, const char *text) {
    sono_atomic_file f = {0};
    sono_error err = {0};
    CHECK_OK(sono_atomic_begin(&f, in_dir(name), 1, &err));
    CHECK_OK(sono_atomic_write(&f, text, strlen(text), &err));
    CHECK_OK(sono_atomic_commit(&f, &err));
}

static void test_commit_and_abort(void) {
    write_file("out.txt", "first version");
    CHECK(content_is("out.txt", "first version") && count_temporaries() == 0);
    write_file("out.txt", "second version");
    CHECK(content_is("out.txt", "second version") && count_temporaries() == 0);

    /* Abandoned half way: the old file stands, the temporary is gone. */
    sono_atomic_file f = {0};
    sono_error err = {0};
    CHECK_OK(sono_atomic_begin(&f, in_dir("out.txt"), 1, &err));
    CHECK_OK(sono_atomic_write(&f, "third", 5, &err));
    CHECK(count_temporaries() == 1);
    sono_atomic_abort(&f);
    CHECK(content_is("out.txt", "second version") && count_temporaries() == 0);
    sono_atomic_abort(&f); /* twice is harmless */

    /* A folder that does not exist: refused, naming the output. */
    const char *nowhere = in_dir("missing/out.txt");
    CHECK(sono_atomic_begin(&f, nowhere, 1, &err) != SONO_OK);
    CHECK_MSG(strstr(err.message, nowhere) != NULL, "%s", err.message);

    /* The whole file in one call: the same, and the same refusal. */
    char missing[512];
    snprintf(missing, sizeof missing, "%s", nowhere); /* in_dir's buffer is reused */
    CHECK_OK(sono_atomic_write_file(in_dir("out.txt"), "fourth", 6, &err));
    CHECK(content_is("out.txt", "fourth") && count_temporaries() == 0);
    CHECK(sono_atomic_write_file(missing, "fifth", 5, &err) != SONO_OK);
    CHECK_MSG(strstr(err.message, missing) != NULL, "%s", err.message);
    CHECK(content_is("out.txt", "fourth") && count_temporaries() == 0);
}

/* A writer killed with SIGKILL mid-file (no handler, no cleanup): the
 * destination still holds the previous complete file. */
static void test_killed_writer(void) {
    write_file("model.bin", "the complete previous model");
    int ready[2];
    CHECK(pipe(ready) == 0);
    pid_t pid = fork();
    if (pid == 0) {
        sono_atomic_file f = {0};
        sono_error err = {0};
        if (sono_atomic_begin(&f, in_dir("model.bin"), 1, &err) != SONO_OK) _exit(1);
        if (sono_atomic_write(&f, "half of the new", 15, &err) != SONO_OK) _exit(1);
        fflush(f.stream);
        if (write(ready[1], "x", 1) != 1) _exit(1);
        pause(); /* killed here, mid-write */
        _exit(0);
    }
    char c;
    CHECK(read(ready[0], &c, 1) == 1);
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFSIGNALED(status));
    close(ready[0]);
    close(ready[1]);
    CHECK(content_is("model.bin", "the complete previous model"));
    CHECK(count_temporaries() == 1); /* what the kill left; never read as the model */
}

static void test_open_input(void) {
    write_file("input.txt", "12345");
    long long size = -1;
    sono_error err = {0};
    FILE *f;
    sono_open_input(in_dir("input.txt"), &size, &f, &err);
    CHECK(f != NULL && size == 5);
    char buf[8] = {0};
    CHECK(f && fread(buf, 1, 8, f) == 5 && strcmp(buf, "12345") == 0);
    if (f) fclose(f);

    struct {
        const char *name, *problem;
    } refused[] = {{"absent.txt", "No such file"}, {"folder", "is a directory"}, {"pipe", "is a named pipe"},
                   {"/dev/zero", "is a device"}};
    CHECK(mkdir(in_dir("folder"), 0700) == 0);
    CHECK(mkfifo(in_dir("pipe"), 0600) == 0); /* no writer: a plain open would block forever */
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        const char *path = refused[i].name[0] == '/' ? refused[i].name : in_dir(refused[i].name);
        FILE *none = stdin;
        CHECK(sono_open_input(path, NULL, &none, &err) == SONO_ERR_IO && none == NULL);
        CHECK_MSG(strstr(err.message, path) && strstr(err.message, refused[i].problem), "%s", err.message);
    }
}

int main(void) {
    snprintf(dir, sizeof dir, "%s", test_make_dir());
    test_commit_and_abort();
    test_killed_writer();
    test_open_input();
    test_cleanup_dir(dir);
    return test_result("test_fileio");
}
