/* Small helpers of the atlas: text buffers, paths, atomic text and FLAC. */
#include <sndfile.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atlas/atlas_internal.h"
#include "sonodream/fileio.h"
#include "sonodream/text.h"

static int sbuf_reserve(sbuf *b, size_t extra) {
    if (b->failed) return 0;
    if (b->len + extra + 1 <= b->cap) return 1;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra + 1) cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->failed = 1;
        return 0;
    }
    b->data = d, b->cap = cap;
    return 1;
}

void sbuf_printf(sbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    va_list copy;
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n >= 0 && sbuf_reserve(b, (size_t)n)) {
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        b->len += (size_t)n;
    }
    va_end(ap);
}

void sbuf_html(sbuf *b, const char *s) {
    size_t n = sono_html_escape(s, NULL);
    if (!sbuf_reserve(b, n)) return;
    sono_html_escape(s, b->data + b->len);
    b->len += n;
    b->data[b->len] = '\0';
}

void sbuf_free(sbuf *b) {
    free(b->data);
    memset(b, 0, sizeof *b);
}

void atlas_path(const atlas_job *job, char *buf, size_t size, const char *dir, const char *stem, const char *ext) {
    snprintf(buf, size, "%s%s%s%s%s%s", job->out_dir, dir ? "/" : "", dir ? dir : "", stem ? "/" : "",
             stem ? stem : "", ext ? ext : "");
}

void atlas_safe_stem(const char *path, char *out, size_t size) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    size_t n = dot && dot != base ? (size_t)(dot - base) : strlen(base), j = 0;
    for (size_t i = 0; i < n && j + 1 < size; i++) {
        char ch = base[i];
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '-' ||
                 ch == '_' || (ch == '.' && j > 0);
        out[j++] = ok ? ch : '_';
    }
    if (j == 0 && size > 1) out[j++] = 'x';
    out[j] = '\0';
}

/* 1 when the file at path holds exactly text. */
static int same_content(const char *path, const char *text, size_t len) {
    long long size = -1;
    FILE *f;
    if (sono_open_input(path, &size, &f, NULL) != SONO_OK) return 0;
    int same = size == (long long)len;
    char block[8192];
    for (size_t at = 0; same && at < len;) {
        size_t want = len - at < sizeof block ? len - at : sizeof block;
        same = fread(block, 1, want, f) == want && memcmp(block, text + at, want) == 0;
        at += want;
    }
    fclose(f);
    return same;
}

sono_status atlas_write_text(const char *path, const char *text, size_t len, sono_error *err) {
    if (same_content(path, text, len)) return SONO_OK;
    return sono_atomic_write_file(path, text, len, err);
}

sono_status atlas_write_flac(const char *path, const float *samples, int64_t frames, int channels, int rate,
                             int bits, sono_error *err) {
    if (frames <= 0 || channels < 1 || channels > 8 || rate < 1 || rate > 655350)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "%s: FLAC cannot hold %lld frames of %d channels at %d Hz", path,
                              (long long)frames, channels, rate);
    sono_atomic_file f;
    sono_status s = sono_atomic_begin(&f, path, 0, err);
    if (s != SONO_OK) return s;
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = rate;
    info.channels = channels;
    info.format = SF_FORMAT_FLAC | (bits > 16 ? SF_FORMAT_PCM_24 : SF_FORMAT_PCM_16);
    SNDFILE *sf = sf_open(f.tmp_path, SFM_WRITE, &info);
    if (!sf) {
        s = sono_error_set(err, SONO_ERR_IO, "%s: cannot write FLAC: %s", path, sf_strerror(NULL));
        sono_atomic_abort(&f);
        return s;
    }
    sf_command(sf, SFC_SET_CLIPPING, NULL, SF_TRUE);
    sf_count_t written = sf_writef_float(sf, samples, frames);
    int closed = sf_close(sf);
    if (written != frames || closed != 0) {
        s = sono_error_set(err, SONO_ERR_IO, "%s: FLAC write failed", path);
        sono_atomic_abort(&f);
        return s;
    }
    return sono_atomic_commit(&f, err);
}
