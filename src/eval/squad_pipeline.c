/* The question-answering pipeline's answers: transformers'
 * QuestionAnsweringPipeline.postprocess with select_starts_ends and
 * decode_spans (see verto/squad.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "eval/py_text.h"
#include "text/utf8.h"
#include "verto/squad.h"

void vt_qa_pipeline_options_default(vt_qa_pipeline_options *o) {
    memset(o, 0, sizeof *o);
    o->top_k = 1;
    o->max_answer_len = 15;
    o->align_to_words = true;
}

void vt_qa_answers_free(vt_qa_answer *a, int32_t n) {
    for (int32_t i = 0; a && i < n; i++) {
        free(a[i].answer);
        a[i].answer = NULL;
    }
}

/* A span: tokens [s, e] of a feature, its score p_start[s] * p_end[e]. */
typedef struct span {
    float score;
    int32_t s, e;
} span;

/* decode_spans' order: higher score first, equal ones in row-major order. */
static bool span_before(const span *a, const span *b) {
    if (a->score != b->score) return a->score > b->score;
    return a->s != b->s ? a->s < b->s : a->e < b->e;
}

static int span_cmp(const void *a, const void *b) {
    return span_before(a, b) ? -1 : span_before(b, a) ? 1 : 0;
}

/* An answer being collected, with its text lowercased for the merging. */
typedef struct found {
    vt_qa_answer a;
    vt_py_str lower;
    int64_t order;
} found;

typedef struct pipe_work {
    float *ps, *pe;        /* (len) probabilities */
    span *spans;
    size_t n_spans, spans_cap;
    found *ans;
    size_t n_ans, ans_cap;
    vt_py_str tmp, tmp_lower;
    size_t *byte_at;       /* (chars + 1) where each character of the context starts */
    size_t nchars;
} pipe_work;

/* Softmax of the masked logits as float32, the way numpy computes it. */
static void softmax(const float *x, const bool *desired, int32_t n, float *p) {
    float m = -INFINITY;
    for (int32_t i = 0; i < n; i++) {
        p[i] = desired[i] ? x[i] : -10000.0f;
        if (p[i] > m) m = p[i];
    }
    double sum = 0;
    for (int32_t i = 0; i < n; i++) sum += p[i] = expf(p[i] - m);
    float s = (float)sum;
    for (int32_t i = 0; i < n; i++) p[i] /= s;
}

static vt_status push_span(pipe_work *w, span sp) {
    if (w->n_spans == w->spans_cap) {
        size_t cap = w->spans_cap ? 2 * w->spans_cap : 1024;
        span *p = realloc(w->spans, cap * sizeof *p);
        if (!p) return vt_error(VT_ERR_NOMEM, "out of memory choosing answer spans");
        w->spans = p;
        w->spans_cap = cap;
    }
    w->spans[w->n_spans++] = sp;
    return VT_OK;
}

/* decode_spans: the topk best spans of the (len, len) score matrix (zero
 * outside start <= end < start + max_len), best first. */
static vt_status best_spans(pipe_work *w, int32_t len, int32_t max_len, int32_t topk) {
    w->n_spans = 0;
    vt_status st = VT_OK;
    for (int32_t s = 0; s < len && st == VT_OK; s++)
        for (int32_t e = s; e < len && e - s < max_len && st == VT_OK; e++) {
            float v = w->ps[s] * w->pe[e];
            if (v > 0) st = push_span(w, (span){v, s, e});
        }
    if (st != VT_OK) return st;
    qsort(w->spans, w->n_spans, sizeof *w->spans, span_cmp);
    if (w->n_spans > (size_t)topk) w->n_spans = (size_t)topk;
    /* fewer spans than wanted: the zeros follow, in row-major order */
    for (int64_t k = 0; w->n_spans < (size_t)topk && k < (int64_t)len * len && st == VT_OK; k++) {
        int32_t s = (int32_t)(k / len), e = (int32_t)(k % len);
        if (e >= s && e - s < max_len && w->ps[s] * w->pe[e] > 0) continue;
        st = push_span(w, (span){0.0f, s, e});
    }
    return st;
}

/* tokenizers' word_to_chars(word, sequence): the characters from the first
 * token of that word in that sequence to its last (take_while word <= w);
 * false when the word has no token there. */
static bool word_chars(const vt_qa_features *f, int64_t r0, int32_t len, int seq, int32_t word, int32_t *a, int32_t *b) {
    int32_t first = -1, last = -1;
    for (int32_t t = 0; t < len; t++) {
        if (f->seq[r0 + t] != seq) continue;
        if (f->word[r0 + t] > word) break;
        if (f->word[r0 + t] == word) {
            if (first < 0) first = t;
            last = t;
        }
    }
    if (first < 0) return false;
    *a = f->char_start[r0 + first];
    *b = f->char_end[r0 + last];
    return true;
}

/* Appends an answer: bytes [ba, bb) of ctx, characters [a, b), its lowercase `lower`. */
static vt_status append_answer(pipe_work *w, const char *ctx, size_t ba, size_t bb, int32_t a, int32_t b, double score,
                               const vt_py_str *lower) {
    if (w->n_ans == w->ans_cap) {
        size_t cap = w->ans_cap ? 2 * w->ans_cap : 32;
        found *p = realloc(w->ans, cap * sizeof *p);
        if (!p) return vt_error(VT_ERR_NOMEM, "out of memory collecting answers");
        w->ans = p;
        w->ans_cap = cap;
    }
    found *fd = &w->ans[w->n_ans];
    memset(fd, 0, sizeof *fd);
    fd->a.answer = malloc(bb - ba + 1);
    if (!fd->a.answer) return vt_error(VT_ERR_NOMEM, "out of memory collecting answers");
    memcpy(fd->a.answer, ctx + ba, bb - ba);
    fd->a.answer[bb - ba] = '\0';
    fd->a.start = a;
    fd->a.end = b;
    fd->a.score = score;
    fd->order = (int64_t)w->n_ans++;
    vt_status st = VT_OK;
    for (size_t i = 0; lower && i < lower->n && st == VT_OK; i++) st = vt_py_str_push(&fd->lower, lower->cp[i]);
    return st;
}

/* Records an answer with characters [a, b) of the context (Python's slice,
 * clamped), adding `score` to one with the same lowercased text. */
static vt_status add_answer(pipe_work *w, const char *ctx, int32_t a, int32_t b, double score) {
    size_t ca = a < 0 ? 0 : (size_t)a > w->nchars ? w->nchars : (size_t)a;
    size_t cb = b < 0 ? 0 : (size_t)b > w->nchars ? w->nchars : (size_t)b;
    size_t ba = w->byte_at[ca], bb = cb > ca ? w->byte_at[cb] : ba;
    vt_status st = vt_py_decode(ctx + ba, bb - ba, &w->tmp);
    if (st == VT_OK) st = vt_py_lower(&w->tmp, &w->tmp_lower);
    if (st != VT_OK) return st;
    for (size_t i = 0; i < w->n_ans; i++) {
        const vt_py_str *l = &w->ans[i].lower;
        if (l->n == w->tmp_lower.n && (!l->n || !memcmp(l->cp, w->tmp_lower.cp, l->n * sizeof *l->cp))) {
            w->ans[i].a.score += score;
            return VT_OK;
        }
    }
    return append_answer(w, ctx, ba, bb, a, b, score, &w->tmp_lower);
}

static int by_score(const void *x, const void *y) {
    const found *a = x, *b = y;
    if (a->a.score != b->a.score) return a->a.score > b->a.score ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* One feature: select_starts_ends, then each span's answer. */
static vt_status one_feature(const vt_qa_features *f, size_t fi, const float *sl, const float *el, const char *ctx,
                             const vt_qa_pipeline_options *o, bool *desired, double *min_null, pipe_work *w) {
    int64_t r0 = f->first[fi];
    int32_t len = vt_qa_feature_len(f, fi);
    int ctx_seq = f->context_first ? 0 : 1;
    /* p_mask: 1 outside the context (the pipeline's `tok != 1 if question_first else 0` masks nothing when
     * the context comes first), 0 at every [CLS]; no padding, so the attention mask changes nothing */
    for (int32_t t = 0; t < len; t++)
        desired[t] = f->context_first || f->seq[r0 + t] == ctx_seq || f->ids[r0 + t] == f->cls_id;
    softmax(sl, desired, len, w->ps);
    softmax(el, desired, len, w->pe);
    if (o->handle_impossible_answer) {
        double null = (double)(w->ps[0] * w->pe[0]);
        if (null < *min_null) *min_null = null;
    }
    w->ps[0] = w->pe[0] = 0.0f;
    int32_t topk = o->align_to_words ? 2 * o->top_k + 10 : o->top_k;
    vt_status st = best_spans(w, len, o->max_answer_len, topk);
    for (size_t k = 0; k < w->n_spans && st == VT_OK; k++) {
        int32_t s = w->spans[k].s, e = w->spans[k].e;
        /* np.isin against undesired_tokens.nonzero() of a (1, len) mask also finds 0 among the row numbers */
        if (!(desired[s] || s == 0) || !(desired[e] || e == 0)) continue;
        int32_t a = f->char_start[r0 + s], b = f->char_end[r0 + e], wa, wb;
        int32_t ws = f->word[r0 + s], we = f->word[r0 + e];
        if (o->align_to_words && ws >= 0 && we >= 0 && word_chars(f, r0, len, ctx_seq, ws, &wa, &wb)) {
            int32_t xa, xb;
            if (word_chars(f, r0, len, ctx_seq, we, &xa, &xb)) { /* else: the offsets, as the pipeline's except */
                a = wa;
                b = xb;
            }
        }
        st = add_answer(w, ctx, a, b, (double)w->spans[k].score);
    }
    return st;
}

vt_status vt_qa_pipeline_answer(const vt_qa_features *f, size_t first, size_t count, const char *context,
                                size_t context_len, const float *start_logits, const float *end_logits, int64_t row_len,
                                const vt_qa_pipeline_options *opt, vt_qa_answer *answers, int32_t *n_answers) {
    vt_qa_pipeline_options def;
    vt_qa_pipeline_options_default(&def);
    const vt_qa_pipeline_options *o = opt ? opt : &def;
    if (n_answers) *n_answers = 0;
    if (!f || !n_answers || !answers || (count && (!start_logits || !end_logits)) || (!context && context_len))
        return vt_error(VT_ERR_INVALID_ARG, "vt_qa_pipeline_answer: NULL argument");
    if (f->train || first > f->n || count > f->n - first)
        return vt_error(VT_ERR_INVALID_ARG, "vt_qa_pipeline_answer: features [%zu, %zu) of %zu evaluation features",
                        first, first + count, f->n);
    if (o->top_k < 1 || o->max_answer_len < 1 || o->top_k > 1000000)
        return vt_error(VT_ERR_INVALID_ARG, "vt_qa_pipeline_answer: top_k %d and max_answer_len %d must be >= 1",
                        o->top_k, o->max_answer_len);
    if (row_len < 0) return vt_error(VT_ERR_INVALID_ARG, "vt_qa_pipeline_answer: row_len %lld", (long long)row_len);
    int32_t longest = 0;
    for (size_t j = first; j < first + count; j++) {
        int32_t len = vt_qa_feature_len(f, j);
        if (row_len && len > row_len)
            return vt_error(VT_ERR_INVALID_ARG, "vt_qa_pipeline_answer: feature %zu has %d tokens, the rows %lld", j, len,
                            (long long)row_len);
        if (len > longest) longest = len;
    }
    pipe_work w = {0};
    bool *desired = malloc((size_t)(longest ? longest : 1) * sizeof *desired);
    w.ps = malloc((size_t)(longest ? longest : 1) * sizeof *w.ps);
    w.pe = malloc((size_t)(longest ? longest : 1) * sizeof *w.pe);
    w.byte_at = malloc((context_len + 1) * sizeof *w.byte_at);
    vt_status st = desired && w.ps && w.pe && w.byte_at ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory answering");
    for (size_t i = 0; st == VT_OK && i < context_len;) {
        int adv;
        vt_utf8_decode((const unsigned char *)context + i, context_len - i, &adv);
        w.byte_at[w.nchars++] = i;
        i += (size_t)adv;
    }
    if (st == VT_OK) w.byte_at[w.nchars] = context_len;
    double min_null = 1000000; /* the pipeline's "large and positive" start */
    for (size_t j = 0; j < count && st == VT_OK; j++) {
        size_t fi = first + j;
        int64_t at = row_len ? (int64_t)j * row_len : f->first[fi] - f->first[first];
        int32_t len = vt_qa_feature_len(f, fi);
        for (int32_t t = 0; t < len; t++)
            if (isnan(start_logits[at + t]) || isnan(end_logits[at + t]))
                st = vt_error(VT_ERR_INVALID_ARG, "vt_qa_pipeline_answer: NaN logit in feature %zu", fi);
        if (st == VT_OK)
            st = one_feature(f, fi, start_logits + at, end_logits + at, context ? context : "", o, desired, &min_null, &w);
    }
    /* the null answer joins as an entry of its own, never merged */
    if (st == VT_OK && o->handle_impossible_answer) st = append_answer(&w, "", 0, 0, 0, 0, min_null, NULL);
    if (st == VT_OK) {
        qsort(w.ans, w.n_ans, sizeof *w.ans, by_score);
        int32_t n = (int32_t)(w.n_ans < (size_t)o->top_k ? w.n_ans : (size_t)o->top_k);
        for (int32_t i = 0; i < n; i++) {
            answers[i] = w.ans[i].a;
            w.ans[i].a.answer = NULL;
        }
        *n_answers = n;
    }
    for (size_t i = 0; i < w.n_ans; i++) {
        free(w.ans[i].a.answer);
        vt_py_str_free(&w.ans[i].lower);
    }
    free(w.ans);
    free(w.spans);
    free(desired);
    free(w.ps);
    free(w.pe);
    free(w.byte_at);
    vt_py_str_free(&w.tmp);
    vt_py_str_free(&w.tmp_lower);
    return st;
}
