/* Question answering features, as transformers' run_qa.py prepares them:
 * question + a window of the context per feature, training labels or the
 * offsets that map logits back to text (see verto/squad.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "eval/py_text.h"
#include "text/utf8.h"
#include "verto/squad.h"

void vt_qa_options_default(vt_qa_options *o) {
    memset(o, 0, sizeof *o);
    o->max_length = 384;
    o->doc_stride = 128;
}

void vt_qa_options_pipeline(vt_qa_options *o, int32_t model_max_length) {
    vt_qa_options_default(o);
    if (model_max_length > 0 && model_max_length < o->max_length) o->max_length = model_max_length;
    o->doc_stride = o->max_length / 2 < 128 ? o->max_length / 2 : 128;
    o->keep_question_space = true;
}

void vt_qa_features_init(vt_qa_features *f) {
    memset(f, 0, sizeof *f);
    f->cls_id = -1;
}

void vt_qa_features_free(vt_qa_features *f) {
    if (!f) return;
    free(f->first);
    free(f->example);
    free(f->start_position);
    free(f->end_position);
    free(f->ids);
    free(f->type_ids);
    free(f->seq);
    free(f->word);
    free(f->char_start);
    free(f->char_end);
    free(f->byte_start);
    free(f->byte_end);
    vt_qa_features_init(f);
}

/* Room for `feats` more features and `rows` more token rows. */
static vt_status reserve(vt_qa_features *f, size_t feats, size_t rows) {
    size_t need = f->n + feats + 1;
    if (need > f->cap) {
        size_t cap = f->cap ? f->cap : 256;
        while (cap < need) cap *= 2;
        int64_t *first = realloc(f->first, cap * sizeof *first);
        if (first) f->first = first;
        int32_t *ex = first ? realloc(f->example, cap * sizeof *ex) : NULL;
        if (ex) f->example = ex;
        if (!ex) return vt_error(VT_ERR_NOMEM, "out of memory for %zu features", cap);
        if (f->train) {
            int32_t *s = realloc(f->start_position, cap * sizeof *s);
            if (s) f->start_position = s;
            int32_t *e = s ? realloc(f->end_position, cap * sizeof *e) : NULL;
            if (!e) return vt_error(VT_ERR_NOMEM, "out of memory for %zu features", cap);
            f->end_position = e;
        }
        if (f->cap == 0) f->first[0] = 0;
        f->cap = cap;
    }
    size_t rows_need = (size_t)f->first[f->n] + rows;
    if (rows_need > f->rows_cap) {
        size_t cap = f->rows_cap ? f->rows_cap : 4096;
        while (cap < rows_need) cap *= 2;
        int32_t **arrs[] = {&f->ids, &f->type_ids, &f->seq, &f->word, &f->char_start, &f->char_end, &f->byte_start,
                            &f->byte_end};
        size_t n_arrs = f->train ? 3 : sizeof arrs / sizeof *arrs; /* training features keep no offsets */
        for (size_t k = 0; k < n_arrs; k++) {
            int32_t *p = realloc(*arrs[k], cap * sizeof *p);
            if (!p) return vt_error(VT_ERR_NOMEM, "out of memory for %zu feature tokens", cap);
            *arrs[k] = p;
        }
        f->rows_cap = cap;
    }
    return VT_OK;
}

/* The character offsets of window e's tokens of sequence k (text s, len
 * bytes) into cs / ce; other tokens are left alone. */
static void char_offsets(const vt_tok_encoding *e, int k, const char *s, size_t len, int32_t *tmp, int32_t *cs,
                         int32_t *ce) {
    int32_t m = 0;
    for (int32_t i = 0; i < e->len; i++)
        if (e->seq[i] == k) {
            tmp[2 * m] = e->offsets[2 * i];
            tmp[2 * m + 1] = e->offsets[2 * i + 1];
            m++;
        }
    vt_tok_offsets_to_chars(s, len, tmp, (size_t)2 * (size_t)m);
    m = 0;
    for (int32_t i = 0; i < e->len; i++)
        if (e->seq[i] == k) {
            cs[i] = tmp[2 * m];
            ce[i] = tmp[2 * m + 1];
            m++;
        }
}

/* run_qa's prepare_train_features labels of one window: cs / ce are the
 * character offsets of every token in its own input, (0, 0) for special ones. */
static void train_labels(const vt_tok_encoding *e, const int32_t *cs, const int32_t *ce, int ctx, int32_t cls_id,
                         const vt_squad_answer *ans, int32_t *start, int32_t *end) {
    int32_t n = e->len, cls = 0;
    for (int32_t i = 0; i < n; i++)
        if (e->ids[i] == cls_id) {
            cls = i;
            break;
        }
    *start = *end = cls;
    if (!ans) return;
    int64_t start_char = ans->start, end_char = ans->start + ans->char_len;
    int32_t ts = 0, te = n - 1;
    while (ts < n && e->seq[ts] != ctx) ts++;
    while (te >= 0 && e->seq[te] != ctx) te--;
    if (ts >= n) return; /* no context token (an empty context) */
    if (!(cs[ts] <= start_char && ce[te] >= end_char)) return; /* not wholly inside the window */
    /* as run_qa: the search runs on past the context (special tokens are (0, 0)) */
    while (ts < n && cs[ts] <= start_char) ts++;
    *start = ts - 1;
    while (te >= 0 && ce[te] >= end_char) te--;
    *end = te + 1;
}

/* Python's str.lstrip(): the question without its leading whitespace. */
static const char *lstrip(const char *s, size_t *len) {
    size_t i = 0;
    while (i < *len) {
        int adv;
        int32_t cp = vt_utf8_decode((const unsigned char *)s + i, *len - i, &adv);
        if (!(vt_py_flags(cp) & VT_PY_SPACE)) break;
        i += (size_t)adv;
    }
    *len -= i;
    return s + i;
}

/* Appends one question's features. ans: its first answer (training), NULL
 * when it has none; `id` names it in errors. */
static vt_status add_one(const vt_tokenizer *t, const char *q, size_t qlen, const char *c, size_t clen, int32_t example,
                         const vt_qa_options *o, const vt_squad_answer *ans, const char *id, vt_qa_features *f,
                         vt_tok_windows *w, int32_t **scratch, size_t *scratch_cap) {
    if (!o->keep_question_space) q = lstrip(q, &qlen);
    int ctx = o->context_first ? 0 : 1;
    const char *text[2] = {o->context_first ? c : q, o->context_first ? q : c};
    size_t len[2] = {o->context_first ? clen : qlen, o->context_first ? qlen : clen};
    vt_status st = vt_tok_encode_overflow(t, text[0], len[0], text[1], len[1], ctx, o->max_length, o->doc_stride, w);
    if (st != VT_OK) {
        char msg[400];
        snprintf(msg, sizeof msg, "%s", vt_last_error());
        return vt_error(st, "question %s: %s", id, msg);
    }
    size_t rows = 0;
    for (int32_t j = 0; j < w->n; j++) rows += (size_t)w->enc[j].len;
    if ((st = reserve(f, (size_t)w->n, rows)) != VT_OK) return st;
    for (int32_t j = 0; j < w->n; j++) {
        const vt_tok_encoding *e = &w->enc[j];
        size_t need = (size_t)e->len * 4; /* tmp (2 len) + cs + ce */
        if (need > *scratch_cap) {
            int32_t *s = realloc(*scratch, need * sizeof *s);
            if (!s) return vt_error(VT_ERR_NOMEM, "out of memory for a feature");
            *scratch = s;
            *scratch_cap = need;
        }
        int32_t *tmp = *scratch, *cs = tmp + 2 * e->len, *ce = cs + e->len;
        for (int32_t i = 0; i < e->len; i++) cs[i] = ce[i] = 0;
        for (int k = 0; k < 2; k++) char_offsets(e, k, text[k], len[k], tmp, cs, ce);
        size_t r0 = (size_t)f->first[f->n];
        memcpy(f->ids + r0, e->ids, (size_t)e->len * sizeof *e->ids);
        memcpy(f->type_ids + r0, e->type_ids, (size_t)e->len * sizeof *e->type_ids);
        memcpy(f->seq + r0, e->seq, (size_t)e->len * sizeof *e->seq);
        if (f->train) {
            train_labels(e, cs, ce, ctx, f->cls_id, ans, &f->start_position[f->n], &f->end_position[f->n]);
        } else {
            memcpy(f->word + r0, e->word_ids, (size_t)e->len * sizeof *e->word_ids);
            memcpy(f->char_start + r0, cs, (size_t)e->len * sizeof *cs);
            memcpy(f->char_end + r0, ce, (size_t)e->len * sizeof *ce);
            for (int32_t i = 0; i < e->len; i++) {
                f->byte_start[r0 + (size_t)i] = e->offsets[2 * i];
                f->byte_end[r0 + (size_t)i] = e->offsets[2 * i + 1];
            }
        }
        f->example[f->n] = example;
        f->first[f->n + 1] = (int64_t)(r0 + (size_t)e->len);
        f->n++;
    }
    return VT_OK;
}

/* Sets up f for features of this kind, or refuses a mix. */
static vt_status begin(const vt_tokenizer *t, const vt_qa_options *o, bool train, vt_qa_features *f) {
    if (!t || !f) return vt_error(VT_ERR_INVALID_ARG, "question answering features: NULL argument");
    if (o->max_length < 1 || o->doc_stride < 0)
        return vt_error(VT_ERR_INVALID_ARG, "question answering features: max_length %d and doc_stride %d (need >= 1 and >= 0)",
                        o->max_length, o->doc_stride);
    if (f->cap && (f->train != train || f->context_first != o->context_first))
        return vt_error(VT_ERR_INVALID_ARG, "question answering features: %s features cannot join %s ones",
                        train ? "training" : "evaluation", f->train ? "training" : "evaluation");
    f->train = train;
    f->context_first = o->context_first;
    f->cls_id = vt_tok_special_ids(t).cls;
    return VT_OK;
}

vt_status vt_qa_features_add(const vt_tokenizer *t, const char *question, size_t qlen, const char *context,
                             size_t clen, int32_t example, const vt_qa_options *opt, vt_qa_features *f) {
    vt_qa_options def;
    vt_qa_options_default(&def);
    const vt_qa_options *o = opt ? opt : &def;
    vt_status st = begin(t, o, false, f);
    if (st != VT_OK) return st;
    if ((!question && qlen) || (!context && clen))
        return vt_error(VT_ERR_INVALID_ARG, "question answering features: NULL text");
    vt_tok_windows w = {0};
    int32_t *scratch = NULL;
    size_t scap = 0;
    char id[32];
    snprintf(id, sizeof id, "%d", example);
    st = add_one(t, question ? question : "", qlen, context ? context : "", clen, example, o, NULL, id, f, &w,
                 &scratch, &scap);
    free(scratch);
    vt_tok_windows_free(&w);
    return st;
}

vt_status vt_qa_features_build(const vt_tokenizer *t, const vt_squad *d, const vt_qa_options *opt, bool train,
                               vt_qa_features *out) {
    vt_qa_options def;
    vt_qa_options_default(&def);
    const vt_qa_options *o = opt ? opt : &def;
    vt_status st = begin(t, o, train, out);
    if (st != VT_OK) return st;
    if (!d) return vt_error(VT_ERR_INVALID_ARG, "question answering features: NULL data");
    if (d->n > INT32_MAX) return vt_error(VT_ERR_INVALID_ARG, "question answering features: more than 2^31 questions");
    vt_tok_windows w = {0};
    int32_t *scratch = NULL;
    size_t scap = 0;
    for (size_t i = 0; i < d->n && st == VT_OK; i++) {
        const vt_squad_example *ex = &d->ex[i];
        size_t clen;
        const char *ctx = vt_squad_context(d, i, &clen);
        const vt_squad_answer *ans = ex->n_answers ? &d->answers[ex->first_answer] : NULL;
        char id[80], shown[64];
        snprintf(id, sizeof id, "'%s'", vt_utf8_printable(ex->id, shown, sizeof shown));
        st = add_one(t, ex->question, ex->question_len, ctx, clen, (int32_t)i, o, ans, id, out, &w, &scratch, &scap);
    }
    free(scratch);
    vt_tok_windows_free(&w);
    return st;
}
