/* libFuzzer target: the audio decode path (libsndfile through our checks:
 * probe, truncation, non-finite samples, downmix, libsoxr resampling). */
#include <math.h>

#include "fuzz_common.h"
#include "sonodream/audio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = fuzz_scratch_path(".wav");
    if (!fuzz_write_scratch(path, data, size)) return 0;
    sono_audio_info info;
    sono_error err = {0};
    sono_status s = sono_audio_probe(path, &info, &err);
    fuzz_check_refusal(s, &err);
    if (s == SONO_OK && (info.channels < 1 || info.sample_rate < 1 || info.sample_rate > SONO_AUDIO_MAX_RATE))
        abort(); /* the probe promises to refuse these */
    /* As prepare reads a clip: resampled to 16 kHz, at most 4 s. */
    float *x = NULL;
    int64_t n = 0;
    int rate = 0;
    s = sono_audio_load(path, 16000, 4.0, &x, &n, &rate, &err);
    fuzz_check_refusal(s, &err);
    if (s == SONO_OK) {
        if (n <= 0 || rate != 16000) abort();
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(x[i])) abort(); /* the loader promises finite samples */
    }
    free(x);
    unlink(path);
    return 0;
}
