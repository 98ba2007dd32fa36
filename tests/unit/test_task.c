/* The task layer (verto/task.h) on small model directories:
 * - the finishing maths: softmax of the windows' mean logits in double
 *   (exact against hand-computed values), unit length;
 * - classify and embed against the model run by hand on each input alone
 *   (vt_tok_encode + vt_bert_forward + the same maths): equal bit for bit, at
 *   batch sizes 1 and 32, on inputs of mixed lengths;
 * - evaluate: its predictions are classify's argmax, its metrics and loss
 *   those of the predictions;
 * - fill-mask: the top predictions and their probabilities from the MLM logits;
 * - loading refuses what a kind cannot use: a classifier without a trained
 *   head, fill-mask on a classifier, a bad option. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/task.h"
#include "vt_test.h"

#define N_WORDS TEST_TINY_N_WORDS

static const char *const TEXTS[] = {
    "free money now !", "the meeting is tomorrow", "click click click to win", "lunch",
    "a report on the project , the meeting and the lunch offer", "win win win win win win win win win win win win win",
    "offers , meetings and reports", "free lunch", "the [MASK] is tomorrow", "[MASK] money [MASK] !",
};
#define N_TEXTS (sizeof TEXTS / sizeof *TEXTS)

static char *make_model(vt_bert_arch arch) { return test_tiny_model(arch, 2); }
static void remove_model(char *dir) { test_remove_dir(dir); }

static vt_task *load(const char *dir, vt_task_kind kind, int32_t batch) {
    vt_task_options o;
    vt_task_options_default(&o);
    o.kind = kind;
    o.batch_size = batch;
    vt_task *t = vt_task_load(dir, &o);
    if (!t) fail_msg("vt_task_load: %s", vt_last_error());
    return t;
}

static void inputs(vt_text_input *in) {
    for (size_t i = 0; i < N_TEXTS; i++) in[i] = (vt_text_input){TEXTS[i], strlen(TEXTS[i]), NULL, 0};
}

/* The model's outputs for one text alone: logits (K) with cls_only, or the
 * final hidden states (len, H) into *hidden (malloc'd) and *len. */
static void by_hand(vt_task *t, const char *text, bool cls_only, float *logits, float **hidden, int32_t *len) {
    vt_tok_encoding e;
    vt_tok_encoding_init(&e);
    vt_tok_encode_opts eo;
    vt_tok_encode_opts_default(&eo);
    eo.max_length = vt_task_max_length(t);
    assert_int_equal(vt_tok_encode(vt_task_tokenizer(t), text, strlen(text), NULL, 0, &eo, &e), VT_OK);
    vt_bert_batch b = {.batch = 1, .seq_len = e.len, .input_ids = e.ids, .token_type_ids = e.type_ids,
                       .attention_mask = e.attention_mask, .cls_only = cls_only};
    vt_bert_outputs out;
    assert_int_equal(vt_bert_forward(vt_task_model(t), &b, false, 0, &out), VT_OK);
    int64_t H = vt_task_config(t)->hidden_size;
    if (logits) memcpy(logits, out.logits, (size_t)vt_task_config(t)->num_labels * sizeof *logits);
    if (hidden) {
        *hidden = malloc((size_t)(e.len * H) * sizeof **hidden);
        memcpy(*hidden, out.last_hidden_state, (size_t)(e.len * H) * sizeof **hidden);
        *len = e.len;
    }
    vt_tok_encoding_free(&e);
}

static void test_finishing_maths(void **state) {
    (void)state;
    const float logits[6] = {1.0f, 3.0f, -2.0f, 3.0f, 1.0f, 0.0f}; /* two windows */
    double p[3];
    assert_int_equal(vt_task_probs(logits, 1, 3, p), 1);
    double e0 = exp(1.0 - 3.0), e2 = exp(-5.0), sum = e0 + 1 + e2;
    assert_true(fabs(p[0] - e0 / sum) < 1e-15 && fabs(p[1] - 1 / sum) < 1e-15 && fabs(p[2] - e2 / sum) < 1e-15);
    assert_int_equal(vt_task_probs(logits, 2, 3, p), 0); /* mean logits (2, 2, -1): a tie, the first wins */
    double m0 = 1.0, m2 = exp(-3.0);
    assert_true(fabs(p[0] - m0 / (2 * m0 + m2)) < 1e-15 && fabs(p[2] - m2 / (2 * m0 + m2)) < 1e-15);
    const float bad[2] = {NAN, 0.0f};
    assert_int_equal(vt_task_probs(bad, 1, 2, p), -1);
    float v[2] = {3, 4}, zero[2] = {0, 0};
    vt_task_normalize(v, 2);
    assert_true(fabsf(v[0] - 0.6f) < 1e-7f && fabsf(v[1] - 0.8f) < 1e-7f);
    vt_task_normalize(zero, 2); /* floored norm: no division by zero */
    assert_true(zero[0] == 0 && zero[1] == 0);
    assert_int_equal(vt_task_output_of(VT_POOL_MEAN), VT_OUT_MEAN);
    assert_string_equal(vt_task_kind_name(VT_TASK_FILL_MASK), "fill-mask");
}

static void test_classify_and_embed(void **state) {
    (void)state;
    char *dir = make_model(VT_BERT_FOR_SEQUENCE_CLASSIFICATION);
    vt_task_kind kind;
    assert_int_equal(vt_task_kind_of_dir(dir, &kind), VT_OK);
    assert_int_equal(kind, VT_TASK_SEQUENCE_CLASSIFICATION);
    vt_text_input in[N_TEXTS];
    inputs(in);
    double probs[2][N_TEXTS * 3];
    float emb[2][N_TEXTS * 16], mean[2][N_TEXTS * 16];
    bool truncated[N_TEXTS];
    for (int pass = 0; pass < 2; pass++) {
        vt_task *t = load(dir, VT_TASK_SEQUENCE_CLASSIFICATION, pass ? 32 : 1);
        assert_int_equal(vt_task_classify(t, in, N_TEXTS, probs[pass], truncated), VT_OK);
        assert_int_equal(vt_task_embed(t, in, N_TEXTS, VT_POOL_CLS, false, emb[pass], NULL), VT_OK);
        assert_int_equal(vt_task_embed(t, in, N_TEXTS, VT_POOL_MEAN, true, mean[pass], NULL), VT_OK);
        if (pass) {
            for (size_t i = 0; i < N_TEXTS; i++) { /* each input by hand, alone */
                float logits[3], *hidden;
                int32_t len;
                double want[3];
                by_hand(t, TEXTS[i], true, logits, NULL, NULL);
                vt_task_probs(logits, 1, 3, want);
                assert_memory_equal(probs[pass] + 3 * i, want, sizeof want);
                by_hand(t, TEXTS[i], false, NULL, &hidden, &len);
                assert_memory_equal(emb[pass] + 16 * i, hidden, 16 * sizeof(float)); /* [CLS] */
                float m[16];
                for (int h = 0; h < 16; h++) {
                    double s = 0;
                    for (int32_t k = 0; k < len; k++) s += hidden[k * 16 + h];
                    m[h] = (float)(s / len);
                }
                vt_task_normalize(m, 16);
                assert_memory_equal(mean[pass] + 16 * i, m, sizeof m);
                assert_false(truncated[i]);
                free(hidden);
            }
        }
        vt_task_free(t);
    }
    /* batch size changes nothing */
    assert_memory_equal(probs[0], probs[1], sizeof probs[0]);
    assert_memory_equal(emb[0], emb[1], sizeof emb[0]);
    assert_memory_equal(mean[0], mean[1], sizeof mean[0]);
    remove_model(dir);
}

static void test_evaluate(void **state) {
    (void)state;
    char *dir = make_model(VT_BERT_FOR_SEQUENCE_CLASSIFICATION);
    vt_task *t = load(dir, VT_TASK_SEQUENCE_CLASSIFICATION, 4);
    char *text[N_TEXTS];
    size_t len[N_TEXTS];
    int32_t label[N_TEXTS], pred[N_TEXTS];
    int64_t line[N_TEXTS];
    for (size_t i = 0; i < N_TEXTS; i++)
        text[i] = (char *)TEXTS[i], len[i] = strlen(TEXTS[i]), label[i] = (int32_t)(i % 3), line[i] = (int64_t)i + 2;
    vt_labelled d = {.text = text, .text_len = len, .label = label, .line = line, .n = N_TEXTS, .num_labels = 3};
    double probs[N_TEXTS * 3], want[N_TEXTS * 3], loss;
    vt_metrics m = {0};
    assert_int_equal(vt_task_evaluate(t, &d, probs, pred, &m, &loss), VT_OK);
    vt_text_input in[N_TEXTS];
    inputs(in);
    assert_int_equal(vt_task_classify(t, in, N_TEXTS, want, NULL), VT_OK);
    assert_memory_equal(probs, want, sizeof want);
    double correct = 0, nll = 0;
    for (size_t i = 0; i < N_TEXTS; i++) {
        int best = 0;
        for (int k = 1; k < 3; k++) best = want[3 * i + k] > want[3 * i + best] ? k : best;
        assert_int_equal(pred[i], best);
        correct += best == label[i];
        nll -= log(want[3 * i + label[i]]);
    }
    assert_true(fabs(m.accuracy - correct / N_TEXTS) < 1e-12);
    assert_true(fabs(loss - nll / N_TEXTS) < 1e-12);
    vt_metrics_free(&m);
    label[3] = 7; /* not one of the model's labels */
    assert_int_equal(vt_task_evaluate(t, &d, NULL, NULL, NULL, NULL), VT_ERR_INVALID_ARG);
    vt_task_free(t);
    remove_model(dir);
}

static void test_fill_mask(void **state) {
    (void)state;
    char *dir = make_model(VT_BERT_FOR_PRETRAINING);
    vt_task_kind kind;
    assert_int_equal(vt_task_kind_of_dir(dir, &kind), VT_OK);
    assert_int_equal(kind, VT_TASK_FILL_MASK);
    vt_task *t = load(dir, VT_TASK_FILL_MASK, 8);
    vt_text_input in[N_TEXTS];
    inputs(in);
    vt_mask_prediction *preds[N_TEXTS];
    int32_t masks[N_TEXTS];
    enum { K = 3 };
    assert_int_equal(vt_task_fill_mask(t, in, N_TEXTS, K, preds, masks), VT_OK);
    assert_int_equal(masks[0], 0);
    assert_int_equal(masks[8], 1);
    assert_int_equal(masks[9], 2);
    for (size_t i = 0; i < N_TEXTS; i++) {
        for (int32_t m = 0; m < masks[i]; m++) {
            const vt_mask_prediction *p = preds[i] + m * K;
            double total = 0;
            for (int j = 0; j < K; j++) {
                assert_true(p[j].token_id >= 0 && p[j].token_id < N_WORDS);
                assert_true(p[j].score > 0 && p[j].score < 1);
                if (j) assert_true(p[j].score <= p[j - 1].score);
                total += p[j].score;
            }
            assert_true(total <= 1 + 1e-9);
        }
        free(preds[i]);
    }
    vt_task_free(t);
    remove_model(dir);
}

static void expect_load_error(const char *dir, vt_task_kind kind, int32_t batch, const char *part) {
    vt_task_options o;
    vt_task_options_default(&o);
    o.kind = kind;
    o.batch_size = batch;
    vt_clear_error();
    vt_task *t = vt_task_load(dir, &o);
    if (t) fail_msg("loading %s as %s succeeded; want '%s'", dir, vt_task_kind_name(kind), part);
    if (!strstr(vt_last_error(), part)) fail_msg("'%s', want '%s'", vt_last_error(), part);
}

static void test_load_refusals(void **state) {
    (void)state;
    char *pre = make_model(VT_BERT_FOR_PRETRAINING), *clf = make_model(VT_BERT_FOR_SEQUENCE_CLASSIFICATION);
    expect_load_error(pre, VT_TASK_SEQUENCE_CLASSIFICATION, 8, "no trained classifier");
    expect_load_error(clf, VT_TASK_FILL_MASK, 8, "no masked-LM head");
    expect_load_error(clf, VT_TASK_FEATURES, 0, "batch_size");
    expect_load_error("/nonexistent/model", VT_TASK_FEATURES, 8, "/nonexistent/model");
    vt_task *t = load(pre, VT_TASK_FEATURES, 8); /* any encoder gives features */
    vt_text_input one = {"lunch", 5, NULL, 0};
    double p[3];
    assert_int_equal(vt_task_classify(t, &one, 1, p, NULL), VT_ERR_INVALID_ARG);
    vt_task_free(t);
    remove_model(pre);
    remove_model(clf);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_finishing_maths), cmocka_unit_test(test_classify_and_embed),
        cmocka_unit_test(test_evaluate),        cmocka_unit_test(test_fill_mask),
        cmocka_unit_test(test_load_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
