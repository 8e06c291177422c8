/* safetensors writer and reader: round trip, and refusal of damaged files. */
#include <stdint.h>

#include "check.h"
#include "sonodream/safetensors.h"

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        perror(path);
        exit(2);
    }
    fclose(f);
}

/* A file with a hand-written header, to test the reader against damage. */
static void write_raw(const char *path, const char *header, size_t data_bytes) {
    size_t hl = strlen(header);
    size_t total = 8 + hl + data_bytes;
    unsigned char *buf = calloc(1, total);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    write_bytes(path, buf, total);
    free(buf);
}

static int opens(const char *path, const char *expect_in_message) {
    sono_st_file *f = NULL;
    sono_error err = {0};
    sono_status s = sono_st_open(&f, path, &err);
    sono_st_close(f);
    if (s == SONO_OK) return 1;
    CHECK_MSG(strstr(err.message, path) != NULL, "message '%s' does not name the file", err.message);
    CHECK_MSG(strstr(err.message, expect_in_message) != NULL, "message '%s' lacks '%s'", err.message,
              expect_in_message);
    return 0;
}

static void test_round_trip(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/rt.safetensors", dir);
    float f32[2][3] = {{1, 2, 3}, {4, 5, -6.5f}};
    int32_t i32[4] = {7, -8, 9, 2147483647};
    int64_t shape_f[2] = {2, 3}, shape_i[1] = {4}, shape_empty[2] = {0, 5};
    sono_error err = {0};
    sono_st_writer *w = sono_st_writer_new();
    CHECK(w != NULL);
    CHECK_OK(sono_st_writer_add(w, "features", SONO_DTYPE_F32, 2, shape_f, f32, &err));
    CHECK_OK(sono_st_writer_add(w, "labels", SONO_DTYPE_I32, 1, shape_i, i32, &err));
    CHECK_OK(sono_st_writer_add(w, "empty", SONO_DTYPE_F32, 2, shape_empty, NULL, &err));
    CHECK(sono_st_writer_add(w, "labels", SONO_DTYPE_I32, 1, shape_i, i32, &err) != SONO_OK);
    CHECK_OK(sono_st_writer_set_metadata(w, "format", "test", &err));
    CHECK_OK(sono_st_writer_set_metadata(w, "format", "test-v2", &err));
    CHECK_OK(sono_st_writer_write(w, path, &err));
    sono_st_writer_free(w);

    sono_st_file *f = NULL;
    CHECK_OK(sono_st_open(&f, path, &err));
    if (!f) return;
    CHECK(sono_st_tensor_count(f) == 3);
    CHECK(strcmp(sono_st_metadata(f, "format"), "test-v2") == 0);
    CHECK(sono_st_metadata(f, "absent") == NULL);
    const sono_st_tensor *t = NULL;
    int64_t want[2] = {-1, 3};
    CHECK_OK(sono_st_expect(f, "features", SONO_DTYPE_F32, 2, want, &t, &err));
    float back[2][3] = {{0}};
    CHECK_OK(sono_st_read(f, t, back, sizeof back, &err));
    CHECK(memcmp(back, f32, sizeof back) == 0);
    CHECK(sono_st_expect(f, "labels", SONO_DTYPE_F32, 1, NULL, &t, &err) != SONO_OK);
    CHECK(strstr(err.message, "I32") != NULL);
    CHECK_OK(sono_st_expect(f, "labels", SONO_DTYPE_I32, 1, NULL, &t, &err));
    int32_t tail[2];
    CHECK_OK(sono_st_read_range(f, t, 8, tail, sizeof tail, &err));
    CHECK(tail[0] == 9 && tail[1] == 2147483647);
    CHECK(sono_st_read_range(f, t, 12, tail, sizeof tail, &err) != SONO_OK);
    CHECK(sono_st_expect(f, "missing", SONO_DTYPE_I32, 1, NULL, &t, &err) != SONO_OK);
    CHECK(strstr(err.message, "missing") != NULL);
    sono_st_close(f);

    /* The data section starts 8-byte aligned. */
    FILE *fp = fopen(path, "rb");
    unsigned char lb[8];
    CHECK(fread(lb, 1, 8, fp) == 8);
    fclose(fp);
    CHECK(lb[0] % 8 == 0);
}

static void test_damaged(const char *dir) {
    char path[512];
    snprintf(path, sizeof path, "%s/bad.safetensors", dir);
    write_bytes(path, "", 0);
    CHECK(!opens(path, "too short"));
    unsigned char huge[16] = {0xff, 0xff, 0, 0, 0, 0, 0, 0, '{', '}'};
    write_bytes(path, huge, sizeof huge);
    CHECK(!opens(path, "header length"));
    write_raw(path, "[1,2]", 0);
    CHECK(!opens(path, "not a JSON object"));
    write_raw(path, "{not json", 0);
    CHECK(!opens(path, "not valid JSON"));
    write_raw(path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4);
    CHECK(!opens(path, "past the end"));
    write_raw(path,
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
              "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
              12);
    CHECK(!opens(path, "overlap"));
    write_raw(path,
              "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
              "\"data_offsets\":[0,8]}}",
              8);
    CHECK(!opens(path, "overflow"));
    write_raw(path, "{\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4);
    CHECK(!opens(path, "dtype"));
    write_raw(path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8);
    CHECK(!opens(path, "need"));
    write_raw(path, "{\"__metadata__\":{\"k\":5}}", 0);
    CHECK(!opens(path, "not a string"));
    write_raw(path, "{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8);
    CHECK(!opens(path, "dimension"));
    write_raw(path, "{\"__metadata__\":{\"k\":\"v\"}}", 0);
    CHECK(opens(path, ""));
}

int main(void) {
    char *dir = test_make_dir();
    test_round_trip(dir);
    test_damaged(dir);
    test_cleanup_dir(dir);
    return test_result("test_safetensors");
}
