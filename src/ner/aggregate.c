/* The entities transformers' token-classification pipeline reports for raw
 * text, under each aggregation strategy (gather_pre_entities, aggregate,
 * aggregate_words, group_entities, group_sub_entities; see verto/ner.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "verto/ner.h"

static const char *const AGG_NAMES[] = {"simple", "none", "first", "average", "max"};

const char *vt_ner_aggregation_name(vt_ner_aggregation a) {
    return (unsigned)a < sizeof AGG_NAMES / sizeof *AGG_NAMES ? AGG_NAMES[a] : "?";
}

bool vt_ner_aggregation_parse(const char *name, vt_ner_aggregation *out) {
    for (size_t i = 0; name && i < sizeof AGG_NAMES / sizeof *AGG_NAMES; i++)
        if (!strcasecmp(name, AGG_NAMES[i])) {
            *out = (vt_ner_aggregation)i;
            return true;
        }
    return false;
}

/* One token of the text (the pipeline's pre-entity), or after a word-level
 * strategy one word; both are what group_entities groups. */
typedef struct item {
    int32_t label;        /* argmax of the probabilities */
    float score;          /* its probability */
    const char *word;     /* the token's string (vocabulary's, or `owned`) or the decoded word (`owned`) */
    char *owned;
    int32_t start, end;   /* characters */
    int32_t first, last;  /* tokens of the encoding */
    const float *probs;   /* a token's (num_labels) */
    bool is_subword;      /* a token continuing the word before it */
} item;

static void items_free(item *v, size_t n) {
    for (size_t i = 0; v && i < n; i++) free(v[i].owned);
    free(v);
}

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

/* Code points of a NUL-terminated UTF-8 string (continuation bytes not counted). */
static int32_t n_chars(const char *s) {
    int32_t n = 0;
    for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
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

static vt_status push(groups *out, vt_ner_group g) {
    if (out->n == out->cap) {
        size_t cap = out->cap ? 2 * out->cap : 8;
        vt_ner_group *v = realloc(out->v, cap * sizeof *v);
        if (!v) return vt_error(VT_ERR_NOMEM, "out of memory grouping entities");
        out->v = v, out->cap = cap;
    }
    out->v[out->n++] = g;
    return VT_OK;
}

/* The decoder over the strings of items[a..b) (convert_tokens_to_string) into *word. */
static vt_status decode_items(const vt_tokenizer *t, const item *items, size_t a, size_t b, char **word) {
    const char **toks = malloc((b - a) * sizeof *toks);
    if (!toks) return vt_error(VT_ERR_NOMEM, "out of memory grouping entities");
    for (size_t i = a; i < b; i++) toks[i - a] = items[i].word;
    vt_status st = vt_tok_decode_tokens(t, toks, b - a, word, NULL);
    free(toks);
    return st;
}

/* group_sub_entities over items[a..b), kept unless its entity_group is ignored. */
static vt_status close_group(const vt_tokenizer *t, const char *const *id2label, const char *const *ignore,
                             int n_ignore, const item *items, size_t a, size_t b, groups *out) {
    const char *first = id2label[items[a].label], *dash = strchr(first, '-');
    const char *name = dash ? dash + 1 : first; /* entity.split("-", 1)[-1] */
    for (int k = 0; k < n_ignore; k++)
        if (ignore[k] && !strcmp(ignore[k], name)) return VT_OK;
    double sum = 0; /* np.nanmean of the scores */
    int64_t cnt = 0;
    for (size_t i = a; i < b; i++)
        if (!isnan(items[i].score)) sum += items[i].score, cnt++;
    char *word = NULL, *group = NULL;
    vt_status st = decode_items(t, items, a, b, &word);
    if (st == VT_OK && !(group = strdup(name))) st = vt_error(VT_ERR_NOMEM, "out of memory grouping entities");
    if (st == VT_OK)
        st = push(out, (vt_ner_group){group, cnt ? sum / (double)cnt : NAN, word, items[a].start, items[b - 1].end,
                                      items[a].first, items[b - 1].last});
    if (st != VT_OK) free(word), free(group);
    return st;
}

/* NONE: each token not ignored, as is. */
static vt_status each_token(const char *const *id2label, const char *const *ignore, int n_ignore, const item *items,
                            size_t m, groups *out) {
    for (size_t i = 0; i < m; i++) {
        const char *label = id2label[items[i].label];
        bool skip = false;
        for (int k = 0; k < n_ignore && !skip; k++) skip = ignore[k] && !strcmp(ignore[k], label);
        if (skip) continue;
        char *group = strdup(label), *word = strdup(items[i].word);
        vt_status st = group && word ? VT_OK : vt_error(VT_ERR_NOMEM, "out of memory listing tokens");
        if (st == VT_OK)
            st = push(out, (vt_ner_group){group, items[i].score, word, items[i].start, items[i].end, items[i].first,
                                          items[i].first});
        if (st != VT_OK) {
            free(group), free(word);
            return st;
        }
    }
    return VT_OK;
}

/* aggregate_word over tokens[a..b) into *w: its label and score by the strategy, its string decoded. */
static vt_status make_word(const vt_tokenizer *t, const item *tokens, size_t a, size_t b, int k,
                           vt_ner_aggregation agg, item *w) {
    *w = (item){.start = tokens[a].start, .end = tokens[b - 1].end, .first = tokens[a].first, .last = tokens[b - 1].last};
    vt_status st = decode_items(t, tokens, a, b, &w->owned);
    if (st != VT_OK) return st;
    w->word = w->owned;
    if (agg == VT_NER_AGG_FIRST) {
        w->label = tokens[a].label, w->score = tokens[a].score;
    } else if (agg == VT_NER_AGG_MAX) { /* max(entities, key=scores.max()): the first of the largest */
        size_t best = a;
        for (size_t i = a + 1; i < b; i++)
            if (tokens[i].probs[tokens[i].label] > tokens[best].probs[tokens[best].label]) best = i;
        w->label = tokens[best].label, w->score = tokens[best].score;
    } else { /* AVERAGE: np.nanmean over the tokens, in float32 as numpy sums a float32 axis-0 reduction */
        float *mean = malloc((size_t)k * sizeof *mean);
        if (!mean) return vt_error(VT_ERR_NOMEM, "out of memory averaging a word");
        for (int c = 0; c < k; c++) {
            float sum = 0;
            int cnt = 0;
            for (size_t i = a; i < b; i++)
                if (!isnan(tokens[i].probs[c])) sum += tokens[i].probs[c], cnt++;
            mean[c] = cnt ? sum / (float)cnt : NAN;
        }
        w->label = argmax(mean, k);
        w->score = mean[w->label];
        free(mean);
    }
    return VT_OK;
}

/* aggregate_words: tokens[0..m) made into words[0..*n_words) (words: m zeroed entries). */
static vt_status make_words(const vt_tokenizer *t, const item *tokens, size_t m, int k, vt_ner_aggregation agg,
                            item *words, size_t *n_words) {
    vt_status st = VT_OK;
    *n_words = 0;
    for (size_t a = 0, b; a < m && st == VT_OK; a = b) {
        for (b = a + 1; b < m && tokens[b].is_subword;) b++;
        st = make_word(t, tokens, a, b, k, agg, &words[(*n_words)++]);
    }
    return st;
}

/* The byte where the character holding byte i starts (i itself for valid UTF-8 at a boundary). */
static size_t char_start(const char *text, size_t i) {
    for (int back = 0; back < 3 && i > 0 && ((unsigned char)text[i] & 0xC0) == 0x80; back++) i--;
    return i;
}

/* gather_pre_entities: the tokens of the text into items (*m of them). */
static vt_status gather(const vt_tokenizer *t, const char *text, size_t len, const vt_tok_encoding *e,
                        const float *probs, int k, item *items, size_t *m) {
    int32_t unk = vt_tok_special_ids(t).unk;
    const vt_wp_vocab *v = vt_tok_vocab(t);
    const char *prefix = vt_tok_model_subword_prefix(t);
    size_t n = 0;
    for (int32_t i = 0; i < e->len; i++) {
        if (e->seq[i] < 0) continue; /* what the template added, and padding: HF's special_tokens_mask */
        int32_t bs = e->offsets[2 * i], be = e->offsets[2 * i + 1];
        if (bs < 0 || be < bs || (size_t)be > len)
            return vt_error(VT_ERR_INVALID_ARG, "token %d: offsets [%d, %d) outside the text (%zu bytes)", i, bs, be, len);
        item *it = &items[n++];
        const float *p = probs + (size_t)i * (size_t)k;
        int32_t lab = argmax(p, k);
        *it = (item){.label = lab, .score = p[lab], .start = bs, .end = be, .first = i, .last = i, .probs = p};
        if (e->ids[i] == unk) {
            if (!(it->owned = strndup(text + bs, (size_t)(be - bs))))
                return vt_error(VT_ERR_NOMEM, "out of memory grouping entities");
            it->word = it->owned;
        } else if (!(it->word = vt_wp_vocab_token(v, e->ids[i]))) {
            return vt_error(VT_ERR_INVALID_ARG, "token %d: id %d is outside the vocabulary", i, e->ids[i]);
        }
    }
    *m = n;
    /* byte offsets -> characters (the pipeline's are Python string indices), in one pass */
    int32_t *chars = malloc((2 * n + 1) * sizeof *chars);
    if (!chars) return vt_error(VT_ERR_NOMEM, "out of memory grouping entities");
    for (size_t i = 0; i < n; i++) chars[2 * i] = items[i].start, chars[2 * i + 1] = items[i].end;
    vt_tok_offsets_to_chars(text, len, chars, 2 * n);
    for (size_t i = 0; i < n; i++) {
        item *it = &items[i];
        size_t bs = (size_t)it->start; /* still bytes */
        it->start = chars[2 * i], it->end = chars[2 * i + 1];
        if (e->ids[it->first] == unk) continue; /* an unknown token starts a word */
        if (prefix) { /* a word-aware model: len(token) != len(text covered) */
            it->is_subword = n_chars(it->word) != it->end - it->start;
        } else { /* start > 0 and " " not in sentence[start - 1 : start + 1] */
            size_t c = char_start(text, bs);
            it->is_subword = it->start > 0 && !(c > 0 && text[c - 1] == ' ') && !(c < len && text[c] == ' ');
        }
    }
    free(chars);
    return VT_OK;
}

/* group_entities over items[0..m): runs of I-X after X, each closed into a group. */
static vt_status group_items(const vt_tokenizer *t, const char *const *id2label, const char *const *ignore,
                             int n_ignore, const item *items, size_t m, groups *out) {
    vt_status st = VT_OK;
    for (size_t a = 0, i = 1; i <= m && st == VT_OK; i++) {
        if (i < m) { /* continue while the tag matches and this one is not B- */
            bool b_cur, b_last;
            const char *cur = tag_of(id2label[items[i].label], &b_cur);
            const char *last = tag_of(id2label[items[i - 1].label], &b_last);
            if (!strcmp(cur, last) && !b_cur) continue;
        }
        st = close_group(t, id2label, ignore, n_ignore, items, a, i, out);
        a = i;
    }
    return st;
}

vt_status vt_ner_aggregate(const vt_tokenizer *t, const char *text, size_t len, const vt_tok_encoding *e,
                           const float *probs, int num_labels, const char *const *id2label, vt_ner_aggregation agg,
                           const char *const *ignore, int n_ignore, vt_ner_group **out, size_t *n_out) {
    if (!out || !n_out) return vt_error(VT_ERR_INVALID_ARG, "vt_ner_aggregate: NULL output");
    *out = NULL;
    *n_out = 0;
    if (!t || !e || (!text && len) || (e->len > 0 && !probs) || num_labels < 1 || !id2label || n_ignore < 0 ||
        (n_ignore && !ignore))
        return vt_error(VT_ERR_INVALID_ARG, "vt_ner_aggregate: bad arguments");
    if ((unsigned)agg > VT_NER_AGG_MAX) return vt_error(VT_ERR_INVALID_ARG, "vt_ner_aggregate: unknown strategy %d", (int)agg);
    for (int k = 0; k < num_labels; k++)
        if (!id2label[k]) return vt_error(VT_ERR_INVALID_ARG, "vt_ner_aggregate: label %d is NULL", k);
    static const char *const DEFAULT_IGNORE[] = {"O"};
    if (!ignore) ignore = DEFAULT_IGNORE, n_ignore = 1;
    size_t cap = e->len > 0 ? (size_t)e->len : 1, m = 0, n_words = 0;
    item *tokens = calloc(cap, sizeof *tokens), *words = NULL; /* unused entries stay zero: freed alike */
    groups g = {0};
    vt_status st = tokens ? gather(t, text, len, e, probs, num_labels, tokens, &m)
                          : vt_error(VT_ERR_NOMEM, "out of memory grouping entities");
    if (st == VT_OK && agg == VT_NER_AGG_NONE) st = each_token(id2label, ignore, n_ignore, tokens, m, &g);
    else if (st == VT_OK && agg == VT_NER_AGG_SIMPLE) st = group_items(t, id2label, ignore, n_ignore, tokens, m, &g);
    else if (st == VT_OK) {
        if (!(words = calloc(cap, sizeof *words))) st = vt_error(VT_ERR_NOMEM, "out of memory making words");
        if (st == VT_OK) st = make_words(t, tokens, m, num_labels, agg, words, &n_words);
        if (st == VT_OK) st = group_items(t, id2label, ignore, n_ignore, words, n_words, &g);
    }
    items_free(tokens, cap);
    items_free(words, words ? cap : 0);
    if (st != VT_OK) {
        vt_ner_groups_free(g.v, g.n);
        return st;
    }
    *out = g.v;
    *n_out = g.n;
    return VT_OK;
}

vt_status vt_ner_aggregate_simple(const vt_tokenizer *t, const char *text, size_t len, const vt_tok_encoding *e,
                                  const float *probs, int num_labels, const char *const *id2label,
                                  const char *const *ignore, int n_ignore, vt_ner_group **out, size_t *n_out) {
    return vt_ner_aggregate(t, text, len, e, probs, num_labels, id2label, VT_NER_AGG_SIMPLE, ignore, n_ignore, out,
                            n_out);
}
