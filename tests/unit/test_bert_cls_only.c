/* vt_bert_batch.cls_only: the last layer computes only position 0 of each
 * sequence. Its outputs must be those of the full forward: logits, pooled
 * output, loss and the position-0 hidden states, with key padding in the
 * batch, in fp32 and in bf16; and so must the gradient of a training step
 * (without dropout, so that both runs see the same function; the full
 * backward is checked against finite differences in test_bert_gradcheck).
 *
 * Tolerance: 1e-5 relative in fp32. The same values go into the same
 * products, but oneDNN may block a matmul of B rows differently from one of
 * B*T rows, which reorders the f32 sums (rounding ~1e-7 per term). In bf16 a
 * reordered sum can round an intermediate (the attention context, the FFN
 * input) to the neighbouring bf16 value, 2^-8 relative in that element, so
 * 5e-3 there. Other architectures are refused; training with dropout runs.
 * The same for RoBERTa's and DistilBERT's sequence classifiers (their own
 * dense layer on the first token instead of the pooler), and for multi-label
 * classification (BCE over multi_labels) in every family. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "verto/bert.h"
#include "verto/rng.h"
#include "vt_test.h"

#define B 3
#define T 12
#define H 32
#define LABELS 3

static vt_bert *make_family_model(vt_bert_family family, vt_bert_arch arch, int64_t layers, float dropout) {
    vt_bert_config c;
    vt_bert_config_default_family(&c, family, arch);
    c.vocab_size = 50;
    c.hidden_size = H;
    c.num_hidden_layers = layers;
    c.num_attention_heads = 4;
    c.intermediate_size = 64;
    c.max_position_embeddings = 16;
    c.num_labels = LABELS;
    c.initializer_range = 0.1f;
    c.hidden_dropout_prob = c.attention_probs_dropout_prob = c.classifier_dropout = c.seq_classif_dropout = dropout;
    vt_bert *m = vt_bert_new(&c, 5);
    if (!m) fail_msg("vt_bert_new: %s", vt_last_error());
    return m;
}

static vt_bert *make_model(vt_bert_arch arch, int64_t layers, float dropout) {
    return make_family_model(VT_FAMILY_BERT, arch, layers, dropout);
}

typedef struct batch_data {
    int32_t ids[B * T], mask[B * T], labels[B];
    float multi[B * LABELS]; /* multi-hot */
    vt_bert_batch batch;
} batch_data;

static void make_batch(batch_data *d) {
    vt_rng r;
    vt_rng_seed(&r, 9);
    for (int i = 0; i < B * T; i++) {
        d->ids[i] = (int32_t)vt_rng_below(&r, 50);
        d->mask[i] = !(i / T == 1 && i % T >= T - 4); /* sequence 1 padded */
    }
    for (int i = 0; i < B; i++) d->labels[i] = i % LABELS;
    for (int i = 0; i < B * LABELS; i++) d->multi[i] = (float)((i * 7) % 3 == 0);
    d->batch = (vt_bert_batch){.batch = B, .seq_len = T, .input_ids = d->ids, .attention_mask = d->mask,
                               .labels = d->labels};
}

/* The whole gradient (n floats) of a training step on d's batch. */
static float *step_grads(vt_bert *m, batch_data *d, bool cls_only, double *loss, int64_t *n) {
    vt_bert_outputs out;
    d->batch.cls_only = cls_only;
    assert_int_equal(vt_bert_forward(m, &d->batch, true, 7, &out), VT_OK);
    assert_int_equal(vt_bert_backward(m, false), VT_OK);
    *loss = out.loss;
    const float *g = vt_bert_grads(m, n);
    float *copy = malloc((size_t)*n * sizeof *copy);
    assert_non_null(copy);
    memcpy(copy, g, (size_t)*n * sizeof *copy);
    return copy;
}

static void compare_family_labels(vt_bert_family family, vt_bert_arch arch, int64_t layers, vt_precision precision,
                                  double tol, bool multi_label) {
    vt_bert *m = make_family_model(family, arch, layers, 0.0f);
    assert_int_equal(vt_bert_set_precision(m, precision), VT_OK);
    batch_data d;
    make_batch(&d);
    if (arch == VT_BERT_MODEL || multi_label) d.batch.labels = NULL;
    if (multi_label) d.batch.multi_labels = d.multi;
    vt_bert_outputs full, cls;
    assert_int_equal(vt_bert_forward(m, &d.batch, false, 0, &full), VT_OK);
    float hidden0[B * H], pooled[B * H], logits[B * LABELS];
    for (int i = 0; i < B; i++) memcpy(hidden0 + i * H, full.last_hidden_state + i * T * H, sizeof(float) * H);
    if (full.pooled) memcpy(pooled, full.pooled, sizeof pooled);
    if (full.logits) memcpy(logits, full.logits, sizeof logits);
    double loss = full.loss;

    d.batch.cls_only = true;
    assert_int_equal(vt_bert_forward(m, &d.batch, false, 0, &cls), VT_OK);
    assert_close_rel("position-0 hidden states", cls.last_hidden_state, hidden0, B * H, tol);
    assert_true(!full.pooled == !cls.pooled);
    if (full.pooled) assert_close_rel("pooled", cls.pooled, pooled, B * H, tol);
    if (arch == VT_BERT_FOR_SEQUENCE_CLASSIFICATION) {
        assert_close_rel("logits", cls.logits, logits, B * LABELS, tol);
        assert_true(fabs(cls.loss - loss) <= tol * fabs(loss));
        double loss_full, loss_cls;
        int64_t n;
        float *g_full = step_grads(m, &d, false, &loss_full, &n), *g_cls = step_grads(m, &d, true, &loss_cls, &n);
        assert_true(fabs(loss_cls - loss_full) <= tol * fabs(loss_full));
        assert_close_rel("gradient", g_cls, g_full, n, tol);
        free(g_full);
        free(g_cls);
    }
    if (multi_label) assert_int_equal(vt_bert_get_config(m)->problem_type, VT_PROBLEM_MULTI_LABEL);
    vt_bert_free(m);
}

static void compare_family(vt_bert_family family, vt_bert_arch arch, int64_t layers, vt_precision precision,
                           double tol) {
    compare_family_labels(family, arch, layers, precision, tol, false);
}

static void compare(vt_bert_arch arch, int64_t layers, vt_precision precision, double tol) {
    compare_family(VT_FAMILY_BERT, arch, layers, precision, tol);
}

static void test_families_fp32(void **state) {
    (void)state;
    static const vt_bert_family families[] = {VT_FAMILY_ROBERTA, VT_FAMILY_XLM_ROBERTA, VT_FAMILY_DISTILBERT};
    for (size_t i = 0; i < 3; i++) {
        compare_family(families[i], VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 2, VT_PRECISION_FP32, 1e-5);
        compare_family(families[i], VT_BERT_MODEL, 1, VT_PRECISION_FP32, 1e-5);
        compare_family_labels(families[i], VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 2, VT_PRECISION_FP32, 1e-5, true);
        vt_bert *m = make_family_model(families[i], VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 2, 0.1f);
        batch_data d;
        make_batch(&d);
        double loss;
        int64_t n;
        float *g = step_grads(m, &d, true, &loss, &n); /* with dropout before and after the dense layer */
        double sum = 0;
        for (int64_t k = 0; k < n; k++) sum += (double)g[k] * g[k];
        assert_true(isfinite(loss) && loss > 0 && isfinite(sum) && sum > 0);
        free(g);
        vt_bert_free(m);
    }
}

static void test_classifier_fp32(void **state) {
    (void)state;
    compare(VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 2, VT_PRECISION_FP32, 1e-5);
    compare(VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 1, VT_PRECISION_FP32, 1e-5);
    compare_family_labels(VT_FAMILY_BERT, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 2, VT_PRECISION_FP32, 1e-5, true);
}

static void test_classifier_bf16(void **state) {
    (void)state;
    vt_bert *probe = make_model(VT_BERT_MODEL, 1, 0.0f);
    vt_status st = vt_bert_set_precision(probe, VT_PRECISION_BF16);
    vt_bert_free(probe);
    if (st == VT_ERR_UNSUPPORTED) fail_msg("this CPU has no bf16 matmuls");
    compare(VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 2, VT_PRECISION_BF16, 5e-3);
}

static void test_bert_model(void **state) {
    (void)state;
    compare(VT_BERT_MODEL, 2, VT_PRECISION_FP32, 1e-5);
}

static void test_training_with_dropout(void **state) {
    (void)state;
    vt_bert *m = make_model(VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 2, 0.1f);
    batch_data d;
    make_batch(&d);
    double loss;
    int64_t n;
    float *g = step_grads(m, &d, true, &loss, &n);
    double sum = 0;
    for (int64_t i = 0; i < n; i++) sum += (double)g[i] * g[i];
    assert_true(isfinite(loss) && loss > 0);
    assert_true(isfinite(sum) && sum > 0);
    free(g);
    vt_bert_free(m);
}

static void test_other_architectures_refused(void **state) {
    (void)state;
    batch_data d;
    make_batch(&d);
    d.batch.cls_only = true;
    d.batch.labels = NULL;
    vt_bert_outputs out;
    vt_bert *m = make_model(VT_BERT_FOR_TOKEN_CLASSIFICATION, 2, 0.0f);
    assert_int_equal(vt_bert_forward(m, &d.batch, false, 0, &out), VT_ERR_INVALID_ARG);
    vt_bert_free(m);
    m = make_model(VT_BERT_FOR_PRETRAINING, 2, 0.0f);
    assert_int_equal(vt_bert_forward(m, &d.batch, false, 0, &out), VT_ERR_INVALID_ARG);
    vt_bert_free(m);
    vt_bert_config c;
    vt_bert_config_default(&c, VT_BERT_FOR_QUESTION_ANSWERING); /* needs every position */
    c.vocab_size = 50, c.hidden_size = H, c.num_hidden_layers = 1, c.num_attention_heads = 4;
    c.intermediate_size = 64, c.max_position_embeddings = 16;
    assert_non_null(m = vt_bert_new(&c, 5));
    assert_int_equal(vt_bert_forward(m, &d.batch, false, 0, &out), VT_ERR_INVALID_ARG);
    vt_bert_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classifier_fp32),
        cmocka_unit_test(test_classifier_bf16),
        cmocka_unit_test(test_bert_model),
        cmocka_unit_test(test_families_fp32),
        cmocka_unit_test(test_training_with_dropout),
        cmocka_unit_test(test_other_architectures_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
