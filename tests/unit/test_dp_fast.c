/* DP-SGD's fast path (vt_bert_backward_examples, vt_bert_backward_bookkeeping,
 * src/train/dp_fast.c) against its exact reference (one forward and backward per example, which
 * test_dp.c checks against Opacus), on BERT, RoBERTa and DistilBERT sequence
 * classifiers with random weights (biases and LayerNorms perturbed so every
 * gradient is non-trivial), 6 examples of lengths 1 to 30 in a batch padded
 * to 30, some arriving padded themselves, with repeated token ids (the word
 * embeddings' rows are grouped), with and without cls_only, and with class
 * weights (each example's own loss is then its unweighted loss).
 *
 * With hidden 32 and intermediate 64 the dense layers take the Gram form for
 * an example of up to 16 rows and form dW_i beyond, so both are exercised.
 *
 * - Every example's squared gradient norm equals the exact one's within 1e-4
 *   relative: float32 sums of a few thousand products, against the same in
 *   another order (about 1e-6 relative); for the batch padded and packed.
 * - vt_dp_gradient packs the examples (their masks are their tokens, then
 *   padding); one with a hole in its mask keeps the batch padded: both equal
 *   the exact path within 1e-4.
 * - With noise 0 and C the median norm (some examples clipped, some not), the
 *   fast private gradient equals the exact one within 1e-4 of each parameter's
 *   largest gradient; the attention key biases' gradients are zero in theory
 *   (softmax ignores a shift shared by a query's scores) and rounding noise in
 *   both, so they are measured against the whole gradient's largest entry.
 * - Book-keeping (the default) equals the two-pass fast path, and the batch
 *   run as micro-batches of 4 and 2 (gradient accumulation) equals it run at
 *   once, within 1e-5 of the gradient's largest entry (TOL_SAME). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/dp.h"
#include "vt_test.h"

#define N 6
#define TMAX 30
#define LABELS 3
#define TOL 1e-4
/* Book-keeping against the two-pass fast path: the same float products in another grouping (one product
 * over the batch of row-scaled dy against the gradient of the weighted loss), so float rounding only. */
#define TOL_SAME 1e-5

static const int64_t lengths[N] = {9, 30, 1, 17, 24, 4};
static const bool arrives_padded[N] = {true, false, false, true, false, true}; /* seq_len TMAX with a mask */

typedef struct examples {
    int32_t ids[N][TMAX], types[N][TMAX], mask[N][TMAX], labels[N];
    int32_t mlm[N][TMAX], nsp[N]; /* pretraining's labels */
    float class_weights[LABELS];
    bool weighted, cls_only;
    int pretraining;              /* 0: a classifier's labels; 1: masked LM; 2: masked LM + next sentence */
} examples;

static vt_status get_example(void *ctx, int64_t row, vt_bert_batch *batch) {
    examples *e = ctx;
    *batch = (vt_bert_batch){.batch = 1, .seq_len = arrives_padded[row] ? TMAX : lengths[row],
                             .input_ids = e->ids[row], .token_type_ids = e->types[row],
                             .attention_mask = e->mask[row], .labels = e->pretraining ? NULL : e->labels + row,
                             .class_weights = e->weighted ? e->class_weights : NULL, .cls_only = e->cls_only,
                             .mlm_labels = e->pretraining ? e->mlm[row] : NULL,
                             .nsp_labels = e->pretraining == 2 ? e->nsp + row : NULL};
    return VT_OK;
}

/* Pretraining's labels: about a third of each example's tokens masked (the
 * one-token example none: its loss is the next sentence's alone), targets
 * among the input ids so that the tied decoder's rows meet the embeddings'. */
static void make_pretraining_labels(examples *e, int kind) {
    e->pretraining = kind;
    uint64_t s = 77;
    for (int64_t i = 0; i < N; i++) {
        for (int64_t t = 0; t < TMAX; t++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            bool masked = t > 0 && t < lengths[i] && (s >> 40) % 3 == 0;
            e->mlm[i][t] = masked ? (int32_t)(3 + (s >> 20) % 24) : -100;
        }
        e->nsp[i] = (int32_t)(i % 2);
    }
}

static void make_examples(examples *e, int32_t pad, bool weighted, bool cls_only) {
    memset(e, 0, sizeof *e);
    uint64_t s = 20;
    for (int64_t i = 0; i < N; i++) {
        for (int64_t t = 0; t < TMAX; t++) {
            s = s * 6364136223846793005ULL + 1442695040888963407ULL;
            bool real = t < lengths[i];
            e->ids[i][t] = real ? (int32_t)(3 + (s >> 33) % 20) : pad; /* 20 ids: repeats within an example */
            e->types[i][t] = real && t >= lengths[i] / 2;
            e->mask[i][t] = real;
        }
        e->labels[i] = (int32_t)(i % LABELS);
    }
    e->class_weights[0] = 0.5f, e->class_weights[1] = 2.0f, e->class_weights[2] = 1.25f;
    e->weighted = weighted;
    e->cls_only = cls_only;
}

static vt_bert *make_model_for(vt_bert_family family, vt_bert_arch arch) {
    vt_bert_config c;
    vt_bert_config_default_family(&c, family, arch);
    c.vocab_size = 40;
    c.hidden_size = 32;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 4;
    c.intermediate_size = 64;
    c.max_position_embeddings = 40;
    c.num_labels = LABELS;
    c.initializer_range = 0.3f;
    c.hidden_dropout_prob = c.attention_probs_dropout_prob = c.classifier_dropout = c.seq_classif_dropout = 0;
    vt_bert *b = vt_bert_new(&c, 5);
    if (!b) fail_msg("vt_bert_new: %s", vt_last_error());
    int64_t n;
    float *p = vt_bert_params(b, &n);
    for (int64_t i = 0; i < n; i++) p[i] += 0.1f * sinf((float)i); /* non-zero biases, LayerNorms not 1 */
    return b;
}

static vt_bert *make_model(vt_bert_family family) {
    return make_model_for(family, VT_BERT_FOR_SEQUENCE_CLASSIFICATION);
}

static double fabs_max_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

static double grad_sq_norm(vt_bert *b) {
    size_t n_infos;
    const vt_param_info *infos = vt_bert_param_infos(b, &n_infos);
    const float *g = vt_bert_grads(b, NULL);
    double s = 0;
    for (size_t p = 0; p < n_infos; p++)
        if (infos[p].trainable)
            for (int64_t i = infos[p].offset; i < infos[p].offset + infos[p].numel; i++) s += (double)g[i] * g[i];
    return s;
}

/* The examples padded into one batch (as dp_fast.c does). */
static vt_bert_batch whole_batch(examples *e) {
    return (vt_bert_batch){.batch = N, .seq_len = TMAX, .input_ids = &e->ids[0][0], .token_type_ids = &e->types[0][0],
                           .attention_mask = &e->mask[0][0], .labels = e->pretraining ? NULL : e->labels,
                           .class_weights = e->weighted ? e->class_weights : NULL, .cls_only = e->cls_only,
                           .mlm_labels = e->pretraining ? &e->mlm[0][0] : NULL,
                           .nsp_labels = e->pretraining == 2 ? e->nsp : NULL};
}

/* The examples packed into one batch: each one's tokens, no padding. */
static vt_bert_batch packed_batch(examples *e, int32_t *ids, int32_t *types, int64_t *offsets) {
    offsets[0] = 0;
    for (int64_t i = 0; i < N; i++) {
        memcpy(ids + offsets[i], e->ids[i], (size_t)lengths[i] * sizeof *ids);
        memcpy(types + offsets[i], e->types[i], (size_t)lengths[i] * sizeof *types);
        offsets[i + 1] = offsets[i] + lengths[i];
    }
    return (vt_bert_batch){.batch = N, .input_ids = ids, .token_type_ids = types, .offsets = offsets,
                           .labels = e->labels, .class_weights = e->weighted ? e->class_weights : NULL,
                           .cls_only = e->cls_only};
}

/* Fast norms vs exact ones; returns the median norm. */
static double check_norms(vt_bert *b, examples *e, const char *what) {
    double exact[N], fast[N];
    vt_bert_outputs out;
    for (int64_t i = 0; i < N; i++) {
        vt_bert_batch one;
        get_example(e, i, &one);
        assert_int_equal(vt_bert_forward(b, &one, true, 1, &out), VT_OK);
        assert_int_equal(vt_bert_backward(b, false), VT_OK);
        exact[i] = grad_sq_norm(b);
    }
    int32_t ids[N * TMAX], types[N * TMAX];
    int64_t offsets[N + 1];
    for (int packed = 0; packed < (e->pretraining ? 1 : 2); packed++) { /* (pretraining's heads: padded only) */
        vt_bert_batch all = packed ? packed_batch(e, ids, types, offsets) : whole_batch(e);
        assert_int_equal(vt_bert_forward(b, &all, true, 1, &out), VT_OK);
        assert_int_equal(vt_bert_backward_examples(b, NULL, fast), VT_OK);
        double worst = 0;
        for (int64_t i = 0; i < N; i++) worst = fmax(worst, fabs(fast[i] - exact[i]) / fmax(exact[i], 1e-30));
        printf("    %-34s squared norms of lengths 1 and 30: %.4g, %.4g; fast (%s) vs exact rel %.3g (tol %.0e)\n",
               what, exact[2], exact[1], packed ? "packed" : "padded", worst, TOL);
        assert_true(worst <= TOL);
    }
    double s[N];
    memcpy(s, exact, sizeof s);
    for (int i = 0; i < N; i++) /* (insertion sort) */
        for (int j = i; j > 0 && s[j] < s[j - 1]; j--) {
            double t = s[j];
            s[j] = s[j - 1], s[j - 1] = t;
        }
    return sqrt(0.5 * (s[N / 2 - 1] + s[N / 2]));
}

/* The private gradient (noise 0) by the exact or the fast path into g. */
static int64_t micro_batch; /* the DP options' micro_batch in dp_gradient */

static void dp_gradient(vt_bert *b, examples *e, double c, bool exact, vt_dp_fast_method method, float *g,
                        int64_t *clipped) {
    vt_dp_options o = {.max_grad_norm = c, .expected_batch = N, .examples = N, .seed = 3, .exact = exact,
                       .fast_method = method, .micro_batch = micro_batch};
    vt_dp *dp = vt_dp_new(&o, b);
    assert_non_null(dp);
    int64_t rows[N] = {0, 1, 2, 3, 4, 5};
    vt_dp_step_info info;
    assert_int_equal(vt_dp_gradient(dp, b, 0, rows, N, get_example, e, 1, &info), VT_OK);
    int64_t n;
    const float *grads = vt_bert_grads(b, &n);
    memcpy(g, grads, (size_t)n * sizeof *g);
    *clipped = info.clipped;
    assert_int_equal(info.batch, N);
    assert_true(info.fast == !exact);
    vt_dp_free(dp);
}

/* pretraining: 0, or make_pretraining_labels' kind (the model's arch to match). */
static void check_family(vt_bert_family family, bool weighted, bool cls_only, int pretraining, const char *what) {
    vt_bert_arch arch = !pretraining ? VT_BERT_FOR_SEQUENCE_CLASSIFICATION
                        : pretraining == 1 ? VT_BERT_FOR_MASKED_LM : VT_BERT_FOR_PRETRAINING;
    vt_bert *b = make_model_for(family, arch);
    examples e;
    make_examples(&e, (int32_t)vt_bert_get_config(b)->pad_token_id, weighted, cls_only);
    if (pretraining) make_pretraining_labels(&e, pretraining);
    double c = check_norms(b, &e, what);
    int64_t n, clipped_exact, clipped_fast;
    vt_bert_grads(b, &n);
    float *exact = malloc((size_t)n * sizeof *exact), *fast = malloc((size_t)n * sizeof *fast);
    float *two_pass = malloc((size_t)n * sizeof *two_pass);
    assert_true(exact && fast && two_pass);
    dp_gradient(b, &e, c, true, VT_DP_BOOKKEEPING, exact, &clipped_exact);
    dp_gradient(b, &e, c, false, VT_DP_BOOKKEEPING, fast, &clipped_fast);
    assert_int_equal(clipped_exact, clipped_fast);
    assert_true(clipped_fast > 0 && clipped_fast < N); /* both sides of the bound */
    double top = 0, worst = 0;
    for (int64_t i = 0; i < n; i++) top = fmax(top, fabs(exact[i]));
    micro_batch = 4; /* gradient accumulation: micro-batches of 4 and 2 */
    dp_gradient(b, &e, c, false, VT_DP_BOOKKEEPING, two_pass, &clipped_fast);
    micro_batch = 0;
    assert_int_equal(clipped_exact, clipped_fast);
    double vs_micro = fabs_max_diff(fast, two_pass, n) / top;
    printf("    %-34s micro-batches of 4 vs one batch: largest difference %.3g of the largest entry (tol %.0e)\n", what,
           vs_micro, TOL_SAME);
    assert_true(vs_micro <= TOL_SAME);
    dp_gradient(b, &e, c, false, VT_DP_TWO_PASS, two_pass, &clipped_fast);
    double vs_two_pass = fabs_max_diff(fast, two_pass, n) / top;
    printf("    %-34s book-keeping vs two passes: largest difference %.3g of the largest entry (tol %.0e)\n", what,
           vs_two_pass, TOL_SAME);
    assert_true(vs_two_pass <= TOL_SAME);
    const char *worst_name = "";
    for (size_t k = 0; k < vt_bert_param_count(b); k++) {
        const vt_bert_param *p = vt_bert_param_at(b, k);
        int64_t off = p->grad - vt_bert_grads(b, NULL), numel = p->shape[0] * (p->ndim == 2 ? p->shape[1] : 1);
        double rel = rel_max_diff(fast + off, exact + off, numel);
        if (strstr(p->name, "key.bias") || strstr(p->name, "k_lin.bias")) { /* zero in theory: the whole's scale */
            double err = 0;
            for (int64_t i = off; i < off + numel; i++) err = fmax(err, fabs((double)fast[i] - exact[i]));
            rel = err / top;
        }
        if (!(rel <= worst)) worst = rel, worst_name = p->name;
    }
    printf("    %-34s DP gradient (%lld of %d clipped): fast vs exact worst %s %.3g (tol %.0e)\n", what,
           (long long)clipped_fast, N, worst_name, worst, TOL);
    assert_true(worst <= TOL);
    free(exact);
    free(fast);
    free(two_pass);
    vt_bert_free(b);
}

static void test_bert(void **state) {
    (void)state;
    check_family(VT_FAMILY_BERT, false, false, 0, "BERT");
    check_family(VT_FAMILY_BERT, false, true, 0, "BERT cls_only");
    check_family(VT_FAMILY_BERT, true, true, 0, "BERT class weights");
}

static void test_roberta(void **state) {
    (void)state;
    check_family(VT_FAMILY_ROBERTA, false, true, 0, "RoBERTa cls_only");
    check_family(VT_FAMILY_ROBERTA, true, false, 0, "RoBERTa class weights");
}

static void test_distilbert(void **state) {
    (void)state;
    check_family(VT_FAMILY_DISTILBERT, false, true, 0, "DistilBERT cls_only");
}

/* Masked-LM pretraining: each sequence's loss its masked positions' mean
 * cross-entropy (plus its next-sentence one), the decoder tied to the word
 * embeddings (its norm's cross term with the embeddings' rows). */
static void test_pretraining(void **state) {
    (void)state;
    check_family(VT_FAMILY_BERT, false, false, 2, "BERT MLM + NSP");
    check_family(VT_FAMILY_BERT, false, false, 1, "BERT MLM");
    check_family(VT_FAMILY_ROBERTA, false, false, 1, "RoBERTa MLM");
}

/* The private gradients (noise 0, bound c) by a reference path and another:
 * their largest difference over the reference's largest entry; both must
 * clip the same examples (*clipped how many). */
static double paths_differ(vt_bert *b, examples *e, double c, bool ref_exact, vt_dp_fast_method ref_method,
                           vt_dp_fast_method method, int64_t *clipped) {
    int64_t n, clipped_ref;
    vt_bert_grads(b, &n);
    float *ref = malloc((size_t)n * sizeof *ref), *other = malloc((size_t)n * sizeof *other);
    assert_true(ref && other);
    dp_gradient(b, e, c, ref_exact, ref_method, ref, &clipped_ref);
    dp_gradient(b, e, c, false, method, other, clipped);
    assert_int_equal(clipped_ref, *clipped);
    double top = 0;
    for (int64_t i = 0; i < n; i++) top = fmax(top, fabs(ref[i]));
    double diff = fabs_max_diff(other, ref, n) / top;
    free(ref);
    free(other);
    return diff;
}

/* An example whose mask has a hole (a token in the middle masked) cannot be
 * packed: the batch stays padded, and its private gradient still equals the
 * exact path's. */
static void test_padded_fast_path(void **state) {
    (void)state;
    vt_bert *b = make_model(VT_FAMILY_BERT);
    examples e;
    make_examples(&e, (int32_t)vt_bert_get_config(b)->pad_token_id, false, true);
    e.mask[3][5] = 0; /* example 3 (17 tokens, arriving padded) */
    int64_t clipped;
    double diff = paths_differ(b, &e, 20.0, true, VT_DP_BOOKKEEPING, VT_DP_BOOKKEEPING, &clipped);
    assert_true(clipped > 0 && clipped < N); /* both sides of the bound */
    printf("    a mask with a hole (padded batch, %lld of %d clipped): fast vs exact %.3g of the largest entry "
           "(tol %.0e)\n", (long long)clipped, N, diff, TOL);
    assert_true(diff <= TOL);
    vt_bert_free(b);
}

/* In bf16 (the products round dy and x to bf16, 8 significant bits) book-keeping equals the two-pass path
 * within 2e-2 of the gradient's largest entry: both round the same products' operands, one after scaling
 * dy by c_i, the other before (a few bf16 roundings apart). */
static void test_bf16(void **state) {
    (void)state;
    vt_bert *b = make_model(VT_FAMILY_BERT);
    assert_int_equal(vt_bert_set_precision(b, VT_PRECISION_BF16), VT_OK);
    examples e;
    make_examples(&e, (int32_t)vt_bert_get_config(b)->pad_token_id, false, true);
    int64_t clipped;
    double diff = paths_differ(b, &e, 20.0, false, VT_DP_TWO_PASS, VT_DP_BOOKKEEPING, &clipped);
    printf("    bf16: book-keeping vs two passes (%lld of %d clipped): %.3g of the largest entry (tol 2e-2)\n",
           (long long)clipped, N, diff);
    assert_true(diff <= 2e-2);
    vt_bert_free(b);
}

/* Per-example passes are refused where they do not apply, with a message. */
static void test_refusals(void **state) {
    (void)state;
    double sq[N];
    vt_bert *b = make_model(VT_FAMILY_BERT);
    assert_int_equal(vt_bert_backward_examples(b, NULL, sq), VT_ERR_STATE); /* no forward yet */
    printf("    refused: %s\n", vt_last_error());
    examples e;
    make_examples(&e, 0, false, true);
    vt_bert_batch all = whole_batch(&e);
    vt_bert_outputs out;
    double ones[N] = {1, 1, 1, 1, 1, 1};
    assert_int_equal(vt_bert_forward(b, &all, true, 1, &out), VT_OK);
    assert_int_equal(vt_bert_bookkeeping_gradient(b, ones), VT_ERR_STATE); /* nothing kept yet */
    printf("    refused: %s\n", vt_last_error());
    assert_int_equal(vt_bert_backward_bookkeeping(b, sq), VT_OK);
    assert_int_equal(vt_bert_bookkeeping_gradient(b, ones), VT_OK);
    assert_int_equal(vt_bert_bookkeeping_gradient(b, ones), VT_ERR_STATE); /* its rows were scaled: once only */
    assert_int_equal(vt_bert_backward_bookkeeping(b, sq), VT_OK);
    assert_int_equal(vt_bert_forward(b, &all, true, 1, &out), VT_OK);
    assert_int_equal(vt_bert_bookkeeping_gradient(b, ones), VT_ERR_STATE); /* another forward since */
    vt_bert_free(b);
    vt_bert_config c;
    vt_bert_config_default(&c, VT_BERT_FOR_QUESTION_ANSWERING);
    c.vocab_size = 40, c.hidden_size = 32, c.num_hidden_layers = 1, c.num_attention_heads = 4;
    c.intermediate_size = 64, c.max_position_embeddings = 40, c.num_labels = 2;
    assert_non_null(b = vt_bert_new(&c, 5));
    make_examples(&e, 0, false, false);
    int32_t starts[N] = {0}, ends[N] = {1, 1, 0, 2, 3, 1};
    all = whole_batch(&e);
    all.labels = NULL;
    all.start_positions = starts, all.end_positions = ends;
    assert_int_equal(vt_bert_forward(b, &all, true, 1, &out), VT_OK);
    assert_int_equal(vt_bert_backward_examples(b, NULL, sq), VT_ERR_INVALID_ARG);
    printf("    refused: %s\n", vt_last_error());
    vt_bert_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bert),
        cmocka_unit_test(test_roberta),
        cmocka_unit_test(test_distilbert),
        cmocka_unit_test(test_pretraining),
        cmocka_unit_test(test_bf16),
        cmocka_unit_test(test_padded_fast_path),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
