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

vt_status vt_task_explain_entities_json(vt_task *t, const vt_text_input *in, const vt_explain_options *o, char **out) {
    vt_ner_group *groups;
    size_t n;
    vt_explanation *e;
    vt_status st = vt_task_explain_entities(t, in, o, &groups, &n, &e);
    if (st != VT_OK) return st;
    vt_sb b = {0};
    vt_sb_str(&b, "[");
    for (size_t g = 0; st == VT_OK && g < n; g++) { /* each entity's object, its explanation added */
        char *one = NULL, *json = NULL;
        if ((st = vt_task_entities_json(&groups[g], 1, VT_NER_AGG_SIMPLE, &one)) == VT_OK &&
            (st = vt_explanation_json(t, in, o, &e[g], &json)) == VT_OK) {
            vt_sb_str(&b, g ? ", " : "");
            vt_sb_add(&b, one + 1, strlen(one) - 3); /* "[{...}]" without "[" and "}]" */
            vt_sb_printf(&b, ", \"explanation\": %s}", json);
        }
        free(one), free(json);
    }
    vt_sb_str(&b, "]");
    *out = vt_sb_take(&b, NULL);
    if (st == VT_OK && !*out) st = vt_error(VT_ERR_NOMEM, "out of memory for an explanation");
    if (st != VT_OK) free(*out), *out = NULL;
    for (size_t g = 0; g < n; g++) vt_explanation_free(&e[g]);
    free(e);
    vt_ner_groups_free(groups, n);
    return st;
}

vt_status vt_task_explain_answer_json(vt_task *t, const vt_qa_input *q, const vt_explain_options *o, char **out) {
    vt_qa_answer a;
    vt_explanation e[2];
    *out = NULL;
    vt_status st = vt_task_explain_answer(t, q, o, &a, e);
    if (st != VT_OK) return st;
    vt_text_input texts = {q->question, q->question_len, q->context, q->context_len}; /* segments 0 and 1 */
    char *answer = NULL, *start = NULL, *end = NULL;
    if ((st = vt_task_qa_answer_json(&a, &answer)) == VT_OK &&
        (st = vt_explanation_json(t, &texts, o, &e[0], &start)) == VT_OK &&
        (st = vt_explanation_json(t, &texts, o, &e[1], &end)) == VT_OK) {
        vt_sb b = {0};
        vt_sb_printf(&b, "{%s, \"start_explanation\": %s, \"end_explanation\": %s}", answer, start, end);
        if (!(*out = vt_sb_take(&b, NULL))) st = vt_error(VT_ERR_NOMEM, "out of memory for an explanation");
    }
    free(answer), free(start), free(end);
    vt_explanation_free(&e[0]);
    vt_explanation_free(&e[1]);
    vt_qa_answers_free(&a, 1);
    return st;
}
