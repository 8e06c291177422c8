#include "sonodream/safetensors.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sonodream/fileio.h"

/* Headers are small JSON; anything bigger than this is damage, not data. */
#define ST_MAX_HEADER (256u * 1024u * 1024u)

static const char *const dtype_names[SONO_DTYPE_COUNT] = {"F32", "F64", "I32", "I64", "U8"};
static const size_t dtype_sizes[SONO_DTYPE_COUNT] = {4, 8, 4, 8, 1};

size_t sono_dtype_size(sono_dtype dtype) {
    return (unsigned)dtype < SONO_DTYPE_COUNT ? dtype_sizes[dtype] : 0;
}

const char *sono_dtype_name(sono_dtype dtype) {
    return (unsigned)dtype < SONO_DTYPE_COUNT ? dtype_names[dtype] : "?";
}

static int dtype_from_name(const char *name, sono_dtype *out) {
    for (int i = 0; i < SONO_DTYPE_COUNT; i++)
        if (strcmp(name, dtype_names[i]) == 0) {
            *out = (sono_dtype)i;
            return 1;
        }
    return 0;
}

/* Number of bytes of a tensor, or 0 with *overflow set when it cannot be represented. */
static uint64_t tensor_bytes(sono_dtype dtype, int ndim, const int64_t *shape, int *overflow) {
    uint64_t n = sono_dtype_size(dtype);
    *overflow = 0;
    for (int i = 0; i < ndim; i++) {
        if (shape[i] < 0) {
            *overflow = 1;
            return 0;
        }
        uint64_t d = (uint64_t)shape[i];
        if (d && n > UINT64_MAX / d) {
            *overflow = 1;
            return 0;
        }
        n *= d;
    }
    return n;
}

/* ------------------------------------------------------------------ writer */

typedef struct st_entry {
    char *name;
    sono_dtype dtype;
    int ndim;
    int64_t shape[SONO_ST_MAX_DIMS];
    const void *data;
    uint64_t nbytes;
} st_entry;

struct sono_st_writer {
    st_entry *entries;
    int count, capacity;
    cJSON *metadata; /* object of strings */
};

sono_st_writer *sono_st_writer_new(void) {
    sono_st_writer *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    w->metadata = cJSON_CreateObject();
    if (!w->metadata) {
        free(w);
        return NULL;
    }
    return w;
}

void sono_st_writer_free(sono_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->count; i++) free(w->entries[i].name);
    free(w->entries);
    cJSON_Delete(w->metadata);
    free(w);
}

sono_status sono_st_writer_add(sono_st_writer *w, const char *name, sono_dtype dtype, int ndim,
                               const int64_t *shape, const void *data, sono_error *err) {
    if ((unsigned)dtype >= SONO_DTYPE_COUNT || ndim < 0 || ndim > SONO_ST_MAX_DIMS ||
        strcmp(name, "__metadata__") == 0)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "tensor '%s': bad dtype, rank or name", name);
    for (int i = 0; i < w->count; i++)
        if (strcmp(w->entries[i].name, name) == 0)
            return sono_error_set(err, SONO_ERR_ARGUMENT, "tensor '%s' added twice", name);
    int overflow;
    uint64_t nbytes = tensor_bytes(dtype, ndim, shape, &overflow);
    if (overflow) return sono_error_set(err, SONO_ERR_ARGUMENT, "tensor '%s': bad shape", name);
    if (w->count == w->capacity) {
        int cap = w->capacity ? 2 * w->capacity : 16;
        st_entry *grown = realloc(w->entries, (size_t)cap * sizeof *grown);
        if (!grown) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        w->entries = grown;
        w->capacity = cap;
    }
    st_entry *e = &w->entries[w->count];
    memset(e, 0, sizeof *e);
    e->name = strdup(name);
    if (!e->name) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    e->dtype = dtype;
    e->ndim = ndim;
    if (ndim) memcpy(e->shape, shape, (size_t)ndim * sizeof *shape);
    e->data = data;
    e->nbytes = nbytes;
    w->count++;
    return SONO_OK;
}

sono_status sono_st_writer_set_metadata(sono_st_writer *w, const char *key, const char *value,
                                        sono_error *err) {
    cJSON *s = cJSON_CreateString(value);
    if (!s) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    if (cJSON_GetObjectItemCaseSensitive(w->metadata, key))
        cJSON_ReplaceItemInObjectCaseSensitive(w->metadata, key, s);
    else
        cJSON_AddItemToObject(w->metadata, key, s);
    return SONO_OK;
}

char *sono_st_writer_header(const sono_st_writer *w) {
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    if (cJSON_GetArraySize(w->metadata) > 0)
        cJSON_AddItemToObject(root, "__metadata__", cJSON_Duplicate(w->metadata, 1));
    uint64_t offset = 0;
    for (int i = 0; i < w->count; i++) {
        const st_entry *e = &w->entries[i];
        cJSON *t = cJSON_CreateObject();
        cJSON_AddStringToObject(t, "dtype", dtype_names[e->dtype]);
        cJSON *shape = cJSON_AddArrayToObject(t, "shape");
        for (int d = 0; d < e->ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)e->shape[d]));
        cJSON *offs = cJSON_AddArrayToObject(t, "data_offsets");
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset));
        offset += e->nbytes;
        cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)offset));
        cJSON_AddItemToObject(root, e->name, t);
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    return text;
}

sono_status sono_st_writer_write(sono_st_writer *w, const char *path, sono_error *err) {
    char *json = sono_st_writer_header(w);
    if (!json) return sono_error_set(err, SONO_ERR_MEMORY, "%s: out of memory", path);
    size_t json_len = strlen(json);
    /* Pad with spaces so the data section starts 8-byte aligned, as the
     * reference implementation does. */
    size_t padded = (json_len + 7) & ~(size_t)7;
    unsigned char len_bytes[8];
    for (int i = 0; i < 8; i++) len_bytes[i] = (unsigned char)(((uint64_t)padded >> (8 * i)) & 0xff);

    sono_atomic_file out;
    sono_status s = sono_atomic_begin(&out, path, 1, err);
    if (s != SONO_OK) {
        free(json);
        return s;
    }
    static const char spaces[8] = "        ";
    s = sono_atomic_write(&out, len_bytes, 8, err);
    if (s == SONO_OK) s = sono_atomic_write(&out, json, json_len, err);
    if (s == SONO_OK) s = sono_atomic_write(&out, spaces, padded - json_len, err);
    for (int i = 0; s == SONO_OK && i < w->count; i++)
        s = sono_atomic_write(&out, w->entries[i].data, w->entries[i].nbytes, err);
    free(json);
    if (s != SONO_OK) {
        sono_atomic_abort(&out);
        return s;
    }
    return sono_atomic_commit(&out, err);
}

/* ------------------------------------------------------------------ reader */

struct sono_st_file {
    char *path;
    FILE *fp;
    uint64_t data_start; /* 8 + header length */
    uint64_t data_size;
    sono_st_tensor *tensors;
    int count;
    cJSON *header; /* owns the tensor names and metadata strings */
    cJSON *metadata;
};

const char *sono_st_path(const sono_st_file *f) { return f->path; }
int sono_st_tensor_count(const sono_st_file *f) { return f->count; }

const sono_st_tensor *sono_st_tensor_at(const sono_st_file *f, int index) {
    return index >= 0 && index < f->count ? &f->tensors[index] : NULL;
}

const sono_st_tensor *sono_st_find(const sono_st_file *f, const char *name) {
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0) return &f->tensors[i];
    return NULL;
}

const char *sono_st_metadata(const sono_st_file *f, const char *key) {
    if (!f->metadata) return NULL;
    cJSON *v = cJSON_GetObjectItemCaseSensitive(f->metadata, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

int sono_st_metadata_count(const sono_st_file *f) {
    return f->metadata ? cJSON_GetArraySize(f->metadata) : 0;
}

const char *sono_st_metadata_key_at(const sono_st_file *f, int index) {
    cJSON *v = f->metadata ? cJSON_GetArrayItem(f->metadata, index) : NULL;
    return v ? v->string : NULL;
}

void sono_st_close(sono_st_file *f) {
    if (!f) return;
    if (f->fp) fclose(f->fp);
    cJSON_Delete(f->header);
    free(f->tensors);
    free(f->path);
    free(f);
}

/* A JSON number that is a non-negative integer representable exactly. */
static int json_u64(const cJSON *v, uint64_t *out) {
    if (!cJSON_IsNumber(v)) return 0;
    double d = v->valuedouble;
    if (!(d >= 0) || d > 9007199254740992.0 || d != (double)(uint64_t)d) return 0;
    *out = (uint64_t)d;
    return 1;
}

static sono_status parse_tensor(sono_st_file *f, cJSON *item, sono_st_tensor *t, sono_error *err) {
    const char *name = item->string;
    if (!cJSON_IsObject(item))
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: tensor '%s' is not a JSON object", f->path, name);
    cJSON *dtype = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    cJSON *shape = cJSON_GetObjectItemCaseSensitive(item, "shape");
    cJSON *offs = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    memset(t, 0, sizeof *t);
    t->name = name;
    if (!cJSON_IsString(dtype) || !dtype_from_name(dtype->valuestring, &t->dtype))
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: tensor '%s' has a missing or unsupported dtype",
                              f->path, name);
    if (!cJSON_IsArray(shape) || cJSON_GetArraySize(shape) > SONO_ST_MAX_DIMS)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: tensor '%s' has a missing or bad shape",
                              f->path, name);
    t->ndim = cJSON_GetArraySize(shape);
    for (int d = 0; d < t->ndim; d++) {
        uint64_t v;
        if (!json_u64(cJSON_GetArrayItem(shape, d), &v))
            return sono_error_set(err, SONO_ERR_FORMAT, "%s: tensor '%s' has a bad dimension",
                                  f->path, name);
        t->shape[d] = (int64_t)v;
    }
    int overflow;
    uint64_t nbytes = tensor_bytes(t->dtype, t->ndim, t->shape, &overflow);
    if (overflow)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: tensor '%s' has a shape whose size overflows",
                              f->path, name);
    uint64_t begin, end;
    if (!cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2 ||
        !json_u64(cJSON_GetArrayItem(offs, 0), &begin) || !json_u64(cJSON_GetArrayItem(offs, 1), &end) ||
        end < begin)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: tensor '%s' has bad data_offsets", f->path, name);
    if (end > f->data_size)
        return sono_error_set(err, SONO_ERR_FORMAT,
                              "%s: tensor '%s' runs past the end of the file (truncated?)", f->path, name);
    if (end - begin != nbytes)
        return sono_error_set(err, SONO_ERR_FORMAT,
                              "%s: tensor '%s' holds %llu bytes but its shape and dtype need %llu",
                              f->path, name, (unsigned long long)(end - begin),
                              (unsigned long long)nbytes);
    t->offset = begin;
    t->nbytes = nbytes;
    return SONO_OK;
}

static int cmp_offset(const void *a, const void *b) {
    const sono_st_tensor *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static sono_status check_overlaps(const sono_st_file *f, sono_error *err) {
    sono_st_tensor *sorted = malloc((size_t)(f->count ? f->count : 1) * sizeof *sorted);
    if (!sorted) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    memcpy(sorted, f->tensors, (size_t)f->count * sizeof *sorted);
    qsort(sorted, (size_t)f->count, sizeof *sorted, cmp_offset);
    sono_status s = SONO_OK;
    for (int i = 1; i < f->count && s == SONO_OK; i++)
        if (sorted[i].offset < sorted[i - 1].offset + sorted[i - 1].nbytes)
            s = sono_error_set(err, SONO_ERR_FORMAT, "%s: tensors '%s' and '%s' overlap", f->path,
                               sorted[i - 1].name, sorted[i].name);
    free(sorted);
    return s;
}

static sono_status parse_header(sono_st_file *f, char *text, sono_error *err) {
    f->header = cJSON_Parse(text);
    if (!f->header) return sono_error_set(err, SONO_ERR_FORMAT, "%s: header is not valid JSON", f->path);
    if (!cJSON_IsObject(f->header))
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: header is not a JSON object", f->path);
    int n = cJSON_GetArraySize(f->header);
    f->tensors = calloc((size_t)(n ? n : 1), sizeof *f->tensors);
    if (!f->tensors) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    cJSON *item;
    cJSON_ArrayForEach(item, f->header) {
        if (strcmp(item->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(item))
                return sono_error_set(err, SONO_ERR_FORMAT, "%s: __metadata__ is not an object", f->path);
            cJSON *v;
            cJSON_ArrayForEach(v, item) if (!cJSON_IsString(v))
                return sono_error_set(err, SONO_ERR_FORMAT, "%s: metadata '%s' is not a string",
                                      f->path, v->string);
            f->metadata = item;
            continue;
        }
        sono_status s = parse_tensor(f, item, &f->tensors[f->count], err);
        if (s != SONO_OK) return s;
        f->count++;
    }
    return check_overlaps(f, err);
}

sono_status sono_st_open(sono_st_file **out, const char *path, sono_error *err) {
    *out = NULL;
    sono_st_file *f = calloc(1, sizeof *f);
    if (!f || !(f->path = strdup(path))) {
        free(f);
        return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    }
    sono_status s = SONO_OK;
    char *text = NULL;
    long long size = 0;
    s = sono_open_input(path, &size, &f->fp, err);
    if (s != SONO_OK) goto fail;
    uint64_t file_size = (uint64_t)size;
    unsigned char len_bytes[8];
    if (file_size < 8 || fread(len_bytes, 1, 8, f->fp) != 8) {
        s = sono_error_set(err, SONO_ERR_FORMAT, "%s: too short to be a safetensors file", path);
        goto fail;
    }
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--) header_len = (header_len << 8) | len_bytes[i];
    if (header_len < 2 || header_len > ST_MAX_HEADER || header_len > file_size - 8) {
        s = sono_error_set(err, SONO_ERR_FORMAT,
                           "%s: header length %llu does not fit the file (%llu bytes); not a "
                           "safetensors file, or truncated",
                           path, (unsigned long long)header_len, (unsigned long long)file_size);
        goto fail;
    }
    text = malloc(header_len + 1);
    if (!text) {
        s = sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        goto fail;
    }
    if (fread(text, 1, header_len, f->fp) != header_len) {
        s = sono_error_set(err, SONO_ERR_IO, "%s: cannot read header", path);
        goto fail;
    }
    text[header_len] = '\0';
    if (strlen(text) != header_len && text[strlen(text)] == '\0') {
        /* an embedded NUL: cJSON would silently stop there */
        s = sono_error_set(err, SONO_ERR_FORMAT, "%s: header contains a NUL byte", path);
        goto fail;
    }
    f->data_start = 8 + header_len;
    f->data_size = file_size - f->data_start;
    s = parse_header(f, text, err);
    if (s != SONO_OK) goto fail;
    free(text);
    *out = f;
    return SONO_OK;
fail:
    free(text);
    sono_st_close(f);
    return s;
}

sono_status sono_st_expect(const sono_st_file *f, const char *name, sono_dtype dtype, int ndim,
                           const int64_t *expect_shape, const sono_st_tensor **out,
                           sono_error *err) {
    const sono_st_tensor *t = sono_st_find(f, name);
    if (!t) return sono_error_set(err, SONO_ERR_FORMAT, "%s: tensor '%s' is missing", f->path, name);
    if (t->dtype != dtype)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: tensor '%s' is %s, expected %s", f->path, name,
                              sono_dtype_name(t->dtype), sono_dtype_name(dtype));
    if (t->ndim != ndim)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: tensor '%s' has %d dimensions, expected %d",
                              f->path, name, t->ndim, ndim);
    for (int d = 0; expect_shape && d < ndim; d++)
        if (expect_shape[d] >= 0 && expect_shape[d] != t->shape[d])
            return sono_error_set(err, SONO_ERR_FORMAT,
                                  "%s: tensor '%s' dimension %d is %lld, expected %lld", f->path, name,
                                  d, (long long)t->shape[d], (long long)expect_shape[d]);
    if (out) *out = t;
    return SONO_OK;
}

sono_status sono_st_read_range(const sono_st_file *f, const sono_st_tensor *t,
                               uint64_t byte_offset, void *dst, size_t nbytes, sono_error *err) {
    if (byte_offset > t->nbytes || nbytes > t->nbytes - byte_offset)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: read past the end of tensor '%s'", f->path,
                              t->name);
    /* fseeko/fread on a shared FILE* are not safe across threads: callers read
     * from one thread. */
    if (fseeko(f->fp, (off_t)(f->data_start + t->offset + byte_offset), SEEK_SET) != 0 ||
        fread(dst, 1, nbytes, f->fp) != nbytes)
        return sono_error_set(err, SONO_ERR_IO, "%s: cannot read tensor '%s' (truncated?)", f->path,
                              t->name);
    return SONO_OK;
}

sono_status sono_st_read(const sono_st_file *f, const sono_st_tensor *t, void *dst, size_t dst_bytes,
                         sono_error *err) {
    if (dst_bytes < t->nbytes)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: buffer too small for tensor '%s'", f->path,
                              t->name);
    return sono_st_read_range(f, t, 0, dst, (size_t)t->nbytes, err);
}

sono_status sono_st_map(const sono_st_file *f, const sono_st_tensor *t, sono_st_mapping *out, sono_error *err) {
    memset(out, 0, sizeof *out);
    uint64_t start = f->data_start + t->offset;
    if (start % sono_dtype_size(t->dtype) != 0)
        return sono_error_set(err, SONO_ERR_FORMAT, "%s: tensor '%s' is not aligned to its %zu-byte elements",
                              f->path, t->name, sono_dtype_size(t->dtype));
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE), first = start / page * page;
    uint64_t length = start + t->nbytes - first;
    if (length > SIZE_MAX)
        return sono_error_set(err, SONO_ERR_UNSUPPORTED, "%s: tensor '%s' is too large to map", f->path, t->name);
    void *base = mmap(NULL, length ? (size_t)length : 1, PROT_READ, MAP_SHARED, fileno(f->fp), (off_t)first);
    if (base == MAP_FAILED)
        return sono_error_set(err, SONO_ERR_IO, "%s: cannot map tensor '%s' (%llu bytes): %s", f->path, t->name,
                              (unsigned long long)t->nbytes, strerror(errno));
    out->base = base;
    out->length = length ? (size_t)length : 1;
    out->data = (const unsigned char *)base + (start - first);
    return SONO_OK;
}

void sono_st_unmap(sono_st_mapping *m) {
    if (m && m->base) munmap(m->base, m->length);
    if (m) memset(m, 0, sizeof *m);
}
