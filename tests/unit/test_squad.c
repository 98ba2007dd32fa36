/* Extractive question answering: the SQuAD reader, features against
 * transformers (run_qa.py's prepare_*_features with the real tokenizers),
 * post-processing against utils_qa's logic and the question-answering
 * pipeline, scores against the official evaluation scripts' logic
 * (reference: tests/ref/gen_squad.py -> $VT_REF_DIR/squad_ref.json). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"
#include "verto/fileio.h"
#include "verto/squad.h"
#include "verto/tokenizer.h"
#include "vt_test.h"

static const char *ref_dir(void) { return getenv("VT_REF_DIR") ? getenv("VT_REF_DIR") : "build/ref"; }

static char *ref_file(const char *name) {
    static char path[4][512];
    static int k;
    char *p = path[k++ % 4];
    snprintf(p, sizeof path[0], "%s/%s", ref_dir(), name);
    return p;
}

static cJSON *g_ref;

/* squad_ref.json, parsed once. */
static const cJSON *ref(void) {
    if (g_ref) return g_ref;
    char *data;
    size_t len;
    if (vt_read_file(ref_file("squad_ref.json"), (size_t)1 << 30, &data, &len) != VT_OK) fail_msg("%s", vt_last_error());
    const char *why;
    size_t at;
    g_ref = vt_json_parse(data, len, &why, &at);
    free(data);
    if (!g_ref) fail_msg("squad_ref.json: %s at %zu", why, at);
    return g_ref;
}

static const cJSON *get(const cJSON *o, const char *key) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!v) fail_msg("reference lacks '%s'", key);
    return v;
}

/* A JSON list of numbers as int32 (malloc'd); *n its length. */
static int32_t *ints(const cJSON *list, size_t *n) {
    size_t m = (size_t)cJSON_GetArraySize(list), i = 0;
    int32_t *v = malloc((m ? m : 1) * sizeof *v);
    const cJSON *x;
    cJSON_ArrayForEach(x, list) v[i++] = (int32_t)x->valuedouble;
    if (n) *n = m;
    return v;
}

static float *floats(const cJSON *list, size_t *n) {
    size_t m = (size_t)cJSON_GetArraySize(list), i = 0;
    float *v = malloc((m ? m : 1) * sizeof *v);
    const cJSON *x;
    cJSON_ArrayForEach(x, list) v[i++] = (float)x->valuedouble;
    if (n) *n = m;
    return v;
}

static const char *const TOKS[] = {"wordpiece", "roberta", "xlmr"};

static vt_tokenizer *load_tok(const char *name) {
    char path[512];
    if (!strcmp(name, "wordpiece")) snprintf(path, sizeof path, "tests/data/tokenizer/uncased");
    else snprintf(path, sizeof path, "%s/squad_tok_%s", ref_dir(), name);
    vt_tokenizer *t = vt_tok_load(path, NULL);
    if (!t) fail_msg("%s: %s", path, vt_last_error());
    return t;
}

static vt_squad load_synth(const char *file, int version) {
    vt_squad d;
    vt_squad_options o;
    vt_squad_options_default(&o);
    o.version = version;
    if (vt_squad_load(ref_file(file), &o, &d) != VT_OK) fail_msg("%s", vt_last_error());
    return d;
}

static void options_for(const char *setting, vt_qa_options *o) {
    vt_qa_options_default(o);
    if (!strcmp(setting, "small")) {
        o->max_length = 64;
        o->doc_stride = 16;
    } else if (!strcmp(setting, "ctxfirst")) {
        o->max_length = 80;
        o->doc_stride = 20;
        o->context_first = true;
    }
}

/* Compares `n` rows of got with the reference list `key`; reports the first difference. */
static void same_rows(const char *what, const char *key, const int32_t *got, const cJSON *fr, size_t n) {
    size_t m;
    int32_t *want = ints(get(fr, key), &m);
    if (m != n) fail_msg("%s %s: %zu rows, reference %zu", what, key, n, m);
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) fail_msg("%s %s: row %zu is %d, reference %d", what, key, i, got[i], want[i]);
    free(want);
}

static void test_features(void **state) {
    (void)state;
    vt_squad d = load_synth("squad_synth.json", 0);
    assert_int_equal(d.version, 2);
    static const char *const SETTINGS[] = {"std", "small", "ctxfirst"};
    for (size_t k = 0; k < 3; k++) {
        vt_tokenizer *t = load_tok(TOKS[k]);
        for (size_t s = 0; s < 3; s++) {
            const cJSON *fr = get(get(get(ref(), "features"), TOKS[k]), SETTINGS[s]);
            char what[64];
            snprintf(what, sizeof what, "%s/%s", TOKS[k], SETTINGS[s]);
            vt_qa_options o;
            options_for(SETTINGS[s], &o);
            vt_qa_features tr, ev;
            vt_qa_features_init(&tr);
            vt_qa_features_init(&ev);
            if (vt_qa_features_build(t, &d, &o, true, &tr) != VT_OK) fail_msg("%s: %s", what, vt_last_error());
            if (vt_qa_features_build(t, &d, &o, false, &ev) != VT_OK) fail_msg("%s: %s", what, vt_last_error());
            size_t nf;
            int32_t *lens = ints(get(fr, "len"), &nf);
            if (tr.n != nf || ev.n != nf) fail_msg("%s: %zu / %zu features, reference %zu", what, tr.n, ev.n, nf);
            for (size_t i = 0; i < nf; i++)
                if (vt_qa_feature_len(&tr, i) != lens[i] || vt_qa_feature_len(&ev, i) != lens[i])
                    fail_msg("%s: feature %zu has %d tokens, reference %d", what, i, vt_qa_feature_len(&tr, i), lens[i]);
            free(lens);
            size_t rows = (size_t)tr.first[tr.n];
            same_rows(what, "example", tr.example, fr, tr.n);
            same_rows(what, "example", ev.example, fr, ev.n);
            same_rows(what, "ids", tr.ids, fr, rows);
            same_rows(what, "ids", ev.ids, fr, rows);
            if (cJSON_IsTrue(get(fr, "types_first_window_only"))) {
                /* tokenizers' overflowing windows of a TemplateProcessing tokenizer take the cut input's
                 * sequence index as type id; verto keeps the template's (see vt_tok_encode_overflow) */
                size_t m;
                int32_t *want = ints(get(fr, "type_ids"), &m);
                assert_int_equal(m, rows);
                for (size_t i = 0; i < tr.n; i++)
                    if (i == 0 || tr.example[i] != tr.example[i - 1])
                        for (int64_t r = tr.first[i]; r < tr.first[i + 1]; r++) assert_int_equal(tr.type_ids[r], want[r]);
                free(want);
            } else same_rows(what, "type_ids", tr.type_ids, fr, rows);
            same_rows(what, "seq", tr.seq, fr, rows);
            same_rows(what, "seq", ev.seq, fr, rows);
            same_rows(what, "word", ev.word, fr, rows);
            same_rows(what, "char_start", ev.char_start, fr, rows);
            same_rows(what, "char_end", ev.char_end, fr, rows);
            same_rows(what, "start_positions", tr.start_position, fr, tr.n);
            same_rows(what, "end_positions", tr.end_position, fr, tr.n);
            assert_null(tr.word);
            assert_null(ev.start_position);
            /* byte offsets give the same text as the character ones */
            for (size_t i = 0; i < ev.n; i++)
                for (int64_t r = ev.first[i]; r < ev.first[i + 1]; r++) {
                    if (!vt_qa_in_context(&ev, r)) continue;
                    size_t clen;
                    const char *c = vt_squad_context(&d, (size_t)ev.example[i], &clen);
                    int32_t chars = 0;
                    for (int32_t b = 0; b < ev.byte_start[r]; b++) chars += ((unsigned char)c[b] & 0xC0) != 0x80;
                    assert_int_equal(chars, ev.char_start[r]);
                }
            printf("  %s: %zu features, %zu tokens: ids, types, sequence and word ids, offsets and labels equal\n",
                   what, nf, rows);
            vt_qa_features_free(&tr);
            vt_qa_features_free(&ev);
        }
        vt_tok_free(t);
    }
    vt_squad_free(&d);
}

/* utils_qa.postprocess_qa_predictions on seeded logits of the "small"
 * validation features: predictions and null odds exactly (the same float32
 * sums), n-best texts and logits exactly, probabilities within 1e-6 (verto's
 * softmax runs in double, numpy's in float32). */
static void test_postprocess(void **state) {
    (void)state;
    vt_squad d = load_synth("squad_synth.json", 0);
    static const char *const CASES[] = {"v1", "v2", "v2_thresh", "v2_padded"};
    double worst_prob = 0;
    for (size_t k = 0; k < 3; k++) {
        vt_tokenizer *t = load_tok(TOKS[k]);
        vt_qa_options qo;
        options_for("small", &qo);
        vt_qa_features f;
        vt_qa_features_init(&f);
        if (vt_qa_features_build(t, &d, &qo, false, &f) != VT_OK) fail_msg("%s", vt_last_error());
        for (size_t c = 0; c < 4; c++) {
            const cJSON *cr = get(get(get(ref(), "post"), TOKS[k]), CASES[c]);
            vt_qa_post_options po;
            vt_qa_post_options_default(&po);
            po.version_2_with_negative = cJSON_IsTrue(get(cr, "v2"));
            po.null_score_diff_threshold = get(cr, "threshold")->valuedouble;
            int64_t row_len = (int64_t)get(cr, "row_len")->valuedouble;
            size_t ns, ne;
            float *sl = floats(get(cr, "start"), &ns), *el = floats(get(cr, "end"), &ne);
            assert_int_equal(ns, row_len ? (size_t)row_len * f.n : (size_t)f.first[f.n]);
            vt_qa_predictions p;
            if (vt_qa_postprocess(&d, &f, sl, el, row_len, &po, &p) != VT_OK) fail_msg("%s", vt_last_error());
            assert_int_equal(p.n, d.n);
            const cJSON *preds = get(cr, "predictions"), *diffs = get(cr, "score_diff"), *nbest = get(cr, "nbest");
            size_t nonempty = 0;
            for (size_t q = 0; q < d.n; q++) {
                const char *want = cJSON_GetArrayItem(preds, (int)q)->valuestring;
                if (strcmp(p.p[q].text, want))
                    fail_msg("%s/%s question %zu: '%s', reference '%s'", TOKS[k], CASES[c], q, p.p[q].text, want);
                nonempty += *want != '\0';
                const cJSON *diff = cJSON_GetArrayItem(diffs, (int)q);
                if (cJSON_IsNull(diff)) assert_true(isnan(p.p[q].score_diff));
                else if ((float)diff->valuedouble != p.p[q].score_diff)
                    fail_msg("%s/%s question %zu: null odds %.9g, reference %.9g", TOKS[k], CASES[c], q,
                             p.p[q].score_diff, diff->valuedouble);
                const cJSON *nb = cJSON_GetArrayItem(nbest, (int)q);
                if (p.p[q].n_best != cJSON_GetArraySize(nb))
                    fail_msg("%s/%s question %zu: %d n-best, reference %d", TOKS[k], CASES[c], q, p.p[q].n_best,
                             cJSON_GetArraySize(nb));
                for (int32_t i = 0; i < p.p[q].n_best; i++) {
                    const cJSON *w = cJSON_GetArrayItem(nb, i);
                    const vt_qa_candidate *g = &p.p[q].nbest[i];
                    if (strcmp(g->text, get(w, "text")->valuestring))
                        fail_msg("%s/%s question %zu n-best %d: '%s', reference '%s'", TOKS[k], CASES[c], q, i, g->text,
                                 get(w, "text")->valuestring);
                    assert_true(g->start_logit == (float)get(w, "start_logit")->valuedouble);
                    assert_true(g->end_logit == (float)get(w, "end_logit")->valuedouble);
                    double dp = fabs(g->probability - get(w, "probability")->valuedouble);
                    if (dp > worst_prob) worst_prob = dp;
                    if (dp > 1e-6) fail_msg("%s/%s question %zu n-best %d: probability %.9g, reference %.9g", TOKS[k],
                                            CASES[c], q, i, g->probability, get(w, "probability")->valuedouble);
                }
            }
            printf("  %s/%s: %zu predictions (%zu not empty) and their n-best lists equal\n", TOKS[k], CASES[c], d.n,
                   nonempty);
            vt_qa_predictions_free(&p);
            free(sl);
            free(el);
        }
        vt_qa_features_free(&f);
        vt_tok_free(t);
    }
    printf("  largest probability difference %.3g (tolerance 1e-6)\n", worst_prob);
    vt_squad_free(&d);
}

/* The question-answering pipeline's answers on seeded logits: texts, starts
 * and ends exactly; scores within 1e-6 relative (softmax sums: verto adds in
 * double, numpy in float32 pairs; a product of two float32 probabilities
 * differs by a few float32 roundings, ~3e-7 relative). */
static void test_pipeline(void **state) {
    (void)state;
    vt_squad d = load_synth("squad_synth.json", 0);
    static const char *const CASES[] = {"default", "topk_null", "no_align", "null_wins"};
    double worst = 0;
    for (size_t k = 0; k < 3; k++) {
        vt_tokenizer *t = load_tok(TOKS[k]);
        for (size_t c = 0; c < 4; c++) {
            const cJSON *cr = get(get(get(ref(), "pipeline"), TOKS[k]), CASES[c]);
            vt_qa_options qo;
            vt_qa_options_pipeline(&qo, 512);
            qo.max_length = (int32_t)get(cr, "max_seq_len")->valuedouble;
            qo.doc_stride = (int32_t)get(cr, "doc_stride")->valuedouble;
            vt_qa_pipeline_options po;
            vt_qa_pipeline_options_default(&po);
            po.top_k = (int32_t)get(cr, "top_k")->valuedouble;
            po.max_answer_len = (int32_t)get(cr, "max_answer_len")->valuedouble;
            po.handle_impossible_answer = cJSON_IsTrue(get(cr, "handle_impossible_answer"));
            po.align_to_words = cJSON_IsTrue(get(cr, "align_to_words"));
            vt_qa_features f;
            vt_qa_features_init(&f);
            for (size_t q = 0; q < d.n; q++) {
                size_t clen;
                const char *ctx = vt_squad_context(&d, q, &clen);
                if (vt_qa_features_add(t, d.ex[q].question, d.ex[q].question_len, ctx, clen, (int32_t)q, &qo, &f) != VT_OK)
                    fail_msg("%s", vt_last_error());
            }
            size_t fi = 0, n_answers = 0, nulls = 0;
            const cJSON *qs = get(cr, "questions");
            for (size_t q = 0; q < d.n; q++) {
                const cJSON *qr = cJSON_GetArrayItem(qs, (int)q);
                size_t count = 0;
                while (fi + count < f.n && f.example[fi + count] == (int32_t)q) count++;
                assert_int_equal(count, (size_t)get(qr, "spans")->valuedouble);
                float *sl = floats(get(qr, "start"), NULL), *el = floats(get(qr, "end"), NULL);
                size_t clen;
                const char *ctx = vt_squad_context(&d, q, &clen);
                vt_qa_answer ans[8];
                int32_t n;
                if (vt_qa_pipeline_answer(&f, fi, count, ctx, clen, sl, el, 0, &po, ans, &n) != VT_OK)
                    fail_msg("%s", vt_last_error());
                const cJSON *want = get(qr, "answers");
                if (n != cJSON_GetArraySize(want))
                    fail_msg("%s/%s question %zu: %d answers, reference %d", TOKS[k], CASES[c], q, n,
                             cJSON_GetArraySize(want));
                for (int32_t i = 0; i < n; i++) {
                    const cJSON *w = cJSON_GetArrayItem(want, i);
                    if (strcmp(ans[i].answer, get(w, "answer")->valuestring) || ans[i].start != get(w, "start")->valuedouble
                        || ans[i].end != get(w, "end")->valuedouble)
                        fail_msg("%s/%s question %zu answer %d: '%s' (%d, %d), reference '%s' (%g, %g)", TOKS[k],
                                 CASES[c], q, i, ans[i].answer, ans[i].start, ans[i].end, get(w, "answer")->valuestring,
                                 get(w, "start")->valuedouble, get(w, "end")->valuedouble);
                    double ws = get(w, "score")->valuedouble, rel = fabs(ans[i].score - ws) / fmax(fabs(ws), 1e-30);
                    if (rel > worst) worst = rel;
                    if (rel > 1e-6) fail_msg("%s/%s question %zu answer %d: score %.9g, reference %.9g", TOKS[k],
                                             CASES[c], q, i, ans[i].score, ws);
                }
                n_answers += (size_t)n;
                for (int32_t i = 0; i < n; i++) nulls += !ans[i].answer[0];
                vt_qa_answers_free(ans, n);
                free(sl);
                free(el);
                fi += count;
            }
            assert_int_equal(fi, f.n);
            printf("  %s/%s: %zu questions, %zu features, %zu answers (%zu empty) equal\n", TOKS[k], CASES[c], d.n, f.n,
                   n_answers, nulls);
            vt_qa_features_free(&f);
        }
        vt_tok_free(t);
    }
    printf("  largest relative score difference %.3g (tolerance 1e-6)\n", worst);
    vt_squad_free(&d);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_postprocess),
        cmocka_unit_test(test_pipeline),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    cJSON_Delete(g_ref);
    return rc;
}
