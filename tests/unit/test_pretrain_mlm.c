/* MLM-only pretraining data (objective VT_PT_MLM, RoBERTa's FULL-SENTENCES):
 * the corpus's lines packed into [CLS] X [SEP] sequences of up to
 * max_seq_length tokens across documents, every token of every pass kept
 * once, unmasked (dynamic masking), no segments or NSP labels; the manifest
 * names the objective (an older one without the key reads as MLM + NSP), and
 * a run's batches carry no NSP labels. The same with RoBERTa's byte-level BPE
 * (<s> X </s>, <mask>), which cannot mask whole words. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/fileio.h"
#include "verto/pretrain_data.h"
#include "vt_test.h"

#define CORPUS "tests/data/pretrain/sotu_sample.txt"
#define VOCAB "tests/data/tokenizer/uncased/vocab.txt"

/* BERT's WordPiece, or (roberta) a byte-level BPE trained by tokenizers (gen_tok_pipelines.py). */
static vt_tokenizer *load_tok(bool roberta) {
    vt_tok_options o;
    vt_tok_options_default(&o);
    o.split_special_tokens = true;
    char path[4096];
    const char *ref = getenv("VT_REF_DIR") ? getenv("VT_REF_DIR") : "build/ref";
    snprintf(path, sizeof path, "%s/tok_pipe_roberta/tokenizer.json", ref);
    vt_tokenizer *t = vt_tok_load(roberta ? path : VOCAB, &o);
    if (!t) fail_msg("%s", vt_last_error());
    return t;
}

static char *join(const char *a, const char *b) {
    char *p = NULL;
    assert_true(asprintf(&p, "%s/%s", a, b) > 0);
    return p;
}

/* counts (V): how often each id occurs in the corpus's lines (no special tokens). */
static void corpus_counts(const vt_tokenizer *tok, int64_t *counts) {
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(vt_read_file(CORPUS, (size_t)1 << 30, &text, &len), VT_OK);
    vt_tok_encode_opts eo;
    vt_tok_encode_opts_default(&eo);
    eo.add_special_tokens = false;
    vt_tok_encoding e;
    vt_tok_encoding_init(&e);
    for (char *line = text, *end; line < text + len; line = end + 1) {
        end = memchr(line, '\n', (size_t)(text + len - line));
        if (!end) end = text + len;
        assert_int_equal(vt_tok_encode(tok, line, (size_t)(end - line), NULL, 0, &eo, &e), VT_OK);
        for (int32_t i = 0; i < e.len; i++) counts[e.ids[i]]++;
    }
    vt_tok_encoding_free(&e);
    free(text);
}

static void packed_instances(bool roberta) {
    vt_tokenizer *tok = load_tok(roberta);
    vt_tok_special sp = vt_tok_special_ids(tok);
    int32_t V = vt_wp_vocab_size(vt_tok_vocab(tok)), S = 128, dupe = 2;
    char *dir = test_tmpdir(), *out = join(dir, "mlm");
    vt_pt_options o;
    vt_pt_options_default(&o);
    o.objective = VT_PT_MLM;
    o.dynamic_masking = true;
    o.max_seq_length = S;
    o.dupe_factor = dupe;
    o.shuffle_buffer = 50;
    const char *files[] = {CORPUS};
    vt_pt_stats st;
    if (vt_pt_prepare(tok, files, 1, out, &o, NULL, NULL, &st) != VT_OK) fail_msg("%s", vt_last_error());

    vt_pt_dataset *ds = vt_pt_open(out, vt_tok_vocab(tok));
    if (!ds) fail_msg("%s", vt_last_error());
    const vt_pt_info *info = vt_pt_get_info(ds);
    assert_int_equal(info->objective, VT_PT_MLM);
    assert_false(info->masked);
    int64_t *want = calloc((size_t)V, sizeof *want), *got = calloc((size_t)V, sizeof *got);
    corpus_counts(tok, want);
    int64_t n = vt_pt_size(ds), full = 0, tokens = 0, separators = 0;
    for (int64_t i = 0; i < n; i++) {
        vt_pt_instance x;
        assert_int_equal(vt_pt_get(ds, i, &x), VT_OK);
        assert_true(x.n_tokens >= 3 && x.n_tokens <= S);
        assert_int_equal(x.tokens[0], sp.cls);
        assert_int_equal(x.tokens[x.n_tokens - 1], sp.sep);
        assert_int_equal(x.is_random_next, 0);
        assert_int_equal(x.n_masked, 0);
        for (int32_t t = 0; t < x.n_tokens; t++) assert_int_equal(x.segment_ids[t], 0);
        for (int32_t t = 1; t < x.n_tokens - 1; t++) {
            if (x.tokens[t] == sp.sep) separators++; /* between documents */
            else got[x.tokens[t]]++;
        }
        full += x.n_tokens == S;
        tokens += x.n_tokens;
    }
    /* Every token of the corpus, once per pass (but for a last instance of under 5 tokens, dropped). */
    int64_t missing = 0;
    for (int32_t v = 0; v < V; v++) {
        if (v == sp.sep) continue;
        if (got[v] > dupe * want[v])
            fail_msg("token %d: %lld in the instances, %lld x %d in the corpus", v, (long long)got[v], (long long)want[v],
                     dupe);
        missing += dupe * want[v] - got[v];
    }
    printf("    tokens of the corpus not in an instance: %lld\n", (long long)missing);
    assert_true(missing <= 2);
    /* Packed: the instances are mostly full (whole lines that do not fit leave room at the end). */
    double fill = (double)tokens / ((double)n * S);
    printf("    %lld instances of up to %d tokens, %.1f%% of them full, %.1f%% filled, %lld document separators\n",
           (long long)n, S, 100.0 * (double)full / (double)n, 100.0 * fill, (long long)separators);
    assert_true(fill > 0.75); /* whole lines: sotu_sample.txt's are long */
    assert_true(separators > 0);
    assert_int_equal(st.random_next, 0);

    /* A run over it: batches with MLM labels drawn at load time and no NSP labels. */
    vt_pt_run_options ro = {.seed = 3, .batch_size = 8};
    vt_pt_run *run = vt_pt_run_new(ds, NULL, tok, &ro);
    if (!run) fail_msg("%s", vt_last_error());
    assert_false(vt_pt_run_has_nsp(run));
    vt_bert_batch b;
    int64_t real;
    assert_int_equal(vt_pt_run_batch(run, 0, 8, &b, &real), VT_OK);
    assert_null(b.nsp_labels);
    assert_non_null(b.mlm_labels);
    int64_t labelled = 0;
    for (int64_t i = 0; i < b.batch * b.seq_len; i++) labelled += b.mlm_labels[i] != VT_PT_IGNORE_INDEX;
    assert_true(labelled > 0);
    int64_t as_mask = 0; /* masked: never the sequence's ends; mostly replaced by [MASK] (<mask>) */
    for (int64_t i = 0; i < b.batch * b.seq_len; i++) {
        if (b.mlm_labels[i] == VT_PT_IGNORE_INDEX) continue;
        assert_true(b.mlm_labels[i] != sp.cls && b.mlm_labels[i] != sp.sep);
        as_mask += b.input_ids[i] == sp.mask;
    }
    assert_true(as_mask > labelled / 2);
    vt_pt_run_free(run);
    vt_pt_close(ds);
    free(want), free(got), free(out);
    test_remove_dir(dir);
    vt_tok_free(tok);
}

static void test_packed_instances(void **state) { packed_instances(false); }
static void test_packed_instances_roberta(void **state) { packed_instances(true); }

/* Whole-word masking needs "##" pieces: a byte-level BPE is refused, naming its model. */
static void test_whole_word_needs_wordpiece(void **state) {
    vt_tokenizer *tok = load_tok(true);
    vt_pt_mask_options mo;
    vt_pt_mask_options_default(&mo);
    mo.whole_word_mask = true;
    assert_null(vt_pt_masker_new(tok, &mo, 64));
    assert_int_equal(vt_last_status(), VT_ERR_UNSUPPORTED);
    assert_non_null(strstr(vt_last_error(), "BPE"));
    printf("    %s\n", vt_last_error());
    mo.whole_word_mask = false;
    vt_pt_masker *m = vt_pt_masker_new(tok, &mo, 64);
    assert_non_null(m);
    vt_pt_masker_free(m);
    vt_tok_free(tok);
}

/* Sentence pairs say so in the manifest; a manifest without the key (before it existed) means them too. */
static void test_manifest_objective(void **state) {
    vt_tokenizer *tok = load_tok(false);
    char *dir = test_tmpdir(), *out = join(dir, "pairs"), *manifest = join(out, "manifest.json");
    vt_pt_options o;
    vt_pt_options_default(&o);
    o.dupe_factor = 1;
    const char *files[] = {CORPUS};
    assert_int_equal(vt_pt_prepare(tok, files, 1, out, &o, NULL, NULL, NULL), VT_OK);
    char *text = NULL;
    size_t len = 0;
    assert_int_equal(vt_read_file(manifest, 1 << 20, &text, &len), VT_OK);
    assert_non_null(strstr(text, "\"objective\":\t\"mlm+nsp\""));
    cJSON *j = cJSON_ParseWithLength(text, len);
    free(text);
    assert_non_null(j);
    cJSON_DeleteItemFromObjectCaseSensitive(j, "objective");
    text = cJSON_Print(j);
    assert_int_equal(vt_write_file_atomic(manifest, text, strlen(text)), VT_OK);
    free(text);
    vt_pt_dataset *ds = vt_pt_open(out, vt_tok_vocab(tok));
    if (!ds) fail_msg("%s", vt_last_error());
    assert_int_equal(vt_pt_get_info(ds)->objective, VT_PT_MLM_NSP);
    vt_pt_close(ds);

    cJSON_AddStringToObject(j, "objective", "nsp");
    text = cJSON_Print(j);
    assert_int_equal(vt_write_file_atomic(manifest, text, strlen(text)), VT_OK);
    free(text);
    cJSON_Delete(j);
    assert_null(vt_pt_open(out, vt_tok_vocab(tok)));
    assert_non_null(strstr(vt_last_error(), "objective"));
    printf("    unknown objective: %s\n", vt_last_error());
    assert_string_equal(vt_pt_objective_name(VT_PT_MLM), "mlm");
    vt_pt_objective obj;
    assert_true(vt_pt_objective_parse("mlm+nsp", &obj) && obj == VT_PT_MLM_NSP);
    assert_false(vt_pt_objective_parse("nsp", &obj));
    free(out), free(manifest);
    test_remove_dir(dir);
    vt_tok_free(tok);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packed_instances),
        cmocka_unit_test(test_packed_instances_roberta),
        cmocka_unit_test(test_whole_word_needs_wordpiece),
        cmocka_unit_test(test_manifest_objective),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
