/* Ensembles: several models dream one picture together, and the ascent
 * climbs the mean of their objectives. What fools several models at once
 * is more often heard by a model none of them is (Liu et al. 2017,
 * ensemble-based transfer): the texture one network alone reacts to
 * averages out, the features they share add up.
 *
 * In the log-mel ascent every model hears the same dB picture through its
 * own standardisation: a picture x in the first model's units is
 * x * (sd / sd_i) + (mean - mean_i) / sd_i in model i's, and model i's
 * gradient comes back multiplied by sd / sd_i. Each model keeps its own
 * windows (its own built width) and its own layer. */
#include <stdlib.h>
#include <string.h>

#include "dream/dream_internal.h"

sono_status dream_member_options(const sono_classifier *lead, int lead_layer, const sono_dream_options *opt,
                                 const sono_classifier *member, sono_dream_options *out, sono_error *err) {
    *out = *opt;
    out->ensemble = NULL;
    out->ensemble_count = 0;
    out->progress = NULL;
    if (opt->objective == SONO_DREAM_CLASS) {
        const char *name = lead->class_names[opt->class_index];
        out->class_index = sono_classifier_find_class(member, name);
        if (out->class_index < 0)
            return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: a model of the ensemble has no class \"%s\"", name);
        return SONO_OK;
    }
    const char *name = sono_net_layer(lead->net, lead_layer)->name;
    out->layer = sono_net_find_layer(member->net, name);
    if (out->layer < 0)
        return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: a model of the ensemble has no layer \"%s\"", name);
    return SONO_OK;
}

sono_status dream_members_init(dream *d, const sono_dream_options *opt, int T, sono_error *err) {
    if (opt->ensemble_count == 0) return SONO_OK;
    d->member = calloc((size_t)opt->ensemble_count, sizeof *d->member);
    if (!d->member) return sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory");
    for (int i = 0; i < opt->ensemble_count; i++) {
        sono_classifier *m = opt->ensemble[i];
        char diff[160];
        if (!m) return sono_error_set(err, SONO_ERR_ARGUMENT, "dream: model %d of the ensemble is missing", i + 2);
        if (!sono_feature_config_equal(&d->c->features, &m->features, diff, sizeof diff))
            return sono_error_set(err, SONO_ERR_ARGUMENT,
                                  "dream: model %d of the ensemble hears other features (%s); the log-mel renders "
                                  "need one feature configuration (the wave render takes any)",
                                  i + 2, diff);
        sono_dream_options mo;
        sono_status s = dream_member_options(d->c, d->layer, opt, m, &mo, err);
        if (s == SONO_OK) s = dream_init(&d->member[i], m, &mo, T, err);
        d->members = i + 1; /* dream_free frees what was made */
        if (s != SONO_OK) return s;
    }
    for (int k = 0; k < d->noct; k++) {
        d->conv[k] = malloc((size_t)d->members * 2 * d->oct[k].h * sizeof(float));
        if (!d->conv[k]) return sono_error_set(err, SONO_ERR_MEMORY, "dream: out of memory");
    }
    return SONO_OK;
}

void dream_members_prepare(dream *d, double floor_db) {
    const sono_classifier *lead = d->c;
    const int H = d->H;
    for (int i = 0; i < d->members; i++) {
        dream *m = &d->member[i];
        const sono_classifier *c = m->c;
        /* Only the member's windows' padding (silence) and scales are used;
         * its bases stay unused: it hears the lead's picture, converted. */
        dream_prepare(m, d->oct[0].base, floor_db, floor_db, floor_db);
        float *scale = d->conv[0] + (size_t)i * 2 * H, *shift = scale + H;
        for (int b = 0; b < H; b++) {
            scale[b] = lead->norm_std[b] / c->norm_std[b];
            shift[b] = (lead->norm_mean[b] - c->norm_mean[b]) / c->norm_std[b];
        }
        for (int k = 1; k < d->noct; k++) {
            const int h = d->oct[k].h;
            float *ks = d->conv[k] + (size_t)i * 2 * h;
            sono_dream_resize(scale, H, 1, ks, h, 1);
            sono_dream_resize(shift, H, 1, ks + h, h, 1);
        }
    }
}

sono_status dream_ensemble_gradient(dream *d, int k, const float *x, int roll, int backward, double *objective,
                                    sono_error *err) {
    const octave *o = &d->oct[k];
    sono_status s = dream_gradient(d, o, x, roll, backward, objective, err);
    if (s != SONO_OK || d->members == 0) return s;
    const int h = o->h, t = o->t;
    double total = *objective;
    for (int i = 0; i < d->members; i++) {
        dream *m = &d->member[i];
        const float *scale = d->conv[k] + (size_t)i * 2 * h, *shift = scale + h;
        for (int b = 0; b < h; b++)
            for (int j = 0; j < t; j++) m->x[(size_t)b * t + j] = x[(size_t)b * t + j] * scale[b] + shift[b];
        double value = 0;
        s = dream_gradient(m, &m->oct[k], m->x, roll, backward, &value, err);
        if (s != SONO_OK) return s;
        total += value;
        for (int b = 0; backward && b < h; b++)
            for (int j = 0; j < t; j++) d->grad[(size_t)b * t + j] += m->grad[(size_t)b * t + j] * scale[b];
    }
    const int count = d->members + 1;
    *objective = total / count;
    if (backward)
        for (size_t i = 0; i < (size_t)h * t; i++) d->grad[i] /= (float)count;
    return SONO_OK;
}
