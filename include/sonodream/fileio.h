/* sonodream: outputs that are never half-written.
 *
 * Every output goes to a temporary file in the destination's folder and is
 * renamed over the destination only once it is complete and flushed, so a
 * crash or an error leaves either the old file or the new one, never a mix. */
#ifndef SONODREAM_FILEIO_H
#define SONODREAM_FILEIO_H

#include <stdio.h>

#include "sonodream/error.h"

#include "sonodream/export.h"

SONO_BEGIN_DECLS

typedef struct sono_atomic_file {
    FILE *stream;     /* open for writing on tmp_path; NULL when opened without a stream */
    char *final_path; /* where the file lands on commit */
    char *tmp_path;   /* "<final_path>.tmp-<pid>-<n>" in the same folder */
} sono_atomic_file;

/* Start an output. With open_stream != 0, f->stream is opened ("wb") on the
 * temporary path; otherwise the caller writes tmp_path itself (libsndfile,
 * cairo). Pair with exactly one of sono_atomic_commit or sono_atomic_abort. */
sono_status sono_atomic_begin(sono_atomic_file *f, const char *path, int open_stream,
                              sono_error *err);

/* Flush, fsync, close and rename into place. On failure the temporary file is
 * removed and the destination is untouched. */
sono_status sono_atomic_commit(sono_atomic_file *f, sono_error *err);

/* Close and delete the temporary file. Safe on a zeroed or committed struct. */
void sono_atomic_abort(sono_atomic_file *f);

/* Write n bytes or fail with a message naming the final path. */
sono_status sono_atomic_write(sono_atomic_file *f, const void *data, size_t n, sono_error *err);

/* The whole output at once: begin, write n bytes, commit (or abort on any
 * failure, leaving the destination untouched). For text, n = strlen. */
sono_status sono_atomic_write_file(const char *path, const void *data, size_t n, sono_error *err);

/* Open an input for reading ("rb") only if it is a regular file: a named
 * pipe would block the open forever, a device would never end. The check and
 * the open are one step (O_NONBLOCK, then fstat). On success *size holds the
 * file's size (size may be NULL). On failure *out is NULL and the message
 * names the file. */
sono_status sono_open_input(const char *path, long long *size, FILE **out, sono_error *err);

SONO_END_DECLS
#endif
