/* sonodream: the safetensors container used by feature files, models and
 * checkpoints.
 *
 * Layout (https://github.com/huggingface/safetensors): an 8-byte little-endian
 * header length, a JSON object mapping tensor names to {dtype, shape,
 * data_offsets} plus an optional "__metadata__" object of string values, then
 * the raw little-endian tensor bytes. Python's safetensors and PyTorch read
 * what we write unchanged. The reader checks every offset and shape against
 * the file size before use. */
#ifndef SONODREAM_SAFETENSORS_H
#define SONODREAM_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "sonodream/error.h"

#include "sonodream/export.h"

SONO_BEGIN_DECLS

typedef enum sono_dtype {
    SONO_DTYPE_F32 = 0,
    SONO_DTYPE_F64,
    SONO_DTYPE_I32,
    SONO_DTYPE_I64,
    SONO_DTYPE_U8,
    SONO_DTYPE_COUNT
} sono_dtype;

#define SONO_ST_MAX_DIMS 8

size_t sono_dtype_size(sono_dtype dtype);
const char *sono_dtype_name(sono_dtype dtype); /* "F32", "I32", ... */

/* ---- writing ---- */

typedef struct sono_st_writer sono_st_writer;

sono_st_writer *sono_st_writer_new(void);
void sono_st_writer_free(sono_st_writer *w); /* NULL is a no-op. */

/* Add a tensor. `data` is borrowed (not copied) and must stay valid until
 * sono_st_writer_write returns. Names must be unique and not "__metadata__". */
sono_status sono_st_writer_add(sono_st_writer *w, const char *name, sono_dtype dtype, int ndim,
                               const int64_t *shape, const void *data, sono_error *err);

/* Set a metadata string (copied). Structured values are stored as JSON text. */
sono_status sono_st_writer_set_metadata(sono_st_writer *w, const char *key, const char *value,
                                        sono_error *err);

/* Write everything to `path` atomically (temporary file, fsync, rename). */
sono_status sono_st_writer_write(sono_st_writer *w, const char *path, sono_error *err);

/* The JSON header exactly as sono_st_writer_write writes it, before the
 * padding (NULL when out of memory; free() it). Tensor data is not needed:
 * writers that stream their tensors use this to write the header themselves. */
char *sono_st_writer_header(const sono_st_writer *w);

/* ---- reading ---- */

typedef struct sono_st_tensor {
    const char *name;
    sono_dtype dtype;
    int ndim;
    int64_t shape[SONO_ST_MAX_DIMS];
    uint64_t offset; /* from the start of the data section */
    uint64_t nbytes;
} sono_st_tensor;

typedef struct sono_st_file sono_st_file;

/* Open and validate a safetensors file: the header length, the JSON, every
 * dtype, shape (no overflow), and offset (inside the file, no overlaps). */
sono_status sono_st_open(sono_st_file **out, const char *path, sono_error *err);
void sono_st_close(sono_st_file *f);

const char *sono_st_path(const sono_st_file *f);
int sono_st_tensor_count(const sono_st_file *f);
const sono_st_tensor *sono_st_tensor_at(const sono_st_file *f, int index);
const sono_st_tensor *sono_st_find(const sono_st_file *f, const char *name);

/* A metadata value, or NULL when the key is absent. Valid until close. */
const char *sono_st_metadata(const sono_st_file *f, const char *key);
int sono_st_metadata_count(const sono_st_file *f);
const char *sono_st_metadata_key_at(const sono_st_file *f, int index);

/* Find `name` and check its dtype and rank; shape entries of `expect_shape`
 * that are >= 0 must match (pass NULL to accept any shape). */
sono_status sono_st_expect(const sono_st_file *f, const char *name, sono_dtype dtype, int ndim,
                           const int64_t *expect_shape, const sono_st_tensor **out,
                           sono_error *err);

/* Read all of tensor t's bytes into dst (dst_bytes must be >= t->nbytes). */
sono_status sono_st_read(const sono_st_file *f, const sono_st_tensor *t, void *dst,
                         size_t dst_bytes, sono_error *err);

/* Read `nbytes` of tensor t starting `byte_offset` into the tensor. */
sono_status sono_st_read_range(const sono_st_file *f, const sono_st_tensor *t,
                               uint64_t byte_offset, void *dst, size_t nbytes, sono_error *err);

/* A tensor mapped read-only into memory (mmap), so files larger than memory
 * can be read: pages come from the file as they are touched and the kernel
 * drops them again under memory pressure. */
typedef struct sono_st_mapping {
    const void *data; /* the tensor's first byte */
    void *base;       /* the mapping (page aligned) */
    size_t length;
} sono_st_mapping;

/* Map tensor t of f. The mapping stays valid after sono_st_close. Fails when
 * the tensor is not aligned to its element size in the file. */
sono_status sono_st_map(const sono_st_file *f, const sono_st_tensor *t, sono_st_mapping *out, sono_error *err);
void sono_st_unmap(sono_st_mapping *m);

SONO_END_DECLS
#endif
