/* A packed batch (vt_bert_batch.offsets: sequences of different lengths
 * concatenated, no padding) gives every sequence the bits it gets alone:
 * hidden states, pooled output, sequence and token logits, question
 * answering's start and end logits. Checked for a sequence classifier (full
 * and cls_only), a token classifier, a question-answering model and a
 * BertModel, in BERT and RoBERTa (whose positions count from the padding
 * index), in fp32, bf16 and int8, at 1 and 2 threads, with lengths from 1 to
 * past a 64-row block of the dense layers' products. "Alone" is the padded
 * path with one sequence of its own length, what verto predict ran before
 * packing. No tolerance: equality is the property. Also: what a packed batch
 * refuses, and vt_task_run's packed rows of a token classifier and of
 * question answering against each row's padded forward alone (test_task
 * checks classification and embeddings the same way). */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "verto/bert.h"
#include "verto/rng.h"
#include "verto/task.h"
#include "verto/tokenizer.h"
#include "vt_test.h"

#define VOCAB 60
#define NSEQ 7
static const int64_t LENGTHS[NSEQ] = {7, 1, 70, 12, 3, 66, 12};

static vt_bert *make_model(vt_bert_family family, vt_bert_arch arch, int64_t hidden, int64_t heads) {
    vt_bert_config c;
    vt_bert_config_default_family(&c, family, arch);
    c.vocab_size = VOCAB;
    c.hidden_size = hidden;
    c.num_hidden_layers = 2;
    c.num_attention_heads = heads;
    c.intermediate_size = 2 * hidden + 6;
    c.max_position_embeddings = 80;
    c.num_labels = arch == VT_BERT_FOR_QUESTION_ANSWERING ? 2 : 3;
    c.initializer_range = 0.1f;
    vt_bert *m = vt_bert_new(&c, 17);
    if (!m) fail_msg("vt_bert_new: %s", vt_last_error());
    return m;
}

static void same(const char *what, const float *alone, const float *packed, int64_t n, const char *ctx) {
    if ((alone == NULL) != (packed == NULL)) fail_msg("%s: %s present in one run only", ctx, what);
    if (alone && memcmp(alone, packed, (size_t)n * sizeof *alone))
        fail_msg("%s: %s differs from the sequence alone", ctx, what);
}

static void check_model(vt_bert_family family, vt_bert_arch arch, bool cls_only, vt_precision precision) {
    vt_bert *m = make_model(family, arch, 48, 3);
    assert_int_equal(vt_bert_set_precision(m, precision), VT_OK);
    const vt_bert_config *c = vt_bert_get_config(m);
    int64_t off[NSEQ + 1] = {0}, H = c->hidden_size, L = c->num_labels;
    for (int i = 0; i < NSEQ; i++) off[i + 1] = off[i] + LENGTHS[i];
    int64_t N = off[NSEQ];
    int32_t ids[256], types[256], ones[256];
    vt_rng r;
    vt_rng_seed(&r, 5);
    for (int64_t i = 0; i < N; i++) {
        ids[i] = 2 + (int32_t)vt_rng_below(&r, VOCAB - 2); /* (no padding id: RoBERTa's is 1) */
        types[i] = c->type_vocab_size > 1 ? (int32_t)vt_rng_below(&r, 2) : 0;
        ones[i] = 1;
    }
    bool per_token = arch == VT_BERT_FOR_TOKEN_CLASSIFICATION || arch == VT_BERT_FOR_QUESTION_ANSWERING;
    int threads = omp_get_max_threads();
    for (int t = 1; t <= 2; t++) {
        omp_set_num_threads(t);
        vt_bert_batch packed = {.batch = NSEQ, .input_ids = ids, .token_type_ids = types, .offsets = off,
                                .cls_only = cls_only};
        vt_bert_outputs p;
        if (vt_bert_forward(m, &packed, false, 0, &p) != VT_OK) fail_msg("packed forward: %s", vt_last_error());
        /* copies: the next forward reuses the arena */
        int64_t hidden_rows = cls_only ? NSEQ : N, logit_rows = per_token ? N : NSEQ;
        float *hidden = malloc((size_t)(hidden_rows * H) * sizeof *hidden);
        float *pooled = p.pooled ? malloc((size_t)(NSEQ * H) * sizeof *pooled) : NULL;
        float *logits = p.logits ? malloc((size_t)(logit_rows * L) * sizeof *logits) : NULL;
        float *span = p.start_logits ? malloc((size_t)(2 * N) * sizeof *span) : NULL;
        assert_non_null(hidden);
        memcpy(hidden, p.last_hidden_state, (size_t)(hidden_rows * H) * sizeof *hidden);
        if (pooled) memcpy(pooled, p.pooled, (size_t)(NSEQ * H) * sizeof *pooled);
        if (logits) memcpy(logits, p.logits, (size_t)(logit_rows * L) * sizeof *logits);
        if (span) {
            memcpy(span, p.start_logits, (size_t)N * sizeof *span);
            memcpy(span + N, p.end_logits, (size_t)N * sizeof *span);
        }
        for (int i = 0; i < NSEQ; i++) {
            int64_t T = LENGTHS[i], o = off[i];
            omp_set_num_threads(1);
            vt_bert_batch alone = {.batch = 1, .seq_len = T, .input_ids = ids + o, .token_type_ids = types + o,
                                   .attention_mask = ones, .cls_only = cls_only};
            vt_bert_outputs a;
            if (vt_bert_forward(m, &alone, false, 0, &a) != VT_OK) fail_msg("forward alone: %s", vt_last_error());
            char ctx[200];
            snprintf(ctx, sizeof ctx, "%s %s%s %s: sequence %d (%lld tokens) packed with %d others at %d threads",
                     vt_bert_family_name(family), vt_bert_arch_name(arch), cls_only ? " cls_only" : "",
                     vt_precision_name(precision), i, (long long)T, NSEQ - 1, t);
            same("last_hidden_state", a.last_hidden_state, hidden + (cls_only ? i : o) * H, (cls_only ? 1 : T) * H,
                 ctx);
            same("pooled", a.pooled, pooled ? pooled + i * H : NULL, H, ctx);
            same("logits", a.logits, logits ? logits + (per_token ? o : i) * L : NULL, (per_token ? T : 1) * L, ctx);
            same("start_logits", a.start_logits, span ? span + o : NULL, T, ctx);
            same("end_logits", a.end_logits, span ? span + N + o : NULL, T, ctx);
        }
        free(hidden), free(pooled), free(logits), free(span);
    }
    omp_set_num_threads(threads);
    vt_bert_free(m);
}

static void test_sequence_classifier(void **state) {
    (void)state;
    for (int p = 0; p < 3; p++) {
        check_model(VT_FAMILY_BERT, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, false, (vt_precision)p);
        check_model(VT_FAMILY_BERT, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, true, (vt_precision)p);
        check_model(VT_FAMILY_ROBERTA, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, true, (vt_precision)p);
    }
}

static void test_token_outputs(void **state) {
    (void)state;
    for (int p = 0; p < 3; p++) {
        check_model(VT_FAMILY_BERT, VT_BERT_FOR_TOKEN_CLASSIFICATION, false, (vt_precision)p);
        check_model(VT_FAMILY_BERT, VT_BERT_FOR_QUESTION_ANSWERING, false, (vt_precision)p);
        check_model(VT_FAMILY_ROBERTA, VT_BERT_FOR_QUESTION_ANSWERING, false, (vt_precision)p);
    }
}

static void test_embeddings(void **state) { /* BertModel's hidden states: what mean pooling reads */
    (void)state;
    for (int p = 0; p < 3; p++) {
        check_model(VT_FAMILY_BERT, VT_BERT_MODEL, false, (vt_precision)p);
        check_model(VT_FAMILY_DISTILBERT, VT_BERT_MODEL, false, (vt_precision)p);
    }
}

static void test_refusals(void **state) {
    (void)state;
    vt_bert *m = make_model(VT_FAMILY_BERT, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 32, 2);
    int32_t ids[10] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, labels[2] = {0, 1};
    int64_t off[3] = {0, 4, 10}, bad_start[3] = {1, 4, 10}, empty[3] = {0, 4, 4};
    vt_bert_batch in = {.batch = 2, .input_ids = ids, .offsets = off};
    vt_bert_outputs o;
    int32_t mask[10] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1}, start[2] = {0, 1};
    assert_int_equal(vt_bert_forward(m, &in, false, 0, &o), VT_OK);
    in.labels = labels; /* (training: test_packed_train) */
    assert_int_equal(vt_bert_forward(m, &in, true, 0, &o), VT_OK);
    assert_int_equal(vt_bert_backward(m, false), VT_OK);
    double sq[2];
    /* DP-SGD's per-example passes run on packed batches (test_dp_fast checks their values) */
    assert_int_equal(vt_bert_backward_examples(m, NULL, sq), VT_OK);
    assert_true(sq[0] > 0 && sq[1] > 0 && isfinite(sq[0]) && isfinite(sq[1]));
    in.attention_mask = mask;
    assert_int_equal(vt_bert_forward(m, &in, true, 0, &o), VT_ERR_INVALID_ARG);
    in.attention_mask = NULL;
    in.start_positions = in.end_positions = start;
    assert_int_equal(vt_bert_forward(m, &in, true, 0, &o), VT_ERR_INVALID_ARG);
    assert_non_null(strstr(vt_last_error(), "question-answering labels"));
    in.start_positions = in.end_positions = NULL;
    in.labels = NULL;
    in.offsets = bad_start;
    assert_int_equal(vt_bert_forward(m, &in, false, 0, &o), VT_ERR_INVALID_ARG);
    in.offsets = empty;
    assert_int_equal(vt_bert_forward(m, &in, false, 0, &o), VT_ERR_INVALID_ARG);
    assert_non_null(strstr(vt_last_error(), "sequence 1 has 0 tokens"));
    in.offsets = off;
    assert_int_equal(vt_bert_forward(m, &in, false, 0, &o), VT_OK);
    assert_null(vt_bert_attention_probs(m, 0)); /* (packed probabilities have no (B, heads, T, T) layout) */
    vt_bert_free(m);
    m = make_model(VT_FAMILY_BERT, VT_BERT_FOR_MASKED_LM, 32, 2);
    assert_int_equal(vt_bert_forward(m, &in, false, 0, &o), VT_ERR_INVALID_ARG);
    vt_bert_free(m);
}

/* vt_task_run packs rows of mixed lengths into one batch: each row's token
 * logits (a token classifier) or start and end logits (question answering)
 * equal the padded forward of that row alone. */
static void check_task_rows(vt_bert_arch arch, vt_task_kind kind, vt_task_output what) {
    static const char *const texts[] = {"free money now !", "lunch", "the meeting is tomorrow , the report and the lunch",
                                        "click click click to win", "win", "offers , meetings and reports"};
    enum { N_TEXTS = sizeof texts / sizeof *texts };
    char *dir = test_tiny_model(arch, 2);
    vt_task_options opt;
    vt_task_options_default(&opt);
    opt.kind = kind;
    opt.batch_size = 32;
    vt_task *t = vt_task_load(dir, &opt);
    if (!t) fail_msg("vt_task_load: %s", vt_last_error());
    vt_tok_encode_opts eo;
    vt_tok_encode_opts_default(&eo);
    eo.max_length = vt_task_max_length(t);
    vt_tok_encoding enc[N_TEXTS];
    const vt_tok_encoding *rows[N_TEXTS];
    float *out[N_TEXTS];
    for (int i = 0; i < N_TEXTS; i++) {
        vt_tok_encoding_init(&enc[i]);
        assert_int_equal(vt_tok_encode(vt_task_tokenizer(t), texts[i], strlen(texts[i]), NULL, 0, &eo, &enc[i]), VT_OK);
        rows[i] = &enc[i];
        out[i] = malloc(vt_task_row_floats(t, what, rows[i]) * sizeof(float));
        assert_non_null(out[i]);
    }
    assert_int_equal(vt_task_run(t, what, rows, N_TEXTS, out), VT_OK);
    int64_t K = vt_task_config(t)->num_labels;
    for (int i = 0; i < N_TEXTS; i++) {
        int64_t T = enc[i].len;
        vt_bert_batch b = {.batch = 1, .seq_len = T, .input_ids = enc[i].ids, .token_type_ids = enc[i].type_ids,
                           .attention_mask = enc[i].attention_mask};
        vt_bert_outputs o;
        assert_int_equal(vt_bert_forward(vt_task_model(t), &b, false, 0, &o), VT_OK);
        if (what == VT_OUT_TOKENS) {
            assert_memory_equal(out[i], o.logits, (size_t)(T * K) * sizeof(float));
        } else {
            assert_memory_equal(out[i], o.start_logits, (size_t)T * sizeof(float));
            assert_memory_equal(out[i] + T, o.end_logits, (size_t)T * sizeof(float));
        }
        free(out[i]);
        vt_tok_encoding_free(&enc[i]);
    }
    vt_task_free(t);
    test_remove_dir(dir);
}

static void test_task_rows(void **state) {
    (void)state;
    check_task_rows(VT_BERT_FOR_TOKEN_CLASSIFICATION, VT_TASK_TOKEN_CLASSIFICATION, VT_OUT_TOKENS);
    check_task_rows(VT_BERT_FOR_QUESTION_ANSWERING, VT_TASK_QUESTION_ANSWERING, VT_OUT_SPAN);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequence_classifier),
        cmocka_unit_test(test_token_outputs),
        cmocka_unit_test(test_embeddings),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_task_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
