/* The entities transformers' token-classification pipeline reports for raw
 * text with aggregation_strategy="simple" (gather_pre_entities, aggregate,
 * group_entities, group_sub_entities; see verto/ner.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "verto/ner.h"

/* One non-special token as the pipeline's pre-entity. */
typedef struct pre {
    int32_t index;    /* token in the encoding */
    int32_t label;    /* argmax of its probabilities */
    float score;
    int32_t start, end; /* characters */
    int32_t bstart, bend; /* bytes */
} pre;

/* numpy's argmax: the first maximum, or the first NaN. */
static int32_t argmax(const float *p, int k) {
    int32_t best = 0;
    for (int32_t j = 0; j < k; j++) {
        if (isnan(p[j])) return j;
        if (p[j] > p[best]) best = j;
    }
    return best;
}

/* The pipeline's get_tag: ("B", rest) for "B-...", ("I", rest) for "I-...", else ("I", label). */
static const char *tag_of(const char *label, bool *is_b) {
    *is_b = !strncmp(label, "B-", 2);
    return *is_b || !strncmp(label, "I-", 2) ? label + 2 : label;
}

void vt_ner_groups_free(vt_ner_group *g, size_t n) {
    for (size_t i = 0; g && i < n; i++) {
        free(g[i].entity_group);
        free(g[i].word);
    }
    free(g);
}

typedef struct groups {
    vt_ner_group *v;
    size_t n, cap;
} groups;

/* group_sub_entities over pres[a..b), kept unless its entity_group is ignored. */
static vt_status close_group(const vt_tokenizer *t, const char *text, const vt_tok_encoding *e,
                             const char *const *id2label, const char *const *ignore, int n_ignore, const pre *pres,
                             size_t a, size_t b, groups *out) {
    const char *first = id2label[pres[a].label], *dash = strchr(first, '-');
    const char *name = dash ? dash + 1 : first; /* entity.split("-", 1)[-1] */
    for (int k = 0; k < n_ignore; k++)
        if (ignore[k] && !strcmp(ignore[k], name)) return VT_OK;
    /* np.nanmean of the scores */
    double sum = 0;
    int64_t cnt = 0;
    for (size_t i = a; i < b; i++)
        if (!isnan(pres[i].score)) sum += pres[i].score, cnt++;
    /* the word: the tokens' strings through the decoder, an unknown token as the text it covers */
    int32_t unk = vt_tok_special_ids(t).unk;
    const vt_wp_vocab *v = vt_tok_vocab(t);
    size_t n = b - a;
    char **owned = calloc(n, sizeof *owned);
    const char **toks = malloc(n * sizeof *toks);
    vt_status st = owned && toks ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory grouping entities");
    for (size_t i = 0; i < n && st == VT_OK; i++) {
        const pre *p = &pres[a + i];
        int32_t id = e->ids[p->index];
        if (id == unk) {
            if (!(owned[i] = strndup(text + p->bstart, (size_t)(p->bend - p->bstart))))
                st = vt_error(VT_ERR_NOMEM, "out of memory grouping entities");
            toks[i] = owned[i];
        } else if (!(toks[i] = vt_wp_vocab_token(v, id))) {
            st = vt_error(VT_ERR_INVALID_ARG, "token %d: id %d is outside the vocabulary", p->index, id);
        }
    }
    char *word = NULL, *group = NULL;
    if (st == VT_OK) st = vt_tok_decode_tokens(t, toks, n, &word, NULL);
    if (st == VT_OK && !(group = strdup(name))) st = vt_error(VT_ERR_NOMEM, "out of memory grouping entities");
    if (st == VT_OK && out->n == out->cap) {
        size_t cap = out->cap ? 2 * out->cap : 8;
        vt_ner_group *g = realloc(out->v, cap * sizeof *g);
        if (!g) st = vt_error(VT_ERR_NOMEM, "out of memory grouping entities");
        else out->v = g, out->cap = cap;
    }
    if (st == VT_OK)
        out->v[out->n++] = (vt_ner_group){group, cnt ? sum / (double)cnt : NAN, word, pres[a].start, pres[b - 1].end,
                                          pres[a].index, pres[b - 1].index};
    else
        free(word), free(group);
    for (size_t i = 0; owned && i < n; i++) free(owned[i]);
    free(owned);
    free(toks);
    return st;
}

vt_status vt_ner_aggregate_simple(const vt_tokenizer *t, const char *text, size_t len, const vt_tok_encoding *e,
                                  const float *probs, int num_labels, const char *const *id2label,
                                  const char *const *ignore, int n_ignore, vt_ner_group **out, size_t *n_out) {
    if (!out || !n_out) return vt_error(VT_ERR_INVALID_ARG, "vt_ner_aggregate_simple: NULL output");
    *out = NULL;
    *n_out = 0;
    if (!t || !e || (!text && len) || (e->len > 0 && !probs) || num_labels < 1 || !id2label || n_ignore < 0 ||
        (n_ignore && !ignore))
        return vt_error(VT_ERR_INVALID_ARG, "vt_ner_aggregate_simple: bad arguments");
    for (int k = 0; k < num_labels; k++)
        if (!id2label[k]) return vt_error(VT_ERR_INVALID_ARG, "vt_ner_aggregate_simple: label %d is NULL", k);
    static const char *const DEFAULT_IGNORE[] = {"O"};
    if (!ignore) ignore = DEFAULT_IGNORE, n_ignore = 1;
    pre *pres = malloc((e->len > 0 ? (size_t)e->len : 1) * sizeof *pres);
    if (!pres) return vt_error(VT_ERR_NOMEM, "out of memory grouping entities");
    size_t m = 0;
    vt_status st = VT_OK;
    for (int32_t i = 0; i < e->len; i++) {
        if (e->seq[i] < 0) continue; /* what the template added, and padding: HF's special_tokens_mask */
        int32_t bs = e->offsets[2 * i], be = e->offsets[2 * i + 1];
        if (bs < 0 || be < bs || (size_t)be > len) {
            st = vt_error(VT_ERR_INVALID_ARG, "token %d: offsets [%d, %d) outside the text (%zu bytes)", i, bs, be, len);
            break;
        }
        const float *p = probs + (size_t)i * (size_t)num_labels;
        int32_t lab = argmax(p, num_labels);
        pres[m++] = (pre){i, lab, p[lab], bs, be, bs, be};
    }
    int32_t *chars = st == VT_OK ? malloc((2 * m + 1) * sizeof *chars) : NULL;
    if (st == VT_OK && !chars) st = vt_error(VT_ERR_NOMEM, "out of memory grouping entities");
    if (st == VT_OK) { /* byte offsets -> characters (the pipeline's are Python string indices), in one pass */
        for (size_t i = 0; i < m; i++) chars[2 * i] = pres[i].bstart, chars[2 * i + 1] = pres[i].bend;
        vt_tok_offsets_to_chars(text, len, chars, 2 * m);
        for (size_t i = 0; i < m; i++) pres[i].start = chars[2 * i], pres[i].end = chars[2 * i + 1];
    }
    free(chars);
    groups g = {0};
    size_t a = 0;
    for (size_t i = 1; i <= m && st == VT_OK; i++) {
        if (i < m) { /* group_entities: continue while the tag matches and this one is not B- */
            bool b_cur, b_last;
            const char *cur = tag_of(id2label[pres[i].label], &b_cur), *last = tag_of(id2label[pres[i - 1].label], &b_last);
            if (!strcmp(cur, last) && !b_cur) continue;
        }
        st = close_group(t, text, e, id2label, ignore, n_ignore, pres, a, i, &g);
        a = i;
    }
    free(pres);
    if (st != VT_OK) {
        vt_ner_groups_free(g.v, g.n);
        return st;
    }
    *out = g.v;
    *n_out = g.n;
    return VT_OK;
}
