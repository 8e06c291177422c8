"""cffi (API mode) builder of sonodream._sonodream, the extension over libsonodream.

The declarations below are the part of the public headers (include/sonodream/)
the package uses. Structs end in `...;`: the C compiler lays them out from the
real headers, so a field added to a header never shifts what Python reads.

Where the library is found, in order:
  SONODREAM_LIBRARY_DIR (and SONODREAM_INCLUDE_DIR): a build or install folder;
  ../build and ../include beside this package's source (`pip install ./python`
  from a built checkout);
  pkg-config sonodream (an installed library, `make install`).
The library's folder is recorded in the extension (its run path), so the
package loads the library it was built with; LD_LIBRARY_PATH overrides it.
"""
import os
import shlex
import subprocess

from cffi import FFI

CDEF = r"""
typedef enum sono_status {
    SONO_OK, SONO_ERR_IO, SONO_ERR_FORMAT, SONO_ERR_ARGUMENT, SONO_ERR_MEMORY,
    SONO_ERR_UNSUPPORTED, SONO_ERR_INTERRUPTED, ...
} sono_status;
#define SONO_ERROR_MESSAGE_MAX ...
typedef struct sono_error { sono_status status; char message[...]; ...; } sono_error;
const char *sono_status_name(sono_status status);

typedef enum sono_log_level { SONO_LOG_DEBUG, SONO_LOG_INFO, SONO_LOG_WARN, SONO_LOG_ERROR, ... } sono_log_level;
typedef void (*sono_log_fn)(sono_log_level level, const char *message, void *user);
void sono_log_set(sono_log_fn fn, void *user);
void sono_log(sono_log_level level, const char *fmt, ...);

void free(void *p);

/* audio.h */
sono_status sono_audio_load_recording(const char *path, float **samples, int64_t *frames, int *channels,
                                      int *rate, sono_error *err);
sono_status sono_audio_resample(const float *in, int64_t n, int in_rate, int out_rate, float **out,
                                int64_t *n_out, sono_error *err);

typedef enum sono_wav_encoding { SONO_WAV_PCM16, SONO_WAV_FLOAT32, SONO_WAV_PCM24, ... } sono_wav_encoding;
typedef struct sono_audio_writer sono_audio_writer;
sono_status sono_audio_writer_open(const char *path, int sample_rate, int channels, int64_t expected_frames,
                                   sono_wav_encoding encoding, sono_audio_writer **writer, sono_error *err);
sono_status sono_audio_writer_write(sono_audio_writer *writer, const float *samples, int64_t frames,
                                    sono_error *err);
sono_status sono_audio_writer_commit(sono_audio_writer *writer, sono_error *err);
void sono_audio_writer_abort(sono_audio_writer *writer);

/* dsp.h */
typedef struct sono_feature_config { int sample_rate; double seconds; int n_mels; ...; } sono_feature_config;
char *sono_feature_config_to_json(const sono_feature_config *cfg);
int64_t sono_feature_clip_samples(const sono_feature_config *cfg);
int sono_feature_frames(const sono_feature_config *cfg, int64_t n_samples);
typedef struct sono_logmel sono_logmel;
sono_status sono_logmel_new(const sono_feature_config *cfg, sono_logmel **out, sono_error *err);
void sono_logmel_free(sono_logmel *lm);
sono_status sono_logmel_compute(const sono_logmel *lm, const float *x, int64_t n, float *out, sono_error *err);

/* nn.h */
typedef struct sono_shape { int c, h, w; } sono_shape;
typedef struct sono_layer_info { char name[...]; sono_shape out; ...; } sono_layer_info;
typedef struct sono_net sono_net;
int sono_net_layer_count(const sono_net *net);
const sono_layer_info *sono_net_layer(const sono_net *net, int index);
int sono_net_find_layer(const sono_net *net, const char *name);

/* classifier.h */
typedef struct sono_classifier {
    sono_net *net;
    sono_feature_config features;
    char **class_names;
    int class_count;
    ...;
} sono_classifier;
typedef struct sono_optim sono_optim;
sono_status sono_classifier_load(const char *path, int max_batch, sono_classifier **out, sono_optim **opt,
                                 sono_error *err);
void sono_classifier_free(sono_classifier *c);
int sono_classifier_find_class(const sono_classifier *c, const char *name);
void sono_classifier_standardize(const sono_classifier *c, float *x, int frames);
sono_status sono_classifier_classify_samples(sono_classifier *c, const float *samples, int64_t n,
                                             float *probs, int *windows, sono_error *err);

/* data.h */
typedef struct sono_feature_set {
    sono_feature_config config;
    int count;
    int n_mels, frames;
    float *features;
    int32_t *labels;
    int32_t *folds;
    char **class_names;
    int class_count;
    char **fold_names;
    int fold_count;
    char **sources;
    char *layout;
    ...;
} sono_feature_set;
sono_status sono_feature_set_read(const char *path, sono_feature_set **out, sono_error *err);
void sono_feature_set_free(sono_feature_set *set);

/* dream.h */
typedef enum sono_dream_objective { SONO_DREAM_LAYER, SONO_DREAM_CHANNEL, SONO_DREAM_CLASS, SONO_DREAM_GUIDE, SONO_DREAM_GRAM, ... } sono_dream_objective;
typedef struct sono_dream_guide sono_dream_guide;
typedef struct sono_dream_gram sono_dream_gram;
const char *sono_dream_objective_name(sono_dream_objective objective);
typedef int (*sono_dream_progress_fn)(int step, int total, double objective, void *user);
typedef struct sono_dream_options {
    sono_dream_objective objective;
    int layer;
    int channel;
    int class_index;
    int octaves;
    double octave_scale;
    int iterations;
    double step;
    int jitter;
    double smooth;
    double overlap;
    double headroom_db;
    uint64_t seed;
    sono_dream_progress_fn progress;
    void *progress_user;
    int band_shift;
    double gain_db;
    double noise_db;
    sono_classifier *const *ensemble;
    int ensemble_count;
    const sono_dream_guide *guide;
    int guide_same_row;
    const sono_dream_gram *gram;
    double content_weight;
    double step_final;
    ...;
} sono_dream_options;
int sono_dream_default_layer(const sono_net *net);
#define SONO_DREAM_MAX_BATCH ...
#define SONO_DREAM_SEED_MAX ...
static const double SONO_DREAM_NOISE_LEVEL_DB;
typedef struct sono_dream_audio_options {
    int griffin_lim_iterations;
    double momentum;
    int hop_divisor;
    uint64_t seed;
    ...;
} sono_dream_audio_options;
int sono_dream_hop_divisor(const sono_feature_config *cfg);
sono_status sono_dream_noise(const sono_feature_config *cfg, double seconds, double level_db, uint64_t seed,
                             float **out, int64_t *n, sono_error *err);
typedef enum sono_dream_render { SONO_RENDER_WAVE, SONO_RENDER_MASK, SONO_RENDER_GRIFFIN_LIM, ... } sono_dream_render;
const char *sono_dream_render_name(sono_dream_render render);
int sono_dream_render_parse(const char *name, sono_dream_render *render);
typedef enum sono_dream_stereo { SONO_STEREO_JOINT, SONO_STEREO_PER_CHANNEL, ... } sono_dream_stereo;
typedef struct sono_dream_request {
    sono_dream_options ascent;
    sono_dream_render render;
    sono_dream_stereo stereo;
    int out_rate;
    int mono;
    double ceiling;
    double segment_seconds;
    sono_dream_audio_options griffin_lim;
    int keep_spectrograms;
    int settle_steps;
    ...;
} sono_dream_request;
void sono_dream_request_defaults(sono_dream_request *req);
typedef struct sono_dream_result {
    sono_dream_render render;
    int layer;
    int sample_rate, channels;
    int64_t frames;
    int segments;
    int windows;
    int steps;
    double *objective;
    double objective_before;
    double objective_after;
    double mean_change_db;
    double consistency_db;
    double limited_share;
    double convergence;
    int spec_frames;
    int n_mels;
    float *input_db;
    float *dream_db;
    float *output_db;
    ...;
} sono_dream_result;
void sono_dream_result_free(sono_dream_result *r);
typedef struct sono_recording { float *samples; int64_t frames; int channels; int sample_rate; ...; } sono_recording;
void sono_recording_free(sono_recording *r);
sono_status sono_dream_recording(sono_classifier *c, const sono_recording *in, const sono_dream_request *req,
                                 sono_recording *out, sono_dream_result *result, sono_error *err);
sono_status sono_dream_guide_from_recording(sono_classifier *c, const sono_recording *guide, int layer,
                                            sono_dream_guide **out, sono_error *err);
sono_status sono_dream_guide_load(sono_classifier *c, const char *path, int layer, sono_dream_guide **out,
                                  sono_error *err);
void sono_dream_guide_free(sono_dream_guide *g);
sono_status sono_dream_gram_from_recording(sono_classifier *c, const sono_recording *example, const int *layers,
                                           const double *weights, int count, sono_dream_gram **out,
                                           sono_error *err);
sono_status sono_dream_gram_load(sono_classifier *c, const char *path, const int *layers, const double *weights,
                                 int count, sono_dream_gram **out, sono_error *err);
void sono_dream_gram_free(sono_dream_gram *g);
sono_status sono_dream_texture_start(const sono_recording *example, double seconds, uint64_t seed,
                                     sono_recording *out, sono_error *err);
void sono_dream_texture_defaults(sono_dream_request *req);
void sono_dream_style_defaults(sono_dream_request *req);
char *sono_dream_result_to_json(const sono_classifier *c, const sono_dream_request *req, const sono_dream_result *r);
char *sono_dream_model_to_json(const sono_classifier *c);

/* Called back by the library, run as Python (sonodream._native). */
extern "Python" void sonopy_log(sono_log_level level, const char *message, void *user);
extern "Python" int sonopy_progress(int step, int total, double objective, void *user);
"""

SOURCE = r"""
#include <stdlib.h>
#include "sonodream/audio.h"
#include "sonodream/classifier.h"
#include "sonodream/data.h"
#include "sonodream/dream.h"
#include "sonodream/dsp.h"
#include "sonodream/error.h"
#include "sonodream/nn.h"
"""

HERE = os.path.dirname(os.path.abspath(__file__))
CHECKOUT = os.path.dirname(os.path.dirname(HERE))


def _pkg_config(flag):
    try:
        out = subprocess.run(["pkg-config", flag, "sonodream"], check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return shlex.split(out.stdout)


def library_location():
    """(include_dirs, library_dirs): where the headers and libsonodream.so are."""
    lib_dir = os.environ.get("SONODREAM_LIBRARY_DIR")
    inc_dir = os.environ.get("SONODREAM_INCLUDE_DIR")
    if lib_dir:
        return [inc_dir or os.path.join(CHECKOUT, "include")], [os.path.abspath(lib_dir)]
    build = os.path.join(CHECKOUT, "build")
    if os.path.exists(os.path.join(build, "libsonodream.so")):
        return [inc_dir or os.path.join(CHECKOUT, "include")], [build]
    cflags, libs = _pkg_config("--cflags"), _pkg_config("--libs-only-L")
    if cflags is not None and libs is not None:
        incs = [f[2:] for f in cflags if f.startswith("-I")]
        return incs, [f[2:] for f in libs if f.startswith("-L")]
    raise RuntimeError("sonodream: libsonodream.so not found: build the library first (make), "
                       "or set SONODREAM_LIBRARY_DIR to the folder that holds it")


def make_builder():
    include_dirs, library_dirs = library_location()
    ffi = FFI()
    ffi.cdef(CDEF)
    ffi.set_source("sonodream._sonodream", SOURCE, include_dirs=include_dirs, library_dirs=library_dirs,
                   runtime_library_dirs=library_dirs, libraries=["sonodream"])
    return ffi


ffibuilder = make_builder()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
