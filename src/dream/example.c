/* Another recording as the dream's net hears it: the guide of a guided
 * dream and the example of a texture or style (guide.c, gram.c). Only its
 * first SONO_DREAM_EXAMPLE_SECONDS are heard, through windows of the net's
 * built width spread evenly over it. */
#include <math.h>
#include <stdlib.h>

#include "dream/dream_internal.h"
#include "sonodream/audio.h"

int dream_is_silent(const sono_classifier *c, const float *logmel_std, int frames) {
    const double floor_db = 10.0 * log10(c->features.log_floor);
    for (int m = 0; m < c->features.n_mels; m++)
        for (int t = 0; t < frames; t++)
            if ((double)logmel_std[(size_t)m * frames + t] * c->norm_std[m] + c->norm_mean[m] > floor_db + SILENCE_DB)
                return 0;
    return 1;
}

int dream_hearing_width(const sono_classifier *c, int layer, int frames, const char *what, sono_error *err) {
    const int W = sono_net_input_shape(c->net).w;
    const int full = sono_dream_needs_full_window(c->net, layer);
    const int least = full ? W : (W + SHORTEST_SHARE - 1) / SHORTEST_SHARE;
    if (frames >= least) return frames < W ? frames : W;
    sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the %s is shorter than the model can hear (%d frames < %d, %.2f s%s)",
                   what, frames, least, (double)least * c->features.hop / c->features.sample_rate,
                   full ? ": its dense layers need a whole window" : "");
    return 0;
}

int dream_spread_window_start(int i, int windows, int frames, int W) {
    if (windows == 1) return 0;
    return (int)((int64_t)i * (frames - W) / (windows - 1));
}

sono_status dream_hear_recording(sono_classifier *c, const sono_recording *rec, float **logmel_std, int *frames,
                                 sono_error *err) {
    *logmel_std = NULL;
    *frames = 0;
    if (!c || !rec || !rec->samples || rec->frames < 1 || rec->channels < 1 || rec->sample_rate < 1)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the recording to hear is empty");
    int64_t n = rec->frames, most = (int64_t)(SONO_DREAM_EXAMPLE_SECONDS * rec->sample_rate);
    if (n > most) n = most;
    sono_frontend *fe;
    sono_status s = sono_frontend_new(&c->features, c->norm_mean, c->norm_std, rec->sample_rate, rec->channels, n, &fe,
                                      err);
    if (s != SONO_OK) return s;
    const int T = sono_frontend_frames(fe, n);
    float *S = T > 0 ? malloc((size_t)c->features.n_mels * T * sizeof *S) : NULL;
    if (T < 1) s = sono_error_set(err, SONO_ERR_ARGUMENT, "dream: the recording is shorter than one frame");
    else if (!S) s = sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory");
    if (s == SONO_OK) s = sono_frontend_forward(fe, rec->samples, n, S, err);
    sono_frontend_free(fe);
    if (s != SONO_OK) {
        free(S);
        return s;
    }
    *logmel_std = S;
    *frames = T;
    return SONO_OK;
}

sono_status dream_read_heard_part(const char *path, sono_recording *rec, sono_error *err) {
    *rec = (sono_recording){0};
    sono_audio_reader *reader = NULL;
    sono_status s = sono_audio_reader_open(path, &reader, err);
    if (s != SONO_OK) return s;
    const sono_audio_info *info = sono_audio_reader_info(reader);
    int64_t n = info->frames, most = (int64_t)(SONO_DREAM_EXAMPLE_SECONDS * info->sample_rate);
    if (n > most) n = most;
    float *x = n > 0 ? malloc((size_t)n * info->channels * sizeof *x) : NULL;
    if (n < 1) s = sono_error_set(err, SONO_ERR_ARGUMENT, "%s: the recording is empty", path);
    else if (!x) s = sono_error_set(err, SONO_ERR_MEMORY, "%s: out of memory", path);
    if (s == SONO_OK) s = sono_audio_reader_read(reader, 0, n, x, err);
    if (s == SONO_OK) *rec = (sono_recording){x, n, info->channels, info->sample_rate};
    else free(x);
    sono_audio_reader_close(reader);
    return s;
}
