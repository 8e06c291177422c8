/* The atlas's dataset index: one forward pass over a feature file, every
 * chosen layer's mean activation per clip and channel, the top clips per
 * channel and the mean per class.
 *
 * A forward pass to layer L leaves every earlier layer's output in its own
 * buffer (sono_net_layer_output), so one pass to the deepest chosen layer
 * serves them all. A dense layer's output is (units, 1, 1): its "mean" is
 * the unit itself (for "logits", the class's logit). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "sonodream/atlas.h"
#include "sonodream/train.h"

/* ---- top k by partial selection ---- */

/* The order the atlas ranks clips in: higher value first, then lower index
 * (a total order, so the selection is deterministic). */
static inline int ranks_before(const float *v, int32_t a, int32_t b) {
    return v[a] > v[b] || (v[a] == v[b] && a < b);
}

static inline void swap32(int32_t *a, int32_t *b) {
    int32_t t = *a;
    *a = *b, *b = t;
}

/* Rearrange idx[lo..hi] so that its k-th element (0-based, lo <= k <= hi)
 * is the one the full ranking puts there, with every element before it
 * ranking before it (Hoare's quickselect, median-of-three pivot). */
static void select_kth(const float *v, int32_t *idx, int lo, int hi, int k) {
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (ranks_before(v, idx[mid], idx[lo])) swap32(&idx[mid], &idx[lo]);
        if (ranks_before(v, idx[hi], idx[lo])) swap32(&idx[hi], &idx[lo]);
        if (ranks_before(v, idx[hi], idx[mid])) swap32(&idx[hi], &idx[mid]);
        int32_t pivot = idx[mid];
        int i = lo, j = hi;
        while (i <= j) {
            while (ranks_before(v, idx[i], pivot)) i++;
            while (ranks_before(v, pivot, idx[j])) j--;
            if (i <= j) swap32(&idx[i++], &idx[j--]);
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return;
    }
}

/* Heap sort of idx[0..n) by the ranking (worst at the root of a heap). */
static void sift_down(const float *v, int32_t *idx, int root, int n) {
    for (;;) {
        int child = 2 * root + 1;
        if (child >= n) return;
        if (child + 1 < n && ranks_before(v, idx[child], idx[child + 1])) child++;
        if (!ranks_before(v, idx[root], idx[child])) return;
        swap32(&idx[root], &idx[child]);
        root = child;
    }
}

static void sort_ranked(const float *v, int32_t *idx, int n) {
    for (int i = n / 2 - 1; i >= 0; i--) sift_down(v, idx, i, n);
    for (int end = n - 1; end > 0; end--) {
        swap32(&idx[0], &idx[end]);
        sift_down(v, idx, 0, end);
    }
}

void sono_atlas_top_k(const float *values, int n, int k, int32_t *order, int32_t *scratch) {
    if (k > n) k = n;
    if (k <= 0) return;
    for (int i = 0; i < n; i++) scratch[i] = i;
    if (k < n) select_kth(values, scratch, 0, n - 1, k - 1);
    /* heap sort puts the root (the lowest-ranked) last: sorted "worst last",
     * which is best first */
    sort_ranked(values, scratch, k);
    memcpy(order, scratch, (size_t)k * sizeof(int32_t));
}

int sono_atlas_top_k_grouped(const float *values, const int32_t *group, int n, int k, int32_t *order,
                             int32_t *scratch) {
    if (k > n) k = n;
    if (k <= 0) return 0;
    if (!group) {
        sono_atlas_top_k(values, n, k, order, scratch);
        return k;
    }
    /* Rank a prefix a few times longer than k and take each group's best;
     * when the prefix holds fewer than k groups, rank a longer one. */
    for (int m = k * 4 < n ? k * 4 : n;; m = 2 * m < n ? 2 * m : n) {
        for (int i = 0; i < n; i++) scratch[i] = i;
        if (m < n) select_kth(values, scratch, 0, n - 1, m - 1);
        sort_ranked(values, scratch, m);
        int found = 0;
        for (int i = 0; i < m && found < k; i++) {
            int taken = 0;
            for (int j = 0; j < found && !taken; j++) taken = group[order[j]] == group[scratch[i]];
            if (!taken) order[found++] = scratch[i];
        }
        if (found == k || m == n) return found;
    }
}

/* ---- the forward pass ---- */

void sono_atlas_index_free(sono_atlas_index *index) {
    if (!index) return;
    for (int l = 0; l < index->layer_count; l++) {
        sono_atlas_layer_index *li = &index->layers[l];
        free(li->mean), free(li->top_clip), free(li->top_value), free(li->class_mean);
    }
    free(index->layers), free(index->clips), free(index->class_clips);
    memset(index, 0, sizeof *index);
}

/* Distinct values among group[clips[0..n)]. */
static int count_groups(const int32_t *group, const int32_t *clips, int n) {
    int32_t *g = malloc((size_t)(n ? n : 1) * sizeof(int32_t));
    if (!g) return n;
    for (int i = 0; i < n; i++) g[i] = group[clips[i]];
    int distinct = 0;
    for (int i = 0; i < n; i++) {
        int seen = 0;
        for (int j = 0; j < distinct && !seen; j++) seen = g[j] == g[i];
        if (!seen) g[distinct++] = g[i];
    }
    free(g);
    return distinct;
}

static sono_status alloc_index(const sono_classifier *c, const sono_feature_set *set, uint64_t folds,
                               const int32_t *groups, const int *layers, int count, int top, sono_atlas_index *index,
                               sono_error *err) {
    index->classes = set->class_count;
    index->class_clips = calloc((size_t)set->class_count, sizeof(int));
    index->clips = malloc((size_t)(set->count ? set->count : 1) * sizeof(int32_t));
    index->layers = calloc((size_t)count, sizeof *index->layers);
    if (!index->class_clips || !index->clips || !index->layers) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    for (int i = 0; i < set->count; i++)
        if (!folds || sono_folds_has(folds, set->folds[i])) {
            index->clips[index->clip_count++] = i;
            index->class_clips[set->labels[i]]++;
        }
    if (index->clip_count == 0) return sono_error_set(err, SONO_ERR_ARGUMENT, "feature file: no clips in the chosen folds");
    index->layer_count = count;
    int k = top < index->clip_count ? top : index->clip_count;
    if (groups) {
        int distinct = count_groups(groups, index->clips, index->clip_count);
        if (distinct < k) k = distinct;
    }
    for (int l = 0; l < count; l++) {
        sono_atlas_layer_index *li = &index->layers[l];
        const sono_layer_info *info = sono_net_layer(c->net, layers[l]);
        li->layer = layers[l];
        li->channels = info->out.c;
        li->top = k;
        li->mean = malloc((size_t)index->clip_count * li->channels * sizeof(float));
        li->top_clip = malloc((size_t)li->channels * k * sizeof(int32_t));
        li->top_value = malloc((size_t)li->channels * k * sizeof(float));
        li->class_mean = malloc((size_t)li->channels * set->class_count * sizeof(float));
        if (!li->mean || !li->top_clip || !li->top_value || !li->class_mean)
            return sono_error_set(err, SONO_ERR_MEMORY, "out of memory for the atlas index");
    }
    return SONO_OK;
}

/* Mean over each (sample, channel) plane of a layer's output (batch, C, H, W)
 * into mean: batch rows of the layer's (clips, C) table. */
static void plane_means(const float *out, int batch, sono_shape shape, float *mean) {
    const size_t plane = (size_t)shape.h * shape.w;
    for (int bc = 0; bc < batch * shape.c; bc++) {
        const float *p = out + (size_t)bc * plane;
        double sum = 0;
        for (size_t i = 0; i < plane; i++) sum += p[i];
        mean[bc] = (float)(sum / (double)plane);
    }
}

/* Batches of max_batch clips, dealt out to the workers round robin; each
 * worker's passes run on its own thread (its inner OpenMP regions get one
 * thread), so the workers never wait for each other until the end: on a
 * busy machine, a pass split over threads at every layer spends most of
 * its time in barriers waiting for a descheduled thread. */
static sono_status forward_all(sono_classifier *const *workers, int jobs, const sono_feature_set *set, int last,
                               sono_atlas_index *index, sono_error *err) {
    const int batch_max = sono_net_max_batch(workers[0]->net);
    const int batches = (index->clip_count + batch_max - 1) / batch_max;
    const size_t clip = (size_t)set->n_mels * set->frames;
    sono_status first = SONO_OK;
#pragma omp parallel num_threads(jobs)
    {
        omp_set_num_threads(1);
        const int w = omp_get_thread_num();
        sono_classifier *c = workers[w];
        sono_error e = {0};
        sono_status s = SONO_OK;
        float *input = malloc((size_t)batch_max * clip * sizeof(float)); /* (B, 1, n_mels, frames) */
        if (!input) s = sono_error_set(&e, SONO_ERR_MEMORY, "out of memory");
        for (int bi = w; s == SONO_OK && bi < batches; bi += jobs) {
            const int first_clip = bi * batch_max;
            int batch = index->clip_count - first_clip < batch_max ? index->clip_count - first_clip : batch_max;
            for (int b = 0; b < batch; b++) {
                memcpy(input + b * clip, set->features + (size_t)index->clips[first_clip + b] * clip,
                       clip * sizeof(float));
                sono_classifier_standardize(c, input + b * clip, set->frames);
            }
            s = sono_net_forward_to(c->net, input, batch, set->n_mels, set->frames, last, NULL, NULL, &e);
            for (int l = 0; s == SONO_OK && l < index->layer_count; l++) {
                sono_atlas_layer_index *li = &index->layers[l];
                sono_shape shape = sono_net_layer(c->net, li->layer)->out;
                plane_means(sono_net_layer_output(c->net, li->layer), batch, shape,
                            li->mean + (size_t)first_clip * li->channels);
            }
        }
        free(input);
#pragma omp critical(sono_atlas_index)
        if (s != SONO_OK && first == SONO_OK) {
            first = s;
            if (err) *err = e;
        }
    }
    return first;
}

/* Top k and class means of every channel, from the (clips, C) table. */
static sono_status summarise_layer(const sono_feature_set *set, const int32_t *groups, const sono_atlas_index *index,
                                   sono_atlas_layer_index *li, sono_error *err) {
    const int n = index->clip_count, C = li->channels, K = index->classes;
    int32_t *group = NULL; /* (n) of the selected clips */
    if (groups) {
        group = malloc((size_t)n * sizeof(int32_t));
        if (!group) return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
        for (int i = 0; i < n; i++) group[i] = groups[index->clips[i]];
    }
    float *column = malloc((size_t)n * sizeof(float));
    int32_t *scratch = malloc((size_t)n * sizeof(int32_t));
    int32_t *order = malloc((size_t)(li->top ? li->top : 1) * sizeof(int32_t));
    double *sum = malloc((size_t)K * sizeof(double));
    if (!column || !scratch || !order || !sum) {
        free(column), free(scratch), free(order), free(sum), free(group);
        return sono_error_set(err, SONO_ERR_MEMORY, "out of memory");
    }
    for (int ch = 0; ch < C; ch++) {
        for (int k = 0; k < K; k++) sum[k] = 0;
        for (int i = 0; i < n; i++) {
            column[i] = li->mean[(size_t)i * C + ch];
            sum[set->labels[index->clips[i]]] += column[i];
        }
        sono_atlas_top_k_grouped(column, group, n, li->top, order, scratch);
        for (int j = 0; j < li->top; j++) {
            li->top_clip[(size_t)ch * li->top + j] = index->clips[order[j]];
            li->top_value[(size_t)ch * li->top + j] = column[order[j]];
        }
        for (int k = 0; k < K; k++)
            li->class_mean[(size_t)ch * K + k] =
                index->class_clips[k] ? (float)(sum[k] / index->class_clips[k]) : NAN;
    }
    free(column), free(scratch), free(order), free(sum), free(group);
    return SONO_OK;
}

sono_status sono_atlas_index_build(sono_classifier *const *workers, int jobs, const sono_feature_set *set,
                                   uint64_t folds, const int32_t *groups, const int *layers, int count, int top,
                                   sono_atlas_index *index, sono_error *err) {
    memset(index, 0, sizeof *index);
    sono_classifier *c = workers[0];
    if (jobs < 1 || count < 1 || top < 1) return sono_error_set(err, SONO_ERR_ARGUMENT, "atlas index: no layers or top < 1");
    sono_status s = sono_check_compatible(c, set, "feature file", err);
    if (s != SONO_OK) return s;
    int last = -1;
    for (int l = 0; l < count; l++) {
        if (!sono_net_layer(c->net, layers[l]))
            return sono_error_set(err, SONO_ERR_ARGUMENT, "atlas index: the net has no layer %d", layers[l]);
        if (layers[l] > last) last = layers[l];
    }
    s = alloc_index(c, set, folds, groups, layers, count, top, index, err);
    if (s == SONO_OK) s = forward_all(workers, jobs, set, last, index, err);
    for (int l = 0; s == SONO_OK && l < count; l++) s = summarise_layer(set, groups, index, &index->layers[l], err);
    if (s != SONO_OK) sono_atlas_index_free(index);
    return s;
}
