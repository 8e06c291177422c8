/* The atlas's pages: one per channel (the dream, its top clips, its class
 * chart) and index.html (a grid per layer with filters). Plain static HTML
 * with relative links and a little inline script for the filters, so the
 * folder works from disk (file://) and from any static server. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atlas/atlas_internal.h"
#include "sonodream/train.h"

static const char *STYLE =
    "body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1280px;padding:0 1em;color:#222}\n"
    "a{color:#5b2a86}nav{margin-bottom:1em}h1{margin:.2em 0}.what{color:#555}\n"
    ".filters{position:sticky;top:0;background:#fff;padding:.5em 0;border-bottom:1px solid #ddd;z-index:1}\n"
    ".grid{display:flex;flex-wrap:wrap;gap:6px}\n"
    ".card{display:flex;flex-direction:column;width:128px;text-decoration:none;color:#222;font-size:12px}\n"
    ".card img{width:128px;height:128px;background:#111;image-rendering:pixelated}\n"
    ".card em{color:#5b2a86;font-style:normal}\n"
    "figure{margin:0}figure img{max-width:100%}\n"
    "table.examples td{padding:4px 8px;vertical-align:middle}table.examples img{width:96px;height:96px}\n"
    "table.bars td{padding:1px 6px;font-size:13px}.bar{background:#c2477a;height:12px}\n"
    "tr.pref td{font-weight:bold}.bartrack{width:320px}\n";

static const char *SCRIPT =
    "<script>\n"
    "(function(){const L=document.getElementById('layer'),K=document.getElementById('klass');\n"
    "function apply(){for(const s of document.querySelectorAll('section.layer')){let any=false;\n"
    "for(const c of s.querySelectorAll('.card')){const ok=(!L.value||c.dataset.layer===L.value)&&\n"
    "(!K.value||c.dataset.class===K.value);c.hidden=!ok;any=any||ok;}s.hidden=!any;}}\n"
    "L.addEventListener('change',apply);K.addEventListener('change',apply);apply();})();\n"
    "</script>\n";

static const char *base_name(const char *path) {
    const char *s = path ? strrchr(path, '/') : NULL;
    return s ? s + 1 : path ? path : "";
}

static const char *class_name(const atlas_job *job, int k) {
    return k >= 0 && k < job->c->class_count ? job->c->class_names[k] : "?";
}

static void item_title(const atlas_job *job, const atlas_item *it, char *buf, size_t size) {
    if (it->layer >= 0) snprintf(buf, size, "%s, channel %d", it->dir, it->channel);
    else snprintf(buf, size, "class %s", class_name(job, it->channel));
}

static void page_head(sbuf *b, const char *title, const char *css) {
    sbuf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>");
    sbuf_html(b, title);
    sbuf_printf(b, " - sonodream atlas</title>\n<link rel=\"stylesheet\" href=\"%s\">\n</head>\n<body>\n", css);
}

static void dream_summary(sbuf *b, const atlas_job *job, const atlas_item *it) {
    const sono_dream_options *d = &job->opt->dream.ascent;
    sbuf_printf(b, "<p class=\"what\">Dreamed from %g s of noise (%s render, %d octaves x %d steps): ",
                job->opt->seconds, sono_dream_render_name(job->opt->dream.render), d->octaves, d->iterations);
    if (it->layer >= 0) sbuf_printf(b, "mean activation %.3g &rarr; %.3g", it->objective_before, it->objective_after);
    else sbuf_printf(b, "logit %.3g &rarr; %.3g", it->objective_before, it->objective_after);
    sbuf_printf(b, ", mean change %.1f dB. The model hears the dream as <b>", it->mean_change_db);
    sbuf_html(b, class_name(job, it->dream_class));
    sbuf_printf(b, "</b> (%.0f %%).</p>\n", 100 * it->dream_prob);
}

static void examples_table(sbuf *b, const atlas_job *job, const atlas_item *it) {
    const sono_atlas_layer_index *li = &job->index.layers[it->index_layer];
    const sono_feature_set *set = job->set;
    char folds[128];
    sono_folds_format(job->opt->folds, folds, sizeof folds);
    sbuf_printf(b, "<h2>Recordings that excite it most</h2>\n<p class=\"what\">The %d of %d clips", li->top,
                job->index.clip_count);
    if (job->opt->folds) sbuf_printf(b, " (folds %s)", folds);
    sbuf_printf(b, " of <code>");
    sbuf_html(b, base_name(job->features_path));
    sbuf_printf(b, "</code> with the highest %s%s.</p>\n<table class=\"examples\">\n",
                it->layer >= 0 ? "mean activation of this channel" : "logit of this class",
                job->grouped ? " (the best slice of each recording)" : "");
    for (int j = 0; j < li->top; j++) {
        int32_t clip = li->top_clip[(size_t)it->channel * li->top + j];
        const atlas_clip *cl = atlas_clip_find(job, clip);
        if (!cl) continue;
        sbuf_printf(b, "<tr><td><img loading=\"lazy\" src=\"../%s/%s.png\" alt=\"spectrogram\"></td><td>",
                    ATLAS_CLIPS_DIR, cl->stem);
        sbuf_html(b, class_name(job, set->labels[clip]));
        sbuf_printf(b, "</td><td><code>");
        sbuf_html(b, base_name(set->sources[clip]));
        sbuf_printf(b, "</code>%s</td><td>%.3g</td><td><audio controls preload=\"none\" src=\"../%s/%s%s.flac\">"
                       "</audio></td></tr>\n",
                    cl->rendered ? " (rendered from its features)" : "", li->top_value[(size_t)it->channel * li->top + j],
                    ATLAS_CLIPS_DIR, cl->stem, cl->rendered ? "-rendered" : "");
    }
    sbuf_printf(b, "</table>\n");
}

static void class_chart(sbuf *b, const atlas_job *job, const atlas_item *it) {
    const sono_atlas_layer_index *li = &job->index.layers[it->index_layer];
    const float *m = li->class_mean + (size_t)it->channel * job->index.classes;
    double top = 0;
    for (int k = 0; k < job->index.classes; k++)
        if (!isnan(m[k]) && fabs(m[k]) > top) top = fabs(m[k]);
    sbuf_printf(b, "<h2>Which classes excite it</h2>\n<p class=\"what\">Mean %s over the clips of each "
                   "class.</p>\n<table class=\"bars\">\n", it->layer >= 0 ? "activation" : "logit");
    for (int k = 0; k < job->index.classes; k++) {
        double w = isnan(m[k]) || top <= 0 || m[k] <= 0 ? 0 : 100 * m[k] / top;
        sbuf_printf(b, "<tr%s><td>", k == it->preferred ? " class=\"pref\"" : "");
        sbuf_html(b, class_name(job, k));
        sbuf_printf(b, "</td><td class=\"bartrack\"><div class=\"bar\" style=\"width:%.1f%%\"></div></td><td>", w);
        if (isnan(m[k])) sbuf_printf(b, "no clips</td></tr>\n");
        else sbuf_printf(b, "%.3g</td></tr>\n", m[k]);
    }
    sbuf_printf(b, "</table>\n");
}

static void nav_link(sbuf *b, const atlas_job *job, const atlas_item *it, const char *arrow_before,
                     const char *arrow_after) {
    char title[128];
    item_title(job, it, title, sizeof title);
    sbuf_printf(b, " &middot; <a href=\"%s.html\">%s", it->stem, arrow_before);
    sbuf_html(b, title);
    sbuf_printf(b, "%s</a>", arrow_after);
}

static sono_status write_item_page(const atlas_job *job, int i, sono_error *err) {
    const atlas_item *it = &job->items[i];
    char title[128], path[4096];
    item_title(job, it, title, sizeof title);
    sbuf b = {0};
    page_head(&b, title, "../atlas.css");
    sbuf_printf(&b, "<nav><a href=\"../index.html\">atlas</a>");
    if (i > 0 && strcmp(job->items[i - 1].dir, it->dir) == 0) nav_link(&b, job, &job->items[i - 1], "&larr; ", "");
    if (i + 1 < job->item_count && strcmp(job->items[i + 1].dir, it->dir) == 0)
        nav_link(&b, job, &job->items[i + 1], "", " &rarr;");
    sbuf_printf(&b, "</nav>\n<h1>");
    sbuf_html(&b, title);
    sbuf_printf(&b, "</h1>\n");
    dream_summary(&b, job, it);
    sbuf_printf(&b, "<figure><img src=\"%s-plot.png\" alt=\"the noise it started from and the dream\">\n"
                    "<figcaption><audio controls preload=\"metadata\" src=\"%s.flac\"></audio></figcaption></figure>\n",
                it->stem, it->stem);
    if (it->index_layer >= 0) {
        examples_table(&b, job, it);
        class_chart(&b, job, it);
    }
    sbuf_printf(&b, "<p class=\"what\">Parameters and the objective per step: <a href=\"%s.json\">%s.json</a></p>\n"
                    "</body></html>\n",
                it->stem, it->stem);
    sono_status s = b.failed ? sono_error_set(err, SONO_ERR_MEMORY, "out of memory") : SONO_OK;
    atlas_path(job, path, sizeof path, it->dir, it->stem, ".html");
    if (s == SONO_OK) s = atlas_write_text(path, b.data, b.len, err);
    sbuf_free(&b);
    return s;
}

static void index_header(sbuf *b, const atlas_job *job) {
    const sono_dream_options *d = &job->opt->dream.ascent;
    sbuf_printf(b, "<h1>Atlas of <code>");
    sbuf_html(b, base_name(job->model_path));
    sbuf_printf(b, "</code></h1>\n<p class=\"what\">What each channel hears: every picture is %g s of noise "
                   "dreamed toward one channel's mean activation (or one class's logit), %s render, %d octaves x "
                   "%d steps, seed %llu. ",
                job->opt->seconds, sono_dream_render_name(job->opt->dream.render), d->octaves, d->iterations,
                (unsigned long long)d->seed);
    if (job->set) {
        sbuf_printf(b, "Each channel's page shows the %d clips of <code>", job->opt->top);
        sbuf_html(b, base_name(job->features_path));
        sbuf_printf(b, "</code> (%d clips) that excite it most; the class under a picture is the class whose clips "
                       "excite it most on average.",
                    job->index.clip_count);
    } else {
        sbuf_printf(b, "The class under a picture is the class the model hears in the dream.");
    }
    sbuf_printf(b, "</p>\n<div class=\"filters\">layer <select id=\"layer\"><option value=\"\">all</option>");
    for (int i = 0; i < job->item_count; i++)
        if (i == 0 || strcmp(job->items[i].dir, job->items[i - 1].dir) != 0)
            sbuf_printf(b, "<option>%s</option>", job->items[i].dir);
    sbuf_printf(b, "</select> class <select id=\"klass\"><option value=\"\">all</option>");
    for (int k = 0; k < job->c->class_count; k++) {
        sbuf_printf(b, "<option>");
        sbuf_html(b, class_name(job, k));
        sbuf_printf(b, "</option>");
    }
    sbuf_printf(b, "</select></div>\n");
}

static sono_status write_index(const atlas_job *job, sono_error *err) {
    sbuf b = {0};
    page_head(&b, "index", "atlas.css");
    index_header(&b, job);
    for (int i = 0; i < job->item_count; i++) {
        const atlas_item *it = &job->items[i];
        if (i == 0 || strcmp(it->dir, job->items[i - 1].dir) != 0) {
            int n = 0;
            while (i + n < job->item_count && strcmp(job->items[i + n].dir, it->dir) == 0) n++;
            sbuf_printf(&b, "%s<section class=\"layer\" data-layer=\"%s\"><h2>%s (%d)</h2>\n<div class=\"grid\">\n",
                        i ? "</div></section>\n" : "", it->dir, it->layer >= 0 ? it->dir : "classes (logits)", n);
        }
        char title[128];
        item_title(job, it, title, sizeof title);
        sbuf_printf(&b, "<a class=\"card\" data-layer=\"%s\" data-class=\"", it->dir);
        sbuf_html(&b, class_name(job, it->preferred));
        sbuf_printf(&b, "\" href=\"%s/%s.html\"><img loading=\"lazy\" width=\"%d\" height=\"%d\" src=\"%s/%s.png\" "
                        "alt=\"",
                    it->dir, it->stem, ATLAS_THUMB_W, ATLAS_THUMB_H, it->dir, it->stem);
        sbuf_html(&b, title);
        sbuf_printf(&b, "\"><span>%s <em>", it->layer >= 0 ? it->stem : "");
        sbuf_html(&b, class_name(job, it->preferred));
        sbuf_printf(&b, "</em></span></a>\n");
    }
    if (job->item_count) sbuf_printf(&b, "</div></section>\n");
    sbuf_printf(&b, "%s</body></html>\n", SCRIPT);
    char path[4096];
    atlas_path(job, path, sizeof path, NULL, "index", ".html");
    sono_status s = b.failed ? sono_error_set(err, SONO_ERR_MEMORY, "out of memory") : SONO_OK;
    if (s == SONO_OK) s = atlas_write_text(path, b.data, b.len, err);
    sbuf_free(&b);
    return s;
}

sono_status atlas_pages_write(atlas_job *job, sono_error *err) {
    const sono_atlas_options *opt = job->opt;
    char path[4096];
    atlas_path(job, path, sizeof path, NULL, "atlas", ".css");
    sono_status s = atlas_write_text(path, STYLE, strlen(STYLE), err);
    for (int i = 0; s == SONO_OK && i < job->item_count; i++) {
        s = write_item_page(job, i, err);
        if (s == SONO_OK && opt->progress && opt->progress(SONO_ATLAS_PAGES, i + 1, job->item_count + 1, opt->progress_user))
            s = sono_error_set(err, SONO_ERR_INTERRUPTED, "interrupted while writing pages");
    }
    /* The index last, once every page it links to exists. */
    if (s == SONO_OK) s = write_index(job, err);
    if (s == SONO_OK && opt->progress) opt->progress(SONO_ATLAS_PAGES, job->item_count + 1, job->item_count + 1, opt->progress_user);
    return s;
}
