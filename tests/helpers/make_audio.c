/* make_audio PATH FORMAT CHANNELS RATE SECONDS: a recording of silence
 * (with one click per second, so codecs cannot skip it all) written by
 * libsndfile, for the serve tests' decode bombs: a few kB of Ogg or FLAC
 * that decode to hundreds of MB. FORMAT: wav, flac, ogg (Vorbis), opus.
 * Not part of the program; built for the tests only. */
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 6) {
        fprintf(stderr, "usage: make_audio PATH wav|flac|ogg|opus CHANNELS RATE SECONDS\n");
        return 2;
    }
    static const struct { const char *name; int format; } formats[] = {
        {"wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16},
        {"flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16},
        {"ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS},
#ifdef SF_FORMAT_OPUS
        {"opus", SF_FORMAT_OGG | SF_FORMAT_OPUS},
#endif
    };
    int format = 0;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(argv[2], formats[i].name) == 0) format = formats[i].format;
    SF_INFO info = {.samplerate = atoi(argv[4]), .channels = atoi(argv[3]), .format = format};
    double seconds = atof(argv[5]);
    if (!format || !sf_format_check(&info)) {
        fprintf(stderr, "make_audio: libsndfile cannot write %s at %s channels, %s Hz\n", argv[2], argv[3], argv[4]);
        return 3;
    }
    SNDFILE *sf = sf_open(argv[1], SFM_WRITE, &info);
    if (!sf) {
        fprintf(stderr, "make_audio: %s: %s\n", argv[1], sf_strerror(NULL));
        return 1;
    }
    const long block = info.samplerate; /* one second */
    float *x = calloc((size_t)block * (size_t)info.channels, sizeof(float));
    if (!x) return 1;
    x[0] = 0.5f;
    long total = (long)(seconds * info.samplerate);
    for (long done = 0; done < total; done += block) {
        long n = total - done < block ? total - done : block;
        if (sf_writef_float(sf, x, n) != n) {
            fprintf(stderr, "make_audio: %s: %s\n", argv[1], sf_strerror(sf));
            return 1;
        }
    }
    free(x);
    return sf_close(sf) == 0 ? 0 : 1;
}
