/* Finite-difference gradient checks of every layer and loss through the model
 * API: the analytic gradient of each parameter and float input is compared
 * with central differences of the loss.
 *
 * The model runs in float32, so differences are noisy: with step h the
 * rounding error of (L(w+h) - L(w-h)) / 2h is about 1e-7 * |L| / h while the
 * truncation error is O(h^2). h = 1e-2 balances the two for these O(1) losses;
 * we compare the whole sampled gradient vector by relative L2 error
 * ||g - g_fd|| / max(||g||, ||g_fd||) <= 2e-2, which a wrong backward (a
 * missing term, a transposed matrix) exceeds by orders of magnitude. Points
 * are drawn away from activation kinks (ReLU at 0) by construction: inputs are
 * continuous random values, so no pre-activation sits within h of 0 with any
 * meaningful probability, and the check is repeated per activation. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/verto.h"
#include "vt_test.h"

#define STEP 1e-2
#define TOLERANCE 2e-2
#define GRAD_FLOOR 1e-3
#define SAMPLES_PER_TENSOR 24
#define DROPOUT_SEED 1234

typedef struct problem {
    vt_model *m;
    vt_tensor *x[3];  /* inputs */
    int n_x;
    vt_tensor *y;     /* labels */
} problem;

static double loss_at(problem *p) {
    double loss;
    if (vt_model_forward(p->m, (const vt_tensor *const *)p->x, true, DROPOUT_SEED, NULL) != VT_OK ||
        vt_model_backward(p->m, p->y, &loss, NULL) != VT_OK)
        fail_msg("forward/backward failed: %s", vt_last_error());
    return loss;
}

/* Compares analytic and numeric gradients of `n` floats at `values`. */
static double check_tensor(problem *p, const char *what, float *values, const float *analytic_src, int64_t n) {
    int64_t count = n < SAMPLES_PER_TENSOR ? n : SAMPLES_PER_TENSOR;
    double *analytic = calloc((size_t)count, sizeof(double)), diff2 = 0, a2 = 0, n2 = 0;
    int64_t *idx = calloc((size_t)count, sizeof *idx);
    vt_rng rng;
    vt_rng_seed(&rng, (uint64_t)n);
    for (int64_t k = 0; k < count; k++) {
        idx[k] = n <= SAMPLES_PER_TENSOR ? k : (int64_t)vt_rng_below(&rng, (uint64_t)n);
        analytic[k] = analytic_src[idx[k]];
    }
    for (int64_t k = 0; k < count; k++) {
        float saved = values[idx[k]];
        values[idx[k]] = (float)(saved + STEP);
        double up = loss_at(p);
        values[idx[k]] = (float)(saved - STEP);
        double down = loss_at(p);
        values[idx[k]] = saved;
        double numeric = (up - down) / (2 * STEP);
        diff2 += (numeric - analytic[k]) * (numeric - analytic[k]);
        a2 += analytic[k] * analytic[k];
        n2 += numeric * numeric;
    }
    /* A gradient that is zero in exact arithmetic (attention's key bias: softmax
     * ignores a shift shared by all scores) has no scale of its own; the floor
     * GRAD_FLOOR keeps round-off there from reading as a relative error. */
    double scale = fmax(sqrt(fmax(a2, n2)), GRAD_FLOOR), rel = sqrt(diff2) / scale;
    printf("    %-44s rel L2 error %.2e\n", what, rel);
    free(analytic);
    free(idx);
    return rel;
}

/* Checks every parameter and every float input of p's model. */
static void check_problem(problem *p) {
    loss_at(p);
    size_t n_params;
    const vt_param_info *infos = vt_model_param_infos(p->m, &n_params);
    int64_t n_floats;
    float *params = vt_model_params(p->m, &n_floats);
    float *grads = malloc((size_t)n_floats * sizeof(float));
    memcpy(grads, vt_model_grads(p->m, NULL), (size_t)n_floats * sizeof(float));
    double worst = 0;
    for (size_t i = 0; i < n_params; i++) {
        double rel = check_tensor(p, infos[i].name, params + infos[i].offset, grads + infos[i].offset, infos[i].numel);
        if (rel > worst) worst = rel;
    }
    for (int i = 0; i < p->n_x; i++) {
        if (p->x[i]->dtype != VT_F32) continue;
        loss_at(p);
        vt_tensor g = vt_model_input_grad(p->m, i);
        int64_t n = vt_tensor_numel(p->x[i]);
        float *gx = malloc((size_t)n * sizeof(float));
        memcpy(gx, g.data, (size_t)n * sizeof(float));
        char what[64];
        snprintf(what, sizeof what, "input %d", i);
        double rel = check_tensor(p, what, vt_f32(p->x[i]), gx, n);
        if (rel > worst) worst = rel;
        free(gx);
    }
    free(grads);
    if (!(worst <= TOLERANCE)) fail_msg("gradient check failed: worst relative error %.3g > %.1g", worst, TOLERANCE);
}

static void problem_free(problem *p) {
    vt_model_free(p->m);
    for (int i = 0; i < p->n_x; i++) vt_tensor_free(p->x[i]);
    vt_tensor_free(p->y);
}

static vt_tensor *random_f32(vt_rng *rng, int ndim, const int64_t *shape, double scale) {
    vt_tensor *t = vt_tensor_new(VT_F32, ndim, shape);
    for (int64_t i = 0; i < vt_tensor_numel(t); i++) vt_f32(t)[i] = (float)(scale * vt_rng_normal(rng));
    return t;
}

static vt_tensor *random_labels(vt_rng *rng, int ndim, const int64_t *shape, int classes) {
    vt_tensor *t = vt_tensor_new(VT_I32, ndim, shape);
    for (int64_t i = 0; i < vt_tensor_numel(t); i++) vt_i32(t)[i] = (int32_t)vt_rng_below(rng, (uint64_t)classes);
    return t;
}

/* Perturbs all parameters away from their (often zero) initial values so
 * biases and LayerNorm betas get non-trivial gradients paths. */
static void randomize_params(vt_model *m, vt_rng *rng) {
    int64_t n;
    float *w = vt_model_params(m, &n);
    for (int64_t i = 0; i < n; i++) w[i] += (float)(0.1 * vt_rng_normal(rng));
}

static void compile_or_fail(vt_model *m, vt_loss loss) {
    vt_optimizer_config cfg;
    assert_int_equal(vt_optimizer_config_default("sgd", &cfg), VT_OK);
    if (vt_model_compile(m, &cfg, loss, VT_METRIC_NONE) != VT_OK) fail_msg("compile: %s", vt_last_error());
}

/* (batch 2, length 5, features 6) -> Dense(4, act) -> MSE. */
static void check_dense(vt_activation act) {
    vt_rng rng;
    vt_rng_seed(&rng, 10 + act);
    problem p = {0};
    vt_graph *g = vt_graph_new();
    vt_node *in = vt_input(g, VT_F32, 2, (int64_t[]){5, 6}, NULL);
    vt_node *out = vt_dense(in, 4, act, NULL);
    p.m = vt_model_new(g, 1, &in, out, NULL);
    assert_non_null(p.m);
    randomize_params(p.m, &rng);
    compile_or_fail(p.m, (vt_loss){VT_LOSS_MEAN_SQUARED_ERROR, false});
    p.x[0] = random_f32(&rng, 3, (int64_t[]){2, 5, 6}, 1.0);
    p.n_x = 1;
    p.y = random_f32(&rng, 3, (int64_t[]){2, 5, 4}, 1.0);
    printf("  Dense(%s)\n", vt_activation_name(act));
    check_problem(&p);
    problem_free(&p);
}

static void test_dense_activations(void **state) {
    for (int act = VT_ACT_LINEAR; act <= VT_ACT_SOFTMAX; act++) check_dense((vt_activation)act);
}

/* ids (2, 7) -> Embedding(11, 5) -> LayerNorm -> Dense(3) -> sparse CE from logits. */
static void test_embedding_layernorm(void **state) {
    vt_rng rng;
    vt_rng_seed(&rng, 3);
    problem p = {0};
    vt_graph *g = vt_graph_new();
    vt_node *in = vt_input(g, VT_I32, 1, (int64_t[]){VT_DIM_ANY}, NULL);
    vt_node *e = vt_embedding(in, 11, 5, NULL);
    vt_node *ln = vt_layer_norm(e, 1e-5f, NULL);
    vt_node *out = vt_dense(ln, 3, VT_ACT_LINEAR, NULL);
    p.m = vt_model_new(g, 1, &in, out, NULL);
    assert_non_null(p.m);
    randomize_params(p.m, &rng);
    compile_or_fail(p.m, (vt_loss){VT_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, true});
    p.x[0] = random_labels(&rng, 2, (int64_t[]){2, 7}, 11);
    p.n_x = 1;
    p.y = random_labels(&rng, 2, (int64_t[]){2, 7}, 3);
    printf("  Embedding -> LayerNormalization -> Dense, sparse CE from logits\n");
    check_problem(&p);
    problem_free(&p);
}

/* x (2, 6, 8) -> Dropout(0.3) -> Add(x) -> LayerNorm(1e-3) -> MSE. */
static void test_dropout_add_layernorm(void **state) {
    vt_rng rng;
    vt_rng_seed(&rng, 4);
    problem p = {0};
    vt_graph *g = vt_graph_new();
    vt_node *in = vt_input(g, VT_F32, 2, (int64_t[]){6, 8}, NULL);
    vt_node *d = vt_dropout(in, 0.3f, NULL);
    vt_node *out = vt_layer_norm(vt_add(d, in, NULL), 0, NULL);
    p.m = vt_model_new(g, 1, &in, out, NULL);
    assert_non_null(p.m);
    randomize_params(p.m, &rng);
    compile_or_fail(p.m, (vt_loss){VT_LOSS_MEAN_SQUARED_ERROR, false});
    p.x[0] = random_f32(&rng, 3, (int64_t[]){2, 6, 8}, 1.0);
    p.n_x = 1;
    p.y = random_f32(&rng, 3, (int64_t[]){2, 6, 8}, 1.0);
    printf("  Dropout(0.3) -> Add -> LayerNormalization\n");
    check_problem(&p);
    problem_free(&p);
}

typedef struct attention_case {
    const char *label;
    int heads;
    int64_t key_dim, value_dim, q_len, kv_len;
    bool separate_key, causal, no_bias;
    int mask_rank; /* 0 none, 2 keys (B, Tk), 3 full (B, Tq, Tk) */
    float dropout;
} attention_case;

static void check_attention(const attention_case *c) {
    vt_rng rng;
    vt_rng_seed(&rng, (uint64_t)(c->heads * 100 + c->q_len * 10 + c->kv_len));
    problem p = {0};
    const int64_t B = 2, DQ = 6, DV = 5;
    vt_graph *g = vt_graph_new();
    vt_node *q = vt_input(g, VT_F32, 2, (int64_t[]){c->q_len, DQ}, "query");
    vt_node *v = q, *k = NULL, *mask = NULL;
    vt_node *ins[4] = {q};
    int n = 1;
    bool self = c->q_len == c->kv_len && !c->separate_key;
    if (!self) ins[n++] = v = vt_input(g, VT_F32, 2, (int64_t[]){c->kv_len, DV}, "value");
    if (c->separate_key) ins[n++] = k = vt_input(g, VT_F32, 2, (int64_t[]){c->kv_len, 4}, "key");
    if (c->mask_rank == 2) ins[n++] = mask = vt_input(g, VT_I32, 1, (int64_t[]){c->kv_len}, "mask");
    if (c->mask_rank == 3) ins[n++] = mask = vt_input(g, VT_I32, 2, (int64_t[]){c->q_len, c->kv_len}, "mask");
    vt_mha_config cfg = {.num_heads = c->heads, .key_dim = c->key_dim, .value_dim = c->value_dim,
                         .causal = c->causal, .no_bias = c->no_bias, .dropout = c->dropout};
    vt_node *out = vt_multi_head_attention(q, v, k, mask, &cfg, NULL);
    p.m = vt_model_new(g, n, ins, out, NULL);
    if (!p.m) fail_msg("%s: %s", c->label, vt_last_error());
    randomize_params(p.m, &rng);
    compile_or_fail(p.m, (vt_loss){VT_LOSS_MEAN_SQUARED_ERROR, false});
    p.n_x = n;
    p.x[0] = random_f32(&rng, 3, (int64_t[]){B, c->q_len, DQ}, 1.0);
    int i = 1;
    if (!self) p.x[i++] = random_f32(&rng, 3, (int64_t[]){B, c->kv_len, DV}, 1.0);
    if (c->separate_key) p.x[i++] = random_f32(&rng, 3, (int64_t[]){B, c->kv_len, 4}, 1.0);
    if (c->mask_rank) {
        vt_tensor *m = c->mask_rank == 2 ? vt_tensor_new(VT_I32, 2, (int64_t[]){B, c->kv_len})
                                         : vt_tensor_new(VT_I32, 3, (int64_t[]){B, c->q_len, c->kv_len});
        /* Padding: the last two keys of the second sequence; full: a random pattern
         * keeping key 0 visible so no query is masked entirely. */
        int64_t cols = c->kv_len, rows = vt_tensor_numel(m) / cols;
        for (int64_t r = 0; r < rows; r++)
            for (int64_t col = 0; col < cols; col++)
                vt_i32(m)[r * cols + col] = c->mask_rank == 2 ? !(r == 1 && col >= cols - 2)
                                                              : col == 0 || vt_rng_below(&rng, 3) != 0;
        p.x[i++] = m;
    }
    p.y = random_f32(&rng, 3, (int64_t[]){B, c->q_len, DQ}, 1.0);
    printf("  MultiHeadAttention: %s\n", c->label);
    check_problem(&p);
    problem_free(&p);
}

static void test_attention(void **state) {
    static const attention_case CASES[] = {
        {"self, 1 head, length 5", 1, 4, 0, 5, 5, false, false, false, 0, 0},
        {"self, 2 heads, length 7", 2, 3, 0, 7, 7, false, false, false, 0, 0},
        {"self, 3 heads, key padding mask", 3, 2, 0, 7, 7, false, false, false, 2, 0},
        {"self, 2 heads, full mask", 2, 3, 0, 5, 5, false, false, false, 3, 0},
        {"self, 3 heads, causal", 3, 2, 0, 7, 7, false, true, false, 0, 0},
        {"causal + padding, no bias", 2, 3, 0, 5, 5, false, true, true, 2, 0},
        {"cross q_len 5 kv_len 7, separate key, value_dim 4", 2, 3, 4, 5, 7, true, false, false, 0, 0},
        {"cross q_len 7 kv_len 3, full mask", 3, 2, 0, 7, 3, false, false, false, 3, 0},
        {"self, 2 heads, attention dropout 0.2", 2, 3, 0, 7, 7, false, false, false, 0, 0.2f},
    };
    for (size_t i = 0; i < sizeof CASES / sizeof *CASES; i++) check_attention(&CASES[i]);
}

/* x (3, 4, 5) -> Dense(units, act) -> loss. */
static void check_loss(const char *label, vt_activation act, int64_t units, vt_loss loss) {
    vt_rng rng;
    vt_rng_seed(&rng, 99 + (uint64_t)loss.kind * 7 + act);
    problem p = {0};
    vt_graph *g = vt_graph_new();
    vt_node *in = vt_input(g, VT_F32, 2, (int64_t[]){4, 5}, NULL);
    vt_node *out = vt_dense(in, units, act, NULL);
    p.m = vt_model_new(g, 1, &in, out, NULL);
    assert_non_null(p.m);
    randomize_params(p.m, &rng);
    compile_or_fail(p.m, loss);
    p.x[0] = random_f32(&rng, 3, (int64_t[]){3, 4, 5}, 1.0);
    p.n_x = 1;
    if (loss.kind == VT_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY) {
        p.y = random_labels(&rng, 2, (int64_t[]){3, 4}, (int)units);
    } else {
        p.y = random_f32(&rng, 3, (int64_t[]){3, 4, units}, 1.0);
        if (loss.kind == VT_LOSS_BINARY_CROSSENTROPY)
            for (int64_t i = 0; i < vt_tensor_numel(p.y); i++) vt_f32(p.y)[i] = vt_f32(p.y)[i] > 0 ? 0.9f : 0.1f;
    }
    printf("  loss: %s\n", label);
    check_problem(&p);
    problem_free(&p);
}

static void test_losses(void **state) {
    check_loss("sparse CE from logits", VT_ACT_LINEAR, 6, (vt_loss){VT_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, true});
    check_loss("sparse CE after softmax (fused)", VT_ACT_SOFTMAX, 6,
               (vt_loss){VT_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, false});
    check_loss("sparse CE on sigmoid probabilities", VT_ACT_SIGMOID, 6,
               (vt_loss){VT_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, false});
    check_loss("binary CE from logits", VT_ACT_LINEAR, 2, (vt_loss){VT_LOSS_BINARY_CROSSENTROPY, true});
    check_loss("binary CE after sigmoid (fused)", VT_ACT_SIGMOID, 2, (vt_loss){VT_LOSS_BINARY_CROSSENTROPY, false});
    check_loss("binary CE on softmax probabilities", VT_ACT_SOFTMAX, 3, (vt_loss){VT_LOSS_BINARY_CROSSENTROPY, false});
    check_loss("mean squared error", VT_ACT_TANH, 3, (vt_loss){VT_LOSS_MEAN_SQUARED_ERROR, false});
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dense_activations),
        cmocka_unit_test(test_embedding_layernorm),
        cmocka_unit_test(test_dropout_add_layernorm),
        cmocka_unit_test(test_attention),
        cmocka_unit_test(test_losses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
