/* tokenizer.json's "model" (WordPiece, BPE or Unigram) and "added_tokens",
 * and the full vocabulary the two make together. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer_json.h"

/* The id of token text in v, which must hold it: else VT_ERR_FORMAT naming where. */
static vt_status token_id(const char *file, const char *where, const vt_wp_vocab *v, const char *text, int32_t *id) {
    *id = vt_wp_vocab_id(v, text, strlen(text));
    if (*id < 0) return vt_error(VT_ERR_FORMAT, "%s: %s \"%.80s\" is not in model.vocab", file, where, text);
    return VT_OK;
}

/* model.vocab {token: id}: ids 0 .. n-1, each once. */
static vt_wp_vocab *vocab_object(const char *file, const cJSON *vocab) {
    int n = cJSON_GetArraySize(vocab);
    if (!cJSON_IsObject(vocab) || n < 1)
        return vt_error(VT_ERR_FORMAT, "%s: model.vocab must be a non-empty object of token: id", file), NULL;
    const char **by_id = calloc((size_t)n, sizeof *by_id);
    size_t *lens = calloc((size_t)n, sizeof *lens);
    vt_status st = by_id && lens ? VT_OK : vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
    for (const cJSON *e = vocab->child; st == VT_OK && e; e = e->next) {
        double id = cJSON_IsNumber(e) ? e->valuedouble : -1;
        if (!(id >= 0 && id < n && id == (double)(int)id))
            st = vt_error(VT_ERR_FORMAT, "%s: model.vocab: token \"%.80s\" has id %g, not one of 0 .. %d", file,
                          e->string, cJSON_IsNumber(e) ? id : -1.0, n - 1);
        else if (by_id[(int)id])
            st = vt_error(VT_ERR_FORMAT, "%s: model.vocab: id %d belongs to \"%.80s\" and \"%.80s\"", file, (int)id,
                          by_id[(int)id], e->string);
        else
            by_id[(int)id] = e->string, lens[(int)id] = strlen(e->string);
    }
    vt_wp_vocab *v = st == VT_OK ? vt_wp_vocab_from_tokens(by_id, lens, n) : NULL;
    free(by_id);
    free(lens);
    return v;
}

static vt_status wordpiece(const char *file, const cJSON *m, vt_tokenizer *t) {
    const char *unk, *prefix;
    int64_t max_chars;
    vt_status st;
    if ((st = vt_tj_string(file, "model", m, "unk_token", &unk)) != VT_OK ||
        (st = vt_tj_string(file, "model", m, "continuing_subword_prefix", &prefix)) != VT_OK ||
        (st = vt_tj_int(file, "model", m, "max_input_chars_per_word", 0, INT32_MAX, 100, &max_chars)) != VT_OK)
        return st;
    if (prefix && strcmp(prefix, "##"))
        return vt_tj_unsupported(file, "model.continuing_subword_prefix", prefix); /* vt_wp_cut's pieces are "##" */
    if (!unk) return vt_error(VT_ERR_FORMAT, "%s: model.unk_token is missing", file);
    if (!(t->model_vocab = vocab_object(file, cJSON_GetObjectItemCaseSensitive(m, "vocab")))) return vt_last_status();
    t->model = VT_MODEL_WORDPIECE;
    t->opt.max_input_chars_per_word = (int32_t)max_chars;
    return token_id(file, "model.unk_token", t->model_vocab, unk, &t->unk_id);
}

/* One merge: "left right" (the older form) or ["left", "right"]. */
static vt_status merge_pair(const char *file, int i, const cJSON *e, char **left, char **right) {
    if (cJSON_IsString(e)) {
        char *s = e->valuestring, *space = strchr(s, ' ');
        if (!space || strchr(space + 1, ' ') || space == s || !space[1])
            return vt_error(VT_ERR_FORMAT, "%s: model.merges[%d]: \"%.80s\" is not two tokens split by one space", file,
                            i, s);
        *space = '\0'; /* split in place: the tree is ours */
        *left = s, *right = space + 1;
        return VT_OK;
    }
    const cJSON *a = cJSON_GetArrayItem(e, 0), *b = cJSON_GetArrayItem(e, 1);
    if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 || !cJSON_IsString(a) || !cJSON_IsString(b))
        return vt_error(VT_ERR_FORMAT, "%s: model.merges[%d] must be \"left right\" or [left, right]", file, i);
    *left = a->valuestring, *right = b->valuestring;
    return VT_OK;
}

static vt_status bpe(const char *file, const cJSON *m, vt_tokenizer *t) {
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(m, "dropout");
    if (dropout && !cJSON_IsNull(dropout) && !(cJSON_IsNumber(dropout) && dropout->valuedouble == 0))
        return vt_tj_unsupported(file, "model.dropout", "a BPE dropout other than null or 0 (random cutting)");
    const char *unk, *prefix, *suffix;
    vt_bpe_options o = {.unk_id = -1};
    vt_status st;
    if ((st = vt_tj_string(file, "model", m, "unk_token", &unk)) != VT_OK ||
        (st = vt_tj_string(file, "model", m, "continuing_subword_prefix", &prefix)) != VT_OK ||
        (st = vt_tj_string(file, "model", m, "end_of_word_suffix", &suffix)) != VT_OK ||
        (st = vt_tj_bool(file, "model", m, "fuse_unk", false, &o.fuse_unk)) != VT_OK ||
        (st = vt_tj_bool(file, "model", m, "byte_fallback", false, &o.byte_fallback)) != VT_OK ||
        (st = vt_tj_bool(file, "model", m, "ignore_merges", false, &o.ignore_merges)) != VT_OK)
        return st;
    o.continuing_subword_prefix = prefix && prefix[0] ? prefix : NULL;
    o.end_of_word_suffix = suffix && suffix[0] ? suffix : NULL;
    if (!(t->model_vocab = vocab_object(file, cJSON_GetObjectItemCaseSensitive(m, "vocab")))) return vt_last_status();
    if (unk && (st = token_id(file, "model.unk_token", t->model_vocab, unk, &o.unk_id)) != VT_OK) return st;
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(m, "merges");
    if (merges && !cJSON_IsNull(merges) && !cJSON_IsArray(merges))
        return vt_error(VT_ERR_FORMAT, "%s: model.merges must be a list", file);
    int n = merges ? cJSON_GetArraySize(merges) : 0, k = 0, i = 0;
    char **left = malloc((size_t)(n + 1) * sizeof *left), **right = malloc((size_t)(n + 1) * sizeof *right);
    st = left && right ? VT_OK : vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
    for (const cJSON *e = n ? merges->child : NULL; st == VT_OK && e; e = e->next, i++) {
        if (i == 0 && cJSON_IsString(e) && !strncmp(e->valuestring, "#version", 8)) continue; /* merges.txt's header */
        if ((st = merge_pair(file, i, e, &left[k], &right[k])) == VT_OK) k++;
    }
    if (st == VT_OK) {
        t->bpe = vt_bpe_new(t->model_vocab, (const char *const *)left, (const char *const *)right, (size_t)k, &o, file);
        if (!t->bpe) st = vt_last_status();
    }
    free(left);
    free(right);
    t->model = VT_MODEL_BPE;
    t->unk_id = o.unk_id;
    return st;
}

/* The f64 tokenizers holds for score d. serde_json reads a decimal as its
 * digits, an integer below 2^64 rounded to f64, then one multiplication or
 * division by a power of ten: 1 ulp off the correctly rounded value for some
 * texts (-9.160168647766113 reads as -9.160168647766112). Unigram's Viterbi
 * breaks exact ties between segmentations by strict comparison, so the ulp
 * decides which one wins; we read the shortest text that gives d (what
 * Python's json and serde_json write) the same way. */
static double serde_f64(double d) {
    char text[40];
    if (!isfinite(d) || d == 0) return d;
    /* A text of at most 15 digits whose powers of ten stay within 1e22 reads exactly (the significand is
     * below 2^53 and serde_json rounds once, as strtod); only the rest needs the shortest text. */
    bool exact_range = fabs(d) >= 1e-7 && fabs(d) < 1e15;
    int p = exact_range ? 15 : 1;
    for (; p <= 17; p++) {
        snprintf(text, sizeof text, "%.*g", p, d);
        if (strtod(text, NULL) == d) break;
    }
    if (exact_range && p == 15) return d;
    uint64_t significand = 0;
    int exponent = 0;
    bool fraction = false;
    const char *c = text + (text[0] == '-');
    for (; *c && *c != 'e'; c++) {
        if (*c == '.') fraction = true;
        else significand = significand * 10 + (uint64_t)(*c - '0'), exponent -= fraction;
    }
    if (*c == 'e') exponent += atoi(c + 1);
    double f = (double)significand;
    for (; exponent < -308; exponent += 308) f /= 1e308;
    char pow10[16]; /* serde_json's table: 1e0 .. 1e308, each the literal's f64 */
    snprintf(pow10, sizeof pow10, "1e%d", exponent < 0 ? -exponent : exponent);
    f = exponent < 0 ? f / strtod(pow10, NULL) : f * strtod(pow10, NULL);
    return text[0] == '-' ? -f : f;
}

/* model.vocab [[piece, score], ...]: piece i has id i. */
static vt_status unigram(const char *file, const cJSON *m, bool exact_scores, vt_tokenizer *t) {
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(m, "vocab");
    int n = cJSON_GetArraySize(vocab);
    if (!cJSON_IsArray(vocab) || n < 1)
        return vt_error(VT_ERR_FORMAT, "%s: model.vocab must be a non-empty list of [piece, score]", file);
    int64_t unk;
    bool byte_fallback;
    vt_status st;
    const cJSON *unk_item = cJSON_GetObjectItemCaseSensitive(m, "unk_id");
    if (!unk_item || cJSON_IsNull(unk_item))
        return vt_tj_unsupported(file, "model.unk_id", "a Unigram model without an unknown token (null)");
    if ((st = vt_tj_int(file, "model", m, "unk_id", 0, n - 1, 0, &unk)) != VT_OK ||
        (st = vt_tj_bool(file, "model", m, "byte_fallback", false, &byte_fallback)) != VT_OK)
        return st;
    const char **pieces = malloc((size_t)n * sizeof *pieces);
    size_t *lens = malloc((size_t)n * sizeof *lens);
    double *scores = malloc((size_t)n * sizeof *scores);
    st = pieces && lens && scores ? VT_OK : vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
    int i = 0;
    for (const cJSON *e = vocab->child; st == VT_OK && e; e = e->next, i++) {
        const cJSON *p = cJSON_GetArrayItem(e, 0), *s = cJSON_GetArrayItem(e, 1);
        if (!cJSON_IsArray(e) || cJSON_GetArraySize(e) != 2 || !cJSON_IsString(p) || !cJSON_IsNumber(s))
            st = vt_error(VT_ERR_FORMAT, "%s: model.vocab[%d] must be [piece, score]", file, i);
        else
            pieces[i] = p->valuestring, lens[i] = strlen(p->valuestring), scores[i] = exact_scores ? s->valuedouble : serde_f64(s->valuedouble);
    }
    if (st == VT_OK && !(t->model_vocab = vt_wp_vocab_from_tokens(pieces, lens, n))) st = vt_last_status();
    if (st == VT_OK && !(t->unigram = vt_unigram_new(t->model_vocab, scores, (int32_t)unk, byte_fallback, file)))
        st = vt_last_status();
    free(pieces);
    free(lens);
    free(scores);
    t->model = VT_MODEL_UNIGRAM;
    t->unk_id = (int32_t)unk;
    return st;
}

vt_status vt_tj_model(const char *file, const cJSON *m, bool exact_scores, vt_tokenizer *t) {
    const char *type = vt_tj_type(m);
    if (!cJSON_IsObject(m)) return vt_error(VT_ERR_FORMAT, "%s: \"model\" is missing", file);
    if (!type) { /* older files leave the type out: tell the models apart by their fields */
        if (cJSON_GetObjectItemCaseSensitive(m, "merges")) type = "BPE";
        else if (cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(m, "vocab"))) type = "Unigram";
        else if (cJSON_GetObjectItemCaseSensitive(m, "continuing_subword_prefix")) type = "WordPiece";
        else return vt_error(VT_ERR_FORMAT, "%s: model needs a \"type\"", file);
    }
    if (!strcmp(type, "WordPiece")) return wordpiece(file, m, t);
    if (!strcmp(type, "BPE")) return bpe(file, m, t);
    if (!strcmp(type, "Unigram")) return unigram(file, m, exact_scores, t);
    return vt_tj_unsupported(file, "model", type);
}

vt_status vt_tj_added_tokens(const char *file, const cJSON *added, vt_tokenizer *t) {
    if (!added || cJSON_IsNull(added)) return VT_OK;
    if (!cJSON_IsArray(added)) return vt_error(VT_ERR_FORMAT, "%s: added_tokens must be a list", file);
    int n = cJSON_GetArraySize(added), i = 0;
    if (!(t->added = calloc((size_t)n + 1, sizeof *t->added))) return vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
    for (const cJSON *a = added->child; a; a = a->next, i++) {
        char where[64];
        snprintf(where, sizeof where, "added_tokens[%d]", i);
        const char *content;
        int64_t id;
        vt_added_token *tok = &t->added[t->n_added];
        vt_status st;
        if ((st = vt_tj_string(file, where, a, "content", &content)) != VT_OK ||
            (st = vt_tj_int(file, where, a, "id", 0, INT32_MAX - 1, -1, &id)) != VT_OK ||
            (st = vt_tj_bool(file, where, a, "special", false, &tok->special)) != VT_OK ||
            (st = vt_tj_bool(file, where, a, "lstrip", false, &tok->lstrip)) != VT_OK ||
            (st = vt_tj_bool(file, where, a, "rstrip", false, &tok->rstrip)) != VT_OK ||
            (st = vt_tj_bool(file, where, a, "single_word", false, &tok->single_word)) != VT_OK ||
            (st = vt_tj_bool(file, where, a, "normalized", !tok->special, &tok->normalized)) != VT_OK)
            return st;
        if (!content || !content[0] || id < 0)
            return vt_error(VT_ERR_FORMAT, "%s: %s needs a non-empty content and an id", file, where);
        if (!(tok->content = strdup(content))) return vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
        tok->match = tok->content;
        tok->len = tok->match_len = (int32_t)strlen(content);
        tok->id = (int32_t)id;
        t->n_added++;
    }
    return VT_OK;
}

vt_status vt_tj_full_vocab(const char *file, vt_tokenizer *t) {
    const vt_wp_vocab *mv = t->model_vocab;
    int32_t n = mv->n;
    bool same = true; /* every added token is the model's own token at its id */
    for (int i = 0; i < t->n_added; i++) {
        const vt_added_token *a = &t->added[i];
        if (a->id >= n) n = a->id + 1;
        same &= a->id < mv->n && mv->tok_len[a->id] == a->len && !memcmp(mv->arena + mv->tok_off[a->id], a->content, (size_t)a->len);
    }
    if (same) {
        t->vocab = t->model_vocab;
        return VT_OK;
    }
    const char **tokens = calloc((size_t)n, sizeof *tokens);
    size_t *lens = calloc((size_t)n, sizeof *lens);
    if (!tokens || !lens) {
        free(tokens);
        free(lens);
        return vt_error(VT_ERR_NOMEM, "%s: out of memory", file);
    }
    for (int32_t id = 0; id < mv->n; id++) tokens[id] = mv->arena + mv->tok_off[id], lens[id] = (size_t)mv->tok_len[id];
    for (int i = 0; i < t->n_added; i++) tokens[t->added[i].id] = t->added[i].content, lens[t->added[i].id] = (size_t)t->added[i].len;
    vt_status st = VT_OK;
    for (int32_t id = mv->n; id < n && st == VT_OK; id++)
        if (!tokens[id])
            st = vt_error(VT_ERR_FORMAT, "%s: no token has id %d (model.vocab ends at %d; added_tokens skip it)", file, id,
                          mv->n - 1);
    if (st == VT_OK && !(t->vocab = vt_wp_vocab_from_tokens(tokens, lens, n))) st = vt_last_status();
    free(tokens);
    free(lens);
    return st;
}
