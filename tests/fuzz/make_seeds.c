/* Writes the audio seed corpus: short files in the containers and encodings
 * libsndfile reads. Run once; the output is committed (see README.md).
 *   cc make_seeds.c -o make_seeds -lsndfile -lm && ./make_seeds corpus/audio */
#include <math.h>
#include <sndfile.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct seed {
    const char *name;
    int format, channels, rate, frames;
} seed;

static const seed audio_seeds[] = {
    {"pcm16.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_16, 1, 8000, 64},
    {"pcm24-stereo.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_24, 2, 44100, 48},
    {"u8.wav", SF_FORMAT_WAV | SF_FORMAT_PCM_U8, 1, 11025, 64},
    {"float.wav", SF_FORMAT_WAV | SF_FORMAT_FLOAT, 1, 16000, 32},
    {"double.wav", SF_FORMAT_WAV | SF_FORMAT_DOUBLE, 1, 16000, 16},
    {"ulaw.wav", SF_FORMAT_WAV | SF_FORMAT_ULAW, 1, 8000, 64},
    {"ima.wav", SF_FORMAT_WAV | SF_FORMAT_IMA_ADPCM, 1, 8000, 505},
    {"extensible.wav", SF_FORMAT_WAVEX | SF_FORMAT_PCM_16, 3, 8000, 32},
    {"pcm16.flac", SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 1, 8000, 256},
    {"pcm16.aiff", SF_FORMAT_AIFF | SF_FORMAT_PCM_16, 1, 8000, 64},
    {"float.au", SF_FORMAT_AU | SF_FORMAT_FLOAT, 1, 8000, 32},
    {"pcm16.w64", SF_FORMAT_W64 | SF_FORMAT_PCM_16, 1, 8000, 32},
    {"pcm16.caf", SF_FORMAT_CAF | SF_FORMAT_PCM_16, 1, 8000, 32},
    {"pcm16.rf64", SF_FORMAT_RF64 | SF_FORMAT_PCM_16, 1, 8000, 32},
    {"vorbis.ogg", SF_FORMAT_OGG | SF_FORMAT_VORBIS, 1, 8000, 400},
};

int main(int argc, char **argv) {
    const char *dir = argc > 1 ? argv[1] : "corpus/audio";
    for (size_t i = 0; i < sizeof audio_seeds / sizeof audio_seeds[0]; i++) {
        const seed *s = &audio_seeds[i];
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, s->name);
        SF_INFO info = {.samplerate = s->rate, .channels = s->channels, .format = s->format};
        SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
        if (!sf) {
            fprintf(stderr, "%s: %s\n", path, sf_strerror(NULL));
            return 1;
        }
        float *x = malloc(sizeof(float) * (size_t)(s->frames * s->channels));
        for (int j = 0; j < s->frames * s->channels; j++) x[j] = 0.5f * sinf(0.3f * (float)j);
        sf_writef_float(sf, x, s->frames);
        sf_close(sf);
        free(x);
    }
    return 0;
}
