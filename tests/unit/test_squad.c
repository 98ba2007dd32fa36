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

/* ---- the reader ---- */

static vt_squad parse_ok(const char *text, const char *name, int version, bool skip) {
    vt_squad_options o;
    vt_squad_options_default(&o);
    o.version = version;
    o.skip_bad_rows = skip;
    vt_squad d;
    if (vt_squad_parse(text, strlen(text), name, &o, &d) != VT_OK) fail_msg("%s: %s", name, vt_last_error());
    return d;
}

/* Parsing fails with VT_ERR_FORMAT and a message holding every one of want[] (NULL-ended); *out is left empty. */
static void parse_fails(const char *text, size_t len, const char *name, int version, const char *const *want) {
    vt_squad_options o;
    vt_squad_options_default(&o);
    o.version = version;
    vt_squad d;
    memset(&d, 0x5a, sizeof d);
    vt_status st = vt_squad_parse(text, len, name, &o, &d);
    if (st == VT_OK) fail_msg("%s parsed, but should fail", name);
    assert_int_equal(st, VT_ERR_FORMAT);
    printf("  %s -> %s\n", name, vt_last_error());
    for (size_t i = 0; want[i]; i++)
        if (!strstr(vt_last_error(), want[i])) fail_msg("message '%s' lacks '%s'", vt_last_error(), want[i]);
    assert_int_equal(d.n, 0);
    assert_null(d.ex);
    assert_null(d.contexts);
}

#define FAILS(text, name, version, ...)                                       \
    do {                                                                      \
        static const char *const want_[] = {__VA_ARGS__, NULL};                \
        parse_fails(text, strlen(text), name, version, want_);                \
    } while (0)

static void test_reader(void **state) {
    (void)state;
    /* the JSON file and the JSONL rows hold the same questions */
    vt_squad a = load_synth("squad_synth.json", 0), b = load_synth("squad_synth.jsonl", 2);
    assert_int_equal(a.format, VT_SQUAD_JSON);
    assert_int_equal(b.format, VT_SQUAD_JSONL);
    assert_int_equal(a.n, 56);
    assert_int_equal(a.n, b.n);
    assert_int_equal(a.n_answers, b.n_answers);
    assert_int_equal(a.n_impossible, 8);
    assert_int_equal(b.n_impossible, 8);
    for (size_t q = 0; q < a.n; q++) {
        assert_string_equal(a.ex[q].id, b.ex[q].id);
        assert_string_equal(a.ex[q].question, b.ex[q].question);
        assert_string_equal(vt_squad_context(&a, q, NULL), vt_squad_context(&b, q, NULL));
        assert_int_equal(a.ex[q].n_answers, b.ex[q].n_answers);
        assert_int_equal(b.ex[q].line, (int64_t)q + 1);
        for (int32_t k = 0; k < a.ex[q].n_answers; k++) {
            const vt_squad_answer *x = &a.answers[a.ex[q].first_answer + (size_t)k];
            const vt_squad_answer *y = &b.answers[b.ex[q].first_answer + (size_t)k];
            assert_string_equal(x->text, y->text);
            assert_int_equal(x->start, y->start);
            assert_int_equal(x->byte_start, y->byte_start);
            assert_memory_equal(vt_squad_context(&a, q, NULL) + x->byte_start, x->text, x->len);
        }
    }
    vt_squad_free(&a);
    vt_squad_free(&b);

    /* characters, not bytes: answer_start counts code points */
    const char *uni = "{\"version\": \"1.1\", \"data\": [{\"title\": \"t\", \"paragraphs\": [{\"context\": "
                      "\"na\\u00efve caf\\u00e9 \xE6\x9D\xB1\xE4\xBA\xAC \xF0\x9F\x98\x80 end\", \"qas\": ["
                      "{\"id\": \"u1\", \"question\": \"where?\", \"answers\": [{\"text\": \"\xE6\x9D\xB1\xE4\xBA\xAC\", "
                      "\"answer_start\": 11}, {\"text\": \"end\", \"answer_start\": 16}]},"
                      "{\"id\": 7, \"question\": \"what?\", \"answers\": [{\"text\": \"caf\xC3\xA9\", \"answer_start\": 6}]}]}]}]}";
    vt_squad d = parse_ok(uni, "u.json", 0, false);
    assert_int_equal(d.version, 1);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.n_contexts, 1);
    assert_int_equal(d.answers[0].start, 11);
    assert_int_equal(d.answers[0].byte_start, 13);
    assert_int_equal(d.answers[0].char_len, 2);
    assert_int_equal(d.answers[1].byte_start, 25);
    assert_string_equal(d.ex[1].id, "7");
    assert_int_equal(d.answers[2].byte_start, 7);
    vt_squad_free(&d);

    /* the Hugging Face layout saved as .json (datasets' to_json writes lines); rows of one paragraph share it */
    const char *rows = "{\"id\": \"a\", \"question\": \"q1\", \"context\": \"one two\", \"answers\": {\"text\": [\"two\"], \"answer_start\": [4]}}\n"
                       "\n"
                       "{\"id\": \"b\", \"question\": \"q2\", \"context\": \"one two\", \"answers\": {\"text\": [], \"answer_start\": []}}\r\n";
    d = parse_ok(rows, "hf.json", 2, false);
    assert_int_equal(d.format, VT_SQUAD_JSONL);
    assert_int_equal(d.n, 2);
    assert_int_equal(d.n_contexts, 1);
    assert_int_equal(d.ex[1].n_answers, 0);
    assert_int_equal(d.ex[1].line, 3);
    vt_squad_free(&d);
    FAILS(rows, "hf.jsonl", 0, "hf.jsonl: line 3 (question 'b')", "no answers", "version 2");

    /* v2 JSON: is_impossible says so */
    const char *v2 = "{\"version\": \"v2.0\", \"data\": [{\"paragraphs\": [{\"context\": \"abc\", \"qas\": ["
                     "{\"id\": \"x\", \"question\": \"q\", \"answers\": [], \"is_impossible\": true, "
                     "\"plausible_answers\": [{\"text\": \"b\", \"answer_start\": 1}]}]}]}]}";
    d = parse_ok(v2, "v2.json", 0, false);
    assert_int_equal(d.version, 2);
    assert_int_equal(d.n_impossible, 1);
    vt_squad_free(&d);
    FAILS(v2, "v2.json", 1, "v2.json: question 'x' (data[0].paragraphs[0].qas[0])", "no answers");

    /* bad questions, each named */
#define QA(body) "{\"data\": [{\"paragraphs\": [{\"context\": \"The cat sat.\", \"qas\": [" body "]}]}]}"
    FAILS(QA("{\"id\": \"m\", \"question\": \"q\", \"answers\": [{\"text\": \"cat\", \"answer_start\": 5}]}"), "s.json", 0,
          "s.json: question 'm' (data[0].paragraphs[0].qas[0])", "answer_start 5 reads 'at ', not the answer 'cat'");
    FAILS(QA("{\"id\": \"m\", \"question\": \"q\", \"answers\": [{\"text\": \"cat\", \"answer_start\": 99}]}"), "s.json", 0,
          "question 'm'", "past the context's end (12 characters)");
    FAILS(QA("{\"id\": \"m\", \"question\": \"q\", \"answers\": [{\"text\": \"cat\", \"answer_start\": 4.5}]}"), "s.json", 0,
          "question 'm'", "not a whole number");
    FAILS(QA("{\"id\": \"m\", \"question\": \"q\", \"answers\": [{\"text\": \"\", \"answer_start\": 4}]}"), "s.json", 0,
          "question 'm'", "empty text");
    FAILS(QA("{\"id\": \"m\", \"question\": \"\", \"answers\": [{\"text\": \"cat\", \"answer_start\": 4}]}"), "s.json", 0,
          "question 'm'", "empty question");
    FAILS(QA("{\"id\": \"m\", \"answers\": [{\"text\": \"cat\", \"answer_start\": 4}]}"), "s.json", 0, "no \"question\"");
    FAILS(QA("{\"question\": \"q\", \"answers\": [{\"text\": \"cat\", \"answer_start\": 4}]}"), "s.json", 0,
          "qas[0]", "no \"id\"");
    FAILS(QA("{\"id\": \"m\", \"question\": \"q\"}"), "s.json", 0, "question 'm'", "no \"answers\"");
    FAILS(QA("{\"id\": \"m\", \"question\": \"q\", \"answers\": [{\"text\": \"cat\", \"answer_start\": 4}], \"is_impossible\": true}"),
          "s.json", 0, "question 'm'", "is_impossible, yet 1 answers");
    FAILS(QA("{\"id\": \"m\", \"question\": \"q\", \"answers\": [{\"text\": \"cat\", \"answer_start\": 4}]},"
             "{\"id\": \"m\", \"question\": \"q2\", \"answers\": [{\"text\": \"sat\", \"answer_start\": 8}]}"),
          "s.json", 0, "qas[1]", "id 'm' appears twice");
    FAILS("{\"data\": [{\"paragraphs\": [{\"qas\": []}]}]}", "s.json", 0, "s.json: data[0].paragraphs[0]", "\"context\"");
    FAILS("{\"data\": {}}", "s.json", 0, "s.json: no \"data\" list");
    FAILS("{\"data\": [{\"paragraphs\": [{\"context\": \"x\", \"qas\": [}]}]}", "s.json", 0, "s.json:1: invalid JSON");
    FAILS("{\"data\": [\n{\"paragraphs\": [{\"context\": \"\xC3\x28\", \"qas\": []}]}]}", "s.json", 0,
          "s.json:2: invalid UTF-8 (byte 0xC3)");
    FAILS("", "s.json", 0, "s.json:1: invalid JSON");
    FAILS("{\"data\": []}", "s.json", 0, "s.json: no questions");
    FAILS("{\"id\": \"a\", \"question\": \"q\", \"context\": \"x\xFFy\", \"answers\": {\"text\": [\"x\"], \"answer_start\": [0]}}\n",
          "s.jsonl", 0, "s.jsonl: line 1", "invalid UTF-8 (byte 0xFF)");
    FAILS("{\"id\": \"a\", \"question\": \"q\", \"context\": \"xy\", \"answers\": {\"text\": [\"x\"], \"answer_start\": [0, 1]}}\n",
          "s.jsonl", 0, "line 1 (question 'a')", "1 answer texts but 2 answer_start values");
    FAILS("{\"id\": \"a\", \"question\": \"q\", \"context\": \"xy\", \"answers\": [{\"text\": \"x\", \"answer_start\": 0}]}\n",
          "s.jsonl", 0, "line 1 (question 'a')", "\"answers\" missing or not an object");
    FAILS("{\"id\": \"a\", \"question\": \"q\", \"context\": \"xy\", \"answers\": {\"text\": [\"x\"], \"answer_start\": [0]}}\n[1]\n",
          "s.jsonl", 0, "s.jsonl: line 2", "not a JSON object");

    /* skip_bad_rows: the good questions stay, the bad ones are counted with notes */
    d = parse_ok(QA("{\"id\": \"m\", \"question\": \"q\", \"answers\": [{\"text\": \"cat\", \"answer_start\": 5}]},"
                    "{\"id\": \"n\", \"question\": \"q\", \"answers\": [{\"text\": \"cat\", \"answer_start\": 4}]},"
                    "{\"id\": \"n\", \"question\": \"q\", \"answers\": [{\"text\": \"sat\", \"answer_start\": 8}]}"),
                 "k.json", 0, true);
    assert_int_equal(d.n, 1);
    assert_string_equal(d.ex[0].id, "n");
    assert_int_equal(d.n_skipped, 2);
    assert_int_equal(d.n_notes, 2);
    assert_non_null(strstr(d.notes[0], "k.json: question 'm'"));
    assert_non_null(strstr(d.notes[1], "appears twice"));
    vt_squad_free(&d);
    vt_squad_options so;
    vt_squad_options_default(&so);
    so.skip_bad_rows = true;
    const char *all_bad = QA("{\"id\": \"m\", \"question\": \"q\", \"answers\": [{\"text\": \"cat\", \"answer_start\": 5}]}");
    assert_int_equal(vt_squad_parse(all_bad, strlen(all_bad), "k.json", &so, &d), VT_ERR_FORMAT);
    assert_non_null(strstr(vt_last_error(), "every question is malformed (1 skipped"));
#undef QA
    /* a file that is not there */
    assert_int_equal(vt_squad_load("/nonexistent/squad.json", NULL, &d), VT_ERR_IO);
    assert_int_equal(d.n, 0);
}

/* Features: errors name the question; the pipeline's options. */
static void test_feature_errors(void **state) {
    (void)state;
    vt_tokenizer *t = load_tok("wordpiece");
    vt_squad d = parse_ok("{\"data\": [{\"paragraphs\": [{\"context\": \"one two three four five six seven eight nine ten\", "
                          "\"qas\": [{\"id\": \"long\", \"question\": \"a question with a good many words in it\", "
                          "\"answers\": [{\"text\": \"three\", \"answer_start\": 8}]}, "
                          "{\"id\": \"four\", \"question\": \"a question with a good many words in it\", "
                          "\"answers\": [{\"text\": \"four\", \"answer_start\": 14}]}]}]}]}",
                          "e.json", 0, false);
    vt_qa_options o;
    vt_qa_options_default(&o);
    o.max_length = 12; /* 3 special tokens + 9 question tokens: no room */
    vt_qa_features f;
    vt_qa_features_init(&f);
    assert_int_equal(vt_qa_features_build(t, &d, &o, true, &f), VT_ERR_INVALID_ARG);
    printf("  %s\n", vt_last_error());
    assert_non_null(strstr(vt_last_error(), "question 'long'"));
    assert_non_null(strstr(vt_last_error(), "leaves no room"));
    o.max_length = 16; /* windows of 4 context tokens; a stride of 4 is too many */
    o.doc_stride = 4;
    assert_int_equal(vt_qa_features_build(t, &d, &o, true, &f), VT_ERR_INVALID_ARG);
    printf("  %s\n", vt_last_error());
    assert_non_null(strstr(vt_last_error(), "stride 4 must be less than the 4 tokens"));
    o.doc_stride = 1; /* 3 new tokens per window: the 10 context tokens in windows starting at 0, 3, 6 */
    assert_int_equal(vt_qa_features_build(t, &d, &o, true, &f), VT_OK);
    assert_int_equal(f.n, 6);
    /* (these labels are what transformers' tokenizer + run_qa's label code give for this input: start
     * [13, 0, 0, 15, 11, 0], end [13, 0, 0, 14, 11, 0]) */
    /* "four" ends window 0: run_qa's search runs on into [SEP] (offsets (0, 0)) and labels its start there,
     * its end on "three"; in window 1 it is the first context token */
    assert_int_equal(f.start_position[3], 15);
    assert_int_equal(f.end_position[3], 14);
    assert_int_equal(f.start_position[4], 11);
    assert_int_equal(f.end_position[4], 11);
    assert_int_equal(f.start_position[5], 0);
    /* "three", context token 2, is token 11 + 2 of window 0 ([CLS], 9 question tokens, [SEP]); outside the others */
    assert_int_equal(f.start_position[0], 13);
    assert_int_equal(f.end_position[0], 13);
    assert_int_equal(f.start_position[1], 0);
    assert_int_equal(f.end_position[2], 0);
    for (size_t i = 0; i < 3; i++) assert_int_equal(vt_qa_feature_len(&f, i), i < 2 ? 16 : 16);
    vt_qa_features ev;
    vt_qa_features_init(&ev);
    assert_int_equal(vt_qa_features_build(t, &d, &o, false, &f), VT_ERR_INVALID_ARG); /* no mixing */
    assert_non_null(strstr(vt_last_error(), "evaluation features cannot join training ones"));
    vt_qa_post_options po;
    vt_qa_post_options_default(&po);
    vt_qa_predictions p;
    float logits[256] = {0};
    assert_int_equal(vt_qa_postprocess(&d, &f, logits, logits, 16, &po, &p), VT_ERR_INVALID_ARG);
    assert_non_null(strstr(vt_last_error(), "training features"));
    assert_int_equal(vt_qa_features_build(t, &d, &o, false, &ev), VT_OK);
    assert_int_equal(vt_qa_postprocess(&d, &ev, logits, logits, 8, &po, &p), VT_ERR_INVALID_ARG);
    assert_non_null(strstr(vt_last_error(), "has 16 tokens, the logit rows 8"));
    logits[3] = NAN;
    assert_int_equal(vt_qa_postprocess(&d, &ev, logits, logits, 16, &po, &p), VT_ERR_INVALID_ARG);
    assert_non_null(strstr(vt_last_error(), "NaN"));
    logits[3] = 0;
    /* all-equal logits: the later position first, as numpy's argsort reversed; a v1 answer comes out */
    assert_int_equal(vt_qa_postprocess(&d, &ev, logits, logits, 16, &po, &p), VT_OK);
    assert_int_equal(p.n, 2);
    assert_true(p.p[0].n_best >= 1);
    vt_qa_predictions_free(&p);
    vt_qa_pipeline_options pp;
    vt_qa_pipeline_options_default(&pp);
    assert_int_equal(pp.top_k, 1);
    assert_int_equal(pp.max_answer_len, 15);
    assert_true(pp.align_to_words);
    vt_qa_options_pipeline(&o, 128);
    assert_int_equal(o.max_length, 128);
    assert_int_equal(o.doc_stride, 64);
    assert_true(o.keep_question_space);
    vt_qa_options_pipeline(&o, 512);
    assert_int_equal(o.max_length, 384);
    assert_int_equal(o.doc_stride, 128);
    vt_qa_features_free(&f);
    vt_qa_features_free(&ev);
    vt_squad_free(&d);
    vt_tok_free(t);
}

static void close_to(const char *what, double got, double want) {
    if (!(fabs(got - want) <= 1e-9)) fail_msg("%s: %.17g, reference %.17g", what, got, want);
}

/* The official scripts' logic: normalize_answer strings equal, pair scores
 * and whole-set scores within 1e-9 (the same double sums in the same order:
 * they come out equal). */
static void test_metrics(void **state) {
    (void)state;
    const cJSON *m = get(ref(), "metrics");
    const cJSON *pair;
    size_t n_pairs = 0;
    cJSON_ArrayForEach(pair, get(m, "pairs")) {
        const char *gold = get(pair, "gold")->valuestring, *pred = get(pair, "pred")->valuestring;
        char *ng, *np;
        assert_int_equal(vt_squad_normalize_answer(gold, strlen(gold), &ng, NULL), VT_OK);
        assert_int_equal(vt_squad_normalize_answer(pred, strlen(pred), &np, NULL), VT_OK);
        if (strcmp(ng, get(pair, "norm_gold")->valuestring))
            fail_msg("normalize_answer('%s') = '%s', reference '%s'", gold, ng, get(pair, "norm_gold")->valuestring);
        if (strcmp(np, get(pair, "norm_pred")->valuestring))
            fail_msg("normalize_answer('%s') = '%s', reference '%s'", pred, np, get(pair, "norm_pred")->valuestring);
        free(ng);
        free(np);
        double ex, f1;
        assert_int_equal(vt_squad_score_pair(gold, strlen(gold), pred, strlen(pred), 1, &ex, &f1), VT_OK);
        close_to("exact", ex, get(pair, "exact")->valuedouble);
        close_to("f1 v1", f1, get(pair, "f1_v1")->valuedouble);
        assert_int_equal(vt_squad_score_pair(gold, strlen(gold), pred, strlen(pred), 2, &ex, &f1), VT_OK);
        close_to("exact", ex, get(pair, "exact")->valuedouble);
        close_to("f1 v2", f1, get(pair, "f1_v2")->valuedouble);
        n_pairs++;
    }
    printf("  %zu pairs: normalized texts, exact match and F1 (v1, v2) equal\n", n_pairs);
    static const char *const CASES[] = {"v1", "v2", "v2_na", "v2_na_thresh"};
    for (size_t c = 0; c < 4; c++) {
        const cJSON *cr = get(m, CASES[c]);
        vt_squad d = load_synth(c == 0 ? "squad_synth_v1.json" : "squad_synth.json", 0);
        assert_int_equal(d.version, c == 0 ? 1 : 2);
        const char **pred = calloc(d.n, sizeof *pred);
        double *na = NULL;
        const cJSON *preds = get(cr, "predictions"), *nas = cJSON_GetObjectItemCaseSensitive(cr, "na_probs");
        if (nas) na = calloc(d.n, sizeof *na);
        for (size_t q = 0; q < d.n; q++) {
            const cJSON *p = cJSON_GetObjectItemCaseSensitive(preds, d.ex[q].id);
            pred[q] = p ? p->valuestring : NULL;
            if (na) na[q] = get(nas, d.ex[q].id)->valuedouble;
        }
        vt_squad_eval_options o;
        vt_squad_eval_options_default(&o);
        const cJSON *th = cJSON_GetObjectItemCaseSensitive(cr, "thresh");
        if (th) o.na_prob_thresh = th->valuedouble;
        vt_squad_scores s;
        if (vt_squad_evaluate(&d, pred, na, &o, NULL, NULL, &s) != VT_OK) fail_msg("%s", vt_last_error());
        const cJSON *want = get(cr, "scores");
        close_to("exact", s.exact, get(want, "exact")->valuedouble);
        close_to("f1", s.f1, get(want, "f1")->valuedouble);
        assert_int_equal(s.total, (int64_t)get(want, "total")->valuedouble);
        if (c > 0) {
            close_to("HasAns_exact", s.has_ans_exact, get(want, "HasAns_exact")->valuedouble);
            close_to("HasAns_f1", s.has_ans_f1, get(want, "HasAns_f1")->valuedouble);
            assert_int_equal(s.has_ans_total, (int64_t)get(want, "HasAns_total")->valuedouble);
            close_to("NoAns_exact", s.no_ans_exact, get(want, "NoAns_exact")->valuedouble);
            close_to("NoAns_f1", s.no_ans_f1, get(want, "NoAns_f1")->valuedouble);
            assert_int_equal(s.no_ans_total, (int64_t)get(want, "NoAns_total")->valuedouble);
        }
        assert_int_equal(s.has_best, na != NULL);
        if (na) {
            close_to("best_exact", s.best_exact, get(want, "best_exact")->valuedouble);
            close_to("best_exact_thresh", s.best_exact_thresh, get(want, "best_exact_thresh")->valuedouble);
            close_to("best_f1", s.best_f1, get(want, "best_f1")->valuedouble);
            close_to("best_f1_thresh", s.best_f1_thresh, get(want, "best_f1_thresh")->valuedouble);
        }
        printf("  %s: exact %.4f f1 %.4f over %lld questions", CASES[c], s.exact, s.f1, (long long)s.total);
        if (na) printf(", best exact %.4f (thresh %.2f) best f1 %.4f (thresh %.2f)", s.best_exact, s.best_exact_thresh,
                       s.best_f1, s.best_f1_thresh);
        printf(": equal\n");
        free(pred);
        free(na);
        vt_squad_free(&d);
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reader),
        cmocka_unit_test(test_feature_errors),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_postprocess),
        cmocka_unit_test(test_pipeline),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    cJSON_Delete(g_ref);
    return rc;
}
