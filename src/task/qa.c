/* Question answering through the task layer: the recorded settings, a
 * question's features as rows, the pipeline's answer (predict, serve) and
 * run_qa's evaluation (eval, fine-tuning's dev figures). See verto/task.h. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "core/strbuf.h"
#include "task/task_internal.h"
#include "verto/fileio.h"

enum { DEFAULT_MAX_ANSWER_LENGTH = 30 };

/* The pipeline's doc_stride when none is recorded: min(max_length / 2, 128). */
static int32_t default_stride(int32_t max_len) { return max_len / 2 < 128 ? max_len / 2 : 128; }

/* An integer member of tokenizer_config.json in [lo, hi], or absent. */
static vt_status int_member(const cJSON *root, const char *path, const char *key, int32_t lo, int32_t hi, int32_t *out) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
    if (!v) return VT_OK;
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble) || v->valuedouble < lo || v->valuedouble > hi)
        return vt_error(VT_ERR_FORMAT, "%s: %s must be a whole number in [%d, %d]", path, key, lo, hi);
    *out = (int32_t)v->valuedouble;
    return VT_OK;
}

vt_status task_read_qa_settings(const char *dir, vt_task *t) {
    t->qa = (vt_qa_task_settings){.doc_stride = default_stride(t->max_len), .max_answer_length = DEFAULT_MAX_ANSWER_LENGTH};
    char path[4096];
    if (snprintf(path, sizeof path, "%s/tokenizer_config.json", dir) >= (int)sizeof path)
        return vt_error(VT_ERR_INVALID_ARG, "model directory name too long: %s", dir);
    FILE *probe = fopen(path, "rb");
    if (!probe) return VT_OK; /* no file: the defaults */
    fclose(probe);
    char *text = NULL;
    size_t len = 0;
    vt_status st = vt_read_file(path, 1u << 24, &text, &len);
    if (st != VT_OK) return st;
    const char *why = NULL;
    size_t at = 0;
    cJSON *root = vt_json_parse(text, len, &why, &at);
    free(text);
    if (!root) return vt_error(VT_ERR_FORMAT, "%s: %s at byte %zu", path, why, at);
    st = int_member(root, path, "doc_stride", 0, 1 << 20, &t->qa.doc_stride);
    if (st == VT_OK) st = int_member(root, path, "max_answer_length", 1, 1 << 20, &t->qa.max_answer_length);
    const cJSON *v2 = cJSON_GetObjectItemCaseSensitive(root, "version_2_with_negative");
    if (st == VT_OK && v2 && !cJSON_IsBool(v2))
        st = vt_error(VT_ERR_FORMAT, "%s: version_2_with_negative must be true or false", path);
    else if (st == VT_OK && v2) t->qa.version_2_with_negative = cJSON_IsTrue(v2);
    cJSON_Delete(root);
    return st;
}

vt_qa_task_settings vt_task_qa_settings(const vt_task *t) { return t->qa; }

/* The feature options of t: the pipeline's (question as given) or run_qa's (lstripped). */
static vt_qa_options feature_options(const vt_task *t, bool pipeline) {
    vt_qa_options o;
    vt_qa_options_default(&o);
    o.max_length = t->max_len;
    o.doc_stride = t->qa.doc_stride;
    o.keep_question_space = pipeline;
    return o;
}

vt_status vt_task_qa_features(const vt_task *t, const vt_qa_input *in, int32_t example, vt_qa_features *f) {
    vt_qa_options o = feature_options(t, true);
    return vt_qa_features_add(t->tok, in->question, in->question_len, in->context, in->context_len, example, &o, f);
}

vt_tok_encoding vt_task_qa_row(const vt_qa_features *f, size_t i) {
    vt_tok_encoding e = {0};
    e.len = vt_qa_feature_len(f, i);
    e.ids = f->ids + f->first[i];
    e.type_ids = f->type_ids + f->first[i];
    return e;
}

/* Runs every feature of f as a VT_OUT_SPAN row: out[i] (malloc'd, 2 * len,
 * free each and the array with free_outputs) for feature i. */
static vt_status run_features(vt_task *t, const vt_qa_features *f, float ***outp) {
    size_t n = f->n;
    vt_tok_encoding *views = malloc((n ? n : 1) * sizeof *views);
    const vt_tok_encoding **rows = malloc((n ? n : 1) * sizeof *rows);
    float **out = *outp = calloc(n ? n : 1, sizeof *out);
    vt_status st = views && rows && out ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory for %zu features", n);
    for (size_t i = 0; st == VT_OK && i < n; i++) {
        views[i] = vt_task_qa_row(f, i);
        rows[i] = &views[i];
        if (!(out[i] = malloc(2 * (size_t)views[i].len * sizeof **out)))
            st = vt_error(VT_ERR_NOMEM, "out of memory for %zu features", n);
    }
    if (st == VT_OK) st = vt_task_run(t, VT_OUT_SPAN, rows, n, out);
    free(rows);
    free(views);
    return st;
}

static void free_outputs(float **out, size_t n) {
    for (size_t i = 0; out && i < n; i++) free(out[i]);
    free(out);
}

vt_status task_run_qa_features(vt_task *t, const vt_qa_features *f, float *start, float *end) {
    float **out = NULL;
    vt_status st = run_features(t, f, &out);
    for (size_t i = 0; st == VT_OK && i < f->n; i++) { /* (2, len) per row into the packed arrays */
        size_t len = (size_t)vt_qa_feature_len(f, i);
        memcpy(start + f->first[i], out[i], len * sizeof *start);
        memcpy(end + f->first[i], out[i] + len, len * sizeof *end);
    }
    free_outputs(out, f->n);
    return st;
}

vt_status vt_task_qa_answer(const vt_task *t, const vt_qa_features *f, size_t first, size_t count,
                            const vt_qa_input *in, const float *const *out, vt_qa_answer *answer) {
    memset(answer, 0, sizeof *answer);
    if (t->kind != VT_TASK_QUESTION_ANSWERING)
        return vt_error(VT_ERR_INVALID_ARG, "this model is not a question-answering model");
    if (first > f->n || count > f->n - first)
        return vt_error(VT_ERR_INVALID_ARG, "vt_task_qa_answer: features [%zu, %zu) of %zu", first, first + count, f->n);
    size_t rows = count ? (size_t)(f->first[first + count] - f->first[first]) : 0;
    float *start = malloc((rows ? rows : 1) * sizeof *start), *end = malloc((rows ? rows : 1) * sizeof *end);
    if (!start || !end) {
        free(start), free(end);
        return vt_error(VT_ERR_NOMEM, "out of memory for an answer");
    }
    for (size_t j = 0, at = 0; j < count; j++) { /* each row's (2, len) packed after the previous one's */
        size_t len = (size_t)vt_qa_feature_len(f, first + j);
        memcpy(start + at, out[j], len * sizeof *start);
        memcpy(end + at, out[j] + len, len * sizeof *end);
        at += len;
    }
    vt_qa_pipeline_options po;
    vt_qa_pipeline_options_default(&po);
    po.max_answer_len = t->qa.max_answer_length;
    po.handle_impossible_answer = t->qa.version_2_with_negative;
    int32_t n = 0;
    vt_status st = vt_qa_pipeline_answer(f, first, count, in->context, in->context_len, start, end, 0, &po, answer, &n);
    free(start), free(end);
    if (st == VT_OK && n == 0 && !(answer->answer = calloc(1, 1))) /* no span: "" at 0 */
        st = vt_error(VT_ERR_NOMEM, "out of memory for an answer");
    return st;
}

vt_status vt_task_answer_questions(vt_task *t, const vt_qa_input *in, size_t n, vt_qa_answer *answers) {
    if (t->kind != VT_TASK_QUESTION_ANSWERING)
        return vt_error(VT_ERR_INVALID_ARG, "this model is not a question-answering model");
    memset(answers, 0, n * sizeof *answers);
    vt_qa_features f;
    vt_qa_features_init(&f);
    size_t *first = malloc((n + 1) * sizeof *first); /* question i's features are [first[i], first[i + 1]) */
    vt_status st = first ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory for %zu questions", n);
    for (size_t i = 0; st == VT_OK && i < n; i++) {
        first[i] = f.n;
        if ((st = vt_task_qa_features(t, &in[i], (int32_t)i, &f)) != VT_OK)
            st = vt_error(st, "question %zu: %s", i + 1, vt_last_error());
    }
    if (st == VT_OK) first[n] = f.n;
    float **out = NULL;
    if (st == VT_OK) st = run_features(t, &f, &out);
    for (size_t i = 0; st == VT_OK && i < n; i++)
        st = vt_task_qa_answer(t, &f, first[i], first[i + 1] - first[i], &in[i], (const float *const *)out + first[i],
                               &answers[i]);
    if (st != VT_OK)
        for (size_t i = 0; i < n; i++) vt_qa_answers_free(&answers[i], 1), memset(&answers[i], 0, sizeof answers[i]);
    free_outputs(out, f.n);
    free(first);
    vt_qa_features_free(&f);
    return st;
}

vt_status vt_task_qa_answer_json(const vt_qa_answer *a, char **out) {
    vt_sb b = {0};
    vt_sb_str(&b, "\"answer\": ");
    vt_sb_json_string(&b, a->answer ? a->answer : "");
    vt_sb_printf(&b, ", \"score\": %.8g, \"start\": %d, \"end\": %d", a->score, a->start, a->end);
    if (!(*out = vt_sb_take(&b, NULL))) return vt_error(VT_ERR_NOMEM, "out of memory for an answer");
    return VT_OK;
}

void vt_qa_eval_options_default(vt_qa_eval_options *o) {
    *o = (vt_qa_eval_options){.n_best_size = 20, .max_answer_length = 0, .null_score_diff_threshold = 0.0};
}

vt_status vt_task_evaluate_qa(vt_task *t, const vt_squad *d, const vt_qa_eval_options *opt, vt_qa_predictions *pred,
                              vt_squad_scores *scores) {
    if (t->kind != VT_TASK_QUESTION_ANSWERING)
        return vt_error(VT_ERR_INVALID_ARG, "this model is not a question-answering model");
    vt_qa_eval_options o;
    if (opt) o = *opt;
    else vt_qa_eval_options_default(&o);
    if (pred) memset(pred, 0, sizeof *pred);
    vt_qa_options fo = feature_options(t, false);
    vt_qa_features f;
    vt_qa_features_init(&f);
    vt_status st = vt_qa_features_build(t->tok, d, &fo, false, &f);
    size_t rows = (size_t)(st == VT_OK && f.n ? f.first[f.n] : 0);
    float *start = malloc((rows ? rows : 1) * sizeof *start), *end = malloc((rows ? rows : 1) * sizeof *end);
    if (st == VT_OK && (!start || !end)) st = vt_error(VT_ERR_NOMEM, "out of memory for %zu features", f.n);
    if (st == VT_OK) st = task_run_qa_features(t, &f, start, end);
    vt_qa_post_options po;
    vt_qa_post_options_default(&po);
    po.version_2_with_negative = d->version == 2;
    po.n_best_size = o.n_best_size;
    po.max_answer_length = o.max_answer_length > 0 ? o.max_answer_length : t->qa.max_answer_length;
    po.null_score_diff_threshold = o.null_score_diff_threshold;
    vt_qa_predictions p = {0};
    if (st == VT_OK) st = vt_qa_postprocess(d, &f, start, end, 0, &po, &p);
    const char **texts = st == VT_OK ? malloc((d->n ? d->n : 1) * sizeof *texts) : NULL;
    if (st == VT_OK && !texts) st = vt_error(VT_ERR_NOMEM, "out of memory for %zu predictions", d->n);
    for (size_t i = 0; st == VT_OK && i < d->n; i++) texts[i] = p.p[i].text;
    if (st == VT_OK) st = vt_squad_evaluate(d, texts, NULL, NULL, NULL, NULL, scores);
    free(texts), free(start), free(end);
    vt_qa_features_free(&f);
    if (st == VT_OK && pred) *pred = p;
    else vt_qa_predictions_free(&p);
    return st;
}
