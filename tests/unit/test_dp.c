/* DP-SGD's step (verto/dp.h), exact and fast, against Opacus 1.6 and by statistics.
 *
 * - Clipping: with noise 0, the per-example gradients of a transformers
 *   BertForSequenceClassification (tests/ref/gen_dp.py: 6 examples of
 *   different lengths, C between their norms so some are clipped and some
 *   not), clipped, summed and divided by the expected batch, equal Opacus'
 *   DPOptimizer's p.grad within 1e-4 of each parameter's largest gradient:
 *   verto computes in float32 (about 1e-6 relative per operation, a few
 *   hundred operations deep) against a float64 reference. The attention key
 *   biases' gradients are zero in theory (a shift shared by all of a query's
 *   scores leaves the softmax unchanged), so their rounding is measured
 *   against their layer's key weight gradient. The same for a token
 *   classifier and a span extractor (tests/ref/gen_dp_tasks.py: an example's
 *   loss is its own, the mean over its labelled tokens or (start + end) / 2),
 *   and for pretraining (BertForPreTraining: an example is a sequence, its
 *   loss its masked positions' mean cross-entropy plus its next-sentence
 *   one; the reference forms each example's gradient by its own float64
 *   backward, the decoder tied to the word embeddings).
 * - Noise: over 40 draws on that fixed batch, (noisy - clean) x B over every
 *   coordinate has mean 0 and variance S^2 C^2 within 5 standard errors of
 *   their estimators (sigma / sqrt(N) and sigma^2 sqrt(2 / N) for N normal
 *   draws); a step's noise is reproducible and differs between steps.
 * - Poisson sampling: over 2000 steps the batch sizes' mean is q n within 5
 *   standard errors (sqrt(n q (1 - q) / steps)); small rates give empty
 *   batches, whose gradient is the noise alone. Shuffle sampling visits every
 *   example once an epoch. A step reports its noise multiplier, sample rate
 *   and step count to the accountant's callback. Invalid options are refused
 *   with a message. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/dp.h"
#include "vt_test.h"

#define CLIP_TOL 1e-4

/* A reference's task: its files, its architecture and labels. */
typedef struct ref_task {
    const char *ref, *model, *what;
    vt_bert_arch arch;
    int num_labels;
} ref_task;

static const ref_task SEQUENCE = {"dp_ref.safetensors", "dp_model", "sequence classification",
                                  VT_BERT_FOR_SEQUENCE_CLASSIFICATION, 3};
static const ref_task TOKENS = {"dp_tok_ref.safetensors", "dp_tok_model", "token classification",
                                VT_BERT_FOR_TOKEN_CLASSIFICATION, 3};
static const ref_task SPANS = {"dp_qa_ref.safetensors", "dp_qa_model", "question answering",
                               VT_BERT_FOR_QUESTION_ANSWERING, 2};
static const ref_task PRETRAINING = {"dp_pt_ref.safetensors", "dp_pt_model", "pretraining (MLM + NSP)",
                                     VT_BERT_FOR_PRETRAINING, 2};

typedef struct ref_data {
    int64_t n, T;
    vt_bert_arch arch;
    int32_t *ids, *types, *mask, *labels; /* labels (n) or, per token, (n, T) */
    int32_t *starts, *ends;               /* (n) question answering */
    int32_t *mlm, *nsp;                   /* (n, T) and (n) pretraining */
} ref_data;

static vt_status get_example(void *ctx, int64_t row, vt_bert_batch *batch) {
    const ref_data *d = ctx;
    *batch = (vt_bert_batch){.batch = 1, .seq_len = d->T, .input_ids = d->ids + row * d->T,
                             .token_type_ids = d->types + row * d->T, .attention_mask = d->mask + row * d->T};
    if (d->arch == VT_BERT_FOR_QUESTION_ANSWERING) batch->start_positions = d->starts + row, batch->end_positions = d->ends + row;
    else if (d->arch == VT_BERT_FOR_PRETRAINING) batch->mlm_labels = d->mlm + row * d->T, batch->nsp_labels = d->nsp + row;
    else batch->labels = d->labels + row * (d->arch == VT_BERT_FOR_TOKEN_CLASSIFICATION ? d->T : 1);
    return VT_OK;
}

static vt_bert *load_task_model(const ref_task *task) {
    char path[4096];
    vt_bert *b = vt_bert_load(ref_file_path(task->model, path, sizeof path), task->arch, task->num_labels, 1);
    if (!b) fail_msg("vt_bert_load(%s): %s", path, vt_last_error());
    return b;
}

static vt_bert *load_model(void) { return load_task_model(&SEQUENCE); }

static void read_ref(vt_st_file *f, ref_data *d, double *c) {
    const vt_st_tensor *t = vt_st_find(f, "input_ids");
    assert_non_null(t);
    d->n = t->shape[0];
    d->T = t->shape[1];
    d->ids = ref_i32(f, "input_ids", NULL);
    d->types = ref_i32(f, "token_type_ids", NULL);
    d->mask = ref_i32(f, "attention_mask", NULL);
    bool spans = vt_st_find(f, "start_positions") != NULL, pretraining = vt_st_find(f, "mlm_labels") != NULL;
    d->labels = spans || pretraining ? NULL : ref_i32(f, "labels", NULL);
    d->mlm = pretraining ? ref_i32(f, "mlm_labels", NULL) : NULL;
    d->nsp = pretraining ? ref_i32(f, "nsp_labels", NULL) : NULL;
    d->starts = spans ? ref_i32(f, "start_positions", NULL) : NULL;
    d->ends = spans ? ref_i32(f, "end_positions", NULL) : NULL;
    float *cf = ref_f32(f, "max_grad_norm", NULL);
    *c = cf[0];
    free(cf);
}

static void free_ref(ref_data *d) {
    free(d->ids), free(d->types), free(d->mask), free(d->labels), free(d->starts), free(d->ends), free(d->mlm), free(d->nsp);
}

static vt_dp_options options(double noise, double c, int64_t batch, int64_t examples) {
    return (vt_dp_options){.noise_multiplier = noise, .max_grad_norm = c, .expected_batch = batch,
                           .examples = examples, .sampling = VT_DP_POISSON, .seed = 7};
}

static void clipped_sum_equals_opacus(const ref_task *task, bool exact) {
    vt_st_file *f = ref_open(task->ref);
    ref_data d = {.arch = task->arch};
    double c;
    read_ref(f, &d, &c);
    vt_bert *b = load_task_model(task);
    vt_dp_options o = options(0, c, d.n, d.n);
    o.exact = exact;
    vt_dp *dp = vt_dp_new(&o, b);
    assert_non_null(dp);
    int64_t rows[16];
    for (int64_t i = 0; i < d.n; i++) rows[i] = i;
    vt_dp_step_info info;
    assert_int_equal(vt_dp_gradient(dp, b, 0, rows, d.n, get_example, &d, 1, &info), VT_OK);
    float *norms = ref_f32(f, "norms", NULL);
    int64_t above = 0;
    for (int64_t i = 0; i < d.n; i++) above += norms[i] > c;
    printf("    %lld of %lld examples above C = %.4f; verto clipped %lld\n", (long long)above, (long long)d.n, c,
           (long long)info.clipped);
    assert_true(above > 0 && above < d.n); /* both sides of the bound are exercised */
    assert_int_equal(info.clipped, above);
    assert_int_equal(info.batch, d.n);
    bool fast_kind = task->arch != VT_BERT_FOR_QUESTION_ANSWERING;
    assert_true(info.fast == (!exact && fast_kind)); /* (spans: exact) */
    double worst = 0;
    const char *worst_name = "";
    for (size_t i = 0; i < vt_bert_param_count(b); i++) {
        const vt_bert_param *p = vt_bert_param_at(b, i);
        char key[160];
        snprintf(key, sizeof key, "grad.%s", p->name);
        int64_t n;
        float *want = ref_f32(f, key, &n);
        assert_int_equal(n, p->shape[0] * (p->ndim == 2 ? p->shape[1] : 1));
        double rel = rel_max_diff(p->grad, want, n);
        /* Question answering's softmax over positions ignores a shift shared by all of them: the span head's bias
         * and the last LayerNorm's beta (which shifts every position alike) have zero gradients in theory; their
         * rounding is measured against the span head's weight gradient. */
        bool shared_shift = task->arch == VT_BERT_FOR_QUESTION_ANSWERING &&
                            (!strcmp(p->name, "qa_outputs.bias") || strstr(p->name, "layer.1.output.LayerNorm.bias"));
        if (shared_shift) {
            int64_t nw;
            float *w = ref_f32(f, "grad.qa_outputs.weight", &nw);
            double scale = 0, err = 0;
            for (int64_t j = 0; j < nw; j++) scale = fmax(scale, fabs(w[j]));
            for (int64_t j = 0; j < n; j++) err = fmax(err, fabs((double)p->grad[j] - want[j]));
            rel = err / scale;
            free(w);
        }
        const char *key_bias = strstr(p->name, "attention.self.key.bias");
        if (key_bias) { /* zero in theory (softmax ignores a shift shared by a query's scores): its weight's scale */
            char weight[160];
            snprintf(weight, sizeof weight, "grad.%.*sattention.self.key.weight", (int)(key_bias - p->name), p->name);
            int64_t nw;
            float *w = ref_f32(f, weight, &nw);
            double scale = 0, err = 0;
            for (int64_t j = 0; j < nw; j++) scale = fmax(scale, fabs(w[j]));
            for (int64_t j = 0; j < n; j++) err = fmax(err, fabs((double)p->grad[j] - want[j]));
            rel = err / scale;
            free(w);
        }
        if (!(rel <= worst)) worst = rel, worst_name = p->name;
        free(want);
    }
    printf("    %s, %s clipped sum vs the float64 reference: worst %s %.3g (tol %.0e)\n", task->what, info.fast ? "fast" : "exact",
           worst_name, worst, CLIP_TOL);
    assert_true(worst <= CLIP_TOL);
    free(norms);
    vt_dp_free(dp);
    vt_bert_free(b);
    free_ref(&d);
    vt_st_close(f);
}

static void test_clipped_sum_equals_opacus(void **state) {
    (void)state;
    clipped_sum_equals_opacus(&SEQUENCE, true);  /* one backward per example */
    clipped_sum_equals_opacus(&SEQUENCE, false); /* the fast path (the default) */
}

/* Token classification (a sentence per example, its loss the mean over its labelled tokens) and question
 * answering (a window per example, (start + end) / 2), against tests/ref/gen_dp_tasks.py. */
static void test_task_clipped_sums_equal_opacus(void **state) {
    (void)state;
    clipped_sum_equals_opacus(&TOKENS, true);
    clipped_sum_equals_opacus(&TOKENS, false); /* the fast path */
    clipped_sum_equals_opacus(&SPANS, false);  /* (the exact path: a span's softmax reads padded positions) */
    clipped_sum_equals_opacus(&PRETRAINING, true);
    clipped_sum_equals_opacus(&PRETRAINING, false); /* the fast path: the tied decoder's cross term */
}

static void test_noise_statistics(void **state) {
    (void)state;
    vt_st_file *f = ref_open("dp_ref.safetensors");
    ref_data d = {.arch = VT_BERT_FOR_SEQUENCE_CLASSIFICATION};
    double c;
    read_ref(f, &d, &c);
    vt_bert *b = load_model();
    const double S = 1.3, sigma = S * c;
    vt_dp_options clean_o = options(0, c, d.n, d.n), noisy_o = options(S, c, d.n, d.n);
    vt_dp *clean = vt_dp_new(&clean_o, b), *noisy = vt_dp_new(&noisy_o, b);
    assert_non_null(clean);
    assert_non_null(noisy);
    int64_t rows[16], n;
    for (int64_t i = 0; i < d.n; i++) rows[i] = i;
    float *g = vt_bert_grads(b, &n);
    float *base = malloc((size_t)n * sizeof *base), *first = malloc((size_t)n * sizeof *first);
    assert_int_equal(vt_dp_gradient(clean, b, 0, rows, d.n, get_example, &d, 1, NULL), VT_OK);
    memcpy(base, g, (size_t)n * sizeof *g);
    double sum = 0, sumsq = 0;
    int64_t count = 0, draws = 40;
    for (int64_t step = 0; step < draws; step++) {
        assert_int_equal(vt_dp_gradient(noisy, b, step, rows, d.n, get_example, &d, 1, NULL), VT_OK);
        if (step == 0) memcpy(first, g, (size_t)n * sizeof *g);
        for (int64_t i = 0; i < n; i++) {
            double z = ((double)g[i] - base[i]) * (double)d.n;
            sum += z;
            sumsq += z * z;
            count++;
        }
    }
    double mean = sum / (double)count, var = sumsq / (double)count - mean * mean;
    double mean_se = sigma / sqrt((double)count), var_se = sigma * sigma * sqrt(2.0 / (double)count);
    printf("    noise over %lld draws: mean %.4g (bound %.3g), variance %.5g vs S^2 C^2 = %.5g (bound %.3g)\n",
           (long long)count, mean, 5 * mean_se, var, sigma * sigma, 5 * var_se);
    assert_true(fabs(mean) <= 5 * mean_se);
    assert_true(fabs(var - sigma * sigma) <= 5 * var_se);
    /* Step 0's noise again: the same; step 1's: different. */
    assert_int_equal(vt_dp_gradient(noisy, b, 0, rows, d.n, get_example, &d, 1, NULL), VT_OK);
    assert_memory_equal(g, first, (size_t)n * sizeof *g);
    assert_int_equal(vt_dp_gradient(noisy, b, 1, rows, d.n, get_example, &d, 1, NULL), VT_OK);
    assert_true(memcmp(g, first, (size_t)n * sizeof *g) != 0);
    /* An empty batch: only noise (none at S = 0), and no loss. */
    vt_dp_step_info info;
    assert_int_equal(vt_dp_gradient(clean, b, 3, rows, 0, get_example, &d, 1, &info), VT_OK);
    assert_true(isnan(info.loss));
    for (int64_t i = 0; i < n; i++) assert_true(g[i] == 0.0f);
    assert_int_equal(vt_dp_gradient(noisy, b, 3, rows, 0, get_example, &d, 1, &info), VT_OK);
    double empty_sq = 0;
    for (int64_t i = 0; i < n; i++) empty_sq += (double)g[i] * g[i] * (double)d.n * (double)d.n;
    printf("    empty batch: noise variance %.5g\n", empty_sq / (double)n);
    assert_true(fabs(empty_sq / (double)n - sigma * sigma) <= 5 * sigma * sigma * sqrt(2.0 / (double)n));
    free(base), free(first);
    vt_dp_free(clean), vt_dp_free(noisy);
    vt_bert_free(b);
    free_ref(&d);
    vt_st_close(f);
}

static void count_step(void *accountant, const vt_dp_progress *p) {
    vt_dp_progress *last = accountant;
    *last = *p;
}

/* vt_dp_step: sampled examples, then the accountant's seam called with the step's figures. */
static void test_step_reports_to_accountant(void **state) {
    (void)state;
    vt_st_file *f = ref_open("dp_ref.safetensors");
    ref_data d = {.arch = VT_BERT_FOR_SEQUENCE_CLASSIFICATION};
    double c;
    read_ref(f, &d, &c);
    vt_bert *b = load_model();
    vt_dp_progress last = {0};
    vt_dp_options o = options(0.8, c, 3, d.n);
    o.on_step = count_step;
    o.accountant = &last;
    vt_dp *dp = vt_dp_new(&o, b);
    assert_non_null(dp);
    vt_dp_step_info info;
    int64_t rows[16];
    assert_int_equal(vt_dp_step(dp, b, 4, get_example, &d, 1, &info), VT_OK);
    assert_int_equal(info.batch, vt_dp_sample(dp, 4, rows));
    assert_int_equal(last.steps, 5);
    assert_true(last.noise_multiplier == 0.8 && last.sample_rate == 0.5);
    vt_dp_free(dp);
    vt_bert_free(b);
    free_ref(&d);
    vt_st_close(f);
}

static void test_poisson_sampling(void **state) {
    (void)state;
    vt_bert *b = load_model();
    const int64_t n = 1000, B = 50, steps = 2000;
    vt_dp_options o = options(1, 1, B, n);
    vt_dp *dp = vt_dp_new(&o, b);
    assert_non_null(dp);
    int64_t *rows = malloc((size_t)n * sizeof *rows), *again = malloc((size_t)n * sizeof *again);
    double sum = 0, sumsq = 0, q = vt_dp_sample_rate(&o);
    int64_t lo = n, hi = 0;
    for (int64_t s = 0; s < steps; s++) {
        int64_t k = vt_dp_sample(dp, s, rows);
        for (int64_t i = 1; i < k; i++) assert_true(rows[i] > rows[i - 1] && rows[i] < n);
        sum += (double)k;
        sumsq += (double)k * k;
        lo = k < lo ? k : lo, hi = k > hi ? k : hi;
    }
    double mean = sum / steps, var = sumsq / steps - mean * mean, se = sqrt(n * q * (1 - q) / steps);
    printf("    Poisson q = %.3g: batch sizes %lld..%lld, mean %.3f vs q n = %.1f (bound %.3f), variance %.2f vs %.2f\n",
           q, (long long)lo, (long long)hi, mean, q * n, 5 * se, var, n * q * (1 - q));
    assert_true(fabs(mean - q * n) <= 5 * se);
    assert_true(lo < hi); /* batch sizes vary */
    int64_t k = vt_dp_sample(dp, 17, rows);
    assert_int_equal(vt_dp_sample(dp, 17, again), k); /* a pure function of seed and step */
    assert_memory_equal(rows, again, (size_t)k * sizeof *rows);
    vt_dp_free(dp);
    /* q = 0.01 of 100 examples: P(empty) = 0.99^100 = 0.37, so 200 steps see empty batches. */
    o = options(1, 1, 1, 100);
    dp = vt_dp_new(&o, b);
    int64_t empty = 0;
    for (int64_t s = 0; s < 200; s++) empty += vt_dp_sample(dp, s, rows) == 0;
    printf("    q = 0.01 of 100: %lld of 200 batches empty\n", (long long)empty);
    assert_true(empty > 0);
    vt_dp_free(dp);
    /* Shuffle: 10 examples in batches of 4: steps 0..2 cover each once, the last batch short. */
    o = options(1, 1, 4, 10);
    o.sampling = VT_DP_SHUFFLE;
    dp = vt_dp_new(&o, b);
    int seen[10] = {0};
    int64_t sizes[3];
    for (int64_t s = 0; s < 3; s++) {
        sizes[s] = vt_dp_sample(dp, s, rows);
        for (int64_t i = 0; i < sizes[s]; i++) seen[rows[i]]++;
    }
    assert_int_equal(sizes[0], 4), assert_int_equal(sizes[1], 4), assert_int_equal(sizes[2], 2);
    for (int i = 0; i < 10; i++) assert_int_equal(seen[i], 1);
    vt_dp_free(dp);
    free(rows), free(again);
    vt_bert_free(b);
}

static void test_invalid_options(void **state) {
    (void)state;
    vt_bert *b = load_model();
    const vt_dp_options bad[] = {options(-1, 1, 2, 10), options(1, 0, 2, 10), options(1, NAN, 2, 10),
                                 options(1, 1, 0, 10), options(1, 1, 11, 10)};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_null(vt_dp_new(&bad[i], b));
        printf("    refused: %s\n", vt_last_error());
        assert_non_null(strstr(vt_last_error(), "DP-SGD"));
    }
    vt_bert_free(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clipped_sum_equals_opacus),
        cmocka_unit_test(test_task_clipped_sums_equal_opacus),
        cmocka_unit_test(test_noise_statistics),
        cmocka_unit_test(test_step_reports_to_accountant),
        cmocka_unit_test(test_poisson_sampling),
        cmocka_unit_test(test_invalid_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
