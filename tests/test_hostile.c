/* Hostile input at the command line: every reader (audio, the UrbanSound8K
 * CSV, class folders, feature files, model files, architecture specs, option
 * values) given a bad input must exit non-zero without crashing, print a
 * message that names the file (or option) and the problem, and leave no
 * output and no temporary file behind. Run under `make test-asan` too, where
 * any invalid access aborts the command. */
#include <errno.h>
#include <sndfile.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "check.h"
#include "sonodream/safetensors.h"

static const char *binary;
static char dir[256];

/* ---- files ---------------------------------------------------------------- */

static const char *in_dir(const char *name) {
    static char path[4][1024];
    static int next = 0;
    next = (next + 1) % 4;
    snprintf(path[next], sizeof path[next], "%s/%s", dir, name);
    return path[next];
}

static void write_bytes(const char *name, const void *data, size_t n) {
    FILE *f = fopen(in_dir(name), "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", name);
        exit(2);
    }
}

static void write_text(const char *name, const char *text) { write_bytes(name, text, strlen(text)); }

static void make_dir(const char *name) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", in_dir(name));
    if (system(cmd) != 0) exit(2);
}

static void write_audio(const char *name, int format, int channels, int rate, const float *x, int frames) {
    SF_INFO info = {.samplerate = rate, .channels = channels, .format = format};
    SNDFILE *sf = sf_open(in_dir(name), SFM_WRITE, &info);
    if (!sf || sf_writef_float(sf, x, frames) != frames) {
        fprintf(stderr, "cannot write %s: %s\n", name, sf_strerror(sf));
        exit(2);
    }
    sf_close(sf);
}

/* A one-second 16-bit tone, 8 kHz: a canonical WAV with a 44-byte header. */
static void write_tone(const char *name, double freq) {
    float x[8000];
    for (int i = 0; i < 8000; i++) x[i] = 0.5f * (float)sin(2 * M_PI * freq * i / 8000.0);
    write_audio(name, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 8000, x, 8000);
}

/* Overwrite bytes at an offset (header fields of a canonical WAV). */
static void patch(const char *name, long offset, const void *bytes, size_t n) {
    FILE *f = fopen(in_dir(name), "r+b");
    if (!f || fseek(f, offset, SEEK_SET) != 0 || fwrite(bytes, 1, n, f) != n || fclose(f) != 0) exit(2);
}

static void patch_u32(const char *name, long offset, uint32_t v) {
    unsigned char b[4] = {v & 255, (v >> 8) & 255, (v >> 16) & 255, v >> 24};
    patch(name, offset, b, 4);
}

/* A safetensors file from a header text and a data section of n zero bytes. */
static void write_safetensors(const char *name, const char *header, size_t data_bytes) {
    size_t hlen = strlen(header), total = 8 + hlen + data_bytes;
    unsigned char *buf = calloc(1, total);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    memcpy(buf + 8, header, hlen);
    write_bytes(name, buf, total);
    free(buf);
}

/* Copy a safetensors file, leaving out one tensor, changing one tensor's
 * dtype (same bytes, I32 for F32), or setting one metadata value. */
typedef struct rewrite {
    const char *drop_tensor, *retype_tensor, *meta_key, *meta_value, *meta_key2, *meta_value2;
} rewrite;

static void rewrite_safetensors(const char *from, const char *to, rewrite how) {
    sono_st_file *f = NULL;
    sono_error err = {0};
    if (sono_st_open(&f, in_dir(from), &err) != SONO_OK) {
        fprintf(stderr, "%s\n", err.message);
        exit(2);
    }
    sono_st_writer *w = sono_st_writer_new();
    void *keep[64];
    int kept = 0;
    for (int i = 0; i < sono_st_tensor_count(f) && kept < 64; i++) {
        const sono_st_tensor *t = sono_st_tensor_at(f, i);
        if (how.drop_tensor && strcmp(t->name, how.drop_tensor) == 0) continue;
        void *data = keep[kept++] = malloc(t->nbytes ? t->nbytes : 1);
        if (sono_st_read(f, t, data, t->nbytes, &err) != SONO_OK) exit(2);
        sono_dtype dtype = how.retype_tensor && strcmp(t->name, how.retype_tensor) == 0 ? SONO_DTYPE_I32 : t->dtype;
        if (sono_st_writer_add(w, t->name, dtype, t->ndim, t->shape, data, &err) != SONO_OK) exit(2);
    }
    for (int i = 0; i < sono_st_metadata_count(f); i++) {
        const char *key = sono_st_metadata_key_at(f, i);
        const char *value = how.meta_key && strcmp(key, how.meta_key) == 0     ? how.meta_value
                            : how.meta_key2 && strcmp(key, how.meta_key2) == 0 ? how.meta_value2
                                                                               : sono_st_metadata(f, key);
        if (sono_st_writer_set_metadata(w, key, value, &err) != SONO_OK) exit(2);
    }
    if (sono_st_writer_write(w, in_dir(to), &err) != SONO_OK) {
        fprintf(stderr, "%s\n", err.message);
        exit(2);
    }
    sono_st_writer_free(w);
    for (int i = 0; i < kept; i++) free(keep[i]);
    sono_st_close(f);
}

/* ---- running the command --------------------------------------------------- */

static int file_exists(const char *name) {
    struct stat st;
    return stat(in_dir(name), &st) == 0;
}

static int no_temporaries(void) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "find '%s' -name '*.tmp-*' | grep -q .", dir);
    return system(cmd) != 0;
}

/* Run `sonodream ARGS` in the test folder, output in dir/out.txt. Returns the
 * exit status, or 128 + signal when it crashed. */
static long address_space_limit_kb = 0; /* ulimit -v for the next commands; 0: none */

static int run(const char *args) {
    char cmd[4096], limit[64] = "";
    if (address_space_limit_kb > 0) snprintf(limit, sizeof limit, "ulimit -v %ld && ", address_space_limit_kb);
    /* timeout: a command that hangs on bad input fails here (status 124). */
    snprintf(cmd, sizeof cmd, "cd '%s' && %stimeout 120 '%s' %s > out.txt 2>&1", dir, limit, binary, args);
    int rc = system(cmd);
    if (rc == -1) return -1;
    if (WIFSIGNALED(rc)) return 128 + WTERMSIG(rc);
    return WEXITSTATUS(rc);
}

static char *output(void) {
    static char buf[65536];
    FILE *f = fopen(in_dir("out.txt"), "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f) fclose(f);
    buf[n] = '\0';
    return buf;
}

/* The command must fail cleanly: exit 1 or 2 (not a crash, not a sanitizer's
 * report), the message names `subject` and says `problem`, and `product`
 * (when given) is not there afterwards, nor any temporary file. */
static void expect_refusal(const char *args, const char *subject, const char *problem, const char *product) {
    int rc = run(args);
    const char *out = output();
    CHECK_MSG(rc == 1 || rc == 2, "'%s' exited %d:\n%s", args, rc, out);
    CHECK_MSG(strstr(out, subject) != NULL, "'%s': message does not name '%s':\n%s", args, subject, out);
    CHECK_MSG(strstr(out, problem) != NULL, "'%s': message does not say '%s':\n%s", args, problem, out);
    CHECK_MSG(strstr(out, "Sanitizer") == NULL && strstr(out, "runtime error") == NULL, "'%s':\n%s", args, out);
    if (product) CHECK_MSG(!file_exists(product), "'%s' left %s behind", args, product);
    CHECK_MSG(no_temporaries(), "'%s' left a temporary file", args);
}

static void expect_success(const char *args) {
    int rc = run(args);
    CHECK_MSG(rc == 0, "'%s' exited %d:\n%s", args, rc, output());
}

/* ---- a small valid world to break ------------------------------------------ */

/* tones/{low,high}: class folders; tones.safetensors, tones.model from them. */
static void make_reference_files(void) {
    make_dir("tones/low");
    make_dir("tones/high");
    char name[64];
    for (int i = 0; i < 6; i++) {
        snprintf(name, sizeof name, "tones/low/clip%d.wav", i);
        write_tone(name, 200 + 20 * i);
        snprintf(name, sizeof name, "tones/high/clip%d.wav", i);
        write_tone(name, 2500 + 50 * i);
    }
    write_tone("tone.wav", 300);
    expect_success("prepare tones -o tones.safetensors --seconds 1 --mels 16");
    expect_success("train tones.safetensors -o tones.model --arch c4,p2,f8 --epochs 2 --batch 4 --checkpoint-every 1");
}

/* ---- audio ----------------------------------------------------------------- */

/* Each bad file is refused by classify (the decoder) and dream (which must
 * also leave none of its outputs); a bad header also by info, which reads
 * only the header and so cannot see damage in the samples. */
typedef enum { DAMAGE_IN_HEADER, DAMAGE_IN_DATA } damage;

static void expect_audio_refused(const char *name, damage where, const char *problem) {
    char args[512];
    if (where == DAMAGE_IN_HEADER) {
        snprintf(args, sizeof args, "info %s", name);
        expect_refusal(args, name, problem, NULL);
    }
    snprintf(args, sizeof args, "classify tones.model %s", name);
    expect_refusal(args, name, problem, NULL);
    snprintf(args, sizeof args, "dream tones.model %s -o dreamed.wav --iterations 1 --report", name);
    expect_refusal(args, name, problem, "dreamed.wav");
    CHECK(!file_exists("dreamed.png") && !file_exists("dreamed.json") && !file_exists("dreamed.html"));
}

static void test_audio(void) {
    write_text("zero.wav", "");
    expect_audio_refused("zero.wav", DAMAGE_IN_HEADER, "cannot open");

    float silence[1] = {0};
    write_audio("header-only.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 8000, silence, 0);
    expect_audio_refused("header-only.wav", DAMAGE_IN_DATA, "no audio data");

    write_tone("truncated.wav", 440);
    CHECK(truncate(in_dir("truncated.wav"), 44 + 5000) == 0);
    expect_audio_refused("truncated.wav", DAMAGE_IN_DATA, "truncated");

    /* The data chunk claims 1 MB; the file holds 16 kB. */
    write_tone("overclaim.wav", 440);
    patch_u32("overclaim.wav", 40, 1000000);
    expect_audio_refused("overclaim.wav", DAMAGE_IN_DATA, "truncated");

    write_tone("channels0.wav", 440);
    patch("channels0.wav", 22, "\0\0", 2);
    expect_audio_refused("channels0.wav", DAMAGE_IN_HEADER, "channels0.wav: cannot open");

    write_tone("rate0.wav", 440);
    patch_u32("rate0.wav", 24, 0);
    expect_audio_refused("rate0.wav", DAMAGE_IN_HEADER, "rate0.wav: cannot open");

    write_tone("rate2mhz.wav", 440);
    patch_u32("rate2mhz.wav", 24, 2000000);
    patch_u32("rate2mhz.wav", 28, 4000000); /* byte rate to match */
    expect_audio_refused("rate2mhz.wav", DAMAGE_IN_HEADER, "sample rate 2000000");

    write_tone("rate-huge.wav", 440);
    patch_u32("rate-huge.wav", 24, 0xfffffff0u);
    expect_audio_refused("rate-huge.wav", DAMAGE_IN_HEADER, "rate-huge.wav: cannot open as audio");

    float x[64] = {0};
    x[10] = NAN;
    write_audio("nan.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, 8000, x, 64);
    expect_audio_refused("nan.wav", DAMAGE_IN_DATA, "NaN or infinite");
    x[10] = INFINITY;
    write_audio("inf.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, 8000, x, 64);
    expect_audio_refused("inf.wav", DAMAGE_IN_DATA, "NaN or infinite");
    x[10] = 8.4e37f;
    write_audio("huge-sample.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, 8000, x, 64);
    expect_audio_refused("huge-sample.wav", DAMAGE_IN_DATA, "not audio");

    write_text("notes.wav", "Shopping list: milk, eggs, a better microphone.\n");
    expect_audio_refused("notes.wav", DAMAGE_IN_HEADER, "notes.wav: cannot open");

    make_dir("folder.wav");
    expect_audio_refused("folder.wav", DAMAGE_IN_HEADER, "directory");

    expect_audio_refused("absent.wav", DAMAGE_IN_HEADER, "No such file");

    /* A named pipe nobody writes to: opening it would wait forever. */
    CHECK(mkfifo(in_dir("pipe.wav"), 0600) == 0);
    expect_audio_refused("pipe.wav", DAMAGE_IN_HEADER, "named pipe");
}

/* ---- the UrbanSound8K CSV ------------------------------------------------------ */

static const char *csv_header = "slice_file_name,fsID,start,end,salience,fold,classID,class\n";

/* us8k/: audio/fold1/{a,b}.wav and the given CSV text. */
static void make_us8k(const char *csv) {
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/us8k'", dir);
    if (system(cmd) != 0) exit(2);
    make_dir("us8k/metadata");
    make_dir("us8k/audio/fold1");
    write_tone("us8k/audio/fold1/a.wav", 300);
    write_tone("us8k/audio/fold1/b,c.wav", 3000);
    write_text("us8k/metadata/UrbanSound8K.csv", csv);
}

static void expect_csv_refused(const char *rows, const char *problem) {
    char csv[2048];
    snprintf(csv, sizeof csv, "%s%s", csv_header, rows);
    make_us8k(csv);
    expect_refusal("prepare us8k -o us8k.safetensors --seconds 1", "us8k/metadata/UrbanSound8K.csv", problem,
                   "us8k.safetensors");
}

static void test_csv(void) {
    /* What real files have is accepted: quotes, a BOM, CRLF line ends. */
    make_us8k("\xEF\xBB\xBF"
              "slice_file_name,fsID,start,end,salience,fold,classID,class\r\n"
              "a.wav,1,0,1,1,1,0,air_conditioner\r\n"
              "\"b,c.wav\",2,0,1,1,1,8,\"siren\"\r\n");
    expect_success("prepare us8k -o us8k.safetensors --seconds 1");
    CHECK(strstr(output(), "2 clips, 2 classes") != NULL);
    CHECK(remove(in_dir("us8k.safetensors")) == 0);

    make_us8k("slice_file_name,fold,class\na.wav,1,air_conditioner\n");
    expect_refusal("prepare us8k -o us8k.safetensors", "UrbanSound8K.csv", "classID", "us8k.safetensors");
    make_us8k("");
    expect_refusal("prepare us8k -o us8k.safetensors", "UrbanSound8K.csv", "empty", "us8k.safetensors");
    expect_csv_refused("", "no data rows");
    expect_csv_refused("a.wav,1,0,1,1,1,0,air_conditioner,extra\n", ":2:");
    expect_csv_refused("a.wav,1,0,1,1,1,0\n", ":2:");
    expect_csv_refused("\"a.wav,1,0,1,1,1,0,air_conditioner\n", "unterminated");
    expect_csv_refused("a.wav,1,0,1,1,one,0,air_conditioner\n", "fold 'one'");
    expect_csv_refused("a.wav,1,0,1,1,11,0,air_conditioner\n", "fold '11'");
    expect_csv_refused("a.wav,1,0,1,1,0,0,air_conditioner\n", "fold '0'");
    expect_csv_refused("a.wav,1,0,1,1,1,zero,air_conditioner\n", "classID 'zero'");
    expect_csv_refused("a.wav,1,0,1,1,1,-3,air_conditioner\n", "classID '-3'");
    expect_csv_refused("a.wav,1,0,1,1,1,99999999999999999999,air_conditioner\n", "classID '99999999999999999999'");
    expect_csv_refused("a.wav,1,0,1,1,1,0,air_conditioner\na.wav,1,0,1,1,1,0,air_conditioner\n", "twice");
    expect_csv_refused("a.wav,1,0,1,1,1,0,air_conditioner\nb,c.wav,1,0,1,1,1,0,siren\n", ":3:");
    expect_csv_refused("../../etc/passwd,1,0,1,1,1,0,air_conditioner\n", "slice_file_name");
}

/* ---- class-folder trees ---------------------------------------------------------- */

static void test_class_folders(void) {
    make_dir("tree-empty");
    expect_refusal("prepare tree-empty -o t.safetensors", "tree-empty", "no audio files", "t.safetensors");
    make_dir("tree-broken/a");
    make_dir("tree-broken/b");
    write_text("tree-broken/a/x.wav", "not audio");
    write_text("tree-broken/b/y.wav", "");
    expect_refusal("prepare tree-broken -o t.safetensors", "tree-broken", "no clip could be prepared", "t.safetensors");
    expect_refusal("prepare tree-broken -o t.safetensors --strict", "tree-broken/a/x.wav", "cannot open",
                   "t.safetensors");
    expect_refusal("prepare tone.wav -o t.safetensors", "tone.wav", "not a folder", "t.safetensors");
    /* A pipe among the clips is skipped like any unreadable file, and symbolic
     * links that loop do not trap the scan. */
    make_dir("tree-odd/a");
    make_dir("tree-odd/b");
    write_tone("tree-odd/a/one.wav", 300);
    write_tone("tree-odd/b/two.wav", 3000);
    CHECK(mkfifo(in_dir("tree-odd/a/pipe.wav"), 0600) == 0);
    CHECK(symlink("loop.wav", in_dir("tree-odd/a/loop.wav")) == 0);
    CHECK(symlink(".", in_dir("tree-odd/b/self")) == 0);
    expect_success("prepare tree-odd -o odd.safetensors --seconds 1");
    CHECK(strstr(output(), "skipped 2 unreadable") != NULL && strstr(output(), "named pipe") != NULL);
    expect_refusal("prepare tree-odd -o odd2.safetensors --seconds 1 --strict", "tree-odd/a/", "", "odd2.safetensors");
    expect_refusal("prepare absent-tree -o t.safetensors", "absent-tree", "No such file", "t.safetensors");
    /* Features are written as they are made, so memory is bounded by the
     * threads, not the dataset: refused up front only when one clip in flight
     * per thread does not fit, naming the size (1 thread: 2 x 16000 decode
     * samples + 512 feature values for the thread, 3 x 512 for the chunk, 4
     * bytes each = 136192 bytes); a limit below the dataset's features
     * (12 x 512 x 4 = 24 KiB) but above that works. */
    expect_refusal("prepare tones -o t.safetensors --seconds 1 --mels 16 --jobs 1 --max-memory 20K",
                   "needs 133.0 KiB (136192 bytes)", "--max-memory", "t.safetensors");
    expect_success("prepare tones -o t.safetensors --seconds 1 --mels 16 --jobs 1 --max-memory 133K");
    CHECK(remove(in_dir("t.safetensors")) == 0);
    /* The output cannot be written: the message names it, the input is untouched. */
    expect_refusal("prepare tones -o no-such-folder/t.safetensors --seconds 1", "no-such-folder/t.safetensors",
                   "No such file", NULL);
}

/* ---- feature files and model files --------------------------------------------------- */

/* Damaged safetensors containers, refused by every command that reads one. */
/* ---- the ESC-50, Speech Commands and manifest layouts ----------------------- */

static void test_new_layouts(void) {
    make_dir("esc/meta");
    make_dir("esc/audio");
    write_tone("esc/audio/1-1-A-0.wav", 300);
    write_tone("esc/audio/1-2-A-0.wav", 320);
    write_tone("esc/audio/2-3-A-1.wav", 900);
    write_text("esc/meta/esc50.csv", "filename,fold,target,category,esc10,src_file,take\n"
                                     "1-1-A-0.wav,1,0,dog,True,1,A\n"
                                     "2-3-A-1.wav,2,1,rooster,True,3,A\n"
                                     "1-2-A-0.wav,1,0,cat,True,2,A\n");
    expect_refusal("prepare esc -o esc.safetensors", "esc50.csv:4:", "target and category disagree", "esc.safetensors");
    write_text("esc/meta/esc50.csv", "filename,fold,target,category\n1-1-A-0.wav,1,0,dog\n");
    expect_refusal("prepare esc -o esc.safetensors --esc10", "esc50.csv:1:", "'esc10' is missing", "esc.safetensors");

    make_dir("sc/yes");
    make_dir("sc/no");
    write_tone("sc/yes/a_nohash_0.wav", 300);
    write_tone("sc/no/a_nohash_0.wav", 900);
    write_text("sc/validation_list.txt", "yes/a_nohash_0.wav\nno/b_nohash_0.wav\n");
    write_text("sc/testing_list.txt", "");
    expect_refusal("prepare sc -o sc.safetensors", "validation_list.txt:2:", "no/b_nohash_0.wav", "sc.safetensors");

    make_dir("man/clips");
    write_tone("man/clips/a.wav", 300);
    write_tone("man/clips/b.wav", 900);
    write_tone("outside.wav", 600);
    write_text("man/m.csv", "path,label\nclips/a.wav,gull\n");
    expect_refusal("prepare --manifest man/m.csv -o m.safetensors --fold-column split", "m.csv:1:",
                   "no column named 'split'", "m.safetensors");
    write_text("man/m.csv", "path,label,fold\nclips/a.wav,gull,1\nclips/b.wav,crow,x\n");
    expect_refusal("prepare --manifest man/m.csv -o m.safetensors", "m.csv:3:", "fold 'x' is not a whole number",
                   "m.safetensors");
    write_text("man/m.csv", "path,label,fold\nclips/a.wav,gull,1\n../outside.wav,crow,2\n");
    expect_refusal("prepare --manifest man/m.csv -o m.safetensors", "m.csv:3:", "not a file inside", "m.safetensors");
    write_text("man/m.csv", "path,label,fold\nclips/a.wav,gull,1\nclips/b.wav,crow,2\n");
    expect_refusal("prepare --manifest man/m.csv -o m.safetensors --classes gull,owl", "m.csv:3:",
                   "unknown label 'crow'", "m.safetensors");
    /* The good manifest, through the command line, SRC being the file. */
    expect_success("prepare man/m.csv -o m.safetensors --seconds 1 --mels 16");
    CHECK_MSG(strstr(output(), "2 clips, 2 classes (manifest layout)") != NULL, "%s", output());
}

/* crossval refuses bad options and foreign folders before training anything. */
static void test_crossval_refusals(void) {
    expect_refusal("crossval tones.safetensors -o cv --val next", "--val next", "at least three folds", "cv");
    expect_refusal("crossval tones.safetensors -o cv --folds 7", "--folds", "fold 7", "cv/fold7.json");
    expect_refusal("crossval tones.safetensors -o cv --val sometimes", "--val", "not none or next", "cv");
    expect_refusal("crossval tones.safetensors", "crossval", "-o DIR", NULL);
    write_text("cv-file", "not a folder");
    expect_refusal("crossval tones.safetensors -o cv-file --folds 1", "cv-file", "not a folder", NULL);
}

static void expect_container_refused(const char *header, size_t data_bytes, const char *problem) {
    write_safetensors("damaged.safetensors", header, data_bytes);
    expect_refusal("info damaged.safetensors", "damaged.safetensors", problem, NULL);
    expect_refusal("train damaged.safetensors -o m.model --epochs 1", "damaged.safetensors", problem, "m.model");
    expect_refusal("eval damaged.safetensors tones.safetensors", "damaged.safetensors", problem, NULL);
    expect_refusal("classify damaged.safetensors tone.wav", "damaged.safetensors", problem, NULL);
    expect_refusal("dream damaged.safetensors tone.wav -o d.wav", "damaged.safetensors", problem, "d.wav");
}

static void test_containers(void) {
    CHECK(mkfifo(in_dir("pipe.safetensors"), 0600) == 0);
    expect_refusal("info pipe.safetensors", "pipe.safetensors", "named pipe", NULL);
    expect_refusal("train pipe.safetensors -o m.model", "pipe.safetensors", "named pipe", "m.model");
    expect_refusal("classify pipe.safetensors tone.wav", "pipe.safetensors", "named pipe", NULL);
    make_us8k("");
    CHECK(remove(in_dir("us8k/metadata/UrbanSound8K.csv")) == 0 && mkfifo(in_dir("us8k/metadata/UrbanSound8K.csv"), 0600) == 0);
    expect_refusal("prepare us8k -o us8k.safetensors --layout urbansound8k", "UrbanSound8K.csv", "named pipe",
                   "us8k.safetensors");

    unsigned char past_end[16] = {0x00, 0x10, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' '};
    write_bytes("damaged.safetensors", past_end, sizeof past_end);
    expect_refusal("info damaged.safetensors", "damaged.safetensors", "header length", NULL);
    expect_refusal("train damaged.safetensors -o m.model", "damaged.safetensors", "header length", "m.model");
    write_bytes("damaged.safetensors", past_end, 5);
    expect_refusal("info damaged.safetensors", "damaged.safetensors", "too short", NULL);
    expect_container_refused("[\"not\", \"an\", \"object\"]", 0, "not a JSON object");
    expect_container_refused("{\"a\": ", 0, "not valid JSON");
    expect_container_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                             "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                             12, "overlap");
    expect_container_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, "past the end");
    expect_container_refused("{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
                             "\"data_offsets\":[0,8]}}",
                             8, "overflow");
    expect_container_refused("{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "dtype");
    /* A valid safetensors file of another program: info lists it, the rest refuse it. */
    write_safetensors("foreign.safetensors",
                      "{\"__metadata__\":{\"format\":\"something-else\"},"
                      "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                      8);
    expect_success("info foreign.safetensors");
    expect_refusal("train foreign.safetensors -o m.model", "foreign.safetensors", "not a sonodream feature file",
                   "m.model");
    expect_refusal("eval foreign.safetensors tones.safetensors", "foreign.safetensors",
                   "not a sonodream model (format 'something-else'", NULL);
    expect_refusal("dream foreign.safetensors tone.wav -o d.wav", "foreign.safetensors", "not a sonodream model",
                   "d.wav");
}

/* Well-formed containers whose content is wrong for sonodream. */
static void test_feature_content(void) {
    rewrite no_labels = {.drop_tensor = "labels"};
    rewrite_safetensors("tones.safetensors", "f-nolabels.safetensors", no_labels);
    expect_refusal("info f-nolabels.safetensors", "f-nolabels.safetensors", "labels", NULL);
    expect_refusal("train f-nolabels.safetensors -o m.model", "f-nolabels.safetensors", "labels", "m.model");

    rewrite int_features = {.retype_tensor = "features"};
    rewrite_safetensors("tones.safetensors", "f-dtype.safetensors", int_features);
    expect_refusal("train f-dtype.safetensors -o m.model", "f-dtype.safetensors", "I32", "m.model");
    expect_refusal("eval tones.model f-dtype.safetensors", "f-dtype.safetensors", "I32", NULL);

    rewrite newer = {.meta_key = "format_version", .meta_value = "7"};
    rewrite_safetensors("tones.safetensors", "f-newer.safetensors", newer);
    expect_refusal("train f-newer.safetensors -o m.model", "f-newer.safetensors", "newer", "m.model");

    rewrite bad_config = {.meta_key = "feature_config", .meta_value = "{\"sample_rate\": \"fast\"}"};
    rewrite_safetensors("tones.safetensors", "f-config.safetensors", bad_config);
    expect_refusal("train f-config.safetensors -o m.model", "f-config.safetensors", "sample_rate", "m.model");

    /* A model where features are expected, and the other way round. */
    expect_refusal("train tones.model -o m.model", "tones.model", "not a sonodream feature file", "m.model");
    expect_refusal("classify tones.safetensors tone.wav", "tones.safetensors", "not a sonodream model", NULL);
}

static void test_model_content(void) {
    rewrite no_weight = {.drop_tensor = "conv1.weight"};
    rewrite_safetensors("tones.model", "m-noweight.model", no_weight);
    expect_refusal("classify m-noweight.model tone.wav", "m-noweight.model", "conv1.weight", NULL);
    expect_refusal("dream m-noweight.model tone.wav -o d.wav", "m-noweight.model", "conv1.weight", "d.wav");

    rewrite int_weight = {.retype_tensor = "fc1.weight"};
    rewrite_safetensors("tones.model", "m-dtype.model", int_weight);
    expect_refusal("classify m-dtype.model tone.wav", "m-dtype.model", "fc1.weight", NULL);

    rewrite newer = {.meta_key = "format_version", .meta_value = "2"};
    rewrite_safetensors("tones.model", "m-newer.model", newer);
    expect_refusal("eval m-newer.model tones.safetensors", "m-newer.model", "version '2'", NULL);

    rewrite bad_arch = {.meta_key = "arch", .meta_value = "c4,q9"};
    rewrite_safetensors("tones.model", "m-arch.model", bad_arch);
    expect_refusal("classify m-arch.model tone.wav", "m-arch.model", "q9", NULL);

    rewrite bad_classes = {.meta_key = "classes", .meta_value = "[\"low\"]"};
    rewrite_safetensors("tones.model", "m-classes.model", bad_classes);
    expect_refusal("classify m-classes.model tone.wav", "m-classes.model", "class", NULL);

    /* Tiny files that describe huge networks, under a 3 GB address-space
     * limit (not under ASan, whose shadow memory needs more than that). One
     * whose tensors do not fit its arch is refused for that, before the
     * network is built; one whose tensors fit (convolutions and pools leave
     * the weights small at any input size) is refused for the memory it
     * would need, again before it is built. */
    rewrite huge_net = {.meta_key = "input_shape", .meta_value = "1,4096,4096",
                        .meta_key2 = "arch", .meta_value2 = "c16,c16,c16,c16,c16,c16,p2,f8"};
    rewrite_safetensors("tones.model", "m-huge.model", huge_net);
    expect_success("prepare tones -o square.safetensors --mels 64 --seconds 2.016");
    expect_success("train square.safetensors -o square.model --arch c16,c16,c16,p64,p64 --epochs 1 --batch 4");
    rewrite huge_input = {.meta_key = "input_shape", .meta_value = "1,4096,4096"};
    rewrite_safetensors("square.model", "m-huge-fits.model", huge_input);
    if (!getenv("ASAN_OPTIONS")) {
        address_space_limit_kb = 3000000;
        expect_refusal("classify m-huge.model tone.wav", "m-huge.model", "tensor 'conv1.weight'", NULL);
        expect_refusal("classify m-huge-fits.model tone.wav", "m-huge-fits.model", "GiB for batch 1 but only", NULL);
        address_space_limit_kb = 0;
    }
    expect_refusal("classify m-huge.model tone.wav", "m-huge.model", "tensor 'conv1.weight'", NULL);

    /* A model used with features made another way. */
    expect_success("prepare tones -o other.safetensors --seconds 1 --mels 24");
    expect_refusal("eval tones.model other.safetensors", "other.safetensors", "n_mels", NULL);
    expect_refusal("train other.safetensors -o m.model --resume \"$(ls tones.model.checkpoints/ckpt-*.model | tail -n 1)\"",
                   "tones.model.checkpoints/ckpt-", "features differ from the dataset's (n_mels: 16 vs 24)", "m.model");
    /* A finished model has no optimizer state: not something to resume. */
    expect_refusal("train tones.safetensors -o m.model --resume tones.model", "tones.model", "not a checkpoint",
                   "m.model");
}

/* ---- option values ------------------------------------------------------------------ */

static void test_values(void) {
    static const struct {
        const char *args, *subject, *problem, *product;
    } cases[] = {
        {"prepare tones -o v.safetensors --seconds 0", "--seconds", "", "v.safetensors"},
        {"prepare tones -o v.safetensors --seconds -1", "--seconds", "", "v.safetensors"},
        {"prepare tones -o v.safetensors --seconds nan", "--seconds", "", "v.safetensors"},
        {"prepare tones -o v.safetensors --mels 0", "--mels", "", "v.safetensors"},
        {"prepare tones -o v.safetensors --mels 12x", "--mels", "", "v.safetensors"},
        {"prepare tones -o v.safetensors --sample-rate -16000", "--sample-rate", "", "v.safetensors"},
        {"prepare tones -o v.safetensors --sample-rate 1e9", "--sample-rate", "", "v.safetensors"},
        {"prepare tones -o v.safetensors --max-memory 0", "--max-memory", "", "v.safetensors"},
        {"prepare tones -o v.safetensors --max-memory lots", "--max-memory", "", "v.safetensors"},
        {"prepare tones -o v.safetensors --fft 0", "--fft", "", "v.safetensors"},
        {"prepare tones -o v.safetensors --hop -5", "--hop", "", "v.safetensors"},
        {"prepare tones -o v.safetensors --exclude unicorn", "unicorn", "no such class", "v.safetensors"},
        {"prepare tones -o v.safetensors --fmin 5000 --fmax 100", "fmin", "below fmax", "v.safetensors"},
        {"prepare tones -o v.safetensors --fmax 20000", "fmax", "sample_rate/2", "v.safetensors"},
        {"prepare tones -o v.safetensors --fft 16", "hop", "n_fft", "v.safetensors"},
        {"prepare tones -o v.safetensors -j 0", "--jobs", "", "v.safetensors"},
        {"train tones.safetensors -o v.model --keep 0", "--keep", "", "v.model"},
        {"train tones.safetensors -o v.model --mixup -1", "--mixup", "", "v.model"},
        {"train tones.safetensors -o v.model --iterations 0", "--iterations", "", "v.model"},
        {"train tones.safetensors -o v.model --optimizer rmsprop", "rmsprop", "", "v.model"},
        {"train tones.safetensors -o v.model --val-folds 99", "--val-folds", "", "v.model"},
        {"train tones.safetensors -o v.model --epochs 0", "--epochs", "", "v.model"},
        {"train tones.safetensors -o v.model --epochs -3", "--epochs", "", "v.model"},
        {"train tones.safetensors -o v.model --epochs 99999999999999", "--epochs", "", "v.model"},
        {"train tones.safetensors -o v.model --batch 0", "--batch", "", "v.model"},
        {"train tones.safetensors -o v.model --lr 0", "--lr", "", "v.model"},
        {"train tones.safetensors -o v.model --lr -0.1", "--lr", "", "v.model"},
        {"train tones.safetensors -o v.model --lr inf", "--lr", "", "v.model"},
        {"train tones.safetensors -o v.model --arch c4,z9", "z9", "unknown layer", "v.model"},
        {"train tones.safetensors -o v.model --arch c0", "c0", "channel count", "v.model"},
        {"train tones.safetensors -o v.model --arch c4:k4", "c4:k4", "odd", "v.model"},
        {"train tones.safetensors -o v.model --arch d1.5", "d1.5", "dropout", "v.model"},
        {"train tones.safetensors -o v.model --arch unicorn", "unicorn", "", "v.model"},
        {"train tones.safetensors -o v.model --checkpoint-every -1", "--checkpoint-every", "", "v.model"},
        {"classify tones.model tone.wav --top 0", "--top", "", NULL},
        {"classify tones.model tone.wav --top -1", "--top", "", NULL},
        {"dream tones.model tone.wav -o v.wav --layer conv9", "conv9", "conv1", "v.wav"},
        {"dream tones.model tone.wav -o v.wav --class unicorn", "unicorn", "low", "v.wav"},
        {"dream tones.model tone.wav -o v.wav --layer conv1 --channel 4", "--channel 4", "4 channels", "v.wav"},
        {"dream tones.model tone.wav -o v.wav --layer conv1 --channel -1", "--channel", "", "v.wav"},
        {"dream tones.model tone.wav -o v.wav --octaves 0", "--octaves", "", "v.wav"},
        {"dream tones.model tone.wav -o v.wav --iterations -2", "--iterations", "", "v.wav"},
        {"dream tones.model tone.wav -o v.wav --step 0", "--step", "", "v.wav"},
        {"dream tones.model tone.wav -o v.wav --step -1", "--step", "", "v.wav"},
        {"dream tones.model --noise 0 -o v.wav", "--noise", "", "v.wav"},
        {"dream tones.model --noise -4 -o v.wav", "--noise", "", "v.wav"},
        {"dream tones.model tone.wav -o v.wav --rate 0", "--rate", "", "v.wav"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        expect_refusal(cases[i].args, cases[i].subject, cases[i].problem, cases[i].product);
}

int main(void) {
    binary = test_binary();
    snprintf(dir, sizeof dir, "%s", test_make_dir());
    make_reference_files();
    test_audio();
    test_csv();
    test_class_folders();
    test_new_layouts();
    test_crossval_refusals();
    test_containers();
    test_feature_content();
    test_model_content();
    test_values();
    test_cleanup_dir(dir);
    return test_result("test_hostile");
}
