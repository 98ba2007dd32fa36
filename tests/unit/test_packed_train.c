/* A packed training batch (vt_bert_batch.offsets: sequences of mixed
 * lengths concatenated, no padding) gives the loss, logits and gradients of
 * the same sequences padded to the longest with an attention mask: a
 * sequence classifier (single-label with class weights, regression,
 * multi-label; with and without cls_only) and a token classifier, in BERT,
 * RoBERTa and DistilBERT, fp32 and bf16, with dropout off so both runs
 * compute the same function.
 *
 * Tolerance: the padded run's products have more rows (its padding, whose
 * gradients are exactly zero), so the GEMMs may block and sum in another
 * order: relative max difference 1e-5 of each tensor's scale (of all the
 * gradients' for the key biases, zero in exact arithmetic: a shift shared
 * by a query's scores is lost in its softmax); in bf16 a value rounded to
 * bf16 after such a difference can land one bf16 step away: 2^-8 (seen:
 * under 1e-6). Finite differences of the packed backward with dropout on:
 * test_bert_gradcheck. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "verto/bert.h"
#include "verto/rng.h"
#include "vt_test.h"

#define VOCAB 60
#define NSEQ 6
#define LABELS 3
static const int64_t LENGTHS[NSEQ] = {7, 1, 70, 12, 3, 66};

typedef struct run_result {
    double loss;
    float *logits, *grads; /* (logit rows, LABELS), (n floats) */
} run_result;

static vt_bert *make_model(vt_bert_family family, vt_bert_arch arch, vt_bert_problem problem) {
    vt_bert_config c;
    vt_bert_config_default_family(&c, family, arch);
    c.vocab_size = VOCAB;
    c.hidden_size = 48;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 3;
    c.intermediate_size = 102;
    c.max_position_embeddings = 80;
    c.num_labels = LABELS;
    c.problem_type = problem;
    c.initializer_range = 0.1f;
    c.hidden_dropout_prob = c.attention_probs_dropout_prob = c.classifier_dropout = c.seq_classif_dropout = 0;
    vt_bert *m = vt_bert_new(&c, 23);
    if (!m) fail_msg("vt_bert_new: %s", vt_last_error());
    return m;
}

/* One training forward and backward; copies of what the next run replaces. */
static run_result step(vt_bert *m, const vt_bert_batch *in, int64_t logit_rows, const int64_t *rows_of) {
    vt_bert_outputs o;
    if (vt_bert_forward(m, in, true, 7, &o) != VT_OK) fail_msg("forward: %s", vt_last_error());
    assert_int_equal(vt_bert_backward(m, false), VT_OK);
    int64_t n;
    const float *g = vt_bert_grads(m, &n);
    run_result r = {.loss = o.loss, .logits = malloc((size_t)(logit_rows * LABELS) * sizeof(float)),
                    .grads = malloc((size_t)n * sizeof(float))};
    assert_true(r.logits && r.grads);
    for (int64_t i = 0; i < logit_rows; i++) /* (the padded run's token logits at the packed rows) */
        memcpy(r.logits + i * LABELS, o.logits + (rows_of ? rows_of[i] : i) * LABELS, LABELS * sizeof(float));
    memcpy(r.grads, g, (size_t)n * sizeof(float));
    return r;
}

static void check(vt_bert_family family, vt_bert_arch arch, vt_bert_problem problem, bool cls_only,
                  vt_precision precision, const char *label) {
    printf("  %s, %s\n", label, precision == VT_PRECISION_BF16 ? "bf16" : "fp32");
    vt_bert *m = make_model(family, arch, problem);
    assert_int_equal(vt_bert_set_precision(m, precision), VT_OK);
    const vt_bert_config *c = vt_bert_get_config(m);
    bool tokens = arch == VT_BERT_FOR_TOKEN_CLASSIFICATION;
    int64_t off[NSEQ + 1] = {0}, T = 0;
    for (int i = 0; i < NSEQ; i++) {
        off[i + 1] = off[i] + LENGTHS[i];
        T = LENGTHS[i] > T ? LENGTHS[i] : T;
    }
    int64_t N = off[NSEQ];
    /* packed rows, and the same laid out padded (NSEQ, T) */
    int32_t *ids = calloc((size_t)N, sizeof *ids), *types = calloc((size_t)N, sizeof *types);
    int32_t *tok_labels = calloc((size_t)N, sizeof *tok_labels), *pids = calloc((size_t)(NSEQ * T), sizeof *pids);
    int32_t *ptypes = calloc((size_t)(NSEQ * T), sizeof *ptypes), *mask = calloc((size_t)(NSEQ * T), sizeof *mask);
    int32_t *ptok_labels = calloc((size_t)(NSEQ * T), sizeof *ptok_labels), labels[NSEQ];
    int64_t *padded_row = calloc((size_t)N, sizeof *padded_row);
    float targets[NSEQ * LABELS], class_weights[LABELS] = {1.0f, 2.5f, 0.5f};
    assert_true(ids && types && tok_labels && pids && ptypes && mask && ptok_labels && padded_row);
    vt_rng r;
    vt_rng_seed(&r, 11);
    for (int s = 0; s < NSEQ; s++) {
        labels[s] = (int32_t)vt_rng_below(&r, LABELS);
        for (int k = 0; k < LABELS; k++)
            targets[s * LABELS + k] = problem == VT_PROBLEM_MULTI_LABEL ? (float)vt_rng_below(&r, 2)
                                                                        : (float)vt_rng_normal(&r);
        for (int64_t t = 0; t < T; t++) {
            int64_t p = s * T + t, k = off[s] + t;
            pids[p] = c->pad_token_id, ptok_labels[p] = -100;
            if (t >= LENGTHS[s]) continue;
            ids[k] = pids[p] = 2 + (int32_t)vt_rng_below(&r, VOCAB - 2); /* (never the padding id) */
            types[k] = ptypes[p] = c->type_vocab_size > 1 ? (int32_t)vt_rng_below(&r, 2) : 0;
            tok_labels[k] = ptok_labels[p] = t % 5 == 4 ? -100 : (int32_t)vt_rng_below(&r, LABELS);
            mask[p] = 1;
            padded_row[k] = p;
        }
    }
    vt_bert_batch padded = {.batch = NSEQ, .seq_len = T, .input_ids = pids, .token_type_ids = ptypes,
                            .attention_mask = mask, .cls_only = cls_only};
    vt_bert_batch packed = {.batch = NSEQ, .input_ids = ids, .token_type_ids = types, .offsets = off,
                            .cls_only = cls_only};
    if (tokens) {
        padded.labels = ptok_labels, packed.labels = tok_labels;
    } else if (problem == VT_PROBLEM_REGRESSION) {
        padded.regression_targets = packed.regression_targets = targets;
    } else if (problem == VT_PROBLEM_MULTI_LABEL) {
        padded.multi_labels = packed.multi_labels = targets;
    } else {
        padded.labels = packed.labels = labels;
        padded.class_weights = packed.class_weights = class_weights;
    }
    int64_t logit_rows = tokens ? N : NSEQ;
    run_result want = step(m, &padded, logit_rows, tokens ? padded_row : NULL);
    run_result got = step(m, &packed, logit_rows, NULL);
    double tol = precision == VT_PRECISION_BF16 ? 0x1p-8 : 1e-5;
    printf("    loss %.9g padded, %.9g packed\n", want.loss, got.loss);
    assert_true(fabs(got.loss - want.loss) <= tol * fabs(want.loss));
    assert_close_rel("logits", got.logits, want.logits, logit_rows * LABELS, tol);
    double worst = 0, scale = 0;
    const char *worst_name = "";
    int64_t n;
    const float *base = vt_bert_grads(m, &n);
    for (int64_t i = 0; i < n; i++) scale = fmax(scale, fabs(want.grads[i]));
    for (size_t i = 0; i < vt_bert_param_count(m); i++) {
        vt_bert_param *p = vt_bert_param_at(m, i);
        int64_t at = p->grad - base, numel = p->shape[0] * (p->ndim == 2 ? p->shape[1] : 1);
        double d = rel_max_diff(got.grads + at, want.grads + at, numel);
        if (strstr(p->name, "key.bias") || strstr(p->name, "k_lin.bias")) { /* zero in theory: round-off both */
            d = 0;
            for (int64_t k = at; k < at + numel; k++) d = fmax(d, fabs(got.grads[k] - want.grads[k]) / scale);
        }
        if (!(d <= worst)) worst = d, worst_name = p->name;
    }
    printf("    gradients: worst rel max diff %.3g (%s; tol %.1g)\n", worst, worst_name, tol);
    if (!(worst <= tol)) fail_msg("%s: packed gradients differ from padded", label);
    free(want.logits), free(want.grads), free(got.logits), free(got.grads);
    free(ids), free(types), free(tok_labels), free(pids), free(ptypes), free(mask), free(ptok_labels);
    free(padded_row);
    vt_bert_free(m);
}

static void test_sequence_classifiers(void **state) {
    (void)state;
    for (int p = 0; p < 2; p++) {
        vt_precision prec = p ? VT_PRECISION_BF16 : VT_PRECISION_FP32;
        check(VT_FAMILY_BERT, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, VT_PROBLEM_SINGLE_LABEL, true, prec,
              "BERT single-label, class weights, cls_only");
        check(VT_FAMILY_BERT, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, VT_PROBLEM_SINGLE_LABEL, false, prec,
              "BERT single-label, class weights");
        check(VT_FAMILY_ROBERTA, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, VT_PROBLEM_REGRESSION, true, prec,
              "RoBERTa regression, cls_only");
        check(VT_FAMILY_DISTILBERT, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, VT_PROBLEM_MULTI_LABEL, true, prec,
              "DistilBERT multi-label, cls_only");
    }
}

static void test_token_classifier(void **state) {
    (void)state;
    check(VT_FAMILY_BERT, VT_BERT_FOR_TOKEN_CLASSIFICATION, VT_PROBLEM_UNSET, false, VT_PRECISION_FP32,
          "BERT token classifier");
    check(VT_FAMILY_ROBERTA, VT_BERT_FOR_TOKEN_CLASSIFICATION, VT_PROBLEM_UNSET, false, VT_PRECISION_BF16,
          "RoBERTa token classifier");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequence_classifiers),
        cmocka_unit_test(test_token_classifier),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
