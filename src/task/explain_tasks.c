/* Explanations of a token classifier's entities and of a question-answering
 * model's answer (see verto/explain.h), on explain.c's core. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "task/explain_internal.h"

/* An entity's F: the mean over its pieces of each piece's logit (or
 * probability) of the label it was given. */
static double entity_value(const explain_objective *ob, const float *logits, double weight, float *d) {
    int K = ob->K;
    double F = 0;
    if (d) memset(d, 0, (size_t)ob->T * (size_t)K * sizeof *d);
    for (int32_t i = 0; i < ob->T; i++) {
        int label = ob->labels[i];
        if (label < 0) continue;
        const float *z = logits + (size_t)i * (size_t)K;
        double share = weight / ob->count;
        if (ob->of == VT_EXPLAIN_LOGIT) {
            F += z[label];
            if (d) d[(size_t)i * (size_t)K + (size_t)label] = (float)share;
            continue;
        }
        double p[VT_BERT_MAX_LABELS];
        vt_task_probs(z, 1, K, p);
        F += p[label];
        for (int k = 0; d && k < K; k++) d[(size_t)i * (size_t)K + (size_t)k] = (float)(share * p[label] * ((k == label) - p[k]));
    }
    return F / ob->count;
}

/* An answer's F: the start (which 0) or end (1) logit at its token. The head's
 * outputs are (T, 2), start and end interleaved. */
static double span_value(const explain_objective *ob, const float *logits, double weight, float *d) {
    if (d) {
        memset(d, 0, (size_t)ob->T * 2 * sizeof *d);
        d[2 * ob->target + ob->which] = (float)weight;
    }
    return logits[2 * ob->target + ob->which];
}

/* Integrated gradients or rollout of objective ob over row r, described. */
static vt_status explain_one(vt_task *t, const explain_row *r, const vt_explain_options *o, const explain_objective *ob,
                             vt_explanation *e) {
    vt_status st = explain_alloc(e, r->T);
    if (st == VT_OK)
        st = o->method == VT_EXPLAIN_ROLLOUT ? explain_rollout(t, r, e) : explain_integrated(t, r, o, ob, e);
    return st == VT_OK ? explain_describe(t, r, e) : st;
}

static int argmax(const float *z, int K) {
    int best = 0;
    for (int k = 1; k < K; k++)
        if (z[k] > z[best]) best = k;
    return best;
}

vt_status vt_task_explain_entities(vt_task *t, const vt_text_input *in, const vt_explain_options *opt,
                                   vt_ner_group **groups, size_t *n_groups, vt_explanation **out) {
    *groups = NULL, *n_groups = 0, *out = NULL;
    vt_explain_options o;
    vt_status st = explain_options_for(t, opt, &o);
    if (st != VT_OK) return st;
    if (t->kind != VT_TASK_TOKEN_CLASSIFICATION)
        return vt_error(VT_ERR_INVALID_ARG, "entities are explained for token classification, not %s",
                        vt_task_kind_name(t->kind));
    vt_task_rows rows = {0};
    if ((st = vt_task_encode(t, VT_OUT_TOKENS, in, &rows)) != VT_OK) return st;
    if (rows.truncated) {
        vt_task_rows_free(&rows);
        return vt_error(VT_ERR_INVALID_ARG, "the text is longer than the model's %d tokens; explanations read one window",
                        t->max_len);
    }
    const vt_tok_encoding *enc = &rows.rows[0];
    int32_t T = enc->len, K = t->cfg->num_labels, *buf = NULL;
    float *logits = malloc((size_t)T * (size_t)K * sizeof *logits);
    int32_t *labels = malloc((size_t)T * sizeof *labels);
    explain_row r;
    if (!logits || !labels) st = vt_error(VT_ERR_NOMEM, "out of memory explaining %d tokens", T);
    if (st == VT_OK) st = explain_row_of(enc, in, &r, &buf);
    if (st == VT_OK) st = vt_task_run(t, VT_OUT_TOKENS, &enc, 1, &logits);
    if (st == VT_OK) st = vt_task_entities(t, in, 1, VT_NER_AGG_SIMPLE, groups, n_groups);
    if (st == VT_OK && *n_groups && !(*out = calloc(*n_groups, sizeof **out)))
        st = vt_error(VT_ERR_NOMEM, "out of memory");
    for (size_t g = 0; st == VT_OK && g < *n_groups; g++) {
        const vt_ner_group *grp = &(*groups)[g];
        explain_objective ob = {.value = entity_value, .t = t, .of = o.of, .T = T, .K = K, .labels = labels};
        for (int32_t i = 0; i < T; i++) { /* the entity's pieces: inside its characters */
            bool in_it = !enc->special_mask[i] && r.char_end[i] > r.char_start[i] && r.char_start[i] >= grp->start &&
                         r.char_end[i] <= grp->end;
            labels[i] = in_it ? argmax(logits + (size_t)i * (size_t)K, K) : -1;
            ob.count += in_it;
        }
        if (ob.count == 0) {
            st = vt_error(VT_ERR_STATE, "entity %zu (%d..%d) holds no token", g, grp->start, grp->end);
            break;
        }
        vt_explanation *e = &(*out)[g];
        if ((st = explain_one(t, &r, &o, &ob, e)) != VT_OK) break;
        e->target = -1;
        e->probability = grp->score;
        if (!(e->target_name = strdup(grp->entity_group))) st = vt_error(VT_ERR_NOMEM, "out of memory");
    }
    if (st != VT_OK) {
        for (size_t g = 0; *out && g < *n_groups; g++) vt_explanation_free(&(*out)[g]);
        free(*out);
        vt_ner_groups_free(*groups, *n_groups);
        *out = NULL, *groups = NULL, *n_groups = 0;
    }
    free(logits);
    free(labels);
    free(buf);
    vt_task_rows_free(&rows);
    return st;
}

/* The context tokens holding an answer's first and last characters ([CLS]'s
 * for the null answer). */
static void answer_tokens(const vt_qa_features *f, const vt_qa_answer *a, int32_t *first, int32_t *last) {
    *first = *last = 0;
    if (a->end <= a->start) return;
    int32_t T = vt_qa_feature_len(f, 0);
    bool found = false;
    for (int32_t i = 0; i < T; i++) {
        if (!vt_qa_in_context(f, i) || f->char_end[i] <= a->start || f->char_start[i] >= a->end) continue;
        if (!found) *first = i, found = true;
        *last = i;
    }
}

vt_status vt_task_explain_answer(vt_task *t, const vt_qa_input *in, const vt_explain_options *opt,
                                 vt_qa_answer *answer, vt_explanation out[2]) {
    memset(out, 0, 2 * sizeof *out);
    memset(answer, 0, sizeof *answer);
    vt_explain_options o;
    vt_status st = explain_options_for(t, opt, &o);
    if (st != VT_OK) return st;
    if (t->kind != VT_TASK_QUESTION_ANSWERING)
        return vt_error(VT_ERR_INVALID_ARG, "answers are explained for question answering, not %s",
                        vt_task_kind_name(t->kind));
    if (o.method == VT_EXPLAIN_INTEGRATED_GRADIENTS && o.of == VT_EXPLAIN_PROBABILITY)
        return vt_error(VT_ERR_INVALID_ARG, "an answer's start and end are explained by their logits (--of logit): "
                                            "their probabilities are normalised over the context's tokens only");
    vt_qa_features f;
    vt_qa_features_init(&f);
    if ((st = vt_task_qa_features(t, in, 0, &f)) != VT_OK) {
        vt_qa_features_free(&f);
        return st;
    }
    int32_t T = vt_qa_feature_len(&f, 0);
    float *spans = malloc((size_t)T * 2 * sizeof *spans); /* start logits, then end logits */
    int32_t *special = malloc((size_t)T * sizeof *special);
    if (f.n != 1)
        st = vt_error(VT_ERR_INVALID_ARG, "the context needs %zu windows of the model's %d tokens; explanations read one",
                      f.n, t->max_len);
    else if (!spans || !special)
        st = vt_error(VT_ERR_NOMEM, "out of memory explaining %d tokens", T);
    vt_tok_encoding row = vt_task_qa_row(&f, 0);
    const vt_tok_encoding *rowp = &row;
    if (st == VT_OK) st = vt_task_run(t, VT_OUT_SPAN, &rowp, 1, &spans);
    if (st == VT_OK) st = vt_task_qa_answer(t, &f, 0, 1, in, (const float *const *)&spans, answer);
    for (int32_t i = 0; st == VT_OK && i < T; i++) special[i] = f.seq[i] < 0;
    explain_row r = {.T = T, .ids = f.ids, .types = f.type_ids, .special = special, .seq = f.seq, .word = f.word,
                     .char_start = f.char_start, .char_end = f.char_end, .byte_start = f.byte_start,
                     .byte_end = f.byte_end};
    int32_t at[2];
    if (st == VT_OK) answer_tokens(&f, answer, &at[0], &at[1]);
    for (int which = 0; st == VT_OK && which < 2; which++) {
        explain_objective ob = {.value = span_value, .t = t, .of = o.of, .T = T, .K = 2, .target = at[which],
                                .which = which};
        if ((st = explain_one(t, &r, &o, &ob, &out[which])) != VT_OK) break;
        out[which].target = at[which];
        out[which].probability = answer->score;
        if (!(out[which].target_name = strdup(which ? "end" : "start"))) st = vt_error(VT_ERR_NOMEM, "out of memory");
    }
    if (st != VT_OK) {
        vt_explanation_free(&out[0]);
        vt_explanation_free(&out[1]);
        vt_qa_answers_free(answer, 1);
        memset(answer, 0, sizeof *answer);
    }
    free(spans);
    free(special);
    vt_qa_features_free(&f);
    return st;
}
