#include "sonodream/fileio.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static atomic_uint tmp_counter;

static void atomic_release(sono_atomic_file *f) {
    free(f->final_path);
    free(f->tmp_path);
    f->final_path = NULL;
    f->tmp_path = NULL;
    f->stream = NULL;
}

sono_status sono_atomic_begin(sono_atomic_file *f, const char *path, int open_stream,
                              sono_error *err) {
    memset(f, 0, sizeof *f);
    size_t len = strlen(path) + 64;
    f->final_path = strdup(path);
    f->tmp_path = malloc(len);
    if (!f->final_path || !f->tmp_path) {
        atomic_release(f);
        return sono_error_set(err, SONO_ERR_MEMORY, "%s: out of memory", path);
    }
    snprintf(f->tmp_path, len, "%s.tmp-%ld-%u", path, (long)getpid(),
             atomic_fetch_add(&tmp_counter, 1u));
    if (open_stream) {
        f->stream = fopen(f->tmp_path, "wb");
        if (!f->stream) {
            sono_status s = sono_error_set(err, SONO_ERR_IO, "%s: cannot create: %s", path,
                                           strerror(errno));
            atomic_release(f);
            return s;
        }
    }
    return SONO_OK;
}

sono_status sono_atomic_write(sono_atomic_file *f, const void *data, size_t n, sono_error *err) {
    if (n && fwrite(data, 1, n, f->stream) != n)
        return sono_error_set(err, SONO_ERR_IO, "%s: write failed: %s", f->final_path,
                              strerror(errno));
    return SONO_OK;
}

sono_status sono_atomic_write_file(const char *path, const void *data, size_t n, sono_error *err) {
    sono_atomic_file f;
    sono_status s = sono_atomic_begin(&f, path, 1, err);
    if (s == SONO_OK) s = sono_atomic_write(&f, data, n, err);
    if (s == SONO_OK) return sono_atomic_commit(&f, err);
    sono_atomic_abort(&f);
    return s;
}

static int sync_path(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

sono_status sono_atomic_commit(sono_atomic_file *f, sono_error *err) {
    if (!f->tmp_path)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "output file was not started");
    if (f->stream) {
        int bad = fflush(f->stream) != 0 || fsync(fileno(f->stream)) != 0;
        bad |= fclose(f->stream) != 0;
        f->stream = NULL;
        if (bad) {
            sono_status s = sono_error_set(err, SONO_ERR_IO, "%s: write failed: %s",
                                           f->final_path, strerror(errno));
            sono_atomic_abort(f);
            return s;
        }
    } else if (sync_path(f->tmp_path) != 0) {
        sono_status s = sono_error_set(err, SONO_ERR_IO, "%s: cannot flush: %s", f->final_path,
                                       strerror(errno));
        sono_atomic_abort(f);
        return s;
    }
    if (rename(f->tmp_path, f->final_path) != 0) {
        sono_status s = sono_error_set(err, SONO_ERR_IO, "%s: cannot rename into place: %s",
                                       f->final_path, strerror(errno));
        sono_atomic_abort(f);
        return s;
    }
    atomic_release(f);
    return SONO_OK;
}

void sono_atomic_abort(sono_atomic_file *f) {
    if (!f) return;
    if (f->stream) fclose(f->stream);
    if (f->tmp_path) unlink(f->tmp_path);
    atomic_release(f);
}

sono_status sono_open_input(const char *path, long long *size, FILE **out, sono_error *err) {
    *out = NULL;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return sono_error_set(err, SONO_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    const char *kind = NULL;
    if (fstat(fd, &st) != 0) kind = "file that cannot be examined";
    else if (S_ISDIR(st.st_mode)) kind = "directory";
    else if (S_ISFIFO(st.st_mode)) kind = "named pipe";
    else if (!S_ISREG(st.st_mode)) kind = "device or socket";
    int flags = kind ? -1 : fcntl(fd, F_GETFL);
    FILE *fp = flags >= 0 && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 ? fdopen(fd, "rb") : NULL;
    if (!fp) {
        int e = errno;
        close(fd);
        if (kind) return sono_error_set(err, SONO_ERR_IO, "%s: is a %s, not a regular file", path, kind);
        return sono_error_set(err, SONO_ERR_IO, "%s: cannot open: %s", path, strerror(e));
    }
    if (size) *size = (long long)st.st_size;
    *out = fp;
    return SONO_OK;
}
