/* The official SQuAD scores: evaluate-v1.1.py and evaluate-v2.0.py's logic
 * (see verto/squad.h), with Python's Unicode rules (eval/py_text.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/utf8.h"
#include "eval/py_text.h"
#include "verto/squad.h"

void vt_squad_eval_options_default(vt_squad_eval_options *o) {
    memset(o, 0, sizeof *o);
    o->na_prob_thresh = 1.0;
}

static bool is_punct(int32_t cp) { return cp < 0x80 && cp > 0x20 && strchr("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", (int)cp); }

/* Working strings of one normalization. */
typedef struct norm_work {
    vt_py_str a, b;
} norm_work;

static void norm_work_free(norm_work *w) {
    vt_py_str_free(&w->a);
    vt_py_str_free(&w->b);
}

static bool run_is(const int32_t *cp, size_t n, const char *word) {
    size_t k = strlen(word);
    if (n != k) return false;
    for (size_t i = 0; i < n; i++)
        if (cp[i] != (unsigned char)word[i]) return false;
    return true;
}

/* normalize_answer into w->b (code points): lower, punctuation out, articles
 * out, whitespace runs to one space, no space at either end. */
static vt_status normalize(const char *s, size_t len, norm_work *w) {
    vt_status st = vt_py_decode(s, len, &w->a);
    if (st == VT_OK) st = vt_py_lower(&w->a, &w->b);
    if (st != VT_OK) return st;
    /* remove_punc: in place in b */
    size_t n = 0;
    for (size_t i = 0; i < w->b.n; i++)
        if (!is_punct(w->b.cp[i])) w->b.cp[n++] = w->b.cp[i];
    w->b.n = n;
    /* remove_articles: re.sub(r"\b(a|an|the)\b", " ") replaces exactly the
     * maximal runs of word characters that are a, an or the; into a */
    w->a.n = 0;
    for (size_t i = 0; i < w->b.n && st == VT_OK;) {
        if (!(vt_py_flags(w->b.cp[i]) & VT_PY_WORD)) {
            st = vt_py_str_push(&w->a, w->b.cp[i++]);
            continue;
        }
        size_t j = i;
        while (j < w->b.n && (vt_py_flags(w->b.cp[j]) & VT_PY_WORD)) j++;
        if (run_is(w->b.cp + i, j - i, "a") || run_is(w->b.cp + i, j - i, "an") || run_is(w->b.cp + i, j - i, "the"))
            st = vt_py_str_push(&w->a, ' ');
        else
            for (size_t k = i; k < j && st == VT_OK; k++) st = vt_py_str_push(&w->a, w->b.cp[k]);
        i = j;
    }
    /* white_space_fix: " ".join(text.split()); into b */
    w->b.n = 0;
    bool pending = false;
    for (size_t i = 0; i < w->a.n && st == VT_OK; i++) {
        if (vt_py_flags(w->a.cp[i]) & VT_PY_SPACE) {
            pending = w->b.n > 0;
            continue;
        }
        if (pending) st = vt_py_str_push(&w->b, ' ');
        pending = false;
        if (st == VT_OK) st = vt_py_str_push(&w->b, w->a.cp[i]);
    }
    return st;
}

vt_status vt_squad_normalize_answer(const char *s, size_t len, char **out, size_t *out_len) {
    if (!out || (!s && len)) return vt_error(VT_ERR_INVALID_ARG, "vt_squad_normalize_answer: NULL argument");
    norm_work w = {0};
    vt_status st = normalize(s ? s : "", len, &w);
    if (st == VT_OK) st = vt_py_encode(w.b.cp, w.b.n, out, out_len);
    norm_work_free(&w);
    return st;
}

/* A normalized text and its tokens (spans of cp, sorted for counting). */
typedef struct ntext {
    vt_py_str s;
    size_t *tok_start, *tok_len;
    size_t n_tok, tok_cap;
} ntext;

static void ntext_free(ntext *t) {
    vt_py_str_free(&t->s);
    free(t->tok_start);
    free(t->tok_len);
    memset(t, 0, sizeof *t);
}

/* Orders tokens by code points, a prefix first. */
static int tok_cmp_base(const int32_t *base, size_t as, size_t al, size_t bs, size_t bl) {
    for (size_t i = 0; i < al && i < bl; i++)
        if (base[as + i] != base[bs + i]) return base[as + i] < base[bs + i] ? -1 : 1;
    return al < bl ? -1 : al > bl;
}

/* Normalizes s into t, its tokens sorted. */
static vt_status ntext_make(const char *s, size_t len, norm_work *w, ntext *t) {
    vt_status st = normalize(s, len, w);
    if (st != VT_OK) return st;
    t->s.n = 0;
    for (size_t i = 0; i < w->b.n && st == VT_OK; i++) st = vt_py_str_push(&t->s, w->b.cp[i]);
    if (st != VT_OK) return st;
    t->n_tok = 0;
    for (size_t i = 0; i < t->s.n;) {
        size_t j = i;
        while (j < t->s.n && t->s.cp[j] != ' ') j++;
        if (t->n_tok == t->tok_cap) {
            size_t cap = t->tok_cap ? 2 * t->tok_cap : 16;
            size_t *a = realloc(t->tok_start, cap * sizeof *a);
            if (a) t->tok_start = a;
            size_t *b = a ? realloc(t->tok_len, cap * sizeof *b) : NULL;
            if (!b) return vt_error(VT_ERR_NOMEM, "out of memory scoring answers");
            t->tok_len = b;
            t->tok_cap = cap;
        }
        t->tok_start[t->n_tok] = i;
        t->tok_len[t->n_tok++] = j - i;
        i = j + 1;
    }
    /* insertion sort: answers have few tokens, and it needs no global */
    for (size_t i = 1; i < t->n_tok; i++)
        for (size_t k = i; k > 0 && tok_cmp_base(t->s.cp, t->tok_start[k - 1], t->tok_len[k - 1], t->tok_start[k],
                                                  t->tok_len[k]) > 0; k--) {
            size_t xs = t->tok_start[k], xl = t->tok_len[k];
            t->tok_start[k] = t->tok_start[k - 1];
            t->tok_len[k] = t->tok_len[k - 1];
            t->tok_start[k - 1] = xs;
            t->tok_len[k - 1] = xl;
        }
    return VT_OK;
}

/* sum((Counter(a) & Counter(b)).values()) over sorted token lists. */
static size_t common_tokens(const ntext *a, const ntext *b) {
    size_t i = 0, j = 0, same = 0;
    while (i < a->n_tok && j < b->n_tok) {
        size_t al = a->tok_len[i], bl = b->tok_len[j];
        const int32_t *x = a->s.cp + a->tok_start[i], *y = b->s.cp + b->tok_start[j];
        int c = 0;
        for (size_t k = 0; k < al && k < bl && !c; k++)
            if (x[k] != y[k]) c = x[k] < y[k] ? -1 : 1;
        if (!c) c = al < bl ? -1 : al > bl;
        if (c == 0) same++, i++, j++;
        else if (c < 0) i++;
        else j++;
    }
    return same;
}

static bool same_text(const ntext *a, const ntext *b) {
    return a->s.n == b->s.n && (!a->s.n || !memcmp(a->s.cp, b->s.cp, a->s.n * sizeof(int32_t)));
}

/* The scripts' F1 of a gold and a predicted text. */
static double f1_of(const ntext *gold, const ntext *pred, int version) {
    size_t same = common_tokens(gold, pred);
    if (version == 2 && (gold->n_tok == 0 || pred->n_tok == 0)) return gold->n_tok == pred->n_tok;
    if (same == 0) return 0;
    double precision = 1.0 * (double)same / (double)pred->n_tok, recall = 1.0 * (double)same / (double)gold->n_tok;
    return (2 * precision * recall) / (precision + recall);
}

vt_status vt_squad_score_pair(const char *gold, size_t glen, const char *pred, size_t plen, int version, double *exact,
                              double *f1) {
    if ((!gold && glen) || (!pred && plen) || !exact || !f1 || (version != 1 && version != 2))
        return vt_error(VT_ERR_INVALID_ARG, "vt_squad_score_pair: NULL argument or version %d (1 or 2)", version);
    norm_work w = {0};
    ntext g = {0}, p = {0};
    vt_status st = ntext_make(gold ? gold : "", glen, &w, &g);
    if (st == VT_OK) st = ntext_make(pred ? pred : "", plen, &w, &p);
    if (st == VT_OK) {
        *exact = same_text(&g, &p);
        *f1 = f1_of(&g, &p, version);
    }
    ntext_free(&g);
    ntext_free(&p);
    norm_work_free(&w);
    return st;
}

/* A question and its no-answer probability, for the sort by probability. */
typedef struct by_na {
    double p;
    size_t q;
} by_na;

static int by_na_cmp(const void *a, const void *b) {
    const by_na *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? -1 : 1;
    return x->q < y->q ? -1 : x->q > y->q; /* Python's sort is stable */
}

/* find_best_thresh over raw (n) scores. */
static void best_thresh(const vt_squad *d, const char *const *pred, const double *na, const by_na *by_prob,
                        const double *raw, double *best_score, double *thresh) {
    double cur = 0;
    for (size_t i = 0; i < d->n; i++) cur += d->ex[i].n_answers == 0;
    double best = cur;
    *thresh = 0.0;
    for (size_t k = 0; k < d->n; k++) {
        size_t q = by_prob[k].q;
        double diff = d->ex[q].n_answers ? raw[q] : pred[q][0] ? -1 : 0;
        cur += diff;
        if (cur > best) {
            best = cur;
            *thresh = na[q];
        }
    }
    *best_score = 100.0 * best / (double)d->n;
}

vt_status vt_squad_evaluate(const vt_squad *d, const char *const *pred, const double *na_prob,
                            const vt_squad_eval_options *opt, double *exact_raw, double *f1_raw, vt_squad_scores *out) {
    vt_squad_eval_options def;
    vt_squad_eval_options_default(&def);
    const vt_squad_eval_options *o = opt ? opt : &def;
    if (!out) return vt_error(VT_ERR_INVALID_ARG, "vt_squad_evaluate: NULL output");
    memset(out, 0, sizeof *out);
    if (!d || !pred || d->n == 0) return vt_error(VT_ERR_INVALID_ARG, "vt_squad_evaluate: no questions or predictions");
    int version = o->version ? o->version : d->version;
    if (version != 1 && version != 2) return vt_error(VT_ERR_INVALID_ARG, "vt_squad_evaluate: version %d", version);
    for (size_t q = 0; q < d->n; q++) {
        if (version == 1 && d->ex[q].n_answers == 0)
            return vt_error(VT_ERR_INVALID_ARG, "question '%s' has no answers: score the set as SQuAD v2", d->ex[q].id);
        if (version == 2 && !pred[q])
            return vt_error(VT_ERR_INVALID_ARG, "no prediction for question '%s' (SQuAD v2 scores every question)",
                            d->ex[q].id);
        if (na_prob && isnan(na_prob[q]))
            return vt_error(VT_ERR_INVALID_ARG, "no-answer probability of question '%s' is NaN", d->ex[q].id);
    }
    double *ex = calloc(d->n, sizeof *ex), *f1 = calloc(d->n, sizeof *f1);
    norm_work w = {0};
    ntext g = {0}, p = {0};
    vt_status st = ex && f1 ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory scoring answers");
    for (size_t q = 0; q < d->n && st == VT_OK; q++) {
        if (!pred[q]) continue; /* v1: scores 0 */
        if ((st = ntext_make(pred[q], strlen(pred[q]), &w, &p)) != VT_OK) break;
        const vt_squad_example *e = &d->ex[q];
        bool any = false;
        for (int32_t k = 0; k < e->n_answers && st == VT_OK; k++) {
            const vt_squad_answer *a = &d->answers[e->first_answer + (size_t)k];
            if ((st = ntext_make(a->text, a->len, &w, &g)) != VT_OK) break;
            if (version == 2 && g.s.n == 0) continue; /* v2 keeps the gold answers that normalize to something */
            double x = same_text(&g, &p), y = f1_of(&g, &p, version);
            if (!any || x > ex[q]) ex[q] = x;
            if (!any || y > f1[q]) f1[q] = y;
            any = true;
        }
        if (st == VT_OK && !any) { /* v2: the only correct answer is the empty one */
            if ((st = ntext_make("", 0, &w, &g)) != VT_OK) break;
            ex[q] = same_text(&g, &p);
            f1[q] = f1_of(&g, &p, version);
        }
    }
    out->version = version;
    if (st == VT_OK && version == 1) {
        double em = 0, fs = 0;
        for (size_t q = 0; q < d->n; q++) em += ex[q], fs += f1[q];
        out->exact = 100.0 * em / (double)d->n;
        out->f1 = 100.0 * fs / (double)d->n;
        out->total = (int64_t)d->n;
        out->has_ans_exact = out->has_ans_f1 = out->no_ans_exact = out->no_ans_f1 = NAN;
    } else if (st == VT_OK) {
        /* apply_no_ans_threshold, then the totals and the HasAns / NoAns parts, summed in question order */
        double sums[3][2] = {{0}}; /* all, has answers, no answer: exact, f1 */
        int64_t counts[3] = {0};
        for (size_t q = 0; q < d->n; q++) {
            bool has = d->ex[q].n_answers > 0;
            double x = ex[q], y = f1[q];
            if ((na_prob ? na_prob[q] : 0.0) > o->na_prob_thresh) x = y = has ? 0.0 : 1.0;
            for (int part = 0; part < 3; part++)
                if (part == 0 || (part == 1) == has) {
                    sums[part][0] += x;
                    sums[part][1] += y;
                    counts[part]++;
                }
        }
        double *fields[3][2] = {{&out->exact, &out->f1}, {&out->has_ans_exact, &out->has_ans_f1},
                                {&out->no_ans_exact, &out->no_ans_f1}};
        for (int part = 0; part < 3; part++)
            for (int k = 0; k < 2; k++)
                *fields[part][k] = counts[part] ? 100.0 * sums[part][k] / (double)counts[part] : NAN;
        out->total = counts[0];
        out->has_ans_total = counts[1];
        out->no_ans_total = counts[2];
        if (na_prob) {
            by_na *by_prob = malloc(d->n * sizeof *by_prob);
            if (!by_prob) st = vt_error(VT_ERR_NOMEM, "out of memory scoring answers");
            else {
                for (size_t q = 0; q < d->n; q++) by_prob[q] = (by_na){na_prob[q], q};
                qsort(by_prob, d->n, sizeof *by_prob, by_na_cmp);
                best_thresh(d, pred, na_prob, by_prob, ex, &out->best_exact, &out->best_exact_thresh);
                best_thresh(d, pred, na_prob, by_prob, f1, &out->best_f1, &out->best_f1_thresh);
                out->has_best = true;
                free(by_prob);
            }
        }
    }
    if (st == VT_OK) {
        if (exact_raw) memcpy(exact_raw, ex, d->n * sizeof *ex);
        if (f1_raw) memcpy(f1_raw, f1, d->n * sizeof *f1);
    } else memset(out, 0, sizeof *out);
    free(ex);
    free(f1);
    ntext_free(&g);
    ntext_free(&p);
    norm_work_free(&w);
    return st;
}
