/* Every layer and every loss of the Keras-style model API against PyTorch.
 *
 * tests/ref/gen_layers.py computes each case below in float64 with Keras
 * semantics (its docstring lists them) and writes inputs, labels, parameters,
 * output, loss and the gradient of every parameter and float input into
 * $VT_REF_DIR/layers.safetensors, under "<case>/...". Here each case builds
 * the same model through the public API (automatic Keras layer names, so the
 * parameter names must match the reference's exactly), copies the reference
 * parameters into vt_model_param views, compiles with the matching loss, runs
 * vt_model_forward(training, seed 0) and vt_model_backward, and compares.
 * Every model parameter must have a reference and vice versa.
 *
 * Tolerances, as rel_max_diff (max |got - want| over the reference tensor's
 * max |want|):
 * - output and loss 1e-5: verto computes in float32 with its own summation
 *   order (oneDNN GEMM blocking, fused attention, OpenMP reductions) against
 *   a float64 reference; a few roundings of 6e-8 each through at most two
 *   GEMMs and a softmax/normalisation stay near 1e-6.
 * - gradients of parameters and inputs 1e-4: the backward chains more float32
 *   GEMMs than the forward and contains cancelling sums (LayerNorm's
 *   dx = rstd (g - mean g - xhat mean(g xhat)), softmax's P (dP - sum P dP),
 *   bias gradients summed over all rows), which can lose an order of
 *   magnitude more; a wrong formula (a missing term, a transposed matrix, a
 *   mask ignored) is off by O(1), four orders above the tolerance.
 * Dropout's random mask cannot match PyTorch's RNG: these cases use rate 0 in
 * training and check the identity in inference (the mask itself is covered
 * by test_model_gradcheck.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "verto/verto.h"
#include "vt_test.h"

#define REF_FILE "layers.safetensors"
#define OUTPUT_TOL 1e-5
#define LOSS_TOL 1e-5
#define GRAD_TOL 1e-4

typedef struct layer_case layer_case;
struct layer_case {
    const char *name;                          /* prefix in the reference file */
    vt_model *(*build)(const layer_case *c);
    vt_loss loss;
    bool inference;       /* forward with training=false; compare the output only */
    vt_activation act;    /* dense_* cases */
    float epsilon;        /* layer_norm_* cases */
};

static const vt_loss MSE = {VT_LOSS_MEAN_SQUARED_ERROR, false};
static const vt_loss SCE_LOGITS = {VT_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, true};
static const vt_loss SCE_PROBS = {VT_LOSS_SPARSE_CATEGORICAL_CROSSENTROPY, false};
static const vt_loss BCE_LOGITS = {VT_LOSS_BINARY_CROSSENTROPY, true};
static const vt_loss BCE_PROBS = {VT_LOSS_BINARY_CROSSENTROPY, false};

/* ---- models (the same layers, names and widths as gen_layers.py) ---------- */

/* A float sequence input (None, None, features). */
static vt_node *seq_input(vt_graph *g, int64_t features) {
    return vt_input(g, VT_F32, 2, (int64_t[]){VT_DIM_ANY, features}, NULL);
}

static vt_model *one_input(vt_graph *g, vt_node *in, vt_node *out, const char *name) {
    return vt_model_new(g, 1, &in, out, name);
}

static vt_model *build_dense(const layer_case *c) {
    vt_graph *g = vt_graph_new();
    vt_node *x = seq_input(g, 6);
    return one_input(g, x, vt_dense(x, 7, c->act, NULL), c->name);
}

static vt_model *build_embedding(const layer_case *c) {
    vt_graph *g = vt_graph_new();
    vt_node *ids = vt_input(g, VT_I32, 1, (int64_t[]){VT_DIM_ANY}, NULL);
    return one_input(g, ids, vt_embedding(ids, 11, 8, NULL), c->name);
}

static vt_model *build_layer_norm(const layer_case *c) {
    vt_graph *g = vt_graph_new();
    vt_node *x = seq_input(g, 8);
    return one_input(g, x, vt_layer_norm(x, c->epsilon, NULL), c->name);
}

static vt_model *build_residual(const layer_case *c) {
    vt_graph *g = vt_graph_new();
    vt_node *x = seq_input(g, 8);
    vt_node *h = vt_dense(x, 8, VT_ACT_LINEAR, NULL);
    return one_input(g, x, vt_layer_norm(vt_add(x, h, NULL), 1e-12f, NULL), c->name);
}

static vt_model *build_dropout_rate0(const layer_case *c) {
    vt_graph *g = vt_graph_new();
    vt_node *x = seq_input(g, 6);
    vt_node *h = vt_dropout(vt_dense(x, 8, VT_ACT_GELU, NULL), 0.0f, NULL);
    return one_input(g, x, vt_dense(h, 4, VT_ACT_LINEAR, NULL), c->name);
}

static vt_model *build_dropout_infer(const layer_case *c) {
    vt_graph *g = vt_graph_new();
    vt_node *x = seq_input(g, 8);
    vt_node *a = vt_multi_head_attention(x, x, NULL, NULL, &(vt_mha_config){.num_heads = 2, .key_dim = 4, .dropout = 0.3f},
                                         NULL);
    return one_input(g, x, vt_dense(vt_dropout(a, 0.5f, NULL), 4, VT_ACT_LINEAR, NULL), c->name);
}

/* Self-attention over one input, with a key mask (None, None) or a full mask
 * (None, None, None) input when mask_ndim is 1 or 2. */
static vt_model *self_attention(const layer_case *c, int64_t features, int mask_ndim, vt_mha_config cfg) {
    vt_graph *g = vt_graph_new();
    vt_node *ins[2] = {seq_input(g, features), NULL};
    if (mask_ndim) ins[1] = vt_input(g, VT_I32, mask_ndim, (int64_t[]){VT_DIM_ANY, VT_DIM_ANY}, "mask");
    vt_node *y = vt_multi_head_attention(ins[0], ins[0], NULL, ins[1], &cfg, NULL);
    return vt_model_new(g, mask_ndim ? 2 : 1, ins, y, c->name);
}

static vt_model *build_mha_self(const layer_case *c) {
    return self_attention(c, 8, 0, (vt_mha_config){.num_heads = 2, .key_dim = 4});
}
static vt_model *build_mha_key_mask(const layer_case *c) {
    return self_attention(c, 9, 1, (vt_mha_config){.num_heads = 3, .key_dim = 4});
}
static vt_model *build_mha_full_mask(const layer_case *c) {
    return self_attention(c, 8, 2, (vt_mha_config){.num_heads = 2, .key_dim = 3});
}
static vt_model *build_mha_causal(const layer_case *c) {
    return self_attention(c, 8, 0, (vt_mha_config){.num_heads = 1, .key_dim = 8, .causal = true});
}
static vt_model *build_mha_causal_key_mask(const layer_case *c) {
    return self_attention(c, 6, 1, (vt_mha_config){.num_heads = 2, .key_dim = 3, .causal = true});
}
static vt_model *build_mha_no_bias(const layer_case *c) {
    return self_attention(c, 6, 0, (vt_mha_config){.num_heads = 3, .key_dim = 2, .no_bias = true});
}

static vt_model *build_mha_cross(const layer_case *c) {
    vt_graph *g = vt_graph_new();
    vt_node *ins[4] = {seq_input(g, 8), seq_input(g, 6), seq_input(g, 10),
                       vt_input(g, VT_I32, 1, (int64_t[]){VT_DIM_ANY}, "mask")};
    vt_node *y = vt_multi_head_attention(ins[0], ins[1], ins[2], ins[3],
                                         &(vt_mha_config){.num_heads = 2, .key_dim = 3, .value_dim = 5}, NULL);
    return vt_model_new(g, 4, ins, y, c->name);
}

static vt_model *build_mha_cross_kv(const layer_case *c) {
    vt_graph *g = vt_graph_new();
    vt_node *ins[2] = {seq_input(g, 6), seq_input(g, 4)};
    vt_node *y = vt_multi_head_attention(ins[0], ins[1], NULL, NULL,
                                         &(vt_mha_config){.num_heads = 3, .key_dim = 4, .value_dim = 2}, NULL);
    return vt_model_new(g, 2, ins, y, c->name);
}

/* Dense(units, act) on (None, None, features), optionally followed by
 * Dropout(0) so that the output is not a Dense and no loss fusion happens. */
static vt_model *dense_head(const layer_case *c, int64_t features, int64_t units, vt_activation act, bool then_dropout) {
    vt_graph *g = vt_graph_new();
    vt_node *x = seq_input(g, features);
    vt_node *y = vt_dense(x, units, act, NULL);
    if (then_dropout) y = vt_dropout(y, 0.0f, NULL);
    return one_input(g, x, y, c->name);
}

static vt_model *build_sce_logits(const layer_case *c) { return dense_head(c, 6, 5, VT_ACT_LINEAR, false); }
static vt_model *build_sce_softmax(const layer_case *c) { return dense_head(c, 6, 5, VT_ACT_SOFTMAX, false); }
static vt_model *build_sce_probs(const layer_case *c) { return dense_head(c, 6, 5, VT_ACT_SOFTMAX, true); }
static vt_model *build_bce_logits(const layer_case *c) { return dense_head(c, 6, 3, VT_ACT_LINEAR, false); }
static vt_model *build_bce_sigmoid(const layer_case *c) { return dense_head(c, 6, 3, VT_ACT_SIGMOID, false); }
static vt_model *build_bce_probs(const layer_case *c) { return dense_head(c, 6, 3, VT_ACT_SIGMOID, true); }
static vt_model *build_mse(const layer_case *c) { return dense_head(c, 6, 4, VT_ACT_LINEAR, false); }

static layer_case CASES[] = {
    {"dense_linear", build_dense, MSE, .act = VT_ACT_LINEAR},
    {"dense_relu", build_dense, MSE, .act = VT_ACT_RELU},
    {"dense_gelu", build_dense, MSE, .act = VT_ACT_GELU},
    {"dense_gelu_tanh", build_dense, MSE, .act = VT_ACT_GELU_TANH},
    {"dense_tanh", build_dense, MSE, .act = VT_ACT_TANH},
    {"dense_sigmoid", build_dense, MSE, .act = VT_ACT_SIGMOID},
    {"dense_softmax", build_dense, MSE, .act = VT_ACT_SOFTMAX},
    {"embedding", build_embedding, MSE},
    {"layer_norm_eps1e-3", build_layer_norm, MSE, .epsilon = 1e-3f},
    {"layer_norm_eps1e-12", build_layer_norm, MSE, .epsilon = 1e-12f},
    {"residual_layer_norm", build_residual, MSE},
    {"dropout_rate0", build_dropout_rate0, MSE},
    {"dropout_infer", build_dropout_infer, MSE, .inference = true},
    {"mha_self", build_mha_self, MSE},
    {"mha_key_mask", build_mha_key_mask, MSE},
    {"mha_full_mask", build_mha_full_mask, MSE},
    {"mha_causal", build_mha_causal, MSE},
    {"mha_causal_key_mask", build_mha_causal_key_mask, MSE},
    {"mha_cross", build_mha_cross, MSE},
    {"mha_cross_kv", build_mha_cross_kv, MSE},
    {"mha_no_bias", build_mha_no_bias, MSE},
    {"sce_logits", build_sce_logits, SCE_LOGITS},
    {"sce_softmax", build_sce_softmax, SCE_PROBS}, /* verto fuses softmax + CE */
    {"sce_probs", build_sce_probs, SCE_PROBS},     /* Keras' clipped-probability path */
    {"bce_logits", build_bce_logits, BCE_LOGITS},
    {"bce_sigmoid", build_bce_sigmoid, BCE_PROBS}, /* fused sigmoid + BCE */
    {"bce_probs", build_bce_probs, BCE_PROBS},
    {"mse", build_mse, MSE},
};
#define N_CASES (sizeof CASES / sizeof *CASES)

/* ---- the comparison --------------------------------------------------------- */

static const vt_st_tensor *ref_tensor(const vt_st_file *f, const char *case_name, const char *what) {
    char key[256];
    snprintf(key, sizeof key, "%s/%s", case_name, what);
    return vt_st_find(f, key);
}

/* The reference tensor <case>/<what> as a new verto tensor (F32 or I32). */
static vt_tensor *ref_as_tensor(const vt_st_file *f, const char *case_name, const char *what) {
    const vt_st_tensor *t = ref_tensor(f, case_name, what);
    if (!t) fail_msg("%s: reference tensor %s missing", case_name, what);
    bool ints = t->dtype == VT_ST_I32 || t->dtype == VT_ST_I64;
    vt_tensor *out = vt_tensor_new(ints ? VT_I32 : VT_F32, t->ndim, t->shape);
    assert_non_null(out);
    if (ints) {
        int32_t *v = ref_i32(f, t->name, NULL);
        memcpy(out->data, v, (size_t)t->numel * sizeof *v);
        free(v);
    } else {
        float *v = ref_f32(f, t->name, NULL);
        memcpy(out->data, v, (size_t)t->numel * sizeof *v);
        free(v);
    }
    return out;
}

/* Compares n floats at got with reference <case>/<what>, whose element count must be n. */
static void compare(const vt_st_file *f, const char *case_name, const char *what, const float *got, int64_t n,
                    double tol) {
    char key[256];
    snprintf(key, sizeof key, "%s/%s", case_name, what);
    int64_t want_n;
    float *want = ref_f32(f, key, &want_n);
    if (want_n != n) fail_msg("%s: %lld values, reference has %lld", key, (long long)n, (long long)want_n);
    if (!got) fail_msg("%s: verto gave no data", key);
    assert_close_rel(what, got, want, n, tol);
    free(want);
}

static bool is_key_bias(const char *name) {
    size_t n = strlen(name), k = strlen("/key/bias");
    return n >= k && !strcmp(name + n - k, "/key/bias");
}

/* MultiHeadAttention's key bias adds q . b_k to every score of a query, a
 * constant per softmax row, so its gradient is exactly zero: the reference
 * holds float64 round-off (~1e-16) and verto float32 round-off, and their
 * ratio means nothing. Instead the reference must be zero to 1e-12 and
 * verto's values must be round-off on the scale of the key kernel's gradient
 * (the same dK summed the other way): max |got| <= GRAD_TOL * max |d key/kernel|. */
static void compare_key_bias(const vt_st_file *f, const char *case_name, const char *bias_name, const vt_tensor *got) {
    char key[256], kernel_name[192];
    snprintf(kernel_name, sizeof kernel_name, "%.*s/key/kernel", (int)(strlen(bias_name) - strlen("/key/bias")), bias_name);
    snprintf(key, sizeof key, "%s/grad/%s", case_name, kernel_name);
    int64_t n_kernel, n_bias = vt_tensor_numel(got);
    float *kernel_grad = ref_f32(f, key, &n_kernel);
    double scale = 0;
    for (int64_t i = 0; i < n_kernel; i++) scale = fmax(scale, fabs(kernel_grad[i]));
    free(kernel_grad);
    snprintf(key, sizeof key, "%s/grad/%s", case_name, bias_name);
    int64_t n_ref;
    float *want = ref_f32(f, key, &n_ref);
    assert_int_equal(n_ref, n_bias);
    float *zeros = calloc((size_t)n_bias, sizeof *zeros);
    assert_non_null(zeros);
    assert_close_abs("grad/.../key/bias: reference is zero", want, zeros, n_bias, 1e-12);
    char what[128];
    snprintf(what, sizeof what, "grad/%s / max|d key/kernel|", bias_name);
    float *scaled = malloc((size_t)n_bias * sizeof *scaled);
    assert_non_null(scaled);
    for (int64_t i = 0; i < n_bias; i++) scaled[i] = (float)(vt_f32(got)[i] / scale);
    assert_close_abs(what, scaled, zeros, n_bias, GRAD_TOL);
    free(scaled);
    free(zeros);
    free(want);
}

static void run_case(void **state) {
    const layer_case *c = *state;
    vt_model *m = c->build(c);
    if (!m) fail_msg("%s: building the model failed: %s", c->name, vt_last_error());
    vt_st_file *f = ref_open(REF_FILE);

    /* Parameters: the model's and the reference's sets must be the same. */
    size_t n_params;
    const vt_param_info *infos = vt_model_param_infos(m, &n_params);
    char prefix[128];
    snprintf(prefix, sizeof prefix, "%s/param/", c->name);
    size_t n_ref = 0;
    for (size_t i = 0; i < vt_st_count(f); i++) n_ref += !strncmp(vt_st_at(f, i)->name, prefix, strlen(prefix));
    if (n_ref != n_params) fail_msg("%s: the model has %zu parameters, the reference %zu", c->name, n_params, n_ref);
    for (size_t i = 0; i < n_params; i++) {
        char key[256];
        snprintf(key, sizeof key, "%s%s", prefix, infos[i].name);
        int64_t n;
        float *v = ref_f32(f, key, &n);
        vt_tensor p = vt_model_param(m, infos[i].name);
        assert_non_null(p.data);
        if (n != vt_tensor_numel(&p)) fail_msg("%s: %lld values, model has %lld", key, (long long)n, (long long)vt_tensor_numel(&p));
        memcpy(p.data, v, (size_t)n * sizeof *v);
        free(v);
    }

    /* Inputs input0, input1, ... as many as the model has (and no more). */
    int n_inputs = 0;
    vt_tensor *x[4] = {0};
    char what[64];
    for (;; n_inputs++) {
        snprintf(what, sizeof what, "input%d", n_inputs);
        if (!ref_tensor(f, c->name, what)) break;
        assert_true(n_inputs < 4);
        x[n_inputs] = ref_as_tensor(f, c->name, what);
    }
    assert_true(n_inputs > 0);

    vt_optimizer_config opt; /* irrelevant: no update is applied */
    assert_int_equal(vt_optimizer_config_default("sgd", &opt), VT_OK);
    if (vt_model_compile(m, &opt, c->loss, VT_METRIC_NONE) != VT_OK) fail_msg("%s: compile: %s", c->name, vt_last_error());

    printf("  %s\n", c->name);
    const vt_tensor *out = NULL;
    if (vt_model_forward(m, (const vt_tensor *const *)x, !c->inference, 0, &out) != VT_OK)
        fail_msg("%s: forward: %s", c->name, vt_last_error());
    const vt_st_tensor *want_out = ref_tensor(f, c->name, "output");
    assert_non_null(want_out);
    assert_int_equal(out->ndim, want_out->ndim);
    for (int d = 0; d < out->ndim; d++) assert_int_equal(out->shape[d], want_out->shape[d]);
    compare(f, c->name, "output", vt_f32(out), vt_tensor_numel(out), OUTPUT_TOL);

    if (c->inference) {
        /* The same forward in training must differ (both dropouts active), or
         * the identity above proved nothing. */
        int64_t n = vt_tensor_numel(out);
        float *infer = malloc((size_t)n * sizeof *infer);
        assert_non_null(infer);
        memcpy(infer, vt_f32(out), (size_t)n * sizeof *infer);
        if (vt_model_forward(m, (const vt_tensor *const *)x, true, 0, &out) != VT_OK)
            fail_msg("%s: training forward: %s", c->name, vt_last_error());
        double r = rel_max_diff(vt_f32(out), infer, n);
        printf("    %-40s rel max diff %.3g (must exceed 0.01)\n", "training output vs inference", r);
        if (!(r > 0.01)) fail_msg("%s: dropout in training changed nothing", c->name);
        free(infer);
    } else {
        vt_tensor *y = ref_as_tensor(f, c->name, "labels");
        double loss = 0;
        if (vt_model_backward(m, y, &loss, NULL) != VT_OK) fail_msg("%s: backward: %s", c->name, vt_last_error());
        float loss_f = (float)loss;
        compare(f, c->name, "loss", &loss_f, 1, LOSS_TOL);
        for (size_t i = 0; i < n_params; i++) {
            vt_tensor gp = vt_model_param_grad(m, infos[i].name);
            snprintf(what, sizeof what, "grad/%s", infos[i].name);
            if (is_key_bias(infos[i].name)) compare_key_bias(f, c->name, infos[i].name, &gp);
            else compare(f, c->name, what, vt_f32(&gp), vt_tensor_numel(&gp), GRAD_TOL);
        }
        for (int i = 0; i < n_inputs; i++) {
            if (x[i]->dtype != VT_F32) continue;
            vt_tensor gx = vt_model_input_grad(m, i);
            if (vt_tensor_numel(&gx) != vt_tensor_numel(x[i]))
                fail_msg("%s: gradient of input %d has %lld values, want %lld", c->name, i,
                         (long long)vt_tensor_numel(&gx), (long long)vt_tensor_numel(x[i]));
            snprintf(what, sizeof what, "dinput%d", i);
            compare(f, c->name, what, vt_f32(&gx), vt_tensor_numel(&gx), GRAD_TOL);
        }
        vt_tensor_free(y);
    }
    for (int i = 0; i < n_inputs; i++) vt_tensor_free(x[i]);
    vt_st_close(f);
    vt_model_free(m);
}

int main(void) {
    struct CMUnitTest tests[N_CASES];
    for (size_t i = 0; i < N_CASES; i++)
        tests[i] = (struct CMUnitTest){.name = CASES[i].name, .test_func = run_case, .initial_state = &CASES[i]};
    return _cmocka_run_group_tests("layers_ref", tests, N_CASES, NULL, NULL);
}
