/* The command line end to end: prepare, info, train, eval, classify on a
 * small generated dataset, and clear failures (non-zero exit, a message, no
 * output left behind) for bad input. */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sndfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "check.h"

static const char *binary;
static char dir[256];

/* Run `sonodream ARGS` in the test folder; returns the exit status and
 * leaves stdout+stderr in dir/out.txt. */
static int run(const char *args) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s > out.txt 2>&1", dir, binary, args);
    int rc = system(cmd);
    return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

static int output_has(const char *text) {
    char path[1024], buf[65536];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    FILE *f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = '\0';
    int found = strstr(buf, text) != NULL;
    if (!found) fprintf(stderr, "--- output (looking for '%s'):\n%s---\n", text, buf);
    return found;
}

static int exists(const char *name) {
    char path[1024];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0;
}

static int no_temporaries(void) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "find '%s' -name '*.tmp-*' | grep -q .", dir);
    return system(cmd) != 0;
}

static void write_tone(const char *name, double freq, double seconds, int rate) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    SF_INFO info = {.samplerate = rate, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) exit(2);
    int n = (int)(seconds * rate);
    float *x = malloc((size_t)n * sizeof(float));
    for (int i = 0; i < n; i++) x[i] = 0.5f * (float)sin(2 * M_PI * freq * i / rate) * (float)(1 + 0.3 * sin(i * 0.001));
    sf_writef_float(sf, x, n);
    sf_close(sf);
    free(x);
}

static void make_dataset(void) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s/tones/low' '%s/tones/high' '%s/empty'", dir, dir, dir);
    if (system(cmd) != 0) exit(2);
    char name[128];
    for (int i = 0; i < 12; i++) {
        const char *split = i < 8 ? "TRAIN" : i < 10 ? "VALIDATE" : "TEST";
        snprintf(name, sizeof name, "tones/low/%s-%02d.wav", split, i);
        write_tone(name, 200 + 10 * i, 0.5, 22050);
        snprintf(name, sizeof name, "tones/high/%s-%02d.wav", split, i);
        write_tone(name, 3000 + 50 * i, 0.5, 8000);
    }
    write_tone("long-tone.wav", 3100, 2.0, 16000); /* its name names no class */
    snprintf(cmd, sizeof cmd, "echo not audio > '%s/tones/high/TRAIN-broken.wav'", dir);
    if (system(cmd) != 0) exit(2);
}

static void test_pipeline(void) {
    CHECK(run("prepare tones -o tones.safetensors --seconds 0.5 --mels 32") == 0);
    CHECK(output_has("24 clips, 2 classes") && output_has("skipped 1 unreadable"));
    CHECK(output_has("TRAIN-broken.wav"));
    CHECK(run("prepare tones -o strict.safetensors --seconds 0.5 --strict") != 0);
    CHECK(!exists("strict.safetensors") && no_temporaries());
    CHECK(run("info tones.safetensors") == 0);
    CHECK(output_has("sonodream feature file") && output_has("validate"));
    CHECK(run("info tones.safetensors --json") == 0);
    CHECK(output_has("\"clips\":\t24"));
    CHECK(run("train tones.safetensors -o tones.model --arch c4,p2,f8 --epochs 8 --batch 4 --lr 0.003") == 0);
    CHECK(output_has("wrote tones.model") && output_has("test folds 3: accuracy"));
    CHECK(exists("tones.model.csv") && exists("tones.model.png"));
    CHECK(run("info tones.model") == 0);
    CHECK(output_has("sonodream-model") && output_has("conv1.weight"));
    CHECK(run("eval tones.model tones.safetensors --folds 2-3") == 0);
    CHECK(output_has("accuracy") && output_has("confusion matrix"));
    CHECK(run("eval tones.model tones.safetensors --json") == 0);
    CHECK(output_has("\"confusion\""));
    CHECK(run("train tones.safetensors -o robust.model --arch c4,p2,f8 --epochs 2 --batch 4 --adversarial fgsm "
              "--adv-epsilon 0.3") == 0);
    CHECK(output_has("adversarial training: FGSM eps 0.3 std") && output_has("robust "));
    CHECK(run("eval robust.model tones.safetensors --attack pgd --attack-steps 4") == 0);
    CHECK(output_has("robust accuracy") && output_has("under PGD-4 eps 0.25 std"));
    CHECK(run("eval robust.model tones.safetensors --attack fgsm --json") == 0);
    CHECK(output_has("\"robust\"") && output_has("\"attack\":\t\"fgsm\""));
    CHECK(run("classify tones.model long-tone.wav --top 1") == 0);
    CHECK(output_has("long-tone.wav (7 windows)\n  high "));
    CHECK(run("classify tones.model long-tone.wav --json --top 1") == 0);
    CHECK(output_has("\"class\":\t\"high\"") && output_has("\"probability\""));
    /* Run from its build tree, the program finds the shipped model in the source tree. */
    CHECK(run("classify long-tone.wav --top 1") == 0);
    CHECK(output_has("using the shipped model ") && output_has("/models/us8k-seed.model\n"));
}

static void test_refusals(void) {
    CHECK(run("prepare") == 2);
    CHECK(run("prepare tones") == 2 && output_has("-o"));
    CHECK(run("prepare no-such-folder -o x.safetensors") == 1 && output_has("no-such-folder"));
    CHECK(run("prepare empty -o x.safetensors") == 1 && output_has("no audio files"));
    CHECK(!exists("x.safetensors"));
    CHECK(run("prepare tones -o x.safetensors --mels 0") == 2 && output_has("--mels"));
    CHECK(run("prepare tones -o x.safetensors --hop 4096 --fft 1024") == 1 && output_has("hop"));
    CHECK(run("prepare tones -o x.safetensors --exclude unicorn") == 1 && output_has("unicorn"));
    CHECK(run("prepare tones -o x.safetensors --layout weird") == 2);
    CHECK(!exists("x.safetensors") && no_temporaries());
    CHECK(run("info no-such-file") == 1 && output_has("no-such-file"));
    CHECK(run("info tones/high/TRAIN-broken.wav") == 1 && output_has("TRAIN-broken.wav"));
    CHECK(run("train tones.safetensors -o y.model --epochs 0") == 2 && output_has("--epochs"));
    CHECK(run("train tones.safetensors -o y.model --lr -1") == 2);
    CHECK(run("train tones.safetensors -o y.model --arch c4,q7") == 1 && output_has("q7"));
    CHECK(run("train tones.safetensors -o y.model --train-folds 9") == 1 && output_has("no clips"));
    CHECK(run("train no-such.safetensors -o y.model") == 1 && output_has("no-such.safetensors"));
    CHECK(!exists("y.model") && no_temporaries());
    CHECK(run("eval tones.model tones.safetensors --folds 0") == 2);
    CHECK(run("eval tones.safetensors tones.safetensors") == 1);
    CHECK(run("train tones.safetensors -o y.model --adversarial cw") == 2 && output_has("--adversarial"));
    CHECK(run("train tones.safetensors -o y.model --adversarial pgd --adv-steps 0") == 2 && output_has("--adv-steps"));
    CHECK(run("eval tones.model tones.model tones.safetensors --attack pgd") == 2 && output_has("--attack"));
    CHECK(run("classify tones.model missing.wav") == 1 && output_has("missing.wav"));
    CHECK(run("prepare tones -o other.safetensors --seconds 0.5 --mels 16") == 0);
    CHECK(run("eval tones.model other.safetensors") == 1 && output_has("n_mels"));
    CHECK(run("frobnicate") == 2 && output_has("unknown command"));
    CHECK(run("--help") == 0 && output_has("prepare") && output_has("classify"));
}

/* Ctrl-C, as a terminal sends it: a real SIGINT to a training program
 * ends it soon with status 130, a checkpoint written and nothing
 * half-written; --resume from that checkpoint finishes the run. */
static void test_sigint(void) {
    char out_path[1024];
    snprintf(out_path, sizeof out_path, "%s/out.txt", dir); /* where output_has looks */
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(127);
        int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0) _exit(127);
        execl(binary, binary, "train", "tones.safetensors", "-o", "sigint.model", "--arch", "c4,p2,f8", "--epochs",
              "100000", "--batch", "4", (char *)NULL);
        _exit(127);
    }
    /* Interrupt once an epoch is done (its row in MODEL.csv), or after 20 s. */
    struct timespec tick = {0, 50 * 1000 * 1000};
    for (int i = 0; i < 400 && !exists("sigint.model.csv"); i++) nanosleep(&tick, NULL);
    CHECK(kill(pid, SIGINT) == 0);
    int status = 0, waited = 0;
    for (; waited < 400 && waitpid(pid, &status, WNOHANG) == 0; waited++) nanosleep(&tick, NULL);
    if (waited == 400) {
        kill(pid, SIGKILL), waitpid(pid, &status, 0);
        CHECK_MSG(0, "train did not stop within 20 s of SIGINT");
    }
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 130, "train after SIGINT: status %d", status);
    CHECK(output_has("interrupted"));
    CHECK(no_temporaries());
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "ls '%s/sigint.model.checkpoints/' | grep -q '^ckpt-.*\\.model$'", dir);
    CHECK_MSG(system(cmd) == 0, "no checkpoint after SIGINT");
}

/* texture and style with the shipped model (found from the build tree):
 * each writes its WAV at the example's or content's format; bad examples
 * fail with a message and leave nothing. */
static void test_textures(void) {
    write_tone("five.wav", 700, 5.0, 16000);
    char path[1024];
    snprintf(path, sizeof path, "%s/quiet.wav", dir); /* 5 s of silence */
    SF_INFO info = {.samplerate = 16000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_PCM_16};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    float *zero = calloc(80000, sizeof *zero);
    if (!sf || !zero) exit(2);
    sf_writef_float(sf, zero, 80000);
    sf_close(sf);
    free(zero);
    CHECK(run("texture five.wav -o t.wav --seconds 4.5 --iterations 3 -q") == 0);
    CHECK(output_has("wrote t.wav (4.50 s, 16000 Hz, 1 channel") && output_has("Gram error"));
    CHECK(run("style five.wav five.wav -o s.wav --iterations 2 --style-weight 3 -q") == 0);
    CHECK(output_has("wrote s.wav (5.00 s, 16000 Hz"));
    CHECK(run("texture tones/low/TRAIN-00.wav -o u.wav") == 1 && output_has("shorter than the model can hear"));
    CHECK(run("texture quiet.wav -o u.wav") == 1 && output_has("quiet.wav") && output_has("silent"));
    CHECK(run("texture five.wav -o u.wav --texture-layers fc1") == 1 && output_has("no positions"));
    CHECK(run("texture five.wav -o u.wav --texture-layers conv9") == 2 && output_has("no layer 'conv9'"));
    CHECK(run("texture five.wav -o u.wav --class siren") == 2 && output_has("--texture-layers"));
    CHECK(run("style five.wav -o u.wav") == 2 && output_has("style needs CONTENT and STYLE"));
    CHECK(run("dream five.wav -o u.wav --style-weight 2") == 2 && output_has("style's"));
    CHECK(run("dream five.wav -o u.wav --guide missing.wav") == 1 && output_has("missing.wav"));
    CHECK(!exists("u.wav") && !exists("u.json") && no_temporaries());
}

int main(void) {
    binary = test_binary();
    snprintf(dir, sizeof dir, "%s", test_make_dir());
    make_dataset();
    test_pipeline();
    test_sigint();
    test_refusals();
    test_textures();
    test_cleanup_dir(dir);
    return test_result("test_cli");
}
