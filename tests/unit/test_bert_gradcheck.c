/* Finite-difference gradient checks of the whole BERT backward: every
 * parameter tensor (sampled coordinates) of tiny models with each head and
 * loss: MLM + NSP, single-label, regression (1 and 3 outputs), multi-label
 * (BCE; BERT and DistilBERT), token classification, question answering (BERT, and DistilBERT with
 * its dropout before qa_outputs; positions past the input ignored, a negative
 * one counted as 0).
 * The classifiers again on a packed batch (vt_bert_batch.offsets: the same
 * sequences without their padding), a sequence classifier's with cls_only.
 * Same method and tolerance as test_model_gradcheck.c: float32 model,
 * central differences with h = 1e-2, relative L2 error <= 2e-2 over the
 * sampled coordinates of each tensor. Dropout is on with a fixed seed, so
 * the masks are identical across the perturbed runs. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/bert.h"
#include "verto/rng.h"
#include "vt_test.h"

#define STEP 1e-2
#define TOLERANCE 2e-2
#define SAMPLES 12
#define B 2
#define T 6

#define MAX_LABELS 4

typedef struct fixture {
    int32_t ids[B * T], types[B * T], mask[B * T], mlm[B * T], nsp[B], labels[B * T];
    float targets[B * MAX_LABELS], multi[B * MAX_LABELS];
    int32_t start[B], end[B];
    int64_t offsets[B + 1];
} fixture;

/* The fixture's rows without their padding: ids, types and token labels
 * moved up in place, offsets set. */
static void pack_fixture(fixture *f) {
    int64_t n = 0;
    for (int i = 0; i < B; i++) {
        f->offsets[i] = n;
        for (int t = 0; t < T; t++)
            if (f->mask[i * T + t]) {
                f->ids[n] = f->ids[i * T + t], f->types[n] = f->types[i * T + t];
                f->labels[n++] = f->labels[i * T + t];
            }
    }
    f->offsets[B] = n;
}

static void make_fixture(fixture *f, vt_rng *rng, int64_t vocab, int classes) {
    for (int i = 0; i < B * T; i++) {
        f->ids[i] = (int32_t)vt_rng_below(rng, (uint64_t)vocab);
        f->types[i] = (i % T) >= T / 2;
        f->mask[i] = !(i / T == 1 && i % T >= T - 2); /* second sequence has 2 padding tokens */
        f->mlm[i] = (i % 3 == 1) ? (int32_t)vt_rng_below(rng, (uint64_t)vocab) : -100;
        f->labels[i] = f->mask[i] ? (int32_t)vt_rng_below(rng, (uint64_t)classes) : -100;
    }
    for (int i = 0; i < B; i++) f->nsp[i] = i & 1;
    for (int i = 0; i < B * MAX_LABELS; i++) {
        f->targets[i] = (float)vt_rng_normal(rng);
        f->multi[i] = (float)vt_rng_below(rng, 2);
    }
    static const int32_t start[B] = {2, -3}, end[B] = {T + 3, 4}; /* -3 counts as 0; T + 3 is ignored */
    memcpy(f->start, start, sizeof start);
    memcpy(f->end, end, sizeof end);
}

/* Gradients zero in exact arithmetic (both sides are round-off): a key bias
 * (softmax ignores a shift shared by all scores of a query); in question
 * answering qa_outputs.bias and, where no dropout comes between them, the
 * last layer's output LayerNorm bias (each shifts every position's logit
 * alike, which the softmax over positions ignores). */
static bool zero_in_theory(const vt_bert_config *c, const char *name) {
    if (strstr(name, "attention.self.key.bias") || strstr(name, "attention.k_lin.bias")) return true;
    if (c->arch != VT_BERT_FOR_QUESTION_ANSWERING) return false;
    if (!strcmp(name, "qa_outputs.bias")) return true;
    if (c->family == VT_FAMILY_DISTILBERT && c->qa_dropout > 0) return false;
    char last[128];
    snprintf(last, sizeof last, c->family == VT_FAMILY_DISTILBERT ? "transformer.layer.%lld.output_layer_norm.bias"
                                                                  : "encoder.layer.%lld.output.LayerNorm.bias",
             (long long)c->num_hidden_layers - 1);
    return !strcmp(name, last);
}

static double loss_of(vt_bert *m, const vt_bert_batch *batch) {
    vt_bert_outputs out;
    if (vt_bert_forward(m, batch, true, 99, &out) != VT_OK) fail_msg("forward: %s", vt_last_error());
    return out.loss;
}

/* A tiny model of family and arch; problem picks the sequence classifier's loss. */
static void check_model_ex(vt_bert_family family, vt_bert_arch arch, int num_labels, vt_bert_problem problem,
                           bool packed, const char *label) {
    vt_bert_config c;
    vt_bert_config_default_family(&c, family, arch);
    c.vocab_size = 23;
    c.hidden_size = 8;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 2;
    c.intermediate_size = 12;
    c.max_position_embeddings = 16;
    c.num_labels = num_labels;
    c.hidden_act = arch == VT_BERT_FOR_MASKED_LM ? VT_ACT_GELU_TANH : VT_ACT_GELU;
    c.initializer_range = 0.3f; /* larger than BERT's 0.02 so every path carries signal */
    /* No padding_idx: the ids are random, the padding id among them, and as
     * nn.Embedding (and so transformers) verto gives the padding row no
     * gradient from the lookup, which finite differences would see. */
    c.pad_token_id = family == VT_FAMILY_ROBERTA ? 1 : -1; /* (RoBERTa's positions count from it: no id 1 below) */
    c.problem_type = problem;
    c.qa_dropout = 0.3f; /* (DistilBERT's question answering) */
    vt_bert *m = vt_bert_new(&c, 5);
    if (!m) fail_msg("vt_bert_new: %s", vt_last_error());
    vt_rng rng;
    vt_rng_seed(&rng, (uint64_t)arch);
    /* Biases and LayerNorm parameters start at 0 / 1; move them so their paths are generic. */
    int64_t n;
    float *w = vt_bert_params(m, &n);
    for (int64_t i = 0; i < n; i++) w[i] += (float)(0.05 * vt_rng_normal(&rng));
    fixture f;
    assert_true(num_labels <= MAX_LABELS);
    make_fixture(&f, &rng, c.vocab_size, num_labels > 1 ? num_labels : 2);
    for (int i = 0; c.pad_token_id >= 0 && i < B * T; i++) f.ids[i] += f.ids[i] == c.pad_token_id;
    vt_bert_batch batch = {.batch = B, .seq_len = T, .input_ids = f.ids, .token_type_ids = f.types,
                           .attention_mask = f.mask};
    if (packed) {
        pack_fixture(&f);
        batch = (vt_bert_batch){.batch = B, .input_ids = f.ids, .token_type_ids = f.types, .offsets = f.offsets,
                                .cls_only = arch == VT_BERT_FOR_SEQUENCE_CLASSIFICATION};
    }
    if (arch == VT_BERT_FOR_PRETRAINING || arch == VT_BERT_FOR_MASKED_LM) batch.mlm_labels = f.mlm;
    if (arch == VT_BERT_FOR_PRETRAINING) batch.nsp_labels = f.nsp;
    if (arch == VT_BERT_FOR_SEQUENCE_CLASSIFICATION) {
        if (problem == VT_PROBLEM_MULTI_LABEL) batch.multi_labels = f.multi;
        else if (problem == VT_PROBLEM_REGRESSION || num_labels == 1) batch.regression_targets = f.targets;
        else batch.labels = f.nsp;
    }
    if (arch == VT_BERT_FOR_TOKEN_CLASSIFICATION) batch.labels = f.labels;
    if (arch == VT_BERT_FOR_QUESTION_ANSWERING) batch.start_positions = f.start, batch.end_positions = f.end;

    loss_of(m, &batch);
    assert_int_equal(vt_bert_backward(m, false), VT_OK);
    float *grads = malloc((size_t)n * sizeof(float));
    memcpy(grads, vt_bert_grads(m, NULL), (size_t)n * sizeof(float));
    printf("  %s\n", label);
    double worst = 0;
    for (size_t i = 0; i < vt_bert_param_count(m); i++) {
        vt_bert_param *p = vt_bert_param_at(m, i);
        int64_t numel = p->shape[0] * (p->ndim == 2 ? p->shape[1] : 1), count = numel < SAMPLES ? numel : SAMPLES;
        double d2 = 0, a2 = 0, n2 = 0;
        for (int64_t k = 0; k < count; k++) {
            int64_t j = numel <= SAMPLES ? k : (int64_t)vt_rng_below(&rng, (uint64_t)numel);
            float saved = p->data[j];
            p->data[j] = (float)(saved + STEP);
            double up = loss_of(m, &batch);
            p->data[j] = (float)(saved - STEP);
            double down = loss_of(m, &batch);
            p->data[j] = saved;
            double numeric = (up - down) / (2 * STEP), analytic = grads[p->grad - vt_bert_grads(m, NULL) + j];
            d2 += (numeric - analytic) * (numeric - analytic);
            a2 += analytic * analytic;
            n2 += numeric * numeric;
        }
        /* Held to an absolute bound instead of a relative one. */
        bool zero = zero_in_theory(&c, p->name);
        double scale = zero ? 1.0 : fmax(sqrt(fmax(a2, n2)), 1e-6), rel = sqrt(d2) / scale;
        if (zero && sqrt(a2) > 1e-4) fail_msg("%s: gradient %.3g should vanish", p->name, sqrt(a2));
        if (rel > worst) worst = rel;
        if (rel > TOLERANCE / 4) printf("    %-52s rel L2 error %.2e\n", p->name, rel);
    }
    printf("    worst relative L2 error over %zu tensors: %.2e (tol %.0e)\n", vt_bert_param_count(m), worst, TOLERANCE);
    free(grads);
    vt_bert_free(m);
    if (!(worst <= TOLERANCE)) fail_msg("%s: gradient check failed (%.3g)", label, worst);
}

static void check_model(vt_bert_arch arch, int num_labels, const char *label) {
    check_model_ex(VT_FAMILY_BERT, arch, num_labels, VT_PROBLEM_UNSET, false, label);
}

static void test_pretraining(void **state) { check_model(VT_BERT_FOR_PRETRAINING, 2, "BertForPreTraining: MLM + NSP"); }
static void test_masked_lm(void **state) { check_model(VT_BERT_FOR_MASKED_LM, 2, "BertForMaskedLM (gelu_new)"); }
static void test_sequence_classification(void **state) {
    check_model(VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 3, "BertForSequenceClassification, 3 labels");
}
static void test_regression(void **state) {
    check_model(VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 1, "BertForSequenceClassification, regression");
}
static void test_token_classification(void **state) {
    check_model(VT_BERT_FOR_TOKEN_CLASSIFICATION, 4, "BertForTokenClassification, 4 labels");
}
static void test_multi_output_regression(void **state) {
    check_model_ex(VT_FAMILY_BERT, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 3, VT_PROBLEM_REGRESSION, false,
                   "BertForSequenceClassification, regression with 3 outputs");
}
static void test_multi_label(void **state) {
    check_model_ex(VT_FAMILY_BERT, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 4, VT_PROBLEM_MULTI_LABEL, false,
                   "BertForSequenceClassification, multi-label (BCE), 4 labels");
    check_model_ex(VT_FAMILY_DISTILBERT, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 3, VT_PROBLEM_MULTI_LABEL, false,
                   "DistilBertForSequenceClassification, multi-label (BCE), 3 labels");
}
static void test_question_answering(void **state) {
    check_model_ex(VT_FAMILY_BERT, VT_BERT_FOR_QUESTION_ANSWERING, 2, VT_PROBLEM_UNSET, false,
                   "BertForQuestionAnswering");
    check_model_ex(VT_FAMILY_DISTILBERT, VT_BERT_FOR_QUESTION_ANSWERING, 2, VT_PROBLEM_UNSET, false,
                   "DistilBertForQuestionAnswering (qa_dropout 0.3)");
}
static void test_packed(void **state) {
    check_model_ex(VT_FAMILY_BERT, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 3, VT_PROBLEM_UNSET, true,
                   "BertForSequenceClassification, 3 labels, packed, cls_only");
    check_model_ex(VT_FAMILY_ROBERTA, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 2, VT_PROBLEM_REGRESSION, true,
                   "RobertaForSequenceClassification, regression with 2 outputs, packed, cls_only");
    check_model_ex(VT_FAMILY_DISTILBERT, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 3, VT_PROBLEM_MULTI_LABEL, true,
                   "DistilBertForSequenceClassification, multi-label (BCE), 3 labels, packed, cls_only");
    check_model_ex(VT_FAMILY_BERT, VT_BERT_FOR_TOKEN_CLASSIFICATION, 4, VT_PROBLEM_UNSET, true,
                   "BertForTokenClassification, 4 labels, packed");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pretraining),
        cmocka_unit_test(test_masked_lm),
        cmocka_unit_test(test_sequence_classification),
        cmocka_unit_test(test_regression),
        cmocka_unit_test(test_token_classification),
        cmocka_unit_test(test_multi_output_regression),
        cmocka_unit_test(test_multi_label),
        cmocka_unit_test(test_question_answering),
        cmocka_unit_test(test_packed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
