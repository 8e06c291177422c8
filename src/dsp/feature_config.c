/* The feature configuration: defaults, validation, sizes, JSON and comparison. */
#include <cjson/cJSON.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dsp/dsp_internal.h"

/* Fixed choices, written to JSON so that a feature file describes itself. */
#define FIXED_WINDOW "hann"
#define FIXED_MEL_SCALE "slaney"
#define FIXED_MEL_NORM "slaney"
#define FIXED_LOG "10*log10(max(power, log_floor))"

void sono_feature_config_default(sono_feature_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    cfg->sample_rate = 16000;
    cfg->seconds = 4.0;
    cfg->n_fft = 1024;
    cfg->hop = 512;
    cfg->n_mels = 128;
    cfg->fmin = 0.0;
    cfg->fmax = 0.0; /* sample_rate / 2 */
    cfg->center = 1;
    cfg->pad_mode = SONO_PAD_CONSTANT;
    cfg->power = 2.0;
    cfg->log_floor = 1e-10;
}

double sono_feature_config_fmax(const sono_feature_config *cfg) {
    return cfg->fmax > 0.0 ? cfg->fmax : cfg->sample_rate / 2.0;
}

int64_t sono_feature_clip_samples(const sono_feature_config *cfg) {
    return (int64_t)llround(cfg->seconds * cfg->sample_rate);
}

int sono_feature_frames(const sono_feature_config *cfg, int64_t n_samples) {
    if (n_samples < 0 || cfg->hop < 1) return 0;
    int64_t usable = cfg->center ? n_samples : n_samples - cfg->n_fft;
    if (usable < 0) return 0;
    int64_t frames = 1 + usable / cfg->hop;
    return frames > INT_MAX ? 0 : (int)frames;
}

static const char *pad_mode_name(sono_pad_mode mode) {
    return mode == SONO_PAD_REFLECT ? "reflect" : "constant";
}

static sono_status invalid(sono_error *err, const char *what, ...) __attribute__((format(printf, 2, 3)));

/* "feature config: <what>" as an argument error. */
static sono_status invalid(sono_error *err, const char *what, ...) {
    char text[SONO_ERROR_MESSAGE_MAX - 32];
    va_list ap;
    va_start(ap, what);
    vsnprintf(text, sizeof text, what, ap);
    va_end(ap);
    return sono_error_set(err, SONO_ERR_ARGUMENT, "feature config: %s", text);
}

static sono_status validate_sizes(const sono_feature_config *cfg, sono_error *err) {
    if (cfg->sample_rate < 1000 || cfg->sample_rate > 384000)
        return invalid(err, "sample_rate must be between 1000 and 384000 Hz (got %d)", cfg->sample_rate);
    if (!(cfg->seconds > 0.0 && cfg->seconds <= 3600.0))
        return invalid(err, "seconds must be in (0, 3600] (got %g)", cfg->seconds);
    if (sono_feature_clip_samples(cfg) < 1)
        return invalid(err, "seconds = %g gives no sample at %d Hz", cfg->seconds, cfg->sample_rate);
    if (cfg->n_fft < 16 || cfg->n_fft % 2 != 0)
        return invalid(err, "n_fft must be an even number >= 16 (got %d)", cfg->n_fft);
    if (cfg->hop < 1 || cfg->hop > cfg->n_fft)
        return invalid(err, "hop must be between 1 and n_fft = %d (got %d)", cfg->n_fft, cfg->hop);
    if (cfg->n_mels < 1 || cfg->n_mels > cfg->n_fft / 2 + 1)
        return invalid(err, "n_mels must be between 1 and n_fft/2+1 = %d (got %d)", cfg->n_fft / 2 + 1,
                       cfg->n_mels);
    return SONO_OK;
}

static sono_status validate_choices(const sono_feature_config *cfg, sono_error *err) {
    const double nyquist = cfg->sample_rate / 2.0, fmax = sono_feature_config_fmax(cfg);
    if (!(cfg->fmin >= 0.0 && cfg->fmin < fmax))
        return invalid(err, "fmin must be >= 0 and below fmax = %g Hz (got %g)", fmax, cfg->fmin);
    if (!(fmax <= nyquist))
        return invalid(err, "fmax must be at most sample_rate/2 = %g Hz (got %g)", nyquist, fmax);
    if (cfg->center != 0 && cfg->center != 1) return invalid(err, "center must be 0 or 1 (got %d)", cfg->center);
    if (cfg->pad_mode != SONO_PAD_CONSTANT && cfg->pad_mode != SONO_PAD_REFLECT)
        return invalid(err, "pad_mode must be constant or reflect (got %d)", (int)cfg->pad_mode);
    if (!(cfg->power > 0.0 && isfinite(cfg->power))) return invalid(err, "power must be > 0 (got %g)", cfg->power);
    if (!(cfg->log_floor > 0.0 && isfinite(cfg->log_floor)))
        return invalid(err, "log_floor must be > 0 (got %g)", cfg->log_floor);
    if (sono_feature_frames(cfg, sono_feature_clip_samples(cfg)) < 1)
        return invalid(err, "a clip of %lld samples is shorter than n_fft = %d, which uncentred frames need",
                       (long long)sono_feature_clip_samples(cfg), cfg->n_fft);
    return SONO_OK;
}

sono_status sono_feature_config_validate(const sono_feature_config *cfg, sono_error *err) {
    sono_status status = validate_sizes(cfg, err);
    return status == SONO_OK ? validate_choices(cfg, err) : status;
}

/* ---- JSON ---- */

/* cJSON prints a double with 15 digits whenever that reads back within a
 * relative DBL_EPSILON, which is not always the same double (0.1 + 0.2 would
 * come back as 0.3). Print the fewest digits that read back exactly instead, so
 * a config survives a file unchanged. Non-finite values (only in an invalid
 * config) become null, which from_json then rejects. */
static void add_exact_number(cJSON *o, const char *name, double v) {
    if (!isfinite(v)) {
        cJSON_AddNullToObject(o, name);
        return;
    }
    char text[40];
    for (int digits = 15; digits <= 17; digits++) {
        snprintf(text, sizeof text, "%.*g", digits, v);
        if (strtod(text, NULL) == v) break;
    }
    cJSON_AddRawToObject(o, name, text);
}

char *sono_feature_config_to_json(const sono_feature_config *cfg) {
    cJSON *o = cJSON_CreateObject();
    if (!o) return NULL;
    cJSON_AddNumberToObject(o, "sample_rate", cfg->sample_rate);
    add_exact_number(o, "seconds", cfg->seconds);
    cJSON_AddNumberToObject(o, "n_fft", cfg->n_fft);
    cJSON_AddNumberToObject(o, "hop", cfg->hop);
    cJSON_AddNumberToObject(o, "n_mels", cfg->n_mels);
    add_exact_number(o, "fmin", cfg->fmin);
    add_exact_number(o, "fmax", sono_feature_config_fmax(cfg));
    cJSON_AddBoolToObject(o, "center", cfg->center);
    cJSON_AddStringToObject(o, "pad_mode", pad_mode_name(cfg->pad_mode));
    add_exact_number(o, "power", cfg->power);
    add_exact_number(o, "log_floor", cfg->log_floor);
    cJSON_AddStringToObject(o, "window", FIXED_WINDOW);
    cJSON_AddBoolToObject(o, "window_periodic", 1);
    cJSON_AddStringToObject(o, "mel_scale", FIXED_MEL_SCALE);
    cJSON_AddStringToObject(o, "mel_norm", FIXED_MEL_NORM);
    cJSON_AddStringToObject(o, "log", FIXED_LOG);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

static sono_status bad_field(sono_error *err, const char *name, const char *expected) {
    return sono_error_set(err, SONO_ERR_FORMAT, "feature config: field '%s' is missing or not %s", name, expected);
}

static sono_status read_positive_int(const cJSON *o, const char *name, int *out, sono_error *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(item)) return bad_field(err, name, "a positive integer");
    double v = item->valuedouble;
    if (!(v >= 1.0 && v <= INT_MAX && v == floor(v))) return bad_field(err, name, "a positive integer");
    *out = (int)v;
    return SONO_OK;
}

/* A finite number; must_be_positive also excludes 0 (otherwise only negatives are refused). */
static sono_status read_number(const cJSON *o, const char *name, int must_be_positive, double *out,
                               sono_error *err) {
    const char *expected = must_be_positive ? "a positive number" : "a non-negative number";
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsNumber(item)) return bad_field(err, name, expected);
    double v = item->valuedouble;
    if (!isfinite(v) || v < 0.0 || (must_be_positive && v == 0.0)) return bad_field(err, name, expected);
    *out = v;
    return SONO_OK;
}

static sono_status read_center(const cJSON *o, int *out, sono_error *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, "center");
    if (!cJSON_IsBool(item)) return bad_field(err, "center", "true or false");
    *out = cJSON_IsTrue(item) ? 1 : 0;
    return SONO_OK;
}

static sono_status read_pad_mode(const cJSON *o, sono_pad_mode *out, sono_error *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, "pad_mode");
    const char *s = cJSON_GetStringValue(item);
    if (s && strcmp(s, "constant") == 0) *out = SONO_PAD_CONSTANT;
    else if (s && strcmp(s, "reflect") == 0) *out = SONO_PAD_REFLECT;
    else return bad_field(err, "pad_mode", "\"constant\" or \"reflect\"");
    return SONO_OK;
}

/* The fixed choices are descriptive, so they may be absent; when present they
 * must be what this code computes, or the features would silently differ. */
static sono_status check_fixed_string(const cJSON *o, const char *name, const char *expected, sono_error *err) {
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!item) return SONO_OK;
    const char *s = cJSON_GetStringValue(item);
    if (s && strcmp(s, expected) == 0) return SONO_OK;
    return sono_error_set(err, SONO_ERR_UNSUPPORTED, "feature config: field '%s' must be \"%s\" (the only one supported)",
                          name, expected);
}

static sono_status check_fixed_choices(const cJSON *o, sono_error *err) {
    const cJSON *periodic = cJSON_GetObjectItemCaseSensitive(o, "window_periodic");
    if (periodic && !cJSON_IsTrue(periodic))
        return sono_error_set(err, SONO_ERR_UNSUPPORTED,
                              "feature config: field 'window_periodic' must be true (the only one supported)");
    sono_status s = check_fixed_string(o, "window", FIXED_WINDOW, err);
    if (s == SONO_OK) s = check_fixed_string(o, "mel_scale", FIXED_MEL_SCALE, err);
    if (s == SONO_OK) s = check_fixed_string(o, "mel_norm", FIXED_MEL_NORM, err);
    if (s == SONO_OK) s = check_fixed_string(o, "log", FIXED_LOG, err);
    return s;
}

static sono_status read_fields(const cJSON *o, sono_feature_config *c, sono_error *err) {
    sono_status s = read_positive_int(o, "sample_rate", &c->sample_rate, err);
    if (s == SONO_OK) s = read_number(o, "seconds", 1, &c->seconds, err);
    if (s == SONO_OK) s = read_positive_int(o, "n_fft", &c->n_fft, err);
    if (s == SONO_OK) s = read_positive_int(o, "hop", &c->hop, err);
    if (s == SONO_OK) s = read_positive_int(o, "n_mels", &c->n_mels, err);
    if (s == SONO_OK) s = read_number(o, "fmin", 0, &c->fmin, err);
    if (s == SONO_OK) s = read_number(o, "fmax", 1, &c->fmax, err);
    if (s == SONO_OK) s = read_center(o, &c->center, err);
    if (s == SONO_OK) s = read_pad_mode(o, &c->pad_mode, err);
    if (s == SONO_OK) s = read_number(o, "power", 1, &c->power, err);
    if (s == SONO_OK) s = read_number(o, "log_floor", 1, &c->log_floor, err);
    if (s == SONO_OK) s = check_fixed_choices(o, err);
    return s;
}

sono_status sono_feature_config_from_json(const char *json, sono_feature_config *cfg, sono_error *err) {
    cJSON *o = json ? cJSON_Parse(json) : NULL;
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return sono_error_set(err, SONO_ERR_FORMAT, "feature config: not a JSON object");
    }
    sono_feature_config parsed;
    sono_feature_config_default(&parsed);
    sono_status s = read_fields(o, &parsed, err);
    cJSON_Delete(o);
    if (s == SONO_OK) s = sono_feature_config_validate(&parsed, err);
    if (s == SONO_OK) *cfg = parsed;
    return s;
}

/* ---- comparison ---- */

static void describe_int(char *diff, int size, const char *name, int a, int b) {
    if (diff && size > 0) snprintf(diff, (size_t)size, "%s: %d vs %d", name, a, b);
}

/* Shortest text that shows the difference: %g, or all digits when %g rounds both alike. */
static void describe_double(char *diff, int size, const char *name, double a, double b) {
    char ta[32], tb[32];
    snprintf(ta, sizeof ta, "%g", a);
    snprintf(tb, sizeof tb, "%g", b);
    if (strcmp(ta, tb) == 0) {
        snprintf(ta, sizeof ta, "%.17g", a);
        snprintf(tb, sizeof tb, "%.17g", b);
    }
    if (diff && size > 0) snprintf(diff, (size_t)size, "%s: %s vs %s", name, ta, tb);
}

#define SAME_INT(field)                                                  \
    if (a->field != b->field) {                                          \
        describe_int(diff, diff_size, #field, a->field, b->field);       \
        return 0;                                                        \
    }
#define SAME_DOUBLE(name, va, vb)                                        \
    if ((va) != (vb)) {                                                  \
        describe_double(diff, diff_size, name, va, vb);                  \
        return 0;                                                        \
    }

int sono_feature_config_equal(const sono_feature_config *a, const sono_feature_config *b, char *diff,
                              int diff_size) {
    if (diff && diff_size > 0) diff[0] = '\0';
    SAME_INT(sample_rate)
    SAME_DOUBLE("seconds", a->seconds, b->seconds)
    SAME_INT(n_fft)
    SAME_INT(hop)
    SAME_INT(n_mels)
    SAME_DOUBLE("fmin", a->fmin, b->fmin)
    SAME_DOUBLE("fmax", sono_feature_config_fmax(a), sono_feature_config_fmax(b))
    SAME_INT(center)
    if (a->pad_mode != b->pad_mode) {
        if (diff && diff_size > 0)
            snprintf(diff, (size_t)diff_size, "pad_mode: %s vs %s", pad_mode_name(a->pad_mode),
                     pad_mode_name(b->pad_mode));
        return 0;
    }
    SAME_DOUBLE("power", a->power, b->power)
    SAME_DOUBLE("log_floor", a->log_floor, b->log_floor)
    return 1;
}

void sono_fix_length(const float *in, int64_t n, float *out, int64_t target) {
    if (target <= 0) return;
    int64_t keep = n < 0 ? 0 : (n < target ? n : target);
    if (keep > 0) memcpy(out, in, (size_t)keep * sizeof *out);
    if (keep < target) memset(out + keep, 0, (size_t)(target - keep) * sizeof *out);
}
