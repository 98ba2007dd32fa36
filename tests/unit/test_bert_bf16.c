/* BERT in bf16 (vt_bert_set_precision) against the same model in fp32.
 *
 * bf16 rounds the dense layers' operands to 8 significant bits (relative
 * error up to 2^-9 each) and accumulates in f32, so the outputs and gradients
 * of a small model differ from fp32's by about 1e-3 relative, growing a little
 * with depth. Tolerances: loss within 1e-2 absolute (of a loss near 4.6),
 * logits and the whole gradient within 2e-2 relative L2 (measured: 3e-3 to 4e-3) — and the gradient
 * must differ by more than 1e-5, or bf16 did not run. A forward after the
 * parameters were changed through vt_bert_params must see the change, and
 * going back to fp32 must reproduce the fp32 run bit for bit. The attention
 * kernel alone (vt_attention_bf16) is held to the same 2e-2 against its f32
 * products, forward and backward, with key padding and dropout (whose masks
 * must be identical). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "verto/bert.h"
#include "verto/rng.h"
#include "vt_test.h"

#define B 4
#define T 16

typedef struct run {
    double loss;
    float *logits; /* (logit_count) */
    int64_t logit_count;
    float *grads;  /* (n) */
    int64_t n;
} run;

static vt_bert *make_model(vt_bert_arch arch) {
    vt_bert_config c;
    vt_bert_config_default(&c, arch);
    c.vocab_size = 101;
    c.hidden_size = 64;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.intermediate_size = 128;
    c.max_position_embeddings = 32;
    c.num_labels = 3;
    c.initializer_range = 0.05f;
    vt_bert *m = vt_bert_new(&c, 11);
    if (!m) fail_msg("vt_bert_new: %s", vt_last_error());
    return m;
}

static void make_batch(vt_bert_batch *batch, int32_t *ids, int32_t *mask, int32_t *mlm, int32_t *nsp, int32_t *labels,
                       bool pretraining) {
    vt_rng r;
    vt_rng_seed(&r, 3);
    for (int i = 0; i < B * T; i++) {
        ids[i] = (int32_t)vt_rng_below(&r, 101);
        mask[i] = !(i / T == 2 && i % T >= T - 5);
        mlm[i] = i % 5 == 2 ? (int32_t)vt_rng_below(&r, 101) : -100;
    }
    for (int i = 0; i < B; i++) nsp[i] = i & 1, labels[i] = i % 3;
    *batch = (vt_bert_batch){.batch = B, .seq_len = T, .input_ids = ids, .attention_mask = mask};
    if (pretraining) batch->mlm_labels = mlm, batch->nsp_labels = nsp;
    else batch->labels = labels;
}

static run step(vt_bert *m, const vt_bert_batch *batch) {
    vt_bert_outputs out;
    if (vt_bert_forward(m, batch, true, 5, &out) != VT_OK) fail_msg("forward: %s", vt_last_error());
    if (vt_bert_backward(m, false) != VT_OK) fail_msg("backward: %s", vt_last_error());
    run r = {.loss = out.loss};
    const float *logits = out.mlm_logits ? out.mlm_logits : out.logits;
    r.logit_count = out.mlm_logits ? out.mlm_rows * vt_bert_get_config(m)->vocab_size : B * 3;
    r.logits = malloc((size_t)r.logit_count * sizeof(float));
    const float *g = vt_bert_grads(m, &r.n);
    r.grads = malloc((size_t)r.n * sizeof(float));
    assert_true(r.logits && r.grads);
    memcpy(r.logits, logits, (size_t)r.logit_count * sizeof(float));
    memcpy(r.grads, g, (size_t)r.n * sizeof(float));
    return r;
}

static double rel_l2(const float *a, const float *b, int64_t n) {
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++) num += ((double)a[i] - b[i]) * ((double)a[i] - b[i]), den += (double)b[i] * b[i];
    return sqrt(num / (den > 0 ? den : 1));
}

static void free_run(run *r) { free(r->logits), free(r->grads); }

static void compare(vt_bert_arch arch, bool pretraining) {
    int32_t ids[B * T], mask[B * T], mlm[B * T], nsp[B], labels[B];
    vt_bert_batch batch;
    make_batch(&batch, ids, mask, mlm, nsp, labels, pretraining);
    vt_bert *m = make_model(arch);
    run f32 = step(m, &batch);
    assert_int_equal(vt_bert_set_precision(m, VT_PRECISION_BF16), VT_OK);
    assert_int_equal(vt_bert_get_precision(m), VT_PRECISION_BF16);
    run bf = step(m, &batch);
    double dl = fabs(bf.loss - f32.loss), dz = rel_l2(bf.logits, f32.logits, f32.logit_count),
           dg = rel_l2(bf.grads, f32.grads, f32.n);
    print_message("%s: loss %.6f vs %.6f, logits rel %.2e, gradient rel %.2e\n", vt_bert_arch_name(arch), bf.loss,
                  f32.loss, dz, dg);
    assert_true(dl < 1e-2);
    assert_true(dz < 2e-2);
    assert_true(dg < 2e-2 && dg > 1e-5);

    /* Scale the word embeddings through the flat buffer: bf16 must follow. */
    int64_t n;
    float *p = vt_bert_params(m, &n), *saved = malloc((size_t)n * sizeof(float));
    assert_non_null(saved);
    memcpy(saved, p, (size_t)n * sizeof(float));
    const vt_bert_config *c = vt_bert_get_config(m);
    for (int64_t i = 0; i < c->vocab_size * c->hidden_size; i++) p[i] *= 3.0f; /* word_embeddings come first */
    run bf_scaled = step(m, &batch);
    assert_int_equal(vt_bert_set_precision(m, VT_PRECISION_FP32), VT_OK);
    run f32_scaled = step(m, &batch);
    assert_true(fabs(bf_scaled.loss - bf.loss) > 1e-4);
    assert_true(fabs(bf_scaled.loss - f32_scaled.loss) < 1e-2);
    assert_true(rel_l2(bf_scaled.grads, f32_scaled.grads, n) < 2e-2);

    /* Back in fp32 with the original weights: the fp32 run exactly. */
    memcpy(vt_bert_params(m, NULL), saved, (size_t)n * sizeof(float));
    run again = step(m, &batch);
    assert_true(again.loss == f32.loss);
    assert_memory_equal(again.grads, f32.grads, (size_t)n * sizeof(float));
    free(saved);
    free_run(&f32), free_run(&bf), free_run(&bf_scaled), free_run(&f32_scaled), free_run(&again);
    vt_bert_free(m);
}

static void test_pretraining(void **state) {
    (void)state;
    compare(VT_BERT_FOR_PRETRAINING, true);
}

static void test_sequence_classification(void **state) {
    (void)state;
    compare(VT_BERT_FOR_SEQUENCE_CLASSIFICATION, false);
}


static void fill(vt_rng *r, float *x, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] = (float)(2 * vt_rng_uniform(r) - 1);
}

static void test_attention_bf16(void **state) {
    (void)state;
    enum { AB = 2, AT = 24, AH = 3, AD = 16, W = AH * AD, ROW = 3 * W }; /* q, k, v side by side, as BERT has them */
    vt_attention_dims d = {.batch = AB, .q_len = AT, .kv_len = AT, .heads = AH, .key_dim = AD, .value_dim = AD,
                           .q_stride = ROW, .k_stride = ROW, .v_stride = ROW, .out_stride = W};
    int32_t keys[AB * AT];
    for (int i = 0; i < AB * AT; i++) keys[i] = !(i / AT == 1 && i % AT >= AT - 7);
    vt_attention_opts o = {.scale = 1.0f / 4.0f, .mask_kind = VT_MASK_KEYS, .mask = keys, .dropout_rate = 0.1f,
                           .dropout_seed = 9};
    static float qkv[AB * AT * ROW], dout[AB * AT * W], probs[2][AB * AH * AT * AT], out[2][AB * AT * W],
        grad[2][AB * AT * ROW];
    static uint8_t masks[2][AB * AH * AT * AT];
    static vt_bf16 qkv16[AB * AT * ROW], probs16[AB * AH * AT * AT];
    vt_rng r;
    vt_rng_seed(&r, 21);
    fill(&r, qkv, AB * AT * ROW);
    for (int i = 0; i < AB * AT * ROW; i++) qkv[i] *= 3.0f; /* peaked enough that the softmax matters */
    fill(&r, dout, AB * AT * W);
    vt_f32_to_bf16(qkv, qkv16, AB * AT * ROW);
    vt_attention_bf16 x16 = {.q = qkv16, .k = qkv16 + W, .v = qkv16 + 2 * W, .probs = probs16};
    for (int pass = 0; pass < 2; pass++) {
        o.bf16 = pass ? &x16 : NULL;
        assert_int_equal(vt_attention_forward(&d, &o, qkv, qkv + W, qkv + 2 * W, probs[pass], masks[pass], out[pass]),
                         VT_OK);
        memset(grad[pass], 0, sizeof grad[pass]);
        assert_int_equal(vt_attention_backward(&d, &o, qkv, qkv + W, qkv + 2 * W, probs[pass], masks[pass], dout,
                                               grad[pass], grad[pass] + W, grad[pass] + 2 * W),
                         VT_OK);
    }
    double dout_rel = rel_l2(out[1], out[0], AB * AT * W), dgrad_rel = rel_l2(grad[1], grad[0], AB * AT * ROW);
    print_message("attention bf16: out rel %.2e, q/k/v gradient rel %.2e\n", dout_rel, dgrad_rel);
    assert_memory_equal(masks[0], masks[1], sizeof masks[0]);
    assert_true(dout_rel < 2e-2 && dout_rel > 1e-6);
    assert_true(dgrad_rel < 2e-2 && dgrad_rel > 1e-6);
}

static void test_precision_names(void **state) {
    (void)state;
    vt_precision p;
    assert_true(vt_precision_parse("bf16", &p) && p == VT_PRECISION_BF16);
    assert_true(vt_precision_parse("fp32", &p) && p == VT_PRECISION_FP32);
    assert_false(vt_precision_parse("fp16", &p));
    assert_string_equal(vt_precision_name(VT_PRECISION_BF16), "bf16");
    vt_bert *m = make_model(VT_BERT_FOR_PRETRAINING);
    assert_int_equal(vt_bert_set_precision(m, (vt_precision)7), VT_ERR_INVALID_ARG);
    vt_bert_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pretraining),
        cmocka_unit_test(test_sequence_classification),
        cmocka_unit_test(test_attention_bf16),
        cmocka_unit_test(test_precision_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
