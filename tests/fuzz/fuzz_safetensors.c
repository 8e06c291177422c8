/* libFuzzer target: the safetensors reader, and the two readers built on it
 * (feature files and model files), which check their own metadata. */
#include "fuzz_common.h"
#include "sonodream/classifier.h"
#include "sonodream/data.h"
#include "sonodream/safetensors.h"

static void read_every_tensor(const sono_st_file *f) {
    for (int i = 0; i < sono_st_tensor_count(f); i++) {
        const sono_st_tensor *t = sono_st_tensor_at(f, i);
        if (t->nbytes > (1u << 20)) continue; /* validated against the file size already */
        void *buf = malloc(t->nbytes ? t->nbytes : 1);
        sono_error err = {0};
        if (buf) fuzz_check_refusal(sono_st_read(f, t, buf, t->nbytes, &err), &err);
        free(buf);
    }
    for (int i = 0; i < sono_st_metadata_count(f); i++) {
        const char *key = sono_st_metadata_key_at(f, i);
        if (!key || !sono_st_metadata(f, key)) abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_scratch_path(".safetensors");
    if (!fuzz_write_scratch(path, data, size)) return 0;
    sono_error err = {0};
    sono_st_file *f = NULL;
    sono_status s = sono_st_open(&f, path, &err);
    fuzz_check_refusal(s, &err);
    if (s == SONO_OK) {
        read_every_tensor(f);
        sono_st_close(f);
    }
    sono_feature_set *set = NULL;
    s = sono_feature_set_read(path, &set, &err);
    fuzz_check_refusal(s, &err);
    if (s == SONO_OK) sono_feature_set_free(set);
    sono_classifier *c = NULL;
    sono_optim *opt = NULL;
    s = sono_classifier_load(path, 2, &c, &opt, &err);
    fuzz_check_refusal(s, &err);
    if (s == SONO_OK) {
        sono_optim_free(opt);
        sono_classifier_free(c);
    }
    unlink(path);
    return 0;
}
