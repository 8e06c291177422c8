/* Several processes under mpirun (2 ranks on loopback, as CI runs them):
 *  - prepare under mpirun writes the same bytes as prepare alone;
 *  - train with 2 ranks gives the weights of 1 rank within float tolerance
 *    after an epoch, with dropout, augmentation and mixup on, and with PGD
 *    adversarial training (and eval --attack counts the same);
 *  - a rank killed mid-run ends every rank, non-zero, soon, naming the rank;
 *    --resume then finishes with the uninterrupted model (2 ranks: the same
 *    bits; 1 rank from a 2-rank checkpoint: within tolerance);
 *  - a rank that hangs (SIGSTOP) ends the job after SONO_MPI_TIMEOUT.
 * Skipped (exit 77) in a build without MPI or without mpirun. */
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"
#include "sonodream/audio.h"
#include "sonodream/distributed.h"
#include "sonodream/train.h"

#define MPIRUN "mpirun --oversubscribe --allow-run-as-root -np"
/* Summation order differs (the batch split in two, then the sum of the two
 * halves): weights of order 0.1-1 agree to a few float ulps per step; after
 * an epoch they differ by 3e-8 (Adam) and 6e-8 (SGD) here. Ranks that
 * doubled the gradient (summed half-batch means) are 1.3e-6 off with Adam
 * (nearly scale-invariant) and 0.09 with SGD. */
#define WEIGHT_TOLERANCE 1e-6
#define SGD_WEIGHT_TOLERANCE 1e-6

static const char *binary;
static char dir[256];

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int run(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int run(const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

static int same_file(const char *a, const char *b) { return run("cmp -s '%s' '%s'", a, b) == 0; }

/* ---- prepare ---- */

static void write_tone(const char *path, double hz, double seconds) {
    int rate = 16000, n = (int)(seconds * rate);
    float *x = malloc((size_t)n * sizeof(float));
    for (int i = 0; i < n; i++) x[i] = 0.3f * (float)sin(2 * M_PI * hz * i / rate);
    sono_error err = {0};
    CHECK_OK(sono_audio_write_wav(path, x, n, rate, SONO_WAV_PCM16, &err));
    free(x);
}

static void test_prepare(void) {
    char path[600];
    const char *classes[3] = {"low", "mid", "high"};
    for (int k = 0; k < 3; k++) {
        snprintf(path, sizeof path, "%s/tones/%s", dir, classes[k]);
        CHECK(run("mkdir -p '%s'", path) == 0);
        for (int i = 0; i < 11; i++) {
            snprintf(path, sizeof path, "%s/tones/%s/%s%02d.wav", dir, classes[k], i < 2 ? "TEST-" : "", i);
            write_tone(path, 200.0 * (k + 1) * (1 + 0.05 * i), 0.3 + 0.05 * i); /* short ones are padded */
        }
    }
    /* An unreadable clip in the middle: skipped on whichever rank meets it. */
    snprintf(path, sizeof path, "%s/tones/mid/05-broken.wav", dir);
    FILE *f = fopen(path, "w");
    CHECK(f && fputs("not audio", f) >= 0 && fclose(f) == 0);
    const char *opts = "--seconds 0.5 --mels 16 -q";
    CHECK(run("'%s' prepare '%s/tones' -o '%s/alone.safetensors' %s > '%s/alone.txt' 2>&1", binary, dir, dir, opts,
              dir) == 0);
    /* --jobs 1: three clips per chunk, so the 34 clips make many chunks. */
    for (int ranks = 2; ranks <= 3; ranks++) {
        CHECK_MSG(run(MPIRUN " %d '%s' prepare '%s/tones' -o '%s/mpi%d.safetensors' %s --jobs 1 > '%s/mpi%d.txt' 2>&1",
                      ranks, binary, dir, dir, ranks, opts, dir, ranks) == 0,
                  "see %s/mpi%d.txt", dir, ranks);
        snprintf(path, sizeof path, "%s/mpi%d.safetensors", dir, ranks);
        char alone[600];
        snprintf(alone, sizeof alone, "%s/alone.safetensors", dir);
        CHECK_MSG(same_file(alone, path), "%d ranks: %s differs from %s", ranks, path, alone);
    }
    CHECK(run("grep -q 'wrote .*: 33 clips' '%s/mpi2.txt'", dir) == 0);
    CHECK(run("grep -q 'skipped 1 unreadable' '%s/mpi2.txt'", dir) == 0);
}

/* ---- train ---- */

static void read_params(const char *path, float **data, size_t *count) {
    sono_classifier *c = NULL;
    sono_error err = {0};
    *data = NULL, *count = 0;
    CHECK_MSG(sono_classifier_load(path, 1, &c, NULL, &err) == SONO_OK, "%s", err.message);
    if (!c) return;
    float *p = sono_net_params(c->net, count);
    *data = malloc(*count * sizeof(float));
    memcpy(*data, p, *count * sizeof(float));
    sono_classifier_free(c);
}

/* Largest absolute difference of two models' parameters (INFINITY when they
 * cannot be compared). */
static double max_difference(const char *a, const char *b, double *largest) {
    float *pa, *pb;
    size_t na, nb;
    read_params(a, &pa, &na);
    read_params(b, &pb, &nb);
    double worst = pa && pb && na == nb ? 0 : INFINITY;
    *largest = 0;
    for (size_t i = 0; worst < INFINITY && i < na; i++) {
        worst = fmax(worst, fabs((double)pa[i] - pb[i]));
        *largest = fmax(*largest, fabs((double)pa[i]));
    }
    free(pa), free(pb);
    return worst;
}

static int same_params(const char *a, const char *b) {
    double largest;
    return max_difference(a, b, &largest) == 0;
}

/* Three classes of 16x8 "spectrograms" with a class-specific bright band. */
static void write_features(const char *path) {
    sono_feature_set s = {0};
    sono_feature_config_default(&s.config);
    s.config.n_mels = 16;
    s.config.seconds = 0.25;
    s.n_mels = 16;
    s.frames = sono_feature_frames(&s.config, sono_feature_clip_samples(&s.config));
    s.class_count = 3;
    s.count = 150;
    char *names[3] = {"low", "middle", "high"};
    s.class_names = names;
    size_t clip = (size_t)s.n_mels * s.frames;
    s.features = malloc((size_t)s.count * clip * sizeof(float));
    s.labels = malloc((size_t)s.count * sizeof(int32_t));
    s.folds = malloc((size_t)s.count * sizeof(int32_t));
    s.sources = calloc((size_t)s.count, sizeof(char *));
    uint32_t lcg = 777;
    for (int i = 0; i < s.count; i++) {
        s.labels[i] = i % 3;
        s.folds[i] = 1 + (i / 3) % 3;
        s.sources[i] = "toy";
        for (size_t j = 0; j < clip; j++) {
            lcg = lcg * 1664525u + 1013904223u;
            int band = (int)(j / (size_t)s.frames);
            s.features[(size_t)i * clip + j] =
                -60.0f + (float)(lcg >> 8) / 16777216.0f * 10.0f + (abs(band - (2 + 5 * s.labels[i])) <= 1 ? 30.0f : 0.0f);
        }
    }
    sono_error err = {0};
    CHECK_OK(sono_feature_set_write(&s, path, &err));
    free(s.features), free(s.labels), free(s.folds), free(s.sources);
}

/* Dropout, time shift, masks and mixup all on; batch 9 so the halves are
 * uneven and the epoch's last batch (100 clips) is short. */
#define TRAIN_OPTS "--arch c8,c8,p2,d0.25,f16 --batch 9 --mixup 0.4 --train-folds 1-2 --val-folds 3 --seed 5"

static void test_same_result(void) {
    double start = now();
    CHECK(run("'%s' train '%s/toy.safetensors' -o '%s/one.model' " TRAIN_OPTS " --epochs 1 > '%s/one.txt' 2>&1",
              binary, dir, dir, dir) == 0);
    CHECK_MSG(run(MPIRUN " 2 '%s' train '%s/toy.safetensors' -o '%s/two.model' " TRAIN_OPTS
                  " --epochs 1 > '%s/two.txt' 2>&1", binary, dir, dir, dir) == 0, "see %s/two.txt", dir);
    char one[600], two[600];
    snprintf(one, sizeof one, "%s/one.model", dir);
    snprintf(two, sizeof two, "%s/two.model", dir);
    double largest, diff = max_difference(one, two, &largest);
    fprintf(stderr, "1 rank vs 2 ranks after one epoch: largest weight difference %.3g (largest weight %.3g)\n", diff,
            largest);
    CHECK_MSG(diff <= WEIGHT_TOLERANCE, "the weights differ by %g", diff);
    /* SGD is not invariant to the gradient's scale as Adam is: ranks that
     * summed half-batch means (twice the gradient) instead of the batch's
     * gradient would pass above and fail here. */
    CHECK(run("'%s' train '%s/toy.safetensors' -o '%s/sgd1.model' " TRAIN_OPTS " --optimizer sgd --epochs 1 > '%s/sgd1.txt' 2>&1",
              binary, dir, dir, dir) == 0);
    CHECK_MSG(run(MPIRUN " 2 '%s' train '%s/toy.safetensors' -o '%s/sgd2.model' " TRAIN_OPTS
                  " --optimizer sgd --epochs 1 > '%s/sgd2.txt' 2>&1", binary, dir, dir, dir) == 0, "see %s/sgd2.txt", dir);
    snprintf(one, sizeof one, "%s/sgd1.model", dir);
    snprintf(two, sizeof two, "%s/sgd2.model", dir);
    diff = max_difference(one, two, &largest);
    fprintf(stderr, "SGD, 1 rank vs 2 ranks after one epoch: largest weight difference %.3g (largest weight %.3g)\n",
            diff, largest);
    CHECK_MSG(diff <= SGD_WEIGHT_TOLERANCE, "with SGD the weights differ by %g", diff);
    snprintf(one, sizeof one, "%s/one.model", dir);
    snprintf(two, sizeof two, "%s/two.model", dir);
    /* Only rank 0 wrote: one CSV with one row. */
    CHECK(run("test $(wc -l < '%s/two.model.csv') -eq 2", dir) == 0);
    /* The same validation accuracy (the same 50 clips, split across ranks). */
    CHECK(run("test \"$(cut -d, -f5 '%s/one.model.csv')\" = \"$(cut -d, -f5 '%s/two.model.csv')\"", dir, dir) == 0);
    /* eval under mpirun: the clips split, the confusion matrix summed. */
    CHECK(run("'%s' eval '%s' '%s/toy.safetensors' --json > '%s/eval1.json'", binary, one, dir, dir) == 0);
    CHECK(run(MPIRUN " 2 '%s' eval '%s' '%s/toy.safetensors' --json > '%s/eval2.json'", binary, one, dir, dir) == 0);
    CHECK(run("grep -v '\"loss\"' '%s/eval1.json' > '%s/e1' && grep -v '\"loss\"' '%s/eval2.json' > '%s/e2' && "
              "cmp -s '%s/e1' '%s/e2'", dir, dir, dir, dir, dir, dir) == 0);
    fprintf(stderr, "same-result checks: %.1f s\n", now() - start);
}

/* PGD training: each clip's perturbation depends on that clip alone (the
 * attack runs in inference mode, its random start comes from the seed, the
 * epoch and the clip), so 2 ranks again give 1 rank's weights, the same
 * robust validation column, and eval --attack the same counts. */
static void test_same_result_adversarial(void) {
    double start = now();
#define ADV_OPTS TRAIN_OPTS " --adversarial pgd --adv-epsilon 0.5 --epochs 1"
    CHECK(run("'%s' train '%s/toy.safetensors' -o '%s/adv1.model' " ADV_OPTS " > '%s/adv1.txt' 2>&1", binary, dir, dir,
              dir) == 0);
    CHECK_MSG(run(MPIRUN " 2 '%s' train '%s/toy.safetensors' -o '%s/adv2.model' " ADV_OPTS " > '%s/adv2.txt' 2>&1",
                  binary, dir, dir, dir) == 0, "see %s/adv2.txt", dir);
    char one[600], two[600];
    snprintf(one, sizeof one, "%s/adv1.model", dir);
    snprintf(two, sizeof two, "%s/adv2.model", dir);
    double largest, diff = max_difference(one, two, &largest);
    fprintf(stderr, "PGD training, 1 rank vs 2 ranks after one epoch: largest weight difference %.3g (largest weight "
            "%.3g)\n", diff, largest);
    CHECK_MSG(diff <= WEIGHT_TOLERANCE, "the weights differ by %g", diff);
    CHECK(run("test -n \"$(tail -n 1 '%s/adv1.model.csv' | cut -d, -f8)\"", dir) == 0);
    CHECK(run("test \"$(cut -d, -f5,8 '%s/adv1.model.csv')\" = \"$(cut -d, -f5,8 '%s/adv2.model.csv')\"", dir, dir) == 0);
    CHECK(run("'%s' eval '%s' '%s/toy.safetensors' --attack pgd --attack-epsilon 0.5 --json > '%s/adv-eval1.json'",
              binary, one, dir, dir) == 0);
    CHECK(run(MPIRUN " 2 '%s' eval '%s' '%s/toy.safetensors' --attack pgd --attack-epsilon 0.5 --json > "
              "'%s/adv-eval2.json'", binary, one, dir, dir) == 0);
    CHECK(run("grep -q '\"robust\"' '%s/adv-eval1.json'", dir) == 0);
    CHECK(run("grep -v '\"loss\"' '%s/adv-eval1.json' > '%s/ae1' && grep -v '\"loss\"' '%s/adv-eval2.json' > "
              "'%s/ae2' && cmp -s '%s/ae1' '%s/ae2'", dir, dir, dir, dir, dir, dir) == 0);
    fprintf(stderr, "adversarial same-result checks: %.1f s\n", now() - start);
}

static long newest_checkpoint(const char *folder, char *newest, size_t size) {
    newest[0] = '\0';
    DIR *d = opendir(folder);
    long best = -1;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        long it;
        char tail[16];
        if (sscanf(e->d_name, "ckpt-%ld.mode%15s", &it, tail) == 2 && strcmp(tail, "l") == 0 && it > best) {
            best = it;
            snprintf(newest, size, "%s/%s", folder, e->d_name);
        }
    }
    if (d) closedir(d);
    return best;
}

/* The process of rank `rank` among mpirun's children (0 when not found). */
static pid_t rank_pid(pid_t mpirun, int rank) {
    char want[64], path[300], buf[65536];
    snprintf(want, sizeof want, "OMPI_COMM_WORLD_RANK=%d", rank);
    DIR *d = opendir("/proc");
    struct dirent *e;
    pid_t found = 0;
    while (d && !found && (e = readdir(d))) {
        long pid = strtol(e->d_name, NULL, 10), ppid = 0;
        if (pid <= 0) continue;
        snprintf(path, sizeof path, "/proc/%ld/stat", pid);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fscanf(f, "%*d (%*[^)]) %*c %ld", &ppid) != 1) ppid = 0;
        fclose(f);
        if (ppid != mpirun) continue;
        snprintf(path, sizeof path, "/proc/%ld/environ", pid);
        f = fopen(path, "r");
        size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
        if (f) fclose(f);
        for (size_t i = 0; i < n; i += strlen(buf + i) + 1)
            if (strcmp(buf + i, want) == 0) found = (pid_t)pid;
    }
    if (d) closedir(d);
    return found;
}

/* A process that still runs (not gone, not a zombie). */
static int alive(pid_t pid) {
    char path[64], state = 'Z';
    snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    if (fscanf(f, "%*d (%*[^)]) %c", &state) != 1) state = 'Z';
    fclose(f);
    return state != 'Z' && state != 'X';
}

/* Start `command` (through sh, exec'd so the pid is mpirun's). */
static pid_t start(const char *command) {
    pid_t pid = fork();
    if (pid == 0) {
        execl("/bin/sh", "sh", "-c", command, (char *)NULL);
        _exit(127);
    }
    return pid;
}

/* Wait up to `limit` seconds; the exit status, or -1 (then killed). */
static int wait_for(pid_t pid, double limit, double *took) {
    double start = now();
    int status;
    while (now() - start < limit) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            *took = now() - start;
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
        struct timespec pause = {0, 20000000};
        nanosleep(&pause, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    *took = now() - start;
    return -1;
}

enum { EVERY = 10 };
#define LONG_RUN TRAIN_OPTS " --epochs 6 --checkpoint-every 10 --keep 20"

/* Start a 2-rank run, wait for a checkpoint at `at_least` iterations, then
 * send `sig` to rank 1; returns mpirun's exit status and *took the seconds
 * from the signal until every rank is gone. */
static int disturb_run(const char *model, const char *log, int sig, long at_least, const char *env, double *took) {
    char cmd[4096], folder[700], newest[1400];
    snprintf(cmd, sizeof cmd, "exec env %s " MPIRUN " 2 '%s' train '%s/toy.safetensors' -o '%s' " LONG_RUN " > '%s' 2>&1",
             env, binary, dir, model, log);
    snprintf(folder, sizeof folder, "%s.checkpoints", model);
    pid_t mpirun = start(cmd);
    double start_time = now();
    while (newest_checkpoint(folder, newest, sizeof newest) < at_least && now() - start_time < 120) {
        struct timespec pause = {0, 2000000};
        nanosleep(&pause, NULL);
    }
    pid_t victim = rank_pid(mpirun, 1), other = rank_pid(mpirun, 0);
    CHECK_MSG(victim > 0, "rank 1 of mpirun %ld not found", (long)mpirun);
    if (victim > 0) kill(victim, sig);
    double signalled = now();
    int rc = wait_for(mpirun, 120, took);
    if (sig == SIGSTOP && victim > 0) kill(victim, SIGKILL); /* in case the runtime left it stopped */
    /* mpirun may return while the runtime is still killing rank 0. */
    for (double t0 = now(); other > 0 && alive(other) && now() - t0 < 10;) {
        struct timespec pause = {0, 20000000};
        nanosleep(&pause, NULL);
    }
    *took = now() - signalled;
    CHECK_MSG(other > 0 && !alive(other), "rank 0 (pid %ld) outlived mpirun by 10 s", (long)other);
    return rc;
}

static void test_kill_and_resume(void) {
    char whole[600], killed[600], folder[700], newest[1400], log[700];
    snprintf(whole, sizeof whole, "%s/whole.model", dir);
    snprintf(killed, sizeof killed, "%s/killed.model", dir);
    snprintf(folder, sizeof folder, "%s.checkpoints", killed);
    snprintf(log, sizeof log, "%s/killed.txt", dir);
    CHECK(run(MPIRUN " 2 '%s' train '%s/toy.safetensors' -o '%s' " LONG_RUN " > '%s/whole.txt' 2>&1", binary, dir,
              whole, dir) == 0);

    double took;
    int rc = disturb_run(killed, log, SIGKILL, 3 * EVERY, "", &took);
    fprintf(stderr, "rank 1 killed: mpirun exited %d after %.1f s\n", rc, took);
    CHECK_MSG(rc > 0, "mpirun exited %d after rank 1 was killed", rc);
    CHECK(took < 60);
    CHECK_MSG(run("grep -q 'rank 1' '%s'", log) == 0, "%s does not name rank 1", log);

    /* Resume on 2 ranks: the uninterrupted model, bit for bit. */
    long at = newest_checkpoint(folder, newest, sizeof newest);
    CHECK(at >= 3 * EVERY);
    char resumed_n1[700];
    snprintf(resumed_n1, sizeof resumed_n1, "%s/resumed-one-rank.model", dir);
    /* Resume the same checkpoint on 1 rank (before the 2-rank resume adds newer ones). */
    CHECK(run("cp '%s' '%s/from.model'", newest, dir) == 0);
    CHECK_MSG(run(MPIRUN " 2 '%s' train '%s/toy.safetensors' -o '%s' " LONG_RUN " --resume '%s' > '%s/resumed.txt' 2>&1",
                  binary, dir, killed, newest, dir) == 0, "see %s/resumed.txt", dir);
    /* The last checkpoint (iteration 70 of 72) holds the final weights; the
     * model files hold the best epoch's, which may predate the kill. */
    char last_whole[800], last_killed[800], last_one[800];
    snprintf(last_whole, sizeof last_whole, "%s.checkpoints/ckpt-000000070.model", whole);
    snprintf(last_killed, sizeof last_killed, "%s.checkpoints/ckpt-000000070.model", killed);
    snprintf(last_one, sizeof last_one, "%s.checkpoints/ckpt-000000070.model", resumed_n1);
    CHECK_MSG(same_params(last_whole, last_killed), "resumed on 2 ranks differs from the uninterrupted run");
    /* Resume on 1 rank: within float tolerance. */
    CHECK(run("'%s' train '%s/toy.safetensors' -o '%s' " LONG_RUN " --resume '%s/from.model' > '%s/resumed1.txt' 2>&1",
              binary, dir, resumed_n1, dir, dir) == 0);
    double largest, diff = max_difference(last_whole, last_one, &largest);
    fprintf(stderr, "2-rank checkpoint resumed on 1 rank: largest weight difference %.3g\n", diff);
    CHECK_MSG(diff <= 10 * WEIGHT_TOLERANCE, "differs by %g", diff);
}

static void test_hang(void) {
    char model[600], log[700];
    snprintf(model, sizeof model, "%s/hang.model", dir);
    snprintf(log, sizeof log, "%s/hang.txt", dir);
    double took;
    int rc = disturb_run(model, log, SIGSTOP, EVERY, "SONO_MPI_TIMEOUT=3", &took);
    fprintf(stderr, "rank 1 stopped: mpirun exited %d after %.1f s\n", rc, took);
    CHECK_MSG(rc > 0, "mpirun exited %d with rank 1 stopped", rc);
    CHECK(took < 60);
    CHECK_MSG(run("grep -q 'rank 0: no answer from the other ranks' '%s'", log) == 0, "see %s", log);
}

int main(void) {
    if (!sono_dist_compiled() || system("command -v mpirun > /dev/null 2>&1") != 0) {
        fprintf(stderr, "test_mpi: skipped (built without MPI, or no mpirun)\n");
        return 77;
    }
    binary = test_binary();
    snprintf(dir, sizeof dir, "%s", test_make_dir());
    setenv("OMP_NUM_THREADS", "1", 1);
#if defined(__SANITIZE_ADDRESS__)
    /* Open MPI's components are unloaded at MPI_Finalize and leave
     * allocations LeakSanitizer cannot attribute; memory errors are still
     * caught, and the single-process tests check these code paths for leaks. */
    setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
#endif
    double start = now();
    test_prepare();
    write_features(strcat(strcpy((char[600]){0}, dir), "/toy.safetensors"));
    test_same_result();
    test_same_result_adversarial();
    test_kill_and_resume();
    test_hang();
    fprintf(stderr, "test_mpi: %.1f s\n", now() - start);
    if (!check_failures) test_cleanup_dir(dir);
    return test_result("test_mpi");
}
