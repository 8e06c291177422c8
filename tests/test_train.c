/* Training: fold parsing, learning a toy problem, determinism, checkpoints,
 * resume after an interruption, evaluation and compatibility checks. */
#include <math.h>
#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>

#include "check.h"
#include "toy_features.h"
#include "sonodream/safetensors.h"
#include "sonodream/train.h"

/* A small feature set: three classes of "spectrograms" with a bright band at
 * a class-specific height plus noise, in folds 1..3. */
static sono_feature_set *toy_set(int per_class) { return toy_feature_set(per_class, 3, 12345, 10.0f, 30.0f); }

static void test_folds(void) {
    sono_folds f;
    sono_error err = {0};
    char text[64];
    CHECK(sono_folds_parse("1-9", &f, &err) == SONO_OK && f == 0x3FEu);
    CHECK(sono_folds_parse("1,3,5-7", &f, &err) == SONO_OK);
    sono_folds_format(f, text, sizeof text);
    CHECK_MSG(strcmp(text, "1,3,5-7") == 0, "%s", text);
    CHECK(sono_folds_has(f, 6) && !sono_folds_has(f, 4));
    const char *bad[] = {"", "0", "64", "3-1", "1,", "a", "1-", "1;2"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CHECK_MSG(sono_folds_parse(bad[i], &f, &err) != SONO_OK, "'%s'", bad[i]);
}

static void base_options(sono_train_options *o, const char *dir, const char *name) {
    static char out[8][512];
    static int slot = 0;
    char *path = out[slot++ % 8];
    snprintf(path, 512, "%s/%s.model", dir, name);
    sono_train_defaults(o);
    o->arch = "c4,p2,f8";
    o->epochs = 6;
    o->batch = 8;
    o->optim.lr = 3e-3f;
    o->train_folds = (1u << 1) | (1u << 2);
    o->val_folds = 1u << 3;
    o->output = path;
    o->checkpoint_every = 0;
}

static void read_params(const char *path, float **data, size_t *count) {
    sono_classifier *c = NULL;
    sono_error err = {0};
    *data = NULL;
    *count = 0;
    CHECK_MSG(sono_classifier_load(path, 1, &c, NULL, &err) == SONO_OK, "%s", err.message);
    if (!c) return;
    float *p = sono_net_params(c->net, count);
    *data = malloc(*count * sizeof(float));
    memcpy(*data, p, *count * sizeof(float));
    sono_classifier_free(c);
}

static int same_params(const char *a, const char *b) {
    float *pa, *pb;
    size_t na, nb;
    read_params(a, &pa, &na);
    read_params(b, &pb, &nb);
    int same = pa && pb && na == nb && memcmp(pa, pb, na * sizeof(float)) == 0;
    free(pa), free(pb);
    return same;
}

static void test_learns_and_evaluates(const char *dir, sono_feature_set *set) {
    sono_train_options o;
    base_options(&o, dir, "toy");
    sono_train_result r;
    sono_error err = {0};
    CHECK_MSG(sono_train(set, &o, &r, &err) == SONO_OK, "%s", err.message);
    fprintf(stderr, "toy problem: best validation accuracy %.3f at epoch %d\n", r.best_val_accuracy, r.best_epoch);
    CHECK(r.best_val_accuracy >= 0.95);
    CHECK(r.epochs_done == 6);
    sono_classifier *c = NULL;
    CHECK_MSG(sono_classifier_load(o.output, 8, &c, NULL, &err) == SONO_OK, "%s", err.message);
    if (!c) return;
    CHECK(c->class_count == 3 && strcmp(c->class_names[2], "high") == 0);
    CHECK(c->training_json && strstr(c->training_json, "best_val_accuracy"));
    sono_eval_result e;
    CHECK(sono_evaluate(c, set, 1u << 3, &e, &err) == SONO_OK);
    int sum = 0;
    for (int i = 0; i < 9; i++) sum += e.confusion[i];
    CHECK(sum == e.count && e.count == set->count / 3);
    CHECK_NEAR((double)e.correct / e.count, r.best_val_accuracy, 1e-9);
    sono_eval_result_free(&e);
    /* A feature set made differently is refused, naming the difference. */
    set->config.n_fft = 512;
    CHECK(sono_evaluate(c, set, 0, &e, &err) != SONO_OK);
    CHECK_MSG(strstr(err.message, "n_fft"), "%s", err.message);
    set->config.n_fft = 1024;
    sono_classifier_free(c);
    /* The CSV log has a header and one row per epoch. */
    char csv[600];
    snprintf(csv, sizeof csv, "%s/toy.csv", dir);
    o.log_csv = csv;
    o.epochs = 2;
    CHECK(sono_train(set, &o, &r, &err) == SONO_OK);
    FILE *f = fopen(csv, "r");
    int lines = 0;
    char line[512];
    while (f && fgets(line, sizeof line, f)) lines++;
    if (f) fclose(f);
    CHECK(lines == 3);
}

/* Two short runs (2 epochs, no validation) into DIR/NAME-a and -b; b's
 * seed is a's plus seed_step. */
static void train_pair(const char *dir, sono_feature_set *set, const char *name, float mixup, uint64_t seed_step,
                       sono_train_options *a, sono_train_options *b) {
    char name_a[64], name_b[64];
    snprintf(name_a, sizeof name_a, "%s-a", name), snprintf(name_b, sizeof name_b, "%s-b", name);
    base_options(a, dir, name_a);
    base_options(b, dir, name_b);
    a->epochs = b->epochs = 2;
    a->val_folds = b->val_folds = 0;
    a->augment.mixup = b->augment.mixup = mixup;
    b->seed = a->seed + seed_step;
    sono_train_result r;
    sono_error err = {0};
    CHECK(sono_train(set, a, &r, &err) == SONO_OK);
    CHECK(sono_train(set, b, &r, &err) == SONO_OK);
}

static void test_same_seed_same_model(const char *dir, sono_feature_set *set) {
    sono_train_options a, b;
    train_pair(dir, set, "seed", 0.4f, 0, &a, &b);
    CHECK(same_params(a.output, b.output));
}

/* An ensemble averages its models' class probabilities: two copies of one
 * model are that model, and two models trained with other seeds give the
 * argmax and cross-entropy of their averaged probabilities, computed here
 * clip by clip. */
static void test_ensemble(const char *dir, sono_feature_set *set) {
    sono_train_options a, b;
    sono_train_defaults(&a);
    train_pair(dir, set, "ens", a.augment.mixup, 1, &a, &b);
    sono_error err = {0};
    sono_classifier *m[2] = {NULL, NULL};
    CHECK_OK(sono_classifier_load(a.output, 8, &m[0], NULL, &err));
    CHECK_OK(sono_classifier_load(b.output, 8, &m[1], NULL, &err));
    if (!m[0] || !m[1]) return;
    const sono_folds fold3 = 1u << 3;
    sono_eval_result one, twice, pair;
    sono_classifier *same[2] = {m[0], m[0]};
    CHECK_OK(sono_evaluate(m[0], set, fold3, &one, &err));
    CHECK_OK(sono_evaluate_ensemble(same, 2, set, fold3, 1, 0, &twice, &err));
    CHECK(memcmp(one.confusion, twice.confusion, 9 * sizeof(int)) == 0);
    CHECK_NEAR(one.loss, twice.loss, 1e-9);
    CHECK_OK(sono_evaluate_ensemble(m, 2, set, fold3, 1, 0, &pair, &err));
    int confusion[9] = {0}, count = 0;
    double loss = 0;
    const size_t clip = (size_t)set->n_mels * set->frames;
    float *x = malloc(clip * sizeof *x), p[2][3];
    for (int i = 0; i < set->count; i++) {
        if (set->folds[i] != 3) continue;
        for (int k = 0; k < 2; k++) {
            memcpy(x, set->features + (size_t)i * clip, clip * sizeof *x);
            sono_classifier_standardize(m[k], x, set->frames);
            CHECK_OK(sono_net_predict(m[k]->net, x, 1, p[k], &err));
        }
        int best = 0;
        double avg[3];
        for (int c = 0; c < 3; c++) avg[c] = 0.5 * ((double)p[0][c] + p[1][c]);
        for (int c = 1; c < 3; c++) best = avg[c] > avg[best] ? c : best;
        confusion[set->labels[i] * 3 + best]++, count++;
        loss -= log(avg[set->labels[i]] + 1e-12);
    }
    CHECK(pair.count == count && memcmp(pair.confusion, confusion, sizeof confusion) == 0);
    CHECK_NEAR(pair.loss, loss / count, 1e-5);
    free(x);
    sono_eval_result_free(&one), sono_eval_result_free(&twice), sono_eval_result_free(&pair);
    sono_classifier_free(m[0]), sono_classifier_free(m[1]);
}

static volatile sig_atomic_t stop_now = 0;
static void stop_at_step_5(int64_t iteration, int batch, int batches, double loss, void *user) {
    (void)batch, (void)batches, (void)loss, (void)user;
    if (iteration == 5) stop_now = 1;
}

/* With `attack` (NONE: standard training) the resumed run ends with the
 * uninterrupted run's weights, bit for bit. */
static void test_interrupt_and_resume(const char *dir, sono_feature_set *set, sono_attack_kind attack) {
    sono_train_options whole, part;
    char name[2][32];
    snprintf(name[0], sizeof name[0], "whole-%s", sono_attack_name(attack));
    snprintf(name[1], sizeof name[1], "part-%s", sono_attack_name(attack));
    base_options(&whole, dir, name[0]);
    base_options(&part, dir, name[1]);
    whole.val_folds = part.val_folds = 0; /* the output is then the final weights */
    whole.epochs = part.epochs = 3;
    whole.augment.mixup = part.augment.mixup = 0.4f;
    whole.arch = part.arch = "c4,p2,d0.25,f8"; /* dropout: its random state must resume too */
    whole.adversarial = part.adversarial = sono_adversarial_defaults(attack);
    sono_train_result r;
    sono_error err = {0};
    CHECK(sono_train(set, &whole, &r, &err) == SONO_OK);
    /* Stopped mid-epoch (Ctrl-C): a checkpoint is written. */
    part.stop = &stop_now;
    part.on_step = stop_at_step_5;
    CHECK(sono_train(set, &part, &r, &err) == SONO_ERR_INTERRUPTED);
    CHECK_MSG(strstr(err.message, "--resume"), "%s", err.message);
    CHECK(r.iterations == 5 && r.last_checkpoint[0]);
    char checkpoint[1024];
    snprintf(checkpoint, sizeof checkpoint, "%s", r.last_checkpoint);
    stop_now = 0;
    part.stop = NULL;
    part.on_step = NULL;
    part.resume = checkpoint;
    CHECK_MSG(sono_train(set, &part, &r, &err) == SONO_OK, "%s", err.message);
    CHECK(r.epochs_done == 3);
    CHECK_MSG(same_params(whole.output, part.output), "resumed run (attack %s) differs from the uninterrupted one",
              sono_attack_name(attack));
    /* The checkpoint continues only its own run: other adversarial settings are refused, naming them. */
    sono_train_options other = part;
    other.resume = checkpoint;
    other.adversarial = sono_adversarial_defaults(attack == SONO_ATTACK_NONE ? SONO_ATTACK_PGD : SONO_ATTACK_NONE);
    CHECK(sono_train(set, &other, &r, &err) != SONO_OK);
    CHECK_MSG(strstr(err.message, "adversarial") && strstr(err.message, sono_attack_name(attack)) &&
              strstr(err.message, sono_attack_name(other.adversarial.attack)), "%s", err.message);
    if (attack != SONO_ATTACK_NONE) {
        other.adversarial = part.adversarial;
        other.adversarial.epsilon *= 2;
        CHECK(sono_train(set, &other, &r, &err) != SONO_OK);
        CHECK_MSG(strstr(err.message, "epsilon"), "%s", err.message);
    }
    /* A model without optimizer state is not a checkpoint. */
    part.resume = whole.output;
    CHECK(sono_train(set, &part, &r, &err) != SONO_OK);
    CHECK_MSG(strstr(err.message, "optimizer"), "%s", err.message);
}

static void test_checkpoint_rotation(const char *dir, sono_feature_set *set) {
    sono_train_options o;
    base_options(&o, dir, "rot");
    o.checkpoint_every = 2;
    o.keep_checkpoints = 2;
    o.epochs = 3;
    sono_train_result r;
    sono_error err = {0};
    CHECK(sono_train(set, &o, &r, &err) == SONO_OK);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "test $(ls '%s/rot.model.checkpoints' | grep -c '^ckpt-.*\\.model$') -eq 2", dir);
    CHECK(system(cmd) == 0);
}

/* The original project's ITERATIONS form: a stop mid-epoch still validates. */
static void test_iteration_limit(const char *dir, sono_feature_set *set) {
    sono_train_options o;
    base_options(&o, dir, "iters");
    o.max_iterations = 5;
    sono_train_result r;
    sono_error err = {0};
    CHECK_MSG(sono_train(set, &o, &r, &err) == SONO_OK, "%s", err.message);
    CHECK(r.iterations == 5 && r.epochs_done == 1);
    CHECK(r.best_val_accuracy >= 0 && r.best_val_accuracy <= 1);
}

static void test_bad_options(sono_feature_set *set) {
    sono_train_options o;
    base_options(&o, "/tmp", "bad");
    sono_train_result r;
    sono_error err = {0};
    o.batch = 0;
    CHECK(sono_train(set, &o, &r, &err) != SONO_OK && strstr(err.message, "batch"));
    base_options(&o, "/tmp", "bad");
    o.train_folds = 1u << 9;
    CHECK(sono_train(set, &o, &r, &err) != SONO_OK && strstr(err.message, "no clips"));
    base_options(&o, "/tmp", "bad");
    o.arch = "c4,z9";
    CHECK(sono_train(set, &o, &r, &err) != SONO_OK && strstr(err.message, "z9"));
    base_options(&o, "/tmp", "bad");
    o.val_folds = o.train_folds;
    CHECK(sono_train(set, &o, &r, &err) != SONO_OK);
    base_options(&o, "/tmp", "bad");
    o.adversarial = sono_adversarial_defaults(SONO_ATTACK_PGD);
    o.adversarial.steps = 0;
    CHECK(sono_train(set, &o, &r, &err) != SONO_OK && strstr(err.message, "steps"));
}

/* Newest checkpoint in folder (its iteration, -1 when none); path in newest. */
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

static int file_present(const char *path) { return access(path, F_OK) == 0; }

/* `sonodream train` killed with SIGKILL mid-run (no chance to clean up) and
 * restarted with --resume finishes with the same model as a run that was never
 * interrupted, having lost at most one checkpoint interval of work. */
static void test_sigkill_and_resume(const char *dir) {
    const char *binary = getenv("SONO_BINARY");
    if (!binary || access(binary, X_OK) != 0) {
        fprintf(stderr, "SONO_BINARY not set: SIGKILL test skipped\n");
        return;
    }
    enum { EVERY = 7 };
    char features[512], common[1024], cmd[4096], folder[1200], newest[1400], killed[600], whole[600];
    snprintf(features, sizeof features, "%s/kill.safetensors", dir);
    sono_feature_set *set = toy_set(150);
    sono_error err = {0};
    CHECK_OK(sono_feature_set_write(set, features, &err));
    sono_feature_set_free(set);
    snprintf(common, sizeof common, "train '%s' --arch c8,c8,p2,d0.25,f16 --epochs 12 --batch 4 --mixup 0.4 "
             "--checkpoint-every %d --keep 3", features, EVERY);
    snprintf(whole, sizeof whole, "%s/whole.model", dir);
    snprintf(killed, sizeof killed, "%s/killed.model", dir);
    snprintf(folder, sizeof folder, "%s.checkpoints", killed);

    snprintf(cmd, sizeof cmd, "'%s' %s -o '%s' > '%s/whole.txt' 2>&1", binary, common, whole, dir);
    CHECK(system(cmd) == 0);

    pid_t pid = fork();
    if (pid == 0) {
        snprintf(cmd, sizeof cmd, "exec '%s' %s -o '%s' > '%s/killed.txt' 2>&1", binary, common, killed, dir);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(127);
    }
    /* Kill once a few checkpoints exist, so the run is well under way. */
    struct timespec pause = {0, 200000};
    int status = 0, exited = 0;
    for (long waited = 0; waited < 300000; waited++) {
        if (newest_checkpoint(folder, newest, sizeof newest) >= 4 * EVERY) break;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            exited = 1;
            break;
        }
        nanosleep(&pause, NULL);
    }
    if (!exited) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    CHECK_MSG(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the run ended before it was killed");

    long at = newest_checkpoint(folder, newest, sizeof newest);
    CHECK(at >= 4 * EVERY && at % EVERY == 0);
    /* What a kill during a checkpoint write leaves: a temporary of a dead process. */
    char stale[1600];
    snprintf(stale, sizeof stale, "%s/ckpt-%09ld.model.tmp-%ld-0", folder, at + EVERY, (long)pid);
    FILE *f = fopen(stale, "wb");
    CHECK(f && fputs("half a checkpoint", f) >= 0 && fclose(f) == 0);
    /* Checkpoints were on schedule: the one before the newest is there too. */
    char previous[1600];
    snprintf(previous, sizeof previous, "%s/ckpt-%09ld.model", folder, at - EVERY);
    CHECK_MSG(file_present(previous), "%s is missing", previous);

    snprintf(cmd, sizeof cmd, "'%s' %s -o '%s' --resume '%s' > '%s/resumed.txt' 2>&1", binary, common, killed, newest,
             dir);
    CHECK_MSG(system(cmd) == 0, "resume from %s failed (see %s/resumed.txt)", newest, dir);
    /* It continued from there (a fresh start with the same seed would give the same model too). */
    char resumed_from[2048];
    snprintf(resumed_from, sizeof resumed_from, "grep -q 'resuming from .*ckpt-%09ld.model: epoch .*, iteration %ld$' '%s/resumed.txt'",
             at, at, dir);
    CHECK_MSG(system(resumed_from) == 0, "%s/resumed.txt does not say it resumed at iteration %ld", dir, at);
    CHECK_MSG(same_params(whole, killed), "the resumed run differs from the uninterrupted one");
    CHECK_MSG(!file_present(stale), "the resumed run left %s", stale);
}

int main(void) {
    char *dir = test_make_dir();
    sono_feature_set *set = toy_set(30);
    test_folds();
    test_learns_and_evaluates(dir, set);
    test_same_seed_same_model(dir, set);
    test_ensemble(dir, set);
    test_interrupt_and_resume(dir, set, SONO_ATTACK_NONE);
    test_interrupt_and_resume(dir, set, SONO_ATTACK_PGD);
    test_interrupt_and_resume(dir, set, SONO_ATTACK_FGSM);
    test_checkpoint_rotation(dir, set);
    test_iteration_limit(dir, set);
    test_bad_options(set);
    test_sigkill_and_resume(dir);
    sono_feature_set_free(set);
    test_cleanup_dir(dir);
    return test_result("test_train");
}
