/* A sequence's inference results do not depend on the batch it is in or on
 * the number of threads: every output of vt_bert_forward (hidden states,
 * pooled output, logits), and the attention kernel's, is bit for bit the
 * sequence's result alone. This is what lets verto serve batch requests and
 * still answer each exactly as verto predict does for that text alone.
 *
 * Checked for sequence classifiers (full and cls_only forward, with key
 * padding in the batch), a token classifier and a BertModel, in fp32 and
 * bf16, with hidden sizes at and over the products' 64-row blocks, on batches
 * of 1 to 5 sequences at 1 and 2 threads. No tolerance: equality is the
 * property (on a CPU where a GEMM's rounding depends on the row count, one
 * product over the whole batch fails this). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "verto/bert.h"
#include "verto/kernels.h"
#include "verto/rng.h"
#include "vt_test.h"

#define MAXB 5
#define VOCAB 60

typedef struct outputs {
    float *hidden, *pooled, *logits; /* per sequence: (rows, H), (H), (cls rows, labels) */
} outputs;

static vt_bert *make_model(vt_bert_arch arch, int64_t hidden, int64_t heads, int64_t positions) {
    vt_bert_config c;
    vt_bert_config_default(&c, arch);
    c.vocab_size = VOCAB;
    c.hidden_size = hidden;
    c.num_hidden_layers = 2;
    c.num_attention_heads = heads;
    c.intermediate_size = 2 * hidden + 6;
    c.max_position_embeddings = positions;
    c.num_labels = 3;
    c.initializer_range = 0.1f;
    vt_bert *m = vt_bert_new(&c, 17);
    if (!m) fail_msg("vt_bert_new: %s", vt_last_error());
    return m;
}

static float *copy_of(const float *x, size_t n) {
    if (!x) return NULL;
    float *c = malloc(n * sizeof *c);
    assert_non_null(c);
    memcpy(c, x, n * sizeof *c);
    return c;
}

/* Runs sequences [first, first + n) of ids/mask (each T long) as one batch;
 * returns the outputs of sequence `which` of them. */
static outputs run(vt_bert *m, const int32_t *ids, const int32_t *mask, int64_t first, int64_t n, int64_t T,
                   bool cls_only, int64_t which) {
    const vt_bert_config *c = vt_bert_get_config(m);
    vt_bert_batch batch = {.batch = n, .seq_len = T, .input_ids = ids + first * T, .attention_mask = mask + first * T,
                           .cls_only = cls_only};
    vt_bert_outputs out;
    if (vt_bert_forward(m, &batch, false, 0, &out) != VT_OK) fail_msg("forward: %s", vt_last_error());
    int64_t H = c->hidden_size, rows = cls_only ? 1 : T, L = c->num_labels;
    int64_t cls_rows = c->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION ? T : 1;
    return (outputs){.hidden = copy_of(out.last_hidden_state + which * rows * H, (size_t)(rows * H)),
                     .pooled = out.pooled ? copy_of(out.pooled + which * H, (size_t)H) : NULL,
                     .logits = out.logits ? copy_of(out.logits + which * cls_rows * L, (size_t)(cls_rows * L)) : NULL};
}

static void same(const char *what, const float *a, const float *b, size_t n, const char *ctx) {
    if ((a == NULL) != (b == NULL)) fail_msg("%s: %s present in one run only", ctx, what);
    if (a && memcmp(a, b, n * sizeof *a)) fail_msg("%s: %s differs from the sequence alone", ctx, what);
}

static void check_model(vt_bert_arch arch, int64_t hidden, int64_t heads, int64_t T, bool cls_only,
                        vt_precision precision) {
    vt_bert *m = make_model(arch, hidden, heads, T);
    assert_int_equal(vt_bert_set_precision(m, precision), VT_OK);
    const vt_bert_config *c = vt_bert_get_config(m);
    int32_t ids[MAXB * 80], mask[MAXB * 80];
    vt_rng r;
    vt_rng_seed(&r, 3);
    for (int64_t i = 0; i < MAXB * T; i++) {
        ids[i] = (int32_t)vt_rng_below(&r, VOCAB);
        mask[i] = !(i / T == 2 && i % T >= T - 3); /* sequence 2 padded */
    }
    int64_t H = c->hidden_size, rows = cls_only ? 1 : T;
    int64_t cls_rows = arch == VT_BERT_FOR_TOKEN_CLASSIFICATION ? T : 1;
    int threads = omp_get_max_threads();
    for (int64_t s = 0; s < MAXB; s++) {
        omp_set_num_threads(1);
        outputs alone = run(m, ids, mask, s, 1, T, cls_only, 0);
        for (int64_t n = 1; n <= MAXB; n++) /* every batch of n consecutive sequences holding s */
            for (int64_t first = s - n + 1 > 0 ? s - n + 1 : 0; first <= s && first + n <= MAXB; first++)
                for (int t = 1; t <= 2; t++) {
                    omp_set_num_threads(t);
                    outputs got = run(m, ids, mask, first, n, T, cls_only, s - first);
                    char ctx[200];
                    snprintf(ctx, sizeof ctx, "%s H=%lld T=%lld%s %s: sequence %lld in a batch of %lld at %d threads",
                             vt_bert_arch_name(arch), (long long)hidden, (long long)T, cls_only ? " cls_only" : "",
                             vt_precision_name(precision), (long long)s, (long long)n, t);
                    same("last_hidden_state", got.hidden, alone.hidden, (size_t)(rows * H), ctx);
                    same("pooled", got.pooled, alone.pooled, (size_t)H, ctx);
                    same("logits", got.logits, alone.logits, (size_t)(cls_rows * c->num_labels), ctx);
                    free(got.hidden), free(got.pooled), free(got.logits);
                }
        free(alone.hidden), free(alone.pooled), free(alone.logits);
    }
    omp_set_num_threads(threads);
    vt_bert_free(m);
}

static void test_sequence_classifier(void **state) {
    (void)state;
    for (int p = 0; p < 2; p++) {
        vt_precision prec = p ? VT_PRECISION_BF16 : VT_PRECISION_FP32;
        check_model(VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 32, 4, 12, false, prec);
        check_model(VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 32, 4, 12, true, prec);
        check_model(VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 48, 3, 70, true, prec); /* rows cross a 64-row block */
    }
}

static void test_other_architectures(void **state) {
    (void)state;
    check_model(VT_BERT_FOR_TOKEN_CLASSIFICATION, 32, 2, 9, false, VT_PRECISION_FP32);
    check_model(VT_BERT_MODEL, 40, 5, 66, false, VT_PRECISION_FP32);
    check_model(VT_BERT_MODEL, 40, 5, 66, false, VT_PRECISION_BF16);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sequence_classifier),
        cmocka_unit_test(test_other_architectures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
