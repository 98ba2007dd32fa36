/* Pre-split words and raw text against transformers (tests/ref/gen_ner.py):
 *  - vt_tok_encode_words gives the ids, word_ids() and offset_mapping
 *    (characters within each word) of the fast tokenizer with
 *    is_split_into_words=True, for a WordPiece (BERT uncased), a byte-level
 *    BPE (RoBERTa's, add_prefix_space false and true) and a sentencepiece
 *    Unigram (XLM-R's), over words with accents, CJK, emoji, punctuation
 *    runs, added tokens, empty words and words holding spaces; also
 *    truncated to 12 tokens and padded to 16;
 *  - vt_ner_align_labels gives run_ner.py's labels (label_all_tokens false
 *    and true);
 *  - vt_ner_aggregate gives TokenClassificationPipeline's entities (those
 *    four tokenizers and a BPE whose model has a "##" continuing prefix) under
 *    each aggregation_strategy (none, simple, first, average, max) for the
 *    same logits: labels, token indices, words and character offsets
 *    exactly, scores within 1e-6 (the pipeline's softmax and means run in
 *    float32, ours sum groups in double). */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/ner.h"
#include "verto/tokenizer.h"
#include "vt_test.h"

static const char *const TOKENIZERS[] = {"uncased", "roberta", "roberta_aps", "xlmr"};
/* and a BPE whose model has a continuing_subword_prefix, for the pipeline's subword rule */
static const char *const PIPE_TOKENIZERS[] = {"uncased", "roberta", "roberta_aps", "xlmr", "bpe_prefix"};
static const char *const NER_LABELS[] = {"B-LOC", "B-PER", "I-LOC", "I-PER", "O", "B-B-X", "I-I-X", "I-B-X"};

static vt_tokenizer *load(const char *name) {
    char path[4096], dir[256];
    if (!strcmp(name, "uncased")) snprintf(path, sizeof path, "tests/data/tokenizer/uncased");
    else {
        snprintf(dir, sizeof dir, "ner_tok_%s", name);
        ref_file_path(dir, path, sizeof path);
    }
    vt_tokenizer *t = vt_tok_load(path, NULL);
    if (!t) fail_msg("load %s: %s", path, vt_last_error());
    return t;
}

static const cJSON *item(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) fail_msg("reference: no \"%s\"", key);
    return v;
}

/* Compares n ints of got with the JSON array want; describes the first difference. */
static bool same_ints(const int32_t *got, int n, const cJSON *want, char *why, size_t size, const char *what) {
    if (cJSON_GetArraySize(want) != n) {
        snprintf(why, size, "%s: %d entries, transformers %d", what, n, cJSON_GetArraySize(want));
        return false;
    }
    int i = 0;
    for (const cJSON *w = want->child; w; w = w->next, i++)
        if (got[i] != w->valueint) {
            snprintf(why, size, "%s[%d]: %d, transformers %d", what, i, got[i], w->valueint);
            return false;
        }
    return true;
}

/* The encoding's offsets as characters within each token's word, flattened (len, 2). */
static void word_char_offsets(const vt_tok_encoding *e, const int32_t *wids, const char *const *words,
                              const size_t *lens, int32_t *out) {
    for (int32_t i = 0; i < e->len; i++) {
        out[2 * i] = e->offsets[2 * i];
        out[2 * i + 1] = e->offsets[2 * i + 1];
        if (wids[i] >= 0) vt_tok_offsets_to_chars(words[wids[i]], lens[wids[i]], &out[2 * i], 2);
    }
}

static bool same_offsets(const int32_t *got, int n, const cJSON *want, char *why, size_t size) {
    if (cJSON_GetArraySize(want) != n) {
        snprintf(why, size, "offsets: %d tokens, transformers %d", n, cJSON_GetArraySize(want));
        return false;
    }
    int i = 0;
    for (const cJSON *w = want->child; w; w = w->next, i++)
        if (got[2 * i] != cJSON_GetArrayItem(w, 0)->valueint || got[2 * i + 1] != cJSON_GetArrayItem(w, 1)->valueint) {
            snprintf(why, size, "offsets[%d]: (%d, %d), transformers (%d, %d)", i, got[2 * i], got[2 * i + 1],
                     cJSON_GetArrayItem(w, 0)->valueint, cJSON_GetArrayItem(w, 1)->valueint);
            return false;
        }
    return true;
}

static void test_words(void **state) {
    (void)state;
    cJSON *all = ref_json("ner_words.json");
    for (size_t k = 0; k < sizeof TOKENIZERS / sizeof *TOKENIZERS; k++) {
        vt_tokenizer *t = load(TOKENIZERS[k]);
        const cJSON *cases = item(all, TOKENIZERS[k]);
        vt_tok_encoding e;
        vt_tok_encoding_init(&e);
        int n_cases = 0, bad = 0, n_tokens = 0, n_short = 0;
        for (const cJSON *c = cases->child; c; c = c->next, n_cases++) {
            const cJSON *jw = item(c, "words");
            size_t nw = (size_t)cJSON_GetArraySize(jw), i = 0;
            const char **words = malloc((nw ? nw : 1) * sizeof *words);
            size_t *lens = malloc((nw ? nw : 1) * sizeof *lens);
            for (const cJSON *w = jw->child; w; w = w->next, i++) words[i] = w->valuestring, lens[i] = strlen(w->valuestring);
            char why[256] = "";
            assert_int_equal(vt_tok_encode_words(t, words, lens, nw, NULL, &e), VT_OK);
            const int32_t *wids = e.word_ids;
            int32_t *off = malloc((size_t)(e.len + 1) * 2 * sizeof *off);
            int32_t *labels = malloc((size_t)(e.len + 1) * sizeof *labels);
            int32_t *tags = malloc((nw ? nw : 1) * sizeof *tags);
            i = 0;
            for (const cJSON *g = item(c, "tags")->child; g; g = g->next) tags[i++] = g->valueint;
            word_char_offsets(&e, wids, words, lens, off);
            bool ok = same_ints(e.ids, e.len, item(c, "ids"), why, sizeof why, "ids") &&
                      same_ints(wids, e.len, item(c, "word_ids"), why, sizeof why, "word_ids") &&
                      same_offsets(off, e.len, item(c, "offsets"), why, sizeof why);
            n_tokens += e.len;
            for (int all_tokens = 0; all_tokens < 2 && ok; all_tokens++) {
                assert_int_equal(vt_ner_align_labels(wids, e.len, tags, nw, all_tokens, NER_LABELS, 8, labels), VT_OK);
                ok = same_ints(labels, e.len, item(c, all_tokens ? "labels_all" : "labels"), why, sizeof why,
                               all_tokens ? "labels (label_all_tokens)" : "labels");
            }
            const cJSON *sh = cJSON_GetObjectItemCaseSensitive(c, "short");
            if (ok && sh) { /* truncated to 12 tokens, padded to 16 */
                vt_tok_encode_opts o;
                vt_tok_encode_opts_default(&o);
                o.max_length = 12;
                o.pad_to = 16;
                assert_int_equal(vt_tok_encode_words(t, words, lens, nw, &o, &e), VT_OK);
                wids = e.word_ids;
                off = realloc(off, (size_t)e.len * 2 * sizeof *off);
                word_char_offsets(&e, wids, words, lens, off);
                ok = same_ints(e.ids, e.len, item(sh, "ids"), why, sizeof why, "truncated ids") &&
                     same_ints(e.attention_mask, e.len, item(sh, "attention_mask"), why, sizeof why, "attention") &&
                     same_ints(wids, e.len, item(sh, "word_ids"), why, sizeof why, "truncated word_ids") &&
                     same_offsets(off, e.len, item(sh, "offsets"), why, sizeof why);
                n_short++;
            }
            if (!ok && bad++ < 3) {
                printf("    %s case %d: %s; words:", TOKENIZERS[k], n_cases, why);
                for (i = 0; i < nw; i++) printf(" [%s]", words[i]);
                printf("\n");
            }
            free(words), free(lens), free(off), free(labels), free(tags);
        }
        printf("    %-12s %d sentences (%d tokens, %d truncated + padded): %d differ\n", TOKENIZERS[k], n_cases, n_tokens,
               n_short, bad);
        assert_true(n_cases >= 300);
        assert_int_equal(bad, 0);
        vt_tok_encoding_free(&e);
        vt_tok_free(t);
    }
    cJSON_Delete(all);
}

/* numpy's softmax in float32: exp(x - max) / sum. */
static void softmax(const float *logits, int n, int k, float *probs) {
    for (int i = 0; i < n; i++) {
        const float *x = logits + (size_t)i * (size_t)k;
        float *p = probs + (size_t)i * (size_t)k, m = x[0], s = 0;
        for (int j = 1; j < k; j++) m = x[j] > m ? x[j] : m;
        for (int j = 0; j < k; j++) s += p[j] = expf(x[j] - m);
        for (int j = 0; j < k; j++) p[j] /= s;
    }
}

/* The groups of one strategy against the pipeline's entities `want`; false with why on the first difference. */
static bool same_groups(const vt_ner_group *g, size_t ng, const cJSON *want, vt_ner_aggregation agg, double *worst,
                        char *why, size_t size) {
    if ((int)ng != cJSON_GetArraySize(want)) {
        snprintf(why, size, "%s: %zu entities, the pipeline %d", vt_ner_aggregation_name(agg), ng,
                 cJSON_GetArraySize(want));
        return false;
    }
    size_t j = 0;
    for (const cJSON *w = want->child; w; w = w->next, j++) {
        double d = fabs(g[j].score - item(w, "score")->valuedouble);
        *worst = d > *worst ? d : *worst;
        int index = item(w, "index")->valueint; /* none's token index; -1 for the grouping strategies */
        if (strcmp(g[j].entity_group, item(w, "entity_group")->valuestring) ||
            strcmp(g[j].word, item(w, "word")->valuestring) || g[j].start != item(w, "start")->valueint ||
            g[j].end != item(w, "end")->valueint || (index >= 0 && g[j].first != index) || !(d <= 1e-6)) {
            snprintf(why, size, "%s entity %zu: (%s, %.7f, %d, [%s], %d, %d), the pipeline (%s, %.7f, %d, [%s], %d, %d)",
                     vt_ner_aggregation_name(agg), j, g[j].entity_group, g[j].score, g[j].first, g[j].word, g[j].start,
                     g[j].end, item(w, "entity_group")->valuestring, item(w, "score")->valuedouble, index,
                     item(w, "word")->valuestring, item(w, "start")->valueint, item(w, "end")->valueint);
            return false;
        }
    }
    return true;
}

/* vt_ner_aggregate under each strategy against TokenClassificationPipeline.postprocess on the same logits. */
static void test_pipeline(void **state) {
    (void)state;
    static const vt_ner_aggregation AGGS[] = {VT_NER_AGG_NONE, VT_NER_AGG_SIMPLE, VT_NER_AGG_FIRST,
                                              VT_NER_AGG_AVERAGE, VT_NER_AGG_MAX};
    enum { N_AGGS = sizeof AGGS / sizeof *AGGS };
    cJSON *all = ref_json("ner_pipeline.json");
    const cJSON *jl = item(all, "labels");
    int K = cJSON_GetArraySize(jl), i = 0;
    const char **labels = malloc((size_t)K * sizeof *labels);
    for (const cJSON *l = jl->child; l; l = l->next) labels[i++] = l->valuestring;
    for (size_t k = 0; k < sizeof PIPE_TOKENIZERS / sizeof *PIPE_TOKENIZERS; k++) {
        vt_tokenizer *t = load(PIPE_TOKENIZERS[k]);
        vt_tok_encoding e;
        vt_tok_encoding_init(&e);
        int n_cases = 0, bad = 0, n_ent[N_AGGS] = {0};
        double worst = 0;
        for (const cJSON *c = item(item(all, "tokenizers"), PIPE_TOKENIZERS[k])->child; c; c = c->next, n_cases++) {
            const char *text = item(c, "text")->valuestring;
            size_t len = strlen(text);
            assert_int_equal(vt_tok_encode(t, text, len, NULL, 0, NULL, &e), VT_OK);
            char why[768] = "";
            bool ok = same_ints(e.ids, e.len, item(c, "ids"), why, sizeof why, "ids");
            const cJSON *jlog = item(c, "logits");
            if (ok && cJSON_GetArraySize(jlog) != e.len * K) fail_msg("logits of case %d: wrong size", n_cases);
            size_t nl = (size_t)cJSON_GetArraySize(jlog) + 1;
            float *logits = malloc(nl * sizeof *logits), *probs = malloc(nl * sizeof *probs);
            i = 0;
            for (const cJSON *x = jlog->child; x; x = x->next) logits[i++] = (float)x->valuedouble;
            if (ok) softmax(logits, e.len, K, probs);
            for (int a = 0; ok && a < N_AGGS; a++) {
                vt_ner_group *g = NULL;
                size_t ng = 0;
                assert_int_equal(vt_ner_aggregate(t, text, len, &e, probs, K, labels, AGGS[a], NULL, 0, &g, &ng), VT_OK);
                ok = same_groups(g, ng, item(item(c, "entities"), vt_ner_aggregation_name(AGGS[a])), AGGS[a], &worst,
                                 why, sizeof why);
                n_ent[a] += (int)ng;
                vt_ner_groups_free(g, ng);
            }
            if (!ok && bad++ < 3) printf("    %s case %d [%s]: %s\n", PIPE_TOKENIZERS[k], n_cases, text, why);
            free(logits), free(probs);
        }
        printf("    %-12s %d texts; entities none %d, simple %d, first %d, average %d, max %d: %d texts differ; "
               "scores max abs diff %.2g (tol 1e-6)\n", PIPE_TOKENIZERS[k], n_cases, n_ent[0], n_ent[1], n_ent[2], n_ent[3],
               n_ent[4], bad, worst);
        assert_int_equal(bad, 0);
        for (int a = 0; a < N_AGGS; a++) assert_true(n_ent[a] > 100);
        vt_tok_encoding_free(&e);
        vt_tok_free(t);
    }
    free(labels);
    cJSON_Delete(all);
}

/* The strategies' names, both ways; an unknown one refused. */
static void test_aggregation_names(void **state) {
    (void)state;
    vt_ner_aggregation a;
    for (int i = VT_NER_AGG_SIMPLE; i <= VT_NER_AGG_MAX; i++) {
        assert_true(vt_ner_aggregation_parse(vt_ner_aggregation_name((vt_ner_aggregation)i), &a));
        assert_int_equal(a, i);
    }
    assert_true(vt_ner_aggregation_parse("AVERAGE", &a)); /* the pipeline upper-cases the name */
    assert_int_equal(a, VT_NER_AGG_AVERAGE);
    assert_false(vt_ner_aggregation_parse("mean", &a));
    assert_false(vt_ner_aggregation_parse(NULL, &a));
}

/* Label alignment's own edges: label_all_tokens turns B- into I-, unlabelled words, errors. */
static void test_align_edges(void **state) {
    (void)state;
    static const char *const map[] = {"O", "B-PER", "I-PER", "B-MISC"};
    static const int32_t wids[] = {-1, 0, 0, 1, 1, 2, -1, -1};
    static const int32_t tags[] = {1, VT_NER_IGNORE, 3};
    int32_t got[8];
    assert_int_equal(vt_ner_align_labels(wids, 8, tags, 3, true, map, 4, got), VT_OK);
    static const int32_t want_all[] = {-100, 1, 2, -100, -100, 3, -100, -100}; /* B-MISC has no I-MISC: stays */
    assert_memory_equal(got, want_all, sizeof want_all);
    assert_int_equal(vt_ner_align_labels(wids, 8, tags, 3, false, NULL, 0, got), VT_OK);
    static const int32_t want_first[] = {-100, 1, -100, -100, -100, 3, -100, -100};
    assert_memory_equal(got, want_first, sizeof want_first);
    assert_int_equal(vt_ner_align_labels(wids, 8, tags, 2, false, NULL, 0, got), VT_ERR_INVALID_ARG); /* word 2 */
    static const int32_t bad_tag[] = {1, 9, 0};
    assert_int_equal(vt_ner_align_labels(wids, 8, bad_tag, 3, false, map, 4, got), VT_ERR_INVALID_ARG);
    int32_t per_word[4];
    static const int32_t pred[] = {0, 1, 2, 3, 3, 0, 0, 0};
    vt_ner_first_token_per_word(wids, 8, pred, per_word, 4);
    static const int32_t want_words[] = {1, 3, 0, -1};
    assert_memory_equal(per_word, want_words, sizeof want_words);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_aggregation_names),
        cmocka_unit_test(test_align_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
