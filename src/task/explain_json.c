/* An explanation as JSON (verto explain's lines, /v1/explain's body). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/strbuf.h"
#include "task/task_internal.h"
#include "verto/explain.h"

/* A number, or null where it is not finite (JSON has no NaN). */
static void number(vt_sb *b, double x) {
    if (isfinite(x)) vt_sb_printf(b, "%.8g", x);
    else vt_sb_str(b, "null");
}

static void slice_string(vt_sb *b, const char *s, size_t len) {
    char *copy = strndup(s, len);
    if (!copy) {
        b->failed = true;
        return;
    }
    vt_sb_json_string(b, copy);
    free(copy);
}

vt_status vt_explanation_json(const vt_task *t, const vt_text_input *in, const vt_explain_options *o,
                              const vt_explanation *e, char **out) {
    vt_explain_method method = o ? o->method : VT_EXPLAIN_INTEGRATED_GRADIENTS;
    vt_sb b = {0};
    vt_sb_str(&b, "{\"target\": ");
    vt_sb_json_string(&b, e->target_name ? e->target_name : "");
    vt_sb_printf(&b, ", \"target_id\": %d, \"probability\": ", e->target);
    number(&b, e->probability);
    vt_sb_str(&b, ", \"method\": ");
    vt_sb_json_string(&b, vt_explain_method_name(method));
    vt_sb_str(&b, ", \"pieces\": [");
    for (int32_t i = 0; i < e->n_pieces; i++) {
        if (i) vt_sb_str(&b, ", ");
        vt_sb_json_string(&b, e->pieces[i]);
    }
    vt_sb_str(&b, "], \"attributions\": [");
    for (int32_t i = 0; i < e->n_pieces; i++) {
        if (i) vt_sb_str(&b, ", ");
        number(&b, e->attributions[i]);
    }
    vt_sb_str(&b, "], \"words\": [");
    for (int32_t i = 0; i < e->n_words; i++) {
        const vt_explained_word *w = &e->words[i];
        const char *text = w->segment ? in->text_b : in->text;
        vt_sb_str(&b, i ? ", {\"text\": " : "{\"text\": ");
        slice_string(&b, text + w->byte_start, (size_t)(w->byte_end - w->byte_start));
        vt_sb_printf(&b, ", \"start\": %d, \"end\": %d, \"segment\": %d, \"attribution\": ", w->start, w->end,
                     w->segment);
        number(&b, w->attribution);
        vt_sb_str(&b, "}");
    }
    vt_sb_str(&b, "]");
    if (method == VT_EXPLAIN_INTEGRATED_GRADIENTS) {
        vt_sb_str(&b, ", \"output\": ");
        number(&b, e->output);
        vt_sb_str(&b, ", \"baseline_output\": ");
        number(&b, e->baseline_output);
        vt_sb_str(&b, ", \"delta\": ");
        number(&b, e->delta);
        vt_sb_printf(&b, ", \"delta_flagged\": %s", e->delta_flagged ? "true" : "false");
    }
    vt_sb_str(&b, "}");
    if (!(*out = vt_sb_take(&b, NULL))) return vt_error(VT_ERR_NOMEM, "out of memory for an explanation");
    return VT_OK;
}
