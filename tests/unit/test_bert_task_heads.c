/* The task heads through the public API, without transformers (which
 * test_families_ref.c compares them with): where question answering's dropout
 * is (DistilBERT's qa_dropout, none in the others), the batches each head
 * refuses and the messages, problem_type recorded by the first loss and set
 * by vt_bert_set_problem_type, an all-ignored question answering batch, and
 * the split of a batch across data-parallel parts (vt_bert_forward_ex with the
 * whole batch's vt_bert_loss_norm): the parts' losses and gradients add up to
 * the whole batch's, within 1e-5 relative (float sums in another order). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/bert.h"
#include "verto/rng.h"
#include "vt_test.h"

#define B 4
#define T 7
#define H 16
#define SPLIT_TOL 1e-5

static vt_bert *tiny(vt_bert_family family, vt_bert_arch arch, int num_labels, float dropout) {
    vt_bert_config c;
    vt_bert_config_default_family(&c, family, arch);
    c.vocab_size = 40;
    c.hidden_size = H;
    c.num_hidden_layers = 2;
    c.num_attention_heads = 2;
    c.intermediate_size = 24;
    c.max_position_embeddings = 16;
    c.num_labels = num_labels;
    c.initializer_range = 0.2f;
    c.hidden_dropout_prob = c.attention_probs_dropout_prob = 0;
    c.seq_classif_dropout = 0;
    c.classifier_dropout = c.qa_dropout = dropout;
    vt_bert *m = vt_bert_new(&c, 3);
    if (!m) fail_msg("vt_bert_new: %s", vt_last_error());
    return m;
}

typedef struct data {
    int32_t ids[B * T], mask[B * T], labels[B], start[B], end[B];
    float multi[B * 3], targets[B * 3];
} data;

static vt_bert_batch make_batch(data *d) {
    vt_rng r;
    vt_rng_seed(&r, 4);
    for (int i = 0; i < B * T; i++) {
        d->ids[i] = 5 + (int32_t)vt_rng_below(&r, 35);
        d->mask[i] = !(i / T == 2 && i % T >= 4);
    }
    for (int i = 0; i < B; i++) d->labels[i] = i % 3;
    for (int i = 0; i < B * 3; i++) {
        d->multi[i] = (float)vt_rng_below(&r, 2);
        d->targets[i] = (float)vt_rng_normal(&r);
    }
    static const int32_t start[B] = {1, 50, -2, 6}, end[B] = {T, 3, 2, 6}; /* 50 and T ignored, -2 counts as 0 */
    memcpy(d->start, start, sizeof start);
    memcpy(d->end, end, sizeof end);
    return (vt_bert_batch){.batch = B, .seq_len = T, .input_ids = d->ids, .attention_mask = d->mask};
}

static void expect_refused(vt_bert *m, const vt_bert_batch *in, const char *what, const char *needle) {
    vt_bert_outputs out;
    vt_status st = vt_bert_forward(m, in, true, 1, &out);
    if (st == VT_OK) fail_msg("%s: accepted", what);
    printf("    %-40s %s\n", what, vt_last_error());
    if (!strstr(vt_last_error(), needle)) fail_msg("%s: the message does not name \"%s\"", what, needle);
}

static double max_abs_diff(const float *a, const float *b, int64_t n) {
    double d = 0;
    for (int64_t i = 0; i < n; i++) d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

/* DistilBERT drops out the hidden states before qa_outputs (qa_dropout);
 * BERT's question answering has no dropout there, whatever classifier_dropout. */
static void test_qa_dropout(void **state) {
    data d;
    vt_bert_batch in = make_batch(&d);
    static const vt_bert_family families[] = {VT_FAMILY_DISTILBERT, VT_FAMILY_BERT, VT_FAMILY_ROBERTA};
    for (size_t i = 0; i < 3; i++) {
        vt_bert *m = tiny(families[i], VT_BERT_FOR_QUESTION_ANSWERING, 2, 0.5f);
        vt_bert_outputs out;
        assert_int_equal(vt_bert_forward(m, &in, false, 1, &out), VT_OK);
        float eval[B * T];
        memcpy(eval, out.start_logits, sizeof eval);
        assert_int_equal(vt_bert_forward(m, &in, true, 1, &out), VT_OK);
        double d_train = max_abs_diff(out.start_logits, eval, B * T);
        printf("    %-40s training vs eval start logits: %.3g\n", vt_bert_config_arch_name(vt_bert_get_config(m)),
               d_train);
        /* Without dropout the two differ by rounding only (training runs one matmul over the batch, eval one
         * per sequence). */
        if (families[i] == VT_FAMILY_DISTILBERT ? !(d_train > 1e-2) : !(d_train < 1e-5))
            fail_msg("%s: the dropout before qa_outputs is wrong", vt_bert_config_arch_name(vt_bert_get_config(m)));
        vt_bert_free(m);
    }
}

static void test_refusals(void **state) {
    data d;
    vt_bert_batch in = make_batch(&d), bad;
    vt_bert *qa = tiny(VT_FAMILY_BERT, VT_BERT_FOR_QUESTION_ANSWERING, 2, 0);
    bad = in, bad.start_positions = d.start;
    expect_refused(qa, &bad, "start without end", "end_positions");
    bad = in, bad.labels = d.labels;
    expect_refused(qa, &bad, "labels on question answering", "labels");
    bad = in, bad.multi_labels = d.multi;
    expect_refused(qa, &bad, "multi_labels on question answering", "multi_labels");
    vt_bert_free(qa);

    vt_bert *tok = tiny(VT_FAMILY_ROBERTA, VT_BERT_FOR_TOKEN_CLASSIFICATION, 3, 0);
    bad = in, bad.start_positions = d.start, bad.end_positions = d.end;
    expect_refused(tok, &bad, "positions on a token classifier", "question answering");
    bad = in, bad.regression_targets = d.targets;
    expect_refused(tok, &bad, "regression_targets on a token classifier", "regression_targets");
    vt_bert_free(tok);

    vt_bert *seq = tiny(VT_FAMILY_DISTILBERT, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 3, 0);
    bad = in, bad.labels = d.labels, bad.multi_labels = d.multi;
    expect_refused(seq, &bad, "labels and multi_labels", "one of");
    float weights[3] = {1, 2, 3};
    bad = in, bad.multi_labels = d.multi, bad.class_weights = weights;
    expect_refused(seq, &bad, "class_weights with multi_labels", "class_weights");
    assert_int_equal(vt_bert_set_problem_type(seq, VT_PROBLEM_SINGLE_LABEL), VT_OK);
    bad = in, bad.multi_labels = d.multi;
    expect_refused(seq, &bad, "multi_labels, single-label problem", "single_label_classification");
    vt_bert_free(seq);

    vt_bert *one = tiny(VT_FAMILY_BERT, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 1, 0);
    bad = in, bad.labels = d.labels;
    expect_refused(one, &bad, "labels with 1 label", "1 label");
    assert_int_not_equal(vt_bert_set_problem_type(one, VT_PROBLEM_SINGLE_LABEL), VT_OK);
    vt_bert_free(one);

    vt_bert *mlm = tiny(VT_FAMILY_BERT, VT_BERT_FOR_MASKED_LM, 2, 0);
    assert_int_not_equal(vt_bert_set_problem_type(mlm, VT_PROBLEM_MULTI_LABEL), VT_OK);
    vt_bert_free(mlm);

    vt_bert_config c;
    vt_bert_config_default(&c, VT_BERT_FOR_QUESTION_ANSWERING);
    c.num_labels = 3;
    vt_status st = vt_bert_config_check(&c, "qa3");
    assert_int_not_equal(st, VT_OK);
    assert_non_null(strstr(vt_last_error(), "num_labels 2"));
}

/* problem_type: the first loss records the labels field it was given. */
static void test_problem_recorded(void **state) {
    data d;
    vt_bert_batch in = make_batch(&d), with;
    static const struct {
        int field; /* 0 labels, 1 multi_labels, 2 regression_targets */
        vt_bert_problem want;
    } cases[] = {{0, VT_PROBLEM_SINGLE_LABEL}, {1, VT_PROBLEM_MULTI_LABEL}, {2, VT_PROBLEM_REGRESSION}};
    for (size_t i = 0; i < 3; i++) {
        vt_bert *m = tiny(VT_FAMILY_XLM_ROBERTA, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 3, 0);
        vt_bert_outputs out;
        assert_int_equal(vt_bert_forward(m, &in, false, 0, &out), VT_OK); /* no labels: nothing decided */
        assert_int_equal(vt_bert_get_config(m)->problem_type, VT_PROBLEM_UNSET);
        with = in;
        if (cases[i].field == 0) with.labels = d.labels;
        if (cases[i].field == 1) with.multi_labels = d.multi;
        if (cases[i].field == 2) with.regression_targets = d.targets;
        assert_int_equal(vt_bert_forward(m, &with, true, 0, &out), VT_OK);
        assert_true(isfinite(out.loss) && out.loss > 0);
        assert_int_equal(vt_bert_get_config(m)->problem_type, cases[i].want);
        vt_bert_free(m);
    }
}

/* Every position past the input: no loss to learn from, a zero gradient. */
static void test_qa_all_ignored(void **state) {
    data d;
    vt_bert_batch in = make_batch(&d);
    int32_t past[B] = {T, T + 1, 100, T};
    in.start_positions = in.end_positions = past;
    vt_bert *m = tiny(VT_FAMILY_BERT, VT_BERT_FOR_QUESTION_ANSWERING, 2, 0);
    vt_bert_outputs out;
    assert_int_equal(vt_bert_forward(m, &in, true, 0, &out), VT_OK);
    assert_true(out.loss == 0);
    assert_int_equal(out.correct, 0);
    assert_int_equal(vt_bert_backward(m, false), VT_OK);
    int64_t n;
    const float *g = vt_bert_grads(m, &n);
    for (int64_t i = 0; i < n; i++)
        if (g[i] != 0) fail_msg("gradient %lld is %g with every position ignored", (long long)i, g[i]);
    vt_bert_free(m);
}

/* The batch in two parts, each normalised by the whole's denominators, adds
 * up to the whole: losses and gradients. */
static void check_split(vt_bert *m, const vt_bert_batch *whole, const char *what) {
    vt_bert_loss_norm norm, part_norm[2];
    vt_bert_loss_norm_of(m, whole, &norm);
    vt_bert_outputs out;
    assert_int_equal(vt_bert_forward(m, whole, true, 0, &out), VT_OK);
    double loss = out.loss;
    assert_int_equal(vt_bert_backward(m, false), VT_OK);
    int64_t n;
    const float *g = vt_bert_grads(m, &n);
    float *g_whole = malloc((size_t)n * sizeof(float));
    assert_non_null(g_whole);
    memcpy(g_whole, g, (size_t)n * sizeof(float));
    const vt_bert_config *c = vt_bert_get_config(m);
    int64_t L = c->num_labels, half = whole->batch / 2;
    double parts = 0;
    for (int p = 0; p < 2; p++) {
        vt_bert_batch in = *whole;
        int64_t first = p ? half : 0;
        in.batch = p ? whole->batch - half : half;
#define PART(field, width) \
    if (whole->field) in.field = whole->field + first * (width)
        in.input_ids += first * T;
        in.attention_mask += first * T;
        PART(labels, c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION ? T : 1);
        PART(multi_labels, L);
        PART(regression_targets, L);
        PART(start_positions, 1);
        PART(end_positions, 1);
#undef PART
        vt_bert_loss_norm_of(m, &in, &part_norm[p]);
        assert_int_equal(vt_bert_forward_ex(m, &in, true, 0, &norm, &out), VT_OK);
        parts += out.loss;
        assert_int_equal(vt_bert_backward(m, p > 0), VT_OK);
    }
    /* The parts' denominators add up to the whole's. */
    assert_true(part_norm[0].task + part_norm[1].task == norm.task);
    assert_true(part_norm[0].task_end + part_norm[1].task_end == norm.task_end);
    printf("    %-40s whole loss %.7g, parts %.7g; task norm %g, task_end %g\n", what, loss, parts, norm.task,
           norm.task_end);
    if (!(fabs(parts - loss) <= SPLIT_TOL * fabs(loss)))
        fail_msg("%s: parts' losses add to %.9g, not %.9g", what, parts, loss);
    assert_close_rel(what, vt_bert_grads(m, NULL), g_whole, n, SPLIT_TOL);
    free(g_whole);
}

static void test_data_parallel_split(void **state) {
    data d;
    vt_bert_batch in = make_batch(&d), with;
    vt_bert *m = tiny(VT_FAMILY_DISTILBERT, VT_BERT_FOR_QUESTION_ANSWERING, 2, 0);
    with = in, with.start_positions = d.start, with.end_positions = d.end;
    check_split(m, &with, "question answering");
    vt_bert_loss_norm norm;
    vt_bert_loss_norm_of(m, &with, &norm);
    assert_true(norm.task == 3 && norm.task_end == 3); /* start 50 and end T are ignored */
    vt_bert_free(m);
    m = tiny(VT_FAMILY_BERT, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 3, 0);
    with = in, with.multi_labels = d.multi;
    check_split(m, &with, "multi-label");
    vt_bert_free(m);
    m = tiny(VT_FAMILY_ROBERTA, VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 3, 0);
    with = in, with.regression_targets = d.targets;
    check_split(m, &with, "regression, 3 outputs");
    vt_bert_free(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_qa_dropout),           cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_problem_recorded),     cmocka_unit_test(test_qa_all_ignored),
        cmocka_unit_test(test_data_parallel_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
