/* The page of verto explain --html (see explain_html.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/explain_html.h"
#include "core/strbuf.h"
#include "verto/fileio.h"

static const int POSITIVE[3] = {22, 163, 74}, NEGATIVE[3] = {220, 38, 38};

void cli_attribution_colour(double a, double max_abs, int rgb[3]) {
    double share = max_abs > 0 && isfinite(a) ? 0.8 * fabs(a) / max_abs : 0;
    const int *c = a >= 0 ? POSITIVE : NEGATIVE;
    for (int i = 0; i < 3; i++) rgb[i] = (int)lround(255 + (c[i] - 255) * share);
}

static void escaped(vt_sb *b, const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&': vt_sb_str(b, "&amp;"); break;
        case '<': vt_sb_str(b, "&lt;"); break;
        case '>': vt_sb_str(b, "&gt;"); break;
        case '"': vt_sb_str(b, "&quot;"); break;
        default: vt_sb_add(b, s + i, 1);
        }
    }
}

/* One text of an input (segment seg) with its words in coloured spans. */
static void text_with_words(vt_sb *b, const char *text, size_t len, int seg, const vt_explanation *e, double max_abs) {
    size_t at = 0;
    vt_sb_str(b, "<p class=\"text\">");
    for (int32_t i = 0; i < e->n_words; i++) {
        const vt_explained_word *w = &e->words[i];
        if (w->segment != seg) continue;
        escaped(b, text + at, (size_t)w->byte_start - at);
        int rgb[3];
        cli_attribution_colour(w->attribution, max_abs, rgb);
        vt_sb_printf(b, "<span class=\"w\" style=\"background:rgb(%d,%d,%d)\" title=\"%.4g\" data-attribution=\"%.8g\">",
                     rgb[0], rgb[1], rgb[2], w->attribution, w->attribution);
        escaped(b, text + w->byte_start, (size_t)(w->byte_end - w->byte_start));
        vt_sb_str(b, "</span>");
        at = (size_t)w->byte_end;
    }
    escaped(b, text + at, len - at); /* (what truncation left out, uncoloured) */
    vt_sb_str(b, "</p>\n");
}

vt_status cli_explain_html(const char *path, const vt_task *t, const vt_text_input *in, const vt_explanation *e,
                           size_t n, const vt_explain_options *o) {
    const vt_bert_config *c = vt_task_config(t);
    vt_sb b = {0};
    vt_sb_str(&b, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>verto explain</title>\n"
                  "<style>body{font:18px/1.7 system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;"
                  "color:#1f2937;background:#fff}h1{font-size:1.4em}h2{font-size:1.05em;margin:0 0 .3em}"
                  "section{border-top:1px solid #e5e7eb;padding:1em 0}.w{border-radius:3px;padding:1px 0}"
                  ".meta{color:#6b7280;font-size:.8em}.text{white-space:pre-wrap;margin:.2em 0}</style></head>\n<body>\n"
                  "<h1>Which words moved the model</h1>\n<p class=\"meta\">");
    int pos[3], neg[3];
    cli_attribution_colour(1, 1, pos);
    cli_attribution_colour(-1, 1, neg);
    vt_sb_printf(&b, "Words on <span class=\"w\" style=\"background:rgb(%d,%d,%d)\">green</span> pushed towards the "
                     "label explained, words on <span class=\"w\" style=\"background:rgb(%d,%d,%d)\">red</span> "
                     "against it; the stronger the colour, the larger the word's share in its input. ",
                 pos[0], pos[1], pos[2], neg[0], neg[1], neg[2]);
    if (o->method == VT_EXPLAIN_ROLLOUT)
        vt_sb_str(&b, "Method: attention rollout.");
    else
        vt_sb_printf(&b, "Method: integrated gradients of the label's %s, %d steps (%s).",
                     o->of == VT_EXPLAIN_LOGIT ? "logit" : "probability", o->steps, vt_ig_rule_name(o->rule));
    vt_sb_str(&b, "</p>\n");
    for (size_t i = 0; i < n; i++) {
        double max_abs = 0;
        for (int32_t w = 0; w < e[i].n_words; w++)
            if (isfinite(e[i].words[w].attribution)) max_abs = fmax(max_abs, fabs(e[i].words[w].attribution));
        vt_sb_printf(&b, "<section><h2>Input %zu: ", i + 1);
        escaped(&b, c->id2label[e[i].target], strlen(c->id2label[e[i].target]));
        vt_sb_printf(&b, " (score %.4g)</h2>\n", e[i].probability);
        text_with_words(&b, in[i].text, in[i].text_len, 0, &e[i], max_abs);
        if (in[i].text_b) text_with_words(&b, in[i].text_b, in[i].text_b_len, 1, &e[i], max_abs);
        if (o->method == VT_EXPLAIN_INTEGRATED_GRADIENTS)
            vt_sb_printf(&b, "<p class=\"meta\">F(input) %.4g, F(baseline) %.4g, completeness delta %.3g%s</p>\n",
                         e[i].output, e[i].baseline_output, e[i].delta,
                         e[i].delta_flagged ? " (above the tolerance: more steps would tighten it)" : "");
        vt_sb_str(&b, "</section>\n");
    }
    vt_sb_str(&b, "</body></html>\n");
    size_t len;
    char *page = vt_sb_take(&b, &len);
    if (!page) return vt_error(VT_ERR_NOMEM, "out of memory for %s", path);
    vt_status st = vt_write_file_atomic(path, page, len);
    free(page);
    return st;
}
